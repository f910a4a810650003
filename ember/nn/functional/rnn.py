"""Argument checks of the recurrent layers (torch.nn.functional has no public RNN functions, so
nothing is exported): input rank, feature size and dtype, initial-state ranks and shapes,
with PyTorch's exception types and messages. The math is in ``ember.ops.rnn``
(``ember.ops.rnn.lstm`` & co. run the layers, one Op per layer and direction)."""

from ...ops.linalg import _sname

__all__ = []


def check_sequence_rank(name, input, message_suffix=''):
    """Padded input must be (L, H_in) (unbatched) or 3-D (batched)."""
    nd = input.dim()
    if nd not in (2, 3):
        raise ValueError(f'{name}: Expected input to be 2D or 3D, got {nd}D{message_suffix} '
                         'instead')


def check_state_ranks(batched, states):
    """Initial states of batched (3-D) input must be 3-D, of unbatched input 2-D (one state:
    GRU/RNN's hx; two: LSTM's (h0, c0))."""
    want = 3 if batched else 2
    if all(s.dim() == want for s in states):
        return
    kind = 'batched 3-D' if batched else 'unbatched 2-D'
    if len(states) == 1:
        raise RuntimeError(f'For {kind} input, hx should also be {want}-D but got '
                           f'{states[0].dim()}-D tensor')
    ranks = ', '.join(f'{s.dim()}-D' for s in states)
    raise RuntimeError(f'For {kind} input, hx and cx should also be {want}-D but got ({ranks}) '
                       'tensors')


def check_input(input, batch_sizes, input_size, weight_dtype):
    """Rank (2 for packed data, else 3), dtype (the weights') and feature size of the
    time-major or batch-first input."""
    if input.dtype != weight_dtype:
        raise ValueError(f'RNN input dtype ({input.dtype}) does not match weight dtype '
                         f'({weight_dtype}). Convert input: input.to({weight_dtype}), or convert '
                         f'model: model.to({input.dtype})')
    expected = 2 if batch_sizes is not None else 3
    if input.dim() != expected:
        raise RuntimeError(f'input must have {expected} dimensions, got {input.dim()}')
    if input.size(-1) != input_size:
        raise RuntimeError(f'input.size(-1) must be equal to input_size. Expected {input_size}, '
                           f'got {input.size(-1)}')


def check_hidden_size(hx, expected, msg='Expected hidden size {}, got {}'):
    """``hx``'s shape must be ``expected`` (a tuple; PyTorch prints it as one, the actual size
    as a list)."""
    if tuple(hx.shape) != tuple(expected):
        raise RuntimeError(msg.format(tuple(expected), list(hx.shape)))


def check_state_dtype(hx, weight):
    """A state's dtype must be the weights' (PyTorch's matmul message)."""
    if hx.dtype != weight.dtype:
        raise RuntimeError(f'mat1 and mat2 must have the same dtype, but got '
                           f'{_sname(hx._data.dtype)} and {_sname(weight._data.dtype)}')


def check_cell_rank(name, input, states, state_names):
    """Cells take (B, I) or unbatched (I,) input and states of rank 1 or 2."""
    if input.dim() not in (1, 2):
        raise ValueError(f'{name}: Expected input to be 1D or 2D, got {input.dim()}D instead')
    for s, label in zip(states, state_names):
        if s is not None and s.dim() not in (1, 2):
            raise ValueError(f'{name}: Expected {label} to be 1D or 2D, got {s.dim()}D instead')
