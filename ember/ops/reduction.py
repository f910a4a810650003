"""Reductions, scans, sorting and counting.

Sections, in order:
  helpers            dims parsing, gradient expansion and scatter, BLAS-backed sums
  sums and means     sum, nansum, mean, nanmean, prod
  extremes           max, min, amax, amin, argmax, argmin, aminmax
  moments            var, std, var_mean, std_mean
  norms              norm
  exp-normalisers    logsumexp, softmax, log_softmax
  logic and counts   all, any, count_nonzero
  scans              cumsum, cumprod, cummax, cummin, logcumsumexp
  order statistics   sort, argsort, msort, topk, kthvalue, median, nanmedian, mode
  sets and bins      unique, unique_consecutive, bincount, histc, searchsorted, bucketize
  differences        diff, trapezoid, trapz

Reductions take ``dim`` as an int, a tuple/list of ints or None (every dim), as PyTorch.
Ops keep the reduced axes as a sorted tuple of non-negative ints (``axes``); their backward
broadcasts the gradient back over them. Ops returning values and indices (max along a dim,
sort, topk, ...) send the gradient of the values back to the positions the indices name.

Speed: NumPy's float32 ``sum`` is a pairwise loop several times slower than PyTorch on large
arrays, so ``_sum`` reduces large contiguous float arrays with BLAS matrix-vector products
against a vector of ones (runs longer than ``_CHUNK`` are split, which keeps the rounding
error at PyTorch's level). Softmax and log-softmax are one op each, computed in place.
"""
import builtins
import math
import operator
import warnings

import numpy as np

from .. import _dtype
from .. import return_types
from .._backend import xp_of
from .._tensor import Tensor, _wrap, _dim, _NP_NAMES
from ..autograd.function import Op
from ..autograd.inplace import apply_inplace
from .._parallel import parallel_ok, map_rows
from .elementwise import maximum, minimum, _store_out
from ._registry import tensor_method

__all__ = ['sum', 'nansum', 'mean', 'nanmean', 'prod', 'max', 'min', 'amax', 'amin', 'argmax',
           'argmin', 'aminmax', 'var', 'std', 'var_mean', 'std_mean', 'norm', 'logsumexp',
           'softmax', 'log_softmax', 'all', 'any', 'count_nonzero', 'cumsum', 'cumprod',
           'cummax', 'cummin', 'logcumsumexp', 'sort', 'argsort', 'msort', 'topk', 'kthvalue',
           'median', 'nanmedian', 'mode', 'unique', 'unique_consecutive', 'bincount', 'histc',
           'searchsorted', 'bucketize', 'diff', 'trapezoid', 'trapz']

_ndarray = np.ndarray
_INT64 = np.dtype(np.int64)
_inf = math.inf


# ==== helpers ==================================================================================
def _arr(x):
    """NumPy scalars (what NumPy reductions give for full reductions) become 0-d arrays."""
    return np.asarray(x) if isinstance(x, np.generic) else x


def _type_name(a):
    """PyTorch's scalar type name of an array ('Float', 'Long', ...)."""
    return _NP_NAMES[a.dtype.name]


def _index(d, fn):
    """An int dim (Python int, NumPy int, or one-element integer Tensor)."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer, Tensor)):
        raise TypeError(f"{fn}(): argument 'dim' must be int, not {type(d).__name__}")
    return operator.index(d)


def _axes(dim, ndim, fn):
    """Axes reduced by ``dim`` (None, int, or sequence of ints): a sorted tuple of
    non-negative ints; None or an empty sequence means every axis."""
    if dim is None:
        return tuple(range(ndim))
    if dim.__class__ is int:
        d = _dim(dim, ndim)
        return (d,) if ndim else ()
    if isinstance(dim, (tuple, list)):
        seen = []
        for d in dim:
            if isinstance(d, bool) or not isinstance(d, (int, np.integer, Tensor)):
                raise TypeError(f"{fn}(): argument 'dim' must be tuple of ints, but found "
                                f"element of type {type(d).__name__}")
            a = _dim(operator.index(d), ndim)
            if a in seen:
                raise RuntimeError(f'dim {a} appears multiple times in the list of dims')
            seen.append(a)
        if not seen or not ndim:
            return tuple(range(ndim))
        return tuple(sorted(seen))
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer, Tensor)):
        raise TypeError(f"{fn}(): argument 'dim' must be tuple of ints, not "
                        f"{type(dim).__name__}")
    d = _dim(operator.index(dim), ndim)
    return (d,) if ndim else ()


def _axis(dim, ndim, fn):
    """One non-negative axis from an int dim (0 for 0-d tensors)."""
    return _dim(dim if dim.__class__ is int else _index(dim, fn), ndim)


def _kept_shape(shape, axes):
    """``shape`` with the reduced ``axes`` set to 1 (the keepdim shape)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _drop(r, shape, axes, keepdim):
    """A keepdim-shaped result ``r`` reshaped to drop ``axes`` unless ``keepdim``."""
    if keepdim:
        return r
    return r.reshape(tuple(n for i, n in enumerate(shape) if i not in axes))


def _expand(g, shape, axes, keepdim):
    """Gradient of a reduction over ``axes``: ``g`` broadcast back to ``shape`` (a view)."""
    if not keepdim:
        g = g.reshape(_kept_shape(shape, axes))
    return xp_of(g).broadcast_to(g, shape)


def _count(shape, axes):
    if len(axes) == len(shape):
        return math.prod(shape)
    return math.prod([shape[i] for i in axes])


def _flip(x, axis):
    """``x`` reversed along ``axis`` (a view)."""
    return x[(slice(None),) * axis + (slice(None, None, -1),)]


def _along(axis, sl):
    """Index tuple selecting ``sl`` along ``axis``."""
    return (slice(None),) * axis + (sl,)


def _positions(n, axis, ndim):
    """arange(n) shaped to broadcast along ``axis`` of an ``ndim``-d array."""
    return np.arange(n).reshape((n,) + (1,) * (ndim - axis - 1))


def _scatter(g, idx, axis, shape):
    """zeros(shape) with ``g`` put at ``idx`` along ``axis`` (idx distinct along the axis)."""
    xp = xp_of(g)
    out = xp.zeros(shape, g.dtype)
    xp.put_along_axis(out, idx, g, axis)
    return out


def _scatter_add(g, idx, axis, shape):
    """zeros(shape) with ``g`` added at ``idx`` along ``axis`` (repeated indices add up)."""
    xp = xp_of(g)
    n = shape[axis]
    if g.size == 0:
        return xp.zeros(shape, g.dtype)
    gm = xp.moveaxis(g, axis, -1).reshape(-1, n)
    im = xp.moveaxis(idx, axis, -1).reshape(-1, n)
    rows = gm.shape[0]
    keys = (im + xp.arange(rows).reshape(-1, 1) * n).ravel()
    summed = xp.bincount(keys, weights=gm.ravel(), minlength=rows * n).astype(g.dtype)
    moved = tuple(s for i, s in enumerate(shape) if i != axis) + (n,)
    return xp.moveaxis(summed.reshape(moved), -1, axis)


def _scan(name, a, axis):
    """Inclusive scan of ufunc ``name`` ('maximum', 'logaddexp', ...) along ``axis``."""
    xp = xp_of(a)
    f = getattr(xp, name)
    if xp is np:
        return f.accumulate(a, axis=axis)
    return _scan_steps(f, a, axis)


def _scan_steps(f, a, axis):
    """Inclusive scan by log2(n) whole-array steps (for array modules without accumulate)."""
    out = a.copy()
    n = a.shape[axis]
    s = 1
    while s < n:
        out[_along(axis, slice(s, None))] = f(out[_along(axis, slice(s, None))],
                                              out[_along(axis, slice(None, n - s))])
        s *= 2
    return out


def _rev_scan(name, a, axis):
    """Scan from the end of ``axis`` towards its start."""
    return _flip(_scan(name, _flip(a, axis), axis), axis)


# ---- sums through BLAS ------------------------------------------------------------------------
_BLAS_MIN = 1 << 13   # below this many elements NumPy's own reduction is as fast
_CHUNK = 2048         # longest row summed by one BLAS dot (longer ones lose accuracy)
_MID_CHUNK = 128      # longest column summed by one BLAS gemv (it accumulates sequentially)
_ONES = {}


def _ones(n, dt):
    key = (n, dt)
    o = _ONES.get(key)
    if o is None:
        if len(_ONES) > 64:
            _ONES.clear()
        o = _ONES[key] = np.ones(n, dt)
    return o


def _row_sums(x):
    """(P, N) -> (P,): each row summed; runs longer than _CHUNK in pieces, then pairwise."""
    p, n = x.shape
    if n <= _CHUNK:
        return x @ _ones(n, x.dtype)
    n1 = n // _CHUNK
    main = n1 * _CHUNK
    part = x[:, :main].reshape(p, n1, _CHUNK) @ _ones(_CHUNK, x.dtype)
    r = part.sum(-1)
    if main < n:
        r += x[:, main:].sum(-1)
    return r


