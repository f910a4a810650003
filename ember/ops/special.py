"""The error function family, normal-distribution functions and their ops.

Array level (NumPy or CuPy arrays in, same shape out; other ops import these):

    erf_array(x), erfc_array(x), erfcx_array(x)   W. J. Cody's rational Chebyshev
                                                   approximations (Math. Comp. 1969), three
                                                   ranges, full float64 precision; float32
                                                   and float16 erf use one shorter rational
    erfinv_array(y), ndtri_array(p)               Wichura's AS 241 (PPND16), refined by one
                                                   Halley step on erf / erfc for float64
    ndtr_array(x), log_ndtr_array(x)              through erfc / erfcx, accurate in the tails

Floating inputs keep their dtype (computed in float64 and rounded once); integer and bool
inputs give float64 here and the default float dtype at the op level. Ranges are split with
integer index arrays (NumPy's boolean indexing is slow on irregular masks).

Tensor level: erf, erfc, erfinv (``torch.*``, Tensor methods and in-place variants), and the
``special_*`` functions that ``ember.special`` publishes: erf, erfc, erfinv, erfcx, ndtr,
ndtri, log_ndtr, xlog1py, entr.
"""
import math

import numpy as np

from .. import _dtype
from .._backend import xp_of
from .._tensor import Tensor
from ..autograd.function import Op
from ..autograd.inplace import apply_inplace
from ._registry import tensor_method
from .elementwise import promote
from .unary import (_float_pair, _zero_where, _store, _check_tensor, unary_function,
                    scalar_or_tensor_binary)

__all__ = ['erf', 'erfc', 'erfinv', 'erf_', 'erfc_']

_F64 = np.dtype(np.float64)
_INV_SQRT_PI = 0.56418958354775628695     # 1 / sqrt(pi)
_TWO_INV_SQRT_PI = 1.1283791670955125739  # 2 / sqrt(pi)
_HALF_SQRT_PI = 0.88622692545275801365    # sqrt(pi) / 2
_SQRT2 = 1.4142135623730950488
_INV_SQRT2 = 0.70710678118654752440
_INV_SQRT_2PI = 0.39894228040143267794    # 1 / sqrt(2 pi)
_SQRT_2_OVER_PI = 0.79788456080286535588  # sqrt(2 / pi)

# Cody's coefficients, arranged highest power first for Horner's rule (denominators are monic).
# |x| <= 0.46875:   erf(x) = x * N1(x^2) / D1(x^2)
_N1 = (1.85777706184603153e-1, 3.16112374387056560e00, 1.13864154151050156e02,
       3.77485237685302021e02, 3.20937758913846947e03)
_D1 = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
       2.84423683343917062e03)
# 0.46875 < |x| <= 4:   erfcx(x) = N2(x) / D2(x)
_N2 = (2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e00,
       6.61191906371416295e01, 2.98635138197400131e02, 8.81952221241769090e02,
       1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03)
_D2 = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
       1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
       3.43936767414372164e03, 1.23033935480374942e03)
# |x| > 4, z = 1/x^2:   erfcx(x) = (1/sqrt(pi) - z * N3(z) / D3(z)) / x
_N3 = (1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1,
       1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4)
_D3 = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
       6.05183413124413191e-2, 2.33520497626869185e-3)

# float32 / float16 inputs: erf(x) = x * NS(x^2) / DS(x^2) on [-4, 4] (erf rounds to +-1 in
# float32 beyond), a near-minimax rational fitted (weighted least squares with Lawson
# reweighting against the float64 erf above) to 2.1e-9 relative error; evaluated in float64 it
# is within 0.54 ulp of float32.
_NS = (-1.3200879167563073e-08, 4.6845127390296448e-06, 3.7959942372498782e-04,
       3.8495997056520711e-03, 5.4316740964130715e-02, 1.8520362953557801e-01,
       1.1283791693615828e+00)
_DS = (6.3108083330457206e-05, 1.3075548913103459e-03, 1.5462031987745857e-02,
       1.1395838616724836e-01, 4.9746585684949607e-01, 1.0)

