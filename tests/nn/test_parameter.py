"""``jnn.nn.Parameter`` and ``jnn.nn.Buffer`` against ``torch.nn.Parameter`` / ``Buffer``.

A jnn Parameter is a box around a ``jax.Array`` (JAX arrays are immutable), so these tests
check the tensor-side attributes torch code touches: ``.data``, ``.grad``,
``.requires_grad``, shape queries, in-place helpers, arithmetic and copies.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
import jnn.nn as nn
from tests.nn._mirror import zoo

VALUES = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5


def twins(values=VALUES, requires_grad=True):
    return (torch.nn.Parameter(torch.tensor(values), requires_grad=requires_grad),
            nn.Parameter(values, requires_grad=requires_grad))


def test_defaults_match_torch():
    t, j = torch.nn.Parameter(), nn.Parameter()
    assert j.shape == tuple(t.shape) == (0,)
    assert str(j.dtype) == str(t.dtype).removeprefix("torch.")
    assert j.requires_grad is t.requires_grad is True
    assert j.grad is None and t.grad is None


@pytest.mark.parametrize("requires_grad", [True, False])
def test_attributes_match_torch(requires_grad):
    t, j = twins(requires_grad=requires_grad)
    assert j.requires_grad == t.requires_grad
    assert j.shape == tuple(t.shape) and j.size() == tuple(t.size())
    assert j.size(1) == t.size(1) and j.size(-1) == t.size(-1)
    assert j.dim() == t.dim() and j.ndim == t.ndim
    assert j.numel() == t.numel() and j.nelement() == t.nelement()
    assert len(j) == len(t)
    assert str(j.dtype) == str(t.dtype).removeprefix("torch.")
    assert isinstance(j.data, jax.Array) and not isinstance(j.data, nn.Parameter)
    assert isinstance(j, nn.Parameter) and not isinstance(j, jax.Array)
    np.testing.assert_array_equal(np.asarray(j.data), t.data.numpy())
    np.testing.assert_array_equal(j.numpy(), t.detach().numpy())
    np.testing.assert_array_equal(np.asarray(j), t.detach().numpy())
    np.testing.assert_array_equal(np.asarray(j.detach()), t.detach().numpy())
    np.testing.assert_array_equal(np.asarray(j.T), t.T.detach().numpy())
    np.testing.assert_array_equal(np.asarray(j[1]), t[1].detach().numpy())
    assert j.tolist() == t.tolist()
    assert j.device.platform == t.device.type == "cpu"


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_scalar_conversions_match_torch(shape):
    """A 0-d or one-element Parameter converts as torch's (``float(p)`` of a shape-[1] bias,
    ``'%.2f' % p``): jnn's conversions of shape [1] raised JAX's TypeError."""
    t, j = twins(np.full(shape, 2.7, np.float32))
    assert j.item() == t.item()
    t = t.detach()
    assert float(j) == float(t) and int(j) == int(t) and bool(j) == bool(t)
    assert "%.2f" % j == "%.2f" % t  # noqa: UP031 - the idiom under test
    assert round(float(j)) == round(float(t))


def test_requires_grad_setters_match_torch():
    t, j = twins()
    assert j.requires_grad_(False) is j
    t.requires_grad_(False)
    assert j.requires_grad == t.requires_grad is False
    j.requires_grad = True
    t.requires_grad = True
    assert j.requires_grad == t.requires_grad is True
    assert j.requires_grad_() is j and j.requires_grad


def test_integer_parameters_cannot_require_grad_as_torch():
    ints = np.arange(3, dtype=np.int32)
    with pytest.raises(RuntimeError) as expected:
        torch.nn.Parameter(torch.tensor(ints))
    with pytest.raises(RuntimeError, match=f"^{expected.value}$"):
        nn.Parameter(ints)
    t = torch.nn.Parameter(torch.tensor(ints), requires_grad=False)
    j = nn.Parameter(ints, requires_grad=False)
    assert j.requires_grad is t.requires_grad is False
    with pytest.raises(RuntimeError) as expected:
        t.requires_grad_(True)
    with pytest.raises(RuntimeError, match=f"^{expected.value}$"):
        j.requires_grad_(True)
    assert j.requires_grad is False


def test_constructor_copies_its_source():
    src = VALUES.copy()
    p = nn.Parameter(src)
    src[0, 0] = 100.0
    np.testing.assert_array_equal(np.asarray(p), VALUES)
    arr = jnp.asarray(VALUES)
    assert nn.Parameter(arr).data is not arr
    tsrc = torch.tensor(VALUES)
    p = nn.Parameter(tsrc.numpy())
    tsrc[0, 0] = 100.0
    np.testing.assert_array_equal(np.asarray(p), VALUES)


def test_parameter_of_parameter_shares_the_array():
    q = nn.Parameter(VALUES)
    p = nn.Parameter(q, requires_grad=False)
    assert p.data is q.data and p is not q and not p.requires_grad


def test_data_assignment_replaces_the_array():
    t, j = twins()
    new = VALUES * 2
    t.data = torch.tensor(new)
    j.data = new
    assert isinstance(j.data, jax.Array)
    np.testing.assert_array_equal(np.asarray(j.data), t.data.numpy())
    j.data = nn.Parameter(VALUES)  # unwraps, never nests
    assert isinstance(j.data, jax.Array)


INPLACE = {
    "fill_": lambda p, lib: p.fill_(0.25),
    "zero_": lambda p, lib: p.zero_(),
    "copy_": lambda p, lib: p.copy_(lib(VALUES[::-1].copy())),
    "copy_broadcast": lambda p, lib: p.copy_(lib(VALUES[0].copy())),
}


@pytest.mark.parametrize("case", INPLACE)
def test_inplace_helpers_match_torch(case):
    t, j = twins()
    with torch.no_grad():
        assert INPLACE[case](t, torch.tensor) is t
    data_before = j.data
    assert INPLACE[case](j, np.asarray) is j
    assert j.data is not data_before and j.dtype == data_before.dtype
    np.testing.assert_array_equal(np.asarray(j.data), t.detach().numpy())


def test_copy_from_torch_and_parameter():
    _, j = twins()
    j.copy_(nn.Parameter(VALUES + 1))
    np.testing.assert_array_equal(np.asarray(j), VALUES + 1)


def test_clone_is_an_equal_array():
    _, j = twins()
    c = j.clone()
    assert isinstance(c, jax.Array)
    np.testing.assert_array_equal(np.asarray(c), VALUES)


OPERATORS = {
    "add": lambda a, b: a + b, "radd": lambda a, b: 2.0 + a, "sub": lambda a, b: a - b,
    "rsub": lambda a, b: 1.0 - a, "mul": lambda a, b: a * b, "rmul": lambda a, b: 3.0 * a,
    "truediv": lambda a, b: a / (b + 10.0), "rtruediv": lambda a, b: 1.0 / (a + 10.0),
    "floordiv": lambda a, b: a // 2.0, "mod": lambda a, b: a % 2.0, "pow": lambda a, b: a ** 2,
    "rpow": lambda a, b: 2.0 ** a, "matmul": lambda a, b: a @ b.T, "neg": lambda a, b: -a,
    "pos": lambda a, b: +a, "abs": lambda a, b: abs(a), "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != 0.5, "lt": lambda a, b: a < 0.5, "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > 0.5, "ge": lambda a, b: a >= b,
    "param_and_param": lambda a, b: a * a,
}


@pytest.mark.parametrize("case", OPERATORS)
def test_operators_match_torch(case):
    t, j = twins()
    other = VALUES[::-1].copy()
    expected = OPERATORS[case](t, torch.tensor(other)).detach().numpy()
    got = OPERATORS[case](j, jnp.asarray(other))
    assert isinstance(got, jax.Array)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)


def test_hash_is_identity_and_eq_is_elementwise():
    a = nn.Parameter(VALUES)
    b = nn.Parameter(VALUES)
    assert len({a, b, a}) == 2
    assert bool(jnp.all(a == b))


@pytest.mark.parametrize("requires_grad", [True, False])
def test_repr_marks_trainable_parameters_like_torch(requires_grad):
    t, j = twins(np.float32([1.0]), requires_grad=requires_grad)
    assert repr(j).startswith("Parameter containing:\n")
    assert repr(t).startswith("Parameter containing:\n")
    marked = "requires_grad=True" in repr(t)
    assert marked == requires_grad
    assert ("requires_grad=True" in repr(j)) == marked
    assert "requires_grad=False" not in repr(j)


def test_parameter_is_a_one_leaf_pytree():
    p = nn.Parameter(VALUES, requires_grad=False)
    leaves, treedef = jax.tree_util.tree_flatten(p)
    assert len(leaves) == 1 and leaves[0] is p.data
    doubled = jax.tree_util.tree_map(lambda x: x * 2, [p, p])
    assert all(isinstance(q, nn.Parameter) and not q.requires_grad for q in doubled)
    np.testing.assert_array_equal(np.asarray(doubled[0]), VALUES * 2)


def test_grad_of_a_parameter_matches_torch():
    t, j = twins()
    (t ** 2).sum().backward()
    g = jax.grad(lambda p: (p.data ** 2).sum())(j)
    np.testing.assert_allclose(np.asarray(g.data), t.grad.numpy(), rtol=1e-6)
    j.grad = g.data
    assert j.grad is g.data


@pytest.mark.parametrize("op", ["matmul", "add", "mul", "rsub"])
def test_numpy_operand_on_the_left_keeps_the_gradient(op):
    """`x_np @ W + b` (numpy data, bare Parameters: "a network from scratch") is computed
    by jnn and differentiated as torch's `torch.from_numpy(x) @ W + b`; numpy never turns
    the Parameter into a constant through __array__."""
    x = np.linspace(-1.0, 1.0, 6, dtype=np.float32).reshape(2, 3)
    w_values = VALUES.T.copy() if op == "matmul" else VALUES
    t, j = twins(w_values)
    compute = {"matmul": lambda a, p: a @ p, "add": lambda a, p: a + p,
               "mul": lambda a, p: a * p, "rsub": lambda a, p: a - p}[op]
    (compute(torch.from_numpy(x), t) ** 2).sum().backward()
    out = jnn.autograd.backward(lambda: (compute(x, j) ** 2).sum())
    assert isinstance(compute(x, j), jax.Array)
    np.testing.assert_allclose(float(out), float((compute(torch.from_numpy(x), t) ** 2).sum()),
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(j.grad), t.grad.numpy(), rtol=1e-6)



# -- gradients torch defines by a rule: detached reads, copies, rows, kinks, methods -------

ZEROS = np.zeros((2, 3), np.float32)
KINKS = np.array([[-1.0, 0.0, 1.0], [0.5, 0.0, -2.0]], np.float32)  # abs and clamp kinks
INF_TIES = np.array([[2.0, -2.0, 1.0], [0.0, 0.0, -2.0]], np.float32)
ROW = VALUES[:1].copy()
SCALAR = np.float32(1.5)

# name -> (start value, loss term written once for both libraries).  Each term gets its own
# Parameter, so one differentiation of their sum checks every term's gradient (one compile
# for the jnn.compile mode).
GRADIENT_RULES = {
    # torch: .detach() and .data are outside the graph (d/dw of w.detach() * w is w, not 2w)
    "detach_factor": (VALUES, lambda w: (w.detach() * w).sum()),
    "data_factor": (VALUES, lambda w: (w.data * w).sum()),
    "detach_only": (VALUES, lambda w: (w.detach() ** 2).sum()),  # torch: .grad stays None
    # a copy of a Parameter, or its rows, are reads of it (jnn gave it no .grad)
    "clone": (VALUES, lambda w: (w.clone() ** 2).sum()),
    "iterate_rows": (VALUES, lambda w: sum((r ** 2).sum() for r in w)),
    # norms of zeros: gradient 0 (jnn's was NaN)
    "norm_of_zeros": (ZEROS, lambda w: w.norm()),
    "norm_2_of_zeros": (ZEROS, lambda w: w.norm(2)),
    "norm_fro_of_zeros": (ZEROS, lambda w: w.norm("fro")),
    "norm_3_of_zeros": (ZEROS, lambda w: w.norm(3)),
    "norm_dim_of_zeros": (ZEROS, lambda w: w.norm(2, dim=0).sum()),
    "norm_inf_of_zeros": (ZEROS, lambda w: w.norm(float("inf"))),
    # subgradients at kinks: torch's sign(0) = 0; clamp passes min <= x <= max, inclusive
    "abs_at_0": (KINKS, lambda w: w.abs().sum()),
    "builtin_abs_at_0": (KINKS, lambda w: abs(w).sum()),
    "norm_1_at_0": (KINKS, lambda w: w.norm(1)),
    "norm_inf_ties": (INF_TIES, lambda w: w.norm(float("inf"))),
    "clamp_min_at_bound": (KINKS, lambda w: w.clamp(min=0).sum()),
    "clamp_at_bounds": (KINKS, lambda w: w.clamp(-1, 1).sum()),
    "clip_at_bounds": (KINKS, lambda w: w.clip(-1, 1).sum()),
    "clamp_min_method": (KINKS, lambda w: w.clamp_min(0).sum()),
    "clamp_max_method": (KINKS, lambda w: w.clamp_max(0).sum()),
    # the tensor methods torch code calls on parameters, each a differentiated read
    "max": (VALUES, lambda w: w.max()),
    "min_dim": (VALUES, lambda w: w.min(dim=1).values.sum()),
    "max_dim_keepdim": (VALUES, lambda w: w.max(1, keepdim=True)[0].sum()),
    "amax": (VALUES, lambda w: w.amax(dim=0).sum()),
    "amin": (VALUES, lambda w: w.amin(dim=(0, 1))),
    "add_alpha": (VALUES, lambda w: w.add(w * w, alpha=0.5).sum()),
    "sub": (VALUES, lambda w: (w.sub(1.0) ** 2).sum()),
    "mul": (VALUES, lambda w: w.mul(w).sum()),
    "div": (VALUES, lambda w: (w.div(3.0) ** 2).sum()),
    "matmul": (VALUES, lambda w: w.matmul(w.mT).sum()),
    "mm": (VALUES, lambda w: w.mm(w.t()).sum()),
    "transpose": (VALUES, lambda w: (w.transpose(0, 1)[0] ** 2).sum()),
    "mT": (VALUES, lambda w: (w.mT[2] ** 2).sum()),
    "unsqueeze": (VALUES, lambda w: (w.unsqueeze(0)[0, 1] ** 2).sum()),
    "squeeze": (ROW, lambda w: (w.squeeze(0)[1:] ** 2).sum()),
    "sign": (VALUES, lambda w: (w.sign() * w).sum()),
    # flat functions: torch's .grad is zeros (the graph reaches w), not None as through
    # detach() (JAX's symbolic zero read as "not reached")
    "sign_only": (VALUES, lambda w: w.sign().sum()),
    "floor_only": (VALUES, lambda w: w.floor().sum()),
    "ceil_only": (VALUES, lambda w: w.ceil().sum()),
    "trunc_only": (VALUES, lambda w: w.trunc().sum()),
    "round_only": (VALUES, lambda w: w.round().sum()),
    "round_decimals": (VALUES, lambda w: w.round(decimals=1).sum()),
    "float": (VALUES, lambda w: (w.float() ** 2).sum()),
    "var_dim": (VALUES, lambda w: w.var(dim=1).sum()),
    "std_correction": (VALUES, lambda w: w.std(correction=0)),
    # a 0-d Parameter takes dim 0 and -1, as torch's (jnn raised)
    "sum_0d_dim": (SCALAR, lambda w: w.sum(dim=0) * 3.0),
    "mean_0d_dim_keepdim": (SCALAR, lambda w: w.mean(dim=-1, keepdim=True) ** 2),
    "norm_0d_dim": (SCALAR, lambda w: w.norm(dim=0)),
}


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_a_parameter_reached_only_through_sign_is_stepped_as_torchs(compiled):
    """Its ``.grad`` is zeros, so AdamW still decays it and moves it by its momentum, as
    torch's does (with ``.grad`` None both would skip it)."""
    tw, tb = (torch.nn.Parameter(torch.tensor(v)) for v in ([0.5, -1.5, 2.0], [0.3, 0.1, -0.2]))
    jw, jb = (nn.Parameter(jnp.asarray(v)) for v in ([0.5, -1.5, 2.0], [0.3, 0.1, -0.2]))
    topt = torch.optim.AdamW([tw, tb], lr=0.1, weight_decay=0.5)
    jopt = jnn.optim.AdamW([jw, jb], lr=0.1, weight_decay=0.5)

    def closure(w, b, x):
        return (w.sign() * x).sum() + (b * x).sum() ** 2

    step = lambda x: jopt.step(lambda: closure(jw, jb, x))  # noqa: E731
    step = jnn.compile(step) if compiled else step
    for i in range(4):
        x = torch.tensor([1.0, -2.0, 0.5]) * (i + 1)
        topt.zero_grad()
        closure(tw, tb, x).backward()
        topt.step()
        jopt.zero_grad()
        step(jnp.asarray(x.numpy()))
        for t, j in ((tw, jw), (tb, jb)):
            np.testing.assert_allclose(np.asarray(j.data), t.detach().numpy(), rtol=1e-5,
                                       atol=1e-6)
            np.testing.assert_allclose(np.asarray(j.grad), t.grad.numpy(), rtol=1e-5,
                                       atol=1e-6)


