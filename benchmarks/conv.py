"""ember vs torch on convolutional models: the four workloads of the convolution issue (training
steps and inference, float32), plus single convolution layers forward and forward+backward.

    python benchmarks/conv.py                 # everything, CPU, all cores
    python benchmarks/conv.py --only layers   # layers, lenet, convbn, resnet34 or text
    python benchmarks/conv.py --quick         # fewer repeats
    python benchmarks/conv.py --threads 1     # one thread in BLAS, torch and ember
    python benchmarks/conv.py --device cuda

Both libraries run the same model code with the same weights (torch's initialisation copied into
ember) on the same data. Ratios are ember time / torch time (below 1 means ember is faster).
The models need MaxPool1d/MaxPool2d and AdaptiveAvgPool2d from ember.nn. On a machine shared
with other jobs, multi-threaded timings swing widely (BLAS and OpenMP threads wait for a busy
core); ``--threads 1`` gives steadier ratios of the work each library does.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import (  # noqa: E402
    compare, parse_args, print_header, print_row, run_sections, threads_from_argv)

threads_from_argv()

import numpy as np  # noqa: E402
import torch  # noqa: E402

import ember  # noqa: E402


class Lib:
    """One library (ember or torch) on one device."""

    def __init__(self, mod, device):
        self.mod, self.device = mod, device
        self.nn, self.F = mod.nn, mod.nn.functional

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


def same_weights(models, libs):
    """Copy the torch model's state into the ember one; move both to their device."""
    state = {k: v.detach().cpu().numpy().copy() for k, v in models[1].state_dict().items()}
    models[0].load_state_dict({k: ember.tensor(v) for k, v in state.items()})
    for m, lib in zip(models, libs):
        m.to(lib.device)


