"""Adaptive and fractional max/average pooling (re-exported by ``functional.pooling``).

Adaptive windows are torch's ``[floor(i L / out), ceil((i + 1) L / out))``: static, so they
become static index arrays (a gather per window offset, the unused tail of shorter windows
masked); when the output tiles the input they are plain ``reduce_window`` windows.
Fractional windows start at torch's pseudo-random offsets, computed on the device from the
``_random_samples`` in ``[0, 1)``; pass torch's samples to reproduce its output exactly.
"""

from __future__ import annotations

import collections.abc
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jnn import random as jnn_random
from jnn.nn.functional import _pooling_checks as chk
from jnn.nn.functional import _pooling_kernels as K
from jnn.nn.functional._utils import size_at, torch_dtype_name

__all__ = [
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "fractional_max_pool2d", "fractional_max_pool3d",
    "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices",
]


def batched(x: jax.Array, nd: int) -> tuple[jax.Array, Callable[[jax.Array], jax.Array]]:
    """``x`` with a batch dim (torch views ``(C, *spatial)`` as one sample) and its undo."""
    if x.ndim == nd + 2:
        return x, lambda y: y
    return x[None], lambda y: y[0]


# --------------------------------------------------------------------------- adaptive
def _output_size(output_size, shape, nd: int, fn: str) -> tuple[int, ...]:
    """Normalise ``output_size`` (``None`` keeps the input's size), as torch's Python layer."""
    if nd == 1:
        if output_size is None:
            raise TypeError(f"{fn}(): argument 'output_size' (position 2) must be tuple of "
                            "ints, not NoneType")
        return chk.parser_tuple(output_size, "output_size", fn)
    if not isinstance(output_size, collections.abc.Iterable):
        if not hasattr(output_size, "__index__"):  # torch's len(output_size) on a non-int
            raise TypeError(f"object of type '{type(output_size).__name__}' has no len()")
        return (int(output_size),) * nd
    sizes = tuple(output_size)
    for pos, size in enumerate(sizes):
        if size is not None and not hasattr(size, "__index__"):
            raise TypeError(f"{fn}(): argument 'output_size' (position 2) must be tuple of "
                            f"ints, but found element of type {type(size).__name__} at pos "
                            f"{pos}")
    if len(shape) <= len(sizes):
        raise ValueError(f"Input dimension should be at least {len(sizes) + 1}")
    sizes = tuple(s if s is not None else d for s, d in zip(sizes, shape[-len(sizes):]))
    if len(sizes) == 1:
        return sizes * nd
    return tuple(int(s) for s in sizes)


def _check_adaptive(x: jax.Array, out: tuple[int, ...], nd: int, kind: str, fn: str) -> None:
    """torch's adaptive pooling checks; 1-d runs as 2-d where torch's kernel does."""
    if nd == 1:
        chk.check_rank_1d(x, fn)
    elif x.ndim not in (nd + 1, nd + 2):
        got = ": " if kind == "max" else " "
        raise RuntimeError(f"{fn}(): Expected {nd + 1}D or {nd + 2}D tensor, but got"
                           f"{got}{list(x.shape)}")
    if len(out) != nd:
        if kind == "max":
            raise RuntimeError(f"{fn}(): internal error: output_size.size() must be {nd}")
        raise RuntimeError(f"{fn}: output_size must be {nd}")
    # the 1-d average pools as 2-d with a unit height, its messages show that view
    view = (x.shape[:-1] + (1, x.shape[-1])) if (nd == 1 and kind == "avg") else x.shape
    view_out = (1,) + out if (nd == 1 and kind == "avg") else out
    if kind == "avg" and min(view_out) < 0:
        listed = ", ".join(str(o) for o in view_out[:2]) + "".join(
            f",{o}" for o in view_out[2:])
        name = "adaptive_avg_pool2d" if nd == 1 else fn
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal "
                           f"to 0 but received {{{listed}}}")
    # torch's 2-d average kernel checks only the two pooled dims (a zero-size channel or
    # batch passes); the others skip dim 0 even unbatched, where it is the channel dim
    first = len(view) - 2 if (kind == "avg" and nd < 3) else 1
    for dim in range(first, len(view)):
        if view[dim] == 0:
            name = "adaptive_avg_pool2d" if (nd == 1 and kind == "avg") else fn
            raise RuntimeError(
                f"{name}(): Expected input to have non-zero size for non-batch dimensions, "
                f"but input has sizes {list(view)} with dimension {dim} being empty")
    if kind == "max" and min(out) < 0:
        shape = list(x.shape[:-nd]) + ([1] if nd == 1 else []) + list(out)
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(out)}: "
                           f"{shape}")
    kernel = {(1, "max"): "adaptive_max_pool2d", (1, "avg"): "adaptive_avg_pool2d",
              (2, "max"): "adaptive_max_pool2d", (2, "avg"): "adaptive_avg_pool2d",
              (3, "max"): "adaptive_max_pool3d_cpu", (3, "avg"): "adaptive_avg_pool3d_cpu"}
    chk.check_dtype(x, kernel[nd, kind], allow_int=False)


