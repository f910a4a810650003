"""Reductions (sum, mean, prod, max/min, amax, var/std, norm, logsumexp, all/any), softmax,
log_softmax and scans (cumsum, cumprod, cummax, logcumsumexp) against torch.

Sorting, order statistics, sets and bins are in test_sort.py; property tests over random
shapes and dims in test_reduction_props.py.
"""
import math
import warnings

import numpy as np
import pytest
import torch

import ember
from ember.ops import reduction as R
from tests.helpers import E, T, check, gradcheck, assert_close, rand, noncontig, to_np


def both(name, *args, **kwargs):
    """(ember fn, torch fn) calling module function ``name`` on the tensor with these args."""
    return (lambda x: getattr(ember, name)(x, *args, **kwargs),
            lambda x: getattr(torch, name)(x, *args, **kwargs))


def meth(name, *args, **kwargs):
    """The Tensor method ``name`` with these args (the same lambda serves both libraries)."""
    return lambda x: getattr(x, name)(*args, **kwargs)


def enorm(x, *args, **kwargs):
    """ember.ops.reduction.norm on ember tensors, torch.norm on torch tensors (``dtype``
    given as an ember dtype). Called through the module: ember.ops.linalg also defines a
    ``norm`` that takes ``ember.norm`` / ``Tensor.norm`` when it is imported after this one."""
    if isinstance(x, ember.Tensor):
        return R.norm(x, *args, **kwargs)
    if 'dtype' in kwargs:
        kwargs['dtype'] = {ember.float64: torch.float64, ember.float32: torch.float32}[
            kwargs['dtype']]
    return torch.norm(x, *args, **kwargs)


def norm_fn(*args, **kwargs):
    return lambda x: enorm(x, *args, **kwargs)


def raises_like(fn, *arrays, exc=None):
    """ember and torch raise the same exception type with the same message."""
    with pytest.raises(Exception) as t_err:
        fn(*[T(a) for a in arrays])
    with pytest.raises(type(t_err.value)) as e_err:
        fn(*[E(a) for a in arrays])
    if exc is not None:
        assert type(t_err.value) is exc
    assert str(e_err.value) == str(t_err.value)


DTYPES = [np.float32, np.float64]
DIMS = [None, 0, 1, -1, (0, 2), (-1, 0), [1], (), (0, 1, 2)]


# ==== sum, nansum, mean, nanmean, prod ===========================================================
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('keepdim', [False, True])
@pytest.mark.parametrize('dim', DIMS, ids=str)
@pytest.mark.parametrize('name', ['sum', 'mean', 'nansum', 'nanmean'])
def test_sum_mean_dims(name, dim, keepdim, dtype):
    a = rand(3, 4, 5, dtype=dtype, seed=1)
    if dim is None and not keepdim:
        check(meth(name), None, a)
        check(*both(name), a)
    check(meth(name, dim, keepdim), None, a)
    check(*both(name, dim, keepdim=keepdim), a)


@pytest.mark.parametrize('name', ['sum', 'mean', 'nansum', 'nanmean', 'prod', 'amax', 'amin',
                                  'logsumexp', 'var', 'std', 'norm'])
def test_reductions_noncontiguous_and_0d(name):
    call = enorm if name == 'norm' else lambda x, **kw: getattr(x, name)(**kw)
    a = noncontig(rand(4, 5, seed=2, low=0.5))
    assert not E(a).is_contiguous()
    for dim in (0, 1, (0, 1)):
        if name == 'prod' and isinstance(dim, tuple):
            continue
        check(lambda x: call(x, dim=dim), None, a)
    s = np.array(1.5)
    for dim in (0, -1):
        check(lambda x: call(x, dim=dim), None, s)
        check(lambda x: call(x, dim=dim, keepdim=True), None, s)
    if name not in ('logsumexp', 'var', 'std'):
        check(call, None, s)


