"""Activation functions of ``ember.nn.functional``: argument checks here, math in
ember.ops.activation (one fused op each), ember.ops.unary (relu, sigmoid, tanh) and
ember.ops.reduction (softmax, log_softmax).

``inplace=True`` variants write into ``input`` through ``apply_inplace``, so autograd stays
right on non-leaf inputs and views (PyTorch's errors for leaves that require grad included).
"""
import warnings

import numpy as np

from ...ops import activation as _act
from ...ops.activation import (threshold_, prelu, rrelu_, selu_, celu_, hardshrink,  # noqa: F401
                               glu_op)
from ...ops import unary as _unary
from ...ops.reduction import softmax as _softmax_op, log_softmax as _log_softmax_op
from ...autograd.inplace import apply_inplace

__all__ = ['threshold', 'threshold_', 'relu', 'relu_', 'relu6', 'hardtanh', 'hardtanh_',
           'leaky_relu', 'leaky_relu_', 'prelu', 'rrelu', 'rrelu_', 'elu', 'elu_', 'selu',
           'selu_', 'celu', 'celu_', 'gelu', 'silu', 'mish', 'sigmoid', 'tanh', 'softmax',
           'softmin', 'log_softmax', 'softplus', 'softsign', 'softshrink', 'hardshrink',
           'hardswish', 'hardsigmoid', 'logsigmoid', 'tanhshrink', 'glu']

_check = _unary._check_tensor


def threshold(input, threshold, value, inplace=False):
    """``value`` where input <= threshold, else input."""
    if inplace:
        return threshold_(input, threshold, value)
    return _act.threshold(input, threshold, value)


def relu(input, inplace=False):
    """max(input, 0)."""
    _check('relu', input)
    return _unary.relu_(input) if inplace else _unary.relu(input)


def relu_(input):
    _check('relu_', input)
    return _unary.relu_(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(input, min_val, max_val); no gradient at or beyond the bounds."""
    _check('hardtanh', input)
    if min_val > max_val:
        raise ValueError('min_val cannot be greater than max_val')
    if inplace:
        return apply_inplace(input, _act.Hardtanh.apply, min_val, max_val)
    return _act.Hardtanh.apply(input, min_val, max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, True)


def relu6(input, inplace=False):
    """min(max(input, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """input where input > 0, else negative_slope * input."""
    if inplace:
        return leaky_relu_(input, negative_slope)
    _check('leaky_relu', input)
    return _act.LeakyRelu.apply(input, negative_slope)


def leaky_relu_(input, negative_slope=0.01):
    _check('leaky_relu_', input)
    return apply_inplace(input, _act.LeakyReluInplace.apply, negative_slope)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky relu: slopes ~ U(lower, upper) (the global generator) in training,
    (lower + upper) / 2 otherwise."""
    if inplace:
        return rrelu_(input, lower, upper, training)
    return _act.rrelu(input, lower, upper, training)


def elu(input, alpha=1.0, inplace=False):
    """input where input > 0, else alpha * (exp(input) - 1)."""
    if inplace:
        return elu_(input, alpha)
    _check('elu', input)
    return _act.Elu.apply(input, alpha, 1.0, 1.0)


def elu_(input, alpha=1.0):
    _check('elu_', input)
    return apply_inplace(input, _act.EluInplace.apply, alpha, 1.0, 1.0)


def selu(input, inplace=False):
    """scale * elu(input, alpha) with the self-normalising constants."""
    return selu_(input) if inplace else _act.selu(input)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    return celu_(input, alpha) if inplace else _act.celu(input, alpha)


def gelu(input, *, approximate='none'):
    """input * Phi(input) (Phi: the standard normal CDF, exact through erf), or with
    approximate='tanh' 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    _check('gelu', input)
    if approximate not in ('none', 'tanh'):
        raise RuntimeError('approximate argument must be either none or tanh.')
    return _act.Gelu.apply(input, approximate)


def silu(input, inplace=False):
    """input * sigmoid(input)."""
    _check('silu', input)
    if inplace:
        return apply_inplace(input, _act.Silu.apply)
    return _act.Silu.apply(input)


def mish(input, inplace=False):
    """input * tanh(softplus(input))."""
    _check('mish', input)
    if inplace:
        return apply_inplace(input, _act.Mish.apply)
    return _act.Mish.apply(input)


def hardswish(input, inplace=False):
    """input * relu6(input + 3) / 6."""
    _check('hardswish', input)
    if inplace:
        return apply_inplace(input, _act.Hardswish.apply)
    return _act.Hardswish.apply(input)


def hardsigmoid(input, inplace=False):
    """relu6(input + 3) / 6."""
    _check('hardsigmoid', input)
    if inplace:
        return apply_inplace(input, _act.Hardsigmoid.apply)
    return _act.Hardsigmoid.apply(input)


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * input)) / beta, and input itself where beta * input > threshold."""
    _check('softplus', input)
    return _act.Softplus.apply(input, beta, threshold)


def logsigmoid(input):
    """log(sigmoid(input)), stable for large |input|."""
    _check('log_sigmoid', input)
    return _act.LogSigmoid.apply(input)


def softsign(input):
    """input / (1 + |input|)."""
    return input / (input.abs() + 1)


def tanhshrink(input):
    """input - tanh(input)."""
    return input - input.tanh()


def _lambd_check(lambd, input):
    """Softshrink's range check on ``lambd`` (PyTorch's message)."""
    if input._data.dtype.kind == 'f' and not lambd >= 0:
        info = np.finfo(input._data.dtype)
        name = {2: 'Half', 4: 'Float', 8: 'Double'}[info.dtype.itemsize]
        raise RuntimeError(f'lambda must be in range [0, {float(info.max):g}] for input dtype '
                           f'{name}, but found {lambd:g}')


def softshrink(input, lambd=0.5):
    """input - lambd where input > lambd, input + lambd where input < -lambd, else 0."""
    _check('softshrink', input)
    _lambd_check(lambd, input)
    return _act.Softshrink.apply(input, lambd)


def glu(input, dim=-1):
    """a * sigmoid(b) where a, b are the halves of input along ``dim`` (of even size)."""
    return glu_op(input, dim)


def _softmax_dim(name, ndim, stacklevel):
    """PyTorch's legacy choice of dim when none is given (dim 0 for 0-, 1- and 3-dim inputs,
    else 1), with its deprecation warning."""
    warnings.warn(f'Implicit dimension choice for {name} has been deprecated. Change the call '
                  'to include dim=X as an argument.', stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(input) / sum(exp(input)) along ``dim`` (computed in ``dtype`` if given)."""
    if dim is None:
        dim = _softmax_dim('softmax', input.dim(), _stacklevel)
    return _softmax_op(input, dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-input) along ``dim``."""
    if dim is None:
        dim = _softmax_dim('softmin', input.dim(), _stacklevel)
    return _softmax_op(-input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(input)) along ``dim``, computed stably in one op."""
    if dim is None:
        dim = _softmax_dim('log_softmax', input.dim(), _stacklevel)
    return _log_softmax_op(input, dim, dtype)
