"""Private: the static sampling plans behind ``F.interpolate``.

Every mode of ``interpolate`` is separable: along each spatial axis, output position
``i`` is a weighted sum of a few input positions. The positions and weights depend only
on static sizes and scales, so they are computed here once, in numpy, with torch's own
arithmetic (its float32/float64 mix, its rounding), and the array work is one gather per
axis plus a weighted sum over the taps. Gradients are the gathers' scatter-adds, as in
torch's backward kernels.

torch conventions reproduced:

* When ``scale_factor`` is given (and ``recompute_scale_factor`` is not True) the source
  coordinate uses ``1 / scale_factor``, not ``in / out``.
* ``nearest``: ``floor(i * scale)``; ``nearest-exact``: ``floor((i + 0.5) * scale)``.
* ``linear`` family: ``(i + 0.5) * scale - 0.5`` clamped at 0 (``align_corners=False``),
  ``i * (in - 1) / (out - 1)`` (``align_corners=True``); two taps.
* ``bicubic``: Keys' cubic with ``A = -0.75``, the coordinate unclamped, the four taps
  clamped to the edge.
* ``area``: adaptive average pooling windows ``[floor(i*in/out), ceil((i+1)*in/out))``.
* ``antialias``: PIL's filters stretched by the downscale factor (triangle for bilinear,
  Keys' cubic with ``A = -0.5`` for bicubic), weights normalised per output position.
* The plan's arithmetic runs in the input's opmath type: float64 for float64 input,
  float32 for every other floating type (``dt`` below).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

_F32 = np.float32


def compute_scale(in_size: int, out_size: int, align_corners: bool,
                  scale: float | None, dt=_F32) -> np.floating:
    """torch's ``area_pixel_compute_scale`` in ``dt``."""
    if align_corners:
        return dt(in_size - 1) / dt(out_size - 1) if out_size > 1 else dt(0)
    if scale is not None and scale > 0:
        return dt(1.0 / scale)
    return dt(in_size) / dt(out_size)


def _nearest(in_size: int, out_size: int, scale: float | None, exact: bool):
    # torch computes nearest source indices in float32 whatever the input's dtype
    dst = np.arange(out_size)
    step = compute_scale(in_size, out_size, False, scale)
    if exact:
        src = np.floor((dst.astype(_F32) + _F32(0.5)) * step)
    else:
        src = np.floor(dst.astype(_F32) * step)
    return np.minimum(src.astype(np.int64), in_size - 1)[:, None], None


def _linear(in_size: int, out_size: int, scale: float | None, align_corners: bool, dt):
    step = compute_scale(in_size, out_size, align_corners, scale, dt)
    dst = np.arange(out_size).astype(dt)
    if align_corners:
        src = step * dst
    else:
        src = np.maximum(step * (dst + dt(0.5)) - dt(0.5), dt(0))
    lo = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    lam = np.clip(src - lo.astype(dt), dt(0), dt(1))
    hi = np.where(lo < in_size - 1, lo + 1, lo)
    return np.stack([lo, hi], 1), np.stack([dt(1) - lam, lam], 1)


def cubic_weights(t: np.ndarray, a: float, dt=_F32) -> np.ndarray:
    """Keys' cubic convolution weights of the taps at ``-1, 0, 1, 2`` from ``floor``."""
    a = dt(a)

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    one = dt(1)
    return np.stack([far(t + one), near(t), near(one - t), far(2 - t)], 1).astype(dt)


def _cubic(in_size: int, out_size: int, scale: float | None, align_corners: bool, dt):
    step = compute_scale(in_size, out_size, align_corners, scale, dt)
    dst = np.arange(out_size).astype(dt)
    src = step * dst if align_corners else step * (dst + dt(0.5)) - dt(0.5)
    base = np.floor(src)
    taps = base.astype(np.int64)[:, None] + np.arange(-1, 3)[None, :]
    return np.clip(taps, 0, in_size - 1), cubic_weights((src - base).astype(dt), -0.75, dt)


def _area(in_size: int, out_size: int, dt):
    dst = np.arange(out_size)
    start = (dst * in_size) // out_size
    end = ((dst + 1) * in_size + out_size - 1) // out_size
    width = max(int((end - start).max(initial=1)), 1)
    taps = start[:, None] + np.arange(width)[None, :]
    valid = taps < end[:, None]
    weights = np.where(valid, dt(1) / (end - start)[:, None].astype(dt), dt(0))
    return np.minimum(taps, in_size - 1), weights.astype(dt)


