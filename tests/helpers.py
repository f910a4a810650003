"""Parity helpers: run the same computation in ember and torch and compare.

    check(fn_ember, fn_torch, *arrays)  forward values/dtype/shape and input gradients
    gradcheck(fn, *arrays)              finite differences in float64
    E(array), T(array)                  tensors from NumPy arrays (E on the test device)
"""
import numpy as np
import torch

import ember
from tests.conftest import DEVICE

TORCH_DTYPE = {ember.float16: torch.float16, ember.float32: torch.float32,
               ember.float64: torch.float64, ember.int8: torch.int8, ember.int16: torch.int16,
               ember.int32: torch.int32, ember.int64: torch.int64, ember.uint8: torch.uint8,
               ember.bool: torch.bool}


def E(a, requires_grad=False, dtype=None):
    """ember tensor on the test device from a NumPy array (or nested list / number)."""
    if isinstance(a, np.ndarray) and DEVICE == 'cpu':
        t = ember.from_numpy(a.copy(order='K'))  # keeps a non-contiguous layout
        t = t.to(dtype) if dtype is not None else t
    else:
        t = ember.tensor(np.asarray(a) if not isinstance(a, (int, float, bool)) else a,
                         dtype=dtype, device=DEVICE)
    return t.requires_grad_() if requires_grad else t


def T(a, requires_grad=False, dtype=None):
    t = torch.tensor(np.asarray(a) if not isinstance(a, (int, float, bool)) else a)
    if dtype is not None:
        t = t.to(TORCH_DTYPE[dtype])
    return t.requires_grad_() if requires_grad else t


def to_np(x):
    """NumPy array of an ember or torch tensor (or a number)."""
    if isinstance(x, ember.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy(force=True)
    return np.asarray(x)


def rand(*shape, dtype=np.float32, low=-2.0, high=2.0, seed=None):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=shape).astype(dtype)


def tol(dtype):
    """Default (rtol, atol) for a NumPy dtype."""
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return 1e-10, 1e-12
    if dtype == np.float16:
        return 1e-2, 1e-3
    return 1e-5, 1e-6


def assert_close(e, t, rtol=None, atol=None, check_dtype=True):
    """ember result ``e`` equals torch result ``t``: shape, dtype and values."""
    if isinstance(t, (tuple, list)):
        assert isinstance(e, (tuple, list)) and len(e) == len(t), (e, t)
        for a, b in zip(e, t):
            assert_close(a, b, rtol, atol, check_dtype)
        return
    if t is None:
        assert e is None, f'expected None, got {e}'
        return
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), f'expected an ember.Tensor, got {type(e)}'
        assert tuple(e.shape) == tuple(t.shape), f'shape {tuple(e.shape)} != {tuple(t.shape)}'
        if check_dtype:
            assert str(e.dtype).split('.')[-1] == str(t.dtype).split('.')[-1], \
                f'dtype {e.dtype} != {t.dtype}'
    a, b = to_np(e), to_np(t)
    r, at = tol(b.dtype if b.dtype.kind == 'f' else np.float64)
    rtol = r if rtol is None else rtol
    atol = at if atol is None else atol
    if b.dtype.kind in 'biu':
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def check(fn_e, fn_t=None, *arrays, grad=True, rtol=None, atol=None, seed=0, kwargs=None,
          check_dtype=True):
    """Run ``fn_e`` on ember tensors and ``fn_t`` (default: the same function) on torch tensors
    built from ``arrays``; compare outputs, then backward with the same random upstream gradient
    and compare the gradients of every floating-point input.

    Arrays are NumPy arrays (floating ones get requires_grad when ``grad``) or non-array values
    passed through unchanged. Returns (ember_out, torch_out).
    """
    fn_t = fn_t or fn_e
    kwargs = kwargs or {}
    et, tt = [], []
    for a in arrays:
        if isinstance(a, np.ndarray):
            rg = grad and a.dtype.kind == 'f'
            et.append(E(a, rg))
            tt.append(T(a, rg))
        else:
            et.append(a)
            tt.append(a)
    out_e = fn_e(*et, **kwargs)
    out_t = fn_t(*tt, **kwargs)
    assert_close(out_e, out_t, rtol, atol, check_dtype)
    if not grad:
        return out_e, out_t
    outs_e = out_e if isinstance(out_e, (tuple, list)) else (out_e,)
    outs_t = out_t if isinstance(out_t, (tuple, list)) else (out_t,)
    rng = np.random.default_rng(seed)
    ge, gt, oe, ot = [], [], [], []
    for a, b in zip(outs_e, outs_t):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            g = rng.standard_normal(tuple(b.shape)).astype(to_np(b).dtype)
            oe.append(a)
            ot.append(b)
            ge.append(E(g))
            gt.append(T(g))
    if not ot:
        return out_e, out_t
    torch.autograd.backward(ot, gt)
    ember.autograd.backward(oe, ge)
    for a, b in zip(et, tt):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            if b.grad is None:
                assert a.grad is None or not to_np(a.grad).any(), 'ember has a grad, torch none'
            else:
                assert a.grad is not None, 'torch has a grad, ember none'
                assert_close(a.grad, b.grad, rtol, atol)
    return out_e, out_t


def gradcheck(fn, *arrays, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Finite-difference check of ``fn`` in float64 (floating arrays get requires_grad)."""
    inputs = [E(np.asarray(a, np.float64), True) if isinstance(a, np.ndarray) and a.dtype.kind == 'f'
              else (E(a) if isinstance(a, np.ndarray) else a) for a in arrays]
    assert ember.autograd.gradcheck(fn, tuple(inputs), eps=eps, atol=atol, rtol=rtol)


def noncontig(a):
    """A non-contiguous NumPy view holding the same values as ``a`` (transposed storage)."""
    a = np.asarray(a)
    if a.ndim < 2:
        big = np.empty(a.shape[:-1] + (a.shape[-1] * 2,) if a.ndim else (2,), a.dtype)
        if a.ndim == 0:
            return a
        big[..., ::2] = a
        return big[..., ::2]
    return np.ascontiguousarray(np.swapaxes(a, -1, -2)).swapaxes(-1, -2)
