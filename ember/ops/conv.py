"""Convolution ops: N-d convolution, transposed convolution, unfold (im2col) and fold (col2im),
each ONE Op with a hand-written backward on whole arrays.

Convolution (x: (N, C, *in), w: (O, C/G, *k)) is a GEMM of the weight against columns of the
zero-padded input (stored channel-major, (C, N, *padded), which makes the column copies
sequential). Two column layouts, picked per shape by a cost model of memory traffic:

* full columns (C K, N L) (K = prod(k), L = prod(out)): ONE GEMM per group, w (O/G, C/G K)
  times the columns, covers the whole batch;
* row columns (C K', N R L') for unit stride in the first spatial dim (K', L': the kernel
  and output sizes without the first dim, R: the padded rows): K/K' times smaller; one GEMM
  with the weight's k[0] row slices stacked, (k0 O/G, C/G K'), then k[0] - 1 additions of
  whole-row-shifted slices of its result. Pays when the channels are few or the kernels tall.

The (O, N, *out) GEMM result is stored transposed into the (N, O, *out) output, with the bias
added in the same pass. The batch goes through the columns in cache-sized chunks of samples,
shared out among ember's threads (each with a single-threaded BLAS and its own scratch
buffers), so that a pass synchronises its threads once.

Backward: grad_weight is one GEMM (k[0] for row columns) of the channel-major output gradient
against the same columns (kept from forward when small enough, rebuilt otherwise).
grad_input either convolves the zero-padded output gradient with the flipped, transposed
weight (unit stride: one more convolution as above) or multiplies the weight's transpose by
the output gradient and folds those columns back onto the input grid (``col2im``, a short loop
over kernel offsets adding strided slices), whichever moves less memory. 1x1 kernels at unit
stride skip the columns: the input itself is the GEMM operand.

Transposed convolution is the adjoint: its forward is convolution's grad_input (same two
routes), its backward a convolution of the output gradient (grad_input) and a GEMM against
that convolution's columns (grad_weight).

Arguments are checked by ``ember.nn.functional``; these Ops assume valid shapes and dtypes.
"""
from math import prod

import numpy as np

from .. import _parallel
from .._backend import xp_of
from ..autograd.function import Op
from .im2col import (KEEP_ELEMENTS, chunks, col2im, im2col, interior, is_pointwise, out_sizes,
                     pad_crop, padded_sizes, row_columns, row_windows, scratch, windows)
from .reduction import _sum

__all__ = []

_ALL = slice(None)

#: Passes over fewer column elements than this run on the calling thread (with one BLAS
#: thread): sharing them out costs more than it saves.
PARALLEL_MIN = 1 << 18


def _bias_grad(g):
    """Sum of g (N, O, *spatial) over every dim but O."""
    return _sum(g, (0,) + tuple(range(2, g.ndim)))


