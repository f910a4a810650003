"""Optimizer: the base class every optimizer shares, with PyTorch's semantics.

An optimizer holds ``param_groups`` (a list of dicts: ``'params'`` plus that group's options,
missing options filled from ``defaults``) and ``state`` (a ``defaultdict(dict)`` keyed by
parameter). ``state_dict()`` packs parameters as integer indices (numbered in group order,
as PyTorch), so a torch optimizer's state, converted through NumPy, loads here and the next
steps agree. Subclasses update parameters in place on the raw arrays (``p._data``) without
building a graph, bumping each parameter's version counter once per in-place update.
"""
import copy
import functools
import warnings
from collections import OrderedDict, defaultdict
from itertools import chain

import numpy as np

from .. import _dtype
from .._backend import xp_of
from .._tensor import Tensor, _wrap
from ..autograd.grad_mode import enable_grad
from ..utils.hooks import RemovableHandle

__all__ = ['Optimizer', 'register_optimizer_step_pre_hook', 'register_optimizer_step_post_hook']


class _RequiredParameter:
    """Marks an option a parameter group must give itself (no usable default)."""

    def __repr__(self):
        return '<required parameter>'


required = _RequiredParameter()

_global_step_pre_hooks = OrderedDict()
_global_step_post_hooks = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """``hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs)`` runs before every
    optimizer's ``step``."""
    handle = RemovableHandle(_global_step_pre_hooks)
    _global_step_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook):
    """``hook(optimizer, args, kwargs)`` runs after every optimizer's ``step``."""
    handle = RemovableHandle(_global_step_post_hooks)
    _global_step_post_hooks[handle.id] = hook
    return handle


def _typename(obj):
    if isinstance(obj, Tensor):
        return obj.type()
    cls = type(obj)
    if cls.__module__ == 'builtins':
        return cls.__qualname__
    return f'{cls.__module__}.{cls.__qualname__}'


def _with_step_hooks(step):
    """Wrap an optimizer class's ``step`` so the step pre/post hooks (global ones first, then
    the optimizer's own) run around it, receiving ``args`` that start with the optimizer."""
    @functools.wraps(step)
    def hooked_step(*args, **kwargs):
        self = args[0]
        if self._in_hooked_step or not (self._optimizer_step_pre_hooks or _global_step_pre_hooks
                                        or self._optimizer_step_post_hooks
                                        or _global_step_post_hooks):
            return step(*args, **kwargs)
        for hook in chain(list(_global_step_pre_hooks.values()),
                          list(self._optimizer_step_pre_hooks.values())):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f'{step} must return None or a tuple of (new_args, '
                                       f'new_kwargs), but got {result}.')
                args, kwargs = result
        self._in_hooked_step = True
        try:
            out = step(*args, **kwargs)
        finally:
            self._in_hooked_step = False
        for hook in chain(list(self._optimizer_step_post_hooks.values()),
                          list(_global_step_post_hooks.values())):
            hook(self, args, kwargs)
        return out
    hooked_step.hooked = True
    return hooked_step


def check_flags(foreach, fused, differentiable):
    """PyTorch's checks of the implementation flags; ``differentiable=True`` is refused since
    ember has no double backward (an optimizer step cannot itself be differentiated)."""
    if fused and foreach:
        raise RuntimeError('`fused` and `foreach` cannot be `True` together.')
    if fused and differentiable:
        raise RuntimeError('`fused` does not support `differentiable`')
    if differentiable:
        raise RuntimeError('differentiable=True is not supported by ember.optim: ember has no '
                           'double backward, so an optimizer step cannot be differentiated')


def check_value(name, value, low=0.0):
    """ValueError ``Invalid <name> value: v`` unless ``value >= low``."""
    if not low <= value:
        raise ValueError(f'Invalid {name} value: {value}')


def check_lr(lr):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError('Tensor lr must be 1-element')
    if not 0.0 <= lr:
        raise ValueError(f'Invalid learning rate: {lr}')


def check_eps(eps):
    if not 0.0 <= eps:
        raise ValueError(f'Invalid epsilon value: {eps}')


