"""Random numbers: ``Generator`` objects, the default generators and seeding, the random
factories (rand, randn, randint, randperm, normal, bernoulli, multinomial, poisson) and the
in-place samplers (``uniform_``, ``normal_``, ...).

A CPU generator wraps NumPy's ``np.random.Generator`` on a PCG64 bit generator; a CUDA
generator wraps CuPy's Philox generator at an explicit (seed, offset), as PyTorch's CUDA
generators do. Both expose the same draws (``random``, ``standard_normal``, ``integers``, ...)
so that every sampler below is one code path. float32 is drawn directly in float32.

Samples of distributions with tensor parameters (``normal(mean, std)``, ``bernoulli(p)``,
``poisson(rates)``) are graph nodes with zero gradient, as in PyTorch.
"""
import math
import os

import numpy as np

from . import _dtype
from ._backend import (CPU, canonical_device, device as _device, device_of, require_cupy,
                       xp_of)
from ._tensor import Tensor, _wrap, _size_args, _NP_NAMES
from .autograd.function import Op
from .autograd.inplace import apply_inplace
from .ops._registry import tensor_method
from .ops.elementwise import _store_out
from .ops.linalg import _broadcast_shapes

__all__ = ['Generator', 'default_generator', 'manual_seed', 'seed', 'initial_seed',
           'get_rng_state', 'set_rng_state', 'rand', 'rand_like', 'randn', 'randn_like',
           'randint', 'randint_like', 'randperm', 'normal', 'bernoulli', 'multinomial', 'poisson']

DEFAULT_SEED = 67280421310721     # PyTorch's default initial seed
_MASK64 = (1 << 64) - 1
_CPP_NAMES = {'int64': 'long int', 'int32': 'int', 'int16': 'short int', 'int8': 'signed char',
              'uint8': 'unsigned char', 'bool': 'bool', 'float32': 'float', 'float64': 'double',
              'float16': 'c10::Half'}


def _seed_value(seed):
    """A seed as PyTorch takes it: any int in [-2^63, 2^64), negative ones wrapped mod 2^64."""
    seed = int(seed)
    if not -(1 << 63) <= seed <= _MASK64:
        raise ValueError('Overflow when unpacking long long')
    return seed & _MASK64


