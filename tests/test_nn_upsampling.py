"""F.interpolate (every mode), the deprecated upsample wrappers, pixel/channel shuffles and
their modules against torch."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as F
from tests.helpers import E, T, assert_close, check, gradcheck, noncontig, rand, to_np
from tests.helpers_nn import check_module

SPATIAL = {3: (5,), 4: (5, 6), 5: (3, 5, 4)}
MODES_BY_DIM = {'nearest': (3, 4, 5), 'nearest-exact': (3, 4, 5), 'area': (3, 4, 5),
                'linear': (3,), 'bilinear': (4,), 'bicubic': (4,), 'trilinear': (5,)}
# size / scale_factor specs: integer and fractional, up and down, recomputed or not
SPECS = [dict(size=7), dict(size=2), dict(size=1), dict(scale_factor=2),
         dict(scale_factor=0.5), dict(scale_factor=1.7), dict(scale_factor=2.5),
         dict(scale_factor=1.7, recompute_scale_factor=True),
         dict(scale_factor=0.6, recompute_scale_factor=False), dict(scale_factor=1.1)]
INTERP_CASES = [(m, nd, ac) for m, dims in MODES_BY_DIM.items() for nd in dims
                for ac in ((None,) if m in ('nearest', 'nearest-exact', 'area') else (False, True))]


def _tol(mode, dtype, antialias=False):
    """float32 cubic and antialiasing weights are rounded differently from PyTorch's (a few
    ulps)."""
    if dtype == np.float32 and (mode in ('bicubic', 'lanczos') or antialias):
        return dict(rtol=1e-4, atol=2e-5)
    return {}


def _torch_grad_is_adjoint(shape, mode='nearest', scale_factor=None,
                           recompute_scale_factor=None, antialias=False, **_):
    """False where PyTorch's backward is not the adjoint of its own forward: with a scale
    factor that leaves a dim's size unchanged (or doubles it, for nearest), the 1-D/3-D
    nearest and the bicubic backward kernels copy (or halve indices) while their forward
    kernels follow the scale factor, and the antialiased forward copies while its backward
    follows the scale factor. ember's gradient is the true adjoint of its forward."""
    if scale_factor is None or recompute_scale_factor:
        return True
    if not antialias and (mode not in ('nearest', 'bicubic') or
                          (mode == 'nearest' and len(shape) == 4)):
        return True
    sfs = scale_factor if isinstance(scale_factor, tuple) else (scale_factor,) * (len(shape) - 2)
    for n, f in zip(shape[2:], sfs):
        m = int(n * f)
        if (m == n and f != 1) or (mode == 'nearest' and m == 2 * n and f != 2):
            return False
    return True


def _check_interp(x, **kw):
    """Forward and backward parity with torch (forward only, plus a gradcheck, where torch's
    gradient is not its forward's adjoint)."""
    fe, ft = _both(**kw)
    tol = _tol(kw.get('mode', 'nearest'), x.dtype, kw.get('antialias', False))
    if _torch_grad_is_adjoint(x.shape, **kw):
        check(fe, ft, x, **tol)
    else:
        check(fe, ft, x, grad=False, **tol)
        gradcheck(fe, x[:1, :1])


def _both(**kw):
    return (lambda t: F.interpolate(t, **kw)), (lambda t: TF.interpolate(t, **kw))


def test_issue_example_bilinear_align_corners():
    x = ember.tensor([[[[1., 2.], [3., 4.]]]])
    y = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=True)
    expected = [[1, 4 / 3, 5 / 3, 2], [5 / 3, 2, 7 / 3, 8 / 3], [7 / 3, 8 / 3, 3, 10 / 3],
                [3, 10 / 3, 11 / 3, 4]]
    np.testing.assert_allclose(to_np(y)[0, 0], expected, rtol=1e-6)
    assert 'UpsampleBilinear2DBackward0' not in repr(y)     # no grad requested
    assert '1.3333' in str(y)


