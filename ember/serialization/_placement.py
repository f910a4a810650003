"""From loaded host storages to tensors: placing storages on devices (``map_location``) and
viewing them with a tensor's shape, strides and offset (checked against the storage)."""
import numpy as np

from .._backend import cupy, device as _device, to_device_array
from .._tensor import Tensor, _wrap
from ..nn.parameter import Parameter
from ._errors import CheckpointError, _Passthrough


class _Placement:
    """Applies ``map_location`` to a host storage array saved at ``location``."""

    def __init__(self, map_location):
        ml = map_location
        if isinstance(ml, (str, _device, int)) and not isinstance(ml, bool):
            ml = str(_device(ml))
        elif not (ml is None or isinstance(ml, dict) or callable(ml)):
            raise TypeError(f'map_location should be a str, ember.device, dict or callable, '
                            f'got {type(map_location).__name__}')
        self.map_location = ml

    def __call__(self, array, location):
        ml = self.map_location
        if ml is None:
            return _restore(array, location)
        if isinstance(ml, str):
            return _restore(array, ml)
        if isinstance(ml, dict):
            return _restore(array, str(ml.get(location, location)))
        try:   # the caller's own code: its errors reach the caller unchanged
            result = ml(_wrap(array), location)
        except Exception as e:
            raise _Passthrough(e) from e
        if result is None:
            return _restore(array, location)
        if isinstance(result, Tensor):
            return result._data
        if isinstance(result, np.ndarray) or hasattr(result, 'device'):
            return result
        raise _Passthrough(TypeError(
            f'map_location callable returned {type(result).__name__}; expected an ember tensor '
            '(the storage, possibly moved) or None'))


def _restore(array, location):
    """``array`` (host) on device ``location`` ('cpu', 'cuda', 'cuda:1', ...)."""
    kind, _, index = str(location).partition(':')
    if kind == 'cpu':
        return array
    if kind != 'cuda':
        raise RuntimeError(f"ember cannot restore tensors saved on device '{location}'; pass "
                           "map_location='cpu' to ember.load")
    cp = cupy()
    if cp is None:
        raise RuntimeError('Attempting to deserialize object on a CUDA device but '
                           'ember.cuda.is_available() is False. If you are running on a CPU-only '
                           'machine, please use ember.load with '
                           "map_location=ember.device('cpu') to map your storages to the CPU.")
    if index:
        count = cp.cuda.runtime.getDeviceCount()
        if int(index) >= count:
            raise RuntimeError(f'Attempting to deserialize object on CUDA device {index} but '
                               f'ember.cuda.device_count() is {count}. Please use ember.load '
                               'with map_location to map your storages to an existing device.')
    return to_device_array(array, location)


def _strided(storage, np_dtype, shape, stride, offset):
    """A view of 1-D ``storage``'s bytes as an array of ``np_dtype`` with element
    ``shape``/``stride`` starting ``offset`` elements in; checked against the storage size."""
    shape = [_as_index(n) for n in shape]
    stride = [_as_index(s, signed=True) for s in stride]
    offset = _as_index(offset)
    if len(shape) != len(stride):
        raise CheckpointError(f'invalid tensor geometry: size {shape}, stride {stride}')
    item = np_dtype.itemsize
    if 0 in shape:
        return _empty_like_storage(storage, shape, np_dtype)
    lo = offset + sum(min(0, (n - 1) * s) for n, s in zip(shape, stride))
    hi = offset + sum(max(0, (n - 1) * s) for n, s in zip(shape, stride)) + 1
    if lo < 0 or hi * item > storage.nbytes:
        raise CheckpointError(f'tensor of size {shape}, stride {stride} and offset {offset} lies '
                              f'outside its storage of {storage.nbytes} bytes')
    byte_strides = tuple(s * item for s in stride)
    if isinstance(storage, np.ndarray):
        return np.ndarray(tuple(shape), np_dtype, buffer=storage, offset=offset * item,
                          strides=byte_strides)
    return type(storage)(tuple(shape), np_dtype, memptr=storage.data + offset * item,
                         strides=byte_strides)


def _empty_like_storage(storage, shape, np_dtype):
    if isinstance(storage, np.ndarray):
        return np.empty(tuple(shape), np_dtype)
    with storage.device:
        return type(storage)(tuple(shape), np_dtype)


def _as_index(x, signed=False):
    if type(x) is not int or (x < 0 and not signed):
        raise CheckpointError(f'invalid tensor geometry value {x!r}')
    return x


def _make_tensor(array, kind, requires_grad):
    requires_grad = bool(requires_grad)
    if requires_grad and array.dtype.kind != 'f':
        raise CheckpointError(f'a {array.dtype} tensor cannot require grad')
    t = _wrap(array, requires_grad)
    if kind == 'parameter':
        return Parameter(t, requires_grad)
    return t
