"""Full backward hooks for modules (``register_full_backward_hook`` / ``..._pre_hook``).

The module's tensor inputs and outputs pass through identity nodes. When backward reaches the
output node, the pre-hooks see (and may replace) ``grad_output``; when it reaches the input
node, the hooks see ``grad_input`` (one entry per positional argument, None for non-tensors)
and may replace it. If no input needs a gradient, the hooks run at the output node with
``grad_input`` all None, as in PyTorch.
"""
from ..._tensor import Tensor, _wrap
from ...autograd.function import Node, _seq
from ...autograd.grad_mode import GRAD
from ...autograd.inplace import edge_of

__all__ = ['BackwardHook']


class _HookIdentity(Node):
    """Identity over several tensors whose backward calls ``callback(grads) -> grads``."""
    backward_name = 'BackwardHookFunctionBackward'

    def run_backward(self, grads):
        return tuple(self.callback(list(grads)))


def _identity(tensors, callback):
    """New tensors aliasing ``tensors`` (all requiring grad) whose gradients go through
    ``callback`` on their way back."""
    node = _HookIdentity()
    node.next_edges = tuple(edge_of(t) for t in tensors)
    node.saved = None
    node.saved_versions = None
    node.n_outputs = len(tensors)
    node.out_meta = tuple((t._data.shape, t._data.dtype) for t in tensors)
    node.callback = callback
    node.seq = next(_seq)
    out = []
    for i, t in enumerate(tensors):
        a = _wrap(t._data, True, node, i)
        if t._vc is None:
            t._vc = [0]
        a._vc = t._vc
        out.append(a)
    return out


def _tensors_of(result):
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        return [r for r in result if isinstance(r, Tensor)]
    return []


class BackwardHook:
    """One module call's backward hooks."""

    def __init__(self, module, hooks, pre_hooks):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.grad_outputs = None
        self.n_args = 0
        self.input_positions = ()
        self.inputs_hooked = False

    def setup_input_hook(self, args):
        self.n_args = len(args)
        pos = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a._rg]
        if not pos or not GRAD.enabled or not self.hooks:
            return args
        self.input_positions = pos
        self.inputs_hooked = True
        new = list(args)
        for i, t in zip(pos, _identity([args[i] for i in pos], self._on_input_grads)):
            new[i] = t
        return tuple(new)

    def setup_output_hook(self, result):
        outs = [t for t in _tensors_of(result) if t._rg]
        if not outs or not GRAD.enabled:
            return result
        self.n_outputs = len(_tensors_of(result))
        aliases = dict(zip(map(id, outs), _identity(outs, self._on_output_grads)))
        if isinstance(result, Tensor):
            return aliases.get(id(result), result)
        return type(result)(aliases.get(id(r), r) if isinstance(r, Tensor) else r
                            for r in result)

    def _on_output_grads(self, grads):
        grad_outputs = tuple(_wrap(g) if g is not None else None for g in grads)
        for hook in self.pre_hooks:
            r = hook(self.module, grad_outputs)
            if r is not None:
                r = tuple(r) if isinstance(r, (tuple, list)) else (r,)
                if len(r) != len(grad_outputs):
                    raise RuntimeError(f'Backward pre hook returned an invalid number of grad_output, '
                                       f'got {len(r)}, but expected {len(grad_outputs)}')
                grad_outputs = r
        self.grad_outputs = grad_outputs
        if not self.inputs_hooked and self.hooks:
            self._call_hooks((None,) * self.n_args)
        return [g._data if g is not None else None for g in grad_outputs]

    def _on_input_grads(self, grads):
        grad_input = [None] * self.n_args
        for i, g in zip(self.input_positions, grads):
            grad_input[i] = _wrap(g) if g is not None else None
        new = self._call_hooks(tuple(grad_input))
        return [new[i]._data if new[i] is not None else None for i in self.input_positions]

    def _call_hooks(self, grad_input):
        for hook in self.hooks:
            r = hook(self.module, grad_input, self.grad_outputs)
            if r is not None:
                r = tuple(r) if isinstance(r, (tuple, list)) else (r,)
                if len(r) != len(grad_input):
                    raise RuntimeError(f'Backward hook returned an invalid number of grad_input, got '
                                       f'{len(r)}, but expected {len(grad_input)}')
                grad_input = r
        return grad_input
