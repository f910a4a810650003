"""Dropout layers, as torch.nn: elementwise (Dropout), channel-wise (Dropout1d/2d/3d) and the
SELU-preserving AlphaDropout/FeatureAlphaDropout. All are the identity in eval mode; the math
is in ``F.dropout`` and friends."""
from .. import functional as F
from .module import Module

__all__ = ['Dropout', 'Dropout1d', 'Dropout2d', 'Dropout3d', 'AlphaDropout',
           'FeatureAlphaDropout']


class _DropoutNd(Module):
    """Holds ``p`` (probability of an element/channel being zeroed) and ``inplace``."""
    __constants__ = ['p', 'inplace']

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f'dropout probability has to be between 0 and 1, but got {p}')
        self.p = p
        self.inplace = inplace

    def extra_repr(self):
        return f'p={self.p}, inplace={self.inplace}'


class Dropout(_DropoutNd):
    """Zeroes each element with probability ``p`` in training, scaling the rest by 1/(1-p).
    Input (*) -> output (*)."""

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels: input (N, C, L) or (C, L)."""

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels: input (N, C, H, W) or (C, H, W) (3-D inputs are read as
    (N, C, L), with PyTorch's warning)."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels: input (N, C, D, H, W) or (C, D, H, W)."""

    def forward(self, input):
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks, keeping zero mean and unit variance. Input (*) -> (*)."""

    def forward(self, input):
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels: input (N, C, *)."""

    def forward(self, input):
        return F.feature_alpha_dropout(input, self.p, self.training)
