"""Eager dispatch: each ``F.*`` call outside a JAX transformation is one compiled call.

Run op by op, an ``F.*`` function dispatches every JAX primitive it uses separately (a
cross entropy is about fifteen); a porter's first, eager run then costs several times
torch's.  :func:`dispatched` wraps every public ``F.*`` function once (in
``jnn.nn.functional.__init__``), so that a layer author never thinks about it:

* Inside ``jax.jit``/``grad``/``vmap``/``jnn.compile`` (any trace) the plain function runs:
  the wrapper costs one check.
* Outside, the call's arguments are split into arrays (dynamic inputs) and everything else
  (static: ints, tuples, strings, ``None``, a ``Generator``).  The static part, with the
  positions of the arrays, keys a bounded cache of ``jax.jit`` programs; JAX's own cache then
  keys on the arrays' shapes and dtypes.  A new static configuration costs one trace and one
  XLA compile (about 10-50 ms on a CPU for a typical layer); later calls cost a few µs.

What the plain function would have done and a compiled program cannot is handled here, so
that eager results are the same as without dispatch:

* **Ints given as 0-d integer arrays** (``F.one_hot(t, t.max() + 1)``, a size tuple holding
  one) are read as Python ints first, as torch's parser reads a 0-d integer tensor, in and
  out of a trace (a concrete array only: a tracer stays a tracer).

* **Randomness.**  A function that draws from a generator (dropout, rrelu) is found at its
  first trace; from then on the generator's key goes in as an input and the advanced key
  comes back out and is stored, exactly the keys the plain function would have drawn.
* **Value checks** (a class target out of range, a BCE input outside [0, 1]) become outputs
  of the program and are raised after it, with torch's exception type: torch syncs for
  these too.
* **Warnings** (a deprecated argument, ``softmax`` without ``dim``) and **values needed in
  Python** (``one_hot(t)`` inferring the class count, a length list):
  the configuration falls back to the plain function, permanently, at no extra cost.
"""

from __future__ import annotations

import collections
import functools
import inspect
import threading
import warnings
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax._src import core as _core
from jax._src.array import ArrayImpl as _ArrayImpl

from jnn import _state
from jnn._tensor_functions.device import mismatch_error
from jnn.nn.functional import _arg_errors

__all__ = [
    "dispatched", "warn", "NeedsConcrete", "in_dispatch_trace", "collect_check", "cache_info",
]

# Static configurations kept per function (least recently used first out).
MAX_ENTRIES = 64

_PLAIN = object()  # an entry that runs the plain function (it needs concrete values)
_ARRAY = object()  # marks an array position in the static key


class NeedsConcrete(Exception):
    """Raised inside a dispatch trace by code that needs an array's values in Python."""


class _Collector:
    """While a dispatch trace runs: value checks (``ok`` arrays with their messages) and
    the generator read, which become the program's extra outputs and input."""

    __slots__ = ("checks", "messages")

    def __init__(self) -> None:
        self.checks: list[tuple[jax.Array, tuple]] = []
        self.messages: list[str] = []


_local = threading.local()


def warn(message: str, category: type[Warning] = UserWarning, stacklevel: int = 1) -> None:
    """``warnings.warn`` for ``F.*`` code: ``stacklevel`` counts as if the dispatch wrappers
    between the caller and the function were not there (a warning points at the caller)."""
    warnings.warn(message, category, stacklevel=stacklevel + 1 + getattr(_local, "frames", 0))


def _plain(fn: Callable, args: tuple, kwargs: dict) -> Any:
    """``fn(*args, **kwargs)`` from the wrapper: two more frames (the wrapper's and this)
    for warn()'s stacklevel.

    A Parameter argument is unwrapped first through its logged read, as :func:`_split`
    does for a dispatched call, so that every mode reads it the same way: inside a trace
    (``jnn.compile``, ``jax.jit``) its ``__array__`` would fail on the traced data, and in
    a differentiated closure it would be read without being logged (no gradient).
    """
    if _Parameter is None:
        _bind_parameter()
    if any(isinstance(v, _Parameter) for v in args) or any(
            isinstance(v, _Parameter) for v in kwargs.values()):
        args = tuple(_read(v) if isinstance(v, _Parameter) else v for v in args)
        kwargs = {k: _read(v) if isinstance(v, _Parameter) else v for k, v in kwargs.items()}
    _local.frames = getattr(_local, "frames", 0) + 2
    try:
        return fn(*args, **kwargs)
    finally:
        _local.frames -= 2


