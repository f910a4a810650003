"""F.pad (constant, reflect, replicate, circular) and the padding layers against torch."""
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as F
from tests.helpers import E, T, check, gradcheck, noncontig, rand, to_np
from tests.helpers_nn import check_module

MODES = ['constant', 'reflect', 'replicate', 'circular']

# (input shape, pad) valid for every mode: 1, 2 and 3 padded dims, batched and unbatched,
# symmetric, asymmetric, zero and (small) negative amounts.
SHARED_CASES = [
    ((3, 5), (1, 2)),
    ((2, 3, 5), (2, 0)),
    ((2, 3, 5), (0, 0)),
    ((2, 3, 5), (-1, 3)),
    ((3, 4, 5), (1, 1, 2, 0)),
    ((2, 3, 4, 5), (2, 1, 0, 3)),
    ((2, 3, 4, 5), (-2, 1, 1, -1)),
    ((2, 3, 4, 5), (4, 4, 3, 3)),
    ((2, 3, 4, 5), (0, 0, 1, 1)),
    ((2, 3, 4, 5), (1, 2, 3, 2, 1, 0)),
    ((2, 2, 3, 4, 5), (1, 0, 2, 1, 2, 2)),
    ((1, 2, 3, 4, 5), (0, -1, 1, 1, -1, 2)),
    ((0, 2, 3, 4), (1, 1, 2, 2)),
]

CONSTANT_CASES = [
    ((5,), (2, 3)),
    ((4, 5), (1, 1, 2, 2)),
    ((2, 3, 4, 5), (1, 1, 1, 1, 1, 1, 1, 1)),
    ((2, 3, 4), (-1, -1, 2, -2)),
    ((3, 4), (-4, 2)),
    ((3, 4), (5, -4)),
    ((2, 3, 4), (-2, -2, 0, 0)),
    ((0, 3), (1, 1, 1, 1)),
    ((3, 4), ()),
    ((), ()),
]

# only valid for some modes: pads up to the limit of each one
MODE_CASES = {
    'reflect': [((2, 4), (3, 3)), ((2, 3, 4), (3, 0, -2, 2)), ((1, 2, 3, 4, 5), (4, 4, 3, 3, 2, 2)),
                ((2, 3), (-1, 2))],
    'replicate': [((2, 4), (6, 7)), ((2, 3, 4), (-3, 9, 5, -2)), ((1, 1, 1, 1), (3, 3, 3, 3)),
                  ((2, 3), (-5, 3))],
    'circular': [((2, 4), (4, 4)), ((2, 3, 4), (-1, 3, 3, 3)), ((2, 3, 4), (2, -2, 0, 0)),
                 ((1, 2, 3, 4, 5), (5, 5, 4, 4, 3, 3)), ((2, 0, 4), (1, 2))],
}


def _cases(mode):
    return SHARED_CASES + (CONSTANT_CASES if mode == 'constant' else MODE_CASES[mode])


@pytest.mark.parametrize('mode,shape,pad', [(m, s, p) for m in MODES for s, p in _cases(m)])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_pad_parity(mode, shape, pad, dtype):
    x = rand(*shape, dtype=dtype, seed=1)
    out_e, out_t = check(lambda t: F.pad(t, pad, mode), lambda t: TF.pad(t, pad, mode), x)
    assert repr(out_e.grad_fn).split(' ')[0] == repr(out_t.grad_fn).split(' ')[0]


@pytest.mark.parametrize('mode', MODES)
def test_pad_noncontiguous_and_value(mode):
    x = noncontig(rand(2, 3, 4, 5, seed=2))
    check(lambda t: F.pad(t, (1, 2, 2, 1), mode), lambda t: TF.pad(t, (1, 2, 2, 1), mode), x)
    check(lambda t: F.pad(t.transpose(-1, -2), [2, 1], mode),
          lambda t: TF.pad(t.transpose(-1, -2), [2, 1], mode), rand(3, 4, 5, seed=3))
    check(lambda t: F.pad(t, pad=(1, 1), mode=mode, value=0.0),
          lambda t: TF.pad(t, pad=(1, 1), mode=mode, value=0.0), rand(2, 3, seed=4))


