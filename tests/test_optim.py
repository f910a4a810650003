"""ember.optim against torch.optim: 30-step parity of every optimizer and option set on a
small model, state_dict structure and loading torch's state, param groups, hooks, repr,
errors, zero_grad, closures, version counters, LBFGS iterates."""
import copy
import pickle

import numpy as np
import pytest
import torch

import ember
from tests.conftest import DEVICE
from tests.helpers import assert_close, to_np

OPTIONS = [
    ('SGD', {'lr': 0.1}),
    ('SGD', {'lr': 0.1, 'momentum': 0.9}),
    ('SGD', {'lr': 0.1, 'momentum': 0.9, 'dampening': 0.3, 'weight_decay': 0.01}),
    ('SGD', {'lr': 0.01, 'momentum': 0.9, 'nesterov': True, 'maximize': True, 'foreach': False}),
    ('Adam', {'lr': 0.01}),
    ('Adam', {'lr': 0.01, 'amsgrad': True, 'weight_decay': 0.1}),
    ('Adam', {'lr': 0.01, 'betas': (0.8, 0.99), 'eps': 1e-6, 'maximize': True}),
    ('Adam', {'lr': 0.01, 'weight_decay': 0.1, 'decoupled_weight_decay': True}),
    ('Adam', {'lr': 0.01, 'betas': (0.3, 0.9)}),
    ('AdamW', {'lr': 0.01}),
    ('AdamW', {'lr': 0.01, 'weight_decay': 0.1, 'amsgrad': True, 'maximize': True}),
    ('RMSprop', {'lr': 0.01}),
    ('RMSprop', {'lr': 0.01, 'alpha': 0.9, 'momentum': 0.5}),
    ('RMSprop', {'lr': 0.01, 'centered': True, 'weight_decay': 0.1}),
    ('RMSprop', {'lr': 0.01, 'centered': True, 'momentum': 0.9, 'maximize': True}),
    ('Adagrad', {'lr': 0.1}),
    ('Adagrad', {'lr': 0.1, 'lr_decay': 0.01, 'initial_accumulator_value': 0.1,
                 'weight_decay': 0.1, 'eps': 1e-8}),
    ('Adagrad', {'lr': 0.1, 'maximize': True}),
    ('Adadelta', {}),
    ('Adadelta', {'lr': 0.5, 'rho': 0.8, 'weight_decay': 0.1, 'maximize': True}),
    ('Adamax', {}),
    ('Adamax', {'lr': 0.01, 'betas': (0.8, 0.99), 'weight_decay': 0.1, 'maximize': True}),
    ('NAdam', {}),
    ('NAdam', {'lr': 0.01, 'momentum_decay': 0.01, 'weight_decay': 0.1}),
    ('NAdam', {'lr': 0.01, 'weight_decay': 0.1, 'decoupled_weight_decay': True,
               'maximize': True}),
    ('RAdam', {}),
    ('RAdam', {'lr': 0.01, 'weight_decay': 0.1}),
    ('RAdam', {'lr': 0.01, 'weight_decay': 0.1, 'decoupled_weight_decay': True,
               'maximize': True}),
    ('RAdam', {'lr': 0.01, 'betas': (0.9, 0.9)}),
]
IDS = [f'{name}-{i}' for i, (name, _) in enumerate(OPTIONS)]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}
ELEMENTWISE = ['SGD', 'Adam', 'AdamW', 'RMSprop', 'Adagrad', 'Adadelta', 'Adamax', 'NAdam',
               'RAdam']


# ---- a small model in both libraries ------------------------------------------------------
def make_data(dtype, seed=0):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(s).astype(dtype) * 0.5 for s in [(8, 5), (8,), (3, 8), (3,)]]
    x = rng.standard_normal((16, 5)).astype(dtype)
    y = rng.standard_normal((16, 3)).astype(dtype)
    return weights, x, y


