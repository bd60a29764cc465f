"""torch's joining and splitting functions: ``cat``, ``stack``, ``split``, ``chunk``, ...

All shape checks are static and use torch's exception types and wording, so they cost
nothing under ``jax.jit``.  ``split`` takes a chunk *size* (torch's meaning), not
``jnp.split``'s number of sections.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jnn._tensor_functions._common import (
    as_array,
    input_array,
    is_concrete,
    not_a_tensor,
    refuse_out,
    wrap_dim,
)

__all__ = [
    "cat", "concat", "concatenate", "stack", "hstack", "vstack", "split", "chunk",
    "tensor_split", "unbind",
]


def _check_list(tensors: Sequence[jax.Array], name: str) -> list[jax.Array]:
    if isinstance(tensors, jax.Array) or not isinstance(tensors, (list, tuple)):
        kind = "Tensor" if isinstance(tensors, jax.Array) else type(tensors).__name__
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of "
                        f"Tensors, not {kind}")
    for i, t in enumerate(tensors):
        if not_a_tensor(t):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    return [as_array(t) for t in tensors]


def cat(tensors: Sequence[jax.Array], dim: int = 0, *, axis: int | None = None,
        out: Any = None) -> jax.Array:
    """Join arrays along an existing dimension ``dim``.

    Args:
        tensors: arrays of equal shape except in ``dim`` (1-D empty arrays are skipped,
            torch's legacy rule); dtypes are promoted together.
        dim: the dimension to join along (``axis``: its NumPy name, as torch takes it).

    Raises:
        RuntimeError: on mismatched ranks or sizes, with torch's message.
        IndexError: ``dim`` out of range.

    PyTorch: ``torch.cat`` (also ``torch.concat``, ``torch.concatenate``).
    """
    refuse_out(out, "cat")
    if axis is not None:
        dim = axis
    arrays = _check_list(tensors, "cat")
    if not arrays:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    kept = [a for a in arrays if a.shape != (0,)] or arrays[:1]
    ref = kept[0]
    if ref.ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = wrap_dim(dim, ref.ndim)
    for i, a in enumerate(arrays):
        if a.shape == (0,) and ref.ndim != 1:
            continue
        if a.ndim != ref.ndim:
            raise RuntimeError("Tensors must have same number of dimensions: got "
                               f"{ref.ndim} and {a.ndim}")
        for axis in range(ref.ndim):
            if axis != d and a.shape[axis] != ref.shape[axis]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref.shape[axis]} but got size {a.shape[axis]} for tensor number {i} "
                    "in the list.")
    dtype = jnp.result_type(*arrays)
    return jnp.concatenate([a.astype(dtype) for a in kept], axis=d)


concat = cat
concatenate = cat


def stack(tensors: Sequence[jax.Array], dim: int = 0, *, out: Any = None) -> jax.Array:
    """Join equally shaped arrays along a new dimension ``dim``.

    PyTorch: ``torch.stack``; errors as torch's.
    """
    refuse_out(out, "stack")
    arrays = _check_list(tensors, "stack")
    if not arrays:
        raise RuntimeError("stack expects a non-empty TensorList")
    d = wrap_dim(dim, arrays[0].ndim + 1)
    for i, a in enumerate(arrays[1:], 1):
        if a.shape != arrays[0].shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(arrays[0].shape)} "
                f"at entry 0 and {list(a.shape)} at entry {i}")
    dtype = jnp.result_type(*arrays)
    return jnp.stack([a.astype(dtype) for a in arrays], axis=d)


def hstack(tensors: Sequence[jax.Array], *, out: Any = None) -> jax.Array:
    """Join column-wise: 1-D arrays end to end, others along dim 1.

    PyTorch: ``torch.hstack``.
    """
    refuse_out(out, "hstack")
    arrays = [jnp.atleast_1d(a) for a in _check_list(tensors, "hstack")]
    return cat(arrays, 0 if arrays and arrays[0].ndim == 1 else 1)


def vstack(tensors: Sequence[jax.Array], *, out: Any = None) -> jax.Array:
    """Join row-wise after making each array at least 2-D.  PyTorch: ``torch.vstack``."""
    refuse_out(out, "vstack")
    return cat([jnp.atleast_2d(a) for a in _check_list(tensors, "vstack")], 0)


def _pieces(x: jax.Array, dim: int, bounds: Sequence[tuple[int, int]]) -> tuple[jax.Array, ...]:
    return tuple(lax.slice_in_dim(x, start, stop, axis=dim) for start, stop in bounds)


def _by_sizes(x: jax.Array, dim: int, sizes: Sequence[int]) -> tuple[jax.Array, ...]:
    ends = np.cumsum([0, *sizes]).tolist()
    return _pieces(x, dim, list(zip(ends[:-1], ends[1:])))


def split(tensor: jax.Array, split_size_or_sections: int | Sequence[int], dim: int = 0
          ) -> tuple[jax.Array, ...]:
    """Split into chunks of ``split_size`` along ``dim`` (the last may be smaller), or into
    pieces of the listed sizes.

    Args:
        tensor: the array.
        split_size_or_sections: an int, the size of each chunk (torch's meaning: *not*
            ``jnp.split``'s number of sections), or a list of sizes summing to the
            dimension's size.
        dim: the dimension to split.

    PyTorch: ``torch.split``.
    """
    if not_a_tensor(tensor):  # torch.split calls ``tensor.split(...)``
        raise AttributeError(f"'{type(tensor).__name__}' object has no attribute 'split'")
    x = as_array(tensor)
    if x.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = wrap_dim(dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [builtins.int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n or builtins.any(s < 0 for s in sizes):
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's "
                f"size at dimension {d}), but got split_sizes={sizes}")
        return _by_sizes(x, d, sizes)
    size = builtins.int(split_size_or_sections)
    if size < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
    if size == 0:
        if n != 0:
            raise RuntimeError("split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        return (x,)
    count = builtins.max(math.ceil(n / size), 1)
    return _by_sizes(x, d, [size] * (count - 1) + [n - size * (count - 1)])


def chunk(input: jax.Array, chunks: int, dim: int = 0) -> tuple[jax.Array, ...]:
    """Split into at most ``chunks`` pieces of ``ceil(n / chunks)`` (possibly fewer pieces).

    PyTorch: ``torch.chunk`` (``chunk(arange(6), 4)`` gives 3 pieces of 2, as torch).
    """
    x = input_array(input, "chunk")
    if x.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = wrap_dim(dim, x.ndim)
    n = x.shape[d]
    if n == 0:  # torch: `chunks` empty pieces
        return tuple(x for _ in range(chunks))
    return split(x, math.ceil(n / chunks), d)


def tensor_split(input: jax.Array, indices_or_sections: Any = None, dim: int = 0, *,
                 sections: int | None = None, indices: Sequence[int] | None = None
                 ) -> tuple[jax.Array, ...]:
    """Split into ``sections`` near-equal pieces (the first ``n % sections`` one longer), or
    at the given indices (Python slice semantics: clamped, negatives from the end).

    PyTorch: ``torch.tensor_split`` (``numpy.array_split``'s rule); a 0-d integer array
    counts as sections, a 1-D one as indices (it must be concrete); ``sections=`` and
    ``indices=`` name the two forms, as torch's overloads do.
    """
    given = [v for v in (indices_or_sections, sections, indices) if v is not None]
    if len(given) != 1 or (sections is not None and not isinstance(sections, int)) or (
            indices is not None and not isinstance(indices, (list, tuple))):
        raise TypeError("tensor_split() received an invalid combination of arguments: give "
                        "one of (int sections), (tuple of ints indices), (Tensor "
                        "tensor_indices_or_sections)")
    indices_or_sections = given[0]
    x = input_array(input, "tensor_split")
    d = wrap_dim(dim, x.ndim)
    n = x.shape[d]
    spec = indices_or_sections
    if isinstance(spec, (jax.Array, np.ndarray)):
        if not is_concrete(spec):
            raise TypeError("tensor_split(): indices_or_sections sets the output shapes, so "
                            "it must be concrete, not traced")
        spec = spec.item() if spec.ndim == 0 else [builtins.int(i) for i in spec.tolist()]
    if isinstance(spec, (list, tuple)):
        cuts = [0, *(builtins.int(i) for i in spec), n]
        bounds = []
        for a, b in zip(cuts[:-1], cuts[1:]):
            start, stop, _ = slice(a, b).indices(n)
            bounds.append((start, builtins.max(start, stop)))
        return _pieces(x, d, bounds)
    sections = builtins.int(spec)
    if sections <= 0:
        raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
    small, extra = divmod(n, sections)
    return _by_sizes(x, d, [small + 1] * extra + [small] * (sections - extra))


def unbind(input: jax.Array, dim: int = 0) -> tuple[jax.Array, ...]:
    """The slices along ``dim``, that dimension removed.  PyTorch: ``torch.unbind``."""
    x = input_array(input, "unbind")
    if x.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = wrap_dim(dim, x.ndim)
    return tuple(lax.index_in_dim(x, i, axis=d, keepdims=False) for i in range(x.shape[d]))
