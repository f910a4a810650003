"""Recurrent layers over whole sequences: ONE Op per layer and direction (``RNNLayer``,
``LSTMLayer``, ``GRULayer``) with a hand-written backward through time, and PyTorch's entry
points ``torch.rnn_tanh``, ``torch.rnn_relu``, ``torch.lstm``, ``torch.gru`` (layers and
directions stacked) and ``torch.rnn_tanh_cell``, ``rnn_relu_cell``, ``lstm_cell``,
``gru_cell`` (one step: one Op).

Layout. A layer Op sees its sequence as rows of a 2-D array x (N, I): time-major padded
input (T, B, I) flattened, or the data of a PackedSequence. ``steps`` lists, in processing
order (reversed for the reverse direction), one ``(first_row, rows)`` pair per time step.
Packed batches are sorted by length, so step t holds the first ``rows`` sequences; the
recurrent state is a (B, H) array whose first ``rows`` rows advance at each step while the
others keep their value: a finished sequence keeps its last state (its h_n) and one not
started yet (reverse direction) keeps h0. Padded input is the case of B rows at every step.

Forward. The input projection of all steps is one GEMM, x W_ih^T + b_ih (+ b_hh), written
into the gate array (N, G); each step adds one GEMM h W_hh^T (W_hh^T made contiguous once,
outside the loop) and applies the gate nonlinearities in place with ``out=`` ufuncs. When a
graph is recorded the activations (gates, previous states, tanh(c)) are kept in
preallocated (N, ...) arrays; otherwise scratch arrays of B rows are reused at every step.

Backward. Steps run in reverse processing order with one GEMM per step (dgates W_hh: the
gradient reaching the previous state); the gate gradients of all steps fill an (N, G) array,
so dW_ih = dG^T x, dW_hh = dG^T h_prev, the input gradient dG W_ih and the bias gradients
(column sums) are each one GEMM or sum after the loop.

Every layer Op takes (x, w_ih, w_hh, b_ih, b_hh, h0, ...) in this order; biases may be None.
"""
import numpy as np

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
def _sigmoid_(a):
    """a := 1 / (1 + exp(-a)) in place (``a`` may be a strided view)."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1.0
    np.reciprocal(a, out=a)


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


def _project(x, w_ih, bias):
    """The input side of every step's gates in one GEMM: rows(x) @ w_ih^T + bias -> (N, G)."""
    g = _rows(x).dot(w_ih.T)
    if bias is not None:
        g += bias
    return g


def _bias_sum(b_ih, b_hh):
    return None if b_ih is None else b_ih + b_hh


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


def _sequence_grads(need, x, w_ih, h_prev, dg_in, dg_hid):
    """Gradients of forward args 0-4 (x, w_ih, w_hh, b_ih, b_hh) from the gate gradients of
    every step: dg_in (N, G) of the input-side pre-activations and dg_hid (N, G) of the
    hidden side (the same array except for GRU's n gate); h_prev (N, H) the states they
    multiplied."""
    dx = dg_in.dot(w_ih).reshape(x.shape) if need[0] else None
    dw_ih = dg_in.T.dot(_rows(x)) if need[1] else None
    dw_hh = dg_hid.T.dot(h_prev) if need[2] else None
    db_ih = _sum(dg_in, (0,)) if need[3] else None
    db_hh = None
    if need[4]:
        db_hh = db_ih.copy() if db_ih is not None and dg_hid is dg_in else _sum(dg_hid, (0,))
    return dx, dw_ih, dw_hh, db_ih, db_hh


class _Layer(Op):
    """Base of the layer Ops: the gradient of an unused output arrives as None, not zeros."""
    _materialize = False


