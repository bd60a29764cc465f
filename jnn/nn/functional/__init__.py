"""``jnn.nn.functional``: torch.nn.functional's pure functions on JAX arrays.

Every function takes arrays (anything ``jnp.asarray`` accepts) and static Python
hyper-parameters and returns new arrays; all work under ``jax.jit``, ``jax.grad`` and
``jax.vmap``. Randomness (dropout) takes an explicit ``key``, defaulting to jnn's global
generator. ``inplace=`` arguments are accepted and ignored: JAX arrays are immutable.
"""

from jnn.nn.functional.activation import (
    celu,
    elu,
    gelu,
    glu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    logsigmoid,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softmin,
    softplus,
    softsign,
    tanh,
)
from jnn.nn.functional.conv import *  # noqa: F403
from jnn.nn.functional.conv import __all__ as _conv
from jnn.nn.functional.distance import *  # noqa: F403
from jnn.nn.functional.distance import __all__ as _distance
from jnn.nn.functional.dropout import (
    alpha_dropout,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
    feature_alpha_dropout,
)
from jnn.nn.functional.linear import bilinear, linear
from jnn.nn.functional.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
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
    # activation
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "sigmoid",
    "tanh",
    "hardtanh",
    "hardsigmoid",
    "hardswish",
    "softplus",
    "softsign",
    "logsigmoid",
    "softmax",
    "log_softmax",
    "softmin",
    "glu",
    # linear
    "linear",
    "bilinear",
    # dropout
    "dropout",
    "alpha_dropout",
    "feature_alpha_dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    # loss
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "nll_loss",
    "cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    # the other families (each file's __all__)
    *_conv, *_distance, *_normalization, *_padding, *_pooling, *_sparse, *_vision,
]
