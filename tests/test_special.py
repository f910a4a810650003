"""The error-function family and ember.special: float64 accuracy on dense grids (tails included),
parity with torch, gradients, dtypes and the torch.special namespace."""
import math

import numpy as np
import pytest
import torch

import ember
from ember.ops.special import (erf_array, erfc_array, erfcx_array, erfinv_array, ndtr_array,
                               ndtri_array, log_ndtr_array)
from tests.helpers import E, T, check, gradcheck, assert_close, rand, noncontig, to_np

INF, NAN = np.inf, np.nan
GRID = np.concatenate([np.linspace(-30.0, 30.0, 60001), np.geomspace(1e-300, 1.0, 800),
                       -np.geomspace(1e-300, 1.0, 800),
                       [0.0, -0.0, 0.46875, np.nextafter(0.46875, 1), 4.0, np.nextafter(4.0, 5),
                        26.5, 27.0]])


def _max_rel(got, ref, floor=1e-300):
    """Largest relative error where the reference is a normal float (absolute below)."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    scale = np.maximum(np.abs(ref), floor)
    return float(np.max(np.abs(got - ref) / scale))


# ---- float64 accuracy -------------------------------------------------------------------------
def test_erf_float64_matches_math_erf():
    ref = np.array([math.erf(v) for v in GRID])
    assert _max_rel(erf_array(GRID), ref) < 1e-14


def test_erfc_float64_keeps_relative_precision_in_tails():
    ref = np.array([math.erfc(v) for v in GRID])
    normal = ref > 1e-300  # the right tail down to ~x = 26.2; denormals beyond
    assert _max_rel(erfc_array(GRID)[normal], ref[normal]) < 1e-14
    assert _max_rel(erfc_array(GRID), ref, floor=1e-310) < 1e-3


def test_erf_erfc_tensor_float64_against_math():
    x = E(GRID)
    assert_close(ember.erf(x), torch.tensor([math.erf(v) for v in GRID], dtype=torch.float64),
                 rtol=1e-14, atol=0)
    got = to_np(ember.erfc(x))
    ref = np.array([math.erfc(v) for v in GRID])
    m = ref > 1e-300
    assert _max_rel(got[m], ref[m]) < 1e-14


Y_GRID = np.concatenate([np.linspace(-1.0, 1.0, 40001), 1.0 - np.geomspace(2 ** -53, 0.5, 2000),
                         -1.0 + np.geomspace(2 ** -53, 0.5, 2000), np.geomspace(1e-300, 0.5, 800),
                         -np.geomspace(1e-300, 0.5, 800), [0.85, -0.85, np.nextafter(0.85, 1)]])


def test_erfinv_float64_matches_torch():
    got = erfinv_array(Y_GRID)
    ref = torch.erfinv(torch.from_numpy(Y_GRID)).numpy()
    finite = np.isfinite(ref)
    assert np.array_equal(got[~finite], ref[~finite])
    assert _max_rel(got[finite], ref[finite]) < 1e-14


def test_erfinv_round_trip_near_one_and_zero():
    """erf(erfinv(y)) = y, in the tails measured through erfc (1 - y is exact there)."""
    t = 1.0 - (1.0 - np.geomspace(2 ** -53, 0.25, 3000))  # so that 1 - t is exact
    a = erfinv_array(1.0 - t)
    assert _max_rel(erfc_array(a), t) < 2e-14
    assert _max_rel(-erfinv_array(t - 1.0), a) < 1e-15
    y = np.geomspace(1e-300, 0.5, 3000)
    assert _max_rel(erf_array(erfinv_array(y)), y) < 1e-15


def test_erfinv_special_values():
    y = np.array([1.0, -1.0, 1.5, -1.5, NAN, 0.0, -0.0])
    got = erfinv_array(y)
    ref = torch.erfinv(torch.from_numpy(y)).numpy()
    np.testing.assert_array_equal(got, ref)
    assert np.array_equal(np.signbit(got), np.signbit(ref))


def test_erf_erfc_special_values():
    x = np.array([INF, -INF, NAN, 0.0, -0.0, 1e-310, -1e-310])
    for mine, theirs in ((erf_array, torch.erf), (erfc_array, torch.erfc),
                         (erfcx_array, torch.special.erfcx)):
        got = mine(x)
        ref = theirs(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-15, atol=0)
        assert np.array_equal(np.signbit(got), np.signbit(ref))


def test_erfcx_float64():
    x = np.concatenate([np.linspace(-1.0, 30.0, 20001), np.geomspace(30, 1e300, 500)])
    ref = torch.special.erfcx(torch.from_numpy(x)).numpy()
    assert _max_rel(erfcx_array(x), ref) < 1e-14
    # left tail: 2 exp(x^2) - erfcx(-x); torch rounds x^2 there (error ~ x^2 eps), so mpmath
    mpmath = pytest.importorskip('mpmath')
    mpmath.mp.dps = 40
    x = np.linspace(-26.5, -1.0, 501)
    ref = np.array([float(mpmath.exp(mpmath.mpf(v) ** 2) * mpmath.erfc(mpmath.mpf(v))) for v in x])
    assert _max_rel(erfcx_array(x), ref) < 1e-15
    # the identity with erfc where neither under/overflows
    m = np.abs(x) < 20
    assert _max_rel(erfcx_array(x[m]) * np.exp(-x[m] ** 2), erfc_array(x[m]), 1e-290) < 2e-13


def test_ndtr_ndtri_log_ndtr_float64():
    x = np.linspace(-1.0, 9.0, 20001)  # torch cancels 1 + erf below; see the mpmath test
    assert _max_rel(ndtr_array(x), torch.special.ndtr(torch.from_numpy(x)).numpy()) < 1e-14
    x = np.linspace(-38.0, 9.0, 20001)
    assert _max_rel(log_ndtr_array(x),
                    torch.special.log_ndtr(torch.from_numpy(x)).numpy()) < 1e-13
    p = np.concatenate([np.geomspace(1e-300, 0.5, 3000), 1.0 - np.geomspace(2 ** -53, 0.5, 3000),
                        np.linspace(0.0, 1.0, 10001), [-0.5, 1.5, NAN]])
    ref = torch.special.ndtri(torch.from_numpy(p)).numpy()
    got = ndtri_array(p)
    finite = np.isfinite(ref)
    assert np.array_equal(got[~finite], ref[~finite], equal_nan=True)
    assert _max_rel(got[finite], ref[finite]) < 1e-14


def test_ndtr_left_tail_against_mpmath():
    """torch's float64 ndtr loses all precision below x = -5 (1 - erf cancels); ours keeps it."""
    mpmath = pytest.importorskip('mpmath')
    mpmath.mp.dps = 40
    x = np.linspace(-37.5, -0.5, 1001)
    ref = np.array([float(mpmath.ncdf(mpmath.mpf(v))) for v in x])
    assert _max_rel(ndtr_array(x), ref) < 1e-14
    assert _max_rel(log_ndtr_array(x), np.log(ref)) < 1e-15


