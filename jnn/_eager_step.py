"""Eager ``optimizer.step(closure)`` and ``jnn.autograd.backward(closure)``, compiled behind
the user's back once a closure repeats.

A porter's first run is eager: a loop that builds a closure per batch and hands it to
``optimizer.step``.  Differentiated op by op, each such step costs several times torch's
(JAX's autodiff re-traces the closure every call).  Here the closure's *code* is the cache
key: from the :data:`WARM_CALLS` + 1-th call of the same code with the same optimizer, the
step runs as one ``jnn.compile``'d program, with everything the closure can see lifted:

* the closure's variables (its cells) and the global names its code reads that hold
  arrays become the program's inputs (arrays) or part of its key (everything else: a
  module or optimizer by identity, a Python number by value);
* modules, optimizers and the generator reached from the closure are threaded state, as
  ``jnn.compile`` threads them, with its failure guarantee: a call that raises changes
  nothing;
* value checks stay on (``checks=True``): a class target out of range raises torch's
  error as the op-by-op call does, at the price of a host sync per step.

What this changes for the user: the closure's Python code runs when the program is traced,
not at every call (a ``print`` in it prints at the trace; ``nonlocal`` counters do not
count) — the same rule as ``jnn.compile``.  Turn it off with
``jnn.autograd.set_closure_compilation(False)`` to get op-by-op eager semantics.

A closure that cannot be compiled correctly runs eagerly from then on, and jnn says why,
once (a :class:`ClosureCompileWarning`): one whose trace fails while the eager run
succeeds (``float(loss)``, data-dependent Python control flow), one that reads arrays the
program would freeze (an array held in an object attribute: it is not an input, so a later
change would go unseen), or one that keeps re-tracing (a Python number that changes every
call).
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax._src import core as _core

from jnn import _state
from jnn._compile import CompiledFunction, _code_names, _is_plain_object, _loaded_globals

__all__ = ["ClosureCompileWarning", "set_closure_compilation", "run"]

# Calls of one closure code that run eagerly before it is compiled: a closure run once or
# twice (a test, a single step) never pays an XLA compile.
WARM_CALLS = 2
# Traces of one closure code after which it runs eagerly (its static inputs keep changing).
MAX_TRACES = 4

_enabled = True
_EMPTY = ("jnn-empty-cell",)


class ClosureCompileWarning(UserWarning):
    """An eager ``step(closure)``/``backward(closure)`` that jnn runs op by op, and why."""


def set_closure_compilation(enabled: bool) -> None:
    """Compile repeated eager ``step(closure)``/``backward(closure)`` calls (default on).

    Off, each call differentiates the closure op by op, running its Python every time (for
    debugging a closure with prints or breakpoints).
    """
    global _enabled
    _enabled = bool(enabled)


class _Freezes(Exception):
    """The traced closure captured arrays that are not its inputs (or changed its
    variables); ``args[1]``, where given, is how to make it compilable."""


def _holds_arrays(value: Any) -> bool:
    if isinstance(value, (jax.Array, np.ndarray)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_arrays(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_arrays(v) for v in value.values())
    return False


def _shape_of(value: Any) -> Any:
    """A container's structure (lengths and keys, two levels), to see a closure append."""
    if isinstance(value, list):
        return ("list", len(value), tuple(_shape_of(v) for v in value[:8]))
    if isinstance(value, dict):
        return ("dict", tuple(value), tuple(_shape_of(v) for v in list(value.values())[:8]))
    if isinstance(value, set):
        return ("set", len(value))
    return None


