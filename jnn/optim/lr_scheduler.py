"""Learning-rate schedulers: ``torch.optim.lr_scheduler`` over plain Python floats.

A scheduler reads and writes ``optimizer.param_groups`` only, assigning Python floats to
``group["lr"]`` (and ``group["momentum"]`` / ``group["betas"]`` for the cyclic schedules). The jnn
optimizer turns those into traced scalars, so a compiled step never re-traces when they change.

Each scheduler keeps torch's attributes under torch's names (``last_epoch``, ``base_lrs``,
``_step_count``, ``_last_lr``, ...), so ``state_dict()`` has torch's keys and a torch scheduler's
state dict loads here unchanged. The recursive ("chainable") formulas and the closed forms used
by the deprecated ``step(epoch)`` are evaluated in torch's order, so values agree bit for bit.

Example:
    >>> from types import SimpleNamespace
    >>> from jnn.optim import lr_scheduler
    >>> optimizer = SimpleNamespace(param_groups=[{"lr": 0.1}])
    >>> scheduler = lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    >>> for _ in range(4):
    ...     scheduler.step()
    >>> scheduler.get_last_lr()
    [0.025]
"""

from __future__ import annotations

import contextlib
import functools
import math
import types
import warnings
import weakref
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, Protocol, SupportsFloat

__all__ = [
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "SequentialLR",
    "CosineAnnealingLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "CyclicLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
    "PolynomialLR",
    "LRScheduler",
]


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
        _set_group_values(self.optimizer, "lr", values)
        self._last_lr: list[float] = _group_values(self.optimizer, "lr")


class _LRScheduler(LRScheduler):
    """Backward-compatible name of :class:`LRScheduler` (a subclass, as in torch)."""


# --------------------------------------------------------------------------- factor schedules


class _LambdaScheduler(LRScheduler):
    """State handling shared by the schedulers driven by ``lr_lambdas``."""

    lr_lambdas: list[Callable[[int], float]]

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = _callable_state(self.lr_lambdas)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict["lr_lambdas"]
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "lr_lambdas"})
        for fn, fn_state in zip(self.lr_lambdas, saved):
            if fn_state is not None:
                fn.__dict__.update(fn_state)


