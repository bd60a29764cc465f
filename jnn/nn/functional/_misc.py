"""torch.nn.functional's functions that belong to no layer family: ``one_hot`` and
``gumbel_softmax``. Re-exported through :mod:`jnn.nn.functional.activation`'s ``__all__``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jnn import random as jnn_random
from jnn.nn.functional._dispatch import NeedsConcrete, in_dispatch_trace, warn
from jnn.nn.functional._loss_common import concrete, traced_check, traced_checks
from jnn.nn.functional._utils import check_int, normalize_dim, torch_dtype_name

__all__ = ["one_hot", "gumbel_softmax"]

def _infer_num_classes(x: jax.Array) -> int:
    if isinstance(x, jax.core.Tracer):
        if in_dispatch_trace():
            raise NeedsConcrete  # eager: run without dispatch, the values are known
        raise ValueError(
            "one_hot(tensor, num_classes=-1) infers the number of classes from the values "
            "of `tensor`, which are unknown inside a JAX trace (jax.jit, jax.grad, "
            "jax.vmap, jnn.compile): the output shape would depend on data. Pass it "
            "explicitly, e.g. `F.one_hot(target, num_classes=10)`."
        )
    if x.size == 0:
        raise RuntimeError("Can not infer total number of classes from empty tensor.")
    return int(np.max(np.asarray(x))) + 1


def _check_class_values(x: jax.Array, num_classes: int) -> None:
    # torch checks the values; jnn where they are concrete (eager calls) or checked.
    values = concrete(x, checked=True)
    if values is None:
        if traced_checks() and x.size:
            traced_check(jnp.min(x) >= 0, "RuntimeError: Class values must be non-negative.")
            traced_check(jnp.max(x) < num_classes,
                         "RuntimeError: Class values must be smaller than num_classes.")
        return
    if values.size == 0:
        return
    if values.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if values.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")


def one_hot(tensor: ArrayLike, num_classes: int = -1) -> jax.Array:
    """Encode class indices as one-hot vectors along a new last dimension.

    Args:
        tensor: integer class indices of any shape.
        num_classes: the length of each vector. ``-1`` infers ``max(tensor) + 1``, which
            needs concrete values: inside ``jax.jit``/``jnn.compile`` pass it explicitly.

    Shape:
        - Input: ``(*)``. Output: ``(*, num_classes)``, integer (torch's int64; int32 in
          jnn unless ``jax_enable_x64``).

    PyTorch: ``torch.nn.functional.one_hot``. Values outside ``[0, num_classes)`` raise
    torch's RuntimeError when they are concrete; inside a trace they cannot be checked
    without a host sync and give an all-zero row instead.

    Example:
        >>> import jax.numpy as jnp
        >>> one_hot(jnp.array([0, 2]), 3)
        Array([[1, 0, 0],
               [0, 0, 1]], dtype=int32)
    """
    num_classes = check_int(num_classes, "one_hot", "num_classes", 2)  # (as F.one_hot(t, 3.0))
    x = jnp.asarray(tensor)
    if not jnp.issubdtype(x.dtype, jnp.integer):
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        num_classes = _infer_num_classes(x)
    _check_class_values(x, num_classes)
    if num_classes < 0:  # only reachable under a trace: torch's message for the values
        raise RuntimeError("Class values must be smaller than num_classes.")
    classes = jnp.arange(num_classes, dtype=x.dtype)
    # torch returns int64 ("LongTensor"); jnn's long is int32 unless jax_enable_x64.
    return (x[..., None] == classes).astype(jax.dtypes.canonicalize_dtype(jnp.int64))


def gumbel_softmax(
    logits: ArrayLike,
    tau: float = 1,
    hard: bool = False,
    eps: float = 1e-10,
    dim: int = -1,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Sample from the Gumbel-softmax (concrete) distribution.

    ``softmax((logits + g) / tau, dim)`` with ``g ~ Gumbel(0, 1)`` elementwise. With
    ``hard=True`` the result is the one-hot of its argmax in the forward pass, while the
    gradient is the soft sample's (straight-through: ``y_hard - stop_gradient(y) + y``).

    Args:
        logits: ``(*, num_features)`` unnormalised log-probabilities.
        tau: the temperature (> 0).
        hard: return one-hot samples with straight-through gradients.
        eps: deprecated and unused, as in torch (a warning when changed).
        dim: the dimension the softmax runs along.
        key: PRNG key for the noise; default draws one from jnn's global generator.

    Shape:
        - Input: ``(*)``. Output: ``(*)``, summing to 1 along ``dim``.

    PyTorch: ``torch.nn.functional.gumbel_softmax``; the same distribution, with JAX's
    random stream (samples differ from torch's for the same seed).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> gumbel_softmax(jnp.zeros((2, 5)), hard=True, key=jax.random.key(0)).sum(-1)
        Array([1., 1.], dtype=float32)
    """
    if eps != 1e-10:
        warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    x = jnp.asarray(logits)
    if not jnp.issubdtype(x.dtype, jnp.floating):  # torch's exponential_() of the noise
        raise RuntimeError(
            "Exponential distribution is a continuous probability distribution. dtype must "
            f"be a floating point but you specified {torch_dtype_name(x.dtype)}")
    axis = normalize_dim(dim, x.ndim)
    if key is None:
        key = jnn_random.next_key()
    gumbels = jax.random.gumbel(key, x.shape, x.dtype)
    y_soft = jax.nn.softmax((x + gumbels) / tau, axis=axis)
    if not hard:
        return y_soft
    index = jnp.argmax(y_soft, axis=axis, keepdims=True)
    positions = jax.lax.broadcasted_iota(index.dtype, x.shape, axis)
    y_hard = (positions == index).astype(x.dtype)
    return y_hard - jax.lax.stop_gradient(y_soft) + y_soft
