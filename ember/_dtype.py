"""dtypes, the default dtype, and PyTorch's type-promotion rules.

Each ember dtype wraps one NumPy dtype. Arrays inside tensors always carry the NumPy dtype;
ember dtypes are what users see (``t.dtype``, ``dtype=`` keywords).
"""
import numpy as np

__all__ = ['dtype', 'float16', 'float32', 'float64', 'int8', 'int16', 'int32', 'int64',
           'uint8', 'bool', 'half', 'float', 'double', 'short', 'int', 'long',
           'set_default_dtype', 'get_default_dtype', 'promote_types', 'result_type',
           'is_floating_point', 'finfo', 'iinfo']

_py_bool, _py_int, _py_float = bool, int, float

# category of a dtype for promotion: 0 bool, 1 integer, 2 floating
_BOOL, _INT, _FLOAT = 0, 1, 2


class dtype:
    """A tensor element type, printed as ``ember.float32``."""
    __slots__ = ('name', 'np', 'is_floating_point', 'is_signed', 'itemsize', 'category')

    def __init__(self, name, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        kind = self.np.kind
        self.category = _BOOL if kind == 'b' else (_FLOAT if kind == 'f' else _INT)
        self.is_floating_point = kind == 'f'
        self.is_signed = kind in 'if'
        self.itemsize = self.np.itemsize

    is_complex = False

    def __repr__(self):
        return 'ember.' + self.name

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_real(self):
        return self

    def to_complex(self):
        raise TypeError(f'ember has no complex dtypes (asked for the complex form of {self})')


float16 = half = dtype('float16', np.float16)
float32 = float = dtype('float32', np.float32)
float64 = double = dtype('float64', np.float64)
int8 = dtype('int8', np.int8)
int16 = short = dtype('int16', np.int16)
int32 = int = dtype('int32', np.int32)
int64 = long = dtype('int64', np.int64)
uint8 = dtype('uint8', np.uint8)
bool = dtype('bool', np.bool_)

_ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, bool)
_FROM_NP = {d.np: d for d in _ALL}
_NAMES = {d.name: d for d in _ALL}


def _by_name(name):
    return _NAMES[name]


def from_numpy_dtype(np_dtype):
    """The ember dtype of a NumPy dtype; TypeError for types ember does not support."""
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        pass
    np_dtype = np.dtype(np_dtype)
    if np_dtype in _FROM_NP:
        return _FROM_NP[np_dtype]
    if np_dtype.kind == 'u' or np_dtype.kind == 'i':
        # uint16/32/64 have no ember dtype: PyTorch maps them to the signed types of
        # the next size only in limited ways; we take int64, which holds every value.
        return int64
    raise TypeError(f"can't convert np.ndarray of type numpy.{np_dtype}. The only supported "
                    "types are: float64, float32, float16, int64, int32, int16, int8, "
                    "uint8, and bool.")


def to_np(d):
    """NumPy dtype for an ember dtype, a NumPy dtype, a Python type, or None (None stays)."""
    if d is None:
        return None
    if d.__class__ is dtype:
        return d.np
    if d is _py_float:
        return _default[0].np
    if d is _py_int:
        return np.dtype(np.int64)
    if d is _py_bool:
        return np.dtype(np.bool_)
    if isinstance(d, str):
        raise TypeError(f"dtype must be an ember.dtype, not the string {d!r}")
    return from_numpy_dtype(np.dtype(d)).np


def to_dtype(d):
    """Ember dtype for an ember dtype, a NumPy dtype or a Python type."""
    if d.__class__ is dtype:
        return d
    return _FROM_NP[to_np(d)]


_default = [float32]


def set_default_dtype(d):
    """Set the floating-point dtype of new tensors made from Python floats (float32 or float64)."""
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f'only floating-point types are supported as the default type, got {d}')
    _default[0] = d


def get_default_dtype():
    return _default[0]


def default_float_np():
    return _default[0].np


def is_floating_point(t):
    return t.dtype.is_floating_point


