"""Loss functions of ``ember.nn.functional``: PyTorch's signatures, argument checks and
messages; the math is one fused op each in ``ember.ops.loss``.

Reductions are 'none', 'mean' or 'sum' (KL divergence adds 'batchmean'); the deprecated
``size_average`` / ``reduce`` arguments override ``reduction`` with PyTorch's warning.
"""
import warnings

import numpy as np

from ..._backend import xp_of
from ..._tensor import Tensor, _NP_NAMES
from ...autograd.grad_mode import GRAD
from ...ops import loss as L
from ...ops.elementwise import clamp_min, minimum
from ...ops.reduction import mean as _mean, sum as _sum
from .distance import pairwise_distance

__all__ = ['l1_loss', 'mse_loss', 'huber_loss', 'smooth_l1_loss', 'gaussian_nll_loss',
           'poisson_nll_loss', 'kl_div', 'binary_cross_entropy',
           'binary_cross_entropy_with_logits', 'soft_margin_loss', 'hinge_embedding_loss',
           'cross_entropy', 'nll_loss', 'multi_margin_loss', 'multilabel_margin_loss',
           'multilabel_soft_margin_loss', 'margin_ranking_loss', 'cosine_embedding_loss',
           'triplet_margin_loss', 'triplet_margin_with_distance_loss', 'ctc_loss']

_CODES = {'none': L.NONE, 'mean': L.MEAN, 'sum': L.SUM}


# ---- argument helpers -------------------------------------------------------------------------
def legacy_reduction(size_average, reduce):
    """The reduction named by the deprecated ``size_average`` / ``reduce`` flags (None counts
    as True), with PyTorch's deprecation warning."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = ('mean' if size_average else 'sum') if reduce else 'none'
    warnings.warn('size_average and reduce args will be deprecated, please use '
                  f"reduction='{reduction}' instead.", stacklevel=3)
    return reduction


def _code(reduction):
    code = _CODES.get(reduction) if isinstance(reduction, str) else None
    if code is None:
        raise ValueError(f'{reduction} is not a valid value for reduction')
    return code


def _reduction(size_average, reduce, reduction):
    """The op's reduction code, from ``reduction`` or the legacy flags when either is given."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    code = _CODES.get(reduction) if reduction.__class__ is str else None
    if code is None:
        raise ValueError(f'{reduction} is not a valid value for reduction')
    return code


def _type(t):
    return _NP_NAMES[t._data.dtype.name]


def _size(t):
    return '[' + ', '.join(str(s) for s in t.shape) + ']'


def _warn_target_size(input, target):
    if target.shape != input.shape:
        warnings.warn(f'Using a target size ({target.shape!r}) that is different to the input '
                      f'size ({input.shape!r}). This will likely lead to incorrect results due '
                      'to broadcasting. Please ensure they have the same size.', stacklevel=3)


def _not_differentiable(fn, arg, t):
    """PyTorch's error for a gradient-requiring argument the op has no derivative for."""
    if t is not None and t.requires_grad and GRAD.enabled:
        raise RuntimeError(f"The function '{fn}' is not differentiable with respect to argument "
                           f"'{arg}'. This input cannot have requires_grad True.")


def _float_kernel(name, *tensors):
    """NotImplementedError for a loss kernel run on integer inputs only."""
    if all(t._data.dtype.kind != 'f' for t in tensors):
        raise NotImplementedError(f'"{name}" not implemented for \'{_type(tensors[0])}\'')


def _same_dtype(t, ref):
    """RuntimeError unless ``t`` has ``ref``'s dtype (weights of the class-index losses)."""
    if t is not None and t._data.dtype != ref._data.dtype:
        raise RuntimeError(f'expected scalar type {_type(ref)} but found {_type(t)}')


