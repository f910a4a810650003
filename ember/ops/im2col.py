"""Sliding-window machinery shared by convolution, transposed convolution, unfold and fold.

Arrays are ``(N, C, *spatial)`` with 1, 2 or 3 spatial dims, in any memory layout. A window
geometry is given per spatial dim: ``kernel``, ``stride``, ``dilation`` and ``out`` (the
number of window positions); output position ``o`` and kernel offset ``k`` read input
position ``o * stride + k * dilation`` of the (zero-padded) input.

``windows``   a strided view ``(N, C, *kernel, *out)`` of the padded input (no copy)
``im2col``    a batch slice of that view copied into channel-major columns ``(C K, n L)``
              (K = prod(kernel), L = prod(out)): rows ordered (channel, kernel offset), columns
              (sample, position), so that one GEMM covers a whole batch slice
``row_windows``, ``row_columns``   the same for a kernel split into its first dim and the
              rest: columns ``(C K', n R L')`` for every one of the R padded rows of the first
              spatial dim (K' = prod(kernel[1:]), L' = prod(out[1:])); the first dim's kernel
              offsets become shifts by whole rows of these columns (unit stride in that dim)
``col2im``    the adjoint: channel-major columns ``(C, *kernel, n, *out)`` summed back onto a
              ``(C, n, *padded)`` grid, as a short loop over kernel offsets adding strided slices
``pad_crop``  a zero-padded (or cropped) copy, optionally stored channel-major
``chunks``    batch slices that bound the size of the column buffers
``scratch``   reusable per-thread scratch arrays for the column, GEMM and padding buffers

Large fresh NumPy arrays cost page faults on first touch (as much as the copy that fills
them), so buffers that do not outlive one convolution come from ``scratch``.
"""
import itertools
import threading
from math import prod

import numpy as np

from .._backend import xp_of

_ALL = slice(None)
_local = threading.local()

#: Scratch buffers above this size are allocated fresh each time instead of being kept.
SCRATCH_MAX_BYTES = 1 << 28

#: Column buffers are built for at most this many elements at a time (whole samples, at least
#: one): a few MB, so that each chunk's copy and GEMM stay close to the cache, and each thread
#: works through its own chunks.
CHUNK_ELEMENTS = 1 << 21

#: Forward keeps its columns for the weight gradient when they hold at most this many elements
#: (else backward builds them again).
KEEP_ELEMENTS = 1 << 24


def scratch(slot, shape, dtype, like):
    """An uninitialised array of ``shape`` and ``dtype`` on ``like``'s device that may share
    memory with earlier results for the same ``slot`` name in this thread: only for buffers
    that do not outlive the op using them. (CuPy has its own memory pool: fresh arrays.)"""
    xp = xp_of(like)
    nbytes = prod(shape) * np.dtype(dtype).itemsize
    if xp is not np or nbytes > SCRATCH_MAX_BYTES:
        return xp.empty(shape, dtype)
    bufs = _local.__dict__.setdefault('buffers', {})
    buf = bufs.get(slot)
    if buf is None or buf.nbytes < nbytes:
        buf = bufs[slot] = np.empty(nbytes, np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)


def out_sizes(sizes, kernel, stride, dilation, pads):
    """Window positions per dim: floor((i + lo + hi - d (k - 1) - 1) / s) + 1."""
    return tuple((i + lo + hi - d * (k - 1) - 1) // s + 1
                 for i, k, s, d, (lo, hi) in zip(sizes, kernel, stride, dilation, pads))


def padded_sizes(sizes, pads):
    """Sizes after padding by ``pads`` ((lo, hi) per dim; negative amounts crop)."""
    return tuple(i + lo + hi for i, (lo, hi) in zip(sizes, pads))


def interior(sizes, pads):
    """Index of the unpadded region ``sizes`` inside an array (N, C, ...) padded by ``pads``."""
    return (_ALL, _ALL) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(sizes, pads))


