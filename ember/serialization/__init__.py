"""``ember.save`` / ``ember.load``: checkpoints in a documented, safe format, and PyTorch's.

``save(obj, f)`` writes ``obj`` (any nesting of dicts, OrderedDicts, lists, tuples, sets,
Python scalars, strings, bytes, tensors, Parameters, NumPy arrays, ``ember.Size``, dtypes
and devices) so that ``load(f)`` gives it back without running any code from the file.
Tensors that share memory (views, one tensor saved twice, a ``state_dict`` aliasing a
model's parameters) come back sharing memory; a tensor object saved twice comes back as one
object (a container saved twice comes back as two equal copies). Other objects (an entire
``nn.Module``, a class instance) are pickled, and such a file loads only with
``weights_only=False``, as in PyTorch.

``load`` also reads files written by ``torch.save`` (the zip format of PyTorch >= 1.6 and
the older pickle-stream format) without importing torch: a restricted unpickler maps
PyTorch's tensor-rebuilding functions, storages, ``torch.Size``, dtypes and devices to
ember's, and refuses every other global (see ``_torch_format._TORCH_GLOBALS``).

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

Layout of this package
----------------------
``_write``: the writer (manifest, .npy entries, atomic file replacement);
``_storages``: which saved arrays share memory, grouped into storages;
``_read``: the ember-format reader and the zip-entry reading both readers use;
``_placement``: storages onto devices (``map_location``) and strided views into tensors;
``_torch_format``: files written by ``torch.save``; ``_errors``: errors and their routing.
"""
import io
import os
import pickle
import zipfile

from ._errors import (CheckpointError, _WeightsOnlyError, _Passthrough, _DAMAGE, _damaged)
from ._placement import _Placement
from ._read import _EmberReader
from ._torch_format import _load_torch_legacy, _load_torch_zip
from ._write import _Writer, _atomic_write, _seekable

__all__ = ['save', 'load', 'CheckpointError']


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
    """What ``load`` was asked for, handed to the readers."""

    def __init__(self, placement, pickle_module, weights_only, mmap, pickle_load_args):
        self.placement = placement
        self.pickle_module = pickle_module
        self.weights_only = weights_only
        self.mmap = mmap
        self.pickle_load_args = pickle_load_args
        self.path = None


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
