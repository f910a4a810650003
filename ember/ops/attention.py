"""Scaled dot-product attention as ONE Op with a hand-written backward.

    out = softmax(q k^T * scale + bias) @ v

q: (*B, L, E), k: (*B, S, E), v: (*B, S, Ev) (batch dims broadcast); the bias comes from a
bool mask (True = take part, False = -inf), a float mask (added), or the causal rule (key j
takes part for query i when j <= i, top-left aligned when L != S). Dropout multiplies the
probabilities by a saved keep-mask / (1 - p).

The forward works on blocks of (batch entries x query rows) small enough for the score block
to stay in the CPU's cache: each block computes its scores, masks them, takes the softmax in
place and multiplies by v straight into the output. Causal blocks of query rows r0..r1 skip the
keys after r1, which no row of the block sees. When the scores of a block provably lie within
exp's safe range (|q_i| |k_j| scale < SAFE_EXP, Cauchy-Schwarz) the softmax skips the row-max
subtraction (two passes over the block). Blocks run on ember's thread pool, one run of blocks
per thread (NumPy's matmul and ufuncs release the GIL), with BLAS held to one thread meanwhile
so that the threads do not oversubscribe the cores. When the graph needs the probabilities
(autograd, or the weights are returned) each block writes them into one saved (*B, L, S)
array, which backward reuses: it never recomputes the softmax. Otherwise (inference) a block's
scores are a temporary of at most ``BLOCK`` elements, normalised through the (smaller) output
rows, so long sequences need little more memory than the output itself.

Backward per block of batch entries, with P the probabilities, D the dropout scaling
(keep / (1 - p)), O the output and W the returned weights (P * D):
    dV = (P*D)^T dO,   dP = (dO V^T + dW) * D,   dS = P * (dP - r),
    r = rowsum(P * dP) = rowsum(dO * O) + rowsum(W * dW),
    dQ = scale * dS K,   dK = scale * dS^T Q,   d(float mask) = dS.
Grouped-query attention (fewer key/value heads than query heads) repeats k and v along the
head axis (-3) and sums their gradients back over each group.
"""
import itertools
import math

import numpy as np

from .. import _parallel
from .._backend import xp_of
from ..autograd.function import Op
from .dropout import _keep
from .reduction import _sum

__all__ = []

BLOCK = 1 << 18            # score elements per CPU block (1 MiB of float32: about L2)
GPU_BLOCK = 1 << 26        # on the GPU: chunk only very long sequences
SAFE_EXP = 60              # |score| below this: exp(score) needs no shift (e^60 ~ 1e26)
MILD_MASK = 20             # float masks within [-MILD_MASK, 0] keep that (e^-80 is normal)
CAUSAL_ROWS = 64           # causal: blocks of a quarter of the rows (at least this many)
PARALLEL_MIN = 1 << 16     # fewer score elements than this: all blocks on the calling thread