def pad_crop(x, pads, channel_major=False, slot=None):
    """``x`` (N, C, *spatial) with ``pads`` ((lo, hi) per spatial dim) zeros around it, or
    cropped where an amount is negative: a new array (a ``scratch`` one for ``slot``), or ``x``
    itself when nothing changes and no layout change is asked. ``channel_major`` stores the
    copy as (C, N, *padded) in memory and returns it transposed, still indexed
    (N, C, *padded)."""
    if not channel_major and not any(lo or hi for lo, hi in pads):
        return x
    n, c = x.shape[:2]
    sizes = padded_sizes(x.shape[2:], pads)
    shape = (c, n) + sizes if channel_major else (n, c) + sizes
    out = (scratch(slot, shape, x.dtype, x) if slot else xp_of(x).empty(shape, x.dtype))
    if channel_major:
        out = out.swapaxes(0, 1)
    dst_idx, src_idx = [_ALL, _ALL], [_ALL, _ALL]
    for i, (size, (lo, hi)) in enumerate(zip(x.shape[2:], pads)):
        dst_idx.append(slice(max(lo, 0), max(lo, 0) + size + min(lo, 0) + min(hi, 0)))
        src_idx.append(slice(max(-lo, 0), size - max(-hi, 0)))
        border = (_ALL,) * (i + 2)
        if lo > 0:
            out[border + (slice(0, lo),)] = 0
        if hi > 0:
            out[border + (slice(sizes[i] - hi, None),)] = 0
    out[tuple(dst_idx)] = x[tuple(src_idx)]
    return out


def windows(x, kernel, stride, dilation, out):
    """View ``(N, C, *kernel, *out)`` of ``x`` (N, C, *spatial), any strides:
    ``[n, c, *k, *o] = x[n, c, *(o * stride + k * dilation)]``."""
    st = x.strides
    shape = x.shape[:2] + tuple(kernel) + tuple(out)
    strides = (st[:2] + tuple(s * d for s, d in zip(st[2:], dilation))
               + tuple(s * t for s, t in zip(st[2:], stride)))
    return xp_of(x).lib.stride_tricks.as_strided(x, shape, strides)


def im2col(view, dst):
    """Copy a ``windows`` view ``(n, C, *kernel, *out)`` into channel-major columns: ``dst``
    (C, *kernel, n, *out), ``[c, *k, i, *o] = view[i, c, *k, *o]``; read as a matrix its rows
    are (channel, kernel offset) and its columns (sample, position)."""
    d = (view.ndim - 2) // 2
    dst[...] = view.transpose((1,) + tuple(range(2, 2 + d)) + (0,)
                              + tuple(range(2 + d, 2 + 2 * d)))
    return dst


def row_windows(x, kernel, stride, dilation, out):
    """View ``(N, C, *kernel[1:], R, *out[1:])`` of ``x`` (N, C, R, *rest), any strides: every
    row of the first spatial dim, windows over the others:
    ``[n, c, *k, r, *o] = x[n, c, r, *(o * stride[1:] + k * dilation[1:])]``."""
    st = x.strides
    shape = x.shape[:2] + tuple(kernel[1:]) + x.shape[2:3] + tuple(out[1:])
    strides = (st[:2] + tuple(s * d for s, d in zip(st[3:], dilation[1:])) + st[2:3]
               + tuple(s * t for s, t in zip(st[3:], stride[1:])))
    return xp_of(x).lib.stride_tricks.as_strided(x, shape, strides)


def row_columns(view, dst):
    """Copy a ``row_windows`` view ``(n, C, *kernel[1:], R, *out[1:])`` into channel-major row
    columns: ``dst`` (C, *kernel[1:], n, R, *out[1:]), ``[c, *k, i, r, *o] =
    view[i, c, *k, r, *o]``."""
    d = (view.ndim - 3) // 2
    dst[...] = view.transpose((1,) + tuple(range(2, 2 + d)) + (0,)
                              + tuple(range(2 + d, view.ndim)))
    return dst


def col2im(cols, dst, kernel, stride, dilation):
    """Add columns ``cols`` (C, *kernel, n, *out) into ``dst`` (C, n, *padded) (any strides):
    every kernel offset adds its (C, n, *out) slice onto the window positions it read."""
    d = len(kernel)
    out = cols.shape[2 + d:]
    if not all(out) or not cols.size:
        return dst
    for offset in itertools.product(*[range(k) for k in kernel]):
        idx = (_ALL, _ALL) + tuple(slice(k * dl, k * dl + s * (o - 1) + 1, s)
                                   for k, dl, s, o in zip(offset, dilation, stride, out))
        dst[idx] += cols[(_ALL,) + offset]
    return dst


def chunks(n, per_sample, parts=1):
    """Slices of the batch ``range(n)`` holding at most about ``CHUNK_ELEMENTS`` elements of
    columns (``per_sample`` each) and at least ``parts`` slices when there are as many samples;
    one sample at least each (one empty slice for an empty batch)."""
    step = max(1, min(CHUNK_ELEMENTS // max(per_sample, 1), -(-n // parts)))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)] or [slice(0, 0)]


def is_pointwise(kernel, stride, pads):
    """A 1x1 kernel at unit stride without padding: the columns are the input itself."""
    return (all(k == 1 for k in kernel) and all(s == 1 for s in stride)
            and not any(lo or hi for lo, hi in pads))
