"""Affine maps: ``linear`` and ``bilinear``.

Shape checks run on static shapes and raise torch's RuntimeError/IndexError wording
(which names torch's internal ops, ``mat1``/``mat2``, ``addmm`` expansion) so that code
and tests written against torch's messages keep working.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jnn import _precision
from jnn.nn.functional._utils import (
    as_input,
    broadcast_shapes,
    check_inplace_broadcast,
    not_implemented_for,
    numel,
    size_at,
    torch_cpp_type_name,
    torch_dtype_name,
    torch_tensor_type_name,
)

__all__ = ["linear", "bilinear"]


def _fused_with_bias(x_ndim: int, b_shape: tuple[int, ...] | None) -> bool:
    """Whether torch's ``linear`` runs ``addmm(bias, x_2d, weight.t())`` (the input's leading
    dimensions folded into rows) rather than ``matmul`` and then an in-place ``add_``: with a
    2-d input, or a bias that is 1-d once its size-1 dimensions are squeezed."""
    if b_shape is None:
        return False
    return x_ndim == 2 or len(b_shape) == 1 or sum(d != 1 for d in b_shape) == 1


def _check_addmm(x: jax.Array, w: jax.Array, b: jax.Array) -> None:
    """torch's ``addmm(bias, x_2d, weight.t())`` checks, in its order: the dtypes first
    (the bias, addmm's "self", against the weight, then the input), then the shapes."""
    if b.dtype != w.dtype:
        raise RuntimeError("self and mat2 must have the same dtype, but got "
                           f"{torch_dtype_name(b.dtype)} and {torch_dtype_name(w.dtype)}")
    if x.dtype != w.dtype:
        raise RuntimeError("mat1 and mat2 must have the same dtype, but got "
                           f"{torch_dtype_name(x.dtype)} and {torch_dtype_name(w.dtype)}")
    if w.ndim == 1:
        raise RuntimeError("mat2 must be a matrix, got 1-D tensor")
    rows, in_features = numel(x.shape[:-1]), x.shape[-1]
    out_features, w_in = w.shape
    if in_features != w_in:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{in_features} "
                           f"and {w_in}x{out_features})")
    _check_expand(b, (rows, out_features))


def _check_expand(b: jax.Array, target: tuple[int, int]) -> None:
    """torch's ``expand`` of the bias to ``(rows, out_features)``, checked from the right."""
    if b.ndim > len(target):
        raise RuntimeError(
            f"expand({torch_tensor_type_name(b.dtype)}{{{list(b.shape)}}}, size="
            f"{list(target)}): the number of sizes provided ({len(target)}) must be greater "
            f"or equal to the number of dimensions in the tensor ({b.ndim})")
    for i in range(1, b.ndim + 1):
        if b.shape[-i] not in (1, target[-i]):
            raise RuntimeError(
                f"The expanded size of the tensor ({target[-i]}) must match the existing size "
                f"({b.shape[-i]}) at non-singleton dimension {len(target) - i}.  Target sizes: "
                f"{list(target)}.  Tensor sizes: {list(b.shape)}")


