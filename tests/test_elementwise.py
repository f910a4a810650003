"""Arithmetic, comparison and logical ops: values, dtypes, gradients, errors against torch."""
import numpy as np
import pytest
import torch

import ember
from tests.helpers import E, T, check, gradcheck, assert_close, rand, noncontig, to_np

BINARY = [
    ('add', lambda a, b: a + b),
    ('sub', lambda a, b: a - b),
    ('mul', lambda a, b: a * b),
    ('div', lambda a, b: a / b),
    ('add_alpha', lambda a, b: a.add(b, alpha=2.5)),
    ('sub_alpha', lambda a, b: a.sub(b, alpha=-0.5)),
    ('maximum', lambda a, b: a.maximum(b)),
    ('minimum', lambda a, b: a.minimum(b)),
    ('fmax', lambda a, b: a.fmax(b)),
    ('fmin', lambda a, b: a.fmin(b)),
    ('remainder', lambda a, b: a % b),
    ('fmod', lambda a, b: a.fmod(b)),
]
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (3,)), ((5,), ()),
          ((0, 3), (3,)), ((1,), (2, 3))]


def _safe(name, b):
    if name in ('div', 'remainder', 'fmod'):
        return np.where(np.abs(b) < 0.3, 0.7, b).astype(b.dtype)
    return b


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('sa,sb', SHAPES)
@pytest.mark.parametrize('name,fn', BINARY, ids=[n for n, _ in BINARY])
def test_binary_parity(name, fn, sa, sb, dtype):
    a = rand(*sa, dtype=dtype, seed=1)
    b = _safe(name, rand(*sb, dtype=dtype, seed=2))
    check(fn, None, a, b)


@pytest.mark.parametrize('name,fn', [BINARY[i] for i in (0, 1, 2, 3, 6, 7, 10, 11)],
                         ids=[BINARY[i][0] for i in (0, 1, 2, 3, 6, 7, 10, 11)])
def test_binary_noncontiguous(name, fn):
    a = noncontig(rand(4, 3, seed=3))
    b = _safe(name, noncontig(rand(4, 3, seed=4)))
    assert not E(a).is_contiguous()
    check(fn, None, a, b)


def test_pow_tensor_tensor_and_scalar_base():
    a = rand(3, 4, low=0.1, high=2.0, seed=5)
    b = rand(3, 4, seed=6)
    check(lambda x, y: x ** y, None, a, b)
    check(lambda y: 2.0 ** y, None, b)
    check(lambda x: x ** 3, None, a)
    check(lambda x: x ** 0.5, None, a)
    check(lambda x: x ** 0, None, a)
    check(lambda x: x ** -1.5, None, a)
    check(lambda x: x.pow(2), None, rand(5, seed=7))


def test_pow_zero_base_gradient():
    a = np.array([0.0, 0.0, 1.0, 2.0])
    b = np.array([0.0, 2.0, 0.0, 1.5])
    check(lambda x, y: x ** y, None, a, b)


@pytest.mark.parametrize('fn', [
    lambda x: x + 2, lambda x: 2 + x, lambda x: x - 1.5, lambda x: 1.5 - x, lambda x: x * 3,
    lambda x: 3 * x, lambda x: x / 4, lambda x: 4 / x, lambda x: -x, lambda x: +x,
    lambda x: x % 0.7,
])
def test_scalar_operands(fn):
    a = _safe('div', rand(3, 5, seed=8))
    check(fn, None, a)


