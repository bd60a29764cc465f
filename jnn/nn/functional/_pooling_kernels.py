"""Pure JAX kernels behind the pooling functions (static hyper-parameters, arrays in/out).

Inputs here are always batched, ``(N, C, *spatial)``; the public functions add and remove
the batch dimension of an unbatched input.

Max pooling follows torch's CPU loop exactly: each window is scanned in row-major order
and an element replaces the running maximum when ``val > max or isnan(val)``, so ties go
to the first maximal element and a NaN window reports its last NaN.  The windows are
product sets, so the scan runs one spatial dimension at a time (innermost first), and the
per-dimension result of that rule composes to the row-major result.  The scan steps over
kernel offsets (a static loop of ``k`` strided slices or gathers per dimension), never over
output positions.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

Ints = tuple[int, ...]


# --------------------------------------------------------------------------- helpers
def lowest(dtype: jnp.dtype) -> np.ndarray:
    """The identity of ``max``: ``-inf``, or the smallest integer.

    A numpy constant, so that under ``jit`` JAX still recognises ``reduce_window`` with
    ``lax.max``/``lax.add`` as its differentiable monoid forms.
    """
    if jnp.issubdtype(dtype, jnp.floating):
        return np.array(-np.inf, jnp.dtype(dtype))
    return np.array(jnp.iinfo(dtype).min, jnp.dtype(dtype))


def _along(arr: np.ndarray | jax.Array, axis: int, ndim: int) -> np.ndarray | jax.Array:
    """Reshape a per-position vector so it broadcasts along ``axis`` of an ``ndim`` array."""
    return arr.reshape(arr.shape + (1,) * (ndim - 1 - axis))


def right_pad(size: int, kernel: int, pad: int, stride: int, dilation: int, out: int) -> int:
    """Padding after the input so that exactly ``out`` windows fit (negative crops)."""
    return (out - 1) * stride + (kernel - 1) * dilation + 1 - size - pad


def _pad_spatial(x: jax.Array, value: np.ndarray, pads: Sequence[tuple[int, int]]) -> jax.Array:
    config = [(0, 0, 0)] * (x.ndim - len(pads)) + [(lo, hi, 0) for lo, hi in pads]
    return lax.pad(x, value.astype(x.dtype), config)


def _reduce_window(x: jax.Array, init: np.ndarray, op, kernel: Ints, stride: Ints,
                   pads: Sequence[tuple[int, int]], dilation: Ints) -> jax.Array:
    lead = (1,) * (x.ndim - len(kernel))
    return lax.reduce_window(_pad_spatial(x, init, pads), init.astype(x.dtype), op,
                             lead + kernel, lead + stride, "VALID",
                             window_dilation=lead + dilation)


# --------------------------------------------------------------------------- max scan
def _scan_update(best, cand_v, cand_f, valid):
    """One step of torch's max loop: take ``cand`` if first, larger, or NaN."""
    best_v, best_f = best
    take = (best_f < 0) | (cand_v > best_v)
    if jnp.issubdtype(cand_v.dtype, jnp.floating):
        take = take | jnp.isnan(cand_v)
    if valid is not None:
        take = take & valid
    return jnp.where(take, cand_v, best_v), jnp.where(take, cand_f, best_f)


def _scan_regular(vals, flat, axis, size, kernel, stride, pad, dilation, out, inner):
    """Reduce ``axis`` over regular windows (strided slices of the padded input)."""
    hi = right_pad(size, kernel, pad, stride, dilation, out)
    vp = _pad_spatial(vals, lowest(vals.dtype), [(pad, hi)] + [(0, 0)] * (vals.ndim - 1 - axis))
    fp = None if flat is None else _pad_spatial(
        flat, np.array(0, flat.dtype), [(pad, hi)] + [(0, 0)] * (flat.ndim - 1 - axis))
    shape = list(vals.shape)
    shape[axis] = out
    best = (jnp.broadcast_to(lowest(vals.dtype), shape), jnp.full(shape, -1, jnp.int32))
    for j in range(kernel):
        pos = np.arange(out) * stride - pad + j * dilation
        valid = _along((pos >= 0) & (pos < size), axis, vals.ndim)
        start, stop = j * dilation, j * dilation + (out - 1) * stride + 1
        cand_v = lax.slice_in_dim(vp, start, stop, stride, axis)
        cand_f = jnp.asarray(_along(np.clip(pos, 0, size - 1) * inner, axis, vals.ndim),
                             jnp.int32)
        if fp is not None:
            cand_f = cand_f + lax.slice_in_dim(fp, start, stop, stride, axis)
        best = _scan_update(best, cand_v, cand_f, None if valid.all() else valid)
    return best