def _triangle(x: np.ndarray, dt) -> np.ndarray:
    x = np.abs(x)
    return np.where(x < 1, 1 - x, 0).astype(dt)


def _keys_half(x: np.ndarray, dt) -> np.ndarray:
    x = np.abs(x).astype(dt)
    a = dt(-0.5)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1, near, np.where(x < 2, far, 0)).astype(dt)


def _lanczos3(x: np.ndarray, dt) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0).astype(dt)


_AA_FILTERS = {"bilinear": (2, _triangle), "bicubic": (4, _keys_half), "lanczos": (6, _lanczos3)}


def _antialias(in_size: int, out_size: int, scale: float | None, align_corners: bool,
               mode: str, dt):
    interp_size, filter_fn = _AA_FILTERS[mode]
    step = compute_scale(in_size, out_size, align_corners, scale, dt)
    support = dt((interp_size * 0.5) * step) if step >= 1.0 else dt(interp_size * 0.5)
    width = int(math.ceil(support)) * 2 + 1
    invscale = dt(1.0 / step) if step >= 1.0 else dt(1)
    center = (np.float64(step) * (np.arange(out_size) + 0.5)).astype(dt)
    xmin = np.maximum((center - support + 0.5).astype(np.int64), 0)
    xsize = np.minimum((center + support + 0.5).astype(np.int64), in_size) - xmin
    xsize = np.clip(xsize, 0, width)
    j = np.arange(width)[None, :]
    offset = ((j + xmin[:, None]) - center[:, None]).astype(dt)
    weights = filter_fn(((offset + 0.5) * np.float64(invscale)).astype(dt), dt)
    weights = np.where(j < xsize[:, None], weights, dt(0))
    total = weights.sum(1, keepdims=True, dtype=dt)
    weights = np.where(total != 0, weights / np.where(total != 0, total, 1), weights)
    return np.minimum(j + xmin[:, None], in_size - 1), weights.astype(dt)


def plan_axis(mode: str, in_size: int, out_size: int, scale: float | None,
              align_corners: bool, antialias: bool, dt=_F32):
    """``(taps, weights)`` for one axis: ``(out, K)`` indices and ``dt`` weights (or None)."""
    if mode in ("nearest", "nearest-exact"):
        return _nearest(in_size, out_size, scale, mode == "nearest-exact")
    if mode == "area":
        return _area(in_size, out_size, dt)
    if antialias:
        return _antialias(in_size, out_size, scale, align_corners, mode, dt)
    if mode == "bicubic":
        return _cubic(in_size, out_size, scale, align_corners, dt)
    return _linear(in_size, out_size, scale, align_corners, dt)


def resample_axis(x: jax.Array, axis: int, taps: np.ndarray,
                  weights: np.ndarray | None) -> jax.Array:
    """Gather ``taps`` along ``axis`` and contract them with ``weights``."""
    out_size, width = taps.shape
    gathered = jnp.take(x, jnp.asarray(taps.reshape(-1), jnp.int32), axis=axis, mode="clip")
    if weights is None:
        return gathered
    shape = x.shape[:axis] + (out_size, width) + x.shape[axis + 1:]
    gathered = gathered.reshape(shape)
    w = jnp.asarray(weights, gathered.dtype).reshape(
        (out_size, width) + (1,) * (x.ndim - axis - 1))
    return jnp.sum(gathered * w, axis=axis + 1)


# the modes whose kernels leave an axis of unchanged size alone (nearest and bicubic apply
# a given scale factor even then)
_SKIP_SAME_SIZE = ("linear", "bilinear", "trilinear")


def resample(x: jax.Array, out_sizes: tuple[int, ...], scales: tuple[float | None, ...],
             mode: str, align_corners: bool, antialias: bool) -> jax.Array:
    """Resample the trailing ``len(out_sizes)`` axes of ``x`` (static plan, one gather each)."""
    dt = np.float64 if x.dtype == jnp.float64 else _F32  # torch's opmath
    compute = x.astype(dt)
    first = x.ndim - len(out_sizes)
    for k in reversed(range(len(out_sizes))):
        axis = first + k
        if x.shape[axis] == out_sizes[k] and (antialias or mode in _SKIP_SAME_SIZE):
            continue  # torch's separable kernels copy an unchanged axis, whatever the scale
        taps, weights = plan_axis(mode, x.shape[axis], out_sizes[k], scales[k],
                                  align_corners, antialias, dt)
        compute = resample_axis(compute, axis, taps, weights)
    return compute.astype(x.dtype)
