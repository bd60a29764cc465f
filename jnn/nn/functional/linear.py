"""Affine maps: ``linear`` and ``bilinear``.

Shape checks run on static shapes and raise torch's RuntimeError/IndexError wording
(which names torch's internal ops, ``mat1``/``mat2``, ``addmm`` expansion) so that code
and tests written against torch's messages keep working.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jnn.nn.functional._utils import (
    as_input,
    broadcast_shapes,
    numel,
    size_at,
    torch_cpp_type_name,
    torch_dtype_name,
)

__all__ = ["linear", "bilinear"]


def _check_linear_shapes(x_shape, w_shape, b_shape) -> None:
    if len(x_shape) == 0 or len(w_shape) == 0:
        raise RuntimeError(
            "both arguments to linear need to be at least 1D, but they are "
            f"{len(x_shape)}D and {len(w_shape)}D"
        )
    if len(w_shape) > 2:
        raise RuntimeError(
            f"t() expects a tensor with <= 2 dimensions, but self is {len(w_shape)}D"
        )
    in_features = x_shape[-1]
    rows = numel(x_shape[:-1])  # torch folds the leading dimensions into one
    if len(w_shape) == 1:
        if in_features != w_shape[0]:
            if len(x_shape) == 1:
                raise RuntimeError(
                    f"inconsistent tensor size, expected tensor [{in_features}] and src "
                    f"[{w_shape[0]}] to have the same number of elements, but got "
                    f"{in_features} and {w_shape[0]} elements respectively"
                )
            raise RuntimeError(
                f"size mismatch, got input ({rows}), mat ({rows}x{in_features}), vec ({w_shape[0]})"
            )
        if b_shape is not None and len(b_shape) > 0:
            # torch routes a vector weight with a bias through addmm, which refuses it.
            raise RuntimeError("mat2 must be a matrix, got 1-D tensor")
        return
    out_features, w_in = w_shape
    if in_features != w_in:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{in_features} and "
            f"{w_in}x{out_features})"
        )
    if b_shape is not None and len(b_shape) == 1 and b_shape[0] not in (1, out_features):
        raise RuntimeError(
            f"The expanded size of the tensor ({out_features}) must match the existing size "
            f"({b_shape[0]}) at non-singleton dimension 1.  Target sizes: [{rows}, "
            f"{out_features}].  Tensor sizes: [{b_shape[0]}]"
        )


def linear(input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None) -> jax.Array:
    """Apply the affine map ``y = x W^T + b``.

    Args:
        input: ``(*, in_features)``.
        weight: ``(out_features, in_features)``, or ``(in_features,)`` for a
            matrix-vector product.
        bias: ``(out_features,)`` or anything broadcastable to the output; optional.

    Shape:
        - Input: ``(*, H_in)`` where ``H_in = in_features``.
        - Output: ``(*, H_out)`` where ``H_out = out_features`` (``(*)`` for a 1-d weight).

    PyTorch: ``torch.nn.functional.linear``. The matmul runs at JAX's default precision;
    on GPUs that may be TF32 unless ``jax_default_matmul_precision`` is raised.

    Example:
        >>> import jax.numpy as jnp
        >>> linear(jnp.ones((2, 3)), jnp.ones((5, 3))).shape
        (2, 5)
    """
    x = as_input(input)
    w = as_input(weight)
    b = None if bias is None else as_input(bias)
    _check_linear_shapes(x.shape, w.shape, None if b is None else b.shape)
    # torch refuses mixed dtypes (a bfloat16 Linear fed float32) instead of promoting
    if x.dtype != w.dtype:
        if b is None:  # torch's matmul path: its C++ type names
            raise RuntimeError("expected m1 and m2 to have the same dtype, but got: "
                               f"{torch_cpp_type_name(x.dtype)} != {torch_cpp_type_name(w.dtype)}")
        raise RuntimeError("mat1 and mat2 must have the same dtype, but got "
                           f"{torch_dtype_name(x.dtype)} and {torch_dtype_name(w.dtype)}")
    if b is not None and b.dtype != w.dtype:
        raise RuntimeError("self and mat2 must have the same dtype, but got "
                           f"{torch_dtype_name(b.dtype)} and {torch_dtype_name(w.dtype)}")
    out = jnp.matmul(x, w.T)
    if b is not None:
        broadcast_shapes(out.shape, b.shape)
        out = out + b
    return out


def _check_bilinear_shapes(x1_shape, x2_shape, w_shape, b_shape) -> None:
    # Same checks, order and wording as torch's bilinear().
    if len(x1_shape) != len(x2_shape):
        raise RuntimeError(
            f"bilinear(): input dimensions do not match: got {len(x1_shape)} and {len(x2_shape)}"
        )
    for i, (n1, n2) in enumerate(zip(x1_shape[:-1], x2_shape[:-1])):
        if n1 != n2:
            raise RuntimeError(
                f"bilinear(): input batch dimensions do not match at dim {i}: got {n1} and {n2}"
            )
    in1 = size_at(x1_shape, -1)
    if in1 != size_at(w_shape, 1):
        raise RuntimeError(
            f"bilinear(): input1 size does not match weight size: got {in1} but expected "
            f"{w_shape[1]}"
        )
    in2 = x2_shape[-1]
    if in2 != size_at(w_shape, 2):
        raise RuntimeError(
            f"bilinear(): input2 size does not match weight size: got {in2} but expected "
            f"{w_shape[2]}"
        )
    if b_shape is not None and size_at(b_shape, 0) != w_shape[0]:
        raise RuntimeError(
            f"bilinear(): bias size does not match weight size: got {b_shape[0]} but expected "
            f"{w_shape[0]}"
        )
    if len(w_shape) != 3:
        raise RuntimeError("number of dimensions must match")


def bilinear(
    input1: ArrayLike, input2: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None
) -> jax.Array:
    """Apply the bilinear map ``y_k = x1^T A_k x2 + b_k``.

    Args:
        input1: ``(*, in1_features)``.
        input2: ``(*, in2_features)``, same leading dimensions as ``input1``.
        weight: ``(out_features, in1_features, in2_features)``.
        bias: ``(out_features,)``; optional.

    Shape:
        - Output: ``(*, out_features)``.

    PyTorch: ``torch.nn.functional.bilinear``.

    Example:
        >>> import jax.numpy as jnp
        >>> bilinear(jnp.ones((2, 3)), jnp.ones((2, 4)), jnp.ones((5, 3, 4))).shape
        (2, 5)
    """
    x1 = as_input(input1)
    x2 = as_input(input2)
    w = as_input(weight)
    b = None if bias is None else as_input(bias)
    _check_bilinear_shapes(x1.shape, x2.shape, w.shape, None if b is None else b.shape)
    if not x1.dtype == x2.dtype == w.dtype:
        raise RuntimeError(
            f"All tensors must have the same dtype, got input1: {torch_cpp_type_name(x1.dtype)}, "
            f"input2: {torch_cpp_type_name(x2.dtype)}, weight: {torch_cpp_type_name(w.dtype)}")
    out = jnp.einsum("...i,kij,...j->...k", x1, w, x2)
    if b is not None:
        broadcast_shapes(out.shape, b.shape)
        out = out + b
    return out


