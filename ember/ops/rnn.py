"""Recurrent layers over whole sequences: ONE Op per layer and direction (``RNNLayer``,
``LSTMLayer``, ``GRULayer``) with a hand-written backward through time, and PyTorch's entry
points ``torch.rnn_tanh``, ``torch.rnn_relu``, ``torch.lstm``, ``torch.gru`` (layers and
directions stacked) and ``torch.rnn_tanh_cell``, ``rnn_relu_cell``, ``lstm_cell``,
``gru_cell`` (one step: one Op).

Rows. A layer Op sees its sequence as rows of a 2-D array x (N, I): time-major padded input
(T, B, I) flattened, or the data of a PackedSequence. ``steps`` lists, in processing order
(reversed for the reverse direction), one ``(first_row, rows)`` pair per time step. Packed
batches are sorted by length, so step t holds the first ``rows`` sequences; the recurrent
state is a (B, H) array whose first ``rows`` rows advance at each step while the others keep
their value: a finished sequence keeps its last state (its h_n) and one not started yet
(reverse direction) keeps h0. Padded input is the case of B rows at every step.

Gate blocks. The G gates (LSTM: i, f, g, o; GRU: r, z, n) of a step live in one contiguous
(G, rows, H) block of a step-major (N * G, H) array, so the elementwise gate math of a step
runs on whole contiguous blocks (NumPy's fast path) rather than on strided column slices. The
weights are stacked once per call, outside the time loop, as (G, K, H) (gate k's W^T); the
input projection of all steps is one GEMM (or, for batches of many rows, one matmul straight
into the blocks) and each step one matmul h (rows, P) @ (G, P, H). Sigmoid gates are computed
from pre-activations scaled by -1 (folded into the stacked weights and biases), so a sigmoid
is exp, +1 and a reciprocal over the whole block.

Backward. Steps run in reverse processing order; a step's gate gradients are computed on
contiguous blocks, then stored row-major in an (N, G*H) array, so the gradient reaching the
previous state is one GEMM with W_hh per step, and after the loop dW_ih = dG^T x,
dW_hh = dG^T h_prev, the input gradient dG W_ih and the bias gradients (column sums) are each
one GEMM or sum.

When a graph is recorded, the activations (gates, previous states, tanh(c)) are kept in
preallocated arrays; otherwise scratch arrays of B rows are reused at every step. Every layer
Op takes (x, w_ih, w_hh, b_ih, b_hh, h0, ...) in this order; biases may be None.

Threads. The sequences of a batch are independent, so a padded layer with large steps splits
its batch into one range of rows per thread of ember's pool; each range runs the projection,
the whole time loop and the weight-gradient GEMMs on its own (one synchronisation per layer,
none per step), and the ranges' weight gradients are summed. BLAS computes on the calling
thread throughout: a step's GEMM is too small to share, and waiting on BLAS threads stalls
whenever the machine is busy.
"""
import numpy as np

from .. import _parallel
from .._backend import xp_of
from .._tensor import Tensor
from ..autograd.function import Op
from .dropout import dropout as _dropout
from .linalg import _sname
from .reduction import _sum
from .shape import cat, stack

__all__ = ['rnn_tanh', 'rnn_relu', 'lstm', 'gru', 'rnn_tanh_cell', 'rnn_relu_cell',
           'lstm_cell', 'gru_cell']


# ---- kernels ---------------------------------------------------------------------------------
def _sigmoid_scaled_(a):
    """a := 1 / (1 + exp(a)) in place: the sigmoid of -a (pre-activations arrive negated)."""
    np.exp(a, out=a)
    a += 1.0
    np.divide(1.0, a, out=a)


def _dsigmoid(s, out):
    """out := s (1 - s): the sigmoid's derivative from its output ``s``."""
    np.subtract(1.0, s, out=out)
    out *= s
    return out


def _dtanh(t, out):
    """out := 1 - t^2: tanh's derivative from its output ``t``."""
    np.multiply(t, t, out=out)
    np.subtract(1.0, out, out=out)
    return out


def _rows(x):
    """x (T, B, I) or (N, I) as rows (N, I)."""
    return x if x.ndim == 2 else x.reshape(x.shape[0] * x.shape[1], x.shape[2])


def _rows_of(x):
    """N: the rows of x (T, B, I) or (N, I)."""
    return x.shape[0] * x.shape[1] if x.ndim == 3 else x.shape[0]


