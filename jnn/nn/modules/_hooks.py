"""Hooks: removable handles, torch's ``_call_impl`` order of forward hook calls, and the
registries of the state-dict hooks (``state_dict`` / ``load_state_dict`` pre- and
post-hooks)."""

from __future__ import annotations

import itertools
import warnings
import weakref
from collections import OrderedDict
from typing import Any

from jnn import _state

__all__ = ["RemovableHandle", "call_with_hooks", "hook_dict", "WrappedHook"]


class RemovableHandle:
    """A handle that removes a hook, like ``torch.utils.hooks.RemovableHandle``.

    ``handle.remove()`` (or leaving a ``with handle:`` block) takes the hook out of the
    dicts it was registered in.  Hooks are part of a module's static structure, so adding
    or removing one invalidates cached pytree specs and forces a new trace.
    """

    _ids = itertools.count()
    # id of the module whose hooks these are (a copied handle's: None, anything): its
    # compiled functions re-read it when the hook goes (see _state.unrelated_since)
    _owner: int | None = None

    def __init__(self, hooks_dict: Any, *, extra_dict: Any = None, owner: Any = None) -> None:
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self._owner = None if owner is None else id(owner)
        self.id = next(RemovableHandle._ids)
        if extra_dict is None:
            extra_dict = []
        elif not isinstance(extra_dict, list):
            extra_dict = [extra_dict]
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra_dict)

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            d = ref()
            if d is not None and self.id in d:
                del d[self.id]
        _state.bump_structure(self._owner)

    # Weak references cannot be pickled: a copy holds the dicts strongly while in
    # transit (torch's RemovableHandle does the same), so a pickled lazy module keeps its
    # hook handles pointing at its own (copied) registries.
    def __getstate__(self) -> tuple:
        return (self.hooks_dict_ref(), self.id,
                tuple(ref() for ref in self.extra_dict_ref))

    def __setstate__(self, state: tuple) -> None:
        hooks_dict, self.id, extra = state
        # a dict that is gone by now gets a dead reference, as torch's
        self.hooks_dict_ref = weakref.ref(OrderedDict() if hooks_dict is None else hooks_dict)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra if d is not None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


# Modules that ever had a hook registered (an eager differentiation looks at what their
# hooks kept: see jnn.autograd._detach_kept)
HOOKED: weakref.WeakSet = weakref.WeakSet()


def register(
    hooks: OrderedDict, hook: Any, *, prepend: bool, extra: list[dict] | None = None,
    owner: Any = None,
) -> RemovableHandle:
    """Add ``hook`` to ``hooks`` (a registry of module ``owner``; None: a global one)."""
    handle = RemovableHandle(hooks, extra_dict=extra, owner=owner)
    hooks[handle.id] = hook
    if owner is not None:
        try:
            HOOKED.add(owner)
        except TypeError:  # (not weakly referable: nothing to look at later)
            pass
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    _state.bump_structure(handle._owner)
    return handle


def hook_dict(module: Any, name: str) -> OrderedDict:
    """The module's hook registry ``name``, created at the first registration.

    The state-dict hook registries (``_state_dict_hooks``, ``_state_dict_pre_hooks``,
    ``_load_state_dict_pre_hooks``, ``_load_state_dict_post_hooks``) appear in a module's
    ``__dict__`` only once a hook is registered, so a module without any costs nothing;
    readers use ``module.__dict__.get(name)``.
    """
    d = module.__dict__
    hooks = d.get(name)
    if hooks is None:
        hooks = d[name] = OrderedDict()
    return hooks


class WrappedHook:
    """A load_state_dict pre-hook and, when registered with the module, that module.

    torch's ``_WrappedHook``: ``register_load_state_dict_pre_hook`` passes the module as
    the first argument, the private ``_register_load_state_dict_pre_hook`` does not. The
    module is held weakly (a module's own registry would otherwise keep it alive); a
    deepcopy or pickle of the module carries the link over to the copy.
    """

    def __init__(self, hook: Any, module: Any = None) -> None:
        self.hook = hook
        self.with_module = module is not None
        if module is not None:
            self.module = weakref.ref(module)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.with_module:
            module = self.module()
            if module is None:
                raise RuntimeError("You are trying to call the hook of a dead Module!")
            return self.hook(module, *args, **kwargs)
        return self.hook(*args, **kwargs)

    def __getstate__(self) -> dict:
        state = {"hook": self.hook, "with_module": self.with_module}
        if self.with_module:
            state["module"] = self.module()
        return state

    def __setstate__(self, state: dict) -> None:
        self.hook = state["hook"]
        self.with_module = state["with_module"]
        if self.with_module:
            if state["module"] is None:
                raise RuntimeError("You are trying to revive the hook of a dead Module!")
            self.module = weakref.ref(state["module"])


def call_with_hooks(module: Any, args: tuple, kwargs: dict) -> Any:
    """torch's ``Module._call_impl``: pre-hooks, forward, hooks, always-call hooks."""
    d = module.__dict__
    called_always: set[int] = set()
    result = None  # torch hands the always_call hooks whatever output exists so far
    try:
        for hook_id, hook in list(d["_forward_pre_hooks"].items()):
            if hook_id in d["_forward_pre_hooks_with_kwargs"]:
                result = hook(module, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of "
                            f"(new_args, new_kwargs), but got {result}."
                        )
                    args, kwargs = result
            else:
                result = hook(module, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        result = module.forward(*args, **kwargs)
        for hook_id, hook in list(d["_forward_hooks"].items()):
            if hook_id in d["_forward_hooks_always_called"]:
                called_always.add(hook_id)
            if hook_id in d["_forward_hooks_with_kwargs"]:
                hook_result = hook(module, args, kwargs, result)
            else:
                hook_result = hook(module, args, result)
            if hook_result is not None:
                result = hook_result
        return result
    except Exception:
        # torch runs the always_call hooks that did not run yet, then re-raises.
        for hook_id, hook in list(d["_forward_hooks"].items()):
            if hook_id in d["_forward_hooks_always_called"] and hook_id not in called_always:
                try:
                    if hook_id in d["_forward_hooks_with_kwargs"]:
                        hook_result = hook(module, args, kwargs, result)
                    else:
                        hook_result = hook(module, args, result)
                    if hook_result is not None:
                        result = hook_result
                except Exception as e:  # the forward error is the one to report
                    warnings.warn(
                        "module forward hook with ``always_call=True`` raised an exception "
                        f"that was silenced as another error was raised in forward: {e}",
                        stacklevel=2,
                    )
        raise
