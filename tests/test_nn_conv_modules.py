"""Conv1d/2d/3d, ConvTranspose1d/2d/3d and their Lazy variants against torch: weights copied in,
repr, parameter names and shapes, forward and backward in train and eval mode, padding modes,
output_size=, default initialisation (statistically) and constructor errors."""
import math

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from tests.helpers import E, T, assert_close, rand, to_np
from tests.helpers_nn import check_module

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")
DTYPES = [np.float32, np.float64]
SPATIAL = {1: (9,), 2: (7, 6), 3: (5, 6, 4)}


def tols(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else {}


def module_check(ctor, x, dtype=np.float32, **kw):
    check_module(ctor, [x], dtype=dtype, modes=('train',), **tols(dtype), **kw)


@pytest.mark.parametrize('d', [1, 2, 3])
@pytest.mark.parametrize('mode', ['zeros', 'reflect', 'replicate', 'circular'])
@pytest.mark.parametrize('dtype', DTYPES)
def test_conv_padding_modes(d, mode, dtype):
    name = f'Conv{d}d'
    x = rand(2, 4, *SPATIAL[d], dtype=dtype)
    module_check(lambda L: getattr(L.nn, name)(4, 6, 3, padding=1, padding_mode=mode), x, dtype)
    module_check(lambda L: getattr(L.nn, name)(4, 6, 2, padding='same', padding_mode=mode,
                                               dilation=2, groups=2, bias=False), x, dtype)
    pad = (2, 1, 0)[:d]
    module_check(lambda L: getattr(L.nn, name)(4, 2, 3, stride=2, padding=pad,
                                               padding_mode=mode), x[0], dtype)


@pytest.mark.parametrize('d', [1, 2, 3])
def test_conv_modules_options(d):
    name = f'Conv{d}d'
    x = rand(1, 6, *SPATIAL[d])
    module_check(lambda L: getattr(L.nn, name)(6, 4, 2, stride=2, dilation=2, padding='valid'), x)
    module_check(lambda L: getattr(L.nn, name)(6, 12, 3, groups=6, padding=1), x)      # depthwise
    module_check(lambda L: getattr(L.nn, name)(6, 3, 1), x)                           # pointwise
    ks = (3, 1, 2)[:d]
    module_check(lambda L: getattr(L.nn, name)(6, 3, ks, stride=(1, 2, 1)[:d],
                                               padding=(1, 0, 1)[:d], groups=3), x)


def test_conv_modules_train_eval_float64():
    check_module(lambda L: L.nn.Conv2d(3, 4, 3, padding=1), [rand(2, 3, 5, 5)], dtype=np.float64)
    check_module(lambda L: L.nn.ConvTranspose2d(3, 4, 3, stride=2), [rand(2, 3, 4, 4)],
                 dtype=np.float64)


@pytest.mark.parametrize('d', [1, 2, 3])
@pytest.mark.parametrize('dtype', DTYPES)
def test_conv_transpose_modules(d, dtype):
    name = f'ConvTranspose{d}d'
    x = rand(2, 4, *SPATIAL[d], dtype=dtype)
    module_check(lambda L: getattr(L.nn, name)(4, 6, 3, stride=2, padding=1, output_padding=1,
                                               groups=2), x, dtype)
    module_check(lambda L: getattr(L.nn, name)(4, 2, 2, dilation=2, bias=False), x[0], dtype)


@pytest.mark.parametrize('output_size', [(13, 11), (14, 12), [1, 6, 14, 11], (13, 12)])
def test_conv_transpose_output_size(output_size):
    x = rand(1, 4, 7, 6)
    module_check(lambda L: L.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1), x,
                 forward=lambda m, x: m(x, output_size=output_size))
    module_check(lambda L: L.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1), x[0],
                 forward=lambda m, x: m(x, output_size=output_size[-2:]))


def test_conv_transpose_output_size_errors():
    for lib in (ember, torch):
        lib.manual_seed(0)
    em, tm = ember.nn.ConvTranspose2d(3, 4, 3, stride=2), torch.nn.ConvTranspose2d(3, 4, 3,
                                                                                   stride=2)
    for size in [(13, 12), (12,), [1, 3, 4, 12, 11], (10, 11)]:
        with pytest.raises(ValueError) as et:
            tm(torch.zeros(1, 3, 5, 5), output_size=size)
        with pytest.raises(ValueError) as ee:
            em(ember.zeros(1, 3, 5, 5), output_size=size)
        assert str(ee.value) == str(et.value).replace('torch.', 'ember.')


