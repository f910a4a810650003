"""gather/scatter, index_*, masked_*, take/put, nonzero and *_scatter against torch."""
import numpy as np
import pytest
import torch

import ember
from tests.helpers import E, T, check, gradcheck, rand, noncontig

pytestmark = pytest.mark.filterwarnings('ignore:.*scatter with Tensor src is deprecated')

RNG = np.random.default_rng(0)
IDX_G = np.array([[0, 3, 3], [1, 0, 2], [3, 3, 3]])       # gather along dim 1 of (3, 4)
IDX_S = np.array([[0, 3, 1], [1, 0, 2]])                   # scatter along dim 1, no repeats
IDX_S0 = np.array([[2, 0, 1, 1], [0, 2, 2, 1]])            # scatter along dim 0, repeats
IDX_V = np.array([2, 0, 2, 1])


def _both(fn):
    """(ember fn, torch fn) from fn(L, *tensors)."""
    return (lambda *a: fn(ember, *a)), (lambda *a: fn(torch, *a))


def _i(L, a, dtype=None):
    return L.tensor(a) if dtype is None else L.tensor(a, dtype=dtype)


# ---- parity: forward and backward ------------------------------------------------------------
_OPS = [
    ('gather_dim1', lambda L, x: L.gather(x, 1, _i(L, IDX_G)), (3, 4)),
    ('gather_small_index', lambda L, x: x.gather(1, _i(L, IDX_S)), (3, 4)),
    ('gather_neg_dim_int32', lambda L, x: x.gather(-1, _i(L, IDX_G, L.int32)), (3, 4)),
    ('gather_3d', lambda L, x: x.gather(1, _i(L, RNG_3D)), (2, 3, 4)),
    ('gather_0d', lambda L, x: x.gather(0, _i(L, 0)), ()),
    ('gather_1d_0d_index', lambda L, x: x.gather(0, _i(L, 2)), (4,)),
    ('gather_empty', lambda L, x: x.gather(0, L.zeros(0, 4, dtype=L.int64)), (3, 4)),
    ('scatter_src', lambda L, x, s: x.scatter(1, _i(L, IDX_S), s), (3, 4), (2, 3)),
    ('scatter_value', lambda L, x: x.scatter(1, _i(L, IDX_S), 2.5), (3, 4)),
    ('scatter_value_kw', lambda L, x: x.scatter(dim=1, index=_i(L, IDX_S), value=-1), (3, 4)),
    ('scatter_add', lambda L, x, s: x.scatter_add(0, _i(L, IDX_S0), s), (3, 4), (2, 4)),
    ('scatter_add_fn', lambda L, x, s: L.scatter_add(x, 1, _i(L, IDX_G), s), (3, 4), (3, 3)),
    ('index_select_dim0', lambda L, x: x.index_select(0, _i(L, IDX_V)), (3, 4)),
    ('index_select_dim1', lambda L, x: L.index_select(x, 1, _i(L, [3, 3, 0])), (3, 4)),
    ('index_select_int32_0d', lambda L, x: x.index_select(-1, _i(L, 1, L.int32)), (2, 3, 4)),
    ('index_select_empty', lambda L, x: x.index_select(1, L.zeros(0, dtype=L.int64)), (3, 4)),
    ('index_select_scalar', lambda L, x: x.index_select(0, _i(L, [0])), ()),
    ('index_add', lambda L, x, s: x.index_add(0, _i(L, IDX_V), s), (3, 4), (4, 4)),
    ('index_add_alpha_dim1', lambda L, x, s: L.index_add(x, 1, _i(L, [0, 0, 3]), s, alpha=-2),
     (3, 4), (3, 3)),
    ('index_add_3d', lambda L, x, s: x.index_add(1, _i(L, [2, 2]), s), (2, 3, 4), (2, 2, 4)),
    ('index_copy', lambda L, x, s: x.index_copy(0, _i(L, [2, 0]), s), (3, 4), (2, 4)),
    ('index_copy_dim1', lambda L, x, s: L.index_copy(x, 1, _i(L, [3, 1]), s), (3, 4), (3, 2)),
    ('index_fill', lambda L, x: x.index_fill(1, _i(L, [0, 3, -1]), -1.5), (3, 4)),
    ('index_fill_tensor', lambda L, x, v: x.index_fill(0, _i(L, [0, 0, 2]), v), (3, 4), ()),
    ('masked_fill', lambda L, x: x.masked_fill(_i(L, MASK_34), 0.5), (3, 4)),
    ('masked_fill_broadcast', lambda L, x: x.masked_fill(_i(L, [True, False, False, True]), -1),
     (3, 4)),
    ('masked_fill_grows', lambda L, x: L.masked_fill(x, _i(L, MASK_234), 2.0), (3, 4)),
    ('masked_fill_tensor', lambda L, x, v: x.masked_fill(_i(L, MASK_34), v), (3, 4), ()),
    ('masked_scatter', lambda L, x, s: x.masked_scatter(_i(L, MASK_34), s), (3, 4), (12,)),
    ('masked_scatter_2d', lambda L, x, s: L.masked_scatter(x, _i(L, [True, False, True, True]), s),
     (3, 4), (4, 4)),
    ('masked_select', lambda L, x: x.masked_select(_i(L, MASK_34)), (3, 4)),
    ('masked_select_broadcast', lambda L, x: L.masked_select(x, _i(L, MASK_234)), (3, 4)),
    ('take', lambda L, x: x.take(_i(L, [[0, 11, -1], [5, 5, 0]])), (3, 4)),
    ('take_fn', lambda L, x: L.take(x, _i(L, [3, 3])), (2, 3)),
    ('take_along_dim', lambda L, x: L.take_along_dim(x, _i(L, IDX_G), 1), (3, 4)),
    ('take_along_dim_broadcast', lambda L, x: x.take_along_dim(_i(L, [[0, -1, 3]]), 1), (3, 4)),
    ('take_along_dim_none', lambda L, x: x.take_along_dim(_i(L, [[0, 11]])), (3, 4)),
    ('put', lambda L, x, s: x.put(_i(L, [0, 11, 5]), s), (3, 4), (3,)),
    ('put_accumulate', lambda L, x, s: L.put(x, _i(L, [[0, 0], [-1, 3]]), s, accumulate=True),
     (3, 4), (2, 2)),
    ('select_scatter', lambda L, x, s: L.select_scatter(x, s, 1, -1), (3, 4), (3,)),
    ('select_scatter_method', lambda L, x, s: x.select_scatter(s, 0, 2), (3, 4), (4,)),
    ('slice_scatter', lambda L, x, s: L.slice_scatter(x, s, 1, 1, None, 2), (3, 4), (3, 2)),
    ('slice_scatter_default', lambda L, x, s: x.slice_scatter(s), (3, 4), (3, 4)),
    ('diagonal_scatter', lambda L, x, s: L.diagonal_scatter(x, s), (3, 4), (3,)),
    ('diagonal_scatter_offset', lambda L, x, s: x.diagonal_scatter(s, -1), (3, 4), (2,)),
    ('diagonal_scatter_3d', lambda L, x, s: L.diagonal_scatter(x, s, 1, 0, 2), (2, 3, 4), (3, 2)),
    ('diagonal_scatter_adjacent', lambda L, x, s: L.diagonal_scatter(x, s, 0, 2, 1), (2, 3, 4),
     (2, 3)),
]
OPS = [(o[0], o[1], o[2:]) for o in _OPS]
RNG_3D = RNG.integers(0, 3, (2, 5, 4))
MASK_34 = RNG.random((3, 4)) > 0.5
MASK_234 = RNG.random((2, 3, 4)) > 0.5


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('name,fn,shapes', OPS, ids=[o[0] for o in OPS])
def test_op_parity(name, fn, shapes, dtype):
    arrays = [rand(*s, dtype=dtype, seed=i) for i, s in enumerate(shapes)]
    check(*_both(fn), *arrays)


