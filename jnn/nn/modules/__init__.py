"""torch.nn's module families; each file mirrors its torch counterpart."""

from jnn.nn.modules.activation import *  # noqa: F403
from jnn.nn.modules.activation import __all__ as _activation
from jnn.nn.modules.container import (
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
)
from jnn.nn.modules.dropout import *  # noqa: F403
from jnn.nn.modules.dropout import __all__ as _dropout
from jnn.nn.modules.flatten import Flatten, Unflatten
from jnn.nn.modules.linear import Bilinear, Identity, Linear
from jnn.nn.modules.loss import *  # noqa: F403
from jnn.nn.modules.loss import __all__ as _loss
from jnn.nn.modules.module import Module

__all__ = [
    "Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict",
    "Identity", "Linear", "Bilinear", "Flatten", "Unflatten",
    *_activation, *_dropout, *_loss,
]
