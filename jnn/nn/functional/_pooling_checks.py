"""Static argument and shape checks for the pooling functions, with torch's wording.

torch validates pooling in several kernels with different messages (``max_pool1d`` has its
own, the ``_with_indices`` and average forms go through ``max_pool2d``'s checks, 3-d
average pooling has one more); each helper here names the kernel whose wording it follows.
Everything reads Python arguments and static shapes only: free under ``jax.jit``.
"""

from __future__ import annotations

import collections.abc
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from jnn.nn.functional._utils import is_int, size_at, torch_dtype_name, traced_note

_WORDS = {1: "one", 2: "two", 3: "three"}
# torch's per-dimension letters in its messages: kT/kH/kW, padT/padH/padW, ...
_LETTERS = {1: ("W",), 2: ("H", "W"), 3: ("T", "H", "W")}


def _cdiv(a: int, b: int) -> int:
    """C++ integer division (truncates toward zero), as torch's checks compute it."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _is_sequence(value: object) -> bool:
    """A sequence of sizes, not one size (a 0-d integer array is one, as a 0-d tensor is to
    torch's parser)."""
    return (isinstance(value, collections.abc.Iterable) and not isinstance(value, str)
            and getattr(value, "ndim", 1) != 0)


def as_tuple(value: object, n: int, message: str | None, allow_empty: bool = False
             ) -> tuple[int, ...] | None:
    """``value`` as an ``n``-tuple (an int repeats); RuntimeError(message) on a bad length.

    ``message`` None means torch's argument-parser wording is used by the caller instead.
    Returns None for an empty sequence when ``allow_empty`` (torch's "stride omitted").
    """
    if _is_sequence(value):
        items = tuple(int(v) for v in value)
        if allow_empty and not items:
            return None
        if len(items) == 1:
            return items * n
        if len(items) != n:
            raise RuntimeError(message)
        return items
    return (int(value),) * n


def parser_tuple(value: object, name: str, fn: str) -> tuple[int]:
    """A one-element argument of a 1-d function, with torch's argument-parser message."""
    if _is_sequence(value):
        items = tuple(int(v) for v in value)
        if len(items) != 1:
            raise RuntimeError(
                f"{fn}() argument '{name}' should contain one int (got {len(items)})")
        return items
    return (int(value),)


def check_dtype(x: jax.Array, kernel: str, allow_int: bool, long_only: bool = False) -> None:
    """torch's dispatch refusal (``"avg_pool2d" not implemented for 'Bool'``).

    ``long_only``: of the integer types only torch's Long passes (its average pools);
    int32 stands for Long where JAX's 64-bit mode is off, so int32 and int64 pass.
    """
    dtype = jnp.dtype(x.dtype)
    kind = dtype.kind
    refused_int = kind in "iu" and (
        not allow_int or (long_only and dtype.name not in ("int32", "int64")))
    if kind == "b" or refused_int or kind == "c":
        raise NotImplementedError(
            f"\"{kernel}\" not implemented for '{torch_dtype_name(x.dtype)}'")


def output_length(size: int, kernel: int, pad: int, stride: int, dilation: int,
                  ceil_mode: bool) -> int:
    """torch's ``pooling_output_shape``, with its three checks on the way.

    ``floor_or_ceil((L + 2p - d(k-1) - 1) / s) + 1``; in ceil mode the last window must
    start inside the input or the left padding, else it is dropped.
    """
    if stride == 0:
        raise RuntimeError("stride should not be zero")
    if pad < 0:
        raise RuntimeError(f"pad must be non-negative, but got pad: {pad}")
    if pad > _cdiv((kernel - 1) * dilation + 1, 2):
        raise RuntimeError(
            f"pad should be at most half of effective kernel size, but got pad={pad}, "
            f"kernel_size={kernel} and dilation={dilation}")
    span = size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _check_nonempty(shape: Sequence[int], spatial: int, prefix: str = "") -> None:
    if any(s == 0 for s in shape[-spatial - 1:]):
        raise RuntimeError(
            f"{prefix}Expected {spatial + 1}D or {spatial + 2}D (batch mode) tensor with "
            f"optional 0 dim batch size for input, but got:{list(shape)}")


def _per_dim(values: Sequence[int], prefix: str, letters: Sequence[str], sep: str) -> str:
    return sep.join(f"{prefix}{c}: {v}" for c, v in zip(letters, values))


def window_shape_check(shape: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                       padding: Sequence[int], dilation: Sequence[int], out: Sequence[int],
                       avg3d: bool = False) -> None:
    """torch's ``pool2d_shape_check`` / ``pool3d_shape_check`` (after the output sizes).

    1-d pooling with indices and 1-d average pooling run as 2-d with a unit height,
    exactly as torch does, so their messages show ``kH: 1``.
    """
    nd = len(kernel)
    if nd == 1:  # torch views (C, L) as (C, 1, L) here
        shape, kernel, stride = (*shape[:-1], 1, shape[-1]), (1, *kernel), (1, *stride)
        padding, dilation, out = (0, *padding), (1, *dilation), (1, *out)
        nd = 2
    letters = _LETTERS[nd]
    if min(kernel) <= 0:
        raise RuntimeError("kernel size should be greater than zero, but got "
                           + _per_dim(kernel, "k", letters, " "))
    if min(stride) <= 0:
        raise RuntimeError("stride should be greater than zero, but got "
                           + _per_dim(stride, "d", letters, " "))
    if min(dilation) <= 0:
        raise RuntimeError("dilation should be greater than zero, but got "
                           + _per_dim(dilation, "dilation", letters, " "))
    if nd == 2:
        _check_nonempty(shape, 2)
    elif any(s == 0 for s in shape[-4:]):
        kernel_name = "avg_pool3d()" if avg3d else "max_pool3d_with_indices_out_cpu_template()"
        dim = next(i for i, s in enumerate(shape[-4:]) if s == 0)
        raise RuntimeError(
            f"{kernel_name}: Expected input's non-batch dimensions to have positive length, "
            f"but input has a shape of {list(shape)} and non-batch dimension {dim} has "
            "length zero!")
    if any(k // 2 < p for k, p in zip(kernel, padding)):
        if nd == 2:
            raise RuntimeError(
                "pad should be smaller than or equal to half of kernel size, but got "
                f"padW = {padding[1]}, padH = {padding[0]}, kW = {kernel[1]}, kH = {kernel[0]}")
        raise RuntimeError(
            "pad should be smaller than or equal to half of kernel size, but got "
            f"kT: {kernel[0]} kW: {kernel[2]} kH: {kernel[1]} padT: {padding[0]} "
            f"padW: {padding[2]} padH: {padding[1]}")
    if avg3d and any(s < k for s, k in zip(shape[-3:], kernel)):
        raise RuntimeError(
            f"input image (T: {shape[-3]} H: {shape[-2]} W: {shape[-1]}) smaller than kernel "
            f"size (kT: {kernel[0]} kH: {kernel[1]} kW: {kernel[2]})")
    if min(out) < 1:
        channels = shape[-nd - 1]
        given = "x".join(str(s) for s in (channels, *shape[-nd:]))
        calc = "x".join(str(s) for s in (channels, *out))
        raise RuntimeError(f"Given input size: ({given}). Calculated output size: ({calc}). "
                           "Output size is too small")


def check_rank(x: jax.Array, nd: int, kind: str) -> None:
    """The rank check of torch's kernel ``kind`` (``max``, ``avg``) for ``nd`` dims."""
    if kind == "avg" and nd == 2:
        if x.ndim < 3:
            size_at(x.shape, -3)  # torch reads input.size(-3) first: an IndexError
        if x.ndim > 4:
            raise RuntimeError(
                "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for "
                f"input, but got:{list(x.shape)}")
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"non-empty {nd + 1}D or {nd + 2}D (batch mode) tensor expected for input")


def check_rank_1d(x: jax.Array, fn: str) -> None:
    """The rank check of 1-d pooling that runs through torch's 2-d kernels."""
    if x.ndim not in (2, 3):
        raise RuntimeError(
            f"Expected 2 to 3 dimensions, but got {x.ndim}-dimensional tensor for argument #1 "
            f"'self' (while checking arguments for {fn})")


def check_max_pool1d(x: jax.Array, kernel: int, stride: int, padding: int, dilation: int,
                     ceil_mode: bool) -> int:
    """torch's ``max_pool1d`` (the kernel without indices): its own checks and wording."""
    if x.ndim not in (2, 3) or any(s == 0 for s in x.shape[-2:]):
        raise RuntimeError(
            "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size "
            f"for input, but got:{list(x.shape)}")
    for name, value, low in (("kernel_size", kernel, 1), ("stride", stride, 1),
                             ("padding", padding, 0), ("dilation", dilation, 1)):
        if value < low:
            bound = "greater than zero" if low else "non-negative"
            raise RuntimeError(f"max_pool1d() {name} must be {bound}, but got {value}")
    if padding > kernel // 2:
        raise RuntimeError(
            "max_pool1d() padding should be at most half of kernel size, but got "
            f"padding={padding} and kernel_size={kernel}")
    out = output_length(x.shape[-1], kernel, padding, stride, dilation, ceil_mode)
    if out < 1:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {out}")
    return out


def check_int_lists(fn: str, kernel_size, stride, padding, dilation=None) -> None:
    """torch's argument parser on a pool's ``int[]`` arguments (positions 2 to 5, as its
    wrappers and modules pass them): a float, a bool or a str is refused, alone or in a
    sequence (``max_pool2d(): argument 'kernel_size' (position 2) must be tuple of ints,
    not float``), where ``int()`` took them."""
    named = (("kernel_size", kernel_size), ("stride", stride), ("padding", padding),
             ("dilation", dilation))
    for position, (name, value) in enumerate(named, start=2):
        if value is None:
            continue
        prefix = f"{fn}(): argument '{name}' (position {position}) must be tuple of ints"
        if _is_sequence(value):
            for i, v in enumerate(value):
                if not is_int(v):
                    raise TypeError(f"{prefix}, but found element of type "
                                    f"{_parser_name(v)} at pos {i}{traced_note(v)}")
        elif not is_int(value):
            raise TypeError(f"{prefix}, not {_parser_name(value)}{traced_note(value)}")


def _parser_name(value: object) -> str:
    return "Tensor" if isinstance(value, jax.Array) else type(value).__name__


def max_pool1d_args(kernel_size, stride, padding, dilation) -> tuple[tuple[int, ...], ...]:
    """``max_pool1d``'s own argument-length checks (the kernel without indices)."""
    check_int_lists("max_pool1d", kernel_size, stride, padding, dilation)
    def one(value, name, what):
        if _is_sequence(value) and len(tuple(value)) != 1:
            raise RuntimeError(f"max_pool1d() {name} must be {what} of size 1 but got size "
                               f"{len(tuple(value))}")
        return as_tuple(value, 1, None)

    k = one(kernel_size, "kernel_size", "an int, list of ints or tuple of ints")
    empty = stride is None or (isinstance(stride, Sequence) and len(stride) == 0)
    s = k if empty else one(stride, "stride", "None, an int, list of ints, or tuple of ints")
    p = one(padding, "padding", "an int, list of ints, or tuple of ints")
    d = one(dilation, "dilation", "an int, list of ints or tuple of ints")
    return k, s, p, d


def nd_args(fn: str, nd: int, kernel_size, stride, padding, dilation=None
            ) -> tuple[tuple[int, ...], ...]:
    """Normalise 2-d/3-d pooling arguments with the wording of torch's ``fn`` kernel."""
    check_int_lists(fn, kernel_size, stride, padding, dilation)
    word = _WORDS[nd]
    if fn == "avg_pool3d":  # torch words avg_pool3d's checks slightly differently
        texts = ("kernel_size must be a single int", "stride must be omitted, a single int",
                 "padding must be a single int")
    else:
        texts = ("kernel_size must either be a single int",
                 "stride must either be omitted, a single int",
                 "padding must either be a single int")
    k = as_tuple(kernel_size, nd, f"{fn}: {texts[0]}, or a tuple of {word} ints")
    s = None if stride is None else as_tuple(
        stride, nd, f"{fn}: {texts[1]}, or a tuple of {word} ints", allow_empty=True)
    p = as_tuple(padding, nd, f"{fn}: {texts[2]}, or a tuple of {word} ints")
    d = as_tuple(1 if dilation is None else dilation, nd,
                 f"{fn}: dilation must be either a single int, or a tuple of {word} ints")
    return k, (k if s is None else s), p, d


def args_1d(fn: str, kernel_size, stride, padding, dilation=1) -> tuple[tuple[int], ...]:
    """1-d arguments parsed as torch's argument parser does (``should contain one int``)."""
    check_int_lists(fn, kernel_size, stride, padding, dilation)
    k = parser_tuple(kernel_size, "kernel_size", fn)
    empty = stride is None or (isinstance(stride, Sequence) and len(stride) == 0)
    s = k if empty else parser_tuple(stride, "stride", fn)
    return k, s, parser_tuple(padding, "padding", fn), parser_tuple(dilation, "dilation", fn)