class _CudaDraws:
    """NumPy-Generator-like draws on one GPU from CuPy's Philox generator. The state is
    (seed, offset): each draw starts at ``offset`` and moves it past the values it may use, so
    a saved state restores the stream exactly."""

    def __init__(self, index):
        cp = require_cupy()
        self.cp = cp
        self.index = index
        with cp.cuda.Device(index):
            self.rs = cp.random.RandomState(
                np.uint64(0), method=cp.cuda.curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)
        self.seed = 0
        self.offset = 0

    def reseed(self, seed, offset=0):
        self.seed, self.offset = seed, offset

    def _start(self, size):
        """Position the generator for a draw of ``size`` values (32-bit units, doubles two)."""
        n = math.prod(size) if isinstance(size, tuple) else int(size)
        rs = self.rs
        rs.seed(np.uint64(self.seed))
        self.cp.cuda.curand.setGeneratorOffset(rs._generator, self.offset)
        rs._rk_seed = (self.seed + self.offset) & _MASK64   # seeds CuPy's kernel samplers
        self.offset += 8 * ((n + 3) // 4) + 8
        return self.cp.cuda.Device(self.index)

    def random(self, size, dtype=np.float64):
        with self._start(size):
            return self.rs.random_sample(size, dtype)

    def standard_normal(self, size, dtype=np.float64):
        with self._start(size):
            return self.rs.normal(size=size, dtype=dtype)

    def standard_exponential(self, size, dtype=np.float64):
        with self._start(size):
            return self.rs.standard_exponential(size, dtype)

    def standard_cauchy(self, size):
        with self._start(size):
            return self.rs.standard_cauchy(size)

    def integers(self, low, high, size, dtype=np.int64, endpoint=False):
        with self._start(size):
            return self.rs.randint(low, high + 1 if endpoint else high, size, dtype)

    def permutation(self, n):
        with self._start(n):
            return self.rs.permutation(n)

    def poisson(self, lam):
        with self._start(lam.size):
            return self.rs.poisson(lam, dtype=np.int64)

    def geometric(self, p, size):
        with self._start(size):
            return self.rs.geometric(p, size, dtype=np.int64)


class Generator:
    """A random number generator for one device (``ember.Generator('cuda')``), as
    ``torch.Generator``: ``manual_seed``, ``seed``, ``initial_seed``, ``get_state`` /
    ``set_state`` (uint8 tensors)."""
    __slots__ = ('device', '_seed', '_engine')

    def __init__(self, device='cpu'):
        d = canonical_device(device)
        if d.type == 'cuda':
            idx = d.index if d.index is not None else require_cupy().cuda.runtime.getDevice()
            self.device = _device('cuda', idx)
            self._engine = _CudaDraws(idx)
        elif d.type == 'cpu':
            self.device = CPU
        else:
            raise RuntimeError(f'ember has no random generator for device {d}')
        self.manual_seed(DEFAULT_SEED)

    def manual_seed(self, seed):
        """Reset the generator to the stream of ``seed``; returns the generator."""
        seed = _seed_value(seed)
        self._seed = seed
        if self.device.type == 'cpu':
            self._engine = np.random.Generator(np.random.PCG64(seed))
        else:
            self._engine.reseed(seed)
        return self

    def seed(self):
        """Seed from the operating system's entropy; returns the seed."""
        s = int.from_bytes(os.urandom(8), 'little') >> 1
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The generator's state as a uint8 tensor (on the CPU)."""
        if self.device.type == 'cpu':
            st = self._engine.bit_generator.state
            s, inc = st['state']['state'], st['state']['inc']
            words = [self._seed, s & _MASK64, s >> 64, inc & _MASK64, inc >> 64,
                     st['has_uint32'], st['uinteger']]
        else:
            words = [self._seed, self._engine.offset]
        return _wrap(np.array(words, dtype=np.uint64).view(np.uint8))

    def set_state(self, new_state):
        """Restore a state from ``get_state``; returns the generator."""
        if not isinstance(new_state, Tensor) or new_state._data.dtype != np.uint8:
            raise TypeError('RNG state must be a ember.ByteTensor')
        size = 56 if self.device.type == 'cpu' else 16
        a = new_state._data
        a = a if a.__class__ is np.ndarray else a.get()
        if a.size != size:
            kind = 'CPUGeneratorImplState' if self.device.type == 'cpu' else 'CUDAGeneratorState'
            raise RuntimeError(f'Expected a {kind} of size {size} but found the input RNG state '
                               f'size to be {a.size}')
        w = [int(x) for x in np.ascontiguousarray(a).view(np.uint64)]
        self._seed = w[0]
        if self.device.type == 'cpu':
            self._engine.bit_generator.state = {
                'bit_generator': 'PCG64',
                'state': {'state': w[1] | (w[2] << 64), 'inc': w[3] | (w[4] << 64)},
                'has_uint32': w[5], 'uinteger': w[6]}
        else:
            self._engine.reseed(w[0], w[1])
        return self

    def __reduce__(self):
        return (_rebuild_generator, (str(self.device), self.get_state()))


Generator.__module__ = 'ember'


def _rebuild_generator(device, state):
    return Generator(device).set_state(state)


default_generator = Generator()
_cuda_generators = {}
_last_seed = [None]   # the last manual_seed, given to CUDA generators made afterwards


def cuda_generator(index=None):
    """The default generator of CUDA device ``index`` (the current device when None), made on
    first use."""
    if index is None:
        index = require_cupy().cuda.runtime.getDevice()
    g = _cuda_generators.get(index)
    if g is None:
        g = _cuda_generators[index] = Generator(_device('cuda', index))
        if _last_seed[0] is not None:
            g.manual_seed(_last_seed[0])
    return g


def manual_seed(seed):
    """Seed the CPU generator and every CUDA generator; returns the default generator."""
    seed = _seed_value(seed)
    _last_seed[0] = seed
    default_generator.manual_seed(seed)
    for g in _cuda_generators.values():
        g.manual_seed(seed)
    return default_generator


def seed():
    """Seed every generator from the operating system's entropy; returns the seed."""
    s = default_generator.seed()
    _last_seed[0] = s
    for g in _cuda_generators.values():
        g.manual_seed(s)
    return s


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    """The default CPU generator's state (a uint8 tensor)."""
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


# ---- helpers --------------------------------------------------------------------------------
def _device_of_request(device):
    """The ember device a factory draws on (CPU when None; CUDA with its index filled in)."""
    if device is None:
        return CPU
    d = canonical_device(device)
    if d.type == 'cuda' and d.index is None:
        d = _device('cuda', require_cupy().cuda.runtime.getDevice())
    return d


def _engine(generator, dev):
    """Draw engine of ``generator`` (checked against device ``dev``) or of ``dev``'s default."""
    if generator is None:
        return default_generator._engine if dev.type == 'cpu' else cuda_generator(dev.index)._engine
    if generator.device.type != dev.type:
        raise RuntimeError(f"Expected a '{dev.type}' device type for generator but found "
                           f"'{generator.device.type}'")
    return generator._engine


def _finish(a, out, requires_grad):
    """Wrap a drawn array: ``requires_grad`` (floating only), or store into ``out``."""
    t = _wrap(a)
    if requires_grad:
        if a.dtype.kind != 'f':
            raise RuntimeError('Only Tensors of floating point and complex dtype can require '
                               'gradients')
        t._rg = True
    return t if out is None else _store_out(out, t)


def _float_np(dtype, kernel):
    """NumPy float dtype for ``dtype`` (the default when None); PyTorch's error otherwise."""
    nd = _dtype.default_float_np() if dtype is None else _dtype.to_np(dtype)
    if nd.kind != 'f':
        raise NotImplementedError(f'"{kernel}" not implemented for \'{_NP_NAMES[nd.name]}\'')
    return nd


def _draw_uniform(eng, shape, nd):
    """U[0, 1) of dtype ``nd``; float16 gets 11 random bits (k / 2048, never rounding to 1)."""
    if nd == np.float16:
        u = eng.random(shape, dtype=np.float32)
        return ((u * 2048).astype(np.int32) * (1 / 2048)).astype(nd)
    return eng.random(shape, dtype=nd)


def _draw_normal(eng, shape, nd):
    if nd == np.float16:
        return eng.standard_normal(shape, dtype=np.float32).astype(nd)
    return eng.standard_normal(shape, dtype=nd)


def _fmt(x):
    return f'{x:g}' if isinstance(x, float) else str(x)


def _sampled(name):
    """An Op class whose forward returns a drawn sample (its first argument) and whose
    tensor parameters (the remaining arguments) get zero gradients."""
    def forward(ctx, sample, *params):
        ctx.n_params = len(params)
        return sample

    def backward(ctx, g):
        z = g * 0
        return (None,) + (z,) * ctx.n_params
    return type(name.replace('Backward', ''), (Op,), {
        'forward': staticmethod(forward), 'backward': staticmethod(backward),
        'backward_name': name, '__module__': __name__})


_Normal_TT = _sampled('NormalBackward3')
_Normal_TF = _sampled('NormalBackward1')
_Normal_FT = _sampled('NormalBackward2')
_Bernoulli = _sampled('BernoulliBackward0')
_Bernoulli_P = _sampled('BernoulliBackward1')
_Poisson = _sampled('PoissonBackward0')


# ---- factories --------------------------------------------------------------------------------
def _shape(size, kw):
    """The shape from positional sizes, or from the ``size=`` keyword."""
    if kw:
        if set(kw) != {'size'} or size:
            raise TypeError(f'got unexpected keyword arguments {sorted(kw)}')
        size = (kw['size'],)
    return _size_args(size)


def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None,
         requires_grad=False, pin_memory=False, **kw):
    """Uniform samples in [0, 1) of shape ``size`` (positional or ``size=``)."""
    shape = _shape(size, kw)
    nd = _float_np(dtype, 'check_uniform_bounds')
    dev = _device_of_request(device)
    return _finish(_draw_uniform(_engine(generator, dev), shape, nd), out, requires_grad)


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad=False, pin_memory=False, **kw):
    """Standard normal samples of shape ``size`` (positional or ``size=``)."""
    shape = _shape(size, kw)
    nd = _float_np(dtype, 'normal_kernel_cpu')
    dev = _device_of_request(device)
    return _finish(_draw_normal(_engine(generator, dev), shape, nd), out, requires_grad)


