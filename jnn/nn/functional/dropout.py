"""Dropout: elementwise, channel-wise (``dropout1d/2d/3d``) and the SELU-preserving alpha forms.

Randomness arrives as an explicit PRNG ``key``. When ``key`` is None a fresh one is drawn
from jnn's global generator (:func:`jnn.random.next_key`), which is what makes
``F.dropout(x)`` behave like torch's; under a plain ``jax.jit`` pass ``key=`` (or use
``jnn.random.use_key``). No key is drawn when nothing is dropped (``training=False`` or
``p == 0``): the input is returned as is. ``p`` and ``training`` are static Python values.

The arithmetic follows torch's CPU kernel, so kept values are bit-identical to torch's:
``input * (mask / (1 - p))`` with the scale computed in the input's dtype, and ``p == 1``
gives ``input * 0`` (a NaN input stays NaN, as in torch).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jnn import random as jnn_random
from jnn.nn.functional._dispatch import warn
from jnn.nn.functional._utils import check_bool, torch_dtype_name

__all__ = [
    "dropout",
    "alpha_dropout",
    "feature_alpha_dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
]

# SELU's negative saturation value, alpha * scale: dropped units are set to -_ALPHA_PRIME
# before the affine correction (torch's constant).
_ALPHA_PRIME = 1.7580993408473766


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _check_floating(dtype: jnp.dtype, alpha: bool) -> None:
    """torch's in-place ``input * mask`` cannot write a float result into an integer input
    (and its mask, drawn in the input's dtype, has no complex kernel).

    For a bool input the alpha forms first promote through ``Long`` (torch's ``1 - mask``
    arithmetic), so their message names ``Long``.
    """
    if jnp.issubdtype(dtype, jnp.complexfloating):  # torch's mask draw takes the input's dtype
        raise NotImplementedError(
            f"\"bernoulli_scalar_cpu_\" not implemented for '{torch_dtype_name(dtype)}'")
    if jnp.issubdtype(dtype, jnp.inexact):
        return
    name = "Long" if alpha and dtype == jnp.bool_ else torch_dtype_name(dtype)
    raise RuntimeError(f"result type Float can't be cast to the desired output type {name}")


def _draw_keep_mask(key: jax.Array, p: float, shape: tuple[int, ...], feature: bool):
    if not feature:
        return jax.random.bernoulli(key, 1.0 - p, shape)
    # Channel-wise: one draw per (sample, channel), broadcast over the spatial dims. The
    # draw is (N, C) whatever the rank, so 1d/2d/3d share one compiled sampler.
    keep = jax.random.bernoulli(key, 1.0 - p, shape[:2])
    return keep.reshape(shape[:2] + (1,) * (len(shape) - 2))


def _dropout_impl(
    x: jax.Array, p: float, training: bool, key: jax.Array | None, feature: bool, alpha: bool
) -> jax.Array:
    """torch's ``_dropout_impl``: the one kernel behind every dropout variant."""
    if p == 0 or not training or x.size == 0:
        return x
    if p == 1:
        return x * jnp.zeros((), x.dtype)
    if feature and x.ndim < 2:  # checked before a key is drawn
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    _check_floating(x.dtype, alpha)
    if key is None:
        key = jnn_random.next_key()
    keep = _draw_keep_mask(key, p, x.shape, feature).astype(x.dtype)
    if alpha:
        a = 1.0 / math.sqrt((_ALPHA_PRIME**2 * p + 1) * (1 - p))
        # kept: a * x + alpha' * a * p; dropped: alpha' * a * (p - 1).
        shift = (keep - 1) * (_ALPHA_PRIME * a) + _ALPHA_PRIME * a * p
        return x * (keep * a) + shift
    # torch divides the mask by (1 - p) in the input's dtype; do the same, so that the
    # kept values round exactly as torch's do.
    dtype = np.dtype(x.dtype)
    scale = np.asarray(1, dtype) / np.asarray(1.0 - p, dtype)
    return x * (keep * jnp.asarray(scale, x.dtype))


def dropout(
    input: ArrayLike,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Args:
        input: any shape.
        p: probability of an element to be zeroed. Default: 0.5.
        training: apply dropout if ``True``; otherwise return ``input`` unchanged.
        inplace: accepted for torch compatibility and ignored (JAX arrays are immutable).
        key: PRNG key; default draws one from jnn's global generator.

    PyTorch: ``torch.nn.functional.dropout``; the mask comes from JAX's PRNG, so it differs
    from torch's for the same seed.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> dropout(jnp.ones((2, 3)), 0.5, key=jax.random.key(0)).shape
        (2, 3)
    """
    _check_p(p)
    check_bool(training, "dropout", "train", 3)
    return _dropout_impl(jnp.asarray(input), p, training, key, feature=False, alpha=False)


def alpha_dropout(
    input: ArrayLike,
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Dropout that keeps SELU's self-normalising mean and variance.

    Dropped elements take SELU's negative saturation value, and an affine correction
    restores zero mean and unit variance. Arguments as in :func:`dropout`; note that
    ``training`` defaults to ``False`` here, as in torch.

    PyTorch: ``torch.nn.functional.alpha_dropout``.
    """
    _check_p(p)
    return _dropout_impl(jnp.asarray(input), p, training, key, feature=False, alpha=True)


def feature_alpha_dropout(
    input: ArrayLike,
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """:func:`alpha_dropout` applied to whole channels of an ``(N, C, *)`` input.

    PyTorch: ``torch.nn.functional.feature_alpha_dropout``.
    """
    _check_p(p)
    return _dropout_impl(jnp.asarray(input), p, training, key, feature=True, alpha=True)


def _channel_dropout(x: jax.Array, p, training, key, batched: bool) -> jax.Array:
    if batched:
        return _dropout_impl(x, p, training, key, feature=True, alpha=False)
    # Unbatched input: channels are the leading dim; torch adds a batch dim of 1.
    out = _dropout_impl(x[None], p, training, key, feature=True, alpha=False)
    return out[0]


def dropout1d(
    input: ArrayLike,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Zero whole channels of a 1-d feature map with probability ``p``.

    Shape:
        - Input: ``(N, C, L)`` or ``(C, L)``.
        - Output: same as input.

    PyTorch: ``torch.nn.functional.dropout1d``; other arguments as in :func:`dropout`.
    """
    _check_p(p)
    x = jnp.asarray(input)
    if x.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {x.ndim}D input. "
            "Note that dropout1d exists to provide channel-wise dropout on inputs with 1 "
            "spatial dimension, a channel dimension, and an optional batch dimension "
            "(i.e. 2D or 3D inputs)."
        )
    return _channel_dropout(x, p, training, key, batched=x.ndim == 3)


def dropout2d(
    input: ArrayLike,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Zero whole channels of a 2-d feature map with probability ``p``.

    Shape:
        - Input: ``(N, C, H, W)``. A 3-d input is treated as ``(N, C, L)`` with a
          warning, as torch still does (not as unbatched ``(C, H, W)``).
        - Output: same as input.

    PyTorch: ``torch.nn.functional.dropout2d``; other arguments as in :func:`dropout`.
    """
    _check_p(p)
    x = jnp.asarray(input)
    if x.ndim not in (3, 4):
        warn(
            f"dropout2d: Received a {x.ndim}-D input to dropout2d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout2d "
            "exists to provide channel-wise dropout on inputs with 2 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if x.ndim == 3:
        warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
            "1D dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _channel_dropout(x, p, training, key, batched=True)


def dropout3d(
    input: ArrayLike,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Zero whole channels of a 3-d feature map with probability ``p``.

    Shape:
        - Input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        - Output: same as input.

    PyTorch: ``torch.nn.functional.dropout3d``; other arguments as in :func:`dropout`.
    """
    _check_p(p)
    x = jnp.asarray(input)
    if x.ndim not in (4, 5):
        warn(
            f"dropout3d: Received a {x.ndim}-D input to dropout3d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout3d "
            "exists to provide channel-wise dropout on inputs with 3 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    return _channel_dropout(x, p, training, key, batched=x.ndim == 5)
