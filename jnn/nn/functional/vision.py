"""Resampling and rearranging: ``interpolate`` (and the legacy ``upsample*``),
``pixel_shuffle``, ``pixel_unshuffle``, ``channel_shuffle``, ``grid_sample``,
``affine_grid``.

``interpolate`` computes each axis's source indices and weights statically, with torch's
arithmetic (``_vision_interp``), and runs one gather plus a weighted sum per axis;
``grid_sample`` gathers at data-dependent coordinates (``_vision_grid``). Argument
checks read only static shapes and Python values and raise torch's exception types with
its wording.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jnn._tensor_functions.dtypes import torch_repr
from jnn.nn.functional import _vision_grid, _vision_interp
from jnn.nn.functional._dispatch import warn
from jnn.nn.functional._utils import torch_dtype_name, torch_size

__all__ = [
    "interpolate", "upsample", "upsample_nearest", "upsample_bilinear",
    "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle",
    "grid_sample", "affine_grid",
]

_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
# the spatial rank each interpolating mode needs
_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3, "lanczos": 2}
_ALL_MODES = ("nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
              "nearest-exact")
_ALIGN_WARNING = (
    "Default grid_sample and affine_grid behavior has changed to align_corners=False since "
    "1.3.0. Please specify align_corners=True if the old behavior is desired. See the "
    "documentation of grid_sample for details.")


# -- interpolate ------------------------------------------------------------------------
def _is_integer(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _output_plan(shape: tuple[int, ...], size, scale_factor, recompute: bool | None,
                 mode: str) -> tuple[tuple[int, ...], tuple[float | None, ...]]:
    """torch's size/scale_factor resolution: (output sizes, scales for the kernel)."""
    dims = len(shape) - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dims:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {list(shape[2:])} and output size of "
                    f"{size}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                    "output size in (o1, o2, ...,oK) format.")
            sizes = tuple(size)
        else:
            sizes = (size,) * dims
        if not all(_is_integer(s) for s in sizes):
            raise TypeError(
                "expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                f"Tuple[int, int, int], but got size with types {[type(s) for s in sizes]}")
        if recompute:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        return tuple(int(s) for s in sizes), (None,) * dims
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if isinstance(scale_factor, (list, tuple)):
        if len(scale_factor) != dims:
            raise ValueError(
                "Input and scale_factor must have the same number of spatial dimensions, but "
                f"got input with spatial dimensions of {list(shape[2:])} and scale_factor of "
                f"shape {scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) "
                "format and scale_factor in (s1, s2, ...,sK) format.")
        factors = tuple(float(f) for f in scale_factor)
    else:
        factors = (float(scale_factor),) * dims
    sizes = tuple(int(s * f) for s, f in zip(shape[2:], factors))
    if recompute or mode == "area":  # the kernel sees sizes only ("area" always)
        return sizes, (None,) * dims
    return sizes, factors


def _check_mode_rank(ndim: int, mode: str, antialias: bool) -> None:
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and ndim == 4):
        raise ValueError(
            "Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and "
            "requires a 4-D tensor as input")
    need = _MODE_DIMS.get(mode)
    if ndim in (3, 4, 5) and mode in ("linear", "bilinear", "trilinear") and ndim != need + 2:
        raise NotImplementedError(
            f"Got {ndim}D input, but {mode} mode needs {need + 2}D input")
    known = ("nearest", "nearest-exact", "area", "linear", "bilinear", "trilinear")
    if ndim not in (3, 4, 5) or (mode in ("bicubic", "lanczos") and ndim != 4) or (
            mode not in known + ("bicubic", "lanczos")):
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {ndim}D) for the "
            f"modes: {_ALL_MODES} (got {mode})")


def _check_sizes(shape: tuple[int, ...], sizes: tuple[int, ...], mode: str,
                 antialias: bool) -> None:
    """The kernels' checks: positive sizes, a non-empty tensor, a floating dtype."""
    if mode == "area":
        return
    names = "DHW"[3 - len(sizes):]
    if any(s <= 0 for s in shape[2:]) or any(s <= 0 for s in sizes):
        given = ", ".join(f"{n}: {s}" for n, s in zip(names, shape[2:]))
        want = ", ".join(f"{n}: {s}" for n, s in zip(names, sizes))
        joint = " and output " if len(sizes) == 1 else " output "
        raise RuntimeError("Input and output sizes should be greater than 0, but got input "
                           f"({given}){joint}({want})")
    if any(s == 0 for s in shape[1:]):
        raise RuntimeError(f"Non-empty {len(shape)}D data tensor expected but got a tensor "
                           f"with sizes {list(shape)}")


