"""Private helpers shared by the ``jnn.nn.functional`` families.

Everything here is static: it reads shapes, dtypes and Python arguments, never array
values, so it costs nothing under ``jax.jit`` and never forces a host sync.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jnn._tensor_functions import dtypes as _dtypes
from jnn._tensor_functions._common import broadcast_shape as broadcast_shapes
from jnn.nn.functional._dispatch import in_dispatch_trace, warn

# torch's names of dtypes in its messages: ``Long`` (``torch_dtype_name``) and its C++
# kernels' ``c10::Half`` (``torch_cpp_type_name``), one table each in jnn
torch_dtype_name = _dtypes.torch_name
torch_cpp_type_name = _dtypes.cpp_name


def not_implemented_for(kernel: str, dtype: object) -> NotImplementedError:
    """torch's dispatch refusal of a dtype: ``"im2col_out_cpu" not implemented for 'Int'``."""
    return NotImplementedError(f'"{kernel}" not implemented for \'{torch_dtype_name(dtype)}\'')


# The scalar types with a legacy ``torch.<Name>Tensor`` class; torch prints every other type
# (Bool, BFloat16, the complex and unsigned types) as ``CPU<Name>Type``.
_LEGACY_TENSOR_TYPES = ("Float", "Double", "Half", "Byte", "Char", "Short", "Int", "Long")


def torch_tensor_type_name(dtype: jnp.dtype) -> str:
    """A CPU tensor's type as torch's argument checks print it: ``torch.FloatTensor``,
    ``CPUBoolType``."""
    name = torch_dtype_name(dtype)
    return f"torch.{name}Tensor" if name in _LEGACY_TENSOR_TYPES else f"CPU{name}Type"


def torch_size(shape: Sequence[int]) -> str:
    """``shape`` rendered as torch renders a size: ``torch.Size([2, 3])``.

    Used where torch's message prints a ``torch.Size`` so that regexes written
    against torch's messages match jnn's.
    """
    return f"torch.Size({list(shape)})"


def normalize_dim(dim: int, ndim: int) -> int:
    """Wrap a possibly negative ``dim`` into ``[0, ndim)``, with torch's IndexError.

    As in torch, a 0-d array accepts ``dim`` in ``[-1, 0]``.
    """
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], "
            f"but got {dim})"
        )
    return dim % rank


def size_at(shape: Sequence[int], dim: int) -> int:
    """``shape[dim]`` with the IndexError torch's ``tensor.size(dim)`` raises."""
    if len(shape) == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    rank = len(shape)
    if not -rank <= dim < rank:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], "
            f"but got {dim})"
        )
    return shape[dim]


def check_inplace_broadcast(out_shape: Sequence[int], other_shape: Sequence[int]) -> None:
    """Check ``other`` broadcasts onto ``out`` without growing it (torch's in-place ops).

    torch computes several losses with in-place ops (``loss.mul_(weight)``), so a weight
    that would enlarge the result is an error there, with this wording.
    """
    full = broadcast_shapes(out_shape, other_shape)
    if full != tuple(out_shape):
        raise RuntimeError(
            f"output with shape {list(out_shape)} doesn't match the broadcast shape {list(full)}"
        )


# --------------------------------------------------------------------------- reduction
_REDUCTIONS = ("none", "mean", "sum")


def legacy_get_string(size_average: bool | None, reduce: bool | None, stacklevel: int = 3) -> str:
    """Map the deprecated ``size_average``/``reduce`` pair to a reduction, warning as torch.

    Mirrors ``torch.nn._reduction.legacy_get_string``: a missing flag counts as True.
    ``stacklevel`` counts from this function; the default suits a call made directly by a
    public loss, so that the warning points at the user's line.
    """
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        reduction = "mean"
    elif reduce:
        reduction = "sum"
    else:
        reduction = "none"
    warn(
        "size_average and reduce args will be deprecated, please use "
        f"reduction='{reduction}' instead.",
        stacklevel=stacklevel,
    )
    return reduction


def get_reduction(
    reduction: str,
    size_average: bool | None = None,
    reduce: bool | None = None,
    stacklevel: int = 3,
) -> str:
    """Resolve a loss's reduction to one of ``'none'``, ``'mean'``, ``'sum'``.

    The legacy flags win when either is given (torch's rule); ``'elementwise_mean'`` is
    accepted with torch's deprecation warning; anything else raises torch's ValueError.
    ``stacklevel`` as in :func:`legacy_get_string`.
    """
    if size_average is not None or reduce is not None:
        return legacy_get_string(size_average, reduce, stacklevel + 1)
    if reduction == "elementwise_mean":
        warn(
            "reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
            stacklevel=stacklevel,
        )
        return "mean"
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def reduce_loss(loss: jax.Array, reduction: str) -> jax.Array:
    """Apply an already validated reduction to an elementwise loss."""
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss


def numel(shape: Sequence[int]) -> int:
    return math.prod(shape)


