"""Variable-length sequences for the recurrent layers, as torch.nn.utils.rnn.

A ``PackedSequence`` holds the entries of B sequences sorted by decreasing length, time step
by time step: ``data`` (N, *) with N = sum of the lengths, and ``batch_sizes`` (a CPU int64
tensor) the number of sequences still running at each step, so step t occupies the
``batch_sizes[t]`` rows after those of steps 0..t-1 and holds the first ``batch_sizes[t]``
sorted sequences. ``sorted_indices`` maps sorted positions to the caller's batch order
(None when the batch was already sorted) and ``unsorted_indices`` is its inverse.
RNN, LSTM and GRU accept a PackedSequence and give one back.
"""
from collections import namedtuple

import numpy as np

from ... import _dtype as _dt
from ..._backend import to_device_array, xp_of
from ..._tensor import Tensor, _wrap
from ...autograd.function import broadcast_error
from ...ops import rnn as _ops
from ...ops.linalg import _sname

__all__ = ['PackedSequence', 'invert_permutation', 'pack_padded_sequence',
           'pad_packed_sequence', 'pad_sequence', 'unpad_sequence', 'pack_sequence',
           'unpack_sequence']


class PackedSequence(namedtuple('PackedSequence_', ['data', 'batch_sizes', 'sorted_indices',
                                                    'unsorted_indices'])):
    """Packed batch of variable-length sequences (see the module docstring). Build it with
    ``pack_padded_sequence`` or ``pack_sequence``; ``PackedSequence((data, batch_sizes))`` is
    also accepted."""
    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not isinstance(data, (list, tuple)) or len(data) != 2:
                raise AssertionError('Expected data to be a list or tuple of length 2')
            data, batch_sizes = data
        if batch_sizes.device.type != 'cpu':
            raise ValueError(
                'batch_sizes should always be on CPU. Instances of PackedSequence should never '
                'be created manually. They should be instantiated by functions like '
                'pack_sequence and pack_padded_sequences in nn.utils.rnn. '
                'https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence')
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """The same sequence with ``data.to(*args, **kwargs)`` (indices follow data's device;
        batch_sizes stay on the CPU); ``self`` when nothing changes."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        dev = data.device
        sorted_indices = None if self.sorted_indices is None else self.sorted_indices.to(dev)
        unsorted = None if self.unsorted_indices is None else self.unsorted_indices.to(dev)
        return type(self)(data, self.batch_sizes, sorted_indices, unsorted)

    def cuda(self, *args, **kwargs):
        return self.to(*args, device='cuda', **kwargs)

    def cpu(self, *args, **kwargs):
        return self.to(*args, device='cpu', **kwargs)

    def double(self):
        return self.to(dtype=_dt.float64)

    def float(self):
        return self.to(dtype=_dt.float32)

    def half(self):
        return self.to(dtype=_dt.float16)

    def long(self):
        return self.to(dtype=_dt.int64)

    def int(self):
        return self.to(dtype=_dt.int32)

    def short(self):
        return self.to(dtype=_dt.int16)

    def char(self):
        return self.to(dtype=_dt.int8)

    def byte(self):
        return self.to(dtype=_dt.uint8)

    def pin_memory(self):
        return self

    def is_pinned(self):
        return False

    @property
    def is_cuda(self):
        return self.data.is_cuda


def invert_permutation(permutation):
    """The inverse of a permutation tensor (None stays None): out[permutation[i]] = i."""
    if permutation is None:
        return None
    p = permutation._data
    inv = xp_of(p).empty_like(p)
    inv[p] = xp_of(p).arange(p.shape[0], dtype=p.dtype)
    return _wrap(inv)


def _lengths_array(lengths):
    """``lengths`` (list or tensor) as a NumPy int64 vector, checked as PyTorch does."""
    if isinstance(lengths, Tensor):
        a = lengths._data
        if a.__class__ is not np.ndarray or a.ndim != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                               f'{a.ndim}D {lengths.device} {_sname(a.dtype)} tensor')
        return a.astype(np.int64)
    return np.asarray(lengths, dtype=np.int64).reshape(-1)


def _check_lengths(lengths, batch):
    if lengths.shape[0] != batch:
        raise RuntimeError(f'Expected `len(lengths)` to be equal to batch_size, but got '
                           f'{lengths.shape[0]} (batch_size={batch})')
    if batch and lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if np.any(lengths[1:] > lengths[:-1]):
        raise RuntimeError(
            '`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. '
            'You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to '
            'sidestep this requirement if you do not need ONNX exportability.')


def _int64(a):
    from ..._creation import tensor
    return tensor(np.ascontiguousarray(a, dtype=np.int64))


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch: input (T, B, *) (or (B, T, *) when ``batch_first``) whose sequence
    b has ``lengths[b]`` valid steps. With ``enforce_sorted`` the lengths must be
    non-increasing; otherwise the batch is sorted first and ``sorted_indices`` records the
    order."""
    lens = _lengths_array(lengths)
    sorted_indices = None
    if not enforce_sorted:
        order = np.argsort(-lens, kind='stable')
        lens = lens[order]
        sorted_indices = _wrap(to_device_array(order, input.device))
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    shape = input.shape
    if len(shape) < 2:
        raise RuntimeError(f'Expected `len(lengths)` to be equal to batch_size, but got '
                           f'{lens.shape[0]} (batch_size={shape[0] if shape else 0})')
    batch, steps = (shape[0], shape[1]) if batch_first else (shape[1], shape[0])
    _check_lengths(lens, batch)
    if batch and lens[0] > steps:
        raise RuntimeError(f'Expected all lengths to be at most the padded length {steps}, but '
                           f'got {int(lens[0])}')
    index, batch_sizes = _ops.packed_index(lens, steps, batch_first)
    data = _ops.PackPaddedSequence.apply(input, to_device_array(index, input.device))
    return PackedSequence(data, _int64(batch_sizes), sorted_indices, None)


