"""Loss functions, each one fused Op on raw arrays (arguments are checked in
``ember.nn.functional.loss``).

Every op takes a reduction code as its last argument: ``NONE`` keeps the per-element losses,
``SUM`` adds them, ``MEAN`` divides the sum by a count (the number of loss elements, or the
sum of the target weights for the class-index losses). Backward scales the derivative of each
per-element loss by the upstream gradient (``g`` itself for ``NONE``, ``g / count`` otherwise)
and returns it at the broadcast shape; the engine sums it back to each input's shape.

Sections:
  helpers               reductions, fused blocked kernels, softplus / sigmoid, class indices
  regression            L1, MSE, Huber, SmoothL1, Gaussian NLL, Poisson NLL, KL divergence
  binary                BCE, BCE with logits, soft margin, hinge embedding
  classification        cross entropy (class indices / probabilities), NLL, multi-margin,
                        multilabel margin, multilabel soft margin
  ranking and metric    margin ranking, cosine embedding, triplet margin
  sequences             CTC

Speed: cross-entropy keeps only ``e = exp(x - max)`` and its class sums from forward (its
softmax runs over blocks of samples on every core); its backward is one scaled copy of ``e``
and a scatter at the targets. The elementwise losses (MSE, L1, Huber, SmoothL1, BCE with
logits) run their ufunc chains over cache-sized blocks (``_fused``) and sum each block by
BLAS, never storing the per-element losses unless 'none' asks for them; NumPy's slow scalar
log1p is replaced by an exact log-based formula.
"""
import math

import numpy as np

from .._backend import xp_of
from .._parallel import map_rows
from ..autograd.function import Op
from .elementwise import promote
from .reduction import _ones, _sum

__all__ = []

NONE, MEAN, SUM, BATCHMEAN = 0, 1, 2, 3
_ndarray = np.ndarray
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_COS_EPS = 1e-12        # added to the squared norms in cosine_embedding_loss
_BCE_EPS = 1e-12        # floor of x (1 - x) in the gradient of binary_cross_entropy
_RUN = 2048             # elements per BLAS row sum in _fused
_BLOCK = 1 << 17        # elements per block of a fused elementwise chain (fits in L2)
_PAR_MIN = 1 << 16      # elements from which kernels run on several cores


# ==== helpers ==================================================================================
def _as_array(r):
    """NumPy reductions of whole arrays return scalars: make them 0-d arrays."""
    return np.asarray(r) if isinstance(r, np.generic) else r


def _total(a):
    """Sum of every element of ``a`` as a 0-d array (BLAS-backed for large float arrays)."""
    if a.ndim == 0:
        return a
    if a.size < _BLOCK and a.dtype.char in 'fd':
        return _as_array(a.sum())
    return _as_array(_sum(a, tuple(range(a.ndim))))


def _reduced(ctx, loss, red, count=None):
    """The op's output: ``loss`` itself (NONE), its sum (SUM), or its sum over ``count``
    (default: the number of elements). Records the divisor for ``_upstream``."""
    if red == NONE:
        ctx.div = None
        return loss
    total = _total(loss)
    if red == SUM:
        ctx.div = None
        return total
    n = loss.size if count is None else count
    ctx.div = n
    return _as_array(total / n)


def _upstream(ctx, g):
    """The upstream gradient of each loss element: ``g`` ('none' or 'sum'), else ``g / count``."""
    d = ctx.div
    return g if d is None else g / d


def _ignored_to_zero(ctx, b, valid):
    """A 'mean' over zero total weight divides by zero: the gradient of the counted targets
    becomes nan (0 / 0 for zero weights), that of ignored targets stays 0, as PyTorch's."""
    if valid is None or ctx.div is None or float(ctx.div) != 0:
        return b
    return xp_of(b).where(valid.reshape(-1), b, 0)


def _expand(g, shape):
    """``g`` as a new array of the loss's (broadcast) ``shape``: a gradient must cover its
    input's whole shape before the engine sums it down."""
    if g.shape == shape:
        return g
    out = xp_of(g).empty(shape, g.dtype)
    out[...] = g
    return out


def _fused(kernel, shape, dt, arrays, keep, grad=False):
    """Run the elementwise ``kernel(out, *arrays)`` (a chain of ufuncs writing each element's
    value into ``out``) and return ``(values, None)`` when ``keep``, else ``(None, total)``.

    Large C-contiguous NumPy arrays of the output's shape are processed in blocks of
    ``_BLOCK`` elements, so that the chain's temporaries stay in cache, on every core from
    ``_PAR_MIN`` elements; for a total, each block's values are summed in runs of ``_RUN``
    by BLAS (as accurate as a pairwise sum) and never stored whole. A ``grad`` array is
    written on this thread only: the engine then owns it without a copy (worker threads may
    still hold views of it for a moment after they finish)."""
    xp = xp_of(arrays[0])
    n = math.prod(shape)
    if xp is not np or n < 2 * _BLOCK or not all(
            a.__class__ is _ndarray and a.shape == shape and a.flags.c_contiguous
            for a in arrays):
        out = xp.empty(shape, dt)
        kernel(out, *arrays)
        return (out, None) if keep else (None, _total(out))
    rows = n // _RUN
    main = rows * _RUN
    flat = [a.reshape(-1) for a in arrays]
    two_d = [f[:main].reshape(rows, _RUN) for f in flat]
    spread = map_rows if n >= _PAR_MIN and not grad else _serial
    step = _BLOCK // _RUN
    if keep:
        out = np.empty(shape, dt)

        def fill(*blocks, out):
            for i in range(0, out.shape[0], step):
                kernel(out[i:i + step], *[b[i:i + step] for b in blocks])
        spread(fill, out.reshape(-1)[:main].reshape(rows, _RUN), *two_d)
        if main < n:
            kernel(out.reshape(-1)[main:], *[f[main:] for f in flat])
        return out, None
    ones = _ones(_RUN, dt)
    sums = np.empty(rows, dt)

    def add(*blocks, out):
        vals = np.empty((step, _RUN), dt)
        for i in range(0, out.shape[0], step):
            v = vals[:min(step, out.shape[0] - i)]
            kernel(v, *[b[i:i + step] for b in blocks])
            np.matmul(v, ones, out=out[i:i + step])
    spread(add, sums, *two_d)
    total = sums.sum()
    if main < n:
        tail = np.empty(n - main, dt)
        kernel(tail, *[f[main:] for f in flat])
        total = total + tail.sum()
    return None, np.asarray(total, dt)


def _serial(fn, out, *arrays):
    """map_rows's call on one thread."""
    fn(*arrays, out=out)


def _log1p(e, out):
    """log(1 + e) for e >= 0 into ``out``. NumPy's log1p is a slow scalar loop, so on NumPy:
    log(u) - (u - 1 - e) / u with u = 1 + e rounded (the correction restores the part of e
    lost in rounding; exact to a few ulps, e itself where u rounds to 1)."""
    xp = xp_of(e)
    if xp is not np:
        return xp.log1p(e, out=out)
    u = e + 1
    np.log(u, out=out)
    t = u - 1
    t -= e
    t /= u
    out -= t
    return out


