"""Matrix products and linear algebra: matmul and its relatives, einsum, tensordot, kron,
trace, cross, and the decompositions behind ``ember.linalg`` (inv, det, solve, cholesky, qr,
svd, eigh, pinv, norms).

Every product is one BLAS call forward and one per gradient backward. ``N-D @ 2-D`` (a batch
of rows times a weight) is folded into one 2-D GEMM, and its weight gradient is one GEMM over
the flattened batch. Decompositions run through ``xp.linalg`` (NumPy's LAPACK or CuPy's
cuSOLVER); their backward formulas are the standard matrix-calculus ones on whole batches.
"""
import contextlib
import math

import numpy as np

from .. import return_types
from .._backend import xp_of
from .._parallel import gemm_op
from .._tensor import Tensor, _wrap, _dim, _NP_NAMES
from ..autograd.function import Op
from .elementwise import promote, _store_out, _operand
from ._registry import tensor_method

__all__ = ['matmul', 'mm', 'bmm', 'mv', 'dot', 'vdot', 'inner', 'outer', 'ger', 'addmm',
           'addmv', 'addr', 'addbmm', 'baddbmm', 'einsum', 'tensordot', 'kron', 'trace',
           'cross', 'chain_matmul', 'det', 'logdet', 'slogdet', 'inverse', 'pinverse',
           'matrix_power', 'cholesky', 'qr', 'svd']

_CPP_NAMES = {'float32': 'float', 'float64': 'double', 'float16': 'c10::Half',
              'int64': 'long int', 'int32': 'int', 'int16': 'short int', 'int8': 'signed char',
              'uint8': 'unsigned char', 'bool': 'bool'}


def _cpp(dt):
    """C++ name of a dtype, as PyTorch prints it in some messages ('float', 'long int')."""
    return _CPP_NAMES[dt.name]


def _sname(dt):
    """PyTorch's scalar type name of a dtype ('Float', 'Long')."""
    return _NP_NAMES[dt.name]


def _arr(x):
    """NumPy scalars (0-d results of NumPy reductions) as 0-d arrays; arrays unchanged."""
    return np.asarray(x) if isinstance(x, np.generic) else x


def _T(a):
    """Transpose of the last two dims (a view)."""
    return a.swapaxes(-1, -2)


def _broadcast_shapes(sa, sb):
    """Broadcast shape of two shapes, with PyTorch's error naming the first mismatch from the
    right (as an index into the result)."""
    n = max(len(sa), len(sb))
    pa = (1,) * (n - len(sa)) + tuple(sa)
    pb = (1,) * (n - len(sb)) + tuple(sb)
    out = []
    for i in range(n - 1, -1, -1):
        x, y = pa[i], pb[i]
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f'The size of tensor a ({x}) must match the size of tensor b ({y}) '
                               f'at non-singleton dimension {i}')
        out.append(y if x == 1 else x)
    return tuple(reversed(out))


def _tensor_arg(x, fname, arg, pos):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be Tensor, not "
                        f"{type(x).__name__}")


def _out(r, out):
    return r if out is None else _store_out(out, r)


# ---- products: Ops --------------------------------------------------------------------------
def _mm_shape_error(sa, sb):
    return RuntimeError(f'mat1 and mat2 shapes cannot be multiplied ({sa[0]}x{sa[1]} and '
                        f'{sb[0]}x{sb[1]})')


def _batched_flops(a, b, *_):
    """Flops of a @ b for matmul-style operands (1-D ones promoted, batch dims broadcast)."""
    m = a.shape[-2] if a.ndim > 1 else 1
    n = b.shape[-1] if b.ndim > 1 else 1
    return 2 * max(a.size * n, b.size * m)


def _mm_flops(inp, m1, m2, *_):
    """Flops of the product in ``addmm``-style ops (input, mat1, mat2, ...)."""
    return _batched_flops(m1, m2)