def _scan_gather(vals, flat, axis, idx, valid, inner):
    """Reduce ``axis`` over windows given by an index array ``idx`` (``(..., out, K)``).

    ``idx`` is static numpy (adaptive windows, ``valid`` marks the used entries) or a
    traced ``(N, C, out, K)`` array (fractional windows, all entries used).
    """
    width = idx.shape[-1]
    out = idx.shape[-2]
    shape = list(vals.shape)
    shape[axis] = out
    best = (jnp.broadcast_to(lowest(vals.dtype), shape), jnp.full(shape, -1, jnp.int32))
    for j in range(width):
        pos = idx[..., j]
        if isinstance(pos, np.ndarray):
            cand_v = jnp.take(vals, pos, axis=axis)
            cand_f = None if flat is None else jnp.take(flat, pos, axis=axis)
            pos_b = jnp.asarray(_along(pos, axis, vals.ndim), jnp.int32)
            ok = None if valid is None else _along(valid[:, j], axis, vals.ndim)
        else:  # batched (N, C, out): broadcast over the other spatial dims
            pos_b = pos.reshape(pos.shape[:2] + (1,) * (axis - 2) + (out,)
                                + (1,) * (vals.ndim - 1 - axis))
            cand_v = jnp.take_along_axis(vals, pos_b, axis=axis)
            cand_f = None if flat is None else jnp.take_along_axis(flat, pos_b, axis=axis)
            ok = None
        cand_f = pos_b * inner if cand_f is None else cand_f + pos_b * inner
        best = _scan_update(best, cand_v, cand_f, ok)
    return best


def scan_max_indices(x: jax.Array, scans: Sequence) -> jax.Array:
    """Flat argmax indices (torch's convention) for windows described per spatial dim.

    ``scans[a]`` is ``("regular", kernel, stride, pad, dilation, out)`` or
    ``("gather", idx, valid, out)``.  Returns ``(N, C, *out)`` int32 indices into each
    ``(n, c)`` plane flattened.
    """
    vals = lax.stop_gradient(x)
    flat = None
    nd = len(scans)
    inner = 1
    for a in reversed(range(nd)):
        axis = x.ndim - nd + a
        size = x.shape[axis]
        spec = scans[a]
        if spec[0] == "regular":
            vals, flat = _scan_regular(vals, flat, axis, size, *spec[1:], inner)
        else:
            vals, flat = _scan_gather(vals, flat, axis, spec[1], spec[2], inner)
        inner *= size
    return flat


def gather_flat(x: jax.Array, indices: jax.Array) -> jax.Array:
    """``x``'s elements at flat per-plane ``indices`` (gradient: scatter-add, as torch)."""
    nd = indices.ndim - 2
    # explicit plane sizes, not -1: reshape cannot infer -1 on an empty batch (N = 0)
    planes = x.reshape(x.shape[:2] + (math.prod(x.shape[2:]),))
    picked = jnp.take_along_axis(
        planes, indices.reshape(indices.shape[:2] + (math.prod(indices.shape[2:]),)), axis=2)
    return picked.reshape(indices.shape[:2] + indices.shape[2:2 + nd])


# --------------------------------------------------------------------------- max pooling
def _regular_scans(shape, kernel, stride, padding, dilation, out):
    return [("regular", k, s, p, d, o)
            for k, s, p, d, o in zip(kernel, stride, padding, dilation, out)]


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3, 4, 5))
def _max_pool(x: jax.Array, kernel: Ints, stride: Ints, padding: Ints, dilation: Ints,
             out: Ints) -> jax.Array:
    """Max pooling values through XLA's ``reduce_window``.

    Differentiated through a custom JVP that routes the tangent from the element torch's
    loop selects (first maximum, last NaN), instead of XLA's select-and-scatter rule.
    """
    pads = [(p, right_pad(n, k, p, s, d, o)) for n, k, p, s, d, o
            in zip(x.shape[2:], kernel, padding, stride, dilation, out)]
    return _reduce_window(x, lowest(x.dtype), lax.max, kernel, stride, pads, dilation)


