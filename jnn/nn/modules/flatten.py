"""``Flatten`` and ``Unflatten`` (torch.nn.modules.flatten)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jnn.nn.functional._utils import check_int, normalize_dim
from jnn.nn.modules.module import Module

__all__ = ["Flatten", "Unflatten"]


def _flatten(x: jax.Array, start_dim: int, end_dim: int) -> jax.Array:
    """``torch.flatten``: merge dims ``start_dim..end_dim`` into one (a 0-d input is 1-d)."""
    start_dim = check_int(start_dim, "flatten", "start_dim", 1)
    end_dim = check_int(end_dim, "flatten", "end_dim", 2)
    start, end = normalize_dim(start_dim, x.ndim), normalize_dim(end_dim, x.ndim)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if x.ndim == 0:
        return x.reshape(1)
    return jnp.reshape(x, (*x.shape[:start], math.prod(x.shape[start:end + 1]),
                           *x.shape[end + 1:]))


def _unflatten_shape(shape: tuple[int, ...], dim: int, sizes: list[int]) -> tuple[int, ...]:
    """torch's ``unflatten`` checks: one ``-1`` inferred, the product must match."""
    if not shape:
        raise RuntimeError("unflatten got an unexpected error:\nDimension specified as "
                           f"{dim} but tensor has no dimensions")
    axis = normalize_dim(dim, len(shape))
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if sizes.count(-1) > 1:
        raise RuntimeError("unflatten got an unexpected error:\nonly one dimension can be "
                           "inferred")
    known = math.prod(s for s in sizes if s != -1)
    inferred = [shape[axis] // known if known and s == -1 else s for s in sizes]
    if math.prod(inferred) != shape[axis]:
        raise RuntimeError(
            f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {dim} "
            f"({shape[axis]}) in the input tensor"
        )
    return (*shape[:axis], *inferred, *shape[axis + 1:])


class Flatten(Module):
    """Flattens a contiguous range of dims into one.

    Args:
        start_dim: first dim to flatten (default 1, keeping the batch dim).
        end_dim: last dim to flatten (default -1).

    Shape:
        - Input: :math:`(*, S_{start}, ..., S_{end}, *)`.
        - Output: :math:`(*, \\prod_{i=start}^{end} S_i, *)`.

    PyTorch: ``torch.nn.Flatten``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Flatten()(jnp.ones((32, 1, 5, 5))).shape
        (32, 25)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: jax.Array) -> jax.Array:
        if not hasattr(input, "ndim"):  # torch calls input.flatten(...)
            raise AttributeError(f"'{type(input).__name__}' object has no attribute 'flatten'")
        return _flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dim ``dim`` of the input into the shape ``unflattened_size``.

    Args:
        dim: the dim to unflatten.
        unflattened_size: its new shape (a tuple or list of ints; one may be -1).

    Shape:
        - Input: :math:`(*, S_{dim}, *)`. Output: :math:`(*, U_1, ..., U_n, *)` with
          :math:`\\prod U_i = S_{dim}`.

    PyTorch: ``torch.nn.Unflatten`` (named-tensor form not supported).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Unflatten(1, (2, 5, 5))(jnp.ones((2, 50))).shape
        (2, 2, 5, 5)
    """

    def __init__(self, dim: int, unflattened_size: tuple[int, ...] | list[int]) -> None:
        super().__init__()
        # torch checks ``dim`` only at forward, with its parser's TypeError
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(
                "unflattened_size must be a tuple of ints, but found type "
                f"{type(unflattened_size).__name__}"
            )
        for idx, elem in enumerate(unflattened_size):
            if not isinstance(elem, int):
                raise TypeError(
                    "unflattened_size must be tuple of ints, but found element of type "
                    f"{type(elem).__name__} at pos {idx}"
                )
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: jax.Array) -> jax.Array:
        dim = check_int(self.dim, "unflatten", "dim", 1)
        return jnp.reshape(input, _unflatten_shape(input.shape, dim,
                                                   list(self.unflattened_size)))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
