"""Gradients the torch way, without a tape.

JAX differentiates functions, so where torch writes ``loss.backward()`` jnn takes the
computation as a closure, as torch's own ``optimizer.step(closure)`` idiom does::

    def closure():
        optimizer.zero_grad()
        return loss_fn(model(x), y)

    loss = jnn.autograd.backward(closure)   # accumulates into p.grad, like loss.backward()
    optimizer.step()

How it works: the Parameters' arrays are swapped for JAX's differentiation tracers while
the closure runs, so every read of ``self.weight`` in ``forward`` is differentiated.  Buffers
the closure writes (BatchNorm running statistics) and the random generator's key are
recorded, restored, returned as auxiliary outputs of the differentiated function and then
written back, so no tracer leaks.  Parameters the closure never reads, or reads only
through ``detach()``/``stop_gradient`` (the linearized loss does not use them), keep
``.grad`` unchanged (``None`` after ``zero_grad``), as torch's graph does not reach them.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jnn import _state
from jnn._tensor_functions.dtypes import torch_repr
from jnn.nn.modules import _hooks
from jnn.nn.parameter import Parameter, check_bool_argument

__all__ = ["backward", "set_closure_compilation", "grad", "value_and_grad", "no_grad",
           "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
           "is_inference_mode_enabled"]


def _get(container: Any, key: Any) -> Any:
    return container[key] if isinstance(container, dict) else getattr(container, key)


def _set(container: Any, key: Any, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
    else:
        setattr(container, key, value)


def _split_output(out: Any) -> tuple[Any, Any, Any]:
    """``(loss, aux, form)`` of what a closure returned: the loss alone (form False), a
    pair ``(loss, aux)`` (True), or any other tuple or list whose first element is the
    loss (its type; aux is the rest).  torch's ``step(closure)`` returns what the closure
    returned, whatever it is; jnn differentiates its loss (see :func:`rejoin`)."""
    if type(out) is tuple and len(out) == 2:
        return out[0], out[1], True
    if type(out) in (tuple, list) and out:
        return out[0], tuple(out[1:]), type(out)
    return out, None, False


def rejoin(loss: Any, aux: Any, form: Any) -> Any:
    """What the closure returned, with the loss as computed: :func:`_split_output` back."""
    if form is False:
        return loss
    if form is True:
        return loss, aux
    return form((loss, *aux))


_NO_GRAD_FN = "element 0 of tensors does not require grad and does not have a grad_fn"


def _check_scalar(loss: Any) -> jax.Array:
    if loss is None:
        raise RuntimeError(
            "the closure returned None: jnn differentiates what the closure returns (it has "
            "no loss.backward()), so return the loss")
    loss = jnp.asarray(loss)
    if loss.size != 1:  # torch: one element, of any shape ([1], [1, 1]) is a scalar loss
        raise RuntimeError("grad can be implicitly created only for scalar outputs")
    if jnp.issubdtype(loss.dtype, jnp.complexfloating):
        raise RuntimeError("grad can be implicitly created only for real scalar outputs but "
                           f"got {torch_repr(loss.dtype)}")
    if not jnp.issubdtype(loss.dtype, jnp.inexact):
        raise RuntimeError(
            f"{_NO_GRAD_FN} (the closure returned a {loss.dtype} loss; it must be floating "
            "point)"
        )
    return loss


def check_reaches_a_parameter(read: Sequence[Parameter]) -> None:
    """torch's error for a loss no trainable parameter reaches (it has no grad_fn)."""
    if not any(p.requires_grad for p in read):
        raise RuntimeError(f"{_NO_GRAD_FN} (no trainable parameter reaches the closure's loss)")