@pytest.mark.parametrize('fn', [lambda x: x // 0.3, lambda x: 7 // x])
def test_floor_divide_scalar(fn):
    # torch has no derivative for floor_divide; ember's is zero (piecewise constant)
    a = _safe('div', rand(3, 5, seed=8))
    check(fn, None, a, grad=False)
    x = E(a, requires_grad=True)
    fn(x).backward(ember.ones(3, 5))
    assert not x.grad.numpy().any()


def test_scalar_remainder_by_tensor():
    # torch has no derivative for remainder(Scalar, Tensor); ember's is -floor(a/b)
    a = _safe('div', rand(3, 5, seed=8))
    check(lambda x: 2.5 % x, None, a, grad=False)
    gradcheck(lambda x: 2.5 % x, a.astype(np.float64))


def test_gradcheck_binary():
    a = rand(3, 4, dtype=np.float64, seed=9)
    b = rand(4, dtype=np.float64, low=0.5, high=2.0, seed=10)
    for f in (lambda x, y: x * y + x / y - y, lambda x, y: ember.maximum(x, y * 0.5),
              lambda x, y: x.lerp(y, 0.3), lambda x, y: (x * x + 0.1) ** y):
        gradcheck(f, a, b)


# ---- type promotion -----------------------------------------------------------------------
PROMO_VALUES = {
    'f16': np.array([1.5, 2.0], np.float16), 'f32': np.array([1.5, 2.0], np.float32),
    'f64': np.array([1.5, 2.0], np.float64), 'i8': np.array([1, 2], np.int8),
    'i32': np.array([1, 2], np.int32), 'i64': np.array([1, 2], np.int64),
    'u8': np.array([1, 2], np.uint8), 'b': np.array([True, False]),
    'f64_0d': np.array(2.5), 'i64_0d': np.array(3), 'f32_0d': np.array(2.5, np.float32),
    'i32_0d': np.array(3, np.int32),
}
SCALARS = [2, 2.5, True]


@pytest.mark.parametrize('ka', list(PROMO_VALUES))
@pytest.mark.parametrize('kb', list(PROMO_VALUES) + SCALARS)
@pytest.mark.parametrize('op', ['add', 'mul', 'div', 'maximum', 'eq', 'lt'])
def test_type_promotion(ka, kb, op):
    a = PROMO_VALUES[ka]
    b = PROMO_VALUES[kb] if isinstance(kb, str) else kb
    ta, ea = torch.tensor(a), E(a)
    tb, eb = (torch.tensor(b), E(b)) if isinstance(kb, str) else (b, b)
    try:
        rt = getattr(torch, op)(ta, tb)
    except (RuntimeError, TypeError) as err:
        with pytest.raises(type(err)):
            getattr(ember, op)(ea, eb)
        return
    re = getattr(ember, op)(ea, eb)
    assert_close(re, rt)


def test_int_division_and_floor():
    a = np.array([7, -7, 5, -5, 0])
    b = np.array([2, 2, -3, -3, 4])
    for mode in (None, 'trunc', 'floor'):
        assert_close(ember.div(E(a), E(b), rounding_mode=mode), torch.div(T(a), T(b), rounding_mode=mode))
    assert_close(E(a) // E(b), T(a) // T(b))
    assert_close(E(a) % E(b), T(a) % T(b))
    assert_close(E(a).fmod(E(b)), T(a).fmod(T(b)))
    f = rand(6, seed=11)
    for mode in ('trunc', 'floor'):
        check(lambda x, y: x.div(y, rounding_mode=mode), None, f, _safe('div', rand(6, seed=12)))


def test_integer_errors():
    with pytest.raises(RuntimeError, match='ZeroDivisionError'):
        E(np.array([1, 2])) // E(np.array([1, 0]))
    with pytest.raises(RuntimeError, match='Integers to negative integer powers are not allowed'):
        E(np.array([1, 2])) ** -1
    with pytest.raises(RuntimeError, match='Subtraction, the `-` operator, with two bool'):
        E(np.array([True])) - E(np.array([False]))
    with pytest.raises(RuntimeError, match='Negation, the `-` operator, on a bool tensor'):
        -E(np.array([True]))


def test_broadcast_error_message():
    with pytest.raises(RuntimeError) as e_err:
        E(rand(3, 4)) + E(rand(5))
    with pytest.raises(RuntimeError) as t_err:
        T(rand(3, 4)) + T(rand(5))
    assert 'must match the size of tensor b' in str(t_err.value)
    assert str(e_err.value) == str(t_err.value)


# ---- ternary and clamp --------------------------------------------------------------------
@pytest.mark.parametrize('lo,hi', [(-0.5, 0.5), (None, 0.3), (-0.2, None), (0.5, -0.5)])
def test_clamp_scalar(lo, hi):
    a = rand(4, 5, seed=13)
    check(lambda x: x.clamp(lo, hi), None, a)
    check(lambda x: x.clip(min=lo, max=hi), None, a)


def test_clamp_tensor_bounds():
    a, lo, hi = rand(4, 5, seed=14), rand(5, seed=15, high=0), rand(4, 1, seed=16, low=0)
    check(lambda x, l, h: x.clamp(l, h), None, a, lo, hi)
    check(lambda x, l: x.clamp(min=l), None, a, lo)
    check(lambda x, l, h: torch.clamp(x, l, h) if isinstance(x, torch.Tensor) else ember.clamp(x, l, h),
          None, a, hi, lo)
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max' must not be None"):
        E(a).clamp()


def test_where_lerp_addcmul_addcdiv():
    c = rand(3, 4, seed=17) > 0
    a, b = rand(3, 4, seed=18), rand(4, seed=19)
    check(lambda x, y: (ember if isinstance(x, ember.Tensor) else torch).where(
        E(c) if isinstance(x, ember.Tensor) else T(c), x, y), None, a, b)
    check(lambda x: (ember if isinstance(x, ember.Tensor) else torch).where(
        E(c) if isinstance(x, ember.Tensor) else T(c), x, 0.0), None, a)
    check(lambda x, y: x.lerp(y, 0.25), None, a, b)
    w = rand(3, 4, seed=20)
    check(lambda x, y, z: x.lerp(y, z), None, a, b, w)
    check(lambda x, y, z: x.addcmul(y, z, value=0.5), None, a, b, w)
    check(lambda x, y, z: x.addcdiv(y, z, value=-2), None, a, b, _safe('div', w))
    with pytest.raises(RuntimeError, match='where expected condition to be a boolean tensor'):
        ember.where(E(a), E(a), E(a))


def test_maximum_ties_split_gradient():
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 1.0, 4.0])
    check(lambda x, y: x.maximum(y), None, a, b)
    check(lambda x, y: x.minimum(y), None, a, b)


def test_nan_propagation():
    a = np.array([np.nan, 1.0, 2.0])
    b = np.array([0.0, np.nan, 1.0])
    for f in ('maximum', 'minimum', 'fmax', 'fmin'):
        assert_close(getattr(ember, f)(E(a), E(b)), getattr(torch, f)(T(a), T(b)))
    assert_close(E(a).clamp(0, 1), T(a).clamp(0, 1))


# ---- comparisons and logic ----------------------------------------------------------------
@pytest.mark.parametrize('op', ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logical_and', 'logical_or',
                                'logical_xor'])
