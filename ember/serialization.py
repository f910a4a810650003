"""``ember.save`` / ``ember.load``: checkpoints in a documented, safe format, and PyTorch's.

``save(obj, f)`` writes ``obj`` (any nesting of dicts, OrderedDicts, lists, tuples, sets,
Python scalars, strings, bytes, tensors, Parameters, NumPy arrays, ``ember.Size``, dtypes
and devices) so that ``load(f)`` gives it back without running any code from the file.
Tensors that share memory (views, one tensor saved twice, a ``state_dict`` aliasing a
model's parameters) come back sharing memory; a tensor object saved twice comes back as one
object (a container saved twice comes back as two equal copies). Other objects (an entire ``nn.Module``, a class instance) are pickled, and such a
file loads only with ``weights_only=False``, as in PyTorch.

``load`` also reads files written by ``torch.save`` (the zip format of PyTorch >= 1.6 and
the older pickle-stream format) without importing torch: a restricted unpickler maps
PyTorch's tensor-rebuilding functions, storages, ``torch.Size``, dtypes and devices to
ember's, and refuses every other global (see ``_TORCH_GLOBALS``).

The ember checkpoint format (version 1)
---------------------------------------
A zip archive, entries stored uncompressed, with one top-level folder ``checkpoint/``:

``checkpoint/storages/<i>.npy``
    One NumPy ``.npy`` file per storage: a 1-D array holding a block of memory that one
    or more tensors view. Each entry's data starts at a multiple of 64 bytes in the file
    (a padding field with id 0x6d65 in the local header), so ``load(..., mmap=True)`` can
    memory-map it.
``checkpoint/objects.pkl``
    Only when ``obj`` held objects the manifest cannot describe: a pickle of the list of
    those objects, whose tensors are persistent ids ``('tensor', i)`` into the manifest's
    tensor table. Never read when ``weights_only=True``.
``checkpoint/manifest.json`` (written last)
    ``{"format": "ember.checkpoint", "version": 1, "byteorder": "little",
    "storages": [...], "tensors": [...], "pickled": [...], "object": <value>}``

``storages[i]``: ``{"file": "storages/<i>.npy", "dtype": <NumPy dtype str, e.g. "<f4">,
"numel": <int>, "device": "cpu" | "cuda:<n>"}`` (the device the tensors lived on).

``tensors[j]``: ``{"kind": "tensor" | "parameter" | "ndarray", "storage": <i>,
"dtype": <ember dtype name, e.g. "float32"; NumPy dtype str for "ndarray">,
"shape": [...], "stride": [...], "offset": <int>, "requires_grad": <bool>}``; ``stride``
and ``offset`` count elements of the tensor's own dtype from the start of its storage
(read as raw bytes). ``pickled``: the type name of each pickled object.

A ``<value>`` is JSON null, true/false, a number (int, or float written with a '.' or an
exponent) or a string for None, bool, int, float and str; every other value is a JSON
object tagged by its ``"$"`` key:

* ``{"$": "list" | "tuple" | "set" | "frozenset" | "Size", "items": [<value>, ...]}``
* ``{"$": "dict" | "OrderedDict", "items": [[<key>, <value>], ...]}`` in order, with
  ``"attrs": [[name, <value>], ...]`` for an OrderedDict's attributes (``_metadata``)
* ``{"$": "tensor", "id": <j>}``: the tensor (or array) ``tensors[j]``
* ``{"$": "float", "value": "nan" | "inf" | "-inf"}``
* ``{"$": "bytes", "base64": <str>}``
* ``{"$": "numpy_scalar", "dtype": <NumPy dtype str>, "value": <value>}``
* ``{"$": "dtype", "name": "float32"}``, ``{"$": "device", "name": "cuda:0"}``
* ``{"$": "pickle", "index": <k>}``: the k-th object of ``objects.pkl``

Errors
------
A file that is truncated, corrupted or not a checkpoint raises ``CheckpointError``, a
subclass of both ``RuntimeError`` (what PyTorch raises for a damaged zip) and
``pickle.UnpicklingError``, whose message names the file. A file needing code execution
under ``weights_only=True`` raises ``pickle.UnpicklingError`` with PyTorch's advice.
"""
import base64
import codecs
import contextlib
import ctypes
import io
import json
import math
import os
import pickle
import secrets
import struct
import warnings
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from . import _dtype
from ._backend import cupy, device as _device, to_device_array
from ._tensor import Tensor, Size, _wrap
from .nn.parameter import Parameter, Buffer

