"""ember.optim.lr_scheduler against torch.optim.lr_scheduler: the lr (and momentum) sequences of
every scheduler over 100 steps with several option sets and three parameter groups,
state_dict round trips in mid-schedule, ReduceLROnPlateau on fixed metric sequences, the
deprecated ``step(epoch)`` forms, warnings and errors."""
import copy
import math
import pickle
import warnings

import numpy as np
import pytest
import torch

import ember

# nested schedulers step their children at construction, before any optimizer.step(): both
# libraries warn (test_sequence_matches_torch compares the warnings themselves)
pytestmark = pytest.mark.filterwarnings('ignore:Detected call of `lr_scheduler.step')

LRS = (0.1, 0.05, 0.3)
STEPS = 100


def make_optimizer(lib, name='SGD', lrs=LRS, **kwargs):
    """An optimizer over one small parameter per group, group i with lr ``lrs[i]``."""
    groups = [{'params': [lib.nn.Parameter(lib.zeros(2))], 'lr': lr} for lr in lrs]
    if name == 'SGD':
        kwargs.setdefault('momentum', 0.9)
    return getattr(lib.optim, name)(groups, **kwargs)


def snapshot(scheduler, optimizer):
    """Everything a scheduler sets: its last lrs, then the groups' lr and momentum/betas."""
    values = list(scheduler.get_last_lr())
    for group in optimizer.param_groups:
        values.append(group['lr'])
        if 'momentum' in group:
            values.append(group['momentum'])
        if 'betas' in group:
            values.extend(group['betas'])
    return [float(v) for v in values]


def run(lib, make, steps=STEPS, opt='SGD', opt_kwargs=None, begin=None):
    """Snapshots after construction and after each of ``steps`` (optimizer.step, step)."""
    optimizer = make_optimizer(lib, opt, **(opt_kwargs or {}))
    scheduler = make(lib.optim.lr_scheduler, optimizer)
    if begin is not None:
        begin(lib, optimizer, scheduler)
    history = [snapshot(scheduler, optimizer)]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        history.append(snapshot(scheduler, optimizer))
    return history, optimizer, scheduler


def assert_sequences_equal(ember_history, torch_history):
    assert len(ember_history) == len(torch_history)
    for i, (e, t) in enumerate(zip(ember_history, torch_history)):
        np.testing.assert_allclose(e, t, rtol=1e-12, atol=1e-15, err_msg=f'after step {i}')


def _scale(x):
    return 0.5 * (1 + math.sin(x * math.pi / 2))


