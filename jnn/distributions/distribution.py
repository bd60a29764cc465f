"""``Distribution``: the base class of jnn's distributions, and the helpers they share.

A distribution holds its parameters as ``jax.Array`` s and is a JAX pytree (the
parameters are its leaves), so it can be built inside ``jax.jit``/``jax.grad``/``jnn.compile``
and returned from them.  Sampling draws a key from jnn's global generator
(:func:`jnn.random.next_key`): ``jnn.manual_seed`` reproduces it, ``jnn.compile`` threads it
(each call of a compiled step draws fresh samples) and under a plain ``jax.jit`` the key
comes from :func:`jnn.random.use_key`.

Argument validation follows torch: on by default (``Distribution.set_default_validate_args``
turns it off), with torch's ``ValueError`` messages.  Checks of *values* need concrete
numbers, so they are skipped for traced arrays (inside ``jax.jit``, ``jax.grad``,
``jnn.compile``); checks of shapes always run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn.distributions import constraints
from jnn.nn.parameter import Parameter, as_array

__all__ = ["Distribution", "broadcast_all", "lazy_property"]

_Number = (int, float)


def _is_tracer(value: Any) -> bool:
    return isinstance(value, jax.core.Tracer)


def _is_array(value: Any) -> bool:
    return isinstance(value, (jax.Array, np.ndarray, np.generic, Parameter))


def _torch_size(shape: Sequence[int]) -> str:
    """A shape as torch prints it, so that torch's messages (and regexes) match."""
    return f"torch.Size({list(shape)})"


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The broadcast of ``shapes``; torch's ``RuntimeError`` wording when there is none."""
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for shape in shapes:
        for i in range(ndim - 1, ndim - len(shape) - 1, -1):  # torch checks from the right
            size = shape[i - ndim + len(shape)]
            if size != out[i] and size != 1 and out[i] != 1:
                raise RuntimeError(f"The size of tensor a ({out[i]}) must match the size of "
                                   f"tensor b ({size}) at non-singleton dimension {i}")
            out[i] = size if out[i] == 1 else out[i]
    return tuple(out)


def broadcast_all(*values: Any) -> tuple[jax.Array, ...]:
    """Arrays of one broadcast shape; numbers take the first array's dtype (else float32).

    PyTorch: ``torch.distributions.utils.broadcast_all``, same rules and error message.
    """
    if not all(_is_array(v) or isinstance(v, _Number) for v in values):
        raise ValueError("Input arguments must all be instances of Number, torch.Tensor or "
                         "objects implementing __torch_function__.")
    arrays = [as_array(v) if _is_array(v) else None for v in values]
    dtype = next((a.dtype for a in arrays if a is not None), jnp.float32)
    arrays = [jnp.asarray(v, dtype) if a is None else a for v, a in zip(values, arrays)]
    shape = broadcast_shapes(*(a.shape for a in arrays))
    return tuple(jnp.broadcast_to(a, shape) for a in arrays)


def expand_shape(shape: tuple[int, ...], target: Sequence[int]) -> tuple[int, ...]:
    """``target`` with ``-1`` resolved, checked as torch's ``Tensor.expand`` checks it."""
    target = tuple(int(t) for t in target)
    lead = len(target) - len(shape)
    out = list(target)
    for i in range(len(target) - 1, -1, -1):  # torch reports the rightmost mismatch
        old = shape[i - lead] if i >= lead else None
        if target[i] == -1 and old is not None:
            out[i] = old
        elif old is not None and old != target[i] and old != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({target[i]}) must match the existing size "
                f"({old}) at non-singleton dimension {i}.  Target sizes: {list(target)}.  "
                f"Tensor sizes: {list(shape)}")
    return tuple(out)


def to_array(value: Any) -> jax.Array:
    """``value`` (an array, a Parameter, a number) as a ``jax.Array``."""
    return as_array(value) if _is_array(value) else jnp.asarray(value)


def all_true(valid: jax.Array) -> bool:
    """Whether every entry holds; traced values cannot be read and count as valid."""
    return _is_tracer(valid) or bool(np.all(np.asarray(valid)))


class lazy_property:  # noqa: N801 - torch's name
    """A property computed at first read and then cached on the instance.

    A traced result is not cached: the distribution may outlive the trace (built outside
    ``jax.jit``, read inside), and a cached tracer would leak out of it.
    """

    def __init__(self, wrapped: Callable[[Any], jax.Array]) -> None:
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.name = wrapped.__name__

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self
        value = self.wrapped(instance)
        if not _is_tracer(value):
            instance.__dict__[self.name] = value
        return value


def _format_param(value: jax.Array) -> str:
    if value.ndim == 0 and not _is_tracer(value):
        return str(value.item())  # torch formats a 0-d tensor as its Python number
    if value.size == 1 and not _is_tracer(value):
        return str(np.asarray(value))
    return _torch_size(value.shape)


