"""Graph nodes and the two kinds of differentiable function.

``Node``      one recorded operation: edges to its inputs' nodes, saved arrays, hooks.
``Op``        ember's own primitives: ``forward(ctx, *arrays_and_params) -> array(s)`` and
              ``backward(ctx, *grad_arrays) -> grad arrays``, on raw NumPy/CuPy arrays.
``Function``  the public ``ember.autograd.Function``: the same mechanism, but forward and
              backward see Tensors, exactly as PyTorch's custom functions do.

An edge is ``(target, output_nr, shape, np_dtype)``: target is the producing Node, or the leaf
Tensor itself (the engine accumulates into ``leaf.grad``); shape and dtype are the input's, so
the engine can undo broadcasting and cast gradients centrally.

Saved arrays go through ``ctx.save_for_backward``: the graph frees them after backward, and
``apply`` records the version of every saved input (and output) so that modifying it in place
before backward raises PyTorch's error. Small metadata (shapes, axes) may be set as plain
attributes on ``ctx``.
"""
import itertools
from collections import OrderedDict

from .grad_mode import GRAD

__all__ = ['Function', 'Node', 'Op', 'once_differentiable']

_seq = itertools.count()
_FREED = ('freed',)


class Node:
    """A recorded operation in the autograd graph (``tensor.grad_fn``)."""
    __slots__ = ('next_edges', 'saved', 'saved_versions', 'seq', '__dict__', '__weakref__')
    n_outputs = 1
    _tensor_hooks = None      # {output_nr: [hook(grad) -> grad or None]}
    _hooks = None             # post hooks: hook(grad_inputs, grad_outputs)
    _pre_hooks = None         # pre hooks: hook(grad_outputs) -> grad_outputs or None
    needs_input_grad = ()
    backward_name = None
    _fast = False             # the engine's short path: an Op with one output and no hooks

    def name(self):
        return self.backward_name or type(self).__name__ + 'Backward0'

    def __repr__(self):
        return f'<{self.name()} object at {id(self):#x}>'

    @property
    def next_functions(self):
        """((node_or_AccumulateGrad, output_nr), ...) for each input, as PyTorch shows them."""
        out = []
        for e in self.next_edges:
            if e is None:
                out.append((None, 0))
            elif isinstance(e[0], Node):
                out.append((e[0], e[1]))
            else:
                out.append((AccumulateGrad(e[0]), 0))
        return tuple(out)

    @property
    def metadata(self):
        d = self.__dict__.get('_metadata')
        if d is None:
            d = self.__dict__['_metadata'] = {}
        return d

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs)`` runs after this node's backward."""
        from ..utils.hooks import RemovableHandle
        if self._hooks is None:
            self._hooks = OrderedDict()
        self._fast = False
        h = RemovableHandle(self._hooks)
        self._hooks[h.id] = fn
        return h

    def register_prehook(self, fn):
        """``fn(grad_outputs)`` runs before this node's backward and may replace them."""
        from ..utils.hooks import RemovableHandle
        if self._pre_hooks is None:
            self._pre_hooks = OrderedDict()
        self._fast = False
        h = RemovableHandle(self._pre_hooks)
        self._pre_hooks[h.id] = fn
        return h

    def save_for_backward(self, *arrays):
        self.saved = arrays

    @property
    def saved_tensors(self):
        s = self.saved
        if s is _FREED:
            raise_freed()
        check_versions(self)
        return s if s is not None else ()

    def release(self):
        """Drop saved arrays after backward (retain_graph=False)."""
        if self.saved is not None:
            self.saved = _FREED
            self.saved_versions = None

    def run_backward(self, grads):
        """grads: one array per output -> one grad array (or None) per forward argument."""
        r = self.backward(self, *grads)
        return r if r.__class__ is tuple else (r,)


class AccumulateGrad:
    """What ``next_functions`` shows for a leaf: the node that accumulates into ``.grad``."""
    __slots__ = ('variable',)

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return 'torch::autograd::AccumulateGrad'

    next_functions = ()

    def __eq__(self, other):
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self):
        return id(self.variable)

    def __repr__(self):
        return f'<AccumulateGrad object at {id(self):#x}>'


def raise_freed():
    raise RuntimeError(
        'Trying to backward through the graph a second time (or directly access saved tensors '
        'after they have already been freed). Saved intermediate values of the graph are freed '
        'when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to '
        'backward through the graph a second time or if you need to access saved tensors after '
        'calling backward.')


def check_versions(node):
    sv = node.saved_versions
    if sv:
        for vc, version, arr in sv:
            if vc[0] != version:
                from .._tensor import type_name
                shape = ', '.join(map(str, arr.shape))
                raise RuntimeError(
                    'one of the variables needed for gradient computation has been modified by '
                    f'an inplace operation: [{type_name(arr)} [{shape}]], which is output 0 of '
                    f'{node.name()}, is at version {vc[0]}; expected version {version} instead. '
                    'Hint: the backtrace further above can point at the operation that failed '
                    'to compute its gradient. The variable in question was changed in there or '
                    'anywhere later. Good luck!')


