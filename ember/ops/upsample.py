"""Resampling ops: interpolation (nearest, nearest-exact, linear, cubic, area, antialiased
linear/cubic), pixel shuffle/unshuffle and channel shuffle.

Every interpolation mode is separable: along each spatial dim the output is a sparse
(n_out x n_in) matrix applied to the input. That matrix is stored as *taps*, ``(idx, w)``
with ``idx`` of shape (T, n_out) (input positions) and ``w`` of shape (T, n_out) (their
weights; None for a tap whose weights are all 1), so that along the dim

    out[j] = sum_t w[t, j] * in[idx[t, j]]

Forward gathers each tap along the dim (one ``take``), scales it and sums; backward applies
the transposed matrix, whose taps are built once from the forward ones (every input position
lists the outputs it fed), with the same gather code: no scatter, no ``np.add.at``. Large
inputs are cut into cache-sized blocks of rows (the flattened batch and channel dims) spread
over the cores, so that the few passes per dim run on cached data.

Source positions follow PyTorch's rules: with ``align_corners`` output j reads
``j * (n_in - 1) / (n_out - 1)``; otherwise ``(j + 0.5) * scale - 0.5`` where ``scale`` is
``1 / scale_factor`` when a scale factor was given (and not recomputed), else
``n_in / n_out``, computed in float32 for float32 inputs as PyTorch does.
"""
import math

import numpy as np

from .._backend import xp_of
from .._parallel import THRESHOLD, map_rows
from ..autograd.function import Op

__all__ = ['pixel_shuffle', 'pixel_unshuffle', 'channel_shuffle']

_CUBIC_A = -0.75            # PyTorch's cubic convolution constant (-0.5 when antialiasing)


# ---- 1-D taps of every mode (NumPy, small: one row per output position) ------------------
def opmath(dtype):
    """The dtype PyTorch computes source positions and weights in for ``dtype``."""
    return np.float64 if dtype == np.float64 else np.float32


def _linear_scale(n_in, n_out, align_corners, scale, dt):
    """Distance in input positions between neighbouring outputs."""
    if align_corners:
        return dt((n_in - 1) / (n_out - 1)) if n_out > 1 else dt(0)
    if scale is not None and scale > 0:
        return dt(1.0 / scale)
    return dt(n_in) / dt(n_out)


def _fma(a, b, c, dt):
    """a * b + c rounded once to ``dt``, as PyTorch's kernels compute it with fused
    multiply-adds (exact for float32 operands: their products are exact in float64)."""
    if dt == np.float32:
        return (np.asarray(a, np.float64) * np.asarray(b, np.float64) + c).astype(dt)
    return (a * b + c).astype(dt)


def _source(n_in, n_out, align_corners, scale, dt):
    """Real-valued input position of each output position (float ``dt``)."""
    s = _linear_scale(n_in, n_out, align_corners, scale, dt)
    j = np.arange(n_out, dtype=dt)
    if align_corners:
        return j * s
    return _fma(j + dt(0.5), s, -0.5, dt)


def nearest_taps(n_in, n_out, scale, exact, shortcuts=False):
    """'nearest' reads floor(j * scale), 'nearest-exact' floor((j + 0.5) * scale), both in
    float32 and clipped to the last input. With ``shortcuts`` (PyTorch's 2-D nearest kernel),
    an unchanged size is copied and a doubled one reads j // 2, whatever the scale factor."""
    if shortcuts and n_out == n_in:
        return identity_taps(n_in)
    if shortcuts and n_out == 2 * n_in:
        return (np.arange(n_out) >> 1)[None], None
    s = np.float32(1.0 / scale) if scale is not None and scale > 0 else \
        np.float32(n_in) / np.float32(n_out)
    j = np.arange(n_out, dtype=np.float32)
    if exact:
        j += np.float32(0.5)
    idx = np.minimum(np.floor(j * s).astype(np.intp), n_in - 1)
    return idx[None], None


def identity_taps(n):
    """The taps of a dim left as it is."""
    return np.arange(n)[None], None


def linear_taps(n_in, n_out, align_corners, scale, dt):
    """Two taps: the input positions around the source position and their lerp weights."""
    if n_out == n_in:
        return identity_taps(n_in)
    src = np.maximum(_source(n_in, n_out, align_corners, scale, dt), dt(0))
    i0 = np.minimum(src.astype(np.intp), n_in - 1)
    lam = np.clip(src - i0.astype(dt), 0, 1).astype(dt)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return np.stack([i0, i1]), np.stack([dt(1) - lam, lam])


