"""Elementwise math functions: exponentials and logarithms, powers and roots, trigonometric and
hyperbolic functions, activations, rounding, floating-point classification, and the binary
functions of the same kind (atan2, hypot, xlogy, logaddexp).

dtypes follow PyTorch: transcendental functions give the default float dtype for integer and
bool inputs; abs, sign, relu, square and the rounding functions keep integer dtypes.
Gradients at special points are PyTorch's (abs'(0) = 0, relu'(0) = 0, sqrt'(0) = inf, zero
for the piecewise-constant functions).

Large float32 arrays: each forward is one NumPy ufunc where one exists, else a few ufuncs
writing into one ``out=`` buffer (sigmoid = 1 / (1 + exp(-x)) in four in-place passes: faster
than 0.5 tanh(x / 2) + 0.5, which also loses relative precision for x << 0); relu takes the
maximum against an array of zeros, twice as fast as NumPy's scalar path. Backward formulas
reuse the saved output where that saves passes (exp, tanh, sigmoid, sqrt, relu).
"""
import math

import numpy as np

from .. import _dtype
from .. import _parallel as _par
from .._backend import xp_of
from .._tensor import Tensor, _wrap
from ..autograd.function import Op
from ..autograd.inplace import apply_inplace
from ._registry import tensor_method
from .elementwise import promote, _operand, _store_out

__all__ = ['exp', 'exp2', 'expm1', 'log', 'log1p', 'log2', 'log10', 'sqrt', 'rsqrt', 'square',
           'abs', 'absolute', 'sign', 'sgn', 'reciprocal', 'sin', 'cos', 'tan', 'asin',
           'arcsin', 'acos', 'arccos', 'atan', 'arctan', 'atan2', 'arctan2', 'sinh', 'cosh',
           'tanh', 'asinh', 'arcsinh', 'acosh', 'arccosh', 'atanh', 'arctanh', 'sigmoid',
           'logit', 'relu', 'floor', 'ceil', 'round', 'trunc', 'fix', 'frac', 'isnan', 'isinf',
           'isfinite', 'isposinf', 'isneginf', 'isreal', 'nan_to_num', 'signbit', 'hypot',
           'xlogy', 'logaddexp', 'logaddexp2', 'deg2rad', 'rad2deg', 'sinc',
           'exp_', 'exp2_', 'expm1_', 'log_', 'log1p_', 'log2_', 'log10_', 'sqrt_', 'rsqrt_',
           'square_', 'abs_', 'reciprocal_', 'sin_', 'cos_', 'tan_', 'asin_', 'arcsin_',
           'acos_', 'arccos_', 'atan_', 'arctan_', 'sinh_', 'cosh_', 'tanh_', 'asinh_',
           'arcsinh_', 'acosh_', 'arccosh_', 'atanh_', 'arctanh_', 'sigmoid_', 'logit_',
           'relu_', 'floor_', 'ceil_', 'round_', 'trunc_', 'fix_', 'frac_', 'nan_to_num_',
           'deg2rad_', 'rad2deg_', 'xlogy_', 'sinc_']

_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_PI = math.pi
_DEG = math.pi / 180.0


# ---- helpers --------------------------------------------------------------------------------
def _fl(a):
    """``a`` in a floating dtype: integer and bool arrays become the default float dtype."""
    return a if a.dtype.kind == 'f' else a.astype(_dtype.default_float_np())


_TYPE_NAMES = {'bool': 'Bool', 'uint8': 'Byte', 'int8': 'Char', 'int16': 'Short', 'int32': 'Int',
               'int64': 'Long', 'float16': 'Half', 'float32': 'Float', 'float64': 'Double'}


def _not_implemented(kernel, dt):
    raise NotImplementedError(f'"{kernel}_cpu" not implemented for \'{_TYPE_NAMES[dt.name]}\'')


def _no_bool(kernel, a):
    if a.dtype.kind == 'b':
        _not_implemented(kernel, a.dtype)


def _float_only(kernel, a):
    if a.dtype.kind != 'f':
        _not_implemented(kernel, a.dtype)


def _zeros(g):
    return xp_of(g).zeros_like(g)


