"""Reading files written by ``torch.save`` without importing torch: the zip format (PyTorch
>= 1.6) and the legacy pickle stream, through a restricted unpickler whose only globals are
those in ``_TORCH_GLOBALS`` (tensor-rebuilding functions, storages, ``torch.Size``, dtypes,
devices and plain containers)."""
import codecs
import io
import pickle
import warnings
import zipfile
from collections import OrderedDict

import numpy as np

from .. import _dtype
from .._backend import device as _device
from .._tensor import Tensor, Size
from ..nn.parameter import Parameter
from ._errors import (CheckpointError, _WeightsOnlyError, _weights_only_message, _DAMAGE,
                      _damaged, _trusted_load)
from ._placement import _as_index, _make_tensor, _strided
from ._read import _member_data_offset, _read_exactly, _unpickler_class

_TORCH_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c


class _TorchStorageType:
    """Stands for ``torch.<X>Storage`` in a PyTorch pickle: the element dtype."""

    def __init__(self, torch_name, np_dtype):
        self.torch_name = torch_name
        self.np = np.dtype(np_dtype)


class _TorchStorage:
    """One storage of a PyTorch checkpoint, as a 1-D array (None during a dry run)."""
    __slots__ = ('array',)

    def __init__(self, array):
        self.array = array


_BFLOAT16 = 'BFloat16Storage'
_STORAGE_TYPES = {
    'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16,
    _BFLOAT16: np.uint16, 'LongStorage': np.int64, 'IntStorage': np.int32,
    'ShortStorage': np.int16, 'CharStorage': np.int8, 'ByteStorage': np.uint8,
    'BoolStorage': np.bool_,
}


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False,
                    backward_hooks=None, metadata=None):
    if not isinstance(storage, _TorchStorage):
        raise pickle.UnpicklingError('tensor rebuilt from something that is not a storage')
    if storage.array is None:
        return None
    array = _strided(storage.array, storage.array.dtype, size, stride, storage_offset)
    return _make_tensor(array, 'tensor', requires_grad)


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    if data is None:
        return None
    if not isinstance(data, Tensor):
        raise pickle.UnpicklingError('parameter rebuilt from something that is not a tensor')
    p = Parameter(data, bool(requires_grad))
    for k, v in (state or {}).items():
        setattr(p, k, v)
    return p


def _rebuild_from_type(func, new_type, args, state):
    t = func(*args)
    if t is None:
        return None
    if new_type is Parameter and not isinstance(t, Parameter):
        t = Parameter(t, t._rg)
    if state:
        if isinstance(t, Parameter):
            for k, v in state.items():
                setattr(t, k, v)
        else:
            warnings.warn('ember.load: dropping Python attributes '
                          f'{sorted(state)} of a PyTorch tensor (ember tensors have none)')
    return t


def _codecs_encode(obj, encoding='utf-8', errors='strict'):
    if encoding not in ('latin1', 'latin-1'):
        raise pickle.UnpicklingError(f'refusing _codecs.encode with encoding {encoding!r}')
    return codecs.encode(obj, encoding, errors)


def _torch_globals():
    """(module, name) -> object for every global a PyTorch tensor checkpoint may use."""
    table = {
        ('collections', 'OrderedDict'): OrderedDict,
        ('builtins', 'set'): set, ('builtins', 'frozenset'): frozenset,
        ('builtins', 'bytearray'): bytearray, ('builtins', 'slice'): slice,
        ('builtins', 'complex'): complex, ('_codecs', 'encode'): _codecs_encode,
        ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
        ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
        ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
        ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
        ('torch._tensor', '_rebuild_from_type_v2'): _rebuild_from_type,
        ('torch', 'Tensor'): Tensor, ('torch.nn.parameter', 'Parameter'): Parameter,
        ('torch', 'Size'): Size, ('torch', 'device'): _device,
    }
    for name, np_dtype in _STORAGE_TYPES.items():
        table[('torch', name)] = _TorchStorageType(name, np_dtype)
    for name in ('float16', 'half', 'float32', 'float', 'float64', 'double', 'int8', 'int16',
                 'short', 'int32', 'int', 'int64', 'long', 'uint8', 'bool'):
        table[('torch', name)] = getattr(_dtype, name)
    return table


_TORCH_GLOBALS = _torch_globals()
_PY2_MODULES = {'__builtin__': 'builtins', 'copy_reg': 'copyreg'}


class _TorchReader:
    """Unpickles a PyTorch pickle with storages supplied by ``load_storage``."""

    def __init__(self, name, opts, load_storage):
        self.name = name
        self.opts = opts
        self.load_storage = load_storage
        self.storages = {}

    def find_class(self, unpickler, module, name):
        full = _PY2_MODULES.get(module, module)
        obj = _TORCH_GLOBALS.get((full, name))
        if obj is not None:
            return obj
        if full == 'torch' or full.startswith('torch.'):
            raise _WeightsOnlyError(_torch_refusal(self.name, full, name))
        if self.opts.weights_only:
            raise _WeightsOnlyError(_weights_only_message(f'{full}.{name}'))
        return self.base.find_class(unpickler, module, name)

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == 'storage'):
            raise pickle.UnpicklingError(f'unknown persistent id {pid!r:.80}')
        stype, key, location, numel = pid[1:5]
        if not isinstance(stype, _TorchStorageType):
            raise pickle.UnpicklingError(f'unsupported storage type {stype!r}')
        if len(pid) > 5 and pid[5] is not None:
            raise CheckpointError(f"ember.load: '{self.name}' holds storage views from a very old "
                                  'PyTorch, which ember does not read')
        storage = self.storages.get(key)
        if storage is None:
            try:
                array = self.load_storage(stype, str(key), str(location), _as_index(numel))
            except _DAMAGE as e:
                raise _damaged(self.name, e) from e
            storage = self.storages[key] = _TorchStorage(array)
        return storage

    def unpickle(self, fh):
        reader = self
        self.base = pickle.Unpickler if self.opts.weights_only else \
            self.opts.pickle_module.Unpickler
        cls = _unpickler_class(self.base, lambda u, mod, name: reader.find_class(u, mod, name),
                               self.persistent_load)
        return _trusted_load(cls(fh, **self.opts.pickle_load_args), self.opts.weights_only)


