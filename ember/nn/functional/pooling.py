"""Pooling functions: max, average, power-average (LP), adaptive max/average and fractional
max pooling, and max unpooling, in 1, 2 and 3 dims (math in ember.ops.pooling).

Inputs are (C, *S) or (N, C, *S) with S the 1, 2 or 3 pooled dims. Arguments are checked
here in PyTorch's order with its exception types and messages. The output size along a
dim is floor((i + 2p - d(k-1) - 1) / s) + 1 (``ceil`` in ceil mode, where the last window
must start inside the input or its left padding).
"""
import math
from functools import lru_cache

import numpy as np

from ..._random import rand
from ..._tensor import Tensor, _NP_NAMES, _dim
from ...ops import pooling as P

__all__ = ['max_pool1d', 'max_pool2d', 'max_pool3d', 'max_pool1d_with_indices',
           'max_pool2d_with_indices', 'max_pool3d_with_indices', 'avg_pool1d', 'avg_pool2d',
           'avg_pool3d', 'lp_pool1d', 'lp_pool2d', 'lp_pool3d', 'adaptive_max_pool1d',
           'adaptive_max_pool2d', 'adaptive_max_pool3d', 'adaptive_max_pool1d_with_indices',
           'adaptive_max_pool2d_with_indices', 'adaptive_max_pool3d_with_indices',
           'adaptive_avg_pool1d', 'adaptive_avg_pool2d', 'adaptive_avg_pool3d',
           'fractional_max_pool2d', 'fractional_max_pool3d',
           'fractional_max_pool2d_with_indices', 'fractional_max_pool3d_with_indices',
           'max_unpool1d', 'max_unpool2d', 'max_unpool3d']

_WORDS = {1: 'one', 2: 'two', 3: 'three'}
_POSITIONS = {'kernel_size': 2, 'stride': 3, 'padding': 4, 'dilation': 5, 'output_size': 2}


# ==== argument parsing ===========================================================================
def _is_int(v):
    """An integer argument: a Python or NumPy int, or an integer 0-d tensor (not a bool)."""
    if isinstance(v, (int, np.integer)):
        return not isinstance(v, bool)
    return isinstance(v, Tensor) and v.dim() == 0 and v._data.dtype.kind in 'iu'


def _element_error(fn, arg, j, v, position=None):
    """PyTorch's TypeError for the non-int element ``v`` at index ``j`` of a size argument."""
    if j == 0:
        position = position or _POSITIONS[arg]
        return TypeError(f"{fn}(): argument '{arg}' (position {position}) must be tuple "
                         f"of ints, but found element of type {type(v).__name__} at pos 0")
    return TypeError(f"{fn}(): argument '{arg}' failed to unpack the object at pos {j + 1} with "
                     f'error "type must be tuple of ints,but got {type(v).__name__}"')


def _check_input(input, fn):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")


def _length_error(fn, arg, nd, n):
    """PyTorch's message for a size argument with the wrong number of entries."""
    if fn == 'max_pool1d':
        what = {'kernel_size': 'an int, list of ints or tuple of ints',
                'stride': 'None, an int, list of ints, or tuple of ints',
                'padding': 'an int, list of ints, or tuple of ints',
                'dilation': 'an int, list of ints or tuple of ints'}[arg]
        return f'max_pool1d() {arg} must be {what} of size 1 but got size {n}'
    if fn.endswith('1d'):
        return f"{fn}() argument '{arg}' should contain one int (got {n})"
    if fn == 'avg_pool3d':
        what = {'kernel_size': 'be a single int', 'stride': 'be omitted, a single int',
                'padding': 'be a single int'}[arg]
        return f'{fn}: {arg} must {what}, or a tuple of three ints'
    what = {'kernel_size': 'either be a single int', 'stride': 'either be omitted, a single int',
            'padding': 'either be a single int', 'dilation': 'be either a single int'}[arg]
    return f'{fn}: {arg} must {what}, or a tuple of {_WORDS[nd]} ints'


