"""Dropout family: random masks cannot be compared with torch's, so these tests check the
identity in eval mode, mask statistics and scaling, whole-channel masks for DropoutNd (with
torch's dimension rules and warnings), gradients equal to the mask times the upstream
gradient, SELU moments for AlphaDropout, reproducibility under ember.manual_seed, and reprs
and errors against torch."""
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from tests.helpers import E, T, assert_close, gradcheck, rand, to_np
from tests.helpers_nn import check_module

DTYPES = [np.float32, np.float64]
ALL_F = ['dropout', 'dropout1d', 'dropout2d', 'dropout3d', 'alpha_dropout',
         'feature_alpha_dropout']
SHAPE_OF = {'dropout': (4, 5), 'dropout1d': (2, 3, 4), 'dropout2d': (2, 3, 4, 5),
            'dropout3d': (2, 3, 2, 2, 2), 'alpha_dropout': (4, 5),
            'feature_alpha_dropout': (2, 3, 4)}


def _within(frac, p, n):
    """A binomial fraction within 5 standard errors of p."""
    return abs(frac - p) <= 5 * math.sqrt(max(p * (1 - p), 1e-12) / n) + 1e-12


# ---- eval mode, p = 0, p = 1 ------------------------------------------------------------------
@pytest.mark.parametrize('name', ALL_F)
def test_eval_and_p0_return_input_itself(name):
    x = E(rand(*SHAPE_OF[name]), True)
    fn = getattr(F, name)
    assert fn(x, 0.5, False) is x
    assert fn(x, 0.0, True) is x
    assert fn(x, 0.5, training=False, inplace=True) is x


@pytest.mark.parametrize('cls', ['Dropout', 'Dropout1d', 'Dropout2d', 'Dropout3d', 'AlphaDropout',
                                 'FeatureAlphaDropout'])
@pytest.mark.parametrize('dtype', DTYPES)
def test_modules_match_torch_in_eval_mode(cls, dtype):
    shape = {'Dropout1d': (2, 3, 4), 'Dropout2d': (2, 3, 4, 5), 'Dropout3d': (2, 3, 2, 2, 2),
             'FeatureAlphaDropout': (2, 3, 4)}.get(cls, (4, 5))
    check_module(lambda L: getattr(L.nn, cls)(0.3), [rand(*shape)], modes=('eval',), dtype=dtype)
    check_module(lambda L: getattr(L.nn, cls)(0.0), [rand(*shape)], dtype=dtype)   # p=0: identity
    m = getattr(nn, cls)(0.7, inplace=True).eval()
    x = E(rand(*shape))
    assert m(x) is x


@pytest.mark.parametrize('kw', [{}, {'p': 0.2}, {'p': 0.2, 'inplace': True}, {'p': 1},
                                {'p': True}])
def test_reprs_and_attributes(kw):
    for cls in ('Dropout', 'Dropout1d', 'Dropout2d', 'Dropout3d', 'AlphaDropout',
                'FeatureAlphaDropout'):
        em, tm = getattr(nn, cls)(**kw), getattr(torch.nn, cls)(**kw)
        assert repr(em) == repr(tm)
        assert (em.p, em.inplace) == (tm.p, tm.inplace)


@pytest.mark.parametrize('name', ['dropout', 'dropout1d', 'dropout2d', 'dropout3d',
                                  'alpha_dropout', 'feature_alpha_dropout'])
def test_p_one_gives_zeros(name):
    x = E(rand(*SHAPE_OF[name]) + 3, True)
    y = getattr(F, name)(x, 1.0, True)
    assert not to_np(y).any() and y.grad_fn.name() == 'MulBackward0'
    y.backward(E(rand(*SHAPE_OF[name])))
    assert not to_np(x.grad).any()


