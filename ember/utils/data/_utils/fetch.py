"""Fetchers: turn one index (or one list of indices) from the sampler into one batch.

A map-style fetcher reads ``dataset[i]`` for each index (or ``dataset.__getitems__(indices)``
when the dataset has it) and collates the samples. An iterable fetcher takes the next samples
from its own iterator over the dataset, ignoring the indices except for their number; it raises
StopIteration when the iterator is exhausted (or, with ``drop_last``, when the last batch would
be short).
"""
import numpy as np

from ember._tensor import _wrap

MAP, ITERABLE = 0, 1


class _MapFetcher:
    __slots__ = ('dataset', 'auto_collation', 'collate_fn', 'getitems')

    def __init__(self, dataset, auto_collation, collate_fn):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.getitems = getattr(dataset, '__getitems__', None) or None

    def fetch(self, index):
        """One batch: ``collate_fn([dataset[i] for i in index])`` with automatic batching,
        ``collate_fn(dataset[index])`` without."""
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.getitems is not None:
            return self.collate_fn(self.getitems(index))
        dataset = self.dataset
        return self.collate_fn([dataset[i] for i in index])


class _TensorDatasetFetcher(_MapFetcher):
    """A TensorDataset of CPU tensors with default_collate: the batch
    ``[t[index] for t in tensors]`` is one row gather per tensor, which equals stacking the
    samples one by one. Anything else (gradients, GPU tensors, unusual or out-of-range
    indices) takes the general path."""
    __slots__ = ()

    def fetch(self, index):
        tensors = self.dataset.tensors
        if type(index) is list and index:
            arrays = [t._data for t in tensors if not t._rg and t._data.__class__ is np.ndarray]
            if len(arrays) == len(tensors):
                rows = np.asarray(index)
                if rows.ndim == 1 and rows.dtype.kind in 'iu':
                    try:
                        return [_wrap(a.take(rows, axis=0)) for a in arrays]
                    except IndexError:
                        pass
        return super().fetch(index)


class _IterableFetcher:
    __slots__ = ('iterator', 'auto_collation', 'collate_fn', 'drop_last', 'ended')

    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index):
        """The next ``len(index)`` samples collated (fewer at the end), or the next sample
        converted; StopIteration when there is nothing (or only a short batch to drop) left."""
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        data = []
        for _ in index:
            try:
                data.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last):
    """The fetcher for a dataset of ``kind`` (MAP or ITERABLE)."""
    if kind == ITERABLE:
        return _IterableFetcher(dataset, auto_collation, collate_fn, drop_last)
    from ..dataset import TensorDataset
    from .collate import default_collate
    if type(dataset) is TensorDataset and auto_collation and collate_fn is default_collate:
        return _TensorDatasetFetcher(dataset, auto_collation, collate_fn)
    return _MapFetcher(dataset, auto_collation, collate_fn)
