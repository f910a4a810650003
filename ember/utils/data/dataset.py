"""Datasets, as ``torch.utils.data.dataset``.

A map-style ``Dataset`` gives ``dataset[i]`` for i in [0, len(dataset)); an
``IterableDataset`` is read by iterating it. ``TensorDataset`` indexes tensors along their
first dimension, ``StackDataset`` zips datasets, ``ConcatDataset`` / ``ChainDataset`` join them
end to end, ``Subset`` picks indices, and ``random_split`` cuts a dataset into random subsets.
"""
import bisect
import itertools
import math
import warnings
from collections.abc import Iterable
from typing import Generic, TypeVar

import ember

__all__ = ['Dataset', 'IterableDataset', 'TensorDataset', 'StackDataset', 'ConcatDataset',
           'ChainDataset', 'Subset', 'random_split']

_T = TypeVar('_T')
_T_co = TypeVar('_T_co', covariant=True)


class Dataset(Generic[_T_co]):
    """A map-style dataset: subclasses define ``__getitem__`` (and usually ``__len__``).
    ``a + b`` is ``ConcatDataset([a, b])``."""

    def __getitem__(self, index):
        raise NotImplementedError('Subclasses of Dataset should implement __getitem__.')

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset[_T_co], Iterable):
    """A dataset read by iteration: subclasses define ``__iter__``. With worker processes each
    worker iterates its own copy; ``get_worker_info()`` tells ``__iter__`` which share to
    yield. ``a + b`` is ``ChainDataset([a, b])``."""

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples ``(t[i] for t in tensors)`` of tensors sharing their first dimension."""

    def __init__(self, *tensors):
        assert all(tensors[0].size(0) == t.size(0) for t in tensors), \
            'Size mismatch between tensors'
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].size(0)


class StackDataset(Dataset):
    """Zips datasets of one length: ``StackDataset(a, b)[i] == (a[i], b[i])`` and
    ``StackDataset(x=a, y=b)[i] == {'x': a[i], 'y': b[i]}``."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError('Supported either ``tuple``- (via ``args``) or``dict``- (via '
                             '``kwargs``) like input/output, but both types are given.')
        datasets = args or kwargs
        if not datasets:
            raise ValueError('At least one dataset should be passed')
        members = datasets.values() if kwargs else datasets
        lengths = {len(d) for d in members}
        if len(lengths) != 1:
            raise ValueError('Size mismatch between datasets')
        self._length = lengths.pop()
        self.datasets = datasets

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __getitems__(self, indices):
        """A list of samples for ``indices`` (batched reads where members support them)."""
        named = isinstance(self.datasets, dict)
        items = self.datasets.items() if named else enumerate(self.datasets)
        columns = {k: self._column(d, indices) for k, d in items}
        if named:
            return [{k: col[i] for k, col in columns.items()} for i in range(len(indices))]
        return [tuple(col[i] for col in columns.values()) for i in range(len(indices))]

    @staticmethod
    def _column(dataset, indices):
        if callable(getattr(dataset, '__getitems__', None)):
            items = dataset.__getitems__(indices)
            if len(items) != len(indices):
                raise ValueError("Nested dataset's output size mismatch. Expected "
                                 f'{len(indices)}, got {len(items)}')
            return items
        return [dataset[i] for i in indices]

    def __len__(self):
        return self._length


class ConcatDataset(Dataset):
    """The concatenation of map-style datasets: index i reads from the dataset whose range
    (``cumulative_sizes``) contains it."""

    @staticmethod
    def cumsum(sequence):
        return list(itertools.accumulate(len(d) for d in sequence))

    def __init__(self, datasets):
        self.datasets = list(datasets)
        assert len(self.datasets) > 0, 'datasets should not be an empty iterable'
        for d in self.datasets:
            assert not isinstance(d, IterableDataset), \
                'ConcatDataset does not support IterableDataset'
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError('absolute value of index should not exceed dataset length')
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][idx - start]

    @property
    def cummulative_sizes(self):
        warnings.warn('`cummulative_sizes` attribute is renamed to `cumulative_sizes`',
                      FutureWarning, stacklevel=2)
        return self.cumulative_sizes


class ChainDataset(IterableDataset):
    """Iterable datasets read one after the other (lazily: chaining costs nothing)."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            assert isinstance(d, IterableDataset), 'ChainDataset only supports IterableDataset'
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            assert isinstance(d, IterableDataset), 'ChainDataset only supports IterableDataset'
            total += len(d)
        return total


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``: ``Subset(d, idx)[i] == d[idx[i]]``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        """A list of samples (through the dataset's own ``__getitems__`` when it has one)."""
        dataset, own = self.dataset, self.indices
        if callable(getattr(dataset, '__getitems__', None)):
            return dataset.__getitems__([own[i] for i in indices])
        return [dataset[own[i]] for i in indices]

    def __len__(self):
        return len(self.indices)


def _split_lengths(n, fractions):
    """Sizes of splits of ``n`` items by ``fractions`` (summing to 1): each gets
    floor(n * fraction), and the remainder is dealt one by one from the first split on."""
    sizes = []
    for i, frac in enumerate(fractions):
        if frac < 0 or frac > 1:
            raise ValueError(f'Fraction at index {i} is not between 0 and 1')
        sizes.append(int(math.floor(n * frac)))
    for i in range(n - sum(sizes)):
        sizes[i % len(sizes)] += 1
    for i, size in enumerate(sizes):
        if size == 0:
            warnings.warn(f'Length of split at index {i} is 0. This might result in an empty '
                          'dataset.', stacklevel=3)
    return sizes


def random_split(dataset, lengths, generator=ember.default_generator):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given ``lengths``
    (integers summing to len(dataset), or fractions summing to 1), drawing the permutation
    from ``generator``."""
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        lengths = _split_lengths(len(dataset), lengths)
    if sum(lengths) != len(dataset):
        raise ValueError('Sum of input lengths does not equal the length of the input dataset!')
    order = ember.randperm(sum(lengths), generator=generator).tolist()
    return [Subset(dataset, order[end - size:end])
            for end, size in zip(itertools.accumulate(lengths), lengths)]
