"""Loss modules against torch.nn: constructor signatures and defaults, reprs, attributes,
weight buffers and state_dict keys, forward/backward through check_module in float32 and
float64 for every reduction, the deprecated size_average/reduce mapping with its warning,
and constructor errors."""
import inspect
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from tests.helpers import E, T, rand as _rand
from tests.helpers_nn import check_module

DTYPES = [np.float32, np.float64]
REDUCTIONS = ['none', 'mean', 'sum']
LOSSES = ['L1Loss', 'MSELoss', 'CrossEntropyLoss', 'NLLLoss', 'NLLLoss2d', 'BCELoss',
          'BCEWithLogitsLoss', 'HuberLoss', 'SmoothL1Loss', 'KLDivLoss', 'SoftMarginLoss',
          'MarginRankingLoss', 'HingeEmbeddingLoss', 'CosineEmbeddingLoss',
          'MultiLabelSoftMarginLoss', 'MultiMarginLoss', 'MultiLabelMarginLoss',
          'TripletMarginLoss', 'TripletMarginWithDistanceLoss', 'PoissonNLLLoss',
          'GaussianNLLLoss', 'CTCLoss']


def rand(*shape, dtype=np.float32, low=-2.0, high=2.0, seed=0):
    return _rand(*shape, dtype=dtype, low=low, high=high, seed=seed)


def _detached_target(m, *xs):
    """Call a loss whose last argument is not differentiable."""
    return m(*xs[:-1], xs[-1].detach())


@pytest.mark.parametrize('name', LOSSES)
def test_constructor_signature_and_default_repr(name):
    te, tt = getattr(nn, name), getattr(torch.nn, name)
    pe = inspect.signature(te.__init__).parameters
    pt = inspect.signature(tt.__init__).parameters
    assert list(pe) == list(pt)
    for k in pt:
        assert pe[k].default == pt[k].default, k
        assert pe[k].kind == pt[k].kind, k
    assert getattr(te, '__constants__', None) == getattr(tt, '__constants__', None)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        me, mt = te(), tt()
    assert repr(me) == repr(mt)
    assert me.reduction == mt.reduction
    assert list(me.state_dict()) == list(mt.state_dict())
    assert sorted(me._buffers) == sorted(mt._buffers)
    assert ember.nn.modules.loss.__all__.count(name) == 1


@pytest.mark.parametrize('ctor,attrs', [
    (lambda L: L.nn.CrossEntropyLoss(ignore_index=3, label_smoothing=0.2, reduction='sum'),
     ['ignore_index', 'label_smoothing', 'reduction']),
    (lambda L: L.nn.HuberLoss(delta=0.3), ['delta']),
    (lambda L: L.nn.SmoothL1Loss(beta=0.3), ['beta']),
    (lambda L: L.nn.PoissonNLLLoss(log_input=False, full=True, eps=1e-3),
     ['log_input', 'full', 'eps']),
    (lambda L: L.nn.GaussianNLLLoss(full=True, eps=1e-3), ['full', 'eps']),
    (lambda L: L.nn.KLDivLoss(log_target=True), ['log_target']),
    (lambda L: L.nn.TripletMarginLoss(margin=0.5, p=1, eps=1e-3, swap=True),
     ['margin', 'p', 'eps', 'swap']),
    (lambda L: L.nn.TripletMarginWithDistanceLoss(margin=0.5, swap=True), ['margin', 'swap']),
    (lambda L: L.nn.MultiMarginLoss(p=2, margin=0.5), ['p', 'margin']),
    (lambda L: L.nn.CTCLoss(blank=2, zero_infinity=True), ['blank', 'zero_infinity']),
    (lambda L: L.nn.MarginRankingLoss(margin=0.5), ['margin']),
    (lambda L: L.nn.CosineEmbeddingLoss(margin=0.5), ['margin']),
    (lambda L: L.nn.HingeEmbeddingLoss(margin=0.5), ['margin'])])
def test_attributes(ctor, attrs):
    me, mt = ctor(ember), ctor(torch)
    for a in attrs:
        assert getattr(me, a) == getattr(mt, a), a
    assert repr(me) == repr(mt)


