"""The recurrent family against torch (weights copied through state_dict).

nn.RNN / LSTM / GRU: option combinations (layers x bidirectional x h0 given, crossed with
batch_first, padded / packed sorted / packed unsorted input, proj_size), forward and backward
(input, initial states, all weights) in float64 and float32, unbatched input, large batches
(both input projections) and batches split across threads, dropout between layers, reprs,
parameter names, counts and default initialisation, constructor and forward errors, and an
LSTM + Linear model trained with SGD to torch's losses. Cells: against torch, stepped through
time, against the one-layer RNN/LSTM/GRU, errors. nn.utils.rnn: pad/pack/unpack functions,
PackedSequence, errors. Finite differences of every Op.
"""
import math
import warnings

import numpy as np
import pytest
import torch

import ember
from ember.ops import rnn as rnn_ops
from tests.conftest import DEVICE
from tests.helpers import E, T, assert_close, check, gradcheck, to_np
from tests.helpers_nn import build_pair, check_module

I, H, P = 3, 5, 2               # input size, hidden size, projection size
STEPS, BATCH = 4, 3
LENGTHS = {'sorted': [4, 3, 3, 1], 'unsorted': [3, 4, 1, 3]}    # batch 4 when packed
KINDS = [('LSTM', 0), ('LSTM', P), ('GRU', 0), ('RNN_TANH', 0), ('RNN_RELU', 0)]


@pytest.fixture(autouse=True, scope='module')
def _torch_single_threaded():
    """torch's threads only slow these tiny layers down (its thread pool spins on a busy
    machine); restored after this file."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


# layers x bidirectional x h0 given: every pair of values appears (all of them crossed with
# batch_first, padded/packed input and the kinds would take too long)
LAYOUTS = [(1, False, False), (1, True, True), (2, False, True), (2, True, False)]


@pytest.mark.parametrize('kind,proj', KINDS)
@pytest.mark.parametrize('layers,bidir,with_h0', LAYOUTS)
@pytest.mark.parametrize('batch_first', [False, True])
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
@pytest.mark.parametrize('bidir,batch_first,with_h0', [(False, False, False), (False, True, True),
                                                       (True, False, True), (True, True, False)])
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
@pytest.mark.parametrize('packed', [None, 'unsorted'])
def test_large_batch(kind, proj, packed):
    """Batches of many rows per step (the input projection then runs per step instead of as
    one GEMM), padded and packed. The packed output is compared padded: torch sorts more
    than 16 lengths with an unstable sort, so the order of equal lengths in its packed data is
    its own."""
    rng = np.random.default_rng(16)
    lengths = [3] * 10 + [2] * 12 + [1] * 8
    rng.shuffle(lengths)
    x = rng.standard_normal((3, len(lengths), I))

    def run(m, x, *states):
        U = _lib(m).nn.utils.rnn
        if packed:
            x = U.pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, hx = m(x, tuple(states) if kind == 'LSTM' else states[0])
        return (U.pad_packed_sequence(out)[0] if packed else out), hx
    states = [rng.standard_normal(s) for s in state_shapes(kind, proj, 2, True, len(lengths))]
    check_module(make(kind, proj, num_layers=2, bidirectional=True), [x] + states,
                 dtype=np.float64, forward=run, modes=('train',))


@pytest.fixture
def split_batches(monkeypatch):
    """Every padded layer runs its batch as two halves on two threads, however small."""
    monkeypatch.setattr(rnn_ops, '_SPLIT_WORK', 1)
    threads = ember.get_num_threads()
    ember.set_num_threads(2)
    yield
    ember.set_num_threads(threads)


@pytest.mark.parametrize('kind,proj', KINDS)
@pytest.mark.parametrize('use', ['everything', 'final states'])
def test_batch_split_across_threads(kind, proj, use, split_batches):
    """Rows of the batch run on separate threads (17 rows: halves of 8 and 9); outputs and
    gradients are torch's."""
    rng = np.random.default_rng(17)
    x = rng.standard_normal((17, STEPS, I))
    states = [rng.standard_normal(s) for s in state_shapes(kind, proj, 2, True, 17)]

    def run(m, x, *states):
        out, hx = m(x, tuple(states) if kind == 'LSTM' else states[0])
        return (out, hx) if use == 'everything' else hx
    check_module(make(kind, proj, num_layers=2, bidirectional=True, batch_first=True),
                 [x] + states, dtype=np.float64, forward=run, modes=('train',))


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