_ZEROS = {}


def _zeros(a):
    """A cached read-only array of zeros shaped like NumPy array ``a``: NumPy's maximum against
    an array is several times faster than against the scalar 0."""
    key = (a.shape, a.dtype)
    z = _ZEROS.get(key)
    if z is None:
        if len(_ZEROS) > 32:
            _ZEROS.clear()
        z = _ZEROS[key] = np.zeros(a.shape, a.dtype)
        z.flags.writeable = False
    return z


def _softplus_neg(x, out):
    """log(1 + exp(-x)) = log1p(exp(-|x|)) + max(-x, 0), stable for every x."""
    xp = xp_of(x)
    e = xp.abs(x)
    xp.negative(e, out=e)
    xp.exp(e, out=e)
    _log1p(e, out)
    out -= xp.minimum(x, 0)
    return out


def _sigmoid(x):
    """1 / (1 + exp(-x)) (exp overflows to inf for x << 0, giving the exact limit 0)."""
    xp = xp_of(x)
    s = xp.negative(x)
    xp.exp(s, out=s)
    s += 1
    xp.reciprocal(s, out=s)
    return s


def _float_of(*arrays):
    """The computation dtype of PyTorch's promotion over these arrays (None entries skipped)."""
    dt = None
    for a in arrays:
        if a is None or not hasattr(a, 'dtype'):
            continue
        dt = a.dtype if dt is None else np.promote_types(dt, a.dtype)
    return dt


def _cast(a, dt):
    return a if a is None or not hasattr(a, 'dtype') or a.dtype == dt else a.astype(dt)


def _class_targets(t, n_classes, ignore_index):
    """Check class indices ``t`` (any shape): returns (safe indices with ignored entries set to
    class 0, mask of counted entries or None when every entry counts). Out-of-range targets
    raise PyTorch's IndexError."""
    xp = xp_of(t)
    if t.dtype != np.int64:
        t = t.astype(np.int64)
    # one comparison finds negatives too: they wrap to huge unsigned values
    if 0 <= ignore_index < n_classes:
        valid = t != ignore_index
    elif not bool((t.view(np.uint64) >= n_classes).any()):
        return t, None
    else:
        valid = t != ignore_index
    bad = valid & (t.view(np.uint64) >= n_classes)
    if bool(bad.any()):
        raise IndexError(f'Target {int(t[bad].reshape(-1)[0])} is out of bounds.')
    return xp.where(valid, t, 0), valid


def _flat_index(tsafe, shape):
    """Flat positions in a C-contiguous (N, C, S...) array of the entries named by class
    indices ``tsafe`` (shape (N, S...)) along axis 1."""
    xp = xp_of(tsafe)
    n, c = shape[0], shape[1]
    if len(shape) == 2:
        return xp.arange(0, n * c, c, dtype=np.int64) + tsafe
    s = math.prod(shape[2:])
    base = xp.arange(n, dtype=np.int64)[:, None] * (c * s) + xp.arange(s, dtype=np.int64)
    return (base + tsafe.reshape(n, s) * s).reshape(-1)


def _target_weights(w, tsafe, valid, dt):
    """Per-target weight w[t] (zero where ignored) as a flat array, or None when every weight
    is 1 and nothing is ignored."""
    if w is None:
        return None if valid is None else valid.reshape(-1).astype(dt)
    c = w[tsafe.reshape(-1)].astype(dt, copy=False)
    if valid is not None:
        c = c * valid.reshape(-1)
    return c


def _class_sums(a, w):
    """Sum over axis 1 of ``a`` (N, C, S...) weighted by class weights ``w`` (C,) or None,
    flattened to (N * S,)."""
    if a.ndim == 2:
        return _sum(a, (1,)) if w is None else a @ w.astype(a.dtype, copy=False)
    a3 = a.reshape(a.shape[0], a.shape[1], -1)
    if w is None:
        return _sum(a3, (1,)).reshape(-1)
    return (w.astype(a.dtype, copy=False) @ a3).reshape(-1)


def _per_class(v, ndim):
    """Class weights (C,) shaped to broadcast along axis 1 of an ``ndim``-dim array."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _per_sample(v, shape):
    """Flat per-sample values (N * S,) shaped to broadcast over axis 1 of ``shape``."""
    return v.reshape((shape[0], 1) + shape[2:])


# ==== regression ===============================================================================
class _Pointwise(Op):
    """A loss f(x - y) of input and target, reduced, computed by fused elementwise kernels:
    subclasses define ``_value(out, x, y)`` writing f and ``_slope(out, x, y, k)`` writing
    f' k (k: the upstream gradient, a scalar or a block) at each element. Backward:
    f'(x - y) g for x and its negative for y."""

    @classmethod
    def forward(cls, ctx, x, y, red):
        x, y = promote(x, y)
        shape = x.shape if x.shape == y.shape else np.broadcast_shapes(x.shape, y.shape)
        ctx.save_for_backward(x, y)
        ctx.shape = shape
        vals, total = _fused(cls._value, shape, x.dtype, (x, y), red == NONE)
        ctx.div = _count(red, shape)
        if red == NONE:
            return vals
        return _as_array(total / ctx.div) if red == MEAN else total

    @classmethod
    def backward(cls, ctx, g):
        x, y = ctx.saved
        u = _upstream(ctx, g)
        slope = cls._slope
        if u.ndim:
            gx = _fused(slope, ctx.shape, x.dtype, (x, y, u), True, True)[0]
        else:
            gx = _fused(lambda o, a, b: slope(o, a, b, u), ctx.shape, x.dtype, (x, y), True,
                        True)[0]
        need = ctx.needs_input_grad
        return (gx if need[0] else None), (-gx if need[1] else None)


def _count(red, shape):
    """The divisor of a 'mean' over ``shape`` (None for the other reductions)."""
    return math.prod(shape) if red == MEAN else None


class MseLoss(_Pointwise):
    """(x - y)**2. Backward: 2 (x - y)."""

    @staticmethod
    def _value(out, x, y):
        xp = xp_of(out)
        xp.subtract(x, y, out=out)
        xp.multiply(out, out, out=out)

    @staticmethod
    def _slope(out, x, y, k):
        xp_of(out).subtract(x, y, out=out)
        out *= 2 * k


class L1Loss(_Pointwise):
    """|x - y|. Backward: sign(x - y)."""
    backward_name = 'MeanBackward0'

    @staticmethod
    def _value(out, x, y):
        xp = xp_of(out)
        xp.subtract(x, y, out=out)
        xp.abs(out, out=out)

    @staticmethod
    def _slope(out, x, y, k):
        xp = xp_of(out)
        xp.subtract(x, y, out=out)
        xp.sign(out, out=out)
        out *= k