@gemm_op(_batched_flops)
class Mm(Op):
    """(n, k) @ (k, m)."""

    @staticmethod
    def forward(ctx, a, b):
        if a.shape[1] != b.shape[0]:
            raise _mm_shape_error(a.shape, b.shape)
        ctx.save_for_backward(a, b)
        return a.dot(b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        need = ctx.needs_input_grad
        return (g.dot(b.T) if need[0] else None), (a.T.dot(g) if need[1] else None)


class Dot(Op):
    """(n,) . (n,) -> 0-d."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _arr(a.dot(b))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        need = ctx.needs_input_grad
        return (g * b if need[0] else None), (g * a if need[1] else None)


class Vdot(Dot):
    pass


class Mv(Op):
    """(n, k) @ (k,) -> (n,)."""

    @staticmethod
    def forward(ctx, a, v):
        ctx.save_for_backward(a, v)
        return a.dot(v)

    @staticmethod
    def backward(ctx, g):
        a, v = ctx.saved
        need = ctx.needs_input_grad
        return (g[:, None] * v if need[0] else None), (a.T.dot(g) if need[1] else None)


class VecMat(Op):
    """(k,) @ (k, m) -> (m,)."""
    backward_name = 'SqueezeBackward4'

    @staticmethod
    def forward(ctx, v, b):
        if v.shape[0] != b.shape[0]:
            raise _mm_shape_error((1, v.shape[0]), b.shape)
        ctx.save_for_backward(v, b)
        return v.dot(b)

    @staticmethod
    def backward(ctx, g):
        v, b = ctx.saved
        need = ctx.needs_input_grad
        return (b.dot(g) if need[0] else None), (v[:, None] * g if need[1] else None)


@gemm_op(_batched_flops)
class MatmulFolded(Op):
    """(..., k) @ (k, m) or (..., k) @ (k,): the batch folded into the rows of one GEMM."""
    backward_name = 'UnsafeViewBackward0'

    @staticmethod
    def forward(ctx, a, b):
        k = a.shape[-1]
        a2 = a.reshape(-1, k)
        if b.shape[0] != k:
            if b.ndim == 2:
                raise _mm_shape_error(a2.shape, b.shape)
            raise RuntimeError(f'size mismatch, got input ({a2.shape[0]}), mat '
                               f'({a2.shape[0]}x{k}), vec ({b.shape[0]})')
        ctx.save_for_backward(a, b)
        return a2.dot(b).reshape(a.shape[:-1] + b.shape[1:])

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        need = ctx.needs_input_grad
        a2 = a.reshape(-1, a.shape[-1])
        if b.ndim == 1:
            g2 = g.reshape(-1)
            ga = (g2[:, None] * b).reshape(a.shape) if need[0] else None
            return ga, (a2.T.dot(g2) if need[1] else None)
        g2 = g.reshape(a2.shape[0], b.shape[1])
        ga = g2.dot(b.T).reshape(a.shape) if need[0] else None
        return ga, (a2.T.dot(g2) if need[1] else None)


def _batched_error(a, b):
    ea = a.shape if a.ndim > 1 else (1,) + a.shape
    eb = b.shape if b.ndim > 1 else b.shape + (1,)
    batch = _broadcast_shapes(ea[:-2], eb[:-2])
    n = math.prod(batch)
    return RuntimeError(f'Expected size for first two dimensions of batch2 tensor to be: '
                        f'[{n}, {ea[-1]}] but got: [{n}, {eb[-2]}].')


@gemm_op(_batched_flops)
class MatmulBatched(Op):
    """Batched matmul with broadcast batch dims (1-D operands promoted as in ``matmul``)."""
    backward_name = 'UnsafeViewBackward0'

    @staticmethod
    def forward(ctx, a, b):
        xp = xp_of(a)
        try:
            out = xp.matmul(a, b)
        except ValueError:
            raise _batched_error(a, b) from None
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        xp = xp_of(g)
        need = ctx.needs_input_grad
        a2 = a if a.ndim > 1 else a[None, :]
        b2 = b if b.ndim > 1 else b[:, None]
        if a.ndim == 1:
            g = g[..., None, :]
        if b.ndim == 1:
            g = g[..., None]
        ga = gb = None
        if need[0]:
            ga = xp.matmul(g, _T(b2))
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if need[1]:
            gb = xp.matmul(_T(a2), g)
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb


class Bmm(MatmulBatched):
    backward_name = None


class Outer(Op):
    """(n,) x (m,) -> (n, m)."""
    backward_name = 'MulBackward0'

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return a[:, None] * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        need = ctx.needs_input_grad
        return (g.dot(b) if need[0] else None), (a.dot(g) if need[1] else None)


def _add_scaled(r, inp, beta, out_shape):
    """r += beta * inp (in place, r is a fresh result), with PyTorch's expand error."""
    if beta == 0:
        return r
    try:
        r += inp if beta == 1 else inp * beta
    except ValueError:
        raise RuntimeError(
            f'The expanded size of the tensor ({out_shape[-1]}) must match the existing size '
            f'({inp.shape[-1] if inp.ndim else 1}) at non-singleton dimension '
            f'{len(out_shape) - 1}.  Target sizes: {list(out_shape)}.  Tensor sizes: '
            f'{list(inp.shape)}') from None
    return r


def _scaled(x, s):
    return x if s == 1 else x * s


@gemm_op(_mm_flops)
class Addmm(Op):
    """beta * input + alpha * (mat1 @ mat2)."""

    @staticmethod
    def forward(ctx, inp, m1, m2, beta, alpha):
        if m1.shape[1] != m2.shape[0]:
            raise _mm_shape_error(m1.shape, m2.shape)
        ctx.save_for_backward(m1, m2)
        ctx.beta, ctx.alpha = beta, alpha
        r = m1.dot(m2)
        if alpha != 1:
            r *= alpha
        return _add_scaled(r, inp, beta, r.shape)

    @staticmethod
    def backward(ctx, g):
        m1, m2 = ctx.saved
        need = ctx.needs_input_grad
        ga = _scaled(g, ctx.alpha)
        return (_scaled(g, ctx.beta) if need[0] else None,
                ga.dot(m2.T) if need[1] else None, m1.T.dot(ga) if need[2] else None)


class Addmv(Op):
    """beta * input + alpha * (mat @ vec)."""

    @staticmethod
    def forward(ctx, inp, mat, vec, beta, alpha):
        if mat.shape[1] != vec.shape[0] or inp.shape not in ((), (1,), mat.shape[:1]):
            n = inp.shape[0] if inp.ndim else mat.shape[0]
            raise RuntimeError(f'size mismatch, got input ({n}), mat ({mat.shape[0]}x'
                               f'{mat.shape[1]}), vec ({vec.shape[0]})')
        ctx.save_for_backward(mat, vec)
        ctx.beta, ctx.alpha = beta, alpha
        r = mat.dot(vec)
        if alpha != 1:
            r *= alpha
        return _add_scaled(r, inp, beta, r.shape)

    @staticmethod
    def backward(ctx, g):
        mat, vec = ctx.saved
        need = ctx.needs_input_grad
        ga = _scaled(g, ctx.alpha)
        return (_scaled(g, ctx.beta) if need[0] else None,
                ga[:, None] * vec if need[1] else None, mat.T.dot(ga) if need[2] else None)


class Addr(Op):
    """beta * input + alpha * outer(vec1, vec2)."""

    @staticmethod
    def forward(ctx, inp, v1, v2, beta, alpha):
        v1, v2 = promote(v1, v2)
        ctx.save_for_backward(v1, v2)
        ctx.beta, ctx.alpha = beta, alpha
        r = v1[:, None] * v2
        if alpha != 1:
            r *= alpha
        if beta != 0 and inp.dtype != r.dtype:
            r = r.astype(np.promote_types(r.dtype, inp.dtype))
        return _add_scaled(r, inp, beta, r.shape)

    @staticmethod
    def backward(ctx, g):
        v1, v2 = ctx.saved
        need = ctx.needs_input_grad
        ga = _scaled(g, ctx.alpha)
        return (_scaled(g, ctx.beta) if need[0] else None,
                ga.dot(v2) if need[1] else None, v1.dot(ga) if need[2] else None)


def _bmm_checks(b1, b2, fname):
    if b1.shape[0] != b2.shape[0]:
        raise RuntimeError(f'batch1 and batch2 must have same number of batches, got '
                           f'{b1.shape[0]} and {b2.shape[0]}')
    if b1.shape[2] != b2.shape[1]:
        if fname == 'addbmm':
            raise RuntimeError(f'Incompatible matrix sizes for bmm ({b1.shape[1]}x{b1.shape[2]} '
                               f'and {b2.shape[1]}x{b2.shape[2]})')
        raise RuntimeError(f'Expected size for first two dimensions of batch2 tensor to be: '
                           f'[{b1.shape[0]}, {b1.shape[2]}] but got: [{b2.shape[0]}, '
                           f'{b2.shape[1]}].')


@gemm_op(_mm_flops)
class Addbmm(Op):
    """beta * input + alpha * sum_b batch1[b] @ batch2[b], as one GEMM over (batch, k)."""

    @staticmethod
    def forward(ctx, inp, b1, b2, beta, alpha):
        _bmm_checks(b1, b2, 'addbmm')
        nb, n, k = b1.shape
        ctx.save_for_backward(b1, b2)
        ctx.beta, ctx.alpha = beta, alpha
        r = b1.transpose(1, 0, 2).reshape(n, nb * k).dot(b2.reshape(nb * k, b2.shape[2]))
        if alpha != 1:
            r *= alpha
        return _add_scaled(r, inp, beta, r.shape)

    @staticmethod
    def backward(ctx, g):
        b1, b2 = ctx.saved
        xp = xp_of(g)
        need = ctx.needs_input_grad
        ga = _scaled(g, ctx.alpha)
        return (_scaled(g, ctx.beta) if need[0] else None,
                xp.matmul(ga, _T(b2)) if need[1] else None,
                xp.matmul(_T(b1), ga) if need[2] else None)


@gemm_op(_mm_flops)
class Baddbmm(Op):
    """beta * input + alpha * (batch1 @ batch2), batch by batch."""

    @staticmethod
    def forward(ctx, inp, b1, b2, beta, alpha):
        _bmm_checks(b1, b2, 'baddbmm')
        ctx.save_for_backward(b1, b2)
        ctx.beta, ctx.alpha = beta, alpha
        r = xp_of(b1).matmul(b1, b2)
        if alpha != 1:
            r *= alpha
        return _add_scaled(r, inp, beta, r.shape)

    @staticmethod
    def backward(ctx, g):
        b1, b2 = ctx.saved
        xp = xp_of(g)
        need = ctx.needs_input_grad
        ga = _scaled(g, ctx.alpha)
        return (_scaled(g, ctx.beta) if need[0] else None,
                xp.matmul(ga, _T(b2)) if need[1] else None,
                xp.matmul(_T(b1), ga) if need[2] else None)


# ---- products: public functions ---------------------------------------------------------------
def _mm_dtypes(a, b):
    if a.dtype != b.dtype:
        raise RuntimeError(f'expected m1 and m2 to have the same dtype, but got: {_cpp(a.dtype)} '
                           f'!= {_cpp(b.dtype)}')
    if a.dtype.kind == 'b':
        raise NotImplementedError('"addmm_impl_cpu_" not implemented for \'Bool\'')


def _mv_dtypes(mat, vec):
    if mat.dtype != vec.dtype:
        raise RuntimeError(f'addmv input tensors must have the same dtype, but got '
                           f'{_sname(vec.dtype)}, {_sname(mat.dtype)}, and {_sname(vec.dtype)}')
    if mat.dtype.kind == 'b':
        raise NotImplementedError('"addmv_impl_cpu" not implemented for \'Bool\'')


def _dot_checks(a, b, fname='dot'):
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f'1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors')
    if a.dtype != b.dtype:
        raise RuntimeError(f'{fname} : expected both vectors to have same dtype, but found '
                           f'{_sname(a.dtype)} and {_sname(b.dtype)}')
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f'inconsistent tensor size, expected tensor [{a.shape[0]}] and src '
                           f'[{b.shape[0]}] to have the same number of elements, but got '
                           f'{a.shape[0]} and {b.shape[0]} elements respectively')
    if a.dtype.kind == 'b':
        raise NotImplementedError('"dot" not implemented for \'Bool\'')


def _batched_dtypes(a, b):
    if a.dtype != b.dtype:
        raise RuntimeError(f'expected scalar type {_sname(a.dtype)} but found {_sname(b.dtype)}')
    if a.dtype.kind == 'b':
        raise NotImplementedError('"bmm" not implemented for \'Bool\'')


def _matmul_general(input, other, a, b):
    """matmul for every case but 2-D @ 2-D."""
    na, nb = a.ndim, b.ndim
    if na == 0 or nb == 0:
        raise RuntimeError(f'both arguments to matmul need to be at least 1D, but they are {na}D '
                           f'and {nb}D')
    if na == 1 and nb == 1:
        _dot_checks(a, b)
        return Dot.apply(input, other)
    if nb == 1 and na == 2:
        return mv(input, other)
    if na == 1 and nb == 2:
        _mm_dtypes(a, b)
        return VecMat.apply(input, other)
    if nb <= 2:
        if nb == 2:
            _mm_dtypes(a, b)
        else:
            _mv_dtypes(a, b)
        return MatmulFolded.apply(input, other)
    _batched_dtypes(a, b)
    return MatmulBatched.apply(input, other)