def _middle_sums(x):
    """(P, M, Q) -> (P, Q): summed over the middle axis, in blocks of _MID_CHUNK rows."""
    p, m, q = x.shape
    if m <= _MID_CHUNK:
        if p == 1:
            return (_ones(m, x.dtype) @ x[0]).reshape(1, q)
        return _ones(m, x.dtype) @ x
    m1 = m // _MID_CHUNK
    main = m1 * _MID_CHUNK
    part = _ones(_MID_CHUNK, x.dtype) @ x[:, :main].reshape(p * m1, _MID_CHUNK, q)
    r = _middle_sums(part.reshape(p, m1, q))
    if main < m:
        r += x[:, main:].sum(1)
    return r


def _blas_sum(a, axes):
    """Sum of NumPy float array ``a`` over ``axes`` by matrix-vector products, or None when
    ``a``'s memory is not a (permuted) C-contiguous block."""
    order = range(a.ndim)
    b = a
    if not a.flags.c_contiguous:
        st = a.strides
        order = sorted(order, key=lambda i: -st[i])
        b = a.transpose(order)
        if not b.flags.c_contiguous:
            return None
    runs = []   # [size, reduced] for neighbouring axes merged; size-1 axes dropped
    for ax in order:
        n = a.shape[ax]
        if n != 1:
            red = ax in axes
            if runs and runs[-1][1] == red:
                runs[-1][0] *= n
            else:
                runs.append([n, red])
    if not builtins.any(red for _, red in runs):
        return None          # only size-1 axes reduced: NumPy copies, a reshape would alias
    x = b.reshape([n for n, _ in runs])
    while builtins.any(red for _, red in runs):
        i = builtins.max(j for j, (_, red) in enumerate(runs) if red)
        lead = math.prod(n for n, _ in runs[:i])
        if i == len(runs) - 1:
            x = _row_sums(x.reshape(lead, runs[i][0]))
            del runs[i]
        else:
            x = _middle_sums(x.reshape(lead, runs[i][0], math.prod(n for n, _ in runs[i + 1:])))
            if i:
                runs[i - 1:i + 2] = [[runs[i - 1][0] * runs[i + 1][0], False]]
            else:
                del runs[i]
    kept = [ax for ax in order if ax not in axes]
    x = x.reshape([a.shape[ax] for ax in kept])
    if kept != sorted(kept):
        x = x.transpose(np.argsort(kept))
    return x


def _sum(a, axes, keepdims=False, dtype=None):
    """Sum of array ``a`` over ``axes`` (ints and bools give int64; float16 accumulates in
    float32; large NumPy float32/float64 arrays go through BLAS)."""
    if dtype is not None and a.dtype != dtype:
        a = a.astype(dtype)
    dt = a.dtype
    if dt.kind != 'f':
        return _arr(a.sum(axis=axes, dtype=_INT64 if dtype is None else dtype,
                          keepdims=keepdims))
    if a.__class__ is _ndarray and a.size >= _BLAS_MIN and axes and dt.char in 'fd':
        r = _blas_sum(a, axes)
        if r is not None:
            return r.reshape(_kept_shape(a.shape, axes)) if keepdims else r
    if dt.itemsize == 2:
        return _arr(a.sum(axis=axes, dtype=np.float32, keepdims=keepdims).astype(dt))
    return _arr(a.sum(axis=axes, keepdims=keepdims))


def _mean(a, axes, keepdims=False):
    """Mean of float array ``a`` over ``axes`` (nan for empty reductions)."""
    if (not keepdims and len(axes) == a.ndim and a.__class__ is _ndarray and a.size
            and a.size < _BLAS_MIN and a.dtype.char in 'fd'):
        return a.sum() / a.size  # a NumPy scalar: the cheapest path for small tensors
    return _sum(a, axes, keepdims) / _count(a.shape, axes)  # 0/0 = nan for empty reductions


def _out(r, out):
    return r if out is None else _store_out(out, r)


def _out_pair(r, out):
    """Write a (values, indices) result into the ``out=`` pair and return it as ``r``'s type."""
    if out is None:
        return r
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError('out must be a tuple of two Tensors')
    return type(r)((_store_out(out[0], r[0]), _store_out(out[1], r[1])))


# ==== sums and means ===========================================================================
class Sum(Op):
    """Sum over ``axes``: (*shape) -> shape without axes (size 1 with keepdim)."""
    backward_name = 'SumBackward1'

    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        ctx.shape = a.shape
        ctx.axes = axes
        ctx.keepdim = keepdim
        return _sum(a, axes, keepdim, dtype)

    @staticmethod
    def backward(ctx, g):
        return _expand(g, ctx.shape, ctx.axes, ctx.keepdim)


class SumAll(Sum):
    backward_name = 'SumBackward0'


def _reduce(op, input, dtype, *args):
    """``op`` applied to ``input``; computed outside the graph when the result is not float."""
    if dtype is not None and dtype.kind != 'f':
        return _wrap(op.forward(_Ctx(), input._data, *args))
    return op.apply(input, *args)


class _Ctx:
    """Stands in for a graph node when an op's forward runs outside the graph."""

    def save_for_backward(self, *arrays):
        pass


@tensor_method
def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum over ``dim`` (int, tuple, or None for all); ints and bools sum to int64."""
    dt = _dtype.to_np(dtype)
    axes = _axes(dim, input._data.ndim, 'sum')
    return _out(_reduce(SumAll if dim is None else Sum, input, dt, axes, keepdim, dt), out)


class Nansum(Op):
    """Sum over ``axes`` treating NaN as zero."""

    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        if dtype is not None and a.dtype != dtype:
            a = a.astype(dtype)
        ctx.shape = a.shape
        ctx.axes = axes
        ctx.keepdim = keepdim
        if a.dtype.kind != 'f':
            return _sum(a, axes, keepdim, dtype)
        ctx.save_for_backward(a)
        nan = xp_of(a).isnan(a)
        return _sum(xp_of(a).where(nan, 0, a) if nan.any() else a, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return _expand(g, ctx.shape, ctx.axes, ctx.keepdim) * (a == a)


@tensor_method
def nansum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum treating NaN as zero."""
    dt = _dtype.to_np(dtype)
    axes = _axes(dim, input._data.ndim, 'nansum')
    return _out(_reduce(Nansum, input, dt, axes, keepdim, dt), out)


