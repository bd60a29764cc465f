"""Channel shuffle (torch.nn.modules.channelshuffle), as in ShuffleNet."""

from __future__ import annotations

import jax

from jnn.nn import functional as F
from jnn.nn.modules.module import Module

__all__ = ["ChannelShuffle"]


class ChannelShuffle(Module):
    """Splits the channels of ``(N, C, *)`` into ``groups`` and interleaves them.

    Args:
        groups: the number of groups; ``C`` must be divisible by it (checked in forward,
            with torch's messages).

    Shape:
        - Input: :math:`(N, C, *)`, at least 3-D. Output: the same shape.

    PyTorch: ``torch.nn.ChannelShuffle``.

    Example:
        >>> import jax.numpy as jnp
        >>> ChannelShuffle(2)(jnp.arange(4.0).reshape(1, 4, 1))[0, :, 0].tolist()
        [0.0, 2.0, 1.0, 3.0]
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: jax.Array) -> jax.Array:
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
