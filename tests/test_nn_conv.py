"""F.conv1d/2d/3d against torch: every option combination (stride x padding x dilation x groups
x bias, batch of one, unbatched, odd sizes), forward and backward for input, weight and bias in
float32 and float64; the issue's seed examples; chunked column buffers; finite-difference
gradchecks; errors with PyTorch's types and messages."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as F
from ember import _parallel as parallel_mod
from ember.ops import conv as conv_mod
from ember.ops import im2col as im2col_mod
from tests.helpers import E, T, assert_close, check, gradcheck, noncontig, rand, to_np

DTYPES = [np.float32, np.float64]
SPATIAL = {1: (9,), 2: (7, 6), 3: (5, 6, 4)}
KERNEL = {1: (3,), 2: (3, 2), 3: (2, 3, 2)}
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")
FN = {1: 'conv1d', 2: 'conv2d', 3: 'conv3d'}


def tols(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else {}


def raises_like(fn_e, fn_t, exc=None):
    """Both raise the same exception type with the same message ('torch.' -> 'ember.')."""
    with pytest.raises(Exception) as et:
        fn_t()
    with pytest.raises(exc or et.type) as ee:
        fn_e()
    assert str(ee.value) == str(et.value).replace('torch.', 'ember.')


def conv_pair(d, **kw):
    name = FN[d]
    return (lambda x, w, b=None: getattr(F, name)(x, w, b, **kw),
            lambda x, w, b=None: getattr(TF, name)(x, w, b, **kw))


# ---- the seed examples ----------------------------------------------------------------
def test_seed_examples_exact():
    x = ember.arange(25.).reshape(1, 1, 5, 5)
    w = ember.ones(1, 1, 2, 2)
    np.testing.assert_array_equal(to_np(F.conv2d(x, w))[0, 0],
                                  [[12, 16, 20, 24], [32, 36, 40, 44], [52, 56, 60, 64],
                                   [72, 76, 80, 84]])
    np.testing.assert_array_equal(to_np(F.conv2d(x, w, stride=2))[0, 0], [[12, 20], [52, 60]])
    np.testing.assert_array_equal(to_np(F.conv2d(x, w, padding=1))[0, 0],
                                  [[0, 1, 3, 5, 7, 4], [5, 12, 16, 20, 24, 13],
                                   [15, 32, 36, 40, 44, 23], [25, 52, 56, 60, 64, 33],
                                   [35, 72, 76, 80, 84, 43], [20, 41, 43, 45, 47, 24]])
    np.testing.assert_array_equal(to_np(F.conv2d(x, w, dilation=2))[0, 0],
                                  [[24, 28, 32], [44, 48, 52], [64, 68, 72]])


# ---- option combinations ----------------------------------------------------------------------
COMBOS = [(s, p, dl, g) for s, p, dl, g in itertools.product((1, 2), (0, 1, 'same', 'valid'),
                                                              (1, 2), (1, 2))
          if not (p == 'same' and s != 1)]


@pytest.mark.parametrize('d', [1, 2, 3])
@pytest.mark.parametrize('dtype', DTYPES)
def test_conv_option_combinations(d, dtype):
    """Every combination in float32; float64 (slow in torch) takes half, alternating by d."""
    for i, (stride, padding, dilation, groups) in enumerate(COMBOS):
        if dtype == np.float64 and (i + d) % 2:
            continue
        n = 1 + i % 2
        x = rand(n, 4, *SPATIAL[d], dtype=dtype, seed=i)
        w = rand(6, 4 // groups, *KERNEL[d], dtype=dtype, seed=100 + i)
        b = rand(6, dtype=dtype, seed=200 + i) if i % 3 else None
        fe, ft = conv_pair(d, stride=stride, padding=padding, dilation=dilation, groups=groups)
        check(fe, ft, x, w, b, **tols(dtype))


@pytest.mark.parametrize('d', [1, 2, 3])
def test_conv_asymmetric_params_and_unbatched(d):
    x = rand(2, 6, *SPATIAL[d], seed=1)
    w = rand(6, 2, *KERNEL[d], seed=2)
    stride = (2, 1, 3)[:d]
    padding = (1, 0, 2)[:d]
    dilation = (1, 2, 1)[:d]
    fe, ft = conv_pair(d, stride=stride, padding=padding, dilation=dilation, groups=3)
    check(fe, ft, x, w, rand(6, seed=3), **tols(np.float32))
    check(fe, ft, x[0], w, rand(6, seed=3), **tols(np.float32))      # unbatched (C, *spatial)
    fe, ft = conv_pair(d, padding='same', dilation=dilation)
    check(fe, ft, x[:1], rand(5, 6, *KERNEL[d], seed=4), **tols(np.float32))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('kernel', [(2, 2), (4, 1), (2, 3)])
def test_conv_same_even_kernels(dtype, kernel):
    x = rand(1, 3, 6, 7, dtype=dtype)
    for dilation in (1, 2, (2, 3)):
        fe, ft = conv_pair(2, padding='same', dilation=dilation)
        check(fe, ft, x, rand(2, 3, *kernel, dtype=dtype, seed=1), **tols(dtype))


@pytest.mark.parametrize('dtype', DTYPES)
def test_conv_depthwise_separable_and_pointwise(dtype):
    x = rand(2, 8, 9, 7, dtype=dtype)
    check(*conv_pair(2, padding=1, groups=8), x, rand(8, 1, 3, 3, dtype=dtype),
          rand(8, dtype=dtype), **tols(dtype))
    check(*conv_pair(2, stride=2, groups=8), x, rand(16, 1, 3, 3, dtype=dtype),    # multiplier 2
          **tols(dtype))
    check(*conv_pair(2), x, rand(5, 8, 1, 1, dtype=dtype), rand(5, dtype=dtype), **tols(dtype))
    check(*conv_pair(2, stride=2), x, rand(5, 8, 1, 1, dtype=dtype), **tols(dtype))
    check(*conv_pair(2, padding=1), x, rand(5, 8, 1, 1, dtype=dtype), **tols(dtype))
    check(*conv_pair(2, groups=4), x, rand(4, 2, 1, 1, dtype=dtype), **tols(dtype))
    check(*conv_pair(1, groups=2), x[:, :, 0], rand(4, 4, 1, dtype=dtype), **tols(dtype))


def test_conv_kernel_as_large_as_input_and_odd_sizes():
    check(*conv_pair(2), rand(3, 2, 5, 3), rand(4, 2, 5, 3), rand(4), **tols(np.float32))
    check(*conv_pair(2, stride=3), rand(1, 1, 11, 13), rand(1, 1, 2, 4), **tols(np.float32))
    check(*conv_pair(3, stride=(1, 2, 3), padding=(2, 0, 1)), rand(1, 3, 3, 5, 7),
          rand(2, 3, 1, 2, 3), rand(2), **tols(np.float32))


def test_conv_noncontiguous_inputs_and_weights():
    x = noncontig(rand(2, 3, 8, 9))
    w = noncontig(rand(4, 3, 3, 3, seed=1))
    check(*conv_pair(2, padding=1), x, w, rand(4), **tols(np.float32))
    xs = rand(2, 6, 10, 9)
    check(lambda x, w: F.conv2d(x[:, ::2, ::2], w), lambda x, w: TF.conv2d(x[:, ::2, ::2], w),
          xs, rand(4, 3, 2, 2), **tols(np.float32))
    check(lambda x, w: F.conv1d(x.transpose(1, 2), w),
          lambda x, w: TF.conv1d(x.transpose(1, 2), w), rand(2, 7, 3), rand(5, 3, 2),
          **tols(np.float32))


def test_conv_empty_batch_and_integer_input():
    check(*conv_pair(2, padding=1), rand(0, 3, 5, 5), rand(4, 3, 3, 3), rand(4))
    xi = np.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5) % 7
    wi = np.arange(4 * 3 * 2 * 2).reshape(4, 3, 2, 2) % 5 - 2
    check(*conv_pair(2, stride=2, padding=1), xi, wi, grad=False)


@pytest.mark.parametrize('limit', [1, 200])
def test_conv_chunked_column_buffers(monkeypatch, limit):
    """Columns built a few samples at a time (and rebuilt in backward) give the same results."""
    monkeypatch.setattr(im2col_mod, 'CHUNK_ELEMENTS', limit)
    x = rand(5, 4, 7, 6)
    check(*conv_pair(2, padding=1, stride=(1, 2), groups=2), x, rand(6, 2, 3, 3), rand(6),
          **tols(np.float32))
    check(*conv_pair(3, padding=1, dilation=2), rand(3, 2, 5, 4, 6), rand(3, 2, 2, 2, 2),
          **tols(np.float32))


@pytest.mark.parametrize('flip', [True, False])
def test_conv_input_grad_routes(monkeypatch, flip):
    """grad_input through the flipped-weight convolution and through col2im agree with torch
    (the cost model picks one per shape; force each)."""
    monkeypatch.setattr(conv_mod, '_flip_is_cheaper', lambda *a: flip)
    check(*conv_pair(2, padding='same', dilation=(2, 1), groups=2), rand(2, 4, 7, 6),
          rand(6, 2, 2, 3), rand(6), **tols(np.float32))
    check(*conv_pair(1, padding=4), rand(1, 3, 5, dtype=np.float64),          # p > d (k - 1)
          rand(2, 3, 3, dtype=np.float64))
    check(*conv_pair(3, padding=(0, 1, 2)), rand(1, 2, 4, 5, 3), rand(3, 2, 2, 3, 2),
          **tols(np.float32))


def force_layout(monkeypatch, rows):
    """Make every convolution pass use row columns (where the stride allows) or full ones."""
    monkeypatch.setattr(conv_mod, '_uses_rows',
                        lambda c, o, kernel, stride, *a: rows and stride[0] == 1)


@pytest.mark.parametrize('rows', [True, False])
@pytest.mark.parametrize('limit,threads', [(None, False), (300, False), (300, True),
                                           ('nokeep', True)])
def test_conv_column_layouts(monkeypatch, rows, limit, threads):
    """Full columns and row columns (kept from forward, or rebuilt chunk by chunk in backward,
    on one thread or shared out across ember's threads) agree with torch, in every
    dimensionality, with groups, dilation and both grad_input routes."""
    force_layout(monkeypatch, rows)
    if limit == 'nokeep':
        monkeypatch.setattr(im2col_mod, 'CHUNK_ELEMENTS', 100)
        monkeypatch.setattr(conv_mod, 'KEEP_ELEMENTS', 0)
    elif limit:
        monkeypatch.setattr(im2col_mod, 'CHUNK_ELEMENTS', limit)
    if threads:
        monkeypatch.setattr(conv_mod, 'PARALLEL_MIN', 0)
        monkeypatch.setattr(parallel_mod, '_threads', [2])
    for flip in (True, False):
        monkeypatch.setattr(conv_mod, '_flip_is_cheaper', lambda *a, flip=flip: flip)
        check(*conv_pair(2, padding=(2, 1), dilation=(2, 1), groups=2), rand(3, 4, 7, 6),
              rand(6, 2, 3, 2), rand(6), **tols(np.float32))
    check(*conv_pair(1, padding=1, dilation=2), rand(3, 2, 9), rand(4, 2, 3), rand(4),
          **tols(np.float32))
    check(*conv_pair(3, stride=(1, 2, 1), padding=1), rand(2, 2, 4, 5, 3), rand(3, 2, 2, 3, 2),
          rand(3), **tols(np.float32))
    check(*conv_pair(2, stride=(1, 2)), rand(2, 3, 6, 7, dtype=np.float64),
          rand(4, 3, 3, 3, dtype=np.float64))
    check(*conv_pair(2, groups=2), rand(3, 4, 5, 6), rand(6, 2, 1, 1), rand(6),     # pointwise
          **tols(np.float32))
    gradcheck(lambda x, w: F.conv2d(x, w, padding=(1, 0), dilation=(2, 1)),
              rand(2, 2, 5, 4, dtype=np.float64), rand(3, 2, 2, 3, dtype=np.float64))
    check(*conv_pair(2, padding=1), noncontig(rand(2, 3, 5, 5)), rand(4, 3, 3, 3),
          **tols(np.float32))


def test_conv_outputs_do_not_share_scratch_memory():
    """Outputs and saved columns survive later convolutions (scratch buffers are reused)."""
    x1, x2, w = rand(2, 3, 8, 8), rand(2, 3, 8, 8, seed=1), rand(4, 3, 3, 3)
    ew = E(w, True)
    y1 = F.conv2d(E(x1, True), ew, padding=1)
    kept = to_np(y1).copy()
    y2 = F.conv2d(E(x2, True), ew, padding=1)
    np.testing.assert_array_equal(to_np(y1), kept)
    g = E(rand(*y1.shape, seed=2))
    y1.backward(g, retain_graph=True)
    first = to_np(ew.grad).copy()
    y2.backward(g)
    ew.grad = None
    y1.backward(g)                                   # the retained graph, after other convs
    np.testing.assert_allclose(to_np(ew.grad), first, rtol=1e-6)
    tw = T(w, True)
    TF.conv2d(T(x1), tw, padding=1).backward(T(to_np(g)))
    assert_close(ew.grad, tw.grad, 1e-4, 1e-4)


def test_conv_grad_of_some_inputs_only():
    x, w, b = rand(2, 3, 6, 6), rand(4, 3, 3, 3), rand(4)
    for req in itertools.product((True, False), repeat=3):
        if not any(req):
            continue
        ex = [E(a, r) for a, r in zip((x, w, b), req)]
        tx = [T(a, r) for a, r in zip((x, w, b), req)]
        F.conv2d(*ex, padding=1, stride=2).sum().backward()
        TF.conv2d(*tx, padding=1, stride=2).sum().backward()
        for e, t in zip(ex, tx):
            assert (e.grad is None) == (t.grad is None)
            if t.grad is not None:
                assert_close(e.grad, t.grad, 1e-4, 1e-4)


def test_conv_grad_fn_names():
    x, w = rand(1, 3, 6, 6), rand(4, 3, 3, 3)
    assert F.conv2d(E(x), E(w, True)).grad_fn.name() == 'ConvolutionBackward0'
    assert F.conv2d(E(x[0]), E(w, True)).grad_fn.name() == 'SqueezeBackward1'
    assert F.conv2d(E(x), E(w)).grad_fn is None
    with ember.no_grad():
        assert F.conv2d(E(x), E(w, True)).grad_fn is None


def test_conv_gradcheck_float64():
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                       groups=2),
              rand(2, 4, 5, 6, dtype=np.float64), rand(4, 2, 2, 3, dtype=np.float64),
              rand(4, dtype=np.float64))
    gradcheck(lambda x, w: F.conv1d(x, w, padding='same', dilation=2),
              rand(1, 2, 7, dtype=np.float64), rand(3, 2, 4, dtype=np.float64))
    gradcheck(lambda x, w: F.conv3d(x, w, stride=2, padding=1),
              rand(1, 2, 3, 4, 3, dtype=np.float64), rand(2, 2, 2, 2, 2, dtype=np.float64))


def test_conv_torch_toplevel_style_keywords():
    x, w, b = rand(1, 3, 6, 6), rand(4, 3, 3, 3), rand(4)
    e = F.conv2d(input=E(x), weight=E(w), bias=E(b), stride=[2], padding=[1, 0], dilation=(1,),
                 groups=1)
    t = TF.conv2d(input=T(x), weight=T(w), bias=T(b), stride=[2], padding=[1, 0], dilation=(1,),
                  groups=1)
    assert_close(e, t, 1e-5, 1e-5)


# ---- errors -----------------------------------------------------------------------------------
def _bad_calls(lib):
    F_ = lib.nn.functional
    r = lambda *s: lib.zeros(*s)  # noqa: E731
    w = r(16, 3, 3, 3)
    return [
        lambda: F_.conv2d(r(1, 4, 8, 8), w),
        lambda: F_.conv2d(r(4, 8, 8), w),
        lambda: F_.conv2d(r(1, 3, 2, 2), w),
        lambda: F_.conv2d(r(1, 3, 4, 4), w, dilation=2),
        lambda: F_.conv2d(r(1, 3, 2, 2), w, padding=0),
        lambda: F_.conv1d(r(1, 3, 2), r(3, 3, 3)),
        lambda: F_.conv3d(r(1, 3, 2, 2, 2), r(3, 3, 3, 3, 3)),
        lambda: F_.conv2d(r(8, 8), w),
        lambda: F_.conv2d(r(1, 1, 3, 8, 8), w),
        lambda: F_.conv1d(r(1, 3, 8), w),
        lambda: F_.conv2d(r(1, 6, 8, 8), r(15, 3, 3, 3), groups=2),
        lambda: F_.conv2d(r(1, 6, 8, 8), r(16, 3, 3, 3), groups=4),
        lambda: F_.conv2d(r(1, 4, 8, 8), r(4, 2, 3, 3), groups=5),
        lambda: F_.conv2d(r(1, 6, 8, 8), w, groups=0),
        lambda: F_.conv2d(r(1, 3, 8, 8), w, r(15)),
        lambda: F_.conv2d(r(1, 3, 8, 8), w, r(16, 1)),
        lambda: F_.conv2d(r(1, 3, 8, 8), w, stride=0),
        lambda: F_.conv2d(r(1, 3, 8, 8), w, stride=(1, 0)),
        lambda: F_.conv2d(r(1, 3, 8, 8), w, stride=0, padding=-1),
        lambda: F_.conv2d(r(1, 3, 8, 8), w, dilation=0),
        lambda: F_.conv3d(r(1, 3, 4, 4, 4), r(3, 3, 3, 3, 3), dilation=0),
        lambda: F_.conv2d(r(1, 3, 8, 8), w, stride=(1, 1, 1)),
        lambda: F_.conv1d(r(1, 3, 8), r(3, 3, 3), padding=(1, 2)),
        lambda: F_.conv2d(r(1, 3, 8, 8), w, padding='foo'),
        lambda: F_.conv2d(r(1, 3, 8, 8), w, padding='same', stride=2),
        lambda: F_.conv2d(r(1, 3, 8, 8), w.double()),
        lambda: F_.conv2d(r(1, 3, 8, 8).double(), w),
        lambda: F_.conv2d(r(1, 3, 8, 8), w, r(16).double()),
        lambda: F_.conv2d(r(1, 3, 0, 8), w),
        lambda: F_.conv2d(r(1, 3, 8, 8), r(3, 3, 0, 3)),
    ]


def test_conv_errors_match_torch():
    for fe, ft in zip(_bad_calls(ember), _bad_calls(torch)):
        raises_like(fe, ft)


def test_conv_type_errors():
    with pytest.raises(TypeError, match="conv2d\\(\\): argument 'input' \\(position 1\\) must be "
                                        'Tensor, not list'):
        F.conv2d([1], ember.zeros(1, 1, 1, 1))
    with pytest.raises(TypeError, match="argument 'stride' must be tuple of ints"):
        F.conv2d(ember.zeros(1, 1, 3, 3), ember.zeros(1, 1, 1, 1), stride=1.5)
    with pytest.raises(TypeError):
        F.conv2d(ember.zeros(1, 1, 3, 3), ember.zeros(1, 1, 1, 1), groups=1.0)


# ---- unfold / fold ----------------------------------------------------------------------------
UNFOLD_PARAMS = [dict(kernel_size=2), dict(kernel_size=(2, 3), stride=(1, 2)),
                 dict(kernel_size=3, padding=1, dilation=2),
                 dict(kernel_size=(3, 1), padding=(2, 0), stride=2, dilation=(1, 3))]


@pytest.mark.parametrize('kw', UNFOLD_PARAMS)
@pytest.mark.parametrize('dtype', DTYPES)
def test_unfold_fold_match_torch(kw, dtype):
    x = rand(2, 3, 7, 8, dtype=dtype)
    check(lambda a: F.unfold(a, **kw), lambda a: TF.unfold(a, **kw), x, **tols(dtype))
    check(lambda a: F.unfold(a, **kw), lambda a: TF.unfold(a, **kw), x[0], **tols(dtype))
    blocks = TF.unfold(T(x), **kw)
    cols = rand(*blocks.shape, dtype=dtype, seed=3)
    check(lambda a: F.fold(a, (7, 8), **kw), lambda a: TF.fold(a, (7, 8), **kw), cols,
          **tols(dtype))
    check(lambda a: F.fold(a, [7, 8], **kw), lambda a: TF.fold(a, [7, 8], **kw), cols[1],
          **tols(dtype))


def test_unfold_fold_gradcheck_and_noncontiguous():
    gradcheck(lambda a: F.unfold(a, (2, 3), padding=1, stride=(2, 1)),
              rand(1, 2, 4, 5, dtype=np.float64))
    gradcheck(lambda a: F.fold(a, (4, 5), (2, 3), padding=1, stride=(2, 1)),
              rand(1, 12, 15, dtype=np.float64))
    check(lambda a: F.unfold(a, 2), lambda a: TF.unfold(a, 2), noncontig(rand(2, 3, 5, 4)))
    check(lambda a: F.fold(a, 4, 2), lambda a: TF.fold(a, 4, 2), noncontig(rand(2, 8, 9)))


def test_fold_of_unfold_counts_block_overlaps():
    x = ember.ones(1, 1, 4, 4)
    counts = F.fold(F.unfold(x, 3, padding=1), (4, 4), 3, padding=1)
    np.testing.assert_array_equal(to_np(counts)[0, 0], [[4, 6, 6, 4], [6, 9, 9, 6],
                                                        [6, 9, 9, 6], [4, 6, 6, 4]])


def _bad_block_calls(lib):
    F_ = lib.nn.functional
    r = lambda *s: lib.zeros(*s)  # noqa: E731
    return [
        lambda: F_.unfold(r(3, 4), 2),
        lambda: F_.unfold(r(4), 2),
        lambda: F_.unfold(r(()), 2),
        lambda: F_.unfold(r(1, 1, 3, 4, 5), 2),
        lambda: F_.unfold(r(1, 3, 4, 4), 5),
        lambda: F_.unfold(r(1, 3, 4, 4), (2, 2, 2)),
        lambda: F_.unfold(r(1, 3, 4, 4), 0),
        lambda: F_.unfold(r(1, 3, 4, 4), 2, stride=0),
        lambda: F_.unfold(r(1, 3, 4, 4), 2, padding=-1),
        lambda: F_.unfold(r(1, 3, 4, 4), 2, dilation=0),
        lambda: F_.unfold(r(1, 3, 0, 4), 2),
        lambda: F_.unfold(r(1, 3, 4, 4).long(), 2),
        lambda: F_.fold(r(1, 12, 8), (4, 4), 2),
        lambda: F_.fold(r(4), 4, 2),
        lambda: F_.fold(r(1, 7, 9), (4, 4), 2),
        lambda: F_.fold(r(12, 9, 1, 1), (4, 4), 2),
        lambda: F_.fold(r(1, 12, 9), (4, 4, 4), 2),
        lambda: F_.fold(r(1, 12, 9).long(), (4, 4), 2),
    ]


def test_unfold_fold_errors_match_torch():
    for fe, ft in zip(_bad_block_calls(ember), _bad_block_calls(torch)):
        raises_like(fe, ft)
