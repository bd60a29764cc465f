"""torch's indexing functions: ``where``, ``gather``, ``scatter``, ``index_select``, ...

Functional versions: ``scatter`` and ``masked_fill`` return new arrays (JAX arrays are
immutable).  Out-of-range indices raise torch's errors when the index values are known
(eager calls, as torch checks them on the CPU); inside ``jax.jit``/``jnn.compile`` they
are not checked (that would need a host sync) and JAX clamps or drops them.
``masked_select``, ``nonzero`` and one-argument ``where`` have value-dependent output
shapes, so they run eagerly only.
"""

from __future__ import annotations

import builtins
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn._tensor_functions import dtypes
from jnn._tensor_functions._common import (
    as_array,
    broadcast_shape,
    check_bools,
    eager_only,
    first_out_of_range,
    fit_scalar,
    input_array,
    int_result,
    is_concrete,
    refuse_out,
    wrap_dim,
)
from jnn._tensor_functions.creation import scalar_dtype

__all__ = [
    "where", "gather", "scatter", "scatter_add", "index_select", "masked_fill", "masked_select",
    "cumsum", "cumprod", "nonzero", "argwhere",
]


def _operand(value: Any) -> jax.Array:
    """An array for ``value``; Python numbers stay weakly typed (torch's scalar rule)."""
    if isinstance(value, (jax.Array, np.ndarray)):
        return jnp.asarray(value)
    return jnp.asarray(value, scalar_dtype(value)) if isinstance(value, builtins.bool) else value


def where(condition: jax.Array, input: Any = None, other: Any = None, *,
          out: Any = None) -> Any:
    """``input`` where ``condition`` holds, else ``other`` (broadcast, dtypes promoted).

    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)`` (eager only).

    PyTorch: ``torch.where``; two Python numbers give torch's dtypes (int64/int32 for
    ints, the default float for floats).
    """
    refuse_out(out, "where")
    cond = as_array(condition)
    if input is None and other is None:
        return nonzero(cond, as_tuple=True)
    if cond.dtype != jnp.bool_:
        raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {dtypes.torch_name(cond.dtype)}")
    a, b = _int_scalar_fits(_operand(input), other), _int_scalar_fits(_operand(other), input)
    broadcast_shape(broadcast_shape(cond.shape, jnp.shape(a)), jnp.shape(b))  # torch's order
    if not isinstance(a, jax.Array) and not isinstance(b, jax.Array):
        dtype = jnp.promote_types(scalar_dtype(input), scalar_dtype(other))
        a, b = jnp.asarray(a, dtype), jnp.asarray(b, dtype)
    return jnp.where(cond, a, b)


def _int_scalar_fits(value: Any, array: Any) -> Any:
    """torch's where converts a Python int beside an integer array to its dtype, checked
    (300 beside uint8 raises; floats promote instead, and floating arrays are not checked)."""
    if (isinstance(value, builtins.int) and not isinstance(value, builtins.bool)
            and isinstance(array, (jax.Array, np.ndarray)) and array.dtype.kind in "iu"):
        return fit_scalar(value, array.dtype)
    return value


def _check_index(name: str, index: jax.Array) -> None:
    # torch accepts int32 and int64 indices (int16 and uint8 are refused as floats are)
    if index.dtype not in (jnp.int32, jnp.int64):
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")


def _check_index_values(index: Any, dim: int, size: int) -> None:
    """torch's eager bounds check of gather/scatter (negative indices are not wrapped)."""
    bad = first_out_of_range(index, size)
    if bad is not None:
        raise RuntimeError(f"index {bad} is out of bounds for dimension {dim} with size {size}")


def gather(input: jax.Array, dim: int, index: jax.Array, *, sparse_grad: builtins.bool = False,
           out: Any = None) -> jax.Array:
    """``out[i][j] = input[index[i][j]][j]`` for ``dim=0`` (and alike for other dims).

    ``index`` has ``input``'s rank and may be smaller in the other dims.

    PyTorch: ``torch.gather``; out-of-range indices raise as in torch when ``index`` is
    concrete, and are clamped unchecked inside a trace.
    """
    refuse_out(out, "gather")
    x, idx = input_array(input, "gather"), as_array(index)
    _check_index("gather", idx)
    d = wrap_dim(dim, x.ndim)
    if idx.ndim != x.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for axis in range(x.ndim):
        if axis != d and idx.shape[axis] > x.shape[axis]:
            raise RuntimeError(
                f"Size does not match at dimension {axis} expected index {list(idx.shape)} to "
                f"be no larger than self {list(x.shape)} apart from dimension {d}")
    _check_index_values(index, d, x.shape[d] if x.ndim else 1)
    if x.ndim == 0:
        return x
    part = x[tuple(slice(None) if a == d else slice(0, s) for a, s in enumerate(idx.shape))]
    return jnp.take_along_axis(part, idx, axis=d, mode="clip")


