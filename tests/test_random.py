"""Random numbers: distributions (statistics on large samples), seeding and reproducibility,
Generator objects and their state, keywords, in-place samplers and errors against torch."""
import subprocess
import sys

import numpy as np
import pytest
import torch

import ember
from tests.helpers import E, T, assert_close, to_np

N = 200_000


def same_error(fe, ft):
    """ember raises the exception class and message (with 'torch' for 'ember') torch raises."""
    with pytest.raises(Exception) as te:
        ft()
    with pytest.raises(Exception) as ee:
        fe()
    for cls in (NotImplementedError, IndexError, TypeError, ValueError, RuntimeError):
        if isinstance(te.value, cls):
            assert isinstance(ee.value, cls), (type(ee.value), type(te.value))
            break
    assert str(ee.value).replace('ember', 'torch') == str(te.value), (str(ee.value),
                                                                         str(te.value))


def moments(t):
    a = to_np(t).astype(np.float64)
    return a.mean(), a.var()


# ---- distributions ----------------------------------------------------------------------
@pytest.mark.parametrize('dtype', [ember.float32, ember.float64, ember.float16])
def test_rand_uniform(dtype):
    x = ember.rand(N, dtype=dtype)
    assert x.dtype is dtype and x.shape == (N,)
    a = to_np(x)
    assert a.min() >= 0 and a.max() < 1
    m, v = moments(x)
    assert abs(m - 0.5) < 0.01 and abs(v - 1 / 12) < 0.005


@pytest.mark.parametrize('dtype', [ember.float32, ember.float64])
def test_randn_normal(dtype):
    x = ember.randn(400, 500, dtype=dtype)
    assert x.dtype is dtype and x.shape == (400, 500)
    m, v = moments(x)
    assert abs(m) < 0.01 and abs(v - 1) < 0.01


def test_default_dtype_follows_set_default_dtype():
    ember.set_default_dtype(ember.float64)
    assert ember.rand(3).dtype is ember.float64 and ember.randn(3).dtype is ember.float64


@pytest.mark.parametrize('low,high', [(0, 7), (-5, 3), (10, 11), (0, 2 ** 40)])
def test_randint_bounds(low, high):
    x = ember.randint(low, high, (N,))
    assert x.dtype is ember.int64
    a = to_np(x)
    assert a.min() >= low and a.max() < high
    if high - low <= 8:
        assert set(a.tolist()) == set(range(low, high))
    m, _ = moments(x)
    assert abs(m - (low + high - 1) / 2) < 0.01 * (high - low) + 0.01


def test_randint_overloads_and_dtypes():
    assert ember.randint(5, (3, 2)).shape == (3, 2)
    assert ember.randint(high=5, size=(4,)).shape == (4,)
    assert ember.randint(low=2, high=5, size=[4]).shape == (4,)
    assert ember.randint(0, 2, (10,), dtype=ember.bool).dtype is ember.bool
    f = ember.randint(0, 10, (1000,), dtype=ember.float32)
    assert f.dtype is ember.float32 and (to_np(f) == np.round(to_np(f))).all()
    u = ember.randint(0, 256, (1000,), dtype=ember.uint8)
    assert u.dtype is ember.uint8 and to_np(u).max() > 200
    like = ember.randint_like(E(np.zeros((2, 3), np.float32)), 3, 10)
    assert like.dtype is ember.float32 and like.shape == (2, 3)
    assert 3 <= to_np(like).min() and to_np(like).max() < 10
    assert to_np(ember.randint_like(E(np.zeros(100, np.int32)), 4)).max() < 4


@pytest.mark.parametrize('n', [0, 1, 10, 1000])
def test_randperm_is_a_permutation(n):
    p = ember.randperm(n)
    assert p.dtype is ember.int64
    assert sorted(to_np(p).tolist()) == list(range(n))
    assert ember.randperm(n, dtype=ember.float32).dtype is ember.float32


def test_randperm_is_shuffled():
    p = to_np(ember.randperm(1000))
    assert (p != np.arange(1000)).mean() > 0.9