@pytest.mark.parametrize('mode,nd,ac', INTERP_CASES)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_interpolate_parity(mode, nd, ac, dtype):
    x = rand(2, 3, *SPATIAL[nd], dtype=dtype, seed=nd)
    for spec in SPECS:
        _check_interp(x, mode=mode, align_corners=ac, **spec)


@pytest.mark.parametrize('mode,aa_ac', [('bilinear', False), ('bilinear', True),
                                        ('bicubic', False), ('bicubic', True),
                                        ('lanczos', False)])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_antialias_parity(mode, aa_ac, dtype):
    x = rand(2, 2, 9, 7, dtype=dtype, seed=1)
    for spec in [dict(size=(3, 4)), dict(size=(14, 3)), dict(scale_factor=0.3),
                 dict(scale_factor=(0.5, 2.5)), dict(size=(9, 7)), dict(scale_factor=1.1)]:
        _check_interp(x, mode=mode, align_corners=aa_ac, antialias=True, **spec)


@pytest.mark.parametrize('mode,nd,ac', INTERP_CASES)
def test_interpolate_edge_shapes(mode, nd, ac):
    """Batch of 1, one-pixel inputs, odd sizes, non-contiguous input, per-dim sizes."""
    k = nd - 2
    for shape, spec in [((1, 1) + (1,) * k, dict(size=(3,) * k)),
                        ((1, 2) + (7,) * k, dict(size=tuple(range(2, 2 + k)))),
                        ((1, 2) + (3,) * k, dict(scale_factor=tuple([3.0, 0.7, 1.5][:k])))]:
        _check_interp(rand(*shape, dtype=np.float64, seed=k), mode=mode, align_corners=ac,
                      **spec)
    _check_interp(noncontig(rand(2, 3, *SPATIAL[nd], seed=5)), mode=mode, align_corners=ac,
                  scale_factor=2)


@pytest.mark.parametrize('mode,nd', [('nearest', 4), ('bilinear', 4), ('bicubic', 4),
                                     ('linear', 3), ('trilinear', 5), ('area', 4),
                                     ('nearest-exact', 5)])
def test_large_inputs_blocked_and_threaded(mode, nd):
    """Outputs above the threading threshold go through cache-sized blocks on all cores."""
    spatial = {3: (700,), 4: (40, 37), 5: (10, 12, 11)}[nd]
    x = rand(3, 7, *spatial, seed=2)
    for spec in [dict(scale_factor=2), dict(size=tuple(int(s * 1.6) for s in spatial))]:
        kw = dict(mode=mode, **spec)
        if mode not in ('nearest', 'nearest-exact', 'area'):
            kw['align_corners'] = False
        fe, ft = _both(**kw)
        check(fe, ft, x, **_tol(mode, np.float32))


@pytest.mark.parametrize('mode,nd,ac,aa', [(m, nd, ac, False) for m, nd, ac in INTERP_CASES]
                         + [('bilinear', 4, False, True), ('bicubic', 4, True, True),
                            ('lanczos', 4, False, True)])
def test_gradcheck(mode, nd, ac, aa):
    x = rand(1, 2, *[4, 3, 3][:nd - 2], dtype=np.float64, seed=3)
    for spec in [dict(scale_factor=1.5), dict(size=2)]:
        gradcheck(lambda t: F.interpolate(t, mode=mode, align_corners=ac, antialias=aa, **spec), x)


@pytest.mark.parametrize('mode,nd,aa', [('nearest', 3, False), ('nearest', 4, False),
                                        ('nearest', 5, False), ('nearest-exact', 4, False),
                                        ('linear', 3, False), ('bilinear', 4, False),
                                        ('bicubic', 4, False), ('trilinear', 5, False),
                                        ('area', 3, False), ('area', 4, False),
                                        ('area', 5, False), ('bilinear', 4, True),
                                        ('bicubic', 4, True), ('lanczos', 4, True)])