@_max_pool.defjvp
def _max_pool_jvp(kernel, stride, padding, dilation, out, primals, tangents):
    (x,), (t,) = primals, tangents
    y = _max_pool(x, kernel, stride, padding, dilation, out)
    idx = scan_max_indices(x, _regular_scans(x.shape, kernel, stride, padding, dilation, out))
    return y, gather_flat(t, idx)


# One program per configuration: eagerly, a compile per call site instead of one per op.
max_pool = jax.jit(_max_pool, static_argnums=(1, 2, 3, 4, 5))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5))
def max_pool_with_indices(x, kernel, stride, padding, dilation, out):
    idx = scan_max_indices(x, _regular_scans(x.shape, kernel, stride, padding, dilation, out))
    return gather_flat(x, idx), idx


# --------------------------------------------------------------------------- average pooling
def avg_divisor(size: int, kernel: int, stride: int, pad: int, out: int,
                count_include_pad: bool) -> np.ndarray:
    """torch's per-window divisor along one dim: the window clipped to the padded input,
    or (``count_include_pad=False``) to the input itself."""
    start = np.arange(out) * stride - pad
    end = np.minimum(start + kernel, size + pad)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5, 6))
def avg_pool(x: jax.Array, kernel: Ints, stride: Ints, padding: Ints, out: Ints,
             count_include_pad: bool, divisor_override: int | None) -> jax.Array:
    """Window sums by ``reduce_window`` divided by torch's static divisors."""
    nd = len(kernel)
    compute = jnp.float32 if x.dtype in (jnp.float16, jnp.bfloat16) else x.dtype
    pads = [(p, right_pad(n, k, p, s, 1, o))
            for n, k, p, s, o in zip(x.shape[2:], kernel, padding, stride, out)]
    zero = np.array(0, jnp.dtype(compute))
    sums = _reduce_window(x.astype(compute), zero, lax.add, kernel, stride, pads, (1,) * nd)
    if divisor_override is not None:
        divisor = np.full(out, divisor_override)
    else:
        divisor = np.ones((), np.int64)
        for a, (n, k, s, p, o) in enumerate(zip(x.shape[2:], kernel, stride, padding, out)):
            divisor = divisor * _along(avg_divisor(n, k, s, p, o, count_include_pad), a, nd)
    if jnp.issubdtype(compute, jnp.integer):  # torch divides integers with truncation
        return lax.div(sums, jnp.asarray(np.broadcast_to(divisor, sums.shape), compute))
    return (sums / jnp.asarray(divisor, compute)).astype(x.dtype)