# ---- Elman RNN -------------------------------------------------------------------------------
class RNNLayer(_Layer):
    """One Elman RNN layer in one direction over a whole sequence.

    x: (T, B, I) or packed rows (N, I); w_ih: (H, I); w_hh: (H, H); b_ih, b_hh: (H,) or None;
    h0: (B, H); steps: ((first_row, rows), ...); relu: False for tanh.
    h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh). Returns output (x's leading dims, H), h_n (B, H).
    """

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, h0, steps, relu):
        xp = xp_of(x)
        record = any(ctx.needs_input_grad)
        batch, hid = h0.shape
        y = _project(x, w_ih, _bias_sum(b_ih, b_hh))            # (N, H), activated in place
        w_hh_t = xp.ascontiguousarray(w_hh.T)
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
        out = y.reshape(x.shape[:-1] + (hid,))
        if record:
            ctx.save_for_backward(x, w_ih, w_hh, out, h_prev)
            ctx.steps, ctx.relu = steps, relu
        return out, h

    @staticmethod
    def backward(ctx, d_out, d_hn):
        x, w_ih, w_hh, out, h_prev = ctx.saved
        need = ctx.needs_input_grad
        xp = xp_of(h_prev)
        n_rows, hid = h_prev.shape
        y = out.reshape(n_rows, hid)
        dh = _state_grad(d_hn, (_batch(ctx.steps), hid), y)
        d_out = _output_grad(d_out, n_rows, hid)
        da = xp.empty_like(y)
        w_hh_c = xp.ascontiguousarray(w_hh)
        for s, n in reversed(ctx.steps):
            e = s + n
            dhn = dh[:n]
            if d_out is not None:
                dhn += d_out[s:e]
            d = da[s:e]
            if ctx.relu:
                np.multiply(dhn, y[s:e] > 0, out=d)
            else:
                _dtanh(y[s:e], d)
                d *= dhn
            xp.dot(d, w_hh_c, out=dhn)
        return _sequence_grads(need, x, w_ih, h_prev, da, da) + (dh if need[5] else None,)


