"""Indexing: ``t[...]``, ``t[...] = v``, gather/scatter, index_*, masked_*, take/put, nonzero
and the ``*_scatter`` embeddings.

``t[index]`` follows PyTorch. Integers, slices, None and Ellipsis are applied first (integers
act as ``select``) and give a view registered with ``make_view``. Integer arrays (tensors,
lists, NumPy arrays) and boolean masks then index that view with NumPy's advanced-indexing
layout rules, which are PyTorch's once integers are gone; the result is a copy. Index arrays are
moved to the tensor's device.

Every "pick" (getitem, gather, index_select, take) has as backward an accumulation of the
gradient into zeros at the picked positions, where repeated positions must add up. All of them
reduce to ``_add_rows(z2, rows, vals2)``: ``z2[rows] += vals2`` on a (M, K) view, which uses
NumPy's ``add.at`` for narrow rows and, for wide rows (K >= 32, embedding-like), rounds of
duplicate-free fancy-index updates, several times faster than ``add.at`` there.

Writes (``x[i] = v``, ``scatter_``, ``index_add_``, ``masked_fill_``, ...) share one kernel per
op between the differentiable out-of-place op (kernel applied to a copy) and the in-place
variant, which calls the kernel directly on the tensor's memory when autograd has nothing to
record and goes through ``apply_inplace`` otherwise.
"""
import operator
import warnings
from math import prod

import numpy as np

from .._backend import xp_of, cupy
from .._tensor import Tensor, _wrap, _dim, _NP_NAMES, type_name
from ..autograd.function import Op
from ..autograd.grad_mode import GRAD
from ..autograd.inplace import apply_inplace, make_view, write_into
from ._registry import tensor_method

__all__ = ['gather', 'scatter', 'scatter_add', 'scatter_reduce', 'index_select', 'index_add',
           'index_copy', 'index_fill', 'index_put', 'index_reduce', 'masked_fill',
           'masked_scatter', 'masked_select', 'nonzero', 'argwhere', 'take', 'take_along_dim',
           'put', 'select_scatter', 'slice_scatter', 'diagonal_scatter']

_ndarray = np.ndarray
_int, _slice = int, slice
_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))
_ROW_MIN = 32     # rows at least this wide accumulate by rounds instead of np.add.at
_ROUNDS = 4       # duplicate-free rounds before the remaining duplicates go to np.add.at


def _name(dt):
    """PyTorch's short dtype name in messages: 'Float', 'Long', ..."""
    return _NP_NAMES[np.dtype(dt).name]


# ---- accumulation kernels -----------------------------------------------------------------
def _add_rows(z2, rows, vals2, fresh=False):
    """``z2[rows] += vals2`` with repeated rows summed.

    z2: (M, K), C-contiguous (a view into the target); rows: (n,) integers in [0, M);
    vals2: (n, K). ``fresh``: z2 holds zeros, so first writes may assign.
    """
    if rows.shape[0] == 0 or z2.shape[1] == 0:
        return
    if vals2.dtype != z2.dtype:
        vals2 = vals2.astype(z2.dtype)
    rows = rows.astype(np.intp, copy=False)
    if z2.__class__ is not _ndarray:
        _cuda_add_at(z2, rows, vals2)
        return
    k = z2.shape[1]
    if k < _ROW_MIN:
        lin = rows if k == 1 else (rows[:, None] * k + np.arange(k)).reshape(-1)
        np.add.at(z2.reshape(-1), lin, vals2.reshape(-1))
        return
    _add_rows_by_rounds(z2, rows, vals2, fresh)


def _add_rows_by_rounds(z2, rows, vals2, fresh):
    """Row accumulation in duplicate-free rounds.

    Each round writes the pending ids into a slot table at their rows; the id that ends up in
    a slot (whichever write landed last) is that row's winner. Winners have distinct rows, so
    one fancy-index update adds them; the others wait for the next round. Typical indices need
    a few rounds; duplicates left after ``_ROUNDS`` go to ``np.add.at``.
    """
    n = rows.shape[0]
    slot = np.empty(z2.shape[0], np.intp)
    ids = np.arange(n)
    r = rows
    for i in range(_ROUNDS):
        slot[r] = ids
        win = slot.take(r) == ids
        if win.all():
            wr, wv = r, (vals2 if i == 0 else vals2.take(ids, axis=0))
        else:
            w = ids[win]
            wr, wv = rows.take(w), vals2.take(w, axis=0)
        if fresh and i == 0:
            z2[wr] = wv
        else:
            z2[wr] += wv
        if wr is r:
            return
        ids = ids[~win]
        r = rows.take(ids)
    k = z2.shape[1]
    lin = (r[:, None] * k + np.arange(k)).reshape(-1)
    np.add.at(z2.reshape(-1), lin, vals2.take(ids, axis=0).reshape(-1))


def _cuda_add_at(z, idx, vals):
    """``z[idx] += vals`` with duplicates summed, on the GPU (atomic adds)."""
    import cupyx
    if z.dtype == np.int64:   # two's-complement sums are the same on the unsigned view
        z, vals = z.view(np.uint64), vals.view(np.uint64)
    cupyx.scatter_add(z, idx, vals)


def _reduce_at(ufunc_name, flat, lin, vals):
    """``ufunc.at(flat, lin, vals)`` for add, multiply, maximum, minimum on either device."""
    if flat.__class__ is _ndarray:
        getattr(np, ufunc_name).at(flat, lin, vals)
        return
    import cupyx
    fn = {'add': cupyx.scatter_add, 'maximum': cupyx.scatter_max,
          'minimum': cupyx.scatter_min}.get(ufunc_name)
    if fn is None:
        ufunc = getattr(cupy(), ufunc_name)
        if not hasattr(ufunc, 'at'):
            raise RuntimeError(f"scatter with a '{ufunc_name}' reduction needs cupy.{ufunc_name}"
                               ".at, which this CuPy version lacks")
        ufunc.at(flat, lin, vals)
    else:
        fn(flat, lin, vals)


def _index_add_rows(z, dim, idx, vals, fresh=False):
    """``z`` (C-contiguous, shape S) gets ``vals`` (S with S[dim] -> len(idx)) added at
    positions ``idx`` along ``dim``, repeated positions summed."""
    s = z.shape if z.ndim else (1,)
    pre, m, k, n = prod(s[:dim]), s[dim], prod(s[dim + 1:]), idx.size
    rows = idx.reshape(-1)
    if pre > 1:
        rows = (xp_of(z).arange(pre)[:, None] * m + rows).reshape(-1)
    _add_rows(z.reshape(pre * m, k), rows, vals.reshape(pre * n, k), fresh)


def _c_strides(shape):
    st, acc = [], 1
    for n in reversed(shape):
        st.append(acc)
        acc *= n
    return st[::-1]


def _linear_index(idx, dim, shape):
    """Flat positions, in a C-contiguous array of ``shape``, addressed by gather/scatter:
    ``idx`` along ``dim`` and each element's own coordinates along the other dims."""
    if not shape:
        return idx.astype(np.int64)
    st = _c_strides(shape)
    lin = idx.astype(np.int64) * st[dim]
    xp = xp_of(idx)
    nd = idx.ndim
    for d, n in enumerate(idx.shape):
        if d != dim and n > 1:
            lin += (xp.arange(n) * st[d]).reshape((n,) + (1,) * (nd - d - 1))
    return lin


# ---- argument helpers ---------------------------------------------------------------------
def _on_device(arr, ref):
    """``arr`` on the device of array ``ref``."""
    if arr.__class__ is ref.__class__:
        return arr
    if ref.__class__ is _ndarray:
        return arr.get() if hasattr(arr, 'get') else np.asarray(arr)
    return xp_of(ref).asarray(arr)


def _index_tensor(index, fn, arg='index', pos=3):
    """The array of tensor argument ``index`` (TypeError like PyTorch's for non-tensors)."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{fn}(): argument '{arg}' (position {pos}) must be Tensor, not "
                        f"{type(index).__name__}")
    return index._data


def _checked(idx, size, negative_ok, error):
    """``idx`` with negative entries wrapped (when allowed); ``error(value)`` is raised for the
    first entry out of range."""
    if idx.size == 0:
        return idx
    lo, hi = int(idx.min()), int(idx.max())
    low = -size if negative_ok else 0
    if lo < low or hi >= size:
        bad = idx[(idx < low) | (idx >= size)]
        raise error(int(bad.reshape(-1)[0]))
    if lo < 0:
        idx = xp_of(idx).where(idx < 0, idx + size, idx)
    return idx


def _scalar_value(value, dtype, xp):
    """A Python/NumPy number (or 0-d array) ready to be written into an array of ``dtype``:
    a Python number for floating dtypes, else a 0-d array of ``dtype`` (integers wrap and
    floats truncate, like PyTorch's casts)."""
    if isinstance(value, np.generic):
        value = value.item()
    if dtype.kind == 'f' and value.__class__ in (float, int, bool):
        return value
    return xp.asarray(value).astype(dtype)


def _broadcast_shape(sa, sb):
    """Broadcast shape of ``sa`` and ``sb``; PyTorch's message names them tensor a and b."""
    n = max(len(sa), len(sb))
    a = (1,) * (n - len(sa)) + tuple(sa)
    b = (1,) * (n - len(sb)) + tuple(sb)
    for i in range(n - 1, -1, -1):
        x, y = a[i], b[i]
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f'The size of tensor a ({x}) must match the size of tensor b ({y}) '
                               f'at non-singleton dimension {i}')
    return tuple(y if x == 1 else x for x, y in zip(a, b))


def _records(self, *others):
    """Whether an in-place write on ``self`` must be recorded by autograd."""
    if not GRAD.enabled:
        return False
    if self._rg:
        return True
    v = self._view
    if v is not None and v[0]._rg:
        return True
    for o in others:
        if isinstance(o, Tensor) and o._rg:
            return True
    return False


