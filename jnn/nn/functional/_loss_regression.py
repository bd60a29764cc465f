"""Regression losses: ``mse_loss``, ``l1_loss``, ``smooth_l1_loss``, ``huber_loss``,
``poisson_nll_loss``, ``gaussian_nll_loss`` (public through ``jnn.nn.functional.loss``)."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jnn.nn.functional._dispatch import NeedsConcrete, in_dispatch_trace
from jnn.nn.functional._loss_common import (
    abs_with_zero_subgradient,
    check_reduction_is_valid,
    concrete,
    refuse_bool_subtraction,
    refuse_cast_into_input,
    refuse_integer,
    refuse_integer_mean,
    traced_check,
    traced_checks,
    warn_if_target_size_differs,
)
from jnn.nn.functional._utils import (
    broadcast_shapes,
    get_reduction,
    legacy_get_string,
    reduce_loss,
)

__all__ = [
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "poisson_nll_loss",
    "gaussian_nll_loss",
]

_abs = abs_with_zero_subgradient
_warn_if_target_size_differs = warn_if_target_size_differs


def _refuse_for_mse(x_dtype, y_dtype, reduction: str) -> None:
    refuse_integer(jnp.result_type(x_dtype, y_dtype), "mse_cpu")


def _refuse_for_l1(x_dtype, y_dtype, reduction: str) -> None:
    # torch computes l1 as (x - y).abs(): integers work except for the final mean().
    refuse_bool_subtraction(x_dtype, y_dtype)
    refuse_integer_mean(jnp.result_type(x_dtype, y_dtype), reduction)
def _weighted_reduce(
    loss: jax.Array, weight: ArrayLike, reduction: str, mean_over_weight: bool
) -> jax.Array:
    # torch 2.13's Python-side weighted path for mse/l1 (mean = sum(w l) / sum(w)) and
    # huber (mean = mean(w l)), including its own reduction error message.
    w = jnp.asarray(weight)  # (its size is checked by the callers, where torch checks it)
    weighted = loss * w
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return jnp.sum(weighted)
    if reduction == "mean":
        return jnp.sum(weighted) / jnp.sum(w) if mean_over_weight else jnp.mean(weighted)
    raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")


def _pointwise_loss(fn, refuse, input, target, size_average, reduce, reduction, weight,
                    weighted_mean):
    # One frame deeper than the public loss: stacklevel 4 reaches the user's line.
    x, y = jnp.asarray(input), jnp.asarray(target)
    _warn_if_target_size_differs(x.shape, y.shape, stacklevel=4)
    if size_average is not None or reduce is not None:
        reduction = legacy_get_string(size_average, reduce, stacklevel=4)
    broadcast_shapes(x.shape, y.shape)
    if weight is not None:
        # torch's Python-side weighted path: the weight's size, then ``x - y`` (any dtype
        # but bool: the float weight promotes the loss), the reduction last
        if jnp.shape(weight) != x.shape:
            raise ValueError("Weights and input must have the same size.")
        refuse_bool_subtraction(x.dtype, y.dtype)
        return _weighted_reduce(fn(x - y), weight, reduction, weighted_mean)
    reduction = get_reduction(reduction, stacklevel=4)  # torch's get_enum, before the kernel
    refuse(x.dtype, y.dtype, reduction)
    return reduce_loss(fn(x - y), reduction)


def mse_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: ArrayLike | None = None,
) -> jax.Array:
    """Mean squared error, ``(x - y)^2`` reduced.

    Args:
        input, target: broadcastable, normally the same shape (a UserWarning otherwise).
        size_average, reduce: deprecated; see ``reduction``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        weight: optional elementwise weight of ``input``'s shape; ``'mean'`` then divides
            by ``sum(weight)``.

    Shape:
        - Input: ``(*)``; Target: ``(*)``; Output: scalar, or ``(*)`` for ``'none'``.

    PyTorch: ``torch.nn.functional.mse_loss``.
    """
    return _pointwise_loss(jnp.square, _refuse_for_mse, input, target, size_average, reduce,
                           reduction, weight, True)


def l1_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: ArrayLike | None = None,
) -> jax.Array:
    """Mean absolute error, ``|x - y|`` reduced; arguments as in :func:`mse_loss`.

    PyTorch: ``torch.nn.functional.l1_loss``.
    """
    return _pointwise_loss(_abs, _refuse_for_l1, input, target, size_average, reduce,
                           reduction, weight, True)


def smooth_l1_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> jax.Array:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = x - y``).

    ``beta = 0`` is :func:`l1_loss`. Other arguments as in :func:`mse_loss`.

    PyTorch: ``torch.nn.functional.smooth_l1_loss``.
    """
    x, y = jnp.asarray(input), jnp.asarray(target)
    _warn_if_target_size_differs(x.shape, y.shape)
    reduction = get_reduction(reduction, size_average, reduce)
    broadcast_shapes(x.shape, y.shape)
    if beta == 0.0:  # torch switches to l1_loss (and avoids 0 / 0), with l1's dtype checks
        _refuse_for_l1(x.dtype, y.dtype, reduction)
        return reduce_loss(_abs(x - y), reduction)
    if beta < 0:  # torch's kernel checks beta before the dtypes
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    refuse_integer(jnp.result_type(x, y), "smooth_l1_cpu")
    diff = x - y
    size = jnp.abs(diff)
    loss = jnp.where(size < beta, 0.5 * diff * diff / beta, size - 0.5 * beta)
    return reduce_loss(loss, reduction)


