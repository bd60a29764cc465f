"""torch's dtype names (``jnn.float32``, ``jnn.long``, ...) and the default dtype.

The names are JAX's own scalar types, so ``model.to(jnn.float16)`` and
``jnp.zeros(3, jnn.int8)`` both work.

64-bit types: JAX computes in 32 bits unless ``jax_enable_x64`` is on.  Where torch makes
an int64 (Python ints, indices, ``sum`` of ints) jnn makes int32 silently with x64 off,
int64 with it on.  An *explicit* request for a 64-bit type (``dtype=jnn.long``,
``jnn.float64``) with x64 off gives the 32-bit type and a one-time ``UserWarning``
saying how to turn x64 on.
"""

from __future__ import annotations

import builtins
import os
import sys
import threading
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

float32 = jnp.float32
float16 = jnp.float16
bfloat16 = jnp.bfloat16
float64 = jnp.float64
int8 = jnp.int8
int16 = jnp.int16
int32 = jnp.int32
int64 = jnp.int64
uint8 = jnp.uint8
uint16 = jnp.uint16
uint32 = jnp.uint32
uint64 = jnp.uint64
complex64 = jnp.complex64
complex128 = jnp.complex128
bool = jnp.bool_  # noqa: A001 - torch's name
# torch's aliases
float = jnp.float32  # noqa: A001
double = jnp.float64
half = jnp.float16
long = jnp.int64
int = jnp.int32  # noqa: A001
short = jnp.int16
cfloat = jnp.complex64
cdouble = jnp.complex128

__all__ = [
    "float32", "float16", "bfloat16", "float64", "int8", "int16", "int32", "int64", "uint8",
    "uint16", "uint32", "uint64", "complex64", "complex128", "bool", "float", "double", "half",
    "long", "int", "short", "cfloat", "cdouble", "get_default_dtype", "set_default_dtype",
    "is_floating_point", "is_complex", "finfo", "iinfo",
]

_LOCK = threading.Lock()
_default_dtype: Any = jnp.float32  # process-wide, as torch's default dtype (not per thread)
_warned: set[str] = set()

# torch's names for dtypes, as its error messages print them ("Got: Long").
_TORCH_NAMES = {
    "float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
    "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
    "uint16": "UInt16", "uint32": "UInt32", "uint64": "UInt64", "bool": "Bool",
    "complex64": "ComplexFloat", "complex128": "ComplexDouble",
}

# torch's C++ spelling of dtypes in some errors (mm's "float != double", lerp's).
_CPP_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
              "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
              "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
              "bool": "bool", "complex64": "c10::complex<float>",
              "complex128": "c10::complex<double>"}


def get_default_dtype() -> Any:
    """The floating-point dtype jnn's creation functions use for float data (``float32``).

    PyTorch: ``torch.get_default_dtype``.
    """
    return _default_dtype


def set_default_dtype(d: Any) -> None:
    """Set the dtype used for float data by ``jnn.tensor``, ``jnn.zeros``, ``jnn.rand``, ...

    Args:
        d: a floating-point dtype (``jnn.float32``, ``jnn.float64``, ``jnn.float16``,
            ``jnn.bfloat16``).  Complex literals then use the matching complex type.

    Raises:
        TypeError: for a non floating-point dtype, with torch's message.

    PyTorch: ``torch.set_default_dtype``, a process-wide setting.  jnn's ``nn`` layers read
    it only where their constructors call :func:`get_default_dtype`; ``float64`` with
    ``jax_enable_x64`` off gives float32 arrays (with a one-time warning).
    """
    if isinstance(d, str):  # torch wants a dtype object, not its name
        raise TypeError("invalid dtype object: only floating-point types are supported as the "
                        "default type")
    dtype = jnp.dtype(d)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError("only floating-point types are supported as the default type")
    global _default_dtype
    with _LOCK:
        _default_dtype = dtype.type
    if jax.dtypes.canonicalize_dtype(dtype) != dtype:
        _warn_64(dtype)


def is_floating_point(input: jax.Array) -> bool:
    """Whether ``input``'s dtype is a floating-point type.

    PyTorch: ``torch.is_floating_point``; a non-array raises TypeError as in torch.
    """
    if not isinstance(input, (jax.Array, np.ndarray)):
        raise TypeError("is_floating_point(): argument 'input' (position 1) must be Tensor, "
                        f"not {type(input).__name__}")
    return jnp.issubdtype(input.dtype, jnp.floating)


