"""F.interpolate and its deprecated wrappers (upsample, upsample_nearest, upsample_bilinear),
pixel_shuffle / pixel_unshuffle and channel_shuffle. Arguments are checked here, with
PyTorch's exception types and messages; the math is in ember.ops.upsample."""
import math
import numbers
import warnings

from ..._tensor import Tensor
from ...autograd.inplace import _scalar_type
from ...ops import upsample as U
from ...ops.upsample import pixel_shuffle, pixel_unshuffle, channel_shuffle

__all__ = ['interpolate', 'upsample', 'upsample_nearest', 'upsample_bilinear', 'pixel_shuffle',
           'pixel_unshuffle', 'channel_shuffle']

_MODES = 'nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact'
_NEEDS = {'linear': 3, 'bilinear': 4, 'bicubic': 4, 'trilinear': 5, 'lanczos': 4}
_NAMES = ('W',), ('H', 'W'), ('D', 'H', 'W')


def interpolate(input, size=None, scale_factor=None, mode='nearest', align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resample the spatial dims of a (N, C, W), (N, C, H, W) or (N, C, D, H, W) input to
    ``size`` or by ``scale_factor`` (a number or one per spatial dim).

    Modes: 'nearest', 'nearest-exact', 'linear' (3-D), 'bilinear' / 'bicubic' (4-D),
    'trilinear' (5-D), 'area' (adaptive average pooling) and, with ``antialias=True`` on 4-D
    inputs, antialiased 'bilinear', 'bicubic' and 'lanczos'. ``align_corners`` (linear and
    cubic modes) maps the corner pixels' centres onto each other. Unless
    ``recompute_scale_factor`` is true, a given ``scale_factor`` also sets the source
    positions (output j reads input (j + 0.5) / scale_factor - 0.5), not just the size.
    """
    if mode in ('nearest', 'area', 'nearest-exact'):
        if align_corners is not None:
            raise ValueError('align_corners option can only be set with the interpolating '
                             'modes: linear | bilinear | bicubic | trilinear')
    elif align_corners is None:
        align_corners = False
    dim = input.dim() - 2
    out_size, scales = _output_and_scales(input, dim, size, scale_factor)
    if recompute_scale_factor and size is not None:
        raise ValueError('recompute_scale_factor is not meaningful with an explicit size.')
    if mode == 'area' and size is None:
        recompute_scale_factor = True
    if scales is not None and recompute_scale_factor:
        scales = None
    if antialias and not (mode in ('bilinear', 'bicubic', 'lanczos') and input.dim() == 4):
        raise ValueError('Anti-alias option is restricted to bilinear, bicubic, and lanczos '
                         'modes and requires a 4-D tensor as input')
    if mode == 'lanczos':
        if not antialias:
            raise ValueError('Lanczos mode requires antialias=True')
        if align_corners:
            raise ValueError('Lanczos mode does not support align_corners=True')
    if mode not in _NEEDS and mode not in ('nearest', 'nearest-exact', 'area') or \
            not 1 <= dim <= 3 or mode == 'bicubic' and dim != 2:
        raise NotImplementedError(f'Input Error: Only 3D, 4D and 5D input Tensors supported '
                                  f'(got {input.dim()}D) for the modes: {_MODES} (got {mode})')
    if mode in _NEEDS and _NEEDS[mode] != input.dim():
        raise NotImplementedError(f'Got {input.dim()}D input, but {mode} mode needs '
                                  f'{_NEEDS[mode]}D input')
    if mode == 'area':
        return _area(input, out_size)
    _check_sizes(input, out_size)
    op, taps = _taps(input, mode, out_size, scales, align_corners, antialias)
    return op.apply(input, taps)


def _output_and_scales(input, dim, size, scale_factor):
    """(output sizes, scale factors or None) from ``size`` or ``scale_factor``."""
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError('only one of size or scale_factor should be defined')
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    'Input and output must have the same number of spatial dimensions, but '
                    f'got input with spatial dimensions of {spatial} and output size of '
                    f'{size}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and '
                    'output size in (o1, o2, ...,oK) format.')
            if not all(_is_integer(s) for s in size):
                raise TypeError('expected size to be one of int or Tuple[int] or Tuple[int, '
                                'int] or Tuple[int, int, int], but got size with types '
                                f'{[type(s) for s in size]}')
            sizes = list(size)
        else:
            sizes = [size] * dim
        for s in sizes:
            if not _is_integer(s) or isinstance(s, bool):
                raise TypeError(f"interpolate(): argument 'size' must be int or tuple of ints, "
                                f'not {type(s).__name__}')
        return [int(s) for s in sizes], None
    if scale_factor is None:
        raise ValueError('either size or scale_factor should be defined')
    if isinstance(scale_factor, (list, tuple)):
        if len(scale_factor) != dim:
            raise ValueError(
                'Input and scale_factor must have the same number of spatial dimensions, but '
                f'got input with spatial dimensions of {spatial} and scale_factor of shape '
                f'{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format '
                'and scale_factor in (s1, s2, ...,sK) format.')
        scales = list(scale_factor)
    else:
        scales = [scale_factor] * dim
    for s in scales:
        if not isinstance(s, numbers.Real):
            raise TypeError("interpolate(): argument 'scale_factor' must be float or tuple of "
                            f'floats, not {type(s).__name__}')
    scales = [float(s) for s in scales]
    try:
        sizes = [math.floor(float(n) * s) for n, s in zip(spatial, scales)]
    except (OverflowError, ValueError):
        raise RuntimeError('value cannot be converted to type int64_t without overflow') from None
    return sizes, scales


def _is_integer(s):
    if isinstance(s, Tensor):
        return s.dim() == 0 and not s.is_floating_point()
    return isinstance(s, numbers.Integral)


def _check_sizes(input, out_size):
    """PyTorch's checks on the input and output sizes of the interpolating kernels."""
    k = len(out_size)
    spatial = tuple(input.shape[2:])
    if min(spatial) <= 0 or min(out_size) <= 0:
        names = _NAMES[k - 1]
        fin = ', '.join(f'{n}: {s}' for n, s in zip(names, spatial))
        fout = ', '.join(f'{n}: {s}' for n, s in zip(names, out_size))
        sep = ' and' if k == 1 else ''
        raise RuntimeError('Input and output sizes should be greater than 0, but got input '
                           f'({fin}){sep} output ({fout})')
    if input.numel() == 0 and math.prod(input.shape[1:]) == 0:
        raise RuntimeError(f'Non-empty {input.dim()}D data tensor expected but got a tensor with '
                           f'sizes {list(input.shape)}')


def _kernel_dtype(input, kernel, nearest):
    """PyTorch's dtype support: floating dtypes, and uint8 for the nearest modes."""
    dt = input._data.dtype
    if dt.kind == 'f' or (nearest and dt.char == 'B'):
        return
    if dt.char == 'B':
        raise NotImplementedError(f'"{kernel}" on uint8 input is not supported by ember '
                                  "(PyTorch's fixed-point uint8 kernel is not reproduced); "
                                  'convert the input to a floating dtype')
    raise NotImplementedError(f'"{kernel}" not implemented for \'{_scalar_type(dt)}\'')


def _taps(input, mode, out_size, scales, align_corners, antialias):
    """(Op class, one ``Taps`` per spatial dim) for an interpolating mode."""
    k = len(out_size)
    spatial = tuple(input.shape[2:])
    scales = scales or [None] * k
    dt = U.opmath(input._data.dtype)
    if mode in ('nearest', 'nearest-exact'):
        exact = mode == 'nearest-exact'
        _kernel_dtype(input, f"upsample_nearest{'_exact' if exact else ''}{k}d", True)
        taps = [U.nearest_taps(n, m, s, exact, k == 2 and not exact)
                for n, m, s in zip(spatial, out_size, scales)]
        op = U.NEAREST_OPS[exact][k - 1]
    elif antialias:
        _kernel_dtype(input, f'_upsample_{mode}2d_aa', False)
        taps = [U.antialias_taps(n, m, align_corners, s, mode, dt)
                for n, m, s in zip(spatial, out_size, scales)]
        op = U.ANTIALIAS_OPS[mode]
    elif mode == 'bicubic':
        _kernel_dtype(input, 'upsample_bicubic2d', False)
        taps = [U.cubic_taps(n, m, align_corners, s, dt)
                for n, m, s in zip(spatial, out_size, scales)]
        op = U.CUBIC_OP
    else:
        _kernel_dtype(input, f'upsample_{mode}{k}d', False)
        taps = [U.linear_taps(n, m, align_corners, s, dt)
                for n, m, s in zip(spatial, out_size, scales)]
        op = U.LINEAR_OPS[k - 1]
    return op, [U.Taps(idx, w, n) for (idx, w), n in zip(taps, spatial)]


def _area(input, out_size):
    """Adaptive average pooling to ``out_size`` (PyTorch's 'area' mode)."""
    k = len(out_size)
    pool = f'adaptive_avg_pool{max(k, 2)}d'
    if min(out_size) < 0:
        shown = [1] + out_size if k == 1 else out_size
        sep = ',' if k == 3 else ', '
        shown = ', '.join(map(str, shown[:2])) + (sep + str(shown[2]) if k == 3 else '')
        raise RuntimeError(f'{pool}: elements of output_size must be greater than or equal to 0 '
                           f'but received {{{shown}}}')
    shape = list(input.shape)
    if k == 1:
        shape = shape[:2] + [1] + shape[2:]
    for d in range(len(shape) - max(k, 2), len(shape)):
        if shape[d] == 0:
            raise RuntimeError(f'{pool}(): Expected input to have non-zero size for non-batch '
                               f'dimensions, but input has sizes {shape} with dimension {d} '
                               'being empty')
    if input._data.dtype.kind != 'f':
        raise NotImplementedError(f'"{pool}" not implemented for '
                                  f"'{_scalar_type(input._data.dtype)}'")
    dt = U.opmath(input._data.dtype)
    taps = [U.Taps(*U.area_taps(n, m, dt), n) for n, m in zip(input.shape[2:], out_size)]
    return U.AREA_OPS[k - 1].apply(input, taps)


def upsample(input, size=None, scale_factor=None, mode='nearest', align_corners=None):
    """Deprecated: ``interpolate``."""
    warnings.warn('`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` '
                  'instead.', stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(..., mode='nearest')``."""
    warnings.warn('`nn.functional.upsample_nearest` is deprecated. Use '
                  '`nn.functional.interpolate` instead.', stacklevel=2)
    return interpolate(input, size, scale_factor, mode='nearest')


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``."""
    warnings.warn('`nn.functional.upsample_bilinear` is deprecated. Use '
                  '`nn.functional.interpolate` instead.', stacklevel=2)
    return interpolate(input, size, scale_factor, mode='bilinear', align_corners=True)
