"""The backward walk.

Nodes get an increasing sequence number when created, and a node's inputs always exist before
it, so visiting the reachable nodes by decreasing sequence number is a topological order: each
node runs once, after every node that feeds it a gradient. The walk is a loop, not recursion,
so 10,000-step chains are fine. Gradients are undone for broadcasting and cast to the input's
dtype here, centrally, so ops' backward formulas stay short.
"""
from .function import Node, _FREED, raise_freed, check_versions

__all__ = ['execute', 'unbroadcast']


def unbroadcast(g, shape, node=None, index=0):
    """Sum ``g`` over the dimensions that broadcasting added, so that it has ``shape``."""
    gs = g.shape
    if gs == shape:
        return g
    lead = len(gs) - len(shape)
    ok = lead >= 0
    axes = list(range(lead)) if ok else []
    if ok:
        for i, s in enumerate(shape):
            gi = gs[i + lead]
            if s == 1 and gi != 1:
                axes.append(i + lead)
            elif s != gi:
                ok = False
                break
    if not ok:
        name = node.name() if node is not None else 'backward'
        raise RuntimeError(f'Function {name} returned an invalid gradient at index {index} - got '
                           f'{list(gs)} but expected shape compatible with {list(shape)}')
    if axes:
        g = g.sum(axis=tuple(axes))
    return g.reshape(shape)


def _collect(roots):
    """All nodes reachable from the root edges, sorted for the walk (latest first)."""
    seen = set()
    stack = [t for t, _ in roots if isinstance(t, Node)]
    nodes = []
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        nodes.append(n)
        for e in n.next_edges:
            if e is not None:
                t = e[0]
                if isinstance(t, Node) and t not in seen:
                    stack.append(t)
    nodes.sort(key=_seq_of, reverse=True)
    return nodes


def _seq_of(n):
    return n.seq


def _needed(nodes, capture):
    """Nodes whose backward must run to reach a captured input (nodes sorted latest first)."""
    need = set()
    for n in reversed(nodes):
        for e in n.next_edges:
            if e is not None and (e[0] in need or (e[0], e[1]) in capture or e[0] in capture):
                need.add(n)
                break
    return need


def _add(buf, key, nr, g, n_out):
    """Accumulate gradient ``g`` for output ``nr`` of ``key`` into the buffer."""
    if n_out == 1:
        old = buf.get(key)
        buf[key] = g if old is None else old + g
    else:
        slot = buf.get(key)
        if slot is None:
            slot = buf[key] = [None] * n_out
        old = slot[nr]
        slot[nr] = g if old is None else old + g


def _run_tensor_hooks(hooks, g):
    from .._tensor import _wrap
    for h in list(hooks):
        r = h(_wrap(g))
        if r is not None:
            g = r._data
    return g


def execute(roots, grads, retain_graph=False, capture=None, accumulate=True):
    """Run backward from ``roots`` (list of (node_or_leaf, output_nr)) seeded with ``grads``.

    capture: optional dict {(node, nr) or leaf tensor: None}, filled with the gradients that
    reach those places (``autograd.grad``). accumulate: True adds into every reached leaf's
    ``.grad``; False into none; a set of tensors (``backward(inputs=...)``) into those only.
    """
    from .._tensor import Tensor, _wrap
    buf = {}
    for (t, nr), g in zip(roots, grads):
        _add(buf, t, nr, g, t.n_outputs if isinstance(t, Node) else 1)
    nodes = _collect(roots)
    need = _needed(nodes, capture) if capture is not None and accumulate is False else None
    for node in nodes:
        g = buf.pop(node, None)
        if g is None:
            continue
        multi = node.n_outputs != 1
        gs = g if multi else [g]
        th = node._tensor_hooks
        if th:
            for nr, hooks in th.items():
                if gs[nr] is not None:
                    gs[nr] = _run_tensor_hooks(hooks.values(), gs[nr])
        if capture is not None:
            for nr in range(len(gs)):
                if gs[nr] is not None and (node, nr) in capture:
                    c = capture[(node, nr)]
                    capture[(node, nr)] = gs[nr] if c is None else c + gs[nr]
            if need is not None and node not in need:
                continue
        if multi:
            materialize = getattr(node, '_materialize', True)
            if materialize:
                gs = [_zeros_like_meta(gs, i, node) if x is None else x for i, x in enumerate(gs)]
        if node._pre_hooks:
            for h in list(node._pre_hooks.values()):
                r = h(tuple(_wrap(x) if x is not None else None for x in gs))
                if r is not None:
                    gs = [x._data if x is not None else None for x in r]
        if node.saved is _FREED:
            raise_freed()
        if node.saved_versions:
            check_versions(node)
        grads_in = node.run_backward(gs)
        if not retain_graph:
            node.release()
        if node._hooks:
            for h in list(node._hooks.values()):
                h(tuple(_wrap(x) if x is not None else None for x in grads_in),
                  tuple(_wrap(x) if x is not None else None for x in gs))
        for i, (e, gi) in enumerate(zip(node.next_edges, grads_in)):
            if e is None or gi is None:
                continue
            target, nr, shape, dt = e
            if gi.shape != shape:
                gi = unbroadcast(gi, shape, node, i)
            if gi.dtype != dt:
                gi = gi.astype(dt)
            if target.__class__ is Tensor or isinstance(target, Tensor):
                old = buf.get(target)
                buf[target] = gi if old is None else old + gi
            else:
                _add(buf, target, nr, gi, target.n_outputs)
    # what is left in the buffer is gradients for leaves
    for t, g in buf.items():
        if not isinstance(t, Tensor):
            continue
        hooks = t._hooks
        if hooks is not None and hooks.pre:
            g = _run_tensor_hooks(hooks.pre.values(), g)
        if capture is not None and t in capture:
            c = capture[t]
            capture[t] = g if c is None else c + g
        if accumulate is not True and (not accumulate or t not in accumulate):
            continue
        old = t._grad
        if old is None:
            t._grad = _wrap(g.copy())
        else:
            od = old._data
            if od.shape == g.shape and od.dtype == g.dtype:
                od += g
                old._bump()
            else:
                t._grad = _wrap(od + g)
        if hooks is not None and hooks.post:
            for h in list(hooks.post.values()):
                h(t)


def _zeros_like_meta(gs, i, node):
    from .._backend import xp_of
    ref = next(x for x in gs if x is not None)
    shape, dt = node.out_meta[i]
    return xp_of(ref).zeros(shape, dt)