# Wichura's AS 241 (PPND16) for the standard normal quantile, highest power first.
# |p - 1/2| <= 0.425, w = 0.180625 - (p - 1/2)^2:   z = (p - 1/2) * NA(w) / DA(w)
_NA = (2.5090809287301226727e3, 3.3430575583588128105e4, 6.7265770927008700853e4,
       4.5921953931549871457e4, 1.3731693765509461125e4, 1.9715909503065514427e3,
       1.3314166789178437745e2, 3.3871328727963666080e0)
_DA = (5.2264952788528545610e3, 2.8729085735721942674e4, 3.9307895800092710610e4,
       2.1213794301586595867e4, 5.3941960214247511077e3, 6.8718700749205790830e2,
       4.2313330701600911252e1, 1.0)
# tails, s = sqrt(-log(min(p, 1 - p))): s <= 5 uses NC/DC at s - 1.6, else NE/DE at s - 5
_NC = (7.74545014278341407640e-4, 2.27238449892691845833e-2, 2.41780725177450611770e-1,
       1.27045825245236838258e0, 3.64784832476320460504e0, 5.76949722146069140550e0,
       4.63033784615654529590e0, 1.42343711074968357734e0)
_DC = (1.05075007164441684324e-9, 5.47593808499534494600e-4, 1.51986665636164571966e-2,
       1.48103976427480074590e-1, 6.89767334985100004550e-1, 1.67638483018380384940e0,
       2.05319162663775882187e0, 1.0)
_NE = (2.01033439929228813265e-7, 2.71155556874348757815e-5, 1.24266094738807843860e-3,
       2.65321895265761230930e-2, 2.96560571828504891230e-1, 1.78482653991729133580e0,
       5.46378491116411436990e0, 6.65790464350110377720e0)
_DE = (2.04426310338993978564e-15, 1.42151175831644588870e-7, 1.84631831751005468180e-5,
       7.86869131145613259100e-4, 1.48753612908506148525e-2, 1.36929880922735805310e-1,
       5.99832206555887937690e-1, 1.0)


# ---- helpers ----------------------------------------------------------------------------
def _horner(z, coefs, monic=False):
    """Polynomial in array ``z`` (coefficients highest power first; ``monic``: a leading 1 is
    implied). Evaluated in place on one new array."""
    if monic:
        p = z + coefs[0]
        rest = coefs[1:]
    else:
        p = z * coefs[0]
        p += coefs[1]
        rest = coefs[2:]
    for c in rest:
        p *= z
        p += c
    return p


_CHUNK = 32768


def _elementwise(kernel, x, *args):
    """``kernel(flat float64 array, *args) -> flat float64 array`` applied to ``x``; the result
    has x's shape, and x's dtype when that is floating (float64 otherwise). Large NumPy inputs
    go through in chunks of _CHUNK elements, so that a long formula's temporaries stay in cache
    and are not re-faulted into memory on every call (twice as fast); CuPy takes one chunk."""
    out_dtype = x.dtype if x.dtype.kind == 'f' else _F64
    flat = x.reshape(-1)
    n = flat.size
    if n <= _CHUNK or flat.__class__ is not np.ndarray:
        out = kernel(flat.astype(_F64, copy=False), *args)
        return out.astype(out_dtype, copy=False).reshape(x.shape)
    out = np.empty(n, out_dtype)
    for i in range(0, n, _CHUNK):
        out[i:i + _CHUNK] = kernel(flat[i:i + _CHUNK].astype(_F64, copy=False), *args)
    return out.reshape(x.shape)


def _single(dtype):
    """float32 or float16: a^2 of its values is exact in float64, and 1e-16 is more than
    enough."""
    return dtype.kind == 'f' and dtype.itemsize < 8