def differentiate(closure: Callable[[], Any], params: Sequence[Parameter], *,
                  commit: bool = True) -> tuple[Any, Any, bool, list[jax.Array], list[Parameter]]:
    """Evaluate ``closure`` and the gradient of its loss w.r.t. ``params``' arrays.

    Returns ``(loss, aux, has_aux, grads, read)``: ``read`` lists every Parameter the
    closure used, in order of first use (torch gives a gradient only to those; it may
    include Parameters outside ``params``).  The state the closure wrote (buffers, the
    generator key) is committed unless ``commit=False``; then ``read`` is followed by a
    callable that commits it — nothing changes until every computation succeeded.
    """
    if not _state.state.grad_enabled:
        raise RuntimeError(
            f"{_NO_GRAD_FN} (gradients were requested inside jnn.no_grad())"
        )
    if _state.state.pending:  # the raw slots below must hold the newest state
        _state.flush()
    record: dict[str, Any] = {}
    top_level = not _state.state.compile_depth and not _state.in_transformation()

    def f(values: list[jax.Array]) -> tuple[jax.Array, Any]:
        saved = [p._value for p in params]
        shadows = [((id(p), "data"), v) for p, v in zip(params, saved)
                   if not isinstance(v, jax.core.Tracer)]
        _state.push_shadows(shadows)  # (another thread reads these meanwhile)
        st = _state.state
        outer_reads, outer_writes = st.read_log, st.write_log
        st.read_log, st.write_log = {}, {}
        try:
            for p, v in zip(params, values):
                p._value = v  # the raw slot: the swap is not a write of the user's
            loss, aux, has_aux = _split_output(closure())
            loss = _check_scalar(loss)
            if top_level:  # what the closure kept (`outs.append(out)`): values, as torch's
                _detach_kept(closure)
                for m in list(_hooks.HOOKED):  # and forward hooks (`acts.append(output)`)
                    d = m.__dict__
                    for hooks in (d.get("_forward_pre_hooks"), d.get("_forward_hooks")):
                        for hook in (hooks or {}).values():
                            _detach_kept(hook)
            writes = list(st.write_log.values())
            new_state = [_get(c, k) for c, k, _ in writes]
            record.update(writes=writes, reads=st.read_log, has_aux=has_aux)
        finally:
            for c, k, old in (st.write_log or {}).values():
                _set(c, k, old)
            for p, s in zip(params, saved):
                p._value = s
            _state.pop_shadows(shadows)
            reads = st.read_log
            st.read_log, st.write_log = outer_reads, outer_writes
            if outer_reads is not None and reads:
                outer_reads.update(reads)
        return loss, (aux, new_state)

    # The closure's .grad writes (its zero_grad()) land at once, as torch's (a closure that
    # raises has cleared them, as in torch).  Under someone's jax.jit, where the step then
    # fails at a write nothing threads (jnn's error, not torch's), they are put back.
    saved_grads = [p._gradient for p in params] if _state.in_transformation() else None
    # One thread at a time swaps tracers into the Parameters' slots: two threads stepping
    # one shared model (hogwild with threads) would save and restore each other's tracers.
    # (Readers in other threads see the values before, through the shadows above.)
    try:
        with _state.LOCK:
            values = [p._data for p in params]
            with _eager_dispatch():
                loss, grads, (aux, new_state), reached = _value_and_grad(f, values)
    except BaseException as error:
        _restore_grads(params, saved_grads)
        _state.drop_jax_note(error)
        if (isinstance(error, _PYTHON_NUMBER_REFUSED) and not _state.state.compile_depth
                and not _state.in_transformation()):
            raise RuntimeError(_PYTHON_NUMBER_MESSAGE) from error
        raise

    def commit_writes() -> None:
        pairs = list(zip(record["writes"], new_state))
        try:
            for (container, key, _), value in pairs:  # every write checked before any lands
                _check_commit(container, key, value)
        except BaseException:
            _restore_grads(params, saved_grads)
            raise
        for (container, key, _), value in pairs:
            _commit(container, key, value)

    # torch gives .grad only to the leaves the loss's graph reaches: not through detach()
    unreached = {id(p) for p, r in zip(params, reached) if not r}
    read = [p for p in record["reads"].values() if id(p) not in unreached]
    if commit:
        commit_writes()
        return loss, aux, record["has_aux"], grads, read
    # (the caller's later failure, before its gradients land, puts the .grad slots back)
    commit_writes.rollback = lambda: _restore_grads(params, saved_grads)  # type: ignore
    return loss, aux, record["has_aux"], grads, read, commit_writes  # type: ignore[return-value]