REPRS = [
    "Conv2d(3, 16, 3, padding=1, bias=False)",
    "Conv2d(3, 16, (3, 5), stride=(2, 1), padding=(1, 2), dilation=2, groups=1)",
    "Conv2d(4, 16, 3, padding='same', padding_mode='reflect', dilation=2, groups=2)",
    "Conv2d(4, 16, 3, padding='valid', padding_mode='circular')",
    "Conv1d(2, 4, 3, padding=(1,))",
    "Conv1d(2, 4, [3], stride=[2], padding_mode='replicate')",
    "Conv3d(3, 16, 3, padding=(1, 2, 1))",
    "ConvTranspose2d(3, 16, 3, stride=2, output_padding=1)",
    "ConvTranspose1d(4, 8, 3, groups=2, bias=False, dilation=3)",
    "ConvTranspose3d(3, 6, (1, 2, 3), padding=(0, 1, 1))",
    "LazyConv2d(16, 3)",
    "LazyConvTranspose2d(4, 3, stride=2)",
    "LazyConv1d(4, 5, bias=False, padding='same')",
]


@pytest.mark.parametrize('text', REPRS)
def test_reprs_match_torch(text):
    e = eval('ember.nn.' + text)
    t = eval('torch.nn.' + text)
    assert repr(e) == repr(t)
    assert [(n, tuple(p.shape)) for n, p in e.named_parameters()
            if not isinstance(p, ember.nn.parameter.UninitializedParameter)] == \
        [(n, tuple(p.shape)) for n, p in t.named_parameters()
         if not isinstance(p, torch.nn.parameter.UninitializedParameter)]
    for attr in ('in_channels', 'out_channels', 'kernel_size', 'stride', 'padding', 'dilation',
                 'transposed', 'output_padding', 'groups', 'padding_mode',
                 '_reversed_padding_repeated_twice'):
        assert getattr(e, attr) == getattr(t, attr), attr
    assert e.__constants__ == t.__constants__


@pytest.mark.parametrize('ctor,fan_in', [(lambda L: L.nn.Conv2d(16, 32, 5), 16 * 25),
                                         (lambda L: L.nn.Conv1d(8, 64, 3, groups=4), 2 * 3),
                                         (lambda L: L.nn.ConvTranspose2d(32, 16, 3), 16 * 9),
                                         (lambda L: L.nn.ConvTranspose3d(8, 8, 2, groups=2),
                                          4 * 8)])
