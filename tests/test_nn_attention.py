"""Attention against torch: F.scaled_dot_product_attention (masks of every kind, causal with
L != S, scale, grouped-query heads, broadcasting, dropout, fully masked rows, errors,
finite-difference gradients, memory of long sequences in inference) and
nn.MultiheadAttention / F.multi_head_attention_forward (every constructor option, masks,
weights, unbatched inputs, parameter names, count and initialisation, errors)."""
import itertools
import math
import tracemalloc
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from tests.helpers import E, T, assert_close, check, gradcheck, noncontig, rand, to_np
from tests.helpers_nn import build_pair, check_module

DTYPES = [np.float32, np.float64]
TOL = {np.float32: (1e-4, 1e-5), np.float64: (1e-10, 1e-12)}


@pytest.fixture(autouse=True, scope='module')
def _torch_single_thread():
    """torch on one thread while this file runs: its thread pool only slows these tiny
    models down (badly so on a busy machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _raises_like(fn_e, fn_t):
    """Both raise the same exception type with the same message ('torch.' -> 'ember.')."""
    with pytest.raises(Exception) as et:
        fn_t()
    with pytest.raises(et.type) as ee:
        fn_e()
    assert str(ee.value) == str(et.value).replace('torch.', 'ember.')


def _sdpa(**kw):
    return (lambda q, k, v, *m: F.scaled_dot_product_attention(q, k, v, *m, **kw),
            lambda q, k, v, *m: TF.scaled_dot_product_attention(q, k, v, *m, **kw))


# ---- F.scaled_dot_product_attention: parity --------------------------------------------------
SHAPES = [  # q, k, v
    ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)),
    ((3, 4, 8), (3, 6, 8), (3, 6, 8)),
    ((4, 8), (5, 8), (5, 3)),
    ((1, 2, 2, 3, 4), (1, 2, 2, 5, 4), (1, 2, 2, 5, 4)),
    ((2, 3, 4, 8), (1, 3, 5, 8), (2, 1, 5, 8)),        # batch dims broadcast
    ((3, 4, 8), (5, 8), (5, 8)),
]


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shapes', SHAPES)
@pytest.mark.parametrize('kw', [{}, {'is_causal': True}, {'scale': 0.37}])
def test_sdpa_matches_torch(dtype, shapes, kw):
    q, k, v = (rand(*s, dtype=dtype, seed=i) for i, s in enumerate(shapes))
    fe, ft = _sdpa(**kw)
    check(fe, ft, q, k, v, rtol=TOL[dtype][0], atol=TOL[dtype][1])


@pytest.mark.parametrize('L,S', [(3, 7), (7, 3), (5, 5), (1, 4)])
def test_sdpa_causal_top_left_aligned(L, S):
    q, k, v = rand(2, L, 8, seed=1), rand(2, S, 8, seed=2), rand(2, S, 4, seed=3)
    fe, ft = _sdpa(is_causal=True)
    check(fe, ft, q, k, v, rtol=1e-4, atol=1e-5)


MASK_SHAPES = [(4, 5), (1, 5), (2, 1, 4, 5), (2, 3, 1, 5), (1, 3, 4, 1), (3, 4, 5), (2, 3, 4, 5)]


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('mshape', MASK_SHAPES)
def test_sdpa_bool_mask(dtype, mshape):
    q, k, v = rand(2, 3, 4, 8, dtype=dtype, seed=1), rand(2, 3, 5, 8, dtype=dtype, seed=2), \
        rand(2, 3, 5, 6, dtype=dtype, seed=3)
    m = np.random.default_rng(4).random(mshape) > 0.3
    m[..., 0] = True                         # no fully masked row
    fe, ft = _sdpa()
    check(fe, ft, q, k, v, m, rtol=TOL[dtype][0], atol=TOL[dtype][1])


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('mshape', MASK_SHAPES)
def test_sdpa_float_mask_with_gradient(dtype, mshape):
    q, k, v = rand(2, 3, 4, 8, dtype=dtype, seed=1), rand(2, 3, 5, 8, dtype=dtype, seed=2), \
        rand(2, 3, 5, 6, dtype=dtype, seed=3)
    m = rand(*mshape, dtype=dtype, seed=4)
    m[..., 1:2] = -np.inf
    fe, ft = _sdpa()
    check(fe, ft, q, k, v, m, rtol=TOL[dtype][0], atol=TOL[dtype][1])


def test_sdpa_float32_mask_with_float64_inputs():
    q, k, v = (rand(2, 4, 8, dtype=np.float64, seed=i) for i in range(3))
    m = rand(4, 4, seed=5)
    fe, ft = _sdpa()
    check(fe, ft, q, k, v, m)


@pytest.mark.parametrize('kind', ['bool', 'float'])
def test_sdpa_fully_masked_rows_give_zeros(kind):
    q, k, v = rand(2, 4, 8, seed=1), rand(2, 5, 8, seed=2), rand(2, 5, 3, seed=3)
    m = np.ones((4, 5), bool)
    m[1] = False
    if kind == 'float':
        m = np.where(m, 0.0, -np.inf).astype(np.float32)
    fe, ft = _sdpa()
    out, _ = check(fe, ft, q, k, v, m, rtol=1e-4, atol=1e-5)
    assert not to_np(out)[:, 1].any()


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('hk,hv', [(2, 2), (1, 1), (3, 2), (6, 6)])
def test_sdpa_grouped_query_attention(dtype, hk, hv):
    q = rand(2, 6, 4, 8, dtype=dtype, seed=1)
    k, v = rand(2, hk, 5, 8, dtype=dtype, seed=2), rand(2, hv, 5, 6, dtype=dtype, seed=3)
    fe, ft = _sdpa(enable_gqa=True)
    check(fe, ft, q, k, v, rtol=TOL[dtype][0], atol=TOL[dtype][1])
    m = np.random.default_rng(4).random((6, 4, 5)) > 0.3
    m[..., 0] = True
    check(fe, ft, q, k, v, m, rtol=TOL[dtype][0], atol=TOL[dtype][1])


def test_sdpa_gqa_unbatched_and_causal():
    q, k, v = rand(6, 4, 8, seed=1), rand(3, 7, 8, seed=2), rand(3, 7, 8, seed=3)
    fe, ft = _sdpa(enable_gqa=True, is_causal=True)
    check(fe, ft, q, k, v, rtol=1e-4, atol=1e-5)


def test_sdpa_noncontiguous_inputs():
    q, k, v = rand(2, 3, 8, 4, seed=1), rand(2, 3, 8, 5, seed=2), rand(2, 3, 5, 6, seed=3)
    fe, ft = _sdpa()
    check(lambda a, b, c: fe(a.transpose(-1, -2), b.transpose(-1, -2), c),
          lambda a, b, c: ft(a.transpose(-1, -2), b.transpose(-1, -2), c), q, k, noncontig(v),
          rtol=1e-4, atol=1e-5)


def test_sdpa_empty_and_float16():
    fe, ft = _sdpa()
    check(fe, ft, rand(2, 0, 8), rand(2, 5, 8), rand(2, 5, 8))
    out_e = F.scaled_dot_product_attention(E(rand(2, 4, 8)), E(rand(2, 0, 8)), E(rand(2, 0, 3)))
    out_t = TF.scaled_dot_product_attention(T(rand(2, 4, 8)), T(rand(2, 0, 8)), T(rand(2, 0, 3)))
    assert_close(out_e, out_t)
    q, k, v = (rand(2, 4, 8, seed=i).astype(np.float16) for i in range(3))
    check(fe, ft, q, k, v, grad=False, rtol=2e-3, atol=2e-3)


def test_sdpa_grad_fn_names():
    x2, x3 = E(rand(4, 8), True), E(rand(3, 4, 8), True)
    assert F.scaled_dot_product_attention(x2, x2, x2).grad_fn.name() == 'MmBackward0'
    assert F.scaled_dot_product_attention(x3, x3, x3).grad_fn.name() == 'UnsafeViewBackward0'


def test_sdpa_weights_output_gradient_reaches_inputs():
    """The op's optional probabilities output (used by MultiheadAttention) is differentiable."""
    q, k, v = (E(rand(2, 4, 8, seed=i), True) for i in range(3))
    qt, kt, vt = (T(rand(2, 4, 8, seed=i), True) for i in range(3))
    from ember.ops.attention import Attention
    out, w = Attention.apply(q, k, v, None, 0.25, False, 0.0, False, True, 1, 1)
    s = torch.softmax(qt @ kt.transpose(-1, -2) * 0.25, -1)
    ot = s @ vt
    assert_close(out, ot, 1e-5, 1e-6)
    assert_close(w, s, 1e-5, 1e-6)
    (out.sum() + (w * w).sum()).backward()
    (ot.sum() + (s * s).sum()).backward()
    for a, b in zip((q, k, v), (qt, kt, vt)):
        assert_close(a.grad, b.grad, 1e-4, 1e-5)


