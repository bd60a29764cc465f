"""torch's products and small linear algebra: ``mm``, ``matmul``, ``einsum``, ``cdist``, ...

Shape and dtype checks are torch's (static, free under jit).  float32 products run at
torch's float32 matmul precision (``jnn.get_float32_matmul_precision()``: full float32
unless set otherwise), on GPUs too, where JAX's default would use TF32.
"""

from __future__ import annotations

import builtins
import functools
from typing import Any

import jax
import jax.numpy as jnp

from jnn import _precision
from jnn._tensor_functions import dtypes
from jnn._tensor_functions._common import (
    as_array,
    broadcast_shape,
    input_array,
    int_result,
    refuse_out,
    root_or_zero,
)

__all__ = [
    "mm", "bmm", "matmul", "einsum", "outer", "ger", "dot", "inner", "addmm", "baddbmm",
    "diag", "trace", "cdist",
]

_cpp = dtypes.cpp_name


def _check_same_dtype(a: jax.Array, b: jax.Array) -> None:
    if a.dtype != b.dtype:
        raise RuntimeError("expected m1 and m2 to have the same dtype, but got: "
                           f"{_cpp(a.dtype)} != {_cpp(b.dtype)}")


def _check_scalar_type(a: jax.Array, b: jax.Array) -> None:
    """torch's dtype check of bmm, cdist and two-operand einsum."""
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected scalar type {dtypes.torch_name(a.dtype)} but found "
                           f"{dtypes.torch_name(b.dtype)}")


def _check_matmul_dtypes(a: jax.Array, b: jax.Array) -> None:
    """torch's matmul reaches dot, mv, mm or bmm by the ranks; each words its dtype check."""
    if a.dtype == b.dtype:
        return
    if a.ndim == 1 and b.ndim == 1:
        raise RuntimeError("dot : expected both vectors to have same dtype, but found "
                           f"{dtypes.torch_name(a.dtype)} and {dtypes.torch_name(b.dtype)}")
    if b.ndim == 1:
        va, vb = dtypes.torch_name(a.dtype), dtypes.torch_name(b.dtype)
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {vb}, {va}, "
                           f"and {vb}")
    if b.ndim == 2:
        _check_same_dtype(a, b)
    _check_scalar_type(a, b)


def _mat_shapes_error(a: tuple, b: tuple) -> RuntimeError:
    return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a[0]}x{a[1]} and "
                        f"{b[0]}x{b[1]})")


def mm(input: jax.Array, mat2: jax.Array, *, out: Any = None) -> jax.Array:
    """Matrix product of ``(n, m)`` and ``(m, p)`` arrays (no broadcasting).

    PyTorch: ``torch.mm``; both must have the same dtype, as in torch.
    """
    refuse_out(out, "mm")
    a, b = input_array(input, "mm"), as_array(mat2)
    if a.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if b.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if a.shape[1] != b.shape[0]:
        raise _mat_shapes_error(a.shape, b.shape)
    _check_same_dtype(a, b)
    return jnp.matmul(a, b, precision=_precision.matmul(a, b))


def bmm(input: jax.Array, mat2: jax.Array, *, out: Any = None) -> jax.Array:
    """Batched matrix product of ``(b, n, m)`` and ``(b, m, p)``.  PyTorch: ``torch.bmm``."""
    refuse_out(out, "bmm")
    a, b = input_array(input, "bmm"), as_array(mat2)
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if b.shape[:2] != (a.shape[0], a.shape[2]):
        raise RuntimeError("Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].")
    _check_scalar_type(a, b)
    return jnp.matmul(a, b, precision=_precision.matmul(a, b))


def _inconsistent(n: int, m: int) -> RuntimeError:
    return RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have "
                        f"the same number of elements, but got {n} and {m} elements respectively")


def matmul(input: jax.Array, other: jax.Array, *, out: Any = None) -> jax.Array:
    """Matrix product with NumPy's rules for 1-D operands and batch broadcasting.

    PyTorch: ``torch.matmul``; errors as torch's.
    """
    refuse_out(out, "matmul")
    a, b = input_array(input, "matmul"), as_array(other)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner_b:
        if a.ndim == 1 and b.ndim == 1:
            raise _inconsistent(a.shape[0], b.shape[0])
        rows = 1 if a.ndim == 1 else builtins.int(a.size // a.shape[-1])
        if a.ndim >= 2 and b.ndim == 1:  # torch's mv
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{a.shape[-1]}), "
                               f"vec ({b.shape[0]})")
        b2 = (b.shape[0], 1) if b.ndim == 1 else b.shape[-2:]
        raise _mat_shapes_error((rows, a.shape[-1]), b2)
    if a.ndim > 2 or b.ndim > 2:  # the batch dims broadcast, with torch's error
        broadcast_shape(a.shape[:-2], b.shape[:-2] if b.ndim > 1 else ())
    _check_matmul_dtypes(a, b)
    return jnp.matmul(a, b, precision=_precision.matmul(a, b))


