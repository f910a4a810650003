"""Embedding lookups, each ONE Op with a hand-written backward on whole arrays.

``Embedding``     out = weight[idx]: a row gather; backward accumulates the rows of the
                  gradient into a zero table with repeated indices summed (``_add_rows``),
                  optionally divided by each index's count, with the padding row zeroed.
``EmbeddingBag``  sums, means or maxes over bags of rows, never materialising per-bag copies
                  beyond one gather: NumPy's ``ufunc.reduceat`` reduces the contiguous runs of
                  each bag (atomic scatters on the GPU).
``embedding_renorm_`` rescales the referenced rows whose norm exceeds ``max_norm`` (in place,
outside autograd), and ``one_hot`` builds int64 one-hot codes.

Arguments are checked by ``ember.nn.functional``; these functions take valid arrays.
"""
import numpy as np

from .._backend import xp_of
from ..autograd.function import Op
from .indexing import _add_rows, _reduce_at

__all__ = []

_ndarray = np.ndarray


# ---- embedding --------------------------------------------------------------------------------
def _scale_by_freq(z, rows):
    """Divide each row of gradient table ``z`` by how often it was looked up in ``rows``."""
    counts = xp_of(z).bincount(rows, minlength=z.shape[0])
    counts[counts == 0] = 1
    z /= counts[:, None].astype(z.dtype)


class Embedding(Op):
    """out = weight[idx]: weight (num_embeddings, D), idx (*) integers -> (*, D).

    Backward: the gradient's rows added into zeros at ``idx`` (repeats summed), divided by
    the lookup counts when ``scale_grad_by_freq``; row ``padding_idx`` (or None) gets zero.
    """

    @staticmethod
    def forward(ctx, weight, idx, padding_idx, scale_grad_by_freq):
        ctx.num = weight.shape[0]
        ctx.idx = idx
        ctx.padding_idx = padding_idx
        ctx.freq = scale_grad_by_freq
        return weight.take(idx, axis=0)

    @staticmethod
    def backward(ctx, g):
        d = g.shape[-1]
        rows = ctx.idx.reshape(-1)
        z = xp_of(g).zeros((ctx.num, d), g.dtype)
        _add_rows(z, rows, g.reshape(-1, d), True)
        if ctx.freq:
            _scale_by_freq(z, rows)
        if ctx.padding_idx is not None:
            z[ctx.padding_idx] = 0
        return z


def embedding_renorm_(weight, idx, max_norm, norm_type):
    """Scale the rows of ``weight`` (a Tensor) referenced by ``idx`` whose ``norm_type``-norm
    exceeds ``max_norm`` down to norm ``max_norm`` (by max_norm / (norm + 1e-7)), in place and
    outside autograd; bumps the weight's version when a row changes."""
    w = weight._data
    xp = xp_of(w)
    rows = xp.unique(idx.reshape(-1))
    sub = w.take(rows, axis=0)
    norms = xp.linalg.norm(sub, ord=norm_type, axis=1)
    big = norms > max_norm
    if not bool(big.any()):
        return
    scale = (max_norm / (norms[big].astype(np.float64) + 1e-7)).astype(w.dtype)
    w[rows[big]] = sub[big] * scale[:, None]
    weight._bump()


# ---- embedding_bag ----------------------------------------------------------------------------
class BagPlan:
    """Which positions of the flattened input feed which bag.

    idx (m,): the weight rows used, grouped by bag in order (padding and positions after the
    last offset removed); bag (m,): their bag ids (non-decreasing); counts (B,): bag sizes;
    starts (B,): where each bag's run begins in ``idx``; used (m,) positions of ``idx`` in the
    flattened input, or None when every position is used; n_input: the input's numel.
    """
    __slots__ = ('idx', 'bag', 'counts', 'starts', 'n_bags', 'used', 'n_input')


def bag_plan(idx, offsets, end, padding_idx):
    """BagPlan for flattened indices ``idx`` (n,) cut into bags starting at ``offsets`` (B,),
    non-decreasing from 0; positions ``end`` and later are unused; ``padding_idx`` (or None)
    entries are left out of their bags."""
    xp = xp_of(idx)
    plan = BagPlan()
    n = idx.shape[0]
    plan.n_input = n
    plan.n_bags = b = offsets.shape[0]
    pos = xp.arange(end)
    bag = xp.searchsorted(offsets, pos, side='right') - 1
    used = pos if end < n else None
    rows = idx[:end]
    if padding_idx is not None:
        keep = rows != padding_idx
        if not bool(keep.all()):
            used = xp.flatnonzero(keep)
            rows, bag = rows[used], bag[used]
    plan.idx, plan.bag, plan.used = rows, bag, used
    plan.counts = counts = xp.bincount(bag, minlength=b)[:b]
    plan.starts = xp.cumsum(counts) - counts
    return plan


