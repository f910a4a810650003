"""Norm-based similarity and distance ops: normalize, cosine similarity, pairwise distance,
pdist and cdist. Each is one Op with a hand-written backward built on two helpers: the
p-norm along some axes (``_pnorm``) and its derivative (``_pnorm_grad``).
"""
import math

import numpy as np

from .. import _dtype
from .._backend import xp_of
from .._tensor import Tensor, _NP_NAMES, _dim
from ..autograd.function import Op, broadcast_error
from .reduction import _sum

__all__ = ['cosine_similarity', 'pairwise_distance', 'pdist', 'cdist']

_inf = math.inf
_BLOCK = 1 << 21            # elements of the largest temporary pdist/cdist build at once


# ---- p-norms ----------------------------------------------------------------------------
_LETTERS = 'abcdefghijklmnopqrstuvwxyz'


def _dot(a, b, axes):
    """sum(a * b) over ``axes`` (kept as size-1 dims), for same-shape arrays, in one einsum
    pass (no product temporary)."""
    if not a.ndim:
        return a * b
    axes = [ax % a.ndim for ax in axes]
    idx = _LETTERS[:a.ndim]
    kept = ''.join(c for i, c in enumerate(idx) if i not in axes)
    r = xp_of(a).einsum(f'{idx},{idx}->{kept}', a, b)
    return r.reshape([1 if i in axes else n for i, n in enumerate(a.shape)])


def _pnorm(a, p, axes):
    """||a||_p over ``axes`` (kept as size-1 dims); p may be 0, inf or -inf."""
    xp = xp_of(a)
    if p == 2:
        return xp.sqrt(_dot(a, a, axes))
    if p == 1:
        return _sum(xp.abs(a), axes, True)
    if p == _inf:
        if not all(a.shape[ax] for ax in axes):       # pdist/cdist of empty rows: zeros
            return xp.zeros([1 if i in axes or i - a.ndim in axes else n
                             for i, n in enumerate(a.shape)], a.dtype)
        return xp.abs(a).max(axis=axes, keepdims=True)
    if p == -_inf:
        return xp.abs(a).min(axis=axes, keepdims=True)
    if p == 0:
        return (a != 0).sum(axis=axes, keepdims=True).astype(a.dtype)
    return _sum(xp.abs(a) ** p, axes, True) ** (1.0 / p)


def _pnorm_grad(a, n, p, axes, split_ties=True):
    """d||a||_p / da for the norms ``n`` (kept dims): zero where the norm is zero (and, for
    p < 1, at zero elements). The inf norms give their gradient to the elements reaching the
    extreme, shared evenly when ``split_ties`` (as torch.norm; pdist/cdist do not share)."""
    xp = xp_of(a)
    if p == 2:
        return a * xp.where(n == 0, 0, 1 / xp.where(n == 0, 1, n))
    if p == 1:
        return xp.sign(a)
    if p == 0:
        return xp.zeros_like(a)
    absa = xp.abs(a)
    if p == _inf or p == -_inf:
        hit = (absa == n).astype(a.dtype)
        if split_ties:
            hit /= xp.maximum(hit.sum(axis=axes, keepdims=True), 1)
        return xp.sign(a) * hit
    with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
        r = xp.sign(a) * (absa / n) ** (p - 1)
    return xp.where((absa == 0) | (n == 0), 0, r)


def check_empty_norm(p, shape, axes):
    """PyTorch's error for a p-norm without identity (p < 0 or inf) over an empty dim
    (``axes`` None: over every dim of an empty tensor)."""
    if not (p < 0 or p == _inf):
        return
    if axes is None:
        if not all(shape):
            raise RuntimeError(f'linalg.vector_norm cannot compute the {p:g} norm on an empty '
                               'tensor because the operation does not have an identity')
        return
    for ax in axes:
        if shape[ax] == 0:
            raise RuntimeError(f'linalg.vector_norm cannot compute the {p:g} norm on the '
                               f'dimension {ax}because this dimension is empty and the '
                               'operation does not have an identity')


def _compute_dtype(dt):
    """Half precision is computed in float32 (cast back at the end)."""
    return np.dtype(np.float32) if dt.itemsize == 2 else dt


