"""Optimizer hooks against torch.optim's: step, state_dict and load_state_dict hooks, per
optimizer and global, their order, return values, handles and copies."""

from __future__ import annotations

import copy
import importlib
import pickle
import re
from collections import OrderedDict
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.optim.optimizer as torch_optimizer

import jnn
import jnn.optim.optimizer as jnn_optimizer
from jnn.nn.modules._hooks import RemovableHandle

HOOK_DICTS = ["_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
              "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
              "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks"]


def _twins() -> tuple[Any, Any]:
    """A torch and a jnn SGD over one parameter with a gradient of ones."""
    tp = torch.nn.Parameter(torch.ones(2))
    tp.grad = torch.ones(2)
    jp = jnn.nn.Parameter(jnp.ones(2))
    jp.grad = jnp.ones(2)
    return torch.optim.SGD([tp], lr=0.1), jnn.optim.SGD([jp], lr=0.1)


def _shape(value: Any, opt: Any) -> Any:
    """What a hook saw, library-independent: the optimizer as "opt", callables by name."""
    if value is opt:
        return "opt"
    if isinstance(value, tuple):
        return tuple(_shape(v, opt) for v in value)
    if isinstance(value, dict):
        return {k: _shape(v, opt) for k, v in value.items()}
    if callable(value):
        return getattr(value, "__name__", "callable")
    return value


def _record_step_hooks(module: Any, opt: Any, log: list) -> list:
    """Two hooks of each kind; ``module`` is ``torch.optim.optimizer`` or jnn's."""
    handles = []
    for i in range(2):
        handles.append(module.register_optimizer_step_pre_hook(
            lambda o, a, k, i=i: log.append(("global-pre", i, _shape((o, a, k), opt)))))
        handles.append(opt.register_step_pre_hook(
            lambda o, a, k, i=i: log.append(("pre", i, _shape((o, a, k), opt)))))
        handles.append(opt.register_step_post_hook(
            lambda o, a, k, i=i: log.append(("post", i, _shape((o, a, k), opt)))))
        handles.append(module.register_optimizer_step_post_hook(
            lambda o, a, k, i=i: log.append(("global-post", i, _shape((o, a, k), opt)))))
    return handles


def _closure(lib: Any, opt: Any) -> Any:
    def closure() -> Any:
        p = opt.param_groups[0]["params"][0]
        if lib is torch:
            opt.zero_grad()
            loss = (p * p).sum()
            loss.backward()
            return loss
        return (p * p).sum()
    return closure


def test_step_hooks_run_in_torchs_order_with_torchs_arguments() -> None:
    logs = []
    for lib, opt in zip((torch, jnn), _twins()):
        log: list = []
        handles = _record_step_hooks(torch_optimizer if lib is torch else jnn_optimizer, opt,
                                     log)
        try:
            opt.step()
            closure = _closure(lib, opt)
            for _ in range(2):  # every eager step(closure) runs them, compiled or not
                opt.step(closure)
            opt.step(closure=closure)
        finally:
            for handle in handles:
                handle.remove()
        opt.step()  # removed: nothing more
        logs.append(log)
    assert logs[1] == logs[0]
    assert len(logs[0]) == 4 * 8


def test_a_step_pre_hook_may_replace_the_arguments() -> None:
    def run(lib: Any, opt: Any) -> tuple:
        def drop_closure(o: Any, args: tuple, kwargs: dict) -> tuple:
            return args[:1], {}  # step() without the closure

        seen: list = []
        opt.register_step_pre_hook(drop_closure)
        opt.register_step_post_hook(lambda o, a, k: seen.append((len(a), dict(k))))
        out = opt.step(closure=_closure(lib, opt))
        p = opt.param_groups[0]["params"][0]
        np.testing.assert_allclose(np.asarray(p.detach() if lib is torch else p.data), 0.9)
        return out, seen

    results = [run(lib, opt) for lib, opt in zip((torch, jnn), _twins())]
    assert results[1] == results[0] == (None, [(1, {})])


