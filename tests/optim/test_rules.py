"""The pure SGD / Adam / AdamW rules against torch.optim, step by step.

Each case runs 25 steps of the jnn rule and of the torch optimizer (single-tensor path,
``foreach=False``) on the same parameters and gradient sequence, and compares the parameters and
every state entry after every step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from jnn.optim.adam import AdamState, adam_init, adam_transform, adam_update
from jnn.optim.adamw import adamw_transform, adamw_update
from jnn.optim.sgd import SGDState, sgd_init, sgd_transform, sgd_update

STEPS = 25
SHAPES = [(3, 4), (5,), (2, 3, 2)]
TOL = {"rtol": 1e-5, "atol": 1e-6}


def _problem(seed: int, n_params: int = 3) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Parameters and a gradient sequence; gradient scales vary so AMSGrad's max matters."""
    rng = np.random.default_rng(seed)
    shapes = SHAPES[:n_params]
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [
        [(rng.uniform(0.1, 2.0) * rng.standard_normal(s)).astype(np.float32) for s in shapes]
        for _ in range(STEPS)
    ]
    return params, grads


def _torch_run(cls, params, grads, lrs=None, **kwargs):
    """Yield ``(params, state_per_param)`` as numpy after each torch step."""
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    opt = cls(tparams, foreach=False, **kwargs)
    for t, step_grads in enumerate(grads):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[t]
        for p, g in zip(tparams, step_grads):
            p.grad = torch.tensor(g)
        opt.step()
        states = [
            {k: None if v is None else v.detach().numpy().copy() for k, v in opt.state[p].items()}
            for p in tparams
        ]
        yield [p.detach().numpy().copy() for p in tparams], states


def _close(actual, expected, what: str) -> None:
    np.testing.assert_allclose(np.asarray(actual), expected, err_msg=what, **TOL)


def _check_sgd(t, new_params, state: SGDState, torch_params, torch_states, momentum: bool):
    for i, (p, tp, ts) in enumerate(zip(new_params, torch_params, torch_states)):
        _close(p, tp, f"step {t} param {i}")
        if momentum:
            _close(state.momentum_buffer[i], ts["momentum_buffer"], f"step {t} buffer {i}")
        else:
            assert ts.get("momentum_buffer") is None


def _check_adam(t, new_params, state: AdamState, torch_params, torch_states, amsgrad: bool):
    for i, (p, tp, ts) in enumerate(zip(new_params, torch_params, torch_states)):
        _close(p, tp, f"step {t} param {i}")
        assert state.step.dtype == jnp.float32 and float(state.step) == float(ts["step"])
        _close(state.exp_avg[i], ts["exp_avg"], f"step {t} exp_avg {i}")
        _close(state.exp_avg_sq[i], ts["exp_avg_sq"], f"step {t} exp_avg_sq {i}")
        if amsgrad:
            _close(state.max_exp_avg_sq[i], ts["max_exp_avg_sq"], f"step {t} max_exp_avg_sq {i}")
        else:
            assert state.max_exp_avg_sq is None and "max_exp_avg_sq" not in ts


# One line per configuration: torch's constructor keyword arguments.
SGD_CASES = {
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.1, momentum=0.9),
    "dampening": dict(lr=0.1, momentum=0.9, dampening=0.3),
    "nesterov": dict(lr=0.1, momentum=0.9, nesterov=True),
    "weight_decay": dict(lr=0.1, weight_decay=0.05),
    "maximize": dict(lr=0.1, maximize=True),
    "all": dict(lr=0.05, momentum=0.8, dampening=0.1, weight_decay=0.01, maximize=True),
    "nesterov_wd": dict(lr=0.05, momentum=0.5, nesterov=True, weight_decay=0.1, maximize=True),
}