class Halving:
    """A callable lr_lambda with state (saved in state_dict as its __dict__)."""

    def __init__(self):
        self.factor = 0.5

    def __call__(self, epoch):
        return self.factor ** (epoch // 10)


SCHEDULERS = {
    'LambdaLR': lambda L, o: L.LambdaLR(o, lambda e: 0.95 ** e),
    'LambdaLR-groups': lambda L, o: L.LambdaLR(
        o, [lambda e: 1 / (e + 1), lambda e: 0.9 ** e, lambda e: e % 5 + 1]),
    'LambdaLR-object': lambda L, o: L.LambdaLR(o, Halving()),
    'MultiplicativeLR': lambda L, o: L.MultiplicativeLR(o, lambda e: 0.95),
    'MultiplicativeLR-groups': lambda L, o: L.MultiplicativeLR(
        o, [lambda e: 0.99, lambda e: 1.0 if e % 2 else 0.9, lambda e: 1.01]),
    'StepLR': lambda L, o: L.StepLR(o, step_size=10, gamma=0.5),
    'StepLR-3': lambda L, o: L.StepLR(o, 3),
    'MultiStepLR': lambda L, o: L.MultiStepLR(o, milestones=[10, 30, 30, 80], gamma=0.5),
    'MultiStepLR-unsorted': lambda L, o: L.MultiStepLR(o, [50, 20]),
    'ConstantLR': lambda L, o: L.ConstantLR(o),
    'ConstantLR-0.5-20': lambda L, o: L.ConstantLR(o, factor=0.5, total_iters=20),
    'ConstantLR-1': lambda L, o: L.ConstantLR(o, factor=1.0, total_iters=0),
    'LinearLR': lambda L, o: L.LinearLR(o),
    'LinearLR-0.25-0.75': lambda L, o: L.LinearLR(o, start_factor=0.25, end_factor=0.75,
                                                   total_iters=40),
    'LinearLR-decay': lambda L, o: L.LinearLR(o, start_factor=1.0, end_factor=0.1,
                                               total_iters=100),
    'ExponentialLR': lambda L, o: L.ExponentialLR(o, gamma=0.95),
    'ExponentialLR-up': lambda L, o: L.ExponentialLR(o, 1.01),
    'PolynomialLR': lambda L, o: L.PolynomialLR(o),
    'PolynomialLR-60-2': lambda L, o: L.PolynomialLR(o, total_iters=60, power=2.0),
    'PolynomialLR-sqrt': lambda L, o: L.PolynomialLR(o, total_iters=100, power=0.5),
    'CosineAnnealingLR': lambda L, o: L.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    'CosineAnnealingLR-100': lambda L, o: L.CosineAnnealingLR(o, T_max=100),
    'CosineAnnealingLR-7': lambda L, o: L.CosineAnnealingLR(o, 7, eta_min=0.01),
    'CosineAnnealingWarmRestarts': lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=10),
    'CosineAnnealingWarmRestarts-mult': lambda L, o: L.CosineAnnealingWarmRestarts(
        o, T_0=5, T_mult=2, eta_min=0.01),
    'CyclicLR': lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=10),
    'CyclicLR-triangular2': lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=5,
                                                    step_size_down=15, mode='triangular2'),
    'CyclicLR-exp_range': lambda L, o: L.CyclicLR(o, [0.01, 0.02, 0.001], [0.1, 0.2, 0.05],
                                                  step_size_up=7, mode='exp_range',
                                                  gamma=0.98, base_momentum=[0.8, 0.7, 0.6],
                                                  max_momentum=0.95),
    'CyclicLR-scale_fn': lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=4,
                                                 scale_fn=_scale, scale_mode='iterations'),
    'CyclicLR-scale_fn-cycle': lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=3,
                                                       scale_fn=lambda x: 1 / x),
    'CyclicLR-no-momentum': lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=6,
                                                    cycle_momentum=False),
    'OneCycleLR': lambda L, o: L.OneCycleLR(o, max_lr=0.1, total_steps=100),
    'OneCycleLR-linear': lambda L, o: L.OneCycleLR(o, [0.1, 0.2, 0.3], epochs=10,
                                                   steps_per_epoch=10,
                                                   anneal_strategy='linear'),
    'OneCycleLR-three_phase': lambda L, o: L.OneCycleLR(o, 0.1, total_steps=120,
                                                        three_phase=True, pct_start=0.25,
                                                        div_factor=10.0,
                                                        final_div_factor=100.0),
    'OneCycleLR-no-momentum': lambda L, o: L.OneCycleLR(o, 0.1, total_steps=100,
                                                        pct_start=0.5, cycle_momentum=False,
                                                        base_momentum=0.5),
    'SequentialLR': lambda L, o: L.SequentialLR(
        o, [L.ConstantLR(o, factor=0.1, total_iters=2), L.ExponentialLR(o, gamma=0.9)],
        milestones=[2]),
    'SequentialLR-3': lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=0.1, total_iters=10),
            L.CosineAnnealingLR(o, T_max=30, eta_min=0.001), L.StepLR(o, 10, 0.5)],
        milestones=[10, 40]),
    'ChainedScheduler': lambda L, o: L.ChainedScheduler(
        [L.ConstantLR(o, factor=0.1, total_iters=2), L.ExponentialLR(o, gamma=0.9)]),
    'ChainedScheduler-3': lambda L, o: L.ChainedScheduler(
        [L.LinearLR(o, start_factor=0.5, total_iters=10), L.StepLR(o, 7, 0.8),
         L.CosineAnnealingLR(o, T_max=25)], optimizer=o),
    'SequentialLR-nested': lambda L, o: L.SequentialLR(
        o, [L.SequentialLR(o, [L.LinearLR(o, 0.1, total_iters=3), L.ExponentialLR(o, 0.95)],
                           milestones=[3]),
            L.CosineAnnealingLR(o, 10)], milestones=[8]),
    'SequentialLR-of-chained': lambda L, o: L.SequentialLR(
        o, [L.ChainedScheduler([L.ConstantLR(o, 0.5, 3), L.ExponentialLR(o, 0.9)]),
            L.StepLR(o, 4, 0.5)], milestones=[6]),
    'SequentialLR-restarts': lambda L, o: L.SequentialLR(
        o, [L.OneCycleLR(o, 0.2, total_steps=20), L.CosineAnnealingWarmRestarts(o, 4, 2)],
        milestones=[20]),
    'SequentialLR-reused': lambda L, o: (lambda w, c: L.SequentialLR(
        o, [w, c, L.ExponentialLR(o, 0.9), w, c], milestones=[6, 20, 25, 40]))(
        L.CosineAnnealingWarmRestarts(o, 4, 2, eta_min=0.001),
        L.CyclicLR(o, 0.01, 0.1, step_size_up=3)),
    'ChainedScheduler-of-sequential': lambda L, o: L.ChainedScheduler(
        [L.SequentialLR(o, [L.LinearLR(o, 0.1, total_iters=3), L.ExponentialLR(o, 0.95)],
                        milestones=[3]), L.CyclicLR(o, 0.01, 0.1, step_size_up=3)]),
}
MOMENTUM_IN_BETAS = {
    'CyclicLR-adam': lambda L, o: L.CyclicLR(o, 0.001, 0.01, step_size_up=8,
                                             base_momentum=0.85, max_momentum=0.95),
    'OneCycleLR-adam': lambda L, o: L.OneCycleLR(o, 0.01, total_steps=100),
    'OneCycleLR-adam-three_phase': lambda L, o: L.OneCycleLR(o, 0.01, total_steps=100,
                                                             three_phase=True),
}


