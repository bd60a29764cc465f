"""``jnn.compile``: jit for stateful, torch-style code.

A torch training step reads and writes state held in Python objects: parameters, ``.grad``,
buffers (BatchNorm statistics), optimizer state, learning rates, the random generator.
``jnn.compile(fn)`` turns such a step into ONE XLA program:

1. *Discovery* (once per situation): the state objects ``fn`` can reach — modules,
   optimizers and generators in its closure, in the globals it names, in functions and
   bound methods it references, and in its arguments — and from them the list of
   *cells*: every array of state (``p.data``, ``p.grad``, each buffer, each optimizer
   state entry, the generator key) plus the optimizers' numeric options (lr, betas, ...).
2. *Tracing* (once per static situation: argument structure and shapes, which cells exist,
   module structure incl. train/eval, the optimizers' structural flags): the cells'
   values enter the program as inputs; while ``fn`` is traced they are swapped into the
   objects, afterwards the objects are read again (new ``.grad``s, new optimizer state
   appear here) and restored.  What ``fn`` left in the cells becomes the program's output.
3. *Calling*: gather the cells' arrays, run the program (the old arrays are donated),
   write the outputs back into the objects.  Nothing else runs per step in Python.

Learning rates are inputs, not constants, so a scheduler never causes a re-trace; a
change in structure (``model.eval()``, a new parameter group) does.  State ``fn`` stores
where jnn cannot thread it (a plain attribute, a global, a list) is reported, by name.
"""

from __future__ import annotations

import atexit
import dis
import enum
import functools
import io
import operator
import random
import sys
import threading
import types
import warnings
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax._src import config as _jax_config

from jnn import _state
from jnn._tensor_functions.device import mismatch_error
from jnn.nn.modules import _hooks, _pytree
from jnn.nn.modules.module import Module
from jnn.nn.parameter import Parameter, check_int_range
from jnn.optim import _hooks as _optim_hooks
from jnn.optim._lr_scheduler_base import LRScheduler
from jnn.optim.optimizer import (
    MULTI_TENSOR_CHUNK,
    Optimizer,
    unflatten_options,
    versioned_groups,
)
from jnn.random import Generator, default_generator

__all__ = ["compile", "CompiledFunction", "CompiledModule", "OptimizedModule",
           "RecompileWarning"]


def _is_state_object(x: Any) -> bool:
    return isinstance(x, (Module, Optimizer, Generator))


def _is_leaf(x: Any) -> bool:
    """A leaf of a call's arguments: jnn state, or an iterator (a generator an eager
    closure holds: JAX deprecates flattening one)."""
    return isinstance(x, (Module, Optimizer, Generator, Parameter, Iterator))


def _is_argument_state(x: Any) -> bool:
    """State a call's argument can be: a module, an optimizer, a generator, or a Parameter
    on its own (``step(w, x)``; an eager closure's variable ``w``), threaded as the very
    object (flattened, it would be rebuilt as a copy, and the step would train the copy)."""
    return isinstance(x, (Module, Optimizer, Generator, Parameter))


# -- discovery ---------------------------------------------------------------------------


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _code_strings(code: types.CodeType) -> set[str]:
    """The identifier-like string constants of ``code`` (and the functions defined in it):
    attribute names read with ``getattr(obj, "name")``."""
    names = set()
    for const in code.co_consts:
        if isinstance(const, str) and const.isidentifier():
            names.add(const)
        elif isinstance(const, types.CodeType):
            names |= _code_strings(const)
    return names


