"""Factories: tensor, as_tensor, zeros/ones/full/empty(_like), arange, linspace, logspace, eye."""
import numpy as np
import pytest
import torch

import ember
from tests.conftest import DEVICE
from tests.helpers import E, T, assert_close, rand

DATA = [1.5, 2, [1, 2, 3], [1.0, 2, 3], [[1, 2], [3, 4]], [True, False], [[True], [False]],
        [[1.5, 2.5], [3.5, 4.5]], [], [[]], 3, True, [[1, 2.5]], [0.1, 1e-8, 1e10]]


@pytest.mark.parametrize('data', DATA, ids=range(len(DATA)))
def test_tensor_from_python_data(data):
    assert_close(ember.tensor(data), torch.tensor(data))


@pytest.mark.parametrize('np_dtype', [np.float16, np.float32, np.float64, np.int8, np.int16,
                                      np.int32, np.int64, np.uint8, np.bool_])
def test_tensor_from_numpy_keeps_dtype(np_dtype):
    a = (rand(2, 3) * 3).astype(np_dtype)
    assert_close(ember.tensor(a), torch.tensor(a))
    e = ember.tensor(a)
    a.flat[0] = 1  # copied, not shared
    assert e.numpy().flat[0] != 1 or a.flat[0] == e.numpy().flat[0]


def test_tensor_keywords_and_copies():
    x = ember.tensor([1, 2], dtype=ember.float64, requires_grad=True, device=DEVICE)
    assert x.dtype is ember.float64 and x.requires_grad and x.is_leaf
    y = ember.tensor(x)
    assert not y.requires_grad and y.tolist() == [1.0, 2.0]
    with ember.no_grad():
        y.add_(1)
    assert x.tolist() == [1.0, 2.0]
    assert ember.tensor([ember.tensor(1.0), ember.tensor(2.0)]).tolist() == [1.0, 2.0]
    assert ember.tensor(np.float32(2.5)).dtype is ember.float32
    assert ember.tensor(np.int64(3)).shape == ()
    with pytest.raises(RuntimeError, match='only Tensors of floating point dtype can require gradients'):
        ember.tensor([1, 2], requires_grad=True)


def test_tensor_bad_data():
    with pytest.raises(ValueError, match=r'expected sequence of length 2 at dim 1 \(got 3\)'):
        ember.tensor([[1, 2], [3, 4, 5]])
    with pytest.raises(TypeError, match="new\\(\\): invalid data type 'str'"):
        ember.tensor('abc')
    with pytest.raises(TypeError):
        ember.from_numpy(np.array([1 + 2j]))


def test_as_tensor_shares_memory():
    a = rand(3)
    x = ember.as_tensor(a)
    a[0] = 7.0
    assert x.numpy()[0] == 7.0
    y = ember.tensor([1.0, 2.0])
    assert ember.as_tensor(y) is y
    assert ember.as_tensor(y, dtype=ember.float64).dtype is ember.float64
    assert ember.asarray([1, 2]).dtype is ember.int64


@pytest.mark.parametrize('fn', ['zeros', 'ones', 'empty'])
@pytest.mark.parametrize('size', [(2, 3), ((2, 3),), ([4],), (0,), ((),)])
def test_fill_factories(fn, size):
    e = getattr(ember, fn)(*size)
    t = getattr(torch, fn)(*size)
    assert e.shape == t.shape and e.dtype is ember.float32
    if fn != 'empty':
        assert_close(e, t)
    e64 = getattr(ember, fn)(*size, dtype=ember.float64, requires_grad=True)
    assert e64.dtype is ember.float64 and e64.requires_grad


def test_full_and_likes():
    assert_close(ember.full((2, 3), 7), torch.full((2, 3), 7))
    assert_close(ember.full((2,), 1.5), torch.full((2,), 1.5))
    assert_close(ember.full((2,), True), torch.full((2,), True))
    assert_close(ember.full((2,), 3, dtype=ember.float64), torch.full((2,), 3, dtype=torch.float64))
    x = E(rand(2, 3, dtype=np.float64))
    for fn, tf, args in ((ember.zeros_like, torch.zeros_like, ()),
                         (ember.ones_like, torch.ones_like, ()),
                         (ember.full_like, torch.full_like, (4.5,))):
        e = fn(x, *args)
        assert e.shape == (2, 3) and e.dtype is ember.float64 and e.device == x.device
        assert_close(e, tf(T(x.cpu().numpy()), *args))
    assert ember.empty_like(x).shape == (2, 3)
    assert ember.zeros_like(x, dtype=ember.int32).dtype is ember.int32
    assert ember.ones_like(x, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match='Trying to create tensor with negative dimension -1'):
        ember.zeros(2, -1)
    with pytest.raises(TypeError, match='size must be a tuple of ints'):
        ember.zeros(2.5)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'size'"):
        ember.ones()


@pytest.mark.parametrize('args,kwargs', [
    ((5,), {}), ((2, 7), {}), ((0, 1, 0.1), {}), ((1, 2.5, 0.5), {}), ((10, 0, -3), {}),
    ((5,), {'dtype': ember.float64}), ((0, 1, 0.3), {'dtype': ember.float64}), ((-3, 3), {}),
    ((0.5, 3), {}), ((3,), {'dtype': ember.int32}), ((0,), {}), ((1, 10, 3.0), {}),
])
def test_arange(args, kwargs):
    tk = {k: getattr(torch, str(v).split('.')[-1]) for k, v in kwargs.items()}
    assert_close(ember.arange(*args, **kwargs), torch.arange(*args, **tk))


def test_arange_errors():
    with pytest.raises(RuntimeError, match='step must be nonzero'):
        ember.arange(0, 5, 0)
    with pytest.raises(RuntimeError, match='upper bound and larger bound inconsistent with step sign'):
        ember.arange(0, 5, -1)


@pytest.mark.parametrize('args', [(0, 1, 5), (-2, 3, 11), (1, 1, 3), (0, 1, 1), (0, 1, 0),
                                  (3.5, -1.25, 7), (0, 10, 100)])
def test_linspace_logspace(args):
    assert_close(ember.linspace(*args), torch.linspace(*args), rtol=1e-6, atol=1e-6)
    assert_close(ember.linspace(*args, dtype=ember.float64), torch.linspace(*args, dtype=torch.float64))
    assert_close(ember.logspace(*args), torch.logspace(*args), rtol=1e-5)
    assert_close(ember.logspace(*args, base=2), torch.logspace(*args, base=2), rtol=1e-5)


def test_eye():
    assert_close(ember.eye(3), torch.eye(3))
    assert_close(ember.eye(2, 4), torch.eye(2, 4))
    assert_close(ember.eye(3, dtype=ember.int64), torch.eye(3, dtype=torch.int64))


def test_out_keyword():
    out = ember.empty(0)
    ember.zeros(2, 2, out=out)
    assert out.shape == (2, 2) and out.tolist() == [[0, 0], [0, 0]]
    ember.arange(3, out=out)
    assert out.tolist() == [0.0, 1.0, 2.0] and out.dtype is ember.float32


def test_requested_float_dtype_is_not_rounded_twice():
    assert_close(ember.tensor([1e100, 1e-4], dtype=ember.float64),
                 torch.tensor([1e100, 1e-4], dtype=torch.float64))
    assert repr(ember.tensor([1e-4, 1e-3], dtype=ember.float64)) == repr(
        torch.tensor([1e-4, 1e-3], dtype=torch.float64)).replace('torch.', 'ember.')