def _jnn_grads(mode):
    """Each rule's Parameter's ``.grad`` after one differentiation of the rules' sum, through
    ``jnn.autograd.backward``, an eager ``optimizer.step(closure)`` or one under
    ``jnn.compile``."""
    params = {name: nn.Parameter(value) for name, (value, _) in GRADIENT_RULES.items()}

    def closure():
        return sum(term(params[name]) for name, (_, term) in GRADIENT_RULES.items())

    if mode == "backward":
        jnn.autograd.backward(closure)
    else:
        opt = jnn.optim.SGD(list(params.values()), lr=0.0)
        step = jnn.compile(lambda: opt.step(closure)) if mode == "compiled" else (
            lambda: opt.step(closure))
        step()
    return params


@pytest.mark.parametrize("mode", ["backward", "step", "compiled"])
def test_gradient_rules_through_parameter_methods_match_torch(mode):
    """Detached reads carry no gradient, copies and rows do, norms of zeros and kinks give
    torch's subgradients, and every tensor method is a differentiated read: the ``.grad`` of
    each rule's Parameter is torch's (None where torch's is)."""
    tparams = {name: torch.nn.Parameter(torch.tensor(value))
               for name, (value, _) in GRADIENT_RULES.items()}
    sum(term(tparams[name]) for name, (_, term) in GRADIENT_RULES.items()).backward()
    jparams = _jnn_grads(mode)
    for name, tp in tparams.items():
        got = jparams[name].grad
        if tp.grad is None:
            assert got is None, name
        else:
            assert got is not None, name
            np.testing.assert_allclose(np.asarray(got), tp.grad.numpy(), rtol=1e-5,
                                       atol=1e-6, err_msg=name)
    p = jparams["detach_factor"]  # outside a differentiation: the live array, as before
    assert p.data is p.detach() is p._data


