"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize."""
import numpy as np

from .._tensor import _wrap
from .optimizer import (GroupwiseOptimizer, check_flags, check_lr, check_value,
                        with_weight_decay)

__all__ = ['SGD']


class SGD(GroupwiseOptimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD``.

    Per parameter ``p`` with gradient ``g`` (negated when ``maximize``)::

        g = g + weight_decay * p
        b = g (first step) or momentum * b + (1 - dampening) * g
        g = g + momentum * b if nesterov else b            (when momentum != 0)
        p = p - lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        check_lr(lr)
        check_value('momentum', momentum)
        check_value('weight_decay', weight_decay)
        check_flags(foreach, fused, differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError('Nesterov momentum requires a momentum and zero dampening')
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr = float(group['lr'])
        momentum = group['momentum']
        damp = 1.0 - group['dampening']
        weight_decay = group['weight_decay']
        nesterov = group['nesterov']
        maximize = group['maximize']
        state = self.state
        for p in group['params']:
            grad = p._grad
            if grad is None:
                continue
            a = p._data
            g = grad._data
            if maximize:
                g = np.negative(g)
            if weight_decay != 0:
                g = with_weight_decay(g, a, weight_decay)
            if momentum != 0:
                g = _momentum(state[p], g, momentum, damp, nesterov)
            upd = np.multiply(g, -lr)
            a += upd
            p._bump()


def _momentum(s, g, momentum, damp, nesterov):
    """Advance the momentum buffer in state dict ``s``; the direction to step along."""
    buf = s.get('momentum_buffer')
    if buf is None:
        b = g.copy()
        s['momentum_buffer'] = _wrap(b)
    else:
        b = buf._data
        b *= momentum
        if damp == 1.0:
            b += g
        else:
            b += np.multiply(g, damp)
    if nesterov:
        out = np.multiply(b, momentum)
        out += g
        return out
    return b
