"""Default collation, as ``torch.utils.data._utils.collate``.

``default_collate(batch)`` turns a list of samples into a batch: tensors are stacked along a
new first dimension (shape (B, *sample_shape)), NumPy arrays and NumPy scalars become tensors,
Python ints become an int64 tensor (bools a bool tensor), floats a float64 tensor, strings stay
a list, and containers are collated element by element (tuples and lists transposed into a
list, dicts key by key, namedtuples field by field).

``collate(batch, collate_fn_map=...)`` is the extensible engine: ``collate_fn_map`` maps a type
(or a tuple of types) to a function ``fn(batch, *, collate_fn_map)`` handling batches whose first
element is of that type; containers are recursed into by ``collate`` itself.

``default_convert(data)`` converts NumPy arrays and scalars inside ``data`` to tensors without
batching (used when automatic batching is off, ``batch_size=None``).
"""
import collections.abc
import copy
import functools
import re

import numpy as np

import ember
from ember import _dtype
from ember._backend import xp_of
from ember._tensor import Tensor, _wrap

__all__ = ['collate', 'default_collate', 'default_convert', 'default_collate_fn_map',
           'collate_tensor_fn', 'collate_numpy_array_fn', 'collate_numpy_scalar_fn',
           'collate_float_fn', 'collate_int_fn', 'collate_str_fn']

np_str_obj_array_pattern = re.compile(r'[SaUO]')

default_collate_err_msg_format = (
    'default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; '
    'found {}')


def collate(batch, *, collate_fn_map=None):
    """Collate a list of samples using ``collate_fn_map`` for leaf types (exact type first,
    then the first ``isinstance`` match in the map's order) and recursing into mappings,
    namedtuples and sequences."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        fn = collate_fn_map.get(elem_type)
        if fn is not None:
            return fn(batch, collate_fn_map=collate_fn_map)
        for collate_type, fn in collate_fn_map.items():
            if isinstance(elem, collate_type):
                return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        return _collate_mapping(batch, elem, collate_fn_map)
    if isinstance(elem, tuple) and hasattr(elem, '_fields'):   # namedtuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map)
                           for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        return _collate_sequence(batch, elem, collate_fn_map)
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def _collate_mapping(batch, elem, collate_fn_map):
    """A mapping of the first sample's type (a plain dict when it cannot be rebuilt)."""
    def field(key):
        return collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
    try:
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update({key: field(key) for key in elem})
            return clone
        return type(elem)({key: field(key) for key in elem})
    except TypeError:
        return {key: field(key) for key in elem}


def _collate_sequence(batch, elem, collate_fn_map):
    """Transpose a batch of equal-length sequences and collate each position: a list for
    tuples, the first sample's type for other sequences (a list when it cannot be rebuilt)."""
    size = len(elem)
    if any(len(sample) != size for sample in batch):
        raise RuntimeError('each element in list of batch should be of equal size')
    transposed = list(zip(*batch))
    if isinstance(elem, tuple):
        return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, samples in enumerate(transposed):
                clone[i] = collate(samples, collate_fn_map=collate_fn_map)
            return clone
        return type(elem)([collate(samples, collate_fn_map=collate_fn_map)
                           for samples in transposed])
    except TypeError:
        return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]


def collate_tensor_fn(batch, *, collate_fn_map=None):
    """Stack B tensors of one shape into a (B, *shape) tensor (one array stack when no
    gradient is involved; ``ember.stack``, with its checks and type promotion, otherwise)."""
    arrays = _plain_arrays(batch)
    if arrays is None:
        return ember.stack(batch, 0)
    return _wrap(xp_of(arrays[0]).stack(arrays))


