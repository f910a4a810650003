"""The Transformer family against torch: TransformerEncoderLayer, TransformerDecoderLayer,
TransformerEncoder, TransformerDecoder and Transformer (every constructor option, masks of
every kind, is_causal flags, batched and unbatched inputs, train and eval, float32 and float64,
forward and backward with torch's weights copied in), torch's eval fast path and nested-tensor
path, causality by perturbation, parameter counts, initialisation, reprs, warnings, errors."""
import itertools
import math
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from tests.helpers import E, T, assert_close, to_np
from tests.helpers_nn import build_pair, check_module

pytestmark = [pytest.mark.filterwarnings('ignore:enable_nested_tensor is True'),
              pytest.mark.filterwarnings('ignore:Support for mismatched'),
              pytest.mark.filterwarnings('ignore:The PyTorch API of nested tensors')]

DTYPES = [np.float32, np.float64]
TOL = {np.float32: (1e-4, 1e-5), np.float64: (1e-10, 1e-12)}


@pytest.fixture(autouse=True, scope='module')
def _torch_single_thread():
    """torch on one thread while this file runs: its thread pool only slows these tiny
    models down (badly so on a busy machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


D, H, FF = 8, 2, 12          # d_model, heads, feed-forward width of the small test models
N, SRC, TGT = 3, 5, 4        # batch, source length, target length


def _seq(length, bf, batched=True, seed=0, n=N, d=D):
    """A (length, n, d) sequence, (n, length, d) batch first, or (length, d) unbatched."""
    rng = np.random.default_rng(seed)
    if not batched:
        return rng.standard_normal((length, d))
    return rng.standard_normal((n, length, d) if bf else (length, n, d))


def _activation(L, kind):
    return {'relu': 'relu', 'gelu': 'gelu', 'F.gelu': L.nn.functional.gelu,
            'GELU()': L.nn.GELU(approximate='tanh'), 'tanh': lambda x: L.tanh(x)}[kind]


def _causal(size, kind):
    """The square causal mask as bool (True = masked) or float (-inf above the diagonal)."""
    upper = np.triu(np.ones((size, size), bool), 1)
    return upper if kind == 'bool' else np.where(upper, -np.inf, 0.0)


def _padding(length, kind, batched=True, seed=3, noise=0.1):
    """A key padding mask (N, length) or (length,): True / -inf = padded, never a whole row;
    a float mask has ``noise`` added to its finite entries."""
    rng = np.random.default_rng(seed)
    m = rng.random((N, length) if batched else (length,)) > 0.6
    m[..., 0] = False
    return m if kind == 'bool' else np.where(m, -np.inf, 0.0) + noise * rng.standard_normal(m.shape)


def _attn_mask(rows, cols, kind, three_d=False, seed=4, noise=0.1):
    """An attention mask (rows, cols) or (N*H, rows, cols), bool or float (never a whole
    row masked); a float mask has ``noise`` added to its finite entries."""
    rng = np.random.default_rng(seed)
    m = rng.random((N * H, rows, cols) if three_d else (rows, cols)) > 0.6
    m[..., 0] = False
    return m if kind == 'bool' else np.where(m, -np.inf, 0.0) + noise * rng.standard_normal(m.shape)


ARRAY = object()             # in _call: this keyword argument is the next input array


def _call(**named):
    """A check_module forward calling the module with its first input(s) positionally and
    the remaining inputs as the keyword arguments ``named`` lists in order; other keyword
    values (flags) pass as given."""
    arrays = [k for k, v in named.items() if v is ARRAY]
    flags = {k: v for k, v in named.items() if v is not ARRAY}

    def forward(m, *xs):
        lead = len(xs) - len(arrays)
        return m(*xs[:lead], **dict(zip(arrays, xs[lead:])), **flags)
    return forward


# ---- layers: every constructor option ---------------------------------------------------------
ACTIVATIONS = ['relu', 'gelu', 'F.gelu', 'GELU()', 'tanh']
LAYER_OPTIONS = [(bf, norm_first, ACTIVATIONS[(i + j) % 5], bias)     # two activations each
                 for i, (bf, norm_first, bias) in enumerate(itertools.product([False, True],
                                                                              repeat=3))
                 for j in (0, 2)]


@pytest.mark.parametrize('i', range(len(LAYER_OPTIONS)))
def test_encoder_layer_options(i):
    bf, norm_first, act, bias = LAYER_OPTIONS[i]
    dtype = DTYPES[i % 2]

    def ctor(L):
        return L.nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, activation=_activation(L, act),
                                            layer_norm_eps=1e-4, batch_first=bf,
                                            norm_first=norm_first, bias=bias)
    check_module(ctor, [_seq(SRC, bf)], dtype=dtype, rtol=TOL[dtype][0], atol=TOL[dtype][1])


@pytest.mark.parametrize('i', range(len(LAYER_OPTIONS)))
def test_decoder_layer_options(i):
    bf, norm_first, act, bias = LAYER_OPTIONS[i]
    dtype = DTYPES[(i + 1) % 2]

    def ctor(L):
        return L.nn.TransformerDecoderLayer(D, H, FF, dropout=0.0, activation=_activation(L, act),
                                            layer_norm_eps=1e-4, batch_first=bf,
                                            norm_first=norm_first, bias=bias)
    check_module(ctor, [_seq(TGT, bf), _seq(SRC, bf, seed=1)], dtype=dtype, rtol=TOL[dtype][0],
                 atol=TOL[dtype][1])


@pytest.mark.parametrize('kind', ['TransformerEncoderLayer', 'TransformerDecoderLayer'])
@pytest.mark.parametrize('norm_first', [False, True])
def test_layers_unbatched(kind, norm_first):
    inputs = [_seq(TGT, False, batched=False)]
    if kind == 'TransformerDecoderLayer':
        inputs.append(_seq(SRC, False, batched=False, seed=1))
    for bf in (False, True):
        check_module(lambda lib: getattr(lib.nn, kind)(D, H, FF, 0.0, batch_first=bf,
                                                       norm_first=norm_first),
                     inputs, rtol=1e-4, atol=1e-5)


def test_layers_default_constructor_and_dtype():
    for kind in ('TransformerEncoderLayer', 'TransformerDecoderLayer'):
        e, t = getattr(nn, kind)(16, 4), getattr(torch.nn, kind)(16, 4)
        assert repr(e) == repr(t)
        assert [(n, tuple(p.shape)) for n, p in e.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in t.named_parameters()]
        assert e.norm_first is False and e.activation is ember.nn.functional.relu
        assert e.linear1.out_features == 2048 and e.dropout.p == 0.1
        m = getattr(nn, kind)(16, 4, dtype=ember.float64)
        assert all(p.dtype == ember.float64 for p in m.parameters())


# ---- layers: masks ------------------------------------------------------------------------------
ENCODER_MASKS = {
    'src_mask bool': lambda bf: {'src_mask': _attn_mask(SRC, SRC, 'bool')},
    'src_mask float': lambda bf: {'src_mask': _attn_mask(SRC, SRC, 'float')},
    'src_mask 3-D bool': lambda bf: {'src_mask': _attn_mask(SRC, SRC, 'bool', True)},
    'src_mask 3-D float': lambda bf: {'src_mask': _attn_mask(SRC, SRC, 'float', True)},
    'padding bool': lambda bf: {'src_key_padding_mask': _padding(SRC, 'bool')},
    'padding float': lambda bf: {'src_key_padding_mask': _padding(SRC, 'float')},
    'both bool': lambda bf: {'src_mask': _attn_mask(SRC, SRC, 'bool'),
                             'src_key_padding_mask': _padding(SRC, 'bool')},
    'both float': lambda bf: {'src_mask': _attn_mask(SRC, SRC, 'float', True),
                              'src_key_padding_mask': _padding(SRC, 'float')},
    'causal bool + is_causal': lambda bf: {'src_mask': _causal(SRC, 'bool'), 'is_causal': True},
    'causal float + is_causal': lambda bf: {'src_mask': _causal(SRC, 'float'), 'is_causal': True},
    'causal + padding + is_causal': lambda bf: {'src_mask': _causal(SRC, 'float'),
                                                'src_key_padding_mask': _padding(SRC, 'float'),
                                                'is_causal': True},
}


def _masked_check(ctor, inputs, masks, dtype=np.float32, modes=('train', 'eval')):
    """check_module with ``masks`` (name -> array, or a flag) passed by keyword."""
    arrays = [v for v in masks.values() if isinstance(v, np.ndarray)]
    fwd = _call(**{k: ARRAY if isinstance(v, np.ndarray) else v for k, v in masks.items()})
    check_module(ctor, inputs + arrays, dtype=dtype, rtol=TOL[dtype][0], atol=TOL[dtype][1],
                 forward=fwd, modes=modes)


@pytest.mark.parametrize('kind', list(ENCODER_MASKS))
@pytest.mark.parametrize('bf', [False, True])
def test_encoder_layer_masks(kind, bf):
    dtype = DTYPES[(list(ENCODER_MASKS).index(kind) + bf) % 2]
    _masked_check(lambda L: L.nn.TransformerEncoderLayer(D, H, FF, 0.0, batch_first=bf,
                                                         norm_first=not bf),
                  [_seq(SRC, bf)], ENCODER_MASKS[kind](bf), dtype)


DECODER_MASKS = {
    'tgt_mask bool': {'tgt_mask': _attn_mask(TGT, TGT, 'bool')},
    'tgt_mask float 3-D': {'tgt_mask': _attn_mask(TGT, TGT, 'float', True)},
    'causal + tgt_is_causal': {'tgt_mask': _causal(TGT, 'float'), 'tgt_is_causal': True},
    'causal bool + tgt_is_causal': {'tgt_mask': _causal(TGT, 'bool'), 'tgt_is_causal': True},
    'memory_mask bool': {'memory_mask': _attn_mask(TGT, SRC, 'bool')},
    'memory_mask float 3-D': {'memory_mask': _attn_mask(TGT, SRC, 'float', True)},
    'tgt padding': {'tgt_key_padding_mask': _padding(TGT, 'bool')},
    'memory padding float': {'memory_key_padding_mask': _padding(SRC, 'float')},
    'all bool': {'tgt_mask': _causal(TGT, 'bool'), 'memory_mask': _attn_mask(TGT, SRC, 'bool'),
                 'tgt_key_padding_mask': _padding(TGT, 'bool'),
                 'memory_key_padding_mask': _padding(SRC, 'bool')},
    'all float': {'tgt_mask': _causal(TGT, 'float'), 'memory_mask': _attn_mask(TGT, SRC, 'float'),
                  'tgt_key_padding_mask': _padding(TGT, 'float'),
                  'memory_key_padding_mask': _padding(SRC, 'float'), 'tgt_is_causal': True},
}


@pytest.mark.parametrize('kind', list(DECODER_MASKS))
@pytest.mark.parametrize('bf', [False, True])
def test_decoder_layer_masks(kind, bf):
    dtype = DTYPES[(list(DECODER_MASKS).index(kind) + bf + 1) % 2]
    _masked_check(lambda lib: lib.nn.TransformerDecoderLayer(D, H, FF, 0.0, batch_first=bf,
                                                             norm_first=bf),
                  [_seq(TGT, bf), _seq(SRC, bf, seed=1)], DECODER_MASKS[kind], dtype)


def test_decoder_layer_square_memory_is_causal():
    mem_mask = _causal(SRC, 'float')
    _masked_check(lambda lib: lib.nn.TransformerDecoderLayer(D, H, FF, 0.0),
                  [_seq(SRC, False), _seq(SRC, False, seed=1)],
                  {'memory_mask': mem_mask, 'memory_is_causal': True})


@pytest.mark.parametrize('kind', ['TransformerEncoderLayer', 'TransformerDecoderLayer'])
def test_layers_unbatched_masks(kind):
    masks = {'TransformerEncoderLayer': {'src_mask': _attn_mask(SRC, SRC, 'float'),
                                         'src_key_padding_mask': _padding(SRC, 'bool', False)},
             'TransformerDecoderLayer': {'tgt_mask': _causal(SRC, 'bool'),
                                         'memory_key_padding_mask': _padding(TGT, 'bool', False),
                                         'tgt_key_padding_mask': _padding(SRC, 'bool', False,
                                                                          seed=7)}}[kind]
    inputs = [_seq(SRC, False, batched=False)]
    if kind == 'TransformerDecoderLayer':
        inputs.append(_seq(TGT, False, batched=False, seed=1))
    _masked_check(lambda lib: getattr(lib.nn, kind)(D, H, FF, 0.0, batch_first=True), inputs,
                  masks)


def test_mismatched_mask_types_warn_like_torch():
    def run(lib):
        lib.manual_seed(0)
        layer = lib.nn.TransformerEncoderLayer(D, H, FF, 0.0)
        x = lib.tensor(_seq(SRC, False).astype(np.float32))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            layer(x, src_mask=lib.tensor(_attn_mask(SRC, SRC, 'bool')),
                  src_key_padding_mask=lib.tensor(_padding(SRC, 'float').astype(np.float32)))
        return [str(m.message) for m in w]
    assert run(ember) == run(torch) == [
        'Support for mismatched src_key_padding_mask and src_mask is deprecated. Use same type '
        'for both instead.']


# ---- stacks -------------------------------------------------------------------------------------
def _encoder(L, bf=False, norm=True, layers=2, norm_first=False, nested=True, **kw):
    layer = L.nn.TransformerEncoderLayer(D, H, FF, 0.0, batch_first=bf, norm_first=norm_first)
    return L.nn.TransformerEncoder(layer, layers, L.nn.LayerNorm(D) if norm else None,
                                   enable_nested_tensor=nested, **kw)


def _decoder(L, bf=False, norm=True, layers=2, norm_first=False):
    layer = L.nn.TransformerDecoderLayer(D, H, FF, 0.0, batch_first=bf, norm_first=norm_first)
    return L.nn.TransformerDecoder(layer, layers, L.nn.LayerNorm(D) if norm else None)


STACK_MASKS = {
    'none': {},
    'causal detected': {'mask': _causal(SRC, 'float')},
    'causal flagged': {'mask': _causal(SRC, 'bool'), 'is_causal': True},
    'mask + padding': {'mask': _attn_mask(SRC, SRC, 'float'),
                       'src_key_padding_mask': _padding(SRC, 'float')},
    'padding bool': {'src_key_padding_mask': _padding(SRC, 'bool')},
}


@pytest.mark.parametrize('kind', list(STACK_MASKS))
@pytest.mark.parametrize('bf,norm,norm_first', [(False, True, False), (True, False, True),
                                                (True, True, False)])
def test_encoder_stack(kind, bf, norm, norm_first):
    dtype = DTYPES[(list(STACK_MASKS).index(kind) + bf) % 2]
    _masked_check(lambda L: _encoder(L, bf, norm, norm_first=norm_first), [_seq(SRC, bf)],
                  STACK_MASKS[kind], dtype)


@pytest.mark.parametrize('masks', [
    {}, {'tgt_mask': _causal(TGT, 'float')},
    {'tgt_mask': _causal(TGT, 'bool'), 'tgt_is_causal': True},
    {'tgt_mask': _causal(TGT, 'float'), 'memory_mask': _attn_mask(TGT, SRC, 'bool'),
     'tgt_key_padding_mask': _padding(TGT, 'float'),
     'memory_key_padding_mask': _padding(SRC, 'float')}])
@pytest.mark.parametrize('bf,norm', [(False, True), (True, False)])
def test_decoder_stack(masks, bf, norm):
    _masked_check(lambda lib: _decoder(lib, bf, norm, norm_first=bf),
                  [_seq(TGT, bf), _seq(SRC, bf, seed=1)], masks, np.float64 if bf else np.float32)


def test_stacks_unbatched_and_single_layer():
    check_module(lambda L: _encoder(L, layers=1), [_seq(SRC, False, batched=False)], rtol=1e-4,
                 atol=1e-5)
    check_module(lambda lib: _decoder(lib, True, layers=1),
                 [_seq(TGT, True, batched=False), _seq(SRC, True, batched=False, seed=1)],
                 rtol=1e-4, atol=1e-5)


def test_stack_layers_are_independent_copies():
    layer = nn.TransformerEncoderLayer(D, H, FF)
    enc = nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
    ws = [lay.linear1.weight for lay in enc.layers]
    assert len({id(w) for w in ws}) == 3 and all(w is not layer.linear1.weight for w in ws)
    with ember.no_grad():
        ws[0].fill_(1.0)
    assert not to_np(ws[1] == 1).all() and not to_np(layer.linear1.weight == 1).all()
    assert enc.num_layers == 3 and enc.norm is None and enc.mask_check is True


# ---- eval: torch's fast path and nested-tensor path ---------------------------------------------
def _eval_pair(ctor):
    em, tm = build_pair(ctor)
    return em.eval(), tm.eval()


@pytest.mark.parametrize('masks', [{}, {'src_key_padding_mask': 'bool'},
                                   {'src_key_padding_mask': 'float'},
                                   {'src_mask': 'float', 'src_key_padding_mask': 'bool'}])
@pytest.mark.parametrize('module', ['layer', 'stack', 'stack norm_first', 'stack no nested'])
def test_inference_matches_torch_fast_paths(masks, module):
    """Eval mode without autograd, where torch takes its fused encoder-layer kernel and, for
    a stack with a padding mask, its nested tensors (padded positions come out as zeros).
    (torch's fused kernel turns a float padding mask with values other than 0 and -inf into
    NaN; ember adds such a mask as it does in training, so the float masks here are 0/-inf.)"""
    def ctor(L):
        if module == 'layer':
            return L.nn.TransformerEncoderLayer(D, H, FF, batch_first=True)
        return _encoder(L, True, norm=True, norm_first='norm_first' in module,
                        nested='no nested' not in module)
    em, tm = _eval_pair(ctor)
    x = _seq(SRC, True).astype(np.float32)
    arrays = {'src_key_padding_mask': _padding(SRC, masks.get('src_key_padding_mask', 'bool'),
                                               noise=0),
              'src_mask': _attn_mask(SRC, SRC, 'float', noise=0)}
    kw = {k: arrays[k].astype(np.float32) if arrays[k].dtype.kind == 'f' else arrays[k]
          for k in masks}
    if module != 'layer' and 'src_mask' in kw:
        kw['mask'] = kw.pop('src_mask')
    with torch.no_grad(), ember.no_grad():
        ot = tm(T(x), **{k: T(v) for k, v in kw.items()})
        oe = em(E(x), **{k: E(v) for k, v in kw.items()})
    assert_close(oe, ot, 1e-4, 1e-5)


def test_nested_path_zeroes_padded_positions_before_norm():
    em, tm = _eval_pair(lambda L: _encoder(L, True, norm=False))
    x = _seq(SRC, True).astype(np.float32)
    kpm = np.zeros((N, SRC), bool)        # right-padded sequences: torch packs them
    kpm[1, 3:] = kpm[2, 4:] = True
    with torch.no_grad(), ember.no_grad():
        ot = tm(T(x), src_key_padding_mask=T(kpm))
        oe = em(E(x), src_key_padding_mask=E(kpm))
    assert_close(oe, ot, 1e-4, 1e-5)
    assert not to_np(oe)[kpm].any()


# ---- Transformer --------------------------------------------------------------------------------
def _transformer(L, bf=False, norm_first=False, activation='relu', bias=True, **kw):
    return L.nn.Transformer(D, H, 2, 1, FF, 0.0, activation, batch_first=bf,
                            norm_first=norm_first, bias=bias, **kw)


@pytest.mark.parametrize('bf,norm_first,activation,bias,dtype', [
    (False, False, 'relu', True, np.float32), (True, True, 'gelu', True, np.float64),
    (True, False, 'relu', False, np.float32), (False, True, 'gelu', False, np.float32)])
def test_transformer_options(bf, norm_first, activation, bias, dtype):
    check_module(lambda L: _transformer(L, bf, norm_first, activation, bias),
                 [_seq(SRC, bf), _seq(TGT, bf, seed=1)], dtype=dtype, rtol=TOL[dtype][0],
                 atol=TOL[dtype][1])


TRANSFORMER_MASKS = {
    'causal tgt': {'tgt_mask': _causal(TGT, 'float')},
    'causal tgt flagged, src padding': {'tgt_mask': _causal(TGT, 'bool'), 'tgt_is_causal': True,
                                        'src_key_padding_mask': _padding(SRC, 'bool'),
                                        'memory_key_padding_mask': _padding(SRC, 'bool')},
    'every mask float': {'src_mask': _attn_mask(SRC, SRC, 'float'),
                         'tgt_mask': _causal(TGT, 'float'),
                         'memory_mask': _attn_mask(TGT, SRC, 'float', True),
                         'src_key_padding_mask': _padding(SRC, 'float'),
                         'tgt_key_padding_mask': _padding(TGT, 'float'),
                         'memory_key_padding_mask': _padding(SRC, 'float')},
    'causal src flagged': {'src_mask': _causal(SRC, 'bool'), 'src_is_causal': True},
}


@pytest.mark.parametrize('kind', list(TRANSFORMER_MASKS))
def test_transformer_masks(kind):
    bf = 'flagged' in kind
    _masked_check(lambda lib: _transformer(lib, bf), [_seq(SRC, bf), _seq(TGT, bf, seed=1)],
                  TRANSFORMER_MASKS[kind])


def test_transformer_unbatched_and_custom_parts():
    check_module(lambda lib: _transformer(lib, True),
                 [_seq(SRC, True, batched=False), _seq(TGT, True, batched=False, seed=1)],
                 rtol=1e-4, atol=1e-5)

    def custom(lib):
        return lib.nn.Transformer(D, H, custom_encoder=_encoder(lib, norm=False, layers=1),
                                  custom_decoder=_decoder(lib, layers=1))
    check_module(custom, [_seq(SRC, False), _seq(TGT, False, seed=1)], rtol=1e-4, atol=1e-5)
    t = nn.Transformer(D, H, custom_encoder=nn.Identity(), custom_decoder=nn.Identity())
    assert sum(p.numel() for p in t.parameters()) == 0
    assert (t.d_model, t.nhead, t.batch_first) == (D, H, False)


def test_generate_square_subsequent_mask():
    for args, kw in [((4,), {}), ((1,), {}), ((0,), {}), ((3,), {'dtype': 'float64'}),
                     ((3,), {'device': 'cpu'})]:
        kwe = {k: getattr(ember, v) if k == 'dtype' else v for k, v in kw.items()}
        kwt = {k: getattr(torch, v) if k == 'dtype' else v for k, v in kw.items()}
        assert_close(nn.Transformer.generate_square_subsequent_mask(*args, **kwe),
                     torch.nn.Transformer.generate_square_subsequent_mask(*args, **kwt))
    m = to_np(nn.Transformer().generate_square_subsequent_mask(3))
    assert np.array_equal(m, [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])


# ---- causality by perturbation -----------------------------------------------------------------
@pytest.mark.parametrize('model', ['decoder layer', 'decoder', 'transformer', 'encoder'])
@pytest.mark.parametrize('flag', [False, True])
def test_causal_mask_hides_the_future(model, flag):
    """With the causal mask, output t does not change when inputs after t change (and does
    change when inputs up to t change)."""
    ember.manual_seed(0)
    T_ = 6
    mask = nn.Transformer.generate_square_subsequent_mask(T_)
    if model == 'decoder layer':
        m = nn.TransformerDecoderLayer(D, H, FF, batch_first=True)
        run = lambda x: m(x, memory, tgt_mask=mask, tgt_is_causal=flag)  # noqa: E731
    elif model == 'decoder':
        m = _decoder(ember, True)
        run = lambda x: m(x, memory, tgt_mask=mask, tgt_is_causal=flag or None)  # noqa: E731
    elif model == 'transformer':
        m = _transformer(ember, True)
        run = lambda x: m(memory, x, tgt_mask=mask, tgt_is_causal=flag or None)  # noqa: E731
    else:
        m = _encoder(ember, True)
        run = lambda x: m(x, mask=mask, is_causal=flag or None)  # noqa: E731
    m.eval()
    rng = np.random.default_rng(0)
    memory = E(rng.standard_normal((2, SRC, D)).astype(np.float32))
    x = rng.standard_normal((2, T_, D)).astype(np.float32)
    base = to_np(run(E(x)))
    for t in range(T_):
        y = x.copy()
        y[:, t + 1:] += rng.standard_normal(y[:, t + 1:].shape).astype(np.float32)
        out = to_np(run(E(y)))
        np.testing.assert_allclose(out[:, :t + 1], base[:, :t + 1], rtol=1e-6, atol=1e-6)
        if t + 1 < T_:
            assert not np.allclose(out[:, t + 1:], base[:, t + 1:], atol=1e-3)
        z = x.copy()
        z[:, t] += 1.0
        assert not np.allclose(to_np(run(E(z)))[:, t], base[:, t], atol=1e-3)


# ---- dropout ------------------------------------------------------------------------------------
def test_dropout_in_training_only():
    m = nn.TransformerEncoderLayer(D, H, FF, dropout=0.5, batch_first=True)
    x = E(_seq(SRC, True).astype(np.float32))
    a, b = to_np(m(x)), to_np(m(x))
    assert not np.allclose(a, b)
    m.eval()
    assert np.array_equal(to_np(m(x)), to_np(m(x)))
    em, tm = _eval_pair(lambda L: L.nn.Transformer(D, H, 1, 1, FF, dropout=0.3))
    assert_close(em(x, x), tm(T(to_np(x)), T(to_np(x))), 1e-4, 1e-5)


# ---- parameters, initialisation, reprs ----------------------------------------------------------
def _count(m):
    return sum(p.numel() for p in m.parameters())


def _layer_count(e, f, attentions, bias=True):
    """Parameters of an encoder (1 attention) or decoder (2) layer of width e, feed-forward f:
    per attention 4 e x e projections (+ 4e biases), two feed-forward matrices (+ f + e
    biases), one LayerNorm per block (weight, + bias)."""
    b = int(bias)
    return (attentions * (4 * e * e + 4 * e * b) + 2 * e * f + (f + e) * b
            + (attentions + 1) * e * (1 + b))


@pytest.mark.parametrize('name,args,kw,expected', [
    ('TransformerEncoderLayer', (256, 8, 1024), {}, _layer_count(256, 1024, 1)),
    ('TransformerDecoderLayer', (256, 8, 1024), {}, _layer_count(256, 1024, 2)),
    ('TransformerEncoderLayer', (64, 16, 128), {'bias': False}, _layer_count(64, 128, 1, False)),
    ('Transformer', (), {}, 6 * _layer_count(512, 2048, 1) + 6 * _layer_count(512, 2048, 2)
     + 4 * 512),
    ('Transformer', (64, 4, 1, 2, 128), {'bias': False},
     _layer_count(64, 128, 1, False) + 2 * _layer_count(64, 128, 2, False) + 2 * 64),
    ('MultiheadAttention', (64, 8), {}, 16_640),
    ('MultiheadAttention', (64, 16), {}, 16_640),
])
def test_parameter_counts(name, args, kw, expected):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        e, t = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert _count(e) == _count(t) == expected
    assert list(e.state_dict()) == list(t.state_dict())


def test_transformer_initialisation():
    """Every weight matrix is xavier_uniform_ (bound sqrt(6 / (fan_in + fan_out))); biases
    and norms keep their defaults."""
    m = nn.Transformer(128, 4, 1, 1, 512)
    for name, p in m.named_parameters():
        a = to_np(p)
        if p.dim() > 1:
            bound = math.sqrt(6 / (a.shape[0] + a.shape[1]))
            assert np.abs(a).max() <= bound and np.abs(a).max() > 0.98 * bound, name
            assert abs(a.std() - bound / math.sqrt(3)) < 0.05 * bound, name
        elif 'norm' in name:
            assert np.array_equal(a, np.ones_like(a) if name.endswith('weight') else 0 * a), name
    layer = nn.TransformerEncoderLayer(128, 4, 512)   # alone: Linear's default init
    w = to_np(layer.linear2.weight)
    assert np.abs(w).max() <= 1 / math.sqrt(512) and np.abs(w).max() > 0.98 / math.sqrt(512)


def test_reprs_and_attributes():
    for ctor in [lambda L: L.nn.TransformerDecoderLayer(16, 2, 32, activation=L.nn.GELU()),
                 lambda L: L.nn.TransformerEncoderLayer(16, 2, 32, 0.2, 'gelu', 1e-6, True, True,
                                                        False),
                 lambda L: L.nn.Transformer(16, 2, 1, 2, 32),
                 lambda L: _encoder(L, True), lambda L: _decoder(L)]:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            e, t = ctor(ember), ctor(torch)
        assert repr(e) == repr(t)
    layer = nn.TransformerEncoderLayer(16, 2, activation='gelu')
    assert layer.activation is ember.nn.functional.gelu and layer.activation_relu_or_gelu == 2
    assert nn.TransformerEncoderLayer(16, 2, activation=nn.ReLU()).activation_relu_or_gelu == 1
    assert nn.TransformerEncoderLayer(16, 2, activation=ember.tanh).activation_relu_or_gelu == 0


@pytest.mark.parametrize('kw,reason', [
    ({}, 'encoder_layer.self_attn.batch_first was not True(use batch_first for better inference '
         'performance)'),
    ({'batch_first': True, 'norm_first': True}, 'encoder_layer.norm_first was True'),
    ({'batch_first': True, 'bias': False}, 'encoder_layer.self_attn was passed bias=False'),
    ({'batch_first': True, 'activation': 'tanh'}, 'encoder_layer.activation_relu_or_gelu was '
                                                  'not True'),
    ({'batch_first': True}, None)])
def test_nested_tensor_warning(kw, reason):
    def build(L):
        layer_kw = dict(kw)
        if layer_kw.get('activation') == 'tanh':
            layer_kw['activation'] = L.tanh
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            enc = L.nn.TransformerEncoder(L.nn.TransformerEncoderLayer(16, 2, 32, **layer_kw), 1)
        return enc.use_nested_tensor, [str(m.message) for m in w]
    used, msgs = build(ember)
    assert (used, msgs) == build(torch)
    assert used == (reason is None)
    if reason:
        assert msgs == [f'enable_nested_tensor is True, but self.use_nested_tensor is False '
                        f'because {reason}']


# ---- errors -------------------------------------------------------------------------------------
def _raises_like(fn_e, fn_t):
    with pytest.raises(Exception) as et:
        fn_t()
    with pytest.raises(et.type) as ee:
        fn_e()
    assert str(ee.value) == str(et.value).replace('torch.', 'ember.')


def _err_cases(lib):
    lib.manual_seed(0)
    x = lib.randn(SRC, N, D)
    mem = lib.randn(TGT, N, D)
    enc = lib.nn.TransformerEncoderLayer(D, H, FF)
    dec = lib.nn.TransformerDecoderLayer(D, H, FF)
    tr = lib.nn.Transformer(D, H, 1, 1, FF)
    return [
        lambda: lib.nn.TransformerEncoderLayer(D, H, activation='tanh'),
        lambda: lib.nn.TransformerDecoderLayer(D, 3),
        lambda: enc(x[..., :4]),
        lambda: enc(x[None]),
        lambda: enc(x, src_mask=lib.zeros(4, 4)),
        lambda: enc(x, src_key_padding_mask=lib.zeros(N, 4, dtype=lib.bool)),
        lambda: enc(x, src_mask=lib.zeros(SRC, SRC, dtype=lib.int64)),
        lambda: dec(x, mem[..., :4]),
        lambda: dec(x, mem[:, :2]),
        lambda: dec(x, mem, memory_mask=lib.zeros(SRC, SRC)),
        lambda: dec(x, mem, tgt_is_causal=True),
        lambda: tr(x, mem[:, :2]),
        lambda: tr(x, mem[..., :4]),
        lambda: tr(x[:, 0], mem[:, 0, :4]),
        lambda: tr(x, mem, tgt_mask=lib.zeros(SRC, SRC)),
    ]


@pytest.mark.parametrize('i', range(15))
def test_errors_match_torch(i):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        _raises_like(_err_cases(ember)[i], _err_cases(torch)[i])
