"""Param-group options and loaded state edited to unusual values, then ``step()``: as torch.

Config-driven code sets options from YAML or JSON (``betas`` arrives as a list), schedulers
and users edit groups mid-run, and checkpoints carry state in torch's shapes.  Each case
edits a torch twin and a jnn twin alike and steps both, eagerly and under ``jnn.compile``:
where torch trains on, jnn trains on to the same numbers; where torch raises, jnn raises
its exception type with its message, and the failed step changes nothing.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
from tests.optim._harness import (
    Config,
    assert_params_match,
    assert_state_dicts_match,
    batches,
    jnn_step,
    torch_step,
    twin_models,
)

PLAIN = Config("SGD")  # the harness' step functions read only clip/accumulate from it
MODES = ["closure", "compiled"]


def _value(lib: Any, value: Any) -> Any:
    """``value`` for one side: ``("t", x)`` is a tensor (torch) or an array (jnn)."""
    if isinstance(value, tuple) and value[:1] == ("t",):
        return torch.tensor(value[1]) if lib is torch else jnp.asarray(value[1])
    if isinstance(value, tuple) and value[:1] == ("n",):  # a numpy array, on both sides
        return np.array(value[1], dtype=np.float32)
    if isinstance(value, (tuple, list)):
        return type(value)(_value(lib, v) for v in value)
    return value


def _snapshot(model: Any, opt: Any) -> list[np.ndarray]:
    out = [np.asarray(p.data) for p in model.parameters()]
    for state in opt.state_dict()["state"].values():
        out += [np.asarray(v) for v in state.values() if v is not None]
    return out


def _edit_then_step(name: str, kwargs: dict, edit: Callable[[Any, Any], None], mode: str,
                    warm: int = 0, steps: int = 3) -> None:
    """Warm up ``warm`` steps, ``edit(lib, optimizer)`` both twins, then step: the same
    numbers where torch trains on, torch's error (and nothing changed) where it raises."""
    tmodel, jmodel = twin_models()
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kwargs)
    jopt = getattr(jnn.optim, name)(jmodel.parameters(), **kwargs)
    step = jnn_step(jmodel, jopt, PLAIN, mode)
    xs, ys = batches()
    for i in range(warm + steps):
        if i == warm:
            edit(torch, topt)
            edit(jnn, jopt)
        try:
            tloss = torch_step(tmodel, topt, PLAIN, xs[i], ys[i])
        except Exception as error:  # noqa: BLE001 - any error torch raises is the spec
            expected = error
        else:
            expected = None
        if expected is not None:
            before = _snapshot(jmodel, jopt)
            first_line = str(expected).splitlines()[0]
            with pytest.raises(type(expected), match=re.escape(first_line)) as got:
                step(xs[i], ys[i])
            assert type(got.value) is type(expected)
            for a, b in zip(before, _snapshot(jmodel, jopt), strict=True):
                np.testing.assert_array_equal(a, b)
            return
        jloss = step(xs[i], ys[i])
        np.testing.assert_allclose(float(jloss), tloss, rtol=1e-5, atol=1e-6)
        assert_params_match(list(tmodel.named_parameters()), list(jmodel.named_parameters()),
                            f"step {i}", grads=False)
    assert_state_dicts_match(_plain_groups(topt.state_dict()), _plain_groups(jopt.state_dict()))


def _plain_groups(state_dict: dict) -> dict:
    """The state dict with tensor/array options as Python numbers (lists), to compare."""
    def plain(value: Any) -> Any:
        if isinstance(value, (tuple, list)):
            return type(value)(plain(v) for v in value)
        if isinstance(value, (torch.Tensor, np.ndarray, jnp.ndarray)):
            return np.asarray(value).tolist()
        return value
    groups = [{k: plain(v) for k, v in g.items()} for g in state_dict["param_groups"]]
    return {**state_dict, "param_groups": groups}


def _set(key: str, value: Any) -> Callable[[Any, Any], None]:
    def edit(lib: Any, opt: Any) -> None:
        opt.param_groups[0][key] = _value(lib, value)
    return edit