@pytest.mark.parametrize('mode,pad', [('constant', (1, 2, -1, 1)), ('reflect', (2, 1, 1, 3)),
                                      ('replicate', (3, 0, 2, 1)), ('circular', (1, 2, 2, -1))])
def test_pad_blocked_rows(mode, pad, monkeypatch):
    """Large inputs are padded in cache-sized blocks of rows spread over threads (forced here
    on small ones), contiguous or not."""
    import ember.ops.padding as P
    monkeypatch.setattr(P, 'THRESHOLD', 16)
    monkeypatch.setattr(P, '_BLOCK_BYTES', 256)
    threads = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        for x in (rand(3, 5, 6, 7, seed=11), noncontig(rand(3, 5, 6, 7, seed=12)),
                  rand(5, 6, 7, seed=13)):
            check(lambda t: F.pad(t, pad, mode), lambda t: TF.pad(t, pad, mode), x)
    finally:
        ember.set_num_threads(threads)


@pytest.mark.parametrize('value', [2.5, -1, float('-inf'), True])
def test_constant_value(value):
    check(lambda t: F.pad(t, (1, 2, 0, 1), value=value),
          lambda t: TF.pad(t, (1, 2, 0, 1), value=value), rand(2, 3, 4, seed=5))


@pytest.mark.parametrize('dtype,value', [(ember.int64, 2.7), (ember.int64, -2.7),
                                         (ember.int8, -128), (ember.uint8, 255),
                                         (ember.bool, 0.5), (ember.int32, None)])
def test_constant_integer_and_bool(dtype, value):
    x = np.arange(12).reshape(3, 4) % 3
    e = F.pad(E(x, dtype=dtype), (1, 1, 1, 0), value=value)
    t = TF.pad(T(x, dtype=dtype), (1, 1, 1, 0), value=value)
    assert e.dtype == dtype
    np.testing.assert_array_equal(to_np(e), to_np(t))


@pytest.mark.parametrize('mode', ['reflect', 'replicate', 'circular'])
@pytest.mark.parametrize('dtype', [ember.int64, ember.float16])
def test_index_modes_other_dtypes(mode, dtype):
    x = np.arange(24).reshape(2, 3, 4)
    e = F.pad(E(x, dtype=dtype), (1, 2, 2, 1), mode)
    t = TF.pad(T(x, dtype=dtype), (1, 2, 2, 1), mode)
    assert e.dtype == dtype
    np.testing.assert_array_equal(to_np(e), to_np(t))


def test_circular_bool():
    x = np.arange(12).reshape(3, 4) % 2 == 0
    np.testing.assert_array_equal(to_np(F.pad(E(x), (2, 1), 'circular')),
                                  to_np(TF.pad(T(x), (2, 1), 'circular')))


@pytest.mark.parametrize('mode,shape,pad', [
    ('constant', (2, 3, 4), (1, -1, 2, 0, -1, 1)),
    ('reflect', (2, 3, 4), (3, 1, -1, 2)),
    ('replicate', (2, 3, 4, 3), (2, -1, 3, 1, 1, 2)),
    ('circular', (2, 3, 4), (2, -1, 3, 3)),
])
def test_pad_gradcheck(mode, shape, pad):
    gradcheck(lambda t: F.pad(t, pad, mode), rand(*shape, dtype=np.float64, seed=6))


