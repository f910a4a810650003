"""Matrix products, einsum/tensordot/kron/trace/cross and ember.linalg against torch."""
import functools
import math

import numpy as np
import pytest
import torch

import ember
from tests.helpers import E, T, check, gradcheck, assert_close, rand, noncontig, to_np


def both(path, **kwargs):
    """(ember function, torch function) for a dotted name such as 'linalg.inv', with kwargs."""
    def resolve(mod):
        f = mod
        for part in path.split('.'):
            f = getattr(f, part)
        return functools.partial(f, **kwargs) if kwargs else f
    return resolve(ember), resolve(torch)


def same_error(fe, ft):
    """ember raises the exception class and message that torch raises."""
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


def R(*shape, seed=None, dtype=np.float64):
    return rand(*shape, dtype=dtype, seed=seed if seed is not None else sum(shape) + len(shape))


def spd(n, batch=(), seed=0):
    a = rand(*batch, n, n, dtype=np.float64, seed=seed)
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def tol(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-7, atol=1e-9)


DTYPES = [np.float32, np.float64]

# ---- products ---------------------------------------------------------------------------------
MATMUL_SHAPES = [((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 5)), ((3, 4), (4,)),
                 ((2, 3, 4), (4, 5)), ((2, 3, 4), (4,)), ((3, 4), (2, 4, 5)),
                 ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 5)),
                 ((2, 3, 4), (1, 4, 5)), ((0, 4), (4, 5)), ((3, 0), (0, 5)), ((2, 0, 4), (4, 3))]


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('sa,sb', MATMUL_SHAPES)
def test_matmul(sa, sb, dtype):
    a, b = R(*sa, dtype=dtype), R(*sb, seed=7, dtype=dtype)
    check(lambda x, y: x @ y, None, a, b, **tol(dtype))
    check(lambda x, y: x.matmul(y), None, a, b, **tol(dtype))


@pytest.mark.parametrize('sa,sb', [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
                                   ((3, 4), (4,))])
def test_matmul_noncontiguous(sa, sb):
    a, b = noncontig(R(*sa)), noncontig(R(*sb, seed=3))
    check(lambda x, y: x @ y, None, a, b)


def test_matmul_transposed_views_and_rmatmul():
    a, b = R(4, 3), R(5, 4, seed=1)
    check(lambda x, y: x.T @ y.T, None, a, b)
    check(lambda x, y: x[:, ::2] @ y[::2, 1:], None, R(4, 6), R(6, 5, seed=1))
    out = np.asarray(b) @ E(a)
    assert_close(out, torch.tensor(b) @ T(a))
    assert_close(E(b).__rmatmul__(E(R(2, 5))), T(R(2, 5)) @ T(b))


@pytest.mark.parametrize('dtype', [ember.int64, ember.int32, ember.int16, ember.uint8])
@pytest.mark.parametrize('sa,sb', [((3, 4), (4, 5)), ((4,), (4,)), ((2, 3, 4), (4,)),
                                   ((2, 3, 4), (2, 4, 5))])
def test_integer_matmul(sa, sb, dtype):
    a = np.random.default_rng(0).integers(0, 5, sa)
    b = np.random.default_rng(1).integers(0, 5, sb)
    assert_close(E(a, dtype=dtype) @ E(b, dtype=dtype), T(a, dtype=dtype) @ T(b, dtype=dtype))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('name,fn,shapes', [
    ('mm', lambda a, b: a.mm(b), [(3, 4), (4, 5)]),
    ('bmm', lambda a, b: a.bmm(b), [(2, 3, 4), (2, 4, 5)]),
    ('mv', lambda a, b: a.mv(b), [(3, 4), (4,)]),
    ('dot', lambda a, b: a.dot(b), [(4,), (4,)]),
    ('vdot', lambda a, b: a.vdot(b), [(4,), (4,)]),
    ('inner', lambda a, b: a.inner(b), [(2, 3), (4, 3)]),
    ('inner1d', lambda a, b: a.inner(b), [(3,), (3,)]),
    ('inner0d', lambda a, b: a.inner(b), [(), (2, 3)]),
    ('outer', lambda a, b: a.outer(b), [(3,), (4,)]),
    ('ger', lambda a, b: a.ger(b), [(3,), (4,)]),
    ('kron', lambda a, b: a.kron(b), [(2, 3), (3, 2)]),
    ('kron_ranks', lambda a, b: a.kron(b), [(2,), (3, 2)]),
    ('kron3', lambda a, b: a.kron(b), [(2, 1, 2), (1, 3, 2)]),
    ('cross', lambda a, b: a.cross(b, dim=1), [(2, 3), (2, 3)]),
    ('cross0', lambda a, b: a.cross(b, dim=0), [(3, 2), (3, 2)]),
])
def test_products(name, fn, shapes, dtype):
    check(fn, None, *[R(*s, seed=i, dtype=dtype) for i, s in enumerate(shapes)], **tol(dtype))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('fn,shapes', [
    (lambda mod, i, a, b: mod.addmm(i, a, b), [(5,), (3, 4), (4, 5)]),
    (lambda mod, i, a, b: mod.addmm(i, a, b, beta=0.5, alpha=-2), [(3, 5), (3, 4), (4, 5)]),
    (lambda mod, i, a, b: i.addmm(a, b, beta=0), [(1, 5), (3, 4), (4, 5)]),
    (lambda mod, i, a, b: mod.addmv(i, a, b, alpha=3), [(3,), (3, 4), (4,)]),
    (lambda mod, i, a, b: mod.addmv(i, a, b, beta=2), [(), (3, 4), (4,)]),
    (lambda mod, i, a, b: mod.addr(i, a, b, beta=0.5), [(3, 4), (3,), (4,)]),
    (lambda mod, i, a, b: mod.addbmm(i, a, b, alpha=0.5), [(3, 5), (2, 3, 4), (2, 4, 5)]),
    (lambda mod, i, a, b: mod.baddbmm(i, a, b, beta=2), [(3, 5), (2, 3, 4), (2, 4, 5)]),
])
def test_add_products(fn, shapes, dtype):
    arrays = [R(*s, seed=i, dtype=dtype) for i, s in enumerate(shapes)]
    check(lambda *t: fn(ember, *t), lambda *t: fn(torch, *t), *arrays, **tol(dtype))