def _scatter_at(x: jax.Array, d: int, idx: jax.Array) -> Any:
    coords = list(jnp.indices(idx.shape, sparse=True))
    coords[d] = idx
    return x.at[tuple(coords)]


def scatter(input: jax.Array, dim: int, index: jax.Array, src: Any = None, *,
            value: Any = None, reduce: str | None = None, out: Any = None) -> jax.Array:
    """A copy of ``input`` with ``src`` written at ``index`` along ``dim``.

    ``out[index[i][j]][j] = src[i][j]`` for ``dim=0``.

    Args:
        input: the array to copy.
        dim: the dimension ``index`` indexes.
        index: integer array of ``input``'s rank.
        src: an array (same dtype as ``input``, at least ``index``'s shape) or a number.
        value: a number (torch's keyword form).
        reduce: ``'add'`` or ``'multiply'`` to combine instead of overwrite.

    PyTorch: ``torch.scatter``, out of place; duplicate indices keep one of the writes.
    Out-of-range indices raise as in torch when ``index`` is concrete, and are dropped
    unchecked inside a trace.
    """
    refuse_out(out, "scatter")
    x, idx = input_array(input, "scatter"), as_array(index)
    _check_index("scatter", idx)
    d = wrap_dim(dim, x.ndim)
    if idx.ndim != x.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    src = value if src is None else src
    tensor_src = isinstance(src, (jax.Array, np.ndarray))
    if tensor_src and src.dtype != x.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    _check_scatter_shapes(x, d, idx, src if tensor_src else None)
    _check_index_values(index, d, x.shape[d] if x.ndim else 1)
    if idx.size == 0:  # torch skips its shape checks and writes nothing
        return x
    if tensor_src and jnp.ndim(src) > 0:
        src = src[tuple(slice(0, s) for s in idx.shape)]
    src = jnp.asarray(src, x.dtype)
    at = _scatter_at(x, d, idx)
    if reduce is None:
        return at.set(src)
    if reduce == "add":
        return at.add(src)
    if reduce == "multiply":
        return at.multiply(src)
    raise RuntimeError("reduce argument must be either add or multiply.")


def _size(a: Any, k: int) -> int:
    """torch's ``ensure_nonempty_size``: a 0-d array has size 1 in every dim."""
    return a.shape[k] if a.ndim else 1


def _check_scatter_shapes(x: jax.Array, d: int, idx: jax.Array, src: Any) -> None:
    """torch's ``scatter_shape_check``: ``index`` no larger than ``input`` outside ``dim``,
    and no larger than a tensor ``src`` in every dim (a 0-d array counts as size 1)."""
    if idx.size == 0:
        return
    dims = range(builtins.max(x.ndim, 1))
    wrong = builtins.any(k != d and _size(idx, k) > _size(x, k) for k in dims)
    if src is not None:
        for k in dims:
            if wrong:
                break
            if src.ndim and k >= src.ndim:  # torch reads src.size(k): its IndexError
                wrap_dim(k, src.ndim)
            wrong = _size(idx, k) > _size(src, k)
        if builtins.max(src.ndim, 1) != builtins.max(idx.ndim, 1):
            raise RuntimeError("Index tensor must have the same number of dimensions as src "
                               "tensor")
    if wrong:
        tail = f" and to be no larger size than src {list(src.shape)}" if src is not None else ""
        raise RuntimeError(f"Expected index {list(idx.shape)} to be no larger than self "
                           f"{list(x.shape)} apart from dimension {d}{tail}")


def scatter_add(input: jax.Array, dim: int, index: jax.Array, src: jax.Array) -> jax.Array:
    """:func:`scatter` that adds (duplicates accumulate).  PyTorch: ``torch.scatter_add``."""
    input_array(input, "scatter_add")
    input_array(src, "scatter_add", "src", 4)  # torch has no number form of scatter_add
    return scatter(input, dim, index, src, reduce="add")


def index_select(input: jax.Array, dim: int, index: jax.Array, *, out: Any = None) -> jax.Array:
    """The entries of ``input`` at ``index`` (a vector) along ``dim``.

    PyTorch: ``torch.index_select``; out-of-range indices raise torch's errors when
    ``index`` is concrete, and are clamped unchecked inside a trace.
    """
    refuse_out(out, "index_select")
    x, idx = input_array(input, "index_select"), as_array(index)
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if idx.dtype not in (jnp.int32, jnp.int64):
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    d = wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        if idx.size != 1:
            raise RuntimeError("index_select(): Index to scalar can have only 1 value, got "
                               f"{idx.size} value(s)")
        _check_select_values(index, x, 0)
        return x
    _check_select_values(index, x, d)
    return jnp.take(x, idx.reshape(-1), axis=d, mode="clip")


