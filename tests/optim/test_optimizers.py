"""The ``Optimizer`` API against torch.optim: validation, groups, ``zero_grad``, state dicts, repr.

The numbers of training itself are in ``test_training.py``; here the torch-visible surface:
every error torch raises is raised with torch's type and text, state dicts have torch's layout,
and a torch checkpoint loads and continues training step for step.
"""

from __future__ import annotations

import collections
import copy
import pickle
import re
import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch.optim.optimizer import required as torch_required

import jnn
import jnn.nn as nn
from jnn.optim.optimizer import required as jnn_required
from tests.optim._harness import (
    Config,
    assert_params_match,
    assert_state_dicts_match,
    batches,
    copy_weights,
    jnn_step,
    to_numpy,
    torch_step,
    twin_models,
)


def _twin_params() -> tuple[list[torch.nn.Parameter], list[nn.Parameter]]:
    torch.manual_seed(0)
    tparams = [torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(2))]
    jparams = [nn.Parameter(p.detach().numpy().copy()) for p in tparams]
    return tparams, jparams


REQUIRED = {torch.optim: torch_required, jnn.optim: jnn_required}

# (label, builder(optim module, params)): torch raises; jnn must raise the same type and text.
# fmt: off
ERROR_CASES = [
    ("sgd-lr", lambda o, p: o.SGD(p, lr=-1)),
    ("sgd-lr-float", lambda o, p: o.SGD(p, lr=-0.5)),
    ("sgd-momentum", lambda o, p: o.SGD(p, momentum=-0.5)),
    ("sgd-weight_decay", lambda o, p: o.SGD(p, weight_decay=-1e-3)),
    ("sgd-nesterov-no-momentum", lambda o, p: o.SGD(p, nesterov=True)),
    ("sgd-nesterov-dampening", lambda o, p: o.SGD(p, momentum=0.9, dampening=0.1, nesterov=True)),
    ("adam-lr", lambda o, p: o.Adam(p, lr=-1e-3)),
    ("adam-eps", lambda o, p: o.Adam(p, eps=-1.0)),
    ("adam-beta0", lambda o, p: o.Adam(p, betas=(1.0, 0.999))),
    ("adam-beta0-negative", lambda o, p: o.Adam(p, betas=(-0.1, 0.999))),
    ("adam-beta1", lambda o, p: o.Adam(p, betas=(0.9, 1.0))),
    ("adam-weight_decay", lambda o, p: o.Adam(p, weight_decay=-1)),
    ("adamw-lr", lambda o, p: o.AdamW(p, lr=-1.0)),
    ("adamw-eps", lambda o, p: o.AdamW(p, eps=-1e-8)),
    ("adamw-beta1", lambda o, p: o.AdamW(p, betas=(0.9, 1.5))),
    ("adamw-weight_decay", lambda o, p: o.AdamW(p, weight_decay=-0.01)),
    ("empty-list", lambda o, p: o.SGD([], lr=0.1)),
    ("empty-generator", lambda o, p: o.Adam(iter([]))),
    ("duplicate-across-groups", lambda o, p: o.SGD([{"params": p}, {"params": p[:1]}], lr=0.1)),
    ("set-in-group", lambda o, p: o.SGD([{"params": set(p)}])),
    ("not-a-parameter", lambda o, p: o.SGD([*p, 1.0])),
    ("required-option", lambda o, p: o.Optimizer(p, {"lr": REQUIRED[o]})),
    ("add-group-duplicate", lambda o, p: o.SGD(p).add_param_group({"params": p[1:]})),
    ("sgd-fused-foreach", lambda o, p: o.SGD(p, lr=0.1, foreach=True, fused=True)),
    ("sgd-fused-differentiable", lambda o, p: o.SGD(p, lr=0.1, fused=True, differentiable=True)),
    ("adam-fused-foreach", lambda o, p: o.Adam(p, foreach=True, fused=True)),
    ("adamw-fused-differentiable", lambda o, p: o.AdamW(p, fused=True, differentiable=True)),
    ("base-step", lambda o, p: o.Optimizer(p, {"lr": 0.1}).step()),
    ("defaults-not-a-dict", lambda o, p: o.Optimizer(p, 3)),
    ("sgd-lr-two-elements", lambda o, p: o.SGD(p, lr=_array(o, [0.1, 0.2]))),
    ("adam-lr-two-elements", lambda o, p: o.Adam(p, lr=_array(o, [0.1, 0.2]))),
    ("adam-lr-tensor-foreach", lambda o, p: o.Adam(p, lr=_array(o, 0.1), foreach=True)),
    ("adam-betas-mixed", lambda o, p: o.Adam(p, betas=(_array(o, 0.9), 0.999))),
    ("load-state-dict-not-a-dict", lambda o, p: o.SGD(p, lr=0.1).load_state_dict(3)),
    ("named-and-unnamed", lambda o, p: o.SGD([("w", p[0]), p[1]], lr=0.1)),
    ("named-group-after-unnamed", lambda o, p: o.SGD(p[:1], lr=0.1).add_param_group(
        {"params": [("b", p[1])]})),
    ("step-not-callable", lambda o, p: o.SGD(p, lr=0.1).step(3)),
    ("step-unknown-keyword", lambda o, p: o.SGD(p, lr=0.1).step(foo=1)),
    ("adamw-step-unknown-keyword", lambda o, p: o.AdamW(p).step(foo=1)),
    ("step-two-positional", lambda o, p: o.Adam(p).step(None, 2)),
    ("step-deleted-lr", lambda o, p: _without(o.SGD(p, lr=0.1), "lr").step()),
    ("sgd-step-deleted-momentum", lambda o, p: _without(o.SGD(p, momentum=0.9),
                                                        "momentum").step()),
    ("sgd-step-deleted-fused", lambda o, p: _without(o.SGD(p), "fused").step()),
    ("adam-step-deleted-foreach", lambda o, p: _without(o.Adam(p), "foreach").step()),
    ("adamw-step-deleted-capturable", lambda o, p: _without(o.AdamW(p), "capturable").step()),
    ("plateau-metric-not-scalar", lambda o, p: o.lr_scheduler.ReduceLROnPlateau(
        o.SGD(p, lr=0.1)).step(_array(o, [1.0, 2.0]))),
]
# fmt: on