@pytest.mark.parametrize("name", GRADIENT_RULES)
def test_gradient_rule_terms_have_torchs_values(name):
    value, term = GRADIENT_RULES[name]
    t, j = twins(value)
    expected = term(t).detach().numpy()
    got = np.asarray(term(j))
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_max_and_min_with_dim_return_torchs_named_tuples():
    t, j = twins()
    for method in ("max", "min"):
        want, got = getattr(t, method)(dim=1), getattr(j, method)(dim=1)
        assert type(got).__name__ == type(want).__name__ == method
        assert type(got) is getattr(jnn.return_types, method)
        np.testing.assert_array_equal(np.asarray(got.values), want.values.detach().numpy())
        np.testing.assert_array_equal(np.asarray(got.indices), want.indices.numpy())
    other = VALUES[::-1].copy()
    np.testing.assert_array_equal(np.asarray(j.max(jnp.asarray(other))),
                                  t.max(torch.tensor(other)).detach().numpy())


# -- Buffer --------------------------------------------------------------------------------

@pytest.mark.parametrize("persistent", [True, False])
def test_buffer_assignment_matches_torch(persistent):
    def build(z):
        m = z.nn.Module()
        m.b = z.nn.Buffer(z.tensor(2), persistent=persistent)
        m.w = z.nn.Parameter(z.tensor(1))
        return m

    t, j = build(zoo("torch")), build(zoo("jnn"))
    assert list(j.state_dict()) == list(t.state_dict())
    assert [n for n, _ in j.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert j._non_persistent_buffers_set == t._non_persistent_buffers_set
    assert isinstance(j.b, jax.Array) and not isinstance(j.b, nn.Buffer)


def test_buffer_copies_its_source():
    src = VALUES.copy()
    buf = nn.Buffer(src)
    src[0, 0] = 100.0
    np.testing.assert_array_equal(np.asarray(buf.data), VALUES)


def test_weakly_typed_source_promotes_like_a_torch_tensor():
    # jnp.full(..., 2.0) is weakly typed; a Parameter of it must promote like torch's float32
    p = nn.Parameter(jnp.full((2,), 2.0))
    t = torch.nn.Parameter(torch.full((2,), 2.0))
    half = np.ones(2, np.float32)
    expected = (t * torch.tensor(half, dtype=torch.bfloat16)).dtype
    assert str((p.data * jnp.asarray(half, jnp.bfloat16)).dtype) == str(expected)[6:]
    p.data = jnp.full((2,), 3.0)
    assert str((p.data * jnp.asarray(half, jnp.bfloat16)).dtype) == str(expected)[6:]


# -- in-place arithmetic: torch's d2l-style ``param -= lr * param.grad`` ------------------


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/=", "add_", "sub_", "mul_", "div_"])
def test_inplace_arithmetic_under_no_grad_matches_torch(op):
    start = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)
    other = np.array([0.25, 2.0], np.float32)
    p, tp = nn.Parameter(jnp.asarray(start)), torch.nn.Parameter(torch.tensor(start))
    alias, t_alias = p, tp
    with jnn.no_grad(), torch.no_grad():
        if op.endswith("="):
            code = f"alias {op} other_value"
            exec(code, {}, {"alias": alias, "other_value": jnp.asarray(other)})
            exec(code, {}, {"alias": t_alias, "other_value": torch.tensor(other)})
        else:
            getattr(alias, op)(jnp.asarray(other))
            getattr(t_alias, op)(torch.tensor(other))
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6)
    assert p.data.dtype == jnp.float32


