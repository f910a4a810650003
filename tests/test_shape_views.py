"""View ops of ember.ops.shape against torch: values, gradients, grad_fn names, errors, memory
and version-counter sharing, and autograd through in-place ops on views."""
import warnings

import numpy as np
import pytest
import torch

import ember
from tests.helpers import E, T, check, gradcheck, assert_close, rand, noncontig

FLOATS = [np.float32, np.float64]


def both(fn, *arrays, **kw):
    """check() with ``fn(lib, *tensors)`` run on ember and on torch."""
    return check(lambda *t: fn(ember, *t), lambda *t: fn(torch, *t), *arrays, **kw)


def same_error(fn, *arrays, first_line=False):
    """``fn(lib, *tensors)`` raises the same exception type and message in ember and torch."""
    with pytest.raises(Exception) as te:
        fn(torch, *[T(a) if isinstance(a, np.ndarray) else a for a in arrays])
    with pytest.raises(Exception) as ee:
        fn(ember, *[E(a) if isinstance(a, np.ndarray) else a for a in arrays])
    assert ee.type is te.type, (ee.value, te.value)
    want = str(te.value).replace('torch.', 'ember.')
    got = str(ee.value)
    if first_line:
        want, got = want.split('\n')[0], got.split('\n')[0]
    assert got == want


def grad_fn_name(t):
    return None if t.grad_fn is None else t.grad_fn.name()


def ints(*shape):
    return np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)


# ---- reshaping ----------------------------------------------------------------------------
RESHAPES = [
    ('view', lambda L, x: x.view(6, 4)),
    ('view_tuple', lambda L, x: x.view((4, -1))),
    ('view_size_kw', lambda L, x: x.view(size=(2, 12))),
    ('view_as', lambda L, x: x.view_as(L.zeros(4, 6))),
    ('reshape', lambda L, x: x.reshape(-1)),
    ('reshape_fn', lambda L, x: L.reshape(x, (3, -1, 2))),
    ('reshape_kw', lambda L, x: x.reshape(shape=(4, 6))),
    ('reshape_as', lambda L, x: x.reshape_as(L.zeros(24, 1))),
    ('flatten', lambda L, x: x.flatten()),
    ('flatten_1', lambda L, x: L.flatten(x, 1)),
    ('flatten_0_1', lambda L, x: x.flatten(0, -2)),
    ('flatten_kw', lambda L, x: x.flatten(start_dim=-2, end_dim=-1)),
    ('unflatten', lambda L, x: x.unflatten(2, (2, 2))),
    ('unflatten_neg', lambda L, x: L.unflatten(x, -1, (-1, 1, 2))),
    ('ravel', lambda L, x: x.ravel()),
    ('squeeze_none', lambda L, x: x.view(2, 1, 3, 1, 4).squeeze()),
    ('squeeze_int', lambda L, x: x.view(2, 1, 3, 1, 4).squeeze(-2)),
    ('squeeze_nonone', lambda L, x: x.squeeze(0)),
    ('squeeze_tuple', lambda L, x: L.squeeze(x.view(2, 1, 3, 1, 4), (1, 3, 0))),
    ('squeeze_list', lambda L, x: x.view(1, 2, 1, 12).squeeze([0, 2])),
    ('unsqueeze', lambda L, x: x.unsqueeze(1)),
    ('unsqueeze_neg', lambda L, x: L.unsqueeze(x, -1)),
    ('unsqueeze_first', lambda L, x: x.unsqueeze(dim=-4)),
]


@pytest.mark.parametrize('dtype', FLOATS)
@pytest.mark.parametrize('name,fn', RESHAPES, ids=[n for n, _ in RESHAPES])
def test_reshape_family(name, fn, dtype):
    e, t = both(fn, rand(2, 3, 4, dtype=dtype, seed=1))
    assert grad_fn_name(e) == grad_fn_name(t)
    assert (e._base is not None) == (t._base is not None)


@pytest.mark.parametrize('name,fn', RESHAPES, ids=[n for n, _ in RESHAPES])
def test_reshape_family_ints(name, fn):
    both(fn, ints(2, 3, 4))


@pytest.mark.parametrize('fn', [
    lambda L, x: x.transpose(0, 1).reshape(12, 2),
    lambda L, x: x.permute(2, 0, 1).flatten(),
    lambda L, x: x.transpose(1, 2).flatten(1),
    lambda L, x: x.transpose(0, 2).ravel(),
    lambda L, x: x.narrow(2, 1, 2).reshape(-1),
    lambda L, x: x.narrow(2, 1, 2).view(6, 2),  # splits a chunk: view works
    lambda L, x: x.narrow(0, 1, 1).view(12),     # size-1 dims merge with anything
    lambda L, x: x.transpose(0, 1).view(3, 2, 2, 2),
    lambda L, x: x.permute(1, 0, 2).reshape(3, 8),
    lambda L, x: x.select(2, 1).unsqueeze(0).squeeze(0).view(-1),
], ids=['t_reshape', 'perm_flatten', 't_flatten1', 'ravel', 'narrow_reshape', 'narrow_view',
        'size1_merge', 'split_view', 'perm_reshape', 'select_chain'])
