"""torch's pointwise maths and comparisons: ``exp``, ``pow``, ``clamp``, ``lerp``, ``eq``, ...

Type rules follow torch: float functions of integer arrays compute in the default float
dtype (``exp(arange(3))`` is float32); ``abs``, ``floor``, ``ceil``, ``round`` and
``square`` keep integers; Python numbers do not widen an array's dtype.  ``out=`` is
refused (JAX arrays are immutable).
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn._tensor_functions import dtypes
from jnn._tensor_functions._common import (
    as_array,
    broadcast_shape,
    check_clamp_bounds,
    fit_scalar,
    float_input,
    input_array,
    is_concrete,
    refuse_out,
    torch_abs,
)

__all__ = [
    "abs", "absolute", "neg", "negative", "reciprocal", "exp", "exp2", "log", "log2", "log10",
    "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "sigmoid", "square",
    "sign", "floor", "ceil", "trunc", "round", "pow", "clamp", "clip", "lerp", "maximum",
    "minimum", "allclose", "isclose", "equal", "eq", "ne", "lt", "le", "gt", "ge",
    "isnan", "isinf", "isfinite",
]

ArrayOrNumber = jax.Array | builtins.int | builtins.float | builtins.bool


def _unary_float(name: str, fn: Callable[[jax.Array], jax.Array]) -> Callable:
    def op(input: jax.Array, *, out: Any = None) -> jax.Array:
        refuse_out(out, name)
        return fn(float_input(input_array(input, name)))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (f"Elementwise ``{name}``; integer inputs compute in the default float "
                  f"dtype.\n\n    PyTorch: ``torch.{name}``.\n    ")
    return op


exp = _unary_float("exp", jnp.exp)
exp2 = _unary_float("exp2", jnp.exp2)
log = _unary_float("log", jnp.log)
log2 = _unary_float("log2", jnp.log2)
log10 = _unary_float("log10", jnp.log10)
log1p = _unary_float("log1p", jnp.log1p)
expm1 = _unary_float("expm1", jnp.expm1)
sqrt = _unary_float("sqrt", jnp.sqrt)
rsqrt = _unary_float("rsqrt", jax.lax.rsqrt)
sin = _unary_float("sin", jnp.sin)
cos = _unary_float("cos", jnp.cos)
tan = _unary_float("tan", jnp.tan)
tanh = _unary_float("tanh", jnp.tanh)
sigmoid = _unary_float("sigmoid", jax.nn.sigmoid)
reciprocal = _unary_float("reciprocal", jnp.reciprocal)


def _not_for_bool(name: str, kernel: str, x: jax.Array) -> None:
    if x.dtype == jnp.bool_:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def abs(input: jax.Array, *, out: Any = None) -> jax.Array:
    """Elementwise absolute value, dtype kept.  PyTorch: ``torch.abs`` (also ``absolute``)."""
    refuse_out(out, "abs")
    x = input_array(input, "abs")
    _not_for_bool("abs", "abs_cpu", x)
    return torch_abs(x)


absolute = abs


def neg(input: jax.Array, *, out: Any = None) -> jax.Array:
    """``-input``.  PyTorch: ``torch.neg`` (also ``negative``)."""
    refuse_out(out, "neg")
    x = input_array(input, "neg")
    if x.dtype == jnp.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return jnp.negative(x)


negative = neg


def square(input: jax.Array, *, out: Any = None) -> jax.Array:
    """``input * input``; bools square as torch's int64.  PyTorch: ``torch.square``."""
    refuse_out(out, "square")
    x = input_array(input, "square")
    x = x.astype(dtypes.default_int()) if x.dtype == jnp.bool_ else x
    return x * x


