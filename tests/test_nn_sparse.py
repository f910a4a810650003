"""nn sparse family against torch: F.embedding (padding_idx, scale_grad_by_freq, max_norm),
F.embedding_bag (sum/mean/max, offsets, 2-D input, per_sample_weights, include_last_offset,
padding_idx), F.one_hot, and the Embedding / EmbeddingBag modules."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from tests.helpers import E, T, assert_close, check, gradcheck, rand, to_np
from tests.helpers_nn import check_module

DTYPES = [np.float32, np.float64]
IDX = np.array([1, 2, 3, 2, 5, 2, 0, 9, 2, 2, 4, 4])


def _raises_like(fn_e, fn_t):
    """Same exception type and message (its first line: torch may append a tensor dump)."""
    with pytest.raises(Exception) as et:
        fn_t()
    with pytest.raises(et.type) as ee:
        fn_e()
    first = str(et.value).replace('torch.', 'ember.').split('\n')[0]
    assert str(ee.value).split('\n')[0] == first


# ---- F.embedding ------------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape', [(12,), (3, 4), (2, 3, 2), (0,), ()])
@pytest.mark.parametrize('opts', [{}, {'padding_idx': 2}, {'padding_idx': -8},
                                  {'scale_grad_by_freq': True},
                                  {'padding_idx': 4, 'scale_grad_by_freq': True}])
def test_embedding_matches_torch(dtype, shape, opts):
    n = int(np.prod(shape))
    idx = (IDX[:n] if n else IDX[:0]).reshape(shape)
    check(lambda i, w: F.embedding(i, w, **opts), lambda i, w: TF.embedding(i, w, **opts),
          idx, rand(10, 5, dtype=dtype))


@pytest.mark.parametrize('dtype', DTYPES)
def test_embedding_int32_indices_and_wide_rows(dtype):
    check(F.embedding, TF.embedding, IDX.astype(np.int32), rand(10, 3, dtype=dtype))
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 50, (40, 30))     # many duplicates, rows wide enough for the fast path
    check(F.embedding, TF.embedding, idx, rand(50, 64, dtype=dtype))
    check(lambda i, w: F.embedding(i, w, scale_grad_by_freq=True),
          lambda i, w: TF.embedding(i, w, scale_grad_by_freq=True), idx, rand(50, 64, dtype=dtype))


def test_embedding_noncontiguous_weight_indices_and_grad_fn():
    check(lambda i, w: F.embedding(i.t(), w), lambda i, w: TF.embedding(i.t(), w),
          IDX.reshape(3, 4), rand(10, 6))
    w = rand(5, 10)[:, ::2]
    eo, to = check(F.embedding, TF.embedding, np.array([[0, 4], [4, 4]]), w)
    assert eo.grad_fn.name() == to.grad_fn.name() == 'EmbeddingBackward0'


def test_embedding_gradcheck():
    # padding_idx and scale_grad_by_freq alter the gradient on purpose: compared with torch above
    gradcheck(lambda w: F.embedding(E(IDX.reshape(3, 4)), w), rand(10, 3))
    gradcheck(lambda w: F.embedding(E(np.array([[3, 3], [0, 9]])), w), rand(10, 40))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('norm_type', [2.0, 1.0, float('inf'), 3.5])
def test_embedding_max_norm_renormalises_rows_in_place(dtype, norm_type):
    w = rand(10, 4, dtype=dtype, seed=3) * 2
    we, wt = E(w, True), T(w, True)
    idx = np.array([[1, 2, 2], [7, 1, 0]])
    eo = F.embedding(E(idx), we, max_norm=1.5, norm_type=norm_type)
    to = TF.embedding(T(idx), wt, max_norm=1.5, norm_type=norm_type)
    assert_close(eo, to)
    assert_close(we, wt)                               # referenced rows rescaled, others kept
    assert we._version == wt._version == 1
    g = rand(2, 3, 4, dtype=dtype)
    eo.backward(E(g))
    to.backward(T(g))
    assert_close(we.grad, wt.grad)


def test_embedding_errors():
    w = rand(10, 3)
    for idx in (np.array([1.0, 2.0]), np.array([1, 10]), np.array([1, -1])):
        _raises_like(lambda: F.embedding(E(idx), E(w)), lambda: TF.embedding(T(idx), T(w)))
    for pad in (10, -11):
        _raises_like(lambda: F.embedding(E(IDX), E(w), padding_idx=pad),
                     lambda: TF.embedding(T(IDX), T(w), padding_idx=pad))
    for bad_w in (rand(10, 3, 2), rand(10)):
        _raises_like(lambda: F.embedding(E(IDX), E(bad_w)), lambda: TF.embedding(T(IDX), T(bad_w)))


def test_embedding_sparse_gradients_are_refused_clearly():
    a = rand(10, 3)
    w = E(a, True)
    with pytest.raises(RuntimeError, match='sparse=True'):
        F.embedding(E(IDX), w, sparse=True)
    with ember.no_grad():
        out = F.embedding(E(IDX), w, sparse=True)
    assert_close(out, TF.embedding(T(IDX), T(a), sparse=True))
    assert_close(F.embedding(E(IDX), E(a), sparse=True), TF.embedding(T(IDX), T(a)))


# ---- Embedding module ------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('kwargs', [{}, {'padding_idx': 3}, {'padding_idx': -2},
                                    {'scale_grad_by_freq': True}, {'max_norm': 1.0},
                                    {'max_norm': 2.0, 'norm_type': 1.0, 'padding_idx': 0}])
def test_embedding_module(dtype, kwargs):
    check_module(lambda L: L.nn.Embedding(10, 4, **kwargs),
                 [np.array([[1, 3, 3], [8, 0, 9]])], dtype=dtype)
    check_module(lambda L: L.nn.Embedding(10, 4, **kwargs), [np.array(7)], dtype=dtype)


def test_embedding_module_repr_and_attributes():
    for kw in [{}, {'padding_idx': -2}, {'max_norm': 2}, {'norm_type': 1.0},
               {'padding_idx': 2, 'max_norm': 1.0, 'norm_type': 3.0, 'scale_grad_by_freq': True,
                'sparse': True}]:
        em, tm = nn.Embedding(10, 3, **kw), torch.nn.Embedding(10, 3, **kw)
        assert repr(em) == repr(tm)
        for a in ('num_embeddings', 'embedding_dim', 'padding_idx', 'max_norm', 'norm_type',
                  'scale_grad_by_freq', 'sparse'):
            assert getattr(em, a) == getattr(tm, a), a
    assert nn.Embedding(4, 2, dtype=ember.float64).weight.dtype == ember.float64


def test_embedding_default_init():
    m = nn.Embedding(400, 50, padding_idx=-3)
    w = to_np(m.weight)
    assert not w[397].any()
    rest = np.delete(w, 397, axis=0).ravel()
    n = rest.size
    assert abs(rest.mean()) < 5 / np.sqrt(n)
    assert abs(rest.std() - 1) < 5 * 0.71 / np.sqrt(n)
    assert m.weight.requires_grad
    m.reset_parameters()
    assert not to_np(m.weight)[397].any()


def test_embedding_constructor_errors():
    for kw in [{'padding_idx': 4}, {'padding_idx': -5}, {'_weight': rand(3, 3)}]:
        kw_t = {k: (T(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        kw_e = {k: (E(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        _raises_like(lambda: nn.Embedding(4, 3, **kw_e), lambda: torch.nn.Embedding(4, 3, **kw_t))
    _raises_like(lambda: nn.Embedding.from_pretrained(E(rand(3))),
                 lambda: torch.nn.Embedding.from_pretrained(T(rand(3))))


@pytest.mark.parametrize('freeze', [True, False])
def test_embedding_from_pretrained(freeze):
    w = rand(6, 3)
    we = E(w)
    em = nn.Embedding.from_pretrained(we, freeze=freeze, padding_idx=1)
    tm = torch.nn.Embedding.from_pretrained(T(w), freeze=freeze, padding_idx=1)
    assert repr(em) == repr(tm)
    assert em.weight.requires_grad == tm.weight.requires_grad == (not freeze)
    assert_close(em.weight, tm.weight)                       # the padding row is not zeroed
    assert em.weight.data_ptr() == we.data_ptr()             # shares the given storage
    assert_close(em(E(np.array([1, 5]))), tm(T(np.array([1, 5]))))
    m = nn.Embedding(6, 3, _weight=E(w), _freeze=True)
    assert not m.weight.requires_grad


# ---- F.embedding_bag --------------------------------------------------------------------------
BAG_CASES = [                    # (input, offsets, include_last_offset)
    (IDX, np.array([0, 3, 3, 7]), False),
    (IDX, np.array([0, 3, 3, 7, 12]), True),
    (IDX.reshape(3, 4), None, False),
    (IDX, np.array([0, 2, 5, 12, 12]), False),
    (IDX, np.array([0]), False),
    (IDX[:0], np.array([0, 0]), False),
]


@pytest.mark.parametrize('case', range(len(BAG_CASES)))
@pytest.mark.parametrize('mode', ['sum', 'mean', 'max'])
@pytest.mark.parametrize('padding_idx', [None, 2, -6])
def test_embedding_bag_matches_torch(case, mode, padding_idx):
    idx, off, last = BAG_CASES[case]
    for dtype in DTYPES:
        kw = dict(mode=mode, padding_idx=padding_idx, include_last_offset=last)
        check(lambda i, w, o: F.embedding_bag(i, w, o, **kw),
              lambda i, w, o: TF.embedding_bag(i, w, o, **kw), idx, rand(10, 5, dtype=dtype),
              off)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('case', [0, 1, 2, 3])
@pytest.mark.parametrize('padding_idx', [None, 2])
def test_embedding_bag_per_sample_weights(dtype, case, padding_idx):
    idx, off, last = BAG_CASES[case]
    kw = dict(mode='sum', padding_idx=padding_idx, include_last_offset=last)
    check(lambda i, w, o, p: F.embedding_bag(i, w, o, per_sample_weights=p, **kw),
          lambda i, w, o, p: TF.embedding_bag(i, w, o, per_sample_weights=p, **kw),
          idx, rand(10, 5, dtype=dtype), off, rand(*idx.shape, dtype=dtype))


def test_embedding_bag_wide_rows_and_int32():
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 30, 200)
    off = np.sort(rng.integers(0, 200, 20))
    off[0] = 0
    for mode in ('sum', 'mean', 'max'):
        check(lambda i, w, o: F.embedding_bag(i, w, o, mode=mode),
              lambda i, w, o: TF.embedding_bag(i, w, o, mode=mode),
              idx.astype(np.int32), rand(30, 64), off.astype(np.int32))


def _bag_reference(lib, fn, idx, w, off, mode, padding_idx, psw):
    """embedding_bag built from embedding + index_add in ``lib`` (torch's own
    scale_grad_by_freq for embedding_bag is inconsistent on the CPU)."""
    flat = idx.reshape(-1)
    n = flat.shape[0]
    if off is None:
        off = np.arange(idx.shape[0]) * idx.shape[1]
    bag = np.searchsorted(off, np.arange(n), side='right') - 1
    keep = flat != (padding_idx % 10 if padding_idx is not None else -1)
    rows = fn.embedding(lib.tensor(flat), w, scale_grad_by_freq=True, padding_idx=padding_idx)
    rows = rows * lib.tensor(keep.astype(to_np(w).dtype))[:, None]
    if psw is not None:
        rows = rows * psw.reshape(-1)[:, None]
    out = lib.zeros(len(off), w.shape[1], dtype=w.dtype).index_add(0, lib.tensor(bag), rows)
    if mode == 'mean':
        counts = np.bincount(bag[keep], minlength=len(off)).clip(1)
        out = out / lib.tensor(counts.astype(to_np(w).dtype))[:, None]
    return out


@pytest.mark.parametrize('mode', ['sum', 'mean'])
@pytest.mark.parametrize('padding_idx', [None, 2])
@pytest.mark.parametrize('case', [0, 2, 3])
def test_embedding_bag_scale_grad_by_freq(mode, padding_idx, case):
    idx, off, _ = BAG_CASES[case]
    w = rand(10, 3, dtype=np.float64)
    we, wt = E(w, True), T(w, True)
    eo = F.embedding_bag(E(idx), we, None if off is None else E(off), mode=mode,
                         padding_idx=padding_idx, scale_grad_by_freq=True)
    ref = _bag_reference(torch, TF, idx, wt, off, mode, padding_idx, None)
    assert_close(eo, ref)
    g = rand(*ref.shape, dtype=np.float64)
    eo.backward(E(g))
    ref.backward(T(g))
    assert_close(we.grad, wt.grad)


def test_embedding_bag_include_last_offset_ends_the_last_bag():
    """The last offset closes the last bag (CSR layout); entries after it are unused."""
    off = np.array([0, 3, 3, 7])
    for mode in ('sum', 'mean', 'max'):
        check(lambda i, w, o: F.embedding_bag(i, w, o, mode=mode, include_last_offset=True),
              lambda i, w, o: TF.embedding_bag(i[:7], w, o, mode=mode, include_last_offset=True),
              IDX, rand(10, 4, dtype=np.float64), off)


@pytest.mark.parametrize('off,last', [(np.array([0]), True), (np.zeros(0, np.int64), False)])
def test_embedding_bag_no_bags(off, last):
    """No bags at all: an empty result and a zero gradient (torch's backward crashes here)."""
    a = rand(10, 3)
    w = E(a, True)
    out = F.embedding_bag(E(IDX), w, E(off), include_last_offset=last)
    assert_close(out, TF.embedding_bag(T(IDX), T(a), T(off), include_last_offset=last))
    out.sum().backward()
    assert not to_np(w.grad).any()


def test_embedding_bag_gradcheck():
    off = E(np.array([0, 3, 3, 7]))
    gradcheck(lambda w, p: F.embedding_bag(E(IDX), w, off, mode='sum', per_sample_weights=p,
                                           padding_idx=2), rand(10, 3), rand(12))
    gradcheck(lambda w: F.embedding_bag(E(IDX.reshape(3, 4)), w, mode='mean'), rand(10, 3))
    gradcheck(lambda w: F.embedding_bag(E(IDX), w, off, mode='max'), rand(10, 3))


def test_embedding_bag_max_norm_and_grad_fn():
    w = rand(10, 4, seed=5) * 2
    we, wt = E(w, True), T(w, True)
    eo = F.embedding_bag(E(IDX), we, E(np.array([0, 4])), max_norm=1.0, mode='sum')
    to = TF.embedding_bag(T(IDX), wt, T(np.array([0, 4])), max_norm=1.0, mode='sum')
    assert_close(eo, to)
    assert_close(we, wt)
    assert eo.grad_fn.name() == to.grad_fn.name() == 'EmbeddingBagBackward0'


@pytest.mark.parametrize('call', [
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX.reshape(3, 4)), w, i(np.array([0, 1]))),
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX), w),
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX), w, i(np.array([[0, 1]]))),
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX.reshape(2, 2, 3)), w),
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX), w, i(np.array([1, 2]))),
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX), w, i(np.array([0, 13]))),
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX), w, i(np.array([0, 1])), mode='foo'),
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX), w, i(np.array([0, 1])), mode='max',
                                                  per_sample_weights=i(np.ones(12, 'f'))),
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX), w, i(np.array([0, 1])), mode='sum',
                                                  per_sample_weights=i(np.ones(3, 'f'))),
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX), w, i(np.array([0, 1])), mode='sum',
                                                  per_sample_weights=i(np.ones(12, 'd'))),
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX), w, i(np.array([0, 1])), mode='max',
                                                  scale_grad_by_freq=True),
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX), w, i(np.array([0, 1])),
                                                  padding_idx=10),
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX * 1.0), w, i(np.array([0, 1]))),
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX), w, i(np.array([], dtype=np.int64)),
                                                  include_last_offset=True),
    lambda L, i, w: L.nn.functional.embedding_bag(i(IDX), w[0], i(np.array([0, 1]))),
])
def test_embedding_bag_errors(call):
    w = rand(10, 3)
    _raises_like(lambda: call(ember, E, E(w)), lambda: call(torch, T, T(w)))


