"""Private: ``grid_sample`` and ``affine_grid`` (torch's ``grid_sampler`` kernels).

``grid_sample`` reads each output location's normalised coordinates from ``grid``
(``-1`` and ``1`` are the outer edges of the corner pixels, or their centres with
``align_corners=True``), maps them to pixel coordinates, applies the padding rule
(``zeros``: taps outside read 0; ``border``: clamp; ``reflection``: mirror about the edges,
then clamp), and interpolates. Every tap is one batched gather on the flattened spatial
axes; the interpolation weights are differentiable functions of the coordinates, so
gradients flow to the input (scatter-add) and to the grid, as in torch's backward
kernels.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jnn.nn.functional._utils import torch_dtype_name

_CUBIC_A = -0.75  # torch's bicubic constant (Keys' A)


def check_grid_sample(x: jax.Array, grid: jax.Array, mode: str) -> None:
    """torch's ``grid_sampler`` checks, in its order and wording."""
    dims = x.ndim - 2
    if grid.ndim == 0 or grid.shape[-1] != dims:
        raise RuntimeError(
            f"grid_sampler(): expected grid to have size {dims} in last dimension, but got "
            f"grid with sizes {list(grid.shape)}")
    if x.shape[0] != grid.shape[0]:
        raise RuntimeError(
            "grid_sampler(): expected grid and input to have same batch size, but got input "
            f"with sizes {list(x.shape)} and grid with sizes {list(grid.shape)}")
    for axis in range(2, x.ndim):
        if x.shape[axis] == 0:
            raise RuntimeError(
                "grid_sampler(): expected input to have non-empty spatial dimensions, but "
                f"input has sizes {list(x.shape)} with dimension {axis} being empty")
    expected = 4 if x.ndim <= 4 else 5
    if x.ndim != expected or grid.ndim != expected:
        raise RuntimeError(
            f"grid_sampler(): expected {expected}D input and grid with same number of "
            f"dimensions, but got input with sizes {list(x.shape)} and grid with sizes "
            f"{list(grid.shape)}")
    if mode == "bicubic" and x.ndim != 4:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise NotImplementedError(
            f'"grid_sampler_{dims}d_cpu_kernel_impl" not implemented for '
            f"'{torch_dtype_name(x.dtype)}'")
    if x.dtype != grid.dtype:
        raise RuntimeError(f"expected scalar type {torch_dtype_name(x.dtype)} but found "
                           f"{torch_dtype_name(grid.dtype)}")


def _unnormalize(coord: jax.Array, size: int, align_corners: bool) -> jax.Array:
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _reflect(coord: jax.Array, twice_low: int, twice_high: int) -> jax.Array:
    """Mirror ``coord`` into ``[twice_low / 2, twice_high / 2]`` (any number of bounces)."""
    if twice_low == twice_high:
        return jnp.zeros_like(coord)
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    dist = jnp.abs(coord - low)
    extra = jnp.fmod(dist, span)
    flips = jnp.floor(dist / span)
    return jnp.where(jnp.fmod(flips, 2) == 0, extra + low, span - extra + low)


def _apply_padding(coord: jax.Array, size: int, padding_mode: str,
                   align_corners: bool) -> jax.Array:
    if padding_mode == "border":
        return jnp.clip(coord, 0, size - 1)
    if padding_mode == "reflection":
        if align_corners:
            coord = _reflect(coord, 0, 2 * (size - 1))
        else:
            coord = _reflect(coord, -1, 2 * size - 1)
        return jnp.clip(coord, 0, size - 1)
    return coord


def _gather(flat: jax.Array, spatial: tuple[int, ...], index: list[jax.Array]) -> jax.Array:
    """Values at integer coordinates ``index`` (one per spatial axis), 0 outside.

    ``flat`` is ``(N, C, prod(spatial))``; each coordinate array is ``(N, *out)``.
    """
    inside = jnp.ones(index[0].shape, bool)
    linear = jnp.zeros(index[0].shape, jnp.int32)
    for coord, size in zip(index, spatial):
        inside &= (coord >= 0) & (coord < size)
        linear = linear * size + jnp.clip(coord, 0, size - 1)
    batch = linear.shape[0]
    values = jax.vmap(lambda f, i: jnp.take(f, i.reshape(-1), axis=1))(
        flat, linear.reshape(batch, math.prod(linear.shape[1:])))
    values = values.reshape(flat.shape[:2] + linear.shape[1:])
    return jnp.where(inside[:, None], values, jnp.zeros((), values.dtype))


