"""Activation functions: ``jnn.nn.functional.relu`` and friends.

Every function is elementwise (shape in = shape out) unless it says otherwise. The
``inplace`` arguments exist for signature compatibility with torch and are ignored:
JAX arrays are immutable, so the result is always a new array.

Where torch picks a particular subgradient at a kink (``relu`` at 0, ``hardtanh`` at its
bounds, ``hardswish`` at +-3), the formula below is written so that ``jax.grad`` returns
the same value torch's backward does.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from jnn.nn.functional._utils import normalize_dim

__all__ = [
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
]

# SELU's constants (Klambauer et al., 2017), the values torch uses.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _negative_part(x: jax.Array) -> jax.Array:
    # x where x <= 0, else 0: feeds exp() only values it cannot overflow on, so that the
    # unused branch of a where() cannot back-propagate 0 * inf = NaN (torch's elu grad is
    # finite for large x). where, not minimum: minimum splits the gradient at x = 0.
    return jnp.where(x > 0, jnp.zeros_like(x), x)


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
    x = jnp.asarray(input)
    return jnp.where(x > 0, x, x * negative_slope)


def elu(input: ArrayLike, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``.

    PyTorch: ``torch.nn.functional.elu`` (``inplace`` is ignored).
    """
    x = jnp.asarray(input)
    return jnp.where(x > 0, x, alpha * jnp.expm1(_negative_part(x)))


def selu(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """Scaled ELU with the fixed constants ``alpha = 1.6733``, ``scale = 1.0507``.

    PyTorch: ``torch.nn.functional.selu`` (``inplace`` is ignored).
    """
    x = jnp.asarray(input)
    return _SELU_SCALE * jnp.where(x > 0, x, _SELU_ALPHA * jnp.expm1(_negative_part(x)))


def celu(input: ArrayLike, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    PyTorch: ``torch.nn.functional.celu`` (``inplace`` is ignored).
    """
    x = jnp.asarray(input)
    return jnp.where(x > 0, x, alpha * jnp.expm1(_negative_part(x) / alpha))


def gelu(input: ArrayLike, approximate: str = "none") -> jax.Array:
    """Gaussian error linear unit, ``x * Phi(x)``.

    Args:
        input: any shape.
        approximate: ``'none'`` for the exact erf form, ``'tanh'`` for
            ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.

    PyTorch: ``torch.nn.functional.gelu``.
    """
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return jax.nn.gelu(jnp.asarray(input), approximate=approximate == "tanh")


def silu(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``.

    PyTorch: ``torch.nn.functional.silu`` (``inplace`` is ignored).
    """
    x = jnp.asarray(input)
    return x * jax.nn.sigmoid(x)


def mish(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """``x * tanh(softplus(x))``.

    PyTorch: ``torch.nn.functional.mish`` (``inplace`` is ignored).
    """
    x = jnp.asarray(input)
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
    lower = jnp.asarray(min_val, x.dtype)
    upper = jnp.asarray(max_val, x.dtype)
    # Constant branches at (and beyond) the bounds give torch's zero gradient there.
    return jnp.where(x <= lower, lower, jnp.where(x >= upper, upper, x))


def hardsigmoid(input: ArrayLike, inplace: bool = False) -> jax.Array:
    """``0`` below -3, ``1`` above 3, ``x / 6 + 1 / 2`` between (gradient 0 at +-3).

    PyTorch: ``torch.nn.functional.hardsigmoid`` (``inplace`` is ignored).
    """
    x = jnp.asarray(input)
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
    middle = x * (x + 3) / 6
    return jnp.where(x <= -3, jnp.zeros_like(x), jnp.where(x < 3, middle, x))


def softplus(input: ArrayLike, beta: float = 1.0, threshold: float = 20.0) -> jax.Array:
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``.

    PyTorch: ``torch.nn.functional.softplus``.
    """
    x = jnp.asarray(input)
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
    return jax.nn.log_sigmoid(_as_float(jnp.asarray(input)))


def _get_softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    # torch's legacy rule for a missing ``dim``, with the same deprecation warning.
    warnings.warn(
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
    x = jnp.asarray(input)
    if x.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    axis = normalize_dim(dim, x.ndim)
    if x.shape[axis] % 2:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {axis} is size {x.shape[axis]}"
        )
    a, b = jnp.split(x, 2, axis=axis)
    return a * jax.nn.sigmoid(b)