def _exp_sq(a, factor=-1.0, exact=False):
    """exp(factor * a^2) for factor = +-1 or -1/2, without the error of rounding a^2: with
    a = h + d, h a multiple of 1/16, factor * h^2 is exact. |a| is capped at 40, where
    exp(-a^2) is 0 and exp(a^2) is inf, so that inf gives 0 / inf. ``exact``: a^2 is exact
    in float64 already (a came from float32), one exp is enough."""
    if exact:
        return np.exp((a * a) * factor)
    a = np.minimum(np.abs(a), 40.0)
    h = np.trunc(a * 16.0)
    h *= 0.0625
    d = a - h
    d *= a + h
    h *= h
    h *= factor
    np.exp(h, out=h)
    d *= factor
    np.exp(d, out=d)
    h *= d
    return h


def _erf_small(x):
    """erf for |x| <= 0.46875 (float64 array)."""
    z = x * x
    r = _horner(z, _N1)
    r /= _horner(z, _D1, monic=True)
    r *= x
    return r


def _indices(mask):
    """(flat indices where ``mask`` holds, where it does not). Gathering and scattering with
    index arrays is several times faster than NumPy's boolean indexing on irregular masks."""
    xp = xp_of(mask)
    return xp.flatnonzero(mask), xp.flatnonzero(~mask)


def _erfcx_large(a):
    """exp(a^2) erfc(a) for a flat array a > 0.46875 (nan passes through)."""
    mid, big = _indices(a <= 4.0)
    if not big.size:
        return _erfcx_mid(a)
    out = xp_of(a).empty_like(a)
    out[mid] = _erfcx_mid(a[mid])
    out[big] = _erfcx_big(a[big])
    return out


def _erfcx_mid(a):
    r = _horner(a, _N2)
    r /= _horner(a, _D2, monic=True)
    return r


def _erfcx_big(a):
    z = 1.0 / (a * a)
    r = _horner(z, _N3)
    r /= _horner(z, _D3, monic=True)
    r *= z
    np.subtract(_INV_SQRT_PI, r, out=r)
    r /= a
    return r


def _erfc_large(a, exact=False):
    """erfc(a) for a flat array a > 0.46875."""
    r = _erfcx_large(a)
    r *= _exp_sq(a, exact=exact)
    return r


def _erf_erfc_abs(a):
    """(erf(a), erfc(a)) for a flat float64 array a >= 0 (or nan)."""
    small, large = _indices(a <= 0.46875)
    e = xp_of(a).empty_like(a)
    ec = xp_of(a).empty_like(a)
    es = _erf_small(a[small])
    e[small] = es
    ec[small] = 1.0 - es
    c = _erfc_large(a[large])
    ec[large] = c
    e[large] = 1.0 - c
    return e, ec


def _erf_single(x):
    """erf for flat float64 values of float32 / float16 inputs (see _NS/_DS)."""
    a = np.clip(x, -4.0, 4.0)
    z = a * a
    r = _horner(z, _NS)
    r *= a
    r /= _horner(z, _DS)
    return r


def _erf(x):
    """Cody's erf for a flat float64 array."""
    a = np.abs(x)
    small, large = _indices(a <= 0.46875)
    if not large.size:
        return _erf_small(x)
    out = xp_of(x).empty_like(x)
    out[small] = _erf_small(x[small])
    r = _erfc_large(a[large])
    np.subtract(0.5, r, out=r)  # 1 - erfc, rounded like Cody's (0.5 - r) + 0.5
    r += 0.5
    out[large] = np.copysign(r, x[large])
    return out


def _erfc(x, exact=False):
    """Cody's erfc for a flat float64 array (``exact``: see _exp_sq)."""
    small, large = _indices(np.abs(x) <= 0.46875)
    out = xp_of(x).empty_like(x)
    out[small] = 1.0 - _erf_small(x[small])
    xl = x[large]
    r = _erfc_large(np.abs(xl), exact)
    neg = xp_of(x).flatnonzero(xl < 0)
    r[neg] = 2.0 - r[neg]
    out[large] = r
    return out


