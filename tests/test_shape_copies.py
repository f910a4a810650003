"""Copying shape ops of ember.ops.shape against torch: repeat, tile, repeat_interleave,
contiguous, cat/stack and friends, flip, roll, rot90, tril/triu, diag family, atleast_nd and
meshgrid (values, gradients, dtypes, grad_fn names and errors)."""
import warnings

import numpy as np
import pytest
import torch

import ember
from tests.helpers import E, T, gradcheck, assert_close, rand, noncontig
from tests.test_shape_views import both, same_error, grad_fn_name, ints

FLOATS = [np.float32, np.float64]


# ---- repeat, tile, repeat_interleave ------------------------------------------------------
REPEATS = [
    ('repeat', (2, 3), lambda L, x: x.repeat(2, 3)),
    ('repeat_tuple', (2, 3), lambda L, x: x.repeat((1, 2))),
    ('repeat_lead', (2, 3), lambda L, x: x.repeat(2, 1, 2)),
    ('repeat_zero', (2, 3), lambda L, x: x.repeat(0, 2)),
    ('repeat_0d', (), lambda L, x: x.repeat(2, 3)),
    ('repeat_0d_empty', (), lambda L, x: x.repeat(())),
    ('repeat_nc', (3, 2), lambda L, x: x.t().repeat(2, 2)),
    ('tile', (2, 3), lambda L, x: x.tile(2)),
    ('tile_fn', (2, 3), lambda L, x: L.tile(x, (2, 1, 3))),
    ('tile_kw', (2, 3), lambda L, x: L.tile(x, dims=(2, 2))),
    ('tile_empty', (2, 3), lambda L, x: x.tile(())),
    ('ri', (2, 3), lambda L, x: x.repeat_interleave(2)),
    ('ri_dim', (2, 3), lambda L, x: x.repeat_interleave(3, dim=1)),
    ('ri_dim_neg', (2, 3), lambda L, x: L.repeat_interleave(x, 2, -2)),
    ('ri_zero', (2, 3), lambda L, x: x.repeat_interleave(0, 1)),
    ('ri_tensor', (3, 2), lambda L, x: x.repeat_interleave(L.tensor([1, 0, 3]), dim=0)),
    ('ri_tensor_trailing_zero', (3, 2), lambda L, x: x.repeat_interleave(L.tensor([2, 1, 0]), 0)),
    ('ri_tensor_none', (2, 2), lambda L, x: x.repeat_interleave(L.tensor([1, 2, 0, 1]))),
    ('ri_tensor_all_zero', (3, 2), lambda L, x: x.repeat_interleave(L.tensor([0, 0]), 1)),
    ('ri_tensor_1elem', (3, 2), lambda L, x: x.repeat_interleave(L.tensor([2]), dim=1)),
    ('ri_tensor_0d', (3, 2), lambda L, x: x.repeat_interleave(L.tensor(2), dim=0)),
    ('ri_output_size', (3, 2), lambda L, x: x.repeat_interleave(2, 0, output_size=6)),
    ('ri_tensor_output_size', (3, 2),
     lambda L, x: x.repeat_interleave(L.tensor([1, 2, 1]), 0, output_size=4)),
    ('ri_0d', (), lambda L, x: x.repeat_interleave(3)),
    ('ri_nc', (3, 2), lambda L, x: x.t().repeat_interleave(L.tensor([2, 1, 1]), dim=1)),
]


@pytest.mark.parametrize('dtype', FLOATS)
@pytest.mark.parametrize('name,shape,fn', REPEATS, ids=[n for n, _, _ in REPEATS])
def test_repeats(name, shape, fn, dtype):
    e, t = both(fn, rand(*shape, dtype=dtype, seed=1))
    assert grad_fn_name(e) == grad_fn_name(t)


@pytest.mark.parametrize('name,shape,fn', REPEATS, ids=[n for n, _, _ in REPEATS])
def test_repeats_ints(name, shape, fn):
    both(fn, ints(*shape))


def test_repeat_interleave_counts_only():
    for counts in ([1, 2, 0, 3], [0], [2]):
        assert_close(ember.repeat_interleave(ember.tensor(counts)),
                     torch.repeat_interleave(torch.tensor(counts)))


def test_repeat_output_is_a_copy():
    x = E(rand(2, 3))
    y = x.repeat(1, 1)
    y.add_(1)
    assert not ember.equal(x, y) and x._version == 0


