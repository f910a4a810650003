"""L-BFGS with an optional strong-Wolfe line search (cubic interpolation, bracketing and
zoom as in Nocedal & Wright, algorithms 3.5/3.6, and Schmidt's minFunc).

All parameters are treated as one flat vector. Scalars (dot products, step sizes) stay in
the parameters' dtype (NumPy scalars), so float32 problems round as PyTorch's do.
"""
import numpy as np

from .._backend import xp_of
from .._tensor import Tensor, _wrap
from .optimizer import Optimizer, check_lr, closure_loss

__all__ = ['LBFGS']


class LBFGS(Optimizer):
    """L-BFGS, as ``torch.optim.LBFGS``: ``step(closure)`` runs up to ``max_iter`` iterations,
    ``closure()`` re-evaluating the model and returning the loss (after ``backward()``).

    Only one parameter group is supported; the state (curvature pairs ``old_dirs``/``old_stps``,
    ``ro``, ``H_diag``, direction ``d``, step ``t``, ...) lives under the first parameter.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        check_lr(lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")

    @property
    def _params(self):
        return self.param_groups[0]['params']

    # ---- flat-vector views of the parameters ------------------------------------------
    def _flat_grad(self):
        """Concatenated gradients (zeros for parameters without one), shape (numel,)."""
        parts = []
        xp = xp_of(self._params[0]._data)
        for p in self._params:
            a = p._data
            g = p._grad
            parts.append(g._data.reshape(-1) if g is not None else xp.zeros(a.size, a.dtype))
        return xp.concatenate(parts)

    def _add_step(self, t, d):
        """parameters += t * d (``d`` flat)."""
        offset = 0
        for p in self._params:
            a = p._data
            n = a.size
            a += (d[offset:offset + n] * t).reshape(a.shape)
            p._bump()
            offset += n

    def _set_params(self, saved):
        for p, x in zip(self._params, saved):
            p._data[...] = x
            p._bump()

    def _evaluate_at(self, closure, saved, t, d):
        """(loss, flat gradient) at parameters + t * d; the parameters are restored after."""
        self._add_step(t, d)
        loss = float(closure_loss(closure))
        flat_grad = self._flat_grad()
        self._set_params(saved)
        return loss, flat_grad

    # ---- the iteration ------------------------------------------------------------------
    def step(self, closure):
        """Run up to ``max_iter`` L-BFGS iterations; returns the loss first computed."""
        if closure is None:
            raise TypeError('LBFGS.step() requires a closure that re-evaluates the model and '
                            'returns the loss')
        group = self.param_groups[0]
        lr = group['lr']
        max_iter = group['max_iter']
        max_eval = group['max_eval']
        tolerance_grad = group['tolerance_grad']
        tolerance_change = group['tolerance_change']
        line_search_fn = group['line_search_fn']
        history_size = group['history_size']

        state = self.state[self._params[0]]
        state.setdefault('func_evals', 0)
        state.setdefault('n_iter', 0)
        orig_loss = closure_loss(closure)
        loss = float(orig_loss)
        evals = 1
        state['func_evals'] += 1
        flat_grad = self._flat_grad()
        if abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        mem = _Memory.load(state, history_size)
        d, t = _array(state.get('d')), _scalar(state.get('t'))
        prev_flat_grad, prev_loss = _array(state.get('prev_flat_grad')), state.get('prev_loss')
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state['n_iter'] += 1
            if state['n_iter'] == 1:
                d = -flat_grad
                mem.reset()
            else:
                mem.update(flat_grad - prev_flat_grad, d * t)
                d = mem.direction(flat_grad)
            prev_flat_grad = flat_grad
            prev_loss = loss
            if state['n_iter'] == 1:
                t = min(1.0, 1.0 / abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:
                break

            ls_evals = 0
            if line_search_fn is not None:
                if line_search_fn != 'strong_wolfe':
                    raise RuntimeError("only 'strong_wolfe' is supported")
                saved = [p._data.copy() for p in self._params]

                def evaluate(step, direction):
                    return self._evaluate_at(closure, saved, step, direction)
                loss, flat_grad, t, ls_evals = _strong_wolfe(
                    evaluate, t, d, loss, flat_grad, gtd, tolerance_change=tolerance_change)
                self._add_step(t, d)
                converged = abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_step(t, d)
                converged = False
                if n_iter != max_iter:
                    loss = float(closure_loss(closure))
                    flat_grad = self._flat_grad()
                    converged = abs(flat_grad).max() <= tolerance_grad
                    ls_evals = 1
            evals += ls_evals
            state['func_evals'] += ls_evals

            if (n_iter == max_iter or evals >= max_eval or converged
                    or abs(d * t).max() <= tolerance_change
                    or abs(loss - prev_loss) < tolerance_change):
                break

        mem.store_coefficients(state)
        state['d'] = _wrap(d)
        state['t'] = _tensor_scalar(t)
        mem.store_pairs(state)
        state['prev_flat_grad'] = _wrap(prev_flat_grad)
        state['prev_loss'] = prev_loss
        return orig_loss


class _Memory:
    """The L-BFGS history: curvature pairs (y = gradient change ``old_dirs``, s = step
    ``old_stps``), ``ro = 1 / y.s``, the initial Hessian scale ``H_diag`` and the two-loop
    coefficients ``al``."""

    def __init__(self, history_size, old_dirs, old_stps, ro, H_diag, al):
        self.history_size = history_size
        self.old_dirs, self.old_stps, self.ro = old_dirs, old_stps, ro
        self.H_diag = H_diag
        self.al = al

    @classmethod
    def load(cls, state, history_size):
        al = state.get('al')
        return cls(history_size,
                   [_array(y) for y in state.get('old_dirs', [])],
                   [_array(s) for s in state.get('old_stps', [])],
                   [_scalar(r) for r in state.get('ro', [])],
                   _scalar(state.get('H_diag')),
                   None if al is None else [_scalar(a) for a in al])

    def store_coefficients(self, state):
        """Save ``al`` (first, so that a state that gets it in its first step orders its keys
        as PyTorch's, which records it while computing the first quasi-Newton direction)."""
        if self.al is not None:
            state['al'] = [_tensor_scalar(a) for a in self.al]

    def store_pairs(self, state):
        """Save the curvature pairs, ``ro`` and ``H_diag``."""
        state['old_dirs'] = [_wrap(y) for y in self.old_dirs]
        state['old_stps'] = [_wrap(s) for s in self.old_stps]
        state['ro'] = [_tensor_scalar(r) for r in self.ro]
        state['H_diag'] = _tensor_scalar(self.H_diag)

    def reset(self):
        self.old_dirs, self.old_stps, self.ro = [], [], []
        self.H_diag = 1

    def update(self, y, s):
        """Record the pair (y, s) when its curvature y.s is positive enough."""
        ys = y.dot(s)
        if ys > 1e-10:
            if len(self.old_dirs) == self.history_size:
                del self.old_dirs[0], self.old_stps[0], self.ro[0]
            self.old_dirs.append(y)
            self.old_stps.append(s)
            self.ro.append(1.0 / ys)
            self.H_diag = ys / y.dot(y)

    def direction(self, flat_grad):
        """The quasi-Newton direction -H grad by the two-loop recursion."""
        if self.al is None:
            self.al = [None] * self.history_size
        al = self.al
        q = -flat_grad
        for i in reversed(range(len(self.old_dirs))):
            al[i] = self.old_stps[i].dot(q) * self.ro[i]
            q += self.old_dirs[i] * -al[i]
        r = q * self.H_diag
        for i, (y, s) in enumerate(zip(self.old_dirs, self.old_stps)):
            beta = y.dot(r) * self.ro[i]
            r += s * (al[i] - beta)
        return r


def _cubic_min(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1, slope g1) and (x2, f2, slope g2), clipped to
    ``bounds`` (default: the interval between x1 and x2); the midpoint when the cubic has no
    minimum."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 ** 2 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = _sqrt(disc)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


class _Point:
    """A trial step along the search direction: step t, loss f, gradient g, slope gtd."""
    __slots__ = ('t', 'f', 'g', 'gtd')

    def __init__(self, t, f, g, gtd):
        self.t, self.f, self.g, self.gtd = t, f, g, gtd


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """Find a step along ``d`` satisfying the strong Wolfe conditions.

    ``evaluate(t, d)`` gives (loss, flat gradient) at parameters + t d; ``f``, ``g``, ``gtd``
    describe the start. Returns (loss, gradient, t, number of evaluations).
    """
    d_norm = abs(d).max()
    start = _Point(0, f, g, gtd)

    def sufficient_decrease(p):
        return p.f > f + c1 * p.t * gtd

    def curvature_ok(p):
        return abs(p.gtd) <= -c2 * gtd

    f_new, g_new = evaluate(t, d)
    evals = 1
    new = _Point(t, f_new, g_new, g_new.dot(d))
    prev = start
    ls_iter = 0
    bracket = None
    done = False
    # bracketing: grow the step until the minimum is enclosed or Wolfe holds
    while ls_iter < max_ls:
        if sufficient_decrease(new) or (ls_iter > 1 and new.f >= prev.f):
            bracket = [prev, new]
            break
        if curvature_ok(new):
            bracket, done = [new], True
            break
        if new.gtd >= 0:
            bracket = [prev, new]
            break
        lo_step = new.t + 0.01 * (new.t - prev.t)
        hi_step = new.t * 10
        t = _cubic_min(prev.t, prev.f, prev.gtd, new.t, new.f, new.gtd, (lo_step, hi_step))
        prev = new
        f_new, g_new = evaluate(t, d)
        evals += 1
        new = _Point(t, f_new, g_new, g_new.dot(d))
        ls_iter += 1
    if ls_iter == max_ls:
        bracket = [_Point(0, f, g, gtd), new]

    # zoom: shrink the bracket [low, high] until a point satisfies the Wolfe conditions
    low, high = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)
    insufficient_progress = False
    while not done and ls_iter < max_ls:
        a, b = bracket
        if abs(b.t - a.t) * d_norm < tolerance_change:
            break
        t = _cubic_min(a.t, a.f, a.gtd, b.t, b.f, b.gtd)
        t, insufficient_progress = _keep_inside(t, a.t, b.t, insufficient_progress)
        f_new, g_new = evaluate(t, d)
        evals += 1
        ls_iter += 1
        new = _Point(t, f_new, g_new, g_new.dot(d))
        if sufficient_decrease(new) or new.f >= bracket[low].f:
            bracket[high] = new
            low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
        else:
            if curvature_ok(new):
                done = True
            elif new.gtd * (bracket[high].t - bracket[low].t) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = new
    best = bracket[low]
    return best.f, best.g, best.t, evals


