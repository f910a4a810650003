"""Tensor core: attributes, conversions, legacy constructors, .data, pickling, DLPack, devices."""
import copy
import pickle

import numpy as np
import pytest
import torch

import ember
from tests.conftest import DEVICE
from tests.helpers import E, T, assert_close, rand


def test_attributes():
    a = rand(2, 3, 4)
    x, t = E(a), T(a)
    assert x.shape == t.shape and tuple(x.size()) == (2, 3, 4) and x.size(-1) == 4
    assert repr(x.shape) == 'ember.Size([2, 3, 4])' and isinstance(x.shape, tuple)
    assert x.shape[1:] == ember.Size([3, 4]) and repr(x.shape[1:]) == 'ember.Size([3, 4])'
    assert x.shape.numel() == 24 and x.numel() == 24 == x.nelement()
    assert x.dim() == x.ndim == 3 and x.ndimension() == 3
    assert x.dtype is ember.float32 and x.element_size() == 4 and x.itemsize == 4
    assert x.nbytes == 96
    assert x.is_floating_point() and x.is_contiguous() and x.stride() == t.stride()
    assert x.device == ember.device(DEVICE) and str(x.device) == DEVICE
    assert x.is_leaf and x.grad is None and x.grad_fn is None and not x.requires_grad
    with pytest.raises(IndexError, match=r'Dimension out of range \(expected to be in range of '
                                         r'\[-3, 2\], but got 3\)'):
        x.size(3)


def test_dtype_objects():
    assert repr(ember.float32) == 'ember.float32'
    assert ember.float is ember.float32 and ember.double is ember.float64
    assert ember.long is ember.int64 and ember.half is ember.float16
    assert ember.float32.is_floating_point and not ember.int64.is_floating_point
    assert ember.int8.is_signed and not ember.uint8.is_signed and ember.float64.itemsize == 8
    assert pickle.loads(pickle.dumps(ember.float64)) is ember.float64
    assert ember.promote_types(ember.int32, ember.float16) is ember.float16
    assert ember.result_type(E(np.array([1, 2])), 1.5) is ember.float32
    assert ember.finfo(ember.float32).eps == torch.finfo(torch.float32).eps
    assert ember.finfo().max == torch.finfo().max
    assert ember.iinfo(ember.int16).max == 32767 and ember.iinfo(ember.uint8).min == 0


def test_default_dtype():
    assert ember.get_default_dtype() is ember.float32
    ember.set_default_dtype(ember.float64)
    assert ember.tensor([1.5]).dtype is ember.float64
    assert ember.zeros(2).dtype is ember.float64
    assert (E(np.array([1, 2])) * 0.5).dtype is ember.float64
    ember.set_default_dtype(ember.float32)
    with pytest.raises(TypeError, match='only floating-point types are supported as the default type'):
        ember.set_default_dtype(ember.int64)


def test_conversions():
    x = E(np.array([[1.5, -2.5]], np.float32))
    assert x.float().dtype is ember.float32 and x.double().dtype is ember.float64
    assert x.half().dtype is ember.float16 and x.long().tolist() == [[1, -2]]
    assert x.int().dtype is ember.int32 and x.bool().tolist() == [[True, True]]
    assert x.short().dtype is ember.int16 and x.char().dtype is ember.int8
    assert x.byte().dtype is ember.uint8
    assert x.to(ember.float64).dtype is ember.float64 and x.to(ember.float32) is x
    assert x.to(E(np.array([1]))).dtype is ember.int64
    assert x.type_as(E(np.array([1], np.int32))).dtype is ember.int32
    assert x.to('cpu', ember.float64).dtype is ember.float64 if DEVICE == 'cpu' else True
    assert x.to(dtype=ember.float16, copy=True).dtype is ember.float16
    y = x.to(ember.float32, copy=True)
    assert y is not x and y.tolist() == x.tolist()
    assert x.type() == ('ember.FloatTensor' if DEVICE == 'cpu' else 'ember.cuda.FloatTensor')
    assert x.type(ember.float64).dtype is ember.float64
    assert x.type('torch.LongTensor').dtype is ember.int64
    assert x.type(ember.LongTensor).dtype is ember.int64


