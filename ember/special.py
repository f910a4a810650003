"""``ember.special``: special functions, as ``torch.special``.

The functions live in their op families (``ember.ops.special`` for the error-function family,
``ember.ops.unary`` for the elementary ones, as ``special_*`` functions that name themselves
like PyTorch's in error messages); this module gathers them under PyTorch's names.
"""
from .ops.special import (special_erf as erf, special_erfc as erfc, special_erfcx as erfcx,
                          special_erfinv as erfinv, special_ndtr as ndtr, special_ndtri as ndtri,
                          special_log_ndtr as log_ndtr, special_xlog1py as xlog1py,
                          special_entr as entr)
from .ops.unary import (special_exp2 as exp2, special_expm1 as expm1, special_log1p as log1p,
                        special_expit as expit, special_logit as logit, special_round as round,
                        special_sinc as sinc, special_xlogy as xlogy)

__all__ = ['erf', 'erfc', 'erfcx', 'erfinv', 'ndtr', 'ndtri', 'log_ndtr', 'xlog1py', 'entr',
           'exp2', 'expit', 'expm1', 'log1p', 'logit', 'round', 'sinc', 'xlogy', 'softmax',
           'log_softmax', 'logsumexp']


def softmax(input, dim, *, dtype=None):
    """``ember.softmax`` (the op lives in its own family)."""
    from . import softmax as _softmax
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """``ember.log_softmax`` (the op lives in its own family)."""
    from . import log_softmax as _log_softmax
    return _log_softmax(input, dim, dtype=dtype)


def logsumexp(input, dim, keepdim=False, *, out=None):
    """``ember.logsumexp`` (the op lives in its own family)."""
    from . import logsumexp as _logsumexp
    return _logsumexp(input, dim, keepdim=keepdim, out=out)