def _run_inplace(self, op, *args):
    """``self := op(self, *args)`` in place. With nothing to record, ``op.kernel`` writes into
    ``self``'s memory directly; otherwise ``apply_inplace`` keeps the graph right."""
    if _records(self, *args):
        return apply_inplace(self, op.apply, *args)
    raw = [x._data if isinstance(x, Tensor) else x for x in args]
    a = self._data
    if a.flags.c_contiguous and getattr(a.flags, 'writeable', True):
        op.kernel(a, *raw)
    else:
        t = a.copy()
        op.kernel(t, *raw)
        write_into(self, t)
    self._bump()
    return self


def _store_out(out, r):
    from .elementwise import _store_out as store
    return store(out, r)


# ---- parsing t[index] -----------------------------------------------------------------------
_INT, _SLICE, _NONE, _ELL, _ARR, _MASK = range(6)
_NOT_INDEX = ('only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables '
              'are valid indices (got {})')


def _as_items(index):
    """The entries of an index: a tuple's items, or the index itself. Short lists holding
    sequences, slices, None, Ellipsis or tensors count as tuples (deprecated, as in PyTorch)."""
    if isinstance(index, tuple):
        return tuple(index)
    if index.__class__ is list and len(index) < 32:
        for x in index:
            if x is None or x is Ellipsis or isinstance(x, (list, tuple, slice, Tensor,
                                                            np.ndarray)) or \
                    hasattr(x, '__cuda_array_interface__'):
                warnings.warn('Using a non-tuple sequence for multidimensional indexing is '
                              'deprecated; use x[tuple(seq)] instead of x[seq].', UserWarning,
                              stacklevel=4)
                return tuple(index)
    return (index,)


def _array_item(arr, ref, from_tensor):
    """(kind, value) of an array index entry."""
    dt = arr.dtype
    if dt.kind == 'b':
        return _MASK, _on_device(arr, ref)
    if dt == np.uint8:
        warnings.warn('indexing with dtype ember.uint8 is now deprecated, please use a dtype '
                      'ember.bool instead.', UserWarning, stacklevel=4)
        return _MASK, _on_device(arr.astype(bool), ref)
    if from_tensor and dt not in _INDEX_DTYPES:
        raise IndexError('tensors used as indices must be long, int, byte or bool tensors')
    if dt.kind not in 'iuf':
        raise IndexError(_NOT_INDEX.format(f'numpy.ndarray of {dt}'))
    if arr.ndim == 0:
        return _INT, int(arr.item())
    return _ARR, _on_device(arr.astype(np.int64, copy=False), ref)


def _item(x, ref):
    """(kind, value) of one index entry; arrays come back on ``ref``'s device."""
    c = x.__class__
    if c is _int:
        return _INT, x
    if c is _slice:
        return _SLICE, x
    if x is None:
        return _NONE, None
    if x is Ellipsis:
        return _ELL, None
    if c is bool:
        return _MASK, x
    if isinstance(x, Tensor):
        return _array_item(x._data, ref, True)
    if isinstance(x, np.ndarray) or hasattr(x, '__cuda_array_interface__'):
        return _array_item(x, ref, False)
    if isinstance(x, (list, tuple)):
        arr = np.asarray(x)
        if arr.dtype.kind not in 'biuf':
            raise IndexError(_NOT_INDEX.format(type(x).__name__))
        return _array_item(arr, ref, False)
    if isinstance(x, np.bool_):
        raise IndexError(_NOT_INDEX.format('numpy.bool'))
    if isinstance(x, np.integer):
        return _INT, int(x)
    if isinstance(x, str):
        raise TypeError(f"new(): invalid data type '{type(x).__name__}'")
    if isinstance(x, (float, np.floating)):
        name = 'float' if c is float else f'numpy.{type(x).__name__}'
        raise IndexError(_NOT_INDEX.format(name))
    try:
        return _INT, operator.index(x)
    except TypeError:
        raise IndexError(_NOT_INDEX.format(type(x).__name__)) from None


def _slice_item(s, n):
    """Slice with integer bounds; ValueError for zero or negative steps, as PyTorch."""
    start, stop, step = s.start, s.stop, s.step
    if step is not None:
        step = operator.index(step)
        if step == 0:
            raise ValueError('slice step cannot be zero')
        if step < 0:
            raise ValueError('step must be greater than zero')
    if (start is None or start.__class__ is _int) and (stop is None or stop.__class__ is _int):
        return s if step is None or s.step.__class__ is _int else slice(start, stop, step)
    return slice(None if start is None else operator.index(start),
                 None if stop is None else operator.index(stop), step)


def _parse(a, index):
    """Split ``index`` for array ``a``.

    Returns ``(key, adv, name)``: ``key`` holds the ints, slices, None and an Ellipsis (NumPy
    basic indexing: ``a[key]`` is a view, never a scalar); ``adv`` is None or a tuple of
    ``(dim, array, ndim)`` entries, each an int64 array (ndim 1) or a boolean mask covering
    ``ndim`` dims, placed at ``dim`` of that view (see ``_check_adv`` for bounds); ``name``
    names PyTorch's view node for basic indexing.
    """
    items = _as_items(index)
    conv = [_item(x, a) for x in items]
    ndim = a.ndim
    used = 0
    n_ell = 0
    for kind, v in conv:
        if kind is _INT or kind is _SLICE or kind is _ARR:
            used += 1
        elif kind is _MASK:
            used += 0 if v.__class__ is bool else v.ndim
        elif kind is _ELL:
            n_ell += 1
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if used > ndim:
        if ndim == 0 and len(conv) == 1 and conv[0][0] is _INT:
            raise IndexError('invalid index of a 0-dim tensor. Use `tensor.item()` in Python or '
                             '`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number')
        if ndim == 0 and len(conv) == 1 and conv[0][0] is _SLICE:
            raise IndexError('slice() cannot be applied to a 0-dim tensor.')
        raise IndexError(f'too many indices for tensor of dimension {ndim}')
    shape = a.shape
    key = []
    adv = []
    src = vdim = 0
    name = 'Alias'
    single = not isinstance(index, tuple)
    for pos, (kind, v) in enumerate(conv):
        if kind is _INT:
            n = shape[src]
            if not -n <= v < n:
                raise IndexError(f'index {v} is out of bounds for dimension {pos} with size {n}')
            key.append(v)
            src += 1
            name = 'Select'
        elif kind is _SLICE:
            v = _slice_item(v, shape[src])
            key.append(v)
            if single or v.indices(shape[src]) != (0, shape[src], 1):
                name = 'Slice'
            src += 1
            vdim += 1
        elif kind is _NONE:
            key.append(None)
            vdim += 1
            name = 'Unsqueeze'
        elif kind is _ELL:
            n = ndim - used
            key.append(Ellipsis)
            src += n
            vdim += n
        elif kind is _ARR:
            key.append(_slice(None))
            adv.append((vdim, v, 1))
            src += 1
            vdim += 1
        elif v.__class__ is bool or v.ndim == 0:   # a 0-d mask: new axis, kept or emptied
            key.append(None)
            m = xp_of(a).asarray([v]) if v.__class__ is bool else v.reshape(1)
            adv.append((vdim, m, 1))
            vdim += 1
        else:
            k = v.ndim
            key.extend([_slice(None)] * k)
            adv.append((vdim, v, k))
            src += k
            vdim += k
    if n_ell == 0:
        key.append(Ellipsis)
    key = tuple(key)
    if not adv:
        return key, None, name
    return key, _check_adv(a[key].shape, adv), name


def _check_adv(vshape, adv):
    """Advanced entries with mask shapes checked. Integer arrays are bounds-checked (and
    negatives wrapped) here on the GPU only: on the CPU NumPy's indexing raises for them
    (see ``_bounds_error``) and handles negatives itself."""
    out = []
    for j, (d, arr, k) in enumerate(adv):
        if arr.dtype == bool:
            for i in range(k):
                if arr.shape[i] != vshape[d + i]:
                    raise IndexError(f'The shape of the mask {list(arr.shape)} at index {i} does '
                                     f'not match the shape of the indexed tensor {list(vshape)} '
                                     f'at index {d + i}')
        elif arr.__class__ is not _ndarray:
            arr = _checked_entry(arr, vshape[d], j)
        out.append((d, arr, k))
    if len(out) > 1:
        _broadcast_index_shape(out)
    return tuple(out)


def _checked_entry(arr, n, j):
    return _checked(arr, n, True, lambda v: IndexError(
        f'index {v} is out of bounds for dimension {j} with size {n}'))


def _bounds_error(vshape, adv):
    """Raise PyTorch's IndexError for the first out-of-range integer index array, if any."""
    for j, (d, arr, _) in enumerate(adv):
        if arr.dtype != bool:
            _checked_entry(arr, vshape[d], j)


def _parse_basic(a, index):
    """(key, name) of a tuple holding only in-range ints and slices with integer bounds and
    no step or a positive one; None otherwise (the general parser decides)."""
    shape = a.shape
    if len(index) > len(shape):
        return None
    name = 'Alias'
    for n, x in zip(shape, index):
        c = x.__class__
        if c is _int:
            if not -n <= x < n:
                return None
            name = 'Select'
        elif c is _slice:
            st = x.step
            if not ((st is None or (st.__class__ is _int and st > 0))
                    and (x.start is None or x.start.__class__ is _int)
                    and (x.stop is None or x.stop.__class__ is _int)):
                return None
            if x.indices(n) != (0, n, 1):
                name = 'Slice'
        else:
            return None
    return index + (Ellipsis,), name


def _index_shapes(adv):
    """Shapes of the integer index arrays (a mask of ndim k counts as k arrays)."""
    shapes = []
    for _, arr, k in adv:
        if arr.dtype == bool:
            shapes.extend([(int(arr.sum()),)] * k)
        else:
            shapes.append(arr.shape)
    return shapes


def _broadcast_index_shape(adv):
    shapes = _index_shapes(adv)
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise IndexError('shape mismatch: indexing tensors could not be broadcast together with '
                         'shapes ' + ', '.join(str(list(s)) for s in shapes)) from None


def _adv_dims(adv):
    return [d + i for d, _, k in adv for i in range(k)]


def _is_adjacent(dims):
    return dims[-1] - dims[0] == len(dims) - 1