def _keep_inside(t, a, b, insufficient_progress):
    """Move a zoom step that lands within 10% of the bracket's ends away from them when the
    previous step also made too little progress (or it lies outside); returns (t, flag)."""
    lo, hi = min(a, b), max(a, b)
    margin = 0.1 * (hi - lo)
    if min(hi - t, t - lo) >= margin:
        return t, False
    if not (insufficient_progress or t >= hi or t <= lo):
        return t, True
    t = hi - margin if abs(t - hi) < abs(t - lo) else lo + margin
    return t, False


def _sqrt(x):
    return x ** 0.5 if isinstance(x, float) else np.sqrt(x)


def _array(x):
    """The array of a stored Tensor (None and arrays pass through)."""
    return x._data if isinstance(x, Tensor) else x


def _scalar(x):
    """A stored 0-d Tensor as a NumPy scalar of its dtype (numbers and None pass through)."""
    if isinstance(x, Tensor):
        a = x._data
        return a[()] if a.__class__ is np.ndarray else a
    return x


def _tensor_scalar(x):
    """NumPy scalars and 0-d arrays back to 0-d Tensors for the state; numbers unchanged."""
    if isinstance(x, np.generic):
        return _wrap(np.asarray(x))
    if x is None or isinstance(x, (int, float)):
        return x
    return _wrap(x)
