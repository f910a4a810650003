"""Pooling against torch: max, average, power-average (LP), adaptive max/average, fractional
max pooling and max unpooling, as F functions and modules, in 1, 2 and 3 dims."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as F
from tests.helpers import E, T, assert_close, check, gradcheck, noncontig, to_np
from tests.helpers_nn import check_module

DTYPES = (np.float32, np.float64)
# odd spatial sizes per number of pooled dims
SPATIAL = {1: (11,), 2: (9, 8), 3: (5, 7, 6)}


@pytest.fixture(autouse=True, scope='module')
def _torch_single_threaded():
    """torch's thread pool costs milliseconds per op on a busy machine; these tests compare
    small tensors."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def distinct(*shape, dtype=np.float64, seed=0):
    """Values in [-2, 2) that are all different (max pooling without ties)."""
    n = math.prod(shape)
    rng = np.random.default_rng(seed)
    return (rng.permutation(n).reshape(shape) * (4.0 / max(n, 1)) - 2).astype(dtype)


def both(name):
    """(ember F.name, torch F.name)."""
    return getattr(F, name), getattr(TF, name)


def shapes(nd, batch=2, channels=3):
    """A batched and an unbatched input shape."""
    return [(batch, channels) + SPATIAL[nd], (channels,) + SPATIAL[nd]]


# ==== max pooling ================================================================================
# (kernel, stride, padding, dilation, ceil_mode)
MAX_GEOMETRY = [(2, None, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 1, 1, True),
                (2, 1, 0, 2, False), (3, 2, 1, 2, True), (4, 3, 2, 1, True), (3, 1, 1, 1, False),
                (2, 3, 0, 1, True), (1, 1, 0, 1, False)]


@pytest.mark.parametrize('nd', (1, 2, 3))
@pytest.mark.parametrize('geom', MAX_GEOMETRY)
@pytest.mark.parametrize('dtype', DTYPES)
def test_max_pool_matches_torch(nd, geom, dtype):
    k, s, p, d, ceil = geom
    fe, ft = both(f'max_pool{nd}d')
    for shape in shapes(nd):
        x = distinct(*shape, dtype=dtype)
        check(lambda t: fe(t, k, s, p, d, ceil, True), lambda t: ft(t, k, s, p, d, ceil, True), x)
        check(lambda t: fe(t, k, s, p, d, ceil), lambda t: ft(t, k, s, p, d, ceil), x,
              grad=False)


@pytest.mark.parametrize('nd', (1, 2, 3))
def test_max_pool_per_dim_arguments_and_keywords(nd):
    k, s, p, d = [(3, 2, 2)[:nd], (2, 1, 3)[:nd], (1, 0, 1)[:nd], (1, 2, 1)[:nd]]
    fe, ft = both(f'max_pool{nd}d')
    x = distinct(2, 2, *SPATIAL[nd])
    kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=True,
              return_indices=True)
    check(lambda t: fe(t, **kw), lambda t: ft(t, **kw), x)
    wi_e, wi_t = both(f'max_pool{nd}d_with_indices')
    check(lambda t: wi_e(t, k, s, p, d), lambda t: wi_t(t, k, s, p, d), x)


