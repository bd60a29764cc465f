"""Shared argument handling for torch's tensor functions: sizes, dims, devices, ``out=``.

Every check here is static (shapes, Python ints), so it is free under ``jax.jit``.
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

Dims = int | Sequence[int] | None


def refuse_out(out: Any, name: str) -> None:
    """torch's ``out=`` writes in place; JAX arrays are immutable, so it is refused."""
    if out is not None:
        raise TypeError(
            f"{name}(): out= is not supported: JAX arrays are immutable, so jnn cannot write "
            f"into an existing array. Use the return value instead: `out = jnn.{name}(...)`."
        )


def check_clamp_bounds(min: Any, max: Any) -> None:  # noqa: A002 - torch's names
    """torch's clamp (``torch.clamp``, ``Tensor.clamp``, ``clamp_``) with no bound."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")


def parse_size(size: tuple, name: str, kw_size: Any = None) -> tuple[int, ...]:
    """torch's size forms: ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])``, ``f(size=(2, 3))``."""
    if kw_size is not None:
        if size:
            raise TypeError(f"{name}() got multiple values for argument 'size'")
        size = (kw_size,)
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for pos, s in enumerate(size):
        if not _is_int(s):
            raise TypeError(f"{name}(): argument 'size' must be tuple of ints, but found "
                            f"element of type {type(s).__name__} at pos {pos}")
        out.append(builtins.int(s))
    if name == "zeros" and builtins.any(s < 0 for s in out):  # torch.zeros words it so
        raise RuntimeError("zeros: Dimension size must be non-negative.")
    check_nonnegative(out)
    return tuple(out)


def check_nonnegative(shape: Sequence[int]) -> None:
    for s in shape:
        if s < 0:  # torch's check and wording (torch.empty / ones / randn)
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {s}: {list(shape)}")


def _is_int(value: Any) -> bool:
    if isinstance(value, builtins.bool):
        return False
    if isinstance(value, (builtins.int, np.integer)):
        return True
    return (isinstance(value, (jax.Array, np.ndarray)) and value.shape == ()
            and jnp.issubdtype(value.dtype, jnp.integer))


def place(arr: jax.Array, device: Any) -> jax.Array:
    """Put ``arr`` on ``device`` (torch's names, ``jnn.device`` or a ``jax.Device``)."""
    if device is None:
        return arr
    # Imported here: jnn.nn may itself import jnn._tensor_functions.dtypes.
    from jnn.nn.modules._casting import resolve_device

    return jax.device_put(arr, resolve_device(device))


def finish(arr: jax.Array, device: Any, out: Any, name: str) -> jax.Array:
    """The common tail of a creation function: ``out=`` refused, device placement."""
    refuse_out(out, name)
    return place(arr, device)


def ndim_of(x: Any) -> int:
    return builtins.len(jnp.shape(x))


def wrap_dim(dim: Any, ndim: int) -> int:
    """A dim in ``[-ndim, ndim)`` made non-negative, with torch's IndexError otherwise.

    As in torch, a 0-d array accepts dims 0 and -1.
    """
    if not _is_int(dim):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    dim = builtins.int(dim)
    n = builtins.max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def wrap_dims(dim: Dims, ndim: int, empty_is_all: bool = True) -> tuple[int, ...]:
    """torch's ``dim`` for reductions: None (all), an int, or a tuple/list without repeats."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        if not dim and empty_is_all:  # torch: dim=() reduces over every dim
            return tuple(range(ndim))
        out = tuple(wrap_dim(d, ndim) for d in dim)
        for d in out:
            if out.count(d) > 1:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    else:
        out = (wrap_dim(dim, ndim),)
    return tuple(d for d in out if d < ndim)  # a 0-d array's dim 0 reduces nothing


def check_reduced_nonempty(name: str, shape: Sequence[int], axes: Sequence[int]) -> None:
    """torch's IndexError for a max-like reduction along a dimension of size 0."""
    for d in axes:
        if d < len(shape) and shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def as_array(x: Any) -> jax.Array:
    """``x`` as a JAX array; Python scalars keep JAX's weak typing (torch's scalar rule)."""
    return x if isinstance(x, jax.Array) else _parameter_value(x)