@pytest.mark.parametrize('fn,shape', [
    (lambda L, x: x.repeat(2), (2, 3)), (lambda L, x: x.repeat(-1, 2), (3, 4)),
    (lambda L, x: x.tile(-1, 2), (2, 3)), (lambda L, x: x.repeat(), (2, 3)),
    (lambda L, x: x.repeat_interleave(-1), (3, 4)),
    (lambda L, x: x.repeat_interleave(L.tensor([1, 2]), dim=0), (3, 4)),
    (lambda L, x: x.repeat_interleave(L.tensor([[1, 2]]), dim=0), (3, 4)),
    (lambda L, x: x.repeat_interleave(L.tensor([1, -2, 1]), dim=0), (3, 4)),
    (lambda L, x: x.repeat_interleave(L.tensor([1.0, 2, 1]), dim=0), (3, 4)),
    (lambda L, x: x.repeat_interleave(L.tensor([1, 2, 1]), dim=0, output_size=5), (3, 4)),
    (lambda L, x: x.repeat_interleave(2, dim=0, output_size=5), (3, 4)),
    (lambda L, x: x.repeat_interleave(2, dim=2), (3, 4)),
])
def test_repeat_errors(fn, shape):
    same_error(fn, rand(*shape, seed=2))


# ---- contiguous ---------------------------------------------------------------------------
def test_contiguous():
    x = E(rand(3, 4))
    assert x.contiguous() is x
    e, t = both(lambda L, x: x.t().contiguous(), rand(3, 4, seed=3))
    assert grad_fn_name(e) == grad_fn_name(t) == 'CloneBackward0'
    assert e.is_contiguous() and e.stride() == t.stride() and e._base is None
    e, t = both(lambda L, x: x.narrow(1, 1, 2).contiguous(), ints(3, 4))
    assert e.is_contiguous()
    y = E(noncontig(rand(3, 4)))
    assert not y.is_contiguous() and y.contiguous().is_contiguous()
    z, zt = E(rand(3, 1)).t(), T(rand(3, 1)).t()
    assert z.is_contiguous() == zt.is_contiguous() and (z.contiguous() is z)


# ---- cat and stack ------------------------------------------------------------------------
JOINS = [
    ('cat', [(2, 3), (4, 3)], lambda L, *x: L.cat(x)),
    ('cat_dim1', [(2, 3), (2, 1), (2, 0)], lambda L, *x: L.cat(x, 1)),
    ('cat_neg', [(2, 3, 1), (2, 3, 2)], lambda L, *x: L.cat(list(x), dim=-1)),
    ('cat_single', [(2, 3)], lambda L, *x: L.cat(x)),
    ('cat_skip_empty_1d', [(2, 3), (0,), (1, 3)], lambda L, *x: L.cat(x)),
    ('cat_skip_empty_dim1', [(0,), (2, 3), (2, 2)], lambda L, *x: L.cat(x, dim=1)),
    ('cat_all_empty', [(0,), (0,)], lambda L, *x: L.cat(x)),
    ('cat_all_empty_dim', [(0,), (0,)], lambda L, *x: L.cat(x, 1)),
    ('cat_empty_rows', [(0, 3), (2, 3)], lambda L, *x: L.cat(x)),
    ('cat_1d', [(3,), (2,)], lambda L, *x: L.cat(x)),
    ('concat', [(2, 3), (2, 3)], lambda L, *x: L.concat(x, 1)),
    ('concatenate', [(2, 3), (2, 3)], lambda L, *x: L.concatenate(x, axis=1)),
    ('cat_nc', [(3, 2), (3, 2)], lambda L, *x: L.cat([x[0].t(), x[1].t()], 0)),
    ('stack', [(2, 3), (2, 3)], lambda L, *x: L.stack(x)),
    ('stack_dim', [(2, 3), (2, 3), (2, 3)], lambda L, *x: L.stack(x, 1)),
    ('stack_last', [(2, 3), (2, 3)], lambda L, *x: L.stack(x, dim=-1)),
    ('stack_0d', [(), ()], lambda L, *x: L.stack(x)),
    ('stack_empty', [(0, 2), (0, 2)], lambda L, *x: L.stack(x, 2)),
    ('hstack', [(2, 3), (2, 1)], lambda L, *x: L.hstack(x)),
    ('hstack_1d', [(3,), (2,), ()], lambda L, *x: L.hstack(x)),
    ('vstack', [(2, 3), (3,)], lambda L, *x: L.vstack(x)),
    ('vstack_0d', [(), ()], lambda L, *x: L.vstack(x)),
    ('row_stack', [(3,), (3,)], lambda L, *x: L.row_stack(x)),
    ('dstack', [(2, 3), (2, 3, 2)], lambda L, *x: L.dstack(x)),
    ('dstack_1d', [(3,), (3,)], lambda L, *x: L.dstack(x)),
    ('column_stack', [(), (1, 2), (1,)], lambda L, *x: L.column_stack(x)),
    ('column_stack_3d', [(2, 2, 2), (2, 1, 2)], lambda L, *x: L.column_stack(x)),
    ('column_stack_1d', [(3,), (3, 2)], lambda L, *x: L.column_stack(x)),
]


