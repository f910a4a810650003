"""NAdam: Adam with Nesterov momentum (and momentum-decay schedule)."""
import numpy as np

from .optimizer import (GroupwiseOptimizer, check_betas, check_eps, check_flags, check_lr,
                        check_value, ema_square_, lerp_, step_state, with_weight_decay, zeros_state)

__all__ = ['NAdam']


class NAdam(GroupwiseOptimizer):
    """NAdam, as ``torch.optim.NAdam``.

    Per parameter with gradient ``g`` at step ``t``, with
    ``mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))`` and ``P_t = mu_1 ... mu_t``
    (kept in float32 as PyTorch's ``mu_product``)::

        g = g + wd * p              (or p = p * (1 - lr * wd) when decoupled_weight_decay)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        d = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - P_t) * g / d - lr * mu_{t+1} / (1 - P_t mu_{t+1}) * m / d
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        check_lr(lr)
        check_eps(eps)
        check_betas(betas)
        check_value('weight_decay', weight_decay)
        check_value('momentum_decay', momentum_decay)
        check_flags(foreach, None, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
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
        momentum_decay = group['momentum_decay']
        decoupled = group['decoupled_weight_decay']
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
                s['mu_product'] = step_state(1.0)
                s['exp_avg'] = zeros_state(a)
                s['exp_avg_sq'] = zeros_state(a)
            g = np.negative(grad._data) if maximize else grad._data
            st = s['step']._data
            st += 1
            t = float(st)
            if weight_decay != 0:
                if decoupled:
                    a *= 1.0 - lr * weight_decay
                    p._bump()
                else:
                    g = with_weight_decay(g, a, weight_decay)
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
            mu_product = s['mu_product']._data
            mu_product *= mu
            prod = float(mu_product)
            m = s['exp_avg']._data
            v = s['exp_avg_sq']._data
            d = np.empty_like(a)
            lerp_(m, g, 1.0 - beta1, d)
            ema_square_(v, g, beta2, d)
            np.divide(v, 1.0 - beta2 ** t, out=d)
            np.sqrt(d, out=d)
            d += eps
            upd = np.divide(g, d)
            upd *= -lr * (1.0 - mu) / (1.0 - prod)
            a += upd
            np.divide(m, d, out=upd)
            upd *= -lr * mu_next / (1.0 - prod * mu_next)
            a += upd
            p._bump()
            p._bump()
