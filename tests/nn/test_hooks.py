"""Forward pre-hooks and forward hooks against torch: the same hooks run on twin models, and
the call order, what each hook saw, and the results must agree."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from tests.nn._mirror import pair, zoo

X = np.linspace(-1.0, 1.0, 8, dtype=np.float32).reshape(2, 4)


def describe(v):
    """A framework-neutral summary of what a hook received."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (tuple, list)):
        return type(v).__name__, tuple(describe(x) for x in v)
    if isinstance(v, dict):
        return {k: describe(x) for k, x in v.items()}
    if hasattr(v, "shape"):
        return "array", tuple(v.shape)
    return type(v).__name__


def to_numpy(v):
    if isinstance(v, torch.Tensor):
        return v.detach().numpy()
    if isinstance(v, (tuple, list)):
        return type(v)(to_numpy(x) for x in v)
    return np.asarray(v)


def run_both(build, setup, call=lambda m, x: m(x)):
    """Build twin models, ``setup(model, log)`` the hooks, call; return both (log, output)."""
    results = []
    for model, arr in zip(pair(build), (torch.from_numpy, jnp.asarray)):
        log = []
        setup(model, log)
        try:
            out = to_numpy(call(model, arr(X.copy())))
        except Exception as e:  # noqa: BLE001 - compared with torch's
            out = (type(e), str(e))
        results.append((log, out))
    return results


def assert_same(results):
    (tlog, tout), (jlog, jout) = results
    assert jlog == tlog
    if isinstance(tout, tuple) and tout and isinstance(tout[0], type):
        assert jout == tout
    else:
        np.testing.assert_allclose(jout, tout, rtol=1e-5, atol=1e-6)


def recorder(log, tag, ret=None):
    def hook(module, *rest):
        log.append((tag, type(module).__name__, describe(rest)))
        return ret(*rest) if ret is not None else None

    return hook


# -- order ----------------------------------------------------------------------------------

def test_pre_hook_and_hook_order_with_prepend_matches_torch():
    def setup(m, log):
        m.register_forward_pre_hook(recorder(log, "pre1"))
        m.register_forward_pre_hook(recorder(log, "pre2"))
        m.register_forward_pre_hook(recorder(log, "pre0"), prepend=True)
        m.register_forward_hook(recorder(log, "post1"))
        m.register_forward_hook(recorder(log, "post0"), prepend=True)
        m.register_forward_hook(recorder(log, "post2"), with_kwargs=True)
        m.register_forward_pre_hook(recorder(log, "pre_kw"), with_kwargs=True, prepend=True)

    assert_same(run_both(lambda z: z.MyLinear(4, 3), setup))


def test_hooks_across_a_model_tree_match_torch():
    def setup(m, log):
        for name, sub in m.named_modules():
            sub.register_forward_pre_hook(recorder(log, f"pre:{name}"))
            sub.register_forward_hook(recorder(log, f"post:{name}"))

    assert_same(run_both(lambda z: z.nn.Sequential(z.MLP(4, 8, 4), z.Tied(), z.Shared()),
                         setup))


# -- replacing inputs and outputs -------------------------------------------------------------

PRE_HOOKS = {
    "returns_none": lambda args: None,
    "returns_single_value": lambda args: args[0] * 2.0,  # wrapped into a 1-tuple
    "returns_tuple": lambda args: (args[0] + 1.0,),
}


@pytest.mark.parametrize("case", PRE_HOOKS)
def test_pre_hook_replaces_input_like_torch(case):
    def setup(m, log):
        m.register_forward_pre_hook(recorder(log, "a", PRE_HOOKS[case]))
        m.register_forward_pre_hook(recorder(log, "b"))  # sees the replaced input

    assert_same(run_both(lambda z: z.MyLinear(4, 3), setup))


KW_PRE_HOOKS = {
    "returns_none": lambda args, kwargs: None,
    "replaces_kwargs": lambda args, kwargs: (args, {**kwargs, "shift": 0.5}),
    "replaces_both": lambda args, kwargs: ((args[0] * 3.0, 2.0), {}),
    "invalid_return": lambda args, kwargs: 3,
    "invalid_tuple": lambda args, kwargs: ("new_args",),
}


@pytest.mark.parametrize("case", KW_PRE_HOOKS)
def test_pre_hook_with_kwargs_like_torch(case):
    def setup(m, log):
        m.register_forward_pre_hook(recorder(log, "kw", KW_PRE_HOOKS[case]), with_kwargs=True)
        m.register_forward_hook(recorder(log, "post_kw"), with_kwargs=True)

    assert_same(run_both(lambda z: z.KwScale(), setup,
                         call=lambda m, x: m(x, 2.0, shift=-1.0)))


HOOKS = {
    "returns_none": lambda args, out: None,
    "replaces_output": lambda args, out: out * 10.0,
    "output_from_input": lambda args, out: args[0][:, :3] + out,
    "returns_tuple": lambda args, out: (out, out + 1.0),
}


@pytest.mark.parametrize("case", HOOKS)
def test_forward_hook_replaces_output_like_torch(case):
    def setup(m, log):
        m.register_forward_hook(recorder(log, "a", HOOKS[case]))
        m.register_forward_hook(recorder(log, "b"))  # sees the replaced output

    assert_same(run_both(lambda z: z.MyLinear(4, 3), setup))