def test_grad_fn_names(mode, nd, aa):
    x = np.ones((1, 1) + (4,) * (nd - 2), np.float32)
    ye = F.interpolate(E(x, True), size=3, mode=mode, antialias=aa)
    yt = TF.interpolate(T(x, True), size=3, mode=mode, antialias=aa)
    assert ye.grad_fn.name() == yt.grad_fn.name()


def test_adjoint_where_torch_backward_is_not():
    """1-D nearest with a scale factor keeping the size: PyTorch's forward reads
    floor(j / 1.1) but its backward copies; ember differentiates its forward."""
    x = np.arange(5.0)[None, None]
    fe, ft = _both(scale_factor=1.1)
    check(fe, ft, x, grad=False)
    assert to_np(fe(E(x))).tolist() == [[[0, 0, 1, 2, 3]]]
    xe = E(x, True)
    fe(xe).backward(E(np.array([[[1., 10, 100, 1000, 10000]]])))
    assert to_np(xe.grad).tolist() == [[[11, 100, 1000, 10000, 0]]]
    assert not _torch_grad_is_adjoint((1, 1, 5), scale_factor=1.1)


def test_scale_factor_sets_source_positions():
    """With a scale factor (not recomputed) output j reads input (j + 0.5) / s - 0.5, not
    (j + 0.5) * n_in / n_out - 0.5."""
    x = np.arange(5, dtype=np.float64)[None, None]
    y = to_np(F.interpolate(E(x), scale_factor=1.7, mode='linear'))[0, 0]     # 8 outputs
    src = np.maximum((np.arange(8) + 0.5) / 1.7 - 0.5, 0)
    np.testing.assert_allclose(y, np.minimum(src, 4), rtol=1e-12)
    y2 = to_np(F.interpolate(E(x), scale_factor=1.7, mode='linear',
                             recompute_scale_factor=True))[0, 0]
    src2 = np.maximum((np.arange(8) + 0.5) * 5 / 8 - 0.5, 0)
    np.testing.assert_allclose(y2, np.minimum(src2, 4), rtol=1e-12)
    assert np.abs(y - y2).max() > 0.01


@pytest.mark.parametrize('mode', ['nearest', 'bilinear', 'area', 'bicubic'])
def test_float16_and_empty_batch(mode):
    x = rand(2, 3, 5, 4, dtype=np.float16)
    ye = F.interpolate(E(x), scale_factor=1.5, mode=mode)
    yt = TF.interpolate(T(x), scale_factor=1.5, mode=mode)
    assert_close(ye, yt, rtol=1e-2, atol=1e-2)
    fe, ft = _both(size=(3, 7), mode=mode)
    check(fe, ft, rand(0, 3, 5, 4))


def test_integer_dtypes():
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 5, 4)).astype(np.uint8)
    for mode in ['nearest', 'nearest-exact']:
        fe, ft = _both(size=(7, 3), mode=mode)
        check(fe, ft, x)
    with pytest.raises(NotImplementedError, match='uint8'):
        F.interpolate(E(x), size=3, mode='bilinear')
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        F.interpolate(E(x.astype(np.int64)), size=3)
    with pytest.raises(NotImplementedError, match="not implemented for 'Byte'"):
        F.interpolate(E(x), size=3, mode='area')


def _same_error(fe, ft, *arrays):
    """ember raises the exception type and message torch raises."""
    with pytest.raises(Exception) as et:
        ft(*[T(a) for a in arrays])
    with pytest.raises(type(et.value)) as ee:
        fe(*[E(a) for a in arrays])
    assert str(ee.value) == str(et.value)


