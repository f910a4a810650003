"""F.conv_transpose1d/2d/3d against torch: stride x padding x output_padding x dilation x
groups x bias, unbatched, 1x1 kernels, chunked column buffers; forward and backward in float32
and float64, gradchecks and errors."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as F
from ember.ops import conv as conv_mod
from ember.ops import im2col as im2col_mod
from tests.helpers import E, T, check, gradcheck, noncontig, rand

DTYPES = [np.float32, np.float64]
SPATIAL = {1: (7,), 2: (5, 4), 3: (3, 4, 2)}
KERNEL = {1: (3,), 2: (3, 2), 3: (2, 3, 2)}


def tols(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else {}


def raises_like(fn_e, fn_t):
    with pytest.raises(Exception) as et:
        fn_t()
    with pytest.raises(et.type) as ee:
        fn_e()
    assert str(ee.value) == str(et.value).replace('torch.', 'ember.')


def pair(d, **kw):
    name = f'conv_transpose{d}d'
    return (lambda x, w, b=None: getattr(F, name)(x, w, b, **kw),
            lambda x, w, b=None: getattr(TF, name)(x, w, b, **kw))


@pytest.mark.parametrize('d', [1, 2, 3])
@pytest.mark.parametrize('dtype', DTYPES)
def test_conv_transpose_option_combinations(d, dtype):
    """Every combination in float32; float64 (slow in torch) takes half, alternating by d."""
    combos = itertools.product((1, 2), (0, 1), (1, 2), (1, 2))
    for i, (stride, padding, dilation, groups) in enumerate(combos):
        if dtype == np.float64 and (i + d) % 2:
            continue
        for output_padding in range(max(stride, dilation)):
            x = rand(1 + i % 2, 4, *SPATIAL[d], dtype=dtype, seed=i)
            w = rand(4, 6 // groups, *KERNEL[d], dtype=dtype, seed=100 + i)
            b = rand(6, dtype=dtype, seed=200 + i) if i % 3 else None
            check(*pair(d, stride=stride, padding=padding, output_padding=output_padding,
                        dilation=dilation, groups=groups), x, w, b, **tols(dtype))


@pytest.mark.parametrize('d', [1, 2, 3])
def test_conv_transpose_per_dim_params_and_unbatched(d):
    x = rand(2, 6, *SPATIAL[d], seed=1)
    w = rand(6, 2, *KERNEL[d], seed=2)
    kw = dict(stride=(2, 1, 3)[:d], padding=(1, 0, 2)[:d], output_padding=(1, 0, 2)[:d],
              dilation=(1, 2, 1)[:d], groups=3)
    check(*pair(d, **kw), x, w, rand(6, seed=3), **tols(np.float32))
    check(*pair(d, **kw), x[0], w, rand(6, seed=3), **tols(np.float32))


def test_conv_transpose_output_padding_beyond_padding():
    """output_padding larger than padding reaches past the summed windows: zeros (plus bias)."""
    check(*pair(2, stride=3, padding=0, output_padding=2), rand(1, 2, 3, 3), rand(2, 3, 2, 2),
          rand(3), **tols(np.float32))
    check(*pair(1, stride=2, padding=1, dilation=3, output_padding=2), rand(2, 2, 5),
          rand(2, 2, 3), **tols(np.float32))


@pytest.mark.parametrize('dtype', DTYPES)
def test_conv_transpose_pointwise_and_depthwise(dtype):
    x = rand(2, 4, 5, 6, dtype=dtype)
    check(*pair(2), x, rand(4, 3, 1, 1, dtype=dtype), rand(3, dtype=dtype), **tols(dtype))
    check(*pair(2, stride=2), x, rand(4, 3, 1, 1, dtype=dtype), **tols(dtype))
    check(*pair(2, padding=1, groups=4), x, rand(4, 1, 3, 3, dtype=dtype), **tols(dtype))
    check(*pair(2, groups=2), x, rand(4, 3, 1, 1, dtype=dtype), **tols(dtype))


def test_conv_transpose_noncontiguous_and_empty():
    check(*pair(2, stride=2, padding=1), noncontig(rand(2, 3, 4, 5)),
          noncontig(rand(3, 2, 3, 3)), rand(2), **tols(np.float32))
    check(*pair(2, stride=2), rand(0, 3, 4, 5), rand(3, 2, 3, 3), rand(2))


@pytest.mark.parametrize('limit', [1, 100])
def test_conv_transpose_chunked(monkeypatch, limit):
    monkeypatch.setattr(im2col_mod, 'CHUNK_ELEMENTS', limit)
    check(*pair(2, stride=2, padding=1, output_padding=1, groups=2), rand(5, 4, 4, 3),
          rand(4, 3, 3, 3), rand(6), **tols(np.float32))


@pytest.mark.parametrize('flip', [True, False])
@pytest.mark.parametrize('rows', [True, False])
def test_conv_transpose_routes(monkeypatch, flip, rows):
    """Unit-stride forward through the flipped-weight convolution and through col2im, with
    full or row columns (cost models pick per shape; force each)."""
    monkeypatch.setattr(conv_mod, '_flip_is_cheaper', lambda *a: flip)
    monkeypatch.setattr(conv_mod, '_uses_rows', lambda c, o, k, stride, *a: rows and stride[0] == 1)
    monkeypatch.setattr(conv_mod, 'PARALLEL_MIN', 0)              # share passes out to threads
    for d in (1, 2, 3):
        check(*pair(d, padding=1, dilation=2, output_padding=1, groups=2),
              rand(2, 4, *SPATIAL[d]), rand(4, 3, *KERNEL[d]), rand(6), **tols(np.float32))
    check(*pair(1, padding=3), rand(1, 2, 6, dtype=np.float64),             # p > d (k - 1)
          rand(2, 3, 2, dtype=np.float64))
    check(*pair(2, dilation=3, output_padding=2), rand(1, 2, 3, 3), rand(2, 1, 1, 2),
          **tols(np.float32))
    check(*pair(2, stride=(1, 2), padding=1, output_padding=(0, 1)), rand(2, 4, 4, 3),
          rand(4, 2, 3, 3), rand(2), **tols(np.float32))


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv(x, w), y> == <x, conv_transpose(y, w)> for the same geometry."""
    x, w = rand(2, 3, 9, 8, dtype=np.float64), rand(4, 3, 3, 2, dtype=np.float64)
    kw = dict(stride=2, padding=1, dilation=(1, 2))
    y = F.conv2d(E(x), E(w), **kw)
    ya = rand(*y.shape, dtype=np.float64, seed=5)
    xt = F.conv_transpose2d(E(ya), E(w), output_padding=(0, 1), **kw)
    assert xt.shape == x.shape
    np.testing.assert_allclose((y.numpy() * ya).sum(), (xt.numpy() * x).sum(), rtol=1e-12)


