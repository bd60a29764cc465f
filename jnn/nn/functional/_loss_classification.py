"""Classification losses: ``nll_loss``, ``cross_entropy``, ``binary_cross_entropy``,
``binary_cross_entropy_with_logits``, ``kl_div`` (public through ``...functional.loss``).

Class indices are checked against ``[0, C)`` (torch's ``IndexError: Target 5 is out of
bounds.``) and BCE probabilities against ``[0, 1]`` when they are concrete; inside a trace
the checks are skipped (no host sync) and an out-of-range index gives NaN for its element.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import xlogy
from jax.typing import ArrayLike

from jnn.nn.functional._dispatch import warn
from jnn.nn.functional._loss_common import (
    check_class_targets,
    check_class_weight_dtype,
    check_unit_intervals,
    refuse_bool_subtraction,
    refuse_integer,
)
from jnn.nn.functional._utils import (
    broadcast_shapes,
    check_inplace_broadcast,
    get_reduction,
    legacy_get_string,
    normalize_dim,
    numel,
    reduce_loss,
    torch_dtype_name,
    torch_size,
)

__all__ = [
    "nll_loss", "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "kl_div",
]


# ---------------------------------------------------------- nll_loss / cross_entropy
def _check_nll_args(x_shape, t_shape, t_dtype, w_shape) -> None:
    """torch's ``nll_loss_nd`` checks, in its order and with its exception types."""
    ndim = len(x_shape)
    if ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {ndim})")
    target_batch = t_shape[0] if len(t_shape) else 0  # what torch reports for a 0-d target
    if ndim != 1 and x_shape[0] != target_batch:
        raise ValueError(
            f"Expected input batch_size ({x_shape[0]}) to match target batch_size ({target_batch})."
        )
    if ndim <= 2:
        if len(t_shape) > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if ndim == 1 and len(t_shape) == 1 and t_shape[0] != 1:
            raise ValueError(
                f"For 1D input, 1D target must have size 1, but got target size: {t_shape[0]}"
            )
    elif ndim == 4:
        if len(t_shape) != 3:
            raise RuntimeError(
                "only batches of spatial targets supported (3D tensors) but got targets of "
                f"dimension: {len(t_shape)}"
            )
        if tuple(t_shape[1:]) != tuple(x_shape[2:]):
            raise RuntimeError(
                f"size mismatch (got input: {list(x_shape)} , target: {list(t_shape)}"
            )
    elif tuple(t_shape[1:]) != tuple(x_shape[2:]):
        expected = [x_shape[0], *x_shape[2:]]
        raise RuntimeError(f"Expected target size {expected}, got {list(t_shape)}")
    # jnn accepts every integer dtype: JAX's default integer is int32, not torch's int64.
    if not jnp.issubdtype(t_dtype, jnp.integer):
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {torch_dtype_name(t_dtype)}"
        )
    n_classes = x_shape[0] if ndim == 1 else x_shape[1]
    if w_shape is None:
        return
    if ndim <= 2 and (len(w_shape) != 1 or w_shape[0] != n_classes):
        raise RuntimeError(
            f"weight tensor should be defined either for all {n_classes} classes or no "
            f"classes but got weight tensor of shape: {list(w_shape)}"
        )
    if ndim > 2 and numel(w_shape) != n_classes:
        raise RuntimeError("weight tensor should be defined either for all or no classes")


def _nll_elements(logp: jax.Array, target: jax.Array, weight, ignore_index: int):
    """Per-element ``-w[t] * logp[t]`` for a batched ``(N, C, *)`` input.

    Returns ``(loss, target_weight)``, both ``(N, *)``; ignored elements have zero loss
    and zero weight, so ``loss.sum() / target_weight.sum()`` is torch's weighted mean.
    """
    n_classes = logp.shape[1]
    target = target.astype(jnp.int32)
    ignored = target == ignore_index
    in_range = (target >= 0) & (target < n_classes)
    safe_target = jnp.where(in_range, target, 0)
    picked = jnp.take_along_axis(logp, safe_target[:, None], axis=1)[:, 0]
    # An out-of-range class index (an IndexError in torch) shows up as NaN: no host sync.
    picked = jnp.where(in_range | ignored, picked, jnp.nan)
    if weight is None:
        target_weight = jnp.ones(target.shape, logp.dtype)
    else:
        target_weight = jnp.take(jnp.asarray(weight, logp.dtype).reshape(-1), safe_target)
    target_weight = jnp.where(ignored, jnp.zeros((), logp.dtype), target_weight)
    loss = jnp.where(ignored, jnp.zeros((), logp.dtype), -target_weight * picked)
    return loss, target_weight


