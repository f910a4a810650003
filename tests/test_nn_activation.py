"""Activation functions and layers (F.relu ... nn.Softmax2d) against torch: values, gradients
(kinks, extreme inputs, nan), in-place variants on non-leaf tensors and views, module reprs and
parameters, the legacy softmax dim rule, RReLU's random slopes, errors, finite differences."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as EF
from ember.ops import activation as act_ops
from tests.helpers import E, T, check, gradcheck, assert_close, rand, noncontig, to_np
from tests.helpers_nn import check_module

NAN, INF = np.nan, np.inf

# name -> f(F, x) written once for both libraries
FUNCS = {
    'relu': lambda F, x: F.relu(x),
    'relu6': lambda F, x: F.relu6(x),
    'hardtanh': lambda F, x: F.hardtanh(x),
    'hardtanh_2_3': lambda F, x: F.hardtanh(x, -2.0, 3.0),
    'threshold': lambda F, x: F.threshold(x, 0.5, -2.0),
    'leaky_relu': lambda F, x: F.leaky_relu(x),
    'leaky_relu_0.2': lambda F, x: F.leaky_relu(x, 0.2),
    'leaky_relu_neg': lambda F, x: F.leaky_relu(x, -0.3),
    'leaky_relu_big': lambda F, x: F.leaky_relu(x, 2.0),
    'rrelu_eval': lambda F, x: F.rrelu(x),
    'rrelu_eval_args': lambda F, x: F.rrelu(x, 0.2, 0.5),
    'elu': lambda F, x: F.elu(x),
    'elu_2': lambda F, x: F.elu(x, 2.0),
    'elu_neg': lambda F, x: F.elu(x, -0.5),
    'selu': lambda F, x: F.selu(x),
    'celu': lambda F, x: F.celu(x),
    'celu_0.7': lambda F, x: F.celu(x, 0.7),
    'gelu': lambda F, x: F.gelu(x),
    'gelu_tanh': lambda F, x: F.gelu(x, approximate='tanh'),
    'silu': lambda F, x: F.silu(x),
    'mish': lambda F, x: F.mish(x),
    'sigmoid': lambda F, x: F.sigmoid(x),
    'tanh': lambda F, x: F.tanh(x),
    'softplus': lambda F, x: F.softplus(x),
    'softplus_2_1': lambda F, x: F.softplus(x, 2.0, 1.0),
    'softplus_neg_beta': lambda F, x: F.softplus(x, beta=-1.5, threshold=5.0),
    'softsign': lambda F, x: F.softsign(x),
    'softshrink': lambda F, x: F.softshrink(x),
    'softshrink_1': lambda F, x: F.softshrink(x, 1.0),
    'hardshrink': lambda F, x: F.hardshrink(x),
    'hardshrink_1': lambda F, x: F.hardshrink(x, 1.0),
    'hardswish': lambda F, x: F.hardswish(x),
    'hardsigmoid': lambda F, x: F.hardsigmoid(x),
    'logsigmoid': lambda F, x: F.logsigmoid(x),
    'tanhshrink': lambda F, x: F.tanhshrink(x),
    'glu': lambda F, x: F.glu(x, 0),
    'softmax': lambda F, x: F.softmax(x, -1),
    'softmin': lambda F, x: F.softmin(x, 0),
    'log_softmax': lambda F, x: F.log_softmax(x, -1),
}
# torch's float64 kernels round some constants to float32 (celu's 1/alpha and hardsigmoid's
# 1/6 in their gradients); ember keeps them exact
F64_RTOL = {'celu_0.7': 5e-7, 'hardsigmoid': 1e-7}
# torch's float32 tanh-gelu and erf-gelu lose relative precision for x << 0 (1 + tanh or
# 1 + erf cancel); differences stay below the default atol
KINKS = [-100.0, -50.0, -20.0, -9.0, -4.0, -6.0, -3.0, -2.0, -1.0, -0.5, -0.25, -1e-7, -1e-30, 0.0,
         1e-30, 1e-7, 0.25, 0.5, 1.0, 2.0, 3.0, 6.0, 9.0, 17.0, 20.0, 21.0, 50.0, 100.0]


def _run(name):
    f = FUNCS[name]
    return (lambda x: f(EF, x)), (lambda x: f(TF, x))


def _rtol(name, dtype):
    return F64_RTOL.get(name) if dtype == np.float64 else None


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('shape', [(4, 6), (), (0, 4), (2, 3, 4)])
@pytest.mark.parametrize('name', list(FUNCS))
def test_functional_parity(name, shape, dtype):
    if name == 'glu' and shape in ((), (0, 4)):
        shape = (4, 0) if shape else (2,)
    a = rand(*shape, dtype=dtype, low=-5, high=5)
    fe, ft = _run(name)
    check(fe, ft, a, rtol=_rtol(name, dtype))
    if a.ndim >= 2:
        check(fe, ft, noncontig(a), rtol=_rtol(name, dtype))


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('name', list(FUNCS))
def test_kinks_and_extreme_values(name, dtype):
    """Values and gradients at the kinks (0, +-lambd, bounds, +-3, thresholds) and for large
    and tiny inputs; torch gives the gradient at each kink as one of the branches."""
    a = np.array(KINKS, dtype)
    fe, ft = _run(name)
    check(fe, ft, a, rtol=_rtol(name, dtype))


NONFINITE_GRAD_DIFFERS = {'mish', 'gelu', 'gelu_tanh', 'silu', 'softsign'}


@pytest.mark.parametrize('name', [n for n in FUNCS if 'softm' not in n and n != 'glu'])
def test_nan_and_inf(name):
    """nan propagates, +-inf map as in torch; float32 gradients at nan follow torch's branch
    choice (its float64 kernels choose differently at nan, so only float32 is compared)."""
    a = np.array([NAN, INF, -INF, 1.0, -1.0], np.float32)
    fe, ft = _run(name)
    out, _ = check(fe, ft, a, grad=False)
    b = np.array([NAN, 1.0, -1.0, 0.0], np.float32)
    check(fe, ft, b)
    if name not in NONFINITE_GRAD_DIFFERS:
        check(fe, ft, a)


@pytest.mark.parametrize('name', ['gelu', 'gelu_tanh', 'silu', 'mish', 'elu', 'selu', 'celu_0.7',
                                  'softplus', 'softplus_2_1', 'logsigmoid', 'leaky_relu',
                                  'hardswish', 'threshold', 'hardtanh', 'glu'])
def test_large_inputs_parallel_path(name):
    """Inputs above ember._parallel.THRESHOLD run their kernels in parallel chunks."""
    a = rand(300_000, dtype=np.float32, low=-8, high=8, seed=1)
    fe, ft = _run(name)
    # torch's float32 tanh-gelu gradient is exactly 0 below x = -5 (tanh rounds to -1), the
    # true value (ember's) is ~-2e-6
    check(fe, ft, a, atol=4e-6 if name == 'gelu_tanh' else 2e-6)


@pytest.mark.parametrize('name', ['elu', 'selu', 'celu_0.7', 'softplus', 'logsigmoid', 'silu',
                                  'mish', 'gelu_tanh', 'gelu'])
def test_float32_accuracy(name):
    """float32 values and gradients against float64 torch over a wide range, including tiny
    and very negative inputs where naive formulas cancel (expm1, log1p, 1 + tanh): ember's
    worst relative error is within 1e-6, or no worse than torch's own float32 kernels."""
    x = np.concatenate([-np.logspace(-30, 2, 2000), np.logspace(-30, 1.2, 2000),
                        np.linspace(-8, 8, 4001)]).astype(np.float32)
    fe, ft = _run(name)
    e = ember.tensor(x, requires_grad=True)
    ye = fe(e)
    ye.sum().backward()
    t32 = torch.tensor(x, requires_grad=True)
    y32 = ft(t32)
    y32.sum().backward()
    t = torch.tensor(x.astype(np.float64), requires_grad=True)
    yt = ft(t)
    yt.sum().backward()
    for got, base, want in ((to_np(ye), to_np(y32), to_np(yt)),
                            (to_np(e.grad), to_np(t32.grad), to_np(t.grad))):
        scale = np.maximum(np.abs(want), 1e-6)    # relative, absolute near zero crossings
        err = (np.abs(got - want) / scale).max()
        assert err < max(1e-6, 2 * (np.abs(base - want) / scale).max()), (name, err)