# ---- LSTM ------------------------------------------------------------------------------------
def _lstm_scale(hid, like):
    """Factors of the LSTM's gate rows: -1 for i, f, o and -2 for g. With pre-activations
    scaled so, every gate comes from ONE contiguous pass of 1 / (1 + exp(a)): sigmoid(z) for
    i, f, o, and sigmoid(2 z) for g, whence g = tanh(z) = 2 sigmoid(2 z) - 1. Powers of two
    scale exactly."""
    scale = xp_of(like).full(4 * hid, -1.0, like.dtype)
    scale[2 * hid:3 * hid] = -2.0
    return scale


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
        xp = xp_of(x)
        record = any(ctx.needs_input_grad)
        batch, p = h0.shape
        hid = c0.shape[1]
        h2, h3 = 2 * hid, 3 * hid
        scale = _lstm_scale(hid, w_ih)
        bias = _bias_sum(b_ih, b_hh)
        gates = _project(x, w_ih * scale[:, None], None if bias is None else bias * scale)
        n_rows, dt = gates.shape[0], gates.dtype                 # (N, 4H), activated in place
        w_hh_t = np.multiply(w_hh.T, scale, out=xp.empty((p, 4 * hid), dt))
        w_hr_t = None if w_hr is None else xp.ascontiguousarray(w_hr.T)
        h, c = _state(h0), _state(c0)
        hist = n_rows if record else batch                       # rows of the saved activations
        h_prev = xp.empty((n_rows, p), dt) if record else None
        c_prev = xp.empty((n_rows, hid), dt) if record else None
        tanh_c = xp.empty((hist, hid), dt)
        h_full = None if w_hr is None else xp.empty((hist, hid), dt)
        out = xp.empty((n_rows, p), dt)
        hh = xp.empty((batch, 4 * hid), dt)
        for s, n in steps:
            e = s + n
            r = slice(s, e) if record else slice(0, n)
            hn, cn, g = h[:n], c[:n], gates[s:e]
            if record:
                h_prev[s:e] = hn
                c_prev[s:e] = cn
            t = hh[:n]
            xp.dot(hn, w_hh_t, out=t)
            g += t                                               # scaled pre-activations
            np.exp(g, out=g)
            g += 1.0
            np.divide(1.0, g, out=g)                             # i, f, o and sigmoid(2 z_g)
            gg = g[:, h2:h3]
            gg *= 2.0
            gg -= 1.0                                            # g = tanh(z_g)
            cn *= g[:, hid:h2]                                   # c' = f c + i g
            ig = t[:, :hid]
            np.multiply(g[:, :hid], g[:, h2:h3], out=ig)
            cn += ig
            tc = tanh_c[r]
            np.tanh(cn, out=tc)
            if w_hr is None:
                np.multiply(g[:, h3:], tc, out=out[s:e])
            else:
                hf = h_full[r]
                np.multiply(g[:, h3:], tc, out=hf)
                xp.dot(hf, w_hr_t, out=out[s:e])
            hn[...] = out[s:e]
        if record:
            ctx.save_for_backward(x, w_ih, w_hh, w_hr, gates, c_prev, tanh_c, h_prev, h_full)
            ctx.steps = steps
        return out.reshape(x.shape[:-1] + (p,)), h, c

    @staticmethod
    def backward(ctx, d_out, d_hn, d_cn):
        x, w_ih, w_hh, w_hr, gates, c_prev, tanh_c, h_prev, h_full = ctx.saved
        need = ctx.needs_input_grad
        xp = xp_of(gates)
        n_rows, p = h_prev.shape
        hid = c_prev.shape[1]
        h2, h3 = 2 * hid, 3 * hid
        batch = _batch(ctx.steps)
        dh = _state_grad(d_hn, (batch, p), gates)
        dc = _state_grad(d_cn, (batch, hid), gates)
        d_out = _output_grad(d_out, n_rows, p)
        dg = xp.empty_like(gates)
        w_hh_c = xp.ascontiguousarray(w_hh)
        proj = w_hr is not None
        if proj:
            w_hr_c = xp.ascontiguousarray(w_hr)
            dh_out = xp.empty((n_rows, p), gates.dtype)          # gradients of the outputs
            dh_full = xp.empty((batch, hid), gates.dtype)
        u = xp.empty((batch, h2), gates.dtype)                   # scratch
        for s, n in reversed(ctx.steps):
            e = s + n
            dhn, dcn, g, d = dh[:n], dc[:n], gates[s:e], dg[s:e]
            if d_out is not None:
                dhn += d_out[s:e]
            if proj:
                dh_out[s:e] = dhn
                dhf = dh_full[:n]
                xp.dot(dhn, w_hr_c, out=dhf)
            else:
                dhf = dhn
            tc, v = tanh_c[s:e], u[:n, :hid]
            np.multiply(_dtanh(tc, v), g[:, h3:], out=v)         # dc += dh o (1 - tanh(c)^2)
            v *= dhf
            dcn += v
            do = d[:, h3:]                                       # d o-gate = dh tanh(c) o (1 - o)
            np.multiply(dhf, tc, out=do)
            do *= _dsigmoid(g[:, h3:], v)
            np.multiply(dcn, g[:, h2:h3], out=d[:, :hid])        # d i-gate = dc g i (1 - i)
            np.multiply(dcn, c_prev[s:e], out=d[:, hid:h2])      # d f-gate = dc c_prev f (1 - f)
            d[:, :h2] *= _dsigmoid(g[:, :h2], u[:n])
            dgg = d[:, h2:h3]                                    # d g-gate = dc i (1 - g^2)
            _dtanh(g[:, h2:h3], dgg)
            dgg *= g[:, :hid]
            dgg *= dcn
            dcn *= g[:, hid:h2]                                  # dc_prev = dc f
            xp.dot(d, w_hh_c, out=dhn)                           # dh_prev = dgates W_hh
        grads = _sequence_grads(need, x, w_ih, h_prev, dg, dg)
        dw_hr = dh_out.T.dot(h_full) if proj and need[7] else None
        return grads + (dh if need[5] else None, dc if need[6] else None, dw_hr)


