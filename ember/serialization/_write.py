"""Writing the ember checkpoint format: the manifest and tensor table (``_Writer``), .npy
entries whose data is 64-byte aligned, and atomic replacement of the target file."""
import base64
import contextlib
import io
import json
import math
import os
import secrets
import struct
import zipfile
from collections import OrderedDict

import numpy as np

from .. import _dtype
from .._backend import device as _device
from .._tensor import Tensor, Size
from ..nn.parameter import Parameter, Buffer
from ._storages import _plan_storages

FORMAT = 'ember.checkpoint'
VERSION = 1
_ROOT = 'checkpoint/'
_ALIGN = 64
_PAD_FIELD_ID = 0x6d65
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1 << 24
_NUMPY_KINDS = 'biufc'   # NumPy arrays of these kinds are stored as .npy storages
_SEQUENCE_TAGS = {list: 'list', tuple: 'tuple', set: 'set', frozenset: 'frozenset'}
_TENSOR_KINDS = {Tensor: 'tensor', Buffer: 'tensor', Parameter: 'parameter'}


class _CyclicStructure(Exception):
    """A container holds itself: the manifest cannot describe it, pickle can."""


class _Writer:
    """Turns an object into a manifest plus the arrays (and pickled objects) it refers to."""

    def __init__(self, pickle_module, pickle_protocol):
        self.pickle_module = pickle_module
        self.pickle_protocol = pickle_protocol
        self.arrays = []        # (kind, array, requires_grad) per tensor-table entry
        self.ids = {}           # id(tensor or ndarray) -> index in self.arrays
        self.keep = []          # the tensors themselves, so their ids stay unique
        self.pickled = []
        self.active = set()
        self.root = None

    def encode(self, obj):
        try:
            self.root = self.value(obj)
        except _CyclicStructure:
            self.arrays, self.ids, self.keep, self.pickled = [], {}, [], []
            self.root = self.pickle_leaf(obj)
        self.pickle_bytes = self.dump_pickled() if self.pickled else None

    def value(self, x):
        """The JSON value describing ``x`` (arrays go to the tensor table)."""
        t = type(x)
        if x is None or t is bool or t is str or t is int:
            return x
        if t is float:
            return x if math.isfinite(x) else {'$': 'float', 'value': repr(x)}
        if t in _SEQUENCE_TAGS:
            with self.visiting(x):
                return {'$': _SEQUENCE_TAGS[t], 'items': [self.value(v) for v in x]}
        if t is dict or t is OrderedDict:
            return self.mapping(x, t)
        if t in _TENSOR_KINDS or (t is np.ndarray and x.dtype.kind in _NUMPY_KINDS):
            return {'$': 'tensor', 'id': self.tensor_id(x)}
        if t is Size:
            return {'$': 'Size', 'items': list(x)}
        if t is _dtype.dtype:
            return {'$': 'dtype', 'name': x.name}
        if t is _device:
            return {'$': 'device', 'name': str(x)}
        if t is bytes:
            return {'$': 'bytes', 'base64': base64.b64encode(x).decode('ascii')}
        if isinstance(x, np.generic) and x.dtype.kind in 'biuf':
            return {'$': 'numpy_scalar', 'dtype': x.dtype.str, 'value': self.value(x.item())}
        return self.pickle_leaf(x)

    def mapping(self, x, t):
        with self.visiting(x):
            out = {'$': t.__name__,
                   'items': [[self.value(k), self.value(v)] for k, v in x.items()]}
            attrs = vars(x) if t is OrderedDict else None
            if attrs:
                out['attrs'] = [[k, self.value(v)] for k, v in attrs.items()]
        return out

    @contextlib.contextmanager
    def visiting(self, container):
        key = id(container)
        if key in self.active:
            raise _CyclicStructure
        self.active.add(key)
        try:
            yield
        finally:
            self.active.discard(key)

    def tensor_id(self, x):
        """Index of tensor/array ``x`` in the tensor table (the same object keeps one)."""
        i = self.ids.get(id(x))
        if i is None:
            i = self.ids[id(x)] = len(self.arrays)
            self.keep.append(x)
            if isinstance(x, Tensor):
                self.arrays.append((_TENSOR_KINDS[type(x)], x._data, x.requires_grad))
            else:
                self.arrays.append(('ndarray', x, False))
        return i

    def pickle_leaf(self, x):
        self.pickled.append(x)
        return {'$': 'pickle', 'index': len(self.pickled) - 1}

    def dump_pickled(self):
        buf = io.BytesIO()
        writer = self

        class Pickler(self.pickle_module.Pickler):
            def persistent_id(self, obj):
                t = type(obj)
                if t in _TENSOR_KINDS or (t is np.ndarray and obj.dtype.kind in _NUMPY_KINDS):
                    return ('tensor', writer.tensor_id(obj))
                return None

        Pickler(buf, protocol=self.pickle_protocol).dump(self.pickled)
        return buf.getvalue()

    # ---- writing ----------------------------------------------------------------------
    def write(self, fh):
        """Write the zip archive to binary file ``fh``."""
        storages, entries = _plan_storages([a for _, a, _ in self.arrays])
        tensors = []
        for (kind, a, rg), (index, offset, stride) in zip(self.arrays, entries):
            tensors.append({'kind': kind, 'storage': index,
                            'dtype': a.dtype.str if kind == 'ndarray' else a.dtype.name,
                            'shape': list(a.shape), 'stride': stride, 'offset': offset,
                            'requires_grad': bool(rg)})
        manifest = {'format': FORMAT, 'version': VERSION, 'byteorder': 'little',
                    'storages': [], 'tensors': tensors,
                    'pickled': [_type_name(x) for x in self.pickled], 'object': self.root}
        with zipfile.ZipFile(fh, 'w', zipfile.ZIP_STORED, allowZip64=True) as zf:
            for i, storage in enumerate(storages):
                data = storage.host_array()
                name = f'storages/{i}.npy'
                _write_npy(zf, fh, _ROOT + name, data)
                manifest['storages'].append({'file': name, 'dtype': data.dtype.str,
                                             'numel': int(data.size),
                                             'device': storage.device})
            if self.pickle_bytes is not None:
                zf.writestr(_zip_info(_ROOT + 'objects.pkl'), self.pickle_bytes)
            text = json.dumps(manifest, allow_nan=False, separators=(',', ':'))
            zf.writestr(_zip_info(_ROOT + 'manifest.json'), text.encode('utf-8'))