def test_float16():
    a = rand(4, 4, dtype=np.float16, low=-4, high=4)
    for name in ['gelu', 'silu', 'elu', 'softplus', 'logsigmoid', 'mish', 'leaky_relu',
                 'hardswish', 'glu', 'hardtanh', 'rrelu_eval']:
        fe, ft = _run(name)
        check(fe, ft, a, grad=False)


def test_grad_fn_names():
    x = ember.randn(4, 4, requires_grad=True)
    names = {
        'relu': 'ReluBackward0', 'relu6': 'HardtanhBackward0', 'hardtanh': 'HardtanhBackward0',
        'leaky_relu': 'LeakyReluBackward0', 'rrelu_eval': 'RreluWithNoiseBackward0',
        'elu': 'EluBackward0', 'selu': 'EluBackward0', 'celu': 'CeluBackward0',
        'gelu': 'GeluBackward0', 'silu': 'SiluBackward0', 'mish': 'MishBackward0',
        'softplus': 'SoftplusBackward0', 'softsign': 'DivBackward0',
        'softshrink': 'SoftshrinkBackward0', 'hardshrink': 'HardshrinkBackward0',
        'hardswish': 'HardswishBackward0', 'hardsigmoid': 'HardsigmoidBackward0',
        'logsigmoid': 'LogSigmoidBackward0', 'tanhshrink': 'SubBackward0',
        'glu': 'GluBackward0', 'threshold': 'ThresholdBackward0', 'softmin': 'SoftmaxBackward0',
        'softmax': 'SoftmaxBackward0', 'log_softmax': 'LogSoftmaxBackward0',
        'sigmoid': 'SigmoidBackward0', 'tanh': 'TanhBackward0'}
    for name, node in names.items():
        assert FUNCS[name](EF, x).grad_fn.name() == node, name
    assert EF.prelu(x, ember.rand(4)).grad_fn.name() == 'PreluKernelBackward0'
    assert EF.rrelu(x, training=True).grad_fn.name() == 'RreluWithNoiseBackward0'