def test_add_products_inplace_and_nan_with_beta_zero():
    i, a, b = R(3, 5), R(3, 4), R(4, 5)
    check(lambda x, y, z: x.clone().addmm_(y, z, alpha=2), None, i, a, b)
    check(lambda x, y, z: (x * 1).baddbmm_(y, z, beta=0.5), None, R(2, 3, 5), R(2, 3, 4),
          R(2, 4, 5))
    x = E(i.copy())
    x.addmm_(E(a), E(b), beta=0.5)
    assert_close(x, torch.addmm(T(i), T(a), T(b), beta=0.5))
    nan = np.full((5,), np.nan)
    assert_close(ember.addmm(E(nan), E(a), E(b), beta=0), torch.addmm(T(nan), T(a), T(b), beta=0))


@pytest.mark.parametrize('dims,sa,sb', [(2, (3, 4, 5), (4, 5, 2)), (1, (3, 4), (4, 2)),
                                        (0, (2,), (3,)), (([1, 0], [0, 2]), (3, 4, 5), (4, 2, 3)),
                                        (([2], [0]), (2, 3, 4), (4, 5))])
def test_tensordot(dims, sa, sb):
    check(lambda a, b: ember.tensordot(a, b, dims=dims),
          lambda a, b: torch.tensordot(a, b, dims=dims), R(*sa), R(*sb, seed=2))


def test_trace_and_int_trace():
    check(lambda a: a.trace(), None, R(3, 4))
    check(lambda a: a.trace(), None, R(4, 4, dtype=np.float32))
    m = np.arange(12).reshape(3, 4)
    for dt in (ember.int64, ember.int32):
        assert_close(E(m, dtype=dt).trace(), T(m, dtype=dt).trace())


def test_linalg_cross_broadcasting_and_default_dim():
    check(*both('linalg.cross'), R(4, 3), R(1, 3, seed=1))
    check(*both('linalg.cross', dim=0), R(3, 2), R(3, 2, seed=1))
    with pytest.warns(UserWarning, match='without specifying the dim'):
        e = ember.cross(E(R(2, 3, 2)), E(R(2, 3, 2, seed=1)))
    with pytest.warns(UserWarning):
        t = torch.cross(T(R(2, 3, 2)), T(R(2, 3, 2, seed=1)))
    assert_close(e, t)


EINSUM = [('ij,jk->ik', [(2, 3), (3, 4)]), ('ii->i', [(3, 3)]), ('ii', [(3, 3)]),
          ('ij->', [(2, 3)]), ('ij->ji', [(2, 3)]), ('...ij,...jk', [(5, 2, 3), (3, 4)]),
          ('bij,bjk->bik', [(2, 3, 4), (2, 4, 5)]), ('i,i', [(3,), (3,)]),
          ('ij,ij->ij', [(1, 3), (4, 3)]), ('iij->ij', [(3, 3, 2)]), ('ij,k->ijk', [(2, 3), (4,)]),
          ('ab,bc,cd->ad', [(20, 30), (30, 40), (40, 5)]), ('i...,...->', [(2, 3), (3,)]),
          ('Ba,aC', [(2, 3), (3, 4)]), ('i j , j k -> i k', [(2, 3), (3, 4)]),
          ('ij,jk->ik', [(0, 3), (3, 4)]), ('bhqd,bhkd->bhqk', [(2, 2, 3, 4), (2, 2, 5, 4)]),
          ('ij->j', [(64, 128)])]


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('eq,shapes', EINSUM, ids=[e for e, _ in EINSUM])
def test_einsum(eq, shapes, dtype):
    arrays = [R(*s, seed=i, dtype=dtype) for i, s in enumerate(shapes)]
    check(lambda *t: ember.einsum(eq, *t), lambda *t: torch.einsum(eq, *t), *arrays,
          **tol(dtype))


