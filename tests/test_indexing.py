"""t[index] and t[index] = value against torch: every index form, views, gradients, errors."""
import numpy as np
import pytest
import torch

import ember
from tests.helpers import E, T, check, gradcheck, rand, noncontig, to_np

pytestmark = [pytest.mark.filterwarnings('ignore:.*non-tuple sequence'),
              pytest.mark.filterwarnings('ignore:.*uint8')]

MASK3 = rand(4, 5, 6, seed=11) > 0.3
MASK2 = rand(4, 5, seed=12) > 0

# Index expressions for a (4, 5, 6) tensor, built with each library (L = ember or torch).
GETITEM = [
    ('int', lambda L: 1),
    ('neg_int', lambda L: -1),
    ('ints', lambda L: (1, 2)),
    ('all_ints_0d', lambda L: (1, 2, 3)),
    ('np_int', lambda L: np.int64(2)),
    ('slice', lambda L: slice(1, 3)),
    ('slice_step', lambda L: (slice(None), slice(0, 5, 2))),
    ('slice_neg_bounds', lambda L: slice(-3, -1)),
    ('slice_past_end', lambda L: slice(2, 100)),
    ('slice_empty', lambda L: slice(3, 1)),
    ('slice_full', lambda L: (slice(None), slice(0, 5))),
    ('slice_tensor_bounds', lambda L: slice(L.tensor(1), L.tensor(3))),
    ('none', lambda L: None),
    ('none_mid', lambda L: (slice(None), None, 1)),
    ('ellipsis', lambda L: Ellipsis),
    ('ellipsis_int', lambda L: (Ellipsis, 2)),
    ('int_ellipsis_none', lambda L: (0, Ellipsis, None)),
    ('list_dups', lambda L: [0, 2, 2, 3]),
    ('list_neg', lambda L: [-1, 0, -4]),
    ('tuple_in_tuple', lambda L: (slice(None), (0, 1, 1))),
    ('tensor', lambda L: L.tensor([3, 0, 3])),
    ('tensor_int32', lambda L: L.tensor([3, 0, 3], dtype=L.int32)),
    ('tensor_2d', lambda L: L.tensor([[0, 1], [1, 1]])),
    ('numpy_ints', lambda L: np.array([1, 1, 2])),
    ('numpy_int32', lambda L: np.array([2, 0], np.int32)),
    ('tensor_0d', lambda L: L.tensor(2)),
    ('tensor_0d_tuple', lambda L: (L.tensor(1), slice(None), L.tensor(0))),
    ('adv_dim1', lambda L: (slice(None), [0, 4, 4])),
    ('adv_last', lambda L: (Ellipsis, [5, 0, 5])),
    ('adv_pair', lambda L: ([0, 1, 1], [2, 2, 3])),
    ('adv_triple', lambda L: ([0, 1, 1], [2, 2, 3], [5, 5, 5])),
    ('adv_broadcast_sep', lambda L: (L.tensor([[0], [3]]), slice(None), L.tensor([1, 2, 2]))),
    ('adv_int_sep', lambda L: (0, slice(None), [1, 2, 1])),
    ('adv_int_adjacent', lambda L: ([1, 0], 2, [3, 3])),
    ('adv_none_between', lambda L: ([1, 1], None, [2, 0])),
    ('adv_slice_step', lambda L: ([1, 2], slice(None, None, 2))),
    ('adv_adjacent_mid', lambda L: (slice(1, 3), [0, 0, 4], [5, 5, 1])),
    ('adv_2d_sep', lambda L: ([[0, 1], [3, 3]], slice(1, 4), [[5], [0]])),
    ('adv_after_none', lambda L: (None, slice(None), [1, 1])),
    ('mask_full', lambda L: L.tensor(MASK3)),
    ('mask_dim0', lambda L: L.tensor([True, False, True, True])),
    ('mask_2d', lambda L: L.tensor(MASK2)),
    ('mask_2d_then_slice', lambda L: (L.tensor(MASK2), slice(1, 4))),
    ('mask_last', lambda L: (Ellipsis, L.tensor([True, False, True, False, False, True]))),
    ('mask_mid_with_int', lambda L: (1, L.tensor([True, False, True, False, True]))),
    ('mask_and_adv', lambda L: (L.tensor([True, False, True, True]), slice(None), [0, 1, 5])),
    ('mask_and_adv_adjacent', lambda L: (L.tensor([True, False, True, True]), [0, 1, 4])),
    ('numpy_mask', lambda L: np.array([False, True, True, False])),
    ('list_bools', lambda L: [True, False, False, True]),
    ('py_true', lambda L: True),
    ('py_false', lambda L: False),
    ('py_bool_tuple', lambda L: (0, True)),
    ('py_bools_adv', lambda L: ([0, 1], slice(None), True)),
    ('bool_0d_tensor', lambda L: L.tensor(True)),
    ('numpy_bool_0d', lambda L: np.array(False)),
    ('empty_list', lambda L: []),
    ('empty_tensor', lambda L: L.tensor([], dtype=L.int64)),
    ('empty_mask', lambda L: L.zeros(4, dtype=L.bool)),
    ('empty_adv_dim1', lambda L: (slice(None), L.tensor([], dtype=L.int64))),
    ('mixed', lambda L: (None, L.tensor([1, 0]), Ellipsis, slice(1, None), None)),
    ('list_as_tuple', lambda L: [0, slice(None), 1]),
    ('list_nested_as_tuple', lambda L: [[0, 1], [2, 2]]),
    ('numpy_floats_truncate', lambda L: np.array([1.7, 0.2])),
]


