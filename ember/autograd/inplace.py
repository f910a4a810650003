"""Views and in-place operations.

A view's array is a NumPy/CuPy view of its base's array, made by ``view_fn``; views share
their base's version counter. An in-place op is computed out of place (recording its graph),
then written into the tensor's own memory, so every view sees it. The tensor then takes the
result's place in the graph; for a view, the base gets a ``CopySlices`` node (gradient for the
old base with the view's region zeroed, and the region's gradient for the new values) and the
view is re-derived from the new base.
"""
from .function import Node, _FREED, _seq
from .grad_mode import GRAD
from .views import make_view, edge_of, refresh_view

__all__ = ['make_view', 'apply_inplace', 'edge_of', 'write_into']


_NAMES = {'f': 'Float', 'd': 'Double', 'e': 'Half', 'q': 'Long', 'l': 'Long', 'i': 'Int',
          'h': 'Short', 'b': 'Char', 'B': 'Byte', '?': 'Bool'}


def _scalar_type(dt):
    return _NAMES.get(dt.char, str(dt))


def _category(dt):
    k = dt.kind
    return 0 if k == 'b' else (2 if k == 'f' else 1)


def write_into(self, rd):
    """Copy result array ``rd`` into ``self``'s memory with PyTorch's in-place checks."""
    a = self._data
    if rd.shape != a.shape:
        raise RuntimeError(f"output with shape {list(a.shape)} doesn't match the broadcast shape "
                           f"{list(rd.shape)}")
    if rd.dtype != a.dtype and _category(rd.dtype) > _category(a.dtype):
        raise RuntimeError(f"result type {_scalar_type(rd.dtype)} can't be cast to the desired "
                           f"output type {_scalar_type(a.dtype)}")
    if rd is a:
        return
    try:
        a[...] = rd
    except ValueError as e:
        if 'read-only' not in str(e):
            raise
        raise RuntimeError('unsupported operation: more than one element of the written-to '
                           'tensor refers to a single memory location. Please clone() the tensor '
                           'before performing the operation.') from None


def _check_leaf(self):
    if self._fn is None and self._rg and self._view is None:
        raise RuntimeError('a leaf Variable that requires grad is being used in an in-place '
                           'operation.')
    v = self._view
    if v is not None and v[0]._fn is None and v[0]._rg:
        raise RuntimeError('a view of a leaf Variable that requires grad is being used in an '
                           'in-place operation.')


def _protect_saved(root, first_seq, arr):
    """Nodes made by this in-place op that saved ``arr`` get a copy instead (it is about to be
    overwritten), and stop tracking its version."""
    stack = [root]
    seen = set()
    while stack:
        n = stack.pop()
        if n in seen or not isinstance(n, Node) or n.seq < first_seq:
            continue
        seen.add(n)
        saved = n.saved
        if saved is not None and saved is not _FREED and any(s is arr for s in saved):
            n.saved = tuple(s.copy() if s is arr else s for s in saved)
            sv = n.saved_versions
            if sv:
                n.saved_versions = [e for e in sv if e[2] is not arr] or None
        stack.extend(e[0] for e in n.next_edges if e is not None)


def apply_inplace(self, compute, *args, **kwargs):
    """``self`` := ``compute(self, *args, **kwargs)``, in place, keeping autograd right."""
    from .._tensor import Tensor
    v = self._view
    if v is not None:
        refresh_view(self)
    record = GRAD.enabled and (self._rg or (v is not None and v[0]._rg) or any(
        isinstance(a, Tensor) and a._rg for a in args))
    if not record:
        r = compute(self, *args, **kwargs)
        write_into(self, r._data)
        self._bump()
        return self
    _check_leaf(self)
    first_seq = next(_seq)
    r = compute(self, *args, **kwargs)
    rd = r._data
    if r._fn is not None:
        _protect_saved(r._fn, first_seq, self._data)
    write_into(self, rd)
    self._bump()
    if v is None:
        self._fn, self._nr, self._rg = r._fn, r._nr, r._rg
        return self
    base, view_fn, _ = v
    node = CopySlices()
    node.next_edges = (edge_of(base), edge_of(r))
    node.saved = None
    node.saved_versions = None
    node.view_fn = view_fn
    node.layout = None if base._data.flags.c_contiguous else base._data
    node.seq = next(_seq)
    base._fn, base._nr, base._rg = node, 0, True
    # the view now reads its gradient off the new base graph (refresh_view builds that node)
    self._view = (base, view_fn, -1)
    refresh_view(self)
    return self


def _base_like(g, layout):
    """A writable array of the base's layout (C order unless the base array was not)."""
    if layout is None:
        return g.copy()
    from .._backend import xp_of
    out = xp_of(layout).empty_like(layout)
    out[...] = g
    return out


class CopySlices(Node):
    """New base after an in-place op on one of its views."""
    backward_name = 'CopySlices'

    def run_backward(self, grads):
        g = grads[0]
        g_base = _base_like(g, self.layout)
        g_region = self.view_fn(g_base).copy()
        self.view_fn(g_base)[...] = 0
        return (g_base, g_region)
