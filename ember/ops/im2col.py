"""Sliding-window machinery shared by convolution, transposed convolution, unfold and fold.

Arrays are channel-first, ``(N, C, *spatial)`` with 1, 2 or 3 spatial dims. A window
geometry is given per spatial dim: ``kernel``, ``stride``, ``dilation`` and ``out`` (the
number of window positions); output position ``o`` and kernel offset ``k`` read input
position ``o * stride + k * dilation`` of the (zero-padded) input.

``windows``   a strided view ``(N, G, C/G, *kernel, *out)`` of the padded input (no copy)
``im2col``    that view copied into contiguous columns ``(n, G, C/G * K, L)``, K = prod(kernel),
              L = prod(out): one GEMM operand per group
``col2im``    the adjoint: columns ``(n, C, *kernel, *out)`` summed back onto the input grid,
              as a short loop over kernel offsets adding strided slices
``chunks``    batch slices that bound the size of the column buffers (memory, cache)
"""
import itertools
from math import prod

from .._backend import xp_of

_ALL = slice(None)

#: Column buffers are built for at most this many elements at a time (whole samples, at
#: least one): a few MB keeps the im2col copy and its GEMM close to the cache and bounds the
#: memory a convolution needs besides its input and output.
CHUNK_ELEMENTS = 1 << 21


def out_sizes(sizes, kernel, stride, dilation, pads):
    """Window positions per dim: floor((i + lo + hi - d (k - 1) - 1) / s) + 1."""
    return tuple((i + lo + hi - d * (k - 1) - 1) // s + 1
                 for i, k, s, d, (lo, hi) in zip(sizes, kernel, stride, dilation, pads))


def pad_zeros(x, pads):
    """``x`` (N, C, *spatial) with ``pads`` ((lo, hi) per spatial dim) zeros around it; ``x``
    itself when there is nothing to pad."""
    if not any(lo or hi for lo, hi in pads):
        return x
    shape = x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads))
    out = xp_of(x).zeros(shape, x.dtype)
    out[interior(x.shape[2:], pads)] = x
    return out


def interior(sizes, pads):
    """Index of the unpadded region ``sizes`` inside an array padded by ``pads``."""
    return (_ALL, _ALL) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(sizes, pads))


def windows(x, kernel, stride, dilation, out, groups=1):
    """View ``(N, G, C/G, *kernel, *out)`` of ``x`` (N, C, *spatial):
    ``[n, g, c, *k, *o] = x[n, g * C/G + c, *(o * stride + k * dilation)]``."""
    n, c = x.shape[:2]
    st = x.strides
    cg = c // groups
    shape = (n, groups, cg) + tuple(kernel) + tuple(out)
    strides = ((st[0], st[1] * cg, st[1])
               + tuple(s * d for s, d in zip(st[2:], dilation))
               + tuple(s * t for s, t in zip(st[2:], stride)))
    return xp_of(x).lib.stride_tricks.as_strided(x, shape, strides)


def im2col(view):
    """Contiguous columns ``(n, G, C/G * K, L)`` of a ``windows`` view (or a batch slice of
    one); no copy when the view is already contiguous (1x1 kernels, unit stride)."""
    n, g, cg = view.shape[:3]
    d = (view.ndim - 3) // 2
    cols = xp_of(view).ascontiguousarray(view)
    return cols.reshape(n, g, cg * prod(view.shape[3:3 + d]), prod(view.shape[3 + d:]))


def col2im(cols, dst, kernel, stride, dilation):
    """Add columns ``cols`` (n, C, *kernel, *out) into ``dst`` (n, C, *padded spatial): every
    kernel offset adds its (n, C, *out) slice onto the strided window positions it read."""
    out = cols.shape[2 + len(kernel):]
    if not all(out):
        return dst
    for offset in itertools.product(*[range(k) for k in kernel]):
        idx = (_ALL, _ALL) + tuple(slice(k * d, k * d + s * (o - 1) + 1, s)
                                   for k, d, s, o in zip(offset, dilation, stride, out))
        dst[idx] += cols[(_ALL, _ALL) + offset]
    return dst


def chunks(n, per_sample):
    """Slices of the batch ``range(n)`` holding about ``CHUNK_ELEMENTS`` elements of columns
    (``per_sample`` each), at least one sample each."""
    step = max(1, CHUNK_ELEMENTS // max(per_sample, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)] or [slice(0, 0)]


def is_pointwise(kernel, stride, pads):
    """A 1x1 kernel at unit stride without padding: the columns are the input itself."""
    return (all(k == 1 for k in kernel) and all(s == 1 for s in stride)
            and not any(lo or hi for lo, hi in pads))