class HuberLoss(Op):
    """With d = x - y, c = min(|d|, delta): c (|d| - c / 2) / scale (0.5 d**2 / scale inside
    [-delta, delta], linear outside). Huber: scale 1; SmoothL1: delta = beta = scale.
    Backward: clip(d, -delta, delta) / scale."""

    @staticmethod
    def forward(ctx, x, y, delta, scale, red):
        x, y = promote(x, y)
        shape = x.shape if x.shape == y.shape else np.broadcast_shapes(x.shape, y.shape)
        ctx.save_for_backward(x, y)
        ctx.shape, ctx.delta, ctx.scale = shape, delta, scale
        k = 1.0 / scale

        def value(out, a, b):
            xp = xp_of(out)
            xp.subtract(a, b, out=out)
            xp.abs(out, out=out)
            c = xp.minimum(out, delta)
            c *= 0.5
            out -= c
            out *= c
            out *= 2 * k

        vals, total = _fused(value, shape, x.dtype, (x, y), red == NONE)
        ctx.div = _count(red, shape)
        if red == NONE:
            return vals
        return _as_array(total / ctx.div) if red == MEAN else total

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        u = _upstream(ctx, g)
        delta, k = ctx.delta, 1.0 / ctx.scale

        def slope(out, a, b, c=u):
            xp = xp_of(out)
            xp.subtract(a, b, out=out)
            xp.clip(out, -delta, delta, out=out)
            out *= c if k == 1 else c * k

        arrays = (x, y, u) if u.ndim else (x, y)
        gx = _fused(slope, ctx.shape, x.dtype, arrays, True, True)[0]
        need = ctx.needs_input_grad
        return (gx if need[0] else None), (-gx if need[1] else None)


class SmoothL1Loss(HuberLoss):
    """HuberLoss with delta = scale = beta (its own grad_fn name)."""


class GaussianNllLoss(Op):
    """0.5 (log v + (x - y)**2 / v) (+ 0.5 log(2 pi) when full), v = max(var, eps) clamped
    without blocking the gradient (PyTorch clamps var in place under no_grad); log v is taken
    in var's own dtype, as PyTorch does."""
    backward_name = 'MeanBackward0'

    @staticmethod
    def forward(ctx, x, y, var, full, eps, red):
        xp = xp_of(x)
        x, y = promote(x, y)
        d = x - y
        if hasattr(var, 'dtype'):
            v = xp.maximum(var, eps).astype(var.dtype, copy=False)
            log_v = xp.log(v)
        else:
            v = max(var, eps)
            log_v = math.log(v)
        q = d * d
        q = q / v
        loss = q + log_v
        loss *= 0.5
        if full:
            loss += _HALF_LOG_2PI
        ctx.save_for_backward(d, v)
        ctx.shape = loss.shape
        return _reduced(ctx, loss, red)

    @staticmethod
    def backward(ctx, g):
        d, v = ctx.saved
        u = _upstream(ctx, g)
        need = ctx.needs_input_grad
        r = _expand(d / v, ctx.shape)
        gx = r * u
        gv = None
        if len(need) > 2 and need[2]:
            gv = (1.0 / v - r * r) * (0.5 * u)
        return (gx if need[0] else None), (-gx if need[1] else None), gv


class PoissonNllLoss(Op):
    """log_input: exp(x) - y x; else x - y log(x + eps); full adds Stirling's term
    y log y - y + 0.5 log(2 pi y) where y > 1."""
    backward_name = 'MeanBackward0'

    @staticmethod
    def forward(ctx, x, y, log_input, full, eps, red):
        xp = xp_of(x)
        dt = _float_of(x, y)
        if dt.kind != 'f':
            dt = np.dtype(np.float32)
        x, y = _cast(x, dt), _cast(y, dt)
        if log_input:
            ex = xp.exp(x)
            loss = ex - y * x
            ctx.save_for_backward(x, y, ex)
        else:
            lx = xp.log(x + eps)
            loss = x - y * lx
            ctx.save_for_backward(x, y, lx)
        ctx.log_input, ctx.full, ctx.eps = log_input, full, eps
        if full:
            loss = loss + _stirling(y)
        ctx.shape = loss.shape
        return _reduced(ctx, loss, red)

    @staticmethod
    def backward(ctx, g):
        x, y, k = ctx.saved
        xp = xp_of(x)
        u = _upstream(ctx, g)
        need = ctx.needs_input_grad
        gx = gy = None
        shape = ctx.shape
        if need[0]:
            gx = (k - y) * u if ctx.log_input else (1.0 - y / (x + ctx.eps)) * u
            gx = _expand(gx, shape)
        if need[1]:
            gy = -(x if ctx.log_input else k)
            if ctx.full:
                gy = gy + xp.where(y > 1, xp.log(y) + 0.5 / y, 0)
            gy = _expand(gy * u, shape)
        return gx, gy


def _stirling(y):
    """y log y - y + 0.5 log(2 pi y) where y > 1, else 0."""
    xp = xp_of(y)
    ly = xp.log(y)
    s = y * ly - y + 0.5 * ly + _HALF_LOG_2PI
    return xp.where(y > 1, s, 0)


class KlDiv(Op):
    """Pointwise KL divergence: target (log target - x); log_target: exp(t) (t - x).
    'batchmean' divides the sum by the batch size (input's first dim)."""
    backward_name = 'MeanBackward0'

    @staticmethod
    def forward(ctx, x, t, log_target, red, batch):
        xp = xp_of(x)
        x, t = promote(x, t)
        if x.dtype.kind != 'f':
            dt = np.dtype(np.float32)
            x, t = x.astype(dt), t.astype(dt)
        if log_target:
            et = xp.exp(t)
            loss = et * (t - x)
            ctx.save_for_backward(x, t, et)
        else:
            tlogt = t * xp.log(t)
            loss = xp.where(t == 0, 0, tlogt) - t * x
            ctx.save_for_backward(x, t, None)
        ctx.log_target = log_target
        ctx.shape = loss.shape
        if red == BATCHMEAN:
            return _reduced(ctx, loss, MEAN, batch)
        return _reduced(ctx, loss, red)

    @staticmethod
    def backward(ctx, g):
        x, t, et = ctx.saved
        xp = xp_of(x)
        u = _upstream(ctx, g)
        need = ctx.needs_input_grad
        gx = gt = None
        if ctx.log_target:
            if need[0]:
                gx = -et * u
            if need[1]:
                gt = et * (t - x + 1) * u
        else:
            if need[0]:
                gx = -t * u
            if need[1]:
                # d/dt xlogy(t, t) is log t + t / t: nan at t = 0, as PyTorch's
                gt = (xp.log(xp.where(t == 0, 1, t)) + t / t - x) * u
        shape = ctx.shape
        return (None if gx is None else _expand(gx, shape)), \
            (None if gt is None else _expand(gt, shape))