def test_sum_grad_fn_names():
    x = E(rand(2, 3), requires_grad=True)
    assert x.sum().grad_fn.name() == 'SumBackward0'
    assert x.sum(0).grad_fn.name() == 'SumBackward1'
    assert x.mean().grad_fn.name() == 'MeanBackward0'
    assert x.mean(1).grad_fn.name() == 'MeanBackward1'
    assert x.prod().grad_fn.name() == 'ProdBackward0'
    assert x.prod(1).grad_fn.name() == 'ProdBackward1'
    assert x.nansum().grad_fn.name() == 'NansumBackward0'
    assert x.max().grad_fn.name() == 'MaxBackward1'
    assert x.max(1).values.grad_fn.name() == 'MaxBackward0'
    assert x.amax(1).grad_fn.name() == 'AmaxBackward0'
    assert x.var().grad_fn.name() == 'VarBackward0'
    assert R.norm(x).grad_fn.name() == 'LinalgVectorNormBackward0'
    assert x.softmax(1).grad_fn.name() == 'SoftmaxBackward0'
    assert x.log_softmax(1).grad_fn.name() == 'LogSoftmaxBackward0'
    assert x.logsumexp(1).grad_fn.name() == 'LogsumexpBackward0'
    assert x.cumsum(1).grad_fn.name() == 'CumsumBackward0'


@pytest.mark.parametrize('src', [np.int32, np.int64, np.uint8, np.int8, np.bool_])
def test_integer_and_bool_results(src):
    a = np.array([[1, 0, 3], [2, 5, 1]]).astype(src)
    for fn in (meth('sum'), meth('sum', 1), meth('nansum'), meth('prod'), meth('prod', 0),
               meth('cumsum', 1), meth('cumprod', 0), meth('amax', 0), meth('max'),
               meth('max', 1), meth('min', 0), meth('all'), meth('any', 1),
               meth('count_nonzero', 0), meth('logsumexp', 1), meth('aminmax'),
               meth('cummax', 1), meth('sort', 1), meth('argsort', 0), meth('mode', 1)):
        check(fn, None, a, grad=False)
    picks = (meth('argmax'), meth('argmin', 0), meth('topk', 1), meth('median'),
             meth('median', 1), meth('nanmedian'), meth('kthvalue', 1))
    for fn in picks:
        if src is np.bool_:
            raises_like(fn, a)
        else:
            check(fn, None, a, grad=False)


def test_dtype_keyword():
    a = rand(3, 4, seed=3)
    i = np.array([[1, 2], [3, 4]], np.int32)
    check(lambda x: x.sum(dtype=ember.float64) if isinstance(x, ember.Tensor)
          else x.sum(dtype=torch.float64), None, a)
    check(lambda x: x.mean(1, dtype=ember.float64) if isinstance(x, ember.Tensor)
          else x.mean(1, dtype=torch.float64), None, a)
    check(lambda x: x.prod(1, dtype=ember.float64) if isinstance(x, ember.Tensor)
          else x.prod(1, dtype=torch.float64), None, a)
    check(lambda x: x.cumsum(0, dtype=ember.float64) if isinstance(x, ember.Tensor)
          else x.cumsum(0, dtype=torch.float64), None, a)
    assert_close(E(i).sum(dtype=ember.float32), T(i).sum(dtype=torch.float32))
    assert_close(E(i).mean(dtype=ember.float32), T(i).mean(dtype=torch.float32))
    assert_close(E(a).sum(dtype=ember.int32), T(a).sum(dtype=torch.int32))
    x = E(a, requires_grad=True)
    r = x.sum(dtype=ember.int64)
    assert r.dtype == ember.int64 and not r.requires_grad


