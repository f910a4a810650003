"""F.dropout and its channel-wise and alpha variants: PyTorch's argument checks, dimension
rules and warnings; the masks and math are in ``ember.ops.dropout`` (one Op each).

In eval mode (``training=False``) or with p == 0 every function returns ``input`` itself.
"""
import warnings

from ...ops import dropout as _ops

__all__ = ['dropout', 'dropout1d', 'dropout2d', 'dropout3d', 'alpha_dropout',
           'feature_alpha_dropout']


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f'dropout probability has to be between 0 and 1, but got {p}')


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` (drawn from ember's generator) and scale the
    kept ones by 1/(1-p); any shape."""
    _check_p(p)
    return (_ops.dropout_ if inplace else _ops.dropout)(input, p, training)


def _feature(input, p, training, inplace, batched):
    fn = _ops.feature_dropout_ if inplace else _ops.feature_dropout
    return fn(input, p, training, batched)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or unbatched (C, L) input with probability ``p``."""
    _check_p(p)
    nd = input.dim()
    if nd not in (2, 3):
        raise RuntimeError(f'dropout1d: Expected 2D or 3D input, but received a {nd}D input. '
                           'Note that dropout1d exists to provide channel-wise dropout on inputs '
                           'with 1 spatial dimension, a channel dimension, and an optional batch '
                           'dimension (i.e. 2D or 3D inputs).')
    return _feature(input, p, training, inplace, nd == 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) or (C, H, W) input with probability ``p``.

    As PyTorch: a 3-D input is read as (N, C, L) (with a warning), other ranks warn and are
    read as (N, C, *).
    """
    _check_p(p)
    nd = input.dim()
    if nd not in (3, 4):
        warnings.warn(f'dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and '
                      'will result in an error in a future release. To retain the behavior and '
                      'silence this warning, please use dropout instead. Note that dropout2d '
                      'exists to provide channel-wise dropout on inputs with 2 spatial '
                      'dimensions, a channel dimension, and an optional batch dimension (i.e. 3D '
                      'or 4D inputs).', stacklevel=2)
    if nd == 3:
        warnings.warn('dropout2d: Received a 3D input to dropout2d and assuming that channel-wise '
                      '1D dropout behavior is desired - input is interpreted as shape (N, C, L), '
                      'where C is the channel dim. This behavior will change in a future release '
                      'to interpret the input as one without a batch dimension, i.e. shape (C, H, '
                      'W). To maintain the 1D channel-wise dropout behavior, please switch to '
                      'using dropout1d instead.', stacklevel=2)
    return _feature(input, p, training, inplace, True)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``
    (other ranks warn; a non-5-D input is read as unbatched)."""
    _check_p(p)
    nd = input.dim()
    if nd not in (4, 5):
        warnings.warn(f'dropout3d: Received a {nd}-D input to dropout3d, which is deprecated and '
                      'will result in an error in a future release. To retain the behavior and '
                      'silence this warning, please use dropout instead. Note that dropout3d '
                      'exists to provide channel-wise dropout on inputs with 3 spatial '
                      'dimensions, a channel dimension, and an optional batch dimension (i.e. 4D '
                      'or 5D inputs).', stacklevel=2)
    return _feature(input, p, training, inplace, nd == 5)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: keeps zero mean and unit variance of the input (dropped
    elements take SELU's negative saturation, then an affine correction)."""
    _check_p(p)
    return (_ops.alpha_dropout_ if inplace else _ops.alpha_dropout)(input, p, training)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels of an (N, C, *) input."""
    _check_p(p)
    fn = _ops.feature_alpha_dropout_ if inplace else _ops.feature_alpha_dropout
    return fn(input, p, training)