def test_normal_overloads():
    m = E(np.linspace(-3, 3, 6).astype(np.float32))
    s = E(np.linspace(0.5, 2, 6).astype(np.float32))
    reps = 40_000
    big_m = E(np.tile(np.linspace(-3, 3, 6), (reps, 1)).astype(np.float32))
    big_s = E(np.tile(np.linspace(0.5, 2, 6), (reps, 1)).astype(np.float32))
    x = to_np(ember.normal(big_m, big_s))
    np.testing.assert_allclose(x.mean(0), np.linspace(-3, 3, 6), atol=0.05)
    np.testing.assert_allclose(x.std(0), np.linspace(0.5, 2, 6), rtol=0.03)
    y = to_np(ember.normal(big_m, 2.0))
    np.testing.assert_allclose(y.std(0), 2.0, rtol=0.03)
    z = to_np(ember.normal(1.5, big_s))
    np.testing.assert_allclose(z.mean(0), 1.5, atol=0.05)
    w = ember.normal(-1.0, 3.0, (N,))
    mean, var = moments(w)
    assert abs(mean + 1) < 0.03 and abs(var - 9) < 0.15
    assert ember.normal(0.0, 1.0, size=[3, 2]).shape == (3, 2)
    assert ember.normal(E(np.zeros((2, 1))), E(np.ones(3))).shape == (2, 3)
    assert ember.normal(m, s).dtype is ember.float32
    assert ember.normal(0.0, 1.0, (3,), dtype=ember.float64).dtype is ember.float64
    assert (to_np(ember.normal(E(np.zeros(3)), 0.0)) == 0).all()


def test_normal_gradients_are_zero_like_torch():
    for fn in (lambda mod, m, s: mod.normal(m, s), lambda mod, m, s: mod.normal(m, 2.0),
               lambda mod, m, s: mod.normal(1.0, s)):
        me, se = E(np.zeros(3), True), E(np.ones(3), True)
        mt, st = T(np.zeros(3), True), T(np.ones(3), True)
        oe, ot = fn(ember, me, se), fn(torch, mt, st)
        assert oe.grad_fn.name() == ot.grad_fn.name()
        oe.sum().backward()
        ot.sum().backward()
        for a, b in ((me, mt), (se, st)):
            if b.grad is None:
                assert a.grad is None
            else:
                assert_close(a.grad, b.grad)


@pytest.mark.parametrize('p', [0.0, 0.2, 0.5, 1.0])
def test_bernoulli_frequencies(p):
    probs = E(np.full(N, p, np.float32))
    x = ember.bernoulli(probs)
    assert x.dtype is ember.float32
    a = to_np(x)
    assert set(np.unique(a).tolist()) <= {0.0, 1.0}
    assert abs(a.mean() - p) < 0.005
    assert abs(to_np(ember.bernoulli(E(np.zeros(N)), p=p)).mean() - p) < 0.005
    assert abs(to_np(probs.bernoulli()).mean() - p) < 0.005


def test_bernoulli_elementwise_probabilities_and_grad():
    p = np.tile(np.array([0.1, 0.5, 0.9]), (50_000, 1))
    x = to_np(ember.bernoulli(E(p)))
    np.testing.assert_allclose(x.mean(0), [0.1, 0.5, 0.9], atol=0.01)
    pe, pt = E(np.full(3, 0.5), True), T(np.full(3, 0.5), True)
    oe, ot = ember.bernoulli(pe), torch.bernoulli(pt)
    assert oe.grad_fn.name() == ot.grad_fn.name() == 'BernoulliBackward0'
    oe.sum().backward()
    ot.sum().backward()
    assert_close(pe.grad, pt.grad)