# ---- normalize --------------------------------------------------------------------------
class Normalize(Op):
    """x / max(||x||_p, eps) over ``axes``. Below eps the denominator is the constant eps
    (no gradient through the norm), as PyTorch's clamp_min."""
    backward_name = 'DivBackward0'

    @staticmethod
    def forward(ctx, a, p, axes, eps):
        x = a.astype(_compute_dtype(a.dtype), copy=False)
        n = _pnorm(x, p, axes)
        d = xp_of(x).maximum(n, eps)
        y = x / d
        ctx.save_for_backward(a, y, n, d)
        ctx.p, ctx.axes, ctx.eps = p, axes, eps
        return y.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        a, y, n, d = ctx.saved
        p, axes = ctx.p, ctx.axes
        g = g.astype(y.dtype, copy=False)
        through = n >= ctx.eps                     # where the norm itself is the denominator
        if p == 2:
            s = _dot(g, y, axes)
            s *= through
            r = g - y * s
            r /= d
            return r
        x = a.astype(y.dtype, copy=False)
        s = _dot(g, x, axes)
        s *= through
        s /= d * d
        return g / d - s * _pnorm_grad(x, n, p, axes)


def normalize(input, p, axes, eps):
    """Op entry for F.normalize (arguments already checked)."""
    return Normalize.apply(input, p, axes, eps)


# ---- cosine similarity ------------------------------------------------------------------
class CosineSimilarity(Op):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along ``axis`` of the broadcast
    shape. The gradient flows through both norms even below eps, as PyTorch's does:
    d/dx1 = (x2 / d2 - y * x1 / ||x1||) / d1."""
    backward_name = 'SumBackward1'

    @staticmethod
    def forward(ctx, x1, x2, axis, eps):
        xp = xp_of(x1)
        out_dt = _dtype.result_np(x1, x2)
        a, b = _common(x1, x2, _compute_dtype(out_dt))
        ax = (axis,)
        n1 = xp.sqrt(_dot(a, a, ax))
        n2 = xp.sqrt(_dot(b, b, ax))
        d12 = xp.maximum(n1, eps) * xp.maximum(n2, eps)
        y = _dot(a, b, ax)
        y /= d12
        ctx.save_for_backward(x1, x2, n1, n2, d12, y)
        ctx.axis, ctx.eps = axis, eps
        out = y.reshape(y.shape[:axis] + y.shape[axis + 1:]) if x1.ndim or x2.ndim else \
            y.reshape(())
        return out.astype(out_dt, copy=False)

    @staticmethod
    def backward(ctx, g):
        x1, x2, n1, n2, d12, y = ctx.saved
        xp = xp_of(y)
        eps, need = ctx.eps, ctx.needs_input_grad
        a, b = _common(x1, x2, y.dtype)
        g = g.astype(y.dtype, copy=False).reshape(y.shape)
        c = g / d12
        gy = g * y
        g1 = g2 = None
        if need[0]:
            k1 = gy / (xp.maximum(n1, eps) * xp.where(n1 == 0, 1, n1)) * (n1 != 0)
            g1 = c * b - k1 * a
        if need[1]:
            k2 = gy / (xp.maximum(n2, eps) * xp.where(n2 == 0, 1, n2)) * (n2 != 0)
            g2 = c * a - k2 * b
        if not (x1.ndim or x2.ndim):
            g1 = None if g1 is None else g1.reshape(())
            g2 = None if g2 is None else g2.reshape(())
        return g1, g2


def _common(x1, x2, dt):
    """``x1`` and ``x2`` in dtype ``dt``, broadcast to their common shape (at least 1-D)."""
    xp = xp_of(x1)
    shape = np.broadcast_shapes(x1.shape, x2.shape) or (1,)
    return (xp.broadcast_to(x1.astype(dt, copy=False), shape),
            xp.broadcast_to(x2.astype(dt, copy=False), shape))


def _arrays(x1, x2, fn):
    """Both arguments as Tensors (Python numbers are not accepted, as in PyTorch)."""
    for i, x in enumerate((x1, x2)):
        if not isinstance(x, Tensor):
            raise TypeError(f"{fn}(): argument 'x{i + 1}' (position {i + 1}) must be Tensor, "
                            f"not {type(x).__name__}")


def _broadcast_shape(s1, s2):
    err = broadcast_error(s1, s2)
    if err is not None:
        raise err
    return np.broadcast_shapes(s1, s2)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine similarity of ``x1`` and ``x2`` (broadcast together) along ``dim``, which is
    removed: x1.x2 / (max(||x1||, eps) * max(||x2||, eps))."""
    _arrays(x1, x2, 'cosine_similarity')
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"cosine_similarity(): argument 'dim' must be int, not "
                        f"{type(dim).__name__}")
    shape = _broadcast_shape(tuple(x1.shape), tuple(x2.shape))
    dt = _dtype.result_np(x1._data, x2._data)
    if dt.kind != 'f':
        raise RuntimeError('expected common dtype to be floating point, yet common dtype is '
                           f'{_NP_NAMES[dt.name]}')
    axis = _dim(int(dim), len(shape))
    return CosineSimilarity.apply(x1, x2, axis, float(eps))