def test_pad_random_parity():
    """Random shapes and amounts (negative ones included): same values, gradients, or error
    type and message as torch."""
    rng = random.Random(0)
    np_rng = np.random.default_rng(0)
    for _ in range(300):
        mode = rng.choice(MODES)
        k = rng.choice([1, 2, 3])
        ndim = rng.choice([k + 1, k + 2]) if mode != 'constant' else rng.randint(k, k + 2)
        shape = tuple(rng.randint(1, 4) for _ in range(ndim))
        pad = tuple(rng.randint(-4, 4) for _ in range(2 * k))
        if mode == 'circular' and _needs_multiple_wraps(shape, pad):
            continue        # torch's result is undefined there (see test_circular_wraps)
        x = np_rng.standard_normal(shape)
        try:
            yt = TF.pad(T(x), pad, mode)
        except Exception as err:
            with pytest.raises(type(err)) as info:
                F.pad(E(x), pad, mode)
            if 'numel' not in str(err):     # torch's reflect 2d overflows on negative sizes
                assert str(info.value) == str(err), (mode, shape, pad)
            continue
        check(lambda t: F.pad(t, pad, mode), lambda t: TF.pad(t, pad, mode), x)
        assert tuple(yt.shape) == tuple(F.pad(E(x), pad, mode).shape)


def _needs_multiple_wraps(shape, pad):
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)][::-1]
    for n, (pl, pr) in zip(shape[len(shape) - len(pairs):], pairs):
        kept = n + min(pl, 0) + min(pr, 0)
        if max(pl, pr) > kept:
            return True
    return False


def test_circular_wraps():
    """Where cropping leaves less than the padding, ember wraps around the kept range
    repeatedly (torch raises an internal overlap error or returns undefined values)."""
    x = E(np.arange(4.0)[None])
    np.testing.assert_array_equal(to_np(F.pad(x, (3, -2), 'circular')), [[1, 0, 1, 0, 1]])
    np.testing.assert_array_equal(to_np(F.pad(x, (-3, 4), 'circular')), [[3, 3, 3, 3, 3]])
    gradcheck(lambda t: F.pad(t, (4, -3), 'circular'), rand(2, 4, dtype=np.float64))
    with pytest.raises(RuntimeError, match='nothing left to wrap around'):
        F.pad(x, (-4, 2), 'circular')


BAD_CALLS = [
    ((2, 3, 4), ([1.0, 1],), {}),
    ((2, 3, 4), (1,), {}),
    ((2, 3, 4), ((True, 1),), {}),
    ((2, 3, 4), ((1, 1),), {'value': 'a'}),
    ((2, 3, 4), ((1,), 'foo'), {}),
    ((2, 3, 4), ((1, 1), 'wrap'), {}),
    ((2, 3, 4), ((1,),), {}),
    ((2, 3, 4), ((1, 1, 1, 1, 1, 1, 1, 1),), {}),
    ((2, 3, 4), ((1, 1, 1, 1, 1, 1, 1, 1), 'reflect'), {}),
    ((2, 3, 4), ((1, 1), 'reflect', 1.0), {}),
    ((2, 3, 4), ((1, 1), 'circular', 1e-300), {}),
    ((3,), ((1, 1), 'reflect'), {}),
    ((2, 3, 4), ((1, 1, 1, 1, 1, 1), 'replicate'), {}),
    ((2, 3, 4, 5, 6), ((1, 1), 'circular'), {}),
    ((2, 3), ((), 'reflect'), {}),
    ((1, 2, 3), ((3, 3), 'reflect'), {}),
    ((2, 3), ((3, 3), 'reflect'), {}),
    ((2, 3, 4), ((1, 2, 3, 3), 'reflect'), {}),
    ((5, 2, 3, 4), ((1, 2, 1, 1, 3, 3), 'reflect'), {}),
    ((2, 3, 4, 5), ((5, 5, 4, 4, 3, 3), 'reflect'), {}),
    ((2, 3, 4, 5), ((-5, -5, 4, 4, 3, 3), 'reflect'), {}),
    ((1, 3), ((-3, 0), 'reflect'), {}),
    ((1, 3), ((-3, 0), 'replicate'), {}),
    ((2, 3, 4), ((-2, -2, -2, -1), 'reflect'), {}),
    ((2, 3, 4), ((-2, -2, -2, -1), 'replicate'), {}),
    ((2, 3, 4, 5), ((0, 0, -2, -2, -2, -2), 'replicate'), {}),
    ((3, 5, 3, 3), ((-1, -4, 0, -4, -5, -2), 'reflect'), {}),
    ((2, 0, 4), ((1, 1), 'reflect'), {}),
    ((0, 4), ((1, 1), 'replicate'), {}),
    ((3, 2, 0, 5), ((1, 1, 1, 1), 'replicate'), {}),
    ((1, 3), ((4, 0), 'circular'), {}),
    ((1, 3), ((-2, -2), 'circular'), {}),
    ((1, 3, 3), ((5, -9, -9, 1), 'circular'), {}),
    ((2, 2, 0), ((1, 1), 'circular'), {}),
    ((3, 4), ((-5, -5),), {}),
    ((2, 3), ((1, 1, -3, 1),), {}),
    ((), ((1, 1),), {}),
]