# ---- finite differences ----------------------------------------------------------------------
@pytest.mark.parametrize('kw,mask', [
    ({}, None), ({'is_causal': True}, None), ({'scale': 0.7}, None),
    ({}, 'bool'), ({}, 'float'), ({'enable_gqa': True}, None)])
def test_sdpa_gradcheck(kw, mask):
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 2, 3, 4))
    k = rng.standard_normal((2, 1 if kw.get('enable_gqa') else 2, 5, 4))
    v = rng.standard_normal((2, k.shape[1], 5, 3))
    args = [q, k, v]
    if mask == 'bool':
        m = rng.random((3, 5)) > 0.4
        m[:, 0] = True
        args.append(m)
    elif mask == 'float':
        args.append(rng.standard_normal((2, 1, 3, 5)))
    gradcheck(lambda *a: F.scaled_dot_product_attention(*a, **kw), *args)


def test_sdpa_gradcheck_with_dropout_under_fixed_seed():
    def fn(q, k, v):
        ember.manual_seed(3)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    rng = np.random.default_rng(1)
    gradcheck(fn, rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)),
              rng.standard_normal((2, 5, 3)))


def test_sdpa_dropout_statistics():
    """With value = identity the output is the dropped-out probability matrix itself."""
    ember.manual_seed(0)
    L, S, p = 64, 128, 0.3
    q, k = E(rand(4, L, 16, seed=1)), E(rand(4, S, 16, seed=2))
    v = ember.eye(S).expand(4, S, S)
    probs = to_np(F.scaled_dot_product_attention(q, k, v))
    out = to_np(F.scaled_dot_product_attention(q, k, v, dropout_p=p))
    kept = out != 0
    assert abs(1 - kept.mean() - p) < 0.02
    np.testing.assert_allclose(out[kept], probs[kept] / (1 - p), rtol=1e-5)
    assert not to_np(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)).any()


