"""Shape and layout ops.

Views (share memory and version counter with their input, as in PyTorch; registered with
``make_view``): view, reshape (when strides allow), squeeze, unsqueeze, flatten, unflatten,
transpose, permute, t, T/mT/H/mH, movedim, expand, narrow, select, split, chunk, unbind,
tensor_split, diagonal, unfold, as_strided.

Copies: reshape of an incompatible layout, contiguous, repeat, tile, repeat_interleave, cat,
stack and friends, flip, roll, rot90, tril, triu, diag, diag_embed.

Each op's backward works on whole arrays: a reshape is undone by a reshape, a permutation by
the inverse permutation, an expand by a sum, a concatenation by a split, and so on.
"""
import math
import operator
import warnings

import numpy as np

from .. import _dtype
from .._backend import xp_of, device_of
from .._tensor import Tensor, Size, _wrap, _dim, type_name, _NP_NAMES
from ..autograd.function import Op
from ..autograd.grad_mode import GRAD
from ..autograd.inplace import make_view, apply_inplace, _check_leaf
from .copy import Clone
from .elementwise import _store_out
from ._registry import tensor_method, tensor_property

__all__ = ['reshape', 'squeeze', 'unsqueeze', 'flatten', 'unflatten', 'ravel', 'transpose',
           'swapaxes', 'swapdims', 'permute', 't', 'adjoint', 'movedim', 'moveaxis',
           'broadcast_to', 'broadcast_tensors', 'broadcast_shapes', 'tile', 'repeat_interleave',
           'cat', 'concat', 'concatenate', 'stack', 'hstack', 'vstack', 'row_stack', 'dstack',
           'column_stack', 'split', 'tensor_split', 'chunk', 'unbind', 'narrow', 'select',
           'flip', 'fliplr', 'flipud', 'roll', 'rot90', 'tril', 'triu', 'diagonal', 'diag',
           'diag_embed', 'diagflat', 'atleast_1d', 'atleast_2d', 'atleast_3d', 'meshgrid',
           'as_strided']

_ndarray = np.ndarray
_np_as_strided = np.lib.stride_tricks.as_strided
_index = operator.index


# ---- array helpers ------------------------------------------------------------------------
def _strided(a, shape, strides, offset=0, writeable=True):
    """A view of ``a``'s memory: ``shape``, byte ``strides``, starting ``offset`` bytes after
    ``a``'s first element. ``writeable=False`` marks views whose elements overlap."""
    c = a.__class__
    if c is _ndarray:
        if a.flags.c_contiguous:
            out = _ndarray(shape, a.dtype, a, offset, strides)
        else:
            if offset:
                k = offset // a.itemsize
                a = _np_as_strided(a, (k + 1,), (a.itemsize,))[k:]
            out = _np_as_strided(a, shape, strides)
        if not writeable:
            out.flags.writeable = False
        return out
    return c(shape, a.dtype, a.data + offset, strides)