# ---- lr sequences ------------------------------------------------------------------------
@pytest.mark.parametrize('key', list(SCHEDULERS))
def test_sequence_matches_torch(key):
    with warnings.catch_warnings(record=True) as ember_warnings:
        warnings.simplefilter('always')
        ember_history, _, _ = run(ember, SCHEDULERS[key])
    with warnings.catch_warnings(record=True) as torch_warnings:
        warnings.simplefilter('always')
        torch_history, _, _ = run(torch, SCHEDULERS[key])
    assert_sequences_equal(ember_history, torch_history)
    assert [str(w.message) for w in ember_warnings] == [str(w.message) for w in torch_warnings]


@pytest.mark.parametrize('key', list(MOMENTUM_IN_BETAS))
def test_beta1_cycling_matches_torch(key):
    ember_history, _, _ = run(ember, MOMENTUM_IN_BETAS[key], opt='Adam')
    torch_history, _, _ = run(torch, MOMENTUM_IN_BETAS[key], opt='Adam')
    assert_sequences_equal(ember_history, torch_history)


def test_lr_changes_reach_the_parameters():
    """Parameters trained with a scheduled lr follow torch's."""
    results = []
    for lib in (ember, torch):
        w = lib.nn.Parameter(lib.tensor([1.0, -2.0], dtype=lib.float64))
        optimizer = lib.optim.SGD([w], lr=0.1, momentum=0.9)
        scheduler = lib.optim.lr_scheduler.OneCycleLR(optimizer, 0.5, total_steps=30)
        for _ in range(30):
            optimizer.zero_grad()
            (w ** 2).sum().backward()
            optimizer.step()
            scheduler.step()
        results.append(w.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_two_schedulers_on_one_optimizer_compose():
    def make(L, o):
        first = L.StepLR(o, 5, 0.5)
        second = L.ExponentialLR(o, 0.97)
        return L.ChainedScheduler([first, second])
    assert_sequences_equal(run(ember, make, 40)[0], run(torch, make, 40)[0])


def test_sequential_of_chained_and_cyclic():
    def make(L, o):
        warmup = L.LinearLR(o, start_factor=0.01, total_iters=5)
        cyclic = L.CyclicLR(o, 0.01, 0.1, step_size_up=5)
        return L.SequentialLR(o, [warmup, cyclic], milestones=[5])
    assert_sequences_equal(run(ember, make)[0], run(torch, make)[0])


def test_custom_scheduler_subclass():
    def make(L, o):
        class Warmup(L.LRScheduler):
            def __init__(self, optimizer, warmup, last_epoch=-1):
                self.warmup = warmup
                super().__init__(optimizer, last_epoch)

            def get_lr(self):
                scale = min(1.0, (self.last_epoch + 1) / self.warmup)
                return [base_lr * scale for base_lr in self.base_lrs]
        return Warmup(o, 7)
    assert_sequences_equal(run(ember, make, 20)[0], run(torch, make, 20)[0])


def test_tensor_lr_and_momentum():
    """Tensor lrs are updated in place; get_last_lr holds copies; cycled momentum becomes a
    float, as in torch."""
    results = []
    for lib in (ember, torch):
        lr = lib.tensor(0.01)
        w = lib.nn.Parameter(lib.zeros(1))
        optimizer = lib.optim.SGD([w], lr=lr, momentum=lib.tensor(0.9))
        scheduler = lib.optim.lr_scheduler.OneCycleLR(optimizer, 0.1, total_steps=10)
        optimizer.step()
        scheduler.step()
        last = scheduler.get_last_lr()
        group = optimizer.param_groups[0]
        results.append((group['lr'] is lr, last[0] is lr, float(last[0]), float(group['lr']),
                        type(group['momentum']).__name__, group['momentum']))
    assert results[0] == results[1]


# ---- state_dict ------------------------------------------------------------------------
@pytest.mark.parametrize('key', list(SCHEDULERS))
def test_state_dict_round_trip_mid_schedule(key):
    make = SCHEDULERS[key]
    torch_history, _, _ = run(torch, make)
    history, optimizer, scheduler = run(ember, make, steps=37)
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved = copy.deepcopy(scheduler.state_dict())
    optimizer = make_optimizer(ember)
    resumed = make(ember.optim.lr_scheduler, optimizer)
    optimizer.load_state_dict(saved_optimizer)
    resumed.load_state_dict(saved)
    for _ in range(STEPS - 37):
        optimizer.step()
        resumed.step()
        history.append(snapshot(resumed, optimizer))
    assert_sequences_equal(history, torch_history)


@pytest.mark.parametrize('key', list(SCHEDULERS) + ['ReduceLROnPlateau'])
def test_state_dict_keys_match_torch(key):
    make = SCHEDULERS.get(key, lambda L, o: L.ReduceLROnPlateau(o))
    states = []
    for lib in (ember, torch):
        optimizer = make_optimizer(lib)
        scheduler = make(lib.optim.lr_scheduler, optimizer)
        optimizer.step()
        scheduler.step(*([1.0] if key == 'ReduceLROnPlateau' else []))
        states.append(scheduler.state_dict())
    assert sorted(states[0]) == sorted(states[1])
    for name, value in states[1].items():
        if isinstance(value, (int, float, str, bool, list)) and name != '_schedulers':
            assert states[0][name] == value, name


def test_state_dict_of_callable_lambda_objects():
    optimizer = make_optimizer(ember)
    scheduler = ember.optim.lr_scheduler.LambdaLR(optimizer, [Halving(), lambda e: 1.0,
                                                              Halving()])
    scheduler.lr_lambdas[0].factor = 0.25
    saved = scheduler.state_dict()
    assert saved['lr_lambdas'] == [{'factor': 0.25}, None, {'factor': 0.5}]
    other = ember.optim.lr_scheduler.LambdaLR(make_optimizer(ember),
                                              [Halving(), Halving(), Halving()])
    other.load_state_dict(saved)
    assert [fn.factor for fn in other.lr_lambdas] == [0.25, 0.5, 0.5]


@pytest.mark.parametrize('key', list(SCHEDULERS) + list(MOMENTUM_IN_BETAS))
def test_torch_state_dict_loads_into_ember(key):
    make = {**SCHEDULERS, **MOMENTUM_IN_BETAS}[key]
    opt = 'Adam' if key in MOMENTUM_IN_BETAS else 'SGD'
    torch_history, torch_optimizer, torch_scheduler = run(torch, make, steps=50, opt=opt)
    optimizer = make_optimizer(ember, opt)
    scheduler = make(ember.optim.lr_scheduler, optimizer)
    optimizer.load_state_dict(torch_optimizer.state_dict())
    scheduler.load_state_dict(copy.deepcopy(torch_scheduler.state_dict()))
    ember_history = [snapshot(scheduler, optimizer)]
    for lib_opt, lib_sched, history in [(optimizer, scheduler, ember_history),
                                        (torch_optimizer, torch_scheduler, torch_history)]:
        for _ in range(STEPS - 50):
            lib_opt.step()
            lib_sched.step()
            history.append(snapshot(lib_sched, lib_opt))
    assert_sequences_equal(ember_history, torch_history[50:])


def test_torch_plateau_state_dict_loads_into_ember():
    schedulers = []
    for lib in (ember, torch):
        schedulers.append(lib.optim.lr_scheduler.ReduceLROnPlateau(
            make_optimizer(lib), patience=1, cooldown=2))
    for metric in METRICS[:12]:
        schedulers[1].step(metric)
    schedulers[0].optimizer.load_state_dict(schedulers[1].optimizer.state_dict())
    schedulers[0].load_state_dict(schedulers[1].state_dict())
    for metric in METRICS[12:]:
        for scheduler in schedulers:
            scheduler.step(metric)
        assert schedulers[0].get_last_lr() == schedulers[1].get_last_lr()
        assert schedulers[0].cooldown_counter == schedulers[1].cooldown_counter


def test_pickle_and_deepcopy_of_scheduler():
    optimizer = make_optimizer(ember)
    scheduler = ember.optim.lr_scheduler.CyclicLR(optimizer, 0.01, 0.1, step_size_up=3,
                                                  mode='exp_range', gamma=0.9)
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    for clone_opt, clone in [copy.deepcopy((optimizer, scheduler)),
                             pickle.loads(pickle.dumps((optimizer, scheduler)))]:
        assert clone.optimizer is clone_opt
        for _ in range(5):
            clone_opt.step()
            clone.step()
        assert clone.get_last_lr() != scheduler.get_last_lr()
        reference = copy.deepcopy((optimizer, scheduler))[1]
        for _ in range(5):
            reference.optimizer.step()
            reference.step()
        assert clone.get_last_lr() == reference.get_last_lr()


# ---- ReduceLROnPlateau ----------------------------------------------------------------
METRICS = [1.0, 0.9, 0.95, 0.95, 0.95, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8999, 0.91, 0.7,
           0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.69995, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6,
           0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
PLATEAU = [
    {},
    {'patience': 2},
    {'patience': 0, 'factor': 0.5},
    {'mode': 'max', 'patience': 1},
    {'patience': 1, 'threshold_mode': 'abs', 'threshold': 0.01},
    {'mode': 'max', 'patience': 1, 'threshold_mode': 'abs', 'threshold': 0.05},
    {'patience': 1, 'threshold': 0.1},
    {'patience': 1, 'cooldown': 3},
    {'patience': 0, 'cooldown': 2, 'factor': 0.5, 'min_lr': 0.02},
    {'patience': 0, 'factor': 0.5, 'min_lr': [0.02, 0.01, 0.2]},
    {'patience': 0, 'factor': 0.9, 'eps': 0.01},
]


@pytest.mark.parametrize('kwargs', PLATEAU, ids=[str(i) for i in range(len(PLATEAU))])
@pytest.mark.parametrize('sign', [1, -1])
def test_reduce_lr_on_plateau_matches_torch(kwargs, sign):
    histories = []
    for lib in (ember, torch):
        optimizer = make_optimizer(lib)
        scheduler = lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs)
        history = [snapshot(scheduler, optimizer)]
        for i, metric in enumerate(METRICS):
            optimizer.step()
            scheduler.step(lib.tensor(sign * metric) if i % 3 == 0 else sign * metric)
            history.append(snapshot(scheduler, optimizer)
                           + [scheduler.num_bad_epochs, scheduler.cooldown_counter,
                              scheduler.best, scheduler.last_epoch])
        histories.append(history)
    assert_sequences_equal(*histories)


def test_reduce_lr_on_plateau_state_dict_round_trip():
    def make(lib):
        optimizer = make_optimizer(lib)
        return optimizer, lib.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode='max', patience=1, cooldown=1, threshold_mode='abs')
    optimizer, scheduler = make(ember)
    torch_optimizer, torch_scheduler = make(torch)
    for metric in METRICS[:15]:
        scheduler.step(metric)
        torch_scheduler.step(metric)
    saved = scheduler.state_dict()
    assert saved['mode'] == 'max' and 'optimizer' not in saved
    optimizer2, resumed = make(ember)
    optimizer2.load_state_dict(optimizer.state_dict())
    resumed.load_state_dict(copy.deepcopy(saved))
    for metric in METRICS[15:]:
        resumed.step(-metric)
        torch_scheduler.step(-metric)
        assert resumed.get_last_lr() == torch_scheduler.get_last_lr()
        assert resumed.num_bad_epochs == torch_scheduler.num_bad_epochs