def _adaptive_max(input, output_size, nd, return_indices, fn):
    x = jnp.asarray(input)
    out = _output_size(output_size, x.shape, nd, fn)
    _check_adaptive(x, out, nd, "max", fn)
    xb, unbatch = batched(x, nd)
    y, idx = K.adaptive_max_pool(xb, out)
    return (unbatch(y), unbatch(idx)) if return_indices else unbatch(y)


def _adaptive_avg(input, output_size, nd, fn):
    x = jnp.asarray(input)
    out = _output_size(output_size, x.shape, nd, fn)
    _check_adaptive(x, out, nd, "avg", fn)
    xb, unbatch = batched(x, nd)
    return unbatch(K.adaptive_avg_pool(xb, out))


def adaptive_max_pool1d(input: ArrayLike, output_size, return_indices: bool = False):
    """1-d adaptive max pooling to ``output_size`` over ``(N, C, L)`` or ``(C, L)``.

    Args and Shape as :func:`adaptive_max_pool2d` with one spatial dim.

    PyTorch: ``torch.nn.functional.adaptive_max_pool1d``.

    Example:
        >>> import jax.numpy as jnp
        >>> adaptive_max_pool1d(jnp.ones((2, 3, 10)), 4).shape
        (2, 3, 4)
    """
    return _adaptive_max(input, output_size, 1, return_indices, "adaptive_max_pool1d")


def adaptive_max_pool1d_with_indices(input: ArrayLike, output_size,
                                     return_indices: bool = False):
    """:func:`adaptive_max_pool1d` returning ``(output, indices)``.

    PyTorch: ``torch.nn.functional.adaptive_max_pool1d_with_indices``.
    """
    return _adaptive_max(input, output_size, 1, True, "adaptive_max_pool1d")


def adaptive_max_pool2d(input: ArrayLike, output_size, return_indices: bool = False):
    """2-d adaptive max pooling: the output has ``output_size`` whatever the input size.

    Output cell ``i`` covers input rows ``[floor(i H / H_out), ceil((i + 1) H / H_out))``
    (likewise columns); windows overlap when the sizes do not divide.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        output_size: an int or ``(H_out, W_out)``; ``None`` keeps the input's size.
        return_indices: also return the flat ``H * W`` index of each maximum.

    Shape:
        - Output: ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``.

    PyTorch: ``torch.nn.functional.adaptive_max_pool2d`` (same ties/NaN rule as
    :func:`max_pool2d`).

    Example:
        >>> import jax.numpy as jnp
        >>> adaptive_max_pool2d(jnp.ones((1, 64, 8, 9)), (5, 7)).shape
        (1, 64, 5, 7)
    """
    return _adaptive_max(input, output_size, 2, return_indices, "adaptive_max_pool2d")


def adaptive_max_pool2d_with_indices(input: ArrayLike, output_size,
                                     return_indices: bool = False):
    """:func:`adaptive_max_pool2d` returning ``(output, indices)``.

    PyTorch: ``torch.nn.functional.adaptive_max_pool2d_with_indices``.
    """
    return _adaptive_max(input, output_size, 2, True, "adaptive_max_pool2d")


def adaptive_max_pool3d(input: ArrayLike, output_size, return_indices: bool = False):
    """3-d adaptive max pooling over ``(N, C, D, H, W)`` or ``(C, D, H, W)``.

    Args and Shape as :func:`adaptive_max_pool2d` with a depth dim.

    PyTorch: ``torch.nn.functional.adaptive_max_pool3d``.

    Example:
        >>> import jax.numpy as jnp
        >>> adaptive_max_pool3d(jnp.ones((1, 2, 5, 6, 7)), (2, None, 3)).shape
        (1, 2, 2, 6, 3)
    """
    return _adaptive_max(input, output_size, 3, return_indices, "adaptive_max_pool3d")


