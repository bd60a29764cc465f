"""``AdaptiveLogSoftmaxWithLoss`` (torch.nn.modules.adaptive), exported by
:mod:`jnn.nn.modules.activation`.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn.nn import functional as F
from jnn.nn.functional._utils import torch_size
from jnn.nn.modules.container import ModuleList, Sequential
from jnn.nn.modules.linear import Linear
from jnn.nn.modules.module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


def _check_cutoffs(cutoffs: list, n_classes: int) -> None:
    if len(cutoffs) == 0:
        raise ValueError("cutoffs should be a sequence of length larger than 0")
    if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
            or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
        raise ValueError(
            "cutoffs should be a sequence of unique, positive integers sorted in an "
            "increasing order, where each value is between 1 and n_classes-1")


def _check_asm_shapes(input: jax.Array, target: jax.Array) -> None:
    if target.ndim == 1:
        if input.shape[0] != target.shape[0]:
            raise RuntimeError(
                "Input and target should have the same size in the batch dimension.")
        if input.ndim != 2:
            raise RuntimeError("1D target tensor expects 2D input tensors, but found inputs "
                               f"with size {torch_size(input.shape)}")
    elif target.ndim == 0:
        if input.ndim != 1:
            raise RuntimeError("0D target tensor expects 1D input tensors, but found inputs "
                               f"with size {torch_size(input.shape)}")
    else:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")


class AdaptiveLogSoftmaxWithLoss(Module):
    """Efficient softmax approximation (Grave et al., 2016) for large output spaces.

    Classes are split by ``cutoffs`` into a shortlist, predicted by the ``head`` together
    with one logit per tail cluster, and clusters, each predicted by a two-layer ``tail``
    projection whose hidden size shrinks by ``div_value`` per cluster.

    Args:
        in_features: size of each input sample.
        n_classes: number of classes.
        cutoffs: increasing cluster boundaries, each in ``[1, n_classes - 1]``.
        div_value: the hidden size of cluster ``i`` is ``in_features // div_value**(i+1)``.
        head_bias: give the head a bias. Default ``False``.
        device, dtype: where and of what type the parameters are created.

    Shape:
        - input: :math:`(N, \\text{in\\_features})` or :math:`(\\text{in\\_features})`.
        - target: :math:`(N)` or :math:`()`, class indices in ``[0, n_classes)``.
        - output1 (``output``): :math:`(N)` or :math:`()`, the target log-probabilities.
        - output2 (``loss``): :math:`()`, the mean negative log-likelihood.

    Attributes:
        head: ``Linear(in_features, cutoffs[0] + n_clusters, bias=head_bias)``.
        tail: ``ModuleList`` of ``Sequential(Linear(in_features, h_i, bias=False),
            Linear(h_i, size_i, bias=False))``; all with ``Linear``'s default init.

    PyTorch: ``torch.nn.AdaptiveLogSoftmaxWithLoss`` (same parameters, state_dict keys,
    ``log_prob``, ``predict`` and ``(output, loss)`` namedtuple). Every cluster's
    projection runs on the whole batch and rows are selected afterwards (no data-dependent
    shapes, so it compiles); the gradients equal torch's. Out-of-range targets raise
    torch's RuntimeError when concrete; under a trace they cannot be checked.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> asm = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [4, 7])
        >>> asm(jnp.zeros((3, 8)), jnp.array([0, 5, 9])).output.shape
        (3,)
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs: Sequence[int],
                 div_value: float = 4.0, head_bias: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        _check_cutoffs(cutoffs, n_classes)
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device,
                           dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(
                Linear(in_features, hidden, bias=False, device=device, dtype=dtype),
                Linear(hidden, size, bias=False, device=device, dtype=dtype)))

    def reset_parameters(self) -> None:
        self.head.reset_parameters()
        for projection in self.tail:
            for linear in projection:
                linear.reset_parameters()

    def _check_target_values(self, target: jax.Array) -> None:
        if isinstance(target, jax.core.Tracer) or target.size == 0:
            return  # a value check would need a host sync
        values = np.asarray(target)
        low, high = values.min(), values.max()
        if low < 0 or high >= self.n_classes:
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{low}, {high}] were found. ")

    def forward(self, input_: jax.Array, target_: jax.Array) -> _ASMoutput:
        _check_asm_shapes(input_, target_)
        self._check_target_values(target_)
        batched = target_.ndim > 0
        input = input_ if batched else input_[None]
        target = target_ if batched else target_[None]
        output = self._target_log_prob(input, target)
        loss = jnp.mean(-output)
        return _ASMoutput(output if batched else output[0], loss)

    def _target_log_prob(self, input: jax.Array, target: jax.Array) -> jax.Array:
        """log p(target) per row: head term plus, for tail targets, the cluster term."""
        head_logprob = F.log_softmax(self.head(input), dim=1)
        head_index = target
        output = jnp.zeros(target.shape, head_logprob.dtype)
        for i in range(self.n_clusters):
            low, high = self.cutoffs[i], self.cutoffs[i + 1]
            inside = (target >= low) & (target < high)
            cluster_logprob = F.log_softmax(self.tail[i](input), dim=1)
            relative = jnp.clip(target - low, 0, high - low - 1)
            local = jnp.take_along_axis(cluster_logprob, relative[:, None], axis=1)[:, 0]
            output = jnp.where(inside, local, output)
            head_index = jnp.where(inside, self.shortlist_size + i, head_index)
        head_index = jnp.clip(head_index, 0, self.head_size - 1)
        return output + jnp.take_along_axis(head_logprob, head_index[:, None], axis=1)[:, 0]

    def _get_full_log_prob(self, input: jax.Array, head_output: jax.Array) -> jax.Array:
        head_logprob = F.log_softmax(head_output, dim=1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster_logprob = F.log_softmax(self.tail[i](input), dim=1)
            parts.append(cluster_logprob + head_logprob[:, self.shortlist_size + i, None])
        return jnp.concatenate(parts, axis=1)

    def log_prob(self, input: jax.Array) -> jax.Array:
        """Log-probabilities of every class: :math:`(N, \\text{in\\_features})` ->
        :math:`(N, \\text{n\\_classes})`."""
        return self._get_full_log_prob(input, self.head(input))

    def predict(self, input: jax.Array) -> jax.Array:
        """The most likely class per row, :math:`(N, \\text{in\\_features})` -> :math:`(N)`.

        As torch: the head's argmax where it falls in the shortlist, else the argmax of
        the full log-probabilities (computed for every row here, selected per row).
        """
        head_output = self.head(input)
        shortlist_pick = jnp.argmax(head_output, axis=1)
        full_pick = jnp.argmax(self._get_full_log_prob(input, head_output), axis=1)
        return jnp.where(shortlist_pick < self.shortlist_size, shortlist_pick, full_pick)