class Twin:
    """Two Linear layers + tanh with MSE loss, in ``lib`` (ember or torch)."""

    def __init__(self, lib, weights, x, y):
        self.lib = lib
        dev = DEVICE if lib is ember else 'cpu'
        self.params = [lib.nn.Parameter(lib.tensor(w.copy(), device=dev)) for w in weights]
        self.x = lib.tensor(x, device=dev)
        self.y = lib.tensor(y, device=dev)

    def loss(self):
        w1, b1, w2, b2 = self.params
        out = self.lib.tanh(self.x @ w1.T + b1) @ w2.T + b2
        return ((out - self.y) ** 2).mean()

    def closure_for(self, opt):
        def closure():
            opt.zero_grad()
            loss = self.loss()
            loss.backward()
            return loss
        return closure

    def numpy(self):
        return [to_np(p) for p in self.params]


def train(lib, name, kwargs, dtype, steps=30, seed=0, torch_grads=False):
    """``steps`` optimizer steps on the twin model; with ``torch_grads`` every gradient is
    computed by torch at the current parameter values, so that both libraries' optimizers
    see bit-identical gradients."""
    model = Twin(lib, *make_data(dtype, seed))
    opt = getattr(lib.optim, name)(model.params, **kwargs)
    closure = torch_closure(model, opt) if torch_grads else model.closure_for(opt)
    for _ in range(steps):
        opt.step(closure)
    return model, opt


def torch_closure(model, opt):
    """A closure setting the gradients of ``model``'s parameters to torch's at their values."""

    ref = Twin(torch, model.numpy(), to_np(model.x), to_np(model.y))

    def closure():
        opt.zero_grad()
        with torch.no_grad():
            for r, value in zip(ref.params, model.numpy()):
                r.copy_(torch.from_numpy(value))
                r.grad = None
        loss = ref.loss()
        loss.backward()
        for p, r in zip(model.params, ref.params):
            p.grad = model.lib.tensor(r.grad.numpy(), device=p.device)
        return loss
    return closure