def _region_shape(vshape, adv):
    """Shape of ``view[adv]`` for a view of shape ``vshape``."""
    if adv is None:
        return tuple(vshape)
    b = _broadcast_index_shape(adv)
    dims = _adv_dims(adv)
    if _is_adjacent(dims):
        return tuple(vshape[:dims[0]]) + b + tuple(vshape[dims[-1] + 1:])
    return b + tuple(n for d, n in enumerate(vshape) if d not in dims)


def _adv_key(adv):
    """The NumPy index of the advanced entries (full slices between them)."""
    key = []
    at = 0
    for d, arr, k in adv:
        key.extend([_slice(None)] * (d - at))
        key.append(arr)
        at = d + k
    return tuple(key)


def _pick(v, adv):
    """``v[adv]``: one integer array is a ``take``, the rest NumPy advanced indexing."""
    try:
        if len(adv) == 1 and adv[0][1].dtype != bool:
            d, arr, _ = adv[0]
            return v.take(arr, axis=d)
        return v[_adv_key(adv)]
    except IndexError:
        _bounds_error(v.shape, adv)
        raise


def _region(a, key, adv):
    """The indexed region of ``a`` (a view for basic indexing)."""
    v = a[key]
    return v if adv is None else _pick(v, adv)


def _write_region(a, key, adv, value):
    """``a[key][adv] = value`` (value: array broadcastable to the region, or a scalar)."""
    v = a[key]
    try:
        if adv is None:
            v[...] = value
        else:
            v[_adv_key(adv)] = value
    except IndexError:
        _bounds_error(v.shape, adv)
        raise
    except ValueError as e:
        if 'read-only' not in str(e):
            raise
        raise RuntimeError('unsupported operation: more than one element of the written-to '
                           'tensor refers to a single memory location. Please clone() the tensor '
                           'before performing the operation.') from None


def _add_region(z, key, adv, vals, fresh):
    """``z[key][adv] += vals`` with repeated positions summed; ``vals`` has the region's shape.

    Returns the result: ``z`` itself, or (``fresh`` zeros and a key that keeps ``z`` whole)
    an equal array in another memory layout.
    """
    zv = z[key]
    if adv is None:
        zv += vals
        return z
    if len(adv) == 1 and adv[0][1].dtype == bool:   # a mask picks every position once
        k = _adv_key(adv)
        if fresh:
            zv[k] = vals
        else:
            zv[k] += vals
        return z
    xp = xp_of(z)
    dims, arrays = [], []
    for d, arr, k in adv:
        if arr.dtype == bool:
            dims.extend(range(d, d + k))
            arrays.extend(xp.nonzero(arr))
        else:
            n = zv.shape[d]
            if arr.__class__ is _ndarray:
                arr = _checked_entry(arr, n, len(dims))   # wraps negatives
            dims.append(d)
            arrays.append(arr)
    sizes = [zv.shape[d] for d in dims]
    lin = arrays[-1]
    m = sizes[-1]
    for arr, n in zip(arrays[-2::-1], sizes[-2::-1]):
        lin = lin + arr * m
        m *= n
    if _is_adjacent(dims):   # region = pre + B + post, rows are (pre, position) pairs
        p = dims[0]
        pre, k = prod(zv.shape[:p]), prod(zv.shape[dims[-1] + 1:])
        rows = lin.reshape(-1)
        if pre > 1:
            rows = (xp.arange(pre)[:, None] * m + rows).reshape(-1)
        vals2 = vals.reshape(pre * lin.size, k)
        if zv.flags.c_contiguous:
            _add_rows(zv.reshape(pre * m, k), rows, vals2, fresh)
            return z
        tmp = xp.zeros(zv.shape, z.dtype)
        _add_rows(tmp.reshape(pre * m, k), rows, vals2, True)
    else:                    # region = B + the other dims, in order
        rest = [d for d in range(zv.ndim) if d not in dims]
        rest_shape = [zv.shape[d] for d in rest]
        r = prod(rest_shape)
        tmp = xp.zeros(sizes + rest_shape, z.dtype)
        _add_rows(tmp.reshape(m, r), lin.reshape(-1), vals.reshape(lin.size, r), True)
        order = dims + rest
        tmp = tmp.transpose([order.index(d) for d in range(zv.ndim)])
    if fresh and zv.shape == z.shape and zv.strides == z.strides:
        return tmp
    if fresh:
        zv[...] = tmp
    else:
        zv += tmp
    return z


# ---- t[index] -------------------------------------------------------------------------------
class _BasicIndex(Op):
    """A view by basic indexing; backward writes the gradient into zeros at the same index."""

    @staticmethod
    def forward(ctx, a, key):
        ctx.shape = a.shape
        ctx.key = key
        return a[key]

    @staticmethod
    def backward(ctx, g):
        z = xp_of(g).zeros(ctx.shape, g.dtype)
        z[ctx.key] = g
        return z


class Select(_BasicIndex):
    pass


class Slice(_BasicIndex):
    pass


class Unsqueeze(_BasicIndex):
    pass


class Alias(_BasicIndex):
    pass


_VIEW_OPS = {'Select': Select, 'Slice': Slice, 'Unsqueeze': Unsqueeze, 'Alias': Alias}


class Index(Op):
    """Advanced indexing (a copy); backward accumulates repeated positions."""

    @staticmethod
    def forward(ctx, a, key, adv):
        ctx.shape = a.shape
        ctx.key = key
        ctx.adv = adv
        return _pick(a[key], adv)

    @staticmethod
    def backward(ctx, g):
        z = xp_of(g).zeros(ctx.shape, g.dtype)
        return _add_region(z, ctx.key, ctx.adv, g, True)


_TAKE_KEY = (Ellipsis,)


def _getitem(self, index):
    a = self._data
    c = index.__class__
    if c is _int and a.ndim:   # x[i]
        n = a.shape[0]
        if not -n <= index < n:
            raise IndexError(f'index {index} is out of bounds for dimension 0 with size {n}')
        key = (index, Ellipsis)
        return make_view(Select.apply(self, key), self, operator.itemgetter(key))
    if c is Tensor and a.__class__ is _ndarray:   # x[idx] with an integer index tensor
        i = index._data
        if i.__class__ is _ndarray and i.ndim and a.ndim and i.dtype in _INDEX_DTYPES:
            return Index.apply(self, _TAKE_KEY, ((0, i.astype(np.int64, copy=False), 1),))
    elif c is tuple:
        basic = _parse_basic(a, index)
        if basic is not None:
            key = basic[0]
            return make_view(_VIEW_OPS[basic[1]].apply(self, key), self,
                             operator.itemgetter(key))
    key, adv, name = _parse(a, index)
    if adv is None:
        return make_view(_VIEW_OPS[name].apply(self, key), self, operator.itemgetter(key))
    return Index.apply(self, key, adv)


Tensor.__getitem__ = _getitem


# ---- t[index] = value, index_put ----------------------------------------------------------
class IndexPut(Op):
    """``out = a`` with the region ``[key][adv]`` set to (or, accumulating, increased by)
    ``value``. Gradients: ``g`` with the region zeroed (kept when accumulating) for ``a``, the
    region of ``g`` for ``value``."""

    @staticmethod
    def forward(ctx, a, value, key, adv, accumulate):
        out = a.copy()
        IndexPut.kernel(out, value, key, adv, accumulate)
        ctx.key, ctx.adv, ctx.accumulate = key, adv, accumulate
        ctx.value_ndim = getattr(value, 'ndim', 0)
        return out

    @staticmethod
    def kernel(out, value, key, adv, accumulate):
        xp = xp_of(out)
        if not hasattr(value, 'shape'):
            value = _scalar_value(value, out.dtype, xp)
        if not accumulate:
            _write_region(out, key, adv, value)
            return
        region = _region_shape(out[key].shape, adv)
        value = xp.asarray(value).astype(out.dtype, copy=False)
        vals = xp.broadcast_to(_strip_leading_ones(value, len(region)), region)
        _add_region(out, key, adv, vals, False)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        key, adv = ctx.key, ctx.adv
        ga = gv = None
        if need[0]:
            if ctx.accumulate:
                ga = g
            else:
                ga = g.copy()
                _write_region(ga, key, adv, 0)
        if need[1]:
            gv = _region(g, key, adv)
            if gv.ndim < ctx.value_ndim:
                gv = gv.reshape((1,) * (ctx.value_ndim - gv.ndim) + gv.shape)
        return ga, gv


class _CopySlicesPut(IndexPut):
    backward_name = 'CopySlices'


def _index_put_op(t, value, key, adv, accumulate):
    op = IndexPut if adv is not None or accumulate else _CopySlicesPut
    return op.apply(t, value, key, adv, accumulate)


def _strip_leading_ones(value, ndim):
    """Drop leading size-1 dims of ``value`` beyond ``ndim`` dims (PyTorch allows them)."""
    extra = value.ndim - ndim
    if extra > 0 and all(n == 1 for n in value.shape[:extra]):
        return value.reshape(value.shape[extra:])
    return value


def _check_value_shape(a, vshape, region, advanced):
    """PyTorch's errors for a value that cannot be expanded to the indexed region."""
    s = tuple(vshape)
    while len(s) > len(region) and s[0] == 1:
        s = s[1:]
    fits = len(s) <= len(region) and all(
        x == 1 or x == y for x, y in zip(s[::-1], region[::-1]))
    if fits:
        return
    if advanced:
        raise RuntimeError(f'shape mismatch: value tensor of shape {list(vshape)} cannot be '
                           f'broadcast to indexing result of shape {list(region)}')
    if len(s) > len(region):
        raise RuntimeError(f'expand({type_name(a)}{{{list(vshape)}}}, size={list(region)}): the '
                           f'number of sizes provided ({len(region)}) must be greater or equal '
                           f'to the number of dimensions in the tensor ({len(vshape)})')
    off = len(region) - len(s)
    for i, (x, y) in enumerate(zip(s, region[off:])):
        if x != 1 and x != y:
            raise RuntimeError(f'The expanded size of the tensor ({y}) must match the existing '
                               f'size ({x}) at non-singleton dimension {i + off}.  Target sizes: '
                               f'{list(region)}.  Tensor sizes: {list(s)}')


