"""Normalisation functions of ``ember.nn.functional``: argument checks with PyTorch's exception
types and messages, then one fused op from ``ember.ops.normalization`` each.

``switchable_norm`` (Luo et al. 2018) is not part of PyTorch: it lives here for
``nn.SwitchableNorm1d/2d`` but is not exported into ``F``'s namespace.
"""
import math

import numpy as np

from ..._tensor import _NP_NAMES
from ...ops import normalization as _ops

__all__ = ['batch_norm', 'instance_norm', 'layer_norm', 'group_norm', 'rms_norm',
           'local_response_norm']


# ---- shared checks ------------------------------------------------------------------------
def _check_float(input, name):
    dt = input._data.dtype
    if dt.kind != 'f':
        raise NotImplementedError(f'"{name}" not implemented for \'{_NP_NAMES[dt.name]}\'')


def _check_same_dtype(input, *tensors):
    dt = input._data.dtype
    for t in tensors:
        if t is not None and t._data.dtype != dt:
            raise RuntimeError('mixed dtype (CPU): all inputs must share same datatype.')


def _check_numel(name, t, expected, factor=1):
    if t is not None and t._data.size * factor != expected:
        raise RuntimeError(f'{name} should contain {expected} elements not '
                           f'{t._data.size * factor}')


def _shape_list(s):
    return '[' + ', '.join(map(str, s)) + ']'


def _check_values_per_channel(input, training):
    shape = input._data.shape
    if training and math.prod(shape[:1] + shape[2:]) == 1:
        raise ValueError('Expected more than 1 value per channel when training, got input size '
                         f'{input.size()}')


# ---- batch and instance norm --------------------------------------------------------------
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    """Normalise each channel of ``input`` (N, C, *) by its batch statistics (training, updating
    ``running_mean``/``running_var`` (C,) in place when given) or by the running statistics
    (evaluation); then scale by ``weight`` and shift by ``bias`` (C,)."""
    _check_values_per_channel(input, training)
    if momentum is None:
        raise TypeError("batch_norm(): argument 'momentum' (position 7) must be float, not "
                        'NoneType')
    shape = input._data.shape
    c = shape[1] if len(shape) > 1 else 0
    _check_float(input, 'batch_norm')
    if not training:
        if running_mean is None:
            raise RuntimeError('running_mean must be defined in evaluation mode')
        if running_var is None:
            raise RuntimeError('running_var must be defined in evaluation mode')
    _check_numel('running_mean', running_mean, c)
    _check_numel('running_var', running_var, c)
    _check_numel('weight', weight, c)
    _check_numel('bias', bias, c)
    _check_same_dtype(input, weight, bias, running_mean, running_var)
    out = _ops.NativeBatchNorm.apply(input, running_mean, running_var, weight, bias,
                                     bool(training), momentum, eps)
    if training:
        _bump(running_mean)
        _bump(running_var)
    return out


def _bump(t):
    if t is not None:
        t._bump()


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-05):
    """Normalise each (sample, channel) plane of ``input`` (N, C, *) by its own statistics
    (``use_input_stats``; the running statistics (C,) then get the batch average, in place),
    or by ``running_mean``/``running_var``; then scale/shift by ``weight``/``bias`` (C,)."""
    shape = input._data.shape
    if use_input_stats and math.prod(shape[2:]) == 1:
        raise ValueError('Expected more than 1 spatial element when training, got input size '
                         f'{input.size()}')
    if (running_mean is None) != (running_var is None):
        raise ValueError('running_mean and running_var must either both be None or neither be '
                         'None')
    if not use_input_stats and running_mean is None:
        raise RuntimeError('Expected running_mean and running_var to be defined when '
                           'use_input_stats is false')
    _check_float(input, 'batch_norm')
    n, c = shape[0], shape[1]
    for name, t in (('weight', weight), ('bias', bias), ('running_mean', running_mean),
                    ('running_var', running_var)):
        _check_numel(name, t, n * c, n)
    _check_same_dtype(input, weight, bias, running_mean, running_var)
    if not use_input_stats:
        return _ops.NativeBatchNorm.apply(input, running_mean, running_var, weight, bias,
                                          False, momentum, eps)
    l = math.prod(shape[2:])
    out = _ops.InstanceNorm.apply(input, weight, bias, (n * c, l, c, 1), eps, True,
                                  running_mean, running_var, momentum)
    _bump(running_mean)
    _bump(running_var)
    return out


