"""View tracking: which tensors are views of which base, and how to rebuild their grad_fn.

A view's ``_view`` is ``(base, view_fn, version)``: ``view_fn(base_array)`` gives the view's
array (a NumPy/CuPy view sharing memory), and ``version`` is the shared version counter's value
when the view's ``grad_fn`` was last valid. When the base is changed in place (directly or
through another view) the counter moves on; ``refresh_view`` then gives the view a new
``grad_fn`` that reads its gradient off the base's current graph, as PyTorch does.
"""
from .function import Node, _seq

__all__ = ['make_view', 'edge_of', 'refresh_view', 'AsStridedView']


def _compose(f, g):
    return lambda a: g(f(a))


def make_view(out, src, fn):
    """Mark ``out`` as a view of ``src``: ``out._data`` is ``fn(src._data)``, sharing memory."""
    v = src._view
    vc = src._vc
    if vc is None:
        vc = src._vc = [0]
    out._vc = vc
    out._view = (src, fn, vc[0]) if v is None else (v[0], _compose(v[1], fn), vc[0])
    return out


def refresh_view(t):
    """Re-derive a view's grad_fn from its base if the base changed in place since."""
    v = t._view
    version = t._vc[0]
    if v[2] == version:
        return
    base, view_fn, _ = v
    t._view = (base, view_fn, version)
    if not base._rg:
        return
    d = base._data
    node = AsStridedView()
    node.next_edges = ((base, 0, d.shape, d.dtype) if base._fn is None else
                       (base._fn, base._nr, d.shape, d.dtype),)
    node.saved = None
    node.saved_versions = None
    node.view_fn = view_fn
    node.base_shape = d.shape
    node.layout = None if d.flags.c_contiguous else d
    node.seq = next(_seq)
    t._fn, t._nr, t._rg = node, 0, True


def edge_of(t):
    """The graph edge a node keeps for input tensor ``t`` (None when it needs no gradient)."""
    if t._view is not None:
        refresh_view(t)
    if not t._rg:
        return None
    d = t._data
    return (t, 0, d.shape, d.dtype) if t._fn is None else (t._fn, t._nr, d.shape, d.dtype)


class AsStridedView(Node):
    """A view re-derived from its base: its gradient is scattered into the base's shape."""
    backward_name = 'AsStridedBackward0'

    def run_backward(self, grads):
        from .._backend import xp_of
        g = grads[0]
        if self.layout is None:
            g_base = xp_of(g).zeros(self.base_shape, g.dtype)
        else:
            g_base = xp_of(g).zeros_like(self.layout)
        self.view_fn(g_base)[...] = g
        return (g_base,)