def _value_and_grad(f: Callable, values: list[jax.Array]) -> tuple[Any, list, Any, list[bool]]:
    """``jax.value_and_grad(f, has_aux=True)(values)``, and which of ``values`` the loss
    reaches differentiably.  Through ``stop_gradient`` (``detach()``), or not at all, a
    value's tangent is a symbolic zero that the linearized program never uses: torch's
    graph does not reach it either, and gives it no ``.grad``."""
    if not values:
        loss, aux = f(values)
        return loss, [], aux, []
    loss, linear, aux = jax.linearize(f, values, has_aux=True)
    one = jnp.ones_like(loss)
    found = _linear_program(linear)
    if found is not None:
        jaxpr, consts, loss_known = found
        if loss_known:  # a loss that depends on no value differentiably
            return loss, [jnp.zeros_like(v) for v in values], aux, [False] * len(values)
        try:
            grads, used = _transpose(jaxpr, consts, one, values)
            return loss, grads, aux, used
        except (ImportError, AttributeError):  # another JAX's internals: the public route
            pass
    # one more trace of the linear program
    (grads,) = jax.linear_transpose(linear, values)(one)
    return loss, grads, aux, _used_inputs(jax.make_jaxpr(linear)(values).jaxpr)


def _transpose(jaxpr: Any, consts: Any, one: jax.Array, values: list) -> tuple[list, list]:
    """The linear program's transpose at ``one``, and which inputs it uses: what
    ``jax.linear_transpose`` does, without tracing the program once more."""
    from jax._src.interpreters import ad
    from jax._src.interpreters.partial_eval import dce_jaxpr

    jaxpr, used = dce_jaxpr(jaxpr, [True], instantiate=False)
    dummies = [ad.UndefinedPrimal(v.aval.to_ct_aval()) for v in jaxpr.invars]
    cts = iter(ad.backward_pass(jaxpr, True, consts, dummies, [one]))
    grads = [ad.instantiate_zeros(next(cts)) if u else jnp.zeros_like(v)
             for u, v in zip(used, values)]
    return grads, list(used)


def _linear_program(linear: Any) -> tuple[Any, Any, bool] | None:
    """The jaxpr, constants and whether the output tangent is known (zero) of the function
    ``jax.linearize`` returned, read from the partial it is; ``None`` where a JAX version
    builds it otherwise."""
    from jax.extend.core import Jaxpr

    try:
        jaxpr, _, _, out_known = linear.func.args
        (consts,) = linear.args
    except (AttributeError, TypeError, ValueError):
        return None
    if not isinstance(jaxpr, Jaxpr) or len(out_known) != 1 or \
            len(jaxpr.outvars) != (0 if out_known[0] else 1):
        return None
    return jaxpr, consts, bool(out_known[0])


def _used_inputs(jaxpr: Any) -> list[bool]:
    """Which inputs of ``jaxpr`` its outputs depend on (dead code removed)."""
    try:
        from jax._src.interpreters.partial_eval import dce_jaxpr
    except ImportError:  # pragma: no cover - a JAX without it: every read value is reached
        return [True] * len(jaxpr.invars)
    return list(dce_jaxpr(jaxpr, [True] * len(jaxpr.outvars))[1])


@contextlib.contextmanager
def _eager_dispatch() -> Iterator[None]:
    """Differentiating at top level (not inside jnn.compile or another trace): the F.* calls
    of the closure keep their eager dispatch (one cached program each, differentiated by
    JAX's rules for compiled calls), instead of running op by op under autodiff."""
    st = _state.state
    outer = st.eager_grad
    if not outer:
        from jax._src import core

        st.eager_grad = isinstance(core.trace_ctx.trace, core.EvalTrace)
    try:
        yield
    finally:
        st.eager_grad = outer


_KEPT_SCAN = 8  # a list's newest entries looked at (a history is not walked per step)


def _detached(value: Any) -> Any:
    """``value`` with the differentiation's tracers replaced by their values (None: no
    tracer, or one of an enclosing trace that stays)."""
    if isinstance(value, jax.core.Tracer):
        try:
            out = jax.lax.stop_gradient(value)
        except jax.errors.UnexpectedTracerError:  # another, finished trace's: left as is
            return None
        return None if isinstance(out, jax.core.Tracer) else out
    return None