def test_mean_errors_and_empty():
    i = np.array([1, 2])
    raises_like(lambda x: x.mean(), i, exc=RuntimeError)
    raises_like(lambda x: x.mean(), np.array([True]), exc=RuntimeError)
    raises_like(lambda x: x.nanmean(), i, exc=RuntimeError)
    with pytest.raises(RuntimeError, match='Optional dtype must be either a floating point'):
        E(rand(3)).mean(dtype=ember.int64)
    e = np.zeros((0, 3), np.float32)
    for fn in (meth('sum'), meth('sum', 0), meth('sum', 1), meth('mean'), meth('mean', 0),
               meth('mean', 1), meth('prod'), meth('prod', 0), meth('nansum'),
               meth('logsumexp', 0), meth('logsumexp', 1), meth('amax', 1), norm_fn(),
               meth('all'), meth('any'), meth('count_nonzero')):
        check(fn, None, e)


def test_dim_errors():
    a = rand(2, 3)
    raises_like(lambda x: x.sum((0, 0)), a, exc=RuntimeError)
    raises_like(lambda x: x.sum((0, -2)), a, exc=RuntimeError)
    raises_like(lambda x: x.amax((1, -1)), a, exc=RuntimeError)
    raises_like(lambda x: x.sum(2), a, exc=IndexError)
    raises_like(lambda x: x.mean(-3), a, exc=IndexError)
    raises_like(lambda x: np.array(1.0) and x.sum(1), np.array(1.0), exc=IndexError)
    with pytest.raises(TypeError):
        E(a).sum(1.5)
    with pytest.raises(TypeError):
        E(a).sum(True)
    with pytest.raises(TypeError):
        E(a).prod((0, 1))
    assert_close(E(a).sum(ember.tensor(1)), T(a).sum(torch.tensor(1)))


def test_prod_gradient_with_zeros():
    a = np.array([[2., 0., 3.], [0., 0., 4.], [1., 2., 3.], [0., 5., 1.]])
    for dtype in DTYPES:
        check(meth('prod', 1), None, a.astype(dtype))
        check(meth('prod', 0), None, a.astype(dtype))
        check(meth('prod', 1, keepdim=True), None, a.astype(dtype))
        check(meth('prod'), None, a[2:].astype(dtype))
        check(meth('prod'), None, a[3:].astype(dtype))
        check(meth('prod'), None, a.astype(dtype))


def test_out_argument():
    a = rand(3, 4, seed=4)
    out = ember.empty(0)
    r = ember.sum(E(a), 1, out=out)
    assert r is out
    assert_close(out, torch.sum(T(a), 1))
    v, i = ember.empty(4), ember.empty(4, dtype=ember.int64)
    r = ember.max(E(a), 0, out=(v, i))
    assert r.values is v and r.indices is i
    assert_close(r, torch.max(T(a), 0))
    out = ember.empty(3, 4)
    ember.cumsum(E(a), 1, out=out)
    assert_close(out, torch.cumsum(T(a), 1))