@pytest.mark.parametrize('dtype', FLOATS)
@pytest.mark.parametrize('name,shapes,fn', JOINS, ids=[n for n, _, _ in JOINS])
def test_joins(name, shapes, fn, dtype):
    arrays = [rand(*s, dtype=dtype, seed=i) for i, s in enumerate(shapes)]
    e, t = both(fn, *arrays)
    assert grad_fn_name(e) == grad_fn_name(t)


@pytest.mark.parametrize('name,shapes,fn', JOINS, ids=[n for n, _, _ in JOINS])
def test_joins_ints_and_noncontig(name, shapes, fn):
    both(fn, *[ints(*s) for s in shapes])
    both(fn, *[noncontig(rand(*s, seed=i)) for i, s in enumerate(shapes)])


@pytest.mark.parametrize('dtypes', [
    ('int32', 'uint8', 'bool'), ('int64', 'float16'), ('float32', 'float64'),
    ('bool', 'bool'), ('int8', 'uint8'), ('float32', 'int64'),
])
@pytest.mark.parametrize('join', ['cat', 'stack', 'hstack', 'vstack'])
def test_join_dtype_promotion(dtypes, join):
    arrays = [(np.arange(4) % 3).reshape(2, 2).astype(d) for d in dtypes]
    e = getattr(ember, join)([E(a) for a in arrays])
    t = getattr(torch, join)([T(a) for a in arrays])
    assert_close(e, t)


def test_cat_dtype_promotion_counts_skipped_empties_and_grads():
    e = ember.cat([E(np.ones((2, 3), np.float32)), E(np.ones(0, np.float64))])
    t = torch.cat([T(np.ones((2, 3), np.float32)), T(np.ones(0, np.float64))])
    assert_close(e, t)
    e, t = both(lambda L, a, b: L.cat([a, b]), rand(2, 3, dtype=np.float64), rand(2, 3))
    for L, mk in ((ember, E), (torch, T)):
        emp = mk(np.ones(0), requires_grad=True)
        a = mk(rand(2, 3), requires_grad=True)
        L.cat([a, emp]).backward(mk(np.ones((2, 3), np.float32)))
        assert tuple(emp.grad.shape) == (0,)


def test_cat_stack_out():
    for fn in (lambda L, x, o: L.cat([x, x], out=o), lambda L, x, o: L.stack([x, x], out=o),
               lambda L, x, o: L.hstack([x, x], out=o)):
        a = rand(2, 3, seed=4)
        oe, ot = E(np.zeros((0,), np.float32)), T(np.zeros((0,), np.float32))
        re, rt = fn(ember, E(a), oe), fn(torch, T(a), ot)
        assert re is oe and rt is ot
        assert_close(oe, ot)


@pytest.mark.parametrize('fn,shapes', [
    (lambda L, *x: L.cat([]), []), (lambda L, *x: L.cat(x, 1), [(2, 3), (3, 2)]),
    (lambda L, *x: L.cat(x), [(2, 3), (3, 2)]), (lambda L, *x: L.cat(x), [(2, 3), (3,)]),
    (lambda L, *x: L.cat(x), [(), ()]), (lambda L, *x: L.cat(x, 2), [(0,), (2, 3)]),
    (lambda L, *x: L.cat(x, 2), [(2, 3)]), (lambda L, *x: L.cat([x[0], 1]), [(2, 3)]),
    (lambda L, *x: L.cat(x[0]), [(2, 3)]),
    (lambda L, *x: L.stack(x), [(2, 3), (3, 3)]), (lambda L, *x: L.stack([]), []),
    (lambda L, *x: L.stack(x, 3), [(2, 3), (2, 3)]),
    (lambda L, *x: L.hstack([]), []), (lambda L, *x: L.vstack([]), []),
    (lambda L, *x: L.dstack([]), []), (lambda L, *x: L.column_stack([]), []),
    (lambda L, *x: L.vstack(x), [(2, 3), (2,)]),
])
def test_join_errors(fn, shapes):
    same_error(fn, *[rand(*s, seed=5) for s in shapes])