# --------------------------------------------------------------------------- layer checks
def check_input_dim(input: jax.Array, allowed: Sequence[int], what: str = "input") -> None:
    """torch's rank check: ``expected 4D input (got 3D input)`` as a ValueError.

    ``allowed`` lists the accepted ranks, e.g. ``(3, 4)`` for a layer taking batched and
    unbatched input; the message names them as torch's ``_check_input_dim`` does
    (``expected 2D or 3D input (got 4D input)``).
    """
    if not hasattr(input, "ndim"):  # torch's layers call input.dim()
        raise AttributeError(f"'{type(input).__name__}' object has no attribute 'dim'")
    ndim = jnp.ndim(input)
    if ndim not in allowed:
        expected = " or ".join(f"{d}D" for d in allowed)
        raise ValueError(f"expected {expected} {what} (got {ndim}D {what})")


def check_same_dtype(*arrays: jax.Array | None, op: str = "") -> None:
    """Refuse mixed floating dtypes as torch does instead of promoting.

    torch: ``mat1 and mat2 must have the same dtype, but got Float and BFloat16``. jnn
    raises the same RuntimeError wording (``op`` names the operands when given).
    """
    dtypes = [jnp.result_type(a) for a in arrays if a is not None]
    if len({d for d in dtypes}) > 1:
        names = [torch_dtype_name(d) for d in dtypes]
        what = op or "Input and weight"
        raise RuntimeError(f"{what} must have the same dtype, but got "
                           + " and ".join(names))


# --------------------------------------------------------------------------- argument types
def type_name(value: object) -> str:
    """A Python type as torch's argument parser prints it (CPython's ``tp_name``): ``str``,
    ``NoneType``, ``Foo`` for a class defined in Python, ``numpy.ndarray`` for an
    extension type."""
    cls = type(value)
    if cls.__module__ == "builtins" or cls.__flags__ & (1 << 9):  # Py_TPFLAGS_HEAPTYPE
        return cls.__name__
    return f"{cls.__module__}.{cls.__name__}"


def _argument_error(fn: str, name: str, position: int | None, kind: str,
                    value: object) -> TypeError:
    shown = "Tensor" if isinstance(value, jax.Array) else type_name(value)
    where = "" if position is None else f" (position {position})"  # (keyword-only: none)
    return TypeError(f"{fn}(): argument '{name}'{where} must be {kind}, not {shown}"
                     + traced_note(value))


def traced_note(value: object) -> str:
    """What to do about an array computed inside ``jnn.compile``/``jax.jit`` given where a
    Python number is needed at trace time (a shape, a static option); "" for anything
    else.  Eagerly a 0-d integer array is taken as an int, as torch takes it."""
    if (not isinstance(value, jax.core.Tracer) or getattr(value, "ndim", None) != 0
            or in_dispatch_trace()):  # (eager dispatch traced the caller's concrete array)
        return ""
    return (". (jnn: an array computed inside jnn.compile or jax.jit has no value while the "
            "function is traced, and this argument fixes a shape or an option of the "
            "program; compute it outside and pass a Python number — int(t.max()) + 1 — or "
            "a constant)")


def check_number(value: object, fn: str, name: str, position: int | None,
                 kind: str = "Number") -> None:
    """torch's parser check for a ``Scalar`` argument (a Python or NumPy number, or a 0-d
    array): ``threshold(): argument 'threshold' (position 2) must be Number, not str``.
    (``kind``: the word torch's signature uses, ``float`` for ``pad``'s value.)"""
    if isinstance(value, numbers.Number) or (isinstance(value, jax.Array) and value.ndim == 0):
        return
    raise _argument_error(fn, name, position, kind, value)


def check_bool(value: object, fn: str, name: str, position: int | None) -> None:
    """torch's parser check for a ``bool`` argument (a NumPy bool or an int is refused, as
    torch refuses them): ``dropout(): argument 'train' (position 3) must be bool, not str``."""
    if type(value) is not bool:
        raise _argument_error(fn, name, position, "bool", value)


def is_int(value: object) -> bool:
    """An int to torch's parser: an int (no bool), a NumPy integer, a 0-d integer array."""
    if isinstance(value, (jax.Array, np.ndarray)):
        return value.ndim == 0 and jnp.issubdtype(value.dtype, jnp.integer)
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_int(value: object, fn: str, name: str, position: int | None) -> int:
    """torch's parser check for an ``int`` argument (a bool is refused, a NumPy integer
    accepted): ``flatten(): argument 'start_dim' (position 1) must be int, not str``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    raise _argument_error(fn, name, position, "int", value)


def as_input(value: object) -> jax.Array:
    """The one way an ``F.*`` function reaches an array.

    A Parameter passed straight to a functional (``F.linear(x, model.fc.weight)`` outside
    ``forward``) unwraps through a logged read, so a differentiated closure gives it a
    gradient; ``jnp.asarray`` would go through ``__array__`` and silently drop it.
    """
    from jnn.nn.parameter import Parameter, _read

    if isinstance(value, Parameter):
        return _read(value)
    return jnp.asarray(value)
