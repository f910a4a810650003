"""DataLoader, as ``torch.utils.data.dataloader``: batches from a dataset, in the main process
(``num_workers=0``) or from worker processes.

Data flow: the index sampler (a ``BatchSampler`` over the sampler when ``batch_size`` is set)
yields one index list per batch; a fetcher reads those samples and collates them. With
workers, index lists go round-robin to the workers (at most ``prefetch_factor`` outstanding per
worker) and batches come back in sampler order (``in_order=True``) as pickles, tensors as NumPy
arrays.
"""
import itertools
import math
import multiprocessing
import os
import pickle
import sys
import time
import warnings
from multiprocessing.connection import wait as _wait_ready
from multiprocessing.context import BaseContext

import ember

from . import _utils
from ._utils.collate import default_collate, default_convert
from ._utils.fetch import ITERABLE, MAP, create_fetcher
from ._utils.worker import RESUME, RESUMED, STOP, TASK, ExceptionWrapper, _worker_loop
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ['DataLoader', 'default_collate', 'default_convert', 'get_worker_info']

get_worker_info = _utils.worker.get_worker_info

_SHUTDOWN_GRACE = 2.0     # seconds workers get to exit before they are terminated
_POLL = 1.0               # seconds between liveness checks while waiting for a batch


class _DatasetKind:
    Map = MAP
    Iterable = ITERABLE

    @staticmethod
    def create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last):
        return create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last)


class _InfiniteConstantSampler(Sampler):
    """None forever: the index sampler of an IterableDataset (the dataset decides the end)."""

    def __iter__(self):
        return itertools.repeat(None)


def _default_context():
    """The start method set by the user, else 'fork' where it is safe, else 'spawn'."""
    if multiprocessing.get_start_method(allow_none=True) is not None:
        return multiprocessing.get_context()
    methods = multiprocessing.get_all_start_methods()
    fork = 'fork' in methods and sys.platform != 'darwin'
    return multiprocessing.get_context('fork' if fork else 'spawn')


_FROZEN = ('batch_size', 'batch_sampler', 'sampler', 'drop_last', 'dataset',
           'persistent_workers')