def test_reshape_noncontiguous(fn):
    e, t = both(fn, rand(2, 3, 4, dtype=np.float64, seed=2))
    assert grad_fn_name(e) == grad_fn_name(t)
    assert (e._base is None) == (t._base is None)
    assert e.is_contiguous() == t.is_contiguous()


def test_reshape_of_noncontiguous_numpy_input():
    a = noncontig(rand(3, 4, seed=3))
    x = E(a)
    assert not x.is_contiguous()
    check(lambda x: x.reshape(12), None, a)
    check(lambda x: x.reshape(2, 6), None, a)
    with pytest.raises(RuntimeError, match='view size is not compatible'):
        x.view(12)
    assert x.t().view(12)._base is x


@pytest.mark.parametrize('fn', [
    lambda L, x: x.view(-1), lambda L, x: x.reshape(1, 1), lambda L, x: x.flatten(),
    lambda L, x: x.unsqueeze(0), lambda L, x: x.unsqueeze(-1), lambda L, x: x.squeeze(),
    lambda L, x: x.squeeze(0), lambda L, x: x.squeeze((-1,)), lambda L, x: x.view(()),
    lambda L, x: x.ravel(), lambda L, x: x.flatten(0, 0), lambda L, x: x.reshape(()),
])
def test_reshape_zero_dim(fn):
    e, t = both(fn, np.array(1.5))
    assert grad_fn_name(e) == grad_fn_name(t)


@pytest.mark.parametrize('fn', [
    lambda L, x: x.view(-1), lambda L, x: x.view(3, 0), lambda L, x: x.reshape(0, 5, 3),
    lambda L, x: x.flatten(), lambda L, x: x.unsqueeze(1), lambda L, x: x.squeeze(),
    lambda L, x: x.t().reshape(3, 0), lambda L, x: x.unflatten(1, (3, 1)),
])
def test_reshape_empty(fn):
    both(fn, rand(0, 3, seed=4))


def test_flatten_returns_self_when_nothing_to_merge():
    x = E(rand(5, seed=5))
    assert x.flatten() is x
    y = E(rand(2, 3, seed=5))
    assert y.flatten(1, 1) is y and y.flatten(-1, 1) is y


@pytest.mark.parametrize('fn', [
    lambda L, x: x.view(5, 5), lambda L, x: x.view(-1, -1), lambda L, x: x.view(-2, 12),
    lambda L, x: x.view(5, -1), lambda L, x: x.reshape(3, 5), lambda L, x: x.reshape(0, -1),
    lambda L, x: L.zeros(0, 3).view(-1, 0), lambda L, x: L.zeros(0, 3).reshape(0, -1),
    lambda L, x: x.transpose(0, 1).view(24), lambda L, x: x.transpose(1, 2).view(2, 12),
    lambda L, x: x.flatten(2, 1), lambda L, x: x.flatten(3), lambda L, x: x.unflatten(2, (3, 2)),
    lambda L, x: x.unflatten(-1, ()), lambda L, x: x.squeeze(3), lambda L, x: x.squeeze((0, 0)),
    lambda L, x: x.squeeze((0, -3)), lambda L, x: x.unsqueeze(4), lambda L, x: x.unsqueeze(-5),
    lambda L, x: x.view_as(3),
])
def test_reshape_errors(fn):
    same_error(fn, rand(2, 3, 4, seed=6))


def test_unflatten_two_inferred_dims():
    with pytest.raises(RuntimeError, match='only one dimension can be inferred'):
        E(rand(2, 4)).unflatten(1, (-1, -1))


def test_view_type_errors():
    x = E(rand(2, 3))
    with pytest.raises(TypeError):
        x.view(2.0, 3)
    with pytest.raises(TypeError):
        x.reshape('a')


# ---- view(dtype) --------------------------------------------------------------------------
@pytest.mark.parametrize('src,dst,shape', [
    (np.float32, 'int32', (3, 4)), (np.float32, 'int16', (3, 4)), (np.float32, 'float64', (3, 4)),
    (np.int64, 'float64', (2, 3)), (np.float64, 'int64', (2,)), (np.float32, 'float32', (2, 2)),
    (np.int64, 'int8', (2, 2)), (np.uint8, 'bool', (2, 3)),
])
def test_view_dtype(src, dst, shape):
    a = (np.arange(int(np.prod(shape))) % 2).astype(src).reshape(shape)
    e, t = E(a), T(a)
    ve, vt = e.view(getattr(ember, dst)), t.view(getattr(torch, dst))
    assert_close(ve, vt)
    assert ve.requires_grad is False and ve._base is None
    ve2 = e.view(dtype=getattr(ember, dst))
    assert ve2.dtype == ve.dtype


def test_view_dtype_shares_memory_and_version():
    for L, x in ((ember, E(rand(2, 3, seed=7))), (torch, T(rand(2, 3, seed=7)))):
        v = x.view(L.int32)
        v.add_(1)
        assert x._version == 1 and v._version == 1
    e, t = E(rand(2, 3, seed=7)), T(rand(2, 3, seed=7))
    e.view(ember.int32).add_(1)
    t.view(torch.int32).add_(1)
    assert_close(e, t)