# ---- in-place variants ------------------------------------------------------------------------
INPLACE = {
    'relu': (lambda F, x: F.relu(x, inplace=True), 'ReluBackward0'),
    'relu_': (lambda F, x: F.relu_(x), 'ReluBackward0'),
    'relu6': (lambda F, x: F.relu6(x, inplace=True), 'HardtanhBackward0'),
    'hardtanh': (lambda F, x: F.hardtanh(x, -0.5, 0.7, True), 'HardtanhBackward0'),
    'hardtanh_': (lambda F, x: F.hardtanh_(x, -0.5, 0.7), 'HardtanhBackward0'),
    'threshold': (lambda F, x: F.threshold(x, 0.1, 20.0, True), 'ThresholdBackward1'),
    'threshold_': (lambda F, x: F.threshold_(x, 0.1, 20.0), 'ThresholdBackward1'),
    'leaky_relu': (lambda F, x: F.leaky_relu(x, 0.2, True), 'LeakyReluBackward1'),
    'leaky_relu_': (lambda F, x: F.leaky_relu_(x, 0.2), 'LeakyReluBackward1'),
    'rrelu_eval': (lambda F, x: F.rrelu(x, inplace=True), 'RreluWithNoiseBackward1'),
    'rrelu_': (lambda F, x: F.rrelu_(x, 0.1, 0.2), 'RreluWithNoiseBackward1'),
    'elu': (lambda F, x: F.elu(x, 1.5, True), 'EluBackward1'),
    'elu_': (lambda F, x: F.elu_(x), 'EluBackward1'),
    'selu': (lambda F, x: F.selu(x, True), 'EluBackward1'),
    'selu_': (lambda F, x: F.selu_(x), 'EluBackward1'),
    'celu': (lambda F, x: F.celu(x, 0.7, True), 'CeluBackward1'),
    'celu_': (lambda F, x: F.celu_(x, 2.0), 'CeluBackward1'),
    'silu': (lambda F, x: F.silu(x, True), 'SiluBackward0'),
    'mish': (lambda F, x: F.mish(x, True), 'MishBackward0'),
    'hardswish': (lambda F, x: F.hardswish(x, True), 'HardswishBackward0'),
    'hardsigmoid': (lambda F, x: F.hardsigmoid(x, True), 'HardsigmoidBackward0'),
}


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('name', list(INPLACE))
def test_inplace_on_non_leaf(name, dtype):
    """The function writes into its (non-leaf) input and returns it; gradients reach the leaf
    through the in-place node, as in torch."""
    f, node = INPLACE[name]
    a = rand(5, 6, dtype=dtype, low=-4, high=4)

    def run(F):
        def g(x):
            y = x * 1.5
            r = f(F, y)
            assert r is y
            return r
        return g
    rtol = {'celu': 5e-7, 'hardsigmoid': 1e-7}.get(name) if dtype == np.float64 else None
    out, _ = check(run(EF), run(TF), a, rtol=rtol)
    assert out.grad_fn.name() == node