def test_inplace_on_a_leaf_that_requires_grad_raises_as_torch():
    p, tp = nn.Parameter(jnp.ones(2)), torch.nn.Parameter(torch.ones(2))
    with pytest.raises(RuntimeError) as theirs:
        tp -= 1.0
    with pytest.raises(RuntimeError) as ours:
        p -= 1.0
    assert str(ours.value) == str(theirs.value)
    np.testing.assert_array_equal(p.data, np.ones(2))  # unchanged


def test_inplace_broadcast_to_a_larger_shape_raises_as_torch():
    p, tp = nn.Parameter(jnp.ones(2)), torch.nn.Parameter(torch.ones(2))
    with torch.no_grad(), pytest.raises(RuntimeError) as theirs:
        tp += torch.ones(3, 2)
    with jnn.no_grad(), pytest.raises(RuntimeError) as ours:
        p += jnp.ones((3, 2))
    assert str(ours.value) == str(theirs.value)


def test_hand_written_sgd_trains_like_torch():
    """d2l's ``sgd``: ``param -= lr * param.grad`` under no_grad, then zero the grad."""
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    lin, tlin = nn.Linear(3, 1), torch.nn.Linear(3, 1)
    with torch.no_grad():
        tlin.weight.copy_(torch.tensor(np.asarray(lin.weight.data)))
        tlin.bias.copy_(torch.tensor(np.asarray(lin.bias.data)))
    for _ in range(3):
        jnn.autograd.backward(lambda: (lin(jnp.asarray(x)) ** 2).mean())
        (tlin(torch.tensor(x)) ** 2).mean().backward()
        with jnn.no_grad(), torch.no_grad():
            for p, tp in zip(lin.parameters(), tlin.parameters()):
                p -= 0.1 * p.grad
                tp -= 0.1 * tp.grad
                p.grad = None
                tp.grad = None
    np.testing.assert_allclose(lin.weight.data, tlin.weight.detach().numpy(), rtol=1e-5)


PARAMETER_ERRORS = {  # torch's exception for each misuse, with its message
    "list_data": lambda z: z.nn.Parameter([1.0, 2.0]),
    "float_data": lambda z: z.nn.Parameter(3.0),
    "buffer_list": lambda z: z.nn.Buffer([1.0]),
    "requires_grad_str": lambda z: z.nn.Parameter(z.tensor(2), requires_grad="x"),
    "requires_grad_int": lambda z: z.nn.Parameter(z.tensor(2), requires_grad=1),
    "set_requires_grad_str": lambda z: setattr(z.nn.Parameter(z.tensor(2)), "requires_grad", "x"),
    "requires_grad_method_int": lambda z: z.nn.Parameter(z.tensor(2)).requires_grad_(3),
    "module_requires_grad_str": lambda z: z.nn.Linear(2, 3).requires_grad_("x"),
}


def _frozen(z, *shape):
    """A Parameter that needs no no_grad() for in-place helpers and warns on no conversion."""
    return z.nn.Parameter(z.tensor(*shape), requires_grad=False)