def adaptive_max_pool3d_with_indices(input: ArrayLike, output_size,
                                     return_indices: bool = False):
    """:func:`adaptive_max_pool3d` returning ``(output, indices)``.

    PyTorch: ``torch.nn.functional.adaptive_max_pool3d_with_indices``.
    """
    return _adaptive_max(input, output_size, 3, True, "adaptive_max_pool3d")


def adaptive_avg_pool1d(input: ArrayLike, output_size) -> jax.Array:
    """1-d adaptive average pooling; Args and Shape as :func:`adaptive_avg_pool2d`.

    PyTorch: ``torch.nn.functional.adaptive_avg_pool1d``.

    Example:
        >>> import jax.numpy as jnp
        >>> adaptive_avg_pool1d(jnp.ones((2, 3, 10)), 4).shape
        (2, 3, 4)
    """
    return _adaptive_avg(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: ArrayLike, output_size) -> jax.Array:
    """2-d adaptive average pooling over torch's adaptive windows (see
    :func:`adaptive_max_pool2d`).

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        output_size: an int or ``(H_out, W_out)``; ``None`` keeps the input's size.

    Shape:
        - Output: ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``.

    PyTorch: ``torch.nn.functional.adaptive_avg_pool2d``.

    Example:
        >>> import jax.numpy as jnp
        >>> adaptive_avg_pool2d(jnp.ones((1, 64, 8, 9)), 1).shape
        (1, 64, 1, 1)
    """
    return _adaptive_avg(input, output_size, 2, "adaptive_avg_pool2d")


def adaptive_avg_pool3d(input: ArrayLike, output_size) -> jax.Array:
    """3-d adaptive average pooling; Args and Shape as :func:`adaptive_avg_pool2d`.

    PyTorch: ``torch.nn.functional.adaptive_avg_pool3d``.

    Example:
        >>> import jax.numpy as jnp
        >>> adaptive_avg_pool3d(jnp.ones((1, 2, 5, 6, 7)), 2).shape
        (1, 2, 2, 2, 2)
    """
    return _adaptive_avg(input, output_size, 3, "adaptive_avg_pool3d")


# --------------------------------------------------------------------------- fractional
def _fractional_sizes(x, nd, kernel_size, output_size, output_ratio, fn):
    word = "tuple of Ints" if nd == 2 else "tuple of three Ints"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{fn} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        if nd == 2 and not isinstance(output_ratio, collections.abc.Sized):
            # torch's 2-d functional takes len(output_ratio) first (its module pairs it)
            raise TypeError(f"object of type '{type(output_ratio).__name__}' has no len()")
        if nd == 2 and isinstance(output_ratio, collections.abc.Sized) and len(output_ratio) > 2:
            raise ValueError(f"{fn} requires output_ratio to either be a single Int or tuple "
                             "of Ints.")
        ratio = (tuple(output_ratio) if isinstance(output_ratio, collections.abc.Iterable)
                 else (output_ratio,))
        ratio = ratio * nd if len(ratio) == 1 else ratio
        output_size = tuple(int(size_at(x.shape, a - nd) * r) for a, r in enumerate(ratio))
    kernel = chk.as_tuple(kernel_size, nd,
                          f"{fn}: kernel_size must either be a single Int or {word}")
    out = chk.as_tuple(output_size, nd, f"{fn}: output_size must either be a single Int or "
                                        f"{word}")
    return kernel, out


def _check_fractional(x, samples, kernel, out, nd):
    fn = "fractional_max_pool2d()" if nd == 2 else "fractional_max_pool3d_out()"
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{fn}: Expected {nd + 1}D or {nd + 2}D tensor, but got: "
                           f"{list(x.shape)}")
    if samples.ndim != 3:
        raise RuntimeError(f"Expect _random_samples to have 3 dimensions, got {samples.ndim}")
    batch = x.shape[0] if x.ndim == nd + 2 else 1
    if samples.shape[0] < batch:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if samples.shape[1] != x.shape[-nd - 1]:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if samples.shape[2] != nd:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {nd}; got "
                           f"{samples.shape[2]}.")
    if samples.dtype != x.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    names = ("time", "height", "width")[3 - nd:]
    for name, n, k, o in zip(names, x.shape[-nd:], kernel, out):
        if o + k - 1 > n:
            raise RuntimeError(f"{fn}: pool {name} {k} too large relative to input {name} {n}")
    for dim in range(x.ndim - nd - 1, x.ndim):
        if x.shape[dim] == 0:
            raise RuntimeError(
                f"{fn}: Expected input to have non-zero size for non-batch dimensions, but got"
                f"{list(x.shape)} with dimension {dim} being empty.")
    kernel_name = "fractional_max_pool2d_out_frame" if nd == 2 else \
        "fractional_max_pool3d_out_frame"
    chk.check_dtype(x, kernel_name, allow_int=False)


