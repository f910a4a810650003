"""repr/str of tensors and print options, compared with PyTorch's text (torch. -> ember.)."""
import math

import numpy as np
import pytest
import torch
import torch._tensor_str as torch_str

import ember
from ember import _tensor_str
from ember._tensor_str import format_tensor, printoptions, tensor_suffixes

nan, inf = math.nan, math.inf


@pytest.fixture(autouse=True)
def _default_printoptions():
    """Both libraries print with their defaults before and after every test."""
    ember.set_printoptions(profile='default')
    torch.set_printoptions(profile='default')
    torch.set_default_dtype(torch.float32)
    yield
    ember.set_printoptions(profile='default')
    torch.set_printoptions(profile='default')
    torch.set_default_dtype(torch.float32)


def torch_text(t):
    return repr(t).replace('torch.', 'ember.')


def assert_same(a, requires_grad=False, options=None):
    """repr of ember.tensor(a) equals torch's for the NumPy array ``a`` (under ``options``)."""
    options = options or {}
    with printoptions(**options), torch_str.printoptions(**options):
        e = repr(ember.tensor(a, requires_grad=requires_grad))
        t = torch_text(torch.tensor(a, requires_grad=requires_grad))
    assert e == t, f'\nember:\n{e}\ntorch:\n{t}'


FLOAT_CASES = [
    [1., 2.], [1.23456, 2.], [-1.5, 2.25], [1e-5, 1.], [1e-5], [5e-5, 3.], [1e-4, 1.],
    [1e-4, 1e-3], [0.5e-4, 0.1], [1., 1000.], [1., 1001.], [1.5, 1000.], [1.5, 1500.],
    [1e8, 1.], [1e8 + 8], [123456789.], [1e9], [99999999.], [100000.5], [1e30, -1e-30],
    [1e300, 1e-300], [nan, 0.], [1., nan], [100., nan], [nan, inf, -inf], [1., nan, 1e-5],
    [-inf, 2.5, inf], [-0., 1.], [-0.], [1.5, -0.], [0., 0.], [nan], [inf], [-3., -1000.],
    [0.1, 0.2, 0.3], [123.456, -0.001], [3.], [[1., -2.], [3.5, 40.]],
]


@pytest.mark.parametrize('dtype', [np.float32, np.float64, np.float16])
@pytest.mark.parametrize('values', FLOAT_CASES)
def test_float_formats(values, dtype):
    with np.errstate(over='ignore'):
        a = np.array(values, dtype=dtype)
    assert_same(a)


@pytest.mark.parametrize('value', [3., -0., nan, inf, 1e-5, 1e10, 2.5, 0.])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_zero_dim_float(value, dtype):
    assert_same(np.array(value, dtype=dtype))
    assert repr(ember.tensor(3.)) == 'tensor(3.)'


@pytest.mark.parametrize('dtype', [np.int8, np.uint8, np.int16, np.int32, np.int64])
@pytest.mark.parametrize('values', [[1, 0, 100], [-5, 7], [0], [[1, -20], [300, 4]], 7])
def test_integer_dtypes(values, dtype):
    with np.errstate(over='ignore'):
        a = np.array(values).astype(dtype)
    assert_same(a)


def test_integer_extremes_and_bool():
    assert_same(np.array([-5, 2 ** 40, -2 ** 63], np.int64))
    assert_same(np.array([255, 0], np.uint8))
    assert_same(np.array([True, False, True]))
    assert_same(np.array([True, True]))
    assert_same(np.array(False))
    assert_same(np.array([[True], [False]]))
    assert repr(ember.tensor([True, False])) == 'tensor([ True, False])'