# -- betas (items 1, 2, 16 of the audit) ---------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_betas_given_as_a_list_train_as_torch(name: str, mode: str) -> None:
    """A YAML/JSON config gives ``betas`` as a list: torch trains with it (jnn raised
    KeyError('betas') at the first step), in the constructor and set in a group."""
    _edit_then_step(name, {"lr": 0.05, "betas": [0.8, 0.99]}, lambda lib, opt: None, mode)
    _edit_then_step(name, {"lr": 0.05}, _set("betas", [0.8, 0.99]), mode, warm=2)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("betas", [
    ("a", 0.9), (None, 0.9), (0.9, None), (0.9, "b"), ("a", None), [0.9, "0.99"],
    (0.9, 0.99, 0.5), (0.9,),
], ids=repr)
def test_betas_holding_a_non_number_raise_torchs_error(betas: Any, mode: str) -> None:
    _edit_then_step("Adam", {"lr": 0.05}, _set("betas", betas), mode, warm=1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("betas", [(("t", 0.8), 0.99), (0.8, ("t", 0.99)),
                                   (("t", 0.8), ("t", 0.99))], ids=repr)
def test_betas_mixing_tensors_and_floats_train_as_torch(betas: Any, mode: str) -> None:
    """torch's constructor wants both floats or both tensors; a group edited later may
    mix them, and torch's step computes with them."""
    _edit_then_step("Adam", {"lr": 0.05}, _set("betas", betas), mode, warm=1)


@pytest.mark.parametrize("betas", [(("t", [0.9, 0.9]), ("t", 0.99)),
                                   (("t", 0.9), ("t", [0.99, 0.9]))], ids=repr)
def test_multi_element_tensor_betas_in_the_constructor_raise_torchs_error(betas: Any) -> None:
    with pytest.raises(RuntimeError) as expected:
        torch.optim.Adam([torch.nn.Parameter(torch.ones(2))], betas=_value(torch, betas))
    with pytest.raises(RuntimeError, match=f"^{re.escape(str(expected.value))}$"):
        jnn.optim.Adam([jnn.nn.Parameter(jnp.ones(2))], betas=_value(jnn, betas))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("betas", [(1, 0), (1.0, 0.5), (True, 0.9)], ids=repr)
def test_beta1_of_one_raises_torchs_zero_division(betas: tuple, name: str, mode: str) -> None:
    """torch's bias correction ``1 - beta1 ** step`` is 0: its ``lr / 0`` raises (jnn
    stepped and wrote non-finite values)."""
    _edit_then_step(name, {"lr": 0.05}, _set("betas", betas), mode, warm=1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("kwargs", [{}, {"amsgrad": True}], ids=repr)
@pytest.mark.parametrize("betas", [(0.9, 1.5), (2.0, 3.0)], ids=repr)
def test_beta2_above_one_raises_torchs_complex_cast(betas: tuple, kwargs: dict, name: str,
                                                     mode: str) -> None:
    """torch's ``(1 - beta2 ** step) ** 0.5`` is a complex number: its update raises
    (jnn's parameters became NaN)."""
    _edit_then_step(name, {"lr": 0.05, **kwargs}, _set("betas", betas), mode, warm=1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_keys_of_the_scripts_own_in_a_group_are_ignored_as_torch(name: str, mode: str) -> None:
    """A group may carry any key of the script's own (a name, tags, a config dict); torch's
    step reads only its options (jnn's raised ``unhashable type: 'list'``)."""
    def edit(lib: Any, opt: Any) -> None:
        opt.param_groups[0].update(tags=["a", "b"], config={"k": 1}, name="head")
    _edit_then_step(name, {"lr": 0.05}, edit, mode)
    _edit_then_step(name, {"lr": 0.05}, edit, mode, warm=2)


# -- lr of another kind (items 5 and 17) ---------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
@pytest.mark.parametrize("lr", [("t", [0.1, 0.2]), ("t", [0.05]), 1j, 0.05 + 0j],
                         ids=["two-elements", "one-element", "complex", "complex-real"])
def test_lr_set_to_an_unusual_value_is_torchs(lr: Any, name: str, mode: str) -> None:
    """A 2-element lr raises torch's TypeError (jnn's Adam broadcast it into the update
    silently); a 1-element one trains; a complex one raises torch's RuntimeError, which
    differs between the optimizers (Adam's accepts a complex lr with no imaginary part)."""
    _edit_then_step(name, {"lr": 0.05}, _set("lr", lr), mode, warm=1)


# -- loaded state in unusual forms (items 6 and 14) ----------------------------------------

def _load_edited(name: str, kwargs: dict, edit: Callable[[dict], None], mode: str) -> None:
    """Train both twins 2 steps, edit a copy of each one's state dict alike, load it into a
    fresh optimizer and step 2 more: the same numbers, or torch's error at load or step."""
    tmodel, jmodel = twin_models()
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kwargs)
    jopt = getattr(jnn.optim, name)(jmodel.parameters(), **kwargs)
    xs, ys = batches()
    step = jnn_step(jmodel, jopt, PLAIN, "closure")
    for i in range(2):
        torch_step(tmodel, topt, PLAIN, xs[i], ys[i])
        step(xs[i], ys[i])
    tstate, jstate = copy.deepcopy(topt.state_dict()), copy.deepcopy(jopt.state_dict())
    edit(tstate)
    edit(jstate)
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kwargs)
    jopt = getattr(jnn.optim, name)(jmodel.parameters(), **kwargs)
    try:
        topt.load_state_dict(tstate)
        for i in range(2, 4):
            torch_step(tmodel, topt, PLAIN, xs[i], ys[i])
    except Exception as error:  # noqa: BLE001 - any error torch raises is the spec
        before = _snapshot(jmodel, jopt)
        with pytest.raises(type(error), match=re.escape(str(error).splitlines()[0])):
            jopt.load_state_dict(jstate)
            step = jnn_step(jmodel, jopt, PLAIN, mode)
            for i in range(2, 4):
                step(xs[i], ys[i])
        for a, b in zip(before, _snapshot(jmodel, jopt), strict=True):
            np.testing.assert_array_equal(a, b)
        return
    jopt.load_state_dict(jstate)
    step = jnn_step(jmodel, jopt, PLAIN, mode)
    for i in range(2, 4):
        step(xs[i], ys[i])
    assert_params_match(list(tmodel.named_parameters()), list(jmodel.named_parameters()),
                        "after loading", grads=False)
    for index, tvalue in topt.state_dict()["state"].items():
        for key, value in tvalue.items():  # (torch keeps the loaded step's shape, jnn 0-d)
            np.testing.assert_allclose(np.asarray(jopt.state_dict()["state"][index][key]),
                                       np.asarray(value).reshape(np.shape(
                                           jopt.state_dict()["state"][index][key])),
                                       rtol=1e-5, atol=1e-6)


def _set_state(index: int, key: str | None, value: Any) -> Callable[[dict], None]:
    def edit(state_dict: dict) -> None:
        is_torch = any(isinstance(v, torch.Tensor) for s in state_dict["state"].values()
                       for v in s.values())
        lib = torch if is_torch else jnn
        if key is None:
            state_dict["state"][index] = _value(lib, value)
        else:
            state_dict["state"][index][key] = _value(lib, value)
    return edit


@pytest.mark.parametrize("mode", MODES)
def test_a_step_loaded_as_a_one_element_vector_steps_as_torch(mode: str) -> None:
    """``step`` saved as ``tensor([3.])``: torch reads its number (jnn's rule failed to
    stack it with the other parameters' 0-d counts)."""
    _load_edited("Adam", {"lr": 0.05}, _set_state(0, "step", ("t", [3.0])), mode)


@pytest.mark.parametrize("name, kwargs", [("Adam", {}), ("AdamW", {}),
                                          ("SGD", {"momentum": 0.9})])
@pytest.mark.parametrize("entry", [5, None, [1, 2], "ab"], ids=repr)
def test_a_state_entry_that_is_no_dict_raises_torchs_error(entry: Any, name: str,
                                                           kwargs: dict) -> None:
    _load_edited(name, {"lr": 0.05, **kwargs}, _set_state(0, None, entry), "closure")


@pytest.mark.parametrize("mode", MODES)
def test_a_zero_momentum_given_as_an_array_keeps_no_buffer_as_torch(mode: str) -> None:
    """torch's ``if momentum != 0`` of a 0-d tensor holding 0 is False: no momentum buffer,
    no dampening.  jnn took any array momentum as non-zero (updates scaled by 1 -
    dampening from the second step)."""
    _edit_then_step("SGD", {"lr": 0.1, "dampening": 0.5},
                    lambda lib, opt: opt.param_groups[0].__setitem__(
                        "momentum", _value(lib, ("t", 0.0))), mode, steps=3)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kwargs", [
    {"lr": True}, {"lr": 0.1, "momentum": True},
    {"lr": np.array(0.1), "momentum": np.array(0.0)},
], ids=["lr-bool", "momentum-bool", "zero-d-arrays"])
def test_constructor_options_of_other_number_types_step_as_torch(kwargs: dict,
                                                                 mode: str) -> None:
    """An option's kind (number, pair, flag) comes from the optimizer's signature, not from
    what the constructor was given: ``SGD(lr=True)`` or ``momentum=True`` are numbers to
    torch's arithmetic (jnn raised KeyError at the first step)."""
    _edit_then_step("SGD", kwargs, lambda lib, opt: None, mode, steps=3)