def promote_types(a, b):
    """Promotion of two ember dtypes, as ``torch.promote_types``."""
    return _FROM_NP[_promote_np(to_np(a), to_np(b))]


_CATEGORY = {d.np: d.category for d in _ALL}


def _promote_np(a, b):
    if a == b:
        return a
    ca, cb = _CATEGORY[a], _CATEGORY[b]
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


_result_cache = {}


def _tier_key(x):
    """(kind, np dtype or python type) of one operand: 2 dimensioned array, 1 zero-dim, 0 scalar."""
    c = x.__class__
    if c is _py_float or c is _py_int or c is _py_bool:
        return (0, c)
    if isinstance(x, np.generic):
        return (0, _py_bool if x.dtype.kind == 'b' else (_py_float if x.dtype.kind == 'f' else _py_int))
    return (1 if x.ndim == 0 else 2, x.dtype)


def _scalar_category(t):
    return _BOOL if t is _py_bool else (_INT if t is _py_int else _FLOAT)


def _compute_result(keys):
    # each tier (dimensioned arrays, zero-dim arrays, Python scalars) is promoted on its
    # own; a lower tier only wins where its category is higher than everything above it.
    result = None
    for tier in (2, 1):
        tier_types = [k[1] for k in keys if k[0] == tier]
        if not tier_types:
            continue
        t = tier_types[0]
        for u in tier_types[1:]:
            t = _promote_np(t, u)
        if result is None or _CATEGORY[t] > _CATEGORY[result]:
            result = t
    scalars = [_scalar_category(k[1]) for k in keys if k[0] == 0]
    if scalars:
        sc = max(scalars)
        if result is None or sc > _CATEGORY[result]:
            result = (np.dtype(np.bool_) if sc == _BOOL else
                      np.dtype(np.int64) if sc == _INT else _default[0].np)
    return result


def result_np(*operands):
    """NumPy dtype of an elementwise op on arrays and Python scalars, by PyTorch's rules."""
    key = tuple(map(_tier_key, operands))
    try:
        r = _result_cache[key]
    except KeyError:
        r = _compute_result(key)
        if not any(k[0] == 0 and k[1] is _py_float for k in key):
            _result_cache[key] = r  # float scalars depend on the default dtype: not cached
    return r


def result_type(*operands):
    """``torch.result_type``: the dtype an elementwise op of these operands produces."""
    from ._tensor import Tensor
    return _FROM_NP[result_np(*[o._data if isinstance(o, Tensor) else o for o in operands])]


class finfo:
    """Machine limits of a floating dtype (bits, eps, max, min, tiny, resolution)."""

    def __init__(self, type=None):
        d = to_dtype(type if type is not None else _default[0])
        if not d.is_floating_point:
            raise TypeError(f'finfo needs a floating-point dtype, got {d}')
        fi = np.finfo(d.np)
        self.dtype = d.name
        self.bits = fi.bits
        self.eps = _py_float(fi.eps)
        self.max = _py_float(fi.max)
        self.min = _py_float(fi.min)
        self.tiny = self.smallest_normal = _py_float(fi.tiny)
        self.resolution = _py_float(fi.resolution)

    def __repr__(self):
        return (f'finfo(resolution={self.resolution}, min={self.min:g}, max={self.max:g}, '
                f'eps={self.eps:g}, smallest_normal={self.tiny:g}, tiny={self.tiny:g}, '
                f'dtype={self.dtype})')


class iinfo:
    """Machine limits of an integer dtype (bits, max, min)."""

    def __init__(self, type):
        d = to_dtype(type)
        if d.is_floating_point:
            raise TypeError(f'iinfo needs an integer dtype, got {d}')
        ii = np.iinfo(d.np) if d is not bool else None
        self.dtype = d.name
        self.bits = ii.bits if ii else 8
        self.max = _py_int(ii.max) if ii else 1
        self.min = _py_int(ii.min) if ii else 0

    def __repr__(self):
        return f'iinfo(min={self.min}, max={self.max}, dtype={self.dtype})'
