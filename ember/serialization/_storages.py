"""Finding which saved arrays share memory (views, aliases, overlapping buffers) and grouping
them into storages: 1-D blocks of memory each tensor is a strided view of."""
import ctypes
from collections import OrderedDict

import numpy as np

from .._backend import cupy


class _Memory:
    """Where one array's elements lie: byte range [low, high), owner, device."""
    __slots__ = ('array', 'ptr', 'low', 'high', 'owner', 'device')

    def __init__(self, a):
        self.array = a
        if isinstance(a, np.ndarray):
            self.ptr = a.__array_interface__['data'][0]
            self.owner = id(_numpy_owner(a))
            self.device = 'cpu'
        else:
            self.ptr = a.data.ptr
            self.owner = id(a.data.mem)
            self.device = f'cuda:{a.device.id}'
        lo = hi = 0
        for n, s in zip(a.shape, a.strides):
            lo += min(0, (n - 1) * s)
            hi += max(0, (n - 1) * s)
        self.low = self.ptr + lo
        self.high = self.ptr + hi + a.itemsize if a.size else self.ptr


def _numpy_owner(a):
    """The object at the end of an array's chain of ``base`` arrays (the memory's owner)."""
    while True:
        b = a.base
        if b is None:
            return a
        if not (isinstance(b, np.ndarray) or isinstance(getattr(b, 'base', None), np.ndarray)):
            return b
        a = b


class _Storage:
    """A block of memory [low, high) on one device that some saved arrays view."""

    def __init__(self, members):
        self.members = members
        self.device = members[0].device
        self.low = min(m.low for m in members)
        self.high = max(m.high for m in members)
        first = members[0].array.dtype
        same = all(m.array.dtype == first for m in members)
        self.dtype = first if same and (self.high - self.low) % first.itemsize == 0 \
            else np.dtype(np.uint8)

    def host_array(self):
        """The storage's bytes as a 1-D host array of ``self.dtype`` (no copy on the CPU)."""
        n = self.high - self.low
        if n == 0:
            return np.empty(0, self.dtype)
        a = self.members[0].array
        if isinstance(a, np.ndarray):
            raw = np.ctypeslib.as_array((ctypes.c_uint8 * n).from_address(self.low))
        else:
            cp = cupy()
            mem = a.data.mem
            ptr = cp.cuda.MemoryPointer(mem, self.low - mem.ptr)
            raw = cp.ndarray((n,), cp.uint8, memptr=ptr).get()
        return raw.view(self.dtype)


def _plan_storages(arrays):
    """Group arrays whose memory overlaps or has one owner into storages.

    Returns (storages, entries): entries[i] = (storage index, element offset, element
    strides) of arrays[i] in its storage."""
    mems = [_Memory(a) for a in arrays]
    storages, entries = [], [None] * len(mems)
    for group in _sharing_groups(mems):
        while group:
            storage = _Storage([mems[i] for i in group])
            placed = {i: _place_in(mems[i], storage.low) for i in group}
            odd = [i for i in group if placed[i] is None]
            if odd:   # layouts that are not whole elements from the block's start: own copies
                for i in odd:
                    a = mems[i].array
                    own = a if a.flags.c_contiguous else a.copy()
                    storages.append(_Storage([_Memory(own)]))
                    entries[i] = (len(storages) - 1, 0, _c_strides(a.shape))
                group = [i for i in group if placed[i] is not None]
                continue
            for i in group:
                entries[i] = (len(storages),) + placed[i]
            storages.append(storage)
            break
    return storages, entries


def _sharing_groups(mems):
    """Lists of indices of ``mems`` that share memory (same owner or overlapping bytes)."""
    parent = list(range(len(mems)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_of_owner = {}
    for i, m in enumerate(mems):
        if m.array.size:
            parent[find(i)] = find(first_of_owner.setdefault((m.device, m.owner), i))
    order = sorted((i for i, m in enumerate(mems) if m.array.size),
                   key=lambda i: (mems[i].device, mems[i].low))
    prev, reach = None, 0
    for i in order:
        m = mems[i]
        if prev is not None and mems[prev].device == m.device and m.low < reach:
            parent[find(i)] = find(prev)
            reach = max(reach, m.high)
        else:
            prev, reach = i, m.high
    groups = OrderedDict()
    for i in range(len(mems)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _place_in(m, low):
    """(element offset, element strides) of array ``m`` from byte ``low``, or None when its
    layout is not a whole number of its elements."""
    item = m.array.itemsize
    offset = m.ptr - low
    if offset % item or any(s % item for s in m.array.strides):
        return None
    return offset // item, [s // item for s in m.array.strides]


def _c_strides(shape):
    out, step = [], 1
    for n in reversed(shape):
        out.append(step)
        step *= max(n, 1)
    return out[::-1]
