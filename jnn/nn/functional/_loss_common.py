"""Private helpers shared by the loss files: dtype refusals, value checks, reductions.

Shape and dtype checks are static. Value checks (class indices in range, BCE
probabilities in ``[0, 1]``, a non-negative variance) need the numbers: they run only
when the argument is concrete (eager mode: a numpy array, a list, or a committed
``jax.Array``) and are skipped inside a trace (``jax.jit``, ``jax.grad`` over that
argument, ``jnn.compile``), where reading values would force a host sync.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn.nn.functional._dispatch import NeedsConcrete, collect_check, in_dispatch_trace, warn
from jnn.nn.functional._utils import not_implemented_for, torch_dtype_name, torch_size

__all__: list[str] = []


def concrete(value: Any, *, checked: bool = False) -> np.ndarray | None:
    """``value`` as a numpy array when its numbers are known now, else None (a tracer).

    Reads the argument as the caller passed it, before any ``jnp.asarray``: an int64
    numpy target beyond int32 keeps its value here (JAX would wrap it to another class).
    Inside an eager-dispatch trace (see ``_dispatch``) the caller's numbers are known to the
    user but not to the trace: a caller that turns a None into a traced check (``checked``)
    gets None; any other raises ``NeedsConcrete``, and the call runs without dispatch.
    """
    if value is None or isinstance(value, jax.core.Tracer):
        if value is not None and not checked and in_dispatch_trace():
            raise NeedsConcrete
        return None
    return np.asarray(value)


def traced_checks() -> bool:
    """Inside ``jnn.compile(fn, checks=True)`` or an eager-dispatch trace: value checks
    become checks of traced values, reported after the call."""
    from jnn import _state

    return _state.state.value_checks or in_dispatch_trace()


def traced_check(ok: jax.Array, message: str, *values: jax.Array) -> None:
    """A value check on traced values, reported after the call by type (the message starts
    with torch's exception name: ``"IndexError: Target {} is out of bounds."``): an output
    of an eager-dispatch program, else a checkify check of a checked compiled step (see
    ``jnn._compile``)."""
    if collect_check(ok, message, *values):
        return
    from jax.experimental import checkify

    checkify.check(ok, message, *values)


def check_class_targets(target: Any, n_classes: int, ignore_index: int | None) -> None:
    """torch's ``IndexError: Target 5 is out of bounds.`` for concrete class indices."""
    values = concrete(target, checked=True)
    if values is None:
        if traced_checks() and jnp.issubdtype(jnp.result_type(target), jnp.integer):
            t = jnp.ravel(jnp.asarray(target))
            bad = (t < 0) | (t >= n_classes)
            if ignore_index is not None:
                bad &= t != ignore_index
            traced_check(~jnp.any(bad), "IndexError: Target {} is out of bounds.",
                          t[jnp.argmax(bad)] if t.size else jnp.zeros((), t.dtype))
        return
    if values.size == 0 or values.dtype.kind not in "iu":
        return
    bad = (values < 0) | (values >= n_classes)
    if ignore_index is not None:
        bad &= values != ignore_index
    if bad.any():
        raise IndexError(f"Target {int(values[bad].flat[0])} is out of bounds.")


def check_unit_intervals(input: Any, target: Any) -> None:
    """BCE's value checks as torch's kernel makes them, element by element: the first
    element where the input or the target is outside [0, 1] (NaN fails) names which."""
    x, t = concrete(input, checked=True), concrete(target, checked=True)
    if x is None or t is None:
        if traced_checks():
            xs, ts = jnp.broadcast_arrays(jnp.ravel(jnp.asarray(input)),
                                          jnp.ravel(jnp.asarray(target)))
            bad_x, bad_t = ~((xs >= 0) & (xs <= 1)), ~((ts >= 0) & (ts <= 1))
            bad = bad_x | bad_t
            first_is_input = jnp.any(bad) & bad_x[jnp.argmax(bad)] if bad.size else False
            traced_check(~first_is_input,
                         "RuntimeError: all elements of input should be between 0 and 1")
            traced_check(~jnp.any(bad),
                         "RuntimeError: all elements of target should be between 0 and 1")
        return
    xs, ts = np.broadcast_arrays(x.astype(np.float32).ravel(), t.astype(np.float32).ravel())
    bad_x, bad_t = ~((xs >= 0) & (xs <= 1)), ~((ts >= 0) & (ts <= 1))
    bad = np.flatnonzero(bad_x | bad_t)
    if bad.size:
        what = "input" if bad_x[bad[0]] else "target"
        raise RuntimeError(f"all elements of {what} should be between 0 and 1")


def refuse_integer(dtype: Any, kernel: str, half: bool = True) -> None:
    """torch's ``"mse_cpu" not implemented for 'Long'`` for a non-floating input (and, with
    ``half=False``, for float16/bfloat16: kernels dispatched for float and double only)."""
    if not jnp.issubdtype(dtype, jnp.inexact) or (
            not half and jnp.dtype(dtype) in (jnp.float16, jnp.bfloat16)):
        raise not_implemented_for(kernel, dtype)


def refuse_bool_subtraction(*dtypes: Any) -> None:
    """torch's ``a - b`` check (l1, hinge, the weighted mse/l1): two bool tensors, or one."""
    is_bool = [jnp.dtype(d) == jnp.bool_ for d in dtypes]
    if all(is_bool):
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. "
            "Use the `^` or `logical_xor()` operator instead."
        )
    if any(is_bool):
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. "
            "If you are trying to invert a mask, use the `~` or `logical_not()` operator "
            "instead."
        )


