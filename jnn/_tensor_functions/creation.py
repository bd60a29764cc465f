"""torch's creation functions: ``tensor``, ``zeros``, ``arange``, ``linspace``, ``eye``, ...

Dtypes follow torch: float data makes :func:`~jnn.get_default_dtype` (float32), Python
ints make torch's int64 (int32 while ``jax_enable_x64`` is off), bools make bool.

Arguments torch has that mean nothing for immutable JAX arrays are accepted and ignored:
``requires_grad`` (gradients come from ``jnn.autograd``/``jax.grad``; as in torch it is
refused for integer dtypes), ``layout``, ``pin_memory``, ``memory_format``.  ``out=`` is
refused with a TypeError: use the return value.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn._tensor_functions import dtypes
from jnn._tensor_functions._common import (
    check_nonnegative,
    finish,
    fit_scalar,
    input_array,
    parse_size,
)

__all__ = [
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "arange",
    "linspace", "eye", "zeros_like", "ones_like", "full_like", "empty_like",
]

Number = builtins.int | builtins.float | builtins.bool | builtins.complex


def check_requires_grad(requires_grad: builtins.bool, dtype: Any) -> None:
    """torch refuses ``requires_grad=True`` for integer and bool tensors; so does jnn."""
    if requires_grad and not jnp.issubdtype(dtype, jnp.inexact):
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           "gradients")


def scalar_dtype(value: Any) -> Any:
    """torch's dtype for a Python (or 0-d array) fill value."""
    if isinstance(value, (jax.Array, np.ndarray, np.generic)):
        return dtypes.resolve_dtype(value.dtype)
    if isinstance(value, builtins.bool):
        return jnp.dtype(jnp.bool_)
    if isinstance(value, builtins.int):
        return dtypes.default_int()
    if isinstance(value, builtins.complex):
        return dtypes.default_complex()
    return dtypes.default_float()


def _has_arrays(data: Any) -> builtins.bool:
    if isinstance(data, (jax.Array, np.ndarray, np.generic)):
        return True
    if isinstance(data, (list, tuple)):
        return builtins.any(_has_arrays(d) for d in data)
    return False


def _infer(data: Any) -> jax.Array:
    """``data`` as an array with torch's inferred dtype (no dtype given)."""
    if isinstance(data, jax.Array):
        return data
    if isinstance(data, (np.ndarray, np.generic)):
        return jnp.asarray(data, dtypes.resolve_dtype(data.dtype))
    try:
        host = np.asarray(data)
    except jax.errors.TracerArrayConversionError:  # a list holding traced arrays
        return jnp.asarray(data)
    except ValueError as e:  # ragged nesting: torch's wording
        raise _data_error(data) or e from None
    if host.dtype.kind not in "biufc":
        raise _data_error(data) or TypeError(f"new(): invalid data type '{type(data).__name__}'")
    if _has_arrays(data):  # arrays in a list keep their dtype (promoted together)
        return jnp.asarray(host, dtypes.resolve_dtype(host.dtype))
    kind = {"b": jnp.dtype(jnp.bool_), "c": dtypes.default_complex(),
            "f": dtypes.default_float()}.get(host.dtype.kind, dtypes.default_int())
    if host.dtype.kind in "iu":
        _check_int64(host)
    return jnp.asarray(host, kind)


def _check_int64(values: np.ndarray) -> None:
    """torch's int64 values beyond int32 with JAX's x64 off: jnn's OverflowError (how to
    turn x64 on) rather than a silent wrap."""
    from jnn.nn.parameter import check_int_range  # jnn.nn imports this package

    check_int_range(values.astype(np.int64) if values.dtype == np.uint64 else values)


def _scalar_type_error(data: Any) -> Exception | None:
    """torch's error for a leaf that is not a number (its dtype inference runs first)."""
    if isinstance(data, (list, tuple)):
        return next((e for e in map(_scalar_type_error, data) if e is not None), None)
    if isinstance(data, str):
        return TypeError("new(): invalid data type 'str'")
    if isinstance(data, (builtins.bool, builtins.int, builtins.float, builtins.complex,
                         np.generic, np.ndarray, jax.Array)):
        return None
    return RuntimeError(f"Could not infer dtype of {type(data).__name__}")