@pytest.mark.parametrize('name', ['relu', 'elu', 'leaky_relu', 'silu', 'threshold', 'hardtanh'])
def test_inplace_on_view(name):
    """In-place on a view of a non-leaf updates the base (CopySlices) and its gradient."""
    f, _ = INPLACE[name]
    a = rand(4, 5, low=-3, high=3)

    def run(F):
        def g(x):
            base = x * 2
            f(F, base[:, 1:4])
            return base * base
        return g
    check(run(EF), run(TF), a)


def test_inplace_errors_and_no_grad():
    leaf = ember.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match='a leaf Variable that requires grad'):
        EF.elu(leaf, inplace=True)
    with pytest.raises(RuntimeError, match='a leaf Variable that requires grad'):
        EF.threshold_(leaf, 0.0, 1.0)
    x = ember.tensor([-1.0, 0.5, 2.0])
    y = EF.leaky_relu_(x, 0.5)
    assert y is x and x.tolist() == [-0.5, 0.5, 2.0]
    v0 = x._version
    EF.hardtanh_(x)
    assert x._version == v0 + 1 and x.tolist() == [-0.5, 0.5, 1.0]


def test_saved_input_modified_in_place_raises():
    x = ember.randn(4, requires_grad=True)
    y = x * 1
    z = EF.silu(y)
    y.add_(1)
    with pytest.raises(RuntimeError, match='modified by an inplace operation'):
        z.sum().backward()


# ---- torch-level functions and Tensor methods -----------------------------------------------
def test_torch_level_functions_and_methods():
    a = rand(3, 4, low=-3, high=3)
    check(lambda x: act_ops.selu(x), torch.selu, a)
    check(lambda x: act_ops.celu(x, 0.5), lambda x: torch.celu(x, 0.5), a)
    check(lambda x: act_ops.threshold(x, 0.2, 7.0), lambda x: torch.threshold(x, 0.2, 7.0), a)
    check(lambda x: act_ops.rrelu(x), torch.rrelu, a)
    check(lambda x: x.hardshrink(0.3), lambda x: x.hardshrink(0.3), a)
    w = np.array([0.1, -0.2, 0.3, 0.5], np.float32)
    check(lambda x, w: x.prelu(w), lambda x, w: x.prelu(w), a, w)
    check(lambda x: act_ops.selu_(x * 1), lambda x: torch.selu_(x * 1), a)
    check(lambda x: act_ops.celu_(x * 1, 2.0), lambda x: torch.celu_(x * 1, 2.0), a)
    check(lambda x: act_ops.rrelu_(x * 1), lambda x: torch.rrelu_(x * 1), a)


def test_integer_inputs():
    xi = np.array([-2, 0, 1, 3])
    for f in [lambda F, x: F.relu(x), lambda F, x: F.relu6(x),
              lambda F, x: F.hardtanh(x, -1.5, 1.5), lambda F, x: F.hardtanh(x, -0.5, 0.5),
              lambda F, x: F.threshold(x, -0.5, 7.5), lambda F, x: F.threshold(x, 0, 5),
              lambda F, x: F.sigmoid(x), lambda F, x: F.tanh(x), lambda F, x: F.softsign(x),
              lambda F, x: F.tanhshrink(x)]:
        check(lambda x: f(EF, x), lambda x: f(TF, x), xi)


@pytest.mark.parametrize('name,kernel', [
    ('leaky_relu', 'leaky_relu_cpu'), ('elu', 'elu_cpu'), ('selu', 'elu_cpu'),
    ('celu', 'elu_cpu'), ('gelu', 'GeluKernelImpl'), ('silu', 'silu_cpu'), ('mish', 'mish_cpu'),
    ('softplus', 'softplus_cpu'), ('hardshrink', 'hardshrink_cpu'),
    ('softshrink', 'softshrink_check'), ('hardswish', 'hardswish_cpu'),
    ('hardsigmoid', 'hardsigmoid_cpu'), ('logsigmoid', 'log_sigmoid_cpu'),
    ('rrelu_eval', 'leaky_relu_cpu')])