# ---- GRU -------------------------------------------------------------------------------------
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
        xp = xp_of(x)
        record = any(ctx.needs_input_grad)
        batch, hid = h0.shape
        h2 = 2 * hid
        bias = None
        if b_ih is not None:
            bias = b_ih.copy()
            bias[:h2] += b_hh[:h2]
        gates = _project(x, w_ih, bias)                          # (N, 3H), activated in place
        n_rows, dt = gates.shape[0], gates.dtype
        b_hn = None if b_hh is None else b_hh[h2:]
        w_hh_t = xp.ascontiguousarray(w_hh.T)                   # (H, 3H)
        h = _state(h0)
        hist = n_rows if record else batch
        h_prev = xp.empty((n_rows, hid), dt) if record else None
        hn_all = xp.empty((hist, hid), dt)                       # h W_hn^T + b_hn
        out = xp.empty((n_rows, hid), dt)
        hh = xp.empty((batch, 3 * hid), dt)
        for s, n in steps:
            e = s + n
            hn, g, t = h[:n], gates[s:e], hh[:n]
            if record:
                h_prev[s:e] = hn
            xp.dot(hn, w_hh_t, out=t)
            rz = g[:, :h2]
            rz += t[:, :h2]
            _sigmoid_(rz)
            hw = hn_all[s:e] if record else hn_all[:n]
            if b_hn is None:
                hw[...] = t[:, h2:]
            else:
                np.add(t[:, h2:], b_hn, out=hw)
            cand = g[:, h2:]                                     # n = tanh(. + r (h W_hn + b_hn))
            rh = t[:, :hid]
            np.multiply(g[:, :hid], hw, out=rh)
            cand += rh
            np.tanh(cand, out=cand)
            np.subtract(hn, cand, out=rh)                        # h' = n + z (h - n)
            rh *= g[:, hid:h2]
            np.add(cand, rh, out=out[s:e])
            hn[...] = out[s:e]
        if record:
            ctx.save_for_backward(x, w_ih, w_hh, gates, hn_all, h_prev)
            ctx.steps = steps
        return out.reshape(x.shape[:-1] + (hid,)), h

    @staticmethod
    def backward(ctx, d_out, d_hn):
        x, w_ih, w_hh, gates, hn_all, h_prev = ctx.saved
        need = ctx.needs_input_grad
        xp = xp_of(gates)
        n_rows, hid = h_prev.shape
        h2 = 2 * hid
        batch = _batch(ctx.steps)
        dh = _state_grad(d_hn, (batch, hid), gates)
        d_out = _output_grad(d_out, n_rows, hid)
        dg_in = xp.empty_like(gates)                             # input-side pre-activations
        dg_hid = xp.empty_like(gates)                            # hidden-side (n: times r)
        w_hh_c = xp.ascontiguousarray(w_hh)
        u = xp.empty((batch, hid), gates.dtype)
        back = xp.empty((batch, hid), gates.dtype)
        for s, n in reversed(ctx.steps):
            e = s + n
            dhn, g, di, dd = dh[:n], gates[s:e], dg_in[s:e], dg_hid[s:e]
            if d_out is not None:
                dhn += d_out[s:e]
            r, z, cand, v = g[:, :hid], g[:, hid:h2], g[:, h2:], u[:n]
            dn = di[:, h2:]                                      # dh (1 - z) (1 - n^2)
            np.subtract(1.0, z, out=dn)
            dn *= _dtanh(cand, v)
            dn *= dhn
            dz = di[:, hid:h2]                                   # dh (h - n) z (1 - z)
            np.subtract(h_prev[s:e], cand, out=dz)
            dz *= dhn
            dz *= _dsigmoid(z, v)
            dr = di[:, :hid]                                     # dn (h W_hn + b_hn) r (1 - r)
            np.multiply(dn, hn_all[s:e], out=dr)
            dr *= _dsigmoid(r, v)
            dd[:, :h2] = di[:, :h2]
            np.multiply(dn, r, out=dd[:, h2:])
            dhn *= z                                             # dh_prev = dh z + dd W_hh
            b = back[:n]
            xp.dot(dd, w_hh_c, out=b)
            dhn += b
        return _sequence_grads(need, x, w_ih, h_prev, dg_in, dg_hid) + (dh if need[5] else None,)


def _batch(steps):
    """The batch size B: the most rows of any step."""
    return max([n for _, n in steps], default=0)


# ---- stacking layers and directions ----------------------------------------------------------
def _padded_steps(n_steps, batch):
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
    return (x,) + tuple([stack(f, 0) for f in finals])


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
