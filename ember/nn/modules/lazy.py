"""Lazy modules: parameters whose shapes the first input decides.

They start as ``UninitializedParameter``s (or buffers); a forward pre-hook calls
``initialize_parameters(*inputs)`` once, and the module then becomes its ``cls_to_become``
(LazyLinear -> Linear, LazyBatchNorm2d -> BatchNorm2d, ...), as in PyTorch.
"""
import itertools

from ..parameter import is_lazy

__all__ = ['LazyModuleMixin']


class LazyModuleMixin:
    """Mixin for modules whose parameter shapes are inferred from the first forward's inputs.

    Subclasses create ``UninitializedParameter``s and define ``initialize_parameters(*inputs)``
    that materialises them; after that first call the module's class becomes
    ``cls_to_become`` (when set).
    """
    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters,
                                                               with_kwargs=True)

    def has_uninitialized_params(self):
        """True while any parameter or buffer is still an uninitialized placeholder."""
        return any(is_lazy(t) for t in itertools.chain(self._parameters.values(),
                                                        self._buffers.values()))

    def _infer_parameters(self, module, args, kwargs=None):
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f'module {module._get_name()} has not been fully initialized')
        module._initialize_hook.remove()
        del module._initialize_hook
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become


def materialize(param, shape):
    """Give a lazy placeholder its shape, keeping the dtype/device it was moved to."""
    param.materialize(shape, device=param.device, dtype=param.dtype)
