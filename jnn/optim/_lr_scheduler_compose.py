"""Schedulers that drive other schedulers (``SequentialLR``, ``ChainedScheduler``) and the
metric-driven ``ReduceLROnPlateau``.

Private: import from :mod:`jnn.optim.lr_scheduler`.
"""

from __future__ import annotations

import math
import warnings
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, Literal, SupportsFloat

from jnn.optim._lr_scheduler_base import (
    _PUBLIC_MODULE,
    EPOCH_DEPRECATION_WARNING,
    LRScheduler,
    _check_optimizer,
    _check_poppable,
    _group_values,
    _OptimizerLike,
    _update_group_values,
)

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

    __module__ = _PUBLIC_MODULE

    _schedulers: Sequence[LRScheduler]

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _check_poppable(state_dict, "_schedulers")
        children = state_dict["_schedulers"]  # torch's KeyError comes before any update
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "_schedulers"})
        for scheduler, child_state in zip(self._schedulers, children):
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

    __module__ = _PUBLIC_MODULE

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
        _update_group_values(optimizer, "lr", _group_values(optimizer, "initial_lr"))
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

    __module__ = _PUBLIC_MODULE

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

    __module__ = _PUBLIC_MODULE

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
        if hasattr(metrics, "shape") and getattr(metrics, "size", 1) != 1:  # Tensor.__float__
            raise ValueError("only one element tensors can be converted to Python scalars")
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