def test_einsum_operand_list_sublist_and_gradcheck():
    a, b = R(2, 3), R(3, 4, seed=1)
    check(lambda x, y: ember.einsum('ij,jk', [x, y]), lambda x, y: torch.einsum('ij,jk', [x, y]),
          a, b)
    check(lambda x, y: ember.einsum(x, [0, 1], y, [1, 2], [0, 2]),
          lambda x, y: torch.einsum(x, [0, 1], y, [1, 2], [0, 2]), a, b)
    gradcheck(lambda x: ember.einsum('iij->ji', x), R(3, 3, 2))
    gradcheck(lambda x, y: ember.einsum('i...j,j->...i', x, y), R(2, 3, 4), R(4, seed=1))


def test_chain_matmul_and_multi_dot():
    arrays = [R(3), R(3, 4, seed=1), R(4, 5, seed=2), R(5, seed=3)]
    check(lambda *t: ember.linalg.multi_dot(t), lambda *t: torch.linalg.multi_dot(t), *arrays)
    mats = [R(2, 3), R(3, 6, seed=1), R(6, 2, seed=2), R(2, 4, seed=3)]
    check(lambda *t: ember.linalg.multi_dot(list(t)), lambda *t: torch.linalg.multi_dot(list(t)),
          *mats)
    check(lambda *t: ember.chain_matmul(*t), lambda *t: torch.linalg.multi_dot(t), *mats)


def test_out_keyword():
    a, b = R(3, 4), R(4, 5, seed=1)
    out = E(np.zeros((3, 5)))
    r = ember.matmul(E(a), E(b), out=out)
    assert r is out
    assert_close(out, T(a) @ T(b))


