"""Margin and embedding losses (public through ``jnn.nn.functional.loss``).

``margin_ranking_loss``, ``hinge_embedding_loss``, ``soft_margin_loss``,
``multilabel_soft_margin_loss``, ``multilabel_margin_loss``, ``cosine_embedding_loss``,
``multi_margin_loss``, ``triplet_margin_loss``, ``triplet_margin_with_distance_loss``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jnn.nn.functional._loss_common import (
    abs_with_zero_subgradient,
    check_class_weight_dtype,
    check_reduction_is_valid,
    clamp_min_zero,
    concrete,
    positive_part,
    refuse_bool_subtraction,
    refuse_cast_into_input,
    refuse_integer,
    refuse_integer_mean,
    traced_check,
    traced_checks,
)
from jnn.nn.functional._utils import (
    broadcast_shapes,
    check_inplace_broadcast,
    get_reduction,
    legacy_get_string,
    reduce_loss,
    torch_dtype_name,
    torch_size,
)

__all__ = [
    "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
    "multilabel_soft_margin_loss", "multilabel_margin_loss", "cosine_embedding_loss",
    "multi_margin_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
]


def _as_float(x: jax.Array) -> jax.Array:
    # torch promotes integer operands of these losses to its default float dtype.
    return x if jnp.issubdtype(x.dtype, jnp.inexact) else x.astype(jnp.result_type(float))


def _check_long_target(dtype) -> None:
    # torch wants int64; jnn takes any integer dtype (JAX's default integer is int32).
    if not jnp.issubdtype(dtype, jnp.integer):
        raise RuntimeError(f"expected scalar type Long but found {torch_dtype_name(dtype)}")


# ---------------------------------------------------------------- pointwise margins
def margin_ranking_loss(
    input1: ArrayLike, input2: ArrayLike, target: ArrayLike, margin: float = 0,
    size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
) -> jax.Array:
    """``max(0, -y (x1 - x2) + margin)``: ``y = 1`` ranks ``x1`` first, ``-1`` ``x2``.

    Shape:
        - Input1, Input2, Target: ``(N)`` or ``()``, the same number of dimensions
          (broadcast). Output: scalar, or the broadcast shape for ``'none'``.

    PyTorch: ``torch.nn.functional.margin_ranking_loss``.

    Example:
        >>> import jax.numpy as jnp
        >>> margin_ranking_loss(jnp.ones(3), jnp.zeros(3), jnp.ones(3)).shape
        ()
    """
    x1, x2, y = jnp.asarray(input1), jnp.asarray(input2), jnp.asarray(target)
    reduction = get_reduction(reduction, size_average, reduce)
    if not x1.ndim == x2.ndim == y.ndim:
        raise RuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got "
            f"sizes: input1: {torch_size(x1.shape)}, input2: {torch_size(x2.shape)}, "
            f"target: {torch_size(y.shape)} "
        )
    # torch: -target * (input1 - input2), so the target is tensor a of the second op
    broadcast_shapes(y.shape, broadcast_shapes(x1.shape, x2.shape))
    loss = clamp_min_zero(-_as_float(y) * (_as_float(x1) - _as_float(x2)) + margin)
    return reduce_loss(loss, reduction)


def hinge_embedding_loss(
    input: ArrayLike, target: ArrayLike, margin: float = 1.0,
    size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
) -> jax.Array:
    """``x`` where ``y = 1``, ``max(0, margin - x)`` where ``y = -1`` (distances ``x``).

    Shape:
        - Input: ``(*)``; Target: ``(*)`` of 1 and -1; Output: scalar, or ``(*)``.

    PyTorch: ``torch.nn.functional.hinge_embedding_loss`` (a target that is neither 1
    nor -1 gets both terms, as in torch).

    Example:
        >>> import jax.numpy as jnp
        >>> hinge_embedding_loss(jnp.ones(3), jnp.array([1.0, -1.0, 1.0])).shape
        ()
    """
    x, y = jnp.asarray(input), jnp.asarray(target)
    reduction = get_reduction(reduction, size_average, reduce)
    refuse_bool_subtraction(x.dtype)
    refuse_integer_mean(x.dtype, reduction)
    broadcast_shapes(y.shape, x.shape)  # torch: where(target != 1, ...): the target is a
    zero = jnp.zeros((), x.dtype)
    below_margin = jnp.where(y != 1, clamp_min_zero(margin - x).astype(x.dtype), zero)
    loss = below_margin + jnp.where(y != -1, x, zero)
    return reduce_loss(loss, reduction)


def soft_margin_loss(
    input: ArrayLike, target: ArrayLike, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean",
) -> jax.Array:
    """Two-class logistic loss ``log(1 + exp(-y x))`` for targets ``y`` in {1, -1}.

    Computed as torch does, ``log1p(exp(-y x))``: it overflows to ``inf`` for
    ``-y x > 88`` in float32, exactly as torch's.

    Shape:
        - Input: ``(*)``; Target: broadcastable to the input's shape without enlarging it;
          Output: scalar, or ``(*)`` for ``'none'``, in the input's dtype.

    PyTorch: ``torch.nn.functional.soft_margin_loss``, whose kernel writes into an output
    of the input's shape and dtype (a target that enlarges it raises its RuntimeError).

    Example:
        >>> import jax.numpy as jnp
        >>> soft_margin_loss(jnp.zeros(3), jnp.ones(3)).shape
        ()
    """
    x, y = jnp.asarray(input), jnp.asarray(target)
    reduction = get_reduction(reduction, size_average, reduce)
    broadcast_shapes(x.shape, y.shape)
    if x.dtype == jnp.bool_:
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    # torch's kernel writes into an output of the input's shape and dtype:
    # neg_out(out, input).mul_(target).exp_().log1p_()
    check_inplace_broadcast(x.shape, y.shape)
    refuse_cast_into_input(x.dtype, y.dtype)
    if not jnp.issubdtype(jnp.result_type(x, y), jnp.inexact):
        raise RuntimeError(
            f"result type Float can't be cast to the desired output type "
            f"{torch_dtype_name(x.dtype)}"
        )
    z = (-x * y).astype(x.dtype)
    return reduce_loss(jnp.log1p(jnp.exp(z)), reduction)


def multilabel_soft_margin_loss(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None = None,
    size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
) -> jax.Array:
    """One-versus-all logistic loss averaged over the ``C`` classes of each sample.

    ``-(1/C) sum_c w_c (y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c))``.

    Shape:
        - Input: ``(N, C)`` or ``(C)``; Target: the same, of 0 and 1.
        - Output: scalar, or ``(N)`` (``()``) for ``'none'``.

    PyTorch: ``torch.nn.functional.multilabel_soft_margin_loss``.

    Example:
        >>> import jax.numpy as jnp
        >>> multilabel_soft_margin_loss(jnp.zeros((2, 3)), jnp.ones((2, 3))).shape
        ()
    """
    x, y = jnp.asarray(input), jnp.asarray(target)
    if size_average is not None or reduce is not None:
        reduction = legacy_get_string(size_average, reduce)
    refuse_integer(x.dtype, "log_sigmoid_cpu")
    broadcast_shapes(y.shape, x.shape)
    loss = -(y * jax.nn.log_sigmoid(x) + (1 - y) * jax.nn.log_sigmoid(-x))
    if weight is not None:
        loss = loss * jnp.asarray(weight)
    if x.ndim == 0:  # torch's input.size(input.dim() - 1)
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    # torch sums over the input's last dim, also when the target adds leading dims
    class_dim = x.ndim - 1
    loss = jnp.sum(loss, axis=class_dim) / x.shape[class_dim]
    check_reduction_is_valid(reduction, "{} is not valid")
    return reduce_loss(loss, reduction)


# ------------------------------------------------------------------ class margins
def _check_margin_input(shape) -> None:
    ndim = len(shape)
    if not ((ndim == 2 and shape[1] != 0) or (ndim == 1 and shape[0] != 0) or ndim == 0):
        raise RuntimeError(
            "Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
            f"{list(shape)}"
        )


def multilabel_margin_loss(
    input: ArrayLike, target: ArrayLike, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean",
) -> jax.Array:
    """Multi-class multi-label hinge loss.

    Each sample's target lists class indices, ended by the first -1; with ``J`` those
    indices and ``I`` the other classes, the loss is
    ``sum_{j in J, i in I} max(0, 1 - (x[j] - x[i])) / C``.

    Shape:
        - Input: ``(C)`` or ``(N, C)``; Target: the same shape, integer.
        - Output: scalar, or ``()`` / ``(N)`` for ``'none'``.

    PyTorch: ``torch.nn.functional.multilabel_margin_loss``. An index outside
    ``[-1, C)`` raises torch's RuntimeError eagerly and under
    ``jnn.compile(fn, checks=True)``.

    Example:
        >>> import jax.numpy as jnp
        >>> multilabel_margin_loss(jnp.zeros((2, 3)), jnp.array([[0, -1, 0], [2, 1, -1]])).shape
        ()
    """
    x, t = jnp.asarray(input), jnp.asarray(target)
    reduction = get_reduction(reduction, size_average, reduce)
    _check_margin_input(x.shape)
    if t.shape != x.shape and not (x.ndim == 0 and t.shape == (1,)):
        raise RuntimeError(
            f"inconsistent target size: {list(t.shape)} for input of size: {list(x.shape)}"
        )
    _check_long_target(t.dtype)
    refuse_integer(x.dtype, "multilabel_margin_loss_forward_out_frame", half=False)
    n_classes = 1 if x.ndim == 0 else x.shape[-1]
    values = concrete(target, checked=True)
    if values is not None and ((values < -1) | (values >= n_classes)).any():
        raise RuntimeError("argument #2 'target' is out of range")
    if values is None and traced_checks():
        traced_check(jnp.all((t >= -1) & (t < n_classes)),
                     "RuntimeError: argument #2 'target' is out of range")
    loss = _multilabel_margin(x.reshape(-1, n_classes), t.reshape(-1, n_classes))
    return reduce_loss(loss.reshape(x.shape[:-1] if x.ndim else ()), reduction)


@jax.jit
def _multilabel_margin(x2: jax.Array, t2: jax.Array) -> jax.Array:
    n_classes = x2.shape[1]
    t2 = t2.astype(jnp.int32)
    # A target position counts while no -1 came before it (cumprod of "not -1").
    valid = jnp.cumprod(t2 != -1, axis=1).astype(bool)
    safe_t = jnp.where(valid, t2, 0)
    is_target = jnp.any(valid[:, :, None] & (safe_t[:, :, None] == jnp.arange(n_classes)),
                        axis=1)  # (N, C)
    picked = jnp.take_along_axis(x2, safe_t, axis=1)  # x[j] per target position
    hinge = positive_part(1 - picked[:, :, None] + x2[:, None, :])  # (N, J, C)
    hinge = jnp.where(valid[:, :, None] & ~is_target[:, None, :], hinge, 0)
    return jnp.sum(hinge, axis=(1, 2)) / n_classes


def multi_margin_loss(
    input: ArrayLike, target: ArrayLike, p: int = 1, margin: float = 1.0,
    weight: ArrayLike | None = None, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean",
) -> jax.Array:
    """Multi-class hinge loss: ``sum_{i != y} w_y max(0, margin - x[y] + x[i])^p / C``.

    Args:
        p: 1 or 2. margin: the hinge's margin. weight: optional per-class ``(C,)``.

    Shape:
        - Input: ``(N, C)`` or ``(C)``; Target: ``(N)`` or ``()`` class indices.
        - Output: scalar, or the target's shape for ``'none'``.

    PyTorch: ``torch.nn.functional.multi_margin_loss``. An index outside ``[0, C)``
    raises torch's RuntimeError eagerly and under ``jnn.compile(fn, checks=True)``.

    Example:
        >>> import jax.numpy as jnp
        >>> multi_margin_loss(jnp.zeros((2, 3)), jnp.array([0, 2])).shape
        ()
    """
    x, t = jnp.asarray(input), jnp.asarray(target)
    reduction = get_reduction(reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and jnp.ndim(weight) != 1:
        raise ValueError("weight must be one-dimensional")
    _check_multi_margin_shapes(x.shape, t.shape, None if weight is None else jnp.shape(weight))
    _check_long_target(t.dtype)
    refuse_integer(x.dtype, "multi_margin_loss_cpu_kernel", half=False)
    check_class_weight_dtype(x.dtype, weight)
    n_classes = 1 if x.ndim == 0 else x.shape[-1]
    values = concrete(target, checked=True)
    if values is not None and ((values < 0) | (values >= n_classes)).any():
        raise RuntimeError("target out of range")
    if values is None and traced_checks():
        traced_check(jnp.all((t >= 0) & (t < n_classes)), "RuntimeError: target out of range")
    x2, t2 = x.reshape(-1, n_classes), t.reshape(-1).astype(jnp.int32)
    picked = jnp.take_along_axis(x2, t2[:, None], axis=1)
    hinge = positive_part(margin - picked + x2)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * jnp.take(jnp.asarray(weight, x.dtype), t2)[:, None]
    hinge = jnp.where(jnp.arange(n_classes) == t2[:, None], 0, hinge)  # skip i == y
    loss = jnp.sum(hinge, axis=1) / n_classes
    return reduce_loss(loss.reshape(t.shape), reduction)


def _check_multi_margin_shapes(x_shape, t_shape, w_shape) -> None:
    _check_margin_input(x_shape)
    n_samples = x_shape[0] if len(x_shape) == 2 else 1
    if len(t_shape) > 1 or math.prod(t_shape) != n_samples:
        raise RuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of "
            f"input samples (batch size). Expected target size [{n_samples}], but got "
            f"{list(t_shape)}. Input has shape {list(x_shape)}."
        )
    n_classes = x_shape[-1] if x_shape else 1
    if w_shape is not None and math.prod(w_shape) != n_classes:
        raise RuntimeError(
            f"inconsistent weight size, expected {n_classes} but got {list(w_shape)}"
        )


# ---------------------------------------------------------------- embedding losses
def cosine_embedding_loss(
    input1: ArrayLike, input2: ArrayLike, target: ArrayLike, margin: float = 0,
    size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
) -> jax.Array:
    """``1 - cos(x1, x2)`` where ``y = 1``, ``max(0, cos(x1, x2) - margin)`` where ``y = -1``.

    ``cos = <x1, x2> / sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12))``, as torch.

    Shape:
        - Input1, Input2: ``(N, D)`` or ``(D)``; Target: ``(N)`` or ``()``.
        - Output: scalar, or ``(N)`` / ``()`` for ``'none'``.

    PyTorch: ``torch.nn.functional.cosine_embedding_loss``.

    Example:
        >>> import jax.numpy as jnp
        >>> cosine_embedding_loss(jnp.ones((2, 3)), jnp.ones((2, 3)), jnp.ones(2)).shape
        ()
    """
    x1, x2, y = jnp.asarray(input1), jnp.asarray(input2), jnp.asarray(target)
    reduction = get_reduction(reduction, size_average, reduce)
    if y.ndim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    want = 2 if y.ndim == 1 else 1
    if x1.ndim != want or x2.ndim != want:
        raise RuntimeError(
            f"{y.ndim}D target tensor expects {want}D input tensors, but found inputs with "
            f"sizes {list(x1.shape)} and {list(x2.shape)}."
        )
    x1, x2 = _as_float(x1), _as_float(x2)
    broadcast_shapes(x1.shape, x2.shape)
    axis = y.ndim
    dot = jnp.sum(x1 * x2, axis=axis)
    denom = jnp.sqrt((jnp.sum(x1 * x1, axis=axis) + 1e-12) * (jnp.sum(x2 * x2, axis=axis) + 1e-12))
    cos = dot / denom
    broadcast_shapes(y.shape, cos.shape)  # torch: where(target == 1, ...): the target is a
    zero = jnp.zeros((), cos.dtype)
    loss = jnp.where(y == 1, 1 - cos, zero) + jnp.where(y == -1, clamp_min_zero(cos - margin),
                                                        zero)
    return reduce_loss(loss, reduction)


def _pairwise_distance(x1: jax.Array, x2: jax.Array, p: float = 2.0,
                       eps: float = 1e-6) -> jax.Array:
    """torch's ``pairwise_distance``: the p-norm of ``x1 - x2 + eps`` over the last dim."""
    diff = x1 - x2 + eps
    if diff.ndim == 0:
        diff = diff[None]
    size = abs_with_zero_subgradient(diff)
    if p == 2:
        return jnp.sqrt(jnp.sum(diff * diff, axis=-1))
    if p == 1:
        return jnp.sum(size, axis=-1)
    if p == math.inf:
        return jnp.max(size, axis=-1)
    if p == -math.inf:
        return jnp.min(size, axis=-1)
    if p == 0:
        return jnp.sum(diff != 0, axis=-1).astype(diff.dtype)
    return jnp.sum(size**p, axis=-1) ** (1.0 / p)