# ---- errors ------------------------------------------------------------------------------------
def _err_cases(L):
    r = lambda *s, dt=L.float32: L.randn(*s).to(dt)  # noqa: E731
    sdpa = L.nn.functional.scaled_dot_product_attention
    q, k = r(2, 3, 4, 8), r(2, 3, 5, 8)
    return [
        lambda: sdpa(q[0], k[0], k[0], attn_mask=L.ones(4, 5, dtype=L.bool), is_causal=True),
        lambda: sdpa(q, k, k, attn_mask=L.zeros(4, 5, dtype=L.float64)),
        lambda: sdpa(q, k, k, attn_mask=L.zeros(4, 5, dtype=L.int64)),
        lambda: sdpa(q, k.double(), k),
        lambda: sdpa(q[0], k[0, :, :, :7], k[0]),
        lambda: sdpa(q[0], k[0], k[0, :, :4]),
        lambda: sdpa(q[0, 0, 0], k[0, 0], k[0, 0]),
        lambda: sdpa(q, k, k, attn_mask=L.zeros(3, 5)),
        lambda: sdpa(q[0], k[0], k[0], attn_mask=L.zeros(2, 1, 3, 4, 5)),
        lambda: sdpa(r(2, 6, 4, 8), k, k),
        lambda: sdpa(r(2, 5, 4, 8), k, k, enable_gqa=True),
        lambda: sdpa(r(4, 8), r(5, 8), r(5, 8), enable_gqa=True),
        lambda: sdpa(r(2, 4, 8), r(3, 5, 8), r(3, 5, 8)),
        lambda: sdpa(q.long(), k.long(), k.long()),
        lambda: sdpa([1], k, k),
        lambda: sdpa(q, k, k, attn_mask=[1]),
        lambda: sdpa(q, k, k, is_causal=1),
        lambda: sdpa(q, k, k, attn_mask=L.ones(5, dtype=L.bool)),
        lambda: sdpa(q, k, k, attn_mask=L.zeros(())),
    ]


@pytest.mark.parametrize('i', range(19))
def test_sdpa_errors_match_torch(i):
    _raises_like(_err_cases(ember)[i], _err_cases(torch)[i])


