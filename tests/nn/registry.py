"""Registry rows shared by the per-family layer tests (``tests/nn/test_<family>.py``).

A family's test file lists its layers as rows — ``case(...)`` for a comparison with torch,
``err(...)`` for an error both libraries must raise — and parametrizes one test over each
list, calling ``tests.oracle.check_layer`` / ``check_error``.  A new layer costs a few lines.

Every ``case`` row is checked in every mode of the oracle (eager, ``jax.jit``, copies,
``jnn.compile``, a compiled training step, bfloat16, float64; see ``tests/oracle.py``).  A
row leaves a mode out only with a written reason, through its ``marks``:

* ``unsupported(check, reason)``: the row cannot run that check (the check is not run);
* ``deviation(reason, check=...)``: a known jnn deviation in that check only: the check must
  keep failing (strict), every other check still runs and must pass.

The compiled training step (the costliest check: several XLA programs per row) runs on the
first row of each class name in each test file that takes gradients; the other rows of
that class leave it out with the reason :data:`STEP_SUBSET`.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest

__all__ = ["case", "err", "deviation", "unsupported", "STEP_SUBSET"]

STEP_SUBSET = "time budget: the compiled step runs on the first row of each class per file"
_stepped: set[tuple[str, str]] = set()  # (test module, class name) rows that have the step


@dataclasses.dataclass(frozen=True)
class CheckMark:
    """A per-check mark for a ``case`` row: ``kind`` is ``"skip"`` or ``"xfail"``."""

    kind: str
    check: str
    reason: str


def case(name, *args, inputs=((4, 3),), id=None, opts=None, marks=(), **kwargs):
    """One row: ``name(*args, **kwargs)`` on ``inputs``; ``opts`` go to the oracle.

    ``marks`` holds pytest marks and :func:`unsupported` / per-check :func:`deviation`
    marks; the latter become the oracle's ``skip_checks`` / ``xfail_checks`` options.
    """
    if id is None:
        shown = [repr(a) if not isinstance(a, np.ndarray) else "array" for a in args]
        shown += [f"{k}={'array' if isinstance(v, np.ndarray) else repr(v)}"
                  for k, v in kwargs.items()]
        id = f"{name}({', '.join(shown)})"
    marks = list(marks) if isinstance(marks, (list, tuple)) else [marks]
    opts = dict(opts or {})
    for mark in [m for m in marks if isinstance(m, CheckMark)]:
        key = "skip_checks" if mark.kind == "skip" else "xfail_checks"
        opts[key] = {**opts.get(key, {}), mark.check: mark.reason}
    marks = [m for m in marks if not isinstance(m, CheckMark)]
    _choose_step(name, opts, sys._getframe(1).f_globals.get("__name__", ""))
    return pytest.param(name, args, kwargs, inputs, opts, id=id, marks=marks)


def _choose_step(name: str, opts: dict, module: str) -> None:
    """Leave the step check out of all but the first gradient row of ``name`` in ``module``."""
    checks = {**opts.get("skip_checks", {}), **opts.get("xfail_checks", {})}
    if not opts.get("grad", True) or "step" in checks:
        return
    if (module, name) in _stepped:
        opts["skip_checks"] = {**opts.get("skip_checks", {}), "step": STEP_SUBSET}
    else:
        _stepped.add((module, name))


def err(name, args, kwargs, exc, match, inputs=None, id=None, marks=()):
    """One error row: torch and jnn raise ``exc`` matching ``match`` (at forward if inputs)."""
    return pytest.param(name, args, kwargs, exc, match, inputs, id=id or f"{name}: {match}",
                        marks=marks)


def deviation(reason, check=None):
    """A known jnn deviation: must keep failing until fixed (strict).

    Without ``check`` the whole row is a strict xfail (a deviation in eager mode).  With
    ``check`` (one of ``tests.oracle.CHECKS``) only that check must fail; the row's other
    checks still run and must pass.
    """
    if check is None:
        return pytest.mark.xfail(strict=True, reason=reason)
    return CheckMark("xfail", check, reason)


def unsupported(check, reason):
    """The row cannot run ``check`` (one of ``tests.oracle.CHECKS``), for ``reason``."""
    return CheckMark("skip", check, reason)
