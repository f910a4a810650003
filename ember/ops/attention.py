"""Scaled dot-product attention as ONE Op with a hand-written backward.

    out = softmax(q k^T * scale + bias) @ v

q: (*B, L, E), k: (*B, S, E), v: (*B, S, Ev) (batch dims broadcast); the bias comes from a
bool mask (True = take part, False = -inf), a float mask (added), or the causal rule (key j
takes part for query i when j <= i, top-left aligned when L != S). Dropout multiplies the
probabilities by a saved keep-mask / (1 - p).

The forward works on blocks of (leading batch entries x query rows): each block computes its
scores, masks them, takes the softmax in place and multiplies by v straight into the output.
Blocks run on ember's thread pool (NumPy's matmul and ufuncs release the GIL). When the graph
needs the probabilities (autograd, or the weights are returned) each block writes them into
one saved (*B, L, S) array, which backward reuses: it never recomputes the softmax. Otherwise
(inference) a block's scores are a temporary of at most ``BLOCK`` elements, so long sequences
need little more memory than the output itself.

Backward per block of batch entries, with P the probabilities and D the dropout scaling:
    dV = (P*D)^T dO,   dP = (dO V^T + dW) * D,   dS = P * (dP - rowsum(dP * P)),
    dQ = scale * dS K,   dK = scale * dS^T Q,   d(float mask) = dS.
Grouped-query attention (fewer key/value heads than query heads) repeats k and v along the
head axis (-3) and sums their gradients back over each group.
"""
import math

import numpy as np

from .. import _parallel
from .._backend import xp_of
from ..autograd.function import Op
from .dropout import _keep
from .reduction import _sum

__all__ = []

BLOCK = 1 << 20            # score elements per block (per thread) on the CPU
GPU_BLOCK = 1 << 26        # on the GPU: chunk only very long sequences
PARALLEL_MIN = 1 << 15     # fewer score elements than this: one block on the calling thread


def _broadcast_batch(*shapes):
    """The broadcast of several batch shapes (validity is checked by the caller)."""
    n = max(len(s) for s in shapes)
    out = [1] * n
    for s in shapes:
        for i, d in enumerate(s, n - len(s)):
            if d != 1:
                out[i] = d
    return tuple(out)