def _like(input, dtype, device):
    """(dtype, device) of a ``*_like`` factory: the input's unless given."""
    dt = input.dtype if dtype is None else dtype
    return dt, (device_of(input._data) if device is None else _device_of_request(device))


def rand_like(input, *, generator=None, dtype=None, layout=None, device=None,
              requires_grad=False, memory_format=None):
    dt, dev = _like(input, dtype, device)
    nd = _float_np(dt, 'check_uniform_bounds')
    return _finish(_draw_uniform(_engine(generator, dev), input._data.shape, nd), None,
                   requires_grad)


def randn_like(input, *, generator=None, dtype=None, layout=None, device=None,
               requires_grad=False, memory_format=None):
    dt, dev = _like(input, dtype, device)
    nd = _float_np(dt, 'normal_kernel_cpu')
    return _finish(_draw_normal(_engine(generator, dev), input._data.shape, nd), None,
                   requires_grad)


def _integer_bounds(low, high, nd):
    """PyTorch's checks that [low, high) is non-empty and representable in ``nd``."""
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f'to={high}')
    if nd.kind in 'iub':
        info = np.iinfo(nd) if nd.kind != 'b' else None
        lo, hi = (0, 1) if info is None else (int(info.min), int(info.max))
        if low < lo:
            raise RuntimeError(f'from is out of bounds for {_CPP_NAMES[nd.name]}')
        if high - 1 > hi:
            raise RuntimeError(f'to - 1 is out of bounds for {_CPP_NAMES[nd.name]}')


