"""Reading the ember checkpoint format (``_EmberReader``), and reading zip entries (.npy
storages read or memory-mapped, raw bytes in chunks) and unpicklers shared with the
PyTorch readers."""
import base64
import io
import json
import pickle
import struct
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from .. import _dtype
from .._backend import device as _device
from .._tensor import Size
from ._errors import CheckpointError, _WeightsOnlyError, _weights_only_message, _trusted_load
from ._placement import _as_index, _make_tensor, _strided
from ._write import FORMAT, VERSION, _CHUNK, _NUMPY_KINDS


def _numpy_dtype(s):
    try:
        dt = np.dtype(s)
    except TypeError as e:
        raise CheckpointError(f'invalid NumPy dtype {s!r}') from e
    if dt.kind not in _NUMPY_KINDS:
        raise CheckpointError(f'refusing NumPy dtype {s!r}')
    return dt


class _EmberReader:
    """Rebuilds the object of an ember checkpoint from its manifest and storages."""

    def __init__(self, zf, fh, prefix, name, opts):
        self.zf, self.fh, self.prefix, self.name, self.opts = zf, fh, prefix, name, opts

    def load(self):
        m = json.loads(self.zf.read(self.prefix + 'manifest.json').decode('utf-8'))
        if not isinstance(m, dict) or m.get('format') != FORMAT:
            raise CheckpointError(f"ember.load: '{self.name}' has a manifest.json that is not an "
                                  'ember checkpoint manifest')
        if type(m.get('version')) is not int or m['version'] > VERSION:
            raise CheckpointError(f"ember.load: '{self.name}' was written by a newer ember "
                                  f"(format version {m.get('version')!r}); upgrade ember")
        if m.get('byteorder', 'little') != 'little':
            raise CheckpointError(f"ember.load: '{self.name}' has unsupported byteorder "
                                  f"{m.get('byteorder')!r}")
        pickled = m.get('pickled') or []
        if pickled and self.opts.weights_only:
            raise _WeightsOnlyError(_weights_only_message(pickled[0]))
        self.specs = m['storages']
        self.host = [self.read_storage(s) for s in self.specs]
        self.placed = {}
        self.tensors = [self.tensor(t) for t in m['tensors']]
        self.objects = self.unpickle() if pickled else []
        return self.value(m['object'])

    def read_storage(self, spec):
        """The host array of the storage described by manifest entry ``spec``."""
        dt = _numpy_dtype(spec['dtype'])
        numel = _as_index(spec['numel'])
        info = self.zf.getinfo(self.prefix + spec['file'])
        if numel * dt.itemsize > info.file_size:
            raise CheckpointError(f"storage {spec['file']} declares {numel} elements but its "
                                  f'entry holds {info.file_size} bytes')
        if self._can_mmap(info):
            array = _mmap_npy(self.opts.path, info)
        else:
            array = _read_npy_entry(self.zf, self.fh, info)
        if array.dtype != dt or array.shape != (numel,):
            raise CheckpointError(f"storage {spec['file']} holds {array.dtype} {array.shape}, "
                                  f'the manifest says {dt} ({numel},)')
        return array

    def placed_storage(self, i):
        """Storage ``i`` on the device ``map_location`` chooses (moved once)."""
        if i not in self.placed:
            self.placed[i] = self.opts.placement(self.host[i], str(self.specs[i]['device']))
        return self.placed[i]

    def _can_mmap(self, info):
        return self.opts.mmap and info.compress_type == zipfile.ZIP_STORED

    def tensor(self, spec):
        kind = spec['kind']
        index = _as_index(spec['storage'])
        if kind == 'ndarray':   # NumPy arrays stay NumPy arrays, on the host
            dt = _numpy_dtype(spec['dtype'])
            return _strided(self.host[index], dt, spec['shape'], spec['stride'], spec['offset'])
        if kind not in ('tensor', 'parameter') or spec['dtype'] not in _dtype._NAMES:
            raise CheckpointError(f"unknown tensor kind {kind!r} or dtype {spec['dtype']!r}")
        dt = _dtype._NAMES[spec['dtype']].np
        array = _strided(self.placed_storage(index), dt, spec['shape'], spec['stride'],
                         spec['offset'])
        return _make_tensor(array, kind, spec['requires_grad'])

    def unpickle(self):
        data = self.zf.read(self.prefix + 'objects.pkl')
        tensors = self.tensors

        def persistent_load(pid):
            if not (isinstance(pid, tuple) and len(pid) == 2 and pid[0] == 'tensor'):
                raise pickle.UnpicklingError(f'unknown persistent id {pid!r}')
            return tensors[pid[1]]

        cls = _unpickler_class(self.opts.pickle_module.Unpickler, None, persistent_load)
        return _trusted_load(cls(io.BytesIO(data), **self.opts.pickle_load_args), False)

    def value(self, v):
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list) or not isinstance(v, dict):
            raise CheckpointError(f'unexpected JSON value {v!r:.80} in the manifest')
        tag = v.get('$')
        if tag in ('list', 'tuple', 'set', 'frozenset', 'Size'):
            items = [self.value(x) for x in v['items']]
            return _SEQUENCE_BUILDERS[tag](items)
        if tag in ('dict', 'OrderedDict'):
            out = (dict if tag == 'dict' else OrderedDict)(
                (self.value(k), self.value(x)) for k, x in v['items'])
            for k, x in v.get('attrs', ()):
                if tag != 'OrderedDict' or not isinstance(k, str) or hasattr(OrderedDict, k):
                    raise CheckpointError(f'refusing attribute {k!r} on a {tag}')
                setattr(out, k, self.value(x))
            return out
        if tag == 'tensor':
            return self.tensors[_as_index(v['id'])]
        if tag == 'float':
            if v['value'] not in ('nan', 'inf', '-inf'):
                raise CheckpointError(f"invalid float {v['value']!r}")
            return float(v['value'])
        if tag == 'bytes':
            return base64.b64decode(v['base64'], validate=True)
        if tag == 'numpy_scalar':
            number = self.value(v['value'])
            if not isinstance(number, (bool, int, float)):
                raise CheckpointError(f'invalid NumPy scalar value {number!r:.80}')
            return _numpy_dtype(v['dtype']).type(number)
        if tag == 'dtype':
            return _dtype._NAMES[v['name']]
        if tag == 'device':
            return _device(v['name'])
        if tag == 'pickle':
            return self.objects[_as_index(v['index'])]
        raise CheckpointError(f'unknown manifest tag {tag!r}')


