"""ember vs torch on recurrent layers (float32), the workloads of the RNN issue and a few more:

  * 2-layer LSTM(64 -> 256), batch 32, 100 steps, batch_first, + Linear head: a training step
    with Adam (MSE loss, backward, optimizer step);
  * GRU(64 -> 32) on input (8, 200, 64) (8 steps, batch 200): forward only;
  * LSTM / GRU / RNN forward and forward+backward, bidirectional, packed input, and cells.

    python benchmarks/rnn.py                 # everything, CPU, all cores
    python benchmarks/rnn.py --quick         # fewer repeats
    python benchmarks/rnn.py --only lstm     # one section: lstm, gru, layers, packed, cells
    python benchmarks/rnn.py --threads 1     # one thread in BLAS, torch and ember
    python benchmarks/rnn.py --device cuda

Ratios are ember time / torch time (below 1 means ember is faster). Both libraries get the
same weights (torch's initialisation copied into ember) and the same inputs. The two issue
workloads alternate ember and torch call by call and print the best times with their ratio,
then the ratio of the medians. On a machine shared with other jobs, multi-threaded timings
swing widely (threads wait for a busy core, torch's most of all); ``--threads 1`` gives
steadier ratios of the work each library does.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import (  # noqa: E402
    compare, fmt_time, parse_args, print_header, print_row, run_sections, threads_from_argv)

threads_from_argv()

import numpy as np  # noqa: E402
import torch  # noqa: E402

import ember  # noqa: E402


class Lib:
    """The same model and tensors in ember or torch."""

    def __init__(self, mod, device):
        self.mod, self.device = mod, device

    def t(self, a, grad=False):
        x = self.mod.tensor(a, device=self.device)
        return x.requires_grad_() if grad else x

    def timed(self, fn):
        if self.device != 'cuda':
            return fn
        sync = (ember.cuda if self.mod is ember else torch.cuda).synchronize

        def run():
            fn()
            sync()
        return run


def interleaved(ember_fn, torch_fn, rounds, batch_time=0.02):
    """(ember best, torch best, ember median, torch median) seconds per call. The two alternate
    batch by batch (each batch of calls lasting about ``batch_time``), so bursts of load from
    other jobs on a shared machine hit both; the median shows what a run typically gets."""
    ember_fn()
    torch_fn()
    counts = []
    for fn in (ember_fn, torch_fn):
        t0 = time.perf_counter()
        fn()
        counts.append(max(1, int(batch_time / max(time.perf_counter() - t0, 1e-9))))
    times = ([], [])
    for _ in range(rounds):
        for fn, n, out in zip((ember_fn, torch_fn), counts, times):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            out.append((time.perf_counter() - t0) / n)
    e, t = sorted(times[0]), sorted(times[1])
    return e[0], t[0], e[len(e) // 2], t[len(t) // 2]


def print_pair(name, e_best, t_best, e_med, t_med, width=44):
    """One row: best times and their ratio, then the ratio of the medians."""
    print(f'{name:<{width}} {fmt_time(e_best)} {fmt_time(t_best)}   {e_best / t_best:6.2f}x'
          f'   (medians {fmt_time(e_med).strip()} / {fmt_time(t_med).strip()}: '
          f'{e_med / t_med:.2f}x)', flush=True)


def build(libs, ctor):
    """{module name: model} built by ``ctor(nn)`` in each library, torch's weights copied."""
    models = {lib.mod.__name__: ctor(lib.mod.nn) for lib in libs}
    state = {k: v.detach().numpy().copy() for k, v in models['torch'].state_dict().items()}
    for lib in libs:
        model = models[lib.mod.__name__]
        model.load_state_dict({k: lib.mod.tensor(v) for k, v in state.items()})
        if lib.device != 'cpu':
            model.to(lib.device)
    return models


def section_lstm_training(libs, rounds):
    """The issue's first workload: LSTM + Linear head, MSE loss, Adam."""
    print_header('2-layer LSTM(64 -> 256) + Linear(256 -> 10), batch 32, 100 steps, '
                 'batch_first: training step with Adam')
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((32, 100, 64)).astype(np.float32)
    ya = rng.standard_normal((32, 100, 10)).astype(np.float32)

    def ctor(nn):
        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(64, 256, num_layers=2, batch_first=True)
                self.head = nn.Linear(256, 10)

            def forward(self, x):
                return self.head(self.lstm(x)[0])
        return Model()

    models = build(libs, ctor)
    runs = []
    for lib in libs:
        model, mod = models[lib.mod.__name__], lib.mod
        opt = mod.optim.Adam(model.parameters(), lr=1e-3)
        x, y = lib.t(xa), lib.t(ya)

        def step(model=model, opt=opt, x=x, y=y, mod=mod):
            opt.zero_grad()
            loss = mod.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
        runs.append(lib.timed(step))
    print_pair('training step (Adam)', *interleaved(*runs, rounds=rounds, batch_time=0))