def _erfcx(x):
    """exp(x^2) erfc(x) for a flat float64 array."""
    small, large = _indices(np.abs(x) <= 0.46875)
    out = xp_of(x).empty_like(x)
    xs = x[small]
    out[small] = _exp_sq(xs, 1.0) * (1.0 - _erf_small(xs))
    xl = x[large]
    r = _erfcx_large(np.abs(xl))
    neg = xp_of(x).flatnonzero(xl < 0)
    xn = xl[neg]
    r[neg] = 2.0 * _exp_sq(xn, 1.0) - r[neg]
    out[large] = r
    return out


def _quantile_start(q, r):
    """AS 241: the standard normal quantile for p with q = p - 1/2 and r = min(p, 1 - p)."""
    z = xp_of(q).empty_like(q)
    center, tail = _indices(np.abs(q) <= 0.425)
    qc = q[center]
    w = 0.180625 - qc * qc
    zc = _horner(w, _NA)
    zc /= _horner(w, _DA)
    zc *= qc
    z[center] = zc
    s = np.sqrt(-np.log(r[tail]))
    near, far = _indices(s <= 5.0)
    zt = xp_of(s).empty_like(s)
    sn = s[near] - 1.6
    zt[near] = _horner(sn, _NC) / _horner(sn, _DC)
    sf = s[far] - 5.0
    zt[far] = _horner(sf, _NE) / _horner(sf, _DE)
    z[tail] = np.copysign(zt, q[tail])
    return z


def _erfinv_abs(s, t, refine=True):
    """a >= 0 with erf(a) = s for flat float64 arrays 0 <= s < 1 and t = 1 - s (t is given
    separately so that values near 1 keep their precision). AS 241 alone is good to ~7e-16
    relative; ``refine`` adds one Halley step, f = erf(a) - s (or t - erfc(a) when s > 1/2),
    f' = 2/sqrt(pi) exp(-a^2), f'' = -2 a f', for ~4e-16."""
    a = _quantile_start(0.5 * s, 0.5 * t)
    a *= _INV_SQRT2
    if not refine:
        return a
    e, ec = _erf_erfc_abs(a)
    f = np.where(s <= 0.5, e - s, t - ec)
    fp = _exp_sq(a)
    fp *= _TWO_INV_SQRT_PI
    fp += a * f
    f /= fp
    a -= f
    return a


def _erfinv_signed(s, t, sign, scale, refine):
    """copysign(scale * erfinv(s), sign) where t = 1 - s (exact, or more precise than s near
    1): t = 0 gives +-inf, t < 0 (s > 1) or nan gives nan."""
    xp = xp_of(s)
    out = xp.full_like(s, np.nan)
    inside = xp.flatnonzero(t > 0.0)
    a = _erfinv_abs(s[inside], t[inside], refine)
    a *= scale
    out[inside] = np.copysign(a, sign[inside])
    edge = xp.flatnonzero(t == 0.0)
    out[edge] = np.copysign(np.inf, sign[edge])
    return out


def _erfinv(y, refine):
    s = np.abs(y)
    return _erfinv_signed(s, 1.0 - s, y, 1.0, refine)


def _ndtr(x):
    """erfc(-x / sqrt(2)) / 2 with exp(-x^2 / 2) taken from x itself in the left tail, so that
    rounding x / sqrt(2) costs no relative precision."""
    out = _erfc(x * -_INV_SQRT2)
    out *= 0.5
    tail = xp_of(x).flatnonzero(x < -0.6629126073623883)  # -x/sqrt(2) > 0.46875: erfcx ranges
    xt = x[tail]
    out[tail] = 0.5 * _erfcx_large(xt * -_INV_SQRT2) * _exp_sq(xt, -0.5)
    return out


def _ndtri(p, refine):
    q = p - 0.5
    t = 2.0 * np.minimum(p, 1.0 - p)
    return _erfinv_signed(np.abs(2.0 * q), t, q, _SQRT2, refine)


def _log_ndtr(x):
    """log(erfcx(-x / sqrt(2)) / 2) - x^2 / 2 for x < -1, else log1p(-erfc(x / sqrt(2)) / 2)."""
    out = xp_of(x).empty_like(x)
    low, high = _indices(x < -1.0)
    xl = x[low]
    out[low] = np.log(0.5 * _erfcx(xl * -_INV_SQRT2)) - 0.5 * xl * xl
    out[high] = np.log1p(-0.5 * _erfc(x[high] * _INV_SQRT2))
    return out