def test_dtype_suffix_and_default_dtype():
    assert repr(ember.tensor([1., 2.], dtype=ember.float64)) == \
        'tensor([1., 2.], dtype=ember.float64)'
    assert repr(ember.tensor([1, 2], dtype=ember.int32)) == 'tensor([1, 2], dtype=ember.int32)'
    assert repr(ember.tensor([1, 2])) == 'tensor([1, 2])'
    for dtype in (np.float16, np.float32, np.float64, np.int8, np.uint8, np.int64, np.bool_):
        a = np.ones(3, dtype)
        ember.set_default_dtype(ember.float64)
        torch.set_default_dtype(torch.float64)
        assert_same(a)
        assert_same(np.zeros((0, 2), dtype))
        assert_same(np.zeros(0, dtype))
        ember.set_default_dtype(ember.float32)
        torch.set_default_dtype(torch.float32)
        assert_same(a)


@pytest.mark.parametrize('shape', [(0,), (0, 3), (3, 0), (2, 0, 4), (0, 0)])
@pytest.mark.parametrize('dtype', [np.float32, np.float64, np.int64, np.int32, np.bool_])
def test_empty(shape, dtype):
    assert_same(np.zeros(shape, dtype))


def test_empty_literals():
    assert repr(ember.tensor([])) == 'tensor([])'
    assert repr(ember.zeros(0, 3)) == 'tensor([], size=(0, 3))'
    assert repr(ember.zeros(0, dtype=ember.int64)) == 'tensor([], dtype=ember.int64)'


@pytest.mark.parametrize('shape', [(2, 3), (2, 3, 4), (2, 2, 3, 4), (1, 1, 1), (3, 1, 2),
                                   (4, 1), (1, 5, 1, 2)])
@pytest.mark.parametrize('dtype', [np.float32, np.int64])
def test_nested_dims(shape, dtype):
    a = (np.arange(math.prod(shape)) * 1.5 - 7).astype(dtype).reshape(shape)
    assert_same(a)


def test_3d_layout():
    text = repr(ember.tensor(np.arange(8.).reshape(2, 2, 2).astype(np.float32)))
    assert text == ('tensor([[[0., 1.],\n'
                    '         [2., 3.]],\n'
                    '\n'
                    '        [[4., 5.],\n'
                    '         [6., 7.]]])')


@pytest.mark.parametrize('n', [18, 19, 40, 100])
@pytest.mark.parametrize('dtype', [np.int64, np.float32, np.float64])
def test_row_wrapping(n, dtype):
    assert_same((np.arange(n) * 1.25).astype(dtype))
    assert_same((np.arange(2 * n) * 1.25).astype(dtype).reshape(2, n))
    assert_same(np.full(n, nan, dtype) if dtype != np.int64 else np.zeros(n, dtype))


@pytest.mark.parametrize('shape', [(2000,), (1001,), (1000,), (40, 50), (2, 1000), (1000, 2),
                                   (7, 7, 7, 7), (30, 10, 10), (10, 30, 10), (1100, 1),
                                   (6, 200), (7, 200)])
@pytest.mark.parametrize('dtype', [np.float32, np.int64, np.bool_])
def test_summarized(shape, dtype):
    a = np.random.default_rng(0).standard_normal(shape) * 100
    assert_same(a.astype(dtype))


def test_summarized_literal():
    assert repr(ember.arange(2000)) == 'tensor([   0,    1,    2,  ..., 1997, 1998, 1999])'


def test_summarized_rows_wrap():
    a = np.arange(3000.) * 1.5
    for edge in (5, 10, 20):
        assert_same(a, options=dict(edgeitems=edge))
        assert_same(a.reshape(2, 1500), options=dict(edgeitems=edge))
        assert_same(a.reshape(3, 10, 100), options=dict(edgeitems=edge, linewidth=60))


def test_noncontiguous_and_str():
    a = np.arange(24.).reshape(4, 6) / 7
    t = ember.from_numpy(a.T)
    assert not t.is_contiguous()
    assert repr(t) == torch_text(torch.tensor(a).t())
    assert str(t) == repr(t)
    b = np.arange(3000.).reshape(60, 50)
    assert repr(ember.from_numpy(b[::2, 1::3])) == torch_text(torch.tensor(b)[::2, 1::3])