def _reduce_nll(loss: jax.Array, target_weight: jax.Array, reduction: str) -> jax.Array:
    if reduction == "mean":
        return jnp.sum(loss) / jnp.sum(target_weight)
    return reduce_loss(loss, reduction)


def _batched(x: jax.Array, target: jax.Array) -> tuple[jax.Array, jax.Array, bool]:
    # A 1-d input (C,) is one sample: add the batch dim torch's kernels add.
    if x.ndim == 1:
        return x[None], target.reshape(1), True
    return x, target, False


def nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    """Negative log-likelihood of class-index targets, given log-probabilities.

    Args:
        input: log-probabilities ``(N, C)``, ``(C,)`` or ``(N, C, d_1, ..., d_K)``.
        target: integer class indices ``(N)``, ``()`` or ``(N, d_1, ..., d_K)``.
        weight: optional per-class weight ``(C,)``, of the input's dtype (torch's kernel
            refuses another).
        ignore_index: target value that contributes neither loss nor weight.
        reduction: ``'none'`` | ``'mean'`` (divides by the summed weight of the
            non-ignored targets) | ``'sum'``.

    Shape:
        - Output: scalar, or the target's shape for ``'none'``.

    PyTorch: ``torch.nn.functional.nll_loss``. Any integer target dtype is accepted
    (torch wants int64 or uint8). An out-of-range index raises torch's IndexError when the
    target is concrete; inside a trace (no host sync) it gives NaN for its element.
    """
    x, t = jnp.asarray(input), jnp.asarray(target)
    reduction = get_reduction(reduction, size_average, reduce)
    w_shape = None if weight is None else jnp.shape(weight)
    _check_nll_args(x.shape, t.shape, t.dtype, w_shape)
    refuse_integer(x.dtype, "nll_loss_out_frame" if x.ndim < 3 else "nll_loss2d_forward_out_frame")
    check_class_weight_dtype(x.dtype, weight)  # its kernel reads it as the input's type
    check_class_targets(target, x.shape[0] if x.ndim == 1 else x.shape[1], ignore_index)
    x, t, unbatched = _batched(x, t)
    loss, target_weight = _nll_elements(x, t, weight, ignore_index)
    if unbatched:
        loss, target_weight = loss[0], target_weight[0]
    return _reduce_nll(loss, target_weight, reduction)


def _refuse_integer_logits(dtype, last_dim: bool) -> None:
    # torch's log_softmax kernels, named as in its message for integer logits.
    refuse_integer(dtype, "log_softmax_lastdim_kernel_impl" if last_dim else
                   "log_softmax_kernel_impl")


def _class_weight(weight, ndim: int, dtype) -> jax.Array:
    # (C,) -> (1, C, 1, ..., 1) so that it multiplies along the class dimension.
    w = jnp.asarray(weight, dtype).reshape(-1)
    return w.reshape((1, -1) + (1,) * (ndim - 2)) if ndim > 1 else w


def _check_label_smoothing(label_smoothing: float) -> None:
    if label_smoothing > 1.0:
        raise RuntimeError("label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{float(label_smoothing):g}")  # (C++ stream formatting)


def ce_prob_elements(x: jax.Array, t: jax.Array, weight, label_smoothing: float) -> jax.Array:
    """Per-sample cross-entropy of logits ``(N, C, *)`` against probabilities: ``(N, *)``."""
    n_classes = x.shape[1]
    logp = jax.nn.log_softmax(x, axis=1)
    if label_smoothing > 0.0:
        t = t * (1 - label_smoothing) + label_smoothing / n_classes
    terms = logp * t
    if weight is not None:
        terms = terms * _class_weight(weight, x.ndim, x.dtype)
    return -jnp.sum(terms, axis=1)