@tensor_method
def matmul(input, other, *, out=None):
    """Matrix product with NumPy/PyTorch semantics: 1-D operands are promoted to a row (left) or
    a column (right) and the promoted dim removed; batch dims broadcast."""
    try:
        a, b = input._data, other._data
    except AttributeError:
        _tensor_arg(input, 'matmul', 'input', 1)
        _tensor_arg(other, 'matmul', 'other', 2)
    if a.ndim == 2 and b.ndim == 2:
        _mm_dtypes(a, b)
        r = Mm.apply(input, other)
    else:
        r = _matmul_general(input, other, a, b)
    return r if out is None else _store_out(out, r)


def _matmul_operator(self, other):
    if other.__class__ is Tensor and self._data.ndim == 2 and other._data.ndim == 2:
        _mm_dtypes(self._data, other._data)
        return Mm.apply(self, other)
    return matmul(self, _as_tensor(other, self))


def _as_tensor(x, ref):
    if isinstance(x, Tensor):
        return x
    x = _operand(x, ref)
    if isinstance(x, Tensor):
        return x
    from .._creation import tensor
    return tensor(x, device=ref.device)


Tensor.__matmul__ = _matmul_operator
Tensor.__rmatmul__ = lambda self, other: matmul(_as_tensor(other, self), self)


@tensor_method
def mm(input, mat2, *, out=None):
    """(n, k) @ (k, m)."""
    a, b = input._data, mat2._data
    if a.ndim != 2:
        raise RuntimeError('self must be a matrix')
    if b.ndim != 2:
        raise RuntimeError('mat2 must be a matrix')
    _mm_dtypes(a, b)
    return _out(Mm.apply(input, mat2), out)


@tensor_method
def bmm(input, mat2, *, out=None):
    """(b, n, k) @ (b, k, m)."""
    a, b = input._data, mat2._data
    if a.ndim != 3:
        raise RuntimeError('batch1 must be a 3D tensor')
    if b.ndim != 3:
        raise RuntimeError('batch2 must be a 3D tensor')
    _batched_dtypes(a, b)
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f'Expected size for first two dimensions of batch2 tensor to be: '
                           f'[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].')
    return _out(Bmm.apply(input, mat2), out)


@tensor_method
def mv(input, vec, *, out=None):
    """(n, k) @ (k,) -> (n,)."""
    a, v = input._data, vec._data
    if a.ndim != 2 or v.ndim != 1:
        raise RuntimeError(f'vector + matrix @ vector expected, got 1, {a.ndim}, {v.ndim}')
    _mv_dtypes(a, v)
    if a.shape[1] != v.shape[0]:
        raise RuntimeError(f'size mismatch, got input ({a.shape[0]}), mat ({a.shape[0]}x'
                           f'{a.shape[1]}), vec ({v.shape[0]})')
    return _out(Mv.apply(input, vec), out)


@tensor_method
def dot(input, tensor, *, out=None):
    """Inner product of two 1-D tensors (0-d result)."""
    _dot_checks(input._data, tensor._data)
    return _out(Dot.apply(input, tensor), out)


@tensor_method
def vdot(input, other, *, out=None):
    """``dot`` (no conjugation: ember has no complex dtypes)."""
    _dot_checks(input._data, other._data, 'vdot')
    return _out(Vdot.apply(input, other), out)


@tensor_method('outer', 'ger')
def outer(input, vec2, *, out=None):
    """(n,) x (m,) -> (n, m)."""
    for name, t in (('vec1', input), ('vec2', vec2)):
        if t._data.ndim != 1:
            raise RuntimeError(f'outer: Expected 1-D argument {name}, but got {t._data.ndim}-D')
    return _out(Outer.apply(input, vec2), out)


ger = outer


@tensor_method
def inner(input, other, *, out=None):
    """Sum over the last dims of both; a 0-d operand multiplies."""
    a, b = input._data, other._data
    if a.ndim == 0 or b.ndim == 0:
        from .elementwise import mul
        return mul(input, other, out=out)
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(f'inner() the last dimension must match on both input tensors but got '
                           f'shapes {list(a.shape)} and {list(b.shape)}')
    if a.dtype != b.dtype:
        raise RuntimeError('both inputs should have same dtype')
    return _out(Tensordot.apply(input, other, (a.ndim - 1,), (b.ndim - 1,)), out)


def _addmm_dtypes(inp, m1, m2):
    if inp.dtype != m2.dtype:
        raise RuntimeError(f'self and mat2 must have the same dtype, but got {_sname(inp.dtype)} '
                           f'and {_sname(m2.dtype)}')
    _mm_dtypes(m1, m2)


@tensor_method
def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * (mat1 @ mat2); ``input`` broadcasts to (n, m)."""
    for name, t in (('mat1', mat1), ('mat2', mat2)):
        if t._data.ndim != 2:
            raise RuntimeError(f'{name} must be a matrix, got {t._data.ndim}-D tensor')
    _addmm_dtypes(input._data, mat1._data, mat2._data)
    return _out(Addmm.apply(input, mat1, mat2, beta, alpha), out)


@tensor_method
def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * (mat @ vec)."""
    m, v = mat._data, vec._data
    if input._data.ndim > 1 or m.ndim != 2 or v.ndim != 1:
        raise RuntimeError(f'vector + matrix @ vector expected, got {input._data.ndim}, {m.ndim}, '
                           f'{v.ndim}')
    _mv_dtypes(m, v)
    return _out(Addmv.apply(input, mat, vec, beta, alpha), out)


@tensor_method
def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * outer(vec1, vec2)."""
    for name, t in (('vec1', vec1), ('vec2', vec2)):
        if t._data.ndim != 1:
            raise RuntimeError(f'addr: Expected 1-D argument {name}, but got {t._data.ndim}-D')
    return _out(Addr.apply(input, vec1, vec2, beta, alpha), out)


def _check_batches(b1, b2):
    for t in (b1, b2):
        if t._data.ndim != 3:
            raise IndexError(f'Dimension out of range (expected to be in range of '
                             f'[{-t._data.ndim}, {t._data.ndim - 1}], but got 2)')
    _batched_dtypes(b1._data, b2._data)


@tensor_method
def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * sum over the batch of batch1[i] @ batch2[i]."""
    _check_batches(batch1, batch2)
    return _out(Addbmm.apply(input, batch1, batch2, beta, alpha), out)


@tensor_method
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * (batch1 @ batch2)."""
    _check_batches(batch1, batch2)
    return _out(Baddbmm.apply(input, batch1, batch2, beta, alpha), out)


def _addmm_inplace(fn):
    def f(self, *args, **kwargs):
        from ..autograd.inplace import apply_inplace
        return apply_inplace(self, fn, *args, **kwargs)
    f.__name__ = f.__qualname__ = fn.__name__ + '_'
    return tensor_method(f.__name__)(f)


for _fn in (addmm, addmv, addr, addbmm, baddbmm):
    _addmm_inplace(_fn)


def chain_matmul(*matrices, out=None):
    """Product of 2-D matrices (deprecated in PyTorch in favour of ``linalg.multi_dot``)."""
    from ..linalg import multi_dot
    if len(matrices) == 1:
        return matrices[0]
    return _out(multi_dot(matrices), out)


# ---- tensordot, kron, trace, cross ----------------------------------------------------------
class Tensordot(Op):
    """Contract dims ``da`` of ``a`` with dims ``db`` of ``b`` (one GEMM through tensordot)."""
    backward_name = 'ViewBackward0'

    @staticmethod
    def forward(ctx, a, b, da, db):
        ctx.save_for_backward(a, b)
        ctx.dims = da, db
        return xp_of(a).tensordot(a, b, axes=(da, db))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        da, db = ctx.dims
        xp = xp_of(g)
        need = ctx.needs_input_grad
        fa = [i for i in range(a.ndim) if i not in da]
        fb = [i for i in range(b.ndim) if i not in db]
        ga = gb = None
        if need[0]:
            # g's trailing (free-b) dims contract with b's free dims; b's remaining dims come
            # out in b's order, each standing for its partner dim of a.
            r = xp.tensordot(g, b, axes=(list(range(len(fa), g.ndim)), fb))
            labels = fa + [da[db.index(i)] for i in sorted(db)]
            ga = r.transpose(tuple(np.argsort(labels).tolist()))
        if need[1]:
            r = xp.tensordot(a, g, axes=(fa, list(range(len(fa)))))
            labels = [db[da.index(i)] for i in sorted(da)] + fb
            gb = r.transpose(tuple(np.argsort(labels).tolist()))
        return ga, gb


def _tensordot_dims(dims, na, nb):
    """(dims of a, dims of b) from an int or a pair of lists (or a tensor of either)."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f'tensordot expects dims >= 0, but got dims={dims}')
        if dims > na or dims > nb:
            raise RuntimeError(f'tensordot expects dims < ndim_a or ndim_b, but got dims={dims}')
        return list(range(na - dims, na)), list(range(dims))
    da, db = dims
    da = [da] if isinstance(da, int) else list(da)
    db = [db] if isinstance(db, int) else list(db)
    if len(da) != len(db):
        raise RuntimeError('both dimension lists should have same length')
    da = [_dim(d, na) for d in da]
    db = [_dim(d, nb) for d in db]
    for ds in (da, db):
        for d in ds:
            if ds.count(d) > 1:
                raise RuntimeError(f'dim {d} appears multiple times in the list of dims')
    return da, db


