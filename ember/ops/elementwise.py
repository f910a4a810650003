"""Arithmetic, comparison and logical ops, the Python operators, and in-place arithmetic.

Binary ops take Tensors or Python scalars on either side. NumPy computes them after
``promote`` casts the operands so that the result has PyTorch's dtype (float32 for int tensor
+ Python float, zero-dim tensors and scalars promoting only across categories, ...).
Gradients come back in the computed dtype and shape; the engine casts and un-broadcasts them.
"""
import numpy as np

from .. import _dtype
from .._backend import device_of, is_cuda_array
from .._tensor import Tensor, _wrap
from ..autograd.function import Op, _reraise_broadcast
from ..autograd.inplace import apply_inplace, write_into
from ..autograd.grad_mode import GRAD
from ._registry import tensor_method

__all__ = ['add', 'sub', 'subtract', 'mul', 'multiply', 'div', 'divide', 'true_divide',
           'floor_divide', 'remainder', 'fmod', 'pow', 'float_power', 'neg', 'negative',
           'positive', 'maximum', 'minimum', 'fmax', 'fmin', 'clamp', 'clip', 'clamp_min',
           'clamp_max', 'lerp', 'where', 'addcmul', 'addcdiv', 'eq', 'ne', 'lt', 'le', 'gt',
           'ge', 'greater', 'greater_equal', 'less', 'less_equal', 'not_equal', 'equal',
           'isclose', 'allclose', 'logical_and', 'logical_or', 'logical_xor', 'logical_not',
           'bitwise_and', 'bitwise_or', 'bitwise_xor', 'bitwise_not']

_ndarray = np.ndarray
_float, _int, _bool = float, int, bool
_I64_MIN, _I64_MAX = -2 ** 63, 2 ** 63 - 1


def _array_like(x, ref):
    """A list, NumPy array or NumPy scalar operand becomes a Tensor on ``ref``'s device."""
    from .._creation import tensor
    if isinstance(x, np.generic):
        return x.item()
    return tensor(x, device=ref.device if isinstance(ref, Tensor) else None)


def _operand(x, ref=None):
    c = x.__class__
    if c is _float or c is _int or c is _bool or isinstance(x, Tensor):
        return x
    if isinstance(x, (int, float)):
        return x
    if isinstance(x, (list, tuple, np.ndarray, np.generic)) or is_cuda_array(x):
        return _array_like(x, ref)
    raise TypeError(f"unsupported operand type(s): '{type(ref).__name__}' and "
                    f"'{type(x).__name__}'")


def _device_error(a, b):
    da, db = device_of(a), device_of(b)
    raise RuntimeError('Expected all tensors to be on the same device, but found at least two '
                       f'devices, {da} and {db}!')


def promote(a, b):
    """Cast arrays/scalars ``a``, ``b`` so that NumPy's result dtype is PyTorch's."""
    ca, cb = a.__class__, b.__class__
    if ca is cb:
        if ca is not _float and ca is not _int and ca is not _bool and a.dtype == b.dtype:
            return a, b
    elif cb is _float:
        if ca is not _int and ca is not _bool and a.dtype.kind == 'f':
            return a, b
    elif cb is _int:
        if ca is not _float and ca is not _bool and (a.dtype.kind == 'f' or (
                a.dtype == np.int64 and _I64_MIN <= b <= _I64_MAX)):
            return a, b
    elif ca is _float:
        if cb is not _bool and b.dtype.kind == 'f':
            return a, b
    elif ca is _int:
        if cb is not _bool and (b.dtype.kind == 'f' or (
                b.dtype == np.int64 and _I64_MIN <= a <= _I64_MAX)):
            return a, b
    return _promote_slow(a, b)


def _is_array(x):
    return hasattr(x, 'dtype') and hasattr(x, 'ndim') and not isinstance(x, np.generic)