def _detach_kept(closure: Callable[[], Any]) -> None:
    """Eagerly, the closure runs inside JAX's differentiation, so what it keeps in its
    variables (``outs.append(out)``, ``nonlocal last; last = out``) would be tracers of
    it, unusable after the step.  torch keeps tensors there: keep their values."""
    fn = getattr(closure, "__func__", closure)
    places: list[tuple[Any, Any]] = []
    for cell in getattr(fn, "__closure__", None) or ():
        places.append((cell, None))
    code = getattr(fn, "__code__", None)
    if code is not None:
        g = fn.__globals__
        places.extend((g, name) for name in code.co_names if name in g)
    names = set(code.co_names) if code is not None else set()
    for where, key in list(places):  # the attributes its code names of its plain objects
        try:
            value = where.cell_contents if key is None else where[key]
        except (ValueError, KeyError):
            continue
        d = getattr(value, "__dict__", None)
        if type(d) is dict and not isinstance(value, (Parameter, type)) and \
                type(value).__module__.split(".")[0] not in ("jnn", "jax", "builtins"):
            places.extend((d, a) for a in names.intersection(d))
    for where, key in places:
        try:
            value = where.cell_contents if key is None else where[key]
        except (ValueError, KeyError):
            continue
        new = _detached(value)
        if new is not None:
            if key is None:
                where.cell_contents = new
            else:
                where[key] = new
        elif isinstance(value, list):
            for i in range(max(0, len(value) - _KEPT_SCAN), len(value)):
                new = _detached(value[i])
                if new is not None:
                    value[i] = new
        elif isinstance(value, dict) and len(value) <= 64:
            for k, v in value.items():
                new = _detached(v)
                if new is not None:
                    value[k] = new


def _restore_grads(params: Sequence[Parameter], saved: list | None) -> None:
    if saved is None:
        return
    for p, g in zip(params, saved):
        if p._gradient is not g:
            if (p._gradient is None) != (g is None):
                _state.bump_cells(id(p))  # which .grad slots exist changed back
            p._gradient = g


def _commit(container: Any, key: Any, value: Any) -> None:
    """Write state the closure produced (checked by ``_check_commit`` first)."""
    old = _get(container, key)
    if _state.state.write_log is not None:
        _state.log_write(container, key, old)
    _set(container, key, value)


def _check_commit(container: Any, key: Any, value: Any) -> None:
    """A tracer the closure produced may only land where it is threaded."""
    old = _get(container, key)
    if (isinstance(value, jax.core.Tracer) and not isinstance(old, jax.core.Tracer)
            and _state.state.write_log is None and not _state.state.compile_depth):
        raise RuntimeError(
            f"a differentiated closure under a JAX transformation (jax.jit, jax.vmap, ...) "
            f"wrote state ({type(container).__name__}[{key!r}]) that the transformation does "
            "not thread, which would leak a tracer. Use jnn.compile(fn) to compile a stateful "
            "training step, or use jnn.func.functional_call for pure functions."
        )


def _accumulate(params: Iterable[Parameter], grads: Iterable[jax.Array]) -> None:
    new = []
    for p, g in zip(params, grads):
        g = g.astype(p._data.dtype)
        old = p._grad
        new.append((p, old, g if old is None else old + g))
    for p, old, g in new:  # every write checked before any lands
        _state.check_write(p, old, g, "a Parameter's .grad")
    for p, old, g in new:
        if old is None:
            _state.bump_cells(id(p))  # a new .grad cell (see Parameter.grad)
        p._grad = g


def accumulate_read(params: Sequence[Parameter], grads: Sequence[jax.Array],
                    read: Sequence[Parameter]) -> None:
    """Accumulate the gradients of the Parameters of ``params`` the closure read."""
    ids = {id(p) for p in read}
    pairs = [(p, g) for p, g in zip(params, grads) if id(p) in ids]
    _accumulate([p for p, _ in pairs], [g for _, g in pairs])


def _trainable(params: Iterable[Parameter], strict: bool = False) -> list[Parameter]:
    out, seen = [], set()
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"expected a jnn.nn.Parameter, got {type(p).__name__}")
        if strict and not p.requires_grad:  # torch: backward(inputs=[frozen]) raises
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


# What JAX's tracers refuse in an eager differentiation, where .item(), int() and bool()
# give the value: float(x), complex(x), np.asarray(x) (JAX's own inconsistency).
_PYTHON_NUMBER_REFUSED = (jax.errors.ConcretizationTypeError,
                          jax.errors.TracerArrayConversionError)
_PYTHON_NUMBER_MESSAGE = (
    "jnn: the closure needs a concrete value of an array it computes from the parameters "
    "(float(x), complex(x), np.asarray(x), or a shape that depends on values: x[mask], "
    "jnp.nonzero(x)) while jnn differentiates it, which JAX refuses for the values it "
    "differentiates (torch allows it). Use x.item() (int(x) and bool(x) work here too), "
    "return the value beside the loss (`return loss, x`: step(closure) and "
    "backward(closure) return the pair) and convert it after the step, or keep shapes "
    "static (jnp.where).")