def tensordot(a, b, dims=2, out=None):
    """Sum of products over ``dims``: an int (last dims of a with first dims of b) or a pair
    of lists ``([dims of a], [dims of b])``."""
    x, y = a._data, b._data
    da, db = _tensordot_dims(dims, x.ndim, y.ndim)
    for i, j in zip(da, db):
        if x.shape[i] != y.shape[j]:
            raise RuntimeError(f'contracted dimensions need to match, but first has size '
                               f'{x.shape[i]} in dim {i - x.ndim if i == x.ndim - 1 else i} and '
                               f'second has size {y.shape[j]} in dim {j}')
    if x.dtype != y.dtype:
        raise RuntimeError('both inputs should have same dtype')
    return _out(Tensordot.apply(a, b, da, db), out)


class Kron(Op):
    """Kronecker product: out[i*bs + j] = a[i] * b[j] along every dim."""
    backward_name = 'UnsafeViewBackward0'

    @staticmethod
    def forward(ctx, a, b):
        a, b = promote(a, b)
        n = max(a.ndim, b.ndim)
        sa = (1,) * (n - a.ndim) + a.shape
        sb = (1,) * (n - b.ndim) + b.shape
        ia = sum(((s, 1) for s in sa), ())
        ib = sum(((1, s) for s in sb), ())
        ctx.save_for_backward(a, b)
        ctx.shapes = ia, ib
        return (a.reshape(ia) * b.reshape(ib)).reshape(tuple(x * y for x, y in zip(sa, sb)))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        ia, ib = ctx.shapes
        gi = g.reshape(tuple(max(x, y) for x, y in zip(ia, ib)))
        need = ctx.needs_input_grad
        n = len(ia)
        ga = (gi * b.reshape(ib)).sum(axis=tuple(range(1, n, 2))).reshape(a.shape) \
            if need[0] else None
        gb = (gi * a.reshape(ia)).sum(axis=tuple(range(0, n, 2))).reshape(b.shape) \
            if need[1] else None
        return ga, gb


@tensor_method
def kron(input, other, *, out=None):
    """Kronecker product (dims padded with leading ones to the larger rank)."""
    return _out(Kron.apply(input, other), out)


class Trace(Op):
    """Sum of the main diagonal of a 2-D tensor."""

    @staticmethod
    def forward(ctx, a):
        ctx.shape = a.shape
        if a.dtype.kind in 'iub':
            return _arr(a.trace(dtype=np.int64))
        return _arr(a.trace())

    @staticmethod
    def backward(ctx, g):
        n, m = ctx.shape
        return xp_of(g).eye(n, m, dtype=g.dtype) * g


@tensor_method
def trace(input):
    """Sum of the diagonal of a matrix (int inputs give int64)."""
    a = input._data
    if a.ndim != 2:
        raise RuntimeError(f'trace: expected a matrix, but got tensor with dim {a.ndim}')
    if a.dtype.kind == 'b':
        raise NotImplementedError('"trace" not implemented for \'Bool\'')
    return Trace.apply(input)


class Cross(Op):
    """Cross product of 3-vectors along ``dim`` (broadcasting)."""
    backward_name = 'LinalgCrossBackward0'

    @staticmethod
    def forward(ctx, a, b, dim):
        ctx.save_for_backward(a, b)
        ctx.dim = dim
        return xp_of(a).cross(a, b, axis=dim)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        xp = xp_of(g)
        d = ctx.dim
        need = ctx.needs_input_grad
        return (xp.cross(b, g, axis=d) if need[0] else None,
                xp.cross(g, a, axis=d) if need[1] else None)


def linalg_cross(input, other, dim=-1):
    """``linalg.cross``: ``input`` and ``other`` of the same rank (sizes broadcast), size 3
    along ``dim``."""
    a, b = input._data, other._data
    if a.ndim != b.ndim:
        raise RuntimeError('linalg.cross: inputs must have the same number of dimensions.')
    d = _dim(dim, a.ndim)
    if a.shape[d] != 3 or b.shape[d] != 3:
        raise RuntimeError(f'linalg.cross: inputs dimension {dim} must have length 3. Got '
                           f'{a.shape[d]} and {b.shape[d]}')
    shape = _broadcast_shapes(a.shape, b.shape)
    if a.dtype != b.dtype:
        raise RuntimeError(f'expected scalar type {_sname(a.dtype)} but found {_sname(b.dtype)}')
    return Cross.apply(input, other, d - len(shape))


@tensor_method
def cross(input, other, dim=None, *, out=None):
    """Cross product along ``dim`` (default: the first dim of size 3, with PyTorch's
    deprecation warning)."""
    if dim is None:
        import warnings
        warnings.warn('Using torch.cross without specifying the dim arg is deprecated.\nPlease '
                      'either pass the dim explicitly or simply use torch.linalg.cross.\nThe '
                      'default value of dim will change to agree with that of linalg.cross in a '
                      'future release.', UserWarning, stacklevel=2)
        shape = _broadcast_shapes(input._data.shape, other._data.shape)
        if 3 not in shape:
            raise RuntimeError('no dimension of size 3 in input')
        dim = shape.index(3)
    return _out(linalg_cross(input, other, dim), out)


# ---- einsum -------------------------------------------------------------------------------
_LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
_plans = {}
_paths = {}


class _EinsumPlan:
    """An equation with every '...' replaced by letters: input terms, output term, the
    letter sizes (after size-1 broadcasting), and the NumPy equation string."""
    __slots__ = ('terms', 'out', 'sizes', 'eq')

    def __init__(self, terms, out, sizes):
        self.terms, self.out, self.sizes = terms, out, sizes
        self.eq = ','.join(terms) + '->' + out


def _einsum_check_chars(equation):
    arrow = equation.find('->')
    for i, c in enumerate(equation):
        if c.isascii() and (c.isalpha() or c in ' .') or (c == ',' and (arrow < 0 or i < arrow)):
            continue
        if arrow >= 0 and i in (arrow, arrow + 1):
            continue
        raise RuntimeError(f'einsum(): invalid subscript given at index {i} in the equation '
                           'string, subscripts must be in [a-zA-Z]')


def _einsum_term(term, ndim, k, ell):
    """Term ``k`` with '...' replaced by its share of the ellipsis letters ``ell``."""
    if '...' in term:
        n = len(term) - 3
        if '.' in term.replace('...', '', 1):
            raise RuntimeError(f"einsum(): found '.' for operand {k} that is not part of any "
                               'ellipsis (...)')
        if n > ndim:
            raise RuntimeError(f'einsum(): the number of subscripts in the equation ({n}) is more '
                               f'than the number of dimensions ({ndim}) for operand {k}')
        return term.replace('...', ell[len(ell) - (ndim - n):] if ndim > n else '')
    if '.' in term:
        raise RuntimeError(f"einsum(): found '.' for operand {k} that is not part of any "
                           'ellipsis (...)')
    if len(term) != ndim:
        raise RuntimeError(f'einsum(): the number of subscripts in the equation ({len(term)}) does'
                           f' not match the number of dimensions ({ndim}) for operand {k} and no '
                           'ellipsis was given')
    return term