def _without(opt: Any, key: str) -> Any:
    # (torch's step reads its options at every step, with or without grads: jnn's rule
    # raised KeyError('momentum!=0'), or ignored foreach, fused and capturable)
    del opt.param_groups[0][key]
    return opt


def _array(optim_module: Any, value: Any) -> Any:
    """A tensor for torch's optimizers, an array for jnn's."""
    return torch.tensor(value) if optim_module is torch.optim else np.asarray(value, np.float32)


@pytest.mark.parametrize("builder", [c[1] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_errors_match_torch(builder: Any) -> None:
    tparams, jparams = _twin_params()
    with pytest.raises((ValueError, TypeError, RuntimeError, NotImplementedError,
                        AttributeError, KeyError)) as torch_error:
        builder(torch.optim, tparams)
    with pytest.raises(type(torch_error.value), match=f"^{re.escape(str(torch_error.value))}$"):
        builder(jnn.optim, jparams)


def test_add_param_group_not_a_dict_matches_torch() -> None:
    tparams, jparams = _twin_params()
    with pytest.raises(TypeError) as torch_error:
        torch.optim.SGD(tparams).add_param_group(tparams)
    with pytest.raises(TypeError, match=f"^{re.escape(str(torch_error.value))}$"):
        jnn.optim.SGD(jparams).add_param_group(jparams)


def test_single_parameter_is_rejected() -> None:
    tparams, jparams = _twin_params()
    prefix = "params argument given to the optimizer should be an iterable of Tensors or dicts, "
    with pytest.raises(TypeError, match=f"^{re.escape(prefix)}but got torch"):
        torch.optim.SGD(tparams[0])
    # torch names its own tensor type (torch.FloatTensor); jnn names the array type.
    with pytest.raises(TypeError, match=f"^{re.escape(prefix)}but got jax.Array\\[float32\\]$"):
        jnn.optim.SGD(jparams[0])
    with pytest.raises(TypeError, match=f"^{re.escape(prefix)}but got jax.Array\\[float32\\]$"):
        jnn.optim.SGD(jparams[0].data)


@pytest.mark.parametrize("where", ["constructor", "add_param_group"])
def test_a_plain_array_is_refused_with_the_fix(where: str) -> None:
    # torch updates a plain tensor in place; a jax array is immutable: jnn's own message
    # (after torch's words for a computed tensor / a non-tensor, see the test below)
    p = nn.Parameter(jnp.zeros(2))
    error = ValueError if where == "constructor" else TypeError
    with pytest.raises(error, match=re.escape("nn.Parameter(x)")):
        if where == "constructor":
            jnn.optim.SGD([jnp.zeros(2)], lr=0.1)
        else:
            jnn.optim.SGD([p], lr=0.1).add_param_group({"params": [np.zeros(2)]})


@pytest.mark.parametrize("where", ["constructor", "add_param_group"])
@pytest.mark.parametrize("kind", ["computed", "numpy"])
def test_an_array_param_gets_torchs_error_then_the_fix(kind: str, where: str) -> None:
    """``SGD([lin.weight * 2])``: torch refuses a non-leaf tensor with a ValueError, a
    numpy array with a TypeError.  A computed jax array is jnn's non-leaf: jnn raised a
    TypeError of its own; now torch's type and words, then jnn's fix."""
    def build(optim: Any, nn_module: Any) -> None:
        lin = nn_module.Linear(3, 2)
        bad = lin.weight * 2 if kind == "computed" else np.zeros(2, np.float32)
        if where == "constructor":
            optim.SGD([bad], lr=0.1)
        else:
            optim.SGD([lin.bias], lr=0.1).add_param_group({"params": [bad]})

    with pytest.raises((ValueError, TypeError)) as expected:
        build(torch.optim, torch.nn)
    with pytest.raises(type(expected.value),
                       match=f"^{re.escape(str(expected.value))}") as got:
        build(jnn.optim, nn)
    assert "nn.Parameter(x)" in str(got.value)


def test_duplicate_parameters_in_one_group_warn_like_torch() -> None:
    tparams, jparams = _twin_params()
    messages = []
    for optim, params in ((torch.optim, tparams), (jnn.optim, jparams)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            optim.SGD([params[0], params[1], params[0]], lr=0.1)
        messages.append([(w.category, str(w.message)) for w in caught])
    assert messages[0] == messages[1] and len(messages[0]) == 1


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_defaults_and_groups_match_torch(name: str) -> None:
    tparams, jparams = _twin_params()
    topt = getattr(torch.optim, name)([{"params": tparams[:1]}, {"params": tparams[1:],
                                                                  "lr": 0.5}], lr=0.1)
    jopt = getattr(jnn.optim, name)([{"params": jparams[:1]}, {"params": jparams[1:],
                                                                "lr": 0.5}], lr=0.1)
    assert jopt.defaults == topt.defaults
    assert list(jopt.defaults) == list(topt.defaults)
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict(), "before any step")
    assert jopt.state_dict()["state"] == {}


def test_repr_matches_torch() -> None:
    tparams, jparams = _twin_params()
    assert repr(jnn.optim.SGD(jparams, lr=0.1, momentum=0.9)) == repr(
        torch.optim.SGD(tparams, lr=0.1, momentum=0.9))
    assert repr(jnn.optim.AdamW(jparams)) == repr(torch.optim.AdamW(tparams))


def test_repr_with_several_groups_matches_torch() -> None:
    tparams, jparams = _twin_params()
    topt = torch.optim.Adam([{"params": tparams[:1]}, {"params": tparams[1:], "lr": 0.5}])
    jopt = jnn.optim.Adam([{"params": jparams[:1]}, {"params": jparams[1:], "lr": 0.5}])
    assert repr(jopt) == repr(topt)


# -- training-level API: groups, zero_grad, state_dict ---------------------------------------------

PLAIN = Config("SGD")  # the harness' step functions read only clip/accumulate from it


def _step_both(tmodel: Any, topt: Any, jmodel: Any, step: Any, i: int, grads: bool = True
               ) -> None:
    xs, ys = batches()
    tloss = torch_step(tmodel, topt, PLAIN, xs[i], ys[i])
    jloss = step(xs[i], ys[i])
    np.testing.assert_allclose(float(jloss), tloss, rtol=1e-5, atol=1e-6)
    assert_params_match(list(tmodel.named_parameters()), list(jmodel.named_parameters()),
                        f"step {i}", grads=grads)


@pytest.mark.parametrize("mode", ["closure", "compiled"])
def test_add_param_group_then_continue(mode: str) -> None:
    tmodel, jmodel = twin_models()
    topt = torch.optim.SGD(tmodel[0].parameters(), lr=0.1, momentum=0.9)
    jopt = jnn.optim.SGD(jmodel[0].parameters(), lr=0.1, momentum=0.9)
    step = jnn_step(jmodel, jopt, PLAIN, mode)
    for i in range(3):
        # torch's backward also fills .grad of the last layer, which jnn's step(closure)
        # leaves alone (it differentiates the optimizer's parameters only): values only.
        _step_both(tmodel, topt, jmodel, step, i, grads=False)
    topt.add_param_group({"params": tmodel[2].parameters(), "lr": 0.05})
    jopt.add_param_group({"params": jmodel[2].parameters(), "lr": 0.05})
    for i in range(3, 6):
        _step_both(tmodel, topt, jmodel, step, i)
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict())


@pytest.mark.parametrize("mode", ["closure", "compiled"])
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_numpy_zero_d_lr_trains_as_in_torch(name: str, mode: str) -> None:
    # A learning rate computed with numpy arrives as a 0-d array; torch accepts it (and
    # keeps it in param_groups as given).
    tmodel, jmodel = twin_models()
    topt = getattr(torch.optim, name)(tmodel.parameters(), lr=np.array(0.05))
    jopt = getattr(jnn.optim, name)(jmodel.parameters(), lr=np.array(0.05))
    step = jnn_step(jmodel, jopt, PLAIN, mode)
    for i in range(3):
        _step_both(tmodel, topt, jmodel, step, i, grads=False)
    assert type(jopt.param_groups[0]["lr"]) is type(topt.param_groups[0]["lr"])
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict())


