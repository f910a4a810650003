"""nn.Module semantics against torch.nn.Module: registration, traversal, state_dict, hooks,
containers and their reprs, deepcopy and pickling."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from tests.helpers import E, T, assert_close, rand


def _define(lib, tag):
    """The same small model classes for ember or torch: parameters, buffers, shared and None
    children. Registered at module level (as Scale<tag>/Net<tag>) so that they pickle."""
    class Scale(lib.nn.Module):
        def __init__(self, n):
            super().__init__()
            self.weight = lib.nn.Parameter(lib.ones(n) * 0.5)
            self.bias = lib.nn.Parameter(lib.zeros(n))
            self.register_buffer('count', lib.zeros((), dtype=lib.int64))
            self.register_buffer('scratch', lib.zeros(n), persistent=False)

        def forward(self, x):
            return x * self.weight + self.bias

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            shared = Scale(3)
            self.a = shared
            self.b = lib.nn.Sequential(Scale(3), shared)
            self.c = None
            self.register_parameter('extra', None)
            self.heads = lib.nn.ModuleDict({'x': Scale(3), 'y': Scale(3)})
            self.blocks = lib.nn.ModuleList([Scale(3), Scale(3)])
            self.plist = lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2, 2))])

        def forward(self, x):
            x = self.b(self.a(x))
            for m in self.blocks:
                x = m(x)
            return self.heads['x'](x) + self.heads['y'](x)
    for cls in (Scale, Net):
        cls.__qualname__ = cls.__name__ + tag
        globals()[cls.__qualname__] = cls
    return Net


_NETS = {'ember': _define(ember, 'E'), 'torch': _define(torch, 'T')}


def make(lib):
    return _NETS[lib.__name__]()


def test_names_and_traversal_match_torch():
    e, t = make(ember), make(torch)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in e.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in e.named_children()] == [n for n, _ in t.named_children()]
    assert list(e.state_dict().keys()) == list(t.state_dict().keys())
    assert e.state_dict()._metadata == t.state_dict()._metadata
    assert [n for n, _ in e.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in t.named_parameters(remove_duplicate=False)]
    assert [n for n, _ in e.named_parameters(prefix='m', recurse=False)] == \
        [n for n, _ in t.named_parameters(prefix='m', recurse=False)]
    assert len(list(e.parameters())) == len(list(t.parameters()))
    assert len(list(e.modules())) == len(list(t.modules()))
    assert e.get_submodule('b.0') is e.b[0]
    assert e.get_parameter('heads.x.weight') is e.heads['x'].weight
    assert e.get_buffer('a.count') is e.a.count
    with pytest.raises(AttributeError, match='Net has no attribute `zz`'):
        e.get_submodule('zz')
    with pytest.raises(AttributeError, match='`weight` is not an nn.Module'):
        e.get_submodule('a.weight')


def test_repr_matches_torch():
    assert repr(make(ember)) == repr(make(torch)).replace('torch.', 'ember.')
    for ctor in (lambda lib: lib.nn.Sequential(), lambda lib: lib.nn.ModuleList(),
                 lambda lib: lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2))]),
                 lambda lib: lib.nn.ParameterDict({'a': lib.nn.Parameter(lib.ones(2, 3)),
                                                   'b': lib.nn.Parameter(lib.ones(1))}),
                 lambda lib: lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2)), 3]),
                 lambda lib: lib.nn.Module()):
        assert repr(ctor(ember)) == repr(ctor(torch)).replace('torch.', 'ember.')

    def extra(lib):
        class Extra(lib.nn.Module):
            def extra_repr(self):
                return 'a=1\nb=2'
        return Extra()
    assert repr(extra(ember)) == repr(extra(torch))


def test_state_dict_roundtrip_with_torch():
    e, t = make(ember), make(torch)
    with torch.no_grad():
        for p in t.parameters():
            p.copy_(torch.randn(p.shape))
        t.a.count.fill_(7)
    # torch tensors load directly (converted through NumPy)
    result = e.load_state_dict(t.state_dict())
    assert repr(result) == '<All keys matched successfully>'
    for (name, pe), (_, pt) in zip(e.state_dict().items(), t.state_dict().items()):
        assert_close(pe, pt)
    x = rand(3)
    assert_close(e(E(x)), t(T(x)))
    # and back: ember -> NumPy -> torch
    t2 = make(torch)
    t2.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in e.state_dict().items()})
    assert_close(e(E(x)), t2(T(x)))


def test_state_dict_shares_memory_and_keep_vars():
    e = make(ember)
    sd = e.state_dict()
    assert not sd['a.weight'].requires_grad
    sd['a.weight'].fill_(3.0)
    assert e.a.weight.tolist() == [3.0, 3.0, 3.0]
    assert e.state_dict(keep_vars=True)['a.weight'] is e.a.weight
    assert 'a.scratch' not in sd


def test_load_state_dict_errors_like_torch():
    e, t = make(ember), make(torch)
    bad = {k: v for k, v in t.state_dict().items() if k != 'a.bias'}
    bad['a.weight'] = torch.ones(5)
    bad['nope'] = torch.ones(1)
    with pytest.raises(RuntimeError) as te:
        t.load_state_dict(bad)
    with pytest.raises(RuntimeError) as ee:
        e.load_state_dict(bad)
    assert str(ee.value) == str(te.value).replace('torch.Size', 'ember.Size')
    r = e.load_state_dict({k: v for k, v in bad.items() if k != 'a.weight'}, strict=False)
    rt = t.load_state_dict({k: v for k, v in bad.items() if k != 'a.weight'}, strict=False)
    assert r.missing_keys == rt.missing_keys and r.unexpected_keys == rt.unexpected_keys
    with pytest.raises(TypeError, match='Expected state_dict to be dict-like'):
        e.load_state_dict([1, 2])


def test_load_state_dict_assign():
    e = make(ember)
    new_w = ember.full((3,), 9.0)
    e.load_state_dict({'a.weight': new_w}, strict=False, assign=True)
    assert isinstance(e.a.weight, nn.Parameter) and e.a.weight.tolist() == [9.0] * 3
    assert e.a.weight.requires_grad


def test_registration_rules_and_errors():
    m = nn.Module()
    m.w = nn.Parameter(ember.ones(2))
    m.child = nn.Module()
    m.plain = [nn.Module()]  # plain lists are not registered
    m.t = ember.ones(2)  # plain tensors are plain attributes
    assert list(m._parameters) == ['w'] and list(m._modules) == ['child']
    assert list(m.state_dict()) == ['w']
    cases = [
        (lambda: setattr(m, 'w', ember.ones(2)), TypeError,
         "cannot assign 'ember.FloatTensor' as parameter 'w' (torch.nn.Parameter or None expected)"),
        (lambda: m.register_buffer('w', ember.ones(1)), KeyError, "attribute 'w' already exists"),
        (lambda: m.register_buffer(1, None), TypeError, 'buffer name should be a string. Got int'),
        (lambda: m.register_buffer('a.b', None), KeyError, 'buffer name can\'t contain "."'),
        (lambda: m.register_buffer('', None), KeyError, 'buffer name can\'t be empty string ""'),
        (lambda: m.register_buffer('x', 3), TypeError, "cannot assign 'int' object to buffer 'x'"),
        (lambda: m.register_parameter('x', ember.ones(1)), TypeError,
         "cannot assign 'ember.FloatTensor' object to parameter 'x' (torch.nn.Parameter or None required)"),
        (lambda: m.register_parameter('y', nn.Parameter(ember.ones(1)) * 2), TypeError,
         "object to parameter 'y'"),
        (lambda: m.add_module('z', 3), TypeError, 'int is not a Module subclass'),
        (lambda: m.add_module('w', nn.Module()), KeyError, "attribute 'w' already exists"),
        (lambda: m.add_module('a.b', nn.Module()), KeyError, 'module name can\'t contain ".", got: a.b'),
        (lambda: m.missing, AttributeError, "'Module' object has no attribute 'missing'"),
        (lambda: m.train('x'), ValueError, 'training mode is expected to be boolean'),
        (lambda: nn.Module(3), TypeError, 'Module.__init__() takes 1 positional argument but 2 were given'),
        (lambda: nn.Module(a=3), TypeError, "Module.__init__() got an unexpected keyword argument 'a'"),
        (lambda: setattr(m, 'child', 5), TypeError,
         "cannot assign 'int' as child module 'child' (torch.nn.Module or None expected)"),
    ]
    for fn, exc, msg in cases:
        with pytest.raises(exc) as info:
            fn()
        assert msg in str(info.value.args[0]), (msg, str(info.value))

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ember.ones(1))
    with pytest.raises(AttributeError, match=r'cannot assign parameters before Module.__init__\(\) call'):
        Early()
    m.w = None
    assert m._parameters['w'] is None and 'w' not in m.state_dict()
    m.register_buffer('buf', ember.ones(2))
    m.buf = ember.zeros(2)
    assert m._buffers['buf'].tolist() == [0.0, 0.0]
    m.nb = nn.Buffer(ember.ones(1), persistent=False)
    assert 'nb' in m._buffers and 'nb' in m._non_persistent_buffers_set and 'nb' not in m.state_dict()
    del m.child
    assert 'child' not in m._modules
    del m.buf
    assert 'buf' not in m._buffers
    assert 'w' in dir(m)


def test_train_eval_requires_grad_zero_grad_apply():
    e = make(ember)
    assert e.training and all(m.training for m in e.modules())
    assert e.eval() is e and not any(m.training for m in e.modules())
    e.train()
    e.requires_grad_(False)
    assert not any(p.requires_grad for p in e.parameters())
    e.requires_grad_(True)
    out = e(E(rand(3)))
    out.sum().backward()
    assert all(p.grad is not None for p in e.parameters() if p.shape != (2, 2))
    e.zero_grad(set_to_none=False)
    assert all(p.grad is None or not p.grad.numpy().any() for p in e.parameters())
    e.zero_grad()
    assert all(p.grad is None for p in e.parameters())
    visited = []
    assert e.apply(lambda m: visited.append(type(m).__name__)) is e
    assert visited[-1] == 'Net' and visited[0] == 'Scale'


def test_to_and_dtype_conversions():
    e = make(ember)
    w = e.a.weight
    e.double()
    assert e.a.weight is w and w.dtype is ember.float64
    assert e.a.count.dtype is ember.int64  # integer buffers keep their dtype
    e.to(ember.float32)
    assert w.dtype is ember.float32
    e.to('cpu')
    with pytest.raises(TypeError, match='nn.Module.to only accepts floating point or complex dtypes'):
        e.to(ember.int64)
    e.half()
    assert w.dtype is ember.float16
    e.float()


def test_forward_hooks_order_kwargs_and_removal():
    calls = []
    m = make(ember).a
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append('pre1'))
    m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
    m.register_forward_pre_hook(lambda mod, args: calls.append('pre0'), prepend=True)
    h4 = m.register_forward_hook(lambda mod, args, out: out + 1)
    m.register_forward_hook(lambda mod, args, kwargs, out: calls.append(('kw', kwargs)),
                            with_kwargs=True)
    x = ember.ones(3)
    out = m(x)
    assert calls[:2] == ['pre0', 'pre1'] and calls[2] == ('kw', {})
    assert out.tolist() == [2.0, 2.0, 2.0]  # (1 * 2) * 0.5 + 0 + 1
    h1.remove()
    h4.remove()
    calls.clear()
    assert m(x).tolist() == [1.0, 1.0, 1.0]
    assert calls == ['pre0', ('kw', {})]

    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError('boom')
    b = Boom()
    seen = []
    b.register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError, match='boom'):
        b(x)
    assert seen == [None]
    g = nn.modules.register_module_forward_hook(lambda mod, args, out: seen.append('global'))
    m(x)
    g.remove()
    assert seen[-1] == 'global'


def test_full_backward_hooks_match_torch():
    records = {}
    outs = {}
    for lib in (ember, torch):
        net = make(lib)
        with (lib.no_grad()):
            for i, p in enumerate(net.parameters()):
                p.fill_(0.1 * (i + 1))
        got = []
        net.a.register_full_backward_pre_hook(lambda m, go: got.append(('pre', go[0].tolist())))
        net.a.register_full_backward_hook(
            lambda m, gi, go: got.append(('full', [None if g is None else g.tolist() for g in gi],
                                          go[0].tolist())))
        net.blocks[0].register_full_backward_hook(lambda m, gi, go: (gi[0] * 2,))
        x = (lib.tensor([1.0, 2.0, 3.0]).requires_grad_())
        y = net(x)
        y.sum().backward()
        records[lib.__name__] = got
        outs[lib.__name__] = x.grad.tolist()
    assert len(records['ember']) == len(records['torch'])
    for a, b in zip(records['ember'], records['torch']):
        assert a[0] == b[0]
        np.testing.assert_allclose(np.array(a[1], dtype=float), np.array(b[1], dtype=float), rtol=1e-6)
    np.testing.assert_allclose(outs['ember'], outs['torch'], rtol=1e-6)


def test_full_backward_hook_without_input_grad():
    m = make(ember).a
    got = []
    m.register_full_backward_hook(lambda mod, gi, go: got.append((gi, go[0].shape)))
    m(ember.ones(3)).sum().backward()
    assert got == [((None,), (3,))]


def test_state_dict_hooks():
    m = make(ember).a
    seen = []
    m.register_state_dict_pre_hook(lambda mod, prefix, keep: seen.append(('pre', prefix)))
    m.register_state_dict_post_hook(lambda mod, sd, prefix, meta: seen.append(('post', len(sd))))
    m.state_dict()
    assert seen == [('pre', ''), ('post', 3)]
    m.register_load_state_dict_post_hook(lambda mod, keys: keys.missing_keys.clear())
    assert m.load_state_dict({}, strict=True).missing_keys == []
    calls = []
    m.register_load_state_dict_pre_hook(lambda mod, sd, prefix, *rest: calls.append(prefix))
    m.load_state_dict(m.state_dict())
    assert calls == ['']


def test_sequential_api_matches_torch():
    def build(lib):
        return lib.nn.Sequential(lib.nn.Identity() if hasattr(lib.nn, 'Identity') else lib.nn.Module(),
                                 lib.nn.Module(), lib.nn.Module())
    e = nn.Sequential(OrderedDict([('a', nn.Module()), ('b', nn.Module()), ('c', nn.Module())]))
    t = torch.nn.Sequential(OrderedDict([('a', torch.nn.Module()), ('b', torch.nn.Module()),
                                         ('c', torch.nn.Module())]))
    for s in (e, t):
        del s[1]
        s.append(type(s[0])())
        s.insert(1, type(s[0])())
        s.pop(0)
    assert list(e._modules) == list(t._modules)
    assert repr(e[0:2]) == repr(t[0:2])
    assert isinstance(e[-1], nn.Module) and len(e) == len(t)
    with pytest.raises(IndexError, match='index 9 is out of range'):
        e[9]
    assert len(e + e) == 2 * len(e) and len(e * 3) == 3 * len(e)
    e2 = nn.Sequential()
    e2 += e
    assert len(e2) == len(e)
    e.extend([nn.Module()])
    assert len(e) == 4
    lin = nn.Sequential()
    x = ember.ones(2)
    assert lin(x) is x


def test_modulelist_moduledict_parameterlist_dict():
    ml = nn.ModuleList([nn.Module() for _ in range(3)])
    ml.append(nn.Module())
    ml.insert(0, nn.Sequential())
    ml.extend([nn.Module()])
    del ml[1]
    assert list(ml._modules) == [str(i) for i in range(len(ml))]
    assert isinstance(ml[1:], nn.ModuleList) and len(ml[1:]) == len(ml) - 1
    with pytest.raises(TypeError, match='ModuleList.extend should be called with an iterable'):
        ml.extend(nn.Module())
    md = nn.ModuleDict({'b': nn.Module(), 'a': nn.Module()})
    assert list(md.keys()) == ['b', 'a'] and 'a' in md and len(md) == 2
    md.update([('c', nn.Module())])
    md['d'] = nn.Module()
    assert list(md) == ['b', 'a', 'c', 'd']
    md.pop('b')
    assert list(md.keys()) == ['a', 'c', 'd']
    pl = nn.ParameterList([ember.ones(2), nn.Parameter(ember.zeros(3))])
    assert isinstance(pl[0], nn.Parameter) and len(pl) == 2
    pl.append(ember.ones(1))
    assert [n for n, _ in nn.Sequential()._modules.items()] == []
    holder = nn.Module()
    holder.pl = pl
    assert [n for n, _ in holder.named_parameters()] == ['pl.0', 'pl.1', 'pl.2']
    pd = nn.ParameterDict({'w': ember.ones(2)})
    pd['v'] = nn.Parameter(ember.zeros(1))
    assert list(pd.keys()) == ['w', 'v'] and isinstance(pd['w'], nn.Parameter)
    holder.pd = pd
    assert 'pd.w' in holder.state_dict()
    with pytest.raises(RuntimeError, match='ParameterList should not be called.'):
        pl()


def test_deepcopy_and_pickle():
    e = make(ember)
    c = copy.deepcopy(e)
    assert c.a is c.b[1]  # sharing preserved
    assert c.a.weight is not e.a.weight
    with ember.no_grad():
        c.a.weight.fill_(5.0)
    assert e.a.weight.tolist() == [0.5] * 3
    p = pickle.loads(pickle.dumps(e))
    x = E(rand(3))
    assert_close(p(x), T(e(x).detach().numpy()))
    assert isinstance(p.a.weight, nn.Parameter) and p.a.weight.requires_grad


def test_parameter_semantics():
    t = ember.ones(3)
    p = nn.Parameter(t)
    assert p.requires_grad and p.is_leaf and isinstance(p, ember.Tensor)
    with ember.no_grad():
        p.add_(1)
    assert t.tolist() == [2.0, 2.0, 2.0]  # shares memory with the data
    assert repr(nn.Parameter(ember.ones(2))) == repr(torch.nn.Parameter(torch.ones(2)))
    assert repr(nn.Parameter(ember.ones(2), requires_grad=False)) == \
        repr(torch.nn.Parameter(torch.ones(2), requires_grad=False))
    with pytest.raises(RuntimeError, match='Only Tensors of floating point and complex dtype can '
                                           'require gradients'):
        nn.Parameter(ember.ones(2, dtype=ember.int64))
    q = nn.Parameter(ember.ones(2, dtype=ember.int64), requires_grad=False)
    assert not q.requires_grad
    assert type(p * 2) is ember.Tensor
    assert isinstance(copy.deepcopy(p), nn.Parameter)