def test_embedding_bag_index_out_of_range():
    for idx in (IDX - 1, IDX + 1):
        with pytest.raises(RuntimeError, match=r'of input takes value (-1|10) which is not in the '
                                               r'valid range \[0, 10\)'):
            F.embedding_bag(E(idx), E(rand(10, 3)), E(np.array([0, 1])))


def test_embedding_bag_swapped_arguments_warn():
    w = rand(10, 3)
    with pytest.warns(UserWarning, match='Argument order'):
        eo = F.embedding_bag(E(w), E(IDX), E(np.array([0, 5])))
    assert_close(eo, TF.embedding_bag(T(IDX), T(w), T(np.array([0, 5]))))


def test_embedding_bag_sparse_refused_clearly():
    with pytest.raises(RuntimeError, match='sparse=True'):
        F.embedding_bag(E(IDX), E(rand(10, 3), True), E(np.array([0])), sparse=True)


# ---- EmbeddingBag module ---------------------------------------------------------------------
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('kwargs', [{}, {'mode': 'sum'}, {'mode': 'max', 'padding_idx': 2},
                                    {'padding_idx': -1, 'max_norm': 1.5},
                                    {'include_last_offset': True, 'mode': 'sum'}])
def test_embedding_bag_module(dtype, kwargs):
    off = np.array([0, 3, 3, 7, 12]) if kwargs.get('include_last_offset') else np.array([0, 5])
    check_module(lambda L: L.nn.EmbeddingBag(10, 4, **kwargs), [IDX, off], dtype=dtype)
    if not kwargs.get('include_last_offset'):
        check_module(lambda L: L.nn.EmbeddingBag(10, 4, **kwargs), [IDX.reshape(4, 3)],
                     dtype=dtype)