def _ints(value, nd, fn, arg):
    """An int, or a list/tuple of 1 or ``nd`` ints, as an ``nd``-tuple."""
    if _is_int(value):
        return (int(value),) * nd
    if isinstance(value, (tuple, list)):
        for j, v in enumerate(value):
            if not _is_int(v):
                raise _element_error(fn, arg, j, v)
        if len(value) == 1:
            return (int(value[0]),) * nd
        if len(value) != nd:
            raise RuntimeError(_length_error(fn, arg, nd, len(value)))
        return tuple(int(v) for v in value)
    raise TypeError(f"{fn}(): argument '{arg}' (position {_POSITIONS[arg]}) must be tuple of "
                    f"ints, not {type(value).__name__}")


def _window_args(fn, nd, kernel_size, stride, padding, dilation=1):
    """(kernel, stride, padding, dilation) as nd-tuples; a missing stride is the kernel."""
    k = _ints(kernel_size, nd, fn, 'kernel_size')
    s = k if stride is None or (isinstance(stride, (tuple, list)) and not len(stride)) \
        else _ints(stride, nd, fn, 'stride')
    return k, s, _ints(padding, nd, fn, 'padding'), _ints(dilation, nd, fn, 'dilation')


def _check_dtype(input, name, ints=False, half=True):
    """NotImplementedError for dtypes PyTorch's kernel ``name`` does not take."""
    dt = input._data.dtype
    if dt.kind == 'f' and (half or dt.itemsize > 2):
        return
    if ints is True and dt.kind in 'iu' or ints == 'long' and dt == np.int64:
        return
    raise NotImplementedError(f'"{name}" not implemented for \'{_NP_NAMES[dt.name]}\'')


def _labels(nd, stem):
    """'kH: 3 kW: 3'-style labels: stem + T/H/W for the dims."""
    return [stem + c for c in 'THW'[3 - nd:]]


def _join(labels, values):
    return ' '.join(f'{a}: {v}' for a, v in zip(labels, values))


def _check_2d_style(fn, shape, nd, k, s, p, d, ceil_mode, avg):
    """PyTorch's checks of the 2-d and 3-d pooling kernels (1-d pooling reaches them as 2-d
    with a height of 1); returns the output sizes."""
    for kk, ss, pp, dd in zip(k, s, p, d):
        if ss == 0:
            raise RuntimeError('stride should not be zero')
        if pp < 0:
            raise RuntimeError(f'pad must be non-negative, but got pad: {pp}')
        if pp > int(((kk - 1) * dd + 1) / 2):
            raise RuntimeError('pad should be at most half of effective kernel size, but got '
                               f'pad={pp}, kernel_size={kk} and dilation={dd}')
    if any(v <= 0 for v in k):
        raise RuntimeError('kernel size should be greater than zero, but got '
                           + _join(_labels(nd, 'k'), k))
    if any(v <= 0 for v in s):
        raise RuntimeError('stride should be greater than zero, but got '
                           + _join(_labels(nd, 'd'), s))
    if any(v <= 0 for v in d):
        raise RuntimeError('dilation should be greater than zero, but got '
                           + _join(_labels(nd, 'dilation'), d))
    if any(pp > kk // 2 for pp, kk in zip(p, k)):
        if nd == 2:
            raise RuntimeError('pad should be smaller than or equal to half of kernel size, but '
                               f'got padW = {p[1]}, padH = {p[0]}, kW = {k[1]}, kH = {k[0]}')
        raise RuntimeError('pad should be smaller than or equal to half of kernel size, but got '
                           f'kT: {k[0]} kW: {k[2]} kH: {k[1]} padT: {p[0]} padW: {p[2]} '
                           f'padH: {p[1]}')
    sizes = shape[len(shape) - nd:]
    if fn == 'avg_pool3d' and any(i < kk for i, kk in zip(sizes, k)):
        raise RuntimeError(f'input image ({_join("THW", sizes)}) smaller than kernel size '
                           f'({_join(_labels(3, "k"), k)})')
    out = tuple(P.pool_out_size(*a, ceil_mode) for a in zip(sizes, k, s, p, d))
    if any(o < 1 for o in out):
        c = shape[len(shape) - nd - 1]
        raise RuntimeError(f'Given input size: ({"x".join(map(str, (c,) + sizes))}). Calculated '
                           f'output size: ({"x".join(map(str, (c,) + out))}). Output size is '
                           'too small')
    return out


def _check_dims_2d_style(fn, shape, nd):
    """PyTorch's input-rank checks of the 2-d/3-d pooling kernels (``shape`` already has the
    height of 1 of 1-d pooling)."""
    ndim = len(shape)
    batch = ndim == nd + 2
    empty = ndim in (nd + 1, nd + 2) and not all(shape[1:] if batch else shape)
    if nd == 2:
        if ndim not in (3, 4) and fn == 'max_pool2d':
            raise RuntimeError('non-empty 3D or 4D (batch mode) tensor expected for input')
        if ndim not in (3, 4) or empty:
            raise RuntimeError('Expected 3D or 4D (batch mode) tensor with optional 0 dim batch '
                               f'size for input, but got:{list(shape)}')
        return
    if ndim not in (4, 5):
        raise RuntimeError('non-empty 4D or 5D (batch mode) tensor expected for input')
    if empty:
        where = 'max_pool3d_with_indices_out_cpu_template' if fn == 'max_pool3d' else fn
        first = next(j for j, v in enumerate(shape[ndim - 4:]) if not v)
        raise RuntimeError(f"{where}(): Expected input's non-batch dimensions to have positive "
                           f"length, but input has a shape of {list(shape)} and non-batch "
                           f'dimension {first} has length zero!')


def _max_pool_1d_checks(shape, k, s, p, d, ceil_mode):
    """PyTorch's checks of its 1-d max pooling kernel (no indices, no gradient)."""
    (k,), (s,), (p,), (d,) = k, s, p, d
    if k <= 0:
        raise RuntimeError(f'max_pool1d() kernel_size must be greater than zero, but got {k}')
    if s <= 0:
        raise RuntimeError(f'max_pool1d() stride must be greater than zero, but got {s}')
    if p < 0:
        raise RuntimeError(f'max_pool1d() padding must be non-negative, but got {p}')
    if p > k // 2:
        raise RuntimeError('max_pool1d() padding should be at most half of kernel size, but got '
                           f'padding={p} and kernel_size={k}')
    if d <= 0:
        raise RuntimeError(f'max_pool1d() dilation must be greater than zero, but got {d}')
    o = P.pool_out_size(shape[-1], k, s, p, d, ceil_mode)
    if o < 1:
        raise RuntimeError(f'max_pool1d() Invalid computed output size: {o}')
    return (o,)


def _as_2d(shape, args):
    """A 1-d geometry seen by PyTorch's 2-d kernels: a height of 1, kernel and stride 1."""
    (k, s, p, d) = args
    return shape[:-1] + (1, shape[-1]), ((1,) + k, (1,) + s, (0,) + p, (1,) + d)


def _plan(shape, nd, args, out):
    k, s, p, d = args
    return P.window_plan(shape[len(shape) - nd:], out, k, s, p, d)


def _plain(v):
    """None, an int or a tuple of ints (exactly: no bools, floats or lists), so that equal
    values are interchangeable as cache keys."""
    return v is None or v.__class__ is int or (
        v.__class__ is tuple and all(e.__class__ is int for e in v))


def _cached(fn, n_plain, *args):
    """``fn(*args)`` through its lru_cache when the ``n_plain`` window arguments after the
    first two are plain, else directly (so that their type errors are raised every time)."""
    for a in args[2:2 + n_plain]:
        if not _plain(a):
            return fn.__wrapped__(*args)
    return fn(*args)


# ==== max pooling ================================================================================
@lru_cache(maxsize=1024)
def _max_plan(nd, shape, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    """The checked window plan of max pooling an input of ``shape``."""
    fn = f'max_pool{nd}d'
    args = _window_args(fn, nd, kernel_size, stride, padding, dilation)
    if nd == 1:
        if len(shape) not in (2, 3) or not all(shape[1:] if len(shape) == 3 else shape):
            raise RuntimeError('max_pool1d: Expected 2D or 3D (batch mode) tensor with optional '
                               f'0 dim batch size for input, but got:{list(shape)}')
        if return_indices:      # PyTorch's 2-d kernel on a height of 1, and its checks
            shape2, args2 = _as_2d(shape, args)
            out = _check_2d_style('max_pool2d', shape2, 2, *args2, ceil_mode, False)[1:]
        else:
            out = _max_pool_1d_checks(shape, *args, ceil_mode)
    else:
        _check_dims_2d_style(fn, shape, nd)
        out = _check_2d_style(fn, shape, nd, *args, ceil_mode, False)
    return _plan(shape, nd, args, out)


def _max_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    if not isinstance(input, Tensor):
        _check_input(input, f'max_pool{nd}d')
    plan = _cached(_max_plan, 4, nd, input._data.shape, kernel_size, stride, padding, dilation,
                   bool(ceil_mode), bool(return_indices))
    if input._data.dtype.kind != 'f':
        if nd > 1 or return_indices:
            _check_dtype(input, 'max_pool2d' if nd == 1 else f'max_pool{nd}d', ints=True)
        else:
            _check_dtype(input, 'max_pool1d_impl')
    return P.MAX_POOL[nd].apply(input, plan, bool(return_indices))


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling over the last dim of (C, L) or (N, C, L) inputs; with ``return_indices``
    also the position of each maximum within its row."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling over the last 2 dims of (C, H, W) or (N, C, H, W) inputs; with
    ``return_indices`` also the flat position (h * W + w) of each maximum in its plane."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling over the last 3 dims of (C, D, H, W) or (N, C, D, H, W) inputs."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """``max_pool1d`` returning (output, indices)."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """``max_pool2d`` returning (output, indices)."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """``max_pool3d`` returning (output, indices)."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ==== average pooling ============================================================================
@lru_cache(maxsize=1024)
def _avg_plan(nd, shape, kernel_size, stride, padding, ceil_mode):
    """The checked window plan of average pooling (and of LP pooling, which PyTorch runs as
    an average pooling) an input of ``shape``."""
    fn = f'avg_pool{nd}d'
    args = _window_args(fn, nd, kernel_size, stride, padding)
    if nd == 1:
        if len(shape) not in (2, 3):
            raise RuntimeError(f'Expected 2 to 3 dimensions, but got {len(shape)}-dimensional '
                               "tensor for argument #1 'self' (while checking arguments for "
                               'avg_pool1d)')
        shape2, args2 = _as_2d(shape, args)
        _check_dims_2d_style('avg_pool2d', shape2, 2)
        out = _check_2d_style('avg_pool2d', shape2, 2, *args2, ceil_mode, True)[1:]
    else:
        _check_dims_2d_style(fn, shape, nd)
        out = _check_2d_style(fn, shape, nd, *args, ceil_mode, True)
    return _plan(shape, nd, args, out)


def _avg_geometry(nd, input, kernel_size, stride, padding, ceil_mode):
    if not isinstance(input, Tensor):
        _check_input(input, f'avg_pool{nd}d')
    return _cached(_avg_plan, 3, nd, input._data.shape, kernel_size, stride, padding,
                   bool(ceil_mode))


def _avg_pool(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    plan = _avg_geometry(nd, input, kernel_size, stride, padding, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError('divisor must be not zero')
    if input._data.dtype.kind != 'f' or nd == 3:
        _check_dtype(input, 'avg_pool3d_out_frame' if nd == 3 else 'avg_pool2d', ints='long',
                     half=nd != 3)
    divisor = _cached(P.avg_divisor, 1, plan, bool(count_include_pad), divisor_override)
    return P.AVG_POOL[nd].apply(input, plan, divisor)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Average pooling over the last dim of (C, L) or (N, C, L) inputs; padded positions
    count in the divisor when ``count_include_pad``."""
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Average pooling over the last 2 dims of (C, H, W) or (N, C, H, W) inputs;
    ``divisor_override`` replaces every window's divisor."""
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Average pooling over the last 3 dims of (C, D, H, W) or (N, C, D, H, W) inputs."""
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ==== power-average pooling ======================================================================
def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    """(sum of x**p over each window) ** (1/p); p = inf is max pooling of |x|."""
    if norm_type == math.inf:
        return _max_pool(nd, input.abs(), kernel_size, stride, 0, 1, ceil_mode, False)
    inv = 1.0 / norm_type
    plan = _avg_geometry(nd, input, kernel_size, stride, 0, ceil_mode)
    name = 'avg_pool3d_out_frame' if nd == 3 else 'avg_pool2d'
    if input._data.dtype.kind != 'f':     # PyTorch's integer arithmetic, then a float power
        powered = input.pow(norm_type)
        _check_dtype(powered, name, ints='long', half=nd != 3)
        avg = P.AVG_POOL[nd].apply(powered, plan, P.avg_divisor(plan, True, None))
        return (avg * plan.n_codes).pow(inv)
    _check_dtype(input, name, half=nd != 3)
    return P.LPPool.apply(input, plan, norm_type, P.avg_divisor(plan, True, None))


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over the last dim: (sum over each window of x**p) ** (1/p)."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over the last 2 dims: (sum over each window of x**p) ** (1/p)."""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over the last 3 dims: (sum over each window of x**p) ** (1/p)."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


# ==== adaptive pooling ===========================================================================
def _adaptive_sizes(fn, nd, input, output_size, avg):
    """Checked output sizes of adaptive pooling; None entries keep the input's size."""
    _check_input(input, fn)
    shape = tuple(input.shape)
    if nd == 1:
        if input.dim() not in (2, 3):
            raise RuntimeError(f'Expected 2 to 3 dimensions, but got {input.dim()}-dimensional '
                               f"tensor for argument #1 'self' (while checking arguments for "
                               f'{fn})')
        if not _is_int(output_size):
            if not isinstance(output_size, (tuple, list)):
                raise TypeError(f"{fn}(): argument 'output_size' (position 2) must be tuple of "
                                f'ints, not {type(output_size).__name__}')
            for j, v in enumerate(output_size):
                if not _is_int(v):
                    raise _element_error(fn, 'output_size', j, v)
            if len(output_size) != 1:
                raise RuntimeError(f"{fn}() argument 'output_size' should contain one int (got "
                                   f'{len(output_size)})')
        sizes = (int(output_size if _is_int(output_size) else output_size[0]),)
    else:
        if _is_int(output_size):
            sizes = (int(output_size),) * nd
        else:
            n = len(output_size)
            sizes = tuple(shape[len(shape) - n + j] if v is None else v
                          for j, v in enumerate(output_size))
            for j, v in enumerate(sizes):
                if not _is_int(v):
                    raise _element_error(fn, 'output_size', j, v)
            sizes = tuple(int(v) for v in sizes)
            if n != nd:
                raise RuntimeError(f'{fn}: output_size must be {nd}' if avg else
                                   f'{fn}(): internal error: output_size.size() must be {nd}')
        if input.dim() not in (nd + 1, nd + 2):
            kind = f'{nd + 1}D or {nd + 2}D'
            raise RuntimeError(f'{fn}(): Expected {kind} tensor, but got {list(shape)}' if avg
                               else f'{fn}(): Expected {kind} tensor, but got: {list(shape)}')
    if any(v < 0 for v in sizes):
        if avg:
            shown = ', '.join(map(str, sizes)) if nd < 3 else f'{sizes[0]}, {sizes[1]},{sizes[2]}'
            name = 'adaptive_avg_pool2d' if nd == 1 else fn
            if nd == 1:
                shown = f'1, {sizes[0]}'
            raise RuntimeError(f'{name}: elements of output_size must be greater than or equal '
                               f'to 0 but received {{{shown}}}')
        bad = list(shape[:len(shape) - nd]) + ([1] if nd == 1 else []) + list(sizes)
        raise RuntimeError(f'Trying to create tensor with negative dimension {min(sizes)}: '
                           f'{bad}')
    first = len(shape) - nd if avg else 1 if input.dim() == nd + 2 else 0
    for j in range(first, len(shape)):
        if shape[j] == 0:
            raise RuntimeError(f'{fn}(): Expected input to have non-zero size for non-batch '
                               f'dimensions, but input has sizes {list(shape)} with dimension '
                               f'{j} being empty')
    return sizes


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of the last dim into ``output_size`` windows
    [floor(j*L/out), ceil((j+1)*L/out))."""
    sizes = _adaptive_sizes('adaptive_avg_pool1d', 1, input, output_size, True)
    _check_dtype(input, 'adaptive_avg_pool2d')
    return P.adaptive_avg_pool(input, sizes)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling of the last 2 dims into ``output_size`` windows per dim (an int, or a
    pair whose None entries keep the input's size)."""
    sizes = _adaptive_sizes('adaptive_avg_pool2d', 2, input, output_size, True)
    _check_dtype(input, 'adaptive_avg_pool2d')
    return P.adaptive_avg_pool(input, sizes)


def adaptive_avg_pool3d(input, output_size):
    """Average pooling of the last 3 dims into ``output_size`` windows per dim."""
    sizes = _adaptive_sizes('adaptive_avg_pool3d', 3, input, output_size, True)
    _check_dtype(input, 'adaptive_avg_pool3d_cpu')
    return P.adaptive_avg_pool(input, sizes)


def _adaptive_max(nd, input, output_size, return_indices):
    sizes = _adaptive_sizes(f'adaptive_max_pool{nd}d', nd, input, output_size, False)
    _check_dtype(input, 'adaptive_max_pool3d_cpu' if nd == 3 else 'adaptive_max_pool2d')
    return P.adaptive_max_pool(input, sizes, bool(return_indices))


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling of the last dim into ``output_size`` adaptive windows; with
    ``return_indices`` also the position of each maximum."""
    return _adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling of the last 2 dims into ``output_size`` adaptive windows per dim."""
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max pooling of the last 3 dims into ``output_size`` adaptive windows per dim."""
    return _adaptive_max(3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool1d`` returning (output, indices)."""
    return _adaptive_max(1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool2d`` returning (output, indices)."""
    return _adaptive_max(2, input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool3d`` returning (output, indices)."""
    return _adaptive_max(3, input, output_size, True)


# ==== fractional max pooling =====================================================================
def _fractional_ints(value, nd, message):
    if _is_int(value):
        return (int(value),) * nd
    if isinstance(value, (tuple, list)) and len(value) in (1, nd) and all(map(_is_int, value)):
        return tuple(int(v) for v in value) * (nd if len(value) == 1 else 1)
    raise RuntimeError(message)


def _fractional(nd, input, kernel_size, output_size, output_ratio, return_indices,
                _random_samples):
    fn = f'fractional_max_pool{nd}d'
    where = fn if nd == 2 else 'fractional_max_pool3d_out'
    _check_input(input, fn)
    if output_size is None and output_ratio is None:
        raise ValueError(f'{fn} requires specifying either an output_size or an output_ratio')
    shape = tuple(input.shape)
    if output_size is None:
        if nd == 2:
            len(output_ratio)           # PyTorch's 2-d function: TypeError for a bare number
        ratio = tuple(output_ratio) if isinstance(output_ratio, (tuple, list)) \
            else (output_ratio,) * nd
        output_size = [int(shape[len(shape) - nd + j] * ratio[j]) for j in range(nd)]
    three = 'three ' if nd == 3 else ''
    kernel = _fractional_ints(kernel_size, nd, f'{fn}: kernel_size must either be a single Int '
                                               f'or tuple of {three}Ints')
    sizes = _fractional_ints(output_size, nd, f'{fn}: output_size must either be a single Int '
                                              f'or tuple of {three}Ints')
    channels = shape[_dim(-nd - 1, len(shape))]
    batch = shape[0] if len(shape) == nd + 2 else 1
    samples = _random_samples
    if samples is None:
        samples = rand(batch, channels, nd, dtype=input.dtype, device=input.device)
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f'{where}(): Expected {nd + 1}D or {nd + 2}D tensor, but got: '
                           f'{list(shape)}')
    first = 1 if input.dim() == nd + 2 else 0
    for j in range(first, len(shape)):
        if shape[j] == 0:
            raise RuntimeError(f'{where}(): Expected input to have non-zero size for non-batch '
                               f'dimensions, but got{list(shape)} with dimension {j} being empty.')
    _check_samples(samples, batch, channels, nd, input)
    for name, i, k, o in zip(('time', 'height', 'width')[3 - nd:], shape[len(shape) - nd:],
                             kernel, sizes):
        if o + k - 1 > i or nd == 3 and o + k - 1 == i:     # PyTorch's 3-d rule is strict
            raise RuntimeError(f'{where}(): pool {name} {k} too large relative to input {name} '
                               f'{i}')
    _check_dtype(input, f'{fn}_out_frame')
    return P.fractional_max_pool(input, kernel, sizes, samples, bool(return_indices))


def _check_samples(samples, batch, channels, nd, input):
    """PyTorch's checks of explicit ``_random_samples`` (N, C, nd)."""
    if samples.dim() != 3:
        raise RuntimeError(f'Expect _random_samples to have 3 dimensions, got {samples.dim()}')
    if samples.shape[0] < batch:
        raise RuntimeError('Expect _random_samples.size(0) no less then input batch size.')
    if samples.shape[1] != channels:
        raise RuntimeError('Expect _random_samples.size(1) equals to input channel size.')
    if samples.shape[2] != nd:
        raise RuntimeError(f'Expect _random_samples.size(2) equals to {nd}; got '
                           f'{samples.shape[2]}.')
    if samples.dtype != input.dtype:
        raise RuntimeError('Expect _random_samples to have the same dtype as input')


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Fractional max pooling over the last 2 dims: ``kernel_size`` windows at pseudo-random
    steps giving ``output_size`` (or ``output_ratio`` times the input size) outputs.
    ``_random_samples`` (N, C, 2) fixes the steps; otherwise they are drawn from ember's
    generator."""
    return _fractional(2, input, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Fractional max pooling over the last 3 dims (``_random_samples`` is (N, C, 3))."""
    return _fractional(3, input, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """``fractional_max_pool2d`` returning (output, indices)."""
    return _fractional(2, input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """``fractional_max_pool3d`` returning (output, indices)."""
    return _fractional(3, input, kernel_size, output_size, output_ratio, True, _random_samples)


# ==== max unpooling ==============================================================================
def _unpool_sizes(shape, nd, kernel, stride, padding, output_size):
    """The unpooled spatial sizes: (i - 1) * s - 2p + k by default, else ``output_size``
    (nd sizes, or nd + 2 with batch and channels), each within a stride of the default."""
    default = tuple((i - 1) * s - 2 * p + k
                    for i, k, s, p in zip(shape[len(shape) - nd:], kernel, stride, padding))
    if output_size is None:
        return default
    n = len(output_size)
    if n not in (nd, nd + 2):
        raise ValueError(f'output_size should be a sequence containing {nd} or {nd + 2} '
                         f"elements, but it has a length of '{n}'")
    sizes = tuple(int(v) for v in list(output_size)[n - nd:])
    for j, (o, dft, s) in enumerate(zip(sizes, default, stride)):
        if not dft - s < o < dft + s:
            raise ValueError(f'invalid output_size "{output_size}" (dim {j} must be between '
                             f'{dft - s} and {dft + s})')
    return sizes


def _check_unpool_floats(input, nd, kernel_size, stride, padding, output_size):
    """PyTorch computes the default output size in Python, so float window arguments give a
    TypeError about its non-integer ``output_size`` (passed to the 2-d kernel for 1-d)."""
    if output_size is not None:
        return
    args = [kernel_size, kernel_size if stride is None else stride, padding]
    seqs = [tuple(a) if isinstance(a, (tuple, list)) else (a,) * nd for a in args]
    if any(len(q) != nd or not all(isinstance(v, (int, float)) for v in q) for q in seqs) or \
            all(_is_int(v) for q in seqs for v in q):
        return
    sizes = [(i - 1) * s - 2 * p + k for i, k, s, p in
             zip(input.shape[input.dim() - nd:], *seqs)] + ([1] if nd == 1 else [])
    j = next(j for j, v in enumerate(sizes) if not _is_int(v))
    raise _element_error(f'max_unpool{max(nd, 2)}d', 'output_size', j, sizes[j], 3)


def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size):
    fn = f'max_unpool{nd}d'
    _check_input(input, fn)
    _check_unpool_floats(input, nd, kernel_size, stride, padding, output_size)
    kernel = _ints(kernel_size, nd, fn, 'kernel_size')
    stride = kernel if stride is None else _ints(stride, nd, fn, 'stride')
    padding = _ints(padding, nd, fn, 'padding')
    sizes = _unpool_sizes(tuple(input.shape), nd, kernel, stride, padding, output_size)
    shape = tuple(input.shape) + ((1,) if nd == 1 else ())    # PyTorch's 1-d is 2-d (W = 1)
    knd = max(nd, 2)
    name = f'max_unpooling{knd}d'
    if len(shape) not in (knd + 1, knd + 2):
        raise RuntimeError(f'Input to {name} should be a {knd + 1}d or {knd + 2}d Tensor, but '
                           f'got a tensor with {len(shape)} dimensions.')
    if indices._data.dtype != np.int64:
        raise RuntimeError('elements in indices should be type int64' + (
            '' if nd == 3 else f' but got: {_NP_NAMES[indices._data.dtype.name]}'))
    ishape = tuple(indices.shape) + ((1,) if nd == 1 else ())
    if ishape != shape:
        raise RuntimeError('Expected shape of indices to be same as that of the input tensor '
                           f'({list(shape)}) but got indices tensor with shape: {list(ishape)}')
    first = 1 if len(shape) == knd + 2 else 0
    for j in range(first, len(shape)):
        if shape[j] == 0:
            raise RuntimeError(f'{name}_forward_out_cpu(): Expected input to have non-zero size '
                               f'for non-batch dimensions, but got {list(shape)} with dimension '
                               f'{j} being empty.')
    _check_dtype(input, f'max_unpool{knd}d')
    return P.MAX_UNPOOL[nd].apply(input, indices, sizes)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of ``max_pool1d``: each value placed at its index in a zero output of length
    (L - 1) * stride - 2 * padding + kernel_size (or ``output_size``)."""
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of ``max_pool2d``: each value placed at its flat index in a zero output plane."""
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of ``max_pool3d``: each value placed at its flat index in a zero output
    volume."""
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)