def _check_dtype(dtype, mode: str, antialias: bool, dims: int) -> None:
    if jnp.issubdtype(dtype, jnp.floating):
        return
    if mode in ("nearest", "nearest-exact") and dtype == jnp.uint8:
        return  # torch's nearest kernels take uint8 images
    if mode == "area":
        kernel = f"adaptive_avg_pool{dims}d"
    elif antialias:
        kernel = "compute_index_ranges_weights"
    elif mode == "bicubic":
        kernel = "compute_indices_weights_cubic"
    elif dims == 2 and mode in ("bilinear", "nearest", "nearest-exact"):
        # torch's CPU kernels for 4-D integer input: the channels-last loops
        kernel = f"upsample_{'bilinear' if mode == 'bilinear' else 'nearest'}2d_channels_last"
    elif mode in ("nearest", "nearest-exact"):
        kernel = "compute_indices_weights_nearest"
    else:
        kernel = "compute_indices_weights_linear"
    raise NotImplementedError(f'"{kernel}" not implemented for \'{torch_dtype_name(dtype)}\'')


def _align_corners_error(mode: str, n: int, size: Any, scale_factor: Any,
                         align_corners: Any) -> TypeError:
    """torch's parser error for a non-bool ``align_corners`` (its upsample kernel's name)."""
    kernel = f"upsample_{mode}{n}d"
    size_type = ("NoneType" if size is None else "list" if isinstance(size, int)
                 else type(size).__name__)
    scale_type = "NoneType" if scale_factor is None else "list"
    scales = "float scales = None" if n == 1 else ", ".join(
        f"float scales_{d} = None" for d in "dhw"[3 - n:])
    return TypeError(
        f"{kernel}() received an invalid combination of arguments - got (Tensor, {size_type}, "
        f"{type(align_corners).__name__}, {scale_type}), but expected one of:\n"
        " * (Tensor input, tuple of ints output_size, bool align_corners, tuple of floats "
        "scale_factors)\n"
        " * (Tensor input, tuple of ints output_size, bool align_corners, "
        f"{scales}, *, Tensor out = None)\n")


def interpolate(input: ArrayLike, size: int | Sequence[int] | None = None,
                scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> jax.Array:
    """Resize the spatial dimensions of ``input`` (``(N, C, *spatial)``, 1 to 3 of them).

    Args:
        input: ``(N, C, W)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        size: the output spatial size (an int for all, or one per dimension).
        scale_factor: multiplier(s) for the spatial size; exactly one of ``size`` and
            ``scale_factor`` is given. The output size is ``floor(in * scale_factor)``.
        mode: ``'nearest'``, ``'nearest-exact'``, ``'linear'`` (3-D), ``'bilinear'``,
            ``'bicubic'`` (4-D), ``'trilinear'`` (5-D), ``'area'`` (adaptive average
            pooling), or ``'lanczos'`` (4-D, antialias only).
        align_corners: interpolating modes only: map the corner pixels' centres onto each
            other (``True``) or their outer edges (``False``, the default).
        recompute_scale_factor: if True, the sampling uses ``in / out`` computed from the
            output size; otherwise a given ``scale_factor`` is used as is (``1 / scale``
            steps), which can differ from ``in / out`` when the size was floored.
        antialias: filter with a kernel widened by the downscale factor (bilinear, bicubic,
            lanczos; 4-D input), as PIL and torch do.

    Shape:
        - Output: :math:`(N, C, *\\text{size})` or
          :math:`(N, C, \\lfloor d_i \\cdot \\text{scale\\_factor}_i \\rfloor)`.

    PyTorch: ``torch.nn.functional.interpolate``; the same indices and weights (torch's
    float32 arithmetic), so outputs agree to float32 rounding. Integer inputs other than
    uint8 with the nearest modes are refused, as torch refuses int64.

    Example:
        >>> import jax.numpy as jnp
        >>> interpolate(jnp.ones((1, 3, 4, 4)), scale_factor=2, mode="bilinear").shape
        (1, 3, 8, 8)
    """
    x = jnp.asarray(input)
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    sizes, scales = _output_plan(x.shape, size, scale_factor, recompute_scale_factor, mode)
    _check_mode_rank(x.ndim, mode, antialias)
    if align_corners is not None and not isinstance(align_corners, (bool, np.bool_)):
        raise _align_corners_error(mode, x.ndim - 2, size, scale_factor, align_corners)
    if mode == "lanczos":
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    _check_sizes(x.shape, sizes, mode, antialias)
    _check_dtype(x.dtype, mode, antialias, len(sizes))
    return _vision_interp.resample(x, sizes, scales, mode, bool(align_corners), antialias)


def upsample(input: ArrayLike, size: int | Sequence[int] | None = None,
             scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
             align_corners: bool | None = None) -> jax.Array:
    """Deprecated alias of :func:`interpolate` (warns as torch does).

    PyTorch: ``torch.nn.functional.upsample``.
    """
    warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: ArrayLike, size: int | Sequence[int] | None = None,
                     scale_factor: float | Sequence[float] | None = None) -> jax.Array:
    """Deprecated: :func:`interpolate` with ``mode='nearest'`` (warns as torch does).

    PyTorch: ``torch.nn.functional.upsample_nearest``.
    """
    warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: ArrayLike, size: int | Sequence[int] | None = None,
                      scale_factor: float | Sequence[float] | None = None) -> jax.Array:
    """Deprecated: :func:`interpolate` with ``mode='bilinear', align_corners=True``.

    PyTorch: ``torch.nn.functional.upsample_bilinear`` (warns as torch does).
    """
    warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# -- pixel and channel shuffles ---------------------------------------------------------