# ---- models (the same code builds the ember and the torch version) ----------------------------
def lenet(nn):
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def conv_bn_stack(nn):
    def block(cin, cout, stride=1):
        return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    return nn.Sequential(*block(3, 32), *block(32, 32), *block(32, 64, 2), *block(64, 64),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def resnet34(nn):
    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                                nn.BatchNorm2d(cout))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(BasicBlock(cin, cout, stride if i == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    return nn.Sequential(*layers)


def text_cnn(nn):
    class TextCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(10000, 3)
            self.conv1 = nn.Conv1d(3, 16, 5)
            self.pool1 = nn.MaxPool1d(2)
            self.conv2 = nn.Conv1d(16, 128, 2)
            self.pool2 = nn.MaxPool1d(2)
            self.fc = nn.Linear(6144, 1)

        def forward(self, tokens):
            x = self.embedding(tokens).transpose(1, 2)          # (N, 3, 200)
            x = self.pool2(self.conv2(self.pool1(self.conv1(x))))
            return self.fc(x.flatten(1))
    return TextCNN()


# ---- sections ---------------------------------------------------------------------------------
def training_step(lib, model, x, y, loss_fn):
    opt = lib.mod.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return lib.timed(step)


def section_train(libs, name, build, x_np, y_np, loss, min_time, repeats):
    print_header(f'{name}, training step (SGD momentum), float32')
    models = [build(lib.nn) for lib in libs]
    same_weights(models, libs)
    runs = []
    for lib, model in zip(libs, models):
        model.train()
        x = lib.t(x_np)
        y = lib.t(y_np)
        loss_fn = getattr(lib.F, loss)
        runs.append(training_step(lib, model, x, y, loss_fn))
    e, t = compare(*runs, min_time=min_time, repeats=repeats)
    print_row('training step', e, t)


def section_resnet34(libs, min_time, repeats):
    print_header('ResNet-34 inference, one 3x224x224 image, float32')
    models = [resnet34(lib.nn) for lib in libs]
    same_weights(models, libs)
    x_np = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    runs = []
    for lib, model in zip(libs, models):
        model.eval()
        x = lib.t(x_np)

        def infer(model=model, x=x, mod=lib.mod):
            with mod.no_grad():
                model(x)
        runs.append(lib.timed(infer))
    e, t = compare(*runs, min_time=min_time, repeats=repeats)
    print_row('forward (eval, no_grad)', e, t)


LAYERS = [  # (label, dims, batch, in_channels, size, out_channels, kernel, stride, padding)
    ('LeNet conv1', 2, 64, 3, 32, 6, 5, 1, 0),
    ('LeNet conv2', 2, 64, 6, 14, 16, 5, 1, 0),
    ('conv-BN conv 3->32 @64', 2, 32, 3, 64, 32, 3, 1, 1),
    ('conv-BN conv 32->32 @64', 2, 32, 32, 64, 32, 3, 1, 1),
    ('conv-BN conv 32->64 /2 @64', 2, 32, 32, 64, 64, 3, 2, 1),
    ('conv-BN conv 64->64 @32', 2, 32, 64, 32, 64, 3, 1, 1),
    ('ResNet-34 stem 7x7/2', 2, 1, 3, 224, 64, 7, 2, 3),
    ('ResNet-34 64->64 @56', 2, 1, 64, 56, 64, 3, 1, 1),
    ('ResNet-34 64->128 /2 @56', 2, 1, 64, 56, 128, 3, 2, 1),
    ('ResNet-34 1x1 64->128 /2', 2, 1, 64, 56, 128, 1, 2, 0),
    ('ResNet-34 128->128 @28', 2, 1, 128, 28, 128, 3, 1, 1),
    ('ResNet-34 256->256 @14', 2, 1, 256, 14, 256, 3, 1, 1),
    ('ResNet-34 512->512 @7', 2, 1, 512, 7, 512, 3, 1, 1),
    ('text Conv1d 3->16 k5 @200', 1, 32, 3, 200, 16, 5, 1, 0),
    ('text Conv1d 16->128 k2 @98', 1, 32, 16, 98, 128, 2, 1, 0),
]


def section_layers(libs, min_time, repeats):
    print_header('Conv layers, float32 (batch, channels, size in the label)', width=52)
    rng = np.random.default_rng(1)
    for label, d, n, cin, size, cout, k, s, p in LAYERS:
        x_np = rng.standard_normal((n, cin) + (size,) * d).astype(np.float32)
        models = [getattr(lib.nn, f'Conv{d}d')(cin, cout, k, s, p) for lib in libs]
        same_weights(models, libs)
        out = models[1](torch.from_numpy(x_np))
        g_np = rng.standard_normal(tuple(out.shape)).astype(np.float32)
        for mode in ('fwd', 'fwd+bwd'):
            runs = []
            for lib, m in zip(libs, models):
                x = lib.t(x_np, mode != 'fwd')
                if mode == 'fwd':
                    def run(m=m, x=x, mod=lib.mod):
                        with mod.no_grad():
                            m(x)
                else:
                    g = lib.t(g_np)

                    def run(m=m, x=x, g=g):
                        m(x).backward(g)
                        x.grad = None
                        m.weight.grad = m.bias.grad = None
                runs.append(lib.timed(run))
            e, t = compare(*runs, min_time=min_time, repeats=repeats)
            print_row(f'{label} {mode}', e, t, width=52)


SECTIONS = ('layers', 'lenet', 'convbn', 'resnet34', 'text')


def main():
    args = parse_args(__doc__, SECTIONS)
    min_time, repeats = (0.3, 3) if args.quick else (1.0, 5)
    libs = [Lib(ember, args.device), Lib(torch, args.device)]
    print(f'ember {ember.__version__} vs torch {torch.__version__}, device {args.device}, '
          f'torch threads {torch.get_num_threads()}')
    rng = np.random.default_rng(0)
    sections = {
        'layers': lambda: section_layers(libs, min_time, repeats),
        'lenet': lambda: section_train(
            libs, 'LeNet, batch 64, 3x32x32', lenet,
            rng.standard_normal((64, 3, 32, 32)).astype(np.float32),
            rng.integers(0, 10, 64), 'cross_entropy', min_time, repeats),
        'convbn': lambda: section_train(
            libs, 'conv-BN-ReLU stack (3->32->32->64/2->64), batch 32, 3x64x64', conv_bn_stack,
            rng.standard_normal((32, 3, 64, 64)).astype(np.float32),
            rng.integers(0, 10, 32), 'cross_entropy', min_time, repeats),
        'resnet34': lambda: section_resnet34(libs, min_time, repeats),
        'text': lambda: section_train(
            libs, 'Conv1d text model, batch 32, length 200', text_cnn,
            rng.integers(0, 10000, (32, 200)), rng.integers(0, 2, (32, 1)).astype(np.float32),
            'binary_cross_entropy_with_logits', min_time, repeats),
    }
    run_sections(sections, args.only)


if __name__ == '__main__':
    main()
