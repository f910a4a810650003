"""nn linear family against torch: F.linear / F.bilinear (values, gradients, grad_fn names,
errors), Identity, Linear, Bilinear, LazyLinear (materialisation, becoming a Linear), Flatten
and Unflatten; default initialisation checked statistically."""
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from tests.helpers import E, T, assert_close, check, gradcheck, noncontig, rand, to_np
from tests.helpers_nn import check_module

DTYPES = [np.float32, np.float64]


def _raises_like(fn_e, fn_t, exc=None):
    """Both raise the same exception type with the same message (torch's text, 'torch.' ->
    'ember.')."""
    with pytest.raises(Exception) as et:
        fn_t()
    with pytest.raises(exc or et.type) as ee:
        fn_e()
    assert str(ee.value) == str(et.value).replace('torch.', 'ember.')


# ---- F.linear ---------------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('xshape', [(4, 8), (2, 3, 8), (8,), (0, 8), (2, 1, 3, 8)])
@pytest.mark.parametrize('bias', [True, False])
def test_linear_matches_torch(dtype, xshape, bias):
    x = rand(*xshape, dtype=dtype, seed=1)
    w = rand(5, 8, dtype=dtype, seed=2)
    b = rand(5, dtype=dtype, seed=3) if bias else None
    check(F.linear, TF.linear, x, w, b)


@pytest.mark.parametrize('dtype', DTYPES)
def test_linear_noncontiguous_and_transposed(dtype):
    x = noncontig(rand(6, 8, dtype=dtype, seed=1))
    w = noncontig(rand(5, 8, dtype=dtype, seed=2))
    check(F.linear, TF.linear, x, w, rand(5, dtype=dtype))
    xs = rand(3, 16, dtype=dtype)
    check(lambda a, w: F.linear(a[:, ::2], w), lambda a, w: TF.linear(a[:, ::2], w), xs,
          rand(5, 8, dtype=dtype))
    check(lambda a, w: F.linear(a.transpose(0, 1), w), lambda a, w: TF.linear(a.transpose(0, 1), w),
          rand(8, 4, 3, dtype=dtype).transpose(1, 2, 0).copy(), rand(5, 8, dtype=dtype))


@pytest.mark.parametrize('dtype', DTYPES)
def test_linear_vector_weight_broadcast_bias_and_empty_features(dtype):
    check(F.linear, TF.linear, rand(4, 8, dtype=dtype), rand(8, dtype=dtype))
    check(F.linear, TF.linear, rand(8, dtype=dtype), rand(8, dtype=dtype))
    check(F.linear, TF.linear, rand(4, 8, dtype=dtype), rand(5, 8, dtype=dtype),
          rand(4, 5, dtype=dtype))
    check(F.linear, TF.linear, rand(4, 8, dtype=dtype), rand(5, 8, dtype=dtype),
          rand(1, dtype=dtype))
    check(F.linear, TF.linear, rand(4, 8, dtype=dtype), rand(5, 8, dtype=dtype),
          np.array(0.5, dtype))
    check(F.linear, TF.linear, rand(4, 0, dtype=dtype), rand(5, 0, dtype=dtype),
          rand(5, dtype=dtype))


def test_linear_integer_inputs():
    x = np.arange(12).reshape(3, 4)
    w = np.arange(8).reshape(2, 4)
    check(F.linear, TF.linear, x, w, np.array([1, 2]), grad=False)


@pytest.mark.parametrize('xshape,bias', [((4, 8), True), ((4, 8), False), ((2, 4, 8), True),
                                         ((2, 4, 8), False), ((8,), True), ((8,), False)])
def test_linear_grad_fn_names(xshape, bias):
    x = rand(*xshape)
    w, b = rand(5, 8), rand(5)
    eo = F.linear(E(x), E(w, True), E(b) if bias else None)
    to = TF.linear(T(x), T(w, True), T(b) if bias else None)
    assert eo.grad_fn.name() == to.grad_fn.name()
    assert F.linear(E(rand(8)), E(rand(8), True)).grad_fn.name() == 'DotBackward0'


def test_linear_gradcheck():
    gradcheck(F.linear, rand(3, 4), rand(5, 4), rand(5))
    gradcheck(F.linear, rand(2, 3, 4), rand(5, 4))
    gradcheck(F.linear, rand(3, 4), rand(4))
    gradcheck(F.linear, rand(3, 4), rand(5, 4), rand(3, 5))