def test_embedding_bag_module_per_sample_weights():
    check_module(lambda L: L.nn.EmbeddingBag(10, 4, mode='sum'),
                 [IDX, np.array([0, 5]), rand(12)],
                 forward=lambda m, i, o, p: m(i, o, per_sample_weights=p))


def test_embedding_bag_module_repr_init_and_from_pretrained():
    for kw in [{}, {'mode': 'max', 'padding_idx': 1, 'max_norm': 1.0,
                    'include_last_offset': True, 'scale_grad_by_freq': True},
               {'sparse': True, 'norm_type': 1.0, 'padding_idx': -2}]:
        em, tm = nn.EmbeddingBag(10, 3, **kw), torch.nn.EmbeddingBag(10, 3, **kw)
        assert repr(em) == repr(tm)
        assert em.padding_idx == tm.padding_idx
    m = nn.EmbeddingBag(300, 40, padding_idx=0)
    w = to_np(m.weight)
    assert not w[0].any()
    assert abs(w[1:].std() - 1) < 0.03 and abs(w[1:].mean()) < 0.03
    w = rand(6, 3)
    for freeze in (True, False):
        em = nn.EmbeddingBag.from_pretrained(E(w), freeze=freeze, mode='sum')
        tm = torch.nn.EmbeddingBag.from_pretrained(T(w), freeze=freeze, mode='sum')
        assert repr(em) == repr(tm) and em.weight.requires_grad == (not freeze)
        assert_close(em(E(np.array([[1, 2], [5, 5]]))), tm(T(np.array([[1, 2], [5, 5]]))))
    _raises_like(lambda: nn.EmbeddingBag(10, 3, padding_idx=10),
                 lambda: torch.nn.EmbeddingBag(10, 3, padding_idx=10))
    _raises_like(lambda: nn.EmbeddingBag(10, 3, _weight=E(rand(3, 3))),
                 lambda: torch.nn.EmbeddingBag(10, 3, _weight=T(rand(3, 3))))


