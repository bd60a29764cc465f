"""torch's reshaping functions: ``flatten``, ``squeeze``, ``permute``, ``narrow``, ``roll``, ...

Static checks use torch's exception types and wording; everything is traceable.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jnn._tensor_functions import dtypes
from jnn._tensor_functions._common import (
    concrete_values,
    eager_only,
    input_array,
    refuse_out,
    wrap_dim,
    wrap_dims,
)

__all__ = [
    "flatten", "unflatten", "unsqueeze", "squeeze", "transpose", "swapaxes", "swapdims",
    "permute", "reshape", "movedim", "moveaxis", "narrow", "tril", "triu", "roll", "flip",
    "repeat_interleave", "clone", "detach", "numel", "is_tensor",
]


def flatten(input: jax.Array, start_dim: int = 0, end_dim: int = -1) -> jax.Array:
    """Merge dims ``start_dim..end_dim`` into one (a 0-d array becomes 1-D).

    PyTorch: ``torch.flatten``.
    """
    x = input_array(input, "flatten")
    if x.ndim == 0:
        wrap_dim(start_dim, 0)
        wrap_dim(end_dim, 0)
        return x.reshape(1)
    start, end = wrap_dim(start_dim, x.ndim), wrap_dim(end_dim, x.ndim)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    return x.reshape(*x.shape[:start], math.prod(x.shape[start:end + 1]), *x.shape[end + 1:])


def unflatten(input: jax.Array, dim: int, sizes: Sequence[int]) -> jax.Array:
    """Split dim ``dim`` into ``sizes`` (one may be -1).  PyTorch: ``torch.unflatten``."""
    x = input_array(input, "unflatten")
    d = wrap_dim(dim, x.ndim)
    sizes = [builtins.int(s) for s in sizes]
    known = math.prod(s for s in sizes if s != -1)
    n = x.shape[d]
    if sizes.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if (-1 in sizes and (known == 0 or n % known)) or (-1 not in sizes and known != n):
        raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size of "
                           f"dim {d} ({n}) in the input tensor")
    sizes = [n // known if s == -1 else s for s in sizes]
    return x.reshape(*x.shape[:d], *sizes, *x.shape[d + 1:])


def unsqueeze(input: jax.Array, dim: int) -> jax.Array:
    """Insert a size-1 dim at ``dim`` (in ``[-ndim-1, ndim]``).  PyTorch: ``torch.unsqueeze``."""
    x = input_array(input, "unsqueeze")
    return jnp.expand_dims(x, wrap_dim(dim, x.ndim + 1))


def squeeze(input: jax.Array, dim: int | Sequence[int] | None = None) -> jax.Array:
    """Remove size-1 dims: all, or those among ``dim`` (an int or tuple).

    A listed dim whose size is not 1 is kept (a no-op, as in torch).

    PyTorch: ``torch.squeeze``.
    """
    x = input_array(input, "squeeze")
    dims = wrap_dims(dim, x.ndim, empty_is_all=False)
    return jnp.squeeze(x, tuple(d for d in dims if x.shape[d] == 1))


def transpose(input: jax.Array, dim0: int, dim1: int) -> jax.Array:
    """Swap dims ``dim0`` and ``dim1``.  PyTorch: ``torch.transpose`` (and ``swapaxes``)."""
    x = input_array(input, "transpose")
    return jnp.swapaxes(x, wrap_dim(dim0, x.ndim), wrap_dim(dim1, x.ndim)) if x.ndim else x


def swapaxes(input: jax.Array, axis0: int, axis1: int) -> jax.Array:
    """Alias of :func:`transpose`.  PyTorch: ``torch.swapaxes``."""
    return transpose(input, axis0, axis1)


def swapdims(input: jax.Array, dim0: int, dim1: int) -> jax.Array:
    """Alias of :func:`transpose`.  PyTorch: ``torch.swapdims``."""
    return transpose(input, dim0, dim1)


def permute(input: jax.Array, dims: Sequence[int]) -> jax.Array:
    """Reorder the dims: output dim ``i`` is input dim ``dims[i]``.  PyTorch: ``torch.permute``."""
    x = input_array(input, "permute")
    if len(dims) != x.ndim:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the "
            "length of the desired ordering of dimensions i.e. input.dim() = "
            f"{x.ndim} is not equal to len(dims) = {len(dims)}")
    order = [wrap_dim(d, x.ndim) for d in dims]
    if len(set(order)) != len(order):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return jnp.transpose(x, order)


def reshape(input: jax.Array, shape: Sequence[int]) -> jax.Array:
    """``input``'s values in ``shape`` (one size may be -1).  PyTorch: ``torch.reshape``."""
    x = input_array(input, "reshape")
    shape = [builtins.int(s) for s in shape]
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape and known == 0 and x.size == 0:
        raise RuntimeError(
            f"cannot reshape tensor of 0 elements into shape {shape} because the unspecified "
            "dimension size -1 can be any value and is ambiguous")
    ok = (known != 0 and x.size % known == 0) if -1 in shape else known == x.size
    if not ok:
        raise RuntimeError(f"shape '{shape}' is invalid for input of size {x.size}")
    return x.reshape(shape)


