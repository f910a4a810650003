"""Activation functions, one fused op each (the layer zoo's nonlinearities).

Every op computes its forward in a few passes over memory (``out=`` buffers, in-place ufuncs)
and saves what its backward needs, only when a graph is recorded (``ctx.needs_input_grad`` is
empty otherwise). Large contiguous NumPy inputs run their kernels in parallel chunks
(``ember._parallel.map_chunks``), as PyTorch uses every core for them.

Speed notes for NumPy (measured on float32): ``expm1`` and ``log1p`` are scalar loops, an order
of magnitude slower than the SIMD ``exp`` and ``log``; ``where`` and masked copies are
branchy on irregular masks. So float32 kernels use an exact-to-a-few-ulp ``expm1`` built from
``exp`` and a short polynomial, ``log1p`` from ``log`` with a rounding correction, and a
bitwise select instead of ``where``. float64 uses NumPy's ``expm1`` / ``log1p`` directly;
float16 is computed in float32.

Gradients at kinks and at nan follow PyTorch: relu6/hardtanh pass no gradient at their bounds,
leaky_relu/prelu/rrelu use the negative slope at 0, elu-type functions use the negative branch
at 0, and nan inputs take the branch PyTorch's comparisons send them to.
"""
import math
from functools import partial

import numpy as np

from .._backend import xp_of, device_of
from .._parallel import parallel_ok, map_chunks
from .._tensor import _dim
from ..autograd.function import Op
from ..autograd.inplace import apply_inplace
from ._registry import tensor_method
from .reduction import _sum
from .special import erf_array
from .unary import _TYPE_NAMES, _check_tensor, _sigmoid_array

__all__ = ['threshold', 'threshold_', 'prelu', 'rrelu', 'rrelu_', 'selu', 'selu_', 'celu',
           'celu_', 'hardshrink']

_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_INF = math.inf
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_BETA = math.sqrt(2.0 / math.pi)
_GELU_KAPPA = 0.044715


# ---- helpers --------------------------------------------------------------------------------
def _not_implemented(kernel, dt):
    raise NotImplementedError(f'"{kernel}" not implemented for \'{_TYPE_NAMES[dt.name]}\'')


def _floating(kernel, a):
    """PyTorch's NotImplementedError for a kernel without integer/bool support."""
    if a.dtype.kind != 'f':
        _not_implemented(kernel, a.dtype)


def _up(a):
    """float16 arrays are computed in float32."""
    return a.astype(_F32) if a.dtype == _F16 else a


def _down(out, dtype):
    return out if out.dtype == dtype else out.astype(dtype)


def _launch(kernel, out, *arrays):
    """``kernel(*arrays, out=out)``, in parallel chunks when the arrays are large, C-contiguous
    NumPy arrays of one shape; returns ``out``."""
    if parallel_ok(out, *arrays):
        return map_chunks(kernel, out, *arrays)
    kernel(*arrays, out=out)
    return out


_UINT_OF = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _select(mask, a, b):
    """``where(mask, a, b)`` for floating arrays (of ``mask``'s shape) or Python scalars.
    NumPy's ``where`` branches per element (several ns each on irregular masks); large NumPy
    inputs take a branch-free bitwise select ``b ^ ((a ^ b) & -mask)`` instead."""
    ref = a if hasattr(a, 'dtype') else b
    if mask.__class__ is not np.ndarray or mask.size < 4096 or ref.dtype.kind != 'f':
        return xp_of(mask).where(mask, a, b)
    dt = ref.dtype
    ut = _UINT_OF[dt.itemsize]
    ai = a.view(ut) if hasattr(a, 'dtype') else np.array(a, dt).view(ut)
    bi = b.view(ut) if hasattr(b, 'dtype') else np.array(b, dt).view(ut)
    m = mask.view(np.uint8).astype(ut)
    np.negative(m, out=m)                       # all ones where mask holds
    np.bitwise_and(np.bitwise_xor(ai, bi), m, out=m)
    m ^= bi
    return m.view(dt)


def _scalar_like(v, a):
    """Python number ``v`` converted as PyTorch casts a scalar to ``a``'s integer dtype."""
    return int(v) if a.dtype.kind in 'iu' else v