# ---- blocked computation (long sequences, threads) -------------------------------------------
@pytest.fixture
def small_blocks(monkeypatch):
    """Tiny score blocks and no minimum for threading: every path of the blocked op runs
    (runs of batch entries, row blocks of one or several entries, causal key skipping, the
    thread pool)."""
    from ember.ops import attention
    monkeypatch.setattr(attention, 'BLOCK', 24)
    monkeypatch.setattr(attention, 'PARALLEL_MIN', 0)
    monkeypatch.setattr(attention, 'CAUSAL_ROWS', 2)


BLOCKED = [  # q, k, v, mask shape or None, kwargs
    ((2, 3, 9, 4), (2, 3, 7, 4), (2, 3, 7, 5), None, {}),
    ((2, 3, 9, 4), (2, 3, 7, 4), (2, 3, 7, 5), None, {'is_causal': True}),
    ((7, 4), (9, 4), (9, 3), None, {'is_causal': True}),
    ((9, 4), (7, 4), (7, 3), 'bool', {}),
    ((2, 1, 9, 4), (3, 7, 4), (3, 7, 5), 'float', {}),
    ((2, 4, 9, 4), (2, 2, 7, 4), (2, 1, 7, 5), 'bool', {'enable_gqa': True}),
    ((1, 2, 40, 4), (1, 2, 40, 4), (1, 2, 40, 4), None, {'is_causal': True}),
    ((2, 3, 4, 5), (2, 3, 3, 5), (2, 3, 3, 2), None, {'is_causal': True}),
]


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('case', range(len(BLOCKED)))
def test_sdpa_blocked_matches_torch(small_blocks, dtype, case):
    qs, ks, vs, mask, kw = BLOCKED[case]
    q, k, v = (rand(*s, dtype=dtype, seed=i) for i, s in enumerate((qs, ks, vs)))
    args = [q, k, v]
    mshape = qs[:-1] + ks[-2:-1]
    if mask == 'bool':
        m = np.random.default_rng(5).random(mshape) > 0.4
        m[..., 0] = True
        m[..., 2, :] = False                 # a fully masked row gives zeros
        args.append(m)
    elif mask == 'float':
        args.append(rand(*mshape, dtype=dtype, seed=5))
    fe, ft = _sdpa(**kw)
    with ember.no_grad():                    # the inference path (no probabilities saved)
        assert_close(fe(*[E(a) for a in args]), ft(*[T(a) for a in args]), *TOL[dtype])
    check(fe, ft, *args, rtol=TOL[dtype][0], atol=TOL[dtype][1])


def test_sdpa_blocked_weights_and_dropout(small_blocks):
    """The probabilities output and dropout give the same numbers blocked or not."""
    from ember.ops import attention
    q, k, v = (rand(2, 3, 9, 4, seed=i) for i in range(3))
    results = []
    for block in (24, 1 << 20):
        attention.BLOCK = block
        ins = [E(a, True) for a in (q, k, v)]
        ember.manual_seed(1)
        out, w = attention.Attention.apply(*ins, None, 0.5, True, 0.3, False, True, 1, 1)
        (out.sum() + (w * w).sum()).backward()
        with ember.no_grad():
            ember.manual_seed(1)
            plain = attention.Attention.apply(*ins, None, 0.5, True, 0.3, False, False, 1, 1)
        results.append([out, w, plain] + [a.grad for a in ins])
    for a, b in zip(*results):
        assert_close(a, b, 1e-5, 1e-6)
    assert_close(results[0][0], results[0][2], 1e-5, 1e-6)


def test_blas_keeps_to_one_thread_inside_the_blocks_and_is_restored():
    from ember import _parallel
    from ember.ops import attention
    fns = _parallel._find_openblas_threads()
    if fns is None:
        pytest.skip('NumPy does not use OpenBLAS here')
    before, seen = fns[0](), []
    attention._run(lambda *b: seen.append(fns[0]()), [((), slice(0, 1))] * 4, 1 << 20, False)
    assert seen == [1] * 4 and fns[0]() == before


def test_sdpa_large_scores_use_the_max_shift():
    """Scores beyond exp's safe range take the max-subtracting softmax (no overflow)."""
    q, k, v = rand(2, 4, 8, seed=1) * 40, rand(2, 5, 8, seed=2) * 40, rand(2, 5, 3, seed=3)
    fe, ft = _sdpa()
    out, _ = check(fe, ft, q, k, v, rtol=1e-4, atol=1e-5)
    assert np.isfinite(to_np(out)).all()