__all__ = ['save', 'load', 'CheckpointError']

FORMAT = 'ember.checkpoint'
VERSION = 1
_ROOT = 'checkpoint/'
_ALIGN = 64
_PAD_FIELD_ID = 0x6d65
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1 << 24
_TORCH_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c


class CheckpointError(RuntimeError, pickle.UnpicklingError):
    """A checkpoint file that cannot be read: truncated, corrupted, or not a checkpoint."""


class _WeightsOnlyError(pickle.UnpicklingError):
    """``weights_only=True`` met something that only a full unpickling could rebuild."""


class _Passthrough(Exception):
    """Carries an error raised by trusted unpickling (``weights_only=False``: the user's own
    classes may fail to import or rebuild) past the check for damaged files."""

    def __init__(self, error):
        super().__init__(error)
        self.error = error


def _weights_only_message(what):
    return ('Weights only load failed. This file can still be loaded, to do so you have two '
            'options, do those steps only if you trust the source of the checkpoint. \n'
            '\t(1) Re-running `ember.load` with `weights_only` set to `False` will likely '
            'succeed, but it can result in arbitrary code execution. Do it only if you got the '
            'file from a trusted source.\n'
            '\t(2) Alternatively, save only tensors, containers and Python scalars (for '
            'example `model.state_dict()` rather than `model`).\n'
            f'\tWeightsUnpickler error: Unsupported global: GLOBAL {what} was not an allowed '
            'global by default.')


# =========================================================================================
# saving
# =========================================================================================
def save(obj, f, pickle_module=pickle, pickle_protocol=2):
    """Save ``obj`` to ``f`` (a path or a writable binary file) in ember's checkpoint format.

    Writing to a path is atomic: the data goes to a temporary file in the same folder, is
    flushed and fsynced, then renamed over ``f``, so a failure midway leaves any previous
    file intact. Objects the format cannot describe are pickled with ``pickle_module``
    (``pickle_protocol``), and then need ``ember.load(f, weights_only=False)``.
    """
    if not isinstance(f, (str, os.PathLike)) and not hasattr(f, 'write'):
        raise TypeError(f'ember.save: f must be a path or a writable binary file, got '
                        f'{type(f).__name__}')
    writer = _Writer(pickle_module, pickle_protocol)
    writer.encode(obj)
    if isinstance(f, (str, os.PathLike)):
        _atomic_write(os.fspath(f), writer.write)
    else:
        writer.write(f)


class _CyclicStructure(Exception):
    """A container holds itself: the manifest cannot describe it, pickle can."""


_NUMPY_KINDS = 'biufc'   # NumPy arrays of these kinds are stored as .npy storages
_SEQUENCE_TAGS = {list: 'list', tuple: 'tuple', set: 'set', frozenset: 'frozenset'}
_TENSOR_KINDS = {Tensor: 'tensor', Buffer: 'tensor', Parameter: 'parameter'}


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


# ---- finding which arrays share memory ---------------------------------------------------
class _Memory:
    """Where one array's elements lie: byte range [low, high), owner, device."""
    __slots__ = ('array', 'ptr', 'low', 'high', 'owner', 'device')

    def __init__(self, a):
        self.array = a
        if isinstance(a, np.ndarray):
            self.ptr = a.__array_interface__['data'][0]
            self.owner = id(_numpy_owner(a))
            self.device = 'cpu'
        else:
            self.ptr = a.data.ptr
            self.owner = id(a.data.mem)
            self.device = f'cuda:{a.device.id}'
        lo = hi = 0
        for n, s in zip(a.shape, a.strides):
            lo += min(0, (n - 1) * s)
            hi += max(0, (n - 1) * s)
        self.low = self.ptr + lo
        self.high = self.ptr + hi + a.itemsize if a.size else self.ptr


def _numpy_owner(a):
    """The object at the end of an array's chain of ``base`` arrays (the memory's owner)."""
    while True:
        b = a.base
        if b is None:
            return a
        if not (isinstance(b, np.ndarray) or isinstance(getattr(b, 'base', None), np.ndarray)):
            return b
        a = b