def _type_name(x):
    t = type(x)
    return f'{t.__module__}.{t.__qualname__}'


def _zip_info(name):
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_STORED
    return info


def _write_npy(zf, fh, name, array):
    """Write 1-D ``array`` as an .npy entry whose data starts 64-byte aligned in ``fh``."""
    info = _zip_info(name)
    zip64 = array.nbytes + 4096 > zipfile.ZIP64_LIMIT
    if _seekable(fh):
        header = 30 + len(name.encode('utf-8')) + (20 if zip64 else 0)
        pad = -(fh.tell() + header) % _ALIGN
        if pad:
            pad += _ALIGN if pad < 4 else 0
            info.extra = struct.pack('<HH', _PAD_FIELD_ID, pad - 4) + bytes(pad - 4)
    with zf.open(info, 'w', force_zip64=zip64) as out:
        fmt = np.lib.format
        fmt.write_array_header_1_0(out, fmt.header_data_from_array_1_0(array))
        raw = memoryview(array.view(np.uint8))
        for start in range(0, len(raw), _CHUNK):
            out.write(raw[start:start + _CHUNK])


def _seekable(fh):
    try:
        return fh.seekable()
    except (AttributeError, OSError, ValueError):
        return False


def _atomic_write(path, write):
    """Run ``write(fh)`` on a temporary file next to ``path``, fsync it, rename it over."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise RuntimeError(f'Parent directory {directory} does not exist.')
    tmp = os.path.join(directory, f'.{os.path.basename(path)}.{secrets.token_hex(6)}.tmp')
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0), 0o666)
    try:
        with os.fdopen(fd, 'wb') as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