# ==== large sums: BLAS path, accuracy ============================================================
LARGE = [((1024, 1024), None), ((1024, 1024), 1), ((1024, 1024), 0), ((300, 50, 40), (0, 2)),
         ((8, 16, 20, 20), (0, 2, 3)), ((64, 33, 31), 1), ((5, 3000), 1), ((3000, 5), 0),
         ((2, 70000), 1), ((70000, 2), 0), ((40, 7, 50), (1, 2)), ((9, 1, 8000), (0, 1))]


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape,dim', LARGE, ids=str)
def test_large_sums_match_float64(shape, dim, dtype):
    a = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    ref = a.astype(np.float64).sum(dim)
    got = to_np(E(a).sum(dim))
    torch_err = np.abs(to_np(T(a).sum(dim)) - ref).max()
    err = np.abs(got - ref).max()
    n = a.size // max(np.size(ref), 1)
    assert got.shape == np.shape(ref)
    if dtype == np.float32:   # within a few times torch's rounding error
        assert err <= 4 * torch_err + 2 * np.finfo(dtype).eps * math.sqrt(n)
    else:
        assert err <= 1e-14 * max(1.0, np.abs(ref).max())
    check(meth('sum', dim), None, a, rtol=1e-4, atol=1e-4 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize('layout', ['transposed', 'sliced', 'permuted3d', 'negative'])
def test_large_sums_layouts(layout):
    base = np.random.default_rng(6).standard_normal((128, 96, 4)).astype(np.float32)
    a = {'transposed': base.reshape(128, 384).T, 'sliced': base[:, ::2],
         'permuted3d': base.transpose(2, 0, 1), 'negative': base[::-1]}[layout]
    t = E(a)
    for dim in [None, 0, 1, -1, (0, -1)]:
        ref = a.astype(np.float64).sum(dim)
        np.testing.assert_allclose(to_np(t.sum(dim)), ref, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(to_np(t.mean(dim)), a.astype(np.float64).mean(dim),
                                   rtol=1e-4, atol=1e-5)


def test_million_element_sum_accuracy():
    errs_e, errs_t = [], []
    for seed in range(4):
        a = np.random.default_rng(seed).standard_normal(10 ** 6).astype(np.float32)
        ref = a.astype(np.float64).sum()
        errs_e.append(abs(E(a).sum().item() - ref))
        errs_t.append(abs(T(a).sum().item() - ref))
    assert np.mean(errs_e) <= 3 * np.mean(errs_t)
    u = np.random.default_rng(9).uniform(0, 1, 10 ** 6).astype(np.float32)
    ref = u.astype(np.float64).sum()
    assert abs(E(u).sum().item() - ref) <= 2 * abs(T(u).sum().item() - ref) + 1e-3


def test_large_var_and_softmax_accuracy():
    a = (np.random.default_rng(7).standard_normal((512, 2048)) + 3).astype(np.float32)
    for dim in (None, 0, 1):
        ref = a.astype(np.float64).var(dim, ddof=1)
        np.testing.assert_allclose(to_np(E(a).var(dim)), ref, rtol=2e-5)
    check(meth('softmax', 1), None, a, atol=1e-7)
    check(meth('log_softmax', 0), None, a, rtol=1e-4, atol=1e-5)


# ==== max, min, amax, amin, argmax, argmin, aminmax =============================================
TIES = np.array([[1., 3., 3.], [2., 0., 2.], [5., 5., 5.]])
NANS = np.array([[1., np.nan, 3., np.nan], [2., 0., 4., 1.]])


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('name', ['max', 'min'])
def test_max_min(name, dtype):
    a = rand(3, 4, 5, dtype=dtype, seed=8)
    check(meth(name), None, a)
    for dim in (0, 1, -1):
        for keepdim in (False, True):
            check(meth(name, dim, keepdim), None, a)
            check(*both(name, dim, keepdim=keepdim), a)
            check(lambda x: getattr(x, name)(dim=dim, keepdim=keepdim), None, a)
    check(meth(name), None, TIES.astype(dtype))          # ties share the gradient
    check(meth(name, 1), None, TIES.astype(dtype))       # first index takes it all
    check(meth(name), None, NANS.astype(dtype))          # NaNs share it
    check(meth(name, 1), None, NANS.astype(dtype))


def test_max_min_with_other_tensor():
    a, b = rand(3, 4, seed=9), rand(4, seed=10)
    check(lambda x, y: x.max(y), None, a, b)
    check(lambda x, y: x.min(y), None, a, b)
    check(lambda x, y: ember.max(x, y) if isinstance(x, ember.Tensor) else torch.max(x, y),
          None, a, b)
    check(lambda x, y: ember.min(x, other=y) if isinstance(x, ember.Tensor)
          else torch.min(x, other=y), None, a, b)
    check(lambda x, y: x.max(y), None, TIES, TIES[::-1].copy())


def test_max_repr_and_unpacking():
    r = E(np.array([[1., 3.], [4., 2.]], np.float32)).max(1)
    v, i = r
    assert v is r.values and i is r.indices and r[0] is v
    assert repr(r) == ('ember.return_types.max(\nvalues=tensor([3., 4.]),\n'
                       'indices=tensor([1, 0]))')
    assert repr(r) == repr(T(np.array([[1., 3.], [4., 2.]], np.float32)).max(1)).replace(
        'torch', 'ember')


def test_extreme_errors_on_empty():
    e = np.zeros((0, 3), np.float32)
    for fn in (meth('max'), meth('min'), meth('amax'), meth('amin'), meth('argmax'),
               meth('argmin'), meth('max', 0), meth('min', 0), meth('amax', 0),
               meth('amax', (0, 1)), meth('argmax', 0), meth('aminmax'),
               lambda x: x.aminmax(dim=0), meth('median', 0), meth('kthvalue', 1, 0),
               meth('mode', 0), norm_fn(p=math.inf), norm_fn(p=-math.inf, dim=0)):
        raises_like(fn, e)
    for fn in (meth('max', 1), meth('min', 1), meth('amax', 1), meth('argmax', 1),
               lambda x: x.aminmax(dim=1), norm_fn(p=math.inf, dim=1)):
        check(fn, None, e)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('name', ['amax', 'amin'])
def test_amax_amin(name, dtype):
    a = rand(3, 4, 5, dtype=dtype, seed=11)
    for dim in [(), 0, -1, (0, 2), (1, 0, 2), [2]]:
        for keepdim in (False, True):
            check(meth(name, dim, keepdim), None, a)
            check(*both(name, dim=dim, keepdim=keepdim), a)
    check(meth(name), None, a)
    for dim in [(), 0, 1, (0, 1)]:
        check(meth(name, dim), None, TIES.astype(dtype))    # ties share evenly
    check(meth(name, 1), None, NANS.astype(dtype))


@pytest.mark.parametrize('name', ['argmax', 'argmin'])
def test_argmax_argmin(name):
    a = rand(3, 4, 5, seed=12)
    for dim in (None, 0, 1, -1):
        for keepdim in (False, True):
            check(meth(name, dim, keepdim), None, a)
            check(*both(name, dim=dim, keepdim=keepdim), a)
    check(meth(name, 1), None, TIES)
    check(meth(name), None, TIES)
    check(meth(name, 1), None, NANS)
    check(meth(name), None, np.array(2.0))
    check(meth(name, 0), None, np.array(2.0))
    with pytest.raises(TypeError):
        getattr(E(a), name)(dim=(0, 1))


def test_aminmax():
    a = rand(3, 4, seed=13)
    for kw in ({}, {'dim': 0}, {'dim': -1, 'keepdim': True}, {'dim': 1}):
        check(lambda x: x.aminmax(**kw), None, a)
        check(lambda x: (ember if isinstance(x, ember.Tensor) else torch).aminmax(x, **kw),
              None, a)
    check(lambda x: x.aminmax(), None, TIES)
    check(lambda x: x.aminmax(dim=0), None, TIES)
    r = E(a).aminmax()
    assert r.min is r[0] and r.max is r[1]
    assert repr(r).startswith('ember.return_types.aminmax(\nmin=')
    with pytest.raises(TypeError):
        E(a).aminmax(dim=(0, 1))


# ==== var, std, var_mean, std_mean ===============================================================
VAR_CALLS = [
    ((), {}), ((1,), {}), ((1, True), {}), ((1, False), {}), ((1, False, True), {}),
    ((False,), {}), ((), {'unbiased': False}), ((1,), {'unbiased': False, 'keepdim': True}),
    ((), {'dim': 1, 'correction': 0}), ((1,), {'correction': 2}),
    ((1,), {'correction': 0.5}), (((0, 2),), {}), (((0, 2),), {'keepdim': True}),
    ((None,), {'correction': 0}), ((-1,), {'keepdim': True, 'correction': 0}),
]


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('args,kwargs', VAR_CALLS, ids=str)
@pytest.mark.parametrize('name', ['var', 'std', 'var_mean', 'std_mean'])
def test_var_std_signatures(name, args, kwargs, dtype):
    a = rand(3, 4, 5, dtype=dtype, seed=14)
    if name in ('var', 'std'):
        check(meth(name, *args, **kwargs), None, a)
    check(*both(name, *args, **kwargs), a)


def test_var_std_edge_cases():
    z = np.array([[0., 0., 0.], [3., 0., 4.], [1., 1., 1.]])
    check(meth('std', 1), None, z)                      # zero std: zero gradient
    check(lambda x: ember.std_mean(x, 1) if isinstance(x, ember.Tensor)
          else torch.std_mean(x, 1), None, z)
    check(meth('var', 1, correction=0), None, z)
    for fn in (meth('var'), meth('std'), meth('var', 0), meth('std', correction=3)):
        with warnings.catch_warnings(record=True) as w_t:
            warnings.simplefilter('always')
            rt = fn(T(np.array([3.0])))
        with pytest.warns(UserWarning, match='degrees of freedom is <= 0'):
            re = fn(E(np.array([3.0])))
        assert any('degrees of freedom' in str(w.message) for w in w_t)
        assert_close(re, rt)
    raises_like(lambda x: x.var(), np.array([1, 2]), exc=RuntimeError)
    raises_like(lambda x: x.std(1), np.array([[1, 2]]), exc=RuntimeError)
    with pytest.raises(TypeError):
        E(rand(3)).var(0, unbiased=True, correction=1)


# ==== norm =======================================================================================
NORM_PS = [2, 1, 3, 0.5, -1, math.inf, -math.inf, 0, 'fro', 2.5]


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('p', NORM_PS, ids=str)
def test_norm_vector(p, dtype):
    a = rand(3, 4, 5, dtype=dtype, seed=15)
    for dim in (None, 1, -1, (0, 2)):
        if p == 'fro' and dim is None:
            check(norm_fn(), None, a)
        check(norm_fn(p, dim), None, a)
        check(norm_fn(p, dim, True), None, a)
        check(norm_fn(p=p, dim=dim, keepdim=False), None, noncontig(a))


@pytest.mark.parametrize('p', NORM_PS, ids=str)
def test_norm_gradient_at_zero_and_ties(p):
    z = np.array([[0., 0., 0.], [3., 0., 4.], [1., -3., 3.], [2., -2., 1.]])
    check(norm_fn(p, 1), None, z)
    check(norm_fn(p), None, np.zeros(4))


def test_norm_nuclear_dtype_errors():
    a = rand(3, 4, dtype=np.float64, seed=16)
    b = rand(2, 3, 4, dtype=np.float64, seed=17)
    check(norm_fn('nuc'), None, a)
    check(norm_fn('nuc', keepdim=True), None, a)
    check(norm_fn('nuc', dim=(2, 0)), None, b)
    check(norm_fn('nuc', dim=(1, 2), keepdim=True), None, b)
    check(norm_fn('nuc'), None, a.astype(np.float32), rtol=1e-4, atol=1e-5)
    check(norm_fn(dtype=ember.float64), None, a.astype(np.float32))
    check(norm_fn(1, 0, dtype=ember.float64), None, a.astype(np.float32))
    raises_like(norm_fn('nuc'), b, exc=RuntimeError)
    raises_like(norm_fn('nuc', dim=1), a, exc=RuntimeError)
    raises_like(norm_fn('fro', dim=(0, 1, 2)), b, exc=RuntimeError)
    raises_like(norm_fn('bad'), a, exc=RuntimeError)
    raises_like(norm_fn(), np.array([1, 2]), exc=RuntimeError)


# ==== logsumexp, softmax, log_softmax ============================================================
INFS = np.array([[-np.inf, -np.inf, -np.inf], [1., np.inf, 0.], [np.inf, np.inf, 1.],
                 [-np.inf, 0., 2.], [1., 2., 3.]])


@pytest.mark.parametrize('dtype', DTYPES)
def test_logsumexp(dtype):
    a = rand(3, 4, 5, dtype=dtype, seed=18, low=-30, high=30)
    for dim in (0, -1, (0, 2), [1], (0, 1, 2)):
        for keepdim in (False, True):
            check(meth('logsumexp', dim, keepdim), None, a)
            check(*both('logsumexp', dim, keepdim=keepdim), a)
    big = np.array([[1000., 1000.], [-1000., -1001.]], dtype)
    check(meth('logsumexp', 1), None, big)
    check(meth('logsumexp', 1), None, INFS.astype(dtype))
    assert_close(E(np.array([1, 2])).logsumexp(0), T(np.array([1, 2])).logsumexp(0))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('name', ['softmax', 'log_softmax'])
def test_softmax(name, dtype):
    a = rand(3, 4, 5, dtype=dtype, seed=19, low=-5, high=5)
    for dim in (0, 1, 2, -1):
        check(meth(name, dim), None, a)
        check(*both(name, dim), a)
        check(lambda x: getattr(x, name)(dim=dim), None, noncontig(a))
    check(meth(name, 1), None, INFS.astype(dtype))
    check(meth(name, 0), None, np.array(0.7, dtype))
    check(meth(name, 0), None, np.zeros((0, 3), dtype))
    check(meth(name, 1), None, np.array([[1000., 0.], [-1000., -999.]], dtype))


def test_softmax_dtype_and_errors():
    a = rand(3, 4, seed=20)
    i = np.array([[1, 2], [3, 4]])
    for name in ('softmax', 'log_softmax'):
        check(lambda x: getattr(x, name)(1, ember.float64) if isinstance(x, ember.Tensor)
              else getattr(x, name)(1, torch.float64), None, a)
        assert_close(getattr(ember, name)(E(i), 0, dtype=ember.float32),
                     getattr(torch, name)(T(i), 0, dtype=torch.float32))
        raises_like(meth(name, 1), i, exc=NotImplementedError)
        raises_like(meth(name, 0), i, exc=NotImplementedError)
        raises_like(meth(name, 2), a, exc=IndexError)
        with pytest.raises(TypeError):
            getattr(E(a), name)()


def test_softmax_is_one_op():
    x = E(rand(4, 6), requires_grad=True)
    for fn in (ember.softmax, ember.log_softmax):
        y = fn(x, 1)
        assert [n for n, _ in y.grad_fn.next_functions][0].name() == \
            'torch::autograd::AccumulateGrad'


# ==== all, any, count_nonzero ====================================================================
@pytest.mark.parametrize('name', ['all', 'any'])
def test_all_any(name):
    a = np.array([[1., 0., 2.], [3., 4., np.nan]], np.float32)
    for fn in (meth(name), meth(name, 0), meth(name, 1, True), meth(name, dim=(0, 1)),
               meth(name, ()), meth(name, -1), lambda x: getattr(x, name)(dim=1, keepdim=True)):
        for arr in (a, a > 1, a.astype(np.uint8), a.astype(np.int64), np.zeros((0, 3))):
            check(fn, None, arr, grad=False)
    check(*both(name, 1), a, grad=False)


def test_count_nonzero():
    a = np.array([[1., 0., 2.], [0., 0., np.nan]])
    for dim in (None, 0, 1, (0, 1), (), -1):
        check(meth('count_nonzero', dim), None, a, grad=False)
        check(*both('count_nonzero', dim), a > 0, grad=False)


# ==== scans ======================================================================================
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('name', ['cumsum', 'cumprod', 'logcumsumexp', 'cummax', 'cummin'])
def test_scans(name, dtype):
    a = rand(3, 4, 5, dtype=dtype, seed=21, low=0.5, high=1.5)
    for dim in (0, 1, -1):
        check(meth(name, dim), None, a)
        check(*both(name, dim), a)
        check(lambda x: getattr(x, name)(dim=dim), None, noncontig(a))
    check(meth(name, 0), None, np.array(1.5, dtype))
    check(meth(name, 0), None, np.zeros((0, 3), dtype))


def test_long_scans_accumulate_like_torch():
    # PyTorch accumulates float32 scans in float64; ember matches its numbers
    rng = np.random.default_rng(25)
    u = rng.uniform(0, 1, 200000).astype(np.float32)
    check(meth('cumsum', 0), None, u, rtol=1e-6, atol=0)
    check(meth('cumprod', 0), None, (1 + (u - 0.5) * 1e-3).astype(np.float32), rtol=1e-6,
          atol=0, grad=False)
    check(meth('logcumsumexp', 0), None, rng.standard_normal(200000).astype(np.float32),
          rtol=1e-6, atol=0, grad=False)
    check(meth('cumsum', 1), None, u.reshape(200, 1000), rtol=1e-6, atol=0)


def test_cumprod_gradient_with_zeros():
    a = np.array([[2., 0., 3., 0., 4.], [0., 2., 3., 1., 1.], [1., 2., 3., 4., 0.],
                  [0., 0., 1., 2., 3.], [1., 2., 3., 4., 5.]])
    for dtype in DTYPES:
        check(meth('cumprod', 1), None, a.astype(dtype))
        check(meth('cumprod', 0), None, a.astype(dtype))
    gradcheck(lambda x: x.cumprod(1), a)


def test_cummax_cummin_ties_and_nan():
    a = np.array([[2., 2., 1., 2., 2., 1., 0.], [1., np.nan, 3., np.nan, 0., 5., 5.],
                  [3., 1., 1., 2., 0., 0., 4.]])
    for name in ('cummax', 'cummin'):
        check(meth(name, 1), None, a)
        check(meth(name, 0), None, a)
        check(meth(name, 1), None, a.astype(np.int64), grad=False)
        r = getattr(E(a), name)(1)
        assert repr(r).startswith(f'ember.return_types.{name}(\nvalues=')


def test_logcumsumexp_infinities_and_ints():
    a = np.array([[-np.inf, 1., -np.inf, 2.], [-np.inf, -np.inf, 2., 0.],
                  [1000., 1001., -1000., 3.]])
    check(meth('logcumsumexp', 1), None, a)
    raises_like(meth('logcumsumexp', 0), np.array([1, 2]), exc=NotImplementedError)


def test_scan_steps_matches_accumulate():
    a = rand(4, 37, dtype=np.float64, seed=22)
    for name in ('maximum', 'minimum', 'logaddexp', 'add'):
        for axis in (0, 1):
            f = getattr(np, name)
            np.testing.assert_allclose(R._scan_steps(f, a, axis), f.accumulate(a, axis=axis))


def test_cumsum_inplace_and_errors():
    a = rand(3, 4, seed=23)
    x = E(a)
    x.cumsum_(1)
    assert_close(x, T(a).cumsum_(1))
    x = E(a)
    x.cumprod_(0)
    assert_close(x, T(a).cumprod_(0))
    raises_like(meth('cumsum', 2), a, exc=IndexError)
    with pytest.raises(TypeError):
        E(a).cumsum()


# ==== gradcheck in float64 =======================================================================
GRADCHECK = [
    meth('sum', (0, 2)), meth('mean', 1, True), meth('nansum', 0), meth('nanmean', -1),
    meth('prod', 1), meth('amax', (0, 1)), meth('amin', 2), lambda x: x.max(1).values,
    meth('max'), lambda x: x.min(0, True).values, meth('var', 1), meth('std', (0, 2)),
    lambda x: sum(ember.var_mean(x, 1)), lambda x: sum(ember.std_mean(x, 0, correction=0)),
    norm_fn(), norm_fn(3, 1), norm_fn(1, 2), norm_fn(math.inf, 0), norm_fn(0.5, 1),
    norm_fn('nuc', dim=(1, 2)), meth('logsumexp', (1, 2)),
    meth('softmax', 1), meth('log_softmax', 0), meth('cumsum', 2), meth('cumprod', 1),
    lambda x: x.cummax(1).values, lambda x: x.cummin(2).values, meth('logcumsumexp', 0),
    lambda x: x.aminmax(dim=1).max,
]


@pytest.mark.parametrize('fn', GRADCHECK, ids=range(len(GRADCHECK)))
def test_gradcheck(fn):
    gradcheck(fn, rand(2, 3, 4, dtype=np.float64, seed=24, low=0.5, high=2.0))
