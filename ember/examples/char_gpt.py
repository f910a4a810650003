"""Train a small GPT-style character language model on Shakespeare with ember.

    python -m ember.examples.char_gpt [--steps 300] [--device cpu|cuda] [--seed 0]

Written exactly as a PyTorch script (``import ember as torch``): a decoder-only transformer
(token and learned position embeddings, pre-LayerNorm blocks of causal self-attention through
``F.scaled_dot_product_attention`` and a GELU MLP, a final LayerNorm and a linear head tied to
the token embedding) learns to predict the next character of an excerpt of Shakespeare's
plays. AdamW with linear warm-up then cosine decay, gradient clipping, a progress bar on a
terminal (tqdm when installed; a line every ``--log-every`` steps when the output is not a
terminal), train/validation loss every ``--eval-every`` steps, and finally a sample of text
drawn with temperature and top-k.
"""
import argparse
import math
import os
import time

import ember as torch
import ember.nn as nn
import ember.nn.functional as F
from ember.examples._progress import Progress

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'tinyshakespeare.txt')


# ---- data ------------------------------------------------------------------------------------

class CharVocab:
    """The sorted set of characters of a text; ``encode`` maps a string to an int64 tensor."""

    def __init__(self, text):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        """str of length N -> int64 tensor (N,)."""
        return torch.tensor([self.index[c] for c in text], dtype=torch.int64)

    def decode(self, ids):
        """1-d int tensor (or sequence of ints) -> str."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return ''.join(self.chars[i] for i in ids)


def load_corpus(path=DATA, val_fraction=0.1):
    """(vocab, train ids, val ids): the text's characters, split at ``1 - val_fraction``."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    vocab = CharVocab(text)
    data = vocab.encode(text)
    n_train = int(len(data) * (1 - val_fraction))
    return vocab, data[:n_train], data[n_train:]


def get_batch(data, batch_size, block_size, generator=None, device='cpu'):
    """Random windows of ``data``: inputs (B, T) and the next-character targets (B, T)."""
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    windows = data[starts.unsqueeze(1) + torch.arange(block_size + 1)]
    return windows[:, :-1].to(device), windows[:, 1:].to(device)


# ---- model -----------------------------------------------------------------------------------

