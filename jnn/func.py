r"""``jnn.func``: torch.func's API on JAX — stateless module calls and function transforms.

torch.func brought JAX-style transforms to torch; in jnn they *are* JAX's.  This module
gives torch.func's names and argument conventions:

* :func:`functional_call` calls a module with other arrays in place of its parameters and
  buffers (looked up by their torch names), without changing the module;
* :func:`stack_module_state` stacks the state of K same-shaped models for ``vmap``;
* :func:`vmap`, :func:`grad`, :func:`grad_and_value`, :func:`jacrev`, :func:`jacfwd`,
  :func:`hessian`, :func:`vjp`, :func:`jvp`, :func:`linearize` and :func:`functionalize`
  are thin wrappers over ``jax.*`` with torch's argument names (``in_dims``, ``argnums``,
  ``has_aux``) and torch's output order (``grad_and_value`` returns ``(grad, value)``).

Recipes (torch.func → jnn.func, the code is the same up to imports):

(a) Model ensembling — K models evaluated in one vectorised call::

    models = [Net() for _ in range(K)]
    params, buffers = stack_module_state(models)       # {name: (K, ...)} dicts
    base = models[0]                                   # any one of them: only its structure
    def fmodel(p, b, x):
        return functional_call(base, (p, b), (x,))
    out = vmap(fmodel, in_dims=(0, 0, None))(params, buffers, x)   # (K, N, ...)

(b) Per-example gradients::

    def loss_of_params(p, x, y):                       # one example, so add a batch axis
        out = functional_call(model, p, (x[None],))
        return F.cross_entropy(out, y[None])
    params = {k: v.data for k, v in model.named_parameters()}
    per_example = vmap(grad(loss_of_params), in_axes=(None, 0, 0))(params, xs, ys)
    # per_example["fc.weight"].shape == (N, *model.fc.weight.shape)

(c) Training an ensemble: gradients with ``vmap(grad(...))`` over the stacked parameters
and a *pure* optimizer rule vmapped over K optimizer states (the classes in ``jnn.optim``
mutate one model's Parameters; the rules behind them are pure functions)::

    from jnn.optim.adam import adam_init, adam_update
    names = list(params)
    def loss(p, b, x, y):
        return F.mse_loss(functional_call(base, (p, b), (x,)), y)
    state = jax.vmap(lambda p: adam_init([p[n] for n in names]))(params)
    @jax.jit
    def step(params, state, x, y):
        grads = jax.vmap(jax.grad(loss), in_axes=(0, 0, None, None))(params, buffers, x, y)
        def update(p, g, s):
            new, s = adam_update([p[n] for n in names], [g[n] for n in names], s, lr=1e-3)
            return dict(zip(names, new)), s
        return jax.vmap(update)(params, grads, state)
    params, state = step(params, state, x, y)

  ``jnn.optim.adam.adam_transform(lr)`` (an optax ``GradientTransformation``) works the
  same way over the dicts: ``jax.vmap(tx.init)(params)`` and ``jax.vmap(tx.update)``.

PyTorch: ``torch.func``.  Differences: the transforms are JAX's, so ``vmap``'s ``chunk_size``
is accepted and ignored (results are the same, memory is not bounded), and ``randomness`` is
validated but jnn's rule applies: the global generator raises under ``vmap`` (torch's
``'error'``); pass keys with ``jnn.random.use_key`` (one key: ``'same'``, a batch of keys
vmapped along: ``'different'``).  :func:`functional_call` never changes the module: buffer
updates made during the call (BatchNorm statistics) are written back into the dicts passed
in (as torch's in-place updates would show there), never into the module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _state
from jnn.autograd import grad, value_and_grad
from jnn.nn.modules import _pytree
from jnn.nn.modules.module import Module
from jnn.nn.parameter import Parameter, _read

__all__ = [
    "functional_call",
    "stack_module_state",
    "vmap",
    "grad",
    "grad_and_value",
    "jacrev",
    "jacfwd",
    "hessian",
    "vjp",
    "jvp",
    "linearize",
    "functionalize",
]

# `grad` is jnn.autograd.grad: jax.grad that also takes modules (module-shaped gradients,
# frozen parameters and buffers not differentiated), torch.func.grad's signature and order.


# -- functional_call ---------------------------------------------------------------------


class _Table:
    """Every torch name of a module tree's leaves (tied and shared ones under each name)."""

    __slots__ = ("leaf", "is_param", "names_of")

    def __init__(self, spec: _pytree.Spec) -> None:
        self.leaf: dict[str, int] = {}
        self.is_param: dict[str, bool] = {}

        def walk(index: int, prefix: str, depth: int) -> None:
            if depth > 1000:  # a module containing itself: torch recurses forever too
                raise RecursionError("functional_call: the module tree contains a cycle")
            node = spec.nodes[index]
            for name, leaf, _ in node.params:
                if leaf is not None:
                    self.leaf[prefix + name] = leaf
                    self.is_param[prefix + name] = True
            for name, leaf in node.buffers:
                if leaf is not None:
                    self.leaf[prefix + name] = leaf
                    self.is_param[prefix + name] = False
            for name, child in node.children:
                if child is not None:
                    walk(child, f"{prefix}{name}.", depth + 1)

        walk(0, "", 0)
        names_of: dict[int, list[str]] = {}
        for name, leaf in self.leaf.items():
            names_of.setdefault(leaf, []).append(name)
        self.names_of = {leaf: tuple(names) for leaf, names in names_of.items()}