_SEQUENCE_BUILDERS = {'list': list, 'tuple': tuple, 'set': set, 'frozenset': frozenset,
                      'Size': lambda items: Size([_as_index(i) for i in items])}


# ---- shared with the PyTorch readers: unpicklers, zip entries, chunked reads -------------
def _unpickler_class(base, find_class, persistent_load):
    """A subclass of ``base`` with ``persistent_load(pid)`` and, unless None,
    ``find_class(unpickler, module, name)``."""
    methods = {'persistent_load': lambda self, pid: persistent_load(pid)}
    if find_class is not None:
        methods['find_class'] = find_class
    return type('Unpickler', (base,), methods)


def _member_data_offset(fh, info):
    """Byte offset in the archive file where stored zip entry ``info``'s data begins."""
    fh.seek(info.header_offset)
    header = fh.read(30)
    if len(header) != 30 or header[:4] != b'PK\x03\x04':
        raise CheckpointError(f'bad local header for zip entry {info.filename}')
    name_len, extra_len = struct.unpack('<HH', header[26:30])
    return info.header_offset + 30 + name_len + extra_len


def _npy_header(fh, what):
    """(length, dtype) from the header of a .npy holding a 1-D array of numbers."""
    version = np.lib.format.read_magic(fh)
    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                   np.lib.format.read_array_header_2_0)
    shape, _, dt = read_header(fh)
    if dt.kind not in _NUMPY_KINDS or len(shape) != 1:
        raise CheckpointError(f'storage {what} is not a 1-D array of numbers')
    return shape[0], dt


def _read_npy_entry(zf, fh, info):
    """The 1-D array of the .npy in zip entry ``info``, read straight into its buffer.

    A stored entry is read from the archive file ``fh`` directly (one copy, where zipfile's
    reader would make two) and its CRC-32 checked; other entries go through zipfile."""
    if info.compress_type != zipfile.ZIP_STORED:
        with zf.open(info) as member:
            n, dt = _npy_header(member, info.filename)
            array = np.empty(n, dt)
            _read_exactly(member, array.view(np.uint8), info.filename)
        return array
    begin = _member_data_offset(fh, info)
    fh.seek(begin)
    n, dt = _npy_header(fh, info.filename)
    header = fh.tell() - begin
    if header + n * dt.itemsize != info.file_size:
        raise CheckpointError(f'storage {info.filename} has a header for {n} elements of {dt} '
                              f'but {info.file_size - header} bytes of data')
    array = np.empty(n, dt)
    _read_exactly(fh, array.view(np.uint8), info.filename)
    fh.seek(begin)
    if zlib.crc32(array.view(np.uint8), zlib.crc32(fh.read(header))) != info.CRC:
        raise CheckpointError(f'Bad CRC-32 for file {info.filename!r}')
    return array


def _mmap_npy(path, info):
    """A copy-on-write memory map of the 1-D .npy stored in zip entry ``info``."""
    with open(path, 'rb') as fh:
        fh.seek(_member_data_offset(fh, info))
        n, dt = _npy_header(fh, info.filename)
        start = fh.tell()
    if n == 0:
        return np.empty(0, dt)
    return np.memmap(path, dt, mode='c', offset=start, shape=(n,))


def _read_exactly(src, out, what):
    """Fill uint8 array ``out`` from file ``src`` in chunks."""
    view = memoryview(out)
    pos = 0
    while pos < len(view):
        n = src.readinto(view[pos:pos + _CHUNK])
        if not n:
            raise EOFError(f'storage {what} ends after {pos} of {len(view)} bytes')
        pos += n
