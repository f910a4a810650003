"""Autograd: backward, grad, hooks, grad modes, custom Functions, errors, memory, long chains."""
import gc
import tracemalloc

import numpy as np
import pytest
import torch

import ember
from ember.autograd import Function
from tests.helpers import E, T, assert_close, rand


def test_backward_accumulates_and_zero_grad():
    x = E(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0, 9.0]
    x.grad = None
    (x * x * x).sum().backward()
    assert_close(x.grad, T(np.array([3.0, 12.0, 27.0], np.float32)))


def test_shared_input_and_diamond():
    a = rand(3, 4, seed=1)
    x, tx = E(a, True), T(a, True)
    for lib, v in ((ember, x), (torch, tx)):
        y = v * 2
        z = y * y + y.exp() * v - y / (v + 3)
        z.sum().backward()
    assert_close(x.grad, tx.grad)


def test_backward_gradient_argument_and_errors():
    x = E(rand(3), True)
    y = x * 2
    with pytest.raises(RuntimeError, match='grad can be implicitly created only for scalar outputs'):
        y.backward()
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of "
                                           r"ember.Size\(\[2\]\) and output\[0\] has a shape of "
                                           r"ember.Size\(\[3\]\)"):
        y.backward(ember.ones(2))
    y.backward(ember.full((3,), 0.5))
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
    z = E(rand(3))
    with pytest.raises(RuntimeError, match='element 0 of tensors does not require grad and does '
                                           'not have a grad_fn'):
        (z * 2).sum().backward()


def test_freed_graph_and_retain_graph():
    x = E(rand(3), True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_close(x.grad, 4 * T(x.detach().numpy()))
    with pytest.raises(RuntimeError, match='Trying to backward through the graph a second time'):
        y.backward()
    # nodes that saved nothing can be walked again, as in PyTorch
    z = (x + 1).sum()
    z.backward()
    z.backward()


def test_autograd_grad():
    a = rand(4, seed=2)
    x, tx = E(a, True), T(a, True)
    y = E(rand(4, seed=3), True)
    out = (x * x * y).sum()
    gx, gy = ember.autograd.grad(out, (x, y))
    tgx = torch.autograd.grad((tx * tx * T(y.detach().numpy())).sum(), tx)[0]
    assert_close(gx, tgx)
    assert_close(gy, T(a * a))
    assert x.grad is None and y.grad is None
    w = E(rand(4), True)
    with pytest.raises(RuntimeError, match='appears to not have been used in the graph'):
        ember.autograd.grad((x * 2).sum(), [x, w])
    gx, gw = ember.autograd.grad((x * 2).sum(), [x, w], allow_unused=True)
    assert gw is None and gx.tolist() == [2.0] * 4
    gx, gw = ember.autograd.grad((x * 2).sum(), [x, w], materialize_grads=True)
    assert gw.tolist() == [0.0] * 4
    with pytest.raises(RuntimeError, match='One of the differentiated Tensors does not require grad'):
        ember.autograd.grad((x * 2).sum(), [E(rand(2))])


def test_grad_of_intermediate():
    a = rand(3, seed=4)
    x, tx = E(a, True), T(a, True)
    h, th = x * 3, tx * 3
    (g,) = ember.autograd.grad((h * h).sum(), h)
    (tg,) = torch.autograd.grad((th * th).sum(), th)
    assert_close(g, tg)


def test_backward_inputs_argument():
    x, y = E(rand(3), True), E(rand(3), True)
    (x * y).sum().backward(inputs=[x])
    assert x.grad is not None and y.grad is None


def test_create_graph_is_a_clear_error():
    x = E(rand(3), True)
    with pytest.raises(RuntimeError, match='create_graph=True'):
        (x * x).sum().backward(create_graph=True)


def test_retain_grad_and_hooks():
    a = rand(3, seed=5)
    x, tx = E(a, True), T(a, True)
    seen = []
    for v, store in ((x, seen), (tx, None)):
        y = v * 2
        y.retain_grad()
        if store is not None:
            h = y.register_hook(lambda g: store.append(g.tolist()) or g * 10)
        else:
            y.register_hook(lambda g: g * 10)
        z = (y * y).sum()
        z.backward()
        if store is not None:
            ey = y
        else:
            ty = y
    assert ey.retains_grad and ey.is_leaf is False
    assert_close(ey.grad, ty.grad)
    assert_close(x.grad, tx.grad)
    assert len(seen) == 1
    h.remove()


def test_leaf_hook_and_post_accumulate_hook():
    x = E(rand(3), True)
    calls = []
    x.register_hook(lambda g: g * 0 + 1)
    x.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.tolist()))
    (x * 5).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
    assert calls == [[1.0, 1.0, 1.0]]
    # a leaf used twice: its hook sees the summed gradient once
    y = E(rand(2), True)
    got = []
    y.register_hook(lambda g: got.append(g.tolist()))
    (y * 2 + y * 3).sum().backward()
    assert got == [[5.0, 5.0]]
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        E(rand(2)).register_hook(lambda g: g)
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        E(rand(2)).retain_grad()