def test_array_functions_keep_shape_and_float_dtype():
    for f in (erf_array, erfc_array, erfcx_array, erfinv_array, ndtr_array, ndtri_array,
              log_ndtr_array):
        for dtype in (np.float16, np.float32, np.float64):
            a = rand(2, 3, dtype=dtype, low=-0.9, high=0.9)
            r = f(a)
            assert r.shape == (2, 3) and r.dtype == dtype
        assert f(np.array(0.25)).shape == ()
        assert f(np.zeros((0, 4))).shape == (0, 4)


# ---- tensor ops: parity, dtypes, gradients --------------------------------------------------
OPS = {
    'erf': (lambda m: m.erf, (-4, 4)), 'erfc': (lambda m: m.erfc, (-4, 8)),
    'erfinv': (lambda m: m.erfinv, (-0.99, 0.99)),
    'special.erf': (lambda m: m.special.erf, (-4, 4)),
    'special.erfc': (lambda m: m.special.erfc, (-4, 8)),
    'special.erfinv': (lambda m: m.special.erfinv, (-0.99, 0.99)),
    'special.erfcx': (lambda m: m.special.erfcx, (-5, 30)),
    'special.ndtr': (lambda m: m.special.ndtr, (-8, 8)),
    'special.ndtri': (lambda m: m.special.ndtri, (0.01, 0.99)),
    'special.log_ndtr': (lambda m: m.special.log_ndtr, (-20, 6)),
    'special.entr': (lambda m: m.special.entr, (0.01, 3)),
    'special.expit': (lambda m: m.special.expit, (-6, 6)),
    'special.exp2': (lambda m: m.special.exp2, (-3, 3)),
    'special.expm1': (lambda m: m.special.expm1, (-3, 3)),
    'special.log1p': (lambda m: m.special.log1p, (-0.9, 3)),
    'special.logit': (lambda m: m.special.logit, (0.05, 0.95)),
    'special.round': (lambda m: m.special.round, (-3, 3)),
    'special.sinc': (lambda m: m.special.sinc, (-3, 3)),
}


