"""Adam (with amsgrad, L2 or decoupled weight decay, maximize)."""
import numpy as np

from .optimizer import (GroupwiseOptimizer, check_betas, check_eps, check_flags, check_lr,
                        check_value, ema_square_, lerp_, step_state, with_weight_decay, zeros_state)

__all__ = ['Adam']


class Adam(GroupwiseOptimizer):
    """Adam, as ``torch.optim.Adam``.

    Per parameter with gradient ``g`` at step ``t``::

        g = g + wd * p              (or p = p * (1 - lr * wd) when decoupled_weight_decay)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        v_hat = max(v_hat, v) when amsgrad
        p = p - lr / (1 - beta1**t) * m / (sqrt(v or v_hat) / sqrt(1 - beta2**t) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        check_lr(lr)
        check_eps(eps)
        check_betas(betas)
        check_value('weight_decay', weight_decay)
        check_flags(foreach, fused, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault('amsgrad', False)
            group.setdefault('decoupled_weight_decay', False)

    def _update_group(self, group):
        lr = float(group['lr'])
        beta1, beta2 = (float(b) for b in group['betas'])
        eps = group['eps']
        weight_decay = group['weight_decay']
        amsgrad = group['amsgrad']
        maximize = group['maximize']
        decoupled = group['decoupled_weight_decay']
        state = self.state
        for p in group['params']:
            grad = p._grad
            if grad is None:
                continue
            s = state[p]
            if not s:
                _init_state(s, p._data, amsgrad)
            a = p._data
            g = np.negative(grad._data) if maximize else grad._data
            if weight_decay != 0:
                if decoupled:
                    a *= 1.0 - lr * weight_decay
                    p._bump()
                else:
                    g = with_weight_decay(g, a, weight_decay)
            st = s['step']._data
            st += 1
            t = float(st)
            m = s['exp_avg']._data
            v = s['exp_avg_sq']._data
            tmp = np.empty_like(a)
            lerp_(m, g, 1.0 - beta1, tmp)
            ema_square_(v, g, beta2, tmp)
            if amsgrad:
                v_max = s['max_exp_avg_sq']._data
                np.maximum(v_max, v, out=v_max)
                v = v_max
            np.sqrt(v, out=tmp)
            tmp /= (1.0 - beta2 ** t) ** 0.5
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= -lr / (1.0 - beta1 ** t)
            a += tmp
            p._bump()


def _init_state(s, a, amsgrad):
    s['step'] = step_state()
    s['exp_avg'] = zeros_state(a)
    s['exp_avg_sq'] = zeros_state(a)
    if amsgrad:
        s['max_exp_avg_sq'] = zeros_state(a)