def _promote_slow(a, b):
    aa, ba = _is_array(a), _is_array(b)
    if aa and ba and a.__class__ is not b.__class__:
        if a.ndim == 0 and a.__class__ is _ndarray:
            a = a.item()
            aa = False
        elif b.ndim == 0 and b.__class__ is _ndarray:
            b = b.item()
            ba = False
        else:
            _device_error(a, b)
    dt = _dtype.result_np(a, b)
    return _cast(a, dt, aa), _cast(b, dt, ba)


def _cast(x, dt, is_array):
    if is_array:
        return x if x.dtype == dt else x.astype(dt)
    if dt.kind in 'iu':
        info = np.iinfo(dt)
        if not info.min <= x <= info.max:
            return np.asarray(x).astype(dt)  # wraps around like PyTorch's integer overflow
        return int(x)
    if dt.kind == 'b':
        return bool(x)
    return x


def _float_operands(a, b):
    """Operands of true division: integer results promote to the default float dtype."""
    a, b = promote(a, b)
    dt = a.dtype if _is_array(a) else b.dtype
    if dt.kind != 'f':
        f = _dtype.default_float_np()
        a = a.astype(f) if _is_array(a) else a
        b = b.astype(f) if _is_array(b) else b
    return a, b


# ---- differentiable binary ops ------------------------------------------------------------
class Add(Op):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Op):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        if a.__class__ is not _ndarray or a.dtype.kind != 'b':
            return a - b
        raise RuntimeError('Subtraction, the `-` operator, with two bool tensors is not supported. '
                           'Use the `^` or `logical_xor()` operator instead.')

    @staticmethod
    def backward(ctx, g):
        return g, -g


class Mul(Op):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        need = ctx.needs_input_grad
        return (g * b if need[0] else None), (g * a if need[1] else None)


class Div(Op):
    @staticmethod
    def forward(ctx, a, b):
        a, b = _float_operands(a, b)
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        need = ctx.needs_input_grad
        return (g / b if need[0] else None), (-g * a / (b * b) if need[1] else None)


class RoundingDiv(Op):
    """div with rounding_mode 'trunc' or 'floor': piecewise constant, zero gradient."""
    backward_name = 'DivBackward1'

    @staticmethod
    def forward(ctx, a, b, mode):
        a, b = promote(a, b)
        dt = a.dtype if _is_array(a) else b.dtype
        if dt.kind in 'iub':
            _check_int_divisor(b)
            q = np.floor_divide(a, b)
            if mode == 'floor':
                return q
            # truncation rounds toward zero: one up where the floor went below a negative quotient
            return q + ((np.remainder(a, b) != 0) & ((np.sign(a) * np.sign(b)) < 0))
        q = a / b
        return np.floor(q) if mode == 'floor' else np.trunc(q)

    @staticmethod
    def backward(ctx, g):
        from .._backend import xp_of
        z = xp_of(g).zeros_like(g)
        return z, z


def _check_int_divisor(b):
    if (b == 0).any() if _is_array(b) else b == 0:
        raise RuntimeError('ZeroDivisionError')


