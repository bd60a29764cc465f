"""Pooling: max, average, power-average (LP), max unpooling, adaptive and fractional.

Every function takes a batched ``(N, C, *spatial)`` or unbatched ``(C, *spatial)`` input
and static hyper-parameters (ints or tuples) and lowers to XLA's native ops:
``reduce_window`` for max/average values, strided slices or static gathers for the
argmax indices, a scatter for unpooling.  Checks read static shapes only and raise torch's
exception types and wording (which differ between torch's kernels, hence the
``max_pool1d()`` and ``Given input size`` families of messages).

Max pooling matches torch's CPU kernel element for element: ties go to the first maximal
element of a window in row-major order, a window holding NaN gives NaN and the index of
its last NaN, and gradients reach exactly the element whose index is reported.  Indices
are flat positions in each ``(n, c)`` plane, as torch's; they are int32 (jnn runs without
x64), and :func:`max_unpool2d` & co. accept any integer dtype.

Adaptive and fractional pooling live in :mod:`jnn.nn.functional._pooling_adaptive`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jnn.nn.functional import _pooling_checks as chk
from jnn.nn.functional import _pooling_kernels as K
from jnn.nn.functional._loss_common import concrete, traced_check, traced_checks
from jnn.nn.functional._pooling_adaptive import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d,
    adaptive_max_pool2d_with_indices,
    adaptive_max_pool3d,
    adaptive_max_pool3d_with_indices,
    fractional_max_pool2d,
    fractional_max_pool2d_with_indices,
    fractional_max_pool3d,
    fractional_max_pool3d_with_indices,
)
from jnn.nn.functional._pooling_adaptive import batched as _batched
from jnn.nn.functional._utils import check_bool, check_int, torch_dtype_name

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d",
    "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
    "max_unpool1d", "max_unpool2d", "max_unpool3d",
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "lp_pool1d", "lp_pool2d", "lp_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "fractional_max_pool2d", "fractional_max_pool3d",
    "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices",
]


# --------------------------------------------------------------------------- max pooling
def _max_pool_nd(x, nd, args, ceil_mode, return_indices, kernel_name):
    """Shared body of max pooling once the arguments are tuples (torch's 2-d/3-d checks)."""
    kernel, stride, padding, dilation = args
    out = tuple(chk.output_length(n, k, p, s, d, ceil_mode) for n, k, p, s, d
                in zip(x.shape[-nd:], kernel, padding, stride, dilation))
    chk.window_shape_check(x.shape, kernel, stride, padding, dilation, out)
    chk.check_dtype(x, kernel_name, allow_int=True)
    xb, unbatch = _batched(x, nd)
    if return_indices:
        y, idx = K.max_pool_with_indices(xb, kernel, stride, padding, dilation, out)
        return unbatch(y), unbatch(idx)
    return unbatch(K.max_pool(xb, kernel, stride, padding, dilation, out))


def max_pool1d(input: ArrayLike, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """1-d max pooling over an ``(N, C, L)`` or ``(C, L)`` input.

    Args and Shape as :func:`max_pool2d`, with one spatial dim:
    :math:`L_{out} = \\lfloor (L + 2p - d(k-1) - 1) / s \\rfloor + 1` (ceil in ceil mode).

    PyTorch: ``torch.nn.functional.max_pool1d`` (its own checks and messages without
    indices, ``max_pool2d``'s with them, as torch).

    Example:
        >>> import jax.numpy as jnp
        >>> max_pool1d(jnp.ones((2, 3, 8)), 2).shape
        (2, 3, 4)
    """
    x = jnp.asarray(input)
    if return_indices:
        return max_pool1d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode,
                                       True)
    check_bool(ceil_mode, "max_pool1d", "ceil_mode", 6)
    k, s, p, d = chk.max_pool1d_args(kernel_size, stride, padding, dilation)
    out = chk.check_max_pool1d(x, k[0], s[0], p[0], d[0], ceil_mode)
    chk.check_dtype(x, "max_pool1d_impl", allow_int=False)
    xb, unbatch = _batched(x, 1)
    return unbatch(K.max_pool(xb, k, s, p, d, (out,)))


def max_pool1d_with_indices(input: ArrayLike, kernel_size, stride=None, padding=0,
                            dilation=1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[jax.Array, jax.Array]:
    """:func:`max_pool1d` returning ``(output, indices)``; indices index the ``L`` axis.

    PyTorch: ``torch.nn.functional.max_pool1d_with_indices``.
    """
    x = jnp.asarray(input)
    chk.check_int_lists("max_pool1d_with_indices", kernel_size, stride, padding, dilation)
    check_bool(ceil_mode, "max_pool1d_with_indices", "ceil_mode", 6)
    args = chk.args_1d("max_pool1d", kernel_size, stride, padding, dilation)
    chk.check_rank_1d(x, "max_pool1d")
    return _max_pool_nd(x, 1, args, ceil_mode, True, "max_pool2d")


def max_pool2d(input: ArrayLike, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """2-d max pooling: the maximum of each (dilated) window of ``kernel_size``.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        kernel_size: window size, an int or ``(kH, kW)``.
        stride: window step; default (None or ``()``) is ``kernel_size``.
        padding: implicit ``-inf`` padding on both sides; at most half the kernel.
        dilation: spacing between window elements.
        ceil_mode: round the output size up; a last window that would start in the right
            padding is dropped, as torch does.
        return_indices: also return the flat ``H * W`` index of each maximum.

    Shape:
        - Output: ``(N, C, H_out, W_out)`` with
          :math:`H_{out} = \\lfloor (H + 2p_H - d_H(k_H-1) - 1) / s_H \\rfloor + 1`
          (ceil in ceil mode), likewise ``W_out``.

    PyTorch: ``torch.nn.functional.max_pool2d``; same values, indices (int32 here) and
    gradient routing (ties: first maximum; NaN: last NaN).

    Example:
        >>> import jax.numpy as jnp
        >>> max_pool2d(jnp.ones((1, 3, 5, 5)), 3, stride=2, padding=1).shape
        (1, 3, 3, 3)
    """
    x = jnp.asarray(input)
    # (torch's parser names the function it calls)
    name = "max_pool2d_with_indices" if return_indices else "max_pool2d"
    if return_indices:
        chk.check_int_lists(name, kernel_size, stride, padding, dilation)
    args = chk.nd_args("max_pool2d", 2, kernel_size, stride, padding, dilation)
    check_bool(ceil_mode, name, "ceil_mode", 6)
    chk.check_rank(x, 2, "max")
    return _max_pool_nd(x, 2, args, ceil_mode, return_indices, "max_pool2d")


def max_pool2d_with_indices(input: ArrayLike, kernel_size, stride=None, padding=0,
                            dilation=1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[jax.Array, jax.Array]:
    """:func:`max_pool2d` returning ``(output, indices)``.

    PyTorch: ``torch.nn.functional.max_pool2d_with_indices``.
    """
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d(input: ArrayLike, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """3-d max pooling over ``(N, C, D, H, W)`` or ``(C, D, H, W)``.

    Args and Shape as :func:`max_pool2d` with a depth dim; indices are flat over
    ``D * H * W``.

    PyTorch: ``torch.nn.functional.max_pool3d``.

    Example:
        >>> import jax.numpy as jnp
        >>> max_pool3d(jnp.ones((1, 2, 4, 4, 4)), 2).shape
        (1, 2, 2, 2, 2)
    """
    x = jnp.asarray(input)
    # (torch's parser names the function it calls)
    name = "max_pool3d_with_indices" if return_indices else "max_pool3d"
    if return_indices:
        chk.check_int_lists(name, kernel_size, stride, padding, dilation)
    args = chk.nd_args("max_pool3d", 3, kernel_size, stride, padding, dilation)
    check_bool(ceil_mode, name, "ceil_mode", 6)
    chk.check_rank(x, 3, "max")
    return _max_pool_nd(x, 3, args, ceil_mode, return_indices, "max_pool3d")


def max_pool3d_with_indices(input: ArrayLike, kernel_size, stride=None, padding=0,
                            dilation=1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[jax.Array, jax.Array]:
    """:func:`max_pool3d` returning ``(output, indices)``.

    PyTorch: ``torch.nn.functional.max_pool3d_with_indices``.
    """
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# --------------------------------------------------------------------------- average pooling
def _avg_pool_nd(x, nd, args, ceil_mode, count_include_pad, divisor_override, kernel_name):
    # (torch's parser: these are keyword arguments in the F.* calls that pass them)
    check_bool(ceil_mode, f"avg_pool{nd}d", "ceil_mode", None)
    check_bool(count_include_pad, f"avg_pool{nd}d", "count_include_pad", None)
    if divisor_override is not None:
        check_int(divisor_override, f"avg_pool{nd}d", "divisor_override", None)
    kernel, stride, padding, _ = args
    out = tuple(chk.output_length(n, k, p, s, 1, ceil_mode)
                for n, k, p, s in zip(x.shape[-nd:], kernel, padding, stride))
    chk.window_shape_check(x.shape, kernel, stride, padding, (1,) * nd, out,
                           avg3d=kernel_name == "avg_pool3d")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    # torch's 3-d CPU kernel names its inner loop in the refusal
    chk.check_dtype(x, "avg_pool3d_out_frame" if nd == 3 else kernel_name, allow_int=True,
                    long_only=True)
    xb, unbatch = _batched(x, nd)
    return unbatch(K.avg_pool(xb, kernel, stride, padding, out, count_include_pad,
                              divisor_override))


def avg_pool1d(input: ArrayLike, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> jax.Array:
    """1-d average pooling over ``(N, C, L)`` or ``(C, L)``.

    Args and Shape as :func:`avg_pool2d` with one spatial dim (no ``divisor_override``,
    as in torch): :math:`L_{out} = \\lfloor (L + 2p - k) / s \\rfloor + 1`.

    PyTorch: ``torch.nn.functional.avg_pool1d``.

    Example:
        >>> import jax.numpy as jnp
        >>> avg_pool1d(jnp.ones((2, 3, 7)), 3, stride=2).shape
        (2, 3, 3)
    """
    x = jnp.asarray(input)
    args = chk.args_1d("avg_pool1d", kernel_size, stride, padding)
    chk.check_rank_1d(x, "avg_pool1d")
    return _avg_pool_nd(x, 1, args, ceil_mode, count_include_pad, None, "avg_pool2d")


def avg_pool2d(input: ArrayLike, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None
               ) -> jax.Array:
    """2-d average pooling: the mean of each window of ``kernel_size``.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        kernel_size, stride, padding, ceil_mode: as :func:`max_pool2d` (zero padding).
        count_include_pad: count the zero padding in the divisor (torch's default).
        divisor_override: divide every window sum by this instead.

    The divisor follows torch: the window clipped to the padded input (or to the input
    when ``count_include_pad=False``), so ceil-mode windows past the padding average over
    what they cover.  Integer inputs divide with truncation, as torch does.

    Shape:
        - Output: ``(N, C, H_out, W_out)``,
          :math:`H_{out} = \\lfloor (H + 2p_H - k_H) / s_H \\rfloor + 1` (ceil in ceil mode).

    PyTorch: ``torch.nn.functional.avg_pool2d``.

    Example:
        >>> import jax.numpy as jnp
        >>> avg_pool2d(jnp.ones((1, 3, 6, 6)), 2).shape
        (1, 3, 3, 3)
    """
    x = jnp.asarray(input)
    args = chk.nd_args("avg_pool2d", 2, kernel_size, stride, padding)
    chk.check_rank(x, 2, "avg")
    return _avg_pool_nd(x, 2, args, ceil_mode, count_include_pad, divisor_override,
                        "avg_pool2d")


def avg_pool3d(input: ArrayLike, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None
               ) -> jax.Array:
    """3-d average pooling over ``(N, C, D, H, W)`` or ``(C, D, H, W)``.

    Args and Shape as :func:`avg_pool2d` with a depth dim.  As in torch, the unpadded
    input must be at least as large as the kernel in every dim.

    PyTorch: ``torch.nn.functional.avg_pool3d``.

    Example:
        >>> import jax.numpy as jnp
        >>> avg_pool3d(jnp.ones((1, 2, 4, 4, 4)), 2).shape
        (1, 2, 2, 2, 2)
    """
    x = jnp.asarray(input)
    args = chk.nd_args("avg_pool3d", 3, kernel_size, stride, padding)
    chk.check_rank(x, 3, "avg")
    return _avg_pool_nd(x, 3, args, ceil_mode, count_include_pad, divisor_override,
                        "avg_pool3d")


# --------------------------------------------------------------------------- LP pooling
def _lp_pool(x, nd, norm_type, kernel_size, stride, ceil_mode):
    """torch's formula: ``(sign(a) * relu(|a|) * prod(k)) ** (1/p)``, ``a = avg_pool(x**p)``.

    The average runs with torch's divisors, so a partial ceil-mode window is rescaled by
    ``prod(k) / covered`` exactly as torch's result is.  ``p = ±inf`` is max pooling of
    ``|x|`` (of ``-|x|``, negated).
    """
    max_fn = {1: max_pool1d, 2: max_pool2d, 3: max_pool3d}[nd]
    avg_fn = {1: avg_pool1d, 2: avg_pool2d, 3: avg_pool3d}[nd]
    if norm_type == math.inf:
        return max_fn(jnp.abs(x), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -max_fn(-jnp.abs(x), kernel_size, stride, 0, 1, ceil_mode)
    out = avg_fn(jnp.power(x, norm_type), kernel_size, stride, 0, ceil_mode)
    size = math.prod(chk.as_tuple(kernel_size, nd, "kernel_size"))
    return jnp.power(jnp.sign(out) * jax.nn.relu(jnp.abs(out)) * size, 1.0 / norm_type)


def lp_pool1d(input: ArrayLike, norm_type: float, kernel_size: int, stride=None,
              ceil_mode: bool = False) -> jax.Array:
    """1-d power-average pooling, :math:`(\\sum_{window} x^p)^{1/p}`.

    Args and Shape as :func:`lp_pool2d` with one spatial dim.

    PyTorch: ``torch.nn.functional.lp_pool1d``.

    Example:
        >>> import jax.numpy as jnp
        >>> lp_pool1d(jnp.ones((2, 3, 8)), 2, 2).shape
        (2, 3, 4)
    """
    return _lp_pool(jnp.asarray(input), 1, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: ArrayLike, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> jax.Array:
    """2-d power-average pooling, :math:`(\\sum_{window} x^p)^{1/p}`.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        norm_type: the power ``p``; ``inf`` gives max pooling of ``|x|``.
        kernel_size: window size; stride: default ``kernel_size``; no padding.
        ceil_mode: as :func:`avg_pool2d`.

    Shape:
        - Output: ``(N, C, H_out, W_out)``, :math:`H_{out} = \\lfloor (H - k_H) / s_H
          \\rfloor + 1` (ceil in ceil mode).

    PyTorch: ``torch.nn.functional.lp_pool2d`` (the same formula, hence the same NaN for
    fractional ``p`` on negative windows and the same ceil-mode scaling).

    Example:
        >>> import jax.numpy as jnp
        >>> lp_pool2d(jnp.ones((1, 3, 4, 4)), 2, 2).shape
        (1, 3, 2, 2)
    """
    return _lp_pool(jnp.asarray(input), 2, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: ArrayLike, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> jax.Array:
    """3-d power-average pooling; Args and Shape as :func:`lp_pool2d` with a depth dim.

    PyTorch: ``torch.nn.functional.lp_pool3d``.

    Example:
        >>> import jax.numpy as jnp
        >>> lp_pool3d(jnp.ones((1, 2, 4, 4, 4)), 2, 2).shape
        (1, 2, 2, 2, 2)
    """
    return _lp_pool(jnp.asarray(input), 3, norm_type, kernel_size, stride, ceil_mode)


# --------------------------------------------------------------------------- unpooling
def _unpool_output_size(shape, kernel, stride, padding, output_size) -> tuple[int, ...]:
    """torch's ``_unpool_output_size``: the default size, or a checked ``output_size``."""
    nd = len(kernel)
    default = [(shape[-nd + d] - 1) * stride[d] + kernel[d] - 2 * padding[d] for d in range(nd)]
    if output_size is None:
        sizes = default
    else:
        sizes = output_size
        if len(sizes) == nd + 2:
            sizes = sizes[2:]
        if len(sizes) != nd:
            raise ValueError(
                f"output_size should be a sequence containing {nd} or {nd + 2} elements, but "
                f"it has a length of '{len(sizes)}'")
        for d in range(nd):
            low, high = default[d] - stride[d], default[d] + stride[d]
            if not low < sizes[d] < high:
                raise ValueError(f'invalid output_size "{sizes}" (dim {d} must be between '
                                 f"{low} and {high})")
    for d in range(nd):
        if sizes[d] < 0:
            raise ValueError("max_unpooling: output_size must contain non-negative spatial "
                             f"dimensions, but got output_size[{d}]={sizes[d]}")
    return tuple(int(s) for s in sizes)


def _check_unpool(x, indices, nd) -> None:
    """torch's ``max_unpooling{2,3}d`` checks (1-d runs as 2-d with a trailing unit dim)."""
    view = 2 if nd == 1 else nd
    extra = (1,) if nd == 1 else ()
    if x.ndim + len(extra) not in (view + 1, view + 2):
        raise RuntimeError(
            f"Input to max_unpooling{view}d should be a {view + 1}d or {view + 2}d Tensor, "
            f"but got a tensor with {x.ndim + len(extra)} dimensions.")
    if not jnp.issubdtype(indices.dtype, jnp.integer):
        got = f" but got: {torch_dtype_name(indices.dtype)}" if view == 2 else ""
        raise RuntimeError(f"elements in indices should be type int64{got}")
    if indices.shape != x.shape:
        raise RuntimeError(
            "Expected shape of indices to be same as that of the input tensor "
            f"({list(x.shape + extra)}) but got indices tensor with shape: "
            f"{list(indices.shape + extra)}")
    shape = x.shape + extra
    for dim in range(shape.__len__() - view - 1, len(shape)):
        if shape[dim] == 0:
            raise RuntimeError(
                f"max_unpooling{view}d_forward_out_cpu(): Expected input to have non-zero size "
                f"for non-batch dimensions, but got {list(shape)} with dimension {dim} being "
                "empty.")
    chk.check_dtype(x, f"max_unpool{view}d", allow_int=False)


def _check_unpool_indices(indices, out: tuple[int, ...]) -> None:
    """torch's ``Found an invalid max index``: from the numbers when concrete, else (an
    eager-dispatch trace, a checked compiled step) a traced check; unchecked in other
    traces, where an index outside the output plane is dropped."""
    size = math.prod(out)
    message = ("RuntimeError: Found an invalid max index: {} (output volumes are of size "
               + "x".join(map(str, out if len(out) > 1 else out + (1,))) + ")")
    values = concrete(indices, checked=True)
    if values is None:
        if traced_checks() and math.prod(jnp.shape(indices)):
            flat = jnp.ravel(jnp.asarray(indices))
            bad = (flat < 0) | (flat >= size)
            traced_check(~jnp.any(bad), message, flat[jnp.argmax(bad)])
        return
    flat = values.reshape(-1)
    bad = np.flatnonzero((flat < 0) | (flat >= size))
    if bad.size:
        raise RuntimeError(message.removeprefix("RuntimeError: ").format(flat[bad[0]]))


def _max_unpool(input, indices, nd, kernel_size, stride, padding, output_size):
    x, idx = jnp.asarray(input), jnp.asarray(indices)
    kernel = chk.as_tuple(kernel_size, nd, "kernel_size")
    stride = kernel if stride is None else chk.as_tuple(stride, nd, "stride")
    padding = chk.as_tuple(padding, nd, "padding")
    out = _unpool_output_size(x.shape, kernel, stride, padding,
                              None if output_size is None else tuple(output_size))
    _check_unpool(x, idx, nd)
    _check_unpool_indices(indices, out)
    xb, unbatch = _batched(x, nd)
    ib, _ = _batched(idx, nd)
    return unbatch(K.max_unpool(xb, ib, out))


def max_unpool1d(input: ArrayLike, indices: ArrayLike, kernel_size, stride=None, padding=0,
                 output_size=None) -> jax.Array:
    """Partial inverse of :func:`max_pool1d`; Args and Shape as :func:`max_unpool2d`.

    PyTorch: ``torch.nn.functional.max_unpool1d``.

    Example:
        >>> import jax.numpy as jnp
        >>> y, i = max_pool1d(jnp.arange(8.).reshape(1, 1, 8), 2, return_indices=True)
        >>> max_unpool1d(y, i, 2).shape
        (1, 1, 8)
    """
    return _max_unpool(input, indices, 1, kernel_size, stride, padding, output_size)


def max_unpool2d(input: ArrayLike, indices: ArrayLike, kernel_size, stride=None, padding=0,
                 output_size=None) -> jax.Array:
    """Partial inverse of :func:`max_pool2d`: each value goes back to its index, zeros
    elsewhere.

    Args:
        input: ``(N, C, H_in, W_in)`` or ``(C, H_in, W_in)``.
        indices: the flat indices :func:`max_pool2d` returned (any integer dtype).
        kernel_size, stride, padding: those of the max pooling (stride defaults to the
            kernel size).
        output_size: ``(H, W)`` or ``(N, C, H, W)``, to undo a pooling that floored;
            each size must lie strictly within ``default ± stride``.

    Shape:
        - Output: ``(N, C, H_out, W_out)``, by default
          :math:`H_{out} = (H_{in} - 1) s_H - 2 p_H + k_H`.

    Raises:
        RuntimeError: an index outside the output plane (torch's ``Found an invalid max
            index``), eagerly and under ``jnn.compile(fn, checks=True)``; other traced
            code drops such an index (finding it would be a host sync).

    PyTorch: ``torch.nn.functional.max_unpool2d``.  Repeated indices keep the last value
    written, and every input still receives the gradient at its index, as torch's
    backward does.

    Example:
        >>> import jax.numpy as jnp
        >>> y, i = max_pool2d(jnp.ones((1, 1, 4, 4)), 2, return_indices=True)
        >>> max_unpool2d(y, i, 2).shape
        (1, 1, 4, 4)
    """
    return _max_unpool(input, indices, 2, kernel_size, stride, padding, output_size)


def max_unpool3d(input: ArrayLike, indices: ArrayLike, kernel_size, stride=None, padding=0,
                 output_size=None) -> jax.Array:
    """Partial inverse of :func:`max_pool3d`; Args and Shape as :func:`max_unpool2d`.

    PyTorch: ``torch.nn.functional.max_unpool3d``.

    Example:
        >>> import jax.numpy as jnp
        >>> y, i = max_pool3d(jnp.ones((1, 1, 4, 4, 4)), 2, return_indices=True)
        >>> max_unpool3d(y, i, 2).shape
        (1, 1, 4, 4, 4)
    """
    return _max_unpool(input, indices, 3, kernel_size, stride, padding, output_size)
