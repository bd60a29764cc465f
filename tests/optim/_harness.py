"""Train one small model in torch and in jnn side by side, and compare every step.

:func:`train_and_compare` builds ``Linear(6, 8) - Tanh - [Dropout(0)] - Linear(8, 4)`` in torch
(seeded) and in jnn (from torch's ``state_dict``), the same optimizer and scheduler on both, and
runs :data:`N_STEPS` steps on fixed numpy batches.  After every step it compares the loss, every
parameter and every ``.grad`` (including which ones are ``None``); at the end, the optimizer's
``state_dict()`` against torch's (keys, per-parameter state, every ``param_groups`` option).

The jnn side runs in one of three modes:

* ``"closure"``: eager ``optimizer.step(closure)``, the closure calling ``zero_grad()``;
* ``"backward"``: eager ``zero_grad()``, ``jnn.autograd.backward(closure)`` per micro-batch,
  optional ``clip_grad_norm_``, ``step()`` -- torch's ``loss.backward()`` loop;
* ``"compiled"``: one of the two step functions above under ``jnn.compile`` (the closure form
  unless the step clips or accumulates, which need the backward form).

Every configuration uses the same shapes, so the compiled programs differ only in the update
rule.  Tolerances: ``rtol=1e-5``, ``atol=1e-6 * sqrt(fan-in)`` for the widest layer (the float32
rounding of one dot product); 20 steps of these tiny, well-conditioned problems stay within it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np
import optax
import torch

import jnn
import jnn.nn as nn
import jnn.nn.functional as F

__all__ = [
    "N_STEPS", "MICRO", "BATCH", "IN", "HIDDEN", "OUT", "RTOL", "ATOL", "Config", "batches",
    "twin_models", "copy_weights", "modes_for", "train_and_compare", "assert_state_dicts_match",
    "assert_params_match", "to_numpy", "torch_step", "jnn_step",
]

N_STEPS = 20
MICRO = 4  # micro-batches per step when accumulating gradients
BATCH = 5
IN, HIDDEN, OUT = 6, 8, 4
RTOL = 1e-5
ATOL = 1e-6 * math.sqrt(HIDDEN)  # fan-in of the widest layer


@functools.cache
def batches() -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(N_STEPS, MICRO, BATCH, IN)`` and targets ``(N_STEPS, MICRO, BATCH, OUT)``."""
    rng = np.random.default_rng(1234)
    x = rng.standard_normal((N_STEPS, MICRO, BATCH, IN), dtype=np.float32)
    y = rng.standard_normal((N_STEPS, MICRO, BATCH, OUT), dtype=np.float32)
    return x, y


@dataclasses.dataclass(frozen=True)
class Config:
    """One training set-up; every field has a torch meaning.

    Attributes:
        optimizer: a class name in both ``torch.optim`` and ``jnn.optim``, or ``"Optax"``
            (jnn: ``Optax(params, optax.sgd(lr, momentum))``; torch: ``SGD(params, **kwargs)``).
        kwargs: the optimizer's keyword arguments.
        group_lr: if set, two param groups: the first layer at the base lr and the last layer
            at ``group_lr`` (torch's per-layer learning-rate example).
        scheduler: ``(lr_scheduler module, optimizer) -> scheduler``, stepped after each step
            (``ReduceLROnPlateau`` gets the step's loss).
        clip: ``max_norm`` for ``clip_grad_norm_`` between backward and step.
        accumulate: ``MICRO`` backward calls (each loss divided by ``MICRO``) per step.
        frozen: the first layer has ``requires_grad=False``.
        unused: an extra ``Linear(3, 3)`` in the optimizer that the loss never reaches.
        dropout: a ``Dropout(p=0)`` between the layers.
    """

    optimizer: str
    kwargs: dict = dataclasses.field(default_factory=dict)
    group_lr: float | None = None
    scheduler: Callable[[Any, Any], Any] | None = None
    clip: float | None = None
    accumulate: bool = False
    frozen: bool = False
    unused: bool = False
    dropout: bool = False


def modes_for(config: Config) -> tuple[str, ...]:
    """The jnn modes a configuration runs in (clipping and accumulation need ``backward``)."""
    if config.clip is not None or config.accumulate:
        return ("backward", "compiled")
    return ("closure", "backward", "compiled")


# -- building the twins ------------------------------------------------------------------


def to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, nn.Parameter):
        value = value.data
    return np.asarray(value)


def copy_weights(torch_module: torch.nn.Module, jnn_module: nn.Module) -> None:
    """Load torch's parameters and buffers into the jnn twin (as numpy arrays)."""
    result = jnn_module.load_state_dict(
        {k: v.detach().numpy().copy() for k, v in torch_module.state_dict().items()}
    )
    assert not result.missing_keys and not result.unexpected_keys, result