class Mean(Op):
    """Mean over ``axes``."""
    backward_name = 'MeanBackward1'

    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        if dtype is not None and a.dtype != dtype:
            a = a.astype(dtype)
        ctx.shape = a.shape
        ctx.axes = axes
        ctx.keepdim = keepdim
        return _mean(a, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        n = _count(ctx.shape, ctx.axes)
        return _expand(g / n if n else g, ctx.shape, ctx.axes, ctx.keepdim)


class MeanAll(Mean):
    backward_name = 'MeanBackward0'


def _mean_dtype(a, dtype, fn):
    dt = _dtype.to_np(dtype)
    if dt is not None:
        if dt.kind != 'f':
            raise RuntimeError(f'{fn}(): could not infer output dtype. Optional dtype must be '
                               f'either a floating point or complex dtype. Got: '
                               f'{_NP_NAMES[dt.name]}')
    elif a.dtype.kind != 'f':
        raise RuntimeError(f'{fn}(): could not infer output dtype. Input dtype must be either a '
                           f'floating point or complex dtype. Got: {_type_name(a)}')
    return dt


@tensor_method
def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Mean over ``dim``; floating inputs (or a floating ``dtype``) only."""
    a = input._data
    dt = _mean_dtype(a, dtype, 'mean')
    axes = _axes(dim, a.ndim, 'mean')
    return _out((MeanAll if dim is None else Mean).apply(input, axes, keepdim, dt), out)


class Nanmean(Op):
    """Mean of the non-NaN elements over ``axes``."""
    backward_name = 'DivBackward0'

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        xp = xp_of(a)
        valid = ~xp.isnan(a)
        n = valid.sum(axis=axes, keepdims=True).astype(a.dtype)
        ctx.save_for_backward(valid, n)
        ctx.shape = a.shape
        ctx.axes = axes
        ctx.keepdim = keepdim
        s = _sum(xp.where(valid, a, 0), axes, True)
        return _drop(s / n, a.shape, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        valid, n = ctx.saved
        if not ctx.keepdim:
            g = g.reshape(n.shape)
        return valid * (g / n)


@tensor_method
def nanmean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Mean ignoring NaN elements."""
    a = input._data
    if dtype is not None:
        input = input.to(dtype)
    elif a.dtype.kind != 'f':
        raise RuntimeError('nanmean(): expected input to have floating point or complex dtype '
                           f'but got {_type_name(a)}')
    axes = _axes(dim, a.ndim, 'nanmean')
    return _out(Nanmean.apply(input, axes, keepdim), out)


class Prod(Op):
    """Product over one axis (``axis`` None: over all elements)."""
    backward_name = 'ProdBackward1'

    @staticmethod
    def forward(ctx, a, axis, keepdim, dtype):
        if dtype is not None and a.dtype != dtype:
            a = a.astype(dtype)
        if a.dtype.kind != 'f':
            return _arr(a.prod(axis=axis, dtype=_INT64 if dtype is None else dtype,
                               keepdims=keepdim))
        out = _arr(a.prod(axis=axis, keepdims=True))
        ctx.save_for_backward(a, out)
        ctx.axis = axis
        ctx.keepdim = keepdim
        return out if keepdim else out.reshape(_shape_without(a.shape, axis))

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        g = g.reshape(out.shape)
        xp = xp_of(a)
        zero = a == 0
        if not zero.any():
            return g * out / a
        nzero = zero.sum(axis=ctx.axis, keepdims=True)
        others = xp.where(zero, 1, a).prod(axis=ctx.axis, keepdims=True)
        only_zero = zero & (nzero == 1)
        return xp.where(nzero == 0, g * out / xp.where(zero, 1, a),
                        xp.where(only_zero, g * others, 0))


class ProdAll(Prod):
    backward_name = 'ProdBackward0'


def _shape_without(shape, axis):
    if axis is None:
        return ()
    return shape[:axis] + shape[axis + 1:]


@tensor_method
def prod(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Product of all elements, or along one int ``dim``; ints and bools give int64."""
    a = input._data
    dt = _dtype.to_np(dtype)
    if dim is None:
        r = _reduce(ProdAll, input, dt, None, False, dt)
    else:
        axis = _axis(dim, a.ndim, 'prod')
        r = _reduce(Prod, input, dt, axis if a.ndim else None, keepdim and a.ndim > 0, dt)
    return _out(r, out)


# ==== extremes =================================================================================
def _even_split(g, a, out, axes, nan_ties):
    """Gradient of a max/min-like reduction: ``g`` (keepdim-shaped) shared evenly by the
    elements equal to the result; with ``nan_ties`` a NaN result is shared by the NaNs."""
    xp = xp_of(a)
    tie = a == out
    if nan_ties and a.dtype.kind == 'f':
        tie |= xp.isnan(a) & xp.isnan(out)
    count = tie.sum(axis=axes, keepdims=True).astype(g.dtype)
    return tie * (g / count)


def _empty_all(name):
    return RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                        "Specify the reduction dim with the 'dim' argument.")


def _check_reduced_nonempty(shape, axes, name, sep='():'):
    for ax in axes:
        if shape[ax] == 0:
            raise IndexError(f'{name}{sep} Expected reduction dim {ax} to have non-zero size.')


class _ExtremeAll(Op):
    """max or min of all elements; ties (and NaN results) share the gradient evenly."""
    pick = 'max'

    @staticmethod
    def forward(ctx, a):
        if a.size == 0:
            raise _empty_all(ctx.pick)
        out = _arr(getattr(a, ctx.pick)())
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        return _even_split(g, a, out, None, True)


class MaxAll(_ExtremeAll):
    backward_name = 'MaxBackward1'


class MinAll(_ExtremeAll):
    backward_name = 'MinBackward1'
    pick = 'min'


class _Select(Op):
    """Base of ops whose values are input elements taken at indices along one axis:
    the gradient of the values goes back to those positions."""

    @staticmethod
    def backward(ctx, gv, gi=None):
        if ctx.axis is None:
            return gv
        (idx,) = ctx.saved
        if not ctx.keepdim:
            gv = xp_of(gv).expand_dims(gv, ctx.axis)
        return _scatter(gv, idx, ctx.axis, ctx.shape)


def _selected(ctx, a, idx, axis, keepdim):
    """(values, int64 indices) of ``a`` at ``idx`` along ``axis``, recorded for backward."""
    xp = xp_of(a)
    vals = xp.take_along_axis(a, idx, axis)
    ctx.save_for_backward(idx)
    ctx.axis = axis
    ctx.shape = a.shape
    ctx.keepdim = keepdim
    if not keepdim:
        vals = vals.squeeze(axis)
        idx = idx.squeeze(axis)
    return vals, idx.astype(_INT64, copy=False)


def _selected_0d(ctx, a):
    """(values, indices) of a selection on a 0-d array: the element itself and index 0."""
    ctx.axis = None
    return a.copy(), xp_of(a).zeros((), _INT64)


class _ExtremeDim(_Select):
    """(values, indices) of the max or min along one axis (first index among ties)."""
    pick = 'max'

    @staticmethod
    def forward(ctx, a, axis, keepdim):
        if a.ndim == 0:
            return _selected_0d(ctx, a)
        _check_reduced_nonempty(a.shape, (axis,), ctx.pick)
        idx = getattr(a, 'arg' + ctx.pick)(axis=axis, keepdims=True)
        return _selected(ctx, a, idx, axis, keepdim)


class MaxDim(_ExtremeDim):
    backward_name = 'MaxBackward0'


class MinDim(_ExtremeDim):
    backward_name = 'MinBackward0'
    pick = 'min'


def _extreme(name, all_op, dim_op, pair, input, dim, keepdim, other, out):
    if other is not None:
        dim = other
    if isinstance(dim, Tensor):
        return pair(input, dim, out=out)
    if dim is None:
        return _out(all_op.apply(input), out)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{name}(): argument 'dim' must be int or Tensor, not "
                        f"{type(dim).__name__}")
    axis = _dim(int(dim), input._data.ndim)
    r = getattr(return_types, name)(dim_op.apply(input, axis, keepdim))
    return _out_pair(r, out)


@tensor_method
def max(input, dim=None, keepdim=False, *, other=None, out=None):
    """``max(input)``: the largest element (0-d). ``max(input, dim, keepdim=False)``:
    ``(values, indices)`` along ``dim``. ``max(input, other_tensor)``: elementwise maximum."""
    return _extreme('max', MaxAll, MaxDim, maximum, input, dim, keepdim, other, out)


@tensor_method
def min(input, dim=None, keepdim=False, *, other=None, out=None):
    """``min(input)``, ``min(input, dim, keepdim=False)`` or ``min(input, other_tensor)``."""
    return _extreme('min', MinAll, MinDim, minimum, input, dim, keepdim, other, out)


class _ExtremeOver(Op):
    """max (or min) over ``axes``; tied elements share the gradient evenly."""
    pick = 'max'

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        out = _arr(getattr(a, ctx.pick)(axis=axes, keepdims=True))
        ctx.save_for_backward(a, out)
        ctx.axes = axes
        ctx.keepdim = keepdim
        return _drop(out, a.shape, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        return _even_split(g.reshape(out.shape), a, out, ctx.axes, False)


class Amax(_ExtremeOver):
    pass


class Amin(_ExtremeOver):
    pick = 'min'


def _amax(op, name, input, dim, keepdim, out):
    a = input._data
    axes = _axes(dim, a.ndim, name)
    if a.size == 0:
        if dim is None or (isinstance(dim, (tuple, list)) and not dim):
            raise _empty_all(name)
        _check_reduced_nonempty(a.shape, axes, name)
    return _out(op.apply(input, axes, keepdim), out)


@tensor_method
def amax(input, dim=(), keepdim=False, *, out=None):
    """Largest elements over ``dim`` (int or tuple; () for all); ties share the gradient."""
    return _amax(Amax, 'amax', input, dim, keepdim, out)


@tensor_method
def amin(input, dim=(), keepdim=False, *, out=None):
    """Smallest elements over ``dim`` (int or tuple; () for all)."""
    return _amax(Amin, 'amin', input, dim, keepdim, out)


def _arg_extreme(name, input, dim, keepdim):
    a = input._data
    xp = xp_of(a)
    if a.dtype.kind == 'b':
        raise RuntimeError(f'{name}(): does not support bool input')
    if dim is None:
        if a.size == 0:
            raise IndexError(f'{name}(): Expected reduction dim to be specified for '
                             'input.numel() == 0.')
        r = _arr(getattr(a, name)()).reshape((1,) * a.ndim if keepdim else ())
    else:
        axis = _axis(dim, a.ndim, name)
        if a.ndim == 0:
            return _wrap(xp.zeros((), _INT64))
        _check_reduced_nonempty(a.shape, (axis,), name)
        r = getattr(a, name)(axis=axis, keepdims=keepdim)
    return _wrap(r.astype(_INT64, copy=False))


@tensor_method
def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (flattened when ``dim`` is None); NaN counts as largest."""
    return _arg_extreme('argmax', input, dim, keepdim)


@tensor_method
def argmin(input, dim=None, keepdim=False):
    """Index of the smallest element (flattened when ``dim`` is None)."""
    return _arg_extreme('argmin', input, dim, keepdim)


class Aminmax(Op):
    """(min, max) over ``axes`` in one op."""

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        lo = _arr(a.min(axis=axes, keepdims=True))
        hi = _arr(a.max(axis=axes, keepdims=True))
        ctx.save_for_backward(a, lo, hi)
        ctx.axes = axes
        ctx.keepdim = keepdim
        return _drop(lo, a.shape, axes, keepdim), _drop(hi, a.shape, axes, keepdim)

    @staticmethod
    def backward(ctx, glo, ghi):
        a, lo, hi = ctx.saved
        return (_even_split(glo.reshape(lo.shape), a, lo, ctx.axes, False)
                + _even_split(ghi.reshape(hi.shape), a, hi, ctx.axes, False))


@tensor_method
def aminmax(input, *, dim=None, keepdim=False, out=None):
    """``(min, max)`` of all elements or along one int ``dim``."""
    a = input._data
    if dim is None:
        if a.size == 0:
            raise RuntimeError('aminmax(): cannot compute aminmax over an empty dimension as '
                               'the operation has no identity.')
        axes = tuple(range(a.ndim))
    else:
        axes = _axes(_index(dim, 'aminmax'), a.ndim, 'aminmax')
        _check_reduced_nonempty(a.shape, axes, 'aminmax', ':')
    r = return_types.aminmax(Aminmax.apply(input, axes, keepdim))
    return _out_pair(r, out)


# ==== moments ==================================================================================
def _dof(shape, axes, correction, name):
    """Degrees of freedom n - correction (PyTorch warns when not positive; clamped at 0)."""
    dof = _count(shape, axes) - correction
    if dof <= 0:
        warnings.warn(f'{name}(): degrees of freedom is <= 0. Correction should be strictly less '
                      'than the reduction factor (input numel divided by output numel).',
                      UserWarning, stacklevel=4)
    return builtins.max(dof, 0)


def _centered_sumsq(a, axes):
    """(sum of squared deviations from the mean, mean), both keepdim-shaped."""
    m = _mean(a, axes, True)
    d = a - m
    d *= d
    return _sum(d, axes, True), m


class Var(Op):
    """Variance over ``axes`` with ``dof`` = n - correction."""

    @staticmethod
    def forward(ctx, a, axes, dof, keepdim):
        v, m = _centered_sumsq(a, axes)
        v /= dof                       # dof 0 gives inf or nan, as PyTorch
        ctx.save_for_backward(a, m)
        ctx.dof = dof
        ctx.keepdim = keepdim
        return _drop(v, a.shape, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, m = ctx.saved
        return (g.reshape(m.shape) * (2.0 / ctx.dof if ctx.dof else _inf)) * (a - m)


class Std(Op):
    """Standard deviation over ``axes``; zero results get zero gradient."""

    @staticmethod
    def forward(ctx, a, axes, dof, keepdim):
        sd, m = _centered_sumsq(a, axes)
        sd /= dof
        xp_of(a).sqrt(sd, out=sd)
        ctx.save_for_backward(a, m, sd)
        ctx.dof = dof
        ctx.keepdim = keepdim
        return _drop(sd, a.shape, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, m, sd = ctx.saved
        xp = xp_of(g)
        scale = g.reshape(sd.shape) / (sd * ctx.dof if ctx.dof else sd * 0.0)
        return xp.where(sd == 0, 0, scale) * (a - m)


class VarMean(Op):
    """(variance, mean) over ``axes``."""

    @staticmethod
    def forward(ctx, a, axes, dof, keepdim):
        v, m = _centered_sumsq(a, axes)
        v /= dof
        ctx.save_for_backward(a, m)
        ctx.dof = dof
        ctx.n = _count(a.shape, axes)
        ctx.keepdim = keepdim
        return _drop(v, a.shape, axes, keepdim), _drop(m, a.shape, axes, keepdim)

    @staticmethod
    def backward(ctx, gv, gm):
        a, m = ctx.saved
        gv = gv.reshape(m.shape) * (2.0 / ctx.dof if ctx.dof else _inf)
        return gv * (a - m) + xp_of(a).broadcast_to(gm.reshape(m.shape) / ctx.n, a.shape)


class StdMean(Op):
    """(standard deviation, mean) over ``axes``."""

    @staticmethod
    def forward(ctx, a, axes, dof, keepdim):
        sd, m = _centered_sumsq(a, axes)
        sd /= dof
        xp_of(a).sqrt(sd, out=sd)
        ctx.save_for_backward(a, m, sd)
        ctx.dof = dof
        ctx.n = _count(a.shape, axes)
        ctx.keepdim = keepdim
        return _drop(sd, a.shape, axes, keepdim), _drop(m, a.shape, axes, keepdim)

    @staticmethod
    def backward(ctx, gs, gm):
        a, m, sd = ctx.saved
        xp = xp_of(a)
        scale = gs.reshape(sd.shape) / (sd * ctx.dof if ctx.dof else sd * 0.0)
        return (xp.where(sd == 0, 0, scale) * (a - m)
                + xp.broadcast_to(gm.reshape(m.shape) / ctx.n, a.shape))


def _moments(op, name, input, dim, unbiased, keepdim, correction):
    """Parse var/std's two signatures and apply ``op``."""
    a = input._data
    if isinstance(dim, bool):            # var(input, unbiased)
        if unbiased is not None:
            raise TypeError(f'{name}() received an invalid combination of arguments')
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments - got both "
                        "'unbiased' and 'correction'")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if a.dtype.kind != 'f':
        raise RuntimeError('std and var only support floating point and complex dtypes')
    axes = _axes(dim, a.ndim, name)
    base = name.split('_')[0]
    dof = _dof(a.shape, axes, correction, base)
    return op.apply(input, axes, dof, keepdim)


@tensor_method
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """Variance over ``dim``: ``var(input, dim=None, *, correction=1, keepdim=False)`` or the
    legacy ``var(input, dim, unbiased, keepdim=False)`` / ``var(input, unbiased)``."""
    return _out(_moments(Var, 'var', input, dim, unbiased, keepdim, correction), out)


@tensor_method
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """Standard deviation; the same signatures as ``var``."""
    return _out(_moments(Std, 'std', input, dim, unbiased, keepdim, correction), out)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over ``dim`` in one pass; the same signatures as ``var``."""
    return _moments(VarMean, 'var_mean', input, dim, unbiased, keepdim, correction)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` over ``dim``; the same signatures as ``var``."""
    return _moments(StdMean, 'std_mean', input, dim, unbiased, keepdim, correction)


# ==== norms ====================================================================================
class LinalgVectorNorm(Op):
    """(sum |a|^p)^(1/p) over ``axes``; p may be inf, -inf or 0. Zero norms (and zero
    elements for p < 1) get zero gradient; ties of the inf norms share it evenly."""

    @staticmethod
    def forward(ctx, a, p, axes, keepdim):
        xp = xp_of(a)
        if p == 2:
            out = xp.sqrt(_sum(a * a, axes, True))
        elif p == 1:
            out = _sum(xp.abs(a), axes, True)
        elif p == _inf:
            out = _arr(xp.abs(a).max(axis=axes, keepdims=True))
        elif p == -_inf:
            out = _arr(xp.abs(a).min(axis=axes, keepdims=True))
        elif p == 0:
            out = (a != 0).sum(axis=axes, keepdims=True).astype(a.dtype)
        else:
            out = _sum(xp.abs(a) ** p, axes, True) ** (1.0 / p)
        ctx.save_for_backward(a, out)
        ctx.p = p
        ctx.axes = axes
        ctx.keepdim = keepdim
        return _drop(out, a.shape, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        p = ctx.p
        xp = xp_of(a)
        g = g.reshape(out.shape)
        if p == 0:
            return None
        if p == 2:
            return xp.where(out == 0, 0, g / out) * a
        if p == 1:
            return g * xp.sign(a)
        if p == _inf or p == -_inf:
            return xp.sign(a) * _even_split(g, xp.abs(a), out, ctx.axes, False)
        absa = xp.abs(a)
        grad = (g / out ** (p - 1)) * (xp.sign(a) * absa ** (p - 1))
        return xp.where((absa == 0) | (out == 0), 0, grad)


class NuclearNorm(Op):
    """Sum of singular values of the matrices spanned by ``dims`` (two axes)."""
    backward_name = 'SumBackward1'

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        xp = xp_of(a)
        m = xp.moveaxis(a, dims, (-2, -1))
        u, s, vh = xp.linalg.svd(m, full_matrices=False)
        ctx.save_for_backward(u, vh)
        ctx.dims = dims
        out = s.sum(-1)
        if keepdim:
            out = out.reshape(_kept_shape(a.shape, dims))
        return out

    @staticmethod
    def backward(ctx, g):
        u, vh = ctx.saved
        xp = xp_of(g)
        g = g.reshape(u.shape[:-2] + (1, 1))
        return xp.moveaxis(g * (u @ vh), (-2, -1), ctx.dims)


def _matrix_dims(dim, ndim):
    dims = tuple(range(ndim)) if dim is None else tuple(dim) if isinstance(
        dim, (tuple, list)) else (dim,)
    if len(dims) != 2:
        raise RuntimeError(f'linalg.matrix_norm: dim must be a 2-tuple. Got '
                           f'{" ".join(str(d) for d in dims)}')
    d0, d1 = (_dim(_index(d, 'norm'), ndim) for d in dims)
    if d0 == d1:
        raise RuntimeError(f'linalg.matrix_norm: dims must be different. Got ({d0}, {d1})')
    return d0, d1


@tensor_method
def norm(input, p='fro', dim=None, keepdim=False, out=None, dtype=None):
    """Vector p-norm over ``dim`` (p a number, inf, -inf or 0; 'fro' is the 2-norm) or the
    nuclear norm (p='nuc') of the matrices over two dims."""
    if dtype is not None:
        input = input.to(dtype)
    a = input._data
    if a.dtype.kind != 'f':
        raise RuntimeError('linalg.vector_norm: Expected a floating point or complex tensor as '
                           f'input. Got {_type_name(a)}')
    if isinstance(p, str):
        if p == 'nuc':
            dims = _matrix_dims(dim, a.ndim)
            return _out(NuclearNorm.apply(input, dims, keepdim), out)
        if p != 'fro':
            raise RuntimeError(f'linalg.matrix_norm: Order {p} not supported.')
        if isinstance(dim, (tuple, list)) and len(dim) > 2:
            _matrix_dims(dim, a.ndim)
        p = 2
    p = float(p)
    axes = _axes(dim, a.ndim, 'norm')
    if math.isinf(p) and a.size == 0:
        kind = 'inf' if p > 0 else '-inf'
        if dim is None or not axes:
            raise RuntimeError(f'linalg.vector_norm cannot compute the {kind} norm on an empty '
                               'tensor because the operation does not have an identity')
        for ax in axes:
            if a.shape[ax] == 0:
                raise RuntimeError(f'linalg.vector_norm cannot compute the {kind} norm on the '
                                   f'dimension {ax}because this dimension is empty and the '
                                   'operation does not have an identity')
    return _out(LinalgVectorNorm.apply(input, p, axes, keepdim), out)


# ==== exp-normalisers ==========================================================================
class Logsumexp(Op):
    """log(sum(exp(a))) over ``axes``, shifted by the max for stability (infinite maxima
    are not subtracted, so all -inf rows give -inf and +inf rows give +inf)."""

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        xp = xp_of(a)
        if a.size:
            m = _arr(a.max(axis=axes, keepdims=True))
            m = xp.where(xp.isfinite(m), m, 0).astype(a.dtype)
            e = _arr(a - m)
            xp.exp(e, out=e)
            out = _sum(e, axes, True)
            xp.log(out, out=out)
            out += m
        else:
            out = xp.log(_sum(a, axes, True))
        ctx.save_for_backward(a, out)
        ctx.keepdim = keepdim
        return _drop(out, a.shape, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        e = _arr(a - out)
        xp_of(a).exp(e, out=e)
        e *= g.reshape(out.shape)
        return e


@tensor_method
def logsumexp(input, dim, keepdim=False, *, out=None):
    """log(sum(exp(input))) over ``dim`` (int or tuple), numerically stable; ints give floats."""
    a = input._data
    if a.dtype.kind != 'f':
        input = _wrap(a.astype(_dtype.default_float_np()))
    axes = _axes(dim, a.ndim, 'logsumexp')
    return _out(Logsumexp.apply(input, axes, keepdim), out)


def _softmax_prep(input, dim, dtype, name):
    """(input cast to ``dtype``, axis) for softmax-like ops; integer inputs are an error."""
    if dtype is not None:
        input = input.to(dtype)
    a = input._data
    axis = _axis(dim, a.ndim, name)
    if a.dtype.kind != 'f':
        where = 'lastdim_' if axis == a.ndim - 1 or a.ndim == 0 else ''
        raise NotImplementedError(f'"{name}_{where}kernel_impl" not implemented for '
                                  f"'{_type_name(a)}'")
    return input, axis


def _shifted(a, axis):
    """a - max(a, axis): a new array (nan where a row's max is infinite and matched)."""
    m = a.max(axis=axis, keepdims=True)
    return a - m


def _rowwise(a, axis):
    """``a`` as a 2-D (rows, axis) view when a row-parallel kernel applies: a large
    C-contiguous NumPy array reduced over its last axis."""
    if axis != a.ndim - 1 or not parallel_ok(a):
        return None
    return a.reshape(-1, a.shape[-1])


def _softmax_rows(x, out):
    np.subtract(x, x.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out *= 1 / out.sum(axis=1, keepdims=True)


def _softmax_grad_rows(g, y, out):
    np.multiply(g, y, out=out)
    s = out.sum(axis=1, keepdims=True)
    np.subtract(g, s, out=out)
    out *= y


def _log_softmax_rows(x, out):
    np.subtract(x, x.max(axis=1, keepdims=True), out=out)
    s = np.exp(out).sum(axis=1, keepdims=True)
    out -= np.log(s, out=s)


def _log_softmax_grad_rows(g, y, out):
    np.exp(y, out=out)
    out *= g.sum(axis=1, keepdims=True)
    np.subtract(g, out, out=out)


def _rows_apply(kernel, shape_like, *arrays2d):
    out = np.empty(shape_like.shape, shape_like.dtype)
    map_rows(kernel, out.reshape(-1, shape_like.shape[-1]), *arrays2d)
    return out


class Softmax(Op):
    """exp(a) / sum(exp(a)) along ``axis``: y = exp(a - max), scaled in place.
    Backward: y * (g - sum(g * y)). Large last-axis softmaxes run row blocks in parallel."""

    @staticmethod
    def forward(ctx, a, axis):
        rows = _rowwise(a, axis)
        if rows is not None:
            y = _rows_apply(_softmax_rows, a, rows)
        elif a.size == 0:
            y = a.copy()
        elif a.ndim == 0:
            y = a.copy()
            y -= a
            xp_of(a).exp(y, out=y)
        else:
            y = _shifted(a, axis)
            xp_of(a).exp(y, out=y)
            s = _sum(y, (axis,), True)
            y *= 1 / s
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        if y.ndim == 0:
            return xp_of(g).zeros_like(g)
        rows = _rowwise(y, ctx.axis)
        if rows is not None and g.flags.c_contiguous:
            return _rows_apply(_softmax_grad_rows, y, g.reshape(rows.shape), rows)
        gx = g * y
        s = _sum(gx, (ctx.axis,), True)
        xp_of(g).subtract(g, s, out=gx)
        gx *= y
        return gx


class LogSoftmax(Op):
    """a - log(sum(exp(a))) along ``axis``. Backward: g - exp(y) * sum(g)."""

    @staticmethod
    def forward(ctx, a, axis):
        xp = xp_of(a)
        rows = _rowwise(a, axis)
        if rows is not None:
            y = _rows_apply(_log_softmax_rows, a, rows)
        elif a.size == 0:
            y = a.copy()
        elif a.ndim == 0:
            y = a.copy()
            y -= a
        else:
            y = _shifted(a, axis)
            s = _sum(xp.exp(y), (axis,), True)
            xp.log(s, out=s)
            y -= s
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        xp = xp_of(g)
        if y.ndim == 0:
            return xp.zeros_like(g)
        rows = _rowwise(y, ctx.axis)
        if rows is not None and g.flags.c_contiguous:
            return _rows_apply(_log_softmax_grad_rows, y, g.reshape(rows.shape), rows)
        e = xp.exp(y)
        e *= _sum(g, (ctx.axis,), True)
        xp.subtract(g, e, out=e)
        return e


@tensor_method
def softmax(input, dim, dtype=None):
    """exp(input) normalised to sum to 1 along ``dim`` (computed in ``dtype`` if given)."""
    input, axis = _softmax_prep(input, dim, dtype, 'softmax')
    return Softmax.apply(input, axis)


@tensor_method
def log_softmax(input, dim, dtype=None):
    """log(softmax(input, dim)), computed stably in one op."""
    input, axis = _softmax_prep(input, dim, dtype, 'log_softmax')
    return LogSoftmax.apply(input, axis)


# ==== logic and counts =========================================================================
def _logic(name, input, dim, keepdim, out):
    a = input._data
    if isinstance(dim, (tuple, list)) and not dim:
        r = a.astype(bool)                # an empty dim list reduces nothing
    else:
        axes = _axes(dim, a.ndim, name)
        r = _arr(getattr(a, name)(axis=axes, keepdims=keepdim))
    if a.dtype == np.uint8:
        r = r.astype(np.uint8)
    return _out(_wrap(r), out)


@tensor_method
def all(input, dim=None, keepdim=False, *, out=None):
    """True where every element over ``dim`` is nonzero (uint8 for uint8 inputs)."""
    return _logic('all', input, dim, keepdim, out)


@tensor_method
def any(input, dim=None, keepdim=False, *, out=None):
    """True where some element over ``dim`` is nonzero (uint8 for uint8 inputs)."""
    return _logic('any', input, dim, keepdim, out)


@tensor_method
def count_nonzero(input, dim=None):
    """Number of nonzero elements over ``dim`` (int64)."""
    a = input._data
    axes = _axes(dim, a.ndim, 'count_nonzero')
    return _wrap(_arr((a != 0).sum(axis=axes, dtype=_INT64)))


# ==== scans ====================================================================================
def _cumsum(a, axis, dtype=None):
    """Running sum of ``a`` along ``axis`` in ``dtype`` (default: a's, int64 for ints);
    float32 and float16 accumulate in float64, as PyTorch."""
    dt = dtype if dtype is not None else a.dtype if a.dtype.kind == 'f' else _INT64
    if dt.kind == 'f' and dt.itemsize < 8:
        return a.cumsum(axis=axis, dtype=np.float64).astype(dt)
    return a.cumsum(axis=axis, dtype=dt)


def _wide(a):
    """float32/float16 arrays as float64 (for accumulations); others unchanged."""
    return a.astype(np.float64) if a.dtype.kind == 'f' and a.dtype.itemsize < 8 else a


class Cumsum(Op):
    """Running sum along ``axis``; backward is the running sum from the other end."""

    @staticmethod
    def forward(ctx, a, axis, dtype):
        ctx.axis = axis
        if a.ndim == 0:
            if dtype is None and a.dtype.kind != 'f':
                dtype = _INT64
            return a.astype(dtype) if dtype is not None else a.copy()
        return _cumsum(a, axis, dtype)

    @staticmethod
    def backward(ctx, g):
        if g.ndim == 0:
            return g
        return _rev_cumsum(g, ctx.axis)


def _rev_cumsum(g, axis):
    return _flip(_cumsum(_flip(g, axis), axis), axis)


class Cumprod(Op):
    """Running product along ``axis``; the backward handles zeros exactly (no division by
    them): before a line's first zero g*y/a summed from the end, at it the running product
    of the other elements, after it nothing."""

    @staticmethod
    def forward(ctx, a, axis, dtype):
        if dtype is None and a.dtype.kind != 'f':
            dtype = _INT64
        if dtype is not None and a.dtype != dtype:
            a = a.astype(dtype)
        if a.ndim == 0:
            return a.copy()
        y = _wide(a).cumprod(axis=axis).astype(a.dtype, copy=False)
        ctx.save_for_backward(a, y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        if g.ndim == 0:
            return g
        a, y = ctx.saved
        axis = ctx.axis
        xp = xp_of(a)
        zero = a == 0
        if not zero.any():
            return _rev_cumsum(g * y, axis) / a
        n = a.shape[axis]
        pos = xp.asarray(_positions(n, axis, a.ndim))
        first = xp.where(zero.any(axis=axis, keepdims=True),
                         zero.argmax(axis=axis, keepdims=True), n)
        before = pos < first
        grad = _rev_cumsum(xp.where(before, g * y, 0), axis) / xp.where(before, a, 1)
        grad = xp.where(before, grad, 0)
        at = pos == first
        y_skip = xp.cumprod(xp.where(at, 1, a), axis=axis)
        at_grad = xp.where(pos >= first, g * y_skip, 0).sum(axis=axis, keepdims=True)
        return xp.where(at, at_grad, grad)


def _scan_prep(input, dim, dtype, name):
    dt = _dtype.to_np(dtype)
    axis = _axis(dim, input._data.ndim, name)
    return dt, axis


@tensor_method
def cumsum(input, dim, *, dtype=None, out=None):
    """Running sum along ``dim``; ints and bools accumulate in int64."""
    dt, axis = _scan_prep(input, dim, dtype, 'cumsum')
    return _out(_reduce(Cumsum, input, dt, axis, dt), out)


@tensor_method
def cumprod(input, dim, *, dtype=None, out=None):
    """Running product along ``dim``; ints and bools accumulate in int64."""
    dt, axis = _scan_prep(input, dim, dtype, 'cumprod')
    return _out(_reduce(Cumprod, input, dt, axis, dt), out)


@tensor_method
def cumsum_(self, dim, *, dtype=None):
    return apply_inplace(self, cumsum, dim, dtype=dtype)


@tensor_method
def cumprod_(self, dim, *, dtype=None):
    return apply_inplace(self, cumprod, dim, dtype=dtype)


class _CumExtreme(Op):
    """(running max or min, index where it was last reached) along ``axis``; NaN propagates.
    The gradient of each output goes to the index it came from (adding up)."""
    pick = 'maximum'

    @staticmethod
    def forward(ctx, a, axis):
        xp = xp_of(a)
        ctx.axis = axis
        if a.ndim == 0:
            return a.copy(), xp.zeros((), _INT64)
        vals = _scan(ctx.pick, a, axis)
        reached = a == vals
        if a.dtype.kind == 'f':
            reached |= xp.isnan(a)
        pos = xp.asarray(_positions(a.shape[axis], axis, a.ndim))
        idx = _scan('maximum', xp.where(reached, pos, 0), axis)
        ctx.save_for_backward(idx)
        return vals, idx

    @staticmethod
    def backward(ctx, gv, gi=None):
        if gv.ndim == 0:
            return gv
        (idx,) = ctx.saved
        return _scatter_add(gv, idx, ctx.axis, gv.shape)


class Cummax(_CumExtreme):
    pass


class Cummin(_CumExtreme):
    pick = 'minimum'


@tensor_method
def cummax(input, dim, *, out=None):
    """``(values, indices)``: running maximum along ``dim`` and where it was last reached."""
    axis = _axis(dim, input._data.ndim, 'cummax')
    return _out_pair(return_types.cummax(Cummax.apply(input, axis)), out)


@tensor_method
def cummin(input, dim, *, out=None):
    """``(values, indices)``: running minimum along ``dim``."""
    axis = _axis(dim, input._data.ndim, 'cummin')
    return _out_pair(return_types.cummin(Cummin.apply(input, axis)), out)


class Logcumsumexp(Op):
    """log(cumsum(exp(a))) along ``axis`` (stable: logaddexp scan). Backward:
    grad_i = sum_{k>=i} g_k exp(a_i - out_k), from reverse logaddexp scans of the positive
    and negative parts of g."""

    @staticmethod
    def forward(ctx, a, axis):
        ctx.axis = axis
        if a.ndim == 0:
            return a.copy()
        out = _scan('logaddexp', _wide(a), axis).astype(a.dtype, copy=False)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        if g.ndim == 0:
            return g
        a, out = ctx.saved
        a, out, g = _wide(a), _wide(out), _wide(g)
        xp = xp_of(a)
        axis = ctx.axis
        pos = _rev_scan('logaddexp', xp.log(xp.where(g > 0, g, 0)) - out, axis)
        neg = _rev_scan('logaddexp', xp.log(xp.where(g < 0, -g, 0)) - out, axis)
        return xp.exp(a + pos) - xp.exp(a + neg)


@tensor_method
def logcumsumexp(input, dim, *, out=None):
    """log(cumsum(exp(input))) along ``dim``, computed stably."""
    a = input._data
    axis = _axis(dim, a.ndim, 'logcumsumexp')
    if a.dtype.kind != 'f':
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for '
                                  f"'{_type_name(a)}'")
    return _out(Logcumsumexp.apply(input, axis), out)


# ==== order statistics =========================================================================
def _argsort(a, axis, descending):
    """Stable sort order along ``axis``; NaN sorts as the largest value (as PyTorch)."""
    xp = xp_of(a)
    if not descending:
        return xp.argsort(a, axis=axis, kind='stable')
    # sorting the reversed array keeps equal elements in their original order once reversed
    idx = xp.argsort(_flip(a, axis), axis=axis, kind='stable')
    return (a.shape[axis] - 1) - _flip(idx, axis)


class Sort(_Select):
    """(values, indices) sorted along ``axis`` (stable)."""

    @staticmethod
    def forward(ctx, a, axis, descending):
        if a.ndim == 0:
            return _selected_0d(ctx, a)
        return _selected(ctx, a, _argsort(a, axis, descending), axis, True)


@tensor_method
def sort(input, dim=-1, descending=False, stable=False, *, out=None):
    """``(values, indices)`` sorted along ``dim``; always stable (equal elements keep their
    order), NaN last ascending and first descending."""
    axis = _axis(dim, input._data.ndim, 'sort')
    return _out_pair(return_types.sort(Sort.apply(input, axis, bool(descending))), out)


@tensor_method
def argsort(input, dim=-1, descending=False, stable=False):
    """Indices that sort ``input`` along ``dim`` (stable)."""
    a = input._data
    axis = _axis(dim, a.ndim, 'argsort')
    if a.ndim == 0:
        return _wrap(xp_of(a).zeros((), _INT64))
    return _wrap(_argsort(a, axis, descending).astype(_INT64, copy=False))


@tensor_method
def msort(input, *, out=None):
    """``input`` sorted along its first dim (values only)."""
    return _out(sort(input, 0).values, out)


_PARTITION_MIN = 512   # rows at least this long select top-k by partition, not a full sort


def _topk_index(a, k, axis, largest):
    """Indices of the k largest (smallest) elements along ``axis``, in sorted order."""
    xp = xp_of(a)
    n = a.shape[axis]
    if n < _PARTITION_MIN or 4 * k >= n:
        return _argsort(a, axis, largest)[_along(axis, slice(None, k))]
    if largest:
        cand = xp.argpartition(a, n - k, axis=axis)[_along(axis, slice(n - k, None))]
        cand = xp.sort(cand, axis=axis)
    else:
        cand = xp.argpartition(a, k - 1, axis=axis)[_along(axis, slice(None, k))]
        cand = xp.sort(cand, axis=axis)
    order = _argsort(xp.take_along_axis(a, cand, axis), axis, largest)
    return xp.take_along_axis(cand, order, axis)


class Topk(_Select):
    """(values, indices) of the k largest or smallest elements along ``axis``."""

    @staticmethod
    def forward(ctx, a, k, axis, largest):
        if a.ndim == 0:
            return _selected_0d(ctx, a)
        return _selected(ctx, a, _topk_index(a, k, axis, largest), axis, True)


@tensor_method
def topk(input, k, dim=-1, largest=True, sorted=True, *, out=None):
    """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) elements
    along ``dim``, largest first (always sorted; NaN counts as largest)."""
    a = input._data
    axis = _axis(dim, a.ndim, 'topk')
    if a.dtype.kind == 'b':
        raise RuntimeError('topk does not support bool dtypes on CPU')
    n = a.shape[axis] if a.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError('selected index k out of range')
    return _out_pair(return_types.topk(Topk.apply(input, int(k), axis, bool(largest))), out)


class Kthvalue(_Select):
    """(values, indices) of the k-th smallest element (1-based) along ``axis``."""

    @staticmethod
    def forward(ctx, a, k, axis, keepdim):
        if a.ndim == 0:
            return _selected_0d(ctx, a)
        idx = _argsort(a, axis, False)[_along(axis, slice(k - 1, k))]
        return _selected(ctx, a, idx, axis, keepdim)


@tensor_method
def kthvalue(input, k, dim=-1, keepdim=False, *, out=None):
    """``(values, indices)`` of the ``k``-th smallest element along ``dim`` (k from 1)."""
    a = input._data
    axis = _axis(dim, a.ndim, 'kthvalue')
    _no_bool(a, 'kthvalue_cpu')
    if a.ndim:
        _check_reduced_nonempty(a.shape, (axis,), 'kthvalue')
    n = a.shape[axis] if a.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f'kthvalue(): selected number k out of range for dimension {axis}')
    return _out_pair(return_types.kthvalue(Kthvalue.apply(input, int(k), axis, keepdim)), out)


def _lower_median_flat(a, ignore_nan):
    """Lower median of all elements of ``a`` (NaN if empty; if any NaN unless ignored)."""
    xp = xp_of(a)
    flat = a.ravel()
    if a.dtype.kind == 'f':
        nan = xp.isnan(flat)
        if ignore_nan:
            flat = flat[~nan]
        elif nan.any():
            return xp.full((), xp.nan, a.dtype)
    if flat.size == 0:
        return xp.full((), xp.nan, a.dtype)
    k = (flat.size - 1) // 2
    return _arr(xp.partition(flat, k)[k]).reshape(())


class MedianAll(Op):
    """Lower median of all elements; equal elements (or the NaNs, when the result is NaN)
    share the gradient evenly."""
    ignore_nan = False

    @staticmethod
    def forward(ctx, a):
        out = _lower_median_flat(a, ctx.ignore_nan)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        return _even_split(g, a, out, None, True)


class NanmedianAll(MedianAll):
    ignore_nan = True


class MedianDim(_Select):
    """(lower median, index) along ``axis``: a line holding NaN gives NaN at its first NaN."""
    backward_name = 'MedianBackward1'

    @staticmethod
    def forward(ctx, a, axis, keepdim):
        if a.ndim == 0:
            return _selected_0d(ctx, a)
        xp = xp_of(a)
        n = a.shape[axis]
        k = (n - 1) // 2
        idx = _argsort(a, axis, False)[_along(axis, slice(k, k + 1))]
        if a.dtype.kind == 'f':
            nan = xp.isnan(a)
            idx = xp.where(nan.any(axis=axis, keepdims=True),
                           nan.argmax(axis=axis, keepdims=True), idx)
        return _selected(ctx, a, idx, axis, keepdim)


class NanmedianDim(_Select):
    """(lower median of the non-NaN elements, index) along ``axis``."""
    backward_name = 'NanmedianBackward1'

    @staticmethod
    def forward(ctx, a, axis, keepdim):
        if a.ndim == 0:
            return _selected_0d(ctx, a)
        xp = xp_of(a)
        order = _argsort(a, axis, False)
        if a.dtype.kind == 'f':
            valid = (~xp.isnan(a)).sum(axis=axis, keepdims=True)
            k = xp.maximum((valid - 1) // 2, 0)
        else:
            k = xp.full(_kept_shape(a.shape, (axis,)), (a.shape[axis] - 1) // 2, _INT64)
        return _selected(ctx, a, xp.take_along_axis(order, k, axis), axis, keepdim)


def _no_bool(a, kernel):
    if a.dtype.kind == 'b':
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')


def _median(name, all_op, dim_op, input, dim, keepdim, out):
    a = input._data
    _no_bool(a, 'median_cpu' if dim is None else 'median_out')
    if dim is None:
        return _out(all_op.apply(input), out)
    axis = _axis(dim, a.ndim, name)
    if a.ndim:
        _check_reduced_nonempty(a.shape, (axis,), 'median')
    r = getattr(return_types, name)(dim_op.apply(input, axis, keepdim))
    return _out_pair(r, out)


@tensor_method
def median(input, dim=None, keepdim=False, *, out=None):
    """Lower median: of all elements (0-d) when ``dim`` is None, else ``(values, indices)``
    along ``dim``. NaN propagates."""
    return _median('median', MedianAll, MedianDim, input, dim, keepdim, out)


@tensor_method
def nanmedian(input, dim=None, keepdim=False, *, out=None):
    """Lower median ignoring NaN (NaN only where everything is NaN)."""
    return _median('nanmedian', NanmedianAll, NanmedianDim, input, dim, keepdim, out)


class Mode(_Select):
    """(most frequent value, its last index) along ``axis``; the smallest such value on
    ties. Found from the stable sort: equal values form runs, the longest run wins."""

    @staticmethod
    def forward(ctx, a, axis, keepdim):
        if a.ndim == 0:
            return _selected_0d(ctx, a)
        xp = xp_of(a)
        n = a.shape[axis]
        order = _argsort(a, axis, False)
        s = xp.take_along_axis(a, order, axis)
        pos = xp.asarray(_positions(n, axis, a.ndim))
        starts = xp.ones(s.shape, bool)
        starts[_along(axis, slice(1, None))] = (s[_along(axis, slice(1, None))]
                                                != s[_along(axis, slice(None, -1))])
        run_start = _scan('maximum', xp.where(starts, pos, 0), axis)
        run_len = pos - run_start
        best = run_len.argmax(axis=axis, keepdims=True)   # end of the first longest run
        return _selected(ctx, a, xp.take_along_axis(order, best, axis), axis, keepdim)


@tensor_method
def mode(input, dim=-1, keepdim=False, *, out=None):
    """``(values, indices)``: the most frequent value along ``dim`` (smallest on ties) and
    the index of its last occurrence."""
    a = input._data
    axis = _axis(dim, a.ndim, 'mode')
    if a.ndim:
        _check_reduced_nonempty(a.shape, (axis,), 'mode')
    return _out_pair(return_types.mode(Mode.apply(input, axis, keepdim)), out)


# ==== sets and bins ============================================================================
def _unique_results(vals, inverse, counts, return_inverse, return_counts):
    out = [_wrap(vals)]
    if return_inverse:
        out.append(_wrap(inverse.astype(_INT64, copy=False)))
    if return_counts:
        out.append(_wrap(counts.astype(_INT64, copy=False)))
    return out[0] if len(out) == 1 else tuple(out)


@tensor_method
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """Sorted unique elements (or slices along ``dim``), optionally with the inverse indices
    (input's shape; along ``dim`` with dim) and the counts. NaNs are all distinct."""
    a = input._data
    xp = xp_of(a)
    if dim is None:
        vals, inv, cnt = xp.unique(a.ravel(), return_inverse=True, return_counts=True,
                                   equal_nan=False)
        inv = inv.reshape(a.shape)
    else:
        axis = _axis(dim, a.ndim, 'unique')
        vals, inv, cnt = xp.unique(a, return_inverse=True, return_counts=True, axis=axis,
                                   equal_nan=False)
        inv = inv.reshape(-1)
    return _unique_results(vals, inv, cnt, return_inverse, return_counts)


@tensor_method
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Drops all but the first of each run of equal consecutive elements (or slices along
    ``dim``); optional inverse indices and run lengths."""
    a = input._data
    xp = xp_of(a)
    if dim is None:
        flat = a.ravel()
        change = xp.ones(flat.shape, bool)
        change[1:] = flat[1:] != flat[:-1]
        vals = flat[change]
        shape = a.shape
    else:
        axis = _axis(dim, a.ndim, 'unique_consecutive')
        lines = xp.moveaxis(a, axis, 0).reshape(a.shape[axis], -1)
        change = xp.ones(lines.shape[0], bool)
        change[1:] = (lines[1:] != lines[:-1]).any(axis=1)
        vals = xp.take(a, xp.flatnonzero(change), axis=axis)
        shape = change.shape
    inv = (xp.cumsum(change) - 1).reshape(shape)
    starts = xp.flatnonzero(change)
    counts = xp.diff(xp.concatenate([starts, xp.asarray([change.size])]))
    return _unique_results(vals, inv, counts, return_inverse, return_counts)


@tensor_method
def bincount(input, weights=None, minlength=0):
    """Counts of each value 0..max(input) of a 1-d non-negative integer tensor (or sums of
    ``weights``: float32/float64 weights keep their dtype, others give float64)."""
    a = input._data
    xp = xp_of(a)
    if a.dtype.kind not in 'iu':
        raise NotImplementedError(f'"bincount_cpu" not implemented for \'{_type_name(a)}\'')
    if a.ndim != 1 or (a.size and a.min() < 0):
        raise RuntimeError('bincount only supports 1-d non-negative integral inputs.')
    if minlength < 0:
        raise RuntimeError('minlength should be >= 0')
    if weights is None:
        return _wrap(xp.bincount(a, minlength=minlength).astype(_INT64, copy=False))
    w = weights._data
    if w.ndim != 1 or w.shape[0] != a.shape[0]:
        raise RuntimeError('weights should be 1-d and have the same length as input')
    dt = w.dtype if w.dtype.kind == 'f' else np.dtype(np.float64)
    return _wrap(xp.bincount(a, weights=w, minlength=minlength).astype(dt, copy=False))


@tensor_method
def histc(input, bins=100, min=0, max=0, *, out=None):
    """Histogram of ``bins`` equal-width bins over [min, max] (the data's range when
    min == max); elements outside are ignored, ``max`` itself falls in the last bin."""
    a = input._data
    xp = xp_of(a)
    if a.dtype.kind != 'f':
        raise NotImplementedError(f'"histogram_cpu" not implemented for \'{_type_name(a)}\'')
    if bins <= 0:
        raise RuntimeError(f'torch.histogram(): bins must be > 0, but got {bins} for dimension 0')
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError('torch.histc: max must be larger than min')
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f'torch.histc: range of [{lo:g}, {hi:g}] is not finite')
    flat = a.ravel()
    flat = flat[(flat >= lo) & (flat <= hi)]
    edges = xp.linspace(lo, hi, bins + 1).astype(a.dtype)
    pos = xp.clip(xp.searchsorted(edges, flat, side='right') - 1, 0, bins - 1)
    return _out(_wrap(xp.bincount(pos, minlength=bins).astype(a.dtype)), out)


def _batched_searchsorted(seq, vals, right):
    """Insertion points of each row of ``vals`` (*, m) into the sorted rows of ``seq``
    (*, n): a binary search over all rows at once."""
    xp = xp_of(seq)
    n = seq.shape[-1]
    lo = xp.zeros(vals.shape, _INT64)
    hi = xp.full(vals.shape, n, _INT64)
    for _ in range(n.bit_length() + 1):
        active = lo < hi
        mid = (lo + hi) // 2
        v = xp.take_along_axis(seq, xp.minimum(mid, n - 1), -1)
        go_right = (v <= vals) if right else (v < vals)
        lo = xp.where(active & go_right, mid + 1, lo)
        hi = xp.where(active & ~go_right, mid, hi)
    return lo


def _as_values(values, like):
    """(array, is_scalar) for searchsorted's ``values`` (a Tensor or a Python number)."""
    if isinstance(values, Tensor):
        return values._data, False
    return xp_of(like).asarray(values), True


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, out=None,
                 sorter=None):
    """Indices where ``input`` would be inserted into the innermost rows of
    ``sorted_sequence`` to keep them sorted (``right``/``side='right'``: after equal ones)."""
    seq = sorted_sequence._data
    xp = xp_of(seq)
    if side is not None:
        if side not in ('left', 'right'):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f'got {side}')
        if right and side == 'left':
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               'got side of left while right was True')
        right = side == 'right'
    vals, scalar = _as_values(input, seq)
    if sorter is not None:
        seq = xp.take_along_axis(seq, sorter._data, -1)
    if seq.ndim <= 1:
        r = xp.searchsorted(seq.reshape(-1), vals, side='right' if right else 'left')
    elif scalar or seq.shape[:-1] != vals.shape[:-1]:
        raise RuntimeError('torch.searchsorted(): boundaries tensor should be 1 dimension or the '
                           'first N-1 dimensions of boundaries tensor and input value tensor must '
                           f'match, but we got boundaries tensor {list(seq.shape)} and input value '
                           f'tensor {list(vals.shape)}')
    else:
        r = _batched_searchsorted(seq, vals, right)
    r = xp.asarray(r).astype(np.int32 if out_int32 else _INT64, copy=False)
    return _out(_wrap(r), out)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """Index of the bucket of each element of ``input`` given 1-d sorted ``boundaries``."""
    b = boundaries._data
    if b.ndim != 1:
        raise RuntimeError(f'boundaries tensor must be 1 dimension, but got dim({b.ndim})')
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


# ==== differences ==============================================================================
class Diff(Op):
    """n-th forward difference along ``axis`` of [prepend, a, append] (bool: xor)."""
    backward_name = 'SubBackward0'

    @staticmethod
    def forward(ctx, a, pre, app, n, axis):
        xp = xp_of(a)
        parts = [p for p in (pre, a, app) if p is not None]
        ctx.sizes = [p.shape[axis] for p in (pre, a, app)
                     if p is not None] if len(parts) > 1 else None
        ctx.pieces = (pre is not None, app is not None)
        ctx.axis = axis
        x = xp.concatenate(parts, axis=axis) if len(parts) > 1 else a
        ctx.steps = builtins.min(n, x.shape[axis])   # differences of length-0 rows are no-ops
        for _ in range(n):
            hi, lo = x[_along(axis, slice(1, None))], x[_along(axis, slice(None, -1))]
            x = hi != lo if x.dtype.kind == 'b' else hi - lo
        return x.copy() if x is a else x

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        axis = ctx.axis
        for _ in range(ctx.steps):
            shape = list(g.shape)
            shape[axis] += 1
            up = xp.zeros(shape, g.dtype)
            up[_along(axis, slice(1, None))] += g
            up[_along(axis, slice(None, -1))] -= g
            g = up
        if ctx.sizes is None:
            return g
        splits = np.cumsum(ctx.sizes)[:-1].tolist()
        parts = xp.split(g, splits, axis=axis)
        has_pre, has_app = ctx.pieces
        pre = parts.pop(0) if has_pre else None
        mid = parts.pop(0)
        app = parts.pop(0) if has_app else None
        return mid, pre, app


@tensor_method
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """n-th forward difference along ``dim``, after concatenating ``prepend`` / ``append``."""
    a = input._data
    if a.ndim == 0:
        raise RuntimeError('diff expects input to be at least one-dimensional')
    if n < 0:
        raise RuntimeError(f'order must be non-negative but got {n}')
    for p in (prepend, append):
        if p is not None and p._data.ndim != a.ndim:
            raise RuntimeError('diff expects prepend or append to be the same dimension as input')
    axis = _axis(dim, a.ndim, 'diff')
    return Diff.apply(input, prepend, append, int(n), axis)


class Trapezoid(Op):
    """Trapezoid rule along ``axis``: sum((x[i+1] - x[i]) * (y[i+1] + y[i]) / 2), with
    spacing ``dx`` when ``x`` is None. A 1-d ``x`` runs along ``axis``; others broadcast."""

    @staticmethod
    def forward(ctx, y, x, dx, axis):
        xp = xp_of(y)
        n = y.shape[axis]
        ctx.axis = axis
        ctx.dx = dx
        ctx.n = n
        ctx.x1d = x is not None and x.ndim == 1 and y.ndim > 1
        if x is not None and x.ndim < y.ndim:
            if x.ndim == 1:                      # runs along axis
                x = x.reshape((n,) + (1,) * (y.ndim - axis - 1))
            x = x.reshape((1,) * (y.ndim - x.ndim) + x.shape)
        step = None
        if x is not None and n:
            step = x[_along(axis, slice(1, None))] - x[_along(axis, slice(None, -1))]
        ctx.save_for_backward(y, step)
        if n == 0:
            return xp.zeros(_shape_without(y.shape, axis), y.dtype)
        pair = y[_along(axis, slice(1, None))] + y[_along(axis, slice(None, -1))]
        if step is None:
            return _sum(pair, (axis,)) * (dx / 2)
        return _sum(step * pair, (axis,)) / 2

    @staticmethod
    def backward(ctx, g):
        y, step = ctx.saved
        xp = xp_of(g)
        axis = ctx.axis
        n = ctx.n
        if n == 0:
            return xp.zeros(y.shape, g.dtype), None
        g = xp.expand_dims(g, axis) * 0.5
        w = g * (ctx.dx if step is None else step)
        gy = xp.zeros(w.shape[:axis] + (n,) + w.shape[axis + 1:], g.dtype)
        gy[_along(axis, slice(1, None))] += w
        gy[_along(axis, slice(None, -1))] += w
        gx = None
        if step is not None and ctx.needs_input_grad[1]:
            h = g * (y[_along(axis, slice(1, None))] + y[_along(axis, slice(None, -1))])
            gx = xp.zeros(h.shape[:axis] + (n,) + h.shape[axis + 1:], g.dtype)
            gx[_along(axis, slice(1, None))] += h
            gx[_along(axis, slice(None, -1))] -= h
            if ctx.x1d:
                gx = gx.sum(axis=tuple(i for i in range(gx.ndim) if i != axis))
        return gy, gx


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """Integral of ``y`` along ``dim`` by the trapezoid rule, at points ``x`` (a tensor, 1-d
    or broadcastable) or with constant spacing ``dx`` (default 1)."""
    ya = y._data
    if x is not None and dx is not None:
        raise TypeError('trapezoid() received an invalid combination of arguments - got both '
                        "'x' and 'dx'")
    if x is not None and not isinstance(x, Tensor):
        dx, x = x, None
    if ya.dtype.kind != 'f':
        y = _wrap(ya.astype(_dtype.default_float_np()))
        ya = y._data
    axis = _axis(dim, ya.ndim, 'trapezoid')
    if x is not None:
        xa = x._data
        if xa.ndim == 1 and xa.shape[0] != (ya.shape[axis] if ya.ndim else 1):
            raise RuntimeError('trapezoid: There must be one `x` value for each sample point')
        if xa.dtype.kind != 'f':
            x = _wrap(xa.astype(ya.dtype))
    return Trapezoid.apply(y, x, 1.0 if dx is None else dx, axis)


def trapz(y, x=None, *, dx=None, dim=-1):
    """Alias of ``trapezoid``."""
    return trapezoid(y, x, dx=dx, dim=dim)