# accurate expm1 on y <= 0 for float32: a polynomial p on [-T, 0] plus exp(y) - 1 below,
# joined without a select: p(max(y, -T)) + (exp(min(y, -T)) - exp(-T)); for y >= -T the second
# term is exactly 0 because the same exp kernel computed _EXP_T (checked by the tests). exp(y)
# itself, to a relative 2e-7 (1 + expm1 would cancel), is (1 + p(max(y, -T))) exp(min(y, -T)) /
# _EXP_T (exactly 1 at y = 0).
_T = 0.25
# p(y) = y q(y), q a near-minimax fit of expm1(y) / y on [-T, 0] (Chebyshev nodes, Lawson
# reweighting) to 2.7e-9 relative error: 1.6 ulp when evaluated in float32
_EXPM1_COEFS = (0.007514995969189571, 0.04149134926813247, 0.16665119074909504,
                0.49999952025992656, 0.9999999976184113)
_EXP_T = np.exp(np.full(64, -_T, np.float32))[0]


def _expm1_nonpos(y, out, exp_out=None):
    """expm1(y) into ``out`` for finite y <= 0, and exp(y) into ``exp_out`` if given
    (NumPy float32: within a few ulp; float64 and CuPy: the library's expm1)."""
    if y.dtype != _F32 or y.__class__ is not np.ndarray:
        if exp_out is not None:
            np.exp(y, out=exp_out)
        return np.expm1(y, out=out)
    a = np.clip(y, -_T, _INF, out=np.empty_like(y))
    c = _EXPM1_COEFS
    np.multiply(a, c[0], out=out)
    for k in c[1:]:
        out += k
        out *= a
    np.clip(y, -_INF, -_T, out=a)
    np.exp(a, out=a)
    if exp_out is not None:
        np.add(out, 1.0, out=exp_out)
        exp_out *= a
        exp_out /= _EXP_T
    a -= _EXP_T
    out += a
    return out


def _log1p(v, u, out, tmp):
    """log1p(v) into ``out`` for v >= 0, given u = 1 + v (rounded): float32 takes log(u) minus
    the rounding of u, ((u - 1) - v) / u (Goldberg; NumPy's float32 log1p is a scalar loop ten
    times slower than log); float64 and CuPy take log1p. ``tmp``: scratch array like v."""
    if v.dtype != _F32 or v.__class__ is not np.ndarray:
        return np.log1p(v, out=out)
    np.subtract(u, 1.0, out=tmp)
    tmp -= v
    tmp /= u
    np.log(u, out=out)
    out -= tmp
    return out


# ---- threshold, relu6 / hardtanh ------------------------------------------------------------
class Threshold(Op):
    """y = value where x <= threshold, else x. Backward: zero where x <= threshold."""

    @staticmethod
    def forward(ctx, x, threshold, value):
        if x.dtype.kind == 'b':
            _not_implemented('threshold_cpu', x.dtype)
        drop = x <= _scalar_like(threshold, x)
        if ctx.needs_input_grad:
            ctx.save_for_backward(drop)
        return _select(drop, _scalar_like(value, x), x)

    @staticmethod
    def backward(ctx, g):
        (drop,) = ctx.saved
        return g * ~drop


class ThresholdInplace(Threshold):
    backward_name = 'ThresholdBackward1'