def _contents(value: Any) -> Any:
    """A shallow copy of a list's or dict's items (to undo a trace's appends)."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return None


def _captured_arrays() -> list:
    """Arrays the current trace captured as constants (values from outside its inputs)."""
    frame = getattr(_core.trace_ctx.trace, "frame", None)
    consts = getattr(frame, "constvar_to_val", None) or {}
    # (tracers of an enclosing trace are inputs, not values: checkify traces the program
    # inside the jit, which makes the jit's inputs its constants)
    return [c for c in consts.values() if not isinstance(c, _core.Tracer)
            and np.ndim(c) > 0 and np.size(c) > 1]


class _ClosureProgram(CompiledFunction):
    """The compiled step of one closure code (for one optimizer, or for ``backward``)."""

    # its own variables and globals are its program's arguments already (_run_closure):
    # only arrays it reads through containers and objects are lifted
    _lifts = "nested"

    def __init__(self, code: types.CodeType, globals_: dict, kind: str) -> None:
        # checks=True: the values eager F.* calls check (class targets in range, BCE
        # probabilities) are checked in the program too, and a step that fails one raises
        # torch's error and changes nothing, as the op-by-op call would
        super().__init__(self._run_closure, checks=True)
        # The names the *closure's* code reads (not _run_closure's): its Python numbers are
        # part of the program's key (`scale = 2.0` between calls re-traces, never stale).
        self._global_names = tuple(sorted(_code_names(code)))
        self._attribute_names = frozenset(self._global_names)
        self._loaded_names = tuple(sorted(_loaded_globals(code)))
        self.kind = kind
        self.code = code
        self.globals = globals_
        names = sorted(n for n in _code_names(code) if n in globals_)
        self.lifted = tuple(n for n in names if _holds_arrays(globals_[n]))
        self.static_names = tuple(n for n in names if n not in self.lifted)
        self.user: types.FunctionType | None = None
        self.calls = 0
        self.off: str | None = None  # why this closure runs eagerly

    def _walk_from(self) -> Any:
        return self.user

    def _closure_ids(self) -> tuple:
        # Arrays (and containers of them) are inputs: new ones each call must not force a
        # rediscovery.  Everything else the closure names is discovered by identity.
        out = []
        for c in self.user.__closure__ or ():
            try:
                v = c.cell_contents
            except ValueError:
                v = None
            out.append(0 if isinstance(v, (jax.Array, np.ndarray, list, tuple, dict)) else id(v))
        g = self.globals
        out.extend(id(g.get(n)) for n in self.static_names)
        return tuple(out)

    def _reads_impure(self) -> None:
        pass  # (raised at the trace: the closure then runs op by op, see _run_closure)

    def _run_closure(self, owner: Any, cells: tuple, lifted: tuple,
                     defaults: tuple | None = None, kwdefaults: dict | None = None) -> Any:
        if self._impure:
            raise _Freezes(
                f"it draws Python random numbers or reads an iterator "
                f"({', '.join(f'`{n}`' for n in self._impure)}), which a compiled program "
                "would do once, when it is traced",
                "draw them with jnn (jnn.rand, jnn.randint, jnn.bernoulli, nn.Dropout) or "
                "outside the closure")
        user = self.user
        g = self.globals
        if self.lifted:
            g = dict(g)
            g.update(zip(self.lifted, lifted))
        new_cells = tuple(types.CellType() if v is _EMPTY else types.CellType(v) for v in cells)
        # (its default arguments, `lambda k=k: loss(x[k])` in a loop, are the call's: part
        # of the key like its variables, never the first traced closure's)
        fn = types.FunctionType(self.code, g, user.__name__, defaults, new_cells)
        fn.__kwdefaults__ = kwdefaults
        shapes = [_shape_of(c.cell_contents) if v is not _EMPTY else None
                  for c, v in zip(new_cells, cells)]
        # the attributes its code names of the plain objects it holds (`tr.losses`)
        holders = [(name, v) for name, v in zip(self.code.co_freevars, cells)
                   if v is not _EMPTY and _is_plain_object(v)]
        holders += [(name, g[name]) for name in self.static_names
                    if _is_plain_object(g.get(name))]
        attributes = [(f"{name}.{a}", obj.__dict__, a, obj.__dict__[a],
                       _shape_of(obj.__dict__[a]), _contents(obj.__dict__[a]))
                      for name, obj in holders
                      for a in sorted(self._attribute_names.intersection(vars(obj)))]
        if self.kind == "step":
            # (the optimizer's step hooks run around the eager call, not again at its trace)
            from jnn.optim._hooks import hooks_running

            with hooks_running(owner):
                out = owner.step(fn)
        else:
            from jnn import autograd

            out = autograd.backward(fn)
        changed = [name for name, c, v, shape in zip(self.code.co_freevars, new_cells, cells,
                                                      shapes)
                   if v is not _EMPTY and (c.cell_contents is not v
                                           or _shape_of(c.cell_contents) != shape)]
        moved = [(label, d, a, value, contents) for label, d, a, value, shape, contents
                 in attributes if d.get(a, _EMPTY) is not value or _shape_of(value) != shape]
        for _, d, a, value, contents in moved:  # (the trace's appends go again)
            d[a] = value
            if isinstance(value, list):
                value[:] = contents
            elif isinstance(value, dict):
                value.clear()
                value.update(contents)
        changed += [label for label, *_ in moved]
        if changed:
            raise _Freezes(
                f"it changes its variables ({', '.join(f'`{n}`' for n in changed)}: a "
                "`nonlocal` it assigns or a container it appends to), which a compiled "
                "program would do once, when it is traced",
                "return what it keeps with the loss (`return loss, out`, then "
                "`loss, out = optimizer.step(closure)`)")
        frozen = _captured_arrays()
        if frozen:
            shapes = ", ".join(str(tuple(np.shape(c))) for c in frozen[:3])
            raise _Freezes(
                f"it reads arrays that are neither its variables nor module state (shapes "
                f"{shapes}; e.g. an array held in an object's attribute), which a compiled "
                "step would freeze")
        return out


# An optimizer's programs live in its own __dict__ (not copied by deepcopy or pickle): its
# programs reference it through their layouts, so a table keyed on it from outside would
# keep every finished optimizer — and its model — alive (a sweep of trials); inside it the
# cycle is garbage like the optimizer.  backward(closure) has one table.  Bounded: a program
# per closure *code*, not per closure object.
_backward: dict = {}
_MAX_CODES = 32


def programs_of(owner: Any) -> dict:
    """``owner``'s table of closure programs (an optimizer's, or backward's)."""
    if owner is None:
        return _backward
    return owner.__dict__.setdefault("_jnn_closure_programs", {})