# what an abstract run of a closure raises where the closure needs a concrete value
_NEEDS_VALUES = (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
                 jax.errors.TracerIntegerConversionError)


def _used_parameters(closure: Callable[[], Any]) -> list[Parameter]:
    """The Parameters a closure reads (an abstract dry run, state restored afterwards)."""
    st = _state.state
    if st.pending:  # never flush inside the dry run's trace (zero_grad would)
        _state.flush()
    outer_reads, outer_writes = st.read_log, st.write_log
    st.read_log, st.write_log = {}, {}
    try:
        try:
            with _eager_dispatch():
                jax.eval_shape(lambda: _split_output(closure())[0])
        except _NEEDS_VALUES:
            # The closure needs a value (`scale = p.sum().item()`, `if (p > 0).all():`),
            # which an abstract run has not: found by a concrete run instead (its writes
            # undone alike), as torch's eager backward would run it.
            for c, k, old in st.write_log.values():
                _set(c, k, old)
            st.read_log, st.write_log = {}, {}
            _split_output(closure())
        reads = list(st.read_log.values())
    finally:
        for c, k, old in st.write_log.values():
            _set(c, k, old)
        st.read_log, st.write_log = outer_reads, outer_writes
        if not st.compile_depth and not _state.in_transformation():
            from jnn._compile import _scrub_containers  # (what the dry run kept goes)

            _scrub_containers(closure, list(_hooks.HOOKED))
    return [p for p in reads if p.requires_grad]


def backward(closure: Callable[[], Any], inputs: Iterable[Parameter] | None = None) -> Any:
    """Compute the gradient of ``closure()``'s loss and accumulate it into ``.grad``.

    The jnn form of torch's ``loss = f(); loss.backward()``.

    Args:
        closure: takes no arguments and returns the scalar loss, or a tuple or list that
            starts with it (``(loss, aux)``); it may call ``optimizer.zero_grad()`` first,
            as torch code does.
        inputs: the Parameters to differentiate (torch's ``inputs=``). ``None`` reaches
            every Parameter with ``requires_grad=True`` the closure reads — found by an
            abstract dry run of the closure, which costs one extra trace (a concrete run
            where the closure needs a value, ``.item()`` or a branch; its writes undone); pass
            ``inputs=model.parameters()`` to skip it.

    Returns:
        What the closure returned (``loss``, ``(loss, aux)``, ...), as torch's ``step``.

    PyTorch: ``torch.autograd.backward`` / ``Tensor.backward``; the loss is a closure.
    """
    if inputs is None:  # repeated eager calls of one closure code compile (jnn._eager_step)
        from jnn import _eager_step

        return _eager_step.run(None, closure, "backward", lambda: _backward(closure, None))
    return _backward(closure, inputs)


def _backward(closure: Callable[[], Any], inputs: Iterable[Parameter] | None) -> Any:
    params = _used_parameters(closure) if inputs is None else _trainable(inputs, strict=True)
    loss, aux, has_aux, grads, read, commit = differentiate(closure, params, commit=False)
    try:
        if inputs is None:  # (explicit inputs: the loss may depend on other leaves)
            check_reaches_a_parameter(read)
        commit()
        accumulate_read(params, grads, read)
    except BaseException:
        commit.rollback()
        raise
    return rejoin(loss, aux, has_aux)


def set_closure_compilation(enabled: bool) -> None:
    """Compile repeated eager ``optimizer.step(closure)`` / ``backward(closure)`` calls.

    On by default: from the third call of the same closure code, the step runs as one
    cached compiled program (see ``jnn._eager_step``); the closure's Python then runs at
    trace time only, as under ``jnn.compile``.  Off, every call differentiates the closure
    op by op (its prints and breakpoints run each time).
    """
    from jnn import _eager_step

    _eager_step.set_closure_compilation(enabled)


# -- functional forms ---------------------------------------------------------------


def _is_module(x: Any) -> bool:
    from jnn.nn.modules.module import Module

    return isinstance(x, Module)