ERROR_CASES = [
    ((1, 2, 3, 3), dict()),
    ((1, 2, 3, 3), dict(size=4, scale_factor=2)),
    ((1, 2, 3, 3), dict(size=4, mode='linear')),
    ((1, 2, 3), dict(size=4, mode='bilinear')),
    ((1, 2, 3), dict(size=4, mode='bicubic')),
    ((1, 1, 2, 2, 2), dict(size=4, mode='bicubic')),
    ((1, 2, 3, 3), dict(size=4, mode='trilinear')),
    ((1, 1, 2, 2, 2), dict(size=4, mode='bilinear')),
    ((2, 3), dict(size=4)),
    ((1, 1, 1, 1, 1, 1), dict(size=4)),
    ((1, 2, 3, 3), dict(size=4, mode='foo')),
    ((1, 2, 3, 3), dict(size=4, mode='nearest', align_corners=True)),
    ((1, 2, 3, 3), dict(size=4, mode='area', align_corners=False)),
    ((1, 2, 3, 3), dict(size=2, scale_factor=2, align_corners=True)),
    ((1, 2, 3, 3), dict(size=4, mode='nearest', antialias=True)),
    ((1, 2, 3), dict(size=4, mode='linear', antialias=True)),
    ((1, 2, 3, 3), dict(size=4, mode='lanczos')),
    ((1, 2, 3, 3), dict(size=4, mode='lanczos', antialias=True, align_corners=True)),
    ((1, 2, 3, 3), dict(size=(4, 4, 4))),
    ((1, 2, 3, 3), dict(scale_factor=(2, 2, 2))),
    ((1, 2, 3, 3), dict(scale_factor=(2,))),
    ((1, 2, 3, 3), dict(size=(4, None))),
    ((1, 2, 3, 3), dict(size=[4, 5.0])),
    ((1, 2, 3, 3), dict(size=0)),
    ((1, 2, 3, 3), dict(size=(0, 2), mode='bicubic')),
    ((1, 2, 3), dict(size=-1, mode='linear')),
    ((1, 1, 3, 3, 3), dict(size=(2, 0, 2), mode='trilinear')),
    ((1, 2, 3, 3), dict(scale_factor=0.1, mode='bilinear')),
    ((1, 2, 0, 3), dict(size=4)),
    ((1, 0, 3, 3), dict(size=2)),
    ((1, 0, 3), dict(size=2, mode='linear')),
    ((1, 2, 3, 3), dict(size=4, recompute_scale_factor=True)),
    ((1, 2, 3, 3), dict(scale_factor=float('inf'))),
    ((1, 2, 3, 3), dict(size=-1, mode='area')),
    ((1, 2, 3), dict(size=-1, mode='area')),
    ((1, 2, 3, 3, 3), dict(size=-1, mode='area')),
    ((1, 2, 0), dict(size=2, mode='area')),
    ((1, 2, 2, 0, 2), dict(size=2, mode='area')),
]


@pytest.mark.parametrize('shape,kw', ERROR_CASES)
def test_interpolate_errors(shape, kw):
    _same_error(lambda t: F.interpolate(t, **kw), lambda t: TF.interpolate(t, **kw),
                np.zeros(shape, np.float32))


