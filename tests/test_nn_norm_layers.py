"""LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm and CrossMapLRN2d modules against torch.nn:
repr, names, forward/backward in train and eval, constructor checks; CrossMapLRN2d's legacy
numbers (forward and its legacy backward)."""
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


def _perturb(em, tm, seed=7):
    """Give both modules the same non-trivial affine parameters (defaults are ones/zeros)."""
    rng = np.random.default_rng(seed)
    for (_, pe), (_, pt) in zip(em.named_parameters(), tm.named_parameters()):
        v = rng.uniform(0.5, 1.5, tuple(pt.shape)).astype(to_np(pt).dtype)
        with torch.no_grad():
            pt.copy_(torch.from_numpy(v))
        with ember.no_grad():
            pe.copy_(E(v))


def _check(ctor, x, dtype):
    rtol, atol = _tol(dtype)
    em, tm = check_module(ctor, [x], dtype=dtype, rtol=rtol, atol=atol)
    _perturb(em, tm)
    em.train(), tm.train()
    xe, xt = E(x.astype(dtype), True), T(x.astype(dtype), True)
    oe, ot = em(xe), tm(xt)
    assert_close(oe, ot, rtol, atol)
    g = rand(*x.shape, dtype=dtype, seed=3)
    oe.backward(E(g))
    ot.backward(T(g))
    assert_close(xe.grad, xt.grad, rtol, atol)
    for (_, pe), (_, pt) in zip(em.named_parameters(), tm.named_parameters()):
        assert_close(pe.grad, pt.grad, rtol, atol)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('ns,shape', [(5, (4, 5)), ((3, 4), (2, 3, 4)), ([6], (2, 2, 6)),
                                      (8, (8,))])
@pytest.mark.parametrize('kw', [{}, {'elementwise_affine': False}, {'bias': False},
                                {'eps': 1e-2}], ids=str)
def test_layernorm_module(ns, shape, kw, dtype):
    _check(lambda L: L.nn.LayerNorm(ns, **kw), _x(*shape, dtype=dtype), dtype)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('args,shape', [((2, 4), (3, 4, 5)), ((1, 6), (2, 6, 2, 3)),
                                        ((3, 3), (2, 3, 2)), ((2, 4), (3, 4))])
@pytest.mark.parametrize('kw', [{}, {'affine': False}, {'bias': False}, {'eps': 0.1}], ids=str)
def test_groupnorm_module(args, shape, kw, dtype):
    _check(lambda L: L.nn.GroupNorm(*args, **kw), _x(*shape, dtype=dtype), dtype)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('ns,shape', [(5, (4, 5)), ((3, 4), (2, 3, 4)), (6, (6,))])
@pytest.mark.parametrize('kw', [{}, {'eps': 1e-3}, {'elementwise_affine': False}], ids=str)
def test_rmsnorm_module(ns, shape, kw, dtype):
    _check(lambda L: L.nn.RMSNorm(ns, **kw), _x(*shape, dtype=dtype), dtype)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('args,shape', [((2,), (2, 5, 4)), ((3, 1e-2, 0.5, 2.0), (2, 6, 3, 3)),
                                        ((5,), (1, 7, 2, 2, 2))])
def test_local_response_norm_module(args, shape, dtype):
    _check(lambda L: L.nn.LocalResponseNorm(*args), _x(*shape, dtype=dtype), dtype)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('size', [2, 3, 4, 5, 8])
def test_cross_map_lrn2d(size, dtype):
    _check(lambda L: L.nn.CrossMapLRN2d(size, 0.3, 0.75, 1.5), _x(2, 6, 3, 3, dtype=dtype), dtype)


def test_cross_map_lrn2d_errors_and_repr():
    assert repr(ember.nn.CrossMapLRN2d(3)) == repr(torch.nn.CrossMapLRN2d(3))
    with pytest.raises(ValueError) as te:
        torch.nn.CrossMapLRN2d(3)(torch.randn(2, 3, 4))
    with pytest.raises(ValueError) as ee:
        ember.nn.CrossMapLRN2d(3)(ember.randn(2, 3, 4))
    assert str(ee.value) == str(te.value)
    # size 1: torch's legacy backward fails here, ember's works
    out = ember.nn.CrossMapLRN2d(1).to(DEVICE)(E(_x(2, 3, 2, 2), True))
    out.sum().backward()


def test_constructor_checks_and_attributes():
    with pytest.raises(ValueError, match=r'num_channels \(3\) must be divisible by num_groups'):
        ember.nn.GroupNorm(2, 3)
    m = ember.nn.LayerNorm([2, 3], dtype=ember.float64)
    assert m.normalized_shape == (2, 3) and m.weight.dtype == ember.float64
    assert ember.nn.RMSNorm(4).eps is None
    m = ember.nn.GroupNorm(2, 4)
    assert (m.num_groups, m.num_channels, m.eps, m.affine) == (2, 4, 1e-05, True)
    lrn = ember.nn.LocalResponseNorm(3)
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (3, 0.0001, 0.75, 1.0)
    with pytest.raises(RuntimeError, match=r'expected input with shape \[\*, 3\]'):
        ember.nn.LayerNorm(3)(ember.randn(2, 4))
