"""``state_dict`` and ``load_state_dict``: torch's per-module protocol, keys, order and errors.

torch's shape is kept, so subclasses and hooks written for torch work unchanged:

* ``state_dict`` puts ``{"version": module._version}`` under the module's prefix in
  ``destination._metadata``, runs the module's state-dict pre-hooks, calls
  ``_save_to_state_dict`` (parameters, persistent buffers, ``get_extra_state()`` under
  ``<prefix>_extra_state``), recurses through each child's ``state_dict`` and runs the
  post-hooks.
* ``load_state_dict`` copies the mapping (keeping its ``_metadata``), then per module,
  pre-order, calls ``_load_from_state_dict(state_dict, prefix, local_metadata, strict,
  missing_keys, unexpected_keys, error_msgs)`` (which runs the load pre-hooks first), and
  after the module's children its load post-hooks with ``IncompatibleKeys``.

Fast path. Where no module of a tree overrides ``state_dict``, ``_save_to_state_dict`` or
``get_extra_state`` and none has state-dict hooks, the protocol amounts to a flat list of
reads ``(key, container, name)`` plus the ``_metadata`` entries. That list (the *plan*) is
built once per module spec (``_state.versions.spec``, which every registration, hook,
class switch and attribute change bumps) and cached per root module, so a call is one
loop. A module
that needs the protocol is a step of the plan that calls its ``state_dict``. As for the
pytree spec cache (ARCHITECTURE.md), an entry added to ``module._parameters`` /
``_buffers`` / ``_modules`` by writing the dict directly, bypassing ``Module``, is seen at
the next structural change.

Failure (jnn's rule, stricter than torch's): a load that raises — strict-mode key errors,
size mismatches, an exception in a hook — first puts back every parameter and buffer it
wrote and re-lazies the placeholders it materialised, so a failed load changes nothing
(torch keeps what it copied before the error). What subclasses write themselves
(``set_extra_state``, an overridden ``_load_from_state_dict``) is not undone.
"""

from __future__ import annotations

import contextvars
import warnings
import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _state
from jnn.nn.modules.lazy import is_lazy  # lazy.py imports this module back (record_undo)
from jnn.nn.parameter import Parameter, check_int_range

__all__ = ["IncompatibleKeys", "state_dict", "save_to_state_dict", "load_state_dict",
           "load_from_state_dict", "parse_state_dict_args", "record_undo", "torch_size",
           "EXTRA_STATE_KEY_SUFFIX"]

EXTRA_STATE_KEY_SUFFIX = "_extra_state"


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """torch's ``_IncompatibleKeys`` (same name, so the same repr): what
    ``load_state_dict`` did not match."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


IncompatibleKeys = _IncompatibleKeys


def torch_size(shape: Any) -> str:
    """A shape as torch prints it (``torch.Size([3, 4])``), so torch's regexes match."""
    return f"torch.Size({list(shape)})"


# -- saving -------------------------------------------------------------------------------
def parse_state_dict_args(args: tuple, destination: Any, prefix: str,
                          keep_vars: bool) -> tuple[Any, str, bool]:
    """torch's deprecated positional form ``state_dict(destination, prefix, keep_vars)``."""
    warnings.warn(
        "Positional args are being deprecated, use kwargs instead. Refer to "
        "https://pytorch.org/docs/main/generated/torch.nn.Module.html#torch.nn.Module."
        "state_dict for details.", FutureWarning, stacklevel=3)
    if destination is None:
        destination = args[0]
    if len(args) > 1 and prefix == "":
        prefix = args[1]
    if len(args) > 2 and keep_vars is False:
        keep_vars = args[2]
    return destination, prefix, keep_vars


