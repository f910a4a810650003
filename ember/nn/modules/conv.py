"""Convolution layers as torch.nn: Conv1d/2d/3d, ConvTranspose1d/2d/3d and their Lazy variants
(math in ``F.conv*d`` / ``F.conv_transpose*d``).

weight: (out_channels, in_channels/groups, *kernel_size) for convolutions and
(in_channels, out_channels/groups, *kernel_size) for transposed ones, both
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform_ with a=sqrt(5)); bias: (out_channels,)
from the same range, fan_in = weight.size(1) * prod(kernel_size).
"""
import math

from ..._creation import empty
from ...autograd.grad_mode import no_grad
from .. import functional as F
from .. import init
from ..parameter import Parameter, UninitializedParameter
from .lazy import LazyModuleMixin, materialize
from .module import Module

__all__ = ['Conv1d', 'Conv2d', 'Conv3d', 'ConvTranspose1d', 'ConvTranspose2d',
           'ConvTranspose3d', 'LazyConv1d', 'LazyConv2d', 'LazyConv3d', 'LazyConvTranspose1d',
           'LazyConvTranspose2d', 'LazyConvTranspose3d']

_PADDING_MODES = {'zeros', 'reflect', 'replicate', 'circular'}
_PADDING_STRINGS = {'same', 'valid'}


def _ntuple(value, n):
    """An int repeated ``n`` times, or a sequence as a tuple."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,) * n


class _ConvNd(Module):
    """Shared constructor, parameters, initialisation and repr of every convolution layer."""
    __constants__ = ['stride', 'padding', 'dilation', 'groups', 'padding_mode', 'output_padding',
                     'in_channels', 'out_channels', 'kernel_size']
    _dims = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 transposed, output_padding, groups, bias, padding_mode, device=None,
                 dtype=None):
        super().__init__()
        d = self._dims
        if groups <= 0:
            raise ValueError('groups must be a positive integer')
        if in_channels % groups != 0:
            raise ValueError('in_channels must be divisible by groups')
        if out_channels % groups != 0:
            raise ValueError('out_channels must be divisible by groups')
        kernel_size = _ntuple(kernel_size, d)
        stride = _ntuple(stride, d)
        dilation = _ntuple(dilation, d)
        if isinstance(padding, str):
            if padding not in ('valid', 'same'):
                raise ValueError(f'Invalid padding string {padding!r}, should be one of '
                                 f'{_PADDING_STRINGS}')
            if padding == 'same' and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = _ntuple(padding, d)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f'padding_mode must be one of {_PADDING_MODES}, but got '
                             f"padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, d)
        self.groups = groups
        self.padding_mode = padding_mode
        self._reversed_padding_repeated_twice = _reversed_padding(padding, kernel_size,
                                                                  dilation)
        if transposed:
            shape = (in_channels, out_channels // groups) + kernel_size
        else:
            shape = (out_channels, in_channels // groups) + kernel_size
        self.weight = Parameter(empty(shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter('bias', None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = (f'{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, '
             f'stride={self.stride}')
        padding = self.padding
        if isinstance(padding, str) or any(padding):
            s += f', padding={padding}'
        if any(v != 1 for v in self.dilation):
            s += f', dilation={self.dilation}'
        if any(self.output_padding):
            s += f', output_padding={self.output_padding}'
        if self.groups != 1:
            s += f', groups={self.groups}'
        if self.bias is None:
            s += ', bias=False'
        if self.padding_mode != 'zeros':
            s += f', padding_mode={self.padding_mode}'
        return s


def _reversed_padding(padding, kernel_size, dilation):
    """F.pad's argument for the non-zero padding modes: (left, right) per dim, last dim first;
    'same' puts the odd zero on the right."""
    if padding == 'valid':
        return [0, 0] * len(kernel_size)
    if padding == 'same':
        pads = []
        for k, d in zip(reversed(kernel_size), reversed(dilation)):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return pads
    return tuple(p for p in reversed(padding) for _ in range(2))


class _Conv(_ConvNd):
    """A convolution layer: ``forward(input)`` pads with ``padding_mode`` and convolves."""
    _conv = None     # F.conv1d / conv2d / conv3d

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode='zeros', device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, device=device, dtype=dtype)

    def _conv_forward(self, input, weight, bias):
        conv = type(self)._conv
        if self.padding_mode != 'zeros':
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-D convolution: (N, C_in, L) or (C_in, L) -> (N, C_out, L_out) or (C_out, L_out)."""
    _dims = 1
    _conv = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution: (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, H_out, W_out) (or
    unbatched), H_out = floor((H + 2 padding - dilation (k - 1) - 1) / stride) + 1."""
    _dims = 2
    _conv = staticmethod(F.conv2d)


class Conv3d(_Conv):
    """3-D convolution: (N, C_in, D, H, W) or (C_in, D, H, W) -> (N, C_out, D_out, H_out,
    W_out) (or unbatched)."""
    _dims = 3
    _conv = staticmethod(F.conv3d)


class _ConvTransposeNd(_ConvNd):
    """A transposed convolution layer; ``forward(input, output_size=None)`` picks the output
    padding that reaches ``output_size`` (spatial sizes, optionally with the leading dims)."""
    _conv = None     # F.conv_transpose1d / 2d / 3d

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode='zeros',
                 device=None, dtype=None):
        if padding_mode != 'zeros':
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f'{self.__class__.__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         True, output_padding, groups, bias, padding_mode, device=device,
                         dtype=dtype)

    def _output_padding(self, input, output_size, stride, padding, kernel_size,
                        num_spatial_dims, dilation=None):
        """The output padding reaching ``output_size`` (``self.output_padding`` when None)."""
        if output_size is None:
            return self.output_padding
        d = num_spatial_dims
        lead = 2 if input.dim() == d + 2 else 1
        if len(output_size) == lead + d:
            output_size = output_size[lead:]
        if len(output_size) != d:
            raise ValueError(f'ConvTranspose{d}D: for {input.dim()}D input, output_size must '
                             f'have {d} or {lead + d} elements (got {len(output_size)})')
        dilation = dilation if dilation is not None else (1,) * d
        smallest = [(input.size(lead + i) - 1) * stride[i] - 2 * padding[i]
                    + dilation[i] * (kernel_size[i] - 1) + 1 for i in range(d)]
        largest = [s + stride[i] - 1 for i, s in enumerate(smallest)]
        for size, lo, hi in zip(output_size, smallest, largest):
            if not lo <= size <= hi:
                raise ValueError(f'requested an output size of {output_size}, but valid sizes '
                                 f'range from {smallest} to {largest} (for an input of '
                                 f'{input.size()[2:]})')
        return tuple(int(size) - lo for size, lo in zip(output_size, smallest))

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size, self.stride, self.padding,
                                              self.kernel_size, self._dims, self.dilation)
        return type(self)._conv(input, self.weight, self.bias, self.stride, self.padding,
                                output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution: (N, C_in, L) -> (N, C_out, L_out) with
    L_out = (L - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1."""
    _dims = 1
    _conv = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution: (N, C_in, H, W) -> (N, C_out, H_out, W_out)."""
    _dims = 2
    _conv = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution: (N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out)."""
    _dims = 3
    _conv = staticmethod(F.conv_transpose3d)