def _check_select_values(index: Any, x: jax.Array, d: int) -> None:
    """torch's eager bounds checks of index_select, whose wording depends on the path
    torch's CPU kernel takes: an empty input, ``dim=1`` of a matrix or more, the rest."""
    if jnp.size(index) == 0:
        return
    size = x.shape[d] if x.ndim else 1
    if x.ndim > 1 and x.size == 0 and size == 0:
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    bad = first_out_of_range(index, size)
    if bad is None:
        return
    if x.ndim > 1 and (x.size == 0 or d == 1):
        raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} axis_dim={size}")
    raise IndexError("index out of range in self")


def masked_fill(input: jax.Array, mask: jax.Array, value: Any) -> jax.Array:
    """``input`` with ``value`` where ``mask`` is True (broadcast); ``input``'s dtype kept.

    PyTorch: ``torch.masked_fill``; ``value`` is a number or a 0-d array.
    """
    x, m = input_array(input, "masked_fill"), as_array(mask)
    if m.dtype != jnp.bool_:
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{jnp.dtype(m.dtype).name.replace('float32', 'float')}")
    if isinstance(value, (jax.Array, np.ndarray)) and value.ndim > 0:
        raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    broadcast_shape(m.shape, x.shape)
    if isinstance(value, (jax.Array, np.ndarray)):
        if is_concrete(value):  # torch reads a 0-d value with .item(), then checks it
            fit_scalar(value.item(), x.dtype)
    else:
        value = fit_scalar(value, x.dtype)
    return jnp.where(m, jnp.asarray(value).astype(x.dtype), x)


def masked_select(input: jax.Array, mask: jax.Array, *, out: Any = None) -> jax.Array:
    """The entries of ``input`` where ``mask`` (broadcast) is True, as a 1-D array.

    Eager only: the output's length depends on the mask's values, so under ``jax.jit``
    it raises; use ``jnn.where(mask, input, 0)`` or ``masked_fill`` there instead.

    PyTorch: ``torch.masked_select``.
    """
    refuse_out(out, "masked_select")
    eager_only("masked_select", input, mask, hint=" or use jnn.where(mask, input, 0)")
    x, m = input_array(input, "masked_select"), as_array(mask)
    broadcast_shape(m.shape, x.shape)
    x, m = jnp.broadcast_arrays(x, m)
    if m.dtype != jnp.bool_:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got "
                           f"{dtypes.torch_name(m.dtype)}")
    return x[m]


def _scan(name: str, fn: Any, input: jax.Array, dim: int, dtype: Any, out: Any) -> jax.Array:
    refuse_out(out, name)
    x = input_array(input, name)
    d = wrap_dim(dim, x.ndim)
    dt = int_result(x.dtype) if dtype is None else dtypes.resolve_dtype(dtype, name)
    return fn(x.reshape(1) if x.ndim == 0 else x, axis=d, dtype=dt).reshape(x.shape)


def cumsum(input: jax.Array, dim: int, *, dtype: Any = None, out: Any = None) -> jax.Array:
    """Running sums along ``dim``; ints and bools sum as torch's int64 (int32 with x64 off).

    PyTorch: ``torch.cumsum``.
    """
    return _scan("cumsum", jnp.cumsum, input, dim, dtype, out)


def cumprod(input: jax.Array, dim: int, *, dtype: Any = None, out: Any = None) -> jax.Array:
    """Running products along ``dim``; ints and bools as :func:`cumsum`.

    PyTorch: ``torch.cumprod``.
    """
    return _scan("cumprod", jnp.cumprod, input, dim, dtype, out)


def nonzero(input: jax.Array, *, out: Any = None, as_tuple: builtins.bool = False) -> Any:
    """The indices of the non-zero entries: an ``(n, ndim)`` array, or one array per dim.

    Eager only (the count depends on the values); under ``jax.jit`` use
    ``jnp.nonzero(x, size=k, fill_value=...)`` with a static bound instead.

    PyTorch: ``torch.nonzero``; indices are int64 (int32 with x64 off).
    """
    refuse_out(out, "nonzero")
    check_bools("nonzero", as_tuple=as_tuple)
    eager_only("nonzero", input, hint="; jnp.nonzero(x, size=k) works under jit")
    x = input_array(input, "nonzero")
    dt = dtypes.default_int()
    if as_tuple:
        return tuple(i.astype(dt) for i in jnp.nonzero(x.reshape(1) if x.ndim == 0 else x))
    if x.ndim == 0:
        return jnp.zeros((builtins.int(x != 0), 0), dt)
    return jnp.stack(jnp.nonzero(x), axis=1).astype(dt)


def argwhere(input: jax.Array) -> jax.Array:
    """``nonzero(input)``: eager only.  PyTorch: ``torch.argwhere``."""
    return nonzero(input_array(input, "argwhere"))