def _check_matmul(x: jax.Array, w: jax.Array) -> None:
    """torch's ``matmul(x, weight.t())`` checks: ``mm`` (a 2-d weight) and ``mv`` check the
    shapes before the dtypes, ``dot`` (a 1-d input and weight) the dtypes first."""
    rows, in_features = numel(x.shape[:-1]), x.shape[-1]
    if w.ndim == 2:
        out_features, w_in = w.shape
        if in_features != w_in:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x"
                               f"{in_features} and {w_in}x{out_features})")
        if x.dtype != w.dtype:  # its C++ type names
            raise RuntimeError("expected m1 and m2 to have the same dtype, but got: "
                               f"{torch_cpp_type_name(x.dtype)} != "
                               f"{torch_cpp_type_name(w.dtype)}")
        return
    x_name, w_name = torch_dtype_name(x.dtype), torch_dtype_name(w.dtype)
    if x.ndim == 1:
        if x.dtype != w.dtype:
            raise RuntimeError("dot : expected both vectors to have same dtype, but found "
                               f"{x_name} and {w_name}")
        if in_features != w.shape[0]:
            raise RuntimeError(
                f"inconsistent tensor size, expected tensor [{in_features}] and src "
                f"[{w.shape[0]}] to have the same number of elements, but got "
                f"{in_features} and {w.shape[0]} elements respectively")
        return
    if in_features != w.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{in_features}), "
                           f"vec ({w.shape[0]})")
    if x.dtype != w.dtype:
        raise RuntimeError("addmv input tensors must have the same dtype, but got "
                           f"{w_name}, {x_name}, and {w_name}")


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

    PyTorch: ``torch.nn.functional.linear``.  A float32 product runs at
    :func:`jnn.get_float32_matmul_precision` (full float32 unless set otherwise, as torch's).

    Example:
        >>> import jax.numpy as jnp
        >>> linear(jnp.ones((2, 3)), jnp.ones((5, 3))).shape
        (2, 5)
    """
    x = as_input(input)
    w = as_input(weight)
    b = None if bias is None else as_input(bias)
    if x.ndim == 0 or w.ndim == 0:
        raise RuntimeError("both arguments to linear need to be at least 1D, but they are "
                           f"{x.ndim}D and {w.ndim}D")
    if w.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {w.ndim}D")
    prec = _precision.matmul(x, w)  # torch's float32 matmul precision (full by default)
    # torch refuses mixed dtypes (a bfloat16 Linear fed float32) instead of promoting; which
    # check comes first, and its words, depend on the kernel torch's linear dispatches to
    if _fused_with_bias(x.ndim, None if b is None else b.shape):
        _check_addmm(x, w, b)
        if x.dtype == jnp.bool_:
            raise not_implemented_for("addmm_impl_cpu_", x.dtype)
        if x.dtype in (jnp.float16, jnp.bfloat16):
            # torch's addmm adds the bias to the float32 sums and rounds once
            out = jnp.matmul(x, w.T, preferred_element_type=jnp.float32, precision=prec)
            return (out + jnp.broadcast_to(b, out.shape)).astype(x.dtype)
        if b.ndim <= 1:  # the common bias: the same values, and XLA fuses the add
            return jnp.matmul(x, w.T, precision=prec) + b
        rows, out_features = numel(x.shape[:-1]), w.shape[0]
        out = jnp.matmul(x.reshape(rows, x.shape[-1]), w.T, precision=prec)
        out = out + jnp.broadcast_to(b, (rows, out_features))
        return out.reshape(*x.shape[:-1], out_features)
    _check_matmul(x, w)
    if x.dtype == jnp.bool_ and (w.ndim == 2 or x.ndim == 1):  # (mm, mv, matmul: addmm)
        raise not_implemented_for("addmm_impl_cpu_" if w.ndim == 2 else "dot", x.dtype)
    out = jnp.matmul(x, w.T, precision=prec)
    if b is not None:  # torch's in-place add_: the output keeps its shape and dtype
        check_inplace_broadcast(out.shape, b.shape)
        out = (out + b).astype(out.dtype)
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
    if not x1.dtype == x2.dtype == w.dtype or (b is not None and b.dtype != w.dtype):
        # torch names the bias too when one is given (and refuses one of another dtype)
        given = "" if b is None else f", bias: {torch_cpp_type_name(b.dtype)}"
        raise RuntimeError(
            f"All tensors must have the same dtype, got input1: {torch_cpp_type_name(x1.dtype)}, "
            f"input2: {torch_cpp_type_name(x2.dtype)}, weight: {torch_cpp_type_name(w.dtype)}"
            + given)
    out = jnp.einsum("...i,kij,...j->...k", x1, w, x2, precision=_precision.matmul(w))
    if b is not None:
        broadcast_shapes(out.shape, b.shape)
        out = out + b
    return out


