"""torch's tensor functions (``torch.cat``, ``torch.zeros``, ...) as ``jnn.<name>``."""

from jnn._tensor_functions.dtypes import *  # noqa: F403
from jnn._tensor_functions.dtypes import __all__ as _dtypes_all

__all__ = [*_dtypes_all]
