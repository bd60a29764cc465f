"""Modules as JAX pytrees: leaf order and key paths in torch's names, ``jit`` / ``grad`` /
``vmap`` / ``tree_map`` over a module compared with torch, tied parameters as one leaf,
re-tracing exactly when the static structure changes, and lazy unflattened modules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given

import jnn.nn as nn
from tests.nn._mirror import ARCH, build_arch, copy_weights, keystrs, leaf_names, nested, pair, zoo

X = np.linspace(-1.0, 1.0, 8, dtype=np.float32).reshape(2, 4)
RTOL, ATOL = 1e-5, 1e-6 * np.sqrt(8)  # fan-in of the widest layer


def torch_out(t, x=X):
    return t(torch.from_numpy(x)).detach().numpy()


def torch_grads(t, x=X):
    t.zero_grad()
    (t(torch.from_numpy(x)) ** 2).sum().backward()
    return {name: p.grad.numpy() for name, p in t.named_parameters()}


def loss(m, x):
    return (m(x) ** 2).sum()


GRAD = jax.jit(jax.grad(loss))  # one compile per architecture, not one per op


def close(a, b):
    # absolute error scales with the largest term summed (gradients cancel to small values)
    scale = max(1.0, float(np.abs(b).max()))
    np.testing.assert_allclose(np.asarray(a), b, rtol=RTOL, atol=ATOL * scale)


# -- leaves and key paths -------------------------------------------------------------------

MODELS = {
    "linear": lambda z: z.MyLinear(4, 3),
    "mlp": lambda z: z.MLP(),
    "tied": lambda z: z.Tied(),
    "shared": lambda z: z.Shared(),
    "nested": nested,
    "containers": lambda z: z.nn.Sequential(
        z.nn.ModuleList([z.MyLinear(1, 2), z.Norm(2)]),
        z.nn.ModuleDict({"b": z.nn.ParameterList([z.nn.Parameter(z.tensor(2))])})),
}


@pytest.mark.parametrize("arch", MODELS)
def test_leaves_and_key_paths_are_torch_names(arch):
    t, j = pair(MODELS[arch])
    expected = leaf_names(t)
    assert keystrs(j) == expected
    paths = [path for path, _ in jax.tree_util.tree_flatten_with_path(j)[0]]
    assert [jax.tree_util.keystr(p) for p in paths] == ["." + n for n in expected]
    assert all(len(p) == 1 and isinstance(p[0], jax.tree_util.GetAttrKey) for p in paths)
    leaves = jax.tree_util.tree_leaves(j)
    assert all(isinstance(leaf, jax.Array) for leaf in leaves)
    named = {**dict(t.named_parameters()), **dict(t.named_buffers())}
    for name, leaf in zip(expected, leaves):
        np.testing.assert_array_equal(np.asarray(leaf), named[name].detach().numpy())


def test_leaves_follow_state_dict_order_without_ties_or_scratch():
    t, j = pair(lambda z: z.nn.Sequential(z.MyLinear(4, 3), z.ReLU(), z.MyLinear(3, 2, False)))
    assert keystrs(j) == list(t.state_dict()) == list(j.state_dict())
    for leaf, value in zip(jax.tree_util.tree_leaves(j), j.state_dict().values()):
        assert leaf is value


def test_non_persistent_buffers_are_leaves_but_not_state():
    _, j = pair(lambda z: z.Norm(3))
    assert keystrs(j) == ["weight", "running_mean", "scratch"]
    assert list(j.state_dict()) == ["weight", "running_mean"]


def test_flatten_unflatten_round_trip():
    t, j = pair(nested)
    leaves, treedef = jax.tree_util.tree_flatten(j)
    back = jax.tree_util.tree_unflatten(treedef, leaves)
    assert type(back) is type(j)
    assert jax.tree_util.tree_structure(back) == treedef
    assert repr(back) == repr(j) == repr(t)
    assert list(back.state_dict()) == list(t.state_dict())
    assert all(a is b for a, b in zip(jax.tree_util.tree_leaves(back), leaves))
    # the tie and the shared submodule survive
    assert back.extra.weight is back.fc2.weight
    assert back.blocks[0] is back.blocks[2] is back.head.share


def test_identical_models_have_equal_treedefs_and_attributes_are_static():
    a, b = zoo("jnn").MLP(), zoo("jnn").MLP()
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    assert hash(jax.tree_util.tree_structure(a)) == hash(jax.tree_util.tree_structure(b))
    b.eval()
    assert jax.tree_util.tree_structure(a) != jax.tree_util.tree_structure(b)
    c, d = zoo("jnn").Scale(1.0), zoo("jnn").Scale(2.0)
    assert jax.tree_util.tree_structure(c) != jax.tree_util.tree_structure(d)
    e = zoo("jnn").MLP()
    e.fc1.weight.requires_grad_(False)
    assert jax.tree_util.tree_structure(a) != jax.tree_util.tree_structure(e)


@given(ARCH)
def test_random_architecture_leaves_and_round_trip(spec):
    t = build_arch(zoo("torch"), spec)
    j = build_arch(zoo("jnn"), spec)
    assert keystrs(j) == leaf_names(t)
    leaves, treedef = jax.tree_util.tree_flatten(j)
    assert len(leaves) == len(leaf_names(t))
    back = jax.tree_util.tree_unflatten(treedef, leaves)
    assert repr(back) == repr(t)
    assert list(back.state_dict()) == list(t.state_dict())
    assert [n for n, _ in back.named_modules()] == [n for n, _ in t.named_modules()]
    assert jax.tree_util.tree_structure(back) == treedef


# -- lazy unflattened modules ----------------------------------------------------------------

def test_unflattened_module_behaves_like_a_module():
    t, j = pair(lambda z: z.MLP())
    copy = jax.tree_util.tree_map(lambda a: a, j)
    assert type(copy) is type(j) and copy is not j
    assert repr(copy) == repr(t)
    assert isinstance(copy.fc1.weight, nn.Parameter)
    assert copy.fc1.in_features == 4 and copy.training is True
    assert [n for n, _ in copy.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in copy.named_modules()] == [n for n, _ in t.named_modules()]
    assert list(copy.state_dict()) == list(t.state_dict())
    close(copy(jnp.asarray(X)), torch_out(t))


def test_mutating_an_unflattened_module_leaves_the_original_alone():
    _, j = pair(lambda z: z.MLP())
    before = {k: np.asarray(v) for k, v in j.state_dict().items()}
    copy = jax.tree_util.tree_map(lambda a: a, j)
    copy.fc1.weight.data = jnp.zeros((8, 4))
    copy.norm.running_mean = jnp.ones(8)
    copy.eval()
    copy.fc2 = zoo("jnn").MyLinear(8, 2)
    copy.extra_attr = 1
    copy.fc1.register_forward_hook(lambda *a: None)
    assert j.training and j.norm.training and not hasattr(j, "extra_attr")
    assert not j.fc1._forward_hooks
    assert j.fc2.out_features == 3
    for k, v in j.state_dict().items():
        np.testing.assert_array_equal(np.asarray(v), before[k])
    assert list(copy.state_dict())[-1] == "fc2.bias" and copy.fc2.out_features == 2


def test_tree_map_builds_a_new_module():
    t, j = pair(lambda z: z.MLP())
    doubled = jax.jit(lambda m: jax.tree_util.tree_map(lambda a: a * 2.0, m))(j)
    for (name, v), w in zip(j.state_dict().items(), doubled.state_dict().values()):
        np.testing.assert_array_equal(np.asarray(w), np.asarray(v) * 2.0, err_msg=name)
    summed = jax.tree_util.tree_map(np.add, j, doubled)
    np.testing.assert_array_equal(np.asarray(summed.fc1.weight), np.asarray(j.fc1.weight) * 3)
    close(j(jnp.asarray(X)), torch_out(t))  # the original is unchanged


# -- transformations, compared with torch ----------------------------------------------------

def test_jit_forward_matches_torch():
    t, j = pair(lambda z: z.MLP())
    out = jax.jit(lambda m, x: m(x))(j, jnp.asarray(X))
    close(out, torch_out(t))
    t.eval()
    j.eval()
    close(jax.jit(lambda m, x: m(x))(j, jnp.asarray(X)), torch_out(t))


@pytest.mark.parametrize("arch", ["mlp", "tied", "shared"])
def test_grad_is_module_shaped_and_matches_torch(arch):
    t, j = pair(MODELS[arch])
    grads = GRAD(j, jnp.asarray(X))
    assert type(grads) is type(j)
    expected = torch_grads(t)
    for name, g in grads.named_parameters():
        assert isinstance(g, nn.Parameter)
        close(g.data, expected[name])
    assert [n for n, _ in grads.named_parameters()] == list(expected)
    if arch == "mlp":
        close(grads.fc1.weight.data, t.fc1.weight.grad.numpy())
        assert grads.fc2.bias.shape == (3,)


def test_grad_through_builtin_layers_matches_torch():
    t = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    j = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    j.load_state_dict(t.state_dict())
    grads = GRAD(j, jnp.asarray(X))
    expected = torch_grads(t)
    assert [n for n, _ in grads.named_parameters()] == list(expected)
    for name, g in grads.named_parameters():
        close(g.data, expected[name])
    close(grads[2].weight.data, t[2].weight.grad.numpy())


def test_tied_parameter_is_one_leaf_and_its_gradient_sums_both_uses():
    t, j = pair(lambda z: z.Tied())
    assert list(j.state_dict()) == list(t.state_dict())
    assert "dec.weight" in j.state_dict() and "dec.weight" not in keystrs(j)
    assert len(jax.tree_util.tree_leaves(j)) == len(list(t.parameters())) == 3
    grads = GRAD(j, jnp.asarray(X))
    expected = torch_grads(t)
    close(grads.enc.weight.data, expected["enc.weight"])
    assert grads.dec.weight is grads.enc.weight
    # the tied gradient really is the sum of the two uses
    untied = zoo("torch").Tied()
    untied.load_state_dict(t.state_dict())
    untied.dec.weight = torch.nn.Parameter(t.enc.weight.detach().clone())
    per_use = torch_grads(untied)
    close(grads.enc.weight.data, per_use["enc.weight"] + per_use["dec.weight"])


def test_value_and_grad_under_jit_matches_torch():
    t, j = pair(lambda z: z.MLP())
    value, grads = jax.jit(jax.value_and_grad(loss))(j, jnp.asarray(X))
    close(value, (torch.from_numpy(torch_out(t)) ** 2).sum().numpy())
    for name, g in grads.named_parameters():
        close(g.data, torch_grads(t)[name])


def test_vmap_over_an_ensemble_matches_a_loop_and_torch():
    twins = [pair(lambda z: z.MyLinear(4, 3), seed=s) for s in range(3)]
    models = [j for _, j in twins]
    # stack with numpy: the leaves gain a leading ensemble axis without an XLA compile
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.asarray(np.stack(xs)), *models)
    assert stacked.weight.shape == (3, 3, 4) and isinstance(stacked, type(models[0]))
    xs = np.stack([X * (k + 1) for k in range(3)])
    out = jax.jit(jax.vmap(lambda m, x: m(x)))(stacked, jnp.asarray(xs))
    loop = np.stack([np.asarray(m(jnp.asarray(x))) for m, x in zip(models, xs)])
    close(out, loop)
    for k, (t, _) in enumerate(twins):
        close(out[k], torch_out(t, xs[k]))
    # in_axes over the module only: one input, three models
    shared_x = jax.jit(jax.vmap(lambda m, x: m(x), in_axes=(0, None)))(stacked, jnp.asarray(X))
    close(shared_x[1], torch_out(twins[1][0]))


# -- re-tracing ------------------------------------------------------------------------------

def counting_jit():
    traces = []

    def f(m, x):
        traces.append(1)
        return m(x)

    return jax.jit(f), traces


def test_train_eval_retrace_and_switching_back_reuses_the_trace():
    t, j = pair(lambda z: z.MLP())
    f, traces = counting_jit()
    x = jnp.asarray(X)
    close(f(j, x), torch_out(t))
    f(j, x)
    assert len(traces) == 1
    j.eval()
    t.eval()
    close(f(j, x), torch_out(t))  # eval-mode output, not a stale train-mode trace
    assert len(traces) == 2
    j.train()
    t.train()
    close(f(j, x), torch_out(t))
    j.norm.eval()
    t.norm.eval()
    close(f(j, x), torch_out(t))
    j.train()
    f(j, x)
    assert len(traces) == 3


def test_new_values_do_not_retrace():
    t, j = pair(lambda z: z.MLP())
    f, traces = counting_jit()
    x = jnp.asarray(X)
    f(j, x)
    t2 = pair(lambda z: z.MLP(), seed=5)[0]
    copy_weights(t2, j)  # load_state_dict, plus the non-persistent buffer's value
    close(f(j, x), torch_out(t2))
    j.fc1.bias.data = j.fc1.bias.data + 1.0
    with torch.no_grad():
        t2.fc1.bias.add_(1.0)
    j.norm.scratch = jnp.full((8,), 2.0)
    t2.norm.scratch.fill_(2.0)
    close(f(j, x), torch_out(t2))
    assert len(traces) == 1


def test_identical_models_share_a_trace():
    f, traces = counting_jit()
    x = jnp.asarray(X)
    (t1, j1), (t2, j2) = pair(lambda z: z.MLP(), seed=1), pair(lambda z: z.MLP(), seed=2)
    close(f(j1, x), torch_out(t1))
    close(f(j2, x), torch_out(t2))
    assert len(traces) == 1


def test_changing_a_plain_attribute_retraces():
    f, traces = counting_jit()
    x = jnp.asarray(X)
    m = zoo("jnn").Scale(1.0)
    np.testing.assert_allclose(np.asarray(f(m, x)), X)
    m.scale = 2.0
    np.testing.assert_allclose(np.asarray(f(m, x)), X * 2.0)
    assert len(traces) == 2
    m.scale = 1.0
    np.testing.assert_allclose(np.asarray(f(m, x)), X)
    assert len(traces) == 2


def test_equal_attributes_of_different_types_do_not_share_a_trace():
    # 2 == 2.0, but torch.arange(3) * 2 is an integer tensor and * 2.0 a float one
    f, traces = counting_jit()
    x = jnp.arange(3)
    for scale in (2, 2.0, True):
        expected = zoo("torch").Scale(scale)(torch.arange(3))
        got = f(zoo("jnn").Scale(scale), x)
        assert got.dtype.kind == np.dtype(str(expected.dtype)[6:]).kind
        np.testing.assert_array_equal(np.asarray(got), expected.numpy())
    assert len(traces) == 3


def test_structural_changes_retrace():
    f, traces = counting_jit()
    x = jnp.asarray(X)
    t, j = pair(lambda z: z.nn.Sequential(z.MyLinear(4, 4), z.ReLU()))
    close(f(j, x), torch_out(t))
    t.append(zoo("torch").Scale(3.0))
    j.append(zoo("jnn").Scale(3.0))
    close(f(j, x), torch_out(t))
    del t[0]
    del j[0]
    close(f(j, x), torch_out(t))
    assert len(traces) == 3


def test_gradient_of_frozen_parameter_still_flows_through_jit():
    # requires_grad is static structure: freezing re-traces but jax.grad still sees a leaf
    t, j = pair(lambda z: z.MyLinear(4, 3))
    j.weight.requires_grad_(False)
    grads = jax.jit(jax.grad(loss))(j, jnp.asarray(X))
    close(grads.bias.data, torch_grads(t)["bias"])


# -- static configuration: cheap specs, reported arrays and large containers ---------------


class _WithVocab(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.vocab = {str(i): i for i in range(n)}
        self.sizes = [2, 2]  # a small list of numbers: ordinary config, no warning

    def forward(self, x):
        return self.fc(x)


def test_large_container_attribute_is_keyed_by_identity_and_reported_once():
    import time
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = _WithVocab(100_000)
        jax.tree_util.tree_flatten(m)
        m.eval()
        jax.tree_util.tree_flatten(m)
    reports = [w for w in caught if "_WithVocab.vocab" in str(w.message)]
    assert len(reports) == 1 and "register_buffer" in str(reports[0].message)
    assert not any("sizes" in str(w.message) for w in caught)
    times = []
    for i in range(5):
        m.train() if i % 2 else m.eval()
        t = time.perf_counter()
        jax.tree_util.tree_flatten(m)
        times.append(time.perf_counter() - t)
    assert sorted(times)[2] < 0.1  # ~0.04 ms; keyed by value it took ~0.25 s per rebuild
    spec = jax.tree_util.tree_structure(m)
    m.vocab = dict(m.vocab)  # a new object: a new spec (a re-trace), never a stale one
    assert jax.tree_util.tree_structure(m) != spec


def test_array_attribute_is_reported_with_the_fix():
    class Masked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mask = jnp.ones(3)

        def forward(self, x):
            return x * self.mask

    with pytest.warns(UserWarning, match=r"Masked.mask is an array.*register_buffer\('mask'"):
        jax.tree_util.tree_flatten(Masked())