def test_weight_buffers_and_state_dict():
    w = rand(5, low=0.1, high=1)
    for name in ['CrossEntropyLoss', 'NLLLoss', 'BCELoss', 'MultiLabelSoftMarginLoss',
                 'MultiMarginLoss']:
        me, mt = getattr(nn, name)(weight=E(w)), getattr(torch.nn, name)(weight=T(w))
        assert list(me.state_dict()) == list(mt.state_dict()) == ['weight']
        np.testing.assert_array_equal(me.weight.numpy(), w)
    me = nn.BCEWithLogitsLoss(weight=E(w), pos_weight=E(w))
    mt = torch.nn.BCEWithLogitsLoss(weight=T(w), pos_weight=T(w))
    assert list(me.state_dict()) == list(mt.state_dict()) == ['weight', 'pos_weight']
    assert nn.BCEWithLogitsLoss().pos_weight is None
    me = nn.CrossEntropyLoss(weight=E(w)).double()
    assert me.weight.dtype is ember.float64
    with pytest.raises(TypeError):
        nn.CrossEntropyLoss(weight=[1.0, 2.0])


@pytest.mark.parametrize('size_average,reduce,expected', [
    (None, False, 'none'), (False, None, 'sum'), (True, None, 'mean'), (False, False, 'none')])
def test_legacy_arguments(size_average, reduce, expected):
    with pytest.warns(UserWarning, match=f"please use reduction='{expected}' instead"):
        m = nn.MSELoss(size_average=size_average, reduce=reduce, reduction='mean')
    assert m.reduction == expected
    with pytest.warns(UserWarning):
        m = nn.CrossEntropyLoss(size_average=size_average, reduce=reduce)
    assert m.reduction == expected
    with pytest.warns(FutureWarning, match='`NLLLoss2d` has been deprecated'):
        nn.NLLLoss2d()


def test_constructor_errors():
    cases = [lambda L: L.nn.MultiMarginLoss(p=3),
             lambda L: L.nn.MultiMarginLoss(weight=L.ones(3, 1)),
             lambda L: L.nn.TripletMarginLoss(margin=0.0),
             lambda L: L.nn.TripletMarginWithDistanceLoss(margin=-1.0)]
    for c in cases:
        with pytest.raises(Exception) as et:
            c(torch)
        with pytest.raises(et.type) as ee:
            c(ember)
        assert str(ee.value) == str(et.value)
    m = nn.L1Loss(reduction='bad')
    with pytest.raises(ValueError, match='bad is not a valid value for reduction'):
        m(E(rand(3)), E(rand(3)))


def test_triplet_with_distance_function_module_and_callable():
    me = nn.TripletMarginWithDistanceLoss(distance_function=nn.CosineSimilarity())
    mt = torch.nn.TripletMarginWithDistanceLoss(distance_function=torch.nn.CosineSimilarity())
    assert repr(me) == repr(mt)
    assert repr(nn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: a)) == \
        'TripletMarginWithDistanceLoss()'


# ---- forward / backward through check_module --------------------------------------------------
def _regression_inputs():
    return [rand(4, 3, seed=1), rand(4, 3, seed=2)]