def test_multinomial_with_replacement_frequencies():
    w = np.array([1.0, 0.0, 3.0, 6.0])
    x = ember.multinomial(E(w), N, replacement=True)
    assert x.dtype is ember.int64 and x.shape == (N,)
    counts = np.bincount(to_np(x), minlength=4) / N
    np.testing.assert_allclose(counts, w / w.sum(), atol=0.005)
    rows = ember.multinomial(E(np.array([[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 1.0]])), 1000, True)
    r = to_np(rows)
    assert (r[0] == 0).all() and (r[1] == 2).all() and set(r[2].tolist()) == {1, 2}


def test_multinomial_without_replacement():
    w = E(np.array([[1.0, 2, 3, 4, 5], [5, 4, 3, 2, 1]]))
    for _ in range(20):
        s = to_np(ember.multinomial(w, 5))
        for row in s:
            assert sorted(row.tolist()) == [0, 1, 2, 3, 4]
    first = to_np(ember.multinomial(E(np.array([1.0, 2, 3, 4])).expand(N // 4, 4), 2))
    freq = np.bincount(first[:, 0], minlength=4) / len(first)
    np.testing.assert_allclose(freq, np.array([1, 2, 3, 4]) / 10, atol=0.01)
    assert (first[:, 0] != first[:, 1]).all()
    # a zero weight is drawn only once the others are used up (as torch)
    assert to_np(ember.multinomial(E(np.array([1.0, 0, 0])), 1)).tolist() == [0]
    assert sorted(to_np(ember.multinomial(E(np.array([1.0, 0, 2])), 3)).tolist()[:2]) == [0, 2]


def test_multinomial_noncontiguous_and_method():
    w = E(np.ones((5, 2)).T.copy())
    assert w.multinomial(2).shape == (2, 2)


@pytest.mark.parametrize('lam', [0.5, 4.0, 30.0])
def test_poisson(lam):
    x = ember.poisson(E(np.full(N, lam, np.float32)))
    assert x.dtype is ember.float32
    m, v = moments(x)
    assert abs(m - lam) < 0.02 * lam + 0.01 and abs(v - lam) < 0.05 * lam + 0.01
    assert ember.poisson(E(np.zeros(0))).shape == (0,)
    pe, pt = E(np.full(3, 2.0), True), T(np.full(3, 2.0), True)
    oe, ot = ember.poisson(pe), torch.poisson(pt)
    assert oe.grad_fn.name() == ot.grad_fn.name()


# ---- in-place samplers ----------------------------------------------------------------------
def test_uniform_and_normal_inplace():
    x = ember.empty(N).uniform_(-2, 3)
    a = to_np(x)
    assert a.min() >= -2 and a.max() < 3 and abs(a.mean() - 0.5) < 0.02
    assert abs(a.var() - 25 / 12) < 0.03
    y = ember.empty(N, dtype=ember.float64).normal_(2, 0.5)
    m, v = moments(y)
    assert abs(m - 2) < 0.01 and abs(v - 0.25) < 0.005
    assert (to_np(ember.empty(4).uniform_(1, 1)) == 1).all()


def test_exponential_geometric_lognormal_cauchy():
    e = to_np(ember.empty(N).exponential_(2.0))
    assert e.min() >= 0 and abs(e.mean() - 0.5) < 0.01 and abs(e.var() - 0.25) < 0.01
    g = to_np(ember.empty(N).geometric_(0.25))
    assert g.min() >= 1 and (g == np.round(g)).all() and abs(g.mean() - 4) < 0.05
    gi = ember.empty(N, dtype=ember.int64).geometric_(0.5)
    assert gi.dtype is ember.int64 and abs(to_np(gi).mean() - 2) < 0.02
    ln = to_np(ember.empty(N, dtype=ember.float64).log_normal_(1.0, 0.5))
    assert ln.min() > 0
    assert abs(np.log(ln).mean() - 1.0) < 0.01 and abs(np.log(ln).std() - 0.5) < 0.01
    c = to_np(ember.empty(N, dtype=ember.float64).cauchy_(1.0, 2.0))
    q1, q2, q3 = np.percentile(c, [25, 50, 75])
    assert abs(q2 - 1.0) < 0.05 and abs((q3 - q1) - 4.0) < 0.1


@pytest.mark.parametrize('dtype,hi', [(ember.float32, 2 ** 24), (ember.float64, 2 ** 53),
                                      (ember.int64, 2 ** 63 - 1), (ember.int32, 2 ** 31 - 1),
                                      (ember.uint8, 255), (ember.int8, 127), (ember.bool, 1),
                                      (ember.float16, 2 ** 11)])
def test_random_inplace_ranges(dtype, hi):
    a = to_np(ember.zeros(20_000, dtype=dtype).random_()).astype(np.float64)
    assert a.min() >= 0 and a.max() <= hi and a.max() > hi * 0.9
    b = to_np(ember.zeros(20_000, dtype=dtype).random_(2)).astype(np.float64)
    assert set(np.unique(b).tolist()) == {0.0, 1.0}
    if dtype is not ember.bool:
        c = to_np(ember.zeros(20_000, dtype=dtype).random_(3, 7))
        assert set(np.unique(c).tolist()) == {3, 4, 5, 6}


def test_random_from_to_none_and_keywords():
    a = to_np(ember.zeros(10_000, dtype=ember.int8).random_(100, None))
    assert a.min() >= 100 and a.max() == 127
    b = to_np(ember.zeros(1000).random_(**{'from': 2, 'to': 4}))
    assert set(np.unique(b).tolist()) == {2.0, 3.0}


def test_bernoulli_inplace():
    a = to_np(ember.empty(N).bernoulli_(0.3))
    assert set(np.unique(a).tolist()) == {0.0, 1.0} and abs(a.mean() - 0.3) < 0.005
    b = to_np(ember.zeros(N, dtype=ember.int64).bernoulli_())
    assert abs(b.mean() - 0.5) < 0.005
    p = E(np.array([0.0, 1.0, 0.5], np.float32))
    c = to_np(ember.empty(50_000, 3).bernoulli_(p))
    np.testing.assert_allclose(c.mean(0), [0, 1, 0.5], atol=0.01)


INPLACE = [lambda t: t.uniform_(), lambda t: t.normal_(), lambda t: t.random_(),
           lambda t: t.random_(5), lambda t: t.random_(1, 5), lambda t: t.exponential_(),
           lambda t: t.geometric_(0.5), lambda t: t.log_normal_(), lambda t: t.cauchy_(),
           lambda t: t.bernoulli_(), lambda t: t.bernoulli_(E(np.full(4, 0.3)))]


@pytest.mark.parametrize('k', range(len(INPLACE)))
def test_inplace_autograd_rules(k):
    fn = INPLACE[k]
    leaf = E(np.zeros(4), True)
    with pytest.raises(RuntimeError, match='a leaf Variable that requires grad'):
        fn(leaf)
    with ember.no_grad():
        assert fn(leaf) is leaf
    assert leaf._version == 1
    x = E(np.zeros(4), True)
    y = x * 1
    out = fn(y)
    assert out is y
    tfn = [lambda t: t.uniform_(), lambda t: t.normal_(), lambda t: t.random_(),
           lambda t: t.random_(5), lambda t: t.random_(1, 5), lambda t: t.exponential_(),
           lambda t: t.geometric_(0.5), lambda t: t.log_normal_(), lambda t: t.cauchy_(),
           lambda t: t.bernoulli_(), lambda t: t.bernoulli_(torch.full((4,), 0.3))][k]
    ty = T(np.zeros(4), True) * 1
    assert y.grad_fn.name() == tfn(ty).grad_fn.name()
    y.sum().backward()
    assert (to_np(x.grad) == 0).all()


def test_inplace_on_views_and_noncontiguous():
    base = ember.zeros(4, 6)
    base[:, ::2].uniform_(1, 2)
    a = to_np(base)
    assert (a[:, 1::2] == 0).all() and (a[:, ::2] >= 1).all()


# ---- seeding, reproducibility, generators -----------------------------------------------------
SAMPLERS = [lambda g: ember.rand(5, generator=g), lambda g: ember.randn(5, generator=g),
            lambda g: ember.randint(0, 100, (5,), generator=g),
            lambda g: ember.randperm(10, generator=g),
            lambda g: ember.normal(0.0, 1.0, (5,), generator=g),
            lambda g: ember.bernoulli(E(np.full(8, 0.5)), generator=g),
            lambda g: ember.multinomial(E(np.ones(10)), 3, generator=g),
            lambda g: ember.multinomial(E(np.ones(10)), 3, True, generator=g),
            lambda g: ember.poisson(E(np.full(5, 3.0)), generator=g),
            lambda g: ember.empty(5).uniform_(generator=g),
            lambda g: ember.empty(5).normal_(generator=g),
            lambda g: ember.empty(5).random_(0, 1000, generator=g),
            lambda g: ember.empty(5).exponential_(generator=g),
            lambda g: ember.empty(5).geometric_(0.1, generator=g),
            lambda g: ember.empty(5).log_normal_(generator=g),
            lambda g: ember.empty(5).cauchy_(generator=g),
            lambda g: ember.empty(8).bernoulli_(generator=g)]


@pytest.mark.parametrize('k', range(len(SAMPLERS)))
def test_reproducibility(k):
    f = SAMPLERS[k]
    ember.manual_seed(123)
    a = to_np(f(None)).copy()
    ember.manual_seed(123)
    b = to_np(f(None)).copy()
    np.testing.assert_array_equal(a, b)
    ember.manual_seed(124)
    c = to_np(f(None)).copy()
    g1, g2 = ember.Generator().manual_seed(7), ember.Generator().manual_seed(7)
    np.testing.assert_array_equal(to_np(f(g1)), to_np(f(g2)))
    samples = [to_np(f(ember.Generator().manual_seed(s))).copy() for s in range(6)]
    samples.append(c)
    assert any(not np.array_equal(a, s) for s in samples)


def test_generator_is_independent_of_the_global_one():
    ember.manual_seed(0)
    expected = to_np(ember.rand(4)).copy()
    ember.manual_seed(0)
    g = ember.Generator().manual_seed(0)
    ember.rand(100, generator=g)
    np.testing.assert_array_equal(to_np(ember.rand(4)), expected)
    g.manual_seed(0)
    np.testing.assert_array_equal(to_np(ember.rand(4, generator=g)), expected)


def test_state_round_trip():
    s = ember.get_rng_state()
    assert s.dtype is ember.uint8 and s.ndim == 1
    a = to_np(ember.randn(5)).copy()
    ember.set_rng_state(s)
    np.testing.assert_array_equal(to_np(ember.randn(5)), a)
    g = ember.Generator().manual_seed(3)
    ember.rand(7, generator=g)
    st = g.get_state()
    b = to_np(ember.rand(3, generator=g)).copy()
    g2 = ember.Generator().set_state(st)
    assert g2.initial_seed() == 3
    np.testing.assert_array_equal(to_np(ember.rand(3, generator=g2)), b)
    ember.random.set_rng_state(st)
    np.testing.assert_array_equal(to_np(ember.rand(3)), b)


def test_torch_style_seeding_api():
    g = ember.manual_seed(42)
    assert g is ember.default_generator is ember.random.default_generator
    assert ember.initial_seed() == 42 == ember.random.initial_seed()
    assert ember.random.manual_seed(5) is ember.default_generator
    s = ember.seed()
    assert isinstance(s, int) and ember.initial_seed() == s
    assert ember.random.seed() == ember.initial_seed()
    ember.manual_seed(-1)
    assert ember.initial_seed() == 2 ** 64 - 1
    ember.manual_seed(1.7)
    assert ember.initial_seed() == 1
    g = ember.Generator()
    assert g.initial_seed() == 67280421310721 == torch.Generator().initial_seed()
    assert g.device == ember.device('cpu') and str(g.device) == 'cpu'
    assert g.manual_seed(3) is g
    assert isinstance(ember.Generator, type) and ember.random.Generator is ember.Generator


def test_default_seed_makes_programs_deterministic():
    code = 'import ember; print(ember.initial_seed(), ember.rand(3).tolist())'
    runs = [subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)]
    assert runs[0] == runs[1] and runs[0].startswith('67280421310721 ')


def test_fork_rng():
    ember.manual_seed(0)
    with ember.random.fork_rng():
        inside = to_np(ember.rand(3)).copy()
        ember.manual_seed(99)
        ember.rand(10)
    np.testing.assert_array_equal(to_np(ember.rand(3)), inside)
    with ember.random.fork_rng(enabled=False):
        ember.rand(1)


def test_generator_pickles():
    import pickle
    g = ember.Generator().manual_seed(11)
    ember.rand(3, generator=g)
    h = pickle.loads(pickle.dumps(g))
    np.testing.assert_array_equal(to_np(ember.rand(3, generator=g)),
                                  to_np(ember.rand(3, generator=h)))


# ---- keywords ------------------------------------------------------------------------------
def test_factory_keywords():
    x = ember.rand(2, 3, dtype=ember.float64, device='cpu', requires_grad=True)
    assert x.dtype is ember.float64 and x.requires_grad and x.is_leaf and x.grad_fn is None
    assert ember.rand((2, 3)).shape == (2, 3) == ember.rand([2, 3]).shape
    assert ember.rand(size=(2, 3)).shape == (2, 3)
    assert ember.randn(ember.Size([4])).shape == (4,)
    assert ember.rand(()).shape == ()
    assert ember.randn(0, 3).shape == (0, 3)
    assert ember.randn(3, device=ember.device('cpu')).device == ember.device('cpu')
    like = ember.rand_like(E(np.zeros((2, 2), np.float64)))
    assert like.dtype is ember.float64 and like.shape == (2, 2)
    assert ember.randn_like(E(np.zeros(3)), dtype=ember.float32).dtype is ember.float32
    assert ember.randn_like(E(np.zeros(3)), requires_grad=True).requires_grad
    out = ember.empty(3)
    assert ember.rand(3, out=out) is out
    r = ember.normal(E(np.zeros(3)), E(np.ones(3)), out=ember.empty(3))
    assert r.shape == (3,)
    assert ember.randperm(4, requires_grad=False).dtype is ember.int64


@pytest.mark.skipif(ember.cuda.is_available(), reason='checks the message without a GPU')
def test_cuda_request_without_gpu():
    with pytest.raises(RuntimeError, match='CUDA is not available'):
        ember.rand(3, device='cuda')


RANDOM_ERRORS = [
    lambda m: m.randint(5, 3, (3,)),
    lambda m: m.randint(5, 5, (3,)),
    lambda m: m.randint(5, (3,), requires_grad=True),
    lambda m: m.randint(0, 300, (3,), dtype=m.uint8),
    lambda m: m.randint(5, 3),
    lambda m: m.randint_like(m.zeros(3), 10, 3),
    lambda m: m.randperm(-1),
    lambda m: m.rand(3, dtype=m.int64),
    lambda m: m.randn(3, dtype=m.int32),
    lambda m: m.rand(-1),
    lambda m: m.rand_like(m.zeros(3, dtype=m.int64)),
    lambda m: m.normal(0.0, -1.0, (3,)),
    lambda m: m.normal(m.zeros(3), -1.0),
    lambda m: m.normal(m.zeros(3), -m.ones(3)),
    lambda m: m.normal(m.zeros(3), m.ones(4)),
    lambda m: m.normal(m.zeros(6), m.ones(2, 3)),
    lambda m: m.normal(m.zeros(3, dtype=m.int64), 1.0),
    lambda m: m.bernoulli(m.full((3,), 1.5)),
    lambda m: m.bernoulli(m.ones(3, dtype=m.int64)),
    lambda m: m.multinomial(m.ones(5), 6),
    lambda m: m.multinomial(m.tensor([1., -1.]), 1),
    lambda m: m.multinomial(m.tensor([0., 0.]), 1),
    lambda m: m.multinomial(m.tensor([float('inf'), 0.]), 1),
    lambda m: m.multinomial(m.tensor([1., 1.]), 0),
    lambda m: m.multinomial(m.ones(2, 2, 2), 1),
    lambda m: m.multinomial(m.tensor(1.), 1),
    lambda m: m.multinomial(m.ones(3, dtype=m.int64), 1),
    lambda m: m.multinomial(m.ones(0), 1),
    lambda m: m.poisson(m.full((3,), -4.0)),
    lambda m: m.poisson(m.ones(3, dtype=m.int64)),
    lambda m: m.zeros(3, dtype=m.int64).uniform_(),
    lambda m: m.zeros(3, dtype=m.int64).normal_(),
    lambda m: m.zeros(3).normal_(0, -1),
    lambda m: m.zeros(3).uniform_(2, 1),
    lambda m: m.zeros(3).random_(10, 5),
    lambda m: m.zeros(3, dtype=m.int32).random_(2 ** 40),
    lambda m: m.zeros(3, dtype=m.uint8).random_(-1, 5),
    lambda m: m.zeros(3).exponential_(-1),
    lambda m: m.zeros(3).exponential_(0),
    lambda m: m.zeros(3, dtype=m.int64).exponential_(),
    lambda m: m.zeros(3).geometric_(1.5),
    lambda m: m.zeros(3).geometric_(0.0),
    lambda m: m.zeros(3).log_normal_(1, -2),
    lambda m: m.zeros(3, dtype=m.int64).log_normal_(),
    lambda m: m.zeros(3).cauchy_(0, -1),
    lambda m: m.zeros(3, dtype=m.int64).cauchy_(),
    lambda m: m.zeros(3).bernoulli_(1.3),
    lambda m: m.manual_seed(2 ** 64),
    lambda m: m.manual_seed('a'),
    lambda m: m.set_rng_state(m.zeros(3)),
]


@pytest.mark.parametrize('k', range(len(RANDOM_ERRORS)))
def test_errors(k):
    same_error(lambda: RANDOM_ERRORS[k](ember), lambda: RANDOM_ERRORS[k](torch))


def test_state_size_error():
    with pytest.raises(RuntimeError, match='Expected a CPUGeneratorImplState of size 56 but '
                                           'found the input RNG state size to be 3'):
        ember.set_rng_state(ember.zeros(3, dtype=ember.uint8))


# ---- CUDA ------------------------------------------------------------------------------------
@pytest.mark.cuda
def test_cuda_generators():
    from ember._random import cuda_generator
    g = cuda_generator()
    assert g is cuda_generator(0) and g.device == ember.device('cuda', 0)
    ember.manual_seed(5)
    a = ember.rand(1000, device='cuda')
    assert a.device.type == 'cuda' and a.dtype is ember.float32
    ember.manual_seed(5)
    np.testing.assert_array_equal(to_np(ember.rand(1000, device='cuda')), to_np(a))
    st = g.get_state()
    b = to_np(ember.randn(100, device='cuda'))
    g.set_state(st)
    np.testing.assert_array_equal(to_np(ember.randn(100, device='cuda')), b)
    own = ember.Generator('cuda').manual_seed(1)
    x = ember.randint(0, 10, (1000,), device='cuda', generator=own)
    assert 0 <= to_np(x).min() and to_np(x).max() < 10
    assert sorted(to_np(ember.randperm(50, device='cuda')).tolist()) == list(range(50))
    y = ember.zeros(10_000, device='cuda').normal_(1, 2)
    assert abs(to_np(y).mean() - 1) < 0.1
    m = ember.multinomial(ember.ones(3, 4, device='cuda'), 4)
    assert (np.sort(to_np(m), axis=1) == np.arange(4)).all()
    with pytest.raises(RuntimeError, match="Expected a 'cuda' device type for generator"):
        ember.rand(3, device='cuda', generator=ember.Generator())