def _record_versions(ctx, saved, inputs, outs):
    """Remember the version of each saved array that is an input's or an output's data."""
    sv = None
    Tensor = _Tensor
    for s in saved:
        for t in inputs:
            if (t.__class__ is Tensor or isinstance(t, Tensor)) and t._data is s:
                break
        else:
            for t in outs:
                if t.__class__ is Tensor and t._data is s:
                    break
            else:
                continue
        vc = t._vc
        if vc is None:
            vc = t._vc = [0]
        if sv is None:
            sv = [(vc, vc[0], s)]
        else:
            sv.append((vc, vc[0], s))
    ctx.saved_versions = sv


class Op(Node):
    """Base of ember's primitives: forward and backward on raw arrays.

    ``apply(*args)``: Tensors among ``args`` are unwrapped to arrays; other arguments (axes,
    scalars) pass through. ``backward`` returns one grad per forward argument (trailing ones
    may be omitted; None where no gradient flows).
    """
    __slots__ = ()
    _fast = True

    @property
    def needs_input_grad(self):
        """One bool per forward argument: does it need a gradient?"""
        try:
            return tuple([e is not None for e in self.next_edges])
        except AttributeError:   # forward running without a graph
            return _NO_GRADS

    @classmethod
    def apply(cls, *args):
        Tensor = _Tensor
        ctx = _new(cls)
        ctx.saved = None
        arrays = []
        edges = []
        record = False
        if GRAD.enabled:
            for a in args:
                if a.__class__ is Tensor or isinstance(a, Tensor):
                    if a._view is not None:
                        refresh_view(a)
                    d = a._data
                    arrays.append(d)
                    if a._rg:
                        record = True
                        fn = a._fn
                        edges.append((a, 0, d.shape, d.dtype) if fn is None else
                                     (fn, a._nr, d.shape, d.dtype))
                        continue
                else:
                    arrays.append(a)
                edges.append(None)
        else:
            for a in args:
                arrays.append(a._data if a.__class__ is Tensor or isinstance(a, Tensor) else a)
        if not record:
            try:
                out = cls.forward(ctx, *arrays)
            except ValueError as e:
                _reraise_broadcast(e, arrays)
            if out.__class__ is tuple:
                return tuple([_wrap(o) for o in out])
            return _wrap(out)
        ctx.next_edges = edges
        try:
            out = cls.forward(ctx, *arrays)
        except ValueError as e:
            _reraise_broadcast(e, arrays)
        ctx.seq = next(_seq)
        saved = ctx.saved
        if out.__class__ is not tuple:
            t = _wrap(out, True, ctx, 0)
            if saved is None:
                ctx.saved_versions = None
            else:
                _record_versions(ctx, saved, args, (t,))
            return t
        outs = tuple([_wrap(o, True, ctx, i) if o.dtype.kind == 'f' else _wrap(o)
                      for i, o in enumerate(out)])
        ctx.n_outputs = len(outs)
        ctx.out_meta = tuple([(o.shape, o.dtype) for o in out])
        ctx._fast = False
        if saved is None:
            ctx.saved_versions = None
        else:
            _record_versions(ctx, saved, args, outs)
        return outs


class _NoGradsType(tuple):
    """needs_input_grad outside graph recording: False for every index."""

    def __getitem__(self, i):
        return False


_NO_GRADS = _NoGradsType()


def broadcast_error(shape_a, shape_b):
    """PyTorch's RuntimeError for two shapes that do not broadcast (None if they do)."""
    n = max(len(shape_a), len(shape_b))
    for i in range(1, n + 1):
        a = shape_a[-i] if i <= len(shape_a) else 1
        b = shape_b[-i] if i <= len(shape_b) else 1
        if a != b and a != 1 and b != 1:
            return RuntimeError(f'The size of tensor a ({a}) must match the size of tensor b ({b}) '
                                f'at non-singleton dimension {n - i}')
    return None


def _reraise_broadcast(err, arrays):
    """Turn NumPy's broadcasting ValueError into PyTorch's RuntimeError."""
    if 'broadcast' not in str(err):
        raise err
    shapes = [a.shape for a in arrays if hasattr(a, 'shape') and hasattr(a, 'dtype')]
    for i in range(len(shapes)):
        for j in range(i + 1, len(shapes)):
            e = broadcast_error(shapes[i], shapes[j])
            if e is not None:
                raise e from None
    raise err


def once_differentiable(fn):
    """Accepted for PyTorch compatibility: ember's backward never builds a graph."""
    return fn


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        if 'backward_name' not in attrs and name not in ('Function', 'InplaceFunction'):
            cls.backward_name = name + 'Backward'