# --------------------------------------------------------------------------- adaptive
def adaptive_windows(size: int, out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """torch's adaptive windows ``[floor(i L / out), ceil((i + 1) L / out))``.

    Returns ``(idx, valid, count)``: ``idx`` ``(out, K)`` with ``K`` the widest window,
    entries past a window's end clipped into range and marked invalid.
    """
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    count = end - start
    width = int(count.max()) if out else 1
    idx = start[:, None] + np.arange(width)[None, :]
    valid = idx < end[:, None]
    return np.minimum(idx, size - 1), valid, count


@functools.partial(jax.jit, static_argnums=(1,))
def adaptive_max_pool(x: jax.Array, out: Ints) -> tuple[jax.Array, jax.Array]:
    nd = len(out)
    scans = []
    for n, o in zip(x.shape[-nd:], out):
        idx, valid, _ = adaptive_windows(n, o)
        scans.append(("gather", idx, None if valid.all() else valid, o))
    idx = scan_max_indices(x, scans)
    return gather_flat(x, idx), idx


@functools.partial(jax.jit, static_argnums=(1,))
def adaptive_avg_pool(x: jax.Array, out: Ints) -> jax.Array:
    """Window means; windows that tile the input use ``reduce_window`` (exact, cheaper)."""
    nd = len(out)
    sizes = x.shape[-nd:]
    compute = jnp.float32 if x.dtype in (jnp.float16, jnp.bfloat16) else x.dtype
    y = x.astype(compute)
    if all(o > 0 and n % o == 0 for n, o in zip(sizes, out)):
        kernel = tuple(n // o for n, o in zip(sizes, out))
        zero = np.array(0, jnp.dtype(compute))
        sums = _reduce_window(y, zero, lax.add, kernel, kernel, [(0, 0)] * nd, (1,) * nd)
        return (sums / math.prod(kernel)).astype(x.dtype)
    for a, (n, o) in enumerate(zip(sizes, out)):
        axis = x.ndim - nd + a
        idx, valid, count = adaptive_windows(n, o)
        # (.., out, K, ..) gathered windows, unused entries zeroed, summed over K
        g = jnp.take(y, idx, axis=axis)
        g = jnp.where(_along(valid, axis, g.ndim - 1), g, 0)
        y = jnp.sum(g, axis=axis + 1) / jnp.asarray(_along(count, axis, y.ndim), compute)
    return y.astype(x.dtype)


# --------------------------------------------------------------------------- fractional
def fractional_starts(samples: jax.Array, size: int, kernel: int, out: int) -> jax.Array:
    """torch's pseudo-random window starts for one dim, ``samples`` ``(N, C)`` in [0, 1).

    ``start_i = int((i + u) * alpha) - int(u * alpha)``, ``alpha = (L - k) / (out - 1)``,
    computed in the samples' dtype as torch does; the last window ends at the input's end.
    """
    dtype = samples.dtype
    last = jnp.full(samples.shape + (1,), size - kernel, jnp.int32)
    if out <= 1:
        return last[..., :out]
    alpha = jnp.asarray(size - kernel, dtype) / jnp.asarray(out - 1, dtype)
    i = jnp.arange(out - 1, dtype=dtype)
    u = samples[..., None]
    starts = ((i + u) * alpha).astype(jnp.int32) - (u * alpha).astype(jnp.int32)
    return jnp.concatenate([starts, last], axis=-1)


@functools.partial(jax.jit, static_argnums=(1, 2))
def fractional_max_pool(x: jax.Array, kernel: Ints, out: Ints, samples: jax.Array
                        ) -> tuple[jax.Array, jax.Array]:
    """``samples`` ``(N, C, nd)``; torch's 2-d kernel reads them as (w, h), 3-d as (t, h, w)."""
    nd = len(kernel)
    order = (1, 0) if nd == 2 else tuple(range(nd))
    scans = []
    for a, (n, k, o) in enumerate(zip(x.shape[-nd:], kernel, out)):
        starts = fractional_starts(samples[:, :, order[a]], n, k, o)
        idx = starts[..., None] + jnp.arange(k, dtype=jnp.int32)
        scans.append(("gather", idx, None, o))
    idx = scan_max_indices(x, scans)
    return gather_flat(x, idx), idx


# --------------------------------------------------------------------------- unpooling
@functools.partial(jax.jit, static_argnums=(2,))
def max_unpool(x: jax.Array, indices: jax.Array, out: Ints) -> jax.Array:
    """Scatter each plane's values to their flat ``indices`` in a zero ``out`` plane.

    ``unique_indices`` makes the gradient a plain gather, which is torch's backward (every
    input receives the gradient at its index, even where indices repeat).  Out-of-range
    indices are dropped (torch raises; that needs the values, see the public docstring).
    """
    n, c = x.shape[:2]
    planes = jnp.zeros((n * c, math.prod(out)), x.dtype)
    rows = jnp.arange(n * c, dtype=jnp.int32)[:, None]
    per_plane = math.prod(x.shape[2:])  # explicit, not -1: N * C may be 0
    flat = planes.at[rows, indices.reshape(n * c, per_plane).astype(jnp.int32)].set(
        x.reshape(n * c, per_plane), mode="drop", unique_indices=True)
    return flat.reshape((n, c) + tuple(out))