def test_comparisons(op):
    a = np.round(rand(3, 4, seed=21))
    b = np.round(rand(4, seed=22))
    assert_close(getattr(E(a), op)(E(b)), getattr(T(a), op)(T(b)))
    if op.startswith('logical'):
        with pytest.raises(TypeError, match="must be Tensor, not float"):
            getattr(ember, op)(E(a), 1.0)
    else:
        assert_close(getattr(ember, op)(E(a), 1.0), getattr(torch, op)(T(a), 1.0))


def test_operators_comparison_and_bitwise():
    a, b = np.array([1, 2, 3, 4]), np.array([4, 2, 1, 4])
    ea, eb, ta, tb = E(a), E(b), T(a), T(b)
    for f in (lambda x, y: x == y, lambda x, y: x != y, lambda x, y: x < y, lambda x, y: x <= y,
              lambda x, y: x > y, lambda x, y: x >= y, lambda x, y: x & y, lambda x, y: x | y,
              lambda x, y: x ^ y, lambda x, y: ~x, lambda x, y: x == 2, lambda x, y: 3 > x):
        assert_close(f(ea, eb), f(ta, tb))
    m = np.array([True, False, True])
    assert_close(~E(m), ~T(m))
    assert_close(E(m) & E(~m), T(m) & T(~m))
    with pytest.raises(RuntimeError, match='bitwise_not'):
        ~E(rand(3))
    assert ember.equal(E(a), E(a.copy())) and not ember.equal(E(a), E(b))
    assert E(a).allclose(E(a) + 1e-9)
    assert_close(ember.isclose(E(rand(4, seed=1)), E(rand(4, seed=1)) + 1e-7),
                 torch.isclose(T(rand(4, seed=1)), T(rand(4, seed=1)) + 1e-7))
    assert (E(a) == None) is False and (E(a) != None) is True  # noqa: E711


def test_numpy_and_list_operands():
    a = rand(3, seed=23)
    assert_close(E(a) + a, T(a) + torch.tensor(a))
    assert_close(E(a) * [1.0, 2.0, 3.0], T(a) * torch.tensor([1.0, 2.0, 3.0]))
    r = a + E(a)  # NumPy defers to the Tensor (__array_priority__)
    assert isinstance(r, ember.Tensor)
    assert_close(np.float32(2) * E(a), 2 * T(a))