def _partition(arg: Any) -> tuple[list, list[bool], Callable[[list], Any]]:
    """Leaves of ``arg``, which of them are differentiated, and how to rebuild ``arg``.

    Inside modules only Parameters with ``requires_grad=True`` are differentiated (buffers
    and frozen parameters are not); outside, every floating-point array is.
    """
    outer, outer_def = jax.tree_util.tree_flatten(arg, is_leaf=_is_module)
    leaves: list = []
    mask: list[bool] = []
    pieces = []
    for item in outer:
        if _is_module(item):
            sub, spec = jax.tree_util.tree_flatten(item)
            trainable = _trainable_leaf_mask(item, len(sub))  # from the cached spec
            pieces.append(("module", spec, len(sub)))
            leaves.extend(sub)
            mask.extend(trainable)
        else:
            pieces.append(("leaf", None, 1))
            leaves.append(item)
            mask.append(isinstance(item, (jax.Array, float)) and
                        jnp.issubdtype(jnp.result_type(item), jnp.inexact))

    def rebuild(new_leaves: list) -> Any:
        out, i = [], 0
        for kind, spec, n in pieces:
            if kind == "module":
                out.append(jax.tree_util.tree_unflatten(spec, new_leaves[i:i + n]))
            else:
                out.append(new_leaves[i])
            i += n
        return jax.tree_util.tree_unflatten(outer_def, out)

    return leaves, mask, rebuild


def _trainable_leaf_mask(module: Any, n_leaves: int) -> list[bool]:
    """Which of the module's ``n_leaves`` pytree leaves are trainable Parameters."""
    from jnn.nn.modules import _pytree

    mask = [False] * n_leaves
    for node in _pytree.spec_of(module).nodes:
        for _, leaf, requires_grad in node.params:
            if leaf is not None and requires_grad:
                mask[leaf] = True
    return mask


def value_and_grad(fn: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., Any]:
    """Like ``jax.value_and_grad``, for functions of modules.

    Modules in the differentiated arguments get module-shaped gradients
    (``grads.fc.weight``); frozen parameters (``requires_grad=False``) and buffers get
    ``None`` there and are not differentiated.

    PyTorch: ``torch.func.grad_and_value`` (argument order as JAX's: value first).
    """
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        parts = {i: _partition(args[i]) for i in nums}

        def inner(diff: dict[int, list]) -> Any:
            new_args = list(args)
            for i, (leaves, mask, rebuild) in parts.items():
                it = iter(diff[i])
                new_args[i] = rebuild([next(it) if m else leaf for leaf, m in zip(leaves, mask)])
            return fn(*new_args, **kwargs)

        diff = {i: [leaf for leaf, m in zip(leaves, mask) if m]
                for i, (leaves, mask, _) in parts.items()}
        value, grads = jax.value_and_grad(inner, has_aux=has_aux)(diff)
        out = []
        for i in nums:
            leaves, mask, rebuild = parts[i]
            it = iter(grads[i])
            out.append(rebuild([next(it) if m else None for m in mask]))
        return value, (out[0] if single else tuple(out))

    return wrapper


def grad(fn: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False) -> Callable[..., Any]:
    """Like ``jax.grad``, for functions of modules (see :func:`value_and_grad`).

    PyTorch: ``torch.func.grad``.
    """
    vg = value_and_grad(fn, argnums, has_aux)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


# -- grad mode ------------------------------------------------------------------------


