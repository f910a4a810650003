"""nn.RNN / nn.LSTM / nn.GRU against torch (weights copied through state_dict): every option
combination (layers x bidirectional x batch_first x proj_size x h0 given or not x padded /
packed sorted / packed unsorted), forward and backward (input, initial states, all weights)
in float32 and float64, unbatched input, dropout between layers, reprs, parameter names,
counts and default initialisation, constructor and forward errors, and a small LSTM + Linear
model trained with SGD to the same losses as torch."""
import math
import warnings

import numpy as np
import pytest
import torch

import ember
from tests.helpers import E, T, assert_close, to_np
from tests.helpers_nn import build_pair, check_module

I, H, P = 3, 5, 2               # input size, hidden size, projection size
STEPS, BATCH = 4, 3
LENGTHS = {'sorted': [4, 3, 3, 1], 'unsorted': [3, 4, 1, 3]}    # batch 4 when packed
KINDS = [('LSTM', 0), ('LSTM', P), ('GRU', 0), ('RNN_TANH', 0), ('RNN_RELU', 0)]


def _lib(m):
    return torch if isinstance(m, torch.nn.Module) else ember


def make(kind, proj=0, **kw):
    """ctor(lib) for check_module: the layer ``kind`` with options ``kw``."""
    def ctor(L):
        if kind == 'LSTM':
            return L.nn.LSTM(I, H, proj_size=proj, **kw)
        if kind == 'GRU':
            return L.nn.GRU(I, H, **kw)
        return L.nn.RNN(I, H, nonlinearity='tanh' if kind == 'RNN_TANH' else 'relu', **kw)
    return ctor


def state_shapes(kind, proj, layers, bidir, batch):
    dirs = 2 if bidir else 1
    h = (layers * dirs,) + ((batch,) if batch else ()) + (proj or H,)
    if kind != 'LSTM':
        return [h]
    return [h, h[:-1] + (H,)]


def forward_fn(kind, packed, batch_first):
    """module(input[, states]) with the input packed (pack_padded_sequence) when asked; the
    packed output is compared as its (data, batch_sizes, sorted_indices, unsorted_indices)."""
    def run(m, x, *states):
        L = _lib(m)
        if packed:
            x = L.nn.utils.rnn.pack_padded_sequence(x, LENGTHS[packed], batch_first=batch_first,
                                                    enforce_sorted=packed == 'sorted')
        if not states:
            return m(x)
        return m(x, tuple(states) if kind == 'LSTM' else states[0])
    return run


@pytest.mark.parametrize('kind,proj', KINDS)
@pytest.mark.parametrize('layers', [1, 2])
@pytest.mark.parametrize('bidir', [False, True])
@pytest.mark.parametrize('batch_first', [False, True])
@pytest.mark.parametrize('with_h0', [False, True])
@pytest.mark.parametrize('packed', [None, 'sorted', 'unsorted'])
def test_matches_torch_every_option(kind, proj, layers, bidir, batch_first, with_h0, packed):
    rng = np.random.default_rng(layers + 2 * bidir + 4 * batch_first)
    batch = 4 if packed else BATCH
    shape = (batch, STEPS, I) if batch_first else (STEPS, batch, I)
    inputs = [rng.standard_normal(shape)]
    if with_h0:
        inputs += [rng.standard_normal(s) for s in state_shapes(kind, proj, layers, bidir, batch)]
    check_module(make(kind, proj, num_layers=layers, bidirectional=bidir,
                      batch_first=batch_first), inputs, dtype=np.float64,
                 forward=forward_fn(kind, packed, batch_first), modes=('train',))