ADAM_CASES = {
    "plain": dict(lr=1e-2),
    "weight_decay": dict(lr=1e-2, weight_decay=0.1),
    "amsgrad": dict(lr=1e-2, amsgrad=True),
    "maximize": dict(lr=1e-2, maximize=True),
    "eps": dict(lr=1e-2, eps=1e-1),
    "betas": dict(lr=1e-2, betas=(0.3, 0.8)),  # lerp weight 0.7: ATen's second formula
    "all": dict(
        lr=3e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, amsgrad=True, maximize=True
    ),
}

ADAMW_CASES = {
    "plain": dict(lr=1e-2),
    "amsgrad": dict(lr=1e-2, amsgrad=True),
    "weight_decay": dict(lr=1e-2, weight_decay=0.3),
    "no_weight_decay": dict(lr=1e-2, weight_decay=0.0),
    "all": dict(lr=3e-2, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True, maximize=True),
}


def _adam_kwargs(kwargs: dict) -> dict:
    """torch constructor kwargs -> rule kwargs (``betas`` splits into ``beta1``, ``beta2``)."""
    out = dict(kwargs)
    out["beta1"], out["beta2"] = out.pop("betas", (0.9, 0.999))
    return out


@pytest.mark.parametrize("kwargs", SGD_CASES.values(), ids=SGD_CASES.keys())
def test_sgd_matches_torch(kwargs):
    params, grads = _problem(0)
    momentum = kwargs.get("momentum", 0) != 0
    jparams = [jnp.asarray(p) for p in params]
    state = sgd_init(jparams)
    torch_run = _torch_run(torch.optim.SGD, params, grads, **kwargs)
    for t, (step_grads, (tp, ts)) in enumerate(zip(grads, torch_run)):
        jgrads = [jnp.asarray(g) for g in step_grads]
        jparams, state = sgd_update(jparams, jgrads, state, step=t, **kwargs)
        _check_sgd(t, jparams, state, tp, ts, momentum)


@pytest.mark.parametrize("kwargs", ADAM_CASES.values(), ids=ADAM_CASES.keys())
def test_adam_matches_torch(kwargs):
    params, grads = _problem(1)
    amsgrad = kwargs.get("amsgrad", False)
    jparams = [jnp.asarray(p) for p in params]
    state = adam_init(jparams, amsgrad=amsgrad)
    torch_run = _torch_run(torch.optim.Adam, params, grads, **kwargs)
    for t, (step_grads, (tp, ts)) in enumerate(zip(grads, torch_run)):
        jgrads = [jnp.asarray(g) for g in step_grads]
        jparams, state = adam_update(jparams, jgrads, state, **_adam_kwargs(kwargs))
        _check_adam(t, jparams, state, tp, ts, amsgrad)


@pytest.mark.parametrize("kwargs", ADAMW_CASES.values(), ids=ADAMW_CASES.keys())
def test_adamw_matches_torch(kwargs):
    params, grads = _problem(2, n_params=2)
    amsgrad = kwargs.get("amsgrad", False)
    jparams = [jnp.asarray(p) for p in params]
    state = adam_init(jparams, amsgrad=amsgrad)
    torch_run = _torch_run(torch.optim.AdamW, params, grads, **kwargs)
    for t, (step_grads, (tp, ts)) in enumerate(zip(grads, torch_run)):
        jgrads = [jnp.asarray(g) for g in step_grads]
        jparams, state = adamw_update(jparams, jgrads, state, **_adam_kwargs(kwargs))
        _check_adam(t, jparams, state, tp, ts, amsgrad)


# The jit test: lr is a traced argument (so are SGD's momentum and dampening, with the static
# has_momentum flag); it changes mid-run and the rule must not re-trace.
JIT_CASES = {
    "sgd": (torch.optim.SGD, dict(momentum=0.9, dampening=0.2, weight_decay=0.01)),
    "adam": (torch.optim.Adam, dict(weight_decay=0.01, amsgrad=True)),
    "adamw": (torch.optim.AdamW, dict(weight_decay=0.1)),
}


