"""``jnn.func`` against ``torch.func``: functional_call, stack_module_state, the transforms,
and the three recipes of the module docstring (ensembling, per-example gradients, training
an ensemble with a vmapped pure optimizer rule)."""

from __future__ import annotations

import math
import re
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.func as tf

import jnn
import jnn.func as jf
import jnn.nn as nn
from jnn.optim.adam import adam_init, adam_update
from tests.nn._mirror import nested, pair, zoo

# torch.func's own internals warn (torch.jit.script deprecation, fx constant folding).
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning:torch.jit"),
              pytest.mark.filterwarnings("ignore:Attempted to insert a get_attr Node")]

RTOL = 1e-5
ATOL = 1e-6 * math.sqrt(8)  # fan-in of the widest layer in these models
K = 4
X = np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(3, 4)


def close(actual, expected, what: str = "") -> None:
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=RTOL, atol=ATOL, err_msg=what)


def random_state(torch_model: torch.nn.Module, seed: int) -> dict[str, np.ndarray]:
    """New float32 values for every parameter and buffer name (tied ones once)."""
    rng = np.random.default_rng(seed)
    named = [*torch_model.named_parameters(), *torch_model.named_buffers()]
    return {k: rng.standard_normal(tuple(v.shape)).astype(np.float32) for k, v in named}


def both(values: dict[str, np.ndarray]) -> tuple[dict, dict]:
    return ({k: torch.tensor(v) for k, v in values.items()},
            {k: jnp.asarray(v) for k, v in values.items()})


def same_error(torch_fn, jnn_fn) -> None:
    """Both raise the same exception type with the same message."""
    with pytest.raises(Exception) as t_err:  # noqa: B017 - the oracle decides the type
        torch_fn()
    with pytest.raises(type(t_err.value)) as j_err:
        jnn_fn()
    assert str(j_err.value) == str(t_err.value)


# -- functional_call -----------------------------------------------------------------------------

MODELS = {"mlp": lambda z: z.MLP(), "tied": lambda z: z.Tied(), "shared": lambda z: z.Shared(),
          "nested": nested}


@pytest.mark.parametrize("arch", MODELS)
def test_functional_call_matches_torch(arch):
    tm, jm = pair(MODELS[arch])
    x = X
    before = jm(jnp.asarray(x))
    t_vals, j_vals = both(random_state(tm, seed=1))
    t_params = {k: t_vals[k] for k, _ in tm.named_parameters()}
    cases = [
        (t_vals, j_vals),  # one dict with everything
        ((t_params, {k: v for k, v in t_vals.items() if k not in t_params}),  # (params, buffers)
         ({k: j_vals[k] for k in t_params},
          {k: v for k, v in j_vals.items() if k not in t_params})),
        ({k: t_vals[k] for k in list(t_params)[:2]},  # a few names; the rest from the module
         {k: j_vals[k] for k in list(t_params)[:2]}),
    ]
    for i, (t_arg, j_arg) in enumerate(cases):
        expected = tf.functional_call(tm, t_arg, (torch.tensor(x),))
        close(jf.functional_call(jm, j_arg, (jnp.asarray(x),)), expected, f"case {i}")
    close(jm(jnp.asarray(x)), before, "the module is unchanged")
    close(jf.functional_call(jm, {}, jnp.asarray(x)), before, "a non-tuple args")


def test_functional_call_tie_weights():
    tm, jm = pair(lambda z: z.Tied())
    rng = np.random.default_rng(2)
    a, b = (rng.standard_normal((4, 4)).astype(np.float32) for _ in range(2))
    xt, xj = torch.tensor(X), jnp.asarray(X)
    for given in ({"enc.weight": a}, {"dec.weight": a}, {"enc.weight": a, "dec.weight": b}):
        t_given, j_given = both(given)
        for tie in (True, False):
            if tie and len(given) == 2:
                same_error(partial(tf.functional_call, tm, t_given, xt, tie_weights=True),
                           partial(jf.functional_call, jm, j_given, xj, tie_weights=True))
                continue
            expected = tf.functional_call(tm, t_given, xt, tie_weights=tie)
            close(jf.functional_call(jm, j_given, xj, tie_weights=tie), expected,
                  f"{sorted(given)} tie_weights={tie}")
    # the same array under both names is not a conflict
    t_given, j_given = both({"enc.weight": a})
    t_given["dec.weight"], j_given["dec.weight"] = t_given["enc.weight"], j_given["enc.weight"]
    close(jf.functional_call(jm, j_given, xj), tf.functional_call(tm, t_given, xt))