def check_betas(betas):
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f'Invalid beta parameter at index {i}: {beta}')


def closure_loss(closure):
    """The closure's result, computed with grad mode on (None without a closure)."""
    if closure is None:
        return None
    with enable_grad():
        return closure()


def zeros_state(a):
    """A zero Tensor shaped, typed and laid out like array ``a`` (on its device)."""
    return _wrap(xp_of(a).zeros_like(a))


def step_state(value=0.0):
    """PyTorch's 0-d ``'step'`` counter: a CPU tensor of the default float dtype."""
    return _wrap(np.array(value, dtype=_dtype.default_float_np()))


def lerp_(a, b, weight, tmp):
    """``a.lerp_(b, weight)`` in place with PyTorch's rounding (``tmp`` is scratch like a)."""
    np.subtract(b, a, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        a += tmp
    else:
        tmp *= 1.0 - weight
        np.subtract(b, tmp, out=a)


def ema_square_(v, g, beta, tmp):
    """``v.mul_(beta).addcmul_(g, g, value=1 - beta)`` in place (``tmp`` is scratch)."""
    v *= beta
    np.multiply(g, 1.0 - beta, out=tmp)
    tmp *= g
    v += tmp


def with_weight_decay(g, a, weight_decay):
    """``g + weight_decay * a`` as a new array (PyTorch's ``grad.add(param, alpha=wd)``)."""
    out = np.multiply(a, weight_decay)
    out += g
    return out


class Optimizer:
    """Base class of all optimizers: ``Optimizer(params, defaults)``.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts (parameter
    groups, each with ``'params'`` and its own options); ``defaults`` fills the options a group
    does not give.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get('step')
        if step is not None and not getattr(step, 'hooked', False):
            cls.step = _with_step_hooks(step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._init_hooks()
        if isinstance(params, Tensor):
            raise TypeError('params argument given to the optimizer should be an iterable of '
                            f'Tensors or dicts, but got {_typename(params)}')
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError('optimizer got an empty parameter list')
        if not isinstance(param_groups[0], dict):
            param_groups = [{'params': param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def _init_hooks(self):
        self._in_hooked_step = False
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()

    def __getstate__(self):
        return {'defaults': self.defaults, 'state': self.state,
                'param_groups': self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        if '_optimizer_step_pre_hooks' not in self.__dict__:
            self._init_hooks()
        flags = {k: v for k, v in self.defaults.items()
                 if k in ('maximize', 'foreach', 'fused', 'capturable', 'differentiable')}
        for group in self.param_groups:
            for key, value in flags.items():
                group.setdefault(key, value)

    def __repr__(self):
        lines = [type(self).__name__ + ' (']
        for i, group in enumerate(self.param_groups):
            if i:
                lines.append('')
            lines.append(f'Parameter Group {i}')
            lines.extend(f'    {key}: {group[key]}' for key in sorted(group) if key != 'params')
        return '\n'.join(lines) + '\n)'

    # ---- parameter groups -------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group (a dict with ``'params'`` and optional options) to ``param_groups``."""
        if not isinstance(param_group, dict):
            raise TypeError(f'param_group must be a dict, but got {type(param_group)}')
        params = param_group['params']
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError('optimizer parameters need to be organized in ordered collections, '
                            'but the ordering of tensors in sets will change between runs. '
                            'Please use a list instead.')
        else:
            params = list(params)
        _split_names(param_group, params)
        for param in param_group['params']:
            if not isinstance(param, Tensor):
                raise TypeError('optimizer can only optimize Tensors, but one of the params is '
                                + _typename(param))
            if not self.defaults.get('differentiable', None) and not (
                    param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f'optimization parameter {name}')
            param_group.setdefault(name, default)
        params = param_group['params']
        if len(params) != len(set(params)):
            warnings.warn('optimizer contains a parameter group with duplicate parameters; in '
                          'future, this will cause an error; see '
                          'github.com/pytorch/pytorch/issues/40967 for more information',
                          stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(group['params'])
            if ('param_names' in param_group) != ('param_names' in group):
                current = 'with' if 'param_names' in param_group else 'without'
                raise ValueError('all optimizer param groups should be with/without names. '
                                 f'cannot add param group {current} names to the optimizer')
        if not seen.isdisjoint(params):
            raise ValueError('some parameters appear in more than one parameter group')
        self.param_groups.append(param_group)

    # ---- stepping ---------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Reset every parameter's ``.grad``: to None (default) or to zeros in place."""
        for group in self.param_groups:
            for p in group['params']:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                    continue
                if g._fn is not None:
                    g.detach_()
                else:
                    g._rg = False
                g._data.fill(0)
                g._bump()

    def step(self, closure=None):
        """Update the parameters once (subclasses implement it); returns the closure's loss."""
        raise NotImplementedError

    # ---- hooks ------------------------------------------------------------------------
    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs)`` before step."""
        handle = RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` after each step."""
        handle = RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[handle.id] = hook
        return handle

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer)`` before ``state_dict`` packs the state."""
        return _register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict) -> state_dict or None`` after ``state_dict``."""
        return _register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict) -> state_dict or None`` before loading."""
        return _register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer)`` after ``load_state_dict``."""
        return _register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ---- state dict -------------------------------------------------------------------
    def state_dict(self):
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``.

        Parameters are numbered in group order; the state tensors are the optimizer's own
        (not copies), as in PyTorch.
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        index = {}
        for group in self.param_groups:
            for p in group['params']:
                if id(p) not in index:
                    index[id(p)] = len(index)
        param_groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != 'params'}
            packed['params'] = [index[id(p)] for p in group['params']]
            param_groups.append(packed)
        packed_state = {(index[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        state_dict = {'state': packed_state, 'param_groups': param_groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict):
        """Load a ``state_dict`` (from ember or PyTorch, tensors possibly NumPy arrays).

        State tensors are cast to their parameter's dtype and device (``'step'`` keeps its
        own); the saved group options replace the current ones.
        """
        state_dict = state_dict.copy()
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict['param_groups'])
        if len(groups) != len(saved_groups):
            raise ValueError('loaded state dict has a different number of parameter groups')
        if any(len(g['params']) != len(s['params']) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g['params'] for g in saved_groups),
                          chain.from_iterable(g['params'] for g in groups)))
        state = defaultdict(dict)
        for k, v in state_dict['state'].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast_state(param, v, None)
            else:
                state[k] = v
        param_groups = []
        for group, saved in zip(groups, saved_groups):
            saved['params'] = group['params']
            if 'param_names' in group and 'param_names' not in saved:
                saved['param_names'] = group['param_names']
            param_groups.append(saved)
        self.__setstate__({'state': state, 'param_groups': param_groups})
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)