def test_cast_is_differentiable():
    x = E(rand(3), True)
    y = x.double()
    assert y.grad_fn.name() == 'ToCopyBackward0'
    (y * y).backward(ember.ones(3, dtype=ember.float64))
    assert x.grad.dtype is ember.float32
    assert_close(x.grad, T(2 * x.detach().cpu().numpy()))


def test_python_conversions_and_errors():
    s = E(np.array(2.5))
    assert s.item() == 2.5 and float(s) == 2.5 and int(s) == 2 and bool(s)
    assert f'{s:.3f}' == '2.500'
    assert E(np.array([7])).__index__() == 7 and [10, 20, 30][E(np.array(1))] == 20
    v = E(rand(3))
    with pytest.raises(RuntimeError, match='a Tensor with 3 elements cannot be converted to Scalar'):
        v.item()
    with pytest.raises(RuntimeError, match='Boolean value of Tensor with more than one value is ambiguous'):
        bool(v)
    with pytest.raises(RuntimeError, match='Boolean value of Tensor with no values is ambiguous'):
        bool(E(np.zeros(0)))
    with pytest.raises(ValueError, match='only one element tensors can be converted to Python scalars'):
        float(v)
    with pytest.raises(TypeError, match='only integer tensors of a single element can be converted to an index'):
        v.__index__()
    with pytest.raises(TypeError, match='len\\(\\) of a 0-d tensor'):
        len(s)
    with pytest.raises(TypeError, match='iteration over a 0-d tensor'):
        iter(s)
    assert len(E(rand(4, 2))) == 4
    assert [r.tolist() for r in E(np.array([[1, 2], [3, 4]]))] == [[1, 2], [3, 4]]
    assert E(np.array([[1, 2]])).tolist() == [[1, 2]]


def test_numpy_interop():
    if DEVICE != 'cpu':
        pytest.skip('numpy() shares memory on the CPU only')
    a = rand(3)
    x = ember.from_numpy(a)
    a[0] = 100.0
    assert x[0].item() == 100.0
    assert x.numpy() is a
    g = E(rand(3), True)
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad. "
                                           "Use tensor.detach\\(\\).numpy\\(\\) instead."):
        g.numpy()
    assert g.detach().numpy().shape == (3,)
    assert np.asarray(x) is a
    np.testing.assert_array_equal(g.numpy(force=True), g.detach().numpy())
    with pytest.raises(TypeError, match='expected np.ndarray'):
        ember.from_numpy([1, 2])


def test_legacy_constructors():
    x = ember.Tensor(2, 3)
    assert x.shape == (2, 3) and x.dtype is ember.float32
    y = ember.Tensor([1, 0, 1])
    assert y.dtype is ember.float32 and y.tolist() == [1.0, 0.0, 1.0]
    assert ember.Tensor().shape == (0,)
    z = ember.FloatTensor([[1, 2]])
    assert z.dtype is ember.float32 and isinstance(z, ember.FloatTensor)
    assert isinstance(z, ember.Tensor) and not isinstance(z, ember.LongTensor)
    w = ember.LongTensor([1, 2, 3])
    assert w.dtype is ember.int64 and isinstance(w, ember.LongTensor)
    assert ember.LongTensor(4).shape == (4,)
    assert ember.DoubleTensor(2, 2).dtype is ember.float64
    assert ember.ByteTensor([1, 2]).dtype is ember.uint8
    assert ember.BoolTensor([True]).dtype is ember.bool
    assert ember.IntTensor([1]).dtype is ember.int32


def test_data_assignment_and_init_through_data():
    w = E(rand(2, 3), True)
    kernel = E(np.arange(6, dtype=np.float32))
    w.data = kernel.view(2, 3)
    assert w.requires_grad and w.is_leaf and w.tolist() == [[0, 1, 2], [3, 4, 5]]
    w.data.mul_(2)  # in place through .data is allowed on a leaf requiring grad
    assert w.tolist() == [[0, 2, 4], [6, 8, 10]] and w._version == 0
    d = w.data
    assert not d.requires_grad and d.is_leaf
    w.data = ember.zeros(5)
    assert w.shape == (5,)