# A 1-element array where torch's step passes the option as a Number (an ``alpha``) or a
# Tensor (``add_(eps)``): a tensor of one dimension is no Number to its argument parser, a
# numpy array neither (jnn computed with them).  (name, constructor options, edited key)
_ONE_ELEMENT = [
    ("SGD", {"lr": 0.1, "weight_decay": 0.01}, "weight_decay"),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, "momentum"),  # (a tensor only)
    ("SGD", {"lr": 0.1}, "lr"),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, "lr"),
    ("Adam", {"lr": 0.05, "weight_decay": 0.01}, "weight_decay"),
    ("Adam", {"lr": 0.05, "amsgrad": True}, "eps"),
    ("Adam", {"lr": 0.05}, "lr"),
    ("AdamW", {"lr": 0.05}, "weight_decay"),
    ("AdamW", {"lr": 0.05}, "lr"),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.0}, "lr"),
    ("AdamW", {"lr": 0.05}, "eps"),
]


# (not a numpy momentum: torch's buf.mul_ refuses it once a buffer exists, which jnn's
# compiled step cannot tell from its options; it trains on, see sgd.py)
_ONE_ELEMENT_CASES = [
    pytest.param(name, kwargs, key, kind, id=f"{name}-{key}-{'-'.join(kwargs)}-{kind}")
    for name, kwargs, key in _ONE_ELEMENT for kind in ("t", "n")
    if not (kind == "n" and key == "momentum")]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(), (1,)], ids=["0d", "1d"])
@pytest.mark.parametrize(("name", "kwargs", "key", "kind"), _ONE_ELEMENT_CASES)
def test_a_one_element_array_option_steps_or_raises_as_torch(name: str, kwargs: dict,
                                                             key: str, kind: str,
                                                             shape: tuple, mode: str) -> None:
    """Set in a group after two steps, a 1-element array (``t``) or a numpy array
    (``n``): torch trains on (a 0-d tensor is its number) or raises its argument parser's
    TypeError (``add(): argument 'alpha' must be Number, not Tensor``); jnn silently
    trained with the value."""
    value = np.full(shape, kwargs.get(key, 1e-8 if key == "eps" else 0.01)).tolist()
    _edit_then_step(name, kwargs, _set(key, (kind, value)), mode, warm=2, steps=2)