# ---- one_hot ----------------------------------------------------------------------------------
@pytest.mark.parametrize('idx,n', [(np.array([0, 3, 1]), -1), (np.array([[0, 3], [1, 1]]), 5),
                                   (np.array(2), -1), (np.array(2), 4),
                                   (np.zeros(0, np.int64), 3), (np.zeros((2, 0), np.int64), 1)])
def test_one_hot_matches_torch(idx, n):
    eo, to = F.one_hot(E(idx), n), TF.one_hot(T(idx), n)
    assert_close(eo, to)
    assert eo.dtype == ember.int64


@pytest.mark.parametrize('idx,n', [(np.array([1.0, 2.0]), -1), (np.array([1, 5]), 3),
                                   (np.array([-1, 2]), -1), (np.zeros(0, np.int64), -1),
                                   (np.array([1, 2]), -2), (np.array([1, 2], np.int32), -1),
                                   (np.zeros(0, np.int64), 0), (np.array([0]), 0)])
def test_one_hot_errors(idx, n):
    _raises_like(lambda: F.one_hot(E(idx), n), lambda: TF.one_hot(T(idx), n))


def test_option_grid_smoke():
    """Every combination of embedding options runs forward and backward with finite values."""
    for pad, freq, mx in itertools.product([None, 0, -1], [False, True], [None, 0.5]):
        w = E(rand(10, 3), True)
        out = F.embedding(E(IDX.reshape(2, 6)), w, pad, mx, 2.0, freq)
        out.sum().backward()
        assert np.isfinite(to_np(w.grad)).all()