def _pair(spec):
    return (lambda x: x[spec(ember)]), (lambda x: x[spec(torch)])


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('name,spec', GETITEM, ids=[n for n, _ in GETITEM])
def test_getitem_parity(name, spec, dtype):
    fe, ft = _pair(spec)
    check(fe, ft, rand(4, 5, 6, dtype=dtype, seed=1))


@pytest.mark.parametrize('name,spec', GETITEM[::3], ids=[n for n, _ in GETITEM[::3]])
def test_getitem_noncontiguous_and_int(name, spec):
    fe, ft = _pair(spec)
    a = noncontig(rand(4, 5, 6, seed=2))
    assert not E(a).is_contiguous()
    check(fe, ft, a)
    check(fe, ft, (rand(4, 5, 6, seed=3) * 10).astype(np.int64), grad=False)
    check(fe, ft, rand(4, 5, 6, seed=3) > 0, grad=False)


@pytest.mark.parametrize('spec', [lambda L: Ellipsis, lambda L: None, lambda L: True,
                                  lambda L: False, lambda L: (None, Ellipsis, None),
                                  lambda L: L.tensor(True)])
def test_getitem_0d(spec):
    fe, ft = _pair(spec)
    check(fe, ft, np.array(2.5))


def test_getitem_views_share_memory():
    x = ember.tensor(np.arange(12.).reshape(3, 4))
    for v in (x[1:], x[0], x[:, 1], x[None], x[...], x[1, 2], x[::2, 1:3]):
        assert v._base is x
    v = x[1:]
    v.add_(1)
    assert x[1, 0].item() == 5.0 and x._version == 1 and v._version == 1
    x[0][1] = 50
    assert x.tolist()[0][1] == 50.0 and x._version == 2
    w = x[2]
    x.mul_(2)
    assert w.tolist() == [18.0, 20.0, 22.0, 24.0]
    y = x[[0, 1]]
    assert y._base is None
    y.add_(100)
    assert x.tolist()[0][0] == 0.0


