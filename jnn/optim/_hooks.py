"""Optimizer hooks, as ``torch.optim.Optimizer``'s: around ``step``, ``state_dict`` and
``load_state_dict``, per optimizer and (for ``step``) process-wide.

The hooks live in torch's ``OrderedDict`` attributes (``_optimizer_step_pre_hooks``, ...),
keyed by their :class:`~jnn.nn.modules._hooks.RemovableHandle`'s id.  As in torch they are
no part of a pickled or deep-copied optimizer: ``__getstate__`` keeps the groups, state and
defaults, and the copy starts with none.

Under ``jnn.compile`` a step hook is Python that runs once, when the compiled function is
traced (see README, "What runs once"): registering or removing one changes the optimizer's
structure, so that compiled functions stepping it trace again.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections import OrderedDict
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any

from jnn import _state
from jnn.nn.modules._hooks import RemovableHandle

__all__ = ["register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]

# torch.optim.optimizer's process-wide step hooks: the pre-hooks run before each
# optimizer's own, the post-hooks after them
_global_optimizer_pre_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()
_global_optimizer_post_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()

# The attributes holding an optimizer's hooks, created empty by __init__ and __setstate__
HOOK_DICTS = ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
              "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
              "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks")


def register_optimizer_step_pre_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """Register a pre-hook of every optimizer's ``step``: ``hook(optimizer, args, kwargs)``,
    returning None or ``(new_args, new_kwargs)``.  Returns a handle that removes it.

    PyTorch: ``torch.optim.optimizer.register_optimizer_step_pre_hook``.
    """
    handle = RemovableHandle(_global_optimizer_pre_hooks)
    _global_optimizer_pre_hooks[handle.id] = hook
    _state.bump_structure()  # every optimizer's compiled steps trace again
    return handle


def register_optimizer_step_post_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """Register a post-hook of every optimizer's ``step``: ``hook(optimizer, args, kwargs)``.
    Returns a handle that removes it.

    PyTorch: ``torch.optim.optimizer.register_optimizer_step_post_hook``.
    """
    handle = RemovableHandle(_global_optimizer_post_hooks)
    _global_optimizer_post_hooks[handle.id] = hook
    _state.bump_structure()
    return handle


# ids of the optimizers whose hooked step runs in this context: a subclass's step that
# calls ``super().step()`` (both wrapped) runs the hooks once, and a trace of an eager
# ``step(closure)`` (see jnn/_eager_step.py) runs none
_RUNNING: contextvars.ContextVar[frozenset] = contextvars.ContextVar(
    "jnn_optimizer_step_hooks", default=frozenset())


@contextlib.contextmanager
def hooks_running(optimizer: Any) -> Iterator[None]:
    """``optimizer``'s step hooks count as running: a step called inside runs none."""
    token = _RUNNING.set(_RUNNING.get() | {id(optimizer)})
    try:
        yield
    finally:
        _RUNNING.reset(token)


def hooked_step(step: Callable[..., Any]) -> Callable[..., Any]:
    """``step`` wrapped as torch wraps every optimizer's (``Optimizer.step`` and the step a
    subclass defines): the pre-hooks see (and may replace) the call's ``args`` (the
    optimizer first) and ``kwargs`` as given."""

    @functools.wraps(step)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        self = args[0]
        pre = self._optimizer_step_pre_hooks
        post = self._optimizer_step_post_hooks
        if not (pre or post or _global_optimizer_pre_hooks or _global_optimizer_post_hooks
                ) or id(self) in _RUNNING.get():
            return step(*args, **kwargs)
        with hooks_running(self):
            for pre_hook in chain(_global_optimizer_pre_hooks.values(), pre.values()):
                result = pre_hook(self, args, kwargs)
                if result is not None:
                    if isinstance(result, tuple) and len(result) == 2:
                        args, kwargs = result
                    else:
                        raise RuntimeError(
                            f"<function {type(self).__name__}.step at {hex(id(step))}> must "
                            f"return None or a tuple of (new_args, new_kwargs), but got "
                            f"{result}.")
            out = step(*args, **kwargs)
            for post_hook in chain(post.values(), _global_optimizer_post_hooks.values()):
                post_hook(self, args, kwargs)
        return out

    wrapper._jnn_hooked = True  # type: ignore[attr-defined]
    return wrapper


class OptimizerHooks:
    """The ``register_*_hook`` methods of ``Optimizer`` (torch's, with its signatures)."""

    def _init_hooks(self) -> None:
        for name in HOOK_DICTS:  # (kept where present: __setstate__ of a newer pickle)
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())

    def _add_hook(self, name: str, hook: Callable[..., Any], prepend: bool = False
                  ) -> RemovableHandle:
        hooks = getattr(self, name)
        step_hook = name.startswith("_optimizer_step")
        handle = RemovableHandle(hooks, owner=self if step_hook else None)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        if step_hook:  # (the handle's removal bumps it again)
            _state.bump_structure(id(self))
        return handle

    def register_step_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Register ``hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs)``,
        called before each ``step``.  Returns a handle that removes it.

        Under ``jnn.compile`` it runs when the compiled function is traced, not per call.
        """
        return self._add_hook("_optimizer_step_pre_hooks", hook)

    def register_step_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Register ``hook(optimizer, args, kwargs) -> None``, called after each ``step``.
        Returns a handle that removes it."""
        return self._add_hook("_optimizer_step_post_hooks", hook)

    def register_state_dict_pre_hook(self, hook: Callable[..., Any], prepend: bool = False
                                     ) -> RemovableHandle:
        """Register ``hook(optimizer) -> None``, called before ``state_dict`` builds the
        dict (first of all with ``prepend=True``).  Returns a handle that removes it."""
        return self._add_hook("_optimizer_state_dict_pre_hooks", hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable[..., Any], prepend: bool = False
                                      ) -> RemovableHandle:
        """Register ``hook(optimizer, state_dict) -> None or state_dict``, called on the
        dict ``state_dict`` returns (a returned dict replaces it)."""
        return self._add_hook("_optimizer_state_dict_post_hooks", hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable[..., Any],
                                          prepend: bool = False) -> RemovableHandle:
        """Register ``hook(optimizer, state_dict) -> None or state_dict``, called on (a
        shallow copy of) the dict given to ``load_state_dict`` before it is loaded (a
        returned dict is loaded instead)."""
        return self._add_hook("_optimizer_load_state_dict_pre_hooks", hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable[..., Any],
                                           prepend: bool = False) -> RemovableHandle:
        """Register ``hook(optimizer) -> None``, called after ``load_state_dict`` loaded."""
        return self._add_hook("_optimizer_load_state_dict_post_hooks", hook, prepend)