@pytest.mark.parametrize("name", JIT_CASES.keys())
def test_jit_traced_lr_traces_once(name):
    cls, kwargs = JIT_CASES[name]
    params, grads = _problem(3)
    lrs = [0.05 if t < 10 else 0.01 for t in range(STEPS)]
    traces = 0

    if name == "sgd":
        init = sgd_init

        def rule(params, grads, state, lr, t):
            nonlocal traces
            traces += 1
            return sgd_update(
                params,
                grads,
                state,
                lr=lr,
                momentum=jnp.float32(0.9),
                dampening=jnp.float32(0.2),
                weight_decay=0.01,
                step=t,
                has_momentum=True,
            )

        check = _check_sgd
    else:
        amsgrad = kwargs.get("amsgrad", False)
        update = adam_update if name == "adam" else adamw_update

        def init(params):
            return adam_init(params, amsgrad=amsgrad)

        def rule(params, grads, state, lr, t):
            nonlocal traces
            traces += 1
            return update(params, grads, state, lr=lr, **_adam_kwargs(kwargs))

        check = _check_adam

    jitted = jax.jit(rule)
    jparams = [jnp.asarray(p) for p in params]
    state = init(jparams)
    structure = True if name == "sgd" else kwargs.get("amsgrad", False)
    torch_run = _torch_run(cls, params, grads, lrs=lrs, lr=lrs[0], **kwargs)
    for t, (step_grads, (tp, ts)) in enumerate(zip(grads, torch_run)):
        jgrads = [jnp.asarray(g) for g in step_grads]
        jparams, state = jitted(jparams, jgrads, state, jnp.float32(lrs[t]), jnp.int32(t))
        check(t, jparams, state, tp, ts, structure)
    assert traces == 1


# The optax factories run the same rules over a pytree; updates are ``new - old``, whose
# rounding (one float32 ulp of the parameter) is well inside the tolerance.
TRANSFORM_CASES = {
    "sgd": (sgd_transform, torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.2)),
    "adam": (adam_transform, torch.optim.Adam, dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    "adamw": (adamw_transform, torch.optim.AdamW, dict(lr=1e-2, betas=(0.8, 0.99))),
}


@pytest.mark.parametrize("name", TRANSFORM_CASES.keys())
def test_optax_transform_matches_torch(name):
    factory, cls, kwargs = TRANSFORM_CASES[name]
    params, grads = _problem(4, n_params=2)
    tx = factory(**kwargs)
    tree = {"a": jnp.asarray(params[0]), "b": jnp.asarray(params[1])}
    state = tx.init(tree)
    for t, (step_grads, (tp, _)) in enumerate(zip(grads, _torch_run(cls, params, grads, **kwargs))):
        updates, state = tx.update({"a": step_grads[0], "b": step_grads[1]}, state, tree)
        tree = optax.apply_updates(tree, updates)
        _close(tree["a"], tp[0], f"step {t} a")
        _close(tree["b"], tp[1], f"step {t} b")


def test_sgd_transform_without_params():
    tx = sgd_transform(0.5)
    updates, _ = tx.update({"w": jnp.ones(2)}, tx.init({"w": jnp.zeros(2)}))
    np.testing.assert_array_equal(updates["w"], [-0.5, -0.5])
    with pytest.raises(ValueError, match="call `update\\(grads, state, params\\)`"):
        tx = adamw_transform()
        tx.update({"w": jnp.ones(2)}, tx.init({"w": jnp.zeros(2)}))


def test_structural_flags_required_for_array_hyperparameters():
    params = [jnp.ones(2)]
    with pytest.raises(TypeError, match="has_momentum=True"):
        sgd_update(params, params, sgd_init(params), lr=0.1, momentum=jnp.float32(0.9), step=0)
    with pytest.raises(TypeError, match="has_weight_decay=True"):
        adam_update(params, params, adam_init(params), lr=0.1, weight_decay=jnp.float32(0.1))
    with pytest.raises(ValueError, match="needs step="):
        sgd_update(params, params, sgd_init(params), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="adam_init\\(params, amsgrad=True\\)"):
        adam_update(params, params, adam_init(params), lr=0.1, amsgrad=True)