def einsum(*args: Any) -> jax.Array:
    """Einstein summation: ``einsum('ij,jk->ik', a, b)``, ``einsum('ij,jk', [a, b])`` or the
    sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``.

    PyTorch: ``torch.einsum``.
    """
    if args and isinstance(args[0], str):
        operands = args[1:]
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = tuple(operands[0])
        arrays = [as_array(o) for o in operands]
        _check_equation(args[0], arrays)
        if len(arrays) == 2:
            _check_scalar_type(arrays[0], arrays[1])
        return jnp.einsum(args[0], *arrays, precision=_precision.matmul(*arrays))
    return jnp.einsum(*args, precision=_precision.matmul(*args[::2]))


def _check_equation(equation: str, arrays: list[jax.Array]) -> None:
    """torch's ``einsum(): ...`` errors for an equation that does not fit the operands
    (static: labels and shapes only)."""
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    if len(terms) > len(arrays):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                           "equation")
    if len(terms) < len(arrays):
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation")
    seen: dict[str, int] = {}
    for i, (term, x) in enumerate(zip(terms, arrays, strict=True)):
        labels = term.replace("...", "")
        if "..." not in term and len(labels) != x.ndim:
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({len(labels)}) does not "
                f"match the number of dimensions ({x.ndim}) for operand {i} and no ellipsis "
                "was given")
        if len(labels) > x.ndim:
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({len(labels)}) is more "
                f"than the number of dimensions ({x.ndim}) for operand {i}")
        ellipsis_at = term.find("...")
        sizes = (x.shape if ellipsis_at < 0 else
                 x.shape[:ellipsis_at] + x.shape[x.ndim - (len(labels) - ellipsis_at):])
        own: dict[str, int] = {}
        for label, size in zip(labels, sizes, strict=True):
            if own.setdefault(label, size) != size:
                raise RuntimeError(f"einsum(): subscript {label} is repeated for operand {i} but "
                                   f"the sizes don't match, {size} != {own[label]}")
            previous = seen.get(label, 1)
            if previous != 1 and size not in (1, previous):
                raise RuntimeError(
                    f"einsum(): subscript {label} has size {size} for operand {i} which does "
                    f"not broadcast with previously seen size {previous}")
            seen[label] = size if previous == 1 else previous
    output = rhs.replace("...", "") if arrow else ""
    for label in output:
        if label not in seen:
            raise RuntimeError(f"einsum(): output subscript {label} does not appear in the "
                               "equation for any input operand")
        if output.count(label) > 1:
            raise RuntimeError(f"einsum(): output subscript {label} appears more than once in "
                               "the output")


def _vector(name: str, arg: str, x: jax.Array) -> None:
    if x.ndim != 1:
        raise RuntimeError(f"{name}: Expected 1-D argument {arg}, but got {x.ndim}-D")


def outer(input: jax.Array, vec2: jax.Array, *, out: Any = None) -> jax.Array:
    """Outer product of two vectors.  PyTorch: ``torch.outer`` (also ``ger``)."""
    refuse_out(out, "outer")
    a, b = input_array(input, "outer"), as_array(vec2)
    _vector("outer", "self", a)
    _vector("outer", "vec2", b)
    return jnp.outer(a, b)


ger = outer


def dot(input: jax.Array, tensor: jax.Array, *, out: Any = None) -> jax.Array:
    """Dot product of two 1-D arrays of the same dtype and length.  PyTorch: ``torch.dot``."""
    refuse_out(out, "dot")
    a, b = input_array(input, "dot"), as_array(tensor)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.dtype != b.dtype:
        raise RuntimeError("dot : expected both vectors to have same dtype, but found "
                           f"{dtypes.torch_name(a.dtype)} and {dtypes.torch_name(b.dtype)}")
    if a.shape != b.shape:
        raise _inconsistent(a.shape[0], b.shape[0])
    return jnp.dot(a, b, precision=_precision.matmul(a, b))


def inner(input: jax.Array, other: jax.Array, *, out: Any = None) -> jax.Array:
    """Sum-product over the last dims.  PyTorch: ``torch.inner``."""
    refuse_out(out, "inner")
    a, b = input_array(input, "inner"), as_array(other)
    if a.ndim and b.ndim and a.shape[-1] != b.shape[-1]:
        raise RuntimeError("inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(a.shape)} and {list(b.shape)}")
    if a.dtype != b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    return jnp.inner(a, b, precision=_precision.matmul(a, b))


def _scaled_sum(input: jax.Array, product: jax.Array, beta: Any, alpha: Any) -> jax.Array:
    # torch: beta == 0 ignores input (NaN/inf there do not propagate); 1 multiplies by nothing.
    scaled = product if alpha == 1 else alpha * product
    if builtins.isinstance(beta, (builtins.int, builtins.float)) and beta == 0:
        return jnp.broadcast_to(scaled, product.shape)
    base = as_array(input) if beta == 1 else beta * as_array(input)
    jnp.broadcast_shapes(jnp.shape(base), product.shape)
    return jnp.broadcast_to(base, product.shape) + scaled


