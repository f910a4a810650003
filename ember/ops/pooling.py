"""Pooling ops over the last 1, 2 or 3 ("spatial") dims of arrays shaped (C, *S) or (N, C, *S):
max, average and power-average (LP) pooling, adaptive max/average pooling, fractional max
pooling and max unpooling. Each is one Op with a backward on whole arrays.

Windows. Along a spatial dim, the window of output position o starts at position o*s of the
padded input and takes k elements d apart. Kernel index kk of output o reads padded position
``o*s + kk*d = (o + q)*s + r`` (``q, r = divmod(kk*d, s)``): element o + q of the padded
input's *phase* r, the positions r, r + s, r + 2s, ... So for one kernel offset
(k_1, ..., k_n) the window elements of all outputs form a unit-step box of one phase
(``window_plan``). Forward copies the phases out of the input once (one pass, padding filled
in; none when every stride is 1 without padding) and reduces the prod(k) boxes into the
output (maximum, sum) with NumPy working on contiguous operands; backward adds the gradient
into phase buffers the same way and copies their interior back. The loop is over kernel
offsets, never over output elements. Large NumPy inputs are handled in cache-sized blocks of
planes, on all cores.

Max pooling records, for each output element, which kernel offset won, as a small integer
*code* (1 + the offset's rank in window order). PyTorch's rules follow: the first maximum in
window order wins ties, a NaN wins (the last NaN of the window), and a window holding only
-inf (or the integer minimum) picks its first in-bounds element. The returned indices (flat
positions within each input plane) are computed from the codes.

Adaptive windows along a dim are ``[floor(o*i/O), ceil((o+1)*i/O))``. When O divides i they
are plain non-overlapping windows (the code above, with k = s = i/O). Otherwise average
pooling runs one dim at a time with a loop over that dim's O windows, and max pooling gathers
the windows (padded to the longest by repeating their last element) as fractional max pooling
does with its windows, which start at PyTorch's pseudo-random interval sequence of each plane.
"""
import itertools
import math
from functools import lru_cache

import numpy as np

from .._backend import xp_of
from .._parallel import THRESHOLD, map_rows
from ..autograd.function import Op

__all__ = []

_BLOCK_BYTES = 1 << 19      # input bytes per block of planes: its phases stay in cache


# ==== geometry ===================================================================================
def pool_out_size(i, k, s, p, d, ceil_mode):
    """Output length of a pooling window sweep along one dim (PyTorch's rule):
    floor((i + 2p - d(k-1) - 1) / s) + 1, or ceil(...) + 1 in ceil mode, where the last
    window must then start inside the input or its left padding."""
    span = i + 2 * p - d * (k - 1) - 1
    o = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= i + p:
        o -= 1
    return o


class _Plan:
    """The kernel offsets of one pooling geometry, in window order.

    ``boxes``       ((code, phase, pbox, whole_phase), ...) for each kernel offset: ``code`` is
                    1 + the offset's rank; ``pbox`` indexes phase number ``phase`` (a leading
                    Ellipsis, then one unit-step slice per dim); ``whole_phase``: pbox is the
                    whole (contiguous) phase
    ``phases``      ((shape, dst, src, padded), ...) per phase that some box reads: its
                    spatial shape, where in it (``dst``) the input elements ``x[src]`` go,
                    and whether the rest is padding; None when the input itself is the only
                    phase (every stride 1, no padding)
    ``inside``      ((code, obox), ...): the outputs whose element at that offset lies inside
                    the input (for the rule of windows without a winner)
    ``padded``      some window reaches into the padding
    ``disjoint``    no input element belongs to two windows (backward may assign, not add)
    ``covers``      disjoint windows that together cover the whole input
    ``whole``       a single window holding the whole plane (reduced in one call)
    ``n_codes``     the number of kernel offsets, prod(kernel)
    """
    __slots__ = ('in_sizes', 'out_sizes', 'kernel', 'stride', 'padding', 'dilation', 'boxes',
                 'phases', 'inside', 'padded', 'disjoint', 'covers', 'whole', 'n_codes')


