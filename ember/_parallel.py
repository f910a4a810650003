"""Intra-op parallelism for large compute-bound elementwise work, as PyTorch does on the CPU.

NumPy's ufunc loops release the GIL, so splitting one large contiguous array into a chunk per
core and running the chunks on a small persistent thread pool uses every core. This pays for
transcendental functions (exp, log, tanh, ...) and multi-pass kernels (softmax rows, norms);
memory-bound one-pass arithmetic (add, mul) gains nothing from it here and stays single calls.
Arrays below ``THRESHOLD`` elements (where dispatch costs more than it saves), non-contiguous
arrays and CuPy arrays take the plain single call. ``one_blas_thread()`` keeps OpenBLAS on the
calling thread while ember's own pool runs BLAS calls (nested threads would oversubscribe), and
``gemm_op`` keeps the GEMMs of small matrix products there too: after a multi-threaded call,
OpenBLAS's workers spin for about 0.1 s of CPU, competing with ember's threads for the cores.

``ember.set_num_threads(n)`` / ``ember.get_num_threads()`` control the pool, as in PyTorch.
"""
import ctypes
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ['set_num_threads', 'get_num_threads']

THRESHOLD = 1 << 18

try:
    _cores = len(os.sched_getaffinity(0))
except AttributeError:
    _cores = os.cpu_count() or 1
_threads = [max(1, min(_cores, 16))]
_pool = [None]


def set_num_threads(n):
    """Number of threads ember uses for large elementwise operations."""
    n = int(n)
    if n < 1:
        raise ValueError('set_num_threads expects a positive integer')
    if n != _threads[0] and _pool[0] is not None:
        _pool[0].shutdown(wait=True)
        _pool[0] = None
    _threads[0] = n


def get_num_threads():
    return _threads[0]


def _executor():
    if _pool[0] is None:
        _pool[0] = ThreadPoolExecutor(_threads[0], thread_name_prefix='ember')
    return _pool[0]


def _splits(n, parts):
    step = -(-n // parts)
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def map_chunks(fn, out, *arrays):
    """Call ``fn(*chunks_of_arrays, out=chunk_of_out)`` over flat chunks of same-shape,
    C-contiguous NumPy arrays, in parallel when they are large; returns ``out``."""
    n = out.size
    k = _threads[0]
    if n < THRESHOLD or k == 1:
        fn(*arrays, out=out)
        return out
    flat_out = out.reshape(-1)
    flats = [a.reshape(-1) for a in arrays]
    futures = [_executor().submit(fn, *[f[i:j] for f in flats], out=flat_out[i:j])
               for i, j in _splits(n, k)]
    for f in futures:
        f.result()
    return out


def map_rows(fn, out, *arrays):
    """Call ``fn(*row_blocks, out=row_block_of_out)`` over blocks of rows of same-shape 2-D
    arrays, one block per thread (each block is independent: e.g. a row-wise softmax)."""
    n = out.shape[0]
    k = min(_threads[0], n)
    if k <= 1:
        fn(*arrays, out=out)
        return out
    futures = [_executor().submit(fn, *[a[i:j] for a in arrays], out=out[i:j])
               for i, j in _splits(n, k)]
    for f in futures:
        f.result()
    return out


def parallel_ok(*arrays):
    """True when these arrays can be split by ``map_chunks`` (large, C-contiguous NumPy, same
    shape)."""
    a = arrays[0]
    if a.__class__ is not np.ndarray or a.size < THRESHOLD or _threads[0] == 1:
        return False
    return all(x.__class__ is np.ndarray and x.flags.c_contiguous and x.shape == a.shape
               for x in arrays)


def unary(ufunc, x):
    """``ufunc(x)`` (a same-dtype float ufunc such as exp) using all cores for large
    contiguous NumPy arrays."""
    if not parallel_ok(x):
        return ufunc(x)
    return map_chunks(ufunc, np.empty(x.shape, x.dtype), x)


def binary(ufunc, a, b):
    """``ufunc(a, b)`` for same-shape, same-dtype arrays, using all cores when they are large
    and contiguous (otherwise one plain call, broadcasting as usual)."""
    if a.__class__ is not np.ndarray or b.__class__ is not np.ndarray or a.dtype != b.dtype \
            or not parallel_ok(a, b):
        return ufunc(a, b)
    return map_chunks(ufunc, np.empty(a.shape, a.dtype), a, b)


def kernel(fn, like, *arrays):
    """``fn(*arrays, out=new)`` where ``fn`` is an elementwise kernel writing into ``out``
    (shaped and typed like ``like``), split across cores for large contiguous inputs."""
    if like.__class__ is np.ndarray or isinstance(like, np.generic):
        out = np.empty(like.shape, like.dtype)
    else:
        out = like.__class__(like.shape, like.dtype)   # a CuPy array
    if parallel_ok(like, *arrays):
        return map_chunks(fn, out, *arrays)
    fn(*arrays, out=out)
    return out


# ---- BLAS threads -----------------------------------------------------------------------------
def _find_openblas_threads():
    """(get, set) of the thread count of the OpenBLAS NumPy links to (Linux), or None."""
    try:
        with open('/proc/self/maps') as f:
            paths = {line.split()[-1] for line in f if 'openblas' in line.lower()}
    except OSError:
        return None
    for path in sorted(paths, key=lambda p: ('numpy' not in p, p)):   # NumPy's own first
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (('scipy_openblas', '64_'), ('scipy_openblas', ''),
                               ('openblas', '64_'), ('openblas', '')):
            get = getattr(lib, f'{prefix}_get_num_threads{suffix}', None)
            put = getattr(lib, f'{prefix}_set_num_threads{suffix}', None)
            if get is not None and put is not None:
                return get, put
    return None


_openblas = []


class one_blas_thread:
    """Context: OpenBLAS computes on the calling thread only (restored on exit). Inside
    ember's own thread pool a multi-threaded BLAS would oversubscribe the cores."""
    __slots__ = ('saved',)

    def __enter__(self):
        if not _openblas:
            _openblas.append(_find_openblas_threads())
        fns = _openblas[0]
        self.saved = None if fns is None else fns[0]()
        if self.saved is not None and self.saved > 1:
            fns[1](1)
        return self

    def __exit__(self, *exc):
        if self.saved is not None and self.saved > 1:
            _openblas[0][1](self.saved)


#: GEMM ops below this many flops keep OpenBLAS on the calling thread (``gemm_op``). Measured:
#: a LeNet training step at 2 threads took 24 ms when its small Linear GEMMs used OpenBLAS's
#: threads (whose spinning then slowed ember's parallel convolutions), 18.6 ms when they did not.
BLAS_THREADS_MIN = 1 << 27


def gemm_op(flops):
    """Class decorator for an Op whose forward and backward are matrix products: both run on
    one BLAS thread when ``flops(*forward_args)`` (an estimate of one product's flops) is below
    ``BLAS_THREADS_MIN``, with OpenBLAS's own threads otherwise."""
    def decorate(cls):
        forward, backward = cls.forward, cls.backward

        def gemm_forward(ctx, *args):
            ctx.small_gemm = small = flops(*args) < BLAS_THREADS_MIN
            if not small:
                return forward(ctx, *args)
            with one_blas_thread():
                return forward(ctx, *args)

        def gemm_backward(ctx, g):
            if not ctx.small_gemm:
                return backward(ctx, g)
            with one_blas_thread():
                return backward(ctx, g)
        cls.forward, cls.backward = staticmethod(gemm_forward), staticmethod(gemm_backward)
        return cls
    return decorate
