"""ember vs torch, per op: small tensors (per-op overhead) and large ones (throughput),
forward and forward+backward, plus a 10-layer batch-1 MLP training step.

    python benchmarks/ops.py            # everything, float32, CPU
    python benchmarks/ops.py --quick    # fewer repeats
    python benchmarks/ops.py --device cuda

Ratios are ember time / torch time (below 1 means ember is faster).
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import ember  # noqa: E402
from benchmarks.common import compare, print_header, print_row  # noqa: E402

UNARY = {
    'exp': lambda x: x.exp(), 'log': lambda x: x.log(), 'tanh': lambda x: x.tanh(),
    'sigmoid': lambda x: x.sigmoid(), 'relu': lambda x: x.relu(), 'sqrt': lambda x: x.sqrt(),
    'neg': lambda x: -x,
}
BINARY = {'add': lambda a, b: a + b, 'mul': lambda a, b: a * b, 'div': lambda a, b: a / b,
          'sub': lambda a, b: a - b, 'maximum': lambda a, b: a.maximum(b)}
REDUCE = {
    'sum': lambda x: x.sum(), 'mean': lambda x: x.mean(), 'sum(dim=-1)': lambda x: x.sum(-1),
    'sum(dim=0)': lambda x: x.sum(0), 'var': lambda x: x.var(), 'amax(dim=-1)': lambda x: x.amax(-1),
    'max(dim=-1)': lambda x: x.max(-1)[0], 'softmax(-1)': lambda x: x.softmax(-1),
    'log_softmax(-1)': lambda x: x.log_softmax(-1), 'logsumexp(-1)': lambda x: x.logsumexp(-1),
}


class Lib:
    """Builds the same tensors in ember or torch from NumPy arrays."""

    def __init__(self, mod, device):
        self.mod, self.device = mod, device

    def t(self, a, grad=False):
        x = self.mod.tensor(a, device=self.device)
        return x.requires_grad_() if grad else x

    def sync(self):
        if self.device == 'cuda':
            (ember.cuda if self.mod is ember else torch.cuda).synchronize()


def timed(lib, fn):
    if lib.device == 'cuda':
        def run():
            fn()
            lib.sync()
        return run
    return fn


def fwd_bwd(fn, inputs, grad_out):
    def run():
        out = fn(*inputs)
        out.backward(grad_out)
        for x in inputs:
            x.grad = None
    return run


def section_elementwise(libs, shape, min_time, label):
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, shape).astype(np.float32)
    b = rng.uniform(0.5, 2.0, shape).astype(np.float32)
    print_header(f'{label}: elementwise {shape} float32')
    for name, f in list(BINARY.items()) + [(k, v) for k, v in UNARY.items()]:
        binary = name in BINARY
        for mode in ('fwd', 'fwd+bwd'):
            runs = []
            for lib in libs:
                xs = [lib.t(a, mode != 'fwd')] + ([lib.t(b, mode != 'fwd')] if binary else [])
                if mode == 'fwd':
                    runs.append(timed(lib, lambda f=f, xs=xs: f(*xs)))
                else:
                    g = lib.t(np.ones(shape, np.float32))
                    runs.append(timed(lib, fwd_bwd(f, xs, g)))
            e, t = compare(*runs, min_time=min_time)
            print_row(f'{name} {mode}', e, t)


def section_reduce(libs, shape, min_time):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape).astype(np.float32)
    print_header(f'reductions {shape} float32')
    for name, f in REDUCE.items():
        for mode in ('fwd', 'fwd+bwd'):
            runs = []
            for lib in libs:
                x = lib.t(a, mode != 'fwd')
                if mode == 'fwd':
                    runs.append(timed(lib, lambda f=f, x=x: f(x)))
                else:
                    out_shape = tuple(f(lib.t(a)).shape)
                    g = lib.t(np.ones(out_shape, np.float32))
                    runs.append(timed(lib, fwd_bwd(f, [x], g)))
            e, t = compare(*runs, min_time=min_time)
            print_row(f'{name} {mode}', e, t)


def section_matmul(libs, min_time):
    rng = np.random.default_rng(2)
    print_header('matmul float32')
    for m, k, n in ((64, 512, 512), (512, 512, 512), (1024, 1024, 1024)):
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        for mode in ('fwd', 'fwd+bwd'):
            runs = []
            for lib in libs:
                x, y = lib.t(a, mode != 'fwd'), lib.t(b, mode != 'fwd')
                if mode == 'fwd':
                    runs.append(timed(lib, lambda x=x, y=y: x @ y))
                else:
                    runs.append(timed(lib, fwd_bwd(lambda p, q: p @ q, [x, y],
                                                   lib.t(np.ones((m, n), np.float32)))))
            e, t = compare(*runs, min_time=min_time)
            print_row(f'({m}x{k}) @ ({k}x{n}) {mode}', e, t)


def section_small(libs, min_time):
    """Per-op overhead: a chain of small ops with grad tracking, forward+backward."""
    print_header('small-op overhead, forward+backward with grad tracking')
    rng = np.random.default_rng(3)
    for shape in ((1,), (32, 32)):
        a = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        b = rng.uniform(0.5, 1.5, shape).astype(np.float32)

        def chain(x, y):
            z = x * y + x
            z = z.tanh() * y - x / y
            return z.relu().sum()
        runs = []
        for lib in libs:
            x, y = lib.t(a, True), lib.t(b, True)

            def run(x=x, y=y):
                chain(x, y).backward()
                x.grad = None
                y.grad = None
            runs.append(timed(lib, run))
        e, t = compare(*runs, min_time=min_time)
        print_row(f'8-op chain {shape} fwd+bwd', e, t)
        runs = []
        for lib in libs:
            x, y = lib.t(a), lib.t(b)
            runs.append(timed(lib, lambda x=x, y=y: x * y))
        e, t = compare(*runs, min_time=min_time)
        print_row(f'mul {shape} fwd, no grad', e, t)
        runs = []
        for lib in libs:
            x, y = lib.t(a, True), lib.t(b, True)
            runs.append(timed(lib, lambda x=x, y=y: x * y))
        e, t = compare(*runs, min_time=min_time)
        print_row(f'mul {shape} fwd, grad tracking', e, t)


def section_mlp(libs, min_time, width=64, depth=10):
    """A 10-layer batch-1 MLP training step: nn.Linear + ReLU layers, MSE loss, backward, and
    a plain SGD update under no_grad (the same model and weights in both libraries)."""
    print_header(f'{depth}-layer MLP (width {width}), batch 1, training step')
    rng = np.random.default_rng(4)
    xa = rng.standard_normal((1, width)).astype(np.float32)
    ya = rng.standard_normal((1, width)).astype(np.float32)
    layers = []
    for i in range(depth):
        layers += [('linear', i)] + ([('relu', i)] if i < depth - 1 else [])
    models = {}
    runs = []
    for lib in libs:
        nn = lib.mod.nn
        model = nn.Sequential(*[nn.Linear(width, width) if k == 'linear' else nn.ReLU()
                                for k, _ in layers])
        models[lib.mod.__name__] = model
    state = {k: v.detach().numpy().copy() for k, v in models['torch'].state_dict().items()}
    for lib in libs:
        model = models[lib.mod.__name__]
        model.load_state_dict({k: lib.mod.tensor(v) for k, v in state.items()})
        if lib.device != 'cpu':
            model.to(lib.device)
        params = list(model.parameters())
        x, y, mod = lib.t(xa), lib.t(ya), lib.mod

        def step(model=model, params=params, x=x, y=y, mod=mod):
            loss = mod.nn.functional.mse_loss(model(x), y)
            loss.backward()
            with mod.no_grad():
                for p in params:
                    p -= 0.01 * p.grad
                    p.grad = None
        runs.append(timed(lib, step))
    e, t = compare(*runs, min_time=min_time)
    print_row('training step', e, t)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--device', default='cpu')
    p.add_argument('--quick', action='store_true')
    p.add_argument('--only', default=None, help='small, mlp, elementwise, reduce, matmul')
    args = p.parse_args()
    min_time = 0.1 if args.quick else 0.4
    libs = [Lib(ember, args.device), Lib(torch, args.device)]
    print(f'ember {ember.__version__} vs torch {torch.__version__}, device {args.device}, '
          f'torch threads {torch.get_num_threads()}')
    sections = {
        'small': lambda: section_small(libs, min_time),
        'mlp': lambda: section_mlp(libs, min_time),
        'elementwise': lambda: (section_elementwise(libs, (32, 32), min_time, 'small'),
                                section_elementwise(libs, (1000, 1000), min_time, 'large')),
        'reduce': lambda: section_reduce(libs, (1024, 1024), min_time),
        'matmul': lambda: section_matmul(libs, min_time),
    }
    for name, run in sections.items():
        if args.only is None or args.only == name:
            run()


if __name__ == '__main__':
    main()
