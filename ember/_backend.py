"""Array modules and devices: NumPy on 'cpu', CuPy on 'cuda'.

Ops never choose a module by a flag: ``xp_of(array)`` reads it off the arrays themselves, so
one code path serves both devices.
"""
import numpy as np

__all__ = ['device']

_cupy = None
_cupy_checked = False


def cupy():
    """The cupy module, or None when CuPy or a GPU is missing."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy as cp
            if cp.cuda.runtime.getDeviceCount() > 0:
                _cupy = cp
        except Exception:
            _cupy = None
    return _cupy


def xp_of(a):
    """numpy for NumPy arrays, cupy for CuPy arrays."""
    if a.__class__ is np.ndarray:
        return np
    return _cupy if is_cuda_array(a) else np


def is_cuda_array(a):
    """True for CuPy arrays (CuPy is imported the first time a non-NumPy array is seen)."""
    if a.__class__ is np.ndarray:
        return False
    cp = _cupy if _cupy_checked else cupy()
    return cp is not None and isinstance(a, cp.ndarray)


class device:
    """A device: ``device('cpu')``, ``device('cuda')``, ``device('cuda:1')``, ``device('cuda', 1)``."""
    __slots__ = ('type', 'index', '_ctx')

    def __init__(self, type, index=None):
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            type, index = 'cuda', type
        if not isinstance(type, str):
            raise TypeError(f'device() received an invalid combination of arguments: {type!r}')
        if ':' in type:
            if index is not None:
                raise RuntimeError(f'type (string) must not include an index because index was '
                                   f'passed explicitly: {type}')
            type, _, idx = type.partition(':')
            try:
                index = int(idx)
            except ValueError:
                raise RuntimeError(f'Invalid device string: {type}:{idx!r}') from None
        if type not in ('cpu', 'cuda', 'meta'):
            raise RuntimeError('Expected one of cpu, cuda, meta device type at start of device '
                               f'string: {type}')
        if index is not None and index < 0:
            raise RuntimeError(f'Device index must not be negative, got {index}')
        self.type = type
        self.index = index

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f'{self.type}:{self.index}'

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))

    def __enter__(self):
        if self.type == 'cuda':
            cp = require_cupy()
            self._ctx = cp.cuda.Device(self.index or 0)
            self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        if self.type == 'cuda':
            self._ctx.__exit__(*exc)


CPU = device('cpu')
_cuda_devices = {}


def device_of(a):
    """The ember device holding array ``a``."""
    if a.__class__ is np.ndarray:
        return CPU
    idx = a.device.id
    d = _cuda_devices.get(idx)
    if d is None:
        d = _cuda_devices[idx] = device('cuda', idx)
    return d


def require_cupy():
    cp = cupy()
    if cp is None:
        raise RuntimeError("CUDA is not available: ember needs CuPy and an NVIDIA GPU for "
                           "device 'cuda' (pip install 'ember[cuda]')")
    return cp


def canonical_device(d):
    """An ember device from a string, int, device or None (None stays None)."""
    if d is None or d.__class__ is device:
        return d
    return device(d)


def xp_for(d):
    """The array module for an ember device (or device string)."""
    if d is None:
        return np
    d = canonical_device(d)
    if d.type == 'cpu':
        return np
    if d.type == 'cuda':
        return require_cupy()
    raise RuntimeError(f'ember cannot allocate tensors on device {d}')


def to_device_array(a, d):
    """Array ``a`` moved to device ``d`` (a no-op when already there)."""
    d = canonical_device(d)
    if d.type == 'cpu':
        if a.__class__ is np.ndarray:
            return a
        return a.get()
    if d.type == 'cuda':
        cp = require_cupy()
        idx = d.index if d.index is not None else cp.cuda.runtime.getDevice()
        if isinstance(a, cp.ndarray) and a.device.id == idx:
            return a
        with cp.cuda.Device(idx):
            return cp.asarray(a)
    raise RuntimeError(f'ember cannot move tensors to device {d}')