def test_reduce_lr_on_plateau_after_add_param_group():
    """A scalar min_lr extends to a group added later; a list of min_lrs raises like torch."""
    outcomes = []
    for lib in (ember, torch):
        for min_lr in (0.05, [0.05]):
            optimizer = make_optimizer(lib, lrs=(0.1,))
            scheduler = lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0,
                                                                 min_lr=min_lr)
            optimizer.add_param_group({'params': [lib.nn.Parameter(lib.zeros(1))], 'lr': 0.2})
            try:
                for _ in range(3):
                    scheduler.step(1.0)
                outcomes.append(scheduler.get_last_lr())
            except RuntimeError as error:
                outcomes.append(str(error))
    assert outcomes[:2] == outcomes[2:]
    assert outcomes[0] == [0.05, 0.05] and 'usually due to a new param group' in outcomes[1]


# ---- deprecated step(epoch) ---------------------------------------------------------------
EPOCHS = [3, 7, 7, 12, 0, 25, 40]
CLOSED_FORM = {
    'StepLR': lambda L, o: L.StepLR(o, 5, 0.5),
    'MultiStepLR': lambda L, o: L.MultiStepLR(o, [5, 10, 10, 30], 0.5),
    'ConstantLR': lambda L, o: L.ConstantLR(o, 0.5, total_iters=10),
    'LinearLR': lambda L, o: L.LinearLR(o, 0.2, 0.9, total_iters=20),
    'ExponentialLR': lambda L, o: L.ExponentialLR(o, 0.9),
    'PolynomialLR': lambda L, o: L.PolynomialLR(o, total_iters=30, power=2.0),
    'CosineAnnealingLR': lambda L, o: L.CosineAnnealingLR(o, 10, 0.001),
    'LambdaLR': lambda L, o: L.LambdaLR(o, lambda e: 1 / (1 + e)),
    'CyclicLR': lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=4),
    'MultiplicativeLR': lambda L, o: L.MultiplicativeLR(o, lambda e: 0.9),
    'OneCycleLR': lambda L, o: L.OneCycleLR(o, 0.1, total_steps=100),
}