@pytest.mark.parametrize('name,fn,shapes', OPS[::2], ids=[o[0] for o in OPS[::2]])
def test_op_noncontiguous_and_int(name, fn, shapes):
    arrays = [noncontig(rand(*s, seed=i)) for i, s in enumerate(shapes)]
    if name != 'take_along_dim_none':   # torch cannot view a non-contiguous input there
        check(*_both(fn), *arrays)
    ints = [np.asarray(rand(*s, seed=i) * 10).astype(np.int64) for i, s in enumerate(shapes)]
    if 'fill_tensor' not in name:
        check(*_both(fn), *ints, grad=False)


def test_scatter_src_larger_than_index_and_reduce_arguments():
    # torch's backward fails for a src larger than index and has none for scatter(reduce=):
    # forward parity, and finite differences for ember's gradients
    x, s = rand(3, 4, dtype=np.float64, seed=1), rand(3, 5, dtype=np.float64, seed=2)
    idx = _i(ember, IDX_S)
    check(*_both(lambda L, a, b: L.scatter(a, 1, _i(L, IDX_S), b)), x, s, grad=False)
    gradcheck(lambda a, b: a.scatter(1, idx, b), x, s)
    for reduce in ('add', 'multiply'):
        for value in (s, 1.5):
            def f(L, a, value=value, reduce=reduce):
                v = L.tensor(value) if isinstance(value, np.ndarray) else value
                return a.scatter(0, _i(L, IDX_S0), v[:2] if isinstance(value, np.ndarray) else v,
                                 reduce=reduce)
            check(*_both(f), x, grad=False)
        gradcheck(lambda a, b: a.scatter(0, ember.tensor(IDX_S0), b[:2], reduce=reduce), x, s)