def refuse_cast_into_input(input_dtype: Any, target_dtype: Any) -> None:
    """torch's kernels that write into a tensor of the input's dtype (huber): a promoted
    type of a higher kind (bool < integer < floating) cannot be cast back."""
    result = jnp.result_type(input_dtype, target_dtype)
    if _KIND_RANK[jnp.dtype(result).kind] > _KIND_RANK[jnp.dtype(input_dtype).kind]:
        raise RuntimeError(f"result type {torch_dtype_name(result)} can't be cast to the "
                           f"desired output type {torch_dtype_name(input_dtype)}")


_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2, "V": 2, "c": 3}  # "V": bfloat16 in numpy


def check_class_weight_dtype(input_dtype: Any, weight: Any) -> None:
    """torch's class-index kernels (nll_loss, multi_margin_loss) read ``weight`` as the
    input's scalar type: ``expected scalar type Float but found Half`` for any other."""
    if weight is None:
        return
    weight_dtype = jnp.asarray(weight).dtype
    if weight_dtype != jnp.dtype(input_dtype):
        raise RuntimeError(f"expected scalar type {torch_dtype_name(input_dtype)} but found "
                           f"{torch_dtype_name(weight_dtype)}")


def refuse_integer_mean(dtype: Any, reduction: str) -> None:
    """torch's ``mean()`` of an integer loss (l1, hinge): 'sum' and 'none' stay integer."""
    if reduction == "mean" and not jnp.issubdtype(dtype, jnp.inexact):
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating "
            f"point or complex dtype. Got: {torch_dtype_name(dtype)}"
        )


def abs_with_zero_subgradient(diff: jax.Array) -> jax.Array:
    # |d| with torch's subgradient sign(0) = 0 at d = 0 (jnp.abs's derivative there is 1).
    return diff * jnp.sign(diff)


def clamp_min_zero(value: jax.Array) -> jax.Array:
    """torch's ``clamp_min(value, 0)`` of a hinge: NaN stays NaN, and at ``value == 0`` the
    whole gradient passes (its backward keeps ``value >= 0``; ``jnp.maximum`` halves it)."""
    return jnp.where(value < 0, jnp.zeros((), value.dtype), value)


def positive_part(value: jax.Array) -> jax.Array:
    """The margin kernels' ``if (z > 0) sum += z`` (multi_margin, multilabel_margin): zero
    gradient at ``z == 0``, and a NaN ``z`` adds nothing, as in torch's loop."""
    return jnp.where(value > 0, value, jnp.zeros((), value.dtype))


def warn_if_target_size_differs(input_shape, target_shape, stacklevel: int = 3) -> None:
    if tuple(input_shape) != tuple(target_shape):
        warn(
            f"Using a target size ({torch_size(target_shape)}) that is different to the input "
            f"size ({torch_size(input_shape)}). This will likely lead to incorrect results due "
            "to broadcasting. Please ensure they have the same size.",
            stacklevel=stacklevel,
        )


def check_reduction_is_valid(reduction: str, message: str = "{} is not a valid value for "
                             "reduction") -> None:
    """Losses written in Python in torch validate the string themselves, in their words."""
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(message.format(reduction))