@pytest.mark.parametrize('fn', [
    lambda L, x: x.view(L.float64), lambda L, x: x.t().view(L.int16),
    lambda L, x: x.select(0, 0).select(0, 0).view(L.int16),
])
def test_view_dtype_errors(fn):
    same_error(fn, rand(3, 3, seed=8))


def test_view_dtype_grad_input():
    x = E(rand(2, 2), requires_grad=True)
    v = x.view(ember.float32)
    assert not v.requires_grad and v.is_leaf


# ---- transposes and permutations -------------------------------------------------------------
PERMS = [
    ('transpose', lambda L, x: x.transpose(0, 2)),
    ('transpose_neg', lambda L, x: L.transpose(x, -1, -2)),
    ('transpose_same', lambda L, x: x.transpose(1, 1)),
    ('transpose_kw', lambda L, x: x.transpose(dim0=0, dim1=1)),
    ('swapaxes', lambda L, x: L.swapaxes(x, 0, 1)),
    ('swapaxes_kw', lambda L, x: x.swapaxes(axis0=2, axis1=0)),
    ('swapdims', lambda L, x: x.swapdims(-1, 0)),
    ('permute', lambda L, x: x.permute(2, 0, 1)),
    ('permute_tuple', lambda L, x: x.permute((1, 2, 0))),
    ('permute_neg', lambda L, x: L.permute(x, (-1, 0, -2))),
    ('permute_kw', lambda L, x: L.permute(x, dims=[2, 1, 0])),
    ('mT', lambda L, x: x.mT),
    ('mH', lambda L, x: x.mH),
    ('adjoint', lambda L, x: x.adjoint()),
    ('adjoint_fn', lambda L, x: L.adjoint(x)),
    ('movedim', lambda L, x: x.movedim(0, 2)),
    ('movedim_tuple', lambda L, x: L.movedim(x, (0, 1), (2, 0))),
    ('movedim_neg', lambda L, x: x.movedim(-1, 0)),
    ('moveaxis', lambda L, x: L.moveaxis(x, [2], [0])),
    ('movedim_kw', lambda L, x: x.movedim(source=1, destination=-1)),
    ('movedim_same', lambda L, x: x.movedim(0, 0)),
]


@pytest.mark.parametrize('dtype', FLOATS)
@pytest.mark.parametrize('name,fn', PERMS, ids=[n for n, _ in PERMS])
def test_permutations(name, fn, dtype):
    e, t = both(fn, rand(2, 3, 4, dtype=dtype, seed=9))
    assert grad_fn_name(e) == grad_fn_name(t)
    assert e._base is not None and e.stride() == t.stride()


@pytest.mark.parametrize('name,fn', PERMS[:8], ids=[n for n, _ in PERMS[:8]])
def test_permutations_ints_and_noncontig(name, fn):
    both(fn, ints(2, 3, 4))
    both(lambda L, x: fn(L, x.transpose(0, 1).permute(1, 0, 2)), rand(2, 3, 4, seed=10))


@pytest.mark.parametrize('shape', [(3, 4), (5,), ()])
def test_t_and_T_and_H(shape):
    a = rand(*shape, dtype=np.float64, seed=11)
    e, t = both(lambda L, x: x.t(), a)
    assert grad_fn_name(e) == grad_fn_name(t) and e._base is not None
    e, t = both(lambda L, x: L.t(x), a)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        e, t = both(lambda L, x: x.T, a)
    assert grad_fn_name(e) == grad_fn_name(t)
    if len(shape) == 2:
        e, t = both(lambda L, x: x.H, a)
        assert grad_fn_name(e) == grad_fn_name(t)


def test_T_warnings():
    with pytest.warns(UserWarning, match='dimension other than 2'):
        E(rand(2, 3, 4)).T
    with pytest.warns(UserWarning, match='0-D tensors'):
        E(np.array(1.0)).T
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        E(rand(2, 3)).T


@pytest.mark.parametrize('fn,shape', [
    (lambda L, x: x.t(), (2, 3, 4)), (lambda L, x: x.H, (2, 3, 4)), (lambda L, x: x.H, (3,)),
    (lambda L, x: x.mT, (3,)), (lambda L, x: x.mH, (3,)), (lambda L, x: x.adjoint(), (3,)),
    (lambda L, x: x.permute(0, 1), (2, 3, 4)), (lambda L, x: x.permute(0, 1, 1), (2, 3, 4)),
    (lambda L, x: x.permute(0, 1, 3), (2, 3, 4)), (lambda L, x: x.transpose(0, 3), (2, 3, 4)),
    (lambda L, x: x.movedim((0, 1), (1,)), (2, 3, 4)),
    (lambda L, x: x.movedim((0, 0), (1, 2)), (2, 3, 4)),
    (lambda L, x: x.movedim((0, 1), (2, 2)), (2, 3, 4)),
    (lambda L, x: x.movedim(3, 0), (2, 3, 4)),
    (lambda L, x: x.t_(), (2, 3, 4)),
])
def test_permutation_errors(fn, shape):
    same_error(fn, rand(*shape, seed=12))