def test_node_hooks_and_next_functions():
    x = E(rand(3), True)
    y = x * 2
    z = y + 1
    assert z.grad_fn.name() == 'AddBackward0'
    nf = z.grad_fn.next_functions
    assert nf[0][0] is y.grad_fn and nf[1] == (None, 0)
    acc = y.grad_fn.next_functions[0][0]
    assert acc.name() == 'torch::autograd::AccumulateGrad' and acc.variable is x
    got = []
    y.grad_fn.register_hook(lambda gi, go: got.append((len(gi), len(go))))
    y.grad_fn.register_prehook(lambda go: (go[0] * 2,))
    z.sum().backward()
    assert got == [(2, 1)]
    assert x.grad.tolist() == [4.0, 4.0, 4.0]


def test_nonleaf_grad_warns():
    x = E(rand(2), True)
    y = x * 2
    with pytest.warns(UserWarning, match='is not a leaf Tensor is being accessed'):
        assert y.grad is None


def test_detach_and_requires_grad():
    x = E(rand(3), True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    d.add_(1)  # shares memory and version counter
    assert y._version == 1
    assert_close(y, T((x.detach().numpy() * 2) + 1))
    with pytest.raises(RuntimeError, match='you can only change requires_grad flags of leaf variables'):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError, match='only Tensors of floating point dtype can require gradients'):
        E(np.array([1, 2])).requires_grad_()
    w = x * 3
    w.detach_()
    assert w.is_leaf and not w.requires_grad
    v = E(rand(2))
    v.requires_grad = True
    assert v.requires_grad and v.is_leaf


