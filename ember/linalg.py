"""ember.linalg: PyTorch's ``torch.linalg`` namespace.

Argument handling lives here; the math (one Op per decomposition, with its backward) lives in
``ember.ops.linalg``. Differentiable: vector_norm, matrix_norm, norm, inv, det, slogdet, solve,
cholesky, qr (reduced, or complete with m <= n), svd, svdvals, eigh, eigvalsh, pinv,
matrix_power, multi_dot, cross, vecdot. matrix_rank returns integers (no gradient).
"""
import math

import numpy as np

from . import _dtype, return_types
from ._backend import xp_of
from ._tensor import _wrap, _dim
from .ops import linalg as _ops
from .ops.linalg import (LinAlgError, check_matrix, matmul, linalg_cross, _sname, _cpp,
                         _broadcast_shapes, _out)

__all__ = ['vector_norm', 'matrix_norm', 'norm', 'inv', 'det', 'slogdet', 'solve', 'cholesky',
           'qr', 'svd', 'svdvals', 'eigh', 'eigvalsh', 'pinv', 'matrix_rank', 'matrix_power',
           'multi_dot', 'cross', 'vecdot', 'matmul', 'LinAlgError']


# ---- norms ----------------------------------------------------------------------------------
def _reduce_dims(dim, ndim):
    """Sorted tuple of normalised dims (None: all), rejecting repeats."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = [_dim(d, ndim) for d in dims]
    for d in out:
        if out.count(d) > 1:
            raise RuntimeError(f'dim {d} appears multiple times in the list of dims')
    return tuple(sorted(out))


def _with_dtype(x, dtype, fname):
    """``x`` cast to ``dtype`` (no narrowing allowed), after PyTorch's floating check."""
    a = x._data
    if a.dtype.kind != 'f':
        raise RuntimeError(f'linalg.{fname}: Expected a floating point or complex tensor as '
                           f'input. Got {_sname(a.dtype)}')
    if dtype is None:
        return x
    nd = _dtype.to_np(dtype)
    if nd != a.dtype:
        if nd.kind != 'f' or nd.itemsize < a.dtype.itemsize:
            raise RuntimeError(f'linalg.{fname}: the dtype of the input ({_sname(a.dtype)}) '
                               'should be convertible without narrowing to the specified dtype '
                               f'({_sname(nd)})')
        x = x.to(_dtype.to_dtype(nd))
    return x


def _ord_text(ord):
    if ord in (math.inf, -math.inf):
        return 'inf' if ord > 0 else '-inf'
    return f'{ord:g}' if isinstance(ord, float) else str(ord)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """(sum |x|^ord)^(1/ord) over ``dim`` (all dims by default); ord may be inf, -inf or 0."""
    if isinstance(ord, str) or isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, not "
                        f'{type(ord).__name__}')
    x = _with_dtype(x, dtype, 'vector_norm')
    a = x._data
    axes = _reduce_dims(dim, a.ndim)
    if ord in (math.inf, -math.inf):
        for d in axes:
            if a.shape[d] == 0:
                if dim is None:
                    raise RuntimeError(f'linalg.vector_norm cannot compute the {_ord_text(ord)} '
                                       'norm on an empty tensor because the operation does not '
                                       'have an identity')
                raise RuntimeError(f'linalg.vector_norm cannot compute the {_ord_text(ord)} norm '
                                   f'on the dimension {d}because this dimension is empty and the '
                                   'operation does not have an identity')
    if len(axes) == a.ndim and not keepdim:
        axes = None
    return _out(_ops.VectorNorm.apply(x, float(ord), axes, bool(keepdim)), out)


_MATRIX_ORDS = ('fro', 'nuc', 2, -2, 1, -1, math.inf, -math.inf)


def matrix_norm(A, ord='fro', dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """Matrix norm over the two dims ``dim``: 'fro', 'nuc', 2, -2 (largest/smallest singular
    value), 1, -1 (max/min column sum of |A|), inf, -inf (max/min row sum)."""
    a = A._data
    if a.ndim < 2:
        raise RuntimeError('linalg.matrix_norm: The input tensor A must have at least 2 '
                           'dimensions.')
    A = _with_dtype(A, dtype, 'matrix_norm')
    dims = tuple(dim)
    if len(dims) != 2:
        raise RuntimeError(f'linalg.matrix_norm: dim must be a 2-tuple. Got '
                           f'{" ".join(map(str, dims))}')
    d0, d1 = _dim(dims[0], a.ndim), _dim(dims[1], a.ndim)
    if d0 == d1:
        raise RuntimeError(f'linalg.matrix_norm: dims must be different. Got ({dims[0]}, '
                           f'{dims[1]})')
    if not any(ord == o and type(ord) is not bool for o in _MATRIX_ORDS):
        raise RuntimeError(f'linalg.matrix_norm: Order {ord} not supported.')
    if ord == 'fro':
        return vector_norm(A, 2, (d0, d1), keepdim, out=out)
    if ord in ('nuc', 2, -2) and A._data.dtype == np.float16:
        raise RuntimeError('linalg.matrix_norm: Low precision dtypes not supported. Got Half')
    return _out(_ops.MatrixNorm.apply(A, ord if ord == 'nuc' else float(ord), d0, d1,
                                      bool(keepdim)), out)


def norm(A, ord=None, dim=None, keepdim=False, *, out=None, dtype=None):
    """Vector or matrix norm: without ``ord``, the 2-norm of the flattened input (or over a
    1-dim ``dim``) and 'fro' over a 2-dim ``dim``; with ``ord`` a vector norm for 1-D inputs and
    a matrix norm for 2-D ones."""
    if isinstance(dim, (int, np.integer)):
        dim = (dim,)
    if dim is not None:
        dim = tuple(dim)
        if len(dim) not in (1, 2):
            raise RuntimeError(f'linalg.norm: If dim is specified, it must be of length 1 or 2. '
                               f'Got {list(dim)}')
    elif ord is not None:
        nd = A._data.ndim
        if nd not in (1, 2):
            raise RuntimeError(f'linalg.norm: If dim is not specified but ord is, the input must '
                               f'be 1D or 2D. Got {nd}D.')
        dim = tuple(range(nd))
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype, out=out)
    if len(dim) == 2 or isinstance(ord, str):
        return matrix_norm(A, ord, dim, keepdim, dtype=dtype, out=out)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype, out=out)