def _view_strides(old_shape, old_strides, new_shape):
    """Strides that let an array of ``old_shape``/``old_strides`` be seen as ``new_shape``
    without a copy, or None when some new dimension would span two separate memory chunks.

    Old dimensions are grouped into chunks that are contiguous among themselves; each chunk
    must be covered exactly by consecutive new dimensions."""
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    base_stride = old_strides[-1]
    chunk_numel = 1
    view_numel = 1
    for d in range(len(old_shape) - 1, -1, -1):
        chunk_numel *= old_shape[d]
        if d == 0 or (old_shape[d - 1] != 1 and old_strides[d - 1] != chunk_numel * base_stride):
            while view_d >= 0 and (view_numel < chunk_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * base_stride
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != chunk_numel:
                return None
            if d > 0:
                base_stride = old_strides[d - 1]
                chunk_numel = 1
                view_numel = 1
    if view_d != -1:
        return None
    return tuple(new_strides)


def _reshape_view(a, shape):
    """``a`` seen as ``shape`` without copying, or None when its strides do not allow it."""
    if a.flags.c_contiguous:
        return a.reshape(shape)
    strides = _view_strides(a.shape, a.strides, shape)
    if strides is None:
        return None
    return _strided(a, shape, strides)


def _overlaps(shape, strides):
    """True when two index tuples may reach the same element (conservative)."""
    if 0 in shape:
        return False
    dims = sorted((abs(s), n) for n, s in zip(shape, strides) if n > 1)
    extent = 0
    for s, n in dims:
        if s <= extent:
            return True
        extent += s * (n - 1)
    return False


def _expanded(a, shape):
    """``a`` broadcast to ``shape`` (a view; read-only where elements repeat)."""
    if a.shape == shape:
        return a.view()
    lead = len(shape) - a.ndim
    strides = [0] * lead
    repeated = lead > 0 and max(shape[:lead]) > 1
    for n, s, st in zip(shape[lead:], a.shape, a.strides):
        if s == n:
            strides.append(st)
        else:
            strides.append(0)
            repeated = True
    return _strided(a, shape, tuple(strides), 0, not repeated or 0 in shape)


def _diag_view(a, offset, d1, d2):
    """The diagonal of ``a`` over dims ``d1``, ``d2`` as a writable view; the diagonal is the
    last dimension of the result, the other dims keep their order."""
    shape, strides = list(a.shape), list(a.strides)
    n1, n2 = shape[d1], shape[d2]
    s1, s2 = strides[d1], strides[d2]
    if offset >= 0:
        length = max(0, min(n1, n2 - offset))
        start = offset * s2 if length else 0
    else:
        length = max(0, min(n1 + offset, n2))
        start = -offset * s1 if length else 0
    for d in (d1, d2) if d1 > d2 else (d2, d1):
        del shape[d], strides[d]
    shape.append(length)
    strides.append(s1 + s2)
    return _strided(a, tuple(shape), tuple(strides), start)


def _unfold_view(a, dim, size, step):
    """Sliding windows of ``size`` every ``step`` along ``dim``, as a new last dimension."""
    if a.ndim == 0:
        return a.reshape(1)
    n, st = a.shape[dim], a.strides[dim]
    count = (n - size) // step + 1
    shape = a.shape[:dim] + (count,) + a.shape[dim + 1:] + (size,)
    strides = a.strides[:dim] + (st * step,) + a.strides[dim + 1:] + (st,)
    return _strided(a, shape, strides, 0, not (step < size and count > 1))


def _ptr(a):
    return a.ctypes.data if a.__class__ is _ndarray else a.data.ptr


def _same(a):
    return a


# ---- argument parsing ---------------------------------------------------------------------
def _ints(args, fn, arg='size'):
    """``(2, 3)``, ``((2, 3),)``, ``([2, 3],)`` or ``(Size,)`` -> a tuple of ints (may be < 0)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    try:
        return tuple([_index(s) for s in args])
    except TypeError:
        for s in args:
            if not hasattr(s, '__index__'):
                raise TypeError(f"{fn}(): argument '{arg}' must be tuple of ints, but found "
                                f'element of type {type(s).__name__}') from None
        raise


def _infer_shape(shape, numel):
    """``shape`` with its -1 entry (if any) filled in so that it holds ``numel`` elements."""
    known = 1
    infer = -1
    for i, s in enumerate(shape):
        if s >= 0:
            known *= s
        elif s == -1:
            if infer >= 0:
                raise RuntimeError('only one dimension can be inferred')
            infer = i
        else:
            raise RuntimeError(f'invalid shape dimension {s} at index {i} of shape {list(shape)}')
    if infer < 0:
        if known == numel:
            return shape
    elif known != 0 and numel % known == 0:
        return shape[:infer] + (numel // known,) + shape[infer + 1:]
    elif known == 0 and numel == 0:
        raise RuntimeError(f'cannot reshape tensor of 0 elements into shape {list(shape)} because '
                           'the unspecified dimension size -1 can be any value and is ambiguous')
    raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")


def _dims(dims, ndim):
    """A dim or a sequence of dims, normalised; RuntimeError on repeats."""
    if not isinstance(dims, (tuple, list)):
        dims = (dims,)
    out = tuple([_dim(_index(d), ndim) for d in dims])
    if len(set(out)) != len(out):
        seen = set()
        d = next(d for d in out if d in seen or seen.add(d))
        raise RuntimeError(f'dim {d} appears multiple times in the list of dims')
    return out


def _same_device(arrays):
    c = arrays[0].__class__
    for a in arrays:
        if a.__class__ is not c:
            raise RuntimeError('Expected all tensors to be on the same device, but found at '
                               f'least two devices, {device_of(arrays[0])} and {device_of(a)}!')


def _common_dtype(arrays):
    dt = arrays[0].dtype
    for a in arrays:
        if a.dtype != dt:
            return _dtype.result_np(*arrays)
    return dt


# ---- reshaping views ----------------------------------------------------------------------
class View(Op):
    """A reshaping of its input (the caller computes the result array ``out``)."""

    @staticmethod
    def forward(ctx, a, out):
        ctx.shape = a.shape
        return out

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class UnsafeView(View):
    """reshape that had to copy."""


class Squeeze(View):
    backward_name = 'SqueezeBackward0'


class SqueezeDim(View):
    backward_name = 'SqueezeBackward1'


class SqueezeDims(View):
    backward_name = 'SqueezeBackward2'


class Unsqueeze(View):
    pass


class SqueezeInplace(View):
    backward_name = 'SqueezeBackward3'


class SqueezeDimInplace(View):
    backward_name = 'SqueezeBackward4'


class SqueezeDimsInplace(View):
    backward_name = 'SqueezeBackward5'


class UnsqueezeInplace(View):
    backward_name = 'UnsqueezeBackward1'


def _view(op, x, out, fn, *meta):
    """``out`` (the array ``fn(x's array)``) as a view of ``x``; ``op`` records it in the graph
    (``op.forward(ctx, a, out, *meta)`` returns ``out``) when ``x`` requires grad."""
    if x._rg and GRAD.enabled:
        return make_view(op.apply(x, out, *meta), x, fn)
    return make_view(_wrap(out), x, fn)


def _reshape(x, shape):
    """``x`` reshaped to the complete ``shape``: a view when strides allow, else a copy."""
    a = x._data
    out = _reshape_view(a, shape)
    if out is None:
        return UnsafeView.apply(x, a.copy().reshape(shape))
    return _view(View, x, out, lambda b: _reshape_view(b, shape))


def _target_shape(args, numel, fn, arg='shape'):
    """The complete shape of ``numel`` elements that size arguments ``args`` ask for."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    for s in args:
        if s.__class__ is not int or s < 0:
            break
    else:
        shape = tuple(args)
        if math.prod(shape) == numel:
            return shape
    return _infer_shape(_ints(args, fn, arg), numel)


def _view_dtype(self, dtype):
    """The same memory reinterpreted as ``dtype`` (no gradient; shares the version counter)."""
    a = self._data
    dt = _dtype.to_np(dtype)
    if dt.itemsize != a.itemsize:
        names = f'{_NP_NAMES[a.dtype.name]} as {_NP_NAMES[dt.name]} (different element sizes)'
        if a.ndim == 0:
            raise RuntimeError(f'self.dim() cannot be 0 to view {names}')
        if a.shape[-1] != 1 and a.strides[-1] != a.itemsize:
            raise RuntimeError(f'self.stride(-1) must be 1 to view {names}, but got '
                               f'{a.strides[-1] // a.itemsize}')
        if dt.itemsize > a.itemsize and (a.shape[-1] * a.itemsize) % dt.itemsize:
            raise RuntimeError(f'self.size(-1) must be divisible by {dt.itemsize // a.itemsize} '
                               f'to view {names}, but got {a.shape[-1]}')
    out = _wrap(a.view(dt))
    vc = self._vc
    if vc is None:
        vc = self._vc = [0]
    out._vc = vc
    return out


@tensor_method
def view(self, *shape, dtype=None, size=None):
    """A view with another shape (one entry may be -1), or ``view(dtype)`` reinterpreting the
    bytes. RuntimeError when the strides do not allow a view (use ``reshape``)."""
    if dtype is not None or (len(shape) == 1 and isinstance(shape[0], _dtype.dtype)):
        return _view_dtype(self, dtype if dtype is not None else shape[0])
    a = self._data
    shape = _target_shape(shape if size is None else (size,), a.size, 'view', 'size')
    out = _reshape_view(a, shape)
    if out is None:
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.")
    return _view(View, self, out, lambda b: _reshape_view(b, shape))


@tensor_method
def view_as(self, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"view_as(): argument 'other' (position 1) must be Tensor, not "
                        f"{type(other).__name__}")
    return view(self, other._data.shape)


@tensor_method
def reshape(input, *args, shape=None):
    """``input`` with another shape (one entry may be -1): a view when the strides allow it,
    otherwise a copy."""
    shape = _target_shape(args if shape is None else (shape,), input._data.size, 'reshape')
    return _reshape(input, shape)


@tensor_method
def reshape_as(self, other):
    return _reshape(self, _infer_shape(tuple(other._data.shape), self._data.size))


def _squeeze_args(a, dim):
    """(squeezed axes, op class index 0/1/2) for squeeze's ``dim`` argument."""
    shape = a.shape
    if dim is None:
        return tuple([i for i, s in enumerate(shape) if s == 1]), 0
    if isinstance(dim, (tuple, list)):
        dims = _dims(dim, a.ndim)
        return (tuple([d for d in dims if shape[d] == 1]) if a.ndim else ()), 2
    d = _dim(_index(dim), a.ndim)
    return ((d,) if a.ndim and shape[d] == 1 else ()), 1


_SQUEEZE_OPS = (Squeeze, SqueezeDim, SqueezeDims)
_SQUEEZE_INPLACE_OPS = (SqueezeInplace, SqueezeDimInplace, SqueezeDimsInplace)


@tensor_method
def squeeze(input, dim=None):
    """A view without size-1 dims (all of them, or those among ``dim``: an int or a tuple)."""
    axes, kind = _squeeze_args(input._data, dim)
    return _view(_SQUEEZE_OPS[kind], input, input._data.squeeze(axes), lambda b: b.squeeze(axes))


def _unsqueeze(x, dim, op):
    d = _dim(_index(dim), x._data.ndim + 1)
    idx = (slice(None),) * d + (None, Ellipsis)
    return _view(op, x, x._data[idx], lambda b: b[idx])


@tensor_method
def unsqueeze(input, dim):
    """A view with a size-1 dim inserted at ``dim`` (in range [-ndim-1, ndim])."""
    return _unsqueeze(input, dim, Unsqueeze)


@tensor_method
def flatten(input, start_dim=0, end_dim=-1):
    """Dims ``start_dim..end_dim`` merged into one (a view when possible; ``input`` itself when
    there is nothing to merge)."""
    a = input._data
    n = a.ndim
    if n == 0:
        _dim(start_dim, 0)
        _dim(end_dim, 0)
        return _reshape(input, (1,))
    s, e = _dim(start_dim, n), _dim(end_dim, n)
    if s > e:
        raise RuntimeError('flatten() has invalid args: start_dim cannot come after end_dim')
    if s == e:
        return input
    shape = a.shape
    return _reshape(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


@tensor_method
def unflatten(input, dim, sizes):
    """Dim ``dim`` split into ``sizes`` (one may be -1); a view."""
    a = input._data
    d = _dim(dim, a.ndim)
    sizes = _ints((sizes,), 'unflatten', 'sizes')
    if not sizes:
        raise RuntimeError('unflatten: sizes must be non-empty')
    n = a.shape[d] if a.ndim else 1
    try:
        sizes = _infer_shape(sizes, n)
    except RuntimeError as e:
        if 'inferred' in str(e):
            raise RuntimeError(f'unflatten got an unexpected error:\n{e}') from None
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {d} ({n}) in the input tensor") from None
    return _reshape(input, a.shape[:d] + sizes + a.shape[d + 1:])


@tensor_method
def ravel(input):
    """A 1-D view when contiguous, else a 1-D view of a contiguous copy."""
    x = input if input._data.flags.c_contiguous else Clone.apply(input)
    return _reshape(x, (x._data.size,))


# ---- transposes and permutations ----------------------------------------------------------
class Transpose(Op):
    @staticmethod
    def forward(ctx, a, out, d0, d1):
        ctx.d0, ctx.d1 = d0, d1
        return out

    @staticmethod
    def backward(ctx, g):
        return g.swapaxes(ctx.d0, ctx.d1) if g.ndim else g


class T(Transpose):
    pass


class TransposeInplace(Transpose):
    backward_name = 'TransposeBackward1'


class TInplace(Transpose):
    backward_name = 'TBackward1'


class Permute(Op):
    @staticmethod
    def forward(ctx, a, out, perm):
        ctx.perm = perm
        return out

    @staticmethod
    def backward(ctx, g):
        perm = ctx.perm
        inverse = [0] * len(perm)
        for i, p in enumerate(perm):
            inverse[p] = i
        return g.transpose(inverse)


def _transpose(x, d0, d1, op=Transpose):
    a = x._data
    if not a.ndim:
        return _view(op, x, a.view(), _same, d0, d1)
    return _view(op, x, a.swapaxes(d0, d1), lambda b: b.swapaxes(d0, d1), d0, d1)


def _permute(x, perm):
    return _view(Permute, x, x._data.transpose(perm), lambda b: b.transpose(perm), perm)


@tensor_method
def transpose(input, dim0, dim1):
    """A view with dims ``dim0`` and ``dim1`` swapped."""
    n = input._data.ndim
    return _transpose(input, _dim(dim0, n), _dim(dim1, n))


@tensor_method
def swapaxes(input, axis0, axis1):
    return transpose(input, axis0, axis1)


@tensor_method
def swapdims(input, dim0, dim1):
    return transpose(input, dim0, dim1)


@tensor_method
def permute(input, *args, dims=None):
    """A view with the dims reordered: ``x.permute(2, 0, 1)`` or ``permute(x, (2, 0, 1))``."""
    dims = _ints(args if dims is None else (dims,), 'permute', 'dims')
    n = input._data.ndim
    if len(dims) != n:
        raise RuntimeError('permute(sparse_coo): number of dimensions in the tensor input does '
                           'not match the length of the desired ordering of dimensions i.e. '
                           f'input.dim() = {n} is not equal to len(dims) = {len(dims)}')
    perm = tuple([_dim(d, n) for d in dims])
    if len(set(perm)) != n:
        raise RuntimeError('permute(): duplicate dims are not allowed.')
    return _permute(input, perm)


def _check_t(x, name):
    n = x._data.ndim
    if n > 2:
        raise RuntimeError(f'{name}() expects a tensor with <= 2 dimensions, but self is {n}D')
    return (0, 1) if n == 2 else (0, 0)


@tensor_method
def t(input):
    """Transpose of a matrix; 0-D and 1-D tensors are returned as views of themselves."""
    d0, d1 = _check_t(input, 't')
    return _transpose(input, d0, d1, T)


@tensor_property('T')
def _T(self):
    n = self._data.ndim
    if n != 2:
        if n == 0:
            warnings.warn('Tensor.T is deprecated on 0-D tensors. This function is the identity '
                          'in these cases.', UserWarning, stacklevel=2)
        else:
            warnings.warn('The use of `x.T` on tensors of dimension other than 2 to reverse their '
                          'shape is deprecated and it will throw an error in a future release. '
                          'Consider `x.mT` to transpose batches of matrices or `x.permute(*ember.'
                          'arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.',
                          UserWarning, stacklevel=2)
    return _permute(self, tuple(range(n - 1, -1, -1)))


def _matrix_transpose(x, what):
    n = x._data.ndim
    if n < 2:
        raise RuntimeError(f'{what} is only supported on matrices or batches of matrices. Got '
                           f'{n}-D tensor.')
    return _transpose(x, n - 2, n - 1)


@tensor_property('mT')
def _mT(self):
    return _matrix_transpose(self, 'tensor.mT')


@tensor_property('mH')
def _mH(self):
    return _matrix_transpose(self, 'tensor.mH')


@tensor_property('H')
def _H(self):
    n = self._data.ndim
    if n != 2:
        hint = '. For batches of matrices, consider using tensor.mH' if n > 2 else '.'
        raise RuntimeError(f'tensor.H is only supported on matrices (2-D tensors). Got {n}-D '
                           f'tensor{hint}')
    return _transpose(self, 0, 1)


@tensor_method
def adjoint(input):
    """Conjugate transpose of the last two dims (ember has no complex dtypes: the transpose)."""
    return _matrix_transpose(input, 'tensor.adjoint()')


@tensor_method
def movedim(input, source, destination):
    """A view with dims ``source`` moved to positions ``destination`` (ints or sequences)."""
    n = input._data.ndim
    src = list(source) if isinstance(source, (tuple, list)) else [source]
    dst = list(destination) if isinstance(destination, (tuple, list)) else [destination]
    if len(src) != len(dst):
        raise RuntimeError(f'movedim: Invalid source or destination dims: source ({src} dims) '
                           f'should contain the same number of dims as destination ({dst} dims)')
    src = [_dim(_index(d), n) for d in src]
    dst = [_dim(_index(d), n) for d in dst]
    for name, ds in (('source', src), ('destination', dst)):
        if len(set(ds)) != len(ds):
            raise RuntimeError(f'movedim: repeated dim in `{name}` ({ds})')
    rest = iter([d for d in range(n) if d not in src])
    placed = dict(zip(dst, src))
    return _permute(input, tuple([placed[i] if i in placed else next(rest) for i in range(n)]))


@tensor_method
def moveaxis(input, source, destination):
    return movedim(input, source, destination)


# ---- in-place metadata changes ------------------------------------------------------------
def _restride(self, make):
    """``self`` becomes the view ``make(self)`` in place: its array, graph node and view
    relation; counts as an in-place change (the version counter moves)."""
    if GRAD.enabled:
        _check_leaf(self)
    r = make(self)
    self._data = r._data
    if r._fn is not None:
        self._fn, self._nr, self._rg = r._fn, r._nr, r._rg
    if self._view is not None:
        self._view = r._view
    self._bump()
    return self


@tensor_method
def squeeze_(self, dim=None):
    axes, kind = _squeeze_args(self._data, dim)
    return _restride(self, lambda x: _view(_SQUEEZE_INPLACE_OPS[kind], x, x._data.squeeze(axes),
                                           lambda b: b.squeeze(axes)))


@tensor_method
def unsqueeze_(self, dim):
    return _restride(self, lambda x: _unsqueeze(x, dim, UnsqueezeInplace))


@tensor_method
def t_(self):
    d0, d1 = _check_t(self, 't_')
    return _restride(self, lambda x: _transpose(x, d0, d1, TInplace))


@tensor_method('transpose_', 'swapaxes_', 'swapdims_')
def transpose_(self, dim0, dim1):
    n = self._data.ndim
    d0, d1 = _dim(dim0, n), _dim(dim1, n)
    return _restride(self, lambda x: _transpose(x, d0, d1, TransposeInplace))


# ---- expand and broadcasting --------------------------------------------------------------
class Expand(Op):
    """A broadcast view (computed by the caller); the gradient is summed back."""

    @staticmethod
    def forward(ctx, a, out):
        ctx.shape = a.shape
        return out

    @staticmethod
    def backward(ctx, g):
        shape = ctx.shape
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple([i + lead for i, s in enumerate(shape)
                                           if s == 1 and g.shape[i + lead] != 1])
        if axes:
            g = g.sum(axis=axes, keepdims=True)
        return g.reshape(shape)


def _expand_shape(a, sizes):
    """The target shape of ``expand(*sizes)`` (-1 keeps a size), with PyTorch's errors."""
    shape = a.shape
    lead = len(sizes) - a.ndim
    if lead < 0:
        raise RuntimeError(f'expand({type_name(a)}{{{list(shape)}}}, size={list(sizes)}): the '
                           f'number of sizes provided ({len(sizes)}) must be greater or equal to '
                           f'the number of dimensions in the tensor ({a.ndim})')
    out = list(sizes)
    for i in range(len(sizes) - 1, -1, -1):
        s = sizes[i]
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a "
                                   f'leading, non-existing dimension {i}')
            continue
        cur = shape[i - lead]
        if s == -1:
            out[i] = cur
        elif s != cur and (cur != 1 or s < 0):
            raise RuntimeError(f'The expanded size of the tensor ({s}) must match the existing '
                               f'size ({cur}) at non-singleton dimension {i}.  Target sizes: '
                               f'{list(sizes)}.  Tensor sizes: {list(shape)}')
    return tuple(out)


def _expand(x, shape):
    return _view(Expand, x, _expanded(x._data, shape), lambda b: _expanded(b, shape))


@tensor_method
def expand(self, *sizes):
    """A view broadcasting size-1 dims (and new leading dims) to ``sizes``; -1 keeps a size.
    Elements are shared: writing to the result in place is an error where they repeat."""
    return _expand(self, _expand_shape(self._data, _ints(sizes, 'expand')))


@tensor_method
def expand_as(self, other):
    return _expand(self, _expand_shape(self._data, tuple(other._data.shape)))


@tensor_method
def broadcast_to(input, shape):
    return _expand(input, _expand_shape(input._data, _ints((shape,), 'broadcast_to', 'shape')))


def _broadcast_pair(acc, shape, error):
    """Broadcast of two shapes, scanned from the last dim; ``error(i, a, b, n, partial)``
    raises on a mismatch at result dim i (``partial``: the result with the dims after i
    already merged)."""
    n = max(len(acc), len(shape))
    out = [1] * (n - len(acc)) + list(acc)
    shape = (1,) * (n - len(shape)) + tuple(shape)
    for i in range(n - 1, -1, -1):
        a, b = out[i], shape[i]
        if a == 1:
            out[i] = b
        elif b != 1 and a != b:
            error(i, a, b, n, out)
    return tuple(out)


def broadcast_shapes(*shapes):
    """The shape that tensors of all ``shapes`` (tuples or ints) broadcast to."""
    result = ()
    for k, s in enumerate(shapes):
        s = (_index(s),) if not isinstance(s, (tuple, list)) else tuple(_index(v) for v in s)

        def error(i, a, b, n, partial, s=s, k=k):
            raise RuntimeError(f'Attempting to broadcast a dimension of length {b} at {i - n}! '
                               f'Mismatching argument at index {k} had {s}; but expected shape '
                               f'should be broadcastable to {partial}')
        result = _broadcast_pair(result, s, error)
    return Size(result)


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape (inputs already of that shape are
    returned as they are)."""
    def error(i, a, b, n, partial):
        raise RuntimeError(f'The size of tensor a ({a}) must match the size of tensor b ({b}) '
                           f'at non-singleton dimension {i}')
    shape = ()
    for t in tensors:
        shape = _broadcast_pair(shape, t._data.shape, error)
    return tuple([t if t._data.shape == shape else _expand(t, shape) for t in tensors])


# ---- repeat -------------------------------------------------------------------------------
class Repeat(Op):
    @staticmethod
    def forward(ctx, a, reps):
        shape = (1,) * (len(reps) - a.ndim) + a.shape
        ctx.shape, ctx.reps = a.shape, reps
        spread = tuple([v for r, s in zip(reps, shape) for v in (r, s)])
        out = xp_of(a).empty(spread, a.dtype)
        out[...] = a.reshape(tuple([v for s in shape for v in (1, s)]))
        return out.reshape(tuple([r * s for r, s in zip(reps, shape)]))

    @staticmethod
    def backward(ctx, g):
        reps, shape = ctx.reps, ctx.shape
        full = (1,) * (len(reps) - len(shape)) + shape
        spread = tuple([v for r, s in zip(reps, full) for v in (r, s)])
        return g.reshape(spread).sum(axis=tuple(range(0, 2 * len(reps), 2))).reshape(shape)


def _repeat(x, reps):
    a = x._data
    if len(reps) < a.ndim:
        raise RuntimeError('Number of dimensions of repeat dims can not be smaller than number '
                           'of dimensions of tensor')
    shape = (1,) * (len(reps) - a.ndim) + a.shape
    out = [r * s for r, s in zip(reps, shape)]
    for n in out:
        if n < 0:
            raise RuntimeError(f'Trying to create tensor with negative dimension {n}: {out}')
    return Repeat.apply(x, reps)


@tensor_method
def repeat(self, *repeats):
    """The tensor tiled ``repeats[i]`` times along each dim (new leading dims allowed)."""
    if not repeats:
        raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
    return _repeat(self, _ints(repeats, 'repeat', 'repeats'))


@tensor_method
def tile(input, *args, dims=None):
    """``repeat`` where fewer reps than dims are padded with leading ones."""
    reps = _ints(args if dims is None else (dims,), 'tile', 'dims')
    return _repeat(input, (1,) * (input._data.ndim - len(reps)) + reps)


class RepeatInterleave(Op):
    """Each element repeated ``r`` times along ``dim`` (PyTorch shows the view it ends with)."""
    backward_name = 'ViewBackward0'

    @staticmethod
    def forward(ctx, a, r, dim):
        ctx.shape, ctx.r, ctx.dim = a.shape, r, dim
        return xp_of(a).repeat(a, r, axis=dim)

    @staticmethod
    def backward(ctx, g):
        s, d = ctx.shape, ctx.dim
        return g.reshape(s[:d] + (s[d], ctx.r) + s[d + 1:]).sum(axis=d + 1)


class RepeatInterleaveTensor(Op):
    """Element i repeated ``repeats[i]`` times along ``dim``."""
    backward_name = 'IndexSelectBackward0'

    @staticmethod
    def forward(ctx, a, repeats, dim):
        ctx.shape, ctx.repeats, ctx.dim = a.shape, repeats, dim
        return a.take(_repeated_index(repeats), axis=dim)

    @staticmethod
    def backward(ctx, g):
        reps, d = ctx.repeats, ctx.dim
        xp = xp_of(g)
        total = g.shape[d]
        if total == 0:
            return xp.zeros(ctx.shape, g.dtype)
        starts = xp.cumsum(reps) - reps
        out = xp.add.reduceat(g, xp.minimum(starts, total - 1), axis=d)
        out[(slice(None),) * d + (reps == 0,)] = 0
        return out


def _repeated_index(counts):
    """[0] * counts[0] + [1] * counts[1] + ... as an int64 array (counts: 1-D, >= 0)."""
    xp = xp_of(counts)
    ends = xp.cumsum(counts)
    total = int(ends[-1]) if ends.size else 0
    return xp.searchsorted(ends, xp.arange(total, dtype=np.int64), side='right')


def _repeats_tensor(repeats):
    r = repeats._data
    if r.ndim > 1:
        raise RuntimeError('repeats must be 0-dim or 1-dim tensor')
    if r.dtype.kind not in 'iu':
        raise NotImplementedError(f'"repeat_interleave_cpu" not implemented for '
                                  f"'{_NP_NAMES[r.dtype.name]}'")
    return r


@tensor_method
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element repeated ``repeats`` times (an int, or a tensor with one count per element)
    along ``dim`` (the flattened input when None). ``repeat_interleave(counts)`` alone gives
    ``arange(len(counts))`` repeated by ``counts``."""
    if repeats is None:
        r = _repeats_tensor(input).reshape(-1)
        if (r < 0).any():
            raise RuntimeError('repeats can not be negative')
        return _wrap(_repeated_index(r))
    x = flatten(input) if dim is None else input
    if x._data.ndim == 0:
        raise IndexError('Dimension out of range (expected to be in range of [-1, 0], but got 1)')
    d = 0 if dim is None else _dim(dim, x._data.ndim)
    n = x._data.shape[d]
    if isinstance(repeats, Tensor):
        r = _repeats_tensor(repeats)
        if r.size == 1:
            r = xp_of(r).full((n,), int(r.reshape(())), np.int64)
        elif r.size != n:
            raise RuntimeError('repeats must have the same size as input along dim, but got '
                               f'repeats.size(0) = {r.size} and input.size({d}) = {n}')
        if (r < 0).any():
            raise RuntimeError('repeats can not be negative')
        if output_size is not None and output_size != int(r.sum()):
            raise RuntimeError('allocated size does not match required size')
        return RepeatInterleaveTensor.apply(x, r.astype(np.int64, copy=False), d)
    repeats = _index(repeats)
    if repeats < 0:
        raise RuntimeError('Repeats must be non-negative')
    if output_size is not None and output_size != n * repeats:
        raise RuntimeError(f'repeat_interleave: Invalid output_size, expected {n * repeats} but '
                           f'got {output_size}')
    return RepeatInterleave.apply(x, repeats, d)


@tensor_method
def contiguous(self, memory_format=None):
    """``self`` when already C-contiguous, else a contiguous copy."""
    if self._data.flags.c_contiguous:
        return self
    return Clone.apply(self)


# ---- joining ------------------------------------------------------------------------------
def _concat(arrays, dim, dt):
    """Arrays (other than 1-D empty ones) cast to ``dt`` and concatenated along ``dim``."""
    kept = [a if a.dtype == dt else a.astype(dt) for a in arrays if a.shape != (0,)]
    if not kept:
        return xp_of(arrays[0]).empty((0,), dt)
    return xp_of(kept[0]).concatenate(kept, axis=dim)


class Cat(Op):
    """Concatenation along ``dim``; 1-D empty inputs are skipped (PyTorch's legacy rule)."""

    @staticmethod
    def forward(ctx, dim, dt, *arrays):
        ctx.dim = dim
        ctx.sizes = [None if a.shape == (0,) else a.shape[dim] for a in arrays]
        return _concat(arrays, dim, dt)

    @staticmethod
    def backward(ctx, g):
        grads = [None, None]
        pre = (slice(None),) * ctx.dim
        start = 0
        for s in ctx.sizes:
            if s is None:
                grads.append(g.reshape(-1)[:0])
            else:
                grads.append(g[pre + (slice(start, start + s),)])
                start += s
        return tuple(grads)


class Stack(Op):
    @staticmethod
    def forward(ctx, dim, dt, *arrays):
        ctx.dim = dim
        return _stacked(arrays, dim, dt)

    @staticmethod
    def backward(ctx, g):
        pre = (slice(None),) * ctx.dim
        return (None, None) + tuple([g[pre + (i, Ellipsis)] for i in range(g.shape[ctx.dim])])


def _stacked(arrays, dim, dt):
    """Arrays of one shape cast to ``dt`` and joined along a new dim ``dim``."""
    idx = (slice(None),) * dim + (None, Ellipsis)
    return xp_of(arrays[0]).concatenate(
        [(a if a.dtype == dt else a.astype(dt))[idx] for a in arrays], axis=dim)


def _join_inputs(tensors, fn):
    """(tensors, their arrays, whether to record a graph) after type and device checks."""
    if isinstance(tensors, Tensor):
        raise TypeError(f"{fn}(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        'Tensor')
    tensors = tuple(tensors)
    arrays = []
    record = False
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f'expected Tensor as element {i} in argument 0, but got '
                            f'{type(t).__name__}')
        arrays.append(t._data)
        record = record or t._rg
    if arrays:
        _same_device(arrays)
    return tensors, arrays, record and GRAD.enabled


def _cat_dim(arrays, dim):
    """The normalised concatenation dim, after PyTorch's shape checks."""
    ref = None
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise RuntimeError(f'zero-dimensional tensor (at position {i}) cannot be '
                               'concatenated')
        if ref is None and a.shape != (0,):
            ref = a
    if ref is None:
        return 0
    d = _dim(dim, ref.ndim)
    rest = ref.shape[:d] + ref.shape[d + 1:]
    for i, a in enumerate(arrays):
        s = a.shape
        if s[:d] + s[d + 1:] == rest and len(s) == ref.ndim or s == (0,):
            continue
        if a.ndim != ref.ndim:
            raise RuntimeError(f'Tensors must have same number of dimensions: got {ref.ndim} '
                               f'and {a.ndim}')
        k = next(k for k in range(ref.ndim) if k != d and ref.shape[k] != s[k])
        raise RuntimeError(f'Sizes of tensors must match except in dimension {d}. Expected size '
                           f'{ref.shape[k]} but got size {s[k]} for tensor number {i} in the '
                           'list.')
    return d


def cat(tensors, dim=0, *, out=None):
    """Concatenation along an existing ``dim``; dtypes promote; 1-D empty tensors are
    skipped."""
    tensors, arrays, record = _join_inputs(tensors, 'cat')
    if not tensors:
        raise ValueError('ember.cat(): expected a non-empty list of Tensors')
    d = _cat_dim(arrays, dim)
    dt = _common_dtype(arrays)
    r = Cat.apply(d, dt, *tensors) if record else _wrap(_concat(arrays, d, dt))
    return r if out is None else _store_out(out, r)


concat = cat


def concatenate(tensors, axis=0, out=None):
    return cat(tensors, axis, out=out)


def stack(tensors, dim=0, *, out=None):
    """The tensors (all of one shape) joined along a new dim ``dim``."""
    tensors, arrays, record = _join_inputs(tensors, 'stack')
    if not tensors:
        raise RuntimeError('stack expects a non-empty TensorList')
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != shape:
            raise RuntimeError(f'stack expects each tensor to be equal size, but got '
                               f'{list(shape)} at entry 0 and {list(a.shape)} at entry {i}')
    d = _dim(dim, len(shape) + 1)
    dt = _common_dtype(arrays)
    r = Stack.apply(d, dt, *tensors) if record else _wrap(_stacked(arrays, d, dt))
    return r if out is None else _store_out(out, r)


def _nonempty(tensors, fn):
    tensors = _join_inputs(tensors, fn)[0]
    if not tensors:
        raise RuntimeError(f'{fn} expects a non-empty TensorList')
    return tensors


def hstack(tensors, *, out=None):
    """Concatenation along dim 1 (dim 0 when all inputs are at most 1-D)."""
    ts = atleast_1d(_nonempty(tensors, 'hstack'))
    return cat(ts, 0 if all(t._data.ndim == 1 for t in ts) else 1, out=out)


def vstack(tensors, *, out=None):
    """Concatenation along dim 0 of the inputs made at least 2-D."""
    return cat(atleast_2d(_nonempty(tensors, 'vstack')), 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None):
    """Concatenation along dim 2 of the inputs made at least 3-D."""
    return cat(atleast_3d(_nonempty(tensors, 'dstack')), 2, out=out)


def column_stack(tensors, *, out=None):
    """0-D and 1-D inputs become columns (n, 1); then concatenation along dim 1."""
    ts = _nonempty(tensors, 'column_stack')
    ts = [_reshape(t, (t._data.size, 1)) if t._data.ndim <= 1 else t for t in ts]
    return cat(ts, 1, out=out)


# ---- splitting ----------------------------------------------------------------------------
class Split(Op):
    """Consecutive pieces of ``dim`` (views computed by the caller); gradients concatenated."""

    @staticmethod
    def forward(ctx, a, outs, dim):
        ctx.dim = dim
        return outs

    @staticmethod
    def backward(ctx, *grads):
        return xp_of(grads[0]).concatenate(grads, axis=ctx.dim)


class SplitWithSizes(Split):
    pass


class Unbind(Op):
    """Every entry of ``dim`` (views computed by the caller); gradients stacked."""

    @staticmethod
    def forward(ctx, a, outs, dim):
        ctx.dim = dim
        return outs

    @staticmethod
    def backward(ctx, *grads):
        return xp_of(grads[0]).stack(grads, axis=ctx.dim)


class Slice(Op):
    """``a[idx]`` for a basic index ``idx`` (a view computed by the caller)."""

    @staticmethod
    def forward(ctx, a, out, idx):
        ctx.idx, ctx.shape = idx, a.shape
        return out

    @staticmethod
    def backward(ctx, g):
        out = xp_of(g).zeros(ctx.shape, g.dtype)
        out[ctx.idx] = g
        return out


class Select(Slice):
    """``a[index]`` along one dim (that dim removed)."""


def _indexed(op, x, idx):
    return _view(op, x, x._data[idx], lambda b: b[idx], idx)


def _views(op, x, idxs, dim):
    """Views ``x[idx]`` for each basic index in ``idxs``, recorded as one multi-output ``op``
    node when ``x`` requires grad."""
    a = x._data
    arrays = tuple([a[i] for i in idxs])
    if x._rg and GRAD.enabled:
        outs = op.apply(x, arrays, dim)
    else:
        outs = tuple([_wrap(o) for o in arrays])
    for o, i in zip(outs, idxs):
        make_view(o, x, lambda b, i=i: b[i])
    return outs


def _split_views(op, x, dim, bounds):
    pre = (slice(None),) * dim
    return _views(op, x, [pre + (slice(s, e),) for s, e in bounds], dim)


def _split(x, size, dim, op=Split):
    a = x._data
    if a.ndim == 0:
        raise RuntimeError('split expects at least a 1-dimensional tensor')
    d = _dim(dim, a.ndim)
    n = a.shape[d]
    if size < 0:
        raise RuntimeError(f'split expects split_size be non-negative, but got split_size={size}')
    if size == 0 and n != 0:
        raise RuntimeError(f'split_size can only be 0 if dimension size is 0, but got dimension '
                           f'size of {n}')
    bounds = [(i, min(i + size, n)) for i in range(0, n, size)] if n else [(0, 0)]
    return _split_views(op, x, d, bounds)


def _split_sizes(x, sizes, dim):
    a = x._data
    if a.ndim == 0:
        raise RuntimeError('split expects at least a 1-dimensional tensor')
    d = _dim(dim, a.ndim)
    n = a.shape[d]
    sizes = [_index(s) for s in sizes]
    if any(s < 0 for s in sizes):
        raise RuntimeError('split_with_sizes expects split_sizes have only non-negative entries, '
                           f'but got split_sizes={sizes}')
    if sum(sizes) != n:
        raise RuntimeError(f'split_with_sizes expects split_sizes to sum exactly to {n} (input '
                           f"tensor's size at dimension {d}), but got split_sizes={sizes}")
    bounds = []
    start = 0
    for s in sizes:
        bounds.append((start, start + s))
        start += s
    return _split_views(SplitWithSizes, x, d, bounds)


def split(tensor, split_size_or_sections, dim=0):
    """Views of consecutive pieces along ``dim``: of ``split_size`` each (the last may be
    smaller), or of the listed sizes."""
    if isinstance(split_size_or_sections, (list, tuple)):
        return _split_sizes(tensor, split_size_or_sections, dim)
    return _split(tensor, _index(split_size_or_sections), dim)


@tensor_method('split')
def _split_method(self, split_size, dim=0):
    return split(self, split_size, dim)


@tensor_method
def chunk(input, chunks, dim=0):
    """At most ``chunks`` views of (nearly) equal size along ``dim``."""
    a = input._data
    if a.ndim == 0:
        raise RuntimeError('chunk expects at least a 1-dimensional tensor')
    if chunks <= 0:
        raise RuntimeError(f'chunk expects `chunks` to be greater than 0, got: {chunks}')
    d = _dim(dim, a.ndim)
    n = a.shape[d]
    if n == 0:
        return _split_views(Split, input, d, [(0, 0)] * chunks)
    return _split(input, -(-n // chunks), d)


@tensor_method
def unbind(input, dim=0):
    """Views of each slice along ``dim`` (that dim removed)."""
    a = input._data
    if a.ndim == 0:
        raise IndexError('Dimension specified as 0 but tensor has no dimensions')
    d = _dim(dim, a.ndim)
    if a.shape[d] == 0:
        return ()
    pre = (slice(None),) * d
    return _views(Unbind, input, [pre + (i, Ellipsis) for i in range(a.shape[d])], d)


def _slice(x, dim, start, stop):
    return _indexed(Slice, x, (slice(None),) * dim + (slice(start, stop),))


@tensor_method
def tensor_split(input, indices_or_sections, dim=0):
    """Views along ``dim``: ``n`` sections of sizes differing by at most one, or the pieces
    between the given indices (Python slice rules)."""
    a = input._data
    if a.ndim == 0:
        raise RuntimeError('tensor_split expected at least a 1-dimensional tensor, but got a '
                           'tensor with 0 dims')
    d = _dim(dim, a.ndim)
    n = a.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        arr = ios._data
        if arr.dtype != np.int64:
            raise RuntimeError('tensor_split expected tensor_indices_or_sections to have dtype '
                               f'of long, but got {_NP_NAMES[arr.dtype.name]}')
        if arr.ndim > 1:
            raise RuntimeError('tensor_split expected tensor_indices_or_sections to be a '
                               'zero-dimensional or one-dimensional tensor, but got a tensor '
                               f'with {arr.ndim} dims')
        ios = int(arr) if arr.ndim == 0 else [int(v) for v in arr.tolist()]
    if isinstance(ios, (list, tuple)):
        cuts = [0] + [_index(i) for i in ios] + [None]
        bounds = [slice(p, q).indices(n)[:2] for p, q in zip(cuts[:-1], cuts[1:])]
    else:
        sections = _index(ios)
        if sections <= 0:
            raise RuntimeError(f'number of sections must be larger than 0, got {sections}')
        q, r = divmod(n, sections)
        bounds = []
        start = 0
        for i in range(sections):
            size = q + (i < r)
            bounds.append((start, start + size))
            start += size
    return tuple([_slice(input, d, s, max(s, e)) for s, e in bounds])


@tensor_method
def narrow(input, dim, start, length):
    """A view of ``length`` entries from ``start`` (may be negative) along ``dim``."""
    a = input._data
    if a.ndim == 0:
        raise RuntimeError('narrow() cannot be applied to a 0-dim tensor.')
    d = _dim(dim, a.ndim)
    n = a.shape[d]
    start, length = _index(start), _index(length)
    if not -n <= start <= n:
        raise IndexError(f'start out of range (expected to be in range of [{-n}, {n}], but got '
                         f'{start})')
    if start < 0:
        start += n
    if length < 0:
        raise RuntimeError('narrow(): length must be non-negative.')
    if start + length > n:
        raise RuntimeError(f'start ({start}) + length ({length}) exceeds dimension size ({n}).')
    return _slice(input, d, start, start + length)


@tensor_method
def select(input, dim, index):
    """A view of entry ``index`` along ``dim`` (that dim removed)."""
    a = input._data
    if a.ndim == 0:
        raise IndexError('select() cannot be applied to a 0-dim tensor.')
    d = _dim(dim, a.ndim)
    i = _index(index)
    n = a.shape[d]
    if not -n <= i < n:
        raise IndexError(f'select(): index {i} out of range for tensor of size {list(a.shape)} '
                         f'at dimension {d}')
    return _indexed(Select, input, (slice(None),) * d + (i % n, Ellipsis))


# ---- reordering copies --------------------------------------------------------------------
class Flip(Op):
    @staticmethod
    def forward(ctx, a, dims):
        idx = tuple([slice(None, None, -1) if i in dims else slice(None)
                     for i in range(a.ndim)]) + (Ellipsis,)
        ctx.idx = idx
        return a[idx].copy()

    @staticmethod
    def backward(ctx, g):
        return g[ctx.idx]


@tensor_method
def flip(input, *args, dims=None):
    """A copy with the order of entries reversed along ``dims``."""
    dims = args if dims is None else (dims,)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    return Flip.apply(input, _dims(tuple(dims), input._data.ndim))


@tensor_method
def fliplr(input):
    if input._data.ndim < 2:
        raise RuntimeError('Input must be >= 2-d.')
    return Flip.apply(input, (1,))


@tensor_method
def flipud(input):
    if input._data.ndim < 1:
        raise RuntimeError('Input must be >= 1-d.')
    return Flip.apply(input, (0,))


class Roll(Op):
    @staticmethod
    def forward(ctx, a, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        if a.ndim == 0:
            return a.copy()
        return xp_of(a).roll(a, shifts, dims)

    @staticmethod
    def backward(ctx, g):
        if g.ndim == 0:
            return g
        s = ctx.shifts
        return xp_of(g).roll(g, tuple([-v for v in s]) if isinstance(s, tuple) else -s, ctx.dims)


@tensor_method
def roll(input, shifts, dims=None):
    """Entries shifted cyclically by ``shifts`` along ``dims`` (the flattened tensor when
    ``dims`` is None)."""
    n = input._data.ndim
    shifts = tuple([_index(s) for s in shifts]) if isinstance(shifts, (tuple, list)) else (
        _index(shifts),)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f'shifts and dimensions must align. shifts: {len(shifts)}, dims:0')
        return Roll.apply(input, shifts[0], None)
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if n == 0:
        raise IndexError(f'Dimension specified as {dims[0]} but tensor has no dimensions')
    if len(shifts) != len(dims):
        raise RuntimeError(f'shifts and dimensions must align. shifts: {len(shifts)}, '
                           f'dims:{len(dims)}')
    return Roll.apply(input, shifts, tuple([_dim(_index(d), n) for d in dims]))


def _rot90_array(a, k, d0, d1):
    """``a`` rotated by k quarter turns from dim d0 towards d1 (k in 0..3)."""
    if k == 0:
        return a.copy()
    if k == 2:
        idx = [slice(None)] * a.ndim
        idx[d0] = idx[d1] = slice(None, None, -1)
        return a[tuple(idx)].copy()
    idx = [slice(None)] * a.ndim
    idx[d1 if k == 1 else d0] = slice(None, None, -1)
    return a[tuple(idx)].copy().swapaxes(d0, d1)


class Rot90(Op):
    @staticmethod
    def forward(ctx, a, k, d0, d1):
        ctx.k, ctx.d0, ctx.d1 = k, d0, d1
        return _rot90_array(a, k, d0, d1)

    @staticmethod
    def backward(ctx, g):
        return _rot90_array(g, (4 - ctx.k) % 4, ctx.d0, ctx.d1)


@tensor_method
def rot90(input, k=1, dims=(0, 1)):
    """A copy rotated by ``k`` quarter turns in the plane of ``dims`` (from the first towards
    the second)."""
    dims = tuple(dims)
    n = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f'expected total rotation dims == 2, but got dims = {len(dims)}')
    if n < 2:
        raise RuntimeError(f'expected total dims >= 2, but got total dims = {n}')
    d0, d1 = _dim(dims[0], n), _dim(dims[1], n)
    if d0 == d1:
        raise RuntimeError(f'expected rotation dims to be different, but got dim0 = {dims[0]} and '
                           f'dim1 = {dims[1]}')
    return Rot90.apply(input, _index(k) % 4, d0, d1)


class Tril(Op):
    @staticmethod
    def forward(ctx, a, k):
        ctx.k = k
        return xp_of(a).tril(a, k)

    @staticmethod
    def backward(ctx, g):
        return xp_of(g).tril(g, ctx.k)


class Triu(Op):
    @staticmethod
    def forward(ctx, a, k):
        ctx.k = k
        return xp_of(a).triu(a, k)

    @staticmethod
    def backward(ctx, g):
        return xp_of(g).triu(g, ctx.k)


def _triangle(op, name, input, diagonal, out):
    if input._data.ndim < 2:
        raise RuntimeError(f'{name}: input tensor must have at least 2 dimensions')
    r = op.apply(input, _index(diagonal))
    return r if out is None else _store_out(out, r)


@tensor_method
def tril(input, diagonal=0, *, out=None):
    """The lower triangle (entries with column - row <= ``diagonal``) of the last two dims."""
    return _triangle(Tril, 'tril', input, diagonal, out)


@tensor_method
def triu(input, diagonal=0, *, out=None):
    """The upper triangle (entries with column - row >= ``diagonal``) of the last two dims."""
    return _triangle(Triu, 'triu', input, diagonal, out)


@tensor_method
def tril_(self, diagonal=0):
    return apply_inplace(self, tril, diagonal)


@tensor_method
def triu_(self, diagonal=0):
    return apply_inplace(self, triu, diagonal)


# ---- diagonals ----------------------------------------------------------------------------
class Diagonal(Op):
    """The diagonal over two dims as a view (moved to the last dim; computed by the caller)."""

    @staticmethod
    def forward(ctx, a, out, offset, d1, d2):
        ctx.shape, ctx.args = a.shape, (offset, d1, d2)
        return out

    @staticmethod
    def backward(ctx, g):
        out = xp_of(g).zeros(ctx.shape, g.dtype)
        _diag_view(out, *ctx.args)[...] = g
        return out


class DiagonalCopy(Diagonal):
    backward_name = 'DiagonalBackward0_copy'

    @staticmethod
    def forward(ctx, a, out, offset, d1, d2):
        ctx.shape, ctx.args = a.shape, (offset, d1, d2)
        return out.copy()


class DiagEmbed(Op):
    """Last dim of the input placed on the diagonal (offset, d1, d2) of a zero tensor."""

    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        ctx.args = (offset, d1, d2)
        n = (a.shape[-1] if a.ndim else 1) + abs(offset)
        shape = list(a.shape[:-1])
        for d in sorted((d1, d2)):
            shape.insert(d, n)
        out = xp_of(a).zeros(tuple(shape), a.dtype)
        _diag_view(out, offset, d1, d2)[...] = a
        return out

    @staticmethod
    def backward(ctx, g):
        return _diag_view(g, *ctx.args)


def _diag_dims(dim1, dim2, n):
    d1, d2 = _dim(dim1, n), _dim(dim2, n)
    if d1 == d2:
        raise RuntimeError(f'diagonal dimensions cannot be identical {dim1}, {dim2}')
    return d1, d2


@tensor_method
def diagonal(input, offset=0, dim1=0, dim2=1):
    """A view of the diagonal ``offset`` (above the main one when > 0) over ``dim1``, ``dim2``,
    as the last dim of the result."""
    d1, d2 = _diag_dims(dim1, dim2, input._data.ndim)
    offset = _index(offset)
    return _view(Diagonal, input, _diag_view(input._data, offset, d1, d2),
                 lambda b: _diag_view(b, offset, d1, d2), offset, d1, d2)


@tensor_method
def diag(input, diagonal=0, *, out=None):
    """1-D input: a square matrix with it on diagonal ``diagonal``; 2-D: a copy of that
    diagonal."""
    n = input._data.ndim
    k = _index(diagonal)
    if n == 1:
        r = DiagEmbed.apply(input, k, 0, 1)
    elif n == 2:
        r = DiagonalCopy.apply(input, _diag_view(input._data, k, 0, 1), k, 0, 1)
    else:
        raise RuntimeError(f'diag(): Supports 1D or 2D tensors. Got {n}D')
    return r if out is None else _store_out(out, r)


@tensor_method
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor with one more dim whose diagonals (over ``dim1``, ``dim2``) hold the input's
    last dim."""
    d1, d2 = _diag_dims(dim1, dim2, input._data.ndim + 1)
    return DiagEmbed.apply(input, _index(offset), d1, d2)


@tensor_method
def diagflat(input, offset=0):
    """A square matrix with the flattened input on diagonal ``offset``."""
    return DiagEmbed.apply(flatten(input), _index(offset), 0, 1)


# ---- at-least-n-d and meshgrid ------------------------------------------------------------
def _atleast(tensors, make):
    if len(tensors) == 1:
        tensors = tensors[0]
        if isinstance(tensors, Tensor):
            return make(tensors)
    return tuple([make(t) for t in tensors])


def _at1(t):
    return _reshape(t, (1,)) if t._data.ndim == 0 else t


def _at2(t):
    n = t._data.ndim
    return _reshape(t, (1, 1)) if n == 0 else (unsqueeze(t, 0) if n == 1 else t)


def _at3(t):
    n = t._data.ndim
    if n == 0:
        return _reshape(t, (1, 1, 1))
    if n == 1:
        return unsqueeze(unsqueeze(t, 0), -1)
    return unsqueeze(t, -1) if n == 2 else t


def atleast_1d(*tensors):
    """Each tensor viewed with at least 1 dim (a tuple for several tensors)."""
    return _atleast(tensors, _at1)


def atleast_2d(*tensors):
    """Each tensor viewed with at least 2 dims (1-D (n,) becomes (1, n))."""
    return _atleast(tensors, _at2)


def atleast_3d(*tensors):
    """Each tensor viewed with at least 3 dims ((n,) -> (1, n, 1); (m, n) -> (m, n, 1))."""
    return _atleast(tensors, _at3)


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 0-D/1-D tensors: output i varies along dim i ('ij', the default)
    or with the first two dims swapped ('xy'); each output is an expanded view."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        indexing = 'ij'
    if indexing not in ('ij', 'xy'):
        raise RuntimeError(f'ember.meshgrid: indexing must be one of "xy" or "ij", but received: '
                           f'{indexing}')
    if not tensors:
        raise RuntimeError('meshgrid expects a non-empty TensorList')
    for t in tensors:
        if t._data.ndim > 1:
            raise RuntimeError('ember.meshgrid: Expected 0D or 1D tensor in the tensor list but '
                               f'got a {t._data.ndim}-D tensor')
        if t._data.dtype != tensors[0]._data.dtype:
            raise RuntimeError('meshgrid expects all tensors to have the same dtype')
    _same_device([t._data for t in tensors])
    n = len(tensors)
    axis = list(range(n))
    if indexing == 'xy' and n >= 2:
        axis[0], axis[1] = 1, 0
    shape = [0] * n
    for i, t in enumerate(tensors):
        shape[axis[i]] = t._data.size
    shape = tuple(shape)
    outs = []
    for i, t in enumerate(tensors):
        s = [1] * n
        s[axis[i]] = t._data.size
        outs.append(_expand(_reshape(t, tuple(s)), shape))
    return tuple(outs)


# ---- strided views ------------------------------------------------------------------------
class Unfold(Op):
    """Sliding windows as a view; overlapping windows' gradients add up."""

    @staticmethod
    def forward(ctx, a, out, dim, size, step):
        ctx.shape, ctx.args = a.shape, (dim, size, step)
        return out

    @staticmethod
    def backward(ctx, g):
        dim, size, step = ctx.args
        if not ctx.shape:
            return g.reshape(())
        out = xp_of(g).zeros(ctx.shape, g.dtype)
        count = g.shape[dim]
        if step >= size or count <= 1:
            _unfold_view(out, dim, size, step)[...] = g
            return out
        pre = (slice(None),) * dim
        for k in range(size):
            out[pre + (slice(k, k + step * (count - 1) + 1, step),)] += g[..., k]
        return out


@tensor_method
def unfold(self, dimension, size, step):
    """A view of all windows of ``size`` entries every ``step`` along ``dimension``; the windows
    form a new last dim. Overlapping windows are read-only (PyTorch allows writing into them
    with order-dependent results)."""
    a = self._data
    d = _dim(dimension, a.ndim)
    n = a.shape[d] if a.ndim else 1
    size, step = _index(size), _index(step)
    if size < 0:
        raise RuntimeError(f'size is {size} but must be >= 0')
    if size > n:
        raise RuntimeError(f'maximum size for tensor at dimension {d} is {n} but size is {size}')
    if step <= 0:
        raise RuntimeError(f'step is {step} but must be > 0')
    return _view(Unfold, self, _unfold_view(a, d, size, step),
                 lambda b: _unfold_view(b, d, size, step), d, size, step)


class AsStrided(Op):
    """A view of the storage with explicit sizes, strides and offset (computed by the caller).
    Backward scatters into a storage-sized gradient and gathers the input's elements."""

    @staticmethod
    def forward(ctx, a, out, geometry):
        ctx.geometry = geometry
        return out

    @staticmethod
    def backward(ctx, g):
        size, stride, offset, in_shape, in_stride, in_offset, storage = ctx.geometry
        xp = xp_of(g)
        where = _positions(xp, size, stride, offset)
        flat = xp.bincount(where.reshape(-1), weights=g.reshape(-1).astype(np.float64),
                           minlength=storage)
        return flat[_positions(xp, in_shape, in_stride, in_offset)].astype(g.dtype)


def _positions(xp, shape, strides, offset):
    """Storage index (in elements) of every element of a strided layout."""
    pos = xp.full(shape, offset, np.int64)
    for k, (n, s) in enumerate(zip(shape, strides)):
        step = xp.arange(n, dtype=np.int64) * s
        pos += step.reshape((n,) + (1,) * (len(shape) - k - 1))
    return pos


def _storage(a):
    """(elements spanned by array ``a``'s memory, element strides)."""
    item = a.itemsize
    strides = tuple([s // item for s in a.strides])
    if a.size == 0:
        return 0, strides
    return 1 + sum([(n - 1) * s for n, s in zip(a.shape, strides)]), strides


def _storage_view(r, size, stride, offset):
    """A view of root array ``r``'s storage: ``size``, element ``stride``, element ``offset``."""
    item = r.itemsize
    span, _ = _storage(r)
    flat = _strided(r, (span,), (item,))
    byte_strides = tuple([s * item for s in stride])
    return _strided(flat, size, byte_strides, offset * item, not _overlaps(size, stride))


@tensor_method
def as_strided(input, size, stride, storage_offset=None):
    """A view of the input's storage (that of its base for views) with the given sizes, element
    strides and storage offset (default: the input's own). Overlapping layouts are read-only."""
    size = _ints((size,), 'as_strided')
    stride = _ints((stride,), 'as_strided', 'stride')
    if len(size) != len(stride):
        raise RuntimeError('mismatch in length of strides and shape')
    if any(s < 0 for s in stride):
        raise RuntimeError('as_strided: Negative strides are not supported at the moment, got '
                           f'strides: {list(stride)}')
    a = input._data
    root = input if input._view is None else input._view[0]
    r = root._data
    item = a.itemsize
    storage, _ = _storage(r)
    in_span, in_stride = _storage(a)
    in_offset = (_ptr(a) - _ptr(r)) // item if a.size else 0
    offset = in_offset if storage_offset is None else _index(storage_offset)
    need = offset + 1 + sum([(n - 1) * s for n, s in zip(size, stride)]) if all(size) else 0
    if need > storage:
        raise RuntimeError(f'setStorage: sizes {list(size)}, strides {list(stride)}, storage '
                           f'offset {offset}, and itemsize {item} requiring a storage size of '
                           f'{need * item} are out of bounds for storage of size {storage * item}')
    geometry = (size, stride, offset, a.shape, in_stride, in_offset, storage)
    out = AsStrided.apply(input, _storage_view(r, size, stride, offset), geometry)
    return make_view(out, root, lambda b: _storage_view(b, size, stride, offset))