def _value_operand(self, value):
    """A Tensor on ``self``'s device, or a Python number."""
    if isinstance(value, Tensor):
        if value._data.__class__ is not self._data.__class__:
            value = value.to(self.device)
        return value
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in 'biuf':
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)) or hasattr(value, '__cuda_array_interface__'):
        from .._creation import tensor
        return tensor(np.asarray(value) if isinstance(value, (list, tuple)) else value,
                      dtype=self.dtype, device=self.device)
    raise TypeError(f"can't assign a {type(value).__name__} to a {type_name(self._data)}")


def _check_put_dtype(a, value):
    if value._data.dtype != a.dtype:
        raise RuntimeError('Index put requires the source and destination dtypes match, got '
                           f'{_name(a.dtype)} for the destination and {_name(value._data.dtype)} '
                           'for the source.')


def _setitem(self, index, value):
    a = self._data
    key, adv, _ = _parse(a, index)
    value = _value_operand(self, value)
    if isinstance(value, Tensor):
        if adv is not None:
            _check_put_dtype(a, value)
        vshape = value._data.shape
        if vshape:
            _check_value_shape(a, vshape, _region_shape(a[key].shape, adv), adv is not None)
    if _records(self, value):
        apply_inplace(self, _index_put_op, value, key, adv, False)
        return
    IndexPut.kernel(a, value._data if isinstance(value, Tensor) else value, key, adv, False)
    self._bump()


Tensor.__setitem__ = _setitem


def _index_put_args(self, indices, values, fn):
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"{fn}(): argument 'indices' (position 1) must be tuple of Tensors, not "
                        f"{type(indices).__name__}")
    for i, t in enumerate(indices):
        if not isinstance(t, Tensor):
            raise TypeError(f'expected Tensor as element {i} in argument 0, but got '
                            f'{type(t).__name__}')
    if not isinstance(values, Tensor):
        raise TypeError(f"{fn}(): argument 'values' (position 2) must be Tensor, not "
                        f"{type(values).__name__}")
    a = self._data
    n = sum(t._data.ndim if t._data.dtype.kind == 'b' else 1 for t in indices)
    if n > a.ndim:
        raise IndexError(f'too many indices for tensor of dimension {a.ndim} (got {n})')
    key, adv, _ = _parse(a, tuple(indices))
    values = _value_operand(self, values)
    _check_put_dtype(a, values)
    if values._data.ndim:
        _check_value_shape(a, values._data.shape, _region_shape(a[key].shape, adv), True)
    return key, adv, values


@tensor_method
def index_put(input, indices, values, accumulate=False):
    """``input`` with ``input[indices] = values`` (``+=`` with repeated positions summed when
    ``accumulate``); indices is a tuple of integer or boolean tensors."""
    key, adv, values = _index_put_args(input, indices, values, 'index_put')
    return _index_put_op(input, values, key, adv, bool(accumulate))


@tensor_method
def index_put_(self, indices, values, accumulate=False):
    key, adv, values = _index_put_args(self, indices, values, 'index_put_')
    if _records(self, values):
        return apply_inplace(self, _index_put_op, values, key, adv, bool(accumulate))
    IndexPut.kernel(self._data, values._data, key, adv, bool(accumulate))
    self._bump()
    return self


# ---- gather, scatter --------------------------------------------------------------------------
def _gather_args(a, dim, index, fn='gather'):
    """(dim, index array) for gather: dtype, rank, size and bound checks as PyTorch."""
    idx = _on_device(_index_tensor(index, fn), a)
    if idx.dtype not in _INDEX_DTYPES:
        raise RuntimeError(f'{fn}(): Expected dtype int32/int64 for index')
    d = _dim(dim, a.ndim)
    if max(idx.ndim, 1) != max(a.ndim, 1):
        raise RuntimeError('Index tensor must have the same number of dimensions as input tensor')
    shape = a.shape if a.ndim else (1,)
    if a.ndim and idx.ndim:
        for i, n in enumerate(idx.shape):
            if i != d and n > shape[i]:
                raise RuntimeError(f'Size does not match at dimension {i} expected index '
                                   f'{list(idx.shape)} to be no larger than self {list(a.shape)} '
                                   f'apart from dimension {d}')
    size = shape[d]
    idx = _checked(idx, size, False, lambda v: RuntimeError(
        f'index {v} is out of bounds for dimension {d} with size {size}'))
    return d, idx


def _take_along(a, dim, idx):
    """``out[..i..] = a[..idx[..i..] along dim..]``; idx may be smaller than ``a`` off ``dim``."""
    if a.ndim == 0 or idx.ndim == 0:
        return a.reshape(-1)[idx.reshape(-1)].reshape(idx.shape)
    cut = tuple(_slice(0, n) if i != dim and n < a.shape[i] else _slice(None)
                for i, n in enumerate(idx.shape))
    return xp_of(a).take_along_axis(a[cut], idx, axis=dim)


def _scatter_grad(shape, lin, g):
    """Zeros of ``shape`` with ``g`` added at flat positions ``lin`` (repeats summed)."""
    z = xp_of(g).zeros(shape, g.dtype)
    _add_rows(z.reshape(-1, 1), lin.reshape(-1), g.reshape(-1, 1), True)
    return z


class Gather(Op):
    @staticmethod
    def forward(ctx, a, dim, idx):
        ctx.shape, ctx.dim, ctx.idx = a.shape, dim, idx
        return _take_along(a, dim, idx)

    @staticmethod
    def backward(ctx, g):
        return _scatter_grad(ctx.shape, _linear_index(ctx.idx, ctx.dim, ctx.shape), g)


@tensor_method
def gather(input, dim, index, *, sparse_grad=False, out=None):
    """``out[i][j] = input[i][index[i][j]]`` for dim=1 (and likewise for other dims)."""
    d, idx = _gather_args(input._data, dim, index)
    r = Gather.apply(input, d, idx)
    return r if out is None else _store_out(out, r)


def _scatter_args(a, dim, index, src, fn='scatter'):
    """(dim, index array) for the scatter family, with PyTorch's checks."""
    idx = _on_device(_index_tensor(index, fn), a)
    if idx.dtype not in _INDEX_DTYPES:
        raise RuntimeError(f'{fn}(): Expected dtype int32/int64 for index')
    s = src._data if isinstance(src, Tensor) else None
    if s is not None and s.ndim:
        _dim(dim, s.ndim)
    d = _dim(dim, a.ndim)
    if idx.size == 0:
        return d, idx
    if max(idx.ndim, 1) != max(a.ndim, 1):
        raise RuntimeError('Index tensor must have the same number of dimensions as self tensor')
    if s is not None:
        if max(idx.ndim, 1) != max(s.ndim, 1):
            raise RuntimeError('Index tensor must have the same number of dimensions as src '
                               'tensor')
        if s.dtype != a.dtype:
            raise RuntimeError(f'{"scatter" if fn != "scatter_reduce" else fn}(): Expected '
                               'self.dtype to be equal to src.dtype')
    shape = a.shape if a.ndim else (1,)
    if a.ndim and idx.ndim:
        bad_self = any(i != d and n > shape[i] for i, n in enumerate(idx.shape))
        bad_src = s is not None and s.ndim and any(n > s.shape[i] for i, n in enumerate(idx.shape))
        if bad_self or bad_src:
            msg = (f'Expected index {list(idx.shape)} to be no larger than self {list(a.shape)} '
                   f'apart from dimension {d}')
            if s is not None:
                msg += f' and to be no larger size than src {list(s.shape)}'
            raise RuntimeError(msg)
    size = shape[d]
    idx = _checked(idx, size, False, lambda v: RuntimeError(
        f'index {v} is out of bounds for dimension {d} with size {size}'))
    return d, idx


def _src_part(src, shape):
    """The leading ``shape`` block of ``src`` (scatter reads only as much as the index)."""
    if src.shape == tuple(shape) or src.ndim == 0:
        return src.reshape(shape) if src.ndim == 0 else src
    if len(shape) == 0:
        return src.reshape(-1)[:1].reshape(())
    return src[tuple(_slice(0, n) for n in shape)]


def _pad_to(vals, shape):
    """``vals`` placed in the leading block of zeros of ``shape`` (inverse of _src_part)."""
    if vals.shape == tuple(shape):
        return vals
    z = xp_of(vals).zeros(shape, vals.dtype)
    if z.ndim != vals.ndim:   # a 0-d index reads src's first element
        z.reshape(-1)[:vals.size] = vals.reshape(-1)
    else:
        z[tuple(_slice(0, n) for n in vals.shape)] = vals
    return z


class Scatter(Op):
    """``out = a`` with ``src`` written at the scattered positions."""

    @staticmethod
    def forward(ctx, a, src, dim, idx):
        out = a.copy()
        ctx.lin = Scatter.kernel(out, src, dim, idx)
        ctx.src_shape = src.shape
        return out

    @staticmethod
    def kernel(out, src, dim, idx):
        lin = _linear_index(idx, dim, out.shape)
        out.reshape(-1)[lin] = _src_part(src, idx.shape)
        return lin

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        lin = ctx.lin
        ga = gs = None
        if need[0]:
            ga = g.copy()
            ga.reshape(-1)[lin] = 0
        if need[1]:
            gs = _pad_to(g.reshape(-1)[lin], ctx.src_shape)
        return ga, gs


class ScatterValue(Op):
    """``out = a`` with the number ``value`` written at the scattered positions."""
    backward_name = 'ScatterBackward1'

    @staticmethod
    def forward(ctx, a, value, dim, idx):
        out = a.copy()
        ctx.lin = ScatterValue.kernel(out, value, dim, idx)
        return out

    @staticmethod
    def kernel(out, value, dim, idx):
        lin = _linear_index(idx, dim, out.shape)
        out.reshape(-1)[lin] = _scalar_value(value, out.dtype, xp_of(out))
        return lin

    @staticmethod
    def backward(ctx, g):
        ga = g.copy()
        ga.reshape(-1)[ctx.lin] = 0
        return ga