@pytest.mark.parametrize('p', [1.5, -0.1, -1])
def test_probability_out_of_range(p):
    for name in ALL_F:
        with pytest.raises(ValueError) as ee:
            getattr(F, name)(E(rand(*SHAPE_OF[name])), p, True)
        with pytest.raises(ValueError) as te:
            getattr(TF, name)(T(rand(*SHAPE_OF[name])), p, True)
        assert str(ee.value) == str(te.value) == \
            f'dropout probability has to be between 0 and 1, but got {p}'
    for cls in ('Dropout', 'Dropout2d', 'AlphaDropout'):
        with pytest.raises(ValueError, match='dropout probability has to be between 0 and 1'):
            getattr(nn, cls)(p)


def test_integer_input_error_matches_torch():
    with pytest.raises(RuntimeError) as te:
        TF.dropout(torch.ones(4).long(), 0.5)
    with pytest.raises(RuntimeError) as ee:
        F.dropout(ember.ones(4).long(), 0.5)
    assert str(ee.value) == str(te.value)


# ---- elementwise dropout ----------------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('p', [0.1, 0.5, 0.8])
def test_dropout_statistics_and_scaling(dtype, p):
    x = ember.ones(300, 1000, dtype=ember.float32 if dtype == np.float32 else ember.float64)
    y = to_np(F.dropout(x, p))
    assert y.dtype == dtype and y.shape == (300, 1000)
    zero = y == 0
    assert _within(zero.mean(), p, y.size)
    assert np.all(y[~zero] == dtype(1 / (1 - p)))      # kept values scaled by 1/(1-p)
    assert abs(y.mean() - 1) < 5 * math.sqrt(p / (1 - p) / y.size)   # expectation preserved
    # no correlation between neighbours (a bad bit split would show here)
    assert _within((zero[:, 1:] & zero[:, :-1]).mean(), p * p, y.size)


@pytest.mark.parametrize('dtype', DTYPES)
def test_dropout_gradient_is_mask_times_upstream(dtype):
    a = rand(64, 33, dtype=dtype, low=0.5, high=2.0)
    x = E(a, True)
    y = F.dropout(x, 0.3)
    assert y.grad_fn.name() == 'MulBackward0'
    g = rand(64, 33, dtype=dtype)
    y.backward(E(g))
    mask = to_np(y) / a                                   # 0 or 1/(1-p)
    assert np.allclose(np.unique(np.round(mask, 5)), [0, round(1 / 0.7, 5)])
    np.testing.assert_allclose(to_np(x.grad), g * mask, rtol=1e-6)


def test_dropout_gradcheck_with_fixed_mask():
    def fn(x):
        ember.manual_seed(7)
        return F.dropout(x, 0.4)
    gradcheck(fn, rand(5, 6))


def test_same_seed_same_mask_and_fresh_masks_otherwise():
    x = ember.ones(50, 60)
    ember.manual_seed(123)
    a = to_np(F.dropout(x, 0.5))
    b = to_np(F.dropout(x, 0.5))
    ember.manual_seed(123)
    c = to_np(F.dropout(x, 0.5))
    assert np.array_equal(a, c) and not np.array_equal(a, b)
    ember.manual_seed(123)
    m = nn.Dropout(0.5)
    assert np.array_equal(to_np(m(x)), a)


@pytest.mark.parametrize('shape', [(), (0, 4), (7,), (2, 3, 4, 5)])
def test_dropout_any_shape(shape):
    x = E(rand(*shape) + 5, True)
    y = F.dropout(x, 0.5)
    assert tuple(y.shape) == shape
    y.sum().backward()
    assert_close(x.grad, torch.tensor(to_np(y) / to_np(x)))


