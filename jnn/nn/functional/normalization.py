"""Normalization: batch, instance, layer, group, RMS and local response normalization.

All functions are pure: arrays and static hyper-parameters in, arrays out; they work under
``jax.jit``, ``jax.grad`` and ``jax.vmap``. Statistics of half/bfloat16 inputs are
computed in float32 (torch's CPU kernels do the same) and the output keeps the input's
dtype.

torch's ``F.batch_norm`` and ``F.instance_norm`` update ``running_mean``/``running_var``
in place. JAX arrays are immutable, so here those two keep torch's signature and return
value (the output) and leave the arrays passed to them unchanged;
:func:`batch_norm_with_update` and :func:`instance_norm_with_update` return
``(output, new_running_mean, new_running_var)`` instead, and the modules
(``BatchNorm2d`` & co.) write these back into their buffers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from jnn.nn.functional._norm_checks import (
    as_shape,
    check_affine_shape,
    check_floating,
    check_mixed_dtype,
    check_normalized_shape,
    check_vector,
    compute_dtype,
    verify_batch_size,
    verify_spatial_size,
)

__all__ = [
    "batch_norm",
    "batch_norm_with_update",
    "instance_norm",
    "instance_norm_with_update",
    "layer_norm",
    "group_norm",
    "rms_norm",
    "local_response_norm",
]

_Stats = tuple[jax.Array, jax.Array | None, jax.Array | None]


def _opt(x: ArrayLike | None) -> jax.Array | None:
    return None if x is None else jnp.asarray(x)


def _per_channel(v: jax.Array, ndim: int) -> jax.Array:
    """A ``(C,)`` vector shaped to broadcast against ``(N, C, *)``."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _affine(y: jax.Array, weight: jax.Array | None, bias: jax.Array | None,
            shape_fn=lambda v: v) -> jax.Array:
    if weight is not None:
        y = y * shape_fn(weight).astype(y.dtype)
    if bias is not None:
        y = y + shape_fn(bias).astype(y.dtype)
    return y


