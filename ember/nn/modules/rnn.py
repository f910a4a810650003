"""Recurrent layers, as torch.nn: RNN (tanh/relu), LSTM (with optional projection), GRU and
their one-step cells RNNCell, LSTMCell, GRUCell.

Parameters carry PyTorch's names and layouts so checkpoints load unchanged: per layer k and
direction, ``weight_ih_l{k}`` (G*H, input), ``weight_hh_l{k}`` (G*H, H_out), ``bias_ih_l{k}``,
``bias_hh_l{k}`` (G*H,), ``weight_hr_l{k}`` (proj_size, H) for a projected LSTM, the reverse
direction with the suffix ``_reverse``; gates stacked in the order i, f, g, o (LSTM) and
r, z, n (GRU). All are initialised from U(-1/sqrt(H), 1/sqrt(H)).

The modules check their arguments (``ember.nn.functional.rnn``) and call ``ember.ops.rnn``,
which runs ONE fused Op per layer and direction over the whole sequence.
"""
import math
import numbers
import warnings

from ..._creation import empty, zeros
from ...ops import rnn as _ops
from .. import init
from ..functional import rnn as _checks
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ['RNNBase', 'RNN', 'LSTM', 'GRU', 'RNNCellBase', 'RNNCell', 'LSTMCell', 'GRUCell']

_GATES = {'LSTM': 4, 'GRU': 3, 'RNN_TANH': 1, 'RNN_RELU': 1}
_RUN = {'LSTM': _ops.lstm, 'GRU': _ops.gru, 'RNN_TANH': _ops.rnn_tanh,
        'RNN_RELU': _ops.rnn_relu}