def _gate_major(w, scale):
    """A stacked weight (G*H, K) times ``scale[k]`` on gate k's rows, as (G, K, H): gate k's
    scaled W_k^T (a transposed view of a fresh (G, H, K) array)."""
    n_gates = scale.shape[0]
    w3 = w.reshape(n_gates, w.shape[0] // n_gates, w.shape[1]) * scale[:, None, None]
    return w3.transpose(0, 2, 1)


def _widest(steps):
    """The batch size B: the most rows of any step."""
    return max([n for _, n in steps], default=0)


def _block(buf, s, n, n_gates):
    """Step (s, n)'s gates: the contiguous (G, n, H) block of a step-major (N * G, H) gate
    buffer."""
    return buf[s * n_gates:(s + n) * n_gates].reshape(n_gates, n, buf.shape[1])


def _project(x, w3, bias, steps):
    """Gate pre-activations of every step, step-major: row r of step t holds gate k's
    rows(x)[r] @ w3[k] + bias[k] (x (T, B, I) or (N, I), w3 (G, I, H), bias (G, H) or None).

    Returns a (N * G, H) buffer whose rows G*s .. G*(s+n) are step (s, n)'s (G, n, H) block.
    """
    n_gates, _, hid = w3.shape
    n_rows = _rows_of(x)
    buf = xp_of(w3).empty((n_rows * n_gates, hid), w3.dtype)
    padded = x.ndim == 3 and n_rows == _widest(steps) * len(steps)
    if n_rows < _THIN_ROWS * len(steps):
        _project_scattered(buf, x, w3, bias, steps, padded)
    else:
        _project_per_step(buf, x, w3, bias, steps, padded)
    return buf


_THIN_ROWS = 16          # rows per step below which per-step GEMMs are too thin


def _project_scattered(buf, x, w3, bias, steps, padded):
    """Few rows per step: ONE GEMM rows(x) (N, I) @ (I, G*H), whose (N, G, H) result the bias
    addition writes into the step blocks."""
    n_gates, n_in, hid = w3.shape
    big = _rows(x).dot(w3.transpose(0, 2, 1).reshape(n_gates * hid, n_in).T)
    b = 0.0 if bias is None else bias[:, None, :]
    if padded:
        t, batch = x.shape[:2]
        np.add(big.reshape(t, batch, n_gates, hid).transpose(0, 2, 1, 3), b,
               out=buf.reshape(t, n_gates, batch, hid))
        return
    for s, n in steps:
        np.add(big[s:s + n].reshape(n, n_gates, hid).transpose(1, 0, 2), b,
               out=_block(buf, s, n, n_gates))


def _project_per_step(buf, x, w3, bias, steps, padded):
    """Many rows per step: matmuls straight into the step blocks (padded input: one call,
    T * G GEMMs), then the bias."""
    xp = xp_of(w3)
    n_gates, n_in, hid = w3.shape
    if padded:
        t, batch = x.shape[:2]
        xp.matmul(x.reshape(t, 1, batch, n_in), w3, out=buf.reshape(t, n_gates, batch, hid))
        if bias is not None:
            g = buf.reshape(t, n_gates * batch * hid)
            g += xp.repeat(bias[:, None, :], batch, axis=1).reshape(-1)
        return
    for s, n in steps:
        blk = _block(buf, s, n, n_gates)
        xp.matmul(x[s:s + n], w3, out=blk)
        if bias is not None:
            blk += bias[:, None, :]


def _scratch(flat, n_gates, n):
    """A contiguous (G, n, H) view of the first G*n rows of a (G*B, H) scratch array."""
    return flat[:n_gates * n].reshape(n_gates, n, flat.shape[1])


def _state(a):
    """A private C-contiguous copy of an initial state: the running state of a layer."""
    return xp_of(a).array(a, order='C')


def _state_grad(g, shape, like):
    """The gradient reaching a final state as a fresh contiguous array (zeros for None)."""
    xp = xp_of(like)
    return xp.zeros(shape, like.dtype) if g is None else xp.array(g, dtype=like.dtype, order='C')


def _output_grad(g, n_rows, width):
    """The output's gradient as rows (N, width), or None."""
    return None if g is None else g.reshape(n_rows, width)


def _sequence_grads(need, x, w_ih, h_prev, dg):
    """Gradients of forward args 0-4 (x, w_ih, w_hh, b_ih, b_hh) from the gate gradients dg
    (N, G*H) of every step, row-major (the same on the input and the hidden side); h_prev
    (N, P) the states they multiplied."""
    dx = dg.dot(w_ih).reshape(x.shape) if need[0] else None
    dw_ih = dg.T.dot(_rows(x)) if need[1] else None
    dw_hh = dg.T.dot(h_prev) if need[2] else None
    db_ih = _sum(dg, (0,)) if need[3] or need[4] else None
    db_hh = (db_ih.copy() if need[3] else db_ih) if need[4] else None
    return dx, dw_ih, dw_hh, db_ih if need[3] else None, db_hh


# ---- running a layer on several threads ------------------------------------------------------
def _batch_ranges(x, batch, step_work):
    """Row ranges [(b0, b1), ...] of the batch, one per thread, when a padded layer is worth
    splitting: its sequences are independent, so each range runs the whole time loop (and the
    GEMMs before and after it) on its own thread, with no synchronisation per step. Each
    thread's share of a step's recurrent GEMM (``step_work`` multiply-adds for the batch) must
    outweigh the Python work of a step, which holds the GIL. None: one run on the calling
    thread (small steps, one thread, packed data or a GPU array)."""
    threads = _parallel.get_num_threads()
    if threads == 1 or x.ndim != 3 or x.__class__ is not np.ndarray:
        return None
    parts = min(threads, step_work // _SPLIT_WORK, batch // _CHUNK_ROWS)
    return _parallel._splits(batch, parts) if parts > 1 else None


_SPLIT_WORK = 1 << 21        # multiply-adds of a step's recurrent GEMM per thread
_CHUNK_ROWS = 8              # fewest batch rows per thread


def _range_steps(steps, b0, b1):
    """The padded ``steps`` (in their processing order) of the batch rows b0 .. b1 alone."""
    rows = b1 - b0
    return tuple([(s // n * rows, rows) for s, n in steps])


def _in_parallel(fn, jobs):
    """[fn(*job) for job in jobs], run on ember's thread pool."""
    ex = _parallel._executor()
    return [f.result() for f in [ex.submit(fn, *job) for job in jobs]]


def _run_forward(ctx, kernel, x, states, steps, args, keep):
    """``kernel(x, states, steps, *args, record) -> (out rows (N, P), finals, saved)`` over the
    whole batch, or over row ranges in parallel; ``keep`` (x and the weights, as received) and
    every run's saved activations go to ``ctx`` when a graph is recorded. BLAS computes on the
    calling thread meanwhile: a step's GEMMs are small, and waiting on BLAS threads stalls
    whenever the machine is busy.

    Returns (output (x's leading dims, P), *finals (each (B, *)))."""
    record = any(ctx.needs_input_grad)
    w_hh = keep[2]
    batch = states[0].shape[0]
    ranges = _batch_ranges(x, batch, batch * w_hh.shape[0] * w_hh.shape[1])
    with _parallel.one_blas_thread():
        if ranges is None:
            out, finals, saved = kernel(x, states, steps, *args, record)
            out, runs = out.reshape(x.shape[:-1] + (out.shape[1],)), [saved]
        else:
            results = _in_parallel(kernel, [(x[:, b0:b1], tuple([s[b0:b1] for s in states]),
                                             _range_steps(steps, b0, b1)) + args + (record,)
                                            for b0, b1 in ranges])
            out = _join_rows([r[0] for r in results], ranges, x.shape[:2])
            finals = tuple([np.concatenate([r[1][i] for r in results])
                            for i in range(len(states))])
            runs = [r[2] for r in results]
    if record:
        ctx.save_for_backward(*keep, *[a for saved in runs for a in saved])
        ctx.n_keep, ctx.ranges, ctx.steps = len(keep), ranges, steps
    return (out,) + finals


def _join_rows(parts, ranges, leading):
    """(T, B, W) from each range's rows (T * (b1 - b0), W) or (T, b1 - b0, W)."""
    t, batch = leading
    width = parts[0].shape[-1]
    out = np.empty((t, batch, width), parts[0].dtype)
    for (b0, b1), part in zip(ranges, parts):
        out[:, b0:b1] = part.reshape(t, b1 - b0, width)
    return out


def _run_backward(ctx, kernel, d_out, d_finals, args):
    """``kernel(saved, x, steps, need, d_out, d_finals, *args) -> (dx, weight grads, state
    grads)`` over each run of the forward pass; the runs' input and state gradients are joined
    along the batch, their weight gradients summed.

    Returns (dx, *weight grads, *state grads), each None where not needed."""
    saved, need, ranges = ctx.saved, ctx.needs_input_grad, ctx.ranges
    x = saved[0]
    acts = saved[ctx.n_keep:]
    if ranges is None:
        with _parallel.one_blas_thread():
            dx, dw, ds = kernel(acts, x, ctx.steps, need, d_out, d_finals, *args)
        return (dx,) + dw + ds
    per = len(acts) // len(ranges)
    jobs = [(acts[k * per:(k + 1) * per], x[:, b0:b1], _range_steps(ctx.steps, b0, b1), need,
             None if d_out is None else d_out[:, b0:b1],
             tuple([None if d is None else d[b0:b1] for d in d_finals])) + args
            for k, (b0, b1) in enumerate(ranges)]
    with _parallel.one_blas_thread():
        results = _in_parallel(kernel, jobs)
    dx = None if results[0][0] is None else _join_rows([r[0] for r in results], ranges,
                                                       x.shape[:2])
    dw = []
    for i, g in enumerate(results[0][1]):
        if g is not None:
            for r in results[1:]:
                g += r[1][i]
        dw.append(g)
    ds = tuple([None if g is None else np.concatenate([r[2][i] for r in results])
                for i, g in enumerate(results[0][2])])
    return (dx,) + tuple(dw) + ds


class _Layer(Op):
    """Base of the layer Ops: the gradient of an unused output arrives as None, not zeros."""
    _materialize = False


# ---- Elman RNN -------------------------------------------------------------------------------
def _rnn_forward(x, states, steps, w_ih, w_hh_t, bias, relu, record):
    """The time loop of RNNLayer over x's rows: (y (N, H), (h_n,), saved (y, h_prev))."""
    xp = xp_of(x)
    h0, = states
    batch, hid = h0.shape
    y = _rows(x).dot(w_ih.T)                                     # (N, H), activated in place
    if bias is not None:
        y += bias
    h = _state(h0)
    hh = xp.empty((batch, hid), y.dtype)
    h_prev = xp.empty_like(y) if record else None
    for s, n in steps:
        e = s + n
        hn = h[:n]
        if record:
            h_prev[s:e] = hn
        t = hh[:n]
        xp.dot(hn, w_hh_t, out=t)
        a = y[s:e]
        a += t
        if relu:
            np.maximum(a, 0.0, out=a)
        else:
            np.tanh(a, out=a)
        hn[...] = a
    # the output is a copy when y is kept for backward: changing it in place must not matter
    return (y.copy() if record else y), (h,), (y, h_prev)


def _rnn_backward(saved, x, steps, need, d_out, d_finals, w_ih, w_hh, relu):
    """Gradients of RNNLayer over one run: (dx, (dw_ih, dw_hh, db_ih, db_hh), (dh0,))."""
    y, h_prev = saved
    xp = xp_of(y)
    n_rows, hid = y.shape
    dh = _state_grad(d_finals[0], (_widest(steps), hid), y)
    d_out = _output_grad(d_out, n_rows, hid)
    da = xp.empty_like(y)
    for s, n in reversed(steps):
        e = s + n
        dhn, d = dh[:n], da[s:e]
        if d_out is not None:
            dhn += d_out[s:e]
        if relu:
            np.greater(y[s:e], 0.0, out=d)
        else:
            _dtanh(y[s:e], d)
        d *= dhn
        xp.dot(d, w_hh, out=dhn)
    grads = _sequence_grads(need, x, w_ih, h_prev, da)
    return grads[0], grads[1:], (dh if need[5] else None,)


class RNNLayer(_Layer):
    """One Elman RNN layer in one direction over a whole sequence.

    x: (T, B, I) or packed rows (N, I); w_ih: (H, I); w_hh: (H, H); b_ih, b_hh: (H,) or None;
    h0: (B, H); steps: ((first_row, rows), ...); relu: False for tanh.
    h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh). Returns output (x's leading dims, H), h_n (B, H).
    """

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, h0, steps, relu):
        bias = None if b_ih is None else b_ih + b_hh
        ctx.relu = relu
        return _run_forward(ctx, _rnn_forward, x, (h0,), steps, (w_ih, w_hh.T, bias, relu),
                            (x, w_ih, w_hh))

    @staticmethod
    def backward(ctx, d_out, d_hn):
        _, w_ih, w_hh = ctx.saved[:3]
        return _run_backward(ctx, _rnn_backward, d_out, (d_hn,), (w_ih, w_hh, ctx.relu))


# ---- LSTM ------------------------------------------------------------------------------------
def _lstm_scale(like):
    """Factors of the LSTM's gates i, f, g, o: -1 for the sigmoid gates and -2 for g, whose
    tanh(z) = 2 sigmoid(2 z) - 1; so every gate comes from ONE pass of 1 / (1 + exp(a)) over
    the step's four blocks. Powers of two scale exactly."""
    return xp_of(like).asarray([-1.0, -1.0, -2.0, -1.0], like.dtype)


def _lstm_forward(x, states, steps, w_ih3, w_hh3, bias, w_hr, record):
    """The time loop of LSTMLayer over x's rows, weights stacked by gate and scaled:
    (out (N, P), (h_n, c_n), saved (gates, c_prev, tanh_c, h_prev, h_full))."""
    xp = xp_of(x)
    h0, c0 = states
    batch, p = h0.shape
    hid = c0.shape[1]
    gates = _project(x, w_ih3, bias, steps)                      # (4N, H) step blocks
    n_rows, dt = gates.shape[0] // 4, gates.dtype
    w_hr_t = None if w_hr is None else w_hr.T
    h, c = _state(h0), _state(c0)
    hist = n_rows if record else batch                           # rows of the saved activations
    h_prev = xp.empty((n_rows, p), dt) if record else None
    c_prev = xp.empty((n_rows, hid), dt) if record else None
    tanh_c = xp.empty((hist, hid), dt)
    h_full = None if w_hr is None else xp.empty((hist, hid), dt)
    out = xp.empty((n_rows, p), dt)
    hh = xp.empty((4 * batch, hid), dt)
    with np.errstate(over='ignore'):          # a saturated gate's exp
        for s, n in steps:
            e = s + n
            r = slice(s, e) if record else slice(0, n)
            hn, cn, a, t = h[:n], c[:n], _block(gates, s, n, 4), _scratch(hh, 4, n)
            if record:
                h_prev[s:e] = hn
                c_prev[s:e] = cn
            xp.matmul(hn, w_hh3, out=t)
            a += t                                               # scaled pre-activations
            _sigmoid_scaled_(a)                                  # i, f, o and sigmoid(2 z_g)
            i, f, g, o = a
            g *= 2.0
            g -= 1.0                                             # g = tanh(z_g)
            cn *= f                                              # c' = f c + i g
            ig = t[0]
            np.multiply(i, g, out=ig)
            cn += ig
            tc = tanh_c[r]
            np.tanh(cn, out=tc)
            if w_hr is None:
                np.multiply(o, tc, out=out[s:e])
            else:
                hf = h_full[r]
                np.multiply(o, tc, out=hf)
                xp.dot(hf, w_hr_t, out=out[s:e])
            hn[...] = out[s:e]
    return out, (h, c), (gates, c_prev, tanh_c, h_prev, h_full)


def _lstm_backward(saved, x, steps, need, d_out, d_finals, w_ih, w_hh, w_hr):
    """Gradients of LSTMLayer over one run:
    (dx, (dw_ih, dw_hh, db_ih, db_hh, dw_hr), (dh0, dc0))."""
    gates, c_prev, tanh_c, h_prev, h_full = saved
    xp = xp_of(gates)
    n_rows, p = h_prev.shape
    hid = c_prev.shape[1]
    batch = _widest(steps)
    dt = gates.dtype
    dh = _state_grad(d_finals[0], (batch, p), gates)
    dc = _state_grad(d_finals[1], (batch, hid), gates)
    d_out = _output_grad(d_out, n_rows, p)
    dg = xp.empty((n_rows, 4 * hid), dt)                         # row-major gate gradients
    proj = w_hr is not None
    if proj:
        dh_out = xp.empty((n_rows, p), dt)                       # gradients of the outputs
        dh_full = xp.empty((batch, hid), dt)
    d_buf = xp.empty((4 * batch, hid), dt)                       # one step's gate gradients
    v_buf = xp.empty((batch, hid), dt)
    for s, n in reversed(steps):
        e = s + n
        dhn, dcn, v = dh[:n], dc[:n], v_buf[:n]
        a, d = _block(gates, s, n, 4), _scratch(d_buf, 4, n)
        i, f, g, o = a
        if d_out is not None:
            dhn += d_out[s:e]
        if proj:
            dh_out[s:e] = dhn
            dhf = dh_full[:n]
            xp.dot(dhn, w_hr, out=dhf)
        else:
            dhf = dhn
        tc = tanh_c[s:e]
        _dtanh(tc, v)                                        # dc += dh o (1 - tanh(c)^2)
        v *= o
        v *= dhf
        dcn += v
        _dsigmoid(a, d)                                      # s (1 - s) of every gate
        d[3] *= tc                                           # d o = dh tanh(c) o (1 - o)
        d[3] *= dhf
        d[0] *= g                                            # d i = dc g i (1 - i)
        d[1] *= c_prev[s:e]                                  # d f = dc c_prev f (1 - f)
        _dtanh(g, d[2])                                      # d g = dc i (1 - g^2)
        d[2] *= i
        d[:3] *= dcn
        dcn *= f                                             # dc_prev = dc f
        dg[s:e].reshape(n, 4, hid)[...] = d.transpose(1, 0, 2)
        xp.dot(dg[s:e], w_hh, out=dhn)                       # dh_prev = dgates W_hh
    grads = _sequence_grads(need, x, w_ih, h_prev, dg)
    dw_hr = dh_out.T.dot(h_full) if proj and need[7] else None
    return grads[0], grads[1:] + (dw_hr,), (dh if need[5] else None, dc if need[6] else None)


class LSTMLayer(_Layer):
    """One LSTM layer in one direction over a whole sequence (gate order i, f, g, o).

    x: (T, B, I) or packed rows (N, I); w_ih: (4H, I); w_hh: (4H, P); b_ih, b_hh: (4H,) or
    None; h0: (B, P); c0: (B, H); w_hr: (P, H) or None (then P = H); steps as RNNLayer.
        i, f, o = sigmoid(.), g = tanh(.) of x W_ih^T + b_ih + h W_hh^T + b_hh
        c' = f c + i g,   h' = o tanh(c')  (times W_hr^T with a projection)
    Returns output (x's leading dims, P), h_n (B, P), c_n (B, H).
    """

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, h0, c0, w_hr, steps):
        hid = c0.shape[1]
        scale = _lstm_scale(w_ih)
        bias = None if b_ih is None else (b_ih + b_hh).reshape(4, hid) * scale[:, None]
        args = (_gate_major(w_ih, scale), _gate_major(w_hh, scale), bias, w_hr)
        return _run_forward(ctx, _lstm_forward, x, (h0, c0), steps, args,
                            (x, w_ih, w_hh, w_hr))

    @staticmethod
    def backward(ctx, d_out, d_hn, d_cn):
        _, w_ih, w_hh, w_hr = ctx.saved[:4]
        g = _run_backward(ctx, _lstm_backward, d_out, (d_hn, d_cn), (w_ih, w_hh, w_hr))
        dx, dw_ih, dw_hh, db_ih, db_hh, dw_hr, dh0, dc0 = g
        return dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0, dw_hr


# ---- GRU -------------------------------------------------------------------------------------
def _gru_scale(like):
    """Factors of the GRU's gates r, z, n: -1 for the sigmoid gates r and z."""
    return xp_of(like).asarray([-1.0, -1.0, 1.0], like.dtype)


def _gru_forward(x, states, steps, w_ih3, w_hh3, bias, b_hn, record):
    """The time loop of GRULayer over x's rows, weights stacked by gate and scaled:
    (out (N, H), (h_n,), saved (gates, hn_all, h_prev))."""
    xp = xp_of(x)
    h0, = states
    batch, hid = h0.shape
    gates = _project(x, w_ih3, bias, steps)                      # (3N, H) step blocks
    n_rows, dt = gates.shape[0] // 3, gates.dtype
    b_hn = None if b_hn is None else xp.repeat(b_hn[None], batch, axis=0)   # (B, H)
    h = _state(h0)
    h_prev = xp.empty((n_rows, hid), dt) if record else None
    hn_all = xp.empty((n_rows, hid), dt) if record else None    # h W_hn^T + b_hn
    out = xp.empty((n_rows, hid), dt)
    hh = xp.empty((3 * batch, hid), dt)
    with np.errstate(over='ignore'):          # a saturated gate's exp
        for s, n in steps:
            e = s + n
            hn, a, t = h[:n], _block(gates, s, n, 3), _scratch(hh, 3, n)
            if record:
                h_prev[s:e] = hn
            xp.matmul(hn, w_hh3, out=t)
            rz = a[:2]
            rz += t[:2]
            _sigmoid_scaled_(rz)
            r, z, cand = a
            hw = hn_all[s:e] if record else t[2]
            if b_hn is not None:
                np.add(t[2], b_hn[:n], out=hw)
            elif record:
                hw[...] = t[2]
            tmp = t[0]                                           # n = tanh(. + r (h W_hn + b_hn))
            np.multiply(r, hw, out=tmp)
            cand += tmp
            np.tanh(cand, out=cand)
            np.subtract(hn, cand, out=tmp)                       # h' = n + z (h - n)
            tmp *= z
            np.add(cand, tmp, out=out[s:e])
            hn[...] = out[s:e]
    return out, (h,), (gates, hn_all, h_prev)


def _gru_backward(saved, x, steps, need, d_out, d_finals, w_ih, w_hh):
    """Gradients of GRULayer over one run: (dx, (dw_ih, dw_hh, db_ih, db_hh), (dh0,))."""
    gates, hn_all, h_prev = saved
    xp = xp_of(gates)
    n_rows, hid = h_prev.shape
    batch = _widest(steps)
    dt = gates.dtype
    dh = _state_grad(d_finals[0], (batch, hid), gates)
    d_out = _output_grad(d_out, n_rows, hid)
    dd = xp.empty((n_rows, 3 * hid), dt)                         # hidden side: dr, dz, dn r
    dn_in = xp.empty((n_rows, hid), dt)                          # input side of n: dn
    d_buf = xp.empty((3 * batch, hid), dt)                       # one step's dr, dz, dn r
    v_buf = xp.empty((batch, hid), dt)
    back = xp.empty((batch, hid), dt)
    for s, n in reversed(steps):
        e = s + n
        dhn, dn, v = dh[:n], dn_in[s:e], v_buf[:n]
        a, d = _block(gates, s, n, 3), _scratch(d_buf, 3, n)
        r, z, cand = a
        if d_out is not None:
            dhn += d_out[s:e]
        np.subtract(1.0, z, out=dn)                          # dn = dh (1 - z) (1 - n^2)
        dn *= _dtanh(cand, v)
        dn *= dhn
        _dsigmoid(a[:2], d[:2])
        np.subtract(h_prev[s:e], cand, out=v)                # dz = dh (h - n) z (1 - z)
        v *= dhn
        d[1] *= v
        np.multiply(dn, hn_all[s:e], out=v)                  # dr = dn (h W_hn + b_hn) r (1 - r)
        d[0] *= v
        np.multiply(dn, r, out=d[2])
        dhn *= z                                             # dh_prev = dh z + dd W_hh
        dd[s:e].reshape(n, 3, hid)[...] = d.transpose(1, 0, 2)
        b = back[:n]
        xp.dot(dd[s:e], w_hh, out=b)
        dhn += b
    grads = _gru_grads(need, x, w_ih, h_prev, dd, dn_in)
    return grads[0], grads[1:], (dh if need[5] else None,)


def _gru_grads(need, x, w_ih, h_prev, dd, dn_in):
    """Gradients of GRULayer's args 0-4 from the hidden-side gate gradients dd (N, 3H) (dr, dz,
    dn r) and the input side of n, dn_in (N, H) (the input side of r and z is dd's)."""
    xp = xp_of(dd)
    h2 = dn_in.shape[1] * 2
    rows = _rows(x)
    dx = dw_ih = db_ih = None
    if need[0]:
        dx = dd[:, :h2].dot(w_ih[:h2])
        dx += dn_in.dot(w_ih[h2:])
        dx = dx.reshape(x.shape)
    if need[1]:
        dw_ih = xp.empty(w_ih.shape, w_ih.dtype)
        xp.dot(dd[:, :h2].T, rows, out=dw_ih[:h2])
        xp.dot(dn_in.T, rows, out=dw_ih[h2:])
    dw_hh = dd.T.dot(h_prev) if need[2] else None
    db_hh = _sum(dd, (0,)) if need[3] or need[4] else None
    if need[3]:
        db_ih = xp.concatenate([db_hh[:h2], _sum(dn_in, (0,))])
    return dx, dw_ih, dw_hh, db_ih, db_hh if need[4] else None


class GRULayer(_Layer):
    """One GRU layer in one direction over a whole sequence (gate order r, z, n).

    x: (T, B, I) or packed rows (N, I); w_ih: (3H, I); w_hh: (3H, H); b_ih, b_hh: (3H,) or
    None; h0: (B, H); steps as RNNLayer.
        r, z = sigmoid(x W_i{r,z}^T + b_i{r,z} + h W_h{r,z}^T + b_h{r,z})
        n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)),   h' = (1 - z) n + z h
    Returns output (x's leading dims, H), h_n (B, H).
    """

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, h0, steps):
        hid = h0.shape[1]
        scale = _gru_scale(w_ih)
        bias = b_hn = None
        if b_ih is not None:
            bias = b_ih.reshape(3, hid).copy()
            bias[:2] += b_hh[:2 * hid].reshape(2, hid)
            bias *= scale[:, None]
            b_hn = b_hh[2 * hid:]
        args = (_gate_major(w_ih, scale), _gate_major(w_hh, scale), bias, b_hn)
        return _run_forward(ctx, _gru_forward, x, (h0,), steps, args, (x, w_ih, w_hh))

    @staticmethod
    def backward(ctx, d_out, d_hn):
        _, w_ih, w_hh = ctx.saved[:3]
        return _run_backward(ctx, _gru_backward, d_out, (d_hn,), (w_ih, w_hh))


# ---- stacking layers and directions ----------------------------------------------------------
def _padded_steps(n_steps, batch):
    """((first_row, rows), ...) of a padded (T, B, *) sequence: B rows at every step."""
    return tuple([(t * batch, batch) for t in range(n_steps)])


def _packed_steps(batch_sizes):
    """((first_row, rows), ...) of a PackedSequence's time steps."""
    steps, s = [], 0
    for n in batch_sizes:
        steps.append((s, n))
        s += n
    return tuple(steps)


def _rnn_layer(relu):
    def run(x, states, w, has_biases, steps):
        b_ih, b_hh = (w[2], w[3]) if has_biases else (None, None)
        return RNNLayer.apply(x, w[0], w[1], b_ih, b_hh, states[0], steps, relu)
    return run


def _gru_layer(x, states, w, has_biases, steps):
    b_ih, b_hh = (w[2], w[3]) if has_biases else (None, None)
    return GRULayer.apply(x, w[0], w[1], b_ih, b_hh, states[0], steps)


def _lstm_layer(x, states, w, has_biases, steps):
    b_ih, b_hh = (w[2], w[3]) if has_biases else (None, None)
    n_plain = 4 if has_biases else 2
    w_hr = w[n_plain] if len(w) > n_plain else None
    return LSTMLayer.apply(x, w[0], w[1], b_ih, b_hh, states[0], states[1], w_hr, steps)


def _stacked(run_layer, x, states, params, has_biases, num_layers, dropout, train, bidirectional,
             steps):
    """Run ``num_layers`` layers (each in one or two directions) over x (time-major (T, B, I)
    or packed rows (N, I)); states: the initial states, each (L * D, B, *).

    Returns (output, *final states stacked as (L * D, B, *)). Dropout (training only) applies
    to every layer's output but the last.
    """
    params = list(params)
    dirs = 2 if bidirectional else 1
    per = len(params) // (num_layers * dirs)
    schedules = (steps, steps[::-1])
    finals = [[] for _ in states]
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            k = layer * dirs + d
            res = run_layer(x, [s[k] for s in states], params[k * per:(k + 1) * per], has_biases,
                        schedules[d])
            outs.append(res[0])
            for f, r in zip(finals, res[1:]):
                f.append(r)
        x = outs[0] if dirs == 1 else cat(outs, -1)
        if dropout and train and layer < num_layers - 1:
            x = _dropout(x, dropout, True)
    return (x,) + tuple([stack(f, 0) if len(f) > 1 else f[0].unsqueeze(0) for f in finals])


def _sequence_call(name, layer, args, n_states):
    """Both of PyTorch's overloads:
    (input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
    and (data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional).
    """
    if len(args) != 9:
        raise TypeError(f'{name}() takes 9 positional arguments but {len(args)} were given')
    if isinstance(args[3], (list, tuple)):
        data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidir = args
        steps = _packed_steps([int(n) for n in _host(batch_sizes).tolist()])
        x, batch_first = data, False
    else:
        x, hx, params, has_biases, num_layers, dropout, train, bidir, batch_first = args
        if batch_first:
            x = x.transpose(0, 1)
        if x.shape[0] == 0:
            raise RuntimeError('Expected sequence length to be larger than 0 in RNN')
        steps = _padded_steps(x.shape[0], x.shape[1])
    states = tuple(hx) if n_states == 2 else (hx,)
    res = _stacked(layer, x, states, params, has_biases, num_layers, float(dropout), train,
                   bidir, steps)
    if batch_first:
        res = (res[0].transpose(0, 1),) + res[1:]
    return res


def _host(t):
    """A CPU NumPy array of an integer tensor (batch sizes live on the CPU)."""
    a = t._data if isinstance(t, Tensor) else np.asarray(t)
    return a if isinstance(a, np.ndarray) else a.get()


def rnn_tanh(*args):
    """Elman RNN with tanh over a sequence: (output, h_n). Overloads as PyTorch's:
    rnn_tanh(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
    batch_first) and rnn_tanh(data, batch_sizes, hx, params, has_biases, num_layers, dropout,
    train, bidirectional). params: per layer and direction w_ih, w_hh[, b_ih, b_hh]."""
    return _sequence_call('rnn_tanh', _rnn_layer(False), args, 1)


def rnn_relu(*args):
    """Elman RNN with relu; arguments as ``rnn_tanh``."""
    return _sequence_call('rnn_relu', _rnn_layer(True), args, 1)


def lstm(*args):
    """LSTM over a sequence: (output, h_n, c_n); hx = (h0, c0); params per layer and direction
    w_ih, w_hh[, b_ih, b_hh][, w_hr]; overloads as ``rnn_tanh``."""
    return _sequence_call('lstm', _lstm_layer, args, 2)


def gru(*args):
    """GRU over a sequence: (output, h_n); arguments as ``rnn_tanh``."""
    return _sequence_call('gru', _gru_layer, args, 1)


# ---- cells -----------------------------------------------------------------------------------
def _check_cell(input, hx, w_ih, w_hh):
    """PyTorch's checks of a cell's input (B, I) and states (B, H) against its weights."""
    x = input._data
    if x.shape[-1] != w_ih.shape[1]:
        raise RuntimeError(f'input has inconsistent input_size: got {x.shape[-1]} expected '
                           f'{w_ih.shape[1]}')
    hid = w_hh.shape[1]
    for i, h in enumerate(hx):
        hs = h.shape
        if x.shape[0] != hs[0]:
            raise RuntimeError(f"Input batch size {x.shape[0]} doesn't match hidden{i} batch "
                               f'size {hs[0]}')
        if len(hs) != 2 or hs[1] != hid:
            got = hs[1] if len(hs) > 1 else hs
            raise RuntimeError(f'hidden{i} has inconsistent hidden_size: got {got}, expected '
                               f'{hid}')
    for t in (input,) + tuple(hx):
        if t.dtype != w_ih.dtype:
            raise RuntimeError(f'mat1 and mat2 must have the same dtype, but got '
                               f'{_sname(t._data.dtype)} and {_sname(w_ih._data.dtype)}')


def _one_step(input):
    return ((0, input.shape[0]),)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman RNN step: tanh(input W_ih^T + b_ih + hx W_hh^T + b_hh); input (B, I), hx (B, H)."""
    _check_cell(input, (hx,), w_ih, w_hh)
    return RNNLayer.apply(input, w_ih, w_hh, b_ih, b_hh, hx, _one_step(input), False)[0]


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman RNN step with relu."""
    _check_cell(input, (hx,), w_ih, w_hh)
    return RNNLayer.apply(input, w_ih, w_hh, b_ih, b_hh, hx, _one_step(input), True)[0]


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: input (B, I), hx = (h (B, H), c (B, H)) -> (h', c')."""
    _check_cell(input, tuple(hx), w_ih, w_hh)
    _, h, c = LSTMLayer.apply(input, w_ih, w_hh, b_ih, b_hh, hx[0], hx[1], None,
                              _one_step(input))
    return h, c


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step: input (B, I), hx (B, H) -> h'."""
    _check_cell(input, (hx,), w_ih, w_hh)
    return GRULayer.apply(input, w_ih, w_hh, b_ih, b_hh, hx, _one_step(input))[0]


# ---- packing and padding (ember.nn.utils.rnn) ------------------------------------------------
def packed_index(lengths, total_length, batch_first):
    """Where the entries of a PackedSequence sit in its padded form, from the sorted
    (non-increasing) ``lengths`` (NumPy ints, B of them): (flat_index, batch_sizes), with
    flat_index[j] the row of packed entry j in the padded tensor seen as (T * B, *) (time-major)
    or (B * T, *) (batch-first), T = total_length."""
    batch = lengths.shape[0]
    valid = np.arange(total_length)[:, None] < lengths[None, :]      # (T, B), time order
    t, b = np.nonzero(valid)
    flat = b * total_length + t if batch_first else t * batch + b
    return flat, valid[:lengths[0] if batch else 0].sum(1)


class PackPaddedSequence(Op):
    """Packed data (N, *) from padded x (T, B, *) or (B, T, *): data[j] = rows(x)[index[j]]."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        return x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:])[index]

    @staticmethod
    def backward(ctx, g):
        shape = ctx.shape
        gx = xp_of(g).zeros((shape[0] * shape[1],) + shape[2:], g.dtype)
        gx[ctx.index] = g
        return gx.reshape(shape)


class PadPackedSequence(Op):
    """Padded (T, B, *) or (B, T, *) (``shape``) from packed data (N, *): rows(out)[index[j]]
    = data[j], every other entry ``padding_value``."""

    @staticmethod
    def forward(ctx, data, index, shape, padding_value):
        ctx.index = index
        out = xp_of(data).full((shape[0] * shape[1],) + data.shape[1:], padding_value,
                               data.dtype)
        out[index] = data
        return out.reshape(tuple(shape) + data.shape[1:])

    @staticmethod
    def backward(ctx, g):
        return g.reshape((-1,) + g.shape[2:])[ctx.index]


class PadSequence(Op):
    """(T, B, *) or (B, T, *) from B sequences (L_b, *), T = max L_b: sequence b on the right
    of its padding (``left``) or on the left, other entries ``padding_value``."""

    @staticmethod
    def forward(ctx, batch_first, padding_value, left, *seqs):
        first = seqs[0]
        total = max([s.shape[0] for s in seqs])
        shape = (len(seqs), total) if batch_first else (total, len(seqs))
        out = xp_of(first).full(shape + first.shape[1:], padding_value, first.dtype)
        slots = []
        for b, s in enumerate(seqs):
            span = slice(total - s.shape[0], total) if left else slice(0, s.shape[0])
            slot = (b, span) if batch_first else (span, b)
            out[slot] = s
            slots.append(slot)
        ctx.slots = slots
        return out

    @staticmethod
    def backward(ctx, g):
        return (None, None, None) + tuple([g[slot] for slot in ctx.slots])
