"""F.embedding, F.embedding_bag and F.one_hot: argument checks with PyTorch's exception types
and messages; the lookups are one Op each in ``ember.ops.embedding``.

ember has no sparse tensors, so ``sparse=True`` (a sparse weight gradient) raises when a
gradient for the weight would be recorded; lookups without autograd work as in PyTorch.
"""
import warnings

import numpy as np

from ..._backend import xp_of
from ..._tensor import Tensor, _wrap, type_name
from ...autograd.grad_mode import GRAD, no_grad
from ...ops.embedding import (Embedding, EmbeddingBag, bag_plan, embedding_renorm_,
                              one_hot as _one_hot)

__all__ = ['embedding', 'embedding_bag', 'one_hot']

_INDEX_KINDS = (np.dtype(np.int64), np.dtype(np.int32))


def _array(t, fn, arg, pos):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}(): argument '{arg}' (position {pos}) must be Tensor, not "
                        f'{type(t).__name__}')
    return t._data


def _index_array(t, fn, arg='indices', pos=1):
    a = t._data
    if a.dtype not in _INDEX_KINDS:
        raise RuntimeError(f"Expected tensor for argument #{pos} '{arg}' to have one of the "
                           f'following scalar types: Long, Int; but got {type_name(a)} instead '
                           f'(while checking arguments for {fn})')
    return a


def _check_sparse(sparse, weight, fn):
    if sparse and GRAD.enabled and weight._rg:
        raise RuntimeError(f'{fn}(): sparse=True asks for a sparse gradient of the weight, but '
                           'ember has no sparse tensors; use sparse=False (the dense gradient '
                           'has the same values)')