@pytest.mark.parametrize("mode", ["closure", "compiled"])
@pytest.mark.parametrize("name, key, value", [
    ("SGD", "lr", "0.01"), ("SGD", "lr", None), ("SGD", "weight_decay", "x"),
    ("Adam", "lr", "0.01"), ("Adam", "lr", None), ("Adam", "weight_decay", "x"),
    ("AdamW", "lr", "0.01"), ("AdamW", "lr", None), ("AdamW", "weight_decay", "x"),
    ("Adam", "lr", True), ("Adam", "betas", "ab"), ("Adam", "betas", 0.9),
    ("AdamW", "betas", None), ("SGD", "momentum", [0.9]), ("SGD", "momentum", None),
    ("SGD", "dampening", "x"), ("Adam", "eps", None), ("AdamW", "eps", [1e-8]),
])
def test_an_option_set_to_a_non_number_after_warm_up_is_torchs(name: str, key: str,
                                                                value: Any, mode: str) -> None:
    """``group["lr"] = "0.01"`` (a config read as text) after some steps: torch's step
    raises a TypeError from its arithmetic (its text depends on the optimizer), and a
    bool is a number there (True: lr 1).  jnn raised KeyError('lr').  The failed step
    changes nothing: after a valid value, training goes on as torch's."""
    tmodel, jmodel = twin_models()
    # (SGD's momentum options are used once a momentum buffer exists)
    extra = {"momentum": 0.9} if key in ("momentum", "dampening") else {}
    topt = getattr(torch.optim, name)(tmodel.parameters(), lr=0.05, **extra)
    jopt = getattr(jnn.optim, name)(jmodel.parameters(), lr=0.05, **extra)
    step = jnn_step(jmodel, jopt, PLAIN, mode)
    for i in range(2):
        _step_both(tmodel, topt, jmodel, step, i, grads=False)
    topt.param_groups[0][key] = value
    jopt.param_groups[0][key] = value
    if isinstance(value, bool):
        _step_both(tmodel, topt, jmodel, step, 2, grads=False)
        return
    # (torch's Adam has updated its moments and steps when the lr arithmetic raises; jnn's
    # failed step changes nothing: it goes on as a torch twin that never failed)
    twin = copy.deepcopy(tmodel)
    twin_opt = getattr(torch.optim, name)(twin.parameters(), lr=0.05, **extra)
    state = copy.deepcopy(topt.state_dict())
    state["param_groups"][0][key] = {"lr": 0.05, "weight_decay": 0.0, "betas": (0.9, 0.999),
                                     "momentum": 0.9, "dampening": 0, "eps": 1e-8}[key]
    twin_opt.load_state_dict(state)
    xs, ys = batches()
    with pytest.raises(TypeError) as expected:
        torch_step(tmodel, topt, PLAIN, xs[2], ys[2])
    before = [np.asarray(p.data) for p in jmodel.parameters()]
    with pytest.raises(TypeError, match=f"^{re.escape(str(expected.value))}$"):
        step(xs[2], ys[2])
    for a, p in zip(before, jmodel.parameters()):
        np.testing.assert_array_equal(a, np.asarray(p.data))
    jopt.param_groups[0][key] = twin_opt.param_groups[0][key]
    for i in (2, 3):
        _step_both(twin, twin_opt, jmodel, step, i, grads=False)