def _draw_integers(eng, low, high, shape, nd):
    """Integers uniform in [low, high) as dtype ``nd``."""
    a = eng.integers(low, high - 1, shape, dtype=np.int64, endpoint=True)
    return a if nd == np.int64 else a.astype(nd)


def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None, layout=None,
            device=None, requires_grad=False, pin_memory=False):
    """Integers uniform in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``;
    int64 unless ``dtype`` says otherwise."""
    if size is None:
        if high is None:
            raise TypeError('randint() received an invalid combination of arguments - expected '
                            '(int high, tuple of ints size) or (int low, int high, tuple of ints '
                            'size)')
        low, high, size = 0, low, high
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint(): argument 'size' (position 2) must be tuple of ints, not "
                        f'{type(size).__name__}')
    shape = _size_args((size,))
    low, high = int(low), int(high)
    nd = np.dtype(np.int64) if dtype is None else _dtype.to_np(dtype)
    _integer_bounds(low, high, nd)
    dev = _device_of_request(device)
    return _finish(_draw_integers(_engine(generator, dev), low, high, shape, nd), out,
                   requires_grad)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, layout=None,
                 device=None, requires_grad=False, memory_format=None):
    """``randint`` with ``input``'s shape, dtype and device; ``randint_like(x, high)`` or
    ``randint_like(x, low, high)``."""
    if high is None:
        low, high = 0, low
    dt, dev = _like(input, dtype, device)
    nd = _dtype.to_np(dt)
    low, high = int(low), int(high)
    _integer_bounds(low, high, nd)
    return _finish(_draw_integers(_engine(generator, dev), low, high, input._data.shape, nd),
                   None, requires_grad)


def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad=False, pin_memory=False):
    """A random permutation of 0..n-1 (int64 by default)."""
    n = int(n)
    if n < 0:
        raise RuntimeError(f'Trying to create tensor with negative dimension {n}: [{n}]')
    nd = np.dtype(np.int64) if dtype is None else _dtype.to_np(dtype)
    dev = _device_of_request(device)
    a = _engine(generator, dev).permutation(n)
    return _finish(a if a.dtype == nd else a.astype(nd), out, requires_grad)


def _param_np(t, kernel):
    a = t._data
    if a.dtype.kind != 'f':
        raise NotImplementedError(f'"{kernel}" not implemented for \'{_NP_NAMES[a.dtype.name]}\'')
    return a