def test_batched_2d_weight_gradient_is_one_gemm_result():
    """(B, T, K) @ (K, N): both gradients equal torch's (weight grad over the whole batch)."""
    x, w = R(4, 6, 5, dtype=np.float32), R(5, 3, seed=1, dtype=np.float32)
    check(lambda a, b: a @ b, None, x, w, rtol=1e-5, atol=1e-5)
    check(lambda a, b: a @ b, None, noncontig(x), noncontig(w), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('fn,shapes,name', [
    (lambda a, b: a @ b, [(2, 3), (3, 4)], 'MmBackward0'),
    (lambda a, b: a @ b, [(3,), (3,)], 'DotBackward0'),
    (lambda a, b: a @ b, [(2, 3), (3,)], 'MvBackward0'),
    (lambda a, b: a @ b, [(3,), (3, 4)], 'SqueezeBackward4'),
    (lambda a, b: a @ b, [(5, 2, 3), (3, 4)], 'UnsafeViewBackward0'),
    (lambda a, b: a @ b, [(5, 2, 3), (5, 3, 4)], 'UnsafeViewBackward0'),
    (lambda a, b: a.bmm(b), [(5, 2, 3), (5, 3, 4)], 'BmmBackward0'),
    (lambda a, b: a.outer(b), [(2,), (3,)], 'MulBackward0'),
    (lambda a, b: a.vdot(b), [(3,), (3,)], 'VdotBackward0'),
    (lambda a, b: a[0].addmm(a, b), [(3, 3), (3, 3)], 'AddmmBackward0'),
    (lambda a: a.cross(a, dim=0), [(3, 2)], 'LinalgCrossBackward0'),
    (lambda a: a.slogdet()[1], [(3, 3)], 'LinalgSlogdetBackward0'),
    (lambda a: a.pinverse(), [(3, 3)], 'LinalgPinvBackward0'),
    (lambda a: a.trace(), [(3, 3)], 'TraceBackward0'),
    (lambda a: a.det(), [(3, 3)], 'LinalgDetBackward0'),
    (lambda a: a.inverse(), [(3, 3)], 'LinalgInvExBackward0'),
    (lambda a: a.norm(), [(3, 3)], 'LinalgVectorNormBackward0'),
])
def test_grad_fn_names(fn, shapes, name):
    out_e = fn(*[E(R(*s), True) for s in shapes])
    out_t = fn(*[T(R(*s), True) for s in shapes])
    assert out_t.grad_fn.name() == name
    assert out_e.grad_fn.name() == name


PRODUCT_ERRORS = [
    lambda m: m.mm(m.ones(4, 10), m.ones(8, 5)),
    lambda m: m.matmul(m.ones(4, 10), m.ones(8, 5)),
    lambda m: m.ones(4, 10) @ m.ones(8, 5),
    lambda m: m.matmul(m.ones(2, 4, 10), m.ones(8, 5)),
    lambda m: m.matmul(m.ones(2, 4, 10), m.ones(3, 10, 5)),
    lambda m: m.matmul(m.ones(2, 3, 2, 2), m.ones(4, 2, 2)),
    lambda m: m.matmul(m.ones(10), m.ones(8)),
    lambda m: m.matmul(m.ones(10), m.ones(8, 5)),
    lambda m: m.matmul(m.ones(4, 10), m.ones(8)),
    lambda m: m.matmul(m.ones(3, 4, 10), m.ones(8)),
    lambda m: m.matmul(m.ones(10), m.ones(3, 8, 5)),
    lambda m: m.matmul(m.ones(2, 3), m.ones(4, 2, 2)),
    lambda m: m.matmul(m.ones(2, 3, 2, 5), m.ones(2, 3, 4, 2)),
    lambda m: m.matmul(m.tensor(1.), m.ones(3)),
    lambda m: m.mm(m.ones(3), m.ones(3, 3)),
    lambda m: m.mm(m.ones(3, 3), m.ones(3)),
    lambda m: m.bmm(m.ones(3, 3), m.ones(3, 3, 3)),
    lambda m: m.bmm(m.ones(3, 3, 3), m.ones(3, 3)),
    lambda m: m.bmm(m.ones(2, 3, 4), m.ones(3, 4, 5)),
    lambda m: m.bmm(m.ones(2, 3, 4), m.ones(2, 5, 5)),
    lambda m: m.mv(m.ones(3, 4), m.ones(5)),
    lambda m: m.mv(m.ones(3), m.ones(5)),
    lambda m: m.dot(m.ones(3, 3), m.ones(3, 3)),
    lambda m: m.dot(m.ones(3), m.ones(4)),
    lambda m: m.dot(m.ones(3), m.ones(3, dtype=m.float64)),
    lambda m: m.vdot(m.ones(3, 1), m.ones(4)),
    lambda m: m.mm(m.ones(3, 3), m.ones(3, 3, dtype=m.float64)),
    lambda m: m.matmul(m.ones(3, 3), m.ones(3, 3, dtype=m.int64)),
    lambda m: m.matmul(m.ones(3, 3, dtype=m.int16), m.ones(3, 3)),
    lambda m: m.matmul(m.ones(3, 3, dtype=m.float64), m.ones(3)),
    lambda m: m.matmul(m.ones(2, 2, 2), m.ones(2, 2, 2, dtype=m.float64)),
    lambda m: m.matmul(m.ones(2, 2, 2), m.ones(2, dtype=m.float64)),
    lambda m: m.matmul(m.ones(2, 2, dtype=m.bool), m.ones(2, 2, dtype=m.bool)),
    lambda m: m.outer(m.ones(3), m.ones(3, 1)),
    lambda m: m.inner(m.ones(3), m.ones(4)),
    lambda m: m.inner(m.ones(2, 2), m.ones(2, 2, dtype=m.float64)),
    lambda m: m.addmm(m.ones(3), m.ones(2, 3), m.ones(4, 3)),
    lambda m: m.addmm(m.ones(5), m.ones(2, 3), m.ones(3, 3)),
    lambda m: m.addmm(m.ones(2), m.ones(2), m.ones(2, 2)),
    lambda m: m.addmm(m.ones(2, dtype=m.float64), m.ones(2, 2), m.ones(2, 2)),
    lambda m: m.addmv(m.ones(5), m.ones(2, 3), m.ones(3)),
    lambda m: m.addmv(m.ones(2), m.ones(2, 3), m.ones(2)),
    lambda m: m.addmv(m.ones(4), m.ones(2, 3), m.ones(2)),
    lambda m: m.addmv(m.ones(2, 2), m.ones(2, 3), m.ones(3)),
    lambda m: m.addr(m.ones(2, 2), m.ones(2, 2), m.ones(2)),
    lambda m: m.addbmm(m.ones(2, 2), m.ones(2, 2, 3), m.ones(2, 2, 2)),
    lambda m: m.addbmm(m.ones(2, 2), m.ones(2, 2, 3), m.ones(3, 3, 2)),
    lambda m: m.baddbmm(m.ones(2, 2), m.ones(2, 2, 3), m.ones(2, 2, 2)),
    lambda m: m.trace(m.ones(3)),
    lambda m: m.trace(m.ones(2, 2, dtype=m.bool)),
    lambda m: m.tensordot(m.ones(2, 3), m.ones(4, 3), dims=1),
    lambda m: m.tensordot(m.ones(2, 3), m.ones(4, 3), dims=([1, 0], [1])),
    lambda m: m.tensordot(m.ones(2, 2), m.ones(2, 2), dims=-1),
    lambda m: m.tensordot(m.ones(2, 2), m.ones(2, 2), dims=3),
    lambda m: m.tensordot(m.ones(2, 2), m.ones(2, 2), dims=([0, 0], [0, 1])),
    lambda m: m.linalg.cross(m.ones(3, 2), m.ones(3, 2)),
    lambda m: m.linalg.cross(m.ones(4, 3), m.ones(3)),
    lambda m: m.linalg.cross(m.ones(3), m.ones(3, dtype=m.float64)),
    lambda m: m.cross(m.ones(3, 2), m.ones(3, 2), dim=1),
    lambda m: m.einsum('ij,jk->ik', m.ones(2, 3), m.ones(4, 3)),
    lambda m: m.einsum('ij,jk', m.ones(2, 3)),
    lambda m: m.einsum('ij->', m.ones(2, 3), m.ones(2)),
    lambda m: m.einsum('ii->i', m.ones(2, 3)),
    lambda m: m.einsum('ij', m.ones(2, 3, 4)),
    lambda m: m.einsum('ij->ii', m.ones(2, 3)),
    lambda m: m.einsum('ij->k', m.ones(2, 3)),
    lambda m: m.einsum('i#->i', m.ones(2, 3)),
    lambda m: m.einsum('ij->i.', m.ones(2, 3)),
    lambda m: m.einsum('i...j', m.ones(2)),
    lambda m: m.einsum('ij,jk', m.ones(2, 3), m.ones(3, 3, dtype=m.float64)),
]


@pytest.mark.parametrize('k', range(len(PRODUCT_ERRORS)))
def test_product_errors(k):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        same_error(lambda: PRODUCT_ERRORS[k](ember), lambda: PRODUCT_ERRORS[k](torch))


# ---- ember.linalg -----------------------------------------------------------------------------
LINALG = [
    ('linalg.inv', {}, [(3, 3)]), ('linalg.inv', {}, [(2, 3, 3)]),
    ('linalg.det', {}, [(3, 3)]), ('linalg.det', {}, [(2, 4, 4)]),
    ('linalg.solve', {}, [(3, 3), (3,)]), ('linalg.solve', {}, [(2, 3, 3), (3, 2)]),
    ('linalg.solve', {'left': False}, [(3, 3), (2, 3)]), ('linalg.solve', {}, [(2, 3, 3), (2, 3)]),
    ('linalg.vector_norm', {}, [(3, 4)]), ('linalg.vector_norm', {'ord': 1, 'dim': 1}, [(3, 4)]),
    ('linalg.vector_norm', {'ord': 3, 'dim': (0, 1), 'keepdim': True}, [(3, 4)]),
    ('linalg.vector_norm', {'ord': math.inf}, [(3, 4)]),
    ('linalg.vector_norm', {'ord': -math.inf, 'dim': 0}, [(3, 4)]),
    ('linalg.vector_norm', {'ord': 0.5}, [(3, 4)]), ('linalg.vector_norm', {'ord': 0}, [(3, 4)]),
    ('linalg.vector_norm', {'ord': -1.5, 'dim': -1}, [(3, 4)]),
    ('linalg.vector_norm', {}, [()]), ('linalg.vector_norm', {'dim': 1}, [(0, 3)]),
    ('linalg.vector_norm', {'dtype': torch.float64}, [(3,)]),
    ('linalg.matrix_norm', {}, [(3, 4)]), ('linalg.matrix_norm', {'ord': 'nuc'}, [(2, 3, 4)]),
    ('linalg.matrix_norm', {'ord': 2}, [(3, 4)]), ('linalg.matrix_norm', {'ord': -2}, [(3, 4)]),
    ('linalg.matrix_norm', {'ord': 1}, [(3, 4)]), ('linalg.matrix_norm', {'ord': -1}, [(3, 4)]),
    ('linalg.matrix_norm', {'ord': math.inf}, [(3, 4)]),
    ('linalg.matrix_norm', {'ord': -math.inf, 'dim': (0, 2), 'keepdim': True}, [(2, 3, 4)]),
    ('linalg.matrix_norm', {'ord': 2, 'dim': (2, 0), 'keepdim': True}, [(2, 3, 4)]),
    ('linalg.norm', {}, [(3, 4)]), ('linalg.norm', {'ord': 3}, [(4,)]),
    ('linalg.norm', {'ord': 'nuc'}, [(3, 4)]), ('linalg.norm', {'dim': (0, 2)}, [(2, 3, 4)]),
    ('linalg.norm', {'ord': 2, 'dim': 1}, [(3, 4)]), ('linalg.norm', {'ord': -1}, [(3, 4)]),
    ('linalg.svdvals', {}, [(4, 3)]), ('linalg.pinv', {}, [(4, 3)]), ('linalg.pinv', {}, [(3, 5)]),
    ('linalg.pinv', {'rtol': 0.3}, [(3, 5)]),
    ('linalg.matrix_power', {'n': 3}, [(3, 3)]), ('linalg.matrix_power', {'n': -2}, [(3, 3)]),
    ('linalg.matrix_power', {'n': 0}, [(2, 3, 3)]), ('linalg.matrix_power', {'n': 1}, [(3, 3)]),
    ('linalg.vecdot', {}, [(3, 4), (4,)]), ('linalg.vecdot', {'dim': 0}, [(3, 4), (3, 1)]),
    ('linalg.vecdot', {}, [(), ()]),
    ('linalg.cross', {}, [(4, 3), (1, 3)]), ('linalg.matmul', {}, [(2, 3), (3,)]),
    ('det', {}, [(3, 3)]), ('logdet', {}, [(2, 3, 3)]), ('inverse', {}, [(3, 3)]),
    ('pinverse', {}, [(3, 4)]), ('matrix_power', {'n': 2}, [(3, 3)]),
    ('norm', {}, [(4, 3)]), ('norm', {'p': 1, 'dim': 1}, [(4, 3)]),
    ('norm', {'p': 'nuc'}, [(4, 3)]),
    ('norm', {'dim': 0, 'keepdim': True}, [(4, 3)]), ('norm', {'p': math.inf}, [(4, 3)]),
]


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('path,kw,shapes', LINALG,
                         ids=[f'{p}-{k}-{s}' for p, k, s in LINALG])
def test_linalg_parity(path, kw, shapes, dtype):
    ekw = {k: (ember.float64 if v is torch.float64 else v) for k, v in kw.items()}
    fe = both(path, **ekw)[0]
    ft = both(path, **kw)[1]
    check(fe, ft, *[R(*s, seed=i, dtype=dtype) for i, s in enumerate(shapes)], **tol(dtype))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('upper', [False, True])
@pytest.mark.parametrize('batch', [(), (2,)])
def test_cholesky(batch, upper, dtype):
    a = spd(3, batch).astype(dtype)
    check(*both('linalg.cholesky', upper=upper), a, **tol(dtype))
    gradcheck(lambda x: ember.linalg.cholesky(_sym(x), upper=upper), spd(3, batch))


def _sym(x):
    """(x + x^T) / 2: decompositions of symmetric matrices read one triangle only, so finite
    differences need a symmetric parametrisation."""
    return (x + x.mT) * 0.5


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape,mode', [((4, 3), 'reduced'), ((3, 3), 'reduced'),
                                        ((2, 4, 3), 'reduced'), ((3, 5), 'reduced'),
                                        ((3, 5), 'complete'), ((4, 3), 'complete')])
