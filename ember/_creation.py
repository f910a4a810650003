"""Tensor factories: tensor, as_tensor, from_numpy, zeros/ones/full/empty(_like), arange,
linspace, logspace, eye, and the legacy typed constructors (FloatTensor, LongTensor, ...)."""
import math

import numpy as np

from . import _dtype
from ._backend import xp_for, to_device_array, device_of, canonical_device, is_cuda_array
from ._tensor import Tensor, _wrap, _size_args

__all__ = ['tensor', 'as_tensor', 'asarray', 'from_numpy', 'from_dlpack', 'zeros', 'ones', 'full',
           'empty', 'zeros_like', 'ones_like', 'full_like', 'empty_like', 'arange', 'range',
           'linspace', 'logspace', 'eye', 'scalar_tensor', 'empty_strided',
           'FloatTensor', 'DoubleTensor', 'HalfTensor', 'LongTensor', 'IntTensor',
           'ShortTensor', 'CharTensor', 'ByteTensor', 'BoolTensor']

_builtin_range = range


def _finish(a, dtype, device, requires_grad):
    """Cast to ``dtype``, move to ``device``, wrap, and set requires_grad."""
    if dtype is not None:
        nd = _dtype.to_np(dtype)
        if a.dtype != nd:
            a = a.astype(nd)
    if device is not None:
        a = to_device_array(a, device)
    t = _wrap(a)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_python(data, dtype=None):
    """NumPy array from nested Python data (lists, numbers, tensors), PyTorch's dtypes:
    floats -> default dtype (or the requested float dtype, without rounding twice),
    ints -> int64, bools -> bool."""
    if isinstance(data, str) or (isinstance(data, (list, tuple)) and _has_str(data)):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    conv = _tensors_to_arrays(data)
    try:
        a = np.asarray(conv)
    except ValueError:
        _check_ragged(data)
        raise
    if a.dtype == object:
        _check_ragged(data)
        raise TypeError(f'Could not infer dtype of {type(data).__name__}')
    if a.dtype.kind == 'f' and a.dtype != np.float16 and not _has_array_leaf(conv):
        target = _dtype.to_np(dtype) if dtype is not None else None
        a = a.astype(target if target is not None and target.kind == 'f'
                     else _dtype.default_float_np())
    elif a.dtype.kind in 'iu' and not _has_array_leaf(conv):
        a = a.astype(np.int64)
    elif a.dtype.kind == 'c':
        raise TypeError('ember has no complex dtypes')
    return a


def _has_str(data):
    for d in data:
        if isinstance(d, str):
            return True
        if isinstance(d, (list, tuple)) and _has_str(d):
            return True
    return False


def _has_array_leaf(data):
    if isinstance(data, np.ndarray):
        return True
    if isinstance(data, (list, tuple)):
        return any(_has_array_leaf(d) for d in data)
    return False


def _tensors_to_arrays(data):
    if isinstance(data, Tensor):
        a = data._data
        return a if a.__class__ is np.ndarray else a.get()
    if isinstance(data, (list, tuple)):
        return [_tensors_to_arrays(d) for d in data]
    return data


def _check_ragged(data, dim=0):
    if isinstance(data, (list, tuple)) and data:
        first = data[0]
        n = len(first) if isinstance(first, (list, tuple)) else None
        for d in data:
            m = len(d) if isinstance(d, (list, tuple)) else None
            if m != n:
                raise ValueError(f'expected sequence of length {n} at dim {dim + 1} (got {m})')
            _check_ragged(d, dim + 1)


