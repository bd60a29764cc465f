"""``jnn.nn.functional``: torch.nn.functional's pure functions on JAX arrays.

Every function takes arrays (anything ``jnp.asarray`` accepts) and static Python
hyper-parameters and returns new arrays; all work under ``jax.jit``, ``jax.grad`` and
``jax.vmap``. Randomness (dropout, rrelu, gumbel_softmax) takes an explicit ``key``,
defaulting to jnn's global generator. ``inplace=`` arguments are accepted and ignored: JAX
arrays are immutable, so the result is always a new array (use the return value).

Not provided: torch.nn.functional's public names that jnn leaves out on purpose, one per
line with its reason (``tests/nn/test_functional_names.py`` parses this list, so the
documentation and the test cannot drift):

- ``celu_``: in-place only; JAX arrays are immutable: use ``x = celu(x)``.
- ``elu_``: in-place only; JAX arrays are immutable: use ``x = elu(x)``.
- ``hardtanh_``: in-place only; JAX arrays are immutable: use ``x = hardtanh(x)``.
- ``leaky_relu_``: in-place only; JAX arrays are immutable: use ``x = leaky_relu(x)``.
- ``relu_``: in-place only; JAX arrays are immutable: use ``x = relu(x)``.
- ``rrelu_``: in-place only; JAX arrays are immutable: use ``x = rrelu(x)``.
- ``selu_``: in-place only; JAX arrays are immutable: use ``x = selu(x)``.
- ``threshold_``: in-place only; JAX arrays are immutable: use ``x = threshold(x, t, v)``.
- ``assert_int_or_pair``: torch's internal argument check, not an nn operation.
- ``scaled_dot_product_attention``: arrives with the attention issue.
- ``multi_head_attention_forward``: arrives with the attention issue.
- ``grouped_mm``: torch's CUDA grouped GEMM kernel entry (MoE), not an nn operation here.
- ``scaled_mm``: torch's CUDA low-precision (fp8) scaled GEMM kernel entry.
- ``scaled_grouped_mm``: torch's CUDA low-precision (fp8) grouped GEMM kernel entry.
- ``conv_tbc``: torch's legacy time-batch-channel convolution kernel, undocumented.
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

# Eager dispatch (see _dispatch): each public function, called outside any JAX trace, runs
# as one cached compiled program; inside a trace the plain function runs.  The family
# files keep the plain functions, so that F.* calling F.* never dispatches twice.
import types as _types  # noqa: E402

from jnn.nn.functional._dispatch import dispatched as _dispatched  # noqa: E402

for _name in __all__:
    if isinstance(globals()[_name], _types.FunctionType):
        globals()[_name] = _dispatched(globals()[_name])
del _name