class _LazyConvMixin(LazyModuleMixin):
    """``in_channels`` is read from the first input (dim 1, or dim 0 when unbatched)."""

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        """Materialise weight and bias for ``input``'s channels, then initialise them."""
        if self.has_uninitialized_params():
            self.in_channels = self._get_in_channels(input)
            if self.in_channels % self.groups != 0:
                raise ValueError('in_channels must be divisible by groups')
            if self.transposed:
                shape = (self.in_channels, self.out_channels // self.groups)
            else:
                shape = (self.out_channels, self.in_channels // self.groups)
            with no_grad():
                materialize(self.weight, shape + self.kernel_size)
                if self.bias is not None:
                    materialize(self.bias, (self.out_channels,))
                self.reset_parameters()

    def _get_in_channels(self, input):
        d = self._dims
        if input.dim() not in (d + 1, d + 2):
            raise RuntimeError(f'Expected {d + 1}D (unbatched) or {d + 2}D (batched) input to '
                               f'{self.__class__.__name__}, but got input of size: '
                               f'{input.shape}')
        return input.shape[1] if input.dim() == d + 2 else input.shape[0]

    def _lazy_parameters(self, out_channels, bias, device, dtype):
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)


class _LazyConv(_LazyConvMixin):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode='zeros', device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode, device=device, dtype=dtype)
        self._lazy_parameters(out_channels, bias, device, dtype)


class _LazyConvTranspose(_LazyConvMixin):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode='zeros', device=None,
                 dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False,
                         dilation, padding_mode, device=device, dtype=dtype)
        self._lazy_parameters(out_channels, bias, device, dtype)


class LazyConv1d(_LazyConv, Conv1d):
    """A Conv1d whose ``in_channels`` comes from the first input; it then becomes a Conv1d."""
    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    """A Conv2d whose ``in_channels`` comes from the first input; it then becomes a Conv2d."""
    cls_to_become = Conv2d


class LazyConv3d(_LazyConv, Conv3d):
    """A Conv3d whose ``in_channels`` comes from the first input; it then becomes a Conv3d."""
    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTranspose, ConvTranspose1d):
    """A ConvTranspose1d whose ``in_channels`` comes from the first input."""
    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTranspose, ConvTranspose2d):
    """A ConvTranspose2d whose ``in_channels`` comes from the first input."""
    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTranspose, ConvTranspose3d):
    """A ConvTranspose3d whose ``in_channels`` comes from the first input."""
    cls_to_become = ConvTranspose3d