class Distribution:
    """Base class of probability distributions, like ``torch.distributions.Distribution``.

    Args:
        batch_shape: the shape over which parameters are batched.
        event_shape: the shape of a single sample (without batching).
        validate_args: whether to validate arguments (default: the class default, on).

    PyTorch: ``torch.distributions.Distribution``.  Shapes are tuples; value checks are
    skipped for traced arrays (see the module docstring).
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__
    # the names of the array attributes (pytree leaves), and how many trailing
    # dimensions of each parameter are not batch dimensions
    _array_attrs: tuple[str, ...] = ()
    _param_event_ndim = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        jax.tree_util.register_pytree_node(cls, _flatten, lambda aux, leaves: _unflatten(
            cls, aux, leaves))

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument validation on or off for every distribution made afterwards."""
        if value not in [True, False]:
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape: Sequence[int] = (), event_shape: Sequence[int] = (),
                 validate_args: bool | None = None) -> None:
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._check_parameters()

    def _check_parameters(self) -> None:
        for param, constraint in self.arg_constraints.items():
            if param not in self.__dict__:  # a lazily computed parameter: not checked
                continue
            value = self.__dict__[param]
            if not all_true(constraint.check(value)):
                raise ValueError(
                    f"Expected parameter {param} (Tensor of shape {tuple(value.shape)}) "
                    f"of distribution {self!r} to satisfy the constraint {constraint!r}, "
                    f"but found invalid values:\n{_format_value(value)}")

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:
        """The constraint each parameter must satisfy, by name."""
        raise NotImplementedError

    @property
    def support(self) -> constraints.Constraint:
        """The constraint the samples satisfy."""
        raise NotImplementedError

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The shape of a single sample (without batching)."""
        return self._event_shape

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Distribution:
        """A distribution whose parameters are broadcast to ``batch_shape``.

        Args:
            batch_shape: the new batch shape (``-1`` keeps a size).

        Returns:
            A new distribution of the same type; arguments are not validated again.
        """
        new = type(self).__new__(type(self)) if _instance is None else _instance
        batch_shape = tuple(batch_shape)
        for name in self._array_attrs:
            if name in self.__dict__:  # checked per parameter: torch's message shows its shape
                value = self.__dict__[name]
                trailing = value.shape[value.ndim - self._param_event_ndim:]
                shape = expand_shape(value.shape, batch_shape + trailing)
                new.__dict__[name] = jnp.broadcast_to(value, shape)
        batch_shape = expand_shape(self._batch_shape, batch_shape)
        for name, value in self.__dict__.items():
            if name not in self._array_attrs:
                new.__dict__[name] = value
        new._batch_shape = batch_shape
        return new

    @property
    def mean(self) -> jax.Array:
        """The mean of the distribution."""
        raise NotImplementedError

    @property
    def mode(self) -> jax.Array:
        """The mode of the distribution."""
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self) -> jax.Array:
        """The variance of the distribution."""
        raise NotImplementedError

    @property
    def stddev(self) -> jax.Array:
        """The standard deviation of the distribution."""
        return jnp.sqrt(self.variance)

    def sample(self, sample_shape: Sequence[int] = ()) -> jax.Array:
        """A sample of shape ``sample_shape + batch_shape + event_shape`` (no gradient)."""
        return jax.lax.stop_gradient(self.rsample(sample_shape))

    def rsample(self, sample_shape: Sequence[int] = ()) -> jax.Array:
        """A reparameterized sample: differentiable with respect to the parameters."""
        raise NotImplementedError

    def log_prob(self, value: jax.Array) -> jax.Array:
        """The log of the probability density/mass function at ``value``."""
        raise NotImplementedError

    def cdf(self, value: jax.Array) -> jax.Array:
        """The cumulative distribution function at ``value``."""
        raise NotImplementedError

    def icdf(self, value: jax.Array) -> jax.Array:
        """The inverse cumulative distribution function at ``value``."""
        raise NotImplementedError

    def enumerate_support(self, expand: bool = True) -> jax.Array:
        """All values of a discrete support, along dimension 0."""
        raise NotImplementedError

    def entropy(self) -> jax.Array:
        """The entropy, of shape ``batch_shape``."""
        raise NotImplementedError

    def perplexity(self) -> jax.Array:
        """``exp(entropy())``."""
        return jnp.exp(self.entropy())

    def _extended_shape(self, sample_shape: Sequence[int] = ()) -> tuple[int, ...]:
        return tuple(sample_shape) + self._batch_shape + self._event_shape

    def _validate_sample(self, value: Any) -> jax.Array:
        """``value`` as an array, checked against the shapes and the support (torch's)."""
        if not _is_array(value):
            raise ValueError("The value argument to log_prob must be a Tensor")
        value = as_array(value)
        event_shape = self._event_shape
        if value.shape[value.ndim - len(event_shape):] != event_shape:
            raise ValueError("The right-most size of value must match event_shape: "
                             f"{_torch_size(value.shape)} vs {_torch_size(event_shape)}.")
        expected = self._batch_shape + event_shape
        for i, j in zip(reversed(value.shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError("Value is not broadcastable with batch_shape+event_shape: "
                                 f"{_torch_size(value.shape)} vs {_torch_size(expected)}.")
        support = self.support
        if not all_true(support.check(value)):
            raise ValueError(
                f"Expected value argument (Tensor of shape {tuple(value.shape)}) to be within "
                f"the support ({support!r}) of the distribution {self!r}, but found invalid "
                f"values:\n{_format_value(value)}")
        return value

    def _value(self, value: Any) -> jax.Array:
        """``value`` as an array, validated when this distribution validates."""
        if self._validate_args:
            return self._validate_sample(value)
        return to_array(value)

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        args = ", ".join(f"{k}: {_format_param(self.__dict__[k])}" for k in names)
        return f"{type(self).__name__}({args})"


def _format_value(value: jax.Array) -> str:
    return str(value.item()) if value.ndim == 0 else str(np.asarray(value))


def _flatten(dist: Distribution) -> tuple[list, tuple]:
    d = dist.__dict__
    names = tuple(n for n in dist._array_attrs if n in d)
    static = tuple(sorted(((k, v) for k, v in d.items() if k not in names),
                          key=lambda kv: kv[0]))
    return [d[n] for n in names], (names, static)


def _unflatten(cls: type, aux: tuple, leaves: list) -> Distribution:
    names, static = aux
    new = cls.__new__(cls)
    new.__dict__.update(static)
    new.__dict__.update(zip(names, leaves))
    return new