@pytest.mark.parametrize('key', list(CLOSED_FORM))
def test_step_with_epoch_matches_torch(key):
    histories = []
    for lib in (ember, torch):
        optimizer = make_optimizer(lib)
        scheduler = CLOSED_FORM[key](lib.optim.lr_scheduler, optimizer)
        history = []
        for epoch in EPOCHS:
            optimizer.step()
            with pytest.warns(UserWarning, match='The epoch parameter in `scheduler.step'):
                scheduler.step(epoch)
            scheduler.step()
            history.append(snapshot(scheduler, optimizer))
        histories.append(history)
    assert_sequences_equal(*histories)


@pytest.mark.parametrize('T_mult', [1, 2, 3])
def test_warm_restarts_fractional_epochs(T_mult):
    histories = []
    for lib in (ember, torch):
        optimizer = make_optimizer(lib)
        scheduler = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            optimizer, T_0=3, T_mult=T_mult, eta_min=0.001)
        history = []
        for epoch in range(20):
            for i in range(4):
                optimizer.step()
                scheduler.step(epoch + i / 4)
                history.append(snapshot(scheduler, optimizer) + [scheduler.T_cur,
                                                                 scheduler.T_i])
        histories.append(history)
    assert_sequences_equal(*histories)


def test_resume_with_last_epoch():
    """A scheduler created with last_epoch >= 0 continues where the first one stopped."""
    histories = []
    for lib in (ember, torch):
        optimizer = make_optimizer(lib)
        first = lib.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=20)
        for _ in range(5):
            optimizer.step()
            first.step()
        second = lib.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=20, last_epoch=5)
        history = [snapshot(second, optimizer)]
        for _ in range(10):
            optimizer.step()
            second.step()
            history.append(snapshot(second, optimizer))
        histories.append(history)
    assert_sequences_equal(*histories)