def test_integer_input_errors(name, kernel):
    f = FUNCS[name]
    with pytest.raises(NotImplementedError) as et:
        f(TF, torch.tensor([1, 2]))
    with pytest.raises(NotImplementedError) as ee:
        f(EF, ember.tensor([1, 2]))
    assert str(ee.value) == str(et.value) == f'"{kernel}" not implemented for \'Long\''


def _same_error(fe, ft, exc):
    with pytest.raises(exc) as et:
        ft()
    with pytest.raises(exc) as ee:
        fe()
    assert str(ee.value) == str(et.value)


def test_argument_errors_match_torch():
    a = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    e, t = E(a), T(a)
    cases = [
        (lambda L, F, x: F.hardtanh(x, 1.0, 0.0), ValueError),
        (lambda L, F, x: L.nn.Hardtanh(1, 0), AssertionError),
        (lambda L, F, x: L.nn.Hardtanh(1.0, 1.0), AssertionError),
        (lambda L, F, x: F.gelu(x, approximate='foo'), RuntimeError),
        (lambda L, F, x: F.gelu(x, 'tanh'), TypeError),
        (lambda L, F, x: F.softshrink(x, -1.0), RuntimeError),
        (lambda L, F, x: F.softshrink(x.double(), -0.5), RuntimeError),
        (lambda L, F, x: F.celu(x, 0.0), RuntimeError),
        (lambda L, F, x: F.rrelu(x, 0.5, 0.1), RuntimeError),
        (lambda L, F, x: F.rrelu(x, 0.5, 0.1, training=True), RuntimeError),
        (lambda L, F, x: F.glu(x), RuntimeError),
        (lambda L, F, x: F.glu(x, 2), IndexError),
        (lambda L, F, x: F.glu(x.sum()), RuntimeError),
        (lambda L, F, x: F.prelu(x, L.ones(4)), RuntimeError),
        (lambda L, F, x: F.prelu(x, L.ones(3, 1)), RuntimeError),
        (lambda L, F, x: F.prelu(x, L.ones(3, dtype=L.float64)), RuntimeError),
        (lambda L, F, x: F.prelu(x[0], L.ones(3)), RuntimeError),
        (lambda L, F, x: F.prelu(x.sum(), L.ones(2)), RuntimeError),
        (lambda L, F, x: F.threshold(x > 0, 0, 1), NotImplementedError),
        (lambda L, F, x: F.hardtanh(x > 0), RuntimeError),
        (lambda L, F, x: F.relu6(x > 0), RuntimeError),
        (lambda L, F, x: L.nn.Softmax2d()(x), ValueError),
        (lambda L, F, x: F.leaky_relu([1.0]), TypeError),
        (lambda L, F, x: F.elu([1.0]), TypeError),
        (lambda L, F, x: F.gelu([1.0]), TypeError),
        (lambda L, F, x: F.relu([1.0]), TypeError),
        (lambda L, F, x: F.hardtanh([1.0]), TypeError),
    ]
    for f, exc in cases:
        _same_error(lambda: f(ember, EF, e), lambda: f(torch, TF, t), exc)


# ---- softmax family ---------------------------------------------------------------------------
@pytest.mark.parametrize('fn', ['softmax', 'softmin', 'log_softmax'])
@pytest.mark.parametrize('ndim', [0, 1, 2, 3, 4])
def test_softmax_implicit_dim(fn, ndim):
    """dim=None: torch's legacy rule (dim 0 for 0-, 1- and 3-dim inputs, else 1) with a
    UserWarning pointing at the caller."""
    a = rand(*([3] * ndim), seed=ndim)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        out, _ = check(lambda x: getattr(EF, fn)(x), lambda x: getattr(TF, fn)(x), a)
    msgs = [str(x.message) for x in w if issubclass(x.category, UserWarning)]
    text = (f'Implicit dimension choice for {fn} has been deprecated. Change the call to '
            'include dim=X as an argument.')
    assert msgs.count(text) == 2
    assert all(x.filename == __file__ for x in w if str(x.message) == text)