def _mismatch(shape_a, shape_b):
    """(negative dim, size in a, size in b) of the first dims from the right that do not
    broadcast, or None."""
    for i in range(1, max(len(shape_a), len(shape_b)) + 1):
        a = shape_a[-i] if i <= len(shape_a) else 1
        b = shape_b[-i] if i <= len(shape_b) else 1
        if a != b and a != 1 and b != 1:
            return -i, a, b
    return None


def _check_broadcast(a, b):
    """PyTorch's RuntimeError when shapes ``a`` and ``b`` do not broadcast (a named first)."""
    bad = _mismatch(tuple(a), tuple(b))
    if bad is not None:
        i, sa, sb = bad
        raise RuntimeError(f'The size of tensor a ({sa}) must match the size of tensor b ({sb}) '
                           f'at non-singleton dimension {max(len(a), len(b)) + i}')


def _broadcast_into(t, input, bce=False):
    """RuntimeError unless weight ``t`` broadcasts to exactly input's shape, with the message
    of binary_cross_entropy (``bce``) or of binary_cross_entropy_with_logits."""
    if t is None:
        return
    shape = tuple(input.shape)
    bad = _mismatch(tuple(t.shape), shape)
    if bad is not None and bce:
        raise RuntimeError(f'Attempting to broadcast a dimension of length {bad[1]} at {bad[0]}! '
                           f'Mismatching argument at index 1 had {t.shape!r}; but expected shape '
                           f'should be broadcastable to {list(shape)}')
    _check_broadcast(shape, t.shape)
    b = np.broadcast_shapes(tuple(t.shape), shape)
    if b != shape:
        raise RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast shape "
                           f'{list(b)}')


def _weighted(loss, weight, red, normalize):
    """Elementwise ``loss`` times ``weight``, reduced; 'mean' divides by the weights' sum
    (``normalize``) or by the element count."""
    loss = loss * weight
    if red == L.NONE:
        return loss
    if red == L.SUM:
        return _sum(loss)
    return _sum(loss) / _sum(weight) if normalize else _mean(loss)


# ---- regression -------------------------------------------------------------------------------
def l1_loss(input, target, size_average=None, reduce=None, reduction='mean', weight=None):
    """Mean (or sum, or elementwise) absolute error |input - target|."""
    _warn_target_size(input, target)
    red = _reduction(size_average, reduce, reduction)
    if red == L.MEAN and input._data.dtype.kind != 'f' and target._data.dtype.kind != 'f':
        raise RuntimeError('mean(): could not infer output dtype. Input dtype must be either a '
                           f'floating point or complex dtype. Got: {_type(input)}')
    if weight is not None:
        _check_weight_size(weight, input)
        return _weighted(L.L1Loss.apply(input, target, L.NONE), weight, red, True)
    return L.L1Loss.apply(input, target, red)


def mse_loss(input, target, size_average=None, reduce=None, reduction='mean', weight=None):
    """Mean (or sum, or elementwise) squared error (input - target)**2."""
    _warn_target_size(input, target)
    red = _reduction(size_average, reduce, reduction)
    _float_kernel('mse_cpu', input, target)
    if weight is not None:
        _check_weight_size(weight, input)
        return _weighted(L.MseLoss.apply(input, target, L.NONE), weight, red, True)
    return L.MseLoss.apply(input, target, red)


def _check_weight_size(weight, input):
    if weight.shape != input.shape:
        raise ValueError('Weights and input must have the same size.')