@pytest.mark.parametrize('shape,args,kwargs', BAD_CALLS)
def test_pad_errors(shape, args, kwargs):
    x = np.zeros(shape, np.float32)
    with pytest.raises(Exception) as expected:
        TF.pad(T(x), *args, **kwargs)
    with pytest.raises(type(expected.value)) as got:
        F.pad(E(x), *args, **kwargs)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize('dtype,value', [(ember.uint8, -0.5), (ember.uint8, 300), (ember.int8, 200),
                                         (ember.int32, float('nan')), (ember.int16, 1e5),
                                         (ember.float16, 65519), (ember.float32, 3.5e38)])
def test_constant_value_overflow(dtype, value):
    x = np.zeros((2, 3))
    with pytest.raises(RuntimeError) as expected:
        TF.pad(T(x, dtype=dtype), (1, 1), value=value)
    with pytest.raises(RuntimeError) as got:
        F.pad(E(x, dtype=dtype), (1, 1), value=value)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize('mode', ['reflect', 'replicate'])
def test_bool_not_implemented(mode):
    x = np.zeros((2, 3, 3), bool)
    with pytest.raises(NotImplementedError) as expected:
        TF.pad(T(x), (1, 1, 1, 1), mode)
    with pytest.raises(NotImplementedError) as got:
        F.pad(E(x), (1, 1, 1, 1), mode)
    assert str(got.value) == str(expected.value)


def test_pad_input_type_and_tensor_amounts():
    with pytest.raises(TypeError, match="argument 'input'"):
        F.pad([1.0, 2.0], (1, 1))
    x = rand(2, 3)
    check(lambda t: F.pad(t, (ember.tensor(1), 2)), lambda t: TF.pad(t, (1, 2)), x)
    check(lambda t: F.pad(t, (1, 2), value=ember.tensor(3.0)),
          lambda t: TF.pad(t, (1, 2), value=3.0), x)


def test_constant_pad_nd():
    x = rand(2, 3, seed=7)
    check(lambda t: ember.ops.padding.constant_pad_nd(t, (1, -1, 2, 0), 1.5),
          lambda t: torch.constant_pad_nd(t, (1, -1, 2, 0), 1.5), x)


def test_pad_backward_after_inplace_is_unaffected():
    """Padding saves no arrays: changing its input in place afterwards leaves the gradient
    right (torch, which saves the input of reflection padding, raises instead)."""
    x = ember.tensor(rand(2, 3), requires_grad=True)
    y = x * 1
    out = F.pad(y, (1, 1), 'reflect')
    y.mul_(2)
    out.sum().backward()
    np.testing.assert_array_equal(to_np(x.grad), [[1, 3, 1], [1, 3, 1]])