class Hardtanh(Op):
    """y = clamp(x, min_val, max_val) (nan passes). Backward: zero where x <= min_val or
    x >= max_val."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        if x.dtype.kind == 'b':
            raise RuntimeError('Bool inputs not supported for hardtanh')
        lo, hi = _scalar_like(lo, x), _scalar_like(hi, x)
        if ctx.needs_input_grad:
            drop = x <= lo
            drop |= x >= hi
            ctx.save_for_backward(drop)
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (drop,) = ctx.saved
        return g * ~drop


# ---- leaky relu, prelu, rrelu ---------------------------------------------------------------
def _leaky(x, slope):
    """x where x > 0, else slope * x."""
    out = np.multiply(x, slope, out=np.empty_like(x))
    if 0 <= slope <= 1:
        return np.maximum(x, out, out=out)
    if slope > 1:
        return np.minimum(x, out, out=out)
    return _select(x > 0, x, out)


def _leaky_grad(g, pos, slope):
    """g where pos, else slope * g."""
    f = pos.astype(g.dtype)
    f *= 1.0 - slope
    f += slope
    f *= g
    return f


class LeakyRelu(Op):
    """y = x > 0 ? x : negative_slope * x. Backward: 1 or negative_slope (also at 0 and nan)."""

    @staticmethod
    def forward(ctx, x, slope):
        _floating('leaky_relu_cpu', x)
        ctx.slope = slope
        if ctx.needs_input_grad:
            ctx.save_for_backward(x > 0)
        return _leaky(x, slope)

    @staticmethod
    def backward(ctx, g):
        (pos,) = ctx.saved
        return _leaky_grad(g, pos, ctx.slope)


class LeakyReluInplace(LeakyRelu):
    backward_name = 'LeakyReluBackward1'


class RreluEval(LeakyRelu):
    """rrelu outside training: a leaky relu with slope (lower + upper) / 2."""
    backward_name = 'RreluWithNoiseBackward0'


class RreluEvalInplace(LeakyRelu):
    backward_name = 'RreluWithNoiseBackward1'


class RreluTrain(Op):
    """y = x * noise: noise ~ U(lower, upper) drawn from the default generator where x <= 0,
    1 elsewhere. Backward: g * noise."""
    backward_name = 'RreluWithNoiseBackward0'

    @staticmethod
    def forward(ctx, x, lower, upper):
        _floating('rrelu_with_noise_out_cpu', x)
        from .._random import _engine, _draw_uniform
        dt = _F32 if x.dtype == _F16 else x.dtype
        r = _draw_uniform(_engine(None, device_of(x)), x.shape, dt)
        r *= upper - lower
        r += lower
        noise = _select(x > 0, 1.0, r)
        if ctx.needs_input_grad:
            ctx.save_for_backward(noise)
        return _down(np.multiply(x, noise, dtype=dt), x.dtype)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved[0]


class RreluTrainInplace(RreluTrain):
    backward_name = 'RreluWithNoiseBackward1'


def _channel_weight(w, ndim):
    """PReLU's weight shaped to broadcast along dim 1 of an ``ndim``-dim input."""
    if w.size == 1 or ndim < 2:
        return w.reshape(())
    return w.reshape((1, -1) + (1,) * (ndim - 2))