def _segment(ufunc_name, rows, plan, empty_value):
    """(B, D): ``ufunc`` reduction of ``rows`` (m, D) over each bag's run; empty bags hold
    ``empty_value``."""
    xp = xp_of(rows)
    b, d = plan.n_bags, rows.shape[1]
    counts = plan.counts
    if rows.__class__ is _ndarray:
        ufunc = getattr(np, ufunc_name)
        full = counts > 0
        if b and bool(full.all()):
            return ufunc.reduceat(rows, plan.starts, axis=0)
        out = np.full((b, d), empty_value, rows.dtype)
        if bool(full.any()):
            out[full] = ufunc.reduceat(rows, plan.starts[full], axis=0)
        return out
    init = {'add': 0, 'maximum': -np.inf, 'minimum': np.inf}[ufunc_name]
    if rows.dtype.kind != 'f' and init:
        info = np.iinfo(rows.dtype)
        init = info.min if init < 0 else info.max
    out = xp.full((b, d), init, rows.dtype)
    lin = (plan.bag[:, None] * d + xp.arange(d)).reshape(-1)
    _reduce_at(ufunc_name, out.reshape(-1), lin, rows.reshape(-1))
    out[counts == 0] = empty_value
    return out


def _used_values(a, plan):
    """The entries of ``a`` (any shape with n_input elements) at the plan's used positions."""
    a = a.reshape(-1)
    return a if plan.used is None else a[plan.used]


class EmbeddingBag(Op):
    """out[b] = reduce over bag b of psw[i] * weight[idx[i]] ('sum', 'mean' or 'max').

    weight (num_embeddings, D); per_sample_weights None or shaped like the input ('sum' only);
    plan: a BagPlan -> (B, D). Empty bags give zeros. Backward: 'sum'/'mean' spread each bag's
    gradient over its rows (divided by the bag size for 'mean'); 'max' sends it to the first
    row holding each maximum.
    """

    @staticmethod
    def forward(ctx, weight, per_sample_weights, plan, mode, scale_grad_by_freq):
        ctx.plan, ctx.mode, ctx.freq = plan, mode, scale_grad_by_freq
        ctx.shape = weight.shape
        ctx.save_for_backward(weight, per_sample_weights)
        rows = weight.take(plan.idx, axis=0)
        if per_sample_weights is not None:
            rows *= _used_values(per_sample_weights, plan)[:, None]
        if mode != 'max':
            out = _segment('add', rows, plan, 0)
            if mode == 'mean':
                out /= xp_of(out).maximum(plan.counts, 1)[:, None].astype(out.dtype)
            return out
        out = _segment('maximum', rows, plan, 0)
        m = rows.shape[0]
        hit = rows == out.take(plan.bag, axis=0)
        pos = xp_of(rows).where(hit, xp_of(rows).arange(m)[:, None], m)
        ctx.argmax = _segment('minimum', pos, plan, m)     # first row of each maximum
        return out

    @staticmethod
    def backward(ctx, g):
        weight, psw = ctx.saved
        plan = ctx.plan
        xp = xp_of(g)
        need = ctx.needs_input_grad
        if ctx.mode == 'max':
            return _max_grad(ctx, g, xp), None
        if ctx.mode == 'mean':
            g = g / xp.maximum(plan.counts, 1)[:, None].astype(g.dtype)
        gp = g.take(plan.bag, axis=0)                         # (m, D)
        g_psw = None
        if len(need) > 1 and need[1]:
            per = (gp * weight.take(plan.idx, axis=0)).sum(axis=1)
            g_psw = xp.zeros(plan.n_input, g.dtype)
            if plan.used is None:
                g_psw[:] = per
            else:
                g_psw[plan.used] = per
            g_psw = g_psw.reshape(psw.shape)
        gw = None
        if need[0]:
            if psw is not None:
                gp *= _used_values(psw, plan)[:, None]
            gw = xp.zeros(ctx.shape, g.dtype)
            _add_rows(gw, plan.idx, gp, True)
            if ctx.freq:
                _scale_by_freq(gw, plan.idx)
        return gw, g_psw


def _max_grad(ctx, g, xp):
    """Weight gradient of 'max' bags: g[b, d] added at (idx[argmax[b, d]], d)."""
    plan = ctx.plan
    gw = xp.zeros(ctx.shape, g.dtype)
    m = plan.idx.shape[0]
    if m == 0:
        return gw
    arg = ctx.argmax
    valid = arg < m
    d = g.shape[1]
    lin = plan.idx.take(xp.minimum(arg, m - 1)) * d + xp.arange(d)
    _reduce_at('add', gw.reshape(-1), lin[valid], g[valid])
    if ctx.freq:
        _scale_by_freq(gw, plan.idx)
    return gw


# ---- one_hot ----------------------------------------------------------------------------------
def one_hot(idx, num_classes):
    """int64 codes (*idx.shape, num_classes) with a 1 at each index (valid ``idx`` array)."""
    xp = xp_of(idx)
    n = idx.size
    out = xp.zeros(idx.shape + (num_classes,), np.int64)
    if n:
        out.reshape(n, num_classes)[xp.arange(n), idx.reshape(-1)] = 1
    return out