class DataLoader:
    """Batches of ``dataset``, with PyTorch's options and their checks.

    ``batch_size`` samples per batch (None: no batching, samples converted one by one);
    ``shuffle`` (a RandomSampler drawing from ``generator``) or a ``sampler`` of indices, or a
    ``batch_sampler`` of index lists; ``collate_fn`` merges samples (default_collate);
    ``drop_last`` drops a short last batch; ``num_workers`` worker processes with
    ``prefetch_factor`` batches in flight each, ``worker_init_fn(worker_id)``, ``timeout``
    seconds to wait for a batch, ``persistent_workers`` kept between epochs,
    ``multiprocessing_context`` ('fork', 'spawn', 'forkserver' or a context) and ``in_order``.
    ``pin_memory`` and ``pin_memory_device`` are accepted and change nothing.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device='',
                 in_order=True):
        _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers)
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        if isinstance(dataset, IterableDataset):
            self._dataset_kind = ITERABLE
            _check_iterable_options(shuffle, sampler, batch_sampler)
        else:
            self._dataset_kind = MAP
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError('sampler option is mutually exclusive with shuffle')
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError('batch_sampler option is mutually exclusive with batch_size, '
                                 'shuffle, sampler, and drop_last')
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError('batch_size=None option disables auto-batching and is mutually '
                             'exclusive with drop_last')
        if sampler is None:
            if self._dataset_kind == ITERABLE:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.__initialized = True
        self._IterableDataset_len_called = None
        self._iterator = None
        _warn_worker_number(num_workers)

    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context):
        if context is not None:
            if self.num_workers <= 0:
                raise ValueError('multiprocessing_context can only be used with multi-process '
                                 'loading (num_workers > 0), but got '
                                 f'num_workers={self.num_workers}')
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError('multiprocessing_context option should specify a valid '
                                     f'start method in {methods!r}, but got '
                                     f'multiprocessing_context={context!r}')
                context = multiprocessing.get_context(context)
            elif not isinstance(context, BaseContext):
                raise TypeError('multiprocessing_context option should be a valid context '
                                'object or a string specifying the start method, but got '
                                f'multiprocessing_context={context}')
        self.__multiprocessing_context = context

    def __setattr__(self, attr, value):
        if attr in _FROZEN and self.__dict__.get('_DataLoader__initialized', False):
            raise ValueError(f'{attr} attribute should not be set after '
                             f'{self.__class__.__name__} is initialized')
        super().__setattr__(attr, value)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        """What the iterator draws per batch: index lists, or single indices."""
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self):
        """A new iterator over the batches (with persistent workers: the same one, reset)."""
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None or self._iterator._shutdown:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self):
        """Number of batches (for an IterableDataset: from len(dataset), when it has one)."""
        if self._dataset_kind == ITERABLE:
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                length = (length // self.batch_size if self.drop_last
                          else math.ceil(length / self.batch_size))
            return length
        return len(self._index_sampler)

    def _get_shared_seed(self):
        """One int64 draw from ``generator`` (or the default generator): the workers' base
        seed."""
        return int(ember.empty((), dtype=ember.int64).random_(generator=self.generator).item())


def _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers):
    if num_workers < 0:
        raise ValueError('num_workers option should be non-negative; use num_workers=0 to '
                         'disable multiprocessing.')
    if timeout < 0:
        raise ValueError('timeout option should be non-negative')
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError('prefetch_factor option could only be specified in multiprocessing.'
                         'let num_workers > 0 to enable multiprocessing, otherwise set '
                         'prefetch_factor to None.')
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError('prefetch_factor option should be non-negative')
    if persistent_workers and num_workers == 0:
        raise ValueError('persistent_workers option needs num_workers > 0')


def _check_iterable_options(shuffle, sampler, batch_sampler):
    if shuffle not in {False, None}:
        raise ValueError('DataLoader with IterableDataset: expected unspecified shuffle option, '
                         f'but got shuffle={shuffle}')
    if sampler is not None:
        raise ValueError('DataLoader with IterableDataset: expected unspecified sampler option, '
                         f'but got sampler={sampler}')
    if batch_sampler is not None:
        raise ValueError('DataLoader with IterableDataset: expected unspecified batch_sampler '
                         f'option, but got batch_sampler={batch_sampler}')


def _warn_worker_number(num_workers):
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    if cores and num_workers > cores:
        warnings.warn(f'This DataLoader will create {num_workers} worker processes in total. '
                      f'The suggested maximum number of workers on this system is {cores}; '
                      'more workers may slow loading down or freeze it.', stacklevel=3)


class _BaseDataLoaderIter:
    """Iteration state shared by both iterators: the index sampler's iterator, the workers'
    base seed (one draw per iterator) and the count of batches yielded."""

    def __init__(self, loader):
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._prefetch_factor = loader.prefetch_factor
        self._pin_memory = loader.pin_memory
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._persistent_workers = loader.persistent_workers
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = loader._get_shared_seed()
        self._num_yielded = 0

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        expected = self._IterableDataset_len_called
        if (expected is not None and self._dataset_kind == ITERABLE
                and self._num_yielded > expected):
            self._warn_length(expected)
        return data

    def _warn_length(self, expected):
        msg = (f'Length of IterableDataset {self._dataset} was reported to be {expected} (when '
               f'accessing len(dataloader)), but {self._num_yielded} samples have been fetched. ')
        if self._num_workers > 0:
            msg += ('With worker processes, each worker must yield its own share of the '
                    'dataset (see get_worker_info()).')
        warnings.warn(msg, stacklevel=3)

    def __len__(self):
        return len(self._index_sampler)


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    """Batches read and collated in the main process."""

    def __init__(self, loader):
        super().__init__(loader)
        self._fetcher = create_fetcher(self._dataset_kind, self._dataset, self._auto_collation,
                                       self._collate_fn, self._drop_last)

    def _next_data(self):
        return self._fetcher.fetch(self._next_index())


class _Worker:
    """The main process's handle on one worker: its process and its two pipe ends."""
    __slots__ = ('process', 'tasks', 'results', 'active', 'outstanding')

    def __init__(self, process, tasks, results):
        self.process = process
        self.tasks = tasks              # Connection: main -> worker
        self.results = results          # Connection: worker -> main
        self.active = True              # False once its IterableDataset is exhausted
        self.outstanding = 0

    def send(self, msg):
        try:
            self.tasks.send(msg)
        except OSError:
            pass     # a dead worker is reported by the wait for results


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Batches from ``num_workers`` worker processes (see the module docstring).

    Bookkeeping: tasks are numbered by ``_send_idx`` as they are sent; ``_task_info[idx]`` is
    ``(worker,)`` while outstanding and ``(worker, data)`` when a batch arrived early;
    ``_rcvd_idx`` is the next task to return. Tasks of a worker whose IterableDataset ended
    are skipped.
    """

    def __init__(self, loader):
        super().__init__(loader)
        self._in_order = loader.in_order
        self._owner_pid = os.getpid()
        self._shutdown = False
        self._workers = []
        context = loader.multiprocessing_context or _default_context()
        try:
            for worker_id in range(self._num_workers):
                self._workers.append(self._start_worker(context, loader, worker_id))
        except BaseException:
            self._shutdown_workers()
            raise
        self._reset(loader, first_iter=True)

    def _start_worker(self, context, loader, worker_id):
        task_reader, task_writer = context.Pipe(duplex=False)
        result_reader, result_writer = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker_loop, daemon=True,
            args=(self._dataset_kind, self._dataset, task_reader, result_writer,
                  self._auto_collation, self._collate_fn, self._drop_last, self._base_seed,
                  loader.worker_init_fn, worker_id, self._num_workers))
        process.start()
        task_reader.close()
        result_writer.close()
        return _Worker(process, task_writer, result_reader)

    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info = {}
        self._cycle = itertools.cycle(self._workers)
        if not first_iter:
            self._resume_workers()
        for w in self._workers:
            w.active = True
            w.outstanding = 0
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _resume_workers(self):
        """Start a new epoch on persistent workers: each one answers RESUMED after the answers
        to its earlier tasks, which are dropped."""
        for w in self._workers:
            w.send((RESUME,))
        waiting = len(self._workers)
        while waiting:
            kind, _, _ = self._receive(self._workers)[1]
            waiting -= kind == RESUMED

    def _pick_worker(self):
        """The next active worker: round-robin (in order), else the least busy; None if none."""
        if not self._in_order:
            active = [w for w in self._workers if w.active]
            return min(active, key=lambda w: w.outstanding) if active else None
        for _ in range(self._num_workers):
            w = next(self._cycle)
            if w.active:
                return w
        return None

    def _try_put_index(self):
        """Send the sampler's next index (list) to a worker, if there is one."""
        try:
            index = self._next_index()
        except StopIteration:
            return
        worker = self._pick_worker()
        if worker is None:
            return
        worker.send((TASK, self._send_idx, index))
        worker.outstanding += 1
        self._task_info[self._send_idx] = (worker,)
        self._send_idx += 1

    def _next_data(self):
        while True:
            info = self._next_pending()
            if info is None:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            worker = info[0]
            if len(info) == 2:
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._process_data(info[1])
            sources = ([worker] if self._in_order else
                       [w for w in self._workers if w.active and w.outstanding])
            worker, (kind, idx, data) = self._receive(sources)
            worker.outstanding -= 1
            if kind == STOP:
                self._retire(worker)
                self._try_put_index()
                continue
            if idx == self._rcvd_idx or not self._in_order:
                del self._task_info[idx]
                return self._process_data(data)
            self._task_info[idx] += (data,)

    def _next_pending(self):
        """The task info at ``_rcvd_idx`` after skipping finished tasks and the tasks of
        retired workers; None when nothing is pending."""
        info = self._task_info
        while self._rcvd_idx < self._send_idx:
            entry = info.get(self._rcvd_idx)
            if entry is not None:
                if len(entry) == 2 or entry[0].active:
                    return entry
                del info[self._rcvd_idx]
            self._rcvd_idx += 1
        return None

    def _retire(self, worker):
        """A worker whose IterableDataset ended gets no more tasks (and exits unless
        persistent)."""
        worker.active = False
        worker.outstanding = 0
        if not self._persistent_workers:
            worker.send(None)

    def _process_data(self, data):
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    def _receive(self, sources):
        """The next message from one of the ``sources`` workers: (worker, (kind, idx, data)).
        Raises RuntimeError when ``timeout`` passes or a worker died."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        by_conn = {w.results: w for w in sources}
        sentinels = [w.process.sentinel for w in self._workers if w.active]
        while True:
            wait_s = _POLL
            if deadline is not None:
                wait_s = max(0.0, min(_POLL, deadline - time.monotonic()))
            ready = _wait_ready(list(by_conn) + sentinels, wait_s)
            for conn in ready:
                worker = by_conn.get(conn)
                if worker is not None:
                    try:
                        return worker, pickle.loads(conn.recv_bytes())
                    except (EOFError, OSError):      # the worker closed its pipe: it exited
                        worker.process.join(_POLL)
                        self._raise_dead_workers([worker])
            if ready:
                self._raise_dead_workers([w for w in self._workers if w.active])
            if deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(f'DataLoader timed out after {self._timeout} seconds')

    def _raise_dead_workers(self, suspects):
        """RuntimeError naming the ``suspects`` that are no longer alive, if any."""
        dead = [w.process for w in suspects if not w.process.is_alive()]
        if dead:
            self._shutdown_workers()
            pids = ', '.join(str(p.pid) for p in dead)
            raise RuntimeError(f'DataLoader worker (pid(s) {pids}) exited unexpectedly')

    def _shutdown_workers(self):
        """Ask every worker to exit, terminate those that do not within the grace period and
        close the pipes. Only the process that started the workers does this."""
        if self._shutdown or os.getpid() != self._owner_pid:
            return
        self._shutdown = True
        for w in self._workers:
            if w.process.is_alive():
                w.send(None)
        deadline = time.monotonic() + _SHUTDOWN_GRACE
        for w in self._workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
        for w in self._workers:
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.tasks.close()
            w.results.close()

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:
            pass
