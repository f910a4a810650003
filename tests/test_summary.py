"""ember.summary: rows, nesting, exact parameter counts (shared parameters once), totals,
memory estimates, inputs, modes and errors."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.utils.summary import ModelSummary, summary


def mlp():
    return nn.Sequential(nn.Linear(10, 20), nn.BatchNorm1d(20), nn.ReLU(),
                         nn.Sequential(nn.Linear(20, 20), nn.Linear(20, 5)))


def numel_total(model, trainable=None):
    return sum(p.numel() for p in model.parameters()
               if trainable is None or p.requires_grad == trainable)


def table_rows(s):
    """The body lines of the table (between the second and third rules)."""
    lines = str(s).split('\n')
    rules = [i for i, line in enumerate(lines) if set(line) == {'='}]
    return lines[rules[1] + 1:rules[2]]


class Tied(nn.Module):
    """Embedding + a shared Linear used twice + a ModuleList + a tied weight + an unused layer
    + a parameter of its own."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.lin = nn.Linear(4, 4)
        self.again = self.lin
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.emb.weight
        self.unused = nn.Linear(3, 3)
        self.scale = nn.Parameter(ember.ones(1))

    def forward(self, x):
        h = self.again(self.lin(self.emb(x)))
        for layer in self.layers:
            h = layer(h)
        return self.head(h) * self.scale


def test_public_name():
    assert ember.summary is summary


def test_sequential_table():
    s = summary(mlp(), input_size=(2, 10), verbose=0)
    assert isinstance(s, ModelSummary)
    assert table_rows(s) == [
        'Sequential                              [2, 5]                   --',
        '├─ 0: Linear                            [2, 20]                  220',
        '├─ 1: BatchNorm1d                       [2, 20]                  40',
        '├─ 2: ReLU                              [2, 20]                  --',
        '└─ 3: Sequential                        [2, 5]                   --',
        '   ├─ 0: Linear                         [2, 20]                  420',
        '   └─ 1: Linear                         [2, 5]                   105']
    text = str(s)
    assert 'Layer (name: type)' in text and 'Output Shape' in text and 'Param #' in text
    assert 'Total params: 785\nTrainable params: 785\nNon-trainable params: 0' in text
    assert repr(s) == text


def test_counts_are_exact_with_shared_and_tied_parameters():
    model = Tied()
    model.layers[0].weight.requires_grad_(False)
    s = summary(model, input_data=ember.zeros(2, 3, dtype=ember.long),
                col_names=('output_size', 'num_params', 'trainable'), verbose=0)
    assert s.total_params == numel_total(model) == 1 + 40 + 20 + 20 + 20 + 12
    assert s.trainable_params == numel_total(model, True)
    assert s.non_trainable_params == numel_total(model, False) == 16
    counts = [(r.name, r.num_params) for r in s.summary_list]
    assert counts == [('', 1), ('emb', 40), ('lin', 20), ('lin', 0), ('layers', 0),
                      ('layers.0', 20), ('layers.1', 20), ('head', 0), ('unused', 12)]
    assert sum(n for _, n in counts) == s.total_params
    rows = table_rows(s)
    assert rows[3].split()[-2:] == ['(shared)', 'True']          # the Linear used again
    assert rows[5].split()[-2:] == ['20', 'Partial']              # frozen weight, live bias
    assert rows[7].split()[-5:] == ['[2,', '3,', '10]', '(shared)', 'True']   # tied weight
    assert rows[8].split()[-3:] == ['--', '12', 'True']           # never called


def test_depth_folds_hidden_rows_into_their_ancestor():
    model = mlp()
    s1 = summary(model, input_size=(2, 10), depth=1, verbose=0)
    assert [(r.name, r.num_params) for r in s1.summary_list] == [
        ('', 0), ('0', 220), ('1', 40), ('2', 0), ('3', 525)]
    s0 = summary(model, input_size=(2, 10), depth=0, verbose=0)
    assert [(r.name, r.num_params) for r in s0.summary_list] == [('', 785)]
    assert s0.total_params == s1.total_params == 785


