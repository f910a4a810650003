"""The DataLoader's worker processes, as ``torch.utils.data._utils.worker``.

Each worker owns a copy of the dataset and two one-way pipes to the main process. It receives
tasks ``(TASK, idx, index)`` and answers, in the order received, with pickled
``(kind, idx, payload)`` messages: ``DATA`` (a batch or an ``ExceptionWrapper``), ``STOP``
(its IterableDataset is exhausted) or ``RESUMED`` (a new epoch started, persistent workers).
``None`` ends the worker. A background thread writes the answers to the pipe so that the
worker can compute its next batch while the main process is still reading the previous one.

A worker seeds Python's ``random`` and ember with ``base_seed + worker_id`` and NumPy's global
generator from ``SeedSequence([worker_id, base_seed])`` (PyTorch's worker seeding), runs
``worker_init_fn(worker_id)`` and exits by itself when the main process dies.
"""
import multiprocessing
import pickle
import queue
import random
import sys
import threading
import traceback
from dataclasses import dataclass

import numpy as np

__all__ = ['WorkerInfo', 'get_worker_info', 'ExceptionWrapper']

TASK, RESUME = 0, 1                    # messages to a worker
DATA, STOP, RESUMED = 0, 1, 2          # messages from a worker
POLL_INTERVAL = 1.0                    # seconds between checks that the main process lives


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker process knows about itself (``get_worker_info()`` inside a worker):
    its ``id`` in [0, num_workers), ``num_workers``, its ``seed`` (base_seed + id) and its
    copy of the ``dataset``."""
    id: int
    num_workers: int
    seed: int
    dataset: object
    rng: object = None
    worker_method: str = 'multiprocessing'


_worker_info = None


def get_worker_info():
    """The current worker's ``WorkerInfo``, or None in the main process.

    An ``IterableDataset.__iter__`` uses it to give each worker its own share of the data
    (otherwise every worker yields the whole dataset)."""
    return _worker_info


class _KeyErrorMessage(str):
    """A KeyError's message shown as written (KeyError's str() would quote it)."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process by type and traceback text
    and raised there again by ``reraise()``."""

    def __init__(self, exc_info=None, where='in background'):
        exc_info = sys.exc_info() if exc_info is None else exc_info
        self.exc_type = exc_info[0]
        self.exc_msg = ''.join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        """Raise the worker's exception type with its original traceback in the message
        (a RuntimeError when that type cannot be built from one message)."""
        msg = f'Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}'
        if self.exc_type is KeyError:
            raise KeyError(_KeyErrorMessage(msg))
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exception


class _ResultSender:
    """Writes pickled answers to the main process from a background thread, in order."""

    def __init__(self, conn):
        self._conn = conn
        self._queue = queue.SimpleQueue()
        threading.Thread(target=self._run, daemon=True, name='ember-worker-sender').start()

    def put(self, payload):
        self._queue.put(payload)

    def _run(self):
        while True:
            payload = self._queue.get()
            try:
                self._conn.send_bytes(payload)
            except OSError:          # the main process went away
                return


def _dumps(kind, idx, payload, where):
    """Pickle an answer; an unpicklable batch (or exception) becomes a picklable error."""
    try:
        return pickle.dumps((kind, idx, payload), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        error = ExceptionWrapper(where=where)
    try:
        return pickle.dumps((DATA, idx, error), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        error.exc_type = RuntimeError
        return pickle.dumps((DATA, idx, error), protocol=pickle.HIGHEST_PROTOCOL)


def _seed_worker(seed, base_seed, worker_id):
    """PyTorch's worker seeding: random and ember get ``seed``, NumPy a SeedSequence state."""
    import ember
    from ember import _parallel
    _parallel._pool[0] = None    # the parent's thread pool has no threads in a forked child
    ember.set_num_threads(1)
    random.seed(seed)
    ember.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))


def _worker_loop(dataset_kind, dataset, task_conn, result_conn, auto_collation, collate_fn,
                 drop_last, base_seed, init_fn, worker_id, num_workers):
    """Body of worker process ``worker_id`` (see the module docstring)."""
    from .fetch import create_fetcher, ITERABLE
    global _worker_info
    where = f'in DataLoader worker process {worker_id}'
    try:
        seed = base_seed + worker_id
        _seed_worker(seed, base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        sender = _ResultSender(result_conn)

        def new_fetcher():
            return create_fetcher(dataset_kind, dataset, auto_collation, collate_fn, drop_last)

        init_error = fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = new_fetcher()
        except Exception:
            init_error = ExceptionWrapper(where=where)
        ended = False
        parent = multiprocessing.parent_process()
        while True:
            if not task_conn.poll(POLL_INTERVAL):
                if parent is not None and not parent.is_alive():
                    return
                continue
            msg = task_conn.recv()
            if msg is None:
                return
            if msg[0] == RESUME:
                ended = False
                if init_error is None and dataset_kind == ITERABLE:
                    try:
                        fetcher = new_fetcher()
                    except Exception:
                        init_error = ExceptionWrapper(where=where)
                sender.put(_dumps(RESUMED, None, None, where))
                continue
            if ended:
                continue
            _, idx, index = msg
            kind = DATA
            if init_error is not None:
                data = init_error
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if dataset_kind != ITERABLE:
                        data = ExceptionWrapper(where=where)
                    else:
                        kind, data, ended = STOP, None, True
                except Exception:
                    data = ExceptionWrapper(where=where)
            sender.put(_dumps(kind, idx, data, where))
    except (KeyboardInterrupt, EOFError, OSError):
        pass   # the main process is stopping (Ctrl-C) or gone
