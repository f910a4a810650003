"""Vector normalisation, similarity and distances: F.normalize, F.cosine_similarity,
F.pairwise_distance and F.pdist (math in ember.ops.distance, which also has torch.cdist)."""
from ..._tensor import Tensor
from ...autograd.grad_mode import GRAD
from ...ops.distance import (cosine_similarity, pairwise_distance, pdist, check_empty_norm,
                             normalize as _op)
from ...ops.elementwise import _store_out
from ...ops.reduction import _axes, _type_name

__all__ = ['normalize', 'cosine_similarity', 'pairwise_distance', 'pdist']


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(||input||_p, eps)``, the norm taken over ``dim`` (an int, a tuple of
    ints, or None for all dims) and broadcast back."""
    if not isinstance(input, Tensor):
        raise TypeError(f"normalize(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    a = input._data
    if a.dtype.kind != 'f':
        raise RuntimeError('linalg.vector_norm: Expected a floating point or complex tensor as '
                           f'input. Got {_type_name(a)}')
    p = _order(p)
    axes = _axes(dim, a.ndim, 'normalize')
    check_empty_norm(p, a.shape, None if dim is None or dim == () or dim == [] else axes)
    if out is None:
        return _op(input, p, axes, float(eps))
    if GRAD.enabled and input.requires_grad:
        raise RuntimeError("div(): functions with out=... arguments don't support automatic "
                           'differentiation, but one of the arguments requires grad.')
    return _store_out(out, _op(input, p, axes, float(eps)))


def _order(p):
    """The norm order as a float ('fro' is the 2-norm)."""
    if isinstance(p, str):
        if p != 'fro':
            raise RuntimeError(f'linalg.vector_norm: Order {p} not supported.')
        return 2.0
    return float(p)