def save_to_state_dict(module: Any, destination: Any, prefix: str, keep_vars: bool) -> None:
    """torch's ``Module._save_to_state_dict``: this module's own state, not its children's."""
    for name, p in module._parameters.items():
        if p is not None:
            # (``_data``, as the fast path reads: a state_dict is no ``p.data`` read that
            # ``jnn.nn.init`` should trace back to its Parameter; see parameter.py)
            destination[prefix + name] = p if keep_vars else p._data
    skip = module._non_persistent_buffers_set
    for name, b in module._buffers.items():
        if b is not None and name not in skip:
            destination[prefix + name] = b  # jax arrays are immutable: no detach needed
    get_extra_state = type(module).get_extra_state
    if get_extra_state is not _defaults()[2]:
        destination[prefix + EXTRA_STATE_KEY_SUFFIX] = module.get_extra_state()


def state_dict(module: Any, destination: Any, prefix: str, keep_vars: bool) -> Any:
    if destination is None:
        destination = OrderedDict()
        destination._metadata = OrderedDict()  # type: ignore[attr-defined]
    plan = None if _needs_protocol(module) else _plan(module)
    if _state.versions.pending and not keep_vars:
        first = _first_parameter(plan) if plan is not None else None
        if first is None:
            first = next(module.parameters(), None)
        # every weight is read next: one program, not one per weight (none where they all
        # came out already, with the step that made them)
        if first is not None and not _state.read_out(first, "data"):
            _state.read_whole(first)
    if plan is None:
        return _state_dict_protocol(module, destination, prefix, keep_vars)
    _run_plan(plan, destination, prefix, keep_vars)
    return destination


def _first_parameter(plan: tuple[_Segment, ...]) -> Any:
    """The first Parameter a plan reads (None where its first segment has none)."""
    for _, container, name, is_param in plan[0][1]:
        if is_param:
            value = container.get(name)
            if value is not None:
                return value
    return None


def _state_dict_protocol(module: Any, destination: Any, prefix: str, keep_vars: bool) -> Any:
    """torch's ``Module.state_dict`` body, for a module with hooks or overrides."""
    local_metadata = {"version": module._version}
    if hasattr(destination, "_metadata"):
        destination._metadata[prefix[:-1]] = local_metadata
    d = module.__dict__
    for hook in (d.get("_state_dict_pre_hooks") or {}).values():
        hook(module, prefix, keep_vars)
    module._save_to_state_dict(destination, prefix, keep_vars)
    for name, child in module._modules.items():
        if child is not None:
            child.state_dict(destination=destination, prefix=prefix + name + ".",
                             keep_vars=keep_vars)
    for hook in (d.get("_state_dict_hooks") or {}).values():
        result = hook(module, destination, prefix, local_metadata)
        if not getattr(hook, "_from_public_api", False):
            if result is not None:  # the private API: a returned dict replaces it
                destination = result
        elif result is not None:
            raise RuntimeError("state_dict post-hook must return None")
    return destination


_DEFAULTS: tuple = ()


def _defaults() -> tuple:
    """Module's own ``state_dict``, ``_save_to_state_dict``, ``get_extra_state``,
    ``set_extra_state`` (a subclass that overrides one needs the per-module protocol)."""
    global _DEFAULTS
    if not _DEFAULTS:
        from jnn.nn.modules.module import Module

        _DEFAULTS = (Module.state_dict, Module._save_to_state_dict, Module.get_extra_state,
                     Module.set_extra_state)
    return _DEFAULTS


def _needs_protocol(module: Any) -> bool:
    """Whether ``module`` itself must run torch's protocol (hooks or an override)."""
    cls = type(module)
    defaults = _defaults()
    if (cls.state_dict is not defaults[0] or cls._save_to_state_dict is not defaults[1]
            or cls.get_extra_state is not defaults[2]):
        return True
    d = module.__dict__
    if "_jnn_lazy" in d:  # an unflattened module: build its attributes first
        module._parameters  # noqa: B018
    return bool(d.get("_state_dict_pre_hooks") or d.get("_state_dict_hooks"))


