"""ember vs torch on pooling layers (float32), forward and forward+backward: the pooling shapes
of the LeNet, ResNet-34 and Conv1d-text workloads of benchmarks/conv.py, plus a few others.

    python benchmarks/pooling.py            # everything, CPU
    python benchmarks/pooling.py --quick    # fewer repeats
    python benchmarks/pooling.py --device cuda
    python benchmarks/pooling.py --threads 1   # torch on one thread
    python benchmarks/pooling.py --cpu-time    # both on one thread, CPU time (busy machines)

Both libraries run the same layer on the same data. Ratios are ember time / torch time (below 1
means ember is faster).
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import ember  # noqa: E402
from benchmarks.common import compare, print_header, print_row  # noqa: E402

# (label, layer constructor as a function of the nn module, input shape)
CASES = [
    ('MaxPool2d(2)', lambda nn: nn.MaxPool2d(2), (64, 6, 28, 28)),
    ('MaxPool2d(2)', lambda nn: nn.MaxPool2d(2), (32, 64, 64, 64)),
    ('MaxPool2d(3, 2, 1)', lambda nn: nn.MaxPool2d(3, 2, 1), (1, 64, 112, 112)),
    ('MaxPool2d(3, 2, 1)', lambda nn: nn.MaxPool2d(3, 2, 1), (32, 64, 56, 56)),
    ('AvgPool2d(2)', lambda nn: nn.AvgPool2d(2), (64, 6, 28, 28)),
    ('AvgPool2d(2)', lambda nn: nn.AvgPool2d(2), (32, 64, 64, 64)),
    ('AvgPool2d(3, 2, 1)', lambda nn: nn.AvgPool2d(3, 2, 1), (32, 64, 56, 56)),
    ('AdaptiveAvgPool2d(1)', lambda nn: nn.AdaptiveAvgPool2d(1), (1, 512, 7, 7)),
    ('AdaptiveAvgPool2d(1)', lambda nn: nn.AdaptiveAvgPool2d(1), (32, 512, 7, 7)),
    ('AdaptiveAvgPool2d(7)', lambda nn: nn.AdaptiveAvgPool2d(7), (8, 256, 13, 13)),
    ('AdaptiveMaxPool2d(1)', lambda nn: nn.AdaptiveMaxPool2d(1), (32, 512, 7, 7)),
    ('AdaptiveMaxPool2d(5)', lambda nn: nn.AdaptiveMaxPool2d(5), (8, 64, 13, 13)),
    ('FractionalMaxPool2d(3, 14)', lambda nn: nn.FractionalMaxPool2d(3, output_size=14),
     (8, 64, 28, 28)),
    ('MaxPool1d(2)', lambda nn: nn.MaxPool1d(2), (32, 16, 196)),
    ('MaxPool1d(3, 1, 1)', lambda nn: nn.MaxPool1d(3, 1, 1), (32, 128, 196)),
    ('AvgPool1d(2)', lambda nn: nn.AvgPool1d(2), (32, 16, 196)),
    ('MaxPool3d(2)', lambda nn: nn.MaxPool3d(2), (4, 16, 16, 32, 32)),
]


class Lib:
    """One library (ember or torch) on one device."""

    def __init__(self, mod, device):
        self.mod, self.device = mod, device

    def t(self, a, grad=False):
        x = self.mod.tensor(a, device=self.device)
        return x.requires_grad_() if grad else x

    def timed(self, fn):
        """``fn`` followed by a device synchronisation on CUDA."""
        if self.device == 'cpu':
            return fn
        sync = (ember.cuda if self.mod is ember else torch.cuda).synchronize

        def run():
            fn()
            sync()
        return run


def cpu_compare(ember_fn, torch_fn, min_time=0.2, repeats=5):
    """(ember seconds, torch seconds) of CPU time per call, best of ``repeats``, alternating:
    steadier than wall time when other processes compete for the cores."""
    best = [float('inf'), float('inf')]
    for _ in range(2):
        for i, fn in enumerate((ember_fn, torch_fn)):
            fn()
            n = 1
            while True:
                t0 = time.process_time()
                for _ in range(n):
                    fn()
                dt = time.process_time() - t0
                if dt > min_time / (2 * repeats):
                    break
                n *= 2
            best[i] = min(best[i], dt / n)
            for _ in range(repeats - 1):
                t0 = time.process_time()
                for _ in range(n):
                    fn()
                best[i] = min(best[i], (time.process_time() - t0) / n)
    return tuple(best)


def forward_run(lib, layer, a):
    x = lib.t(a)
    return lib.timed(lambda: layer(x))


def backward_run(lib, layer, a, g):
    x = lib.t(a, True)
    grad = lib.t(g)

    def run():
        layer(x).backward(grad)
        x.grad = None
    return lib.timed(run)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--device', default='cpu')
    p.add_argument('--quick', action='store_true')
    p.add_argument('--threads', type=int, default=None, help="torch's intra-op threads")
    p.add_argument('--cpu-time', action='store_true',
                   help='time CPU seconds with both libraries on one thread')
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    timer = compare
    if args.cpu_time:
        torch.set_num_threads(1)
        ember.set_num_threads(1)
        timer = cpu_compare
    min_time = 0.1 if args.quick else 0.4
    libs = [Lib(ember, args.device), Lib(torch, args.device)]
    print(f'ember {ember.__version__} vs torch {torch.__version__}, device {args.device}, '
          f'torch threads {torch.get_num_threads()}')
    print_header('pooling layers, float32' + (', CPU time' if args.cpu_time else ''), width=52)
    rng = np.random.default_rng(0)
    for label, ctor, shape in CASES:
        a = rng.standard_normal(shape).astype(np.float32)
        layers = [ctor(lib.mod.nn) for lib in libs]
        out_shape = tuple(layers[1](torch.from_numpy(a)).shape)
        g = rng.standard_normal(out_shape).astype(np.float32)
        name = f'{label} {shape}'
        e, t = timer(*[forward_run(lib, m, a) for lib, m in zip(libs, layers)],
                     min_time=min_time)
        print_row(f'{name} fwd', e, t, width=52)
        e, t = timer(*[backward_run(lib, m, a, g) for lib, m in zip(libs, layers)],
                     min_time=min_time)
        print_row(f'{name} fwd+bwd', e, t, width=52)


if __name__ == '__main__':
    main()
