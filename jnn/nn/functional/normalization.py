"""torch.nn.functional's normalization functions (being written)."""

from __future__ import annotations

__all__: list[str] = []
