"""Sorting and order statistics (sort, argsort, msort, topk, kthvalue, median, nanmedian,
mode), sets and bins (unique, unique_consecutive, bincount, histc, searchsorted, bucketize),
differences (diff, trapezoid) and ember.return_types, against torch."""
import pickle
import re

import numpy as np
import pytest
import torch

import ember
from tests.helpers import E, T, check, gradcheck, assert_close, rand, noncontig
from tests.test_reduction import both, meth, raises_like

DTYPES = [np.float32, np.float64]
NANS = np.array([[1., np.nan, 3., np.nan, 0.], [2., 1., np.nan, 5., 4.], [3., 1., 2., 0., 4.]])
ALL_NAN = np.array([[np.nan, np.nan], [1., 2.]])


def distinct(*shape, dtype=np.float32, seed=0):
    """Values with no ties (random permutation of a grid), so every index is determined."""
    n = int(np.prod(shape))
    grid = np.random.default_rng(seed).permutation(n) * 0.37 - n * 0.1
    return grid.reshape(shape).astype(dtype)


# ==== sort, argsort, msort =======================================================================
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('descending', [False, True])
def test_sort(descending, dtype):
    a = distinct(3, 4, 5, dtype=dtype, seed=1)
    for dim in (0, 1, -1):
        check(meth('sort', dim, descending), None, a)
        check(*both('sort', dim, descending=descending), a)
        check(lambda x: x.sort(dim=dim, descending=descending, stable=True), None, a)
        check(lambda x: x.sort(dim=dim, descending=descending), None, noncontig(a))
        check(meth('argsort', dim, descending), None, a)
    check(meth('sort', descending=descending), None, NANS.astype(dtype))     # NaN as largest
    check(meth('sort', 0, descending), None, np.array(1.5, dtype))
    check(meth('sort', 0, descending), None, np.zeros((0, 3), dtype))


@pytest.mark.parametrize('descending', [False, True])
def test_stable_sort_ties(descending):
    a = np.random.default_rng(2).integers(0, 4, size=(20, 60)).astype(np.float32)
    for dim in (0, 1):
        check(lambda x: x.sort(dim=dim, descending=descending, stable=True), None, a)
        check(lambda x: x.argsort(dim=dim, descending=descending, stable=True), None, a,
              grad=False)
    for dt in (np.int64, np.int32, np.uint8, np.bool_):
        check(lambda x: x.sort(dim=1, descending=descending, stable=True), None,
              (a > 1).astype(dt) if dt is np.bool_ else a.astype(dt), grad=False)


def test_msort_and_sort_repr():
    a = distinct(4, 3, seed=3)
    check(meth('msort'), None, a)
    check(*both('msort'), a)
    r = E(np.array([3., 1.], np.float32)).sort()
    assert repr(r) == 'ember.return_types.sort(\nvalues=tensor([1., 3.]),\nindices=tensor([1, 0]))'
    v, i = ember.empty(2), ember.empty(2, dtype=ember.int64)
    assert ember.sort(E(np.array([3., 1.])), out=(v, i)).values is v


# ==== topk, kthvalue =============================================================================
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('largest', [True, False])
def test_topk(largest, dtype):
    a = distinct(4, 6, 7, dtype=dtype, seed=4)
    for dim in (0, 1, -1):
        for k in (0, 1, 3, a.shape[dim]):
            check(meth('topk', k, dim, largest), None, a)
            check(*both('topk', k, dim=dim, largest=largest, sorted=True), a)
    big = distinct(5, 3000, dtype=dtype, seed=5)         # partition path: n large, k small
    for k in (1, 10, 100):
        check(meth('topk', k, largest=largest), None, big)
        check(meth('topk', k, 0, largest), None, np.ascontiguousarray(big.T))
    check(meth('topk', 2, largest=largest), None, NANS.astype(dtype))
    check(meth('topk', 1), None, np.array(2.5, dtype))
    check(meth('topk', 0), None, np.zeros((3, 0), dtype))


def test_topk_errors():
    a = rand(2, 3)
    for k in (4, -1):
        raises_like(meth('topk', k), a, exc=RuntimeError)
    raises_like(meth('topk', 1), np.zeros((3, 0)), exc=RuntimeError)
    raises_like(meth('topk', 1, 2), a, exc=IndexError)


