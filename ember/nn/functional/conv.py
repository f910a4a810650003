"""F.conv1d/2d/3d, F.conv_transpose1d/2d/3d, F.unfold and F.fold: argument checks with
PyTorch's messages; the math is one Op each in ``ember.ops.conv``.

Unbatched inputs ((C, *spatial) instead of (N, C, *spatial)) get a batch dim of one around
the convolution, as in PyTorch.
"""
import numbers

from ..._tensor import Tensor
from ...ops.conv import Col2Im, Convolution, ConvTranspose, Im2Col, transposed_sizes
from ...ops.im2col import out_sizes
from ...ops.linalg import _cpp, _sname

__all__ = ['conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d',
           'conv_transpose3d', 'unfold', 'fold']

_AXES = ('depth', 'height', 'width')


def _array(t, fn, arg, pos):
    """The array of Tensor argument ``t`` (PyTorch's TypeError for anything else)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}(): argument '{arg}' (position {pos}) must be Tensor, not "
                        f'{type(t).__name__}')
    return t._data


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) or (
        isinstance(v, Tensor) and v.dim() == 0 and v._data.dtype.kind in 'iu')


def _ints(value, fn, arg):
    """An int or a sequence of ints as a tuple of Python ints (TypeError otherwise)."""
    seq = value if isinstance(value, (tuple, list)) or (
        isinstance(value, Tensor) and value.dim() == 1) else (value,)
    for i, v in enumerate(seq):
        if not _is_int(v):
            raise TypeError(f"{fn}(): argument '{arg}' must be tuple of ints, but found element "
                            f'of type {type(v).__name__} at pos {i}')
    return tuple(int(v) for v in seq)


def _conv_param(value, d, fn, arg):
    """A convolution's stride/padding/dilation/output_padding as ``d`` ints (one int, or a
    sequence of 1 or ``d``)."""
    t = _ints(value, fn, arg)
    if len(t) == 1:
        return t * d
    if len(t) != d:
        raise RuntimeError(f'expected {arg} to be a single integer value or a list of {d} values '
                           f'to match the convolution dimensions, but got {arg}={list(t)}')
    return t


def _batched(input, x, d, fn):
    """(input with a batch dim, whether it had one) for a (d+1)-D or (d+2)-D input."""
    if x.ndim == d + 2:
        return input, True
    if x.ndim == d + 1:
        return input.unsqueeze(0), False
    raise RuntimeError(f'Expected {d + 1}D (unbatched) or {d + 2}D (batched) input to {fn}, '
                       f'but got input of size: {list(x.shape)}')


def _check_common(shape, w, padding, stride, dilation, groups, d):
    """Checks shared by convolution and transposed convolution (``shape``: the batched input
    shape), in PyTorch's order."""
    if w.ndim != d + 2:
        raise RuntimeError(f'Expected {w.ndim}-dimensional input for {w.ndim}-dimensional weight '
                           f'{list(w.shape)}, but got {d + 2}-dimensional input of size '
                           f'{list(shape)} instead')
    if any(p < 0 for p in padding):
        raise RuntimeError('negative padding is not supported')
    if any(s <= 0 for s in stride):
        raise RuntimeError('non-positive stride is not supported')
    if any(v <= 0 for v in dilation):
        raise RuntimeError(f'dilation should be greater than zero, but got {list(dilation)}')
    if not _is_int(groups):
        raise TypeError(f"argument 'groups' must be int, not {type(groups).__name__}")
    if groups <= 0:
        raise RuntimeError('non-positive groups is not supported')
    if w.shape[0] < groups:
        raise RuntimeError(f'Given groups={groups}, expected weight to be at least {groups} at '
                           f'dimension 0, but got weight of size {list(w.shape)} instead')
    if w.shape[0] % groups:
        raise RuntimeError(f'Given groups={groups}, expected weight to be divisible by {groups} '
                           f'at dimension 0, but got weight of size [{list(w.shape)}] instead')
    if any(k <= 0 for k in w.shape[2:]):
        names = _AXES[3 - d:] if d > 1 else _AXES[1:]
        ks = w.shape[2:] if d > 1 else (1,) + w.shape[2:]
        got = ' '.join(f'kernel_{a}: {k}' for a, k in zip(names, ks))
        raise RuntimeError(f'kernel size should be greater than zero, but got {got}')