@pytest.mark.parametrize('kind', ['RNN', 'GRU', 'LSTM'])
def test_output_modified_in_place_before_backward(kind):
    """The saved activations are not the output: gradients stay right (torch raises for the
    LSTM here)."""
    em, tm = build_pair(lambda L: getattr(L.nn, kind)(I, H), np.float64)
    x = np.random.default_rng(18).standard_normal((STEPS, BATCH, I))
    ex, tx = E(x, True), T(x, True)
    eo = em(ex)[0]
    eo.mul_(2)
    eo.sum().backward()
    (tm(tx)[0] * 2).sum().backward()
    assert_close(ex.grad, tx.grad)
    assert_close(em.weight_hh_l0.grad, tm.weight_hh_l0.grad)


def test_packed_equals_each_sequence_alone():
    """Variable lengths in one packed batch give each sequence's result run alone."""
    em = ember.nn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=P).to(DEVICE)
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
    em = ember.nn.GRU(I, H).to(DEVICE)
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


# ---- dropout between layers ----------------------------------------------------------------------
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
    first = make(kind, proj)(ember).double().to(DEVICE)
    second = ember.nn.LSTM(proj or H, H, proj_size=proj) if kind == 'LSTM' else \
        make(kind)(ember).__class__(H, H, **({'nonlinearity': em.nonlinearity}
                                             if kind.startswith('RNN') else {}))
    second = second.double().to(DEVICE)
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


# ---- construction --------------------------------------------------------------------------------
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
    assert_close(em.to(DEVICE)(E(x))[0], tm2(T(x))[0], 1e-5, 1e-6)


# ---- errors --------------------------------------------------------------------------------------
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


# ---- training ------------------------------------------------------------------------------------
def test_lstm_and_linear_train_like_torch():
    """20 SGD (momentum) steps of an LSTM -> Linear regressor give torch's losses."""
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
        opt = lib.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
        run = []
        for _ in range(20):
            loss = lib.nn.functional.mse_loss(m(xs), ys)
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.append(loss.item())
        losses.append(run)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)
    assert losses[0][-1] < losses[0][0]
    assert_close(em.lstm.weight_hh_l1, tm.lstm.weight_hh_l1, 1e-4, 1e-5)


# ---- cells ---------------------------------------------------------------------------------------
CELLS = [('RNNCell', {}), ('RNNCell', {'nonlinearity': 'relu'}), ('LSTMCell', {}),
         ('GRUCell', {})]


def cell(kind, kw):
    return lambda L: getattr(L.nn, kind)(I, H, **kw)


def cell_states(kind, batch, rng):
    shape = (batch, H) if batch else (H,)
    n = 2 if kind == 'LSTMCell' else 1
    return [rng.standard_normal(shape) for _ in range(n)]


def cell_call(kind):
    def run(m, x, *states):
        if not states:
            return m(x)
        return m(x, tuple(states) if kind == 'LSTMCell' else states[0])
    return run


@pytest.mark.parametrize('kind,kw', CELLS)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('batch', [3, None])
@pytest.mark.parametrize('with_hx', [False, True])
def test_cells_match_torch(kind, kw, dtype, batch, with_hx):
    rng = np.random.default_rng(8)
    inputs = [rng.standard_normal((batch, I) if batch else (I,))]
    if with_hx:
        inputs += cell_states(kind, batch, rng)
    check_module(cell(kind, kw), inputs, dtype=dtype, forward=cell_call(kind))


@pytest.mark.parametrize('kind,kw', CELLS)
def test_cells_without_bias(kind, kw):
    rng = np.random.default_rng(9)
    inputs = [rng.standard_normal((2, I))] + cell_states(kind, 2, rng)
    check_module(lambda L: getattr(L.nn, kind)(I, H, bias=False, **kw), inputs,
                 dtype=np.float64, forward=cell_call(kind))


def _stepped(kind):
    """forward(cell, x (T, B, I), *states): the cell applied step by step; returns every
    step's h stacked (T, B, H) and the last states."""
    def run(m, x, *states):
        L = _lib(m)
        hx = (tuple(states) if kind == 'LSTMCell' else states[0]) if states else None
        outs = []
        for xt in x.unbind(0):
            hx = m(xt, hx)
            outs.append(hx[0] if kind == 'LSTMCell' else hx)
        return (L.stack(outs, 0),) + (tuple(hx) if kind == 'LSTMCell' else (hx,))
    return run