# ---- pairwise distance --------------------------------------------------------------------
class PairwiseDistance(Op):
    """||x1 - x2 + eps||_p over the last dim of the broadcast shape."""
    backward_name = 'NormBackward1'

    @staticmethod
    def forward(ctx, x1, x2, p, eps, keepdim):
        out_dt = _dtype.result_np(x1, x2)
        if out_dt.kind != 'f':
            out_dt = _dtype.default_float_np()
        diff = _shifted_difference(x1, x2, eps, _compute_dtype(out_dt))
        n = _pnorm(diff, p, (-1,))
        ctx.save_for_backward(x1, x2, n)
        ctx.p, ctx.eps = p, eps
        shape = np.broadcast_shapes(x1.shape, x2.shape)
        out = n if keepdim and shape else n.reshape(shape[:-1])
        return out.astype(out_dt, copy=False)

    @staticmethod
    def backward(ctx, g):
        x1, x2, n = ctx.saved
        diff = _shifted_difference(x1, x2, ctx.eps, n.dtype)
        gd = _pnorm_grad(diff, n, ctx.p, (-1,))
        gd *= g.astype(n.dtype, copy=False).reshape(n.shape)
        if not (x1.ndim or x2.ndim):
            gd = gd.reshape(())
        need = ctx.needs_input_grad
        return (gd if need[0] else None), (-gd if need[1] else None)


def _shifted_difference(x1, x2, eps, dt):
    """x1 - x2 + eps in dtype ``dt`` (at least 1-D)."""
    diff = x1.astype(dt, copy=False) - x2.astype(dt, copy=False)
    diff += eps
    return diff if diff.ndim else diff.reshape(1)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """p-norm of x1 - x2 + eps over the last dim (inputs broadcast together)."""
    _arrays(x1, x2, 'pairwise_distance')
    shape = _broadcast_shape(tuple(x1.shape), tuple(x2.shape))
    if shape:
        check_empty_norm(float(p), shape, (len(shape) - 1,))
    if x1._data.dtype.kind == 'b' and x2._data.dtype.kind == 'b':
        raise RuntimeError('Subtraction, the `-` operator, with two bool tensors is not '
                           'supported. Use the `^` or `logical_xor()` operator instead.')
    return PairwiseDistance.apply(x1, x2, float(p), float(eps), bool(keepdim))