# ---- flip, roll, rot90 --------------------------------------------------------------------
ORDERS = [
    ('flip', lambda L, x: x.flip(0)),
    ('flip_many', lambda L, x: x.flip(0, -1)),
    ('flip_fn', lambda L, x: L.flip(x, (1, 2))),
    ('flip_kw', lambda L, x: L.flip(x, dims=[2])),
    ('flip_none', lambda L, x: x.flip(())),
    ('fliplr', lambda L, x: x.fliplr()),
    ('flipud', lambda L, x: L.flipud(x)),
    ('roll', lambda L, x: x.roll(1, 0)),
    ('roll_flat', lambda L, x: x.roll(5)),
    ('roll_flat_tuple', lambda L, x: L.roll(x, (-3,))),
    ('roll_many', lambda L, x: x.roll((1, -2), (2, 1))),
    ('roll_kw', lambda L, x: x.roll(shifts=7, dims=-1)),
    ('roll_same_dim', lambda L, x: x.roll([1, 2], [1, 1])),
    ('rot90', lambda L, x: x.rot90()),
    ('rot90_2', lambda L, x: L.rot90(x, 2)),
    ('rot90_3', lambda L, x: x.rot90(3, [1, 2])),
    ('rot90_neg', lambda L, x: x.rot90(-1, (2, 0))),
    ('rot90_0', lambda L, x: x.rot90(0)),
    ('rot90_5', lambda L, x: x.rot90(5, (0, -1))),
    ('flip_nc', lambda L, x: x.transpose(0, 2).flip(1)),
]


@pytest.mark.parametrize('dtype', FLOATS)
@pytest.mark.parametrize('name,fn', ORDERS, ids=[n for n, _ in ORDERS])
def test_reorders(name, fn, dtype):
    e, t = both(fn, rand(2, 3, 4, dtype=dtype, seed=6))
    assert grad_fn_name(e) == grad_fn_name(t)
    assert e._base is None


@pytest.mark.parametrize('name,fn', ORDERS, ids=[n for n, _ in ORDERS])
def test_reorders_ints(name, fn):
    both(fn, ints(2, 3, 4))
    both(fn, ints(2, 3, 4) % 2 == 0)


def test_rot90_layout():
    for k in range(-1, 5):
        e, t = E(rand(3, 4)).rot90(k), T(rand(3, 4)).rot90(k)
        assert e.stride() == t.stride()


def test_reorders_zero_dim_and_empty():
    for fn in (lambda L, x: x.flip(0), lambda L, x: x.roll(1), lambda L, x: x.flip(())):
        both(fn, np.array(2.5))
    for fn in (lambda L, x: x.flip(0), lambda L, x: x.roll(1), lambda L, x: x.t().roll(2, 0),
               lambda L, x: x.rot90(1), lambda L, x: x.flip(1)):
        both(fn, rand(0, 3))
    same_error(lambda L, x: x.roll(2, 0), np.array(2.5))


@pytest.mark.parametrize('fn,shape', [
    (lambda L, x: x.flip(0, 0), (3, 4)), (lambda L, x: x.flip(2), (3, 4)),
    (lambda L, x: x.fliplr(), (3,)), (lambda L, x: x.flipud(), ()),
    (lambda L, x: x.roll((1, 2), (0,)), (3, 4)), (lambda L, x: x.roll((1, 2)), (3, 4)),
    (lambda L, x: x.roll(1, 2), (3, 4)),
    (lambda L, x: x.rot90(1, [0, 1, 1]), (3, 4)), (lambda L, x: x.rot90(), (3,)),
    (lambda L, x: x.rot90(1, [0, 0]), (3, 4)), (lambda L, x: x.rot90(1, [0, -2]), (3, 4)),
    (lambda L, x: x.rot90(1, [0, 2]), (3, 4)),
])
def test_reorder_errors(fn, shape):
    same_error(fn, rand(*shape, seed=7))


# ---- tril, triu ---------------------------------------------------------------------------
TRIANGLES = [
    ('tril', lambda L, x: x.tril()), ('tril_1', lambda L, x: L.tril(x, 1)),
    ('tril_neg', lambda L, x: x.tril(diagonal=-1)), ('tril_big', lambda L, x: x.tril(10)),
    ('triu', lambda L, x: x.triu()), ('triu_2', lambda L, x: L.triu(x, 2)),
    ('triu_neg', lambda L, x: x.triu(-5)), ('tril_nc', lambda L, x: x.mT.tril(1)),
]


