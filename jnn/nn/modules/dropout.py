"""Dropout layers (torch.nn.modules.dropout).

Randomness comes from jnn's global generator (``jnn.manual_seed``): every call in
training mode draws a fresh key; under ``jnn.compile`` that key is threaded state, so each
compiled step gets a fresh mask too.
"""

from __future__ import annotations

import jax

from jnn.nn import functional as F
from jnn.nn.modules.module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes each element with probability ``p`` in training, scaling the rest by
    :math:`1/(1-p)`; the identity in eval mode.

    Args:
        p: probability of an element to be zeroed. Default 0.5.
        inplace: accepted for torch compatibility (JAX arrays are immutable).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same.

    PyTorch: ``torch.nn.Dropout`` (same statistics; JAX's random stream differs).
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.dropout(input, self.p, self.training)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of :math:`(N, C, L)` / :math:`(C, L)` inputs.

    PyTorch: ``torch.nn.Dropout1d``.
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.dropout1d(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of :math:`(N, C, H, W)` / :math:`(C, H, W)` inputs.

    PyTorch: ``torch.nn.Dropout2d``.
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.dropout2d(input, self.p, self.training)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels of :math:`(N, C, D, H, W)` / :math:`(C, D, H, W)` inputs.

    PyTorch: ``torch.nn.Dropout3d``.
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.dropout3d(input, self.p, self.training)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps SELU's self-normalising mean and variance.

    PyTorch: ``torch.nn.AlphaDropout``.
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels (SELU networks with convolutions).

    PyTorch: ``torch.nn.FeatureAlphaDropout``.
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.feature_alpha_dropout(input, self.p, self.training)