def _zero_derivative(fn: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """``fn`` (sign, floor, round: flat wherever it has a derivative) differentiated as
    torch does: a zero gradient that still *reaches* its input.  JAX's own rules give a
    symbolic zero, which jnn reads as "the loss does not reach this parameter" (no ``.grad``,
    as through ``detach()``), where torch gives ``.grad`` zeros (and then its optimizers
    still apply momentum and weight decay to it)."""
    @jax.custom_jvp
    def op(x: jax.Array) -> jax.Array:
        return fn(x)

    @op.defjvp
    def op_jvp(primals: tuple, tangents: tuple) -> tuple:
        (x,), (t,) = primals, tangents
        # linear in t, and zero: a select with an all-false predicate (no NaN from t passes)
        zero = jax.lax.select(jnp.zeros(jnp.shape(x), bool), t, jnp.zeros_like(t))
        return op(x), zero

    return op


def _torch_sign(x: jax.Array) -> jax.Array:
    # torch's sign of NaN is 0 (JAX's is NaN)
    return jnp.where(jnp.isnan(x), 0, jnp.sign(x))


_float_sign = _zero_derivative(_torch_sign)


def sign(input: jax.Array, *, out: Any = None) -> jax.Array:
    """-1, 0 or 1 by sign (bools are kept, NaN gives 0).  PyTorch: ``torch.sign``."""
    refuse_out(out, "sign")
    x = input_array(input, "sign")
    if x.dtype == jnp.bool_:
        return x
    return _float_sign(x) if jnp.issubdtype(x.dtype, jnp.floating) else jnp.sign(x)


def _rounding(name: str, kernel: str, fn: Callable) -> Callable:
    fn = _zero_derivative(fn)

    def op(input: jax.Array, *, out: Any = None) -> jax.Array:
        refuse_out(out, name)
        x = input_array(input, name)
        _not_for_bool(name, kernel, x)
        return x if jnp.issubdtype(x.dtype, jnp.integer) else fn(x)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (f"Elementwise ``{name}``; integer inputs are returned unchanged.\n\n"
                  f"    PyTorch: ``torch.{name}``.\n    ")
    return op


floor = _rounding("floor", "floor_vml_cpu", jnp.floor)
ceil = _rounding("ceil", "ceil_vml_cpu", jnp.ceil)
trunc = _rounding("trunc", "trunc_vml_cpu", jnp.trunc)


def round(input: jax.Array, *, decimals: builtins.int = 0, out: Any = None) -> jax.Array:
    """Round half to even, to ``decimals`` places (integers unchanged).

    PyTorch: ``torch.round``.
    """
    refuse_out(out, "round")
    x = input_array(input, "round")
    _not_for_bool("round", "round_vml_cpu", x)
    if jnp.issubdtype(x.dtype, jnp.integer):
        return x
    return _float_round(x, decimals)


@functools.lru_cache(maxsize=32)
def _rounder(decimals: builtins.int) -> Callable[[jax.Array], jax.Array]:
    return _zero_derivative(jnp.round if decimals == 0
                            else functools.partial(jnp.round, decimals=decimals))


def _float_round(x: jax.Array, decimals: builtins.int) -> jax.Array:
    return _rounder(decimals)(x)


def pow(input: ArrayOrNumber, exponent: ArrayOrNumber, *, out: Any = None) -> jax.Array:
    """``input ** exponent``, either may be a number.

    PyTorch: ``torch.pow``; an integer array to a negative Python int raises as in torch,
    negative entries of an integer exponent array give torch's 0, 1 or -1.
    """
    refuse_out(out, "pow")
    base = input if not isinstance(input, np.ndarray) else jnp.asarray(input)
    if (isinstance(base, jax.Array) and jnp.issubdtype(base.dtype, jnp.integer)
            and isinstance(exponent, builtins.int) and exponent < 0):
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    if not isinstance(base, jax.Array) and not isinstance(exponent, jax.Array):
        raise TypeError("pow(): at least one of input and exponent must be an array")
    broadcast_shape(jnp.shape(base), jnp.shape(exponent))
    dtype = jnp.result_type(base, exponent)
    if jnp.issubdtype(dtype, jnp.signedinteger):
        return _int_power(jnp.asarray(base).astype(dtype), jnp.asarray(exponent).astype(dtype))
    return jnp.power(base, exponent)


def _int_power(base: jax.Array, exponent: jax.Array) -> jax.Array:
    """torch's integer pow, whose negative exponents give ``1 ** -n = 1``,
    ``(-1) ** -n = ±1`` and 0 otherwise (XLA's integer pow is undefined there)."""
    negative = exponent < 0
    unit = jnp.where(base == -1, 1 - 2 * (exponent & 1), 1).astype(base.dtype)
    small = jnp.where(jnp.abs(base) == 1, unit, jnp.zeros_like(base))
    return jnp.where(negative, small, jnp.power(base, jnp.where(negative, 0, exponent)))


def clamp(input: jax.Array, min: ArrayOrNumber | None = None,
          max: ArrayOrNumber | None = None, *, out: Any = None) -> jax.Array:
    """Limit entries to ``[min, max]`` (numbers or arrays; ``min > max`` gives ``max``).

    PyTorch: ``torch.clamp`` (also ``clip``); NaN propagates, as in torch.
    """
    refuse_out(out, "clamp")
    check_clamp_bounds(min, max)
    x = input_array(input, "clamp")
    shape = x.shape  # torch broadcasts input, min and max together, in this order
    for bound in (min, max):
        if isinstance(bound, (jax.Array, np.ndarray)):
            shape = broadcast_shape(shape, bound.shape)
    dtype = x.dtype
    # torch passes the gradient to ``input`` where ``min <= input <= max``, bounds included
    # (``maximum``/``minimum`` split a tie, 0.5 each); the bound gets it only beyond.  The
    # selects keep NaN (in ``input`` or a bound) propagating through maximum/minimum.
    if min is not None:
        low = _bound(min, dtype)
        x = jnp.where(x >= low, x, jnp.maximum(x, low))
    if max is not None:
        high = _bound(max, dtype)
        x = jnp.where(x <= high, x, jnp.minimum(x, high))
    return x


def _bound(bound: Any, dtype: Any) -> Any:
    """A Python-number bound that keeps ``dtype`` checked as torch converts it (300 for a
    uint8 array raises there instead of wrapping)."""
    if isinstance(bound, (builtins.int, builtins.float)) and jnp.result_type(
            jnp.zeros((), dtype), bound) == dtype:
        return fit_scalar(bound, dtype)
    return bound


clip = clamp


def lerp(input: jax.Array, end: jax.Array, weight: ArrayOrNumber, *, out: Any = None
         ) -> jax.Array:
    """``input + weight * (end - input)``, computed from the nearer end as torch does.

    PyTorch: ``torch.lerp`` (float inputs only, as torch).
    """
    refuse_out(out, "lerp")
    start, stop = input_array(input, "lerp"), input_array(end, "lerp", "end", 2)
    w = weight if isinstance(weight, jax.Array) else jnp.asarray(weight, start.dtype)
    # torch's checks, dtypes before shapes
    for what, y in (("end", stop), ("weight", w)):
        if y.dtype != start.dtype and (what == "end" or isinstance(weight, jax.Array)):
            raise RuntimeError(f"expected dtype {dtypes.cpp_name(start.dtype)} for `{what}` but "
                               f"got dtype {dtypes.cpp_name(y.dtype)}")
    if not jnp.issubdtype(start.dtype, jnp.inexact):
        raise NotImplementedError("\"lerp_kernel_scalar\" not implemented for "
                                  f"'{dtypes.torch_name(start.dtype)}'")
    shape = broadcast_shape(start.shape, stop.shape)
    if isinstance(weight, jax.Array):
        broadcast_shape(shape, w.shape)
    diff = stop - start
    return jnp.where(jnp.abs(w) < 0.5, start + w * diff, stop - diff * (1 - w))


def maximum(input: jax.Array, other: jax.Array, *, out: Any = None) -> jax.Array:
    """Elementwise maximum (NaN propagates).  PyTorch: ``torch.maximum``."""
    refuse_out(out, "maximum")
    a, b = input_array(input, "maximum"), input_array(other, "maximum", "other", 2)
    broadcast_shape(a.shape, b.shape)
    return jnp.maximum(a, b)


def minimum(input: jax.Array, other: jax.Array, *, out: Any = None) -> jax.Array:
    """Elementwise minimum (NaN propagates).  PyTorch: ``torch.minimum``."""
    refuse_out(out, "minimum")
    a, b = input_array(input, "minimum"), input_array(other, "minimum", "other", 2)
    broadcast_shape(a.shape, b.shape)
    return jnp.minimum(a, b)


def isclose(input: jax.Array, other: jax.Array, rtol: builtins.float = 1e-05,
            atol: builtins.float = 1e-08, equal_nan: builtins.bool = False) -> jax.Array:
    """``|input - other| <= atol + rtol * |other|`` elementwise.

    PyTorch: ``torch.isclose``; both must have the same dtype, as in torch.
    """
    a, b = input_array(input, "isclose"), as_array(other)
    if a.dtype != b.dtype:
        raise RuntimeError(f"{dtypes.torch_name(a.dtype)} did not match "
                           f"{dtypes.torch_name(b.dtype)}")
    broadcast_shape(a.shape, b.shape)
    return jnp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def _python_bool(value: jax.Array) -> Any:
    """A Python bool eagerly (as torch); a 0-d bool array under a trace."""
    return builtins.bool(value) if is_concrete(value) else value


def allclose(input: jax.Array, other: jax.Array, rtol: builtins.float = 1e-05,
             atol: builtins.float = 1e-08, equal_nan: builtins.bool = False) -> Any:
    """Whether every pair of entries is close (see :func:`isclose`): a Python bool.

    PyTorch: ``torch.allclose``; under ``jax.jit`` a traced 0-d bool array instead.
    """
    input_array(input, "allclose")
    return _python_bool(jnp.all(isclose(input, other, rtol, atol, equal_nan)))


def equal(input: jax.Array, other: jax.Array) -> Any:
    """Whether both have the same shape and the same values: a Python bool.

    PyTorch: ``torch.equal``; under ``jax.jit`` a traced 0-d bool array instead.
    """
    a, b = input_array(input, "equal"), as_array(other)
    if a.shape != b.shape:
        return False
    return _python_bool(jnp.all(a == b))


def _compare(name: str, fn: Callable) -> Callable:
    def op(input: jax.Array, other: ArrayOrNumber, *, out: Any = None) -> jax.Array:
        refuse_out(out, name)
        a = input_array(input, name)
        b = other if isinstance(other, (builtins.int, builtins.float)) else as_array(other)
        broadcast_shape(a.shape, jnp.shape(b))
        return fn(a, b)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (f"Elementwise ``{name}`` comparison (broadcast), a bool array.\n\n"
                  f"    PyTorch: ``torch.{name}``.\n    ")
    return op


eq = _compare("eq", jnp.equal)
ne = _compare("ne", jnp.not_equal)
lt = _compare("lt", jnp.less)
le = _compare("le", jnp.less_equal)
gt = _compare("gt", jnp.greater)
ge = _compare("ge", jnp.greater_equal)


def isnan(input: jax.Array) -> jax.Array:
    """Elementwise NaN test.  PyTorch: ``torch.isnan``."""
    return jnp.isnan(input_array(input, "isnan"))


def isinf(input: jax.Array) -> jax.Array:
    """Elementwise infinity test.  PyTorch: ``torch.isinf``."""
    return jnp.isinf(input_array(input, "isinf"))


def isfinite(input: jax.Array) -> jax.Array:
    """Elementwise finiteness test.  PyTorch: ``torch.isfinite``."""
    return jnp.isfinite(input_array(input, "isfinite"))