def _fractional(input, nd, kernel_size, output_size, output_ratio, return_indices,
                _random_samples, key):
    fn = f"fractional_max_pool{nd}d"
    x = jnp.asarray(input)
    kernel, out = _fractional_sizes(x, nd, kernel_size, output_size, output_ratio, fn)
    if _random_samples is None:
        channels = size_at(x.shape, -nd - 1)
        n_batch = 1 if x.ndim == nd + 1 else x.shape[0]
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise NotImplementedError(
                f"\"check_uniform_bounds\" not implemented for '{torch_dtype_name(x.dtype)}'")
        key = jnn_random.next_key() if key is None else key
        samples = jax.random.uniform(key, (n_batch, channels, nd), x.dtype)
    else:
        samples = jnp.asarray(_random_samples)
    _check_fractional(x, samples, kernel, out, nd)
    xb, unbatch = batched(x, nd)
    y, idx = K.fractional_max_pool(xb, kernel, out, samples[:xb.shape[0]])
    return (unbatch(y), unbatch(idx)) if return_indices else unbatch(y)


def fractional_max_pool2d(input: ArrayLike, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: ArrayLike | None = None,
                          *, key: jax.Array | None = None):
    """Fractional max pooling (Graham, 2014): ``kernel_size`` windows at pseudo-random
    starts, so that the output has ``output_size`` (or ``output_ratio`` of the input).

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        kernel_size: window size, an int or ``(kH, kW)``.
        output_size: ``(H_out, W_out)`` or an int; or give
        output_ratio: a fraction in (0, 1) of the input size (truncated).
        return_indices: also return the flat ``H * W`` index of each maximum.
        _random_samples: ``(N, C, 2)`` samples in [0, 1) in the input's dtype, read as
            (width, height) as torch does; default draws them from ``key``.
        key: PRNG key for the samples; default draws one from jnn's global generator.

    Shape:
        - Output: ``(N, C, H_out, W_out)``; needs ``H_out + kH - 1 <= H`` (likewise W).

    PyTorch: ``torch.nn.functional.fractional_max_pool2d``; given the same
    ``_random_samples`` the output and indices are torch's (the samples themselves come
    from JAX's PRNG, so differ from torch's for the same seed).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> fractional_max_pool2d(jnp.ones((1, 3, 9, 9)), 2, output_size=4,
        ...                       key=jax.random.key(0)).shape
        (1, 3, 4, 4)
    """
    return _fractional(input, 2, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples, key)


def fractional_max_pool2d_with_indices(input: ArrayLike, kernel_size, output_size=None,
                                       output_ratio=None, return_indices: bool = False,
                                       _random_samples: ArrayLike | None = None, *,
                                       key: jax.Array | None = None):
    """:func:`fractional_max_pool2d` returning ``(output, indices)``.

    PyTorch: ``torch.nn.functional.fractional_max_pool2d_with_indices``.
    """
    return _fractional(input, 2, kernel_size, output_size, output_ratio, True,
                       _random_samples, key)


def fractional_max_pool3d(input: ArrayLike, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: ArrayLike | None = None,
                          *, key: jax.Array | None = None):
    """3-d fractional max pooling over ``(N, C, D, H, W)`` or ``(C, D, H, W)``.

    Args and Shape as :func:`fractional_max_pool2d` with a depth dim;
    ``_random_samples`` is ``(N, C, 3)``, read as (depth, height, width) as torch does.

    PyTorch: ``torch.nn.functional.fractional_max_pool3d``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> fractional_max_pool3d(jnp.ones((1, 2, 6, 6, 6)), 2, output_ratio=0.5,
        ...                       key=jax.random.key(0)).shape
        (1, 2, 3, 3, 3)
    """
    return _fractional(input, 3, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples, key)


def fractional_max_pool3d_with_indices(input: ArrayLike, kernel_size, output_size=None,
                                       output_ratio=None, return_indices: bool = False,
                                       _random_samples: ArrayLike | None = None, *,
                                       key: jax.Array | None = None):
    """:func:`fractional_max_pool3d` returning ``(output, indices)``.

    PyTorch: ``torch.nn.functional.fractional_max_pool3d_with_indices``.
    """
    return _fractional(input, 3, kernel_size, output_size, output_ratio, True,
                       _random_samples, key)
