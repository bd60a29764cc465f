"""Distances and similarities: ``pairwise_distance``, ``cosine_similarity``, ``pdist``,
``normalize``.

All four reduce with a p-norm whose gradient follows torch's backward formulas where the
mathematical derivative is undefined (a zero vector, ties of the max-norm, ``p < 1`` at
zero entries): :func:`_vector_norm` carries them as a ``jax.custom_jvp``, so ``jax.grad``
gives the numbers ``torch.autograd`` gives, without NaNs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jnn.nn.functional._utils import (
    broadcast_shapes,
    check_number,
    is_int,
    normalize_dim,
    torch_dtype_name,
    type_name,
)

__all__ = ["pairwise_distance", "cosine_similarity", "pdist", "normalize"]


# --------------------------------------------------------------------------- the p-norm
def _norm_value(x: jax.Array, p: float, axis: int) -> jax.Array:
    """``||x||_p`` along ``axis`` (kept), torch's definitions for p = 0 and +-inf."""
    a = jnp.abs(x)
    if p == 0:
        return jnp.sum(x != 0, axis, keepdims=True).astype(x.dtype)
    if p == math.inf:
        return jnp.max(a, axis, keepdims=True)
    if p == -math.inf:
        return jnp.min(a, axis, keepdims=True)
    if p == 1:
        return jnp.sum(a, axis, keepdims=True)
    if p == 2:
        return jnp.sqrt(jnp.sum(a * a, axis, keepdims=True))
    return jnp.sum(a**p, axis, keepdims=True) ** (1.0 / p)


def _norm_slope(x: jax.Array, norm: jax.Array, p: float, axis: int,
                split_ties: bool) -> jax.Array:
    """d||x||_p / dx elementwise, with torch's choices where it is undefined."""
    zero = jnp.zeros_like(x)
    sign = jnp.sign(x)
    if p == 0:
        return zero
    if p == 1:
        return sign
    if math.isinf(p):
        hit = (jnp.abs(x) == norm) | jnp.isnan(x)
        slope = sign * hit.astype(x.dtype)
        if split_ties:  # torch.norm's backward shares the gradient among the ties;
            # pdist's own kernel gives each tie the full gradient.
            slope = slope / jnp.sum(hit, axis, keepdims=True).astype(x.dtype)
        return slope
    null = norm == 0
    safe_norm = jnp.where(null, jnp.ones_like(norm), norm)
    if p == 2:
        return jnp.where(null, zero, x / safe_norm)
    safe_abs = jnp.where(x == 0, jnp.ones_like(x), jnp.abs(x))
    if p < 1:  # torch zeroes the entries that are 0 themselves (|x|^(p-1) is inf there)
        return jnp.where(x == 0, zero, sign * safe_abs ** (p - 1) * norm ** (1 - p))
    return jnp.where(null, zero, sign * safe_abs ** (p - 1) / safe_norm ** (p - 1))


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3, 4))
def _vector_norm(x: jax.Array, p: float, axis: int, keepdims: bool,
                 split_ties: bool = True) -> jax.Array:
    norm = _norm_value(x, p, axis)
    return norm if keepdims else jnp.squeeze(norm, axis)


@_vector_norm.defjvp
def _vector_norm_jvp(p, axis, keepdims, split_ties, primals, tangents):
    (x,), (t,) = primals, tangents
    norm = _norm_value(x, p, axis)
    slope = _norm_slope(x, norm, p, axis, split_ties)
    dot = jnp.sum(slope * t, axis, keepdims=True)
    if not keepdims:
        norm, dot = jnp.squeeze(norm, axis), jnp.squeeze(dot, axis)
    return norm, dot


def _as_vector(x: jax.Array) -> jax.Array:
    # torch reduces a 0-d tensor along dim 0 / -1 as if it were a 1-element vector.
    return x.reshape(1) if x.ndim == 0 else x