def _plan(batch, rows, cols, cuda):
    """Blocks ``(batch0_slice or None, row_slice)`` covering a (*batch, rows, cols) score
    array: at most ``BLOCK`` elements each where possible, and at least one per thread when
    the work is large enough to share."""
    n0 = batch[0] if batch else 1
    per_row = math.prod(batch[1:]) * cols
    total = n0 * rows * per_row
    want = -(-total // (GPU_BLOCK if cuda else BLOCK))
    threads = 1 if cuda else _parallel.get_num_threads()
    if threads > 1 and total >= PARALLEL_MIN:
        want = -(-max(want, threads) // threads) * threads
    nb = max(1, min(n0, want))
    nr = max(1, min(rows, -(-want // nb)))
    bs = [slice(i, j) for i, j in _parallel._splits(n0, nb)] if batch else [None]
    rs = [slice(i, j) for i, j in _parallel._splits(rows, nr)] if rows else [slice(0, 0)]
    return [(b, r) for b in bs for r in rs]


def _run(fn, blocks, cuda):
    """``fn(*block)`` for every block, on the thread pool when there are several."""
    if len(blocks) == 1 or cuda or _parallel.get_num_threads() == 1:
        for b in blocks:
            fn(*b)
        return
    ex = _parallel._executor()
    for f in [ex.submit(fn, *b) for b in blocks]:
        f.result()


def _at(b, rows=None):
    """Index of batch-entry block ``b`` (None: no batch dims) and optionally a row block."""
    lead = () if b is None else (b,)
    return lead + ((Ellipsis, rows, slice(None)) if rows is not None else ())


def _softmax_(s, safe, xp):
    """Row softmax of the last axis of ``s`` in place. ``safe``: rows with no finite score
    give zeros (PyTorch's scaled_dot_product_attention) instead of NaN."""
    m = s.max(axis=-1, keepdims=True)
    if safe:
        m[xp.isneginf(m)] = 0
    s -= m
    xp.exp(s, out=s)
    z = _sum(s, (s.ndim - 1,), True)
    if safe:
        z[z == 0] = 1
    s *= 1 / z


def _repeat_heads(a, groups):
    """``a`` with every head (axis -3) repeated ``groups`` times in a row."""
    return a if groups == 1 else xp_of(a).repeat(a, groups, axis=-3)


def _sum_groups(g, groups):
    """Gradient of ``_repeat_heads``: sum each run of ``groups`` heads."""
    if groups == 1:
        return g
    sh = g.shape
    return g.reshape(sh[:-3] + (sh[-3] // groups, groups) + sh[-2:]).sum(axis=-3)


class _Problem:
    """Arrays of one attention call broadcast to the common batch shape (views, no copies)."""
    __slots__ = ('q', 'k', 'v', 'batch', 'L', 'S', 'xp', 'cuda')

    def __init__(self, q, k, v, gk, gv):
        xp = xp_of(q)
        k, v = _repeat_heads(k, gk), _repeat_heads(v, gv)
        batch = _broadcast_batch(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        self.q = xp.broadcast_to(q, batch + q.shape[-2:])
        self.k = xp.broadcast_to(k, batch + k.shape[-2:])
        self.v = xp.broadcast_to(v, batch + v.shape[-2:])
        self.batch, self.L, self.S = batch, q.shape[-2], k.shape[-2]
        self.xp, self.cuda = xp, xp is not np


class Attention(Op):
    """softmax(q k^T * scale + mask) @ v, and optionally the (dropped-out) probabilities.

    forward(q, k, v, mask, scale, causal, p, safe, weights, gk, gv): mask is None, a bool
    array (True = take part) or a float array, broadcastable to (*B, L, S); p the dropout
    probability; ``weights`` adds the probabilities (*B, L, S) as a second output; gk, gv
    repeat key/value heads for grouped-query attention.
    """
    backward_name = 'UnsafeViewBackward0'

    @staticmethod
    def forward(ctx, q, k, v, mask, scale, causal, p, safe, weights, gk, gv):
        pb = _Problem(q, k, v, gk, gv)
        xp, batch, L, S = pb.xp, pb.batch, pb.L, pb.S
        dt = q.dtype
        save = weights or any(ctx.needs_input_grad)
        out = xp.empty(batch + (L, v.shape[-1]), dt)
        probs = xp.empty(batch + (L, S), dt) if save else None
        keep = None if p == 0 else (_keep(q, batch + (L, S), p) if p < 1 else
                                    xp.zeros(batch + (L, S), np.bool_))
        wts = xp.empty(batch + (L, S), dt) if weights and keep is not None else probs
        if mask is not None:
            if mask.dtype == np.bool_:
                mask = ~mask
            mask = xp.broadcast_to(mask, batch + (L, S))
        blocked = mask is not None and mask.dtype == np.bool_
        kt = pb.k.swapaxes(-1, -2)
        cols = xp.arange(S)
        neg_inf, c, sc = dt.type(-np.inf), dt.type(1 / (1 - p)) if p < 1 else dt.type(0), \
            dt.type(scale)

        def block(b, r):
            at = _at(b, r)
            qb = pb.q[at]
            s = probs[at] if save else xp.empty(qb.shape[:-1] + (S,), dt)
            xp.matmul(qb * sc, kt[_at(b)], out=s)
            if mask is not None:
                if blocked:
                    xp.copyto(s, neg_inf, where=mask[at])
                else:
                    s += mask[at]
            if causal:
                xp.copyto(s, neg_inf, where=cols > xp.arange(r.start, r.stop)[:, None])
            with np.errstate(invalid='ignore'):
                _softmax_(s, safe, xp)
            if keep is not None:
                pd = s * keep[at]
                pd *= c
                if weights:
                    wts[at] = pd
                s = pd
            xp.matmul(s, pb.v[_at(b)], out=out[at])

        if out.size or (save and probs.size):
            if S == 0:
                out[...] = 0
            else:
                _run(block, _plan(batch, L, S, pb.cuda), pb.cuda)
        if save:
            ctx.save_for_backward(q, k, v, probs, keep)
            ctx.meta = (scale, c, gk, gv)
        return (out, wts) if weights else out

    @staticmethod
    def backward(ctx, g, gw=None):
        q, k, v, probs, keep = ctx.saved
        scale, c, gk, gv = ctx.meta
        need = ctx.needs_input_grad
        pb = _Problem(q, k, v, gk, gv)
        xp, dt = pb.xp, probs.dtype
        g = xp.broadcast_to(g, pb.batch + g.shape[-2:])
        dq = xp.empty(pb.q.shape, dt) if need[0] else None
        dk = xp.empty(pb.k.shape, dt) if need[1] else None
        dv = xp.empty(pb.v.shape, dt) if need[2] else None
        dmask = xp.empty(probs.shape, dt) if len(need) > 3 and need[3] else None
        sc = dt.type(scale)

        def block(b, _rows):
            at = _at(b)
            pr, gb = probs[at], g[at]
            pd = pr if keep is None else pr * keep[at] * c
            if dv is not None:
                xp.matmul(pd.swapaxes(-1, -2), gb, out=dv[at])
            if dq is None and dk is None and dmask is None:
                return
            ds = xp.matmul(gb, pb.v[at].swapaxes(-1, -2),
                           out=None if dmask is None else dmask[at])
            if gw is not None:
                ds += gw[at]
            if keep is not None:
                ds *= keep[at]
                ds *= c
            r = _sum(ds * pr, (ds.ndim - 1,), True)
            ds -= r
            ds *= pr
            if dq is not None:
                xp.matmul(ds, pb.k[at], out=dq[at])
                dq[at] *= sc
            if dk is not None:
                xp.matmul(ds.swapaxes(-1, -2), pb.q[at], out=dk[at])
                dk[at] *= sc

        if probs.size:
            _run(block, _batch_blocks(pb.batch, probs.size, pb.cuda), pb.cuda)
        else:
            for a in (dq, dk, dv, dmask):
                if a is not None:
                    a[...] = 0
        if dk is not None:
            dk = _sum_groups(dk, gk)
        if dv is not None:
            dv = _sum_groups(dv, gv)
        return dq, dk, dv, dmask


def _batch_blocks(batch, size, cuda):
    """Blocks ``(batch0_slice or None, None)``: one per thread along the leading batch axis
    when the work (``size`` score elements) is large enough to share."""
    if not batch:
        return [(None, None)]
    threads = 1 if cuda or size < PARALLEL_MIN else _parallel.get_num_threads()
    return [(slice(i, j), None) for i, j in _parallel._splits(batch[0], min(batch[0], threads))]


class AttentionMm(Attention):
    """Attention on 2-D (L, E) inputs (PyTorch names the node after the final matmul)."""
    backward_name = 'MmBackward0'
