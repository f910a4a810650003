"""Attention: ``F.scaled_dot_product_attention`` and ``F.multi_head_attention_forward``.

Arguments are checked here with PyTorch's exception types and messages; the attention itself
is ONE fused op (``ember.ops.attention.Attention``), the projections are ``F.linear`` and the
head split/merge are views and one reshape.

Mask conventions (as PyTorch): in ``scaled_dot_product_attention`` a bool ``attn_mask`` marks
the pairs that TAKE PART (True); in ``multi_head_attention_forward`` bool masks mark what is
MASKED OUT (True), and float masks are added to the scores in both.
"""
import math
import warnings

import numpy as np

from ... import _creation
from ..._tensor import Tensor
from ...autograd.function import broadcast_error
from ...ops.attention import Attention, AttentionMm
from ...ops.linalg import _cpp
from ...ops.shape import cat
from .linear import linear
from .padding import pad

__all__ = ['scaled_dot_product_attention', 'multi_head_attention_forward']


# ---- scaled dot-product attention -----------------------------------------------------------
def _tensor(t, arg, pos=None):
    if not isinstance(t, Tensor):
        where = f" (position {pos})" if pos else ''
        raise TypeError(f"scaled_dot_product_attention(): argument '{arg}'{where} must be "
                        f'Tensor, not {type(t).__name__}')
    return t._data


def _check_sdpa_inputs(q, k, v, is_causal):
    if not isinstance(is_causal, bool):
        raise TypeError(f"scaled_dot_product_attention(): argument 'is_causal' must be bool, "
                        f'not {type(is_causal).__name__}')
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise RuntimeError(f'Expected query, key, and value to all be  at least 2 dimensional, '
                           f'but got query.dim: {q.ndim} key.dim: {k.ndim} and value.dim: '
                           f'{v.ndim} instead.')
    if not q.dtype == k.dtype == v.dtype:
        raise RuntimeError(f'Expected query, key, and value to have the same dtype, but got '
                           f'query.dtype: {_cpp(q.dtype)} key.dtype: {_cpp(k.dtype)} and '
                           f'value.dtype: {_cpp(v.dtype)} instead.')
    if q.dtype.kind != 'f':
        from ..._tensor import _NP_NAMES
        raise RuntimeError(f'expected scalar type Float but found {_NP_NAMES[q.dtype.name]}')


def _gqa_groups(q, k, v, enable_gqa):
    """(key repeats, value repeats) along the head axis -3 for grouped-query attention."""
    if not enable_gqa:
        return 1, 1
    if q.ndim < 3 or k.ndim < 3 or v.ndim < 3:
        raise IndexError('Dimension out of range (expected to be in range of [-2, 1], but got '
                         '-3)')
    hq, hk, hv = q.shape[-3], k.shape[-3], v.shape[-3]
    if hk == 0 or hv == 0 or hq % hk or hq % hv:
        raise RuntimeError('Number of heads in key and value must divide the number of heads '
                           'in ')
    return hq // hk, hq // hv


def _batch_shape(q, k, v, gk, gv):
    """Broadcast batch shape of q, k and v (k and v heads repeated), PyTorch's error if none."""
    shapes = [q.shape[:-2], k.shape[:-3] + (k.shape[-3] * gk,) if gk > 1 else k.shape[:-2],
              v.shape[:-3] + (v.shape[-3] * gv,) if gv > 1 else v.shape[:-2]]
    out = ()
    for s in shapes:
        err = broadcast_error(out, s)
        if err is not None:
            raise err
        n = max(len(out), len(s))
        a, b = (1,) * (n - len(out)) + out, (1,) * (n - len(s)) + s
        out = tuple(x if y == 1 else y for x, y in zip(a, b))
    return out


def _check_sizes(q, k, v, batch):
    n = math.prod(batch)
    if k.shape[-1] != q.shape[-1]:
        raise RuntimeError(f'Expected size for first two dimensions of batch2 tensor to be: '
                           f'[{n}, {q.shape[-1]}] but got: [{n}, {k.shape[-1]}].')
    if v.shape[-2] != k.shape[-2]:
        raise RuntimeError(f'Expected size for first two dimensions of batch2 tensor to be: '
                           f'[{n}, {k.shape[-2]}] but got: [{n}, {v.shape[-2]}].')