@pytest.mark.parametrize('grad_mode', ['no_grad', 'inputs_without_grad'])
@pytest.mark.parametrize('causal', [False, True])
def test_sdpa_long_sequence_memory(grad_mode, causal):
    """Inference never holds the whole score matrix: (1, 2, 4096, 16) would need 128 MiB of
    scores for a 512 KiB output; the blocked op needs the output plus a few blocks."""
    from ember.ops import attention
    shape = (1, 2, 4096, 16)
    rng = np.random.default_rng(0)
    q, k, v = (ember.from_numpy(rng.standard_normal(shape, np.float32)) for _ in range(3))
    out_bytes = 4 * math.prod(shape)
    blocks_bytes = 4 * attention.BLOCK * 2 * ember.get_num_threads()
    tracemalloc.start()
    try:
        if grad_mode == 'no_grad':
            with ember.no_grad():
                out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        else:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * out_bytes + blocks_bytes, f'peak {peak / 2**20:.1f} MiB'
    rows = slice(0, 4096, 97)
    qt, kt, vt = (torch.from_numpy(to_np(x)) for x in (q, k, v))
    ref = TF.scaled_dot_product_attention(qt[..., rows, :], kt, vt, is_causal=False,
                                          attn_mask=torch.ones(4096, 4096, dtype=torch.bool).
                                          tril()[rows] if causal else None)
    assert_close(out[..., rows, :], ref, 1e-4, 1e-5)


def test_sdpa_blocks_of_the_long_inference_workload_are_small():
    """(batch 8, 8 heads, 4096 tokens, 64) in inference: the full score matrix would take
    4 GiB; the op's blocks (one per thread at a time) take a small fraction of the 64 MiB
    output."""
    from ember.ops import attention
    batch, L, S = (8, 8), 4096, 4096
    total = math.prod(batch) * L * S
    blocks = attention._blocks(batch, L, S, attention._limit(total, False))
    out_bytes = 4 * math.prod(batch) * L * 64
    covered = 0
    for idx, rows in blocks:
        assert (rows.stop - rows.start) * S * 4 * ember.get_num_threads() <= out_bytes / 8
        covered += rows.stop - rows.start
    assert covered == math.prod(batch) * L


# ---- nn.MultiheadAttention ---------------------------------------------------------------------
def _mha_inputs(bf, n=3, L=4, S=5, e=8, kd=None, vd=None, seed=0, batched=True):
    rng = np.random.default_rng(seed)

    def seq(length, dim):
        if not batched:
            return rng.standard_normal((length, dim))
        return rng.standard_normal((n, length, dim) if bf else (length, n, dim))
    return seq(L, e), seq(S, kd or e), seq(S, vd or e)


OPTIONS = list(itertools.product([False, True], [True, False], [False, True], [False, True],
                                 [None, (6, 5)]))
CALLS = [lambda m, a, b, c: m(a, b, c),
         lambda m, a, b, c: m(a, b, c, average_attn_weights=False),
         lambda m, a, b, c: m(a, b, c, need_weights=False)]


@pytest.mark.parametrize('i', range(len(OPTIONS)))
def test_mha_every_option(i):
    """Every constructor option combination; the dtype and the kind of call (averaged
    weights, per-head weights, no weights) rotate over the combinations."""
    bf, bias, bkv, zero, kv = OPTIONS[i]
    kd, vd = kv or (None, None)
    dtype = DTYPES[i % 2]

    def ctor(L):
        return L.nn.MultiheadAttention(8, 2, bias=bias, add_bias_kv=bkv, add_zero_attn=zero,
                                       kdim=kd, vdim=vd, batch_first=bf)
    q, k, v = _mha_inputs(bf, kd=kd, vd=vd)
    rtol, atol = TOL[dtype]
    check_module(ctor, [q, k, v], dtype=dtype, rtol=rtol, atol=atol, forward=CALLS[i % 3])


@pytest.mark.parametrize('bf', [False, True])
@pytest.mark.parametrize('need_weights', [True, False])
def test_mha_self_attention_same_tensor(bf, need_weights):
    q, _, _ = _mha_inputs(bf, L=6)
    check_module(lambda L: L.nn.MultiheadAttention(8, 4, batch_first=bf), [q], rtol=1e-4,
                 atol=1e-5, forward=lambda m, x: m(x, x, x, need_weights=need_weights))


