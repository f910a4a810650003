"""ember's differentiable primitives, one module per family.

Each family defines ``Op`` subclasses (forward/backward on raw arrays), the public functions
that call them, and (through ``tensor_method``) the Tensor methods that share those functions.
"""
from . import (copy, elementwise, unary, special, reduction, shape, indexing, linalg,  # noqa: F401
               activation, padding, distance)