@pytest.mark.parametrize('dtype', FLOATS)
@pytest.mark.parametrize('shape', [(3, 4), (2, 4, 3), (0, 3)])
@pytest.mark.parametrize('name,fn', TRIANGLES, ids=[n for n, _ in TRIANGLES])
def test_triangles(name, fn, shape, dtype):
    e, t = both(fn, rand(*shape, dtype=dtype, seed=8))
    assert grad_fn_name(e) == grad_fn_name(t)


def test_triangles_ints_bool_inplace_and_out():
    both(lambda L, x: x.tril(), ints(3, 3))
    both(lambda L, x: x.triu(1), ints(3, 3) % 2 == 1)
    for name in ('tril_', 'triu_'):
        e, t = E(rand(3, 4, seed=9)), T(rand(3, 4, seed=9))
        assert getattr(e, name)(1) is e and getattr(t, name)(1) is t
        assert_close(e, t)
        assert e._version == t._version == 1
    oe, ot = E(np.zeros(0, np.float32)), T(np.zeros(0, np.float32))
    ember.tril(E(rand(3, 3, seed=9)), out=oe)
    torch.tril(T(rand(3, 3, seed=9)), out=ot)
    assert_close(oe, ot)
    same_error(lambda L, x: x.tril(), rand(3))
    same_error(lambda L, x: x.triu(), np.array(1.0))


# ---- diag family --------------------------------------------------------------------------
DIAGS = [
    ('diag_1d', (4,), lambda L, x: x.diag()),
    ('diag_1d_off', (3,), lambda L, x: L.diag(x, 2)),
    ('diag_1d_neg', (3,), lambda L, x: x.diag(diagonal=-1)),
    ('diag_2d', (3, 4), lambda L, x: x.diag()),
    ('diag_2d_off', (3, 4), lambda L, x: L.diag(x, 1)),
    ('diag_2d_neg', (3, 4), lambda L, x: x.diag(-2)),
    ('diag_2d_far', (3, 4), lambda L, x: x.diag(7)),
    ('diag_embed', (2, 3), lambda L, x: x.diag_embed()),
    ('diag_embed_off', (2, 3), lambda L, x: L.diag_embed(x, 1)),
    ('diag_embed_neg', (2, 3), lambda L, x: x.diag_embed(-2)),
    ('diag_embed_dims', (2, 3), lambda L, x: x.diag_embed(1, 0, 2)),
    ('diag_embed_dims_rev', (2, 3), lambda L, x: x.diag_embed(-1, dim1=2, dim2=0)),
    ('diag_embed_1d', (3,), lambda L, x: x.diag_embed()),
    ('diagflat', (2, 2), lambda L, x: x.diagflat()),
    ('diagflat_off', (3,), lambda L, x: L.diagflat(x, -1)),
    ('diagflat_0d', (), lambda L, x: x.diagflat()),
    ('diag_2d_nc', (4, 3), lambda L, x: x.t().diag(1)),
]


@pytest.mark.parametrize('dtype', FLOATS)
@pytest.mark.parametrize('name,shape,fn', DIAGS, ids=[n for n, _, _ in DIAGS])
def test_diags(name, shape, fn, dtype):
    e, t = both(fn, rand(*shape, dtype=dtype, seed=10))
    assert grad_fn_name(e) == grad_fn_name(t)


@pytest.mark.parametrize('name,shape,fn', DIAGS, ids=[n for n, _, _ in DIAGS])
def test_diags_ints(name, shape, fn):
    both(fn, ints(*shape))


def test_diag_out_and_copy():
    oe, ot = E(np.zeros(0, np.float32)), T(np.zeros(0, np.float32))
    ember.diag(E(rand(3, seed=11)), out=oe)
    torch.diag(T(rand(3, seed=11)), out=ot)
    assert_close(oe, ot)
    x = E(rand(3, 3))
    d = x.diag()
    d.add_(1)
    assert x._version == 0 and d._base is None


@pytest.mark.parametrize('fn,shape', [
    (lambda L, x: x.diag(), (2, 3, 4)), (lambda L, x: x.diag(), ()),
    (lambda L, x: x.diag_embed(), ()), (lambda L, x: x.diag_embed(0, 0, 0), (3,)),
    (lambda L, x: x.diag_embed(1, 0, 3), (2, 3)),
])
def test_diag_errors(fn, shape):
    same_error(fn, rand(*shape, seed=12))