# Misuse of an existing Parameter: torch's type and message (JAX would clamp an index, wrap a
# dimension or broadcast silently, or word its own error).
PARAMETER_USE_ERRORS = {
    "data_list": lambda z: setattr(_frozen(z, 2), "data", [1.0, 2.0]),
    "data_float": lambda z: setattr(_frozen(z, 2), "data", 1.0),
    "data_none": lambda z: setattr(_frozen(z, 2), "data", None),
    "data_str": lambda z: setattr(_frozen(z, 2), "data", "x"),
    "copy_mismatched_shape": lambda z: _frozen(z, 2, 3).copy_(z.tensor(3, 3)),
    "copy_mismatched_inner": lambda z: _frozen(z, 3).copy_(z.tensor(2, 4)),
    "copy_larger_broadcast": lambda z: _frozen(z, 3).copy_(z.tensor(4, 3)),
    "copy_list": lambda z: _frozen(z, 3).copy_([1.0, 2.0, 3.0]),
    "add_mismatched_shape": lambda z: _frozen(z, 3).add_(z.tensor(2, 4)),
    # torch scans from the right: the last mismatching dimension is named
    "copy_two_mismatched_dims": lambda z: _frozen(z, 2, 3).copy_(z.tensor(5, 7)),
    "add_two_mismatched_dims": lambda z: _frozen(z, 2, 3).add_(z.tensor(4, 5, 7)),
    "grad_is_itself": lambda z: (lambda p: setattr(p, "grad", p))(z.nn.Parameter(z.tensor(2))),
    "fill_1d_value": lambda z: _frozen(z, 2, 3).fill_(_frozen(z, 1)),
    "fill_2_element_value": lambda z: _frozen(z, 2, 3).fill_(_frozen(z, 2)),
    "fill_2d_value": lambda z: _frozen(z, 2, 3).fill_(_frozen(z, 1, 1)),
    "fill_str": lambda z: _frozen(z, 2, 3).fill_("x"),
    "fill_list": lambda z: _frozen(z, 2, 3).fill_([1.0]),
    "fill_none": lambda z: _frozen(z, 2, 3).fill_(None),
    "fill_complex_into_real": lambda z: _frozen(z, 2, 3).fill_(1 + 2j),
    "item_of_many": lambda z: _frozen(z, 2).item(),
    "item_of_empty": lambda z: _frozen(z, 0).item(),
    "bool_of_many": lambda z: bool(_frozen(z, 2)),
    "bool_of_empty": lambda z: bool(_frozen(z, 0)),
    "float_of_many": lambda z: float(_frozen(z, 2)),
    "int_of_many": lambda z: int(_frozen(z, 2)),
    "len_of_0d": lambda z: len(_frozen(z)),
    "size_out_of_range": lambda z: _frozen(z, 2, 3).size(-3),
    "size_of_0d": lambda z: _frozen(z).size(0),
    "index_out_of_range": lambda z: _frozen(z, 2, 3)[5],
    "index_negative_out_of_range": lambda z: _frozen(z, 2, 3)[-3],
    "index_inner_out_of_range": lambda z: _frozen(z, 2, 3)[1, 7],
    "index_after_slice_out_of_range": lambda z: _frozen(z, 2, 3)[:, 3],
    "too_many_indices": lambda z: _frozen(z, 2, 3)[0, 0, 0],
    "index_of_0d": lambda z: _frozen(z)[0],
    "flatten_dim_out_of_range": lambda z: _frozen(z, 2, 3).flatten(0, 2),
    "flatten_start_after_end": lambda z: _frozen(z, 2, 3).flatten(1, 0),
    "reshape_wrong_size": lambda z: _frozen(z, 2, 3).reshape(5),
    "reshape_not_divisible": lambda z: _frozen(z, 2, 3).view(4, -1),
    "reshape_two_inferred": lambda z: _frozen(z, 2, 3).reshape(-1, -1),
    "sum_dim_out_of_range": lambda z: _frozen(z, 2, 3).sum(2),
    "mean_dim_out_of_range": lambda z: _frozen(z, 2, 3).mean(-3),
    "sum_repeated_dim": lambda z: _frozen(z, 3, 4).sum(dim=(0, 0)),
    "mean_repeated_negative_dim": lambda z: _frozen(z, 3, 4).mean(dim=(1, -1)),
    "norm_unknown_order": lambda z: _frozen(z, 3, 4).norm(p="abc"),
    "norm_fro_three_dims": lambda z: _frozen(z, 3, 4).norm("fro", dim=(0, 1, 2)),
    "norm_nuc_int_dim": lambda z: _frozen(z, 3, 4).norm("nuc", dim=0),
    "matmul_mismatch": lambda z: _frozen(z, 3, 4) @ _frozen(z, 3, 4),
    "matmul_method_mismatch": lambda z: _frozen(z, 3, 4).matmul(_frozen(z, 3, 4)),
    "rmatmul_mismatch": lambda z: z.tensor(2, 3) @ _frozen(z, 4, 2),
    "mm_mismatch": lambda z: _frozen(z, 3, 4).mm(_frozen(z, 3, 4)),
    "mm_of_vector": lambda z: _frozen(z, 3).mm(_frozen(z, 3, 1)),
    "add_broadcast_mismatch": lambda z: _frozen(z, 3, 4) + _frozen(z, 3, 3),
    "radd_broadcast_mismatch": lambda z: z.tensor(3, 3) + _frozen(z, 3, 4),
    "mul_broadcast_mismatch": lambda z: _frozen(z, 3, 4).mul(z.tensor(2, 1, 3)),
    "lt_broadcast_mismatch": lambda z: _frozen(z, 3, 4) < z.tensor(2),
    "div_unknown_rounding": lambda z: _frozen(z, 3).div(2.0, rounding_mode="x"),
    "max_dim_out_of_range": lambda z: _frozen(z, 3, 4).max(dim=2),
    "transpose_dim_out_of_range": lambda z: _frozen(z, 3, 4).transpose(0, 2),
    "unsqueeze_dim_out_of_range": lambda z: _frozen(z, 3, 4).unsqueeze(3),
    "mT_of_vector": lambda z: _frozen(z, 3).mT,
    "clamp_without_bounds": lambda z: _frozen(z, 3).clamp(),
    "iterate_0d": lambda z: iter(_frozen(z)),
}


@pytest.mark.parametrize("case", PARAMETER_USE_ERRORS)
def test_parameter_use_errors_are_torchs(case):
    from tests.nn._mirror import assert_same_error_in_zoos

    assert_same_error_in_zoos(PARAMETER_USE_ERRORS[case])


def test_requires_grad_on_integers_words_method_and_attribute_as_torch():
    """torch's attribute says "floating point and complex dtype", its method does not."""
    from tests.nn._same_error import assert_same_error

    ints = np.arange(3, dtype=np.int32)
    for flip in (lambda p: setattr(p, "requires_grad", True), lambda p: p.requires_grad_()):
        assert_same_error(
            lambda f=flip: f(torch.nn.Parameter(torch.tensor(ints), requires_grad=False)),
            lambda f=flip: f(nn.Parameter(ints, requires_grad=False)))


@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_grad_of_another_dtype_raises_torchs_whole_message(dtype):
    from tests.nn._same_error import assert_same_error

    assert_same_error(
        lambda: setattr(torch.nn.Parameter(torch.ones(2)), "grad",
                        torch.ones(2, dtype=getattr(torch, dtype))),
        lambda: setattr(nn.Parameter(jnp.ones(2)), "grad", np.ones(2, dtype)))