# ---- warnings -----------------------------------------------------------------------------
def _warnings_of(action):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        action()
    return [(w.category, str(w.message)) for w in caught]


def test_step_before_optimizer_step_warns_like_torch():
    caught = []
    for lib in (ember, torch):
        optimizer = make_optimizer(lib)
        scheduler = lib.optim.lr_scheduler.StepLR(optimizer, 2)
        caught.append(_warnings_of(scheduler.step))
        caught.append(_warnings_of(scheduler.step))
    assert caught[0] == caught[2] and caught[1] == caught[3] == []
    assert 'Detected call of `lr_scheduler.step()` before `optimizer.step()`' in caught[0][0][1]


def test_no_warning_in_the_right_order_and_overridden_step_warns():
    caught = []
    for lib in (ember, torch):
        optimizer = make_optimizer(lib)
        scheduler = lib.optim.lr_scheduler.ExponentialLR(optimizer, 0.9)
        optimizer.step()
        caught.append(_warnings_of(scheduler.step))
        optimizer = make_optimizer(lib)
        scheduler = lib.optim.lr_scheduler.ExponentialLR(optimizer, 0.9)
        optimizer.step = lambda: None
        caught.append(_warnings_of(scheduler.step))
    assert caught[0] == caught[2] == []
    assert caught[1] == caught[3]
    assert 'has been overridden after learning rate scheduler' in caught[1][0][1]