def to_ember(obj):
    """A torch object (state dict) with every tensor converted to ember through NumPy."""
    if isinstance(obj, torch.Tensor):
        dev = 'cpu' if obj.ndim == 0 else DEVICE
        return ember.tensor(obj.detach().numpy(), device=dev)
    if isinstance(obj, dict):
        return {k: to_ember(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_ember(v) for v in obj)
    return obj


def assert_state_like_torch(es, ts, tol, scaled_atol=0.0):
    """ember state_dict ``es`` has torch's structure, dtypes and (close) values; each state
    tensor's atol is ``tol['atol']`` plus ``scaled_atol`` times its largest magnitude."""
    assert es['param_groups'] == [{k: v for k, v in g.items()} for g in ts['param_groups']]
    assert list(es['state']) == list(ts['state'])
    for idx, tstate in ts['state'].items():
        estate = es['state'][idx]
        assert list(estate) == list(tstate)
        for key, tv in tstate.items():
            if isinstance(tv, torch.Tensor):
                atol = tol.get('atol', 0.0) + scaled_atol * float(np.abs(tv.numpy()).max(initial=0))
                assert_close(estate[key], tv, **{**tol, 'atol': atol})
            else:
                assert estate[key] == tv


# ---- parity -------------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', [np.float64, np.float32])
@pytest.mark.parametrize('name,kwargs', OPTIONS, ids=IDS)
def test_30_steps_match_torch(name, kwargs, dtype):
    # float32 forward/backward rounding differs between the libraries (matmul summation
    # order, tanh): ~1e-7 of the gradient's scale, which maximizing the (unbounded) loss
    # amplifies past 1e-5 within 30 steps. The float32 runs therefore feed both optimizers
    # torch's gradients, so that only the optimizers' own arithmetic is compared.
    torch_grads = dtype == np.float32
    em, eo = train(ember, name, kwargs, dtype, torch_grads=torch_grads)
    tm, to = train(torch, name, kwargs, dtype, torch_grads=torch_grads)
    for a, b in zip(em.numpy(), tm.numpy()):
        np.testing.assert_allclose(a, b, **TOL[dtype])
    if dtype == np.float64:
        assert_state_like_torch(eo.state_dict(), to.state_dict(), TOL[dtype])
    else:
        # maximizing with Nesterov momentum (SGD-3) is chaotic: in torch alone, moving the
        # initial weights by one ulp moves the momentum buffer by ~9e-6 of its scale
        assert_state_like_torch(eo.state_dict(), to.state_dict(), dict(rtol=1e-4, atol=1e-6),
                                scaled_atol=1e-4)


@pytest.mark.parametrize('name,kwargs', OPTIONS, ids=IDS)
def test_load_torch_state_dict_then_identical_steps(name, kwargs):
    # the reference is a fresh torch optimizer loading the same state: loading casts state
    # tensors such as NAdam's float32 'mu_product' to the parameter's dtype in both libraries
    trained, trained_opt = train(torch, name, kwargs, np.float64, steps=5)
    state_dict = trained_opt.state_dict()
    tm = Twin(torch, trained.numpy(), *make_data(np.float64)[1:])
    to = getattr(torch.optim, name)(tm.params, **kwargs)
    to.load_state_dict(copy.deepcopy(state_dict))
    em = Twin(ember, trained.numpy(), *make_data(np.float64)[1:])
    eo = getattr(ember.optim, name)(em.params, **kwargs)
    eo.load_state_dict(to_ember(state_dict))
    for _ in range(5):
        eo.step(em.closure_for(eo))
        to.step(tm.closure_for(to))
    for a, b in zip(em.numpy(), tm.numpy()):
        np.testing.assert_allclose(a, b, **TOL[np.float64])
    assert_state_like_torch(eo.state_dict(), to.state_dict(), TOL[np.float64])


def test_numpy_arrays_in_loaded_state():
    tm, to = train(torch, 'Adam', {'lr': 0.01}, np.float64, steps=3)
    sd = to.state_dict()
    sd['state'] = {i: {k: v.numpy() for k, v in s.items()} for i, s in sd['state'].items()}
    em = Twin(ember, tm.numpy(), *make_data(np.float64)[1:])
    eo = ember.optim.Adam(em.params, lr=0.01)
    eo.load_state_dict(sd)
    assert eo.state[em.params[0]]['step'].dtype == ember.float32
    eo.step(em.closure_for(eo))
    to.step(tm.closure_for(to))
    for a, b in zip(em.numpy(), tm.numpy()):
        np.testing.assert_allclose(a, b, **TOL[np.float64])


@pytest.mark.parametrize('name', ['SGD', 'Adam', 'RMSprop', 'NAdam'])
def test_lr_changed_between_steps_takes_effect(name):
    results = []
    for lib in (ember, torch):
        model = Twin(lib, *make_data(np.float64))
        opt = getattr(lib.optim, name)(model.params, lr=0.05)
        for i in range(10):
            for group in opt.param_groups:
                group['lr'] = 0.05 * (i + 1) / 10  # manual warm-up
            opt.step(model.closure_for(opt))
        results.append(model.numpy())
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, **TOL[np.float64])


@pytest.mark.parametrize('name,kwargs', [('SGD', {'momentum': 0.9}), ('Adam', {}),
                                         ('RMSprop', {'centered': True})])
def test_param_groups_with_own_options(name, kwargs):
    results, state_dicts = [], []
    for lib in (ember, torch):
        model = Twin(lib, *make_data(np.float64))
        w1, b1, w2, b2 = model.params
        opt = getattr(lib.optim, name)([{'params': [w1, b1]},
                                         {'params': [w2, b2], 'lr': 0.2, 'weight_decay': 0.1}],
                                        lr=0.01, **kwargs)
        for _ in range(10):
            opt.step(model.closure_for(opt))
        results.append(model.numpy())
        state_dicts.append(opt.state_dict())
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, **TOL[np.float64])
    assert state_dicts[0]['param_groups'] == state_dicts[1]['param_groups']
    assert [g['params'] for g in state_dicts[0]['param_groups']] == [[0, 1], [2, 3]]