def _cubic_weights(t, a):
    """Cubic convolution weights of the four inputs at offsets -1, 0, 1, 2 from floor(src),
    for fractional parts ``t`` (float ``dt`` = t's dtype, evaluated with fused
    multiply-adds as PyTorch does): shape (4, n)."""
    dt = t.dtype.type
    a = dt(a)

    def near(x):            # |x| <= 1: ((a + 2) x - (a + 3)) x^2 + 1
        return _fma(_fma(a + 2, x, -(a + 3), dt) * x, x, 1, dt)

    def far(x):             # 1 < |x| < 2: ((a x - 5a) x + 8a) x - 4a
        return _fma(_fma(_fma(a, x, -5 * a, dt), x, 8 * a, dt), x, -4 * a, dt)

    one = dt(1)
    return np.stack([far(t + one), near(t), near(one - t), far(2 * one - t)])


def cubic_taps(n_in, n_out, align_corners, scale, dt):
    """Four taps at floor(src) - 1 .. floor(src) + 2, clamped to the input."""
    src = _source(n_in, n_out, align_corners, scale, dt)
    base = np.floor(src)
    w = _cubic_weights((src - base).astype(dt), _CUBIC_A)
    idx = base.astype(np.intp) + np.arange(-1, 3)[:, None]
    return np.clip(idx, 0, n_in - 1), w