def test_a_step_pre_hook_returning_something_else_raises_torchs_error() -> None:
    errors = []
    for opt in _twins():
        opt.register_step_pre_hook(lambda o, a, k: 3)
        with pytest.raises(RuntimeError) as error:
            opt.step()
        errors.append(str(error.value))
    # (torch's text names the step function by its repr, address included)
    pattern = r"<function SGD\.step at 0x[0-9a-f]+> must return None or a tuple of " \
              r"\(new_args, new_kwargs\), but got 3\."
    assert re.fullmatch(pattern, errors[0]) and re.fullmatch(pattern, errors[1])


def test_state_dict_hooks_as_torch() -> None:
    def run(opt: Any) -> tuple:
        log: list = []
        opt.register_state_dict_pre_hook(lambda o: log.append("pre"))
        opt.register_state_dict_pre_hook(lambda o: log.append("pre-first"), prepend=True)

        def add_key(o: Any, sd: dict) -> None:
            sd["extra"] = 1  # in place, returning None

        def replace(o: Any, sd: dict) -> dict:
            log.append(sorted(sd))
            return {**sd, "replaced": True}

        opt.register_state_dict_post_hook(replace)
        opt.register_state_dict_post_hook(add_key, prepend=True)
        sd = opt.state_dict()
        return log, sorted(sd), sd["replaced"]

    outs = [run(opt) for opt in _twins()]
    assert outs[1] == outs[0]


def test_load_state_dict_hooks_as_torch() -> None:
    def run(opt: Any) -> tuple:
        saved = opt.state_dict()
        log: list = []

        def lower_lr(o: Any, sd: dict) -> dict:
            log.append(("pre", o.param_groups[0]["lr"]))
            sd = copy.deepcopy(sd)
            sd["param_groups"][0]["lr"] = 0.01
            return sd

        opt.register_load_state_dict_pre_hook(lower_lr)
        opt.register_load_state_dict_pre_hook(lambda o, sd: log.append("first"), prepend=True)
        opt.register_load_state_dict_post_hook(
            lambda o: log.append(("post", o.param_groups[0]["lr"])))
        opt.load_state_dict(saved)
        return log, opt.param_groups[0]["lr"], saved["param_groups"][0]["lr"]

    outs = [run(opt) for opt in _twins()]
    assert outs[1] == outs[0]


def test_hooks_are_ordered_dicts_and_handles_remove_them() -> None:
    _, opt = _twins()
    for name in HOOK_DICTS:
        assert type(getattr(opt, name)) is OrderedDict and not getattr(opt, name)
    handle = opt.register_state_dict_post_hook(lambda o, sd: None)
    assert isinstance(handle, RemovableHandle)
    assert list(opt._optimizer_state_dict_post_hooks) == [handle.id]
    handle.remove()
    assert not opt._optimizer_state_dict_post_hooks
    for name in ("register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"):
        assert name in jnn_optimizer.__all__ and hasattr(torch_optimizer, name)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copies_have_no_hooks_as_in_torch(how: str) -> None:
    """torch's ``__getstate__`` keeps defaults, state and groups: a copy has no hooks."""
    def run(opt: Any) -> tuple:
        calls: list = []
        opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
        opt.register_state_dict_pre_hook(lambda o: calls.append("sd"))
        clone = copy.deepcopy(opt) if how == "deepcopy" else pickle.loads(pickle.dumps(opt))
        clone.step()
        clone.state_dict()
        return (len(calls), [len(getattr(clone, n)) for n in HOOK_DICTS],
                len(opt._optimizer_step_pre_hooks))

    counts = [run(opt) for opt in _twins()]
    assert counts[1] == counts[0] == (0, [0] * 6, 1)