def test_add_param_group_later():
    results = []
    for lib in (ember, torch):
        model = Twin(lib, *make_data(np.float64))
        opt = lib.optim.Adam(model.params[:2], lr=0.01)
        for i in range(6):
            if i == 3:
                opt.add_param_group({'params': model.params[2:], 'lr': 0.05})
            opt.step(model.closure_for(opt))
        results.append((model.numpy(), repr(opt)))
    for a, b in zip(results[0][0], results[1][0]):
        np.testing.assert_allclose(a, b, **TOL[np.float64])
    assert results[0][1] == results[1][1]


def test_lr_as_tensor():
    results = []
    for lib in (ember, torch):
        model = Twin(lib, *make_data(np.float64))
        opt = lib.optim.Adam(model.params, lr=lib.tensor(0.01))
        for _ in range(3):
            opt.step(model.closure_for(opt))
        results.append(model.numpy())
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-7)


# ---- state ------------------------------------------------------------------------------
@pytest.mark.parametrize('name', ELEMENTWISE)
def test_state_dtypes_for_float64_params(name):
    model = Twin(ember, *make_data(np.float64))
    opt = getattr(ember.optim, name)(model.params)
    opt.step(model.closure_for(opt))
    tm = Twin(torch, *make_data(np.float64))
    to = getattr(torch.optim, name)(tm.params)
    to.step(tm.closure_for(to))
    for estate, tstate in zip(opt.state_dict()['state'].values(),
                              to.state_dict()['state'].values()):
        assert {k: str(v.dtype) for k, v in estate.items()} == \
            {k: str(v.dtype).replace('torch', 'ember') for k, v in tstate.items()}
        assert all(v.shape == (tstate[k].shape) for k, v in estate.items())


def test_step_dtype_follows_default_dtype():
    ember.set_default_dtype(ember.float64)
    model = Twin(ember, *make_data(np.float32))
    opt = ember.optim.Adam(model.params)
    opt.step(model.closure_for(opt))
    state = opt.state[model.params[0]]
    assert state['step'].dtype == ember.float64 and state['exp_avg'].dtype == ember.float32


def test_state_dict_shares_state_tensors_and_packs_indices():
    model = Twin(ember, *make_data(np.float32))
    opt = ember.optim.SGD(model.params, lr=0.1, momentum=0.9)
    opt.step(model.closure_for(opt))
    sd = opt.state_dict()
    assert sd['state'][2]['momentum_buffer'] is opt.state[model.params[2]]['momentum_buffer']
    assert sd['param_groups'][0]['params'] == [0, 1, 2, 3]
    assert list(sd['param_groups'][0])[-1] == 'params'


def test_params_without_grad_are_skipped():
    for lib in (ember, torch):
        model = Twin(lib, *make_data(np.float32))
        opt = lib.optim.Adam(model.params)
        model.params[1].requires_grad_(False)
        before = to_np(model.params[1]).copy()
        opt.step(model.closure_for(opt))
        assert list(opt.state_dict()['state']) == [0, 2, 3]
        np.testing.assert_array_equal(to_np(model.params[1]), before)


def test_adagrad_state_exists_before_first_step():
    e = ember.optim.Adagrad(Twin(ember, *make_data(np.float32)).params,
                            initial_accumulator_value=0.5)
    t = torch.optim.Adagrad(Twin(torch, *make_data(np.float32)).params,
                            initial_accumulator_value=0.5)
    assert_state_like_torch(e.state_dict(), t.state_dict(), {})


def test_load_state_dict_casts_to_param_dtype_but_keeps_step():
    tm, to = train(torch, 'Adam', {}, np.float64, steps=2)
    em = Twin(ember, make_data(np.float32)[0], *make_data(np.float32)[1:])
    eo = ember.optim.Adam(em.params)
    sd = to_ember(to.state_dict())
    eo.load_state_dict(sd)
    state = eo.state[em.params[0]]
    assert state['exp_avg'].dtype == ember.float32
    assert state['step'].dtype == ember.float32 and state['step'].item() == 2.0
    assert sd['param_groups'][0]['params'] == [0, 1, 2, 3]  # the input is not modified