def test_checked_indexing_and_shapes_still_accept_what_torch_accepts():
    t, j = twins()
    for index in (1, -2, (1, -1), (slice(None), 2), (0, slice(1, 3)), slice(5, 9)):
        np.testing.assert_array_equal(np.asarray(j[index]), t[index].detach().numpy())
    assert j.reshape(-1, 2).shape == tuple(t.reshape(-1, 2).shape)
    assert j.flatten(-2, -1).shape == tuple(t.flatten(-2, -1).shape)
    assert j.size(-1) == t.size(-1)
    assert j.sum((0, -1)).shape == tuple(t.sum((0, -1)).shape)


@pytest.mark.parametrize("case", PARAMETER_ERRORS)
def test_parameter_misuse_raises_torchs_error(case):
    from tests.nn._mirror import assert_same_error_in_zoos

    assert_same_error_in_zoos(PARAMETER_ERRORS[case])


def test_int_data_on_a_parameter_that_requires_grad_is_refused():
    """vector_to_parameters(int vector) made the Parameter int32; torch refuses the data."""
    from tests.nn._same_error import assert_same_error

    def torch_call():
        torch.nn.utils.vector_to_parameters(torch.tensor([1, 2]),
                                            [torch.nn.Parameter(torch.ones(2))])

    p = nn.Parameter(jnp.ones(2))
    assert_same_error(torch_call, lambda: nn.utils.vector_to_parameters(jnp.array([1, 2]), [p]))
    assert p.dtype == jnp.float32
    frozen = nn.Parameter(jnp.ones(2), requires_grad=False)
    frozen.data = jnp.array([1, 2])  # torch allows it without requires_grad
    assert frozen.dtype == jnp.int32


def test_in_place_arithmetic_of_ema_code_matches_torch():
    """Weight-averaging code updates an EMA copy in place: `mul_(d).add_(p, alpha=1-d)`,
    `lerp_(p, w)`, `sub_`, `div_`, `clamp_` give torch's values, chained as in torch."""
    torch.manual_seed(0)
    tmodel, tema = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    jmodel, jema = nn.Linear(3, 2), nn.Linear(3, 2)
    jmodel.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    jema.load_state_dict({k: v.numpy() for k, v in tema.state_dict().items()})
    with torch.no_grad():
        for e, p in zip(tema.parameters(), tmodel.parameters()):
            e.mul_(0.9).add_(p, alpha=0.1)
            e.lerp_(p, 0.25)
            e.sub_(p, alpha=0.5).div_(2.0).clamp_(-0.2, 0.3)
    with jnn.no_grad():
        for e, p in zip(jema.parameters(), jmodel.parameters()):
            assert e.mul_(0.9).add_(p, alpha=0.1) is e
            e.lerp_(p, 0.25)
            e.sub_(p, alpha=0.5).div_(2.0).clamp_(-0.2, 0.3)
    for t, j in zip(tema.parameters(), jema.parameters()):
        np.testing.assert_allclose(np.asarray(j.data), t.detach().numpy(), rtol=1e-6,
                                   atol=1e-7)
    with pytest.raises(RuntimeError) as theirs:
        tema.bias.detach().lerp_(torch.ones(2, 2), 0.5)
    with pytest.raises(RuntimeError, match=f"^{re.escape(str(theirs.value))}$"), \
            jnn.no_grad():
        jema.bias.lerp_(jnp.ones((2, 2)), 0.5)
    # clamp_ with no bound: torch's error (jnn left the weight as it was, silently)
    with pytest.raises(RuntimeError) as theirs, torch.no_grad():
        tema.bias.clamp_()
    before = np.asarray(jema.bias.data)
    with pytest.raises(RuntimeError, match=f"^{re.escape(str(theirs.value))}$"), \
            jnn.no_grad():
        jema.bias.clamp_()
    np.testing.assert_array_equal(np.asarray(jema.bias.data), before)


def test_refused_grad_and_fill_leave_the_parameter_as_it_was():
    p = nn.Parameter(VALUES)
    p.grad = jnp.ones((2, 3))
    with pytest.raises(RuntimeError, match="can't assign Variable as its own grad"):
        p.grad = p
    np.testing.assert_array_equal(np.asarray(p.grad), np.ones((2, 3)))
    with jnn.no_grad(), pytest.raises(RuntimeError, match="fill_ only supports 0-dimension"):
        p.fill_(jnp.ones(3))
    np.testing.assert_array_equal(np.asarray(p.data), VALUES)


_NEW_CALLS = [
    ("new_zeros", (4,), {}), ("new_zeros", ((2, 3),), {}), ("new_zeros", (2, 3), {}),
    ("new_zeros", ([2, 1],), {"dtype": "float16"}), ("new_ones", (2, 3), {}),
    ("new_ones", ((3,),), {"dtype": "int32"}), ("new_full", ((2,), 3), {}),
    ("new_full", ([2, 2], 1.5), {"dtype": "bfloat16"}), ("new_tensor", ([1, 2],), {}),
    ("new_tensor", ([[1.5], [2]],), {"dtype": "int32"}), ("new_empty", (2, 3), {}),
]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize(("method", "args", "kwargs"), _NEW_CALLS)
def test_new_factory_methods_match_torch(method, args, kwargs, dtype):
    """``weight.new_zeros(layers, batch, hidden)`` (an RNN's ``init_hidden``) and the other
    ``new_*`` methods: torch's values, shapes and dtypes (the Parameter's unless given)."""
    tp = torch.nn.Parameter(torch.ones(2, 3, dtype=getattr(torch, dtype)))
    jp = nn.Parameter(jnp.ones((2, 3), getattr(jnp, dtype)))
    tkw = {k: getattr(torch, v) for k, v in kwargs.items()}
    jkw = {k: getattr(jnp, v) for k, v in kwargs.items()}
    want = getattr(tp, method)(*args, **tkw)
    got = getattr(jp, method)(*args, **jkw)
    assert isinstance(got, jax.Array)
    assert got.shape == tuple(want.shape)
    assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
    if method != "new_empty":
        np.testing.assert_array_equal(np.asarray(got, np.float32),
                                      want.detach().float().numpy())


@pytest.mark.parametrize(("method", "args"), [("new_zeros", (2.5,)), ("new_ones", ("a",)),
                                              ("new_full", (2, 1.0)), ("new_zeros", (2, -1))])
def test_new_factory_methods_bad_sizes_raise_as_torch(method, args):
    tp, jp = torch.nn.Parameter(torch.ones(2)), nn.Parameter(jnp.ones(2))
    with pytest.raises(Exception) as want:
        getattr(tp, method)(*args)
    with pytest.raises(type(want.value)) as got:
        getattr(jp, method)(*args)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize(("method", "args"), [("normal_", (0.5, 2.0)), ("uniform_", (-1.0, 3.0))])