def test_interpolate_bad_argument_types():
    x = E(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(TypeError):
        F.interpolate(x, size=4.0)
    with pytest.raises(TypeError):
        F.interpolate(x, scale_factor='a')
    assert F.interpolate(x, size=ember.tensor(4)).shape == (1, 1, 4, 4)
    assert F.interpolate(x, size=[4, 5]).shape == (1, 1, 4, 5)
    assert F.interpolate(x, scale_factor=[2, 1.5]).shape == (1, 1, 6, 4)
    assert F.interpolate(E(np.zeros((1, 1, 1), np.float32)), scale_factor=0.3,
                         mode='area').shape == (1, 1, 0)


@pytest.mark.parametrize('name,kw', [
    ('upsample', dict(scale_factor=2, mode='bilinear')),
    ('upsample', dict(size=(3, 5))),
    ('upsample', dict(size=(3, 5), mode='bicubic', align_corners=True)),
    ('upsample_nearest', dict(scale_factor=2)),
    ('upsample_bilinear', dict(scale_factor=2)),
    ('upsample_bilinear', dict(size=5)),
])
def test_deprecated_wrappers(name, kw):
    x = rand(1, 2, 3, 4, dtype=np.float64)
    with warnings.catch_warnings(record=True) as we:
        warnings.simplefilter('always')
        ye = getattr(F, name)(E(x), **kw)
    with warnings.catch_warnings(record=True) as wt:
        warnings.simplefilter('always')
        yt = getattr(TF, name)(T(x), **kw)
    assert_close(ye, yt)
    assert [str(w.message) for w in we] == [str(w.message) for w in wt]
    assert we[0].category is UserWarning
    assert we[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        check(lambda t: getattr(F, name)(t, **kw), lambda t: getattr(TF, name)(t, **kw), x)


# ---- modules ------------------------------------------------------------------------------
UPSAMPLE_CTORS = [
    (lambda L: L.nn.Upsample(scale_factor=2, mode='bilinear'), (2, 3, 4, 5)),
    (lambda L: L.nn.Upsample(scale_factor=2), (2, 3, 4, 5)),
    (lambda L: L.nn.Upsample(size=7), (2, 3, 5)),
    (lambda L: L.nn.Upsample(size=(3, 4), mode='bicubic', align_corners=True), (1, 2, 5, 6)),
    (lambda L: L.nn.Upsample(scale_factor=(2, 3), mode='bilinear', align_corners=False,
                             recompute_scale_factor=True), (2, 1, 3, 3)),
    (lambda L: L.nn.Upsample(scale_factor=1.5, mode='trilinear'), (1, 2, 3, 4, 3)),
    (lambda L: L.nn.Upsample(scale_factor=0.5, mode='area'), (2, 3, 6, 5)),
    (lambda L: L.nn.Upsample(size=(4, 9), mode='nearest-exact'), (2, 3, 6, 5)),
    (lambda L: L.nn.Upsample(size=[3, 4]), (2, 1, 5, 5)),
    (lambda L: L.nn.UpsamplingNearest2d(scale_factor=2), (2, 3, 3, 4)),
    (lambda L: L.nn.UpsamplingNearest2d(size=(5, 2)), (2, 3, 3, 4)),
    (lambda L: L.nn.UpsamplingBilinear2d(scale_factor=2), (2, 3, 3, 4)),
    (lambda L: L.nn.UpsamplingBilinear2d(size=5), (1, 3, 3, 4)),
]


@pytest.mark.parametrize('ctor,shape', UPSAMPLE_CTORS)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_upsample_modules(ctor, shape, dtype):
    em, _ = check_module(ctor, [rand(*shape, seed=4)], dtype=dtype, **_tol('bicubic', dtype))
    tm = ctor(torch)
    for attr in ['size', 'scale_factor', 'mode', 'align_corners', 'recompute_scale_factor',
                 'name']:
        assert getattr(em, attr) == getattr(tm, attr), attr


def test_upsample_reprs_and_attributes():
    U = ember.nn.Upsample
    assert repr(U(scale_factor=2, mode='bilinear')) == "Upsample(scale_factor=2.0, mode='bilinear')"
    assert repr(U(size=3)) == "Upsample(size=3, mode='nearest')"
    assert repr(U()) == "Upsample(size=None, mode='nearest')"
    assert repr(U(scale_factor=(2, 3))) == "Upsample(scale_factor=(2.0, 3.0), mode='nearest')"
    assert repr(ember.nn.UpsamplingBilinear2d(size=3)) == \
        "UpsamplingBilinear2d(size=3, mode='bilinear')"
    assert ember.nn.UpsamplingBilinear2d(scale_factor=2).align_corners is True
    assert ember.nn.UpsamplingNearest2d(scale_factor=2).name == 'UpsamplingNearest2d'
    m = U(scale_factor=2, size=3)
    with pytest.raises(ValueError, match='only one of size or scale_factor should be defined'):
        m(ember.zeros(1, 1, 2, 2))


SHUFFLE_CTORS = [
    (lambda L: L.nn.PixelShuffle(2), (2, 8, 3, 4)),
    (lambda L: L.nn.PixelShuffle(3), (9, 2, 3)),
    (lambda L: L.nn.PixelShuffle(1), (2, 3, 2, 2)),
    (lambda L: L.nn.PixelUnshuffle(2), (2, 3, 4, 6)),
    (lambda L: L.nn.PixelUnshuffle(3), (2, 2, 3, 1, 6, 3)),
    (lambda L: L.nn.ChannelShuffle(2), (2, 6, 3, 3)),
    (lambda L: L.nn.ChannelShuffle(3), (2, 6, 5)),
    (lambda L: L.nn.ChannelShuffle(2), (1, 4, 2, 2, 2)),
]


@pytest.mark.parametrize('ctor,shape', SHUFFLE_CTORS)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_shuffle_modules(ctor, shape, dtype):
    check_module(ctor, [rand(*shape, seed=6)], dtype=dtype)


@pytest.mark.parametrize('fn,arg,shape', [
    ('pixel_shuffle', 2, (2, 3, 8, 2, 3)), ('pixel_shuffle', 2, (0, 4, 2, 2)),
    ('pixel_unshuffle', 2, (3, 4, 6)), ('pixel_unshuffle', 1, (1, 2, 3, 3)),
    ('channel_shuffle', 3, (2, 6, 2, 3)), ('channel_shuffle', 1, (2, 3, 2)),
    ('channel_shuffle', 2, (0, 4, 2, 2)), ('channel_shuffle', 2, (1, 0, 2, 2))])
def test_shuffle_functions(fn, arg, shape):
    x = rand(*shape, dtype=np.float64)
    grad = 0 not in shape       # torch's pixel_shuffle backward fails on empty batches
    check(lambda t: getattr(F, fn)(t, arg), lambda t: getattr(TF, fn)(t, arg), x, grad=grad)
    check(lambda t: getattr(F, fn)(t, arg), lambda t: getattr(TF, fn)(t, arg), noncontig(x),
          grad=grad)
    xi = np.arange(int(np.prod(shape))).reshape(shape)
    check(lambda t: getattr(F, fn)(t, arg), lambda t: getattr(TF, fn)(t, arg), xi)
    if grad:
        gradcheck(lambda t: getattr(F, fn)(t, arg), x)
    ye, yt = getattr(F, fn)(E(x, True), arg), getattr(TF, fn)(T(x, True), arg)
    assert ye.grad_fn.name() == yt.grad_fn.name()


def test_shuffles_copy_their_input():
    x = ember.randn(1, 4, 2, 2)
    for y in [F.pixel_shuffle(x, 1), F.pixel_unshuffle(x, 1), F.channel_shuffle(x, 1)]:
        y.add_(1)
    assert to_np(x).max() < 1e3 and not np.shares_memory(to_np(y), to_np(x))
    assert ember.ops.upsample.pixel_shuffle is F.pixel_shuffle
    assert ember.ops.upsample.channel_shuffle is F.channel_shuffle


@pytest.mark.parametrize('fn,arg,shape', [
    ('pixel_shuffle', 2, (8, 2)), ('pixel_shuffle', 2, (1, 6, 2, 2)),
    ('pixel_shuffle', 0, (1, 4, 2, 2)), ('pixel_shuffle', -2, (1, 4, 2, 2)),
    ('pixel_shuffle', 2.0, (1, 4, 2, 2)),
    ('pixel_unshuffle', 2, (4, 4)), ('pixel_unshuffle', 2, (1, 2, 3, 6)),
    ('pixel_unshuffle', 2, (1, 2, 4, 5)), ('pixel_unshuffle', 0, (1, 2, 4, 4)),
    ('channel_shuffle', 3, (1, 6)), ('channel_shuffle', 4, (1, 6, 2, 2)),
    ('channel_shuffle', 0, (1, 6, 2, 2)), ('channel_shuffle', -3, (1, 6, 2, 2))])
def test_shuffle_errors(fn, arg, shape):
    _same_error(lambda t: getattr(F, fn)(t, arg), lambda t: getattr(TF, fn)(t, arg),
                np.zeros(shape, np.float32))