# A plan: segments of (metadata entries, leaf reads, then a module to call or None).
# Metadata entries are (relative names, their keys for an empty prefix, versions).
_Segment = tuple[tuple, tuple, Any]
_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _plan(root: Any) -> tuple[_Segment, ...]:
    # keyed on the spec version: the structure, and classes (a lazy module's class switch,
    # an override of state_dict) and ``_version``s, which count as configuration
    version = _state.versions.spec
    cached = _PLANS.get(root)
    if cached is not None and cached[0] == version:
        return cached[1]
    segments: list[_Segment] = []
    metas: list[tuple[str | None, int]] = []
    leaves: list[tuple[str, dict, str, bool]] = []

    def close(call: Any) -> None:
        rels = tuple(rel for rel, _ in metas)
        keys = tuple("" if rel is None else rel for rel in rels)
        segments.append(((rels, keys, tuple(v for _, v in metas)), tuple(leaves), call))
        metas.clear()
        leaves.clear()

    def visit(m: Any, rel: str) -> None:
        if m is not root and _needs_protocol(m):
            close((rel, weakref.ref(m)))  # held weakly: the cache must not keep it alive
            return
        metas.append((rel[:-1] if rel else None, m._version))
        params = m._parameters
        for name in params:
            leaves.append((rel + name, params, name, True))
        buffers, skip = m._buffers, m._non_persistent_buffers_set
        for name in buffers:
            if name not in skip:
                leaves.append((rel + name, buffers, name, False))
        for name, child in m._modules.items():
            if child is not None:
                visit(child, rel + name + ".")

    visit(root, "")
    close(None)
    plan = tuple(segments)
    _PLANS[root] = (version, plan)
    return plan


_read_data = Parameter._data.fget  # one call instead of .data's two properties


def _run_plan(plan: tuple[_Segment, ...], destination: Any, prefix: str,
              keep_vars: bool) -> None:
    metadata = getattr(destination, "_metadata", None)
    # The values a compiled step handed out with its store (a state_dict() per step): one
    # dict lookup each, as Parameter.data's read would find them (else that read)
    caches = stores = None
    if _state.versions.pending and not keep_vars:
        stores = _state.handed_stores()
        if stores and any(s.handed for s in stores):
            caches = [s.cache["data"] for s in stores]
    for (rels, keys, versions), leaves, call in plan:
        if metadata is not None and rels:
            if prefix:
                keys = tuple(prefix[:-1] if rel is None else prefix + rel for rel in rels)
            metadata.update(zip(keys, [{"version": v} for v in versions]))
        for key, container, name, is_param in leaves:
            # None: registered as None (no entry, as torch). A name deleted from the dict
            # directly, bypassing Module (no structure bump), is skipped too.
            value = container.get(name)
            if value is None:
                continue
            if is_param and not keep_vars:
                # a placeholder's .data is the placeholder itself, kept as torch keeps it
                if type(value) is not Parameter:
                    value = value.data
                    destination[prefix + key if prefix else key] = value
                    continue
                if caches is not None:
                    for j, cache in enumerate(caches):  # noqa: B007 - j: after the loop
                        out = cache.get(id(value))
                        if out is not None:
                            break
                    if out is not None and not out.is_deleted():
                        stores[j].hits = True  # (what Parameter.data's read notes)
                        destination[prefix + key if prefix else key] = out
                        continue
                value = _read_data(value)
            destination[prefix + key if prefix else key] = value
        if call is not None:
            rel, ref = call
            ref().state_dict(destination=destination, prefix=prefix + rel, keep_vars=keep_vars)


# -- loading ------------------------------------------------------------------------------
_UNDO: contextvars.ContextVar[list | None] = contextvars.ContextVar("jnn_load_undo",
                                                                    default=None)


def record_undo(restore: Callable[[], None]) -> None:
    """Register how to put back one write of the running ``load_state_dict``."""
    undo = _UNDO.get()
    if undo is not None:
        undo.append(restore)


def _to_array(value: Any) -> np.ndarray | jax.Array | None:
    """A private copy of a checkpoint value, or None when it is not array-like."""
    if isinstance(value, Parameter):
        return value.data
    if isinstance(value, jax.Array):
        # Immutable once made; but ``jnp.asarray(t.numpy())`` reads the numpy memory in a
        # transfer that may still run after it returns, and the script then steps the
        # torch twin in place: waiting for it makes the loaded values those of the call
        # (else about 1 load in 200 here took the torch optimizer's next values).
        if not isinstance(value, jax.core.Tracer):
            value.block_until_ready()
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":  # numpy has no bfloat16: go by the bits
            import torch

            value = value.view(torch.int16).numpy().view(jnp.bfloat16)
        else:
            value = value.numpy()
    if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        # np.array copies, so a later in-place change to the source never shows through
        # (jnp.asarray may alias a numpy buffer on CPU).
        return np.array(value, copy=True)
    return None


