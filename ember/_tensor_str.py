"""(being written)"""


def tensor_repr(t):
    import numpy as np
    return 'tensor(' + np.array2string(t._data if t._data.__class__ is np.ndarray else t._data.get(), separator=', ') + ')'