# ---- inverses, determinants, solvers ------------------------------------------------------------
def inv(A, *, out=None):
    """A^-1 for a (batch of) square matrices; LinAlgError naming the zero pivot if singular."""
    check_matrix(A, 'inv')
    return _out(_ops.Inv.apply(A), out)


def det(A, *, out=None):
    check_matrix(A, 'det')
    return _out(_ops.Det.apply(A), out)


def slogdet(A, *, out=None):
    """(sign, log|det A|): a stable determinant for large or ill-conditioned matrices."""
    check_matrix(A, 'slogdet')
    return return_types.linalg_slogdet(_ops.Slogdet.apply(A))


def _is_vector_rhs(a, b):
    """PyTorch's rule: B is a (batch of) vector(s) when 1-D, or when its shape is A's batch
    shape plus n."""
    return b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])


def solve(A, B, *, left=True, out=None):
    """X with A X = B (``left``) or X A = B; batch dims broadcast; B may be a vector."""
    a = check_matrix(A, 'solve')
    b = B._data
    if b.ndim < 1:
        raise RuntimeError('linalg.solve: The input tensor B must have at least 2 dimensions.')
    if a.dtype != b.dtype:
        raise RuntimeError(f'linalg.solve: Expected A and B to have the same dtype, but found A '
                           f'of type {_sname(a.dtype)} and B of type {_sname(b.dtype)} instead')
    vector = _is_vector_rhs(a, b)
    bm = b.shape + (1,) if vector else b.shape
    n = a.shape[-1]
    if bm[-2 if left else -1] != n or (not left and vector and bm[-2] != 1):
        shown = f'{bm[-2]}x{bm[-1]}' if left or not vector else f'{bm[-2]}x1'
        raise RuntimeError(f'linalg.solve: Incompatible shapes of A and B for the equation '
                           f'{"AX = B" if left else "XA = B"} ({n}x{n} and {shown})')
    _broadcast_shapes(a.shape[:-2], bm[:-2])
    return _out(_ops.Solve.apply(A, B, vector, bool(left)), out)


def cholesky(A, *, upper=False, out=None):
    """Lower (or upper) triangular factor of a symmetric positive-definite matrix."""
    check_matrix(A, 'cholesky')
    return _out(_ops.Cholesky.apply(A, bool(upper)), out)


def qr(A, mode='reduced', *, out=None):
    """(Q, R); ``mode`` 'reduced', 'complete' or 'r' (Q is then empty)."""
    if mode not in ('reduced', 'complete', 'r'):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    check_matrix(A, 'qr', square=False)
    return return_types.linalg_qr(_ops.Qr.apply(A, mode))


def svd(A, full_matrices=True, *, driver=None, out=None):
    """(U, S, Vh) with A = U diag(S) Vh; singular values descending. ``driver`` (a cuSOLVER
    choice in PyTorch) is accepted and ignored."""
    check_matrix(A, 'svd', square=False)
    return return_types.linalg_svd(_ops.Svd.apply(A, bool(full_matrices), False))


def svdvals(A, *, driver=None, out=None):
    """Singular values, descending."""
    check_matrix(A, 'svd', square=False)
    return _out(_ops.Svdvals.apply(A), out)


def _check_uplo(UPLO):
    if UPLO not in ('L', 'U'):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


def eigh(A, UPLO='L', *, out=None):
    """(eigenvalues ascending, eigenvectors as columns) of a symmetric matrix, reading only the
    ``UPLO`` triangle."""
    _check_uplo(UPLO)
    check_matrix(A, 'eigh')
    return return_types.linalg_eigh(_ops.Eigh.apply(A, UPLO))


def eigvalsh(A, UPLO='L', *, out=None):
    _check_uplo(UPLO)
    check_matrix(A, 'eigvalsh')
    return _out(_ops.Eigvalsh.apply(A, UPLO), out)


