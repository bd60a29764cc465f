"""Loss layers (torch.nn.modules.loss): configuration plus one ``F.*`` call each.

Every loss takes ``reduction='none' | 'mean' | 'sum'`` (and, where torch has them, the
deprecated ``size_average``/``reduce`` flags, mapped with torch's warning); class weights
are buffers, as in torch. The maths, checks and shapes are documented on the functional
forms in :mod:`jnn.nn.functional.loss`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jnn.nn import functional as F
from jnn.nn.functional._loss_linear_ce import LinearCrossEntropyOptions
from jnn.nn.modules.distance import PairwiseDistance
from jnn.nn.modules.linear import Linear
from jnn.nn.modules.module import Module

__all__ = [
    "L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "PoissonNLLLoss", "GaussianNLLLoss",
    "NLLLoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "KLDivLoss",
    "MarginRankingLoss", "HingeEmbeddingLoss", "MultiLabelMarginLoss", "SoftMarginLoss",
    "MultiLabelSoftMarginLoss", "CosineEmbeddingLoss", "MultiMarginLoss", "TripletMarginLoss",
    "TripletMarginWithDistanceLoss", "CTCLoss", "LinearCrossEntropyLoss",
    "LinearCrossEntropyOptions",
]


def _legacy_reduction(size_average: bool | None, reduce: bool | None) -> str:
    """torch's ``_Reduction.legacy_get_string``, with its deprecation warning."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(
        "size_average and reduce args will be deprecated, please use "
        f"reduction='{reduction}' instead.",
        stacklevel=3,
    )
    return reduction


