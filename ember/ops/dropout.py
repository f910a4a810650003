"""Dropout: ``dropout`` (elementwise), ``feature_dropout`` (whole channels), ``alpha_dropout``
and ``feature_alpha_dropout`` (SELU-preserving), with in-place variants, as torch.dropout & co.

Each is ONE Op that saves its scaled mask: ``Dropout`` computes y = x * m with m in
{0, 1/(1-p)} (broadcast over the feature dims for channel dropout) and backward g * m;
``AlphaDropout`` computes y = x * m + s. Masks come from ember's default generator of the
input's device, so ``ember.manual_seed`` makes them reproducible; on the CPU the keep decision
compares raw 32-bit draws of the PCG64 stream with round(p * 2^32).
"""
import math

import numpy as np

from .._backend import device_of, xp_of
from .._parallel import map_chunks, parallel_ok
from .._random import _engine
from ..autograd.function import Op
from ..autograd.inplace import apply_inplace

__all__ = []

_SELU_ALPHA = 1.7580993408473766      # SELU's scale * alpha: -this is SELU's negative saturation
_TWO32 = 4294967296.0


def _mul(a, m):
    """a * m, on every core when both are large and of the same shape."""
    if parallel_ok(a, m):
        return map_chunks(np.multiply, np.empty_like(a), a, m)
    return a * m


class Dropout(Op):
    """y = x * m: x (*), m broadcastable to x holding 0 or 1/(1-p)."""
    backward_name = 'MulBackward0'

    @staticmethod
    def forward(ctx, x, m):
        ctx.save_for_backward(m)
        return _mul(x, m)

    @staticmethod
    def backward(ctx, g):
        return _mul(g, ctx.saved[0])


class AlphaDropout(Op):
    """y = x * m + s: m = a * keep and s = alpha * a * (keep - (1 - p)), broadcastable to x."""
    backward_name = 'AddBackward0'

    @staticmethod
    def forward(ctx, x, m, s):
        ctx.save_for_backward(m)
        y = _mul(x, m)
        y += s
        return y

    @staticmethod
    def backward(ctx, g):
        return _mul(g, ctx.saved[0])


def _keep(a, shape, p):
    """Boolean mask of ``shape`` on ``a``'s device, True with probability 1 - p."""
    eng = _engine(None, device_of(a))
    if isinstance(eng, np.random.Generator):
        n = math.prod(shape)
        bits = eng.bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n].reshape(shape)
        return bits >= np.uint32(int(p * _TWO32))
    return eng.random(shape, dtype=np.float32) >= p


def _scaled(keep, scale, dtype):
    """keep (bool) * scale as an array of ``dtype`` (bytes multiply faster than bools)."""
    xp = xp_of(keep)
    return xp.multiply(keep.view(xp.uint8), dtype.type(scale), out=xp.empty(keep.shape, dtype))


def _float_input(a):
    if a.dtype.kind != 'f':
        from .._tensor import _NP_NAMES
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f'{_NP_NAMES[a.dtype.name]}')


def _feature_shape(shape, batched):
    """Noise shape of channel dropout: (N, C, 1, ...) batched, (C, 1, ...) unbatched."""
    lead = 2 if batched else 1
    if len(shape) < lead:
        raise RuntimeError('Feature dropout requires at least 2 dimensions in the input')
    return shape[:lead] + (1,) * (len(shape) - lead)


def _drop(input, p, noise_shape):
    a = input._data
    _float_input(a)
    if p == 1:
        return Dropout.apply(input, xp_of(a).zeros((), a.dtype))
    return Dropout.apply(input, _scaled(_keep(a, noise_shape, p), 1 / (1 - p), a.dtype))


def _alpha_drop(input, p, noise_shape):
    a = input._data
    _float_input(a)
    if p == 1:
        return Dropout.apply(input, xp_of(a).zeros((), a.dtype))
    scale = 1 / math.sqrt((_SELU_ALPHA * _SELU_ALPHA * p + 1) * (1 - p))
    m = _scaled(_keep(a, noise_shape, p), scale, a.dtype)
    s = m * a.dtype.type(_SELU_ALPHA)
    s -= a.dtype.type(_SELU_ALPHA * scale * (1 - p))
    return AlphaDropout.apply(input, m, s)


def dropout(input, p, train):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (identity when
    not ``train`` or p == 0)."""
    if not train or p == 0:
        return input
    return _drop(input, p, input._data.shape)


def feature_dropout(input, p, train, batched=True):
    """Zero whole channels: input (N, C, *) (or (C, *) when not ``batched``), one draw per
    channel."""
    if not train or p == 0:
        return input
    return _drop(input, p, _feature_shape(input._data.shape, batched))


def alpha_dropout(input, p, train):
    """Dropout keeping a SELU network's zero mean and unit variance: dropped elements take
    SELU's negative saturation value, then an affine map restores the moments."""
    if not train or p == 0:
        return input
    return _alpha_drop(input, p, input._data.shape)


def feature_alpha_dropout(input, p, train):
    """Alpha dropout of whole channels of an (N, C, *) input."""
    if not train or p == 0:
        return input
    return _alpha_drop(input, p, _feature_shape(input._data.shape, True))


def _in_place(fn):
    def run(input, p, train, *args):
        if not train or p == 0:
            return input
        return apply_inplace(input, fn, p, train, *args)
    run.__name__ = fn.__name__ + '_'
    run.__doc__ = f'In-place ``{fn.__name__}``.'
    return run


dropout_ = _in_place(dropout)
feature_dropout_ = _in_place(feature_dropout)
alpha_dropout_ = _in_place(alpha_dropout)
feature_alpha_dropout_ = _in_place(feature_alpha_dropout)
