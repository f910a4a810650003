"""ember.cuda: GPU availability and control through CuPy."""
from ._backend import cupy, require_cupy

__all__ = ['is_available', 'device_count', 'current_device', 'set_device', 'synchronize',
           'manual_seed', 'manual_seed_all', 'get_device_name', 'empty_cache']


def is_available():
    """True when CuPy is installed and sees at least one NVIDIA GPU."""
    return cupy() is not None


def device_count():
    cp = cupy()
    return 0 if cp is None else cp.cuda.runtime.getDeviceCount()


def current_device():
    return require_cupy().cuda.runtime.getDevice()


def set_device(device):
    from ._backend import canonical_device
    d = canonical_device(device) if not isinstance(device, int) else None
    idx = device if isinstance(device, int) else (d.index or 0)
    require_cupy().cuda.Device(idx).use()


def synchronize(device=None):
    """Wait for all GPU work on the current device to finish."""
    cp = require_cupy()
    cp.cuda.runtime.deviceSynchronize()


def get_device_name(device=None):
    cp = require_cupy()
    idx = 0 if device is None else (device if isinstance(device, int) else device.index or 0)
    props = cp.cuda.runtime.getDeviceProperties(idx)
    name = props['name']
    return name.decode() if isinstance(name, bytes) else name


def empty_cache():
    cp = cupy()
    if cp is not None:
        cp.get_default_memory_pool().free_all_blocks()


def manual_seed(seed):
    """Seed the generator of the current GPU."""
    from ._random import cuda_generator
    if is_available():
        cuda_generator().manual_seed(seed)


def manual_seed_all(seed):
    from ._random import cuda_generator
    for i in range(device_count()):
        cuda_generator(i).manual_seed(seed)
