"""Embedding lookups: ``embedding`` and ``embedding_bag``, as gathers and segment sums.

Gradients are dense (JAX has no sparse gradient type): ``sparse=True`` is refused with an
explanation. What torch does by mutating the weight or by special backward kernels is
expressed functionally:

* ``padding_idx``: positions that look up the padding row give it no gradient.
* ``scale_grad_by_freq``: each position's gradient is divided by how often its index
  occurs in ``input``.
* ``max_norm``: the rows looked up are renormalised to norm at most ``max_norm``
  (``row * max_norm / (norm + 1e-7)``, torch's rule) and, as in torch, the gradient
  reaches the weight as if the lookup had read the renormalised rows directly. torch
  also rewrites those rows of ``weight`` in place; a function cannot, so the weight passed
  here is left unchanged (``nn.Embedding`` / ``nn.EmbeddingBag`` write it back, see there).

Index checks: the index dtype and shapes are checked statically. Index *values* out of
range raise torch's error when the indices are concrete (eager calls); under a JAX
transformation they cannot be inspected, and an out-of-range row reads as NaN.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jnn.nn.functional._loss_common import concrete, traced_check, traced_checks
from jnn.nn.functional._utils import torch_dtype_name, torch_size, torch_tensor_type_name

__all__ = ["embedding", "embedding_bag", "embedding_renorm"]

_SPARSE_MESSAGE = (
    "sparse=True is not supported: jnn computes dense gradients (JAX has no sparse gradient "
    "type), so the weight's gradient is a dense array of the weight's shape. Use "
    "sparse=False; under jax.jit XLA already scatters only the rows looked up.")


def _check_not_sparse(sparse: bool) -> None:
    if sparse:
        raise NotImplementedError(_SPARSE_MESSAGE)


def _check_indices(indices: jax.Array, op: str, position: int = 1) -> None:
    if indices.dtype not in (jnp.int32, jnp.int64):
        raise RuntimeError(
            f"Expected tensor for argument #{position} 'indices' to have one of the following "
            f"scalar types: Long, Int; but got {torch_tensor_type_name(indices.dtype)} instead "
            f"(while checking arguments for {op})")


def _check_index_values(indices: jax.Array, num: int, bag: bool) -> None:
    """torch's out-of-range error: from the numbers when concrete, else (an eager-dispatch
    trace, a checked compiled step) a traced check; unchecked in other traces."""
    values = concrete(indices, checked=True)
    if values is None:
        if traced_checks() and indices.size:
            flat = jnp.ravel(indices)
            bad = (flat < 0) | (flat >= num)
            first = jnp.argmax(bad)
            if bag:
                traced_check(~jnp.any(bad), "RuntimeError: Index {} of input takes value {} "
                             f"which is not in the valid range [0, {num})", first, flat[first])
            else:
                traced_check(~jnp.any(bad), "IndexError: index out of range in self")
        return
    values = values.reshape(-1)
    bad = np.flatnonzero((values < 0) | (values >= num))
    if bad.size == 0:
        return
    if bag:
        raise RuntimeError(f"Index {bad[0]} of input takes value {values[bad[0]]} which is not "
                           f"in the valid range [0, {num})")
    raise IndexError("index out of range in self")


def _check_renorm_values(indices: jax.Array, shape: tuple[int, ...]) -> None:
    """torch's ``embedding_renorm_`` (run first with ``max_norm``) selects each row: the
    smallest index outside ``[-num, num)`` is its IndexError (a negative one in range
    passes here and fails the lookup's check after)."""
    num = shape[0]
    text = f"out of range for tensor of size {list(shape)} at dimension 0"
    values = concrete(indices, checked=True)
    if values is None:
        if traced_checks() and indices.size:
            flat = jnp.ravel(indices)
            bad = (flat < -num) | (flat >= num)
            smallest = jnp.min(jnp.where(bad, flat, jnp.iinfo(flat.dtype).max))
            traced_check(~jnp.any(bad), f"IndexError: select(): index {{}} {text}", smallest)
        return
    values = values.reshape(-1)
    bad = values[(values < -num) | (values >= num)]
    if bad.size:
        raise IndexError(f"select(): index {bad.min()} {text}")


def _check_renorm_arguments(indices: jax.Array, weight: jax.Array) -> None:
    """``embedding_renorm_``'s argument checks: the weight (#1 'self') is 2-D, the
    indices (#2) are Long or Int."""
    if weight.ndim != 2:
        raise RuntimeError(
            f"Expected 2-dimensional tensor, but got {weight.ndim}-dimensional tensor for "
            "argument #1 'self' (while checking arguments for embedding_renorm_)")
    _check_indices(indices, "embedding_renorm_", position=2)


def _check_not_empty_table(indices: jax.Array, num: int) -> None:
    # torch's index_select refuses an empty table before looking at the index values
    if num == 0 and indices.size:
        raise RuntimeError("index_select(): self indexing axis dim should be positive")


def _wrap_padding_idx(padding_idx: int | None, num: int) -> int | None:
    """torch's F.embedding check and wrap of a negative ``padding_idx``."""
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise AssertionError("Padding_idx must be within num_embeddings")
    return padding_idx % num


@jax.custom_jvp
def _rows_with_grad(rows: jax.Array, value: jax.Array, grad_scale: jax.Array) -> jax.Array:
    """``value`` forward; backward, ``rows`` receives the cotangent times ``grad_scale``.

    One rule for torch's three embedding backward tweaks: renormalised rows whose gradient
    passes straight to the weight (``max_norm``), no gradient at ``padding_idx`` and
    per-index frequency scaling (both through ``grad_scale``).
    """
    return value


@_rows_with_grad.defjvp
def _rows_with_grad_jvp(primals, tangents):
    rows, value, grad_scale = primals
    d_rows = tangents[0]
    return value, d_rows * grad_scale.astype(d_rows.dtype)


def _row_norms(rows: jax.Array, norm_type: float) -> jax.Array:
    if norm_type == float("inf"):
        return jnp.max(jnp.abs(rows), axis=-1)
    if norm_type == 2:
        return jnp.sqrt(jnp.sum(jnp.square(rows), axis=-1))
    return jnp.sum(jnp.abs(rows) ** norm_type, axis=-1) ** (1.0 / norm_type)


def _renormalised(rows: jax.Array, max_norm: float, norm_type: float) -> jax.Array:
    """torch's ``embedding_renorm_`` rule applied to the rows (no gradient through it)."""
    rows = jax.lax.stop_gradient(rows)
    norms = _row_norms(rows, norm_type)
    scale = jnp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    return rows * scale[..., None].astype(rows.dtype)


def _lookup(weight: jax.Array, indices: jax.Array, padding_idx: int | None,
            max_norm: float | None, norm_type: float, scale_grad_by_freq: bool) -> jax.Array:
    """Gather the rows of ``indices``; out-of-range rows are NaN (never another row)."""
    num = weight.shape[0]
    safe = jnp.where(indices < 0, num, indices)  # take() would wrap negatives around
    # NaN marks a bad row where the weight can hold it (an integer table gets its fill)
    fill = jnp.nan if jnp.issubdtype(weight.dtype, jnp.inexact) else None
    rows = jnp.take(weight, safe, axis=0, mode="fill", fill_value=fill)
    if max_norm is None and padding_idx is None and not scale_grad_by_freq:
        return rows
    value = rows if max_norm is None else _renormalised(rows, max_norm, norm_type)
    grad_scale = jnp.ones(indices.shape, weight.dtype)
    if scale_grad_by_freq:
        counts = jnp.zeros((num,), weight.dtype).at[safe].add(1, mode="drop")
        grad_scale = 1 / jnp.take(counts, safe, mode="fill", fill_value=1)
    if padding_idx is not None:
        grad_scale = jnp.where(indices == padding_idx, 0, grad_scale)
    return _rows_with_grad(rows, value, grad_scale[..., None])


def embedding_renorm(weight: ArrayLike, input: ArrayLike, max_norm: float,
                     norm_type: float = 2.0) -> jax.Array:
    """The weight with the rows ``input`` refers to renormalised to norm <= ``max_norm``.

    The functional form of torch's in-place ``torch.embedding_renorm_``: rows whose
    ``norm_type``-norm exceeds ``max_norm`` are scaled by ``max_norm / (norm + 1e-7)``,
    the others are unchanged. Gradients pass straight through (torch renormalises under
    ``no_grad``).

    PyTorch: ``torch.embedding_renorm_`` (returns the new weight instead of mutating).

    Example:
        >>> import jax.numpy as jnp
        >>> embedding_renorm(jnp.full((3, 2), 3.0), jnp.array([0]), 1.0)[0].round(3)
        Array([0.707, 0.707], dtype=float32)
    """
    w, idx = jnp.asarray(weight), jnp.asarray(input).reshape(-1)
    num = w.shape[0]
    safe = jnp.where(idx < 0, num, idx)
    rows = jnp.take(w, safe, axis=0, mode="fill", fill_value=0)
    renormed = w.at[safe].set(_renormalised(rows, max_norm, norm_type), mode="drop")
    return w + jax.lax.stop_gradient(renormed - w)


def embedding(
    input: ArrayLike,
    weight: ArrayLike,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> jax.Array:
    """Look up rows of ``weight`` by integer index.

    Args:
        input: integer indices of any shape :math:`(*)`.
        weight: :math:`(\\text{num\\_embeddings}, \\text{embedding\\_dim})`.
        padding_idx: positions with this index (negative counts from the end) give the
            weight no gradient.
        max_norm: renormalise the looked-up rows to this norm at most (see the module
            docstring: ``weight`` itself is not modified).
        norm_type: the p of the p-norm for ``max_norm``. Default ``2``.
        scale_grad_by_freq: divide each gradient by its index's frequency in ``input``.
        sparse: must be ``False`` (dense gradients only).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*, H)`, ``H = embedding_dim``.

    PyTorch: ``torch.nn.functional.embedding``, except that ``max_norm`` does not modify
    ``weight`` in place and ``sparse=True`` raises.

    Example:
        >>> import jax.numpy as jnp
        >>> embedding(jnp.array([[0, 2], [1, 1]]), jnp.ones((3, 4))).shape
        (2, 2, 4)
    """
    _check_not_sparse(sparse)
    idx, w = jnp.asarray(input), jnp.asarray(weight)
    padding_idx = _wrap_padding_idx(padding_idx, w.shape[0] if w.ndim else 0)
    if max_norm is not None:  # torch runs embedding_renorm_ first, with its own checks
        _check_renorm_arguments(idx, w)
        _check_renorm_values(idx, w.shape)
        if idx.size and not jnp.issubdtype(w.dtype, jnp.inexact):  # (its rows' norm())
            raise RuntimeError("norm(): input dtype should be either floating point or "
                               f"complex. Got {torch_dtype_name(w.dtype)} instead.")
    _check_indices(idx, "embedding")
    if w.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    if max_norm is not None and w.shape[0] == 0:
        # every index failed the traced check above: nothing to look up
        return jnp.zeros((*idx.shape, w.shape[1]), w.dtype)
    _check_not_empty_table(idx, w.shape[0])
    _check_index_values(idx, w.shape[0], bag=False)
    return _lookup(w, idx, padding_idx, max_norm, norm_type, scale_grad_by_freq)


def _bag_layout(idx: jax.Array, offsets: jax.Array | None, per_sample_weights, include_last):
    """Flatten a 2-D ``input`` into 1-D + offsets, with torch's checks and wording."""
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a "
                "mini-batch of fixed length sequences. However, found offsets of type "
                f"{jax.Array if isinstance(offsets, jax.Array) else type(offsets)}")
        offsets = jnp.arange(0, idx.size, idx.shape[1], dtype=idx.dtype)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
        return idx.reshape(-1), offsets, per_sample_weights, False
    if idx.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        offsets = jnp.asarray(offsets)
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        return idx, offsets, per_sample_weights, include_last
    raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {idx.ndim}")


_DECREASING_OFFSETS = (
    "Expected i < index_size to be true, but got false.  (Could this error message be "
    "improved?  If so, please report an enhancement request to PyTorch.)")



def _first_offset_message(index_dtype) -> str:
    """torch's message as a format string of offsets[0], which it prints as a 0-d tensor:
    the value, then the type of the indices and offsets (promoted together) on a new line."""
    tensor_type = torch_tensor_type_name(index_dtype)
    return ("offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
            f"from position 0. However, got {{}}\n[ {tensor_type}{{{{}}}} ]")


_LAST_OFFSET = "offsets[-1] can not be greater than input's length {} but got offsets[-1] of {}"


def _check_offsets(offsets: jax.Array, length: int, mode: str, index_dtype) -> None:
    values = concrete(offsets)
    if values is None and traced_checks() and offsets.size:  # jnn.compile(checks=True)
        if mode != "max" and offsets.size > 1:
            traced_check(jnp.all(jnp.diff(offsets) >= 0), "RuntimeError: " + _DECREASING_OFFSETS)
        traced_check(offsets[0] == 0, "RuntimeError: " + _first_offset_message(index_dtype),
                     offsets[0])
        traced_check(offsets[-1] <= length, "RuntimeError: " + _LAST_OFFSET.format(length, "{}"),
                     offsets[-1])
    if values is None or values.size == 0:
        return
    first, last = int(values[0]), int(values[-1])
    if mode != "max" and np.any(np.diff(values) < 0):
        # torch's sum/mean kernel walks the bags in order; a decreasing offset fails there
        # (jnn's segment sums would silently give empty bags)
        raise RuntimeError(_DECREASING_OFFSETS)
    if first != 0:
        raise RuntimeError(_first_offset_message(index_dtype).format(first))
    if last > length:
        raise RuntimeError(_LAST_OFFSET.format(length, last))


def _bag_ids(length: int, offsets: jax.Array, include_last: bool) -> tuple[jax.Array, int]:
    """Each position's bag (``n_bags`` where it belongs to none) and the number of bags."""
    n_bags = offsets.shape[0] - 1 if include_last else offsets.shape[0]
    if n_bags <= 0:  # one offset with include_last_offset: no bag at all (torch: 0 rows)
        return jnp.zeros(length, offsets.dtype), 0
    starts = offsets[:n_bags]
    ends = offsets[1:] if include_last else jnp.append(offsets[1:], length)
    positions = jnp.arange(length, dtype=offsets.dtype)
    bag = jnp.searchsorted(starts, positions, side="right") - 1
    inside = (bag >= 0) & (positions < jnp.take(ends, bag, mode="clip"))
    return jnp.where(inside, bag, n_bags), max(n_bags, 0)


def _bag_max(rows: jax.Array, bag: jax.Array, n_bags: int) -> jax.Array:
    """Per-bag maximum whose gradient reaches the first maximal element only (torch's)."""
    length = rows.shape[0]
    peak = jax.ops.segment_max(jax.lax.stop_gradient(rows), bag, n_bags + 1)
    is_peak = rows == peak[bag]
    position = jnp.arange(length)[:, None]
    first = jax.ops.segment_min(jnp.where(is_peak, position, length), bag, n_bags + 1)
    chosen = position == first[bag]
    out = jax.ops.segment_sum(jnp.where(chosen, rows, 0), bag, n_bags + 1)[:n_bags]
    return out


def _check_bag_arguments(idx, w, mode, scale_grad_by_freq, per_sample_weights) -> None:
    if per_sample_weights is not None and per_sample_weights.shape != idx.shape:
        raise ValueError(
            f"embedding_bag: If per_sample_weights ({torch_size(per_sample_weights.shape)}) is "
            f"not None, then it must have the same shape as the input ({torch_size(idx.shape)})")
    if w.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {w.ndim}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            "embedding_bag: per_sample_weights was not None. per_sample_weights is only "
            f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
            "GitHub.")


