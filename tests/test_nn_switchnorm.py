"""SwitchableNorm1d/2d (not in PyTorch: Luo et al. 2018).

(a) the fused op against a reference written with ember's basic ops (forward and every
gradient), (b) finite differences in float64, (c) the paper's properties: mixing weights are a
softmax; a dominant IN / LN / BN logit reproduces torch's instance norm / one-group group norm /
batch norm (training and eval, running statistics included).
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
from ember.nn.functional.normalization import switchable_norm
from tests.conftest import DEVICE
from tests.helpers import E, T, assert_close, gradcheck, noncontig, rand, to_np

DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return (1e-4, 1e-5) if dtype == np.float32 else (1e-9, 1e-11)


def reference(x, mean_weight, var_weight, weight, bias, eps, running=None):
    """Switchable norm from ember's basic ops; ``running`` = (mean, var) replaces the BN
    statistics (eval)."""
    n, c = x.shape[0], x.shape[1]
    x3 = x.reshape(n, c, -1)
    stats = [(x3.mean(dims, keepdim=True), x3.var(dims, keepdim=True, unbiased=False))
             for dims in ((2,), (1, 2), (0, 2))]
    if running is not None:
        stats[2] = (running[0].reshape(1, c, 1), running[1].reshape(1, c, 1))
    pm, pv = mean_weight.softmax(0), var_weight.softmax(0)
    mean = pm[0] * stats[0][0] + pm[1] * stats[1][0] + pm[2] * stats[2][0]
    var = pv[0] * stats[0][1] + pv[1] * stats[1][1] + pv[2] * stats[2][1]
    y = (x3 - mean) / (var + eps).sqrt()
    if weight is not None:
        y = y * weight.reshape(1, c, 1) + bias.reshape(1, c, 1)
    return y.reshape(x.shape)


def _params(c, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=3).astype(dtype), rng.normal(size=3).astype(dtype),
            rng.uniform(0.5, 1.5, c).astype(dtype), rng.normal(size=c).astype(dtype))


def _compare_with_reference(x, dtype, eval_running=None):
    c = x.shape[1]
    mw, vw, w, b = _params(c, dtype)
    rtol, atol = _tol(dtype)
    g = rand(*x.shape, dtype=dtype, seed=5)
    results = []
    for fused in (True, False):
        ts = [E(a, True) for a in (x.astype(dtype), mw, vw, w, b)]
        if fused:
            rm = rv = None
            if eval_running is not None:
                rm, rv = (E(a.astype(dtype)) for a in eval_running)
            out = switchable_norm(ts[0], ts[1], ts[2], rm, rv, ts[3], ts[4],
                                  training=eval_running is None, eps=1e-3)
        else:
            run = None if eval_running is None else tuple(E(a.astype(dtype)) for a in eval_running)
            out = reference(ts[0], ts[1], ts[2], ts[3], ts[4], 1e-3, run)
        out.backward(E(g))
        results.append((out, [t.grad for t in ts]))
    assert_close(results[0][0], results[1][0], rtol, atol)
    for a, b_ in zip(results[0][1], results[1][1]):
        assert_close(a, b_, rtol, atol)


# ---- (a) against the reference ----------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape', [(4, 3, 5, 6), (2, 5, 3, 3), (3, 4, 40), (5, 3), (2, 2, 1, 7)])
def test_matches_reference_training(shape, dtype):
    _compare_with_reference(rand(*shape, dtype=dtype, seed=1) * 2 + 1, dtype)


@pytest.mark.parametrize('dtype', DTYPES)
def test_matches_reference_eval(dtype):
    running = (rand(3, seed=2), rand(3, seed=3, low=0.5, high=2))
    _compare_with_reference(rand(4, 3, 4, 5, dtype=dtype, seed=1), dtype, running)


def test_many_cache_blocks(monkeypatch):
    """Tiny cache blocks (shared among threads) give the same numbers."""
    monkeypatch.setattr(ember.ops.normalization, '_BLOCK', 30)
    _compare_with_reference(rand(7, 3, 4, 5, dtype=np.float64, seed=1) + 1, np.float64)
    _compare_with_reference(rand(7, 3, 4, 5, dtype=np.float64, seed=1), np.float64,
                            (rand(3, seed=2), rand(3, seed=3, low=0.5, high=2)))


def test_noncontiguous_input():
    x = noncontig(rand(3, 4, 5, seed=1))
    _compare_with_reference(x, np.float64)


# ---- (b) finite differences ---------------------------------------------------------------
def test_gradcheck_training():
    mw, vw, w, b = _params(3, np.float64)
    gradcheck(lambda x, mw, vw, w, b: switchable_norm(x, mw, vw, None, None, w, b, eps=0.1),
              rand(3, 3, 2, 2, seed=1), mw, vw, w, b)


def test_gradcheck_eval_and_no_affine():
    mw, vw, _, _ = _params(3, np.float64)
    rm, rv = E(rand(3, seed=2, dtype=np.float64)), E(rand(3, seed=3, low=.5, dtype=np.float64))
    gradcheck(lambda x, mw, vw: switchable_norm(x, mw, vw, rm, rv, training=False, eps=0.1),
              rand(2, 3, 4, seed=1), mw, vw)


# ---- (c) the paper's properties -----------------------------------------------------------
def _dominant(k):
    v = np.zeros(3)
    v[k] = 100.0
    return v


def _sn_module(c, k, dtype=np.float64, **kw):
    m = ember.nn.SwitchableNorm2d(c, **kw, device=DEVICE)
    if dtype == np.float64:
        m = m.double()
    with ember.no_grad():
        m.mean_weight.copy_(E(_dominant(k).astype(dtype)))
        m.var_weight.copy_(E(_dominant(k).astype(dtype)))
        m.weight.copy_(E(rand(c, dtype=dtype, seed=8, low=0.5, high=1.5)))
        m.bias.copy_(E(rand(c, dtype=dtype, seed=9)))
    return m


def test_softmax_weights_sum_to_one():
    m = ember.nn.SwitchableNorm2d(4)
    with ember.no_grad():
        m.mean_weight.copy_(ember.tensor([0.3, -1.0, 2.0]))
    for p in (m.mean_weight.softmax(0), m.var_weight.softmax(0)):
        assert abs(p.sum().item() - 1) < 1e-6 and (to_np(p) > 0).all()
    np.testing.assert_allclose(to_np(m.var_weight.softmax(0)), [1 / 3] * 3, rtol=1e-6)


@pytest.mark.parametrize('k', [0, 1, 2])
def test_dominant_weight_is_in_ln_bn(k):
    """[100, 0, 0] is instance norm, [0, 100, 0] layer-norm statistics (one-group group
    norm), [0, 0, 100] batch norm (training), forward and input gradient, as torch."""
    x = rand(4, 3, 5, 6, dtype=np.float64, seed=1) * 2 + 1
    m = _sn_module(3, k)
    w, b = T(to_np(m.weight)), T(to_np(m.bias))
    xe, xt = E(x, True), T(x, True)
    oe = m(xe)
    if k == 0:
        ot = TF.instance_norm(xt, weight=w, bias=b)
    elif k == 1:
        ot = TF.group_norm(xt, 1, w, b)
    else:
        ot = TF.batch_norm(xt, None, None, w, b, training=True)
    assert_close(oe, ot, 1e-9, 1e-10)
    g = rand(*x.shape, dtype=np.float64, seed=2)
    oe.backward(E(g))
    ot.backward(T(g))
    assert_close(xe.grad, xt.grad, 1e-8, 1e-10)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('kw', [{}, {'momentum': 0.3}, {'momentum': None},
                                {'using_moving_average': False}], ids=str)
def test_running_stats_and_eval_match_batchnorm(kw, dtype):
    """With the BN logit dominant: running statistics after several steps and eval output equal
    torch's BatchNorm2d (momentum=None / using_moving_average=False: cumulative average)."""
    m = _sn_module(3, 2, dtype, **kw)
    bn_kw = {'momentum': None} if not kw.get('using_moving_average', True) else kw
    tm = torch.nn.BatchNorm2d(3, **bn_kw)
    if dtype == np.float64:
        tm = tm.double()
    with torch.no_grad():
        tm.weight.copy_(T(to_np(m.weight)))
        tm.bias.copy_(T(to_np(m.bias)))
    rtol, atol = _tol(dtype)
    for i in range(3):
        x = rand(4, 3, 3, 3, dtype=dtype, seed=i) * 2 + 1
        assert_close(m(E(x)), tm(T(x)), rtol, atol)
    assert_close(m.running_mean, tm.running_mean, rtol, atol)
    assert_close(m.running_var, tm.running_var, rtol, atol)
    assert m.num_batches_tracked.item() == 3
    m.eval(), tm.eval()
    x = rand(2, 3, 3, 3, dtype=dtype, seed=7)
    assert_close(m(E(x)), tm(T(x)), rtol, atol)


