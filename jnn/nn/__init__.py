"""jnn.nn: torch.nn's layers, containers, functional API and init on JAX."""

from jnn.nn import functional, init, modules, utils
from jnn.nn.modules import *  # noqa: F403
from jnn.nn.modules import __all__ as _modules_all
from jnn.nn.parameter import Buffer, Parameter

__all__ = ["Parameter", "Buffer", "functional", "init", "utils", "modules", *_modules_all]
