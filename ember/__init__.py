"""ember: PyTorch's programming model on NumPy (CPU) and CuPy (NVIDIA GPU).

``import ember as torch`` and keep working: tensors with autograd, the same names, signatures,
numerics and printed text.
"""
import numpy as _np

from ._memory import tune_malloc as _tune_malloc
_tune_malloc()

from . import _dtype
from ._dtype import (dtype, float16, float32, float64, int8, int16, int32, int64, uint8, bool,
                     half, float, double, short, int, long, set_default_dtype, get_default_dtype,
                     promote_types, result_type, finfo, iinfo)
from ._backend import device
from ._tensor import Tensor, Size
from . import autograd
from .autograd import no_grad, enable_grad, set_grad_enabled, inference_mode
from .autograd.grad_mode import is_grad_enabled, is_inference_mode_enabled
from . import ops
from .ops.copy import *  # noqa: F401,F403
from .ops.elementwise import *  # noqa: F401,F403
from .ops.unary import *  # noqa: F401,F403
from .ops.special import *  # noqa: F401,F403
from .ops.reduction import *  # noqa: F401,F403
from .ops.shape import *  # noqa: F401,F403
from .ops.indexing import *  # noqa: F401,F403
from .ops.linalg import *  # noqa: F401,F403
from .ops.activation import *  # noqa: F401,F403
from .ops.padding import *  # noqa: F401,F403
from .ops.distance import *  # noqa: F401,F403
from .ops.rnn import *  # noqa: F401,F403
from ._creation import *  # noqa: F401,F403
from ._random import *  # noqa: F401,F403
from ._tensor_str import *  # noqa: F401,F403
from ._parallel import set_num_threads, get_num_threads
from . import cuda, linalg, special, random, return_types
from . import nn, optim
from .utils import data as _data  # noqa: F401  (ember.utils.data)
from .serialization import save, load
from .utils.summary import summary

# PyTorch computes silently with inf/nan; so does ember (NumPy would warn on every x/0).
_np.seterr(divide='ignore', invalid='ignore', over='ignore', under='ignore')

__version__ = '0.1.0'


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


def is_floating_point(input):
    return input.is_floating_point()


def typename(obj):
    return obj.type() if isinstance(obj, Tensor) else type(obj).__name__
