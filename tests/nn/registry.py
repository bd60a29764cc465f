"""Registry rows shared by the per-family layer tests (``tests/nn/test_<family>.py``).

A family's test file lists its layers as rows — ``case(...)`` for a comparison with torch,
``err(...)`` for an error both libraries must raise — and parametrizes one test over each
list, calling ``tests.oracle.check_layer`` / ``check_error``.  A new layer costs a few lines.
"""

from __future__ import annotations

import numpy as np
import pytest

__all__ = ["case", "err", "deviation"]


def case(name, *args, inputs=((4, 3),), id=None, opts=None, marks=(), **kwargs):
    """One row: ``name(*args, **kwargs)`` on ``inputs``; ``opts`` go to the oracle."""
    if id is None:
        shown = [repr(a) if not isinstance(a, np.ndarray) else "array" for a in args]
        shown += [f"{k}={'array' if isinstance(v, np.ndarray) else repr(v)}"
                  for k, v in kwargs.items()]
        id = f"{name}({', '.join(shown)})"
    return pytest.param(name, args, kwargs, inputs, opts or {}, id=id, marks=marks)


def err(name, args, kwargs, exc, match, inputs=None, id=None, marks=()):
    """One error row: torch and jnn raise ``exc`` matching ``match`` (at forward if inputs)."""
    return pytest.param(name, args, kwargs, exc, match, inputs, id=id or f"{name}: {match}",
                        marks=marks)


def deviation(reason):
    """A known jnn deviation outside the layer files: must keep failing until fixed."""
    return pytest.mark.xfail(strict=True, reason=reason)