@pytest.mark.parametrize('dtype', DTYPES)
def test_kthvalue(dtype):
    a = distinct(4, 5, 6, dtype=dtype, seed=6)
    for dim in (0, 1, -1):
        for k in (1, 3, a.shape[dim]):
            for keepdim in (False, True):
                check(meth('kthvalue', k, dim, keepdim), None, a)
                check(*both('kthvalue', k, dim, keepdim=keepdim), a)
    check(meth('kthvalue', 2), None, np.array([[3., 1., 3.], [2., 0., 2.]], dtype))
    check(meth('kthvalue', 4), None, NANS.astype(dtype))
    check(meth('kthvalue', 1), None, np.array(2.0, dtype))
    check(meth('kthvalue', 1, 1), None, np.zeros((0, 3), dtype))
    raises_like(meth('kthvalue', 0), a, exc=RuntimeError)
    raises_like(meth('kthvalue', 7), a, exc=RuntimeError)
    raises_like(meth('kthvalue', 1, 0), np.zeros((0, 3)), exc=IndexError)


# ==== median, nanmedian, mode ====================================================================
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('name', ['median', 'nanmedian'])
def test_median(name, dtype):
    for shape in [(3, 4, 5), (3, 5, 4), (7,)]:
        a = distinct(*shape, dtype=dtype, seed=7)
        check(meth(name), None, a)
        check(*both(name), a)
        for dim in range(-1, len(shape)):
            check(meth(name, dim), None, a)
            check(meth(name, dim, True), None, a)
            check(*both(name, dim, keepdim=False), a)
    small_ties = np.array([[1., 3., 3.], [2., 0., 2.], [5., 5., 5.], [4., 4., 1.]], dtype)
    check(meth(name), None, small_ties)          # equal elements share the gradient
    check(meth(name, 1), None, small_ties)
    check(meth(name), None, NANS.astype(dtype))
    check(meth(name, 1), None, NANS.astype(dtype))
    check(meth(name, 1), None, ALL_NAN.astype(dtype))
    check(meth(name), None, np.full(3, np.nan, dtype))
    check(meth(name), None, np.array(2.5, dtype))
    check(meth(name, 0), None, np.array(2.5, dtype))
    check(meth(name), None, np.zeros((0, 3), dtype))
    check(meth(name, 1), None, np.zeros((0, 3), dtype))
    raises_like(meth(name, 0), np.zeros((0, 3), dtype), exc=IndexError)
    r = getattr(E(small_ties), name)(1)
    assert repr(r).startswith(f'ember.return_types.{name}(\nvalues=')


def test_median_ints():
    a = np.array([[4, 1, 3, 2], [0, 9, 9, 1]])
    for fn in (meth('median'), meth('median', 1), meth('nanmedian', 0), meth('mode', 1)):
        check(fn, None, a, grad=False)


@pytest.mark.parametrize('dtype', DTYPES)
def test_mode(dtype):
    a = np.array([[1., 3., 3.], [2., 0., 2.], [3., 1., 3.], [7., 5., 6.], [1., 1., 2.]], dtype)
    for keepdim in (False, True):
        check(meth('mode', 1, keepdim), None, a)
        check(*both('mode', 0, keepdim=keepdim), a)
    check(meth('mode'), None, np.array([[3., 1., 3., 1.], [1., 3., 1., 3.], [5., 2., 7., 2.]],
                                       dtype))
    check(meth('mode'), None, NANS[:, :4].astype(dtype))
    check(meth('mode'), None, np.array([1., np.nan, np.nan], dtype))
    check(meth('mode', 0), None, np.array(2.5, dtype))
    check(meth('mode', 1), None, np.zeros((0, 3), dtype))
    raises_like(meth('mode', 1), np.zeros((3, 0), dtype), exc=IndexError)


# ==== unique, unique_consecutive =================================================================
UNIQUE_INPUTS = [np.array([3, 1, 3, 2, 1, 0, 3]), np.array([[3, 1], [1, 3], [2, 2]]),
                 np.array([2.5, np.nan, 1.0, np.nan, 2.5]), np.array(3), np.array([], np.float32),
                 np.array([True, False, True])]