class ScatterAdd(Op):
    """``out = a`` plus ``src`` summed into the scattered positions."""

    @staticmethod
    def forward(ctx, a, src, dim, idx):
        out = a.copy()
        ctx.lin = ScatterAdd.kernel(out, src, dim, idx)
        ctx.src_shape = src.shape
        return out

    @staticmethod
    def kernel(out, src, dim, idx):
        lin = _linear_index(idx, dim, out.shape)
        _add_rows(out.reshape(-1, 1), lin.reshape(-1), _src_part(src, idx.shape).reshape(-1, 1))
        return lin

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        gs = _pad_to(g.reshape(-1)[ctx.lin], ctx.src_shape) if need[1] else None
        return (g if need[0] else None), gs


_REDUCE_UFUNC = {'sum': 'add', 'mean': 'add', 'prod': 'multiply', 'amax': 'maximum',
                 'amin': 'minimum'}


def _identity(reduce, dtype):
    """Starting value of a reduction that excludes the destination's own value."""
    if reduce in ('sum', 'mean'):
        return 0
    if reduce == 'prod':
        return 1
    if dtype.kind == 'f':
        return -np.inf if reduce == 'amax' else np.inf
    if dtype.kind == 'b':
        return reduce == 'amin'
    info = np.iinfo(dtype)
    return info.min if reduce == 'amax' else info.max


class ScatterReduce(Op):
    """``out = a`` with ``src`` reduced into the scattered positions (sum, prod, mean, amax,
    amin), the destination's own value included when ``include_self``."""

    @staticmethod
    def forward(ctx, a, src, dim, idx, reduce, include_self):
        out = a.copy()
        lin, count = ScatterReduce.kernel(out, src, dim, idx, reduce, include_self)
        ctx.lin, ctx.count, ctx.reduce, ctx.include_self = lin, count, reduce, include_self
        ctx.src_shape = src.shape
        if reduce in ('amax', 'amin', 'prod'):
            ctx.save_for_backward(a, src, out)
        return out

    @staticmethod
    def kernel(out, src, dim, idx, reduce, include_self):
        """Reduce into ``out`` in place; returns (flat positions, group sizes for 'mean')."""
        lin = _linear_index(idx, dim, out.shape)
        flat = out.reshape(-1)
        pos = lin.reshape(-1)
        vals = _src_part(src, idx.shape).reshape(-1)
        if not include_self:
            flat[pos] = _identity(reduce, out.dtype)
        if vals.size:
            _reduce_at(_REDUCE_UFUNC[reduce], flat, pos, vals)
        count = None
        if reduce == 'mean':
            xp = xp_of(out)
            count = xp.bincount(pos, minlength=flat.size).reshape(out.shape)
            if include_self:
                count += 1
            count = xp.maximum(count, 1).astype(out.dtype)
            if out.dtype.kind == 'f':
                out /= count
            else:
                out //= count
        return lin, count

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        reduce, inc, lin = ctx.reduce, ctx.include_self, ctx.lin
        pos = lin.reshape(-1)
        if reduce == 'sum':
            ga, gsrc = g, g.reshape(-1)[lin]
        elif reduce == 'mean':
            ga = g / ctx.count
            gsrc = ga.reshape(-1)[lin]
        elif reduce == 'prod':
            ga, gsrc = _prod_grads(g, ctx, pos)
        else:
            ga, gsrc = _extreme_grads(g, ctx, pos)
        if need[0] and not inc:
            ga = ga.copy()
            ga.reshape(-1)[pos] = 0
        return (ga if need[0] else None), (_pad_to(gsrc, ctx.src_shape) if need[1] else None)


def _extreme_grads(g, ctx, pos):
    """amax/amin: the gradient is shared evenly by every element equal to the result."""
    a, src, out = ctx.saved
    xp = xp_of(g)
    lin = ctx.lin
    src = _src_part(src, lin.shape)
    self_eq = a == out    # counted in ties even when include_self=False, as PyTorch does
    src_eq = src == out.reshape(-1)[lin]
    count = self_eq.astype(g.dtype).reshape(-1)
    _add_rows(count.reshape(-1, 1), pos[src_eq.reshape(-1)],
              xp.ones((int(src_eq.sum()), 1), g.dtype))
    count = count.reshape(g.shape)
    share = g / xp.maximum(count, 1)
    ga = xp.where(self_eq, share, 0)
    gsrc = xp.where(src_eq, share.reshape(-1)[lin], 0)
    return ga, gsrc


def _prod_grads(g, ctx, pos):
    """prod: d/dx of a product is the product of the others, computed with zeros counted
    apart (no division by zero)."""
    a, src, out = ctx.saved
    xp = xp_of(g)
    lin = ctx.lin
    src = _src_part(src, lin.shape)
    nz = xp.where(a == 0, 1, a).astype(g.dtype)        # product of the non-zero members
    zeros = (a == 0).astype(np.int64)                  # number of zero members
    if not ctx.include_self:
        nz.reshape(-1)[pos] = 1
        zeros.reshape(-1)[pos] = 0
    s = src.reshape(-1)
    _reduce_at('multiply', nz.reshape(-1), pos, xp.where(s == 0, 1, s).astype(g.dtype))
    _add_rows(zeros.reshape(-1, 1), pos, (s == 0).astype(np.int64).reshape(-1, 1))

    def others(x, p, z):   # product of the other members of x's group
        return xp.where(z == 0, p / xp.where(x == 0, 1, x), xp.where((x == 0) & (z == 1), p, 0))
    ga = g * others(a, nz, zeros)
    gsrc = g.reshape(-1)[lin] * others(src, nz.reshape(-1)[lin], zeros.reshape(-1)[lin])
    return ga, gsrc


def _scatter_src(value, src, fn):
    """The 4th argument of scatter: a source tensor or a number."""
    if src is not None and value is not None:
        raise TypeError(f'{fn}() received an invalid combination of arguments: both src and '
                        'value given')
    x = src if src is not None else value
    if x is None:
        raise TypeError(f"{fn}() missing required argument 'src' or 'value'")
    if isinstance(x, np.generic):
        x = x.item()
    if not isinstance(x, (Tensor, bool, int, float)):
        raise TypeError(f"{fn}(): argument 'src' must be Tensor or Number, not "
                        f"{type(x).__name__}")
    return x


def _scatter_plan(input, dim, index, x, reduce):
    """(op, args) of a scatter call, after PyTorch's checks."""
    if reduce is not None and reduce not in ('add', 'multiply'):
        raise RuntimeError('reduce argument must be either add or multiply.')
    a = input._data
    if isinstance(x, Tensor):
        x = x.to(input.device) if x._data.__class__ is not a.__class__ else x
    d, idx = _scatter_args(a, dim, index, x)
    if reduce is not None:
        if isinstance(x, Tensor):
            warnings.warn('The reduce argument of torch.scatter with Tensor src is deprecated and '
                          'will be removed in a future PyTorch release. Use torch.scatter_reduce '
                          'instead for more reduction options.', UserWarning, stacklevel=3)
        else:
            x = _wrap(xp_of(a).full(idx.shape, x, a.dtype))
        return ScatterReduce, (x, d, idx, 'sum' if reduce == 'add' else 'prod', True)
    if isinstance(x, Tensor):
        return Scatter, (x, d, idx)
    return ScatterValue, (x, d, idx)


@tensor_method
def scatter(input, dim, index, src=None, value=None, *, reduce=None, out=None):
    """``input`` with ``src`` (or the number ``value``) written at ``index`` along ``dim``:
    ``out[index[i][j]][j] = src[i][j]`` for dim=0; ``reduce`` 'add' or 'multiply' combines."""
    x = _scatter_src(value, src, 'scatter')
    op, args = _scatter_plan(input, dim, index, x, reduce)
    r = op.apply(input, *args)
    return r if out is None else _store_out(out, r)


@tensor_method
def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
    x = _scatter_src(value, src, 'scatter_')
    op, args = _scatter_plan(self, dim, index, x, reduce)
    return _run_inplace(self, op, *args)


def _scatter_add_plan(input, dim, index, src):
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): argument 'src' (position 4) must be Tensor, not "
                        f"{type(src).__name__}")
    if src._data.__class__ is not input._data.__class__:
        src = src.to(input.device)
    d, idx = _scatter_args(input._data, dim, index, src, 'scatter_add')
    return src, d, idx


@tensor_method
def scatter_add(input, dim, index, src, *, out=None):
    """``input`` plus ``src`` summed into ``index`` along ``dim`` (repeats add up)."""
    r = ScatterAdd.apply(input, *_scatter_add_plan(input, dim, index, src))
    return r if out is None else _store_out(out, r)


@tensor_method
def scatter_add_(self, dim, index, src):
    return _run_inplace(self, ScatterAdd, *_scatter_add_plan(self, dim, index, src))


def _scatter_reduce_plan(input, dim, index, src, reduce, include_self):
    if reduce not in _REDUCE_UFUNC:
        raise RuntimeError('reduce argument must be either sum, prod, mean, amax or amin, got '
                           f'{reduce}')
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): argument 'src' (position 4) must be Tensor, not "
                        f"{type(src).__name__}")
    if src._data.__class__ is not input._data.__class__:
        src = src.to(input.device)
    d, idx = _scatter_args(input._data, dim, index, src, 'scatter_reduce')
    return src, d, idx, reduce, bool(include_self)


@tensor_method
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True, out=None):
    """``input`` with ``src`` reduced into ``index`` along ``dim``; reduce is 'sum', 'prod',
    'mean', 'amax' or 'amin' (ties in amax/amin share the gradient evenly)."""
    r = ScatterReduce.apply(input, *_scatter_reduce_plan(input, dim, index, src, reduce,
                                                          include_self))
    return r if out is None else _store_out(out, r)


@tensor_method
def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
    return _run_inplace(self, ScatterReduce,
                        *_scatter_reduce_plan(self, dim, index, src, reduce, include_self))