def huber_loss(
    input: ArrayLike,
    target: ArrayLike,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: ArrayLike | None = None,
) -> jax.Array:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)`` (``d = x - y``).

    Args:
        delta: where to switch from quadratic to linear; must be positive.
        weight: optional elementwise weight of ``input``'s shape; unlike
            :func:`mse_loss`, ``'mean'`` is the plain mean of the weighted losses (torch).

    The loss has the input's dtype, as torch's kernel writes it (float16 for a float16
    input and a float32 target, where ``smooth_l1_loss`` gives float32).

    PyTorch: ``torch.nn.functional.huber_loss``.
    """
    x, y = jnp.asarray(input), jnp.asarray(target)
    _warn_if_target_size_differs(x.shape, y.shape)
    broadcast_shapes(x.shape, y.shape)
    if weight is None:
        reduction = get_reduction(reduction)
    elif jnp.shape(weight) != x.shape:  # torch checks the weight before delta
        raise ValueError("Weights and input must have the same size.")
    if delta <= 0:  # torch's kernel checks delta before the dtypes
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    refuse_cast_into_input(x.dtype, y.dtype)  # its output has the input's dtype
    refuse_integer(jnp.result_type(x, y), "huber_cpu")
    diff = x - y
    size = jnp.abs(diff)
    loss = jnp.where(size < delta, 0.5 * diff * diff, delta * (size - 0.5 * delta))
    # torch's kernel writes the loss in the input's dtype: float16 for (f16, f32), unlike
    # smooth_l1/mse/l1; its Python weighted path multiplies that by the weight after.
    loss = loss.astype(x.dtype)
    if weight is not None:
        return _weighted_reduce(loss, weight, reduction, mean_over_weight=False)
    return reduce_loss(loss, reduction)



# -------------------------------------------------------------- likelihood losses
def poisson_nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    """Negative log-likelihood of a Poisson target with rate ``input``.

    ``exp(x) - t x`` when ``log_input`` (``x`` is the log-rate), else ``x - t log(x + eps)``;
    ``full`` adds Stirling's ``t log t - t + 0.5 log(2 pi t)`` where ``t > 1``.

    Args:
        input: the (log-)rate, any shape; target: counts, broadcastable to it.
        log_input, full, eps: as above.
        size_average, reduce: deprecated; see ``reduction``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - Input: ``(*)``; Target: ``(*)``; Output: scalar, or ``(*)`` for ``'none'``.

    PyTorch: ``torch.nn.functional.poisson_nll_loss``.

    Example:
        >>> import jax.numpy as jnp
        >>> poisson_nll_loss(jnp.zeros(3), jnp.ones(3)).shape
        ()
    """
    x, t = jnp.asarray(input), jnp.asarray(target)
    if size_average is not None or reduce is not None:
        reduction = legacy_get_string(size_average, reduce)
    check_reduction_is_valid(reduction)
    broadcast_shapes(t.shape, x.shape)  # torch's target * input: the target is "a"
    if x.dtype == jnp.bool_:
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    if not jnp.issubdtype(x.dtype, jnp.inexact):  # torch promotes integer inputs to float
        x = x.astype(jnp.result_type(float))
    loss = jnp.exp(x) - t * x if log_input else x - t * jnp.log(x + eps)
    if full:
        # Stirling's term, zero (with zero gradient) where t <= 1; t_safe keeps log finite.
        big = t > 1
        t_safe = jnp.where(big, t, 2)
        stirling = t_safe * jnp.log(t_safe) - t_safe + 0.5 * jnp.log(2 * math.pi * t_safe)
        loss = loss + jnp.where(big, stirling, 0)
    return reduce_loss(loss, reduction)


def _gaussian_var(var, x_shape, dtype) -> jax.Array:
    """torch's accepted shapes for ``var``: input's, input's minus the last dim, or one
    mismatched dimension of size 1 (homoscedastic). Returns var broadcastable to input."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        return jnp.full(x_shape, var, dtype)
    values = concrete(var, checked=True)
    if values is not None and (values < 0).any():
        raise ValueError("var has negative entry/entries")
    v = jnp.asarray(var)
    if values is None and traced_checks():  # eager dispatch or jnn.compile(checks=True)
        traced_check(jnp.all(v >= 0), "ValueError: var has negative entry/entries")
    if v.shape == tuple(x_shape):
        return v
    if tuple(x_shape[:-1]) == v.shape:
        return v[..., None]
    if len(x_shape) == v.ndim and sum(b for a, b in zip(x_shape, v.shape) if a != b) == 1:
        return v
    if values is None and in_dispatch_trace():
        raise NeedsConcrete  # torch checks the values first: run plain, on the numbers
    raise ValueError("var is of incorrect size")


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _clamp_straight_through(v: jax.Array, eps: float) -> jax.Array:
    return jnp.maximum(v, eps)