@pytest.mark.parametrize('a', UNIQUE_INPUTS, ids=range(len(UNIQUE_INPUTS)))
@pytest.mark.parametrize('inverse', [False, True])
@pytest.mark.parametrize('counts', [False, True])
def test_unique(a, inverse, counts):
    for sorted_ in (True, False):
        check(lambda x: x.unique(sorted=sorted_, return_inverse=inverse, return_counts=counts),
              None, a, grad=False)
    check(*both('unique', return_inverse=inverse, return_counts=counts), a, grad=False)
    check(lambda x: x.unique_consecutive(return_inverse=inverse, return_counts=counts),
          None, a, grad=False)


def test_unique_dim():
    a = np.array([[1, 2, 1, 1], [1, 2, 1, 0], [0, 5, 0, 1], [1, 2, 1, 0]])
    for dim in (0, 1, -1):
        check(lambda x: x.unique(dim=dim, return_inverse=True, return_counts=True), None, a,
              grad=False)
        check(lambda x: torch.unique(x, dim=dim) if isinstance(x, torch.Tensor)
              else ember.unique(x, dim=dim), None, a.astype(np.float32), grad=False)
        check(lambda x: x.unique_consecutive(dim=dim, return_inverse=True, return_counts=True),
              None, a, grad=False)
    c = np.array([1, 1, 2, 2, 3, 1, 1, 2])
    check(*both('unique_consecutive', return_inverse=True, return_counts=True), c, grad=False)
    check(lambda x: x.unique_consecutive(return_inverse=True), None,
          np.array([[2, 2], [1, 1]]), grad=False)


# ==== bincount, histc ============================================================================
def test_bincount():
    i = np.array([3, 1, 3, 2, 1, 0, 3])
    check(meth('bincount'), None, i, grad=False)
    check(meth('bincount', minlength=6), None, i, grad=False)
    check(*both('bincount', None, 2), i, grad=False)
    for w in (np.arange(7, dtype=np.float32), np.arange(7.0), np.arange(7)):
        assert_close(E(i).bincount(E(w)), T(i).bincount(T(w)))
        assert_close(ember.bincount(E(i), weights=E(w), minlength=8),
                     torch.bincount(T(i), weights=T(w), minlength=8))
    check(meth('bincount'), None, np.array([], np.int64), grad=False)
    check(meth('bincount', minlength=3), None, np.array([], np.int64), grad=False)
    check(meth('bincount'), None, np.array([1, 4], np.uint8), grad=False)
    raises_like(meth('bincount'), np.array([-1, 2]), exc=RuntimeError)
    raises_like(meth('bincount'), np.array([[1]]), exc=RuntimeError)
    raises_like(meth('bincount'), np.array([1.0]), exc=NotImplementedError)
    raises_like(meth('bincount'), np.array([True]), exc=NotImplementedError)
    raises_like(meth('bincount', minlength=-1), i, exc=RuntimeError)
    raises_like(lambda x: x.bincount(x[:3].float()), i, exc=RuntimeError)


@pytest.mark.parametrize('dtype', DTYPES)
def test_histc(dtype):
    a = np.array([[1., 3., 3.], [2., 0., 2.], [-4., 7., 0.5]], dtype)
    for args, kwargs in [((), {}), ((4,), {'min': 0, 'max': 3}), ((3,), {}),
                         ((4, 1, 2), {}), ((5,), {'min': -1.5, 'max': 2.5}), ((1,), {})]:
        check(meth('histc', *args, **kwargs), None, a, grad=False)
        check(*both('histc', *args, **kwargs), a, grad=False)
    check(meth('histc', 3), None, np.array([1., 1., 1.], dtype), grad=False)
    check(meth('histc', 2), None, np.zeros(0, dtype), grad=False)
    check(meth('histc', 2, 0, 1), None, np.array([np.inf, 0.5], dtype), grad=False)
    raises_like(meth('histc', 3), np.array([1, 2]), exc=NotImplementedError)
    raises_like(meth('histc', 4, 3, 0), a, exc=RuntimeError)
    raises_like(meth('histc', -1), a, exc=RuntimeError)
    with pytest.raises(RuntimeError, match='is not finite'):   # torch prints the range oddly
        E(np.array([np.inf], dtype)).histc(2)