# ---- expand and broadcasting --------------------------------------------------------------
EXPANDS = [
    ('expand', (3, 1), lambda L, x: x.expand(3, 4)),
    ('expand_tuple', (3, 1), lambda L, x: x.expand((2, 3, 4))),
    ('expand_neg1', (3, 1), lambda L, x: x.expand(2, -1, 5)),
    ('expand_lead', (1, 4), lambda L, x: x.expand(2, 3, 3, 4)),
    ('expand_same', (3, 4), lambda L, x: x.expand(3, 4)),
    ('expand_middle', (2, 1, 3), lambda L, x: x.expand(2, 5, 3)),
    ('expand_0d', (), lambda L, x: x.expand(2, 3)),
    ('expand_0d_empty', (), lambda L, x: x.expand(())),
    ('expand_to_zero', (1, 4), lambda L, x: x.expand(0, 4)),
    ('expand_as', (3, 1), lambda L, x: x.expand_as(L.zeros(2, 3, 4))),
    ('broadcast_to', (3, 1), lambda L, x: L.broadcast_to(x, (2, 3, 4))),
    ('broadcast_to_m', (1, 4), lambda L, x: x.broadcast_to((3, -1))),
    ('expand_nc', (4, 1), lambda L, x: x.t().expand(3, 4)),
]


@pytest.mark.parametrize('dtype', FLOATS)
@pytest.mark.parametrize('name,shape,fn', EXPANDS, ids=[n for n, _, _ in EXPANDS])
def test_expand(name, shape, fn, dtype):
    e, t = both(fn, rand(*shape, dtype=dtype, seed=13))
    assert grad_fn_name(e) == grad_fn_name(t) and e._base is not None


def test_expand_ints_bool():
    both(lambda L, x: x.expand(2, 3, 4), ints(3, 1))
    both(lambda L, x: x.expand(2, 3), np.array([[True], [False]]))


@pytest.mark.parametrize('fn,shape', [
    (lambda L, x: x.expand(2, 4), (3, 4)), (lambda L, x: x.expand(4), (3, 4)),
    (lambda L, x: x.expand(-1, 2, 4), (3, 4)), (lambda L, x: x.expand(-1, 3, 4), (3, 4)),
    (lambda L, x: x.expand(-2, 4), (3, 4)), (lambda L, x: x.expand(4, -2, 4), (3, 4)),
    (lambda L, x: L.broadcast_to(x, (2, 4)), (3, 4)),
])
def test_expand_errors(fn, shape):
    same_error(fn, rand(*shape, seed=14))


def test_expand_inplace_semantics():
    for L, mk in ((ember, E), (torch, T)):
        with pytest.raises(RuntimeError, match='more than one element of the written-to'):
            mk(rand(1, 3)).expand(2, 3).mul_(2)
    e, t = E(rand(2, 3, seed=15)), T(rand(2, 3, seed=15))
    e.expand(2, 3).mul_(2)
    t.expand(2, 3).mul_(2)
    e.expand(1, 2, 3).add_(1)
    t.expand(1, 2, 3).add_(1)
    assert_close(e, t)


@pytest.mark.parametrize('shapes', [
    [(2, 1), (3, 1, 4)], [(3,), (2, 3)], [(), (2, 2)], [(4, 1, 1), (1, 3), (2, 1)],
    [(0, 1), (1, 5)], [(1,), ()],
])
def test_broadcast_tensors(shapes):
    arrays = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    e, t = both(lambda L, *xs: L.broadcast_tensors(*xs), *arrays)
    assert [grad_fn_name(x) for x in e] == [grad_fn_name(x) for x in t]
    assert ember.broadcast_shapes(*shapes) == torch.broadcast_shapes(*shapes)
    assert repr(ember.broadcast_shapes(*shapes)).startswith('ember.Size(')


def test_broadcast_tensors_returns_inputs_of_full_shape():
    a, b = E(rand(2, 3)), E(rand(3))
    out = ember.broadcast_tensors(a, b)
    assert out[0] is a and out[1] is not b
    assert ember.broadcast_shapes(2, (3, 1)) == torch.broadcast_shapes(2, (3, 1))


@pytest.mark.parametrize('shapes', [
    [(2,), (3,)], [(2, 1), (1, 3), (4, 1, 1), (5,)], [(2, 3), (3, 2, 3), (5,)],
])
def test_broadcast_errors(shapes):
    same_error(lambda L, *xs: L.broadcast_tensors(*xs), *[rand(*s) for s in shapes])
    with pytest.raises(RuntimeError) as ee:
        ember.broadcast_shapes(*shapes)
    with pytest.raises(RuntimeError) as te:
        torch.broadcast_shapes(*shapes)
    assert str(ee.value) == str(te.value)