@pytest.mark.parametrize('cls', ['Softmax', 'Softmin', 'LogSoftmax'])
def test_softmax_modules(cls):
    a = rand(2, 3, 4)
    for dim in (0, 1, -1):
        check_module(lambda L: getattr(L.nn, cls)(dim), [a])
        check_module(lambda L: getattr(L.nn, cls)(dim=dim), [a], dtype=np.float64)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        check_module(lambda L: getattr(L.nn, cls)(), [a])
        m = getattr(ember.nn, cls)()
        m(E(a))
    assert w and w[-1].filename == __file__


def test_softmax_dtype_and_integers():
    xi = np.array([[1, 2, 3], [0, -1, 5]])
    check(lambda x: EF.softmax(x, 1, dtype=ember.float64),
          lambda x: TF.softmax(x, 1, dtype=torch.float64), xi)
    check(lambda x: EF.softmin(x, 0, dtype=ember.float64),
          lambda x: TF.softmin(x, 0, dtype=torch.float64), xi)
    check(lambda x: EF.log_softmax(x, 1, dtype=ember.float64),
          lambda x: TF.log_softmax(x, 1, dtype=torch.float64), rand(2, 3))
    _same_error(lambda: EF.softmax(E(xi), 1), lambda: TF.softmax(T(xi), 1), NotImplementedError)


def test_softmax2d():
    for shape in [(3, 4, 5), (2, 3, 4, 5)]:
        check_module(lambda L: L.nn.Softmax2d(), [rand(*shape)])
    for shape in [(3,), (1, 2, 3, 4, 5)]:
        _same_error(lambda: ember.nn.Softmax2d()(E(rand(*shape))),
                    lambda: torch.nn.Softmax2d()(T(rand(*shape))), ValueError)


# ---- modules ----------------------------------------------------------------------------------
MODULES = [
    lambda L: L.nn.ReLU(), lambda L: L.nn.ReLU(inplace=True), lambda L: L.nn.ReLU6(),
    lambda L: L.nn.ReLU6(True), lambda L: L.nn.Threshold(0.1, 20.0),
    lambda L: L.nn.Threshold(0.1, 20, True), lambda L: L.nn.Hardtanh(),
    lambda L: L.nn.Hardtanh(-2, 2, True), lambda L: L.nn.LeakyReLU(),
    lambda L: L.nn.LeakyReLU(0.2, True), lambda L: L.nn.LeakyReLU(negative_slope=-0.5),
    lambda L: L.nn.RReLU(), lambda L: L.nn.RReLU(0.1, 0.3, True), lambda L: L.nn.ELU(),
    lambda L: L.nn.ELU(alpha=0.5, inplace=True), lambda L: L.nn.CELU(2.0),
    lambda L: L.nn.CELU(0.5, True), lambda L: L.nn.SELU(), lambda L: L.nn.SELU(True),
    lambda L: L.nn.GELU(), lambda L: L.nn.GELU('tanh'), lambda L: L.nn.SiLU(),
    lambda L: L.nn.SiLU(inplace=True), lambda L: L.nn.Mish(), lambda L: L.nn.Mish(True),
    lambda L: L.nn.Sigmoid(), lambda L: L.nn.Tanh(), lambda L: L.nn.Softplus(),
    lambda L: L.nn.Softplus(2, 1), lambda L: L.nn.Softplus(beta=0.5, threshold=10.0),
    lambda L: L.nn.Softsign(), lambda L: L.nn.Softshrink(), lambda L: L.nn.Softshrink(1),
    lambda L: L.nn.Hardshrink(), lambda L: L.nn.Hardshrink(1.5), lambda L: L.nn.Hardswish(),
    lambda L: L.nn.Hardswish(True), lambda L: L.nn.Hardsigmoid(),
    lambda L: L.nn.Hardsigmoid(inplace=True), lambda L: L.nn.LogSigmoid(),
    lambda L: L.nn.Tanhshrink(), lambda L: L.nn.GLU(), lambda L: L.nn.GLU(1),
    lambda L: L.nn.PReLU(), lambda L: L.nn.PReLU(3, 0.1), lambda L: L.nn.PReLU(init=-0.5),
]