def _parameter_value(x: Any) -> Any:
    """A Parameter's array through its logged read (``jnn.norm(p)`` in a loss closure is
    differentiated, and inside a trace its value is a tracer, which ``np.asarray`` of the
    Parameter cannot give); anything else through ``jnp.asarray``."""
    from jnn.nn.parameter import Parameter, _read

    return _read(x) if isinstance(x, Parameter) else jnp.asarray(x)


# Python values that torch refuses where a Tensor is required.  NumPy arrays and scalars
# and jnn's Parameter are accepted as arrays (jnn's tensors are plain arrays).
_NOT_TENSORS = (type(None), builtins.list, builtins.tuple, builtins.dict, builtins.str,
                builtins.bytes, builtins.int, builtins.float, builtins.complex)


def check_bools(name: str, **flags: Any) -> None:
    """torch's TypeError for a flag that is not a Python bool (``descending='x'``, ``1``)."""
    for arg, value in flags.items():
        if not isinstance(value, builtins.bool):
            raise TypeError(f"{name}(): argument '{arg}' must be bool, not {type(value).__name__}")


def not_a_tensor(x: Any) -> bool:
    """Whether torch would refuse ``x`` where a Tensor is required (a list, a number, None)."""
    return isinstance(x, _NOT_TENSORS) and not isinstance(x, np.generic)


def input_array(x: Any, name: str, arg: str = "input", position: int = 1) -> jax.Array:
    """:func:`as_array` for an argument torch requires to be a Tensor: a list, a number or
    None raises torch's ``TypeError: exp(): argument 'input' (position 1) must be Tensor,
    not list`` (``jnp.asarray`` would take them)."""
    if isinstance(x, jax.Array):
        return x
    if not_a_tensor(x):
        raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, "
                        f"not {type(x).__name__}")
    return _parameter_value(x)


def is_concrete(*xs: Any) -> bool:
    """True when no argument is a tracer (eager mode)."""
    return not builtins.any(isinstance(x, jax.core.Tracer) for x in xs)


def concrete_values(x: Any) -> np.ndarray | None:
    """``x``'s numbers as a numpy array when they are known now, else None (a tracer).

    For torch's eager value checks (an index out of range, negative repeats): torch reads
    the values for these too.  Inside ``jax.jit``/``jnn.compile`` the values are unknown and
    the check is skipped, so no host sync is added to traced code.
    """
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


def first_out_of_range(index: Any, size: int) -> int | None:
    """The first entry of ``index`` (row-major) outside ``[0, size)``, when its values are
    known now; None when all are in range or the values are traced.

    A large array on an accelerator is checked by its min and max first, so that only two
    numbers cross to the host unless an entry is bad.
    """
    if isinstance(index, jax.core.Tracer) or jnp.size(index) == 0:
        return None
    if isinstance(index, jax.Array) and index.size > _HOST_CHECK_SIZE and builtins.any(
            d.platform != "cpu" for d in index.devices()):
        lo, hi = jax.device_get((jnp.min(index), jnp.max(index)))
        if lo >= 0 and hi < size:
            return None
    values = np.asarray(index).ravel()
    bad = (values < 0) | (values >= size)
    return builtins.int(values[bad.argmax()]) if bad.any() else None


# Index arrays up to this many entries are read whole (one small copy); larger ones on an
# accelerator are checked through their min and max.
_HOST_CHECK_SIZE = 1 << 16


def eager_only(name: str, *xs: Any, hint: str = "") -> None:
    """Refuse a function whose output shape depends on values when called under a trace."""
    if not is_concrete(*xs):
        raise RuntimeError(
            f"jnn.{name}() has an output whose shape depends on the input's values, so it "
            "cannot run inside jax.jit, jnn.compile or another JAX transformation. Call it "
            f"outside the traced function{hint}."
        )


def int_result(dtype: Any) -> Any:
    """torch's result dtype for sums/products/cumsums: ints and bools widen to int64."""
    if jnp.issubdtype(dtype, jnp.integer) or dtype == jnp.bool_:
        return dtypes.default_int()
    return dtype


def float_input(x: jax.Array) -> jax.Array:
    """Ints and bools as the default float dtype (torch's rule for exp, sqrt, sigmoid, ...)."""
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return x
    return x.astype(dtypes.default_float())


def root_or_zero(total: jax.Array, p: float) -> jax.Array:
    """``total ** (1 / p)`` with a zero gradient (torch's choice, not NaN) where ``total`` is
    0; a NaN total stays NaN as in torch (a ``total > 0`` guard would turn it into 0)."""
    zero = total == 0
    safe = jnp.where(zero, 1, total)
    root = jnp.sqrt(safe) if p == 2 else safe ** (1 / p)
    return jnp.where(zero, 0, root)