def _cross_entropy_probs(x, t, weight, reduction, label_smoothing) -> jax.Array:
    """Cross-entropy against class probabilities (``target`` shaped like ``input``)."""
    if x.ndim == 0:
        raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    class_axis = 0 if x.ndim == 1 else 1
    n_classes = x.shape[class_axis]
    if weight is not None and (jnp.ndim(weight) != 1 or jnp.size(weight) != n_classes):
        raise RuntimeError(
            f"cross_entropy: weight tensor should be defined either for all {n_classes} "
            f"classes or no classes but got weight tensor of shape: {list(jnp.shape(weight))}"
        )
    if label_smoothing > 0.0:
        _check_label_smoothing(label_smoothing)
    loss = ce_prob_elements(x[None] if x.ndim == 1 else x, t[None] if x.ndim == 1 else t,
                            weight, label_smoothing)
    if x.ndim == 1:
        loss = loss[0]
    if reduction == "none":
        return loss
    if reduction == "sum":
        return jnp.sum(loss)
    # torch divides by the number of samples (N * d_1 * ... * d_K), not by the weights.
    return jnp.sum(loss) / (x.size // n_classes if n_classes else 0)


def _smooth_loss(logp: jax.Array, target: jax.Array, weight, ignore_index: int) -> jax.Array:
    # -sum_c w_c * logp_c per element, zero where the target is ignored (torch's rule).
    if weight is not None:
        logp = logp * _class_weight(weight, logp.ndim, logp.dtype)
    smooth = -jnp.sum(logp, axis=1)
    return jnp.where(target == ignore_index, jnp.zeros((), smooth.dtype), smooth)


def ce_index_elements(x: jax.Array, t: jax.Array, weight, ignore_index: int,
                      label_smoothing: float) -> tuple[jax.Array, jax.Array]:
    """Per-sample cross-entropy of logits ``(N, C, *)`` against class indices ``(N, *)``.

    Returns ``(loss, target_weight)``; ``sum(loss) / sum(target_weight)`` is torch's mean:
    it normalises both the nll and the smoothing term by the weight of the kept targets.
    """
    logp = jax.nn.log_softmax(x, axis=1)
    loss, target_weight = _nll_elements(logp, t, weight, ignore_index)
    if label_smoothing > 0.0:
        smooth = _smooth_loss(logp, t, weight, ignore_index)
        loss = (1 - label_smoothing) * loss + label_smoothing / logp.shape[1] * smooth
    return loss, target_weight


def cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> jax.Array:
    """Cross-entropy between logits and class indices or class probabilities.

    Args:
        input: unnormalised logits ``(N, C)``, ``(C,)`` or ``(N, C, d_1, ..., d_K)``.
        target: integer class indices (``input``'s shape without ``C``), or floating
            class probabilities of ``input``'s shape.
        weight: optional per-class weight ``(C,)``, of the input's dtype (torch's kernel
            refuses another; class-probability targets take any float weight).
        ignore_index: class index to skip (index targets only).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. For index targets ``'mean'``
            divides by the summed weight of the non-ignored targets; for probability
            targets by the number of samples.
        label_smoothing: in ``[0, 1]``; mixes the target with the uniform distribution,
            ``(1 - eps) * loss + eps / C * smooth_loss``, weighted as torch does.

    Shape:
        - Output: scalar, or ``(N)`` / ``(N, d_1, ..., d_K)`` / ``()`` for ``'none'``.

    PyTorch: ``torch.nn.functional.cross_entropy``; index targets may have any integer
    dtype. An out-of-range index raises torch's IndexError eagerly and under
    ``jnn.compile(fn, checks=True)``; in other traces (no host sync) it gives NaN there.

    Example:
        >>> import jax.numpy as jnp
        >>> cross_entropy(jnp.zeros((2, 3)), jnp.array([0, 2])).shape
        ()
    """
    x, t = jnp.asarray(input), jnp.asarray(target)
    reduction = get_reduction(reduction, size_average, reduce)
    if x.shape == t.shape:  # torch's rule: same shape means class probabilities
        if not jnp.issubdtype(t.dtype, jnp.floating):
            raise RuntimeError(
                "Expected floating point type for target with class probabilities, got "
                f"{torch_dtype_name(t.dtype)}"
            )
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        if x.ndim:
            _refuse_integer_logits(x.dtype, x.ndim <= 2)
        return _cross_entropy_probs(x, t, weight, reduction, label_smoothing)

    class_axis = normalize_dim(0 if x.ndim == 1 else 1, x.ndim)
    _refuse_integer_logits(x.dtype, class_axis == x.ndim - 1)
    w_shape = None if weight is None else jnp.shape(weight)
    _check_nll_args(x.shape, t.shape, t.dtype, w_shape)
    check_class_weight_dtype(x.dtype, weight)  # nll_loss's, on the log_softmax output
    check_class_targets(target, x.shape[class_axis], ignore_index)
    if label_smoothing > 0.0:
        _check_label_smoothing(label_smoothing)
    x, t, unbatched = _batched(x, t)
    loss, target_weight = ce_index_elements(x, t, weight, ignore_index, label_smoothing)
    if unbatched:
        loss, target_weight = loss[0], target_weight[0]
    return _reduce_nll(loss, target_weight, reduction)


# ------------------------------------------------------------------------------ BCE
@jax.custom_jvp
def _binary_cross_entropy_terms(x: jax.Array, t: jax.Array) -> jax.Array:
    # torch clamps each log at -100 so that x = 0 or 1 gives a finite loss.
    log_x = jnp.maximum(jnp.log(x), -100.0)
    log_1mx = jnp.maximum(jnp.log1p(-x), -100.0)
    return (t - 1) * log_1mx - t * log_x


@_binary_cross_entropy_terms.defjvp
def _binary_cross_entropy_terms_jvp(primals, tangents):
    # torch's backward: d/dx = (x - t) / max(x (1 - x), 1e-12), finite at x = 0 and 1,
    # where differentiating the clamped logs would give inf * 0 = NaN; d/dt uses the
    # unclamped logs (infinite at x = 0 or 1, as in torch).
    x, t = primals
    dx, dt = tangents
    out = _binary_cross_entropy_terms(x, t)
    d_input = (x - t) / jnp.maximum((1 - x) * x, 1e-12)
    d_target = jnp.log1p(-x) - jnp.log(x)
    return out, d_input * dx + d_target * dt


def _check_weight_broadcastable(target_shape, weight_shape) -> None:
    # torch.broadcast_shapes(target.size(), weight.size()) and then an expand into the
    # target-shaped output, with their messages.
    for i in range(1, min(len(target_shape), len(weight_shape)) + 1):
        w, n = weight_shape[-i], target_shape[-i]
        if w != 1 and n != 1 and w != n:
            raise RuntimeError(
                f"Attempting to broadcast a dimension of length {w} at {-i}! Mismatching "
                f"argument at index 1 had {torch_size(weight_shape)}; but expected shape "
                f"should be broadcastable to {list(target_shape)}"
            )
    check_inplace_broadcast(target_shape, weight_shape)


def binary_cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    """Binary cross-entropy between probabilities ``input`` and ``target``.

    ``-w (t log x + (1 - t) log(1 - x))``, each log clamped at -100 as in torch.

    Args:
        input: probabilities in ``[0, 1]``; target: same shape and dtype, in ``[0, 1]``.
            Values outside (or NaN) raise torch's RuntimeError when the arrays are
            concrete; inside a trace they are not checked (no host sync).
        weight: optional, broadcastable to ``input``'s shape.

    PyTorch: ``torch.nn.functional.binary_cross_entropy``.
    """
    x, t = jnp.asarray(input), jnp.asarray(target)
    reduction = get_reduction(reduction, size_average, reduce)
    if t.shape != x.shape:
        raise ValueError(
            f"Using a target size ({torch_size(t.shape)}) that is different to the input "
            f"size ({torch_size(x.shape)}) is deprecated. Please ensure they have the same size."
        )
    if t.dtype != x.dtype:  # torch refuses to promote here
        raise RuntimeError(
            f"Found dtype {torch_dtype_name(t.dtype)} but expected {torch_dtype_name(x.dtype)}"
        )
    refuse_integer(x.dtype, "binary_cross_entropy")
    check_unit_intervals(input, target)  # value checks: concrete or traced-checked
    loss = _binary_cross_entropy_terms(x, t)
    if weight is not None:
        _check_weight_broadcastable(t.shape, jnp.shape(weight))
        loss = loss * jnp.asarray(weight)
    return reduce_loss(loss, reduction)


def binary_cross_entropy_with_logits(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: ArrayLike | None = None,
) -> jax.Array:
    """Binary cross-entropy on logits: a stable ``binary_cross_entropy(sigmoid(x), t)``.

    ``(1 - t) x - (1 + (pos_weight - 1) t) log sigmoid(x)``, times ``weight``.

    Args:
        input: logits, any shape; target: same shape.
        weight: optional, broadcastable to ``input``'s shape.
        pos_weight: optional weight of positive examples, broadcastable to the target,
            e.g. ``(C,)`` for a ``(N, C)`` multi-label problem.

    PyTorch: ``torch.nn.functional.binary_cross_entropy_with_logits``.
    """
    x, t = jnp.asarray(input), jnp.asarray(target)
    reduction = get_reduction(reduction, size_average, reduce)
    if t.shape != x.shape:
        raise ValueError(
            f"Target size ({torch_size(t.shape)}) must be the same as input size "
            f"({torch_size(x.shape)})"
        )
    refuse_integer(x.dtype, "log_sigmoid_cpu")
    # torch's (1 - target).mul_(input): a bool target fails the subtraction, an integer
    # one the in-place product, which cannot hold the promoted float (Half for f16 logits)
    if t.dtype == jnp.bool_:
        refuse_bool_subtraction(t.dtype)
    if not jnp.issubdtype(t.dtype, jnp.inexact):
        raise RuntimeError(
            f"result type {torch_dtype_name(jnp.result_type(x, t))} can't be cast to the "
            f"desired output type {torch_dtype_name(t.dtype)}"
        )
    # torch works in place: log_sigmoid(input).mul_(pos_weight term) keeps the input's
    # dtype, and the loss is built on (1 - target), so it has the target's dtype whatever
    # the input's, weight's and pos_weight's (each step computed promoted, then cast back).
    log_sigmoid = jax.nn.log_sigmoid(x)
    if pos_weight is not None:
        pw = jnp.asarray(pos_weight)
        check_inplace_broadcast(x.shape, broadcast_shapes(pw.shape, t.shape))
        log_sigmoid = (log_sigmoid * (1 + (pw - 1) * t)).astype(x.dtype)
    loss = ((1 - t) * x).astype(t.dtype)
    loss = (loss - log_sigmoid).astype(t.dtype)
    if weight is not None:
        check_inplace_broadcast(loss.shape, jnp.shape(weight))
        loss = (loss * jnp.asarray(weight)).astype(t.dtype)
    return reduce_loss(loss, reduction)


# ------------------------------------------------------------------------------- KL
def kl_div(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> jax.Array:
    """Kullback-Leibler divergence ``KL(target || exp(input))``, pointwise.

    ``target * (log(target) - input)``, or ``exp(target) * (target - input)`` when
    ``log_target``.

    Args:
        input: log-probabilities, any shape.
        target: probabilities (log-probabilities if ``log_target``), broadcastable.
        reduction: ``'none'`` | ``'batchmean'`` (sum / batch size: the true KL
            divergence) | ``'sum'`` | ``'mean'`` (sum / number of elements, with
            torch's warning).

    PyTorch: ``torch.nn.functional.kl_div``.
    """
    x, t = jnp.asarray(input), jnp.asarray(target)
    if size_average is not None or reduce is not None:
        effective = legacy_get_string(size_average, reduce)
    else:
        if reduction == "mean":
            warn(
                "reduction: 'mean' divides the total loss by both the batch size and the "
                "support size.'batchmean' divides only by the batch size, and aligns with the "
                "KL div math definition.'mean' will be changed to behave the same as "
                "'batchmean' in the next major release.",
                stacklevel=2,
            )
        effective = "sum" if reduction == "batchmean" else get_reduction(reduction)
    broadcast_shapes(t.shape, x.shape)  # torch evaluates target * (...): target is "a"
    if not (jnp.issubdtype(x.dtype, jnp.inexact) and jnp.issubdtype(t.dtype, jnp.inexact)):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = jnp.exp(t) * (t - x)
    else:
        loss = xlogy(t, t) - t * x
    out = reduce_loss(loss, effective)
    # As torch: 'batchmean' divides even when the legacy flags chose the reduction.
    if reduction == "batchmean" and x.ndim != 0:
        out = out / x.shape[0]
    return out