def _torch_refusal(file_name, module, name):
    """Why a PyTorch global cannot be rebuilt: an unsupported dtype, or not a tensor."""
    if name in ('_rebuild_tensor_v3', 'UntypedStorage') or (
            module == 'torch' and (name.endswith('Storage') or name[:1].islower())):
        return (f"ember.load: '{file_name}' holds a tensor or dtype ember does not have "
                f'({module}.{name}); ember reads float16/32/64, bfloat16 (as float32), '
                'int8/16/32/64, uint8 and bool tensors')
    return (f"ember.load: '{file_name}' uses the PyTorch global {module}.{name}, which ember "
            'cannot rebuild without PyTorch: ember reads tensors, state_dicts and plain '
            'Python values from PyTorch files (save `model.state_dict()` rather than the '
            'model).')


def _typed_storage(raw, stype, big_endian):
    """Host array of storage type ``stype`` from its raw bytes (bfloat16 widened)."""
    dt = stype.np.newbyteorder('>') if big_endian else stype.np
    if raw.nbytes % dt.itemsize:
        raise CheckpointError(f'{stype.torch_name} data of {raw.nbytes} bytes is not a whole '
                              'number of elements')
    a = raw.view(dt)
    if big_endian:
        a = a.astype(stype.np)
    if stype.torch_name == _BFLOAT16:
        _warn_bfloat16()
        a = (a.astype(np.uint32) << 16).view(np.float32)
    return a


def _warn_bfloat16():
    warnings.warn('ember.load: bfloat16 tensors are loaded as float32 (exactly; ember has no '
                  'bfloat16 dtype)', stacklevel=4)


def _load_torch_zip(zf, fh, prefix, name, opts):
    names = set(zf.namelist())
    order = prefix + 'byteorder'
    big = order in names and zf.read(order).strip() == b'big'

    def load_storage(stype, key, location, numel):
        info = zf.getinfo(f'{prefix}data/{key}')
        nbytes = numel * stype.np.itemsize
        if info.file_size != nbytes:
            raise CheckpointError(f'storage {key} holds {info.file_size} bytes, expected {nbytes}')
        if opts.mmap and info.compress_type == zipfile.ZIP_STORED:
            raw = _mmap_raw(opts.path, info, nbytes)
        else:
            raw = np.empty(nbytes, np.uint8)
            with zf.open(info) as member:
                _read_exactly(member, raw, key)
        return opts.placement(_typed_storage(raw, stype, big), location)

    reader = _TorchReader(name, opts, load_storage)
    with zf.open(prefix + 'data.pkl') as data:
        return reader.unpickle(io.BytesIO(data.read()))


def _mmap_raw(path, info, nbytes):
    """A copy-on-write memory map of the raw bytes in stored zip entry ``info``."""
    if nbytes == 0:
        return np.empty(0, np.uint8)
    with open(path, 'rb') as fh:
        start = _member_data_offset(fh, info)
    return np.memmap(path, np.uint8, mode='c', offset=start, shape=(nbytes,))


def _safe_unpickle(fh):
    """A pickle of plain values only (no globals, no persistent ids)."""
    def refuse(*args):
        raise pickle.UnpicklingError('unexpected global or persistent id in a header pickle')
    return _unpickler_class(pickle.Unpickler, refuse, refuse)(fh).load()


def _load_torch_legacy(fh, name, opts):
    """PyTorch's pre-1.6 format: pickles of magic, version, sys info, the object, the storage
    keys, then each storage as an int64 element count and its raw bytes."""
    if _safe_unpickle(fh) != _TORCH_LEGACY_MAGIC:
        raise CheckpointError(f"ember.load: '{name}' has an invalid PyTorch magic number")
    version = _safe_unpickle(fh)
    if version != 1001:
        raise CheckpointError(f"ember.load: '{name}' has unsupported PyTorch protocol {version}")
    info = _safe_unpickle(fh)
    big = not info.get('little_endian', True)
    start = fh.tell()
    types = {}

    def record(stype, key, location, numel):
        types[key] = (stype, location)
        return None

    _TorchReader(name, opts, record).unpickle(fh)   # dry run: learn the storages' types
    keys = _safe_unpickle(fh)
    arrays = {}
    for key in keys:
        stype, location = types[str(key)]
        numel = int.from_bytes(_read_bytes(fh, 8), 'big' if big else 'little', signed=True)
        raw = np.empty(_as_index(numel) * stype.np.itemsize, np.uint8)
        _read_exactly(fh, raw, key)
        arrays[str(key)] = opts.placement(_typed_storage(raw, stype, big), location)
    fh.seek(start)
    return _TorchReader(name, opts, lambda stype, key, loc, numel: arrays[key]).unpickle(fh)


def _read_bytes(fh, n):
    data = fh.read(n)
    if len(data) != n:
        raise EOFError(f'expected {n} bytes, got {len(data)}')
    return data
