"""The Bernoulli distribution."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jnn import random
from jnn.distributions import constraints
from jnn.distributions.distribution import Distribution, broadcast_all, lazy_property

__all__ = ["Bernoulli"]


def clamp_probs(probs: jax.Array) -> jax.Array:
    """``probs`` clamped to ``[eps, 1 - eps]`` (torch's ``clamp_probs``)."""
    eps = jnp.finfo(probs.dtype).eps
    return jnp.clip(probs, eps, 1 - eps)


def bce_with_logits(logits: jax.Array, target: jax.Array) -> jax.Array:
    """Element-wise ``-(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x)))``, stably."""
    return jnp.maximum(logits, 0) - logits * target + jnp.log1p(jnp.exp(-jnp.abs(logits)))


class Bernoulli(Distribution):
    r"""A Bernoulli distribution: 1 with probability ``probs``, else 0.

    Args:
        probs: the probability of 1 (a number or an array in [0, 1]).
        logits: the log-odds of 1 (a number or an array); give exactly one of the two.
        validate_args: whether to validate the arguments (default: on).

    The parameter not given is computed on first read (``logits = log(p) - log1p(-p)`` with
    ``p`` clamped to ``[eps, 1 - eps]``, ``probs = sigmoid(logits)``).  Samples are 0.0/1.0
    in the parameter's floating dtype.

    PyTorch: ``torch.distributions.Bernoulli``; samples come from jnn's generator.

    Example:
        >>> import jnn
        >>> jnn.distributions.Bernoulli(0.3).sample((4,)).shape
        (4,)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _array_attrs = ("probs", "logits")

    def __init__(self, probs: Any = None, logits: Any = None,
                 validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        given = probs if probs is not None else logits
        (param,) = broadcast_all(given)
        self.__dict__["probs" if probs is not None else "logits"] = param
        scalar = isinstance(given, (int, float))
        super().__init__(() if scalar else param.shape, validate_args=validate_args)

    @property
    def _param(self) -> jax.Array:
        d = self.__dict__
        return d["probs"] if "probs" in d else d["logits"]

    @lazy_property
    def logits(self) -> jax.Array:
        """The log-odds of 1."""
        p = clamp_probs(self.probs)
        return jnp.log(p) - jnp.log1p(-p)

    @lazy_property
    def probs(self) -> jax.Array:
        """The probability of 1."""
        return jax.nn.sigmoid(self.logits)

    @property
    def param_shape(self) -> tuple[int, ...]:
        return self._param.shape

    @property
    def mean(self) -> jax.Array:
        return self.probs

    @property
    def mode(self) -> jax.Array:
        probs = self.probs
        mode = (probs >= 0.5).astype(probs.dtype)
        return jnp.where(probs == 0.5, jnp.nan, mode)  # torch: a tie has no mode

    @property
    def variance(self) -> jax.Array:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Sequence[int] = ()) -> jax.Array:
        shape = self._extended_shape(sample_shape)
        probs = jax.lax.stop_gradient(self.probs)
        draws = jax.random.bernoulli(random.next_key(), jnp.broadcast_to(probs, shape))
        return draws.astype(probs.dtype)

    def log_prob(self, value: Any) -> jax.Array:
        value = self._value(value)
        logits, value = broadcast_all(self.logits, value)
        return -bce_with_logits(logits, value)

    def entropy(self) -> jax.Array:
        return bce_with_logits(self.logits, self.probs)

    def enumerate_support(self, expand: bool = True) -> jax.Array:
        values = jnp.arange(2, dtype=self._param.dtype)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return jnp.broadcast_to(values, (2,) + self._batch_shape) if expand else values