def test_conv_transpose_grad_fn_and_gradcheck():
    x, w = rand(1, 2, 3, 3), rand(2, 3, 2, 2)
    assert F.conv_transpose2d(E(x), E(w, True)).grad_fn.name() == 'ConvolutionBackward0'
    assert F.conv_transpose2d(E(x[0]), E(w, True)).grad_fn.name() == 'SqueezeBackward1'
    gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(2, 1), padding=(1, 0),
                                                 output_padding=(1, 0), groups=2,
                                                 dilation=(1, 2)),
              rand(2, 4, 3, 4, dtype=np.float64), rand(4, 1, 2, 3, dtype=np.float64),
              rand(2, dtype=np.float64))
    gradcheck(lambda x, w: F.conv_transpose1d(x, w, stride=3, output_padding=2),
              rand(1, 2, 4, dtype=np.float64), rand(2, 2, 2, dtype=np.float64))
    gradcheck(lambda x, w: F.conv_transpose3d(x, w, stride=2, padding=1),
              rand(1, 2, 2, 3, 2, dtype=np.float64), rand(2, 1, 2, 2, 3, dtype=np.float64))


def _bad_calls(lib):
    F_ = lib.nn.functional
    r = lambda *s: lib.zeros(*s)  # noqa: E731
    w = r(3, 16, 3, 3)
    return [
        lambda: F_.conv_transpose2d(r(1, 4, 8, 8), w),
        lambda: F_.conv_transpose2d(r(4, 8, 8), w),
        lambda: F_.conv_transpose2d(r(8, 8), w),
        lambda: F_.conv_transpose2d(r(1, 3, 8, 8), w, stride=2, output_padding=2),
        lambda: F_.conv_transpose2d(r(1, 3, 8, 8), w, stride=2, dilation=2, output_padding=2),
        lambda: F_.conv_transpose1d(r(1, 3, 8), r(3, 4, 3), stride=2, output_padding=2),
        lambda: F_.conv_transpose3d(r(1, 3, 4, 4, 4), r(3, 4, 3, 3, 3), stride=2,
                                    output_padding=2),
        lambda: F_.conv_transpose2d(r(1, 3, 1, 1), w, padding=2),
        lambda: F_.conv_transpose1d(r(1, 3, 1), r(3, 4, 3), padding=2),
        lambda: F_.conv_transpose3d(r(1, 3, 1, 1, 1), r(3, 4, 3, 3, 3), padding=2),
        lambda: F_.conv_transpose2d(r(1, 6, 8, 8), w, groups=2),
        lambda: F_.conv_transpose2d(r(1, 3, 8, 8), w, r(15)),
        lambda: F_.conv_transpose2d(r(1, 3, 8, 8), w, stride=0),
        lambda: F_.conv_transpose2d(r(1, 3, 8, 8), w, padding=-1),
        lambda: F_.conv_transpose2d(r(1, 3, 8, 8), w, output_padding=-1),
        lambda: F_.conv_transpose2d(r(1, 3, 8, 8), w, groups=0),
        lambda: F_.conv_transpose2d(r(1, 3, 8, 8), w.double()),
        lambda: F_.conv_transpose2d(r(1, 3, 8, 8), w, output_padding=(1, 2, 3)),
    ]


def test_conv_transpose_errors_match_torch():
    for fe, ft in zip(_bad_calls(ember), _bad_calls(torch)):
        raises_like(fe, ft)
    with pytest.raises(TypeError, match="argument 'padding' must be tuple of ints, not str"):
        F.conv_transpose2d(E(rand(1, 3, 4, 4)), E(rand(3, 2, 3, 3)), padding='same')


def test_conv_transpose_grad_of_weight_only():
    x, w = rand(2, 3, 4, 4), rand(3, 2, 3, 3)
    ew, tw = E(w, True), T(w, True)
    F.conv_transpose2d(E(x), ew, stride=2).sum().backward()
    TF.conv_transpose2d(T(x), tw, stride=2).sum().backward()
    np.testing.assert_allclose(ew.grad.numpy(), tw.grad.numpy(), rtol=1e-4, atol=1e-4)