def _check_sdpa_mask(m, q, scores_shape):
    if m.ndim == 0:
        raise IndexError('Dimension specified as -2 but tensor has no dimensions')
    if m.ndim == 1:
        raise IndexError('Dimension out of range (expected to be in range of [-1, 0], but got '
                         '-2)')
    if m.dtype != np.bool_ and m.dtype != np.float32 and m.dtype != q.dtype:
        raise RuntimeError(f'Expected attn_mask dtype to be bool or float or to match query '
                           f'dtype, but got attn_mask.dtype: {_cpp(m.dtype)} and  query.dtype: '
                           f'{_cpp(q.dtype)} instead.')
    if m.ndim > len(scores_shape):
        full = list(m.shape[:m.ndim - len(scores_shape)]) + [
            a if b == 1 else b for a, b in zip(scores_shape, m.shape[-len(scores_shape):])]
        raise RuntimeError(f"output with shape {list(scores_shape)} doesn't match the broadcast "
                           f'shape {full}')
    err = broadcast_error(scores_shape, m.shape)
    if err is not None:
        raise err
    out = tuple(a if b == 1 else b for a, b in
                zip(scores_shape, (1,) * (len(scores_shape) - m.ndim) + m.shape))
    if out != tuple(scores_shape):
        raise RuntimeError(f"output with shape {list(scores_shape)} doesn't match the broadcast "
                           f'shape {list(out)}')


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value, with dropout on the probabilities.

    query: (*, L, E); key: (*, S, E); value: (*, S, Ev) (batch dims broadcast) -> (*, L, Ev).
    attn_mask: bool (True = take part) or float (added), broadcastable to (*, L, S).
    is_causal: query i sees keys j <= i (top-left aligned; not with attn_mask).
    scale: default 1 / sqrt(E). enable_gqa: key/value may have fewer heads (dim -3) than the
    query, each shared by a group of query heads. Dropout is applied whenever dropout_p > 0.
    """
    q = _tensor(query, 'query', 1)
    k = _tensor(key, 'key', 2)
    v = _tensor(value, 'value', 3)
    _check_sdpa_inputs(q, k, v, is_causal)
    m = None if attn_mask is None else _tensor(attn_mask, 'attn_mask')
    if m is not None and is_causal:
        raise RuntimeError('_scaled_dot_product_attention: Explicit attn_mask should not be set '
                           'when is_causal=True')
    if dropout_p < 0 or dropout_p > 1:
        raise RuntimeError(f'dropout probability has to be between 0 and 1, but got {dropout_p}')
    gk, gv = _gqa_groups(q, k, v, enable_gqa)
    batch = _batch_shape(q, k, v, gk, gv)
    _check_sizes(q, k, v, batch)
    if m is not None:
        _check_sdpa_mask(m, q, batch + (q.shape[-2], k.shape[-2]))
        if m.dtype != np.bool_ and m.dtype != q.dtype:
            attn_mask = attn_mask.to(query.dtype)
    if scale is None:
        scale = 1 / math.sqrt(q.shape[-1]) if q.shape[-1] else math.inf
    if q.dtype == np.float16:
        out = scaled_dot_product_attention(
            query.float(), key.float(), value.float(),
            attn_mask if m is None or m.dtype == np.bool_ else attn_mask.float(),
            dropout_p, is_causal, scale, enable_gqa)
        return out.half()
    op = AttentionMm if q.ndim == k.ndim == v.ndim == 2 else Attention
    return op.apply(query, key, value, attn_mask, float(scale), is_causal, float(dropout_p),
                    True, False, gk, gv)


# ---- multi-head attention -------------------------------------------------------------------
def _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads):
    """PyTorch's shape rules; True when the input is batched (3-D query)."""
    qd, kd, vd = query.dim(), key.dim(), value.dim()
    if qd == 3:
        if kd != 3 or vd != 3:
            raise AssertionError(f'For batched (3-D) `query`, expected `key` and `value` to be '
                                 f'3-D but found {kd}-D and {vd}-D tensors respectively')
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError(f'For batched (3-D) `query`, expected `key_padding_mask` to be '
                                 f'`None` or 2-D but found {key_padding_mask.dim()}-D tensor '
                                 'instead')
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError(f'For batched (3-D) `query`, expected `attn_mask` to be `None`, '
                                 f'2-D or 3-D but found {attn_mask.dim()}-D tensor instead')
        return True
    if qd == 2:
        if kd != 2 or vd != 2:
            raise AssertionError(f'For unbatched (2-D) `query`, expected `key` and `value` to be '
                                 f'2-D but found {kd}-D and {vd}-D tensors respectively')
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError(f'For unbatched (2-D) `query`, expected `key_padding_mask` to '
                                 f'be `None` or 1-D but found {key_padding_mask.dim()}-D tensor '
                                 'instead')
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError(f'For unbatched (2-D) `query`, expected `attn_mask` to be '
                                     f'`None`, 2-D or 3-D but found {attn_mask.dim()}-D tensor '
                                     'instead')
            if attn_mask.dim() == 3:
                want = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != want:
                    raise AssertionError(f'Expected `attn_mask` shape to be {want} but got '
                                         f'{attn_mask.shape}')
        return False
    raise AssertionError(f'query should be unbatched 2D or batched 3D tensor but received '
                         f'{qd}-D query tensor')