def torch_abs(x: jax.Array) -> jax.Array:
    """``|x|`` whose gradient at 0 is 0, torch's ``sign(0)`` (JAX's ``abs`` gives 1 there);
    the select fuses with the ``abs``, and the values are ``jnp.abs``'s."""
    a = jnp.abs(x)
    return jnp.where(x == 0, jnp.zeros_like(a), a)


def broadcast_shape(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    """The broadcast of two shapes, with torch's RuntimeError when they do not broadcast."""
    ndim = builtins.max(len(a), len(b))
    out = []
    for i in range(1, ndim + 1):
        sa = a[-i] if i <= len(a) else 1
        sb = b[-i] if i <= len(b) else 1
        if sa != sb and 1 not in (sa, sb):
            raise RuntimeError(f"The size of tensor a ({sa}) must match the size of tensor b "
                               f"({sb}) at non-singleton dimension {ndim - i}")
        out.append(sb if sa == 1 else sa)
    return tuple(reversed(out))


# torch's C++ spelling of a dtype in c10's "value cannot be converted" message.
_OVERFLOW_NAMES = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int",
                   "int64": "int64_t", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
                   "float32": "float", "float64": "double", "complex64": "c10::complex<float>",
                   "complex128": "c10::complex<double>"}


def fit_scalar(value: Any, dtype: Any, requested: Any = None) -> Any:
    """A Python number ``value`` checked against ``dtype`` as torch converts a Scalar
    (c10's ``checked_convert``), returned ready for JAX (a negative int wrapped for an
    unsigned dtype, as torch allows down to ``-max``).

    Raises torch's ``RuntimeError: value cannot be converted to type uint8_t without
    overflow`` where JAX would silently wrap or saturate.  ``requested`` is the dtype torch
    would hold (int64 where JAX's x64 is off and ``dtype`` is int32): an int that fits it
    but not int32 raises jnn's OverflowError that says how to turn x64 on.  Other values
    (bools, arrays, tracers) pass unchanged.
    """
    if isinstance(value, builtins.bool) or not isinstance(
            value, (builtins.int, builtins.float, builtins.complex)):
        return value
    dt, wide = jnp.dtype(dtype), jnp.dtype(requested if requested is not None else dtype)
    if dt == jnp.bool_:
        return value
    if (isinstance(value, builtins.int) and wide.kind == "i" and wide.itemsize > dt.itemsize
            and -2**63 <= value < 2**63):
        from jnn.nn.parameter import check_int_range  # jnn.nn imports this package

        check_int_range(np.asarray(value, np.int64))
    complex_dt = jnp.issubdtype(dt, jnp.complexfloating)
    parts = [value.real, value.imag] if isinstance(value, builtins.complex) else [value]
    if len(parts) == 2 and not complex_dt and parts[1] != 0:
        _overflow(dt)
    for part in parts[: 2 if complex_dt else 1]:
        if _overflows(part, dt):
            _overflow(dt)
    if dt.kind == "u" and isinstance(value, builtins.int) and value < 0:
        return value % 2 ** (8 * dt.itemsize)
    return value.real if len(parts) == 2 and not complex_dt else value


def _overflows(value: Any, dt: np.dtype) -> bool:
    """c10's ``overflows<To>(value)``."""
    if jnp.issubdtype(dt, jnp.inexact):  # (bfloat16's NumPy kind is 'V')
        if isinstance(value, builtins.float) and not math.isfinite(value):
            return False  # inf and NaN are representable
        info = jnp.finfo(jnp.float32 if dt == jnp.complex64 else
                         jnp.float64 if dt == jnp.complex128 else dt)
        return value < builtins.float(info.min) or value > builtins.float(info.max)
    info = jnp.iinfo(dt)
    if isinstance(value, builtins.float) and math.isnan(value):
        return True
    if dt.kind == "u" and isinstance(value, builtins.int):  # -1 wraps to max, as in C
        return value > info.max or -value > info.max
    return value < info.min or value > info.max


def _overflow(dt: np.dtype) -> None:
    raise RuntimeError(f"value cannot be converted to type {_OVERFLOW_NAMES.get(dt.name, dt.name)}"
                       " without overflow")