SCATTER_REDUCE_SRC = np.array([[3., 1., 3.], [5., 7., 5.]])


@pytest.mark.parametrize('include_self', [True, False])
@pytest.mark.parametrize('reduce', ['sum', 'prod', 'mean', 'amax', 'amin'])
def test_scatter_reduce_with_ties(reduce, include_self):
    x = np.array([[1., 3., 3., 2.], [5., 5., 0., 1.]])
    idx = np.array([[1, 0, 2], [0, 0, 1]])

    def f(L, a, s):
        return a.scatter_reduce(1, _i(L, idx), s, reduce, include_self=include_self)
    check(*_both(f), x, SCATTER_REDUCE_SRC)
    check(*_both(f), x.astype(np.float32), SCATTER_REDUCE_SRC.astype(np.float32))
    check(*_both(f), x.astype(np.int64), SCATTER_REDUCE_SRC.astype(np.int64) * -1, grad=False)


@pytest.mark.parametrize('reduce', ['sum', 'prod', 'mean', 'amax', 'amin'])
def test_scatter_reduce_random_and_zeros(reduce):
    x = rand(4, 5, dtype=np.float64, seed=1)
    src = rand(6, 5, dtype=np.float64, seed=2)
    x[1, 2] = 0.0
    src[0, 1] = src[3, 1] = 0.0      # a group with two zeros and one with one (prod)
    idx = RNG.integers(0, 4, (6, 5))
    idx[0, 1] = idx[3, 1] = 2
    idx[2, 2] = 1

    def f(L, a, s):
        return L.scatter_reduce(a, 0, _i(L, idx), s, reduce)
    check(*_both(f), x, src)
    if reduce != 'amax' and reduce != 'amin':    # no ties: finite differences are valid
        gradcheck(lambda a, s: ember.scatter_reduce(a, 0, ember.tensor(idx), s, reduce), x, src)