def _two_names_one_buffer(framework: str):
    """Buffers ``a`` and ``c`` are one tensor (torch ties them by identity)."""
    base, ones = ((torch.nn.Module, torch.ones) if framework == "torch"
                  else (nn.Module, jnp.ones))

    class TwoNames(base):
        def __init__(self):
            super().__init__()
            b = ones(3)
            self.register_buffer("a", b)
            self.register_buffer("c", b)

        def forward(self, x):
            return x + 2 * self.a + self.c

    return TwoNames()


def test_functional_call_tied_buffers_and_none():
    tm, jm = _two_names_one_buffer("torch"), _two_names_one_buffer("jnn")
    xt, xj = torch.tensor(X[0, :3]), jnp.asarray(X[0, :3])
    for tie in (True, False):
        close(jf.functional_call(jm, {"a": jnp.zeros(3)}, xj, tie_weights=tie),
              tf.functional_call(tm, {"a": torch.zeros(3)}, xt, tie_weights=tie))
    same_error(partial(tf.functional_call, tm, {"a": torch.zeros(3), "c": torch.ones(3)}, xt),
               partial(jf.functional_call, jm, {"a": jnp.zeros(3), "c": jnp.ones(3)}, xj))
    tl, jl = pair(lambda z: z.MyLinear(4, 3))  # a None value removes the parameter for the call
    close(jf.functional_call(jl, {"bias": None}, jnp.asarray(X)),
          tf.functional_call(tl, {"bias": None}, torch.tensor(X)))


def test_functional_call_strict_and_errors():
    tm, jm = pair(lambda z: z.MLP())
    t_vals, j_vals = both(random_state(tm, seed=3))
    xt, xj = torch.tensor(X), jnp.asarray(X)
    close(jf.functional_call(jm, j_vals, xj, strict=True),
          tf.functional_call(tm, t_vals, xt, strict=True))
    w = {"fc1.weight": np.zeros((8, 4), np.float32)}
    cases = [
        ({"fc1.weight": w["fc1.weight"]}, {"strict": True}),  # missing keys
        ({**random_state(tm, 3), "fc1.extra": np.zeros(1, np.float32)}, {"strict": True}),
        ({"nope.weight": np.zeros(1, np.float32)}, {}),  # no such submodule
        ({"fc1.in_features": np.zeros(1, np.float32)}, {}),  # not a tensor attribute
    ]
    for given, kw in cases:
        t_given, j_given = both(given)
        same_error(partial(tf.functional_call, tm, t_given, xt, **kw),
                   partial(jf.functional_call, jm, j_given, xj, **kw))
    t_w, j_w = both(w)
    for t_arg, j_arg in [((t_w, t_w), (j_w, j_w)), (3, 3), ([t_w, 3], [j_w, 3])]:
        same_error(partial(tf.functional_call, tm, t_arg, xt),
                   partial(jf.functional_call, jm, j_arg, xj))
    # an unknown top-level name is set for the call and ignored by forward (torch too)
    t_w["unused"], j_w["unused"] = torch.zeros(1), jnp.zeros(1)
    close(jf.functional_call(jm, j_w, xj), tf.functional_call(tm, t_w, xt))
    assert "unused" not in jm.__dict__


