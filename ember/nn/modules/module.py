"""nn.Module: the tree of parameters, buffers and submodules, with PyTorch's semantics.

Attribute assignment registers: a Parameter goes to ``_parameters``, a Module to ``_modules``,
an ``nn.Buffer`` (or ``register_buffer``) to ``_buffers``. ``state_dict`` keys, ``repr`` text,
hook order and error messages follow PyTorch, so checkpoints and printed models match.
Modules hold no math: ``forward`` calls ``ember.nn.functional``.
"""
import functools
import itertools
import warnings
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

from ... import _dtype
from ..._backend import canonical_device
from ..._tensor import Tensor, _parse_to
from ...autograd.grad_mode import no_grad
from ...utils.hooks import RemovableHandle
from ..parameter import Parameter, Buffer
from ._backward_hooks import BackwardHook

__all__ = ['Module', 'register_module_forward_pre_hook', 'register_module_forward_hook']

_global_forward_pre_hooks = OrderedDict()
_global_forward_hooks = OrderedDict()
_global_forward_hooks_always_called = OrderedDict()


def register_module_forward_pre_hook(hook):
    """A forward pre-hook for every module (``hook(module, args)``)."""
    h = RemovableHandle(_global_forward_pre_hooks)
    _global_forward_pre_hooks[h.id] = hook
    return h


def register_module_forward_hook(hook, *, always_call=False):
    """A forward hook for every module (``hook(module, args, output)``)."""
    h = RemovableHandle(_global_forward_hooks, extra_dict=_global_forward_hooks_always_called)
    _global_forward_hooks[h.id] = hook
    if always_call:
        _global_forward_hooks_always_called[h.id] = True
    return h


class _IncompatibleKeys(namedtuple('IncompatibleKeys', ['missing_keys', 'unexpected_keys'])):
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return '<All keys matched successfully>'
        return super().__repr__()

    __str__ = __repr__


def _addindent(s, n):
    """Indent every line of ``s`` but the first by ``n`` spaces."""
    lines = s.split('\n')
    if len(lines) == 1:
        return s
    pad = ' ' * n
    return lines[0] + '\n' + '\n'.join(pad + line for line in lines[1:])


def _check_name(kind, name, owner, store):
    """PyTorch's checks for a parameter/buffer/module name being registered on ``owner``."""
    if not isinstance(name, str):
        raise TypeError(f'{kind} name should be a string. Got {type(name).__name__}')
    if '.' in name:
        if kind == 'module':
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        raise KeyError(f'{kind} name can\'t contain "."')
    if name == '':
        raise KeyError(f'{kind} name can\'t be empty string ""')
    if hasattr(owner, name) and name not in store:
        raise KeyError(f"attribute '{name}' already exists")