class PreluKernel(Op):
    """y = x > 0 ? x : weight * x, the weight broadcast along dim 1 (channels).
    Backward: dx = g * (x > 0 ? 1 : weight); dweight = sum of g * x over x <= 0, per channel."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        wb = _channel_weight(w, x.ndim)
        return _select(x > 0, x, x * wb)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved
        need = ctx.needs_input_grad
        pos = x > 0
        wb = _channel_weight(w, x.ndim)
        gx = _select(pos, g, g * wb) if need[0] else None
        gw = None
        if need[1]:
            t = g * x
            t *= ~pos
            axes = tuple(i for i in range(x.ndim) if i != 1 or w.size == 1)
            gw = _sum(t, axes).reshape(w.shape)
        return gx, gw


# ---- elu / selu / celu ----------------------------------------------------------------------
def _elu_kernel(x, dexp, *, out, alpha, scale, input_scale, grad):
    """With y = min(x, 0) * input_scale (nan -> 0, so that backward stays finite there):
    out := scale * max(x, 0) + scale * alpha * expm1(y); dexp := exp(y) when ``grad``."""
    y = np.zeros_like(x)
    np.fmin(x, y, out=y)
    if input_scale != 1:
        y *= input_scale
    _expm1_nonpos(y, out, dexp if grad else None)
    if scale * alpha != 1:
        out *= scale * alpha
    np.clip(x, 0.0, _INF, out=y)
    if scale != 1:
        y *= scale
    out += y
    return out


class Elu(Op):
    """y = x > 0 ? scale * x : scale * alpha * (exp(x * input_scale) - 1) (elu, selu, celu).
    Backward: scale, or scale * alpha * input_scale * exp(x * input_scale) where x <= 0, from
    the exp saved by forward (1 for x > 0, so the mask is only needed when the two branches
    disagree at 0: elu with alpha != 1, selu)."""

    @staticmethod
    def forward(ctx, x, alpha, scale, input_scale):
        _floating('elu_cpu', x)
        xc = _up(x)
        xp = xp_of(xc)
        grad = bool(ctx.needs_input_grad)
        out = xp.empty_like(xc)
        dexp = xp.empty_like(xc) if grad else out   # not written without grad
        kernel = partial(_elu_kernel, alpha=alpha, scale=scale, input_scale=input_scale,
                         grad=grad)
        _launch(kernel, out, xc, dexp)
        if grad:
            slope = scale * alpha * input_scale
            ctx.consts = (slope, scale)
            ctx.save_for_backward(dexp, None if slope == scale else x <= 0)
        return _down(out, x.dtype)

    @staticmethod
    def backward(ctx, g):
        dexp, nonpos = ctx.saved
        slope, scale = ctx.consts
        f = dexp * slope
        if nonpos is not None:
            f = _select(nonpos, f, scale)
        f *= g
        return f


class EluInplace(Elu):
    backward_name = 'EluBackward1'


class Celu(Elu):
    """celu: Elu with input_scale = 1 / alpha (its own node name, CeluBackward0)."""


class CeluInplace(Elu):
    backward_name = 'CeluBackward1'


# ---- gelu, silu, mish -----------------------------------------------------------------------
def _gelu_kernel(x, cdf, *, out):
    """cdf := (1 + erf(x / sqrt(2))) / 2; out := x * cdf."""
    np.multiply(x, _SQRT1_2, out=cdf)
    np.add(erf_array(cdf), 1.0, out=cdf)
    cdf *= 0.5
    return np.multiply(x, cdf, out=out)


def _gelu_grad_kernel(g, x, cdf, *, out):
    """out := g * (cdf + x * pdf(x))."""
    np.multiply(x, x, out=out)
    out *= -0.5
    np.exp(out, out=out)
    out *= x
    out *= _INV_SQRT_2PI
    out += cdf
    out *= g
    return out


def _gelu_tanh_kernel(x, e, *, out):
    """With u = sqrt(2/pi) (x + 0.044715 x^3): 1 + tanh(u) = 2 sigmoid(2u), so
    out := x / (1 + e) with e := exp(-2u) kept; no cancellation for negative x (where
    x (1 + tanh(u)) / 2 loses float32's relative precision)."""
    np.multiply(x, x, out=e)
    e *= _GELU_KAPPA
    e += 1.0
    e *= x
    e *= -2.0 * _GELU_BETA
    np.exp(e, out=e)
    np.add(e, 1.0, out=out)
    return np.divide(x, out, out=out)


def _gelu_tanh_grad_kernel(g, x, e, *, out):
    """out := g * s * (1 + 2 x u' e s), s = 1 / (1 + e), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
    (e capped where it overflowed, so that the gradient is 0 there, not nan)."""
    q = np.clip(e, 0.0, 1e30, out=np.empty_like(e))
    s = np.add(q, 1.0, out=np.empty_like(q))
    np.divide(1.0, s, out=s)
    q *= s
    np.multiply(x, x, out=out)
    out *= 3.0 * _GELU_KAPPA
    out += 1.0
    out *= 2.0 * _GELU_BETA
    out *= x
    out *= q
    out += 1.0
    out *= s
    out *= g
    return out


class Gelu(Op):
    """y = x * Phi(x) with the exact normal CDF (erf), or PyTorch's tanh approximation."""

    @staticmethod
    def forward(ctx, x, approximate):
        _floating('GeluKernelImpl', x)
        xc = _up(x)
        xp = xp_of(xc)
        saved = xp.empty_like(xc)
        kernel = _gelu_tanh_kernel if approximate == 'tanh' else _gelu_kernel
        out = _launch(kernel, xp.empty_like(xc), xc, saved)
        if ctx.needs_input_grad:
            ctx.tanh = approximate == 'tanh'
            ctx.save_for_backward(xc, saved)
        return _down(out, x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, saved = ctx.saved
        kernel = _gelu_tanh_grad_kernel if ctx.tanh else _gelu_grad_kernel
        return _launch(kernel, xp_of(x).empty_like(x), g, x, saved)


def _silu_kernel(x, d, *, out):
    """d := 1 + exp(-x); out := x / d."""
    np.negative(x, out=d)
    np.exp(d, out=d)
    d += 1.0
    return np.divide(x, d, out=out)


def _silu_grad_kernel(g, x, d, *, out):
    """s = 1 / d = sigmoid(x); out := g * s * (1 + x * (1 - s))."""
    s = np.divide(1.0, d)
    np.subtract(1.0, s, out=out)
    out *= x
    out += 1.0
    out *= s
    out *= g
    return out


class Silu(Op):
    """y = x * sigmoid(x) = x / (1 + exp(-x))."""

    @staticmethod
    def forward(ctx, x):
        _floating('silu_cpu', x)
        xc = _up(x)
        xp = xp_of(xc)
        d = xp.empty_like(xc)
        out = _launch(_silu_kernel, xp.empty_like(xc), xc, d)
        if ctx.needs_input_grad:
            ctx.save_for_backward(xc, d)
        return _down(out, x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, d = ctx.saved
        return _launch(_silu_grad_kernel, xp_of(x).empty_like(x), g, x, d)


def _mish_kernel(x, e, t, w, *, out):
    """tanh(softplus(x)) = n / (n + 2) with n = e (e + 2), e = exp(x) (x capped at 20, where the
    ratio is 1 in every float type). Keeps e and t = n / (n + 2); out := x t."""
    np.clip(x, -_INF, 20.0, out=e)
    np.exp(e, out=e)
    np.add(e, 2.0, out=t)
    t *= e
    np.add(t, 2.0, out=w)
    t /= w
    return np.multiply(x, t, out=out)


class Mish(Op):
    """y = x * tanh(softplus(x)). Backward: t + x * sigmoid(x) * (1 - t^2), t the saved
    tanh(softplus(x)), sigmoid(x) = e / (1 + e)."""

    @staticmethod
    def forward(ctx, x):
        _floating('mish_cpu', x)
        xc = _up(x)
        xp = xp_of(xc)
        e, t, w = xp.empty_like(xc), xp.empty_like(xc), xp.empty_like(xc)
        out = _launch(_mish_kernel, xp.empty_like(xc), xc, e, t, w)
        if ctx.needs_input_grad:
            ctx.save_for_backward(xc, e, t)
        return _down(out, x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, e, t = ctx.saved
        sig = np.add(e, 1.0, out=np.empty_like(e))
        np.divide(e, sig, out=sig)
        f = np.multiply(t, t, out=np.empty_like(t))
        np.subtract(1.0, f, out=f)
        f *= sig
        f *= x
        f += t
        f *= g
        return f


# ---- softplus, logsigmoid -------------------------------------------------------------------
def _softplus_kernel(x, s, *, out, beta, grad):
    """out := log1p(e) / beta with e = exp(beta x); s := sigmoid(beta x) = e / (1 + e) when
    ``grad``. The caller makes it linear above the threshold."""
    z = x if beta == 1 else np.multiply(x, beta, out=np.empty_like(x))
    e = np.exp(z, out=out)
    u = np.add(e, 1.0, out=np.empty_like(e))
    if grad:
        np.divide(e, u, out=s)
    _log1p(e, u, out, np.empty_like(u))
    if beta != 1:
        out /= beta
    return out


class Softplus(Op):
    """y = log(1 + exp(beta x)) / beta, linear (y = x) where beta x > threshold.
    Backward: g * sigmoid(beta x), or g above the threshold."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        _floating('softplus_cpu', x)
        xc = _up(x)
        xp = xp_of(xc)
        grad = bool(ctx.needs_input_grad)
        out = xp.empty_like(xc)
        s = xp.empty_like(xc) if grad else out      # not written without grad
        _launch(partial(_softplus_kernel, beta=beta, grad=grad), out, xc, s)
        linear = (xc * beta if beta != 1 else xc) > threshold
        if not linear.any():
            linear = None
        else:
            xp.copyto(out, xc, where=linear)
        if grad:
            ctx.save_for_backward(s, linear)
        return _down(out, x.dtype)

    @staticmethod
    def backward(ctx, g):
        s, linear = ctx.saved
        r = np.multiply(g, s, out=np.empty_like(s))
        if linear is not None:
            xp_of(r).copyto(r, g, where=linear)
        return r


def _logsigmoid_kernel(x, v, u, *, out):
    """v := exp(-|x|), u := 1 + v; out := min(x, 0) - log1p(v)."""
    np.abs(x, out=v)
    np.negative(v, out=v)
    np.exp(v, out=v)
    np.add(v, 1.0, out=u)
    tmp = np.empty_like(v)
    _log1p(v, u, out, tmp)
    np.clip(x, -_INF, 0.0, out=tmp)
    return np.subtract(tmp, out, out=out)


class LogSigmoid(Op):
    """y = log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable for any x.
    Backward: g * sigmoid(-x) = g * (x < 0 ? 1 : v) / u."""

    @staticmethod
    def forward(ctx, x):
        _floating('log_sigmoid_cpu', x)
        xc = _up(x)
        xp = xp_of(xc)
        v, u = xp.empty_like(xc), xp.empty_like(xc)
        out = _launch(_logsigmoid_kernel, xp.empty_like(xc), xc, v, u)
        if ctx.needs_input_grad:
            ctx.save_for_backward(xc, v, u)
        return _down(out, x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, v, u = ctx.saved
        f = np.maximum(v, x < 0)        # 1 where x < 0, else v (nan stays)
        f /= u
        f *= g
        return f


# ---- hard functions and shrinkage -----------------------------------------------------------
class Hardsigmoid(Op):
    """y = clamp(x + 3, 0, 6) / 6. Backward: g / 6 where -3 < x < 3, else 0."""

    @staticmethod
    def forward(ctx, x):
        _floating('hardsigmoid_cpu', x)
        ctx.save_for_backward(x)
        out = np.add(x, 3.0, out=np.empty_like(x))
        np.clip(out, 0.0, 6.0, out=out)
        out /= 6.0
        return out

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        inside = x > -3.0
        inside &= x < 3.0
        r = g * inside
        r /= 6.0
        return r


class Hardswish(Op):
    """y = x * clamp(x + 3, 0, 6) / 6. Backward: 0 for x <= -3, x / 3 + 1/2 for x < 3, else 1
    (nan included)."""

    @staticmethod
    def forward(ctx, x):
        _floating('hardswish_cpu', x)
        ctx.save_for_backward(x)
        out = np.add(x, 3.0, out=np.empty_like(x))
        np.clip(out, 0.0, 6.0, out=out)
        out *= x
        out /= 6.0
        return out

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        f = x / 3.0
        f += 0.5
        f = _select(x > -3.0, f, 0.0)
        f = _select(x < 3.0, f, 1.0)
        f *= g
        return f


class Softshrink(Op):
    """y = x - clamp(x, -lambd, lambd). Backward: zero where |x| <= lambd."""

    @staticmethod
    def forward(ctx, x, lambd):
        _floating('softshrink_check', x)
        ctx.save_for_backward(x)
        ctx.lambd = lambd
        return np.subtract(x, np.clip(x, -lambd, lambd))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * ~(np.abs(x) <= ctx.lambd)


class Hardshrink(Op):
    """y = 0 where -lambd <= x <= lambd, else x. Backward: the same mask."""

    @staticmethod
    def forward(ctx, x, lambd):
        _floating('hardshrink_cpu', x)
        keep = x < -lambd
        keep |= ~(x <= lambd)
        if ctx.needs_input_grad:
            ctx.save_for_backward(keep)
        return x * keep

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved[0]


# ---- glu ------------------------------------------------------------------------------------
class Glu(Op):
    """y = a * sigmoid(b), with a, b the two halves of x along ``axis``.
    Backward: da = g * s, db = g * a * s * (1 - s)."""

    @staticmethod
    def forward(ctx, x, axis):
        _floating('glu_cpu', x)
        xc = _up(x)
        h = x.shape[axis] // 2
        a, b = _halves(xc, axis, h)
        s = _sigmoid_array(b)
        if ctx.needs_input_grad:
            ctx.axis, ctx.h = axis, h
            ctx.save_for_backward(xc, s)
        return _down(a * s, x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved
        a = _halves(x, ctx.axis, ctx.h)[0]
        gx = xp_of(g).empty(x.shape, s.dtype)
        ga, gb = _halves(gx, ctx.axis, ctx.h)
        np.multiply(g, s, out=ga)
        d = np.subtract(1.0, s)
        d *= a
        np.multiply(ga, d, out=gb)
        return gx


def _halves(x, axis, h):
    first = [slice(None)] * x.ndim
    second = list(first)
    first[axis] = slice(0, h)
    second[axis] = slice(h, 2 * h)
    return x[tuple(first)], x[tuple(second)]


def glu_op(input, dim):
    """The GLU op on ``input`` split along ``dim`` (checked: non-scalar, even size)."""
    a = input._data
    if a.ndim == 0:
        raise RuntimeError('glu does not support scalars because halving size must be even')
    axis = _dim(dim, a.ndim)
    if a.shape[axis] % 2:
        raise RuntimeError(f'Halving dimension must be even, but dimension {axis} is size '
                           f'{a.shape[axis]}')
    return Glu.apply(input, axis)


# ---- public functions (torch.X) -------------------------------------------------------------
def threshold(input, threshold, value):
    """``value`` where input <= threshold, else input."""
    _check_tensor('threshold', input)
    return Threshold.apply(input, threshold, value)


def threshold_(input, threshold, value):
    _check_tensor('threshold_', input)
    return apply_inplace(input, ThresholdInplace.apply, threshold, value)


def _prelu_check(input, weight):
    a, w = input._data, weight._data
    if a.dtype != w.dtype:
        raise RuntimeError(f'prelu: Type promoting not supported. Got {_TYPE_NAMES[a.dtype.name]} '
                           f'and {_TYPE_NAMES[w.dtype.name]}')
    if w.ndim > 1:
        raise RuntimeError(f'prelu: Expected `weight` to be a scalar or 1D tensor, but got: '
                           f'ndim = {w.ndim}')
    if w.size != 1:
        if a.ndim == 0:
            raise RuntimeError('Not allow zero-dim input tensor.')
        channels = a.shape[1] if a.ndim >= 2 else 1
        if w.size != channels:
            raise RuntimeError('Mismatch of parameter numbers and input channel size. Found '
                               f'parameter numbers = {w.size} and channel size = {channels}.')


@tensor_method
def prelu(input, weight):
    """x where x > 0, else weight * x, with one weight per channel (dim 1) or one shared."""
    _check_tensor('prelu', input)
    _prelu_check(input, weight)
    return PreluKernel.apply(input, weight)


def _rrelu_check(lower, upper):
    if lower > upper:
        raise RuntimeError('Lower bound should be less than or equal to the upper bound')


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """Randomized leaky relu: slopes ~ U(lower, upper) in training, (lower + upper) / 2
    otherwise."""
    _check_tensor('rrelu', input)
    _rrelu_check(lower, upper)
    if training:
        return RreluTrain.apply(input, lower, upper)
    return RreluEval.apply(input, (lower + upper) / 2)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    _check_tensor('rrelu_', input)
    _rrelu_check(lower, upper)
    if training:
        return apply_inplace(input, RreluTrainInplace.apply, lower, upper)
    return apply_inplace(input, RreluEvalInplace.apply, (lower + upper) / 2)


def selu(input):
    """scale * (max(0, x) + min(0, alpha * (exp(x) - 1))), the self-normalising constants."""
    _check_tensor('selu', input)
    return Elu.apply(input, _SELU_ALPHA, _SELU_SCALE, 1.0)


def selu_(input):
    _check_tensor('selu_', input)
    return apply_inplace(input, EluInplace.apply, _SELU_ALPHA, _SELU_SCALE, 1.0)


def _celu_check(alpha):
    if alpha == 0:
        raise RuntimeError('ZeroDivisionError: alpha cannot be 0 for CELU')


def celu(input, alpha=1.0):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    _check_tensor('celu', input)
    _celu_check(alpha)
    return Celu.apply(input, alpha, 1.0, 1.0 / alpha)


def celu_(input, alpha=1.0):
    _check_tensor('celu_', input)
    _celu_check(alpha)
    return apply_inplace(input, CeluInplace.apply, alpha, 1.0, 1.0 / alpha)


@tensor_method
def hardshrink(input, lambd=0.5):
    """0 where |x| <= lambd, else x."""
    _check_tensor('hardshrink', input)
    return Hardshrink.apply(input, lambd)