def test_memory_estimates():
    model = mlp()
    s = summary(model, input_size=(2, 10), verbose=0)
    assert s.input_bytes == 2 * 10 * 4
    leaf_outputs = (2 * 20 + 2 * 20 + 2 * 20 + 2 * 20 + 2 * 5) * 4
    assert s.forward_backward_bytes == 2 * leaf_outputs
    assert s.param_bytes == 785 * 4 + (20 + 20) * 4 + 8   # + running stats + int64 counter
    assert s.total_bytes == s.input_bytes + s.forward_backward_bytes + s.param_bytes
    big = summary(nn.Linear(1000, 1000), input_size=(1, 1000), verbose=0)
    assert 'Params size (MB): 4.00' in str(big)
    assert 'Total params: 1,001,000' in str(big)


def test_columns_and_percent():
    s = summary(mlp(), input_size=(2, 10), verbose=0,
                col_names=('input_size', 'output_size', 'num_params', 'params_percent'))
    header = str(s).split('\n')[1]
    assert header.split('  ')[0] == 'Layer (name: type)'
    for title in ('Input Shape', 'Output Shape', 'Param #', 'Param %'):
        assert title in header
    first = table_rows(s)[1].split()
    assert first[-6:] == ['[2,', '10]', '[2,', '20]', '220', f'{100 * 220 / 785:.2f}%']


def test_inputs_batch_dim_dtypes_and_kwargs():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5, 3)
            self.lin = nn.Linear(3, 2)

        def forward(self, idx, x, scale=1.0):
            return self.lin(self.emb(idx) + x) * scale

    model = TwoInputs()
    a = summary(model, input_size=[(4,), (4, 3)], batch_dim=0,
                dtypes=[ember.long, ember.float32], verbose=0, scale=2.0)
    assert a.summary_list[0].input_shape == [[1, 4], [1, 4, 3]]
    assert a.summary_list[0].output_shape == [1, 4, 2]
    b = summary(model, input_data=[ember.zeros(2, 4, dtype=ember.long), ember.zeros(2, 4, 3)],
                verbose=0)
    assert b.summary_list[-1].output_shape == [2, 4, 2]
    c = summary(model, input_data={'idx': ember.zeros(1, dtype=ember.long),
                                   'x': ember.zeros(1, 3)}, verbose=0)
    assert c.summary_list[0].output_shape == [1, 2]
    assert a.input_bytes == 4 * 8 + 12 * 4


def test_without_inputs_lists_modules_only():
    model = Tied()
    s = summary(model, verbose=0)
    assert [r.name for r in s.summary_list] == ['', 'emb', 'lin', 'layers', 'layers.0',
                                                'layers.1', 'head', 'unused']
    assert all(r.output_shape is None for r in s.summary_list)
    assert s.total_params == numel_total(model)
    assert s.forward_backward_bytes == 0


def test_eval_mode_has_no_side_effects():
    model = mlp().train()
    model[3].eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    summary(model, input_size=(1, 10), verbose=0)   # batch of 1: fine in eval mode
    assert model.training and model[1].training and not model[3].training
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k].numpy())
    assert not model._forward_hooks and not model[0]._forward_pre_hooks
    assert all(p.grad is None for p in model.parameters())


def test_same_mode_keeps_flags_during_the_pass():
    model = mlp().train()
    summary(model, input_size=(4, 10), mode='same', verbose=0)
    assert model[1].num_batches_tracked.item() == 1 and model.training


def test_train_mode_restores_flags():
    model = mlp().eval()
    summary(model, input_size=(4, 10), mode='train', verbose=0)
    assert not any(m.training for m in model.modules())
    assert model[1].num_batches_tracked.item() == 1


def test_verbose_prints(capsys):
    s = summary(mlp(), input_size=(2, 10))
    assert capsys.readouterr().out == str(s) + '\n'
    summary(mlp(), input_size=(2, 10), verbose=0)
    assert capsys.readouterr().out == ''


def test_errors():
    with pytest.raises(ValueError, match="unknown column 'kernel'"):
        summary(mlp(), col_names=('kernel',), verbose=0)
    with pytest.raises(ValueError, match='mode'):
        summary(mlp(), mode='test', verbose=0)
    with pytest.raises(ValueError, match='verbose'):
        summary(mlp(), verbose=3)
    with pytest.raises(ValueError, match='input_size'):
        summary(mlp(), input_size=('a', 2), verbose=0)
    with pytest.raises(ValueError, match='dtypes'):
        summary(mlp(), input_size=(2, 10), dtypes=[ember.float32] * 2, verbose=0)
    model = mlp()
    with pytest.raises(RuntimeError,
                       match=r"forward pass failed .*layers entered: \['Sequential', '0'\]"):
        summary(model, input_size=(2, 3), verbose=0)
    assert not model[0]._forward_hooks