# ==== binary ===================================================================================
class BinaryCrossEntropy(Op):
    """-w (y log x + (1 - y) log(1 - x)), each log clamped at -100.
    Backward: w (x - y) / max(x (1 - x), 1e-12) for x; w (log(1 - x) - log x) for y."""

    @staticmethod
    def forward(ctx, x, y, w, red):
        xp = xp_of(x)
        lx = xp.log(x)
        xp.maximum(lx, -100.0, out=lx)
        l1x = xp.log1p(-x)
        xp.maximum(l1x, -100.0, out=l1x)
        loss = lx
        loss -= l1x
        loss *= y
        loss += l1x
        xp.negative(loss, out=loss)
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(x, y, w)
        return _reduced(ctx, loss, red)

    @staticmethod
    def backward(ctx, g):
        x, y, w = ctx.saved
        xp = xp_of(x)
        u = _upstream(ctx, g)
        if w is not None:
            u = u * w
        need = ctx.needs_input_grad
        gx = gy = None
        if need[0]:
            den = x * (1 - x)
            xp.maximum(den, _BCE_EPS, out=den)
            gx = (x - y) / den
            gx *= u
        if need[1]:
            gy = (xp.log1p(-x) - xp.log(x)) * u
        return gx, gy


class BinaryCrossEntropyWithLogits(Op):
    """(1 - y) x + (1 + (pw - 1) y) log(1 + exp(-x)), times w, stable for every x.
    Backward: w ((1 - y) - (1 + (pw - 1) y) sigmoid(-x)) = w (sigmoid(x) - y) without pw;
    for y: w (-x + (pw - 1) log(1 + exp(-x))). Without pw, forward also keeps
    h = 1 / (1 + exp(-|x|)) - 1/2 when x needs a gradient, so that backward needs no exp:
    sigmoid(x) = 1/2 + copysign(h, x)."""

    @staticmethod
    def forward(ctx, x, y, w, pw, red):
        xp = xp_of(x)
        need = ctx.needs_input_grad
        r = None
        if pw is None:
            if need and need[0]:
                r = xp.empty(x.shape, x.dtype)
                vals, total = _fused(_bce_logits_kernel, x.shape, x.dtype, (x, y, r),
                                     red == NONE or w is not None)
            else:
                vals, total = _fused(lambda o, a, b: _bce_logits_kernel(o, a, b, None), x.shape,
                                     x.dtype, (x, y), red == NONE or w is not None)
        else:
            vals = _softplus_neg(x, xp.empty(x.shape, x.dtype))
            vals *= 1 + (pw - 1) * y
            vals += (1 - y) * x
        ctx.save_for_backward(x, y, w, pw, r)
        if w is not None:
            vals *= w
        if vals is None:
            ctx.div = _count(red, x.shape)
            return _as_array(total / ctx.div) if red == MEAN else total
        return _reduced(ctx, vals, red)

    @staticmethod
    def backward(ctx, g):
        x, y, w, pw, r = ctx.saved
        xp = xp_of(x)
        u = _upstream(ctx, g)
        if w is not None:
            u = u * w
        need = ctx.needs_input_grad
        gx = gy = None
        if need[0]:
            if pw is None:
                if u.ndim:
                    u = xp.broadcast_to(u, x.shape)
                arrays = (x, y, r, u) if u.ndim else (x, y, r)
                gx = _fused(lambda o, a, b, c, k=u: _sigmoid_minus_kernel(o, a, b, c, k),
                            x.shape, x.dtype, arrays, True, True)[0]
            else:
                gx = _sigmoid(x)
                gx -= 1
                gx *= 1 + (pw - 1) * y
                gx += 1 - y
                gx *= u
        if need[1]:
            gy = -x if pw is None else (pw - 1) * _softplus_neg(x, xp.empty_like(x)) - x
            gy = gy * u
        return gx, gy


def _bce_logits_kernel(out, x, y, h):
    """max(x, 0) - x y + log1p(exp(-|x|)); h = 1 / (1 + exp(-|x|)) - 1/2 when given, so that
    sigmoid(x) = 1/2 + copysign(h, x)."""
    xp = xp_of(out)
    e = xp.abs(x)
    xp.negative(e, out=e)
    xp.exp(e, out=e)
    if h is not None:
        xp.add(e, 1, out=h)
        xp.reciprocal(h, out=h)
        h -= 0.5
    _log1p(e, out)
    out += xp.maximum(x, _zeros(x) if xp is np else 0, out=e)
    out -= xp.multiply(x, y, out=e)


def _sigmoid_minus_kernel(out, x, y, h, k):
    """(sigmoid(x) - y) k with sigmoid(x) = 1/2 + copysign(h, x)."""
    xp = xp_of(out)
    xp.copysign(h, x, out=out)
    out += 0.5
    out -= y
    out *= k


class SoftMarginLoss(Op):
    """log(1 + exp(-y x)), stable. Backward: -y sigmoid(-y x)."""

    @staticmethod
    def forward(ctx, x, y, red):
        xp = xp_of(x)
        z = -(y * x) if y.dtype == x.dtype else -(y.astype(x.dtype) * x)
        loss = _softplus_neg(-z, xp.empty_like(z))
        ctx.save_for_backward(z, y)
        return _reduced(ctx, loss, red)

    @staticmethod
    def backward(ctx, g):
        z, y = ctx.saved
        s = _sigmoid(z)
        s *= -y
        s *= _upstream(ctx, g)
        return s


class HingeEmbeddingLoss(Op):
    """x where y != -1, plus max(0, margin - x) where y != 1 (y = 1 or -1 picks one)."""
    backward_name = 'MeanBackward0'

    @staticmethod
    def forward(ctx, x, y, margin, red):
        xp = xp_of(x)
        gap = margin - x
        hinge = xp.where(y != 1, xp.maximum(gap, 0), 0).astype(x.dtype, copy=False)
        loss = hinge + xp.where(y != -1, x, 0).astype(x.dtype, copy=False)
        ctx.save_for_backward(gap, y)
        return _reduced(ctx, loss, red)

    @staticmethod
    def backward(ctx, g):
        gap, y = ctx.saved
        d = (y != -1).astype(gap.dtype) - ((y != 1) & (gap >= 0))
        return d * _upstream(ctx, g)