@functools.lru_cache(maxsize=256)
def _table(spec: _pytree.Spec) -> _Table:
    # Specs compare by structure, so every module of one architecture shares one table.
    return _Table(spec)


def _merge(parameter_and_buffer_dicts: Any) -> tuple[dict[str, Any], dict[str, dict]]:
    """One name -> value dict, and for each name the dict it came from (torch's checks)."""
    if isinstance(parameter_and_buffer_dicts, Mapping):
        d = parameter_and_buffer_dicts
        return dict(d), {k: d for k in d}
    if isinstance(parameter_and_buffer_dicts, Sequence) and not isinstance(
            parameter_and_buffer_dicts, str):
        dicts = list(parameter_and_buffer_dicts)
        if not all(isinstance(d, Mapping) for d in dicts):
            raise ValueError(
                "Expected all elements of parameter_and_buffer_dicts to be dictionaries"
            )
        counts: dict[str, int] = {}
        for d in dicts:
            for k in d:
                counts[k] = counts.get(k, 0) + 1
        repeated = [k for k, n in counts.items() if n > 1]
        if repeated:
            raise ValueError(
                f"{repeated} appeared in multiple dictionaries; behavior of functional call is "
                "ambiguous"
            )
        return {k: v for d in dicts for k, v in d.items()}, {k: d for d in dicts for k in d}
    raise ValueError(
        "Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but got "
        f"{type(parameter_and_buffer_dicts)}"
    )


def _as_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Parameter):
        return _read(value)  # recorded: a differentiated closure then reaches the Parameter
    if isinstance(value, jax.Array):
        return value
    if isinstance(value, np.ndarray):
        return jnp.asarray(value)
    raise TypeError(f"{value} is not an instance of torch.Tensor")


def _untie(table: _Table, leaves: list, given: dict[str, Any]) -> dict[str, Any]:
    """torch's tie_weights=True: a value given for one name of a tied tensor reaches all.

    Tied = the same Parameter (one leaf) or the same buffer array (identity), under any
    name, including through shared submodules.
    """
    groups: dict[str, tuple[str, ...]] = {}
    for name in given:
        leaf = table.leaf.get(name)
        if leaf is None:
            continue
        names = table.names_of[leaf]
        if not table.is_param[name]:  # buffers are tied by identity, as torch's tensors
            arr = leaves[leaf]
            names = tuple(n for n, i in table.leaf.items()
                          if not table.is_param[n] and leaves[i] is arr)
        if len(names) > 1:
            groups[name] = names
    untied = dict(given)
    for name, names in groups.items():
        present = [n for n in names if n in given]
        if len(present) > 1 and len({id(given[n]) for n in present}) != 1:
            raise ValueError(
                f"functional_call got multiple values for keys {sorted(names)}, which are "
                "tied. Consider using tie_weights=False"
            )
        for n in names:
            untied[n] = given[name]
    return untied


def _check_strict(module: Module, table: _Table, keys: Any) -> None:
    keys = set(keys)
    missing = sorted(set(table.leaf) - keys)
    unexpected = sorted(keys - set(table.leaf))
    msgs = []
    if unexpected:
        msgs.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
    if missing:
        msgs.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
    if msgs:
        raise RuntimeError(
            f"Error(s) in reparametrizing for {module._get_name()}:\n\t" + "\n\t".join(msgs)
        )