@pytest.mark.parametrize("mode", ["closure", "compiled"])
@pytest.mark.parametrize("betas", [(0.5, 0.9), (-0.5, 0.999), (0.9, -0.5), (0.0, 0.99)],
                         ids=str)
def test_betas_changed_after_warm_up_match_torch(betas: tuple, mode: str) -> None:
    """Betas set in the group mid-run: torch's constructor refuses negative ones, a group
    edited later keeps them, and torch's float64 ``beta ** step`` then alternates in sign
    (jnn's bias correction took ``log(beta)`` as -inf: 8.9e-4 off)."""
    tmodel, jmodel = twin_models()
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.05)
    jopt = jnn.optim.Adam(jmodel.parameters(), lr=0.05)
    step = jnn_step(jmodel, jopt, PLAIN, mode)
    for i in range(2):
        _step_both(tmodel, topt, jmodel, step, i, grads=False)
    topt.param_groups[0]["betas"] = jopt.param_groups[0]["betas"] = betas
    for i in range(2, 5):  # odd and even steps
        _step_both(tmodel, topt, jmodel, step, i, grads=False)
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict())


@pytest.mark.parametrize("mode", ["closure", "compiled"])
def test_a_deleted_params_key_raises_torchs_key_error(mode: str) -> None:
    # torch's step reads group["params"] at every step; jnn's step(closure) and a warm
    # compiled step used their own list of the parameters and trained on
    tmodel, jmodel = twin_models()
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.1)
    step = jnn_step(jmodel, jopt, PLAIN, mode)
    for i in range(3):
        _step_both(tmodel, topt, jmodel, step, i, grads=False)
    del topt.param_groups[0]["params"]
    del jopt.param_groups[0]["params"]
    xs, ys = batches()
    with pytest.raises(KeyError, match="params"):
        torch_step(tmodel, topt, PLAIN, xs[3], ys[3])
    before = [np.asarray(p.data) for p in jmodel.parameters()]
    with pytest.raises(KeyError, match="params"):
        step(xs[3], ys[3])
    for a, p in zip(before, jmodel.parameters()):
        np.testing.assert_array_equal(a, np.asarray(p.data))


def _reset_state(opt: Any, how: str, first: Any) -> None:
    if how == "assign":
        opt.state = collections.defaultdict(dict)
    elif how == "clear":
        opt.state.clear()
    else:
        del opt.state[first]


@pytest.mark.parametrize("mode", ["closure", "compiled"])
@pytest.mark.parametrize("how", ["assign", "clear", "del"])
def test_state_reset_by_hand_restarts_as_in_torch(how: str, mode: str) -> None:
    # Restarting Adam's moments mid-training (a warm restart): the next step starts the
    # reset parameters' state afresh, in eager, op-by-op-compiled and jnn.compile steps.
    tmodel, jmodel = twin_models()
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.05)
    jopt = jnn.optim.Adam(jmodel.parameters(), lr=0.05)
    step = jnn_step(jmodel, jopt, PLAIN, mode)
    for i in range(6):
        if i == 4:
            _reset_state(topt, how, tmodel[0].weight)
            _reset_state(jopt, how, jmodel[0].weight)
        _step_both(tmodel, topt, jmodel, step, i, grads=False)
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict())