def test_getitem_grad_fn_names():
    x = ember.ones(3, 4, requires_grad=True)
    names = {'x[0]': x[0], 'x[1:]': x[1:], 'x[None]': x[None], 'x[...]': x[...],
             'x[:]': x[:], 'x[:, 0:4]': x[:, 0:4], 'x[1:, 0]': x[1:, 0], 'x[0, 1:]': x[0, 1:],
             'x[[0]]': x[[0]], 'x[x > 0]': x[x > 0]}
    xt = torch.ones(3, 4, requires_grad=True)
    torch_names = {'x[0]': xt[0], 'x[1:]': xt[1:], 'x[None]': xt[None], 'x[...]': xt[...],
                   'x[:]': xt[:], 'x[:, 0:4]': xt[:, 0:4], 'x[1:, 0]': xt[1:, 0],
                   'x[0, 1:]': xt[0, 1:], 'x[[0]]': xt[[0]], 'x[x > 0]': xt[xt > 0]}
    for k, v in names.items():
        assert v.grad_fn.name() == torch_names[k].grad_fn.name(), k


def test_getitem_backward_accumulates_duplicates():
    x = ember.zeros(5, 3, requires_grad=True)
    x[ember.tensor([1, 1, 4, 1])].backward(ember.ones(4, 3))
    assert x.grad.tolist() == [[0] * 3, [3] * 3, [0] * 3, [0] * 3, [1] * 3]
    table = rand(50, 64, seed=4)
    idx = np.random.default_rng(5).integers(0, 50, 300)
    check(lambda w: w[E(idx)], lambda w: w[T(idx)], table)
    check(lambda w: w[:, E(idx[:40] % 64)], lambda w: w[:, T(idx[:40] % 64)], table)


def test_gradcheck_getitem_duplicates():
    a = rand(4, 5, dtype=np.float64, seed=6)
    gradcheck(lambda x: x[ember.tensor([0, 0, 3, 0])], a)
    gradcheck(lambda x: x[[1, 1], :, None][:, [2, 2, 0]], a)
    gradcheck(lambda x: x[ember.tensor([[0], [2]]), ember.tensor([1, 1, 4])], a)
    gradcheck(lambda x: x[1:, ::2][ember.tensor(MASK2[:3, ::2])], a)


# ---- errors -------------------------------------------------------------------------------
GETITEM_ERRORS = [
    lambda L: 5, lambda L: -5, lambda L: (slice(None), 6), lambda L: (0, 0, 0, 0),
    lambda L: slice(None, None, -1), lambda L: (slice(None), slice(None, None, 0)),
    lambda L: 1.5, lambda L: (0, np.float64(1.0)), lambda L: np.bool_(True),
    lambda L: L.tensor([1.5]), lambda L: L.tensor(1.0), lambda L: L.tensor([1], dtype=L.int16),
    lambda L: [0, 4], lambda L: L.tensor([0, -5]), lambda L: (slice(None), L.tensor([0, 5])),
    lambda L: ([0, 1], [0, 1, 2]), lambda L: (0, [1], [9]),
    lambda L: L.tensor([True, False, True]), lambda L: L.tensor([[True] * 5] * 3),
    lambda L: (Ellipsis, L.tensor([True, False])), lambda L: L.ones(4, 5, 6, 2, dtype=L.bool),
    lambda L: (None, 0, 7), lambda L: (Ellipsis, 9), lambda L: 'a',
]


def _error(fn):
    try:
        fn()
    except Exception as e:   # noqa: BLE001 - comparing with torch's exception
        return e
    raise AssertionError('no exception raised')


@pytest.mark.parametrize('i', range(len(GETITEM_ERRORS)))
def test_getitem_errors_match_torch(i):
    spec = GETITEM_ERRORS[i]
    a = rand(4, 5, 6, seed=7)
    et = _error(lambda: T(a)[spec(torch)])
    ee = _error(lambda: E(a)[spec(ember)])
    assert type(ee) is type(et), (ee, et)
    assert str(ee) == str(et).replace('torch.', 'ember.')


def test_getitem_errors_0d():
    x, xt = ember.tensor(2.0), torch.tensor(2.0)
    for idx in (0, slice(0, 1), [0]):
        et, ee = _error(lambda: xt[idx]), _error(lambda: x[idx])
        assert type(ee) is type(et) and str(ee) == str(et)