# ---- narrow, select, split, chunk, unbind, tensor_split ------------------------------------
SLICES = [
    ('narrow', lambda L, x: x.narrow(1, 1, 2)),
    ('narrow_neg', lambda L, x: L.narrow(x, -1, -3, 2)),
    ('narrow_empty', lambda L, x: x.narrow(0, 2, 0)),
    ('narrow_tensor_start', lambda L, x: x.narrow(2, L.tensor(1), 3)),
    ('select', lambda L, x: x.select(1, 2)),
    ('select_neg', lambda L, x: L.select(x, -1, -1)),
    ('split', lambda L, x: x.split(2, 2)),
    ('split_fn', lambda L, x: L.split(x, 1)),
    ('split_big', lambda L, x: x.split(5, dim=1)),
    ('split_sizes', lambda L, x: x.split([1, 3], -1)),
    ('split_sizes_zero', lambda L, x: L.split(x, (0, 3, 0), dim=1)),
    ('chunk', lambda L, x: x.chunk(2, 2)),
    ('chunk_uneven', lambda L, x: L.chunk(x, 3, dim=-1)),
    ('chunk_more', lambda L, x: x.chunk(5, 1)),
    ('unbind', lambda L, x: x.unbind()),
    ('unbind_neg', lambda L, x: L.unbind(x, -1)),
    ('tensor_split', lambda L, x: x.tensor_split(3, dim=2)),
    ('tensor_split_idx', lambda L, x: L.tensor_split(x, [1, 3, 2, 9], dim=-1)),
    ('tensor_split_neg', lambda L, x: x.tensor_split((-1,), 1)),
    ('tensor_split_t', lambda L, x: x.tensor_split(L.tensor([1, 2]), 2)),
    ('tensor_split_t0', lambda L, x: x.tensor_split(L.tensor(2), 1)),
]


@pytest.mark.parametrize('dtype', FLOATS)
@pytest.mark.parametrize('name,fn', SLICES, ids=[n for n, _ in SLICES])
def test_slicing_views(name, fn, dtype):
    e, t = both(fn, rand(2, 3, 4, dtype=dtype, seed=16))
    es, ts = (e, t) if isinstance(t, tuple) else ((e,), (t,))
    assert isinstance(e, tuple) == isinstance(t, tuple)
    assert [grad_fn_name(x) for x in es] == [grad_fn_name(x) for x in ts]
    assert all(x._base is not None for x in es)


@pytest.mark.parametrize('name,fn', SLICES, ids=[n for n, _ in SLICES])
def test_slicing_ints_and_noncontig(name, fn):
    both(fn, ints(2, 3, 4))
    both(lambda L, x: fn(L, x.permute(1, 2, 0).permute(2, 0, 1)), rand(2, 3, 4, seed=17))


def test_slicing_with_unused_outputs_and_empty():
    both(lambda L, x: x.split(2, 1)[1], rand(3, 5, seed=18))
    both(lambda L, x: x.unbind(1)[2], rand(3, 5, seed=18))
    both(lambda L, x: x.chunk(3, 0)[0], rand(3, 5, seed=18))
    e, t = both(lambda L, x: x.split(2), rand(0, 3))
    assert len(e) == len(t) == 1
    e, t = both(lambda L, x: x.chunk(3), rand(0, 3))
    assert len(e) == len(t) == 3
    assert ember.zeros(0, 2).unbind() == ()
    e, t = both(lambda L, x: x.tensor_split(4), rand(3, seed=19))
    assert [tuple(v.shape) for v in e] == [tuple(v.shape) for v in t]


def test_iteration_uses_unbind():
    a = rand(3, 2, seed=20)
    rows = list(E(a))
    assert len(rows) == 3 and all(r._base is not None for r in rows)
    assert_close(rows[1], T(a)[1])
    with pytest.raises(TypeError):
        iter(E(np.array(1.0)))


@pytest.mark.parametrize('fn,shape', [
    (lambda L, x: x.narrow(0, 2, 2), (3, 4)), (lambda L, x: x.narrow(0, -4, 2), (3, 4)),
    (lambda L, x: x.narrow(0, 0, -1), (3, 4)), (lambda L, x: x.narrow(0, 0, 1), ()),
    (lambda L, x: x.narrow(2, 0, 1), (3, 4)),
    (lambda L, x: x.select(0, 5), (3, 4)), (lambda L, x: x.select(0, -4), (3, 4)),
    (lambda L, x: x.select(0, 0), ()), (lambda L, x: x.select(2, 0), (3, 4)),
    (lambda L, x: x.split(0), (3, 4)), (lambda L, x: x.split(-1), (3, 4)),
    (lambda L, x: x.split([1, 1]), (3, 4)), (lambda L, x: x.split([4, -1]), (3, 4)),
    (lambda L, x: x.split(1), ()),
    (lambda L, x: x.chunk(0), (3, 4)), (lambda L, x: x.chunk(2), ()),
    (lambda L, x: x.unbind(), ()), (lambda L, x: x.unbind(2), (3, 4)),
    (lambda L, x: x.tensor_split(0), (7,)), (lambda L, x: x.tensor_split(2), ()),
    (lambda L, x: x.tensor_split(L.tensor(2.0)), (7,)),
    (lambda L, x: x.tensor_split(L.tensor([[1]])), (7,)),
])
def test_slicing_errors(fn, shape):
    same_error(fn, rand(*shape, seed=21))