def _phase_geometry(i, o, k, s, p, d, r, q_max):
    """Along one dim, phase r of the padded input as read by the windows: (length, dst slice
    in the phase, src slice of the input, padded)."""
    length = o + q_max
    # phase element j is padded position j*s + r, input position j*s + r - p
    lo = max(0, -(-(p - r) // s))
    hi = min(length, (i - 1 + p - r) // s + 1)
    if lo >= hi:
        return length, slice(0, 0), slice(0, 0), True
    start = lo * s + r - p
    return (length, slice(lo, hi), slice(start, start + (hi - lo - 1) * s + 1, s),
            lo > 0 or hi < length)


def _inside(i, o, k, s, p, d):
    """For each kernel index along one dim: the output slice whose element at that index lies
    inside the input, or None."""
    out = []
    for kk in range(k):
        off = kk * d - p
        lo, hi = max(0, -(off // s)), min(o, (i - 1 - off) // s + 1)
        out.append(slice(lo, hi) if lo < hi else None)
    return out


@lru_cache(maxsize=512)
def window_plan(in_sizes, out_sizes, kernel, stride, padding, dilation):
    """The ``_Plan`` of a pooling geometry (each argument a tuple with one entry per dim)."""
    plan = _Plan()
    plan.in_sizes, plan.out_sizes = in_sizes, out_sizes
    plan.kernel, plan.stride, plan.padding, plan.dilation = kernel, stride, padding, dilation
    dims = list(zip(in_sizes, out_sizes, kernel, stride, padding, dilation))
    qr = [[divmod(kk * d, s) for kk in range(k)] for _, _, k, s, _, d in dims]
    q_max = [{} for _ in dims]                   # per dim: phase r -> largest shift q
    for j, entries in enumerate(qr):
        for q, r in entries:
            q_max[j][r] = max(q_max[j].get(r, 0), q)
    identity = all(s == 1 and p == 0 for _, _, _, s, p, _ in dims)
    phase_ids, phases, boxes = {}, [], []
    for code, combo in enumerate(itertools.product(*qr), 1):
        r = tuple(e[1] for e in combo)
        if r not in phase_ids:
            phase_ids[r] = len(phases)
            per = [_phase_geometry(*dim, rj, q_max[j][rj]) for j, (dim, rj) in
                   enumerate(zip(dims, r))]
            phases.append((tuple(g[0] for g in per), (Ellipsis,) + tuple(g[1] for g in per),
                           (Ellipsis,) + tuple(g[2] for g in per), any(g[3] for g in per)))
        shape = phases[phase_ids[r]][0]
        pbox = (Ellipsis,) + tuple(slice(q, q + o) for (q, _), o in zip(combo, out_sizes))
        boxes.append((code, phase_ids[r], pbox,
                      all(q == 0 and o == n for (q, _), o, n in zip(combo, out_sizes, shape))))
    plan.boxes = tuple(boxes)
    plan.phases = None if identity else tuple(phases)
    plan.padded = not identity and any(ph[3] for ph in phases)
    inside = []
    for code, combo in enumerate(itertools.product(*[_inside(*dim) for dim in dims]), 1):
        if all(c is not None for c in combo):
            inside.append((code, (Ellipsis,) + combo))
    plan.inside = tuple(inside)
    plan.n_codes = math.prod(kernel)
    plan.disjoint = all(s >= (k - 1) * d + 1 for k, s, d in zip(kernel, stride, dilation))
    plan.covers = plan.disjoint and all(
        p == 0 and d == 1 and s == k and o * k == i for i, o, k, s, p, d in dims)
    plan.whole = plan.covers and all(o == 1 for o in out_sizes)
    return plan


def _phase_arrays(x, plan, fill):
    """The phases of ``x`` that the plan reads, as contiguous arrays with the padding set to
    ``fill`` (``[x]`` when the input itself is the only phase)."""
    if plan.phases is None:
        return [x]
    xp = xp_of(x)
    arrays = []
    for shape, dst, src, padded in plan.phases:
        shape = x.shape[:1] + shape
        a = xp.full(shape, fill, x.dtype) if padded else xp.empty(shape, x.dtype)
        a[dst] = x[src]
        arrays.append(a)
    return arrays


def _phase_buffers(gin, plan):
    """Zeroed gradient buffers shaped like the phases (``[gin]`` when the input itself is the
    only phase); ``_store_phases`` copies their interior back into ``gin``."""
    if plan.phases is None:
        return [gin]
    xp = xp_of(gin)
    new = xp.empty if plan.covers else xp.zeros
    return [new(gin.shape[:1] + shape, gin.dtype) for shape, _, _, _ in plan.phases]


def _store_phases(gin, buffers, plan):
    if plan.phases is not None:
        for (_, dst, src, _), b in zip(plan.phases, buffers):
            gin[src] = b[dst]


def _planes(x, nd):
    """``x`` as (P, *spatial): the leading dims merged into one axis of planes."""
    return x.reshape((-1,) + x.shape[x.ndim - nd:])


def _plane_strides(sizes):
    """Flat-index strides of the dims of a plane of ``sizes``."""
    return [math.prod(sizes[j + 1:]) for j in range(len(sizes))]


def _over_planes(kernel, arrays, plane_bytes):
    """``kernel(*blocks)`` over blocks of planes (axis 0 of every array) holding about
    ``_BLOCK_BYTES`` of input each, spread over all cores when the arrays are large NumPy
    arrays; one call otherwise."""
    first = arrays[0]
    n = first.shape[0]
    if n == 0:
        return
    if first.__class__ is not np.ndarray or n * plane_bytes <= _BLOCK_BYTES:
        kernel(*arrays)
        return
    step = max(1, _BLOCK_BYTES // max(1, plane_bytes))

    def blocks(*rest, out):
        for i in range(0, out.shape[0], step):
            kernel(out[i:i + step], *[a[i:i + step] for a in rest])

    if n * plane_bytes < 4 * THRESHOLD:
        blocks(*arrays[1:], out=first)
    else:
        map_rows(blocks, first, *arrays[1:])


def _variants(base, prefix, names):
    """Subclasses ``prefix{nd}D`` of ``base`` per number of spatial dims, showing PyTorch's
    node names ``names[nd]``."""
    return {nd: type(f'{prefix}{nd}D', (base,), {'backward_name': name})
            for nd, name in names.items()}


def _operand(ph, pi, pb, whole_phase, slab):
    """The window elements of one kernel offset as a contiguous array (copied into ``slab``
    unless they are a whole phase)."""
    if whole_phase:
        return ph[pi]
    slab[...] = ph[pi][pb]
    return slab


# ==== max pooling over strided windows ===========================================================
def _lowest(dtype):
    """The value padding stands for in max pooling: -inf, or the integer minimum."""
    return -np.inf if dtype.kind == 'f' else np.iinfo(dtype).min


def _code_dtype(n_codes):
    return np.int8 if n_codes < 127 else np.int16 if n_codes < 32767 else np.int32


def _max_kernel(plan, fill):
    """kernel(out, x[, code]): window maxima of a block of planes and the winners' codes."""
    boxes = plan.boxes

    def kernel(out, x, code=None):
        xp = xp_of(x)
        ph = _phase_arrays(x, plan, fill)
        slab = xp.empty(out.shape, out.dtype)
        _, pi, pb, whole = boxes[0]
        out[...] = ph[pi] if whole else ph[pi][pb]
        if code is not None:
            code.fill(1)
            mask = xp.empty(out.shape, bool)
            tmp = xp.empty(out.shape, code.dtype)
            c_type = code.dtype.type
        for c, pi, pb, whole in boxes[1:]:
            xs = _operand(ph, pi, pb, whole, slab)
            if code is not None:
                xp.greater(xs, out, out=mask)
                xp.multiply(mask, c_type(c), out=tmp)     # codes only grow: max() records c
                xp.maximum(code, tmp, out=code)
            xp.maximum(out, xs, out=out)
    return kernel


def _fix_codes(x, out, code, plan):
    """The rare rules: windows holding only the padding value (-inf or the integer minimum)
    take their first in-bounds element; windows with a NaN take their last NaN."""
    xp = xp_of(x)
    c_type = code.dtype.type
    fill = _lowest(out.dtype)
    lowest = out.min()
    if not lowest > fill:
        if plan.padded:
            empty = out == fill
            for c, ob in reversed(plan.inside):
                xp.copyto(code[ob], c_type(c), where=empty[ob])
        if out.dtype.kind == 'f' and bool(xp.isnan(lowest)):
            ph = _phase_arrays(x, plan, fill)
            for c, pi, pb, _ in plan.boxes:
                xp.copyto(code, c_type(c), where=xp.isnan(ph[pi][pb]))


def max_windows(x, plan, want_codes):
    """Max pooling of ``x`` (P, *S) over ``plan`` -> (out (P, *O), winner codes or None)."""
    if plan.whole:
        return _max_whole(x, plan, want_codes)
    xp = xp_of(x)
    out = xp.empty(x.shape[:1] + plan.out_sizes, x.dtype)
    kernel = _max_kernel(plan, _lowest(x.dtype))
    plane_bytes = math.prod(plan.in_sizes) * x.itemsize
    if not want_codes:
        _over_planes(kernel, (out, x), plane_bytes)
        return out, None
    code = xp.empty(out.shape, _code_dtype(plan.n_codes))
    _over_planes(kernel, (out, x, code), plane_bytes)
    if out.size:
        _fix_codes(x, out, code, plan)
    return out, code


def _max_whole(x, plan, want_codes):
    """``max_windows`` when the window is the whole plane: one reduction over each plane."""
    xp = xp_of(x)
    x2 = x.reshape(x.shape[0], -1)
    shape = x.shape[:1] + plan.out_sizes
    if not x2.shape[0]:
        return xp.empty(shape, x.dtype), xp.empty(shape, _code_dtype(plan.n_codes))
    out = x2.max(axis=1).reshape(shape)
    if not want_codes:
        return out, None
    code = (x2.argmax(axis=1) + 1).astype(_code_dtype(plan.n_codes)).reshape(shape)
    if out.dtype.kind == 'f' and bool(xp.isnan(out.min())):     # the last NaN of each plane
        flipped = xp.isnan(x2[:, ::-1]).argmax(axis=1)
        nan_code = (x2.shape[1] - flipped).astype(code.dtype).reshape(shape)
        code = xp.where(xp.isnan(out), nan_code, code)
    return out, code


def codes_to_indices(code, plan):
    """PyTorch's max-pooling indices: for each output element the flat position of its
    winner within the input plane (int64, shaped like ``code``)."""
    xp = xp_of(code)
    nd = len(plan.in_sizes)
    strides = _plane_strides(plan.in_sizes)
    table = np.zeros(plan.n_codes + 1, np.int64)
    for c, offs in enumerate(itertools.product(*[range(k) for k in plan.kernel]), 1):
        table[c] = sum(kk * d * st for kk, d, st in zip(offs, plan.dilation, strides))
    idx = xp.asarray(table).take(code)
    for j, o in enumerate(plan.out_sizes):
        base = (xp.arange(o, dtype=np.int64) * plan.stride[j] - plan.padding[j]) * strides[j]
        idx += base.reshape((o,) + (1,) * (nd - 1 - j))
    return idx


def _max_backward_kernel(plan, finite):
    """kernel(gin, g, code): send each output gradient to its window's winner. ``finite``:
    ``g`` has no inf/nan, so a product with the winner mask gives exact zeros."""
    boxes, disjoint = plan.boxes, plan.disjoint

    def kernel(gin, g, code):
        xp = xp_of(g)
        bufs = _phase_buffers(gin, plan)
        c_type = code.dtype.type
        for c, pi, pb, whole in boxes:
            sel = code == c_type(c)
            dst = bufs[pi] if whole else bufs[pi][pb]
            if disjoint and finite:
                xp.multiply(g, sel, out=dst)
            elif disjoint:
                dst[...] = xp.where(sel, g, 0)
            else:
                dst += g * sel if finite else xp.where(sel, g, 0)
        _store_phases(gin, bufs, plan)
    return kernel


def max_windows_backward(g, code, plan):
    """Gradient (P, *S) of ``max_windows`` from the output gradient ``g`` (P, *O)."""
    xp = xp_of(g)
    shape = g.shape[:1] + plan.in_sizes
    if plan.whole:
        gin = xp.zeros(shape, g.dtype)
        n = g.shape[0]
        gin.reshape(n, -1)[xp.arange(n), code.reshape(n).astype(np.intp) - 1] = g.reshape(n)
        return gin
    gin = (xp.empty if plan.covers else xp.zeros)(shape, g.dtype)
    finite = g.size == 0 or bool(xp.isfinite(g.max() - g.min()))
    _over_planes(_max_backward_kernel(plan, finite), (gin, g, code),
                 math.prod(plan.in_sizes) * g.itemsize)
    return gin


class _MaxPool(Op):
    """Max pooling of the last nd dims over the windows of a plan:
    forward(x, plan, return_indices) -> out, or (out, indices)."""

    @staticmethod
    def forward(ctx, x, plan, return_indices):
        nd = len(plan.out_sizes)
        grad = ctx.needs_input_grad[0]
        out, code = max_windows(_planes(x, nd), plan, grad or return_indices)
        if grad:
            ctx.save_for_backward(code)
            ctx.plan, ctx.in_shape = plan, x.shape
        out = out.reshape(x.shape[:x.ndim - nd] + plan.out_sizes)
        if return_indices:
            return out, codes_to_indices(code, plan).reshape(out.shape)
        return out

    @staticmethod
    def backward(ctx, g, g_indices=None):
        code, = ctx.saved
        plan = ctx.plan
        gin = max_windows_backward(_planes(g, len(plan.out_sizes)), code, plan)
        return gin.reshape(ctx.in_shape)


# PyTorch pools 1-d inputs as unsqueezed 2-d ones: their node is the final squeeze
MAX_POOL = _variants(_MaxPool, 'MaxPool', {1: 'SqueezeBackward1',
                                           2: 'MaxPool2DWithIndicesBackward0',
                                           3: 'MaxPool3DWithIndicesBackward0'})
ADAPTIVE_MAX_POOL = _variants(_MaxPool, 'AdaptiveMaxPool', {1: 'SqueezeBackward1',
                                                            2: 'AdaptiveMaxPool2DBackward0',
                                                            3: 'AdaptiveMaxPool3DBackward0'})


# ==== average pooling ============================================================================
def avg_divisor(plan, count_include_pad, divisor_override):
    """The divisor of each window: a number, or per-dim 1-d arrays of counts (a tuple) whose
    outer product gives it (``_divisor_array``)."""
    if divisor_override is not None:
        return divisor_override
    counts = []
    for i, o, k, s, p in zip(plan.in_sizes, plan.out_sizes, plan.kernel, plan.stride,
                             plan.padding):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, i + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, i)
        counts.append(end - start)
    if all((c == c[0]).all() for c in counts if c.size):
        return math.prod(int(c[0]) for c in counts if c.size)
    return tuple(counts)


def _divisor_array(div, xp, dtype):
    """A divisor from ``avg_divisor`` as a number or an array of ``dtype`` broadcasting over
    the output's spatial dims."""
    if not isinstance(div, tuple):
        return div
    nd = len(div)
    total = np.ones((1,) * nd)
    for j, c in enumerate(div):
        total = total * c.reshape((-1,) + (1,) * (nd - 1 - j))
    return xp.asarray(total.astype(dtype))


def _sum_kernel(plan, div):
    """kernel(out, x): window sums of a block of planes, divided by ``div`` (None: plain
    sums)."""
    boxes = plan.boxes

    def kernel(out, x):
        ph = _phase_arrays(x, plan, 0)
        slab = xp_of(x).empty(out.shape, out.dtype)
        _, pi, pb, whole = boxes[0]
        out[...] = ph[pi] if whole else ph[pi][pb]
        for _, pi, pb, whole in boxes[1:]:
            out += _operand(ph, pi, pb, whole, slab)
        if div is not None:
            out /= div
    return kernel


def _plane_sums(x2):
    """Row sums of (P, L) ``x2``: NumPy's einsum (vectorised) for short float rows, else a
    pairwise sum; float16 accumulates in float32, integers in int64."""
    if x2.dtype.kind != 'f':
        return x2.sum(axis=1, dtype=np.int64)
    if x2.dtype == np.float16:
        return x2.sum(axis=1, dtype=np.float32)
    if x2.__class__ is np.ndarray and x2.shape[1] <= 4096:
        return np.einsum('ij->i', x2)
    return x2.sum(axis=1)


def window_sums(x, plan, div=None):
    """Sums of ``x`` (P, *S) over the windows of ``plan``, divided by ``div`` -> (P, *O)."""
    xp = xp_of(x)
    if plan.whole:
        sums = _plane_sums(x.reshape(x.shape[0], -1))
        out = (sums if div is None else sums / div).astype(x.dtype, copy=False)
        return out.reshape(x.shape[:1] + plan.out_sizes)
    out = xp.empty(x.shape[:1] + plan.out_sizes, x.dtype)
    _over_planes(_sum_kernel(plan, div), (out, x), math.prod(plan.in_sizes) * x.itemsize)
    return out


def _sum_backward_kernel(plan, div):
    """kernel(gin, g): spread g / div over each window (the adjoint of ``_sum_kernel``)."""
    boxes, disjoint = plan.boxes, plan.disjoint

    def kernel(gin, g):
        if div is not None:
            g = g / div
        bufs = _phase_buffers(gin, plan)
        for _, pi, pb, whole in boxes:
            dst = bufs[pi] if whole else bufs[pi][pb]
            if disjoint:
                dst[...] = g
            else:
                dst += g
        _store_phases(gin, bufs, plan)
    return kernel


def window_sums_backward(g, plan, div=None):
    """Gradient (P, *S) of ``window_sums`` from the output gradient ``g`` (P, *O)."""
    xp = xp_of(g)
    gin = (xp.empty if plan.covers else xp.zeros)(g.shape[:1] + plan.in_sizes, g.dtype)
    if plan.whole:
        n = g.shape[0]
        planes = gin.reshape(n, -1)
        planes[...] = (g if div is None else g / div).reshape(n, 1)
        return gin
    _over_planes(_sum_backward_kernel(plan, div), (gin, g),
                 math.prod(plan.in_sizes) * g.itemsize)
    return gin


class _AvgPool(Op):
    """Average pooling of the last nd dims: forward(x, plan, divisor), ``divisor`` from
    ``avg_divisor``. Integer inputs give integer averages rounded toward zero."""

    @staticmethod
    def forward(ctx, x, plan, divisor):
        nd = len(plan.out_sizes)
        xp = xp_of(x)
        shape = x.shape[:x.ndim - nd] + plan.out_sizes
        if x.dtype.kind != 'f':
            sums = window_sums(_planes(x, nd), plan).astype(np.float64)
            out = xp.trunc(sums / _divisor_array(divisor, xp, np.float64)).astype(x.dtype)
            return out.reshape(shape)
        div = _divisor_array(divisor, xp, x.dtype)
        ctx.plan, ctx.div, ctx.in_shape = plan, div, x.shape
        return window_sums(_planes(x, nd), plan, div).reshape(shape)

    @staticmethod
    def backward(ctx, g):
        plan = ctx.plan
        gin = window_sums_backward(_planes(g, len(plan.out_sizes)), plan, ctx.div)
        return gin.reshape(ctx.in_shape)


AVG_POOL = _variants(_AvgPool, 'AvgPool', {1: 'SqueezeBackward1', 2: 'AvgPool2DBackward0',
                                           3: 'AvgPool3DBackward0'})


# ==== power-average (LP) pooling =================================================================
class LPPool(Op):
    """Power-average pooling as PyTorch computes it: t = prod(k) * (average of x**p over
    each window, partial windows of ceil mode dividing by their in-bounds size), out = t**(1/p).
    forward(x, plan, p, divisor)."""
    backward_name = 'PowBackward0'

    @staticmethod
    def forward(ctx, x, plan, p, divisor):
        nd = len(plan.out_sizes)
        div = _divisor_array(divisor, xp_of(x), x.dtype)
        with np.errstate(invalid='ignore', divide='ignore', over='ignore'):
            t = window_sums(_planes(x ** p, nd), plan, div)
            t *= plan.n_codes
            out = t ** (1.0 / p)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x, t, out)
            ctx.plan, ctx.p, ctx.div = plan, p, div
        return out.reshape(x.shape[:x.ndim - nd] + plan.out_sizes)

    @staticmethod
    def backward(ctx, g):
        x, t, out = ctx.saved
        plan, p = ctx.plan, ctx.p
        xp = xp_of(g)
        with np.errstate(invalid='ignore', divide='ignore', over='ignore'):
            # d out / d average = k * t**(1/p - 1) / p = k * out / (p t); PyTorch gives 0 at t = 0
            g_avg = xp.where(t != 0, _planes(g, len(plan.out_sizes)) * out / t, 0)
            g_avg *= plan.n_codes / p
            gx = window_sums_backward(g_avg, plan, ctx.div).reshape(x.shape)
            if p != 1:
                gx *= p * x ** (p - 1)
        return gx


# ==== adaptive average pooling ===================================================================
def adaptive_bounds(i, o):
    """Start and end (exclusive) input positions of the ``o`` adaptive windows over ``i``
    inputs: floor(j*i/o) and ceil((j+1)*i/o)."""
    return [(j * i) // o for j in range(o)], [-(-((j + 1) * i) // o) for j in range(o)]


def adaptive_plan(in_sizes, out_sizes):
    """The window plan of adaptive pooling when every output size divides its input size
    (k = s = i/o), else None."""
    if any(o == 0 or i % o for i, o in zip(in_sizes, out_sizes)):
        return None
    k = tuple(i // o for i, o in zip(in_sizes, out_sizes))
    n = len(k)
    return window_plan(tuple(in_sizes), tuple(out_sizes), k, k, (0,) * n, (1,) * n)


def _adaptive_mean_1d(a, axis, o):
    """Adaptive average of ``a`` along ``axis`` into ``o`` windows (a loop over windows)."""
    xp = xp_of(a)
    starts, ends = adaptive_bounds(a.shape[axis], o)
    out = xp.empty(a.shape[:axis] + (o,) + a.shape[axis + 1:], a.dtype)
    lead = (slice(None),) * axis
    for j, (s, e) in enumerate(zip(starts, ends)):
        a[lead + (slice(s, e),)].sum(axis=axis, out=out[lead + (j,)])
    counts = (np.array(ends) - np.array(starts)).astype(a.dtype)
    out /= xp.asarray(counts).reshape((o,) + (1,) * (a.ndim - axis - 1))
    return out


def _adaptive_mean_1d_backward(g, axis, i):
    """Adjoint of ``_adaptive_mean_1d``: spread each window's gradient over its inputs."""
    xp = xp_of(g)
    starts, ends = adaptive_bounds(i, g.shape[axis])
    gin = xp.zeros(g.shape[:axis] + (i,) + g.shape[axis + 1:], g.dtype)
    lead = (slice(None),) * axis
    for j, (s, e) in enumerate(zip(starts, ends)):
        gs = gin[lead + (slice(s, e),)]
        gs += g[lead + (slice(j, j + 1),)] / (e - s)
    return gin


class _AdaptiveAvgPool(Op):
    """Adaptive average pooling of the last nd dims: forward(x, out_sizes). Plain windows
    when the sizes divide, else one dim at a time."""

    @staticmethod
    def forward(ctx, x, out_sizes):
        nd = len(out_sizes)
        in_sizes = x.shape[x.ndim - nd:]
        shape = x.shape[:x.ndim - nd] + out_sizes
        ctx.in_shape, ctx.out_sizes = x.shape, out_sizes
        if x.size == 0 or 0 in out_sizes:
            return xp_of(x).zeros(shape, x.dtype)
        plan = ctx.plan = adaptive_plan(in_sizes, out_sizes)
        out = _planes(x, nd)
        if plan is not None:
            return window_sums(out, plan, plan.n_codes).reshape(shape)
        for j, (i, o) in enumerate(zip(in_sizes, out_sizes)):
            if i != o:
                out = _adaptive_mean_1d(out, 1 + j, o)
        return out.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        in_shape, out_sizes = ctx.in_shape, ctx.out_sizes
        nd = len(out_sizes)
        if g.size == 0 or math.prod(in_shape) == 0:
            return xp_of(g).zeros(in_shape, g.dtype)
        gin = _planes(g, nd)
        if ctx.plan is not None:
            return window_sums_backward(gin, ctx.plan, ctx.plan.n_codes).reshape(in_shape)
        in_sizes = in_shape[len(in_shape) - nd:]
        for j in reversed(range(nd)):
            if in_sizes[j] != out_sizes[j]:
                gin = _adaptive_mean_1d_backward(gin, 1 + j, in_sizes[j])
        return gin.reshape(in_shape)


ADAPTIVE_AVG_POOL = _variants(_AdaptiveAvgPool, 'AdaptiveAvgPool',
                              {1: 'SqueezeBackward1', 2: 'AdaptiveAvgPool2DBackward0',
                               3: 'AdaptiveAvgPool3DBackward0'})


GLOBAL_AVG_POOL = _variants(_AdaptiveAvgPool, 'GlobalAvgPool',      # PyTorch takes a mean
                            {1: 'SqueezeBackward1', 2: 'MeanBackward1', 3: 'MeanBackward1'})


def adaptive_avg_pool(input, out_sizes):
    """Adaptive average pooling of Tensor ``input`` to ``out_sizes`` (a tuple per spatial
    dim)."""
    table = GLOBAL_AVG_POOL if all(o == 1 for o in out_sizes) else ADAPTIVE_AVG_POOL
    return table[len(out_sizes)].apply(input, out_sizes)


# ==== max pooling over gathered windows (adaptive, fractional) ===================================
def gathered_max(x2, positions, in_sizes):
    """Max pooling over windows given by coordinates. ``x2`` (P, L) holds the input planes;
    ``positions[j]`` (P or 1, O_j, K_j) the input coordinate along spatial dim j of element
    k of window o. Returns (out (P, M), idx (P, M)): maxima and their flat positions in the
    plane (int64), M = prod(O_j), with max pooling's rules for ties and NaN."""
    xp = xp_of(x2)
    nd = len(positions)
    strides = _plane_strides(in_sizes)
    out_sizes = tuple(p.shape[1] for p in positions)
    rows = max(p.shape[0] for p in positions)

    def flat(offs):
        f = 0
        for j, kk in enumerate(offs):
            pos = positions[j]
            f = f + (pos[:, :, kk] * strides[j]).reshape(
                (pos.shape[0],) + (1,) * j + (out_sizes[j],) + (1,) * (nd - 1 - j))
        return xp.broadcast_to(f, (rows,) + out_sizes).reshape(rows, -1)

    def values(f):
        return x2[:, f[0]] if rows == 1 else xp.take_along_axis(x2, f, axis=1)

    combos = list(itertools.product(*[range(p.shape[2]) for p in positions]))
    f = flat(combos[0])
    out = values(f)
    idx = xp.broadcast_to(f, out.shape).copy()
    for offs in combos[1:]:
        f = flat(offs)
        v = values(f)
        xp.copyto(idx, f, where=v > out)
        xp.maximum(out, v, out=out)
    if out.dtype.kind == 'f' and out.size and bool(xp.isnan(out.max())):
        for offs in combos:
            f = flat(offs)
            xp.copyto(idx, f, where=xp.isnan(values(f)))
    return out, idx


def gathered_max_backward(g, idx, plane_size):
    """Gradient (P, L) of ``gathered_max`` from ``g`` (P, M): each output's gradient added
    at its winner (windows may overlap)."""
    xp = xp_of(g)
    n = idx.shape[0]
    flat = (idx + (xp.arange(n, dtype=np.int64) * plane_size)[:, None]).ravel()
    gin = xp.bincount(flat, weights=g.reshape(-1), minlength=n * plane_size)
    return gin.reshape(n, plane_size).astype(g.dtype, copy=False)


class _GatheredMaxPool(Op):
    """Max pooling of the last nd dims over windows given by coordinates:
    forward(x, positions, return_indices) (``positions`` as in ``gathered_max``)."""

    @staticmethod
    def forward(ctx, x, positions, return_indices):
        nd = len(positions)
        in_sizes = x.shape[x.ndim - nd:]
        shape = x.shape[:x.ndim - nd] + tuple(p.shape[1] for p in positions)
        out, idx = gathered_max(x.reshape(-1, math.prod(in_sizes)), positions, in_sizes)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(idx)
            ctx.in_shape, ctx.plane = x.shape, math.prod(in_sizes)
        out = out.reshape(shape)
        return (out, idx.reshape(shape)) if return_indices else out

    @staticmethod
    def backward(ctx, g, g_indices=None):
        idx, = ctx.saved
        gin = gathered_max_backward(g.reshape(idx.shape), idx, ctx.plane)
        return gin.reshape(ctx.in_shape)


ADAPTIVE_MAX_GATHERED = _variants(_GatheredMaxPool, 'AdaptiveMaxPoolGathered',
                                  {1: 'SqueezeBackward1', 2: 'AdaptiveMaxPool2DBackward0',
                                   3: 'AdaptiveMaxPool3DBackward0'})
FRACTIONAL_MAX_POOL = _variants(_GatheredMaxPool, 'FractionalMaxPool',
                                {2: 'FractionalMaxPool2DBackward0',
                                 3: 'FractionalMaxPool3DBackward0'})


def adaptive_positions(in_sizes, out_sizes, xp):
    """``gathered_max`` coordinates of adaptive windows, shared by every plane: (1, O, K)
    per dim, each window padded to the longest (K) by repeating its last element."""
    positions = []
    for i, o in zip(in_sizes, out_sizes):
        starts, ends = adaptive_bounds(i, o)
        starts, ends = np.array(starts), np.array(ends)
        k = int((ends - starts).max(initial=1))
        pos = np.minimum(starts[:, None] + np.arange(k), ends[:, None] - 1)
        positions.append(xp.asarray(pos[None]))
    return tuple(positions)


def fractional_starts(u, i, k, o):
    """Window starts of fractional max pooling along one dim, PyTorch's pseudo-random
    interval sequence: int((j + u) * a) - int(u * a) with a = (i - k) / (o - 1), computed in
    the dtype of the samples ``u`` (P,), the last window ending at the input's end -> (P, o)."""
    xp = xp_of(u)
    last = xp.full((u.shape[0], 1), i - k, np.int64)
    if o == 1:
        return last
    dt = u.dtype.type
    alpha = dt(i - k) / dt(o - 1)
    j = xp.arange(o - 1, dtype=u.dtype)
    starts = ((j + u[:, None]) * alpha).astype(np.int64) - (u * alpha).astype(np.int64)[:, None]
    return xp.clip(xp.concatenate([starts, last], axis=1), 0, i - k)


def fractional_positions(samples, in_sizes, kernel, out_sizes):
    """``gathered_max`` coordinates of fractional max pooling windows: ``samples`` (P, nd)
    holds each plane's random numbers, column j for spatial dim j -> (P, O, k) per dim."""
    xp = xp_of(samples)
    return tuple(fractional_starts(samples[:, j], i, k, o)[:, :, None]
                 + xp.arange(k, dtype=np.int64)
                 for j, (i, k, o) in enumerate(zip(in_sizes, kernel, out_sizes)))


# ==== max unpooling ==============================================================================
class _MaxUnpool(Op):
    """Max unpooling: forward(x, indices, out_sizes) puts each value of x at its index in a
    zero plane of ``out_sizes`` (the last value wins where indices repeat); backward gathers."""

    @staticmethod
    def forward(ctx, x, indices, out_sizes):
        xp = xp_of(x)
        nd = len(out_sizes)
        lead = x.shape[:x.ndim - nd]
        n, size = math.prod(lead), math.prod(out_sizes)
        x2 = x.reshape(n, -1)
        i2 = indices.reshape(x2.shape)
        if i2.size and (int(i2.min()) < 0 or int(i2.max()) >= size):
            bad = int(i2[(i2 < 0) | (i2 >= size)][0])
            volume = 'x'.join(map(str, out_sizes + ((1,) if nd == 1 else ())))
            raise RuntimeError(f'Found an invalid max index: {bad} (output volumes are of size '
                               f'{volume})')
        out = xp.zeros((n, size), x.dtype)
        out[xp.arange(n)[:, None], i2] = x2
        ctx.save_for_backward(indices)
        ctx.n, ctx.size = n, size
        return out.reshape(lead + out_sizes)

    @staticmethod
    def backward(ctx, g):
        indices, = ctx.saved
        g2 = g.reshape(ctx.n, ctx.size)
        i2 = indices.reshape(ctx.n, -1)
        return xp_of(g).take_along_axis(g2, i2, axis=1).reshape(indices.shape)


MAX_UNPOOL = _variants(_MaxUnpool, 'MaxUnpool', {1: 'SqueezeBackward1',
                                                 2: 'MaxUnpool2DBackward0',
                                                 3: 'MaxUnpool3DBackward0'})


def adaptive_max_pool(input, out_sizes, return_indices):
    """Adaptive max pooling of Tensor ``input`` to ``out_sizes``: plain windows when the
    sizes divide, gathered ones otherwise."""
    nd = len(out_sizes)
    in_sizes = tuple(input.shape[input.dim() - nd:])
    plan = adaptive_plan(in_sizes, out_sizes)
    if plan is not None:
        return ADAPTIVE_MAX_POOL[nd].apply(input, plan, return_indices)
    positions = adaptive_positions(in_sizes, out_sizes, xp_of(input._data))
    return ADAPTIVE_MAX_GATHERED[nd].apply(input, positions, return_indices)


def fractional_max_pool(input, kernel, out_sizes, samples, return_indices):
    """Fractional max pooling of Tensor ``input`` ((C, *S) or (N, C, *S)) with windows of
    ``kernel`` placed by ``samples`` (a Tensor (N or 1, C, nd) in PyTorch's column order)."""
    nd = len(kernel)
    x = input._data
    batch = x.shape[0] if x.ndim == nd + 2 else 1
    u = samples._data[:batch].reshape(-1, nd)[:, (1, 0) if nd == 2 else (0, 1, 2)]  # 2-d: (w, h)
    positions = fractional_positions(u, tuple(x.shape[x.ndim - nd:]), kernel, out_sizes)
    return FRACTIONAL_MAX_POOL[nd].apply(input, positions, return_indices)