def _bag_padding_idx(padding_idx: int | None, num: int) -> int | None:
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise RuntimeError(f"padding_idx must be within the number of embeddings, -{num} "
                           f"through {num - 1}, but got {padding_idx}")
    return padding_idx % num


def embedding_bag(
    input: ArrayLike,
    weight: ArrayLike,
    offsets: ArrayLike | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: ArrayLike | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> jax.Array:
    """Sums, means or maxima of bags of embeddings, without building the looked-up rows' bags.

    A 1-D ``input`` is cut into bags at ``offsets`` (bag ``i`` starts at ``offsets[i]``);
    a 2-D ``input`` is one bag per row. Positions equal to ``padding_idx`` are left out of
    their bag (means count only the others); empty bags give zeros. One gather and one
    segment reduction over all bags (no loop over bags).

    Args:
        input: integer indices, :math:`(L)` with ``offsets``, or :math:`(B, N)`.
        weight: :math:`(\\text{num\\_embeddings}, H)`.
        offsets: :math:`(B)` (or :math:`(B + 1)` with ``include_last_offset``) bag starts.
        max_norm, norm_type, scale_grad_by_freq: as :func:`embedding`.
        mode: ``'sum'``, ``'mean'`` or ``'max'``. Default ``'mean'``.
        sparse: must be ``False``.
        per_sample_weights: float weights of ``input``'s shape, ``mode='sum'`` only.
        include_last_offset: ``offsets`` ends with the end of the last bag.
        padding_idx: index left out of every bag (negative counts from the end).

    Shape:
        - Output: :math:`(B, H)`.

    PyTorch: ``torch.nn.functional.embedding_bag``, with :func:`embedding`'s differences.

    Example:
        >>> import jax.numpy as jnp
        >>> embedding_bag(jnp.array([1, 2, 4, 5]), jnp.ones((6, 3)), jnp.array([0, 2])).shape
        (2, 3)
    """
    idx, w = jnp.asarray(input), jnp.asarray(weight)
    psw = None if per_sample_weights is None else jnp.asarray(per_sample_weights)
    _check_bag_arguments(idx, w, mode, scale_grad_by_freq, psw)
    _check_not_sparse(sparse)
    idx, offs, psw, include_last = _bag_layout(idx, offsets, psw, include_last_offset)
    # torch's Python layout checks come first, then embedding_renorm_ (with max_norm) on
    # the flattened indices, then the kernel's dtype checks of indices and offsets
    if max_norm is not None:
        _check_indices(idx, "embedding_renorm_", position=2)
        _check_renorm_values(idx, w.shape)
    _check_indices(idx, "embedding_bag")
    _check_indices(offs, "embedding_bag")
    padding_idx = _bag_padding_idx(padding_idx, w.shape[0])
    _check_offsets(offs, idx.shape[0], mode, jnp.promote_types(idx.dtype, offs.dtype))
    _check_index_values(idx, w.shape[0], bag=True)
    rows = _lookup(w, idx, None, max_norm, norm_type, scale_grad_by_freq)
    bag, n_bags = _bag_ids(idx.shape[0], offs, include_last)
    if padding_idx is not None:
        bag = jnp.where(idx == padding_idx, n_bags, bag)
    if mode == "max":
        return _bag_max(rows, bag, n_bags)
    if psw is not None:
        rows = rows * psw[:, None].astype(rows.dtype)
    summed = jax.ops.segment_sum(rows, bag, n_bags + 1)[:n_bags]
    if mode == "sum":
        return summed
    counts = jax.ops.segment_sum(jnp.ones_like(bag, dtype=rows.dtype), bag, n_bags + 1)[:n_bags]
    return summed / jnp.maximum(counts, 1)[:, None]
