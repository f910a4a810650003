"""Finite-difference gradient check (``ember.autograd.gradcheck``), in float64."""
import numpy as np

__all__ = ['gradcheck', 'GradcheckError']


class GradcheckError(RuntimeError):
    pass


def _outputs(func, inputs):
    from .._tensor import Tensor
    out = func(*inputs)
    outs = (out,) if isinstance(out, Tensor) else tuple(out)
    return [o for o in outs if isinstance(o, Tensor) and o._data.dtype.kind == 'f']


def _numerical_jacobian(func, inputs, i, eps, n_out_elems):
    """J[k, j] = d out_flat[k] / d input_i_flat[j] by central differences."""
    from .grad_mode import no_grad
    x = inputs[i]._data
    jac = np.zeros((n_out_elems, x.size))
    with no_grad():
        for j in range(x.size):
            idx = np.unravel_index(j, x.shape)
            orig = x[idx].item()
            x[idx] = orig + eps
            plus = np.concatenate([_host(o._data).reshape(-1) for o in _outputs(func, inputs)])
            x[idx] = orig - eps
            minus = np.concatenate([_host(o._data).reshape(-1) for o in _outputs(func, inputs)])
            x[idx] = orig
            jac[:, j] = (plus - minus) / (2 * eps)
    return jac


def _host(a):
    return a if a.__class__ is np.ndarray else a.get()


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
              check_batched_grad=False, check_batched_forward_grad=False,
              check_forward_ad=False, check_backward_ad=True, fast_mode=False, masked=None):
    """Compare backward's gradients with central finite differences.

    ``inputs`` is a Tensor or tuple; those with ``requires_grad=True`` are checked and should
    be float64 contiguous tensors. Returns True, or raises GradcheckError (or returns False
    with ``raise_exception=False``) naming the input and output that disagree.
    """
    from .._tensor import Tensor, _wrap
    from . import grad as _grad
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t._rg]
    if not diff:
        raise ValueError('gradcheck expects at least one input tensor to require gradient, but '
                         'none of the them have requires_grad=True.')
    for i in diff:
        if inputs[i]._data.dtype != np.float64:
            import warnings
            warnings.warn(f'Input #{i} requires gradient and is not a double precision floating '
                          'point. This check will likely fail if all the inputs are not of double '
                          'precision floating point. ', UserWarning, stacklevel=2)
    outs = _outputs(func, inputs)
    sizes = [o._data.size for o in outs]
    n_out = sum(sizes)
    diff_inputs = [inputs[i] for i in diff]
    analytical = [np.zeros((n_out, inputs[i]._data.size)) for i in diff]
    row = 0
    for o in outs:
        for k in range(o._data.size):
            if o._rg:
                from .._backend import xp_of
                seed = xp_of(o._data).zeros(o._data.shape, o._data.dtype)
                seed.reshape(-1)[k] = 1
                gs = _grad(o, diff_inputs, _wrap(seed), retain_graph=True, allow_unused=True)
                for a, g in zip(analytical, gs):
                    if g is not None:
                        a[row] = _host(g._data).reshape(-1)
            row += 1
    for i, a in zip(diff, analytical):
        numerical = _numerical_jacobian(func, inputs, i, eps, n_out)
        if not np.allclose(a, numerical, rtol=rtol, atol=atol):
            bad = np.argwhere(~np.isclose(a, numerical, rtol=rtol, atol=atol))[0]
            msg = (f'Jacobian mismatch for output {bad[0]} with respect to input {i},\n'
                   f'numerical:{numerical}\nanalytical:{a}\n')
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True