def _check_triplet(anchor, positive, negative, margin) -> None:
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) != 1:
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {dims[0]}D, positive {dims[1]}D, and negative "
            f"{dims[2]}D inputs"
        )


def _triplet(distance, a, pos, neg, margin, swap, reduction) -> jax.Array:
    broadcast_shapes(a.shape, pos.shape)
    broadcast_shapes(a.shape, neg.shape)
    dist_pos, dist_neg = distance(a, pos), distance(a, neg)
    if swap:  # Balntas et al.: use the positive as anchor when it is nearer the negative
        dist_neg = jnp.minimum(dist_neg, distance(pos, neg))
    return reduce_loss(clamp_min_zero(margin + dist_pos - dist_neg), reduction)


def triplet_margin_loss(
    anchor: ArrayLike, positive: ArrayLike, negative: ArrayLike, margin: float = 1.0,
    p: float = 2, eps: float = 1e-6, swap: bool = False, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean",
) -> jax.Array:
    """``max(0, margin + d(a, p) - d(a, n))`` with ``d`` the p-norm distance.

    Args:
        margin: positive. p: the norm's degree. eps: added to differences (torch's
            ``pairwise_distance``). swap: use ``min(d(a, n), d(p, n))``.

    Shape:
        - Anchor, Positive, Negative: ``(N, D)`` or ``(D)``, the same number of dims.
        - Output: scalar, or ``(N)`` / ``()`` for ``'none'``.

    PyTorch: ``torch.nn.functional.triplet_margin_loss``.

    Example:
        >>> import jax.numpy as jnp
        >>> triplet_margin_loss(jnp.ones((2, 3)), jnp.ones((2, 3)), jnp.zeros((2, 3))).shape
        ()
    """
    reduction = get_reduction(reduction, size_average, reduce)
    a, pos, neg = (_as_float(jnp.asarray(v)) for v in (anchor, positive, negative))
    _check_triplet(a, pos, neg, margin)

    def distance(u, v):
        return _pairwise_distance(u, v, p, eps)

    return _triplet(distance, a, pos, neg, margin, swap, reduction)


def triplet_margin_with_distance_loss(
    anchor: ArrayLike, positive: ArrayLike, negative: ArrayLike, *,
    distance_function: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
    margin: float = 1.0, swap: bool = False, reduction: str = "mean",
) -> jax.Array:
    """:func:`triplet_margin_loss` with any distance ``distance_function(x1, x2)``.

    Args:
        distance_function: returns a non-negative distance per sample; default the
            pairwise Euclidean distance (``p = 2``, ``eps = 1e-6``).

    PyTorch: ``torch.nn.functional.triplet_margin_with_distance_loss``.

    Example:
        >>> import jax.numpy as jnp
        >>> triplet_margin_with_distance_loss(
        ...     jnp.ones((2, 3)), jnp.ones((2, 3)), jnp.zeros((2, 3))).shape
        ()
    """
    check_reduction_is_valid(reduction)
    a, pos, neg = (jnp.asarray(v) for v in (anchor, positive, negative))
    _check_triplet(a, pos, neg, margin)
    distance = _pairwise_distance if distance_function is None else distance_function
    return _triplet(distance, a, pos, neg, margin, swap, reduction)
