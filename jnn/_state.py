"""Process-wide flags shared by the Module system, autograd and ``jnn.compile``.

Kept in one tiny module so every hot path reads a plain attribute, never a lookup chain.
"""

from __future__ import annotations


class _State:
    # Bumped by every change to any module's *structure* (registering or removing a
    # parameter/buffer/submodule, rebinding a plain attribute, train()/eval(), hooks,
    # requires_grad).  Each module caches its pytree spec with the version it was built
    # at, so a flatten with an unchanged version is a list comprehension, nothing more.
    structure_version: int = 0
    # >0 while inside ``Module.__call__``: parameters then read as raw ``jax.Array``.
    forward_depth: int = 0
    # Bumped when a piece of array state appears or disappears without a structural change
    # (a ``.grad`` set or cleared, optimizer state created), so ``jnn.compile`` re-reads
    # which cells it threads.
    cells_version: int = 0
    # torch.is_grad_enabled(); ``jnn.no_grad`` flips it.
    grad_enabled: bool = True
    # While differentiating a closure (jnn.autograd): Parameters read, in order of first
    # read, and state cells written (container, key) -> value before the first write.
    read_log: dict | None = None
    write_log: dict | None = None
    # >0 while jnn.compile traces a function (state written then is threaded, not leaked).
    compile_depth: int = 0
    # The packed state a jnn.compile'd call left on the device and has not yet written
    # back into the Python objects (Parameter data/grad, optimizer state), or None.
    pending: object = None


state = _State()


def bump_structure() -> None:
    """Invalidate every cached module spec (a structural change happened somewhere)."""
    state.structure_version += 1


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


def flush() -> None:
    """Write packed state left by a compiled call back into the objects (see _compile)."""
    store = state.pending
    if store is not None:
        state.pending = None
        store.flush()  # type: ignore[attr-defined]
