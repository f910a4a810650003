"""How op families publish themselves: ``tensor_method`` binds a function as a Tensor method.

Each family module (elementwise, reduction, shape, ...) owns its functions and decides which
are also Tensor methods; nothing else edits class Tensor.
"""
from .._tensor import Tensor

__all__ = ['tensor_method', 'tensor_property', 'Tensor']


def tensor_method(*names):
    """Bind the decorated function as ``Tensor.<name>`` (its own name when none are given)."""
    def bind(fn):
        for n in names or (fn.__name__,):
            setattr(Tensor, n, fn)
        return fn
    if len(names) == 1 and callable(names[0]):
        fn = names[0]
        names = ()
        return bind(fn)
    return bind


def tensor_property(name):
    """Bind the decorated getter as the read-only property ``Tensor.<name>``."""
    def bind(fn):
        setattr(Tensor, name, property(fn))
        return fn
    return bind