# ---- pdist ------------------------------------------------------------------------------
def _row_blocks(rows, per_row):
    """[(r0, r1)] blocks of ``rows`` whose temporaries (``per_row`` elements for each row)
    stay under _BLOCK elements."""
    step = max(1, _BLOCK // max(1, per_row))
    return [(r, min(r + step, rows)) for r in range(0, rows, step)]


def _pair_offset(i, n):
    """Index in pdist's output of the pair (i, i + 1)."""
    return i * (2 * n - i - 1) // 2


def _pair_blocks(n, per_row):
    """[(r0, r1, out slice, mask)]: blocks of rows i in [r0, r1) against the columns
    j in [r0 + 1, n) (``per_row`` temporary elements each); ``mask`` (rows, n - r0 - 1) keeps
    j > i, whose entries are the output slice, in row-major order."""
    blocks = []
    for r0, r1 in _row_blocks(n, per_row):
        mask = np.arange(r0 + 1, n)[None, :] > np.arange(r0, r1)[:, None]
        blocks.append((r0, r1, slice(_pair_offset(r0, n), _pair_offset(r1, n)), mask))
    return blocks


_CLOSE = 1e-3       # pairs with d^2 below this fraction of |x_i|^2 + |x_j|^2 are recomputed


class Pdist(Op):
    """Distances ||x_i - x_j||_p of all row pairs i < j of an (N, M) array, in row-major
    order, by blocks of rows. p = 2 goes through Gram matrices of the centred rows in float64
    (pairs too close for that to be exact are recomputed from their differences) and a
    matrix-product backward; other p from the differences."""

    @staticmethod
    def forward(ctx, x, p):
        xp = xp_of(x)
        n, m = x.shape
        out = xp.empty(n * (n - 1) // 2, x.dtype)
        if p == 2:
            xc = _centred(x, np.float64)
            sq = (xc * xc).sum(1)
            for r0, r1, sl, mask in _pair_blocks(n, n):
                mask = xp.asarray(mask)
                scale = sq[r0:r1, None] + sq[None, r0 + 1:]
                d2 = xc[r0:r1] @ xc[r0 + 1:].T
                d2 *= -2
                d2 += scale
                scale *= _CLOSE
                i, j = xp.nonzero(mask & (d2 < scale))
                if i.size:
                    diff = xc[r0 + i] - xc[r0 + 1 + j]
                    d2[i, j] = (diff * diff).sum(1)
                out[sl] = xp.sqrt(xp.maximum(d2[mask], 0))
        else:
            for r0, r1, sl, mask in _pair_blocks(n, n * m):
                d = _pnorm(x[r0:r1, None, :] - x[None, r0 + 1:, :], p, (2,))[..., 0]
                out[sl] = d[xp.asarray(mask)]
        ctx.save_for_backward(x, out)
        ctx.p = p
        return out

    @staticmethod
    def backward(ctx, g):
        x, dist = ctx.saved
        xp = xp_of(x)
        n, m = x.shape
        p = ctx.p
        if p == 2:          # sum_j w_ij (x_i - x_j) with w = g / d, as float64 matrix products
            xc = _centred(x, np.float64)
            grad = xp.zeros(x.shape, np.float64)
            nonzero = dist != 0
            wv = g.astype(np.float64) / xp.where(nonzero, dist, 1)
            wv *= nonzero
            for r0, r1, sl, mask in _pair_blocks(n, n):
                w = xp.zeros(mask.shape, np.float64)
                w[xp.asarray(mask)] = wv[sl]
                rows, cols = xc[r0:r1], xc[r0 + 1:]
                grad[r0:r1] += rows * w.sum(1)[:, None] - w @ cols
                grad[r0 + 1:] += cols * w.sum(0)[:, None] - w.T @ rows
            return grad
        grad = xp.zeros(x.shape, x.dtype)
        for r0, r1, sl, mask in _pair_blocks(n, n * m):
            mask = xp.asarray(mask)
            w = xp.zeros(mask.shape, x.dtype)
            w[mask] = g[sl]
            d = xp.ones(mask.shape, x.dtype)
            d[mask] = dist[sl]
            gd = _pnorm_grad(x[r0:r1, None, :] - x[None, r0 + 1:, :], d[..., None], p, (2,),
                             False)
            gd *= w[..., None]
            grad[r0:r1] += gd.sum(1)
            grad[r0 + 1:] -= gd.sum(0)
        return grad


def _centred(x, dtype):
    """Rows of ``x`` minus their mean, in ``dtype`` (distances do not change)."""
    x = x.astype(dtype)
    if x.shape[0]:
        x -= x.mean(0)
    return x


def pdist(input, p=2):
    """p-norm distances between all pairs of rows of a 2-D input: (N, M) -> (N(N-1)/2,)."""
    if input.dim() != 2:
        raise RuntimeError(f'pdist only supports 2D tensors, got: {input.dim()}D')
    dt = input._data.dtype
    if dt.kind != 'f':
        raise RuntimeError('pdist only supports floating-point dtypes')
    if dt.itemsize == 2:
        raise NotImplementedError('"pdist" not implemented for \'Half\'')
    if p < 0:
        raise RuntimeError('pdist only supports non-negative p values')
    return Pdist.apply(input, float(p))


# ---- cdist ------------------------------------------------------------------------------
class Cdist(Op):
    """Distances between the rows of (*, P, M) and (*, R, M) arrays -> (*, P, R). With
    ``use_mm`` (p = 2 only) through ||a||^2 + ||b||^2 - 2 a.b (one matrix product, clamped
    at 1e-30 before the square root, as PyTorch); otherwise from the differences, in blocks
    of rows of the first input."""

    @staticmethod
    def forward(ctx, x1, x2, p, use_mm):
        xp = xp_of(x1)
        a, b = _batched(x1, x2)
        ctx.p, ctx.use_mm = p, use_mm
        if use_mm:
            sq = a @ xp.swapaxes(b, -1, -2)
            sq *= -2
            sq += _dot(a, a, (-1,))
            sq += xp.swapaxes(_dot(b, b, (-1,)), -1, -2)
            live = sq >= 1e-30
            d = xp.sqrt(xp.maximum(sq, 1e-30, out=sq), out=sq)
            ctx.save_for_backward(x1, x2, d, live)
            return d
        d = xp.empty(a.shape[:-1] + (b.shape[-2],), a.dtype)
        for r0, r1 in _cdist_blocks(a, b):
            d[..., r0:r1, :] = _pnorm(a[..., r0:r1, None, :] - b[..., None, :, :], p,
                                      (-1,))[..., 0]
        ctx.save_for_backward(x1, x2, d)
        return d

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        a, b = _batched(*ctx.saved[:2])
        if ctx.use_mm:
            d, live = ctx.saved[2:]
            w = g * live / d                          # d dist / d sq = 1 / (2 dist)
            wt = xp.swapaxes(w, -1, -2)
            return w.sum(-1)[..., None] * a - w @ b, wt.sum(-1)[..., None] * b - wt @ a
        d = ctx.saved[2]
        ga = xp.zeros(a.shape, a.dtype)
        gb = xp.zeros(b.shape, b.dtype)
        for r0, r1 in _cdist_blocks(a, b):
            diff = a[..., r0:r1, None, :] - b[..., None, :, :]
            gd = _pnorm_grad(diff, d[..., r0:r1, :, None], ctx.p, (-1,), False)
            gd *= g[..., r0:r1, :, None]
            ga[..., r0:r1, :] += gd.sum(-2)
            gb -= gd.sum(-3)
        return ga, gb


def _batched(x1, x2):
    """(*, P, M) and (*, R, M) views with the batch dims broadcast together."""
    xp = xp_of(x1)
    batch = np.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    return xp.broadcast_to(x1, batch + x1.shape[-2:]), xp.broadcast_to(x2, batch + x2.shape[-2:])


def _cdist_blocks(a, b):
    """Blocks of a's rows whose (*, rows, R, M) differences stay under _BLOCK elements."""
    return _row_blocks(a.shape[-2], math.prod(a.shape[:-2]) * b.shape[-2] * a.shape[-1])


_MODES = ('use_mm_for_euclid_dist_if_necessary', 'use_mm_for_euclid_dist',
          'donot_use_mm_for_euclid_dist')


def cdist(x1, x2, p=2.0, compute_mode='use_mm_for_euclid_dist_if_necessary'):
    """p-norm distances between each row of x1 (*, P, M) and each row of x2 (*, R, M):
    (*, P, R); batch dims broadcast."""
    if compute_mode not in _MODES:
        raise ValueError(f'{compute_mode} is not a valid value for compute_mode')
    for name, x in (('X1', x1), ('X2', x2)):
        if x.dim() < 2:
            raise RuntimeError(f'cdist only supports at least 2D tensors, {name} got: '
                               f'{x.dim()}D')
    c1, c2 = x1.shape[-1], x2.shape[-1]
    if c1 != c2:
        raise RuntimeError(f'X1 and X2 must have the same number of columns. X1: {c1} X2: {c2}')
    for name, x in (('X1', x1), ('X2', x2)):
        if x._data.dtype.kind != 'f':
            raise RuntimeError(f'cdist only supports floating-point dtypes, {name} got: '
                               f'{_NP_NAMES[x._data.dtype.name]}')
    if p < 0:
        raise RuntimeError('cdist only supports non-negative p values')
    d1, d2 = x1._data.dtype, x2._data.dtype
    if d1 != d2:
        raise RuntimeError(f'expected scalar type {_NP_NAMES[d1.name]} but found '
                           f'{_NP_NAMES[d2.name]}')
    if d1.itemsize == 2:
        raise NotImplementedError('"cdist" not implemented for \'Half\'')
    _broadcast_shape(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
    p1, r = x1.shape[-2], x2.shape[-2]
    use_mm = p == 2 and (compute_mode == 'use_mm_for_euclid_dist' or (
        compute_mode == 'use_mm_for_euclid_dist_if_necessary' and (p1 > 25 or r > 25)))
    return Cdist.apply(x1, x2, float(p), use_mm)