# ---- suffixes --------------------------------------------------------------------------

def test_requires_grad_and_grad_fn():
    for a in (np.array(3.), np.array([1., 2.5]), np.arange(6.).reshape(2, 3)):
        for dtype in (np.float32, np.float64):
            x = ember.tensor(a.astype(dtype), requires_grad=True)
            tx = torch.tensor(a.astype(dtype), requires_grad=True)
            assert repr(x) == torch_text(tx)
            assert repr(x * 2) == torch_text(tx * 2)
            assert repr(x + 1) == torch_text(tx + 1)
    x = ember.tensor([1., 2.], requires_grad=True)
    assert repr(x * 2) == 'tensor([2., 4.], grad_fn=<MulBackward0>)'
    assert repr((x * 2).detach()) == 'tensor([2., 4.])'
    with ember.no_grad():
        assert repr(x * 2) == 'tensor([2., 4.])'


def test_custom_function_grad_fn():
    class Twice(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    y = Twice.apply(ember.tensor([1., 2.], requires_grad=True))
    assert repr(y) == 'tensor([2., 4.], grad_fn=<TwiceBackward>)'


@pytest.mark.parametrize('n', range(1, 14))
@pytest.mark.parametrize('linewidth', [30, 45, 46, 47, 65, 66, 80])
def test_suffix_wrapping(n, linewidth):
    a = np.arange(n, dtype=np.float64) + 0.5
    assert_same(a, options=dict(linewidth=linewidth))
    assert_same(a, requires_grad=True, options=dict(linewidth=linewidth))
    assert_same(a.reshape(1, n), requires_grad=True, options=dict(linewidth=linewidth))
    with printoptions(linewidth=linewidth), torch_str.printoptions(linewidth=linewidth):
        x = ember.tensor(a, requires_grad=True)
        tx = torch.tensor(a, requires_grad=True)
        assert repr(x * 2) == torch_text(tx * 2)


def test_long_tensor_suffix():
    a = np.random.default_rng(1).standard_normal((3, 30))
    assert_same(a, requires_grad=True)
    assert_same(np.arange(2000, dtype=np.int32))


@pytest.fixture
def fake_cuda(monkeypatch):
    """Every array reports device cuda:0 to the printer."""
    monkeypatch.setattr(_tensor_str, '_device_name', lambda a: 'cuda:0')


def test_device_suffix(fake_cuda):
    assert repr(ember.tensor([1., 2.])) == "tensor([1., 2.], device='cuda:0')"
    x = ember.tensor([1., 2.], dtype=ember.float64, requires_grad=True)
    assert repr(x) == ("tensor([1., 2.], device='cuda:0', dtype=ember.float64, "
                       "requires_grad=True)")
    assert repr(x * 2) == ("tensor([2., 4.], device='cuda:0', dtype=ember.float64, "
                           "grad_fn=<MulBackward0>)")
    assert repr(ember.zeros(0, 3, dtype=ember.int64)) == \
        "tensor([], device='cuda:0', size=(0, 3), dtype=ember.int64)"
    long = ember.tensor(np.arange(9, dtype=np.float64) + 0.5)
    assert repr(long) == ('tensor([0.5000, 1.5000, 2.5000, 3.5000, 4.5000, 5.5000, 6.5000, '
                          '7.5000, 8.5000],\n'
                          "       device='cuda:0', dtype=ember.float64)")
    assert tensor_suffixes(long) == ["device='cuda:0'", 'dtype=ember.float64']


@pytest.mark.cuda
@pytest.mark.parametrize('a', [np.arange(6.).reshape(2, 3), np.arange(2000.), np.array(3.),
                               np.zeros((0, 3)), np.arange(5, dtype=np.int32),
                               np.random.default_rng(0).standard_normal((300, 400))])
def test_cuda_tensor(a):
    cpu = ember.tensor(a)
    gpu = cpu.cuda()
    expected = format_tensor(cpu, suffixes=[f"device='{gpu.device}'"] + tensor_suffixes(cpu))
    assert repr(gpu) == expected


# ---- format_tensor for other reprs --------------------------------------------------

def test_format_tensor_parameter_style():
    a = np.arange(40.).reshape(2, 20) / 3
    t = ember.tensor(a, requires_grad=True)
    p = torch.nn.Parameter(torch.tensor(a))
    assert 'Parameter containing:\n' + format_tensor(t) == torch_text(p)
    assert format_tensor(t) == repr(t)
    assert format_tensor(ember.tensor([1., 2.]), prefix='value(', suffixes=['flag=1']) == \
        'value([1., 2.], flag=1)'
    assert format_tensor(ember.tensor([[1., 2.], [3., 4.]]), prefix='x(', suffixes=[]) == \
        'x([[1., 2.],\n   [3., 4.]])'


# ---- print options ------------------------------------------------------------------

def test_print_options_exported():
    assert ember.set_printoptions is _tensor_str.set_printoptions
    assert ember.get_printoptions is _tensor_str.get_printoptions
    assert _tensor_str.__all__ == ['set_printoptions', 'get_printoptions']
    assert ember.get_printoptions() == {'precision': 4, 'threshold': 1000, 'edgeitems': 3,
                                        'linewidth': 80, 'sci_mode': None}


@pytest.mark.parametrize('calls', [
    [dict(profile='short')],
    [dict(profile='full')],
    [dict(precision=2, linewidth=50), dict(profile='unknown')],
    [dict(sci_mode=True), dict(profile='default')],
    [dict(sci_mode=False), dict(precision=6)],
    [dict(profile='short', precision=7)],
    [dict(threshold=5, edgeitems=1), dict(linewidth=20)],
])
def test_set_printoptions_matches_torch(calls):
    for kw in calls:
        ember.set_printoptions(**kw)
        torch.set_printoptions(**kw)
    assert ember.get_printoptions() == torch_str.get_printoptions()
    for a in (np.arange(30.) / 7, np.arange(3000.).reshape(30, 100), np.array([1e-5, 1.]),
              np.array([1., 1e10]), np.array([nan, 0.]), np.arange(12).reshape(3, 4)):
        e = repr(ember.tensor(a.astype(np.float32) if a.dtype == np.float64 else a))
        t = torch_text(torch.tensor(a.astype(np.float32) if a.dtype == np.float64 else a))
        assert e == t


def test_get_printoptions_is_a_copy_and_context_manager():
    opts = ember.get_printoptions()
    opts['precision'] = 9
    assert ember.get_printoptions()['precision'] == 4
    with printoptions(precision=2, sci_mode=True):
        assert repr(ember.tensor([1.2345])) == 'tensor([1.23e+00])'
    assert repr(ember.tensor([1.2345])) == 'tensor([1.2345])'


@pytest.mark.parametrize('options', [
    dict(sci_mode=True), dict(sci_mode=False), dict(precision=0), dict(precision=10),
    dict(edgeitems=0), dict(edgeitems=0, threshold=3), dict(edgeitems=1, threshold=10),
    dict(linewidth=10), dict(linewidth=200), dict(profile='full'), dict(profile='short'),
    dict(threshold=0),
])
@pytest.mark.parametrize('a', [
    np.array([1e-5, 1.], np.float32), np.array([1., 10000.], np.float32),
    np.array([nan, 0.], np.float32), np.array([-0., 1.], np.float32),
    np.array([1.5e10, 1e-10, nan], np.float64), np.arange(12).reshape(3, 4),
    np.arange(2000.).reshape(2, 1000), np.array(5., np.float32), np.zeros((0, 3), np.int32),
    np.array([True, False]), np.arange(40, dtype=np.int8),
])
def test_printoptions_variants(options, a):
    assert_same(a, options=options)
    if a.dtype.kind == 'f':
        assert_same(a, requires_grad=True, options=options)


# ---- randomized ---------------------------------------------------------------------

_DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8,
           np.bool_]