# ---- blocks -----------------------------------------------------------------------------------
def _blocks(batch, rows, per_row, limit, row_block=None):
    """Index tuples ``(batch_index, row_slice)`` covering a (*batch, rows, ...) problem in which
    a row costs ``per_row`` score elements: blocks of whole rows (at most ``row_block`` of them,
    fewer where one entry's rows exceed ``limit`` score elements) of runs of batch entries, as
    many entries as keep a block within ``limit``. ``batch_index`` indexes a prefix of the
    batch axes: ints, then a slice."""
    rb = rows if rows * per_row <= limit else max(1, limit // max(per_row, 1))
    rb = max(1, min(rb, row_block or rb))
    inner, axis = rb * per_row, len(batch)
    while axis and inner * batch[axis - 1] <= limit:
        axis -= 1
        inner *= batch[axis]
    if axis == 0:
        lead = [()]
    else:
        run, ax = max(1, limit // max(inner, 1)), axis - 1
        lead = [idx + (slice(i, min(i + run, batch[ax])),)
                for idx in itertools.product(*map(range, batch[:ax]))
                for i in range(0, batch[ax], run)]
    return [(idx, slice(i, min(i + rb, rows))) for idx in lead for i in range(0, max(rows, 1), rb)]


def _run(fn, blocks, work, cuda):
    """``fn(batch_index, row_slice)`` for every block: on the calling thread when the work
    (score elements) is small or on the GPU, else one run of neighbouring blocks per thread
    of ember's pool. On the CPU, BLAS keeps to one thread meanwhile: the blocks' matrix
    products are small, and threads inside threads would oversubscribe the cores."""
    def run(part):
        with np.errstate(all='ignore'):      # as ember sets for the main thread
            for b in part:
                fn(*b)
    if cuda:
        return run(blocks)
    threads = _parallel.get_num_threads()
    with _parallel.one_blas_thread():
        if threads == 1 or len(blocks) == 1 or work < PARALLEL_MIN:
            return run(blocks)
        parts = [blocks[i:j] for i, j in _parallel._splits(len(blocks), min(threads, len(blocks)))]
        ex = _parallel._executor()
        for f in [ex.submit(run, part) for part in parts]:
            f.result()


def _limit(total, cuda):
    """Score elements per block: cache-sized on the CPU, and small enough to give every
    thread some blocks when the work is shared."""
    if cuda:
        return GPU_BLOCK
    threads = _parallel.get_num_threads()
    if threads > 1 and total >= PARALLEL_MIN:
        return max(1, min(BLOCK, -(-total // threads)))
    return BLOCK


# ---- helpers ----------------------------------------------------------------------------------
def _broadcast_batch(*shapes):
    """The broadcast of several batch shapes (validity is checked by the caller)."""
    n = max(len(s) for s in shapes)
    out = [1] * n
    for s in shapes:
        for i, d in enumerate(s, n - len(s)):
            if d != 1:
                out[i] = d
    return tuple(out)


def _repeat_heads(a, groups):
    """``a`` with every head (axis -3) repeated ``groups`` times in a row."""
    return a if groups == 1 else xp_of(a).repeat(a, groups, axis=-3)


def _sum_groups(g, groups):
    """Gradient of ``_repeat_heads``: sum each run of ``groups`` heads."""
    if groups == 1:
        return g
    sh = g.shape
    return g.reshape(sh[:-3] + (sh[-3] // groups, groups) + sh[-2:]).sum(axis=-3)


def _broadcast(q, k, v, gk, gv):
    """(q, k, v, batch): the arrays as views broadcast to their common batch shape (k and v
    heads repeated for grouped-query attention)."""
    xp = xp_of(q)
    k, v = _repeat_heads(k, gk), _repeat_heads(v, gv)
    batch = _broadcast_batch(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    return (xp.broadcast_to(q, batch + q.shape[-2:]), xp.broadcast_to(k, batch + k.shape[-2:]),
            xp.broadcast_to(v, batch + v.shape[-2:]), batch)


def _row_sums(a):
    """Sums over the last axis of ``a``, keeping it."""
    return _sum(a, (a.ndim - 1,), True)


def _row_dots(a, b, xp):
    """Dot products of the last-axis rows of ``a`` and ``b`` (*, 1)."""
    vecdot = getattr(xp, 'vecdot', None)
    if vecdot is None:
        return _row_sums(a * b)
    return vecdot(a, b)[..., None]


def _key_norms(k, xp):
    """The largest key norm of each batch entry of k (*B, S, E) -> (*B,)."""
    if k.shape[-2] == 0:
        return None
    return xp.sqrt(_row_dots(k, k, xp).max(axis=(-2, -1)))


def _mild(mask, xp):
    """Whether the finite values of a float mask lie in [-MILD_MASK, 0]: added to scores
    within +-SAFE_EXP they keep every exponential finite and normal (-inf entries give 0)."""
    finite = mask[xp.isfinite(mask)]
    return not finite.size or bool(finite.max() <= 0 and finite.min() >= -MILD_MASK)


def _small_scores(qs, knorm, xp):
    """Whether every score of a block (scaled queries ``qs``, key norms ``knorm``) lies within
    +-SAFE_EXP (Cauchy-Schwarz), so that its exponential neither overflows nor underflows,
    even summed over many keys: the softmax then needs no max subtraction."""
    if qs.shape[-2] == 0:
        return True
    return bool(xp.sqrt(_row_dots(qs, qs, xp).max()) * knorm.max() < SAFE_EXP)


class Attention(Op):
    """softmax(q k^T * scale + mask) @ v, and optionally the (dropped-out) probabilities.

    forward(q, k, v, mask, scale, causal, p, safe, weights, gk, gv): mask is None, a bool
    array (True = take part) or a float array, broadcastable to (*B, L, S); p the dropout
    probability; ``safe``: rows that see no key give zeros (else NaN); ``weights`` adds the
    probabilities (*B, L, S) as a second output; gk, gv repeat key/value heads for
    grouped-query attention.
    """
    backward_name = 'UnsafeViewBackward0'

    @staticmethod
    def forward(ctx, q, k, v, mask, scale, causal, p, safe, weights, gk, gv):
        xp = xp_of(q)
        qb, kb, vb, batch = _broadcast(q, k, v, gk, gv)
        L, S, dt = q.shape[-2], k.shape[-2], q.dtype
        save = weights or any(ctx.needs_input_grad)
        out = xp.empty(batch + (L, v.shape[-1]), dt)
        probs = xp.empty(batch + (L, S), dt) if save else None
        keep = None if p == 0 else (_keep(q, batch + (L, S), p) if p < 1 else
                                    xp.zeros(batch + (L, S), np.bool_))
        wts = xp.empty(batch + (L, S), dt) if weights and keep is not None else probs
        blocked = mask is not None and mask.dtype == np.bool_
        knorm = _key_norms(kb, xp) if mask is None or blocked or _mild(mask, xp) else None
        if mask is not None:
            mask = xp.broadcast_to(~mask if blocked else mask, batch + (L, S))
        fix_empty_rows = safe and mask is not None
        kt = kb.swapaxes(-1, -2)
        neg_inf, sc = dt.type(-np.inf), dt.type(scale)
        c = dt.type(1 / (1 - p)) if p < 1 else dt.type(0)

        def block(idx, r):
            at = idx + (Ellipsis, r, slice(None))
            cols = min(S, r.stop) if causal else S
            if save:
                s = probs[at]
                if cols < S:
                    s[..., cols:] = 0
                    s = s[..., :cols]
            else:
                s = xp.empty(out[at].shape[:-1] + (cols,), dt)
            qs = qb[at] * sc
            xp.matmul(qs, kt[idx][..., :cols], out=s)
            if mask is not None:
                m = mask[idx + (Ellipsis, r, slice(0, cols))]
                if blocked:
                    xp.copyto(s, neg_inf, where=m)
                else:
                    s += m
            if causal and r.start + 1 < cols:
                xp.copyto(s, neg_inf,
                          where=xp.arange(cols) > xp.arange(r.start, r.stop)[:, None])
            if knorm is None or not _small_scores(qs, knorm[idx], xp):
                top = s.max(axis=-1, keepdims=True)
                if fix_empty_rows:
                    top[xp.isneginf(top)] = 0
                s -= top
            xp.exp(s, out=s)
            z = _row_sums(s)
            if fix_empty_rows:
                z[z == 0] = 1
            xp.reciprocal(z, out=z)
            vs = vb[idx][..., :cols, :]
            if save:
                s *= z
                if keep is not None:
                    d = wts[at][..., :cols] if weights else xp.empty(s.shape, dt)
                    xp.multiply(s, keep[at][..., :cols], out=d)
                    d *= c
                    if weights and cols < S:
                        wts[at][..., cols:] = 0
                    s = d
                xp.matmul(s, vs, out=out[at])
                return
            if keep is not None:       # dropout without a graph: scale the output rows
                s *= keep[at][..., :cols]
                z *= c
            o = out[at]
            xp.matmul(s, vs, out=o)
            o *= z

        if S == 0:
            out[...] = 0
        elif out.size or (save and probs.size):
            work = math.prod(batch) * L * S
            cuda = xp is not np
            causal_rows = max(CAUSAL_ROWS, -(-L // 4)) if causal else None
            _run(block, _blocks(batch, L, S, _limit(work, cuda), causal_rows), work, cuda)
        if save:
            ctx.save_for_backward(q, k, v, probs, keep, out)
            ctx.meta = (scale, c, gk, gv)
        return (out, wts) if weights else out

    @staticmethod
    def backward(ctx, g, gw=None):
        q, k, v, probs, keep, out = ctx.saved
        scale, c, gk, gv = ctx.meta
        need = ctx.needs_input_grad
        xp = xp_of(probs)
        qb, kb, vb, batch = _broadcast(q, k, v, gk, gv)
        dt, L, S = probs.dtype, probs.shape[-2], probs.shape[-1]
        g = xp.broadcast_to(g, out.shape)
        dq = xp.empty(qb.shape, dt) if need[0] else None
        dk = xp.empty(kb.shape, dt) if need[1] else None
        dv = xp.empty(vb.shape, dt) if need[2] else None
        dmask = xp.empty(probs.shape, dt) if len(need) > 3 and need[3] else None
        sc = dt.type(scale)

        def block(idx, _rows):
            pr, gb = probs[idx], g[idx]
            pd = pr if keep is None else xp.multiply(pr, keep[idx], dtype=dt)
            if keep is not None:
                pd *= c
            if dv is not None:
                xp.matmul(pd.swapaxes(-1, -2), gb, out=dv[idx])
            if dq is None and dk is None and dmask is None:
                return
            ds = xp.matmul(gb, vb[idx].swapaxes(-1, -2),
                           out=None if dmask is None else dmask[idx])
            r = _row_dots(gb, out[idx], xp)
            if gw is not None:
                ds += gw[idx]
                r += _row_dots(pd, gw[idx], xp)
            if keep is not None:
                ds *= keep[idx]
                ds *= c
            ds -= r
            ds *= pr
            if dq is not None:
                d = dq[idx]
                xp.matmul(ds, kb[idx], out=d)
                d *= sc
            if dk is not None:
                d = dk[idx]
                xp.matmul(ds.swapaxes(-1, -2), qb[idx], out=d)
                d *= sc

        if probs.size:
            work = probs.size
            cuda = xp is not np
            _run(block, _blocks(batch, L, S, max(L * S, _limit(work, cuda))), work, cuda)
        else:
            for a in (dq, dk, dv, dmask):
                if a is not None:
                    a[...] = 0
        if dk is not None:
            dk = _sum_groups(dk, gk)
        if dv is not None:
            dv = _sum_groups(dv, gv)
        return dq, dk, dv, dmask


class AttentionMm(Attention):
    """Attention on 2-D (L, E) inputs (PyTorch names the node after the final matmul)."""
    backward_name = 'MmBackward0'
