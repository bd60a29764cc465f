"""torch.nn.modules.instancenorm (being written)."""

from __future__ import annotations

__all__: list[str] = []