def _plain_arrays(tensors):
    """The arrays of ``tensors`` when they are all tensors of one array type, shape and dtype
    and none requires grad; None otherwise."""
    first = tensors[0]
    if not isinstance(first, Tensor):
        return None
    a = first._data
    cls, shape, dtype = a.__class__, a.shape, a.dtype
    arrays = []
    for t in tensors:
        if not isinstance(t, Tensor) or t._rg:
            return None
        d = t._data
        if d.__class__ is not cls or d.shape != shape or d.dtype != dtype:
            return None
        arrays.append(d)
    if cls is not np.ndarray and len({d.device.id for d in arrays}) != 1:
        return None
    return arrays


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    """Stack B NumPy arrays into a (B, *shape) tensor; arrays of strings or objects are
    rejected with default_collate's TypeError."""
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    tensor_fn = (collate_fn_map or {}).get(Tensor, collate_tensor_fn)
    if tensor_fn is collate_tensor_fn and _same_layout(batch):
        return ember.as_tensor(np.stack(batch))
    return collate([ember.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def _same_layout(arrays):
    """True when all items are NumPy arrays or scalars of the first one's shape and dtype
    (np.stack / np.array of them is then exact)."""
    first = arrays[0]
    shape, dtype = first.shape, first.dtype
    kinds = (np.ndarray, np.generic)
    return all(isinstance(a, kinds) and a.shape == shape and a.dtype == dtype for a in arrays)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    """B NumPy scalars into a (B,) tensor; mixed items (other NumPy scalars, Python numbers)
    promote as ``torch.as_tensor`` of the list does."""
    if _same_layout(batch):
        return ember.as_tensor(np.array(batch))
    dtypes = [_scalar_dtype(x) for x in batch]
    if None in dtypes:
        return ember.stack([ember.as_tensor(b) for b in batch])
    result = functools.reduce(ember.promote_types, dtypes)
    return ember.as_tensor(np.array(batch, dtype=_dtype.to_np(result)))


def _scalar_dtype(x):
    """The ember dtype ``ember.as_tensor`` infers for one scalar (None: not a real scalar)."""
    if isinstance(x, np.generic):
        return _dtype.from_numpy_dtype(x.dtype) if x.dtype.kind in 'biuf' else None
    if isinstance(x, bool):
        return ember.bool
    if isinstance(x, int):
        return ember.int64
    if isinstance(x, float):
        return ember.get_default_dtype()
    return None


def collate_float_fn(batch, *, collate_fn_map=None):
    """B Python floats into a float64 (B,) tensor."""
    if all(type(x) is float for x in batch):
        return ember.from_numpy(np.array(batch, dtype=np.float64))
    return ember.tensor(batch, dtype=ember.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    """B Python ints into an int64 (B,) tensor (bools into a bool tensor; the dtype is
    inferred as ``ember.tensor(batch)`` infers it)."""
    kind = type(batch[0])
    if (kind is int or kind is bool) and all(type(x) is kind for x in batch):
        try:
            return ember.from_numpy(np.array(batch, dtype=np.int64 if kind is int else np.bool_))
        except OverflowError:
            pass
    return ember.tensor(batch)


def collate_str_fn(batch, *, collate_fn_map=None):
    """Strings and bytes stay as they are: the batch is returned unchanged."""
    return batch


default_collate_fn_map = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch):
    """Collate a list of samples into a batch with PyTorch's default rules (module docstring).

    >>> default_collate([(ember.zeros(3), 1), (ember.ones(3), 0)])
    [tensor([[0., 0., 0.],
            [1., 1., 1.]]), tensor([1, 0])]
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Convert NumPy arrays and scalars inside ``data`` to tensors, keeping the structure
    (tuples become lists, as in PyTorch); arrays of strings or objects stay arrays."""
    if isinstance(data, Tensor):
        return data
    data_type = type(data)
    if data_type.__module__ == 'numpy' and data_type.__name__ not in ('str_', 'bytes_'):
        if isinstance(data, np.ndarray) and np_str_obj_array_pattern.search(data.dtype.str):
            return data
        return ember.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update({key: default_convert(data[key]) for key in data})
                return clone
            return data_type({key: default_convert(data[key]) for key in data})
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, '_fields'):   # namedtuple
        return data_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return data_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