def _module_input(ctor, shape):
    """RReLU in training mode draws random slopes: its module test uses positive inputs
    (slopes are checked statistically below); in-place modules get a non-leaf input."""
    a = rand(*shape, low=-4, high=4, seed=3)
    name = type(ctor(ember)).__name__
    return np.abs(a) + 0.1 if name == 'RReLU' else a


def _forward(ctor):
    inplace = getattr(ctor(ember), 'inplace', False)
    if not inplace:
        return None
    return lambda m, x: m(x * 1)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('shape', [(4, 6), (2, 3, 4, 6), (6,)])
@pytest.mark.parametrize('k', range(len(MODULES)))
def test_module_parity(k, shape, dtype):
    ctor = MODULES[k]
    m = ctor(ember)
    name = type(m).__name__
    if (name == 'PReLU' and m.num_parameters == 3) or (name == 'GLU' and m.dim == 1):
        # dim 1 holds the 3 channels / an even size
        c = 3 if name == 'PReLU' else 4
        shape = {1: (5, c), 2: (4, c), 4: (2, c, 4, 6)}[len(shape)]
    check_module(ctor, [_module_input(ctor, shape)], dtype=dtype, forward=_forward(ctor),
                 rtol=1e-7 if dtype == np.float64 and name in ('CELU', 'Hardsigmoid') else None)


def test_module_reprs_and_attributes():
    ctors = MODULES + [
        lambda L: L.nn.Threshold(1, 2), lambda L: L.nn.RReLU(1, 2),
        lambda L: L.nn.Hardtanh(-2.0, 2.0), lambda L: L.nn.ELU(2, True),
        lambda L: L.nn.Softmax(-1), lambda L: L.nn.Softmin(), lambda L: L.nn.LogSoftmax(0),
        lambda L: L.nn.Softmax2d(), lambda L: L.nn.PReLU(5)]
    for c in ctors:
        e, t = c(ember), c(torch)
        assert repr(e) == repr(t), (repr(e), repr(t))
        for attr in getattr(t, '__constants__', []):
            assert getattr(e, attr) == getattr(t, attr), attr
        assert type(e).__name__ == type(t).__name__
    assert isinstance(ember.nn.ReLU6(), ember.nn.Hardtanh)
    assert ember.nn.ReLU6().min_val == 0.0 and ember.nn.ReLU6().max_val == 6.0
    for name in ['ReLU', 'ELU', 'GELU', 'Softmax', 'PReLU', 'Softmax2d', 'LogSigmoid']:
        assert name in ember.nn.modules.__all__ and hasattr(ember.nn, name)


def test_hardtanh_deprecated_keywords():
    with pytest.warns(FutureWarning, match='`min_value` is deprecated'):
        m = ember.nn.Hardtanh(min_value=-3)
    assert (m.min_val, m.max_val) == (-3, 1.0)
    with pytest.warns(FutureWarning, match='`max_value` is deprecated'):
        m = ember.nn.Hardtanh(max_value=3)
    assert repr(m) == 'Hardtanh(min_val=-1.0, max_val=3)'


def test_prelu_parameters():
    m = ember.nn.PReLU(4, init=0.1, dtype=ember.float64)
    assert m.weight.shape == (4,) and m.weight.dtype is ember.float64 and m.weight.requires_grad
    assert (to_np(m.weight) == 0.1).all() and m.init == 0.1 and m.num_parameters == 4
    assert [n for n, _ in m.named_parameters()] == ['weight']
    with ember.no_grad():
        m.weight.fill_(3.0)
    m.reset_parameters()
    assert (to_np(m.weight) == 0.1).all()
    assert ember.nn.PReLU().weight.shape == (1,)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('xshape,wshape', [((2, 3, 4, 5), (3,)), ((2, 3, 4), (1,)),
                                           ((5, 3), (3,)), ((4,), (1,)), ((), (1,)),
                                           ((2, 3), ()), ((0, 3), (3,)), ((2, 3, 0), (3,))])
def test_prelu_functional(xshape, wshape, dtype):
    a = rand(*xshape, dtype=dtype, low=-3, high=3)
    w = rand(*wshape, dtype=dtype, low=-1, high=1, seed=5)
    check(EF.prelu, TF.prelu, a, w)