# ---- diagonal, unfold, as_strided ---------------------------------------------------------
STRIDED = [
    ('diagonal', (3, 4), lambda L, x: x.diagonal()),
    ('diagonal_off', (3, 4), lambda L, x: x.diagonal(1)),
    ('diagonal_neg', (3, 4), lambda L, x: L.diagonal(x, -2)),
    ('diagonal_big', (3, 4), lambda L, x: x.diagonal(5)),
    ('diagonal_big_neg', (3, 4), lambda L, x: x.diagonal(-5)),
    ('diagonal_dims', (2, 3, 4), lambda L, x: x.diagonal(0, 2, 0)),
    ('diagonal_dims_off', (2, 3, 4), lambda L, x: x.diagonal(offset=1, dim1=-1, dim2=1)),
    ('diagonal_nc', (3, 4), lambda L, x: x.t().diagonal(-1)),
    ('unfold', (3, 7), lambda L, x: x.unfold(1, 3, 2)),
    ('unfold_overlap', (3, 7), lambda L, x: x.unfold(1, 3, 1)),
    ('unfold_gap', (3, 7), lambda L, x: x.unfold(-1, 2, 3)),
    ('unfold_dim0', (5, 2), lambda L, x: x.unfold(0, 2, 1)),
    ('unfold_size0', (3, 4), lambda L, x: x.unfold(1, 0, 1)),
    ('unfold_full', (3, 4), lambda L, x: x.unfold(1, 4, 1)),
    ('unfold_0d', (), lambda L, x: x.unfold(0, 1, 1)),
    ('unfold_nc', (4, 5), lambda L, x: x.t().unfold(1, 2, 1)),
    ('as_strided', (3, 4), lambda L, x: x.as_strided((2, 2), (1, 2))),
    ('as_strided_fn', (3, 4), lambda L, x: L.as_strided(x, (3, 3), (4, 1), 1)),
    ('as_strided_overlap', (3, 4), lambda L, x: x.as_strided((3, 3), (1, 1))),
    ('as_strided_zero_stride', (3, 4), lambda L, x: x.as_strided((2, 3), (0, 1), 2)),
    ('as_strided_of_view', (3, 4), lambda L, x: x.narrow(0, 1, 2).as_strided((2,), (1,))),
    ('as_strided_of_view_off', (3, 4), lambda L, x: x.narrow(0, 1, 2).as_strided((3,), (2,), 0)),
    ('as_strided_empty', (3, 4), lambda L, x: x.as_strided((0, 3), (1, 1))),
]


@pytest.mark.parametrize('dtype', FLOATS)
@pytest.mark.parametrize('name,shape,fn', STRIDED, ids=[n for n, _, _ in STRIDED])
def test_strided_views(name, shape, fn, dtype):
    e, t = both(fn, rand(*shape, dtype=dtype, seed=22))
    assert grad_fn_name(e) == grad_fn_name(t)
    assert e._base is not None


@pytest.mark.parametrize('name,shape,fn', STRIDED, ids=[n for n, _, _ in STRIDED])
def test_strided_views_ints(name, shape, fn):
    both(fn, ints(*shape))


def test_as_strided_storage_offset():
    for L, mk in ((ember, E), (torch, T)):
        x = mk(rand(3, 4))
        v = x.narrow(0, 1, 2)
        assert v.storage_offset() == 4
        assert v.as_strided((2,), (1,)).storage_offset() == 4


@pytest.mark.parametrize('fn,shape', [
    (lambda L, x: x.diagonal(0, 1, 1), (3, 4)), (lambda L, x: x.diagonal(), (3,)),
    (lambda L, x: x.diagonal(0, 0, 2), (3, 4)),
    (lambda L, x: x.unfold(1, 5, 1), (3, 4)), (lambda L, x: x.unfold(1, 2, 0), (3, 4)),
    (lambda L, x: x.unfold(0, 2, 1), ()), (lambda L, x: x.unfold(0, -1, 1), (3,)),
    (lambda L, x: x.as_strided((3, 3), (4, 4)), (3, 4)),
    (lambda L, x: x.as_strided((3,), (1,), 11), (3, 4)),
    (lambda L, x: x.as_strided((3, 3), (-1, 4)), (3, 4)),
    (lambda L, x: x.as_strided((2,), (1, 1)), (3, 4)),
])
def test_strided_errors(fn, shape):
    same_error(fn, rand(*shape, seed=23))


def test_overlapping_views_are_read_only():
    x = E(rand(6))
    with pytest.raises(RuntimeError, match='single memory location'):
        x.unfold(0, 3, 1).mul_(2)
    with pytest.raises(RuntimeError, match='single memory location'):
        x.as_strided((3, 3), (1, 1)).mul_(2)
    for L, mk in ((ember, E), (torch, T)):
        y = mk(np.arange(6.0))
        y.unfold(0, 2, 3).mul_(2)
        y.as_strided((2,), (3,), 1).add_(10)
        assert y.tolist() == [0.0, 12.0, 2.0, 6.0, 18.0, 5.0]