def _einsum_plan(equation, shapes):
    """Parse and check ``equation`` for operands of ``shapes`` (cached)."""
    key = (equation,) + shapes
    plan = _plans.get(key)
    if plan is not None:
        return plan
    _einsum_check_chars(equation)
    eq = equation.replace(' ', '')
    lhs, arrow, rhs = eq.partition('->')
    raw = lhs.split(',')
    if len(raw) > len(shapes):
        raise RuntimeError('einsum(): fewer operands were provided than specified in the equation')
    if len(raw) < len(shapes):
        raise RuntimeError('einsum(): more operands were provided than specified in the equation')
    n_ell = max([len(s) - (len(t) - 3) for t, s in zip(raw, shapes) if '...' in t] + [0])
    ell = ''.join([c for c in _LETTERS if c not in eq][:n_ell])
    terms = [_einsum_term(t, len(s), k, ell) for k, (t, s) in enumerate(zip(raw, shapes))]
    sizes = _einsum_sizes(terms, shapes, ell)
    if arrow:
        if '.' in rhs.replace('...', '', 1):
            raise RuntimeError("einsum(): found '.' for output that is not part of any "
                               'ellipsis (...)')
        out = rhs.replace('...', ell)
        for c in out:
            if out.count(c) > 1:
                raise RuntimeError(f'einsum(): output subscript {c} appears more than once in the '
                                   'output')
            if c not in sizes:
                raise RuntimeError(f'einsum(): output subscript {c} does not appear in the '
                                   'equation for any input operand')
    else:
        joined = ''.join(terms)
        out = ell + ''.join(sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ell))
    plan = _EinsumPlan(terms, out, sizes)
    if len(_plans) > 4096:
        _plans.clear()
    _plans[key] = plan
    return plan


def _einsum_sizes(terms, shapes, ell):
    """Letter -> size, with size-1 dims broadcasting and PyTorch's errors."""
    sizes = {}
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        own = {}
        for c, s in zip(term, shape):
            if c in own and own[c] != s:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {k} but the "
                                   f"sizes don't match, {s} != {own[c]}")
            own[c] = s
        for c, s in own.items():
            prev = sizes.get(c)
            if prev is None or prev == 1:
                sizes[c] = s
            elif s != 1 and s != prev:
                if c in ell:
                    raise RuntimeError(f'einsum(): the ellipsis dimensions of operand {k} do not '
                                       'broadcast with those of the operands before it')
                raise RuntimeError(f'einsum(): subscript {c} has size {s} for operand {k} which '
                                   f'does not broadcast with previously seen size {prev}')
    return sizes


def _contract(eq, arrays, work):
    """``einsum`` of arrays. Contractions worth it (``work`` multiply-adds) of two operands run
    as one batched GEMM; of more operands, on the CPU, through a cached optimal path."""
    xp = xp_of(arrays[0])
    if len(arrays) == 2 and work >= 4096:
        r = _pair_contract(eq, *arrays)
        if r is not None:
            return r
    if xp is not np:
        return xp.einsum(eq, *arrays)
    if len(arrays) < 3 or work < 4096:
        return np.einsum(eq, *arrays)
    key = (eq,) + tuple([a.shape for a in arrays])
    path = _paths.get(key)
    if path is None:
        if len(_paths) > 4096:
            _paths.clear()
        path = _paths[key] = np.einsum_path(eq, *arrays, optimize='greedy')[0]
    return np.einsum(eq, *arrays, optimize=path)


def _pair_contract(eq, a, b):
    """Two-operand einsum as ``matmul`` of (batch, free_a, k) by (batch, k, free_b), letters
    summed on one side only summed first. None where that does not apply (diagonals, size-1
    broadcasting)."""
    lhs, out = eq.split('->')
    ta, tb = lhs.split(',')
    if len(set(ta)) != len(ta) or len(set(tb)) != len(tb):
        return None
    sizes = dict(zip(ta, a.shape))
    for c, n in zip(tb, b.shape):
        if sizes.setdefault(c, n) != n:
            return None
    a, ta = _sum_unshared(a, ta, tb + out)
    b, tb = _sum_unshared(b, tb, ta + out)
    batch = [c for c in ta if c in tb and c in out]
    contr = [c for c in ta if c in tb and c not in out]
    fa = [c for c in ta if c not in tb]
    fb = [c for c in tb if c not in ta]
    nb, m, k, n = [math.prod(sizes[c] for c in g) for g in (batch, fa, contr, fb)]
    A = a.transpose([ta.index(c) for c in batch + fa + contr]).reshape(nb, m, k)
    B = b.transpose([tb.index(c) for c in batch + contr + fb]).reshape(nb, k, n)
    r = A[0].dot(B[0])[None] if nb == 1 else xp_of(a).matmul(A, B)
    letters = batch + fa + fb
    r = r.reshape([sizes[c] for c in letters])
    return r.transpose([letters.index(c) for c in out])


def _sum_unshared(a, term, keep):
    """Sum out the letters of ``term`` absent from ``keep``."""
    axes = tuple([i for i, c in enumerate(term) if c not in keep])
    if not axes:
        return a, term
    return a.sum(axis=axes), ''.join([c for c in term if c in keep])


class Einsum(Op):
    """Einstein summation over operands; backward contracts the gradient with the others."""

    @staticmethod
    def forward(ctx, plan, *arrays):
        ctx.save_for_backward(*arrays)
        ctx.plan = plan
        out = _contract(plan.eq, arrays, math.prod(plan.sizes.values()))
        if len(arrays) == 1 and out.base is not None:
            out = out.copy()  # NumPy returns views for transposes and diagonals
        return _arr(out)

    @staticmethod
    def backward(ctx, g):
        arrays = ctx.saved
        need = ctx.needs_input_grad
        return (None,) + tuple([_einsum_grad(ctx.plan, arrays, g, k) if need[k + 1] else None
                                for k in range(len(arrays))])


def _einsum_grad(plan, arrays, g, k):
    """Gradient for operand ``k``: einsum of the gradient with the other operands onto the
    operand's letters; letters only it has are broadcast, repeated letters (diagonals) are
    scattered back, and dims it had as size 1 (broadcast) are summed."""
    xp = xp_of(g)
    a = arrays[k]
    term = plan.terms[k]
    uniq = ''.join(dict.fromkeys(term))
    others = [j for j in range(len(arrays)) if j != k]
    avail = set(plan.out).union(*[plan.terms[j] for j in others])
    keep = ''.join([c for c in uniq if c in avail])
    eq = ','.join([plan.out] + [plan.terms[j] for j in others]) + '->' + keep
    r = _contract(eq, [g] + [arrays[j] for j in others], math.prod(plan.sizes.values()))
    own = dict(zip(term, a.shape))
    shrink = tuple([i for i, c in enumerate(keep) if own[c] == 1 and r.shape[i] != 1])
    if shrink:
        r = r.sum(axis=shrink, keepdims=True)
    missing = ''.join([c for c in uniq if c not in avail])
    letters = keep + missing
    r = r.reshape(r.shape + (1,) * len(missing)).transpose([letters.index(c) for c in uniq])
    target = tuple([own[c] for c in uniq])
    if len(uniq) == len(term):
        return xp.broadcast_to(r, target).astype(g.dtype, copy=True)
    full = xp.zeros(a.shape, g.dtype)
    strides = tuple([sum(st for c2, st in zip(term, full.strides) if c2 == c) for c in uniq])
    diag = xp.lib.stride_tricks.as_strided(full, shape=target, strides=strides)
    diag[...] = r
    return full


def einsum(*args):
    """``einsum(equation, *operands)`` or ``einsum(equation, [operands])``, or the sublist
    form ``einsum(op0, [0, 1], op1, [1, 2], [0, 2])``."""
    if not args:
        raise TypeError('einsum(): must specify the equation string and at least one operand, '
                        'or at least one operand and its subscripts list')
    if not isinstance(args[0], str):
        args = _sublist_to_equation(args)
    equation, operands = args[0], args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f'einsum(): operand {i} must be a Tensor, not {type(t).__name__}')
    arrays = [t._data for t in operands]
    plan = _einsum_plan(equation, tuple([a.shape for a in arrays]))
    for a in arrays[1:]:
        if a.dtype != arrays[0].dtype:
            raise RuntimeError(f'expected scalar type {_sname(arrays[0].dtype)} but found '
                               f'{_sname(a.dtype)}')
    return Einsum.apply(plan, *operands)


def _sublist_to_equation(args):
    """(equation, *operands) from the sublist form (op, [dims], op, [dims], ..., [out])."""
    pairs, out = (args[:-1], args[-1]) if len(args) % 2 else (args, None)

    def letters(sub):
        return ''.join('...' if s is Ellipsis else _LETTERS[s] for s in sub)
    eq = ','.join(letters(t) for t in pairs[1::2])
    if out is not None:
        eq += '->' + letters(out)
    return (eq, *pairs[0::2])


# ---- linear algebra: shared checks ------------------------------------------------------------
class LinAlgError(RuntimeError):
    """A linear algebra routine failed on its input (singular or not positive-definite)."""


def _host(a):
    return a if a.__class__ is np.ndarray else a.get()


def _raising(xp):
    """CuPy reports LAPACK failures only when asked to (NumPy always raises)."""
    if xp is np:
        return contextlib.nullcontext()
    import cupyx
    return cupyx.errstate(linalg='raise')


