"""``linear_cross_entropy``: a final projection fused with cross-entropy, in batch chunks.

The logits ``(N, C, *out)`` are never materialised whole: ``lax.map`` walks the batch in
chunks of ``B`` rows, each computing its ``(B, C, *out)`` logits, the per-sample losses
and target weights, under ``jax.checkpoint`` so that the backward pass recomputes a
chunk's logits instead of keeping them. Peak memory is one chunk's logits (plus the
weight gradient), not ``N x C``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from jnn import _precision
from jnn.nn.functional._loss_classification import (
    _check_label_smoothing,
    _check_nll_args,
    _reduce_nll,
    ce_index_elements,
    ce_prob_elements,
)
from jnn.nn.functional._loss_common import check_class_targets, check_class_weight_dtype
from jnn.nn.functional._utils import get_reduction, torch_dtype_name

__all__ = ["linear_cross_entropy", "LinearCrossEntropyOptions"]


@dataclasses.dataclass(slots=True, frozen=True)
class LinearCrossEntropyOptions:
    """Chunking options of :func:`linear_cross_entropy` (torch's fields and checks).

    jnn always chunks; ``batch_chunk_size`` (rows per chunk) or ``chunking_method``
    (``'aspect_ratio[:N]'``: chunk logits about the input's size, divided by ``N``) pick the
    chunk. ``acc_policy``, ``acc_dtype`` and ``allow_retain_graph`` are accepted for
    compatibility and have no effect (XLA accumulates float32 matmuls in float32).

    PyTorch: ``torch.nn.LinearCrossEntropyOptions``.
    """

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: Any = None

    def __post_init__(self) -> None:
        if self.acc_policy not in {"auto", "accurate", "balanced", "compact"}:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method is not None and self.chunking_method != "auto":
            name, sep, factor = self.chunking_method.partition(":")
            factor = factor if sep else "1"
            if not (name == "aspect_ratio" and factor.isdigit() and int(factor) > 0):
                raise ValueError(f"invalid chunking_method: {self.chunking_method!r}")
        size = self.batch_chunk_size
        if not (size is None or (isinstance(size, int) and size > 0)):
            raise ValueError(f"batch_chunk_size must be positive int or None, got {size!r}")

    def chunk_size(self, n_rows: int, in_features: int, n_logits: int) -> int:
        """Rows per chunk for ``n_rows`` samples of ``n_logits`` logits each."""
        method = self.chunking_method
        if method == "auto":
            if self.batch_chunk_size is None:
                # torch's aspect-ratio chunks (logits about half the input's size) are a few
                # rows each for a large vocabulary: 8 rows of a 32k head run 4x slower than
                # unfused on CPU (tiny matmuls, one weight-gradient update per chunk). At
                # least 1/16 of the batch per chunk keeps memory at a fraction of the
                # logits and the speed within ~1.4x of unfused (benchmarks/README.md).
                rows = _aspect_ratio_rows(n_rows, in_features, n_logits, 2)
                return max(rows, min(n_rows, -(-n_rows // 16)))
            method = None
        if method is None:
            return max(1, min(self.batch_chunk_size or n_rows, n_rows))
        _, sep, factor = method.partition(":")
        rows = _aspect_ratio_rows(n_rows, in_features, n_logits, int(factor) if sep else 1)
        if self.batch_chunk_size is not None and self.batch_chunk_size != rows:
            raise ValueError(
                f"batch_chunk_size (={self.batch_chunk_size}) and chunking_method "
                f"('{method}') give different chunk sizes ({self.batch_chunk_size} vs "
                f"{rows}); pass only one.")
        return rows


def _aspect_ratio_rows(n_rows: int, in_features: int, n_logits: int, factor: int) -> int:
    # A chunk's (B, C) logits about as large as the (N, D) input: B ~ N / ceil(C / D).
    per_row = -(-n_logits // max(in_features, 1))
    target = -(-n_rows // max(per_row, 1))
    rows = 1 << max(target - 1, 0).bit_length()
    return max(1, min(rows // factor, n_rows))


def _check_args(x, w, b, t_shape, ignore_index) -> tuple[tuple[int, ...], bool]:
    """torch's checks, in its order; returns ``(out_features, probability_targets)``."""
    if x.ndim not in (1, 2):
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {x.ndim}")
    if w.ndim < 2:
        raise RuntimeError(
            f"expected linear_weight with dimensionality at least 2, got {w.ndim}")
    if x.shape[-1] != w.shape[-1]:
        raise RuntimeError(
            "expected equal input and linear_weight last dimensions (in_features), got "
            f"{x.shape[-1]} and {w.shape[-1]}, respectively")
    out_features = tuple(w.shape[1:-1])
    if b is not None and tuple(b.shape) != (w.shape[0], *out_features):
        raise RuntimeError(
            f"expected linear_bias shape {(w.shape[0], *out_features)}, got {tuple(b.shape)}")
    if out_features and x.ndim == 1:
        raise RuntimeError(
            f"K-dimensional loss defined by linear_weight shape {tuple(w.shape)} requires "
            f"batched input, (N, {x.shape[-1]}), got unbatched input with shape "
            f"{tuple(x.shape)}")
    probabilities = tuple(t_shape) == (*x.shape[:-1], w.shape[0], *out_features)
    if probabilities and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    return out_features, probabilities


@functools.partial(jax.jit, static_argnums=(5, 6, 7, 8))
def _chunk_losses(x, w, b, t, weight, ignore_index, label_smoothing, probabilities, rows):
    """Per-sample losses and target weights ``(N, *out)``, ``rows`` samples at a time."""
    n = x.shape[0]
    n_chunks = -(-n // rows)
    pad = n_chunks * rows - n
    fill = 0 if probabilities else ignore_index  # padded rows count for nothing
    x = jnp.pad(x, ((0, pad), (0, 0)))
    t = jnp.pad(t, ((0, pad),) + ((0, 0),) * (t.ndim - 1), constant_values=fill)
    w2 = w.reshape(-1, w.shape[-1])
    b2 = None if b is None else b.reshape(-1)

    @jax.checkpoint
    def chunk(args):
        xc, tc = args
        logits = jnp.matmul(xc, w2.T, precision=_precision.matmul(w2))
        if b2 is not None:
            logits = logits + b2
        logits = logits.reshape((rows,) + w.shape[:-1])
        if probabilities:
            loss = ce_prob_elements(logits, tc, weight, label_smoothing)
            return loss, jnp.ones_like(loss)
        return ce_index_elements(logits, tc, weight, ignore_index, label_smoothing)

    xs = x.reshape((n_chunks, rows) + x.shape[1:])
    ts = t.reshape((n_chunks, rows) + t.shape[1:])
    loss, target_weight = lax.map(chunk, (xs, ts))
    shape = (n_chunks * rows,) + loss.shape[2:]
    return loss.reshape(shape)[:n], target_weight.reshape(shape)[:n]


def linear_cross_entropy(
    input: ArrayLike,
    linear_weight: ArrayLike,
    target: ArrayLike,
    *,
    linear_bias: ArrayLike | None = None,
    weight: ArrayLike | None = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    options: LinearCrossEntropyOptions | None = None,
) -> jax.Array:
    """``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)``, chunked.

    Args:
        input: ``(N, in_features)`` or ``(in_features,)``.
        linear_weight: ``(C, in_features)``, or ``(C, d_1, ..., d_K, in_features)`` for a
            K-dimensional loss (batched input only).
        target: class indices ``(N)``, ``()`` or ``(N, d_1, ..., d_K)``, or probabilities
            shaped like the logits ``(N, C, d_1, ..., d_K)``.
        linear_bias: optional ``(C, d_1, ..., d_K)``.
        weight, label_smoothing, reduction: as :func:`cross_entropy`.
        ignore_index: as :func:`cross_entropy` (``None`` means -100); must stay ``None``
            with probability targets.
        options: chunk size (:class:`LinearCrossEntropyOptions`); default ``'aspect_ratio:2'``
            chunks.

    Shape:
        - Output: scalar, or the target's batch shape for ``'none'``.

    PyTorch: ``torch.nn.functional.linear_cross_entropy``. Always chunked (torch chunks
    only when ``options`` is given, and then not for K-dimensional or smoothed losses);
    peak memory stays near one chunk's logits, gradients included.

    Example:
        >>> import jax.numpy as jnp
        >>> linear_cross_entropy(jnp.ones((4, 3)), jnp.ones((7, 3)), jnp.array([0, 1, 2, 6])).shape
        ()
    """
    x, w, t = jnp.asarray(input), jnp.asarray(linear_weight), jnp.asarray(target)
    b = None if linear_bias is None else jnp.asarray(linear_bias)
    out_features, probabilities = _check_args(x, w, b, t.shape, ignore_index)
    ignore = -100 if ignore_index is None else ignore_index
    reduction = get_reduction(reduction)
    unbatched = x.ndim == 1
    if unbatched:
        x, t = x[None], t[None]
    n_classes = w.shape[0]
    logits_shape = (x.shape[0], n_classes, *out_features)
    _check_targets(logits_shape, x.dtype, t, target, weight, ignore, label_smoothing,
                   probabilities)
    rows = (options or LinearCrossEntropyOptions()).chunk_size(
        x.shape[0], x.shape[1], math.prod(w.shape[:-1]))
    loss, target_weight = _chunk_losses(x, w, b, t, weight, ignore, label_smoothing,
                                        probabilities, rows)
    if unbatched:
        loss, target_weight = loss[0], target_weight[0]
    if probabilities:  # torch's mean: over samples, not weights
        return _reduce_nll(loss, jnp.ones_like(loss), reduction)
    return _reduce_nll(loss, target_weight, reduction)


def _check_targets(logits_shape, logits_dtype, t, raw_target, weight, ignore, label_smoothing,
                   probabilities) -> None:
    if label_smoothing > 0.0:
        _check_label_smoothing(label_smoothing)
    if probabilities:
        if not jnp.issubdtype(t.dtype, jnp.floating):
            raise RuntimeError(
                "Expected floating point type for target with class probabilities, got "
                f"{torch_dtype_name(t.dtype)}")
        return
    _check_nll_args(logits_shape, t.shape, t.dtype,
                    None if weight is None else jnp.shape(weight))
    check_class_weight_dtype(logits_dtype, weight)
    check_class_targets(raw_target, logits_shape[1], ignore)