# ---- take_along_dim, take, put ----------------------------------------------------------------
class TakeAlongDim(Op):
    """gather after broadcasting ``a`` and ``idx`` against each other off ``dim``."""
    backward_name = 'GatherBackward0'

    @staticmethod
    def forward(ctx, a, idx, dim):
        ctx.shape, ctx.dim, ctx.idx = a.shape, dim, idx
        return xp_of(a).take_along_axis(xp_of(a).broadcast_to(a, _along_shape(a, idx, dim)),
                                        idx, axis=dim)

    @staticmethod
    def backward(ctx, g):
        shape = _along_shape(g, ctx.idx, ctx.dim, ctx.shape)
        return _scatter_grad(shape, _linear_index(ctx.idx, ctx.dim, shape), g)


def _along_shape(a, idx, dim, a_shape=None):
    """``a``'s shape broadcast with ``idx``'s shape on every dim but ``dim``."""
    s = list(a.shape if a_shape is None else a_shape)
    for i, n in enumerate(idx.shape):
        if i != dim and s[i] == 1:
            s[i] = n
    return tuple(s)


@tensor_method
def take_along_dim(input, indices, dim=None, *, out=None):
    """``input`` picked at ``indices`` along ``dim`` (inputs broadcast off ``dim``); with
    ``dim=None`` both are flattened first."""
    a = input._data
    idx = _on_device(_index_tensor(indices, 'take_along_dim', 'indices', 2), a)
    if dim is None:
        if idx.dtype not in _INDEX_DTYPES:
            raise RuntimeError('gather(): Expected dtype int32/int64 for index')
        n = a.size
        idx = _checked(idx.reshape(-1), n, False, lambda v: RuntimeError(
            f'index {v} is out of bounds for dimension 0 with size {n}'))
        r = Take.apply(input, idx)
        return r if out is None else _store_out(out, r)
    if idx.dtype != np.int64:
        raise RuntimeError('take_along_dim(): dtype of indices should be Long but got '
                           f'{_name(idx.dtype)}')
    if a.ndim == 0:
        raise IndexError(f'Dimension specified as {dim} but tensor has no dimensions')
    d = _dim(dim, a.ndim)
    if idx.ndim != a.ndim:
        raise RuntimeError('take_along_dim(): input and indices should have the same number of '
                           f'dimensions, but got {a.ndim} dimensions for input, and {idx.ndim} '
                           'dimensions for indices')
    s = list(_broadcast_shape(a.shape[:d] + (1,) + a.shape[d + 1:],
                              idx.shape[:d] + (1,) + idx.shape[d + 1:]))
    idx = xp_of(idx).broadcast_to(idx, tuple(s[:d]) + (idx.shape[d],) + tuple(s[d + 1:]))
    size = a.shape[d]
    idx = _checked(idx, size, True, lambda v: RuntimeError(
        f'index {v} is out of bounds for dimension {d} with size {size}'))
    r = TakeAlongDim.apply(input, idx, d)
    return r if out is None else _store_out(out, r)


class Take(Op):
    """``a`` flattened, picked at ``idx`` (result has ``idx``'s shape)."""

    @staticmethod
    def forward(ctx, a, idx):
        ctx.shape, ctx.idx = a.shape, idx
        return a.reshape(-1).take(idx)

    @staticmethod
    def backward(ctx, g):
        return _scatter_grad(ctx.shape, ctx.idx, g)


def _flat_index(a, index, fn):
    """Index array for take/put: int64, negatives wrapped, within ``a.size``."""
    idx = _on_device(_index_tensor(index, fn, pos=2), a)
    if idx.dtype != np.int64:
        raise RuntimeError(f'{fn}(): Expected a long tensor for index, but got {_name(idx.dtype)}')
    n = a.size
    if n == 0 and idx.size:
        raise IndexError(f'{fn}(): tried to take from an empty tensor')
    return _checked(idx, n, True, lambda v: IndexError(
        f'out of range: tried to access index {v} on a tensor of {n} elements.'))


@tensor_method
def take(input, index, *, out=None):
    """Elements of ``input`` (as if flattened) at ``index``; the result has index's shape."""
    r = Take.apply(input, _flat_index(input._data, index, 'take'))
    return r if out is None else _store_out(out, r)


class Put(Op):
    """``a`` flattened, with ``src`` written (or added) at ``idx``."""

    @staticmethod
    def forward(ctx, a, src, idx, accumulate):
        out = a.copy()
        Put.kernel(out, src, idx, accumulate)
        ctx.idx, ctx.accumulate, ctx.src_shape = idx, accumulate, src.shape
        return out

    @staticmethod
    def kernel(out, src, idx, accumulate):
        flat = out.reshape(-1)
        vals = src.reshape(-1)
        pos = idx.reshape(-1)
        if accumulate:
            _add_rows(flat.reshape(-1, 1), pos, vals.reshape(-1, 1))
        else:
            flat[pos] = vals

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        ga = gs = None
        if need[0]:
            ga = g
            if not ctx.accumulate:
                ga = g.copy()
                ga.reshape(-1)[ctx.idx.reshape(-1)] = 0
        if need[1]:
            gs = g.reshape(-1)[ctx.idx.reshape(-1)].reshape(ctx.src_shape)
        return ga, gs


def _put_plan(self, index, source, accumulate, fn):
    idx = _flat_index(self._data, index, fn)
    if not isinstance(source, Tensor):
        raise TypeError(f"{fn}(): argument 'source' (position 2) must be Tensor, not "
                        f"{type(source).__name__}")
    if source._data.__class__ is not self._data.__class__:
        source = source.to(self.device)
    if source._data.size != idx.size:
        raise IndexError(f'{fn}(): Expected source and index to have the same number of elements, '
                         f'but got source.numel() = {source._data.size}, index.numel() = '
                         f'{idx.size}')
    if source._data.dtype != self._data.dtype:
        raise RuntimeError(f'{fn}(): self and source expected to have the same dtype, but got '
                           f'self.dtype = {_name(self._data.dtype)} and source.dtype = '
                           f'{_name(source._data.dtype)}')
    return source, idx, bool(accumulate)


@tensor_method
def put(input, index, source, accumulate=False):
    """``input`` (as if flattened) with ``source`` written, or added, at ``index``."""
    return Put.apply(input, *_put_plan(input, index, source, accumulate, 'put_'))


@tensor_method
def put_(self, index, source, accumulate=False):
    return _run_inplace(self, Put, *_put_plan(self, index, source, accumulate, 'put_'))


# ---- index_select, index_add, index_copy, index_fill, index_reduce --------------------------
def _vector_index(a, index, fn, dtypes):
    """1-D (or 0-d) index array for the index_* family, on ``a``'s device."""
    idx = _on_device(_index_tensor(index, fn), a)
    if idx.dtype not in dtypes:
        raise RuntimeError(f'{fn}(): Expected dtype int32 or int64 for index')
    return idx


class IndexSelect(Op):
    @staticmethod
    def forward(ctx, a, dim, idx):
        ctx.shape, ctx.dim, ctx.idx = a.shape, dim, idx
        if a.ndim == 0:
            return a.reshape(1).take(idx).reshape(())
        return xp_of(a).take(a, idx, axis=dim)

    @staticmethod
    def backward(ctx, g):
        z = xp_of(g).zeros(ctx.shape, g.dtype)
        _index_add_rows(z, ctx.dim, ctx.idx, g, True)
        return z


@tensor_method
def index_select(input, dim, index, *, out=None):
    """Slices of ``input`` along ``dim`` at the positions in the 1-D ``index``."""
    a = input._data
    idx = _vector_index(a, index, 'index_select', _INDEX_DTYPES)
    if idx.ndim > 1:
        raise IndexError('index_select(): Index is supposed to be a vector')
    d = _dim(dim, a.ndim)
    idx = idx.reshape(-1)
    if a.ndim == 0 and idx.size != 1:
        raise RuntimeError(f'index_select(): Index to scalar can have only 1 value, got '
                           f'{idx.size} value(s)')
    size = a.shape[d] if a.ndim else 1
    if size == 0 and idx.size:
        raise RuntimeError('index_select(): self indexing axis dim should be positive')
    idx = _checked(idx, size, False, lambda v: IndexError('index out of range in self'))
    r = IndexSelect.apply(input, d, idx)
    return r if out is None else _store_out(out, r)


def _index_source_args(self, dim, index, source, fn, dtypes, dtype_msg):
    """(dim, index array, source) for index_add / index_copy / index_reduce, checked."""
    a = self._data
    idx = _on_device(_index_tensor(index, fn), a)
    if idx.dtype not in dtypes:
        raise RuntimeError(dtype_msg.format(_name(idx.dtype)))
    if not isinstance(source, Tensor):
        raise TypeError(f"{fn}(): argument 'source' (position 3) must be Tensor, not "
                        f"{type(source).__name__}")
    if source._data.__class__ is not a.__class__:
        source = source.to(self.device)
    return _dim(dim, a.ndim), idx, source


def _check_source_shape(a, s, d, n, fn):
    """index_add/index_reduce: source must be ``a`` with ``len(index)`` along ``dim``."""
    m = s.shape[d] if s.ndim else 1
    if n != m:
        raise RuntimeError(f'{fn}(): Number of indices ({n}) should be equal to source.size(dim): '
                           f'({m}), for dim: {d}')
    if a.ndim and (s.ndim != a.ndim or any(
            i != d and x != y for i, (x, y) in enumerate(zip(a.shape, s.shape)))):
        raise RuntimeError('source tensor shape must match self tensor shape, excluding the '
                           f'specified dimension. Got self.shape = {list(a.shape)} source.shape '
                           f'= {list(s.shape)}')


class IndexAdd(Op):
    """``out = a`` plus ``alpha * src`` added at ``idx`` along ``dim`` (repeats add up)."""

    @staticmethod
    def forward(ctx, a, src, dim, idx, alpha):
        out = a.copy()
        IndexAdd.kernel(out, src, dim, idx, alpha)
        ctx.dim, ctx.idx, ctx.alpha = dim, idx, alpha
        return out

    @staticmethod
    def kernel(out, src, dim, idx, alpha):
        vals = src if alpha == 1 else (src * alpha).astype(out.dtype, copy=False)
        _index_add_rows(out, dim, idx, vals)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        gs = None
        if need[1]:
            gs = xp_of(g).take(g.reshape(-1) if g.ndim == 0 else g, ctx.idx, axis=ctx.dim)
            if ctx.alpha != 1:
                gs = gs * ctx.alpha
        return (g if need[0] else None), gs


