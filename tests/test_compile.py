"""``jnn.compile``: what it threads, when it re-traces, and what it refuses.

Numbers are checked against torch (same model, weights and data) wherever torch has them;
trace counts against ``CompiledFunction.trace_count``.
"""

from __future__ import annotations

import copy
import pickle
import re
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
import jnn.nn as nn
import jnn.nn.functional as F
from tests.optim._harness import (
    ATOL,
    HIDDEN,
    IN,
    OUT,
    RTOL,
    assert_params_match,
    assert_state_dicts_match,
    batches,
    copy_weights,
    to_numpy,
    twin_models,
)

tF = torch.nn.functional


def _xy(i: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = batches()
    return xs[i, 0], ys[i, 0]


def _torch_train_step(model: Any, optimizer: Any, x: np.ndarray, y: np.ndarray) -> float:
    optimizer.zero_grad()
    loss = tF.mse_loss(model(torch.from_numpy(x)), torch.from_numpy(y))
    loss.backward()
    optimizer.step()
    return loss.item()


def _compiled_train_step(model: Any, optimizer: Any) -> Any:
    @jnn.compile
    def train_step(x: jax.Array, y: jax.Array) -> jax.Array:
        def closure() -> jax.Array:
            optimizer.zero_grad()
            return F.mse_loss(model(x), y)

        return optimizer.step(closure)

    return train_step


# -- learning rates are inputs, not constants ---------------------------------------------------


@pytest.mark.parametrize("how", ["scheduler", "by-hand"])
def test_changing_lr_does_not_retrace_and_matches_torch(how: str) -> None:
    tmodel, jmodel = twin_models()
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.1, momentum=0.9)
    if how == "scheduler":
        tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=2, gamma=0.5)
        jsched = jnn.optim.lr_scheduler.StepLR(jopt, step_size=2, gamma=0.5)
    step = _compiled_train_step(jmodel, jopt)
    lrs = []
    for i in range(8):
        if how == "by-hand" and i >= 2:
            for opt in (topt, jopt):
                opt.param_groups[0]["lr"] = 0.1 / (i + 1)
        tloss = _torch_train_step(tmodel, topt, *_xy(i))
        x, y = _xy(i)
        jloss = step(jnp.asarray(x), jnp.asarray(y))
        np.testing.assert_allclose(float(jloss), tloss, rtol=RTOL, atol=1e-6)
        assert_params_match(list(tmodel.named_parameters()), list(jmodel.named_parameters()),
                            f"step {i}")
        if how == "scheduler":
            tsched.step()
            jsched.step()
        lrs.append(jopt.param_groups[0]["lr"])
        if i >= 1:  # one trace: the first step runs the steady program from placeholders
            assert step.trace_count == 1, f"re-traced at step {i} (lr {lrs[-1]})"
    assert len(set(lrs)) >= 4  # the lr really changed


def test_lr_annealed_to_zero_does_not_retrace() -> None:
    tmodel, jmodel = twin_models()
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.1, momentum=0.9)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=3)
    jsched = jnn.optim.lr_scheduler.CosineAnnealingLR(jopt, T_max=3)
    step = _compiled_train_step(jmodel, jopt)
    lrs = []
    for i in range(6):  # the lr is exactly 0.0 at step 3
        lrs.append(jopt.param_groups[0]["lr"])
        _torch_train_step(tmodel, topt, *_xy(i))
        step(*map(jnp.asarray, _xy(i)))
        assert_params_match(list(tmodel.named_parameters()), list(jmodel.named_parameters()),
                            f"step {i}")
        tsched.step()
        jsched.step()
    assert lrs[3] == 0.0
    assert step.trace_count == 1


