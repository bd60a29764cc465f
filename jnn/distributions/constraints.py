"""The constraints jnn's distributions check their parameters and values against.

Each constraint's ``check(value)`` returns a boolean array (one entry per event) and its
``repr`` is torch's (``GreaterThan(lower_bound=0.0)``), so torch's validation messages and
the regexes written for them match.

PyTorch: ``torch.distributions.constraints`` (the subset Categorical, Normal and Bernoulli
use).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = [
    "Constraint",
    "boolean",
    "greater_than",
    "independent",
    "integer_interval",
    "interval",
    "positive",
    "real",
    "real_vector",
    "simplex",
    "unit_interval",
]


class Constraint:
    """A region of valid values; ``check`` says which values lie in it.

    Attributes:
        is_discrete: whether the region is a discrete set.
        event_dim: how many rightmost dimensions form one event.
    """

    is_discrete = False
    event_dim = 0

    def check(self, value: jax.Array) -> jax.Array:
        """A boolean array of shape ``value.shape[:value.ndim - event_dim]``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__[1:] + "()"  # torch prints `_Real` as `Real()`


class _Real(Constraint):
    """The extended real line: every value but NaN."""

    def check(self, value: jax.Array) -> jax.Array:
        return value == value  # noqa: PLR0124 - False exactly for NaN


class _Boolean(Constraint):
    """The two values {0, 1}."""

    is_discrete = True

    def check(self, value: jax.Array) -> jax.Array:
        return (value == 0) | (value == 1)


class _GreaterThan(Constraint):
    """The half line ``(lower_bound, inf]``."""

    def __init__(self, lower_bound: float) -> None:
        self.lower_bound = lower_bound

    def check(self, value: jax.Array) -> jax.Array:
        return self.lower_bound < value

    def __repr__(self) -> str:
        return f"{type(self).__name__[1:]}(lower_bound={self.lower_bound})"


class _Interval(Constraint):
    """The closed interval ``[lower_bound, upper_bound]``."""

    def __init__(self, lower_bound: float, upper_bound: float) -> None:
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def check(self, value: jax.Array) -> jax.Array:
        return (self.lower_bound <= value) & (value <= self.upper_bound)

    def __repr__(self) -> str:
        return (f"{type(self).__name__[1:]}(lower_bound={self.lower_bound}, "
                f"upper_bound={self.upper_bound})")


class _IntegerInterval(_Interval):
    """The integers in ``[lower_bound, upper_bound]``."""

    is_discrete = True

    def check(self, value: jax.Array) -> jax.Array:
        return (value % 1 == 0) & super().check(value)


class _Simplex(Constraint):
    """Vectors (along the last dimension) of non-negative entries that sum to one."""

    event_dim = 1

    def check(self, value: jax.Array) -> jax.Array:
        # torch's tolerance: |sum - 1| < 1e-6
        return jnp.all(value >= 0, axis=-1) & (jnp.abs(value.sum(-1) - 1) < 1e-6)


class _IndependentConstraint(Constraint):
    """``base`` checked element-wise, an event valid when all its entries are."""

    def __init__(self, base_constraint: Constraint, reinterpreted_batch_ndims: int) -> None:
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims
        self.is_discrete = base_constraint.is_discrete
        self.event_dim = base_constraint.event_dim + reinterpreted_batch_ndims

    def check(self, value: Any) -> jax.Array:
        result = self.base_constraint.check(value)
        n = self.reinterpreted_batch_ndims
        if result.ndim < n:
            raise ValueError(f"Expected value.dim() >= {self.event_dim} but got {jnp.ndim(value)}")
        return jnp.all(result.reshape(result.shape[:result.ndim - n] + (-1,)), axis=-1)

    def __repr__(self) -> str:
        return (f"{type(self).__name__[1:]}({self.base_constraint!r}, "
                f"{self.reinterpreted_batch_ndims})")


real = _Real()
real_vector = _IndependentConstraint(real, 1)
boolean = _Boolean()
positive = _GreaterThan(0.0)
unit_interval = _Interval(0.0, 1.0)
simplex = _Simplex()
greater_than = _GreaterThan
interval = _Interval
integer_interval = _IntegerInterval
independent = _IndependentConstraint