def check_matrix(A, fname, square=True, floating=True, argname='A'):
    """PyTorch's checks on a (batch of) matrix input of ``linalg.<fname>``."""
    a = A._data
    if a.ndim < 2:
        raise RuntimeError(f'linalg.{fname}: The input tensor {argname} must have at least 2 '
                           'dimensions.')
    if floating:
        if a.dtype.kind != 'f':
            raise RuntimeError(f'linalg.{fname}: Expected a floating point or complex tensor as '
                               f'input. Got {_sname(a.dtype)}')
        if a.dtype == np.float16:
            raise RuntimeError(f'linalg.{fname}: Low precision dtypes not supported. Got Half')
    if square and a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f'linalg.{fname}: {argname} must be batches of square matrices, but '
                           f'they are {a.shape[-2]} by {a.shape[-1]} matrices')
    return a


def _batches(a):
    """(prefix, matrix) for each matrix of a batch, host side; prefix names the element."""
    m = _host(a)
    if m.ndim == 2:
        yield '', m
        return
    for i, x in enumerate(m.reshape((-1,) + m.shape[-2:])):
        yield f'(Batch element {i}): ', x


def _first_zero_pivot(m):
    """1-based index of the first exactly-zero pivot of LU with partial pivoting (LAPACK
    getrf's ``info``), 0 when there is none."""
    a = np.array(m, copy=True)
    n = a.shape[0]
    for j in range(n):
        p = j + int(np.argmax(np.abs(a[j:, j])))
        if a[p, j] == 0:
            return j + 1
        if p != j:
            a[[j, p]] = a[[p, j]]
        a[j + 1:, j] /= a[j, j]
        a[j + 1:, j + 1:] -= np.outer(a[j + 1:, j], a[j, j + 1:])
    return 0


def _singular_error(a, fname):
    """PyTorch's error for a singular input of ``inv``, naming batch element and pivot."""
    for prefix, m in _batches(a):
        info = _first_zero_pivot(m)
        if info:
            return LinAlgError(f'{fname}: {prefix}The diagonal element {info} is zero, the '
                               'inversion could not be completed because the input matrix is '
                               'singular.')
    return LinAlgError(f'{fname}: The inversion could not be completed because the input matrix '
                       'is singular.')


def _cholesky_order(m):
    """Order of the first leading minor that is not positive-definite, 0 when none."""
    n = m.shape[0]
    L = np.zeros((n, n))
    for j in range(n):
        d = m[j, j] - L[j, :j].dot(L[j, :j])
        if not d > 0:
            return j + 1
        L[j, j] = math.sqrt(d)
        L[j + 1:, j] = (m[j + 1:, j] - L[j + 1:, :j].dot(L[j, :j])) / L[j, j]
    return 0


def inv_array(a, fname='linalg.inv'):
    """Inverse of a (batch of) square matrices, PyTorch's error when singular."""
    xp = xp_of(a)
    try:
        with _raising(xp):
            return xp.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise _singular_error(a, fname) from None


# ---- linear algebra: Ops ------------------------------------------------------------------------
class Inv(Op):
    """A^-1; grad -A^-T g A^-T."""
    backward_name = 'LinalgInvExBackward0'

    @staticmethod
    def forward(ctx, a):
        out = inv_array(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (ai,) = ctx.saved
        xp = xp_of(g)
        t = _T(ai)
        return -xp.matmul(xp.matmul(t, g), t)


def _det_grad(a, d):
    """d det(A) / dA = det(A) A^-T; for singular matrices the adjugate through the SVD,
    det(U) det(Vh) U diag(prod_{j != i} s_j) Vh."""
    xp = xp_of(a)
    if bool((d != 0).all()):
        try:
            return d[..., None, None] * _T(xp.linalg.inv(a))
        except np.linalg.LinAlgError:
            pass
    u, s, vh = xp.linalg.svd(a)
    n = s.shape[-1]
    ones = xp.ones(s.shape[:-1] + (1,), s.dtype)
    left = xp.cumprod(xp.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(s, -1)[..., :-1]], axis=-1),
                               axis=-1), -1)
    others = left * right if n else s
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return sign[..., None, None] * xp.matmul(u * others[..., None, :], vh)


class Det(Op):
    backward_name = 'LinalgDetBackward0'

    @staticmethod
    def forward(ctx, a):
        d = _arr(xp_of(a).linalg.det(a))
        ctx.save_for_backward(a)
        ctx.d = d
        return d

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return g[..., None, None] * _det_grad(a, ctx.d)


def _inv_t(a):
    """A^-T; the pseudo-inverse where A is singular."""
    xp = xp_of(a)
    try:
        return _T(xp.linalg.inv(a))
    except np.linalg.LinAlgError:
        return _T(xp.linalg.pinv(a))


class Slogdet(Op):
    """(sign, log|det|); grad of log|det| is A^-T (sign has none)."""
    backward_name = 'LinalgSlogdetBackward0'

    @staticmethod
    def forward(ctx, a):
        sign, logabs = xp_of(a).linalg.slogdet(a)
        ctx.save_for_backward(a)
        return _arr(sign), _arr(logabs)

    @staticmethod
    def backward(ctx, gsign, glog):
        (a,) = ctx.saved
        return glog[..., None, None] * _inv_t(a)


class Logdet(Op):
    """log det A: nan (and no gradient) for a negative determinant, -inf for a singular
    matrix."""

    @staticmethod
    def forward(ctx, a):
        xp = xp_of(a)
        sign, logabs = xp.linalg.slogdet(a)
        ctx.save_for_backward(a)
        ctx.positive = _arr(sign >= 0)
        return _arr(xp.where(sign < 0, xp.nan, logabs).astype(a.dtype))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return (g * ctx.positive)[..., None, None] * _inv_t(a)


def _solve(a, b):
    """A^-1 B for (batches of) matrices, batch dims broadcast explicitly."""
    xp = xp_of(a)
    batch = _broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return xp.linalg.solve(xp.broadcast_to(a, batch + a.shape[-2:]),
                           xp.broadcast_to(b, batch + b.shape[-2:]))


class Solve(Op):
    """X with A X = B (``left``) or X A = B; ``vector``: B is a (batch of) vector(s)."""
    backward_name = 'LinalgSolveExBackward0'

    @staticmethod
    def forward(ctx, a, b, vector, left):
        xp = xp_of(a)
        bm = b[..., None] if vector else (b if left else _T(b))
        am = a if left else _T(a)
        try:
            with _raising(xp):
                x = _solve(am, bm)
        except np.linalg.LinAlgError:
            raise _solve_error(am) from None
        x = x[..., 0] if vector else (x if left else _T(x))
        ctx.save_for_backward(a, x)
        ctx.flags = vector, left
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved
        vector, left = ctx.flags
        xp = xp_of(g)
        gm = g[..., None] if vector else (g if left else _T(g))
        xm = x[..., None] if vector else (x if left else _T(x))
        am = a if left else _T(a)
        gb = _solve(_T(am), gm)                      # A^-T G  (for the transposed system)
        ga = -xp.matmul(gb, _T(xm)) if ctx.needs_input_grad[0] else None
        if ga is not None and not left:
            ga = _T(ga)
        if ctx.needs_input_grad[1]:
            gb = gb[..., 0] if vector else (gb if left else _T(gb))
        else:
            gb = None
        return ga, gb


def _solve_error(a):
    for prefix, m in _batches(a):
        if _first_zero_pivot(m):
            return LinAlgError(f'torch.linalg.solve: {prefix}The solver failed because the input '
                               'matrix is singular.')
    return LinAlgError('torch.linalg.solve: The solver failed because the input matrix is '
                       'singular.')


def _phi(x):
    """Lower triangle with the diagonal halved."""
    xp = xp_of(x)
    return xp.tril(x) - 0.5 * (x * xp.eye(x.shape[-1], dtype=x.dtype))


class Cholesky(Op):
    """A = L L^T (lower) or U^T U (upper)."""
    backward_name = 'LinalgCholeskyExBackward0'

    @staticmethod
    def forward(ctx, a, upper):
        xp = xp_of(a)
        try:
            with _raising(xp):
                L = xp.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            raise _cholesky_error(a) from None
        out = _T(L).copy() if upper else L
        ctx.save_for_backward(out)
        ctx.upper = upper
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved
        xp = xp_of(g)
        L, gL = (_T(out), _T(g)) if ctx.upper else (out, g)
        P = _phi(xp.matmul(_T(L), gL))
        Linv = xp.linalg.inv(L)
        S = xp.matmul(xp.matmul(_T(Linv), P), Linv)
        return 0.5 * (S + _T(S))


def _cholesky_error(a):
    for prefix, m in _batches(a):
        order = _cholesky_order(m)
        if order:
            return LinAlgError(f'linalg.cholesky: {prefix}The factorization could not be '
                               'completed because the input is not positive-definite (the '
                               f'leading minor of order {order} is not positive-definite).')
    return LinAlgError('linalg.cholesky: The factorization could not be completed because the '
                       'input is not positive-definite.')