def _moments(x: jax.Array, axes: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """Mean and biased variance over ``axes`` (two passes, as torch's CPU kernels)."""
    mean = jnp.mean(x, axis=axes)
    var = jnp.mean(jnp.square(x - jnp.expand_dims(mean, axes)), axis=axes)
    return mean, var


def _blend(running: jax.Array, observed: jax.Array, momentum: float | jax.Array) -> jax.Array:
    """torch's running-statistic rule ``(1 - momentum) * running + momentum * observed``,
    computed in float32 for half-precision statistics (torch's opmath), then stored."""
    dtype = compute_dtype(running.dtype)
    observed = lax.stop_gradient(observed).astype(dtype)
    momentum = jnp.asarray(momentum, dtype)
    return ((1 - momentum) * running.astype(dtype) + momentum * observed).astype(running.dtype)


# ------------------------------------------------------------------------ batch norm
def _check_no_channels(channels: int, weight, bias) -> None:
    """torch's batch-norm kernel reads the first element of an affine weight or bias: with
    no channels (``BatchNorm1d(0)``) that fails."""
    if channels == 0 and (weight is not None or bias is not None):
        raise IndexError("select(): index 0 out of range for tensor of size [0] at dimension 0")


def _check_batch_norm(x, running_mean, running_var, weight, bias, training) -> None:
    if training:  # torch's Python-side check comes first
        verify_batch_size(x.shape)
    channels = x.shape[1] if x.ndim >= 2 else 0  # torch reads a 1-D input as 0 channels
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        check_vector(name, value, channels)
    _check_no_channels(channels, weight, bias)
    if not training and running_mean is None:
        raise RuntimeError("running_mean must be defined in evaluation mode")
    if not training and running_var is None:
        raise RuntimeError("running_var must be defined in evaluation mode")
    if x.size:  # torch returns an empty input before its kernel's dtype dispatch
        check_floating(x, "batch_norm")
    check_mixed_dtype(x, weight, bias, running_mean, running_var)


def batch_norm_with_update(
    input: ArrayLike,
    running_mean: ArrayLike | None,
    running_var: ArrayLike | None,
    weight: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    training: bool = False,
    momentum: float | ArrayLike = 0.1,
    eps: float = 1e-5,
) -> _Stats:
    """Batch normalization that returns the updated running statistics.

    The pure form of torch's ``F.batch_norm``: where torch updates ``running_mean`` and
    ``running_var`` in place, this returns them. In training, the batch's mean and biased
    variance normalize the input, and (when running statistics are given)
    ``new = (1 - momentum) * running + momentum * batch`` with the *unbiased* variance.
    In evaluation the running statistics normalize and are returned unchanged.

    Args:
        input: :math:`(N, C, *)`.
        running_mean, running_var: :math:`(C)` or ``None``.
        weight, bias: :math:`(C)` affine parameters or ``None``.
        training: use the batch's statistics (and update the running ones).
        momentum: a float, or a traced scalar (``BatchNorm``'s cumulative average passes
            ``1 / num_batches_tracked``).
        eps: added to the variance.

    Returns:
        ``(output, new_running_mean, new_running_var)``; the statistics are ``None`` where
        none were given. Gradients do not flow into the new statistics.

    PyTorch: ``torch.nn.functional.batch_norm`` with the in-place update made functional
    (torch's ``aten._batch_norm_with_update_functional`` has the same idea).

    Example:
        >>> import jax.numpy as jnp
        >>> y, m, v = batch_norm_with_update(jnp.ones((4, 3)), jnp.zeros(3), jnp.ones(3),
        ...                                  training=True)
        >>> y.shape, m.shape
        ((4, 3), (3,))
    """
    x = jnp.asarray(input)
    rm, rv, w, b = _opt(running_mean), _opt(running_var), _opt(weight), _opt(bias)
    _check_batch_norm(x, rm, rv, w, b, training)
    xc = x.astype(compute_dtype(x.dtype))
    if training:
        axes = (0,) + tuple(range(2, x.ndim))
        mean, var = _moments(xc, axes)
        count = x.size // x.shape[1] if x.shape[1] else 0
        unbiased = count / (count - 1) if count > 1 else float("nan")  # torch: NaN too
        if rm is not None and x.size:  # (torch returns an empty input before any update)
            rm = _blend(rm, mean, momentum)
        if rv is not None and x.size:
            rv = _blend(rv, var * unbiased, momentum)
    else:
        mean, var = rm.astype(xc.dtype), rv.astype(xc.dtype)
    invstd = lax.rsqrt(var + eps)
    if training and xc.dtype != x.dtype:
        # torch's CPU kernel keeps a half input's batch mean and 1/std in its dtype
        mean, invstd = (v.astype(x.dtype).astype(xc.dtype) for v in (mean, invstd))
    y = (xc - _per_channel(mean, x.ndim)) * _per_channel(invstd, x.ndim)
    y = _affine(y, w, b, lambda v: _per_channel(v, x.ndim))
    return y.astype(x.dtype), rm, rv


def batch_norm(
    input: ArrayLike,
    running_mean: ArrayLike | None,
    running_var: ArrayLike | None,
    weight: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> jax.Array:
    """Batch normalization over the channel dimension 1 of ``(N, C, *)``.

    :math:`y = \\frac{x - E[x]}{\\sqrt{Var[x] + \\epsilon}} \\gamma + \\beta`, with the batch's
    statistics when ``training`` and the running ones otherwise.

    Args: as :func:`batch_norm_with_update`.

    Shape:
        - Input: :math:`(N, C, *)`. Output: the same.

    PyTorch: ``torch.nn.functional.batch_norm``, except that ``running_mean`` and
    ``running_var`` are **not** updated in place (JAX arrays are immutable); use
    :func:`batch_norm_with_update` (or ``nn.BatchNorm*d``) to get the new statistics.

    Example:
        >>> import jax.numpy as jnp
        >>> batch_norm(jnp.ones((4, 3, 5)), None, None, training=True).shape
        (4, 3, 5)
    """
    return batch_norm_with_update(input, running_mean, running_var, weight, bias, training,
                                  momentum, eps)[0]


# --------------------------------------------------------------------- instance norm
def _check_instance_norm(x, running_mean, running_var, weight, bias, use_input_stats):
    batch, channels = (x.shape[0], x.shape[1]) if x.ndim >= 2 else (1, 0)
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        # torch repeats each per-channel vector over the batch: its message counts N * C
        check_vector(name, value, batch * channels, batch)
    _check_no_channels(channels, weight, bias)
    if use_input_stats:
        verify_spatial_size(x.shape)
    elif running_mean is None or running_var is None:
        raise RuntimeError(
            "Expected running_mean and running_var to be defined when use_input_stats is false")
    if x.size:  # torch's instance_norm runs its batch_norm kernel
        check_floating(x, "batch_norm")
    check_mixed_dtype(x, weight, bias, running_mean, running_var)


def instance_norm_with_update(
    input: ArrayLike,
    running_mean: ArrayLike | None = None,
    running_var: ArrayLike | None = None,
    weight: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    use_input_stats: bool = True,
    momentum: float | ArrayLike = 0.1,
    eps: float = 1e-5,
) -> _Stats:
    """Instance normalization that returns the updated running statistics.

    Each sample's channels are normalized over their spatial dimensions. With
    ``use_input_stats`` and running statistics given, each running statistic moves
    towards the batch average of the per-instance statistics (unbiased variance), as
    torch's in-place update does.

    Args:
        input: :math:`(N, C, *)` with at least one spatial dimension.
        running_mean, running_var: :math:`(C)` or ``None``.
        weight, bias: :math:`(C)` or ``None``.
        use_input_stats: normalize with each instance's statistics (else the running ones).
        momentum, eps: as :func:`batch_norm_with_update`.

    Returns:
        ``(output, new_running_mean, new_running_var)``.

    PyTorch: ``torch.nn.functional.instance_norm`` with the in-place update made functional.

    Example:
        >>> import jax.numpy as jnp
        >>> instance_norm_with_update(jnp.ones((2, 3, 5)))[0].shape
        (2, 3, 5)
    """
    x = jnp.asarray(input)
    rm, rv, w, b = _opt(running_mean), _opt(running_var), _opt(weight), _opt(bias)
    _check_instance_norm(x, rm, rv, w, b, use_input_stats)
    xc = x.astype(compute_dtype(x.dtype))
    axes = tuple(range(2, x.ndim))
    if use_input_stats:
        mean, var = _moments(xc, axes)  # (N, C)
        count = int(np.prod(x.shape[2:]))
        if rm is not None and x.size:  # (torch returns an empty input before any update)
            rm = _blend(rm, jnp.mean(mean, axis=0), momentum)
        if rv is not None and x.size:
            rv = _blend(rv, jnp.mean(var, axis=0) * (count / (count - 1)), momentum)
        expand = lambda v: v.reshape(v.shape + (1,) * len(axes))  # noqa: E731
    else:
        mean, var = rm.astype(xc.dtype), rv.astype(xc.dtype)
        expand = lambda v: _per_channel(v, x.ndim)  # noqa: E731
    y = (xc - expand(mean)) * expand(lax.rsqrt(var + eps))
    y = _affine(y, w, b, lambda v: _per_channel(v, x.ndim))
    return y.astype(x.dtype), rm, rv


def instance_norm(
    input: ArrayLike,
    running_mean: ArrayLike | None = None,
    running_var: ArrayLike | None = None,
    weight: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> jax.Array:
    """Instance normalization: each channel of each sample over its spatial dimensions.

    Args: as :func:`instance_norm_with_update`.

    Shape:
        - Input: :math:`(N, C, *)`. Output: the same.

    PyTorch: ``torch.nn.functional.instance_norm``; running statistics passed in are not
    updated in place (use :func:`instance_norm_with_update`).

    Example:
        >>> import jax.numpy as jnp
        >>> instance_norm(jnp.ones((2, 3, 4, 4))).shape
        (2, 3, 4, 4)
    """
    return instance_norm_with_update(input, running_mean, running_var, weight, bias,
                                     use_input_stats, momentum, eps)[0]


# ------------------------------------------------------------------ layer/group/rms
def layer_norm(
    input: ArrayLike,
    normalized_shape: Sequence[int],
    weight: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    eps: float = 1e-5,
) -> jax.Array:
    """Layer normalization over the trailing ``normalized_shape`` dimensions.

    Args:
        input: :math:`(*, \\text{normalized\\_shape})`.
        normalized_shape: the trailing dimensions to normalize over (a list or tuple).
        weight, bias: of shape ``normalized_shape``, or ``None``.
        eps: added to the (biased) variance.

    Shape:
        - Input: :math:`(*, \\text{normalized\\_shape})`. Output: the same.

    PyTorch: ``torch.nn.functional.layer_norm``.

    Example:
        >>> import jax.numpy as jnp
        >>> layer_norm(jnp.ones((2, 5, 3)), (3,)).shape
        (2, 5, 3)
    """
    x, w, b = jnp.asarray(input), _opt(weight), _opt(bias)
    shape = as_shape(normalized_shape, "layer_norm")
    check_normalized_shape(x.shape, shape, comma=True)
    check_affine_shape("weight", w, shape)
    check_affine_shape("bias", b, shape)
    check_mixed_dtype(x, w, b)
    check_floating(x, "LayerNormKernelImpl")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    xc = x.astype(compute_dtype(x.dtype))
    mean, var = _moments(xc, axes)
    y = (xc - jnp.expand_dims(mean, axes)) * jnp.expand_dims(lax.rsqrt(var + eps), axes)
    return _affine(y, w, b).astype(x.dtype)


def group_norm(
    input: ArrayLike,
    num_groups: int,
    weight: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    eps: float = 1e-5,
) -> jax.Array:
    """Group normalization: channels split into ``num_groups`` groups, each normalized.

    Args:
        input: :math:`(N, C, *)` with ``C`` divisible by ``num_groups``.
        num_groups: number of groups.
        weight, bias: per-channel :math:`(C)` affine parameters, or ``None``.
        eps: added to the (biased) variance.

    Shape:
        - Input: :math:`(N, C, *)`. Output: the same.

    PyTorch: ``torch.nn.functional.group_norm``.

    Example:
        >>> import jax.numpy as jnp
        >>> group_norm(jnp.ones((2, 6, 5)), 3).shape
        (2, 6, 5)
    """
    x, w, b = jnp.asarray(input), _opt(weight), _opt(bias)
    if x.ndim < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {x.ndim}")
    n, c = x.shape[:2]
    verify_batch_size([n * c // num_groups, num_groups, *x.shape[2:]],
                      str([n * c // num_groups, num_groups, *x.shape[2:]]))
    # torch's native_group_norm order: groups, divisibility, then weight and bias
    if num_groups <= 0:
        raise RuntimeError(f"Expected num groups to be greater than 0, got {num_groups}")
    if c % num_groups:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got "
            f"input of shape {list(x.shape)} and num_groups={num_groups}")
    for name, value in (("weight", w), ("bias", b)):
        if value is not None and (value.ndim != 1 or value.size != c):
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in "
                f"input, but got {name} of shape {list(value.shape)} and input of shape "
                f"{list(x.shape)}")
    check_mixed_dtype(x, w, b)
    check_floating(x, "GroupNormKernelImpl")
    xc = x.astype(compute_dtype(x.dtype))
    # the group size spelled out: reshape cannot infer -1 next to a zero batch
    grouped = xc.reshape(n, num_groups, (c // num_groups) * int(np.prod(x.shape[2:])))
    mean, var = _moments(grouped, (2,))
    y = (grouped - mean[..., None]) * lax.rsqrt(var + eps)[..., None]
    y = _affine(y.reshape(x.shape), w, b, lambda v: _per_channel(v, x.ndim))
    return y.astype(x.dtype)


def rms_norm(
    input: ArrayLike,
    normalized_shape: Sequence[int],
    weight: ArrayLike | None = None,
    eps: float | None = None,
) -> jax.Array:
    """Root-mean-square normalization over the trailing ``normalized_shape`` dimensions.

    :math:`y = \\frac{x}{\\sqrt{\\mathrm{mean}(x^2) + \\epsilon}} \\gamma`.

    Args:
        input: :math:`(*, \\text{normalized\\_shape})`.
        normalized_shape: the trailing dimensions (a list or tuple).
        weight: of shape ``normalized_shape``, or ``None``.
        eps: added to the mean square; ``None`` is the epsilon of the computation's dtype
            (``finfo(float32).eps`` for float16/bfloat16 input), as in torch.

    Shape:
        - Input: :math:`(*, \\text{normalized\\_shape})`. Output: the same.

    PyTorch: ``torch.nn.functional.rms_norm``. A weight of another dtype is applied in the
    float32 computation and the result cast to the input's dtype, as torch's fallback
    does (torch also warns there; jnn does not).

    Example:
        >>> import jax.numpy as jnp
        >>> rms_norm(jnp.ones((2, 3)), (3,)).shape
        (2, 3)
    """
    x, w = jnp.asarray(input), _opt(weight)
    shape = as_shape(normalized_shape, "rms_norm")
    # torch's order: the weight, the input's rank (a ValueError), then its trailing shape
    check_affine_shape("weight", w, shape)
    if x.ndim < len(shape):
        raise ValueError(f"Input tensor must have at least {len(shape)} dimensions, but got "
                         f"{x.ndim}")
    check_normalized_shape(x.shape, shape, comma=False)
    check_floating(x, "rms_norm")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    xc = x.astype(compute_dtype(x.dtype))
    if eps is None:  # torch: the epsilon of the computation's type (float32 for half types)
        eps = float(jnp.finfo(xc.dtype).eps)
    y = xc * lax.rsqrt(jnp.mean(jnp.square(xc), axis=axes, keepdims=True) + eps)
    if w is not None:
        y = y * w.astype(jnp.promote_types(y.dtype, w.dtype))
    return y.astype(x.dtype)


# -------------------------------------------------------------------- local response
def local_response_norm(
    input: ArrayLike, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> jax.Array:
    """Local response normalization across channels.

    :math:`b_c = a_c \\left(k + \\frac{\\alpha}{n} \\sum_{c'} a_{c'}^2\\right)^{-\\beta}`, the
    sum over the ``n = size`` channels around ``c`` (``size // 2`` before, ``(size - 1) // 2``
    after, zero beyond the edges). One ``lax.reduce_window`` over the channel axis.

    Args:
        input: :math:`(N, C, *)` with at least one spatial dimension.
        size, alpha, beta, k: as above.

    Shape:
        - Input: :math:`(N, C, *)`. Output: the same.

    PyTorch: ``torch.nn.functional.local_response_norm``.

    Example:
        >>> import jax.numpy as jnp
        >>> local_response_norm(jnp.ones((2, 6, 4)), 3).shape
        (2, 6, 4)
    """
    x = jnp.asarray(input)
    if x.ndim < 3:
        # torch's message, odd spacing included
        raise ValueError("Expected 3D or higher dimensionality                          "
                         f"input (got {x.ndim} dimensions)")
    if x.size == 0:
        return x
    # torch pools a 3-D input with avg_pool2d over (size, 1), a deeper one with avg_pool3d
    # over (size, 1, 1): their kernel-size and dtype checks, with their wording.
    if size <= 0:
        kernel = f"kH: {size} kW: 1" if x.ndim == 3 else f"kT: {size} kH: 1 kW: 1"
        raise RuntimeError(f"kernel size should be greater than zero, but got {kernel}")
    check_floating(x, "avg_pool2d" if x.ndim == 3 else "avg_pool3d_out_frame")
    padding = [(0, 0)] * x.ndim
    padding[1] = (size // 2, (size - 1) // 2)
    window = (1, size) + (1,) * (x.ndim - 2)
    summed = lax.reduce_window(x * x, np.zeros((), x.dtype), lax.add, window,
                               (1,) * x.ndim, padding)
    div = (summed / size * alpha + k) ** beta
    return x / div


@functools.lru_cache(maxsize=64)
def _cross_map_windows(channels: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Channel-mixing matrices of torch's legacy ``CrossMapLRN2d`` (forward, backward).

    torch's forward builds each channel's sum of squares from the previous one by adding
    the channel entering the window and removing the one leaving, but removes a channel
    only once ``c > pre_pad``: channel 0 is never removed. Its hand-written backward uses a
    window shifted by one. Both are reproduced as static 0/1 matrices so that outputs and
    gradients equal torch's; this runs once per (channels, size), never per call.
    """
    pre_pad = int((size - 1) / 2 + 1)
    fwd = np.zeros((channels, channels), np.float32)
    fwd[0, :min(pre_pad, channels)] = 1
    for c in range(1, channels):
        fwd[c] = fwd[c - 1]
        if c < channels - pre_pad + 1:
            fwd[c, c + pre_pad - 1] += 1
        if c > pre_pad:
            fwd[c, c - pre_pad] -= 1
    inverse_pre_pad = int(size - (size - 1) / 2)
    c, j = np.indices((channels, channels))
    bwd = ((j >= c - inverse_pre_pad) & (j <= c + size - 1 - inverse_pre_pad))
    return fwd, bwd.astype(np.float32)


def _mix_channels(matrix: np.ndarray, x: jax.Array) -> jax.Array:
    m = jnp.asarray(matrix, x.dtype)
    return jnp.einsum("cj,njhw->nchw", m, x, precision=lax.Precision.HIGHEST)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4))
def cross_map_lrn2d(x: jax.Array, size: int, alpha: float, beta: float, k: float) -> jax.Array:
    """torch's legacy ``CrossMapLRN2d`` function on a 4-D input (see ``nn.CrossMapLRN2d``)."""
    return _cross_map_forward(x, size, alpha, beta, k)[0]


def _cross_map_forward(x, size, alpha, beta, k):
    fwd, _ = _cross_map_windows(x.shape[1], size)
    scale = _mix_channels(fwd, x * x) * (alpha / size) + k
    out = x * scale ** -beta
    return out, (x, scale, out)


def _cross_map_backward(size, alpha, beta, k, residuals, grad):
    x, scale, out = residuals
    _, bwd = _cross_map_windows(x.shape[1], size)
    ratio = _mix_channels(bwd, grad * out / scale)
    return (scale ** -beta * grad - (2 * alpha * beta / size) * x * ratio,)


cross_map_lrn2d.defvjp(_cross_map_forward, _cross_map_backward)