# ---- the error function family ----------------------------------------------------------
def erf_array(x):
    """erf(x) elementwise, to float64 precision; same shape (and floating dtype) as x.
    float32 and float16 take a shorter rational evaluated in float64 (within 0.54 ulp)."""
    return _elementwise(_erf_single if _single(x.dtype) else _erf, x)


def erfc_array(x):
    """erfc(x) = 1 - erf(x) elementwise, keeping full relative precision in the right tail."""
    return _elementwise(_erfc, x, _single(x.dtype))


def erfcx_array(x):
    """exp(x^2) erfc(x) elementwise (the scaled complementary error function)."""
    return _elementwise(_erfcx, x)


def erfinv_array(y):
    """The inverse error function elementwise: erf(erfinv(y)) = y on [-1, 1] (+-inf at +-1,
    nan outside); float64 results get a Halley step on AS 241."""
    return _elementwise(_erfinv, y, not _single(y.dtype))


def ndtr_array(x):
    """The standard normal CDF elementwise, (1 + erf(x / sqrt(2))) / 2, accurate in the left
    tail."""
    return _elementwise(_ndtr, x)


def ndtri_array(p):
    """The standard normal quantile (inverse of ndtr) elementwise."""
    return _elementwise(_ndtri, p, not _single(p.dtype))


def log_ndtr_array(x):
    """log(ndtr(x)) elementwise, accurate in both tails."""
    return _elementwise(_log_ndtr, x)


# ---- ops ------------------------------------------------------------------------------
def _float_in(a):
    """Integer and bool arrays become the default float dtype; floating ones stay."""
    return a if a.dtype.kind == 'f' else a.astype(_dtype.default_float_np())


def _gauss(x):
    """exp(-x^2) for a floating array (in its dtype)."""
    return np.exp(-(x * x))


