"""The per-batch cyclic schedules: ``CyclicLR`` and ``OneCycleLR``, with their momentum cycling.

Private: import from :mod:`jnn.optim.lr_scheduler`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from jnn.optim._lr_scheduler_base import (
    _PUBLIC_MODULE,
    LRScheduler,
    _callable_state,
    _check_optimizer,
    _check_poppable,
    _optimizer_defaults,
    _OptimizerLike,
    _per_group,
    _set_group_values,
    _set_momentums,
    _update_group_values,
)

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

    __module__ = _PUBLIC_MODULE

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
            _update_group_values(optimizer, "lr", base_lrs)
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
        _check_poppable(state_dict, "_scale_fn_custom")
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

    __module__ = _PUBLIC_MODULE

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