def test_random_fill_methods_fill_in_place_from_torchs_distribution(method, args):
    """``p.normal_(0, 0.02)`` / ``p.uniform_(-b, b)`` under ``no_grad`` (a custom
    ``reset_parameters``): the Parameter itself is filled and returned, with the moments of
    torch's draws (20000 samples: 4 standard errors), and the generator is honoured."""
    tp = torch.nn.Parameter(torch.zeros(20000))
    jp = nn.Parameter(jnp.zeros(20000))
    with torch.no_grad():
        assert getattr(tp, method)(*args) is tp
    with jnn.no_grad():
        assert getattr(jp, method)(*args) is jp
    want, got = tp.detach().numpy(), np.asarray(jp.data)
    se = want.std() / np.sqrt(want.size)
    assert abs(got.mean() - want.mean()) < 4 * se * np.sqrt(2)
    assert abs(got.std() - want.std()) < 0.05 * want.std()
    if method == "uniform_":
        assert args[0] <= got.min() and got.max() < args[1]
    g1, g2 = jnn.Generator().manual_seed(3), jnn.Generator().manual_seed(3)
    a = np.asarray(getattr(nn.Parameter(jnp.zeros(5)), method)(*args, generator=g1).data)
    b = np.asarray(getattr(nn.Parameter(jnp.zeros(5)), method)(*args, generator=g2).data)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("method", "args"), [("normal_", (0.0, -1.0)), ("uniform_", (1.0, -1.0))])
def test_random_fill_methods_bad_arguments_raise_as_torch(method, args):
    tp, jp = torch.nn.Parameter(torch.zeros(3)), nn.Parameter(jnp.zeros(3))
    with torch.no_grad(), pytest.raises(RuntimeError) as want:
        getattr(tp, method)(*args)
    with pytest.raises(RuntimeError) as got:
        getattr(jp, method)(*args)
    assert str(got.value) == str(want.value)


def test_del_grad_and_data_match_torch():
    """``del p.grad`` frees the gradient, as in torch; ``del p.data`` raises torch's error
    (jnn's properties had no deleter: an AttributeError)."""
    (tp, jp), = [(torch.nn.Parameter(torch.ones(2)), nn.Parameter(jnp.ones(2)))]
    tp.grad, jp.grad = torch.ones(2), jnp.ones(2)
    del tp.grad
    del jp.grad
    assert tp.grad is None and jp.grad is None
    with pytest.raises(RuntimeError) as expected:
        del tp.data
    with pytest.raises(RuntimeError, match=f"^{re.escape(str(expected.value))}$"):
        del jp.data
    np.testing.assert_array_equal(np.asarray(jp.data), np.ones(2))


# -- the rest of torch's in-place methods a script calls on a weight under no_grad -------

START = np.array([[1.5, -0.25, 0.5], [0.75, 2.0, -1.25], [0.3, 0.6, 0.9]], np.float32)
OTHER = np.array([[0.5, 2.0, -1.0], [1.5, 0.25, 3.0], [-0.5, 1.0, 2.5]], np.float32)
IN_PLACE_METHODS = {  # name: (call, given the parameter, a same-shaped tensor, the library)
    **{name: (lambda n: lambda p, q, lib: getattr(p, n)())(name)
       for name in ("abs_", "neg_", "sqrt_", "rsqrt_", "exp_", "expm1_", "log_", "log1p_",
                    "sign_", "floor_", "ceil_", "trunc_", "frac_", "reciprocal_", "sigmoid_",
                    "tanh_", "relu_", "square_", "sin_", "cos_", "round_")},
    "round_decimals": lambda p, q, lib: p.round_(decimals=1),
    "pow_": lambda p, q, lib: p.pow_(2),
    "pow_tensor": lambda p, q, lib: p.pow_(q),
    "addcmul_": lambda p, q, lib: p.addcmul_(q, q, value=0.5),
    "addcdiv_": lambda p, q, lib: p.addcdiv_(q, q * q + 1, value=-0.1),
    "addcmul_broadcast": lambda p, q, lib: p.addcmul_(q[0], q[:, :1]),
    "masked_fill_": lambda p, q, lib: p.masked_fill_(q > 0.7, -3.0),
    "index_fill_": lambda p, q, lib: p.index_fill_(1, lib.tensor([0, 2]), 7.0),
    "index_fill_negative": lambda p, q, lib: p.index_fill_(0, lib.tensor([-1]), 1.0),
    "fill_diagonal_": lambda p, q, lib: p.fill_diagonal_(0.0),
    "fmod_": lambda p, q, lib: p.fmod_(0.4),
    "remainder_": lambda p, q, lib: p.remainder_(q),
    "clamp_min_": lambda p, q, lib: p.clamp_min_(0.5),
    "clamp_max_": lambda p, q, lib: p.clamp_max_(0.5),
    "clip_": lambda p, q, lib: p.clip_(-0.5, 0.5),
    "chained": lambda p, q, lib: p.abs_().sqrt_().mul_(2).addcmul_(q, q),
}


def _tensor_lib(lib):
    return lambda x: torch.tensor(x) if lib is torch else jnp.asarray(x)


@pytest.mark.parametrize("name", IN_PLACE_METHODS)
def test_more_in_place_methods_under_no_grad_match_torch(name):
    call = IN_PLACE_METHODS[name]
    tp, p = torch.nn.Parameter(torch.tensor(START)), nn.Parameter(jnp.asarray(START))

    class TorchLib:
        tensor = staticmethod(torch.tensor)

    class JnnLib:
        tensor = staticmethod(jnp.asarray)

    with torch.no_grad(), jnn.no_grad():
        assert call(tp, torch.tensor(OTHER), TorchLib) is tp
        assert call(p, jnp.asarray(OTHER), JnnLib) is p
    assert p.dtype == jnp.float32 and p.shape == (3, 3) and p.requires_grad
    np.testing.assert_allclose(np.asarray(p.data), tp.detach().numpy(), rtol=1e-6, atol=1e-7,
                               equal_nan=True)


def test_sign_in_place_of_nan_is_torchs_zero():
    values = np.array([np.nan, -2.0, 0.0, 3.0], np.float32)
    tp, p = torch.nn.Parameter(torch.tensor(values)), nn.Parameter(jnp.asarray(values))
    with torch.no_grad(), jnn.no_grad():
        tp.sign_()
        p.sign_()
    np.testing.assert_array_equal(np.asarray(p.data), tp.detach().numpy())


