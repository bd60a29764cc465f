"""Distance layers (torch.nn.modules.distance): ``PairwiseDistance``, ``CosineSimilarity``."""

from __future__ import annotations

import jax

from jnn.nn import functional as F
from jnn.nn.modules.module import Module

__all__ = ["PairwiseDistance", "CosineSimilarity"]


class PairwiseDistance(Module):
    """The p-norm of ``x1 - x2 + eps`` along the last dimension.

    Args:
        p: the norm's order. Default 2.
        eps: added to the difference to avoid a zero vector. Default 1e-6.
        keepdim: keep the reduced dimension. Default ``False``.

    Shape:
        - Input1: :math:`(N, D)` or :math:`(D)`; Input2: the same or broadcastable.
        - Output: :math:`(N)` or :math:`()`; :math:`(N, 1)` / :math:`(1)` with ``keepdim``.

    Attributes:
        norm: the order ``p`` (torch's attribute name); ``eps``, ``keepdim``.

    PyTorch: ``torch.nn.PairwiseDistance``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.PairwiseDistance()(jnp.zeros((100, 128)), jnp.ones((100, 128))).shape
        (100,)
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: jax.Array, x2: jax.Array) -> jax.Array:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """Cosine similarity of ``x1`` and ``x2`` along ``dim``.

    :math:`\\frac{x_1 \\cdot x_2}{\\max(\\|x_1\\|_2, \\epsilon) \\max(\\|x_2\\|_2, \\epsilon)}`

    Args:
        dim: the dimension of the vectors. Default 1.
        eps: the smallest norm used as a divisor. Default 1e-8.

    Shape:
        - Input1: :math:`(*_1, D, *_2)`; Input2: broadcastable to it.
        - Output: :math:`(*_1, *_2)`.

    PyTorch: ``torch.nn.CosineSimilarity``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.CosineSimilarity()(jnp.ones((100, 128)), jnp.ones((100, 128))).shape
        (100,)
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: jax.Array, x2: jax.Array) -> jax.Array:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
