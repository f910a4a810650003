"""nn.Unfold and nn.Fold (and F.unfold / F.fold) against torch."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as F
from tests.helpers import E, assert_close, check, gradcheck, noncontig, rand
from tests.helpers_nn import check_module

DTYPES = (np.float32, np.float64)
# (kernel_size, dilation, padding, stride)
GEOMETRY = [(2, 1, 0, 1), (3, 1, 1, 2), ((2, 3), (1, 2), (1, 0), (2, 1)), (1, 1, 0, 1),
            ((3, 2), 2, (2, 1), 3)]


@pytest.fixture(autouse=True, scope='module')
def _torch_single_threaded():
    """torch's thread pool costs milliseconds per op on a busy machine; these tests compare
    small tensors."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _blocks(size, k, d, p, s):
    """Number of block positions along each of the 2 dims."""
    two = [v if isinstance(v, tuple) else (v, v) for v in (k, d, p, s)]
    return [(n + 2 * pp - dd * (kk - 1) - 1) // ss + 1
            for n, kk, dd, pp, ss in zip(size, *two)]


@pytest.mark.parametrize('geom', GEOMETRY)
@pytest.mark.parametrize('dtype', DTYPES)
def test_unfold_module_matches_torch(geom, dtype):
    k, d, p, s = geom
    for shape in ((2, 3, 9, 8), (3, 7, 10), (1, 1, 8, 9)):
        check_module(lambda L: L.nn.Unfold(k, d, p, s), [rand(*shape, dtype=dtype)],
                     dtype=dtype)


@pytest.mark.parametrize('geom', GEOMETRY)
@pytest.mark.parametrize('dtype', DTYPES)
def test_fold_module_matches_torch(geom, dtype):
    k, d, p, s = geom
    kk = k if isinstance(k, tuple) else (k, k)
    for size, lead in (((9, 8), (2,)), ((7, 10), ()), ((8, 9), (1,))):
        n_blocks = np.prod(_blocks(size, k, d, p, s))
        x = rand(*lead, 3 * kk[0] * kk[1], n_blocks, dtype=dtype)
        check_module(lambda L: L.nn.Fold(size, k, d, p, s), [x], dtype=dtype)


def test_functional_keywords_and_non_contiguous_inputs():
    x = noncontig(rand(2, 3, 9, 8))
    kw = dict(kernel_size=(2, 3), dilation=(2, 1), padding=1, stride=(1, 2))
    check(lambda t: F.unfold(t, **kw), lambda t: TF.unfold(t, **kw), x)
    cols = noncontig(rand(2, 18, 4 * 4))
    kw = dict(output_size=(5, 4), kernel_size=(2, 3), stride=1, padding=(0, 1))
    check(lambda t: F.fold(t, **kw), lambda t: TF.fold(t, **kw), cols)
    check(lambda t: F.fold(t.transpose(1, 2), (4, 5), 2),
          lambda t: TF.fold(t.transpose(1, 2), (4, 5), 2), rand(2, 12, 8))


def test_fold_of_unfold_counts_block_memberships():
    """fold(unfold(x)) multiplies each element by the number of blocks that contain it."""
    x = E(rand(2, 3, 7, 6, dtype=np.float64))
    kw = dict(kernel_size=3, padding=1, stride=2)
    counts = F.fold(F.unfold(ember.ones_like(x), **kw), (7, 6), **kw)
    assert_close(F.fold(F.unfold(x, **kw), (7, 6), **kw), x * counts)
    assert_close(counts, TF.fold(TF.unfold(torch.ones(2, 3, 7, 6, dtype=torch.float64), **kw),
                                 (7, 6), **kw))


def test_gradcheck_and_node_names():
    gradcheck(lambda t: F.unfold(t, (2, 3), 2, 1, (1, 2)), rand(1, 2, 5, 6, dtype=np.float64))
    gradcheck(lambda t: F.fold(t, (4, 5), 2, 1, (1, 0), 2), rand(1, 8, 6, dtype=np.float64))
    for fn in (lambda m, x: m.unfold(x, 2),
               lambda m, x: m.fold(x[0, :, :4, :4].reshape(4, 16)[:, :4], (3, 3), 2)):
        xe = ember.ones(1, 4, 6, 6, requires_grad=True)
        xt = torch.ones(1, 4, 6, 6, requires_grad=True)
        assert fn(F, xe).grad_fn.name() == fn(TF, xt).grad_fn.name()


def test_empty_batch():
    check(lambda t: F.unfold(t, 2), lambda t: TF.unfold(t, 2), np.zeros((0, 3, 4, 4), np.float32))
    check(lambda t: F.fold(t, 3, 2), lambda t: TF.fold(t, 3, 2), np.zeros((0, 8, 4), np.float32))