@_clamp_straight_through.defjvp
def _clamp_straight_through_jvp(eps, primals, tangents):
    # torch clamps var in place under no_grad: the gradient passes as if unclamped.
    (v,), (dv,) = primals, tangents
    return _clamp_straight_through(v, eps), dv


def gaussian_nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    var: ArrayLike | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> jax.Array:
    """Negative log-likelihood of ``target`` under ``N(input, var)``.

    ``0.5 (log(max(var, eps)) + (x - t)^2 / max(var, eps))``, plus ``0.5 log(2 pi)`` when
    ``full``. The clamp is invisible to gradients, as in torch.

    Args:
        input: the means, ``(N, *)`` or ``(*)``; target: broadcastable to it.
        var: positive variances of ``input``'s shape, or with one dimension of size 1, or
            without the last dimension (homoscedastic); or a float. A negative entry is a
            ValueError when ``var`` is concrete (unchecked inside a trace).
        full: include the constant term.
        eps: lower clamp of ``var``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - Output: scalar, or input's shape for ``'none'``.

    PyTorch: ``torch.nn.functional.gaussian_nll_loss``.

    Example:
        >>> import jax.numpy as jnp
        >>> gaussian_nll_loss(jnp.zeros((2, 3)), jnp.ones((2, 3)), jnp.ones(2)).shape
        ()
    """
    x, t = jnp.asarray(input), jnp.asarray(target)
    v = _gaussian_var(var, x.shape, x.dtype)
    check_reduction_is_valid(reduction, "{} is not valid")
    if not jnp.issubdtype(jnp.result_type(x, t, v), jnp.inexact):
        raise RuntimeError("result type Float can't be cast to the desired output type long int")
    broadcast_shapes(x.shape, t.shape)
    v = _clamp_straight_through(v, eps)
    loss = 0.5 * (jnp.log(v) + (x - t) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(loss, reduction)
