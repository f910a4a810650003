"""Pointwise, binary, ranking and metric losses against torch: F functions (values, input and
target gradients, every reduction and option, float32/float64, broadcasting, empty and
non-contiguous inputs), finite-difference gradchecks, the deprecated size_average/reduce
arguments, warnings and error messages. Modules: tests/test_nn_loss_modules.py; the
class-index losses: tests/test_nn_loss_classification.py."""
import warnings

import numpy as np
import pytest
import torch.nn.functional as TF

import ember.nn.functional as F
from tests.helpers import E, T, check, gradcheck, noncontig, rand as _rand

DTYPES = [np.float32, np.float64]
REDUCTIONS = ['none', 'mean', 'sum']


def rand(*shape, dtype=np.float32, low=-2.0, high=2.0, seed=0):
    """Reproducible uniform test data (seed 0 unless given)."""
    return _rand(*shape, dtype=dtype, low=low, high=high, seed=seed)


def _raises_like(fn_e, fn_t):
    """Both raise the same exception type with the same message ('torch.' -> 'ember.')."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with pytest.raises(Exception) as et:
            fn_t()
        with pytest.raises(et.type) as ee:
            fn_e()
    assert str(ee.value) == str(et.value).replace('torch.', 'ember.')


def _with(fn, **kw):
    return lambda *a: fn(*a, **kw)


def _both(name, **kw):
    """(ember F.name, torch F.name) with keyword arguments bound."""
    return _with(getattr(F, name), **kw), _with(getattr(TF, name), **kw)


def _probs(*shape, dtype=np.float32, seed=0):
    return rand(*shape, dtype=dtype, low=0.05, high=0.95, seed=seed)


def _signs(*shape, dtype=np.float32, seed=0):
    return np.where(rand(*shape, seed=seed) > 0, 1, -1).astype(dtype)


# ---- L1, MSE, Huber, SmoothL1 -----------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('name,kw', [('l1_loss', {}), ('mse_loss', {}), ('huber_loss', {}),
                                     ('huber_loss', {'delta': 0.6}), ('smooth_l1_loss', {}),
                                     ('smooth_l1_loss', {'beta': 0.4}),
                                     ('smooth_l1_loss', {'beta': 0.0})])
def test_regression_losses(name, kw, reduction, dtype):
    fe, ft = _both(name, reduction=reduction, **kw)
    check(fe, ft, rand(3, 5, dtype=dtype, seed=1), rand(3, 5, dtype=dtype, seed=2))
    check(fe, ft, rand(4, dtype=dtype, seed=1), rand(4, dtype=dtype, seed=2))
    check(fe, ft, np.array(0.3, dtype), np.array(-1.2, dtype))
    check(fe, ft, noncontig(rand(4, 3, dtype=dtype, seed=3)), rand(4, 3, dtype=dtype, seed=4))


@pytest.mark.parametrize('name', ['l1_loss', 'mse_loss', 'huber_loss', 'smooth_l1_loss'])
def test_regression_large_blocked_path(name):
    """Arrays large enough for the blocked kernels, on one core and on several (with a
    ragged tail)."""
    for shape in [(300, 257), (521, 513)]:
        x, y = rand(*shape, seed=1), rand(*shape, seed=2)
        for reduction in REDUCTIONS:
            fe, ft = _both(name, reduction=reduction)
            check(fe, ft, x, y, rtol=2e-5, atol=1e-5)


@pytest.mark.parametrize('name', ['l1_loss', 'mse_loss', 'huber_loss', 'smooth_l1_loss'])
def test_regression_broadcast_promotion_and_warning(name):
    fe, ft = _both(name)
    with pytest.warns(UserWarning, match=r'Using a target size \(ember.Size\(\[5\]\)\) that is '
                      r'different to the input size \(ember.Size\(\[3, 5\]\)\)'):
        check(fe, ft, rand(3, 5, seed=1), rand(5, seed=2))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        check(fe, ft, rand(3, 1, seed=1), rand(1, 4, seed=2))
        for xd, yd in [(np.float32, np.float64), (np.float64, np.float32)]:
            # torch's huber_loss backward fails on mixed dtypes: compare its forward only
            check(fe, ft, rand(3, 4, dtype=xd, seed=1), rand(3, 4, dtype=yd, seed=2),
                  grad=name != 'huber_loss')
        check(fe, ft, rand(3, 4, seed=1), np.arange(12).reshape(3, 4), grad=name != 'huber_loss')


@pytest.mark.parametrize('name', ['l1_loss', 'mse_loss', 'huber_loss'])
@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_regression_elementwise_weight(name, reduction):
    fe, ft = _both(name, reduction=reduction)
    check(lambda x, y, w: getattr(F, name)(x, y, reduction=reduction, weight=w),
          lambda x, y, w: getattr(TF, name)(x, y, reduction=reduction, weight=w),
          rand(3, 4, seed=1), rand(3, 4, seed=2), _probs(3, 4, seed=3))


@pytest.mark.parametrize('name', ['l1_loss', 'mse_loss', 'huber_loss', 'smooth_l1_loss'])
def test_regression_empty(name):
    for reduction in REDUCTIONS:
        fe, ft = _both(name, reduction=reduction)
        check(fe, ft, rand(0, 3), rand(0, 3))


def test_regression_grad_fn_names():
    x, y = E(rand(3), True), E(rand(3))
    assert F.mse_loss(x, y).grad_fn.name() == 'MseLossBackward0'
    assert F.huber_loss(x, y).grad_fn.name() == 'HuberLossBackward0'
    assert F.smooth_l1_loss(x, y).grad_fn.name() == 'SmoothL1LossBackward0'


def test_regression_errors():
    x, y = rand(2, 3), rand(2, 3)
    for name in ['l1_loss', 'mse_loss', 'huber_loss', 'smooth_l1_loss']:
        _raises_like(lambda: getattr(F, name)(E(x), E(y), reduction='foo'),
                     lambda: getattr(TF, name)(T(x), T(y), reduction='foo'))
        _raises_like(lambda: getattr(F, name)(E(x), E(rand(4))),
                     lambda: getattr(TF, name)(T(x), T(rand(4))))
    for name in ['mse_loss', 'huber_loss', 'smooth_l1_loss']:
        _raises_like(lambda: getattr(F, name)(E(x).long(), E(y).long()),
                     lambda: getattr(TF, name)(T(x).long(), T(y).long()))
    _raises_like(lambda: F.l1_loss(E(x).long(), E(y).long()),
                 lambda: TF.l1_loss(T(x).long(), T(y).long()))
    _raises_like(lambda: F.huber_loss(E(x), E(y), delta=0), lambda: TF.huber_loss(T(x), T(y),
                                                                                   delta=0))
    _raises_like(lambda: F.smooth_l1_loss(E(x), E(y), beta=-1),
                 lambda: TF.smooth_l1_loss(T(x), T(y), beta=-1))
    _raises_like(lambda: F.mse_loss(E(x), E(y), weight=E(rand(3))),
                 lambda: TF.mse_loss(T(x), T(y), weight=T(rand(3))))


@pytest.mark.parametrize('size_average,reduce,expected', [
    (None, False, 'none'), (False, None, 'sum'), (True, True, 'mean'), (False, False, 'none')])
def test_legacy_size_average_and_reduce(size_average, reduce, expected):
    x, y = rand(3, 4, seed=1), rand(3, 4, seed=2)
    with pytest.warns(UserWarning, match=f"please use reduction='{expected}' instead"):
        out = F.l1_loss(E(x), E(y), size_average=size_average, reduce=reduce, reduction='mean')
    ref = TF.l1_loss(T(x), T(y), reduction=expected)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6)
    with pytest.warns(UserWarning):
        check(lambda a, b: F.mse_loss(a, b, size_average=size_average, reduce=reduce),
              lambda a, b: TF.mse_loss(a, b, reduction=expected), x, y)


# ---- Gaussian and Poisson NLL, KL divergence --------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('full', [False, True])
@pytest.mark.parametrize('vshape', [(4, 3), (4,), (4, 1), (1, 3)])
def test_gaussian_nll(vshape, full, reduction, dtype):
    fe, ft = _both('gaussian_nll_loss', full=full, reduction=reduction)
    var = _probs(*vshape, dtype=dtype, seed=3)
    var.flat[0] = 1e-9                      # clamped to eps, the gradient still flows
    check(fe, ft, rand(4, 3, dtype=dtype, seed=1), rand(4, 3, dtype=dtype, seed=2), var)


def test_gaussian_nll_broadcast_float_var_and_promotion():
    fe, ft = _both('gaussian_nll_loss', reduction='none')
    check(fe, ft, rand(2, 3, seed=1), rand(2, 1, 3, seed=2), _probs(2, 3, seed=3))
    check(lambda x, y: F.gaussian_nll_loss(x, y, 0.5, eps=0.1),
          lambda x, y: TF.gaussian_nll_loss(x, y, 0.5, eps=0.1), rand(2, 3), rand(2, 3, seed=2))
    check(fe, ft, rand(3, seed=1), rand(3, dtype=np.float64, seed=2), _probs(1, seed=3))
    check(fe, ft, rand(4, 2, 3, seed=1), rand(4, 2, 3, seed=2), _probs(4, 1, 3, seed=3))


@pytest.mark.parametrize('vshape', [(3,), (2, 2), (1, 1), (), (2, 3, 1)])
def test_gaussian_nll_var_size_errors(vshape):
    x, y = rand(2, 3), rand(2, 3)
    v = _probs(*vshape)
    _raises_like(lambda: F.gaussian_nll_loss(E(x), E(y), E(v)),
                 lambda: TF.gaussian_nll_loss(T(x), T(y), T(v)))


def test_gaussian_nll_errors():
    x, y = rand(2, 3), rand(2, 3)
    _raises_like(lambda: F.gaussian_nll_loss(E(x), E(y), E(-_probs(2, 3))),
                 lambda: TF.gaussian_nll_loss(T(x), T(y), T(-_probs(2, 3))))
    _raises_like(lambda: F.gaussian_nll_loss(E(x), E(y), -0.5),
                 lambda: TF.gaussian_nll_loss(T(x), T(y), -0.5))
    _raises_like(lambda: F.gaussian_nll_loss(E(x), E(y), E(_probs(2, 3)), reduction='x'),
                 lambda: TF.gaussian_nll_loss(T(x), T(y), T(_probs(2, 3)), reduction='x'))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('log_input,full', [(True, False), (True, True), (False, False),
                                            (False, True)])
def test_poisson_nll(log_input, full, reduction, dtype):
    fe, ft = _both('poisson_nll_loss', log_input=log_input, full=full, reduction=reduction,
                   eps=1e-3)
    x = rand(4, 5, dtype=dtype, seed=1) if log_input else _probs(4, 5, dtype=dtype, seed=1)
    y = np.abs(rand(4, 5, dtype=dtype, seed=2)) * 2      # values on both sides of 1
    check(fe, ft, x, y)
    check(fe, ft, x, y[0])


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS + ['batchmean'])
@pytest.mark.parametrize('log_target', [False, True])
def test_kl_div(log_target, reduction, dtype):
    fe, ft = _both('kl_div', reduction=reduction, log_target=log_target)
    x = np.log(_probs(3, 4, dtype=dtype, seed=1))
    y = np.log(_probs(3, 4, dtype=dtype, seed=2)) if log_target else _probs(3, 4, dtype=dtype,
                                                                           seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        check(fe, ft, x, y)
        check(fe, ft, x, y[0])
        check(fe, ft, np.array(x[0, 0]), np.array(y[0, 0]))


def test_kl_div_zero_target_and_warning():
    x = np.log(_probs(3, 2, seed=1))
    y = np.array([[0.0, 0.5], [1.0, 0.0], [0.2, 0.8]], np.float32)
    check(_with(F.kl_div, reduction='sum'), _with(TF.kl_div, reduction='sum'), x, y)
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(E(x), E(y))
    _raises_like(lambda: F.kl_div(E(x), E(y), reduction='x'),
                 lambda: TF.kl_div(T(x), T(y), reduction='x'))


# ---- binary cross-entropy ---------------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('wshape', [None, (4,), (3, 4)])
def test_binary_cross_entropy(wshape, reduction, dtype):
    w = None if wshape is None else _probs(*wshape, dtype=dtype, seed=3)
    fe = lambda x, y: F.binary_cross_entropy(x, y, None if w is None else E(w),  # noqa: E731
                                             reduction=reduction)
    ft = lambda x, y: TF.binary_cross_entropy(x, y, None if w is None else T(w),  # noqa: E731
                                              reduction=reduction)
    check(fe, ft, _probs(3, 4, dtype=dtype, seed=1), _probs(3, 4, dtype=dtype, seed=2))


def test_binary_cross_entropy_saturated_inputs():
    x = np.array([0.0, 1.0, 1e-30, 1 - 1e-7, 0.5], np.float32)
    y = np.array([1.0, 0.0, 0.5, 0.5, 1.0], np.float32)
    check(_with(F.binary_cross_entropy, reduction='none'),
          _with(TF.binary_cross_entropy, reduction='none'), x, y)
    check(_with(F.binary_cross_entropy, reduction='none'),
          _with(TF.binary_cross_entropy, reduction='none'), rand(0), rand(0))


def test_binary_cross_entropy_weight_dtype_and_errors():
    x, y = _probs(2, 3, seed=1), _probs(2, 3, seed=2)
    check(lambda a, b: F.binary_cross_entropy(a, b, E(_probs(3, dtype=np.float64))),
          lambda a, b: TF.binary_cross_entropy(a, b, T(_probs(3, dtype=np.float64))), x, y)
    cases = [((x, y[0]), {}), ((x, y.astype(np.float64)), {}), ((x * 3, y), {}),
             ((x, y + 1), {}), ((x, y), {'weight': rand(4)}), ((x, y), {'weight': rand(3, 2, 3)}),
             ((x, y), {'reduction': 'x'}), ((np.array([0.5, np.nan], np.float32),
                                             np.array([0.5, 0.5], np.float32)), {})]
    for (a, b), kw in cases:
        ke = {k: E(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        kt = {k: T(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        _raises_like(lambda: F.binary_cross_entropy(E(a), E(b), **ke),
                     lambda: TF.binary_cross_entropy(T(a), T(b), **kt))
    _raises_like(lambda: F.binary_cross_entropy(E(x), E(y), E(rand(3), True)),
                 lambda: TF.binary_cross_entropy(T(x), T(y), T(rand(3), True)))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('wshape,pwshape', [(None, None), ((4,), None), (None, (4,)),
                                            ((3, 4), (1, 4))])
def test_bce_with_logits(wshape, pwshape, reduction, dtype):
    w = None if wshape is None else _probs(*wshape, dtype=dtype, seed=3)
    pw = None if pwshape is None else 3 * _probs(*pwshape, dtype=dtype, seed=4)

    def make(lib_f, conv):
        return lambda x, y: lib_f(x, y, None if w is None else conv(w), reduction=reduction,
                                  pos_weight=None if pw is None else conv(pw))
    x = rand(3, 4, dtype=dtype, seed=1) * 10
    check(make(F.binary_cross_entropy_with_logits, E), make(TF.binary_cross_entropy_with_logits,
                                                            T), x, _probs(3, 4, dtype=dtype))


def test_bce_with_logits_extremes_large_and_dtypes():
    x = np.array([-100.0, -20.0, -1.0, 0.0, 1e-8, 20.0, 100.0], np.float32)
    y = np.array([1.0, 0.0, 0.3, 1.0, 0.5, 1.0, 0.0], np.float32)
    f = _both('binary_cross_entropy_with_logits', reduction='none')
    check(*f, x, y)
    check(*f, x.astype(np.float64), y.astype(np.float64))
    big = rand(521, 513, seed=5) * 8
    for reduction in REDUCTIONS:
        check(*_both('binary_cross_entropy_with_logits', reduction=reduction), big,
              _probs(521, 513, seed=6), rtol=2e-5, atol=1e-5)
    # mixed dtypes: torch computes parts in float32, parts in float64
    check(*_both('binary_cross_entropy_with_logits'), rand(2, 3), _probs(2, 3, dtype=np.float64),
          rtol=1e-6, atol=1e-8)
    check(*_both('binary_cross_entropy_with_logits'), rand(2, 3, dtype=np.float64), _probs(2, 3),
          rtol=1e-6, atol=1e-8)
    check(*_both('binary_cross_entropy_with_logits'), noncontig(rand(4, 3)), _probs(4, 3))


def test_bce_with_logits_errors():
    x, y = rand(2, 3), _probs(2, 3)
    f, tf = F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits
    _raises_like(lambda: f(E(x), E(y[0])), lambda: tf(T(x), T(y[0])))
    _raises_like(lambda: f(E(x), E(y).long()), lambda: tf(T(x), T(y).long()))
    _raises_like(lambda: f(E(x), E(y), E(rand(4))), lambda: tf(T(x), T(y), T(rand(4))))
    _raises_like(lambda: f(E(x), E(y), pos_weight=E(rand(3, 2, 3))),
                 lambda: tf(T(x), T(y), pos_weight=T(rand(3, 2, 3))))
    _raises_like(lambda: f(E(x), E(y), E(rand(3), True)), lambda: tf(T(x), T(y), T(rand(3), True)))
    _raises_like(lambda: f(E(x), E(y), pos_weight=E(rand(3), True)),
                 lambda: tf(T(x), T(y), pos_weight=T(rand(3), True)))


# ---- soft margin, hinge embedding, margin ranking ---------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_soft_margin_and_hinge(reduction, dtype):
    x = rand(3, 4, dtype=dtype, seed=1)
    y = _signs(3, 4, dtype=dtype, seed=2)
    for name, kw in [('soft_margin_loss', {}), ('hinge_embedding_loss', {}),
                     ('hinge_embedding_loss', {'margin': 0.3})]:
        fe, ft = _both(name, reduction=reduction, **kw)
        check(lambda a: fe(a, E(y)), lambda a: ft(a, T(y)), x)
        check(lambda a: fe(a, E(y[0])), lambda a: ft(a, T(y[0])), x)
        check(lambda a: fe(a, E(y).long()), lambda a: ft(a, T(y).long()), x)


def test_soft_margin_stable_and_hinge_other_targets():
    x = np.array([-100.0, -30.0, 0.0, 30.0], np.float64)
    check(lambda a: F.soft_margin_loss(a, E(np.ones(4)), reduction='none'),
          lambda a: TF.soft_margin_loss(a, T(np.ones(4)), reduction='none'), x)
    y = np.array([[1, -1, 0, 2], [1, 1, -1, -1]], np.float32)
    x = np.array([[0.5, 1.0, -0.2, 0.4], [1.0, -2.0, 0.9, 1.0]], np.float32)  # margin hit at 1
    check(lambda a: F.hinge_embedding_loss(a, E(y), reduction='none'),
          lambda a: TF.hinge_embedding_loss(a, T(y), reduction='none'), x)
    _raises_like(lambda: F.soft_margin_loss(E(x), E(y, True)),
                 lambda: TF.soft_margin_loss(T(x), T(y, True)))
    _raises_like(lambda: F.hinge_embedding_loss(E(x), E(rand(4, 1, 2))),
                 lambda: TF.hinge_embedding_loss(T(x), T(rand(4, 1, 2))))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('margin', [0, 0.4])
def test_margin_ranking(margin, reduction, dtype):
    fe, ft = _both('margin_ranking_loss', margin=margin, reduction=reduction)
    check(fe, ft, rand(6, dtype=dtype, seed=1), rand(6, dtype=dtype, seed=2),
          rand(6, dtype=dtype, seed=3))
    check(fe, ft, rand(1, dtype=dtype, seed=1), rand(6, dtype=dtype, seed=2),
          _signs(6, dtype=dtype, seed=3))
    check(fe, ft, rand(2, 3, dtype=dtype, seed=1), rand(2, 3, dtype=dtype, seed=2),
          _signs(2, 3, dtype=dtype, seed=3))
    check(fe, ft, np.array(0.3, dtype), np.array(0.1, dtype), np.array(-1.0, dtype))


def test_margin_ranking_errors_and_promotion():
    a, b = rand(4, seed=1), rand(4, seed=2)
    s = _signs(4)
    check(F.margin_ranking_loss, TF.margin_ranking_loss, a, b.astype(np.float64), s)
    _raises_like(lambda: F.margin_ranking_loss(E(a).view(2, 2), E(b), E(s)),
                 lambda: TF.margin_ranking_loss(T(a).view(2, 2), T(b), T(s)))
    _raises_like(lambda: F.margin_ranking_loss(E(a), E(b[:3]), E(s)),
                 lambda: TF.margin_ranking_loss(T(a), T(b[:3]), T(s)))


# ---- cosine embedding, multilabel soft margin, triplet ----------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('margin', [0, 0.3])
def test_cosine_embedding(margin, reduction, dtype):
    fe, ft = _both('cosine_embedding_loss', margin=margin, reduction=reduction)
    y = np.array([1, -1, 1, -1, 0], dtype)
    check(lambda a, b: fe(a, b, E(y)), lambda a, b: ft(a, b, T(y)),
          rand(5, 3, dtype=dtype, seed=1), rand(5, 3, dtype=dtype, seed=2))
    check(lambda a, b: fe(a, b, E(y[:1])), lambda a, b: ft(a, b, T(y[:1])),
          rand(5, 3, dtype=dtype, seed=1), rand(1, 3, dtype=dtype, seed=2))
    check(lambda a, b: fe(a, b, E(y[1])), lambda a, b: ft(a, b, T(y[1])),
          rand(3, dtype=dtype, seed=1), rand(3, dtype=dtype, seed=2))
    check(lambda a, b: fe(a, b, E(y[:2])), lambda a, b: ft(a, b, T(y[:2])),
          rand(2, 3, dtype=dtype, seed=1), np.zeros((2, 3), dtype), rtol=1e-7)  # huge grads


def test_cosine_embedding_errors():
    x1, x2 = rand(4, 5, seed=1), rand(4, 5, seed=2)
    y = _signs(4)
    for a, b, t in [(x1, x2, y[0]), (x1[0], x2[0], y), (x1[0], x2, y), (x1, x2, y.reshape(2, 2)),
                    (x1, x2[:, :4], y), (x1, x2, y[:3])]:
        _raises_like(lambda: F.cosine_embedding_loss(E(a), E(b), E(t)),
                     lambda: TF.cosine_embedding_loss(T(a), T(b), T(t)))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('weighted', [False, True])
def test_multilabel_soft_margin(weighted, reduction, dtype):
    fe, ft = _both('multilabel_soft_margin_loss', reduction=reduction)
    x = rand(3, 5, dtype=dtype, seed=1) * 4
    y = (_probs(3, 5, dtype=dtype, seed=2) > 0.5).astype(dtype)
    w = (_probs(5, dtype=dtype, seed=3),) if weighted else ()
    check(fe, ft, x, y, *w)
    check(fe, ft, x[0], y[0], *w)
    check(fe, ft, x.reshape(3, 5, 1), y.reshape(3, 5, 1))
    check(lambda a: fe(a, E(y[0])), lambda a: ft(a, T(y[0])), x)
    check(fe, ft, x, y, _probs(3, 1, dtype=dtype, seed=4))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('p,swap', [(2, False), (2, True), (1, True), (3.5, False),
                                    (float('inf'), True), (0, False), (-1, False)])
def test_triplet_margin(p, swap, reduction, dtype):
    fe, ft = _both('triplet_margin_loss', p=p, swap=swap, reduction=reduction, margin=1.5,
                   eps=1e-4)
    a, pos, neg = (rand(5, 4, dtype=dtype, seed=s) for s in (1, 2, 3))
    check(fe, ft, a, pos, neg)
    check(fe, ft, a[0], pos[0], neg[0])
    check(fe, ft, a.reshape(5, 2, 2), pos.reshape(5, 2, 2), neg.reshape(5, 2, 2))
    check(fe, ft, a, pos[:1], neg)


@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('swap', [False, True])
def test_triplet_margin_with_distance(swap, reduction):
    a, pos, neg = (rand(5, 4, dtype=np.float64, seed=s) for s in (1, 2, 3))
    check(_with(F.triplet_margin_with_distance_loss, swap=swap, reduction=reduction),
          _with(TF.triplet_margin_with_distance_loss, swap=swap, reduction=reduction),
          a, pos, neg)

    def l1(u, v):
        return (u - v).abs().sum(-1)
    check(_with(F.triplet_margin_with_distance_loss, distance_function=l1, swap=swap,
                reduction=reduction, margin=0.5),
          _with(TF.triplet_margin_with_distance_loss, distance_function=l1, swap=swap,
                reduction=reduction, margin=0.5), a, pos, neg)


def test_triplet_errors():
    a = rand(4, 6)
    for f, tf in [(F.triplet_margin_loss, TF.triplet_margin_loss),
                  (F.triplet_margin_with_distance_loss, TF.triplet_margin_with_distance_loss)]:
        _raises_like(lambda: f(E(a), E(a[0]), E(a)), lambda: tf(T(a), T(a[0]), T(a)))
        _raises_like(lambda: f(E(a), E(a), E(a), margin=0), lambda: tf(T(a), T(a), T(a),
                                                                       margin=0))
        _raises_like(lambda: f(E(a), E(a), E(a), reduction='x'),
                     lambda: tf(T(a), T(a), T(a), reduction='x'))
    _raises_like(lambda: F.triplet_margin_loss(E(a), E(a[:3]), E(a)),
                 lambda: TF.triplet_margin_loss(T(a), T(a[:3]), T(a)))


# ---- finite differences -----------------------------------------------------------------------
def _f64(*shape, seed=0, low=-2.0, high=2.0):
    return rand(*shape, dtype=np.float64, seed=seed, low=low, high=high)


@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_gradcheck_pointwise(reduction):
    x, y = _f64(3, 4, seed=1), _f64(3, 4, seed=2)
    r = {'reduction': reduction}
    gradcheck(_with(F.l1_loss, **r), x, y)
    gradcheck(_with(F.mse_loss, **r), x, y)
    gradcheck(_with(F.huber_loss, delta=0.7, **r), x, y)
    gradcheck(_with(F.smooth_l1_loss, beta=0.7, **r), x, y)
    gradcheck(_with(F.gaussian_nll_loss, full=True, **r), x, y, _f64(3, 1, low=0.2, seed=3))
    gradcheck(_with(F.poisson_nll_loss, full=True, **r), x, _f64(3, 4, low=0.1, high=3))
    gradcheck(_with(F.poisson_nll_loss, log_input=False, **r), _f64(3, 4, low=0.1), _f64(3, 4,
                                                                                         low=0))
    gradcheck(_with(F.kl_div, **r), x, _f64(3, 4, low=0.1, high=1))
    gradcheck(_with(F.kl_div, log_target=True, **r), x, y)
    gradcheck(_with(F.binary_cross_entropy, **r), _f64(3, 4, low=0.1, high=0.9),
              _f64(3, 4, low=0, high=1))
    gradcheck(_with(F.binary_cross_entropy_with_logits, **r), x, _f64(3, 4, low=0, high=1))
    gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(
        a, b, pos_weight=E(_f64(4, low=0.5))), x, _f64(3, 4, low=0, high=1))
    gradcheck(lambda a: F.soft_margin_loss(a, E(np.sign(y)), **r), x)
    gradcheck(lambda a: F.hinge_embedding_loss(a, E(np.sign(y)), margin=0.3, **r), x)
    gradcheck(_with(F.margin_ranking_loss, margin=0.1, **r), x[0], y[0], _f64(4, seed=5))
    gradcheck(_with(F.multilabel_soft_margin_loss, **r), x, _f64(3, 4, low=0, high=1),
              _f64(4, low=0.1, high=1))


@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_gradcheck_metric(reduction):
    a, p, n = _f64(4, 3, seed=1), _f64(4, 3, seed=2), _f64(4, 3, seed=3)
    t = E(np.array([1.0, -1.0, 1.0, -1.0]))
    gradcheck(lambda u, v: F.cosine_embedding_loss(u, v, t, margin=-0.5, reduction=reduction),
              a, p)
    for pn, swap in [(2, True), (1, False), (3, True)]:
        gradcheck(_with(F.triplet_margin_loss, p=pn, swap=swap, margin=2.0, reduction=reduction),
                  a, p, n)
    gradcheck(_with(F.triplet_margin_with_distance_loss, swap=True, margin=2.0,
                    reduction=reduction), a, p, n)