# ---- gradcheck ----------------------------------------------------------------------------
@pytest.mark.parametrize('fn,shape', [
    (lambda x: x.view(6, 2), (3, 4)), (lambda x: x.t().reshape(-1), (3, 4)),
    (lambda x: x.permute(1, 0, 2).squeeze(), (2, 1, 3)), (lambda x: x.expand(2, 3, 4), (3, 1)),
    (lambda x: x.narrow(1, 1, 2).select(0, 1), (3, 4)),
    (lambda x: x.split([1, 3], 1)[1] * 2 + x.split([1, 3], 1)[0], (3, 4)),
    (lambda x: x.unbind(1)[0] * x.unbind(1)[2], (3, 4)), (lambda x: x.diagonal(1), (3, 4)),
    (lambda x: x.unfold(1, 3, 1), (2, 5)), (lambda x: x.as_strided((3, 3), (1, 1)), (3, 4)),
    (lambda x: x.tensor_split(3, 1)[2], (3, 7)), (lambda x: x.movedim(0, -1).mT, (2, 3, 4)),
])
def test_gradcheck_views(fn, shape):
    gradcheck(fn, rand(*shape, dtype=np.float64, seed=24))


# ---- memory sharing and version counters ------------------------------------------------------
VIEWS = [
    lambda L, x: x.view(12), lambda L, x: x.reshape(4, 3), lambda L, x: x.flatten(),
    lambda L, x: x.unsqueeze(0), lambda L, x: x.view(3, 1, 4).squeeze(1),
    lambda L, x: x.unflatten(1, (2, 2)), lambda L, x: x.ravel(), lambda L, x: x.t(),
    lambda L, x: x.transpose(0, 1), lambda L, x: x.permute(1, 0), lambda L, x: x.mT,
    lambda L, x: x.movedim(0, 1), lambda L, x: x.narrow(1, 1, 2), lambda L, x: x.select(0, 1),
    lambda L, x: x.split(2, 1)[1], lambda L, x: x.chunk(3)[2], lambda L, x: x.unbind(1)[3],
    lambda L, x: x.tensor_split(2, 1)[0], lambda L, x: x.diagonal(1),
    lambda L, x: x.unfold(1, 2, 2), lambda L, x: x.as_strided((2, 2), (1, 4), 1),
    lambda L, x: x.view_as(x), lambda L, x: x.t().t().narrow(0, 1, 1).view(-1),
    lambda L, x: L.atleast_3d(x), lambda L, x: x.expand(1, 3, 4),
]


@pytest.mark.parametrize('k', range(len(VIEWS)))
def test_views_share_memory_and_version(k):
    fn = VIEWS[k]
    res = []
    for L, mk in ((ember, E), (torch, T)):
        x = mk(rand(3, 4, seed=25))
        v = fn(L, x)
        assert v._base is x
        v.mul_(2).add_(1)
        assert x._version == v._version == 2
        x.sub_(0.5)
        assert v._version == 3
        res.append((x, v))
    assert_close(res[0][0], res[1][0])
    assert_close(res[0][1], res[1][1])


@pytest.mark.parametrize('fn', [
    lambda L, x: x.t().reshape(12), lambda L, x: x.t().flatten(), lambda L, x: x.contiguous(),
    lambda L, x: x.t().contiguous(), lambda L, x: x.repeat(1, 1), lambda L, x: x.flip(0),
    lambda L, x: x.roll(1), lambda L, x: x.tril(), lambda L, x: L.cat([x]),
    lambda L, x: x.rot90(0),
])
def test_copies_do_not_share(fn):
    for L, mk in ((ember, E), (torch, T)):
        x = mk(rand(3, 4, seed=26))
        before = x.clone()
        y = fn(L, x)
        y.add_(1) if y is not x else None
        if y is x:
            assert x.is_contiguous()
            continue
        assert y._base is None
        assert L.equal(x, before) and x._version == 0


def test_view_of_view_base_is_root():
    x = E(rand(2, 3, 4, seed=34))
    v = x.view(6, 4).transpose(0, 1).narrow(0, 1, 2).select(1, 0)
    assert v._base is x
    v.fill_(7.0)
    t = T(rand(2, 3, 4, seed=34))
    t.view(6, 4).transpose(0, 1).narrow(0, 1, 2).select(1, 0).fill_(7.0)
    assert_close(x, t)


# ---- in-place metadata ops ----------------------------------------------------------------
META = [
    lambda x: x.t_(), lambda x: x.transpose_(0, 1), lambda x: x.swapaxes_(1, 0),
    lambda x: x.swapdims_(0, -1), lambda x: x.unsqueeze_(1), lambda x: x.unsqueeze_(-1),
    lambda x: x.unsqueeze_(0).squeeze_(), lambda x: x.unsqueeze_(2).squeeze_(2),
    lambda x: x.unsqueeze_(0).squeeze_((0,)),
]


@pytest.mark.parametrize('k', range(len(META)))
def test_inplace_metadata(k):
    fn = META[k]
    a = rand(3, 4, dtype=np.float64, seed=27)
    g = None
    outs = []
    for L, mk in ((ember, E), (torch, T)):
        x = mk(a, requires_grad=True)
        b = x * 1
        r = fn(b)
        assert r is b
        outs.append((x, b))
        if g is None:
            g = rand(*b.shape, dtype=np.float64, seed=28)
        b.backward(mk(g))
    (xe, be), (xt, bt) = outs
    assert_close(be, bt)
    assert be._version == bt._version
    assert grad_fn_name(be) == grad_fn_name(bt)
    assert_close(xe.grad, xt.grad)