def _random_shape(rng):
    ndim = int(rng.integers(0, 5))
    if ndim == 1 and rng.random() < 0.3:
        return (int(rng.integers(900, 2500)),)
    high = 40 if ndim <= 2 else 14
    return tuple(int(s) for s in rng.integers(0 if rng.random() < 0.2 else 1, high, ndim))


def _random_floats(rng, n, dtype):
    """Magnitudes over a random span of decades around the sci-mode boundaries, with whole
    numbers, nan, inf and signed zeros mixed in sometimes."""
    lo, hi = sorted(rng.uniform(-12, 12, 2))
    if dtype == np.float16:
        lo, hi = min(max(lo, -8), 4), max(min(hi, 5), -7)
    a = np.sign(rng.standard_normal(n)) * 10 ** rng.uniform(lo, hi, n)
    style = rng.integers(4)
    if style == 1:
        a = np.round(a)
    elif style == 2:
        a = np.round(rng.standard_normal(n) * 10 ** rng.integers(0, 10))
    elif style == 3:
        a = rng.standard_normal(n)
    u = rng.random(n)
    if rng.random() < 0.3:
        a[u < 0.05] = nan
        a[(u >= 0.05) & (u < 0.08)] = inf
        a[(u >= 0.08) & (u < 0.1)] = -inf
    if rng.random() < 0.3:
        a[(u >= 0.1) & (u < 0.2)] = 0.
        a[(u >= 0.2) & (u < 0.25)] = -0.
    with np.errstate(over='ignore'):
        return a.astype(dtype)