def _sign(x):
    """sign with sign(nan) = 0 (PyTorch's), in x's dtype; bool stays bool."""
    if x.dtype.kind == 'b':
        return x.copy()
    if x.dtype.kind != 'f':
        return np.sign(x)
    s = np.greater(x, 0).astype(x.dtype)
    s -= np.less(x, 0)
    return s


def _buffer(x):
    """A new array shaped and typed like ``x`` (0-d stays an array, for ``out=`` chains)."""
    return xp_of(x).empty_like(x)


def _sigmoid_array(x):
    """1 / (1 + exp(-x)) in four in-place passes; float16 is computed in float32."""
    if x.dtype == _F16:
        return _sigmoid_array(x.astype(_F32)).astype(_F16)
    o = _buffer(x)
    np.negative(x, out=o)
    np.exp(o, out=o)
    o += 1.0
    np.divide(1.0, o, out=o)
    return o


def _not_tensor(name, x):
    raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                    f'{type(x).__name__}')


def _check_tensor(name, x):
    """PyTorch's TypeError when a function's ``input`` is not a Tensor."""
    if x.__class__ is not Tensor and not isinstance(x, Tensor):
        _not_tensor(name, x)


def _category(dt):
    return 0 if dt.kind == 'b' else (2 if dt.kind == 'f' else 1)


def _store(out, r):
    """Return ``r``, or write it into the ``out=`` tensor (which must be able to hold it)."""
    if out is None:
        return r
    rd, od = r._data.dtype, out._data.dtype
    if _category(rd) > _category(od):
        raise RuntimeError(f"result type {_TYPE_NAMES[rd.name]} can't be cast to the desired "
                           f"output type {_TYPE_NAMES[od.name]}")
    return _store_out(out, r)


