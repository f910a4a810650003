"""ember.nn.functional normalisations against torch.nn.functional: batch_norm, instance_norm,
layer_norm, group_norm, rms_norm, local_response_norm (forward, backward, running statistics,
errors) and finite-difference gradchecks of each fused op."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as F
from tests.helpers import E, T, assert_close, check, gradcheck, noncontig, rand, to_np

DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return (2e-5, 2e-6) if dtype == np.float32 else (1e-9, 1e-11)


def _lib(x):
    return (ember, F) if isinstance(x, ember.Tensor) else (torch, TF)


def _like(x, a):
    """A tensor of x's library, dtype and device holding NumPy array ``a``."""
    return _lib(x)[0].tensor(np.asarray(a), dtype=x.dtype, device=x.device)


def _raises(fn_e, fn_t, exc):
    """Both raise ``exc`` with the same message (ember.Size printed where torch.Size is)."""
    with pytest.raises(exc) as te:
        fn_t()
    with pytest.raises(exc) as ee:
        fn_e()
    assert str(ee.value) == str(te.value).replace('torch.', 'ember.')


# ---- batch_norm ---------------------------------------------------------------------------
BN_SHAPES = [(4, 3), (5, 3, 7), (2, 3, 4, 5), (2, 3, 2, 3, 2), (3, 2, 40)]


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape', BN_SHAPES)
@pytest.mark.parametrize('training', [True, False])
def test_batch_norm(shape, dtype, training):
    c = shape[1]
    x = rand(*shape, dtype=dtype, seed=1) * 3 + 1
    w, b = rand(c, dtype=dtype, seed=2), rand(c, dtype=dtype, seed=3)
    rm0, rv0 = rand(c, dtype=dtype, seed=4), rand(c, dtype=dtype, low=0.5, high=2, seed=5)
    rms = {}

    def fn(x, w, b):
        lib, f = _lib(x)
        rm, rv = _like(x, rm0), _like(x, rv0)
        rms[lib] = (rm, rv)
        return f.batch_norm(x, rm, rv, w, b, training, 0.3, 1e-3)

    rtol, atol = _tol(dtype)
    out_e, out_t = check(fn, None, x, w, b, rtol=rtol, atol=atol)
    assert out_e.grad_fn.name() == 'NativeBatchNormBackward0'
    for a, t in zip(rms[ember], rms[torch]):
        assert_close(a, t, rtol, atol)


@pytest.mark.parametrize('training', [True, False])
def test_batch_norm_options(training):
    """No running stats in training, no affine, weight only, non-contiguous input."""
    x = noncontig(rand(6, 4, 5, seed=1))
    w = rand(4, seed=2)
    rm, rv = rand(4, seed=3), rand(4, low=0.5, high=2, seed=4)
    check(lambda x: _lib(x)[1].batch_norm(x, None, None, training=True), None, x)
    check(lambda x, w: _lib(x)[1].batch_norm(x, _like(x, rm), _like(x, rv), w,
                                             training=training, eps=0.1), None, x, w)
    check(lambda x: _lib(x)[1].batch_norm(x, _like(x, rm), _like(x, rv), bias=_like(x, np.ones(4)),
                                          training=training), None, x)


def test_batch_norm_grads_subset_and_broadcast_grad():
    """Only the weight requires grad; a broadcast (stride-0) upstream gradient."""
    x = rand(4, 3, 5, seed=1)
    for lib, f in ((ember, F), (torch, TF)):
        w = lib.tensor(rand(3, seed=2), requires_grad=True)
        out = f.batch_norm(lib.tensor(x), None, None, w, None, True)
        (out * lib.tensor(rand(5, seed=3))).sum().backward()
        if lib is ember:
            ge = w.grad
        else:
            assert_close(ge, w.grad)


def test_batch_norm_running_stats_and_versions():
    x = rand(8, 3, dtype=np.float64, seed=1)
    rm, rv = E(np.zeros(3)), E(np.ones(3))
    F.batch_norm(E(x), rm, rv, training=True, momentum=0.25)
    np.testing.assert_allclose(to_np(rm), 0.25 * x.mean(0))
    np.testing.assert_allclose(to_np(rv), 0.75 + 0.25 * x.var(0, ddof=1))
    assert rm._version == 1 and rv._version == 1
    # empty batch: statistics untouched, empty output
    out = F.batch_norm(E(np.zeros((0, 3))), rm, rv, training=True)
    assert out.shape == (0, 3)
    np.testing.assert_allclose(to_np(rm), 0.25 * x.mean(0))


