"""Allocator settings that keep large temporaries from costing page faults on every step.

A training step allocates and frees the same large arrays (activations, columns, gradients) of
a few MB each, every step. With glibc's defaults, blocks above 128 KiB (raised adaptively,
but only as far as the largest block freed so far) are mapped afresh from the kernel and
unmapped when freed, and free memory at the top of the heap is returned to the kernel early;
the next step then touches new pages, and the page faults cost as much as the arithmetic
(measured: a LeNet training step on 64 32x32 images took 22.5 ms with ~2,300 page faults per
step, 16 ms with none). PyTorch avoids this with its own allocators; ember asks glibc to serve
blocks up to ``MMAP_THRESHOLD`` from the heap and to keep up to ``TRIM_THRESHOLD`` of free
memory before returning any. Only glibc-based Linux is concerned; set ``EMBER_MALLOC_TUNING=0``
to keep the C library's defaults.
"""
import ctypes
import os
import platform

__all__ = []

#: Blocks up to this size come from the heap (glibc's upper limit for this setting).
MMAP_THRESHOLD = 32 << 20
#: Free memory kept at the top of the heap before any is given back to the kernel.
TRIM_THRESHOLD = 128 << 20

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def tune_malloc():
    """Apply the settings above (once, at import); True when glibc accepted them."""
    if os.environ.get('EMBER_MALLOC_TUNING', '1') == '0':
        return False
    if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