# ---- exponentials and logarithms ------------------------------------------------------------
class Exp(Op):
    @staticmethod
    def forward(ctx, x):
        out = _par.unary(np.exp, _fl(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return _par.binary(np.multiply, g, ctx.saved[0])


class Exp2(Op):
    @staticmethod
    def forward(ctx, x):
        out = np.exp2(_fl(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.saved[0] * _LN2)


class Expm1(Op):
    @staticmethod
    def forward(ctx, x):
        out = np.expm1(_fl(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.saved[0] + 1.0)


class Log(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        return _par.unary(np.log, x)

    @staticmethod
    def backward(ctx, g):
        return _par.binary(np.divide, g, ctx.saved[0])


class Log1P(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        return np.log1p(x)

    @staticmethod
    def backward(ctx, g):
        return g / (ctx.saved[0] + 1.0)


class Log2(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        return np.log2(x)

    @staticmethod
    def backward(ctx, g):
        return g / (ctx.saved[0] * _LN2)


class Log10(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        return np.log10(x)

    @staticmethod
    def backward(ctx, g):
        return g / (ctx.saved[0] * _LN10)


# ---- powers and roots -----------------------------------------------------------------------
class Sqrt(Op):
    @staticmethod
    def forward(ctx, x):
        out = _par.unary(np.sqrt, _fl(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g / (2.0 * ctx.saved[0])


class Rsqrt(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        o = _buffer(x)
        np.sqrt(x, out=o)
        np.divide(1.0, o, out=o)
        ctx.save_for_backward(o)
        return o

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved
        return g * (-0.5 * (out * out * out))


class Square(Op):
    backward_name = 'PowBackward0'

    @staticmethod
    def forward(ctx, x):
        if x.dtype.kind == 'b':
            x = x.astype(np.int64)
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        return g * (2.0 * ctx.saved[0])


class Reciprocal(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        o = _buffer(x)
        np.divide(1.0, x, out=o)
        ctx.save_for_backward(o)
        return o

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved
        return -g * (out * out)


# ---- sign and magnitude ---------------------------------------------------------------------
class Abs(Op):
    @staticmethod
    def forward(ctx, x):
        _no_bool('abs', x)
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        return g * _sign(ctx.saved[0])


class Sign(Op):
    @staticmethod
    def forward(ctx, x):
        return _sign(x)

    @staticmethod
    def backward(ctx, g):
        return _zeros(g)


class Sgn(Sign):
    pass


# ---- trigonometric and hyperbolic -----------------------------------------------------------
class Sin(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        return g * np.cos(ctx.saved[0])


class Cos(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, g):
        return g * -np.sin(ctx.saved[0])


class Tan(Op):
    @staticmethod
    def forward(ctx, x):
        out = np.tan(_fl(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved
        return g * (out * out + 1.0)


class Asin(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        return np.arcsin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / np.sqrt(1.0 - x * x)


class Acos(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        return np.arccos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return -g / np.sqrt(1.0 - x * x)


class Atan(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        return np.arctan(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / (x * x + 1.0)


class Sinh(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        return np.sinh(x)

    @staticmethod
    def backward(ctx, g):
        return g * np.cosh(ctx.saved[0])


class Cosh(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        return np.cosh(x)

    @staticmethod
    def backward(ctx, g):
        return g * np.sinh(ctx.saved[0])


class Tanh(Op):
    @staticmethod
    def forward(ctx, x):
        out = _par.unary(np.tanh, _fl(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return _par.kernel(_tanh_grad, ctx.saved[0], ctx.saved[0], g)


def _tanh_grad(y, g, out):
    np.multiply(y, y, out=out)
    np.subtract(1.0, out, out=out)
    out *= g


class Asinh(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        return np.arcsinh(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / np.sqrt(x * x + 1.0)


class Acosh(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        return np.arccosh(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / np.sqrt(x * x - 1.0)


class Atanh(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        return np.arctanh(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / (1.0 - x * x)


class Atan2(Op):
    @staticmethod
    def forward(ctx, y, x):
        y, x = promote(y, x)
        y, x = _fl(y), _fl(x)
        ctx.save_for_backward(y, x)
        return np.arctan2(y, x)

    @staticmethod
    def backward(ctx, g):
        y, x = ctx.saved
        need = ctx.needs_input_grad
        r = x * x + y * y
        gr = _zero_where(g / r, r == 0)  # 0 at the origin (not nan), as PyTorch
        return (gr * x if need[0] else None), (gr * -y if need[1] else None)


class Hypot(Op):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        _float_only('hypot', a)
        out = np.hypot(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved
        need = ctx.needs_input_grad
        go = g / out
        return (go * a if need[0] else None), (go * b if need[1] else None)


class Sinc(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        ctx.save_for_backward(x)
        if x.dtype == _F16:
            return _sinc_array(x.astype(_F32)).astype(_F16)
        return _sinc_array(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        px = x * _PI
        den = x * x * _PI
        d = (px * np.cos(px) - np.sin(px)) / den
        return g * _zero_where(d, den == 0)  # 0 where pi x^2 underflows, as PyTorch


def _sinc_array(x):
    """sin(pi x) / (pi x), 1 at 0."""
    px = np.multiply(x, _PI, out=_buffer(x))
    o = np.sin(px, out=_buffer(x))
    o /= px
    return np.where(x == 0, 1.0, o)


class Deg2Rad(Op):
    @staticmethod
    def forward(ctx, x):
        return _fl(x) * _DEG

    @staticmethod
    def backward(ctx, g):
        return g * _DEG


class Rad2Deg(Op):
    @staticmethod
    def forward(ctx, x):
        return _fl(x) * (1.0 / _DEG)

    @staticmethod
    def backward(ctx, g):
        return g * (1.0 / _DEG)


# ---- activations ----------------------------------------------------------------------------
class Sigmoid(Op):
    @staticmethod
    def forward(ctx, x):
        x = _fl(x)
        out = _par.kernel(_sigmoid_kernel, x, x) if x.dtype != _F16 else _sigmoid_array(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return _par.kernel(_sigmoid_grad, ctx.saved[0], ctx.saved[0], g)


def _sigmoid_kernel(x, out):
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1.0
    np.divide(1.0, out, out=out)


def _sigmoid_grad(y, g, out):
    np.subtract(1.0, y, out=out)
    out *= y
    out *= g


class Logit(Op):
    @staticmethod
    def forward(ctx, x, eps):
        x = _fl(x)
        ctx.save_for_backward(x)
        ctx.eps = eps
        z = x if eps is None else np.clip(x, eps, 1.0 - eps)
        if x.dtype == _F16:
            z = z.astype(_F32)
        out = np.log(z / (1.0 - z))
        return out.astype(_F16) if x.dtype == _F16 else out

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        eps = ctx.eps
        d = g / (x * (1.0 - x))
        if eps is None:
            return np.where((x < 0) | (x > 1), np.nan, d)
        return np.where((x < eps) | (x > 1.0 - eps), 0, d)


class Relu(Op):
    @staticmethod
    def forward(ctx, x):
        if x.dtype.kind == 'b':
            raise RuntimeError('Boolean inputs not supported for relu')
        if x.size < 4096:
            out = np.maximum(x, x.dtype.type(0))
        else:
            # NumPy's maximum against a scalar misses its SIMD loop; against an array of
            # zeros (used as the output) it is twice as fast
            out = xp_of(x).zeros(x.shape, x.dtype)
            np.maximum(x, out, out=out)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved
        # out >= 0 or nan: the mask out != 0 is 0 where x <= 0 and lets nan pass, as PyTorch
        return g * (out != 0)


# ---- rounding -------------------------------------------------------------------------------
class _Rounding(Op):
    """Piecewise-constant: integer inputs are returned as copies, the gradient is zero."""
    kernel = None
    ufunc = None

    @classmethod
    def forward(cls, ctx, x):
        _no_bool(cls.kernel, x)
        if x.dtype.kind in 'iu':
            return x.copy()
        return cls.ufunc(x)

    @staticmethod
    def backward(ctx, g):
        return _zeros(g)


class Floor(_Rounding):
    kernel, ufunc = 'floor_vml', np.floor


class Ceil(_Rounding):
    kernel, ufunc = 'ceil_vml', np.ceil


class Trunc(_Rounding):
    kernel, ufunc = 'trunc_vml', np.trunc


class Round(_Rounding):
    kernel, ufunc = 'round_vml', np.rint


class RoundDecimals(Op):
    """round(x * 10^d) / 10^d (or x / 10^-d for negative d), half to even, in x's dtype."""
    backward_name = 'RoundBackward1'

    @staticmethod
    def forward(ctx, x, decimals, kernel='round'):
        _float_only(kernel, x)
        if decimals >= 0:
            scale = x.dtype.type(10.0 ** decimals)
            return np.rint(x * scale) / scale
        scale = x.dtype.type(10.0 ** -decimals)
        return np.rint(x / scale) * scale

    @staticmethod
    def backward(ctx, g):
        return _zeros(g)


class Frac(Op):
    @staticmethod
    def forward(ctx, x):
        _float_only('frac', x)
        return x - np.trunc(x)

    @staticmethod
    def backward(ctx, g):
        return g


class NanToNum(Op):
    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        if x.dtype.kind != 'f':
            return x.copy()
        ctx.save_for_backward(x)
        fi = np.finfo(x.dtype)
        out = x.copy()
        out[np.isnan(x)] = nan
        out[x == np.inf] = fi.max if posinf is None else posinf
        out[x == -np.inf] = fi.min if neginf is None else neginf
        return out

    @staticmethod
    def backward(ctx, g):
        return g * np.isfinite(ctx.saved[0])


# ---- binary functions of logarithms ---------------------------------------------------------
class Xlogy(Op):
    """x * log(y), 0 where x == 0 (unless y is nan)."""

    @staticmethod
    def forward(ctx, x, y):
        x, y = _float_pair(*promote(x, y))
        ctx.save_for_backward(x, y)
        out = x * np.log(y)
        return _zero_where(out, (x == 0) & ~np.isnan(y))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        need = ctx.needs_input_grad
        gx = gy = None
        if need[0]:
            gx = _zero_where(g * np.log(y), (x == 0) & (y <= 0))
        if len(need) > 1 and need[1]:
            gy = g * x / y
        return gx, gy


class XlogyScalarSelf(Xlogy):
    backward_name = 'XlogyBackward1'


class XlogyScalarOther(Xlogy):
    backward_name = 'XlogyBackward2'


def _float_pair(a, b):
    """Promoted operands (arrays, or a Python scalar and an array) as two arrays of one
    floating dtype (integer results promote to the default float dtype)."""
    arr = a if hasattr(a, 'dtype') else b
    dt = arr.dtype if arr.dtype.kind == 'f' else _dtype.default_float_np()
    asarray = xp_of(arr).asarray
    return asarray(a, dtype=dt), asarray(b, dtype=dt)


def _zero_where(a, mask):
    """``a`` with zeros where ``mask`` holds (an array, also for 0-d inputs)."""
    return np.where(mask, 0, a)


class Logaddexp(Op):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        _float_only('logaddexp', a)
        out = np.logaddexp(a, b)
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        need = ctx.needs_input_grad
        return ((g / (np.exp(b - a) + 1.0) if need[0] else None),
                (g / (np.exp(a - b) + 1.0) if need[1] else None))


class Logaddexp2(Op):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        _float_only('logaddexp2', a)
        out = np.logaddexp2(a, b)
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        need = ctx.needs_input_grad
        return ((g / (np.exp2(b - a) + 1.0) if need[0] else None),
                (g / (np.exp2(a - b) + 1.0) if need[1] else None))


# ---- public functions -----------------------------------------------------------------------
def unary_function(op, name):
    """The public function ``name(input, *, out=None)`` applying ``op`` (aliases such as arcsin
    or special_expit get their own function, for the name in error messages)."""
    apply = op.apply

    def f(input, *, out=None):
        if input.__class__ is not Tensor and not isinstance(input, Tensor):
            _not_tensor(name, input)
        r = apply(input)
        return r if out is None else _store(out, r)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f'Elementwise ``{name}`` (as ``torch.{name.replace("special_", "special.")}``).'
    return f


def _unary(op, name):
    """``unary_function`` also bound as the Tensor method ``name``."""
    return tensor_method(name)(unary_function(op, name))


exp = _unary(Exp, 'exp')
exp2 = _unary(Exp2, 'exp2')
expm1 = _unary(Expm1, 'expm1')
log = _unary(Log, 'log')
log1p = _unary(Log1P, 'log1p')
log2 = _unary(Log2, 'log2')
log10 = _unary(Log10, 'log10')
sqrt = _unary(Sqrt, 'sqrt')
rsqrt = _unary(Rsqrt, 'rsqrt')
square = _unary(Square, 'square')
abs = _unary(Abs, 'abs')
absolute = _unary(Abs, 'absolute')
sign = _unary(Sign, 'sign')
sgn = _unary(Sgn, 'sgn')
reciprocal = _unary(Reciprocal, 'reciprocal')
sin = _unary(Sin, 'sin')
cos = _unary(Cos, 'cos')
tan = _unary(Tan, 'tan')
asin = _unary(Asin, 'asin')
arcsin = _unary(Asin, 'arcsin')
acos = _unary(Acos, 'acos')
arccos = _unary(Acos, 'arccos')
atan = _unary(Atan, 'atan')
arctan = _unary(Atan, 'arctan')
sinh = _unary(Sinh, 'sinh')
cosh = _unary(Cosh, 'cosh')
tanh = _unary(Tanh, 'tanh')
asinh = _unary(Asinh, 'asinh')
arcsinh = _unary(Asinh, 'arcsinh')
acosh = _unary(Acosh, 'acosh')
arccosh = _unary(Acosh, 'arccosh')
atanh = _unary(Atanh, 'atanh')
arctanh = _unary(Atanh, 'arctanh')
sigmoid = _unary(Sigmoid, 'sigmoid')
relu = _unary(Relu, 'relu')
floor = _unary(Floor, 'floor')
ceil = _unary(Ceil, 'ceil')
trunc = _unary(Trunc, 'trunc')
fix = _unary(Trunc, 'fix')
frac = _unary(Frac, 'frac')
deg2rad = _unary(Deg2Rad, 'deg2rad')
rad2deg = _unary(Rad2Deg, 'rad2deg')
sinc = _unary(Sinc, 'sinc')


@tensor_method
def round(input, *, decimals=0, out=None):
    """Round half to even; ``decimals`` digits after the point (negative: before it)."""
    _check_tensor('round', input)
    if decimals == 0:
        r = Round.apply(input)
    else:
        r = RoundDecimals.apply(input, int(decimals))
    return _store(out, r)


special_exp2 = unary_function(Exp2, 'special_exp2')
special_expm1 = unary_function(Expm1, 'special_expm1')
special_log1p = unary_function(Log1P, 'special_log1p')
special_expit = unary_function(Sigmoid, 'special_expit')
special_sinc = unary_function(Sinc, 'special_sinc')


def special_round(input, *, decimals=0, out=None):
    """``torch.special.round``: ``round`` that always takes the ``decimals`` path (floating
    inputs only, RoundBackward1)."""
    _check_tensor('special_round', input)
    return _store(out, RoundDecimals.apply(input, int(decimals), 'round_vml'))


@tensor_method
def logit(input, eps=None, *, out=None):
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when ``eps`` is given."""
    _check_tensor('logit', input)
    return _store(out, Logit.apply(input, eps))


def special_logit(input, eps=None, *, out=None):
    """``torch.special.logit``."""
    _check_tensor('special_logit', input)
    return _store(out, Logit.apply(input, eps))


@tensor_method
def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    """nan -> ``nan``, +-inf -> ``posinf``/``neginf`` (default: the dtype's largest finite
    values)."""
    _check_tensor('nan_to_num', input)
    return _store(out, NanToNum.apply(input, nan, posinf, neginf))


def _tensors(name, input, other):
    """PyTorch's TypeError for a non-Tensor argument of a Tensor-only binary function."""
    for pos, (arg, v) in enumerate((('input', input), ('other', other)), 1):
        if not isinstance(v, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not "
                            f'{type(v).__name__}')


def _binary_tensors(op, name):
    apply = op.apply

    def f(input, other, *, out=None):
        _tensors(name, input, other)
        return _store(out, apply(input, other))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f'Elementwise ``{name}`` of two broadcastable tensors (as ``torch.{name}``).'
    return tensor_method(name)(f)


atan2 = _binary_tensors(Atan2, 'atan2')
arctan2 = _binary_tensors(Atan2, 'arctan2')
hypot = _binary_tensors(Hypot, 'hypot')
logaddexp = _binary_tensors(Logaddexp, 'logaddexp')
logaddexp2 = _binary_tensors(Logaddexp2, 'logaddexp2')


def scalar_or_tensor_binary(ops, name, input, other, out):
    """Apply one of ``ops`` = (Tensor-Tensor, Number-Tensor, Tensor-Number) Op classes, as the
    operands' kinds require (functions like xlogy accept one Python number)."""
    if not isinstance(input, Tensor):
        if not isinstance(other, Tensor):
            raise TypeError(f'{name}() received an invalid combination of arguments - got '
                            f'({type(input).__name__}, {type(other).__name__}), but expected '
                            'one of:\n * (Tensor input, Tensor other, *, Tensor out = None)\n'
                            ' * (Number self, Tensor other, *, Tensor out = None)\n'
                            ' * (Tensor input, Number other, *, Tensor out = None)\n')
        r = ops[1].apply(_operand(input, other), other)
    elif not isinstance(other, Tensor):
        r = ops[2].apply(input, _operand(other, input))
    else:
        r = ops[0].apply(input, other)
    return _store(out, r)


_XLOGY_OPS = (Xlogy, XlogyScalarSelf, XlogyScalarOther)


@tensor_method
def xlogy(input, other, *, out=None):
    """input * log(other), 0 where input is 0; either argument may be a Python number."""
    return scalar_or_tensor_binary(_XLOGY_OPS, 'xlogy', input, other, out)


def special_xlogy(input, other, *, out=None):
    """``torch.special.xlogy``."""
    return scalar_or_tensor_binary(_XLOGY_OPS, 'special_xlogy', input, other, out)


# ---- classification (no gradient) -----------------------------------------------------------
def _classify(name, ufunc, int_value):
    """A boolean test of each element; integer and bool inputs are never nan or inf."""
    def f(input):
        _check_tensor(name, input)
        a = input._data
        if a.dtype.kind != 'f':
            xp = xp_of(a)
            return _wrap(xp.ones(a.shape, bool) if int_value else xp.zeros(a.shape, bool))
        return _wrap(ufunc(a))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f'Boolean tensor: ``{name}`` of each element.'
    return tensor_method(name)(f)


isnan = _classify('isnan', np.isnan, False)
isinf = _classify('isinf', np.isinf, False)
isfinite = _classify('isfinite', np.isfinite, True)
isposinf = _classify('isposinf', lambda a: a == np.inf, False)
isneginf = _classify('isneginf', lambda a: a == -np.inf, False)


@tensor_method
def isreal(input):
    """Every element of a real tensor is real: all True."""
    _check_tensor('isreal', input)
    return _wrap(xp_of(input._data).ones(input._data.shape, bool))


@tensor_method
def signbit(input, *, out=None):
    """True where the sign bit is set (negative numbers, -0.0, negative nan)."""
    _check_tensor('signbit', input)
    a = input._data
    if a.dtype.kind == 'f':
        r = np.signbit(a)
    else:
        r = np.less(a, 0)
    return _store(out, _wrap(r))


# ---- in-place variants ----------------------------------------------------------------------
def _inplace(fn, name):
    def f(self, *args, **kwargs):
        return apply_inplace(self, fn, *args, **kwargs)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f'In-place ``{fn.__name__}``: writes the result into ``self``.'
    return tensor_method(name)(f)


exp_ = _inplace(exp, 'exp_')
exp2_ = _inplace(exp2, 'exp2_')
expm1_ = _inplace(expm1, 'expm1_')
log_ = _inplace(log, 'log_')
log1p_ = _inplace(log1p, 'log1p_')
log2_ = _inplace(log2, 'log2_')
log10_ = _inplace(log10, 'log10_')
sqrt_ = _inplace(sqrt, 'sqrt_')
rsqrt_ = _inplace(rsqrt, 'rsqrt_')
square_ = _inplace(square, 'square_')
abs_ = _inplace(abs, 'abs_')
absolute_ = _inplace(absolute, 'absolute_')
sign_ = _inplace(sign, 'sign_')
sgn_ = _inplace(sgn, 'sgn_')
reciprocal_ = _inplace(reciprocal, 'reciprocal_')
sin_ = _inplace(sin, 'sin_')
cos_ = _inplace(cos, 'cos_')
tan_ = _inplace(tan, 'tan_')
asin_ = _inplace(asin, 'asin_')
arcsin_ = _inplace(arcsin, 'arcsin_')
acos_ = _inplace(acos, 'acos_')
arccos_ = _inplace(arccos, 'arccos_')
atan_ = _inplace(atan, 'atan_')
arctan_ = _inplace(arctan, 'arctan_')
atan2_ = _inplace(atan2, 'atan2_')
arctan2_ = _inplace(arctan2, 'arctan2_')
sinh_ = _inplace(sinh, 'sinh_')
cosh_ = _inplace(cosh, 'cosh_')
tanh_ = _inplace(tanh, 'tanh_')
asinh_ = _inplace(asinh, 'asinh_')
arcsinh_ = _inplace(arcsinh, 'arcsinh_')
acosh_ = _inplace(acosh, 'acosh_')
arccosh_ = _inplace(arccosh, 'arccosh_')
atanh_ = _inplace(atanh, 'atanh_')
arctanh_ = _inplace(arctanh, 'arctanh_')
sigmoid_ = _inplace(sigmoid, 'sigmoid_')
logit_ = _inplace(logit, 'logit_')
relu_ = _inplace(relu, 'relu_')
floor_ = _inplace(floor, 'floor_')
ceil_ = _inplace(ceil, 'ceil_')
round_ = _inplace(round, 'round_')
trunc_ = _inplace(trunc, 'trunc_')
fix_ = _inplace(fix, 'fix_')
frac_ = _inplace(frac, 'frac_')
nan_to_num_ = _inplace(nan_to_num, 'nan_to_num_')
deg2rad_ = _inplace(deg2rad, 'deg2rad_')
rad2deg_ = _inplace(rad2deg, 'rad2deg_')
hypot_ = _inplace(hypot, 'hypot_')
xlogy_ = _inplace(xlogy, 'xlogy_')
sinc_ = _inplace(sinc, 'sinc_')