def _masks(kind, n=3, h=2, L=4, S=5, batched=True):
    """(key_padding_mask, attn_mask) NumPy arrays of one kind (bool: True = masked out)."""
    rng = np.random.default_rng(7)
    kpm = rng.random((n, S) if batched else (S,)) > 0.6
    kpm[..., 0] = False
    am2 = rng.random((L, S)) > 0.6
    am2[:, 1] = False
    am3 = rng.random(((n * h) if batched else h, L, S)) > 0.6
    am3[..., 1] = False

    def fl(m):
        return np.where(m, -np.inf, 0.0) + rng.standard_normal(m.shape) * 0.5
    return {'kpm_bool': (kpm, None), 'kpm_float': (fl(kpm), None),
            'am2_bool': (None, am2), 'am2_float': (None, fl(am2)),
            'am3_bool': (None, am3), 'am3_float': (None, fl(am3)),
            'both_bool': (kpm, am3), 'both_float': (fl(kpm), fl(am2))}[kind]


MASK_KINDS = ['kpm_bool', 'kpm_float', 'am2_bool', 'am2_float', 'am3_bool', 'am3_float',
              'both_bool', 'both_float']


@pytest.mark.parametrize('kind', MASK_KINDS)
@pytest.mark.parametrize('need_weights', [True, False])
@pytest.mark.parametrize('bf', [False, True])
def test_mha_masks(kind, need_weights, bf):
    dtype = DTYPES[(MASK_KINDS.index(kind) + need_weights + bf) % 2]
    kpm, am = _masks(kind)
    q, k, v = _mha_inputs(bf)

    def fwd(m, a, b, c, *masks):
        it = iter(masks)
        kp = next(it) if kpm is not None else None
        at = next(it) if am is not None else None
        return m(a, b, c, key_padding_mask=kp, attn_mask=at, need_weights=need_weights)
    extra = [x for x in (kpm, am) if x is not None]
    rtol, atol = TOL[dtype]
    check_module(lambda L: L.nn.MultiheadAttention(8, 2, batch_first=bf, add_bias_kv=True),
                 [q, k, v] + extra, dtype=dtype, rtol=rtol, atol=atol, forward=fwd)


@pytest.mark.parametrize('kind', ['none', 'kpm_bool', 'am2_float', 'am3_bool'])
@pytest.mark.parametrize('need_weights,average', [(True, True), (True, False), (False, True)])
def test_mha_unbatched(kind, need_weights, average):
    kpm, am = (None, None) if kind == 'none' else _masks(kind, batched=False)
    q, k, v = _mha_inputs(False, batched=False)

    def fwd(m, a, b, c, *masks):
        it = iter(masks)
        kp = next(it) if kpm is not None else None
        at = next(it) if am is not None else None
        return m(a, b, c, key_padding_mask=kp, attn_mask=at, need_weights=need_weights,
                 average_attn_weights=average)
    extra = [x for x in (kpm, am) if x is not None]
    for bf in (False, True):
        check_module(lambda L: L.nn.MultiheadAttention(8, 2, batch_first=bf, add_zero_attn=True),
                     [q, k, v] + extra, rtol=1e-4, atol=1e-5, forward=fwd)


@pytest.mark.parametrize('need_weights', [True, False])
def test_mha_is_causal_hint(need_weights):
    q, _, _ = _mha_inputs(True, L=5)
    causal = np.triu(np.ones((5, 5), bool), 1)
    for mask in (causal, np.where(causal, -np.inf, 0.0)):
        check_module(lambda L: L.nn.MultiheadAttention(8, 2, batch_first=True), [q, mask],
                     rtol=1e-4, atol=1e-5,
                     forward=lambda m, x, am: m(x, x, x, attn_mask=am, is_causal=True,
                                                need_weights=need_weights))


def test_mha_fully_padded_sequence_nan_with_weights_zero_without():
    em, tm = build_pair(lambda L: L.nn.MultiheadAttention(8, 2))
    x = rand(5, 3, 8)
    kpm = np.zeros((3, 5), bool)
    kpm[1] = True
    for nw in (True, False):
        oe, we = em(E(x), E(x), E(x), key_padding_mask=E(kpm), need_weights=nw)
        ot, wt = tm(T(x), T(x), T(x), key_padding_mask=T(kpm), need_weights=nw)
        assert_close(oe, ot, 1e-5, 1e-6)
        assert_close(we, wt, 1e-5, 1e-6)
    assert np.isnan(to_np(em(E(x), E(x), E(x), key_padding_mask=E(kpm))[0])[:, 1]).all()