def test_dropout_inplace():
    a = E(rand(40, 50) + 3, True)
    h = a * 1
    v = h._version
    out = F.dropout(h, 0.5, inplace=True)
    assert out is h and h._version > v
    assert _within((to_np(h) == 0).mean(), 0.5, 2000)
    h.sum().backward()
    np.testing.assert_allclose(to_np(a.grad), (to_np(h) != 0) * 2.0)
    leaf = E(rand(3), True)
    with pytest.raises(RuntimeError) as ee:
        F.dropout(leaf, 0.5, inplace=True)
    with pytest.raises(RuntimeError) as te:
        TF.dropout(T(rand(3), True), 0.5, inplace=True)
    assert str(ee.value) == str(te.value)
    m = nn.Dropout(0.5, inplace=True)
    x = ember.ones(10, 10)
    assert m(x) is x and set(np.unique(to_np(x))) <= {0.0, 2.0}


def test_module_train_eval_toggle():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.9))
    x = ember.ones(50, 4)
    assert (to_np(model(x)) == 0).mean() > 0.5
    model.eval()
    assert_close(model(x), model[0](x))


# ---- channel dropout --------------------------------------------------------------------------
def _channel_masks(y, lead):
    """(masks per channel, whether every channel is constant): y is all-ones input dropped."""
    flat = y.reshape(int(np.prod(y.shape[:lead])), -1)
    return flat[:, 0], bool((flat == flat[:, :1]).all())