def test_load_state_dict_restores_options_and_flags():
    model = Twin(ember, *make_data(np.float32))
    opt = ember.optim.SGD(model.params, lr=0.3, momentum=0.5)
    opt.load_state_dict({'state': {}, 'param_groups': [{'params': [0, 1, 2, 3], 'lr': 0.2,
                                                        'momentum': 0.1, 'dampening': 0,
                                                        'weight_decay': 0, 'nesterov': False}]})
    group = opt.param_groups[0]
    assert group['lr'] == 0.2 and group['momentum'] == 0.1 and group['maximize'] is False
    assert group['params'] == model.params


@pytest.mark.parametrize('sd,message', [
    ({'state': {}, 'param_groups': []},
     'loaded state dict has a different number of parameter groups'),
    ({'state': {}, 'param_groups': [{'params': [0]}]},
     "loaded state dict contains a parameter group that doesn't match the size of optimizer's "
     'group'),
])
def test_load_state_dict_errors(sd, message):
    opt = ember.optim.SGD(Twin(ember, *make_data(np.float32)).params)
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(sd)


def test_named_parameters():
    results = []
    for lib in (ember, torch):
        lin = lib.nn.Linear(3, 2)
        opt = lib.optim.SGD(lin.named_parameters(), lr=0.1)
        results.append((opt.state_dict()['param_groups'], repr(opt),
                        opt.param_groups[0]['params'] == [lin.weight, lin.bias]))
    assert results[0] == results[1]


def test_pickle_and_deepcopy_continue_identically():
    model = Twin(ember, *make_data(np.float64))
    opt = ember.optim.Adam(model.params, lr=0.01, amsgrad=True)
    opt.step(model.closure_for(opt))
    data = (model.params, model.x, model.y, opt)
    copies = [copy.deepcopy(data), pickle.loads(pickle.dumps(data))]
    runs = [(model, opt)]
    for params, x, y, o in copies:
        assert o.param_groups[0]['params'] == params and o.state[params[0]]
        clone = Twin(ember, [to_np(p) for p in params], to_np(x), to_np(y))
        clone.params = params
        runs.append((clone, o))
    for m, o in runs:
        for _ in range(3):
            o.step(m.closure_for(o))
    for other, _ in runs[1:]:
        for a, b in zip(model.numpy(), other.numpy()):
            np.testing.assert_array_equal(a, b)


# ---- repr, flags, errors ----------------------------------------------------------------
@pytest.mark.parametrize('name', ELEMENTWISE + ['LBFGS'])
def test_repr_matches_torch(name):
    reprs = [repr(getattr(lib.optim, name)(lib.nn.Linear(3, 2).parameters()))
             for lib in (ember, torch)]
    assert reprs[0] == reprs[1]


def test_repr_of_groups_and_flags_matches_torch():
    reprs = []
    for lib in (ember, torch):
        lin = lib.nn.Linear(3, 2)
        reprs.append(repr(lib.optim.Adam([{'params': [lin.weight]},
                                          {'params': [lin.bias], 'lr': 0.5, 'foo': 1}],
                                         foreach=True, capturable=True, maximize=True)))
    assert reprs[0] == reprs[1]
    assert reprs[0].startswith('Adam (\nParameter Group 0\n    amsgrad: False\n')