def test_out_argument():
    a, b = rand(3, seed=24), rand(3, seed=25)
    out = ember.empty(3)
    r = ember.add(E(a), E(b), out=out)
    assert r is out
    assert_close(out, T(a) + T(b))
    out2 = ember.empty(0)
    ember.mul(E(a), E(b), out=out2)
    assert_close(out2, T(a) * T(b))


def test_devices_mismatch_message():
    if not ember.cuda.is_available():
        pytest.skip('needs a GPU')
    with pytest.raises(RuntimeError, match='Expected all tensors to be on the same device'):
        E(rand(3)).cuda() + ember.tensor(rand(3))


# ---- in-place arithmetic ------------------------------------------------------------------
@pytest.mark.parametrize('op,arg', [('add_', 1.5), ('sub_', 0.5), ('mul_', 2.0), ('div_', 4.0),
                                    ('pow_', 2), ('clamp_', (-0.5, 0.5)), ('neg_', None),
                                    ('remainder_', 0.7), ('fmod_', 0.7)])
def test_inplace_matches_out_of_place(op, arg):
    a = rand(3, 4, seed=26)
    args = () if arg is None else (arg if isinstance(arg, tuple) else (arg,))

    def f(x):
        y = x * 1
        getattr(y, op)(*args)
        return y
    check(f, None, a)


def test_inplace_operators():
    a, b = rand(3, 4, seed=27), rand(4, seed=28, low=0.5)

    def f(x, y):
        z = x * 1
        z += y
        z -= 1
        z *= y
        z /= y
        z **= 2
        z.lerp_(y, 0.25)
        z.addcmul_(y, y, value=0.5)
        return z
    check(f, None, a, b)
    ea = E(np.array([5, 6, 7]))
    ea //= 2
    ea %= 2
    ta = T(np.array([5, 6, 7]))
    ta //= 2
    ta %= 2
    assert_close(ea, ta)


def test_inplace_dtype_and_shape_rules():
    x = E(np.zeros(3, np.int64))
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        x.add_(E(rand(3)))
    x.add_(2)
    assert x.dtype == ember.int64 and x.tolist() == [2, 2, 2]
    y = E(rand(3))
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"):
        y.add_(E(rand(2, 3)))
    y.add_(E(np.array([1, 2, 3])))  # int into float is fine
    assert y.dtype == ember.float32


def test_fill_zero_copy():
    a = rand(3, 4, seed=29)
    b = rand(4, seed=30)

    def f(x, y):
        z = x * 2
        w = z.clone()
        w.copy_(y)
        v = z * 1
        v.zero_()
        u = z * 1
        u.fill_(1.5)
        return w + v + u + z
    check(f, None, a, b)
    x = E(rand(2, 3))
    x.copy_(E(np.array([1, 2, 3])))
    assert x.tolist() == [[1, 2, 3], [1, 2, 3]]
    x.copy_([[4, 5, 6], [7, 8, 9]])
    assert x.tolist() == [[4, 5, 6], [7, 8, 9]]
    x.fill_(ember.tensor(2.0))
    assert x.tolist() == [[2, 2, 2], [2, 2, 2]]
    with pytest.raises(RuntimeError, match='fill_ only supports 0-dimension value tensor'):
        x.fill_(ember.tensor([1.0, 2.0]))


# ---- property-based: broadcasting over random shapes ------------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402


@st.composite
def broadcastable_pair(draw):
    """Two shapes that broadcast together (size-1 and missing leading dims included)."""
    ndim = draw(st.integers(0, 4))
    full = draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim))
    a = [1 if draw(st.booleans()) else s for s in full]
    b = [1 if draw(st.booleans()) else s for s in full]
    a = a[draw(st.integers(0, ndim)):]
    b = b[draw(st.integers(0, ndim)):]
    return tuple(a), tuple(b)


@settings(max_examples=60, deadline=None)
@given(shapes=broadcastable_pair(), op=st.sampled_from(['add', 'sub', 'mul', 'div', 'maximum']),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2 ** 16))
def test_broadcasting_property(shapes, op, dtype, seed):
    sa, sb = shapes
    a = rand(*sa, dtype=dtype, seed=seed)
    b = _safe('div', rand(*sb, dtype=dtype, seed=seed + 1))
    check(lambda x, y: getattr(x, op)(y), None, a, b, seed=seed)