def _cubic_coefficients(t: jax.Array) -> list[jax.Array]:
    a = _CUBIC_A

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def grid_sample_impl(x: jax.Array, grid: jax.Array, mode: str, padding_mode: str,
                     align_corners: bool) -> jax.Array:
    """The sampler proper, for 4-D (``grid[..., (x, y)]``) and 5-D (``(x, y, z)``) input."""
    spatial = x.shape[2:]
    # explicit plane size, not -1: reshape cannot infer -1 on an empty batch (N = 0)
    flat = x.reshape(x.shape[:2] + (math.prod(spatial),))
    # grid's last axis lists coordinates fastest-axis first (x = width); reorder to axes
    coords = [_unnormalize(grid[..., k], spatial[-1 - k], align_corners)
              for k in range(len(spatial))][::-1]
    if mode == "bicubic":
        return _bicubic(flat, spatial, coords, padding_mode, align_corners)
    coords = [_apply_padding(c, s, padding_mode, align_corners) for c, s in zip(coords, spatial)]
    if mode == "nearest":
        index = [jnp.round(c).astype(jnp.int32) for c in coords]  # nearbyint: half to even
        return _gather(flat, spatial, index)
    lows = [jnp.floor(c) for c in coords]
    fracs = [c - low for c, low in zip(coords, lows)]
    out = None
    for corner in np.ndindex(*(2,) * len(spatial)):
        index = [low.astype(jnp.int32) + bit for low, bit in zip(lows, corner)]
        weight = jnp.ones((), x.dtype)
        for frac, bit in zip(fracs, corner):
            weight = weight * (frac if bit else 1 - frac)
        term = _gather(flat, spatial, index) * weight[:, None]
        out = term if out is None else out + term
    return out


def _bicubic(flat: jax.Array, spatial: tuple[int, ...], coords: list[jax.Array],
             padding_mode: str, align_corners: bool) -> jax.Array:
    # torch applies the padding rule to each of the 16 tap coordinates, not to the point
    (iy, ix), (height, width) = coords, spatial
    y0, x0 = jnp.floor(iy), jnp.floor(ix)
    wy, wx = _cubic_coefficients(iy - y0), _cubic_coefficients(ix - x0)
    out = None
    for i in range(4):
        ty = _apply_padding(y0 - 1 + i, height, padding_mode, align_corners)
        row = None
        for j in range(4):
            tx = _apply_padding(x0 - 1 + j, width, padding_mode, align_corners)
            value = _gather(flat, spatial, [ty.astype(jnp.int32), tx.astype(jnp.int32)])
            term = value * wx[j][:, None]
            row = term if row is None else row + term
        term = row * wy[i][:, None]
        out = term if out is None else out + term
    return out


def _linspace(steps: int, align_corners: bool) -> np.ndarray:
    """torch's ``linspace_from_neg_one`` in float32."""
    if steps <= 1:
        return np.zeros((max(steps, 0),), np.float32)
    step = np.float32(2) / np.float32(steps - 1)
    i = np.arange(steps)
    # torch.linspace fills the first half from the start and the second from the end
    values = np.where(i < steps // 2, np.float32(-1) + step * i.astype(np.float32),
                      np.float32(1) - step * (steps - 1 - i).astype(np.float32))
    values = values.astype(np.float32)
    if not align_corners:
        values = (values * np.float32(steps - 1) / np.float32(steps)).astype(np.float32)
    return values


def base_grid(spatial: tuple[int, ...], align_corners: bool) -> np.ndarray:
    """``(*spatial, k + 1)`` homogeneous coordinates ``(x, y[, z], 1)``, x fastest."""
    axes = [_linspace(s, align_corners) for s in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")
    parts = list(mesh)[::-1] + [np.ones(tuple(spatial), np.float32)]
    return np.stack(parts, -1).astype(np.float32)