# --------------------------------------------------------------------------- functions
def pairwise_distance(
    x1: ArrayLike, x2: ArrayLike, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> jax.Array:
    """``||x1 - x2 + eps||_p`` along the last dimension, broadcasting ``x1`` and ``x2``.

    Args:
        x1, x2: ``(*, D)`` and anything broadcastable to it (``(D,)``, ``(1, D)``, ...).
        p: the norm's order; 0, negative and ``inf`` orders follow ``torch.norm``.
        eps: added to the difference so that equal inputs keep a usable gradient.
        keepdim: keep the reduced dimension (size 1).

    Shape:
        - Input1: ``(N, D)`` or ``(D)``; Input2: the same or broadcastable.
        - Output: ``(N)`` or ``()``; ``(N, 1)`` / ``(1)`` with ``keepdim``.

    PyTorch: ``torch.nn.functional.pairwise_distance``.

    Example:
        >>> import jax.numpy as jnp
        >>> pairwise_distance(jnp.zeros((4, 3)), jnp.ones((4, 3)), eps=0.0).shape
        (4,)
    """
    a, b = jnp.asarray(x1), jnp.asarray(x2)
    broadcast_shapes(a.shape, b.shape)
    diff = a - b + eps
    if diff.ndim == 0:  # torch: a 0-d result even with keepdim
        return _vector_norm(diff.reshape(1), float(p), 0, False)
    return _vector_norm(diff, float(p), diff.ndim - 1, keepdim)


def cosine_similarity(
    x1: ArrayLike, x2: ArrayLike, dim: int = 1, eps: float = 1e-8
) -> jax.Array:
    """``x1 . x2 / (max(||x1||, eps) max(||x2||, eps))`` along ``dim``, broadcasting.

    As in torch, each input is divided by its own clamped norm before the dot product
    (keeping the result in ``[-1, 1]``), and the clamp is invisible to the gradient: it
    flows through the unclamped norm, exactly as torch's no-grad ``clamp_min_`` makes it.

    Args:
        x1, x2: broadcastable floating arrays.
        dim: the dimension of the vectors (of the broadcast shape).
        eps: the smallest norm used as a divisor.

    Shape:
        - Input1: ``(*_1, D, *_2)``; Input2: broadcastable to it.
        - Output: ``(*_1, *_2)``.

    PyTorch: ``torch.nn.functional.cosine_similarity``.

    Example:
        >>> import jax.numpy as jnp
        >>> cosine_similarity(jnp.ones((4, 3)), jnp.ones((4, 3))).shape
        (4,)
    """
    a, b = jnp.asarray(x1), jnp.asarray(x2)
    common = jnp.result_type(a, b)
    if not jnp.issubdtype(common, jnp.inexact):
        raise RuntimeError("expected common dtype to be floating point, yet common dtype is "
                           f"{torch_dtype_name(common)}")
    shape = broadcast_shapes(a.shape, b.shape)
    axis = normalize_dim(dim, len(shape))
    a = _as_vector(jnp.broadcast_to(a, shape).astype(common))
    b = _as_vector(jnp.broadcast_to(b, shape).astype(common))

    def unit(v: jax.Array) -> jax.Array:
        norm = _vector_norm(v, 2.0, axis, True)
        clamped = norm + jax.lax.stop_gradient(jnp.maximum(norm, eps) - norm)
        return v / clamped

    out = jnp.sum(unit(a) * unit(b), axis)
    return out.reshape(shape[:axis] + shape[axis + 1:])


def _check_pdist(x: jax.Array, p: float) -> None:
    if x.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {x.ndim}D")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise RuntimeError("pdist only supports floating-point dtypes")
    if x.dtype in (jnp.float16, jnp.bfloat16):  # torch's CPU kernel has no half forms
        raise RuntimeError(f"\"pdist\" not implemented for '{torch_dtype_name(x.dtype)}'")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")


def pdist(input: ArrayLike, p: float = 2) -> jax.Array:
    """The p-norm distance between every pair of rows, as the upper triangle of the
    distance matrix in row-major order (``scipy.spatial.distance.pdist``'s layout).

    Args:
        input: ``(N, M)`` floating array (float32/float64, as torch's CPU kernel).
        p: the norm's order, ``>= 0`` (``inf`` allowed).

    Shape:
        - Input: ``(N, M)``. Output: ``(N (N - 1) / 2)``.

    PyTorch: ``torch.nn.functional.pdist``; at ties of the inf-norm each tied entry gets
    the full gradient, as torch's kernel gives it. Lowered as one gather of the static
    pair indices.

    Example:
        >>> import jax.numpy as jnp
        >>> pdist(jnp.ones((4, 3))).shape
        (6,)
    """
    x = jnp.asarray(input)
    _check_pdist(x, p)
    rows, cols = np.triu_indices(x.shape[0], 1)
    diff = x[rows] - x[cols]
    return _vector_norm(diff, float(p), 1, False, False)


def normalize(
    input: ArrayLike, p: float | str | None = 2.0, dim: int | Sequence[int] | None = 1,
    eps: float = 1e-12, out: None = None
) -> jax.Array:
    """``x / max(||x||_p, eps)`` along ``dim``.

    Args:
        input: floating array of any shape.
        p: the norm's order, as ``torch.norm`` takes it: a number, None (2), ``'fro'``
            (2) or ``'nuc'`` (the nuclear norm over two dims).
        dim: the dimension to normalise (default 1), or several (None: all).
        eps: the smallest divisor (its clamp stops the gradient through the norm below it).
        out: not supported (JAX arrays are immutable): use the return value.

    Shape:
        - Input: ``(*)``. Output: ``(*)``, the same.

    PyTorch: ``torch.nn.functional.normalize``.

    Example:
        >>> import jax.numpy as jnp
        >>> normalize(jnp.array([[3.0, 4.0]]))
        Array([[0.6, 0.8]], dtype=float32)
    """
    if out is not None:
        raise TypeError("normalize(out=...) is not supported: JAX arrays are immutable; "
                        "use the returned array instead.")
    x = jnp.asarray(input)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor "
                           f"as input. Got {torch_dtype_name(x.dtype)}")
    v = _as_vector(x)
    norm = _norm_as_torch(v, p, dim)
    # torch's clamp_min: the gradient passes where the norm is at least eps.
    denom = jnp.where(norm < eps, jnp.asarray(eps, norm.dtype), norm)
    return (v / denom).reshape(x.shape)