def _renorm(weight, idx, max_norm, norm_type):
    with no_grad():
        embedding_renorm_(weight, idx, max_norm, norm_type)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` at the indices in ``input``: input (*) int64/int32, weight
    (num_embeddings, embedding_dim) -> (*, embedding_dim).

    ``padding_idx`` rows get no gradient; ``scale_grad_by_freq`` divides each row's gradient
    by its count in ``input``; ``max_norm`` first renormalises the referenced rows of
    ``weight`` in place to at most that ``norm_type``-norm.
    """
    _array(input, 'embedding', 'input', 1)
    w = _array(weight, 'embedding', 'weight', 2)
    num = w.shape[0] if w.ndim else 0
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < num, 'Padding_idx must be within num_embeddings'
        elif padding_idx < 0:
            assert padding_idx >= -num, 'Padding_idx must be within num_embeddings'
            padding_idx = num + padding_idx
    idx = _index_array(input, 'embedding')
    if w.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    if idx.size and (bool((idx < 0).any()) or bool((idx >= num).any())):
        raise IndexError('index out of range in self')
    _check_sparse(sparse, weight, 'embedding')
    if max_norm is not None:
        _renorm(weight, idx, max_norm, norm_type)
    return Embedding.apply(weight, idx, padding_idx, bool(scale_grad_by_freq))


# ---- embedding_bag ----------------------------------------------------------------------------
def _bag_inputs(input, offsets):
    """(flat indices, bag starts or None, offsets Tensor or None) for a 1-D input with offsets
    or a 2-D input (one bag per row), with PyTorch's ValueErrors."""
    idx = input._data
    if idx.ndim == 2:
        if offsets is not None:
            kind = "<class 'ember.Tensor'>" if isinstance(offsets, Tensor) else type(offsets)
            raise ValueError('if input is 2D, then offsets has to be None, as input is treated is '
                             'a mini-batch of fixed length sequences. However, found offsets of '
                             f'type {kind}')
        b, length = idx.shape
        return idx.reshape(-1), xp_of(idx).arange(b) * length, None
    if idx.ndim == 1:
        if offsets is None:
            raise ValueError('offsets has to be a 1D Tensor but got None')
        if offsets.dim() != 1:
            raise ValueError('offsets has to be a 1D Tensor')
        return idx, None, offsets
    raise ValueError(f'input has to be 1D or 2D Tensor, but got Tensor of dimension {idx.ndim}')


def _check_offsets(off, n, include_last_offset):
    """Offsets as int64 on the input's device, with PyTorch's checks; returns (bag starts,
    end of the last bag)."""
    if include_last_offset and off.shape[0] < 1:
        raise RuntimeError('include_last_offset: number of offset should be at least 1')
    if off.shape[0]:
        first, last = int(off[0]), int(off[-1])
        if first != 0:
            raise RuntimeError('offsets[0] has to be 0, i.e., the first sequence in the '
                               'mini-batch has to start from position 0. However, got '
                               f'{first}')
        if last > n:
            raise RuntimeError(f"offsets[-1] can not be greater than input's length {n} but got "
                               f'offsets[-1] of {last}')
        if off.shape[0] > 1 and bool((off[1:] < off[:-1]).any()):
            raise RuntimeError('offsets must be non-decreasing, but got '
                               f'{off.tolist() if off.size <= 20 else "a decreasing pair"}')
    off = off.astype(np.int64, copy=False)
    if include_last_offset:
        return off[:-1], int(off[-1])
    return off, (n if off.shape[0] else 0)


def _check_bag_indices(idx, num):
    if idx.size == 0:
        return
    bad = (idx < 0) | (idx >= num)
    if bool(bad.any()):
        i = int(xp_of(idx).flatnonzero(bad)[0])
        raise RuntimeError(f'Index {i} of input takes value {int(idx[i])} which is not in the '
                           f'valid range [0, {num})')


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode='mean', sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Sums, means or maxes of bags of embedding rows, without materialising the bags.

    input: 1-D int indices with ``offsets`` (1-D, the start of each bag; with
    ``include_last_offset`` the last entry ends the last bag) or 2-D (B, L) (one bag per row,
    offsets None); weight (num_embeddings, D) -> (B, D). ``per_sample_weights`` (shaped like
    input, mode 'sum' only) scale each row; ``padding_idx`` entries are left out of their
    bags (and of the 'mean' count); empty bags give zeros.
    """
    if (isinstance(weight, Tensor) and isinstance(input, Tensor)
            and weight._data.dtype.kind in 'iu' and input._data.dtype.kind == 'f'):
        warnings.warn('Argument order of nn.functional.embedding_bag was changed. Usage '
                      '`embedding_bag(weight, input, ...)` is deprecated, and should now be '
                      '`embedding_bag(input, weight, ...)`.', stacklevel=2)
        weight, input = input, weight
    _array(input, 'embedding_bag', 'input', 1)
    w = _array(weight, 'embedding_bag', 'weight', 2)
    if per_sample_weights is not None and tuple(input.shape) != tuple(per_sample_weights.shape):
        raise ValueError(f'embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is '
                         'not None, then it must have the same shape as the input '
                         f'({input.shape})')
    if w.ndim != 2:
        raise ValueError(f'weight has to be a 2D Tensor, but got Tensor of dimension {w.ndim}')
    idx, starts, offsets = _bag_inputs(input, offsets)
    if mode not in ('sum', 'mean', 'max'):
        raise ValueError('mode has to be one of sum, mean or max')
    if scale_grad_by_freq and mode == 'max':
        raise ValueError('max mode does not support scaling the gradient by the frequency')
    if per_sample_weights is not None and mode != 'sum':
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. "
                                  "per_sample_weights is only supported for mode='sum' "
                                  f"(got mode='{mode}'). Please open a feature request on GitHub.")
    num = w.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise RuntimeError(f'padding_idx must be within the number of embeddings, {-num} '
                               f'through {num - 1}, but got {padding_idx}')
        padding_idx %= num
    _index_array(input, 'embedding_bag')
    end = idx.shape[0]
    if offsets is not None:
        off = _index_array(offsets, 'embedding_bag', 'offsets', 2)
        starts, end = _check_offsets(off, idx.shape[0], include_last_offset)
    if per_sample_weights is not None and per_sample_weights._data.dtype != w.dtype:
        raise RuntimeError("Expected tensor for argument #1 'weight' to have the same type as "
                           "tensor for argument #1 'per_sample_weights'; but type "
                           f'{type_name(w)} does not equal {type_name(per_sample_weights._data)} '
                           '(while checking arguments for embedding_bag)')
    _check_bag_indices(idx, num)
    _check_sparse(sparse, weight, 'embedding_bag')
    if max_norm is not None:
        _renorm(weight, idx, max_norm, norm_type)
    plan = bag_plan(idx, starts, end, padding_idx)
    return EmbeddingBag.apply(weight, per_sample_weights, plan, mode, bool(scale_grad_by_freq))


# ---- one_hot ----------------------------------------------------------------------------------
def one_hot(tensor, num_classes=-1):
    """int64 one-hot codes: (*) class indices -> (*, num_classes); ``num_classes=-1`` uses
    the largest index + 1."""
    idx = _array(tensor, 'one_hot', 'tensor', 1)
    if idx.dtype != np.int64:
        raise RuntimeError('one_hot is only applicable to index tensor of type LongTensor.')
    if idx.size == 0:
        if num_classes <= 0:
            raise RuntimeError('Can not infer total number of classes from empty tensor.')
        return _wrap(_one_hot(idx, num_classes))
    if int(idx.min()) < 0:
        raise RuntimeError('Class values must be non-negative.')
    top = int(idx.max())
    if num_classes == -1:
        num_classes = top + 1
    elif top >= num_classes:
        raise RuntimeError('Class values must be smaller than num_classes.')
    return _wrap(_one_hot(idx, num_classes))