@pytest.mark.parametrize("how", ["scheduler", "by-hand"])
def test_lr_changed_inside_the_compiled_step_is_kept_or_reported(how: str) -> None:
    tmodel, jmodel = twin_models()
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.1)
    tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=1, gamma=0.5)
    jsched = jnn.optim.lr_scheduler.StepLR(jopt, step_size=1, gamma=0.5)

    @jnn.compile
    def train_step(x: jax.Array, y: jax.Array) -> jax.Array:
        def closure() -> jax.Array:
            jopt.zero_grad()
            return F.mse_loss(jmodel(x), y)

        loss = jopt.step(closure)
        if how == "scheduler":
            jsched.step()
        else:
            jopt.param_groups[0]["lr"] = jopt.param_groups[0]["lr"] * 0.5
        return loss

    for i in range(3):
        _torch_train_step(tmodel, topt, *_xy(i))
        tsched.step()
        try:
            train_step(*map(jnp.asarray, _xy(i)))
        except RuntimeError as error:  # reporting it, by name, is acceptable too
            assert ("param_groups[0]['lr']" in str(error) if how == "by-hand"
                    else "StepLR.step() inside a compiled function runs once" in str(error))
            return
        assert jopt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"])
        assert_params_match(list(tmodel.named_parameters()), list(jmodel.named_parameters()),
                            f"step {i}")


def test_grads_accumulate_across_compiled_calls_without_zero_grad() -> None:
    # torch: without zero_grad, every backward adds to .grad and the optimizer sees the sum.
    tmodel, jmodel = twin_models()
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.05, momentum=0.9)
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.05, momentum=0.9)

    @jnn.compile
    def train_step(x: jax.Array, y: jax.Array) -> jax.Array:
        return jopt.step(lambda: F.mse_loss(jmodel(x), y))

    for i in range(4):
        x, y = _xy(i)
        tF.mse_loss(tmodel(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        topt.step()
        train_step(jnp.asarray(x), jnp.asarray(y))
        assert_params_match(list(tmodel.named_parameters()), list(jmodel.named_parameters()),
                            f"step {i}")
    assert train_step.trace_count == 1


def test_compiled_and_eager_steps_interleave_and_share_state() -> None:
    # A compiled step, an eager step and a compiled inference module all see one model.
    tmodel, jmodel = twin_models()
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.01)
    jopt = jnn.optim.Adam(jmodel.parameters(), lr=0.01)

    def train_step(x: jax.Array, y: jax.Array) -> jax.Array:
        def closure() -> jax.Array:
            jopt.zero_grad()
            return F.mse_loss(jmodel(x), y)

        return jopt.step(closure)

    compiled_step = jnn.compile(train_step)
    predict = jnn.compile(jmodel)
    probe = _xy(0)[0]
    for i in range(6):
        x, y = _xy(i)
        tloss = _torch_train_step(tmodel, topt, x, y)
        step = train_step if i in (2, 3) else compiled_step
        np.testing.assert_allclose(float(step(jnp.asarray(x), jnp.asarray(y))), tloss,
                                   rtol=RTOL, atol=1e-6)
        np.testing.assert_allclose(np.asarray(predict(jnp.asarray(probe))),
                                   tmodel(torch.from_numpy(probe)).detach().numpy(),
                                   rtol=RTOL, atol=ATOL, err_msg=f"step {i}")
        assert_params_match(list(tmodel.named_parameters()), list(jmodel.named_parameters()),
                            f"step {i}")
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict())
    assert predict._compiled.trace_count == 1


# -- train() / eval() ----------------------------------------------------------------------------


def _dropout_mlp() -> tuple[torch.nn.Sequential, nn.Sequential]:
    torch.manual_seed(1)
    tmodel = torch.nn.Sequential(torch.nn.Linear(IN, HIDDEN), torch.nn.Dropout(0.5),
                                 torch.nn.Linear(HIDDEN, OUT))
    jmodel = nn.Sequential(nn.Linear(IN, HIDDEN), nn.Dropout(0.5), nn.Linear(HIDDEN, OUT))
    copy_weights(tmodel, jmodel)
    return tmodel, jmodel


