"""class Tensor: an array (NumPy or CuPy) plus what autograd needs.

Slots:
  _data   the array (always an ndarray, 0-d included, never a NumPy scalar)
  _rg     requires_grad
  _fn     grad_fn (the Node that made it) or None for leaves
  _nr     which output of _fn this is
  _grad   accumulated gradient Tensor or None
  _vc     version counter, a one-element list shared by a tensor, its views and detached
          aliases; None until something needs it (saved for backward, viewed, changed in place)
  _view   (base, view_fn) when this tensor is a view of ``base``: view_fn(base_array) gives
          this tensor's array; used to give the base a new graph after in-place ops on a view
  _hooks  leaf hooks (pre-accumulation and post-accumulation) or None

Math methods (``add``, ``sum``, ``view``, ...) are attached by their op families in
``ember.ops``; this file holds only the core.
"""
import math
import warnings
from collections import OrderedDict

import numpy as np

from . import _dtype
from ._backend import (device_of, is_cuda_array, to_device_array, canonical_device, xp_for, cupy,
                       device as _device)
from .autograd import function as _function
from .autograd.grad_mode import GRAD
from .autograd.views import refresh_view

__all__ = ['Tensor', 'Size']

_new = object.__new__


class Size(tuple):
    """A tensor's shape: a tuple printed as ``ember.Size([2, 3])``."""
    __slots__ = ()

    def __repr__(self):
        return f'ember.Size([{", ".join(map(str, self))}])'

    def __getitem__(self, i):
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def numel(self):
        return math.prod(self)

    def __reduce__(self):
        return (Size, (tuple(self),))


class _LeafHooks:
    __slots__ = ('pre', 'post')

    def __init__(self):
        self.pre = OrderedDict()
        self.post = OrderedDict()


_ndarray = np.ndarray


def _as_array(a):
    """NumPy scalars (what ufuncs return for 0-d inputs) become 0-d arrays; arrays stay."""
    if isinstance(a, np.generic):
        return np.asarray(a)
    if is_cuda_array(a):
        return a
    return np.asarray(a)


def _wrap(a, rg=False, fn=None, nr=0):
    """A new Tensor around array ``a`` (no copy)."""
    if a.__class__ is not _ndarray:
        a = _as_array(a)
    t = _new(Tensor)
    t._data = a
    t._rg = rg
    t._fn = fn
    t._nr = nr
    t._grad = None
    t._vc = None
    t._view = None
    t._hooks = None
    return t


_NP_NAMES = {'float32': 'Float', 'float64': 'Double', 'float16': 'Half', 'int64': 'Long',
             'int32': 'Int', 'int16': 'Short', 'int8': 'Char', 'uint8': 'Byte', 'bool': 'Bool'}


def type_name(a):
    """'ember.FloatTensor', 'ember.cuda.LongTensor', ... for an array."""
    prefix = 'ember.cuda.' if is_cuda_array(a) else 'ember.'
    return prefix + _NP_NAMES[a.dtype.name] + 'Tensor'