def test_zero_grad_set_to_none_false() -> None:
    tmodel, jmodel = twin_models()
    tmodel[2].bias.requires_grad_(False)
    jmodel[2].bias.requires_grad_(False)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.1)
    _step_both(tmodel, topt, jmodel, jnn_step(jmodel, jopt, PLAIN, "backward"), 0)
    topt.zero_grad(set_to_none=False)
    jopt.zero_grad(set_to_none=False)
    for (name, tp), (_, jp) in zip(tmodel.named_parameters(), jmodel.named_parameters()):
        if tp.grad is None:  # the frozen bias: still None
            assert jp.grad is None, name
        else:
            assert jp.grad is not None and jp.grad.shape == tuple(tp.grad.shape), name
            np.testing.assert_array_equal(np.asarray(jp.grad), tp.grad.numpy())
    jopt.zero_grad()
    assert all(p.grad is None for p in jmodel.parameters())


def test_state_dict_numbering_across_groups() -> None:
    # torch numbers parameters across groups in order; frozen ones get a number but no state.
    tmodel, jmodel = twin_models()
    specs = []
    for model in (tmodel, jmodel):
        model[0].bias.requires_grad_(False)
        specs.append([
            {"params": [model[0].weight]},
            {"params": [model[0].bias, model[2].weight], "lr": 0.02},
            {"params": [model[2].bias], "weight_decay": 0.1, "amsgrad": True},
        ])
    topt = torch.optim.Adam(specs[0], lr=0.01)
    jopt = jnn.optim.Adam(specs[1], lr=0.01)
    step = jnn_step(jmodel, jopt, PLAIN, "closure")
    for i in range(3):
        _step_both(tmodel, topt, jmodel, step, i)
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict())
    assert list(jopt.state_dict()["state"]) == [0, 2, 3]
    # state is keyed by the Parameter, as in torch.
    np.testing.assert_allclose(np.asarray(jopt.state[jmodel[2].bias]["max_exp_avg_sq"]),
                               to_numpy(topt.state[tmodel[2].bias]["max_exp_avg_sq"]),
                               rtol=1e-5, atol=1e-8)


def _convert(state_dict: dict) -> dict:
    """A torch optimizer state dict with numpy arrays in place of tensors."""
    return {
        "state": {i: {k: to_numpy(v) if isinstance(v, torch.Tensor) else v
                      for k, v in s.items()} for i, s in state_dict["state"].items()},
        "param_groups": copy.deepcopy(state_dict["param_groups"]),
    }


# (label, optimizer class, kwargs, two groups?)
LOAD_CASES = [
    ("sgd-momentum", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, False),
    ("adam-amsgrad", "Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}, False),
    ("adamw-groups", "AdamW", {"lr": 0.01}, True),
]


@pytest.mark.parametrize(("name", "kwargs", "groups"), [c[1:] for c in LOAD_CASES],
                         ids=[c[0] for c in LOAD_CASES])
@pytest.mark.parametrize("mode", ["closure", "compiled"])
def test_load_torch_state_dict_and_continue(name: str, kwargs: dict, groups: bool,
                                            mode: str) -> None:
    def spec(model: Any) -> Any:
        if groups:
            return [{"params": model[0].parameters()},
                    {"params": model[2].parameters(), "lr": 0.03, "betas": (0.8, 0.99)}]
        return model.parameters()

    tmodel, jmodel = twin_models()
    topt = getattr(torch.optim, name)(spec(tmodel), **kwargs)
    xs, ys = batches()
    for i in range(4):  # torch trains; then its checkpoint moves to jnn
        torch_step(tmodel, topt, PLAIN, xs[i], ys[i])
    copy_weights(tmodel, jmodel)
    jopt = getattr(jnn.optim, name)(spec(jmodel), **kwargs)
    jopt.load_state_dict(_convert(topt.state_dict()))
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict(), "after loading")
    step = jnn_step(jmodel, jopt, PLAIN, mode)
    for i in range(4, 8):
        _step_both(tmodel, topt, jmodel, step, i, grads=False)
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict(), "after continuing")
    # jnn's own state dict round-trips into a fresh optimizer.
    fresh = getattr(jnn.optim, name)(spec(jmodel), **kwargs)
    fresh.load_state_dict(jopt.state_dict())
    assert_state_dicts_match(topt.state_dict(), fresh.state_dict(), "round trip")


def _saved_state(topt: Any, jopt: Any, edit: Any) -> tuple[dict, dict]:
    """Both optimizers' state dicts (torch's deep-copied), edited alike by ``edit``."""
    tstate, jstate = copy.deepcopy(topt.state_dict()), jopt.state_dict()
    edit(tstate)
    edit(jstate)
    return tstate, jstate


# (label, optimizer, its kwargs, source optimizer, its kwargs, edit of the saved dict)
REPLACED_GROUP_CASES = [
    ("group-without-lr", "SGD", {"momentum": 0.9}, "SGD", {"momentum": 0.9},
     lambda sd: sd["param_groups"][0].pop("lr")),
    ("adam-into-sgd", "SGD", {"momentum": 0.9}, "Adam", {}, lambda sd: None),
    ("adam-group-without-eps", "Adam", {}, "Adam", {},
     lambda sd: sd["param_groups"][0].pop("eps")),
]