def test_train_eval_switch_traces_once_per_mode() -> None:
    tmodel, jmodel = _dropout_mlp()
    tmodel.eval()
    predict = jnn.compile(lambda x: jmodel(x))
    x = _xy(0)[0]
    expected_eval = tmodel(torch.from_numpy(x)).detach().numpy()
    counts = []
    for mode in ["train", "eval", "train", "eval", "train", "eval"]:
        jmodel.train(mode == "train")
        out = np.asarray(predict(jnp.asarray(x)))
        if mode == "eval":
            np.testing.assert_allclose(out, expected_eval, rtol=RTOL, atol=ATOL)
        else:
            assert not np.allclose(out, expected_eval, atol=1e-3)  # dropout is active
        counts.append(predict.trace_count)
    assert counts == [1, 2, 2, 2, 2, 2]


# -- state that cannot be threaded is reported -------------------------------------------------

_STASH: list[Any] = []


def test_storing_a_tracer_in_a_global_list_raises() -> None:
    _, jmodel = twin_models()

    def leaky(x: jax.Array) -> jax.Array:
        out = jmodel(x)
        _STASH.append(out)
        return out

    try:
        with pytest.raises(RuntimeError, match=r"stored a traced value .*the global `_STASH`"):
            jnn.compile(leaky)(jnp.asarray(_xy(0)[0]))
    finally:
        _STASH.clear()


def test_storing_a_tracer_in_a_captured_list_raises() -> None:
    _, jmodel = twin_models()
    seen: list[Any] = []

    def leaky(x: jax.Array) -> jax.Array:
        out = jmodel(x)
        seen.append(out)
        return out

    with pytest.raises(RuntimeError, match=r"stored a traced value .*captured by leaky"):
        jnn.compile(leaky)(jnp.asarray(_xy(0)[0]))


@pytest.mark.parametrize(("owner", "name"), [("root", "`last_output` of Sequential"),
                                             ("child", "`0.last_output` of Linear")])
def test_storing_a_tracer_in_a_module_attribute_raises(owner: str, name: str) -> None:
    _, jmodel = twin_models()
    target = jmodel if owner == "root" else jmodel[0]

    def leaky(x: jax.Array) -> jax.Array:
        out = jmodel(x)
        target.last_output = out
        return out

    with pytest.raises(RuntimeError, match=f"stored a traced value .*the attribute {name}"):
        jnn.compile(leaky)(jnp.asarray(_xy(0)[0]))


# -- compiled modules, aux outputs ---------------------------------------------------------------