def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None, out=None):
    """Pseudo-inverse; singular values at most max(atol, rtol * s_max) are dropped (``rcond``
    is the older name of rtol)."""
    a = A._data
    if a.ndim < 2 or a.dtype.kind != 'f':
        raise RuntimeError(f'linalg.pinv({_sname(a.dtype)}{{{list(a.shape)}}}): expected a tensor '
                           'with 2 or more dimensions of float, double, cfloat or cdouble types')
    if rcond is not None:
        rtol = rcond
    return _out(_ops.Pinv.apply(A, atol, rtol, bool(hermitian)), out)


def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None, out=None):
    """Number of singular values above max(atol, rtol * s_max) (``tol`` is the older absolute
    tolerance); an int64 tensor, no gradient."""
    a = A._data
    if a.ndim < 2:
        raise RuntimeError('torch.linalg.matrix_rank: The input tensor input must have at least 2 '
                           'dimensions.')
    if a.dtype.kind != 'f':
        raise RuntimeError("This function doesn't handle types other than float and double")
    if tol is not None:
        atol, rtol = tol, 0.0
    xp = xp_of(a)
    s = xp.abs(xp.linalg.eigvalsh(a)) if hermitian else xp.linalg.svd(a, compute_uv=False)
    cut = _ops._rank_cutoff(s, atol, rtol, a.shape[-2:], a.dtype)
    return _out(_wrap(_ops._arr((s > cut[..., None]).sum(axis=-1).astype(np.int64))), out)


# ---- products ---------------------------------------------------------------------------
def matrix_power(A, n, *, out=None):
    """A^n by repeated squaring (n < 0: powers of A^-1; n = 0: the identity)."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"linalg_matrix_power(): argument 'n' (position 2) must be int, not "
                        f'{type(n).__name__}')
    check_matrix(A, 'matrix_power', floating=False)
    if n == 0:
        return _out(_ops.Identity.apply(A), out)
    if n < 0:
        A = inv(A)
        n = -n
    result = None
    base = A
    while True:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if not n:
            break
        base = matmul(base, base)
    return _out(result, out)


def _chain_order(dims):
    """Optimal parenthesisation of a matrix chain with shapes dims[i] x dims[i+1]:
    split[i][j] is where the product of matrices i..j is split."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def multi_dot(tensors, *, out=None):
    """Product of a chain of matrices in the cheapest order; the first may be a 1-D row and
    the last a 1-D column vector."""
    ts = list(tensors)
    n = len(ts)
    if n < 2:
        raise RuntimeError(f'multi_dot(): expected at least 2 tensors but got {n}')
    arrays = [t._data for t in ts]
    for i, a in enumerate(arrays):
        if i in (0, n - 1) and a.ndim not in (1, 2):
            which = 'first' if i == 0 else 'last'
            raise RuntimeError(f'multi_dot(): the {which} tensor must be 1D or 2D but got '
                               f'{a.ndim}D')
        if 0 < i < n - 1 and a.ndim != 2:
            raise RuntimeError(f'multi_dot(): tensor {i} must be 2D but got {a.ndim}D')
        if a.dtype != arrays[0].dtype:
            raise RuntimeError(f'multi_dot(): all tensors must have be the same dtype but tensor '
                               f'0 is {_cpp(arrays[0].dtype)} and tensor {i} {_cpp(a.dtype)}')
    shapes = [a.shape if a.ndim == 2 else ((1,) + a.shape if i == 0 else a.shape + (1,))
              for i, a in enumerate(arrays)]
    for i in range(n - 1):
        if shapes[i][1] != shapes[i + 1][0]:
            raise RuntimeError(f'multi_dot(): tensors {i} and {i + 1} with shapes '
                               f'{list(arrays[i].shape)} and {list(arrays[i + 1].shape)} cannot '
                               'be multiplied')
    split = _chain_order([s[0] for s in shapes] + [shapes[-1][1]])

    def product(i, j):
        if i == j:
            return ts[i]
        k = split[i][j]
        return matmul(product(i, k), product(k + 1, j))
    return _out(product(0, n - 1), out)


def cross(input, other, *, dim=-1, out=None):
    """Cross product of 3-vectors along ``dim``."""
    return _out(linalg_cross(input, other, dim), out)


def vecdot(x, y, *, dim=-1, out=None):
    """sum(x * y, dim) with broadcasting."""
    a, b = x._data, y._data
    if a.dtype.kind != 'f':
        raise RuntimeError(f'linalg.vecdot: Expected a floating point or complex tensor as input. '
                           f'Got {_sname(a.dtype)}')
    if a.dtype != b.dtype:
        raise RuntimeError(f'linalg.vecdot: Expected x and y to have the same dtype, but found x '
                           f'of type {_sname(a.dtype)} and y of type {_sname(b.dtype)} instead')
    shape = _broadcast_shapes(a.shape, b.shape)
    d = _dim(dim, len(shape)) - len(shape) if shape else None
    return _out(_ops.VecDot.apply(x, y, d), out)