def huber_loss(input, target, reduction='mean', delta=1.0, weight=None):
    """0.5 d**2 for |d| < delta, else delta (|d| - delta / 2), d = input - target."""
    _warn_target_size(input, target)
    red = _code(reduction)
    if delta <= 0:
        raise RuntimeError('huber_loss does not support non-positive values for delta.')
    _float_kernel('huber_cpu', input, target)
    if input._data.dtype.kind == 'f' and target._data.dtype != input._data.dtype:
        target = target.to(input.dtype)          # huber_loss computes in input's dtype
    if weight is not None:
        _check_weight_size(weight, input)
        return _weighted(L.HuberLoss.apply(input, target, delta, 1.0, L.NONE), weight, red, False)
    return L.HuberLoss.apply(input, target, delta, 1.0, red)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction='mean', beta=1.0):
    """0.5 d**2 / beta for |d| < beta, else |d| - beta / 2 (the L1 loss when beta is 0)."""
    _warn_target_size(input, target)
    red = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError('smooth_l1_loss does not support negative values for beta.')
    if beta == 0:
        return L.L1Loss.apply(input, target, red)
    _float_kernel('smooth_l1_cpu', input, target)
    return L.SmoothL1Loss.apply(input, target, beta, beta, red)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-06, reduction='mean'):
    """0.5 (log(max(var, eps)) + (input - target)**2 / max(var, eps)) (+ 0.5 log(2 pi) when
    ``full``). ``var`` is a float, a tensor of input's shape, input's shape without its last
    dim (one variance per sample), or input's shape with one dim of size 1."""
    if isinstance(var, Tensor):
        if bool((var._data < 0).any()):
            raise ValueError('var has negative entry/entries')
        var = _gaussian_var(var, input)
    else:
        if var < 0:
            raise ValueError('var has negative entry/entries')
        var = float(var)
    if reduction not in _CODES:
        raise ValueError(f'{reduction} is not valid')
    return L.GaussianNllLoss.apply(input, target, var, full, eps, _CODES[reduction])


def _gaussian_var(var, input):
    """``var`` made broadcastable to ``input`` as PyTorch allows, else ValueError."""
    vs, xs = tuple(var.shape), tuple(input.shape)
    if vs == xs:
        return var
    if vs == xs[:-1]:
        return var.unsqueeze(-1)
    if len(vs) == len(xs):
        diff = [i for i in range(len(xs)) if vs[i] != xs[i]]
        if len(diff) == 1 and vs[diff[0]] == 1:
            return var
    raise ValueError('var is of incorrect size')


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-08,
                     reduce=None, reduction='mean'):
    """exp(input) - target input (log_input), or input - target log(input + eps); ``full``
    adds Stirling's approximation of log(target!) where target > 1."""
    red = _reduction(size_average, reduce, reduction)
    return L.PoissonNllLoss.apply(input, target, log_input, full, eps, red)


