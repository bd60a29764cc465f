"""torch's sorting and counting: ``sort``, ``topk``, ``kthvalue``, ``median``, ``unique``, ...

Sorting is stable and places NaN as the largest value (last ascending, first
descending), as torch does.  ``unique`` and ``bincount`` without ``minlength`` have
value-dependent output shapes and run eagerly only.
"""

from __future__ import annotations

import builtins
import functools
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jnn._tensor_functions import dtypes, return_types
from jnn._tensor_functions._common import (
    check_bools,
    check_reduced_nonempty,
    eager_only,
    input_array,
    refuse_out,
    wrap_dim,
)

__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "median", "mode", "unique",
           "bincount"]


def _argsort(x: jax.Array, axis: int, descending: builtins.bool) -> jax.Array:
    """Stable argsort; descending keeps equal entries in their original order.

    Descending = reverse of a stable ascending sort of the reversed array: equal entries
    then come out by increasing original index, and NaN (last ascending) comes first.
    """
    if not descending:
        return jnp.argsort(x, axis=axis, stable=True)
    n = x.shape[axis]
    rev = jnp.argsort(jnp.flip(x, axis), axis=axis, stable=True)
    return jnp.flip(n - 1 - rev, axis)


# Kernels are jitted (static dims): one XLA program per shape instead of one per op when
# called eagerly; inside a trace jit simply inlines.
@functools.partial(jax.jit, static_argnums=(1, 2))
def _sorted(x: jax.Array, dim: int, descending: builtins.bool) -> tuple[jax.Array, jax.Array]:
    idx = _argsort(x, dim, descending)
    return jnp.take_along_axis(x, idx, axis=dim), idx.astype(dtypes.default_int())


def sort(input: jax.Array, dim: int = -1, descending: builtins.bool = False, *,
         stable: builtins.bool = False, out: Any = None) -> return_types.sort:
    """Sorted values along ``dim`` and the indices that sort them.

    Returns:
        ``jnn.return_types.sort(values, indices)``.

    PyTorch: ``torch.sort``; always stable here (``stable`` is accepted).
    """
    refuse_out(out, "sort")
    check_bools("sort", descending=descending, stable=False if stable is None else stable)
    x = input_array(input, "sort")
    d = wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return return_types.sort(x, jnp.zeros((), dtypes.default_int()))
    return return_types.sort(*_sorted(x, d, descending))


def argsort(input: jax.Array, dim: int = -1, descending: builtins.bool = False, *,
            stable: builtins.bool = False) -> jax.Array:
    """The indices that sort ``input`` along ``dim``.  PyTorch: ``torch.argsort``."""
    return sort(input_array(input, "argsort"), dim, descending, stable=stable).indices


def msort(input: jax.Array, *, out: Any = None) -> jax.Array:
    """``input`` sorted along dim 0.  PyTorch: ``torch.msort``."""
    refuse_out(out, "msort")
    return sort(input_array(input, "msort"), 0).values


def topk(input: jax.Array, k: int, dim: int = -1, largest: builtins.bool = True,
         sorted: builtins.bool = True, *, out: Any = None) -> return_types.topk:
    """The ``k`` largest (or smallest) entries along ``dim`` and their indices.

    Returns:
        ``jnn.return_types.topk(values, indices)``, ordered best first (``sorted`` is
        accepted; the result is always sorted).

    PyTorch: ``torch.topk``; among equal entries the first ones are taken.
    """
    refuse_out(out, "topk")
    check_bools("topk", largest=largest, sorted=sorted)
    x = input_array(input, "topk")
    d = wrap_dim(dim, x.ndim)
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    if x.ndim == 0:
        return return_types.topk(x, jnp.zeros((), dtypes.default_int()))
    values, indices = _sorted(x, d, largest)
    return return_types.topk(lax.slice_in_dim(values, 0, k, axis=d),
                             lax.slice_in_dim(indices, 0, k, axis=d))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _select(x: jax.Array, d: int, position: int, keepdim: builtins.bool,
            nan_wins: builtins.bool) -> tuple[jax.Array, jax.Array]:
    values, indices = _sorted(x, d, False)
    v = lax.index_in_dim(values, position, axis=d, keepdims=keepdim)
    i = lax.index_in_dim(indices, position, axis=d, keepdims=keepdim)
    if nan_wins and jnp.issubdtype(x.dtype, jnp.inexact):  # median: NaN propagates
        has_nan = jnp.any(jnp.isnan(x), axis=d, keepdims=keepdim)
        first_nan = jnp.argmax(jnp.isnan(x), axis=d, keepdims=keepdim)
        v = jnp.where(has_nan, jnp.nan, v)
        i = jnp.where(has_nan, first_nan.astype(i.dtype), i)
    return v, i


def kthvalue(input: jax.Array, k: int, dim: int = -1, keepdim: builtins.bool = False, *,
             out: Any = None) -> return_types.kthvalue:
    """The ``k``-th smallest entry (1-based) along ``dim`` and its index.

    PyTorch: ``torch.kthvalue``.
    """
    refuse_out(out, "kthvalue")
    x = input_array(input, "kthvalue")
    d = wrap_dim(dim, x.ndim)
    check_reduced_nonempty("kthvalue", x.shape, (d,))
    n = x.shape[d] if x.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    if x.ndim == 0:
        return return_types.kthvalue(x, jnp.zeros((), dtypes.default_int()))
    return return_types.kthvalue(*_select(x, d, k - 1, keepdim, False))