def test_mha_dropout_in_training_only():
    em, tm = build_pair(lambda L: L.nn.MultiheadAttention(8, 2, dropout=0.5))
    x = E(rand(5, 3, 8))
    ember.manual_seed(0)
    _, w = em(x, x, x, average_attn_weights=False)
    w = to_np(w)
    assert (w == 0).mean() > 0.3                 # weights are returned after dropout
    assert not np.allclose(w.sum(-1), 1)
    em.eval()
    tm.eval()
    oe, we = em(x, x, x)
    ot, wt = tm(T(to_np(x)), T(to_np(x)), T(to_np(x)))
    assert_close(oe, ot, 1e-5, 1e-6)
    assert_close(we, wt, 1e-5, 1e-6)


def test_mha_mismatched_mask_types_warn():
    m = nn.MultiheadAttention(8, 2)
    x = E(rand(5, 3, 8))
    with pytest.warns(UserWarning, match='Support for mismatched key_padding_mask and attn_mask '
                                         'is deprecated. Use same type for both instead.'):
        m(x, x, x, key_padding_mask=ember.zeros(3, 5, dtype=ember.bool),
          attn_mask=ember.zeros(5, 5))


def test_mha_parameters_count_names_and_repr():
    for heads in (8, 16):
        m = nn.MultiheadAttention(64, heads)
        assert sum(p.numel() for p in m.parameters()) == 4 * 64 * 64 + 4 * 64 == 16640
    m = nn.MultiheadAttention(64, 8)
    assert repr(m) == ('MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear('
                       'in_features=64, out_features=64, bias=True)\n)')
    assert type(m.out_proj).__name__ == 'NonDynamicallyQuantizableLinear'
    assert isinstance(m.out_proj, nn.Linear)
    for kw in [{}, {'kdim': 32, 'vdim': 16, 'add_bias_kv': True, 'bias': False},
               {'add_bias_kv': True}]:
        e, t = nn.MultiheadAttention(64, 8, **kw), torch.nn.MultiheadAttention(64, 8, **kw)
        assert [(n, tuple(p.shape)) for n, p in e.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in t.named_parameters()]
        assert list(e.state_dict()) == list(t.state_dict())
        for a in ('embed_dim', 'kdim', 'vdim', '_qkv_same_embed_dim', 'num_heads', 'dropout',
                  'batch_first', 'head_dim', 'add_zero_attn'):
            assert getattr(e, a) == getattr(t, a), a
        for a in ('in_proj_weight', 'in_proj_bias', 'q_proj_weight', 'bias_k'):
            assert (getattr(e, a) is None) == (getattr(t, a) is None), a


def test_mha_dtype_and_constructor_errors():
    m = nn.MultiheadAttention(8, 2, dtype=ember.float64)
    assert all(p.dtype == ember.float64 for p in m.parameters())
    for args in [(64, 7), (64, 0), (0, 8), (-4, 2)]:
        _raises_like(lambda: nn.MultiheadAttention(*args),
                     lambda: torch.nn.MultiheadAttention(*args))


def test_mha_initialisation_statistics():
    e = 512
    m = nn.MultiheadAttention(e, 8, add_bias_kv=True)
    w = to_np(m.in_proj_weight)
    bound = math.sqrt(6 / (e + 3 * e))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert not to_np(m.in_proj_bias).any() and not to_np(m.out_proj.bias).any()
    ow = to_np(m.out_proj.weight)                  # Linear's default init is kept
    assert np.abs(ow).max() <= 1 / math.sqrt(e) and np.abs(ow).max() > 0.99 / math.sqrt(e)
    bk = np.concatenate([to_np(m.bias_k).ravel(), to_np(m.bias_v).ravel()])
    assert abs(bk.std() - 1 / math.sqrt(e)) < 0.15 / math.sqrt(e)
    sep = nn.MultiheadAttention(e, 8, kdim=256, vdim=128)
    kw = to_np(sep.k_proj_weight)
    assert abs(np.abs(kw).max() - math.sqrt(6 / (e + 256))) < 0.01 * math.sqrt(6 / (e + 256))