def _rtol(name, dtype):
    """torch's float32 log_ndtr gradient is only good to ~1e-5 (ours is computed in float64)."""
    return 5e-5 if name == 'special.log_ndtr' and dtype == np.float32 else None


def _pair(name):
    get, lim = OPS[name]
    return (lambda x: get(ember if isinstance(x, ember.Tensor) else torch)(x)), lim


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('shape', [(3, 4), (), (0, 2), (2, 1, 3)])
@pytest.mark.parametrize('name', list(OPS))
def test_parity(name, shape, dtype):
    f, (lo, hi) = _pair(name)
    a = rand(*shape, dtype=dtype, low=lo, high=hi, seed=1)
    check(f, None, a, grad=name != 'special.round', rtol=_rtol(name, dtype))


@pytest.mark.parametrize('name', list(OPS))
def test_noncontiguous_and_special_points(name):
    f, (lo, hi) = _pair(name)
    check(f, None, noncontig(rand(4, 5, low=lo, high=hi, seed=2)), grad=name != 'special.round',
          rtol=_rtol(name, np.float32))
    pts = np.array([0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, 1e-30, INF, -INF, NAN])
    check(f, None, pts, grad=name not in ('special.round', 'special.ndtri'))


def test_ndtri_gradient_at_special_points():
    # torch's ndtri gradient is nan at p = 0 and 1 (where ours is inf), so only interior points
    check(lambda x: (ember if isinstance(x, ember.Tensor) else torch).special.ndtri(x), None,
          np.array([0.5, 0.25, 1e-300, 1e-10, 0.999999, 0.75]))


@pytest.mark.parametrize('name', [n for n in OPS if n != 'special.round'])
def test_gradcheck(name):
    get, (lo, hi) = OPS[name]
    gradcheck(get(ember), rand(2, 3, dtype=np.float64, low=lo, high=hi, seed=3))


@pytest.mark.parametrize('kind', ['int64', 'int32', 'uint8', 'bool'])
@pytest.mark.parametrize('name', list(OPS))
def test_integer_inputs(name, kind):
    f, _ = _pair(name)
    a = np.array([0, 1, 2, 1]).astype(kind)
    try:
        expected = f(T(a))
    except (RuntimeError, NotImplementedError) as err:
        with pytest.raises(type(err)):
            f(E(a))
        return
    assert_close(f(E(a)), expected)


@pytest.mark.parametrize('name', list(OPS))
def test_float16(name):
    f, (lo, hi) = _pair(name)
    a = rand(3, 4, dtype=np.float16, low=lo, high=hi, seed=4)
    try:
        expected = f(T(a))
    except NotImplementedError:  # torch lacks some float16 kernels; ember has them all
        expected = f(T(a.astype(np.float32))).half()
    assert_close(f(E(a)), expected, rtol=3e-3, atol=3e-3)


@pytest.mark.parametrize('name', ['erf', 'erfc', 'erfinv'])
def test_float32_close_to_correctly_rounded(name):
    """float32 results are within 1 ulp of the float64 result rounded to float32."""
    lo, hi = OPS[name][1]
    a = np.linspace(lo, hi, 100001, dtype=np.float32)
    got = to_np(getattr(ember, name)(E(a))).astype(np.float64)
    ref = getattr(torch, name)(torch.from_numpy(a.astype(np.float64))).numpy()
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(got - ref) / ulp) <= 1.0


def test_backward_names():
    x = E(rand(3, low=0.1, high=0.9), requires_grad=True)
    tx = T(rand(3, low=0.1, high=0.9), requires_grad=True)
    for name in OPS:
        if name == 'special.round':
            continue
        get = OPS[name][0]
        assert get(ember)(x).grad_fn.name() == type(get(torch)(tx).grad_fn).__name__, name


# ---- in-place and out= ----------------------------------------------------------------------
@pytest.mark.parametrize('name', ['erf', 'erfc', 'erfinv'])
def test_inplace(name):
    a = rand(3, 4, low=-0.9, high=0.9, seed=5)
    x = E(a)
    v = x._version
    assert getattr(x, name + '_')() is x and x._version == v + 1
    assert_close(x, getattr(torch, name)(T(a)))

    def f(t):
        y = t * 1
        if isinstance(t, ember.Tensor):
            getattr(y, name + '_')()
            return y
        return getattr(torch, name)(y)
    check(f, None, a)
    with pytest.raises(RuntimeError, match="result type Float can't be cast"):
        getattr(E(np.array([0, 1])), name + '_')()