def _counter(framework: str):
    if framework == "torch":
        class Counter(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("count", torch.zeros(2))
                self.scale = torch.nn.Parameter(torch.ones(2))

            def forward(self, x):
                self.count.add_(1.0)  # in place, as BatchNorm's statistics
                return x * self.scale + self.count
    else:
        class Counter(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("count", jnp.zeros(2))
                self.scale = nn.Parameter(jnp.ones(2))

            def forward(self, x):
                self.count = self.count + 1.0
                return x * self.scale + self.count
    return Counter()


def test_functional_call_writes_buffer_updates_back():
    tm, jm = _counter("torch"), _counter("jnn")
    for wrap in (lambda d: d, lambda d: ({}, d)):
        t_b, j_b = both({"count": np.full(2, 5.0, np.float32)})
        expected = tf.functional_call(tm, wrap(t_b), torch.ones(2))
        out = jf.functional_call(jm, wrap(j_b), jnp.ones(2))
        close(out, expected)
        close(j_b["count"], t_b["count"], "the passed dict sees the update")
    close(jm.count, tm.count, "the module's own buffer is untouched")
    assert float(jm.count.sum()) == 0.0
    # under jit the dict passed in is the traced one: return it to get the update out
    f = jax.jit(lambda b, x: (jf.functional_call(jm, b, x), b))
    _, new = f({"count": jnp.full(2, 5.0)}, jnp.ones(2))
    close(new["count"], np.full(2, 6.0))


def test_functional_call_in_a_differentiated_closure():
    """Values that are the module's own Parameters get .grad, given or not (torch too)."""
    tm, jm = pair(lambda z: z.MLP())
    xt, xj = torch.tensor(X), jnp.asarray(X)
    t_given = {k: v for k, v in tm.named_parameters() if k.startswith("fc1")}
    (tf.functional_call(tm, t_given, xt) ** 2).sum().backward()
    j_given = {k: v for k, v in jm.named_parameters() if k.startswith("fc1")}
    jnn.autograd.backward(lambda: (jf.functional_call(jm, j_given, xj) ** 2).sum())
    for name, tp in tm.named_parameters():
        close(jm.get_parameter(name).grad, tp.grad, name)


# -- stack_module_state --------------------------------------------------------------------------


def _ensemble(build=lambda z: z.MLP()):
    pairs = [pair(build, seed=k) for k in range(K)]
    return [t for t, _ in pairs], [j for _, j in pairs]


def test_stack_module_state_matches_torch():
    t_models, j_models = _ensemble()
    t_params, t_buffers = tf.stack_module_state(t_models)
    j_params, j_buffers = jf.stack_module_state(j_models)
    for t_dict, j_dict in ((t_params, j_params), (t_buffers, j_buffers)):
        assert list(j_dict) == list(t_dict)
        for k in t_dict:
            assert j_dict[k].shape == tuple(t_dict[k].shape)
            close(j_dict[k], t_dict[k], k)
    t_tied, j_tied = _ensemble(lambda z: z.Tied())
    assert list(jf.stack_module_state(j_tied)[0]) == list(tf.stack_module_state(t_tied)[0])


def test_stack_module_state_errors():
    t_models, j_models = _ensemble()
    same_error(lambda: tf.stack_module_state([]), lambda: jf.stack_module_state([]))
    t_models[1].eval()
    j_models[1].eval()
    same_error(lambda: tf.stack_module_state(t_models), lambda: jf.stack_module_state(j_models))
    t_models[1].train()
    j_models[1].train()
    t_mixed, j_mixed = [t_models[0], zoo("torch").ReLU()], [j_models[0], zoo("jnn").ReLU()]
    same_error(lambda: tf.stack_module_state(t_mixed), lambda: jf.stack_module_state(j_mixed))
    t_models[2].fc2.bias.requires_grad_(False)
    j_models[2].fc2.bias.requires_grad_(False)
    same_error(lambda: tf.stack_module_state(t_models), lambda: jf.stack_module_state(j_models))


# -- the recipes ----------------------------------------------------------------------------------


def test_ensemble_vmap_equals_loop_and_torch():
    t_models, j_models = _ensemble()
    params, buffers = jf.stack_module_state(j_models)
    base = j_models[0]

    def fmodel(p, b, x):
        return jf.functional_call(base, (p, b), (x,))

    out = jax.vmap(fmodel, in_axes=(0, 0, None))(params, buffers, jnp.asarray(X))
    assert out.shape == (K, 3, 3)
    for k, m in enumerate(j_models):
        close(out[k], m(jnp.asarray(X)), f"model {k}")
    t_params, t_buffers = tf.stack_module_state(t_models)
    expected = tf.vmap(lambda p, b, x: tf.functional_call(t_models[0], (p, b), (x,)),
                       in_dims=(0, 0, None))(t_params, t_buffers, torch.tensor(X))
    close(jf.vmap(fmodel, in_dims=(0, 0, None))(params, buffers, jnp.asarray(X)), expected)


def test_per_example_gradients():
    tm, jm = pair(lambda z: z.MLP())
    rng = np.random.default_rng(4)
    xs = rng.standard_normal((5, 4)).astype(np.float32)
    ys = rng.standard_normal((5, 3)).astype(np.float32)

    def loss_of_params(p, x, y):  # one example
        return ((jf.functional_call(jm, p, (x,)) - y) ** 2).sum()

    params = {k: v.data for k, v in jm.named_parameters()}
    per_example = jf.vmap(jf.grad(loss_of_params), in_axes=(None, 0, 0))(
        params, jnp.asarray(xs), jnp.asarray(ys))
    for i in range(len(xs)):
        tm.zero_grad()
        ((tm(torch.tensor(xs[i])) - torch.tensor(ys[i])) ** 2).sum().backward()
        for name, tp in tm.named_parameters():
            assert per_example[name].shape == (5, *tp.shape)
            close(per_example[name][i], tp.grad, f"example {i}, {name}")


def _train_eagerly(model, optimizer, batches) -> None:
    for x, y in batches:
        xj, yj = jnp.asarray(x), jnp.asarray(y)

        def closure(xj=xj, yj=yj):
            optimizer.zero_grad()
            return ((model(xj) - yj) ** 2).mean()

        optimizer.step(closure)


def test_training_an_ensemble_with_vmapped_adam():
    t_models, j_models = _ensemble()
    rng = np.random.default_rng(5)
    batches = [(rng.standard_normal((3, 4)).astype(np.float32),  # X's shape: shared compiles
                rng.standard_normal((3, 3)).astype(np.float32)) for _ in range(3)]
    lr = 0.05

    # K models at once: vmapped gradients, vmapped pure Adam over K states, one jit.
    base = j_models[0]
    params, buffers = jf.stack_module_state(j_models)
    names = list(params)

    def loss(p, b, x, y):
        return ((jf.functional_call(base, (p, b), (x,)) - y) ** 2).mean()

    state = jax.vmap(lambda p: adam_init([p[n] for n in names]))(params)

    @jax.jit
    def step(params, state, x, y):
        grads = jax.vmap(jax.grad(loss), in_axes=(0, 0, None, None))(params, buffers, x, y)

        def update(p, g, s):
            new, s = adam_update([p[n] for n in names], [g[n] for n in names], s, lr=lr)
            return dict(zip(names, new)), s

        return jax.vmap(update)(params, grads, state)

    for x, y in batches:
        params, state = step(params, state, jnp.asarray(x), jnp.asarray(y))

    # The same, one model at a time: eager jnn.optim.Adam and torch.optim.Adam.
    for k, (tm, jm) in enumerate(zip(t_models, j_models)):
        _train_eagerly(jm, jnn.optim.Adam(jm.parameters(), lr=lr), batches)
        t_opt = torch.optim.Adam(tm.parameters(), lr=lr, foreach=False)
        for x, y in batches:
            t_opt.zero_grad()
            ((tm(torch.tensor(x)) - torch.tensor(y)) ** 2).mean().backward()
            t_opt.step()
        for name, tp in tm.named_parameters():
            close(params[name][k], jm.get_parameter(name).data, f"model {k} {name} vs jnn")
            close(params[name][k], tp, f"model {k} {name} vs torch")
        assert float(state.step[k]) == len(batches)


# -- transforms ---------------------------------------------------------------------------------


def _f(x, w):
    return (x.sin() if isinstance(x, torch.Tensor) else jnp.sin(x)) * w


def test_transforms_match_torch():
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    xt, wt, xj, wj = torch.tensor(x), torch.tensor(w), jnp.asarray(x), jnp.asarray(w)

    def scalar(a, b):
        return (_f(a, b) ** 2).sum()

    def with_aux(a, b):
        return scalar(a, b), _f(a, b)

    # jitted: one small program each is cheaper than JAX's op-by-op dispatch
    tg, tv = tf.grad_and_value(scalar, argnums=(0, 1))(xt, wt)
    jg, jv = jax.jit(jf.grad_and_value(scalar, argnums=(0, 1)))(xj, wj)
    close(jv, tv)
    close(jg[0], tg[0])
    close(jg[1], tg[1])
    tg, (tv, taux) = tf.grad_and_value(with_aux, has_aux=True)(xt, wt)
    jg, (jv, jaux) = jax.jit(jf.grad_and_value(with_aux, has_aux=True))(xj, wj)
    close(jg, tg)
    close(jaux, taux)
    tg, taux = tf.grad(with_aux, has_aux=True)(xt, wt)
    jg, jaux = jax.jit(jf.grad(with_aux, has_aux=True))(xj, wj)
    close(jg, tg)
    close(jax.jit(jf.jacrev(_f, argnums=1))(xj, wj), tf.jacrev(_f, argnums=1)(xt, wt))
    close(jax.jit(jf.jacfwd(_f))(xj, wj), tf.jacfwd(_f)(xt, wt))
    close(jax.jit(jf.hessian(scalar))(xj, wj), tf.hessian(scalar)(xt, wt))
    t_out, t_vjp = tf.vjp(_f, xt, wt)
    j_out, j_vjp = jf.vjp(_f, xj, wj)
    close(j_out, t_out)
    for a, b in zip(j_vjp(jnp.ones(3)), t_vjp(torch.ones(3))):
        close(a, b)
    for j_res, t_res in [(jf.jvp(_f, (xj, wj), (jnp.ones(3), jnp.zeros(3))),
                          tf.jvp(_f, (xt, wt), (torch.ones(3), torch.zeros(3)))),
                         (jf.linearize(_f, xj, wj)[1](jnp.ones(3), jnp.zeros(3)),
                          tf.linearize(_f, xt, wt)[1](torch.ones(3), torch.zeros(3)))]:
        for a, b in zip(j_res if isinstance(j_res, tuple) else (j_res,),
                        t_res if isinstance(t_res, tuple) else (t_res,)):
            close(a, b)
    # keyword arguments are not mapped (torch); jax.vmap would map them
    xs = rng.standard_normal((2, 3)).astype(np.float32)
    close(jf.vmap(_f)(jnp.asarray(xs), w=wj), tf.vmap(_f)(torch.tensor(xs), w=wt))
    assert jf.functionalize(_f) is _f


def test_transform_errors_match_torch():
    def f(x):
        return x

    for kw in ({"randomness": "sometimes"}, {"chunk_size": 0}):
        same_error(partial(tf.vmap, f, **kw), partial(jf.vmap, f, **kw))
    same_error(lambda: tf.jacrev(f, chunk_size=0), lambda: jf.jacrev(f, chunk_size=0))
    same_error(lambda: tf.jvp(f, [torch.ones(1)], [torch.ones(1)]),
               lambda: jf.jvp(f, [jnp.ones(1)], [jnp.ones(1)]))
    same_error(lambda: tf.functionalize(f, remove="x"), lambda: jf.functionalize(f, remove="x"))
    with pytest.raises(TypeError, match=re.escape("expects a jnn.nn.Module")):
        jf.functional_call(f, {}, ())
