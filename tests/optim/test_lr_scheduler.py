"""jnn.optim.lr_scheduler against torch.optim.lr_scheduler, step by step.

Every case builds the same scheduler on a torch optimizer and on a jnn-side optimizer with the same
param groups, steps both, and compares every group's lr (and momentum / betas) after every step.
"""

from __future__ import annotations

import copy
import inspect
import math
import pickle
import re
import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as torch_sched

import jnn
import jnn.nn as nn
from jnn.optim import lr_scheduler

N_STEPS = 30
# Keys a scheduler reads or writes in a param group.
GROUP_KEYS = (
    "lr",
    "initial_lr",
    "momentum",
    "betas",
    "max_lr",
    "min_lr",
    "max_momentum",
    "base_momentum",
)


class _StubOptimizer:
    """Stand-in for an optimizer jnn does not have (Adagrad): torch's ``param_groups`` and
    ``defaults``. Also the base of ``_CountingOptimizer`` below.
    """

    def __init__(self, defaults: dict[str, Any], param_groups: list[dict[str, Any]]) -> None:
        self.defaults = dict(defaults)
        self.param_groups = [dict(group) for group in param_groups]

    def step(self) -> None:
        pass


def _torch_optimizer(kind: str) -> torch.optim.Optimizer:
    """Two param groups with different lr and momentum / betas."""
    p1, p2 = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    if kind == "sgd":
        groups = [{"params": [p1]}, {"params": [p2], "lr": 0.05, "momentum": 0.5}]
        return torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    if kind == "adam":
        groups = [{"params": [p1]}, {"params": [p2], "lr": 0.05, "betas": (0.8, 0.99)}]
        return torch.optim.Adam(groups, lr=0.1)
    assert kind == "adagrad"  # neither momentum nor betas
    return torch.optim.Adagrad([{"params": [p1]}, {"params": [p2], "lr": 0.05}], lr=0.1)


def _jnn_optimizer(torch_opt: torch.optim.Optimizer) -> Any:
    """The jnn twin of ``torch_opt`` (jnn.optim.SGD / Adam), with the same group options.

    Each group gets its own one-element Parameter; Adagrad has no jnn twin yet, so it gets a
    stub with torch's ``param_groups`` and ``defaults``.
    """
    groups = [{k: v for k, v in g.items() if k != "params"} for g in torch_opt.param_groups]
    cls = getattr(jnn.optim, type(torch_opt).__name__, None)
    if cls is None:
        return _StubOptimizer(torch_opt.defaults, groups)
    jnn_groups = [{"params": [nn.Parameter(jnp.zeros(1))], **g} for g in groups]
    return cls(jnn_groups, **torch_opt.defaults)


def _pair(kind: str = "sgd") -> tuple[torch.optim.Optimizer, Any]:
    torch_opt = _torch_optimizer(kind)
    return torch_opt, _jnn_optimizer(torch_opt)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)


def _assert_same_groups(torch_opt: Any, jnn_opt: Any, where: str = "") -> None:
    for i, (tg, jg) in enumerate(zip(torch_opt.param_groups, jnn_opt.param_groups, strict=True)):
        for key in GROUP_KEYS:
            assert (key in tg) == (key in jg), f"{where} group {i}: key {key!r}"
            if key in tg:
                assert _close(tg[key], jg[key]), f"{where} group {i} {key}: {tg[key]} vs {jg[key]}"


def _assert_same_last_lr(torch_s: Any, jnn_s: Any, where: str = "") -> None:
    expected, got = torch_s.get_last_lr(), jnn_s.get_last_lr()
    assert len(expected) == len(got), where
    assert all(_close(a, b) for a, b in zip(expected, got)), f"{where}: {expected} vs {got}"


def _step_both(torch_opt, jnn_opt, torch_s, jnn_s, n: int = N_STEPS, start: int = 0) -> None:
    for i in range(start, start + n):
        torch_opt.step()
        jnn_opt.step()
        torch_s.step()
        jnn_s.step()
        _assert_same_groups(torch_opt, jnn_opt, f"step {i}")
        _assert_same_last_lr(torch_s, jnn_s, f"step {i}")