def _mha_err_cases(L):
    L.manual_seed(0)
    m = L.nn.MultiheadAttention(8, 2)
    x = L.randn(5, 3, 8)
    b = L.bool
    return [
        lambda: m(x, x, x, is_causal=True),
        lambda: m(x, x, x, attn_mask=L.zeros(4, 5)),
        lambda: m(x, x, x, attn_mask=L.zeros(5, 5, 5)),
        lambda: m(x, x, x, attn_mask=L.zeros(2, 3, 5, 5)),
        lambda: m(x, x, x, attn_mask=L.zeros(5, 5, dtype=L.int64)),
        lambda: m(x, x, x, key_padding_mask=L.zeros(3, 5, dtype=L.int64)),
        lambda: m(x, x, x, key_padding_mask=L.zeros(3, 4, dtype=b)),
        lambda: m(x, x, x, key_padding_mask=L.zeros(5, dtype=b)),
        lambda: m(x[0], x[0], x[0], key_padding_mask=L.zeros(3, 5, dtype=b)),
        lambda: m(x[0], x[0], x[0], attn_mask=L.zeros(5, 5, 5)),
        lambda: m(x[0], x[0], x[0], attn_mask=L.zeros(2, 2, 5, 5)),
        lambda: m(x[0, 0], x[0, 0], x[0, 0]),
        lambda: m(x, x[0], x[0]),
        lambda: m(x[0], x, x),
        lambda: m(x, x[:4], x),
        lambda: m(x[..., :4], x[..., :4], x[..., :4]),
    ]


@pytest.mark.parametrize('i', range(16))
def test_mha_errors_match_torch(i):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        _raises_like(_mha_err_cases(ember)[i], _mha_err_cases(torch)[i])


# ---- F.multi_head_attention_forward ------------------------------------------------------------
def _mha_params(rng, e, kd, vd, bias_kv):
    p = {'in_proj_weight': rng.standard_normal((3 * e, e)) * 0.3,
         'in_proj_bias': rng.standard_normal(3 * e) * 0.1,
         'q': rng.standard_normal((e, e)) * 0.3, 'k': rng.standard_normal((e, kd)) * 0.3,
         'v': rng.standard_normal((e, vd)) * 0.3,
         'out_w': rng.standard_normal((e, e)) * 0.3, 'out_b': rng.standard_normal(e) * 0.1}
    if bias_kv:
        p['bias_k'], p['bias_v'] = rng.standard_normal((2, 1, 1, e))
    return p


@pytest.mark.parametrize('separate', [False, True])
@pytest.mark.parametrize('static', [False, True])
@pytest.mark.parametrize('bias_kv', [False, True])
def test_functional_mha(separate, static, bias_kv):
    if static and bias_kv:
        return
    rng = np.random.default_rng(3)
    e, h, n, L, S = 8, 2, 3, 4, 5
    kd = vd = 6 if separate else e
    p = _mha_params(rng, e, kd, vd, bias_kv)
    q, k, v = rng.standard_normal((L, n, e)), rng.standard_normal((S, n, kd)), \
        rng.standard_normal((S, n, vd))
    sk, sv = rng.standard_normal((2, n * h, 7, e // h))
    names = ['in_proj_weight', 'in_proj_bias', 'q', 'k', 'v', 'out_w', 'out_b']
    names += ['bias_k', 'bias_v'] if bias_kv else []

    def run(lib, q, k, v, sk, sv, *ws):
        w = dict(zip(names, ws))
        return lib.nn.functional.multi_head_attention_forward(
            q, k, v, e, h, None if separate else w['in_proj_weight'], w['in_proj_bias'],
            w.get('bias_k'), w.get('bias_v'), False, 0.0, w['out_w'], w['out_b'],
            use_separate_proj_weight=separate, q_proj_weight=w['q'] if separate else None,
            k_proj_weight=w['k'] if separate else None, v_proj_weight=w['v'] if separate else None,
            static_k=sk if static else None, static_v=sv if static else None)
    check(lambda *a: run(ember, *a), lambda *a: run(torch, *a), q, k, v, sk, sv,
          *[p[n] for n in names])


def test_functional_mha_static_key_errors():
    rng = np.random.default_rng(0)

    def run(lib, sk):
        x = lib.tensor(rng.standard_normal((4, 3, 8)).astype(np.float32))
        w = lib.tensor(rng.standard_normal((24, 8)).astype(np.float32))
        ow = lib.tensor(rng.standard_normal((8, 8)).astype(np.float32))
        return lambda: lib.nn.functional.multi_head_attention_forward(
            x, x, x, 8, 2, w, None, None, None, False, 0.0, ow, None,
            static_k=lib.zeros(sk))
    for sk in [(5, 4, 4), (6, 4, 3)]:
        _raises_like(run(ember, sk), run(torch, sk))