class _GradMode:
    """A grad-mode switch usable as ``with mode:`` and as ``@mode`` on a function.

    As a decorator it enters a fresh copy of itself around every call, as torch's do, so
    a recursive function or one called from several threads restores the mode its caller
    had.  A generator function gets the mode while its body runs (each ``next``,
    ``send``, ``throw`` and ``close``), and its caller's mode in between, as torch's
    decorated generators do; a plain ``ContextDecorator`` would cover only the call that
    creates the generator, before any of its body runs.
    """

    prev: bool

    def _fresh(self) -> _GradMode:
        return type(self)()

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.isgeneratorfunction(func):
            return self._decorate_generator(func)

        @functools.wraps(func)
        def decorated(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return decorated

    def _decorate_generator(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def decorated(*args: Any, **kwargs: Any) -> Any:
            gen = func(*args, **kwargs)  # (runs none of the body)
            resume, value = gen.send, None
            while True:
                try:
                    with self._fresh():
                        out = resume(value)
                except StopIteration as stop:
                    return stop.value
                try:
                    value = yield out
                    resume = gen.send
                except GeneratorExit:
                    with self._fresh():
                        gen.close()
                    raise
                except BaseException as exc:  # every throw() goes on to func's body
                    resume, value = gen.throw, exc

        return decorated

    def __exit__(self, *exc: Any) -> None:
        _state.state.grad_enabled = self.prev


class set_grad_enabled(_GradMode):  # noqa: N801 - torch's name
    """Enable or disable gradients in a block or function, like ``torch.set_grad_enabled``.

    Called as a function it sets the mode at once (``jnn.set_grad_enabled(False)``); as
    ``with set_grad_enabled(mode):`` it sets it for the block; as ``@set_grad_enabled(mode)``
    it sets it while the function runs and leaves the mode outside untouched.  With
    gradients disabled, module outputs are ``jax.lax.stop_gradient``-ed and
    differentiating a closure raises, as torch does.

    Args:
        mode: ``True`` to enable gradients, ``False`` to disable them (a ``bool``, as in
            torch).

    PyTorch: ``torch.set_grad_enabled``.
    """

    def __init__(self, mode: bool) -> None:
        check_bool_argument(mode, "set_grad_enabled", "enabled")
        self.prev = _state.state.grad_enabled
        self.mode = mode
        _state.state.grad_enabled = mode

    def _fresh(self) -> _GradMode:
        return set_grad_enabled(self.mode)

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # Building the decorator set the mode; decorating must not change it.
        _state.state.grad_enabled = self.prev
        return super().__call__(func)

    def __enter__(self) -> None:
        _state.state.grad_enabled = self.mode


class _NoArgumentGradMode(_GradMode):
    """A mode that takes no argument, so also decorates bare: ``@no_grad`` as ``@no_grad()``
    (torch 2's ``no_grad``, ``enable_grad``)."""

    _mode: bool

    def __new__(cls, func: Callable[..., Any] | None = None, /) -> Any:
        # ``no_grad(f)`` is ``no_grad()(f)``: torch's check, a lone positional argument
        # (``no_grad(None)`` reaches ``__init__``, a TypeError there as in torch).
        if func is None:
            return super().__new__(cls)
        return cls()(func)

    def __init__(self) -> None:
        pass

    def __enter__(self) -> None:
        self.prev = _state.state.grad_enabled
        _state.state.grad_enabled = self._mode


class no_grad(_NoArgumentGradMode):  # noqa: N801 - torch's name
    """Disable gradients in a block or function, like ``torch.no_grad``.

    ``with no_grad():``, ``@no_grad()`` and ``@no_grad`` all work, as in torch 2.

    PyTorch: ``torch.no_grad``.
    """

    _mode = False


class enable_grad(_NoArgumentGradMode):  # noqa: N801 - torch's name
    """Re-enable gradients inside a ``no_grad`` block, like ``torch.enable_grad``.

    ``with enable_grad():``, ``@enable_grad()`` and ``@enable_grad`` all work, as in torch 2.

    PyTorch: ``torch.enable_grad``.
    """

    _mode = True


class inference_mode(_GradMode):  # noqa: N801 - torch's name
    """Gradients off in a block or function, like ``torch.inference_mode``.

    ``with inference_mode():``, ``@inference_mode()`` and ``@inference_mode`` disable
    gradients as :class:`no_grad` does (an evaluation loop's usual guard);
    ``inference_mode(False)`` leaves inference mode and turns gradients on, as torch's.
    :func:`is_inference_mode_enabled` tells which mode is on.  torch's other half, tensors
    made in inference mode that autograd then refuses, has no counterpart: JAX arrays are
    immutable values, so one made here is an ordinary array later.

    Args:
        mode: a truthy value enters inference mode (the default), a falsy one leaves it.

    PyTorch: ``torch.inference_mode``.
    """

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode) and not isinstance(mode, bool):  # bare ``@inference_mode``
            return super().__new__(cls)._bare(mode)
        return super().__new__(cls)

    def __init__(self, mode: Any = True) -> None:
        self.mode = bool(mode)

    def _bare(self, func: Callable[..., Any]) -> Callable[..., Any]:
        self.mode = True
        return self(func)

    def _fresh(self) -> _GradMode:
        return inference_mode(self.mode)

    def __enter__(self) -> None:
        st = _state.state
        self.prev, self.prev_inference = st.grad_enabled, st.inference
        st.grad_enabled, st.inference = not self.mode, self.mode

    def __exit__(self, *exc: Any) -> None:
        st = _state.state
        st.grad_enabled, st.inference = self.prev, self.prev_inference


def is_inference_mode_enabled() -> bool:
    """Whether an :class:`inference_mode` block is active (``torch.is_inference_mode_enabled``)."""
    return _state.state.inference


def is_grad_enabled() -> bool:
    return _state.state.grad_enabled