class _Decay:
    """A callable object: its ``__dict__`` is what LambdaLR's state_dict keeps."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def __call__(self, epoch: int) -> float:
        return self.rate**epoch


# (scheduler name, kwargs, optimizer kind): one line per case.
# fmt: off
CASES = [
    ("StepLR", {"step_size": 3}, "sgd"),
    ("StepLR", {"step_size": 4, "gamma": 0.5}, "sgd"),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9]}, "sgd"),
    ("MultiStepLR", {"milestones": [20, 3], "gamma": 0.3}, "adam"),
    ("ExponentialLR", {"gamma": 0.9}, "sgd"),
    ("CosineAnnealingLR", {"T_max": 10}, "sgd"),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}, "sgd"),
    ("LambdaLR", {"lr_lambda": lambda e: 0.95**e}, "sgd"),
    ("LambdaLR", {"lr_lambda": [lambda e: e // 3 + 1, _Decay(0.9)]}, "sgd"),
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.9}, "sgd"),
    ("MultiplicativeLR", {"lr_lambda": (lambda e: 0.95, lambda e: 1.0 + 0.01 * e)}, "sgd"),
    ("LinearLR", {}, "sgd"),
    ("LinearLR", {"start_factor": 0.25, "end_factor": 0.75, "total_iters": 10}, "sgd"),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 20}, "sgd"),
    ("ConstantLR", {}, "sgd"),
    ("ConstantLR", {"factor": 0.5, "total_iters": 8}, "sgd"),
    ("PolynomialLR", {}, "sgd"),
    ("PolynomialLR", {"total_iters": 20, "power": 2.0}, "sgd"),
    ("CosineAnnealingWarmRestarts", {"T_0": 5}, "sgd"),
    ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2, "eta_min": 0.01}, "sgd"),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 30}, "sgd"),
    ("OneCycleLR", {"max_lr": [1.0, 0.5], "epochs": 4, "steps_per_epoch": 10}, "sgd"),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 35, "anneal_strategy": "linear"}, "sgd"),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 30, "three_phase": True}, "sgd"),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": 40, "pct_start": 0.25}, "adam"),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 30, "cycle_momentum": False}, "adagrad"),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 30, "base_momentum": [0.8, 0.7]}, "sgd"),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4}, "sgd"),
    ("CyclicLR", {"base_lr": [0.01, 0.02], "max_lr": 0.1, "step_size_up": 3,
                  "step_size_down": 5, "mode": "triangular2"}, "sgd"),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4, "mode": "exp_range",
                  "gamma": 0.9}, "adam"),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5, "cycle_momentum": False},
     "adagrad"),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4,
                  "scale_fn": lambda x: 0.8**x, "scale_mode": "iterations"}, "sgd"),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4, "scale_fn": _Decay(0.5),
                  "base_momentum": [0.7, 0.6], "max_momentum": [0.95, 0.9]}, "sgd"),
]
# fmt: on
CASE_IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


def _build(module: Any, name: str, optimizer: Any, kwargs: dict, **extra: Any) -> Any:
    return getattr(module, name)(optimizer, **kwargs, **extra)


@pytest.mark.parametrize(("name", "kwargs", "kind"), CASES, ids=CASE_IDS)
def test_matches_torch(name: str, kwargs: dict, kind: str) -> None:
    torch_opt, jnn_opt = _pair(kind)
    torch_s = _build(torch_sched, name, torch_opt, kwargs)
    jnn_s = _build(lr_scheduler, name, jnn_opt, kwargs)
    _assert_same_groups(torch_opt, jnn_opt, "after construction")
    _assert_same_last_lr(torch_s, jnn_s, "after construction")
    assert jnn_s.last_epoch == torch_s.last_epoch
    assert jnn_s.base_lrs == pytest.approx(torch_s.base_lrs, rel=1e-12)
    _step_both(torch_opt, jnn_opt, torch_s, jnn_s)
    assert jnn_s.last_epoch == torch_s.last_epoch


@pytest.mark.parametrize(("name", "kwargs", "kind"), CASES, ids=CASE_IDS)
def test_state_dict_keys_and_round_trip(name: str, kwargs: dict, kind: str) -> None:
    torch_opt, jnn_opt = _pair(kind)
    torch_s = _build(torch_sched, name, torch_opt, kwargs)
    jnn_s = _build(lr_scheduler, name, jnn_opt, kwargs)
    assert list(jnn_s.state_dict()) == list(torch_s.state_dict())
    _step_both(torch_opt, jnn_opt, torch_s, jnn_s, n=11)
    state = copy.deepcopy(jnn_s.state_dict())
    pickle.dumps(state)  # lambdas are left out, as in torch
    saved_groups = copy.deepcopy(jnn_opt.param_groups)

    # Resume: a fresh scheduler first, then the optimizer state, then the scheduler state.
    _, fresh_opt = _pair(kind)
    fresh_s = _build(lr_scheduler, name, fresh_opt, kwargs)
    fresh_opt.param_groups = saved_groups
    fresh_s.load_state_dict(state)
    _step_both(torch_opt, fresh_opt, torch_s, fresh_s, n=N_STEPS - 11, start=11)


@pytest.mark.parametrize(("name", "kwargs", "kind"), CASES, ids=CASE_IDS)
def test_loads_torch_state_dict(name: str, kwargs: dict, kind: str) -> None:
    # A torch checkpoint (scheduler state + param groups) continues identically in jnn.
    torch_opt, _ = _pair(kind)
    torch_s = _build(torch_sched, name, torch_opt, kwargs)
    for _ in range(9):
        torch_opt.step()
        torch_s.step()
    _, jnn_opt = _pair(kind)
    jnn_s = _build(lr_scheduler, name, jnn_opt, kwargs)
    jnn_opt.param_groups = _jnn_optimizer(torch_opt).param_groups
    jnn_s.load_state_dict(copy.deepcopy(torch_s.state_dict()))
    _step_both(torch_opt, jnn_opt, torch_s, jnn_s, n=N_STEPS - 9, start=9)


@pytest.mark.parametrize(("name", "kwargs", "kind"), CASES, ids=CASE_IDS)
def test_resume_with_last_epoch(name: str, kwargs: dict, kind: str) -> None:
    # last_epoch >= 0 relies on the groups' initial_lr and must not step the lr twice.
    torch_opt, jnn_opt = _pair(kind)
    torch_s = _build(torch_sched, name, torch_opt, kwargs)
    jnn_s = _build(lr_scheduler, name, jnn_opt, kwargs)
    _step_both(torch_opt, jnn_opt, torch_s, jnn_s, n=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_s = _build(torch_sched, name, torch_opt, kwargs, last_epoch=7)
        jnn_s = _build(lr_scheduler, name, jnn_opt, kwargs, last_epoch=7)
    _assert_same_groups(torch_opt, jnn_opt, "after resuming")
    _step_both(torch_opt, jnn_opt, torch_s, jnn_s, n=N_STEPS - 8, start=8)


# fmt: off
CLOSED_FORM = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}),
    ("LinearLR", {"start_factor": 0.25, "total_iters": 10}),
    ("ConstantLR", {"factor": 0.5, "total_iters": 8}),
    ("PolynomialLR", {"total_iters": 20, "power": 2.0}),
    ("LambdaLR", {"lr_lambda": lambda e: 0.95**e}),  # no closed form: get_lr at that epoch
]
# fmt: on


@pytest.mark.parametrize(("name", "kwargs"), CLOSED_FORM, ids=[c[0] for c in CLOSED_FORM])
def test_deprecated_step_with_epoch(name: str, kwargs: dict) -> None:
    torch_opt, jnn_opt = _pair()
    torch_s = _build(torch_sched, name, torch_opt, kwargs)
    jnn_s = _build(lr_scheduler, name, jnn_opt, kwargs)
    for epoch in [3, 4, 9, 2, 15, 16, 40]:
        torch_opt.step()
        jnn_opt.step()
        with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step"):
            torch_s.step(epoch)
        with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step"):
            jnn_s.step(epoch)
        _assert_same_groups(torch_opt, jnn_opt, f"epoch {epoch}")
        _assert_same_last_lr(torch_s, jnn_s, f"epoch {epoch}")
        torch_s.step()
        jnn_s.step()
        _assert_same_groups(torch_opt, jnn_opt, f"after epoch {epoch}")


@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_cosine_warm_restarts_fractional_epochs(T_mult: int) -> None:
    torch_opt, jnn_opt = _pair()
    torch_s = torch_sched.CosineAnnealingWarmRestarts(torch_opt, T_0=4, T_mult=T_mult)
    jnn_s = lr_scheduler.CosineAnnealingWarmRestarts(jnn_opt, T_0=4, T_mult=T_mult)
    for epoch in [0.25, 1.5, 3.99, 4.0, 7.5, 12.0, 30.25, 2.0]:
        torch_s.step(epoch)
        jnn_s.step(epoch)
        _assert_same_groups(torch_opt, jnn_opt, f"epoch {epoch}")
        assert (jnn_s.T_cur, jnn_s.T_i, jnn_s.last_epoch) == pytest.approx(
            (torch_s.T_cur, torch_s.T_i, torch_s.last_epoch)
        )
        torch_s.step()
        jnn_s.step()
        _assert_same_groups(torch_opt, jnn_opt, f"after epoch {epoch}")


# ----------------------------------------------------------------------------- ReduceLROnPlateau

# fmt: off
METRICS = [1.0, 0.9, 0.9, 0.95, 0.91, 0.9, 0.9, 0.92, 0.5, 0.5, 0.50001, 0.6, 0.7, 0.8, 0.9,
           0.2, 0.2, 0.2, 0.3, 0.25, 0.19, 0.19, 0.19, 0.19, 0.18, 0.3, 0.3, 0.3, 0.3, 0.3]
PLATEAU_CASES = [
    {},
    {"patience": 2},
    {"patience": 0, "factor": 0.5},
    {"mode": "max", "patience": 1},
    {"threshold_mode": "abs", "threshold": 0.05, "patience": 1},
    {"mode": "max", "threshold_mode": "abs", "threshold": 0.01, "patience": 2},
    {"patience": 1, "cooldown": 3},
    {"patience": 0, "min_lr": [0.01, 0.004]},
    {"patience": 0, "min_lr": 0.003, "factor": 0.3},
    {"patience": 0, "eps": 0.02},
]
# fmt: on


@pytest.mark.parametrize("kwargs", PLATEAU_CASES, ids=[str(k) for k in PLATEAU_CASES])
def test_reduce_lr_on_plateau_matches_torch(kwargs: dict) -> None:
    torch_opt, jnn_opt = _pair()
    torch_s = torch_sched.ReduceLROnPlateau(torch_opt, **kwargs)
    jnn_s = lr_scheduler.ReduceLROnPlateau(jnn_opt, **kwargs)
    assert list(jnn_s.state_dict()) == list(torch_s.state_dict())
    attrs = ("best", "num_bad_epochs", "cooldown_counter", "last_epoch", "in_cooldown")
    for i, metric in enumerate(METRICS):
        torch_s.step(torch.tensor(metric, dtype=torch.float64))
        jnn_s.step(metric)
        _assert_same_groups(torch_opt, jnn_opt, f"step {i}")
        _assert_same_last_lr(torch_s, jnn_s, f"step {i}")
        assert [getattr(jnn_s, a) for a in attrs] == [getattr(torch_s, a) for a in attrs]
        if i == 12:  # round trip through a fresh scheduler
            state = copy.deepcopy(jnn_s.state_dict())
            jnn_s = lr_scheduler.ReduceLROnPlateau(jnn_opt, patience=99)
            jnn_s.load_state_dict(state)


def test_reduce_lr_on_plateau_epoch_argument_and_new_group() -> None:
    torch_opt, jnn_opt = _pair()
    jnn_s = lr_scheduler.ReduceLROnPlateau(jnn_opt, patience=0, min_lr=[0.0, 0.0])
    with pytest.warns(UserWarning, match="The epoch parameter"):
        jnn_s.step(1.0, epoch=5)
    assert jnn_s.last_epoch == 5
    jnn_opt.param_groups.append({"lr": 0.1})
    with pytest.raises(RuntimeError, match=r"The number of param groups in the `optimizer` \(3\)"):
        jnn_s.step(2.0)
    # A scalar min_lr just grows with the optimizer.
    jnn_s = lr_scheduler.ReduceLROnPlateau(_jnn_optimizer(torch_opt), patience=0, min_lr=0.01)
    jnn_s.optimizer.param_groups.append({"lr": 0.1})
    jnn_s.step(1.0)
    jnn_s.step(2.0)
    assert jnn_s.min_lrs == [0.01] * 3
    assert jnn_s.get_last_lr() == pytest.approx([0.01, 0.01, 0.01])


# ----------------------------------------------------------------------------- compositions


def _children(module: Any, opt: Any, spec: str) -> list:
    makers = {
        "constant": lambda: module.ConstantLR(opt, factor=0.5, total_iters=4),
        "exp": lambda: module.ExponentialLR(opt, gamma=0.9),
        "linear": lambda: module.LinearLR(opt, start_factor=0.2, total_iters=6),
        "cosine": lambda: module.CosineAnnealingLR(opt, T_max=8, eta_min=0.002),
        "step": lambda: module.StepLR(opt, step_size=3, gamma=0.5),
        "multistep": lambda: module.MultiStepLR(opt, milestones=[4, 7], gamma=0.5),
        "poly": lambda: module.PolynomialLR(opt, total_iters=12, power=1.5),
        "lambda": lambda: module.LambdaLR(opt, lr_lambda=lambda e: 1.0 / (e + 1)),
        "mult": lambda: module.MultiplicativeLR(opt, lr_lambda=lambda e: 0.97),
        "warm": lambda: module.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2),
    }
    return [makers[name]() for name in spec.split("+")]


def _sequential(module: Any, opt: Any, spec: str, milestones: list[int]) -> Any:
    children = []
    for part in spec.split(","):
        nested = _children(module, opt, part)
        children.append(module.ChainedScheduler(nested) if len(nested) > 1 else nested[0])
    return module.SequentialLR(opt, children, milestones=milestones)


# fmt: off
SEQUENTIAL_CASES = [
    ("constant,exp", [3]),
    ("linear,cosine", [6]),
    ("linear,cosine,step", [5, 12]),
    ("exp,multistep,poly", [2, 9]),
    ("lambda,mult", [10]),
    ("linear,warm", [4]),
    ("constant+exp,cosine", [8]),  # a ChainedScheduler inside a SequentialLR
    ("step,exp", [0]),
]
# fmt: on


# Torch warns about the order when a SequentialLR re-steps a nested ChainedScheduler; so do we.
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")
@pytest.mark.parametrize(
    ("spec", "milestones"), SEQUENTIAL_CASES, ids=[s for s, _ in SEQUENTIAL_CASES]
)
def test_sequential_lr_matches_torch(spec: str, milestones: list[int]) -> None:
    torch_opt, jnn_opt = _pair()
    torch_s = _sequential(torch_sched, torch_opt, spec, milestones)
    jnn_s = _sequential(lr_scheduler, jnn_opt, spec, milestones)
    _assert_same_groups(torch_opt, jnn_opt, "after construction")
    _assert_same_last_lr(torch_s, jnn_s, "after construction")
    assert list(jnn_s.state_dict()) == list(torch_s.state_dict())
    _step_both(torch_opt, jnn_opt, torch_s, jnn_s, n=10)

    state = copy.deepcopy(jnn_s.state_dict())
    saved_groups = copy.deepcopy(jnn_opt.param_groups)
    _, fresh_opt = _pair()
    fresh_s = _sequential(lr_scheduler, fresh_opt, spec, milestones)
    fresh_opt.param_groups = saved_groups
    fresh_s.load_state_dict(state)
    _step_both(torch_opt, fresh_opt, torch_s, fresh_s, n=N_STEPS - 10, start=10)


CHAINED_CASES = ["constant+exp", "linear+step+multistep", "cosine+exp", "poly+mult", "warm+linear"]


@pytest.mark.parametrize("spec", CHAINED_CASES)
def test_chained_scheduler_matches_torch(spec: str) -> None:
    torch_opt, jnn_opt = _pair()
    torch_s = torch_sched.ChainedScheduler(_children(torch_sched, torch_opt, spec))
    jnn_s = lr_scheduler.ChainedScheduler(_children(lr_scheduler, jnn_opt, spec), jnn_opt)
    _assert_same_groups(torch_opt, jnn_opt, "after construction")
    _assert_same_last_lr(torch_s, jnn_s, "after construction")
    assert list(jnn_s.state_dict()) == list(torch_s.state_dict())
    assert [list(s) for s in jnn_s.state_dict()["_schedulers"]] == [
        list(s) for s in torch_s.state_dict()["_schedulers"]
    ]
    _step_both(torch_opt, jnn_opt, torch_s, jnn_s, n=12)

    state = copy.deepcopy(jnn_s.state_dict())
    saved_groups = copy.deepcopy(jnn_opt.param_groups)
    _, fresh_opt = _pair()
    fresh_s = lr_scheduler.ChainedScheduler(_children(lr_scheduler, fresh_opt, spec))
    fresh_opt.param_groups = saved_groups
    fresh_s.load_state_dict(state)
    _step_both(torch_opt, fresh_opt, torch_s, fresh_s, n=N_STEPS - 12, start=12)


# ----------------------------------------------------------------------------- errors


# One of each of torch's 15 schedulers, built by (module, optimizer) -> scheduler.
# fmt: off
ONE_OF_EACH = {
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 0.9**e),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.9),
    "StepLR": lambda m, o: m.StepLR(o, 2),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, [2, 4]),
    "ConstantLR": lambda m, o: m.ConstantLR(o),
    "LinearLR": lambda m, o: m.LinearLR(o),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, 0.9),
    "SequentialLR": lambda m, o: m.SequentialLR(o, _children(m, o, "constant+exp"), [2]),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, 5),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(_children(m, o, "constant+exp")),
    "ReduceLROnPlateau": lambda m, o: m.ReduceLROnPlateau(o),
    "CyclicLR": lambda m, o: m.CyclicLR(o, 0.01, 0.1),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, 3),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, 1.0, total_steps=10),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o),
}
# fmt: on


def test_one_of_each_is_every_torch_scheduler() -> None:
    torch_names = {n for n in torch_sched.__all__ if n not in ("LRScheduler", "_LRScheduler")}
    assert set(ONE_OF_EACH) == torch_names


def _snapshot(scheduler: Any, optimizer: Any) -> str:
    """The scheduler's state and the optimizer's group options, as text to compare."""
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    return repr((scheduler.state_dict(), groups))


def _outcome(call: Any) -> BaseException | None:
    try:
        call()
    except Exception as error:  # noqa: BLE001 - torch's error is the expected value
        return error
    return None


def _assert_same_outcome(torch_call: Any, jnn_call: Any, jnn_state: Any) -> None:
    """jnn raises torch's exception type with torch's message, or nothing when torch raises
    nothing; a failed jnn call leaves ``jnn_state()`` as it was."""
    expected = _outcome(torch_call)
    before = jnn_state()
    if expected is None:
        jnn_call()
        return
    with pytest.raises(type(expected), match=f"^{re.escape(str(expected))}$"):
        jnn_call()
    assert jnn_state() == before


def _step(scheduler: Any) -> None:
    if type(scheduler).__name__ == "ReduceLROnPlateau":
        scheduler.step(1.0)
    else:
        scheduler.step()


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("name", ONE_OF_EACH)
def test_step_without_a_group_key_raises_as_torch_and_changes_nothing(name: str,
                                                                      kind: str) -> None:
    """torch reads group['lr'] (and 'initial_lr', 'momentum', 'betas', ...) as it writes it:
    its KeyError, with the scheduler and every group as they were before step()."""
    for key in GROUP_KEYS:
        torch_opt, jnn_opt = _pair(kind)
        torch_s = ONE_OF_EACH[name](torch_sched, torch_opt)
        jnn_s = ONE_OF_EACH[name](lr_scheduler, jnn_opt)
        torch_opt.step()
        _step(torch_s)
        _step(jnn_s)
        assert (key in torch_opt.param_groups[0]) == (key in jnn_opt.param_groups[0]), key
        if key not in torch_opt.param_groups[0]:
            continue
        del torch_opt.param_groups[0][key], jnn_opt.param_groups[0][key]
        _assert_same_outcome(lambda: _step(torch_s), lambda: _step(jnn_s),  # noqa: B023
                             lambda: _snapshot(jnn_s, jnn_opt))  # noqa: B023


# What is no scheduler state: no dict, or a dict without the entries torch pops first.
NON_DICTS = {"list": [1], "empty-list": [], "pairs": [("a", 1)], "none": None, "str": "abc",
             "int": 5, "tuple": (), "dict-with-an-epoch-only": {"last_epoch": 7}}


@pytest.mark.parametrize("given", NON_DICTS)
@pytest.mark.parametrize("name", ONE_OF_EACH)
def test_load_state_dict_of_no_dict_raises_as_torch_and_changes_nothing(name: str,
                                                                        given: str) -> None:
    torch_opt, jnn_opt = _pair()
    torch_s = ONE_OF_EACH[name](torch_sched, torch_opt)
    jnn_s = ONE_OF_EACH[name](lr_scheduler, jnn_opt)
    _assert_same_outcome(lambda: torch_s.load_state_dict(copy.deepcopy(NON_DICTS[given])),
                         lambda: jnn_s.load_state_dict(copy.deepcopy(NON_DICTS[given])),
                         lambda: _snapshot(jnn_s, jnn_opt))



def _plateau(module: Any, opt: Any) -> Any:
    return module.ReduceLROnPlateau(opt)


# (label, builder taking (module, optimizer), exception type): jnn must raise torch's message.
# fmt: off
ERROR_CASES = [
    ("not-an-optimizer", lambda m, o: m.StepLR(object(), 2), TypeError),
    ("resume-without-initial_lr", lambda m, o: m.StepLR(o, 2, last_epoch=3), KeyError),
    ("lambda-count", lambda m, o: m.LambdaLR(o, [lambda e: 1.0]), ValueError),
    ("multiplicative-count", lambda m, o: m.MultiplicativeLR(o, [lambda e: 1.0]), ValueError),
    ("multiplicative-callable", lambda m, o: m.MultiplicativeLR(o, 0.9), TypeError),
    ("constant-factor-high", lambda m, o: m.ConstantLR(o, factor=1.5), ValueError),
    ("constant-factor-low", lambda m, o: m.ConstantLR(o, factor=-0.1), ValueError),
    ("linear-start-zero", lambda m, o: m.LinearLR(o, start_factor=0), ValueError),
    ("linear-start-high", lambda m, o: m.LinearLR(o, start_factor=1.5), ValueError),
    ("linear-end", lambda m, o: m.LinearLR(o, end_factor=1.5), ValueError),
    ("warm-T_0-zero", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=0), ValueError),
    ("warm-T_0-float", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2.5), ValueError),
    ("warm-T_mult", lambda m, o: m.CosineAnnealingWarmRestarts(o, 2, T_mult=0), ValueError),
    ("warm-T_mult-float", lambda m, o: m.CosineAnnealingWarmRestarts(o, 2, 1.5), ValueError),
    ("warm-eta_min", lambda m, o: m.CosineAnnealingWarmRestarts(o, 2, eta_min="0"), ValueError),
    ("warm-negative-epoch", lambda m, o: m.CosineAnnealingWarmRestarts(o, 2).step(-1), ValueError),
    ("onecycle-total", lambda m, o: m.OneCycleLR(o, 1.0, total_steps=0), ValueError),
    ("onecycle-total-float", lambda m, o: m.OneCycleLR(o, 1.0, total_steps=2.5), ValueError),
    ("onecycle-epochs", lambda m, o: m.OneCycleLR(o, 1.0, epochs=0, steps_per_epoch=3), ValueError),
    ("onecycle-spe", lambda m, o: m.OneCycleLR(o, 1.0, epochs=2, steps_per_epoch=-1), ValueError),
    ("onecycle-no-length", lambda m, o: m.OneCycleLR(o, 1.0, epochs=2), ValueError),
    ("onecycle-pct", lambda m, o: m.OneCycleLR(o, 1.0, 10, pct_start=1.5), ValueError),
    ("onecycle-pct-int", lambda m, o: m.OneCycleLR(o, 1.0, 10, pct_start=0), ValueError),
    ("onecycle-anneal", lambda m, o: m.OneCycleLR(o, 1.0, 10, anneal_strategy="exp"), ValueError),
    ("onecycle-max_lr-count", lambda m, o: m.OneCycleLR(o, [1.0, 2.0, 3.0], 10), ValueError),
    ("onecycle-momentum-count", lambda m, o: m.OneCycleLR(o, 1.0, 10, max_momentum=[0.9]),
     ValueError),
    ("cyclic-mode", lambda m, o: m.CyclicLR(o, 0.1, 1.0, mode="sawtooth"), ValueError),
    ("cyclic-base_lr-count", lambda m, o: m.CyclicLR(o, [0.1], 1.0), ValueError),
    ("plateau-factor", lambda m, o: m.ReduceLROnPlateau(o, factor=1.0), ValueError),
    ("plateau-mode", lambda m, o: m.ReduceLROnPlateau(o, mode="mean"), ValueError),
    ("plateau-threshold-mode", lambda m, o: m.ReduceLROnPlateau(o, threshold_mode="x"),
     ValueError),
    ("plateau-min_lr-count", lambda m, o: m.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError),
    ("plateau-not-an-optimizer", lambda m, o: m.ReduceLROnPlateau(3), TypeError),
    ("sequential-empty", lambda m, o: m.SequentialLR(o, [], []), ValueError),
    ("sequential-no-optimizer", lambda m, o: m.SequentialLR(o, [object()], []), TypeError),
    ("sequential-plateau", lambda m, o: m.SequentialLR(o, [_plateau(m, o)], []), ValueError),
    ("sequential-milestones", lambda m, o: m.SequentialLR(o, [m.StepLR(o, 2)], [3]), ValueError),
    ("chained-empty", lambda m, o: m.ChainedScheduler([]), ValueError),
    ("chained-plateau", lambda m, o: m.ChainedScheduler([_plateau(m, o)], o), ValueError),
    ("base-get_lr", lambda m, o: m.LRScheduler(o), NotImplementedError),
    ("lambda-load-non-dict", lambda m, o: m.LambdaLR(o, lambda e: 1.0).load_state_dict(3),
     AttributeError),
    ("multiplicative-load-non-dict",
     lambda m, o: m.MultiplicativeLR(o, lambda e: 1.0).load_state_dict(2.5), AttributeError),
    ("cyclic-load-non-dict", lambda m, o: m.CyclicLR(o, 0.1, 1.0).load_state_dict(None),
     AttributeError),
]
# fmt: on


@pytest.mark.parametrize(
    ("builder", "exc"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_errors_match_torch(builder: Any, exc: type[Exception]) -> None:
    torch_opt, jnn_opt = _pair()
    with pytest.raises(exc) as torch_error:
        builder(torch_sched, torch_opt)
    with pytest.raises(exc, match=f"^{re.escape(str(torch_error.value))}$"):
        builder(lr_scheduler, jnn_opt)


@pytest.mark.parametrize("name", ["OneCycleLR", "CyclicLR"])
def test_cycle_momentum_needs_momentum(name: str) -> None:
    torch_opt, jnn_opt = _pair("adagrad")
    match = "^optimizer must support momentum or beta1 with `cycle_momentum` option enabled$"
    args = (1.0, 10) if name == "OneCycleLR" else (0.1, 1.0)
    with pytest.raises(ValueError, match=match):
        getattr(torch_sched, name)(torch_opt, *args)
    with pytest.raises(ValueError, match=match):
        getattr(lr_scheduler, name)(jnn_opt, *args)


def test_one_cycle_step_past_total_steps() -> None:
    torch_opt, jnn_opt = _pair()
    schedulers = [
        m.OneCycleLR(o, 1.0, total_steps=3)
        for m, o in [(torch_sched, torch_opt), (lr_scheduler, jnn_opt)]
    ]
    for s in schedulers:
        for _ in range(3):
            s.optimizer.step()
            s.step()
    with pytest.raises(
        ValueError, match="^Tried to step 4 times. The specified number of total steps is 3$"
    ):
        schedulers[1].step()
    assert schedulers[1].last_epoch == 3  # a failed step changes nothing (torch's moved to 4)


def test_different_optimizers_rejected() -> None:
    _, jnn_opt = _pair()
    _, other = _pair()
    match = (
        "^SequentialLR expects all schedulers to belong to the same optimizer, but got "
        "scheduler StepLR at index 0 has "
    )
    with pytest.raises(ValueError, match=match):
        lr_scheduler.SequentialLR(jnn_opt, [lr_scheduler.StepLR(other, 2)], [])
    with pytest.raises(ValueError, match="^ChainedScheduler expects all schedulers to belong"):
        lr_scheduler.ChainedScheduler(
            [lr_scheduler.StepLR(jnn_opt, 2), lr_scheduler.StepLR(other, 2)]
        )


# ----------------------------------------------------------------------------- warnings and API


def _user_warnings(fn: Any) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def test_step_order_warnings_match_torch() -> None:
    for module, opt in zip((torch_sched, lr_scheduler), _pair(), strict=True):
        # scheduler.step() before any optimizer.step()
        s = module.StepLR(opt, 2)
        early = _user_warnings(s.step)
        assert len(early) == 1 and early[0].startswith("Detected call of `lr_scheduler.step()`")
        # the right order is silent
        s = module.ExponentialLR(opt, 0.9)
        assert _user_warnings(lambda s=s, opt=opt: (opt.step(), s.step())) == []
        # get_lr() outside step() points to get_last_lr()
        assert _user_warnings(s.get_lr) == [
            "To get the last learning rate computed by the scheduler, please use `get_last_lr()`."
        ]


def test_overridden_optimizer_step_warns() -> None:
    for module, opt in zip((torch_sched, lr_scheduler), _pair(), strict=True):
        s = module.StepLR(opt, 2)
        opt.step = lambda: None
        messages = _user_warnings(s.step)
        assert len(messages) == 1 and messages[0].startswith("Seems like `optimizer.step()` has")


def test_optimizer_without_step_method_is_scheduled_silently() -> None:
    class Bare:
        def __init__(self) -> None:
            self.param_groups = [{"lr": 1.0}]

    opt = Bare()
    s = lr_scheduler.MultiStepLR(opt, milestones=[1, 3])
    assert _user_warnings(lambda: [s.step() for _ in range(4)]) == []
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    assert "step" not in vars(opt)


class _CountingOptimizer(_StubOptimizer):
    def step(self, closure: Any = None) -> Any:
        self.calls = [*getattr(self, "calls", []), closure]
        return closure


def test_optimizer_step_wrapper_keeps_behaviour() -> None:
    _, stub = _pair()
    opt = _CountingOptimizer(stub.defaults, stub.param_groups)
    lr_scheduler.StepLR(opt, 2)
    wrapper = opt.step
    lr_scheduler.ExponentialLR(opt, 0.5)
    assert opt.step is wrapper  # wrapped once only
    assert "step" in vars(opt)  # an instance attribute: the class is untouched
    assert vars(_CountingOptimizer)["step"].__qualname__ == "_CountingOptimizer.step"
    assert opt.step("c") == "c" and opt.calls == ["c"] and opt._opt_called
    assert opt.step.__name__ == "step"


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda o: pickle.loads(pickle.dumps(o))])
def test_copied_optimizer_steps_itself(clone: Any) -> None:
    _, stub = _pair()
    opt = _CountingOptimizer(stub.defaults, stub.param_groups)
    lr_scheduler.StepLR(opt, 2)
    twin = clone(opt)
    twin.step(1)
    assert twin.calls == [1] and twin._opt_called
    assert not hasattr(opt, "calls") and not hasattr(opt, "_opt_called")
    scheduler = lr_scheduler.StepLR(twin, 2)
    assert _user_warnings(scheduler.step) == []


@pytest.mark.parametrize("name", torch_sched.__all__)
def test_signature_matches_torch(name: str) -> None:
    def describe(cls: type) -> list:
        params = inspect.signature(cls).parameters.values()
        return [(p.name, p.kind, p.default) for p in params]

    assert describe(getattr(lr_scheduler, name)) == describe(getattr(torch_sched, name))


def test_public_names() -> None:
    assert sorted(lr_scheduler.__all__) == sorted(torch_sched.__all__)
    assert issubclass(lr_scheduler._LRScheduler, lr_scheduler.LRScheduler)
    assert lr_scheduler._LRScheduler.__name__ == "_LRScheduler"
    assert not issubclass(lr_scheduler.MultiplicativeLR, lr_scheduler.LambdaLR)
    assert issubclass(lr_scheduler.ReduceLROnPlateau, lr_scheduler.LRScheduler)


def test_custom_subclass() -> None:
    class Halving(lr_scheduler._LRScheduler):
        def get_lr(self) -> list[float]:
            return [base / 2**self.last_epoch for base in self.base_lrs]

    _, opt = _pair()
    s = Halving(opt)
    for _ in range(3):
        opt.step()
        s.step()
    assert s.get_last_lr() == [0.1 / 8, 0.05 / 8]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]


def test_lambda_state_dict_keeps_callable_objects_only() -> None:
    torch_opt, jnn_opt = _pair()
    fns = [lambda e: 1.0, _Decay(0.5)]
    torch_state = torch_sched.LambdaLR(torch_opt, fns).state_dict()
    jnn_state = lr_scheduler.LambdaLR(jnn_opt, fns).state_dict()
    assert jnn_state["lr_lambdas"] == torch_state["lr_lambdas"] == [None, {"rate": 0.5}]
    target = _Decay(0.9)
    resumed = lr_scheduler.LambdaLR(_pair()[1], [lambda e: 1.0, target])
    resumed.load_state_dict(jnn_state)
    assert target.rate == 0.5
    assert jnn_state["lr_lambdas"] == [None, {"rate": 0.5}]  # not consumed by loading


def test_cyclic_state_dict_restores_builtin_scale_mode() -> None:
    _, opt = _pair()
    s = lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode="exp_range", gamma=0.9, scale_mode="cycle")
    assert s.scale_mode == "iterations"  # the built-in policy fixes it, as in torch
    state = s.state_dict()
    assert state["_scale_fn_custom"] is None
    state["scale_mode"] = "cycle"
    s.load_state_dict(state)
    assert s.scale_mode == "iterations"


@pytest.mark.parametrize(("kind", "cls"), [("sgd", "SGD"), ("adam", "Adam")])
def test_jnn_side_is_a_real_optimizer(kind: str, cls: str) -> None:
    _, jnn_opt = _pair(kind)
    assert type(jnn_opt) is getattr(jnn.optim, cls)
    assert all(len(g["params"]) == 1 for g in jnn_opt.param_groups)


class _Halving(jnn.optim.lr_scheduler.LRScheduler):
    """A user's own scheduler: its step is guarded like jnn's."""

    def get_lr(self):
        return [group["lr"] / 2 for group in self.optimizer.param_groups]

    def step(self, epoch=None):
        super().step(epoch)


@pytest.mark.parametrize("make", [
    lambda opt: jnn.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
    lambda opt: jnn.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=10),
    lambda opt: jnn.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3),
    lambda opt: jnn.optim.lr_scheduler.ReduceLROnPlateau(opt),
    _Halving,
], ids=["StepLR", "OneCycleLR", "CosineAnnealingWarmRestarts", "ReduceLROnPlateau", "own"])
def test_scheduler_step_inside_a_compiled_function_raises_and_changes_nothing(make):
    """scheduler.step() inside jnn.compile would run at the trace only (a StepLR whose
    first steps leave the lr as it is was accepted, then never ran again): jnn says so,
    with the fix, and the model, optimizer and scheduler are as they were."""
    model = jnn.nn.Linear(2, 1)
    opt = jnn.optim.SGD(model.parameters(), lr=0.1)
    sched = make(opt)
    x, y = jnp.ones((4, 2)), jnp.zeros((4, 1))

    @jnn.compile
    def step(x, y):
        def closure():
            opt.zero_grad()
            return jnn.nn.functional.mse_loss(model(x), y)
        loss = opt.step(closure)
        if isinstance(sched, jnn.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(loss)
        else:
            sched.step()
        return loss

    before = (np.asarray(model.weight.data), opt.param_groups[0]["lr"],
              copy.deepcopy(sched.state_dict()))
    with pytest.raises(RuntimeError, match=r"\.step\(\) inside a compiled function runs once"):
        step(x, y)
    np.testing.assert_array_equal(np.asarray(model.weight.data), before[0])
    assert opt.param_groups[0]["lr"] == before[1]
    assert sched.state_dict() == before[2]


def test_a_compiled_step_reused_by_new_objects_satisfies_the_schedulers_order_check():
    """A sweep's next trial reuses the compiled program without tracing it: its optimizer
    still counts as stepped, so its scheduler's first step() does not warn that it came
    before optimizer.step() (torch's order check), as in the first trial."""
    @jnn.compile
    def step(model, opt, x, y):
        def closure():
            opt.zero_grad()
            return jnn.nn.functional.mse_loss(model(x), y)
        return opt.step(closure)

    x, y = jnp.ones((4, 3)), jnp.zeros((4, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        for _ in range(3):
            model = jnn.nn.Linear(3, 2)
            opt = jnn.optim.SGD(model.parameters(), lr=0.1)
            sched = jnn.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
            for i in range(2):
                step(model, opt, x, y)
                sched.step()
                assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** (i + 1))
    assert step.trace_count == 1
