"""RAdam: Adam with a rectified adaptive learning rate."""
import math

import numpy as np

from .optimizer import (GroupwiseOptimizer, check_betas, check_eps, check_flags, check_lr,
                        check_value, ema_square_, lerp_, step_state, with_weight_decay, zeros_state)

__all__ = ['RAdam']


class RAdam(GroupwiseOptimizer):
    """RAdam, as ``torch.optim.RAdam``.

    Per parameter with gradient ``g`` at step ``t``, ``rho_inf = 2 / (1 - beta2) - 1`` and
    ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)``::

        g = g + wd * p              (or p = p * (1 - lr * wd) when decoupled_weight_decay)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g;  mh = m / (1 - beta1**t)
        rho_t > 5: p = p - lr * mh * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r_t
              with r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        otherwise: p = p - lr * mh
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        check_lr(lr)
        check_eps(eps)
        check_betas(betas)
        check_value('weight_decay', weight_decay)
        check_flags(foreach, None, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault('decoupled_weight_decay', False)

    def _update_group(self, group):
        lr = float(group['lr'])
        beta1, beta2 = (float(b) for b in group['betas'])
        eps = group['eps']
        weight_decay = group['weight_decay']
        decoupled = group['decoupled_weight_decay']
        maximize = group['maximize']
        state = self.state
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        for p in group['params']:
            grad = p._grad
            if grad is None:
                continue
            a = p._data
            s = state[p]
            if not s:
                s['step'] = step_state()
                s['exp_avg'] = zeros_state(a)
                s['exp_avg_sq'] = zeros_state(a)
            st = s['step']._data
            st += 1
            t = float(st)
            g = np.negative(grad._data) if maximize else grad._data
            if weight_decay != 0:
                if decoupled:
                    a *= 1.0 - lr * weight_decay
                    p._bump()
                else:
                    g = with_weight_decay(g, a, weight_decay)
            m = s['exp_avg']._data
            v = s['exp_avg_sq']._data
            tmp = np.empty_like(a)
            lerp_(m, g, 1.0 - beta1, tmp)
            ema_square_(v, g, beta2, tmp)
            bias_correction2 = 1.0 - beta2 ** t
            upd = np.divide(m, 1.0 - beta1 ** t)
            upd *= lr
            rho_t = rho_inf - 2.0 * t * beta2 ** t / bias_correction2
            if rho_t > 5.0:
                np.sqrt(v, out=tmp)
                tmp += eps
                np.divide(bias_correction2 ** 0.5, tmp, out=tmp)
                upd *= tmp
                upd *= math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                 / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            a -= upd
            p._bump()
