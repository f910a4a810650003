"""The backward walk.

Nodes get an increasing sequence number when created, and a node's inputs always exist before
it, so visiting the reachable nodes by decreasing sequence number is a topological order: each
node runs once, after every node that feeds it a gradient. The walk is a loop, not recursion,
so 10,000-step chains are fine. Gradients are undone for broadcasting and cast to the input's
dtype here, centrally, so ops' backward formulas stay short.

Leaves appear in the graph as the Tensor objects themselves (edge targets); what reaches them
is accumulated into ``.grad`` after all nodes ran (a fresh copy the first time, in place after).
"""
import sys

import numpy as np

from .function import Node, Op, _FREED, raise_freed, check_versions

__all__ = ['execute', 'unbroadcast']

_Tensor = None
_wrap = None


def _bind():
    global _Tensor, _wrap
    from .._tensor import Tensor, _wrap as w
    _Tensor, _wrap = Tensor, w


def unbroadcast(g, shape, node=None, index=0):
    """Sum ``g`` over the dimensions that broadcasting added, so that it has ``shape``
    (returning a fresh array, not a view, so the engine may hand it to ``.grad``)."""
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
    kept = tuple(a for a in axes if a >= lead)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    if kept:
        g = g.sum(axis=tuple(a - lead for a in kept), keepdims=True)
    return g


def _collect(roots):
    """All nodes reachable from the root edges, sorted for the walk (latest first)."""
    seen = set()
    stack = [t for t, _ in roots if isinstance(t, Node)]
    add = seen.add
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        add(n)
        for e in n.next_edges:
            if e is not None:
                t = e[0]
                if t.__class__ is not _Tensor and t not in seen and isinstance(t, Node):
                    stack.append(t)
    return sorted(seen, key=_seq_of, reverse=True)


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


def _add_multi(buf, key, nr, g, n_out):
    slot = buf.get(key)
    if slot is None:
        slot = buf[key] = [None] * n_out
    old = slot[nr]
    slot[nr] = g if old is None else old + g


def _run_tensor_hooks(hooks, g):
    for h in list(hooks):
        r = h(_wrap(g))
        if r is not None:
            g = r._data
    return g


def _prepare(node, g, capture):
    """Gradients for ``node``'s outputs after tensor hooks, capture, materialization and
    pre-hooks (the slow path: multi-output nodes, hooks, autograd.grad)."""
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
    if multi and getattr(node, '_materialize', True):
        from .._backend import xp_of
        ref = next(x for x in gs if x is not None)
        xp = xp_of(ref)
        gs = [xp.zeros(*node.out_meta[i]) if x is None else x for i, x in enumerate(gs)]
    if node._pre_hooks:
        for h in list(node._pre_hooks.values()):
            r = h(tuple(_wrap(x) if x is not None else None for x in gs))
            if r is not None:
                gs = [x._data if x is not None else None for x in r]
    return gs


def execute(roots, grads, retain_graph=False, capture=None, accumulate=True):
    """Run backward from ``roots`` (list of (node_or_leaf, output_nr)) seeded with ``grads``.

    capture: optional dict {(node, nr) or leaf tensor: None}, filled with the gradients that
    reach those places (``autograd.grad``). accumulate: True adds into every reached leaf's
    ``.grad``; False into none; a set of tensors (``backward(inputs=...)``) into those only.
    """
    if _Tensor is None:
        _bind()
    Tensor = _Tensor
    buf = {}
    for (t, nr), g in zip(roots, grads):
        if isinstance(t, Node) and t.n_outputs != 1:
            _add_multi(buf, t, nr, g, t.n_outputs)
        else:
            old = buf.get(t)
            buf[t] = g if old is None else old + g
    nodes = _collect(roots)
    need = _needed(nodes, capture) if capture is not None and accumulate is False else None
    pop = buf.pop
    get = buf.get
    for node in nodes:
        g = pop(node, None)
        if g is None:
            continue
        if node._fast and capture is None:
            # an Op without hooks: one gradient in, raw backward, no wrapping
            saved = node.saved
            if saved is not None:
                if saved is _FREED:
                    raise_freed()
                sv = node.saved_versions
                if sv:
                    for vc, v, _ in sv:
                        if vc[0] != v:
                            check_versions(node)
                if not retain_graph:
                    r = node.backward(node, g)
                    node.saved = _FREED
                    node.saved_versions = None
                else:
                    r = node.backward(node, g)
            else:
                r = node.backward(node, g)
            if r.__class__ is not tuple:
                r = (r,)
        else:
            gs = _prepare(node, g, capture)
            if need is not None and node not in need:
                continue
            saved = node.saved
            if saved is not None:
                if saved is _FREED:
                    raise_freed()
                if node.saved_versions:
                    check_versions(node)
            r = node.run_backward(gs)
            if not retain_graph and saved is not None:
                node.saved = _FREED
                node.saved_versions = None
            if node._hooks:
                _post_hooks(node, r, gs)
        for i, (e, gi) in enumerate(zip(node.next_edges, r)):
            if e is None or gi is None:
                continue
            target, nr, shape, dt = e
            if gi.shape != shape:
                gi = unbroadcast(gi, shape, node, i)
            if gi.dtype != dt:
                gi = gi.astype(dt)
            if target.__class__ is Tensor or not isinstance(target, Node) or target.n_outputs == 1:
                old = get(target)
                buf[target] = gi if old is None else old + gi
            else:
                _add_multi(buf, target, nr, gi, target.n_outputs)
    # what is left in the buffer are gradients for leaves; the walk's own references to them
    # are dropped first so that _accumulate_leaf can tell private arrays from shared ones
    leaves = [(t, g) for t, g in buf.items() if isinstance(t, Tensor)]
    buf = g = gi = r = old = None
    while leaves:
        t, g = leaves.pop()
        _accumulate_leaf(t, g, capture, accumulate)


def _post_hooks(node, grads_in, grads_out):
    gi = tuple(_wrap(x) if x is not None else None for x in grads_in)
    go = tuple(_wrap(x) if x is not None else None for x in grads_out)
    for h in list(node._hooks.values()):
        h(gi, go)


def _calibrate():
    """How many references ``_accumulate_leaf`` sees to a gradient array that only the walk
    holds, measured through the same call shape as ``execute`` (it varies across Pythons)."""
    leaves = [(None, np.empty(1))]
    probe = []
    while leaves:
        t, g = leaves.pop()
        _accumulate_leaf(t, g, None, True, probe)
    return probe[0]


def _accumulate_leaf(t, g, capture, accumulate, probe=None):
    refs = sys.getrefcount(g)
    if probe is not None:
        probe.append(refs)
        return
    hooks = t._hooks
    if hooks is not None and hooks.pre:
        g = _run_tensor_hooks(hooks.pre.values(), g)
    if capture is not None and t in capture:
        c = capture[t]
        capture[t] = g if c is None else c + g
    if accumulate is not True and (not accumulate or t not in accumulate):
        return
    old = t._grad
    if old is None:
        private = hooks is None and capture is None and g.base is None and refs <= _PRIVATE_REFS
        t._grad = _wrap(g if private else g.copy())
    else:
        od = old._data
        if od.shape == g.shape and od.dtype == g.dtype and od.flags.writeable:
            od += g
            old._bump()
        else:
            t._grad = _wrap(od + g)
    if hooks is not None and hooks.post:
        for h in list(hooks.post.values()):
            h(t)


_PRIVATE_REFS = _calibrate()