def test_qr(shape, mode, dtype):
    grad = not (mode == 'complete' and shape[-2] > shape[-1])
    check(lambda a: tuple(ember.linalg.qr(a, mode)), lambda a: tuple(torch.linalg.qr(a, mode)),
          R(*shape, dtype=dtype), grad=grad, **tol(dtype))


def test_qr_r_mode_and_backward_errors():
    a = R(4, 3)
    e, t = ember.linalg.qr(E(a), mode='r'), torch.linalg.qr(T(a), mode='r')
    assert_close(e.R, t.R)
    assert tuple(e.Q.shape) == tuple(t.Q.shape) == (0,)
    for mode in ('r', 'complete'):
        xe, xt = E(a, True), T(a, True)
        same_error(lambda: ember.linalg.qr(xe, mode).R.backward(E(np.ones((3, 3)) if mode == 'r'
                                                                  else np.ones((4, 3)))),
                   lambda: torch.linalg.qr(xt, mode).R.backward(T(np.ones((3, 3)) if mode == 'r'
                                                                  else np.ones((4, 3)))))


def _gauge_free_svd(mod, a, full):
    """Outputs of svd that do not depend on the singular vectors' signs."""
    U, S, Vh = mod.linalg.svd(a, full_matrices=full)
    k = S.shape[-1]
    return U[..., :, :k] * U[..., :, :k], S, Vh[..., :k, :] * Vh[..., :k, :]


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape', [(4, 3), (3, 3), (2, 3, 5)])
@pytest.mark.parametrize('full', [False, True])
def test_svd(shape, full, dtype):
    a = R(*shape, dtype=dtype)
    check(lambda x: _gauge_free_svd(ember, x, full), lambda x: _gauge_free_svd(torch, x, full),
          a, **tol(dtype))