class Erf(Op):
    @staticmethod
    def forward(ctx, x):
        x = _float_in(x)
        ctx.save_for_backward(x)
        return erf_array(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * (_TWO_INV_SQRT_PI * _gauss(x))


class Erfc(Op):
    @staticmethod
    def forward(ctx, x):
        x = _float_in(x)
        ctx.save_for_backward(x)
        return erfc_array(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * (-_TWO_INV_SQRT_PI * _gauss(x))


class Erfinv(Op):
    @staticmethod
    def forward(ctx, y):
        out = erfinv_array(_float_in(y))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved
        return g * (_HALF_SQRT_PI * np.exp(out * out))


class SpecialErfcx(Op):
    @staticmethod
    def forward(ctx, x):
        x = _float_in(x)
        out = erfcx_array(x)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved
        return g * (2.0 * x * out - _TWO_INV_SQRT_PI)


class SpecialNdtr(Op):
    backward_name = 'MulBackward1'  # PyTorch composes ndtr as 0.5 * erfc(...)

    @staticmethod
    def forward(ctx, x):
        x = _float_in(x)
        ctx.save_for_backward(x)
        return ndtr_array(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * (_INV_SQRT_2PI * np.exp(-0.5 * (x * x)))


class SpecialNdtri(Op):
    @staticmethod
    def forward(ctx, p):
        out = ndtri_array(_float_in(p))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved
        return g * (math.sqrt(2 * math.pi) * np.exp(0.5 * (out * out)))


class SpecialLogNdtr(Op):
    @staticmethod
    def forward(ctx, x):
        x = _float_in(x)
        ctx.save_for_backward(x)
        return log_ndtr_array(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        # pdf / cdf = sqrt(2/pi) / erfcx(-x / sqrt(2)), stable in both tails (nan at -inf, as
        # PyTorch)
        d = _SQRT_2_OVER_PI / erfcx_array(x * -_INV_SQRT2)
        return g * np.where(x == -np.inf, np.nan, d)


class SpecialXlog1Py(Op):
    """x * log1p(y), 0 where x == 0 (unless y is nan)."""

    @staticmethod
    def forward(ctx, x, y):
        x, y = _float_pair(*promote(x, y))
        ctx.save_for_backward(x, y)
        return _zero_where(x * np.log1p(y), (x == 0) & ~np.isnan(y))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        need = ctx.needs_input_grad
        gx = gy = None
        if need[0]:
            gx = _zero_where(g * np.log1p(y), (x == 0) & (y <= -1))
        if len(need) > 1 and need[1]:
            gy = g * x / (y + 1.0)
        return gx, gy


class SpecialXlog1PyScalarSelf(SpecialXlog1Py):
    backward_name = 'SpecialXlog1PyBackward1'


class SpecialXlog1PyScalarOther(SpecialXlog1Py):
    backward_name = 'SpecialXlog1PyBackward2'


_XLOG1PY_OPS = (SpecialXlog1Py, SpecialXlog1PyScalarSelf, SpecialXlog1PyScalarOther)


class SpecialEntr(Op):
    """-x log(x) for x > 0, 0 at 0, -inf for x < 0."""

    @staticmethod
    def forward(ctx, x):
        x = _float_in(x)
        ctx.save_for_backward(x)
        out = -x * np.log(x)
        out = np.where(x == 0, 0, out)
        return np.where(x < 0, -np.inf, out)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * -(np.log(x) + 1.0)


# ---- public functions ------------------------------------------------------------------
@tensor_method
def erf(input, *, out=None):
    """The error function 2/sqrt(pi) * integral_0^x exp(-t^2) dt, elementwise."""
    _check_tensor('erf', input)
    return _store(out, Erf.apply(input))


@tensor_method
def erfc(input, *, out=None):
    """1 - erf(x), accurate for large x."""
    _check_tensor('erfc', input)
    return _store(out, Erfc.apply(input))


@tensor_method
def erfinv(input, *, out=None):
    """The inverse error function on [-1, 1] (+-inf at +-1, nan outside)."""
    _check_tensor('erfinv', input)
    return _store(out, Erfinv.apply(input))


special_erf = unary_function(Erf, 'special_erf')
special_erfc = unary_function(Erfc, 'special_erfc')
special_erfinv = unary_function(Erfinv, 'special_erfinv')


def special_erfcx(input, *, out=None):
    """exp(x^2) * erfc(x) (``torch.special.erfcx``)."""
    _check_tensor('special_erfcx', input)
    return _store(out, SpecialErfcx.apply(input))


def special_ndtr(input, *, out=None):
    """The standard normal CDF (``torch.special.ndtr``)."""
    _check_tensor('special_ndtr', input)
    return _store(out, SpecialNdtr.apply(input))


def special_ndtri(input, *, out=None):
    """The standard normal quantile (``torch.special.ndtri``)."""
    _check_tensor('special_ndtri', input)
    return _store(out, SpecialNdtri.apply(input))


def special_log_ndtr(input, *, out=None):
    """log of the standard normal CDF, accurate far into the left tail
    (``torch.special.log_ndtr``)."""
    _check_tensor('special_log_ndtr', input)
    return _store(out, SpecialLogNdtr.apply(input))


def special_xlog1py(input, other, *, out=None):
    """input * log1p(other), 0 where input is 0; either argument may be a Python number
    (``torch.special.xlog1py``)."""
    return scalar_or_tensor_binary(_XLOG1PY_OPS, 'special_xlog1py', input, other, out)


def special_entr(input, *, out=None):
    """Elementwise entropy term -x log(x) (``torch.special.entr``)."""
    _check_tensor('special_entr', input)
    return _store(out, SpecialEntr.apply(input))


def _inplace(fn, name):
    def f(self):
        return apply_inplace(self, fn)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f'In-place ``{fn.__name__}``.'
    return tensor_method(name)(f)


erf_ = _inplace(erf, 'erf_')
erfc_ = _inplace(erfc, 'erfc_')
erfinv_ = _inplace(erfinv, 'erfinv_')