def test_new_constructors():
    x = E(rand(2, dtype=np.float64))
    for t, shape in ((x.new_zeros(3), (3,)), (x.new_ones((2, 2)), (2, 2)),
                     (x.new_empty(1, 4), (1, 4)), (x.new_full((2,), 7.0), (2,)),
                     (x.new_tensor([1.0, 2.0]), (2,))):
        assert t.shape == shape and t.dtype is ember.float64 and t.device == x.device
    assert x.new_full((2,), 7.0).tolist() == [7.0, 7.0]
    assert x.new_zeros(2, dtype=ember.int32).dtype is ember.int32


def test_pickle_and_deepcopy():
    x = E(rand(2, 3), True)
    y = pickle.loads(pickle.dumps(x))
    assert y.requires_grad and y.tolist() == x.tolist() and y.device == x.device
    x.grad = ember.ones(2, 3)
    z = copy.deepcopy(x)
    assert z.requires_grad and z.grad.tolist() == x.grad.tolist() and z is not x
    with ember.no_grad():
        z.add_(1)
    assert z.tolist() != x.tolist()
    with pytest.raises(RuntimeError, match='Only Tensors created explicitly by the user'):
        copy.deepcopy(x * 2)


def test_dlpack_roundtrip_with_torch():
    if DEVICE != 'cpu':
        pytest.skip('torch here is CPU-only')
    a = rand(3, 4)
    x = ember.from_numpy(a)
    t = torch.from_dlpack(x)
    assert t.shape == (3, 4)
    t[0, 0] = 42.0
    assert a[0, 0] == 42.0  # shared memory
    back = ember.from_dlpack(torch.arange(6.0))
    assert back.tolist() == [0, 1, 2, 3, 4, 5] and back.dtype is ember.float32
    assert x.__dlpack_device__()[0] == 1
    with pytest.raises(RuntimeError, match="Can't export tensors that require gradient"):
        E(rand(2), True).__dlpack__()


def test_device_objects():
    d = ember.device('cuda:1')
    assert d.type == 'cuda' and d.index == 1 and str(d) == 'cuda:1'
    assert repr(d) == "device(type='cuda', index=1)"
    assert repr(ember.device('cpu')) == "device(type='cpu')"
    assert ember.device('cuda', 0) == 'cuda:0' and ember.device(0) == ember.device('cuda:0')
    assert hash(ember.device('cpu')) == hash(ember.device('cpu'))
    with pytest.raises(RuntimeError, match='Expected one of cpu, cuda'):
        ember.device('tpu')
    assert ember.tensor([1.0]).device == 'cpu'


def test_cuda_unavailable_is_clear():
    if ember.cuda.is_available():
        pytest.skip('a GPU is present')
    assert ember.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match='CUDA is not available'):
        ember.zeros(2, device='cuda')
    with pytest.raises(RuntimeError, match='CUDA is not available'):
        ember.tensor([1.0]).cuda()


@pytest.mark.cuda
def test_cuda_roundtrip_and_grad():
    a = rand(3, 4)
    x = ember.tensor(a, requires_grad=True)
    y = x.cuda()
    assert y.is_cuda and y.device == ember.device('cuda', 0) and y.grad_fn.name() == 'ToCopyBackward0'
    z = (y * y).cpu()
    z.backward(ember.ones(3, 4))
    np.testing.assert_allclose(x.grad.numpy(), 2 * a, rtol=1e-6)
    with pytest.raises(RuntimeError, match='Expected all tensors to be on the same device'):
        y + ember.tensor(a)
    assert (y + ember.tensor(2.0)).is_cuda  # 0-d CPU tensors mix like scalars
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        y.detach().numpy()
    ember.cuda.synchronize()
    assert ember.cuda.device_count() >= 1
