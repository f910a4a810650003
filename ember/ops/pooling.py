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
planes, on all cores. Inputs that fit in cache (and CuPy arrays) skip the phases when no
window reaches into the padding: their boxes are read as strided views of the input.

Max pooling records, for each output element, which kernel offset won, as a small integer
*code* (1 + the offset's rank in window order). PyTorch's rules follow: the first maximum in
window order wins ties, a NaN wins (the last NaN of the window), and a window holding only
-inf (or the integer minimum) picks its first in-bounds element. The returned indices (flat
positions within each input plane) are computed from the codes.

Adaptive windows along a dim are ``[floor(o*i/O), ceil((o+1)*i/O))``. When O divides i they
are plain non-overlapping windows (the code above, with k = s = i/O); O = 1 everywhere is a
mean per plane. Otherwise pooling is separable and runs one dim at a time: average pooling
multiplies by a sparse averaging matrix (a loop over the few elements of the longest window,
each step gathering one element of every window), max pooling gathers the windows' elements
the same way, as fractional max pooling does with its windows, which start at PyTorch's
pseudo-random interval sequence of each plane.
"""
import itertools
import math
from functools import lru_cache

import numpy as np

from .._backend import xp_of
from .._parallel import map_rows
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
    ``copy_operands`` copy each box into a contiguous slab before reducing it
    ``direct``      where no window reaches into the padding: the same plan reading its
                    boxes as strided views of the input itself (no phases, no copies),
                    cheaper on inputs that fit in cache; else None
    """
    __slots__ = ('in_sizes', 'out_sizes', 'kernel', 'stride', 'padding', 'dilation', 'boxes',
                 'phases', 'inside', 'padded', 'disjoint', 'covers', 'whole', 'n_codes',
                 'copy_operands', 'direct')


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
    plan.copy_operands, plan.direct = True, None
    if not plan.padded:
        plan.direct = _direct_plan(plan)
    return plan


def _direct_plan(plan):
    """``plan`` with boxes that are strided views of the (unpadded) input."""
    direct = _Plan()
    for name in _Plan.__slots__:
        setattr(direct, name, getattr(plan, name))
    offsets = itertools.product(*[range(k) for k in plan.kernel])
    direct.boxes = tuple(
        (code, 0, (Ellipsis,) + tuple(slice(kk * d, kk * d + (o - 1) * s + 1, s) for kk, d, o, s
                                      in zip(offs, plan.dilation, plan.out_sizes, plan.stride)),
         False)
        for code, offs in enumerate(offsets, 1))
    direct.phases, direct.copy_operands, direct.direct = None, False, None
    return direct


def _layout(plan, x):
    """The plan to run on ``x`` (P, ...): the direct one for inputs that fit in cache (and
    on GPUs), the phase one otherwise."""
    if plan.direct is not None and (x.__class__ is not np.ndarray or x.nbytes <= _BLOCK_BYTES):
        return plan.direct
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


#: Pooling passes over less input than this run on one thread: they are bound by memory
#: bandwidth, which threads share (2 cores: MaxPool2d(2) forward+backward on 64x6x28x28 took
#: 1.75 ms split over both, 1.36 ms on one; from about 8 MB on, splitting pays).
PARALLEL_BYTES = 8 << 20


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

    if n * plane_bytes < PARALLEL_BYTES:
        blocks(*arrays[1:], out=first)
    else:
        map_rows(blocks, first, *arrays[1:])


def _variants(base, prefix, names):
    """Subclasses ``prefix{nd}D`` of ``base`` per number of spatial dims, showing PyTorch's
    node names ``names[nd]``."""
    return {nd: type(f'{prefix}{nd}D', (base,), {'backward_name': name})
            for nd, name in names.items()}


def _operand(ph, pi, pb, whole_phase, slab):
    """The window elements of one kernel offset: a whole phase, or a box of one copied into
    ``slab`` (a contiguous array) unless ``slab`` is None."""
    if whole_phase:
        return ph[pi]
    if slab is None:
        return ph[pi][pb]
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
        slab = xp.empty(out.shape, out.dtype) if plan.copy_operands else None
        _, pi, pb, whole = boxes[0]
        first = ph[pi] if whole else ph[pi][pb]
        if len(boxes) == 1:
            out[...] = first
            if code is not None:
                code.fill(1)
            return
        _, pi, pb, whole = boxes[1]              # the first two offsets in one pass
        xs = _operand(ph, pi, pb, whole, slab)
        if code is not None:
            mask = xp.greater(xs, first)
            xp.add(mask, code.dtype.type(1), out=code)
            tmp = xp.empty(out.shape, code.dtype)
            c_type = code.dtype.type
        xp.maximum(first, xs, out=out)
        for c, pi, pb, whole in boxes[2:]:
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
    plan = _layout(plan, x)
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
    if not want_codes:
        return x2.max(axis=1).reshape(shape), None
    first = x2.argmax(axis=1)                       # then the maxima: one pass, not two
    out = x2.reshape(-1).take(xp.arange(0, x2.size, x2.shape[1]) + first).reshape(shape)
    code = (first + 1).astype(_code_dtype(plan.n_codes)).reshape(shape)
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
    plan = _layout(plan, gin)
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
@lru_cache(maxsize=512)
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
        slab = xp_of(x).empty(out.shape, out.dtype) if plan.copy_operands else None
        _, pi, pb, whole = boxes[0]
        first = ph[pi] if whole else ph[pi][pb]
        if len(boxes) == 1:
            out[...] = first
        else:                                    # the first two offsets in one pass
            _, pi, pb, whole = boxes[1]
            xp_of(x).add(first, _operand(ph, pi, pb, whole, slab), out=out)
        for _, pi, pb, whole in boxes[2:]:
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
    """Sums of ``x`` (P, *S) over the windows of ``plan``, divided by ``div`` -> (P, *O).
    float16 accumulates in float32."""
    xp = xp_of(x)
    if x.dtype == np.float16:
        return window_sums(x.astype(np.float32), plan, div).astype(np.float16)
    if plan.whole:
        sums = _plane_sums(x.reshape(x.shape[0], -1))
        out = (sums if div is None else sums / div).astype(x.dtype, copy=False)
        return out.reshape(x.shape[:1] + plan.out_sizes)
    out = xp.empty(x.shape[:1] + plan.out_sizes, x.dtype)
    _over_planes(_sum_kernel(_layout(plan, x), div), (out, x),
                 math.prod(plan.in_sizes) * x.itemsize)
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
    _over_planes(_sum_backward_kernel(_layout(plan, gin), div), (gin, g),
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


@lru_cache(maxsize=256)
def adaptive_columns(i, o, adjoint):
    """Adaptive averaging of ``i`` inputs into ``o`` windows as a sparse (i, o) matrix W
    (column j holds 1 / length over window j), or its transpose when ``adjoint``, stored by
    columns: (rows (n_out, K), weights (n_out, K)) with each column's nonzeros padded by
    zero weights to the longest column's K."""
    starts, ends = adaptive_bounds(i, o)
    w = np.zeros((i, o))
    for j, (s, e) in enumerate(zip(starts, ends)):
        w[s:e, j] = 1.0 / (e - s)
    if adjoint:
        w = w.T
    k = int((w != 0).sum(axis=0).max())
    rows = np.zeros((w.shape[1], k), np.intp)
    weights = np.zeros((w.shape[1], k))
    for j in range(w.shape[1]):
        nz = np.flatnonzero(w[:, j])
        rows[j, :nz.size], weights[j, :nz.size] = nz, w[nz, j]
    return rows, weights


def _times_columns(a, rows, weights):
    """``a`` (R, n_in) times the sparse matrix stored by columns -> (R, n_out): a loop over
    the K nonzeros of the columns, each a gather of all columns at once."""
    out = a[:, rows[:, 0]]
    out *= weights[:, 0]
    for k in range(1, rows.shape[1]):
        t = a[:, rows[:, k]]
        t *= weights[:, k]
        out += t
    return out


def _adaptive_means(a, in_sizes, out_sizes, adjoint):
    """Adaptive averages of ``a`` (P, *in_sizes) -> (P, *out_sizes) (or, ``adjoint``, the
    gradient (P, *out_sizes) -> (P, *in_sizes)), one dim at a time: each step averages the
    last dim and rotates the new dim to the front of the spatial dims, so after nd steps the
    dims are back in order."""
    xp = xp_of(a)
    for i, o in reversed(list(zip(in_sizes, out_sizes))):
        if i != o:
            rows, weights = adaptive_columns(i, o, adjoint)
            rows, weights = xp.asarray(rows), xp.asarray(weights, a.dtype)
            a = _times_columns(a.reshape(-1, a.shape[-1]), rows, weights).reshape(
                a.shape[:-1] + (rows.shape[0],))
        if a.ndim > 2:
            a = xp.ascontiguousarray(xp.moveaxis(a, -1, 1))
    return a


class _AdaptiveAvgPool(Op):
    """Adaptive average pooling of the last nd dims: forward(x, out_sizes). Plain windows
    when the sizes divide, else one sparse averaging matrix per dim."""

    @staticmethod
    def forward(ctx, x, out_sizes):
        nd = len(out_sizes)
        in_sizes = x.shape[x.ndim - nd:]
        shape = x.shape[:x.ndim - nd] + out_sizes
        ctx.in_shape, ctx.out_sizes = x.shape, out_sizes
        if x.size == 0 or 0 in out_sizes:
            return xp_of(x).zeros(shape, x.dtype)
        plan = ctx.plan = adaptive_plan(in_sizes, out_sizes)
        if plan is not None:
            return window_sums(_planes(x, nd), plan, plan.n_codes).reshape(shape)
        dt = np.float32 if x.dtype == np.float16 else x.dtype
        out = _adaptive_means(_planes(x, nd).astype(dt, copy=False), in_sizes, out_sizes, False)
        return out.reshape(shape).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        in_shape, out_sizes = ctx.in_shape, ctx.out_sizes
        nd = len(out_sizes)
        if g.size == 0 or math.prod(in_shape) == 0:
            return xp_of(g).zeros(in_shape, g.dtype)
        if ctx.plan is not None:
            gin = window_sums_backward(_planes(g, nd), ctx.plan, ctx.plan.n_codes)
            return gin.reshape(in_shape)
        dt = np.float32 if g.dtype == np.float16 else g.dtype
        gin = _adaptive_means(_planes(g, nd).astype(dt, copy=False),
                              in_shape[len(in_shape) - nd:], out_sizes, True)
        return gin.reshape(in_shape).astype(g.dtype, copy=False)


ADAPTIVE_AVG_POOL = _variants(_AdaptiveAvgPool, 'AdaptiveAvgPool',
                              {1: 'SqueezeBackward1', 2: 'AdaptiveAvgPool2DBackward0',
                               3: 'AdaptiveAvgPool3DBackward0'})


class _GlobalAvgPool(Op):
    """The mean of each plane of the last nd dims: forward(x, nd) -> (..., 1, ..., 1)."""

    @staticmethod
    def forward(ctx, x, nd):
        lead = x.shape[:x.ndim - nd]
        size = math.prod(x.shape[x.ndim - nd:])
        sums = _plane_sums(x.reshape(-1, size))
        ctx.in_shape, ctx.size = x.shape, size
        if sums.dtype == x.dtype:
            sums /= size
        else:
            sums = (sums / size).astype(x.dtype)
        return sums.reshape(lead + (1,) * nd)

    @staticmethod
    def backward(ctx, g):
        size = ctx.size
        gin = xp_of(g).empty(ctx.in_shape, g.dtype)
        gin.reshape(-1, size)[...] = g.reshape(-1, 1) / size
        return gin


GLOBAL_AVG_POOL = _variants(_GlobalAvgPool, 'GlobalAvgPool',      # PyTorch takes a mean
                            {1: 'SqueezeBackward1', 2: 'MeanBackward1', 3: 'MeanBackward1'})


def adaptive_avg_pool(input, out_sizes):
    """Adaptive average pooling of Tensor ``input`` to ``out_sizes`` (a tuple per spatial
    dim)."""
    nd = len(out_sizes)
    if out_sizes == (1,) * nd and 0 not in input._data.shape[input._data.ndim - nd:]:
        return GLOBAL_AVG_POOL[nd].apply(input, nd)
    return ADAPTIVE_AVG_POOL[nd].apply(input, out_sizes)


# ==== max pooling over gathered windows (adaptive, fractional) ===================================
class Intervals:
    """Windows along one dim: window o of plane p covers ``[starts[p, o], ends[p, o])``
    (``starts``, ``ends``: int64 (R, O)), at most ``length`` elements long. Either R = 1 (every
    plane shares them), or R = P and every window is exactly ``length`` long."""
    __slots__ = ('starts', 'ends', 'length')

    def __init__(self, starts, ends, length):
        self.starts, self.ends, self.length = starts, ends, length


def _window_max_rows(at, win, planes, nan_rule):
    """Max over the windows ``win`` (an ``Intervals``) along axis 0 of ``at`` (S, M*P): the
    rows of ``planes`` = P planes, transposed so that column m*P + p holds row m of plane p.
    Returns (maxima (O, M*P), winners' coordinates (O, M*P) int64): the first maximum of a
    window wins; with ``nan_rule`` a NaN wins, the last one. Working on transposed rows keeps
    the long axis innermost."""
    xp = xp_of(at)
    cols = at.shape[1]
    if win.starts.shape[0] == 1:
        starts, last = win.starts[0], win.ends[0] - 1

        def gather(k):
            return at[xp.minimum(starts + k, last)]
    else:       # per-plane windows of ``length`` elements: flat positions of their starts
        starts = win.starts.T[:, None, :]                                 # (O, 1, P)
        first = (starts * cols + xp.arange(cols, dtype=np.int64).reshape(-1, planes)).reshape(
            -1, cols)
        flat = at.reshape(-1)

        def gather(k):              # element k of every window: the start's, k rows down
            return flat[k * cols:].take(first)
    best = gather(0)
    won = xp.zeros(best.shape, _code_dtype(win.length))       # which element k won
    tmp = xp.empty(best.shape, won.dtype)
    for k in range(1, win.length):
        v = gather(k)
        mask = v > best
        if nan_rule:
            mask |= xp.isnan(v)
        xp.maximum(best, v, out=best)           # NaN propagates: it decides on nan_rule
        xp.multiply(mask, won.dtype.type(k), out=tmp)        # winners only grow with k
        xp.maximum(won, tmp, out=won)
    if win.starts.shape[0] == 1:
        return best, xp.minimum(starts[:, None] + won, last[:, None])
    return best, (starts + won.reshape(starts.shape[0], -1, planes)).reshape(won.shape)


def gathered_max(x, windows, nan_rule=False):
    """Max pooling of ``x`` (P, *S) over windows that are products of per-dim intervals
    (``windows[j]``: the ``Intervals`` of dim j). Returns (out (P, *O), idx (P, *O)): maxima
    and their flat positions in the plane (int64), the first maximum in row-major window
    order winning, or the last NaN. Separable: one dim at a time from the last, each step
    moving the reduced dim to the front of the spatial dims."""
    xp = xp_of(x)
    n = x.shape[0]
    if x.size == 0:
        shape = (n,) + tuple(w.starts.shape[1] for w in windows)
        return xp.empty(shape, x.dtype), xp.empty(shape, np.int64)
    strides = _plane_strides(x.shape[1:])
    a, flat = x, None
    for j in reversed(range(len(windows))):
        size = a.shape[-1]
        m = a.size // (n * size)
        at = xp.ascontiguousarray(a.reshape(n, m, size).transpose(2, 1, 0))    # (S, M, P)
        best, coord = _window_max_rows(at.reshape(size, -1), windows[j], n, nan_rule)
        idx = coord * strides[j]
        if flat is not None:        # the earlier dims' positions of each winner
            rows = (xp.arange(m, dtype=np.int64) * size)[:, None] + \
                xp.arange(0, flat.size, m * size, dtype=np.int64)
            idx += flat.reshape(-1).take(coord + rows.reshape(-1))
        o = best.shape[0]
        rotated = (n, o) + a.shape[1:-1]
        a = xp.ascontiguousarray(best.reshape(o, m, n).transpose(2, 0, 1)).reshape(rotated)
        flat = xp.ascontiguousarray(idx.reshape(o, m, n).transpose(2, 0, 1)).reshape(rotated)
    if not nan_rule and a.dtype.kind == 'f' and bool(xp.isnan(a.max())):
        return gathered_max(x, windows, True)
    return a, flat


def gathered_max_backward(g, idx, plane_size):
    """Gradient (P, L) of ``gathered_max`` from ``g`` (P, M): each output's gradient added
    at its winner (windows may overlap)."""
    xp = xp_of(g)
    n = idx.shape[0]
    flat = (idx + (xp.arange(n, dtype=np.int64) * plane_size)[:, None]).ravel()
    gin = xp.bincount(flat, weights=g.reshape(-1), minlength=n * plane_size)
    return gin.reshape(n, plane_size).astype(g.dtype, copy=False)


class _GatheredMaxPool(Op):
    """Max pooling of the last nd dims over windows that are products of intervals:
    forward(x, windows, return_indices) (``windows`` as in ``gathered_max``)."""

    @staticmethod
    def forward(ctx, x, windows, return_indices):
        nd = len(windows)
        in_sizes = x.shape[x.ndim - nd:]
        shape = x.shape[:x.ndim - nd] + tuple(w.starts.shape[1] for w in windows)
        out, idx = gathered_max(_planes(x, nd), windows)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(idx)
            ctx.in_shape, ctx.plane = x.shape, math.prod(in_sizes)
        out = out.reshape(shape)
        return (out, idx.reshape(shape)) if return_indices else out

    @staticmethod
    def backward(ctx, g, g_indices=None):
        idx, = ctx.saved
        n = idx.shape[0]
        m = math.prod(idx.shape[1:])
        gin = gathered_max_backward(g.reshape(n, m), idx.reshape(n, m), ctx.plane)
        return gin.reshape(ctx.in_shape)


ADAPTIVE_MAX_GATHERED = _variants(_GatheredMaxPool, 'AdaptiveMaxPoolGathered',
                                  {1: 'SqueezeBackward1', 2: 'AdaptiveMaxPool2DBackward0',
                                   3: 'AdaptiveMaxPool3DBackward0'})
FRACTIONAL_MAX_POOL = _variants(_GatheredMaxPool, 'FractionalMaxPool',
                                {2: 'FractionalMaxPool2DBackward0',
                                 3: 'FractionalMaxPool3DBackward0'})


def adaptive_windows(in_sizes, out_sizes, xp):
    """``gathered_max`` windows of adaptive pooling, shared by every plane."""
    windows = []
    for i, o in zip(in_sizes, out_sizes):
        starts, ends = (np.array(b, np.int64)[None] for b in adaptive_bounds(i, o))
        windows.append(Intervals(xp.asarray(starts), xp.asarray(ends),
                                 int((ends - starts).max(initial=1))))
    return tuple(windows)


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


def fractional_windows(samples, in_sizes, kernel, out_sizes):
    """``gathered_max`` windows of fractional max pooling: ``samples`` (P, nd) holds each
    plane's random numbers, column j for spatial dim j."""
    windows = []
    for j, (i, k, o) in enumerate(zip(in_sizes, kernel, out_sizes)):
        starts = fractional_starts(samples[:, j], i, k, o)
        windows.append(Intervals(starts, starts + k, k))
    return tuple(windows)


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
            bad = int(i2[(i2 < 0) | (i2 >= size)][-1])       # PyTorch reports the last
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
    windows = adaptive_windows(in_sizes, out_sizes, xp_of(input._data))
    return ADAPTIVE_MAX_GATHERED[nd].apply(input, windows, return_indices)


def fractional_max_pool(input, kernel, out_sizes, samples, return_indices):
    """Fractional max pooling of Tensor ``input`` ((C, *S) or (N, C, *S)) with windows of
    ``kernel`` placed by ``samples`` (a Tensor (N or 1, C, nd) in PyTorch's column order)."""
    nd = len(kernel)
    x = input._data
    batch = x.shape[0] if x.ndim == nd + 2 else 1
    u = samples._data[:batch].reshape(-1, nd)[:, (1, 0) if nd == 2 else (0, 1, 2)]  # 2-d: (w, h)
    windows = fractional_windows(u, tuple(x.shape[x.ndim - nd:]), kernel, out_sizes)
    return FRACTIONAL_MAX_POOL[nd].apply(input, windows, return_indices)
