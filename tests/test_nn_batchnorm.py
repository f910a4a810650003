"""BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d and their Lazy variants against torch.nn: repr,
names, forward/backward/buffers in train and eval, running-statistics rules (momentum,
cumulative average), state_dict compatibility and input checks."""
import warnings

import numpy as np
import pytest
import torch

import ember
from tests.conftest import DEVICE
from tests.helpers import E, T, assert_close, rand, to_np
from tests.helpers_nn import check_module

DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return (2e-5, 2e-6) if dtype == np.float32 else (1e-9, 1e-11)


def _x(*shape, dtype=np.float32, seed=1):
    return rand(*shape, dtype=dtype, seed=seed) * 2 + 0.5


# ---- BatchNorm ----------------------------------------------------------------------------
BN_CASES = [('BatchNorm1d', (6, 4)), ('BatchNorm1d', (3, 4, 5)), ('BatchNorm2d', (2, 4, 3, 5)),
            ('BatchNorm3d', (2, 4, 2, 3, 2))]
BN_OPTIONS = [{}, {'affine': False}, {'momentum': None}, {'track_running_stats': False},
              {'bias': False}, {'eps': 1e-2, 'momentum': 0.5}]


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('name,shape', BN_CASES)
@pytest.mark.parametrize('kw', BN_OPTIONS, ids=str)
def test_batchnorm_module(name, shape, kw, dtype):
    rtol, atol = _tol(dtype)
    check_module(lambda L: getattr(L.nn, name)(4, **kw), [_x(*shape, dtype=dtype)],
                 dtype=dtype, modes=('train', 'eval', 'train'), rtol=rtol, atol=atol)


def test_batchnorm_running_stats_many_steps():
    """Several training steps with EMA and cumulative averages, then eval, as torch."""
    for kw in ({}, {'momentum': None}):
        em, tm = ember.nn.BatchNorm2d(3, **kw, device=DEVICE), torch.nn.BatchNorm2d(3, **kw)
        for i in range(4):
            x = _x(2, 3, 4, 4, seed=i)
            assert_close(em(E(x)), tm(T(x)), 2e-5, 2e-6)
        for n in ('running_mean', 'running_var', 'num_batches_tracked'):
            assert_close(getattr(em, n), getattr(tm, n), 2e-5, 2e-6)
        em.eval(), tm.eval()
        assert_close(em(E(_x(2, 3, 4, 4, seed=9))), tm(T(_x(2, 3, 4, 4, seed=9))), 2e-5, 2e-6)


def test_batchnorm_defaults_and_attributes():
    m = ember.nn.BatchNorm2d(5, device=DEVICE)
    assert (m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats) == \
        (5, 1e-05, 0.1, True, True)
    assert m.num_batches_tracked.dtype == ember.int64
    np.testing.assert_array_equal(to_np(m.weight), np.ones(5))
    np.testing.assert_array_equal(to_np(m.bias), np.zeros(5))
    m2 = ember.nn.BatchNorm1d(3, dtype=ember.float64)
    assert m2.weight.dtype == ember.float64 and m2.running_mean.dtype == ember.float64
    m(E(_x(2, 5, 3, 3)))
    m.reset_running_stats()
    assert m.num_batches_tracked.item() == 0 and not to_np(m.running_mean).any()
    assert m.state_dict()._metadata[''] == {'version': 2}


def test_batchnorm_grad_fn_and_state_dict_roundtrip():
    em = ember.nn.BatchNorm1d(3, device=DEVICE)
    out = em(E(_x(4, 3), True))
    assert out.grad_fn.name() == 'NativeBatchNormBackward0'
    tm = torch.nn.BatchNorm1d(3)
    tm.load_state_dict({k: torch.from_numpy(to_np(v).copy()) for k, v in em.state_dict().items()})
    assert_close(em.running_mean, tm.running_mean)


