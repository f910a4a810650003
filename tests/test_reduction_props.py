"""Property tests: sum, mean, amax, var, logsumexp and softmax over random shapes (up to 4-D,
size-0 and size-1 dims included), random dim subsets and keepdim, forward and backward
against torch."""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st, HealthCheck

import ember
from tests.helpers import check

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def reduction_case(draw, allow_empty=True):
    """(array, dims as passed to the op, keepdim): shape up to 4-D, dims a random subset
    (negative or not, as a tuple, a single int, or None)."""
    ndim = draw(st.integers(0, 4))
    lo = 0 if allow_empty else 1
    shape = tuple(draw(st.lists(st.integers(lo, 5), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2 ** 16))
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    if draw(st.booleans()) and ndim >= 2:
        a = np.ascontiguousarray(np.swapaxes(a, 0, -1)).swapaxes(0, -1)   # non-contiguous
    kind = draw(st.sampled_from(['none', 'int', 'tuple']))
    if kind == 'none' or ndim == 0:
        dim = None if kind == 'none' else draw(st.sampled_from([0, -1]))
    elif kind == 'int':
        dim = draw(st.integers(-ndim, ndim - 1))
    else:
        axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        dim = tuple(ax - ndim if draw(st.booleans()) else ax for ax in axes)
    return a, dim, draw(st.booleans())


def _both_or_raise(fn, a):
    """check() when torch succeeds; otherwise ember must raise the same exception type."""
    try:
        fn(torch.tensor(a))
    except Exception as err:       # noqa: BLE001 - the type is what is compared
        with pytest.raises(type(err)):
            fn(ember.from_numpy(a.copy()))
        return
    check(fn, None, a, rtol=1e-4, atol=1e-5)


@SETTINGS
@given(reduction_case())
def test_sum_mean_property(case):
    a, dim, keepdim = case
    if dim is None:
        check(lambda x: x.sum(), None, a, rtol=1e-4, atol=1e-5)
        check(lambda x: x.mean(), None, a, rtol=1e-4, atol=1e-5)
    check(lambda x: x.sum(dim, keepdim), None, a, rtol=1e-4, atol=1e-5)
    check(lambda x: x.mean(dim, keepdim), None, a, rtol=1e-4, atol=1e-5)


@SETTINGS
@given(reduction_case())
def test_amax_property(case):
    a, dim, keepdim = case
    d = () if dim is None else dim
    _both_or_raise(lambda x: x.amax(d, keepdim), a)
    _both_or_raise(lambda x: x.amin(d, keepdim), np.asarray(np.round(a)))      # with ties


@SETTINGS
@given(reduction_case(), st.sampled_from([0, 1, 2]))
def test_var_property(case, correction):
    a, dim, keepdim = case
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        n = a.size // max(torch.tensor(a).sum(dim if dim is not None else ()).numel(), 1)
        grad = n - correction > 0
        for name in ('var', 'std'):
            check(lambda x: getattr(x, name)(dim, correction=correction, keepdim=keepdim),
                  None, a, rtol=1e-4, atol=1e-5, grad=grad)


@SETTINGS
@given(reduction_case())
def test_logsumexp_property(case):
    a, dim, keepdim = case
    d = tuple(range(a.ndim)) if dim is None else dim
    _both_or_raise(lambda x: x.logsumexp(d, keepdim), np.asarray(a * 10))


@SETTINGS
@given(reduction_case(), st.integers(0, 3))
def test_softmax_property(case, which):
    a, _, _ = case
    dim = 0 if a.ndim == 0 else which % a.ndim - (which % 2) * a.ndim
    check(lambda x: x.softmax(dim), None, np.asarray(a * 5), rtol=1e-4, atol=1e-6)
    check(lambda x: x.log_softmax(dim), None, np.asarray(a * 5), rtol=1e-4, atol=1e-5)