class Remainder(Op):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        if (a.dtype if _is_array(a) else b.dtype).kind in 'iu':
            _check_int_divisor(b)
        ctx.save_for_backward(a, b)
        return np.remainder(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        return g, (-g * np.floor(a / b) if ctx.needs_input_grad[1] else None)


class Fmod(Op):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        if (a.dtype if _is_array(a) else b.dtype).kind in 'iu':
            _check_int_divisor(b)
        ctx.save_for_backward(a, b)
        return np.fmod(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        return g, (-g * np.trunc(a / b) if ctx.needs_input_grad[1] else None)


class Pow(Op):
    """Tensor to a scalar power."""

    @staticmethod
    def forward(ctx, a, e):
        a, e = promote(a, e)
        if a.dtype.kind in 'iu' and e < 0:
            raise RuntimeError('Integers to negative integer powers are not allowed.')
        ctx.save_for_backward(a)
        ctx.e = e
        if e == 2:
            return a * a
        return a ** e

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        e = ctx.e
        if e == 0:
            return g * 0
        if e == 1:
            return g
        if e == 2:
            return g * (2 * a)
        return g * (e * a ** (e - 1))


class PowTensor(Op):
    """Tensor (or scalar) base to a tensor power."""
    backward_name = 'PowBackward1'

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        if (a.dtype if _is_array(a) else b.dtype).kind in 'iu' and (
                (b < 0).any() if _is_array(b) else b < 0):
            raise RuntimeError('Integers to negative integer powers are not allowed.')
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved
        need = ctx.needs_input_grad
        ga = gb = None
        if need[0]:
            ga = g * (b * a ** (b - 1))
            ga = np.where(b == 0, 0, ga) if _is_array(b) else (g * 0 if b == 0 else ga)
        if need[1]:
            log_a = np.log(a)
            gb = g * out * log_a
            # 0 ** b with b >= 0 has gradient 0 in b (not nan)
            gb = np.where((a == 0) & (b >= 0), 0, gb)
        return ga, gb


class Neg(Op):
    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind == 'b':
            raise RuntimeError('Negation, the `-` operator, on a bool tensor is not supported. If '
                               'you are trying to invert a mask, use the `~` or `logical_not()` '
                               'operator instead.')
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class Maximum(Op):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        return _split_tie(g, a > b, a == b)


class Minimum(Op):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        return _split_tie(g, a < b, a == b)


def _split_tie(g, first_wins, tie):
    """Gradient to the winning side; split evenly on ties (as PyTorch's max/min)."""
    ga = first_wins.astype(g.dtype)
    ga += tie.astype(g.dtype) * 0.5
    ga *= g
    return ga, g - ga


class Fmax(Op):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return np.fmax(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        first = (a >= b) | np.isnan(b)
        return np.where(first, g, 0), np.where(first, 0, g)


class Fmin(Op):
    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return np.fmin(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        first = (a <= b) | np.isnan(b)
        return np.where(first, g, 0), np.where(first, 0, g)


class Clamp(Op):
    """clamp(x, min, max) with scalar or tensor bounds (either may be None)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        out = x
        if lo is not None:
            x, lo = promote(x, lo)
            out = np.maximum(x, lo)
        if hi is not None:
            out, hi = promote(out, hi)
            out = np.minimum(out, hi)
        if out is x:
            out = x.copy()
        ctx.save_for_backward(x, lo, hi)
        return out

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = ctx.saved
        need = ctx.needs_input_grad
        above = (x >= lo) if lo is not None else True
        below = (x <= hi) if hi is not None else True
        gx = g * (above & below) if need[0] else None
        glo = ghi = None
        if lo is not None and len(need) > 1 and need[1]:
            sel = x < lo
            if hi is not None:
                sel = sel & (lo <= hi)
            glo = g * sel
        if hi is not None and len(need) > 2 and need[2]:
            ghi = g * ((x > hi) | ((lo > hi) if lo is not None else False))
        return gx, glo, ghi


class Lerp(Op):
    @staticmethod
    def forward(ctx, a, b, w):
        a, b = promote(a, b)
        a, w = promote(a, w)
        b, w = promote(b, w)
        ctx.save_for_backward(a, b, w)
        return a + w * (b - a)

    @staticmethod
    def backward(ctx, g):
        a, b, w = ctx.saved
        need = ctx.needs_input_grad
        return ((g * (1 - w) if need[0] else None), (g * w if need[1] else None),
                (g * (b - a) if len(need) > 2 and need[2] else None))


class Where(Op):
    @staticmethod
    def forward(ctx, cond, a, b):
        a, b = promote(a, b)
        ctx.save_for_backward(cond)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved
        need = ctx.needs_input_grad
        return (None, np.where(cond, g, 0) if need[1] else None,
                np.where(cond, 0, g) if need[2] else None)


class Addcmul(Op):
    """input + value * t1 * t2"""

    @staticmethod
    def forward(ctx, x, t1, t2, value):
        ctx.save_for_backward(t1, t2)
        ctx.value = value
        return x + value * (t1 * t2)

    @staticmethod
    def backward(ctx, g):
        t1, t2 = ctx.saved
        v = ctx.value
        need = ctx.needs_input_grad
        return g, (g * (v * t2) if need[1] else None), (g * (v * t1) if need[2] else None)


class Addcdiv(Op):
    """input + value * t1 / t2"""

    @staticmethod
    def forward(ctx, x, t1, t2, value):
        ctx.save_for_backward(t1, t2)
        ctx.value = value
        return x + value * (t1 / t2)

    @staticmethod
    def backward(ctx, g):
        t1, t2 = ctx.saved
        v = ctx.value
        need = ctx.needs_input_grad
        return (g, (g * (v / t2) if need[1] else None),
                (-g * (v * t1) / (t2 * t2) if need[2] else None))


# ---- public functions ---------------------------------------------------------------------
def _store_out(out, r):
    """Write result ``r`` into the ``out=`` tensor (resizing it like PyTorch) and return it;
    a float result into an integer ``out`` raises PyTorch's cast error."""
    rd = r._data
    if out._data.shape != rd.shape:
        if rd.dtype.kind == 'f' and out._data.dtype.kind != 'f':
            write_into(out, rd)  # raises "result type Float can't be cast ..."
        out._data = rd.astype(out._data.dtype, copy=True)
    else:
        write_into(out, rd)
    out._bump()
    return out


def _binary(op, a, b, out=None):
    a = _operand(a, b)
    b = _operand(b, a)
    r = op.apply(a, b)
    return r if out is None else _store_out(out, r)


@tensor_method
def add(input, other, *, alpha=1, out=None):
    """input + alpha * other, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Add, input, other, out)


@tensor_method('sub', 'subtract')
def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Sub, input, other, out)


subtract = sub


@tensor_method('mul', 'multiply')
def mul(input, other, *, out=None):
    return _binary(Mul, input, other, out)


multiply = mul


@tensor_method('div', 'divide')
def div(input, other, *, rounding_mode=None, out=None):
    """True division (int inputs give float), or 'trunc' / 'floor' rounding."""
    if rounding_mode is None:
        return _binary(Div, input, other, out)
    if rounding_mode not in ('trunc', 'floor'):
        raise ValueError("div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                         f"found '{rounding_mode}'")
    a, b = _operand(input, other), _operand(other, input)
    r = RoundingDiv.apply(a, b, rounding_mode)
    return r if out is None else _store_out(out, r)


divide = div


@tensor_method
def true_divide(input, other, *, out=None):
    return _binary(Div, input, other, out)


@tensor_method
def floor_divide(input, other, *, out=None):
    return div(input, other, rounding_mode='floor', out=out)


@tensor_method
def remainder(input, other, *, out=None):
    """Python's ``%``: the result has the sign of the divisor."""
    return _binary(Remainder, input, other, out)


@tensor_method
def fmod(input, other, *, out=None):
    """C's fmod: the result has the sign of the dividend."""
    return _binary(Fmod, input, other, out)


@tensor_method
def pow(input, exponent, *, out=None):
    """input ** exponent; either may be a Python scalar."""
    if isinstance(exponent, (int, float)) and not isinstance(exponent, bool) and \
            isinstance(input, Tensor):
        r = Pow.apply(input, exponent)
    else:
        r = _binary(PowTensor, input, exponent)
    return r if out is None else _store_out(out, r)


@tensor_method
def float_power(input, exponent):
    """pow computed in float64."""
    a = input.double() if isinstance(input, Tensor) else float(input)
    e = exponent.double() if isinstance(exponent, Tensor) else exponent
    return pow(a, e) if isinstance(a, Tensor) else pow(a, e)


@tensor_method('neg', 'negative')
def neg(input, *, out=None):
    r = Neg.apply(input)
    return r if out is None else _store_out(out, r)


negative = neg


@tensor_method
def positive(input):
    if input.dtype is _dtype.bool:
        raise RuntimeError('The `+` operator, on a bool tensor is not supported.')
    return input


def _tensor_pair(name, input, other):
    for pos, (arg, x) in enumerate((('input', input), ('other', other)), 1):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not "
                            f"{type(x).__name__}")


@tensor_method
def maximum(input, other, *, out=None):
    """Elementwise max of two tensors (NaN propagates); ties split the gradient."""
    _tensor_pair('maximum', input, other)
    return _binary(Maximum, input, other, out)


@tensor_method
def minimum(input, other, *, out=None):
    _tensor_pair('minimum', input, other)
    return _binary(Minimum, input, other, out)


@tensor_method
def fmax(input, other, *, out=None):
    """Elementwise max that ignores NaN."""
    _tensor_pair('fmax', input, other)
    return _binary(Fmax, input, other, out)


@tensor_method
def fmin(input, other, *, out=None):
    _tensor_pair('fmin', input, other)
    return _binary(Fmin, input, other, out)


def _bound(v, x):
    if v is None or isinstance(v, Tensor):
        return v
    if isinstance(v, (int, float)):
        return v
    return _operand(v, x)


@tensor_method('clamp', 'clip')
def clamp(input, min=None, max=None, *, out=None):
    """Limit values to [min, max]; bounds are scalars or broadcastable tensors."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    r = Clamp.apply(input, _bound(min, input), _bound(max, input))
    return r if out is None else _store_out(out, r)


clip = clamp


@tensor_method
def clamp_min(input, min):
    return clamp(input, min=min)


@tensor_method
def clamp_max(input, max):
    return clamp(input, max=max)


@tensor_method
def lerp(input, end, weight, *, out=None):
    """input + weight * (end - input)."""
    r = Lerp.apply(input, _operand(end, input), _operand(weight, input))
    return r if out is None else _store_out(out, r)


def where(condition, input=None, other=None, *, out=None):
    """Elements of ``input`` where ``condition`` holds, else of ``other``; ``where(cond)`` alone
    is ``nonzero(cond, as_tuple=True)``."""
    if input is None and other is None:
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor):
        condition = _operand(condition, input if isinstance(input, Tensor) else other)
    if condition._data.dtype.kind != 'b':
        raise RuntimeError(f'where expected condition to be a boolean tensor, but got a tensor '
                           f'with dtype {_dtype._FROM_NP[condition._data.dtype].name.capitalize()}')
    r = Where.apply(condition, _operand(input, condition), _operand(other, condition))
    return r if out is None else _store_out(out, r)


@tensor_method('where')
def _where_method(self, condition, other):
    return where(condition, self, other)


@tensor_method
def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    r = Addcmul.apply(input, tensor1, tensor2, value)
    return r if out is None else _store_out(out, r)


@tensor_method
def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    r = Addcdiv.apply(input, tensor1, tensor2, value)
    return r if out is None else _store_out(out, r)


# ---- comparisons and logic (no gradient) ----------------------------------------------------
def _nograd_binary(ufunc, tensors_only=False):
    def f(input, other, *, out=None):
        if tensors_only:
            _tensor_pair(f.__name__, input, other)
        a, b = _operand(input, other), _operand(other, input)
        a = a._data if isinstance(a, Tensor) else a
        b = b._data if isinstance(b, Tensor) else b
        a, b = promote(a, b)
        try:
            r = _wrap(ufunc(a, b))
        except ValueError as e:
            _reraise_broadcast(e, (a, b))
        return r if out is None else _store_out(out, r)
    return f


eq = tensor_method('eq')(_nograd_binary(np.equal))
ne = tensor_method('ne', 'not_equal')(_nograd_binary(np.not_equal))
lt = tensor_method('lt', 'less')(_nograd_binary(np.less))
le = tensor_method('le', 'less_equal')(_nograd_binary(np.less_equal))
gt = tensor_method('gt', 'greater')(_nograd_binary(np.greater))
ge = tensor_method('ge', 'greater_equal')(_nograd_binary(np.greater_equal))
not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge
logical_and = tensor_method('logical_and')(_nograd_binary(np.logical_and, True))
logical_or = tensor_method('logical_or')(_nograd_binary(np.logical_or, True))
logical_xor = tensor_method('logical_xor')(_nograd_binary(np.logical_xor, True))
for _f, _n in ((eq, 'eq'), (ne, 'ne'), (lt, 'lt'), (le, 'le'), (gt, 'gt'), (ge, 'ge'),
               (logical_and, 'logical_and'), (logical_or, 'logical_or'),
               (logical_xor, 'logical_xor')):
    _f.__name__ = _n
    _f.__qualname__ = _n


def _bitwise(ufunc, name):
    def f(input, other, *, out=None):
        a, b = _operand(input, other), _operand(other, input)
        a = a._data if isinstance(a, Tensor) else a
        b = b._data if isinstance(b, Tensor) else b
        a, b = promote(a, b)
        dt = a.dtype if _is_array(a) else b.dtype
        if dt.kind == 'f':
            raise RuntimeError(f'"{name}_cpu" not implemented for '
                               f"'{_dtype._FROM_NP[dt].name.capitalize()}'")
        r = _wrap(ufunc(a, b))
        return r if out is None else _store_out(out, r)
    f.__name__ = f.__qualname__ = name
    return tensor_method(name)(f)


bitwise_and = _bitwise(np.bitwise_and, 'bitwise_and')
bitwise_or = _bitwise(np.bitwise_or, 'bitwise_or')
bitwise_xor = _bitwise(np.bitwise_xor, 'bitwise_xor')


@tensor_method
def logical_not(input, *, out=None):
    r = _wrap(np.logical_not(input._data))
    return r if out is None else _store_out(out, r)


@tensor_method
def bitwise_not(input, *, out=None):
    a = input._data
    if a.dtype.kind == 'f':
        raise RuntimeError(f"\"bitwise_not_cpu\" not implemented for '{input.dtype.name.capitalize()}'")
    r = _wrap(np.invert(a))
    return r if out is None else _store_out(out, r)


@tensor_method
def equal(input, other):
    """True when both tensors have the same shape and elements."""
    a, b = input._data, other._data
    if a.__class__ is not b.__class__:
        _device_error(a, b)
    return a.shape == b.shape and bool((a == b).all())


@tensor_method
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = _operand(input, other), _operand(other, input)
    a = a._data if isinstance(a, Tensor) else a
    b = b._data if isinstance(b, Tensor) else b
    return _wrap(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


@tensor_method
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


# ---- Python operators ---------------------------------------------------------------------
def _fwd(op):
    """``self <op> other``, with a short path for Tensor and Python-number operands."""
    apply = op.apply

    def f(self, other):
        c = other.__class__
        if c is Tensor or c is _float or c is _int:
            return apply(self, other)
        return _binary(op, self, other)
    return f


def _rev(op):
    apply = op.apply

    def f(self, other):
        c = other.__class__
        if c is _float or c is _int:
            return apply(other, self)
        return _binary(op, _operand(other, self), self)
    return f


Tensor.__add__ = _fwd(Add)
Tensor.__radd__ = _rev(Add)
Tensor.__sub__ = _fwd(Sub)
Tensor.__rsub__ = _rev(Sub)
Tensor.__mul__ = _fwd(Mul)
Tensor.__rmul__ = _rev(Mul)
Tensor.__truediv__ = _fwd(Div)
Tensor.__rtruediv__ = _rev(Div)
Tensor.__floordiv__ = lambda self, other: div(self, other, rounding_mode='floor')
Tensor.__rfloordiv__ = lambda self, other: div(_operand(other, self), self, rounding_mode='floor')
Tensor.__mod__ = lambda self, other: _binary(Remainder, self, other)
Tensor.__rmod__ = _rev(Remainder)
Tensor.__pow__ = lambda self, other: pow(self, other)
Tensor.__rpow__ = lambda self, other: pow(_operand(other, self), self)
Tensor.__neg__ = lambda self: Neg.apply(self)
Tensor.__pos__ = positive
Tensor.__eq__ = lambda self, other: eq(self, other) if _comparable(other) else False
Tensor.__ne__ = lambda self, other: ne(self, other) if _comparable(other) else True
Tensor.__lt__ = lambda self, other: lt(self, other)
Tensor.__le__ = lambda self, other: le(self, other)
Tensor.__gt__ = lambda self, other: gt(self, other)
Tensor.__ge__ = lambda self, other: ge(self, other)
Tensor.__and__ = Tensor.__rand__ = lambda self, other: bitwise_and(self, other)
Tensor.__or__ = Tensor.__ror__ = lambda self, other: bitwise_or(self, other)
Tensor.__xor__ = Tensor.__rxor__ = lambda self, other: bitwise_xor(self, other)
Tensor.__invert__ = lambda self: bitwise_not(self)
Tensor.__hash__ = object.__hash__


def _comparable(other):
    return other is not None and not isinstance(other, str)


# ---- in-place arithmetic ------------------------------------------------------------------
def _inplace(fn, name):
    def f(self, *args, **kwargs):
        return apply_inplace(self, fn, *args, **kwargs)
    f.__name__ = f.__qualname__ = name
    return tensor_method(name)(f)


for _fn, _names in ((add, ('add_',)), (sub, ('sub_', 'subtract_')), (mul, ('mul_', 'multiply_')),
                    (div, ('div_', 'divide_', 'true_divide_')), (floor_divide, ('floor_divide_',)),
                    (remainder, ('remainder_',)), (fmod, ('fmod_',)), (pow, ('pow_',)),
                    (neg, ('neg_', 'negative_')), (clamp, ('clamp_', 'clip_')),
                    (clamp_min, ('clamp_min_',)), (clamp_max, ('clamp_max_',)),
                    (lerp, ('lerp_',)), (addcmul, ('addcmul_',)), (addcdiv, ('addcdiv_',)),
                    (eq, ('eq_',)), (ne, ('ne_',)), (lt, ('lt_',)),
                    (le, ('le_',)), (gt, ('gt_',)), (ge, ('ge_',)),
                    (logical_and, ('logical_and_',)), (logical_or, ('logical_or_',)),
                    (logical_xor, ('logical_xor_',)), (logical_not, ('logical_not_',)),
                    (bitwise_and, ('bitwise_and_',)), (bitwise_or, ('bitwise_or_',)),
                    (bitwise_xor, ('bitwise_xor_',)), (bitwise_not, ('bitwise_not_',))):
    for _n in _names:
        _inplace(_fn, _n)



def _direct(self, other):
    """The operand array for writing ``self <op>= other`` straight into self's memory, or None
    when the general path is needed (graph to record, dtype change, other device...)."""
    if GRAD.enabled and (self._rg or (self._view is not None and self._view[0]._rg)):
        return None
    c = other.__class__
    a = self._data
    if c is Tensor:
        if GRAD.enabled and other._rg:
            return None
        o = other._data
        if o.__class__ is not a.__class__ or o.dtype != a.dtype or o.ndim > a.ndim:
            return None
        return o
    if (c is _float and a.dtype.kind == 'f') or (c is _int and (a.dtype.kind == 'f' or a.dtype == np.int64)):
        return other
    return None


def _fast_inplace(ufunc, slow, with_alpha):
    """In-place arithmetic that writes with ``ufunc(..., out=self)`` when nothing needs a graph
    (optimizer-style updates under no_grad), and takes the general path otherwise."""
    if with_alpha:
        def f(self, other, *, alpha=1):
            o = _direct(self, other)
            if o is not None and self._data.flags.writeable:
                try:
                    ufunc(self._data, o if alpha == 1 else o * alpha, out=self._data)
                except ValueError:
                    return slow(self, other, alpha=alpha)
                self._bump()
                return self
            return slow(self, other, alpha=alpha)
    else:
        def f(self, other):
            o = _direct(self, other)
            if o is not None and self._data.flags.writeable:
                try:
                    ufunc(self._data, o, out=self._data)
                except (ValueError, TypeError):
                    return slow(self, other)
                self._bump()
                return self
            return slow(self, other)
    f.__name__ = f.__qualname__ = slow.__name__
    return f


Tensor.add_ = _fast_inplace(np.add, Tensor.add_, True)
Tensor.sub_ = Tensor.subtract_ = _fast_inplace(np.subtract, Tensor.sub_, True)
Tensor.mul_ = Tensor.multiply_ = _fast_inplace(np.multiply, Tensor.mul_, False)
_div_slow = Tensor.div_


def _div_(self, other, *, rounding_mode=None):
    if rounding_mode is None and self._data.dtype.kind == 'f':
        return _div_fast(self, other)
    return _div_slow(self, other, rounding_mode=rounding_mode)


_div_fast = _fast_inplace(np.true_divide, _div_slow, False)
_div_.__name__ = 'div_'
Tensor.div_ = Tensor.divide_ = Tensor.true_divide_ = _div_
Tensor.__iadd__ = Tensor.add_
Tensor.__isub__ = Tensor.sub_
Tensor.__imul__ = Tensor.mul_
Tensor.__itruediv__ = Tensor.div_
Tensor.__ifloordiv__ = Tensor.floor_divide_
Tensor.__imod__ = Tensor.remainder_
Tensor.__ipow__ = Tensor.pow_
Tensor.__iand__ = Tensor.bitwise_and_
Tensor.__ior__ = Tensor.bitwise_or_
Tensor.__ixor__ = Tensor.bitwise_xor_


class Fill(Op):
    """Every element set to ``value`` (a scalar or 0-d array); no gradient to the old values."""

    @staticmethod
    def forward(ctx, a, value):
        from .._backend import xp_of
        return xp_of(a).full(a.shape, value, a.dtype)

    @staticmethod
    def backward(ctx, g):
        return g * 0, (g.sum() if ctx.needs_input_grad[1] else None)


@tensor_method
def fill_(self, value):
    """Set every element to ``value`` (a number or a one-element tensor)."""
    if isinstance(value, Tensor) and value._data.ndim != 0:
        raise RuntimeError(f'fill_ only supports 0-dimension value tensor but got tensor with '
                           f'{value._data.ndim} dimensions.')
    return apply_inplace(self, Fill.apply, value)


@tensor_method
def zero_(self):
    return apply_inplace(self, Fill.apply, 0)


class CopyFrom(Op):
    """``dst.copy_(src)``: src broadcast to dst's shape and cast to dst's dtype."""
    backward_name = 'CopyBackwards'

    @staticmethod
    def forward(ctx, dst, src):
        from .._backend import xp_of
        xp = xp_of(dst)
        try:
            return xp.broadcast_to(src, dst.shape).astype(dst.dtype, copy=True)
        except ValueError:
            raise RuntimeError(f'The size of tensor a ({dst.shape[-1] if dst.ndim else 1}) must '
                               f'match the size of tensor b ({src.shape[-1] if src.ndim else 1}) '
                               'at non-singleton dimension') from None

    @staticmethod
    def backward(ctx, g):
        return g * 0, g


@tensor_method
def copy_(self, src, non_blocking=False):
    """Copy ``src`` (broadcast, cast, moved across devices) into this tensor's memory."""
    if not isinstance(src, Tensor):
        src = _operand(src, self)
        if not isinstance(src, Tensor):
            return fill_(self, src)
    if src._data.__class__ is not self._data.__class__:
        src = src.to(self.device)
    return apply_inplace(self, CopyFrom.apply, src)
