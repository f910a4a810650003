"""Convolution ops: N-d convolution, transposed convolution, unfold (im2col) and fold (col2im),
each ONE Op with a hand-written backward on whole arrays.

Convolution (x: (N, C, *in), w: (O, C/G, *k)): the zero-padded input is viewed as windows
through stride tricks, copied into columns (N, G, C/G * K, L) and multiplied by the weight
(G, O/G, C/G * K) in one batched GEMM whose result (N, G, O/G, L) already is the (N, O, *out)
output. Backward: grad_weight is one GEMM of the output gradient against the same columns
(kept from forward when they are small, rebuilt otherwise), grad_input is the weight's
transpose times the output gradient, folded back onto the input grid by ``col2im`` (a short
loop over kernel offsets adding strided slices). 1x1 kernels at unit stride skip the windows.

Transposed convolution is the adjoint: its forward is convolution's grad_input, its backward
a convolution of the output gradient (grad_input) and a GEMM against its columns (grad_weight).
Large batches go through the column buffers in chunks of samples (``im2col.chunks``).

Arguments are checked by ``ember.nn.functional``; these Ops assume valid shapes and dtypes.
"""
from math import prod

from .._backend import xp_of
from ..autograd.function import Op
from .im2col import (chunks, col2im, im2col, interior, is_pointwise, out_sizes, pad_zeros,
                     windows)
from .reduction import _sum

__all__ = []


def _add_bias(y, b):
    """y (N, O, *spatial) += b (O,) in place."""
    y += b.reshape(b.shape + (1,) * (y.ndim - 2))


def _bias_grad(g):
    """Sum of g (N, O, *spatial) over every dim but O."""
    return _sum(g, (0,) + tuple(range(2, g.ndim)))