# ==== searchsorted, bucketize ====================================================================
def test_searchsorted():
    sq = np.array([1., 3., 5., 7., 9.], np.float32)
    sq2 = np.array([[1., 3., 5.], [2., 4., 6.], [0., 0., 9.]], np.float32)
    v = np.array([[3., 6., 9.], [3., 6., 9.], [0., 10., -1.]], np.float32)
    for seq in (sq, sq2):
        for kw in ({}, {'right': True}, {'side': 'right'}, {'side': 'left'},
                   {'out_int32': True}, {'right': True, 'side': 'right'}):
            assert_close(ember.searchsorted(E(seq), E(v), **kw),
                         torch.searchsorted(T(seq), T(v), **kw))
    for value in (4, 4.0, 9, 0):
        for right in (False, True):
            assert_close(ember.searchsorted(E(sq), value, right=right),
                         torch.searchsorted(T(sq), value, right=right))
    assert_close(ember.searchsorted(E(sq), E(np.array([2, 4]))),
                 torch.searchsorted(T(sq), T(np.array([2, 4]))))
    unsorted, order = np.array([5., 1., 3.]), np.array([1, 2, 0])
    assert_close(ember.searchsorted(E(unsorted), E(np.array([2., 4.])), sorter=E(order)),
                 torch.searchsorted(T(unsorted), T(np.array([2., 4.])), sorter=T(order)))
    big = np.sort(rand(4, 700, seed=8), axis=1)
    vals = rand(4, 50, seed=9)
    for right in (False, True):
        assert_close(ember.searchsorted(E(big), E(vals), right=right),
                     torch.searchsorted(T(big), T(vals), right=right))
    for bad in ({'side': 'middle'}, {'side': 'left', 'right': True}):
        with pytest.raises(RuntimeError) as t_err:
            torch.searchsorted(T(sq), T(v), **bad)
        with pytest.raises(RuntimeError, match=re.escape(str(t_err.value))):
            ember.searchsorted(E(sq), E(v), **bad)
    with pytest.raises(RuntimeError) as t_err:
        torch.searchsorted(T(sq2), T(np.array([3.])))
    with pytest.raises(RuntimeError) as e_err:
        ember.searchsorted(E(sq2), E(np.array([3.])))
    assert str(e_err.value) == str(t_err.value)


def test_bucketize():
    b = np.array([1., 3., 5., 7., 9.])
    v = np.array([[3., 6., 9.], [0., 10., 5.]])
    for kw in ({}, {'right': True}, {'out_int32': True}):
        assert_close(ember.bucketize(E(v), E(b), **kw), torch.bucketize(T(v), T(b), **kw))
    assert_close(ember.bucketize(3, E(b)), torch.bucketize(3, T(b)))
    raises_like(lambda x: (ember if isinstance(x, ember.Tensor) else torch).bucketize(x, x), v,
                exc=RuntimeError)


# ==== diff, trapezoid ============================================================================
@pytest.mark.parametrize('dtype', DTYPES)
def test_diff(dtype):
    a = rand(3, 5, dtype=dtype, seed=10)
    pre, app = rand(3, 2, dtype=dtype, seed=11), rand(3, 1, dtype=dtype, seed=12)
    for n in (0, 1, 2, 3, 7):
        for dim in (0, 1, -1):
            check(meth('diff', n, dim), None, a)
            check(*both('diff', n, dim), a)
    check(lambda x, p, q: x.diff(prepend=p, append=q), None, a, pre, app)
    check(lambda x, p: x.diff(n=2, prepend=p), None, a, pre)
    check(lambda x, q: x.diff(n=3, dim=1, append=q), None, a, app)
    check(lambda x, p: x.diff(dim=0, prepend=p), None, a, rand(2, 5, dtype=dtype, seed=13))
    check(meth('diff'), None, noncontig(a))
    check(meth('diff'), None, np.array([True, False, False, True]), grad=False)
    check(meth('diff', 2), None, np.array([1, 4, 9, 16]), grad=False)
    raises_like(meth('diff'), np.array(1.0), exc=RuntimeError)
    raises_like(meth('diff', -1), a, exc=RuntimeError)
    raises_like(lambda x: x.diff(append=x[0]), a, exc=RuntimeError)
    gradcheck(lambda x, p, q: x.diff(2, prepend=p, append=q), a.astype(np.float64),
              pre.astype(np.float64), app.astype(np.float64))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('name', ['trapezoid', 'trapz'])
