"""Samplers, as ``torch.utils.data.sampler``: iterables of dataset indices (or of lists of
indices, for ``BatchSampler``).

Random samplers draw from ember's generators: a ``generator=`` when given, otherwise the
default generator (``ember.manual_seed`` makes them reproducible). ``RandomSampler`` without a
generator seeds a fresh one from the default generator at the start of every pass, as PyTorch.
"""
import itertools
from collections.abc import Iterator
from typing import Generic, TypeVar

import ember

__all__ = ['Sampler', 'SequentialSampler', 'RandomSampler', 'SubsetRandomSampler',
           'WeightedRandomSampler', 'BatchSampler']

_T_co = TypeVar('_T_co', covariant=True)


class Sampler(Generic[_T_co]):
    """Base class of samplers: subclasses define ``__iter__`` (and ``__len__`` when known)."""

    def __iter__(self) -> Iterator[_T_co]:
        raise NotImplementedError


class SequentialSampler(Sampler[int]):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


def _positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f'{name} should be a positive integer value, but got {name}={value}')


def _fresh_generator():
    """A CPU generator seeded by one draw from the default generator."""
    seed = int(ember.empty((), dtype=ember.int64).random_().item())
    return ember.Generator().manual_seed(seed)


class RandomSampler(Sampler[int]):
    """Random indices of ``data_source``: without replacement, every index once per
    len(data_source) samples (one permutation after another); with replacement,
    ``num_samples`` independent uniform draws."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError(f'replacement should be a boolean value, but got '
                            f'replacement={self.replacement}')
        num = self.num_samples
        if not isinstance(num, int) or num <= 0:
            raise ValueError(f'num_samples should be a positive integer value, but got '
                             f'num_samples={num}')

    @property
    def num_samples(self):
        """len(data_source) unless given."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        gen = _fresh_generator() if self.generator is None else self.generator
        count = self.num_samples
        if self.replacement:
            return iter(ember.randint(0, n, (count,), generator=gen).tolist())
        if count == n:
            return iter(ember.randperm(n, generator=gen).tolist())
        return self._permutations(gen, n, count)

    @staticmethod
    def _permutations(gen, n, count):
        """``count`` indices: whole permutations of range(n), then part of one more."""
        for _ in range(count // n):
            yield from ember.randperm(n, generator=gen).tolist()
        rest = count % n
        if rest:
            yield from ember.randperm(n, generator=gen).tolist()[:rest]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given ``indices`` in a random order (a new one each pass)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        indices = self.indices
        for i in ember.randperm(len(indices), generator=self.generator).tolist():
            yield indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices in [0, len(weights)) drawn with probabilities proportional to
    ``weights`` (with or without replacement)."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        _positive_int('num_samples', num_samples)
        if not isinstance(replacement, bool):
            raise ValueError(f'replacement should be a boolean value, but got '
                             f'replacement={replacement}')
        weights = ember.as_tensor(weights, dtype=ember.float64)
        if weights.dim() != 1:
            raise ValueError(f'weights should be a 1d sequence but given weights have shape '
                             f'{tuple(weights.shape)}')
        self.weights = weights
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        drawn = ember.multinomial(self.weights, self.num_samples, self.replacement,
                                  generator=self.generator)
        yield from drawn.tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler[list]):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter
    unless ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        _positive_int('batch_size', batch_size)
        if not isinstance(drop_last, bool):
            raise ValueError(f'drop_last should be a boolean value, but got '
                             f'drop_last={drop_last}')
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        indices = iter(self.sampler)
        size = self.batch_size
        while True:
            batch = list(itertools.islice(indices, size))
            if len(batch) < size:
                if batch and not self.drop_last:
                    yield batch
                return
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