def _copyltu(m):
    """Lower triangle mirrored onto the upper one."""
    xp = xp_of(m)
    low = xp.tril(m, -1)
    return low + _T(low) + xp.tril(xp.triu(m))


def _qr_grad_tall(gQ, gR, Q, R):
    """QR backward for m >= n (reduced): (gQ + Q copyltu(M)) R^-T, M = R gR^T - gQ^T Q."""
    xp = xp_of(Q)
    M = xp.matmul(R, _T(gR)) - xp.matmul(_T(gQ), Q)
    b = gQ + xp.matmul(Q, _copyltu(M))
    return _T(xp.linalg.solve(R, _T(b)))


class Qr(Op):
    """A = Q R; ``mode`` 'reduced', 'complete' or 'r' (Q empty)."""
    backward_name = 'LinalgQrBackward0'

    @staticmethod
    def forward(ctx, a, mode):
        xp = xp_of(a)
        if mode == 'r':
            r = xp.linalg.qr(a, mode='r')
            q = xp.empty((0,), a.dtype)
        else:
            q, r = xp.linalg.qr(a, mode=mode)
        ctx.save_for_backward(q, r)
        ctx.mode = mode
        return q, r

    @staticmethod
    def backward(ctx, gQ, gR):
        if ctx.mode == 'r':
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you are "
                               "going to differentiate through linalg.qr.")
        Q, R = ctx.saved
        m, n = Q.shape[-2], R.shape[-1]
        if ctx.mode == 'complete' and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                               "and nrows > ncols.")
        if m >= n:
            return _qr_grad_tall(gQ, gR, Q, R)
        # wide: A = [X | Y], R = [U | V]; X = Q U is square, Y = Q V
        xp = xp_of(gQ)
        U, V = R[..., :, :m], R[..., :, m:]
        gU, gV = gR[..., :, :m], gR[..., :, m:]
        Y = xp.matmul(Q, V)
        gX = _qr_grad_tall(gQ + xp.matmul(Y, _T(gV)), gU, Q, U)
        return xp.concatenate([gX, xp.matmul(Q, gV)], axis=-1)


def _svd_grad(gU, gS, gVh, U, S, Vh):
    """Backward of the reduced SVD A = U diag(S) Vh (real), k = min(m, n):
    gA = U (diag(gS) + skew(U^T gU) S / E + S skew(Vh gVh^T) / E) Vh, E_ij = s_j^2 - s_i^2,
    plus the parts of gU and gVh outside the singular subspaces (m > k or n > k).
    gU or gVh is None when that output was not used."""
    xp = xp_of(S)
    m, n = U.shape[-2], Vh.shape[-1]
    if gU is None and gVh is None:
        return xp.matmul(U * gS[..., None, :], Vh)
    k = S.shape[-1]
    eye = xp.eye(k, dtype=S.dtype)
    s2 = S * S
    E = s2[..., None, :] - s2[..., :, None]
    E = xp.where(eye.astype(bool), 1, E)
    ret = eye * gS[..., None, :]
    if gU is not None:
        UhgU = xp.matmul(_T(U), gU)
        ret = ret + (UhgU - _T(UhgU)) * S[..., None, :] / E
    if gVh is not None:
        VhgV = xp.matmul(Vh, _T(gVh))
        ret = ret + S[..., :, None] * (VhgV - _T(VhgV)) / E
    gA = xp.matmul(xp.matmul(U, ret), Vh)
    if gU is not None and m > k:
        proj = gU - xp.matmul(U, xp.matmul(_T(U), gU))
        gA = gA + xp.matmul(proj / S[..., None, :], Vh)
    if gVh is not None and n > k:
        proj = gVh - xp.matmul(xp.matmul(gVh, _T(Vh)), Vh)
        gA = gA + xp.matmul(U, proj / S[..., :, None])
    return gA


def _nonzero(g):
    """``g``, or None where it is all zeros (an output nobody used)."""
    return g if bool(g.any()) else None


class Svd(Op):
    """A = U diag(S) Vh; with ``as_v`` the third output is V = Vh^T (``torch.svd``)."""
    backward_name = 'LinalgSvdBackward0'

    @staticmethod
    def forward(ctx, a, full_matrices, as_v):
        u, s, vh = xp_of(a).linalg.svd(a, full_matrices=full_matrices)
        ctx.save_for_backward(u, s, vh)
        ctx.as_v = as_v
        return u, s, (_T(vh).copy() if as_v else vh)

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved
        if ctx.as_v:
            gVh = _T(gVh)
        k = S.shape[-1]
        # full matrices: only the first k singular vectors depend on A
        U, gU = U[..., :, :k], _nonzero(gU[..., :, :k])
        Vh, gVh = Vh[..., :k, :], _nonzero(gVh[..., :k, :])
        return _svd_grad(gU, gS, gVh, U, S, Vh)


class Svdvals(Op):
    """Singular values; grad U diag(g) Vh."""
    backward_name = 'LinalgSvdBackward0'

    @staticmethod
    def forward(ctx, a):
        xp = xp_of(a)
        if not _recording(ctx):
            return xp.linalg.svd(a, compute_uv=False)
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        ctx.save_for_backward(u, vh)
        return s

    @staticmethod
    def backward(ctx, g):
        u, vh = ctx.saved
        return xp_of(g).matmul(u * g[..., None, :], vh)


def _recording(ctx):
    """True inside a recorded forward (``needs_input_grad`` is set only then)."""
    return any(ctx.needs_input_grad)


def _eigh_grad(gL, gV, L, V):
    """gA = V (diag(gL) + (V^T gV) / (L_j - L_i) off the diagonal) V^T, symmetrised (the input
    is taken as a symmetric matrix)."""
    xp = xp_of(L)
    k = L.shape[-1]
    eye = xp.eye(k, dtype=L.dtype)
    inner = eye * gL[..., None, :]
    if gV is not None:
        E = L[..., None, :] - L[..., :, None]
        E = xp.where(eye.astype(bool), 1, E)
        inner = inner + xp.matmul(_T(V), gV) / E * (1 - eye)
    ga = xp.matmul(xp.matmul(V, inner), _T(V))
    return 0.5 * (ga + _T(ga))


