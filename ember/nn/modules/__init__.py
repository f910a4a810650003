"""Layer classes, one family per file."""
from .module import Module, register_module_forward_pre_hook, register_module_forward_hook
from .container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict

__all__ = ['Module', 'Sequential', 'ModuleList', 'ModuleDict', 'ParameterList', 'ParameterDict',
           'register_module_forward_pre_hook', 'register_module_forward_hook']
