"""nn.init: distributions (tested statistically), fan rules, gains, errors, generators."""
import math

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from tests.helpers import assert_close


def _stats(t):
    a = t.detach().cpu().numpy().astype(np.float64).ravel()
    return a.mean(), a.std(), a.min(), a.max()


@pytest.mark.parametrize('nl,param', [('linear', None), ('conv2d', None), ('sigmoid', None),
                                      ('tanh', None), ('relu', None), ('leaky_relu', None),
                                      ('leaky_relu', 0.2), ('selu', None), ('leaky_relu', 3)])
def test_calculate_gain(nl, param):
    assert nn.init.calculate_gain(nl, param) == pytest.approx(torch.nn.init.calculate_gain(nl, param))


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match='Unsupported nonlinearity foo'):
        nn.init.calculate_gain('foo')
    with pytest.raises(ValueError, match='negative_slope True not a valid number'):
        nn.init.calculate_gain('leaky_relu', True)


@pytest.mark.parametrize('shape', [(5, 3), (8, 4, 3, 3), (2, 6, 5)])
def test_fan_in_and_fan_out(shape):
    assert nn.init._calculate_fan_in_and_fan_out(ember.empty(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_fan_errors():
    with pytest.raises(ValueError, match='Fan in and fan out can not be computed for tensor with '
                                         'fewer than 2 dimensions'):
        nn.init.xavier_uniform_(ember.empty(3))
    with pytest.raises(ValueError, match='Mode fan_avg not supported, please use one of fan_in, '
                                         'fan_out'):
        nn.init.kaiming_normal_(ember.empty(3, 3), mode='fan_avg')


N = (400, 500)


def test_uniform_normal_constant():
    m, s, lo, hi = _stats(nn.init.uniform_(ember.empty(*N), -2.0, 3.0))
    assert lo >= -2.0 and hi < 3.0 and m == pytest.approx(0.5, abs=0.02)
    assert s == pytest.approx(5 / math.sqrt(12), rel=0.02)
    m, s, _, _ = _stats(nn.init.normal_(ember.empty(*N), 1.5, 0.5))
    assert m == pytest.approx(1.5, abs=0.01) and s == pytest.approx(0.5, rel=0.02)
    assert nn.init.constant_(ember.empty(2, 2), 3.5).tolist() == [[3.5, 3.5], [3.5, 3.5]]
    assert nn.init.ones_(ember.empty(3)).tolist() == [1, 1, 1]
    assert nn.init.zeros_(ember.empty(3)).tolist() == [0, 0, 0]


def test_trunc_normal():
    t = nn.init.trunc_normal_(ember.empty(*N), mean=0.5, std=2.0, a=-1.0, b=3.0)
    m, s, lo, hi = _stats(t)
    assert lo >= -1.0 and hi <= 3.0
    ref = torch.nn.init.trunc_normal_(torch.empty(2000, 1000), mean=0.5, std=2.0, a=-1.0, b=3.0)
    assert m == pytest.approx(ref.mean().item(), abs=0.02)
    assert s == pytest.approx(ref.std().item(), rel=0.02)
    with pytest.warns(UserWarning, match='mean is more than 2 std from'):
        nn.init.trunc_normal_(ember.empty(10), mean=10.0, std=1.0)


@pytest.mark.parametrize('fn,kwargs,shape', [
    ('xavier_uniform_', {}, (300, 200)), ('xavier_uniform_', {'gain': 2.0}, (64, 32, 3, 3)),
    ('xavier_normal_', {}, (300, 200)), ('kaiming_uniform_', {}, (300, 200)),
    ('kaiming_uniform_', {'a': math.sqrt(5)}, (128, 64, 3, 3)),
    ('kaiming_uniform_', {'mode': 'fan_out', 'nonlinearity': 'relu'}, (300, 200)),
    ('kaiming_normal_', {}, (300, 200)),
    ('kaiming_normal_', {'mode': 'fan_out', 'nonlinearity': 'relu'}, (64, 32, 3, 3)),
])
def test_fan_based_initialisers_match_torch_statistics(fn, kwargs, shape):
    e = getattr(nn.init, fn)(ember.empty(*shape), **kwargs)
    t = getattr(torch.nn.init, fn)(torch.empty(*shape), **kwargs)
    me, se, lo_e, hi_e = _stats(e)
    mt, st, lo_t, hi_t = _stats(t)
    assert me == pytest.approx(0.0, abs=4 * st / math.sqrt(e.numel()))
    assert se == pytest.approx(st, rel=0.03)
    if 'uniform' in fn:  # same bound: both samples reach close to it
        bound_t = max(abs(lo_t), hi_t)
        assert bound_t * 0.995 < max(abs(lo_e), hi_e) < bound_t * 1.005


def test_kaiming_zero_element_warns():
    with pytest.warns(UserWarning, match='Initializing zero-element tensors is a no-op'):
        nn.init.kaiming_uniform_(ember.empty(0, 3))


def test_eye_and_dirac():
    assert_close(nn.init.eye_(ember.empty(3, 5)), torch.nn.init.eye_(torch.empty(3, 5)))
    for shape, groups in (((4, 4, 3), 1), ((6, 2, 3, 3), 2), ((4, 4, 3, 3, 3), 1)):
        assert_close(nn.init.dirac_(ember.empty(*shape), groups),
                     torch.nn.init.dirac_(torch.empty(*shape), groups))
    with pytest.raises(ValueError, match='Only tensors with 2 dimensions are supported'):
        nn.init.eye_(ember.empty(3))
    with pytest.raises(ValueError, match='Only tensors with 3, 4, or 5 dimensions are supported'):
        nn.init.dirac_(ember.empty(3, 3))


@pytest.mark.parametrize('shape', [(6, 4), (4, 6), (8, 3, 2, 2)])
def test_orthogonal(shape):
    w = nn.init.orthogonal_(ember.empty(*shape), gain=2.0)
    a = w.numpy().reshape(shape[0], -1).astype(np.float64) / 2.0
    if a.shape[0] <= a.shape[1]:
        np.testing.assert_allclose(a @ a.T, np.eye(a.shape[0]), atol=1e-5)
    else:
        np.testing.assert_allclose(a.T @ a, np.eye(a.shape[1]), atol=1e-5)
    with pytest.raises(ValueError, match='Only tensors with 2 or more dimensions are supported'):
        nn.init.orthogonal_(ember.empty(3))


def test_sparse():
    w = nn.init.sparse_(ember.empty(20, 10), sparsity=0.3, std=0.5)
    a = w.numpy()
    assert ((a == 0).sum(axis=0) >= 6).all()
    assert a[a != 0].std() == pytest.approx(0.5, rel=0.25)
    with pytest.raises(ValueError, match='Only tensors with 2 dimensions are supported'):
        nn.init.sparse_(ember.empty(3, 3, 3), 0.1)


def test_generators_make_streams_reproducible():
    g1 = ember.Generator().manual_seed(3)
    g2 = ember.Generator().manual_seed(3)
    for fn in ('uniform_', 'normal_', 'xavier_uniform_', 'kaiming_normal_', 'trunc_normal_',
               'orthogonal_'):
        a = getattr(nn.init, fn)(ember.empty(6, 5), generator=g1)
        b = getattr(nn.init, fn)(ember.empty(6, 5), generator=g2)
        assert a.tolist() == b.tolist(), fn
    ember.manual_seed(1)
    a = nn.init.normal_(ember.empty(4))
    ember.manual_seed(1)
    assert nn.init.normal_(ember.empty(4)).tolist() == a.tolist()


def test_init_on_parameters_records_no_graph():
    lin = nn.Linear(4, 3)
    w = lin.weight
    nn.init.kaiming_uniform_(lin.weight, a=math.sqrt(5))
    nn.init.zeros_(lin.bias)
    assert lin.weight is w and lin.weight.is_leaf and lin.weight.requires_grad
    assert lin.bias.tolist() == [0, 0, 0]


def test_deprecated_aliases_warn():
    with pytest.warns(FutureWarning, match='nn.init.normal` is now deprecated'):
        nn.init.normal(ember.empty(3))