@pytest.mark.parametrize('reduce', ['prod', 'mean', 'amax', 'amin'])
@pytest.mark.parametrize('include_self', [True, False])
def test_index_reduce(reduce, include_self):
    def f(L, a, s):
        return a.index_reduce(0, _i(L, [0, 2, 0]), s, reduce, include_self=include_self)
    check(*_both(f), rand(3, 4, dtype=np.float64, seed=3), rand(3, 4, dtype=np.float64, seed=4))
    check(*_both(f), np.ones((3, 4)), np.ones((3, 4)))   # all tied


def test_gradcheck_with_duplicates():
    x = rand(3, 4, dtype=np.float64, seed=5)
    src = rand(2, 4, dtype=np.float64, seed=6)
    gradcheck(lambda a: a.gather(1, ember.tensor(IDX_G)), x)
    gradcheck(lambda a, s: a.scatter_add(0, ember.tensor(IDX_S0), s), x, src)
    gradcheck(lambda a, s: a.index_add(1, ember.tensor([1, 1, 1, 0]), s, alpha=3),
              x, rand(3, 4, dtype=np.float64))
    gradcheck(lambda a: a.index_select(0, ember.tensor([2, 2, 0, 2])), x)
    gradcheck(lambda a: a.take(ember.tensor([[1, 1], [11, 1]])), x)
    gradcheck(lambda a, v: a.masked_fill(ember.tensor(MASK_34), v), x, np.array(0.5))
    gradcheck(lambda a, s: a.masked_scatter(ember.tensor(MASK_34), s), x,
              rand(12, dtype=np.float64))


def test_embedding_style_backward():
    table = rand(1000, 64, seed=7)
    idx = RNG.integers(0, 1000, 2000)
    check(lambda w: w.index_select(0, E(idx)), lambda w: w.index_select(0, T(idx)), table)
    check(lambda w: w.index_select(1, E(idx % 64)), lambda w: w.index_select(1, T(idx % 64)),
          table[:50])
    src = rand(2000, 64, seed=8)
    check(lambda w, s: w.index_add(0, E(idx), s), lambda w, s: w.index_add(0, T(idx), s),
          table, src, rtol=1e-5, atol=1e-5)


@pytest.mark.cuda
@pytest.mark.parametrize('name,fn,shapes', OPS, ids=[o[0] for o in OPS])
def test_op_cuda_matches_cpu(name, fn, shapes):
    arrays = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    results = []
    for device in ('cpu', 'cuda'):
        ts = [ember.tensor(a, device=device, requires_grad=True) for a in arrays]
        out = fn(ember, *ts)
        out.backward(ember.ones(out.shape, device=device))
        results.append([out.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in ts])
    for c, g in zip(*results):
        np.testing.assert_allclose(c, g, rtol=1e-5, atol=1e-6)


# ---- in-place variants -------------------------------------------------------------------
INPLACE = [
    ('scatter_', lambda L, x, s: x.scatter_(1, _i(L, IDX_S), s[:2, :3])),
    ('scatter_value_', lambda L, x, s: x.scatter_(1, _i(L, IDX_S), 4.0)),
    ('scatter_add_', lambda L, x, s: x.scatter_add_(0, _i(L, IDX_S0), s[:2])),
    ('scatter_reduce_', lambda L, x, s: x.scatter_reduce_(0, _i(L, IDX_S0), s[:2], 'amax',
                                                          include_self=False)),
    ('index_add_', lambda L, x, s: x.index_add_(0, _i(L, IDX_V), s, alpha=2)),
    ('index_copy_', lambda L, x, s: x.index_copy_(0, _i(L, [1, 3]), s[:2])),
    ('index_fill_', lambda L, x, s: x.index_fill_(1, _i(L, [0, 2]), -2.0)),
    ('index_reduce_', lambda L, x, s: x.index_reduce_(0, _i(L, IDX_V), s, 'mean')),
    ('masked_fill_', lambda L, x, s: x.masked_fill_(_i(L, MASK_34[0]), 9.0)),
    ('masked_scatter_', lambda L, x, s: x.masked_scatter_(_i(L, MASK_34[0]), s)),
    ('put_', lambda L, x, s: x.put_(_i(L, [0, 4, 4]), s[0, :3], accumulate=True)),
    ('index_put_', lambda L, x, s: x.index_put_((_i(L, [3, 1]),), s[:2])),
]


