"""Pixel shuffles (torch.nn.modules.pixelshuffle): depth to space and back."""

from __future__ import annotations

import jax

from jnn.nn import functional as F
from jnn.nn.modules.module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle"]


class PixelShuffle(Module):
    """Rearranges ``(*, C r^2, H, W)`` into ``(*, C, H r, W r)`` (sub-pixel convolution).

    Args:
        upscale_factor: ``r``; checked (positive) in forward, as torch does.

    Shape:
        - Input: :math:`(*, C_{in}, H_{in}, W_{in})`, :math:`C_{in}` divisible by :math:`r^2`.
        - Output: :math:`(*, C_{in} / r^2, H_{in} r, W_{in} r)`.

    PyTorch: ``torch.nn.PixelShuffle``.

    Example:
        >>> import jax.numpy as jnp
        >>> PixelShuffle(3)(jnp.ones((1, 9, 4, 4))).shape
        (1, 1, 12, 12)
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: jax.Array) -> jax.Array:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """Rearranges ``(*, C, H r, W r)`` into ``(*, C r^2, H, W)``; inverts PixelShuffle.

    Args:
        downscale_factor: ``r``; checked (positive) in forward, as torch does.

    Shape:
        - Input: :math:`(*, C_{in}, H_{in}, W_{in})`, H and W divisible by :math:`r`.
        - Output: :math:`(*, C_{in} r^2, H_{in} / r, W_{in} / r)`.

    PyTorch: ``torch.nn.PixelUnshuffle``.

    Example:
        >>> import jax.numpy as jnp
        >>> PixelUnshuffle(3)(jnp.ones((1, 1, 12, 12))).shape
        (1, 9, 4, 4)
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: jax.Array) -> jax.Array:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