def test_batchnorm_load_old_checkpoint_without_counter():
    """Version < 2 (or no metadata): a missing num_batches_tracked keeps the current value;
    version 2: it is a missing key, as torch."""
    m = ember.nn.BatchNorm1d(3)
    m.num_batches_tracked.fill_(5)
    sd = m.state_dict()
    del sd['num_batches_tracked']
    sd._metadata['']['version'] = 1
    m.load_state_dict(sd)
    assert m.num_batches_tracked.item() == 5
    m.load_state_dict(dict(sd))
    assert m.num_batches_tracked.item() == 5
    sd._metadata['']['version'] = 2
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "num_batches_'):
        m.load_state_dict(sd)
    seq = ember.nn.Sequential(ember.nn.BatchNorm1d(3))
    old = {k: v for k, v in seq.state_dict().items() if 'num_batches' not in k}
    seq.load_state_dict(old)


@pytest.mark.parametrize('name,shape,msg', [
    ('BatchNorm1d', (2, 3, 4, 5), 'expected 2D or 3D input (got 4D input)'),
    ('BatchNorm1d', (3,), 'expected 2D or 3D input (got 1D input)'),
    ('BatchNorm2d', (2, 3, 4), 'expected 4D input (got 3D input)'),
    ('BatchNorm3d', (2, 3, 4), 'expected 5D input (got 3D input)')])
def test_batchnorm_dim_errors(name, shape, msg):
    with pytest.raises(ValueError, match=msg.replace('(', '\\(').replace(')', '\\)')):
        getattr(ember.nn, name)(3)(ember.randn(*shape))


def test_batchnorm_value_errors_as_torch():
    for cls, shape in (('BatchNorm1d', (1, 3)), ('BatchNorm1d', (1, 3, 1))):
        with pytest.raises(ValueError) as te:
            getattr(torch.nn, cls)(3)(torch.randn(*shape))
        with pytest.raises(ValueError) as ee:
            getattr(ember.nn, cls)(3)(ember.randn(*shape))
        assert str(ee.value) == str(te.value).replace('torch.', 'ember.')
    ember.nn.BatchNorm1d(3).eval()(ember.randn(1, 3))     # eval: fine with one value
    with pytest.raises(RuntimeError, match='running_mean should contain 4 elements not 3'):
        ember.nn.BatchNorm1d(3)(ember.randn(2, 4))


# ---- Lazy BatchNorm -----------------------------------------------------------------------
@pytest.mark.parametrize('name,shape', [('LazyBatchNorm1d', (4, 3)),
                                        ('LazyBatchNorm2d', (2, 3, 4, 4)),
                                        ('LazyBatchNorm3d', (2, 3, 2, 2, 2))])
def test_lazy_batchnorm(name, shape):
    em, tm = getattr(ember.nn, name)(device=DEVICE), getattr(torch.nn, name)()
    assert repr(em) == repr(tm)
    assert em.has_uninitialized_params()
    assert list(em.state_dict().keys()) == list(tm.state_dict().keys())
    x = _x(*shape)
    assert_close(em(E(x)), tm(T(x)))
    assert type(em).__name__ == type(tm).__name__ == name[4:]
    assert repr(em) == repr(tm)
    for n in ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'):
        assert_close(getattr(em, n), getattr(tm, n))
    assert not em._forward_pre_hooks


def test_lazy_batchnorm_options_dtype_and_load():
    m = ember.nn.LazyBatchNorm1d(affine=False, track_running_stats=False, device=DEVICE)
    m(E(_x(4, 3)))
    assert type(m) is ember.nn.BatchNorm1d and m.num_features == 0    # as torch
    m = ember.nn.LazyBatchNorm1d(dtype=ember.float64, device=DEVICE)
    m(E(_x(4, 3, dtype=np.float64)))
    assert m.weight.dtype == ember.float64 and m.running_mean.dtype == ember.float64
    assert m.num_features == 3
    # loading a state_dict materialises the parameters (num_features stays 0, as torch)
    m = ember.nn.LazyBatchNorm1d(device=DEVICE)
    src = ember.nn.BatchNorm1d(3, device=DEVICE)
    src.running_mean.fill_(2.0)
    m.load_state_dict(src.state_dict())
    assert_close(m.running_mean, src.running_mean)
    m(E(_x(4, 3)))
    assert type(m) is ember.nn.BatchNorm1d
    with pytest.raises(IndexError):
        ember.nn.LazyBatchNorm1d()(ember.randn(4))