# ---- modules ---------------------------------------------------------------------------
LAYERS = [
    ('ConstantPad1d', (2, 1.5), [(3, 4), (2, 3, 4)]),
    ('ConstantPad1d', ((1, -1), -2), [(2, 3, 4)]),
    ('ConstantPad2d', ((1, 0, 2, 3), 0.5), [(2, 3, 4), (2, 2, 3, 4)]),
    ('ConstantPad3d', (1, 3), [(2, 3, 4, 2), (1, 2, 3, 4, 2)]),
    ('ZeroPad1d', ((0, 3),), [(3, 4), (2, 3, 4)]),
    ('ZeroPad2d', ((1, 1, 2, 0),), [(2, 3, 4), (2, 2, 3, 4)]),
    ('ZeroPad3d', (1,), [(2, 3, 4, 2), (1, 2, 3, 4, 2)]),
    ('ReflectionPad1d', (2,), [(3, 4), (2, 3, 4)]),
    ('ReflectionPad2d', ((1, 1, 2, 0),), [(2, 3, 4), (2, 2, 3, 4)]),
    ('ReflectionPad3d', ((1, 0, 1, 2, 0, 1),), [(2, 3, 4, 2), (1, 2, 3, 4, 2)]),
    ('ReplicationPad1d', ((3, 1),), [(3, 4), (2, 3, 4)]),
    ('ReplicationPad2d', (2,), [(2, 3, 4), (2, 2, 3, 4)]),
    ('ReplicationPad3d', ((1, 2, 0, 1, 2, 1),), [(2, 3, 4, 2), (1, 2, 3, 4, 2)]),
    ('CircularPad1d', ((3, 1),), [(3, 4), (2, 3, 4)]),
    ('CircularPad2d', ((1, 1, 2, 0),), [(2, 3, 4), (2, 2, 3, 4)]),
    ('CircularPad3d', (1,), [(2, 3, 4, 2), (1, 2, 3, 4, 2)]),
]


@pytest.mark.parametrize('name,args,shapes', LAYERS)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_layers(name, args, shapes, dtype):
    for shape in shapes:
        check_module(lambda L: getattr(L.nn, name)(*args), [rand(*shape, seed=8)], dtype=dtype)


@pytest.mark.parametrize('make', [
    lambda L: L.nn.ReflectionPad2d([1, 1, 2, 0]),
    lambda L: L.nn.ZeroPad2d((1, 1, 2, 0)),
    lambda L: L.nn.ConstantPad3d(1, -1),
    lambda L: L.nn.ConstantPad1d((1, 2), value=True),
    lambda L: L.nn.CircularPad1d(-1),
    lambda L: L.nn.ReplicationPad3d((1, 2, 3, 4, 5, 6)),
])
def test_layer_repr_and_attributes(make):
    e, t = make(ember), make(torch)
    assert repr(e) == repr(t)
    assert e.padding == t.padding
    assert getattr(e, 'value', None) == getattr(t, 'value', None)
    assert not e.state_dict() and not list(e.parameters())


@pytest.mark.parametrize('name,bad', [('CircularPad1d', (3,)), ('CircularPad2d', (2, 3)),
                                      ('CircularPad3d', (1, 2, 3, 4, 5, 6))])
def test_circular_layer_dims(name, bad):
    with pytest.raises(ValueError) as expected:
        getattr(torch.nn, name)(1)(torch.zeros(bad))
    with pytest.raises(ValueError) as got:
        getattr(ember.nn, name)(1)(ember.zeros(bad))
    assert str(got.value) == str(expected.value)


def test_layer_wrong_dims_reflection():
    with pytest.raises(NotImplementedError) as expected:
        torch.nn.ReflectionPad2d(1)(torch.zeros(2, 3))
    with pytest.raises(NotImplementedError) as got:
        ember.nn.ReflectionPad2d(1)(ember.zeros(2, 3))
    assert str(got.value) == str(expected.value)


@pytest.mark.cuda
@pytest.mark.parametrize('mode', MODES)
def test_pad_cuda(mode):
    x = rand(2, 3, 4, 5, seed=9)
    g = rand(2, 3, 7, 8, seed=10)
    e = ember.tensor(x, device='cuda', requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    ye, yt = F.pad(e, (1, 2, 2, 1), mode), TF.pad(t, (1, 2, 2, 1), mode)
    ye.backward(ember.tensor(g, device='cuda'))
    yt.backward(torch.tensor(g))
    assert ye.device.type == 'cuda' and e.grad.device.type == 'cuda'
    np.testing.assert_allclose(to_np(ye), to_np(yt), rtol=1e-6)
    np.testing.assert_allclose(to_np(e.grad), to_np(t.grad), rtol=1e-6)