def twin_models(dropout: bool = False) -> tuple[torch.nn.Sequential, nn.Sequential]:
    torch.manual_seed(0)
    middle_t = [torch.nn.Dropout(0.0)] if dropout else []
    middle_j = [nn.Dropout(0.0)] if dropout else []
    tmodel = torch.nn.Sequential(
        torch.nn.Linear(IN, HIDDEN), torch.nn.Tanh(), *middle_t, torch.nn.Linear(HIDDEN, OUT)
    )
    jmodel = nn.Sequential(nn.Linear(IN, HIDDEN), nn.Tanh(), *middle_j, nn.Linear(HIDDEN, OUT))
    copy_weights(tmodel, jmodel)
    return tmodel, jmodel


def _param_spec(config: Config, model: Any, extra: Any) -> list[Any]:
    if config.group_lr is not None:
        return [
            {"params": model[0].parameters()},
            {"params": model[-1].parameters(), "lr": config.group_lr},
        ]
    params = list(model.parameters())
    if extra is not None:
        params += list(extra.parameters())
    return params


def _optimizers(config: Config, tspec: list[Any], jspec: list[Any]) -> tuple[Any, Any]:
    if config.optimizer == "Optax":
        kwargs = dict(config.kwargs)
        tx = optax.sgd(kwargs["lr"], momentum=kwargs.get("momentum"))
        return torch.optim.SGD(tspec, **kwargs), jnn.optim.Optax(jspec, tx)
    return (
        getattr(torch.optim, config.optimizer)(tspec, **config.kwargs),
        getattr(jnn.optim, config.optimizer)(jspec, **config.kwargs),
    )


# -- comparisons ---------------------------------------------------------------------------


def assert_params_match(tnamed: list[tuple[str, Any]], jnamed: list[tuple[str, Any]],
                        where: str, grads: bool = True) -> None:
    """Same names, values and ``.grad`` (``None`` exactly where torch has ``None``)."""
    assert [n for n, _ in jnamed] == [n for n, _ in tnamed], where
    for (name, tp), (_, jp) in zip(tnamed, jnamed):
        np.testing.assert_allclose(to_numpy(jp), to_numpy(tp), rtol=RTOL, atol=ATOL,
                                   err_msg=f"{where}: {name}")
        if grads:
            assert (jp.grad is None) == (tp.grad is None), (
                f"{where}: {name}.grad is {jp.grad is None and 'None' or 'set'} in jnn, "
                f"{tp.grad is None and 'None' or 'set'} in torch"
            )
            if tp.grad is not None:
                np.testing.assert_allclose(to_numpy(jp.grad), to_numpy(tp.grad), rtol=RTOL,
                                           atol=ATOL, err_msg=f"{where}: {name}.grad")


def _same_option(expected: Any, got: Any) -> bool:
    if isinstance(expected, (tuple, list)):
        return (isinstance(got, (tuple, list)) and len(got) == len(expected)
                and all(_same_option(e, g) for e, g in zip(expected, got)))
    if isinstance(expected, float) or isinstance(got, float):
        return math.isclose(expected, got, rel_tol=1e-12, abs_tol=0.0)
    return expected == got


def assert_state_dicts_match(expected: dict, got: dict, where: str = "") -> None:
    """A jnn optimizer ``state_dict()`` against torch's: layout, state values, groups."""
    assert list(got) == list(expected), where
    assert list(got["state"]) == list(expected["state"]), f"{where}: state indices"
    for index, tstate in expected["state"].items():
        jstate = got["state"][index]
        assert list(jstate) == list(tstate), f"{where}: state[{index}] keys"
        for key, tvalue in tstate.items():
            jvalue = jstate[key]
            if tvalue is None:
                assert jvalue is None, f"{where}: state[{index}][{key!r}]"
                continue
            tvalue = to_numpy(tvalue)
            assert np.shape(jvalue) == tvalue.shape, f"{where}: state[{index}][{key!r}] shape"
            np.testing.assert_allclose(to_numpy(jvalue), tvalue, rtol=RTOL, atol=ATOL,
                                       err_msg=f"{where}: state[{index}][{key!r}]")
    assert len(got["param_groups"]) == len(expected["param_groups"]), where
    for i, (tg, jg) in enumerate(zip(expected["param_groups"], got["param_groups"])):
        assert list(jg) == list(tg), f"{where}: param_groups[{i}] keys"
        for key, value in tg.items():
            assert _same_option(value, jg[key]), (
                f"{where}: param_groups[{i}][{key!r}] = {jg[key]!r}, torch {value!r}"
            )


# -- the training loops ----------------------------------------------------------------------