def test_svd_legacy_and_svdvals_gradcheck():
    a = R(4, 3)
    e, t = ember.svd(E(a)), torch.svd(T(a))
    assert_close(e.S, t.S)
    np.testing.assert_allclose(np.abs(to_np(e.V)), np.abs(to_np(t.V)), rtol=1e-10)
    e0, t0 = ember.svd(E(a), compute_uv=False), torch.svd(T(a), compute_uv=False)
    assert_close(e0.U, t0.U)
    assert_close(e0.V, t0.V)
    gradcheck(lambda x: ember.linalg.svdvals(x), a)
    gradcheck(lambda x: ember.linalg.matrix_norm(x, 'nuc'), a)
    gradcheck(lambda x: ember.linalg.matrix_norm(x, -2), a)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape', [(3, 3), (2, 4, 4)])
@pytest.mark.parametrize('uplo', ['L', 'U'])
def test_eigh(shape, uplo, dtype):
    a = R(*shape)
    a = (a + np.swapaxes(a, -1, -2)).astype(dtype)
    check(lambda x: (lambda w, v: (w, v * v))(*ember.linalg.eigh(x, uplo)),
          lambda x: (lambda w, v: (w, v * v))(*torch.linalg.eigh(x, uplo)), a, **tol(dtype))
    check(*both('linalg.eigvalsh', UPLO=uplo), a, **tol(dtype))


