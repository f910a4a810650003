"""ember.nn: modules, parameters, functional ops and initialisation, as torch.nn."""
from .parameter import Parameter, Buffer, UninitializedParameter, UninitializedBuffer
from .modules import *  # noqa: F401,F403
from . import modules, init, functional, utils