@pytest.mark.parametrize(("name", "kwargs", "source", "source_kwargs", "edit"),
                         [c[1:] for c in REPLACED_GROUP_CASES],
                         ids=[c[0] for c in REPLACED_GROUP_CASES])
@pytest.mark.parametrize("mode", ["closure", "compiled"])
def test_load_state_dict_replaces_the_groups_as_torch(name: str, kwargs: dict, source: str,
                                                       source_kwargs: dict, edit: Any,
                                                       mode: str) -> None:
    """torch's load_state_dict builds each group from the saved one (only ``params`` is
    the optimizer's): an option the saved group lacks is gone, and the next step raises
    torch's KeyError.  jnn merged the saved options into the old groups and trained on
    with the old lr / momentum.  The failed step changes nothing."""
    tmodel, jmodel = twin_models()
    topt = getattr(torch.optim, name)(tmodel.parameters(), lr=0.05, **kwargs)
    jopt = getattr(jnn.optim, name)(jmodel.parameters(), lr=0.05, **kwargs)
    step = jnn_step(jmodel, jopt, PLAIN, mode)
    for i in range(2):  # (compiled: warm, on the old groups)
        _step_both(tmodel, topt, jmodel, step, i, grads=False)
    tsource = getattr(torch.optim, source)(tmodel.parameters(), lr=0.1, **source_kwargs)
    jsource = getattr(jnn.optim, source)(jmodel.parameters(), lr=0.1, **source_kwargs)
    tstate, jstate = _saved_state(tsource, jsource, edit)
    topt.load_state_dict(tstate)
    jopt.load_state_dict(jstate)
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict(), "after loading")
    xs, ys = batches()
    with pytest.raises(KeyError) as expected:
        torch_step(tmodel, topt, PLAIN, xs[2], ys[2])
    before = [np.asarray(p.data) for p in jmodel.parameters()]
    with pytest.raises(KeyError, match=f"^{re.escape(str(expected.value))}$"):
        step(xs[2], ys[2])
    for a, p in zip(before, jmodel.parameters()):
        np.testing.assert_array_equal(a, np.asarray(p.data))


@pytest.mark.parametrize("mode", ["closure", "compiled"])
def test_sgd_state_into_adam_raises_torchs_key_error_at_load(mode: str) -> None:
    """torch's Adam reads ``state["step"]`` when loading: SGD's state (momentum buffers)
    raises KeyError('step') there.  jnn loaded it (its next step raised).  Torch has
    replaced its groups and state by then; jnn's failed load changes nothing, and
    training goes on as before."""
    tmodel, jmodel = twin_models()
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.05)
    jopt = jnn.optim.Adam(jmodel.parameters(), lr=0.05)
    tsgd = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    jsgd = jnn.optim.SGD(jmodel.parameters(), lr=0.1, momentum=0.9)
    step = jnn_step(jmodel, jopt, PLAIN, mode)
    xs, ys = batches()
    torch_step(tmodel, tsgd, PLAIN, xs[0], ys[0])  # SGD's state: momentum buffers
    jnn_step(jmodel, jsgd, PLAIN, "closure")(xs[0], ys[0])
    for i in range(1, 3):
        _step_both(tmodel, topt, jmodel, step, i, grads=False)
    twin = copy.deepcopy(tmodel)  # torch before its load (which changes it, then raises)
    twin_opt = torch.optim.Adam(twin.parameters(), lr=0.05)
    twin_opt.load_state_dict(copy.deepcopy(topt.state_dict()))
    tstate, jstate = _saved_state(tsgd, jsgd, lambda sd: None)
    with pytest.raises(KeyError) as expected:
        topt.load_state_dict(tstate)
    before = jopt.state_dict()
    with pytest.raises(KeyError, match=f"^{re.escape(str(expected.value))}$"):
        jopt.load_state_dict(jstate)
    assert_state_dicts_match(twin_opt.state_dict(), jopt.state_dict(), "after the failed load")
    assert jopt.state_dict()["param_groups"] == before["param_groups"]
    for i in range(3, 5):
        _step_both(twin, twin_opt, jmodel, step, i, grads=False)


# (label, optimizer, its kwargs, source optimizer, its kwargs, edit of the saved dict)
LOADED_GROUP_CASES = [
    # a checkpoint of an older torch, without nesterov: torch's SGD sets it False
    ("sgd-group-without-nesterov", "SGD", {"momentum": 0.9, "nesterov": True}, "SGD",
     {"momentum": 0.5, "nesterov": True}, lambda sd: sd["param_groups"][0].pop("nesterov")),
    # Adam's state into AdamW: torch's AdamW decays decoupled
    ("adam-into-adamw", "AdamW", {"weight_decay": 0.1}, "Adam", {"weight_decay": 0.1},
     lambda sd: None),
    ("adam-group-without-amsgrad", "Adam", {"amsgrad": True}, "Adam", {"amsgrad": True},
     lambda sd: sd["param_groups"][0].pop("amsgrad")),
]