def _norm_as_torch(v: jax.Array, p: object, dim: object) -> jax.Array:
    """``v.norm(p, dim, keepdim=True)`` as ``torch.norm`` reads its arguments: ``p`` a
    number, None (2), ``'fro'`` (2, over at most two dims) or ``'nuc'`` (over two dims);
    ``dim`` an int, a sequence of ints, or None or empty for every dim."""
    if isinstance(p, str):
        if p != "fro" or (dim is not None and not is_int(dim) and (
                not isinstance(dim, (tuple, list)) or len(dim) > 2)):
            return _matrix_norm(v, p, dim)
    elif p is not None:
        check_number(p, "linalg_vector_norm", "ord", 2)
    dims = [dim] if is_int(dim) else dim
    if dims is not None and not (isinstance(dims, (tuple, list)) and all(map(is_int, dims))):
        shown = "tuple" if isinstance(dims, (tuple, list)) else type(dims).__name__
        raise TypeError("linalg_vector_norm(): argument 'dim' (position 3) must be tuple of "
                        f"ints, not {shown}")
    axes = tuple(normalize_dim(int(d), v.ndim) for d in dims or range(v.ndim))
    for i, a in enumerate(axes):
        if a in axes[:i]:
            raise RuntimeError(f"dim {a} appears multiple times in the list of dims")
    return _vector_norm(v, 2.0 if isinstance(p, str) or p is None else float(p), axes, True)


def _matrix_norm(v: jax.Array, p: str, dim: object) -> jax.Array:
    """``torch.linalg.matrix_norm(v, p, dim, keepdim=True)`` for the orders
    ``torch.norm`` sends it: the nuclear norm (the sum of the singular values)."""
    dims = tuple(range(v.ndim)) if dim is None else [dim] if is_int(dim) else dim
    if not (isinstance(dims, (tuple, list)) and all(map(is_int, dims))):
        raise TypeError("linalg_matrix_norm() received an invalid combination of arguments - "
                        f"got (Tensor, str, {type_name(dim)}, bool, dtype=NoneType)")
    if p not in ("fro", "nuc"):
        raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
    if len(dims) != 2:
        raise RuntimeError("linalg.matrix_norm: dim must be a 2-tuple. Got "
                           + " ".join(map(str, dims)))
    axes = tuple(normalize_dim(int(d), v.ndim) for d in dims)
    if axes[0] == axes[1]:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got {axes}")
    m = jnp.moveaxis(v, axes, (-2, -1))
    norm = jnp.sum(jnp.linalg.svd(m, compute_uv=False), axis=-1)
    return jnp.expand_dims(norm, axes)