def normal(mean, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, pin_memory=False, requires_grad=False):
    """Normal samples: ``normal(mean_tensor, std_tensor)`` (broadcast), ``normal(mean_tensor,
    std=1.0)``, ``normal(mean, std_tensor)``, or ``normal(mean, std, size)``. Tensor means and
    stds get zero gradients, as in PyTorch."""
    mt, st = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not mt and not st:
        if size is None:
            raise TypeError('normal() received an invalid combination of arguments - got (float, '
                            'float), but expected (float mean, float std, tuple of ints size)')
        std = float(std)
        if std < 0:
            raise RuntimeError(f'normal expects std >= 0.0, but found std {_fmt(std)}')
        nd = _float_np(dtype, 'normal_kernel_cpu')
        eng = _engine(generator, _device_of_request(device))
        z = _draw_normal(eng, _size_args((size,)), nd)
        z *= std
        z += mean
        return _finish(z, out, requires_grad)
    if st:
        s = _param_np(std, 'normal_kernel_cpu')
        if bool((s < 0).any()):
            raise RuntimeError('normal expects all elements of std >= 0.0')
    else:
        std = float(std)
        if std < 0:
            raise RuntimeError(f'normal expects std >= 0.0, but found std {_fmt(std)}')
    if mt:
        m = _param_np(mean, 'normal_kernel_cpu')
        ref = m
        shape = _broadcast_shapes(m.shape, s.shape) if st else m.shape
    else:
        ref = s
        shape = s.shape
    nd = ref.dtype
    eng = _engine(generator, device_of(ref))
    z = _draw_normal(eng, shape, nd)
    sample = (z * (s if st else std) + (m if mt else mean)).astype(nd, copy=False)
    if mt and st:
        r = _Normal_TT.apply(sample, mean, std)
    elif mt:
        r = _Normal_TF.apply(sample, mean)
    else:
        r = _Normal_FT.apply(sample, std)
    return r if out is None else _store_out(out, r)


def _check_probs(a):
    if a.size and bool(((a < 0) | (a > 1)).any()):
        raise RuntimeError('Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could '
                           'this error message be improved?  If so, please report an enhancement '
                           'request to PyTorch.)')


@tensor_method
def bernoulli(input, p=None, *, generator=None, out=None):
    """0/1 samples, 1 with probability ``input`` (elementwise), or ``p`` for every element."""
    a = input._data
    eng = _engine(generator, device_of(a))
    if p is None:
        _param_np(input, 'bernoulli_tensor_cpu_p_')
        _check_probs(a)
        sample = (_draw_uniform(eng, a.shape, a.dtype) < a).astype(a.dtype)
        r = _Bernoulli.apply(sample, input)
    else:
        if not 0 <= p <= 1:
            raise RuntimeError(f'bernoulli_ expects p to be in [0, 1], but got p={_fmt(p)}')
        sample = (_draw_uniform(eng, a.shape, np.dtype(np.float64)) < p).astype(a.dtype)
        r = _Bernoulli_P.apply(sample, input) if a.dtype.kind == 'f' else _wrap(sample)
    return r if out is None else _store_out(out, r)


