"""Adadelta."""
import numpy as np

from .optimizer import (GroupwiseOptimizer, check_eps, check_flags, check_lr, check_value,
                        ema_square_, step_state, with_weight_decay, zeros_state)

__all__ = ['Adadelta']


class Adadelta(GroupwiseOptimizer):
    """Adadelta, as ``torch.optim.Adadelta``.

    Per parameter with gradient ``g``::

        g = g + wd * p;  v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g;  u = rho * u + (1 - rho) * delta**2
        p = p - lr * delta
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f'Invalid rho value: {rho}')
        check_eps(eps)
        check_value('weight_decay', weight_decay)
        check_flags(foreach, None, differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr = float(group['lr'])
        rho = group['rho']
        eps = group['eps']
        weight_decay = group['weight_decay']
        maximize = group['maximize']
        state = self.state
        for p in group['params']:
            grad = p._grad
            if grad is None:
                continue
            a = p._data
            s = state[p]
            if not s:
                s['step'] = step_state()
                s['square_avg'] = zeros_state(a)
                s['acc_delta'] = zeros_state(a)
            g = np.negative(grad._data) if maximize else grad._data
            if weight_decay != 0:
                g = with_weight_decay(g, a, weight_decay)
            s['step']._data.__iadd__(1)
            v = s['square_avg']._data
            u = s['acc_delta']._data
            tmp = np.empty_like(a)
            ema_square_(v, g, rho, tmp)
            np.add(v, eps, out=tmp)
            np.sqrt(tmp, out=tmp)
            delta = np.add(u, eps)
            np.sqrt(delta, out=delta)
            delta /= tmp
            delta *= g
            ema_square_(u, delta, rho, tmp)
            delta *= -lr
            a += delta
            p._bump()