def test_compiled_module_equals_eager_and_torch() -> None:
    tmodel, jmodel = twin_models()
    compiled = jnn.compile(jmodel)
    x = _xy(0)[0]
    expected = tmodel(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(np.asarray(compiled(jnp.asarray(x))), expected, rtol=RTOL,
                               atol=ATOL)
    np.testing.assert_allclose(np.asarray(jmodel(jnp.asarray(x))), expected, rtol=RTOL,
                               atol=ATOL)
    # Parameters are program inputs: new weights are seen without re-tracing.
    with torch.no_grad():
        for p in tmodel.parameters():
            p.mul_(0.5)
    copy_weights(tmodel, jmodel)
    expected = tmodel(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(np.asarray(compiled(jnp.asarray(x))), expected, rtol=RTOL,
                               atol=ATOL)
    assert compiled._compiled.trace_count == 1
    assert compiled._orig_mod is jmodel  # torch.compile's attribute name


@pytest.fixture
def torch_compile_undone() -> Any:
    """Running torch.compile turns torch.distributions' argument validation off for the
    whole process (dynamo's doing): put it back for the tests after."""
    import torch._dynamo

    torch._dynamo.reset()
    validate = torch.distributions.Distribution._validate_args
    yield
    torch.distributions.Distribution.set_default_validate_args(validate)
    torch._dynamo.reset()


def _wrapper_facts(lib: Any, compiled: Any, model: Any) -> dict[str, Any]:
    """What a script sees of ``torch.compile(model)`` / ``jnn.compile(model)``."""
    facts: dict[str, Any] = {
        "module": isinstance(compiled, lib.nn.Module), "type": type(compiled).__name__,
        "orig": compiled._orig_mod is model, "keys": list(compiled.state_dict().keys()),
        "names": [n for n, _ in compiled.named_parameters()],
        "modules": [n for n, _ in compiled.named_modules()],
        "prefix": list(compiled.state_dict(prefix="x.").keys())[:2],
        "repr": repr(compiled), "len": len(compiled),
        "listed": [n for n, _ in lib.nn.ModuleList([compiled]).named_parameters()],
    }
    model.eval()
    facts["mirrors eval"] = compiled.training
    compiled.train()
    facts["train reaches"] = (model.training, model[1].training)
    compiled.flag = 3  # a plain attribute: the module's
    facts["setattr"] = (getattr(model, "flag", None), "flag" in compiled.__dict__)
    with pytest.raises(AttributeError) as info:
        getattr(compiled, "missing")  # noqa: B009
    facts["missing"] = str(info.value)
    with pytest.raises(RuntimeError) as info:
        compiled.load_state_dict(model.state_dict())  # unprefixed keys: all missing
    facts["unprefixed"] = str(info.value).splitlines()[0]
    compiled.load_state_dict(compiled.state_dict())
    copied = copy.deepcopy(compiled)
    facts["deepcopy"] = (type(copied).__name__, copied._orig_mod is not model,
                         list(copied.state_dict()) == facts["keys"])
    unpickled = pickle.loads(pickle.dumps(compiled))
    facts["pickle"] = (type(unpickled).__name__, list(unpickled.state_dict()) == facts["keys"])
    seen = []
    compiled.register_forward_hook(lambda m, i, o: seen.append(type(m).__name__))
    compiled(lib.ones(4, 3) if lib is torch else jnp.ones((4, 3)))
    unpickled(lib.ones(4, 3) if lib is torch else jnp.ones((4, 3)))
    facts["hook"] = seen
    return facts


@pytest.mark.usefixtures("torch_compile_undone")
def test_compiled_module_is_torchs_optimized_module() -> None:
    """``jnn.compile(model)`` is an ``nn.Module`` wrapping the model as ``_orig_mod``, as
    torch's ``OptimizedModule``: the same keys, names, repr, mirrored training flag,
    attribute forwarding, load errors, copies and hooks."""
    t = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    j = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _wrapper_facts(torch, torch.compile(t, backend="eager"), t)
    assert _wrapper_facts(jnn, jnn.compile(j), j) == expected


@pytest.mark.usefixtures("torch_compile_undone")
def test_compiled_module_trains_in_a_compiled_step_and_by_copies() -> None:
    """The wrapper in a training step (its parameters in the optimizer), its state_dict
    loaded into torch's compiled twin, and a jax.tree_util copy of it."""
    tmodel, jmodel = twin_models()
    tc, jc = torch.compile(tmodel, backend="eager"), jnn.compile(jmodel)
    topt = torch.optim.SGD(tc.parameters(), lr=0.1)
    jopt = jnn.optim.SGD(jc.parameters(), lr=0.1)

    @jnn.compile
    def step(x: jax.Array, y: jax.Array) -> jax.Array:
        def closure() -> jax.Array:
            jopt.zero_grad()
            return F.mse_loss(jc(x), y)
        return jopt.step(closure)

    for i in range(3):
        x, y = _xy(i)
        topt.zero_grad()
        tloss = torch.nn.functional.mse_loss(tc(torch.from_numpy(x)), torch.from_numpy(y))
        tloss.backward()
        topt.step()
        np.testing.assert_allclose(float(step(jnp.asarray(x), jnp.asarray(y))), tloss.item(),
                                   rtol=RTOL, atol=1e-6)
    assert step.trace_count == 1
    sd = jc.state_dict()
    assert list(sd) == list(tc.state_dict())
    for k, v in tc.state_dict().items():
        np.testing.assert_allclose(np.asarray(sd[k]), v.detach().numpy(), rtol=RTOL, atol=ATOL)
    leaves, treedef = jax.tree_util.tree_flatten(jc)
    again = jax.tree_util.tree_unflatten(treedef, leaves)
    x = jnp.asarray(_xy(5)[0])
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(jc(x)), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_closure_may_return_aux_outputs(compiled: bool) -> None:
    tmodel, jmodel = twin_models()
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.01)
    jopt = jnn.optim.Adam(jmodel.parameters(), lr=0.01)

    def train_step(x: jax.Array, y: jax.Array) -> Any:
        def closure() -> Any:
            jopt.zero_grad()
            logits = jmodel(x)
            return F.mse_loss(logits, y), logits

        return jopt.step(closure)

    step = jnn.compile(train_step) if compiled else train_step
    for i in range(3):
        x, y = _xy(i)
        tlogits = tmodel(torch.from_numpy(x)).detach().numpy()
        tloss = _torch_train_step(tmodel, topt, x, y)
        loss, logits = step(jnp.asarray(x), jnp.asarray(y))
        np.testing.assert_allclose(float(loss), tloss, rtol=RTOL, atol=1e-6)
        np.testing.assert_allclose(np.asarray(logits), tlogits, rtol=RTOL, atol=ATOL)
        assert_params_match(list(tmodel.named_parameters()), list(jmodel.named_parameters()),
                            f"step {i}")


# -- buffers written in forward ----------------------------------------------------------------


class TorchRunningMean(torch.nn.Module):
    """A Linear whose output is centred by a running mean buffer (BatchNorm's update rule)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(IN, OUT)
        self.register_buffer("running_mean", torch.zeros(OUT))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        if self.training:
            self.running_mean = 0.9 * self.running_mean + 0.1 * y.detach().mean(0)
            self.num_batches_tracked = self.num_batches_tracked + 1
        return y - self.running_mean


class JnnRunningMean(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(IN, OUT)
        self.register_buffer("running_mean", jnp.zeros(OUT))
        self.register_buffer("num_batches_tracked", jnp.array(0))

    def forward(self, x: jax.Array) -> jax.Array:
        y = self.fc(x)
        if self.training:
            self.running_mean = 0.9 * self.running_mean + 0.1 * jax.lax.stop_gradient(y.mean(0))
            self.num_batches_tracked = self.num_batches_tracked + 1
        return y - self.running_mean


@pytest.mark.parametrize("mode", ["closure", "backward", "compiled"])
def test_buffers_written_in_forward_are_threaded(mode: str) -> None:
    torch.manual_seed(0)
    tmodel, jmodel = TorchRunningMean(), JnnRunningMean()
    copy_weights(tmodel, jmodel)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.1, momentum=0.9)

    def by_closure(x: jax.Array, y: jax.Array) -> jax.Array:
        def closure() -> jax.Array:
            jopt.zero_grad()
            return F.mse_loss(jmodel(x), y)

        return jopt.step(closure)

    def by_backward(x: jax.Array, y: jax.Array) -> jax.Array:
        jopt.zero_grad()
        loss = jnn.autograd.backward(lambda: F.mse_loss(jmodel(x), y))
        jopt.step()
        return loss

    step = {"closure": by_closure, "backward": by_backward,
            "compiled": jnn.compile(by_closure)}[mode]
    for i in range(6):
        x, y = _xy(i)
        y = y[:, :OUT]
        tloss = _torch_train_step(tmodel, topt, x, y)
        jloss = step(jnp.asarray(x), jnp.asarray(y))
        np.testing.assert_allclose(float(jloss), tloss, rtol=RTOL, atol=1e-6)
        assert_params_match(list(tmodel.named_parameters()), list(jmodel.named_parameters()),
                            f"step {i}")
        np.testing.assert_allclose(to_numpy(jmodel.running_mean), to_numpy(tmodel.running_mean),
                                   rtol=RTOL, atol=ATOL, err_msg=f"step {i}: running_mean")
        assert int(jmodel.num_batches_tracked) == int(tmodel.num_batches_tracked) == i + 1
    if mode == "compiled":
        assert step.trace_count == 1
    # Eval mode reads the buffer and leaves it alone.
    tmodel.eval()
    jmodel.eval()
    x = _xy(0)[0]
    np.testing.assert_allclose(np.asarray(jmodel(jnp.asarray(x))),
                               tmodel(torch.from_numpy(x)).detach().numpy(), rtol=RTOL, atol=ATOL)
    assert int(jmodel.num_batches_tracked) == 6


def test_plain_jit_buffer_write_is_reported() -> None:
    jmodel = JnnRunningMean()
    x = jnp.asarray(_xy(0)[0])
    try:
        with pytest.raises(RuntimeError, match="jnn.compile"):
            jax.jit(lambda x: jmodel(x))(x)
        assert not isinstance(jmodel.running_mean, jax.core.Tracer)
    finally:
        jmodel.running_mean = jnp.zeros(OUT)


# -- randomness under compile -------------------------------------------------------------------


def test_dropout_under_compile_draws_fresh_masks_and_reseeds() -> None:
    _, jmodel = _dropout_mlp()
    predict = jnn.compile(lambda x: jmodel(x))
    x = jnp.asarray(_xy(0)[0])

    def draws(seed: int) -> list[np.ndarray]:
        jnn.manual_seed(seed)
        return [np.asarray(predict(x)) for _ in range(3)]

    first = draws(7)
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[1], first[2])
    for a, b in zip(first, draws(7)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], draws(8)[0])
    assert predict.trace_count == 1


def _dropout_training_run(mode: str) -> list[tuple[float, np.ndarray]]:
    _, jmodel = _dropout_mlp()
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.0)  # lr 0: only the mask changes

    def by_closure(x: jax.Array, y: jax.Array) -> Any:
        def closure() -> Any:
            jopt.zero_grad()
            out = jmodel(x)
            return F.mse_loss(out, y), out

        return jopt.step(closure)

    def by_backward(x: jax.Array, y: jax.Array) -> Any:
        jopt.zero_grad()
        result = jnn.autograd.backward(lambda: F.mse_loss(jmodel(x), y))
        jopt.step()
        return result

    step = {"closure": by_closure, "backward": by_backward,
            "compiled": jnn.compile(by_closure)}[mode]
    x, y = map(jnp.asarray, _xy(0))
    jnn.manual_seed(3)
    results = []
    for _ in range(4):
        out = step(x, y)
        results.append((float(out[0]), np.asarray(out[1])) if isinstance(out, tuple)
                       else (float(out), None))
    return results


def test_dropout_training_draws_fresh_masks_alike_in_every_mode() -> None:
    runs = {mode: _dropout_training_run(mode) for mode in ("closure", "backward", "compiled")}
    outs = [out for _, out in runs["compiled"]]
    for a, b in zip(outs, outs[1:]):  # same input, same weights: only the mask differs
        assert not np.array_equal(a, b)
    # One key per forward in every mode (backward's dry run does not consume one), so a
    # seed reproduces the same run eagerly and compiled.
    for mode in ("closure", "backward"):
        np.testing.assert_allclose([loss for loss, _ in runs[mode]],
                                   [loss for loss, _ in runs["compiled"]], rtol=RTOL)


def test_plain_jit_dropout_needs_a_key() -> None:
    _, jmodel = _dropout_mlp()
    x = jnp.asarray(_xy(0)[0])

    with pytest.raises(RuntimeError, match=r"jnn's global random generator was used inside a "
                                           r"JAX transformation .*use_key"):
        jax.jit(lambda x: jmodel(x))(x)

    @jax.jit
    def with_key(model: nn.Module, x: jax.Array, key: jax.Array) -> jax.Array:
        with jnn.random.use_key(key):
            return model(x)

    key = jax.random.key(0)
    a = with_key(jmodel, x, key)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(with_key(jmodel, x, key)))
    assert not np.array_equal(np.asarray(a), np.asarray(with_key(jmodel, x, jax.random.key(1))))
    with jnn.random.use_key(key):  # the same key eagerly gives the same mask
        np.testing.assert_allclose(np.asarray(jmodel(x)), np.asarray(a), rtol=RTOL, atol=ATOL)
    jmodel.eval()  # no randomness in eval mode: plain jit works
    jax.jit(lambda x: jmodel(x))(x)


_REBIND_PROGRAM = '''
import jax.numpy as jnp
import jnn
import jnn.nn as nn

model = nn.Linear(3, 1)
opt = jnn.optim.SGD(model.parameters(), lr=0.1)


@jnn.compile
def step(x):
    def closure():
        opt.zero_grad()
        return (model(x) ** 2).mean()

    return opt.step(closure)
'''


def test_rebinding_the_globals_a_compiled_step_names_trains_the_new_objects() -> None:
    # A notebook habit: re-create the model and optimizer, call the same compiled step.
    ns: dict = {}
    exec(_REBIND_PROGRAM, ns)  # noqa: S102 - a fixed program: its globals are the subject
    x = jnp.ones((4, 3))
    ns["step"](x)
    old_model = ns["model"]
    exec("model = nn.Linear(3, 1); opt = jnn.optim.SGD(model.parameters(), lr=0.1)", ns)
    before_new = np.asarray(ns["model"].weight.data)
    before_old = np.asarray(old_model.weight.data)
    ns["step"](x)
    assert not np.allclose(np.asarray(ns["model"].weight.data), before_new)
    np.testing.assert_array_equal(np.asarray(old_model.weight.data), before_old)


def test_error_in_a_compiled_step_has_torchs_text_alone() -> None:
    """An error raised while jnn.compile traces a step reads as torch's: the text alone,
    without the note JAX adds when an exception leaves jax.jit (pytest's ``match`` reads
    notes, so torch's anchored regexes must match)."""
    with pytest.raises(RuntimeError) as expected:
        torch.nn.Linear(4, 16)(torch.ones(8, 3))
    model = nn.Linear(4, 16)
    step = jnn.compile(lambda x: model(x).sum())
    with pytest.raises(RuntimeError, match=f"^{re.escape(str(expected.value))}$") as info:
        step(jnp.ones((8, 3)))
    assert not getattr(info.value, "__notes__", None)
    # a training step's first call is traced abstractly first (jax.eval_shape): the same
    opt = jnn.optim.Adam(model.parameters())

    @jnn.compile
    def train(x):
        def closure():
            opt.zero_grad()
            return model(x).sum()
        return opt.step(closure)

    with pytest.raises(RuntimeError, match=f"^{re.escape(str(expected.value))}$") as info:
        train(jnp.ones((8, 3)))
    assert not getattr(info.value, "__notes__", None)


# -- packing: many small parameters -----------------------------------------------------------


def _deep_twins(layers: int = 12) -> tuple[torch.nn.Module, nn.Module]:
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(*[m for _ in range(layers)
                                   for m in (torch.nn.Linear(3, 3), torch.nn.Tanh())])
    jmodel = nn.Sequential(*[m for _ in range(layers) for m in (nn.Linear(3, 3), nn.Tanh())])
    jmodel.load_state_dict({k: jnp.asarray(v.numpy()) for k, v in tmodel.state_dict().items()})
    return tmodel, jmodel


@pytest.mark.parametrize("make", [
    lambda t, p: t.optim.Adam(p, lr=1e-2, weight_decay=0.1),
    lambda t, p: t.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
], ids=["adam", "sgd-nesterov"])
def test_many_small_parameters_pack_into_one_buffer_and_match_torch(make: Any) -> None:
    """jnn's optimizers update small parameters as one vector, so their state travels in
    one buffer per dtype (XLA folds the slices): the numbers are torch's.  The last layer
    joins the optimizer late (``add_param_group``), so Adam's step counts differ between
    parameters inside that one vector."""
    tmodel, jmodel = _deep_twins()
    x, y = np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)
    head = lambda m: list(m.parameters())[-2:]  # noqa: E731
    topt = make(torch, list(tmodel.parameters())[:-2])
    jopt = make(jnn, list(jmodel.parameters())[:-2])
    step = _compiled_train_step(jmodel, jopt)
    for i in range(4):
        if i == 2:
            topt.add_param_group({"params": head(tmodel)})
            jopt.add_param_group({"params": head(jmodel)})
        tloss = _torch_train_step(tmodel, topt, x, y)
        np.testing.assert_allclose(float(step(jnp.asarray(x), jnp.asarray(y))), tloss,
                                   rtol=RTOL, atol=ATOL, err_msg=f"step {i}")
    assert [dtype for dtype, _ in step._store.plan.buffers] == [jnp.float32]
    assert_state_dicts_match(topt.state_dict(), jopt.state_dict())
    for tp, jp in zip(tmodel.parameters(), jmodel.parameters()):
        np.testing.assert_allclose(np.asarray(jp.data), tp.detach().numpy(), rtol=RTOL,
                                   atol=ATOL)


def test_a_first_step_packs_state_on_the_host_without_compiling_a_packing_program(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiling the program that packs a new plan's arrays cost the probe's first step
    0.5 s (600 arrays); the first packs are made with numpy (the same bits) and the loop
    matches torch.  Past the host's byte budget (or for values numpy cannot stand for:
    weakly typed, sharded, on another device) the program packs them, as before."""
    from jnn import _compile

    x, y = np.ones((2, 5), np.float32), np.zeros((2, 5), np.float32)
    for budget in (_compile._HOST_PACK_BYTES, 0):
        monkeypatch.setattr(_compile, "_HOST_PACK_BYTES", budget)
        torch.manual_seed(1)
        tmodel = torch.nn.Sequential(*[torch.nn.Linear(5, 5) for _ in range(7 + bool(budget))])
        jmodel = nn.Sequential(*[nn.Linear(5, 5) for _ in range(7 + bool(budget))])
        jmodel.load_state_dict({k: jnp.asarray(v.numpy())
                                for k, v in tmodel.state_dict().items()})
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-2)
        step = _compiled_train_step(jmodel, jnn.optim.Adam(jmodel.parameters(), lr=1e-2))
        for i in range(3):
            np.testing.assert_allclose(float(step(jnp.asarray(x), jnp.asarray(y))),
                                       _torch_train_step(tmodel, topt, x, y), rtol=RTOL,
                                       atol=ATOL, err_msg=f"step {i}, budget {budget}")
        assert step._store.plan.pack_jit._cache_size() == (budget == 0)
        for tp, jp in zip(tmodel.parameters(), jmodel.parameters()):
            np.testing.assert_allclose(np.asarray(jp.data), tp.detach().numpy(), rtol=RTOL,
                                       atol=ATOL)


def test_state_an_optax_transformation_updates_leaf_by_leaf_packs_in_small_buffers() -> None:
    """Per-leaf updates would make XLA compile every slice of one wide buffer separately
    (seconds for a thousand): such state packs at most _PACK_MEMBERS arrays per buffer."""
    import optax

    from jnn import _compile

    _, jmodel = _deep_twins()
    opt = jnn.optim.Optax(jmodel.parameters(), optax.adam(1e-2))
    step = _compiled_train_step(jmodel, opt)
    for _ in range(2):
        step(jnp.ones((2, 3)), jnp.zeros((2, 3)))
    buffers = step._store.plan.buffers
    assert len(buffers) > 1
    assert all(len(members) <= _compile._PACK_MEMBERS for _, members in buffers)


def test_python_randomness_read_by_a_compiled_step_is_reported_once():
    """jnn.compile draws Python random numbers once, at the trace (torch.compile draws
    per call): it says so, naming what it read, once."""
    import random

    model = nn.Linear(2, 1)

    @jnn.compile
    def step(x):
        return model(x).sum() * (2.0 if random.random() < 0.5 else 1.0)

    x = jnp.ones((1, 2))
    with pytest.warns(jnn.TraceTimeValueWarning, match="`random`"):
        step(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", jnn.TraceTimeValueWarning)
        step(x)


def test_a_python_random_generator_passed_as_an_argument_is_reported():
    """``step(x, rng)`` with a numpy Generator: a static argument, drawn once at the trace
    (every call saw the first draw, silently)."""
    model = nn.Linear(2, 1)

    @jnn.compile
    def step(x, rng):
        return model(x).sum() * float(rng.random())

    with pytest.warns(jnn.TraceTimeValueWarning, match="argument 1"):
        step(jnp.ones((1, 2)), np.random.default_rng(0))
