"""ember.nn.utils against torch.nn.utils: gradient clipping by norm (every norm type, inf and
nan gradients, error_if_nonfinite, returned norms) and by value, get_total_norm,
clip_grads_with_norm_, and parameters <-> vector conversion."""
import warnings

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember.nn.utils import (clip_grad_norm, clip_grad_norm_, clip_grad_value_,
                            clip_grads_with_norm_, get_total_norm, parameters_to_vector,
                            vector_to_parameters)
from tests.conftest import DEVICE
from tests.helpers import E, T, assert_close, to_np

SHAPES = [(3, 4), (5,), (2, 1, 3), ()]
NORM_TYPES = [2.0, 1, 3.5, 0.5, float('inf'), float('-inf'), 0, -1, 'inf']


def pair_params(grads, dtype=None):
    """ember and torch parameters (zeros) holding the same gradients (NumPy arrays; None: no
    gradient)."""
    ep, tp = [], []
    for g in grads:
        shape = () if g is None else g.shape
        nd = np.float32 if g is None else g.dtype
        p = nn.Parameter(E(np.zeros(shape, nd)))
        q = torch.nn.Parameter(T(np.zeros(shape, nd)))
        if g is not None:
            p.grad = E(g.copy())
            q.grad = T(g.copy())
        ep.append(p)
        tp.append(q)
    return ep, tp


def random_grads(dtype, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * scale).astype(dtype) for s in SHAPES]


def assert_same_grads(ep, tp, rtol=None, atol=None):
    for p, q in zip(ep, tp):
        if q.grad is None:
            assert p.grad is None
        else:
            assert_close(p.grad, q.grad, rtol, atol)


# ---- clip_grad_norm_ ----------------------------------------------------------------------
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('norm_type', NORM_TYPES)
@pytest.mark.parametrize('max_norm', [0.5, 1e6])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    ep, tp = pair_params(random_grads(dtype, scale=2.0))
    ne = clip_grad_norm_(ep, max_norm, norm_type)
    nt = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    assert_close(ne, nt, rtol=2e-6 if dtype == np.float32 else None)
    assert not ne.requires_grad and ne.grad_fn is None
    assert_same_grads(ep, tp, rtol=2e-6 if dtype == np.float32 else None)


@pytest.mark.parametrize('norm_type', [2.0, 1.0, float('inf')])
def test_clip_grad_norm_noncontiguous_and_single_tensor(norm_type):
    g = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    p = nn.Parameter(E(np.zeros((4, 6), np.float32)).t())
    q = torch.nn.Parameter(T(np.zeros((4, 6), np.float32)).t())
    p.grad = E(np.ascontiguousarray(g.T)).t()
    assert not p.grad.is_contiguous()
    q.grad = T(g)
    assert_close(clip_grad_norm_(p, 1.0, norm_type), torch.nn.utils.clip_grad_norm_(q, 1.0,
                                                                                   norm_type))
    assert_close(p.grad, q.grad)


def test_clip_grad_norm_skips_missing_grads_and_mixed_dtypes():
    grads = [np.full((2,), 1.0, np.float32), None, np.full((3,), 3.0, np.float64)]
    ep, tp = pair_params(grads)
    ne = clip_grad_norm_(ep, 1.0)
    nt = torch.nn.utils.clip_grad_norm_(tp, 1.0)
    assert_close(ne, nt)          # float64: the per-tensor norms are stacked with promotion
    assert_same_grads(ep, tp)