def section_gru_forward(libs, rounds):
    """The issue's second workload: GRU(64 -> 32) forward on (8, 200, 64)."""
    print_header('GRU(64 -> 32), input (8, 200, 64): forward')
    rng = np.random.default_rng(1)
    xa = rng.standard_normal((8, 200, 64)).astype(np.float32)
    models = build(libs, lambda nn: nn.GRU(64, 32))
    for grad in (False, True):
        runs = []
        for lib in libs:
            gru, mod, x = models[lib.mod.__name__], lib.mod, lib.t(xa)

            def fwd(gru=gru, x=x, mod=mod, grad=grad):
                with mod.set_grad_enabled(grad):
                    gru(x)
            runs.append(lib.timed(fwd))
        print_pair('forward' + (', weights tracking grad' if grad else ', no_grad'),
                   *interleaved(*runs, rounds=rounds))


def _fwd_bwd(model, x):
    def run():
        out = model(x)[0]
        out = out.data if hasattr(out, 'batch_sizes') else out
        out.sum().backward()
        model.zero_grad()
        x.grad = None
    return run


def section_layers(libs, min_time):
    """Other shapes and options: forward (no_grad) and forward+backward."""
    print_header('layers, float32: forward (no_grad) and forward+backward')
    rng = np.random.default_rng(2)
    cases = [
        ('LSTM(128, 128), (50, 16, 128)', lambda nn: nn.LSTM(128, 128), (50, 16, 128)),
        ('LSTM(128, 128, bidirectional), (50, 16, 128)',
         lambda nn: nn.LSTM(128, 128, bidirectional=True), (50, 16, 128)),
        ('LSTM(128, 128, proj_size=64), (50, 16, 128)',
         lambda nn: nn.LSTM(128, 128, proj_size=64), (50, 16, 128)),
        ('GRU(128, 128, 2 layers), (50, 16, 128)', lambda nn: nn.GRU(128, 128, 2),
         (50, 16, 128)),
        ('RNN(128, 128), (50, 16, 128)', lambda nn: nn.RNN(128, 128), (50, 16, 128)),
    ]
    for name, ctor, shape in cases:
        xa = rng.standard_normal(shape).astype(np.float32)
        models = build(libs, ctor)
        for mode in ('fwd', 'fwd+bwd'):
            runs = []
            for lib in libs:
                model, mod = models[lib.mod.__name__], lib.mod
                x = lib.t(xa, mode != 'fwd')
                if mode == 'fwd':
                    def run(model=model, x=x, mod=mod):
                        with mod.no_grad():
                            model(x)
                else:
                    run = _fwd_bwd(model, x)
                runs.append(lib.timed(run))
            e, t = compare(*runs, min_time=min_time, repeats=3)
            print_row(f'{name} {mode}', e, t, width=56)


def section_packed(libs, min_time):
    """A packed batch of 32 sequences of lengths 10..100 through a 1-layer LSTM(64, 128)."""
    print_header('packed: LSTM(64, 128), 32 sequences of lengths 10..100, enforce_sorted=False')
    rng = np.random.default_rng(3)
    lengths = rng.integers(10, 101, 32)
    xa = rng.standard_normal((100, 32, 64)).astype(np.float32)
    models = build(libs, lambda nn: nn.LSTM(64, 128))
    runs = []
    for lib in libs:
        model, mod = models[lib.mod.__name__], lib.mod
        x = lib.t(xa, True)
        utils = mod.nn.utils.rnn

        def run(model=model, x=x, utils=utils, lengths=lengths):
            packed = utils.pack_padded_sequence(x, lengths.tolist(), enforce_sorted=False)
            out, _ = utils.pad_packed_sequence(model(packed)[0])
            out.sum().backward()
            model.zero_grad()
            x.grad = None
        runs.append(lib.timed(run))
    e, t = compare(*runs, min_time=min_time, repeats=3)
    print_row('pack + LSTM + pad, fwd+bwd', e, t, width=56)


def section_cells(libs, min_time):
    """One cell step on a small batch (per-call overhead) with backward."""
    print_header('cells: batch 16, 64 -> 64, one step forward+backward')
    rng = np.random.default_rng(4)
    xa = rng.standard_normal((16, 64)).astype(np.float32)
    for cell in ('RNNCell', 'LSTMCell', 'GRUCell'):
        models = build(libs, lambda nn, cell=cell: getattr(nn, cell)(64, 64))
        runs = []
        for lib in libs:
            model, x = models[lib.mod.__name__], lib.t(xa, True)

            def run(model=model, x=x):
                out = model(x)
                out = out[0] if isinstance(out, tuple) else out
                out.sum().backward()
                model.zero_grad()
                x.grad = None
            runs.append(lib.timed(run))
        e, t = compare(*runs, min_time=min_time)
        print_row(f'{cell} fwd+bwd', e, t, width=56)


SECTIONS = ('lstm', 'gru', 'layers', 'packed', 'cells')


def main():
    args = parse_args(__doc__, SECTIONS)
    min_time = 0.3 if args.quick else 1.0
    rounds = 7 if args.quick else 15
    libs = [Lib(ember, args.device), Lib(torch, args.device)]
    print(f'ember {ember.__version__} vs torch {torch.__version__}, device {args.device}, '
          f'threads: ember {ember.get_num_threads()}, torch {torch.get_num_threads()}')
    sections = {
        'lstm': lambda: section_lstm_training(libs, rounds),
        'gru': lambda: section_gru_forward(libs, rounds),
        'layers': lambda: section_layers(libs, min_time),
        'packed': lambda: section_packed(libs, min_time),
        'cells': lambda: section_cells(libs, min_time),
    }
    run_sections(sections, args.only)


if __name__ == '__main__':
    main()