def in_dispatch_trace() -> bool:
    return getattr(_local, "collector", None) is not None


def collect_check(ok: jax.Array, message: str, *values: jax.Array) -> bool:
    """Record a value check during a dispatch trace; False when not in one."""
    collector = getattr(_local, "collector", None)
    if collector is None:
        return False
    collector.checks.append((ok, values))
    collector.messages.append(message)
    return True


class _Entry:
    __slots__ = ("program", "random", "messages", "passthrough")

    def __init__(self, program: Callable, random: bool) -> None:
        self.program = program
        self.random = random
        self.messages: list[str] = []
        self.passthrough: tuple = ()


def _is_top_level() -> bool:
    """Outside any trace, or inside jnn.autograd's eager differentiation of a closure."""
    if isinstance(_core.trace_ctx.trace, _core.EvalTrace):
        return not jax.config.jax_disable_jit
    return _state.state.eager_grad and not jax.config.jax_disable_jit


_SCALARS = frozenset({int, float, str, bool, complex, type(None)})
# jnn.nn.parameter's Parameter and its logged read, bound on first use (import order)
_Parameter: Any = None
_read: Any = None


def _bind_parameter() -> None:
    global _Parameter, _read
    from jnn.nn.parameter import Parameter, _read

    _Parameter = Parameter


def _split(args: tuple, kwargs: dict) -> tuple[tuple, list] | None:
    """(static key, dynamic arrays), or None where the call cannot be dispatched.

    The hot path of every eager ``F.*`` call: exact type checks first (an ``isinstance``
    against ``jax.Array``, an abstract class, costs several times more).
    """
    if _Parameter is None:
        _bind_parameter()
    key: list = []
    arrays: list = []
    for value in (*args, *kwargs.values()):
        t = type(value)
        if t is _ArrayImpl:
            arrays.append(value)
            key.append(_ARRAY)
        elif t in _SCALARS:
            key.append(t)
            key.append(value)
        elif isinstance(value, jax.Array):  # a tracer of eager autograd
            arrays.append(value)
            key.append(_ARRAY)
        elif t is _Parameter:
            arrays.append(_read(value))  # a logged read, as F's as_input would do
            key.append(_ARRAY)
        elif t is np.ndarray:
            if value.dtype.kind in "iu" and value.dtype.itemsize == 8:
                return None  # int64 numpy: the plain function checks its range first
            arrays.append(value)
            key.append(_ARRAY)
        elif t is list or t is tuple:
            if any(isinstance(v, (jax.Array, np.ndarray, _Parameter, list, dict, set))
                   for v in value):
                return None  # arrays or nested containers inside: rare, run plain
            key.append(t)
            key.append(tuple(value))
            # (and the elements' types: 2.0 == 2 and hashes alike, so (2.0, 2) would find
            # the program of (2, 2), made with the other static values)
            key.append(tuple(map(type, value)))
        else:
            if isinstance(value, (_Parameter, np.ndarray)):
                return None  # subclasses: run plain
            try:
                hash(value)
            except TypeError:
                return None
            key.append(t)
            key.append(value)
    return (tuple(key), tuple(kwargs)), arrays


