"""Padding layers: constant/zero, reflection, replication and circular, in 1, 2 and 3 dims.

``padding`` is an int (the same on every side) or a tuple ordered as F.pad's: (left, right)
for 1d, (left, right, top, bottom) for 2d, (left, right, top, bottom, front, back) for 3d.
"""
from .module import Module
from .. import functional as F

__all__ = ['ConstantPad1d', 'ConstantPad2d', 'ConstantPad3d', 'ZeroPad1d', 'ZeroPad2d',
           'ZeroPad3d', 'ReflectionPad1d', 'ReflectionPad2d', 'ReflectionPad3d',
           'ReplicationPad1d', 'ReplicationPad2d', 'ReplicationPad3d', 'CircularPad1d',
           'CircularPad2d', 'CircularPad3d']


def _sides(padding, n):
    """An int repeated ``n`` times, or any iterable as a tuple."""
    try:
        return tuple(padding)
    except TypeError:
        return (padding,) * n


class _ConstantPadNd(Module):
    __constants__ = ['padding', 'value']

    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, 'constant', self.value)

    def extra_repr(self):
        return f'padding={self.padding}, value={self.value}'


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim of (C, W) or (N, C, W) inputs with ``value``."""

    def __init__(self, padding, value):
        super().__init__(value)
        self.padding = _sides(padding, 2)


class ConstantPad2d(_ConstantPadNd):
    """Pads the last 2 dims of (C, H, W) or (N, C, H, W) inputs with ``value``."""

    def __init__(self, padding, value):
        super().__init__(value)
        self.padding = _sides(padding, 4)


class ConstantPad3d(_ConstantPadNd):
    """Pads the last 3 dims of (C, D, H, W) or (N, C, D, H, W) inputs with ``value``."""

    def __init__(self, padding, value):
        super().__init__(value)
        self.padding = _sides(padding, 6)


class ZeroPad1d(ConstantPad1d):
    """Pads the last dim with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f'{self.padding}'


class ZeroPad2d(ConstantPad2d):
    """Pads the last 2 dims with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f'{self.padding}'


class ZeroPad3d(ConstantPad3d):
    """Pads the last 3 dims with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f'{self.padding}'


class _IndexPadNd(Module):
    """Reflection, replication and circular layers: ``mode`` is F.pad's."""
    __constants__ = ['padding']
    mode = None
    sides = None

    def __init__(self, padding):
        super().__init__()
        self.padding = _sides(padding, self.sides)

    def forward(self, input):
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f'{self.padding}'


class ReflectionPad1d(_IndexPadNd):
    """Reflects the last dim of (C, W) or (N, C, W) inputs about its edges."""
    mode, sides = 'reflect', 2


class ReflectionPad2d(_IndexPadNd):
    """Reflects the last 2 dims of (C, H, W) or (N, C, H, W) inputs about their edges."""
    mode, sides = 'reflect', 4


class ReflectionPad3d(_IndexPadNd):
    """Reflects the last 3 dims of (C, D, H, W) or (N, C, D, H, W) inputs."""
    mode, sides = 'reflect', 6


class ReplicationPad1d(_IndexPadNd):
    """Repeats the edge values of the last dim of (C, W) or (N, C, W) inputs."""
    mode, sides = 'replicate', 2


class ReplicationPad2d(_IndexPadNd):
    """Repeats the edge values of the last 2 dims of (C, H, W) or (N, C, H, W) inputs."""
    mode, sides = 'replicate', 4


class ReplicationPad3d(_IndexPadNd):
    """Repeats the edge values of the last 3 dims of (C, D, H, W) or (N, C, D, H, W) inputs."""
    mode, sides = 'replicate', 6


class _CircularPadNd(_IndexPadNd):
    mode = 'circular'

    def forward(self, input):
        k = self.sides // 2
        if input.dim() not in (k + 1, k + 2):
            raise ValueError(f'expected {k + 1}D or {k + 2}D input (got {input.dim()}D input)')
        return F.pad(input, self.padding, 'circular')


class CircularPad1d(_CircularPadNd):
    """Wraps the last dim of (C, W) or (N, C, W) inputs around."""
    sides = 2


class CircularPad2d(_CircularPadNd):
    """Wraps the last 2 dims of (C, H, W) or (N, C, H, W) inputs around."""
    sides = 4


class CircularPad3d(_CircularPadNd):
    """Wraps the last 3 dims of (C, D, H, W) or (N, C, D, H, W) inputs around."""
    sides = 6
