"""F.linear and F.bilinear: argument checks with PyTorch's messages; the math is one fused Op
each in ``ember.ops.linear``."""
import math

from ..._tensor import Tensor, type_name
from ...ops.linalg import _cpp, _sname
from ...ops.linear import LINEAR_OPS, LINEAR_DOT, Bilinear, BilinearNoBias

__all__ = ['linear', 'bilinear']


def _array(t, fn, arg, pos):
    """The array of Tensor argument ``t`` (PyTorch's TypeError for anything else)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}(): argument '{arg}' (position {pos}) must be Tensor, not "
                        f'{type(t).__name__}')
    return t._data


def _check_linear_shapes(x, w):
    xn, wn = x.ndim, w.ndim
    if xn == 0 or wn == 0:
        raise RuntimeError(f'both arguments to linear need to be at least 1D, but they are '
                           f'{xn}D and {wn}D')
    if wn > 2:
        raise RuntimeError(f't() expects a tensor with <= 2 dimensions, but self is {wn}D')
    k = x.shape[-1]
    if w.shape[-1] != k:
        rows = math.prod(x.shape[:-1])
        if wn == 2:
            raise RuntimeError(f'mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and '
                               f'{w.shape[1]}x{w.shape[0]})')
        raise RuntimeError(f'size mismatch, got input ({rows}), mat ({rows}x{k}), vec '
                           f'({w.shape[0]})')


def _check_bias_shape(b, out_shape):
    """``b`` must broadcast to ``out_shape`` without adding dims (PyTorch's expand error)."""
    bs = b.shape
    if len(bs) > len(out_shape):
        raise RuntimeError(f'expand({type_name(b)}{{{list(bs)}}}, size={list(out_shape)}):'
                           f' the number of sizes provided ({len(out_shape)}) must be greater or '
                           f'equal to the number of dimensions in the tensor ({len(bs)})')
    for i in range(1, len(bs) + 1):
        if bs[-i] != 1 and bs[-i] != out_shape[-i]:
            raise RuntimeError(
                f'The expanded size of the tensor ({out_shape[-i]}) must match the existing size '
                f'({bs[-i]}) at non-singleton dimension {len(out_shape) - i}.  Target sizes: '
                f'{list(out_shape)}.  Tensor sizes: {list(bs)}')


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias, as one GEMM over all leading dims.

    input: (*, in_features); weight: (out_features, in_features) (or (in_features,));
    bias: (out_features,) or None (anything broadcastable to the output) -> (*, out_features).
    """
    x = _array(input, 'linear', 'input', 1)
    w = _array(weight, 'linear', 'weight', 2)
    if x.ndim == 0 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
        _check_linear_shapes(x, w)
    if bias is None:
        if x.dtype != w.dtype:
            raise RuntimeError(f'expected m1 and m2 to have the same dtype, but got: '
                               f'{_cpp(x.dtype)} != {_cpp(w.dtype)}')
        op = LINEAR_DOT if x.ndim == 1 and w.ndim == 1 else LINEAR_OPS[min(x.ndim, 3), False]
        return op.apply(input, weight)
    b = _array(bias, 'linear', 'bias', 3)
    if w.ndim == 1:
        raise RuntimeError('mat2 must be a matrix, got 1-D tensor')
    if b.dtype != w.dtype:
        raise RuntimeError(f'self and mat2 must have the same dtype, but got {_sname(b.dtype)} '
                           f'and {_sname(w.dtype)}')
    if x.dtype != w.dtype:
        raise RuntimeError(f'expected m1 and m2 to have the same dtype, but got: '
                           f'{_cpp(x.dtype)} != {_cpp(w.dtype)}')
    if b.shape != w.shape[:1]:
        _check_bias_shape(b, x.shape[:-1] + w.shape[:1])
    return LINEAR_OPS[min(x.ndim, 3), True].apply(input, weight, bias)


def _check_bilinear(x1, x2, w, b):
    n1, n2 = x1.ndim, x2.ndim
    if n1 != n2:
        raise RuntimeError(f'bilinear(): input dimensions do not match: got {n1} and {n2}')
    if n1 == 0:
        raise IndexError('Dimension specified as -1 but tensor has no dimensions')
    for d in range(n1 - 1):
        if x1.shape[d] != x2.shape[d]:
            raise RuntimeError(f'bilinear(): input batch dimensions do not match at dim {d}: got '
                               f'{x1.shape[d]} and {x2.shape[d]}')
    if w.ndim != 3:
        raise RuntimeError(f'bilinear(): weight must be 3-D (out_features, in1_features, '
                           f'in2_features), but got a {w.ndim}-D tensor')
    if x1.shape[-1] != w.shape[1]:
        raise RuntimeError(f'bilinear(): input1 size does not match weight size: got '
                           f'{x1.shape[-1]} but expected {w.shape[1]}')
    if x2.shape[-1] != w.shape[2]:
        raise RuntimeError(f'bilinear(): input2 size does not match weight size: got '
                           f'{x2.shape[-1]} but expected {w.shape[2]}')
    if b is not None and (b.ndim != 1 or b.shape[0] != w.shape[0]):
        got = b.shape[0] if b.ndim else 1
        raise RuntimeError(f'bilinear(): bias size does not match weight size: got {got} but '
                           f'expected {w.shape[0]}' + ('' if b.ndim <= 1 else
                                                       f' (bias must be 1-D, got {b.ndim}-D)'))
    dts = [x1.dtype, x2.dtype, w.dtype] + ([] if b is None else [b.dtype])
    if any(d != w.dtype for d in dts):
        names = ['input1', 'input2', 'weight', 'bias']
        got = ', '.join(f'{n}: {_cpp(d)}' for n, d in zip(names, dts))
        raise RuntimeError(f'All tensors must have the same dtype, got {got}')


def bilinear(input1, input2, weight, bias=None):
    """y = input1^T weight input2 + bias.

    input1: (*, in1); input2: (*, in2) (same leading dims); weight: (out, in1, in2);
    bias: (out,) or None -> (*, out).
    """
    x1 = _array(input1, 'bilinear', 'input1', 1)
    x2 = _array(input2, 'bilinear', 'input2', 2)
    w = _array(weight, 'bilinear', 'weight', 3)
    b = None if bias is None else _array(bias, 'bilinear', 'bias', 4)
    _check_bilinear(x1, x2, w, b)
    if bias is None:
        return BilinearNoBias.apply(input1, input2, weight)
    return Bilinear.apply(input1, input2, weight, bias)