def _owner(root: Module, name: str) -> tuple[Module, str]:
    """The (materialized) module holding ``name`` in ``root``'s tree, and the last part."""
    prefix, _, attr = name.rpartition(".")
    sub = root.get_submodule(prefix)  # torch's AttributeError for a missing path
    if "_jnn_lazy" in sub.__dict__:
        _pytree.materialize(sub)
    return sub, attr


def _patch(copy: Module, table: _Table, name: str, value: Any) -> None:
    """Set one name on the copy only (an untied or unknown name)."""
    sub, attr = _owner(copy, name)
    d = sub.__dict__
    if name in table.leaf:
        if table.is_param[name]:
            old = d["_parameters"][attr]
            d["_parameters"][attr] = (None if value is None
                                      else Parameter._wrap(value, old._requires_grad))
        else:
            d["_buffers"][attr] = value
        return
    # torch sets an unknown name as a plain attribute for the call (unless it names a
    # non-tensor attribute, which is an error).
    if attr == "":
        raise KeyError('tensor name can\'t be empty string ""')
    orig = getattr(sub, attr, None)
    if orig is not None and not isinstance(orig, (jax.Array, np.ndarray, Parameter)):
        raise TypeError(f"attribute `{attr}`: {orig} is not an instance of torch.Tensor")
    d[attr] = value


def _log_unreplaced_reads(module: Module, table: _Table, replaced: set[int]) -> None:
    # Inside a closure that jnn.autograd differentiates, the copy reads the module's own
    # (swapped-in, traced) arrays for every name not given; record those Parameters as
    # read, so that they receive gradients as in torch.
    for name, leaf in table.leaf.items():
        if table.is_param[name] and leaf not in replaced:
            _read(module.get_parameter(name))
            replaced.add(leaf)