class Eigh(Op):
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix (one triangle read)."""
    backward_name = 'LinalgEighBackward0'

    @staticmethod
    def forward(ctx, a, uplo):
        w, v = xp_of(a).linalg.eigh(a, UPLO=uplo)
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx, gL, gV):
        L, V = ctx.saved
        return _eigh_grad(gL, _nonzero(gV), L, V)


class Eigvalsh(Op):
    backward_name = 'LinalgEighBackward0'

    @staticmethod
    def forward(ctx, a, uplo):
        xp = xp_of(a)
        if not _recording(ctx):
            return xp.linalg.eigvalsh(a, UPLO=uplo)
        w, v = xp.linalg.eigh(a, UPLO=uplo)
        ctx.save_for_backward(w, v)
        return w

    @staticmethod
    def backward(ctx, g):
        L, V = ctx.saved
        return _eigh_grad(g, None, L, V)


def _rank_cutoff(s, atol, rtol, shape, dtype):
    """max(atol, rtol * s_max) per matrix, with PyTorch's defaults (rtol = eps * max(m, n)
    when neither is given, 0 when only atol is)."""
    xp = xp_of(s)
    if rtol is None:
        rtol = 0.0 if atol is not None and _positive(atol) else np.finfo(dtype).eps * max(shape)
    atol = 0.0 if atol is None else atol
    smax = s.max(axis=-1) if s.shape[-1] else xp.zeros(s.shape[:-1], s.dtype)
    return xp.maximum(_value(atol), _value(rtol) * smax)


def _positive(x):
    return bool((x._data > 0).all()) if isinstance(x, Tensor) else x > 0


def _value(x):
    return x._data if isinstance(x, Tensor) else x


class Pinv(Op):
    """Moore-Penrose pseudo-inverse through the SVD (or eigh when ``hermitian``).
    Backward: -X^T gX X^T + (I - A X) gX^T X X^T + X^T X gX^T (I - X A)."""
    backward_name = 'LinalgPinvBackward0'

    @staticmethod
    def forward(ctx, a, atol, rtol, hermitian):
        xp = xp_of(a)
        if hermitian:
            w, v = xp.linalg.eigh(a)
            cut = _rank_cutoff(xp.abs(w), atol, rtol, a.shape[-2:], a.dtype)
            inv_w = xp.where(xp.abs(w) > cut[..., None], 1 / xp.where(w == 0, 1, w), 0)
            x = xp.matmul(v * inv_w[..., None, :], _T(v))
        else:
            u, s, vh = xp.linalg.svd(a, full_matrices=False)
            cut = _rank_cutoff(s, atol, rtol, a.shape[-2:], a.dtype)
            inv_s = xp.where(s > cut[..., None], 1 / xp.where(s == 0, 1, s), 0)
            x = xp.matmul(_T(vh) * inv_s[..., None, :], _T(u))
        x = x.astype(a.dtype, copy=False)
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved
        xp = xp_of(g)
        mm = xp.matmul
        m, n = a.shape[-2], a.shape[-1]
        xt, gt = _T(x), _T(g)
        ga = -mm(mm(xt, g), xt)
        ga = ga + mm(xp.eye(m, dtype=a.dtype) - mm(a, x), mm(gt, mm(x, xt)))
        ga = ga + mm(mm(xt, x), mm(gt, xp.eye(n, dtype=a.dtype) - mm(x, a)))
        return ga


class VectorNorm(Op):
    """Vector ``ord``-norm over ``axis`` (a tuple, or None for all dims)."""
    backward_name = 'LinalgVectorNormBackward0'

    @staticmethod
    def forward(ctx, x, ord, axis, keepdim):
        xp = xp_of(x)
        if ord == 2 and axis is None and not keepdim and x.size:
            flat = x.reshape(-1)
            out = _arr(xp.sqrt(flat.dot(flat)))
        elif ord == 2:
            out = xp.sqrt((x * x).sum(axis=axis, keepdims=keepdim))
        elif ord == 1:
            out = xp.abs(x).sum(axis=axis, keepdims=keepdim)
        elif ord == math.inf:
            out = xp.abs(x).max(axis=axis, keepdims=keepdim)
        elif ord == -math.inf:
            out = xp.abs(x).min(axis=axis, keepdims=keepdim)
        elif ord == 0:
            out = (x != 0).sum(axis=axis, keepdims=keepdim).astype(x.dtype)
        else:
            out = (xp.abs(x) ** ord).sum(axis=axis, keepdims=keepdim) ** (1.0 / ord)
        out = _arr(out)
        ctx.save_for_backward(x, out)
        ctx.args = ord, axis, keepdim
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved
        ord, axis, keepdim = ctx.args
        xp = xp_of(g)
        if not keepdim and axis is not None:
            g = xp.expand_dims(g, axis)
            out = xp.expand_dims(out, axis)
        elif not keepdim:
            g = g.reshape((1,) * x.ndim)
            out = out.reshape((1,) * x.ndim)
        if ord == 0:
            return xp.zeros_like(x)
        if ord == 1:
            return g * xp.sign(x)
        if ord == 2:
            return g * x / xp.where(out == 0, 1, out) * (out != 0)
        ax = xp.abs(x)
        if ord == math.inf or ord == -math.inf:
            hit = ax == out
            count = hit.sum(axis=axis, keepdims=True)
            return g * xp.sign(x) * hit / count
        safe = xp.where(out == 0, 1, out)
        r = g * xp.sign(x) * (ax / safe) ** (ord - 1)
        return xp.where((out == 0) | (ax == 0), 0, r)


def _move_to_end(a, d0, d1):
    xp = xp_of(a)
    return xp.moveaxis(a, (d0, d1), (-2, -1))


class MatrixNorm(Op):
    """Matrix norms other than 'fro' over dims (d0, d1): 'nuc', 2, -2 through the singular
    values; 1, -1 (column sums), inf, -inf (row sums) of |A|. Ties share the gradient."""

    @staticmethod
    def forward(ctx, a, ord, d0, d1, keepdim):
        xp = xp_of(a)
        m = _move_to_end(a, d0, d1)
        if ord in ('nuc', 2, -2):
            u, s, vh = xp.linalg.svd(m, full_matrices=False)
            if ord == 'nuc':
                out = s.sum(axis=-1)
            else:
                idx = 0 if ord == 2 else -1
                out = s[..., idx]
                u, vh = u[..., :, idx:idx + 1 or None], vh[..., idx:idx + 1 or None, :]
            ctx.save_for_backward(u, vh)
        else:
            sums = xp.abs(m).sum(axis=-2 if ord in (1, -1) else -1)
            out = sums.max(axis=-1) if ord in (1, math.inf) else sums.min(axis=-1)
            ctx.save_for_backward(a, sums)
        ctx.args = ord, d0, d1, keepdim
        if keepdim:
            out = xp.expand_dims(out, tuple(sorted((d0, d1))))
        return _arr(out)

    @staticmethod
    def backward(ctx, g):
        ord, d0, d1, keepdim = ctx.args
        xp = xp_of(g)
        if keepdim:
            g = g.squeeze(axis=(d0, d1))
        if ord in ('nuc', 2, -2):
            u, vh = ctx.saved
            gm = xp.matmul(u, vh) * g[..., None, None]
        else:
            a, sums = ctx.saved
            m = _move_to_end(a, d0, d1)
            best = sums.max(axis=-1) if ord in (1, math.inf) else sums.min(axis=-1)
            hit = sums == best[..., None]
            w = hit / hit.sum(axis=-1, keepdims=True) * g[..., None]
            w = w[..., None, :] if ord in (1, -1) else w[..., :, None]
            gm = xp.sign(m) * w
        return xp.moveaxis(gm, (-2, -1), (d0, d1))


class VecDot(Op):
    """sum(x * y) over ``axis`` (negative, counted in the broadcast shape; None for 0-d)."""
    backward_name = 'SumBackward1'

    @staticmethod
    def forward(ctx, x, y, axis):
        ctx.save_for_backward(x, y)
        ctx.axis = axis
        return _arr((x * y).sum(axis=axis))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        if ctx.axis is not None:
            g = xp_of(g).expand_dims(g, ctx.axis)
        need = ctx.needs_input_grad
        return (g * y if need[0] else None), (g * x if need[1] else None)


class Identity(Op):
    """Identity matrices shaped like ``a`` (``matrix_power(a, 0)``); zero gradient."""
    backward_name = 'CopyBackwards'

    @staticmethod
    def forward(ctx, a):
        xp = xp_of(a)
        return xp.broadcast_to(xp.eye(a.shape[-1], dtype=a.dtype), a.shape).copy()

    @staticmethod
    def backward(ctx, g):
        return xp_of(g).zeros_like(g)


# ---- torch.* linear algebra -------------------------------------------------------------------
@tensor_method
def det(input):
    """Determinant of a (batch of) square matrices."""
    check_matrix(input, 'det')
    return Det.apply(input)


@tensor_method
def logdet(input):
    """log det A (nan for a negative determinant)."""
    check_matrix(input, 'det')
    return Logdet.apply(input)


@tensor_method
def slogdet(input):
    """(sign, log|det A|)."""
    check_matrix(input, 'slogdet')
    return return_types.slogdet(Slogdet.apply(input))


@tensor_method
def inverse(input, *, out=None):
    """A^-1 (``linalg.inv``)."""
    check_matrix(input, 'inv')
    return _out(Inv.apply(input), out)


@tensor_method
def pinverse(input, rcond=1e-15):
    """Pseudo-inverse with singular values below ``rcond * s_max`` dropped."""
    check_matrix(input, 'pinv', square=False)
    return Pinv.apply(input, None, rcond, False)


@tensor_method
def matrix_power(input, n):
    """A^n for an integer n (negative: powers of the inverse)."""
    from ..linalg import matrix_power as _mp
    return _mp(input, n)


@tensor_method
def cholesky(input, upper=False, *, out=None):
    """Cholesky factor (deprecated in PyTorch in favour of ``linalg.cholesky``)."""
    check_matrix(input, 'cholesky')
    return _out(Cholesky.apply(input, bool(upper)), out)


@tensor_method
def qr(input, some=True, *, out=None):
    """(Q, R) with ``some``: reduced, else complete."""
    check_matrix(input, 'qr', square=False)
    q, r = Qr.apply(input, 'reduced' if some else 'complete')
    return return_types.qr((q, r))


@tensor_method
def svd(input, some=True, compute_uv=True, *, out=None):
    """(U, S, V) with V (not Vh); ``some`` gives the reduced decomposition; without
    ``compute_uv`` U and V are zero square matrices."""
    check_matrix(input, 'svd', square=False)
    if not compute_uv:
        a = input._data
        xp = xp_of(a)
        m, n = a.shape[-2:]
        zeros = [_wrap(xp.zeros(a.shape[:-2] + (k, k), a.dtype)) for k in (m, n)]
        return return_types.svd((zeros[0], Svdvals.apply(input), zeros[1]))
    return return_types.svd(Svd.apply(input, not some, True))