def test_inplace_metadata_on_views_and_leaves():
    for L, mk in ((ember, E), (torch, T)):
        x = mk(rand(3, 4), requires_grad=True)
        with pytest.raises(RuntimeError, match='a leaf Variable that requires grad'):
            x.t_()
        with pytest.raises(RuntimeError, match='a view of a leaf Variable'):
            x.narrow(0, 0, 2).unsqueeze_(0)
        with L.no_grad():
            x.t_()
        assert tuple(x.shape) == (4, 3)
        y = mk(rand(3, 4))
        v = y.view(12)
        v.unsqueeze_(0)
        assert v._base is y and y._version == 1 and tuple(v.shape) == (1, 12)
        v.mul_(2)
        assert y._version == 2
        t = mk(rand(3, 4))
        t.t_()
        assert tuple(t.shape) == (4, 3) and t._version == 1 and t.stride() == (1, 4)
    e, t = E(ints(3, 4)), T(ints(3, 4))
    e.transpose_(0, 1).unsqueeze_(0).squeeze_(0)
    t.transpose_(0, 1).unsqueeze_(0).squeeze_(0)
    assert_close(e, t)
    assert e.stride() == t.stride()


# ---- autograd through in-place ops on views ---------------------------------------------------
CHAINS = [
    ('transpose_mul', lambda L, b: b.transpose(0, 1).mul_(2)),
    ('narrow_add', lambda L, b: b.narrow(1, 2, 2).add_(b.narrow(1, 0, 2).detach().clone())),
    ('select_fill', lambda L, b: b.select(0, 1).fill_(3.0)),
    ('unsqueeze_copy', lambda L, b: b.unsqueeze(0).copy_(L.ones(1, 3, 4) * 5)),
    ('permute_view_mul', lambda L, b: b.permute(1, 0).reshape(2, 6).mul_(3)),
    ('chain', lambda L, b: b.narrow(0, 1, 2).select(1, 2).unsqueeze(0).mul_(-1)),
    ('diagonal_fill', lambda L, b: b.diagonal().fill_(0)),
    ('diagonal_off_mul', lambda L, b: b.diagonal(1).mul_(4)),
    ('view_narrow', lambda L, b: b.view(12).narrow(0, 3, 4).add_(1)),
    ('select_mul', lambda L, b: b.select(1, 3).mul_(b.select(1, 0).detach().clone())),
    ('flatten_mul', lambda L, b: b.flatten().mul_(0.5)),
    ('mT_add', lambda L, b: b.mT.add_(2)),
    ('unfold_nonoverlap', lambda L, b: b.unfold(1, 2, 2).mul_(3)),
    ('expand_same', lambda L, b: b.expand(1, 3, 4).mul_(2)),
    ('as_strided', lambda L, b: b.as_strided((2, 2), (4, 1), 5).mul_(7)),
    ('two_views', lambda L, b: (b.narrow(0, 0, 1).mul_(2), b.t().narrow(0, 0, 1).mul_(3))),
    ('tril_', lambda L, b: b.tril_(1)),
    ('triu_view', lambda L, b: b.narrow(1, 0, 3).triu_()),
    ('view_mul_by_input', None),
]


@pytest.mark.parametrize('name,fn', CHAINS, ids=[n for n, _ in CHAINS])
def test_autograd_through_inplace_on_views(name, fn):
    a = rand(3, 4, dtype=np.float64, seed=29)
    c = rand(3, 4, dtype=np.float64, seed=30)
    g = rand(3, 4, dtype=np.float64, seed=31)
    res = []
    for L, mk in ((ember, E), (torch, T)):
        x = mk(a, requires_grad=True)
        w = mk(rand(4, dtype=np.float64, seed=32), requires_grad=True)
        b = x.clone()
        if fn is None:
            b.select(0, 2).mul_(w)
        else:
            fn(L, b)
        out = b * mk(c)
        out.backward(mk(g))
        res.append((x, w, b))
    (xe, we, be), (xt, wt, bt) = res
    assert_close(be, bt)
    assert_close(xe.grad, xt.grad)
    if wt.grad is None:
        assert we.grad is None
    else:
        assert_close(we.grad, wt.grad)


def test_view_of_modified_base_gradient():
    """A view taken before the base is modified in place still backpropagates."""
    a = rand(3, 4, dtype=np.float64, seed=33)
    res = []
    for L, mk in ((ember, E), (torch, T)):
        x = mk(a, requires_grad=True)
        b = x * 2
        v = b.transpose(0, 1)
        v.narrow(0, 0, 2).mul_(3)
        out = v * mk(a.T.copy())
        out.backward(mk(np.ones((4, 3))))
        res.append(x.grad)
    assert_close(res[0], res[1])


def test_saved_view_modified_raises():
    for L, mk in ((ember, E), (torch, T)):
        x = mk(rand(3, 4), requires_grad=True)
        b = x * 1
        v = b.view(12)
        y = v * v
        b.add_(1)
        with pytest.raises(RuntimeError, match='modified by an inplace operation'):
            y.backward(mk(np.ones(12, np.float32)))
        b = x * 1
        b.select(1, 3).mul_(b.select(1, 0).detach())  # saves a detached alias of b's memory
        with pytest.raises(RuntimeError, match='modified by an inplace operation'):
            b.backward(mk(np.ones((3, 4), np.float32)))