# ==== classification ===========================================================================
class CrossEntropy(Op):
    """Cross-entropy of logits against class indices, fused: log-softmax over axis 1 and the
    weighted negative log-likelihood, with ignore_index and label smoothing.

    x: (N, C, d...) logits (C-contiguous view of the caller's input); t: (N, d...) int64
    classes; w: (C,) class weights or None. With p = softmax(x), the loss of a sample is
    (1 - eps) w[t] (-log p[t]) + eps / C sum_c w[c] (-log p[c]); 'mean' divides the sum by
    the total weight of the counted targets. Forward keeps e = exp(x - max) and s = sum(e);
    backward writes g ((1 - eps) w[t] + eps / C sum(w)) e / s once, then subtracts the
    one-hot part at the targets and, with smoothing, g eps / C w.
    """
    backward_name = 'NllLossBackward0'

    @staticmethod
    def forward(ctx, x, t, w, ignore_index, eps, red):
        xp = xp_of(x)
        dt = x.dtype
        c = x.shape[1]
        tsafe, valid = _class_targets(t, c, ignore_index)
        flat = _flat_index(tsafe, x.shape)
        e, m, s, zs = _softmax_parts(x, w if eps else None, bool(eps))
        lse = xp.log(s).reshape(-1)
        loss = lse - (x.reshape(-1)[flat] - m.reshape(-1))
        coef = _target_weights(w, tsafe, valid, dt)
        if coef is not None:
            loss *= coef
        if eps:
            wsum = float(w.sum()) if w is not None else c
            smooth = wsum * lse - zs.reshape(-1)
            if valid is not None:
                smooth *= valid.reshape(-1)
            loss *= 1 - eps
            loss += (eps / c) * smooth
            ctx.wsum = wsum
        ctx.save_for_backward(e, s, flat, coef, valid, w)
        ctx.eps = eps
        count = (_total(coef) if coef is not None else loss.size) if red == MEAN else None
        return _reduced(ctx, loss.reshape(t.shape), red, count)

    @staticmethod
    def backward(ctx, g):
        e, s, flat, coef, valid, w = ctx.saved
        xp = xp_of(e)
        eps = ctx.eps
        u = _upstream(ctx, g)
        u = xp.broadcast_to(u, flat.shape) if u.ndim == 0 else u.reshape(-1)
        b = _ignored_to_zero(ctx, u if coef is None else u * coef, valid)   # one-hot term
        a = b
        if eps:
            cu = u if valid is None else _ignored_to_zero(ctx, u * valid.reshape(-1), valid)
            cu = cu * (eps / e.shape[1])             # weight of the uniform term
            b = b * (1 - eps)
            a = b + cu * ctx.wsum
        gx = e * (_per_sample(a, s.shape) / s)
        if eps:
            wc = _per_class(w if w is not None else xp.ones(e.shape[1], e.dtype), e.ndim)
            gx -= _per_sample(cu, s.shape) * wc
        gx.reshape(-1)[flat] -= b
        return gx


def _class_sum_into(a, v, out):
    """out[...] = sum over axis 1 of ``a`` (b, C, ...) weighted by ``v`` (C,), by BLAS."""
    xp = xp_of(a)
    if a.ndim == 2:
        xp.matmul(a, v, out=out.reshape(-1))
    else:
        xp.matmul(v, a.reshape(a.shape[0], a.shape[1], -1), out=out.reshape(a.shape[0], -1))