def _check_factor(op: str, name: str, factor) -> None:
    if not _is_integer(factor):
        raise TypeError(f"{op}(): argument '{name}' (position 2) must be int, not "
                        f"{type(factor).__name__}")
    if factor <= 0:
        raise RuntimeError(f"{op} expects a positive {name}, but got {factor}")


def pixel_shuffle(input: ArrayLike, upscale_factor: int) -> jax.Array:
    """Rearrange ``(*, C r^2, H, W)`` into ``(*, C, H r, W r)``.

    Args:
        input: at least 3-D; channels divisible by ``upscale_factor ** 2``.
        upscale_factor: ``r``, a positive int.

    Shape:
        - Output: :math:`(*, C_{in} / r^2, H_{in} r, W_{in} r)`.

    PyTorch: ``torch.nn.functional.pixel_shuffle``.

    Example:
        >>> import jax.numpy as jnp
        >>> pixel_shuffle(jnp.ones((1, 9, 4, 4)), 3).shape
        (1, 1, 12, 12)
    """
    x = jnp.asarray(input)
    _check_factor("pixel_shuffle", "upscale_factor", upscale_factor)
    if x.ndim < 3:
        raise RuntimeError("pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {x.ndim} dimension(s)")
    r = upscale_factor
    *lead, c, h, w = x.shape
    if c % (r * r) != 0:
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the "
            f"square of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    k = len(lead)
    y = x.reshape(*lead, c // (r * r), r, r, h, w)
    y = jnp.transpose(y, (*range(k), k, k + 3, k + 1, k + 4, k + 2))
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: ArrayLike, downscale_factor: int) -> jax.Array:
    """Rearrange ``(*, C, H r, W r)`` into ``(*, C r^2, H, W)`` (inverse of pixel_shuffle).

    Args:
        input: at least 3-D; height and width divisible by ``downscale_factor``.
        downscale_factor: ``r``, a positive int.

    Shape:
        - Output: :math:`(*, C_{in} r^2, H_{in} / r, W_{in} / r)`.

    PyTorch: ``torch.nn.functional.pixel_unshuffle``.

    Example:
        >>> import jax.numpy as jnp
        >>> pixel_unshuffle(jnp.ones((1, 1, 12, 12)), 3).shape
        (1, 9, 4, 4)
    """
    x = jnp.asarray(input)
    _check_factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    if x.ndim < 3:
        raise RuntimeError("pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {x.ndim} dimension(s)")
    r = downscale_factor
    *lead, c, h, w = x.shape
    for axis, name, size in ((-2, "height", h), (-1, "width", w)):
        if size % r != 0:
            raise RuntimeError(
                f"pixel_unshuffle expects {name} to be divisible by downscale_factor, but "
                f"input.size({axis})={size} is not divisible by {r}")
    k = len(lead)
    y = x.reshape(*lead, c, h // r, r, w // r, r)
    y = jnp.transpose(y, (*range(k), k, k + 2, k + 4, k + 1, k + 3))
    return y.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input: ArrayLike, groups: int) -> jax.Array:
    """Interleave the channels of ``(N, C, *)`` from ``groups`` groups.

    Channel ``g * (C / groups) + i`` moves to ``i * groups + g``.

    Args:
        input: at least 3-D, ``C`` divisible by ``groups``.
        groups: the number of groups, positive.

    Shape:
        - Output: :math:`(N, C, *)`, the input's.

    PyTorch: ``torch.nn.functional.channel_shuffle``.

    Example:
        >>> import jax.numpy as jnp
        >>> channel_shuffle(jnp.arange(4.0).reshape(1, 4, 1), 2)[0, :, 0].tolist()
        [0.0, 2.0, 1.0, 3.0]
    """
    x = jnp.asarray(input)
    if x.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(x.shape)}")
    if groups <= 0:
        raise RuntimeError("Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    n, c, *rest = x.shape
    if c % groups != 0:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    y = x.reshape(n, groups, c // groups, *rest)
    return jnp.swapaxes(y, 1, 2).reshape(x.shape)


def native_channel_shuffle(input: ArrayLike, groups: int) -> jax.Array:
    """The same as :func:`channel_shuffle` (torch's non-quantised native kernel).

    PyTorch: ``torch.nn.functional.native_channel_shuffle``.
    """
    return channel_shuffle(input, groups)


# -- grid sampling ----------------------------------------------------------------------
def grid_sample(input: ArrayLike, grid: ArrayLike, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> jax.Array:
    """Sample ``input`` at the normalised locations in ``grid``.

    Args:
        input: ``(N, C, H_in, W_in)`` or ``(N, C, D_in, H_in, W_in)``.
        grid: ``(N, H_out, W_out, 2)`` or ``(N, D_out, H_out, W_out, 3)``: ``(x, y[, z])``
            in ``[-1, 1]`` (``-1`` the left/top edge); outside reads the padding rule.
        mode: ``'bilinear'`` (trilinear on 5-D), ``'nearest'`` (ties to even), or
            ``'bicubic'`` (4-D only).
        padding_mode: ``'zeros'``, ``'border'`` (clamp) or ``'reflection'`` (mirror).
        align_corners: ``-1``/``1`` are the corner pixels' centres (True) or their outer
            edges (False). None warns, as torch does, and means False.

    Shape:
        - Output: :math:`(N, C, H_{out}, W_{out})` or :math:`(N, C, D_{out}, H_{out}, W_{out})`.

    PyTorch: ``torch.nn.functional.grid_sample``; gradients flow to ``input`` and ``grid``.

    Example:
        >>> import jax.numpy as jnp
        >>> grid_sample(jnp.ones((1, 2, 4, 4)), jnp.zeros((1, 3, 5, 2)),
        ...             align_corners=False).shape
        (1, 2, 3, 5)
    """
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError("nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    x, g = jnp.asarray(input), jnp.asarray(grid)
    _vision_grid.check_grid_sample(x, g, mode)
    return _vision_grid.grid_sample_impl(x, g, mode, padding_mode, bool(align_corners))


def affine_grid(theta: ArrayLike, size: Sequence[int],
                align_corners: bool | None = None) -> jax.Array:
    """The sampling grid of a batch of affine maps, for :func:`grid_sample`.

    Args:
        theta: ``(N, 2, 3)`` for 2-D or ``(N, 3, 4)`` for 3-D maps, floating point.
        size: the target ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        align_corners: as in :func:`grid_sample`; None warns and means False.

    Shape:
        - Output: :math:`(N, H, W, 2)` or :math:`(N, D, H, W, 3)`:
          ``grid[n, ..., :] = theta[n] @ (x, y[, z], 1)`` over the normalised base grid.

    PyTorch: ``torch.nn.functional.affine_grid``.

    Example:
        >>> import jax.numpy as jnp
        >>> affine_grid(jnp.eye(2, 3)[None], (1, 1, 4, 5), align_corners=False).shape
        (1, 4, 5, 2)
    """
    if align_corners is None:
        warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    t = jnp.asarray(theta)
    if not jnp.issubdtype(t.dtype, jnp.floating):
        raise ValueError("Expected theta to have floating point type, but got "
                         f"{torch_repr(t.dtype)}")
    size = tuple(size)
    _check_affine_shapes(t.shape, size, bool(align_corners))
    base = jnp.asarray(_vision_grid.base_grid(size[2:], bool(align_corners)), t.dtype)
    return jnp.einsum("...k,njk->n...j", base, t, precision=jax.lax.Precision.HIGHEST)


def _check_affine_shapes(theta_shape: tuple[int, ...], size: tuple[int, ...],
                         align_corners: bool) -> None:
    if len(size) in (4, 5):
        k = len(size) - 2
        if len(theta_shape) != 3 or theta_shape[-2:] != (k, k + 1):
            raise ValueError(
                f"Expected a batch of {k}D affine matrices of shape Nx{k}x{k + 1} for size "
                f"{size}. Got {torch_size(theta_shape)}.")
    else:
        raise NotImplementedError(
            "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
            f"respectively. Got size {size}.")
    if align_corners and min(size[2:]) == 1:
        warn(
            "Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
            "align_corners=True. This is not an intended use case of affine_grid. See the "
            "documentation of affine_grid for details.", stacklevel=3)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta_shape[0] != size[0]:
        raise RuntimeError(
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{size[0]}, {k + 1}] but got: [{theta_shape[0]}, {k + 1}].")