def test_slogdet_and_result_types():
    a = R(2, 3, 3)
    check(lambda x: tuple(ember.linalg.slogdet(x)), lambda x: tuple(torch.linalg.slogdet(x)), a)
    check(lambda x: tuple(ember.slogdet(x)), lambda x: tuple(torch.slogdet(x)), a)
    r = ember.linalg.slogdet(E(a))
    assert r.sign is r[0] and r.logabsdet is r[1]
    assert repr(r).startswith('ember.return_types.linalg_slogdet(\nsign=')
    assert type(ember.linalg.qr(E(a))).__name__ == 'linalg_qr'
    assert ember.linalg.svd(E(a)).Vh.shape == (2, 3, 3)
    assert ember.linalg.eigh(E(a)).eigenvectors.shape == (2, 3, 3)


SINGULAR = np.array([[1., 2, 3], [2, 4, 6], [1, 0, 1]])


def test_det_of_singular_matrices_is_the_adjugate():
    """d det / dA = adj(A)^T also for singular A (through the SVD); torch returns zeros here,
    ember the true derivative, so it is checked by finite differences."""
    check(*both('linalg.det'), SINGULAR, grad=False)
    gradcheck(lambda x: ember.linalg.det(x), SINGULAR)
    gradcheck(lambda x: ember.linalg.det(x), np.stack([SINGULAR, R(3, 3)]))
    gradcheck(lambda x: ember.linalg.det(x), np.zeros((3, 3)))


def test_gradchecks():
    gradcheck(lambda x: ember.linalg.inv(x), R(3, 3) + 3 * np.eye(3))
    gradcheck(lambda a, b: ember.linalg.solve(a, b), R(3, 3) + 3 * np.eye(3), R(3, 2, seed=1))
    gradcheck(lambda a, b: ember.linalg.solve(a, b, left=False), R(2, 3, 3) + 3 * np.eye(3),
              R(4, 3, seed=1))
    gradcheck(lambda x: ember.linalg.slogdet(x).logabsdet, R(3, 3))
    gradcheck(lambda x: ember.linalg.pinv(x), R(3, 4))
    gradcheck(lambda x: ember.linalg.pinv(_sym(x), hermitian=True), spd(3))
    gradcheck(lambda x: ember.linalg.eigh(_sym(x)).eigenvalues, R(3, 3))
    gradcheck(lambda x: ember.linalg.eigh(_sym(x)).eigenvectors ** 2, R(3, 3))
    gradcheck(lambda x: ember.linalg.vector_norm(x, 3, dim=0), R(3, 4))
    gradcheck(lambda x: ember.linalg.matrix_norm(x, 1), R(3, 4))
    gradcheck(lambda x, y: x @ y, R(2, 3, 4), R(4,))
    gradcheck(lambda x, y: ember.kron(x, y), R(2, 3), R(2, 1, seed=1))
    gradcheck(lambda x: ember.linalg.qr(x).Q, R(3, 5))


