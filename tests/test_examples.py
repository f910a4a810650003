"""Smoke tests of the runnable examples in ember.examples: each trains briefly on its shipped
data, on the CPU, and must show the loss falling."""
import io
import math

import numpy as np

import ember as torch
from ember.examples import char_gpt, digits


def tiny_gpt(vocab_size, seed=0):
    torch.manual_seed(seed)
    return char_gpt.CharGPT(vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=32)


def test_char_gpt_corpus_and_batches():
    vocab, train_data, val_data = char_gpt.load_corpus()
    assert len(vocab) == 61 and len(train_data) + len(val_data) == 111592
    assert train_data.dtype == torch.int64 and val_data.dtype == torch.int64
    assert vocab.decode(train_data[:14]) == 'First Citizen:'
    assert vocab.decode(vocab.encode('To be, or not')) == 'To be, or not'
    x, y = char_gpt.get_batch(train_data, 4, 16, torch.Generator().manual_seed(0))
    assert x.shape == (4, 16) and y.shape == (4, 16)
    assert torch.equal(x[:, 1:], y[:, :-1])     # targets are the inputs shifted by one


def test_char_gpt_model_shapes_and_causality():
    model = tiny_gpt(61).eval()
    idx = torch.randint(61, (2, 10), generator=torch.Generator().manual_seed(1))
    logits = model(idx)
    assert logits.shape == (2, 10, 61)
    assert model.head.weight is model.tok_emb.weight
    changed = idx.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 61       # later characters cannot change earlier logits
    np.testing.assert_allclose(model(changed)[:, :6].detach().numpy(),
                               logits[:, :6].detach().numpy(), rtol=1e-5, atol=1e-6)
    # initial predictions are near uniform: loss on random targets close to ln(vocab)
    targets = torch.randint(61, (20,), generator=torch.Generator().manual_seed(2))
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 61), targets)
    assert abs(loss.item() - math.log(61)) < 0.1


def test_char_gpt_trains_and_samples():
    vocab, train_data, val_data = char_gpt.load_corpus()
    model = tiny_gpt(len(vocab))
    out = io.StringIO()
    history = char_gpt.train(model, train_data, val_data, steps=6, batch_size=8, lr=1e-2,
                             warmup=1, eval_every=3, eval_iters=2, log_every=2,
                             generator=torch.Generator().manual_seed(0), stream=out)
    losses = history['loss']
    assert len(losses) == 6 and all(math.isfinite(v) for v in losses)
    assert abs(losses[0] - math.log(len(vocab))) < 0.15
    assert np.mean(losses[-2:]) < losses[0] - 0.2
    assert [s for s, _, _ in history['eval']] == [3, 6]
    lines = out.getvalue().splitlines()        # not a terminal: plain lines, no bar
    assert [line.split()[1] for line in lines if 'loss' in line and 'val' not in line] == \
        ['2/6', '4/6', '6/6']
    assert any('val loss' in line for line in lines)

    text = char_gpt.sample(model, vocab, prompt='ROMEO:', length=40, temperature=0.8, top_k=5,
                           generator=torch.Generator().manual_seed(0))
    assert isinstance(text, str) and len(text) == 40 and set(text) <= set(vocab.chars)
    again = char_gpt.sample(model, vocab, prompt='ROMEO:', length=40, temperature=0.8, top_k=5,
                            generator=torch.Generator().manual_seed(0))
    assert again == text


def test_char_gpt_top_k_one_is_greedy():
    vocab = char_gpt.load_corpus()[0]
    model = tiny_gpt(len(vocab), seed=3).eval()
    idx = vocab.encode('Thou ').unsqueeze(0)
    out = model.generate(idx, 5, top_k=1)
    with torch.no_grad():
        for t in range(5):
            nxt = model(out[:, :idx.shape[1] + t])[:, -1].argmax(-1)
            assert nxt.item() == out[0, idx.shape[1] + t].item()


def test_char_gpt_main_runs(capsys):
    history = char_gpt.main(['--steps', '2', '--block-size', '8', '--batch-size', '4',
                             '--n-layer', '1', '--n-embd', '16', '--n-head', '2',
                             '--eval-every', '2', '--sample-length', '20'])
    printed = capsys.readouterr().out
    assert len(history['loss']) == 2
    assert 'vocabulary 61' in printed and '--- sample' in printed


def test_digits_one_epoch(tmp_path, capsys):
    accuracy = digits.main(['--epochs', '1', '--out', str(tmp_path), '--device', 'cpu'])
    printed = capsys.readouterr().out
    assert accuracy > 0.8
    assert 'epoch  1' in printed and '(identical)' in printed
    assert (tmp_path / 'digits_cnn.ckpt').exists()
