"""DistributedSampler, as ``torch.utils.data.distributed``: the share of a dataset's indices
that one of ``num_replicas`` processes reads.

ember has no process groups, so ``num_replicas`` and ``rank`` must be given.
"""
import math

import ember

from .sampler import Sampler

__all__ = ['DistributedSampler']


class DistributedSampler(Sampler):
    """Indices ``rank, rank + num_replicas, ...`` of the (shuffled, when ``shuffle``) index
    list, padded by repeating its start (or truncated, with ``drop_last``) so that every
    replica gets ``num_samples`` indices. The shuffle is seeded by ``seed + epoch``: call
    ``set_epoch(epoch)`` before each epoch for a new order."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            raise RuntimeError('Requires distributed package to be available')
        if rank >= num_replicas or rank < 0:
            raise ValueError(f'Invalid rank {rank}, rank should be in the interval '
                             f'[0, {num_replicas - 1}]')
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            gen = ember.Generator().manual_seed(self.seed + self.epoch)
            indices = ember.randperm(n, generator=gen).tolist()
        else:
            indices = list(range(n))
        if self.drop_last:
            indices = indices[:self.total_size]
        else:
            pad = self.total_size - len(indices)
            indices += (indices * math.ceil(pad / len(indices)))[:pad] if pad else []
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use ``epoch`` in the shuffle's seed (a different order every epoch)."""
        self.epoch = epoch