# ---- setitem ------------------------------------------------------------------------------
SETITEM = [   # (name, index spec, value shape)
    ('int', lambda L: 1, (5, 6)),
    ('int_broadcast', lambda L: 1, (6,)),
    ('int_leading_ones', lambda L: 2, (1, 1, 5, 6)),
    ('col', lambda L: (slice(None), 0), (4, 6)),
    ('slice_broadcast', lambda L: (Ellipsis, slice(1, 3)), (1, 2)),
    ('none', lambda L: None, (5, 6)),
    ('scalar_like', lambda L: (0, 1, 2), ()),
    ('adv', lambda L: L.tensor([0, 2]), (2, 5, 6)),
    ('adv_broadcast', lambda L: [3, 1], (5, 1)),
    ('adv_dim1', lambda L: (slice(1, None), [0, 2]), (3, 2, 6)),
    ('adv_sep', lambda L: ([0, 1], slice(None), [2, 5]), (2, 5)),
    ('mask', lambda L: L.tensor(MASK3), (int(MASK3.sum()),)),
    ('mask_scalar_tensor', lambda L: L.tensor(MASK3), ()),
    ('mask_rows', lambda L: L.tensor([True, False, False, True]), (2, 5, 6)),
    ('mask_2d_broadcast', lambda L: L.tensor(MASK2), (6,)),
    ('py_bool', lambda L: True, (4, 5, 6)),
]


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('name,spec,vshape', SETITEM, ids=[s[0] for s in SETITEM])
def test_setitem_grads_to_base_and_value(name, spec, vshape, dtype):
    def make(L):
        def f(base, value):
            x = base * 1.0
            x[spec(L)] = value
            return x
        return f
    check(make(ember), make(torch), rand(4, 5, 6, dtype=dtype, seed=8),
          rand(*vshape, dtype=dtype, seed=9))


@pytest.mark.parametrize('name,spec,vshape', SETITEM, ids=[s[0] for s in SETITEM])
def test_setitem_scalar_value(name, spec, vshape):
    def make(L):
        def f(base):
            x = base * 1.0
            x[spec(L)] = 3.5
            return x
        return f
    check(make(ember), make(torch), rand(4, 5, 6, seed=10))
    ints = (rand(4, 5, 6, seed=10) * 10).astype(np.int64)
    for value in (7, 2.9, True):
        def g(L, value=value):
            def f(x):
                x = x.clone()
                x[spec(L)] = value
                return x
            return f
        check(g(ember), g(torch), ints, grad=False)


def test_setitem_leaf_without_grad_and_value_with_grad():
    for L in (ember, torch):
        x = L.zeros(3, 4)
        v = L.ones(4, requires_grad=True)
        x[1] = v * 2
        assert x.requires_grad and not x.is_leaf
        assert x.grad_fn.name().endswith('CopySlices')
        x.backward(L.ones(3, 4) * 3)
        assert v.grad.tolist() == [6.0] * 4
    x = ember.zeros(3, 4)
    w = ember.ones(2, 4, requires_grad=True)
    x[[0, 2]] = w
    assert x.grad_fn.name() == 'IndexPutBackward0'
    (x * ember.tensor([[1.], [2.], [3.]])).backward(ember.ones(3, 4))
    assert w.grad.tolist() == [[1.0] * 4, [3.0] * 4]


def test_setitem_on_views():
    def f(L):
        def run(base, v1, v2, v3):
            x = base * 1.0
            x[0][1] = v1             # a view of a view
            x[:, 0] = v2
            x[1:][x[1:] > 0.5] = 0.0
            y = x[2]
            y[[0, 3]] = v3
            return x
        return run
    check(f(ember), f(torch), rand(4, 5, 6, seed=13), rand(6, seed=14), rand(4, 6, seed=15),
          rand(2, 6, seed=16))