def _index_add_plan(self, dim, index, source, alpha):
    d, idx, src = _index_source_args(self, dim, index, source, 'index_add_', _INDEX_DTYPES,
                                     'index_add_(): Expected dtype int32/int64 for index but '
                                     'got: {}')
    a, s = self._data, src._data
    if idx.ndim > 1:
        raise IndexError(f'index_add_(): Index is supposed to be a vector, but got dim: '
                         f'{idx.ndim} with type: {_name(idx.dtype)} and size: {list(idx.shape)}')
    if s.dtype != a.dtype:
        raise RuntimeError(f'index_add_(): self ({_name(a.dtype)}) and source ({_name(s.dtype)}) '
                           'must have the same scalar type')
    idx = idx.reshape(-1)
    _check_source_shape(a, s, d, idx.size, 'index_add_')
    if a.dtype.kind != 'f' and isinstance(alpha, float):
        raise RuntimeError('For integral input tensors, argument alpha must not be a floating '
                           'point number.')
    size = a.shape[d] if a.ndim else 1
    idx = _checked(idx, size, False, lambda v: RuntimeError(
        f'index {v} is out of bounds for dimension {d} with size {size}'))
    return src, d, idx, alpha


@tensor_method
def index_add(input, dim, index, source, *, alpha=1, out=None):
    """``input`` plus ``alpha * source`` added at ``index`` along ``dim``."""
    r = IndexAdd.apply(input, *_index_add_plan(input, dim, index, source, alpha))
    return r if out is None else _store_out(out, r)


@tensor_method
def index_add_(self, dim, index, source, *, alpha=1):
    return _run_inplace(self, IndexAdd, *_index_add_plan(self, dim, index, source, alpha))


def _dim_key(dim, idx):
    """NumPy key picking ``idx`` along ``dim``."""
    return (_slice(None),) * dim + (idx, Ellipsis)


class IndexCopy(Op):
    """``out = a`` with the slices at ``idx`` along ``dim`` replaced by ``src``'s."""

    @staticmethod
    def forward(ctx, a, src, dim, idx):
        out = a.copy()
        IndexCopy.kernel(out, src, dim, idx)
        ctx.dim, ctx.idx = dim, idx
        return out

    @staticmethod
    def kernel(out, src, dim, idx):
        o = out.reshape(1) if out.ndim == 0 else out
        o[_dim_key(dim, idx)] = src.reshape(1) if src.ndim == 0 else src

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        ga = gs = None
        g1 = g.reshape(1) if g.ndim == 0 else g
        if need[0]:
            ga = g1.copy()
            ga[_dim_key(ctx.dim, ctx.idx)] = 0
            ga = ga.reshape(g.shape)
        if need[1]:
            gs = xp_of(g).take(g1, ctx.idx, axis=ctx.dim)
        return ga, gs


def _index_copy_plan(self, dim, index, source):
    d, idx, src = _index_source_args(self, dim, index, source, 'index_copy_', (np.int64,),
                                     'index_copy_(): Expected a long tensor for index, but got {}')
    a, s = self._data, src._data
    if idx.ndim > 1:
        raise IndexError(f'index_copy_(): Index should have dimension 1 or 0 (got {idx.ndim})')
    if s.dtype != a.dtype:
        raise RuntimeError('index_copy_(): self and source expected to have the same dtype, but '
                           f'got (self) {_name(a.dtype)} and (source) {_name(s.dtype)}')
    if a.ndim and s.ndim and s.ndim != a.ndim:
        raise IndexError('index_copy_(): When source and destination are not scalars, their '
                         f'dimensionality must match. Source dimensionality ({s.ndim}), '
                         f'destination dimensionality ({a.ndim})')
    idx = idx.reshape(-1)
    m = s.shape[d] if s.ndim else 1
    if idx.size != m:
        raise IndexError(f'index_copy_(): Number of indices ({idx.size}) should be equal to '
                         f'source.size(dim) ({m})')
    for i, (x, y) in enumerate(zip(a.shape, s.shape)):
        if i != d and x != y:
            k = i if i < d else i - 1
            raise RuntimeError('index_copy_(): Source/destination tensor must have same slice '
                               f'shapes. Destination slice shape: {x} at dimension {d} and source '
                               f'slice shape: {y} at dimension {k}.')
    size = a.shape[d] if a.ndim else 1
    idx = _checked(idx, size, False, lambda v: IndexError(
        f'index_copy_(): index {v} is out of bounds for dimension {d} with size {size}'))
    return src, d, idx


@tensor_method
def index_copy(input, dim, index, source):
    """``input`` with its slices at ``index`` along ``dim`` replaced by ``source``'s."""
    return IndexCopy.apply(input, *_index_copy_plan(input, dim, index, source))


@tensor_method
def index_copy_(self, dim, index, source):
    return _run_inplace(self, IndexCopy, *_index_copy_plan(self, dim, index, source))


class IndexFill(Op):
    """``out = a`` with the slices at ``idx`` along ``dim`` set to ``value`` (a number or a
    0-d array, differentiable)."""

    @staticmethod
    def forward(ctx, a, value, dim, idx):
        out = a.copy()
        IndexFill.kernel(out, value, dim, idx)
        ctx.dim, ctx.idx = dim, idx
        return out

    @staticmethod
    def kernel(out, value, dim, idx):
        o = out.reshape(1) if out.ndim == 0 else out
        o[_dim_key(dim, idx)] = _scalar_value(value, out.dtype, xp_of(out))

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        xp = xp_of(g)
        g1 = g.reshape(1) if g.ndim == 0 else g
        ga = gv = None
        if need[0]:
            ga = g1.copy()
            ga[_dim_key(ctx.dim, ctx.idx)] = 0
            ga = ga.reshape(g.shape)
        if need[1]:
            filled = xp.zeros(g1.shape[ctx.dim], bool)
            filled[ctx.idx] = True
            gv = xp.asarray(g1[_dim_key(ctx.dim, filled)].sum())
        return ga, gv


def _index_fill_plan(self, dim, index, value):
    a = self._data
    idx = _on_device(_index_tensor(index, 'index_fill'), a)
    if idx.dtype != np.int64:
        raise IndexError('index_fill_(): Expected dtype int64 for index.')
    if idx.ndim > 1:
        raise RuntimeError('Index has to be a vector/scalar')
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError('index_fill_ only supports a 0-dimensional value tensor, but got '
                               f'tensor with {value._data.ndim} dimension(s).')
        if value._data.__class__ is not a.__class__:
            value = value.to(self.device)
    elif isinstance(value, np.generic):
        value = value.item()
    d = _dim(dim, a.ndim)
    size = a.shape[d] if a.ndim else 1
    idx = _checked(idx.reshape(-1), size, True, lambda v: IndexError(
        f'index {v} is out of bounds for dimension {d} with size {size}'))
    return value, d, idx


@tensor_method
def index_fill(input, dim, index, value):
    """``input`` with its slices at ``index`` along ``dim`` set to ``value``."""
    return IndexFill.apply(input, *_index_fill_plan(input, dim, index, value))


@tensor_method
def index_fill_(self, dim, index, value):
    return _run_inplace(self, IndexFill, *_index_fill_plan(self, dim, index, value))


class IndexReduce(ScatterReduce):
    pass


def _index_reduce_plan(self, dim, index, source, reduce, include_self):
    if reduce not in ('prod', 'mean', 'amax', 'amin'):
        raise RuntimeError('index_reduce(): Expected reduce to be one of prod, mean, amax or amin '
                           f'but got {reduce}.')
    d, idx, src = _index_source_args(self, dim, index, source, 'index_reduce_', _INDEX_DTYPES,
                                     'index_reduce_(): Expected dtype int32/int64 for index but '
                                     'got: {}')
    a, s = self._data, src._data
    if idx.ndim > 1:
        raise IndexError(f'index_reduce_(): Index is supposed to be a vector, but got dim: '
                         f'{idx.ndim} with type: {_name(idx.dtype)} and size: {list(idx.shape)}')
    if s.dtype != a.dtype:
        raise RuntimeError(f'index_reduce_(): self ({_name(a.dtype)}) and source '
                           f'({_name(s.dtype)}) must have the same scalar type')
    idx = idx.reshape(-1)
    _check_source_shape(a, s, d, idx.size, 'index_reduce_')
    size = a.shape[d] if a.ndim else 1
    idx = _checked(idx, size, False, lambda v: IndexError('index out of range in self'))
    if s.ndim:   # the same reduction as scatter_reduce with the index spread over src's shape
        idx = xp_of(idx).broadcast_to(idx.reshape((-1,) + (1,) * (s.ndim - d - 1)), s.shape)
    return src, d, idx, reduce, bool(include_self)


@tensor_method
def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """``input`` with ``source``'s slices reduced into the slices at ``index`` along ``dim``;
    reduce is 'prod', 'mean', 'amax' or 'amin'."""
    return IndexReduce.apply(input, *_index_reduce_plan(input, dim, index, source, reduce,
                                                        include_self))


@tensor_method
def index_reduce_(self, dim, index, source, reduce, *, include_self=True):
    return _run_inplace(self, IndexReduce,
                        *_index_reduce_plan(self, dim, index, source, reduce, include_self))


# ---- masked_fill, masked_scatter, masked_select ---------------------------------------------
_C_TYPE = {'int64': 'long int', 'int32': 'int', 'int16': 'short int', 'int8': 'signed char',
           'uint8': 'unsigned char', 'float32': 'float', 'float64': 'double',
           'float16': 'c10::Half'}


def _mask_array(mask, ref, fn):
    m = _on_device(_index_tensor(mask, fn, 'mask', 2), ref)
    if m.dtype != bool:
        if fn == 'masked_fill':
            raise RuntimeError('masked_fill_ only supports boolean masks, but got mask with dtype '
                               f'{_C_TYPE[m.dtype.name]}')
        if fn == 'masked_scatter':
            raise RuntimeError('masked_scatter_ only supports boolean masks, but got mask with '
                               f'dtype {_name(m.dtype)}')
        raise RuntimeError('masked_select: expected BoolTensor for mask')
    return m


