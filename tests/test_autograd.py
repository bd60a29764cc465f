"""``jnn.autograd`` against torch.autograd: ``.grad`` accumulation, ``inputs=``, grad mode.

Each test builds the same small network in torch and jnn (an unused submodule and a buffer
included), runs the torch idiom (``loss.backward()``) and the jnn one (``backward(closure)``), and
compares every ``.grad`` -- including which ones stay ``None``.
"""

from __future__ import annotations

import inspect
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
    batches,
    copy_weights,
    to_numpy,
)

tF = torch.nn.functional


class TorchNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(IN, HIDDEN)
        self.fc2 = torch.nn.Linear(HIDDEN, OUT)
        self.unused = torch.nn.Linear(2, 2)
        self.register_buffer("scale", torch.tensor(2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.tanh(self.fc1(x))) * self.scale


class JnnNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(IN, HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, OUT)
        self.unused = nn.Linear(2, 2)
        self.register_buffer("scale", jnp.asarray(2.0))

    def forward(self, x: jax.Array) -> jax.Array:
        return self.fc2(jnp.tanh(self.fc1(x))) * self.scale


def _twins() -> tuple[TorchNet, JnnNet]:
    torch.manual_seed(0)
    tnet, jnet = TorchNet(), JnnNet()
    copy_weights(tnet, jnet)
    return tnet, jnet


def _data(i: int = 0) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = batches()
    return xs[i, 0], ys[i, 0]


def _torch_loss(tnet: TorchNet, i: int = 0) -> torch.Tensor:
    x, y = _data(i)
    return tF.mse_loss(tnet(torch.from_numpy(x)), torch.from_numpy(y))


def _closure(jnet: JnnNet, i: int = 0) -> Any:
    x, y = _data(i)
    return lambda: F.mse_loss(jnet(jnp.asarray(x)), jnp.asarray(y))


def _assert_grads_match(tnet: TorchNet, jnet: JnnNet, where: str = "") -> None:
    assert_params_match(list(tnet.named_parameters()), list(jnet.named_parameters()), where)


# -- backward -------------------------------------------------------------------------------


def test_backward_returns_the_loss_and_fills_grad() -> None:
    tnet, jnet = _twins()
    tloss = _torch_loss(tnet)
    tloss.backward()
    jloss = jnn.autograd.backward(_closure(jnet))
    np.testing.assert_allclose(float(jloss), tloss.item(), rtol=RTOL)
    _assert_grads_match(tnet, jnet)
    # inputs=None reaches exactly what torch reaches: the unused submodule keeps None.
    assert tnet.unused.weight.grad is None and jnet.unused.weight.grad is None
    assert jnet.fc1.weight.grad is not None


def test_backward_accumulates() -> None:
    tnet, jnet = _twins()
    for i in (0, 1):  # two different batches, grads summed
        _torch_loss(tnet, i).backward()
        jnn.autograd.backward(_closure(jnet, i))
        _assert_grads_match(tnet, jnet, f"after backward {i}")
    # And the same batch twice is exactly twice one backward.
    jnet.zero_grad()
    jnn.autograd.backward(_closure(jnet))
    once = np.asarray(jnet.fc1.weight.grad)
    jnn.autograd.backward(_closure(jnet))
    np.testing.assert_allclose(np.asarray(jnet.fc1.weight.grad), 2 * once, rtol=1e-6)


def test_inputs_restricts_the_parameters() -> None:
    tnet, jnet = _twins()
    _torch_loss(tnet).backward(inputs=[tnet.fc1.weight, tnet.fc2.bias])
    jnn.autograd.backward(_closure(jnet), inputs=[jnet.fc1.weight, jnet.fc2.bias])
    _assert_grads_match(tnet, jnet)
    assert jnet.fc1.bias.grad is None and jnet.fc2.weight.grad is None


def test_inputs_unreached_by_the_loss_keep_none() -> None:
    tnet, jnet = _twins()
    _torch_loss(tnet).backward(inputs=[tnet.unused.weight, tnet.fc2.weight])
    jnn.autograd.backward(_closure(jnet), inputs=[jnet.unused.weight, jnet.fc2.weight])
    _assert_grads_match(tnet, jnet)
    assert jnet.unused.weight.grad is None


def test_frozen_parameters_get_no_grad() -> None:
    tnet, jnet = _twins()
    tnet.fc1.requires_grad_(False)
    jnet.fc1.requires_grad_(False)
    _torch_loss(tnet).backward()
    jnn.autograd.backward(_closure(jnet))
    _assert_grads_match(tnet, jnet)
    assert jnet.fc1.weight.grad is None


def test_frozen_parameter_in_inputs_raises_like_torch() -> None:
    tnet, jnet = _twins()
    tnet.fc1.weight.requires_grad_(False)
    jnet.fc1.weight.requires_grad_(False)
    with pytest.raises(RuntimeError) as torch_error:
        _torch_loss(tnet).backward(inputs=[tnet.fc1.weight])
    with pytest.raises(RuntimeError, match=re.escape(str(torch_error.value))):
        jnn.autograd.backward(_closure(jnet), inputs=[jnet.fc1.weight])


def test_non_scalar_loss_raises_torchs_error() -> None:
    tnet, jnet = _twins()
    x = _data()[0]
    with pytest.raises(RuntimeError) as torch_error:
        tnet(torch.from_numpy(x)).backward()
    message = str(torch_error.value)
    assert message == "grad can be implicitly created only for scalar outputs"
    # the whole text, notes included (pytest matches them): no JAX traceback note
    with pytest.raises(RuntimeError, match=f"^{re.escape(message)}$"):
        jnn.autograd.backward(lambda: jnet(jnp.asarray(x)))
    assert jnet.fc1.weight.grad is None  # nothing accumulated


# -- grad mode -------------------------------------------------------------------------------

_NO_GRAD_MESSAGE = "element 0 of tensors does not require grad and does not have a grad_fn"


def test_backward_under_no_grad_raises_like_torch() -> None:
    tnet, jnet = _twins()
    with torch.no_grad():
        tloss = _torch_loss(tnet)
    with pytest.raises(RuntimeError, match=_NO_GRAD_MESSAGE):
        tloss.backward()
    with jnn.no_grad():
        with pytest.raises(RuntimeError, match=_NO_GRAD_MESSAGE):
            jnn.autograd.backward(_closure(jnet))
    assert jnet.fc1.weight.grad is None


@pytest.mark.parametrize("lib", [torch, jnn], ids=["torch", "jnn"])
def test_no_grad_enable_grad_set_grad_enabled_modes(lib: Any) -> None:
    @lib.no_grad()
    def inner() -> tuple[bool, bool]:
        with lib.enable_grad():
            enabled = lib.is_grad_enabled()
        return lib.is_grad_enabled(), enabled

    assert inner() == (False, True)
    assert lib.is_grad_enabled()
    with lib.set_grad_enabled(False):
        assert not lib.is_grad_enabled()
    assert lib.is_grad_enabled()
    lib.set_grad_enabled(False)  # as a function call, it sets the mode
    try:
        assert not lib.is_grad_enabled()
    finally:
        lib.set_grad_enabled(True)


@pytest.mark.parametrize("lib", [torch, jnn], ids=["torch", "jnn"])
@pytest.mark.parametrize(("mode", "outer", "inside"),
                         [("no_grad", True, False), ("enable_grad", False, True)])
def test_grad_modes_decorate_bare_and_called(lib: Any, mode: str, outer: bool,
                                             inside: bool) -> None:
    # torch 2: ``@torch.no_grad`` (no parentheses) is ``@torch.no_grad()``
    def probe(x: int = 1) -> tuple[bool, int]:
        """probe's docstring"""
        return lib.is_grad_enabled(), x

    for decorated in (getattr(lib, mode)(probe), getattr(lib, mode)()(probe)):
        assert decorated.__name__ == "probe" and decorated.__doc__ == "probe's docstring"
        assert decorated.__wrapped__ is probe
        with lib.set_grad_enabled(outer):
            assert decorated(x=3) == (inside, 3)
            assert lib.is_grad_enabled() is outer


@pytest.mark.parametrize("lib", [torch, jnn], ids=["torch", "jnn"])
def test_inference_mode_as_torch(lib: Any) -> None:
    """torchvision's reference evaluation loop runs under ``@torch.inference_mode()``."""
    def modes() -> tuple[bool, bool]:
        return lib.is_grad_enabled(), lib.is_inference_mode_enabled()

    with lib.inference_mode():
        assert modes() == (False, True)
        with lib.inference_mode(False):  # leaves inference mode: gradients on
            assert modes() == (True, False)
        assert modes() == (False, True)
    assert modes() == (True, False)
    with lib.no_grad(), lib.inference_mode(False):
        assert modes() == (True, False)

    @lib.inference_mode
    def bare() -> tuple[bool, bool]:
        return modes()

    @lib.inference_mode()
    def called(x: int) -> tuple[tuple[bool, bool], int]:
        return modes(), x

    def generate():
        yield modes()
        yield modes()

    assert bare() == (False, True) and called(2) == ((False, True), 2)
    assert list(lib.inference_mode()(generate)()) == [(False, True)] * 2
    assert modes() == (True, False)


def test_a_closure_under_inference_mode_raises_torchs_error_and_outputs_match() -> None:
    tnet, jnet = _twins()
    with torch.inference_mode():
        tloss = _torch_loss(tnet)
    with pytest.raises(RuntimeError, match=_NO_GRAD_MESSAGE):
        tloss.backward()
    with jnn.inference_mode():
        jloss = _closure(jnet)()
        with pytest.raises(RuntimeError, match=_NO_GRAD_MESSAGE):
            jnn.autograd.backward(_closure(jnet))
    np.testing.assert_allclose(float(jloss), float(tloss), rtol=1e-5)
    assert jnet.fc1.weight.grad is None


@pytest.mark.parametrize("lib", [torch, jnn], ids=["torch", "jnn"])
def test_grad_mode_decorators_restore_the_callers_mode(lib: Any) -> None:
    @lib.no_grad
    def recurse(n: int) -> bool:  # each call enters its own copy of the mode
        return recurse(n - 1) if n else lib.is_grad_enabled()

    assert recurse(3) is False and lib.is_grad_enabled()

    @lib.set_grad_enabled(False)  # building it sets the mode; decorating puts it back
    def disabled() -> bool:
        return lib.is_grad_enabled()

    assert lib.is_grad_enabled()
    assert disabled() is False and lib.is_grad_enabled()
    with lib.no_grad():
        assert lib.enable_grad(disabled)() is False and not lib.is_grad_enabled()


@pytest.mark.parametrize("lib", [torch, jnn], ids=["torch", "jnn"])
def test_a_decorated_generator_runs_under_the_mode_at_each_resumption(lib: Any) -> None:
    seen: list[Any] = []

    @lib.no_grad
    def generate() -> Any:
        try:
            sent = yield lib.is_grad_enabled()
            try:
                yield sent, lib.is_grad_enabled()
            except ValueError:
                yield "caught", lib.is_grad_enabled()
            yield "last"
            return "done"
        finally:
            seen.append(("finally", lib.is_grad_enabled()))

    with lib.no_grad():
        gen = generate()  # created under no_grad, resumed with gradients on
    assert inspect.isgenerator(gen)
    assert next(gen) is False and lib.is_grad_enabled()
    assert gen.send(5) == (5, False) and lib.is_grad_enabled()
    assert gen.throw(ValueError) == ("caught", False) and lib.is_grad_enabled()
    assert next(gen) == "last"
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done" and seen == [("finally", False)]
    closing = generate()
    next(closing)
    closing.close()  # the body's ``finally`` runs under the mode too
    assert seen[-1] == ("finally", False) and lib.is_grad_enabled()


@pytest.mark.parametrize("lib", [torch, jnn], ids=["torch", "jnn"])
def test_grad_mode_bad_arguments_raise_like_torch(lib: Any) -> None:
    def f() -> None:
        return None

    with pytest.raises(TypeError):
        lib.no_grad(f, 1)
    with pytest.raises(TypeError):
        lib.no_grad(None)
    with pytest.raises(TypeError):
        lib.set_grad_enabled()
    for bad, shown in [(1, "int"), ("yes", "str"), (np.bool_(False), "numpy.bool"),
                       (f, "function")]:
        with pytest.raises(TypeError, match=re.escape(
                f"set_grad_enabled(): argument 'enabled' (position 1) must be bool, not {shown}")):
            lib.set_grad_enabled(bad)
        assert lib.is_grad_enabled()
    with pytest.raises(TypeError, match="not callable"):
        lib.no_grad(3)()  # torch decorates anything; the call fails


def test_no_grad_outputs_carry_no_gradient() -> None:
    _, jnet = _twins()
    x = jnp.asarray(_data()[0])

    @jnn.no_grad()
    def predict(x: jax.Array) -> jax.Array:
        return jnet(x)

    # torch: the output has requires_grad=False; jnn: its gradient is zero.
    g = jax.grad(lambda x: predict(x).sum())(x)
    np.testing.assert_array_equal(np.asarray(g), 0.0)
    g = jax.grad(lambda x: jnet(x).sum())(x)
    assert np.abs(np.asarray(g)).sum() > 0


def test_parameters_used_only_under_no_grad_keep_none() -> None:
    tnet, jnet = _twins()
    x, y = _data()
    with torch.no_grad():
        th = torch.tanh(tnet.fc1(torch.from_numpy(x)))
    tF.mse_loss(tnet.fc2(th) * tnet.scale, torch.from_numpy(y)).backward()

    def closure() -> jax.Array:
        with jnn.no_grad():
            h = jnp.tanh(jnet.fc1(jnp.asarray(x)))
        return F.mse_loss(jnet.fc2(h) * jnet.scale, jnp.asarray(y))

    jnn.autograd.backward(closure)
    assert tnet.fc1.weight.grad is None
    _assert_grads_match(tnet, jnet)


# -- functional gradients ----------------------------------------------------------------------


def _value(leaf: Any) -> Any:
    return leaf.data if isinstance(leaf, nn.Parameter) else leaf


def test_grad_over_a_module_matches_torch() -> None:
    tnet, jnet = _twins()
    tnet.fc1.bias.requires_grad_(False)
    jnet.fc1.bias.requires_grad_(False)
    tloss = _torch_loss(tnet)
    tloss.backward()
    x, y = map(jnp.asarray, _data())

    def loss_fn(net: JnnNet, x: jax.Array, y: jax.Array) -> jax.Array:
        return F.mse_loss(net(x), y)

    value, grads = jnn.value_and_grad(loss_fn)(jnet, x, y)
    np.testing.assert_allclose(float(value), tloss.item(), rtol=RTOL)
    assert isinstance(grads, JnnNet)
    for name in ("fc1.weight", "fc2.weight", "fc2.bias"):
        np.testing.assert_allclose(
            np.asarray(_value(grads.get_parameter(name))),
            to_numpy(tnet.get_parameter(name).grad), rtol=RTOL, atol=ATOL, err_msg=name)
    assert _value(grads.fc1.bias) is None  # frozen
    assert _value(grads.scale) is None  # a buffer
    # Parameters the loss never reads get zeros, as torch.func.grad gives them.
    np.testing.assert_array_equal(np.asarray(_value(grads.unused.weight)), 0.0)
    # No .grad is touched by the functional form.
    assert all(p.grad is None for p in jnet.parameters())
    same = jnn.grad(loss_fn)(jnet, x, y)
    np.testing.assert_array_equal(np.asarray(_value(same.fc1.weight)),
                                  np.asarray(_value(grads.fc1.weight)))


def test_grad_with_aux_and_several_argnums() -> None:
    tnet, jnet = _twins()
    x, y = _data()
    tx = torch.from_numpy(x).requires_grad_(True)
    tout = tnet(tx)
    tF.mse_loss(tout, torch.from_numpy(y)).backward()

    def loss_fn(net: JnnNet, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        out = net(x)
        return F.mse_loss(out, jnp.asarray(y)), out

    (gnet, gx), out = jnn.grad(loss_fn, argnums=(0, 1), has_aux=True)(jnet, jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(out), tout.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(np.asarray(gx), tx.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(np.asarray(_value(gnet.fc2.weight)), tnet.fc2.weight.grad.numpy(),
                               rtol=RTOL, atol=ATOL)


def test_a_one_element_loss_of_any_shape_is_a_scalar_loss_as_torch():
    """torch's backward() takes any one-element loss (a Linear(2, 1) output of shape
    [1, 1]); more elements raise its error."""
    torch.manual_seed(0)
    tmodel = torch.nn.Linear(2, 1)
    jmodel = nn.Linear(2, 1)
    jmodel.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((1, 2)).astype(np.float32)
    tmodel(torch.from_numpy(x)).backward()
    out = jnn.autograd.backward(lambda: jmodel(jnp.asarray(x)))
    assert out.shape == (1, 1)
    for tp, jp in zip(tmodel.parameters(), jmodel.parameters()):
        np.testing.assert_allclose(np.asarray(jp.grad), tp.grad.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError) as expected:
        tmodel(torch.from_numpy(np.repeat(x, 2, 0))).backward()
    with pytest.raises(RuntimeError, match=re.escape(str(expected.value))):
        jnn.autograd.backward(lambda: jmodel(jnp.asarray(np.repeat(x, 2, 0))))


@pytest.mark.parametrize("loss", ["constant", "no_parameter", "frozen"])
def test_a_loss_no_trainable_parameter_reaches_raises_as_torch_and_changes_nothing(loss):
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    jmodel = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    jmodel.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    x = np.ones((3, 2), np.float32)
    losses = {"constant": (lambda m, t: torch.tensor(3.0) if t is torch else 3.0),
              "no_parameter": (lambda m, t: t.ones(2).sum() if t is torch else jnp.ones(2).sum()),
              "frozen": (lambda m, t: m(t.asarray(x) if t is jnp else torch.from_numpy(x)).sum())}
    if loss == "frozen":
        tmodel.requires_grad_(False)
        jmodel.requires_grad_(False)
    with pytest.raises(RuntimeError) as expected:
        losses[loss](tmodel, torch).backward()
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.1)
    before = {k: np.asarray(v) for k, v in jmodel.state_dict().items()}
    for run in (lambda c: jnn.autograd.backward(c), jopt.step):
        with pytest.raises(RuntimeError, match=re.escape(str(expected.value))):
            run(lambda: losses[loss](jmodel, jnp))
        after = jmodel.state_dict()  # nothing committed: running statistics included
        assert all(np.array_equal(before[k], np.asarray(after[k])) for k in before)
    assert all(p.grad is None for p in jmodel.parameters())


def test_a_closure_that_returns_none_gets_a_jnn_message():
    model = nn.Linear(2, 1)
    with pytest.raises(RuntimeError, match="the closure returned None.*return the loss"):
        jnn.optim.SGD(model.parameters(), lr=0.1).step(lambda: None)


@pytest.mark.parametrize("form", ["list", "triple", "single", "pair"])
@pytest.mark.parametrize("run", ["step", "compiled step", "backward"])
def test_step_returns_what_the_closure_returned_as_torch(form: str, run: str) -> None:
    """torch's ``step(closure)`` returns whatever the closure returned: a list ``[loss,
    out]``, a tuple of three, a 1-tuple (jnn raised JAX's concatenate error, or unwrapped
    the 1-tuple); its first element is the loss jnn differentiates."""
    torch.manual_seed(0)
    tmodel, jmodel = torch.nn.Linear(4, 2), nn.Linear(4, 2)
    jmodel.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.1)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    shape = {"list": lambda loss, o: [loss, o], "triple": lambda loss, o: (loss, o, 3),
             "single": lambda loss, o: (loss,), "pair": lambda loss, o: (loss, o)}[form]

    def closure(model, opt, lib, xs):
        opt.zero_grad()
        out = model(xs)
        loss = (out ** 2).mean()
        if lib is torch:
            loss.backward()
        return shape(loss, out)

    for _ in range(2):
        want = topt.step(lambda: closure(tmodel, topt, torch, torch.from_numpy(x)))
        if run == "backward":
            got = jnn.autograd.backward(lambda: closure(jmodel, jopt, jnn, jnp.asarray(x)))
            jopt.step()
        elif run == "step":
            got = jopt.step(lambda: closure(jmodel, jopt, jnn, jnp.asarray(x)))
        else:
            got = jnn.compile(lambda xs: jopt.step(lambda: closure(jmodel, jopt, jnn, xs)))(
                jnp.asarray(x))
        assert type(got) is type(want) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(np.asarray(g), np.asarray(
                w.detach() if isinstance(w, torch.Tensor) else w), rtol=1e-5, atol=1e-6)
    for (name, t), j in zip(tmodel.named_parameters(), jmodel.parameters(), strict=True):
        np.testing.assert_allclose(np.asarray(j.data), t.detach().numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=name)


@pytest.mark.parametrize("run", ["step", "backward"])
def test_a_complex_loss_raises_torchs_error_and_changes_nothing(run: str) -> None:
    tmodel = torch.nn.Linear(2, 1)
    with pytest.raises(RuntimeError) as expected:
        (tmodel(torch.ones(1, 2)).sum() * (1 + 1j)).backward()
    model = nn.Linear(2, 1)
    opt = jnn.optim.SGD(model.parameters(), lr=0.1)
    before = np.asarray(model.weight.data)
    go = opt.step if run == "step" else jnn.autograd.backward
    with pytest.raises(RuntimeError, match=f"^{re.escape(str(expected.value))}$"):
        go(lambda: model(jnp.ones((1, 2))).sum() * (1 + 1j))
    np.testing.assert_array_equal(np.asarray(model.weight.data), before)
    assert model.weight.grad is None


@pytest.mark.parametrize("route", ["internal", "public"])
def test_gradients_reach_only_what_the_loss_uses_on_both_transpose_routes(monkeypatch, route):
    """The linear program is transposed from jax.linearize's own jaxpr, or, where a JAX
    version builds that function otherwise, by jax.linear_transpose: the same gradients
    and the same parameters left without .grad (through detach) as torch."""
    if route == "public":
        monkeypatch.setattr(jnn.autograd, "_linear_program", lambda linear: None)
    torch.manual_seed(0)
    ta, tb = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)
    ja, jb = nn.Linear(3, 3), nn.Linear(3, 1)
    for t, j in ((ta, ja), (tb, jb)):
        j.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    tx = torch.from_numpy(x)
    (tb(ta(tx).detach()).pow(2).mean() + tb(tx).mean()).backward()
    jnn.autograd.backward(
        lambda: (jb(jnn.detach(ja(jnp.asarray(x)))) ** 2).mean() + jb(jnp.asarray(x)).mean())
    assert all(p.grad is None for p in ja.parameters())
    for tp, jp in zip(tb.parameters(), jb.parameters()):
        np.testing.assert_allclose(np.asarray(jp.grad), tp.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("read", ["float", "item"])
def test_an_eager_closure_reading_a_python_number_as_torch_code_does(read: str) -> None:
    """torch code logs inside its closure (``acc.append(float(out.mean()))``).  JAX refuses
    float() of a value it differentiates (while .item() works): jnn's error names the fix,
    and the failed step changes nothing; with .item() the steps are torch's."""
    torch.manual_seed(0)
    tm = torch.nn.Linear(3, 1)
    jm = nn.Linear(3, 1)
    jm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    topt, jopt = torch.optim.SGD(tm.parameters(), lr=0.1), jnn.optim.SGD(jm.parameters(), lr=0.1)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    tlog, jlog = [], []

    def closure(opt, model, log, x, number):
        def run():
            opt.zero_grad()
            out = model(x)
            log.append(number(out.mean()))
            loss = (out ** 2).mean()
            if model is tm:
                loss.backward()  # (torch's closure; jnn's step differentiates it)
            return loss
        return run

    if read == "float":
        before = [np.asarray(p.data) for p in jm.parameters()]
        with pytest.raises(RuntimeError, match=r"float\(x\).*Use x\.item\(\)"):
            jopt.step(closure(jopt, jm, jlog, jnp.asarray(x), float))
        for b, p in zip(before, jm.parameters()):
            np.testing.assert_array_equal(np.asarray(p.data), b)
            assert p.grad is None
        return
    for _ in range(4):
        tloss = topt.step(closure(topt, tm, tlog, torch.from_numpy(x), float))
        with warnings.catch_warnings():  # (op by op: a compiled step cannot read a value)
            warnings.simplefilter("ignore", jnn.ClosureCompileWarning)
            jloss = jopt.step(closure(jopt, jm, jlog, jnp.asarray(x), lambda v: v.item()))
        np.testing.assert_allclose(float(jloss), tloss.item(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(jlog, tlog, rtol=1e-5, atol=1e-6)
    for tp, jp in zip(tm.parameters(), jm.parameters()):
        np.testing.assert_allclose(np.asarray(jp.data), tp.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


CONCRETE_FORMS = {  # a closure that needs a value of a parameter, as torch code reads one
    "item": lambda p: p.sum().item(),
    "index_item": lambda p: p[0].item(),
    "branch": lambda p: 1.0 if bool((p > 0).all()) else 2.0,
}


@pytest.mark.parametrize("form", list(CONCRETE_FORMS))
def test_backward_without_inputs_runs_a_closure_that_needs_values(form: str) -> None:
    """backward(closure) finds the parameters a closure reads by an abstract dry run; one
    that needs a concrete value (`.item()`, a Python branch) is found by a concrete run
    instead, with its writes (dropout's key) undone: torch's gradients, one key drawn."""
    f = CONCRETE_FORMS[form]
    tp = torch.nn.Parameter(torch.tensor([0.7, 0.2]))
    ((tp ** 2).sum() * f(tp)).backward()
    jp = nn.Parameter(jnp.asarray([0.7, 0.2]))
    drop = nn.Dropout(0.5)
    jnn.manual_seed(3)
    drop(jnp.ones(2))  # one draw
    after_one = np.asarray(jax.random.key_data(jnn.random.default_generator.key))
    jnn.manual_seed(3)
    loss = jnn.autograd.backward(lambda: (drop(jp ** 2) * 0 + jp ** 2).sum() * f(jp))
    np.testing.assert_allclose(np.asarray(jp.grad), tp.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(float(loss), float((tp ** 2).sum() * f(tp)), rtol=1e-6)
    np.testing.assert_array_equal(
        np.asarray(jax.random.key_data(jnn.random.default_generator.key)), after_one)
