"""The normal (Gaussian) distribution."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jnn import random
from jnn.distributions import constraints
from jnn.distributions.distribution import Distribution, broadcast_all, to_array

__all__ = ["Normal"]


class Normal(Distribution):
    r"""A normal distribution with mean ``loc`` and standard deviation ``scale``.

    Args:
        loc: the mean (a number or an array).
        scale: the standard deviation, positive (a number or an array).
        validate_args: whether to validate the arguments (default: on).

    ``loc`` and ``scale`` broadcast together; the batch shape is their common shape (``()``
    when both are numbers, which become float32 arrays).  :meth:`rsample` is
    ``loc + scale * eps`` with ``eps ~ N(0, 1)``, differentiable in ``loc`` and ``scale``
    (the reparameterization trick).

    PyTorch: ``torch.distributions.Normal``; samples come from jnn's generator, so they are
    distributed as torch's but are not the same numbers.

    Example:
        >>> import jnn
        >>> jnn.distributions.Normal(0.0, 1.0).sample((3,)).shape
        (3,)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True
    _array_attrs = ("loc", "scale")

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        numbers = isinstance(loc, (int, float)) and isinstance(scale, (int, float))
        super().__init__(() if numbers else self.loc.shape, validate_args=validate_args)

    @property
    def mean(self) -> jax.Array:
        return self.loc

    @property
    def mode(self) -> jax.Array:
        return self.loc

    @property
    def stddev(self) -> jax.Array:
        return self.scale

    @property
    def variance(self) -> jax.Array:
        return self.scale**2

    def rsample(self, sample_shape: Sequence[int] = ()) -> jax.Array:
        shape = self._extended_shape(sample_shape)
        eps = jax.random.normal(random.next_key(), shape, self.loc.dtype)
        return self.loc + eps * self.scale

    def log_prob(self, value: Any) -> jax.Array:
        value = self._value(value)
        var = self.scale**2
        return (-((value - self.loc) ** 2) / (2 * var) - jnp.log(self.scale)
                - math.log(math.sqrt(2 * math.pi)))

    def cdf(self, value: Any) -> jax.Array:
        value = self._value(value)
        return 0.5 * (1 + jax.lax.erf((value - self.loc) * (1 / self.scale) / math.sqrt(2)))

    def icdf(self, value: Any) -> jax.Array:
        value = to_array(value)  # torch does not validate icdf's argument
        return self.loc + self.scale * jax.lax.erf_inv(2 * value - 1) * math.sqrt(2)

    def entropy(self) -> jax.Array:
        return 0.5 + 0.5 * math.log(2 * math.pi) + jnp.log(self.scale)
