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

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

# The base class, the compositions and the cyclic schedules live in private modules. Their
# classes report this module as ``__module__`` and are re-exported here; the private ones
# (``X as X``) are not in ``__all__`` but pickles and reprs name them by this path.
from jnn.optim._lr_scheduler_base import (
    EPOCH_DEPRECATION_WARNING as EPOCH_DEPRECATION_WARNING,
)
from jnn.optim._lr_scheduler_base import (
    LRScheduler,
    _callable_state,
    _check_poppable,
    _flag,
    _group_values,
    _lambdas_per_group,
    _OptimizerLike,
    _update_group_values,
)
from jnn.optim._lr_scheduler_base import _LRScheduler as _LRScheduler
from jnn.optim._lr_scheduler_base import _StepRecorder as _StepRecorder
from jnn.optim._lr_scheduler_compose import (
    ChainedScheduler,
    ReduceLROnPlateau,
    SequentialLR,
)
from jnn.optim._lr_scheduler_compose import _Composite as _Composite
from jnn.optim._lr_scheduler_cyclic import CyclicLR, OneCycleLR

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


# --------------------------------------------------------------------------- factor schedules


class _LambdaScheduler(LRScheduler):
    """State handling shared by the schedulers driven by ``lr_lambdas``."""

    lr_lambdas: list[Callable[[int], float]]

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = _callable_state(self.lr_lambdas)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _check_poppable(state_dict, "lr_lambdas")
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
            _update_group_values(self.optimizer, "lr", self.get_lr())
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
