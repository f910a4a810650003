"""nn.Parameter (a leaf tensor a Module registers as learnable), nn.Buffer, and the lazy
UninitializedParameter/UninitializedBuffer used by Lazy* modules."""
from .. import _dtype
from .._tensor import Tensor, _wrap
from ..autograd.grad_mode import GRAD

__all__ = ['Parameter', 'Buffer', 'UninitializedParameter', 'UninitializedBuffer',
           'is_lazy']


def _init_slots(t, a, requires_grad):
    t._data = a
    t._rg = False
    t._fn = None
    t._nr = 0
    t._grad = None
    t._vc = None
    t._view = None
    t._hooks = None
    if requires_grad:
        t.requires_grad_(True)
    return t


class Parameter(Tensor):
    """A tensor that a Module registers as a parameter when assigned as an attribute.

    ``Parameter(data, requires_grad=True)`` shares memory with ``data``.
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from .._creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f'Parameter data must be a Tensor, got {type(data).__name__}')
        t = object.__new__(cls)
        if requires_grad and data._data.dtype.kind != 'f':
            raise RuntimeError('Only Tensors of floating point and complex dtype can require '
                               'gradients')
        return _init_slots(t, data._data, requires_grad)

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        return 'Parameter containing:\n' + super().__repr__()

    def __reduce_ex__(self, protocol):
        a = self._data if self._data.__class__.__module__ == 'numpy' else self._data.get()
        return (_rebuild_parameter, (type(self), a, self._rg, str(self.device)))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(_wrap(self._data.copy()), self._rg)
        if self._grad is not None:
            result._grad = _wrap(self._grad._data.copy())
        memo[id(self)] = result
        return result


def _rebuild_parameter(cls, array, requires_grad, device):
    from .._backend import to_device_array
    return cls(_wrap(to_device_array(array, device)), requires_grad)


class Buffer(Tensor):
    """Marks a tensor as a buffer when assigned to a Module attribute:
    ``self.running_mean = nn.Buffer(torch.zeros(3), persistent=True)``."""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            from .._creation import empty
            data = empty(0)
        t = object.__new__(cls)
        _init_slots(t, data._data, False)
        t.persistent = persistent
        return t

    def __init__(self, data=None, *, persistent=True):
        pass


def is_lazy(t):
    return isinstance(t, (UninitializedParameter, UninitializedBuffer))


class _Uninitialized:
    """Shared behaviour of parameters/buffers whose shape is decided by the first forward."""
    _cls_to_become = None

    def materialize(self, shape, device=None, dtype=None):
        """Give this placeholder real (uninitialised) storage of ``shape`` and become a
        regular Parameter/Buffer."""
        from .._creation import empty
        if dtype is None:
            dtype = self._lazy_dtype
        if device is None:
            device = self._lazy_device
        t = empty(*shape, dtype=dtype, device=device)
        self._data = t._data
        self.__class__ = self._cls_to_become

    @property
    def shape(self):
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. This "
                           'error usually happens in `load_state_dict` when trying to load an '
                           'uninitialized parameter into an initialized one. Call `forward` to '
                           'initialize the parameters before accessing their attributes.')

    def __repr__(self):
        return f'<{type(self).__name__}>'

    def __reduce_ex__(self, protocol):
        return (type(self), (self._rg,))


class UninitializedParameter(_Uninitialized, Parameter):
    _cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        from .._creation import empty
        t = Parameter.__new__(cls, empty(0, device=device, dtype=dtype), requires_grad)
        t._lazy_device = device
        t._lazy_dtype = dtype
        return t

    def __init__(self, requires_grad=True, device=None, dtype=None):
        pass

    def __deepcopy__(self, memo):
        return type(self)(self._rg, self._lazy_device, self._lazy_dtype)


class UninitializedBuffer(_Uninitialized, Tensor):
    _cls_to_become = Buffer

    def __deepcopy__(self, memo):
        return type(self)(self._rg, self._lazy_device, self._lazy_dtype)

    def __new__(cls, requires_grad=False, device=None, dtype=None):
        from .._creation import empty
        t = object.__new__(cls)
        _init_slots(t, empty(0, device=device, dtype=dtype)._data, requires_grad)
        t._lazy_device = device
        t._lazy_dtype = dtype
        return t

    def __init__(self, requires_grad=False, device=None, dtype=None):
        pass