def test_get_lr_outside_step_and_epoch_argument_warn_like_torch():
    caught = []
    for lib in (ember, torch):
        optimizer = make_optimizer(lib)
        scheduler = lib.optim.lr_scheduler.StepLR(optimizer, 2)
        caught.append(_warnings_of(scheduler.get_lr))
        plateau = lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
        caught.append(_warnings_of(lambda: plateau.step(1.0, 5)))
        caught.append(plateau.last_epoch)
    assert caught[:3] == caught[3:]
    assert len(caught[0]) == len(caught[1]) == 1


# ---- errors -----------------------------------------------------------------------------
ERRORS = [
    lambda L, o: L.StepLR(object(), 3),
    lambda L, o: L.LambdaLR(o, [lambda e: 1.0]),
    lambda L, o: L.ConstantLR(o, factor=1.5),
    lambda L, o: L.LinearLR(o, start_factor=0),
    lambda L, o: L.LinearLR(o, end_factor=1.5),
    lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=0),
    lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0),
    lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, eta_min='a'),
    lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2).step(-1),
    lambda L, o: L.CyclicLR(o, 0.01, 0.1, mode='sine'),
    lambda L, o: L.CyclicLR(o, [0.01, 0.02], 0.1),
    lambda L, o: L.OneCycleLR(o, 0.1),
    lambda L, o: L.OneCycleLR(o, 0.1, total_steps=0),
    lambda L, o: L.OneCycleLR(o, 0.1, epochs=0, steps_per_epoch=3),
    lambda L, o: L.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=1.5),
    lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5),
    lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy='exp'),
    lambda L, o: [(o.step(), s.step()) for s in [L.OneCycleLR(o, 0.1, total_steps=2)] * 3],
    lambda L, o: L.SequentialLR(o, [], milestones=[]),
    lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2)], milestones=[3]),
    lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2), L.ReduceLROnPlateau(o)], milestones=[3]),
    lambda L, o: L.ChainedScheduler([]),
    lambda L, o: L.ChainedScheduler([L.StepLR(o, 2)], optimizer=type(o)(o.param_groups)),
    lambda L, o: L.SequentialLR(type(o)(o.param_groups), [L.StepLR(o, 2)], milestones=[]),
    lambda L, o: L.ChainedScheduler([L.StepLR(o, 2), 5]),
    lambda L, o: L.ReduceLROnPlateau(o, factor=1.0),
    lambda L, o: L.ReduceLROnPlateau(o, mode='median'),
    lambda L, o: L.ReduceLROnPlateau(o, threshold_mode='pct'),
    lambda L, o: L.ReduceLROnPlateau(o, min_lr=[0.1]),
    lambda L, o: L.StepLR(o, 2, last_epoch=3),
    lambda L, o: L.StepLR(o, 2, verbose=False),
]


