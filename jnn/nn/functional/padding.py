"""torch.nn.functional's padding functions (being written)."""

from __future__ import annotations

__all__: list[str] = []