def _softmax_parts(x, w, smooth):
    """For logits x (N, C, d...), C-contiguous, class axis 1: e = exp(x - m) (new array), the
    class max m, s = sum_c e and, when ``smooth``, zs = sum_c w[c] (x[c] - m) (w None: all 1);
    the last three shaped (N, 1, d...). Large NumPy inputs run blocks of samples on every
    core, each block small enough to stay in cache."""
    xp = xp_of(x)
    dt = x.dtype
    n, c = x.shape[0], x.shape[1]
    pshape = _per_sample_shape(x)
    e = xp.empty(x.shape, dt)
    if x.size == 0:
        zeros = xp.zeros(pshape, dt)
        return e, zeros, zeros, (zeros if smooth else None)
    if xp is not np or x.size < _PAR_MIN or n < 2:
        m = x.max(axis=1, keepdims=True)
        xp.subtract(x, m, out=e)
        zs = _class_sums(e, w).reshape(pshape) if smooth else None
        xp.exp(e, out=e)
        return e, m, _class_sums(e, None).reshape(pshape), zs
    ones = _ones(c, dt)
    wz = ones if w is None else w.astype(dt, copy=False)
    m, s = np.empty(pshape, dt), np.empty(pshape, dt)
    zs = np.empty(pshape, dt) if smooth else None
    step = max(1, _BLOCK // (x.size // n))
    shape_of = (lambda b: (b,) + x.shape[1:])
    pshape_of = (lambda b: (b,) + pshape[1:])

    def run(x2, m2, s2, *rest, out):
        for i in range(0, x2.shape[0], step):
            k = min(step, x2.shape[0] - i)
            xb, eb = x2[i:i + k].reshape(shape_of(k)), out[i:i + k].reshape(shape_of(k))
            xb.max(axis=1, keepdims=True, out=m2[i:i + k].reshape(pshape_of(k)))
            np.subtract(xb, m2[i:i + k].reshape(pshape_of(k)), out=eb)
            if rest:
                _class_sum_into(eb, wz, rest[0][i:i + k])
            np.exp(eb, out=eb)
            _class_sum_into(eb, ones, s2[i:i + k])
    extra = (zs.reshape(n, -1),) if smooth else ()
    map_rows(run, e.reshape(n, -1), x.reshape(n, -1), m.reshape(n, -1), s.reshape(n, -1),
             *extra)
    return e, m, s, zs


def _per_sample_shape(x):
    return (x.shape[0], 1) + x.shape[2:]


class CrossEntropyProbs(Op):
    """Cross-entropy of logits x (N, C, d...) against class probabilities y (same shape):
    -sum_c w[c] q[c] log p[c] with q = (1 - eps) y + eps / C; 'mean' divides by N d...
    Backward: g (p Q - w q) for x (Q = sum_c w[c] q[c]); g (1 - eps) w (-log p) for y;
    g q (-log p) summed over samples for w."""
    backward_name = 'DivBackward1'

    @staticmethod
    def forward(ctx, x, y, w, eps, red):
        xp = xp_of(x)
        dt = _float_of(x, y, w)
        x, y, w = _cast(x, dt), _cast(y, dt), _cast(w, dt)
        c = x.shape[1]
        e = xp.empty(x.shape, dt)
        m = x.max(axis=1, keepdims=True) if x.size else xp.zeros(_per_sample_shape(x), dt)
        xp.subtract(x, m, out=e)
        wy = y if w is None else y * _per_class(w, x.ndim)
        yz = _class_sums(wy * e, None)                 # sum_c w y z
        q_sum = _class_sums(wy, None)                  # sum_c w y
        if eps:
            wsum = float(w.sum()) if w is not None else c
            yz = (1 - eps) * yz + (eps / c) * _class_sums(e, w)
            q_sum = (1 - eps) * q_sum + (eps / c) * wsum
        xp.exp(e, out=e)
        s = _sum(e, (1,), True)
        lse = xp.log(s).reshape(-1)
        loss = q_sum * lse - yz
        need = ctx.needs_input_grad
        keep_x = bool(need) and (need[1] or (len(need) > 2 and need[2]))
        ctx.save_for_backward(e, s, q_sum, y, w, x if keep_x else None, m if keep_x else None,
                              lse if keep_x else None)
        ctx.eps = eps
        return _reduced(ctx, loss.reshape(_per_sample_shape(x)[:1] + x.shape[2:]), red)

    @staticmethod
    def backward(ctx, g):
        e, s, q_sum, y, w, x, m, lse = ctx.saved
        xp = xp_of(e)
        eps, c, nd = ctx.eps, e.shape[1], e.ndim
        u = _upstream(ctx, g)
        u = xp.broadcast_to(u, q_sum.shape) if u.ndim == 0 else u.reshape(-1)
        us = _per_sample(u, s.shape)
        need = ctx.needs_input_grad
        gx = gy = gw = None
        wc = None if w is None else _per_class(w, nd)
        q = y if not eps else y * (1 - eps) + eps / c
        if need[0]:
            gx = xp.multiply(e, _per_sample(u * q_sum, s.shape) / s, out=xp.empty_like(e))
            gx -= us * (q if wc is None else q * wc)
        if need[1] or (len(need) > 2 and need[2]):
            nlp = _per_sample(lse, s.shape) - (x - m)    # -log p
            nlp *= us
            if need[1]:
                gy = nlp * (1 - eps) if wc is None else nlp * ((1 - eps) * wc)
            if len(need) > 2 and need[2]:
                gw = _sum(nlp * q, tuple(i for i in range(nd) if i != 1))
        return gx, gy, gw


class NllLoss(Op):
    """-w[t] x[t] along axis 1 of x (N, C, d...), with ignore_index; 'mean' divides by the
    total weight of the counted targets. Backward scatters -w[t] g into zeros."""

    @staticmethod
    def forward(ctx, x, t, w, ignore_index, red):
        xp = xp_of(x)
        tsafe, valid = _class_targets(t, x.shape[1], ignore_index)
        flat = _flat_index(tsafe, x.shape)
        xc = x if x.flags.c_contiguous else xp.ascontiguousarray(x)
        loss = -xc.reshape(-1)[flat]
        coef = _target_weights(w, tsafe, valid, x.dtype)
        if coef is not None:
            loss *= coef
        ctx.save_for_backward(flat, coef, valid)
        ctx.shape, ctx.dtype = x.shape, x.dtype
        return _reduced(ctx, loss.reshape(t.shape), red,
                        (_total(coef) if coef is not None else loss.size) if red == MEAN else None)

    @staticmethod
    def backward(ctx, g):
        flat, coef, valid = ctx.saved
        xp = xp_of(flat)
        u = _upstream(ctx, g)
        u = xp.broadcast_to(u, flat.shape) if u.ndim == 0 else u.reshape(-1)
        gx = xp.zeros(ctx.shape, ctx.dtype)
        gx.reshape(-1)[flat] = _ignored_to_zero(ctx, -u if coef is None else -u * coef, valid)
        return gx


class NllLoss2d(NllLoss):
    backward_name = 'NllLoss2DBackward0'


class CrossEntropy2d(CrossEntropy):
    backward_name = 'NllLoss2DBackward0'


class MultiMarginLoss(Op):
    """sum over i != y of w[y] max(0, margin - x[y] + x[i])**p / C per sample of x (N, C)."""

    @staticmethod
    def forward(ctx, x, t, p, margin, w, red):
        xp = xp_of(x)
        n, c = x.shape
        rows = xp.arange(n)
        h = x - x[rows, t][:, None]
        h += margin
        h[rows, t] = 0
        xp.maximum(h, 0, out=h)
        ctx.save_for_backward(h, t, w)
        ctx.p = p
        hp = h * h if p == 2 else h
        wt = None if w is None else w[t]
        loss = _sum(hp, (1,))
        if wt is not None:
            loss *= wt
        loss /= c
        return _reduced(ctx, loss, red)

    @staticmethod
    def backward(ctx, g):
        h, t, w = ctx.saved
        xp = xp_of(h)
        n, c = h.shape
        u = _upstream(ctx, g)
        u = (xp.broadcast_to(u, (n,)) if u.ndim == 0 else u) / c
        if w is not None:
            u = u * w[t]
        gx = 2 * h if ctx.p == 2 else (h > 0).astype(h.dtype)
        gx *= u[:, None]
        rows = xp.arange(n)
        gx[rows, t] = -_sum(gx, (1,))
        return gx


class MultilabelMarginLoss(Op):
    """For each sample of x (N, C), with J the classes listed in its target row before the
    first -1: sum over j in J and i not in J of max(0, 1 - (x[j] - x[i])), over C."""
    _CHUNK = 1 << 22     # elements of the (samples, targets, classes) block at a time

    @staticmethod
    def forward(ctx, x, t, red):
        xp = xp_of(x)
        n, c = x.shape
        loss = xp.empty(n, x.dtype)
        for sl, tk, vk, other in _multilabel_blocks(t, c, MultilabelMarginLoss._CHUNK):
            h = _multilabel_hinge(x[sl], tk, vk, other)
            loss[sl] = h.sum(axis=(1, 2))
        loss /= c
        ctx.save_for_backward(x, t)
        return _reduced(ctx, loss, red)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved
        xp = xp_of(x)
        n, c = x.shape
        u = _upstream(ctx, g)
        u = (xp.broadcast_to(u, (n,)) if u.ndim == 0 else u) / c
        gx = xp.zeros_like(x)
        for sl, tk, vk, other in _multilabel_blocks(t, c, MultilabelMarginLoss._CHUNK):
            active = (_multilabel_hinge(x[sl], tk, vk, other) > 0).astype(x.dtype)
            active *= u[sl, None, None]
            gb = active.sum(axis=1)                       # + at every non-target class
            xp.add.at(gb, (xp.arange(gb.shape[0])[:, None], tk), -active.sum(axis=2))
            gx[sl] = gb
        return gx


def _multilabel_blocks(t, c, chunk):
    """Blocks of samples: (row slice, target classes (B, K), their mask (B, K), mask of
    non-target classes (B, C)); K is the longest target list in the block."""
    xp = xp_of(t)
    n = t.shape[0]
    listed = xp.cumprod(t != -1, axis=1).astype(bool)    # before the first -1
    counts = listed.sum(axis=1)
    step = max(1, chunk // max(1, c * c))
    for i in range(0, n, step):
        sl = slice(i, min(i + step, n))
        k = int(counts[sl].max()) if counts[sl].size else 0
        vk = listed[sl, :k]
        tk = xp.where(vk, t[sl, :k], 0)
        other = xp.ones((vk.shape[0], c), bool)
        r = xp.nonzero(vk)
        other[r[0], tk[r]] = False
        yield sl, tk, vk, other


def _multilabel_hinge(xb, tk, vk, other):
    """max(0, 1 - x[j] + x[i]) for listed targets j (axis 1) and non-targets i (axis 2)."""
    xp = xp_of(xb)
    xt = xp.take_along_axis(xb, tk, axis=1)
    h = 1 - xt[:, :, None] + xb[:, None, :]
    h *= vk[:, :, None] & other[:, None, :]
    xp.maximum(h, 0, out=h)
    return h


class MultilabelSoftMarginLoss(Op):
    """mean over the last dim of w (log(1 + exp(x)) - y x) (the logistic loss of each label).
    Backward: w (sigmoid(x) - y) / C for x, -w x / C for y, (softplus(x) - y x) / C for w."""
    backward_name = 'MeanBackward0'

    @staticmethod
    def forward(ctx, x, y, w, red):
        xp = xp_of(x)
        dt = _float_of(x, y, w)
        x, y, w = _cast(x, dt), _cast(y, dt), _cast(w, dt)
        shape = np.broadcast_shapes(x.shape, y.shape, () if w is None else w.shape)
        raw = _softplus_neg(-x, xp.empty(x.shape, dt)) - y * x
        if raw.shape != shape:
            raw = xp.broadcast_to(raw, shape)
        per = raw if w is None else raw * w
        c = shape[-1] if shape else 1
        loss = _sum(per, (len(shape) - 1,)) / c if shape else per
        ctx.save_for_backward(x, y, w, raw)
        ctx.c = c
        return _reduced(ctx, _as_array(loss), red)

    @staticmethod
    def backward(ctx, g):
        x, y, w, raw = ctx.saved
        u = _upstream(ctx, g) / ctx.c
        u = u[..., None] if u.ndim and raw.ndim else u
        need = ctx.needs_input_grad
        uw = u if w is None else u * w
        gx = (_sigmoid(x) - y) * uw if need[0] else None
        gy = -x * uw if need[1] else None
        gw = raw * u if len(need) > 2 and need[2] else None
        return gx, gy, gw


# ==== ranking and metric =======================================================================
class MarginRankingLoss(Op):
    """max(0, -y (x1 - x2) + margin)."""
    backward_name = 'MeanBackward0'

    @staticmethod
    def forward(ctx, x1, x2, y, margin, red):
        dt = _float_of(x1, x2, y)
        x1, x2, y = _cast(x1, dt), _cast(x2, dt), _cast(y, dt)
        d = x1 - x2
        h = -y * d
        h += margin
        ctx.save_for_backward(d, y, h)
        return _reduced(ctx, xp_of(h).maximum(h, 0), red)

    @staticmethod
    def backward(ctx, g):
        d, y, h = ctx.saved
        u = (h >= 0) * _upstream(ctx, g)
        need = ctx.needs_input_grad
        g1 = -y * u if need[0] or need[1] else None
        return ((g1 if need[0] else None), (-g1 if need[1] else None),
                (-d * u if need[2] else None))


class CosineEmbeddingLoss(Op):
    """With cos = <x1, x2> / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)) over the last dim:
    1 - cos where y == 1, max(0, cos - margin) where y == -1, 0 elsewhere."""
    backward_name = 'MeanBackward0'

    @staticmethod
    def forward(ctx, x1, x2, y, margin, red):
        xp = xp_of(x1)
        x1, x2 = promote(x1, x2)
        s12 = (x1 * x2).sum(-1)
        s1 = (x1 * x1).sum(-1) + _COS_EPS
        s2 = (x2 * x2).sum(-1) + _COS_EPS
        den = xp.sqrt(s1 * s2)
        cos = s12 / den
        pos, neg = y == 1, y == -1
        loss = xp.where(pos, 1 - cos, 0) + xp.where(neg, xp.maximum(cos - margin, 0), 0)
        loss = loss.astype(x1.dtype, copy=False)
        dl = (neg & (cos - margin >= 0)).astype(x1.dtype) - pos
        ctx.save_for_backward(x1, x2, s1, s2, den, cos, dl)
        return _reduced(ctx, loss, red)

    @staticmethod
    def backward(ctx, g):
        x1, x2, s1, s2, den, cos, dl = ctx.saved
        k = (dl * _upstream(ctx, g))[..., None]
        need = ctx.needs_input_grad
        c = cos[..., None]
        d = den[..., None]
        g1 = k * (x2 / d - c * x1 / s1[..., None]) if need[0] else None
        g2 = k * (x1 / d - c * x2 / s2[..., None]) if need[1] else None
        return g1, g2


def _pnorm(v, p):
    """The p-norm of ``v`` over its last dim (p may be 0, negative or inf, as PyTorch)."""
    xp = xp_of(v)
    if p == 2:
        return xp.sqrt((v * v).sum(-1))
    a = xp.abs(v)
    if p == 1:
        return a.sum(-1)
    if p == math.inf:
        return a.max(-1)
    if p == -math.inf:
        return a.min(-1)
    if p == 0:
        return (a != 0).sum(-1).astype(v.dtype)
    return (a ** p).sum(-1) ** (1.0 / p)


def _pnorm_grad(v, nrm, p):
    """d |v|_p / dv for the norm ``nrm`` over the last dim of ``v``; zero where the norm is 0
    (and for p = 0); ties of the inf-norms share the gradient evenly."""
    xp = xp_of(v)
    n = nrm[..., None]
    if p == 2:
        return xp.where(n == 0, 0, v / n)
    if p == 1:
        return xp.sign(v)
    if p == 0:
        return xp.zeros_like(v)
    if p in (math.inf, -math.inf):
        hit = (xp.abs(v) == n).astype(v.dtype)
        hit /= hit.sum(-1, keepdims=True)
        return xp.sign(v) * hit
    r = xp.sign(v) * xp.abs(v) ** (p - 1) / n ** (p - 1)
    return xp.where(n == 0, 0, r)


class TripletMarginLoss(Op):
    """max(0, margin + d(a, p) - d(a, n)), d(u, v) = |u - v + eps|_p over the last dim;
    with swap, d(a, n) is replaced by min(d(a, n), d(p, n))."""
    backward_name = 'MeanBackward0'

    @staticmethod
    def forward(ctx, a, pos, neg, margin, p, eps, swap, red):
        dt = _float_of(a, pos, neg)
        a, pos, neg = _cast(a, dt), _cast(pos, dt), _cast(neg, dt)
        v_ap, v_an = a - pos + eps, a - neg + eps
        d_ap, d_an = _pnorm(v_ap, p), _pnorm(v_an, p)
        v_pn = d_pn = None
        if swap:
            v_pn = pos - neg + eps
            d_pn = _pnorm(v_pn, p)
        d_neg = d_an if not swap else xp_of(a).minimum(d_an, d_pn)
        h = d_ap - d_neg
        h += margin
        ctx.save_for_backward(v_ap, v_an, v_pn, d_ap, d_an, d_pn, h)
        ctx.p = p
        return _reduced(ctx, xp_of(h).maximum(h, 0), red)

    @staticmethod
    def backward(ctx, g):
        v_ap, v_an, v_pn, d_ap, d_an, d_pn, h = ctx.saved
        xp = xp_of(h)
        p = ctx.p
        u = (h >= 0) * _upstream(ctx, g)
        g_ap = _pnorm_grad(v_ap, d_ap, p) * u[..., None]
        if v_pn is None:
            g_an = _pnorm_grad(v_an, d_an, p) * u[..., None]
            return g_ap - g_an, -g_ap, g_an
        w_an = xp.where(d_an < d_pn, 1.0, xp.where(d_an == d_pn, 0.5, 0.0)) * u
        w_pn = u - w_an
        g_an = _pnorm_grad(v_an, d_an, p) * w_an[..., None]
        g_pn = _pnorm_grad(v_pn, d_pn, p) * w_pn[..., None]
        return g_ap - g_an, -g_ap - g_pn, g_an + g_pn


# ==== sequences ================================================================================
class CtcLoss(Op):
    """Connectionist temporal classification: -log of the total probability of every
    alignment of each target to its input frames, by the forward (alpha) recursion in log
    space over the extended label sequence (blanks between labels), vectorised over the
    batch; backward combines alpha with the backward (beta) recursion.

    log_probs: (T, N, C); targets: (N, S) padded; lengths: int64 (N,). ``red``: NONE gives
    (N,), MEAN divides each loss by its target length (at least 1) then averages, SUM adds.
    """

    @staticmethod
    def forward(ctx, lp, targets, in_len, tg_len, blank, red, zero_infinity):
        xp = xp_of(lp)
        ext, allow_skip = _ctc_extended(targets, blank)
        alpha = _ctc_alpha(lp, ext, allow_skip, in_len, tg_len)
        n = lp.shape[1]
        rows = xp.arange(n)
        last = 2 * tg_len
        a_t = alpha[xp.maximum(in_len - 1, 0), rows]        # (N, L) at each input's end
        end = xp.logaddexp(a_t[rows, last], xp.where(last > 0, a_t[rows, last - 1], -xp.inf))
        end = xp.where(in_len > 0, end, xp.where(tg_len == 0, 0, -xp.inf))   # no frames
        nll = -end
        if zero_infinity:
            nll = xp.where(xp.isinf(nll), 0, nll)
        nll = nll.astype(lp.dtype, copy=False)
        ctx.save_for_backward(lp, ext, allow_skip, in_len, tg_len, alpha, -end)
        ctx.zero_infinity = zero_infinity
        ctx.red = red
        if red == MEAN:
            per = nll / xp.maximum(tg_len, 1).astype(lp.dtype)
            ctx.div = n
            return _as_array(_total(per) / n)
        return _reduced(ctx, nll, red)

    @staticmethod
    def backward(ctx, g):
        lp, ext, allow_skip, in_len, tg_len, alpha, nll = ctx.saved
        xp = xp_of(lp)
        u = _upstream(ctx, g)
        u = xp.broadcast_to(u, nll.shape) if u.ndim == 0 else u
        if ctx.red == MEAN:
            u = u / xp.maximum(tg_len, 1).astype(lp.dtype)
        beta = _ctc_beta(lp, ext, allow_skip, in_len, tg_len)
        grad = _ctc_grad(lp, ext, alpha, beta, nll, in_len, u)
        if ctx.zero_infinity:
            grad = xp.where(xp.isinf(nll)[None, :, None], 0, grad)
        return grad


def _ctc_extended(targets, blank):
    """The extended labels (N, 2 S + 1): blank, l1, blank, l2, ..., blank; and where the
    recursion may skip from s - 2 (a label differing from the label two places back)."""
    xp = xp_of(targets)
    n, s = targets.shape
    ext = xp.full((n, 2 * s + 1), blank, np.int64)
    ext[:, 1::2] = targets
    skip = xp.zeros(ext.shape, bool)
    if s > 1:
        skip[:, 3::2] = targets[:, 1:] != targets[:, :-1]
    return ext, skip


def _ctc_alpha(lp, ext, skip, in_len, tg_len):
    """log alpha (T, N, L): log-probability of emitting the first s extended labels by t."""
    xp = xp_of(lp)
    t_max, n, _ = lp.shape
    big = ext.shape[1]
    rows = xp.arange(n)[:, None]
    emit = lp[:, rows, ext]                              # (T, N, L)
    alpha = xp.full((t_max, n, big), -xp.inf, lp.dtype)
    if t_max == 0:
        return alpha
    alpha[0, :, 0] = emit[0, :, 0]
    if big > 1:
        alpha[0, :, 1] = xp.where(tg_len > 0, emit[0, :, 1], -xp.inf)
    ninf = xp.full((n, 1), -xp.inf, lp.dtype)
    ninf2 = xp.full((n, 2), -xp.inf, lp.dtype)
    for t in range(1, t_max):
        prev = alpha[t - 1]
        a = xp.logaddexp(prev, xp.concatenate([ninf, prev[:, :-1]], axis=1))
        two = xp.concatenate([ninf2, prev[:, :-2]], axis=1)
        a = xp.where(skip, xp.logaddexp(a, two), a)
        a += emit[t]
        alpha[t] = xp.where((t < in_len)[:, None], a, prev)
    return alpha


def _ctc_beta(lp, ext, skip, in_len, tg_len):
    """log beta (T, N, L): log-probability of emitting the remaining labels from s at t on."""
    xp = xp_of(lp)
    t_max, n, _ = lp.shape
    big = ext.shape[1]
    rows = xp.arange(n)
    emit = lp[:, rows[:, None], ext]
    beta = xp.full((t_max, n, big), -xp.inf, lp.dtype)
    last = 2 * tg_len
    skip_next = xp.concatenate([skip[:, 2:], xp.zeros((n, 2), bool)], axis=1)
    ninf = xp.full((n, 1), -xp.inf, lp.dtype)
    ninf2 = xp.full((n, 2), -xp.inf, lp.dtype)
    cur = xp.full((n, big), -xp.inf, lp.dtype)
    for t in range(t_max - 1, -1, -1):
        is_end = (t == in_len - 1)[:, None]
        start = xp.full((n, big), -xp.inf, lp.dtype)
        start[rows, last] = emit[t, rows, last]
        sel = last > 0
        start[rows[sel], last[sel] - 1] = emit[t, rows[sel], last[sel] - 1]
        b = xp.logaddexp(cur, xp.concatenate([cur[:, 1:], ninf], axis=1))
        two = xp.concatenate([cur[:, 2:], ninf2], axis=1)
        b = xp.where(skip_next, xp.logaddexp(b, two), b)
        b += emit[t]
        active = (t < in_len - 1)[:, None]
        cur = xp.where(is_end, start, xp.where(active, b, -xp.inf))
        beta[t] = cur
    return beta


def _ctc_grad(lp, ext, alpha, beta, nll, in_len, u):
    """d loss / d log_probs: exp(lp) - exp(log sum over positions of label c of alpha beta
    - lp + nll), for frames before each input's end; scaled by ``u`` (N,)."""
    xp = xp_of(lp)
    t_max, n, c = lp.shape
    ab = alpha + beta                                    # (T, N, L)
    rows = xp.arange(n)[:, None]
    emit = lp[:, rows, ext]
    ab -= emit
    mx = ab.max(axis=2, keepdims=True)
    mx = xp.where(xp.isfinite(mx), mx, 0)
    w = xp.exp(ab - mx)
    acc = xp.zeros((t_max, n, c), lp.dtype)
    for s in range(ext.shape[1]):
        idx = ext[:, s]
        acc[:, xp.arange(n), idx] += w[:, :, s]
    with_lab = xp.log(acc) + mx + nll[None, :, None]
    grad = xp.exp(lp) - xp.exp(with_lab)
    valid_t = (xp.arange(t_max)[:, None] < in_len[None, :])[:, :, None]
    grad = xp.where(valid_t, grad, 0)
    grad *= u[None, :, None]
    return grad.astype(lp.dtype, copy=False)