def _eligible(closure: Any) -> bool:
    return (_enabled and type(closure) is types.FunctionType
            and isinstance(_core.trace_ctx.trace, _core.EvalTrace)
            and not _state.state.compile_depth and _state.state.read_log is None
            and _state.state.grad_enabled and not jax.config.jax_disable_jit)


def _program(owner: Any, closure: types.FunctionType, kind: str) -> _ClosureProgram:
    table = programs_of(owner)
    key = (closure.__code__, id(closure.__globals__))
    prog = table.get(key)
    if prog is None:
        if len(table) >= _MAX_CODES:
            table.pop(next(iter(table)))
        prog = table[key] = _ClosureProgram(closure.__code__, closure.__globals__, kind)
    return prog


def run(owner: Any, closure: Any, kind: str, eager: Callable[[], Any]) -> Any:
    """``eager()``'s result, computed by the closure's compiled program where possible."""
    if not _eligible(closure):
        return eager()
    prog = _program(owner, closure, kind)
    prog.calls += 1
    if prog.off is not None or prog.calls <= WARM_CALLS:
        return eager()
    cells = []
    for c in closure.__closure__ or ():
        try:
            cells.append(c.cell_contents)
        except ValueError:
            cells.append(_EMPTY)
    lifted = tuple(prog.globals.get(n) for n in prog.lifted)
    with _state.LOCK:  # one program may serve closures of several threads (backward's)
        return _call(prog, owner, closure, tuple(cells), lifted, eager)


def _call(prog: _ClosureProgram, owner: Any, closure: types.FunctionType, cells: tuple,
          lifted: tuple, eager: Callable[[], Any]) -> Any:
    traces = prog.trace_count
    prog.user = prog._code_fn = closure
    try:
        return prog(owner, cells, lifted, closure.__defaults__, closure.__kwdefaults__)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:
        if prog.trace_count == traces:
            # The program ran and failed (a value check: torch's error) and changed nothing.
            # Op by op, what the closure did before the failing call (its zero_grad())
            # happens as in torch, then the same error: run it so.
            return eager()
        if isinstance(error, _Freezes):
            reason, *advice = error.args
        else:
            reason, advice = f"compiling it failed ({type(error).__name__}: {error})", []
        result = eager()  # a genuine error in the closure raises here, as eagerly
        _turn_off(prog, reason, *advice)
        return result
    finally:
        prog.user = prog._code_fn = None
        if prog.trace_count > MAX_TRACES and prog.off is None:
            _turn_off(prog, f"it was traced {prog.trace_count} times: something it reads "
                      "that is not an array (a Python number, a new object) changes between "
                      "calls")


def _turn_off(prog: _ClosureProgram, reason: str,
              advice: str = "pass what it reads as closure variables (or wrap the whole "
                            "step in jnn.compile)") -> None:
    prog.off = reason
    what = "optimizer.step(closure)" if prog.kind == "step" else "jnn.autograd.backward(closure)"
    warnings.warn(
        f"jnn: eager {what} with the closure {prog.code.co_name!r} "
        f"({prog.code.co_filename}:{prog.code.co_firstlineno}) runs op by op from now on, "
        f"not as one compiled program, because {reason}. It stays correct but slower; to "
        f"compile it, {advice}.", ClosureCompileWarning, stacklevel=5)