# ---- InstanceNorm -------------------------------------------------------------------------
IN_CASES = [('InstanceNorm1d', (3, 4, 5)), ('InstanceNorm1d', (4, 5)),
            ('InstanceNorm2d', (2, 4, 3, 5)), ('InstanceNorm2d', (4, 3, 5)),
            ('InstanceNorm3d', (2, 4, 2, 3, 2)), ('InstanceNorm3d', (4, 2, 3, 2))]
IN_OPTIONS = [{}, {'affine': True}, {'track_running_stats': True},
              {'affine': True, 'track_running_stats': True, 'momentum': 0.3},
              {'track_running_stats': True, 'momentum': None}, {'affine': True, 'bias': False}]


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('name,shape', IN_CASES)
@pytest.mark.parametrize('kw', IN_OPTIONS, ids=str)
def test_instancenorm_module(name, shape, kw, dtype):
    rtol, atol = _tol(dtype)
    check_module(lambda L: getattr(L.nn, name)(4, **kw), [_x(*shape, dtype=dtype)],
                 dtype=dtype, modes=('train', 'eval', 'train'), rtol=rtol, atol=atol)


def test_instancenorm_checks():
    def same(fn_e, fn_t, exc):
        with pytest.raises(exc) as te:
            fn_t()
        with pytest.raises(exc) as ee:
            fn_e()
        assert str(ee.value) == str(te.value)

    for name, shape in (('InstanceNorm1d', (2, 3, 4, 5)), ('InstanceNorm1d', (5,)),
                        ('InstanceNorm2d', (3, 4)), ('InstanceNorm3d', (3, 4, 5))):
        same(lambda: getattr(ember.nn, name)(3)(ember.randn(*shape)),
             lambda: getattr(torch.nn, name)(3)(torch.randn(*shape)), ValueError)
    same(lambda: ember.nn.InstanceNorm1d(3, affine=True)(ember.randn(2, 4, 5)),
         lambda: torch.nn.InstanceNorm1d(3, affine=True)(torch.randn(2, 4, 5)), ValueError)
    with pytest.warns(UserWarning, match="input's size at dim=1 does not match num_features"):
        out = ember.nn.InstanceNorm1d(3)(ember.randn(2, 4, 5))
    assert out.shape == (2, 4, 5)


def test_instancenorm_old_checkpoint_running_stats():
    em, tm = ember.nn.InstanceNorm1d(3), torch.nn.InstanceNorm1d(3)
    sd_t = {'running_mean': torch.zeros(3), 'running_var': torch.ones(3)}
    with pytest.raises(RuntimeError) as te:
        tm.load_state_dict(sd_t)
    with pytest.raises(RuntimeError) as ee:
        em.load_state_dict({'running_mean': ember.zeros(3), 'running_var': ember.ones(3)})
    assert str(ee.value) == str(te.value)


def test_lazy_instancenorm():
    for name, shape in (('LazyInstanceNorm1d', (4, 3, 5)), ('LazyInstanceNorm2d', (2, 3, 4, 4)),
                        ('LazyInstanceNorm3d', (2, 3, 2, 2, 2))):
        em, tm = getattr(ember.nn, name)(device=DEVICE), getattr(torch.nn, name)()
        assert repr(em) == repr(tm)
        x = _x(*shape)
        assert_close(em(E(x)), tm(T(x)))
        assert repr(em) == repr(tm)
        assert_close(em.running_mean, tm.running_mean)
    m = ember.nn.LazyInstanceNorm1d(device=DEVICE)
    m(E(_x(3, 5)))                    # unbatched: channels are dim 0 (torch reads dim 1)
    assert m.num_features == 3 and type(m) is ember.nn.InstanceNorm1d


def test_init_statistics_are_deterministic():
    """Norm layers initialise weight to ones and bias to zeros (no random init)."""
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        for m in (ember.nn.BatchNorm1d(7), ember.nn.InstanceNorm2d(7, affine=True)):
            assert (to_np(m.weight) == 1).all() and (to_np(m.bias) == 0).all()