def _place(value: Any, like: Any, cast: bool) -> jax.Array:
    dtype = like.dtype if cast else None
    arr = jnp.asarray(value, dtype=dtype)
    sharding = getattr(like, "sharding", None)
    return jax.device_put(arr, sharding) if sharding is not None else arr


def _copy_error(key: str, model_shape: Any, value: Any, ex: Exception) -> str:
    return (f'While copying the parameter named "{key}", whose dimensions in the model are '
            f"{torch_size(model_shape)} and whose dimensions in the checkpoint are "
            f"{torch_size(value.shape)}, an exception occurred : {ex.args}.")


def _load_one(module: Any, name: str, current: Any, is_param: bool, key: str, raw: Any,
              assign: bool, errors: list) -> None:
    """Copy one checkpoint entry into a parameter or buffer (torch's checks and messages)."""
    value = raw if is_lazy(raw) else _to_array(raw)
    if value is None:
        errors.append(f'While copying the parameter named "{key}", expected torch.Tensor or '
                      f"Tensor-like object from checkpoint but received {type(raw)}")
        return
    if is_lazy(current):
        if is_lazy(value) or (value.ndim <= 1 and value.size <= 1):
            return  # nothing to copy into a placeholder (torch's copy_ broadcasts to (0,))
        errors.append(_copy_error(key, (0,), value, RuntimeError(
            f"The size of tensor a (0) must match the size of tensor b "
            f"({value.shape[-1] if value.ndim else 1}) at non-singleton dimension "
            f"{max(value.ndim - 1, 0)}")))
        return
    current_shape = tuple(current.shape)
    if current_shape == () and tuple(value.shape) == (1,):  # torch: BC for 0-dim params
        value = value[0]
    if tuple(value.shape) != current_shape:  # a placeholder's shape raises here, as torch
        errors.append(
            f"size mismatch for {key}: copying a param with shape {torch_size(value.shape)} "
            f"from checkpoint, the shape in current model is {torch_size(current_shape)}.")
        return
    old = current._peek() if is_param else current  # a lost value reloads
    # jnn's own error (it shows the fix), not a copy failure
    check_int_range(value, None if assign else getattr(old, "dtype", None))
    if (assign and is_param and current.requires_grad
            and not jnp.issubdtype(value.dtype, jnp.inexact)):
        # torch's assign builds a new Parameter that keeps requires_grad: a failed copy
        errors.append(_copy_error(key, current_shape, value, RuntimeError(
            "Only Tensors of floating point and complex dtype can require gradients")))
        return
    try:
        new = _place(value, old, cast=not assign)
    except Exception as ex:  # noqa: BLE001 - torch reports a failed copy as a message
        errors.append(_copy_error(key, current_shape, value, ex))
        return
    if is_param:
        current.data = new  # same Parameter object: optimizers keep tracking it
        record_undo(lambda: setattr(current, "_value", old))
    else:
        buffers = module._buffers
        buffers[name] = new
        record_undo(lambda: buffers.__setitem__(name, old))