def kl_div(input, target, size_average=None, reduce=None, reduction='mean', log_target=False):
    """Pointwise KL divergence target (log target - input) (input holds log-probabilities;
    with ``log_target`` so does target). 'batchmean' divides the sum by the batch size."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    if reduction == 'mean':
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    if input._data.dtype.kind in 'biu' or target._data.dtype.kind in 'biu':
        raise RuntimeError('kl_div: Integral inputs not supported.')
    if reduction == 'batchmean':
        batch = input.shape[0] if input.dim() else 1
        return L.KlDiv.apply(input, target, log_target, L.BATCHMEAN, batch)
    return L.KlDiv.apply(input, target, log_target, _code(reduction), None)


# ---- binary -----------------------------------------------------------------------------------
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction='mean'):
    """-weight (target log(input) + (1 - target) log(1 - input)), logs clamped at -100;
    input holds probabilities in [0, 1]."""
    red = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f'Using a target size ({target.shape!r}) that is different to the '
                         f'input size ({input.shape!r}) is deprecated. Please ensure they have '
                         'the same size.')
    if target._data.dtype != input._data.dtype:
        raise RuntimeError(f'Found dtype {_type(target)} but expected {_type(input)}')
    _not_differentiable('binary_cross_entropy', 'weight', weight)
    _broadcast_into(weight, input, bce=True)
    x, y = input._data, target._data
    if x.size and not bool((x.min() >= 0) & (x.max() <= 1)):
        raise RuntimeError('all elements of input should be between 0 and 1')
    if y.size and not bool((y.min() >= 0) & (y.max() <= 1)):
        raise RuntimeError('all elements of target should be between 0 and 1')
    if weight is not None and weight._data.dtype != x.dtype:
        weight = weight.to(input.dtype)
    return L.BinaryCrossEntropy.apply(input, target, weight, red)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction='mean', pos_weight=None):
    """Binary cross-entropy of sigmoid(input), computed stably from the logits:
    weight ((1 - target) input + (1 + (pos_weight - 1) target) log(1 + exp(-input)))."""
    red = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f'Target size ({target.shape!r}) must be the same as input size '
                         f'({input.shape!r})')
    fn = 'binary_cross_entropy_with_logits'
    _not_differentiable(fn, 'weight', weight)
    _not_differentiable(fn, 'pos_weight', pos_weight)
    dt = target._data.dtype
    if dt.kind != 'f':
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f'{_type(target)}')
    _broadcast_into(weight, input)
    _broadcast_into(pos_weight, input)
    input = input if input._data.dtype == dt else input.to(target.dtype)
    weight = weight if weight is None or weight._data.dtype == dt else weight.to(target.dtype)
    if pos_weight is not None and pos_weight._data.dtype != dt:
        pos_weight = pos_weight.to(target.dtype)
    return L.BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, red)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction='mean'):
    """log(1 + exp(-target input)) for targets +1 / -1."""
    red = _reduction(size_average, reduce, reduction)
    _not_differentiable('soft_margin_loss', 'target', target)
    return L.SoftMarginLoss.apply(input, target, red)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction='mean'):
    """input where target is 1, max(0, margin - input) where target is -1."""
    red = _reduction(size_average, reduce, reduction)
    _check_broadcast(target.shape, input.shape)
    return L.HingeEmbeddingLoss.apply(input, target, margin, red)


# ---- classification ---------------------------------------------------------------------------
def _class_target_checks(xs, ts, t_dtype):
    """PyTorch's checks, in its order, of class-index targets of shape ``ts`` and dtype
    ``t_dtype`` against an input of shape ``xs``: (N, C, d...) or (C,)."""
    xd, td = len(xs), len(ts)
    if xd < 1:
        raise ValueError(f'Expected 1 or more dimensions (got {xd})')
    spatial = xs[:1] + xs[2:]
    if xd >= 2:
        batch = ts[0] if td else 0
        if xs[0] != batch:
            raise ValueError(f'Expected input batch_size ({xs[0]}) to match target '
                             f'batch_size ({batch}).')
        if xd != 2 and xd != 4 and ts != spatial:
            raise RuntimeError(f'Expected target size {list(spatial)}, got {list(ts)}')
    if xd <= 2 and td > 1:
        raise RuntimeError('0D or 1D target tensor expected, multi-target not supported')
    if xd == 4 and td != 3:
        raise RuntimeError('only batches of spatial targets supported (3D tensors) but got '
                           f'targets of dimension: {td}')
    if t_dtype != np.int64 and t_dtype != np.uint8:
        raise RuntimeError('expected target dtype to be Long or Byte, but got '
                           f'{_NP_NAMES[t_dtype.name]}')
    if xd == 1 and td == 1 and ts[0] != 1:
        raise ValueError(f'For 1D input, 1D target must have size 1, but got target size: {ts[0]}')
    if xd == 4 and ts != spatial:
        raise RuntimeError(f'size mismatch (got input: {list(xs)} , target: {list(ts)}')


def _class_weight(weight, n_classes, prefix=''):
    if weight is not None and weight._data.shape != (n_classes,):
        raise RuntimeError(f'{prefix}weight tensor should be defined either for all {n_classes} '
                           f'classes or no classes but got weight tensor of shape: '
                           f'{_size(weight)}')


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction='mean', label_smoothing=0.0):
    """Cross-entropy between logits (N, C, d...) or (C,) and class indices (N, d...) or class
    probabilities (input's shape); one fused log-softmax + NLL op."""
    red = _reduction(size_average, reduce, reduction)
    if label_smoothing > 1.0:
        raise RuntimeError(f'label_smoothing must be between 0.0 and 1.0. Got: '
                           f'{label_smoothing:g}')
    eps = float(label_smoothing) if label_smoothing > 0 else 0.0
    x, t = input._data, target._data
    xs, ts = x.shape, t.shape
    if x.dtype.kind != 'f':
        where = 'lastdim_' if len(xs) <= 2 else ''
        raise NotImplementedError(f'"log_softmax_{where}kernel_impl" not implemented for '
                                  f"'{_type(input)}'")
    c = xs[1] if len(xs) >= 2 else (xs[0] if xs else 1)
    if ts == xs:
        if t.dtype.kind != 'f':
            raise RuntimeError('Expected floating point type for target with class '
                               f'probabilities, got {_type(target)}')
        if ignore_index != -100:
            raise RuntimeError('ignore_index is not supported for floating point target')
        _class_weight(weight, c, 'cross_entropy: ')
        if len(xs) == 1:
            out = L.CrossEntropyProbs.apply(input.unsqueeze(0), target.unsqueeze(0), weight,
                                            eps, red)
            return out.squeeze(0) if red == L.NONE else out
        return L.CrossEntropyProbs.apply(_contiguous(input), target, weight, eps, red)
    _class_target_checks(xs, ts, t.dtype)
    if weight is not None:
        _class_weight(weight, c)
        _same_dtype(weight, input)
        _not_differentiable('nll_loss_forward', 'weight', weight)
    if len(xs) == 1:
        out = L.CrossEntropy.apply(_contiguous(input).reshape(1, c), target.reshape(1), weight,
                                   ignore_index, eps, red)
        return out.reshape(()) if red == L.NONE else out
    op = L.CrossEntropy2d if len(xs) >= 3 else L.CrossEntropy
    return op.apply(_contiguous(input), target, weight, ignore_index, eps, red)


def _contiguous(x):
    return x if x._data.flags.c_contiguous else x.contiguous()


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction='mean'):
    """Negative log-likelihood -weight[t] input[t] of log-probabilities (N, C, d...) or (C,)
    at class indices (N, d...)."""
    red = _reduction(size_average, reduce, reduction)
    xs = input._data.shape
    _class_target_checks(xs, target._data.shape, target._data.dtype)
    if input._data.dtype.kind != 'f':
        kernel = 'nll_loss2d_forward_out_frame' if len(xs) >= 3 else 'nll_loss_out_frame'
        raise NotImplementedError(f'"{kernel}" not implemented for \'{_type(input)}\'')
    c = xs[1] if len(xs) >= 2 else xs[0]
    if weight is not None:
        _class_weight(weight, c)
        _same_dtype(weight, input)
        _not_differentiable('nll_loss_forward', 'weight', weight)
    if len(xs) == 1:
        out = L.NllLoss.apply(input.reshape(1, c), target.reshape(1), weight, ignore_index, red)
        return out.reshape(()) if red == L.NONE else out
    op = L.NllLoss2d if len(xs) >= 3 else L.NllLoss
    return op.apply(input, target, weight, ignore_index, red)