@pytest.mark.parametrize('nd', (1, 2, 3))
def test_max_pool_ties_nan_and_inf_follow_torch(nd):
    """Ties: the first maximum in window order wins; a NaN wins; a window of -inf picks its
    first in-bounds element (indices and gradients)."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, (2, 2) + SPATIAL[nd]).astype(np.float64)
    fe, ft = both(f'max_pool{nd}d')
    for k, s, p, d, ceil in MAX_GEOMETRY[:6]:
        check(lambda t: fe(t, k, s, p, d, ceil, True), lambda t: ft(t, k, s, p, d, ceil, True), x)
    special = x.copy().ravel()
    special[rng.choice(special.size, special.size // 3, replace=False)] = -np.inf
    special[rng.choice(special.size, 4, replace=False)] = np.nan
    special = special.reshape(x.shape)
    for k, s, p, d, ceil in MAX_GEOMETRY[:6]:
        check(lambda t: fe(t, k, s, p, d, ceil, True), lambda t: ft(t, k, s, p, d, ceil, True),
              special)
    all_inf = np.full((1, 1) + SPATIAL[nd], -np.inf)
    check(lambda t: fe(t, 3, 2, 1, 1, True, True), lambda t: ft(t, 3, 2, 1, 1, True, True),
          all_inf)


def test_max_pool_non_contiguous_batch_of_one_and_empty_batch():
    x = noncontig(distinct(1, 3, 9, 10))
    check(lambda t: F.max_pool2d(t, 3, 2, 1, return_indices=True),
          lambda t: TF.max_pool2d(t, 3, 2, 1, return_indices=True), x)
    check(lambda t: F.max_pool2d(t.transpose(2, 3), 2),
          lambda t: TF.max_pool2d(t.transpose(2, 3), 2), distinct(2, 3, 9, 10))
    check(lambda t: F.max_pool1d(t[:, ::2], 2), lambda t: TF.max_pool1d(t[:, ::2], 2),
          distinct(2, 6, 9))
    for nd in (1, 2, 3):
        fe, ft = both(f'max_pool{nd}d')
        check(lambda t: fe(t, 2, return_indices=True), lambda t: ft(t, 2, return_indices=True),
              np.zeros((0, 3) + SPATIAL[nd], np.float32))


@pytest.mark.parametrize('dtype', ('int32', 'int64', 'uint8', 'int16', 'float16'))
def test_max_pool_other_dtypes(dtype):
    x = (np.arange(2 * 3 * 7 * 7) % 11 - 5).reshape(2, 3, 7, 7)
    x = x.astype(dtype) if dtype != 'uint8' else np.abs(x).astype(dtype)
    for nd, fn in ((2, lambda t, m: m.max_pool2d(t, 3, 2, 1, return_indices=True)),
                   (1, lambda t, m: m.max_pool1d(t[0], 3, 2, 1, return_indices=True)),
                   (3, lambda t, m: m.max_pool3d(t, 3, 2, 1))):
        assert_close(fn(E(x), F), fn(T(x), TF))


def test_max_pool_large_input_in_blocks_matches_torch():
    """Inputs larger than a cache block (split over planes and threads)."""
    x = distinct(8, 16, 45, 46, dtype=np.float32)
    check(lambda t: F.max_pool2d(t, 3, 2, 1, return_indices=True),
          lambda t: TF.max_pool2d(t, 3, 2, 1, return_indices=True), x)
    check(lambda t: F.avg_pool2d(t, 2), lambda t: TF.avg_pool2d(t, 2), x)
    check(lambda t: F.max_pool2d(t, 3, 1, 0, 2), lambda t: TF.max_pool2d(t, 3, 1, 0, 2), x)
    check(lambda t: F.avg_pool2d(t, 3, 2, 1, True), lambda t: TF.avg_pool2d(t, 3, 2, 1, True), x)


# ==== average pooling ============================================================================
AVG_GEOMETRY = [(2, None, 0, False), (3, 2, 1, False), (3, 2, 1, True), (4, 3, 2, True),
                (3, 1, 1, False), (2, 3, 0, True), (1, 1, 0, False)]


@pytest.mark.parametrize('nd', (1, 2, 3))
@pytest.mark.parametrize('geom', AVG_GEOMETRY)
@pytest.mark.parametrize('dtype', DTYPES)
def test_avg_pool_matches_torch(nd, geom, dtype):
    k, s, p, ceil = geom
    fe, ft = both(f'avg_pool{nd}d')
    for shape in shapes(nd):
        x = distinct(*shape, dtype=dtype)
        for cip in (True, False):
            check(lambda t: fe(t, k, s, p, ceil, cip), lambda t: ft(t, k, s, p, ceil, cip), x)
            if nd > 1:
                check(lambda t: fe(t, k, s, p, ceil, cip, 5),
                      lambda t: ft(t, k, s, p, ceil, cip, 5), x)


def test_avg_pool_keywords_per_dim_and_non_contiguous():
    x = noncontig(distinct(2, 3, 9, 8))
    kw = dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), ceil_mode=True,
              count_include_pad=False, divisor_override=None)
    check(lambda t: F.avg_pool2d(t, **kw), lambda t: TF.avg_pool2d(t, **kw), x)
    kw = dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0), divisor_override=3)
    check(lambda t: F.avg_pool3d(t, **kw), lambda t: TF.avg_pool3d(t, **kw),
          distinct(1, 2, 5, 7, 6))
    check(lambda t: F.avg_pool1d(t, kernel_size=3, stride=2, padding=1, count_include_pad=False),
          lambda t: TF.avg_pool1d(t, kernel_size=3, stride=2, padding=1, count_include_pad=False),
          noncontig(distinct(2, 3, 11)))


def test_avg_pool_integers_and_empty_batch():
    x = (np.arange(2 * 3 * 7 * 7) % 13 - 6).reshape(2, 3, 7, 7).astype(np.int64)
    assert_close(F.avg_pool2d(E(x), 3, 2, 1), TF.avg_pool2d(T(x), 3, 2, 1))
    assert_close(F.avg_pool2d(E(x), 2, divisor_override=3),
                 TF.avg_pool2d(T(x), 2, divisor_override=3))
    assert_close(F.avg_pool1d(E(x[0]), 3, 2, 1, count_include_pad=False),
                 TF.avg_pool1d(T(x[0]), 3, 2, 1, count_include_pad=False))
    assert_close(F.avg_pool3d(E(x[None]), 2), TF.avg_pool3d(T(x[None]), 2))
    for nd in (1, 2, 3):
        fe, ft = both(f'avg_pool{nd}d')
        check(lambda t: fe(t, 2), lambda t: ft(t, 2), np.zeros((0, 3) + SPATIAL[nd], np.float32))


# ==== power-average pooling ======================================================================
@pytest.mark.parametrize('nd', (1, 2, 3))
@pytest.mark.parametrize('norm_type', (1, 2, 3.5, -1.5, math.inf))
@pytest.mark.parametrize('dtype', DTYPES)
def test_lp_pool_matches_torch(nd, norm_type, dtype):
    fe, ft = both(f'lp_pool{nd}d')
    x = np.abs(distinct(2, 3, *SPATIAL[nd], dtype=dtype)) + 0.1
    for k, s, ceil in ((2, None, False), (3, 2, True), (2, 1, False)):
        check(lambda t: fe(t, norm_type, k, s, ceil), lambda t: ft(t, norm_type, k, s, ceil), x)
    check(lambda t: fe(t, norm_type, 2), lambda t: ft(t, norm_type, 2), x[0])


def test_lp_pool_signed_input_zero_window_and_integers():
    x = distinct(2, 3, 8, 8)
    x[0, 0, :2, :2] = 0                              # a window summing to zero: gradient 0
    check(lambda t: F.lp_pool2d(t, 2, 2), lambda t: TF.lp_pool2d(t, 2, 2), x)
    check(lambda t: F.lp_pool2d(t, 3, 2), lambda t: TF.lp_pool2d(t, 3, 2), x)   # NaNs
    check(lambda t: F.lp_pool1d(t, 1, 3, 2, True), lambda t: TF.lp_pool1d(t, 1, 3, 2, True), x[0])
    xi = (np.arange(2 * 6 * 6) % 5).reshape(2, 6, 6)
    for dt in ('int64', 'int32', 'bool'):
        for p in (2, 2.0):
            a = xi.astype(dt) if dt != 'bool' else xi % 2 == 0
            try:
                expected = TF.lp_pool2d(T(a), p, 2)
            except NotImplementedError as e:
                with pytest.raises(NotImplementedError, match=str(e).replace('"', '.')):
                    F.lp_pool2d(E(a), p, 2)
                continue
            assert_close(F.lp_pool2d(E(a), p, 2), expected)


# ==== adaptive pooling ===========================================================================
ADAPTIVE_SIZES = {1: (1, 3, 4, 11, 15), 2: (1, 3, (4, None), (9, 8), (2, 5), (12, 3)),
                  3: (1, 2, (None, 3, 4), (5, 7, 6), (3, 8, 2))}


@pytest.mark.parametrize('nd', (1, 2, 3))
@pytest.mark.parametrize('dtype', DTYPES)
def test_adaptive_pooling_matches_torch(nd, dtype):
    avg_e, avg_t = both(f'adaptive_avg_pool{nd}d')
    max_e, max_t = both(f'adaptive_max_pool{nd}d')
    wi_e, wi_t = both(f'adaptive_max_pool{nd}d_with_indices')
    for shape in shapes(nd):
        x = distinct(*shape, dtype=dtype)
        for size in ADAPTIVE_SIZES[nd]:
            check(lambda t: avg_e(t, size), lambda t: avg_t(t, size), x)
            check(lambda t: max_e(t, size, True), lambda t: max_t(t, size, True), x)
            check(lambda t: max_e(t, output_size=size), lambda t: max_t(t, output_size=size), x)
        check(lambda t: wi_e(t, 3), lambda t: wi_t(t, 3), x)


def test_adaptive_pooling_ties_nan_non_contiguous_and_empty():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, (2, 3, 9, 7)).astype(np.float64)
    x[0, 0, 3, 2] = np.nan
    for size in (1, 3, (3, 7), 4):
        check(lambda t: F.adaptive_max_pool2d(t, size, True),
              lambda t: TF.adaptive_max_pool2d(t, size, True), x)
    check(lambda t: F.adaptive_avg_pool2d(t, (4, 3)), lambda t: TF.adaptive_avg_pool2d(t, (4, 3)),
          noncontig(distinct(2, 3, 9, 7)))
    check(lambda t: F.adaptive_max_pool1d(t, 4, True), lambda t: TF.adaptive_max_pool1d(t, 4, True),
          noncontig(distinct(3, 10)))
    check(lambda t: F.adaptive_avg_pool2d(t, 0), lambda t: TF.adaptive_avg_pool2d(t, 0),
          distinct(2, 3, 4, 4), grad=False)
    for nd in (1, 2, 3):
        for kind in ('avg', 'max'):
            fe, ft = both(f'adaptive_{kind}_pool{nd}d')
            check(lambda t: fe(t, 2), lambda t: ft(t, 2),
                  np.zeros((0, 3) + SPATIAL[nd], np.float32))


def test_adaptive_pooling_other_dtypes():
    x = (np.arange(2 * 3 * 7 * 7) % 11).reshape(2, 3, 7, 7)
    for dt in ('float16', 'int64', 'int32'):
        a = x.astype(dt)
        for fn in (lambda t, m: m.adaptive_avg_pool2d(t, 3),
                   lambda t, m: m.adaptive_max_pool2d(t, 3),
                   lambda t, m: m.adaptive_avg_pool3d(t, 3)):
            try:
                expected = fn(T(a), TF)
            except NotImplementedError as e:
                with pytest.raises(NotImplementedError, match=str(e).replace('"', '.')):
                    fn(E(a), F)
                continue
            assert_close(fn(E(a), F), expected, rtol=1e-3, atol=1e-3)


# ==== fractional max pooling =====================================================================
@pytest.mark.parametrize('nd', (2, 3))
@pytest.mark.parametrize('dtype', DTYPES)
def test_fractional_max_pool_with_given_samples_matches_torch(nd, dtype):
    fe, ft = both(f'fractional_max_pool{nd}d')
    rng = np.random.default_rng(3)
    u = rng.uniform(size=(2, 3, nd)).astype(dtype)
    for shape in ((2, 3) + (10,) * nd, (3, 9, 8, 7)[:nd + 1]):
        x = distinct(*shape, dtype=dtype)
        for k, kw in ((3, dict(output_size=4)), (2, dict(output_ratio=(0.5,) * nd)),
                      ((2, 3, 2)[:nd], dict(output_size=(3, 5, 4)[:nd])),
                      (2, dict(output_size=1)), (1, dict(output_size=(6,) * nd))):
            check(lambda t: fe(t, k, return_indices=True, _random_samples=ember.tensor(u), **kw),
                  lambda t: ft(t, k, return_indices=True, _random_samples=torch.tensor(u), **kw),
                  x)
    wi_e, wi_t = both(f'fractional_max_pool{nd}d_with_indices')
    x = distinct(2, 3, *(9,) * nd, dtype=dtype)
    check(lambda t: wi_e(t, 2, 4, _random_samples=ember.tensor(u)),
          lambda t: wi_t(t, 2, 4, _random_samples=torch.tensor(u)), x)


def test_fractional_max_pool_random_samples():
    """Without samples each call draws new window positions from ember's generator: the
    outputs are maxima of kernel-sized windows, the first and last windows touch the input's
    ends, and seeding reproduces them."""
    x = E(distinct(2, 3, 12, 12))
    ember.manual_seed(1)
    a, ia = F.fractional_max_pool2d(x, 2, output_size=5, return_indices=True)
    b = F.fractional_max_pool2d(x, 2, output_size=5)
    ember.manual_seed(1)
    c = F.fractional_max_pool2d(x, 2, output_size=5)
    assert_close(a, c)
    assert not np.array_equal(to_np(a), to_np(b))
    flat = to_np(x).reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, to_np(ia).reshape(2, 3, -1), 2),
                                  to_np(a).reshape(2, 3, -1))
    rows, cols = np.divmod(to_np(ia), 12)
    assert rows.min() in (0, 1) and rows.max() in (10, 11)
    assert cols.min() in (0, 1) and cols.max() in (10, 11)
    out = F.fractional_max_pool3d(E(distinct(3, 9, 9, 9)), 2, output_ratio=0.5)
    assert out.shape == (3, 4, 4, 4)


# ==== max unpooling ==============================================================================
@pytest.mark.parametrize('nd', (1, 2, 3))
@pytest.mark.parametrize('dtype', DTYPES)
def test_max_unpool_matches_torch_and_round_trips(nd, dtype):
    pool_e, pool_t = both(f'max_pool{nd}d')
    un_e, un_t = both(f'max_unpool{nd}d')
    for shape in shapes(nd):
        x = distinct(*shape, dtype=dtype)
        full = shape if len(shape) == nd + 2 else SPATIAL[nd]    # with batch and channels
        for k, s, p, size in ((2, None, 0, SPATIAL[nd]), (3, 2, 1, SPATIAL[nd]), (2, 2, 0, full)):
            ye, ie = pool_e(E(x), k, s, p, return_indices=True)
            yt, it = pool_t(T(x), k, s, p, return_indices=True)
            check(lambda v: un_e(v, ie, k, s, p, size), lambda v: un_t(v, it, k, s, p, size),
                  to_np(yt))
            if s is None:                               # unpooling puts the maxima back
                back = to_np(un_e(ye, ie, k, output_size=x.shape[len(shape) - nd:]))
                np.testing.assert_array_equal(back[back != 0], x[back != 0])
                assert_close(pool_e(E(back), k), pool_t(T(back), k))


def test_max_unpool_keywords_and_repeated_indices():
    x = distinct(1, 2, 4, 4)
    idx = np.array([[[[0, 0], [5, 15]], [[3, 3], [3, 9]]]], np.int64)
    check(lambda v: F.max_unpool2d(v, E(idx), kernel_size=2, stride=2, output_size=(4, 4)),
          lambda v: TF.max_unpool2d(v, T(idx), kernel_size=2, stride=2, output_size=(4, 4)),
          x[..., :2, :2].copy(), grad=False)


# ==== autograd ===================================================================================
def test_gradcheck_every_op():
    x1, x2, x3 = distinct(2, 2, 7), distinct(1, 2, 6, 5), distinct(1, 1, 4, 5, 4)
    gradcheck(lambda t: F.max_pool1d(t, 3, 2, 1, 1, True), x1)
    gradcheck(lambda t: F.max_pool2d(t, 3, 2, 1, 2, True), x2)
    gradcheck(lambda t: F.max_pool3d(t, 2, 1, 1), x3)
    gradcheck(lambda t: F.avg_pool1d(t, 3, 2, 1, True, False), x1)
    gradcheck(lambda t: F.avg_pool2d(t, 3, 2, 1, True, False, None), x2)
    gradcheck(lambda t: F.avg_pool3d(t, 2, 1, 1, False, True, 3), x3)
    gradcheck(lambda t: F.lp_pool2d(t, 2.5, 2, 1, True), np.abs(x2) + 0.5)
    gradcheck(lambda t: F.lp_pool1d(t, 1, 3), np.abs(x1) + 0.5)
    gradcheck(lambda t: F.adaptive_avg_pool2d(t, (4, 3)), x2)
    gradcheck(lambda t: F.adaptive_avg_pool2d(t, 2), distinct(1, 2, 6, 4))
    gradcheck(lambda t: F.adaptive_avg_pool3d(t, (3, 2, 3)), x3)
    gradcheck(lambda t: F.adaptive_max_pool2d(t, (4, 3)), x2)
    gradcheck(lambda t: F.adaptive_max_pool1d(t, 2), x1[..., :6])
    u2, u3 = ember.rand(1, 2, 2, dtype=ember.float64), ember.rand(1, 1, 3, dtype=ember.float64)
    gradcheck(lambda t: F.fractional_max_pool2d(t, 2, 3, _random_samples=u2), x2)
    gradcheck(lambda t: F.fractional_max_pool3d(t, 2, 2, _random_samples=u3), x3)
    _, idx = F.max_pool2d(E(x2), 2, return_indices=True)
    gradcheck(lambda t: F.max_unpool2d(t, idx, 2), distinct(1, 2, 3, 2))


def test_backward_node_names():
    names = {
        lambda m, x: m.max_pool1d(x, 2): 'SqueezeBackward1',
        lambda m, x: m.max_pool2d(x[None], 2): 'MaxPool2DWithIndicesBackward0',
        lambda m, x: m.max_pool3d(x.reshape(1, 1, 4, 3, 3), 2): 'MaxPool3DWithIndicesBackward0',
        lambda m, x: m.avg_pool2d(x[None], 2): 'AvgPool2DBackward0',
        lambda m, x: m.avg_pool3d(x.reshape(1, 1, 4, 3, 3), 2): 'AvgPool3DBackward0',
        lambda m, x: m.lp_pool2d(x[None], 2, 2): 'PowBackward0',
        lambda m, x: m.adaptive_avg_pool2d(x[None], 4): 'AdaptiveAvgPool2DBackward0',
        lambda m, x: m.adaptive_avg_pool2d(x[None], 1): 'MeanBackward1',
        lambda m, x: m.adaptive_max_pool2d(x[None], 4): 'AdaptiveMaxPool2DBackward0',
        lambda m, x: m.fractional_max_pool2d(x[None], 2, 3): 'FractionalMaxPool2DBackward0',
        lambda m, x: m.max_unpool2d(*m.max_pool2d(x[None], 2, return_indices=True), 2):
            'MaxUnpool2DBackward0',
    }
    for fn, name in names.items():
        xe = ember.arange(36.).reshape(6, 6).requires_grad_()
        xt = torch.arange(36.).reshape(6, 6).requires_grad_()
        assert fn(F, xe).grad_fn.name() == fn(TF, xt).grad_fn.name() == name


# ==== modules ====================================================================================
MODULES = [
    (lambda L: L.nn.MaxPool1d(3, 2, 1, ceil_mode=True), 1),
    (lambda L: L.nn.MaxPool1d(2, return_indices=True), 1),
    (lambda L: L.nn.MaxPool2d(3, 2, 1), 2),
    (lambda L: L.nn.MaxPool2d((2, 3), stride=(1, 2), padding=(1, 1), dilation=2,
                              return_indices=True, ceil_mode=True), 2),
    (lambda L: L.nn.MaxPool3d(2, return_indices=True), 3),
    (lambda L: L.nn.AvgPool1d(3, 2, 1, True, False), 1),
    (lambda L: L.nn.AvgPool2d(2), 2),
    (lambda L: L.nn.AvgPool2d((2, 3), 1, 1, True, False, 3), 2),
    (lambda L: L.nn.AvgPool3d(3, 2, 1, divisor_override=2), 3),
    (lambda L: L.nn.LPPool1d(2, 3), 1),
    (lambda L: L.nn.LPPool2d(1.5, (2, 3), 1, True), 2),
    (lambda L: L.nn.LPPool3d(3, 2), 3),
    (lambda L: L.nn.AdaptiveMaxPool1d(4), 1),
    (lambda L: L.nn.AdaptiveMaxPool2d((None, 3), True), 2),
    (lambda L: L.nn.AdaptiveMaxPool3d(2), 3),
    (lambda L: L.nn.AdaptiveAvgPool1d(4), 1),
    (lambda L: L.nn.AdaptiveAvgPool2d(1), 2),
    (lambda L: L.nn.AdaptiveAvgPool2d((None, 2)), 2),
    (lambda L: L.nn.AdaptiveAvgPool3d((1, 2, 3)), 3),
]


@pytest.mark.parametrize('ctor, nd', MODULES)
@pytest.mark.parametrize('dtype', DTYPES)
def test_modules_match_torch(ctor, nd, dtype):
    for shape in shapes(nd):
        x = np.abs(distinct(*shape)) + 0.1
        check_module(ctor, [x], dtype=dtype)


@pytest.mark.parametrize('nd', (2, 3))
def test_fractional_max_pool_module(nd):
    name = f'FractionalMaxPool{nd}d'
    u = np.random.default_rng(4).uniform(size=(2, 3, nd))
    for kw in (dict(output_size=4), dict(output_ratio=0.5), dict(output_size=(3, 4, 5)[:nd],
                                                                return_indices=True)):
        check_module(lambda L: getattr(L.nn, name)(2, _random_samples=L.tensor(u), **kw),
                     [distinct(2, 3, *(10,) * nd)], dtype=np.float64)
    em = getattr(ember.nn, name)(3, output_ratio=(0.5,) * nd)
    assert repr(em) == repr(getattr(torch.nn, name)(3, output_ratio=(0.5,) * nd))
    assert em(E(distinct(3, *(10,) * nd))).shape == (3,) + (5,) * nd
    with pytest.raises(ValueError, match='requires specifying either an output size'):
        getattr(ember.nn, name)(2)
    with pytest.raises(ValueError, match='only one of output_size and output_ratio'):
        getattr(ember.nn, name)(2, 3, 0.5)
    with pytest.raises(ValueError, match=r'output_ratio must be between 0 and 1 \(got 1.5\)'):
        getattr(ember.nn, name)(2, output_ratio=1.5)


@pytest.mark.parametrize('nd', (1, 2, 3))
def test_max_unpool_modules(nd):
    x = distinct(2, 3, *SPATIAL[nd])
    pe, pt = getattr(ember.nn, f'MaxPool{nd}d')(2, return_indices=True), \
        getattr(torch.nn, f'MaxPool{nd}d')(2, return_indices=True)
    ye, ie = pe(E(x))
    yt, it = pt(T(x))
    size = x.shape[2:]
    check_module(lambda L: getattr(L.nn, f'MaxUnpool{nd}d')(2), [to_np(yt), ie],
                 forward=lambda m, v, i: m(v, ie if isinstance(v, ember.Tensor) else it, size),
                 dtype=np.float64)
    for args in ((2, 1, 0), ((2,) * nd, (1,) * nd, (1,) * nd)):
        em, tm = getattr(ember.nn, f'MaxUnpool{nd}d')(*args), \
            getattr(torch.nn, f'MaxUnpool{nd}d')(*args)
        assert repr(em) == repr(tm)
        assert (em.kernel_size, em.stride, em.padding) == (tm.kernel_size, tm.stride, tm.padding)


REPR_CASES = ['MaxPool1d(2)', 'MaxPool2d(3, 2, 1)', 'MaxPool3d((2, 1, 2), dilation=[1, 2, 1])',
              'MaxPool2d((2, 3), stride=(1, 2), padding=1, dilation=2, return_indices=True, '
              'ceil_mode=True)', 'AvgPool1d(3)', 'AvgPool1d(3, 2, 1, True, False)',
              'AvgPool2d(2)', 'AvgPool2d((2, 3), 1, 1, True, False, 3)',
              'AvgPool3d(2, divisor_override=2)', 'LPPool1d(2, 3)', 'LPPool2d(2., (2, 3), 1, True)',
              'LPPool3d(1, 2)', 'AdaptiveMaxPool1d(3)', 'AdaptiveMaxPool2d((None, 3), True)',
              'AdaptiveMaxPool3d(2)', 'AdaptiveAvgPool1d(3)', 'AdaptiveAvgPool2d(1)',
              'AdaptiveAvgPool2d((None, 2))', 'AdaptiveAvgPool3d((1, 2, 3))',
              'FractionalMaxPool2d(3, output_size=5)',
              'FractionalMaxPool2d((2, 3), output_ratio=(0.5, 0.7))',
              'FractionalMaxPool3d(2, output_ratio=0.5)', 'MaxUnpool2d((2, 3), stride=[1, 2])']


@pytest.mark.parametrize('text', REPR_CASES)
def test_module_repr_and_attributes(text):
    em, tm = eval('ember.nn.' + text), eval('torch.nn.' + text)
    assert repr(em) == repr(tm)
    for name in ('kernel_size', 'stride', 'padding', 'dilation', 'ceil_mode', 'return_indices',
                 'count_include_pad', 'divisor_override', 'norm_type', 'output_size',
                 'output_ratio'):
        assert getattr(em, name, 'absent') == getattr(tm, name, 'absent'), name
    assert list(em.state_dict()) == list(tm.state_dict())


def test_pooling_in_a_model_trains_like_torch():
    ctor = lambda L: L.nn.Sequential(L.nn.Conv2d(2, 4, 3, padding=1), L.nn.ReLU(),  # noqa: E731
                                     L.nn.MaxPool2d(2), L.nn.Conv2d(4, 4, 3), L.nn.AvgPool2d(2),
                                     L.nn.AdaptiveAvgPool2d(1), L.nn.Flatten())
    check_module(ctor, [distinct(2, 2, 12, 12)], dtype=np.float64)


# ==== errors =====================================================================================
ERROR_CASES = [
    ('max_pool2d', 'x4, 3, 1, 2'), ('max_pool2d', 'x4, 0'), ('max_pool2d', 'x4, 2, 0'),
    ('max_pool2d', 'x4, 2, 1, -1'), ('max_pool2d', 'x4, 2, 1, 0, 0'), ('max_pool2d', 'x4, 20'),
    ('max_pool2d', 'x2, 2'), ('max_pool2d', 'x5, 2'), ('max_pool2d', 'x4, (2, 2, 2)'),
    ('max_pool2d', 'x4, 2.5'), ('max_pool2d', 'x4, (2, 2.5)'), ('max_pool2d', 'x4, (2.5, 2)'),
    ('max_pool2d', 'x4, 2, 2, (1, 1.5)'), ('avg_pool1d', 'x3, (2, 2.5)'),
    ('max_pool3d', 'x5, (2, 2, 2.5)'), ('adaptive_avg_pool2d', 'x4, (2, 2.5)'),
    ('max_unpool2d', 'y4, i4, 2, (2, 2.5)'), ('max_unpool1d', 'y3, i3, 2.5'),
    ('max_pool2d', 'x4.bool(), 2'),
    ('max_pool1d', 'x3, 2, 1, 2'), ('max_pool1d', 'x3, 20'), ('max_pool1d', 'x4, 2'),
    ('max_pool1d', 'x1, 2'), ('max_pool1d', 'x3, (2, 2)'), ('max_pool1d', 'x3g, 2, 1, 2'),
    ('max_pool1d', 'x3g, 20'), ('max_pool1d', 'x3, 0'), ('max_pool1d', 'x3, 2, 0'),
    ('max_pool1d', 'x3, 2, 1, 0, 0'), ('max_pool1d', 'x3.long(), 2'),
    ('max_pool3d', 'x5, 20'), ('max_pool3d', 'x5, 3, 1, 2'),
    ('max_pool3d', 'x6, 2'), ('max_pool3d', 'x5[:, :0], 2'),
    ('avg_pool2d', 'x4, 3, 1, 2'), ('avg_pool2d', 'x4, 20'), ('avg_pool2d', 'x5, 2'),
    ('avg_pool2d', 'x4, 2, divisor_override=0'), ('avg_pool2d', 'x4.int(), 2'),
    ('avg_pool1d', 'x3, 20'), ('avg_pool1d', 'x4, 2'), ('avg_pool1d', 'x3, 3, 1, 2'),
    ('avg_pool1d', 'x3, (2, 2)'), ('avg_pool3d', 'x5, 20'), 
    ('avg_pool3d', 'x5, 3, 1, 2'), ('avg_pool3d', 'x5, (2, 2)'), ('avg_pool3d', 'x5.half(), 2'),
    ('lp_pool2d', 'x4, 2, 20'), ('lp_pool1d', 'x4, 2, 2'), ('lp_pool2d', 'x4.int(), 2, 2'),
    ('adaptive_avg_pool2d', 'x5, 2'), ('adaptive_avg_pool2d', 'x4, (2, 2, 2)'),
    ('adaptive_avg_pool2d', 'x4, -1'), ('adaptive_avg_pool2d', 'x4, 2.0'),
    ('adaptive_avg_pool1d', 'x4, 2'), ('adaptive_avg_pool1d', 'x3, (2, 2)'),
('adaptive_max_pool2d', 'x5, 2'),
    ('adaptive_max_pool2d', 'x4, (2, 2, 2)'), ('adaptive_max_pool2d', 'x4, -1'),
    ('adaptive_max_pool1d', 'x4, 2'),
    ('adaptive_max_pool2d', 'x4[:, :0], 2'),
    ('adaptive_max_pool2d', 'x4.long(), 2'),
    ('max_unpool2d', 'y4, i4.float(), 2'), ('max_unpool2d', 'y4, i4, 2, output_size=(11, 11)'),
    ('max_unpool2d', 'y4, i4, 2, output_size=(1, 2, 3)'), ('max_unpool2d', 'y4, i4[:, :1], 2'),
    ('max_unpool2d', 'y4, i4 + 1000, 2'), ('max_unpool1d', 'y3, i3 + 1000, 2'),
    ('max_unpool3d', 'y5, i5 + 1000, 2'), ('max_unpool2d', 'y5, i5, 2'),
    ('fractional_max_pool2d', 'x4, 2'), ('fractional_max_pool2d', 'x4, 2, output_size=(2, 2, 2)'),
    ('fractional_max_pool2d', 'x4, 7, output_size=4'), ('fractional_max_pool2d', 'x5, 2, 2'),
    ('fractional_max_pool3d', 'x4, 2, output_size=2'),
    ('fractional_max_pool3d', 'x5, 2, output_size=5'),
    ('fractional_max_pool2d', 'x4, 2, 2, _random_samples=L.rand(1, 3, 2)'),
    ('fractional_max_pool2d', 'x4, 2, 2, _random_samples=L.rand(2, 2, 2)'),
    ('fractional_max_pool2d', 'x4, 2, 2, _random_samples=L.rand(2, 3, 3)'),
    ('fractional_max_pool2d', 'x4, 2, output_ratio=0.5'),
]


def _error_env(L, Fn):
    env = dict(L=L, x1=L.ones(8), x2=L.ones(4, 8), x3=L.ones(2, 3, 8), x4=L.ones(2, 3, 8, 8),
               x5=L.ones(2, 3, 6, 6, 6), x6=L.ones(1, 2, 3, 6, 6, 6),
               x3g=L.ones(2, 3, 8).requires_grad_())
    env['y4'], env['i4'] = Fn.max_pool2d(L.arange(384.).reshape(2, 3, 8, 8), 2,
                                         return_indices=True)
    env['y3'], env['i3'] = Fn.max_pool1d(env['x3'], 2, return_indices=True)
    env['y5'], env['i5'] = Fn.max_pool3d(env['x5'], 2, return_indices=True)
    return env


@pytest.mark.parametrize('fn, args', ERROR_CASES)
def test_errors_match_torch(fn, args):
    with pytest.raises(Exception) as expected:
        eval(f'F.{fn}({args})', dict(_error_env(torch, TF), F=TF))
    with pytest.raises(type(expected.value)) as got:
        eval(f'F.{fn}({args})', dict(_error_env(ember, F), F=F))
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize('fn, args', [
    ('max_pool3d', 'x4, 2'), ('avg_pool3d', 'x4, 2'), ('adaptive_avg_pool3d', 'x4, 2'),
    ('adaptive_max_pool3d', 'x4, (2, 1, 3)'), ('adaptive_avg_pool2d', 'x4[:, :0], 2'),
    ('max_pool2d', 'x4, (L.tensor(2), 2), []'), ('max_pool1d', 'x3, 2, ()'),
    ('avg_pool2d', 'x4, 2, 1, 1, True'), ('lp_pool2d', 'x4, 2, 2, 1')])
def test_unusual_arguments_accepted_like_torch(fn, args):
    """4-d inputs of 3-d pooling are unbatched; empty strides mean the kernel; 0-d integer
    tensors count as ints."""
    out_t = eval(f'F.{fn}({args})', dict(_error_env(torch, TF), F=TF))
    assert_close(eval(f'F.{fn}({args})', dict(_error_env(ember, F), F=F)), out_t)


@pytest.mark.parametrize('threads', [1, 2])
def test_planes_split_across_threads_match_torch(monkeypatch, threads):
    """Large inputs are split into blocks of planes over ember's threads; force the split on a
    small input and compare forward and backward with torch."""
    from ember.ops import pooling
    monkeypatch.setattr(pooling, 'PARALLEL_BYTES', 0)
    monkeypatch.setattr(pooling, '_BLOCK_BYTES', 64)
    old = ember.get_num_threads()
    ember.set_num_threads(threads)
    try:
        x = np.random.default_rng(3).standard_normal((3, 4, 9, 10)).astype(np.float32)
        for make in (lambda L: L.nn.MaxPool2d(3, 2, 1), lambda L: L.nn.AvgPool2d(2)):
            check_module(make, [x])
    finally:
        ember.set_num_threads(old)
