"""F.pad: constant, reflect, replicate and circular padding (math in ember.ops.padding)."""
import numbers

from ..._tensor import Tensor
from ...ops.padding import (ReflectionPad, ReplicationPad, CircularPad, constant_pad,
                            int_tuple, check_length, pairs_of)

__all__ = ['pad']

_MODES = ('constant', 'reflect', 'replicate', 'circular')
_KERNELS = {'reflect': ('reflection_pad', ReflectionPad),
            'replicate': ('replication_pad', ReplicationPad)}


def pad(input, pad, mode='constant', value=None):
    """Pad ``input``: ``pad`` lists (left, right) amounts from the last dim backwards.

    'constant' pads any number of trailing dims with ``value`` (default 0; negative amounts
    crop). 'reflect', 'replicate' and 'circular' pad the last 1, 2 or 3 dims of (C, *) or
    (N, C, *) inputs (``len(pad)`` = 2, 4 or 6).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    pad = int_tuple(pad, 'pad')
    value = _value(value)
    if mode not in _MODES:
        raise NotImplementedError(f'Unrecognised padding mode {mode}')
    check_length(pad, input.dim())
    if mode == 'constant':
        return constant_pad(input, pad, 0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    k = len(pad) // 2
    shape = tuple(input.shape)
    if k not in (1, 2, 3) or len(shape) not in (k + 1, k + 2):
        raise NotImplementedError(
            f'Padding size {len(pad)} is not supported for {len(shape)}D input tensor.\n'
            'Supported combinations for non-constant padding:\n'
            '  - 2D or 3D input: padding size = 2 (pads last dimension)\n'
            '  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n'
            '  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)')
    pads = pairs_of(pad)
    if mode == 'circular':
        _check_circular(shape, pads)
        return CircularPad.apply(input, pads)
    kernel, op = _KERNELS[mode]
    _check_mirror(mode, shape, pads)
    if input._data.dtype.kind == 'b':
        raise NotImplementedError(f'"{kernel}{k}d" not implemented for \'Bool\'')
    return op.apply(input, pads)


def _value(value):
    """The fill value as a Python number (None stays None)."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value.item()
    if isinstance(value, numbers.Real):
        return value
    raise TypeError(f"pad(): argument 'value' (position 4) must be float, not "
                    f"{type(value).__name__}")


def _check_mirror(mode, shape, pads):
    """PyTorch's checks for reflect and replicate padding of the last len(pads) dims."""
    k = len(pads)
    batched = len(shape) == k + 2
    if not all(shape[1:] if batched else shape):
        raise RuntimeError(f'Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 '
                           'batch size and other non-zero dimensions for input, but got: '
                           f'{list(shape)}')
    first = len(shape) - k
    sizes = shape[first:]
    if mode == 'reflect':
        for j in range(k):          # the last dim first
            d = k - 1 - j
            pl, pr = pads[d]
            if pl >= sizes[d] or pr >= sizes[d]:
                raise RuntimeError(
                    f'Argument #{4 + 2 * j}: Padding size should be less than the corresponding '
                    f'input dimension, but got: padding ({pl}, {pr}) at dimension {first + d} '
                    f'of input {list(shape)}')
    out = [n + pl + pr for n, (pl, pr) in zip(sizes, pads)]
    if k == 1 and out[0] < 1:
        raise RuntimeError(f'input (W: {sizes[0]}) is too small. Calculated output W: {out[0]}')
    if k == 2 and out[0] < 1 and out[1] < 1:
        gap = ' ' if mode == 'replicate' else ''
        raise RuntimeError(f'input (H: {sizes[0]}, W: {sizes[1]}{gap}) is too small. '
                           f'Calculated output H: {out[0]} W: {out[1]}')
    if k == 3 and max(out) < 1:
        raise RuntimeError(f'input (D: {sizes[0]} H: {sizes[1]}, W: {sizes[2]}) is too small. '
                           f'Calculated output D: {out[0]} H: {out[1]} W: {out[2]}')
    negative = [n for n in out if n < 0]
    if negative:
        raise RuntimeError(f'Trying to create tensor with negative dimension {negative[0]}: '
                           f'{list(shape[:first]) + out}')


def _check_circular(shape, pads):
    """Circular padding wraps at most once around each (uncropped) dim, and needs something
    left after cropping to wrap around when the output is not empty."""
    first = len(shape) - len(pads)
    out = list(shape[:first])
    for d, (pl, pr) in enumerate(pads):
        n = shape[first + d]
        if pl > n or pr > n:
            raise RuntimeError('Padding value causes wrapping around more than once.')
        if n + pl + pr < 0:
            raise RuntimeError('Negative padding value is resulting in an empty dimension')
        out.append(n + pl + pr)
    if not all(out):
        return
    for d, (pl, pr) in enumerate(pads):
        n = shape[first + d]
        if n + min(pl, 0) + min(pr, 0) <= 0:
            raise RuntimeError(f'Circular padding ({pl}, {pr}) crops dimension {first + d} of '
                               f'size {n} to nothing: there is nothing left to wrap around')
