"""Adamax: Adam with an infinity-norm second moment."""
import numpy as np

from .optimizer import (GroupwiseOptimizer, check_betas, check_eps, check_flags, check_lr,
                        check_value, lerp_, step_state, with_weight_decay, zeros_state)

__all__ = ['Adamax']


class Adamax(GroupwiseOptimizer):
    """Adamax, as ``torch.optim.Adamax``.

    Per parameter with gradient ``g`` at step ``t``::

        g = g + wd * p;  m = lerp(m, g, 1 - beta1);  u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1**t) * m / u
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        check_eps(eps)
        check_betas(betas)
        check_value('weight_decay', weight_decay)
        check_flags(foreach, None, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr = float(group['lr'])
        beta1, beta2 = (float(b) for b in group['betas'])
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
                s['exp_avg'] = zeros_state(a)
                s['exp_inf'] = zeros_state(a)
            g = np.negative(grad._data) if maximize else grad._data
            st = s['step']._data
            st += 1
            if weight_decay != 0:
                g = with_weight_decay(g, a, weight_decay)
            m = s['exp_avg']._data
            u = s['exp_inf']._data
            tmp = np.empty_like(a)
            lerp_(m, g, 1.0 - beta1, tmp)
            u *= beta2
            np.abs(g, out=tmp)
            tmp += eps
            np.maximum(u, tmp, out=u)
            np.divide(m, u, out=tmp)
            tmp *= -lr / (1.0 - beta1 ** float(st))
            a += tmp
            p._bump()