class Tensor:
    """A multi-dimensional array with autograd, as ``torch.Tensor``.

    ``Tensor(2, 3)`` makes an uninitialised float32 tensor of that shape and
    ``Tensor([1, 0, 1])`` one from data in the default dtype, as PyTorch's legacy constructor.
    """
    __slots__ = ('_data', '_rg', '_fn', '_nr', '_grad', '_vc', '_view', '_hooks', '__weakref__')
    __array_priority__ = 1000
    __hash__ = object.__hash__

    def __init__(self, *args, device=None):
        np_dtype = _dtype.default_float_np()
        xp = xp_for(device)
        if len(args) == 1 and isinstance(args[0], Tensor):
            a = args[0]._data
        elif len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            a = xp.asarray(np.asarray(args[0], dtype=np_dtype))
            if a.dtype != np_dtype:
                a = a.astype(np_dtype)
        else:
            for s in args:
                if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
                    raise TypeError(f'Tensor(): expected sizes as ints, got {type(s).__name__}')
            a = xp.empty(tuple(int(s) for s in args) if args else (0,), dtype=np_dtype)
        self._data = a
        self._rg = False
        self._fn = None
        self._nr = 0
        self._grad = None
        self._vc = None
        self._view = None
        self._hooks = None

    # ---- metadata -------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_dim(dim, self._data.ndim)]

    @property
    def dtype(self):
        return _dtype._FROM_NP[self._data.dtype]

    @property
    def device(self):
        return device_of(self._data)

    @property
    def is_cuda(self):
        return is_cuda_array(self._data)

    @property
    def is_cpu(self):
        return self._data.__class__ is np.ndarray

    is_sparse = False
    is_quantized = False
    is_meta = False
    is_complex = staticmethod(lambda: False)
    layout = 'strided'

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return self._data.size

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return self._data.nbytes

    def is_floating_point(self):
        return self._data.dtype.kind == 'f'

    def is_signed(self):
        return self._data.dtype.kind in 'if'

    def is_contiguous(self, memory_format=None):
        return self._data.flags.c_contiguous

    def stride(self, dim=None):
        a = self._data
        st = tuple(s // a.itemsize for s in a.strides)
        if dim is None:
            return st
        return st[_dim(dim, a.ndim)]

    def data_ptr(self):
        a = self._data
        return a.ctypes.data if a.__class__ is np.ndarray else a.data.ptr

    def storage_offset(self):
        if self._view is None:
            return 0
        base = self._view[0]._data
        return (self.data_ptr() - _tensor_ptr(base)) // self._data.itemsize

    def type(self, dtype=None, non_blocking=False, **kwargs):
        """``t.type()`` names the type ('ember.FloatTensor'); ``t.type(dtype)`` converts."""
        if dtype is None:
            return type_name(self._data)
        if isinstance(dtype, str):
            name = dtype.rsplit('.', 1)[-1]
            cuda = '.cuda.' in dtype
            for np_name, short in _NP_NAMES.items():
                if short + 'Tensor' == name:
                    out = self.to(_dtype._NAMES[np_name])
                    return out.cuda() if cuda else out
            raise ValueError(f'invalid type: {dtype!r}')
        if isinstance(dtype, type) and hasattr(dtype, '_legacy_dtype'):
            return self.to(dtype._legacy_dtype)
        return self.to(dtype)

    # ---- autograd attributes --------------------------------------------------------
    @property
    def requires_grad(self):
        if self._view is not None:
            refresh_view(self)
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        requires_grad = bool(requires_grad)
        if self._fn is not None and not requires_grad:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if requires_grad and self._data.dtype.kind != 'f':
            raise RuntimeError('only Tensors of floating point dtype can require gradients')
        if self._fn is None:
            self._rg = requires_grad
        return self

    @property
    def grad_fn(self):
        if self._view is not None:
            refresh_view(self)
        return self._fn

    @property
    def is_leaf(self):
        if self._view is not None:
            refresh_view(self)
        return self._fn is None

    @property
    def output_nr(self):
        return self._nr

    @property
    def grad(self):
        if self._fn is not None and not self.retains_grad:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
                ".grad attribute won't be populated during autograd.backward(). If you indeed want "
                "the .grad field to be populated for a non-leaf Tensor, use .retain_grad() on the "
                "non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure you "
                "access the leaf Tensor instead.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f'assigned grad expected to be a Tensor or None but got grad of '
                                f'type {type(value).__name__}')
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor "
                    f"of size '{list(self.shape)}'. Please ensure that the gradient and the tensor "
                    "are the same size")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{value.dtype}' to a tensor with "
                    f"dtype '{self.dtype}'. The gradient must match the tensor's dtype")
            if device_of(value._data) != device_of(self._data):
                raise RuntimeError(
                    f"attempting to assign a gradient on device '{value.device}' to a tensor on "
                    f"device '{self.device}'. Please ensure that the gradient and the tensor are "
                    "on the same device")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def _version(self):
        vc = self._vc
        return 0 if vc is None else vc[0]

    def _bump(self):
        """Count an in-place change (shared with this tensor's views and aliases)."""
        vc = self._vc
        if vc is None:
            self._vc = [1]
        else:
            vc[0] += 1

    @property
    def _base(self):
        return None if self._view is None else self._view[0]

    def _is_view(self):
        return self._view is not None

    @property
    def data(self):
        """The same array without autograd (changes through it are not tracked)."""
        return _wrap(self._data)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f'data must be a Tensor, got {type(value).__name__}')
        self._data = value._data

    def detach(self):
        """A tensor sharing data (and version counter) with this one, out of the graph."""
        t = _wrap(self._data)
        vc = self._vc
        if vc is None:
            vc = self._vc = [0]
        t._vc = vc
        return t

    def detach_(self):
        if self._view is not None and self._fn is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._fn = None
        self._nr = 0
        self._rg = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (as ``torch.Tensor.backward``)."""
        a = self._data
        if self._view is not None:
            refresh_view(self)
        if inputs is None and not create_graph and self._fn is not None:
            if gradient is None and a.size == 1:
                g = np.ones(a.shape, a.dtype) if a.__class__ is np.ndarray else _xp(a).ones(
                    a.shape, a.dtype)
                _execute([(self._fn, self._nr)], [g], bool(retain_graph))
                return
            if (gradient.__class__ is Tensor and gradient._data.shape == a.shape
                    and gradient._data.dtype == a.dtype):
                _execute([(self._fn, self._nr)], [gradient._data], bool(retain_graph))
                return
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook):
        """``hook(grad) -> Tensor or None`` runs when this tensor's gradient is computed."""
        from .utils.hooks import RemovableHandle
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._fn is None:
            if self._hooks is None:
                self._hooks = _LeafHooks()
            d = self._hooks.pre
        else:
            node = self._fn
            if node._tensor_hooks is None:
                node._tensor_hooks = {}
            node._fast = False
            d = node._tensor_hooks.setdefault(self._nr, _HookList())
        h = RemovableHandle(d)
        d[h.id] = hook
        return h

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)`` runs after the gradient is accumulated into this leaf's ``.grad``."""
        from .utils.hooks import RemovableHandle
        if self._fn is not None:
            raise RuntimeError('post accumulate grad hooks cannot be registered on non-leaf '
                               'tensors')
        if self._hooks is None:
            self._hooks = _LeafHooks()
        h = RemovableHandle(self._hooks.post)
        self._hooks.post[h.id] = hook
        return h

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self._rg:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._fn is None or self.retains_grad:
            return
        node = self._fn
        if node._tensor_hooks is None:
            node._tensor_hooks = {}
        node._fast = False
        hooks = node._tensor_hooks.setdefault(self._nr, _HookList())
        hooks.retain = _RetainGrad(self)

    @property
    def retains_grad(self):
        if self._fn is None:
            return False
        th = self._fn._tensor_hooks
        if not th or self._nr not in th:
            return False
        r = th[self._nr].retain
        return r is not None and r.ref() is self

    # ---- conversion -----------------------------------------------------------------
    def item(self):
        a = self._data
        if a.size != 1:
            raise RuntimeError(f'a Tensor with {a.size} elements cannot be converted to Scalar')
        return a.item()

    def tolist(self):
        a = self._data
        return a.tolist() if a.__class__ is np.ndarray else a.get().tolist()

    def numpy(self, *, force=False):
        """The NumPy array itself (shared memory); ``force=True`` copies off GPU/graph."""
        a = self._data
        if force:
            return a.copy() if a.__class__ is np.ndarray else a.get()
        if self._rg:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if a.__class__ is not np.ndarray:
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                            "Tensor.cpu() to copy the tensor to host memory first.")
        return a

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def __dlpack__(self, *args, **kwargs):
        if self._rg:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def __len__(self):
        a = self._data
        if a.ndim == 0:
            raise TypeError('len() of a 0-d tensor')
        return a.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError('iteration over a 0-d tensor')
        return iter(self.unbind(0))

    def __bool__(self):
        a = self._data
        if a.size != 1:
            if a.size == 0:
                raise RuntimeError('Boolean value of Tensor with no values is ambiguous')
            raise RuntimeError('Boolean value of Tensor with more than one value is ambiguous')
        return bool(a.item())

    def _scalar(self):
        a = self._data
        if a.size != 1:
            raise ValueError('only one element tensors can be converted to Python scalars')
        return a.item()

    def __float__(self):
        return float(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def __index__(self):
        a = self._data
        if a.size != 1 or a.dtype.kind not in 'iub':
            raise TypeError('only integer tensors of a single element can be converted to an '
                            'index')
        return int(a.item())

    def __format__(self, spec):
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __repr__(self, *, tensor_contents=None):
        from ._tensor_str import tensor_repr
        return tensor_repr(self)

    def __reduce_ex__(self, protocol):
        a = self._data if self._data.__class__ is np.ndarray else self._data.get()
        return (_rebuild, (type(self), a, self._rg, str(self.device)))

    def __deepcopy__(self, memo):
        if self._fn is not None:
            raise RuntimeError('Only Tensors created explicitly by the user (graph leaves) '
                               'support the deepcopy protocol at the moment.')
        if id(self) in memo:
            return memo[id(self)]
        new = _rebuild_like(self, self._data.copy())
        memo[id(self)] = new
        if self._grad is not None:
            new._grad = _wrap(self._grad._data.copy())
        if type(self) is not Tensor and hasattr(self, '__dict__'):
            import copy
            for k, v in self.__dict__.items():
                setattr(new, k, copy.deepcopy(v, memo))
        return new

    # ---- dtype and device -----------------------------------------------------------
    def to(self, *args, **kwargs):
        """``to(dtype)``, ``to(device, dtype=None)``, ``to(other)``; differentiable; returns
        ``self`` when nothing changes (unless ``copy=True``)."""
        dtype_, device_, copy = _parse_to(args, kwargs)
        out = self
        if device_ is not None and device_ != device_of(self._data):
            from .ops.copy import to_device
            out = to_device(out, device_)
        if dtype_ is not None and dtype_.np != out._data.dtype:
            from .ops.copy import cast
            out = cast(out, dtype_.np)
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self, memory_format=None):
        return self.to('cpu')

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        if device is None:
            device = 'cuda'
        elif isinstance(device, int):
            device = f'cuda:{device}'
        return self.to(device)

    def float(self, memory_format=None):
        return self.to(_dtype.float32)

    def double(self, memory_format=None):
        return self.to(_dtype.float64)

    def half(self, memory_format=None):
        return self.to(_dtype.float16)

    def long(self, memory_format=None):
        return self.to(_dtype.int64)

    def int(self, memory_format=None):
        return self.to(_dtype.int32)

    def short(self, memory_format=None):
        return self.to(_dtype.int16)

    def char(self, memory_format=None):
        return self.to(_dtype.int8)

    def byte(self, memory_format=None):
        return self.to(_dtype.uint8)

    def bool(self, memory_format=None):
        return self.to(_dtype.bool)

    def type_as(self, other):
        return self.to(other.dtype)

    # ---- new_* constructors ---------------------------------------------------------
    def _new_like(self, fill, size, dtype, device, requires_grad):
        size = _size_args(size)
        np_dtype = _dtype.to_np(dtype) if dtype is not None else self._data.dtype
        xp = xp_for(device) if device is not None else _xp(self._data)
        if fill is None:
            a = xp.empty(size, np_dtype)
        else:
            a = xp.full(size, fill, np_dtype)
        t = _wrap(a)
        if requires_grad:
            t.requires_grad_()
        return t

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        return self._new_like(0, size, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        return self._new_like(1, size, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        return self._new_like(None, size, dtype, device, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, **kw):
        return self._new_like(fill_value, (size,), dtype, device, requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        from ._creation import tensor
        return tensor(data, dtype=dtype if dtype is not None else self.dtype,
                      device=device if device is not None else self.device,
                      requires_grad=requires_grad)


class _HookList(OrderedDict):
    """Hooks on one output of a node; ``retain`` keeps ``.grad`` for ``retain_grad``."""
    retain = None

    def values(self):
        vals = list(dict.values(self))
        if self.retain is not None:
            vals.append(self.retain)
        return vals


class _RetainGrad:
    """Hook that stores a non-leaf tensor's gradient in its ``.grad`` (held weakly)."""

    def __init__(self, t):
        import weakref
        self.ref = weakref.ref(t)

    def __call__(self, g):
        t = self.ref()
        if t is not None:
            if t._grad is None:
                t._grad = _wrap(g._data.copy())
            else:
                t._grad = _wrap(t._grad._data + g._data)
        return None


def _xp(a):
    return np if a.__class__ is np.ndarray else cupy()


def _tensor_ptr(a):
    return a.ctypes.data if a.__class__ is np.ndarray else a.data.ptr


def _dim(dim, ndim):
    """Normalise a possibly negative dim; IndexError like PyTorch when out of range."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f'Dimension out of range (expected to be in range of [{-n}, {n - 1}], '
                         f'but got {dim})')
    return dim % n if ndim else 0


def _size_args(size):
    """Sizes given as ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(Size)`` -> tuple."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.__index__()
        elif not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f'size must be a tuple of ints, but got an element of type '
                            f'{type(s).__name__}')
        if s < 0:
            raise RuntimeError(f'Trying to create tensor with negative dimension {s}: '
                               f'{list(size)}')
        out.append(int(s))
    return tuple(out)


def _parse_to(args, kwargs):
    """(ember dtype or None, device or None, copy) from ``Tensor.to``'s many signatures."""
    dtype_ = kwargs.get('dtype')
    device_ = kwargs.get('device')
    copy = kwargs.get('copy', False)
    for a in args:
        if isinstance(a, Tensor):
            dtype_, device_ = a.dtype, a.device
        elif isinstance(a, _dtype.dtype) or (isinstance(a, type) and a in (float, int, bool)):
            dtype_ = a
        elif isinstance(a, bool):
            continue  # non_blocking
        elif isinstance(a, (str, int, _device)):
            device_ = a
        else:
            raise TypeError(f'to() received an invalid combination of arguments: {a!r}')
    dtype_ = _dtype.to_dtype(dtype_) if dtype_ is not None else None
    device_ = canonical_device(device_) if device_ is not None else None
    if device_ is not None and device_.type == 'cuda' and device_.index is None:
        cp = cupy()
        if cp is not None:
            device_ = _device('cuda', cp.cuda.runtime.getDevice())
    return dtype_, device_, copy


def _rebuild(cls, array, requires_grad, device):
    a = to_device_array(array, device)
    t = _wrap(a) if cls is Tensor else cls.__new__(cls, _wrap(a), requires_grad)
    if requires_grad and cls is Tensor:
        t._rg = True
    return t


def _rebuild_like(src, array):
    cls = type(src)
    if cls is Tensor:
        t = _wrap(array, src._rg)
    else:
        t = cls.__new__(cls, _wrap(array), src._rg)
    return t


_function._bind_tensor(Tensor, _wrap)
from .autograd.engine import execute as _execute  # noqa: E402  (needs Tensor bound first)