class _Storage:
    """A block of memory [low, high) on one device that some saved arrays view."""

    def __init__(self, members):
        self.members = members
        self.device = members[0].device
        self.low = min(m.low for m in members)
        self.high = max(m.high for m in members)
        first = members[0].array.dtype
        same = all(m.array.dtype == first for m in members)
        self.dtype = first if same and (self.high - self.low) % first.itemsize == 0 \
            else np.dtype(np.uint8)

    def host_array(self):
        """The storage's bytes as a 1-D host array of ``self.dtype`` (no copy on the CPU)."""
        n = self.high - self.low
        if n == 0:
            return np.empty(0, self.dtype)
        a = self.members[0].array
        if isinstance(a, np.ndarray):
            raw = np.ctypeslib.as_array((ctypes.c_uint8 * n).from_address(self.low))
        else:
            cp = cupy()
            mem = a.data.mem
            ptr = cp.cuda.MemoryPointer(mem, self.low - mem.ptr)
            raw = cp.ndarray((n,), cp.uint8, memptr=ptr).get()
        return raw.view(self.dtype)


def _plan_storages(arrays):
    """Group arrays whose memory overlaps or has one owner into storages.

    Returns (storages, entries): entries[i] = (storage index, element offset, element
    strides) of arrays[i] in its storage."""
    mems = [_Memory(a) for a in arrays]
    storages, entries = [], [None] * len(mems)
    for group in _sharing_groups(mems):
        while group:
            storage = _Storage([mems[i] for i in group])
            placed = {i: _place_in(mems[i], storage.low) for i in group}
            odd = [i for i in group if placed[i] is None]
            if odd:   # layouts that are not whole elements from the block's start: own copies
                for i in odd:
                    a = mems[i].array
                    own = a if a.flags.c_contiguous else a.copy()
                    storages.append(_Storage([_Memory(own)]))
                    entries[i] = (len(storages) - 1, 0, _c_strides(a.shape))
                group = [i for i in group if placed[i] is not None]
                continue
            for i in group:
                entries[i] = (len(storages),) + placed[i]
            storages.append(storage)
            break
    return storages, entries


