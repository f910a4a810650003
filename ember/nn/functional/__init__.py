"""ember.nn.functional (``F``): thin public functions that check arguments and call ember's
ops, one module per family; everything is re-exported here as in torch.nn.functional."""
from ...ops.reduction import softmax as _softmax  # noqa: F401
from .activation import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .upsampling import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
