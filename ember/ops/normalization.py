"""Normalisation ops: batch, layer, group, instance, RMS, local-response (and the legacy
cross-map LRN) and switchable normalisation, each ONE fused Op with a hand-written backward.

Layouts: per-channel statistics (batch norm) view the input as (N, C, L) (batch, channels,
flattened spatial dims); per-row statistics (layer/group/instance/RMS norm) view it as (R, K)
rows, whose affine parameters repeat with a period of P rows and S segments per row (layer norm
P=1, S=K; group norm P=G, S=C/G; instance norm P=C, S=1).

Speed: large NumPy inputs are processed in cache-sized blocks of rows (``_BLOCK`` elements):
every pass of a kernel (subtract the mean, square-sum, scale, shift, ...) runs over a block
while it is in cache, and the blocks are shared among ember's threads. Saved for backward are
the input itself and the per-row/per-channel statistics, so forward allocates only its output.
Sums go through ``reduction._sum`` (BLAS) and sums of products through batched BLAS dots.
CuPy arrays take the same code with a single block.

Statistics follow PyTorch: biased variance for normalising, unbiased batch variance for the
running estimate, ``running = (1 - momentum) * running + momentum * batch``.
"""
import math

import numpy as np

from .._backend import xp_of
from .._parallel import get_num_threads, map_rows
from ..autograd.function import Op
from .reduction import _sum

__all__ = []

_DOT_MIN = 32       # rows at least this long are reduced by batched BLAS dots, shorter by einsum
_BLOCK = 1 << 17    # elements per cache block (512 KiB of float32)
_np_vecdot = getattr(np, 'vecdot', None)   # NumPy >= 2: row dot products by BLAS-like loops


# ---- reductions of products ---------------------------------------------------------------
def _row_dots(a, b):
    """(R, K), (R, K) -> (R,): sum over K of a * b, row by row."""
    if a.__class__ is np.ndarray and _np_vecdot is not None:
        return _np_vecdot(a, b)
    r, k = a.shape
    if k >= _DOT_MIN:
        return (a.reshape(r, 1, k) @ b.reshape(r, k, 1)).reshape(r)
    return xp_of(a).einsum('rk,rk->r', a, b)


def _channel_dots(a, b):
    """(N, C, L), (N, C, L) -> (C,): sum over N and L of a * b."""
    n, c, l = a.shape
    if l >= _DOT_MIN:
        return _sum(_row_dots(a.reshape(n * c, l), b.reshape(n * c, l)).reshape(n, c), (0,))
    return xp_of(a).einsum('ncl,ncl->c', a, b)


def _row_sums(a):
    """(R, K) -> (R,)."""
    return _sum(a, (1,))


def _as3d(x):
    """(N, C, *) -> (N, C, L) view (or copy when the layout does not allow a view)."""
    s = x.shape
    return x.reshape(s[0], s[1], math.prod(s[2:]))


def _rsqrt(var, eps):
    r = var + eps
    xp_of(r).sqrt(r, out=r)
    return xp_of(r).reciprocal(r, out=r)


def _update_running(running, batch_stat, momentum):
    """running <- (1 - momentum) * running + momentum * batch_stat, in place."""
    running *= 1 - momentum
    running += momentum * batch_stat