def _check_dtypes(x, w, b):
    if x.dtype != w.dtype:
        raise RuntimeError(f'expected scalar type {_sname(x.dtype)} but found {_sname(w.dtype)}')
    if b is not None and b.dtype != x.dtype:
        raise RuntimeError(f'Input type ({_cpp(x.dtype)}) and bias type ({_cpp(b.dtype)}) should '
                           'be the same')


def _check_bias(b, w, n_out, transposed):
    if b is not None and (b.ndim != 1 or b.shape[0] != n_out):
        given = 'Given transposed=1, weight' if transposed else 'Given weight'
        raise RuntimeError(f'{given} of size {list(w.shape)}, expected bias to be 1-dimensional '
                           f'with {n_out} elements, but got bias of size {list(b.shape)} instead')


def _sizes_text(sizes):
    return ' x '.join(map(str, sizes))


def _same_pads(kernel, dilation):
    """'same' padding: d (k - 1) zeros per dim, the odd one on the high side."""
    return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                 for k, d in zip(kernel, dilation))


def _conv(input, weight, bias, stride, padding, dilation, groups, d, fn):
    x = _array(input, fn, 'input', 1)
    w = _array(weight, fn, 'weight', 2)
    b = None if bias is None else _array(bias, fn, 'bias', 3)
    input, batched = _batched(input, x, d, fn)
    shape = x.shape if batched else (1,) + x.shape
    stride = _conv_param(stride, d, fn, 'stride')
    dilation = _conv_param(dilation, d, fn, 'dilation')
    if isinstance(padding, str):
        if padding not in ('valid', 'same'):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if padding == 'same' and any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        pad_amounts = (0,) * d
    else:
        pad_amounts = _conv_param(padding, d, fn, 'padding')
    _check_common(shape, w, pad_amounts, stride, dilation, groups, d)
    kernel = w.shape[2:]
    if padding == 'same':
        pads = _same_pads(kernel, dilation)
    else:
        pads = tuple((p, p) for p in pad_amounts)
    if shape[1] != w.shape[1] * groups:
        raise RuntimeError(f'Given groups={groups}, weight of size {list(w.shape)}, expected '
                           f'input{list(shape)} to have {w.shape[1] * groups} channels, but got '
                           f'{shape[1]} channels instead')
    _check_bias(b, w, w.shape[0], False)
    padded = tuple(i + lo + hi for i, (lo, hi) in zip(shape[2:], pads))
    dilated = tuple(dl * (k - 1) + 1 for k, dl in zip(kernel, dilation))
    if any(p < k for p, k in zip(padded, dilated)):
        raise RuntimeError(f'Calculated padded input size per channel: ({_sizes_text(padded)}). '
                           f'Kernel size: ({_sizes_text(dilated)}). Kernel size can\'t be greater '
                           'than actual input size')
    _check_dtypes(x, w, b)
    out = Convolution.apply(input, weight, bias, stride, dilation, pads, int(groups))
    return out if batched else out.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation). input: (N, C_in, L) or (C_in, L); weight:
    (C_out, C_in/groups, k); bias: (C_out,) or None; padding: int, tuple, 'valid' or 'same'
    -> (N, C_out, L_out) or (C_out, L_out)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, 'conv1d')


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution. input: (N, C_in, H, W) or (C_in, H, W); weight:
    (C_out, C_in/groups, kH, kW) -> (N, C_out, H_out, W_out) or (C_out, H_out, W_out)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, 'conv2d')


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution. input: (N, C_in, D, H, W) or (C_in, D, H, W); weight:
    (C_out, C_in/groups, kD, kH, kW) -> (N, C_out, D_out, H_out, W_out) (or unbatched)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3, 'conv3d')