def is_complex(input: jax.Array) -> bool:
    """Whether ``input``'s dtype is a complex type.  PyTorch: ``torch.is_complex``."""
    if not isinstance(input, (jax.Array, np.ndarray)):
        raise TypeError("is_complex(): argument 'input' (position 1) must be Tensor, "
                        f"not {type(input).__name__}")
    return jnp.issubdtype(input.dtype, jnp.complexfloating)


def finfo(type: Any = None) -> jnp.finfo:
    """Machine limits of a float dtype (default: the default dtype).

    PyTorch: ``torch.finfo``; the object is ``jnp.finfo`` (``eps``, ``max``, ``min``,
    ``tiny``, ``smallest_normal``, ``resolution``, ``bits``).
    """
    dtype = jnp.dtype(get_default_dtype() if type is None else type)
    if not jnp.issubdtype(dtype, jnp.inexact):
        raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo "
                        "to handle 'torch.finfo'")
    return jnp.finfo(dtype)


def iinfo(type: Any) -> jnp.iinfo:
    """Machine limits of an integer dtype.  PyTorch: ``torch.iinfo`` (here ``jnp.iinfo``)."""
    dtype = jnp.dtype(type)
    if dtype == jnp.bool_:
        raise TypeError("torch.bool is not supported by torch.iinfo")
    if not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to "
                        "handle 'torch.iinfo'")
    return jnp.iinfo(dtype)


# -- helpers for the creation functions ---------------------------------------------------


def torch_name(dtype: Any) -> str:
    """torch's spelling of a dtype in error messages (``Float``, ``Long``, ...)."""
    name = jnp.dtype(dtype).name
    return _TORCH_NAMES.get(name, name)


def torch_repr(dtype: Any) -> str:
    """torch's ``repr`` of a dtype (``torch.float32``, ``torch.int64``), as its messages
    print it."""
    return f"torch.{jnp.dtype(dtype).name}"


def cpp_name(dtype: Any) -> str:
    """torch's C++ spelling of a dtype (``float``, ``c10::Half``, ``long int``)."""
    name = jnp.dtype(dtype).name
    return _CPP_NAMES.get(name, name)


def _warn_64(dtype: np.dtype) -> None:
    if dtype.name in _warned:
        return
    _warned.add(dtype.name)
    small = jax.dtypes.canonicalize_dtype(dtype).name
    warnings.warn(
        f"{dtype.name} was requested but JAX's 64-bit mode is off, so jnn uses {small}. "
        "Turn it on at start-up with jax.config.update('jax_enable_x64', True) for "
        "torch's 64-bit dtypes. (Warned once per dtype.)",
        UserWarning, stacklevel=_user_stacklevel(),
    )


def _user_stacklevel() -> builtins.int:
    """The ``stacklevel`` that points a warning at the first frame outside jnn."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def resolve_dtype(dtype: Any, name: str | None = None) -> np.dtype:
    """The dtype JAX will actually use for an explicitly requested ``dtype``.

    A 64-bit request with x64 off becomes 32 bits, with a one-time warning.  A string
    (``'float32'``) is refused as torch refuses it; ``name`` is the function to name.
    """
    if isinstance(dtype, str):
        where = f"{name}(): argument" if name else "argument"
        raise TypeError(f"{where} 'dtype' must be torch.dtype, not str")
    requested = jnp.dtype(dtype)
    actual = jax.dtypes.canonicalize_dtype(requested)
    if actual != requested:
        _warn_64(requested)
    return actual


def default_float() -> np.dtype:
    """The default float dtype as JAX will make it (float64 → float32 with x64 off)."""
    return jax.dtypes.canonicalize_dtype(jnp.dtype(_default_dtype))


def default_complex() -> np.dtype:
    """torch's complex counterpart of the default dtype (complex64 for float32)."""
    wide = jnp.dtype(_default_dtype) == jnp.float64
    return jax.dtypes.canonicalize_dtype(jnp.complex128 if wide else jnp.complex64)


def default_int() -> np.dtype:
    """torch's int64, as JAX makes it: int64 with x64 on, int32 without (silently)."""
    return jax.dtypes.canonicalize_dtype(jnp.int64)