def canonical_mask(mask, mask_name, other, other_name, target_dtype, stacklevel=3):
    """A mask as a float additive mask of ``target_dtype`` (bool True -> -inf), PyTorch's
    warning when its type differs from the ``other`` mask's (None: no other mask)."""
    if mask is None:
        return None
    dt = mask._data.dtype
    if dt != np.bool_ and dt.kind != 'f':
        raise AssertionError(f'only bool and floating types of {mask_name} are supported')
    if other is not None and other._data.dtype != dt:
        warnings.warn(f'Support for mismatched {mask_name} and {other_name} is deprecated. Use '
                      'same type for both instead.', stacklevel=stacklevel)
    if dt == np.bool_:
        zeros = _creation.zeros(mask.shape, dtype=target_dtype, device=mask.device)
        return zeros.masked_fill_(mask, -math.inf)
    return mask


def _project(query, key, value, w, b, separate, qw, kw, vw, e):
    """(q, k, v) input projections; one GEMM for self-attention (query is key is value)."""
    if separate:
        bq, bk, bv = (None, None, None) if b is None else b.chunk(3)
        return linear(query, qw, bq), linear(key, kw, bk), linear(value, vw, bv)
    if query is key and key is value:
        return linear(query, w, b).chunk(3, -1)
    wq, wk, wv = w.chunk(3)
    bq, bk, bv = (None, None, None) if b is None else b.chunk(3)
    if key is value:
        w_kv = w[e:]
        k, v = linear(key, w_kv, None if b is None else b[e:]).chunk(2, -1)
        return linear(query, wq, bq), k, v
    return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)


def _check_attn_mask(attn_mask, L, S, n_bh):
    d = attn_mask.dim()
    if d == 2:
        if tuple(attn_mask.shape) != (L, S):
            raise RuntimeError(f'The shape of the 2D attn_mask is {attn_mask.shape}, but should '
                               f'be {(L, S)}.')
    elif d == 3:
        if tuple(attn_mask.shape) != (n_bh, L, S):
            raise RuntimeError(f'The shape of the 3D attn_mask is {attn_mask.shape}, but should '
                               f'be {(n_bh, L, S)}.')
    else:
        raise RuntimeError(f"attn_mask's dimension {d} is not supported")


def _check_key_batch(k, n, h, hd, bias_kv, batch_first):
    """PyTorch's errors when the projected keys ``k`` have another batch size than the
    query's ``n`` (from appending bias_k, or from splitting the heads)."""
    nk, S = (k.shape[0], k.shape[1]) if batch_first else (k.shape[1], k.shape[0])
    if nk == n:
        return
    if bias_kv:
        raise RuntimeError(f'Sizes of tensors must match except in dimension 0. Expected size '
                           f'{nk} but got size {n} for tensor number 1 in the list.')
    raise RuntimeError(f"shape '[{S}, {n * h}, {hd}]' is invalid for input of size {k.numel()}")


def _heads(x, n, h, hd, batch_first):
    """(S, N, E) or (N, S, E) projections -> (N, H, S, hd) (a view)."""
    if batch_first:
        return x.reshape(n, x.shape[1], h, hd).permute(0, 2, 1, 3)
    return x.reshape(x.shape[0], n, h, hd).permute(1, 2, 0, 3)


def _static(t, name, n_bh, hd):
    if t.shape[0] != n_bh:
        raise AssertionError(f'expecting {name}.size(0) of {n_bh}, but got {t.shape[0]}')
    if t.shape[2] != hd:
        raise AssertionError(f'expecting {name}.size(2) of {hd}, but got {t.shape[2]}')
    return t


def _seq_cat(x, extra, batch_first):
    """Append the (1, 1, E) vector ``extra`` to every sequence of ``x`` (S, N, E)/(N, S, E)."""
    n = x.shape[0 if batch_first else 1]
    if batch_first:
        return cat([x, extra.reshape(1, 1, -1).expand(n, 1, -1)], 1)
    return cat([x, extra.reshape(1, 1, -1).expand(1, n, -1)], 0)