@pytest.mark.parametrize('make', ERRORS, ids=[f'error{i}' for i in range(len(ERRORS))])
def test_errors_match_torch(make):
    outcomes = []
    for lib in (ember, torch):
        with pytest.raises(Exception) as info:
            make(lib.optim.lr_scheduler, make_optimizer(lib))
        outcomes.append((type(info.value).__name__, str(info.value)))
    assert outcomes[0] == outcomes[1]


def test_cycle_momentum_needs_momentum():
    outcomes = []
    for lib in (ember, torch):
        w = lib.nn.Parameter(lib.zeros(1))
        optimizer = lib.optim.Adagrad([w])
        with pytest.raises(ValueError) as info:
            lib.optim.lr_scheduler.OneCycleLR(optimizer, 0.1, total_steps=10)
        outcomes.append(str(info.value))
        lib.optim.lr_scheduler.CyclicLR(optimizer, 0.01, 0.1, cycle_momentum=False)
    assert outcomes[0] == outcomes[1]


def test_public_names():
    names = [n for n in dir(torch.optim.lr_scheduler) if n[0].isupper() and n != 'Optimizer'
             and n not in ('Any', 'Counter', 'Literal', 'Self', 'SupportsFloat', 'Tensor',
                           'TypedDict', 'TYPE_CHECKING')]
    missing = [n for n in names if not hasattr(ember.optim.lr_scheduler, n)]
    assert missing == []