def test_default_initialisation(ctor, fan_in):
    """weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1 / math.sqrt(fan_in)
    w, b = [], []
    for seed in range(6):
        ember.manual_seed(seed)
        m = ctor(ember)
        w.append(to_np(m.weight).ravel())
        b.append(to_np(m.bias).ravel())
    w, b = np.concatenate(w), np.concatenate(b)
    for a in (w, b):
        assert np.abs(a).max() <= bound + 1e-7
        assert np.abs(a).max() > 0.9 * bound
        assert abs(a.mean()) < 0.1 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert m.weight.dtype == ember.float32


def test_factory_kwargs_and_reset_parameters():
    m = nn.Conv2d(2, 3, 3, dtype=ember.float64, device='cpu')
    assert m.weight.dtype == ember.float64 and m.bias.dtype == ember.float64
    before = to_np(m.weight).copy()
    m.reset_parameters()
    assert not np.array_equal(before, to_np(m.weight))


@pytest.mark.parametrize('lazy,plain,x', [
    ('LazyConv1d(4, 3, padding=1)', 'Conv1d', (2, 6, 8)),
    ('LazyConv2d(4, 3, groups=2)', 'Conv2d', (6, 7, 5)),
    ('LazyConv3d(4, 2, bias=False)', 'Conv3d', (1, 3, 4, 4, 4)),
    ('LazyConvTranspose1d(4, 3, stride=2)', 'ConvTranspose1d', (2, 6, 5)),
    ('LazyConvTranspose2d(4, 3, groups=2, output_padding=1, stride=2)', 'ConvTranspose2d',
     (6, 3, 4)),
    ('LazyConvTranspose3d(2, 2)', 'ConvTranspose3d', (1, 3, 2, 3, 2)),
])
def test_lazy_modules(lazy, plain, x):
    em, tm = eval('ember.nn.' + lazy), eval('torch.nn.' + lazy)
    assert em.has_uninitialized_params()
    xa = rand(*x)
    tm(T(xa))
    em(E(xa))
    assert type(em) is getattr(ember.nn, plain)
    assert repr(em) == repr(tm)
    assert em.in_channels == tm.in_channels
    for (n, pe), (_, pt) in zip(em.named_parameters(), tm.named_parameters()):
        assert tuple(pe.shape) == tuple(pt.shape), n
    fan_in = em.weight.shape[1] * math.prod(em.weight.shape[2:])
    assert np.abs(to_np(em.weight)).max() <= 1 / math.sqrt(fan_in) + 1e-7
    em.load_state_dict({k: E(v.detach().numpy()) for k, v in tm.state_dict().items()})
    assert_close(em(E(xa)), tm(T(xa)), 1e-5, 1e-5)


def test_lazy_errors():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match='Expected 3D \\(unbatched\\) or 4D \\(batched\\) '
                                               'input to LazyConv2d, but got input of size'):
            lib.nn.LazyConv2d(4, 3)(lib.zeros(3, 8))
        with pytest.raises(ValueError, match='in_channels must be divisible by groups'):
            lib.nn.LazyConv2d(4, 3, groups=2)(lib.zeros(1, 3, 8, 8))


CTOR_ERRORS = [
    'Conv2d(3, 4, 3, groups=0)', 'Conv2d(3, 4, 3, groups=-1)', 'Conv2d(3, 4, 3, groups=2)',
    'Conv2d(4, 3, 3, groups=2)', "Conv2d(3, 4, 3, padding='foo')",
    "Conv2d(3, 4, 3, padding='same', stride=2)", "ConvTranspose2d(3, 4, 3, padding_mode='reflect')",
    "ConvTranspose1d(3, 4, 3, padding_mode='circular')",
]


@pytest.mark.parametrize('text', CTOR_ERRORS)
def test_constructor_errors(text):
    with pytest.raises(ValueError) as et:
        eval('torch.nn.' + text)
    with pytest.raises(ValueError) as ee:
        eval('ember.nn.' + text)
    assert str(ee.value) == str(et.value)


def test_padding_mode_error():
    with pytest.raises(ValueError, match="padding_mode must be one of .*'circular'.*, but got "
                                         "padding_mode='foo'"):
        nn.Conv2d(3, 4, 3, padding_mode='foo')


def test_module_forward_errors_match_torch():
    for lib_e, lib_t in [(ember, torch)]:
        for ctor, shape in [(lambda L: L.nn.Conv2d(3, 4, 3), (1, 3, 8)),
                            (lambda L: L.nn.Conv2d(3, 4, 3, padding_mode='reflect'), (1, 3, 2, 2)),
                            (lambda L: L.nn.Conv1d(3, 4, 3), (3,)),
                            (lambda L: L.nn.ConvTranspose2d(3, 4, 3), (1, 4, 5, 5))]:
            with pytest.raises(Exception) as et:
                ctor(lib_t)(lib_t.zeros(*shape))
            with pytest.raises(et.type) as ee:
                ctor(lib_e)(lib_e.zeros(*shape))
            assert str(ee.value) == str(et.value).replace('torch.', 'ember.')


def test_separable_block_and_conv_forward_override():
    """A depthwise conv followed by a 1x1 conv (separable), and ``_conv_forward`` reused by a
    subclass with another weight, as PyTorch code does."""
    check_module(lambda L: L.nn.Sequential(L.nn.Conv2d(8, 8, 3, padding=1, groups=8),
                                           L.nn.Conv2d(8, 16, 1)), [rand(2, 8, 6, 6)],
                 rtol=1e-4, atol=1e-4)

    def doubled(L):
        class Doubled(L.nn.Conv2d):
            def forward(self, x):
                return self._conv_forward(x, self.weight * 2, self.bias)
        return Doubled(3, 4, 3, padding=1, padding_mode='circular')
    check_module(doubled, [rand(1, 3, 5, 5)], rtol=1e-4, atol=1e-4, check_repr=False)
