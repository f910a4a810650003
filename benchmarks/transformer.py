"""ember vs torch on attention and Transformer layers (float32):

  * 2-layer TransformerEncoder (d_model 256, 8 heads, feed-forward 1024, batch_first), batch 16,
    128 tokens: a training step (forward, MSE loss, backward, AdamW step), dropout 0.1 and 0;
  * MultiheadAttention(64, 8) self-attention on (8, 200, 64): forward only, need_weights True
    (the default) and False, with and without autograd;
  * F.scaled_dot_product_attention (8, 8, 256, 64): forward (no_grad), forward+backward, causal;
  * TransformerDecoderLayer and Transformer training steps, encoder inference (eval, no_grad).

    python benchmarks/transformer.py            # everything, CPU
    python benchmarks/transformer.py --quick    # fewer repeats
    python benchmarks/transformer.py --only encoder
    python benchmarks/transformer.py --device cuda
    OPENBLAS_NUM_THREADS=1 python benchmarks/transformer.py --threads 1   # one core each

Ratios are ember time / torch time (below 1 means ember is faster). Both libraries get the
same weights (torch's initialisation copied into ember) and the same inputs.
"""
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import (  # noqa: E402
    compare, parse_args, print_header, print_row, run_sections, threads_from_argv)

threads_from_argv()

import numpy as np  # noqa: E402
import torch  # noqa: E402

import ember  # noqa: E402

WIDTH = 60


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


def build(libs, ctor):
    """{module name: model} built by ``ctor(nn)`` in each library, torch's weights copied."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        models = {lib.mod.__name__: ctor(lib.mod.nn) for lib in libs}
    state = {k: v.detach().numpy().copy() for k, v in models['torch'].state_dict().items()}
    for lib in libs:
        model = models[lib.mod.__name__]
        model.load_state_dict({k: lib.mod.tensor(v) for k, v in state.items()})
        if lib.device != 'cpu':
            model.to(lib.device)
    return models


def _training_rows(libs, ctor, inputs, target, min_time, label):
    """Time forward + MSE loss + backward + AdamW step of ``ctor(nn)`` on ``inputs``."""
    models = build(libs, ctor)
    runs = []
    for lib in libs:
        model, mod = models[lib.mod.__name__], lib.mod
        opt = mod.optim.AdamW(model.parameters(), lr=1e-4)
        xs, y = [lib.t(a) for a in inputs], lib.t(target)

        def step(model=model, opt=opt, xs=xs, y=y, mod=mod):
            opt.zero_grad()
            loss = mod.nn.functional.mse_loss(model(*xs), y)
            loss.backward()
            opt.step()
        runs.append(lib.timed(step))
    e, t = compare(*runs, min_time=min_time, repeats=3)
    print_row(label, e, t, width=WIDTH)


def section_encoder(libs, min_time):
    """The issue's first workload: a 2-layer encoder training step with AdamW."""
    print_header('TransformerEncoder: 2 layers, d_model 256, 8 heads, ff 1024, batch_first, '
                 'input (16, 128, 256): training step (AdamW)', WIDTH)
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((16, 128, 256)).astype(np.float32)
    ya = rng.standard_normal((16, 128, 256)).astype(np.float32)
    for dropout in (0.1, 0.0):
        def ctor(nn, dropout=dropout):
            layer = nn.TransformerEncoderLayer(256, 8, 1024, dropout, batch_first=True)
            return nn.TransformerEncoder(layer, 2)
        _training_rows(libs, ctor, [xa], ya, min_time, f'fwd + bwd + AdamW, dropout {dropout}')
    models = build(libs, lambda nn: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(256, 8, 1024, batch_first=True), 2))
    runs = []
    for lib in libs:
        model, mod, x = models[lib.mod.__name__].eval(), lib.mod, lib.t(xa)

        def fwd(model=model, x=x, mod=mod):
            with mod.no_grad():
                model(x)
        runs.append(lib.timed(fwd))
    e, t = compare(*runs, min_time=min_time, repeats=3)
    print_row('inference (eval, no_grad)', e, t, width=WIDTH)