def test_torch_level_functions():
    for name in ('erf', 'erfc', 'erfinv', 'erf_', 'erfc_'):
        assert hasattr(ember, name) and hasattr(torch, name)
    assert not hasattr(torch, 'erfinv_')
    a = rand(4, low=-0.5, high=0.5)
    x = E(a)
    assert ember.erf_(x) is x
    assert_close(x, torch.erf(T(a)))


@pytest.mark.parametrize('name', ['erf', 'erfc', 'erfinv', 'special.erfcx', 'special.ndtr',
                                  'special.ndtri', 'special.log_ndtr', 'special.entr'])
def test_out_argument(name):
    get = OPS[name][0]
    a = rand(3, 4, low=0.1, high=0.9, seed=6)
    out = ember.empty(3, 4)
    assert get(ember)(E(a), out=out) is out
    assert_close(out, get(torch)(T(a)))


# ---- the namespace --------------------------------------------------------------------------
def test_namespace_matches_torch_special():
    for name in ember.special.__all__:
        assert hasattr(torch.special, name), name
        assert callable(getattr(ember.special, name))
    x = E(rand(5, low=0.1, high=0.9))
    for name in ('erf', 'erfc', 'erfinv', 'expit', 'exp2', 'expm1', 'log1p', 'logit', 'sinc'):
        out = getattr(ember.special, name)(x)
        assert_close(out, getattr(torch.special, name)(T(to_np(x))))
        assert getattr(ember.special, name).__name__ == 'special_' + name


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_xlog1py(dtype):
    a = rand(3, 4, dtype=dtype, seed=7)
    b = rand(4, dtype=dtype, low=-0.9, high=2.0, seed=8)
    a[0, :2] = 0.0
    f = lambda x, y: (ember if isinstance(x, ember.Tensor) else torch).special.xlog1py(x, y)
    check(f, None, a, b)
    gradcheck(ember.special.xlog1py, a.astype(np.float64), b.astype(np.float64))
    v = np.array([0.0, -0.0, 1.0, -1.0, 2.0, INF, -INF, NAN], dtype)
    check(f, None, np.repeat(v, v.size), np.tile(v, v.size))
    for other in (2, 0.5, -1.0):
        out, _ = check(lambda x: (ember if isinstance(x, ember.Tensor) else torch).special.xlog1py(
            x, other), None, a)
        assert out.grad_fn.name() == 'SpecialXlog1PyBackward2'
    out, _ = check(lambda y: (ember if isinstance(y, ember.Tensor) else torch).special.xlog1py(
        3, y), None, b)
    assert out.grad_fn.name() == 'SpecialXlog1PyBackward1'
    assert_close(ember.special.xlog1py(E(np.array([0, 1, 2])), E(np.array([1, 2, 3]))),
                 torch.special.xlog1py(T(np.array([0, 1, 2])), T(np.array([1, 2, 3]))))


def test_xlogy_in_special():
    a, b = rand(3, seed=9), rand(3, low=0.1, seed=10)
    assert_close(ember.special.xlogy(E(a), E(b)), torch.special.xlogy(T(a), T(b)))
    assert_close(ember.special.xlogy(2.0, E(b)), torch.special.xlogy(2.0, T(b)))
    for f in (ember.special.xlogy, ember.special.xlog1py, ember.xlogy):
        with pytest.raises(TypeError, match='received an invalid combination of arguments'):
            f(1.0, 2.0)


@pytest.mark.parametrize('name', ['softmax', 'log_softmax'])
def test_softmax_family_forwards_to_ember(name):
    if not hasattr(ember, name):
        pytest.skip(f'ember.{name} is not written yet')
    a = rand(3, 4, seed=11)
    check(lambda x: getattr((ember if isinstance(x, ember.Tensor) else torch).special, name)(x, 1),
          None, a)


def test_logsumexp_forwards_to_ember():
    if not hasattr(ember, 'logsumexp'):
        pytest.skip('ember.logsumexp is not written yet')
    a = rand(3, 4, seed=12)
    check(lambda x: (ember if isinstance(x, ember.Tensor) else torch).special.logsumexp(x, 1),
          None, a)


@pytest.mark.parametrize('name', list(OPS))
def test_non_tensor_input(name):
    get = OPS[name][0]
    with pytest.raises(TypeError) as e_err:
        get(ember)(0.5)
    with pytest.raises(TypeError) as t_err:
        get(torch)(0.5)
    assert str(e_err.value) == str(t_err.value)