def _rebuild(mask: tuple, arrays: list, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    it = iter(arrays)
    values = [next(it) if m else v for m, v in zip(mask, (*args, *kwargs.values()))]
    return tuple(values[:len(args)]), dict(zip(kwargs, values[len(args):]))


def _is_array_value(value: Any) -> bool:
    """Whether :func:`_split` made ``value`` a dynamic input (the same tests, in order)."""
    t = type(value)
    return (t is _ArrayImpl or (t not in _SCALARS and (
        isinstance(value, jax.Array) or t is _Parameter or t is np.ndarray)))


def _make_program(fn: Callable, key: tuple, args: tuple, kwargs: dict, random: bool,
                  entry_box: list) -> Callable:
    """The jitted program of one static configuration.  ``args``/``kwargs`` hold the static
    values of the first call (equal, by the key, to every later call's); its arrays are
    dropped, so that the cache never keeps a caller's batch alive."""
    from jnn import random as jnn_random

    values = (*args, *kwargs.values())
    mask = tuple(_is_array_value(v) for v in values)
    values = [None if m else v for m, v in zip(mask, values)]
    args, kwargs = tuple(values[:len(args)]), dict(zip(kwargs, values[len(args):]))

    def program(arrays: list, gen_key: Any) -> tuple:
        collector = _Collector()
        outer, _local.collector = getattr(_local, "collector", None), collector
        try:
            call_args, call_kwargs = _rebuild(mask, arrays, args, kwargs)
            # A warning (a deprecated argument, an implicit dim) would be given once, at
            # the trace, pointing into jax: such a configuration runs plain instead.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if random:
                    g = _generator(call_args, call_kwargs) or jnn_random.default_generator
                    with jnn_random.use_key(gen_key, g):
                        out = fn(*call_args, **call_kwargs)
                        new_key = g.key
                else:
                    out, new_key = fn(*call_args, **call_kwargs), None
            if caught:
                raise NeedsConcrete
        finally:
            _local.collector = outer
        entry = entry_box[0]
        entry.messages = collector.messages
        # An input returned as is (dropout in eval mode) comes back as the caller's object,
        # as the plain function would return it (``F.dropout(x, training=False) is x``).
        leaves = jax.tree_util.tree_leaves(out)
        entry.passthrough = tuple((i, j) for i, leaf in enumerate(leaves)
                                  for j, a in enumerate(arrays) if leaf is a)
        return out, new_key, collector.checks

    return jax.jit(program)


def _generator(args: tuple, kwargs: dict) -> Any:
    from jnn.random import Generator

    g = kwargs.get("generator")
    if isinstance(g, Generator):
        return g
    return next((a for a in args if isinstance(a, Generator)), None)


class _NeedsKey(Exception):
    """The plain function drew from a generator inside a dispatch trace."""


# The parameters of F.* that take tensors in torch: a Python list or tuple there is refused
# with torch's TypeError (JAX would silently turn it into an array).
_TENSOR_ARGS = frozenset({
    "input", "weight", "bias", "target", "running_mean", "running_var", "input1", "input2",
    "x1", "x2", "anchor", "positive", "negative", "theta", "pos_weight", "log_probs",
    "targets", "offsets", "per_sample_weights", "var", "grid", "logits", "linear_weight",
    "linear_bias", "tensor", "indices",
})


def _tensor_args(fn: Callable) -> tuple[tuple[int, str, frozenset], ...]:
    """(position, name, refused types) of ``fn``'s tensor parameters: a list or tuple is
    refused everywhere; None and Python numbers only where the parameter is required (an
    optional ``bias``/``weight`` may be None, as in torch)."""
    params = inspect.signature(fn).parameters.values()
    out = []
    for i, p in enumerate(params):
        if p.name not in _TENSOR_ARGS or p.kind is p.VAR_POSITIONAL:
            continue
        refused = set(_CONTAINERS)
        if p.default is p.empty and p.name not in _arg_errors.NONE_ALLOWED:
            refused.add(type(None))
            if (fn.__name__, p.name) not in _arg_errors.SCALAR_ALLOWED:
                refused.update(_NUMBERS)
        out.append((i, p.name, frozenset(refused)))
    return tuple(out)


_CONTAINERS = (list, tuple)
_NUMBERS = (int, float, bool, complex, str)


class _Missing:
    """An argument not given."""


_MISSING = _Missing()
# Types a tensor parameter takes (learnt per type, once): arrays, tracers, Parameters,
# numpy values, anything with ``__jax_array__``; and, where ``refused`` lets them through,
# None and Python numbers.  Anything else (a dict, an object) gets torch's error.
_ACCEPTED: set[type] = {type(None), type(_MISSING), *_NUMBERS}


def _accepted(kind: type) -> bool:
    from jnn.nn.parameter import Parameter

    if issubclass(kind, (jax.Array, np.ndarray, np.generic, Parameter, _core.Tracer)) or (
            hasattr(kind, "__jax_array__")):
        _ACCEPTED.add(kind)
        return True
    return False


def dispatched(fn: Callable) -> Callable:
    """Wrap ``fn`` (a pure ``F.*`` function) with eager dispatch (see the module doc)."""
    cache: collections.OrderedDict = collections.OrderedDict()
    lock = threading.Lock()
    tensor_args = _tensor_args(fn)
    argument_check = _arg_errors.argument_check(fn.__name__)
    tensor_names = frozenset(name for _, name, _ in tensor_args)
    other_positions = tuple(i for i, p in enumerate(inspect.signature(fn).parameters.values())
                            if p.name not in tensor_names and p.kind is not p.VAR_KEYWORD)
    first_other = other_positions[0] if other_positions else 1 << 30

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for i, name, refused in tensor_args:
            value = args[i] if i < len(args) else kwargs.get(name, _MISSING)
            kind = type(value)
            if kind in refused or (kind not in _ACCEPTED and not _accepted(kind)):
                raise _arg_errors.not_a_tensor(fn.__name__, i, name, value, args, kwargs)
        if (kwargs or len(args) > first_other) and _maybe_indices(
                args, kwargs, other_positions, tensor_names):
            args, kwargs = _as_indices(args, kwargs, other_positions, tensor_names)
        if argument_check is not None:
            argument_check(args, kwargs)
        if not _is_top_level():
            return _plain(fn, args, kwargs)
        split = _split(args, kwargs)
        if split is None:
            return _plain(fn, args, kwargs)
        key, arrays = split
        entry = cache.get(key)
        if entry is None:
            entry = _new_entry(fn, key, args, kwargs, random=False)
            with lock:
                cache[key] = entry
                if len(cache) > MAX_ENTRIES:
                    cache.popitem(last=False)
        elif len(cache) > 1:
            cache.move_to_end(key)
        if entry is not _PLAIN:
            try:
                out = _run(fn, entry, key, arrays, args, kwargs, cache)
            except Exception as error:  # torch's message raised in the trace, without JAX's note
                _state.drop_jax_note(error)
                raise
            if out is not _PLAIN:
                return out
        return _plain(fn, args, kwargs)

    wrapper._jnn_dispatch_cache = cache  # type: ignore[attr-defined]
    wrapper._jnn_plain = fn  # type: ignore[attr-defined]
    return wrapper


# What an int argument may be given as besides an int: a 0-d integer array (torch's
# parser takes a 0-d integer tensor, ``F.one_hot(t, t.max() + 1)``), alone or in a tuple
_MAYBE_INDEX = frozenset({_ArrayImpl, tuple, list})


def _maybe_indices(args: tuple, kwargs: dict, positions: tuple, tensor_names: frozenset
                   ) -> bool:
    """Whether a non-tensor argument is an array or holds one (one type check each)."""
    n = len(args)
    for i in positions:
        if i >= n:
            break
        if type(args[i]) in _MAYBE_INDEX and _holds_array(args[i]):
            return True
    for k, v in kwargs.items():
        if type(v) in _MAYBE_INDEX and k not in tensor_names and _holds_array(v):
            return True
    return False


def _holds_array(value: Any) -> bool:
    return type(value) is _ArrayImpl or any(type(v) is _ArrayImpl for v in value)


def _as_indices(args: tuple, kwargs: dict, positions: tuple, tensor_names: frozenset
                ) -> tuple[tuple, dict]:
    """``args``/``kwargs`` with every concrete 0-d integer array at a non-tensor parameter
    (alone or in a tuple or list) replaced by its Python int, as torch reads it (a host
    sync, as torch's ``item()``).  Other values, a float array included, stay as given."""
    def index(value: Any) -> Any:
        if type(value) is _ArrayImpl and value.ndim == 0 and value.dtype.kind in "iu":
            return int(value)
        if type(value) in (tuple, list) and any(type(v) is _ArrayImpl for v in value):
            return type(value)(map(index, value))
        return value

    args = tuple(index(v) if i in positions else v for i, v in enumerate(args))
    kwargs = {k: v if k in tensor_names else index(v) for k, v in kwargs.items()}
    return args, kwargs


def _new_entry(fn: Callable, key: tuple, args: tuple, kwargs: dict, random: bool) -> _Entry:
    box: list = [None]
    entry = _Entry(_make_program(fn, key, args, kwargs, random, box), random)
    box[0] = entry
    return entry


def _run(fn: Callable, entry: _Entry, key: tuple, arrays: list, args: tuple, kwargs: dict,
         cache: collections.OrderedDict) -> Any:
    if not entry.random:
        try:
            out, _, checks = entry.program(arrays, None)
        except _NeedsKey:
            entry = cache[key] = _new_entry(fn, key, args, kwargs, random=True)
            return _run(fn, entry, key, arrays, args, kwargs, cache)
        except (NeedsConcrete, jax.errors.ConcretizationTypeError,
                jax.errors.TracerArrayConversionError, jax.errors.TracerIntegerConversionError,
                jax.errors.TracerBoolConversionError):
            cache[key] = _PLAIN
            return _PLAIN
        except ValueError as error:  # arrays on two devices: torch's error
            mismatch = mismatch_error(error)
            if mismatch is None:
                raise
            raise mismatch from None
    else:
        if not isinstance(_core.trace_ctx.trace, _core.EvalTrace):
            return _PLAIN  # eager autograd: the plain draw keeps the generator's key concrete
        from jnn import random as jnn_random

        g = _generator(args, kwargs) or jnn_random.default_generator
        with _state.LOCK:  # read, draw and store the key atomically
            try:
                out, new_key, checks = entry.program(arrays, g.key)
            except (NeedsConcrete, jax.errors.ConcretizationTypeError,
                    jax.errors.TracerArrayConversionError,
                    jax.errors.TracerIntegerConversionError,
                    jax.errors.TracerBoolConversionError):
                cache[key] = _PLAIN
                return _PLAIN
            if checks:
                _raise_failed(entry.messages, checks)
            g.key = new_key
    if checks and not entry.random:
        _raise_failed(entry.messages, checks)
    if entry.passthrough:
        leaves, treedef = jax.tree_util.tree_flatten(out)
        for i, j in entry.passthrough:
            leaves[i] = arrays[j]
        out = jax.tree_util.tree_unflatten(treedef, leaves)
    return out


def _raise_failed(messages: list[str], checks: list) -> None:
    """Raise the first failed value check as torch's exception (a host sync, as torch's)."""
    if any(isinstance(ok, jax.core.Tracer) for ok, _ in checks):
        return  # autograd's abstract dry run: the differentiating pass that follows checks
    oks = jax.device_get([ok for ok, _ in checks])
    for ok, message, (_, values) in zip(oks, messages, checks):
        if not bool(np.all(ok)):
            kind, _, text = message.partition(": ")
            shown = [np.asarray(v).item() if np.ndim(v) == 0 else np.asarray(v)
                     for v in jax.device_get(values)]
            exc = {"IndexError": IndexError, "ValueError": ValueError}.get(kind, RuntimeError)
            raise exc(text.format(*shown) if kind else message.format(*shown))


def needs_key() -> None:
    """Called by a generator drawing inside a dispatch trace that did not thread its key."""
    if in_dispatch_trace():
        raise _NeedsKey


def cache_info(fn: Callable) -> dict:
    """The dispatch cache of one ``F.*`` function (for tests and benchmarks)."""
    cache = getattr(fn, "_jnn_dispatch_cache", None)
    if cache is None:
        return {"dispatched": False}
    return {"dispatched": True, "entries": len(cache),
            "plain": sum(e is _PLAIN for e in cache.values()),
            "random": sum(getattr(e, "random", False) for e in cache.values())}