def addmm(input: jax.Array, mat1: jax.Array, mat2: jax.Array, *, beta: Any = 1, alpha: Any = 1,
          out: Any = None) -> jax.Array:
    """``beta * input + alpha * (mat1 @ mat2)``, ``input`` broadcast to the product's shape.

    PyTorch: ``torch.addmm``; ``beta=0`` ignores ``input`` (its NaNs do not propagate).
    """
    refuse_out(out, "addmm")
    x, m1, m2 = input_array(input, "addmm"), as_array(mat1), as_array(mat2)
    # torch compares the dtypes before the shapes: self with mat2, then mat1 with mat2
    for what, y in (("self", x), ("mat1", m1)):
        if y.dtype != m2.dtype:
            raise RuntimeError(f"{what} and mat2 must have the same dtype, but got "
                               f"{dtypes.torch_name(y.dtype)} and {dtypes.torch_name(m2.dtype)}")
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def baddbmm(input: jax.Array, batch1: jax.Array, batch2: jax.Array, *, beta: Any = 1,
            alpha: Any = 1, out: Any = None) -> jax.Array:
    """``beta * input + alpha * bmm(batch1, batch2)``.  PyTorch: ``torch.baddbmm``."""
    refuse_out(out, "baddbmm")
    x, b1, b2 = input_array(input, "baddbmm"), as_array(batch1), as_array(batch2)
    _check_scalar_type(b1, b2)
    if x.dtype != b1.dtype:  # torch's check, before the shapes
        raise RuntimeError(f"Input dtypes must be the same, got: input {_cpp(x.dtype)}, "
                           f"batch1: {_cpp(b1.dtype)}, batch2: {_cpp(b2.dtype)}")
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def diag(input: jax.Array, diagonal: int = 0, *, out: Any = None) -> jax.Array:
    """A 1-D array as a diagonal matrix, or a matrix's ``diagonal``-th diagonal.

    PyTorch: ``torch.diag``.
    """
    refuse_out(out, "diag")
    x = input_array(input, "diag")
    if x.ndim not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D")
    return jnp.diag(x, diagonal)


def trace(input: jax.Array) -> jax.Array:
    """Sum of a matrix's diagonal (ints sum as torch's int64).  PyTorch: ``torch.trace``."""
    x = input_array(input, "trace")
    if x.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.ndim}")
    return jnp.trace(x, dtype=int_result(x.dtype))


@functools.partial(jax.jit, static_argnums=1)  # one program per shape, eagerly
def _pnorm(diff: jax.Array, p: float) -> jax.Array:
    """``||diff||_p`` over the last axis, with zero (not NaN) gradients at zero distance."""
    a = jnp.abs(diff)
    if p == 0:
        return jnp.sum(a != 0, axis=-1).astype(diff.dtype)
    if p == float("inf"):
        return jnp.max(a, axis=-1)
    if p == 1:
        return jnp.sum(a, axis=-1)
    return root_or_zero(jnp.sum(a ** p, axis=-1), p)


@jax.jit
def _euclid_mm(x1: jax.Array, x2: jax.Array) -> jax.Array:
    """torch's matrix-product form of Euclidean distances (used for more than 25 rows)."""
    sq1 = jnp.sum(x1 * x1, axis=-1, keepdims=True)
    sq2 = jnp.sum(x2 * x2, axis=-1, keepdims=True)
    product = jnp.matmul(x1, jnp.swapaxes(x2, -1, -2), precision=_precision.matmul(x1))
    d2 = sq1 - 2 * product + jnp.swapaxes(sq2, -1, -2)
    return root_or_zero(jnp.maximum(d2, 0), 2)


def cdist(x1: jax.Array, x2: jax.Array, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> jax.Array:
    """p-norm distances between the rows of ``x1`` ``(B, P, M)`` and ``x2`` ``(B, R, M)``.

    Args:
        x1, x2: float arrays with at least 2 dims; batch dims broadcast.
        p: the norm (``>= 0``; ``inf`` allowed).
        compute_mode: as torch: for ``p == 2``, the matrix-product formula is used when
            either side has more than 25 rows (``'use_mm_for_euclid_dist_if_necessary'``),
            always (``'use_mm_for_euclid_dist'``) or never (``'donot_use_mm_for_euclid_dist'``).

    Returns:
        ``(B, P, R)`` distances.

    PyTorch: ``torch.cdist``.
    """
    a, b = input_array(x1, "cdist", "x1"), input_array(x2, "cdist", "x2", 2)
    for name, x in (("X1", a), ("X2", b)):
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.ndim}D")
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{dtypes.torch_name(x.dtype)}")
    _check_scalar_type(a, b)
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError("X1 and X2 must have the same number of columns. X1: "
                           f"{a.shape[-1]} X2: {b.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    modes = {"use_mm_for_euclid_dist_if_necessary": a.shape[-2] > 25 or b.shape[-2] > 25,
             "use_mm_for_euclid_dist": True, "donot_use_mm_for_euclid_dist": False}
    if compute_mode not in modes:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    if p == 2 and modes[compute_mode]:
        return _euclid_mm(a, b)
    return _pnorm(a[..., :, None, :] - b[..., None, :, :], p)