class LambdaLR(_LambdaScheduler):
    """Set each group's lr to ``initial_lr * lr_lambda(epoch)``.

    Args:
        optimizer: wrapped optimizer.
        lr_lambda: a function of the epoch index, or a list with one per param group.
        last_epoch: index of the last epoch. Default: ``-1``.

    ``state_dict()`` keeps the ``__dict__`` of callable objects only; plain functions and
    lambdas are stored as ``None`` (they cannot be pickled), exactly as torch does.

    PyTorch: ``torch.optim.lr_scheduler.LambdaLR``.
    """

    def __init__(
        self,
        optimizer: _OptimizerLike,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas_per_group(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        return [
            base_lr * fn(self.last_epoch)
            for fn, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)
        ]


class MultiplicativeLR(_LambdaScheduler):
    """Multiply each group's current lr by ``lr_lambda(epoch)`` at every step after the first.

    Args:
        optimizer: wrapped optimizer.
        lr_lambda: a function of the epoch index, or a list with one per param group.
        last_epoch: index of the last epoch. Default: ``-1``.

    PyTorch: ``torch.optim.lr_scheduler.MultiplicativeLR``.
    """

    def __init__(
        self,
        optimizer: _OptimizerLike,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas_per_group(optimizer, lr_lambda)
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"lr_lambda should be a function, but got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self._is_initial:
            return _group_values(self.optimizer, "lr")
        return [
            group["lr"] * fn(self.last_epoch)
            for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups, strict=True)
        ]


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs.

    ``lr = initial_lr * gamma ** (epoch // step_size)`` when nothing else changes the lr.

    Args:
        optimizer: wrapped optimizer.
        step_size: period of the decay, in epochs.
        gamma: multiplicative factor of the decay. Default: ``0.1``.
        last_epoch: index of the last epoch. Default: ``-1``.

    PyTorch: ``torch.optim.lr_scheduler.StepLR``.
    """

    def __init__(
        self, optimizer: _OptimizerLike, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs
        ]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each milestone (by ``gamma ** n`` if repeated ``n`` times).

    Args:
        optimizer: wrapped optimizer.
        milestones: epoch indices; stored as a ``collections.Counter`` as in torch.
        gamma: multiplicative factor of the decay. Default: ``0.1``.
        last_epoch: index of the last epoch. Default: ``-1``.

    PyTorch: ``torch.optim.lr_scheduler.MultiStepLR``.
    """

    def __init__(
        self,
        optimizer: _OptimizerLike,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self.last_epoch not in self.milestones:
            return _group_values(self.optimizer, "lr")
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        passed = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base_lr * self.gamma**passed for base_lr in self.base_lrs]


class ConstantLR(LRScheduler):
    """Multiply the lr by ``factor`` until epoch ``total_iters``, then restore it.

    Args:
        optimizer: wrapped optimizer.
        factor: the multiplier, in ``[0, 1]``. Default: ``1/3``.
        total_iters: number of epochs the multiplier applies. Default: ``5``.
        last_epoch: index of the last epoch. Default: ``-1``.

    PyTorch: ``torch.optim.lr_scheduler.ConstantLR``.
    """

    def __init__(
        self,
        optimizer: _OptimizerLike,
        factor: float = 1.0 / 3,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if factor > 1.0 or factor < 0:
            raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return _group_values(self.optimizer, "lr")
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        done = self.last_epoch >= self.total_iters
        return [base_lr * (self.factor + done * (1 - self.factor)) for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the lr by a factor moving linearly from ``start_factor`` to ``end_factor``.

    ``lr = initial_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)``.

    Args:
        optimizer: wrapped optimizer.
        start_factor: factor at epoch 0, in ``(0, 1]``. Default: ``1/3``.
        end_factor: factor from epoch ``total_iters`` on, in ``[0, 1]``. Default: ``1.0``.
        total_iters: number of epochs of the ramp. Default: ``5``.
        last_epoch: index of the last epoch. Default: ``-1``.

    PyTorch: ``torch.optim.lr_scheduler.LinearLR``.
    """

    def __init__(
        self,
        optimizer: _OptimizerLike,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError(
                "Starting multiplicative factor expected to be greater than 0 and less or "
                "equal to 1."
            )
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _group_values(self.optimizer, "lr")
        # Ratio of consecutive factors, so that the rule chains with other schedulers.
        slope = self.end_factor - self.start_factor
        ratio = 1.0 + slope / (self.total_iters * self.start_factor + (self.last_epoch - 1) * slope)
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        progress = min(self.total_iters, self.last_epoch)
        return [
            base_lr
            * (
                self.start_factor
                + (self.end_factor - self.start_factor) * progress / self.total_iters
            )
            for base_lr in self.base_lrs
        ]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch.

    Args:
        optimizer: wrapped optimizer.
        gamma: multiplicative factor of the decay.
        last_epoch: index of the last epoch. Default: ``-1``.

    PyTorch: ``torch.optim.lr_scheduler.ExponentialLR``.
    """

    def __init__(self, optimizer: _OptimizerLike, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        # The constructor's step must not decay a resumed lr once more.
        if self._is_initial:
            return _group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay the lr as ``initial_lr * (1 - min(epoch, total_iters) / total_iters) ** power``.

    Args:
        optimizer: wrapped optimizer.
        total_iters: number of epochs of the decay. Default: ``5``.
        power: power of the polynomial. Default: ``1.0``.
        last_epoch: index of the last epoch. Default: ``-1``.

    PyTorch: ``torch.optim.lr_scheduler.PolynomialLR``.
    """

    def __init__(
        self,
        optimizer: _OptimizerLike,
        total_iters: int = 5,
        power: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        if self._is_initial or self.last_epoch > self.total_iters:
            return _group_values(self.optimizer, "lr")
        remaining = 1.0 - self.last_epoch / self.total_iters
        previous = 1.0 - (self.last_epoch - 1) / self.total_iters
        decay = (remaining / previous) ** self.power
        return [group["lr"] * decay for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        remaining = 1.0 - min(self.total_iters, self.last_epoch) / self.total_iters
        return [base_lr * remaining**self.power for base_lr in self.base_lrs]


# --------------------------------------------------------------------------- cosine schedules


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the lr along a cosine from ``initial_lr`` to ``eta_min`` over ``T_max`` epochs.

    Closed form: :math:`\eta_t = \eta_{min} + \frac{1}{2}(\eta_{max} - \eta_{min})
    (1 + \cos(\pi t / T_{max}))`. :meth:`step` applies it recursively, as torch does, through the
    ratio of consecutive cosine terms, so it chains with other schedulers; past ``T_max`` the lr
    rises again (no restarts; see :class:`CosineAnnealingWarmRestarts`).

    Args:
        optimizer: wrapped optimizer.
        T_max: half-period, in epochs.
        eta_min: minimum learning rate. Default: ``0.0``.
        last_epoch: index of the last epoch. Default: ``-1``.

    PyTorch: ``torch.optim.lr_scheduler.CosineAnnealingLR``.
    """

    def __init__(
        self, optimizer: _OptimizerLike, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        epoch, period, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return _group_values(self.optimizer, "lr")
        if self._step_count == 1 and epoch > 0:
            return [
                eta_min + (base_lr - eta_min) * (1 + math.cos(epoch * math.pi / period)) / 2
                for base_lr in self.base_lrs
            ]
        if (epoch - 1 - period) % (2 * period) == 0:
            # Leaving the minimum: the ratio below would divide by zero, so add the increment.
            return [
                group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / period)) / 2
                for base_lr, group in zip(self.base_lrs, self.optimizer.param_groups, strict=True)
            ]
        ratio = (1 + math.cos(math.pi * epoch / period)) / (
            1 + math.cos(math.pi * (epoch - 1) / period)
        )
        return [ratio * (group["lr"] - eta_min) + eta_min for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        cosine = 1 + math.cos(math.pi * self.last_epoch / self.T_max)
        return [self.eta_min + (base_lr - self.eta_min) * cosine / 2 for base_lr in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing with warm restarts (SGDR).

    :math:`\eta_t = \eta_{min} + \frac{1}{2}(\eta_{max} - \eta_{min})(1 + \cos(\pi T_{cur} / T_i))`,
    where ``T_cur`` counts epochs since the last restart and ``T_i`` (initially ``T_0``) grows by
    ``T_mult`` at each restart. ``step(epoch)`` accepts fractional epochs and is not deprecated.

    Args:
        optimizer: wrapped optimizer.
        T_0: epochs until the first restart (a positive int).
        T_mult: growth factor of ``T_i`` after a restart (an int >= 1). Default: ``1``.
        eta_min: minimum learning rate. Default: ``0.0``.
        last_epoch: index of the last epoch. Default: ``-1``.

    PyTorch: ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts``.
    """

    def __init__(
        self,
        optimizer: _OptimizerLike,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if T_0 <= 0 or not isinstance(T_0, int):
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if T_mult < 1 or not isinstance(T_mult, int):
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, (float, int)):
            raise ValueError(
                f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}"
            )
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        cosine = 1 + math.cos(math.pi * self.T_cur / self.T_i)
        return [self.eta_min + (base_lr - self.eta_min) * cosine / 2 for base_lr in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or jump to ``epoch`` (may be fractional, e.g. ``e + i / iters``)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            self._seek(epoch)
        self.last_epoch = math.floor(epoch)
        with _flag(self, "_get_lr_called_within_step"):
            _set_group_values(self.optimizer, "lr", self.get_lr())
        self._last_lr = _group_values(self.optimizer, "lr")

    def _seek(self, epoch: float) -> None:
        """Set ``T_cur`` and ``T_i`` for an absolute epoch."""
        if epoch < 0:
            raise ValueError(f"Expected non-negative epoch, but got {epoch}")
        if epoch < self.T_0:
            self.T_i = self.T_0
            self.T_cur = epoch
        elif self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        else:
            # Restarts happen at T_0 * (T_mult**n - 1) / (T_mult - 1); find the last one passed.
            n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult**n


# --------------------------------------------------------------------------- compositions


def _check_children(
    owner: str, optimizer: _OptimizerLike, schedulers: Sequence[LRScheduler], what: str
) -> None:
    if len(schedulers) < 1:
        raise ValueError(f"{owner} expects at least one scheduler{what}, but got no scheduler.")
    for index, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise TypeError(f"{owner} at index {index} should have `optimizer` as its attribute.")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(
                f"{owner} does not support `ReduceLROnPlateau` scheduler as it "
                "requires additional kwargs to be specified when calling `step`, "
                f"but got one at index {index} in the given schedulers sequence."
            )
        # torch compares with `!=`; identity is the same test for optimizers and never calls
        # an __eq__ that a pytree-style optimizer might define over arrays.
        if scheduler.optimizer is not optimizer:
            raise ValueError(
                f"{owner} expects all schedulers to belong to the same optimizer, but "
                f"got scheduler {type(scheduler).__name__} at index {index} has "
                f"{scheduler.optimizer}, which is different from {type(optimizer).__name__}."
            )


class _Composite(LRScheduler):
    """State handling shared by the schedulers that drive child schedulers."""

    _schedulers: Sequence[LRScheduler]

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "_schedulers"})
        for scheduler, child_state in zip(self._schedulers, state_dict["_schedulers"]):
            scheduler.load_state_dict(child_state)


class SequentialLR(_Composite):
    """Run ``schedulers[i]`` between ``milestones[i - 1]`` and ``milestones[i]``.

    At each milestone the next scheduler restarts from epoch 0 (its closed form, if any).

    Args:
        optimizer: wrapped optimizer (every child must wrap this same object).
        schedulers: the schedulers, in order; ``ReduceLROnPlateau`` is not allowed.
        milestones: ``len(schedulers) - 1`` epoch indices.
        last_epoch: index of the last epoch. Default: ``-1``.

    PyTorch: ``torch.optim.lr_scheduler.SequentialLR``.
    """

    def __init__(
        self,
        optimizer: _OptimizerLike,
        schedulers: list[LRScheduler],
        milestones: list[int],
        last_epoch: int = -1,
    ) -> None:
        _check_children(type(self).__name__, optimizer, schedulers, "")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more "
                f"than the number of milestone points, but got number of schedulers "
                f"{len(schedulers)} and the number of milestones to be equal to {len(milestones)}"
            )
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # Each child already stepped once when it was built: restore the initial lrs, rewind
        # every child by one epoch, then take the initial step of the scheduler active at 0.
        _set_group_values(optimizer, "lr", _group_values(optimizer, "initial_lr"))
        self.recursive_undo()
        active = self._schedulers[bisect_right(self._milestones, 0)]
        active._initial_step()
        self._last_lr = active.get_last_lr()

    def recursive_undo(self, sched: LRScheduler | None = None) -> None:
        """Rewind ``last_epoch`` by one in every (nested) child scheduler."""
        target = self if sched is None else sched
        if hasattr(target, "_schedulers"):
            for child in target._schedulers:
                self.recursive_undo(child)
        elif hasattr(target, "last_epoch"):
            target.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Advance one epoch with the scheduler whose interval contains it."""
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Composite):
    """Step several schedulers together, each applying its rule to the previous one's lr.

    Args:
        schedulers: chainable schedulers of one optimizer; ``ReduceLROnPlateau`` is not allowed.
        optimizer: the wrapped optimizer. Default: ``schedulers[0].optimizer``.

    PyTorch: ``torch.optim.lr_scheduler.ChainedScheduler``.
    """

    def __init__(
        self, schedulers: Sequence[LRScheduler], optimizer: _OptimizerLike | None = None
    ) -> None:
        if optimizer is None and len(schedulers) > 0:
            optimizer = schedulers[0].optimizer
        _check_children(type(self).__name__, optimizer, schedulers, " to be chained")
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = _group_values(self._schedulers[-1].optimizer, "lr")

    def step(self) -> None:  # type: ignore[override]
        """Step every scheduler, in order."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = _group_values(self._schedulers[-1].optimizer, "lr")


# --------------------------------------------------------------------------- metric-driven


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` when a metric has not improved for ``patience`` epochs.

    Args:
        optimizer: wrapped optimizer.
        mode: ``"min"`` (the metric should fall) or ``"max"``. Default: ``"min"``.
        factor: multiplier of the lr on a reduction, below 1. Default: ``0.1``.
        patience: epochs without improvement tolerated before reducing. Default: ``10``.
        threshold: minimal change that counts as an improvement. Default: ``1e-4``.
        threshold_mode: ``"rel"`` (``best * (1 -/+ threshold)``) or ``"abs"``
            (``best -/+ threshold``). Default: ``"rel"``.
        cooldown: epochs to wait after a reduction before counting bad epochs. Default: ``0``.
        min_lr: lower bound of the lr, one value or one per group. Default: ``0``.
        eps: reductions smaller than this are skipped. Default: ``1e-8``.

    ``step(metrics)`` takes the monitored value (a float or a 0-d array).

    PyTorch: ``torch.optim.lr_scheduler.ReduceLROnPlateau``.
    """

    def __init__(
        self,
        optimizer: _OptimizerLike,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: Literal["rel", "abs"] = "rel",
        cooldown: int = 0,
        min_lr: list[float] | float = 0,
        eps: float = 1e-8,
    ) -> None:
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        self.factor = factor
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        n_groups = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n_groups:
                raise ValueError(f"expected {n_groups} min_lrs, got {len(min_lr)}")
            self.default_min_lr: float | None = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * n_groups
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = _group_values(optimizer, "lr")
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics: SupportsFloat, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record one epoch's metric and reduce the lr if it has plateaued."""
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during a cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr(epoch)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _group_values(self.optimizer, "lr")

    def _reduce_lr(self, epoch: int) -> None:
        n_groups = len(self.optimizer.param_groups)
        if n_groups != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"The number of param groups in the `optimizer` ({n_groups}) differs "
                    f"from when `ReduceLROnPlateau` was initialized ({len(self.min_lrs)}), "
                    "usually due to a new param group being added to the optimizer. Please "
                    "modify the `min_lrs` field to match the length of the `optimizer` param "
                    "groups."
                )
            self.min_lrs = [self.default_min_lr] * n_groups
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    @property
    def in_cooldown(self) -> bool:
        """Whether a reduction happened less than ``cooldown`` epochs ago."""
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in {"min", "max"}:
            raise ValueError("mode " + mode + " is unknown!")
        if threshold_mode not in {"rel", "abs"}:
            raise ValueError("threshold mode " + threshold_mode + " is unknown!")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)


# --------------------------------------------------------------------------- cyclic schedules


def _init_momentum_cycle(
    scheduler: CyclicLR | OneCycleLR,
    base_momentum: float | list[float],
    max_momentum: float | list[float],
    last_epoch: int,
) -> tuple[list[float], list[float]]:
    """Check the optimizer has a momentum to cycle; on a fresh start set it to ``max_momentum``."""
    optimizer = scheduler.optimizer
    defaults = _optimizer_defaults(optimizer)
    if "momentum" not in defaults and "betas" not in defaults:
        raise ValueError(
            "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"
        )
    scheduler.use_beta1 = "betas" in defaults
    max_momentums = _per_group("max_momentum", optimizer, max_momentum)
    base_momentums = _per_group("base_momentum", optimizer, base_momentum)
    if last_epoch == -1:
        _set_momentums(optimizer, scheduler.use_beta1, max_momentums)
        _set_group_values(optimizer, "max_momentum", max_momentums)
        _set_group_values(optimizer, "base_momentum", base_momentums)
    return base_momentums, max_momentums


class CyclicLR(LRScheduler):
    """Cycle the lr between ``base_lr`` and ``max_lr`` (and momentum inversely), per batch.

    Policies: ``"triangular"`` (constant amplitude), ``"triangular2"`` (amplitude halved each
    cycle), ``"exp_range"`` (amplitude scaled by ``gamma ** iteration``), or a custom
    ``scale_fn`` evaluated on the cycle number or the iteration (``scale_mode``).

    Args:
        optimizer: wrapped optimizer.
        base_lr: lower lr boundary, one value or one per group.
        max_lr: upper lr boundary, one value or one per group.
        step_size_up: iterations in the increasing half of a cycle. Default: ``2000``.
        step_size_down: iterations in the decreasing half. Default: ``step_size_up``.
        mode: built-in policy, ignored when ``scale_fn`` is given. Default: ``"triangular"``.
        gamma: base of the ``"exp_range"`` scaling. Default: ``1.0``.
        scale_fn: custom scaling policy with values in ``[0, 1]``. Default: ``None``.
        scale_mode: ``"cycle"`` or ``"iterations"``, for ``scale_fn``. Default: ``"cycle"``.
        cycle_momentum: cycle ``momentum`` (or ``betas[0]``) inversely. Default: ``True``.
        base_momentum: lower momentum boundary. Default: ``0.8``.
        max_momentum: upper momentum boundary. Default: ``0.9``.
        last_epoch: index of the last batch. Default: ``-1``.

    PyTorch: ``torch.optim.lr_scheduler.CyclicLR``.
    """

    def __init__(
        self,
        optimizer: _OptimizerLike,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: Literal["triangular", "triangular2", "exp_range"] = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: Literal["cycle", "iterations"] = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float = 0.8,
        max_momentum: float = 0.9,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            _set_group_values(optimizer, "lr", base_lrs)
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError("mode is invalid and scale_fn is None")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.base_momentums, self.max_momentums = _init_momentum_cycle(
                self, base_momentum, max_momentum, last_epoch
            )
        super().__init__(optimizer, last_epoch)
        # As in torch, the constructor's step used base_lrs from group["initial_lr"].
        self.base_lrs = base_lrs

    def _init_scale_fn(self) -> None:
        # The built-in policies fix their own scale_mode, overriding the argument (as torch does).
        if self._scale_fn_custom is None:
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x: float) -> float:
        """The amplitude scaling policy evaluated at ``x`` (cycle number or iteration)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self) -> list[float]:
        """Next lr of each group; also writes the cycled momentum (a side effect, as in torch)."""
        self._warn_if_outside_step()
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [
            base_lr + (max_lr - base_lr) * scale_factor * scale
            for base_lr, max_lr in zip(self.base_lrs, self.max_lrs, strict=True)
        ]
        if self.cycle_momentum:
            momentums = [
                max_m - (max_m - base_m) * scale_factor * scale
                for base_m, max_m in zip(self.base_momentums, self.max_momentums, strict=True)
            ]
            _set_momentums(self.optimizer, self.use_beta1, momentums)
        return lrs

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["_scale_fn_custom"] = _callable_state([state.pop("_scale_fn_custom")])[0]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict["_scale_fn_custom"]
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "_scale_fn_custom"})
        if saved is not None:
            self._scale_fn_custom.__dict__.update(saved)
        self._init_scale_fn()


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm up to ``max_lr``, then anneal far below the initial lr, per batch.

    ``initial_lr = max_lr / div_factor`` and ``min_lr = initial_lr / final_div_factor`` are
    written into each param group (with ``max_lr``, and ``max_momentum`` / ``base_momentum``).
    Two phases by default (fastai's); ``three_phase=True`` follows the paper.

    Args:
        optimizer: wrapped optimizer.
        max_lr: peak lr, one value or one per group.
        total_steps: steps in the cycle; else ``epochs * steps_per_epoch``. Default: ``None``.
        epochs: epochs, used with ``steps_per_epoch``. Default: ``None``.
        steps_per_epoch: steps per epoch, used with ``epochs``. Default: ``None``.
        pct_start: fraction of the cycle spent increasing the lr (a float). Default: ``0.3``.
        anneal_strategy: ``"cos"`` or ``"linear"``. Default: ``"cos"``.
        cycle_momentum: cycle ``momentum`` (or ``betas[0]``) inversely. Default: ``True``.
        base_momentum: lower momentum boundary. Default: ``0.85``.
        max_momentum: upper momentum boundary. Default: ``0.95``.
        div_factor: ``initial_lr = max_lr / div_factor``. Default: ``25.0``.
        final_div_factor: ``min_lr = initial_lr / final_div_factor``. Default: ``1e4``.
        three_phase: add a third phase that annihilates the lr. Default: ``False``.
        last_epoch: index of the last batch. Default: ``-1``.

    Stepping past ``total_steps`` raises ``ValueError``, as in torch.

    PyTorch: ``torch.optim.lr_scheduler.OneCycleLR``.
    """

    def __init__(
        self,
        optimizer: _OptimizerLike,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: Literal["cos", "linear"] = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        self.total_steps = _one_cycle_total_steps(total_steps, epochs, steps_per_epoch)
        self._schedule_phases = _one_cycle_phases(pct_start, self.total_steps, three_phase)
        if pct_start < 0 or pct_start > 1 or not isinstance(pct_start, float):
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}"
            )
        self._anneal_func_type = anneal_strategy
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, peak in zip(optimizer.param_groups, max_lrs, strict=True):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            _init_momentum_cycle(self, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    def _anneal_func(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        """Next lr of each group; also writes the cycled momentum (a side effect, as in torch)."""
        self._warn_if_outside_step()
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"Tried to step {step_num} times. The specified number of total steps is "
                f"{self.total_steps}"
            )
        # The phase containing step_num (the last one catches everything past its start).
        start_step = 0.0
        for phase in self._schedule_phases[:-1]:
            if step_num <= phase["end_step"]:
                break
            start_step = phase["end_step"]
        else:
            phase = self._schedule_phases[-1]
        pct = (step_num - start_step) / (phase["end_step"] - start_step)
        lrs, momentums = [], []
        for group in self.optimizer.param_groups:
            lrs.append(self._anneal_func(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                momentums.append(
                    self._anneal_func(
                        group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                    )
                )
        if self.cycle_momentum:
            _set_momentums(self.optimizer, self.use_beta1, momentums)
        return lrs


def _one_cycle_total_steps(
    total_steps: int | None, epochs: int | None, steps_per_epoch: int | None
) -> int:
    if total_steps is not None:
        if total_steps <= 0 or not isinstance(total_steps, int):
            raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
        return total_steps
    if epochs is not None and steps_per_epoch is not None:
        if not isinstance(epochs, int) or epochs <= 0:
            raise ValueError(f"Expected positive integer epochs, but got {epochs}")
        if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
            raise ValueError(
                f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}"
            )
        return epochs * steps_per_epoch
    raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")


def _phase(end_step: float, lr: tuple[str, str], momentum: tuple[str, str]) -> dict[str, Any]:
    # Phases name param-group keys, so a resumed optimizer's own values drive the schedule.
    return {
        "end_step": end_step,
        "start_lr": lr[0],
        "end_lr": lr[1],
        "start_momentum": momentum[0],
        "end_momentum": momentum[1],
    }


def _one_cycle_phases(pct_start: float, total_steps: int, three_phase: bool) -> list[dict]:
    warmup_end = float(pct_start * total_steps) - 1
    up, down = ("max_momentum", "base_momentum"), ("base_momentum", "max_momentum")
    if three_phase:
        return [
            _phase(warmup_end, ("initial_lr", "max_lr"), up),
            _phase(float(2 * pct_start * total_steps) - 2, ("max_lr", "initial_lr"), down),
            _phase(total_steps - 1, ("initial_lr", "min_lr"), ("max_momentum", "max_momentum")),
        ]
    return [
        _phase(warmup_end, ("initial_lr", "max_lr"), up),
        _phase(total_steps - 1, ("max_lr", "min_lr"), down),
    ]