@pytest.mark.parametrize('name,shape,lead', [
    ('dropout1d', (40, 50, 6), 2), ('dropout1d', (400, 6), 1),
    ('dropout2d', (40, 50, 2, 3), 2), ('dropout2d', (400, 2, 3), 1 + 1),
    ('dropout3d', (20, 50, 2, 2, 2), 2), ('dropout3d', (400, 2, 2, 2), 1),
    ('feature_alpha_dropout', (40, 50, 6), 2),
])
@pytest.mark.parametrize('dtype', DTYPES)
def test_channel_dropout_zeroes_whole_channels(name, shape, lead, dtype):
    x = E(np.ones(shape, dtype), True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        y = getattr(F, name)(x, 0.3, True)
    ya = to_np(y)
    per_channel, constant = _channel_masks(ya, lead)
    assert constant
    dropped = per_channel != per_channel.max()
    assert _within(dropped.mean(), 0.3, per_channel.size)
    g = rand(*shape, dtype=dtype)
    y.backward(E(g))
    scale = 1 / 0.7 if name != 'feature_alpha_dropout' else None
    if scale is not None:
        np.testing.assert_allclose(to_np(x.grad), g * ya, rtol=1e-6)


def test_dropout_nd_channel_layouts_follow_torch():
    """Which dims share a draw: the masks of ember and torch have the same constant blocks
    (checked by the block sizes an all-ones input shows)."""
    cases = [('dropout2d', (30, 40)), ('dropout2d', (3, 30, 40)), ('dropout2d', (30,) * 2 + (2, 2, 2)),
             ('dropout3d', (30, 40)), ('dropout3d', (30, 4, 5)), ('dropout3d', (40,)),
             ('dropout3d', (30, 2, 2, 2, 2, 2)), ('feature_alpha_dropout', (30, 40))]
    for name, shape in cases:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            ye = to_np(getattr(F, name)(ember.ones(shape), 0.5, True))
            yt = getattr(TF, name)(torch.ones(shape), 0.5, True).numpy()
        for lead in range(len(shape) + 1):
            _, ce = _channel_masks(ye, lead)
            _, ct = _channel_masks(yt, lead)
            assert ce == ct, (name, shape, lead)


def test_dropout_nd_dimension_errors_and_warnings_match_torch():
    for shape in [(4,), (1, 2, 3, 4), ()]:
        with pytest.raises(RuntimeError) as te:
            TF.dropout1d(torch.ones(shape))
        with pytest.raises(RuntimeError) as ee:
            F.dropout1d(ember.ones(shape))
        assert str(ee.value) == str(te.value)
    for name, shape in [('dropout2d', (3, 4)), ('dropout2d', (2, 3, 4)), ('dropout2d', (1, 2, 2, 3, 4)),
                        ('dropout3d', (2, 3, 4)), ('dropout3d', (1, 1, 2, 2, 3, 4)),
                        ('dropout2d', (2, 2, 3, 4)), ('dropout3d', (2, 2, 3, 4))]:
        for training in (True, False):
            with warnings.catch_warnings(record=True) as wt:
                warnings.simplefilter('always')
                getattr(TF, name)(torch.ones(shape), 0.5, training)
            with warnings.catch_warnings(record=True) as we:
                warnings.simplefilter('always')
                getattr(F, name)(ember.ones(shape), 0.5, training)
            assert [str(w.message) for w in we] == [str(w.message) for w in wt]
            assert all(w.filename == __file__ for w in we)
    for name, shape in [('dropout2d', (4,)), ('dropout3d', ()), ('feature_alpha_dropout', (4,))]:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            with pytest.raises(RuntimeError) as te:
                getattr(TF, name)(torch.ones(shape), 0.5, True)
            with pytest.raises(RuntimeError) as ee:
                getattr(F, name)(ember.ones(shape), 0.5, True)
            assert str(ee.value) == str(te.value)
            x = ember.ones(shape)
            assert getattr(F, name)(x, 0.5, False) is x        # no rank check in eval mode


def test_dropout2d_module_inplace_and_seed():
    x = ember.ones(20, 30, 4, 4)
    ember.manual_seed(3)
    a = to_np(nn.Dropout2d(0.5)(x))
    ember.manual_seed(3)
    m = nn.Dropout2d(0.5, inplace=True)
    y = ember.ones(20, 30, 4, 4)
    assert m(y) is y
    assert np.array_equal(to_np(y), a)


# ---- alpha dropout ----------------------------------------------------------------------------
@pytest.mark.parametrize('p', [0.1, 0.5, 0.8])
def test_alpha_dropout_keeps_selu_moments(p):
    z = np.random.default_rng(0).standard_normal((400, 1000)).astype(np.float32)
    y = to_np(F.alpha_dropout(E(z), p, True)).astype(np.float64)
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02


@pytest.mark.parametrize('p', [0.2, 0.5])
@pytest.mark.parametrize('name', ['alpha_dropout', 'feature_alpha_dropout'])
def test_alpha_dropout_values_and_gradient(p, name):
    """On a constant input only two values appear, the same two as torch's; the gradient is
    the kept elements' scale a times the upstream gradient."""
    shape = (60, 50, 2)
    ye = to_np(getattr(F, name)(ember.ones(shape), p, True))
    yt = getattr(TF, name)(torch.ones(shape), p, True).numpy()
    np.testing.assert_allclose(np.unique(ye), np.unique(yt), rtol=1e-6)
    a = 1 / math.sqrt((1.7580993408473766 ** 2 * p + 1) * (1 - p))
    x = E(rand(*shape, dtype=np.float64), True)
    y = getattr(F, name)(x, p, True)
    assert y.grad_fn.name() == 'AddBackward0'
    g = rand(*shape, dtype=np.float64)
    y.backward(E(g))
    b_kept = 1.7580993408473766 * a * p
    kept = np.isclose(to_np(y), a * to_np(x) + b_kept)
    assert _within(1 - kept.mean(), p, kept.size if name == 'alpha_dropout' else 3000)
    np.testing.assert_allclose(to_np(x.grad), g * a * kept, rtol=1e-12)


def test_alpha_dropout_gradcheck_and_inplace():
    def fn(x):
        ember.manual_seed(11)
        return F.alpha_dropout(x, 0.3, True)
    gradcheck(fn, rand(4, 5))
    h = ember.ones(30, 40) * 1
    F.feature_alpha_dropout(h, 0.5, True, inplace=True)
    assert len(np.unique(to_np(h))) == 2
    assert nn.AlphaDropout(0.2)(ember.ones(3)).shape == (3,)
