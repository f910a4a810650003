"""ember.autograd: backward, grad, custom Functions, grad modes, gradcheck."""
from .function import Function, InplaceFunction, once_differentiable, Node
from .grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled,
                        is_inference_mode_enabled)
from .engine import execute
from .views import refresh_view
from .gradcheck import gradcheck, GradcheckError
from . import function, grad_mode

__all__ = ['Function', 'InplaceFunction', 'once_differentiable', 'backward', 'grad', 'no_grad',
           'enable_grad', 'set_grad_enabled', 'inference_mode', 'gradcheck', 'GradcheckError',
           'is_grad_enabled', 'is_inference_mode_enabled']


def _as_tuple(x):
    if x is None:
        return (None,)
    from .._tensor import Tensor
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _no_create_graph(create_graph):
    if create_graph:
        raise RuntimeError('create_graph=True (higher-order gradients) is not supported by ember: '
                           'backward formulas run on raw arrays and build no graph')


def _roots_and_grads(outputs, grad_outputs):
    """Root edges and seed gradients, with PyTorch's checks."""
    from .._tensor import Tensor
    roots, grads = [], []
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,) * len(outputs) if grad_outputs is None else (grad_outputs,)
    grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f'got {len(grad_outputs)} tensors and {len(outputs)} gradients')
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(t, Tensor):
            raise TypeError(f'element {i} of tensors is not a Tensor')
        if t._view is not None:
            refresh_view(t)
        if not t._rg:
            raise RuntimeError(f'element {i} of tensors does not require grad and does not have '
                               'a grad_fn')
        a = t._data
        if g is None:
            if a.size != 1:
                raise RuntimeError('grad can be implicitly created only for scalar outputs')
            from .._backend import xp_of
            ga = xp_of(a).ones(a.shape, a.dtype)
        else:
            ga = g._data if isinstance(g, Tensor) else g
            if ga.shape != a.shape:
                from .._tensor import Size
                raise RuntimeError(f'Mismatch in shape: grad_output[{i}] has a shape of '
                                   f'{Size(ga.shape)} and output[{i}] has a shape of '
                                   f'{Size(a.shape)}.')
            if ga.dtype != a.dtype:
                ga = ga.astype(a.dtype)
        roots.append((t, 0) if t._fn is None else (t._fn, t._nr))
        grads.append(ga)
    return roots, grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves they depend on."""
    _no_create_graph(create_graph)
    outputs = _as_tuple(tensors)
    if grad_tensors is None:
        grad_tensors = grad_variables
    roots, grads = _roots_and_grads(outputs, grad_tensors)
    retain = bool(retain_graph) if retain_graph is not None else False
    if inputs is None:
        execute(roots, grads, retain, accumulate=True)
        return
    from .._tensor import Tensor, _wrap
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    capture = {}
    leaves = set()
    for t in inputs:
        if t._fn is None:
            leaves.add(t)
        else:
            capture[(t._fn, t._nr)] = None
    execute(roots, grads, retain, capture=capture or None, accumulate=leaves or False)
    for t in inputs:
        if t._fn is not None:
            g = capture[(t._fn, t._nr)]
            if g is not None:
                t._grad = _wrap(g.copy()) if t._grad is None else _wrap(t._grad._data + g)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated)."""
    from .._tensor import Tensor, _wrap
    _no_create_graph(create_graph)
    if is_grads_batched:
        raise RuntimeError('is_grads_batched=True is not supported by ember')
    outputs = _as_tuple(outputs)
    single = isinstance(inputs, Tensor)
    inputs = (inputs,) if single else tuple(inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError('Expected allow_unused to be True or not passed when materialize_grads=True, '
                         'but got: allow_unused=False.')
    roots, grads = _roots_and_grads(outputs, grad_outputs)
    keys = []
    for t in inputs:
        if not isinstance(t, Tensor):
            raise TypeError('grad() expects Tensors as inputs')
        if not t._rg:
            raise RuntimeError('One of the differentiated Tensors does not require grad')
        keys.append(t if t._fn is None else (t._fn, t._nr))
    capture = dict.fromkeys(keys)
    execute(roots, grads, bool(retain_graph), capture=capture, accumulate=False)
    result = []
    for t, k in zip(inputs, keys):
        g = capture[k]
        if g is None:
            if not allow_unused:
                raise RuntimeError('One of the differentiated Tensors appears to not have been used '
                                   'in the graph. Set allow_unused=True if this is the desired '
                                   'behavior.')
            if materialize_grads:
                from .._backend import xp_of
                g = xp_of(t._data).zeros(t._data.shape, t._data.dtype)
        result.append(None if g is None else _wrap(g))
    return tuple(result)