def _margin_input(input, name):
    """(input as (N, C), whether it was unbatched); PyTorch's error for other shapes."""
    d = input.dim()
    if not ((d == 2 and input.shape[1] != 0) or (d == 1 and input.shape[0] != 0) or d == 0):
        raise RuntimeError('Expected non-empty vector or matrix with optional 0-dim batch size, '
                           f'but got: {_size(input)}')
    if input._data.dtype.kind != 'f':
        raise NotImplementedError(f'"{name}" not implemented for \'{_type(input)}\'')
    return (input.reshape(1, -1), True) if d <= 1 else (input, False)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction='mean'):
    """Multi-class hinge loss: sum over i != y of weight[y] max(0, margin - x[y] + x[i])**p
    over C, per sample of input (N, C) or (C,) with class indices target (N,)."""
    red = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError('only p == 1 and p == 2 supported')
    if weight is not None and weight.dim() != 1:
        raise ValueError('weight must be one-dimensional')
    x, unbatched = _margin_input(input, 'multi_margin_loss_cpu_kernel')
    n, c = x.shape
    if tuple(target.shape) not in ((n,), () if unbatched else (n,)):
        raise RuntimeError('multi_margin_loss: target tensor should be 1-D with size equal to '
                           f'the number of input samples (batch size). Expected target size '
                           f'[{n}], but got {_size(target)}. Input has shape {_size(input)}.')
    if target._data.dtype != np.int64:
        raise RuntimeError(f'expected scalar type Long but found {_type(target)}')
    if weight is not None:
        if weight.shape[0] != c:
            raise RuntimeError(f'inconsistent weight size, expected {c} but got {_size(weight)}')
        _same_dtype(weight, input)
        _not_differentiable('multi_margin_loss', 'weight', weight)
    t = target._data.reshape(-1)
    if t.size and (int(t.min()) < 0 or int(t.max()) >= c):
        raise RuntimeError('target out of range')
    out = L.MultiMarginLoss.apply(x, target.reshape(-1), int(p), margin, weight, red)
    return out.reshape(target.shape) if red == L.NONE and unbatched else out


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction='mean'):
    """Multi-label hinge loss of input (N, C) or (C,) against target class lists of the same
    shape, each ended by the first -1."""
    red = _reduction(size_average, reduce, reduction)
    x, unbatched = _margin_input(input, 'multilabel_margin_loss_forward_out_frame')
    if target.shape != input.shape:
        raise RuntimeError(f'inconsistent target size: {_size(target)} for input of size: '
                           f'{_size(input)}')
    if target._data.dtype != np.int64:
        raise RuntimeError(f'expected scalar type Long but found {_type(target)}')
    t = target._data
    if t.size and (int(t.min()) < -1 or int(t.max()) >= x.shape[1]):
        raise RuntimeError("argument #2 'target' is out of range")
    out = L.MultilabelMarginLoss.apply(x, target.reshape(x.shape), red)
    return out.reshape(()) if red == L.NONE and unbatched else out


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction='mean'):
    """Mean over the last dim of weight (log(1 + exp(input)) - target input), the logistic
    loss of each label, reduced over the samples."""
    red = _reduction(size_average, reduce, reduction)
    return L.MultilabelSoftMarginLoss.apply(input, target, weight, red)