def _data_error(data: Any) -> Exception | None:
    """torch's error for nested data that is not a rectangular array of numbers, or None
    when torch would give another error (the caller's then stands).  Only called once
    NumPy has refused ``data``: the happy path pays nothing."""
    error = _scalar_type_error(data)
    if error is not None:
        return error
    sizes, first = [], data
    while isinstance(first, (list, tuple)):  # torch takes the shape from the first items
        sizes.append(len(first))
        if not first:
            break
        first = first[0]

    def check(item: Any, dim: builtins.int) -> Exception | None:
        if dim == len(sizes):
            if isinstance(item, builtins.int) and not -2**63 <= item < 2**63:
                return ValueError("Overflow when unpacking long long")
            return None
        if not isinstance(item, (list, tuple)):
            return TypeError("not a sequence")
        if len(item) != sizes[dim]:
            return ValueError(f"expected sequence of length {sizes[dim]} at dim {dim} "
                              f"(got {len(item)})")
        return next((e for e in (check(i, dim + 1) for i in item) if e is not None), None)

    return check(data, 0)


def tensor(data: Any, *, dtype: Any = None, device: Any = None,
           requires_grad: builtins.bool = False, pin_memory: builtins.bool = False
           ) -> jax.Array:
    """An array from ``data`` (scalar, nested lists, NumPy array, JAX array).

    Args:
        data: the values.  Python floats give the default dtype, Python ints int64
            (int32 with x64 off), bools bool, complex numbers the default complex type;
            NumPy and JAX arrays keep their dtype.
        dtype: the result's dtype (a 64-bit one with x64 off gives 32 bits and warns once).
        device: where to place it (``'cpu'``, ``'cuda:0'``, ``jnn.device``, a jax.Device).
        requires_grad: accepted and ignored (see the module docstring).
        pin_memory: ignored.

    Returns:
        A new JAX array.

    PyTorch: ``torch.tensor``.
    """
    if dtype is None:
        arr = _infer(data)
    else:
        arr = jnp.asarray(data, dtypes.resolve_dtype(dtype, "tensor"))
    check_requires_grad(requires_grad, arr.dtype)
    return finish(arr, device, None, "tensor")


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> jax.Array:
    """Like :func:`tensor`, but a JAX array of the right dtype and device is returned as is.

    PyTorch: ``torch.as_tensor`` (sharing memory is moot: JAX arrays are immutable).
    """
    if isinstance(data, jax.Array) and device is None and (
            dtype is None or dtypes.resolve_dtype(dtype, "as_tensor") == data.dtype):
        return data
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray: np.ndarray) -> jax.Array:
    """A JAX array with ``ndarray``'s values and dtype (a copy: JAX owns its buffers).

    PyTorch: ``torch.from_numpy``, which shares memory; float64 arrays give float32
    while ``jax_enable_x64`` is off (warned once).
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    return jnp.asarray(ndarray, dtypes.resolve_dtype(ndarray.dtype))


def _filled(name: str, sizes: tuple, size: Any, value: Any, out: Any, dtype: Any,
            device: Any, requires_grad: builtins.bool, requested: Any = None) -> jax.Array:
    shape = parse_size(sizes, name, size)
    dt = dtypes.default_float() if dtype is None else dtypes.resolve_dtype(dtype, name)
    check_requires_grad(requires_grad, dt)
    value = fit_scalar(value, dt, requested)
    return finish(jnp.full(shape, value, dt), device, out, name)


def _requested(dtype: Any, value: Any) -> Any:
    """The dtype torch would make (its int64 where JAX without x64 makes int32)."""
    if dtype is None:
        return jnp.int64 if isinstance(value, builtins.int) and not isinstance(
            value, builtins.bool) else None
    return jnp.dtype(dtype)


def zeros(*sizes: Any, size: Sequence[builtins.int] | None = None, out: Any = None,
          dtype: Any = None, layout: Any = None, device: Any = None,
          requires_grad: builtins.bool = False, pin_memory: builtins.bool = False
          ) -> jax.Array:
    """Zeros: ``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros([2, 3])``, ``zeros(size=(2, 3))``.

    Args:
        sizes / size: the shape.
        dtype: default :func:`~jnn.get_default_dtype`.
        device: where to place it.
        out, layout, requires_grad, pin_memory: see the module docstring.

    PyTorch: ``torch.zeros``.
    """
    return _filled("zeros", sizes, size, 0, out, dtype, device, requires_grad)


def ones(*sizes: Any, size: Sequence[builtins.int] | None = None, out: Any = None,
         dtype: Any = None, layout: Any = None, device: Any = None,
         requires_grad: builtins.bool = False, pin_memory: builtins.bool = False
         ) -> jax.Array:
    """An array of ones; arguments as :func:`zeros`.  PyTorch: ``torch.ones``."""
    return _filled("ones", sizes, size, 1, out, dtype, device, requires_grad)


def empty(*sizes: Any, size: Sequence[builtins.int] | None = None, out: Any = None,
          dtype: Any = None, layout: Any = None, device: Any = None,
          requires_grad: builtins.bool = False, pin_memory: builtins.bool = False,
          memory_format: Any = None) -> jax.Array:
    """Uninitialised storage in torch; zeros here (JAX has no uninitialised arrays).

    Arguments as :func:`zeros`.  PyTorch: ``torch.empty``.
    """
    return _filled("empty", sizes, size, 0, out, dtype, device, requires_grad)


def full(size: Sequence[builtins.int], fill_value: Any, *, out: Any = None, dtype: Any = None,
         layout: Any = None, device: Any = None, requires_grad: builtins.bool = False,
         pin_memory: builtins.bool = False) -> jax.Array:
    """An array of ``size`` filled with ``fill_value``.

    Args:
        size: a tuple or list of ints (an int alone is refused, as in torch).
        fill_value: the value; its type sets the dtype as in torch (``full((2,), 7)`` is
            an integer array, ``7.`` the default float, ``True`` bool).

    PyTorch: ``torch.full``.
    """
    if not isinstance(size, (tuple, list)):
        raise TypeError("full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(size).__name__}")
    requested = _requested(dtype, fill_value)
    dt = scalar_dtype(fill_value) if dtype is None else dtypes.resolve_dtype(dtype, "full")
    return _filled("full", (size,), None, fill_value, out, dt, device, requires_grad, requested)


def _number(value: Any, name: str) -> Any:
    if isinstance(value, (jax.Array, np.ndarray, np.generic)):
        if isinstance(value, jax.core.Tracer):
            raise TypeError(f"{name}(): its bounds set the output's shape, so they must be "
                            "concrete numbers, not values traced by jax.jit/jnn.compile")
        return value.item()
    return value


def arange(start: Number | None = None, end: Number | None = None, step: Number = 1, *,
           out: Any = None,
           dtype: Any = None, layout: Any = None, device: Any = None,
           requires_grad: builtins.bool = False) -> jax.Array:
    """Values ``start, start + step, ...`` below ``end``: ``arange(end)``, ``arange(start, end)``.

    Args:
        start, end, step: numbers.  Any float among them makes the default float dtype,
            otherwise torch's int64 (int32 with x64 off).

    PyTorch: ``torch.arange``; values are computed as ``start + i * step`` in float64 and
    rounded once, as torch's CPU kernel does.
    """
    if end is None:
        if start is None:
            raise TypeError("arange() received an invalid combination of arguments - got (), "
                            "but expected one of: (Number end), (Number start, Number end), "
                            "(Number start, Number end, Number step)")
        start, end = 0, start
    elif start is None:  # arange(end=5)
        start = 0
    start, end, step = (_number(v, "arange") for v in (start, end, step))
    if dtype is None:
        floating = builtins.any(isinstance(v, builtins.float) for v in (start, end, step))
        dt = dtypes.default_float() if floating else dtypes.default_int()
    else:
        dt = dtypes.resolve_dtype(dtype, "arange")
    if dt == jnp.bool_:
        raise NotImplementedError("\"arange_cpu\" not implemented for 'Bool'")
    if not (step > 0 or step < 0):  # torch's check: a NaN step fails it too
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {start:g} -> {end:g}")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = builtins.max(math.ceil((end - start) / step), 0)
    if jnp.issubdtype(dt, jnp.integer) and builtins.all(
            isinstance(v, builtins.int) for v in (start, end, step)):
        values = start + np.arange(n, dtype=np.int64) * step
        if dtype is None or jnp.dtype(dtype) == jnp.int64:
            _check_int64(values)
    else:
        values = start + np.arange(n, dtype=np.float64) * step
    check_requires_grad(requires_grad, dt)
    return finish(jnp.asarray(values.astype(dt)), device, out, "arange")


def linspace(start: Number, end: Number, steps: builtins.int, *, out: Any = None,
             dtype: Any = None, layout: Any = None, device: Any = None,
             requires_grad: builtins.bool = False) -> jax.Array:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive.

    Args:
        start, end: numbers (or concrete 0-d arrays).
        steps: how many values (>= 0).
        dtype: default :func:`~jnn.get_default_dtype`, even for int bounds (as torch).

    PyTorch: ``torch.linspace``; the first half counts up from ``start`` and the second
    half down from ``end``, as torch's kernel does, so both ends are exact.
    """
    start, end = _number(start, "linspace"), _number(end, "linspace")
    steps = _number(steps, "linspace")
    if not isinstance(steps, (builtins.int, np.integer)) or isinstance(steps, builtins.bool):
        raise TypeError(f"linspace(): argument 'steps' must be int, not {type(steps).__name__}")
    steps = builtins.int(steps)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    if dtype is not None:
        dt = dtypes.resolve_dtype(dtype, "linspace")
    elif builtins.any(isinstance(v, (builtins.complex, np.complexfloating)) for v in (start, end)):
        dt = dtypes.default_complex()  # (torch: complex ends make a complex range)
    else:
        dt = dtypes.default_float()
    if dt == jnp.bool_:
        raise NotImplementedError("\"linspace_cpu\" not implemented for 'Bool'")
    if jnp.issubdtype(dt, jnp.integer):  # torch converts the ends first (-2 -> 254 in uint8)
        start, end = (builtins.int(np.array(builtins.int(fit_scalar(v, dt))).astype(dt))
                      for v in (start, end))
    i = np.arange(steps, dtype=np.float64)
    delta = (end - start) / (steps - 1) if steps > 1 else 0.0
    values = np.where(i < steps / 2, start + i * delta, end - (steps - 1 - i) * delta)
    if jnp.issubdtype(dt, jnp.integer):
        values = np.trunc(values)
    check_requires_grad(requires_grad, dt)
    return finish(jnp.asarray(values.astype(dt)), device, out, "linspace")


