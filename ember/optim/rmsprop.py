"""RMSprop (plain or centered, with optional momentum)."""
import numpy as np

from .optimizer import (GroupwiseOptimizer, check_eps, check_flags, check_lr, check_value,
                        ema_square_, lerp_, step_state, with_weight_decay, zeros_state)

__all__ = ['RMSprop']


class RMSprop(GroupwiseOptimizer):
    """RMSprop, as ``torch.optim.RMSprop``.

    Per parameter with gradient ``g``::

        g = g + wd * p;  v = alpha * v + (1 - alpha) * g * g
        centered: gbar = lerp(gbar, g, 1 - alpha);  d = sqrt(v - gbar**2) + eps
        otherwise d = sqrt(v) + eps
        momentum: b = momentum * b + g / d;  p = p - lr * b
        otherwise p = p - lr * g / d
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        check_lr(lr)
        check_eps(eps)
        check_value('momentum', momentum)
        check_value('weight_decay', weight_decay)
        check_value('alpha', alpha)
        check_flags(foreach, None, differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr = float(group['lr'])
        alpha = group['alpha']
        eps = group['eps']
        weight_decay = group['weight_decay']
        momentum = group['momentum']
        centered = group['centered']
        maximize = group['maximize']
        state = self.state
        for p in group['params']:
            grad = p._grad
            if grad is None:
                continue
            a = p._data
            s = state[p]
            if not s:
                _init_state(s, a, momentum, centered)
            g = np.negative(grad._data) if maximize else grad._data
            if weight_decay != 0:
                g = with_weight_decay(g, a, weight_decay)
            s['step']._data.__iadd__(1)
            v = s['square_avg']._data
            d = np.empty_like(a)
            ema_square_(v, g, alpha, d)
            if centered:
                gbar = s['grad_avg']._data
                lerp_(gbar, g, 1.0 - alpha, d)
                np.multiply(gbar, gbar, out=d)
                np.subtract(v, d, out=d)
                np.sqrt(d, out=d)
            else:
                np.sqrt(v, out=d)
            d += eps
            np.divide(g, d, out=d)
            if momentum > 0:
                buf = s['momentum_buffer']._data
                buf *= momentum
                buf += d
                np.multiply(buf, -lr, out=d)
            else:
                d *= -lr
            a += d
            p._bump()


def _init_state(s, a, momentum, centered):
    s['step'] = step_state()
    s['square_avg'] = zeros_state(a)
    if momentum > 0:
        s['momentum_buffer'] = zeros_state(a)
    if centered:
        s['grad_avg'] = zeros_state(a)