def test_an_old_pickle_without_hook_dicts_gets_them() -> None:
    _, opt = _twins()
    state = opt.__getstate__()
    clone = jnn.optim.SGD.__new__(jnn.optim.SGD)
    clone.__setstate__(state)
    for name in HOOK_DICTS:
        assert type(getattr(clone, name)) is OrderedDict
    clone.step()


def test_compiled_steps_trace_again_when_a_step_hook_comes_or_goes() -> None:
    """Under jnn.compile a hook runs when the step is traced (README, "What runs once");
    registering one traces the compiled step again; removing it goes back to the program
    traced without it."""
    model = jnn.nn.Linear(2, 1)
    opt = jnn.optim.SGD(model.parameters(), lr=0.1)
    x = jnp.ones((3, 2))

    @jnn.compile
    def step() -> Any:
        return opt.step(lambda: model(x).sum())

    calls: list = []
    step()
    handle = opt.register_step_pre_hook(lambda o, a, k: calls.append(1))
    step()
    step()
    assert calls == [1]
    handle.remove()
    step()
    assert calls == [1]
    assert step.trace_count == 2
    handle = jnn.optim.optimizer.register_optimizer_step_post_hook(
        lambda o, a, k: calls.append(2))
    try:
        step()
        step()
    finally:
        handle.remove()
    step()
    assert calls == [1, 2]
    assert step.trace_count == 3


def test_hooks_run_once_around_a_subclass_step_with_or_without_super() -> None:
    """torch wraps the step of every optimizer class: a subclass's own step runs the hooks
    (global first).  One calling ``super().step()`` runs them once in jnn; torch's run twice
    once the parent class was instantiated (its step is wrapped then), which jnn does not
    copy."""
    def plain(lib: Any, base: Any) -> Any:
        class Plain(base):  # type: ignore[misc, valid-type]
            def step(self, closure: Any = None) -> Any:
                for group in self.param_groups:
                    for p in group["params"]:
                        if lib is torch:
                            with torch.no_grad():
                                p.add_(p.grad, alpha=-group["lr"])
                        else:
                            p.data = p.data - group["lr"] * p.grad
        return Plain

    def calling_super(lib: Any, base: Any) -> Any:
        class CallingSuper(base):  # type: ignore[misc, valid-type]
            def step(self, closure: Any = None) -> Any:
                return super().step(closure)
        return CallingSuper

    for make in (plain, calling_super):
        seen: dict[str, list] = {}
        weights = []
        tmodel, jmodel = torch.nn.Linear(3, 2), jnn.nn.Linear(3, 2)
        jmodel.load_state_dict({k: jnp.asarray(v.numpy())
                                for k, v in tmodel.state_dict().items()})
        for lib, model in ((torch, tmodel), (jnn, jmodel)):
            calls = seen[lib.__name__] = []
            cls = make(lib, lib.optim.SGD if make is calling_super else lib.optim.Optimizer)
            opt = (cls(model.parameters(), lr=0.1) if make is calling_super
                   else cls(model.parameters(), {"lr": 0.1}))
            opt.register_step_pre_hook(lambda o, a, k, calls=calls: calls.append("pre"))
            opt.register_step_post_hook(lambda o, a, k, calls=calls: calls.append("post"))
            register = importlib.import_module(
                f"{lib.__name__}.optim.optimizer").register_optimizer_step_pre_hook
            handle = register(lambda o, a, k, calls=calls, opt=opt:
                              calls.append("global") if o is opt else None)
            try:
                for p in model.parameters():
                    p.grad = (torch.ones_like(p) if lib is torch
                              else jnp.ones(p.shape, p.dtype))
                opt.step()
            finally:
                handle.remove()
            weights.append(np.asarray(model.weight.data if lib is jnn
                                      else model.weight.detach().numpy()))
        assert seen["jnn"] == ["global", "pre", "post"], make.__name__
        if make is plain:
            assert seen["torch"] == seen["jnn"]
        np.testing.assert_allclose(weights[1], weights[0], rtol=1e-6)