def test_linear_only_needed_gradients():
    x, w = E(rand(3, 4)), E(rand(5, 4), True)
    F.linear(x, w).sum().backward()
    assert x.grad is None and w.grad is not None
    x, w, b = E(rand(3, 4), True), E(rand(5, 4)), E(rand(5), True)
    F.linear(x, w, b).sum().backward()
    assert w.grad is None
    assert_close(b.grad, torch.full((5,), 3.0))


def test_linear_detects_inplace_change_of_saved_weight():
    w = E(rand(5, 4), True)
    h = w * 1
    y = F.linear(E(rand(3, 4)), h)
    h.mul_(2)
    with pytest.raises(RuntimeError, match='modified by an inplace operation'):
        y.sum().backward()


@pytest.mark.parametrize('args', [
    ((4, 10), (5, 8), None), ((10,), (5, 8), None), ((2, 4, 10), (5, 8), None),
    ((4, 8), (5, 8), (3,)), ((4, 8), (5, 8), (5, 1)), ((4, 8), (5, 8), (2, 4, 5)),
    ((), (5, 8), None), ((4, 8), (2, 5, 8), None), ((4, 8), (5,), None), ((4, 8), (8,), (1,)),
])
def test_linear_shape_errors(args):
    xs, ws, bs = args
    x, w = rand(*xs), rand(*ws)
    b = None if bs is None else rand(*bs)
    _raises_like(lambda: F.linear(E(x), E(w), None if b is None else E(b)),
                 lambda: TF.linear(T(x), T(w), None if b is None else T(b)))


@pytest.mark.parametrize('dts', [('f', 'd', None), ('f', 'd', 'f'), ('d', 'd', 'f'), ('f', 'f', 'd'),
                                 ('l', 'f', None)])
def test_linear_dtype_errors(dts):
    def make(lib, wrap):
        arrs = [np.ones((4, 8)), np.ones((5, 8)), np.ones(5)]
        return [None if d is None else wrap(a.astype(d)) for a, d in zip(arrs, dts)]
    _raises_like(lambda: F.linear(*make(ember, E)), lambda: TF.linear(*make(torch, T)))


def test_linear_type_errors():
    _raises_like(lambda: F.linear([1, 2], E(rand(5, 2))), lambda: TF.linear([1, 2], T(rand(5, 2))))
    _raises_like(lambda: F.linear(E(rand(4, 2)), E(rand(5, 2)), 3),
                 lambda: TF.linear(T(rand(4, 2)), T(rand(5, 2)), 3))


# ---- F.bilinear -------------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('lead', [(4,), (2, 3), (), (0,)])
@pytest.mark.parametrize('bias', [True, False])
def test_bilinear_matches_torch(dtype, lead, bias):
    x1 = rand(*lead, 3, dtype=dtype, seed=1)
    x2 = rand(*lead, 4, dtype=dtype, seed=2)
    w = rand(5, 3, 4, dtype=dtype, seed=3)
    b = rand(5, dtype=dtype, seed=4) if bias else None
    eo, to = check(F.bilinear, TF.bilinear, x1, x2, w, b)
    assert eo.grad_fn.name() == to.grad_fn.name()


def test_bilinear_noncontiguous_and_gradcheck():
    check(F.bilinear, TF.bilinear, noncontig(rand(4, 3)), noncontig(rand(4, 2)),
          rand(5, 3, 2), rand(5))
    gradcheck(F.bilinear, rand(3, 2), rand(3, 4), rand(5, 2, 4), rand(5))
    gradcheck(F.bilinear, rand(2, 2, 2), rand(2, 2, 3), rand(1, 2, 3))


@pytest.mark.parametrize('shapes', [
    ((4, 2), (3, 3), (5, 2, 3), None), ((4, 2), (4, 4), (5, 2, 3), None),
    ((4, 3), (4, 3), (5, 2, 3), None), ((4, 2), (4, 3), (5, 2, 3), (4,)),
    ((6, 4, 2), (4, 3), (5, 2, 3), (5,)), ((3, 2), (3, 3), (5, 2, 3, 1), None),
])
def test_bilinear_errors(shapes):
    s1, s2, sw, sb = shapes
    arrs = [rand(*s1), rand(*s2), rand(*sw), None if sb is None else rand(*sb)]
    with pytest.raises(RuntimeError) as te:
        TF.bilinear(*[None if a is None else T(a) for a in arrs])
    with pytest.raises(RuntimeError) as ee:
        F.bilinear(*[None if a is None else E(a) for a in arrs])
    if 'bilinear()' in str(te.value):
        assert str(ee.value) == str(te.value)
    _raises_like(lambda: F.bilinear(E(rand(2, 2)), E(rand(2, 3)), E(rand(5, 2, 3).astype('d'))),
                 lambda: TF.bilinear(T(rand(2, 2)), T(rand(2, 3)), T(rand(5, 2, 3).astype('d'))))


