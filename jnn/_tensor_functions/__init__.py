"""torch's tensor functions (``torch.cat``, ``torch.zeros``, ...) as ``jnn.<name>``.

They take and return ``jax.Array``s, with torch's signatures, defaults, result dtypes and
errors.  Differences that JAX imposes are documented per function; the common ones:

- ``out=`` is refused (JAX arrays are immutable: use the return value);
  ``requires_grad=`` is accepted and ignored (gradients come from ``jnn.autograd``).
- torch's int64 results (Python ints, indices, sums of ints) are int32 while JAX's
  ``jax_enable_x64`` is off; an explicit 64-bit ``dtype=`` warns once.
- Functions whose output shape depends on values (``nonzero``, ``unique``,
  ``masked_select``, one-argument ``where``, ``bincount`` without ``minlength``) run
  eagerly only and raise a clear error under ``jax.jit``/``jnn.compile``.
- Random functions draw from jnn's generator (``jnn.manual_seed``), not torch's stream.
"""

from jnn._tensor_functions import return_types
from jnn._tensor_functions.creation import *  # noqa: F403
from jnn._tensor_functions.creation import __all__ as _creation_all
from jnn._tensor_functions.device import *  # noqa: F403
from jnn._tensor_functions.device import __all__ as _device_all
from jnn._tensor_functions.dtypes import *  # noqa: F403
from jnn._tensor_functions.dtypes import __all__ as _dtypes_all
from jnn._tensor_functions.indexing import *  # noqa: F403
from jnn._tensor_functions.indexing import __all__ as _indexing_all
from jnn._tensor_functions.joining import *  # noqa: F403
from jnn._tensor_functions.joining import __all__ as _joining_all
from jnn._tensor_functions.linalg import *  # noqa: F403
from jnn._tensor_functions.linalg import __all__ as _linalg_all
from jnn._tensor_functions.maths import *  # noqa: F403
from jnn._tensor_functions.maths import __all__ as _maths_all
from jnn._tensor_functions.random_creation import *  # noqa: F403
from jnn._tensor_functions.random_creation import __all__ as _random_all
from jnn._tensor_functions.reductions import *  # noqa: F403
from jnn._tensor_functions.reductions import __all__ as _reductions_all
from jnn._tensor_functions.shaping import *  # noqa: F403
from jnn._tensor_functions.shaping import __all__ as _shaping_all
from jnn._tensor_functions.sorting import *  # noqa: F403
from jnn._tensor_functions.sorting import __all__ as _sorting_all

__all__ = [
    "return_types", *_dtypes_all, *_device_all, *_creation_all, *_random_all, *_joining_all,
    *_shaping_all, *_indexing_all, *_maths_all, *_linalg_all, *_reductions_all,
    *_sorting_all,
]
