"""Gradient clipping, as ``torch.nn.utils.clip_grad``.

``get_total_norm`` is the p-norm of the per-tensor p-norms (= the p-norm of all elements
together); ``clip_grads_with_norm_`` scales every gradient in place by
``min(1, max_norm / (total_norm + 1e-6))``; ``clip_grad_norm_`` does both and returns the total
norm (a 0-d tensor); ``clip_grad_value_`` clamps every gradient element into
[-clip_value, clip_value]. All of it runs without recording a graph. ``foreach`` is accepted;
ember always takes the same per-tensor path.
"""
import types
import warnings

import ember
from ember._tensor import Tensor
from ember.autograd import no_grad

__all__ = ['clip_grad_norm_', 'clip_grad_norm', 'clip_grad_value_', 'get_total_norm',
           'clip_grads_with_norm_']


def _tensor_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters):
    return [p.grad for p in parameters if p.grad is not None]


@no_grad()
def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of all elements of ``tensors`` (a tensor or an iterable of them)
    as a 0-d tensor (0. for none); RuntimeError when it is inf or nan and
    ``error_if_nonfinite``."""
    tensors = _tensor_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return ember.tensor(0.0)
    vector_norm = ember.linalg.vector_norm
    first_device = tensors[0].device
    norms = [vector_norm(t, norm_type).to(first_device) for t in tensors]
    total = vector_norm(ember.stack(norms), norm_type)
    if error_if_nonfinite and not bool(total.isfinite()):
        raise RuntimeError(f'The total norm of order {norm_type} for gradients from '
                           '`parameters` is non-finite, so it cannot be clipped. To disable '
                           'this error and scale the gradients by the non-finite norm anyway, '
                           'set `error_if_nonfinite=False`')
    return total


@no_grad()
def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients of ``parameters`` in place by
    ``clamp(max_norm / (total_norm + 1e-6), max=1)``."""
    grads = _grads(_tensor_list(parameters))
    max_norm = float(max_norm)
    if not grads:
        return
    coef = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.to(g.device))


@no_grad()
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Rescale the gradients of ``parameters`` so that their total ``norm_type``-norm is at
    most ``max_norm``; returns the total norm before clipping (a 0-d tensor)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and not parameters:
            warnings.warn('`parameters` is an empty generator, no gradient clipping will occur.',
                          stacklevel=3)
    total_norm = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated spelling of ``clip_grad_norm_``."""
    warnings.warn('`ember.nn.utils.clip_grad_norm` is now deprecated in favor of '
                  '`ember.nn.utils.clip_grad_norm_`.', FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


@no_grad()
def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element of ``parameters`` into [-clip_value, clip_value], in
    place."""
    clip_value = float(clip_value)
    for g in _grads(_tensor_list(parameters)):
        g.clamp_(min=-clip_value, max=clip_value)