def _loaded_globals(code: types.CodeType) -> set[str]:
    """The names ``code`` (and the functions defined in it) load as globals — not the
    attribute names ``co_names`` also holds (``opt.step`` names ``step``)."""
    names = {ins.argval for ins in dis.get_instructions(code)
             if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _loaded_globals(const)
    return names


def _find_roots(fn: Any, extra: list[Any]) -> list[Any]:
    """State objects reachable from ``fn`` (closure, named globals, defaults) and ``extra``,
    and through the attributes the code names of plain objects they reach (``cfg.model``)."""
    found: dict[int, Any] = {}
    seen: set[int] = set()
    names: set[str] = set()  # attribute names the visited code reads
    plain: list[tuple[Any, int]] = []  # plain objects met: searched once names are known
    bare: dict[int, Parameter] = {}  # Parameters met on their own (a learnable temperature)

    user_classes: set[type] = set()

    def visit(obj: Any, depth: int) -> None:
        if id(obj) in seen or depth > 4:
            return
        seen.add(id(obj))
        if _is_state_object(obj):
            found[id(obj)] = obj
            if isinstance(obj, Module):
                for m in obj.modules():
                    # an optimizer a layer holds (``self.opt = Adam(self.parameters())``)
                    # and steps in a method of its own: the names its class's code reads
                    cls = type(m)
                    if cls not in user_classes and not _library(cls):
                        user_classes.add(cls)
                        for klass in cls.__mro__:
                            if klass is object or _library(klass):
                                continue
                            for f in vars(klass).values():
                                if isinstance(f, types.FunctionType):
                                    names.update(_code_names(f.__code__))
                    if not _library(cls):
                        plain.append((m, depth))
        elif isinstance(obj, Parameter):
            bare.setdefault(id(obj), obj)
        elif isinstance(obj, LRScheduler):  # its optimizer's lr is what the step reads
            visit(obj.optimizer, depth + 1)
        elif isinstance(obj, types.MethodType):
            visit(obj.__self__, depth + 1)
            visit(obj.__func__, depth + 1)
            owner = obj.__self__
            if not _is_state_object(owner) and hasattr(owner, "__dict__"):
                for item in vars(owner).values():  # a method reads its object's attributes
                    visit(item, depth + 1)
        elif isinstance(obj, CompiledFunction):
            # another compiled function (or this one, named in its own code as `step` is
            # by `opt.step`): what its function reaches, never its cache of past objects
            visit(obj.fn, depth + 1)
            for item in obj._explicit or ():
                visit(item, depth + 1)
        elif isinstance(obj, functools.partial):
            visit(obj.func, depth + 1)
            for a in (*obj.args, *obj.keywords.values()):
                visit(a, depth + 1)
        elif isinstance(obj, types.FunctionType):
            if not _library(obj):
                names.update(_code_names(obj.__code__))
            for cell in obj.__closure__ or ():
                try:
                    visit(cell.cell_contents, depth + 1)
                except ValueError:  # an empty cell
                    pass
            g = obj.__globals__
            for name in _code_names(obj.__code__):
                if name in g:
                    visit(g[name], depth + 1)
            for d in obj.__defaults__ or ():
                visit(d, depth + 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for item in obj:
                visit(item, depth + 1)
        elif isinstance(obj, dict):
            for item in obj.values():
                visit(item, depth + 1)
        elif callable(obj) and not isinstance(obj, type):  # a callable object, e.g. a loss
            call = type(obj).__dict__.get("__call__")
            if isinstance(call, types.FunctionType) and hasattr(obj, "__dict__"):
                for item in vars(obj).values():
                    visit(item, depth + 1)
        elif _is_plain_object(obj) and not _library(type(obj)):
            plain.append((obj, depth))

    def visit_methods(obj: Any, depth: int) -> None:
        # the methods of its own classes that the code names (`trainer.step(x, y)`) or
        # that calling it runs (a Module's forward): what they name, globals included
        for klass in type(obj).__mro__:
            if klass is object or _library(klass):
                continue
            for name, f in vars(klass).items():
                if name in names or name in _CALLED_METHODS:
                    f = getattr(f, "__func__", f)  # (a staticmethod, a classmethod)
                    if isinstance(f, types.FunctionType):
                        visit(f, depth + 1)

    visit(fn, 0)
    for obj in extra:
        visit(obj, 0)
    while True:  # (what a plain object holds or its methods read may name more attributes)
        size, count = len(names), len(plain)
        for obj, depth in list(plain):
            d = vars(obj)
            for attr in sorted(names.intersection(d)):
                if attr not in _MODULE_SLOTS:
                    visit(d[attr], depth + 1)
            visit_methods(obj, depth)
        if len(names) == size and len(plain) == count:
            break
    if bare:
        # those no module or optimizer found holds: threaded as one module of them
        held = {id(p) for r in found.values() if isinstance(r, Module) for p in r.parameters()}
        held.update(id(p) for r in found.values() if isinstance(r, Optimizer)
                    for g in r.param_groups for p in g["params"])
        alone = [p for i, p in bare.items() if i not in held]
        if alone:
            holder = _bare_holder(alone)
            found[id(holder)] = holder
    found.setdefault(id(default_generator), default_generator)
    return list(found.values())


# The module threading each set of bare Parameters (the same object while they live, so
# that discovery finds the same roots again): by their ids, held weakly
_BARE_HOLDERS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _bare_holder(params: list[Parameter]) -> Module:
    """One module holding the very Parameter objects ``params`` (jnn.compile threads
    modules: a Parameter read on its own, from a global, is threaded as this module's)."""
    key = tuple(map(id, params))
    holder = _BARE_HOLDERS.get(key)
    if holder is None:
        from jnn.nn.modules.container import ParameterList

        holder = _BARE_HOLDERS[key] = ParameterList(params)
    return holder


# Methods a call of an object runs without the code naming them
_CALLED_METHODS = frozenset({"forward", "__call__"})

_INTERNED: dict[Any, int] = {}


def _intern(key: Any) -> int:
    """A small int standing for a big structural key: cheap to hash on every call."""
    return _INTERNED.setdefault(key, len(_INTERNED))


# -- cells ---------------------------------------------------------------------------------


class _Layout:
    """Where every array of threaded state lives, grouped by kind for a fast gather/scatter.

    *Lazy* cells — parameter data, optimizer state, generator keys, ``.grad`` — travel
    packed (see ``_Plan``) and are written back into the objects only when Python next
    looks at them. *Direct* cells — module buffers — are read and written every call.
    Reads and writes here use the raw slots (``_value``, ``_gradient``, ``_param_state``),
    never the flushing properties.
    """

    __slots__ = ("data", "ostates", "nones", "items", "grads", "buffers", "gens", "key",
                 "_where", "opts", "pos", "base", "rebound", "_owners", "_last_plan",
                 "_sources", "roots", "_handing")

    def __init__(self, roots: list[Any]) -> None:
        self.roots = tuple(roots)
        params: dict[int, Parameter] = {}
        modules: dict[int, Module] = {}
        for root in roots:
            if isinstance(root, Module):
                for m in root.modules():
                    modules.setdefault(id(m), m)
        for m in modules.values():
            for p in m._parameters.values():
                if p is not None:
                    params.setdefault(id(p), p)
        optimizers = [r for r in roots if isinstance(r, Optimizer)]
        for opt in optimizers:
            for group in opt.param_groups:
                for p in group["params"]:
                    params.setdefault(id(p), p)
        self.data = list(params.values())
        self.opts = optimizers
        self.pos = {pid: i for i, pid in enumerate(params)}
        self.ostates: list[tuple[Optimizer, Parameter, str]] = []
        # State held as None (torch's SGD state dict has a momentum_buffer of None for a
        # buffer not created yet): no cell, but a traced step that creates it is undone
        # to None, keeping the entry and its place (torch's state_dict order)
        self.nones: set[tuple[int, int, str]] = set()
        self.items: list[tuple[Any, Any]] = []
        item_key = []
        for oi, opt in enumerate(optimizers):
            if type(opt)._cells is not Optimizer._cells:  # e.g. Optax: leaves in lists
                cells = opt._cells()
                containers: dict[int, int] = {}
                item_key.extend((oi, containers.setdefault(id(c), len(containers)), k)
                                for c, k in cells)
                self.items.extend(cells)
                continue
            # Grouped by state name (every exp_avg, then every exp_avg_sq, ...), each in
            # parameter order: the order a multi-tensor update concatenates them in, so that
            # XLA folds the unpack, the concatenation and the re-pack into nothing.
            cells = [(k, p) for p, st in opt._param_state.items()
                     for k, v in st.items() if isinstance(v, jax.Array)]
            self.nones.update((id(opt), id(p), k) for p, st in opt._param_state.items()
                              for k, v in st.items() if v is None)
            order: dict[str, int] = {}
            for k, _ in cells:
                order.setdefault(k, len(order))
            cells.sort(key=lambda c: order[c[0]])  # stable: parameter order within a name
            self.ostates.extend((opt, p, k) for k, p in cells)
        self.grads = [p for p in self.data if p._gradient is not None]
        mods = list(modules.values())
        self.buffers: list[tuple[dict, str]] = [
            (m._buffers, name) for m in mods for name, b in m._buffers.items() if b is not None
        ]
        self.gens = [r for r in roots if isinstance(r, Generator)]
        # The key is structural (positions, never identities): a same-shaped new model and
        # optimizer get the same key, so their calls reuse the program traced for the old
        # ones, and no cached program keeps an object alive through its key.
        mpos = {id(m): i for i, m in enumerate(mods)}
        pos = self.pos
        self.base = (
            tuple(type(r) for r in roots),
            tuple(tuple(mpos[id(m)] for m in r.modules()) for r in roots
                  if isinstance(r, Module)),
            tuple(tuple(pos[id(p)] for p in m._parameters.values() if p is not None)
                  for m in mods),
            tuple(tuple(tuple(pos[id(p)] for p in g["params"]) for g in o.param_groups)
                  for o in optimizers),
            tuple(item_key),
            tuple((i, name) for i, m in enumerate(mods)
                  for name, b in m._buffers.items() if b is not None),
            tuple(i for i, r in enumerate(roots) if isinstance(r, Generator)),
        )
        recipe = self.recipe()
        self.key = self._key(recipe)
        # the layouts of these objects with other cells, shared by the family (a cycle)
        self.rebound: dict[tuple, _Layout] = {recipe: self}

    def _key(self, recipe: tuple) -> int:
        return _intern((self.base, recipe))

    def recipe(self) -> tuple:
        """Which ``.grad`` and optimizer-state cells exist, by position."""
        pos, opos = self.pos, {id(o): i for i, o in enumerate(self.opts)}
        return (tuple(pos[id(p)] for p in self.grads),
                tuple((opos[id(o)], pos[id(p)], k) for o, p, k in self.ostates))

    def same_owners(self, other: _Layout) -> bool:
        """``other`` holds its parameters, buffers, generators and item containers in the
        same objects as this layout (what a recipe cannot express)."""
        return (len(self.data) == len(other.data) and len(self.items) == len(other.items)
                and all(a is b for a, b in zip(self.data, other.data))
                and self.same_direct(other)
                and all(a[0] is b[0] and a[1] == b[1] for a, b in zip(self.items, other.items))
                and self.base == other.base)

    def same_direct(self, other: _Layout) -> bool:
        """The same direct cells (buffers, generators), in the same order."""
        return (len(self.buffers) == len(other.buffers) and len(self.gens) == len(other.gens)
                and all(a[0] is b[0] and a[1] == b[1] for a, b in zip(self.buffers, other.buffers))
                and all(a is b for a, b in zip(self.gens, other.gens)))

    def with_recipe(self, recipe: tuple) -> _Layout:
        """This layout's objects with the ``.grad`` and optimizer-state cells of ``recipe``
        (a program traced for other, same-shaped objects says which cells it leaves)."""
        out = self.rebound.get(recipe)
        if out is None:
            out = object.__new__(_Layout)
            out.data, out.opts, out.pos, out.base = self.data, self.opts, self.pos, self.base
            out.roots = self.roots
            out.items, out.buffers, out.gens = self.items, self.buffers, self.gens
            grads, ostates = recipe
            out.grads = [self.data[i] for i in grads]
            out.ostates = [(self.opts[o], self.data[i], k) for o, i, k in ostates]
            out.rebound = self.rebound
            out.key = self._key(recipe)
            self.rebound[recipe] = out
        return out

    # ``.grad`` comes last.  XLA pairs donated inputs with outputs of the same shape in
    # order; a step that starts with ``zero_grad()`` never reads the old gradients, so
    # those inputs are dropped, and were they in the middle, every later output would
    # pair with the wrong input and XLA would insert copies.
    # Generator keys are direct cells (their raw data, read and written every call): no
    # packed store ever holds one, so the stores of separate models never overlap.
    def gather_lazy(self) -> list[Any]:
        values = [*[p._value for p in self.data],
                  *[o._param_state[p][k] for o, p, k in self.ostates],
                  *[c[k] for c, k in self.items],
                  *[p._gradient for p in self.grads]]
        for v in values:
            if type(v) is _state.LostState:  # a failed call destroyed it: say so
                raise v.error()
        return values

    def plan_of(self, lazy: list[Any]) -> _Plan:
        """``_Plan.of(lazy)``, remembered for the very same values (an evaluation step
        between training steps finds the objects' slots untouched: no shape walk)."""
        last = getattr(self, "_last_plan", None)
        if last is not None and len(last[0]) == len(lazy) and \
                all(r() is v for r, v in zip(last[0], lazy)):
            return last[1]
        plan = self.plan_for(lazy)
        try:  # held weakly: a layout must not keep old arrays alive
            self._last_plan = ([weakref.ref(v) for v in lazy], plan)
        except TypeError:
            self._last_plan = None
        return plan

    def states_present(self) -> bool:
        """Every optimizer state cell of this layout still exists."""
        for o, p, k in self.ostates:
            st = o._param_state.get(p)
            if st is None or k not in st:
                return False
        return True

    def owner_ids(self) -> frozenset:
        """The objects whose lazy cells a store of this layout holds."""
        ids = getattr(self, "_owners", None)
        if ids is None:
            ids = self._owners = frozenset(
                [*map(id, self.data), *(id(o) for o, _, _ in self.ostates),
                 *(id(c) for c, _ in self.items)])
        return ids

    def scatter_lazy(self, values: list[Any]) -> None:
        it = iter(values)
        for p in self.data:
            p._value = next(it)
        for o, p, k in self.ostates:
            o._param_state[p][k] = next(it)
        for c, k in self.items:
            c[k] = next(it)
        for p in self.grads:
            p._gradient = next(it)

    def n_grads(self) -> int:
        return len(self.grads)

    def plan_for(self, lazy: list[Any]) -> _Plan:
        """How ``lazy`` (this layout's lazy values) travels: buffers as wide as the
        optimizers' multi-tensor updates allow, unless some state is updated leaf by leaf
        (``items``: an optax transformation's)."""
        return _Plan.of(lazy, self.n_grads(), not self.items)

    def index_of(self, owner: Any, kind: str) -> int | None:
        """Position of ``owner``'s cell (``kind``: "data", "grad") among the lazy values, or
        None when this layout does not carry it."""
        where = getattr(self, "_where", None)
        if where is None:
            n_data, n_other = len(self.data), len(self.ostates) + len(self.items)
            where = {(id(p), "data"): i for i, p in enumerate(self.data)}
            base = n_data + n_other
            where.update({(id(p), "grad"): base + i for i, p in enumerate(self.grads)})
            self._where = where
        return where.get((id(owner), kind))

    def lose(self, reason: str) -> None:
        """Mark every lazy cell as lost: its newest value died with a failed call."""
        reason = reason.strip().splitlines()[0][:300] if reason.strip() else "unknown error"
        lost = _state.LostState(reason)

        def like(x: Any) -> _state.LostState:
            return _state.LostState(reason, tuple(x.shape), x.dtype)

        for p in self.data:
            p._value = like(p._value)
        for p in self.grads:  # gradients are recomputed by the next backward: cleared
            p._gradient = None
        for opt in {id(o): o for o, _, _ in self.ostates}.values():
            opt.__dict__["_lost"] = lost
        for c, k in self.items:
            c[k] = lost
        # (the cleared .grad cells: a next call learns its cells again, and its trace
        # reads the lost weights, which raise the error that says why)
        _state.bump_cells(self.owner_ids())

    def threaded_ids(self) -> set[int]:
        """Owners whose writes of traced values the program threads (see check_write)."""
        return {*(id(p) for p in self.data), *(id(c) for c, _ in self.buffers),
                *(id(g) for g in self.gens), *(id(o) for o in self.opts)}

    def shadows(self, lazy: list[Any], direct: list[Any]) -> list[tuple[tuple, Any]]:
        """``(owner key, value)`` of the parameters', gradients' and buffers' values
        ``lazy`` and ``direct`` (as gathered), for ``_state.push_shadows``."""
        n, first_grad = len(self.data), len(lazy) - len(self.grads)
        pairs = [*(((id(p), "data"), v) for p, v in zip(self.data, lazy[:n])),
                 *(((id(p), "grad"), v) for p, v in zip(self.grads, lazy[first_grad:])),
                 *(((id(c), k), v) for (c, k), v in zip(self.buffers, direct))]
        # (a trace inside another's: the outer one's values stand)
        return [(k, v) for k, v in pairs if not isinstance(v, jax.core.Tracer)]

    def gather_direct(self) -> list[Any]:
        if not self.buffers:
            return [g._raw_key_data() for g in self.gens]
        return [*[c[k] for c, k in self.buffers], *[g._raw_key_data() for g in self.gens]]

    def scatter_direct(self, values: list[Any]) -> None:
        """Write the direct cells; ``None`` is a cell the program left as it was (it is
        not an output: a step that draws no random numbers returns no key)."""
        it = iter(values)
        for c, k in self.buffers:
            v = next(it)
            if v is not None:
                c[k] = v
        for g in self.gens:
            v = next(it)
            if v is not None:
                g._set_key_data(v)

    def names(self) -> list[str]:
        return [
            *[f"Parameter{tuple(p.shape)}.data" for p in self.data],
            *[f"{type(o).__name__}.state[...][{k!r}]" for o, _, k in self.ostates],
            *[f"optimizer state [{k!r}]" for _, k in self.items],
            *[f"Parameter{tuple(p.shape)}.grad" for p in self.grads],
            *[f"buffer {k!r}" for _, k in self.buffers],
            *["Generator.key" for _ in self.gens],
        ]

    def remove_new(self, before: _Layout) -> None:
        """Undo state that appeared while tracing (a new .grad, new optimizer state)."""
        had_grad = {id(p) for p in before.grads}
        for p in self.grads:
            if id(p) not in had_grad:
                p._gradient = None
        had_state = {(id(o), id(p), k) for o, p, k in before.ostates}
        for o, p, k in self.ostates:
            if (id(o), id(p), k) not in had_state:
                st = o._param_state.get(p)
                if st is not None and (id(o), id(p), k) in before.nones:
                    st[k] = None
                elif st is not None:
                    st.pop(k, None)
                    if not st:
                        del o._param_state[p]


# Distinct cells read one by one from a pending store before it is unpacked whole.
_PARTIAL_READS = 8
# Handed-out cells (CompiledFunction._next_hot): the steps in a row that must read the
# same values first, the most cells a step hands out, its programs per traced entry, and
# the steps without a read after which it stops
_HOT_STREAK = 3
_HOT_CELLS = 256
_HOT_PROGRAMS = 4
_HOT_IDLE = 4

# Arrays up to this many elements travel packed into one flat buffer per dtype; larger
# ones travel alone (their own compute dwarfs the per-buffer cost of a program input).
_PACK_LIMIT = 1 << 14
_NOT_LENT: set = set()  # (never added to: a store's first lend makes its own set)
_NOT_OFFERED: dict = {}
_NO_CELLS: frozenset = frozenset()
# At most this many arrays share one packed buffer where code updates them one by one
# (an optax transformation): XLA's CPU compile time grows faster than linearly with the
# separate slices taken from (and concatenated into) one buffer (1,000 small arrays in one
# buffer: 7.7 s, in chunks of 8: 2.6 s).  jnn's own optimizers update small parameters as
# one vector (``multi_tensor``), whose slices XLA folds away: their state packs up to
# ``_PACK_ELEMENTS`` per buffer (the probe: 40 µs a step and 2.6 s to compile, against
# 270 µs and 2.3 s in chunks of 8).
_PACK_MEMBERS = 8
_PACK_ELEMENTS = MULTI_TENSOR_CHUNK
# A small model's state (a Linear, its .grad and Adam's moments) shares one buffer per
# dtype: each program output costs about 2 µs a call, which such a step is made of.
_PACK_ALL = 16


class _Plan:
    """How a list of lazy values maps onto the program's buffers, and back.

    Buffers: [packed values per dtype..., large values...], values in order (state, then
    gradients) — the same order for inputs and outputs, so that donated inputs pair with
    the outputs that replace them.
    """

    def __init__(self, avals: tuple[tuple[tuple[int, ...], Any], ...], n_grads: int,
                 wide: bool) -> None:
        self.avals = avals
        self.key = _intern((avals, n_grads, wide))
        sizes = [int(np.prod(shape, dtype=np.int64)) for shape, _ in avals]
        small: dict[Any, int] = {}
        for (_, dtype), size in zip(avals, sizes):
            if size <= _PACK_LIMIT:
                small[dtype] = small.get(dtype, 0) + 1
        open_: dict[Any, list[tuple[int, int, tuple[int, ...]]]] = {}
        filled: dict[Any, int] = {}  # elements in the open buffer of each dtype
        packed: list[tuple[Any, list]] = []
        large: list[tuple[Any, list]] = []
        for i, ((shape, dtype), size) in enumerate(zip(avals, sizes)):
            if size <= _PACK_LIMIT:
                members = open_.get(dtype)
                if members is None or (
                        len(members) >= (small[dtype] if small[dtype] <= _PACK_ALL
                                         else _PACK_MEMBERS)
                        if not wide else
                        filled[dtype] + size > _PACK_ELEMENTS):
                    members = open_[dtype] = []
                    packed.append((dtype, members))
                    filled[dtype] = 0
                members.append((i, size, shape))
                filled[dtype] += size
            else:
                large.append((None, [(i, size, shape)]))
        self.buffers: list[tuple[Any, list[tuple[int, int, tuple[int, ...]]]]] = packed + large
        # lazy index -> buffer position, for the values with a buffer of their own
        self.large: dict[int, int] = {members[0][0]: len(packed) + b
                                      for b, (_, members) in enumerate(large)}
        self.pack_jit = jax.jit(functools.partial(self.pack, copy=True))
        self._host_packs = _HOST_PACKS
        self.unpack_jit = jax.jit(self.unpack)
        # A writer's flush drops the store: its buffers may be donated to the unpack, so
        # that large arrays come back without a copy.
        self.unpack_donated = jax.jit(self.unpack, donate_argnums=(0,))

    @staticmethod
    def of(values: list[Any], n_grads: int, wide: bool) -> _Plan:
        avals = tuple((tuple(v.shape), v.dtype) for v in values)
        plan = _PLANS.get((avals, n_grads, wide))
        if plan is None:
            plan = _PLANS[(avals, n_grads, wide)] = _Plan(avals, n_grads, wide)
        return plan

    def pack(self, values: list[Any], copy: bool = False) -> list[Any]:
        out = []
        for dtype, members in self.buffers:
            if dtype is None:
                # Packing the objects' arrays for a call that donates them: a copy, or the
                # objects (and any state_dict() holding them) would keep a deleted array.
                value = values[members[0][0]]
                out.append(jnp.array(value, copy=True) if copy else value)
            else:
                out.append(jnp.concatenate([jnp.ravel(values[i]) for i, _, _ in members]))
        return out

    def pack_new(self, values: list[Any]) -> list[Any]:
        """``pack_jit(values)``: new buffers, which the call may donate.  The first uses of
        a plan (a training loop's first call packs twice: its abstract trace and its call)
        concatenate on the host instead where that is exact, because compiling the packing
        program costs more than a loop's first steps (the probe: 0.5 s for 600 arrays,
        against 2 ms on the host); a plan packed more often (an evaluation step run from
        the objects) compiles it."""
        if self._host_packs > 0:
            self._host_packs -= 1
            out = self._pack_on_host(values)
            if out is not None:
                return out
        return self.pack_jit(values)

    def _pack_on_host(self, values: list[Any]) -> list[Any] | None:
        """The packed buffers made with numpy, or None where that would differ from the
        program's (values on another device than the default one, weakly typed, sharded,
        deleted, or too many bytes to send through the host).  Committed to the device
        where a value is (``load_state_dict`` commits), as the program's outputs are."""
        default = jax.config.jax_default_device
        if default is not None and not isinstance(default, jax.Device):
            return None  # (a platform name)
        device = default or jax.devices()[0]
        sharding = _host_sharding(device)
        small, committed = 0, False
        for v in values:
            if (not isinstance(v, jax.Array) or isinstance(v, jax.core.Tracer)
                    or not isinstance(v.dtype, np.dtype)  # (an extended dtype: a key array)
                    or v.weak_type or v.is_deleted() or v.sharding != sharding):
                return None
            committed = committed or v.committed
            if v.size <= _PACK_LIMIT:
                small += v.nbytes
        if small > _HOST_PACK_BYTES:
            return None
        out = []
        for dtype, members in self.buffers:
            if dtype is None:  # a copy (see pack), made without a program
                value = jax.device_put(values[members[0][0]], may_alias=False)
            else:
                value = np.concatenate([np.asarray(values[i]).reshape(-1)
                                        for i, _, _ in members])
            out.append(jax.device_put(value, device) if committed else jax.device_put(value))
        return out

    def read(self, buffers: list[Any], index: int) -> Any:
        """Value ``index`` out of the packed buffers: one small slice program (a copy)."""
        where = self._where.get(index) if hasattr(self, "_where") else None
        if where is None:
            where = {}
            for b, (_, members) in enumerate(self.buffers):
                offset = 0
                for i, size, shape in members:
                    where[i] = (b, offset, size, shape)
                    offset += size
            self._where = where
            where = where[index]
        b, offset, size, shape = where
        return _slice_jit(size, shape)(buffers[b], offset)

    def unpack(self, buffers: list[Any]) -> list[Any]:
        values: list[Any] = [None] * len(self.avals)
        for buf, (dtype, members) in zip(buffers, self.buffers):
            if dtype is None:
                # a copy: a pass-through output would be the very buffer the next call
                # donates, and an object holding it would be left with a deleted array
                values[members[0][0]] = jnp.array(buf, copy=True)
                continue
            offset = 0
            for i, size, shape in members:
                values[i] = buf[offset:offset + size].reshape(shape)
                offset += size
        return values


_PLANS: dict[Any, _Plan] = {}
# A plan's first this many packs go through the host (see _Plan.pack_new), up to this
# many bytes of small arrays.
_HOST_PACKS = 2
_HOST_PACK_BYTES = 1 << 26


@functools.lru_cache(maxsize=8)
def _host_sharding(device: Any) -> Any:
    return jax.sharding.SingleDeviceSharding(device)


@functools.lru_cache(maxsize=64)
def _gather_jit(plan: _Plan, indices: tuple[int, ...]) -> Any:
    """One program copying the values ``indices`` out of ``plan``'s packed buffers."""
    def gather(buffers: list[Any]) -> list[Any]:
        values = plan.unpack(buffers)  # slices of the packed buffers: XLA keeps only these
        return [jnp.array(values[i], copy=True) for i in indices]
    return jax.jit(gather)


@functools.lru_cache(maxsize=256)
def _slice_jit(size: int, shape: tuple[int, ...]) -> Any:
    """A jitted copy of ``size`` elements at a traced offset, reshaped (one per shape)."""
    def read(buf: jax.Array, offset: jax.Array) -> jax.Array:
        if buf.size == size:
            return jnp.array(buf, copy=True).reshape(shape)
        return jax.lax.dynamic_slice(buf, (offset,), (size,)).reshape(shape)
    return jax.jit(read)


# The largest packed store (bytes) a training step takes without donating it when another
# program has read it, on the CPU backend (see CompiledFunction._keeping).  Not donating
# costs fresh outputs every step: measured to win for small stores (the probe's 32 KB),
# not established for large ones, which keep donating.
KEEP_SHARED_BYTES = 1 << 20

# The smallest buffer (bytes) a read between steps hands out as it is instead of copying it
# (see _Store.donor_buffers): copying 64 MiB costs as much as the wide layer's step.  Below
# it a copy is cheaper than the next call's search for aliases among the live arrays.
LEND_BYTES = 1 << 22
# Bytes of copying that searching one live array for aliases costs about as much as
# (~0.3 µs against ~2 GB/s on the project's CPU): past that many arrays, lent buffers are
# copied instead of searched for.
_SEARCH_BYTES_PER_ARRAY = 1024


def _aval_nbytes(aval: tuple) -> int:
    shape, dtype = aval
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


# How many arrays lived at the last search (refreshed at least every 64th), and searches
_LIVE = [0, 0]


def _aliased(buffers: list[Any], positions: list[int]) -> list[int]:
    """Those of the lent ``positions`` whose buffer another live array may share:
    ``jax.device_put(w, w's device)`` makes a new array over the same memory, which
    donating ``w`` would delete.  One pass over JAX's live arrays on their platform,
    without a host sync: pointers are compared only where both arrays are ready (an alias
    is ready when its source is); an unfinished lent buffer beside an unfinished array of
    its shape counts as aliased, and so does every one when so many arrays live that the
    search would cost more than copying (copied: correct)."""
    budget = sum(buffers[b].nbytes for b in positions) // _SEARCH_BYTES_PER_ARRAY
    _LIVE[1] += 1
    if _LIVE[0] > budget and _LIVE[1] % 64:  # (listing them costs ~0.2 µs each too)
        return list(positions)
    platform = next(iter(buffers[positions[0]].devices())).platform
    live = jax.live_arrays(platform)
    _LIVE[0] = len(live)
    if len(live) > budget:
        return list(positions)
    mine = set(map(id, buffers))  # (the store's own: its call may still be running)
    shapes = {buffers[b].shape for b in positions}
    candidates = [a for a in live
                  if a.shape in shapes and id(a) not in mine and not a.is_deleted()]
    found = []
    for b in positions:
        buf = buffers[b]
        # each candidate's readiness first: an unfinished lent buffer was unfinished then
        # too, and so was any alias of it (the same memory, the same event)
        same = [(a, a.is_ready()) for a in candidates
                if a.shape == buf.shape and a.dtype == buf.dtype]
        if not same:
            continue
        if not buf.is_ready():
            if not all(ready for _, ready in same):
                found.append(b)
            continue
        pointer = buf.unsafe_buffer_pointer()
        for a, _ in same:
            try:
                # (one still unfinished now that the lent buffer is done is no alias)
                if a.is_ready() and a.unsafe_buffer_pointer() == pointer:
                    found.append(b)
                    break
            except Exception:  # noqa: BLE001 - a sharded array has no single pointer
                found.append(b)
                break
    return found


class _Warming:
    """A program variant (``_keeping``'s, ``_hot_program``'s) whose XLA compile runs in a
    background thread, so the step that first wants it does not wait (a small CNN's
    train step after its first evaluation stalled 0.6-0.9 s for it on the project's CPU);
    until :meth:`done`, callers run the program they have.  It is lowered here, in the
    caller's thread (no new trace: the program's jaxpr is cached), and compiled there (XLA
    releases the GIL); the compile fills ``jitted``'s own cache, so its first call after
    is a plain call.  A compile that fails leaves that first call to compile (and raise)
    as it would have.  ``variant``: what the caller uses once done."""

    __slots__ = ("thread", "variant")

    def __init__(self, jitted: Any, call: tuple, variant: Any) -> None:
        self.variant = variant
        self.thread = None
        if not BACKGROUND_COMPILES:  # the variant's first call compiles it
            return
        try:
            lowered = jitted.lower(*call)
        except Exception:  # (unexpected) the variant's first call lowers it, and raises
            return

        def compile_in_background() -> None:
            try:
                lowered.compile()
            except Exception:  # the variant's first call compiles and raises it again
                return

        self.thread = threading.Thread(target=compile_in_background, daemon=True,
                                       name="jnn.compile: variant")
        _WARMING.add(self.thread)
        global _STARTED
        _STARTED += 1
        self.thread.start()

    def done(self) -> bool:
        thread = self.thread
        if thread is None:
            return True
        if thread.is_alive():
            return False
        _WARMING.discard(thread)
        return True

    @staticmethod
    def begin(jitted: Any, call: tuple, variant: Any) -> Any:
        """What to keep in a variant's slot: ``variant``, or its compile under way."""
        warming = _Warming(jitted, call, variant)
        return variant if warming.done() else warming

    @staticmethod
    def ready(slot: Any) -> Any:
        """The variant a slot holds, None while its compile runs."""
        if type(slot) is not _Warming:
            return slot
        return slot.variant if slot.done() else None


# Off: variants compile at their first call, in the caller's thread (the test suite's
# default, where which program ran must not depend on timing)
BACKGROUND_COMPILES = True


# Background compiles still running (joined at exit: a daemon thread inside XLA's
# compiler when the interpreter finalizes may abort the process)
_WARMING: set[threading.Thread] = set()


_STARTED = 0


def compiles_started() -> int:
    """How many background compiles started so far (benchmarks: has steady state come?)."""
    return _STARTED


def wait_for_compiles(timeout: float | None = None) -> None:
    """Wait for the program variants compiling in the background (tests; exit)."""
    for thread in list(_WARMING):
        thread.join(timeout)
        if not thread.is_alive():
            _WARMING.discard(thread)


atexit.register(wait_for_compiles, 120.0)


class _Store:
    """A compiled call's state, packed on the device, not yet written into the objects.

    ``materialized``: the objects hold copies of these values too (a read happened); the
    store stays the input of the next call until something writes an object.
    """

    __slots__ = ("layout", "plan", "buffers", "materialized", "cache", "bulk", "whole",
                 "shared", "reads", "hits", "maker", "handed", "lent", "offered")

    def __init__(self, layout: _Layout, plan: _Plan, buffers: list[Any],
                 previous: _Store | None = None) -> None:
        self.layout = layout
        self.plan = plan
        self.buffers = buffers
        self.materialized = False
        # Another program read these buffers (a read, an evaluation step): see _keeping
        self.shared = False
        # values already copied out, by kind and owner id (a state_dict() per step reads
        # 200 of them: one dict lookup each)
        self.cache: dict[str, dict[int, Any]] = _NO_READS  # (made at the first read)
        # The kinds of cell read whole from the store this one replaces (a state_dict()
        # per step): read whole on their first read here, without the single reads first.
        self.bulk: frozenset[str] = frozenset() if previous is None \
            or previous.layout is not layout else previous.whole
        self.whole: frozenset[str] = frozenset()
        # Which values were copied out of it after the call (lazy indices), and whether a
        # value its call handed out with it was read: what the next call of a steady loop
        # hands out with its store (CompiledFunction._next_hot)
        self.reads: frozenset[int] = frozenset()
        self.hits = False
        # id() of the CompiledFunction whose call made it (no reference: a pending
        # store must not keep a finished sweep trial's function alive)
        self.maker = 0
        self.handed = False  # its call handed values out with it
        # Positions of large buffers handed out as they are, not copied (a logged weight, a
        # state_dict(), as torch's reads alias the parameter): see donor_buffers
        self.lent: set[int] = _NOT_LENT
        # Large buffers its call handed out with it, by id: lent once a reader takes one
        self.offered: dict[int, int] = _NOT_OFFERED

    def handed_out(self, indices: tuple[int, ...], values: list[Any],
                   lend: frozenset = frozenset()) -> None:
        """Values the call copied out with its outputs (those a loop reads every step): a
        read of one is a dict lookup, with no program of its own.  ``values``: those of
        the cells among ``indices`` not in ``lend``, whose values are their buffers."""
        self.handed = True
        layout = self.layout
        if lend:
            it = iter(values)
            large = self.plan.large
            values = [self.buffers[large[i]] if i in lend else next(it) for i in indices]
            self.offered = {id(self.buffers[large[i]]): large[i] for i in lend}
        try:
            recipe = layout._handing[indices]
        except (AttributeError, KeyError):
            recipe = self._handing_recipe(indices)
        data, grads, k, self.whole = recipe
        # (indices are sorted: the weights come first, then the gradients; one logged
        # weight is the common case, and a dict display is 5x faster than dict(zip()))
        if grads:
            self.cache = {"data": dict(zip(data, values[:k])),
                          "grad": dict(zip(grads, values[k:]))}
        elif k == 1:
            self.cache = {"data": {data[0]: values[0]}, "grad": {}}
        else:
            self.cache = {"data": dict(zip(data, values)), "grad": {}}

    def _handing_recipe(self, indices: tuple[int, ...]) -> tuple:
        """How ``handed_out`` files the values of ``indices``: the owners' ids of the
        weights and of the gradients, how many weights, and which kinds are whole."""
        layout = self.layout
        recipes = getattr(layout, "_handing", None)
        if recipes is None:
            recipes = layout._handing = {}  # by indices (layouts are immutable)
        n_data, first_grad = len(layout.data), len(self.plan.avals) - layout.n_grads()
        data = tuple(id(layout.data[i]) for i in indices if i < n_data)
        grads = tuple(id(layout.grads[i - first_grad]) for i in indices if i >= n_data)
        whole = frozenset([*(["data"] if len(data) == n_data else []),
                           *(["grad"] if len(grads) == len(layout.grads) else [])])
        recipe = recipes[indices] = (data, grads, len(data), whole)
        return recipe

    def _lend(self, position: int) -> Any:
        """Buffer ``position`` itself, handed out as a value (no copy)."""
        if self.lent is _NOT_LENT:
            self.lent = set()
        self.lent.add(position)
        return self.buffers[position]

    def _copied_out(self, index: int) -> bool:
        """Whether a read of value ``index`` copies it (else its buffer is lent)."""
        position = self.plan.large.get(index)
        return position is None or self.buffers[position].nbytes < LEND_BYTES

    def donor_buffers(self) -> list[Any]:
        """The buffers for a call that donates them.  A large buffer lent to a reader that
        still holds it (``w = model.fc.weight.data`` kept across the step, or an alias of
        it, ``jax.device_put(w, its_device)``) is replaced by a copy, so the reader's array
        stays valid; one nobody holds any more (a logged norm, a dropped ``state_dict()``)
        is donated as it is: reading a large weight per step costs no copy of it."""
        if not self.lent:
            return self.buffers
        buffers = list(self.buffers)
        if any(buffers[b].is_deleted() for b in self.lent):
            self.lose_lent()
        unheld = []
        for b in self.lent:
            # the references a lent buffer has when nobody else holds it: self.buffers,
            # ``buffers`` here, its cache entry, and getrefcount's argument
            held = sys.getrefcount(buffers[b]) > 4
            buf = buffers[b]
            if held or len(buf.sharding.device_set) != 1:
                buffers[b] = jnp.array(buf, copy=True)
            else:
                unheld.append(b)
        if unheld:
            for b in _aliased(buffers, unheld):
                buffers[b] = jnp.array(buffers[b], copy=True)
        return buffers

    def lose_lent(self) -> None:
        """A lent buffer was deleted by someone else's program (``jax.jit(f,
        donate_argnums=0)(model.state_dict()[k])``): the newest state is gone.  Its
        objects raise from now on (a write, ``load_state_dict``, replaces that)."""
        message = ("a value read from it between compiled steps (a large weight, a "
                   "state_dict() value: it shares the memory of the newest state until the "
                   "next step) was donated to another program and deleted; copy a value "
                   "before donating it (jnp.array(v, copy=True))")
        self.layout.lose(message)
        _state.drop_pending(self)
        raise RuntimeError(f"jnn.compile: the state of this call's objects is lost: {message}")

    def read(self, owner: Any, kind: str) -> Any:
        """One object's newest value, sliced from the packed buffers; None if not here.

        Logging one weight per step costs one small slice, not an unpack of every cell;
        after a few distinct reads (``state_dict()``) the whole store is materialized.
        """
        if self.cache is _NO_READS:
            self.cache = {"data": {}, "grad": {}}
        cache = self.cache[kind]
        value = cache.get(id(owner))
        if value is not None:
            if not value.is_deleted():
                self.hits = True
                if self.offered:
                    position = self.offered.get(id(value))
                    if position is not None:
                        self._lend(position)
                return value
            # an earlier read's value, donated by the script to its own program: a copy
            # is made again; a lent buffer was the newest state itself
            del cache[id(owner)]
        index = self.layout.index_of(owner, kind)
        if index is None:
            return None
        if self.lent and any(self.buffers[b].is_deleted() for b in self.lent):
            self.lose_lent()
        # Concrete even when the read happens inside someone's trace (a plain jax.jit
        # reading a weight after a compiled step): the stored value is data, and a traced
        # copy would hide the "not threaded" error and leak.
        with jax.ensure_compile_time_eval():
            if kind in self.bulk or self._reads_of(kind) >= _PARTIAL_READS:
                # Many reads of one kind (a state_dict() per step reads every weight): copy
                # all the cells of that kind out in one program; the store stays packed.
                self._read_all(kind)
                return cache[id(owner)]
            self.reads = self.reads | {index}
            if not self._copied_out(index):
                value = cache[id(owner)] = self._lend(self.plan.large[index])
                return value
            self.shared = True
            try:
                value = self.plan.read(self.buffers, index)
            except Exception as error:  # the call that made these buffers failed
                self.layout.lose(f"{type(error).__name__}: {error}")
                raise _failed_after_return() from error
        cache[id(owner)] = value
        return value

    def owner_of(self, value: Any, kind: str) -> Any:
        """The object whose copied-out ``kind`` value ``value`` is, or None."""
        for key, cached in self.cache[kind].items():
            if cached is value:
                owners = self.layout.data if kind == "data" else self.layout.grads
                return next((o for o in owners if id(o) == key), None)
        return None

    def _reads_of(self, kind: str) -> int:
        """How many values of ``kind`` were copied out of this store one by one."""
        n_data = len(self.layout.data)
        return sum(1 for i in self.reads if (i < n_data) == (kind == "data"))

    def read_whole(self, kind: str) -> None:
        """Copy every cell of ``kind`` out now, in one program (a ``state_dict()`` is
        about to read them all)."""
        if kind in self.whole:
            return
        if self.cache is _NO_READS:
            self.cache = {"data": {}, "grad": {}}
        with jax.ensure_compile_time_eval():
            self._read_all(kind)

    def _read_all(self, kind: str) -> None:
        n_data, n_lazy = len(self.layout.data), len(self.plan.avals)
        owners = self.layout.data if kind == "data" else self.layout.grads
        indices = (tuple(range(n_data)) if kind == "data"
                   else tuple(range(n_lazy - self.layout.n_grads(), n_lazy)))
        self.reads = self.reads | set(indices)
        large = self.plan.large
        copy = tuple(i for i in indices if self._copied_out(i))
        if copy:
            self.shared = True
            try:
                copied = iter(_gather_jit(self.plan, copy)(self.buffers))
            except Exception as error:  # the call that made these buffers failed
                self.layout.lose(f"{type(error).__name__}: {error}")
                raise _failed_after_return() from error
        values = [next(copied) if i in copy else self._lend(large[i]) for i in indices]
        self.cache[kind].update(zip(map(id, owners), values))
        self.whole = self.whole | {kind}

    def refresh(self, layout: _Layout) -> bool:
        """Copy into ``layout``'s cells the newest values this store holds for them, in one
        program, and keep the store (its other cells stay packed).  For a read-only call
        (an evaluation step) between training steps: only the weights it reads come out.
        False where ``layout`` has cells this cannot place (optimizer state)."""
        if self.materialized:
            return True
        if layout.ostates or layout.items:
            return False
        cells = [(p, "data") for p in layout.data] + [(p, "grad") for p in layout.grads]
        found = [(owner, kind, self.layout.index_of(owner, kind)) for owner, kind in cells]
        found = [(owner, kind, i) for owner, kind, i in found if i is not None]
        if not found:
            return True
        self.shared = True
        try:
            with jax.ensure_compile_time_eval():  # concrete inside another's trace too
                values = _gather_jit(self.plan, tuple(i for _, _, i in found))(self.buffers)
        except Exception as error:  # the call that made these buffers failed
            self.layout.lose(f"{type(error).__name__}: {error}")
            raise _failed_after_return() from error
        for (owner, kind, _), value in zip(found, values):
            if kind == "data":
                owner._value = value
            else:
                owner._gradient = value
        return True

    def materialize(self, release: bool = False) -> None:
        """Write the values back into the objects; ``release``: the store is dropped after
        (a writer's flush), so its buffers are donated and nothing is copied."""
        if self.materialized:
            return
        # Concrete even inside someone's trace (a plain jax.jit that writes or reads state
        # after compiled steps): the stored values are data; traced copies scattered into
        # the objects would outlive that trace.
        if release and any(self.buffers[b].is_deleted() for b in self.lent):
            try:  # (a write is what flushes it: that write goes on, over the lost state)
                self.lose_lent()
            except RuntimeError:
                self.materialized = True
                return
        try:
            if release:
                with warnings.catch_warnings(), jax.ensure_compile_time_eval():
                    # (packed buffers have no output to alias)
                    warnings.filterwarnings("ignore", "Some donated buffers were not usable")
                    values = self.plan.unpack_donated(self.donor_buffers())
            else:
                self.shared = True
                with jax.ensure_compile_time_eval():
                    values = self.plan.unpack_jit(self.buffers)
        except Exception as error:  # the call that made these buffers failed on the device
            self.layout.lose(f"{type(error).__name__}: {error}")
            raise _failed_after_return() from error
        self.layout.scatter_lazy(values)
        self.materialized = True


def _failed_after_return() -> RuntimeError:
    return RuntimeError(
        "jnn.compile: a compiled call failed after it returned (an error on the device "
        "surfaced only now); the state it carried is lost and reading it raises from now on"
    )


# -- the compiled function -------------------------------------------------------------------


class _Entry:
    """One traced program and what its outputs mean."""

    __slots__ = ("jitted", "out_recipe", "out_layout", "in_layout", "out_plan", "out_static",
                 "out_treedef", "cleared", "compiled", "read_only", "warm", "composed", "keep",
                 "stepped", "hot", "flags", "donated", "synced")

    def __init__(self) -> None:
        self.compiled = False  # called once: XLA compiled it (a jax.eval_shape does not)
        # The program runs host callbacks (jax.debug.callback, io_callback, pure_callback):
        # each call waits for it, so that a callback's exception is raised by the call
        # that ran it, before anything is written back (see _runs_host_callbacks).
        self.synced = False
        # The program writes no lazy cell (an evaluation step): its packed outputs are the
        # inputs again, so a call keeps another function's pending store instead of
        # replacing it (alternating a train and an eval step re-packs nothing).
        self.read_only = False
        self.jitted: Any = None
        self.donated: tuple[int, ...] = ()  # its argument positions that are donated
        # The cells the program leaves, for whichever same-shaped objects call it: None (the
        # input's cells), or a recipe for the input layout (``_Layout.with_recipe``), or
        # (``out_recipe`` None, ``out_layout`` set) the traced objects' own layout where no
        # recipe can say it (new parameters): then the entry serves those objects only.
        self.out_recipe: tuple | None = None
        self.out_layout: _Layout | None = None
        self.in_layout: _Layout | None = None
        self.out_plan: _Plan | None = None
        self.out_static: list[Any] = []
        self.out_treedef: Any = None
        # .grad cells the program cleared (zero_grad() inside it), as positions among the
        # input layout's parameters: set to None after a call
        self.cleared: tuple[int, ...] = ()
        # A first training step's program, only traced abstractly: its output cells say
        # which placeholders let the steady program run instead (see _warm_start)
        self.warm = False
        # A read-only program composed with a training store's unpacking (_call_from)
        self.composed: dict[tuple, Any] = {}
        # The program without donation, for stores other programs read (_keeping)
        self.keep: Any = None
        # Positions (among the roots) of the optimizers whose step() the trace ran
        self.stepped: tuple[int, ...] = ()
        # The programs that also hand out copies of some cells (_hot_program), by indices
        self.hot: dict[tuple, Any] = {}
        # The training / requires_grad flags its trace changed (_Flags.changes), replayed
        # after every call; None: none
        self.flags: tuple | None = None

    def serves(self, layout: _Layout) -> bool:
        in_layout = self.in_layout
        return in_layout is None or in_layout is layout or (
            in_layout.key == layout.key and in_layout.same_owners(layout))

    def result(self, out_arrays: list) -> Any:
        """The traced function's return value: its arrays from the program, the rest as
        the trace saw it."""
        if self.out_static is _ONE_ARRAY:  # the common step: it returns the loss
            return out_arrays[0]
        it = iter(out_arrays)
        return jax.tree_util.tree_unflatten(
            self.out_treedef, [next(it) if s is _ARRAY else s for s in self.out_static])

    def output_layout(self, layout: _Layout) -> _Layout:
        if self.out_recipe is not None:
            return layout.with_recipe(self.out_recipe)
        return layout if self.out_layout is None else self.out_layout


# Programs kept per compiled function (torch.compile's cache_size_limit is 8 re-compiles);
# the oldest is dropped, with the objects it holds, so a sweep that rebinds `model` per
# trial does not keep every trial alive.  Past _RETRACE_WARNING traces, each new one warns.
_MAX_ENTRIES = 16
_RETRACE_WARNING = 8


class CompiledFunction:
    """The callable ``jnn.compile(fn)`` returns.

    ``trace_count`` counts Python traces of ``fn`` (including the abstract one that learns
    what a first training step creates); ``compile_count`` counts XLA programs compiled.
    """

    _lifts = True  # arrays read from variables are inputs (see _python_values)

    def __init__(self, fn: Callable[..., Any], *, donate: bool = True,
                 state: tuple | None = None, checks: bool = False) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.checks = checks
        # checked steps raise before committing: their inputs must survive the call
        self.donate = donate and not checks
        self.trace_count = 0
        self.compile_count = 0
        self._explicit = None if state is None else _explicit_roots(state)
        self._adopted: tuple = ()  # roots taken over from a function sharing objects
        # (this function's layout, the other's) where the two hold the same cells
        self._twin: tuple[_Layout, _Layout] | None = None
        self._entries: OrderedDict[Any, _Entry] = OrderedDict()
        self._last_key: Any = None
        self._fast: Any = None
        # Where the change log stood when the fast key was taken, and the ids of every
        # object a change to which concerns this function (see _elsewhere_only)
        self._seen = -1
        self._watch: frozenset = frozenset()
        self._found: frozenset = frozenset()  # ids of the objects discovery found
        self._discoveries = 0
        self._roots: list[Any] = []
        self._layout: _Layout | None = None
        self._store: _Store | None = None
        self._read_only = False  # the last call's program wrote no lazy cell
        self._specs: tuple = ()
        self._module_roots: tuple = ()  # the roots that are Modules (their specs: _specs)
        self._spec_version = -1
        self._groups: list[tuple[Optimizer, dict]] = []
        self._array_treedefs: dict[int, Any] = {}
        self._ctx: tuple | None = None  # (layout, call leaves) while a call runs
        self._root_pos: dict[int, int] = {}
        self._free_values: tuple = ()
        # arrays fn reads from variables, containers and plain objects: program inputs, the
        # places they are read from ((where, key), label), and their last shapes and dtypes
        self._lifted: tuple = ()
        self._lift_labels: set[str] = set()  # places seen holding another array: inputs
        self._array_marks: dict[str, Any] = {}  # the other arrays' watch values
        self._lifted_copies: list = []
        self._lifted_avals: list | None = None
        self._guessed: list[int] | None = None  # lazy positions a traced guess must write
        # The last steady call, for the next one's short path (see _call_again)
        self._memo: tuple | None = None
        self._group_lists: list[tuple[Any, tuple]] = []  # (optimizer, its param groups)
        # _state.versions.groups when a steady call last found the groups and options
        # unchanged, with every group versioned (-1: check in full)
        self._groups_seen = -1
        self._group_params: list[tuple] = []  # (group, g["params"], its parameters)
        self._rehooked: list[Module] | tuple = ()  # hooks the last trace added or removed
        self._flag_walk: tuple | None = None  # (key, modules, params) for _replay
        # the cells the steady program hands out with its store, and what decides them
        # (_next_hot): (entry, sorted lazy indices)
        self._hot: tuple = (None, ())
        self._hot_reads: frozenset = _NO_CELLS
        self._hot_streak = 0
        self._hot_idle = 0
        self._bound: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        code_fn = getattr(fn, "__func__", fn)  # a bound method: its function's names
        self._code_fn = code_fn
        self._cells: tuple = getattr(code_fn, "__closure__", None) or ()
        # (the raw ids of what the variables held at the last closure check that matched,
        # and the key it matched: an unchanged closure is one C-level scan, _closure_same)
        self._closure_raw: tuple = ((), None)
        code = getattr(code_fn, "__code__", None)
        self._global_names = tuple(sorted(_code_names(code))) if code is not None else ()
        # attribute names its code reads (with the globals: co_names holds both)
        self._attribute_names = frozenset(self._global_names)
        self._attr_watch: tuple = ()  # (object __dict__, attribute) pairs (_python_values)
        self._impure: tuple = ()  # what it reads that draws anew per call (_draws_anew)
        self._impure_warned: set = set()
        self._loaded_names = (tuple(sorted(_loaded_globals(code))) if code is not None
                              else ())

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """``@jnn.compile`` on a method: one compiled function (one cache) per instance."""
        if obj is None:
            return self
        bound = self._bound.get(obj)
        if bound is None:
            bound = CompiledFunction(types.MethodType(self.fn, obj), donate=self.donate,
                                     checks=self.checks)
            bound._explicit = self._explicit
            self._bound[obj] = bound
        return bound

    def _walk_from(self) -> Any:
        """Where discovery starts: the function (a subclass may start elsewhere)."""
        return self.fn

    def _closure_ids(self) -> tuple:
        # The variables fn names can be rebound between calls (``model = Net()``): their
        # identities are part of the fast check, so new objects are discovered afresh.
        # (arrays are watched by _python_values, and once changed are program inputs,
        # ``_lifted``: a new batch in a variable is no new object to discover)
        cells = self._cells
        try:
            out = tuple(map(_object_id, map(_CELL_CONTENTS, cells)))
        except ValueError:  # an empty cell (a variable assigned later in the outer scope)
            out = tuple(_object_id(c.cell_contents) if _cell_filled(c) else 0 for c in cells)
        names = self._loaded_names  # (not attribute names: `opt.step` vs `for step in ...`)
        if names:
            out += tuple(map(_object_id, map(self._code_fn.__globals__.get, names)))
        return out

    def _closure_same(self, expected: tuple) -> bool:
        """Whether ``_closure_ids()`` still equals ``expected``: first by the raw ids of
        what the variables hold (the same objects, arrays included, as at the last check
        that matched), else by the ids themselves."""
        names = self._loaded_names
        try:
            raw = tuple(map(id, map(_CELL_CONTENTS, self._cells)))
        except ValueError:  # an empty cell
            raw = None
        if raw is not None and names:
            raw += tuple(map(id, map(self._code_fn.__globals__.get, names)))
        last, matched = self._closure_raw
        if raw == last and matched is expected:
            return True
        if self._closure_ids() != expected:
            return False
        if raw is not None:
            self._closure_raw = (raw, expected)
        return True

    def _python_values(self) -> tuple:
        """The plain Python values (numbers, strings, tuples of them) ``fn`` reads from its
        closure and the globals it names: compiled in as constants, so part of the key
        (rebinding ``scale = 0.7`` re-traces instead of running with the old 0.5).  So are
        those of the functions it calls through them (a loss closure) and the plain
        attributes it reads of its own objects (``cfg.scale``, a trainer's ``self.scale``):
        no variable is rebound when those change, so the fast check watches them."""
        fn = self._code_fn
        if getattr(fn, "__code__", None) is None:
            return ()
        out: list[tuple[str, Any]] = []
        watch: list[tuple[Any, str | None]] = []  # (cell, None) or (dict, key)
        lifted: list[tuple[tuple[Any, Any], str]] = []
        holders: list[tuple[str, Any]] = []
        attributes = set(self._attribute_names)
        seen: set[int] = set()

        marks = self._array_marks
        new_marks: dict[str, Any] = {}
        impure: list[str] = []  # Python randomness it reads (_draws_anew)
        iterators: list[str] = []  # iterators it reads: drawn from where it calls next()

        def lift(label: str, value: Any, place: tuple | None) -> bool:
            # An array it reads (`PRIOR`, `cfg.class_weights`, a batch in a global) is a
            # constant of the program, keyed and watched by identity (and a small numpy
            # array by its bytes); once one has changed it is an input of the program,
            # read afresh at every call (`_lifted`): never stale, and re-traced once.
            if place is None or not self._lifts or isinstance(value, jax.core.Tracer):
                return False
            if type(value) is tuple and any(isinstance(v, (jax.Array, np.ndarray))
                                            for v in value):
                # (a tuple cannot hold the program's inputs while it is traced: a new one
                # re-traces; the recompile warning names it)
                out.append((label, ("tuple", _pytree._Identity(value))))
                watch.append(place)
                return True
            if not isinstance(value, (jax.Array, np.ndarray)):
                return False
            mark = _value_at(*place)
            if isinstance(place[0], types.MappingProxyType):  # a class attribute: keyed only
                out.append((label, ("array", mark)))
                watch.append(place)
                return True
            # (an eager closure compiled behind the user's back never keeps a constant)
            if label in self._lift_labels or self._lifts == "nested" or (
                    label in marks and marks[label] != mark):
                self._lift_labels.add(label)
                if all(p[0] is not place[0] or p[1] != place[1] for p, _ in lifted):
                    lifted.append((place, label))
                    out.append((label, "lifted array"))
            else:
                new_marks[label] = mark
                out.append((label, ("array", mark)))
                watch.append(place)
            return True

        def found(label: str, value: Any, where: tuple | None, depth: int,
                  place: tuple | None) -> None:
            kind = _draws_anew(value)
            if kind is not None:
                (impure if kind == "random" else iterators).append(label)
                return
            if lift(label, value, place):
                return
            if _is_plain_value(value):
                out.append((label, _pytree._static_key(value)))
                if where is not None:
                    watch.append(where)
            elif isinstance(value, types.FunctionType):
                # which function it is (`ACT = gelu` rebound re-traces), then what it reads
                out.append((label, _callable_key(value)))
                if where is not None:
                    watch.append(where)
                visit(value, label + ".", depth + 1)
            elif isinstance(value, types.MethodType):
                # `loss_fn = trainer.compute_loss`: what it reads of its object
                out.append((label, _callable_key(value)))
                if where is not None:
                    watch.append(where)
                if _is_plain_object(value.__self__):
                    holders.append((label + ".__self__", value.__self__, True))
                if isinstance(value.__func__, types.FunctionType):
                    visit(value.__func__, label + ".", depth + 1)
            elif isinstance(value, functools.partial):
                found(label + ".func", value.func, None, depth, None)
            elif isinstance(value, (dict, list)) or _is_plain_object(value) or (
                    _is_config_class(value)):
                # `hparams["beta"]`, `CURRICULUM[0]`, `cfg.scale`, `class CFG: alpha = 1`:
                # walked once every attribute name the code reads is known
                if _is_plain_object(value):  # (a callable object swapped for another kind)
                    out.append((label + ".__class__", _callable_key(type(value))))
                holders.append((label, value, True))
                if where is not None:
                    watch.append(where)  # (replaced by another: walked again)

        def visit(f: types.FunctionType, prefix: str, depth: int) -> None:
            top = depth == 0
            if id(f) in seen or depth > 2 or (
                    not top and _library(f)):
                return
            seen.add(id(f))
            code = f.__code__
            if not top:
                attributes.update(_code_names(code))
            attributes.update(_code_strings(code))  # getattr(cfg, "bias", 0.0)
            for name, cell in zip(code.co_freevars, f.__closure__ or ()):
                try:
                    value = cell.cell_contents
                except ValueError:
                    continue
                # (the top function's cells are in the fast key by identity already)
                found(prefix + name, value, None if top else (cell, None), depth,
                      None if top and own_inputs else (cell, None))
            g = f.__globals__
            loaded = self._loaded_names if top else _loaded_globals(code)
            for name in loaded:
                found(name, g.get(name, _ARRAY), None if top else (g, name), depth,
                      None if top and own_inputs else (g, name))
            if "random" in code.co_names:
                cells = dict(zip(code.co_freevars, f.__closure__ or ()))

                def value_of(name: str) -> Any:
                    cell = cells.get(name)
                    try:
                        return cell.cell_contents if cell is not None else g.get(name)
                    except ValueError:
                        return None

                if _numpy_random_used(code, value_of):
                    impure.append(f"{prefix}np.random")  # `np.random.rand()`

        # (an eager closure's own variables and globals are its program's arguments)
        own_inputs = self._lifts == "nested"
        visit(fn, "", 0)
        # the forward of each model class of the user's (a global `SCALE` it reads), and
        # the methods of those classes and of the plain objects it reads whose names the
        # code reads (`model.temperature_scaled(x)`, a trainer's `self.loss(...)`)
        owner = getattr(self.fn, "__self__", None)  # a method's object: `self.scale`
        if owner is not None and _is_plain_object(owner):
            holders.append(("self", owner, True))
        # what the models' forward hooks read (a global scale, a callable hook's attribute)
        for r in self._roots:
            if isinstance(r, Module):
                for m in r.modules():
                    d = m.__dict__
                    for hooks in (d["_forward_pre_hooks"], d["_forward_hooks"]):
                        for hook in hooks.values():
                            found(f"{type(m).__name__}.hook", hook, None, 0, None)
        models = {type(m): None for r in self._roots if isinstance(r, Module)
                  for m in r.modules() if not _library(type(m))}
        # class attributes its models read (`self.TEMP`, set as `Net.TEMP = 2`)
        holders.extend((cls.__name__, cls, True) for cls in models)
        classes = {**models, **{type(h): None for _, h, _ in holders
                                if _is_plain_object(h) and not _library(type(h))}}
        for cls in classes:
            for name in ("forward", "__call__"):  # (a callable loss or hook object)
                method = cls.__dict__.get(name)
                if isinstance(method, types.FunctionType):
                    visit(method, f"{cls.__name__}.{name}.", 1)
        for _ in range(3):  # (a method found names the methods it calls)
            for cls in classes:
                for name in sorted(attributes):
                    method = getattr(cls, name, None)
                    if isinstance(method, types.FunctionType) and id(method) not in seen:
                        visit(method, f"{cls.__name__}.{name}.", 1)
            # the plain objects those hold (a trainer's `self.kl.weight()`): their classes'
            # methods say which of their attributes are read
            more = {type(o): None for o in _held_objects([h for _, h, _ in holders],
                                                         attributes)
                    if not _library(type(o)) and type(o) not in classes}
            if not more:
                break
            classes.update(more)
        # the containers and config objects models hold (`self.config.temperature` read
        # in forward): their plain values are the spec's, which keys them by identity
        for root in self._roots:
            if isinstance(root, Module):
                holders.extend((type(m).__name__, m, False) for m in root.modules())
        walked: set[int] = set()

        def walk(label: str, holder: Any, depth: int, own: bool) -> None:
            # the values read through a container or a plain object, down to `_WALK_DEPTH`
            # levels: `hp["loss"]["alpha"]`, `self.hparams["kl"]`, `cfg.sub.alpha`
            if id(holder) in walked:
                return
            walked.add(id(holder))
            if own:  # an item or attribute added later (`hp.get("l2", 0.0)`) is seen
                watch.append((holder if isinstance(holder, (dict, list))
                              else holder.__dict__, _SIZE))
            if isinstance(holder, (dict, list)):
                if len(holder) > _WATCHED_ITEMS:
                    if not isinstance(holder, dict):
                        return
                    # (a large dict, a flattened config: the keys the code names)
                    items = [(k, holder[k]) for k in attributes.intersection(holder)]
                else:
                    items = [(k, v) for k, v in (holder.items() if isinstance(holder, dict)
                                                 else enumerate(holder))
                             if isinstance(k, (str, int))]
                where = holder
                names = [f"{label}[{k!r}]" for k, _ in items]
            else:
                where = holder.__dict__
                items = [(a, where[a]) for a in attributes.intersection(where)]
                names = [f"{label}.{a}" for a, _ in items]
            for (k, v), name in zip(items, names):
                # `self.rng.random()`, `next(self.batches)`, `hp["rng"]`: only what the code
                # names (not every item of a container it reads one item of)
                kind = _draws_anew(v) if where is not holder or k in attributes else None
                if kind is not None:
                    (impure if kind == "random" else iterators).append(name)
                    continue
                if own and lift(name, v, (where, k)):
                    continue
                if own and _is_plain_value(v):
                    out.append((name, _pytree._static_key(v)))
                    watch.append((where, k))
                elif own and isinstance(v, (types.FunctionType, types.MethodType)):
                    out.append((name, _callable_key(v)))  # `cfg["act"] = gelu` re-traces
                    watch.append((where, k))
                elif depth < _WALK_DEPTH and (isinstance(v, (dict, list))
                                              or _is_plain_object(v)):
                    watch.append((where, k))  # (a new dict of batches each step is seen)
                    walk(name, v, depth + 1, True)

        for label, holder, own in holders:
            walk(label, holder, 0, own)
        self._attr_watch = tuple(watch)
        if "next" in attributes or "__next__" in attributes:
            impure += iterators
        self._impure = tuple(dict.fromkeys(impure))
        self._array_marks = new_marks
        self._lifted = tuple(lifted)
        self._lifted_copies = [None] * len(lifted)
        return tuple(out)

    def _reads_impure(self) -> None:
        """It reads Python randomness or an iterator: drawn once, at the trace, and compiled
        in (torch.compile draws per call).  Said once per such value."""
        new = [label for label in self._impure if label not in self._impure_warned]
        if not new:
            return
        self._impure_warned.update(new)
        warnings.warn(
            f"jnn.compile: {getattr(self.fn, '__qualname__', self.fn)!r} reads "
            f"{', '.join(f'`{n}`' for n in new)}: Python random numbers (or an iterator's "
            "next item) are drawn once, when the function is traced, and compiled in as "
            "constants: every call sees the same value. Draw them with jnn (jnn.rand, "
            "jnn.randint, jnn.bernoulli, nn.Dropout) inside the function, or outside it "
            "and pass them as arguments.", TraceTimeValueWarning, stacklevel=5)

    def _lifted_values(self) -> list | None:
        """The arrays at the lifted places now (numpy ones on the device), or None when
        one no longer holds an array (rediscover)."""
        values = []
        for i, ((where, key), _) in enumerate(self._lifted):
            value = _raw_at(where, key)
            if type(value) is np.ndarray:
                if value.nbytes > _LIFT_COPY_BYTES:
                    # a large numpy array (a dataset): copied to the device once per array
                    # object; changing it in place is not seen (documented)
                    kept = self._lifted_copies[i]
                    if kept is None or kept[0] is not value:
                        kept = self._lifted_copies[i] = (value, jnp.asarray(value))
                    value = kept[1]
                else:  # copied at every call: changed in place, it is read anew
                    value = jnp.asarray(value)
            elif not isinstance(value, jax.Array) or isinstance(value, jax.core.Tracer):
                return None
            values.append(value)
        return values

    def _attribute_values(self) -> tuple:
        return tuple(_value_at(where, key) for where, key in self._attr_watch)

    def _fast_key(self, objects: tuple) -> tuple:
        st = _state.state
        closure = () if self._explicit is not None else self._closure_ids()
        return (st.structure_version, st.cells_version, closure, objects, st.grad_enabled,
                self._attribute_values() if self._attr_watch else ())

    def _set_fast(self, objects: tuple) -> None:
        self._seen = _state.log_position()  # (first: a change meanwhile is seen next time)
        self._fast = self._fast_key(objects)

    def _elsewhere_only(self, objects: list) -> bool:
        """Structure versions per root: were the changes since the fast key was taken all
        to objects this function does not thread (another model's ``requires_grad``, hooks,
        train()/eval(), a ``.grad`` created by an eager step)?  Then its discovered objects,
        layout and specs still hold: the fast key and spec version move on, and it keeps
        its short path.  The caller has checked the key's other parts.

        The changed objects may have been put where the function reaches them meanwhile
        (``holder["model"] = new_model``: no variable is rebound), so discovery's walk runs
        again (cheap beside a rediscovery) and must find the same objects."""
        versions = _state.versions
        structure, cells, spec = versions.structure, versions.cells, versions.spec
        end = _state.unrelated_since(self._seen, self._watch)
        if end is None:
            return False
        if self._explicit is None and frozenset(
                map(id, _find_roots(self._walk_from(), objects))) != self._found:
            return False
        self._seen = end
        self._fast = (structure, cells, *self._fast[2:])
        self._spec_version = spec
        return True

    def _discover(self, objects: list[Any]) -> None:
        self._discoveries += 1
        _state.install_sigint_guard()  # (again if the user installed another handler)
        _state.materialize()  # the walk reads the objects' raw slots
        if self._explicit is not None:
            self._roots = list({id(o): o for o in (*self._explicit, *objects)}.values())
        else:
            found = _find_roots(self._walk_from(), objects)
            self._found = frozenset(map(id, found))
            # another compiled function's roots, adopted first (see _adopt): the two then
            # thread the same cells in the same order and hand their stores over.  Kept
            # while the function still reaches some of them (not once a sweep rebinds its
            # variables to a new trial's objects: those of the last trial are let go).
            ids = {id(o) for o in found if not isinstance(o, Generator)}  # (always one)
            if not any(id(r) in ids for r in self._adopted):
                self._adopted, self._twin = (), None
            self._roots = list({id(o): o for o in (*self._adopted, *found)}.values())
        self._layout = _Layout(self._roots)
        self._root_pos = {id(r): i for i, r in enumerate(self._roots)}
        self._free_values = self._python_values()
        if self._impure:
            self._reads_impure()
        self._lifted_avals = None
        self._module_roots = tuple(m for m in self._roots if isinstance(m, Module))
        self._specs = tuple(map(_pytree.spec_of, self._module_roots))
        self._spec_version = _state.versions.spec
        self._groups = [(opt, g) for opt in self._roots if isinstance(opt, Optimizer)
                        for g in opt.param_groups]
        self._group_lists = [(opt, tuple(opt.param_groups)) for opt in self._roots
                             if isinstance(opt, Optimizer)]
        self._groups_seen = -1  # (checked in full at the next steady call)
        self._group_params = [(g, g.get("params"), tuple(g.get("params", ())))
                              for _, g in self._groups]
        # the optimizers' step hooks run at the trace: which ones is part of the program's
        # key (registering or removing one is a structural change, so this is read anew)
        self._hooks_key = (tuple(_optim_hooks._global_optimizer_pre_hooks),
                           tuple(_optim_hooks._global_optimizer_post_hooks),
                           *((tuple(o._optimizer_step_pre_hooks),
                              tuple(o._optimizer_step_post_hooks))
                             for o in self._roots if isinstance(o, Optimizer)))
        watch = {*map(id, self._roots), *map(id, self._layout.data)}
        for root in self._roots:
            if isinstance(root, Module):
                watch.update(map(id, root.modules()))
        self._watch = frozenset(watch)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _state.state.compile_depth and self.fn is not None:
            # called while another compiled function is traced (an eval step inside a
            # train step): part of that program, as torch.compile inlines it
            return self.fn(*args, **kwargs)
        # One thread at a time: a trace swaps tracers into shared objects (the global
        # generator), which another thread's gather must never see.  Only the Python side
        # is serialised; the device work of a call is dispatched asynchronously.
        with _state.LOCK:
            try:
                if threading.get_ident() != _state.MAIN_THREAD:
                    return self._call(args, kwargs)
                # Ctrl-C is held from dispatch to write-back (see _state.SIGINT_GUARD); the
                # function's traces re-open it (``program``).
                guard = _state.SIGINT_GUARD
                guard.depth += 1
                try:
                    return self._call(args, kwargs)
                finally:
                    guard.depth -= 1
                    if not guard.depth and guard.caught is not None:
                        _state.release_sigint()
            except Exception as error:  # raised through jax.jit/eval_shape: torch's text
                _state.drop_jax_note(error)
                mismatch = mismatch_error(error)  # arrays on two devices: torch's
                if mismatch is not None:
                    raise mismatch from None
                raise

    def _call(self, args: tuple, kwargs: dict) -> Any:
        memo = self._memo
        if memo is not None and not kwargs:
            # a training step's memo has 8 entries; an evaluation step's (beside another
            # function's store) adds that store's layout and its own plan
            out = (self._call_again(memo, args) if len(memo) == 8
                   else self._eval_again(memo, args))
            if out is not _MISS:
                return out
        st = _state.state
        if not kwargs and all(isinstance(a, jax.Array) for a in args):  # the common case
            leaves = list(args)
            treedef = self._array_treedefs.get(len(args))
            if treedef is None:
                treedef = jax.tree_util.tree_structure((args, {}))
                self._array_treedefs[len(args)] = treedef
        else:
            leaves, treedef = jax.tree_util.tree_flatten((args, kwargs), is_leaf=_is_leaf)
        is_array = tuple(isinstance(x, (jax.Array, np.ndarray)) for x in leaves)
        if not all(is_array) and self._lifts != "nested":  # (a closure's: its cells)
            # a generator passed as an argument (`step(x, rng)`) is static: drawn once
            drawn = [f"argument {i} ({type(x).__name__})" for i, x in enumerate(leaves)
                     if not is_array[i] and _draws_anew(x) == "random"]
            if drawn:
                self._impure = tuple(dict.fromkeys((*self._impure, *drawn)))
                self._reads_impure()
        objects = tuple(id(x) for x in leaves if _is_argument_state(x))
        fast = self._fast_key(objects)
        if (fast != self._fast and (self._fast is None or fast[2:] != self._fast[2:]
                                    or not self._elsewhere_only(
                                        [x for x in leaves if _is_argument_state(x)]))
                or not self._same_groups()):
            self._discover([x for x in leaves if _is_argument_state(x)])
            self._set_fast(objects)
        elif _state.versions.spec != self._spec_version:  # train()/eval(): same cells
            seen = _state.log_position()
            self._specs = tuple(map(_pytree.spec_of, self._module_roots))
            self._spec_version = _state.versions.spec
            self._seen = seen  # (spec changes alone since: all re-read now)
        layout = self._layout
        store = self._store
        from_store = store is not None and store.layout is layout and store in st.pending
        if not from_store and layout.ostates and not layout.states_present():
            # The optimizer's state was reset by hand (`opt.state = defaultdict(dict)`,
            # `opt.state.clear()`, `del opt.state[p]`; reading `opt.state` wrote the store
            # back first): learn its cells again; the next step starts them afresh, as torch.
            _state.bump_cells(frozenset(id(o) for o, _, _ in layout.ostates))
            self._discover([x for x in leaves if _is_argument_state(x)])
            self._set_fast(objects)
            layout = self._layout
        source = None
        if from_store:  # the fast path: state already packed
            plan, packed = store.plan, store.donor_buffers() if self.donate else store.buffers
        else:
            # The stores that hold this function's objects (its own old one included).
            ids = layout.owner_ids()
            holding = [s for s in st.pending
                       if s is store or not s.layout.owner_ids().isdisjoint(ids)]
            if (self._read_only and len(holding) == 1 and not self.checks
                    and not layout.ostates and not layout.items):
                # An evaluation step beside a training step's store: its program may take
                # that store's buffers directly (``_call_from``, once the key is known); the
                # objects' stale slots give the same shapes meanwhile.
                source = holding[0]
            elif self._read_only and holding:
                # An evaluation step: the training step's store stays pending; only the
                # cells this program reads come out of it.
                with _state.LOCK:
                    for pending in holding:
                        if not pending.refresh(layout):
                            _state.materialize_store(pending)
            elif len(holding) == 1 and _same_cells(holding[0].layout, layout):
                # Another compiled function's store of these very cells (a GAN's generator
                # and discriminator steps, each threading both models): take it over.
                store, from_store = holding[0], True
            elif holding:
                # Write back what this call reads; other models' stores stay packed.
                _state.flush_stores(holding)
                # (a function known to write: an evaluation step only reads, and adopting a
                # training step's optimizer would make it thread state it never touches)
                if self._entries and not self._read_only and self._adopt(holding):
                    self._discover([x for x in leaves if _is_argument_state(x)])
                    self._set_fast(objects)
                    layout = self._layout
            if from_store:
                plan = store.plan
                packed = store.donor_buffers() if self.donate else store.buffers
            else:
                lazy = layout.gather_lazy()
                plan = layout.plan_of(lazy)
                packed = None
        for _, g in self._groups:
            g["params"]  # noqa: B018 - torch's step reads it: a deleted one raises KeyError
        options = [opt._compiled_options(g) for opt, g in self._groups]
        arrays = [x for x, a in zip(leaves, is_array) if a]
        if self._lifted:
            lifted = self._lifted_values()
            if lifted is None:  # a place that held an array holds something else now
                self._discover([x for x in leaves if _is_argument_state(x)])
                self._set_fast(objects)
                layout = self._layout
                lifted = self._lifted_values() or []
            self._lifted_avals = [(v.shape, v.dtype, v.weak_type) for v in lifted]
            arrays += lifted
        for x in arrays:
            if type(x) is np.ndarray and x.dtype.kind in "iu" and x.dtype.itemsize == 8:
                check_int_range(x)  # JAX would wrap an int64 class index to another class
        key = (treedef, is_array,
               tuple(_static_leaf(x, self._root_pos, layout.pos)
                     for x, a in zip(leaves, is_array) if not a),
               tuple(map(_aval_key, arrays)),
               layout.key, plan.key, self._specs, tuple(s for _, s in options),
               self._free_values, st.grad_enabled, self._hooks_key, _jax_settings())
        entry = self._entries.get(key)
        if entry is not None and not entry.serves(layout):
            entry = None  # traced for other objects' new cells: trace these (replaces it)
        if source is not None:
            if entry is not None and entry.compiled and entry.read_only:
                hyper = [h for h, _ in options]
                out = self._call_from(entry, source, layout, plan, hyper, arrays, leaves)
                if out is not _MISS:
                    self._memo = None
                    if not kwargs and all(isinstance(a, jax.Array) for a in args):
                        self._memo = (tuple(type(a) for a in args),
                                      tuple(a.aval for a in args),
                                      self._fast, _state.versions.spec, entry, layout, hyper,
                                      self._options_memo(options), source.layout, plan)
                    return out
            with _state.LOCK:  # else as any evaluation step: its cells come out first
                if not source.refresh(layout):
                    _state.materialize_store(source)
            lazy = layout.gather_lazy()
        undo: list[Callable[[], None]] = []
        traced = entry is None
        if entry is None or entry.warm:
            # Tracing reads the objects, so they must hold every value (never flush inside
            # a trace: the write-back would run as traced code and leave tracers behind;
            # a write in the traced code, zero_grad() setting .grad, flushes what is
            # pending, so nothing may be: other functions' stores are written back too).
            if st.pending:
                _state.flush()
                lazy = layout.gather_lazy()
                from_store = False
            if entry is None:
                entry = self._new_entry(key, treedef, is_array, layout, plan)
            if _maybe_incomplete(self._groups, layout):
                try:
                    warm = self._warm_start(entry, key, (plan, lazy, layout, options, arrays),
                                            leaves, objects, undo)
                except BaseException:
                    for step in reversed(undo):  # no placeholder outlives a failed trace
                        step()
                    raise
                if warm is not None:
                    entry, layout, plan, lazy = warm
        try:
            if packed is None or not from_store:
                packed = plan.pack_new(lazy)
            hyper = [h for h, _ in options]
            call = (*packed, *layout.gather_direct(), *hyper, *arrays)
        except BaseException:
            for step in reversed(undo):
                step()
            raise
        self._ctx = (layout, leaves)  # what a trace of the program reads (then dropped)
        try:
            if entry.compiled:
                outputs = entry.jitted(*call)
            else:
                with warnings.catch_warnings():
                    # State that passes through unchanged (a frozen parameter) leaves a
                    # donated buffer without a partner: harmless. Said when compiling.
                    warnings.filterwarnings("ignore", "Some donated buffers were not usable")
                    outputs = entry.jitted(*call)
                entry.synced = _runs_host_callbacks(entry.jitted, call)
                entry.compiled = True
                self.compile_count += 1
            if entry.synced:
                jax.block_until_ready(outputs)
            self._ctx = None
            if self.checks:  # torch's value errors, found in the program: nothing committed
                failed, outputs = outputs
                message = failed.get()  # a host sync: the price of checks=True
                if message is not None:
                    raise _checked_error(message)
            new_packed, new_direct, out_arrays = outputs
        except _Retrace:
            # JAX traces this program again (see ``program``): nothing ran; a new entry
            # for the same key is traced as a first one is, with nothing pending
            self._ctx = None
            for step in reversed(undo):
                step()
            if self._entries.get(key) is entry:
                del self._entries[key]
            self._memo = None
            return self._call(args, kwargs)
        except BaseException as error:
            self._ctx = None
            for step in reversed(undo):  # the first step's placeholders go again
                step()
            if from_store and any(b.is_deleted() for b in packed):
                _state.drop_pending(store)
                if not store.materialized:
                    # The newest state was donated to the failed program: it exists nowhere.
                    store.layout.lose(f"{type(error).__name__}: {error}")
            raise
        out_layout = entry.output_layout(layout)
        out_layout.scatter_direct(new_direct)
        for i in entry.stepped:  # (torch's scheduler order check: this step ran)
            self._roots[i].__dict__["_opt_called"] = True
        if entry.flags is not None:  # model.eval() in the function: set after every call
            self._replay(entry.flags)
        self._read_only = entry.read_only
        if entry.read_only and not from_store:
            # Its lazy outputs are its inputs, which came from the objects: whatever store
            # is pending (a training step's) stays the newest state, packed.
            return entry.result(out_arrays)
        new_store = _Store(out_layout, entry.out_plan, new_packed)
        new_store.maker = id(self)
        _state.push_pending(new_store, replaced=store if from_store else None)
        self._store = new_store
        if out_layout.opts and _state_held(out_layout.opts):
            _state.flush()
        if entry.cleared:  # zero_grad() inside the program
            for i in entry.cleared:
                layout.data[i]._gradient = None
        if out_layout is not layout:  # e.g. the first step created .grad and state
            if out_layout.key != layout.key:
                _state.bump_cells(out_layout.owner_ids())
            self._layout = out_layout
            self._set_fast(objects)
        elif traced:
            # A trace bumps versions as it creates and clears cells (zero_grad, new .grad)
            # that it then restores: not a change of this function's state.
            self._set_fast(objects)
        self._memo = None
        if traced and self._rehooked:  # (after _set_fast: the next call sees a change)
            for m in self._rehooked:
                m._changed()
            self._rehooked = ()
            return entry.result(out_arrays)
        if (entry.compiled and out_layout is layout and not entry.cleared
                and not kwargs and all(isinstance(a, jax.Array) for a in args)):
            self._memo = (tuple(type(a) for a in args),
                          tuple(a.aval for a in args), self._fast,
                          _state.versions.spec, entry, layout, hyper,
                          self._options_memo(options))
        return entry.result(out_arrays)

    def _call_from(self, entry: _Entry, source: _Store, layout: _Layout, plan: _Plan,
                   hyper: list, arrays: list, leaves: list) -> Any:
        """An evaluation step (a read-only program) run on a training step's pending store:
        one program slices the cells it reads out of that store's buffers and runs the
        step — no gather of the weights into the objects, no re-pack — and the store stays
        pending and packed.  ``_MISS`` where the store lacks a cell this step reads."""
        where = source.layout
        sources = getattr(layout, "_sources", None)
        if sources is None or sources[0] is not where:
            idx = []
            for owner, kind in [*((p, "data") for p in layout.data),
                                *((p, "grad") for p in layout.grads)]:
                i = where.index_of(owner, kind)
                if i is None:
                    return _MISS
                idx.append(i)
            sources = layout._sources = (where, tuple(idx))  # (layouts are immutable)
        idx = sources[1]
        composed_key = (source.plan, idx)
        program = entry.composed.get(composed_key)
        if program is None:
            program = entry.composed[composed_key] = _composed(
                source.plan, tuple(idx), plan, entry.jitted)
        self._ctx = (layout, leaves)
        source.shared = True
        try:
            new_direct, out_arrays = program(source.buffers, layout.gather_direct(),
                                             hyper, arrays)
        except _Retrace:  # (JAX traces the program again: the full path makes a new one)
            return _MISS
        finally:
            self._ctx = None
        layout.scatter_direct(new_direct)
        self._read_only = True
        if entry.flags is not None:  # model.eval() in the function: set after every call
            self._replay(entry.flags)
        return entry.result(out_arrays)

    def _twin_store(self, layout: _Layout) -> _Store | None:
        """The pending store of another compiled function that threads exactly
        ``layout``'s cells (see ``_adopt``), or None."""
        twin = self._twin
        for s in _state.versions.pending:
            if s.layout is layout or (twin is not None and twin[0] is layout
                                      and s.layout is twin[1]):
                return s
            if _same_cells(s.layout, layout):
                # layouts never change: the pair is checked once
                self._twin = (layout, s.layout)
                return s
        return None

    def _adopt(self, holding: list[_Store]) -> bool:
        """A call found its objects in other compiled functions' stores (written back just
        now): take their roots, in their order, ahead of its own, so that both functions
        thread the same cells in the same order (each passes the other's optimizer state
        through) and from then on hand the packed store to each other (``_same_cells``).
        Only for discovered state: ``state=`` threads exactly what it names.  True where
        the roots changed."""
        if self._explicit is not None:
            return False
        adopted = {id(r): r for s in holding for r in s.layout.roots}
        adopted.update((id(r), r) for r in self._adopted)
        order = tuple(adopted.values())
        if len(order) <= len(self._roots) and all(
                a is b for a, b in zip(order, self._roots)):
            return False  # already threading them, first, in their order
        self._adopted = order
        return True

    def _unchanged(self, memo: tuple, args: tuple) -> tuple | None:
        """What a memo (``_call_again``'s, ``_eval_again``'s) assumes still holds: arguments
        of the same types and shapes, the same objects and cells (fast key), the same specs
        and optimizer options that give the same program.  Returns the memo to call with
        (updated: new versions, a scheduler's new learning rate), or None."""
        types_, avals, fast, spec = memo[:4]
        if len(args) != len(types_):
            return None
        for a, t, aval in zip(args, types_, avals):
            # (the aval: shape, dtype and weak type — jnp.asarray(2.0) is weakly typed —
            # one cached object for most arrays, so mostly an identity check)
            if type(a) is not t or (a.aval is not aval and not a.aval == aval):
                return None
        versions = _state.versions  # the fast key's parts, cheapest first (objects: none)
        if (_state.state.grad_enabled is not fast[4] or fast[3]
                or (self._explicit is None and not self._closure_same(fast[2]))
                or (self._attr_watch and self._attribute_values() != fast[5])):
            return None
        if versions.structure != fast[0] or versions.cells != fast[1]:
            if not (fast is self._fast and self._elsewhere_only([])):
                return None  # (else only other models changed: the memo holds)
        elif versions.spec != spec:
            # Training flags changed (train()/eval(), this model's or another's): the same
            # program while this function's specs are the very objects it was keyed on
            # (specs are cached per set of training flags: a train/eval round trip).
            seen = _state.log_position()
            if not all(map(operator.is_, map(_pytree.spec_of, self._module_roots),
                           self._specs)):
                return None
            self._spec_version = versions.spec
            self._seen = seen  # (spec changes alone since: all re-read now)
        groups_now = versions.groups
        if groups_now != self._groups_seen:  # (else no param group changed since)
            memo = self._same_options(memo)
            if memo is None:
                return None
            self._groups_seen = groups_now if not memo[7][2] and all(
                versioned_groups(opt.__dict__["param_groups"])
                for opt, _ in self._group_lists) else -1
        if fast is not self._fast or spec != self._spec_version:
            memo = self._memo = (*memo[:2], self._fast, self._spec_version, *memo[4:])
        return memo

    def _same_options(self, memo: tuple) -> tuple | None:
        """``_unchanged``'s check of the optimizers' groups and options: the memo to call
        with (new option scalars for a scheduler's new learning rate), or None."""
        if not self._same_groups():
            return None
        options, _, volatile, plain = memo[7]
        for (_, group), values in zip(self._groups, options):
            # every option the same object as at the memo's call: the device scalars in
            # `hyper` are still current.  A scheduler's new lr is a new float: new scalars
            # for the same program (its static options unchanged), on the short path still.
            # (an option held in a numpy array may have changed in place: read every call)
            # Options that are all plain Python values compare as one tuple (identical, or
            # equal: the same scalars; the params list is the very one, _same_groups).
            if volatile or (tuple(group.values()) != values if plain else (
                    len(group) != len(values) or not all(
                        map(operator.is_, group.values(), values)))):
                if any("params" not in g for _, g in self._groups):
                    return None  # (the full path's step raises torch's KeyError)
                fresh = [opt._compiled_options(g) for opt, g in self._groups]
                if tuple(s for _, s in fresh) != memo[7][1]:
                    return None
                memo = (*memo[:6], [h for h, _ in fresh], self._options_memo(fresh), *memo[8:])
                self._memo = memo
                break
        return memo

    def _replay(self, flags: tuple) -> None:
        """Set the flags the program's trace set (``_Flags.changes``: positions in
        ``_walk``'s order) on this call's objects; the walk is kept while the structure is
        the same."""
        key = (_state.versions.structure, tuple(map(id, self._roots)))
        walk = self._flag_walk
        if walk is None or walk[0] != key:
            walk = self._flag_walk = (key, *_walk(self._roots))
        _, modules, params = walk
        training, requires = flags
        if len(training) == len(modules) and len({f for _, f in training}) == 1 and (
                len(modules) > 1 and modules[0] is self._roots[0]):
            # every module: the tree's cached switch (Module's: a class may redefine train)
            Module.train(modules[0], training[0][1])
        else:
            for i, flag in training:
                if i < len(modules) and modules[i].__dict__.get("training") != flag:
                    modules[i].training = flag
        for i, flag in requires:
            if i < len(params) and params[i]._requires_grad != flag:
                params[i].requires_grad = flag

    def _same_groups(self) -> bool:
        """The optimizers hold the very param-group dicts discovery found (a script may
        replace one in place: ``opt.param_groups[0] = {**g, "lr": 0.01}``)."""
        for opt, groups in self._group_lists:
            now = opt.__dict__["param_groups"]  # (no property: another thread's read only)
            if len(now) != len(groups) or not all(map(operator.is_, now, groups)):
                return False
        # ... holding the very parameters (``g["params"].append(p)`` starts training p)
        for g, params, held in self._group_params:
            now = g.get("params")
            if now is not params or len(now) != len(held) or not all(
                    map(operator.is_, now, held)):
                return False
        return True

    def _options_memo(self, options: list) -> tuple:
        """What a memo keeps of the optimizers' options: every group's values (checked by
        identity) and the static parts they gave (``_compiled_options``)."""
        values = [tuple(g.values()) for _, g in self._groups]
        plain = all(_plain_option(v) or k == "params" for _, g in self._groups
                    for k, v in g.items())
        return (values, tuple(s for _, s in options),
                any(type(v) is np.ndarray for group in values for v in group), plain)

    def _eval_again(self, memo: tuple, args: tuple) -> Any:
        """A steady evaluation step beside a training step's pending store (``_call_from``
        last time): the same checks as ``_call_again``, then the same composed program on
        the newest store of that training layout; else ``_MISS``."""
        source_layout = memo[8]
        for source in _state.versions.pending:
            if source.layout is source_layout:
                break
        else:
            return _MISS
        memo = self._unchanged(memo, args)
        if memo is None:
            return _MISS
        entry, layout, hyper, plan = memo[4], memo[5], memo[6], memo[9]
        arrays = self._with_lifted(args)
        if arrays is None:
            return _MISS
        return self._call_from(entry, source, layout, plan, hyper, arrays, list(args))

    def _with_lifted(self, args: tuple) -> list | None:
        """The program's array inputs: the arguments, then the lifted arrays (None where
        one changed shape or dtype, or is no array any more: the full path)."""
        if not self._lifted:
            return list(args)
        lifted = self._lifted_values()
        if lifted is None or len(lifted) != len(self._lifted_avals or ()) or any(
                v.shape != shape or v.dtype != dtype or v.weak_type != weak
                for v, (shape, dtype, weak) in zip(lifted, self._lifted_avals)):
            return None
        return [*args, *lifted]

    def _call_again(self, memo: tuple, args: tuple) -> Any:
        """A steady training loop's call: the same program, arguments of the same types and
        shapes, the same objects, state still packed in this function's store.  Checks
        exactly what the full path would find unchanged, then calls; else ``_MISS``."""
        layout = memo[5]
        store = self._store
        if store is None or store.layout is not layout or store not in _state.versions.pending:
            store = self._twin_store(layout)  # another function's store of the same cells
            if store is None:
                return _MISS
        memo = self._unchanged(memo, args)
        if memo is None:
            return _MISS
        entry, layout, hyper = memo[4:7]
        arrays = self._with_lifted(args) if self._lifted else args
        if arrays is None:
            return _MISS
        packed = store.donor_buffers() if store.lent and self.donate else store.buffers
        call = (*packed, *layout.gather_direct(), *hyper, *arrays)
        held, hot = self._hot
        if held is entry and hot and not store.reads and store.hits \
                and not self._hot_streak and store.maker == id(self):
            # the steady case: a loop that read what the last step handed out, and
            # nothing else (see _next_hot)
            self._hot_idle = 0
        elif store.reads or hot or self._hot_streak:
            hot = self._next_hot(entry, store)
        else:
            hot = ()
        program = None
        if hot:
            variant = entry.hot.get(hot)
            if variant is None or type(variant) is _Warming:
                variant = self._hot_program(entry, hot, call)
            if variant is None:
                # still compiling: this step hands out nothing, and donates its store as
                # the steady loop will (no non-donating variant for a store read only now)
                hot, program = (), entry.jitted
            else:
                program, lend = variant
        if program is None:
            program = entry.jitted if not store.shared else self._keeping(entry, call,
                                                                          packed)
        try:
            outputs = program(*call)
            if entry.synced:
                jax.block_until_ready(outputs)
            if hot:
                outputs, handed = outputs
            if self.checks:  # (nothing donated: a failed check leaves the store as it was)
                failed, outputs = outputs
                message = failed.get()
                if message is not None:
                    raise _checked_error(message)
            new_packed, new_direct, out_arrays = outputs
        except _Retrace:
            return _MISS
        except BaseException as error:
            if any(b.is_deleted() for b in packed):
                _state.drop_pending(store)
                if not store.materialized:
                    store.layout.lose(f"{type(error).__name__}: {error}")
            raise
        if new_direct and new_direct.count(None) != len(new_direct):
            layout.scatter_direct(new_direct)
        self._read_only = False
        new_store = _Store(layout, entry.out_plan, new_packed, store)
        new_store.maker = id(self)
        if hot:
            new_store.handed_out(hot, handed, lend)
        _state.push_pending(new_store, replaced=store)
        self._store = new_store
        if entry.flags is not None:  # model.train() in the function: set after every call
            self._replay(entry.flags)
        if layout.opts and _state_held(layout.opts):
            _state.flush()
        return entry.result(out_arrays)

    def _next_hot(self, entry: _Entry, store: _Store) -> tuple[int, ...]:
        """Which cells this call hands out with its store (sorted lazy indices), learnt
        from the reads of the stores before it: a loop that reads the same values after
        each of ``_HOT_STREAK`` steps in a row (a logged weight, a ``state_dict()`` per
        step) gets them as outputs of the step's own program from then on, so a read costs
        no program of its own.  Cells are added, never singly removed; after ``_HOT_IDLE``
        steps whose handed-out values nobody read, the step hands out nothing again.  (The
        steady case, a loop that read what the last step handed out and nothing else, is
        ``_call_again``'s own: it does not call this.)"""
        held, hot = self._hot
        reads = store.reads
        if held is not entry:
            hot = ()
        if store.maker != id(self):
            # made by another function threading the same cells (a GAN's other step):
            # what was read after it tells nothing about this function's own stores
            self._hot = (entry, hot)
            return hot
        if reads:
            self._hot_streak = self._hot_streak + 1 if reads == self._hot_reads else 1
            self._hot_reads = reads
            if self._hot_streak >= _HOT_STREAK and not reads.issubset(hot):
                grown = tuple(sorted(reads.union(hot)))
                if len(grown) <= _HOT_CELLS and (len(entry.hot) < _HOT_PROGRAMS
                                                 or grown in entry.hot):
                    hot = grown
        elif self._hot_streak:
            self._hot_streak, self._hot_reads = 0, _NO_CELLS
        if store.handed and not store.hits:
            # nobody read what this store's call handed out (other values maybe)
            self._hot_idle += 1
            if self._hot_idle >= _HOT_IDLE:
                hot, self._hot_idle = (), 0
        else:
            self._hot_idle = 0
        self._hot = (entry, hot)
        return hot

    def _hot_program(self, entry: _Entry, hot: tuple[int, ...], call: tuple) -> Any:
        """``entry``'s program that also returns copies of the small cells ``hot`` of its
        new store (no new trace of the function; one XLA compile per set of cells); large
        ones are lent as they are (``_Store.handed_out``).  It donates its input store
        (see ``_keeping``: reads no longer share the stores it makes).  None while its
        compile runs in the background (``_Warming``)."""
        slot = entry.hot.get(hot)
        if slot is not None and type(slot) is not _Warming:
            return slot  # (the steady case)
        if slot is None:
            jitted, plan, checks = entry.jitted, entry.out_plan, self.checks
            small = [i for i in hot if plan.large.get(i) is None
                     or _aval_nbytes(plan.avals[i]) < LEND_BYTES]
            lend = frozenset(hot).difference(small)

            def handing_out(*call: Any) -> tuple:
                outputs = jitted(*call)
                # (sliced from the new store itself: else XLA computes the update of a
                # handed-out cell apart from the store's, a kernel more on a CPU)
                new_packed = jax.lax.optimization_barrier(
                    (outputs[1] if checks else outputs)[0])
                values = plan.unpack(new_packed)
                return outputs, [jnp.array(values[i], copy=True) for i in small]

            program = (jax.jit(handing_out, donate_argnums=entry.donated), lend)
            self.compile_count += 1
            slot = _Warming.begin(program[0], call, program)
        program = _Warming.ready(slot)
        entry.hot[hot] = slot if program is None else program
        return program

    def _keeping(self, entry: _Entry, call: tuple, packed: list) -> Any:
        """The program to run on a store another program has read (an evaluation step, a
        logged weight, a ``state_dict()``).  On XLA's CPU client, donating a buffer that
        an enqueued program still reads blocks the caller until that program has run, so
        a train step after an evaluation step waits for it, and the Python side of each
        call stops overlapping the other's device work (the probe's train/eval cycle:
        141 -> 78 µs without).  There a store of up to ``KEEP_SHARED_BYTES`` is not
        donated: the same program without donation (no new trace; one more XLA compile,
        in the background from the first such call: ``_Warming``; the donating program
        runs until it is done).  Elsewhere (GPU streams order the reads), donation."""
        keep = entry.keep
        if keep is not None and type(keep) is not _Warming:
            return keep  # (the steady case)
        if keep is None:
            cpu = all(d.platform == "cpu" for b in packed for d in b.devices())
            small = sum(b.nbytes for b in packed) <= KEEP_SHARED_BYTES
            if self.donate and cpu and small:
                jitted = entry.jitted
                keep = jax.jit(lambda *call: jitted(*call))
                self.compile_count += 1
                keep = _Warming.begin(keep, call, keep)
            else:
                keep = entry.jitted
        program = _Warming.ready(keep)
        entry.keep = keep if program is None else program
        return entry.jitted if program is None else program

    def _warm_start(self, entry: _Entry, key: tuple, call: tuple, leaves: list,
                    objects: tuple, undo: list) -> tuple | None:
        """The first step of a training loop: trace and compile the steady program only.

        A first step creates state (``.grad``, the optimizer's per-parameter state), so its
        output cells differ from its inputs and the second step would be traced and
        compiled again.  Instead the new cells get placeholders equal to what the step
        would create them from (zero gradients, the optimizer's initial state) and the
        steady program runs from the first call; done only where that is exactly torch's
        first step (``_placeholders``).  Which cells the step creates is first *guessed*
        (every trainable parameter of the optimizers: ``_guess_first_step``), checked by
        the steady program's own trace, so a training loop is traced once; where the guess
        is wrong (an unused parameter keeps ``.grad = None``) the first program is traced
        abstractly (``jax.eval_shape``: no compile) to learn them.  The first program stays
        cached (``warm``) with those cells: the first step of a same-shaped new model and
        optimizer (a sweep's next trial) needs no trace at all.
        Returns ``(entry, layout, plan, lazy)`` or None (then ``entry`` runs as is).
        """
        plan, lazy, layout, options, arrays = call
        hyper = [h for h, _ in options]
        if not entry.warm:
            guessed = self._guess_first_step(entry, key, layout, (hyper, arrays, leaves),
                                             objects, undo)
            if guessed is not None:
                return guessed
            self._ctx = (layout, leaves)
            flags = _Flags(list(self._roots))
            try:
                jax.eval_shape(entry.jitted, *plan.pack_new(lazy), *layout.gather_direct(),
                               *hyper, *arrays)
            finally:
                self._ctx = None
            if flags.reregistered():
                # The step registers state (a buffer): what this abstract trace registered
                # holds its tracers.  Undone; the call traces the program for real.
                flags.restore()
                entry.jitted.clear_cache()
                return None
        after = entry.output_layout(layout)
        if after.key == layout.key:
            return None
        placeholders = _placeholders(layout, after)
        if placeholders is None:
            return None
        entry.warm = True
        undo.append(_bump_cells)  # undone: the cells changed back (runs last)
        for install, remove in placeholders:
            install()
            undo.append(remove)
        _bump_cells()
        kept = {id(p) for p in after.grads}
        if any(id(p) not in kept for p in layout.grads):
            # The step drops .grad cells it was given (it reads them, then zero_grad(); or
            # it clears a head it does not use): the steady program takes them as inputs
            # too (it clears them again after each call), never the first step's output
            # alone, which would bake today's gradients in as constants.
            after = _Layout(self._roots)
        return self._steady_entry(key, after, objects)

    def _steady_entry(self, key: tuple, after: _Layout, objects: tuple) -> tuple:
        self._layout = after
        self._set_fast(objects)
        lazy = after.gather_lazy()
        plan = after.plan_for(lazy)
        steady = (*key[:4], after.key, plan.key, *key[6:])
        warm = self._entries.get(steady)
        if warm is None or not warm.serves(after):
            warm = self._new_entry(steady, key[0], key[1], after, plan)
        return warm, after, plan, lazy

    def _guess_first_step(self, entry: _Entry, key: tuple, layout: _Layout, inputs: tuple,
                          objects: tuple, undo: list) -> tuple | None:
        """Install the placeholders of a guessed first step (a zero ``.grad`` and the
        initial optimizer state for every trainable parameter of the optimizers) and trace
        the steady program abstractly; its trace checks the guess (every guessed cell
        written, no cell appearing or disappearing) and is the one the call then compiles.
        A wrong guess names the parameters the step left without a gradient (unused
        layers): the second guess leaves them out.  None, with nothing installed, when no
        guess can be made or both were wrong."""
        if any(type(o)._cells is not Optimizer._cells for o in layout.opts):
            return None  # state in containers (optax): learnt from the abstract first step
        idle: frozenset = frozenset()
        for _attempt in range(2):
            try:
                return self._try_guess(entry, key, layout, inputs, objects, undo, idle)
            except _WrongGuess as wrong:
                if not wrong.idle or wrong.idle <= idle:
                    return None
                idle = idle | wrong.idle
        return None

    def _try_guess(self, entry: _Entry, key: tuple, layout: _Layout, inputs: tuple,
                   objects: tuple, undo: list, idle: frozenset) -> tuple | None:
        has_grad = {id(p) for p in layout.grads}
        installs: list[tuple[Callable[[], None], Callable[[], None]]] = []
        guessed: list[tuple[Any, str]] = []
        seen: set[int] = set()
        for opt, group in self._groups:
            for p in group["params"]:
                if not p._requires_grad or id(p) in seen or id(p) in idle:
                    continue
                seen.add(id(p))
                if id(p) not in has_grad:
                    installs.append(_grad_placeholder(p))
                    guessed.append((p, "grad"))
                if not opt._param_state.get(p):
                    initial = opt._placeholder_state(p, group)
                    if initial is None:
                        return None
                    if initial:
                        installs.append(_state_placeholder(opt, p, initial))
                        guessed.extend(((opt, p, k), "state") for k, v in initial.items()
                                       if isinstance(v, jax.Array))
        if not installs:
            return None
        removes = []
        for install, remove in installs:
            install()
            removes.append(remove)
        _bump_cells()
        guess = _Layout(self._roots)
        state_at = {(id(o), id(p), k): i for i, (o, p, k) in enumerate(guess.ostates)}
        n_data = len(guess.data)
        spots = [guess.index_of(owner, "grad") if kind == "grad"
                 else n_data + state_at[(id(owner[0]), id(owner[1]), owner[2])]
                 for owner, kind in guessed]
        hyper, arrays, leaves = inputs
        before = dict(self._entries)
        lazy = guess.gather_lazy()
        plan = guess.plan_for(lazy)
        steady_key = (*key[:4], guess.key, plan.key, *key[6:])
        steady = None if steady_key in self._entries else self._new_entry(
            steady_key, key[0], key[1], guess, plan)  # (an existing one never checked this)
        try:
            if steady is None:
                raise _WrongGuess
            self._ctx, self._guessed = (guess, leaves), spots
            jax.eval_shape(steady.jitted, *plan.pack_new(lazy), *guess.gather_direct(),
                           *hyper, *arrays)
        except BaseException:  # a wrong guess, or the step fails at its trace: none stay
            for remove in reversed(removes):
                remove()
            _bump_cells()
            self._entries.clear()
            self._entries.update(before)
            raise
        finally:
            self._ctx, self._guessed = None, None
        entry.warm = True
        entry.out_recipe = guess.recipe()
        undo.append(_bump_cells)  # undone: the cells changed back (runs last)
        undo.extend(removes)
        self._layout = guess
        self._set_fast(objects)
        return steady, guess, plan, lazy

    def _new_entry(self, key: tuple, treedef: Any, is_array: tuple, layout: _Layout,
                   plan: _Plan) -> _Entry:
        if self.trace_count >= _RETRACE_WARNING and self._last_key is not None:
            warnings.warn(
                f"jnn.compile: {getattr(self.fn, '__name__', 'the function')} is traced and "
                f"compiled again ({self.trace_count + 1} times so far): "
                f"{_describe_change(self._last_key, key)}",
                RecompileWarning, stacklevel=4)
        entry = self._build(treedef, is_array, plan,
                            len(layout.buffers) + len(layout.gens), len(self._groups))
        self._entries[key] = entry
        self._entries.move_to_end(key)
        self._last_key = key
        if len(self._entries) > _MAX_ENTRIES:
            self._entries.popitem(last=False)
        return entry

    def _build(self, treedef: Any, is_array: tuple, plan: _Plan, n_direct: int,
               n_hyper: int) -> _Entry:
        """A program for every call with this key.  It holds no state object: a trace reads
        the calling objects from ``self._ctx`` (same-shaped objects share the program).

        Its arguments are flat: the packed buffers, the direct cells, the optimizers'
        option vectors, then the arrays (``n_direct`` and ``n_hyper`` of the middle two):
        one positional argument per array dispatches faster than four lists of them."""
        entry = _Entry()
        fn = self.fn

        def program(packed: list, direct: list, hyper: list, arrays: list) -> tuple:
            guard = _state.SIGINT_GUARD  # a trace can be long: Ctrl-C stays live in it
            held, guard.depth = guard.depth, 0
            try:
                _state.release_sigint()  # one held since the call began raises now
                if self._ctx is None or entry.compiled:
                    # jax.jit saw a signature the short path's checks did not, or traces a
                    # program that has run again (its own key changed: a JAX setting such
                    # as jax_default_matmul_precision, jax.clear_caches()).  Raised before
                    # anything runs or is donated: the full path keys and traces it as a
                    # new program (a trace of a known one would find its input store
                    # pending, and bake the store's numbers in as constants).
                    raise _Retrace
                flags = _Flags(list(self._roots))
                variables = _variables(fn)
                try:
                    out = traced(packed, direct, hyper, arrays)
                except BaseException:
                    flags.restore()  # a failed trace changes nothing, flags included,
                    _restore_variables(variables)  # nor leaves a tracer in a variable
                    _scrub_containers(fn, flags.modules)  # or a list its hooks append to
                    raise
                entry.flags = flags.changes()
                self._rehooked = flags.rehooked()
                return out
            finally:
                guard.depth = held

        def traced(packed: list, direct: list, hyper: list, arrays: list) -> tuple:
            layout, call_template = self._ctx
            groups, roots = list(self._groups), list(self._roots)
            self.trace_count += 1
            st = _state.state
            outer_checks, st.value_checks = st.value_checks, self.checks
            outer_eager_grad, st.eager_grad = st.eager_grad, False  # a trace: F.* run plain
            # The objects hold concrete values (flushed before tracing): keep them to restore.
            with jax.ensure_compile_time_eval():  # key_data of the generator stays concrete
                original_lazy, original_direct = layout.gather_lazy(), layout.gather_direct()
            shadows = layout.shadows(original_lazy, original_direct)
            shadows += _optimizer_shadows({id(o): o for o, _ in groups}.values())
            _state.push_shadows(shadows)
            saved_groups = [(opt, g, dict(g)) for opt, g in groups]
            outer_threaded = st.threaded
            st.compile_depth += 1
            st.threaded = layout.threaded_ids()
            after: _Layout | None = None
            try:
                layout.scatter_lazy(plan.unpack(packed))
                unpacked = layout.gather_lazy()  # (identities: what the trace wrote)
                layout.scatter_direct(direct)
                direct_in = layout.gather_direct()  # (identities: what the trace left)
                installed = []
                for (opt, g), vector in zip(groups, hyper):
                    tree, static = opt._split_options(g)
                    h = unflatten_options(vector, jax.tree_util.tree_structure(tree))
                    opt.__dict__.setdefault("_traced_options", {})[id(g)] = (h, static)
                    for k, v in h.items():
                        if k in g:  # code in fn that reads group['lr'] sees the traced value
                            g[k] = v
                    installed.append({k: g[k] for k in g if k != "params"})
                it = iter(arrays)
                call = [next(it) if a else x for x, a in zip(call_template, is_array)]
                call_args, call_kwargs = jax.tree_util.tree_unflatten(treedef, call)
                stepped = [i for i, r in enumerate(roots) if isinstance(r, Optimizer)
                           and not r.__dict__.get("_opt_called")]
                # the lifted arrays' places hold their inputs while fn runs
                variables = _variables(fn)
                places = [place for place, _ in self._lifted]
                held = [_raw_at(*place) for place in places]
                put = []
                guessed = self._guessed
                if guessed is not None:  # a guessed first step's placeholder gradients
                    st.guessed_grads = {id(p): unpacked[i] for p in layout.grads
                                        if (i := layout.index_of(p, "grad")) in guessed}
                try:
                    for place, value in zip(places, it):
                        _set_at(*place, value)
                        put.append(value)
                    out = fn(*call_args, **call_kwargs)
                except jax.errors.ConcretizationTypeError as error:
                    raise _concretization_error(error) from error
                finally:
                    guess_map, st.guessed_grads = st.guessed_grads, _state.NO_GUESS
                    written = [label for (place, label), value in zip(self._lifted, put)
                               if _raw_at(*place) is not value]
                    for place, value in zip(places, held):
                        if value is not _ARRAY:
                            _set_at(*place, value)
                if written:
                    raise RuntimeError(
                        f"jnn.compile: the compiled function assigned {', '.join(written)}, "
                        "an array it also reads: Python code runs once, when it is traced, so "
                        "the assignment would be lost. Return the new value from the "
                        "compiled function and assign it outside (`loss, ema = step(x, y, "
                        "ema)`), or keep it in a registered buffer.")
                # optimizers whose step() ran (a scheduler's order check reads the flag):
                # set again for the objects of every later call of the program
                entry.stepped = tuple(i for i in stepped
                                      if roots[i].__dict__.get("_opt_called"))
                changed_options = [
                    f"param_groups[{opt.param_groups.index(g)}][{k!r}]"
                    for (opt, g), before in zip(groups, installed)
                    for k in g if k != "params" and g[k] is not before.get(k, _ARRAY)
                ]
                after = _Layout(roots)
                new_lazy, new_direct = after.gather_lazy(), after.gather_direct()
                written = after.gather_lazy()
                entry.read_only = after.key == layout.key and all(
                    a is b for a, b in zip(written, unpacked))
            finally:
                (after or _Layout(roots)).remove_new(layout)
                with jax.ensure_compile_time_eval():
                    layout.scatter_lazy(original_lazy)
                    layout.scatter_direct(original_direct)
                _state.pop_shadows(shadows)
                for opt, g, saved in saved_groups:
                    g.clear()
                    g.update(saved)
                    opt.__dict__.get("_traced_options", {}).pop(id(g), None)
                st.compile_depth -= 1
                st.threaded = outer_threaded
                st.value_checks = outer_checks
                st.eager_grad = outer_eager_grad
            if changed_options:
                raise RuntimeError(
                    f"jnn.compile: the compiled function changed {', '.join(changed_options)}. "
                    "Optimizer options are inputs of the compiled program, read before each "
                    "call: change them outside it (call scheduler.step() after the compiled "
                    "step, as torch code does after optimizer.step())."
                )
            for name, v in zip(after.names(), [*new_lazy, *new_direct]):
                if not isinstance(v, jax.Array):
                    raise RuntimeError(
                        f"jnn.compile: {name} was set to a {type(v).__name__} inside the "
                        "compiled function; it must stay an array"
                    )
            try:
                _check_leaks(fn, roots, {id(g): saved for _, g, saved in saved_groups})
            except RuntimeError:
                _restore_variables(variables)  # no tracer is left in the user's variables
                raise
            guessed = self._guessed
            if guessed is not None:
                # a guessed first step: is every cell what it creates?  A guessed gradient
                # left as it was, or only zeroed (``zero_grad(set_to_none=False)`` leaves
                # torch's None a None), was not produced: an unused parameter's.
                idle = set()
                for p in layout.grads:
                    i, j = layout.index_of(p, "grad"), after.index_of(p, "grad")
                    if i in guessed and (j is None or written[j] is unpacked[i]
                                         or written[j] is guess_map.get(id(p))):
                        idle.add(id(p))
                if idle or after.key != layout.key or not after.same_owners(layout) or any(
                        written[i] is unpacked[i] for i in guessed):
                    raise _WrongGuess(frozenset(idle))
            entry.out_recipe = entry.out_layout = entry.in_layout = None
            if not after.same_owners(layout):  # new parameters: for these objects only
                entry.out_layout, entry.in_layout = after, layout
                out_layout = after
            elif after.key == layout.key:
                out_layout = layout
            else:  # new .grad or optimizer state: said by position, for any such objects
                entry.out_recipe = after.recipe()
                out_layout = layout.with_recipe(entry.out_recipe)
            kept = {id(p) for p in out_layout.grads}
            entry.cleared = tuple(layout.pos[id(p)] for p in layout.grads if id(p) not in kept)
            out_plan = out_layout.plan_for(new_lazy)
            entry.out_plan = out_plan
            out_leaves, entry.out_treedef = jax.tree_util.tree_flatten(out)
            entry.out_static = [_ARRAY if isinstance(x, jax.Array) else x for x in out_leaves]
            if entry.out_static == _ONE_ARRAY and entry.out_treedef == _LEAF:
                entry.out_static = _ONE_ARRAY
            if after.same_direct(layout):
                # the same direct cells: those the trace left as they came are no output
                new_direct = [None if v is d else v for v, d in zip(new_direct, direct_in)]
            return (out_plan.pack(new_lazy), new_direct,
                    [x for x in out_leaves if isinstance(x, jax.Array)])

        a = len(plan.buffers)
        b, c = a + n_direct, a + n_direct + n_hyper

        def flat(*call: Any) -> tuple:
            return program(list(call[:a]), list(call[a:b]), list(call[b:c]), list(call[c:]))

        # Only the packed lazy state is donated: module buffers (small, read directly by
        # user code and by state_dict()) stay valid whatever happens to the call.
        if self.checks:
            from jax.experimental import checkify

            flat = checkify.checkify(flat, errors=checkify.user_checks)
        entry.donated = tuple(range(a)) if self.donate else ()
        entry.jitted = jax.jit(flat, donate_argnums=entry.donated)
        return entry


def _same_cells(a: _Layout, b: _Layout) -> bool:
    """Two layouts of the very same lazy cells in the same order (two functions that
    adopted each other's roots): a store of one is the packed state of the other."""
    if a is b:
        return True
    if a.key != b.key or not a.same_owners(b):
        return False
    return (len(a.ostates) == len(b.ostates) and len(a.grads) == len(b.grads)
            and all(x[0] is y[0] and x[1] is y[1] and x[2] == y[2]
                    for x, y in zip(a.ostates, b.ostates))
            and all(x is y for x, y in zip(a.grads, b.grads)))


def _composed(source: _Plan, idx: tuple, plan: _Plan, inner: Any) -> Any:
    """``inner`` (a read-only program) fed from ``source``'s packed buffers: the cells at
    ``idx`` are sliced out and packed as ``plan`` packs them, inside one program (XLA keeps
    only the slices it needs).  Nothing is donated: the source store stays pending."""
    def composed(buffers: list, direct: list, hyper: list, arrays: list) -> tuple:
        values = source.unpack(buffers)
        _, new_direct, out_arrays = inner(*plan.pack([values[i] for i in idx]), *direct,
                                          *hyper, *arrays)
        return new_direct, out_arrays
    return jax.jit(composed)


def _bump_cells() -> None:
    _state.bump_cells()  # (first steps only: for anything)


def _maybe_incomplete(groups: list, layout: _Layout) -> bool:
    """Could a step create cells (a first step): a trainable parameter without .grad, or
    without optimizer state?"""
    if not groups:
        return False
    has_grad = {id(p) for p in layout.grads}
    for opt, group in groups:
        state = opt._param_state
        for p in group["params"]:
            if p._requires_grad and (id(p) not in has_grad or not state.get(p)):
                return True
    return False


class _WrongGuess(Exception):
    """A guessed first step's trace found cells other than the guess (see _warm_start);
    ``idle``: the guessed parameters whose ``.grad`` the step did not produce."""

    def __init__(self, idle: frozenset = frozenset()) -> None:
        super().__init__()
        self.idle = idle


def _grad_placeholder(p: Parameter) -> tuple:
    def install() -> None:
        p._gradient = jnp.zeros(p._value.shape, p._value.dtype)

    def remove() -> None:
        p._gradient = None

    return install, remove


def _state_placeholder(o: Optimizer, p: Parameter, initial: dict) -> tuple:
    def install() -> None:
        o._param_state[p].update(initial)

    def remove() -> None:
        o._param_state.pop(p, None)

    return install, remove


def _placeholders(before: _Layout, after: _Layout) -> list | None:
    """``(install, remove)`` pairs creating the cells ``after`` has and ``before`` lacks,
    with the values the step would create them from; None if that would not be torch's
    first step (e.g. SGD with dampening, whose first momentum buffer is the gradient)."""
    out = []
    had_grad = {id(p) for p in before.grads}
    for p in after.grads:
        if id(p) not in had_grad:
            out.append(_grad_placeholder(p))

    had_state = {(id(o), id(p), k) for o, p, k in before.ostates}
    new_state: dict[tuple[int, int], tuple] = {}
    for o, p, k in after.ostates:
        if (id(o), id(p), k) not in had_state:
            new_state.setdefault((id(o), id(p)), (o, p))
    if after.items != before.items and len(after.items) != len(before.items):
        return None
    for o, p in new_state.values():
        group = next(g for g in o.param_groups if any(q is p for q in g["params"]))
        initial = None if o._param_state.get(p) else o._placeholder_state(p, group)
        if initial is None:
            return None
        out.append(_state_placeholder(o, p, initial))
    return out


class RecompileWarning(UserWarning):
    """A compiled function was traced again; the message names what changed."""


class TraceTimeValueWarning(UserWarning):
    """A compiled function reads a value that changes per call but is read once, when it
    is traced (Python's random numbers, an iterator): the program keeps that one value."""


def _describe_change(old: tuple, new: tuple) -> str:
    """Name what differs between two programs' keys (torch.compile's recompile reasons)."""
    o_tree, o_is_array, o_static, o_shapes, _, _, o_specs, o_opts, o_free, o_grad, o_hooks, \
        o_jax = old
    n_tree, n_is_array, n_static, n_shapes, _, _, n_specs, n_opts, n_free, n_grad, n_hooks, \
        n_jax = new
    if o_jax != n_jax:
        return ("a JAX setting changed (jax.config, a context such as "
                "jax.default_matmul_precision, or jnn.set_float32_matmul_precision, which "
                "sets jax_default_matmul_precision): each setting has its own program")
    if o_hooks != n_hooks:
        return ("an optimizer step hook was registered or removed (hooks run when the "
                "function is traced)")
    if o_grad != n_grad:
        return (f"gradient mode changed ({'enabled' if o_grad else 'disabled'} -> "
                f"{'enabled' if n_grad else 'disabled'}: jnn.no_grad() / enable_grad())")
    if o_free != n_free:
        before, after = dict(o_free), dict(n_free)
        for name in after:
            if before.get(name) != after[name]:
                return (f"`{name}` changed ({_plain(before.get(name))} -> {_plain(after[name])})"
                        ": a Python value the function reads from its closure or globals is "
                        "compiled in as a constant; pass it as an array argument "
                        "(jnp.asarray(value)) to make it an input")
    if o_specs != n_specs:
        for o_spec, n_spec in zip(o_specs, n_specs):
            for o_node, n_node in zip(o_spec.nodes, n_spec.nodes):
                for k, v in n_node.template.items():
                    before = o_node.template.get(k, "<missing>")
                    if _pytree._static_key(before) != _pytree._static_key(v):
                        return (f"{n_node.cls.__name__}.{k} {before!r} -> {v!r}: a plain "
                                "module attribute is static (part of the program's key); "
                                "keep values that change per step in a buffer "
                                "(register_buffer) or pass them as arrays")
        return "a module's structure changed (train()/eval(), hooks, new parameters)"
    if o_static != n_static:
        old_values = ", ".join(_plain(k) for k in o_static)
        new_values = ", ".join(_plain(k) for k in n_static)
        changed = [k for a, b in zip(o_static, n_static) if a != b for k in (a, b)]
        if all(isinstance(k, tuple) and len(k) == 2 and k[0] in _NUMBER_TYPES
               for k in changed):
            return (f"a non-array argument changed ({old_values} -> {new_values}): Python "
                    "scalars are static; pass jnp.asarray(value) to make it an input")
        return (f"a non-array argument changed ({old_values} -> {new_values}): such values "
                "are static, one program each (kept: a few values taken in turn cost one "
                "trace each); a value that changes every call re-traces every call")
    if o_shapes != n_shapes:
        return f"input shapes or dtypes changed ({o_shapes} -> {n_shapes})"
    if o_tree != n_tree or o_is_array != n_is_array:
        return "the arguments' structure changed"
    if o_opts != n_opts:
        return "an optimizer's structural option changed (e.g. momentum becoming non-zero)"
    return ("the threaded state changed: other objects (a new model or optimizer) or new "
            "state (.grad or optimizer state appearing or disappearing)")


_PLAIN_TYPES = (bool, int, float, complex, str, np.generic)  # (np.generic: numpy scalars)
_NUMBER_TYPES = (bool, int, float, complex, np.number, np.bool_)


def _jax_settings() -> tuple:
    """The JAX settings a trace depends on (those in every ``jax.jit`` key: matmul
    precision, dtype promotion, x64, ...), as plain values: a program is kept per setting,
    so code that enters a JAX context around some calls takes the program traced for it
    instead of tracing again at every switch."""
    try:
        values = _jax_config.trace_context()
    except Exception:  # noqa: BLE001 - (another JAX's internals) JAX re-traces by itself
        return ()
    return tuple(v if v is None or isinstance(v, (bool, int, float, str, tuple))
                 else str(v) if isinstance(v, enum.Enum) else type(v).__name__
                 for v in values)


def _aval_key(x: Any) -> tuple:
    """An array argument's part of a program's key: shape and dtype, and whether it is
    weakly typed (``jnp.asarray(2.0)``: JAX promotes it differently, so jax.jit traces it
    apart)."""
    if getattr(x, "weak_type", False):
        return (x.shape, x.dtype, "weakly typed")
    return (x.shape, x.dtype)


_CELL_CONTENTS = operator.attrgetter("cell_contents")


def _optimizer_shadows(optimizers: Any) -> list[tuple[tuple, Any]]:
    """``(owner key, (param_groups, state))`` copies of optimizers' concrete options and
    state, for ``_state.push_shadows`` before a trace swaps traced ones in: what another
    thread reads meanwhile (``opt.param_groups[0]['lr']`` in a logger thread)."""
    pairs = []
    for o in optimizers:
        key = (id(o), "optimizer")
        if key in _state.SHADOWS:  # (a trace inside another's: the outer one's stand)
            continue
        groups = [dict(g) for g in o.__dict__["param_groups"]]
        state = o._param_state
        copies = {p: dict(s) for p, s in state.items()}
        state = defaultdict(dict, copies) if isinstance(state, defaultdict) else copies
        pairs.append((key, (groups, state)))
    return pairs


def _cell_filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def _object_id(value: Any) -> int:
    """A variable's identity for the fast key; 0 for an array (the watch of
    ``_python_values`` sees a new one, and a lifted one is an input)."""
    kind = type(value)
    is_array = _ARRAY_TYPES.get(kind)
    if is_array is None:  # (per type, once: the check runs for every variable every call)
        is_array = isinstance(value, (jax.Array, np.ndarray))
        if not isinstance(value, jax.core.Tracer):  # (a tracer's answer is its own)
            _ARRAY_TYPES[kind] = is_array
    return 0 if is_array else id(value)


_ARRAY_TYPES: dict[type, bool] = {}


def _raw_at(where: Any, key: Any) -> Any:
    """The value at a place: a closure cell's (``key`` None), a list's or a dict's item."""
    if key is None:
        try:
            return where.cell_contents
        except ValueError:  # an emptied cell
            return _ARRAY
    if isinstance(where, list):
        return where[key] if key < len(where) else _ARRAY
    return where.get(key, _ARRAY)


def _set_at(where: Any, key: Any, value: Any) -> None:
    if key is None:
        where.cell_contents = value
    else:
        where[key] = value


# How deep _python_values follows containers and plain objects: `self.cfg.loss.alpha`
_WALK_DEPTH = 2

# numpy arrays a compiled function reads from its variables are copied to the device at
# every call up to this size (changed in place, they are read anew), once per object above
_LIFT_COPY_BYTES = 1 << 20


def _value_at(where: Any, key: Any) -> Any:
    """A watched value: a closure cell's (``key`` None), a dict's or list's item, or the
    container's size (``_SIZE``).  Arrays, containers and objects compare by identity (a
    small numpy array also by its bytes: changed in place, it is a change), plain values
    by equality."""
    if key is _SIZE:
        return len(where)
    value = _raw_at(where, key)
    if type(value) is np.ndarray and value.nbytes <= _WATCHED_BYTES:
        return (_pytree._Identity(value), value.tobytes())
    return value if _is_plain_value(value) else _pytree._Identity(value)


_SIZE = object()  # watch key: a container's number of items
_WATCHED_BYTES = 1 << 12  # numpy arrays up to this size are watched by their bytes


# A dict or list a step names is watched item by item up to this size
_WATCHED_ITEMS = 64

# Functions of these packages are not walked for the Python values they read
_LIBRARIES = frozenset({"jnn", "jax", "jaxlib", "numpy", "optax", "chex", "torch",
                        *sys.stdlib_module_names})


def _library(f: Any) -> bool:
    """A function or class of a library's (jnn, JAX, the standard library ...), whose
    code a compiled step's discovery does not read."""
    return (getattr(f, "__module__", None) or "").split(".")[0] in _LIBRARIES


def _is_config_class(value: Any) -> bool:
    """A class of the user's used as a namespace of settings (``CFG.alpha``)."""
    return isinstance(value, type) and not _library(value) and not issubclass(
        value, (Module, Optimizer, LRScheduler, BaseException))


def _is_plain_object(value: Any) -> bool:
    """An object of the user's own whose attributes a step may read (a config, a trainer),
    not jnn state (discovered and threaded) nor a function, class or module."""
    return (hasattr(value, "__dict__") and not _is_state_object(value)
            and not isinstance(value, (type, types.ModuleType, types.FunctionType,
                                       types.MethodType, functools.partial, LRScheduler,
                                       CompiledFunction, Module, Optimizer)))


_RANDOM_MODULES = frozenset({"random", "secrets", "numpy.random"})
_RANDOM_STATES = (random.Random, np.random.Generator, np.random.RandomState,
                  np.random.BitGenerator)


def _draws_anew(value: Any) -> str | None:
    """Whether reading ``value`` gives something new at every call, which a trace would
    read once: ``"random"`` for Python's or numpy's random numbers (the module, a
    generator, one of its methods), ``"iterator"`` for an iterator (``next(batches)``;
    not a file, which a step writes logs to), else None."""
    if isinstance(value, types.ModuleType):
        return "random" if value.__name__ in _RANDOM_MODULES else None
    if isinstance(value, (types.BuiltinMethodType, types.MethodType)):
        value = value.__self__
    if isinstance(value, _RANDOM_STATES):
        return "random"
    if isinstance(value, Iterator) and not isinstance(value, (jax.Array, np.ndarray,
                                                                io.IOBase)):
        return "iterator"
    return None


def _numpy_random_used(code: types.CodeType, values: Callable[[str], Any]) -> bool:
    """Whether ``code`` reads ``np.random`` (a name holding numpy, then its attribute
    ``random``), not ``jax.random`` or a ``cfg.random`` flag beside some use of numpy."""
    previous = None
    for ins in dis.get_instructions(code):
        if (previous is not None and ins.opname in ("LOAD_ATTR", "LOAD_METHOD")
                and ins.argval == "random" and values(previous) is np):
            return True
        previous = ins.argval if ins.opname in (
            "LOAD_GLOBAL", "LOAD_DEREF", "LOAD_NAME", "LOAD_FAST") else None
    return False


def _held_objects(holders: list[Any], attributes: set[str]) -> list[Any]:
    """The plain objects reachable from ``holders`` through the attributes (and the items
    of small containers) a step's code names, ``_WALK_DEPTH`` levels down."""
    out, seen = [], set()
    level = list(holders)
    for _ in range(_WALK_DEPTH + 1):
        nxt = []
        for h in level:
            if id(h) in seen:
                continue
            seen.add(id(h))
            if isinstance(h, dict):
                values = list(h.values()) if len(h) <= _WATCHED_ITEMS else []
            elif isinstance(h, list):
                values = h if len(h) <= _WATCHED_ITEMS else []
            elif _is_plain_object(h) or _is_config_class(h):
                d = vars(h)
                values = [d[a] for a in attributes.intersection(d)]
                if _is_plain_object(h):
                    out.append(h)
            else:
                continue
            nxt.extend(v for v in values if isinstance(v, (dict, list))
                       or _is_plain_object(v))
        level = nxt
    return out


def _is_plain_value(value: Any, depth: int = 0) -> bool:
    if isinstance(value, _PLAIN_TYPES):
        return True
    return (depth < 2 and isinstance(value, tuple) and len(value) <= 16
            and all(_is_plain_value(v, depth + 1) for v in value))


def _plain(key: Any) -> str:
    """A plain value's static key, as the value."""
    if isinstance(key, tuple) and len(key) == 2 and key[0] in _PLAIN_TYPES:
        return repr(key[1])
    return repr(key)


def _checked_error(message: str) -> Exception:
    """A failed value check of a ``checks=True`` step, as the exception torch raises."""
    message = message.removesuffix(" (`check` failed)")
    kind, _, text = message.partition(": ")
    types_ = {"IndexError": IndexError, "ValueError": ValueError, "RuntimeError": RuntimeError}
    if kind in types_:
        return types_[kind](text)
    return RuntimeError(message)


def _concretization_error(error: Exception) -> RuntimeError:
    return RuntimeError(
        "jnn.compile: the compiled function needs a concrete value of a traced array "
        "(float(loss), loss.item(), `if loss > 0:` or a shape computed from values). Inside "
        "jnn.compile, Python runs once, at trace time: return the value from the compiled "
        "function and read it outside (`loss = step(x, y); print(float(loss))`), or use "
        "jnp.where / jax.lax.cond for data-dependent choices."
    )


def _explicit_roots(state: Any) -> tuple:
    objects = tuple(state) if isinstance(state, (tuple, list)) else (state,)
    roots, params = [], []
    for obj in objects:
        if isinstance(obj, LRScheduler):
            obj = obj.optimizer
        if isinstance(obj, Parameter):  # bare parameters (a network written from scratch)
            params.append(obj)
            continue
        if not _is_state_object(obj):
            raise TypeError(
                "jnn.compile(state=...) takes Modules, Optimizers, LR schedulers, "
                f"Generators and Parameters, got {type(obj).__name__}"
            )
        roots.append(obj)
    if params:
        roots.append(_bare_holder(params))
    roots.append(default_generator)  # the global generator: torch code never passes it
    return tuple(roots)


_ARRAY = object()
_MISS = object()


def _runs_host_callbacks(jitted: Any, call: tuple) -> bool:
    """Whether the program ``jitted`` ran for ``call`` (its trace is cached: no new trace)
    calls back into Python.  On a GPU a program runs after its call returns, so an
    exception in a callback would surface at a later read, after the call had written its
    (failed) outputs back as the newest state; such a program's calls wait for it."""
    try:
        jaxpr = jitted.trace(*call).jaxpr
    except Exception:  # noqa: BLE001 - (unexpected) no jaxpr to read: as before, no wait
        return False

    def calls_back(jaxpr: Any) -> bool:
        for eqn in jaxpr.eqns:
            if "callback" in eqn.primitive.name:
                return True
            for value in eqn.params.values():
                for sub in value if isinstance(value, (list, tuple)) else (value,):
                    inner = getattr(sub, "jaxpr", sub)
                    if hasattr(inner, "eqns") and calls_back(inner):
                        return True
        return False

    return calls_back(jaxpr.jaxpr if hasattr(jaxpr, "jaxpr") else jaxpr)


class _Retrace(Exception):
    """A short path's program call would trace anew (see ``traced``)."""
_NO_READS: dict = {"data": {}, "grad": {}}  # a store nothing has read (never written)
_ONE_ARRAY = [_ARRAY]  # out_static of a function returning one array
_LEAF = jax.tree_util.tree_structure(0)


def _static_leaf(x: Any, root_pos: dict[int, int], param_pos: dict[int, int]) -> Any:
    """A non-array argument is part of the trace's key (torch.compile specialises too); a
    state object by its position among the roots (its structure is in the layout's key), a
    Parameter by its position among the threaded parameters."""
    if _is_state_object(x):
        return ("object", root_pos.get(id(x), id(x)))
    if isinstance(x, Parameter):
        return ("parameter", param_pos.get(id(x), id(x)))
    try:
        hash(x)
    except TypeError:
        if _is_plain_object(x):
            # a config object (a SimpleNamespace, argparse.Namespace, a dataclass): by
            # identity (held, so its id is never another's), with the plain values it
            # holds (compiled in as constants)
            return ("plain", _pytree._Identity(x), tuple(sorted(
                (k, _pytree._static_key(v)) for k, v in vars(x).items()
                if isinstance(k, str) and _is_plain_value(v))))
        raise TypeError(
            f"jnn.compile: argument of type {type(x).__name__} is neither an array nor "
            "hashable; pass arrays, Python scalars, modules or optimizers"
        ) from None
    return _pytree._static_key(x)  # typed: 2, 2.0 and np.float32(2) trace differently


def _has_tracer(value: Any, depth: int = 0) -> bool:
    """A tracer in ``value`` or, two levels deep, in its containers' newest entries
    (``self.seen.append(out)`` adds at the end; a long history is not walked per trace)."""
    if isinstance(value, jax.core.Tracer):
        return True
    if depth < 2 and isinstance(value, (list, tuple)):
        return any(_has_tracer(v, depth + 1) for v in value[-_SCAN_LAST:])
    if depth < 2 and isinstance(value, (set, frozenset)) and len(value) <= _SCAN_LAST:
        return any(_has_tracer(v, depth + 1) for v in value)
    if depth < 2 and isinstance(value, dict):
        values = list(value.values()) if len(value) <= _SCAN_LAST else \
            [value[k] for k in list(reversed(value))[:_SCAN_LAST]]
        return any(_has_tracer(v, depth + 1) for v in values)
    return False


_SCAN_LAST = 64  # entries of a container checked for leaked tracers after a trace


_MODULE_SLOTS = frozenset(("_parameters", "_buffers", "_modules"))


def _variables(fn: Any) -> list[tuple[Any, Any, Any]]:
    """``fn``'s closure variables and the globals its code names, as ``(where, key,
    value)``: what a trace that stores a traced value there puts back."""
    fn = getattr(fn, "__func__", fn)
    out = []
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            out.append((cell, None, cell.cell_contents))
        except ValueError:
            continue
    code = getattr(fn, "__code__", None)
    if code is not None:
        g = fn.__globals__
        out.extend((g, name, g[name]) for name in _code_names(code) if name in g)
    return out


def _walk(roots: list[Any]) -> tuple[list[Module], list[Parameter]]:
    """The modules under ``roots`` and their (and the optimizers') parameters, in a fixed
    order: positions in it name the same objects in any same-shaped roots."""
    modules: dict[int, Module] = {}
    for root in roots:
        if isinstance(root, Module):
            for m in root.modules():
                modules.setdefault(id(m), m)
    params: dict[int, Parameter] = {}
    for m in modules.values():
        for p in m.__dict__["_parameters"].values():
            if p is not None:
                params.setdefault(id(p), p)
    for root in roots:
        if isinstance(root, Optimizer):
            for group in root.param_groups:
                for p in group.get("params", ()):
                    params.setdefault(id(p), p)
    return list(modules.values()), list(params.values())


class _Flags:
    """The modules' ``training`` flags, ``requires_grad`` and registrations before a trace.

    A trace that fails puts them back (a ``register_buffer`` or ``model.eval()`` before
    the raise changes nothing).  One that succeeds leaves the flags as the function set
    them, and the changes (``model.eval()`` in an evaluation step) are replayed after
    every later call of the program, where the function's Python does not run.
    """

    __slots__ = ("modules", "params", "training", "requires", "registered", "hooks",
                 "attributes")

    def __init__(self, roots: list[Any]) -> None:
        self.modules, self.params = _walk(roots)
        self.attributes = [dict(m.__dict__) for m in self.modules]
        self.training = [m.__dict__.get("training") for m in self.modules]
        self.hooks = [_hook_ids(m) for m in self.modules]
        self.requires = [p._requires_grad for p in self.params]
        self.registered = [
            (dict(d["_parameters"]), dict(d["_buffers"]), dict(d["_modules"]),
             set(d["_non_persistent_buffers_set"]))
            for d in (m.__dict__ for m in self.modules)]

    def restore(self) -> None:
        for m, saved in zip(self.modules, self.attributes):
            d = m.__dict__  # `self.last_loss = loss` before the raise: no tracer stays
            for k in [k for k, v in d.items() if k not in _MODULE_SLOTS and _has_tracer(v)]:
                if k in saved and not _has_tracer(saved[k]):
                    d[k] = saved[k]
                elif k not in saved:
                    del d[k]
        for m, training, (params, buffers, modules, non_persistent) in zip(
                self.modules, self.training, self.registered):
            d = m.__dict__
            if (d["_parameters"] != params or d["_buffers"].keys() != buffers.keys()
                    or d["_modules"] != modules):
                for slot, saved in (("_parameters", params), ("_buffers", buffers),
                                    ("_modules", modules)):
                    d[slot].clear()
                    d[slot].update(saved)
                d["_non_persistent_buffers_set"].clear()
                d["_non_persistent_buffers_set"].update(non_persistent)
                m._changed()
            if d.get("training") != training:
                m.training = training
        for p, requires in zip(self.params, self.requires):
            if p._requires_grad != requires:
                p.requires_grad = requires

    def reregistered(self) -> bool:
        """Whether a module's parameters, buffers or submodules changed (by key)."""
        return any(
            d["_parameters"].keys() != params.keys() or d["_buffers"].keys() != buffers.keys()
            or d["_modules"].keys() != modules.keys()
            for d, (params, buffers, modules, _) in zip(
                (m.__dict__ for m in self.modules), self.registered))

    def rehooked(self) -> list[Module]:
        """The modules whose hooks the function added or removed (a hook that removes
        itself): the program holds the hooks as they were, so the next call re-keys."""
        return [m for m, before in zip(self.modules, self.hooks) if _hook_ids(m) != before]

    def changes(self) -> tuple | None:
        """``(training, requires_grad)`` changes as ``(position, new flag)`` pairs, or
        None where the function changed no flag."""
        training = tuple((i, m.__dict__.get("training")) for i, (m, before) in
                         enumerate(zip(self.modules, self.training))
                         if m.__dict__.get("training") != before)
        requires = tuple((i, p._requires_grad) for i, (p, before) in
                         enumerate(zip(self.params, self.requires))
                         if p._requires_grad != before)
        return (training, requires) if training or requires else None


def _hook_ids(m: Module) -> tuple:
    d = m.__dict__
    return (tuple(d["_forward_pre_hooks"]), tuple(d["_forward_hooks"]))


_PLAIN_OPTION = (bool, int, float, str, type(None))


def _plain_option(value: Any) -> bool:
    """An option whose equality is its value's: a Python scalar, or a tuple of them."""
    if type(value) is tuple:
        return all(type(v) in _PLAIN_OPTION for v in value)
    return type(value) in _PLAIN_OPTION


def _state_held(optimizers: list) -> bool:
    """Whether the script holds an optimizer's ``state`` dict (``state = opt.state``, a
    logger set up once): torch's is live, so a step that leaves the newest state packed
    must write it back for such a reader (and for a write through it to reach the next
    step).  Its owner's slot and ``getrefcount``'s argument are the only other references.
    The same for one parameter's dict (``s = opt.state[p]``), looked for only after
    ``opt.state`` was read (``_state_seen``, dropped once none is held: a new hold needs a
    new read)."""
    for o in optimizers:
        d = o.__dict__
        if sys.getrefcount(d.get("_param_state")) > 2:
            return True
        if d.get("_state_seen"):
            # (a per-parameter dict: its outer dict's entry, the loop's variable, the arg)
            if any(sys.getrefcount(s) > 3 for s in d["_param_state"].values()):
                return True
            d["_state_seen"] = False
    return False


def _callable_key(f: Any) -> tuple:
    """What identifies the code a compiled step calls: a function's code (a re-made lambda
    of the same code is the same; its variables are watched themselves), a bound method's
    code and object, a class."""
    if isinstance(f, types.MethodType):
        return ("method", _callable_key(f.__func__), _object_id(f.__self__))
    if isinstance(f, types.FunctionType):
        return ("function", f.__code__)
    return ("class", _pytree._Identity(f))


def _scrub_containers(fn: Any, modules: list[Module]) -> None:
    """Drop the tracers a failed trace appended to the lists and dicts that ``fn`` and the
    modules' forward hooks hold in their variables (``acts.append(output)``)."""
    functions = [fn]
    for m in modules:
        d = m.__dict__
        functions.extend(h for hooks in (d["_forward_pre_hooks"], d["_forward_hooks"])
                         for h in hooks.values())
    for f in functions:
        for _, _, value in _variables(f):
            if isinstance(value, list) and any(
                    isinstance(v, jax.core.Tracer) for v in value[-_SCAN_LAST:]):
                value[:] = [v for v in value if not isinstance(v, jax.core.Tracer)]
            elif isinstance(value, dict) and len(value) <= _WATCHED_ITEMS:
                for k in [k for k, v in value.items() if isinstance(v, jax.core.Tracer)]:
                    del value[k]


def _restore_variables(variables: list[tuple[Any, Any, Any]]) -> None:
    for where, key, value in variables:
        if _has_tracer(_raw_at(where, key)):
            _set_at(where, key, value)


def _check_leaks(fn: Any, roots: list[Any], groups_before: dict | None = None) -> None:
    """Name any traced value ``fn`` stored where jnn does not thread it."""
    where: list[str] = []
    _scan_function(fn, where)
    for root in roots:  # hooks run inside the program too: `features[name] = output`
        if isinstance(root, Module):
            for m in root.modules():
                for hooks in (m._forward_hooks, m._forward_pre_hooks):
                    for hook in hooks.values():
                        _scan_function(hook, where)
    for root in roots:  # `self.x = out` and `self.seen.append(out)` alike
        if isinstance(root, Module):
            for mname, m in root.named_modules():
                for k, v in m.__dict__.items():
                    if k not in _MODULE_SLOTS and _has_tracer(v):
                        where.append(f"the attribute `{(mname + '.' if mname else '')}{k}` "
                                     f"of {type(m).__name__}")
    for root in roots:
        if isinstance(root, Optimizer):
            for i, g in enumerate(root.param_groups):
                # (an enclosing compiled function's traced options were there before)
                before = (groups_before or {}).get(id(g), {})
                for k, v in g.items():
                    if k != "params" and _has_tracer(v) and before.get(k, _ARRAY) is not v:
                        where.append(f"param_groups[{i}][{k!r}]")
    if where:
        raise RuntimeError(
            "jnn.compile: the compiled function stored a traced value where jnn cannot "
            f"thread it: {', '.join(where)}. Inside a compiled function, keep new arrays in "
            "parameters, buffers (register_buffer), .grad or optimizer state, or return them."
        )


def _scan_function(fn: Any, where: list[str]) -> None:
    """Traced values in ``fn``'s closure variables and the globals its code names."""
    fn = getattr(fn, "__func__", fn)
    name = getattr(fn, "__name__", "a function")
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if _has_tracer(value):
            where.append(f"a variable captured by {name}")
    code = getattr(fn, "__code__", None)
    if code is not None:
        g = fn.__globals__
        for gname in _code_names(code):
            if gname in g and _has_tracer(g[gname]):
                where.append(f"the global `{gname}` (set by {name})")


def _compiled_module(module: Module, options: dict) -> OptimizedModule:
    """Unpickling (and ``copy.deepcopy``) of an :class:`OptimizedModule`: a new program
    for the copied module, as torch rebuilds its wrapper from the module."""
    return OptimizedModule(module, **options)


class OptimizedModule(Module):
    """``jnn.compile(model)``: the module, called through one compiled program — torch's
    ``OptimizedModule``.  An ``nn.Module`` whose one child is the module, ``_orig_mod``:
    its ``state_dict()`` keys and parameter names start with ``_orig_mod.`` as torch's do
    (load them back through the wrapper, or strip the prefix for the module itself).
    ``training`` is the module's; other attributes are read from and written to it.
    """

    # names that stay on the wrapper; every other attribute is the module's
    _own_attributes = frozenset({"_orig_mod", "_compiled", "_compile_options"})

    def __init__(self, module: Module, **options: Any) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        object.__setattr__(self, "_wrapping", False)
        super().__init__()
        d = self.__dict__
        d.pop("training", None)  # (the module's: see the property)
        self.add_module("_orig_mod", module)

        def forward(*args: Any, **kwargs: Any) -> Any:
            return module(*args, **kwargs)

        d["_compiled"] = CompiledFunction(forward, **options)
        d["_compile_options"] = tuple(options.items())
        d["_wrapping"] = True

    @property
    def training(self) -> bool:  # type: ignore[override]
        return self._modules["_orig_mod"].training

    @training.setter
    def training(self, value: bool) -> None:
        if self.__dict__.get("_wrapping"):  # (not Module.__init__'s default)
            self._modules["_orig_mod"].training = value

    def train(self, mode: bool = True) -> OptimizedModule:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self._modules["_orig_mod"].train(mode)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        if "_jnn_lazy" in d:  # (a copy jax unflattened)
            _pytree.materialize(self)
        if d["_forward_hooks"] or d["_forward_pre_hooks"]:  # the wrapper's own hooks
            return _hooks.call_with_hooks(self, args, kwargs)
        return d["_compiled"](*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.__dict__["_compiled"](*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        if "_jnn_lazy" in d:
            _pytree.materialize(self)
            return getattr(self, name)
        module = d.get("_modules", {}).get("_orig_mod")
        if module is None:  # (in __init__, before the module is registered)
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        if name == "_orig_mod":
            return module
        return getattr(module, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if (name in OptimizedModule._own_attributes or hasattr(type(self), name)
                or not self.__dict__.get("_wrapping")):
            super().__setattr__(name, value)
        else:
            setattr(self._modules["_orig_mod"], name, value)

    def __delattr__(self, name: str) -> None:
        if name in OptimizedModule._own_attributes or hasattr(type(self), name):
            super().__delattr__(name)
        else:
            delattr(self._modules["_orig_mod"], name)

    def __len__(self) -> int:
        module = self._modules["_orig_mod"]
        if not hasattr(type(module), "__len__"):
            raise TypeError(f"{type(module).__name__} does not support len()")
        return len(module)

    def __dir__(self) -> list[str]:
        own = self._modules["_orig_mod"].__dir__()
        return own + [a for a in super().__dir__() if a not in own]

    def __reduce__(self) -> tuple:
        return (_compiled_module, (self._modules["_orig_mod"], dict(self._compile_options)))


CompiledModule = OptimizedModule  # (jnn's earlier name)


@functools.cache
def _inductor_options() -> dict[str, tuple[type | None, str]]:
    """torch's inductor option names: the type a value must have (None: any), and the
    default's type name (see ``_torch_inductor_options.txt``)."""
    import importlib.resources

    types_ = {"bool": bool, "int": int, "float": float, "str": str, "tuple": tuple,
              "list": list, "NoneType": type(None), "-": None}
    text = importlib.resources.files("jnn").joinpath("_torch_inductor_options.txt").read_text()
    rows = (line.split() for line in text.splitlines() if line and not line.startswith("#"))
    return {name: (types_[checked], default) for name, checked, default in rows}


def _check_inductor_options(options: dict) -> None:
    """``options=`` as torch.compile's default backend checks them: known names, typed
    values.  jnn accepts and ignores them (XLA compiles)."""
    known = _inductor_options()
    for key, value in options.items():
        name = key.replace("-", "_")  # (a key that is no str: torch's AttributeError)
        if name not in known:
            raise RuntimeError(f"Unexpected optimization option {key}, known options are "
                               f"{list(known)}")
        expected, default = known[name]
        if expected is not None and not isinstance(value, expected):
            raise RuntimeError(f"Unexpected type of attr {key}, got {type(value).__name__} "
                               f"should be {default}")


_TORCH_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs",
                "max-autotune")
# torch._dynamo.list_backends(exclude_tags=()) of torch 2.13: accepted, all compile with XLA
_TORCH_BACKENDS = frozenset((
    "aot_eager", "aot_eager_decomp_partition", "aot_eager_decomp_partition_crossref",
    "aot_eager_decomp_partition_with_mode", "aot_eager_default_partitioner", "aot_ts",
    "cudagraphs", "eager", "eager_debug", "eager_noexcept", "inductor", "invoke_subgraph",
    "openxla", "openxla_eval", "pre_dispatch_eager", "ts", "tvm"))


class InvalidBackend(RuntimeError):
    """torch._dynamo's error for an unknown ``backend=`` name."""


class BackendCompilerFailed(RuntimeError):
    """torch._dynamo's error for a ``backend=`` that is neither a name nor a callable."""


class _NotCallableError(TypeError, AssertionError):
    """torch.compile asserts that it is given a callable: both types match."""


def compile(fn: Any = None, *, state: Any = None, donate: bool = True,  # noqa: A001
            checks: bool = False, mode: str | None = None, dynamic: bool | None = None,
            fullgraph: bool = False, backend: Any = "inductor", options: dict | None = None,
            disable: bool = False) -> Any:
    """Compile a torch-style function (or module) into one XLA program.

    Args:
        fn: a function, e.g. a whole training step (zero_grad, forward, loss,
            ``optimizer.step(closure)``, ``scheduler``-set learning rates, dropout), or a
            Module (returns an :class:`OptimizedModule`, an ``nn.Module`` wrapping it as
            ``_orig_mod``, like ``torch.compile(model)``). Methods work too (one cache per
            instance).
        state: the objects whose state the program threads — Modules, Optimizers, LR
            schedulers, Generators, bare Parameters — exactly these (plus jnn's global
            generator). Default:
            discovered from ``fn``'s closure, the globals it names, the functions and
            callable objects they reference, and its arguments. State the program reads or
            writes that is not threaded raises an error naming it.
        donate: donate the old state arrays to XLA (halves peak memory). Default ``True``.
            A call that fails on the device after its inputs were donated loses that
            state (reads then raise); ``donate=False`` keeps it.
        mode, fullgraph, backend, options: torch.compile's; checked as torch checks them
            (a mode, a backend name, and the default backend's option names and value
            types must be torch's) and otherwise ignored: XLA always compiles the whole
            graph.
        checks: check values as eager mode does (class targets in range, BCE inputs in
            [0, 1]) inside the program (``jax.experimental.checkify``) and raise torch's
            error after the call, before anything is written back. Costs a host sync per
            call and turns donation off. Default ``False``: such checks are skipped in
            compiled code (an out-of-range class in ``cross_entropy`` gives NaN; elsewhere
            a bad value may give a finite but meaningless number).
        dynamic: ``None``/``False``. ``True`` (shape-polymorphic programs) is refused:
            every new input shape is its own program, traced once.
        disable: return ``fn`` unchanged, as torch does.

    The state ``fn`` reads and writes — parameters, ``.grad``, buffers, optimizer state,
    learning rates, the global random generator — is threaded through the program and
    written back into the objects after each call. Python code in ``fn`` runs when it is
    traced (once per new situation), not at every call. See the module docstring.

    PyTorch: ``torch.compile``. Usable as ``@jnn.compile`` or ``@jnn.compile(...)``.
    """
    if fn is not None and not callable(fn):
        raise _NotCallableError(f"A callable function is expected, but {type(fn)} is provided.")
    if mode is not None and options is not None:
        raise RuntimeError(
            "Either mode or options can be specified, but both can't be specified at the "
            "same time.")
    # (an empty mode is no mode to torch; an unhashable one fails its table's lookup)
    if mode and mode not in dict.fromkeys(_TORCH_MODES):
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: "
                           + ", ".join(_TORCH_MODES))
    if isinstance(backend, str) and backend not in _TORCH_BACKENDS:
        raise InvalidBackend(f"Invalid backend: {backend!r}, see "
                             "`torch._dynamo.list_backends()` for available backends.")
    if options is not None and not isinstance(options, dict):  # torch iterates .items()
        raise AttributeError(f"'{type(options).__name__}' object has no attribute 'items'")
    if options and backend == "inductor":
        _check_inductor_options(options)
    failed = None  # a backend that is no callable: torch runs it at each call, which raises
    if backend is not None and not isinstance(backend, str) and not callable(backend):
        failed = (f"backend='{backend}' raised:\nTypeError: "
                  f"'{type(backend).__name__}' object is not callable")
    if dynamic is not None and not isinstance(dynamic, bool):
        raise AssertionError(f"Expected enable to be a bool, got {type(dynamic)}")
    if dynamic:
        raise NotImplementedError(
            "jnn.compile(dynamic=True): XLA programs have static shapes; each new input "
            "shape is traced and compiled once. Pad inputs to a few fixed sizes (bucketing) "
            "to bound the number of programs."
        )
    if fn is None:
        return functools.partial(compile, state=state, donate=donate, checks=checks,
                                 mode=mode, dynamic=dynamic, fullgraph=fullgraph, backend=backend,
                                 options=options, disable=disable)
    if disable:
        return fn
    if failed is not None:
        compiled = _FailedBackend(fn, donate=donate, state=state, checks=checks)
        compiled.error = failed
        if isinstance(fn, Module):
            module = OptimizedModule(fn, donate=donate, checks=checks)
            module.__dict__["_compiled"] = compiled
            return module
        return compiled
    if isinstance(fn, Module):
        return OptimizedModule(fn, donate=donate, checks=checks)
    return CompiledFunction(fn, donate=donate, state=state, checks=checks)


class _FailedBackend(CompiledFunction):
    """``jnn.compile(fn, backend=3)``: torch's compiled function runs its backend at each
    call, which raises its BackendCompilerFailed; so does every call of this."""

    error = ""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise BackendCompilerFailed(self.error)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self  # (a method's calls raise alike)