def _random_array(rng):
    shape = _random_shape(rng)
    dtype = _DTYPES[rng.integers(len(_DTYPES))]
    n = math.prod(shape)
    if dtype == np.bool_:
        a = rng.random(n) < 0.5
    elif np.dtype(dtype).kind in 'iu':
        info = np.iinfo(dtype)
        hi = min(int(info.max), 10 ** int(rng.integers(1, 19)))
        a = rng.integers(max(int(info.min), -hi), hi, n, endpoint=True).astype(dtype)
    else:
        a = _random_floats(rng, n, dtype)
    return a.reshape(shape)


def _random_options(rng):
    options = {}
    if rng.random() < 0.5:
        for name, low, high in (('precision', 0, 9), ('linewidth', 10, 160),
                                ('edgeitems', 0, 6), ('threshold', 1, 1500)):
            if rng.random() < 0.4:
                options[name] = int(rng.integers(low, high))
        if rng.random() < 0.3:
            options['sci_mode'] = bool(rng.random() < 0.5)
    return options


@pytest.mark.parametrize('seed', range(8))
def test_random(seed):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        a = _random_array(rng)
        grad = a.dtype.kind == 'f' and rng.random() < 0.3
        assert_same(a, requires_grad=grad, options=_random_options(rng))


@pytest.mark.parametrize('seed', range(3))
def test_random_grad_fn(seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(30):
        a = _random_floats(rng, math.prod(s := _random_shape(rng)), np.float64).reshape(s)
        options = _random_options(rng)
        with printoptions(**options), torch_str.printoptions(**options):
            e = repr(ember.tensor(a, requires_grad=True) + 1)
            t = torch_text(torch.tensor(a, requires_grad=True) + 1)
        assert e == t


def test_large_tensor_formats_only_shown_entries():
    a = np.random.default_rng(0).standard_normal((1000, 1000)).astype(np.float32)
    kept, elided = _tensor_str._kept_part(a, 3)
    assert kept.shape == (6, 6) and elided == (True, True)
    assert repr(ember.tensor(a)) == torch_text(torch.tensor(a))