def _pair_text(prefix, values, d):
    """'output_padding_height: 0 output_padding_width: 2' (1-D shown as 2-D, as PyTorch)."""
    names = _AXES[3 - d:] if d > 1 else _AXES[1:]
    return ' '.join(f'{prefix}_{a}: {v}' for a, v in zip(names, values))


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, d,
                    fn):
    x = _array(input, fn, 'input', 1)
    w = _array(weight, fn, 'weight', 2)
    b = None if bias is None else _array(bias, fn, 'bias', 3)
    if isinstance(padding, str):
        raise TypeError(f"{fn}(): argument 'padding' must be tuple of ints, not str")
    input, batched = _batched(input, x, d, fn)
    shape = x.shape if batched else (1,) + x.shape
    stride = _conv_param(stride, d, fn, 'stride')
    padding = _conv_param(padding, d, fn, 'padding')
    output_padding = _conv_param(output_padding, d, fn, 'output_padding')
    dilation = _conv_param(dilation, d, fn, 'dilation')
    _check_common(shape, w, padding, stride, dilation, groups, d)
    if any(op < 0 for op in output_padding):
        raise RuntimeError('negative output_padding is not supported')
    if any(op >= s and op >= dl for op, s, dl in zip(output_padding, stride, dilation)):
        one = (0,) if d == 1 else ()
        ones = (1,) if d == 1 else ()
        dd = max(d, 2)
        raise RuntimeError(
            'output padding must be smaller than either stride or dilation, but got '
            f'{_pair_text("output_padding", one + output_padding, dd)} '
            f'{_pair_text("stride", ones + stride, dd)} '
            f'{_pair_text("dilation", ones + dilation, dd)}')
    if shape[1] != w.shape[0]:
        raise RuntimeError(f'Given transposed=1, weight of size {list(w.shape)}, expected '
                           f'input{list(shape)} to have {w.shape[0]} channels, but got '
                           f'{shape[1]} channels instead')
    _check_bias(b, w, w.shape[1] * groups, True)
    kernel = w.shape[2:]
    out = transposed_sizes(shape[2:], kernel, stride, dilation, padding, output_padding)
    if any(o < 1 for o in out):
        pre = (1,) if d == 1 else ()
        raise RuntimeError(f'Given input size per channel: ({_sizes_text(pre + shape[2:])}). '
                           f'Calculated output size per channel: ({_sizes_text(pre + out)}). '
                           'Output size is too small')
    _check_dtypes(x, w, b)
    y = ConvTranspose.apply(input, weight, bias, stride, dilation, padding, output_padding,
                            int(groups))
    return y if batched else y.squeeze(0)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution. input: (N, C_in, L) or (C_in, L); weight:
    (C_in, C_out/groups, k) -> (N, C_out, L_out) with
    L_out = (L - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 1, 'conv_transpose1d')


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution. input: (N, C_in, H, W) or (C_in, H, W); weight:
    (C_in, C_out/groups, kH, kW) -> (N, C_out, H_out, W_out) (or unbatched)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 2, 'conv_transpose2d')


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """3-D transposed convolution. input: (N, C_in, D, H, W) or (C_in, D, H, W); weight:
    (C_in, C_out/groups, kD, kH, kW) -> (N, C_out, D_out, H_out, W_out) (or unbatched)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 3, 'conv_transpose3d')


def _block_param(value, fn, arg, pos):
    """kernel_size/dilation/padding/stride/output_size of unfold and fold (argument ``pos`` of
    ``fn``): one int for both dims, or a sequence of exactly 2."""
    if isinstance(value, Tensor) and value.dim() == 0:
        raise TypeError('iteration over a 0-d tensor')
    try:
        t = _ints(value, fn, arg)
    except TypeError as e:
        raise TypeError(str(e).replace(f"'{arg}'", f"'{arg}' (position {pos})", 1)) from None
    if len(t) == 1 and not isinstance(value, (tuple, list, Tensor)):
        t = t * 2
    if len(t) != 2:
        raise RuntimeError(f'It is expected {arg} equals to 2, but got size {len(t)}')
    return t


def _block_params(kernel_size, dilation, padding, stride, fn, first):
    """Parsed and checked (kernel, dilation, padding, stride) of unfold and fold, arguments
    ``first`` to ``first + 3`` of ``fn``."""
    kernel = _block_param(kernel_size, fn, 'kernel_size', first)
    dilation = _block_param(dilation, fn, 'dilation', first + 1)
    padding = _block_param(padding, fn, 'padding', first + 2)
    stride = _block_param(stride, fn, 'stride', first + 3)
    for values, what, name, ok in ((kernel, 'kernel size', 'kernel', lambda v: v > 0),
                                   (stride, 'stride', 'stride', lambda v: v > 0),
                                   (dilation, 'dilation', 'dilation', lambda v: v > 0),
                                   (padding, 'padding', 'pad', lambda v: v >= 0)):
        if not all(ok(v) for v in values):
            rule = 'be non-negative' if name == 'pad' else 'be greater than zero'
            raise RuntimeError(f'{what} should {rule}, but got {name}_height: {values[0]} '
                               f'{name}_width: {values[1]}')
    return kernel, dilation, padding, stride


def _check_float(a, kernel_name):
    """unfold and fold take floating and bool inputs (bool: fold's sum is a logical or)."""
    if a.dtype.kind not in 'fb':
        raise NotImplementedError(f'"{kernel_name}" not implemented for \'{_sname(a.dtype)}\'')


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of a (N, C, H, W) (or (C, H, W)) input as columns: (N, C kH kW, L) (or
    (C kH kW, L)), L the number of block positions."""
    x = _array(input, 'im2col', 'input', 1)
    kernel, dilation, padding, stride = _block_params(kernel_size, dilation, padding, stride,
                                                      'im2col', 2)
    if x.ndim < 3:                      # PyTorch reads the size of dim 2 before checking
        raise IndexError(f'Dimension out of range (expected to be in range of [{-x.ndim}, '
                         f'{x.ndim - 1}], but got {x.ndim})' if x.ndim else
                         'Dimension specified as 1 but tensor has no dimensions')
    if x.ndim not in (3, 4) or not all(x.shape[-3:]):
        raise RuntimeError('Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and '
                           f'other non-zero dimensions for input, but got: {list(x.shape)}')
    pads = tuple((p, p) for p in padding)
    blocks = out_sizes(x.shape[-2:], kernel, stride, dilation, pads)
    if any(b < 1 for b in blocks):
        raise RuntimeError(f'Given input with spatial size {tuple(x.shape[-2:])}, '
                           f'kernel_size={kernel}, dilation={dilation}, padding={padding}, '
                           f'calculated shape of the array of sliding blocks as {blocks}, but its '
                           'components must be at least one.')
    _check_float(x, 'im2col_out_cpu')
    return Im2Col.apply(input, kernel, dilation, pads, stride)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sums columns (N, C kH kW, L) (or (C kH kW, L)) back onto their blocks of a
    (N, C, *output_size) (or (C, *output_size)) output: the adjoint of ``unfold``."""
    x = _array(input, 'col2im', 'input', 1)
    output_size = _block_param(output_size, 'col2im', 'output_size', 2)
    kernel, dilation, padding, stride = _block_params(kernel_size, dilation, padding, stride,
                                                      'col2im', 3)
    if x.ndim not in (2, 3) or not all(x.shape[-2:]):
        raise RuntimeError('Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch '
                           'size and non-zero dimensions for input, but got: '
                           f'{list(x.shape)}')
    k = kernel[0] * kernel[1]
    if x.shape[-2] % k:
        raise RuntimeError("Expected size of input's dimension 1 to be divisible by the product "
                           f'of kernel_size, but got input.size(1)={x.shape[-2]} and '
                           f'kernel_size={kernel}.')
    pads = tuple((p, p) for p in padding)
    blocks = out_sizes(output_size, kernel, stride, dilation, pads)
    if blocks[0] * blocks[1] != x.shape[-1] or any(b < 1 for b in blocks):
        raise RuntimeError(f'Given output_size={output_size}, kernel_size={kernel}, '
                           f'dilation={dilation}, padding={padding}, stride={stride}, expected '
                           "size of input's dimension 2 to match the calculated number of "
                           f'sliding blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, '
                           f'but got input.size(2)={x.shape[-1]}.')
    _check_float(x, 'col2im_out_cpu')
    return Col2Im.apply(input, output_size, kernel, dilation, pads, stride)