# ---- cache blocks -------------------------------------------------------------------------
def _blocks(a, n, row_len, align=1):
    """Row ranges [(lo, hi)] splitting ``a``'s n rows of ``row_len`` elements into blocks of
    about _BLOCK elements (multiples of ``align`` rows); one block for CuPy or small arrays."""
    if a.__class__ is not np.ndarray or n * row_len <= _BLOCK:
        return [(0, n)]
    step = max(1, _BLOCK // (row_len * align)) * align
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def _each_block(fn, blocks):
    """[fn(lo, hi) for (lo, hi) in blocks], the blocks shared among ember's threads."""
    nb = len(blocks)
    if nb < 2 or get_num_threads() < 2:
        return [fn(lo, hi) for lo, hi in blocks]
    results = [None] * nb

    def run(ids, out):
        for i in ids[:, 0]:
            results[i] = fn(*blocks[i])

    map_rows(run, np.empty((nb, 1), np.int8), np.arange(nb).reshape(nb, 1))
    return results


def _total(parts):
    """Sum of per-block partial results (arrays of one shape)."""
    r = parts[0]
    for p in parts[1:]:
        r = r + p
    return r


# ==== batch normalisation ======================================================================
class NativeBatchNorm(Op):
    """Batch normalisation of x (N, C, *) per channel; weight, bias, running stats are (C,).

    training: mean and biased variance over N and *, running statistics updated in place
    (unbiased variance); otherwise the running statistics normalise. y = (x - mean) * w*rstd + b.
    Saved: x, mean and rstd = 1/sqrt(var + eps) (C,), weight.
    Backward (training), d = x - mean:
    gx = w*rstd*(g - mean(g) - d*rstd^2*mean(g*d)), gw = rstd*sum(g*d), gb = sum(g);
    (evaluation) gx = w*rstd*g.
    """

    @staticmethod
    def forward(ctx, x, running_mean, running_var, weight, bias, training, momentum, eps):
        x3 = _as3d(x)
        n, c, l = x3.shape
        blocks = _blocks(x3, n, c * l)
        if training:
            mean, var = _bn_batch_stats(x3, blocks)
            if n * l > 0:
                if running_mean is not None:
                    _update_running(running_mean, mean, momentum)
                if running_var is not None:
                    m = n * l
                    _update_running(running_var, var * (m / (m - 1) if m > 1 else math.inf),
                                    momentum)
        else:
            mean, var = running_mean.copy(), running_var
        rstd = _rsqrt(var, eps)
        y = _bn_normalize(x3, blocks, mean, rstd if weight is None else rstd * weight, bias)
        ctx.training = training
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(x, mean, rstd, weight)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        x, mean, rstd, weight = ctx.saved
        need = ctx.needs_input_grad
        x3, g3 = _as3d(x), _as3d(g)
        n, c, l = x3.shape
        blocks = _blocks(x3, n, c * l)
        k = rstd if weight is None else rstd * weight
        train_x = ctx.training and need[0]
        sum_g = sum_gd = None
        if need[3] or need[4] or train_x:
            sum_g, sum_gd = _bn_grad_sums(x3, g3, blocks, mean, need[3] or train_x)
        gx = None
        if need[0]:
            if ctx.training:
                m = n * l
                a = k * rstd * rstd * sum_gd
                a *= -1 / m
                b = k * sum_g
                b *= -1 / m
                gx = _bn_grad_input(x3, g3, blocks, mean, k, a, b)
            else:
                gx = g3 * k[:, None]
            gx = gx.reshape(g.shape)
        gw = sum_gd * rstd if need[3] else None
        return gx, None, None, gw, (sum_g if need[4] else None)


def _bn_batch_stats(x3, blocks):
    """(mean, biased variance) (C,) of x3 (N, C, L) over N and L: per block a mean and a sum
    of squared deviations, combined exactly (Chan et al.'s pairwise update)."""
    l = x3.shape[2]

    def stats(lo, hi):
        xb = x3[lo:hi]
        cnt = (hi - lo) * l
        mb = _sum(xb, (0, 2))
        mb /= cnt
        d = xb - mb[:, None]
        return cnt, mb, _channel_dots(d, d)

    parts = _each_block(stats, blocks)
    if len(parts) == 1:
        cnt, mean, m2 = parts[0]
        return mean, m2 / cnt
    total = sum(p[0] for p in parts)
    mean = _total([p[1] * (p[0] / total) for p in parts])
    m2 = _total([p[2] + p[0] * (p[1] - mean) ** 2 for p in parts])
    return mean, m2 / total


def _coef(v, lo, hi):
    """A per-channel (C,) or per-instance (N, C) coefficient, for samples [lo, hi) of an
    (N, C, L) array: (C, 1) or (hi - lo, C, 1)."""
    return v[:, None] if v.ndim == 1 else v[lo:hi, :, None]


def _bn_normalize(x3, blocks, mean, scale, bias):
    """(x3 - mean) * scale + bias on (N, C, L), block by block; mean and scale per channel (C,)
    or per instance (N, C), bias (C,) or None."""
    xp = xp_of(x3)
    out = xp.empty(x3.shape, x3.dtype)
    b = None if bias is None else bias[:, None]

    def norm(lo, hi):
        ob = out[lo:hi]
        xp.subtract(x3[lo:hi], _coef(mean, lo, hi), out=ob)
        ob *= _coef(scale, lo, hi)
        if b is not None:
            ob += b

    _each_block(norm, blocks)
    return out


def _bn_grad_sums(x3, g3, blocks, mean, with_gd):
    """(sum(g), sum(g * (x - mean))) per channel of (N, C, L) (the second only if asked)."""
    m = mean[:, None]

    def sums(lo, hi):
        gb = g3[lo:hi]
        return _sum(gb, (0, 2)), (_channel_dots(gb, x3[lo:hi] - m) if with_gd else None)

    parts = _each_block(sums, blocks)
    return _total([p[0] for p in parts]), (_total([p[1] for p in parts]) if with_gd else None)


def _bn_grad_input(x3, g3, blocks, mean, k, a, b):
    """g * k + (x - mean) * a + b on (N, C, L), block by block; each coefficient per channel
    (C,) or per instance (N, C)."""
    xp = xp_of(x3)
    out = xp.empty(x3.shape, x3.dtype)

    def grad(lo, hi):
        ob = out[lo:hi]
        d = x3[lo:hi] - _coef(mean, lo, hi)
        d *= _coef(a, lo, hi)
        xp.multiply(g3[lo:hi], _coef(k, lo, hi), out=ob)
        ob += d
        ob += _coef(b, lo, hi)

    _each_block(grad, blocks)
    return out


# ==== per-row normalisations: layer, group, instance, RMS ======================================
def _seg_view(a, p, s):
    """Rows (B, K) of a block (B a multiple of p) viewed so that the affine parameters, given
    as (p, s) per period and segment, broadcast: (B/p, p*s), (B/p, p, L) or (B/p, p, s, L)."""
    nb, k = a.shape
    l = k // s if s else 0
    if l == 1:
        return a.reshape(nb // p, p * s)
    if s == 1:
        return a.reshape(nb // p, p, l)
    return a.reshape(nb // p, p, s, l)


def _seg_param(v, p, s, k):
    """Affine parameter (p*s elements) shaped to broadcast against ``_seg_view``."""
    if s == 0 or k // s == 1:
        return v.reshape(p * s)
    if s == 1:
        return v.reshape(p, 1)
    return v.reshape(p, s, 1)


def _seg_sums(a, p, s):
    """Sum of a block (B, K) over samples and positions: (p*s,) per parameter element."""
    v = _seg_view(a, p, s)
    if v.ndim == 2:
        return _sum(v, (0,))
    return _sum(v, (0, 2) if v.ndim == 3 else (0, 3)).reshape(p * s)


class _RowNorm(Op):
    """Normalise every row of x viewed as (R, K), ``layout`` = (R, K, P, S):
    xhat = (x - mean) * rstd (or x * rstd without centring: RMS norm), rstd = 1/sqrt(var + eps),
    var the biased variance (or mean square) of the row; y = xhat * weight + bias, weight/bias
    (P*S elements) repeating every P rows and spread over S equal segments of each row.

    With running_mean/running_var (instance norm, rows (N*C, L)), they are updated in place with
    the batch average of the per-row mean and unbiased variance.
    Saved: x, mean (R,), rstd (R,), weight.
    Backward, with gh = g * w: gx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat)) per row
    (no mean(gh) term without centring); gw = sum(g * xhat), gb = sum(g) per parameter element.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, layout, eps, center, running_mean=None,
                running_var=None, momentum=0.0):
        r, k, p, s = layout
        xp = xp_of(x)
        x2 = x.reshape(r, k)
        out = xp.empty((r, k), x.dtype)
        w = None if weight is None else _seg_param(weight, p, s, k)
        b = None if bias is None else _seg_param(bias, p, s, k)

        def norm(lo, hi):
            """Normalise rows [lo, hi) into ``out``; returns (mean, rstd, sum of squares)."""
            xb, ob = x2[lo:hi], out[lo:hi]
            m = None
            if center:
                m = _row_sums(xb)
                m /= k
                xp.subtract(xb, m[:, None], out=ob)
                ss = _row_dots(ob, ob)
            else:
                ss = _row_dots(xb, xb)
            rs = _rsqrt(ss / k, eps)
            if center:
                ob *= rs[:, None]
            else:
                xp.multiply(xb, rs[:, None], out=ob)
            if w is not None or b is not None:
                ov = _seg_view(ob, p, s)
                if w is not None:
                    ov *= w
                if b is not None:
                    ov += b
            return m, rs, ss

        parts = _each_block(norm, _blocks(x2, r, k, p))
        if len(parts) == 1:
            mean, rstd, var_sums = parts[0]
        else:
            mean = xp.concatenate([q[0] for q in parts]) if center else None
            rstd = xp.concatenate([q[1] for q in parts])
            var_sums = xp.concatenate([q[2] for q in parts])
        if running_mean is not None:
            _update_row_running(running_mean, running_var, mean, var_sums, r // p, p, k,
                                momentum)
        ctx.layout, ctx.center = layout, center
        ctx.param_shape = (weight if weight is not None else bias).shape \
            if weight is not None or bias is not None else None
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(x, mean, rstd, weight)
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        x, mean, rstd, weight = ctx.saved
        need = ctx.needs_input_grad
        r, k, p, s = ctx.layout
        center = ctx.center
        xp = xp_of(g)
        x2, g2 = x.reshape(r, k), g.reshape(r, k)
        gx = xp.empty((r, k), g.dtype) if need[0] else None
        w = None if weight is None else _seg_param(weight, p, s, k)

        def grad(lo, hi):
            gb, rs = g2[lo:hi], rstd[lo:hi, None]
            xh = x2[lo:hi] - mean[lo:hi, None] if center else x2[lo:hi] * rs
            if center:
                xh *= rs
            gw = _seg_sums(gb * xh, p, s) if need[1] else None
            gbias = _seg_sums(gb, p, s) if need[2] else None
            if need[0]:
                if w is None:
                    gh = gb
                else:
                    gh = xp.empty(xh.shape, g.dtype)
                    xp.multiply(_seg_view(gb, p, s), w, out=_seg_view(gh, p, s))
                ob = gx[lo:hi]
                m2 = _row_dots(gh, xh)
                m2 *= -1 / k
                xp.multiply(xh, m2[:, None], out=ob)
                ob += gh
                if center:
                    m1 = _row_sums(gh)
                    m1 *= -1 / k
                    ob += m1[:, None]
                ob *= rs
            return gw, gbias

        parts = _each_block(grad, _blocks(x2, r, k, p))
        gw = _total([q[0] for q in parts]).reshape(ctx.param_shape) if need[1] else None
        gb = _total([q[1] for q in parts]).reshape(ctx.param_shape) if need[2] else None
        return (None if gx is None else gx.reshape(g.shape)), gw, gb


def _update_row_running(running_mean, running_var, mean, var_sums, n, c, k, momentum):
    """Running stats (C,) from per-row stats of rows (N*C, K): averaged over the batch."""
    if n == 0:
        return
    _update_running(running_mean, _sum(mean.reshape(n, c), (0,)) / n, momentum)
    unbiased = var_sums / (k - 1) if k > 1 else var_sums * math.inf
    _update_running(running_var, _sum(unbiased.reshape(n, c), (0,)) / n, momentum)


class NativeLayerNorm(_RowNorm):
    """Layer norm: rows are the trailing normalized_shape elements."""


class NativeGroupNorm(_RowNorm):
    """Group norm: rows are (sample, group) blocks of C/G channels."""


class InstanceNorm(_RowNorm):
    """Instance norm: rows are (sample, channel) planes."""
    backward_name = 'ViewBackward0'


class RMSNorm(_RowNorm):
    """RMS norm: rows are the trailing normalized_shape elements, not centred."""
    backward_name = 'MulBackward0'


# ==== local response normalisation =============================================================
def _window_sum(a, lo, hi):
    """(N, C, L) -> (N, C, L): out[:, c] = sum of a[:, c + lo : c + hi + 1] (channels outside
    [0, C) count as zero)."""
    c = a.shape[1]
    out = xp_of(a).zeros_like(a)
    for o in range(max(lo, 1 - c), min(hi, c - 1) + 1):
        if o >= 0:
            out[:, :c - o] += a[:, o:]
        else:
            out[:, -o:] += a[:, :c + o]
    return out


class LocalResponseNorm(Op):
    """y = x / (k + alpha * avg(x^2 over ``size`` neighbouring channels))^beta on (N, C, *);
    the window of channel c is [c - size//2, c + (size-1)//2], zero-padded, averaged over size.
    Backward: g/den - (2*alpha*beta/size) * x * window_sum^T(g * y / base), base = den^(1/beta).
    """
    backward_name = 'DivBackward0'

    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        xp = xp_of(x)
        x3 = _as3d(x)
        base = _window_sum(x3 * x3, -(size // 2), (size - 1) // 2)
        base /= size
        base *= alpha
        base += k
        den = xp.power(base, beta)
        y = (x3 / den).reshape(x.shape)
        ctx.size, ctx.alpha, ctx.beta = size, alpha, beta
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(x, y, base, den)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y, base, den = ctx.saved
        size = ctx.size
        g3 = _as3d(g)
        ratio = g3 * _as3d(y)
        ratio /= base
        acc = _window_sum(ratio, -((size - 1) // 2), size // 2)
        acc *= _as3d(x)
        acc *= -2.0 * ctx.alpha * ctx.beta / size
        acc += g3 / den
        return acc.reshape(g.shape)


class CrossMapLRN2d(Op):
    """The legacy cross-map LRN of (N, C, H, W), numerically as PyTorch's nn.CrossMapLRN2d:
    scale_c = k + alpha/size * (sum of x^2 over channels [c-p+1, c+p-1], p = (size-1)//2 + 1,
    plus channel 0's x^2 for every c >= p), y = x * scale^-beta. Its backward is the legacy
    formula (not the exact derivative of this forward): g * scale^-beta - (2*alpha*beta/size)
    * x_c * sum of g*y/scale over channels [c - q, c + size - 1 - q], q = int(size - (size-1)/2).
    """
    backward_name = 'CrossMapLRN2dBackward'

    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        x3 = _as3d(x)
        sq = x3 * x3
        p = (size - 1) // 2 + 1
        scale = _window_sum(sq, 1 - p, p - 1)
        if x3.shape[1] > p:
            scale[:, p:] += sq[:, :1]
        scale *= alpha / size
        scale += k
        y = xp_of(x).power(scale, -beta)
        y *= x3
        y = y.reshape(x.shape)
        ctx.size, ctx.alpha, ctx.beta = size, alpha, beta
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(x, y, scale)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y, scale = ctx.saved
        size = ctx.size
        g3 = _as3d(g)
        ratio = g3 * _as3d(y)
        ratio /= scale
        q = int(size - (size - 1) / 2)
        acc = _window_sum(ratio, -q, size - 1 - q)
        acc *= _as3d(x)
        acc *= -2.0 * ctx.alpha * ctx.beta / size
        acc += g3 * xp_of(g).power(scale, -ctx.beta)
        return acc.reshape(g.shape)


# ==== switchable normalisation =================================================================
def _softmax3(w):
    e = xp_of(w).exp(w - w.max())
    return e / e.sum()


def _instance_stats(x3, blocks):
    """(mean, biased variance) (N, C) of each (sample, channel) row of x3 (N, C, L)."""
    xp = xp_of(x3)
    l = x3.shape[2]

    def stats(lo, hi):
        xb = x3[lo:hi]
        mu = _sum(xb, (2,))
        mu /= l
        d = xb - mu[:, :, None]
        d2 = d.reshape(-1, l)
        var = _row_dots(d2, d2).reshape(mu.shape)
        var /= l
        return mu, var

    parts = _each_block(stats, blocks)
    if len(parts) == 1:
        return parts[0]
    return xp.concatenate([q[0] for q in parts]), xp.concatenate([q[1] for q in parts])


def _instance_grad_sums(x3, g3, blocks, mean):
    """(sum(g), sum(g * (x - mean))) (N, C) over each row of (N, C, L), mean (N, C)."""
    xp = xp_of(x3)
    l = x3.shape[2]

    def sums(lo, hi):
        gb = g3[lo:hi]
        d = x3[lo:hi] - mean[lo:hi, :, None]
        sg = _sum(gb, (2,))
        return sg, _row_dots(gb.reshape(-1, l), d.reshape(-1, l)).reshape(sg.shape)

    parts = _each_block(sums, blocks)
    if len(parts) == 1:
        return parts[0]
    return xp.concatenate([q[0] for q in parts]), xp.concatenate([q[1] for q in parts])


class SwitchableNorm(Op):
    """Switchable normalisation (Luo et al. 2018) of x (N, C, *), viewed as (N, C, L).

    Statistics: instance (per n, c over L), layer (per n over C and L) and batch (per c over
    N and L; the running statistics instead when ``use_running``), all biased; mixed as
    mean = sum_k softmax(mean_weight)_k mu_k and var = sum_k softmax(var_weight)_k var_k,
    k in (IN, LN, BN). y = (x - mean) / sqrt(var + eps) * weight + bias.
    In training with running stats, they are updated in place (unbiased batch variance).
    Layer and batch variances come from the instance ones by the law of total variance
    (var_LN = mean_C(var_IN + (mu_IN - mu_LN)^2)), which never subtracts large squares.
    Saved: x, mean and rstd (N, C), the mixing weights and the statistics.
    Backward: through x - mean directly (g * w * rstd) and through each statistic: the mean
    terms sum_k pm_k dL/dmu_k / count_k and the variance terms
    sum_k pv_k dL/dvar_k 2 (x - mu_k) / count_k, i.e. per (n, c) g*k + (x - mean)*alpha + const.
    """
    backward_name = 'SwitchableNormBackward0'

    @staticmethod
    def forward(ctx, x, weight, bias, mean_weight, var_weight, running_mean, running_var,
                use_running, momentum, eps):
        x3 = _as3d(x)
        n, c, l = x3.shape
        blocks = _blocks(x3, n, c * l)
        mu_in, var_in = _instance_stats(x3, blocks)
        mu_ln = mu_in.mean(1)
        var_ln = (var_in + (mu_in - mu_ln[:, None]) ** 2).mean(1)
        if use_running:
            mu_bn, var_bn = running_mean.copy(), running_var.copy()
        else:
            mu_bn = mu_in.mean(0)
            var_bn = (var_in + (mu_in - mu_bn) ** 2).mean(0)
            if running_mean is not None and n * l > 0:
                m = n * l
                _update_running(running_mean, mu_bn, momentum)
                _update_running(running_var, var_bn * (m / (m - 1) if m > 1 else math.inf),
                                momentum)
        pm, pv = _softmax3(mean_weight), _softmax3(var_weight)
        mean = pm[0] * mu_in + pm[1] * mu_ln[:, None] + pm[2] * mu_bn
        var = pv[0] * var_in + pv[1] * var_ln[:, None] + pv[2] * var_bn
        rstd = _rsqrt(var, eps)
        y = _bn_normalize(x3, blocks, mean, rstd if weight is None else rstd * weight, bias)
        if any(ctx.needs_input_grad):
            ctx.use_running = use_running
            ctx.save_for_backward(x, mean, rstd, weight, pm, pv, (mu_in, mu_ln, mu_bn),
                                  (var_in, var_ln, var_bn))
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        x, mean, rstd, weight, pm, pv, mus, vrs = ctx.saved
        need = ctx.needs_input_grad
        x3, g3 = _as3d(x), _as3d(g)
        blocks = _blocks(x3, x3.shape[0], x3.shape[1] * x3.shape[2])
        sg, sgx = _instance_grad_sums(x3, g3, blocks, mean)
        gw = _sum(sgx * rstd, (0,)) if need[1] else None
        gb = _sum(sg, (0,)) if need[2] else None
        if weight is not None:
            sg = sg * weight
            sgx = sgx * weight
        gmean = -rstd * sg
        gvar = rstd * rstd * rstd * sgx
        gvar *= -0.5
        gmw = _softmax3_grad(pm, gmean, mus) if need[3] else None
        gvw = _softmax3_grad(pv, gvar, vrs) if need[4] else None
        gx = None
        if need[0]:
            k = rstd if weight is None else rstd * weight
            alpha, const = _switch_coefficients(x3.shape, pm, pv, mean, mus, gmean, gvar,
                                                not ctx.use_running)
            gx = _bn_grad_input(x3, g3, blocks, mean, k, alpha, const).reshape(g.shape)
        return gx, gw, gb, gmw, gvw


def _softmax3_grad(p, gstat, stats):
    """Gradient of the 3 mixing logits: stat_k's share sum(gstat * stat_k), through softmax."""
    gp = xp_of(p).stack([(gstat * stats[0]).sum(), (gstat.sum(1) * stats[1]).sum(),
                         (gstat.sum(0) * stats[2]).sum()]).astype(p.dtype)
    return p * (gp - (p * gp).sum())


def _switch_coefficients(shape, pm, pv, mean, mus, gmean, gvar, batch_stats):
    """(alpha, const) (N, C) with dL/dx = g*w*rstd + alpha*(x - mean) + const: alpha collects
    2 * pv_k * dL/dvar_k / count_k, const the mean terms pm_k * dL/dmu_k / count_k and
    alpha's share of (mean - mu_k) (the variance terms are 2*(x - mu_k) = 2*(x - mean) +
    2*(mean - mu_k))."""
    n, c, l = shape
    mu_in, mu_ln, mu_bn = mus
    gv_in = gvar * (pv[0] / l)
    gv_ln = gvar.sum(1)[:, None] * (pv[1] / (c * l))
    alpha = gv_in + gv_ln
    const = gmean * (pm[0] / l)
    const += gmean.sum(1)[:, None] * (pm[1] / (c * l))
    beta = gv_in * mu_in + gv_ln * mu_ln[:, None]
    if batch_stats:
        gv_bn = gvar.sum(0) * (pv[2] / (n * l))
        alpha = alpha + gv_bn
        const += gmean.sum(0) * (pm[2] / (n * l))
        beta += gv_bn * mu_bn
    alpha *= 2
    const += alpha * mean
    const -= 2 * beta
    return alpha, const
