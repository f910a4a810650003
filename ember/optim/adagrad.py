"""Adagrad (with learning-rate decay and an initial accumulator value)."""
import numpy as np

from .._tensor import _wrap
from .._backend import xp_of
from .optimizer import (GroupwiseOptimizer, check_eps, check_flags, check_lr, check_value,
                        step_state, with_weight_decay)

__all__ = ['Adagrad']


class Adagrad(GroupwiseOptimizer):
    """Adagrad, as ``torch.optim.Adagrad``.

    Per parameter with gradient ``g`` at step ``t``::

        g = g + wd * p;  s = s + g * g
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    The state (``step``, ``sum`` filled with ``initial_accumulator_value``) is created at
    construction, as in PyTorch.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_lr(lr)
        check_value('lr_decay', lr_decay)
        check_value('weight_decay', weight_decay)
        check_value('initial_accumulator_value', initial_accumulator_value)
        check_eps(eps)
        check_flags(foreach, fused, differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group['params']:
                _init_state(self.state[p], p._data, group['initial_accumulator_value'])

    def _update_group(self, group):
        lr = float(group['lr'])
        lr_decay = group['lr_decay']
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
                _init_state(s, a, group['initial_accumulator_value'])
            st = s['step']._data
            st += 1
            g = np.negative(grad._data) if maximize else grad._data
            if weight_decay != 0:
                g = with_weight_decay(g, a, weight_decay)
            clr = lr / (1 + (float(st) - 1) * lr_decay)
            acc = s['sum']._data
            d = np.multiply(g, g)
            acc += d
            np.sqrt(acc, out=d)
            d += eps
            np.divide(g, d, out=d)
            d *= -clr
            a += d
            p._bump()


def _init_state(s, a, initial_accumulator_value):
    s['step'] = step_state()
    s['sum'] = _wrap(xp_of(a).full_like(a, initial_accumulator_value))