def movedim(input: jax.Array, source: int | Sequence[int],
            destination: int | Sequence[int]) -> jax.Array:
    """Move dims ``source`` to positions ``destination``.  PyTorch: ``torch.movedim``."""
    x = input_array(input, "movedim")
    src = [source] if isinstance(source, builtins.int) else list(source)
    dst = [destination] if isinstance(destination, builtins.int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({src} dims) should contain "
            f"the same number of dims as destination ({dst} dims)")
    src_w = [wrap_dim(d, x.ndim) for d in src]
    dst_w = [wrap_dim(d, x.ndim) for d in dst]
    for name, given, wrapped in (("source", src, src_w), ("destination", dst, dst_w)):
        if len(set(wrapped)) != len(wrapped):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({given})")
    return jnp.moveaxis(x, src_w, dst_w) if x.ndim else x


moveaxis = movedim


def narrow(input: jax.Array, dim: int, start: int | jax.Array, length: int) -> jax.Array:
    """``length`` entries of dim ``dim`` from ``start`` (negative counts from the end).

    ``start`` may be a traced 0-d array under ``jax.jit`` (then it is clamped into range,
    JAX's rule for dynamic slices, instead of checked).

    PyTorch: ``torch.narrow``.
    """
    x = input_array(input, "narrow")
    if x.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, x.ndim)
    n = x.shape[d]
    if isinstance(start, jax.core.Tracer):
        return lax.dynamic_slice_in_dim(x, start % n if n else start, length, axis=d)
    start = builtins.int(start)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but "
                         f"got {start})")
    start = start + n if start < 0 else start
    if length < 0 or start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return lax.slice_in_dim(x, start, start + length, axis=d)


def _triangle(name: str, fn: Any, input: jax.Array, diagonal: int) -> jax.Array:
    x = input_array(input, name)
    if x.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    return fn(x, diagonal)


def tril(input: jax.Array, diagonal: int = 0, *, out: Any = None) -> jax.Array:
    """The lower triangle of the last two dims (``diagonal`` shifts it).  PyTorch: ``tril``."""
    refuse_out(out, "tril")
    return _triangle("tril", jnp.tril, input, diagonal)


def triu(input: jax.Array, diagonal: int = 0, *, out: Any = None) -> jax.Array:
    """The upper triangle of the last two dims (``diagonal`` shifts it).  PyTorch: ``triu``."""
    refuse_out(out, "triu")
    return _triangle("triu", jnp.triu, input, diagonal)


def roll(input: jax.Array, shifts: int | Sequence[int],
         dims: int | Sequence[int] | None = None) -> jax.Array:
    """Rotate entries along ``dims`` by ``shifts`` (no dims: the flattened array).

    PyTorch: ``torch.roll``.
    """
    x = input_array(input, "roll")
    shifts_t = (shifts,) if isinstance(shifts, builtins.int) else tuple(shifts)
    if dims is None:
        return jnp.roll(x.reshape(-1), shifts_t[0] if len(shifts_t) == 1 else shifts_t
                        ).reshape(x.shape)
    dims_t = (dims,) if isinstance(dims, builtins.int) else tuple(dims)
    if len(shifts_t) != len(dims_t):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts_t)}, "
                           f"dims:{len(dims_t)}")
    if x.ndim == 0:
        raise IndexError(f"Dimension specified as {dims_t[0]} but tensor has no dimensions")
    return jnp.roll(x, shifts_t, tuple(wrap_dim(d, x.ndim) for d in dims_t))