# ---- layer, group and RMS norm ------------------------------------------------------------
def _normalized_shape(normalized_shape, fn):
    """normalized_shape as a tuple of ints (PyTorch's TypeError for anything else)."""
    if not isinstance(normalized_shape, (tuple, list)):
        raise TypeError(f"{fn}(): argument 'normalized_shape' (position 2) must be tuple of ints, "
                        f'not {type(normalized_shape).__name__}')
    for i, s in enumerate(normalized_shape):
        if not isinstance(s, int) and not (hasattr(s, '__index__') and not hasattr(s, 'dtype')):
            raise TypeError(f"{fn}(): argument 'normalized_shape' (position 2) must be tuple of "
                            f'ints, but found element of type {type(s).__name__} at pos {i}')
    shape = tuple(int(s) for s in normalized_shape)
    if not shape:
        raise RuntimeError('Expected normalized_shape to be at least 1-dimensional, i.e., '
                           'containing at least one element, but got normalized_shape = []')
    return shape


def _check_trailing(input, shape, weight, bias, sep):
    """input ends with ``shape``, weight/bias have exactly ``shape``; returns the row count."""
    for name, t in (('weight', weight), ('bias', bias)):
        if t is not None and tuple(t._data.shape) != shape:
            raise RuntimeError(f'Expected {name} to be of same shape as normalized_shape, but got '
                               f'{name} of shape {_shape_list(t._data.shape)} and '
                               f'normalized_shape = {_shape_list(shape)}')
    xs = input._data.shape
    if len(xs) < len(shape) or tuple(xs[len(xs) - len(shape):]) != shape:
        raise RuntimeError(f'Given normalized_shape={_shape_list(shape)}, expected input with '
                           f'shape [*{sep}{", ".join(map(str, shape))}], but got input of '
                           f'size{_shape_list(xs)}')
    return math.prod(xs[:len(xs) - len(shape)])


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Normalise over the trailing ``normalized_shape`` dims of ``input`` (mean and biased
    variance of each row), then scale/shift elementwise by ``weight``/``bias`` (that shape)."""
    shape = _normalized_shape(normalized_shape, 'layer_norm')
    m = _check_trailing(input, shape, weight, bias, ', ')
    _check_float(input, 'LayerNormKernelImpl')
    _check_same_dtype(input, weight, bias)
    d = math.prod(shape)
    return _ops.NativeLayerNorm.apply(input, weight, bias, (m, d, 1, d), eps, True)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing ``normalized_shape`` dims, times ``weight``;
    ``eps`` None means the machine epsilon of the input's dtype."""
    shape = _normalized_shape(normalized_shape, 'rms_norm')
    m = _check_trailing(input, shape, weight, None, '')
    _check_float(input, 'rms_norm')
    _check_same_dtype(input, weight)
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    d = math.prod(shape)
    return _ops.RMSNorm.apply(input, weight, None, (m, d, 1, d), eps, False)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Normalise ``input`` (N, C, *) over each group of C/num_groups channels (and all of *)
    per sample, then scale/shift per channel by ``weight``/``bias`` (C,)."""
    xs = input._data.shape
    if len(xs) < 2:
        raise RuntimeError(f'Expected at least 2 dimensions for input tensor but received '
                           f'{len(xs)}')
    n, c = xs[0], xs[1]
    if c % num_groups != 0:
        raise RuntimeError('Expected number of channels in input to be divisible by num_groups, '
                           f'but got input of shape {_shape_list(xs)} and num_groups={num_groups}')
    for name, t in (('weight', weight), ('bias', bias)):
        if t is not None and (t._data.ndim != 1 or t._data.size != c):
            raise RuntimeError(f'Expected {name} to be a vector of size equal to the number of '
                               f'channels in input, but got {name} of shape '
                               f'{_shape_list(t._data.shape)} and input of shape '
                               f'{_shape_list(xs)}')
    _check_float(input, 'GroupNormKernelImpl')
    _check_same_dtype(input, weight, bias)
    l = math.prod(xs[2:])
    cg = c // num_groups
    return _ops.NativeGroupNorm.apply(input, weight, bias, (n * num_groups, cg * l, num_groups, cg),
                                      eps, True)


# ---- local response norm ------------------------------------------------------------------
def local_response_norm(input, size, alpha=0.0001, beta=0.75, k=1.0):
    """x / (k + alpha * mean of x^2 over ``size`` neighbouring channels)^beta on (N, C, *)."""
    dim = input._data.ndim
    if dim < 3:
        raise ValueError('Expected 3D or higher dimensionality                          input '
                         f'(got {dim} dimensions)')
    if input._data.size == 0:
        return input
    _check_float(input, 'local_response_norm')
    return _ops.LocalResponseNorm.apply(input, size, alpha, beta, k)


def cross_map_lrn2d(input, size, alpha=0.0001, beta=0.75, k=1):
    """The legacy ``nn.CrossMapLRN2d`` computation on (N, C, H, W) (PyTorch's numbers)."""
    if input._data.ndim != 4:
        raise ValueError(f'CrossMapLRN2d: Expected input to be 4D, got {input._data.ndim}D '
                         'instead.')
    _check_float(input, 'cross_map_lrn2d')
    return _ops.CrossMapLRN2d.apply(input, size, alpha, beta, k)


# ---- switchable norm (not in PyTorch) -----------------------------------------------------
def switchable_norm(input, mean_weight, var_weight, running_mean=None, running_var=None,
                    weight=None, bias=None, training=True, momentum=0.1, eps=1e-05):
    """Switchable normalisation (Luo et al. 2018) of ``input`` (N, C, *).

    Mixes instance, layer and batch statistics with softmax(``mean_weight``) and
    softmax(``var_weight``) (3 logits each, order IN, LN, BN). The batch term uses the batch
    statistics when ``training`` or when no running statistics are given (updating
    ``running_mean``/``running_var`` (C,) in place with ``momentum`` when training), and the
    running statistics otherwise. Then scales/shifts per channel by ``weight``/``bias`` (C,).
    """
    shape = input._data.shape
    if len(shape) < 2:
        raise ValueError(f'expected at least 2D input (got {len(shape)}D input)')
    c = shape[1]
    batch_stats = training or running_mean is None
    _check_values_per_channel(input, batch_stats)
    if (running_mean is None) != (running_var is None):
        raise ValueError('running_mean and running_var must either both be None or neither be '
                         'None')
    _check_float(input, 'switchable_norm')
    for name, t in (('running_mean', running_mean), ('running_var', running_var),
                    ('weight', weight), ('bias', bias)):
        _check_numel(name, t, c)
    for name, t in (('mean_weight', mean_weight), ('var_weight', var_weight)):
        if tuple(t._data.shape) != (3,):
            raise RuntimeError(f'{name} should have shape [3], got {_shape_list(t._data.shape)}')
    _check_same_dtype(input, weight, bias, running_mean, running_var, mean_weight, var_weight)
    out = _ops.SwitchableNorm.apply(input, weight, bias, mean_weight, var_weight, running_mean,
                                    running_var, not batch_stats, momentum, eps)
    if training:
        _bump(running_mean)
        _bump(running_var)
    return out