def _sharing_groups(mems):
    """Lists of indices of ``mems`` that share memory (same owner or overlapping bytes)."""
    parent = list(range(len(mems)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_of_owner = {}
    for i, m in enumerate(mems):
        if m.array.size:
            parent[find(i)] = find(first_of_owner.setdefault((m.device, m.owner), i))
    order = sorted((i for i, m in enumerate(mems) if m.array.size),
                   key=lambda i: (mems[i].device, mems[i].low))
    prev, reach = None, 0
    for i in order:
        m = mems[i]
        if prev is not None and mems[prev].device == m.device and m.low < reach:
            parent[find(i)] = find(prev)
            reach = max(reach, m.high)
        else:
            prev, reach = i, m.high
    groups = OrderedDict()
    for i in range(len(mems)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _place_in(m, low):
    """(element offset, element strides) of array ``m`` from byte ``low``, or None when its
    layout is not a whole number of its elements."""
    item = m.array.itemsize
    offset = m.ptr - low
    if offset % item or any(s % item for s in m.array.strides):
        return None
    return offset // item, [s // item for s in m.array.strides]


def _c_strides(shape):
    out, step = [], 1
    for n in reversed(shape):
        out.append(step)
        step *= max(n, 1)
    return out[::-1]


# =========================================================================================
# loading
# =========================================================================================
def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """Load an object saved by ``ember.save`` or ``torch.save`` from ``f`` (path or file).

    map_location: None (each tensor back on the device it was saved from), a device or
        string ('cpu', 'cuda', 'cuda:0') for every tensor, a dict mapping saved locations to
        new ones ({'cuda:0': 'cpu'}), or a callable ``(storage, location) -> storage or
        None``, where ``storage`` is a 1-D CPU ember tensor of the storage's elements.
    weights_only: True (the default, as PyTorch >= 2.6, unless ``pickle_module`` is given)
        rebuilds only tensors, containers and plain values, never running code from the file;
        False also unpickles arbitrary objects (only for files you trust).
    mmap: memory-map the storages of a file given by path (copy-on-write) instead of
        reading them into memory (their CRC-32 is then not checked).
    pickle_load_args: passed to the unpickler (e.g. ``encoding='latin1'``).
    """
    if weights_only is None:
        weights_only = pickle_module is None
    if weights_only and pickle_module is not None:
        raise RuntimeError('Can not safely load weights when explicit pickle_module is '
                           'specified')
    if mmap and not isinstance(f, (str, os.PathLike)):
        raise ValueError('f must be a file path in order to use the mmap argument')
    opts = _LoadOptions(_Placement(map_location), pickle_module or pickle,
                        bool(weights_only), bool(mmap), pickle_load_args)
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        opts.path = path
        with open(path, 'rb') as fh:
            return _load_from(fh, str(path), opts)
    if not hasattr(f, 'read'):
        raise TypeError(f'ember.load: f must be a path or a readable binary file, got '
                        f'{type(f).__name__}')
    name = getattr(f, 'name', None) or f'<{type(f).__name__}>'
    if not _seekable(f):
        f = io.BytesIO(f.read())
    return _load_from(f, str(name), opts)


class _LoadOptions:
    def __init__(self, placement, pickle_module, weights_only, mmap, pickle_load_args):
        self.placement = placement
        self.pickle_module = pickle_module
        self.weights_only = weights_only
        self.mmap = mmap
        self.pickle_load_args = pickle_load_args
        self.path = None


_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, KeyError, ValueError,
           TypeError, IndexError, AttributeError, struct.error, zlib.error, RecursionError,
           OverflowError, pickle.UnpicklingError)


def _load_from(fh, name, opts):
    """Dispatch on the file's first bytes; wrap any sign of damage into CheckpointError."""
    try:
        start = fh.tell()
        head = fh.read(16)
        fh.seek(start)
        if head[:2] == b'PK':
            with zipfile.ZipFile(fh) as zf:
                return _load_zip(zf, fh, name, opts)
        if head.startswith(b'\x80\x02\x8a\x0a'):
            if opts.mmap:
                raise RuntimeError('mmap can only be used with files saved with '
                                   '`torch.save(_use_new_zipfile_serialization=True), please '
                                   'torch.save your checkpoint with this option in order to use '
                                   'mmap.')
            return _load_torch_legacy(fh, name, opts)
        what = 'is empty' if not head else 'is not an ember or PyTorch checkpoint'
        raise CheckpointError(f"ember.load: '{name}' {what} (unrecognised header {head[:8]!r})")
    except CheckpointError as e:
        if str(e).startswith('ember.load:'):
            raise
        raise CheckpointError(f"ember.load: cannot read '{name}': {e}") from e
    except _WeightsOnlyError:
        raise
    except _Passthrough as p:
        raise p.error from None
    except _DAMAGE as e:
        raise _damaged(name, e) from e


def _damaged(name, error):
    return CheckpointError(f"ember.load: cannot read '{name}': the file is truncated or "
                           f'corrupted ({type(error).__name__}: {error})')


def _trusted_load(unpickler, weights_only):
    """``unpickler.load()``; with ``weights_only=False`` its errors reach the caller as they
    are (except damage already diagnosed, which stays a CheckpointError)."""
    if weights_only:
        return unpickler.load()
    try:
        return unpickler.load()
    except (CheckpointError, _WeightsOnlyError, _Passthrough):
        raise
    except Exception as e:
        raise _Passthrough(e) from e


def _load_zip(zf, fh, name, opts):
    names = zf.namelist()
    for n in names:
        if n.count('/') == 1 and n.endswith('/manifest.json'):
            return _EmberReader(zf, fh, n[:-len('manifest.json')], name, opts).load()
    for n in names:
        if n.count('/') == 1 and n.endswith('/data.pkl'):
            return _load_torch_zip(zf, fh, n[:-len('data.pkl')], name, opts)
    raise CheckpointError(f"ember.load: '{name}' is a zip file but not an ember or PyTorch "
                          'checkpoint (no manifest.json or data.pkl)')


# ---- placing storages on devices -----------------------------------------------------------
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


# ---- the ember format ----------------------------------------------------------------------
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


def _mmap_raw(path, info, nbytes):
    """A copy-on-write memory map of the raw bytes in stored zip entry ``info``."""
    if nbytes == 0:
        return np.empty(0, np.uint8)
    with open(path, 'rb') as fh:
        start = _member_data_offset(fh, info)
    return np.memmap(path, np.uint8, mode='c', offset=start, shape=(nbytes,))


# ---- PyTorch checkpoints ------------------------------------------------------------------
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


def _read_exactly(src, out, what):
    """Fill uint8 array ``out`` from file ``src`` in chunks."""
    view = memoryview(out)
    pos = 0
    while pos < len(view):
        n = src.readinto(view[pos:pos + _CHUNK])
        if not n:
            raise EOFError(f'storage {what} ends after {pos} of {len(view)} bytes')
        pos += n


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

