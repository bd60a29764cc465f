"""Argument normalisers every layer uses, as ``torch.nn.modules.utils`` has them.

``_pair(3) == (3, 3)``, ``_triple((1, 2, 3)) == (1, 2, 3)``: a layer normalises its
kernel size, stride, padding and dilation once in ``__init__`` and stores tuples, so
``extra_repr`` prints torch's text and ``forward`` reads plain tuples.
"""

from __future__ import annotations

import collections.abc
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

__all__ = ["_single", "_pair", "_triple", "_quadruple", "_ntuple", "_reverse_repeat_tuple",
           "_list_with_default"]


def _ntuple(n: int, name: str = "parse") -> Callable[[Any], tuple]:
    """A function that repeats a scalar ``n`` times and passes an iterable through."""

    def parse(x: Any) -> tuple:
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t: Sequence[Any], n: int) -> tuple:
    """Reverse ``t`` and repeat each element ``n`` times.

    Turns a per-dimension padding ``(pH, pW)`` into ``F.pad``'s last-dimension-first
    layout ``(pW, pW, pH, pH)``, as torch's convolutions do for ``padding_mode``.
    """
    return tuple(x for x in reversed(t) for _ in range(n))


def _list_with_default(out_size: Sequence[int | None], defaults: Sequence[int]) -> list[int]:
    """Fill ``None`` entries of an adaptive pooling's output size from the input's size."""
    if isinstance(out_size, int):
        return [out_size]
    if len(defaults) <= len(out_size):
        raise ValueError(f"Input dimension should be at least {len(out_size) + 1}")
    return [v if v is not None else d
            for v, d in zip(out_size, defaults[-len(out_size):])]