def functional_call(
    module: Module,
    parameter_and_buffer_dicts: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    r"""Call ``module`` with the given arrays in place of its parameters and buffers.

    The module itself is not changed: jnn flattens it (it is a pytree), swaps the leaves
    named in the dicts, and calls a lazy copy built from them — cheap eagerly and free
    under ``jax.jit``/``jax.vmap``/``jax.grad``, which is where this is used.

    Args:
        module: the module to call.
        parameter_and_buffer_dicts: ``{torch name: array}`` (``"fc1.weight"``,
            ``"bn.running_mean"``), or a tuple/list of such dicts with distinct keys
            (``(params, buffers)``). Values are ``jax.Array`` (tracers included), numpy
            arrays or Parameters; names not given keep the module's own values.
        args: the positional arguments of the call; a non-tuple is one argument.
        kwargs: keyword arguments of the call.
        tie_weights: if ``True``, parameters and buffers tied in the module stay tied: a
            value given under one of their names is used for all, and different values for
            tied names raise ``ValueError``. If ``False``, each name takes only its own value.
        strict: if ``True``, the names given must be exactly the module's parameter and
            buffer names (every name of a tied tensor counts); otherwise ``RuntimeError``.

    Returns:
        What ``module(*args, **kwargs)`` returns.

    A buffer the module updates during the call (BatchNorm's running statistics in training
    mode) is written back into the dict that supplied it, where torch's in-place update
    would have shown; the module's own buffers never change.  Inside a transformed function
    return the dict to get the new values out.

    PyTorch: ``torch.func.functional_call``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> import jnn.nn as nn
        >>> layer = nn.Linear(3, 2)
        >>> zeros = {"weight": jnp.zeros((2, 3)), "bias": jnp.ones(2)}
        >>> functional_call(layer, zeros, (jnp.ones((4, 3)),)).tolist()[0]
        [1.0, 1.0]
    """
    if not isinstance(module, Module):
        raise TypeError(
            f"functional_call expects a jnn.nn.Module, got {type(module).__name__}"
        )
    given, sources = _merge(parameter_and_buffer_dicts)
    given = {k: _as_value(v) for k, v in given.items()}
    leaves, spec = _pytree.flatten(module)
    table = _table(spec)
    values = _untie(table, leaves, given) if tie_weights else given
    if strict:
        _check_strict(module, table, values)
    new_leaves, patches, replaced = _substitute(table, leaves, values)
    if _state.state.read_log is not None:
        _log_unreplaced_reads(module, table, replaced)
    copy = _pytree.unflatten(spec, new_leaves)
    for name, value in patches:
        _patch(copy, table, name, value)

    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    out = copy(*args, **(kwargs or {}))
    _write_back(copy, table, values, sources)
    return out


def _substitute(table: _Table, leaves: list, values: dict[str, Any]
                ) -> tuple[list, list[tuple[str, Any]], set[int]]:
    """The copy's leaves; the names to set on the copy itself; the leaves replaced."""
    new_leaves = list(leaves)
    patches: list[tuple[str, Any]] = []
    replaced: set[int] = set()
    for name, value in values.items():
        leaf = table.leaf.get(name)
        if leaf is None or value is None:
            patches.append((name, value))
        elif all(n in values and values[n] is value for n in table.names_of[leaf]):
            new_leaves[leaf] = value  # every name of this leaf takes this value
            replaced.add(leaf)
        else:  # tie_weights=False on a tied parameter: this name alone changes
            patches.append((name, value))
    return new_leaves, patches, replaced


def _write_back(copy: Module, table: _Table, values: dict[str, Any],
                sources: dict[str, Any]) -> None:
    """torch's write-back: a buffer the call replaced goes into the dict that supplied it."""
    for name, source in sources.items():
        if name in table.leaf and not table.is_param[name]:
            sub, attr = _owner(copy, name)
            new = sub.__dict__["_buffers"].get(attr)
            if new is not values[name] and isinstance(source, MutableMapping):
                source[name] = new


# -- stack_module_state --------------------------------------------------------------------


def stack_module_state(models: Sequence[Module]) -> tuple[dict[str, jax.Array],
                                                          dict[str, jax.Array]]:
    r"""Stack the parameters and buffers of K same-class models, for ``vmap``.

    Args:
        models: a list (or ``nn.ModuleList``) of K modules of the same class and
            training mode.

    Returns:
        ``(params, buffers)``: dicts from torch names (``named_parameters()`` /
        ``named_buffers()`` order, tied ones once) to arrays of shape ``(K, *shape)``.

    Use them with :func:`functional_call` under ``jax.vmap`` (see the module docstring).
    torch returns new leaf tensors that require grad, ready for a torch optimizer; in JAX
    arrays carry no such flag: differentiate with ``jax.grad`` and update them with a pure
    rule (``jnn.optim.adam.adam_update``) or an optax transformation.

    PyTorch: ``torch.func.stack_module_state``.

    Example:
        >>> import jnn.nn as nn
        >>> params, buffers = stack_module_state([nn.Linear(3, 2) for _ in range(4)])
        >>> {k: v.shape for k, v in params.items()}
        {'weight': (4, 2, 3), 'bias': (4, 2)}
    """
    models = list(models)
    if len(models) == 0:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or all(not m.training for m in models)):
        raise RuntimeError(
            "stack_module_state: Expected all models to have the same training/eval mode."
        )
    model0_type = type(models[0])
    if not all(type(m) is model0_type for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    all_params = [dict(m.named_parameters()) for m in models]
    params = {}
    for name in all_params[0]:
        ps = [p[name] for p in all_params]
        flags = {p.requires_grad for p in ps}
        if len(flags) > 1:
            raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
        params[name] = jnp.stack([p.data for p in ps])
    all_buffers = [dict(m.named_buffers()) for m in models]
    buffers = {name: jnp.stack([b[name] for b in all_buffers]) for name in all_buffers[0]}
    return params, buffers


# -- transforms ---------------------------------------------------------------------------


def vmap(
    func: Callable[..., Any],
    in_dims: Any = 0,
    out_dims: Any = 0,
    randomness: str = "error",
    *,
    chunk_size: int | None = None,
    in_axes: Any = None,
    out_axes: Any = None,
) -> Callable[..., Any]:
    """Vectorise ``func`` over an axis of its positional arguments (``jax.vmap``).

    Args:
        func: the function to map.
        in_dims: per positional argument, the axis to map over, or ``None`` for an argument
            shared by all; an int applies to all. JAX's name ``in_axes`` is accepted too.
        out_dims: where the mapped axis goes in each output (JAX's ``out_axes``).
        randomness: torch's ``'error'``, ``'different'`` or ``'same'``; validated only (see
            the module docstring for how randomness works under jnn's vmap).
        chunk_size: torch's chunking; accepted (must be ``None`` or positive) and ignored.

    Keyword arguments of the mapped function are passed unmapped, as in torch (``jax.vmap``
    would map them along axis 0).

    PyTorch: ``torch.func.vmap``.
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            "Only allowed values for randomness are 'error', 'different', or 'same'. "
            f"Got {randomness}"
        )
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")
    if in_axes is not None:
        in_dims = in_axes
    if out_axes is not None:
        out_dims = out_axes
    mapped = jax.vmap(func, in_axes=in_dims, out_axes=out_dims)

    @functools.wraps(func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not kwargs:
            return mapped(*args)
        return jax.vmap(lambda *a: func(*a, **kwargs), in_axes=in_dims, out_axes=out_dims)(*args)

    return wrapped


def grad_and_value(func: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., Any]:
    """Gradient and value of ``func``, in torch's order: ``(grad, value)``.

    With ``has_aux=True`` ``func`` returns ``(value, aux)`` and the result is
    ``(grad, (value, aux))``. Modules among the differentiated arguments get module-shaped
    gradients (see :func:`jnn.autograd.value_and_grad`, whose order is JAX's).

    PyTorch: ``torch.func.grad_and_value``.
    """
    vg = value_and_grad(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return g, value

    return wrapped


def jacrev(func: Callable[..., Any], argnums: int | Sequence[int] = 0, *,
           has_aux: bool = False, chunk_size: int | None = None,
           _preallocate_and_copy: bool = False) -> Callable[..., Any]:
    """Jacobian by reverse mode (``jax.jacrev``); ``chunk_size`` is accepted and ignored.

    PyTorch: ``torch.func.jacrev``.
    """
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")
    return jax.jacrev(func, argnums=argnums, has_aux=has_aux)


def jacfwd(func: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False, *, randomness: str = "error") -> Callable[..., Any]:
    """Jacobian by forward mode (``jax.jacfwd``).

    PyTorch: ``torch.func.jacfwd``.
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            "Only allowed values for randomness are 'error', 'different', or 'same'. "
            f"Got {randomness}"
        )
    return jax.jacfwd(func, argnums=argnums, has_aux=has_aux)


def hessian(func: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """Hessian as forward-over-reverse (``jax.hessian``, torch's composition too).

    PyTorch: ``torch.func.hessian``.
    """
    return jax.hessian(func, argnums=argnums)


def vjp(func: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple:
    """``(output, vjp_fn)`` (and ``aux`` with ``has_aux``); ``vjp_fn(cotangents)`` returns
    one gradient per primal, as a tuple (``jax.vjp``).

    PyTorch: ``torch.func.vjp``.
    """
    return jax.vjp(func, *primals, has_aux=has_aux)


def jvp(func: Callable[..., Any], primals: tuple, tangents: tuple, *, strict: bool = False,
        has_aux: bool = False) -> tuple:
    """``(output, jvp_out)`` (and ``aux`` with ``has_aux``): forward-mode derivative of
    ``func`` at ``primals`` along ``tangents`` (``jax.jvp``).

    PyTorch: ``torch.func.jvp`` (``strict`` is accepted and ignored).
    """
    if not isinstance(primals, tuple):
        raise RuntimeError(
            "jvp(f, primals, tangents): Expected primals to be a tuple. "
            "E.g. it should be valid to call f(*primals)."
        )
    return jax.jvp(func, primals, tuple(tangents), has_aux=has_aux)


def linearize(func: Callable[..., Any], *primals: Any) -> tuple:
    """``(output, jvp_fn)``: ``func`` evaluated at ``primals`` and its linearisation
    (``jax.linearize``).

    PyTorch: ``torch.func.linearize``.
    """
    return jax.linearize(func, *primals)


def functionalize(func: Callable[..., Any], *, remove: str = "mutations") -> Callable[..., Any]:
    """``func`` itself: JAX programs have no in-place mutation to remove.

    PyTorch: ``torch.func.functionalize``.
    """
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(
            "functionalize(f, remove='mutations'): received invalid argument for remove="
            f"{remove}. Valid options are:\n     remove='mutations': all inplace and out= "
            "operators will be removed from the program, and replaced with their out-of-place "
            "equivalents.\n     remove='mutations_and_views': In addition to the above, all "
            "aliasing operators {view} will be replaced with their non-aliasing counterparts, "
            "{view}_copy.\n"
        )
    return func
