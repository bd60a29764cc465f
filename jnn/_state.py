"""Flags shared by the Module system, autograd and ``jnn.compile``.

Kept in one tiny module so every hot path reads a plain attribute, never a lookup chain.

Grad mode, forward depth, the read/write logs and the compile depth are **per thread**
(torch's grad mode is thread-local too): two threads training their own models never see
each other's flags.  The version counters and the pending packed store are global: they
describe objects every thread may read, and a structural change made by one thread must
invalidate the cached specs every thread reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class _Versions:
    __slots__ = ("structure", "spec", "config", "cells", "groups", "pending", "log")

    def __init__(self) -> None:
        # Any change to an optimizer's param groups that jnn made (``jnn.optim``'s
        # versioned containers: a group's options, its params list, the groups list): a
        # steady compiled call re-checks the groups only when this moved.
        self.groups = 0
        self.structure = 0  # which state exists (parameters, buffers, submodules)
        self.spec = 0  # anything in a module spec: structure and static configuration
        self.config = 0  # the same, except train()/eval() flips (specs cached per mode)
        self.cells = 0
        # the packed stores compiled calls left (see pending below): disjoint, oldest first
        self.pending: tuple = ()
        # Which objects each bump above was for, oldest first: (position of entries[0],
        # entries), each entry an id, a frozenset of ids, or None (anything may have
        # changed).  A compiled function whose objects none of the newer entries name keeps
        # its discovered state (versions per root, see :func:`unrelated_since`).
        self.log: tuple[int, list] = (0, [])


def _bumping(base: type, names: tuple[str, ...]) -> dict[str, Any]:
    """Methods of ``base`` that change it, each followed by a bump of the param-group
    version (``_state.versions.groups``)."""
    def wrap(name: str) -> Any:
        method = getattr(base, name)

        def changed(self: Any, *args: Any, **kwargs: Any) -> Any:
            out = method(self, *args, **kwargs)
            versions.groups += 1
            return out
        changed.__name__ = name
        return changed
    return {name: wrap(name) for name in names}


# The param groups jnn.optim builds (torch's plain lists and dicts, which they remain to
# every reader; jnn.save stores them as such) tell when they change, so a steady compiled
# step skips comparing every group's options with the last call's (a tenth of a tiny
# model's step).  A group dict a script passed in stays its own object, as in torch (its
# later changes reach the optimizer), and is compared every call.
GroupDict = type("GroupDict", (dict,), {
    "__slots__": (), "__module__": __name__,
    "__doc__": "A param group (a dict) whose changes bump the param-group version.",
    **_bumping(dict, ("__setitem__", "__delitem__", "__ior__", "update", "setdefault", "pop",
                      "popitem", "clear"))})
GroupList = type("GroupList", (list,), {
    "__slots__": (), "__module__": __name__,
    "__doc__": "A list (the groups, a group's params) whose changes bump the version.",
    **_bumping(list, ("__setitem__", "__delitem__", "__iadd__", "__imul__", "append",
                      "extend", "insert", "pop", "remove", "clear", "sort", "reverse"))})


# Held by every jnn.compile'd call and by every write-back of its packed state: a trace
# swaps tracers into shared objects and a call replaces the pending store, which no other
# thread may observe half-done.  Re-entrant: a write-back happens inside a call too.
LOCK = threading.RLock()

# While a trace (a jnn.compile'd call, an eager closure's gradient) holds tracers in the
# objects, the concrete values it swapped out, by (id(owner), kind) -> (thread id, value):
# what another thread reads there meanwhile (torch's reader sees the step before), without
# waiting for the trace, whose Python code may be waiting for that thread.
SHADOWS: dict[tuple[int, Any], tuple[int, Any]] = {}


def push_shadows(pairs: list[tuple[tuple[int, Any], Any]]) -> None:
    me = threading.get_ident()
    for key, value in pairs:
        SHADOWS[key] = (me, value)


def pop_shadows(pairs: list[tuple[tuple[int, Any], Any]]) -> None:
    for key, _ in pairs:
        SHADOWS.pop(key, None)


def shadow_of_optimizer(optimizer: object) -> tuple | None:
    """``(param_groups, state)`` copies with the concrete values an optimizer held before
    another thread's trace swapped its traced options and state in; None in the tracing
    thread itself, or when no trace holds it."""
    entry = SHADOWS.get((id(optimizer), "optimizer"))
    if entry is not None and entry[0] != threading.get_ident():
        return entry[1]
    return None


def shadow_of(owner: object, kind: Any, value: Any, slot: Callable[[], Any]) -> Any:
    """``value``, a tracer found in ``owner``'s slot ``kind`` (``slot()`` reads it again):
    the concrete value a trace of another thread swapped out, or ``value`` itself (this
    thread's own trace), or None where that trace ended meanwhile: read again."""
    entry = SHADOWS.get((id(owner), kind))
    if entry is not None and entry[0] != threading.get_ident():
        return entry[1]
    # (read after the lookup: a trace restores the slot before it drops its shadows)
    return None if slot() is not value else value


versions = _Versions()


NO_GUESS: dict = {}  # (never written to)


class _State(threading.local):
    # >0 while inside ``Module.__call__``: parameters then read as raw ``jax.Array``.
    forward_depth: int = 0
    # torch.is_grad_enabled(); ``jnn.no_grad`` flips it.
    grad_enabled: bool = True
    # torch.is_inference_mode_enabled(): inside ``jnn.inference_mode()`` (gradients off)
    inference: bool = False
    # While differentiating a closure (jnn.autograd): Parameters read, in order of first
    # read, and state cells written (container, key) -> value before the first write.
    read_log: dict | None = None
    write_log: dict | None = None
    # While jnn.autograd differentiates a closure eagerly (outside any trace): F.* calls
    # still run as their cached compiled programs (see jnn.nn.functional._dispatch), so
    # the closure's gradient is a chain of a few cached calls, not one op at a time.
    eager_grad: bool = False
    # >0 while jnn.compile traces a function (state written then is threaded, not leaked).
    compile_depth: int = 0
    # While jnn.compile traces a guessed first step: Parameter id -> the placeholder its
    # ``.grad`` holds, standing for torch's None, or the zeros ``zero_grad(set_to_none=
    # False)`` wrote over it (torch's would have left a None): a gradient cell still
    # holding that was not produced by the step (see _compile._try_guess).
    guessed_grads: dict = NO_GUESS
    # While jnn.compile(fn, checks=True) traces: value checks that need the numbers
    # (class targets in range, BCE probabilities) become checkify checks instead of
    # being skipped (see jnn.nn.functional._loss_common.value_checks_traced).
    value_checks: bool = False
    # While jnn.compile traces: ids of the Parameters, buffer dicts and generators the
    # program threads; a traced value written anywhere else is reported (see _compile).
    threaded: set | None = None
    # The packed state jnn.compile'd calls left on the device and have not yet written
    # back into the Python objects (Parameter data/grad, optimizer state): a tuple of
    # stores, one per compiled function at most, holding disjoint objects (a call first
    # writes back every store that holds its objects), so two models trained by two
    # compiled functions in turn each keep their state packed.  Global, not per thread: a
    # model trained in one thread and read in another must see the newest values.
    @property
    def pending(self) -> tuple:
        return versions.pending

    # Bumped by every change to any module's *structure* (registering or removing a
    # parameter/buffer/submodule, rebinding a plain attribute, train()/eval(), hooks,
    # requires_grad).  Each module caches its pytree spec with the version it was built
    # at, so a flatten with an unchanged version is a list comprehension, nothing more.
    @property
    def structure_version(self) -> int:
        return versions.structure

    @property
    def spec_version(self) -> int:
        return versions.spec

    # Bumped when a piece of array state appears or disappears without a structural change
    # (a ``.grad`` set or cleared, optimizer state created), so ``jnn.compile`` re-reads
    # which cells it threads.
    @property
    def cells_version(self) -> int:
        return versions.cells


state = _State()


# The change log keeps at least this many entries (twice as many before it is trimmed).
_LOG_KEEP = 256
_LOG_LOCK = threading.Lock()


def note_change(owner: int | frozenset | None) -> None:
    """Log that ``owner`` (an object's id, a frozenset of ids, None for anything) changed.

    Logged before the counters move: a reader that sees a new counter value finds the
    entry that explains it.
    """
    with _LOG_LOCK:
        base, entries = versions.log
        entries.append(owner)
        if len(entries) > 2 * _LOG_KEEP:
            versions.log = (base + len(entries) - _LOG_KEEP, entries[-_LOG_KEEP:])


def log_position() -> int:
    """Where the change log ends now (see :func:`unrelated_since`)."""
    base, entries = versions.log
    return base + len(entries)


def unrelated_since(position: int, watched: frozenset) -> int | None:
    """The log's end if no change logged after ``position`` names an id in ``watched``
    (structure versions per root: another model's change leaves this one's cached state
    valid); None where one does, where one was for anything, or where the log no longer
    reaches back that far."""
    with _LOG_LOCK:
        base, entries = versions.log
        start = position - base
        if start < 0:
            return None
        newer = entries[start:]
        end = base + len(entries)
    for owner in newer:
        if owner is None:
            return None
        if type(owner) is int:
            if owner in watched:
                return None
        elif not watched.isdisjoint(owner):
            return None
    return end


def bump_structure(owner: int | frozenset | None = None) -> None:
    """Invalidate cached module specs: a structural change happened to ``owner`` (an id,
    ids, or None: anywhere)."""
    note_change(owner)
    versions.structure += 1
    versions.spec += 1
    versions.config += 1


def bump_config(owner: int | frozenset | None = None) -> None:
    """Invalidate cached specs, not layouts: only static configuration changed.

    A plain attribute: the programs' keys change, but which arrays of state exist does
    not, so ``jnn.compile`` keeps its layout and packed store.
    """
    note_change(owner)
    versions.spec += 1
    versions.config += 1


def bump_training(owner: int | frozenset | None = None) -> None:
    """A ``training`` flag flipped (``train()``/``eval()``): specs change, but a module
    tree's spec for a given set of flags is cached (see ``_pytree.spec_of``), so
    alternating train and eval steps rebuilds nothing."""
    note_change(owner)
    versions.spec += 1


def bump_cells(owner: int | frozenset | None = None) -> None:
    """A piece of array state appeared or went (a ``.grad``, optimizer state) on
    ``owner``: ``jnn.compile`` re-reads which cells the functions that hold it thread."""
    note_change(owner)
    versions.cells += 1


def log_read(param: object) -> None:
    """Record a Parameter a differentiated closure used (not under ``jnn.no_grad()``)."""
    log = state.read_log
    if log is not None and state.grad_enabled and id(param) not in log:
        log[id(param)] = param


def log_write(container: object, key: object, old: object) -> None:
    """Record the value a state cell held before its first write in a differentiated closure."""
    log = state.write_log
    if log is not None and (id(container), key) not in log:
        log[(id(container), key)] = (container, key, old)


# At most this many stores stay pending; a new one writes the oldest back.
MAX_PENDING = 4


def flush() -> None:
    """Write packed state left by compiled calls back into the objects, and drop it.

    For writers: after this the objects are the only copy, so they may change.  Readers
    call :func:`materialize`, which keeps the packed stores for the next compiled calls.
    """
    with LOCK:
        if versions.pending:
            flush_stores(versions.pending)


def flush_stores(stores: tuple | list) -> None:
    """Write these pending stores back and drop them (their buffers are donated)."""
    with LOCK:
        stores = tuple(stores)
        error = None
        try:
            for store in stores:
                try:
                    store.materialize(release=True)  # type: ignore[attr-defined]
                except BaseException as caught:  # every store is written back, then raise
                    error = error or caught
        finally:
            # Dropped only once written back: a reader in another thread that sees no
            # pending store reads the objects' slots, which must hold the values by then.
            versions.pending = tuple(s for s in versions.pending if s not in stores)
        if error is not None:
            raise error


def materialize() -> None:
    """Make the objects hold the values compiled calls left packed; keep the stores.

    A read (logging a weight, ``state_dict()``, a copy) then costs one unpack, and the
    next compiled call still takes the packed buffers as they are: no re-pack.  A store
    stays valid until a write (:func:`flush`) or its function's next call replaces it.  A
    call that failed after it returned (an asynchronous device error surfaces here) marks
    its objects as lost and raises (see ``_compile._Store.materialize``).
    """
    with LOCK:
        for store in versions.pending:
            materialize_store(store)


def materialize_store(store: object) -> None:
    with LOCK:
        if not store.materialized:  # type: ignore[attr-defined]
            try:
                store.materialize()  # type: ignore[attr-defined]
            except Exception:  # the call that made it failed: its state is lost (marked)
                drop_pending(store)
                raise


def push_pending(store: object, replaced: object = None) -> None:
    """``store`` is pending from now on; ``replaced`` (the store its call consumed) is
    dropped without a write-back; past MAX_PENDING the oldest store is written back."""
    with LOCK:
        pending = versions.pending
        if replaced is not None and pending and pending[-1] is replaced:  # a steady loop
            versions.pending = (*pending[:-1], store)  # (the newest stays the newest)
            return
        stores = [s for s in versions.pending if s is not replaced]
        stores.append(store)
        versions.pending = tuple(stores)
        if len(stores) > MAX_PENDING:  # (still pending while written back: see above)
            flush_stores(stores[:-MAX_PENDING])


def drop_pending(store: object) -> None:
    """Forget ``store`` without writing it back (its call failed)."""
    with LOCK:
        versions.pending = tuple(s for s in versions.pending if s is not store)


def read_pending(owner: object, kind: str) -> object:
    """``owner``'s newest value from a pending store without unpacking the rest.

    Returns None when no unmaterialized store carries it: the object's own slot is then
    current.
    """
    # A value already copied out of a pending store (a state_dict() per step reads 200;
    # a logged weight is handed out with its step): dict lookups, without the lock.
    # Pending stores hold disjoint objects, so a value one of them has is the newest
    # (compiled calls replace stores under the lock; a reader racing one sees the step
    # before or after it, as in torch).  (Not from a store that lent buffers: a value
    # handed out here, unlocked, could be donated by a call running meanwhile, whose
    # check saw nobody hold it.)
    key = id(owner)
    for store in reversed(versions.pending):  # (newest first: a loop reads its own step's)
        if not store.materialized and not store.lent \
                and not store.offered:  # type: ignore[attr-defined]
            value = store.cache[kind].get(key)  # type: ignore[attr-defined]
            if value is not None:
                if value.is_deleted():
                    break  # (the script donated it: the locked path copies it again)
                store.hits = True  # type: ignore[attr-defined]
                return value
    with LOCK:
        for store in versions.pending:
            if store.materialized:  # type: ignore[attr-defined]
                continue
            try:
                value = store.read(owner, kind)  # type: ignore[attr-defined]
            except Exception:  # the call that made it failed: its state is lost (marked)
                drop_pending(store)
                raise
            # (an interrupt, Ctrl-C, leaves the store pending: it still holds the newest
            # state, which the objects' own slots do not)
            if value is not None:
                return value
        return None


def cached_owner(value: object, kind: str) -> object:
    """The object whose newest ``kind`` value ``value`` is, as a pending store's copied-out
    value (``p.data`` handed out with a compiled step); None if no store holds it."""
    for store in reversed(versions.pending):
        if store.materialized:  # type: ignore[attr-defined]
            continue
        owner = store.owner_of(value, kind)  # type: ignore[attr-defined]
        if owner is not None:
            return owner
    return None


def handed_stores() -> list | None:
    """The pending stores whose copied-out values a reader of many (``state_dict()``) may
    take from their caches directly, as :func:`read_pending`'s unlocked path would: newest
    first, the materialized ones left out; None where one lends buffers (then every read
    goes through :func:`read_pending`)."""
    stores = []
    for store in reversed(versions.pending):
        if store.materialized:  # type: ignore[attr-defined]
            continue
        if store.lent or store.offered:  # type: ignore[attr-defined]
            return None
        stores.append(store)
    return stores


def read_out(owner: object, kind: str) -> bool:
    """Whether every cell of ``kind`` of the pending store holding ``owner`` was copied
    out already (a ``state_dict()`` per step: its step handed them out with it)."""
    key = id(owner)
    for store in reversed(versions.pending):
        if not store.materialized and key in store.cache[kind]:  # type: ignore[attr-defined]
            return kind in store.whole  # type: ignore[attr-defined]
    return False


def read_whole(owner: object, kind: str = "data") -> None:
    """Many reads are coming (a ``state_dict()``): the pending store that holds ``owner``
    copies all its cells of ``kind`` out in one program instead of one at a time."""
    with LOCK:
        for store in versions.pending:
            if store.materialized or store.layout.index_of(owner, kind) is None:  # type: ignore[attr-defined]
                continue
            try:
                store.read_whole(kind)  # type: ignore[attr-defined]
            except Exception:  # the call that made it failed: its state is lost (marked)
                drop_pending(store)
                raise
            return


class LostState:
    """Stands in a state slot whose value a failed compiled call destroyed.

    Donated inputs of an XLA program are gone once it has run; if the program then
    failed (a device error, a host callback that raised, an out-of-memory), the newest
    values of the state it carried exist nowhere.  Each slot then holds this marker, and
    every read raises :meth:`error` instead of returning the values of an older step.
    """

    __slots__ = ("reason", "shape", "dtype", "sharding")

    def __init__(self, reason: str, shape: tuple = (), dtype: object = None) -> None:
        self.reason = reason
        # what the lost array was: enough to load a replacement (load_state_dict)
        self.shape = shape
        self.dtype = dtype
        self.sharding = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def error(self) -> RuntimeError:
        return RuntimeError(
            "jnn.compile: this state was lost in a failed compiled call: "
            f"{self.reason}. Its inputs had been donated to the program (jnn.compile's "
            "default, which halves peak memory), so no copy of the last step survives. "
            "Reload it (model.load_state_dict(...), optimizer.load_state_dict(...)) or "
            "compile with jnn.compile(fn, donate=False) to keep the previous step's "
            "state whenever a call fails (an eager optimizer.step(closure) is compiled "
            "by jnn from its third call: jnn.autograd.set_closure_compilation(False) "
            "keeps it op by op). The random generator stays at its last completed step."
        )


def _is_tracer(value: object) -> bool:
    from jax.core import Tracer

    return isinstance(value, Tracer)


def in_transformation() -> bool:
    """Inside a JAX transformation (jax.jit, grad, vmap) that is not jnn's."""
    from jax._src import core

    return not isinstance(core.trace_ctx.trace, core.EvalTrace)


def check_write(owner: object, old: object, value: object, what: str) -> None:
    """A traced value may only land in jnn state that a transformation threads.

    Inside ``jnn.compile`` the threaded state holds tracers already (or is listed in
    ``state.threaded``: a ``.grad`` that appears during the step); a differentiated closure
    logs and restores what it writes.  Anything else — an optimizer step or ``p.data = ...``
    under a plain ``jax.jit``, state reached through an object ``jnn.compile`` did not
    discover — would keep a tracer after the trace: refuse it here, at the write.
    """
    st = state
    if not _is_tracer(value):
        # A compiled function's Python runs once, at its trace: changing the concrete
        # state of an object it does not thread (``other.zero_grad()``) would happen once,
        # not per call, and would outlive a failed trace.  Refuse it, before it happens;
        # under a plain jax.jit/grad/vmap too (``optimizer.step(closure)`` in jax.jit).
        if (st.write_log is not None or value is old or old is None or _is_tracer(old)
                or type(old) is LostState
                or (st.threaded is not None and id(owner) in st.threaded)
                or not (st.compile_depth or in_transformation())):
            return
    elif _is_tracer(old) or st.write_log is not None:
        return
    threaded = st.threaded
    if threaded is not None and id(owner) in threaded:
        return
    if st.compile_depth:
        raise RuntimeError(
            f"jnn.compile: the compiled function wrote {what} ({type(owner).__name__}) "
            "that it does not thread: the object was not found among the function's "
            "state. Pass it explicitly — jnn.compile(fn, state=(model, optimizer, ...)) — "
            "or reach it from the function's closure, globals, arguments or the attributes "
            "its code names of the plain objects those hold."
        )
    raise RuntimeError(
        f"{what} ({type(owner).__name__}) was set to a traced value inside a JAX "
        "transformation (jax.jit, jax.vmap, jax.grad, ...) that does not thread jnn's "
        "state, which would leave a tracer behind. Compile stateful steps with "
        "jnn.compile(fn) (it threads parameters, .grad, buffers and optimizer state), or "
        "keep the transformed function pure: jnn.func.functional_call / jnn.grad."
    )


# -- Ctrl-C while a compiled call's results are in flight ---------------------------------
# A compiled call donates the packed state to the program: from its dispatch until its
# outputs are written back, the newest state exists only in local variables.  Python
# raises KeyboardInterrupt at the next bytecode after the signal, which there would drop
# those outputs and lose the model.  So jnn's SIGINT handler (wrapping whatever handler
# was installed) holds a Ctrl-C that lands in that window and raises it once the call is
# written back: the interrupted step either completed or never ran.  Traces run with the
# interrupt live (nothing is donated yet; a failed trace changes nothing).


class _SigintGuard:
    __slots__ = ("depth", "caught", "previous")

    def __init__(self) -> None:
        self.depth = 0  # >0: the main thread is between a dispatch and its write-back
        self.caught: tuple | None = None  # (signum, frame) of a held Ctrl-C
        self.previous: object = None  # the handler jnn's wraps


SIGINT_GUARD = _SigintGuard()
MAIN_THREAD = threading.main_thread().ident


def _on_sigint(signum: int, frame: object) -> None:
    if SIGINT_GUARD.depth:
        SIGINT_GUARD.caught = (signum, frame)
        return
    SIGINT_GUARD.previous(signum, frame)  # type: ignore[operator]


def install_sigint_guard() -> None:
    """Wrap the current SIGINT handler (from the main thread; again after the user
    installs another one).  A non-callable handler (ignored, default) is left alone."""
    if threading.get_ident() != MAIN_THREAD:
        return
    import signal

    current = signal.getsignal(signal.SIGINT)
    if current is _on_sigint or not callable(current):
        return
    SIGINT_GUARD.previous = current
    signal.signal(signal.SIGINT, _on_sigint)


def release_sigint() -> None:
    """Leaving a guarded section (depth already lowered to 0): raise a held Ctrl-C now."""
    caught, SIGINT_GUARD.caught = SIGINT_GUARD.caught, None
    if caught is not None:
        SIGINT_GUARD.previous(*caught)  # type: ignore[operator]


# -- errors raised through jnn's own jax.jit / jax.linearize calls --------------------------
# JAX adds a note to every exception that leaves one of its API boundaries ("For
# simplicity, JAX has removed its internal frames ..."), which becomes part of the text
# pytest's ``match`` and tools that print notes see.  A user who never called JAX (an eager
# ``F.*`` call, ``loss.backward()``, ``optimizer.step(closure)``) gets torch's message
# alone; the filtered traceback stays.
_JAX_NOTE = "For simplicity, JAX has removed its internal frames"


def drop_jax_note(error: BaseException) -> None:
    notes = getattr(error, "__notes__", None)
    if notes and any(_JAX_NOTE in n for n in notes):
        notes[:] = [n for n in notes if _JAX_NOTE not in n]
        if not notes:
            del error.__notes__
