"""Padding: ``pad`` in torch's four modes, negative (cropping) amounts included.

``pad`` lists amounts from the LAST dimension backwards, as torch does:
``(left, right)`` pads the last dimension, ``(left, right, top, bottom)`` the last two,
and so on. A negative amount removes that many elements from that side.

* ``'constant'`` lowers to one ``lax.pad`` (negative amounts crop); any rank.
* ``'reflect'``, ``'replicate'``, ``'circular'`` pad the last 1, 2 or 3 dimensions of a
  batched or unbatched input; each padded dimension is one gather with a static index
  vector, so gradients scatter-add exactly as torch's backward kernels do.

The index rules are torch's (checked element by element against its kernels, negative
amounts included): output position ``j`` reads input ``j - left`` mirrored about the
first and last element (reflect), clamped (replicate); circular first crops by the
negative amounts and then wraps around what is left.

Every check reads static shapes and arguments and raises torch's exception type with
its wording.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from jnn.nn.functional._utils import check_number, not_implemented_for

__all__ = ["pad"]

_NON_CONSTANT = ("reflect", "replicate", "circular")


def _as_pad_tuple(pad: Sequence[int]) -> tuple[int, ...]:
    """torch's argument parser: a sequence of Python ints (numpy ints allowed)."""
    if isinstance(pad, (int, np.integer)):
        return (int(pad),)
    pads = tuple(pad)
    for pos, amount in enumerate(pads):
        if isinstance(amount, bool) or not isinstance(amount, (int, np.integer)):
            raise TypeError(
                "pad(): argument 'pad' (position 2) must be tuple of ints, but found element "
                f"of type {type(amount).__name__} at pos {pos}")
    return tuple(int(a) for a in pads)


def _pairs(pads: tuple[int, ...], ndim: int) -> list[tuple[int, int, int]]:
    """``(axis, before, after)`` for each padded axis, last axis first."""
    return [(ndim - 1 - i, pads[2 * i], pads[2 * i + 1]) for i in range(len(pads) // 2)]


def _check_lengths(pads: tuple[int, ...], ndim: int) -> None:
    if len(pads) % 2 != 0:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pads) // 2 > ndim:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension "
            f"but got padding length {len(pads)} and input of dimension {ndim}")


def _constant_pad(x: jax.Array, pads: tuple[int, ...], value: float | None) -> jax.Array:
    config = [(0, 0, 0)] * x.ndim
    for axis, before, after in _pairs(pads, x.ndim):
        # torch crops first (a narrow), then pads
        if x.shape[axis] + min(before, 0) + min(after, 0) < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
        config[axis] = (before, after, 0)
    # torch casts the fill value to the input's dtype (1.5 -> 1 for an int64 tensor)
    fill = jnp.asarray(0 if value is None else value).astype(x.dtype)
    return lax.pad(x, fill, config)