ERRORS = [
    lambda L, p: L.optim.SGD([]),
    lambda L, p: L.optim.SGD(p[0]),
    lambda L, p: L.optim.SGD([1.0]),
    lambda L, p: L.optim.SGD([{'params': {p[0]}}]),
    lambda L, p: L.optim.SGD([p[0]]).add_param_group({'params': {p[1]}}),
    lambda L, p: L.optim.SGD([{'params': [p[0]]}, {'params': [p[0]]}]),
    lambda L, p: L.optim.SGD([p[0] * 2]),
    lambda L, p: L.optim.SGD([('a', p[0]), p[1]]),
    lambda L, p: L.optim.SGD([{'params': [('a', p[0])]}, {'params': [p[1]]}]),
    lambda L, p: L.optim.SGD(p, lr=-1),
    lambda L, p: L.optim.SGD(p, momentum=-0.5),
    lambda L, p: L.optim.SGD(p, weight_decay=-1),
    lambda L, p: L.optim.SGD(p, nesterov=True),
    lambda L, p: L.optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True),
    lambda L, p: L.optim.SGD(p, foreach=True, fused=True),
    lambda L, p: L.optim.Adam(p, fused=True, differentiable=True),
    lambda L, p: L.optim.Adam(p, betas=(1.0, 0.9)),
    lambda L, p: L.optim.Adam(p, betas=(0.9, -0.1)),
    lambda L, p: L.optim.Adam(p, eps=-1),
    lambda L, p: L.optim.AdamW(p, weight_decay=-1),
    lambda L, p: L.optim.RMSprop(p, alpha=-1),
    lambda L, p: L.optim.RMSprop(p, momentum=-1),
    lambda L, p: L.optim.Adagrad(p, lr_decay=-1),
    lambda L, p: L.optim.Adagrad(p, initial_accumulator_value=-1),
    lambda L, p: L.optim.Adadelta(p, rho=1.5),
    lambda L, p: L.optim.Adamax(p, betas=(0.9, 1.0)),
    lambda L, p: L.optim.NAdam(p, momentum_decay=-1),
    lambda L, p: L.optim.RAdam(p, weight_decay=-1),
    lambda L, p: L.optim.LBFGS([{'params': [p[0]]}, {'params': [p[1]]}]),
    lambda L, p: L.optim.SGD(p).add_param_group([p[1]]),
    lambda L, p: L.optim.SGD([p[0]]).add_param_group({'params': [p[0]]}),
    lambda L, p: L.optim.SGD([('w', p[0])]).add_param_group({'params': [p[1]]}),
]


@pytest.mark.parametrize('make', ERRORS, ids=[f'error{i}' for i in range(len(ERRORS))])
def test_errors_match_torch(make):
    outcomes = []
    for lib in (ember, torch):
        lin = lib.nn.Linear(3, 2)
        with pytest.raises(Exception) as info:
            make(lib, [lin.weight, lin.bias])
        outcomes.append((type(info.value), str(info.value).replace('torch.', 'ember.')))
    assert outcomes[0] == outcomes[1]


def test_duplicate_params_in_group_warn_like_torch():
    for lib in (ember, torch):
        lin = lib.nn.Linear(3, 2)
        with pytest.warns(UserWarning, match='duplicate parameters; in future, this will cause'):
            opt = lib.optim.SGD([lin.weight, lin.weight])
        assert len(opt.param_groups[0]['params']) == 2


@pytest.mark.parametrize('name', ELEMENTWISE)
def test_differentiable_true_is_refused(name):
    with pytest.raises(RuntimeError, match='differentiable=True is not supported'):
        getattr(ember.optim, name)(ember.nn.Linear(3, 2).parameters(), differentiable=True)


def test_required_sentinel_and_custom_optimizer():
    from ember.optim.optimizer import required

    class Custom(ember.optim.Optimizer):
        def __init__(self, params, lr=required):
            super().__init__(params, {'lr': lr})

        def step(self, closure=None):
            for group in self.param_groups:
                for p in group['params']:
                    p.data.add_(p.grad, alpha=-group['lr'])

    lin = ember.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="didn't specify a value of required optimization "
                                         'parameter lr'):
        Custom(lin.parameters())
    assert repr(required) == '<required parameter>'
    opt = Custom(lin.parameters(), lr=0.5)
    calls = []
    opt.register_step_post_hook(lambda o, a, k: calls.append(o))
    lin(ember.ones(1, 3)).sum().backward()
    before = lin.bias.detach().numpy().copy()
    opt.step()
    np.testing.assert_allclose(lin.bias.detach().numpy(), before - 0.5)
    assert calls == [opt]


