"""Module parity harness: the same layer in ember and torch, weights copied across.

    check_module(ctor, inputs, ...)  builds ``ctor(ember)`` and ``ctor(torch)`` (a function of
    the library module, e.g. ``lambda L: L.nn.Linear(3, 4)``), loads torch's state_dict into
    ember (strict) and ember's back into torch, then compares repr, parameter/buffer names,
    forward outputs, input gradients, parameter gradients and buffers, in train and eval mode.
"""
import numpy as np
import torch

import ember
from tests.conftest import DEVICE
from tests.helpers import E, T, assert_close, to_np


def state_to_ember(sd):
    return {k: ember.tensor(v.detach().cpu().numpy(force=True), device=DEVICE) for k, v in sd.items()}


def state_to_torch(sd):
    return {k: torch.from_numpy(v.detach().cpu().numpy().copy()) for k, v in sd.items()}


def build_pair(ctor, dtype=np.float32):
    """(ember module, torch module) with identical weights (torch's init copied to ember)."""
    tm = ctor(torch)
    em = ctor(ember)
    if dtype == np.float64:
        tm = tm.double()
        em = em.double()
    if DEVICE != 'cpu':
        em = em.to(DEVICE)
    em.load_state_dict(state_to_ember(tm.state_dict()), strict=True)
    return em, tm


def _flat(out):
    if isinstance(out, (tuple, list)):
        r = []
        for o in out:
            r.extend(_flat(o))
        return r
    return [out]


def check_module(ctor, inputs, *, modes=('train', 'eval'), dtype=np.float32, grad_inputs=True,
                 rtol=None, atol=None, check_repr=True, forward=None, seed=0):
    """Compare ember and torch versions of a module on ``inputs`` (NumPy arrays; floating ones
    get requires_grad when ``grad_inputs``; other values pass through).

    ``forward(module, *inputs)`` customises the call (default ``module(*inputs)``). Returns the
    (ember, torch) module pair after the last mode, for extra checks.
    """
    em, tm = build_pair(ctor, dtype)
    if check_repr:
        assert repr(em) == repr(tm).replace('torch.', 'ember.'), f'\n{em!r}\n!=\n{tm!r}'
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in em.named_buffers()] == [n for n, _ in tm.named_buffers()]
    assert list(em.state_dict().keys()) == list(tm.state_dict().keys())
    call = forward or (lambda m, *xs: m(*xs))
    rng = np.random.default_rng(seed)
    for mode in modes:
        em.train(mode == 'train')
        tm.train(mode == 'train')
        ex, tx = [], []
        for a in inputs:
            if isinstance(a, np.ndarray):
                a = a.astype(dtype) if a.dtype.kind == 'f' else a
                rg = grad_inputs and a.dtype.kind == 'f'
                ex.append(E(a, rg))
                tx.append(T(a, rg))
            else:
                ex.append(a)
                tx.append(a)
        eo, to = call(em, *ex), call(tm, *tx)
        assert_close(eo, to, rtol, atol)
        eos = [o for o in _flat(eo) if isinstance(o, ember.Tensor) and o.requires_grad]
        tos = [o for o in _flat(to) if isinstance(o, torch.Tensor) and o.requires_grad]
        assert len(eos) == len(tos)
        if tos:
            gs = [rng.standard_normal(tuple(o.shape)).astype(dtype) for o in tos]
            torch.autograd.backward(tos, [T(g) for g in gs])
            ember.autograd.backward(eos, [E(g) for g in gs])
            for a, b in zip(ex, tx):
                if isinstance(b, torch.Tensor) and b.requires_grad:
                    assert_close(a.grad, b.grad, rtol, atol)
            for (n, pe), (_, pt) in zip(em.named_parameters(), tm.named_parameters()):
                if pt.grad is None:
                    assert pe.grad is None or not to_np(pe.grad).any(), n
                else:
                    assert pe.grad is not None, f'no gradient for {n}'
                    assert_close(pe.grad, pt.grad, rtol, atol)
        for (n, be), (_, bt) in zip(em.named_buffers(), tm.named_buffers()):
            assert_close(be, bt, rtol, atol)
        em.zero_grad()
        tm.zero_grad()
    tm2 = ctor(torch)
    if dtype == np.float64:
        tm2 = tm2.double()
    tm2.load_state_dict(state_to_torch(em.state_dict()), strict=True)
    for (n, a), (_, b) in zip(em.state_dict().items(), tm2.state_dict().items()):
        assert_close(a, b)
    return em, tm