def test_rrelu_training_slopes():
    """Training mode: per-element slopes ~ U(lower, upper) from the global generator where
    x <= 0, identity elsewhere; the gradient is the sampled slope; reproducible by seed."""
    lower, upper = 0.1, 0.4
    x = -ember.rand(200_000) - 0.5
    x.requires_grad_()
    ember.manual_seed(7)
    y = EF.rrelu(x, lower, upper, training=True)
    y.sum().backward()
    slopes = to_np(y) / to_np(x)
    assert slopes.min() >= lower and slopes.max() <= upper
    assert abs(slopes.mean() - (lower + upper) / 2) < 2e-3
    assert abs(slopes.std() - (upper - lower) / np.sqrt(12)) < 2e-3
    np.testing.assert_allclose(to_np(x.grad), slopes, rtol=1e-6)
    ember.manual_seed(7)
    np.testing.assert_array_equal(to_np(EF.rrelu(x.detach(), lower, upper, True)), to_np(y))
    pos = ember.rand(100) + 0.1
    assert (EF.rrelu(pos, training=True) == pos).all()
    m = ember.nn.RReLU(lower, upper)
    m.eval()
    assert_close(m(x.detach()), TF.rrelu(T(to_np(x)), lower, upper))
    z = x.detach() * 1
    z.requires_grad_()
    w = z * 1
    EF.rrelu_(w, lower, upper, training=True)
    w.sum().backward()
    np.testing.assert_allclose(to_np(z.grad), to_np(w) / to_np(z), rtol=1e-6)


# ---- finite differences -----------------------------------------------------------------------
GRADCHECK = ['leaky_relu_0.2', 'leaky_relu_neg', 'rrelu_eval', 'elu', 'elu_2', 'selu',
             'celu_0.7', 'gelu', 'gelu_tanh', 'silu', 'mish', 'softplus', 'softplus_2_1',
             'softplus_neg_beta', 'softshrink', 'hardshrink', 'hardswish', 'hardsigmoid',
             'logsigmoid', 'glu', 'threshold', 'hardtanh_2_3', 'relu6']


@pytest.mark.parametrize('name', GRADCHECK)
def test_gradcheck(name):
    a = rand(4, 6, dtype=np.float64, low=-4, high=4, seed=11)
    a[np.abs(np.abs(a) - 0.5) < 1e-3] += 0.01    # away from the kinks
    a[np.abs(a) < 1e-3] += 0.01
    gradcheck(lambda x: FUNCS[name](EF, x), a)


def test_gradcheck_prelu_and_rrelu_training():
    a = rand(2, 3, 4, dtype=np.float64, low=-2, high=2, seed=4)
    w = rand(3, dtype=np.float64, low=0.1, high=0.5, seed=6)
    gradcheck(EF.prelu, a, w)

    def rr(x):
        ember.manual_seed(3)
        return EF.rrelu(x, 0.1, 0.3, training=True)
    gradcheck(rr, a)


def test_expm1_join_is_exact():
    """The float32 expm1's polynomial/exp join adds exactly 0 on [-T, 0] (the exp kernel is
    deterministic at -T), so tiny inputs keep full relative precision."""
    y = -np.logspace(-38, np.log10(0.25), 5000).astype(np.float32)
    y = np.concatenate([y, np.full(7, -0.25, np.float32)])
    out = np.empty_like(y)
    act_ops._expm1_nonpos(y, out)
    ref = np.expm1(y.astype(np.float64))
    assert (np.abs(out - ref) / np.abs(ref)).max() < 3e-7
    assert np.exp(np.full(3, -act_ops._T, np.float32))[1] == act_ops._EXP_T


def _params(fn):
    import inspect
    return [(p.name, p.default, p.kind) for p in inspect.signature(fn).parameters.values()]


def test_signatures_match_torch():
    for name in ember.nn.modules.activation.__all__:
        assert _params(getattr(ember.nn, name).__init__) == \
            _params(getattr(torch.nn, name).__init__), name
    for name in ember.nn.functional.activation.__all__:
        try:
            want = _params(getattr(TF, name))
        except ValueError:      # a C builtin without a signature
            continue
        assert _params(getattr(EF, name)) == want, name
    assert _params(EF.gelu)[1][0] == 'approximate' and _params(EF.gelu)[1][2].name == 'KEYWORD_ONLY'
    assert [p[:2] for p in _params(EF.softplus)] == [('input', _params(EF.softplus)[0][1]),
                                                     ('beta', 1.0), ('threshold', 20.0)]