LINALG_ERRORS = [
    lambda m: m.linalg.inv(m.tensor(SINGULAR)),
    lambda m: m.linalg.inv(m.zeros(3, 3)),
    lambda m: m.linalg.inv(m.tensor(np.stack([np.eye(3), SINGULAR]))),
    lambda m: m.linalg.inv(m.ones(3, 4)),
    lambda m: m.linalg.inv(m.ones(3)),
    lambda m: m.linalg.inv(m.ones(3, 3, dtype=m.int64)),
    lambda m: m.linalg.inv(m.ones(3, 3, dtype=m.float16)),
    lambda m: m.inverse(m.tensor(SINGULAR)),
    lambda m: m.linalg.det(m.ones(3, 4)),
    lambda m: m.linalg.det(m.ones(3, dtype=m.float64)),
    lambda m: m.linalg.solve(m.tensor(SINGULAR), m.ones(3, dtype=m.float64)),
    lambda m: m.linalg.solve(m.tensor(np.stack([np.eye(3), SINGULAR])),
                             m.ones(3, dtype=m.float64)),
    lambda m: m.linalg.solve(m.eye(3), m.ones(4)),
    lambda m: m.linalg.solve(m.eye(3), m.ones(4, 2)),
    lambda m: m.linalg.solve(m.eye(3), m.ones(2, 4), left=False),
    lambda m: m.linalg.solve(m.eye(3), m.ones(3), left=False),
    lambda m: m.linalg.solve(m.eye(3), m.ones(3, dtype=m.float64)),
    lambda m: m.linalg.solve(m.ones(3), m.ones(3)),
    lambda m: m.linalg.cholesky(-m.eye(3)),
    lambda m: m.linalg.cholesky(m.tensor([[1., 2], [2, 1]])),
    lambda m: m.linalg.cholesky(m.tensor(np.stack([np.eye(2), [[1., 2], [2, 1]]]))),
    lambda m: m.linalg.cholesky(m.ones(2, 3)),
    lambda m: m.linalg.vector_norm(m.ones(3), 'fro'),
    lambda m: m.linalg.vector_norm(m.ones(3, dtype=m.int64)),
    lambda m: m.linalg.vector_norm(m.ones(3, dtype=m.float64), dtype=m.float32),
    lambda m: m.linalg.vector_norm(m.ones(0), math.inf),
    lambda m: m.linalg.vector_norm(m.ones(0, 3), -math.inf, dim=0),
    lambda m: m.linalg.vector_norm(m.ones(3, 3), dim=(0, 0)),
    lambda m: m.linalg.matrix_norm(m.ones(3)),
    lambda m: m.linalg.matrix_norm(m.ones(3, 3), 3),
    lambda m: m.linalg.matrix_norm(m.ones(3, 3), 'abc'),
    lambda m: m.linalg.matrix_norm(m.ones(3, 3), dim=(0, 0)),
    lambda m: m.linalg.norm(m.ones(2, 3, 3), 2),
    lambda m: m.linalg.norm(m.ones(3), 'fro'),
    lambda m: m.linalg.norm(m.ones(3, 4, 2), dim=(0, 1, 2)),
    lambda m: m.linalg.qr(m.ones(4, 3), mode='bad'),
    lambda m: m.linalg.qr(m.ones(3)),
    lambda m: m.linalg.eigh(m.ones(3, 3), UPLO='X'),
    lambda m: m.linalg.eigh(m.ones(3, 4)),
    lambda m: m.linalg.svd(m.ones(3, 3, dtype=m.int64)),
    lambda m: m.linalg.svdvals(m.ones(3)),
    lambda m: m.linalg.matrix_rank(m.ones(3)),
    lambda m: m.linalg.pinv(m.ones(3, 3, dtype=m.int64)),
    lambda m: m.linalg.matrix_power(m.ones(3, 4), 2),
    lambda m: m.linalg.matrix_power(m.eye(3), 2.0),
    lambda m: m.linalg.matrix_power(m.eye(3, dtype=m.int64), -2),
    lambda m: m.linalg.matrix_power(m.tensor(SINGULAR), -1),
    lambda m: m.linalg.multi_dot([m.ones(3)]),
    lambda m: m.linalg.multi_dot([m.ones(3, 3), m.ones(3, 3, 3)]),
    lambda m: m.linalg.multi_dot([m.ones(2, 2, 2), m.ones(2, 2)]),
    lambda m: m.linalg.multi_dot([m.ones(2, 2), m.ones(2), m.ones(2, 2)]),
    lambda m: m.linalg.multi_dot([m.ones(3, 3), m.ones(4, 3)]),
    lambda m: m.linalg.multi_dot([m.ones(3, 3), m.ones(3, 3, dtype=m.float64)]),
    lambda m: m.linalg.vecdot(m.ones(2, 3), m.ones(4)),
    lambda m: m.linalg.vecdot(m.ones(3, dtype=m.int64), m.ones(3, dtype=m.int64)),
    lambda m: m.linalg.vecdot(m.ones(2, 3), m.ones(3, dtype=m.float64)),
]


@pytest.mark.parametrize('k', range(len(LINALG_ERRORS)))
def test_linalg_errors(k):
    same_error(lambda: LINALG_ERRORS[k](ember), lambda: LINALG_ERRORS[k](torch))


def test_linalg_error_class():
    assert issubclass(ember.linalg.LinAlgError, RuntimeError)
    with pytest.raises(ember.linalg.LinAlgError):
        ember.linalg.inv(E(SINGULAR))


def test_matrix_rank_and_empty():
    s = SINGULAR
    for kw in ({}, {'tol': 0.5}, {'atol': 0.5, 'rtol': 0.1}, {'hermitian': True}):
        a = s @ s.T if kw.get('hermitian') else s
        assert_close(ember.linalg.matrix_rank(E(a), **kw), torch.linalg.matrix_rank(T(a), **kw))
    assert_close(ember.linalg.inv(E(np.zeros((0, 0)))), torch.linalg.inv(T(np.zeros((0, 0)))))
    assert_close(ember.linalg.det(E(np.zeros((2, 0, 0)))),
                 torch.linalg.det(T(np.zeros((2, 0, 0)))))


def test_solve_broadcasting_vector_rule():
    for sa, sb in [((2, 1, 3, 3), (4, 3, 2)), ((2, 3, 3), (2, 3)), ((3, 3, 3), (3, 3))]:
        a = R(*sa) + 3 * np.eye(3)
        check(*both('linalg.solve'), a, R(*sb, seed=1))


@pytest.mark.cuda
def test_cuda_products_and_linalg():
    a, b = R(2, 3, 4), R(4, 5, seed=1)
    e = ember.tensor(a, device='cuda') @ ember.tensor(b, device='cuda')
    np.testing.assert_allclose(e.cpu().numpy(), a @ b, rtol=1e-10)
    m = ember.tensor(spd(3), device='cuda', requires_grad=True)
    ember.linalg.cholesky(m).sum().backward()
    x = T(spd(3), True)
    torch.linalg.cholesky(x).sum().backward()
    np.testing.assert_allclose(m.grad.cpu().numpy(), x.grad.numpy(), rtol=1e-8)
    with pytest.raises(ember.linalg.LinAlgError, match='diagonal element 3'):
        ember.linalg.inv(ember.tensor(SINGULAR, device='cuda'))