@pytest.mark.parametrize('text', ['Unfold(2)', 'Unfold((2, 3), 2, 1, 2)',
                                  'Unfold(kernel_size=3, stride=(1, 2))', 'Fold(4, 2)',
                                  'Fold((4, 5), (2, 3), 1, 0, 1)',
                                  'Fold(output_size=(6, 6), kernel_size=3, padding=1)'])
def test_repr_and_attributes(text):
    em, tm = eval('ember.nn.' + text), eval('torch.nn.' + text)
    assert repr(em) == repr(tm)
    for name in ('output_size', 'kernel_size', 'dilation', 'padding', 'stride'):
        assert getattr(em, name, 'absent') == getattr(tm, name, 'absent'), name
    assert list(em.state_dict()) == list(tm.state_dict()) == []


ERROR_CASES = [
    ('unfold', 'x, 0'), ('unfold', 'x, 2, 0'), ('unfold', 'x, 2, 1, -1'),
    ('unfold', 'x, 2, 1, 0, 0'), ('unfold', 'x, 20'), ('unfold', 'x[0, 0], 2'),
    ('unfold', 'x[None], 2'), ('unfold', 'x[:, :0], 2'), ('unfold', 'x, (2, 2, 2)'),
    ('unfold', 'x.long(), 2'),
    ('fold', 'c, 4, 3'), ('fold', 'c, 4, 2, 1, 0, 3'), ('fold', 'c, (4, 4, 4), 2'),
    ('fold', 'c[0, 0], 4, 2'), ('fold', 'c[None], 4, 2'), ('fold', 'c[:, :7], 4, 2'),
    ('fold', 'c.long(), 4, 2'), ('fold', 'c, 4, 0'), ('fold', 'c, 1, 2'),
    # argument parsing: a sequence must hold 2 ints; TypeErrors name the argument's position
    ('unfold', 'x, [2]'), ('unfold', 'x, (2,)'), ('unfold', 'x, 2, dilation=[1]'),
    ('unfold', 'x, 2.0'), ('unfold', "x, 'a'"), ('unfold', 'x, True'),
    ('unfold', 'x, 2, dilation=1.0'), ('unfold', 'x, 2, padding=1.0'),
    ('unfold', 'x, 2, stride=1.0'), ('unfold', 'x, T.tensor(2)'),
    ('fold', 'c, [4], 2'), ('fold', 'c, 4.0, 2'), ('fold', 'c, 4, 2.0'),
    ('fold', 'c, 4, 2, stride=1.0'), ('fold', 'c, T.tensor(4), 2'),
]


@pytest.mark.parametrize('fn, args', ERROR_CASES)
def test_errors_match_torch(fn, args):
    env_t = dict(x=torch.ones(2, 3, 6, 6), c=torch.ones(2, 12, 9), F=TF, T=torch)
    env_e = dict(x=ember.ones(2, 3, 6, 6), c=ember.ones(2, 12, 9), F=F, T=ember)
    with pytest.raises(Exception) as expected:
        eval(f'F.{fn}({args})', env_t)
    with pytest.raises(type(expected.value)) as got:
        eval(f'F.{fn}({args})', env_e)
    assert str(got.value) == str(expected.value)


def test_bool_inputs_as_torch():
    """unfold copies bool blocks (False padding); fold's sum of bools is a logical or."""
    bits = np.random.default_rng(0).random((1, 2, 4, 5)) > 0.5
    blocks = np.random.default_rng(1).random((2, 8, 12)) > 0.7
    for lib, fn in ((torch, TF), (ember, F)):
        got = (fn.unfold(lib.tensor(bits), (2, 3), padding=1, stride=(1, 2)),
               fn.fold(lib.tensor(blocks), (4, 5), 2))
        if lib is torch:
            expected = [t.numpy() for t in got]
        else:
            for g, e in zip(got, expected):
                assert g.dtype == ember.bool
                np.testing.assert_array_equal(g.numpy(), e)


def test_module_errors_match_torch():
    for text, shape in (('Unfold(2)', (2, 3, 4, 4, 4)), ('Fold(4, 2)', (2, 7, 9)),
                        ('Fold(5, 2)', (2, 12, 9))):
        with pytest.raises(RuntimeError) as expected:
            eval('torch.nn.' + text)(torch.ones(*shape))
        with pytest.raises(RuntimeError, match=None) as got:
            eval('ember.nn.' + text)(ember.ones(*shape))
        assert str(got.value) == str(expected.value)
