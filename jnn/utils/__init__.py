"""torch.utils counterparts."""

from jnn.utils import data

__all__ = ["data"]
