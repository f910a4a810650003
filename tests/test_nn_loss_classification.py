"""Class-index losses against torch: cross_entropy (class indices and class probabilities,
weights, ignore_index, label smoothing, unbatched, (N, C) and (N, C, d...) inputs), nll_loss,
multi_margin_loss, multilabel_margin_loss and ctc_loss: values, gradients, every reduction,
float32/float64, gradchecks, grad_fn names and error messages."""
import warnings

import numpy as np
import pytest
import torch.nn.functional as TF

import ember
import ember.nn.functional as F
from tests.helpers import E, T, assert_close, check, gradcheck, rand as _rand

DTYPES = [np.float32, np.float64]
REDUCTIONS = ['none', 'mean', 'sum']


def rand(*shape, dtype=np.float32, low=-2.0, high=2.0, seed=0):
    """Reproducible uniform test data (seed 0 unless given)."""
    return _rand(*shape, dtype=dtype, low=low, high=high, seed=seed)


def _classes(shape, c, seed=0, ignore=None, n_ignored=0):
    t = np.random.default_rng(seed).integers(0, c, shape)
    if n_ignored:
        t.reshape(-1)[:n_ignored] = ignore
    return t


def _raises_like(fn_e, fn_t):
    """Both raise the same exception type with the same message ('torch.' -> 'ember.')."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with pytest.raises(Exception) as et:
            fn_t()
        with pytest.raises(et.type) as ee:
            fn_e()
    assert str(ee.value) == str(et.value).replace('torch.', 'ember.')


def _ce(target, weight=None, **kw):
    """(ember, torch) cross_entropy of an input with a fixed target / weight."""
    return (lambda x: F.cross_entropy(x, E(target), None if weight is None else E(weight), **kw),
            lambda x: TF.cross_entropy(x, T(target), None if weight is None else T(weight), **kw))


def _nll(target, weight=None, **kw):
    return (lambda x: F.nll_loss(x, E(target), None if weight is None else E(weight), **kw),
            lambda x: TF.nll_loss(x, T(target), None if weight is None else T(weight), **kw))


SHAPES = [((6, 5), (6,)), ((5,), ()), ((2, 5, 3), (2, 3)), ((2, 5, 3, 4), (2, 3, 4)),
          ((2, 5, 2, 3, 2), (2, 2, 3, 2))]


# ---- cross_entropy with class indices ---------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('xshape,tshape', SHAPES)
@pytest.mark.parametrize('weighted,smoothing,ignore', [(False, 0.0, False), (True, 0.0, True),
                                                       (False, 0.25, True), (True, 0.3, True),
                                                       (True, 1.0, False)])
def test_cross_entropy_class_indices(xshape, tshape, reduction, dtype, weighted, smoothing,
                                     ignore):
    c = xshape[1] if len(xshape) > 1 else xshape[0]
    n_ign = 2 if ignore and tshape else 0
    t = _classes(tshape, c, seed=1, ignore=3, n_ignored=n_ign)
    w = rand(c, dtype=dtype, low=0.2, high=2.0, seed=2) if weighted else None
    kw = {'reduction': reduction, 'label_smoothing': smoothing}
    if ignore:
        kw['ignore_index'] = 3
    check(*_ce(t, w, **kw), rand(*xshape, dtype=dtype, seed=3) * 3)


@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_cross_entropy_large_parallel_paths(reduction):
    """Inputs large enough for the blocked multi-core softmax kernels."""
    x = rand(600, 450, seed=1) * 4
    t = _classes((600,), 450, seed=2, ignore=-100, n_ignored=5)
    check(*_ce(t, reduction=reduction), x, rtol=1e-5, atol=1e-6)
    check(*_ce(t, rand(450, low=0.1, high=1, seed=3), reduction=reduction,
               label_smoothing=0.1), x, rtol=1e-5, atol=1e-6)
    xs = rand(3, 7, 110, 120, seed=4)
    check(*_ce(_classes((3, 110, 120), 7, seed=5), reduction=reduction, label_smoothing=0.2),
          xs, rtol=1e-5, atol=1e-6)


def test_cross_entropy_extremes_noncontiguous_and_empty():
    x = np.array([[1000.0, 0.0, -1000.0], [-50.0, 60.0, 70.0], [0.0, 0.0, 0.0]], np.float32)
    check(*_ce(np.array([2, 0, 1]), reduction='none'), x)
    xt = np.asfortranarray(rand(4, 5, seed=1))
    check(*_ce(np.array([0, 1, 4, 2])), xt)
    check(*_ce(np.array([0, 1, 4, 2]), reduction='none'), rand(4, 10, seed=2)[:, ::2])
    for reduction in REDUCTIONS:
        check(*_ce(np.zeros(0, np.int64), reduction=reduction), rand(0, 5))
        check(*_ce(np.full(4, -100), reduction=reduction), rand(4, 5))       # all ignored: nan
    check(*_ce(np.array([0, 1, 4, 2], np.uint8)), rand(4, 5))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('xshape', [(6, 5), (5,), (2, 5, 3, 4)])
@pytest.mark.parametrize('weighted,smoothing', [(False, 0.0), (True, 0.0), (False, 0.2),
                                                (True, 0.4)])
def test_cross_entropy_class_probabilities(xshape, reduction, dtype, weighted, smoothing):
    """Soft targets: gradients for the input, the target and (when it requires grad) the
    class weights."""
    c = xshape[1] if len(xshape) > 1 else xshape[0]
    p = rand(*xshape, dtype=dtype, low=0.0, high=1.0, seed=4)
    args = (rand(*xshape, dtype=dtype, seed=3), p / p.sum(axis=1 if len(xshape) > 1 else 0,
                                                          keepdims=True))
    if weighted:
        args += (rand(c, dtype=dtype, low=0.2, high=2.0, seed=2),)
    check(lambda *a: F.cross_entropy(*a, reduction=reduction, label_smoothing=smoothing),
          lambda *a: TF.cross_entropy(*a, reduction=reduction, label_smoothing=smoothing), *args)


def test_cross_entropy_probabilities_mixed_dtypes():
    p = rand(4, 5, dtype=np.float64, low=0, high=1, seed=1)
    # torch takes the log-softmax in the input's dtype, then multiplies in the promoted one
    check(lambda x: F.cross_entropy(x, E(p)), lambda x: TF.cross_entropy(x, T(p)), rand(4, 5),
          rtol=1e-6, atol=1e-7)
    check(lambda y: F.cross_entropy(E(rand(4, 5, dtype=np.float64)), y),
          lambda y: TF.cross_entropy(T(rand(4, 5, dtype=np.float64)), y),
          rand(4, 5, low=0, high=1))


def test_cross_entropy_grad_fn_names():
    x = E(rand(4, 5), True)
    assert F.cross_entropy(x, E(np.array([0, 1, 2, 3]))).grad_fn.name() == 'NllLossBackward0'
    x4 = E(rand(2, 5, 3, 3), True)
    t4 = E(_classes((2, 3, 3), 5))
    assert F.cross_entropy(x4, t4).grad_fn.name() == 'NllLoss2DBackward0'
    assert F.nll_loss(x4, t4).grad_fn.name() == 'NllLoss2DBackward0'
    assert F.nll_loss(x, E(np.array([0, 1, 2, 3]))).grad_fn.name() == 'NllLossBackward0'


def test_cross_entropy_and_nll_errors():
    x, t = rand(4, 5), np.array([0, 1, 4, 2])
    cases = [
        (x, t.astype(np.int32), {}), (x, t.astype(np.float32), {}), (x, t[:3], {}),
        (x, _classes((4, 5), 5), {}), (x, rand(4, 4, low=0, high=1), {}),
        (x, np.array([0, 1, 5, 2]), {}), (x, np.array([0, 1, -1, 2]), {}),
        (x, t, {'weight': rand(4)}), (x, t, {'weight': rand(5, dtype=np.float64)}),
        (x, t, {'weight': rand(5, 1)}), (x, t, {'label_smoothing': 1.5}),
        (x, t, {'reduction': 'batchmean'}), (x[0], t, {}), (x, t.astype(bool), {}),
        (rand(2, 5, 3, 3), _classes((2, 3, 4), 5), {}), (rand(2, 5, 3, 3), _classes((2, 3), 5), {}),
        (rand(2, 5, 3, 3), _classes((3, 3, 3), 5), {}), (rand(2, 5, 3), _classes((2, 4), 5), {}),
        (rand(2, 5, 3, 3, 2), _classes((2, 3, 3, 3), 5), {}),
        (rand(2, 5, 3), np.array([[0, 1, 7], [2, -3, 1]]), {'ignore_index': 7}),
        (x, rand(4, 5, low=0, high=1), {'ignore_index': 1}),
        (x, rand(4, 5, low=0, high=1), {'weight': rand(4)}),
        (x.astype(np.int64), t, {}), (rand(2, 5, 3).astype(np.int64), _classes((2, 3), 5), {}),
        (np.array(1.0, np.float32), np.array(0), {}), (rand(2, 0), np.zeros(2, np.int64), {}),
    ]
    for a, b, kw in cases:
        ke = {k: E(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        kt = {k: T(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        _raises_like(lambda: F.cross_entropy(E(a), E(b), **ke),
                     lambda: TF.cross_entropy(T(a), T(b), **kt))
        if np.asarray(b).dtype.kind != 'f' and 'label_smoothing' not in kw and a.ndim >= 1:
            _raises_like(lambda: F.nll_loss(E(a), E(b), **ke),
                         lambda: TF.nll_loss(T(a), T(b), **kt))
    _raises_like(lambda: F.cross_entropy(E(x), E(t), E(rand(5), True)),
                 lambda: TF.cross_entropy(T(x), T(t), T(rand(5), True)))
    _raises_like(lambda: F.nll_loss(E(np.array(1.0)), E(np.array(0))),
                 lambda: TF.nll_loss(T(np.array(1.0)), T(np.array(0))))


# ---- nll_loss ---------------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('xshape,tshape', SHAPES)
@pytest.mark.parametrize('weighted,ignore', [(False, False), (True, True), (False, True)])
def test_nll_loss(xshape, tshape, reduction, dtype, weighted, ignore):
    c = xshape[1] if len(xshape) > 1 else xshape[0]
    t = _classes(tshape, c, seed=1, ignore=-5, n_ignored=2 if ignore and tshape else 0)
    w = rand(c, dtype=dtype, low=0.2, high=2.0, seed=2) if weighted else None
    kw = {'reduction': reduction, 'ignore_index': -5} if ignore else {'reduction': reduction}
    check(*_nll(t, w, **kw), rand(*xshape, dtype=dtype, seed=3))


def test_nll_loss_empty_and_noncontiguous():
    for reduction in REDUCTIONS:
        check(*_nll(np.zeros((0, 3), np.int64), reduction=reduction), rand(0, 5, 3))
        check(*_nll(np.zeros((2, 0), np.int64), reduction=reduction), rand(2, 5, 0))
    check(*_nll(np.array([1, 0, 3])), rand(8, 3, seed=1).T[:3])


# ---- multi_margin_loss, multilabel_margin_loss ------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('p,margin,weighted', [(1, 1.0, False), (2, 1.0, False), (1, 0.5, True),
                                               (2, 2.0, True)])
def test_multi_margin(p, margin, weighted, reduction, dtype):
    w = rand(5, dtype=dtype, low=0.2, high=2.0, seed=2) if weighted else None
    kw = {'p': p, 'margin': margin, 'reduction': reduction}

    def pair(t):
        return (lambda x: F.multi_margin_loss(x, E(t), weight=None if w is None else E(w), **kw),
                lambda x: TF.multi_margin_loss(x, T(t), weight=None if w is None else T(w), **kw))
    x = rand(6, 5, dtype=dtype, seed=3)
    check(*pair(np.array([0, 4, 2, 1, 3, 3])), x)
    check(*pair(np.array([2])), x[0])
    check(*pair(np.array(2)), x[0])


def test_multi_margin_errors():
    x, t = rand(3, 5), np.array([0, 4, 2])
    cases = [(x, t, {'p': 3}), (x, t.astype(np.float32), {}), (x, t.astype(np.int32), {}),
             (x, t[:2], {}), (x, np.array([0, 5, 1]), {}), (x, np.array([0, -1, 1]), {}),
             (x, t, {'weight': rand(4)}), (x, t, {'weight': rand(5, 1)}),
             (x, t, {'weight': rand(5, dtype=np.float64)}), (x[0], t, {}),
             (x.reshape(3, 5, 1), t, {}), (x, t.reshape(3, 1), {}), (rand(3, 0), t, {}),
             (x.astype(np.int64), t, {}), (x, t, {'reduction': 'x'})]
    for a, b, kw in cases:
        ke = {k: E(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        kt = {k: T(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        _raises_like(lambda: F.multi_margin_loss(E(a), E(b), **ke),
                     lambda: TF.multi_margin_loss(T(a), T(b), **kt))
    _raises_like(lambda: F.multi_margin_loss(E(x), E(t), weight=E(rand(5), True)),
                 lambda: TF.multi_margin_loss(T(x), T(t), weight=T(rand(5), True)))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_multilabel_margin(reduction, dtype):
    t = np.array([[3, 0, -1, 1, 2], [1, 2, 3, -1, 0], [4, -1, 0, 0, 0], [1, 1, -1, 0, 0],
                  [0, 1, 2, 3, 4], [-1, 1, 2, 0, 0]])
    f = (lambda x: F.multilabel_margin_loss(x, E(t), reduction=reduction),
         lambda x: TF.multilabel_margin_loss(x, T(t), reduction=reduction))
    check(*f, rand(6, 5, dtype=dtype, seed=1))
    check(lambda x: F.multilabel_margin_loss(x, E(t[0]), reduction=reduction),
          lambda x: TF.multilabel_margin_loss(x, T(t[0]), reduction=reduction),
          rand(5, dtype=dtype, seed=2))


def test_multilabel_margin_errors():
    x = rand(3, 5)
    t = np.array([[3, 0, -1, 1, 2], [1, 2, 3, -1, 0], [4, -1, 0, 0, 0]])
    cases = [(x, t.astype(np.float32)), (x, t.astype(np.int32)), (x, t[:, :4]), (x, t[:2]),
             (x, np.array([[5, -1, 0, 0, 0]] * 3)), (x, np.array([[0, -1, -2, 0, 0]] * 3)),
             (x[0], t), (x, t[0]), (x.reshape(3, 5, 1), t), (rand(2, 0), np.zeros((2, 0), int)),
             (x.astype(np.int64), t)]
    for a, b in cases:
        _raises_like(lambda: F.multilabel_margin_loss(E(a), E(b)),
                     lambda: TF.multilabel_margin_loss(T(a), T(b)))


# ---- ctc_loss ---------------------------------------------------------------------------------
def _ctc_data(seed=0):
    rng = np.random.default_rng(seed)
    t_max, n, c, s = 12, 3, 5, 4
    targets = rng.integers(1, c, (n, s))
    targets[0, 1] = targets[0, 0]                      # a repeated label needs a blank between
    return rng.standard_normal((t_max, n, c)), targets, np.array([12, 10, 8]), np.array([4, 2, 3])


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_ctc_loss(reduction, dtype):
    logits, tg, il, tl = _ctc_data()
    check(lambda x: F.ctc_loss(x.log_softmax(2), E(tg), E(il), E(tl), reduction=reduction),
          lambda x: TF.ctc_loss(x.log_softmax(2), T(tg), T(il), T(tl), reduction=reduction),
          logits.astype(dtype), rtol=1e-4 if dtype == np.float32 else None,
          atol=1e-5 if dtype == np.float32 else None)


def test_ctc_loss_formats_blank_and_infinity():
    logits, tg, il, tl = _ctc_data(1)
    lp = TF.log_softmax(T(logits), 2).numpy()
    cat = np.concatenate([tg[i, :tl[i]] for i in range(3)])
    check(lambda x: F.ctc_loss(x, E(cat), tuple(il), tuple(tl), reduction='none'),
          lambda x: TF.ctc_loss(x, T(cat), tuple(il), tuple(tl), reduction='none'), lp)
    check(lambda x: F.ctc_loss(x, E(tg[0]), E(np.array(12)), E(np.array(4)), reduction='none'),
          lambda x: TF.ctc_loss(x, T(tg[0]), T(np.array(12)), T(np.array(4)), reduction='none'),
          lp[:, 0])
    blank4 = np.where(tg == 4, 0, tg)
    check(lambda x: F.ctc_loss(x, E(blank4), E(il), E(np.array([0, 2, 3])), blank=4),
          lambda x: TF.ctc_loss(x, T(blank4), T(il), T(np.array([0, 2, 3])), blank=4), lp)
    short = np.array([2, 10, 8])                       # too short for its target: infinite
    for zero_infinity in (False, True):
        check(lambda x: F.ctc_loss(x, E(tg), E(short), E(tl), reduction='sum',
                                   zero_infinity=zero_infinity),
              lambda x: TF.ctc_loss(x, T(tg), T(short), T(tl), reduction='sum',
                                    zero_infinity=zero_infinity), lp)


def test_ctc_loss_errors():
    logits, tg, il, tl = _ctc_data()
    lp = E(logits.astype(np.float32))
    _raises_like(lambda: F.ctc_loss(lp, E(tg), E(np.array([13, 10, 8])), E(tl)),
                 lambda: TF.ctc_loss(T(logits.astype(np.float32)), T(tg),
                                     T(np.array([13, 10, 8])), T(tl)))
    _raises_like(lambda: F.ctc_loss(lp, E(tg), E(il), E(tl), reduction='x'),
                 lambda: TF.ctc_loss(T(logits.astype(np.float32)), T(tg), T(il), T(tl),
                                     reduction='x'))


# ---- finite differences -----------------------------------------------------------------------
@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_gradcheck_classification(reduction):
    x = rand(4, 5, dtype=np.float64, seed=1)
    t = E(np.array([0, 3, -100, 2]))
    w = E(rand(5, dtype=np.float64, low=0.2, high=2, seed=2))
    gradcheck(lambda a: F.cross_entropy(a, t, w, reduction=reduction, label_smoothing=0.2), x)
    gradcheck(lambda a: F.nll_loss(a, t, w, reduction=reduction), x)
    xs = rand(2, 4, 3, 2, dtype=np.float64, seed=3)
    ts = E(_classes((2, 3, 2), 4, seed=4))
    gradcheck(lambda a: F.cross_entropy(a, ts, reduction=reduction, label_smoothing=0.1), xs)
    p = rand(4, 5, dtype=np.float64, low=0, high=1, seed=5)
    gradcheck(lambda a, b, c: F.cross_entropy(a, b, c, reduction=reduction, label_smoothing=0.3),
              x, p, rand(5, dtype=np.float64, low=0.2, high=2, seed=2))
    tm = E(np.array([0, 4, 2, 1]))
    for pn in (1, 2):
        gradcheck(lambda a: F.multi_margin_loss(a, tm, p=pn, margin=0.7, weight=w,
                                                reduction=reduction), x)
    tl = E(np.array([[3, 0, -1, 1, 2], [1, 2, 3, -1, 0], [4, -1, 0, 0, 0], [1, 1, -1, 0, 0]]))
    gradcheck(lambda a: F.multilabel_margin_loss(a, tl, reduction=reduction), x)


def test_gradcheck_ctc_through_log_softmax():
    logits, tg, il, tl = _ctc_data(2)
    small = logits[:6, :2]
    gradcheck(lambda x: F.ctc_loss(x.log_softmax(2), E(tg[:2, :2]), E(np.array([6, 5])),
                                   E(np.array([2, 1])), reduction='sum'), small)


def test_cross_entropy_matches_log_softmax_nll_composition():
    """cross_entropy equals nll_loss(log_softmax) in ember itself (no torch)."""
    x = E(rand(6, 5, seed=1), True)
    t = E(np.array([0, 4, 2, 1, 3, 3]))
    a = F.cross_entropy(x, t)
    b = F.nll_loss(x.log_softmax(1), t)
    assert_close(a, b)
    ga, = ember.autograd.grad(a, x)
    gb, = ember.autograd.grad(b, x)
    np.testing.assert_allclose(ga.numpy(), gb.numpy(), rtol=1e-5, atol=1e-7)


def test_backward_twice_with_retain_graph_leaves_saved_arrays_intact():
    """Backward never writes into what forward saved: a second pass gives the same grads."""
    x = E(rand(6, 5, seed=1), True)
    t = E(np.array([0, 4, 2, 1, 3, 3]))
    y = E(rand(6, 5, low=0, high=1, seed=2))
    losses = [F.cross_entropy(x, t, label_smoothing=0.1), F.nll_loss(x, t),
              F.multi_margin_loss(x, t, p=2), F.mse_loss(x, y), F.l1_loss(x, y),
              F.binary_cross_entropy_with_logits(x, y), F.cross_entropy(x, y)]
    for loss in losses:
        first, = ember.autograd.grad(loss, x, retain_graph=True)
        second, = ember.autograd.grad(loss, x)
        np.testing.assert_array_equal(first.numpy(), second.numpy())