@pytest.mark.parametrize('bad', [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize('norm_type', [2.0, 1.0, float('inf'), float('-inf')])
def test_clip_grad_norm_nonfinite(bad, norm_type):
    grads = random_grads(np.float32)
    grads[1][2] = bad
    ep, tp = pair_params(grads)
    ne = clip_grad_norm_(ep, 1.0, norm_type)
    nt = torch.nn.utils.clip_grad_norm_(tp, 1.0, norm_type)
    assert_close(ne, nt)
    assert_same_grads(ep, tp)


@pytest.mark.parametrize('norm_type', [2.0, 'inf'])
def test_clip_grad_norm_error_if_nonfinite(norm_type):
    grads = random_grads(np.float64)
    grads[0][0, 0] = np.nan
    ep, tp = pair_params(grads)
    with pytest.raises(RuntimeError) as te:
        torch.nn.utils.clip_grad_norm_(tp, 1.0, norm_type, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as ee:
        clip_grad_norm_(ep, 1.0, norm_type, error_if_nonfinite=True)
    assert str(ee.value) == str(te.value)
    assert_same_grads(ep, tp)   # untouched


def test_clip_grad_norm_empty_and_no_grads():
    assert_close(clip_grad_norm_([], 1.0), torch.nn.utils.clip_grad_norm_([], 1.0))
    ep, tp = pair_params([None, None])
    assert_close(clip_grad_norm_(ep, 1.0), torch.nn.utils.clip_grad_norm_(tp, 1.0))
    with pytest.warns(UserWarning, match='empty generator'):
        n = clip_grad_norm_((p for p in []), 1.0)
    assert n.item() == 0.0


def test_clip_grad_norm_module_parameters_and_foreach():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    em = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    em.load_state_dict({k: E(v.numpy()) for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    tm(T(x)).pow(2).sum().backward()
    em(E(x)).pow(2).sum().backward()
    nt = torch.nn.utils.clip_grad_norm_(tm.parameters(), 0.1, foreach=True)
    ne = clip_grad_norm_(em.parameters(), 0.1, foreach=True)
    assert_close(ne, nt, rtol=1e-5)
    for pe, pt in zip(em.parameters(), tm.parameters()):
        assert_close(pe.grad, pt.grad, rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_deprecated_alias():
    ep, tp = pair_params(random_grads(np.float64))
    with pytest.warns(FutureWarning, match='deprecated'):
        ne = clip_grad_norm(ep, 0.3)
    assert_close(ne, torch.nn.utils.clip_grad_norm_(tp, 0.3))
    assert_same_grads(ep, tp)


def test_clip_grad_norm_bad_norm_type():
    ep, _ = pair_params(random_grads(np.float32))
    with pytest.raises(ValueError, match='could not convert string to float'):
        clip_grad_norm_(ep, 1.0, 'fro')


# ---- get_total_norm / clip_grads_with_norm_ -----------------------------------------------
@pytest.mark.parametrize('norm_type', [2.0, 1.0, float('inf'), 0.0])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_get_total_norm(norm_type, dtype):
    arrays = random_grads(dtype, seed=3)
    if norm_type != float('inf'):
        arrays.append(np.zeros((0,), dtype))      # empty tensors count as norm 0
    ne = get_total_norm([E(a) for a in arrays], norm_type)
    nt = torch.nn.utils.get_total_norm([T(a) for a in arrays], norm_type)
    assert_close(ne, nt, rtol=2e-6 if dtype == np.float32 else None)
    single = get_total_norm(E(arrays[0]), norm_type)
    assert_close(single, torch.nn.utils.get_total_norm(T(arrays[0]), norm_type), rtol=2e-6)


def test_get_total_norm_no_graph_and_errors():
    a = np.arange(4, dtype=np.float32)
    n = get_total_norm([E(a, requires_grad=True)])
    assert n.grad_fn is None and not n.requires_grad
    assert_close(get_total_norm([]), torch.nn.utils.get_total_norm([]))
    for fe, ft in [
            (lambda: get_total_norm([E(a), E(np.arange(3))]),
             lambda: torch.nn.utils.get_total_norm([T(a), T(np.arange(3))])),
            (lambda: get_total_norm([E(np.zeros(0, np.float32))], float('-inf')),
             lambda: torch.nn.utils.get_total_norm([T(np.zeros(0, np.float32))],
                                                   float('-inf'))),
            (lambda: get_total_norm([E(a * np.inf)], error_if_nonfinite=True),
             lambda: torch.nn.utils.get_total_norm([T(a * np.inf)], error_if_nonfinite=True))]:
        with pytest.raises(RuntimeError) as te:
            ft()
        with pytest.raises(RuntimeError) as ee:
            fe()
        assert str(ee.value) == str(te.value)


@pytest.mark.parametrize('max_norm', [0.25, 100.0])
def test_clip_grads_with_norm_(max_norm):
    grads = random_grads(np.float32, seed=5)
    ep, tp = pair_params(grads)
    total = get_total_norm([p.grad for p in ep])
    assert clip_grads_with_norm_(ep, max_norm, total) is None
    torch.nn.utils.clip_grads_with_norm_(tp, max_norm,
                                         torch.nn.utils.get_total_norm([q.grad for q in tp]))
    assert_same_grads(ep, tp)
    assert clip_grads_with_norm_([], max_norm, total) is None


# ---- clip_grad_value_ -----------------------------------------------------------------------
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('clip', [0.5, 2, 0.0])
def test_clip_grad_value_(dtype, clip):
    grads = random_grads(dtype, scale=2.0, seed=7)
    grads[0][1, 1] = np.nan
    grads[1][0] = np.inf
    grads.append(None)
    ep, tp = pair_params(grads)
    assert clip_grad_value_(ep, clip) is None
    torch.nn.utils.clip_grad_value_(tp, clip)
    assert_same_grads(ep, tp)
    p = nn.Parameter(E(np.zeros(3, dtype)))
    p.grad = E(np.array([-3, 0.1, 3], dtype))
    clip_grad_value_(p, clip, foreach=False)      # a single tensor
    assert_close(p.grad, T(np.clip(np.array([-3, 0.1, 3], dtype), -clip, clip)))


# ---- parameters <-> vector ------------------------------------------------------------------
def test_parameters_to_vector_and_back():
    arrays = random_grads(np.float32, seed=9)
    ep = [nn.Parameter(E(a)) for a in arrays]
    tp = [torch.nn.Parameter(T(a)) for a in arrays]
    ve, vt = parameters_to_vector(ep), torch.nn.utils.parameters_to_vector(tp)
    assert_close(ve, vt)
    assert ve.grad_fn.name() == vt.grad_fn.name() == 'CatBackward0'
    w = np.arange(vt.numel(), dtype=np.float32)
    (ve * E(w)).sum().backward()
    (vt * T(w)).sum().backward()
    assert_same_grads(ep, tp)

    new = np.linspace(-1, 1, vt.numel()).astype(np.float32)
    vec_e, vec_t = E(new), T(new)
    assert vector_to_parameters(vec_e, ep) is None
    torch.nn.utils.vector_to_parameters(vec_t, tp)
    for p, q in zip(ep, tp):
        assert_close(p.detach(), q.detach())
        assert isinstance(p, nn.Parameter) and p.requires_grad
    vec_e.mul_(2)                      # the parameters share the vector's memory
    assert_close(ep[0].detach(), tp[0].detach() * 2)


def test_parameters_vector_mixed_dtypes_and_errors():
    a, b = np.ones(2, np.float32), np.full(3, 2.0, np.float64)
    ve = parameters_to_vector([nn.Parameter(E(a)), nn.Parameter(E(b))])
    vt = torch.nn.utils.parameters_to_vector([torch.nn.Parameter(T(a)),
                                               torch.nn.Parameter(T(b))])
    assert_close(ve, vt)
    cases = [
        (ValueError, lambda: parameters_to_vector([]),
         lambda: torch.nn.utils.parameters_to_vector([])),
        (RuntimeError, lambda: parameters_to_vector([E(np.ones((2, 3), np.float32)).t()]),
         lambda: torch.nn.utils.parameters_to_vector([T(np.ones((2, 3), np.float32)).t()])),
        (TypeError, lambda: vector_to_parameters([1.0], [nn.Parameter(E(a))]),
         lambda: torch.nn.utils.vector_to_parameters([1.0], [torch.nn.Parameter(T(a))])),
        (RuntimeError, lambda: vector_to_parameters(E(a), [nn.Parameter(E(a))] * 2),
         lambda: torch.nn.utils.vector_to_parameters(T(a), [torch.nn.Parameter(T(a))] * 2)),
    ]
    for cls, fe, ft in cases:
        with pytest.raises(cls) as te:
            ft()
        with pytest.raises(cls) as ee:
            fe()
        assert str(ee.value).replace('ember', 'torch') == str(te.value)


def test_all_names_exported():
    for name in ['clip_grad_norm_', 'clip_grad_norm', 'clip_grad_value_', 'get_total_norm',
                 'clip_grads_with_norm_', 'parameters_to_vector', 'vector_to_parameters']:
        assert getattr(ember.nn.utils, name) is not None
        assert hasattr(torch.nn.utils, name)


@pytest.mark.cuda
def test_clip_on_cuda_and_device_mismatch():
    grads = random_grads(np.float32)
    ep = [nn.Parameter(ember.zeros(g.shape, device='cuda')) for g in grads]
    for p, g in zip(ep, grads):
        p.grad = ember.tensor(g, device='cuda')
    tp = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for q, g in zip(tp, grads):
        q.grad = torch.tensor(g)
    ne = clip_grad_norm_(ep, 0.5)
    assert ne.device.type == 'cuda'
    assert_close(ne.cpu(), torch.nn.utils.clip_grad_norm_(tp, 0.5), rtol=1e-5)
    for p, q in zip(ep, tp):
        assert_close(p.grad.cpu(), q.grad, rtol=1e-5)
    clip_grad_value_(ep, 0.01)
    assert float(to_np(ember.cat([p.grad.flatten() for p in ep]).abs().max())) <= 0.01
    with pytest.raises(TypeError, match='different devices'):
        parameters_to_vector([ep[0], nn.Parameter(ember.zeros(2))])
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert parameters_to_vector(ep).device.type == 'cuda'
    assert DEVICE in ('cpu', 'cuda')