# ---- modules ----------------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('xshape', [(4, 3), (2, 5, 3), (3,)])
def test_linear_module(dtype, bias, xshape):
    check_module(lambda L: L.nn.Linear(3, 4, bias=bias), [rand(*xshape)], dtype=dtype)


def test_linear_module_attributes_and_factory_kwargs():
    assert nn.Linear(3, 4, device='cpu').weight.device == ember.device('cpu')
    m = nn.Linear(3, 4, dtype=ember.float64)
    assert m.weight.dtype == ember.float64 and m.bias.dtype == ember.float64
    assert (m.in_features, m.out_features) == (3, 4)
    assert m.weight.requires_grad and m.weight.is_leaf
    with pytest.raises(RuntimeError, match=r'mat1 and mat2 shapes cannot be multiplied \(2x5 and 3x4\)'):
        m(ember.ones(2, 5, dtype=ember.float64))


def _uniform_stats(t, bound):
    """Samples of U(-bound, bound): range, mean and std within ~5 standard errors."""
    a = to_np(t).ravel().astype(np.float64)
    n = a.size
    assert a.min() >= -bound and a.max() <= bound
    assert a.min() < -(1 - 20 / n) * bound and a.max() > (1 - 20 / n) * bound
    sd = bound / math.sqrt(3)
    assert abs(a.mean()) < 5 * sd / math.sqrt(n)
    assert abs(a.std() - sd) < 5 * sd / math.sqrt(n)


def test_linear_default_init_distribution():
    m = nn.Linear(256, 2000)
    _uniform_stats(m.weight, 1 / 16)       # kaiming_uniform_(a=sqrt(5)): bound 1/sqrt(fan_in)
    _uniform_stats(m.bias, 1 / 16)
    m.reset_parameters()
    _uniform_stats(m.weight, 1 / 16)
    with pytest.warns(UserWarning, match="zero-element"):
        z = nn.Linear(0, 3)                 # fan_in 0: bias bound 0, as PyTorch (which warns too)
    assert not to_np(z.bias).any()


def test_identity_module():
    check_module(lambda L: L.nn.Identity(54, unused='argument'), [rand(2, 3)])
    x = ember.ones(3)
    assert nn.Identity()(x) is x


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('lead', [(4,), (2, 3), ()])
def test_bilinear_module(dtype, bias, lead):
    check_module(lambda L: L.nn.Bilinear(3, 2, 5, bias=bias), [rand(*lead, 3), rand(*lead, 2)],
                 dtype=dtype)


def test_bilinear_default_init_distribution():
    m = nn.Bilinear(100, 20, 30)
    _uniform_stats(m.weight, 0.1)
    _uniform_stats(nn.Bilinear(100, 20, 3000).bias, 0.1)


# ---- LazyLinear -------------------------------------------------------------------------------
def test_lazy_linear_repr_and_placeholders():
    em, tm = nn.LazyLinear(5), torch.nn.LazyLinear(5)
    assert repr(em) == repr(tm)
    assert repr(em.weight) == '<UninitializedParameter>'
    assert em.has_uninitialized_params()
    assert isinstance(em.weight, nn.UninitializedParameter)
    assert nn.LazyLinear(5, bias=False).bias is None
    assert nn.LazyLinear.cls_to_become is nn.Linear


@pytest.mark.parametrize('bias', [True, False])
def test_lazy_linear_becomes_linear(bias):
    em, tm = nn.LazyLinear(6, bias=bias), torch.nn.LazyLinear(6, bias=bias)
    x = rand(4, 7)
    eo, to = em(E(x)), tm(T(x))
    assert type(em) is nn.Linear and type(tm) is torch.nn.Linear
    assert repr(em) == repr(tm)
    assert em.in_features == 7 and tuple(em.weight.shape) == (6, 7)
    assert type(em.weight) is nn.Parameter
    assert not em._forward_pre_hooks
    assert tuple(eo.shape) == tuple(to.shape)
    # the materialised layer computes like torch's once the weights are shared
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    check_module(lambda L: _initialised_lazy(L, bias), [rand(3, 7)])