@pytest.mark.parametrize('kind,proj', KINDS)
@pytest.mark.parametrize('bidir', [False, True])
@pytest.mark.parametrize('packed', [None, 'unsorted'])
def test_matches_torch_float32(kind, proj, bidir, packed):
    rng = np.random.default_rng(7)
    batch = 4 if packed else BATCH
    inputs = [rng.standard_normal((batch, STEPS, I))]
    inputs += [rng.standard_normal(s) for s in state_shapes(kind, proj, 2, bidir, batch)]
    check_module(make(kind, proj, num_layers=2, bidirectional=bidir, batch_first=True), inputs,
                 dtype=np.float32, forward=forward_fn(kind, packed, True), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('kind,proj', KINDS)
@pytest.mark.parametrize('bidir', [False, True])
@pytest.mark.parametrize('batch_first', [False, True])
@pytest.mark.parametrize('with_h0', [False, True])
def test_unbatched_input(kind, proj, bidir, batch_first, with_h0):
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal((STEPS, I))]
    if with_h0:
        inputs += [rng.standard_normal(s) for s in state_shapes(kind, proj, 2, bidir, None)]
    check_module(make(kind, proj, num_layers=2, bidirectional=bidir, batch_first=batch_first),
                 inputs, dtype=np.float64, forward=forward_fn(kind, None, batch_first))


@pytest.mark.parametrize('kind,proj', KINDS)
def test_no_bias_and_long_sequence(kind, proj):
    rng = np.random.default_rng(4)
    check_module(make(kind, proj, bias=False, num_layers=2), [rng.standard_normal((30, 2, I))],
                 dtype=np.float64, forward=forward_fn(kind, None, False))


@pytest.mark.parametrize('kind,proj', KINDS)
def test_only_final_state_used_and_outputs_shapes(kind, proj):
    """Backward from h_n alone (the output's gradient is absent) and from the output alone."""
    em, tm = build_pair(make(kind, proj, num_layers=2, bidirectional=True), np.float64)
    x = np.random.default_rng(5).standard_normal((STEPS, BATCH, I))
    for pick in (lambda r: r[1][0] if kind == 'LSTM' else r[1], lambda r: r[0]):
        ex, tx = E(x, True), T(x, True)
        eo, to = pick(em(ex)), pick(tm(tx))
        assert_close(eo, to)
        eo.sum().backward()
        to.sum().backward()
        assert_close(ex.grad, tx.grad)
        for (n, pe), (_, pt) in zip(em.named_parameters(), tm.named_parameters()):
            assert_close(pe.grad, pt.grad)
        em.zero_grad()
        tm.zero_grad()


def test_packed_equals_each_sequence_alone():
    """Variable lengths in one packed batch give each sequence's result run alone."""
    em = ember.nn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=P)
    rng = np.random.default_rng(6)
    seqs = [rng.standard_normal((n, I)).astype(np.float32) for n in (3, 6, 1, 4)]
    packed = ember.nn.utils.rnn.pack_sequence([E(s) for s in seqs], enforce_sorted=False)
    out, (h, c) = em(packed)
    padded, lengths = ember.nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
    assert lengths.tolist() == [3, 6, 1, 4]
    for b, s in enumerate(seqs):
        o1, (h1, c1) = em(E(s))
        assert_close(padded[b, :len(s)], o1, 1e-5, 1e-6)
        assert not to_np(padded[b, len(s):]).any()
        assert_close(h[:, b], h1, 1e-5, 1e-6)
        assert_close(c[:, b], c1, 1e-5, 1e-6)


def test_packed_output_keeps_indices_and_batch_sizes():
    em = ember.nn.GRU(I, H)
    x = E(np.random.default_rng(0).standard_normal((4, 3, I)).astype(np.float32))
    packed = ember.nn.utils.rnn.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
    out, h = em(packed)
    assert isinstance(out, ember.nn.utils.rnn.PackedSequence)
    assert out.batch_sizes is packed.batch_sizes
    assert out.sorted_indices is packed.sorted_indices
    assert out.unsorted_indices is packed.unsorted_indices
    assert tuple(h.shape) == (1, 3, H)


def test_batch_first_output_is_a_transposed_view_like_torch():
    em, tm = build_pair(make('LSTM', num_layers=1, batch_first=True))
    x = np.random.default_rng(0).standard_normal((2, STEPS, I)).astype(np.float32)
    eo, to = em(E(x))[0], tm(T(x))[0]
    assert eo.is_contiguous() == to.is_contiguous()
    assert eo.stride() == to.stride()


