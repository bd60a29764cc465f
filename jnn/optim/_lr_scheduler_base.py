"""The scheduler base class and the helpers every ``jnn.optim.lr_scheduler`` schedule shares.

Private: import from :mod:`jnn.optim.lr_scheduler`. Classes defined here set ``__module__`` to
the public module, so reprs, pickles and ``state_dict`` round trips name
``jnn.optim.lr_scheduler``, as before the module was split.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import types
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from jnn import _state

# Where every scheduler class reports it lives (its ``__module__``): the public module.
_PUBLIC_MODULE = "jnn.optim.lr_scheduler"


class _OptimizerLike(Protocol):
    """What a scheduler needs from an optimizer: torch's ``param_groups`` list of dicts."""

    param_groups: list[dict[str, Any]]


EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being "
    "deprecated where possible. Please use `scheduler.step()` to step the "
    "scheduler. During the deprecation, if epoch is different from None, the "
    "closed form is used instead of the new chainable form, where available. "
    "Please open an issue if you are unable to replicate your use case: "
    "https://github.com/pytorch/pytorch/issues/new/choose."
)
_ORDER_HELP = (
    "See more details at https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"
)


# --------------------------------------------------------------------------- helpers


def _check_optimizer(optimizer: Any) -> None:
    # torch checks isinstance(optimizer, torch.optim.Optimizer); jnn accepts anything that has
    # torch's param_groups, and raises torch's TypeError otherwise.
    if not isinstance(getattr(optimizer, "param_groups", None), list):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


def _group_values(optimizer: _OptimizerLike, key: str) -> list[Any]:
    return [group[key] for group in optimizer.param_groups]


def _set_group_values(optimizer: _OptimizerLike, key: str, values: Iterable[Any]) -> None:
    for group, value in zip(optimizer.param_groups, values, strict=True):
        group[key] = value


def _update_group_values(optimizer: _OptimizerLike, key: str, values: Iterable[Any]) -> None:
    """Replace one value per group (the lrs).  torch reads each group's old value as it
    writes the new one: a group without ``key`` is its ``KeyError``, here before any write."""
    _group_values(optimizer, key)
    _set_group_values(optimizer, key, values)


def _per_group(name: str, optimizer: _OptimizerLike, value: Any) -> list[Any]:
    """Broadcast a scalar hyper-parameter to one value per param group (torch's check)."""
    n_groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n_groups:
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(value)} values, param_groups has {n_groups}."
            )
        return list(value)
    return [value] * n_groups


def _optimizer_defaults(optimizer: _OptimizerLike) -> dict[str, Any]:
    # torch reads optimizer.defaults; without it, judge by the first param group.
    defaults = getattr(optimizer, "defaults", None)
    if defaults is None:
        defaults = optimizer.param_groups[0] if optimizer.param_groups else {}
    return defaults


def _set_momentums(optimizer: _OptimizerLike, use_beta1: bool, momentums: Iterable[float]) -> None:
    """Write the cycled momentum: ``betas[0]`` for Adam-style optimizers, else ``momentum``."""
    for group, momentum in zip(optimizer.param_groups, momentums, strict=True):
        if use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum


def _lambdas_per_group(optimizer: _OptimizerLike, lr_lambda: Any) -> list[Callable[[int], float]]:
    if not isinstance(lr_lambda, (list, tuple)):
        return [lr_lambda] * len(optimizer.param_groups)
    if len(lr_lambda) != len(optimizer.param_groups):
        raise ValueError(
            f"Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}"
        )
    return list(lr_lambda)


def _callable_state(fns: Sequence[Callable[..., Any] | None]) -> list[dict[str, Any] | None]:
    # torch saves the __dict__ of callable objects only; plain functions and lambdas become None.
    return [
        None if fn is None or isinstance(fn, types.FunctionType) else fn.__dict__.copy()
        for fn in fns
    ]


@contextlib.contextmanager
def _flag(scheduler: LRScheduler, name: str) -> Iterator[None]:
    """Set a boolean attribute for the duration of a block (kept in ``__dict__`` as torch does)."""
    setattr(scheduler, name, True)
    try:
        yield
    finally:
        setattr(scheduler, name, False)


