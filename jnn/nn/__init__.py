"""jnn.nn: torch.nn's layers, containers, functional API and init on JAX."""

from jnn.nn import functional, init, modules, utils
from jnn.nn.modules import *  # noqa: F403
from jnn.nn.modules import __all__ as _modules_all
from jnn.nn.modules.lazy import UninitializedBuffer, UninitializedParameter
from jnn.nn.parameter import Buffer, Parameter

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer", "functional",
           "init", "utils", "modules", *_modules_all]