def _conv_columns_gemm(xpad, w, stride, dilation, out, groups, keep):
    """y (N, O, *out) = w * xpad as GEMMs over im2col columns; also the columns when ``keep``
    and they were built in one piece (else None)."""
    xp = xp_of(xpad)
    n = xpad.shape[0]
    o = w.shape[0]
    kernel = w.shape[2:]
    w3 = w.reshape(groups, o // groups, -1)
    view = windows(xpad, kernel, stride, dilation, out, groups)
    parts = chunks(n, w3.shape[2] * groups * prod(out))
    if len(parts) == 1:
        cols = im2col(view)
        return xp.matmul(w3, cols).reshape((n, o) + out), (cols if keep else None)
    y = xp.empty((n, groups, o // groups, prod(out)), xpad.dtype)
    for sl in parts:
        xp.matmul(w3, im2col(view[sl]), out=y[sl])
    return y.reshape((n, o) + out), None


class Convolution(Op):
    """y = conv(x, w) + b.

    x: (N, C, *in); w: (O, C/G, *k); b: (O,) or None; pads: ((lo, hi), ...) zero padding per
    spatial dim -> y: (N, O, *out) with out = floor((in + lo + hi - d (k - 1) - 1) / s) + 1.
    """
    backward_name = 'ConvolutionBackward0'

    @staticmethod
    def forward(ctx, x, w, b, stride, dilation, pads, groups):
        kernel = w.shape[2:]
        out = out_sizes(x.shape[2:], kernel, stride, dilation, pads)
        if is_pointwise(kernel, stride, pads):
            n, c = x.shape[:2]
            x4 = x.reshape(n, groups, c // groups, prod(out))
            y = xp_of(x).matmul(w.reshape(groups, w.shape[0] // groups, -1), x4)
            y, cols = y.reshape((n, w.shape[0]) + out), None
        else:
            y, cols = _conv_columns_gemm(pad_zeros(x, pads), w, stride, dilation, out, groups,
                                         ctx.needs_input_grad[1])
        if b is not None:
            _add_bias(y, b)
        ctx.geometry = (stride, dilation, pads, groups, out)
        ctx.save_for_backward(x, w, cols)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w, cols = ctx.saved
        need = ctx.needs_input_grad
        gx, gw = _conv_grads(g, x, w, cols, *ctx.geometry, need[0], need[1])
        return gx, gw, (_bias_grad(g) if need[2] else None)


def _conv_grads(g, x, w, cols, stride, dilation, pads, groups, out, need_x, need_w):
    """(grad_input, grad_weight) of a convolution (None where not needed)."""
    xp = xp_of(g)
    n, c = x.shape[:2]
    o = w.shape[0]
    kernel = w.shape[2:]
    gy = g.reshape(n, groups, o // groups, prod(out))
    w3 = w.reshape(groups, o // groups, -1)
    wt = w3.transpose(0, 2, 1)                               # (G, C/G K, O/G)
    if is_pointwise(kernel, stride, pads):
        gx = xp.matmul(wt, gy).reshape(x.shape) if need_x else None
        if not need_w:
            return gx, None
        x4 = x.reshape(n, groups, c // groups, prod(out))
        return gx, xp.matmul(gy, x4.swapaxes(-1, -2)).sum(0).reshape(w.shape)
    padded = x.shape[:2] + tuple(i + lo + hi for i, (lo, hi) in zip(x.shape[2:], pads))
    gxpad = xp.zeros(padded, g.dtype) if need_x else None
    gw = xp.zeros(w3.shape, g.dtype) if need_w else None
    if cols is not None:
        parts = [slice(None)]
    else:
        parts = chunks(n, w3.shape[2] * groups * prod(out))
        if need_w:
            view = windows(pad_zeros(x, pads), kernel, stride, dilation, out, groups)
    for sl in parts:
        if need_w:
            cs = cols if cols is not None else im2col(view[sl])
            gw += xp.matmul(gy[sl], cs.swapaxes(-1, -2)).sum(0)
        if need_x:
            gc = xp.matmul(wt, gy[sl])                           # (n, G, C/G K, L)
            col2im(gc.reshape((gc.shape[0], c) + kernel + out), gxpad[sl], kernel, stride,
                   dilation)
    gx = None
    if need_x:
        gx = gxpad if padded == x.shape else xp.ascontiguousarray(
            gxpad[interior(x.shape[2:], pads)])
    return gx, (gw.reshape(w.shape) if need_w else None)


def transposed_sizes(sizes, kernel, stride, dilation, padding, output_padding):
    """Output sizes of a transposed convolution:
    (i - 1) s - 2 p + d (k - 1) + output_padding + 1 per dim."""
    return tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, k, s, d, p, op in
                 zip(sizes, kernel, stride, dilation, padding, output_padding))


class ConvTranspose(Op):
    """y = conv_transpose(x, w) + b, the adjoint of ``Convolution`` with respect to its input.

    x: (N, Cin, *in); w: (Cin, Cout/G, *k); b: (Cout,) or None -> y: (N, Cout, *out) with
    out = (in - 1) s - 2 p + d (k - 1) + output_padding + 1. The windows are summed onto a
    full grid of (in - 1) s + d (k - 1) + 1 positions (more when output_padding reaches past
    it) and y is its [p, p + out) crop.
    """
    backward_name = 'ConvolutionBackward0'

    @staticmethod
    def forward(ctx, x, w, b, stride, dilation, padding, output_padding, groups):
        xp = xp_of(x)
        n, cin = x.shape[:2]
        sizes = x.shape[2:]
        kernel = w.shape[2:]
        cout = w.shape[1] * groups
        out = transposed_sizes(sizes, kernel, stride, dilation, padding, output_padding)
        full = tuple(max((i - 1) * s + d * (k - 1) + 1, p + o) for i, k, s, d, p, o in
                     zip(sizes, kernel, stride, dilation, padding, out))
        pads = tuple((p, f - p - o) for p, f, o in zip(padding, full, out))
        wt = w.reshape(groups, cin // groups, -1).transpose(0, 2, 1)   # (G, Cout/G K, Cin/G)
        x4 = x.reshape(n, groups, cin // groups, prod(sizes))
        if is_pointwise(kernel, stride, pads):
            y = xp.matmul(wt, x4).reshape((n, cout) + out)
        else:
            yfull = xp.zeros((n, cout) + full, x.dtype)
            for sl in chunks(n, wt.shape[1] * groups * prod(sizes)):
                gc = xp.matmul(wt, x4[sl])
                col2im(gc.reshape((gc.shape[0], cout) + kernel + sizes), yfull[sl], kernel,
                       stride, dilation)
            y = yfull if full == out else xp.ascontiguousarray(yfull[interior(out, pads)])
        if b is not None:
            _add_bias(y, b)
        ctx.geometry = (stride, dilation, pads, groups)
        ctx.save_for_backward(x, w)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved
        stride, dilation, pads, groups = ctx.geometry
        need = ctx.needs_input_grad
        xp = xp_of(g)
        n, cin = x.shape[:2]
        sizes = x.shape[2:]
        kernel = w.shape[2:]
        w3 = w.reshape(groups, cin // groups, -1)                  # (G, Cin/G, Cout/G K)
        x4 = x.reshape(n, groups, cin // groups, prod(sizes))
        gx = xp.empty(x4.shape, g.dtype) if need[0] else None
        gw = xp.zeros(w3.shape, g.dtype) if need[1] else None
        view = windows(pad_zeros(g, pads), kernel, stride, dilation, sizes, groups)
        for sl in chunks(n, w3.shape[2] * groups * prod(sizes)):
            cols = im2col(view[sl])                                # (n, G, Cout/G K, L)
            if need[0]:
                xp.matmul(w3, cols, out=gx[sl])
            if need[1]:
                gw += xp.matmul(x4[sl], cols.swapaxes(-1, -2)).sum(0)
        return ((gx.reshape(x.shape) if need[0] else None),
                (gw.reshape(w.shape) if need[1] else None),
                (_bias_grad(g) if need[2] else None))


class Im2Col(Op):
    """unfold: x (N, C, *in) (or unbatched (C, *in)) -> blocks (N, C K, L) (or (C K, L)), each
    column one flattened window of the zero-padded input."""

    @staticmethod
    def forward(ctx, x, kernel, dilation, pads, stride):
        batched = x.ndim == len(kernel) + 2
        xb = x if batched else x[None]
        out = out_sizes(xb.shape[2:], kernel, stride, dilation, pads)
        cols = windows(pad_zeros(xb, pads), kernel, stride, dilation, out).copy()
        ctx.geometry = (xb.shape, kernel, dilation, pads, stride, out)
        n, c = xb.shape[:2]
        shape = (n, c * prod(kernel), prod(out))
        return cols.reshape(shape if batched else shape[1:])

    @staticmethod
    def backward(ctx, g):
        shape, kernel, dilation, pads, stride, out = ctx.geometry
        padded = shape[:2] + tuple(i + lo + hi for i, (lo, hi) in zip(shape[2:], pads))
        gpad = xp_of(g).zeros(padded, g.dtype)
        col2im(g.reshape(shape[:2] + kernel + out), gpad, kernel, stride, dilation)
        gx = gpad[interior(shape[2:], pads)]
        return xp_of(g).ascontiguousarray(gx).reshape(shape if g.ndim == 3 else shape[1:])


class Col2Im(Op):
    """fold: blocks (N, C K, L) (or unbatched (C K, L)) -> (N, C, *output_size) (or
    (C, *output_size)), summing every column back onto its window; the adjoint of unfold."""

    @staticmethod
    def forward(ctx, x, output_size, kernel, dilation, pads, stride):
        batched = x.ndim == 3
        xb = x if batched else x[None]
        n, ck = xb.shape[:2]
        c = ck // prod(kernel)
        out = out_sizes(output_size, kernel, stride, dilation, pads)
        padded = tuple(i + lo + hi for i, (lo, hi) in zip(output_size, pads))
        y = xp_of(x).zeros((n, c) + padded, x.dtype)
        col2im(xb.reshape((n, c) + kernel + out), y, kernel, stride, dilation)
        y = xp_of(x).ascontiguousarray(y[interior(output_size, pads)])
        ctx.geometry = (xb.shape, kernel, dilation, pads, stride, out)
        return y if batched else y[0]

    @staticmethod
    def backward(ctx, g):
        shape, kernel, dilation, pads, stride, out = ctx.geometry
        gb = g if g.ndim == len(kernel) + 2 else g[None]
        cols = windows(pad_zeros(gb, pads), kernel, stride, dilation, out).copy()
        return cols.reshape(shape if g.ndim == len(kernel) + 2 else shape[1:])
