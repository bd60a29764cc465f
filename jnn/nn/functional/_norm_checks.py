"""Static checks shared by the normalization functions, with torch's wording.

Everything here reads shapes, dtypes and Python arguments only (free under ``jax.jit``).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from jnn.nn.functional._utils import numel, torch_dtype_name, torch_size

_REDUCED = (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16))


def compute_dtype(dtype: jnp.dtype) -> jnp.dtype:
    """The dtype statistics are computed in: float32 for half inputs, as torch's kernels."""
    return jnp.dtype(jnp.float32) if jnp.dtype(dtype) in _REDUCED else jnp.dtype(dtype)


def check_mixed_dtype(input: jax.Array, *params: jax.Array | None) -> None:
    """torch's CPU rule for normalization parameters of another dtype than the input.

    As torch's ``is_mixed_type``/``check_mixed_data_type``: the first given parameter
    decides. Of the input's dtype, every other parameter must match it too (torch's
    ``expected scalar type``); of another dtype, every parameter must be float32 and the
    input half/bfloat16 (torch's "mixed type" kernels), else torch's RuntimeError rather
    than a promotion.
    """
    given = [jnp.dtype(p.dtype) for p in params if p is not None]
    if not given:
        return
    in_dtype = jnp.dtype(input.dtype)
    if given[0] == in_dtype:
        for dtype in given:
            if dtype != in_dtype:
                raise RuntimeError(f"expected scalar type {torch_dtype_name(in_dtype)} but "
                                   f"found {torch_dtype_name(dtype)}")
        return
    if any(dtype != jnp.dtype(jnp.float32) for dtype in given):
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    if in_dtype not in _REDUCED:
        raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


def check_floating(input: jax.Array, kernel: str) -> None:
    """torch's ``"batch_norm" not implemented for 'Int'``: its normalization kernels are
    dispatched for floating dtypes only (an integer or bool input is refused, not cast)."""
    if not jnp.issubdtype(input.dtype, jnp.inexact):
        raise NotImplementedError(
            f"\"{kernel}\" not implemented for '{torch_dtype_name(input.dtype)}'")


def verify_batch_size(shape: Sequence[int], shown: str | None = None) -> None:
    """torch's ``_verify_batch_size``: training statistics need two values per channel."""
    size = shape[0] * numel(shape[2:]) if len(shape) >= 2 else numel(shape)
    if size == 1:
        shown = torch_size(shape) if shown is None else shown
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {shown}")


def verify_spatial_size(shape: Sequence[int]) -> None:
    """torch's ``_verify_spatial_size``: instance statistics need two spatial values."""
    if numel(shape[2:]) == 1:
        raise ValueError("Expected more than 1 spatial element when training, got input size "
                         f"{torch_size(shape)}")


def check_vector(name: str, value: jax.Array | None, expected: int, scale: int = 1) -> None:
    """``running_mean should contain 4 elements not 3`` (torch's batch_norm check).

    ``scale``: torch's instance_norm repeats each per-channel vector over the batch, so its
    message counts ``scale`` copies of it.
    """
    if value is not None and value.size * scale != expected:
        raise RuntimeError(f"{name} should contain {expected} elements not {value.size * scale}")


def check_normalized_shape(input_shape: Sequence[int], normalized_shape: tuple[int, ...],
                           comma: bool) -> None:
    """torch's layer_norm / rms_norm check that the input ends in ``normalized_shape``.

    ``comma``: layer_norm prints ``[*, 3]``, rms_norm prints ``[*3]``.
    """
    if len(normalized_shape) == 0:
        raise RuntimeError(
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least "
            "one element, but got normalized_shape = []")
    k = len(normalized_shape)
    if tuple(input_shape[len(input_shape) - k:]) != normalized_shape or len(input_shape) < k:
        dims = ", ".join(str(d) for d in normalized_shape)
        star = "*, " if comma else "*"
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[{star}{dims}], but got input of size{list(input_shape)}")


def check_affine_shape(name: str, value: jax.Array | None,
                       normalized_shape: tuple[int, ...]) -> None:
    if value is not None and tuple(value.shape) != normalized_shape:
        raise RuntimeError(
            f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
            f"{list(value.shape)} and normalized_shape = {list(normalized_shape)}")


def as_shape(normalized_shape: Sequence[int], fn: str) -> tuple[int, ...]:
    """A sequence of ints as a tuple; a bare int is torch's TypeError (the modules take ints)."""
    if isinstance(normalized_shape, int):
        raise TypeError(f"{fn}(): argument 'normalized_shape' (position 2) must be tuple of "
                        "ints, not int")
    return tuple(int(d) for d in normalized_shape)