def eye(n: builtins.int, m: builtins.int | None = None, *, out: Any = None, dtype: Any = None,
        layout: Any = None, device: Any = None, requires_grad: builtins.bool = False
        ) -> jax.Array:
    """A 2-D array with ones on the diagonal: ``n`` rows, ``m`` (default ``n``) columns.

    PyTorch: ``torch.eye``.
    """
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    dt = dtypes.default_float() if dtype is None else dtypes.resolve_dtype(dtype, "eye")
    check_requires_grad(requires_grad, dt)
    return finish(jnp.eye(n, m, dtype=dt), device, out, "eye")


def _like(name: str, input: jax.Array, value: Any, dtype: Any, device: Any,
          requires_grad: builtins.bool) -> jax.Array:
    x = input_array(input, name)
    dt = x.dtype if dtype is None else dtypes.resolve_dtype(dtype, name)
    check_requires_grad(requires_grad, dt)
    check_nonnegative(x.shape)
    value = fit_scalar(value, dt, None if dtype is None else jnp.dtype(dtype))
    return finish(jnp.full(x.shape, value, dt), device, None, name)


def zeros_like(input: jax.Array, *, dtype: Any = None, layout: Any = None, device: Any = None,
               requires_grad: builtins.bool = False, memory_format: Any = None) -> jax.Array:
    """Zeros of ``input``'s shape and dtype (unless ``dtype``).  PyTorch: ``torch.zeros_like``."""
    return _like("zeros_like", input, 0, dtype, device, requires_grad)


def ones_like(input: jax.Array, *, dtype: Any = None, layout: Any = None, device: Any = None,
              requires_grad: builtins.bool = False, memory_format: Any = None) -> jax.Array:
    """Ones of ``input``'s shape and dtype (unless ``dtype``).  PyTorch: ``torch.ones_like``."""
    return _like("ones_like", input, 1, dtype, device, requires_grad)


def empty_like(input: jax.Array, *, dtype: Any = None, layout: Any = None, device: Any = None,
               requires_grad: builtins.bool = False, memory_format: Any = None) -> jax.Array:
    """Zeros of ``input``'s shape and dtype (JAX has no uninitialised arrays).

    PyTorch: ``torch.empty_like``.
    """
    return _like("empty_like", input, 0, dtype, device, requires_grad)


def full_like(input: jax.Array, fill_value: Any, *, dtype: Any = None, layout: Any = None,
              device: Any = None, requires_grad: builtins.bool = False,
              memory_format: Any = None) -> jax.Array:
    """``fill_value`` in ``input``'s shape and dtype (unless ``dtype``).

    PyTorch: ``torch.full_like``.
    """
    return _like("full_like", input, fill_value, dtype, device, requires_grad)