def test_grad_modes():
    x = E(rand(2), True)
    with ember.no_grad():
        y = x * 2
        assert not ember.is_grad_enabled()
        with ember.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None and z.requires_grad
    with ember.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert ember.is_grad_enabled()
    ember.set_grad_enabled(False)
    assert not (x * 2).requires_grad
    ember.set_grad_enabled(True)
    with ember.inference_mode():
        assert not (x * 2).requires_grad and ember.is_inference_mode_enabled()
    with ember.inference_mode(False):
        assert (x * 2).requires_grad

    @ember.no_grad()
    def f(t):
        return t * 2

    @ember.no_grad
    def g(t):
        return t * 2

    @ember.inference_mode()
    def h(t):
        return t * 2

    @ember.enable_grad()
    def k(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad and not h(x).requires_grad
    with ember.no_grad():
        assert k(x).requires_grad
    assert ember.is_grad_enabled()

    @ember.no_grad()
    def gen(t):
        for _ in range(2):
            yield (t * 2).requires_grad
    assert list(gen(x)) == [False, False]


def test_grad_set_validation():
    x = E(rand(3), True)
    with pytest.raises(RuntimeError, match="attempting to assign a gradient of size"):
        x.grad = ember.zeros(2)
    with pytest.raises(RuntimeError, match='attempting to assign a gradient with dtype'):
        x.grad = ember.zeros(3, dtype=ember.float64)
    x.grad = ember.ones(3)
    del x.grad
    assert x.grad is None


# ---- in-place and version counters -------------------------------------------------------
def test_inplace_on_leaf_errors():
    x = E(rand(3), True)
    with pytest.raises(RuntimeError, match='a leaf Variable that requires grad is being used in an '
                                           'in-place operation.'):
        x.add_(1)
    with pytest.raises(RuntimeError, match='a leaf Variable that requires grad'):
        x *= 2
    with ember.no_grad():
        x.mul_(2)  # allowed under no_grad (initialisation, optimizer steps)
    assert x._version == 1


def test_modified_saved_tensor_error():
    x = E(rand(3), True)
    y = x * 1
    z = y * y  # saves y
    y.add_(1)
    with pytest.raises(RuntimeError, match='one of the variables needed for gradient computation has '
                                           'been modified by an inplace operation'):
        z.sum().backward()
    # the error names the tensor's type, shape and versions
    with pytest.raises(RuntimeError, match=r'\[ember.FloatTensor \[3\]\].*is at version 1; expected '
                                           r'version 0 instead'):
        z.sum().backward()


def test_modified_saved_output_error():
    x = E(rand(3), True)
    y = x.exp()
    y.mul_(2)
    with pytest.raises(RuntimeError, match='modified by an inplace operation'):
        y.sum().backward()


def test_inplace_chain_gradients_match_torch():
    a, b = rand(3, 4, seed=6), rand(4, seed=7)
    x, y, tx, ty = E(a, True), E(b, True), T(a, True), T(b, True)
    for u, v in ((x, y), (tx, ty)):
        z = u * 2
        z.add_(v)
        z.mul_(v)
        z.div_(2.0)
        z.sub_(u)
        (z * z).sum().backward()
    assert_close(x.grad, tx.grad)
    assert_close(y.grad, ty.grad)


def test_inplace_on_leaf_without_grad_with_grad_value():
    b = rand(3, seed=8)
    w, tw = E(b, True), T(b, True)
    for lib, v in ((ember, w), (torch, tw)):
        buf = lib.zeros(3)
        buf.add_(v)
        buf.mul_(v)
        assert buf.requires_grad and not buf.is_leaf
        buf.sum().backward()
    assert_close(w.grad, tw.grad)


def test_version_counter_shared_with_detached():
    x = E(rand(3))
    d = x.detach()
    x.add_(1)
    assert x._version == d._version == 1
    data = x.data
    data.add_(1)  # .data does not share the counter
    assert x._version == 1


# ---- custom Functions ---------------------------------------------------------------------
class Cube(Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x * x * x * scale

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x * ctx.scale, None


class TorchCube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x * x * x * scale

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x * ctx.scale, None


def test_custom_function():
    a = rand(5, seed=9)
    x, tx = E(a, True), T(a, True)
    y, ty = Cube.apply(x, 2.0), TorchCube.apply(tx, 2.0)
    assert_close(y, ty)
    assert y.grad_fn.name() == 'CubeBackward'
    assert y.requires_grad and not y.is_leaf
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    assert_close(x.grad, tx.grad)
    with ember.no_grad():
        assert not Cube.apply(x, 2.0).requires_grad
    assert ember.autograd.gradcheck(lambda v: Cube.apply(v, 1.5), (E(rand(4, dtype=np.float64), True),))


class SplitSign(Function):
    """Two outputs, one of them non-differentiable; uses needs_input_grad."""

    @staticmethod
    def forward(ctx, x, y):
        pos = (x > 0)
        ctx.mark_non_differentiable(pos)
        ctx.save_for_backward(x, y)
        return x * y, pos

    @staticmethod
    def backward(ctx, g, g_pos):
        x, y = ctx.saved_tensors
        gx = g * y if ctx.needs_input_grad[0] else None
        gy = g * x if ctx.needs_input_grad[1] else None
        return gx, gy


def test_custom_function_multiple_outputs():
    x, y = E(rand(4, seed=10), True), E(rand(4, seed=11))
    out, pos = SplitSign.apply(x, y)
    assert out.requires_grad and not pos.requires_grad and pos.dtype == ember.bool
    out.sum().backward()
    assert_close(x.grad, T(y.numpy()))


class TwoOut(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.set_materialize_grads(False)
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, ga, gb):
        out = 0
        if ga is not None:
            out = out + ga * 2
        if gb is not None:
            out = out + gb * 3
        return out


def test_custom_function_unused_output_not_materialized():
    x = E(rand(3), True)
    a, b = TwoOut.apply(x)
    a.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


class BadGrad(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 3  # wrong on purpose


def test_gradcheck_catches_wrong_backward():
    x = E(rand(3, dtype=np.float64), True)
    with pytest.raises(ember.autograd.GradcheckError, match='Jacobian mismatch'):
        ember.autograd.gradcheck(BadGrad.apply, (x,))
    assert ember.autograd.gradcheck(BadGrad.apply, (x,), raise_exception=False) is False


def test_wrong_gradient_shape_error():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return ember.ones(7)
    x = E(rand(3), True)
    with pytest.raises(RuntimeError, match=r'returned an invalid gradient at index 0 - got \[7\] but '
                                           r'expected shape compatible with \[3\]'):
        Bad.apply(x).sum().backward()


# ---- scale --------------------------------------------------------------------------------
def test_long_chain_no_recursion_error():
    x = E(np.array([1.0]), True)
    y = x
    for _ in range(10000):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10000], rtol=1e-3)


def test_memory_flat_over_many_steps():
    w = E(rand(64, 64, seed=12), True)
    x = E(rand(64, 64, seed=13))

    def step():
        h = (x * w).tanh()
        loss = (h * h).sum()
        loss.backward()
        with ember.no_grad():
            w.sub_(w.grad * 1e-3)
        w.grad = None

    for _ in range(200):
        step()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(10000):
        step()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert grown < 200_000, f'memory grew by {grown} bytes over 10,000 steps'


def test_graph_freed_after_backward_releases_saved_arrays():
    x = E(rand(1000), True)
    y = x * x
    node = y.grad_fn
    y.sum().backward()
    assert node.saved is not None and not isinstance(node.saved[0], np.ndarray)


def test_leaf_grads_never_alias_each_other():
    """The engine hands fresh gradient arrays to .grad without copying, but never one that is
    shared (e.g. AddBackward passes the same array to both inputs)."""
    a, b = E(rand(3), True), E(rand(3), True)
    (a + b).sum().backward()
    a.grad.mul_(10)  # clip_grad-style in-place edit of one gradient
    assert b.grad.tolist() == [1.0, 1.0, 1.0]
    w, v = E(rand(2, 3), True), E(rand(3), True)
    out = w * v
    out.backward(ember.ones(2, 3))
    w.grad.zero_()
    assert np.allclose(v.grad.numpy(), w.detach().numpy().sum(0))
    g = ember.ones(2, 3)
    x = E(rand(2, 3), True)
    (x * 1).backward(g)
    x.grad.add_(1)
    assert g.tolist() == [[1.0] * 3] * 2  # the user's seed gradient is untouched
