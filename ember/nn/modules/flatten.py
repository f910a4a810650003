"""Flatten and Unflatten, as torch.nn: modules over ``Tensor.flatten`` / ``Tensor.unflatten``
(views where possible)."""
from .module import Module

__all__ = ['Flatten', 'Unflatten']


class Flatten(Module):
    """Merges dims ``start_dim``..``end_dim``: (N, C, H, W) -> (N, C*H*W) by default."""
    __constants__ = ['start_dim', 'end_dim']

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f'start_dim={self.start_dim}, end_dim={self.end_dim}'


class Unflatten(Module):
    """Splits dim ``dim`` into ``unflattened_size`` (a tuple/list of ints or an ember.Size;
    one entry may be -1): (N, 12) -> (N, 3, 4) for Unflatten(1, (3, 4)).

    The named-tensor form (``dim`` a name, sizes as (name, size) pairs) needs named tensors,
    which ember does not have: it raises a TypeError.
    """
    __constants__ = ['dim', 'unflattened_size']

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if isinstance(dim, str):
            raise TypeError(f"Unflatten with a named dimension ('{dim}') needs named tensors, "
                            'which ember does not support; pass an integer dim')
        _check_sizes(unflattened_size)
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f'dim={self.dim}, unflattened_size={self.unflattened_size}'


def _check_sizes(sizes):
    if not isinstance(sizes, (tuple, list)):
        raise TypeError(f'unflattened_size must be a tuple of ints, but found type '
                        f'{type(sizes).__name__}')
    for i, s in enumerate(sizes):
        if not isinstance(s, int):
            raise TypeError(f'unflattened_size must be tuple of ints, but found element of type '
                            f'{type(s).__name__} at pos {i}')