def _packed_lengths(batch_sizes):
    """Each sorted sequence's length from the batch sizes: the steps where it still runs."""
    bs = batch_sizes._data
    bs = bs if bs.__class__ is np.ndarray else bs.get()
    batch = int(bs[0]) if bs.shape[0] else 0
    return (bs[None, :] > np.arange(batch)[:, None]).sum(1).astype(np.int64)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Inverse of ``pack_padded_sequence``: (padded, lengths) with padded (T, B, *) (or
    (B, T, *)), T = ``total_length`` or the longest length, in the original batch order;
    lengths is a CPU int64 tensor."""
    data, batch_sizes = sequence.data, sequence.batch_sizes
    longest = batch_sizes.shape[0]
    if total_length is None:
        total_length = longest
    elif total_length < longest:
        raise ValueError(f'Expected total_length to be at least the length of the longest '
                         f'sequence in input, but got total_length={total_length} and max '
                         f'sequence length being {longest}')
    lens = _packed_lengths(batch_sizes)
    batch = lens.shape[0]
    index, _ = _ops.packed_index(lens, total_length, batch_first)
    shape = (batch, total_length) if batch_first else (total_length, batch)
    padded = _ops.PadPackedSequence.apply(data, to_device_array(index, data.device), shape,
                                          padding_value)
    lengths = _int64(lens)
    unsorted = sequence.unsorted_indices
    if unsorted is not None:
        padded = padded.index_select(0 if batch_first else 1, unsorted)
        lengths = _int64(lens[to_device_array(unsorted._data, 'cpu')])
    return padded, lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side='right'):
    """Stack sequences (L_b, *) into (T, B, *) (or (B, T, *)), T = max L_b, padding each with
    ``padding_value`` after it (``padding_side='right'``) or before it ('left')."""
    if padding_side not in ('left', 'right'):
        raise RuntimeError(f'Expected padding_side to be one of left or right, but got '
                           f'{padding_side}.')
    seqs = tuple(sequences.unbind(0) if isinstance(sequences, Tensor) else sequences)
    if not seqs:
        raise RuntimeError('received an empty list of sequences')
    trailing = tuple(seqs[0].shape[1:])
    for s in seqs:
        slot = (s.shape[0],) + trailing if s.dim() else trailing
        _check_fits(slot, tuple(s.shape))
    return _ops.PadSequence.apply(bool(batch_first), padding_value, padding_side == 'left',
                                  *seqs)


def _check_fits(slot, shape):
    """A sequence of ``shape`` must broadcast into its ``slot`` of the output (PyTorch's copy
    rules and messages)."""
    err = broadcast_error(slot, shape)
    if err is not None:
        raise err
    full = tuple(np.broadcast_shapes(slot, shape))
    if full != slot:
        raise RuntimeError(f"output with shape {list(slot)} doesn't match the broadcast shape "
                           f'{list(full)}')


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences (L_b, *) (sorted by decreasing length unless
    ``enforce_sorted=False``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences (lengths[b], *) of a padded batch (T, B, *) (or (B, T, *))."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lens = _lengths_array(lengths) if isinstance(lengths, Tensor) else lengths
    return [seq[:int(n)] for seq, n in zip(padded_sequences, lens)]


def unpack_sequence(packed_sequences):
    """The list of sequences of a PackedSequence, in the original batch order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