@pytest.mark.parametrize('kind,kw', CELLS)
def test_cells_stepped_through_time_match_torch(kind, kw):
    """Backward through a Python loop of cell steps (gradients of every step accumulate into
    the weights), against torch doing the same."""
    rng = np.random.default_rng(10)
    inputs = [rng.standard_normal((STEPS, BATCH, I))] + cell_states(kind, BATCH, rng)
    check_module(cell(kind, kw), inputs, dtype=np.float64, forward=_stepped(kind),
                 modes=('train',))


@pytest.mark.parametrize('kind,kw', CELLS)
def test_cells_stepped_equal_the_layer(kind, kw):
    """A cell looped over time gives the one-layer RNN/LSTM/GRU's output and final states
    (same weights), and the same gradients."""
    layer_kind = kind[:-4]
    layer = getattr(ember.nn, layer_kind)(I, H, **kw).double().to(DEVICE)
    c = getattr(ember.nn, kind)(I, H, **kw).double().to(DEVICE)
    c.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    rng = np.random.default_rng(11)
    x = rng.standard_normal((STEPS, BATCH, I))
    states = cell_states(kind, BATCH, rng)
    xs = [E(x, True), E(x, True)]
    ss = [[E(s, True) for s in states], [E(s, True) for s in states]]
    got = _stepped(kind)(c, xs[0], *ss[0])
    hx = [s.unsqueeze(0) for s in ss[1]]
    out, fin = layer(xs[1], tuple(hx) if kind == 'LSTMCell' else hx[0])
    fin = fin if kind == 'LSTMCell' else (fin,)
    want = (out,) + tuple(f[0] for f in fin)
    for a, b in zip(got, want):
        np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-12, atol=1e-12)
    ember.autograd.backward(list(got), [ember.ones_like(g) for g in got])
    ember.autograd.backward(list(want), [ember.ones_like(g) for g in want])
    np.testing.assert_allclose(to_np(xs[0].grad), to_np(xs[1].grad), rtol=1e-10, atol=1e-12)
    for a, b in zip(ss[0], ss[1]):
        np.testing.assert_allclose(to_np(a.grad), to_np(b.grad), rtol=1e-10, atol=1e-12)
    for name, p in c.named_parameters():
        np.testing.assert_allclose(to_np(p.grad), to_np(getattr(layer, name + '_l0').grad),
                                   rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('kind', ['RNNCell', 'LSTMCell', 'GRUCell'])
def test_cell_default_init_and_reprs(kind):
    ember.manual_seed(0)
    m = getattr(ember.nn, kind)(50, 100)
    bound = 1 / math.sqrt(100)
    for name, p in m.named_parameters():
        a = to_np(p)
        assert a.min() >= -bound and a.max() <= bound, name
        assert abs(a.std() - bound / math.sqrt(3)) < 0.1 * bound / math.sqrt(3), name
    for args, kw in (((3, 4), {}), ((3, 4), {'bias': False})):
        assert repr(getattr(ember.nn, kind)(*args, **kw)) == \
            repr(getattr(torch.nn, kind)(*args, **kw))
    assert repr(ember.nn.RNNCell(3, 4, nonlinearity='relu')) == \
        repr(torch.nn.RNNCell(3, 4, nonlinearity='relu'))


CELL_ERRORS = {
    'input size': lambda L: L.nn.LSTMCell(4, 5)(L.zeros(3, 6)),
    'hidden batch': lambda L: L.nn.GRUCell(4, 5)(L.zeros(3, 4), L.zeros(2, 5)),
    'hidden size': lambda L: L.nn.RNNCell(4, 5)(L.zeros(3, 4), L.zeros(3, 6)),
    'cell state size': lambda L: L.nn.LSTMCell(4, 5)(L.zeros(3, 4),
                                                     (L.zeros(3, 5), L.zeros(3, 6))),
    '3-D input': lambda L: L.nn.LSTMCell(4, 5)(L.zeros(2, 3, 4)),
    '3-D hidden': lambda L: L.nn.GRUCell(4, 5)(L.zeros(3, 4), L.zeros(1, 3, 5)),
    '3-D hx[0]': lambda L: L.nn.LSTMCell(4, 5)(L.zeros(3, 4),
                                               (L.zeros(1, 3, 5), L.zeros(1, 3, 5))),
    'unbatched input, batched hidden': lambda L: L.nn.GRUCell(4, 5)(L.zeros(4), L.zeros(3, 5)),
    'input dtype': lambda L: L.nn.GRUCell(4, 5)(L.zeros(3, 4, dtype=L.float64)),
    'integer input': lambda L: L.nn.RNNCell(4, 5)(L.zeros(3, 4, dtype=L.int64)),
    'hidden dtype': lambda L: L.nn.GRUCell(4, 5)(L.zeros(3, 4), L.zeros(3, 5, dtype=L.float64)),
    'nonlinearity': lambda L: L.nn.RNNCell(4, 5, nonlinearity='x')(L.zeros(3, 4)),
}


@pytest.mark.parametrize('case', list(CELL_ERRORS))
def test_cell_errors_match_torch(case):
    _raises_like(lambda: CELL_ERRORS[case](ember), lambda: CELL_ERRORS[case](torch))


# ---- nn.utils.rnn --------------------------------------------------------------------------------
def _seqs(lengths, rng, trailing=(2,)):
    return [rng.standard_normal((n,) + trailing) for n in lengths]


def _same_packed(e, t):
    assert isinstance(e, ember.nn.utils.rnn.PackedSequence)
    assert_close(e.data, t.data)
    assert to_np(e.batch_sizes).tolist() == t.batch_sizes.tolist()
    assert e.batch_sizes.dtype == ember.int64 and e.batch_sizes.device.type == 'cpu'
    for a, b in ((e.sorted_indices, t.sorted_indices), (e.unsorted_indices, t.unsorted_indices)):
        assert (a is None) == (b is None)
        if a is not None:
            assert to_np(a).tolist() == b.tolist()


@pytest.mark.parametrize('batch_first', [False, True])
@pytest.mark.parametrize('padding_side', ['right', 'left'])
@pytest.mark.parametrize('trailing', [(), (2,), (2, 3)])
def test_pad_sequence_matches_torch(batch_first, padding_side, trailing):
    seqs = _seqs([3, 5, 1], np.random.default_rng(0), trailing)

    def fn(L, *xs):
        return L.nn.utils.rnn.pad_sequence(list(xs), batch_first=batch_first,
                                           padding_value=-1.5, padding_side=padding_side)
    check(lambda *xs: fn(ember, *xs), lambda *xs: fn(torch, *xs), *seqs)


def test_pad_sequence_of_a_tensor_and_float64():
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    check(lambda a: ember.nn.utils.rnn.pad_sequence(a, True),
          lambda a: torch.nn.utils.rnn.pad_sequence(a, True), x)


@pytest.mark.parametrize('batch_first', [False, True])
@pytest.mark.parametrize('enforce_sorted', [False, True])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_pack_padded_and_pad_packed_match_torch(batch_first, enforce_sorted, dtype):
    rng = np.random.default_rng(2)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    shape = (4, 6, 2) if batch_first else (6, 4, 2)
    x = rng.standard_normal(shape).astype(dtype)
    packs = []
    for L, X in ((ember, E), (torch, T)):
        xt = X(x, True)
        packed = L.nn.utils.rnn.pack_padded_sequence(xt, lengths, batch_first, enforce_sorted)
        padded, lens = L.nn.utils.rnn.pad_packed_sequence(
            packed, batch_first=batch_first, padding_value=7.0, total_length=7)
        (padded * X(rng.standard_normal(tuple(padded.shape)).astype(dtype))).sum().backward()
        packs.append((packed, padded, lens, xt.grad))
        rng = np.random.default_rng(2)
        rng.standard_normal(shape)
    (ep, epad, elen, eg), (tp, tpad, tlen, tg) = packs
    _same_packed(ep, tp)
    assert_close(epad, tpad)
    assert to_np(elen).tolist() == tlen.tolist() and elen.dtype == ember.int64
    assert_close(eg, tg)


def test_pack_sequence_and_unpack_round_trip():
    rng = np.random.default_rng(3)
    seqs = _seqs([2, 4, 1], rng)
    for enforce in (False, True):
        order = seqs if not enforce else sorted(seqs, key=len, reverse=True)
        ep = ember.nn.utils.rnn.pack_sequence([E(s) for s in order], enforce_sorted=enforce)
        tp = torch.nn.utils.rnn.pack_sequence([T(s) for s in order], enforce_sorted=enforce)
        _same_packed(ep, tp)
        back = ember.nn.utils.rnn.unpack_sequence(ep)
        assert len(back) == 3
        for b, s in zip(back, order):
            assert_close(b, T(s))


@pytest.mark.parametrize('batch_first', [False, True])
def test_unpad_sequence(batch_first):
    seqs = _seqs([3, 1, 4], np.random.default_rng(4))
    for lengths in ([3, 1, 4], ember.tensor([3, 1, 4])):
        padded = ember.nn.utils.rnn.pad_sequence([E(s) for s in seqs], batch_first)
        for got, want in zip(ember.nn.utils.rnn.unpad_sequence(padded, lengths, batch_first),
                             seqs):
            assert_close(got, T(want))


def test_packed_sequence_to_and_casts():
    packed = ember.nn.utils.rnn.pack_sequence([E(np.ones((3, 2), np.float32)),
                                               E(np.ones((2, 2), np.float32))],
                                              enforce_sorted=False)
    assert packed.to(ember.float32) is packed
    d = packed.to(ember.float64)
    assert d.data.dtype == ember.float64 and d.batch_sizes is packed.batch_sizes
    assert d.sorted_indices is not None and d.unsorted_indices is not None
    assert packed.double().data.dtype == ember.float64
    assert packed.float().data.dtype == ember.float32
    assert packed.cpu().data.device.type == 'cpu'
    assert packed.is_cuda == (DEVICE == 'cuda') and not packed.is_pinned()
    assert ember.nn.utils.rnn.PackedSequence._fields == torch.nn.utils.rnn.PackedSequence._fields
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert to_np(ember.nn.utils.rnn.invert_permutation(sorted_indices)).tolist() == \
        to_np(unsorted_indices).tolist()


UTIL_ERRORS = {
    'unsorted lengths': lambda L: L.nn.utils.rnn.pack_padded_sequence(L.zeros(3, 2, 1), [2, 3]),
    'zero length': lambda L: L.nn.utils.rnn.pack_padded_sequence(L.zeros(3, 2, 1), [3, 0]),
    'lengths count': lambda L: L.nn.utils.rnn.pack_padded_sequence(L.zeros(3, 2, 1), [3, 2, 1]),
    '2-D lengths': lambda L: L.nn.utils.rnn.pack_padded_sequence(L.zeros(3, 2, 1),
                                                                 L.tensor([[3, 2]])),
    'unsorted pack_sequence': lambda L: L.nn.utils.rnn.pack_sequence([L.zeros(1), L.zeros(2)]),
    'total_length too short': lambda L: L.nn.utils.rnn.pad_packed_sequence(
        L.nn.utils.rnn.pack_sequence([L.zeros(3), L.zeros(2)]), total_length=2),
    'padding_side': lambda L: L.nn.utils.rnn.pad_sequence([L.zeros(2)], padding_side='top'),
    'empty list': lambda L: L.nn.utils.rnn.pad_sequence([]),
    'trailing shapes': lambda L: L.nn.utils.rnn.pad_sequence([L.zeros(3, 2), L.zeros(2, 3)]),
}


@pytest.mark.parametrize('case', list(UTIL_ERRORS))
def test_utils_errors_match_torch(case):
    _raises_like(lambda: UTIL_ERRORS[case](ember), lambda: UTIL_ERRORS[case](torch))


def test_lengths_beyond_the_padded_length_raise():
    """torch reads past the input here; ember raises instead."""
    with pytest.raises(RuntimeError, match='at most the padded length 3, but got 4'):
        ember.nn.utils.rnn.pack_padded_sequence(ember.zeros(3, 2, 1), [4, 2])


# ---- finite differences of the Ops ---------------------------------------------------------------
def _params(rng, kind, layers, bidir, proj=0, i=2, h=3):
    gates = {'lstm': 4, 'gru': 3}.get(kind, 1)
    out = proj or h
    ps = []
    for layer in range(layers):
        for _ in range(2 if bidir else 1):
            width = i if layer == 0 else out * (2 if bidir else 1)
            ps += [rng.standard_normal((gates * h, width)) * 0.5,
                   rng.standard_normal((gates * h, out)) * 0.5,
                   rng.standard_normal(gates * h) * 0.5, rng.standard_normal(gates * h) * 0.5]
            if proj:
                ps.append(rng.standard_normal((proj, h)) * 0.5)
    return ps


@pytest.mark.parametrize('kind,proj', [('lstm', 0), ('lstm', 2), ('gru', 0), ('rnn_tanh', 0),
                                       ('rnn_relu', 0)])
@pytest.mark.parametrize('packed', [False, True])
def test_layer_ops_gradcheck(kind, proj, packed):
    """ember.lstm / gru / rnn_* (two layers, bidirectional) against finite differences in
    float64, with respect to the input, the initial states and every weight."""
    rng = np.random.default_rng(12)
    hid = 3 if proj else 2
    out = proj or hid
    x = rng.standard_normal((5, 2) if packed else (3, 2, 2))
    batch = 2
    states = [rng.standard_normal((4, batch, out))]
    if kind == 'lstm':
        states.append(rng.standard_normal((4, batch, hid)))
    params = _params(rng, kind, 2, True, proj, h=hid)
    fn = getattr(rnn_ops, kind)
    n_states = len(states)

    def run(x, *rest):
        hx = rest[:n_states]
        hx = tuple(hx) if kind == 'lstm' else hx[0]
        ps = list(rest[n_states:])
        if packed:
            return fn(x, ember.tensor([2, 2, 1]), hx, ps, True, 2, 0.0, False, True)
        return fn(x, hx, ps, True, 2, 0.0, False, True, False)
    gradcheck(run, x, *states, *params)


@pytest.mark.parametrize('kind', ['rnn_tanh_cell', 'rnn_relu_cell', 'lstm_cell', 'gru_cell'])
def test_cell_ops_gradcheck(kind):
    rng = np.random.default_rng(13)
    gates = {'lstm_cell': 4, 'gru_cell': 3}.get(kind, 1)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    ws = [rng.standard_normal((gates * 2, 3)), rng.standard_normal((gates * 2, 2)),
          rng.standard_normal(gates * 2), rng.standard_normal(gates * 2)]
    fn = getattr(rnn_ops, kind)
    if kind == 'lstm_cell':
        gradcheck(lambda x, h, c, *w: fn(x, (h, c), *w), x, h, c, *ws)
    else:
        gradcheck(lambda x, h, *w: fn(x, h, *w), x, h, *ws)


def test_packing_ops_gradcheck():
    rng = np.random.default_rng(14)
    U = ember.nn.utils.rnn
    gradcheck(lambda x: U.pack_padded_sequence(x, [2, 3, 1], enforce_sorted=False).data,
              rng.standard_normal((3, 3, 2)))
    packed = U.pack_padded_sequence(E(rng.standard_normal((3, 2, 2))), [3, 1])
    gradcheck(lambda d: U.pad_packed_sequence(U.PackedSequence(d, packed.batch_sizes),
                                              total_length=4)[0], to_np(packed.data))
    gradcheck(lambda a, b: U.pad_sequence([a, b], padding_side='left'),
              rng.standard_normal((2, 2)), rng.standard_normal((3, 2)))


# ---- GPU -----------------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize('kind,proj', KINDS)
def test_cuda_matches_cpu(kind, proj):
    """The same layer on the GPU (CuPy) and the CPU: outputs and gradients, packed input."""
    cpu = make(kind, proj, num_layers=2, bidirectional=True)(ember).double()
    gpu = make(kind, proj, num_layers=2, bidirectional=True)(ember).double()
    gpu.load_state_dict(cpu.state_dict())
    gpu = gpu.cuda()
    x = np.random.default_rng(15).standard_normal((STEPS, 4, I))
    results = []
    for m, dev in ((cpu, 'cpu'), (gpu, 'cuda')):
        xt = ember.tensor(x, device=dev, requires_grad=True)
        packed = ember.nn.utils.rnn.pack_padded_sequence(xt, LENGTHS['unsorted'],
                                                         enforce_sorted=False)
        out, _ = ember.nn.utils.rnn.pad_packed_sequence(m(packed)[0])
        (out * out).sum().backward()
        results.append([out, xt.grad] + [p.grad for p in m.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-9, atol=1e-12)