def _attention_mask(attn_mask, kpm, n, h, L, S):
    """The additive (N or 1, H or 1, L or 1, S) mask from attn_mask and key_padding_mask."""
    m = None
    if attn_mask is not None:
        m = attn_mask.reshape(1, 1, L, S) if attn_mask.dim() == 2 else attn_mask.reshape(n, h, L, S)
    if kpm is not None:
        for dim, want in enumerate((n, S)):
            if kpm.shape[dim] != want:
                raise AssertionError(f'Expected key_padded_mask.shape[{dim}] to be {want}, but '
                                     f'got {kpm.shape[dim]}')
        k4 = kpm.reshape(n, 1, 1, S)
        m = k4 if m is None else m + k4
    return m


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """Multi-head attention on sequence-first inputs.

    query: (L, N, E) or unbatched (L, E); key: (S, N, kdim); value: (S, N, vdim).
    key_padding_mask: (N, S) or (S,), True/-inf = ignore that key; attn_mask: (L, S) or
    (N*num_heads, L, S), bool (True = not allowed) or float (added).
    Returns (attn_output (L, N, E), attn_weights (N, L, S) averaged over heads, or
    (N, num_heads, L, S), or None when not ``need_weights``).
    """
    return mha_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                       in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight,
                       out_proj_bias, training, key_padding_mask, need_weights, attn_mask,
                       use_separate_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight,
                       static_k, static_v, average_attn_weights, is_causal, False)


def mha_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                training, key_padding_mask, need_weights, attn_mask, use_separate_proj_weight,
                q_proj_weight, k_proj_weight, v_proj_weight, static_k, static_v,
                average_attn_weights, is_causal, batch_first):
    """``multi_head_attention_forward`` on (L, N, E) or, with ``batch_first``, (N, L, E)
    inputs (``nn.MultiheadAttention`` uses the latter directly, without transposes)."""
    batched = _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        batch_first = True
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    dt = query.dtype
    key_padding_mask = canonical_mask(key_padding_mask, 'key_padding_mask', attn_mask,
                                      'attn_mask', dt, stacklevel=4)
    if is_causal and attn_mask is None:
        raise RuntimeError('Need attn_mask if specifying the is_causal hint. You may use the '
                           'Transformer module method `generate_square_subsequent_mask` to '
                           'create this mask.')
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None         # the hint is trusted: the op applies the causal rule itself
    else:
        attn_mask = canonical_mask(attn_mask, 'attn_mask', None, '', dt)
        is_causal = False
    n, L, e = (query.shape[0], query.shape[1], query.shape[2]) if batch_first else \
        (query.shape[1], query.shape[0], query.shape[2])
    S = key.shape[1 if batch_first else 0]
    if e != embed_dim_to_check:
        raise AssertionError(f'was expecting embedding dimension of {embed_dim_to_check}, but '
                             f'got {e}')
    hd = e // num_heads
    if hd * num_heads != e:
        raise AssertionError(f'embed_dim {e} not divisible by num_heads {num_heads}')
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match "
                                 f"value's {value.shape[:2]}")
    elif tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f'key shape {key.shape} does not match value shape {value.shape}')
    q, k, v = _project(query, key, value, in_proj_weight, in_proj_bias,
                       use_separate_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight, e)
    if attn_mask is not None:
        _check_attn_mask(attn_mask, L, S, n * num_heads)
    _check_key_batch(k, n, num_heads, hd, bias_k is not None and bias_v is not None,
                     batch_first)
    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError('bias cannot be added to static key.')
        if static_v is not None:
            raise AssertionError('bias cannot be added to static value.')
        k, v = _seq_cat(k, bias_k, batch_first), _seq_cat(v, bias_v, batch_first)
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    elif bias_k is not None or bias_v is not None:
        raise AssertionError()
    q = _heads(q, n, num_heads, hd, batch_first)
    n_bh = n * num_heads
    k = _heads(k, n, num_heads, hd, batch_first) if static_k is None else \
        _static(static_k, 'static_k', n_bh, hd).reshape(n, num_heads, -1, hd)
    v = _heads(v, n, num_heads, hd, batch_first) if static_v is None else \
        _static(static_v, 'static_v', n_bh, hd).reshape(n, num_heads, -1, hd)
    if add_zero_attn:
        k = cat([k, _creation.zeros((n, num_heads, 1, hd), dtype=k.dtype, device=k.device)], 2)
        v = cat([v, _creation.zeros((n, num_heads, 1, hd), dtype=v.dtype, device=v.device)], 2)
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    S = k.shape[2]
    mask = _attention_mask(attn_mask, key_padding_mask, n, num_heads, L, S)
    p = dropout_p if training else 0.0
    res = Attention.apply(q, k, v, mask, 1 / math.sqrt(hd), is_causal, float(p),
                          not need_weights, need_weights, 1, 1)
    out, weights = res if need_weights else (res, None)
    out = out.permute(0, 2, 1, 3) if batch_first else out.permute(2, 0, 1, 3)
    out = linear(out.reshape(out.shape[0], out.shape[1], e), out_proj_weight, out_proj_bias)
    if weights is not None and average_attn_weights:
        weights = weights.mean(dim=1)
    if not batched:
        out = out.squeeze(0)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights
