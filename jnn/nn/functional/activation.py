"""Activation functions: ``jnn.nn.functional.relu`` and friends.

Every function is elementwise (shape in = shape out) unless it says otherwise. The
``inplace`` arguments exist for signature compatibility with torch and are ignored:
JAX arrays are immutable, so the result is always a new array.

Where torch picks a particular subgradient at a kink (``relu`` at 0, ``hardtanh`` at its
bounds, ``hardswish`` at +-3), the formula below is written so that ``jax.grad`` returns
the same value torch's backward does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from jnn import random as jnn_random
from jnn.nn.functional._dispatch import warn
from jnn.nn.functional._misc import gumbel_softmax, one_hot
from jnn.nn.functional._utils import (
    _argument_error,
    check_bool,
    check_int,
    check_number,
    normalize_dim,
    torch_dtype_name,
)

__all__ = [
    "threshold",
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "sigmoid",
    "tanh",
    "hardtanh",
    "hardsigmoid",
    "hardswish",
    "softplus",
    "softsign",
    "logsigmoid",
    "softmax",
    "log_softmax",
    "softmin",
    "glu",
    "hardshrink",
    "softshrink",
    "tanhshrink",
    "prelu",
    "rrelu",
    # no family of their own in torch.nn.functional; they live in _misc.py
    "one_hot",
    "gumbel_softmax",
]

# SELU's constants (Klambauer et al., 2017), the values torch uses.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _negative_part(x: jax.Array) -> jax.Array:
    # x where x <= 0, else 0: feeds exp() only values it cannot overflow on, so that the
    # unused branch of a where() cannot back-propagate 0 * inf = NaN (torch's elu grad is
    # finite for large x). where, not minimum: minimum splits the gradient at x = 0.
    return jnp.where(x > 0, jnp.zeros_like(x), x)


def _float_only(x: jax.Array, kernel: str) -> None:
    # torch's CPU kernels for these activations exist for floating dtypes only; an integer
    # or bool input raises its NotImplementedError (static: reads the dtype only).
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        raise NotImplementedError(
            f'"{kernel}" not implemented for \'{torch_dtype_name(x.dtype)}\'')


def _as_float(x: jax.Array) -> jax.Array:
    # torch promotes integer and bool inputs of float-only ops (sigmoid) to float32.
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return x
    return x.astype(jnp.result_type(float))


def relu(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """Rectified linear unit, ``max(0, x)``; the gradient at 0 is 0 as in torch.

    Args:
        input: any shape.
        inplace: accepted for torch compatibility and ignored (JAX arrays are immutable).

    PyTorch: ``torch.nn.functional.relu``.
    """
    x = jnp.asarray(input)
    if x.dtype == jnp.bool_:  # torch's clamp_min kernel refuses bool, even when empty
        raise RuntimeError("Boolean inputs not supported for relu")
    # x <= 0 rather than x > 0 so that NaN falls through to x: torch's relu(nan) is nan.
    return jnp.where(x <= 0, jnp.zeros_like(x), x)


def relu6(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """``min(max(0, x), 6)``; the gradient is 0 at 0 and at 6, as in torch.

    PyTorch: ``torch.nn.functional.relu6`` (``inplace`` is ignored).
    """
    return hardtanh(input, 0.0, 6.0)


def leaky_relu(input: ArrayLike, negative_slope: float = 0.01, inplace: bool = False) -> jax.Array:
    """``x`` if ``x > 0`` else ``negative_slope * x``.

    PyTorch: ``torch.nn.functional.leaky_relu`` (``inplace`` is ignored).
    """
    check_number(negative_slope, "leaky_relu_" if inplace else "leaky_relu", "negative_slope", 2)
    x = jnp.asarray(input)
    _float_only(x, "leaky_relu_cpu")
    return jnp.where(x > 0, x, x * negative_slope)


def elu(input: ArrayLike, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``.

    PyTorch: ``torch.nn.functional.elu`` (``inplace`` is ignored).
    """
    check_number(alpha, "elu_" if inplace else "elu", "alpha", 2)
    x = jnp.asarray(input)
    _float_only(x, "elu_cpu")
    return jnp.where(x > 0, x, alpha * jnp.expm1(_negative_part(x)))


def selu(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """Scaled ELU with the fixed constants ``alpha = 1.6733``, ``scale = 1.0507``.

    PyTorch: ``torch.nn.functional.selu`` (``inplace`` is ignored).
    """
    x = jnp.asarray(input)
    _float_only(x, "elu_cpu")
    return _SELU_SCALE * jnp.where(x > 0, x, _SELU_ALPHA * jnp.expm1(_negative_part(x)))


def celu(input: ArrayLike, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    PyTorch: ``torch.nn.functional.celu`` (``inplace`` is ignored).
    """
    # torch checks alpha before anything else, and wraps Python's exception name in the text
    check_number(alpha, "celu_" if inplace else "celu", "alpha", 2)
    if isinstance(alpha, (int, float)) and alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    x = jnp.asarray(input)
    _float_only(x, "elu_cpu")
    return jnp.where(x > 0, x, alpha * jnp.expm1(_negative_part(x) / alpha))


def gelu(input: ArrayLike, approximate: str = "none") -> jax.Array:
    """Gaussian error linear unit, ``x * Phi(x)``.

    Args:
        input: any shape.
        approximate: ``'none'`` for the exact erf form, ``'tanh'`` for
            ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.

    PyTorch: ``torch.nn.functional.gelu``.
    """
    if not isinstance(approximate, str):
        raise _argument_error("gelu", "approximate", None, "str", approximate)
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    x = jnp.asarray(input)
    _float_only(x, "GeluKernelImpl")
    return jax.nn.gelu(x, approximate=approximate == "tanh")


def silu(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``.

    PyTorch: ``torch.nn.functional.silu`` (``inplace`` is ignored).
    """
    x = jnp.asarray(input)
    _float_only(x, "silu_cpu")
    return x * jax.nn.sigmoid(x)


def mish(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """``x * tanh(softplus(x))``.

    PyTorch: ``torch.nn.functional.mish`` (``inplace`` is ignored).
    """
    x = jnp.asarray(input)
    _float_only(x, "mish_cpu")
    return x * jnp.tanh(jax.nn.softplus(x))


def sigmoid(input: ArrayLike) -> jax.Array:
    """``1 / (1 + exp(-x))``; an integer input is promoted to float, as in torch.

    PyTorch: ``torch.nn.functional.sigmoid``.
    """
    return jax.nn.sigmoid(_as_float(jnp.asarray(input)))


def tanh(input: ArrayLike) -> jax.Array:
    """Hyperbolic tangent.

    PyTorch: ``torch.nn.functional.tanh``.
    """
    return jnp.tanh(jnp.asarray(input))


def hardtanh(
    input: ArrayLike, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> jax.Array:
    """Clamp to ``[min_val, max_val]``; the gradient is 0 at both bounds, as in torch.

    PyTorch: ``torch.nn.functional.hardtanh`` (``inplace`` is ignored).
    """
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    x = jnp.asarray(input)
    if x.dtype == jnp.bool_:  # relu6 too: torch's clamp kernel refuses bool
        raise RuntimeError("Bool inputs not supported for hardtanh")
    lower = jnp.asarray(min_val, x.dtype)
    upper = jnp.asarray(max_val, x.dtype)
    # Constant branches at (and beyond) the bounds give torch's zero gradient there.
    return jnp.where(x <= lower, lower, jnp.where(x >= upper, upper, x))


def hardsigmoid(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """``0`` below -3, ``1`` above 3, ``x / 6 + 1 / 2`` between (gradient 0 at +-3).

    PyTorch: ``torch.nn.functional.hardsigmoid`` (``inplace`` is ignored).
    """
    x = jnp.asarray(input)
    _float_only(x, "hardsigmoid_cpu")
    zero, one = jnp.zeros((), x.dtype), jnp.ones((), x.dtype)
    # Test the saturated sides so that NaN falls through to the linear part (torch: nan).
    return jnp.where(x <= -3, zero, jnp.where(x >= 3, one, x / 6 + 0.5))


def hardswish(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """``x * relu6(x + 3) / 6``.

    torch's backward gives gradient 0 at ``x = -3`` and 1 at ``x = 3``; the branch
    boundaries below reproduce that.

    PyTorch: ``torch.nn.functional.hardswish`` (``inplace`` is ignored).
    """
    x = jnp.asarray(input)
    _float_only(x, "hardswish_cpu")
    middle = x * (x + 3) / 6
    return jnp.where(x <= -3, jnp.zeros_like(x), jnp.where(x < 3, middle, x))


def softplus(input: ArrayLike, beta: float = 1.0, threshold: float = 20.0) -> jax.Array:
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``.

    PyTorch: ``torch.nn.functional.softplus``.
    """
    check_number(beta, "softplus", "beta", None)
    check_number(threshold, "softplus", "threshold", None)
    x = jnp.asarray(input)
    _float_only(x, "softplus_cpu")
    scaled = x * beta
    linear = scaled > threshold
    # Feed the unused branch a harmless value so exp() cannot overflow into a NaN gradient.
    safe = jnp.where(linear, jnp.zeros_like(scaled), scaled)
    return jnp.where(linear, x, jnp.log1p(jnp.exp(safe)) / beta)


def softsign(input: ArrayLike) -> jax.Array:
    """``x / (1 + |x|)``.

    PyTorch: ``torch.nn.functional.softsign``.
    """
    x = jnp.asarray(input)
    return x / (1 + jnp.abs(x))


def logsigmoid(input: ArrayLike) -> jax.Array:
    """``log(sigmoid(x))``, computed stably as ``-softplus(-x)``.

    PyTorch: ``torch.nn.functional.logsigmoid``.
    """
    x = jnp.asarray(input)
    _float_only(x, "log_sigmoid_cpu")
    return jax.nn.log_sigmoid(x)


def _get_softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    # torch's legacy rule for a missing ``dim``, with the same deprecation warning.
    warn(
        f"Implicit dimension choice for {name} has been deprecated. "
        "Change the call to include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_family(fn, name: str, input: ArrayLike, dim, stacklevel, dtype) -> jax.Array:
    x = jnp.asarray(input)
    if dim is None:
        # +1: this helper sits one frame deeper than torch's softmax.
        dim = _get_softmax_dim(name, x.ndim, stacklevel + 1)
    axis = normalize_dim(dim, x.ndim)
    if dtype is not None:
        x = x.astype(dtype)
    # torch's kernel name (in its NotImplementedError) depends on the reduced dim.
    kernel = "log_softmax" if name == "log_softmax" else "softmax"
    last = axis == max(x.ndim, 1) - 1
    _float_only(x, f"{kernel}_lastdim_kernel_impl" if last else f"{kernel}_kernel_impl")
    if x.ndim == 0:  # torch treats a 0-d input as a single-element vector
        return fn(x.reshape(1), axis=0).reshape(())
    return fn(x, axis=axis)


def softmax(
    input: ArrayLike,
    dim: int | None = None,
    _stacklevel: int = 3,
    dtype: DTypeLike | None = None,
) -> jax.Array:
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim``.

    Args:
        input: any shape.
        dim: the dimension to normalise. ``None`` is deprecated and picks, as torch does,
            0 for 0-, 1- and 3-d inputs and 1 otherwise (with a UserWarning).
        _stacklevel: the warning's stack level, as in torch.
        dtype: if given, ``input`` is cast to it first.

    PyTorch: ``torch.nn.functional.softmax``.
    """
    return _softmax_family(jax.nn.softmax, "softmax", input, dim, _stacklevel, dtype)


def log_softmax(
    input: ArrayLike,
    dim: int | None = None,
    _stacklevel: int = 3,
    dtype: DTypeLike | None = None,
) -> jax.Array:
    """``x_i - log(sum_j exp(x_j))`` along ``dim``; arguments as in :func:`softmax`.

    PyTorch: ``torch.nn.functional.log_softmax``.
    """
    return _softmax_family(jax.nn.log_softmax, "log_softmax", input, dim, _stacklevel, dtype)


def softmin(
    input: ArrayLike,
    dim: int | None = None,
    _stacklevel: int = 3,
    dtype: DTypeLike | None = None,
) -> jax.Array:
    """``softmax(-x)`` along ``dim``; arguments as in :func:`softmax`.

    PyTorch: ``torch.nn.functional.softmin``.
    """

    def negated_softmax(x, axis):
        return jax.nn.softmax(-x, axis=axis)

    return _softmax_family(negated_softmax, "softmin", input, dim, _stacklevel, dtype)


def glu(input: ArrayLike, dim: int = -1) -> jax.Array:
    """Gated linear unit: split ``input`` in halves ``a, b`` along ``dim``; ``a * sigmoid(b)``.

    Shape:
        - Input: ``(*_1, N, *_2)`` with ``N`` even at ``dim``.
        - Output: ``(*_1, N / 2, *_2)``.

    PyTorch: ``torch.nn.functional.glu``.
    """
    dim = check_int(dim, "glu", "dim", 2)
    x = jnp.asarray(input)
    if x.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    axis = normalize_dim(dim, x.ndim)
    if x.shape[axis] % 2:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {axis} is size {x.shape[axis]}"
        )
    _float_only(x, "glu_cpu")
    a, b = jnp.split(x, 2, axis=axis)
    return a * jax.nn.sigmoid(b)


def threshold(
    input: ArrayLike, threshold: float, value: float, inplace: bool = False
) -> jax.Array:
    """``x`` where ``x > threshold``, else ``value``.

    Args:
        input: any shape; integer inputs stay integer (``value`` is cast, as in torch).
        threshold: the value to threshold at.
        value: the value that replaces everything at or below ``threshold``.
        inplace: accepted for torch compatibility and ignored (JAX arrays are immutable).

    PyTorch: ``torch.nn.functional.threshold``. NaN stays NaN and the gradient is 0 where
    ``x <= threshold``, as in torch.
    """
    fn = "threshold_" if inplace else "threshold"
    check_number(threshold, fn, "threshold", 2)
    check_number(value, fn, "value", 3)
    x = jnp.asarray(input)
    if x.dtype == jnp.bool_:
        raise NotImplementedError("\"threshold_cpu\" not implemented for 'Bool'")
    # Test the replaced side so that NaN falls through to x, as torch's kernel does.
    return jnp.where(x <= threshold, jnp.asarray(value).astype(x.dtype), x)


def hardshrink(input: ArrayLike, lambd: float = 0.5) -> jax.Array:
    """``x`` where ``|x| > lambd``, else 0 (the gradient is 0 on ``[-lambd, lambd]``).

    PyTorch: ``torch.nn.functional.hardshrink``.
    """
    check_number(lambd, "hardshrink", "lambd", 2)
    x = jnp.asarray(input)
    _float_only(x, "hardshrink_cpu")
    inside = (x >= -lambd) & (x <= lambd)
    return jnp.where(inside, jnp.zeros_like(x), x)


def _check_lambd(x: jax.Array, lambd: float) -> None:
    # torch's softshrink_check: lambd in [0, max of the dtype] (NaN fails too).
    top = float(jnp.finfo(x.dtype).max)
    if not 0 <= lambd <= top:
        raise RuntimeError(
            f"lambda must be in range [0, {top:g}] for input dtype "
            f"{torch_dtype_name(x.dtype)}, but found {lambd:g}"
        )


def softshrink(input: ArrayLike, lambd: float = 0.5) -> jax.Array:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, 0 between.

    Args:
        input: any floating shape.
        lambd: the shrinkage, in ``[0, finfo(dtype).max]`` (torch's RuntimeError otherwise).

    PyTorch: ``torch.nn.functional.softshrink``.
    """
    check_number(lambd, "softshrink", "lambd", 2)
    x = jnp.asarray(input)
    _float_only(x, "softshrink_check")
    _check_lambd(x, lambd)
    # |x| <= lambd is false for NaN, which then flows through the shrink: nan, as torch.
    shrunk = x - jnp.sign(x) * jnp.asarray(lambd, x.dtype)
    return jnp.where(jnp.abs(x) <= lambd, jnp.zeros_like(x), shrunk)


def tanhshrink(input: ArrayLike) -> jax.Array:
    """``x - tanh(x)``; integer inputs are promoted to float, as in torch.

    PyTorch: ``torch.nn.functional.tanhshrink``.
    """
    x = _as_float(jnp.asarray(input))
    return x - jnp.tanh(x)


def _check_prelu(x: jax.Array, w: jax.Array) -> None:
    if w.ndim > 1:
        raise RuntimeError(
            f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {w.ndim}")
    if x.dtype != w.dtype:
        raise RuntimeError(
            "prelu: Type promoting not supported. Got "
            f"{torch_dtype_name(x.dtype)} and {torch_dtype_name(w.dtype)}")
    if x.ndim == 0 and w.size != 1:
        raise RuntimeError("Not allow zero-dim input tensor.")
    _float_only(x, "prelu_cpu")
    channels = x.shape[1] if x.ndim >= 2 else 1
    if w.size not in (1, channels):
        raise RuntimeError(
            "Mismatch of parameter numbers and input channel size. Found parameter numbers "
            f"= {w.size} and channel size = {channels}.")


def prelu(input: ArrayLike, weight: ArrayLike) -> jax.Array:
    """``x`` where ``x > 0``, else ``weight * x``, with one learnable slope per channel.

    Args:
        input: ``(*)``; the channel dimension is dim 1 when ``input`` has 2 or more dims.
        weight: a scalar or ``(1,)`` (one shared slope) or ``(C,)`` (one per channel of
            dim 1, broadcast over every later dimension, which plain broadcasting would
            not do for inputs of rank > 2).

    Shape:
        - Input: ``(N, C, *)``, or any ``(*)`` with a single shared slope.
        - Output: the same shape as the input.

    PyTorch: ``torch.nn.functional.prelu``; dtypes must match (torch refuses promotion).

    Example:
        >>> import jax.numpy as jnp
        >>> prelu(jnp.full((2, 3, 4), -1.0), jnp.array([0.1, 0.2, 0.3]))[0, :, 0]
        Array([-0.1, -0.2, -0.3], dtype=float32)
    """
    x, w = jnp.asarray(input), jnp.asarray(weight)
    _check_prelu(x, w)
    if w.size == 1 or x.ndim < 2:
        slope = w.reshape(())
    else:  # (C,) -> (C, 1, ..., 1): aligned with dim 1 of x
        slope = w.reshape((w.size,) + (1,) * (x.ndim - 2))
    # x > 0 rather than x <= 0: at 0 torch's backward uses the slope, and NaN stays NaN.
    return jnp.where(x > 0, x, slope * x)


def rrelu(
    input: ArrayLike,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Randomized leaky ReLU: slope ``a ~ U(lower, upper)`` per element where ``x <= 0``.

    In training every non-positive element draws its own slope; in eval the slope is the
    fixed ``(lower + upper) / 2`` (also in training when ``lower == upper``, drawing no key).

    Args:
        input: any floating shape.
        lower, upper: the slope's range (``lower <= upper``).
        training: draw random slopes (``True``) or use the mean slope.
        inplace: accepted for torch compatibility and ignored (JAX arrays are immutable).
        key: PRNG key for the slopes; default draws one from jnn's global generator (only
            in training).

    PyTorch: ``torch.nn.functional.rrelu``; the same distribution, but JAX's random stream,
    so the slopes differ from torch's for the same seed.
    """
    fn = "rrelu_" if inplace else "rrelu"
    check_number(lower, fn, "lower", 2)
    check_number(upper, fn, "upper", 3)
    check_bool(training, fn, "training", 4)
    x = jnp.asarray(input)
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not training or lower == upper:  # a fixed slope: no randomness to draw
        _float_only(x, "leaky_relu_cpu" if not training else "rrelu_with_noise_out_cpu")
        return jnp.where(x > 0, x, x * ((lower + upper) / 2))
    _float_only(x, "rrelu_with_noise_out_cpu")
    if key is None:
        key = jnn_random.next_key()
    slope = jax.random.uniform(key, x.shape, x.dtype, lower, upper)
    return jnp.where(x > 0, x, x * slope)