# ---- zero_grad, closures, versions ------------------------------------------------------
@pytest.mark.parametrize('set_to_none', [True, False])
def test_zero_grad(set_to_none):
    for lib in (ember, torch):
        lin = lib.nn.Linear(3, 2)
        lin(lib.ones(1, 3)).sum().backward()
        grad = lin.weight.grad
        opt = lib.optim.SGD(lin.parameters())
        opt.zero_grad(set_to_none=set_to_none)
        if set_to_none:
            assert lin.weight.grad is None
        else:
            assert lin.weight.grad is grad and not grad.requires_grad
            assert to_np(grad).tolist() == [[0.0] * 3] * 2


def test_step_returns_closure_loss_and_closure_runs_with_grad():
    model = Twin(ember, *make_data(np.float32))
    opt = ember.optim.SGD(model.params, lr=0.1)
    with ember.no_grad():
        loss = opt.step(model.closure_for(opt))
    assert isinstance(loss, ember.Tensor) and loss.grad_fn is not None
    assert opt.step() is None


@pytest.mark.parametrize('name,kwargs', OPTIONS, ids=IDS)
def test_version_counter_bumps_like_torch(name, kwargs):
    versions = []
    for lib in (ember, torch):
        model, opt = train(lib, name, kwargs, np.float32, steps=2)
        versions.append([p._version for p in model.params])
    assert versions[0] == versions[1]


def test_updates_do_not_build_graphs():
    model = Twin(ember, *make_data(np.float32))
    opt = ember.optim.Adam(model.params)
    opt.step(model.closure_for(opt))
    assert all(p.is_leaf and p.grad_fn is None for p in model.params)
    assert all(v.grad_fn is None for s in opt.state.values() for v in s.values())


# ---- hooks --------------------------------------------------------------------------------
def test_step_hooks_order_args_and_removal():
    from ember.optim.optimizer import (register_optimizer_step_post_hook,
                                       register_optimizer_step_pre_hook)
    model = Twin(ember, *make_data(np.float32))
    opt = ember.optim.SGD(model.params, lr=0.1)
    log = []
    handles = [
        opt.register_step_pre_hook(lambda o, a, k: log.append(('pre', a[0] is o, k))),
        opt.register_step_post_hook(lambda o, a, k: log.append(('post', len(a), k))),
        register_optimizer_step_pre_hook(lambda o, a, k: log.append(('gpre',))),
        register_optimizer_step_post_hook(lambda o, a, k: log.append(('gpost',))),
    ]
    try:
        opt.step()
        opt.step(closure=None)
    finally:
        for h in handles:
            h.remove()
    assert log == [('gpre',), ('pre', True, {}), ('post', 1, {}), ('gpost',),
                   ('gpre',), ('pre', True, {'closure': None}), ('post', 1, {'closure': None}),
                   ('gpost',)]
    opt.step()
    assert len(log) == 8


def test_step_pre_hook_can_replace_arguments():
    model = Twin(ember, *make_data(np.float32))
    opt = ember.optim.SGD(model.params, lr=0.1)
    closure = model.closure_for(opt)
    opt.register_step_pre_hook(lambda o, a, k: ((o, closure), {}))
    assert opt.step() is not None
    opt2 = ember.optim.SGD(model.params, lr=0.1)
    opt2.register_step_pre_hook(lambda o, a, k: 5)
    with pytest.raises(RuntimeError, match='must return None or a tuple of '
                                           r'\(new_args, new_kwargs\), but got 5.'):
        opt2.step()


def test_state_dict_and_load_hooks():
    model = Twin(ember, *make_data(np.float32))
    opt = ember.optim.SGD(model.params, lr=0.1)
    log = []
    opt.register_state_dict_pre_hook(lambda o: log.append('sd_pre'))
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, 'extra': 1})
    opt.register_load_state_dict_pre_hook(lambda o, sd: log.append('load_pre'))
    opt.register_load_state_dict_post_hook(lambda o: log.append('load_post'))
    opt.register_load_state_dict_post_hook(lambda o: log.append('first'), prepend=True)
    sd = opt.state_dict()
    assert sd['extra'] == 1
    opt.load_state_dict(sd)
    assert log == ['sd_pre', 'load_pre', 'first', 'load_post']