# ---- ranking and metric -----------------------------------------------------------------------
def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction='mean'):
    """max(0, -target (input1 - input2) + margin)."""
    red = _reduction(size_average, reduce, reduction)
    if not input1.dim() == input2.dim() == target.dim():
        raise RuntimeError('margin_ranking_loss : All input tensors should have same dimension '
                           f'but got sizes: input1: {input1.shape!r}, input2: {input2.shape!r}, '
                           f'target: {target.shape!r} ')
    return L.MarginRankingLoss.apply(input1, input2, target, margin, red)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction='mean'):
    """1 - cos(input1, input2) where target is 1, max(0, cos - margin) where it is -1; cosine
    over the last dim of (N, D) or (D,) inputs."""
    red = _reduction(size_average, reduce, reduction)
    td = target.dim()
    if td > 1:
        raise RuntimeError('0D or 1D target tensor expected, multi-target not supported')
    want = td + 1
    if input1.dim() != want or input2.dim() != want:
        raise RuntimeError(f'{td}D target tensor expects {want}D input tensors, but found inputs '
                           f'with sizes {_size(input1)} and {_size(input2)}.')
    _check_broadcast(input1.shape, input2.shape)
    _check_broadcast(target.shape, np.broadcast_shapes(input1.shape[:-1], input2.shape[:-1]))
    return L.CosineEmbeddingLoss.apply(input1, input2, target, margin, red)