def test_batch_norm_no_grad_path_matches():
    x = rand(4, 3, 6, seed=1)
    w, b = E(rand(3, seed=2)), E(rand(3, seed=3))
    with_grad = F.batch_norm(E(x, True), None, None, w, b, True)
    with ember.no_grad():
        plain = F.batch_norm(E(x), None, None, w, b, True)
    assert_close(plain, with_grad.detach())


def test_batch_norm_errors():
    z3, o3 = (lambda lib: lib.zeros(3)), (lambda lib: lib.ones(3))

    def both(call, exc):
        _raises(lambda: call(ember, F), lambda: call(torch, TF), exc)

    both(lambda L, f: f.batch_norm(L.randn(1, 3), z3(L), o3(L), training=True), ValueError)
    both(lambda L, f: f.batch_norm(L.randn(1, 3, 1), z3(L), o3(L), training=True), ValueError)
    both(lambda L, f: f.batch_norm(L.randn(2, 4), z3(L), o3(L)), RuntimeError)
    both(lambda L, f: f.batch_norm(L.randn(2, 3), z3(L), o3(L), L.ones(4)), RuntimeError)
    both(lambda L, f: f.batch_norm(L.randn(2, 3), z3(L), o3(L), bias=L.ones(4)), RuntimeError)
    both(lambda L, f: f.batch_norm(L.randn(2, 3), None, None), RuntimeError)
    both(lambda L, f: f.batch_norm(L.randn(2, 3), z3(L), o3(L), momentum=None), TypeError)
    both(lambda L, f: f.batch_norm(L.randn(2, 3, dtype=L.float64), z3(L), o3(L)), RuntimeError)
    both(lambda L, f: f.batch_norm(L.ones(2, 3, dtype=L.int64), L.zeros(3, dtype=L.int64),
                                   L.ones(3, dtype=L.int64)), NotImplementedError)


# ---- instance_norm ------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape', [(2, 3, 5), (3, 2, 4, 5), (2, 2, 2, 3, 2), (2, 3, 50)])
@pytest.mark.parametrize('stats', ['none', 'update', 'running'])
def test_instance_norm(shape, dtype, stats):
    c = shape[1]
    x = rand(*shape, dtype=dtype, seed=1) * 2 + 0.5
    w, b = rand(c, dtype=dtype, seed=2), rand(c, dtype=dtype, seed=3)
    rm0, rv0 = rand(c, dtype=dtype, seed=4), rand(c, dtype=dtype, low=0.5, high=2, seed=5)
    rms = {}

    def fn(x, w, b):
        lib, f = _lib(x)
        rm = rv = None
        if stats != 'none':
            rm, rv = _like(x, rm0), _like(x, rv0)
        rms[lib] = (rm, rv)
        return f.instance_norm(x, rm, rv, w, b, stats != 'running', 0.2, 1e-4)

    rtol, atol = _tol(dtype)
    check(fn, None, x, w, b, rtol=rtol, atol=atol)
    assert_close(rms[ember], rms[torch], rtol, atol)


def test_instance_norm_errors():
    def both(call, exc):
        _raises(lambda: call(ember, F), lambda: call(torch, TF), exc)

    x = lambda L: L.randn(4, 3, 5)  # noqa: E731
    both(lambda L, f: f.instance_norm(L.randn(2, 3)), ValueError)
    both(lambda L, f: f.instance_norm(L.randn(2, 3, 1)), ValueError)
    both(lambda L, f: f.instance_norm(x(L), use_input_stats=False), RuntimeError)
    both(lambda L, f: f.instance_norm(x(L), L.zeros(3), None), ValueError)
    both(lambda L, f: f.instance_norm(x(L), L.zeros(4), L.ones(4)), RuntimeError)
    both(lambda L, f: f.instance_norm(x(L), weight=L.ones(4)), RuntimeError)


# ---- layer_norm ---------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape,ns', [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((6,), (6,)),
                                      ((3, 2, 40), (40,)), ((2, 3, 1), (1,))])
@pytest.mark.parametrize('affine', ['both', 'weight', 'bias', 'none'])
def test_layer_norm(shape, ns, dtype, affine):
    x = rand(*shape, dtype=dtype, seed=1) * 2 + 1
    w, b = rand(*ns, dtype=dtype, seed=2), rand(*ns, dtype=dtype, seed=3)
    use_w, use_b = affine in ('both', 'weight'), affine in ('both', 'bias')

    def fn(x, w, b):
        return _lib(x)[1].layer_norm(x, list(ns), w if use_w else None, b if use_b else None,
                                     1e-3)

    rtol, atol = _tol(dtype)
    out_e, _ = check(fn, None, x, w, b, rtol=rtol, atol=atol)
    assert out_e.grad_fn.name() == 'NativeLayerNormBackward0'


def test_layer_norm_noncontig_empty_and_size_arg():
    x = noncontig(rand(5, 4, 6, seed=1))
    check(lambda x, w: _lib(x)[1].layer_norm(x, (6,), w), None, x, rand(6, seed=2))
    check(lambda x: _lib(x)[1].layer_norm(x, (4, 6)), None, x)
    check(lambda x: _lib(x)[1].layer_norm(x, (3,)), None, rand(0, 3))
    out = F.layer_norm(E(rand(2, 3)), ember.Size([3]))
    assert out.shape == (2, 3)


def test_layer_norm_errors():
    def both(call, exc):
        _raises(lambda: call(ember, F), lambda: call(torch, TF), exc)

    x = lambda L: L.randn(2, 3)  # noqa: E731
    both(lambda L, f: f.layer_norm(x(L), (4,)), RuntimeError)
    both(lambda L, f: f.layer_norm(x(L), (2, 3, 4)), RuntimeError)
    both(lambda L, f: f.layer_norm(x(L), (3,), L.ones(4)), RuntimeError)
    both(lambda L, f: f.layer_norm(x(L), [3], None, L.ones(2)), RuntimeError)
    both(lambda L, f: f.layer_norm(x(L), ()), RuntimeError)
    both(lambda L, f: f.layer_norm(x(L), 3), TypeError)
    both(lambda L, f: f.layer_norm(x(L), [3.0]), TypeError)


# ---- rms_norm -----------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape,ns', [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((3, 2, 40), (40,))])
@pytest.mark.parametrize('eps', [None, 1e-2])
@pytest.mark.parametrize('use_w', [True, False])
def test_rms_norm(shape, ns, dtype, eps, use_w):
    x = rand(*shape, dtype=dtype, seed=1)
    w = rand(*ns, dtype=dtype, seed=2)
    rtol, atol = _tol(dtype)
    check(lambda x, w: _lib(x)[1].rms_norm(x, list(ns), w if use_w else None, eps), None, x, w,
          rtol=rtol, atol=atol)


def test_rms_norm_errors():
    def both(call, exc):
        _raises(lambda: call(ember, F), lambda: call(torch, TF), exc)

    both(lambda L, f: f.rms_norm(L.randn(2, 3), (4,)), RuntimeError)
    both(lambda L, f: f.rms_norm(L.randn(2, 3), (4, 5)), RuntimeError)
    both(lambda L, f: f.rms_norm(L.randn(2, 3), (3,), L.ones(1, 3)), RuntimeError)
    both(lambda L, f: f.rms_norm(L.randn(2, 3), ()), RuntimeError)
    both(lambda L, f: f.rms_norm(L.randn(2, 3), 3), TypeError)


# ---- group_norm ---------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape,groups', [((2, 4, 5), 2), ((3, 6, 2, 3), 3), ((2, 4), 2),
                                          ((2, 6, 3), 1), ((2, 6, 3), 6), ((2, 4, 40), 2)])
@pytest.mark.parametrize('affine', [True, False])
def test_group_norm(shape, groups, dtype, affine):
    c = shape[1]
    x = rand(*shape, dtype=dtype, seed=1) * 2 + 1
    w, b = rand(c, dtype=dtype, seed=2), rand(c, dtype=dtype, seed=3)
    rtol, atol = _tol(dtype)
    out_e, _ = check(lambda x, w, b: _lib(x)[1].group_norm(x, groups, w if affine else None,
                                                            b if affine else None, 1e-3),
                     None, x, w, b, rtol=rtol, atol=atol)
    assert out_e.grad_fn.name() == 'NativeGroupNormBackward0'


def test_group_norm_weight_only_empty_noncontig():
    check(lambda x, w: _lib(x)[1].group_norm(x, 2, w), None, noncontig(rand(3, 4, 5, seed=1)),
          rand(4, seed=2))
    check(lambda x: _lib(x)[1].group_norm(x, 2), None, rand(0, 4, 3))


def test_group_norm_errors():
    def both(call, exc):
        _raises(lambda: call(ember, F), lambda: call(torch, TF), exc)

    both(lambda L, f: f.group_norm(L.randn(2, 3), 2), RuntimeError)
    both(lambda L, f: f.group_norm(L.randn(4), 2), RuntimeError)
    both(lambda L, f: f.group_norm(L.randn(2, 4, 5), 2, L.ones(3)), RuntimeError)
    both(lambda L, f: f.group_norm(L.randn(2, 4, 5), 2, L.ones(2, 2)), RuntimeError)
    with pytest.raises(RuntimeError, match='got bias of shape \\[3\\]'):  # torch says [0]
        F.group_norm(ember.randn(2, 4, 5), 2, None, ember.ones(3))
    with pytest.raises(ZeroDivisionError):
        F.group_norm(ember.randn(2, 4), 0)


# ---- local_response_norm ------------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape', [(2, 5, 4), (2, 7, 3, 3), (1, 4, 2, 2, 2)])
@pytest.mark.parametrize('size', [1, 2, 3, 5, 10])
def test_local_response_norm(shape, size, dtype):
    x = rand(*shape, dtype=dtype, seed=1) * 2
    rtol, atol = _tol(dtype)
    out_e, _ = check(lambda x: _lib(x)[1].local_response_norm(x, size, 0.3, 0.6, 1.5), None, x,
                     rtol=rtol, atol=atol)
    assert out_e.grad_fn.name() == 'DivBackward0'


def test_local_response_norm_defaults_and_errors():
    check(lambda x: _lib(x)[1].local_response_norm(x, 2), None, noncontig(rand(2, 3, 4, seed=1)))
    check(lambda x: _lib(x)[1].local_response_norm(x, 2), None, rand(0, 3, 4), grad=False)
    for shape in [(2,), (2, 3)]:
        _raises(lambda: F.local_response_norm(ember.randn(*shape), 2),
                lambda: TF.local_response_norm(torch.randn(*shape), 2), ValueError)


# ---- finite differences -------------------------------------------------------------------
def test_gradcheck_batch_norm():
    x, w, b = rand(4, 3, 2, seed=1), rand(3, seed=2), rand(3, seed=3)
    gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, True, eps=0.1), x, w, b)
    rm, rv = E(rand(3, seed=4, dtype=np.float64)), E(rand(3, seed=5, low=.5, dtype=np.float64))
    gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, False), x, w, b)


def test_gradcheck_row_norms():
    x = rand(3, 4, 3, seed=1)
    w4, b4, w3 = rand(4, seed=2), rand(4, seed=3), rand(3, seed=4)
    gradcheck(lambda x, w, b: F.layer_norm(x, (3,), w, b, 0.1), x, w3, rand(3, seed=5))
    gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b, 0.1), x, w4, b4)
    gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b, eps=0.1), x, w4, b4)
    gradcheck(lambda x, w: F.rms_norm(x, (3,), w, 0.1), x, w3)


def test_gradcheck_lrn():
    gradcheck(lambda x: F.local_response_norm(x, 3, 0.5, 0.75, 1.0), rand(2, 5, 3, seed=1))
    gradcheck(lambda x: F.local_response_norm(x, 2, 0.5, 0.75, 1.0), rand(2, 4, 3, seed=1))


def test_float16_layer_norm_runs():
    x = rand(2, 8, seed=1).astype(np.float16)
    out = F.layer_norm(E(x), (8,))
    ref = TF.layer_norm(T(x.astype(np.float32)), (8,))
    assert out.dtype == ember.float16
    np.testing.assert_allclose(to_np(out).astype(np.float32), to_np(ref), atol=2e-2)


# ---- cache blocks and threads -------------------------------------------------------------
_W4, _B4 = np.linspace(0.5, 2, 4), np.linspace(-1, 1, 4)
BLOCKED_CASES = {
    'batch_train': lambda x, f: f.batch_norm(x, _like(x, np.zeros(4)), _like(x, np.ones(4)),
                                             _like(x, _W4), _like(x, _B4), True),
    'batch_eval': lambda x, f: f.batch_norm(x, _like(x, _B4), _like(x, _W4), _like(x, _W4)),
    'layer': lambda x, f: f.layer_norm(x, (3, 5), _like(x, np.linspace(0.5, 2, 15).reshape(3, 5)),
                                       _like(x, np.linspace(-1, 1, 15).reshape(3, 5))),
    'group': lambda x, f: f.group_norm(x, 2, _like(x, _W4), _like(x, _B4)),
    'instance': lambda x, f: f.instance_norm(x, _like(x, np.zeros(4)), _like(x, np.ones(4)),
                                             _like(x, _W4), None),
    'rms': lambda x, f: f.rms_norm(x, (5,), _like(x, np.linspace(0.5, 2, 5))),
}


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('case', sorted(BLOCKED_CASES))
def test_many_cache_blocks(case, dtype, monkeypatch):
    """Tiny blocks: the per-block kernels, the partial sums and the threads agree with torch."""
    monkeypatch.setattr(ember.ops.normalization, '_BLOCK', 40)
    fn = BLOCKED_CASES[case]
    rtol, atol = _tol(dtype)
    x = rand(9, 4, 3, 5, dtype=dtype, seed=1) * 3 + 2
    check(lambda x: fn(x, _lib(x)[1]), None, x, rtol=rtol, atol=atol)


def test_many_cache_blocks_running_stats(monkeypatch):
    monkeypatch.setattr(ember.ops.normalization, '_BLOCK', 40)
    x = rand(9, 4, 3, 5, dtype=np.float64, seed=1) * 3 + 2
    for name in ('batch_norm', 'instance_norm'):
        stats = []
        for lib, f in ((ember, F), (torch, TF)):
            rm, rv = lib.zeros(4, dtype=lib.float64), lib.ones(4, dtype=lib.float64)
            getattr(f, name)(lib.tensor(x), rm, rv, None, None, True, 0.3)
            stats.append((rm, rv))
        assert_close(stats[0], stats[1], 1e-10, 1e-12)


@pytest.mark.cuda
@pytest.mark.parametrize('case', sorted(BLOCKED_CASES))
def test_cuda_matches_cpu(case):
    """The same kernels on CuPy arrays (one block) give the CPU's numbers."""
    fn = BLOCKED_CASES[case]
    x = rand(5, 4, 3, 5, dtype=np.float64, seed=1)
    outs, grads = [], []
    for dev in ('cpu', 'cuda'):
        t = ember.tensor(x, device=dev, requires_grad=True)
        out = fn(t, F)
        out.backward(ember.tensor(rand(*x.shape, dtype=np.float64, seed=2), device=dev))
        outs.append(out.detach().cpu().numpy())
        grads.append(t.grad.cpu().numpy())
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-12)


def test_inplace_change_of_saved_output_is_detected():
    """local_response_norm saves its output: changing it in place before backward raises."""
    x = E(rand(2, 4, 3, seed=1), True)
    out = F.local_response_norm(x, 2)
    out.mul_(2)
    with pytest.raises(RuntimeError, match='modified by an inplace operation'):
        out.sum().backward()
    x = E(rand(2, 4, 3, seed=1), True)
    y = x * 1
    out = F.layer_norm(y, (3,))
    y.add_(1)                          # the saved input changed
    with pytest.raises(RuntimeError, match='modified by an inplace operation'):
        out.sum().backward()
