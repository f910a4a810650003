"""ember._parallel's BLAS thread policy for matrix-product ops (``gemm_op``)."""
import numpy as np
import pytest

import ember
from ember import _parallel
from ember.autograd.function import Op


def _blas_threads():
    fns = _parallel._find_openblas_threads()
    if fns is None:
        pytest.skip('NumPy does not use OpenBLAS here')
    return fns


@_parallel.gemm_op(lambda a, flops: flops)
class _Probe(Op):
    """Records OpenBLAS's thread count inside forward and backward."""
    seen = []

    @staticmethod
    def forward(ctx, a, flops):
        _Probe.seen.append(_blas_threads()[0]())
        return a * 2

    @staticmethod
    def backward(ctx, g):
        _Probe.seen.append(_blas_threads()[0]())
        return g * 2, None


def test_small_products_keep_blas_on_one_thread_large_ones_do_not():
    get, put = _blas_threads()
    before = get()
    put(2)
    try:
        for flops, expected in ((1000, 1), (_parallel.BLAS_THREADS_MIN, 2)):
            _Probe.seen.clear()
            x = ember.ones(3, requires_grad=True)
            _Probe.apply(x, flops).sum().backward()
            assert _Probe.seen == [expected, expected]
            assert x.grad.tolist() == [2.0, 2.0, 2.0]
            assert get() == 2
    finally:
        put(before)


def test_linear_and_matmul_results_unchanged_by_the_policy():
    rng = np.random.default_rng(0)
    a = ember.tensor(rng.standard_normal((5, 7)), requires_grad=True)
    w = ember.tensor(rng.standard_normal((3, 7)), requires_grad=True)
    y = ember.nn.functional.linear(a, w) + ember.matmul(a, w.T) + ember.mm(a, w.t())
    y.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), 3 * a.detach().numpy() @ w.detach().numpy().T)
    np.testing.assert_allclose(a.grad.numpy(), 3 * np.ones((5, 3)) @ w.detach().numpy())