def _triplet_dims(anchor, positive, negative):
    a, p, n = anchor.dim(), positive.dim(), negative.dim()
    if not a == p == n:
        raise RuntimeError('The anchor, positive, and negative tensors are expected to have the '
                           f'same number of dimensions, but got: anchor {a}D, positive {p}D, and '
                           f'negative {n}D inputs')


def _positive_margin(margin):
    if margin <= 0:
        raise ValueError(f'margin must be greater than 0, got {margin}')


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-06, swap=False,
                        size_average=None, reduce=None, reduction='mean'):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) with the pairwise p-norm
    distance d(u, v) = |u - v + eps|_p over the last dim; ``swap`` uses
    min(d(anchor, negative), d(positive, negative))."""
    red = _reduction(size_average, reduce, reduction)
    _positive_margin(margin)
    _triplet_dims(anchor, positive, negative)
    return L.TripletMarginLoss.apply(anchor, positive, negative, margin, p, eps, swap, red)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction='mean'):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) for any distance function
    (default: the pairwise Euclidean distance)."""
    red = _code(reduction)
    _positive_margin(margin)
    _triplet_dims(anchor, positive, negative)
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, dist(positive, negative))
    loss = clamp_min(margin + d_pos - d_neg, 0)
    if red == L.NONE:
        return loss
    return _mean(loss) if red == L.MEAN else _sum(loss)


# ---- sequences --------------------------------------------------------------------------------
def _lengths(v, n, name, xp):
    """int64 array (N,) of sequence lengths given as a tensor, a list/tuple or an int."""
    a = v._data.reshape(-1) if isinstance(v, Tensor) else xp.asarray(np.asarray(v).reshape(-1))
    if a.dtype.kind not in 'iu':
        raise RuntimeError(f'{name} must be integral')
    if a.shape[0] != n:
        raise RuntimeError(f'{name} must be of size batch_size')
    return a.astype(np.int64, copy=False)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction='mean',
             zero_infinity=False):
    """Connectionist temporal classification loss of log_probs (T, N, C) (or (T, C)
    unbatched) against padded targets (N, S) or concatenated targets (sum(target_lengths),);
    lengths are tensors, lists or tuples of ints."""
    red = _code(reduction)
    unbatched = log_probs.dim() == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    if lp.dim() != 3:
        raise RuntimeError(f'ctc_loss expects log_probs to be a 2D or 3D tensor, got '
                           f'{log_probs.dim()}D')
    t_max, n, c = lp.shape
    if not 0 <= blank < c:
        raise RuntimeError('blank must be in label range')
    xp = xp_of(lp._data)
    tg = targets._data.reshape(1, -1) if unbatched else targets._data
    il = _lengths(input_lengths, n, 'input_lengths', xp)
    tl = _lengths(target_lengths, n, 'target_lengths', xp)
    if il.size and int(il.max()) > t_max:
        raise RuntimeError(f'Expected input_lengths to have value at most {t_max}, but got value '
                           f'{int(il.max())} (while checking arguments for '
                           'ctc_loss_allocate_outputs)')
    out = L.CtcLoss.apply(lp, _ctc_targets(tg, tl), il, tl, blank, red, zero_infinity)
    return out.reshape(()) if unbatched and red == L.NONE else out


def _ctc_targets(tg, tl):
    """Padded (N, S) int64 targets from padded (N, S) or concatenated (sum(lengths),) ones."""
    tg = tg.astype(np.int64, copy=False)
    longest = int(tl.max()) if tl.size else 0
    if tg.ndim == 2:
        if longest > tg.shape[1]:
            raise RuntimeError(f'Expected tensor to have size at least {longest} at dimension 1, '
                               f'but got size {tg.shape[1]} for argument #2 \'targets\' (while '
                               'checking arguments for ctc_loss_cpu)')
        return tg
    out = xp_of(tg).zeros((tl.shape[0], longest), np.int64)
    start = 0
    for i, k in enumerate(tl.tolist()):
        out[i, :k] = tg[start:start + k]
        start += k
    return out
