"""Forward hooks: removable handles and torch's ``_call_impl`` order of hook calls."""

from __future__ import annotations

import itertools
import warnings
import weakref
from collections import OrderedDict
from typing import Any

from jnn import _state

__all__ = ["RemovableHandle", "call_with_hooks"]


class RemovableHandle:
    """A handle that removes a hook, like ``torch.utils.hooks.RemovableHandle``.

    ``handle.remove()`` (or leaving a ``with handle:`` block) takes the hook out of the
    dicts it was registered in.  Hooks are part of a module's static structure, so adding
    or removing one invalidates cached pytree specs and forces a new trace.
    """

    _ids = itertools.count()

    def __init__(self, hooks_dict: Any, *, extra_dict: Any = None) -> None:
        self.hooks_dict_ref = weakref.ref(hooks_dict)
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
        _state.bump_structure()

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def register(
    hooks: OrderedDict, hook: Any, *, prepend: bool, extra: list[dict] | None = None
) -> RemovableHandle:
    handle = RemovableHandle(hooks, extra_dict=extra)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    _state.bump_structure()
    return handle


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