def load_from_state_dict(module: Any, sd: Mapping, prefix: str, local_metadata: dict,
                         strict: bool, missing: list, unexpected: list, errors: list) -> None:
    """torch's ``Module._load_from_state_dict``: pre-hooks, then this module's own state."""
    hooks = module.__dict__.get("_load_state_dict_pre_hooks")
    if hooks:
        for hook in hooks.values():
            hook(sd, prefix, local_metadata, strict, missing, unexpected, errors)
    skip = module._non_persistent_buffers_set
    local: dict[str, tuple[Any, bool]] = {}
    for name, p in module._parameters.items():
        if p is not None:
            local[name] = (p, True)
    for name, b in module._buffers.items():
        if b is not None and name not in skip:
            local[name] = (b, False)
    assign = local_metadata.get("assign_to_params_buffers", False)
    for name, (current, is_param) in local.items():
        key = prefix + name
        if key in sd:
            _load_one(module, name, current, is_param, key, sd[key], assign, errors)
        elif strict:
            missing.append(key)
    extra_key = prefix + EXTRA_STATE_KEY_SUFFIX
    if type(module).set_extra_state is not _defaults()[3]:
        if extra_key in sd:
            module.set_extra_state(sd[extra_key])
        elif strict:
            missing.append(extra_key)
    elif strict and extra_key in sd:
        unexpected.append(extra_key)
    if strict:
        children = module._modules
        for key in sd:
            if key.startswith(prefix) and key != extra_key:
                head = key[len(prefix):].split(".", 1)
                if len(head) > 1:
                    if head[0] not in children:
                        unexpected.append(key)
                elif head[0] not in local:
                    unexpected.append(key)


def _by_child(local_sd: Mapping, prefix: str) -> dict[str, dict]:
    """The entries under each ``prefix + child + "."``, in order (one pass, not one per child)."""
    groups: dict[str, dict] = {}
    start = len(prefix)
    for key, value in local_sd.items():
        if not key.startswith(prefix):
            continue
        dot = key.find(".", start)
        if dot >= 0:
            groups.setdefault(key[start:dot], {})[key] = value
    return groups


def load_state_dict(module: Any, sd: Any, strict: bool, assign: bool) -> IncompatibleKeys:
    if not isinstance(sd, Mapping):
        raise TypeError(f"Expected state_dict to be dict-like, got {type(sd)}.")
    # A load writes every parameter: state compiled steps left packed is written back once
    # now (its buffers donated), not unpacked for the old values and written back again.
    _state.flush()
    missing: list[str] = []
    unexpected: list[str] = []
    errors: list[str] = []
    metadata = getattr(sd, "_metadata", None)
    sd = OrderedDict(sd)  # _load_from_state_dict may change it: never the caller's
    if metadata is not None:
        sd._metadata = metadata  # type: ignore[attr-defined]

    def load(m: Any, local_sd: Mapping, prefix: str) -> None:
        local_metadata = {} if metadata is None else metadata.get(prefix[:-1], {})
        if assign:  # torch writes it into the checkpoint's own metadata entry
            local_metadata["assign_to_params_buffers"] = assign
        m._load_from_state_dict(local_sd, prefix, local_metadata, True, missing, unexpected,
                                errors)
        children = m._modules
        if children:
            groups = _by_child(local_sd, prefix)
            for name, child in children.items():
                if child is not None:
                    load(child, groups.get(name, {}), prefix + name + ".")
        hooks = m.__dict__.get("_load_state_dict_post_hooks")
        if hooks:
            incompatible = IncompatibleKeys(missing, unexpected)  # hooks may edit the lists
            for hook in hooks.values():
                if hook(m, incompatible) is not None:
                    raise AssertionError(
                        "Hooks registered with ``register_load_state_dict_post_hook`` are not "
                        "expected to return new values, if incompatible_keys need to be "
                        "modified, it should be done inplace.")

    undo: list[Callable[[], None]] = []
    outer = _UNDO.get()
    token = _UNDO.set(undo)
    try:
        load(module, sd, "")
        if strict:
            if unexpected:
                keys = ", ".join(f'"{k}"' for k in unexpected)
                errors.insert(0, f"Unexpected key(s) in state_dict: {keys}. ")
            if missing:
                keys = ", ".join(f'"{k}"' for k in missing)
                errors.insert(0, f"Missing key(s) in state_dict: {keys}. ")
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(module).__name__, "\n\t".join(errors)))
    except BaseException:
        for restore in reversed(undo):
            restore()
        raise
    finally:
        _UNDO.reset(token)
    if outer is not None:  # a load inside a load: the outer one may still fail
        outer.extend(undo)
    return IncompatibleKeys(missing, unexpected)