def test_trapezoid(name, dtype):
    y = rand(3, 4, dtype=dtype, seed=14)
    x1 = np.array([0., 1., 3., 3.5], dtype)
    xf = np.cumsum(rand(3, 4, dtype=dtype, seed=15, low=0.1, high=1), axis=1)
    check(*both(name), y)
    check(*both(name, dx=0.5), y)
    check(*both(name, dim=0), y)
    check(*both(name, dx=2.0, dim=0), y)
    fe, ft = (getattr(ember, name), getattr(torch, name))
    check(lambda a, b: (fe if isinstance(a, ember.Tensor) else ft)(a, b), None, y, x1)
    check(lambda a, b: (fe if isinstance(a, ember.Tensor) else ft)(a, b), None, y, xf)
    check(lambda a, b: (fe if isinstance(a, ember.Tensor) else ft)(a, b, dim=0), None, y,
          np.array([0., 2., 3.], dtype))
    check(lambda a, b: (fe if isinstance(a, ember.Tensor) else ft)(a, b), None, y, xf[:1])
    check(*both(name), np.zeros(0, dtype))
    check(*both(name), np.zeros((3, 1), dtype))
    assert_close(fe(E(np.array([[1, 3, 3], [2, 0, 2]]))),
                 ft(T(np.array([[1, 3, 3], [2, 0, 2]]))))
    with pytest.raises(RuntimeError, match='There must be one `x` value for each sample point'):
        fe(E(y), E(x1[:3]))
    gradcheck(lambda a, b: fe(a, b), y.astype(np.float64), xf.astype(np.float64))
    gradcheck(lambda a, b: fe(a, b), y.astype(np.float64), x1.astype(np.float64))


# ==== gradients ==================================================================================
GRADCHECK = [
    lambda x: x.sort(1).values, lambda x: x.sort(0, descending=True).values,
    lambda x: x.topk(2, 1).values, lambda x: x.topk(2, 0, largest=False).values,
    lambda x: x.kthvalue(2, 2).values, meth('median'), lambda x: x.median(1).values,
    meth('nanmedian'), lambda x: x.nanmedian(2, True).values, lambda x: x.mode(1).values,
    meth('msort'),
]


@pytest.mark.parametrize('fn', GRADCHECK, ids=range(len(GRADCHECK)))
def test_gradcheck(fn):
    gradcheck(fn, distinct(3, 4, 5, dtype=np.float64, seed=16))


# ==== return types ===============================================================================
def test_return_types_behave_like_torch():
    rt = ember.return_types
    r = rt.max((1, 2))
    assert isinstance(r, tuple) and r == (1, 2) and r.values == 1 and r.indices == 2
    assert r.n_fields == 2 and r.n_sequence_fields == 2 and r.n_unnamed_fields == 0
    assert repr(r) == 'ember.return_types.max(\nvalues=1,\nindices=2)'
    assert repr(r) == repr(torch.return_types.max((1, 2))).replace('torch', 'ember')
    assert type(pickle.loads(pickle.dumps(r))) is rt.max
    assert r[0:1] == (1,) and r + (3,) == (1, 2, 3)
    with pytest.raises(TypeError, match='takes a 2-sequence'):
        rt.sort((1,))
    with pytest.raises(TypeError, match='constructor requires a sequence'):
        rt.sort(1)
    for name in ('min', 'sort', 'topk', 'kthvalue', 'median', 'nanmedian', 'mode', 'cummax',
                 'cummin', 'aminmax', 'slogdet', 'svd', 'qr', 'linalg_eigh'):
        t_cls, e_cls = getattr(torch.return_types, name), getattr(rt, name)
        n = t_cls.n_sequence_fields
        assert repr(e_cls(tuple(range(n)))) == repr(t_cls(tuple(range(n)))).replace(
            'torch', 'ember')