def flip(input: jax.Array, dims: Sequence[int]) -> jax.Array:
    """Reverse the order of entries along ``dims`` (a tuple or list).  PyTorch: ``torch.flip``."""
    if not isinstance(dims, (tuple, list)):
        raise TypeError("flip(): argument 'dims' (position 2) must be tuple of ints, not "
                        f"{type(dims).__name__}")
    x = input_array(input, "flip")
    return jnp.flip(x, wrap_dims(tuple(dims), x.ndim, empty_is_all=False)) if dims else x


def repeat_interleave(input: jax.Array, repeats: int | jax.Array | None = None,
                      dim: int | None = None, *, output_size: int | None = None) -> jax.Array:
    """Repeat each entry ``repeats`` times along ``dim`` (no dim: the flattened array).

    ``repeat_interleave(repeats)`` alone gives ``arange(n)`` repeated by ``repeats``.

    Args:
        input: the array (or the repeats, in the one-argument form).
        repeats: an int, or an integer array with one count per entry along ``dim``.
        dim: the dimension to repeat along.
        output_size: the total length along ``dim``; needed under ``jax.jit`` when
            ``repeats`` is an array (the output's shape depends on its values).

    PyTorch: ``torch.repeat_interleave``.
    """
    if repeats is None:
        counts = input_array(input, "repeat_interleave")
        return repeat_interleave(jnp.arange(counts.shape[0], dtype=counts.dtype), counts, 0,
                                 output_size=output_size)
    x = input_array(input, "repeat_interleave")
    if dim is None:
        x, d = x.reshape(-1), 0
    else:
        d = wrap_dim(dim, x.ndim)
        x = x.reshape(1) if x.ndim == 0 else x
    if isinstance(repeats, (jax.Array, np.ndarray)):
        if not jnp.issubdtype(repeats.dtype, jnp.integer):
            raise NotImplementedError('"repeat_interleave_cpu" not implemented for '
                                      f"'{dtypes.torch_name(repeats.dtype)}'")
        if repeats.ndim > 0 and repeats.shape[0] not in (1, x.shape[d]):
            raise RuntimeError(
                "repeats must have the same size as input along dim, but got repeats.size(0) "
                f"= {repeats.shape[0]} and input.size({d}) = {x.shape[d]}")
        if output_size is None:
            eager_only("repeat_interleave", repeats, hint=", or pass output_size=")
        _check_repeat_values(repeats, x.shape[d], output_size)
        return jnp.repeat(x, repeats, axis=d, total_repeat_length=output_size)
    if repeats < 0:
        raise RuntimeError("Repeats must be non-negative")
    return jnp.repeat(x, builtins.int(repeats), axis=d)


def _check_repeat_values(repeats: Any, size: int, output_size: int | None) -> None:
    """torch's eager checks of an array of repeats (skipped inside a trace)."""
    values = concrete_values(repeats)
    if values is None:
        return
    # one count broadcasts over every entry along dim; torch compares the total first
    total = builtins.int(values.sum()) * (size if values.size == 1 else 1)
    if output_size is not None and output_size != total:
        raise RuntimeError("allocated size does not match required size")
    if (values < 0).any():
        raise RuntimeError("repeats can not be negative")


def clone(input: jax.Array, *, memory_format: Any = None) -> jax.Array:
    """A copy of ``input`` (JAX arrays are immutable: rarely needed).  PyTorch: ``torch.clone``."""
    return jnp.array(input_array(input, "clone"), copy=True)


def detach(input: jax.Array) -> jax.Array:
    """``input`` with gradients stopped (``lax.stop_gradient``).  PyTorch: ``torch.detach``."""
    return lax.stop_gradient(input_array(input, "detach"))


def numel(input: jax.Array) -> builtins.int:
    """The number of entries, a Python int.  PyTorch: ``torch.numel``."""
    return math.prod(jnp.shape(input_array(input, "numel")))


def is_tensor(obj: Any) -> builtins.bool:
    """Whether ``obj`` is a JAX array (traced arrays included).  PyTorch: ``torch.is_tensor``."""
    return isinstance(obj, jax.Array)
