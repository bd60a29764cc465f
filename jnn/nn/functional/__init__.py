"""``jnn.nn.functional``: torch.nn.functional's pure functions on JAX arrays.

Every function takes arrays (anything ``jnp.asarray`` accepts) and static Python
hyper-parameters and returns new arrays; all work under ``jax.jit``, ``jax.grad`` and
``jax.vmap``. Randomness (dropout) takes an explicit ``key``, defaulting to jnn's global
generator. ``inplace=`` arguments are accepted and ignored: JAX arrays are immutable.
"""

from jnn.nn.functional.activation import *  # noqa: F403
from jnn.nn.functional.activation import __all__ as _activation
from jnn.nn.functional.conv import *  # noqa: F403
from jnn.nn.functional.conv import __all__ as _conv
from jnn.nn.functional.distance import *  # noqa: F403
from jnn.nn.functional.distance import __all__ as _distance
from jnn.nn.functional.dropout import *  # noqa: F403
from jnn.nn.functional.dropout import __all__ as _dropout
from jnn.nn.functional.linear import *  # noqa: F403
from jnn.nn.functional.linear import __all__ as _linear
from jnn.nn.functional.loss import *  # noqa: F403
from jnn.nn.functional.loss import __all__ as _loss
from jnn.nn.functional.normalization import *  # noqa: F403
from jnn.nn.functional.normalization import __all__ as _normalization
from jnn.nn.functional.padding import *  # noqa: F403
from jnn.nn.functional.padding import __all__ as _padding
from jnn.nn.functional.pooling import *  # noqa: F403
from jnn.nn.functional.pooling import __all__ as _pooling
from jnn.nn.functional.sparse import *  # noqa: F403
from jnn.nn.functional.sparse import __all__ as _sparse
from jnn.nn.functional.vision import *  # noqa: F403
from jnn.nn.functional.vision import __all__ as _vision

__all__ = [
    *_activation,
    *_conv,
    *_distance,
    *_dropout,
    *_linear,
    *_loss,
    *_normalization,
    *_padding,
    *_pooling,
    *_sparse,
    *_vision,
]