# ---- dropout between layers ---------------------------------------------------------------
def test_dropout_warning_for_one_layer():
    for lib in (torch, ember):
        with pytest.warns(UserWarning, match='non-zero dropout expects num_layers greater than '
                                             '1, but got dropout=0.3 and num_layers=1'):
            lib.nn.LSTM(3, 4, dropout=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        ember.nn.GRU(3, 4, num_layers=2, dropout=0.3)


@pytest.mark.parametrize('kind,proj', KINDS)
def test_dropout_between_layers_in_training_only(kind, proj):
    """Training mode draws masks from ember's generator (reproducible with manual_seed) and
    equals running the layers one by one with F.dropout between them; eval mode is
    deterministic and matches torch."""
    ctor = make(kind, proj, num_layers=2, dropout=0.5)
    em, tm = build_pair(ctor, np.float64)
    x = E(np.random.default_rng(1).standard_normal((STEPS, BATCH, I)))
    em.train()
    ember.manual_seed(3)
    out1 = em(x)[0]
    ember.manual_seed(3)
    out2 = em(x)[0]
    assert_close(out1, out2)
    # the same layers one at a time, same draws from the generator
    first = make(kind, proj)(ember).double()
    second = ember.nn.LSTM(proj or H, H, proj_size=proj) if kind == 'LSTM' else \
        make(kind)(ember).__class__(H, H, **({'nonlinearity': em.nonlinearity}
                                             if kind.startswith('RNN') else {}))
    second = second.double()
    sd = em.state_dict()
    first.load_state_dict({k: v for k, v in sd.items() if k.endswith('_l0')})
    second.load_state_dict({k.replace('_l1', '_l0'): v for k, v in sd.items() if k.endswith('_l1')})
    ember.manual_seed(3)
    mid = ember.nn.functional.dropout(first(x)[0], 0.5, True)
    assert_close(out1, second(mid)[0])
    assert not np.allclose(to_np(out1), to_np(second(first(x)[0])[0]))
    em.eval()
    tm.eval()
    assert_close(em(x)[0], tm(T(to_np(x)))[0])


# ---- construction ---------------------------------------------------------------------------
@pytest.mark.parametrize('args,kw', [
    ((64, 32), {}),
    ((64, 32, 2), {'batch_first': True}),
    ((3, 4), {'bias': False, 'bidirectional': True, 'dropout': 0.25, 'num_layers': 3}),
    ((3, 4), {'proj_size': 2}),
])
def test_reprs_and_parameter_names(args, kw):
    kinds = ['LSTM'] + (['GRU', 'RNN'] if 'proj_size' not in kw else [])
    for kind in kinds:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            tm = getattr(torch.nn, kind)(*args, **kw)
            em = getattr(ember.nn, kind)(*args, **kw)
        assert repr(em) == repr(tm)
        assert [(n, tuple(p.shape)) for n, p in em.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
        assert em._flat_weights_names == tm._flat_weights_names
        assert em._all_weights == tm._all_weights
        assert [[tuple(w.shape) for w in ws] for ws in em.all_weights] == \
            [[tuple(w.shape) for w in ws] for ws in tm.all_weights]
        assert em.all_weights[0][0] is em.weight_ih_l0
        for attr in ('mode', 'input_size', 'hidden_size', 'num_layers', 'bias', 'batch_first',
                     'dropout', 'bidirectional', 'proj_size'):
            assert getattr(em, attr) == getattr(tm, attr), attr
        assert em.flatten_parameters() is None


def test_repr_examples():
    assert repr(ember.nn.LSTM(64, 32, num_layers=2, batch_first=True)) == \
        'LSTM(64, 32, num_layers=2, batch_first=True)'
    assert repr(ember.nn.RNN(3, 4, 2, 'relu', False)) == 'RNN(3, 4, num_layers=2, bias=False)'
    assert ember.nn.RNN(3, 4, nonlinearity='relu').nonlinearity == 'relu'
    assert ember.nn.RNN(3, 4, nonlinearity='relu').mode == 'RNN_RELU'
    m = ember.nn.RNNBase('GRU', 3, 4)
    assert repr(m) == 'RNNBase(3, 4)' and m.mode == 'GRU'


def test_parameter_counts():
    def count(m):
        return sum(p.numel() for p in m.parameters())
    assert count(ember.nn.GRU(64, 32)) == 9408
    assert count(ember.nn.LSTM(64, 32)) == 12544
    assert count(ember.nn.RNN(64, 32)) == 3136
    assert count(ember.nn.LSTM(64, 32, 2, proj_size=16, bidirectional=True)) == \
        count(torch.nn.LSTM(64, 32, 2, proj_size=16, bidirectional=True))


@pytest.mark.parametrize('kind', ['LSTM', 'GRU', 'RNN'])
def test_default_init_is_uniform_in_one_over_sqrt_hidden(kind):
    ember.manual_seed(0)
    m = getattr(ember.nn, kind)(40, 100, num_layers=2, bidirectional=True)
    bound = 1 / math.sqrt(100)
    for name, p in m.named_parameters():
        a = to_np(p)
        assert a.dtype == np.float32
        assert a.min() >= -bound and a.max() <= bound, name
        assert abs(a.std() - bound / math.sqrt(3)) < 0.1 * bound / math.sqrt(3), name
        assert abs(a.mean()) < 0.1 * bound, name


def test_factory_kwargs_and_double():
    m = ember.nn.LSTM(3, 4, dtype=ember.float64, device='cpu')
    assert all(p.dtype == ember.float64 for p in m.parameters())
    out, (h, c) = m(ember.randn(2, 5, 3, dtype=ember.float64))
    assert out.dtype == h.dtype == c.dtype == ember.float64


def test_loads_torch_checkpoint_and_back():
    tm = torch.nn.LSTM(4, 6, 2, bidirectional=True, proj_size=3)
    em = ember.nn.LSTM(4, 6, 2, bidirectional=True, proj_size=3)
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    tm2 = torch.nn.LSTM(4, 6, 2, bidirectional=True, proj_size=3)
    tm2.load_state_dict({k: torch.tensor(to_np(v)) for k, v in em.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 2, 4)).astype(np.float32)
    assert_close(em(E(x))[0], tm2(T(x))[0], 1e-5, 1e-6)


# ---- errors ---------------------------------------------------------------------------------
def _raises_like(fn_e, fn_t):
    with pytest.raises(Exception) as et:
        fn_t()
    with pytest.raises(et.type) as ee:
        fn_e()
    assert str(ee.value) == str(et.value).replace('torch.', 'ember.')


@pytest.mark.parametrize('kw', [
    {'dropout': 1.5}, {'dropout': True}, {'dropout': '0.1'}, {'hidden_size': 0},
    {'hidden_size': 4.0}, {'num_layers': 0}, {'proj_size': -1}, {'proj_size': 4},
])
def test_constructor_errors(kw):
    args = dict(input_size=3, hidden_size=4)
    args.update(kw)
    _raises_like(lambda: ember.nn.LSTM(**args), lambda: torch.nn.LSTM(**args))


def test_constructor_errors_rnn_and_gru():
    _raises_like(lambda: ember.nn.GRU(3, 4, proj_size=2), lambda: torch.nn.GRU(3, 4, proj_size=2))
    _raises_like(lambda: ember.nn.RNN(3, 4, proj_size=2), lambda: torch.nn.RNN(3, 4, proj_size=2))
    _raises_like(lambda: ember.nn.RNN(3, 4, nonlinearity='sigmoid'),
                 lambda: torch.nn.RNN(3, 4, nonlinearity='sigmoid'))
    with pytest.raises(ValueError, match='Unrecognized RNN mode: XYZ'):
        ember.nn.RNNBase('XYZ', 3, 4)


def _z(lib, *shape, dtype=None):
    return lib.zeros(*shape, dtype=dtype)


FORWARD_ERRORS = {
    'input size': ('LSTM', lambda L: ((_z(L, 5, 3, 32),), {})),
    'hidden[0] size': ('LSTM', lambda L: ((_z(L, 5, 3, 64), (_z(L, 1, 3, 20), _z(L, 2, 3, 20))),
                                          {})),
    'hidden[1] size': ('LSTM', lambda L: ((_z(L, 5, 3, 64), (_z(L, 2, 3, 20), _z(L, 2, 4, 20))),
                                          {})),
    'batched state ranks': ('LSTM', lambda L: ((_z(L, 5, 3, 64),
                                                (_z(L, 2, 20), _z(L, 2, 3, 20))), {})),
    'unbatched state ranks': ('LSTM', lambda L: ((_z(L, 5, 64),
                                                  (_z(L, 2, 3, 20), _z(L, 2, 3, 20))), {})),
    'unbatched hidden size': ('LSTM', lambda L: ((_z(L, 5, 64),
                                                  (_z(L, 2, 21), _z(L, 2, 20))), {})),
    '4-D input': ('LSTM', lambda L: ((_z(L, 2, 5, 3, 64),), {})),
    '1-D input': ('GRU', lambda L: ((_z(L, 64),), {})),
    '4-D input RNN': ('RNN', lambda L: ((_z(L, 2, 5, 3, 64),), {})),
    'input dtype': ('LSTM', lambda L: ((_z(L, 5, 3, 64, dtype=L.float64),), {})),
    'integer input': ('GRU', lambda L: ((_z(L, 5, 3, 64, dtype=L.int64),), {})),
    'GRU hidden size': ('GRU', lambda L: ((_z(L, 5, 3, 64), _z(L, 1, 3, 20)), {})),
    'GRU batched hx rank': ('GRU', lambda L: ((_z(L, 5, 3, 64), _z(L, 3, 20)), {})),
    'GRU unbatched hx rank': ('GRU', lambda L: ((_z(L, 5, 64), _z(L, 2, 3, 20)), {})),
    'GRU hx dtype': ('GRU', lambda L: ((_z(L, 5, 3, 64), _z(L, 2, 3, 20, dtype=L.float64)),
                                       {})),
    'empty sequence': ('GRU', lambda L: ((_z(L, 0, 3, 64),), {})),
}


@pytest.mark.parametrize('case', list(FORWARD_ERRORS))
def test_forward_errors_match_torch(case):
    kind, args = FORWARD_ERRORS[case]

    def run(L):
        m = getattr(L.nn, kind)(64, 20, 2)
        a, kw = args(L)
        return m(*a, **kw)
    _raises_like(lambda: run(ember), lambda: run(torch))


def test_packed_input_errors_match_torch():
    def run(L, hidden, features=64):
        m = L.nn.GRU(64, 20, 2)
        x = L.nn.utils.rnn.pack_padded_sequence(L.zeros(5, 3, features), [5, 3, 2])
        return m(x, L.zeros(*hidden) if hidden else None)
    _raises_like(lambda: run(ember, (2, 2, 20)), lambda: run(torch, (2, 2, 20)))
    _raises_like(lambda: run(ember, None, 32), lambda: run(torch, None, 32))


def test_empty_batch():
    for kind in ('LSTM', 'GRU', 'RNN'):
        em, tm = build_pair(lambda L, kind=kind: getattr(L.nn, kind)(I, H, 2))
        x = np.zeros((STEPS, 0, I), np.float32)
        assert_close(em(E(x)), tm(T(x)))


# ---- training ---------------------------------------------------------------------------------
def test_lstm_and_linear_train_like_torch():
    """20 SGD steps of an LSTM -> Linear regressor give torch's losses."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 12, 6)).astype(np.float32)
    y = rng.standard_normal((4, 3)).astype(np.float32)

    def model(L):
        class Net(L.nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = L.nn.LSTM(6, 16, num_layers=2, batch_first=True)
                self.head = L.nn.Linear(16, 3)

            def forward(self, inp):
                out, (h, c) = self.lstm(inp)
                return self.head(out[:, -1] + h[0])
        return Net()
    em, tm = build_pair(model)
    losses = []
    for lib, m, xs, ys in ((ember, em, E(x), E(y)), (torch, tm, T(x), T(y))):
        run = []
        for _ in range(20):
            loss = ((m(xs) - ys) ** 2).mean()
            m.zero_grad()
            loss.backward()
            with lib.no_grad():
                for p in m.parameters():
                    p -= 0.1 * p.grad
            run.append(loss.item())
        losses.append(run)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)
    assert losses[0][-1] < losses[0][0]
