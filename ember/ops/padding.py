"""Padding ops: constant (any number of trailing dims; negative padding crops), reflect,
replicate and circular (the last 1, 2 or 3 dims).

Every padded dim is described by *pieces* ``(dst, src, bcast)``: the output slice ``dst``
along that dim is filled from the input slice ``src`` (a descending slice for reflections),
or, when ``bcast``, from the single input position ``src`` repeated (replication). The output
of a whole pad is the cartesian product of the pieces of its dims, so forward is one slice
assignment per product and backward one slice addition per product (summed over the
replicated dims): whole-array NumPy operations, no loop over elements.

``pads`` below is a tuple of ``(left, right)`` pairs, one per padded dim, outermost first
(PyTorch's ``pad`` argument lists the last dim first).
"""
import itertools

import numpy as np

from .._backend import xp_of
from .._parallel import THRESHOLD, map_rows
from .._tensor import Tensor
from ..autograd.function import Op

__all__ = ['constant_pad_nd']

_ALL = slice(None)
_CTYPE_NAMES = {'uint8': 'uint8_t', 'int8': 'int8_t', 'int16': 'int16_t', 'int32': 'int',
                'int64': 'int64_t', 'float16': 'c10::Half', 'float32': 'float',
                'float64': 'double'}


def pairs_of(pad):
    """PyTorch's flat ``pad`` (last dim first) -> ((left, right), ...) outermost dim first."""
    return tuple((pad[i], pad[i + 1]) for i in range(len(pad) - 2, -1, -2))


def _desc(start, stop):
    """The descending slice start, start-1, ..., stop+1 (stop may be -1: down to index 0)."""
    return slice(start, stop if stop >= 0 else None, -1)


def _center(n, pl, pr):
    """The piece copying the input's kept range (after cropping by negative padding), or None.
    Output position j holds input position j - pl."""
    a, b = max(-pl, 0), min(n + pr, n)
    return (slice(a + pl, b + pl), slice(a, b), False) if a < b else None


def _reflect_pieces(n, pl, pr):
    """Reflection about the first and last input positions (both edges excluded)."""
    lo, hi = -pl, n + pr            # range of input positions i = j - pl before reflection
    pieces = [_center(n, pl, pr)]
    a, b = lo, min(0, hi)           # i < 0 reads -i
    if a < b:
        pieces.append((slice(a + pl, b + pl), _desc(-a, -b), False))
    a, b = max(lo, n), hi           # i >= n reads 2(n - 1) - i
    if a < b:
        pieces.append((slice(a + pl, b + pl), _desc(2 * n - 2 - a, 2 * n - 2 - b), False))
    return [p for p in pieces if p is not None]


def _replicate_pieces(n, pl, pr):
    """The edge positions repeated."""
    lo, hi = -pl, n + pr
    pieces = [_center(n, pl, pr)]
    a, b = lo, min(0, hi)
    if a < b:
        pieces.append((slice(a + pl, b + pl), slice(0, 1), True))
    a, b = max(lo, n), hi
    if a < b:
        pieces.append((slice(a + pl, b + pl), slice(n - 1, n), True))
    return [p for p in pieces if p is not None]


def _circular_pieces(n, pl, pr):
    """Negative padding crops first; the kept range then wraps around on both sides
    (several times when the padding exceeds it)."""
    c0, c1 = max(-pl, 0), n - max(-pr, 0)
    kept, left, right = c1 - c0, max(pl, 0), max(pr, 0)
    if kept <= 0:
        return []
    pieces = [(slice(left, left + kept), slice(c0, c1), False)] if kept > 0 else []
    pos = left
    while pos > 0:                  # left padding: the end of the kept range, repeatedly
        take = min(pos, kept)
        pieces.append((slice(pos - take, pos), slice(c1 - take, c1), False))
        pos -= take
    pos = left + kept
    while pos < left + kept + right:   # right padding: its beginning, repeatedly
        take = min(left + kept + right - pos, kept)
        pieces.append((slice(pos, pos + take), slice(c0, c0 + take), False))
        pos += take
    return pieces


def _padded_shape(shape, pads):
    k = len(pads)
    lead = tuple(shape[:len(shape) - k])
    return lead + tuple(n + pl + pr for n, (pl, pr) in zip(shape[len(shape) - k:], pads))