@pytest.mark.parametrize('kind', range(5))
def test_augmented_assignment_through_index(kind):
    def f(L):
        def run(x, v):
            y = x * 1.0
            if kind == 0:
                y[1:] += v[0]
            elif kind == 1:
                y[[0, 2]] += v[:2]
            elif kind == 2:
                y[:, 1] *= v[:, 0]
            elif kind == 3:
                y[y > 0] -= 1.0
            else:
                y[0][1:3] /= v[1, :2] + 3.0
            return y
        return run
    check(f(ember), f(torch), rand(3, 4, seed=1), rand(3, 4, seed=2))


def test_setitem_leaf_requires_grad_errors_and_no_grad_writes():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match='a leaf Variable that requires grad'):
        x[0] = 2
    with pytest.raises(RuntimeError, match='a view of a leaf Variable'):
        x[1:][0] = 2
    with ember.no_grad():
        x[0] = 5
        x[ember.tensor([True, False, True])] = 7
    assert x.tolist() == [7.0, 1.0, 7.0] and x.is_leaf and x.grad_fn is None
    assert x._version == 2


def test_setitem_value_types():
    x = ember.zeros(2, 3)
    x[0] = [1, 2, 3]
    x[1] = np.array([4.5, 5.5, 6.5])
    x[:, 0] = np.float64(9)
    assert x.tolist() == [[9.0, 2.0, 3.0], [9.0, 5.5, 6.5]]
    i = ember.zeros(3, dtype=ember.int64)
    i[0] = 2.7
    i[1:] = ember.tensor([1.9, -2.9])
    assert i.tolist() == [2, 1, -2]
    b = ember.zeros(3, dtype=ember.bool)
    b[1] = 2
    assert b.tolist() == [False, True, False]
    u = ember.zeros(2, dtype=ember.uint8)
    u[0] = -1
    assert u.tolist() == [255, 0]
    with pytest.raises(TypeError, match="can't assign a str to a ember.FloatTensor"):
        x[0] = 'a'
    with pytest.raises(TypeError, match="can't assign a NoneType"):
        x[0] = None


SETITEM_ERRORS = [
    (lambda L: 0, lambda L: L.ones(4)),
    (lambda L: 0, lambda L: L.ones(2, 3)),
    (lambda L: 0, lambda L: L.ones(2, 1, 3)),
    (lambda L: [0, 1], lambda L: L.ones(4)),
    (lambda L: [0, 1], lambda L: L.ones(2, 1, 3)),
    (lambda L: L.tensor([[True, False, True], [False, False, False]]), lambda L: L.ones(3)),
    (lambda L: [0], lambda L: L.ones(3, dtype=L.float64)),
    (lambda L: [0], lambda L: L.tensor(1)),
    (lambda L: 5, lambda L: 1.0),
    (lambda L: [5], lambda L: 1.0),
]


@pytest.mark.parametrize('i', range(len(SETITEM_ERRORS)))
def test_setitem_errors_match_torch(i):
    idx, val = SETITEM_ERRORS[i]

    def run(L):
        x = L.zeros(2, 3)
        x[idx(L)] = val(L)
    et, ee = _error(lambda: run(torch)), _error(lambda: run(ember))
    assert type(ee) is type(et), (ee, et)
    assert str(ee) == str(et).replace('torch.', 'ember.')


# ---- index_put ----------------------------------------------------------------------------
@pytest.mark.parametrize('accumulate', [False, True])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_index_put(accumulate, dtype):
    idx = [0, 2, 2, 1] if accumulate else [0, 2, 1]

    def f(L, inplace):
        def run(x, v):
            x = x * 1.0
            indices = (L.tensor(idx), L.tensor([1] * len(idx)))
            if inplace:
                return x.index_put_(indices, v, accumulate)
            return L.index_put(x, indices, v, accumulate=accumulate)
        return run
    for inplace in (False, True):
        check(f(ember, inplace), f(torch, inplace), rand(3, 4, 5, dtype=dtype, seed=17),
              rand(len(idx), 5, dtype=dtype, seed=18))
        check(f(ember, inplace), f(torch, inplace), rand(3, 4, 5, dtype=dtype, seed=17),
              rand(5, dtype=dtype, seed=18))