class _Loss(Module):
    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            self.reduction = _legacy_reduction(size_average, reduce)
        else:
            self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Any = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class L1Loss(_Loss):
    """Mean absolute error. PyTorch: ``torch.nn.L1Loss``."""

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error :math:`(x - y)^2`, reduced by ``reduction``.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        size_average, reduce: deprecated torch forms of ``reduction``.

    Shape:
        - Input: :math:`(*)`; Target: :math:`(*)`, the same shape.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    PyTorch: ``torch.nn.MSELoss``.
    """

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        return F.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Smooth L1 (quadratic below ``beta``). PyTorch: ``torch.nn.SmoothL1Loss``."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Huber loss with threshold ``delta``. PyTorch: ``torch.nn.HuberLoss``."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities. PyTorch: ``torch.nn.NLLLoss``."""

    def __init__(self, weight: Any = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy between logits and class indices or class probabilities.

    Args:
        weight: optional per-class weight of shape :math:`(C,)` (a buffer).
        ignore_index: a class-index target to skip. Default -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default ``'mean'``.
        label_smoothing: in [0, 1]; mixes the target with the uniform distribution.

    Shape:
        - Input: :math:`(C)`, :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)` logits.
        - Target: indices :math:`()`, :math:`(N)`, :math:`(N, d_1, ..., d_K)`, or
          probabilities of the input's shape.
        - Output: scalar, or the target's batch shape with ``reduction='none'``.

    PyTorch: ``torch.nn.CrossEntropyLoss``.
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        return F.cross_entropy(input, target, weight=self.weight,
                               ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class BCELoss(_WeightedLoss):
    """Binary cross entropy of probabilities. PyTorch: ``torch.nn.BCELoss``."""

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross entropy, fused for stability.

    PyTorch: ``torch.nn.BCEWithLogitsLoss`` (``weight`` and ``pos_weight`` are buffers).
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean",
                 pos_weight: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence. PyTorch: ``torch.nn.KLDivLoss``."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood, ``exp(x) - t x`` for log-rates ``x``.

    Args:
        log_input: ``input`` is the log-rate (else the rate, ``x - t log(x + eps)``).
        full: add Stirling's approximation term for ``t > 1``.
        eps: keeps ``log`` finite when ``log_input=False``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - Input: :math:`(*)`; Target: :math:`(*)`; Output: scalar, or :math:`(*)`.

    PyTorch: ``torch.nn.PoissonNLLLoss``.
    """

    def __init__(self, log_input: bool = True, full: bool = False,
                 size_average: bool | None = None, eps: float = 1e-8,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input: jax.Array, target: jax.Array) -> jax.Array:
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full,
                                  eps=self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood of ``target`` under ``N(input, var)``.

    Args:
        full: include the constant ``0.5 log(2 pi)``.
        eps: lower clamp of ``var`` (invisible to gradients).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - Input: :math:`(N, *)` or :math:`(*)`; Target: the same (or broadcastable);
          Var: the same, with one dimension of size 1, or without the last dimension.
        - Output: scalar, or input's shape for ``'none'``.

    PyTorch: ``torch.nn.GaussianNLLLoss``.
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6,
                 reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: jax.Array, target: jax.Array, var: jax.Array | float
                ) -> jax.Array:
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                   reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """``max(0, -y (x1 - x2) + margin)`` for rankings ``y`` in {1, -1}.

    Shape:
        - Input1, Input2, Target: :math:`(N)` or :math:`()`. Output: scalar or :math:`(N)`.

    PyTorch: ``torch.nn.MarginRankingLoss``.
    """

    def __init__(self, margin: float = 0.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: jax.Array, input2: jax.Array, target: jax.Array) -> jax.Array:
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """``x`` for ``y = 1``, ``max(0, margin - x)`` for ``y = -1`` (``x`` a distance).

    Shape:
        - Input: :math:`(*)`; Target: :math:`(*)`; Output: scalar, or :math:`(*)`.

    PyTorch: ``torch.nn.HingeEmbeddingLoss``.
    """

    def __init__(self, margin: float = 1.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        return F.hinge_embedding_loss(input, target, margin=self.margin,
                                      reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Multi-class multi-label hinge loss; targets list class indices ended by -1.

    Shape:
        - Input: :math:`(C)` or :math:`(N, C)`; Target: the same shape, integer.
        - Output: scalar, or :math:`()` / :math:`(N)` for ``'none'``.

    PyTorch: ``torch.nn.MultiLabelMarginLoss``.
    """

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """Two-class logistic loss ``log(1 + exp(-y x))``.

    Shape:
        - Input: :math:`(*)`; Target: :math:`(*)`; Output: scalar, or :math:`(*)`.

    PyTorch: ``torch.nn.SoftMarginLoss``.
    """

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """One-versus-all logistic loss, averaged over the classes of each sample.

    Args:
        weight: optional per-class weight :math:`(C)` (a buffer).

    Shape:
        - Input: :math:`(N, C)`; Target: :math:`(N, C)` of 0 and 1.
        - Output: scalar, or :math:`(N)` for ``'none'``.

    PyTorch: ``torch.nn.MultiLabelSoftMarginLoss``.
    """

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight,
                                             reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """``1 - cos(x1, x2)`` for ``y = 1``, ``max(0, cos(x1, x2) - margin)`` for ``y = -1``.

    Shape:
        - Input1, Input2: :math:`(N, D)` or :math:`(D)`; Target: :math:`(N)` or :math:`()`.
        - Output: scalar, or :math:`(N)` / :math:`()` for ``'none'``.

    PyTorch: ``torch.nn.CosineEmbeddingLoss``.
    """

    def __init__(self, margin: float = 0.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: jax.Array, input2: jax.Array, target: jax.Array) -> jax.Array:
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss ``sum_{i != y} w_y max(0, margin - x[y] + x[i])^p / C``.

    Args:
        p: 1 or 2. margin: default 1. weight: optional per-class :math:`(C)` (a buffer).

    Shape:
        - Input: :math:`(N, C)` or :math:`(C)`; Target: :math:`(N)` or :math:`()`.
        - Output: scalar, or the target's shape for ``'none'``.

    PyTorch: ``torch.nn.MultiMarginLoss``.
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Any = None,
                 size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        if weight is not None and jnp.ndim(weight) != 1:
            raise ValueError("MultiMarginLoss: expected weight to be None or 1D tensor, got "
                             f"{jnp.ndim(weight)}D instead")
        self.p = p
        self.margin = margin

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin,
                                   weight=self.weight, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """``max(0, margin + d(a, p) - d(a, n))`` with the p-norm distance ``d``.

    Args:
        margin: positive, default 1. p: the norm's degree, default 2. eps: added to the
            differences, default 1e-6. swap: use ``min(d(a, n), d(p, n))``.

    Shape:
        - Anchor, Positive, Negative: :math:`(N, D)` or :math:`(D)`.
        - Output: scalar, or :math:`(N)` / :math:`()` for ``'none'``.

    PyTorch: ``torch.nn.TripletMarginLoss``.
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError("TripletMarginLoss: expected margin to be greater than 0, got "
                             f"{margin} instead")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: jax.Array, positive: jax.Array, negative: jax.Array
                ) -> jax.Array:
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """:class:`TripletMarginLoss` with any distance function.

    Args:
        distance_function: ``(x1, x2) -> distances``; default :class:`PairwiseDistance`
            (a submodule, as in torch).
        margin: positive, default 1. swap: as :class:`TripletMarginLoss`.

    PyTorch: ``torch.nn.TripletMarginWithDistanceLoss``.
    """

    def __init__(self, *, distance_function: Callable[[jax.Array, jax.Array], jax.Array]
                 | None = None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        if margin <= 0:
            raise ValueError("TripletMarginWithDistanceLoss: expected margin to be greater "
                             f"than 0, got {margin} instead")
        self.distance_function = (distance_function if distance_function is not None
                                  else PairwiseDistance())
        self.margin = margin
        self.swap = swap

    def forward(self, anchor: jax.Array, positive: jax.Array, negative: jax.Array
                ) -> jax.Array:
        return F.triplet_margin_with_distance_loss(
            anchor, positive, negative, distance_function=self.distance_function,
            margin=self.margin, swap=self.swap, reduction=self.reduction)


class CTCLoss(_Loss):
    """Connectionist temporal classification loss.

    Args:
        blank: the blank label. reduction: ``'none'`` | ``'mean'`` (per-target-length
            mean) | ``'sum'``. zero_infinity: zero infinite losses and their gradients.

    Shape:
        - Log_probs: :math:`(T, N, C)` or :math:`(T, C)`; Targets: :math:`(N, S)` padded or
          :math:`(\\sum S_n)` concatenated; Input_lengths, Target_lengths: :math:`(N)`.
        - Output: scalar, or :math:`(N)` for ``'none'``.

    PyTorch: ``torch.nn.CTCLoss`` (same gradients; see :func:`jnn.nn.functional.ctc_loss`).
    """

    def __init__(self, blank: int = 0, reduction: str = "mean",
                 zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs: jax.Array, targets: jax.Array, input_lengths: jax.Array,
                target_lengths: jax.Array) -> jax.Array:
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                          self.reduction, self.zero_infinity)


class LinearCrossEntropyLoss(_WeightedLoss):
    """A ``Linear`` projection to logits fused with cross-entropy, computed in chunks.

    Args:
        in_features: size of each input sample. num_classes: :math:`C`.
        out_features: :math:`(d_1, ..., d_K)` for a K-dimensional loss. Default ``()``.
        bias: the projection learns a bias. Default ``False``.
        device, dtype: of the projection's parameters.
        reduction, weight, label_smoothing: as :class:`CrossEntropyLoss`.
        ignore_index: as :class:`CrossEntropyLoss`; ``None`` (default) means -100 for
            index targets and is required for probability targets.
        options: chunking (:class:`LinearCrossEntropyOptions`).

    Shape:
        - Input: :math:`(N, H_{in})` or :math:`(H_{in})`.
        - Target: :math:`(N)`, :math:`()`, :math:`(N, d_1, ..., d_K)` indices, or
          :math:`(N, C, d_1, ..., d_K)` probabilities.
        - Output: scalar, or the target's batch shape for ``'none'``.

    Attributes:
        linear: ``Linear(in_features, C * prod(out_features), bias)``, torch's default
            initialisation; its weight is stored flat and reshaped in ``forward``.

    PyTorch: ``torch.nn.LinearCrossEntropyLoss``; jnn always chunks the logits.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.LinearCrossEntropyLoss(8, 1000)(jnp.ones((4, 8)), jnp.arange(4)).shape
        ()
    """

    def __init__(self, in_features: int, num_classes: int, *,
                 out_features: tuple[int, ...] = (), bias: bool = False, device: Any = None,
                 dtype: Any = None, reduction: str = "mean", weight: Any = None,
                 ignore_index: int | None = None, label_smoothing: float = 0.0,
                 options: LinearCrossEntropyOptions | None = None) -> None:
        if weight is not None and tuple(jnp.shape(weight)) != (num_classes,):
            raise RuntimeError(f"expected weight shape to be {(num_classes,)}, got "
                               f"{tuple(jnp.shape(weight))}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise RuntimeError("expected label_smoothing to be in range [0, 1], got "
                               f"{label_smoothing}")
        super().__init__(weight, None, None, reduction)
        self.num_classes = num_classes
        self.out_features = tuple(out_features)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.linear = Linear(in_features, math.prod(out_features, start=num_classes),
                             bias=bias, device=device, dtype=dtype)
        self.options = options

    def forward(self, input: jax.Array, target: jax.Array) -> jax.Array:
        shape = (self.num_classes, *self.out_features)
        weight = self.linear.weight.reshape((*shape, self.linear.in_features))
        bias = None if self.linear.bias is None else self.linear.bias.reshape(shape)
        return F.linear_cross_entropy(
            input, weight, target, linear_bias=bias, weight=self.weight,
            reduction=self.reduction, ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing, options=self.options)

    def extra_repr(self) -> str:
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
                f"out_features={self.out_features}, bias={self.linear.bias is not None}, "
                f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}, options={self.options}")
