"""torch's products and small linear algebra: ``mm``, ``matmul``, ``einsum``, ``cdist``, ...

Shape and dtype checks are torch's (static, free under jit).  Products run at JAX's
default matmul precision, as the rest of jnn: exact float32 on CPU, possibly TF32 on
GPUs unless ``jax_default_matmul_precision`` is raised.
"""

from __future__ import annotations

import builtins
import functools
from typing import Any

import jax
import jax.numpy as jnp

from jnn._tensor_functions import dtypes
from jnn._tensor_functions._common import as_array, int_result, refuse_out

__all__ = [
    "mm", "bmm", "matmul", "einsum", "outer", "ger", "dot", "inner", "addmm", "baddbmm",
    "diag", "trace", "cdist",
]

# torch's C++ spelling of dtypes in mm's dtype error ("float != double").
_CPP_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
              "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
              "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
              "bool": "bool"}


def _cpp(dtype: Any) -> str:
    name = jnp.dtype(dtype).name
    return _CPP_NAMES.get(name, name)


def _check_same_dtype(a: jax.Array, b: jax.Array) -> None:
    if a.dtype != b.dtype:
        raise RuntimeError("expected m1 and m2 to have the same dtype, but got: "
                           f"{_cpp(a.dtype)} != {_cpp(b.dtype)}")


def _mat_shapes_error(a: tuple, b: tuple) -> RuntimeError:
    return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a[0]}x{a[1]} and "
                        f"{b[0]}x{b[1]})")


def mm(input: jax.Array, mat2: jax.Array, *, out: Any = None) -> jax.Array:
    """Matrix product of ``(n, m)`` and ``(m, p)`` arrays (no broadcasting).

    PyTorch: ``torch.mm``; both must have the same dtype, as in torch.
    """
    refuse_out(out, "mm")
    a, b = as_array(input), as_array(mat2)
    if a.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if b.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if a.shape[1] != b.shape[0]:
        raise _mat_shapes_error(a.shape, b.shape)
    _check_same_dtype(a, b)
    return jnp.matmul(a, b)


def bmm(input: jax.Array, mat2: jax.Array, *, out: Any = None) -> jax.Array:
    """Batched matrix product of ``(b, n, m)`` and ``(b, m, p)``.  PyTorch: ``torch.bmm``."""
    refuse_out(out, "bmm")
    a, b = as_array(input), as_array(mat2)
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if b.shape[:2] != (a.shape[0], a.shape[2]):
        raise RuntimeError("Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].")
    _check_same_dtype(a, b)
    return jnp.matmul(a, b)


def _inconsistent(n: int, m: int) -> RuntimeError:
    return RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have "
                        f"the same number of elements, but got {n} and {m} elements respectively")


def matmul(input: jax.Array, other: jax.Array, *, out: Any = None) -> jax.Array:
    """Matrix product with NumPy's rules for 1-D operands and batch broadcasting.

    PyTorch: ``torch.matmul``; errors as torch's.
    """
    refuse_out(out, "matmul")
    a, b = as_array(input), as_array(other)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner_b:
        if a.ndim == 1 and b.ndim == 1:
            raise _inconsistent(a.shape[0], b.shape[0])
        rows = 1 if a.ndim == 1 else builtins.int(a.size // a.shape[-1])
        b2 = (b.shape[0], 1) if b.ndim == 1 else b.shape[-2:]
        raise _mat_shapes_error((rows, a.shape[-1]), b2)
    return jnp.matmul(a, b)


def einsum(*args: Any) -> jax.Array:
    """Einstein summation: ``einsum('ij,jk->ik', a, b)``, ``einsum('ij,jk', [a, b])`` or the
    sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``.

    PyTorch: ``torch.einsum``.
    """
    if args and isinstance(args[0], str):
        operands = args[1:]
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = tuple(operands[0])
        return jnp.einsum(args[0], *(as_array(o) for o in operands))
    return jnp.einsum(*args)


def _vector(name: str, arg: str, x: jax.Array) -> None:
    if x.ndim != 1:
        raise RuntimeError(f"{name}: Expected 1-D argument {arg}, but got {x.ndim}-D")


def outer(input: jax.Array, vec2: jax.Array, *, out: Any = None) -> jax.Array:
    """Outer product of two vectors.  PyTorch: ``torch.outer`` (also ``ger``)."""
    refuse_out(out, "outer")
    a, b = as_array(input), as_array(vec2)
    _vector("outer", "self", a)
    _vector("outer", "vec2", b)
    return jnp.outer(a, b)


ger = outer


def dot(input: jax.Array, tensor: jax.Array, *, out: Any = None) -> jax.Array:
    """Dot product of two 1-D arrays of the same dtype and length.  PyTorch: ``torch.dot``."""
    refuse_out(out, "dot")
    a, b = as_array(input), as_array(tensor)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.dtype != b.dtype:
        raise RuntimeError("dot : expected both vectors to have same dtype, but found "
                           f"{dtypes.torch_name(a.dtype)} and {dtypes.torch_name(b.dtype)}")
    if a.shape != b.shape:
        raise _inconsistent(a.shape[0], b.shape[0])
    return jnp.dot(a, b)


def inner(input: jax.Array, other: jax.Array, *, out: Any = None) -> jax.Array:
    """Sum-product over the last dims.  PyTorch: ``torch.inner``."""
    refuse_out(out, "inner")
    return jnp.inner(as_array(input), as_array(other))


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
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def baddbmm(input: jax.Array, batch1: jax.Array, batch2: jax.Array, *, beta: Any = 1,
            alpha: Any = 1, out: Any = None) -> jax.Array:
    """``beta * input + alpha * bmm(batch1, batch2)``.  PyTorch: ``torch.baddbmm``."""
    refuse_out(out, "baddbmm")
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def diag(input: jax.Array, diagonal: int = 0, *, out: Any = None) -> jax.Array:
    """A 1-D array as a diagonal matrix, or a matrix's ``diagonal``-th diagonal.

    PyTorch: ``torch.diag``.
    """
    refuse_out(out, "diag")
    x = as_array(input)
    if x.ndim not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D")
    return jnp.diag(x, diagonal)


def trace(input: jax.Array) -> jax.Array:
    """Sum of a matrix's diagonal (ints sum as torch's int64).  PyTorch: ``torch.trace``."""
    x = as_array(input)
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
    total = jnp.sum(a ** p, axis=-1)
    positive = total > 0
    return jnp.where(positive, jnp.where(positive, total, 1) ** (1 / p), 0)


@jax.jit
def _euclid_mm(x1: jax.Array, x2: jax.Array) -> jax.Array:
    """torch's matrix-product form of Euclidean distances (used for more than 25 rows)."""
    sq1 = jnp.sum(x1 * x1, axis=-1, keepdims=True)
    sq2 = jnp.sum(x2 * x2, axis=-1, keepdims=True)
    d2 = sq1 - 2 * jnp.matmul(x1, jnp.swapaxes(x2, -1, -2)) + jnp.swapaxes(sq2, -1, -2)
    d2 = jnp.maximum(d2, 0)
    positive = d2 > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, d2, 1)), 0)


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
    a, b = as_array(x1), as_array(x2)
    for name, x in (("X1", a), ("X2", b)):
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.ndim}D")
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{dtypes.torch_name(x.dtype)}")
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