# ---- atleast_nd, meshgrid -----------------------------------------------------------------
@pytest.mark.parametrize('fname', ['atleast_1d', 'atleast_2d', 'atleast_3d'])
@pytest.mark.parametrize('shape', [(), (3,), (2, 3), (2, 3, 4), (1, 2, 1, 2)])
def test_atleast(fname, shape):
    e, t = both(lambda L, x: getattr(L, fname)(x), rand(*shape, dtype=np.float64, seed=13))
    assert grad_fn_name(e) == grad_fn_name(t)
    x = E(rand(*shape))
    r = getattr(ember, fname)(x)
    assert (r is x) == (r.ndim == x.ndim)


@pytest.mark.parametrize('fname', ['atleast_1d', 'atleast_2d', 'atleast_3d'])
def test_atleast_sequences(fname):
    arrays = [np.array(1.0), rand(2, seed=14), rand(2, 2, seed=15)]
    both(lambda L, *x: getattr(L, fname)(*x), *arrays)
    both(lambda L, *x: getattr(L, fname)(list(x)), *arrays)
    both(lambda L, *x: getattr(L, fname)(x[:1]), *arrays)
    assert getattr(ember, fname)() == getattr(torch, fname)() == ()


@pytest.mark.parametrize('indexing', ['ij', 'xy', None])
@pytest.mark.parametrize('shapes', [[(2,), (3,)], [(2,), (3,), (4,)], [(), (3,)], [(5,)],
                                    [(0,), (2,)]])
def test_meshgrid(shapes, indexing):
    kw = {} if indexing is None else {'indexing': indexing}
    arrays = [rand(*s, dtype=np.float64, seed=i) for i, s in enumerate(shapes)]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # torch warns (once) when indexing is not given
        t = torch.meshgrid(*[T(a) for a in arrays], **kw)
    e = ember.meshgrid(*[E(a) for a in arrays], **kw)
    assert_close(e, t)
    e, t = both(lambda L, *x: L.meshgrid(list(x), indexing=indexing or 'ij'), *arrays)
    assert [grad_fn_name(v) for v in e] == [grad_fn_name(v) for v in t]
    assert all(v._base is not None for v in e)


def test_meshgrid_ints_and_errors():
    both(lambda L, a, b: L.meshgrid(a, b, indexing='xy'), ints(3), ints(2))
    same_error(lambda L, a: L.meshgrid(a, indexing='foo'), rand(2))
    same_error(lambda L: L.meshgrid(indexing='ij'))
    same_error(lambda L, a, b: L.meshgrid(a, b, indexing='ij'), rand(2), ints(2))
    with pytest.raises(RuntimeError, match='Expected 0D or 1D tensor'):
        ember.meshgrid(E(rand(2, 2)), indexing='ij')


# ---- gradcheck ----------------------------------------------------------------------------
@pytest.mark.parametrize('fn,shapes', [
    (lambda x: x.repeat(2, 1, 2), [(2, 3)]), (lambda x: x.repeat_interleave(2, 1), [(2, 3)]),
    (lambda x: x.repeat_interleave(ember.tensor([2, 0, 1]), 0), [(3, 2)]),
    (lambda x, y: ember.cat([x, y], 1), [(2, 3), (2, 2)]),
    (lambda x, y: ember.stack([x, y], -1), [(2, 3), (2, 3)]),
    (lambda x, y: ember.column_stack([x, y]), [(3,), (3, 2)]),
    (lambda x: x.flip(0, 1), [(2, 3)]), (lambda x: x.roll((1, 2), (0, 1)), [(2, 3)]),
    (lambda x: x.rot90(1, (1, 0)), [(2, 3)]), (lambda x: x.tril(-1), [(3, 3)]),
    (lambda x: x.triu(1), [(2, 3, 3)]), (lambda x: x.diag(1), [(3,)]),
    (lambda x: x.diag(-1), [(3, 4)]), (lambda x: x.diag_embed(1, 0, 2), [(2, 3)]),
    (lambda x: x.t().contiguous(), [(2, 3)]),
    (lambda x, y: ember.meshgrid(x, y, indexing='xy')[0] * ember.meshgrid(x, y)[1].t(),
     [(2,), (3,)]),
])
def test_gradcheck_copies(fn, shapes):
    gradcheck(fn, *[rand(*s, dtype=np.float64, seed=i) for i, s in enumerate(shapes)])