class RNNBase(Module):
    """Parameters, checks and the forward pass shared by RNN, LSTM and GRU.

    mode: 'LSTM', 'GRU', 'RNN_TANH' or 'RNN_RELU'. Input (L, N, H_in) (or (N, L, H_in) with
    ``batch_first``, (L, H_in) unbatched, or a PackedSequence) -> output (L, N, D * H_out)
    and final states (num_layers * D, N, H_out) (LSTM: also c_n (num_layers * D, N, H)),
    D = 2 if bidirectional else 1, H_out = proj_size or hidden_size.
    """
    __constants__ = ['mode', 'input_size', 'hidden_size', 'num_layers', 'bias', 'batch_first',
                     'dropout', 'bidirectional', 'proj_size']

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, device=None,
                 dtype=None):
        super().__init__()
        _check_options(mode, hidden_size, num_layers, dropout, proj_size)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        dirs = 2 if bidirectional else 1
        out_size = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else out_size * dirs
            for direction in range(dirs):
                suffix = f'_l{layer}' + ('_reverse' if direction == 1 else '')
                shapes = [('weight_ih', (gate_size, layer_in)),
                          ('weight_hh', (gate_size, out_size))]
                if bias:
                    shapes += [('bias_ih', (gate_size,)), ('bias_hh', (gate_size,))]
                if proj_size > 0:
                    shapes.append(('weight_hr', (proj_size, hidden_size)))
                names = []
                for name, shape in shapes:
                    setattr(self, name + suffix,
                            Parameter(empty(shape, device=device, dtype=dtype)))
                    names.append(name + suffix)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self):
        """The parameters in ``_flat_weights_names`` order (None where one was removed)."""
        params = self._parameters
        return [params[n] if n in params else getattr(self, n, None)
                for n in self._flat_weights_names]

    @property
    def all_weights(self):
        """The parameters grouped per layer and direction: [[w_ih, w_hh, b_ih, b_hh, w_hr]...]."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self):
        """Accepted for PyTorch compatibility: ember's kernels use the parameters in place."""
        return None

    def reset_parameters(self):
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _out_size(self):
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def check_input(self, input, batch_sizes):
        _checks.check_input(input, batch_sizes, self.input_size, self._flat_weights[0].dtype)

    def get_expected_hidden_size(self, input, batch_sizes):
        """(num_layers * D, batch, H_out) for ``input`` (packed when batch_sizes is given)."""
        if batch_sizes is not None:
            batch = int(batch_sizes[0])
        else:
            batch = input.size(0) if self.batch_first else input.size(1)
        dirs = 2 if self.bidirectional else 1
        return (self.num_layers * dirs, batch, self._out_size())

    def check_hidden_size(self, hx, expected_hidden_size, msg='Expected hidden size {}, got {}'):
        _checks.check_hidden_size(hx, expected_hidden_size, msg)

    def check_forward_args(self, input, hidden, batch_sizes):
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))
        _checks.check_state_dtype(hidden, self._flat_weights[0])

    def permute_hidden(self, hx, permutation):
        """hx with its batch dim (1) reordered by ``permutation`` (None: unchanged)."""
        if permutation is None:
            return hx
        return hx.index_select(1, permutation)

    def extra_repr(self):
        s = f'{self.input_size}, {self.hidden_size}'
        if self.proj_size != 0:
            s += f', proj_size={self.proj_size}'
        if self.num_layers != 1:
            s += f', num_layers={self.num_layers}'
        if self.bias is not True:
            s += f', bias={self.bias}'
        if self.batch_first is not False:
            s += f', batch_first={self.batch_first}'
        if self.dropout != 0:
            s += f', dropout={self.dropout}'
        if self.bidirectional is not False:
            s += f', bidirectional={self.bidirectional}'
        return s

    # ---- forward ------------------------------------------------------------------------
    def _prepare(self, input, hx, n_states):
        """Unpack/unsqueeze the input, build or check the initial states.

        Returns (x, batch_sizes, states, (sorted_indices, unsorted_indices), unbatched_dim):
        x is packed data (N, H_in) or 3-D input; states a tuple of (L * D, B, *) tensors;
        unbatched_dim the batch dim added to a 2-D input (None if batched).
        """
        if isinstance(input, PackedSequence):
            x, batch_sizes, sorted_indices, unsorted_indices = input
            unbatched_dim = None
            batch = int(batch_sizes[0])
            if hx is not None:
                hx = tuple(self.permute_hidden(h, sorted_indices) for h in _states(hx, n_states))
        else:
            batch_sizes = sorted_indices = unsorted_indices = None
            name = 'RNN' if self.mode.startswith('RNN') else self.mode
            _checks.check_sequence_rank(name, input, ' tensor' if name == 'RNN' else '')
            batched = input.dim() == 3
            unbatched_dim = None if batched else (0 if self.batch_first else 1)
            x = input if batched else input.unsqueeze(unbatched_dim)
            batch = x.size(0) if self.batch_first else x.size(1)
            if hx is not None:
                hx = _states(hx, n_states)
                _checks.check_state_ranks(batched, hx)
                if not batched:
                    hx = tuple(h.unsqueeze(1) for h in hx)
        if hx is None:
            dirs = 2 if self.bidirectional else 1
            sizes = (self._out_size(), self.hidden_size)[:n_states]
            hx = tuple(zeros(self.num_layers * dirs, batch, size, dtype=x.dtype,
                             device=x.device) for size in sizes)
        return x, batch_sizes, hx, (sorted_indices, unsorted_indices), unbatched_dim

    def _run(self, x, batch_sizes, hx):
        """The layers over x (packed data or 3-D): (output, *final states)."""
        weights = self._flat_weights
        run = _RUN[self.mode]
        if batch_sizes is None:
            return run(x, hx, weights, self.bias, self.num_layers, self.dropout, self.training,
                       self.bidirectional, self.batch_first)
        return run(x, batch_sizes, hx, weights, self.bias, self.num_layers, self.dropout,
                   self.training, self.bidirectional)

    def _finish(self, input, output, states, indices, unbatched_dim):
        """Repack or squeeze the output; final states back in the caller's batch order."""
        sorted_indices, unsorted_indices = indices
        if isinstance(input, PackedSequence):
            output = PackedSequence(output, input.batch_sizes, sorted_indices, unsorted_indices)
            states = tuple(self.permute_hidden(s, unsorted_indices) for s in states)
        elif unbatched_dim is not None:
            output = output.squeeze(unbatched_dim)
            states = tuple(s.squeeze(1) for s in states)
        return output, states

    def _forward_one_state(self, input, hx):
        x, batch_sizes, hx, indices, unbatched_dim = self._prepare(input, hx, 1)
        self.check_forward_args(x, hx[0], batch_sizes)
        output, h_n = self._run(x, batch_sizes, hx[0])
        output, (h_n,) = self._finish(input, output, (h_n,), indices, unbatched_dim)
        return output, h_n


def _states(hx, n):
    """hx as a tuple of n state tensors (LSTM's (h0, c0), others' single hx)."""
    if n == 1:
        return (hx,)
    return tuple(hx)


def _check_options(mode, hidden_size, num_layers, dropout, proj_size):
    """PyTorch's constructor checks and the single-layer dropout warning."""
    if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
            or not 0 <= dropout <= 1):
        raise ValueError('dropout should be a number in range [0, 1] representing the '
                         'probability of an element being zeroed')
    if dropout > 0 and num_layers == 1:
        warnings.warn('dropout option adds dropout after all but last recurrent layer, so '
                      'non-zero dropout expects num_layers greater than 1, but got '
                      f'dropout={dropout} and num_layers={num_layers}', stacklevel=3)
    if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
        raise TypeError(f'hidden_size should be of type int, got: {type(hidden_size).__name__}')
    if hidden_size <= 0:
        raise ValueError('hidden_size must be greater than zero')
    if num_layers <= 0:
        raise ValueError('num_layers must be greater than zero')
    if proj_size < 0:
        raise ValueError('proj_size should be a positive integer or zero to disable projections')
    if proj_size >= hidden_size:
        raise ValueError('proj_size has to be smaller than hidden_size')
    if mode not in _GATES:
        raise ValueError('Unrecognized RNN mode: ' + str(mode))