class _StepRecorder:
    """``optimizer.step`` wrapped on the instance: records the call for the call-order warning."""

    __module__ = _PUBLIC_MODULE

    _wrapped_by_lr_sched = True

    def __init__(self, optimizer: Any, func: Callable[..., Any]) -> None:
        # A weak reference, as in torch, so that the optimizer does not hold itself alive.
        self._optimizer_ref = weakref.ref(optimizer)
        self._func = func
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        optimizer = self._optimizer_ref()
        optimizer._opt_called = True
        return self._func(optimizer, *args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        # A deep copy or an unpickled copy of the optimizer gets a recorder of its own; a plain
        # closure would keep stepping the original optimizer.
        return (_StepRecorder, (self._optimizer_ref(), self._func))


def _track_optimizer_step(optimizer: Any) -> None:
    """Wrap ``optimizer.step`` on the instance so that calling it sets ``_opt_called``.

    This feeds torch's warning for ``scheduler.step()`` called before ``optimizer.step()``. Only
    the instance is touched, never its class; an optimizer whose ``step`` is not a method, or
    whose attributes cannot be set, is left alone and gets no call-order warning.
    """
    step = getattr(optimizer, "step", None)
    func = getattr(step, "__func__", None)
    if func is None or getattr(step, "_wrapped_by_lr_sched", False):
        return
    with contextlib.suppress(AttributeError, TypeError):
        optimizer.step = _StepRecorder(optimizer, func)


# --------------------------------------------------------------------------- base class

_STEP_IN_TRACE = (
    "jnn.compile: {name}.step() inside a compiled function runs once, when the function is "
    "traced, not at every call: its epoch count and learning rates are Python values, so "
    "the schedule would silently stop. Call it outside the compiled function, as torch "
    "code does after optimizer.step(): `loss = train_step(x, y); scheduler.step()` (the "
    "new learning rate reaches the next call without a re-trace)."
)


# Set while a scheduler steps (per thread, as torch's grad mode): the inner steps (a child of
# SequentialLR/ChainedScheduler, a subclass's super().step()) leave the restoring to the outer.
_STEPPING: contextvars.ContextVar[bool] = contextvars.ContextVar("jnn_lr_scheduler_stepping",
                                                                 default=False)


class _StepSnapshot:
    """What a scheduler's step writes: its attributes and its children's, and the options in
    its optimizer's param groups.  Steps only assign (never mutate a list in place), so
    shallow copies are enough; ``restore`` puts back every entry that changed."""

    def __init__(self, scheduler: Any) -> None:
        schedulers = _scheduler_tree(scheduler)
        self._entries = [(s.__dict__, dict(s.__dict__)) for s in schedulers]
        seen: set[int] = set()
        for s in schedulers:
            groups = getattr(getattr(s, "optimizer", None), "param_groups", None)
            for group in groups if isinstance(groups, list) else ():
                if isinstance(group, dict) and id(group) not in seen:
                    seen.add(id(group))
                    self._entries.append((group, dict(group)))

    def restore(self) -> None:
        for target, saved in self._entries:
            for key in [k for k in target if k not in saved]:
                del target[key]
            for key, value in saved.items():
                if key not in target or target[key] is not value:
                    target[key] = value


def _scheduler_tree(scheduler: Any) -> list[Any]:
    children = getattr(scheduler, "_schedulers", None)
    tree = [scheduler]
    for child in children if isinstance(children, (list, tuple)) else ():
        if hasattr(child, "__dict__"):
            tree.extend(_scheduler_tree(child))
    return tree


def _untraced(step: Callable) -> Callable:
    """``step`` refusing to run while jnn.compile traces (see ``_STEP_IN_TRACE``), and leaving
    the scheduler and its optimizer's groups as they were when it raises.

    torch's step raises midway (``KeyError: 'lr'`` once a group lost its lr, after the epoch
    count moved on); jnn raises the same error with nothing changed.
    """
    @functools.wraps(step)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _state.state.compile_depth:
            raise RuntimeError(_STEP_IN_TRACE.format(name=type(self).__name__))
        if _STEPPING.get():
            return step(self, *args, **kwargs)
        snapshot = _StepSnapshot(self)
        token = _STEPPING.set(True)
        try:
            return step(self, *args, **kwargs)
        except BaseException:
            snapshot.restore()
            raise
        finally:
            _STEPPING.reset(token)

    guarded._jnn_untraced = True  # type: ignore[attr-defined]
    return guarded


class LRScheduler:
    r"""Base class for learning-rate schedulers.

    Subclasses implement :meth:`get_lr` (the recursive, chainable rule) and optionally
    ``_get_closed_form_lr`` (used by the deprecated ``step(epoch)``). The constructor records
    ``group["initial_lr"]`` (only if absent), sets ``base_lrs`` from it and performs the initial
    step, which writes the learning rates for epoch ``last_epoch + 1``.

    Args:
        optimizer: an optimizer with ``param_groups`` (a list of dicts with an ``"lr"``).
        last_epoch: index of the last epoch seen; ``-1`` starts fresh. Any other value resumes
            and needs ``"initial_lr"`` in every param group.

    Attributes:
        base_lrs: the ``initial_lr`` of each group.
        last_epoch: the current epoch index (``0`` right after construction).

    PyTorch: ``torch.optim.lr_scheduler.LRScheduler``; learning rates are Python floats only.
    """

    __module__ = _PUBLIC_MODULE

    _get_lr_called_within_step: bool = False
    _is_initial: bool = False

    def __init__(self, optimizer: _OptimizerLike, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                        "scheduler with last_epoch >= 0.\n"
                        "This typically happens when:\n"
                        "1. You're trying to resume training from a checkpoint but haven't "
                        "properly loaded the optimizer state\n"
                        "2. You're using last_epoch >= 0 for a fresh training run (not recommended)"
                    )
        self.base_lrs: list[float] = _group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        _track_optimizer_step(optimizer)
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step count and take the constructor's step."""
        self._step_count = 0
        with _flag(self, "_is_initial"):
            self.step()

    def state_dict(self) -> dict[str, Any]:
        """Return every attribute except the optimizer, as torch does."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore attributes from :meth:`state_dict` (torch's or jnn's)."""
        self.__dict__.update(state_dict)

    def get_last_lr(self) -> list[float]:
        """Return the learning rates last written to the param groups."""
        return self._last_lr

    def get_lr(self) -> list[float]:
        """Compute the next learning rate of each param group (called by :meth:`step`)."""
        raise NotImplementedError

    def _warn_if_outside_step(self) -> None:
        if not self._get_lr_called_within_step:
            warnings.warn(
                "To get the last learning rate computed by the scheduler, "
                "please use `get_last_lr()`.",
                UserWarning,
                stacklevel=3,
            )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_jnn_untraced", False):
            cls.step = _untraced(step)  # every scheduler's own step, a user's too

    @_untraced
    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and write the new learning rates.

        Args:
            epoch: deprecated, as in torch: sets ``last_epoch`` to ``epoch`` and uses the
                closed form where the scheduler has one (with a ``UserWarning``).
        """
        if self._step_count == 1:
            self._warn_on_call_order()
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _warn_on_call_order(self) -> None:
        # torch's check for the pre-1.1 order: the first scheduler.step() after construction
        # should follow an optimizer.step(), whose wrapper records _opt_called.
        opt = self.optimizer
        if getattr(getattr(opt, "step", None), "_wrapped_by_lr_sched", False):
            if not getattr(opt, "_opt_called", False):
                warnings.warn(
                    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. "
                    "In PyTorch 1.1.0 and later, you should call them in the opposite order: "
                    "`optimizer.step()` before `lr_scheduler.step()`.  Failure to do this "
                    "will result in PyTorch skipping the first value of the learning rate "
                    f"schedule. {_ORDER_HELP}",
                    UserWarning,
                    stacklevel=3,
                )
        elif "step" in getattr(opt, "__dict__", {}):
            # Our wrapper was replaced on the instance after the scheduler was built.
            warnings.warn(
                "Seems like `optimizer.step()` has been overridden after learning rate scheduler "
                "initialization. Please, make sure to call `optimizer.step()` before "
                f"`lr_scheduler.step()`. {_ORDER_HELP}",
                UserWarning,
                stacklevel=3,
            )

    def _update_lr(self, epoch: int | None = None) -> None:
        with _flag(self, "_get_lr_called_within_step"):
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
        _update_group_values(self.optimizer, "lr", values)
        self._last_lr: list[float] = _group_values(self.optimizer, "lr")


class _LRScheduler(LRScheduler):
    """Backward-compatible name of :class:`LRScheduler` (a subclass, as in torch)."""

    __module__ = _PUBLIC_MODULE


def _check_poppable(state_dict: Any, key: str) -> None:
    """torch's schedulers with callables or children pop ``key`` from the given dict first:
    anything else fails as that pop does (an ``AttributeError``, or a list's ``TypeError`` for
    a str index), before anything is loaded."""
    if not hasattr(state_dict, "pop"):
        raise AttributeError(f"'{type(state_dict).__name__}' object has no attribute 'pop'")
    if not isinstance(state_dict, dict):
        copy.copy(state_dict).pop(key)  # on a copy: the caller's object stays as it was
