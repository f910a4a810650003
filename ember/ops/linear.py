"""Fused affine maps of the ``nn.Linear`` family: ``linear`` (x W^T + b) and ``bilinear``
(x1^T W x2 + b), each ONE Op with a hand-written backward.

``linear`` folds every leading dim of ``x`` into the rows of a single GEMM against the
transposed weight view (BLAS transposes it; no copy); its backward is two GEMMs and a row sum.
Arguments are checked by ``ember.nn.functional``; these Ops assume valid shapes and dtypes.
"""
from math import prod

from .._backend import xp_of
from .._parallel import gemm_op
from ..autograd.function import Op
from .reduction import _sum

__all__ = []


@gemm_op(lambda x, w, b=None: 2 * x.size * (w.shape[0] if w.ndim == 2 else 1))
class Linear(Op):
    """y = x @ W.T (+ b).

    x: (*, in); W: (out, in), or (in,) for a dot product along the last dim; b: None or
    broadcastable to y: (*, out) (or (*) for a 1-D W).
    """
    backward_name = 'AddmmBackward0'

    @staticmethod
    def forward(ctx, x, w, b=None):
        lead, k = x.shape[:-1], x.shape[-1]
        w2 = w if w.ndim == 2 else w.reshape(1, k)
        y = x.reshape(prod(lead), k).dot(w2.T).reshape(lead + w.shape[:-1])
        if b is not None:
            y += b
            ctx.bias_rows = b.ndim == 1 and w.ndim == 2
        ctx.save_for_backward(x, w)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved
        need = ctx.needs_input_grad
        n, k = prod(x.shape[:-1]), x.shape[-1]
        w2 = w if w.ndim == 2 else w.reshape(1, k)
        g2 = g.reshape(n, w2.shape[0])
        gx = g2.dot(w2).reshape(x.shape) if need[0] else None
        gw = g2.T.dot(x.reshape(n, k)).reshape(w.shape) if need[1] else None
        if len(need) < 3 or not need[2]:
            return gx, gw
        return gx, gw, (_sum(g2, (0,)) if ctx.bias_rows else g)


def _linear_op(name):
    """Linear under another grad_fn name (PyTorch's name depends on the shapes)."""
    return type('Linear' + name[:-len('Backward0')], (Linear,),
                {'backward_name': name, '__module__': __name__})


_VIEW = _linear_op('ViewBackward0')
# {(input rank: 1, 2 or 3 for N-D, has bias): Op}
LINEAR_OPS = {(2, True): Linear, (2, False): _linear_op('MmBackward0'),
              (1, True): _VIEW, (1, False): _linear_op('SqueezeBackward4'),
              (3, True): _VIEW, (3, False): _linear_op('UnsafeViewBackward0')}
LINEAR_DOT = _linear_op('DotBackward0')     # 1-D input and 1-D weight


class Bilinear(Op):
    """y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] (+ b[o]).

    x1: (*, I); x2: (*, J); W: (O, I, J); b: None or (O,); y: (*, O). Forward is one GEMM of
    x1 against W laid out as (I, O*J), then a batched contraction with x2.
    """
    backward_name = 'AddBackward0'

    @staticmethod
    def forward(ctx, x1, x2, w, b=None):
        xp = xp_of(w)
        o, i, j = w.shape
        n = prod(x1.shape[:-1])
        a = x1.reshape(n, i)
        c = x2.reshape(n, j)
        wr = w.transpose(1, 0, 2).reshape(i, o * j)
        t = a.dot(wr).reshape(n, o, j)                    # t[n, o, j] = sum_i x1[n, i] W[o, i, j]
        y = xp.matmul(t, c[:, :, None]).reshape(n, o)
        if b is not None:
            y += b
        ctx.save_for_backward(x1, x2, w, wr, t)
        return y.reshape(x1.shape[:-1] + (o,))

    @staticmethod
    def backward(ctx, g):
        x1, x2, w, wr, t = ctx.saved
        need = ctx.needs_input_grad
        xp = xp_of(g)
        o, i, j = w.shape
        n = t.shape[0]
        g2 = g.reshape(n, o)
        g1 = gw = gb = None
        g_x2 = xp.matmul(g2[:, None, :], t).reshape(x2.shape) if need[1] else None
        if need[0] or need[2]:
            c = x2.reshape(n, j)
            u = (g2[:, :, None] * c[:, None, :]).reshape(n, o * j)    # u[n, (o, j)]
            if need[0]:
                g1 = u.dot(wr.T).reshape(x1.shape)
            if need[2]:
                a = x1.reshape(n, i)
                gw = xp.ascontiguousarray(a.T.dot(u).reshape(i, o, j).transpose(1, 0, 2))
        if len(need) > 3 and need[3]:
            gb = _sum(g2, (0,))
        return g1, g_x2, gw, gb


class BilinearNoBias(Bilinear):
    backward_name = 'ViewBackward0'