@tensor_method
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Category indices (int64) drawn from the rows of ``input`` (1-D or 2-D, non-negative
    weights); without replacement no index repeats within a row."""
    a = input._data
    if a.ndim not in (1, 2):
        raise RuntimeError('prob_dist must be 1 or 2 dim')
    if a.dtype.kind != 'f':
        raise RuntimeError(f'multinomial only supports floating-point dtypes for input, got: '
                           f'{_NP_NAMES[a.dtype.name]}')
    k = int(num_samples)
    if k <= 0:
        raise RuntimeError('cannot sample n_sample <= 0 samples')
    n = a.shape[-1]
    if not replacement and k > n:
        raise RuntimeError('cannot sample n_sample > prob_dist.size(-1) samples without '
                           'replacement')
    xp = xp_of(a)
    rows = a.reshape(-1, n).astype(np.float64)
    if not bool(xp.isfinite(rows).all()) or bool((rows < 0).any()):
        raise RuntimeError('probability tensor contains either `inf`, `nan` or element < 0')
    if bool((rows.sum(axis=-1) <= 0).any()):
        raise RuntimeError('invalid multinomial distribution (sum of probabilities <= 0)')
    eng = _engine(generator, device_of(a))
    idx = _with_replacement(eng, rows, k) if replacement else _without_replacement(eng, rows, k)
    r = _wrap(idx.reshape(a.shape[:-1] + (k,)))
    return r if out is None else _store_out(out, r)


def _without_replacement(eng, rows, k):
    """The k smallest keys E / p (E exponential): sequential sampling without replacement."""
    xp = xp_of(rows)
    keys = eng.standard_exponential(rows.shape, dtype=np.float64) / rows
    return xp.argsort(keys, axis=-1, kind='stable')[:, :k].astype(np.int64)


def _with_replacement(eng, rows, k):
    """Inverse-CDF sampling of every row in one searchsorted: row i's CDF is shifted by i so
    that all rows form one increasing sequence."""
    xp = xp_of(rows)
    r, n = rows.shape
    cdf = xp.cumsum(rows, axis=-1)
    cdf /= cdf[:, -1:]
    shift = xp.arange(r, dtype=np.float64)[:, None]
    u = eng.random((r, k), dtype=np.float64)
    idx = xp.searchsorted((cdf + shift).reshape(-1), (u + shift).reshape(-1), side='right')
    idx = idx.reshape(r, k) - (shift * n).astype(np.int64)
    last = n - 1 - xp.argmax(rows[:, ::-1] > 0, axis=-1)    # last category with weight
    return xp.minimum(idx, last[:, None]).astype(np.int64)


def poisson(input, generator=None):
    """Poisson counts with rates ``input`` (same dtype as the rates)."""
    a = _param_np(input, 'poisson_cpu')
    if a.size and bool((a < 0).any()):
        raise RuntimeError('invalid Poisson rate, expected rate to be non-negative')
    eng = _engine(generator, device_of(a))
    return _Poisson.apply(xp_of(a).asarray(eng.poisson(a)).astype(a.dtype), input)


# ---- in-place samplers ----------------------------------------------------------------------
def _fill(self, sample, op):
    """Overwrite ``self`` with ``sample`` (its shape and dtype); autograd sees ``op`` with a
    zero gradient to the old values (PyTorch's leaf check applies)."""
    return apply_inplace(self, lambda t, s: op.apply(s, t), sample)


_Uniform_ = _sampled('UniformBackward0')
_Normal_ = _sampled('NormalBackward0')
_Random_from_to = _sampled('RandomBackward0')
_Random_to = _sampled('RandomBackward1')
_Random_ = _sampled('RandomBackward2')
_Exponential_ = _sampled('ExponentialBackward0')
_Geometric_ = _sampled('GeometricBackward0')
_LogNormal_ = _sampled('LogNormalBackward0')
_Cauchy_ = _sampled('CauchyBackward0')
_Bernoulli_T_ = _sampled('BernoulliBackward1')
_Bernoulli_F_ = _sampled('BernoulliBackward2')


def _float_self(self, kernel):
    nd = self._data.dtype
    if nd.kind != 'f':
        raise NotImplementedError(f'"{kernel}" not implemented for \'{_NP_NAMES[nd.name]}\'')
    return nd


def _continuous_only(self, name, type_name):
    nd = self._data.dtype
    if nd.kind != 'f':
        raise RuntimeError(f'{name} distribution is a continuous probability distribution. dtype '
                           f'must be a floating point but you specified {type_name(nd)}')
    return nd


def _eng_of(self, generator):
    return _engine(generator, device_of(self._data))


@tensor_method
def uniform_(self, from_=0, to=1, *, generator=None):
    """Fill with samples uniform in [from_, to)."""
    nd = _float_self(self, 'check_uniform_bounds')
    if from_ > to:
        raise RuntimeError(f'uniform_ expects to return a [from, to) range, but found '
                           f'from={_fmt(from_)} > to={_fmt(to)}')
    u = _draw_uniform(_eng_of(self, generator), self._data.shape, nd)
    if from_ != 0 or to != 1:
        u *= to - from_
        u += from_
    return _fill(self, u, _Uniform_)


@tensor_method
def normal_(self, mean=0, std=1, *, generator=None):
    """Fill with normal samples."""
    nd = _float_self(self, 'normal_kernel_cpu')
    if std < 0:
        raise RuntimeError(f'normal expects std >= 0.0, but found std {_fmt(std)}')
    z = _draw_normal(_eng_of(self, generator), self._data.shape, nd)
    if mean != 0 or std != 1:
        z *= std
        z += mean
    return _fill(self, z, _Normal_)


def _full_range(nd):
    """[low, high] of ``random_()`` for a dtype: integers exactly representable."""
    if nd.kind == 'f':
        return 0, 1 << (np.finfo(nd).nmant + 1)
    if nd.kind == 'b':
        return 0, 1
    return 0, int(np.iinfo(nd).max)


@tensor_method
def random_(self, *args, generator=None, **kwargs):
    """Fill with integers: ``random_()`` over [0, 2^mantissa] (floats) or [0, max] (ints),
    ``random_(to)`` over [0, to), ``random_(from, to)`` over [from, to) (``to=None``: up to the
    dtype's max)."""
    nd = self._data.dtype
    if 'from' in kwargs or 'to' in kwargs:
        args = (kwargs.pop('from', 0), kwargs.pop('to', None))
    if len(args) == 0:
        low, high = _full_range(nd)
        op = _Random_
    elif len(args) == 1:
        low, high = 0, int(args[0]) - 1
        _integer_bounds(low, high + 1, nd)
        op = _Random_to
    else:
        low = int(args[0])
        if args[1] is None:
            high = _full_range(nd)[1]
            _integer_bounds(low, high + 1, nd)
        else:
            high = int(args[1]) - 1
            _integer_bounds(low, high + 1, nd)
        op = _Random_from_to
    a = _eng_of(self, generator).integers(low, high, self._data.shape, dtype=np.int64,
                                          endpoint=True)
    return _fill(self, a.astype(nd), op)


@tensor_method
def exponential_(self, lambd=1, *, generator=None):
    """Fill with exponential samples of rate ``lambd``."""
    nd = _continuous_only(self, 'Exponential', lambda d: _NP_NAMES[d.name])
    if not lambd > 0:
        raise RuntimeError(f'exponential_ expects lambda > 0.0, but found lambda={_fmt(lambd)}')
    eng = _eng_of(self, generator)
    wd = np.float32 if nd == np.float16 else nd
    e = eng.standard_exponential(self._data.shape, dtype=wd)
    e /= lambd
    return _fill(self, e.astype(nd, copy=False), _Exponential_)


@tensor_method
def geometric_(self, p, *, generator=None):
    """Fill with the number of Bernoulli(p) trials up to the first success (>= 1)."""
    if not 0 < p < 1:
        raise RuntimeError(f'geometric_ expects p to be in (0, 1), but got p={_fmt(p)}')
    a = _eng_of(self, generator).geometric(p, self._data.shape)
    return _fill(self, a.astype(self._data.dtype), _Geometric_)


@tensor_method
def log_normal_(self, mean=1, std=2, *, generator=None):
    """Fill with exp(N(mean, std^2)) samples."""
    nd = _float_self(self, 'log_normal_cpu')
    if not std > 0:
        raise RuntimeError(f'log_normal_ expects std > 0.0, but found std={_fmt(std)}')
    z = _draw_normal(_eng_of(self, generator), self._data.shape, nd)
    z *= std
    z += mean
    return _fill(self, xp_of(z).exp(z, out=z), _LogNormal_)


@tensor_method
def cauchy_(self, median=0, sigma=1, *, generator=None):
    """Fill with Cauchy samples."""
    nd = _continuous_only(self, 'Cauchy', lambda d: _CPP_NAMES[d.name])
    if not sigma > 0:
        raise RuntimeError(f'cauchy_ expects sigma > 0.0, but found sigma={_fmt(sigma)}')
    c = _eng_of(self, generator).standard_cauchy(self._data.shape)
    return _fill(self, (c * sigma + median).astype(nd), _Cauchy_)


@tensor_method
def bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 0/1 samples, 1 with probability ``p`` (a number or a broadcastable tensor)."""
    a = self._data
    eng = _eng_of(self, generator)
    if isinstance(p, Tensor):
        pa = p._data
        _check_probs(pa)
        u = _draw_uniform(eng, a.shape, pa.dtype if pa.dtype.kind == 'f' else np.float64)
        return _fill(self, (u < pa).astype(a.dtype), _Bernoulli_T_)
    if not 0 <= p <= 1:
        raise RuntimeError(f'bernoulli_ expects p to be in [0, 1], but got p={_fmt(p)}')
    u = _draw_uniform(eng, a.shape, np.dtype(np.float64))
    return _fill(self, (u < p).astype(a.dtype), _Bernoulli_F_)