def _initialised_lazy(lib, bias):
    m = lib.nn.LazyLinear(6, bias=bias)
    m(lib.zeros(1, 7))
    return m


def test_lazy_linear_init_distribution_and_dtype():
    em = nn.LazyLinear(64)
    em(ember.zeros(2, 400))
    _uniform_stats(em.weight, 1 / 20)
    d = nn.LazyLinear(3).double()
    out = d(ember.ones(2, 5, dtype=ember.float64))
    assert d.weight.dtype == ember.float64 and out.dtype == ember.float64
    f = nn.LazyLinear(3, dtype=ember.float64)
    f(ember.ones(2, 5, dtype=ember.float64))
    assert f.bias.dtype == ember.float64


def test_lazy_linear_bias_init_range():
    em = nn.LazyLinear(3000)
    em(ember.zeros(1, 100))
    _uniform_stats(em.bias, 0.1)


def test_lazy_linear_load_state_dict_then_forward():
    em = nn.LazyLinear(4)
    w, b = rand(4, 3), rand(4)
    em.load_state_dict({'weight': ember.tensor(w), 'bias': ember.tensor(b)})
    assert type(em) is nn.LazyLinear
    out = em(E(rand(2, 3)))
    assert type(em) is nn.Linear and em.in_features == 3
    assert_close(em.weight, torch.tensor(w))
    assert tuple(out.shape) == (2, 4)


def test_lazy_linear_gradients_and_errors():
    em = nn.LazyLinear(2)
    x = E(rand(5, 3), True)
    em(x).sum().backward()
    assert em.weight.grad is not None and x.grad is not None
    bad = nn.LazyLinear(2)
    with pytest.raises(IndexError):
        bad(ember.tensor(1.0))
    assert type(bad) is nn.LazyLinear


# ---- Flatten / Unflatten ----------------------------------------------------------------------
@pytest.mark.parametrize('args,shape', [((), (2, 3, 4, 5)), ((0, 2), (2, 3, 4, 5)),
                                        ((1, -2), (2, 3, 4, 5)), ((), (2, 3)), ((2, 2), (2, 3, 4))])
def test_flatten_module(args, shape):
    check_module(lambda L: L.nn.Flatten(*args), [rand(*shape)])


@pytest.mark.parametrize('dim,sizes,shape', [(1, (2, 3), (4, 6)), (-1, [2, -1], (4, 3, 6)),
                                             (0, (1, 4), (4, 5)), (1, (2, 2, 2), (3, 8, 2))])
def test_unflatten_module(dim, sizes, shape):
    check_module(lambda L: L.nn.Unflatten(dim, sizes), [rand(*shape)])
    check_module(lambda L: L.nn.Unflatten(dim, L.Size([s for s in sizes])), [rand(*shape)])


def test_flatten_unflatten_errors():
    _raises_like(lambda: nn.Flatten()(ember.ones(3)), lambda: torch.nn.Flatten()(torch.ones(3)))
    _raises_like(lambda: nn.Flatten(2, 1)(ember.ones(2, 3, 4)),
                 lambda: torch.nn.Flatten(2, 1)(torch.ones(2, 3, 4)))
    _raises_like(lambda: nn.Unflatten(1, (2, 3))(ember.ones(2, 5)),
                 lambda: torch.nn.Unflatten(1, (2, 3))(torch.ones(2, 5)))
    _raises_like(lambda: nn.Unflatten(1, (2, 3.0)), lambda: torch.nn.Unflatten(1, (2, 3.0)))
    _raises_like(lambda: nn.Unflatten(1, 6), lambda: torch.nn.Unflatten(1, 6))
    with pytest.raises(TypeError, match='named'):
        nn.Unflatten('features', (('c', 2), ('h', 3)))


def test_flatten_in_a_model_matches_torch():
    def model(L):
        return L.nn.Sequential(L.nn.Flatten(), L.nn.Linear(12, 5), L.nn.Unflatten(1, (5, 1)),
                               L.nn.Flatten(0))
    check_module(model, [rand(2, 3, 4)], dtype=np.float64)