def median(input: jax.Array, dim: int | None = None, keepdim: builtins.bool = False, *,
           out: Any = None) -> Any:
    """The lower median (``sorted[(n - 1) // 2]``, not the mean of the middle two).

    Returns:
        Without ``dim``, a 0-d array over all entries; with it,
        ``jnn.return_types.median(values, indices)``.  NaN propagates, as in torch.

    PyTorch: ``torch.median``.
    """
    refuse_out(out, "median")
    x = input_array(input, "median")
    if dim is None:
        flat = x.reshape(-1)
        if flat.size == 0:
            return jnp.asarray(jnp.nan, x.dtype)
        return _select(flat, 0, (flat.size - 1) // 2, False, True)[0]
    d = wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return return_types.median(x, jnp.zeros((), dtypes.default_int()))
    check_reduced_nonempty("median", x.shape, (d,))
    return return_types.median(*_select(x, d, (x.shape[d] - 1) // 2, keepdim, True))


def mode(input: jax.Array, dim: int = -1, keepdim: builtins.bool = False, *,
         out: Any = None) -> return_types.mode:
    """The most frequent value along ``dim`` (the smallest among ties) and its last index.

    Counts are found by comparing every pair of entries along ``dim``: memory grows with
    the square of that size.

    PyTorch: ``torch.mode``.
    """
    refuse_out(out, "mode")
    x = input_array(input, "mode")
    d = wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return return_types.mode(x, jnp.zeros((), dtypes.default_int()))
    check_reduced_nonempty("mode", x.shape, (d,))
    values, last = _mode_kernel(x, d, keepdim)
    return return_types.mode(values, last)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _mode_kernel(x: jax.Array, d: int, keepdim: builtins.bool) -> tuple[jax.Array, jax.Array]:
    y = jnp.moveaxis(x, d, -1)
    counts = jnp.sum(y[..., :, None] == y[..., None, :], axis=-1)
    best = counts == jnp.max(counts, axis=-1, keepdims=True)
    big = jnp.asarray(jnp.inf if jnp.issubdtype(y.dtype, jnp.inexact)
                      else jnp.iinfo(y.dtype).max if y.dtype != jnp.bool_ else True, y.dtype)
    values = jnp.min(jnp.where(best, y, big), axis=-1)
    n = y.shape[-1]
    hits = y == values[..., None]
    last = n - 1 - jnp.argmax(jnp.flip(hits, -1), axis=-1)
    if keepdim:
        values, last = jnp.expand_dims(values, d), jnp.expand_dims(last, d)
    return values, last.astype(dtypes.default_int())


def unique(input: jax.Array, sorted: builtins.bool = True,
           return_inverse: builtins.bool = False, return_counts: builtins.bool = False,
           dim: int | None = None) -> Any:
    """The distinct values (or slices along ``dim``), sorted.

    Returns:
        The values, plus the inverse indices (``input``'s shape without ``dim``) and the
        counts when asked, as a tuple.

    Eager only: the output's length depends on the values (``jnp.unique(x, size=k)``
    works under jit).

    PyTorch: ``torch.unique``; the output is always sorted.
    """
    check_bools("_unique2", sorted=sorted, return_inverse=return_inverse,
                return_counts=return_counts)
    eager_only("unique", input, hint="; jnp.unique(x, size=k) works under jit")
    x = input_array(input, "_unique2")
    axis = None if dim is None else wrap_dim(dim, x.ndim)
    # (torch keeps every NaN apart, sorted last: NaN != NaN)
    res = jnp.unique(x, return_inverse=True, return_counts=True, axis=axis,
                     equal_nan=axis is not None)
    values, inverse, counts = res[0], res[1], res[2]
    inverse = inverse.reshape(x.shape if axis is None else (x.shape[axis],))
    out = [values]
    if return_inverse:
        out.append(inverse.astype(dtypes.default_int()))
    if return_counts:
        out.append(counts.astype(dtypes.default_int()))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input: jax.Array, weights: jax.Array | None = None, minlength: int = 0
             ) -> jax.Array:
    """How often each value ``0, 1, ...`` occurs in ``input`` (summing ``weights`` if given).

    Args:
        input: 1-D non-negative integers.
        weights: same length; the result takes their dtype.
        minlength: at least this many bins.

    Eagerly the length is ``max(input.max() + 1, minlength)``, as torch.  Under
    ``jax.jit`` the length must be static: pass ``minlength``, which is then the exact
    length, and values ``>= minlength`` are dropped (no error: they cannot be checked).

    PyTorch: ``torch.bincount``; torch gives float64 for float weights with int64 input.
    """
    x = input_array(input, "bincount")
    if not jnp.issubdtype(x.dtype, jnp.integer):
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for "
                                  f"'{dtypes.torch_name(x.dtype)}'")
    if x.ndim != 1:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is not None and (jnp.ndim(weights) != 1 or jnp.shape(weights)[0] != x.shape[0]):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    traced = isinstance(x, jax.core.Tracer) or isinstance(weights, jax.core.Tracer)
    if traced:
        if minlength == 0:
            eager_only("bincount", x, hint=", or pass minlength= (the exact length under jit)")
        length = minlength
    else:
        if x.size and builtins.int(jnp.min(x)) < 0:
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        length = builtins.max(builtins.int(jnp.max(x)) + 1 if x.size else 0, minlength)
    counted = jnp.bincount(x, weights, length=length)
    return counted if weights is not None else counted.astype(dtypes.default_int())