def _flipped(w, groups):
    """w (A, B, *k) -> (G B, A/G, *k) with [g B + b, a, k] = w[g A/G + a, b, k_max - k]: the
    weight of the convolution that is the adjoint (unit stride) of the one w defines."""
    a, b = w.shape[:2]
    d = w.ndim - 2
    wg = w.reshape((groups, a // groups, b) + w.shape[2:])
    wg = wg[(_ALL,) * 3 + (slice(None, None, -1),) * d].swapaxes(1, 2)
    return xp_of(w).ascontiguousarray(wg).reshape((groups * b, a // groups) + w.shape[2:])


def _w3(w, groups):
    """Convolution weight (O, C/G, *k) as GEMM operands (G, O/G, C/G K)."""
    return w.reshape(groups, w.shape[0] // groups, prod(w.shape[1:]))


def _w_rows(w, groups):
    """Convolution weight (O, C/G, k0, *k') as the row GEMM's operands (G, k0 O/G, C/G K'):
    its k0 row slices stacked."""
    o, cg, k0 = w.shape[:3]
    w5 = w.reshape(groups, o // groups, cg, k0, prod(w.shape[3:])).transpose(0, 3, 1, 2, 4)
    return xp_of(w).ascontiguousarray(w5).reshape(groups, k0 * (o // groups), -1)


def _channel_major(a, groups, rows=None, slot='channel_major'):
    """a (N, P, *spatial) copied into a contiguous (G, P/G, N L) ``scratch`` array; with
    ``rows``, the first spatial dim is extended by zeros to ``rows`` (the layout of row
    columns)."""
    extra = (0, rows - a.shape[2]) if rows else (0, 0)
    cm = pad_crop(a, (extra,) + ((0, 0),) * (a.ndim - 3), True, slot)
    return cm.swapaxes(0, 1).reshape(groups, a.shape[1] // groups, -1)


def _store(src, dst, bias):
    """dst (n, O, *sp) = src (G, O/G, n, *sp) (+ bias (O,) when given): one transposing
    pass."""
    groups, og = src.shape[:2]
    n = dst.shape[0]
    dst = dst.reshape((n, groups, og) + dst.shape[2:]).transpose((1, 2, 0) +
                                                                tuple(range(3, dst.ndim + 1)))
    if bias is None:
        dst[...] = src
    else:
        xp_of(dst).add(src, bias.reshape((groups, og) + (1,) * (dst.ndim - 2)), out=dst)


def _gemm_nt(a, b):
    """a (G, M, K) times b (G, P, K) transposed -> (G, M, P), for a long K and small M, P:
    computed as (b a^T)^T, the orientation a multi-threaded OpenBLAS handles best."""
    return xp_of(a).matmul(b, a.swapaxes(1, 2)).swapaxes(1, 2)


def _uses_rows(c, o, kernel, stride, out, rows, groups, weight_grad):
    """Whether row columns beat full columns for a pass from c channels to o channels (o = 0:
    no output) that also feeds a weight gradient when ``weight_grad``, by a model of memory
    traffic. Full columns: per output position, a copy of c K elements, read again by each
    GEMM. Row columns: the same with c K' elements on R / out[0] times as many positions, plus
    the stacked GEMM's k0 o outputs and their k0 - 1 shifted additions, k0 weight-gradient GEMMs
    each reading the columns and the gradient, and one copy of the weight."""
    k0 = kernel[0]
    if stride[0] != 1 or k0 == 1 or not out[0]:
        return False
    kr = prod(kernel[1:])
    per_row = rows * prod(out[1:])
    grad = 1 if weight_grad else 0
    columns = prod(out) * c * k0 * kr * (3 + grad)
    row_cost = (per_row * (3 * c * kr + 2.5 * k0 * o + grad * k0 * (c * kr + o))
                + 2 * o * c // groups * k0 * kr)
    return row_cost < columns


def _run(n, per_sample, work, gw, like, gemm_rows):
    """Call ``work(batch_slice, gw_part)`` over slices of the batch ``range(n)`` (per_sample
    column elements each, multiplied by GEMM operands of ``gemm_rows`` rows). Large NumPy
    passes are shared out: each of ember's threads takes a contiguous run of cache-sized
    slices, with a BLAS confined to it and its own copy of the ``gw`` accumulator (summed at
    the end), so the pass synchronises its threads once, where a multi-threaded BLAS does at
    every block of every GEMM (ruinous when a core is busy elsewhere). Small passes and single
    samples (N = 1) run on the calling thread, with BLAS's threads when their GEMMs are large
    (``_parallel.BLAS_THREADS_MIN`` flops), else with one."""
    threads = _parallel.get_num_threads()
    numpy = xp_of(like) is np
    parts = chunks(n, per_sample, threads) if threads > 1 and numpy and \
        n * per_sample >= PARALLEL_MIN else []
    if len(parts) <= 1:
        if threads <= 1 or not numpy or \
                2 * n * per_sample * gemm_rows >= _parallel.BLAS_THREADS_MIN:
            for sl in chunks(n, per_sample):
                work(sl, gw)
            return
        with _parallel.one_blas_thread():
            for sl in chunks(n, per_sample):
                work(sl, gw)
        return
    runs = [parts[i:j] for i, j in _parallel._splits(len(parts), min(threads, len(parts)))]
    accs = [gw] + [None if gw is None else np.zeros_like(gw) for _ in runs[1:]]

    def run(slices, acc):
        for sl in slices:
            work(sl, acc)
    with _parallel.one_blas_thread():
        futures = [_parallel._executor().submit(run, r, acc) for r, acc in zip(runs, accs)]
        for f in futures:
            f.result()
    for acc in accs[1:]:
        if acc is not None:
            gw += acc


def _column_pass(xpad, kernel, stride, dilation, out, groups, w=None, y=None, bias=None,
                 g=None, gw=None, keep=False, cols=None):
    """One sweep over the full columns (C K, N L) of ``xpad`` (N, C, *padded), batch chunk by
    chunk (``cols``: columns kept from an earlier sweep instead, as (C, *k, N, *out)).

    With ``y`` (N, O, *out): y = conv(xpad, w) (+ bias).
    With ``gw`` (P, C/G, *k): gw += g (G, P/G, N L) times the columns transposed.
    Returns the columns when ``keep`` and they are small enough to keep, else None.
    """
    xp = xp_of(xpad if cols is None else cols)
    d = len(kernel)
    length = prod(out)
    if cols is None:
        n, c = xpad.shape[:2]
        view = windows(xpad, kernel, stride, dilation, out)
        if keep and c * prod(kernel) * n * length <= KEEP_ELEMENTS:
            cols = xp.empty((c,) + kernel + (n,) + out, xpad.dtype)
        build = True
    else:
        c, n = cols.shape[0], cols.shape[1 + d]
        build = False
    ck = c * prod(kernel)
    w3 = None if w is None else _w3(w, groups)

    def work(sl, acc):
        m = sl.stop - sl.start
        if cols is None:
            part = im2col(view[sl], scratch('columns', (c,) + kernel + (m,) + out, xpad.dtype,
                                            xpad)).reshape(ck, m * length)
        else:
            if build:
                im2col(view[sl], cols[(_ALL,) * (1 + d) + (sl,)])
            part = cols.reshape(ck, n * length)[:, sl.start * length:sl.stop * length]
        cols3 = part.reshape(groups, ck // groups, m * length)
        if y is not None:
            ycm = scratch('gemm', (groups, w3.shape[1], m * length), y.dtype, y)
            xp.matmul(w3, cols3, out=ycm)
            _store(ycm.reshape((groups, w3.shape[1], m) + out), y[sl], bias)
        if acc is not None:
            acc3 = acc.reshape(groups, acc.shape[0] // groups, -1)
            acc3 += _gemm_nt(g[:, :, sl.start * length:sl.stop * length], cols3)
    _run(n, ck * length, work, gw, xpad if cols is None else cols,
         (0 if w3 is None else w3.shape[1]) + (0 if gw is None else gw.shape[0] // groups))
    return cols if keep else None


def _row_pass(xpad, kernel, stride, dilation, out, groups, w=None, y=None, bias=None, g=None,
              gw=None, keep=False, cols=None):
    """``_column_pass`` with row columns (C K', N R L') (unit stride in the first spatial
    dim; ``cols`` kept as (C, *k', N, R, *out')); g is (G, P/G, N R L') with zero rows beyond
    out[0] (``_channel_major(..., rows=R)``)."""
    xp = xp_of(xpad if cols is None else cols)
    d = len(kernel) - 1
    k0, kr = kernel[0], prod(kernel[1:])
    per_row = prod(out[1:])
    shift = dilation[0] * per_row                     # one kernel row = this many columns
    if cols is None:
        n, c, rows = xpad.shape[:3]
        view = row_windows(xpad, kernel, stride, dilation, out)
        if keep and c * kr * n * rows * per_row <= KEEP_ELEMENTS:
            cols = xp.empty((c,) + kernel[1:] + (n, rows) + out[1:], xpad.dtype)
        build = True
    else:
        c, n, rows = cols.shape[0], cols.shape[1 + d], cols.shape[2 + d]
        build = False
    ckr = c * kr
    span = rows * per_row                             # columns per sample
    o = 0 if y is None else y.shape[1]
    w_rows = None if w is None else _w_rows(w, groups)

    def work(sl, acc):
        m = sl.stop - sl.start
        width = m * span
        if cols is None:
            part = row_columns(view[sl], scratch('columns', (c,) + kernel[1:] + (m, rows)
                                                 + out[1:], xpad.dtype, xpad))
            part = part.reshape(ckr, width)
        else:
            if build:
                row_columns(view[sl], cols[(_ALL,) * (1 + d) + (sl,)])
            part = cols.reshape(ckr, n * span)[:, sl.start * span:sl.stop * span]
        cols3 = part.reshape(groups, ckr // groups, width)
        if y is not None:
            og = o // groups
            z = scratch('gemm', (groups, k0 * og, width), y.dtype, y)
            xp.matmul(w_rows, cols3, out=z)
            acc_y = z[:, :og]
            for i in range(1, k0):          # output row r adds kernel row i of input row r + i d
                acc_y[:, :, :width - i * shift] += z[:, i * og:(i + 1) * og, i * shift:]
            acc_y = acc_y.reshape((groups, og, m, rows) + out[1:])[:, :, :, :out[0]]
            _store(acc_y, y[sl], bias)
        if acc is not None:
            _row_weight_grad(acc, g[:, :, sl.start * span:sl.stop * span], cols3, shift)
    _run(n, (ckr + k0 * o) * span, work, gw, xpad if cols is None else cols,
         k0 * (o + (0 if gw is None else gw.shape[0])) // groups)
    return cols if keep else None


def _row_weight_grad(gw, g, cols3, shift):
    """gw (P, C/G, k0, *k') += g (G, P/G, W) times row columns cols3 (G, C/G K', W): kernel
    row i pairs output row r with input row r + i d, ``shift`` = d L' columns further (the
    last rows of g are zero, so nothing is lost at the end). The k0 shifted copies of g are
    stacked into one GEMM operand: one GEMM streams the columns once instead of k0 times."""
    groups, width = cols3.shape[0], cols3.shape[2]
    og, k0 = g.shape[1], gw.shape[2]
    stack = scratch('stacked', (groups, k0, og, width), g.dtype, g)
    for i in range(k0):
        stack[:, i, :, :i * shift] = 0
        stack[:, i, :, i * shift:] = g[:, :, :width - i * shift]
    part = _gemm_nt(stack.reshape(groups, k0 * og, width), cols3)
    gw5 = gw.reshape(groups, og, gw.shape[1], k0, -1)
    gw5 += part.reshape(groups, k0, og, gw.shape[1], -1).transpose(0, 2, 3, 1, 4)


def _sweep(rows, xpad, kernel, stride, dilation, out, groups, **kw):
    """``_row_pass`` when ``rows`` else ``_column_pass``."""
    return (_row_pass if rows else _column_pass)(xpad, kernel, stride, dilation, out, groups,
                                                 **kw)


def _convolve(xpad, w, groups, stride, dilation, out, y, bias=None, keep=False):
    """y (N, O, *out) = conv(xpad (N, C, *padded), w) (+ bias), zero padding already applied,
    by the cheaper column layout. Returns (columns if kept, whether they are row columns)."""
    kernel = w.shape[2:]
    rows = _uses_rows(xpad.shape[1], w.shape[0], kernel, stride, out, xpad.shape[2], groups,
                      keep)
    cols = _sweep(rows, xpad, kernel, stride, dilation, out, groups, w=w, y=y, bias=bias,
                  keep=keep)
    return cols, rows


def _col2im_pass(g3, w3t, kernel, stride, dilation, out, dst):
    """dst (C, N, *padded) += the columns w3t (G, C/G K, P/G) times g3 (G, P/G, N L), folded
    back onto the grid window by window, batch chunk by chunk."""
    xp = xp_of(g3)
    c, n = dst.shape[:2]
    length = prod(out)

    def work(sl, _):
        m = sl.stop - sl.start
        cols = scratch('columns', (w3t.shape[0], w3t.shape[1], m * length), dst.dtype, dst)
        xp.matmul(w3t, g3[:, :, sl.start * length:sl.stop * length], out=cols)
        col2im(cols.reshape((c,) + kernel + (m,) + out), dst[:, sl], kernel, stride, dilation)
    _run(n, c * prod(kernel) * length, work, None, dst, g3.shape[1])
    return dst


def _flip_is_cheaper(c_src, c_dst, k, l_src, l_dst, groups):
    """Whether a unit-stride adjoint (c_src channels on l_src positions -> c_dst channels on
    l_dst positions, kernel size k) is cheaper as im2col + GEMM with the flipped weight than as
    GEMM + col2im, by a cost model measured on a 2-core x86 machine: a column copy about
    0.5 ns an element, col2im's read-add-write about 1.2 ns an element, GEMM about 0.02 ns a
    flop, and the flipped weight's copy about 1 ns an element."""
    weight = c_src * c_dst * k / groups
    gemm = 0.04 * weight
    return l_dst * (0.5 * c_src * k + gemm) + weight <= l_src * (1.2 * c_dst * k + gemm)


class Convolution(Op):
    """y = conv(x, w) + b.

    x: (N, C, *in); w: (O, C/G, *k); b: (O,) or None; pads: ((lo, hi), ...) zero padding per
    spatial dim -> y: (N, O, *out) with out = floor((in + lo + hi - d (k - 1) - 1) / s) + 1.
    """
    backward_name = 'ConvolutionBackward0'

    @staticmethod
    def forward(ctx, x, w, b, stride, dilation, pads, groups):
        xp = xp_of(x)
        n, c = x.shape[:2]
        o = w.shape[0]
        kernel = w.shape[2:]
        out = out_sizes(x.shape[2:], kernel, stride, dilation, pads)
        cols, rows = None, False
        if is_pointwise(kernel, stride, pads):
            y = _pointwise(x, _w3(w, groups), b, (n, o) + out)
        else:
            y = xp.empty((n, o) + out, x.dtype)
            cols, rows = _convolve(pad_crop(x, pads, True, 'padded'), w, groups, stride,
                                   dilation, out, y, b, keep=ctx.needs_input_grad[1])
        ctx.geometry = (stride, dilation, pads, groups, rows)
        ctx.save_for_backward(x, w, cols)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w, cols = ctx.saved
        stride, dilation, pads, groups, rows = ctx.geometry
        need = ctx.needs_input_grad
        if is_pointwise(w.shape[2:], stride, pads):
            return _pointwise_grads(g, x, w, groups, need)
        xp = xp_of(g)
        kernel = w.shape[2:]
        o, c = w.shape[0], x.shape[1]
        flip = all(s == 1 for s in stride) and _flip_is_cheaper(
            o, c, prod(kernel), prod(g.shape[2:]), prod(x.shape[2:]), groups)
        gw = g_cols = None
        if need[1]:
            padded_rows = x.shape[2] + sum(pads[0])
            g_cols = _channel_major(g, groups, padded_rows if rows else None)
            gw = xp.zeros(w.shape, g.dtype)
            _weight_grad(g_cols, cols, gw, rows, x, pads, stride, dilation, g.shape[2:],
                         groups)
        gb = None
        if need[2]:
            gb = _bias_grad(g) if g_cols is None else _sum(g_cols.reshape(o, -1), (1,))
        gx = None
        if need[0]:
            g3 = None
            if not flip:
                g3 = g_cols if g_cols is not None and not rows else \
                    _channel_major(g, groups, slot='gradient')
            gx = _conv_input_grad(g, g3, w, x.shape, stride, dilation, pads, groups, flip)
        return gx, gw, gb


def _weight_grad(g_cols, cols, gw, rows, x, pads, stride, dilation, out, groups):
    """gw (O, C/G, *k) += the output gradient g_cols (channel-major, in the layout of the
    columns) against the kept columns ``cols``, or against columns rebuilt from x (N, C, *in)
    padded by ``pads`` when None."""
    xpad = pad_crop(x, pads, True, 'padded') if cols is None else None
    _sweep(rows, xpad, gw.shape[2:], stride, dilation, out, groups, g=g_cols, gw=gw, cols=cols)
    return gw


def _pointwise(x, w3, b, shape):
    """y = w3 (G, O/G, C/G) times x (N, C, *sp) per sample (+ b): a 1x1 unit-stride
    convolution (or its transposed twin), ``shape`` = (N, O, *sp)."""
    xp = xp_of(x)
    n, c = x.shape[:2]
    length = prod(x.shape[2:])
    x4 = x.reshape(n, w3.shape[0], c // w3.shape[0], length)
    y = xp.empty(shape, x.dtype)
    y4 = y.reshape(n, w3.shape[0], w3.shape[1], length)

    def work(sl, _):
        xp.matmul(w3, x4[sl], out=y4[sl])
        if b is not None:
            y[sl] += b.reshape(b.shape + (1,) * (y.ndim - 2))
    _run(n, c * length, work, None, x, w3.shape[1])
    return y


def _pointwise_grads(g, x, w, groups, need):
    """(grad_input, grad_weight, grad_bias) of a 1x1 unit-stride convolution."""
    xp = xp_of(g)
    gx = _pointwise(g, _w3(w, groups).swapaxes(1, 2), None, x.shape) if need[0] else None
    gw = None
    if need[1]:
        n, c = x.shape[:2]
        length = prod(g.shape[2:])
        gy = g.reshape(n, groups, w.shape[0] // groups, length)
        x4 = x.reshape(n, groups, c // groups, length)
        gw = xp.zeros((groups, w.shape[0] // groups, c // groups), g.dtype)

        def work(sl, acc):
            acc += _sum(xp.matmul(gy[sl], x4[sl].swapaxes(-1, -2)), (0,))
        _run(n, c * length, work, gw, g, w.shape[0] // groups)
        gw = gw.reshape(w.shape)
    return gx, gw, (_bias_grad(g) if need[2] else None)


def _conv_input_grad(g, g3, w, x_shape, stride, dilation, pads, groups, flip):
    """grad_input (N, C, *in) of a convolution from its output gradient g (N, O, *out)
    (g3: the same, channel-major (G, O/G, N L), needed unless ``flip``)."""
    xp = xp_of(g)
    kernel = w.shape[2:]
    sizes = x_shape[2:]
    if flip:
        gx = xp.empty(x_shape, g.dtype)
        gpads = tuple((dl * (k - 1) - lo, dl * (k - 1) - hi)
                      for k, dl, (lo, hi) in zip(kernel, dilation, pads))
        _convolve(pad_crop(g, gpads, True, 'padded'), _flipped(w, groups), groups, stride,
                  dilation, sizes, gx)
        return gx
    w3t = _w3(w, groups).swapaxes(1, 2)
    gxpad = scratch('accumulator', (x_shape[1], x_shape[0]) + padded_sizes(sizes, pads),
                    g.dtype, g)
    gxpad.fill(0)
    _col2im_pass(g3, w3t, kernel, stride, dilation, g.shape[2:], gxpad)
    return xp.ascontiguousarray(gxpad[interior(sizes, pads)].swapaxes(0, 1))


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
    it) and y is its [p, p + out) crop: ``pads`` = (p, full - p - out) per dim is the
    convolution padding that maps y back onto x's grid.
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
        ctx.geometry = (stride, dilation, pads, groups)
        ctx.save_for_backward(x, w)
        k, l_in, l_out = prod(kernel), prod(sizes), prod(out)
        if out == sizes and is_pointwise(kernel, stride, pads):
            return _pointwise(x, _w3(w, groups).swapaxes(1, 2), b, (n, cout) + out)
        if all(s == 1 for s in stride) and _flip_is_cheaper(cin, cout, k, l_in, l_out, groups):
            y = xp.empty((n, cout) + out, x.dtype)
            xpads = tuple((d * (kk - 1) - p, d * (kk - 1) - p + op) for kk, d, p, op in
                          zip(kernel, dilation, padding, output_padding))
            _convolve(pad_crop(x, xpads, True, 'padded'), _flipped(w, groups), groups, stride,
                      dilation, out, y, b)
            return y
        yfull = scratch('accumulator', (cout, n) + full, x.dtype, x)
        yfull.fill(0)
        _col2im_pass(_channel_major(x, groups), _w3(w, groups).swapaxes(1, 2), kernel, stride,
                     dilation, sizes, yfull)
        y = xp.empty((n, cout) + out, x.dtype)
        _store(yfull[interior(out, pads)][None], y, b)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved
        stride, dilation, pads, groups = ctx.geometry
        need = ctx.needs_input_grad
        xp = xp_of(g)
        kernel = w.shape[2:]
        gx = xp.empty(x.shape, g.dtype) if need[0] else None
        gw = xp.zeros(w.shape, g.dtype) if need[1] else None
        if need[0] or need[1]:
            gpad = pad_crop(g, pads, True, 'padded')
            rows = _uses_rows(w.shape[1] * groups, w.shape[0] if need[0] else 0, kernel,
                              stride, x.shape[2:], gpad.shape[2], groups, need[1])
            x_cols = _channel_major(x, groups, gpad.shape[2] if rows else None) if need[1] \
                else None
            _sweep(rows, gpad, kernel, stride, dilation, x.shape[2:], groups,
                   w=w if need[0] else None, y=gx, g=x_cols, gw=gw)
        return gx, gw, (_bias_grad(g) if need[2] else None)


def _fold_layout(a, kernel, out):
    """Blocks a (N, C K, L) as the channel-major columns (C, *kernel, N, *out) of ``col2im``."""
    n, ck = a.shape[:2]
    d = len(kernel)
    cols = a.reshape((n, ck // prod(kernel)) + tuple(kernel) + tuple(out))
    return cols.transpose((1,) + tuple(range(2, 2 + d)) + (0,) + tuple(range(2 + d, 2 + 2 * d)))


class Im2Col(Op):
    """unfold: x (N, C, *in) (or unbatched (C, *in)) -> blocks (N, C K, L) (or (C K, L)), each
    column one flattened window of the zero-padded input."""

    @staticmethod
    def forward(ctx, x, kernel, dilation, pads, stride):
        batched = x.ndim == len(kernel) + 2
        xb = x if batched else x[None]
        out = out_sizes(xb.shape[2:], kernel, stride, dilation, pads)
        cols = windows(pad_crop(xb, pads), kernel, stride, dilation, out).copy()
        ctx.geometry = (xb.shape, kernel, dilation, pads, stride, out)
        n, c = xb.shape[:2]
        shape = (n, c * prod(kernel), prod(out))
        return cols.reshape(shape if batched else shape[1:])

    @staticmethod
    def backward(ctx, g):
        shape, kernel, dilation, pads, stride, out = ctx.geometry
        gb = g if g.ndim == 3 else g[None]
        gpad = xp_of(g).zeros((shape[1], shape[0]) + padded_sizes(shape[2:], pads), g.dtype)
        col2im(_fold_layout(gb, kernel, out), gpad, kernel, stride, dilation)
        gx = xp_of(g).ascontiguousarray(gpad[interior(shape[2:], pads)].swapaxes(0, 1))
        return gx if g.ndim == 3 else gx[0]


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
        y = xp_of(x).zeros((c, n) + padded_sizes(output_size, pads), x.dtype)
        col2im(_fold_layout(xb, kernel, out), y, kernel, stride, dilation)
        y = xp_of(x).ascontiguousarray(y[interior(output_size, pads)].swapaxes(0, 1))
        ctx.geometry = (xb.shape, kernel, dilation, pads, stride, out)
        return y if batched else y[0]

    @staticmethod
    def backward(ctx, g):
        shape, kernel, dilation, pads, stride, out = ctx.geometry
        gb = g if g.ndim == len(kernel) + 2 else g[None]
        cols = windows(pad_crop(gb, pads), kernel, stride, dilation, out).copy()
        return cols.reshape(shape if g.ndim == len(kernel) + 2 else shape[1:])