CASES = [
    # (ctor, inputs, forward)
    (lambda L, r: L.nn.L1Loss(reduction=r), _regression_inputs, None),
    (lambda L, r: L.nn.MSELoss(reduction=r), _regression_inputs, None),
    (lambda L, r: L.nn.HuberLoss(reduction=r, delta=0.5), _regression_inputs, None),
    (lambda L, r: L.nn.SmoothL1Loss(reduction=r, beta=0.5), _regression_inputs, None),
    (lambda L, r: L.nn.PoissonNLLLoss(reduction=r, full=True),
     lambda: [rand(4, 3, seed=1), rand(4, 3, low=0, high=3, seed=2)], None),
    (lambda L, r: L.nn.GaussianNLLLoss(reduction=r, full=True),
     lambda: [rand(4, 3, seed=1), rand(4, 3, seed=2), rand(4, 1, low=0.1, high=1, seed=3)],
     None),
    (lambda L, r: L.nn.KLDivLoss(reduction=r),
     lambda: [rand(4, 3, high=0, seed=1), rand(4, 3, low=0, high=1, seed=2)], None),
    (lambda L, r: L.nn.KLDivLoss(reduction='batchmean', log_target=True),
     lambda: [rand(4, 3, high=0, seed=1), rand(4, 3, high=0, seed=2)], None),
    (lambda L, r: L.nn.BCELoss(weight=L.tensor([0.5, 1.0, 2.0]), reduction=r),
     lambda: [rand(4, 3, low=0.05, high=0.95, seed=1), rand(4, 3, low=0, high=1, seed=2)],
     None),
    (lambda L, r: L.nn.BCEWithLogitsLoss(pos_weight=L.tensor([0.5, 1.0, 3.0]), reduction=r),
     lambda: [rand(4, 3, seed=1), rand(4, 3, low=0, high=1, seed=2)], None),
    (lambda L, r: L.nn.SoftMarginLoss(reduction=r),
     lambda: [rand(4, 3, seed=1), np.sign(rand(4, 3, seed=2))], _detached_target),
    (lambda L, r: L.nn.HingeEmbeddingLoss(reduction=r, margin=0.5),
     lambda: [rand(4, 3, seed=1), np.sign(rand(4, 3, seed=2))], _detached_target),
    (lambda L, r: L.nn.MarginRankingLoss(reduction=r, margin=0.2),
     lambda: [rand(5, seed=1), rand(5, seed=2), np.sign(rand(5, seed=3))], None),
    (lambda L, r: L.nn.CosineEmbeddingLoss(reduction=r, margin=0.2),
     lambda: [rand(4, 3, seed=1), rand(4, 3, seed=2), np.array([1, -1, 1, -1])], None),
    (lambda L, r: L.nn.MultiLabelSoftMarginLoss(weight=L.tensor([0.5, 1.0, 2.0]), reduction=r),
     lambda: [rand(4, 3, seed=1), (rand(4, 3, seed=2) > 0).astype(np.float32)], None),
    (lambda L, r: L.nn.CrossEntropyLoss(weight=L.tensor([0.5, 1.0, 2.0, 1.5]), reduction=r,
                                        ignore_index=1, label_smoothing=0.1),
     lambda: [rand(5, 4, seed=1), np.array([0, 1, 3, 2, 1])], None),
    (lambda L, r: L.nn.CrossEntropyLoss(reduction=r),
     lambda: [rand(2, 4, 3, 3, seed=1), np.random.default_rng(2).integers(0, 4, (2, 3, 3))],
     None),
    (lambda L, r: L.nn.CrossEntropyLoss(reduction=r, label_smoothing=0.2),
     lambda: [rand(4, seed=1), np.array(2)], None),
    (lambda L, r: L.nn.CrossEntropyLoss(reduction=r, label_smoothing=0.2),
     lambda: [rand(5, 4, seed=1), rand(5, 4, low=0, high=1, seed=2)], None),
    (lambda L, r: L.nn.NLLLoss(weight=L.tensor([0.5, 1.0, 2.0, 1.5]), reduction=r),
     lambda: [rand(5, 4, seed=1), np.array([0, 1, 3, 2, 1])], None),
    (lambda L, r: L.nn.NLLLoss(reduction=r, ignore_index=0),
     lambda: [rand(2, 4, 3, seed=1), np.array([[0, 1, 3], [2, 0, 1]])], None),
    (lambda L, r: L.nn.MultiMarginLoss(p=2, margin=0.5, weight=L.tensor([0.5, 1.0, 2.0, 1.5]),
                                       reduction=r),
     lambda: [rand(5, 4, seed=1), np.array([0, 1, 3, 2, 1])], None),
    (lambda L, r: L.nn.MultiLabelMarginLoss(reduction=r),
     lambda: [rand(3, 4, seed=1), np.array([[3, 0, -1, 1], [1, 2, 3, -1], [2, -1, 0, 0]])],
     None),
    (lambda L, r: L.nn.TripletMarginLoss(reduction=r, p=1.5, swap=True),
     lambda: [rand(4, 3, seed=1), rand(4, 3, seed=2), rand(4, 3, seed=3)], None),
    (lambda L, r: L.nn.TripletMarginWithDistanceLoss(reduction=r, swap=True),
     lambda: [rand(4, 3, seed=1), rand(4, 3, seed=2), rand(4, 3, seed=3)], None),
    (lambda L, r: L.nn.CTCLoss(reduction=r),
     lambda: [np.log(np.full((6, 2, 4), 0.25, np.float32)) + rand(6, 2, 4, high=0.5, seed=1),
              np.array([[1, 2], [3, 3]]), np.array([6, 5]), np.array([2, 2])], None),
]


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('case', range(len(CASES)))
def test_module_matches_torch(case, reduction, dtype):
    ctor, inputs, forward = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        check_module(lambda L: ctor(L, reduction), inputs(), dtype=dtype, forward=forward,
                     modes=('train',) if dtype == np.float64 else ('train', 'eval'))
