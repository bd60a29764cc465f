"""Sliding blocks: ``Fold`` and ``Unfold`` (torch.nn.modules.fold)."""

from __future__ import annotations

import jax

from jnn.nn import functional as F
from jnn.nn.common_types import _size_any_t
from jnn.nn.modules.module import Module

__all__ = ["Fold", "Unfold"]


class Fold(Module):
    """Combines an array of sliding local blocks into an image, summing overlaps (col2im).

    Args:
        output_size: spatial size ``(H, W)`` of the output (an int or a pair).
        kernel_size: size of the blocks.
        dilation: spacing between block elements. Default 1.
        padding: implicit zeros on both sides of the output before folding. Default 0.
        stride: step between blocks. Default 1.

    Shape:
        - Input: :math:`(N, C \\times \\prod k, L)` or :math:`(C \\times \\prod k, L)`, with
          :math:`L = \\prod_d \\lfloor (\\text{output\\_size}_d + 2p_d - d_d (k_d - 1) - 1)
          / s_d + 1 \\rfloor`.
        - Output: :math:`(N, C, H, W)` or :math:`(C, H, W)`.

    PyTorch: ``torch.nn.Fold`` (arguments stored as given, so the repr matches).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Fold(output_size=(4, 5), kernel_size=(2, 2))(jnp.ones((1, 12, 12))).shape
        (1, 3, 4, 5)
    """

    def __init__(self, output_size: _size_any_t, kernel_size: _size_any_t,
                 dilation: _size_any_t = 1, padding: _size_any_t = 0,
                 stride: _size_any_t = 1) -> None:
        super().__init__()
        # Stored as given, as torch does (its repr prints a list as a list); the pytree
        # spec keys lists by value, so a list costs nothing under jit.
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: jax.Array) -> jax.Array:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


class Unfold(Module):
    """Extracts sliding local blocks from a batched image (im2col).

    Args:
        kernel_size: size of the blocks.
        dilation: spacing between block elements. Default 1.
        padding: implicit zeros on both sides of the input. Default 0.
        stride: step between blocks. Default 1.

    Shape:
        - Input: :math:`(N, C, H, W)` or :math:`(C, H, W)`.
        - Output: :math:`(N, C \\times \\prod k, L)` or :math:`(C \\times \\prod k, L)`, with
          :math:`L = \\prod_d \\lfloor (\\text{size}_d + 2p_d - d_d (k_d - 1) - 1) / s_d + 1
          \\rfloor`; channel-major, then row-major within a block.

    PyTorch: ``torch.nn.Unfold`` (arguments stored as given, so the repr matches).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Unfold(kernel_size=(2, 3))(jnp.ones((2, 5, 3, 4))).shape
        (2, 30, 4)
    """

    def __init__(self, kernel_size: _size_any_t, dilation: _size_any_t = 1,
                 padding: _size_any_t = 0, stride: _size_any_t = 1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: jax.Array) -> jax.Array:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")

