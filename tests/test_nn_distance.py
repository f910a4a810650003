"""F.normalize, F.cosine_similarity, F.pairwise_distance, F.pdist, cdist and the
CosineSimilarity / PairwiseDistance layers against torch."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as F
from ember.ops.distance import cdist
from tests.helpers import E, T, check, gradcheck, noncontig, rand, to_np
from tests.helpers_nn import check_module

INF = float('inf')
P_NORMS = [2, 1, 3, 0.5, INF, -INF, 0, -1]
P_DISTANCES = [2, 1, 3, 0.5, INF, 0]


def _same_error(fn_e, fn_t):
    """Both raise the same exception type with the same message."""
    with pytest.raises(Exception) as expected:
        fn_t()
    with pytest.raises(type(expected.value)) as got:
        fn_e()
    assert str(got.value) == str(expected.value)


def _with_small_rows(x):
    """Rows of zeros and of norms far below the default eps values."""
    x = x.copy()
    x[1] = 0
    x[2] *= 1e-13
    return x


# ---- normalize --------------------------------------------------------------------------
@pytest.mark.parametrize('p', P_NORMS)
@pytest.mark.parametrize('dim', [1, 0, -1, (0, 1), None])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_normalize(p, dim, dtype):
    x = _with_small_rows(rand(4, 5, dtype=dtype, seed=1))
    x[3, 1] = -x[3, 0]          # a tie for the inf norms
    check(lambda t: F.normalize(t, p, dim), lambda t: TF.normalize(t, p, dim), x)


@pytest.mark.parametrize('kwargs', [{}, {'eps': 1e-3}, {'eps': 0.5, 'p': 1}, {'dim': 2},
                                    {'dim': -2, 'p': 3}, {'eps': -1}, {'p': 'fro'}])
def test_normalize_options(kwargs):
    x = noncontig(rand(3, 4, 5, seed=2))
    x[0, 1] *= 1e-4
    check(lambda t: F.normalize(t, **kwargs), lambda t: TF.normalize(t, **kwargs), x)


@pytest.mark.parametrize('shape,dim', [((), 0), ((), -1), ((3,), 0), ((0, 3), 1), ((3, 0), 1)])
def test_normalize_small_shapes(shape, dim):
    check(lambda t: F.normalize(t, dim=dim), lambda t: TF.normalize(t, dim=dim),
          rand(*shape, seed=3))


def test_normalize_gradient_at_and_below_eps():
    """Below eps the denominator is eps (no gradient through the norm); at or above it is the
    norm."""
    x = np.array([[3e-13, 4e-13], [6e-13, 8e-13], [0.0, 0.0], [3.0, 4.0]])
    check(lambda t: F.normalize(t), lambda t: TF.normalize(t), x)
    gradcheck(lambda t: F.normalize(t, p=3, dim=0), rand(3, 4, dtype=np.float64, seed=4))
    gradcheck(lambda t: F.normalize(t), rand(3, 4, dtype=np.float64, seed=5))


def test_normalize_out_and_float16():
    out = ember.empty(2, 3)
    r = F.normalize(ember.ones(2, 3), out=out)
    assert r is out
    np.testing.assert_allclose(to_np(out), to_np(TF.normalize(torch.ones(2, 3))))
    x = rand(2, 3, seed=31)
    e = F.normalize(E(x).half())
    assert e.dtype == ember.float16
    np.testing.assert_allclose(to_np(e), to_np(TF.normalize(T(x).half())), rtol=1e-3)
    assert repr(F.normalize(E(rand(2, 3), True)).grad_fn).startswith('<DivBackward0')


@pytest.mark.parametrize('call', [
    lambda lib, F: F.normalize(lib.arange(3)),
    lambda lib, F: F.normalize(lib.zeros(2, 3), dim=2),
    lambda lib, F: F.normalize(lib.zeros(2, 3), dim=(0, 0)),
    lambda lib, F: F.normalize(lib.zeros(3, 0), p=INF),
    lambda lib, F: F.normalize(lib.zeros(3, 0), p=-INF, dim=None),
    lambda lib, F: F.normalize(lib.zeros(3, 0), p=-1e-5),
    lambda lib, F: F.normalize(lib.ones(2, 3, requires_grad=True), out=lib.empty(2, 3)),
])
def test_normalize_errors(call):
    _same_error(lambda: call(ember, F), lambda: call(torch, TF))


# ---- cosine similarity ------------------------------------------------------------------
@pytest.mark.parametrize('s1,s2,dim', [
    ((4, 5), (4, 5), 1), ((4, 5), (4, 5), 0), ((4, 5), (5,), -1), ((4, 1), (4, 5), 1),
    ((3, 4, 5), (4, 5), 2), ((3, 4, 5), (3, 1, 5), 1), ((5,), (5,), 0), ((), (), 0),
    ((0, 3), (0, 3), 1), ((3, 0), (3, 0), 1),
])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_cosine_similarity(s1, s2, dim, dtype):
    a, b = rand(*s1, dtype=dtype, seed=6), rand(*s2, dtype=dtype, seed=7)
    out_e, out_t = check(lambda x, y: F.cosine_similarity(x, y, dim),
                         lambda x, y: TF.cosine_similarity(x, y, dim), a, b)
    if out_t.grad_fn is not None:
        assert out_e.grad_fn.name() == out_t.grad_fn.name()


@pytest.mark.parametrize('eps', [1e-8, 1e-3, 0.5])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_cosine_similarity_near_zero(eps, dtype):
    """Norms below eps (one or both vectors), exact zeros and equal vectors."""
    a = rand(6, 4, dtype=dtype, seed=8)
    b = rand(6, 4, dtype=dtype, seed=9)
    a[0] = 0
    a[1] *= 1e-9
    b[1] *= 1e-9
    b[2] *= 1e-10
    a[3] *= 1e-4
    b[4] = 2 * a[4]
    a[5] = b[5] = 0
    check(lambda x, y: F.cosine_similarity(x, y, eps=eps),
          lambda x, y: TF.cosine_similarity(x, y, eps=eps), a, b)


def test_cosine_similarity_dtypes_and_gradcheck():
    # torch rounds the float32 input's normalisation in float32 first: agreement to ~1e-7
    check(lambda x, y: F.cosine_similarity(x, y, 0), lambda x, y: TF.cosine_similarity(x, y, 0),
          rand(3, dtype=np.float64), rand(3), rtol=1e-6, atol=1e-7)
    e = F.cosine_similarity(ember.arange(3), ember.arange(3.0), dim=0)
    assert e.dtype == ember.float32
    a, b = rand(3, 4, seed=32), rand(3, 4, seed=33)
    h = F.cosine_similarity(E(a).half(), E(b).half())
    assert h.dtype == ember.float16
    np.testing.assert_allclose(to_np(h), to_np(TF.cosine_similarity(T(a).half(), T(b).half())),
                               rtol=2e-3, atol=1e-3)
    # (below eps PyTorch's gradient is not the derivative: checked against torch above)
    gradcheck(lambda a, b: F.cosine_similarity(a, b), rand(3, 4, dtype=np.float64, seed=10),
              rand(4, dtype=np.float64, seed=11))
    gradcheck(lambda a, b: F.cosine_similarity(a, b, dim=0, eps=0.1),
              rand(3, 4, dtype=np.float64, seed=12), rand(3, 1, dtype=np.float64))


@pytest.mark.parametrize('call', [
    lambda lib, F: F.cosine_similarity(lib.zeros(4, 3), lib.zeros(4, 2)),
    lambda lib, F: F.cosine_similarity(lib.zeros(3), lib.zeros(3)),
    lambda lib, F: F.cosine_similarity(lib.zeros(2, 3), lib.zeros(2, 3), dim=(0, 1)),
    lambda lib, F: F.cosine_similarity(lib.arange(3), lib.arange(3), dim=0),
    lambda lib, F: F.cosine_similarity(lib.zeros(3, dtype=lib.bool), lib.zeros(3, dtype=lib.bool),
                                       dim=0),
])
def test_cosine_similarity_errors(call):
    _same_error(lambda: call(ember, F), lambda: call(torch, TF))


# ---- pairwise distance ------------------------------------------------------------------
@pytest.mark.parametrize('p', P_DISTANCES + [-1])
@pytest.mark.parametrize('s1,s2', [((4, 5), (4, 5)), ((4, 5), (5,)), ((2, 4, 5), (4, 1)),
                                   ((5,), (5,)), ((), ()), ((0, 3), (0, 3)), ((2, 0), (2, 0))])
@pytest.mark.parametrize('keepdim', [False, True])
def test_pairwise_distance(p, s1, s2, keepdim):
    if (p == INF or p < 0) and s1 == (2, 0):
        return          # an error (test_pairwise_distance_errors)
    for dtype in (np.float32, np.float64):
        a, b = rand(*s1, dtype=dtype, seed=13), rand(*s2, dtype=dtype, seed=14)
        out_e, out_t = check(lambda x, y: F.pairwise_distance(x, y, p, keepdim=keepdim),
                             lambda x, y: TF.pairwise_distance(x, y, p, keepdim=keepdim), a, b)
        assert out_e.grad_fn.name() == out_t.grad_fn.name()


def test_pairwise_distance_eps_ties_and_dtypes():
    a = np.array([[1.0, 2.0, 5.0], [1.0, 2.0, 3.0]])
    b = np.array([[3.0, 4.0, 5.0], [1.0, 2.0, 3.0]])
    for p in (INF, 2, 1):
        for eps in (0.0, 1e-6, 0.5):
            check(lambda x, y: F.pairwise_distance(x, y, p, eps),
                  lambda x, y: TF.pairwise_distance(x, y, p, eps), a, b)
    check(lambda x, y: F.pairwise_distance(x, y), lambda x, y: TF.pairwise_distance(x, y),
          rand(3, 4), rand(3, 4, dtype=np.float64))
    check(lambda x, y: F.pairwise_distance(x, y), lambda x, y: TF.pairwise_distance(x, y),
          np.arange(6).reshape(2, 3), np.arange(6, dtype=np.int32).reshape(2, 3))
    gradcheck(lambda x, y: F.pairwise_distance(x, y, 3), rand(3, 4, dtype=np.float64),
              rand(4, dtype=np.float64, seed=15))
    gradcheck(lambda x, y: F.pairwise_distance(x, y, 2, keepdim=True),
              rand(2, 3, 4, dtype=np.float64), rand(3, 4, dtype=np.float64, seed=16))


@pytest.mark.parametrize('call', [
    lambda lib, F: F.pairwise_distance(lib.zeros(4, 3), lib.zeros(4, 2)),
    lambda lib, F: F.pairwise_distance(lib.zeros(4, 3), lib.zeros(5, 3)),
    lambda lib, F: F.pairwise_distance(lib.zeros(3, dtype=lib.bool), lib.zeros(3, dtype=lib.bool)),
    lambda lib, F: F.pairwise_distance(lib.zeros(2, 0), lib.zeros(2, 0), p=INF),
    lambda lib, F: F.pairwise_distance(lib.zeros(0), lib.zeros(0), p=-INF),
    lambda lib, F: F.pairwise_distance(lib.zeros(3, 0), lib.zeros(0), p=-0.5),
])
def test_pairwise_distance_errors(call):
    _same_error(lambda: call(ember, F), lambda: call(torch, TF))


# ---- pdist ------------------------------------------------------------------------------
@pytest.mark.parametrize('p', P_DISTANCES)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_pdist(p, dtype):
    x = rand(7, 3, dtype=dtype, seed=17)
    x[1] = x[0]                 # a zero distance
    x[2, 0] = x[3, 0]           # a zero difference
    x[4] = x[5] + 1e-3          # a close pair (recomputed from its difference for p = 2)
    out_e, out_t = check(lambda t: F.pdist(t, p), lambda t: TF.pdist(t, p), x)
    assert out_e.grad_fn.name() == out_t.grad_fn.name()


@pytest.mark.parametrize('shape', [(1, 3), (0, 3), (4, 0), (2, 5)])
def test_pdist_shapes(shape):
    x = rand(*shape, seed=18)
    if shape[0]:
        check(lambda t: F.pdist(t), lambda t: TF.pdist(t), x)
        return
    check(lambda t: F.pdist(t), lambda t: TF.pdist(t), x, grad=False)  # torch's backward crashes
    e = E(x, True)
    F.pdist(e).sum().backward()
    assert e.grad.shape == e.shape


def test_pdist_offset_data_and_blocks(monkeypatch):
    """Points far from the origin (centred before the Gram products) and several row blocks."""
    import ember.ops.distance as D
    monkeypatch.setattr(D, '_BLOCK', 64)
    x = rand(20, 4, dtype=np.float64, seed=19) + 1000.0
    for p in (2, 1, INF):
        check(lambda t: F.pdist(t, p), lambda t: TF.pdist(t, p), x, rtol=1e-9, atol=1e-9)
    check(lambda t: F.pdist(t.t()), lambda t: TF.pdist(t.t()), rand(4, 9, seed=20))
    gradcheck(lambda t: F.pdist(t), rand(6, 3, dtype=np.float64, seed=21))
    gradcheck(lambda t: F.pdist(t, 3), rand(6, 3, dtype=np.float64, seed=22))


@pytest.mark.parametrize('call', [
    lambda lib, F: F.pdist(lib.zeros(3)),
    lambda lib, F: F.pdist(lib.zeros(2, 3, 4)),
    lambda lib, F: F.pdist(lib.zeros(3, 3, dtype=lib.int64)),
    lambda lib, F: F.pdist(lib.zeros(3, 3, dtype=lib.float16)),
    lambda lib, F: F.pdist(lib.zeros(3, 3), p=-1),
])
def test_pdist_errors(call):
    _same_error(lambda: call(ember, F), lambda: call(torch, TF))


# ---- cdist ------------------------------------------------------------------------------
@pytest.mark.parametrize('p', P_DISTANCES)
@pytest.mark.parametrize('s1,s2', [((5, 3), (4, 3)), ((2, 5, 3), (4, 3)),
                                   ((2, 1, 5, 3), (3, 4, 3)), ((30, 3), (4, 3)),
                                   ((0, 3), (4, 3)), ((2, 0), (3, 0))])
def test_cdist(p, s1, s2):
    for dtype in (np.float32, np.float64):
        a, b = rand(*s1, dtype=dtype, seed=23), rand(*s2, dtype=dtype, seed=24)
        rtol = 1e-4 if dtype == np.float32 and p == 2 and s1[-2] > 25 else None
        out_e, out_t = check(lambda x, y: cdist(x, y, p), lambda x, y: torch.cdist(x, y, p),
                             a, b, rtol=rtol, atol=rtol)
        assert out_e.grad_fn.name() == out_t.grad_fn.name() or out_t.grad_fn.name() in (
            'ViewBackward0', 'UnsafeViewBackward0')


@pytest.mark.parametrize('mode', ['use_mm_for_euclid_dist', 'donot_use_mm_for_euclid_dist'])
def test_cdist_compute_modes(mode):
    a, b = rand(4, 3, dtype=np.float64, seed=25), rand(6, 3, dtype=np.float64, seed=26)
    b[0] = a[0]
    check(lambda x, y: cdist(x, y, compute_mode=mode),
          lambda x, y: torch.cdist(x, y, compute_mode=mode), a, b, rtol=1e-9, atol=1e-9)
    gradcheck(lambda x, y: cdist(x, y, 1.5), a, b + 0.1)
    gradcheck(lambda x, y: cdist(x, y, compute_mode=mode), a, b + 0.1)


@pytest.mark.parametrize('call', [
    lambda lib: lib.cdist(lib.zeros(5, 3), lib.zeros(4, 3), compute_mode='foo'),
    lambda lib: lib.cdist(lib.zeros(3), lib.zeros(4, 3)),
    lambda lib: lib.cdist(lib.zeros(3, 3), lib.zeros(4)),
    lambda lib: lib.cdist(lib.zeros(3, 3), lib.zeros(4, 2)),
    lambda lib: lib.cdist(lib.zeros(3, 3), lib.zeros(4, 3, dtype=lib.int64)),
    lambda lib: lib.cdist(lib.zeros(3, 3), lib.zeros(4, 3), p=-1),
    lambda lib: lib.cdist(lib.zeros(3, 3, dtype=lib.float64), lib.zeros(4, 3)),
    lambda lib: lib.cdist(lib.zeros(3, 3, dtype=lib.float16), lib.zeros(4, 3, dtype=lib.float16)),
    lambda lib: lib.cdist(lib.zeros(2, 3, 3), lib.zeros(3, 4, 3)),
])
def test_cdist_errors(call):
    class Lib:              # ember's cdist lives in ember.ops.distance
        def __getattr__(self, name):
            return cdist if name == 'cdist' else getattr(ember, name)
    _same_error(lambda: call(Lib()), lambda: call(torch))


# ---- modules ----------------------------------------------------------------------------
@pytest.mark.parametrize('args,kwargs', [((), {}), ((0,), {}), ((-1, 1e-3), {}),
                                         ((), {'dim': 2, 'eps': 0.5})])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_cosine_similarity_layer(args, kwargs, dtype):
    a, b = rand(3, 4, 5, seed=27), rand(3, 4, 5, seed=28)
    a[0, 0] *= 1e-9
    check_module(lambda L: L.nn.CosineSimilarity(*args, **kwargs), [a, b], dtype=dtype)
    check_module(lambda L: L.nn.CosineSimilarity(*args, **kwargs), [a, b[0]], dtype=dtype)


@pytest.mark.parametrize('args,kwargs', [((), {}), ((1,), {}), ((INF, 1e-3, True), {}),
                                         ((), {'p': 3, 'keepdim': True})])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_pairwise_distance_layer(args, kwargs, dtype):
    a, b = rand(4, 5, seed=29), rand(4, 5, seed=30)
    check_module(lambda L: L.nn.PairwiseDistance(*args, **kwargs), [a, b], dtype=dtype)
    check_module(lambda L: L.nn.PairwiseDistance(*args, **kwargs), [a[0], b[0]], dtype=dtype)


def test_layer_attributes():
    for lib in (ember, torch):
        c = lib.nn.CosineSimilarity(0, 1e-3)
        d = lib.nn.PairwiseDistance(1, 1e-3, True)
        assert (c.dim, c.eps, d.norm, d.eps, d.keepdim) == (0, 1e-3, 1, 1e-3, True)
        assert repr(c) == 'CosineSimilarity()' and repr(d) == 'PairwiseDistance()'


@pytest.mark.cuda
def test_distances_cuda():
    a, b = rand(6, 5, seed=34), rand(6, 5, seed=35)
    calls = [(lambda x, y: F.normalize(x), lambda x, y: TF.normalize(x)),
             (F.cosine_similarity, TF.cosine_similarity),
             (F.pairwise_distance, TF.pairwise_distance),
             (lambda x, y: F.pdist(x), lambda x, y: TF.pdist(x)),
             (lambda x, y: F.pdist(x, 1), lambda x, y: TF.pdist(x, 1)),
             (lambda x, y: cdist(x, y, 1), lambda x, y: torch.cdist(x, y, 1)),
             (lambda x, y: cdist(x[:, None], y, compute_mode='use_mm_for_euclid_dist'),
              lambda x, y: torch.cdist(x[:, None], y, compute_mode='use_mm_for_euclid_dist'))]
    for fe, ft in calls:
        xe = ember.tensor(a, device='cuda', requires_grad=True)
        ye = ember.tensor(b, device='cuda', requires_grad=True)
        xt, yt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        oe, ot = fe(xe, ye), ft(xt, yt)
        oe.sum().backward()
        ot.sum().backward()
        assert oe.device.type == 'cuda'
        np.testing.assert_allclose(to_np(oe), to_np(ot), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(to_np(xe.grad), to_np(xt.grad), rtol=1e-4, atol=1e-5)