def section_mha(libs, min_time):
    """The issue's second workload: MultiheadAttention(64, 8) self-attention forward."""
    print_header('MultiheadAttention(64, 8), batch_first, self-attention on (8, 200, 64): '
                 'forward', WIDTH)
    rng = np.random.default_rng(1)
    xa = rng.standard_normal((8, 200, 64)).astype(np.float32)
    models = build(libs, lambda nn: nn.MultiheadAttention(64, 8, batch_first=True))
    for grad in (False, True):
        for need_weights in (True, False):
            runs = []
            for lib in libs:
                mha, mod, x = models[lib.mod.__name__], lib.mod, lib.t(xa)

                def fwd(mha=mha, x=x, mod=mod, grad=grad, nw=need_weights):
                    with mod.set_grad_enabled(grad):
                        mha(x, x, x, need_weights=nw)
                runs.append(lib.timed(fwd))
            e, t = compare(*runs, min_time=min_time)
            print_row(f'need_weights={need_weights}, ' +
                      ('weights tracking grad' if grad else 'no_grad'), e, t, width=WIDTH)
    runs = []
    for lib in libs:
        mha, x = models[lib.mod.__name__], lib.t(xa, True)

        def fwd_bwd(mha=mha, x=x):
            mha(x, x, x, need_weights=False)[0].sum().backward()
            mha.zero_grad()
            x.grad = None
        runs.append(lib.timed(fwd_bwd))
    e, t = compare(*runs, min_time=min_time)
    print_row('need_weights=False, forward+backward', e, t, width=WIDTH)


def section_sdpa(libs, min_time):
    """The fused attention op alone."""
    print_header('F.scaled_dot_product_attention, q/k/v (8, 8, 256, 64)', WIDTH)
    rng = np.random.default_rng(2)
    qa, ka, va = (rng.standard_normal((8, 8, 256, 64)).astype(np.float32) for _ in range(3))
    for causal in (False, True):
        for mode in ('fwd', 'fwd+bwd'):
            runs = []
            for lib in libs:
                mod, grad = lib.mod, mode != 'fwd'
                q, k, v = lib.t(qa, grad), lib.t(ka, grad), lib.t(va, grad)
                sdpa = mod.nn.functional.scaled_dot_product_attention

                def run(q=q, k=k, v=v, mod=mod, sdpa=sdpa, grad=grad, causal=causal):
                    if not grad:
                        with mod.no_grad():
                            sdpa(q, k, v, is_causal=causal)
                        return
                    sdpa(q, k, v, is_causal=causal).sum().backward()
                    q.grad = k.grad = v.grad = None
                runs.append(lib.timed(run))
            e, t = compare(*runs, min_time=min_time, repeats=3)
            print_row(f'{mode}, is_causal={causal}', e, t, width=WIDTH)


def section_decoder(libs, min_time):
    """Decoder layer (causal self-attention + cross-attention) and a small Transformer."""
    print_header('decoder / full Transformer, d_model 256, 8 heads, ff 1024, batch_first, '
                 'batch 16: training step (AdamW, dropout 0.1)', WIDTH)
    rng = np.random.default_rng(3)
    src = rng.standard_normal((16, 128, 256)).astype(np.float32)
    tgt = rng.standard_normal((16, 64, 256)).astype(np.float32)
    mask = np.triu(np.full((64, 64), -np.inf, np.float32), 1)

    def decoder(nn):
        class Decoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = nn.TransformerDecoderLayer(256, 8, 1024, batch_first=True)

            def forward(self, t, m, mask):
                return self.layer(t, m, tgt_mask=mask, tgt_is_causal=True)
        return Decoder()
    _training_rows(libs, decoder, [tgt, src, mask], tgt, min_time,
                   'TransformerDecoderLayer, tgt 64, memory 128')
    _training_rows(libs, lambda nn: nn.Transformer(256, 8, 2, 2, 1024, batch_first=True),
                   [src, tgt], tgt, min_time, 'Transformer(2 + 2 layers), src 128, tgt 64')


SECTIONS = ('encoder', 'mha', 'sdpa', 'decoder')


def main():
    args = parse_args(__doc__, SECTIONS)
    min_time = 0.3 if args.quick else 1.0
    libs = [Lib(ember, args.device), Lib(torch, args.device)]
    print(f'ember {ember.__version__} vs torch {torch.__version__}, device {args.device}, '
          f'torch threads {torch.get_num_threads()}')
    sections = {
        'encoder': lambda: section_encoder(libs, min_time),
        'mha': lambda: section_mha(libs, min_time),
        'sdpa': lambda: section_sdpa(libs, min_time),
        'decoder': lambda: section_decoder(libs, min_time),
    }
    run_sections(sections, args.only)


if __name__ == '__main__':
    main()