# ---- LBFGS ----------------------------------------------------------------------------
def rosenbrock_run(lib, dtype, steps, **kwargs):
    x = lib.nn.Parameter(lib.tensor(np.array([-1.5, 2.0, 0.5, -0.7], dtype=dtype)))
    opt = lib.optim.LBFGS([x], **kwargs)

    def closure():
        opt.zero_grad()
        loss = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
        loss.backward()
        return loss
    iterates, losses = [], []
    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
        iterates.append(to_np(x).copy())
    return iterates, losses, opt


@pytest.mark.parametrize('kwargs', [
    {'line_search_fn': 'strong_wolfe'},
    {'line_search_fn': 'strong_wolfe', 'history_size': 3, 'max_iter': 7},
    {'line_search_fn': None, 'lr': 0.5},
    {'line_search_fn': None, 'history_size': 2, 'max_iter': 5, 'tolerance_change': 1e-5},
    {'line_search_fn': 'strong_wolfe', 'max_iter': 4, 'max_eval': 6, 'tolerance_grad': 1e-3},
])
def test_lbfgs_rosenbrock_iterates_match_torch(kwargs):
    e_it, e_loss, eo = rosenbrock_run(ember, np.float64, 4, **kwargs)
    t_it, t_loss, to = rosenbrock_run(torch, np.float64, 4, **kwargs)
    np.testing.assert_allclose(e_it, t_it, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(e_loss, t_loss, rtol=1e-9, atol=1e-12)
    es, ts = eo.state_dict()['state'][0], to.state_dict()['state'][0]
    assert list(es) == list(ts)
    assert (es['func_evals'], es['n_iter']) == (ts['func_evals'], ts['n_iter'])
    assert len(es['old_dirs']) == len(ts['old_dirs'])
    assert_close(es['d'], ts['d'], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize('ls', [None, 'strong_wolfe'])
def test_lbfgs_float32_least_squares(ls):
    results = []
    for lib in (ember, torch):
        model = Twin(lib, *make_data(np.float32))
        opt = lib.optim.LBFGS(model.params, lr=0.5, max_iter=10, line_search_fn=ls)
        for _ in range(2):
            opt.step(model.closure_for(opt))
        results.append(model.numpy())
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_lbfgs_resumes_from_torch_state():
    _, _, to = rosenbrock_run(torch, np.float64, 1, line_search_fn='strong_wolfe')
    tx = to.param_groups[0]['params'][0]
    x = ember.nn.Parameter(ember.tensor(tx.detach().numpy().copy()))
    eo = ember.optim.LBFGS([x], line_search_fn='strong_wolfe')
    eo.load_state_dict(to_ember(to.state_dict()))
    for lib, p, opt in [(ember, x, eo), (torch, tx, to)]:
        def closure(p=p, opt=opt):
            opt.zero_grad()
            loss = (100 * (p[1:] - p[:-1] ** 2) ** 2 + (1 - p[:-1]) ** 2).sum()
            loss.backward()
            return loss
        opt.step(closure)
    np.testing.assert_allclose(to_np(x), to_np(tx), rtol=1e-9, atol=1e-12)


def test_lbfgs_errors():
    x = ember.nn.Parameter(ember.ones(2))
    with pytest.raises(TypeError, match='requires a closure'):
        ember.optim.LBFGS([x]).step(None)
    opt = ember.optim.LBFGS([x], line_search_fn='wolfe')

    def closure():
        opt.zero_grad()
        loss = (x ** 2).sum()
        loss.backward()
        return loss
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)


# ---- GPU ----------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize('name,kwargs', OPTIONS[::3], ids=IDS[::3])
def test_cuda_matches_cpu(name, kwargs):
    results = []
    for device in ('cpu', 'cuda'):
        weights, x, y = make_data(np.float64)
        params = [ember.nn.Parameter(ember.tensor(w, device=device)) for w in weights]
        opt = getattr(ember.optim, name)(params, **kwargs)
        for i in range(5):
            for p in params:
                p.grad = ember.sin(p.detach() * 3) + 0.1 * i
            opt.step()
        results.append([to_np(p) for p in params])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