def unsupported_padding(size: int, ndim: int) -> NotImplementedError:
    """torch's refusal of a non-constant padding of ``size`` numbers for an ``ndim`` input."""
    return NotImplementedError(
        f"Padding size {size} is not supported for {ndim}D input tensor.\n"
        "Supported combinations for non-constant padding:\n"
        "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
        "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
        "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def _check_non_constant(x: jax.Array, pads: tuple[int, ...], mode: str) -> None:
    """torch's rank, size and amount checks for the reflect/replicate/circular kernels."""
    k = len(pads) // 2
    if not 1 <= k <= 3 or x.ndim not in (k + 1, k + 2):
        raise unsupported_padding(len(pads), x.ndim)
    if mode == "circular":
        _check_circular(x.shape, pads)
        return
    if any(size == 0 for size in x.shape[x.ndim - k - 1:]):
        raise RuntimeError(
            f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 batch size and "
            f"other non-zero dimensions for input, but got: {list(x.shape)}")
    out_shape = list(x.shape)
    for i, (axis, before, after) in enumerate(_pairs(pads, x.ndim)):
        if mode == "reflect" and (before >= x.shape[axis] or after >= x.shape[axis]):
            raise RuntimeError(
                f"Argument #{4 + 2 * i}: Padding size should be less than the corresponding "
                f"input dimension, but got: padding ({before}, {after}) at dimension {axis} "
                f"of input {list(x.shape)}")
        out_shape[axis] = x.shape[axis] + before + after
    _check_output_size(x.shape, out_shape, k, mode)
    if x.dtype == jnp.bool_:  # torch's reflection/replication kernels take numbers only
        raise not_implemented_for(f"{'reflection' if mode == 'reflect' else 'replication'}"
                                  f"_pad{k}d", x.dtype)


def _check_output_size(in_shape: tuple[int, ...], out_shape: list[int], k: int,
                       mode: str) -> None:
    # torch refuses when every padded output size is below 1 (its wording differs per
    # rank and mode); a negative size that passes that check fails at allocation.
    if all(size < 1 for size in out_shape[-k:]):
        names = "DHW"[3 - k:]
        sizes = dict(zip(names, in_shape[-k:]))
        outs = " ".join(f"{n}: {o}" for n, o in zip(names, out_shape[-k:]))
        if k == 1:
            given = f"W: {sizes['W']}"
        elif k == 2:
            given = f"H: {sizes['H']}, W: {sizes['W']}" + (" " if mode == "replicate" else "")
        else:
            given = f"D: {sizes['D']} H: {sizes['H']}, W: {sizes['W']}"
        raise RuntimeError(f"input ({given}) is too small. Calculated output {outs}")
    for size in out_shape:
        if size < 0:
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {size}: {out_shape}")


def _check_circular(shape: tuple[int, ...], pads: tuple[int, ...]) -> None:
    # torch's checks, outermost padded dimension first, as its kernel runs them
    pairs = _pairs(pads, len(shape))[::-1]
    for axis, before, after in pairs:
        if before > shape[axis] or after > shape[axis]:
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if shape[axis] + before + after < 0:
            raise RuntimeError("Negative padding value is resulting in an empty dimension")
    for axis, before, after in pairs:
        # jnn also refuses to wrap further than what a negative amount on the other side
        # leaves: torch reads uninitialised memory there (or fails on aliasing).
        if max(before, after) > shape[axis] + min(before, 0) + min(after, 0):
            raise RuntimeError("Padding value causes wrapping around more than once.")


def _source_indices(size: int, before: int, after: int, mode: str) -> np.ndarray:
    """The input index read by each output position along one axis (static)."""
    if mode == "circular":
        start = max(-before, 0)
        kept = size - start - max(-after, 0)
        out = np.arange(kept + max(before, 0) + max(after, 0)) - max(before, 0)
        return start + np.mod(out, max(kept, 1))
    coord = np.arange(size + before + after) - before
    if mode == "replicate":
        return np.clip(coord, 0, size - 1)
    coord = np.abs(coord)  # reflect about the first element ...
    return np.where(coord > size - 1, 2 * (size - 1) - coord, coord)  # ... and the last


def pad(input: ArrayLike, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> jax.Array:
    """Pad (or, with negative amounts, crop) the trailing dimensions of ``input``.

    Args:
        input: the array to pad.
        pad: amounts ``(left_last, right_last, left_second_last, ...)``; an even number of
            ints, at most ``2 * input.ndim``; negative amounts crop.
        mode: ``'constant'`` (any rank), or ``'reflect'``, ``'replicate'``,
            ``'circular'`` (the last 1, 2 or 3 dimensions of a batched or unbatched input:
            ``len(pad) // 2 + 1`` or ``+ 2`` dimensions).
        value: the fill value of ``'constant'`` (default 0); other modes take none.

    Shape:
        - Output: each padded dimension grows to
          :math:`\\text{size} + \\text{left} + \\text{right}`.

    PyTorch: ``torch.nn.functional.pad``. Reflect padding needs each amount below the
    dimension's size, as torch; circular padding refuses to wrap more than once, and (where
    torch returns uninitialised memory) to wrap further than the cropped size.

    Example:
        >>> import jax.numpy as jnp
        >>> pad(jnp.ones((1, 2, 3)), (1, 2), mode="reflect").shape
        (1, 2, 6)
    """
    if value is not None:
        check_number(value, "pad", "value", 4, kind="float")
    x = jnp.asarray(input)
    pads = _as_pad_tuple(pad)
    _check_lengths(pads, x.ndim)
    if mode == "constant":
        return _constant_pad(x, pads, value)
    if mode not in _NON_CONSTANT:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    _check_non_constant(x, pads, mode)
    for axis, before, after in _pairs(pads, x.ndim):
        if before == 0 and after == 0:
            continue
        index = _source_indices(x.shape[axis], before, after, mode)
        x = jnp.take(x, jnp.asarray(index, jnp.int32), axis=axis, mode="clip")
    return x