@pytest.mark.parametrize("call", [
    lambda p, lib: p.sqrt_(),
    lambda p, lib: p.addcmul_(lib.ones(3), lib.ones(3)),
    lambda p, lib: p.fill_diagonal_(0.0),
    lambda p, lib: p.masked_fill_(lib.ones(3) > 0, 0.0),
    lambda p, lib: p.index_fill_(0, lib.zeros(1, dtype=lib.int32), 0.0),
    lambda p, lib: p.pow_(2),
    lambda p, lib: p.clamp_min_(0),
    lambda p, lib: p.round_(),
], ids=["sqrt_", "addcmul_", "fill_diagonal_", "masked_fill_", "index_fill_", "pow_",
        "clamp_min_", "round_"])
def test_more_in_place_methods_on_a_leaf_that_requires_grad_raise_as_torch(call):
    tp, p = torch.nn.Parameter(torch.ones(3, 3)), nn.Parameter(jnp.ones((3, 3)))
    with pytest.raises(RuntimeError) as theirs:
        call(tp, torch)
    with pytest.raises(RuntimeError, match=f"^{re.escape(str(theirs.value))}$"):
        call(p, jnp)
    np.testing.assert_array_equal(np.asarray(p.data), np.ones((3, 3)))  # unchanged


@pytest.mark.parametrize("shape, call", [
    ((3,), lambda p, lib: p.fill_diagonal_(0.0)),
    ((2, 3, 3), lambda p, lib: p.fill_diagonal_(0.0)),
    ((3, 3), lambda p, lib: p.masked_fill_(lib.ones((3, 3)), 0.0)),
    ((3, 3), lambda p, lib: p.masked_fill_(lib.ones((2, 3, 3)) > 0, 0.0)),
    ((3, 3), lambda p, lib: p.addcmul_(lib.ones((2, 3, 3)), lib.ones(3))),
    ((3, 3), lambda p, lib: p.index_fill_(0, lib.tensor([3]), 0.0)),
    ((3, 3), lambda p, lib: p.index_fill_(0, lib.tensor([[0]]), 0.0)),
    ((3, 3), lambda p, lib: p.index_fill_(0, lib.tensor([0.0]), 0.0)),
    ((3, 3), lambda p, lib: p.addcdiv_(lib.tensor([1]), lib.tensor([2]))),
], ids=["fill_diagonal_1d", "fill_diagonal_unequal", "masked_fill_float_mask",
        "masked_fill_wider_mask", "addcmul_wider", "index_fill_out_of_range",
        "index_fill_matrix_index", "index_fill_float_index", "addcdiv_integers"])
def test_bad_in_place_calls_raise_as_torch(shape, call):
    tp, p = torch.nn.Parameter(torch.ones(shape)), nn.Parameter(jnp.ones(shape))

    class TorchLib:
        ones = staticmethod(lambda s: torch.ones(s))
        tensor = staticmethod(torch.tensor)

    class JnnLib:
        ones = staticmethod(lambda s: jnp.ones(s))
        tensor = staticmethod(jnp.asarray)

    with torch.no_grad(), pytest.raises(Exception) as theirs:
        call(tp, TorchLib)
    with jnn.no_grad(), pytest.raises(type(theirs.value)) as ours:
        call(p, JnnLib)
    assert str(ours.value) == str(theirs.value).split("\n")[0]
    np.testing.assert_array_equal(np.asarray(p.data), np.ones(shape))  # unchanged


def test_wrapped_fill_diagonal_of_a_tall_matrix_matches_torch():
    tp, p = torch.nn.Parameter(torch.zeros(7, 3)), nn.Parameter(jnp.zeros((7, 3)))
    with torch.no_grad(), jnn.no_grad():
        tp.fill_diagonal_(5.0, wrap=True)
        p.fill_diagonal_(5.0, wrap=True)
    np.testing.assert_array_equal(np.asarray(p.data), tp.detach().numpy())
    tq, q = torch.nn.Parameter(torch.zeros(3, 3, 3)), nn.Parameter(jnp.zeros((3, 3, 3)))
    with torch.no_grad(), jnn.no_grad():
        tq.fill_diagonal_(2.0)
        q.fill_diagonal_(2.0)
    np.testing.assert_array_equal(np.asarray(q.data), tq.detach().numpy())


def test_tensor_facts_a_script_reads_match_torchs():
    tp, p = torch.nn.Parameter(torch.ones(2, 3)), nn.Parameter(jnp.ones((2, 3)))
    for attr in ("is_leaf", "grad_fn", "is_cuda", "itemsize", "nbytes"):
        assert getattr(p, attr) == getattr(tp, attr), attr
    assert p.element_size() == tp.element_size() and p.is_contiguous() == tp.is_contiguous()
    assert p.contiguous() is p and tp.contiguous() is tp
    assert p.retain_grad() is None and tp.retain_grad() is None
    for name, dtype in (("half", np.float16), ("bfloat16", jnp.bfloat16)):
        out = getattr(p, name)()
        assert isinstance(out, jax.Array) and out.dtype == dtype
        assert str(getattr(tp, name)().dtype) == f"torch.{jnp.dtype(dtype).name}"


def test_to_and_cpu_return_the_parameter_itself_when_nothing_changes_as_torch():
    tp, p = torch.nn.Parameter(torch.ones(2, 3)), nn.Parameter(jnp.ones((2, 3)))
    for args, kwargs in [(("cpu",), {}), ((), {"dtype": None}), ((jnn.float32,), {}),
                         (("cpu", jnn.float32), {}), ((jnp.zeros(1),), {})]:
        assert p.to(*args, **kwargs) is p, (args, kwargs)
    assert tp.to("cpu") is tp and tp.cpu() is tp and p.cpu() is p
    half = p.to(jnn.float16)
    assert isinstance(half, jax.Array) and half.dtype == jnp.float16
    assert tp.to(torch.float16).dtype == torch.float16
    copied = p.to("cpu", copy=True)
    assert isinstance(copied, jax.Array) and copied is not p._data
    for args in (("cpu",), ()):
        with pytest.raises(TypeError) as theirs:
            tp.to(*args, bogus=1)
        with pytest.raises(TypeError, match=f"^{re.escape(str(theirs.value))}$"):
            p.to(*args, bogus=1)


def test_to_a_dtype_inside_a_loss_is_differentiable_as_torch():
    tp, p = torch.nn.Parameter(torch.tensor(START)), nn.Parameter(jnp.asarray(START))
    (tp.to(torch.float16).float() ** 2).sum().backward()
    jnn.autograd.backward(lambda: (p.to(jnn.float16).astype(jnp.float32) ** 2).sum())
    np.testing.assert_allclose(np.asarray(p.grad), tp.grad.numpy(), rtol=1e-3)