class MaskedFill(Op):
    """``value`` where ``mask`` holds, else ``a`` (broadcast); ``value`` may be a 0-d array."""

    @staticmethod
    def forward(ctx, a, mask, value):
        xp = xp_of(a)
        ctx.save_for_backward(mask)
        return xp.where(mask, xp.asarray(_scalar_value(value, a.dtype, xp), a.dtype), a)

    @staticmethod
    def kernel(out, mask, value):
        xp = xp_of(out)
        xp.copyto(out, xp.asarray(_scalar_value(value, out.dtype, xp), out.dtype), where=mask)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        need = ctx.needs_input_grad
        xp = xp_of(g)
        ga = xp.where(mask, 0, g).astype(g.dtype, copy=False) if need[0] else None
        gv = xp.asarray(xp.where(mask, g, 0).sum()) if len(need) > 2 and need[2] else None
        return ga, None, gv


def _masked_fill_plan(self, mask, value, inplace):
    a = self._data
    m = _mask_array(mask, a, 'masked_fill')
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError('masked_fill_ only supports a 0-dimensional value tensor, but got '
                               f'tensor with {value._data.ndim} dimension(s).')
        if value._data.__class__ is not a.__class__:
            value = value.to(self.device)
    elif isinstance(value, np.generic):
        value = value.item()
    shape = _broadcast_shape(m.shape, a.shape)
    if inplace and shape != a.shape:
        raise RuntimeError(f"output with shape {list(a.shape)} doesn't match the broadcast shape "
                           f'{list(shape)}')
    return (mask if m is mask._data else _wrap(m)), value


@tensor_method
def masked_fill(input, mask, value):
    """``value`` (a number or 0-d tensor) where the boolean ``mask`` holds, else ``input``."""
    return MaskedFill.apply(input, *_masked_fill_plan(input, mask, value, False))


@tensor_method
def masked_fill_(self, mask, value):
    return _run_inplace(self, MaskedFill, *_masked_fill_plan(self, mask, value, True))


class MaskedScatter(Op):
    """``a`` (broadcast with ``mask``) with ``src``'s leading elements written, in order, where
    ``mask`` holds."""

    @staticmethod
    def forward(ctx, a, mask, src):
        xp = xp_of(a)
        shape = _broadcast_shape(mask.shape, a.shape)
        out = xp.broadcast_to(a, shape).copy()
        m = xp.broadcast_to(mask, shape)
        ctx.n = MaskedScatter.kernel(out, m, src)
        ctx.src_shape = src.shape
        ctx.save_for_backward(mask)
        return out

    @staticmethod
    def kernel(out, mask, src):
        m = xp_of(out).broadcast_to(mask, out.shape)
        n = int(m.sum())
        if src.size < n:
            raise RuntimeError('Number of elements of source < number of ones in mask')
        out[m] = src.reshape(-1)[:n]
        return n

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        need = ctx.needs_input_grad
        xp = xp_of(g)
        m = xp.broadcast_to(mask, g.shape)
        ga = gs = None
        if need[0]:
            ga = xp.where(m, 0, g).astype(g.dtype, copy=False)
        if len(need) > 2 and need[2]:
            gs = xp.zeros(prod(ctx.src_shape), g.dtype)
            gs[:ctx.n] = g[m]
            gs = gs.reshape(ctx.src_shape)
        return ga, None, gs


def _masked_scatter_plan(self, mask, source, inplace):
    a = self._data
    m = _mask_array(mask, a, 'masked_scatter')
    if not isinstance(source, Tensor):
        raise TypeError("masked_scatter(): argument 'source' (position 2) must be Tensor, not "
                        f'{type(source).__name__}')
    if source._data.__class__ is not a.__class__:
        source = source.to(self.device)
    if source._data.dtype != a.dtype:
        raise RuntimeError('masked_scatter: expected self and source to have same dtypes but got'
                           f'{_name(a.dtype)} and {_name(source._data.dtype)}')
    shape = _broadcast_shape(m.shape, a.shape)
    if inplace and shape != a.shape:
        raise RuntimeError(f"output with shape {list(a.shape)} doesn't match the broadcast shape "
                           f'{list(shape)}')
    return (mask if m is mask._data else _wrap(m)), source


@tensor_method
def masked_scatter(input, mask, source):
    """``input`` with the elements of ``source`` copied, in order, where ``mask`` holds."""
    return MaskedScatter.apply(input, *_masked_scatter_plan(input, mask, source, False))


@tensor_method
def masked_scatter_(self, mask, source):
    return _run_inplace(self, MaskedScatter, *_masked_scatter_plan(self, mask, source, True))


class MaskedSelect(Op):
    """The elements of ``a`` (broadcast with ``mask``) where ``mask`` holds, as a 1-D array."""

    @staticmethod
    def forward(ctx, a, mask):
        xp = xp_of(a)
        shape = _broadcast_shape(mask.shape, a.shape)
        m = xp.broadcast_to(mask, shape)
        ctx.save_for_backward(mask)
        ctx.shape = shape
        return xp.broadcast_to(a, shape)[m]

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        xp = xp_of(g)
        z = xp.zeros(ctx.shape, g.dtype)
        z[xp.broadcast_to(mask, ctx.shape)] = g
        return z


@tensor_method
def masked_select(input, mask, *, out=None):
    """1-D tensor of the elements of ``input`` where the boolean ``mask`` holds."""
    m = _mask_array(mask, input._data, 'masked_select')
    r = MaskedSelect.apply(input, mask if m is mask._data else _wrap(m))
    return r if out is None else _store_out(out, r)


# ---- nonzero, argwhere ------------------------------------------------------------------------
@tensor_method
def nonzero(input, *, out=None, as_tuple=False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or with ``as_tuple`` one
    1-D tensor per dim (a 0-d input counts as 1-D)."""
    a = input._data
    xp = xp_of(a)
    if as_tuple:
        return tuple(_wrap(i.astype(np.int64, copy=False))
                     for i in xp.nonzero(a.reshape(1) if a.ndim == 0 else a))
    if a.ndim == 0:
        r = xp.zeros((int(a != 0), 0), np.int64)
    else:
        r = xp.stack(xp.nonzero(a), axis=1).astype(np.int64, copy=False)
    r = _wrap(r)
    return r if out is None else _store_out(out, r)


@tensor_method
def argwhere(input):
    """Same as ``nonzero(input)``: an (n, ndim) int64 tensor of indices."""
    return nonzero(input)


# ---- select_scatter, slice_scatter, diagonal_scatter ----------------------------------------
class _RegionScatter(Op):
    """``out = a`` with the region ``key`` replaced by ``src``. ``move``: for diagonals, the
    axis where NumPy puts the diagonal (``src`` has it last, as ``diagonal`` does)."""

    @staticmethod
    def forward(ctx, a, src, key, move):
        out = a.copy()
        xp = xp_of(a)
        out[key] = src if move is None else xp.moveaxis(src, -1, move)
        ctx.key, ctx.move = key, move
        return out

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        ga = gs = None
        if need[0]:
            ga = g.copy()
            ga[ctx.key] = 0
        if need[1]:
            gs = g[ctx.key]
            if ctx.move is not None:
                gs = xp_of(g).moveaxis(gs, ctx.move, -1)
        return ga, gs


class SelectScatter(_RegionScatter):
    pass


class SliceScatter(_RegionScatter):
    pass


class DiagonalScatter(_RegionScatter):
    pass


def _region_scatter(op, input, src, key, move=None):
    """Check ``src`` against the region's shape, cast it to ``input``'s dtype, then embed."""
    a = input._data
    if not isinstance(src, Tensor):
        raise TypeError(f"argument 'src' (position 2) must be Tensor, not {type(src).__name__}")
    region = a[key].shape
    if move is not None:
        region = region[:move] + region[move + 1:] + region[move:move + 1]
    if src._data.shape != region:
        raise RuntimeError(f'expected src to have a size equal to the slice of self. src size = '
                           f'{list(src._data.shape)}, slice size = {list(region)}')
    if src._data.__class__ is not a.__class__:
        src = src.to(input.device)
    if src._data.dtype != a.dtype:
        src = src.to(input.dtype)
    return op.apply(input, src, key, move)


@tensor_method
def select_scatter(input, src, dim, index):
    """``input`` with ``src`` embedded at ``input.select(dim, index)``."""
    a = input._data
    d = _dim(dim, a.ndim)
    n = a.shape[d]
    if not -n <= index < n:
        raise IndexError(f'select(): index {index} out of range for tensor of size '
                         f'{list(a.shape)} at dimension {d}')
    return _region_scatter(SelectScatter, input, src, (_slice(None),) * d + (index, Ellipsis))


@tensor_method
def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """``input`` with ``src`` embedded at ``input[..., start:end:step, ...]`` (along dim)."""
    if step is None:
        step = 1
    if step <= 0:
        raise RuntimeError('slice step must be positive')
    d = _dim(dim, input._data.ndim)
    return _region_scatter(SliceScatter, input, src,
                           (_slice(None),) * d + (_slice(start, end, step), Ellipsis))


@tensor_method
def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """``input`` with ``src`` embedded along ``input.diagonal(offset, dim1, dim2)`` (src has the
    diagonal as its last dim)."""
    a = input._data
    d1, d2 = _dim(dim1, a.ndim), _dim(dim2, a.ndim)
    if d1 == d2:
        raise RuntimeError(f'diagonal dimensions cannot be identical {dim1}, {dim2}')
    n1, n2 = a.shape[d1], a.shape[d2]
    length = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    xp = xp_of(a)
    r = xp.arange(length)
    rows, cols = (r, r + offset) if offset >= 0 else (r - offset, r)
    key = [_slice(None)] * a.ndim
    key[d1], key[d2] = rows, cols
    move = min(d1, d2) if abs(d1 - d2) == 1 else 0
    return _region_scatter(DiagonalScatter, input, src, tuple(key), move)