def torch_step(model: Any, optimizer: Any, config: Config, x: np.ndarray, y: np.ndarray
                ) -> float:
    optimizer.zero_grad()
    total = 0.0
    for k in range(MICRO if config.accumulate else 1):
        loss = torch.nn.functional.mse_loss(model(torch.from_numpy(x[k])), torch.from_numpy(y[k]))
        if config.accumulate:
            loss = loss / MICRO
        loss.backward()
        total += loss.item()
    if config.clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
    optimizer.step()
    return total


def jnn_step(model: Any, optimizer: Any, config: Config, mode: str) -> Callable[..., Any]:
    """The jnn training step for ``mode``, taking ``(x, y)`` of one step's micro-batches."""

    def loss_fn(x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
        loss = F.mse_loss(model(x), y)
        return loss / MICRO if config.accumulate else loss

    def by_closure(x: jnp.ndarray, y: jnp.ndarray) -> Any:
        def closure() -> Any:
            optimizer.zero_grad()
            return loss_fn(x[0], y[0])

        return optimizer.step(closure)

    def by_backward(x: jnp.ndarray, y: jnp.ndarray) -> Any:
        optimizer.zero_grad()
        total = 0.0
        for k in range(MICRO if config.accumulate else 1):
            total = total + jnn.autograd.backward(lambda k=k: loss_fn(x[k], y[k]))
        if config.clip is not None:
            jnn.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        return total

    needs_backward = config.clip is not None or config.accumulate
    if mode == "closure":
        assert not needs_backward, "clipping and accumulation need the backward form"
        return by_closure
    if mode == "backward":
        return by_backward
    assert mode == "compiled", mode
    return jnn.compile(by_backward if needs_backward else by_closure)


def _step_scheduler(scheduler: Any, loss: float) -> None:
    if scheduler is None:
        return
    if isinstance(scheduler, (torch.optim.lr_scheduler.ReduceLROnPlateau,
                              jnn.optim.lr_scheduler.ReduceLROnPlateau)):
        scheduler.step(loss)
    else:
        scheduler.step()


def train_and_compare(config: Config, mode: str, steps: int = N_STEPS) -> dict[str, Any]:
    """Train the twins ``steps`` steps, comparing after each; returns both sides' objects.

    Returns a dict with ``torch_model``, ``jnn_model``, ``torch_extra``, ``jnn_extra``,
    ``torch_optimizer``, ``jnn_optimizer``, ``torch_scheduler``, ``jnn_scheduler``, ``step``
    (the jnn step function; ``step.trace_count`` in compiled mode) and ``initial`` (the
    parameters before training, by name, as numpy).
    """
    tmodel, jmodel = twin_models(config.dropout)
    textra = jextra = None
    if config.unused:
        textra = torch.nn.Linear(3, 3)
        jextra = nn.Linear(3, 3)
        copy_weights(textra, jextra)
    if config.frozen:
        tmodel[0].requires_grad_(False)
        jmodel[0].requires_grad_(False)
    topt, jopt = _optimizers(config, _param_spec(config, tmodel, textra),
                             _param_spec(config, jmodel, jextra))
    tsched = jsched = None
    if config.scheduler is not None:
        tsched = config.scheduler(torch.optim.lr_scheduler, topt)
        jsched = config.scheduler(jnn.optim.lr_scheduler, jopt)

    def named(model: Any, extra: Any) -> list[tuple[str, Any]]:
        out = list(model.named_parameters())
        if extra is not None:
            out += [(f"extra.{n}", p) for n, p in extra.named_parameters()]
        return out

    tnamed, jnamed = named(tmodel, textra), named(jmodel, jextra)
    initial = {n: to_numpy(p).copy() for n, p in tnamed}
    step = jnn_step(jmodel, jopt, config, mode)
    xs, ys = batches()
    for i in range(steps):
        where = f"{mode} step {i}"
        tloss = torch_step(tmodel, topt, config, xs[i], ys[i])
        jloss = step(jnp.asarray(xs[i]), jnp.asarray(ys[i]))
        np.testing.assert_allclose(float(jloss), tloss, rtol=RTOL, atol=1e-6,
                                   err_msg=f"{where}: loss")
        assert_params_match(tnamed, jnamed, where)
        _step_scheduler(tsched, tloss)
        _step_scheduler(jsched, float(jloss))
    if config.optimizer != "Optax":  # Optax keeps optax's state, not torch's
        assert_state_dicts_match(topt.state_dict(), jopt.state_dict(), f"{mode} final")
    return dict(torch_model=tmodel, jnn_model=jmodel, torch_extra=textra, jnn_extra=jextra,
                torch_optimizer=topt, jnn_optimizer=jopt, torch_scheduler=tsched,
                jnn_scheduler=jsched, step=step, initial=initial)