def area_taps(n_in, n_out, dt):
    """Adaptive average pooling: output j averages inputs floor(j*n_in/n_out) up to
    ceil((j+1)*n_in/n_out) (exclusive)."""
    j = np.arange(n_out)
    start = (j * n_in) // n_out
    stop = -((-(j + 1) * n_in) // n_out)
    return _window_taps(start, stop, 1.0 / (stop - start).astype(np.float64), dt)


def _window_taps(start, stop, weight, dt):
    """Taps of windows [start, stop) per output with per-window weights (a 1-D array, one
    weight per output, or a 2-D array (K, n_out) of per-position weights); positions past a
    window's end repeat its last input with weight 0."""
    k = int((stop - start).max()) if len(start) else 0
    offsets = np.arange(k)[:, None]
    idx = np.minimum(start + offsets, stop - 1)
    inside = start + offsets < stop
    w = np.where(inside, weight, 0).astype(dt)
    return idx.astype(np.intp), w


def _filter(x, mode):
    """The antialiasing filters: a triangle ('bilinear'), cubic convolution with a = -0.5
    ('bicubic') and Lanczos with a = 3 ('lanczos')."""
    ax = np.abs(x)
    if mode == 'bilinear':
        return np.maximum(1 - ax, 0)
    if mode == 'bicubic':
        a = -0.5
        return np.where(ax < 1, ((a + 2) * ax - (a + 3)) * ax * ax + 1,
                        np.where(ax < 2, ((a * ax - 5 * a) * ax + 8 * a) * ax - 4 * a, 0.0))
    return np.where(ax < 3, np.sinc(x) * np.sinc(x / 3), 0.0)


_SUPPORT = {'bilinear': 1, 'bicubic': 2, 'lanczos': 3}


def antialias_taps(n_in, n_out, align_corners, scale, mode, dt):
    """PyTorch's antialiased resampling (as PIL's): output j is centred on input position
    scale * (j + 0.5) (with align_corners too, where scale = (n_in - 1) / (n_out - 1)); when
    shrinking, the filter is stretched by the scale so that every input contributes; the
    weights of each output are normalised to sum to 1. A dim of unchanged size is copied."""
    if n_out == n_in:
        return identity_taps(n_in)
    s = float(_linear_scale(n_in, n_out, align_corners, scale, np.float64))
    support = _SUPPORT[mode] * s if s >= 1 else _SUPPORT[mode]
    inv = 1 / s if s >= 1 else 1.0
    center = s * (np.arange(n_out, dtype=np.float64) + 0.5)
    start = np.maximum((center - support + 0.5).astype(np.intp), 0)
    stop = np.minimum((center + support + 0.5).astype(np.intp), n_in)
    pos = start + np.arange(int((stop - start).max()))[:, None]
    f = np.where(pos < stop, _filter((pos - center + 0.5) * inv, mode), 0.0)
    total = f.sum(0)
    return _window_taps(start, stop, f / np.where(total == 0, 1, total), dt)


# ---- sparse 1-D resampling matrices -------------------------------------------------------
class Taps:
    """An (n_out x n_in) sparse matrix along one dim: ``idx`` (T, n_out) input positions and
    ``w`` (T, n_out) weights, or None where every weight is 1; ``ws`` holds one entry per
    tap (a row of ``w``, or None for a tap of ones)."""
    __slots__ = ('idx', 'ws', 'n_in', 'n_out')

    def __init__(self, idx, w, n_in):
        self.idx = idx
        self.n_in = n_in
        self.n_out = idx.shape[1]
        self.ws = [None] * len(idx) if w is None else \
            [None if (row == 1).all() else row for row in w]

    @property
    def identity(self):
        return (self.n_in == self.n_out and len(self.idx) == 1 and self.ws[0] is None
                and bool((self.idx[0] == np.arange(self.n_in)).all()))

    def transpose(self, dtype):
        """The (n_in x n_out) adjoint: each input position lists the outputs it fed (entries
        for one (input, output) pair merged, zero weights dropped)."""
        T, n_out = self.idx.shape
        rows = self.idx.ravel()
        cols = np.tile(np.arange(n_out), T)
        vals = np.concatenate([np.ones(n_out, dtype) if w is None else w.astype(dtype)
                               for w in self.ws]) if T else np.zeros(0, dtype)
        order = np.lexsort((cols, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
        if len(rows):
            first = np.ones(len(rows), bool)
            first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
            starts = np.flatnonzero(first)
            vals = np.add.reduceat(vals, starts)
            rows, cols = rows[starts], cols[starts]
            nz = vals != 0
            rows, cols, vals = rows[nz], cols[nz], vals[nz]
        counts = np.bincount(rows, minlength=self.n_in)
        k = int(counts.max()) if len(counts) else 0
        pos = np.arange(len(rows)) - (np.cumsum(counts) - counts)[rows]
        idx = np.zeros((k, self.n_in), np.intp)
        w = np.zeros((k, self.n_in), dtype)
        idx[pos, rows] = cols
        w[pos, rows] = vals
        return Taps(idx, w, n_out)


# ---- applying the matrices ---------------------------------------------------------------
_BLOCK_BYTES = 1 << 18      # rows resampled together: their intermediates stay in cache
_PLANE = 256                # below this many trailing elements, weights are pre-broadcast


def _gather(x, idx, axis):
    """``x`` at positions ``idx`` along ``axis`` (a new array)."""
    if axis == x.ndim - 1:
        return x[..., idx]
    return x.take(idx, axis)


def _plan(taps, in_sizes, xp, dtype):
    """[(axis, taps, weights)] for the dims that change, smallest ratio n_out/n_in first (so
    intermediates stay small), ties on the last dim first. Weights are shaped to broadcast
    along the dims after ``axis`` of the (rows, *spatial) block at that step."""
    k = len(taps)
    active = [d for d in range(k) if not taps[d].identity]
    active.sort(key=lambda d: (taps[d].n_out / max(taps[d].n_in, 1), -d))
    sizes = list(in_sizes)
    steps = []
    for d in active:
        t = taps[d]
        trailing = tuple(sizes[d + 1:])
        shape = (t.n_out,) + (1,) * len(trailing)
        small = trailing and math.prod(trailing) < _PLANE
        weights = []
        for w in t.ws:
            if w is not None:
                w = xp.asarray(w.astype(dtype, copy=False)).reshape(shape)
                if small:
                    w = xp.ascontiguousarray(xp.broadcast_to(w, (t.n_out,) + trailing))
            weights.append(w)
        idx = t.idx if xp is np else xp.asarray(t.idx)
        steps.append((d + 1, idx, weights))
        sizes[d] = t.n_out
    return steps


def _apply_axis(xp, x, axis, idx, weights, out=None):
    """sum_t weights[t] * x[idx[t]] along ``axis``, into ``out`` when given."""
    acc = None
    for t, (i, w) in enumerate(zip(idx, weights)):
        g = _gather(x, i, axis)
        if t == 0 and out is not None:      # the first tap goes straight into out
            if w is None:
                out[...] = g
            else:
                xp.multiply(g, w, out=out)
            acc = out
            continue
        if w is not None:
            xp.multiply(g, w, out=g)
        if acc is None:
            acc = g
        else:
            xp.add(acc, g, out=acc)
    return acc


def _apply_steps(xp, x, steps, out):
    """Run ``steps`` on the (rows, *spatial) block ``x``, the last one writing into ``out``."""
    last = len(steps) - 1
    for s, (axis, idx, weights) in enumerate(steps):
        x = _apply_axis(xp, x, axis, idx, weights, out if s == last else None)


def resample(x, taps):
    """Apply one ``Taps`` per trailing dim of ``x`` (shape (*lead, *in_sizes)) -> (*lead,
    *out_sizes), in ``x``'s dtype (float16 is computed in float32)."""
    xp = xp_of(x)
    k = len(taps)
    lead = x.shape[:x.ndim - k]
    out_sizes = tuple(t.n_out for t in taps)
    dtype = x.dtype
    work = np.dtype(np.float32) if dtype == np.float16 else dtype
    rows = math.prod(lead)
    out = xp.empty((rows,) + out_sizes, work)
    steps = _plan(taps, x.shape[x.ndim - k:], xp, work)
    if out.size == 0 or any(not len(t.idx) for t in taps):
        out.fill(0)
        return out.reshape(lead + out_sizes).astype(dtype, copy=False)
    x = x.reshape((rows,) + x.shape[x.ndim - k:]).astype(work, copy=False)
    if not steps:
        out[...] = x
    elif out.__class__ is not np.ndarray or out.size < THRESHOLD:
        _apply_steps(xp, x, steps, out)
    else:
        row_bytes = max(x[0].nbytes, out[0].nbytes)
        step = max(1, _BLOCK_BYTES // row_bytes)

        def blocks(xb, out):
            for i in range(0, out.shape[0], step):
                _apply_steps(xp, xb[i:i + step], steps, out[i:i + step])

        map_rows(blocks, out, x)
    return out.reshape(lead + out_sizes).astype(dtype, copy=False)


class _Resample(Op):
    """(N, C, *in_sizes) -> (N, C, *out_sizes) through one ``Taps`` per spatial dim;
    backward applies their transposes to the gradient."""

    @staticmethod
    def forward(ctx, x, taps):
        ctx.taps = taps
        return resample(x, taps)

    @staticmethod
    def backward(ctx, g):
        dtype = np.float32 if g.dtype == np.float16 else g.dtype
        return resample(g, [t.transpose(dtype) for t in ctx.taps])


def _node(name, backward_name=None):
    """A _Resample subclass named after PyTorch's backward node for one mode and dim."""
    attrs = {'__doc__': f'{name}: see _Resample.'}
    if backward_name:
        attrs['backward_name'] = backward_name
    return type(name, (_Resample,), attrs)


NEAREST_OPS = {exact: tuple(_node(f"UpsampleNearest{'Exact' if exact else ''}{k}D")
                            for k in (1, 2, 3)) for exact in (False, True)}
LINEAR_OPS = (_node('UpsampleLinear1D'), _node('UpsampleBilinear2D'),
              _node('UpsampleTrilinear3D'))
CUBIC_OP = _node('UpsampleBicubic2D')
ANTIALIAS_OPS = {m: _node(f'Upsample{m.capitalize()}2DAa')
                 for m in ('bilinear', 'bicubic', 'lanczos')}
# PyTorch pools 1-D inputs as 2-D and squeezes the result
AREA_OPS = (_node('AdaptiveAvgPool1D', 'SqueezeBackward1'), _node('AdaptiveAvgPool2D'),
            _node('AdaptiveAvgPool3D'))


# ---- pixel shuffle and channel shuffle ----------------------------------------------------
def _shuffle_pixels(x, r, up):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r) when ``up``, else the inverse; a new array."""
    xp = xp_of(x)
    lead = x.shape[:-3]
    c, h, w = x.shape[-3:]
    n = len(lead)
    if up:
        out = xp.empty(lead + (c // (r * r), h * r, w * r), x.dtype)
        src = x.reshape(lead + (c // (r * r), r, r, h, w))
        dst = out.reshape(lead + (c // (r * r), h, r, w, r))
        perm = (0, 3, 1, 4, 2)
    else:
        out = xp.empty(lead + (c * r * r, h // r, w // r), x.dtype)
        src = x.reshape(lead + (c, h // r, r, w // r, r))
        dst = out.reshape(lead + (c, r, r, h // r, w // r))
        perm = (0, 2, 4, 1, 3)
    dst[...] = src.transpose(tuple(range(n)) + tuple(n + p for p in perm))
    return out


class PixelShuffle(Op):
    @staticmethod
    def forward(ctx, x, r):
        ctx.r = r
        return _shuffle_pixels(x, r, True)

    @staticmethod
    def backward(ctx, g):
        return _shuffle_pixels(g, ctx.r, False)


class PixelUnshuffle(Op):
    @staticmethod
    def forward(ctx, x, r):
        ctx.r = r
        return _shuffle_pixels(x, r, False)

    @staticmethod
    def backward(ctx, g):
        return _shuffle_pixels(g, ctx.r, True)


def _shuffle_channels(x, groups):
    """(N, C, *) -> (N, C, *) with channel g*(C/groups) + i moved to i*groups + g."""
    xp = xp_of(x)
    n, c = x.shape[:2]
    rest = x.shape[2:]
    out = xp.empty(x.shape, x.dtype)
    out.reshape((n, c // groups, groups) + rest)[...] = \
        x.reshape((n, groups, c // groups) + rest).swapaxes(1, 2)
    return out


class ChannelShuffle(Op):
    @staticmethod
    def forward(ctx, x, groups):
        ctx.groups = groups
        return _shuffle_channels(x, groups)

    @staticmethod
    def backward(ctx, g):
        c = g.shape[1]
        return _shuffle_channels(g, c // ctx.groups or 1)


def _int_arg(fn, name, value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{fn}(): argument '{name}' (position 2) must be int, not "
                        f'{type(value).__name__}')


def pixel_shuffle(input, upscale_factor):
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r), r = ``upscale_factor`` (a copy)."""
    _int_arg('pixel_shuffle', 'upscale_factor', upscale_factor)
    r = upscale_factor
    if input.dim() < 3:
        raise RuntimeError('pixel_shuffle expects input to have at least 3 dimensions, but got '
                           f'input with {input.dim()} dimension(s)')
    if r <= 0:
        raise RuntimeError(f'pixel_shuffle expects a positive upscale_factor, but got {r}')
    c = input.shape[-3]
    if c % (r * r):
        raise RuntimeError("pixel_shuffle expects its input's 'channel' dimension to be "
                           f'divisible by the square of upscale_factor, but input.size(-3)={c} '
                           f'is not divisible by {r * r}')
    return PixelShuffle.apply(input, r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W), r = ``downscale_factor`` (a copy)."""
    _int_arg('pixel_unshuffle', 'downscale_factor', downscale_factor)
    r = downscale_factor
    if input.dim() < 3:
        raise RuntimeError('pixel_unshuffle expects input to have at least 3 dimensions, but '
                           f'got input with {input.dim()} dimension(s)')
    if r <= 0:
        raise RuntimeError(f'pixel_unshuffle expects a positive downscale_factor, but got {r}')
    h, w = input.shape[-2:]
    if h % r:
        raise RuntimeError('pixel_unshuffle expects height to be divisible by downscale_factor, '
                           f'but input.size(-2)={h} is not divisible by {r}')
    if w % r:
        raise RuntimeError('pixel_unshuffle expects width to be divisible by downscale_factor, '
                           f'but input.size(-1)={w} is not divisible by {r}')
    return PixelUnshuffle.apply(input, r)


def channel_shuffle(input, groups):
    """(N, C, *) with C = groups * k: channels viewed as (groups, k), transposed to (k, groups)
    and flattened back (a copy)."""
    _int_arg('channel_shuffle', 'groups', groups)
    if input.dim() <= 2:
        raise RuntimeError('channel_shuffle expects input with > 2 dims, but got input with '
                           f'sizes {list(input.shape)}')
    if groups <= 0:
        raise RuntimeError('Number of groups to divide channels in must be positive. Value of '
                           f'groups:{groups}')
    c = input.shape[1]
    if c % groups:
        raise RuntimeError(f'Number of channels must be divisible by groups. Got {c} channels '
                           f'and {groups} groups.')
    return ChannelShuffle.apply(input, groups)
