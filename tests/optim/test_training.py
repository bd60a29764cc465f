"""Training, step for step equal to PyTorch.

Each configuration trains the same model with the same data in torch and in jnn (eager
``step(closure)``, eager ``jnn.autograd.backward`` + ``step()``, and under ``jnn.compile``) and
compares losses, parameters and gradients after every step and the optimizer's ``state_dict``
at the end (see ``tests/optim/_harness.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.optim._harness import N_STEPS, Config, modes_for, to_numpy, train_and_compare


def _sched(name: str, **kwargs: Any) -> Any:
    return lambda module, optimizer: getattr(module, name)(optimizer, **kwargs)


def _sequential(module: Any, optimizer: Any) -> Any:
    warmup = module.LinearLR(optimizer, start_factor=0.1, total_iters=5)
    decay = module.ExponentialLR(optimizer, gamma=0.9)
    return module.SequentialLR(optimizer, [warmup, decay], milestones=[5])


SGD_M = {"lr": 0.05, "momentum": 0.9}

# One line per configuration.
# fmt: off
CONFIGS: dict[str, Config] = {
    "sgd": Config("SGD", {"lr": 0.1}),
    "sgd-momentum": Config("SGD", SGD_M),
    "sgd-nesterov": Config("SGD", {**SGD_M, "nesterov": True}),
    "sgd-weight_decay": Config("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    "sgd-dampening": Config("SGD", {**SGD_M, "dampening": 0.3}),
    "sgd-maximize": Config("SGD", {"lr": 0.01, "momentum": 0.5, "maximize": True}),
    "adam": Config("Adam", {"lr": 0.01}),
    "adam-weight_decay": Config("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    "adam-amsgrad": Config("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "amsgrad": True}),
    "adam-maximize": Config("Adam", {"lr": 0.01, "maximize": True}),
    "adamw": Config("AdamW", {"lr": 0.01}),
    "adamw-amsgrad": Config("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    # Per-layer learning rates: a tiny base lr (Adam's steps are ~lr in size, so 1e-5 still
    # moves the first layer measurably) and a visible one.
    "groups-lr1e-5": Config("Adam", {"lr": 1e-5}, group_lr=1e-2),
    "groups": Config("SGD", {"lr": 0.02, "momentum": 0.9}, group_lr=0.2),
    "StepLR": Config("SGD", SGD_M, scheduler=_sched("StepLR", step_size=5, gamma=0.5)),
    "MultiStepLR": Config("SGD", SGD_M, scheduler=_sched("MultiStepLR", milestones=[3, 8, 8])),
    "ExponentialLR": Config("Adam", {"lr": 0.02}, scheduler=_sched("ExponentialLR", gamma=0.8)),
    "CosineAnnealingLR": Config("SGD", SGD_M,
                                scheduler=_sched("CosineAnnealingLR", T_max=8, eta_min=0.005)),
    "LambdaLR": Config("SGD", SGD_M, scheduler=_sched("LambdaLR", lr_lambda=lambda e: 0.9**e)),
    "LinearLR": Config("SGD", SGD_M, scheduler=_sched("LinearLR", start_factor=0.2,
                                                      total_iters=10)),
    "ConstantLR": Config("Adam", {"lr": 0.01}, scheduler=_sched("ConstantLR", factor=0.3,
                                                                total_iters=6)),
    "OneCycleLR-adam": Config("Adam", {"lr": 0.01},  # cycles betas[0]
                              scheduler=_sched("OneCycleLR", max_lr=0.05, total_steps=N_STEPS)),
    "OneCycleLR-sgd": Config("SGD", SGD_M,  # cycles momentum
                             scheduler=_sched("OneCycleLR", max_lr=0.2, total_steps=N_STEPS)),
    "ReduceLROnPlateau": Config("SGD", {"lr": 0.2},
                                scheduler=_sched("ReduceLROnPlateau", patience=1, factor=0.5)),
    "SequentialLR": Config("SGD", SGD_M, scheduler=_sequential),
    "clip-sgd": Config("SGD", SGD_M, clip=0.3),
    "clip-adam": Config("Adam", {"lr": 0.01}, clip=0.1),
    "accumulate-sgd": Config("SGD", SGD_M, accumulate=True),
    "accumulate-adamw": Config("AdamW", {"lr": 0.01}, accumulate=True),
    "frozen-sgd": Config("SGD", {**SGD_M, "weight_decay": 0.1}, frozen=True),
    "frozen-adam": Config("Adam", {"lr": 0.01, "weight_decay": 0.1}, frozen=True),
    "unused-sgd": Config("SGD", {**SGD_M, "weight_decay": 0.1}, unused=True),
    "unused-adamw": Config("AdamW", {"lr": 0.01, "weight_decay": 0.1}, unused=True),
    "dropout0": Config("Adam", {"lr": 0.01}, dropout=True),
    "optax-sgd": Config("Optax", {"lr": 0.1}),
    "optax-sgd-momentum": Config("Optax", SGD_M),
}
# fmt: on

CASES = [(name, mode) for name, config in CONFIGS.items() for mode in modes_for(config)]


# Configurations traced twice, and why (every other one is traced once).
TWO_TRACES = {
    # torch's first momentum buffer is the gradient itself: the first step is its own program
    "sgd-dampening": 2,
    # the guess that every parameter gets a gradient is wrong; its trace names the unused
    # layer and the second guess leaves it out
    "unused-sgd": 2, "unused-adamw": 2,
    # optax's state lives in containers: learnt from an abstract first step
    "optax-sgd": 2, "optax-sgd-momentum": 2,
}


@pytest.mark.parametrize(("name", "mode"), CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_training_matches_torch(name: str, mode: str) -> None:
    run = train_and_compare(CONFIGS[name], mode)
    if mode == "compiled":
        # One trace (the first step runs the steady program from placeholders) where the
        # optimizer's first step is its steady rule from an initial state, else one trace
        # without .grad / optimizer state and one with; schedulers, lr changes and
        # momentum/beta cycling never re-trace.
        assert run["step"].trace_count == TWO_TRACES.get(name, 1)


@pytest.mark.parametrize("name", ["frozen-sgd", "frozen-adam"])
def test_frozen_parameters_stay_put(name: str) -> None:
    run = train_and_compare(CONFIGS[name], "closure", steps=3)
    for side in ("torch", "jnn"):
        first = run[f"{side}_model"][0]
        assert first.weight.grad is None and first.bias.grad is None
        np.testing.assert_array_equal(to_numpy(first.weight), run["initial"]["0.weight"])
        np.testing.assert_array_equal(to_numpy(first.bias), run["initial"]["0.bias"])
    # Neither optimizer keeps state for them (indices 0 and 1).
    assert sorted(run["jnn_optimizer"].state_dict()["state"]) == [2, 3]


@pytest.mark.parametrize("name", ["unused-sgd", "unused-adamw"])
@pytest.mark.parametrize("mode", ["closure", "compiled"])
def test_unreached_parameter_is_not_decayed(name: str, mode: str) -> None:
    # Weight decay and momentum would move it if it got a zero gradient; torch skips it.
    run = train_and_compare(CONFIGS[name], mode, steps=3)
    extra = run["jnn_extra"]
    assert extra.weight.grad is None and extra.bias.grad is None
    np.testing.assert_array_equal(to_numpy(extra.weight), run["initial"]["extra.weight"])
    assert sorted(run["jnn_optimizer"].state_dict()["state"]) == [0, 1, 2, 3]


def test_plateau_config_reduces_the_lr() -> None:
    # Guard that the ReduceLROnPlateau case exercises a reduction.
    run = train_and_compare(CONFIGS["ReduceLROnPlateau"], "closure")
    lrs = run["jnn_scheduler"].get_last_lr()
    assert lrs[0] < 0.2
    assert lrs == run["torch_scheduler"].get_last_lr()


def test_groups_use_their_own_lr() -> None:
    run = train_and_compare(CONFIGS["groups"], "closure", steps=2)
    lrs = [g["lr"] for g in run["jnn_optimizer"].param_groups]
    assert lrs == [0.02, 0.2]
