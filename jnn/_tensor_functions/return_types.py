"""Named tuples returned by reductions with indices, like ``torch.return_types``.

``values, indices = jnn.max(x, dim=1)`` and ``jnn.max(x, dim=1).values`` both work, and,
being NamedTuples, they are JAX pytrees (fine as ``jax.jit`` outputs).
"""

from __future__ import annotations

from typing import NamedTuple

import jax

__all__ = ["max", "min", "sort", "topk", "kthvalue", "median", "mode"]


class max(NamedTuple):  # noqa: N801 - torch.return_types.max
    values: jax.Array
    indices: jax.Array


class min(NamedTuple):  # noqa: N801
    values: jax.Array
    indices: jax.Array


class sort(NamedTuple):  # noqa: N801
    values: jax.Array
    indices: jax.Array


class topk(NamedTuple):  # noqa: N801
    values: jax.Array
    indices: jax.Array


class kthvalue(NamedTuple):  # noqa: N801
    values: jax.Array
    indices: jax.Array


class median(NamedTuple):  # noqa: N801
    values: jax.Array
    indices: jax.Array


class mode(NamedTuple):  # noqa: N801
    values: jax.Array
    indices: jax.Array