class Module:
    """Base class of every layer and model: subclass it, assign layers as attributes in
    ``__init__`` and write ``forward``; call the module to run it (with hooks)."""
    dump_patches = False
    _version = 1
    call_super_init = False
    training: bool

    def __init__(self, *args, **kwargs):
        if self.call_super_init is False and bool(kwargs):
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                            f"'{next(iter(kwargs))}'")
        if self.call_super_init is False and bool(args):
            raise TypeError(f'{type(self).__name__}.__init__() takes 1 positional argument but '
                            f'{len(args) + 1} were given')
        d = self.__dict__
        d['training'] = True
        d['_parameters'] = OrderedDict()
        d['_buffers'] = OrderedDict()
        d['_non_persistent_buffers_set'] = set()
        d['_backward_pre_hooks'] = OrderedDict()
        d['_backward_hooks'] = OrderedDict()
        d['_is_full_backward_hook'] = None
        d['_forward_hooks'] = OrderedDict()
        d['_forward_hooks_with_kwargs'] = OrderedDict()
        d['_forward_hooks_always_called'] = OrderedDict()
        d['_forward_pre_hooks'] = OrderedDict()
        d['_forward_pre_hooks_with_kwargs'] = OrderedDict()
        d['_state_dict_hooks'] = OrderedDict()
        d['_state_dict_pre_hooks'] = OrderedDict()
        d['_load_state_dict_pre_hooks'] = OrderedDict()
        d['_load_state_dict_post_hooks'] = OrderedDict()
        d['_modules'] = OrderedDict()
        if self.call_super_init:
            super().__init__(*args, **kwargs)

    def forward(self, *input):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    # ---- registration -----------------------------------------------------------------
    def register_buffer(self, name, tensor, persistent=True):
        """A tensor saved in ``state_dict`` (unless not persistent) but not trained."""
        if '_buffers' not in self.__dict__:
            raise AttributeError('cannot assign buffer before Module.__init__() call')
        _check_name('buffer', name, self, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            '(torch Tensor or None required)')
        if isinstance(tensor, Buffer):
            persistent = tensor.persistent
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter or None) under ``name``."""
        if '_parameters' not in self.__dict__:
            raise AttributeError('cannot assign parameter before Module.__init__() call')
        _check_name('parameter', name, self, self._parameters)
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{param.type() if isinstance(param, Tensor) else type(param).__name__}' "
                            f"object to parameter '{name}' (torch.nn.Parameter or None required)")
        if param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters "
                             f"must be created explicitly. To express '{name}' as a function of "
                             'another Tensor, compute the value in the forward() method.')
        self._parameters[name] = param

    def add_module(self, name, module):
        """Register a child module (or None) under ``name``."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f'{type(module).__name__} is not a Module subclass')
        _check_name('module', name, self, self._modules)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get('_parameters')
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError('cannot assign parameters before Module.__init__() call')
            self._remove_everywhere(name)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                '(torch.nn.Parameter or None expected)')
            self.register_parameter(name, value)
            return
        modules = d.get('_modules')
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError('cannot assign module before Module.__init__() call')
            self._remove_everywhere(name)
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                '(torch.nn.Module or None expected)')
            modules[name] = value
            return
        buffers = d.get('_buffers')
        if isinstance(value, Buffer) or (buffers is not None and name in buffers):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                '(torch.Tensor or None expected)')
            if isinstance(value, Buffer):
                if buffers is None:
                    raise AttributeError('cannot assign buffer before Module.__init__() call')
                self._remove_everywhere(name)
                self.register_buffer(name, value, value.persistent)
            else:
                buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def _remove_everywhere(self, name):
        d = self.__dict__
        d.pop(name, None)
        for store in ('_parameters', '_buffers', '_modules'):
            s = d.get(store)
            if s is not None:
                s.pop(name, None)
        np_set = d.get('_non_persistent_buffers_set')
        if np_set is not None:
            np_set.discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ('_parameters', '_buffers', '_modules'):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        if name in d.get('_parameters', ()):
            del self._parameters[name]
        elif name in d.get('_buffers', ()):
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in d.get('_modules', ()):
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        keys = list(super().__dir__())
        keys += list(self._parameters) + list(self._modules) + list(self._buffers)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    def __setstate__(self, state):
        self.__dict__.update(state)
        for k in ('_forward_pre_hooks_with_kwargs', '_forward_hooks_with_kwargs',
                  '_forward_hooks_always_called', '_state_dict_pre_hooks',
                  '_load_state_dict_post_hooks', '_backward_pre_hooks'):
            if k not in self.__dict__:
                self.__dict__[k] = OrderedDict()

    # ---- lookup -----------------------------------------------------------------------
    def get_submodule(self, target):
        """The submodule at dotted path ``target`` ('' is the module itself)."""
        if target == '':
            return self
        mod = self
        for item in target.split('.'):
            if not hasattr(mod, item):
                raise AttributeError(f'{mod._get_name()} has no attribute `{item}`')
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError(f'`{item}` is not an nn.Module')
        return mod

    def set_submodule(self, target, module, strict=False):
        if target == '':
            raise ValueError('Cannot set the submodule without a target name!')
        *path, name = target.split('.')
        parent = self.get_submodule('.'.join(path))
        if strict and not hasattr(parent, name):
            raise AttributeError(f'{parent._get_name()} has no attribute `{name}`')
        setattr(parent, name, module)

    def get_parameter(self, target):
        module_path, _, name = target.rpartition('.')
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f'{mod._get_name()} has no attribute `{name}`')
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f'`{name}` is not an nn.Parameter')
        return param

    def get_buffer(self, target):
        module_path, _, name = target.rpartition('.')
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f'{mod._get_name()} has no attribute `{name}`')
        if name not in mod._buffers:
            raise AttributeError(f'`{name}` is not a buffer')
        return mod._buffers[name]

    def get_extra_state(self):
        raise RuntimeError('Reached a code path in Module.get_extra_state() that should never be '
                           'called.')

    def set_extra_state(self, state):
        raise RuntimeError('Reached a code path in Module.set_extra_state() that should never be '
                           'called.')

    # ---- traversal --------------------------------------------------------------------
    def _named_members(self, get_members, prefix='', recurse=True, remove_duplicate=True):
        memo = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None or (remove_duplicate and id(v) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield (module_prefix + ('.' if module_prefix else '') + k, v)

    def named_parameters(self, prefix='', recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs; shared parameters are listed once."""
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                   remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix='', recurse=True, remove_duplicate=True):
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                   remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self):
        memo = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo=None, prefix='', remove_duplicate=True):
        """(dotted name, module) for this module and all below it, in pre-order."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ('.' if prefix else '') + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    # ---- state changes ----------------------------------------------------------------
    def apply(self, fn):
        """Call ``fn`` on every submodule (children first) and on self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def _apply(self, fn, recurse=True):
        """Replace every parameter's and buffer's data by ``fn(tensor)``, keeping the Parameter
        objects (so optimizers holding them stay valid)."""
        if recurse:
            for module in self.children():
                module._apply(fn)
        for key, param in self._parameters.items():
            if param is None:
                continue
            with no_grad():
                new = fn(param)
            param.data = new
            if param._grad is not None:
                with no_grad():
                    param._grad.data = fn(param._grad)
        for key, buf in self._buffers.items():
            if buf is not None:
                self._buffers[key] = fn(buf)
        return self

    def to(self, *args, **kwargs):
        """Move and/or cast parameters and buffers: ``to(device)``, ``to(dtype)``,
        ``to(device, dtype)``, ``to(tensor)``. Only floating-point tensors change dtype."""
        dtype, device, _ = _parse_to(args, kwargs)
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError('nn.Module.to only accepts floating point or complex dtypes, but got '
                            f'desired dtype={dtype}')

        def convert(t):
            if dtype is not None and t.is_floating_point():
                return t.to(device=device, dtype=dtype) if device is not None else t.to(dtype)
            return t.to(device) if device is not None else t
        return self._apply(convert)

    def cuda(self, device=None):
        dev = 'cuda' if device is None else (f'cuda:{device}' if isinstance(device, int) else device)
        return self._apply(lambda t: t.to(dev))

    def cpu(self):
        return self._apply(lambda t: t.cpu())

    def type(self, dst_type):
        return self._apply(lambda t: t.type(dst_type))

    def float(self):
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def double(self):
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    def half(self):
        return self._apply(lambda t: t.half() if t.is_floating_point() else t)

    def to_empty(self, *, device=None, recurse=True):
        from ..._creation import empty_like
        return self._apply(lambda t: empty_like(t, device=device), recurse)

    def share_memory(self):
        return self

    def train(self, mode=True):
        """Set training mode (dropout active, batch statistics) on self and all children."""
        if not isinstance(mode, bool):
            raise ValueError('training mode is expected to be boolean')
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters (to None by default)."""
        for p in self.parameters():
            if p._grad is not None:
                if set_to_none:
                    p._grad = None
                else:
                    p._grad._fn = None
                    p._grad._rg = False
                    p._grad._data[...] = 0

    # ---- hooks ------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args)`` (or ``hook(module, args, kwargs)``) runs before forward and
        may return replacement args (and kwargs)."""
        h = RemovableHandle(self._forward_pre_hooks,
                            extra_dict=self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[h.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[h.id] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(h.id, last=False)
        return h

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``) runs after
        forward and may return a replacement output."""
        h = RemovableHandle(self._forward_hooks, extra_dict=[self._forward_hooks_with_kwargs,
                                                             self._forward_hooks_always_called])
        self._forward_hooks[h.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs[h.id] = True
        if always_call:
            self._forward_hooks_always_called[h.id] = True
        if prepend:
            self._forward_hooks.move_to_end(h.id, last=False)
        return h

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """``hook(module, grad_output)`` runs when the gradients of the module's outputs are
        known, and may return replacement grad_output."""
        h = RemovableHandle(self._backward_pre_hooks)
        self._backward_pre_hooks[h.id] = hook
        if prepend:
            self._backward_pre_hooks.move_to_end(h.id, last=False)
        return h

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output)`` runs when the gradients with respect to
        the module's inputs are computed, and may return replacement grad_input."""
        if self._is_full_backward_hook is False:
            raise RuntimeError('Cannot use both regular backward hooks and full backward hooks on '
                               'a single Module. Please use only one of them.')
        self._is_full_backward_hook = True
        h = RemovableHandle(self._backward_hooks)
        self._backward_hooks[h.id] = hook
        if prepend:
            self._backward_hooks.move_to_end(h.id, last=False)
        return h

    def register_backward_hook(self, hook):
        raise RuntimeError('register_backward_hook (the deprecated non-full hook) is not supported '
                           'by ember; use register_full_backward_hook')

    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` runs before ``state_dict`` collects entries."""
        h = RemovableHandle(self._state_dict_pre_hooks)
        self._state_dict_pre_hooks[h.id] = hook
        return h

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` runs after ``state_dict``."""
        h = RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[h.id] = hook
        return h

    _register_state_dict_hook = register_state_dict_post_hook

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` runs before this module loads its entries."""
        h = RemovableHandle(self._load_state_dict_pre_hooks)
        self._load_state_dict_pre_hooks[h.id] = functools.partial(_with_module, hook, self)
        return h

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        h = RemovableHandle(self._load_state_dict_pre_hooks)
        self._load_state_dict_pre_hooks[h.id] = (functools.partial(_with_module, hook, self)
                                                 if with_module else hook)
        return h

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` runs after ``load_state_dict``; it may edit the
        key lists in place."""
        h = RemovableHandle(self._load_state_dict_post_hooks)
        self._load_state_dict_post_hooks[h.id] = hook
        return h

    # ---- calling ----------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if not (self._forward_hooks or self._forward_pre_hooks or self._backward_hooks
                or self._backward_pre_hooks or _global_forward_hooks
                or _global_forward_pre_hooks):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    _call_impl = __call__

    def _call_with_hooks(self, args, kwargs):
        called_always = False
        try:
            for hook_id, hook in itertools.chain(_global_forward_pre_hooks.items(),
                                                 self._forward_pre_hooks.items()):
                if hook_id in self._forward_pre_hooks_with_kwargs:
                    r = hook(self, args, kwargs)
                    if r is not None:
                        if isinstance(r, tuple) and len(r) == 2:
                            args, kwargs = r
                        else:
                            raise RuntimeError('forward pre-hook must return None or a tuple of '
                                               f'(new_args, new_kwargs), but got {r}.')
                else:
                    r = hook(self, args)
                    if r is not None:
                        args = r if isinstance(r, tuple) else (r,)
            bw = None
            if self._backward_hooks or self._backward_pre_hooks:
                bw = BackwardHook(self, list(self._backward_hooks.values()),
                                  list(self._backward_pre_hooks.values()))
                args = bw.setup_input_hook(args)
            result = self.forward(*args, **kwargs)
            for hook_id, hook in itertools.chain(_global_forward_hooks.items(),
                                                 self._forward_hooks.items()):
                if hook_id in self._forward_hooks_with_kwargs:
                    r = hook(self, args, kwargs, result)
                else:
                    r = hook(self, args, result)
                if r is not None:
                    result = r
            called_always = True
            if bw is not None:
                result = bw.setup_output_hook(result)
            return result
        except Exception:
            if not called_always:
                for hook_id, hook in itertools.chain(_global_forward_hooks.items(),
                                                     self._forward_hooks.items()):
                    if hook_id in self._forward_hooks_always_called or \
                            hook_id in _global_forward_hooks_always_called:
                        try:
                            if hook_id in self._forward_hooks_with_kwargs:
                                hook(self, args, kwargs, None)
                            else:
                                hook(self, args, None)
                        except Exception as e:
                            warnings.warn('global module forward hook with ``always_call=True`` '
                                          f'raised an exception that was silenced as another '
                                          f'error was raised in forward: {e}')
            raise

    # ---- state_dict -------------------------------------------------------------------
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        from ..parameter import is_lazy
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars or is_lazy(param) else \
                    param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars or is_lazy(buf) else buf.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + '_extra_state'] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix='', keep_vars=False):
        """An OrderedDict of every parameter and persistent buffer by dotted name (detached
        tensors sharing memory with the module's), with ``_metadata`` versions."""
        if args:
            destination = args[0] if len(args) > 0 else destination
            prefix = args[1] if len(args) > 1 else prefix
            keep_vars = args[2] if len(args) > 2 else keep_vars
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        local_metadata = dict(version=self._version)
        if hasattr(destination, '_metadata'):
            destination._metadata[prefix[:-1]] = local_metadata
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + '.',
                                  keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            r = hook(self, destination, prefix, local_metadata)
            if r is not None:
                destination = r
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        """Copy this module's own entries of ``state_dict`` into its parameters and buffers;
        subclasses override it to convert old formats (e.g. BatchNorm's counter)."""
        for hook in self._load_state_dict_pre_hooks.values():
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                 error_msgs)
        local = [(k, v) for k, v in itertools.chain(self._parameters.items(), self._buffers.items())
                 if v is not None and k not in self._non_persistent_buffers_set]
        assign = local_metadata.get('assign_to_params_buffers', False)
        for name, param in local:
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = _as_tensor(state_dict[key])
            if not isinstance(value, Tensor):
                error_msgs.append(f'While copying the parameter named "{key}", expected torch.Tensor '
                                  'or Tensor-like object from checkpoint but received '
                                  f'{type(state_dict[key])}')
                continue
            from ..parameter import is_lazy
            if not is_lazy(param) and tuple(value.shape) != tuple(param.shape):
                error_msgs.append(f'size mismatch for {key}: copying a param with shape '
                                  f'{value.shape} from checkpoint, the shape in current model is '
                                  f'{param.shape}.')
                continue
            try:
                with no_grad():
                    if is_lazy(param):
                        param.materialize(tuple(value.shape))
                    if assign:
                        if isinstance(param, Parameter):
                            value = Parameter(value, requires_grad=param.requires_grad) \
                                if not isinstance(value, Parameter) else value
                        setattr(self, name, value)
                    else:
                        param.copy_(value)
            except Exception as ex:
                error_msgs.append(f'While copying the parameter named "{key}", whose dimensions in '
                                  f'the model are {param.shape} and whose dimensions in the '
                                  f'checkpoint are {value.shape}, an exception occurred : '
                                  f'{ex.args}.')
        extra_key = prefix + '_extra_state'
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if strict:
            own = {k for k, _ in itertools.chain(self._parameters.items(), self._buffers.items())}
            for key in state_dict.keys():
                if key.startswith(prefix) and key != extra_key:
                    first = key[len(prefix):].split('.', 1)[0]
                    if first not in self._modules and first not in own:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy parameters and buffers from ``state_dict`` (ember tensors, or PyTorch/NumPy
        arrays) into this module. Returns (missing_keys, unexpected_keys); with ``strict`` a
        mismatch raises PyTorch's "Error(s) in loading state_dict for X" RuntimeError."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f'Expected state_dict to be dict-like, got {type(state_dict)}.')
        missing, unexpected, errors = [], [], []
        metadata = getattr(state_dict, '_metadata', None)
        state_dict = OrderedDict(state_dict)
        if metadata is not None:
            state_dict._metadata = metadata

        def load(module, local_state, prefix=''):
            local_metadata = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
            if assign:
                local_metadata['assign_to_params_buffers'] = assign
            module._load_from_state_dict(local_state, prefix, local_metadata, True, missing,
                                         unexpected, errors)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + '.'
                    child_state = {k: v for k, v in local_state.items()
                                   if k.startswith(child_prefix)}
                    load(child, child_state, child_prefix)
            incompatible = _IncompatibleKeys(missing, unexpected)
            for hook in module._load_state_dict_post_hooks.values():
                out = hook(module, incompatible)
                if out is not None:
                    raise RuntimeError('Hooks registered with '
                                       '``register_load_state_dict_post_hook`` are not expected to '
                                       'return new values, if incompatible_keys need to be '
                                       'modified, it should be done inplace.')

        load(self, state_dict)
        if strict:
            if unexpected:
                errors.insert(0, 'Unexpected key(s) in state_dict: {}. '.format(
                    ', '.join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, 'Missing key(s) in state_dict: {}. '.format(
                    ', '.join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError('Error(s) in loading state_dict for {}:\n\t{}'.format(
                type(self).__name__, '\n\t'.join(errors)))
        return _IncompatibleKeys(missing, unexpected)

    # ---- printing ---------------------------------------------------------------------
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """Extra text inside this module's ``repr`` (override in layers)."""
        return ''

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split('\n') if extra else []
        child_lines = [f'({key}): ' + _addindent(repr(module), 2)
                       for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ''
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                body = extra_lines[0]
            else:
                body = '\n  ' + '\n  '.join(lines) + '\n'
        return f'{self._get_name()}({body})'

    def compile(self, *args, **kwargs):
        """Accepted for PyTorch compatibility; ember runs eagerly."""
        return None


def _with_module(hook, module, *args, **kwargs):
    return hook(module, *args, **kwargs)


def _typename(value):
    return value.type() if isinstance(value, Tensor) else type(value).__name__


def _as_tensor(value):
    """Checkpoint entries may be ember tensors, or any array (NumPy, PyTorch via __array__ or
    DLPack): the latter are converted to ember tensors."""
    if isinstance(value, Tensor) or value is None:
        return value
    if hasattr(value, '__array__') or hasattr(value, '__dlpack__'):
        from ..._creation import tensor
        import numpy as np
        try:
            arr = np.asarray(value)
        except Exception:
            from ..._creation import from_dlpack
            return from_dlpack(value)
        return tensor(arr)
    return value