def test_forward_hook_with_kwargs_sees_kwargs_like_torch():
    def setup(m, log):
        m.register_forward_hook(recorder(log, "kw", lambda args, kwargs, out: out - kwargs[
            "shift"]), with_kwargs=True)
        m.register_forward_hook(recorder(log, "plain"))

    assert_same(run_both(lambda z: z.KwScale(), setup,
                         call=lambda m, x: m(x, shift=3.0)))


def test_hook_reads_module_state():
    # inside a hook (it runs within Module.__call__) a parameter reads as its array
    def setup(m, log):
        m.register_forward_hook(lambda mod, args, out: out - mod.bias * 2.0)
        m.register_forward_pre_hook(lambda mod, args: args[0] @ (mod.weight.T @ mod.weight))

    assert_same(run_both(lambda z: z.MyLinear(4, 4), setup))


def test_hook_receives_the_module_and_arg_tuple():
    _, j = pair(lambda z: z.MLP())
    seen = []
    j.fc2.register_forward_pre_hook(lambda mod, args: seen.append((mod, args)))
    j(jnp.asarray(X))
    assert seen[0][0] is j.fc2 and type(seen[0][1]) is tuple and len(seen[0][1]) == 1


# -- always_call ----------------------------------------------------------------------------

def _raiser(log, tag):
    def hook(module, *rest):
        log.append((tag, describe(rest)))
        raise ValueError(f"boom from {tag}")

    return hook


ALWAYS_CALL = {  # case -> what raises: forward, a forward hook, or a pre-hook
    "forward_raises": "forward",
    "earlier_hook_raises": "hook",
    "pre_hook_raises": "pre",
}


@pytest.mark.parametrize("case", ALWAYS_CALL)
def test_always_call_hooks_run_when_forward_raises_like_torch(case):
    where = ALWAYS_CALL[case]

    def setup(m, log):
        if where == "pre":
            m.register_forward_pre_hook(_raiser(log, "pre"))
        m.register_forward_hook(recorder(log, "always1"), always_call=True)
        if where == "hook":
            m.register_forward_hook(_raiser(log, "raising_hook"))
        m.register_forward_hook(recorder(log, "normal"))
        m.register_forward_hook(recorder(log, "always2"), always_call=True)
        m.register_forward_hook(recorder(log, "always_kw"), always_call=True, with_kwargs=True)

    def call(m, x):
        if where == "forward":
            return m(x[:, :3])  # wrong width: forward raises
        return m(x)

    results = run_both(lambda z: z.MyLinear(4, 3), setup, call)
    (tlog, tout), (jlog, jout) = results
    assert jlog == tlog
    assert isinstance(tout, tuple) and isinstance(jout, tuple)
    if where != "forward":  # the forward error's text is the framework's own
        assert jout == tout


def test_always_call_hook_errors_are_silenced_with_torch_warning():
    outcomes = []
    for m in pair(lambda z: z.MyLinear(4, 3)):
        m.register_forward_hook(_raiser([], "always"), always_call=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(Exception) as info:
                m(m.weight[:1, :3] if isinstance(m, torch.nn.Module) else jnp.ones((1, 3)))
        outcomes.append((type(info.value).__name__ != "ValueError",
                         [str(w.message) for w in caught if "always_call" in str(w.message)]))
    assert outcomes[1] == outcomes[0]
    assert outcomes[0][1] and outcomes[0][0]


# -- removal --------------------------------------------------------------------------------

def hook_dict_sizes(m):
    return [len(getattr(m, name)) for name in (
        "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks",
        "_forward_hooks_with_kwargs", "_forward_hooks_always_called")]


def test_handle_remove_and_context_manager_match_torch():
    def setup(m, log):
        h1 = m.register_forward_pre_hook(recorder(log, "pre_removed"), with_kwargs=True)
        h2 = m.register_forward_hook(recorder(log, "post_removed", lambda a, o: o * 0.0),
                                     with_kwargs=True, always_call=True)
        m.register_forward_hook(recorder(log, "kept"))
        h1.remove()
        h2.remove()
        h2.remove()  # a second remove is a no-op
        with m.register_forward_hook(recorder(log, "scoped")) as h3:
            assert h3 is not None
        log.append(("sizes", hook_dict_sizes(m)))

    assert_same(run_both(lambda z: z.MyLinear(4, 3), setup))


def test_hook_inside_with_block_runs():
    for m in pair(lambda z: z.MyLinear(4, 3)):
        log = []
        x = torch.from_numpy(X) if isinstance(m, torch.nn.Module) else jnp.asarray(X)
        with m.register_forward_hook(recorder(log, "scoped")):
            m(x)
        m(x)
        assert [entry[0] for entry in log] == ["scoped"]


def test_handle_ids_are_unique_and_increasing():
    m = zoo("jnn").ReLU()
    handles = [m.register_forward_hook(lambda *a: None) for _ in range(3)]
    handles.append(m.register_forward_pre_hook(lambda *a: None))
    ids = [h.id for h in handles]
    assert ids == sorted(ids) and len(set(ids)) == 4


def test_removing_a_hook_under_jit_retraces():
    _, j = pair(lambda z: z.MyLinear(4, 3))
    f = jax.jit(lambda m, x: m(x))
    x = jnp.asarray(X)
    plain = np.asarray(f(j, x))
    handle = j.register_forward_hook(lambda mod, args, out: out * 0.0)
    np.testing.assert_array_equal(np.asarray(f(j, x)), 0.0)
    handle.remove()
    np.testing.assert_array_equal(np.asarray(f(j, x)), plain)