class Function(Node, metaclass=_FunctionMeta):
    """Custom differentiable operations, as ``torch.autograd.Function``.

    Subclasses define static ``forward(ctx, *args)`` (Tensors in, Tensor or tuple out,
    computed without recording a graph) and ``backward(ctx, *grad_outputs)`` returning one
    gradient (Tensor or None) per forward argument; call them with ``MyFunction.apply(...)``.
    """
    __slots__ = ()
    _materialize = True
    _non_differentiable = ()
    _dirty = ()

    def __init__(self, *args, **kwargs):
        pass

    def set_materialize_grads(self, value):
        self._materialize = bool(value)

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable = tuple(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        self._dirty = tuple(id(t) for t in tensors)

    def save_for_backward(self, *tensors):
        self.saved = tensors

    @property
    def saved_tensors(self):
        s = self.saved
        if s is _FREED:
            raise_freed()
        check_versions(self)
        return s if s is not None else ()

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError('You must implement the forward function for custom '
                                  'autograd.Function.')

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError('You must implement either the backward or vjp method for '
                                  'your custom autograd.Function to use it with backward mode AD.')

    vjp = backward

    @staticmethod
    def setup_context(ctx, inputs, output):
        return None

    @classmethod
    def apply(cls, *args, **kwargs):
        Tensor = _Tensor
        ctx = cls()
        ctx.saved = None
        for a in args:
            if isinstance(a, Tensor) and a._view is not None:
                refresh_view(a)
        record = GRAD.enabled and any(isinstance(a, Tensor) and a._rg for a in args)
        edges, needs = [], []
        for a in args:
            if record and isinstance(a, Tensor) and a._rg:
                d = a._data
                fn = a._fn
                edges.append((a, 0, d.shape, d.dtype) if fn is None else (fn, a._nr, d.shape, d.dtype))
                needs.append(True)
            else:
                edges.append(None)
                needs.append(False)
        ctx.needs_input_grad = tuple(needs)
        prev = GRAD.enabled
        GRAD.enabled = False
        try:
            if cls.setup_context is not Function.setup_context:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        finally:
            GRAD.enabled = prev
        is_tuple = isinstance(out, tuple)
        outs = out if is_tuple else (out,)
        if not record:
            return out
        ctx.next_edges = tuple(edges)
        ctx.seq = next(_seq)
        ctx.n_outputs = len(outs)
        ctx.out_meta = tuple((o._data.shape, o._data.dtype) if isinstance(o, Tensor) else None
                             for o in outs)
        input_ids = {id(a) for a in args if isinstance(a, Tensor)}
        wrapped = []
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                wrapped.append(o)
                continue
            if id(o) in ctx._non_differentiable or o._data.dtype.kind != 'f':
                wrapped.append(o)
                continue
            if id(o) in ctx._dirty:
                # modified in place: the input itself now carries this node
                if o._fn is None and o._rg:
                    raise RuntimeError('a leaf Variable that requires grad is being used in '
                                       'an in-place operation.')
                o._fn, o._nr, o._rg = ctx, i, True
                o._bump()
                wrapped.append(o)
                continue
            if id(o) in input_ids or o._fn is not None or o._rg:
                o = o.detach()
            o._rg, o._fn, o._nr = True, ctx, i
            wrapped.append(o)
        saved = ctx.saved
        if saved is not None:
            tensors = [a for a in args if isinstance(a, Tensor)]
            out_ids = {id(w) for w in wrapped}
            # saved outputs are kept as detached aliases: no cycle output -> node -> output
            ctx.saved = tuple(s.detach() if id(s) in out_ids and isinstance(s, Tensor) else s
                              for s in saved)
            arrays = tuple(s._data if isinstance(s, Tensor) else s for s in saved)
            _record_versions(ctx, arrays, tensors, [w for w in wrapped if isinstance(w, Tensor)])
        else:
            ctx.saved_versions = None
        return tuple(wrapped) if is_tuple else wrapped[0]

    def run_backward(self, grads):
        Tensor = _Tensor
        gts = tuple(None if g is None else _wrap(g) for g in grads)
        r = self.backward(self, *gts)
        if not isinstance(r, tuple):
            r = (r,)
        n_in = len(self.next_edges)
        if len(r) < n_in or (len(r) > n_in and any(x is not None for x in r[n_in:])):
            raise RuntimeError(f'function {self.name()} returned an incorrect number of '
                               f'gradients (expected {n_in}, got {len(r)})')
        return tuple(g._data if isinstance(g, Tensor) else g for g in r[:n_in])


class InplaceFunction(Function):
    def __init__(self, inplace=False):
        self.inplace = inplace


_new = object.__new__
_Tensor = None
_wrap = None


from .views import refresh_view  # noqa: E402  (views.py needs Node defined first)


def _bind_tensor(tensor_cls, wrap):
    """Called once by ember._tensor: the Tensor class and its fast constructor."""
    global _Tensor, _wrap
    _Tensor = tensor_cls
    _wrap = wrap
