"""torch.nn.modules.batchnorm (being written)."""

from __future__ import annotations

__all__: list[str] = []