def _host_array(data, dtype=None):
    """(array, keeps_dtype): NumPy/CuPy arrays keep their dtype, Python data is inferred."""
    if isinstance(data, Tensor):
        return data._data, True
    if isinstance(data, np.ndarray) or is_cuda_array(data):
        if data.dtype.kind == 'u' and data.dtype != np.uint8 or data.dtype.kind == 'c':
            _dtype.from_numpy_dtype(data.dtype)
        return data, True
    if isinstance(data, np.generic):
        return np.asarray(data), True
    return _infer_python(data, dtype), False


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor copying ``data`` (nested lists, numbers, NumPy arrays, tensors)."""
    a, _ = _host_array(data, dtype)
    if isinstance(data, Tensor) or a is data:
        a = a.copy()
    if dtype is None and a.dtype not in _dtype._FROM_NP:
        a = a.astype(_dtype.from_numpy_dtype(a.dtype).np)
    return _finish(a, dtype, device, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a tensor or NumPy array when it can."""
    if isinstance(data, Tensor):
        return data.to(device=device if device is not None else data.device,
                       dtype=dtype if dtype is not None else data.dtype)
    a, _ = _host_array(data, dtype)
    if dtype is None and a.dtype not in _dtype._FROM_NP:
        a = a.astype(_dtype.from_numpy_dtype(a.dtype).np)
    return _finish(a, dtype, device, False)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    t = as_tensor(obj, dtype=dtype, device=device) if not copy else tensor(obj, dtype=dtype,
                                                                            device=device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def from_numpy(ndarray):
    """A tensor sharing memory with ``ndarray``."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f'expected np.ndarray (got {type(ndarray).__name__})')
    _dtype.from_numpy_dtype(ndarray.dtype) if ndarray.dtype not in _dtype._FROM_NP else None
    if ndarray.dtype not in _dtype._FROM_NP:
        raise TypeError(f"can't convert np.ndarray of type numpy.{ndarray.dtype}. The only "
                        'supported types are: float64, float32, float16, int64, int32, int16, '
                        'int8, uint8, and bool.')
    return _wrap(ndarray)


def from_dlpack(ext_tensor):
    """A tensor sharing memory with any DLPack producer (NumPy, CuPy, PyTorch, JAX, ...)."""
    dev_type, dev_id = ext_tensor.__dlpack_device__()
    if int(dev_type) == 1:
        return _wrap(np.from_dlpack(ext_tensor))
    if int(dev_type) == 2:
        cp = xp_for('cuda')
        return _wrap(cp.from_dlpack(ext_tensor))
    raise RuntimeError(f'from_dlpack: unsupported device type {dev_type}')


def _fill(size, value, dtype, device, requires_grad, default, name='zeros'):
    if not size:
        raise TypeError(f"{name}() missing 1 required positional argument: 'size'")
    size = _size_args(size)
    nd = _dtype.to_np(dtype) if dtype is not None else default
    xp = xp_for(device)
    if value is None:
        a = xp.empty(size, nd)
    elif value == 0:
        a = xp.zeros(size, nd)
    else:
        a = xp.full(size, value, nd)
    t = _wrap(a)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False):
    return _out(out, _fill(size, 0, dtype, device, requires_grad, _dtype.default_float_np()))


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
         pin_memory=False):
    return _out(out, _fill(size, 1, dtype, device, requires_grad, _dtype.default_float_np(),
                           'ones'))


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False, memory_format=None):
    return _out(out, _fill(size, None, dtype, device, requires_grad, _dtype.default_float_np(),
                           'empty'))


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False):
    return empty(size, dtype=dtype, device=device, requires_grad=requires_grad)


def _scalar_dtype(v):
    if isinstance(v, Tensor):
        return v._data.dtype
    if isinstance(v, bool):
        return np.dtype(np.bool_)
    if isinstance(v, (int, np.integer)):
        return np.dtype(np.int64)
    return _dtype.default_float_np()


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad=False, pin_memory=False):
    """A tensor of ``size`` filled with ``fill_value`` (int -> int64, bool -> bool)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _out(out, _fill((size,), fill_value, dtype, device, requires_grad,
                           _scalar_dtype(fill_value)))


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    return full((), s, dtype=dtype or _dtype.get_default_dtype(), device=device,
                requires_grad=requires_grad)


def _out(out, t):
    if out is None:
        return t
    out._data = t._data if out._data.dtype == t._data.dtype else t._data.astype(out._data.dtype)
    out._bump()
    return out


def _like(input, value, dtype, device, requires_grad):
    a = input._data
    nd = _dtype.to_np(dtype) if dtype is not None else a.dtype
    if device is None:
        dev = device_of(a)
    else:
        dev = canonical_device(device)
    xp = xp_for(dev)
    if value is None:
        r = xp.empty(a.shape, nd)
    elif value == 0:
        r = xp.zeros(a.shape, nd)
    else:
        r = xp.full(a.shape, value, nd)
    t = _wrap(r)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None):
    return _like(input, 0, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    return _like(input, 1, dtype, device, requires_grad)


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None):
    return _like(input, None, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _like(input, fill_value, dtype, device, requires_grad)


def _num(x):
    return x.item() if isinstance(x, Tensor) else x


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad=False, pin_memory=False):
    """Values ``start, start+step, ...`` below ``end``; int64 unless a bound is a float."""
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError('step must be nonzero')
    if (end - start) * step < 0:
        raise RuntimeError('upper bound and larger bound inconsistent with step sign')
    is_float = any(isinstance(v, float) for v in (start, end, step))
    n = max(int(math.ceil((end - start) / step)), 0)
    if dtype is None:
        nd = _dtype.default_float_np() if is_float else np.dtype(np.int64)
    else:
        nd = _dtype.to_np(dtype)
    if nd.kind == 'f' or is_float:
        a = (start + np.arange(n, dtype=np.float64) * step).astype(nd)
    else:
        a = np.arange(start, start + n * step, step, dtype=np.int64)[:n].astype(nd)
    return _out(out, _finish(a, None, device, requires_grad))


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Deprecated in PyTorch: like arange but includes ``end``; float by default."""
    if end is None:
        start, end = 0, start
    n = int(math.floor((end - start) / step)) + 1
    a = start + np.arange(n, dtype=np.float64) * step
    nd = _dtype.to_np(dtype) if dtype is not None else _dtype.default_float_np()
    return _finish(a.astype(nd), None, device, requires_grad)


def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    start, end = _num(start), _num(end)
    if steps < 0:
        raise RuntimeError('number of steps must be non-negative')
    nd = _dtype.to_np(dtype) if dtype is not None else _dtype.default_float_np()
    if steps == 1:
        a = np.array([start], dtype=np.float64)
    else:
        # fill from both ends, as PyTorch does, so that the last value is exactly ``end``
        step = (end - start) / (steps - 1) if steps > 1 else 0.0
        i = np.arange(steps, dtype=np.float64)
        half = steps // 2
        a = np.where(i < half, start + step * i, end - step * (steps - 1 - i))
    if nd.kind in 'iu':
        a = np.trunc(a)
    return _out(out, _finish(a.astype(nd), None, device, requires_grad))


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    exps = linspace(start, end, steps, dtype=_dtype.float64)._data
    nd = _dtype.to_np(dtype) if dtype is not None else _dtype.default_float_np()
    return _out(out, _finish((base ** exps).astype(nd), None, device, requires_grad))


def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False,
        pin_memory=False):
    """A 2-D tensor with ones on the diagonal."""
    nd = _dtype.to_np(dtype) if dtype is not None else _dtype.default_float_np()
    xp = xp_for(device)
    return _out(out, _finish(xp.eye(n, n if m is None else m, dtype=nd), None, None,
                             requires_grad))


class _LegacyMeta(type):
    """``isinstance(t, ember.FloatTensor)`` checks the dtype, as in PyTorch."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj._data.dtype == cls._legacy_dtype.np and \
            obj._data.__class__ is np.ndarray


def _legacy(name, d):
    def __new__(cls, *args, device=None):
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            data = args[0]
            if isinstance(data, Tensor):
                return data.to(d)
            return tensor(data, dtype=d, device=device)
        return empty(*args, dtype=d, device=device) if args else empty(0, dtype=d, device=device)
    return _LegacyMeta(name, (), {'__new__': __new__, '_legacy_dtype': d,
                                  '__doc__': f'Legacy constructor of {d} tensors.'})


FloatTensor = _legacy('FloatTensor', _dtype.float32)
DoubleTensor = _legacy('DoubleTensor', _dtype.float64)
HalfTensor = _legacy('HalfTensor', _dtype.float16)
LongTensor = _legacy('LongTensor', _dtype.int64)
IntTensor = _legacy('IntTensor', _dtype.int32)
ShortTensor = _legacy('ShortTensor', _dtype.int16)
CharTensor = _legacy('CharTensor', _dtype.int8)
ByteTensor = _legacy('ByteTensor', _dtype.uint8)
BoolTensor = _legacy('BoolTensor', _dtype.bool)