def _products(shape, pads, piece_fn):
    """[(dst index, src index, bcast axes)] over the last len(pads) dims: the center product
    first. Unpadded dims take a single whole-range piece."""
    k = len(pads)
    dims = shape[len(shape) - k:]
    per_dim = [[(_ALL, _ALL, False)] if pl == 0 and pr == 0 else piece_fn(n, pl, pr)
               for n, (pl, pr) in zip(dims, pads)]
    out = []
    for combo in itertools.product(*per_dim):
        dst = (Ellipsis,) + tuple(p[0] for p in combo)
        src = (Ellipsis,) + tuple(p[1] for p in combo)
        bcast = tuple(d - k for d, p in enumerate(combo) if p[2])
        out.append((dst, src, bcast))
    return out


def _covers(src, shape):
    """True when every slice of a product's ``src`` index spans its whole input dim."""
    k = len(src) - 1
    for s, n in zip(src[1:], shape[len(shape) - k:]):
        if s != _ALL and (s.step is not None or s.indices(n) != (0, n, 1)):
            return False
    return True


_BLOCK_BYTES = 1 << 19      # output rows handled together: the border copies find them cached


def _by_rows(fn, out, src, k):
    """``fn(out_block, src_block)`` over blocks of the leading (unpadded) dims of ``out`` and
    ``src``: cache-sized blocks, spread over all cores, for large NumPy arrays; one call
    otherwise."""
    lead = out.ndim - k
    if out.__class__ is not np.ndarray or src.__class__ is not np.ndarray or not lead \
            or out.size < THRESHOLD:
        fn(out, src)
        return
    if lead > 1 and src.flags.c_contiguous:     # out is always C-contiguous
        out = out.reshape((-1,) + out.shape[lead:])
        src = src.reshape((-1,) + src.shape[lead:])
    step = max(1, _BLOCK_BYTES // max(1, out[0].nbytes, src[0].nbytes))

    def blocks(s, out):
        for i in range(0, out.shape[0], step):
            fn(out[i:i + step], s[i:i + step])

    map_rows(blocks, out, src)


class _PieceOp(Op):
    """Pads built from pieces: the subclass's ``pieces(n, left, right)`` for one dim is the
    mode; ``label`` % number of padded dims names the backward node."""
    pieces = None
    label = None

    @staticmethod
    def forward(ctx, a, pads):
        cls = type(ctx)
        out = xp_of(a).empty(_padded_shape(a.shape, pads), a.dtype)
        products = _products(a.shape, pads, cls.pieces) if out.size else []
        _by_rows(lambda o, s: _spread(o, s, products), out, a, len(pads))
        ctx.products = products
        ctx.in_shape = a.shape
        ctx.k = len(pads)
        if cls.label is not None:
            ctx.backward_name = cls.label % len(pads)
        return out

    @staticmethod
    def backward(ctx, g):
        grad = xp_of(g).empty(ctx.in_shape, g.dtype)
        products = ctx.products
        _by_rows(lambda o, s: _fold(o, s, products), grad, g, ctx.k)
        return grad


def _spread(out, a, products):
    """Forward of a piece pad: every product's output slice from its input slice."""
    for dst, src, _ in products:
        out[dst] = a[src]


def _fold(grad, g, products):
    """Adjoint of a piece pad, into ``grad``: every output slice added back onto the input
    slice it came from (summed over replicated dims). The center is copied first when it
    spans the input."""
    if not products:
        grad[...] = 0
        return
    dst, src, bcast = products[0]
    rest = products[1:]
    if not bcast and _covers(src, grad.shape):
        grad[...] = g[dst]
    else:
        grad[...] = 0
        rest = products
    for dst, src, bcast in rest:
        part = g[dst]
        if bcast:
            part = part.sum(axis=bcast, keepdims=True)
        grad[src] += part


class ReflectionPad(_PieceOp):
    """Reflection padding of the last len(pads) dims; (N, C, *) or (C, *) arrays."""
    pieces = staticmethod(_reflect_pieces)
    label = 'ReflectionPad%dDBackward0'


class ReplicationPad(_PieceOp):
    """Edge replication of the last len(pads) dims."""
    pieces = staticmethod(_replicate_pieces)
    label = 'ReplicationPad%dDBackward0'


class CircularPad(_PieceOp):
    """Circular (wrap-around) padding of the last len(pads) dims, after cropping."""
    pieces = staticmethod(_circular_pieces)
    backward_name = 'CopySlices'


class ConstantPadNd(Op):
    """Constant padding of the last len(pads) dims of any array; negative padding crops."""

    @staticmethod
    def forward(ctx, a, pads, value):
        k = len(pads)
        shape = a.shape
        out = xp_of(a).empty(_padded_shape(shape, pads), a.dtype)
        centers = [_center(n, pl, pr) for n, (pl, pr) in zip(shape[len(shape) - k:], pads)]
        boxes = [c[0] if c is not None else slice(0, 0) for c in centers]
        kept = all(c is not None for c in centers)
        dst = (Ellipsis,) + tuple(boxes)
        src = (Ellipsis,) + tuple(c[1] for c in centers) if kept else None

        def pad_block(o, s):
            if kept:
                o[dst] = s[src]
            _fill_outside(o, boxes, value)

        _by_rows(pad_block, out, a, k)
        ctx.box = (dst, src)
        ctx.in_shape = shape
        ctx.k = k
        return out

    @staticmethod
    def backward(ctx, g):
        dst, src = ctx.box
        grad = xp_of(g).empty(ctx.in_shape, g.dtype)

        def crop_block(o, s):
            if src is not None and _covers(src, o.shape):
                o[...] = s[dst]
                return
            o[...] = 0
            if src is not None:
                o[src] = s[dst]

        _by_rows(crop_block, grad, g, ctx.k)
        return grad


def _fill_outside(out, centers, value):
    """Set ``value`` everywhere outside the box ``centers`` (slices of the last dims): for
    each dim, the part before and after its center, with earlier dims inside their centers
    and later dims whole (so each element is written once)."""
    k = len(centers)
    shape = out.shape[out.ndim - k:]
    for d, (c, m) in enumerate(zip(centers, shape)):
        inner = tuple(centers[:d])
        whole = (_ALL,) * (k - d - 1)
        start, stop = c.start, c.stop
        if start == stop:           # nothing kept along d: the rest is all padding
            out[(Ellipsis,) + inner + (_ALL,) + whole] = value
            return
        if start > 0:
            out[(Ellipsis,) + inner + (slice(0, start),) + whole] = value
        if stop < m:
            out[(Ellipsis,) + inner + (slice(stop, m),) + whole] = value


def fill_value(value, dtype):
    """``value`` (a Python number) as a scalar of NumPy ``dtype``, with PyTorch's overflow
    error for values the dtype cannot hold."""
    v = float(value)
    if dtype.kind == 'b':
        return bool(v)
    if dtype.kind in 'iu':
        info = np.iinfo(dtype)
        if not (float(info.min) <= v <= float(info.max)):    # also rejects nan and inf
            raise RuntimeError(f'value cannot be converted to type {_CTYPE_NAMES[dtype.name]} '
                               'without overflow')
        return np.array(v).astype(dtype)[()]
    if v == v and abs(v) != float('inf') and abs(v) > float(np.finfo(dtype).max):
        raise RuntimeError(f'value cannot be converted to type {_CTYPE_NAMES[dtype.name]} '
                           'without overflow')
    return v


def constant_pad(input, pad, value=0):
    """Pad ``input``'s last len(pad) // 2 dims with ``value`` (pad: last dim first, ints
    already checked). Negative padding crops; cropping more than a dim holds is an error."""
    pads = pairs_of(pad)
    shape = input.shape
    for n, (pl, pr) in zip(shape[len(shape) - len(pads):], pads):
        if n + min(pl, 0) + min(pr, 0) < 0:
            raise RuntimeError('narrow(): length must be non-negative.')
    return ConstantPadNd.apply(input, pads, fill_value(value, input._data.dtype))


def constant_pad_nd(input, pad, value=0):
    """``torch.constant_pad_nd``: ``F.pad(input, pad, 'constant', value)``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"constant_pad_nd(): argument 'input' (position 1) must be Tensor, "
                        f"not {type(input).__name__}")
    pad = int_tuple(pad, 'constant_pad_nd')
    check_length(pad, input.dim())
    return constant_pad(input, pad, value)


def int_tuple(pad, fn):
    """``pad`` as a tuple of Python ints, with PyTorch's TypeError otherwise."""
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"{fn}(): argument 'pad' (position 2) must be tuple of ints, not "
                        f"{type(pad).__name__}")
    out = []
    for i, p in enumerate(pad):
        if isinstance(p, Tensor) and p.dim() == 0 and p._data.dtype.kind in 'iu':
            p = int(p.item())
        elif isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, np.integer)):
            raise TypeError(f"{fn}(): argument 'pad' (position 2) must be tuple of ints, but "
                            f"found element of type {type(p).__name__} at pos {i}")
        out.append(int(p))
    return tuple(out)


def check_length(pad, ndim):
    """An even number of pads, at most two per dim."""
    if len(pad) % 2:
        raise RuntimeError('Padding length must be divisible by 2')
    if len(pad) // 2 > ndim:
        raise RuntimeError('Padding length should be less than or equal to two times the input '
                           f'dimension but got padding length {len(pad)} and input of dimension '
                           f'{ndim}')