class GroupwiseOptimizer(Optimizer):
    """An optimizer whose ``step`` updates each param group independently:
    subclasses implement ``_update_group(group)`` on raw arrays."""

    def step(self, closure=None):
        """One update of every parameter with a gradient; returns ``closure()``'s loss."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            self._update_group(group)
        return loss


def _register(hooks, hook, prepend):
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def _split_names(param_group, params):
    """Store ``params`` in the group, moving names of ``(name, tensor)`` pairs to
    ``'param_names'``."""
    names = [p[0] for p in params if isinstance(p, tuple)]
    if names:
        if len(names) != len(params):
            raise ValueError('all optimizer params should be with/without names. Some param '
                             'names are missing')
        params = [p[1] for p in params]
    param_group['params'] = params
    if names:
        param_group['param_names'] = names


def _cast_state(param, value, key):
    """A loaded state value made to fit ``param``: tensors (or NumPy arrays) cast to its dtype
    and device, except ``'step'`` which keeps its dtype; containers converted recursively."""
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        value = _wrap(np.array(value))
    if isinstance(value, Tensor):
        if key == 'step':
            return value
        if param.is_floating_point():
            return value.to(dtype=param.dtype, device=param.device)
        return value.to(device=param.device)
    if key == 'step' and isinstance(value, (int, float)) and not isinstance(value, bool):
        return step_state(float(value))
    if isinstance(value, dict):
        return {k: _cast_state(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(param, v, None) for v in value)
    return value