def test_index_put_accumulate_mask_and_no_grad():
    def f(L):
        def run(x, v):
            return x.index_put((L.tensor(MASK2[:3, :4]),), v, accumulate=True)
        return run
    check(f(ember), f(torch), rand(3, 4, 2, seed=19), rand(2, seed=20))
    x = ember.zeros(4, 3)
    x.index_put_((ember.tensor([1, 1, 3]),), ember.ones(3), accumulate=True)
    assert x.tolist() == [[0] * 3, [2] * 3, [0] * 3, [1] * 3] and x._version == 1
    gradcheck(lambda x, v: x.index_put((ember.tensor([0, 0, 2]),), v, accumulate=True),
              rand(3, 2, dtype=np.float64), rand(3, 2, dtype=np.float64))


def test_index_put_errors():
    x, xt = ember.zeros(3, 4), torch.zeros(3, 4)
    cases = [lambda L, t: t.index_put((L.tensor([0]), None), L.ones(1)),
             lambda L, t: t.index_put((L.tensor([0]),), 1.0),
             lambda L, t: t.index_put((L.tensor([0]),), L.ones(1, dtype=L.float64)),
             lambda L, t: t.index_put((L.tensor([0]),) * 3, L.ones(1)),
             lambda L, t: t.index_put((L.tensor([5]),), L.ones(1)),
             lambda L, t: t.index_put((L.tensor([0, 1]),), L.ones(3))]
    for c in cases:
        et, ee = _error(lambda: c(torch, xt)), _error(lambda: c(ember, x))
        assert type(ee) is type(et) and str(ee) == str(et), (ee, et)


def test_setitem_large_embedding_like_accumulation():
    rng = np.random.default_rng(21)
    table = rand(1000, 40, seed=22)
    idx = rng.integers(0, 1000, 3000)
    check(lambda w: w[E(idx)], lambda w: w[T(idx)], table)      # rounds path (wide rows)
    check(lambda w: w[E(idx), 3], lambda w: w[T(idx), 3], table)  # narrow rows
    all_same = np.zeros(500, np.int64)
    check(lambda w: w[E(all_same)], lambda w: w[T(all_same)], table, rtol=1e-4, atol=1e-4)


@pytest.mark.cuda
def test_cuda_indexing_matches_cpu():
    a = rand(6, 5, seed=23)
    idx = np.array([0, 5, 5, -1])
    for fn in (lambda L, x: x[L.tensor(idx)], lambda L, x: x[1:, ::2],
               lambda L, x: x[:, [1, 1, 0]][x[:, [1, 1, 0]] > 0],
               lambda L, x: x[L.tensor([True, False] * 3), None, idx[:2]]):
        outs = []
        for device in ('cpu', 'cuda'):
            x = ember.tensor(a, device=device, requires_grad=True)
            y = fn(ember, x)
            y.backward(ember.ones(y.shape, device=device))
            outs.append((y.detach().cpu().numpy(), x.grad.cpu().numpy()))
        for c, g in zip(*outs):
            np.testing.assert_allclose(c, g, rtol=1e-6)
    x = ember.zeros(4, 3, device='cuda')
    x[ember.tensor([1, 1, 3])] = ember.ones(3)   # a CPU value and index on a CUDA tensor
    x.index_put_((ember.tensor([0, 0], device='cuda'),), ember.ones(3, device='cuda'),
                 accumulate=True)
    assert x.cpu().tolist() == [[2] * 3, [1] * 3, [0] * 3, [1] * 3]


def test_where_single_argument():
    a = np.array([[0.0, 1.5], [2.0, 0.0]])
    out = ember.where(E(a))
    ref = torch.where(T(a))
    assert len(out) == 2
    for o, r in zip(out, ref):
        assert o.dtype == ember.int64 and o.tolist() == r.tolist()
    assert to_np(out[0]).tolist() == [0, 1]