def _no_projection(kwargs):
    """RNN and GRU take no proj_size (PyTorch's ValueError) nor any other extra keyword."""
    if 'proj_size' in kwargs:
        raise ValueError('proj_size argument is only supported for LSTM, not RNN or GRU')
    if kwargs:
        raise TypeError(f"__init__() got an unexpected keyword argument '{next(iter(kwargs))}'")


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked
    ``num_layers`` deep. ``forward(input, hx=None) -> (output, h_n)``."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None,
                 **kwargs):
        _no_projection(kwargs)
        if nonlinearity == 'tanh':
            mode = 'RNN_TANH'
        elif nonlinearity == 'relu':
            mode = 'RNN_RELU'
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._forward_one_state(input, hx)


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n):
    r, z = sigmoid(x W_i{r,z}^T + b_i{r,z} + h W_h{r,z}^T + b_h{r,z}),
    n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)), h' = (1 - z) n + z h.
    ``forward(input, hx=None) -> (output, h_n)``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, **kwargs):
        _no_projection(kwargs)
        super().__init__('GRU', input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)

    def forward(self, input, hx=None):
        return self._forward_one_state(input, hx)


class LSTM(RNNBase):
    """Long short-term memory (gates i, f, g, o): c' = f c + i g, h' = o tanh(c'), projected
    by W_hr (proj_size, hidden_size) when ``proj_size > 0``.
    ``forward(input, hx=None) -> (output, (h_n, c_n))``, hx = (h_0, c_0)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__('LSTM', input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)

    def get_expected_cell_size(self, input, batch_sizes):
        """(num_layers * D, batch, hidden_size): the shape of c_0."""
        dirs = 2 if self.bidirectional else 1
        batch = self.get_expected_hidden_size(input, batch_sizes)[1]
        return (self.num_layers * dirs, batch, self.hidden_size)

    def check_forward_args(self, input, hidden, batch_sizes):
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               'Expected hidden[0] size {}, got {}')
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               'Expected hidden[1] size {}, got {}')
        for h in hidden:
            _checks.check_state_dtype(h, self._flat_weights[0])

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        if isinstance(hx, tuple):
            return tuple(h.index_select(1, permutation) for h in hx)
        return hx.index_select(1, permutation)

    def forward(self, input, hx=None):
        x, batch_sizes, hx, indices, unbatched_dim = self._prepare(input, hx, 2)
        self.check_forward_args(x, hx, batch_sizes)
        output, h_n, c_n = self._run(x, batch_sizes, hx)
        output, states = self._finish(input, output, (h_n, c_n), indices, unbatched_dim)
        return output, states


# ---- cells -----------------------------------------------------------------------------------
class RNNCellBase(Module):
    """Parameters of a one-step cell: weight_ih (G*H, input_size), weight_hh (G*H, H), bias_ih,
    bias_hh (G*H,), all from U(-1/sqrt(H), 1/sqrt(H))."""
    __constants__ = ['input_size', 'hidden_size', 'bias']

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        rows = num_chunks * hidden_size
        self.weight_ih = Parameter(empty((rows, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(empty((rows, hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(rows, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(rows, device=device, dtype=dtype))
        else:
            self.register_parameter('bias_ih', None)
            self.register_parameter('bias_hh', None)
        self.reset_parameters()

    def extra_repr(self):
        s = f'{self.input_size}, {self.hidden_size}'
        if self.bias is not True:
            s += f', bias={self.bias}'
        if 'nonlinearity' in self.__dict__ and self.nonlinearity != 'tanh':
            s += f', nonlinearity={self.nonlinearity}'
        return s

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _batch_states(self, input, states, count):
        """(input (B, I), states (B, H) each) with unbatched (1-D) arguments given a batch dim
        and missing states zero-filled; also whether the input was batched."""
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if states is None:
            z = zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)
            return input, (z,) * count, batched
        if not batched:
            states = tuple(s.unsqueeze(0) for s in states)
        return input, tuple(states), batched


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu). Input (B, I) or (I,)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity='tanh', device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        _checks.check_cell_rank('RNNCell', input, (hx,), ('hidden',))
        x, (h,), batched = self._batch_states(input, None if hx is None else (hx,), 1)
        if self.nonlinearity == 'tanh':
            out = _ops.rnn_tanh_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih,
                                     self.bias_hh)
        elif self.nonlinearity == 'relu':
            out = _ops.rnn_relu_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih,
                                     self.bias_hh)
        else:
            raise RuntimeError(f'Unknown nonlinearity: {self.nonlinearity}')
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: (h', c') from input (B, I) or (I,) and hx = (h, c) (zeros if None)."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        states = None if hx is None else (hx[0], hx[1])
        _checks.check_cell_rank('LSTMCell', input, states or (), ('hx[0]', 'hx[1]'))
        x, states, batched = self._batch_states(input, states, 2)
        h, c = _ops.lstm_cell(x, states, self.weight_ih, self.weight_hh, self.bias_ih,
                              self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: h' from input (B, I) or (I,) and hx (zeros if None)."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        _checks.check_cell_rank('GRUCell', input, (hx,), ('hidden',))
        x, (h,), batched = self._batch_states(input, None if hx is None else (hx,), 1)
        out = _ops.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out if batched else out.squeeze(0)
