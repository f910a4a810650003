"""Copies: clone, dtype casts and device moves (all differentiable)."""
from .._backend import device_of, to_device_array, canonical_device
from ..autograd.function import Op
from ._registry import tensor_method

__all__ = ['clone']


class Clone(Op):
    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class Cast(Op):
    backward_name = 'ToCopyBackward0'

    @staticmethod
    def forward(ctx, a, np_dtype):
        return a.astype(np_dtype)

    @staticmethod
    def backward(ctx, g):
        return g  # the engine casts back to the input's dtype


class ToDevice(Op):
    backward_name = 'ToCopyBackward0'

    @staticmethod
    def forward(ctx, a, device):
        ctx.src = device_of(a)
        return to_device_array(a, device)

    @staticmethod
    def backward(ctx, g):
        return to_device_array(g, ctx.src)


@tensor_method
def clone(input, *, memory_format=None):
    """A copy with its own memory; gradients flow back to ``input``."""
    return Clone.apply(input)


def cast(t, np_dtype):
    return Cast.apply(t, np_dtype)


def to_device(t, device):
    return ToDevice.apply(t, canonical_device(device))