def test_eval_without_running_stats_uses_batch_statistics():
    m = _sn_module(3, 2, track_running_stats=False).eval()
    x = rand(4, 3, 2, 2, dtype=np.float64, seed=1)
    ref = TF.batch_norm(T(x), None, None, T(to_np(m.weight)),
                        T(to_np(m.bias)), training=True)
    assert_close(m(E(x)), ref, 1e-9, 1e-10)
    assert m.running_mean is None and [n for n, _ in m.named_buffers()] == []


def test_eval_mixes_running_bn_with_input_in_ln():
    """Eval: only the BN term switches to the running statistics."""
    m = ember.nn.SwitchableNorm2d(3, device=DEVICE).double()
    with ember.no_grad():
        m.running_mean.copy_(E(rand(3, dtype=np.float64, seed=2)))
        m.running_var.copy_(E(rand(3, dtype=np.float64, seed=3, low=0.5, high=2)))
    m.eval()
    x = E(rand(2, 3, 4, 4, dtype=np.float64, seed=1))
    ref = reference(x, m.mean_weight, m.var_weight, m.weight, m.bias, m.eps,
                    (m.running_mean, m.running_var))
    assert_close(m(x), ref.detach(), 1e-10, 1e-12)


def test_module_api():
    m = ember.nn.SwitchableNorm2d(16, device=DEVICE)
    assert repr(m) == 'SwitchableNorm2d(16, eps=1e-05, momentum=0.1, affine=True)'
    assert [n for n, _ in m.named_parameters()] == ['weight', 'bias', 'mean_weight', 'var_weight']
    assert [n for n, _ in m.named_buffers()] == ['running_mean', 'running_var',
                                                 'num_batches_tracked']
    assert tuple(m.mean_weight.shape) == (3,) and (to_np(m.mean_weight) == 1).all()
    assert m.using_moving_average
    m1 = ember.nn.SwitchableNorm1d(4, affine=False, dtype=ember.float64, device=DEVICE)
    assert m1.weight is None and m1.mean_weight.dtype == ember.float64
    out = m1(E(rand(5, 4, dtype=np.float64, seed=1)))
    assert out.shape == (5, 4)
    m1(E(rand(5, 4, 3, dtype=np.float64, seed=1)))
    with pytest.raises(ValueError, match=r'expected 4D input \(got 3D input\)'):
        m(ember.randn(2, 16, 3))
    with pytest.raises(ValueError, match=r'expected 2D or 3D input \(got 4D input\)'):
        m1(ember.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match='Expected more than 1 value per channel when training'):
        ember.nn.SwitchableNorm1d(4)(ember.randn(1, 4))
    sd = m.state_dict()
    m2 = ember.nn.SwitchableNorm2d(16, device=DEVICE)
    m2.load_state_dict(sd)
    out = m(E(rand(2, 16, 3, 3, seed=1), True))
    assert out.grad_fn.name() == 'SwitchableNormBackward0'
    out.sum().backward()
    assert m.mean_weight.grad is not None and m.var_weight.grad is not None