@pytest.mark.parametrize(("name", "kwargs", "source", "source_kwargs", "edit"),
                         [c[1:] for c in LOADED_GROUP_CASES],
                         ids=[c[0] for c in LOADED_GROUP_CASES])
@pytest.mark.parametrize("mode", ["closure", "compiled"])
def test_loaded_groups_train_as_torchs(name: str, kwargs: dict, source: str,
                                       source_kwargs: dict, edit: Any, mode: str) -> None:
    """The loaded groups are the saved ones, with the options torch's ``__setstate__``
    fills in: training after the load (a compiled step warm on the old groups too) gives
    torch's numbers.  jnn kept the old groups' values where the saved group had none."""
    tmodel, jmodel = twin_models()
    topt = getattr(torch.optim, name)(tmodel.parameters(), lr=0.05, **kwargs)
    jopt = getattr(jnn.optim, name)(jmodel.parameters(), lr=0.05, **kwargs)
    tsource = getattr(torch.optim, source)(tmodel.parameters(), lr=0.02, **source_kwargs)
    jsource = getattr(jnn.optim, source)(jmodel.parameters(), lr=0.02, **source_kwargs)
    step = jnn_step(jmodel, jopt, PLAIN, mode)
    xs, ys = batches()
    torch_step(tmodel, tsource, PLAIN, xs[0], ys[0])
    jnn_step(jmodel, jsource, PLAIN, "closure")(xs[0], ys[0])
    for i in range(1, 3):
        _step_both(tmodel, topt, jmodel, step, i, grads=False)
    tstate, jstate = _saved_state(tsource, jsource, edit)
    topt.load_state_dict(tstate)
    jopt.load_state_dict(jstate)
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict(), "after loading")
    for i in range(3, 6):
        _step_both(tmodel, topt, jmodel, step, i, grads=False)
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict(), "after continuing")


@pytest.mark.parametrize("dampening", [0.0, 0.5])
@pytest.mark.parametrize("mode", ["closure", "compiled"])
def test_a_momentum_buffer_loaded_as_none_is_a_first_step(mode: str, dampening: float
                                                           ) -> None:
    """torch's SGD state may hold ``momentum_buffer: None`` (a buffer not created yet): it
    loads, and the next step starts the buffer from the gradient.  jnn's rule multiplied
    the None (an internal TypeError at every step, eager and compiled)."""
    tmodel, jmodel = twin_models()
    kwargs = {"lr": 0.05, "momentum": 0.9, "dampening": dampening}
    topt = torch.optim.SGD(tmodel.parameters(), **kwargs)
    jopt = jnn.optim.SGD(jmodel.parameters(), **kwargs)
    step = jnn_step(jmodel, jopt, PLAIN, mode)
    for i in range(2):
        _step_both(tmodel, topt, jmodel, step, i, grads=False)
    state = copy.deepcopy(topt.state_dict())
    for index in (0, 3):  # the first layer's weight, the last layer's bias
        state["state"][index]["momentum_buffer"] = None
    topt.load_state_dict(state)
    jopt.load_state_dict(_convert(state))
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict(), "after loading")
    for i in range(2, 5):
        _step_both(tmodel, topt, jmodel, step, i, grads=False)
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict(), "after continuing")


def test_named_parameters_are_accepted_as_in_torch() -> None:
    """torch 2.13 takes ``named_parameters()``: the names go to ``param_names``."""
    tmodel, jmodel = torch.nn.Linear(2, 3), nn.Linear(2, 3)
    topt = torch.optim.SGD(tmodel.named_parameters(), lr=0.1, momentum=0.9)
    jopt = jnn.optim.SGD(jmodel.named_parameters(), lr=0.1, momentum=0.9)
    assert jopt.param_groups[0]["param_names"] == topt.param_groups[0]["param_names"]
    assert jopt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]
    assert repr(jopt) == repr(topt)
    jopt.step(lambda: jmodel(np.ones((4, 2), np.float32)).sum())
    jopt.load_state_dict(jopt.state_dict())
    assert jopt.param_groups[0]["param_names"] == ["weight", "bias"]


@pytest.mark.parametrize("name, loaded_shape", [("SGD", 4), ("Adam", 4), ("Adam", 1)])
def test_loaded_state_of_another_shape_is_refused(name: str, loaded_shape: int) -> None:
    """A state loaded from a differently shaped parameter: torch's step fails (its in-place
    update cannot broadcast); jnn's update would broadcast silently, so jnn refuses it at
    load, with torch's text, and keeps its own state."""
    kwargs = {"lr": 0.1, **({"momentum": 0.9} if name == "SGD" else {})}

    def run(lib, opt_module):
        p = lib.nn.Parameter(lib.ones(3) if lib is torch else jnp.ones(3))
        q = lib.nn.Parameter(lib.ones(loaded_shape) if lib is torch else jnp.ones(loaded_shape))
        q.grad = lib.ones(loaded_shape) if lib is torch else jnp.ones(loaded_shape)
        source = getattr(opt_module, name)([q], **kwargs)
        source.step()
        target = getattr(opt_module, name)([p], **kwargs)
        target.load_state_dict(source.state_dict())
        p.grad = lib.ones(3) if lib is torch else jnp.ones(3)
        target.step()

    with pytest.raises(RuntimeError) as expected:
        run(torch, torch.optim)
    with pytest.raises(RuntimeError, match=f"^{re.escape(str(expected.value))}$"):
        run(jnn, jnn.optim)