class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions <= t: (B, T, C) -> (B, T, C)."""

    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f'n_embd ({n_embd}) must be divisible by n_head ({n_head})')
        self.n_head = n_head
        self.dropout = dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.resid_drop = nn.Dropout(dropout)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_size)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_drop(self.proj(y))


class MLP(nn.Module):
    """Position-wise feed-forward net C -> 4C -> C with GELU: (B, T, C) -> (B, T, C)."""

    def __init__(self, n_embd, dropout):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(),
                                 nn.Linear(4 * n_embd, n_embd), nn.Dropout(dropout))

    def forward(self, x):
        return self.net(x)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = MLP(n_embd, dropout)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class CharGPT(nn.Module):
    """Decoder-only transformer over characters: ids (B, T) -> logits (B, T, vocab_size)."""

    def __init__(self, vocab_size, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0):
        super().__init__()
        self.block_size = block_size
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([Block(n_embd, n_head, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying
        self.apply(self._init_weights)
        for block in self.blocks:   # GPT-2: residual projections get std 0.02 / sqrt(2 n_layer)
            for w in (block.attn.proj.weight, block.mlp.net[2].weight):
                nn.init.normal_(w, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx):
        T = idx.shape[1]
        if T > self.block_size:
            raise ValueError(f'sequence length {T} exceeds block_size {self.block_size}')
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        """Extend ids (B, T) by ``max_new_tokens`` sampled characters -> (B, T + max_new_tokens)."""
        for _ in range(max_new_tokens):
            logits = self(idx[:, -self.block_size:])[:, -1, :] / temperature
            if top_k is not None:
                kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, [-1]]
                logits[logits < kth] = -float('inf')
            probs = F.softmax(logits, dim=-1)
            idx = torch.cat((idx, torch.multinomial(probs, 1, generator=generator)), dim=1)
        return idx


def sample(model, vocab, prompt='\n', length=300, temperature=0.8, top_k=10, generator=None):
    """``length`` characters generated after ``prompt`` (the prompt itself not included)."""
    model.eval()
    device = next(model.parameters()).device
    idx = vocab.encode(prompt).unsqueeze(0).to(device)
    out = model.generate(idx, length, temperature=temperature, top_k=top_k, generator=generator)
    return vocab.decode(out[0, len(prompt):].cpu())


# ---- training --------------------------------------------------------------------------------

@torch.no_grad()
def estimate_loss(model, data, batch_size, iters, generator=None, device='cpu'):
    """Mean cross-entropy over ``iters`` random batches, in eval mode."""
    model.eval()
    total = 0.0
    for _ in range(iters):
        x, y = get_batch(data, batch_size, model.block_size, generator, device)
        logits = model(x)
        total += F.cross_entropy(logits.view(-1, logits.shape[-1]), y.reshape(-1)).item()
    model.train()
    return total / iters


def lr_lambda(warmup, steps, min_ratio=0.1):
    """Multiplier of the base lr at a step: linear warm-up, then cosine decay to ``min_ratio``."""
    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return factor


def train(model, train_data, val_data, steps=300, batch_size=32, lr=3e-3, warmup=30,
          weight_decay=0.1, grad_clip=1.0, eval_every=100, eval_iters=10, log_every=25,
          generator=None, device='cpu', stream=None):
    """Train ``model`` for ``steps`` AdamW steps on random windows of ``train_data``.

    Returns {'loss': training loss of every step, 'eval': [(step, train loss, val loss)]}.
    """
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{'params': decay, 'weight_decay': weight_decay},
                                   {'params': no_decay, 'weight_decay': 0.0}],
                                  lr=lr, betas=(0.9, 0.99))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(warmup, steps))
    history = {'loss': [], 'eval': []}
    progress = Progress(steps, log_every, stream)
    model.train()
    for step in range(1, steps + 1):
        x, y = get_batch(train_data, batch_size, model.block_size, generator, device)
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        scheduler.step()
        history['loss'].append(loss.item())
        progress.update(step, history['loss'][-1])
        if eval_every and (step % eval_every == 0 or step == steps):
            tr = estimate_loss(model, train_data, batch_size, eval_iters, generator, device)
            va = estimate_loss(model, val_data, batch_size, eval_iters, generator, device)
            history['eval'].append((step, tr, va))
            progress.write(f'step {step:4d}  train loss {tr:.4f}  val loss {va:.4f}  '
                           f'lr {scheduler.get_last_lr()[0]:.2e}  '
                           f'({time.perf_counter() - progress.start:.1f} s)')
    progress.close()
    return history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=300)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--block-size', type=int, default=64, help='context length')
    parser.add_argument('--n-layer', type=int, default=4)
    parser.add_argument('--n-head', type=int, default=4)
    parser.add_argument('--n-embd', type=int, default=128)
    parser.add_argument('--dropout', type=float, default=0.0)
    parser.add_argument('--lr', type=float, default=3e-3)
    parser.add_argument('--warmup', type=int, default=30)
    parser.add_argument('--eval-every', type=int, default=100)
    parser.add_argument('--log-every', type=int, default=25,
                        help='steps between progress lines when stdout is not a terminal')
    parser.add_argument('--sample-length', type=int, default=300)
    parser.add_argument('--temperature', type=float, default=0.8)
    parser.add_argument('--top-k', type=int, default=10)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    device = torch.device(args.device)
    vocab, train_data, val_data = load_corpus()
    model = CharGPT(len(vocab), args.block_size, args.n_layer, args.n_head, args.n_embd,
                    args.dropout).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f'{len(train_data):,} training and {len(val_data):,} validation characters, '
          f'vocabulary {len(vocab)}; {n_params:,} parameters; device {device}')
    print(f'initial loss should be near ln({len(vocab)}) = {math.log(len(vocab)):.3f}')

    start = time.perf_counter()
    history = train(model, train_data, val_data, steps=args.steps, batch_size=args.batch_size,
                    lr=args.lr, warmup=args.warmup, eval_every=args.eval_every,
                    log_every=args.log_every, generator=generator, device=device)
    elapsed = time.perf_counter() - start
    _, train_loss, val_loss = history['eval'][-1]
    print(f'trained {args.steps} steps in {elapsed:.1f} s '
          f'({1000 * elapsed / args.steps:.0f} ms/step): loss {history["loss"][0]:.3f} -> '
          f'train {train_loss:.3f}, val {val_loss:.3f}')

    text = sample(model, vocab, length=args.sample_length, temperature=args.temperature,
                  top_k=args.top_k, generator=torch.Generator(device=device).manual_seed(args.seed))
    print(f'--- sample (temperature {args.temperature}, top-k {args.top_k}) ---')
    print(text)
    return history


if __name__ == '__main__':
    main()
