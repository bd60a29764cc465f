"""The categorical distribution over ``{0, ..., K - 1}``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jnn import random
from jnn.distributions import constraints
from jnn.distributions.bernoulli import clamp_probs
from jnn.distributions.distribution import (
    Distribution,
    broadcast_shapes,
    lazy_property,
    to_array,
)

__all__ = ["Categorical"]


def _index_dtype() -> Any:
    # torch's int64; JAX's default integer (int32 unless jax_enable_x64 is set)
    return jax.dtypes.canonicalize_dtype(jnp.int64)


class Categorical(Distribution):
    r"""A categorical distribution over the classes ``0, ..., K - 1``.

    Args:
        probs: relative class probabilities, shape ``(*batch_shape, K)`` (non-negative,
            normalized along the last dimension).
        logits: unnormalized log-probabilities, shape ``(*batch_shape, K)``; give exactly
            one of ``probs`` and ``logits``.
        validate_args: whether to validate the arguments (default: on).

    ``probs`` reads normalized (sum one) and ``logits`` log-normalized (logsumexp zero), as
    in torch.  Samples, :attr:`mode` and :meth:`enumerate_support` are integer class
    indices.

    PyTorch: ``torch.distributions.Categorical``.  Indices are int64 in torch and JAX's
    default integer here: int32, unless ``jax_enable_x64`` is on.  Samples come from jnn's
    generator (Gumbel-max over the log-probabilities; a zero probability is never drawn).

    Example:
        >>> import jax.numpy as jnp, jnn
        >>> jnn.distributions.Categorical(logits=jnp.zeros((2, 5))).sample((3,)).shape
        (3, 2)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True
    _array_attrs = ("probs", "logits")
    _param_event_ndim = 1

    def __init__(self, probs: Any = None, logits: Any = None,
                 validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        name = "probs" if probs is not None else "logits"
        param = to_array(probs if probs is not None else logits)
        if param.ndim < 1:
            raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
        if probs is not None:
            param = param / param.sum(-1, keepdims=True)
        else:
            param = param - jax.nn.logsumexp(param, axis=-1, keepdims=True)
        self.__dict__[name] = param
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], validate_args=validate_args)

    @property
    def _param(self) -> jax.Array:
        d = self.__dict__
        return d["probs"] if "probs" in d else d["logits"]

    @property
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self) -> jax.Array:
        """Log-normalized log-probabilities (``log`` of the clamped ``probs``)."""
        return jnp.log(clamp_probs(self.probs))

    @lazy_property
    def probs(self) -> jax.Array:
        """Normalized class probabilities."""
        return jax.nn.softmax(self.logits, axis=-1)

    @property
    def param_shape(self) -> tuple[int, ...]:
        return self._param.shape

    @property
    def mean(self) -> jax.Array:
        return jnp.full(self._extended_shape(), jnp.nan, self._param.dtype)

    @property
    def mode(self) -> jax.Array:
        return jnp.argmax(self.probs, axis=-1).astype(_index_dtype())

    @property
    def variance(self) -> jax.Array:
        return jnp.full(self._extended_shape(), jnp.nan, self._param.dtype)

    def sample(self, sample_shape: Sequence[int] = ()) -> jax.Array:
        d = self.__dict__
        # from probs, log(0) = -inf keeps impossible classes impossible (torch.multinomial)
        log_p = jnp.log(d["probs"]) if "probs" in d else d["logits"]
        log_p = jax.lax.stop_gradient(log_p)
        shape = self._extended_shape(sample_shape)
        draws = jax.random.categorical(random.next_key(), log_p, axis=-1, shape=shape)
        return draws.astype(_index_dtype())

    def log_prob(self, value: Any) -> jax.Array:
        value = self._value(value).astype(_index_dtype())[..., None]
        logits = self.logits
        shape = broadcast_shapes(value.shape, logits.shape)
        value = jnp.broadcast_to(value, shape[:-1] + (1,))
        log_pmf = jnp.broadcast_to(logits, shape)
        return jnp.take_along_axis(log_pmf, value, axis=-1)[..., 0]

    def entropy(self) -> jax.Array:
        logits = jnp.maximum(self.logits, jnp.finfo(self.logits.dtype).min)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> jax.Array:
        values = jnp.arange(self._num_events, dtype=_index_dtype())
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = jnp.broadcast_to(values, (self._num_events,) + self._batch_shape)
        return values