@pytest.mark.parametrize('name,fn', INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_parity(name, fn):
    def run(L, x, s):
        y = x * 1.0
        r = fn(L, y, s)
        assert r is y
        return y
    check(*_both(run), rand(4, 4, seed=9), rand(4, 4, seed=10))
    _check_direct_writes(fn)
    x = ember.zeros(4, 4)
    fn(ember, x, ember.tensor(rand(4, 4, seed=14)))
    assert x._version == 1


def _check_direct_writes(fn):
    """In-place without autograd: on a transposed tensor and on a view (the base changes)."""
    outs = []
    for L in (ember, torch):
        with L.no_grad():
            base = L.tensor(rand(4, 4, seed=11))
            fn(L, base.t(), L.tensor(rand(4, 4, seed=12)))
            big = L.tensor(rand(5, 4, seed=13))
            fn(L, big[1:], L.tensor(rand(4, 4, seed=14)))
        outs.append((base.numpy().copy(), big.numpy().copy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_inplace_scatter_multiply_no_grad():
    _check_direct_writes(lambda L, x, s: x.scatter_(0, _i(L, IDX_S0), s[:2], reduce='multiply'))
    _check_direct_writes(lambda L, x, s: x.scatter_(0, _i(L, IDX_S0), 2.0, reduce='add'))


def test_inplace_on_view_updates_base_graph():
    def f(L, x, s):
        y = x * 1.0
        y[1:].index_add_(0, _i(L, [0, 0, 2]), s)
        y[:, 0].masked_fill_(_i(L, [True, False, True, False]), 0.0)
        return y
    check(*_both(f), rand(4, 3, seed=15), rand(3, 3, seed=16))


def test_inplace_leaf_error():
    x = ember.zeros(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match='leaf Variable that requires grad'):
        x.index_fill_(0, ember.tensor([0]), 1.0)


def test_grad_fn_names():
    x = ember.ones(3, 4, requires_grad=True)
    xt = torch.ones(3, 4, requires_grad=True)
    for fn in [lambda L, a: a.gather(1, _i(L, [[0]])), lambda L, a: a.scatter(1, _i(L, [[0]]), 1.),
               lambda L, a: a.scatter(1, _i(L, [[0]]), L.ones(1, 1)),
               lambda L, a: a.scatter_add(1, _i(L, [[0]]), L.ones(1, 1)),
               lambda L, a: a.scatter_reduce(1, _i(L, [[0]]), L.ones(1, 1), 'amax'),
               lambda L, a: a.index_select(0, _i(L, [0])),
               lambda L, a: a.index_add(0, _i(L, [0]), L.ones(1, 4)),
               lambda L, a: a.index_copy(0, _i(L, [0]), L.ones(1, 4)),
               lambda L, a: a.index_fill(0, _i(L, [0]), 1.),
               lambda L, a: a.index_reduce(0, _i(L, [0]), L.ones(1, 4), 'prod'),
               lambda L, a: a.masked_fill(a > 0, 1.), lambda L, a: a.masked_select(a > 0),
               lambda L, a: a.masked_scatter(a > 0, L.ones(12)),
               lambda L, a: a.take(_i(L, [0])), lambda L, a: a.take_along_dim(_i(L, [[0]]), 1),
               lambda L, a: a.put(_i(L, [0]), L.ones(1)),
               lambda L, a: L.select_scatter(a, L.ones(4), 0, 1),
               lambda L, a: L.slice_scatter(a, L.ones(1, 4), 0, 1, 2),
               lambda L, a: L.diagonal_scatter(a, L.ones(3)),
               lambda L, a: a.index_put((_i(L, [0]),), L.ones(1))]:
        assert fn(ember, x).grad_fn.name() == fn(torch, xt).grad_fn.name()


# ---- nonzero -----------------------------------------------------------------------------
@pytest.mark.parametrize('a', [np.array([[0., 1.5], [2., 0.]]), np.array(3.0), np.array(0),
                               np.zeros((2, 0)), np.array([True, False, True]),
                               (rand(3, 4, 5, seed=17) > 0).astype(np.int32)],
                         ids=['2d', '0d', '0d_zero', 'empty', 'bool', '3d_int'])
def test_nonzero_and_argwhere(a):
    for as_tuple in (False, True):
        check(lambda x: ember.nonzero(x, as_tuple=as_tuple),
              lambda x: torch.nonzero(x, as_tuple=as_tuple), a, grad=False)
    check(lambda x: x.nonzero(), None, a, grad=False)
    check(lambda x: ember.argwhere(x), lambda x: torch.argwhere(x), a, grad=False)
    check(lambda x: x.argwhere(), None, a, grad=False)


def test_out_arguments():
    x = rand(3, 4, seed=18)
    for name, args in [('gather', (1, IDX_G)), ('index_select', (0, IDX_V)),
                       ('take', (IDX_G,)), ('masked_select', (MASK_34,))]:
        oe, ot = ember.empty(0), torch.empty(0)
        ra = [E(a) if isinstance(a, np.ndarray) else a for a in args]
        rt = [T(a) if isinstance(a, np.ndarray) else a for a in args]
        r = getattr(ember, name)(E(x), *ra, out=oe)
        getattr(torch, name)(T(x), *rt, out=ot)
        assert r is oe
        np.testing.assert_allclose(oe.numpy(), ot.numpy())


# ---- errors -------------------------------------------------------------------------------
ERRORS = [
    lambda L, x: x.gather(1, _i(L, IDX_G).float()),
    lambda L, x: x.gather(1, _i(L, [0, 1])),
    lambda L, x: x.gather(1, _i(L, [[0, 5]])),
    lambda L, x: x.gather(1, _i(L, [[-1]])),
    lambda L, x: x.gather(1, L.zeros(4, 2, dtype=L.int64)),
    lambda L, x: x.gather(2, _i(L, IDX_G)),
    lambda L, x: x.scatter(1, _i(L, IDX_S), L.ones(1, 1)),
    lambda L, x: x.scatter(1, _i(L, [[7]]), 9.),
    lambda L, x: x.scatter(1, _i(L, IDX_S), L.ones(2, 3, dtype=L.float64)),
    lambda L, x: x.scatter(1, _i(L, IDX_S), 9., reduce='mean'),
    lambda L, x: x.scatter(1, _i(L, [0]), 1.),
    lambda L, x: x.scatter(1, _i(L, [[0]]), L.tensor(2.)),
    lambda L, x: x.scatter(0, _i(L, [[0, 1, 2, 0, 1]]), 1.),
    lambda L, x: x.scatter_add(1, L.zeros(4, 1, dtype=L.int64), L.ones(4, 1)),
    lambda L, x: x.scatter_reduce(1, _i(L, IDX_S), L.ones(2, 3), 'foo'),
    lambda L, x: x.index_select(0, _i(L, [[0]])),
    lambda L, x: x.index_select(0, _i(L, [5])),
    lambda L, x: x.index_select(0, _i(L, [-1])),
    lambda L, x: x.index_select(0, _i(L, [1.])),
    lambda L, x: L.tensor(2.).index_select(0, _i(L, [0, 0])),
    lambda L, x: x.index_add(0, _i(L, [0, 0]), L.ones(2, 3)),
    lambda L, x: x.index_add(0, _i(L, [0, 5]), L.ones(2, 4)),
    lambda L, x: x.index_add(0, _i(L, [0, 0]), L.ones(2, 4, dtype=L.float64)),
    lambda L, x: x.index_add(0, _i(L, [0, 0]), L.ones(3, 4)),
    lambda L, x: x.index_add(0, _i(L, [[0]]), L.ones(1, 4)),
    lambda L, x: x.index_add(0, _i(L, [0.]), L.ones(1, 4)),
    lambda L, x: x.index_copy(0, _i(L, [0, 0]), L.ones(3, 4)),
    lambda L, x: x.index_copy(0, _i(L, [0, 5]), L.ones(2, 4)),
    lambda L, x: x.index_copy(0, _i(L, [0]), L.ones(1, 3)),
    lambda L, x: x.index_copy(0, _i(L, [0], L.int32), L.ones(1, 4)),
    lambda L, x: x.index_copy(0, _i(L, 0), L.ones(4)),
    lambda L, x: x.index_fill(0, _i(L, [0, 5]), 1),
    lambda L, x: x.index_fill(0, _i(L, [[0]]), 1),
    lambda L, x: x.index_fill(0, _i(L, [0], L.int32), 1),
    lambda L, x: x.index_fill(0, _i(L, [0]), L.tensor([1.])),
    lambda L, x: x.index_reduce(0, _i(L, [0]), L.ones(1, 4), 'sum'),
    lambda L, x: x.index_reduce(0, _i(L, [5]), L.ones(1, 4), 'amax'),
    lambda L, x: x.masked_fill(_i(L, [1, 0, 1, 0]), 1.),
    lambda L, x: x.masked_fill(_i(L, [True, False, True]), 1.),
    lambda L, x: x.masked_fill(_i(L, [True] * 4), L.tensor([1.])),
    lambda L, x: x.masked_fill_(L.ones(2, 3, 4, dtype=L.bool), 1.),
    lambda L, x: x.masked_scatter(_i(L, [True] * 4), L.arange(2.)),
    lambda L, x: x.masked_scatter(_i(L, [True] * 4), L.arange(20.).double()),
    lambda L, x: x.masked_scatter(_i(L, [1, 0, 1, 0]), L.arange(20.)),
    lambda L, x: x.masked_select(_i(L, [1, 0, 1, 0])),
    lambda L, x: x.masked_select(L.ones(2, 3, dtype=L.bool)),
    lambda L, x: x.take(_i(L, [12])),
    lambda L, x: x.take(_i(L, [-13])),
    lambda L, x: x.take(_i(L, [1.])),
    lambda L, x: L.zeros(0).take(_i(L, [0])),
    lambda L, x: L.take_along_dim(x, _i(L, [[0, 3]]), 0),
    lambda L, x: L.take_along_dim(x, _i(L, [0, 3]), 0),
    lambda L, x: L.take_along_dim(x, _i(L, [12])),
    lambda L, x: x.put(_i(L, [0, 12]), L.ones(2)),
    lambda L, x: x.put(_i(L, [0, 1]), L.ones(1)),
    lambda L, x: x.put(_i(L, [0, 1]), L.ones(2, dtype=L.float64)),
    lambda L, x: x.put(_i(L, [0], L.int32), L.ones(1)),
    lambda L, x: L.select_scatter(x, L.ones(3), 0, 1),
    lambda L, x: L.select_scatter(x, L.ones(4), 0, 5),
    lambda L, x: L.slice_scatter(x, L.ones(2, 4), 0, 1, 2),
    lambda L, x: L.slice_scatter(x, L.ones(3, 2), 1, step=0),
    lambda L, x: L.diagonal_scatter(x, L.ones(2)),
    lambda L, x: L.diagonal_scatter(x, L.ones(3), 0, 0, 0),
]


@pytest.mark.parametrize('i', range(len(ERRORS)))
def test_errors_match_torch(i):
    fn = ERRORS[i]

    def run(L):
        try:
            fn(L, L.tensor(rand(3, 4, seed=19)))
        except Exception as e:   # noqa: BLE001 - compared with torch's exception
            return e
        raise AssertionError('no exception raised')
    et, ee = run(torch), run(ember)
    assert type(ee) is type(et), (ee, et)
    assert str(ee).replace('ember.', 'torch.') == str(et).replace('torch.take_along_dim',
                                                                  'take_along_dim'), (ee, et)