def test_sgd_without_momentum_accepts_no_buffers():
    params = [jnp.ones(2)]
    new, state = sgd_update(params, params, SGDState(momentum_buffer=None), lr=0.5)
    np.testing.assert_array_equal(new[0], [0.5, 0.5])
    assert state.momentum_buffer is None


def test_low_precision_params_keep_their_dtype_under_float32_hyperparameters():
    params = [jnp.ones(3, jnp.bfloat16)]
    lr = jnp.float32(1e-2)
    new, state = adam_update(params, params, adam_init(params, amsgrad=True), lr=lr, amsgrad=True)
    assert new[0].dtype == jnp.bfloat16 and state.step.dtype == jnp.float32
    assert all(f[0].dtype == jnp.bfloat16 for f in state[1:])
    new, state = sgd_update(params, params, sgd_init(params), lr=lr, momentum=0.9, step=0)
    assert new[0].dtype == state.momentum_buffer[0].dtype == jnp.bfloat16


# -- the multi-tensor path: small parameters updated as one vector --------------------------

MIXED_SHAPES = [(3, 4), (5,), (), (130, 130), (2, 3, 2), (7,)]  # one above the limit (16,900)


def _mixed(seed: int, dtypes=(np.float32,)) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    params, grads = [], []
    for i, s in enumerate(MIXED_SHAPES):
        dtype = dtypes[i % len(dtypes)]
        params.append(jnp.asarray(rng.standard_normal(s), dtype))
        grads.append(jnp.asarray(rng.standard_normal(s), dtype))
    return params, grads


def _one_by_one(monkeypatch, fn):
    from jnn.optim import optimizer

    with monkeypatch.context() as m:
        m.setattr(optimizer, "MULTI_TENSOR_LIMIT", -1)  # every parameter updated alone
        return fn()


@pytest.mark.parametrize("dtypes", [(np.float32,), (np.float32, jnp.bfloat16)])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_multi_tensor_is_the_per_parameter_rule_bit_for_bit(monkeypatch, dtypes, amsgrad):
    """Concatenated per dtype, each element sees the same operations and its own
    parameter's bias corrections (per-parameter step counts that differ, as after a
    parameter joined late): the same bits as updating each parameter alone."""
    params, grads = _mixed(0, dtypes)
    rng = np.random.default_rng(1)
    state = AdamState(
        jnp.asarray(np.arange(len(params)) * 3.0, jnp.float32),
        [jnp.asarray(0.1 * rng.standard_normal(p.shape), p.dtype) for p in params],
        [jnp.asarray(rng.uniform(0, 0.1, p.shape), p.dtype) for p in params],
        [jnp.asarray(rng.uniform(0, 0.2, p.shape), p.dtype) for p in params] if amsgrad else None,
    )

    def run():
        return jax.jit(lambda p, g, s: adam_update(p, g, s, lr=1e-2, weight_decay=0.1,
                                                   amsgrad=amsgrad))(params, grads, state)

    together, alone = run(), _one_by_one(monkeypatch, run)
    for a, b in zip(jax.tree_util.tree_leaves(together), jax.tree_util.tree_leaves(alone)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))


@pytest.mark.parametrize("kwargs", [{"momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
                                    {"momentum": 0.0}])
@pytest.mark.parametrize("step", [0, 1])
def test_sgd_multi_tensor_is_the_per_parameter_rule_bit_for_bit(monkeypatch, kwargs, step):
    params, grads = _mixed(2, (np.float32, jnp.bfloat16))
    state = sgd_init(params)

    def run():
        return jax.jit(lambda p, g, s: sgd_update(p, g, s, lr=0.1, step=step, **kwargs)
                       )(params, grads, state)

    together, alone = run(), _one_by_one(monkeypatch, run)
    for a, b in zip(jax.tree_util.tree_leaves(together), jax.tree_util.tree_leaves(alone)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))
