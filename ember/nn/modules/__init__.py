"""Layer classes, one family per file."""
from .module import Module, register_module_forward_pre_hook, register_module_forward_hook
from .container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict
from .activation import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .flatten import *  # noqa: F401,F403
from .batchnorm import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .instancenorm import *  # noqa: F401,F403
from .switchnorm import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .fold import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .upsampling import *  # noqa: F401,F403
from .pixelshuffle import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403

from . import (activation, linear, sparse, dropout, flatten, batchnorm, normalization,  # noqa: E402
               instancenorm, switchnorm, loss, padding, distance, conv, fold, pooling,
               upsampling, pixelshuffle, rnn, transformer)

__all__ = (['Module', 'Sequential', 'ModuleList', 'ModuleDict', 'ParameterList', 'ParameterDict',
            'register_module_forward_pre_hook', 'register_module_forward_hook']
           + [n for m in (activation, linear, sparse, dropout, flatten, batchnorm, normalization,
                          instancenorm, switchnorm, loss, padding, distance, conv, fold, pooling,
                          upsampling, pixelshuffle, rnn, transformer)
              for n in getattr(m, '__all__', [])])