# -- model.half() between steps: the optimizer's state keeps its own dtype, as torch's -------
def _half_after_two_steps(lib: Any, optimizer: str) -> tuple[Any, Any, Any]:
    """A Linear trained two float32 steps, then ``.half()``, and one float16 step."""
    torch.manual_seed(0)
    t_model = torch.nn.Linear(8, 4)
    model = t_model if lib is torch else nn.Linear(8, 4)
    if lib is jnn:
        model.load_state_dict({k: jnp.asarray(v.detach().numpy())
                               for k, v in t_model.state_dict().items()})
    kwargs = {"lr": 0.1, "momentum": 0.9} if optimizer == "SGD" else {"lr": 0.1}
    opt = getattr(lib.optim, optimizer)(model.parameters(), **kwargs)
    x = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
    for dtype in ("float32", "float32", "float16"):
        if dtype == "float16":
            model.half()
        if lib is torch:
            opt.zero_grad()
            model(torch.from_numpy(x).to(getattr(torch, dtype))).float().square().mean().backward()
            opt.step()
        else:
            def closure(dtype=dtype):
                opt.zero_grad()
                return jnp.mean(jnp.square(model(jnp.asarray(x, dtype)).astype(jnp.float32)))
            opt.step(closure)
    return model, opt, x


def test_sgd_momentum_buffer_stays_float32_after_model_half_as_torch():
    """torch's buf.mul_().add_() keeps the buffer float32; jnn cast it to the parameter's
    float16 (then training drifted by several float16 rounding steps)."""
    t_model, t_opt, _ = _half_after_two_steps(torch, "SGD")
    model, opt, _ = _half_after_two_steps(jnn, "SGD")
    t_buf = t_opt.state_dict()["state"][0]["momentum_buffer"]
    buf = opt.state_dict()["state"][0]["momentum_buffer"]
    assert buf.dtype == jnp.float32 and t_buf.dtype == torch.float32
    np.testing.assert_allclose(np.asarray(buf), t_buf.numpy(), rtol=1e-3, atol=1e-4)
    assert model.weight.dtype == jnp.float16
    # (float16 weights: one rounding step at |w| ~ 0.3 is 2.4e-4)
    np.testing.assert_allclose(np.asarray(model.weight.data, np.float32),
                               t_model.weight.detach().float().numpy(), atol=5e-4)


def test_adam_after_model_half_raises_torchs_lerp_error_and_changes_nothing():
    with pytest.raises(RuntimeError) as expected:
        _half_after_two_steps(torch, "Adam")
    torch.manual_seed(0)
    model = nn.Linear(8, 4)
    opt = jnn.optim.Adam(model.parameters(), lr=0.1)
    x = jnp.ones((6, 8))
    opt.step(lambda: jnp.mean(model(x) ** 2))
    model.half()
    before = np.asarray(model.weight.data)
    with pytest.raises(RuntimeError, match=re.escape(str(expected.value))):
        opt.step(lambda: jnp.mean(model(x.astype(jnp.float16)).astype(jnp.float32) ** 2))
    np.testing.assert_array_equal(np.asarray(model.weight.data), before)
    assert opt.state[model.weight]["exp_avg"].dtype == jnp.float32


@pytest.mark.parametrize("mode", ["closure", "compiled"])
def test_a_deep_copy_of_an_optax_optimizer_steps_as_the_original(mode: str) -> None:
    """``copy.deepcopy((model, opt))`` right after compiled steps (an EMA or a snapshot to
    branch from): the copy's optax state is the newest, and copy and original take the
    same next steps (the copy lacked its transformation and leaves: it could not step)."""
    import optax

    _, model = twin_models()
    opt = jnn.optim.Optax(model.parameters(), optax.sgd(0.1, momentum=0.9))
    steps = [jnn_step(model, opt, Config("SGD"), mode)]
    xs, ys = batches()
    steps[0](xs[0], ys[0])
    steps[0](xs[1], ys[1])
    model2, opt2 = copy.deepcopy((model, opt))
    assert opt2.param_groups[0]["params"][0] is next(model2.parameters())
    steps.append(jnn_step(model2, opt2, Config("SGD"), mode))
    for i in (2, 3):
        losses = [float(step(xs[i], ys[i])) for step in steps]
        np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
    # (an eager closure step is compiled from its third call: the copy's first are op by
    # op, an ulp away at most)
    for a, b in zip(model.parameters(), model2.parameters(), strict=True):
        np.testing.assert_allclose(np.asarray(a.data), np.asarray(b.data), rtol=1e-6,
                                   atol=1e-7)
    with pytest.raises(TypeError, match="Optax cannot be pickled: .*state_dict"):
        pickle.dumps(opt)
    shallow = copy.copy(opt)  # as torch's: the same groups and state, and it can step
    assert shallow.param_groups is opt.param_groups and shallow.transformation is opt.transformation
    assert shallow.state_dict()["state"].keys() == opt.state_dict()["state"].keys()
