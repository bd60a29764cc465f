"""Eager dispatch of ``F.*`` (jnn/nn/functional/_dispatch.py): one cached compiled call per
static configuration outside any trace, the plain function inside, and every eager
behaviour kept (random streams, value checks with torch's errors, warnings, identity)."""

from __future__ import annotations

import re
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
import jnn.nn as nn
import jnn.nn.functional as F
from jnn.nn.functional import _dispatch
from jnn.nn.functional._dispatch import cache_info
from tests.nn._same_error import assert_same_error

X = jnp.asarray(np.random.default_rng(0).standard_normal((4, 5)), jnp.float32)


def _programs(fn) -> int:
    """Compiled executables behind fn's dispatch cache (each jit counts its shapes)."""
    return sum(e.program._cache_size() for e in fn._jnn_dispatch_cache.values()
               if e is not _dispatch._PLAIN)


def test_eager_call_is_one_cached_program_per_configuration():
    F.hardtanh(X, -0.5, 0.5)
    before = _programs(F.hardtanh)
    for _ in range(3):
        out = F.hardtanh(X, -0.5, 0.5)
    assert _programs(F.hardtanh) == before  # no new trace or compile
    F.hardtanh(X, -0.25, 0.5)  # a new static configuration: one more program
    assert _programs(F.hardtanh) == before + 1
    expected = torch.nn.functional.hardtanh(torch.tensor(np.asarray(X)), -0.5, 0.5)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-6)


def test_inside_a_trace_the_plain_function_runs():
    cache = F.softsign._jnn_dispatch_cache
    n = len(cache)
    jax.jit(lambda x: F.softsign(x))(X)
    jax.grad(lambda x: F.softsign(x).sum())(X)
    jax.vmap(F.softsign)(X)
    assert len(cache) == n


def test_cache_is_bounded():
    for i in range(_dispatch.MAX_ENTRIES + 5):
        F.leaky_relu(X, 0.01 * (i + 1))
    assert len(F.leaky_relu._jnn_dispatch_cache) <= _dispatch.MAX_ENTRIES


@pytest.mark.parametrize("call", [
    lambda x: F.dropout(x, 0.5),
    lambda x: F.alpha_dropout(x, 0.3, training=True),
    lambda x: F.rrelu(x, training=True),
    lambda x: F.gumbel_softmax(x, tau=0.5),
    lambda x: F.dropout(x, 0.5, training=False),
])
def test_random_functions_draw_the_plain_functions_keys(call):
    jnn.manual_seed(7)
    got = [call(X) for _ in range(3)]
    key_got = jax.random.key_data(jnn.random.get_rng_state())
    jnn.manual_seed(7)
    with jax.disable_jit():  # the plain functions, op by op
        want = [call(X) for _ in range(3)]
    key_want = jax.random.key_data(jnn.random.get_rng_state())
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(key_got, key_want)


def test_dropout_in_eval_returns_its_input():
    assert F.dropout(X, 0.5, training=False) is X


@pytest.mark.parametrize("call, error, match", [
    (lambda: F.cross_entropy(X, jnp.array([0, 1, 2, 9])), IndexError,
     "Target 9 is out of bounds."),
    (lambda: F.nll_loss(X, jnp.array([0, -3, 2, 1])), IndexError, "Target -3 is out of bounds."),
    (lambda: F.binary_cross_entropy(jnp.full((2,), 1.5), jnp.ones(2)), RuntimeError,
     "all elements of input should be between 0 and 1"),
    (lambda: F.embedding(jnp.array([0, 7]), X), IndexError, "index out of range in self"),
    (lambda: F.one_hot(jnp.array([0, 5]), 3), RuntimeError,
     "Class values must be smaller than num_classes."),
])
def test_value_checks_raise_torchs_errors_eagerly(call, error, match):
    for _ in range(2):  # the first call traces, the second runs the cached program
        with pytest.raises(error, match=match):
            call()


def test_value_checks_match_torch_message():
    target = np.array([0, 1, 2, 9])
    with pytest.raises(IndexError) as theirs:
        torch.nn.functional.cross_entropy(torch.tensor(np.asarray(X)),
                                          torch.from_numpy(target))
    with pytest.raises(IndexError) as ours:
        F.cross_entropy(X, jnp.asarray(target))
    assert str(ours.value) == str(theirs.value)


def test_values_needed_in_python_fall_back_to_the_plain_function():
    t = jnp.array([0, 2, 1])
    out = F.one_hot(t)  # the class count comes from the values
    np.testing.assert_array_equal(out, np.eye(3, dtype=np.int32)[[0, 2, 1]])
    assert cache_info(F.one_hot)["plain"] >= 1
    with pytest.raises(RuntimeError, match="argument #2 'target' is out of range"):
        F.multilabel_margin_loss(X, jnp.full((4, 5), 7))


def test_int64_numpy_target_beyond_int32_is_refused():
    target = np.array([0, 2**33], dtype=np.int64)
    with pytest.raises((IndexError, OverflowError, ValueError)):
        F.cross_entropy(X[:2], target)


def test_parameter_argument_keeps_its_gradient():
    lin = nn.Linear(5, 3)
    loss = jnn.autograd.backward(lambda: F.linear(X, lin.weight, lin.bias).sum())
    tl = torch.nn.Linear(5, 3)
    with torch.no_grad():
        tl.weight.copy_(torch.from_numpy(np.asarray(lin.weight.data)))
        tl.bias.copy_(torch.from_numpy(np.asarray(lin.bias.data)))
    tloss = torch.nn.functional.linear(torch.tensor(np.asarray(X)), tl.weight, tl.bias).sum()
    tloss.backward()
    np.testing.assert_allclose(loss, tloss.item(), rtol=1e-5)
    np.testing.assert_allclose(lin.weight.grad, tl.weight.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_checks_inside_eager_autograd_raise():
    lin = nn.Linear(5, 3)
    with pytest.raises(IndexError, match="Target 7 is out of bounds."):
        jnn.autograd.backward(lambda: F.cross_entropy(lin(X), jnp.array([1, 7, 0, 0])))
    assert lin.weight.grad is None  # a failed backward changes nothing


def test_threads_draw_distinct_keys():
    jnn.manual_seed(3)
    masks: list = []

    def work():
        for _ in range(20):
            masks.append(np.asarray(F.dropout(jnp.ones(64), 0.5)))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(masks) == 40
    assert len({m.tobytes() for m in masks}) == 40  # every call drew a fresh key


def test_unhashable_static_arguments_run_plain():
    x = jnp.ones((1, 1, 4, 4))
    expected = torch.nn.functional.pad(torch.ones(1, 1, 4, 4), [1, 1, 2, 2])
    np.testing.assert_array_equal(F.pad(x, [1, 1, 2, 2]), expected.numpy())  # a list: hashed
    out = F.interpolate(x, size=[[8], [8]][0] + [8])  # a list built at the call: fine too
    assert out.shape == (1, 1, 8, 8)
    with pytest.raises(TypeError) as theirs:
        torch.nn.functional.pad(torch.ones(1, 1, 4, 4), [[1, 1], [2, 2]])
    with pytest.raises(TypeError) as ours:  # nested: runs plain, fails as torch does
        F.pad(x, [[1, 1], [2, 2]])
    assert str(ours.value) == str(theirs.value)


def test_error_raised_while_tracing_a_new_configuration_has_torchs_text_alone():
    """The first call of a configuration runs inside jax.jit; an error it raises there
    carries torch's message without JAX's traceback note (pytest's ``match`` reads notes,
    so torch's anchored regexes must match jnn's error as they match torch's)."""
    weight = jnp.ones((10, 3))
    idx = jnp.arange(8) % 10
    F.embedding_bag._jnn_dispatch_cache.clear()  # this call is the configuration's first
    for lib, args in ((torch.nn.functional, (torch.arange(8) % 10, torch.ones(10, 3),
                                               torch.tensor([[0]]))),
                      (F, (idx, weight, jnp.asarray([[0]])))):
        with pytest.raises(ValueError, match="^offsets has to be a 1D Tensor$") as info:
            lib.embedding_bag(*args)
        assert not getattr(info.value, "__notes__", None)


LIST_INPUTS = [  # (function, torch's arguments, jnn's arguments): a list where a tensor goes
    ("relu", lambda t: ([1.0, 2.0],)),
    ("gelu", lambda t: ([1.0],)),
    ("dropout", lambda t: ([1.0],)),
    ("linear", lambda t: ([[1.0, 2.0]], t.ones((3, 2)))),
    ("linear", lambda t: (t.ones((2, 2)), [[1.0, 2.0]])),
    ("layer_norm", lambda t: ([1.0, 2.0], (2,))),
    ("batch_norm", lambda t: ([[1.0]], None, None)),
]


@pytest.mark.parametrize("name, make", LIST_INPUTS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(LIST_INPUTS)])
def test_a_python_list_where_a_tensor_goes_raises_torchs_type_error(name, make):
    """JAX would turn the list into an array; torch refuses it, and so does jnn, eagerly
    and inside a trace (a list is not a tensor there either)."""
    from tests.nn._same_error import assert_same_error

    assert_same_error(lambda: getattr(torch.nn.functional, name)(*make(torch)),
                      lambda: getattr(F, name)(*make(jnp)))
    with pytest.raises(TypeError, match="must be Tensor, not list"):
        jax.jit(lambda: getattr(F, name)(*make(jnp)))()


def test_static_lists_are_still_static_arguments():
    x = jnp.arange(6.0).reshape(1, 2, 3)
    np.testing.assert_allclose(F.layer_norm(x, [3]), F.layer_norm(x, (3,)))
    np.testing.assert_allclose(F.pad(x, [1, 1]), torch.nn.functional.pad(
        torch.tensor(np.asarray(x)), [1, 1]).numpy())


def _r(t, *shape):
    return t.ones(shape) if t is torch else jnp.ones(shape)


_OBJECT = object()
NON_TENSOR_INPUTS = [  # (function, arguments built from torch or jnp): None, numbers, lists
    ("linear", lambda t: (None, _r(t, 4, 3))),
    ("linear", lambda t: (_r(t, 2, 3), None)),
    ("linear", lambda t: (_r(t, 2, 3), 1.0)),
    ("relu", lambda t: (None,)),
    ("relu", lambda t: (1.0,)),
    ("dropout", lambda t: (None,)),
    ("logsigmoid", lambda t: (None,)),
    ("cross_entropy", lambda t: (_r(t, 2, 3), None)),
    ("cross_entropy", lambda t: (_r(t, 2, 3), [0, 1])),
    ("nll_loss", lambda t: (None, _r(t, 2))),
    ("one_hot", lambda t: ([0, 1],)),
    ("embedding", lambda t: ([0, 1], _r(t, 5, 3))),
    ("embedding", lambda t: (None, _r(t, 5, 3))),
    ("grid_sample", lambda t: (_r(t, 1, 1, 2, 2), None)),
    # functions torch writes in Python: the AttributeError of their first tensor method
    ("mse_loss", lambda t: (_r(t, 2, 3), 1.0)),
    ("mse_loss", lambda t: (None, _r(t, 2))),
    ("mse_loss", lambda t: (_r(t, 2), [1.0, 2.0])),
    ("l1_loss", lambda t: (_r(t, 2), None)),
    ("binary_cross_entropy", lambda t: (_r(t, 2), [1.0, 0.0])),
    ("softmax", lambda t: ([1.0, 2.0], 0)),
    ("softmax", lambda t: (None,)),
    ("log_softmax", lambda t: (None, 0)),
    ("softmin", lambda t: (None, 0)),
    ("sigmoid", lambda t: ([1.0],)),
    ("tanh", lambda t: (None,)),
    ("normalize", lambda t: ([1.0, 2.0],)),
    ("interpolate", lambda t: ([[[1.0, 2.0]]], None, 2)),
    ("group_norm", lambda t: (None, 1)),
    ("adaptive_avg_pool2d", lambda t: (None, 2)),
    ("embedding_bag", lambda t: (t.zeros(2, dtype=t.int32), None, t.zeros(1, dtype=t.int32))),
    # a dict (a batch passed whole) or another object: JAX's errors before
    ("linear", lambda t: ({"x": _r(t, 2, 3)}, _r(t, 4, 3))),
    ("relu", lambda t: (_OBJECT,)),
    ("cross_entropy", lambda t: (_r(t, 2, 3), {"y": 0})),
    ("mse_loss", lambda t: (_OBJECT, _r(t, 2))),
    ("embedding", lambda t: ({0, 1}, _r(t, 5, 3))),
    # conv is overloaded in C++: any bad argument is "an invalid combination"
    ("conv2d", lambda t: (None, _r(t, 4, 3, 3, 3))),
    ("conv2d", lambda t: ({"x": 1}, _r(t, 4, 3, 3, 3))),
    ("conv2d", lambda t: (_r(t, 1, 3, 5, 5), [[1.0]])),
]


@pytest.mark.parametrize("name, make", NON_TENSOR_INPUTS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(NON_TENSOR_INPUTS)])
def test_none_or_a_number_where_a_tensor_goes_raises_torchs_error(name, make):
    """None (``jnp.array(None)`` would raise a ValueError) and Python numbers (JAX would
    take them) get torch's exception: the parser's TypeError, or for functions written in
    Python the AttributeError of their first tensor method."""
    from tests.nn._same_error import assert_same_error

    assert_same_error(lambda: getattr(torch.nn.functional, name)(*make(torch)),
                      lambda: getattr(F, name)(*make(jnp)))


def test_optional_tensor_arguments_still_take_none():
    x, w = jnp.ones((2, 3)), jnp.ones((4, 3))
    assert F.linear(x, w, None).shape == (2, 4)
    assert F.batch_norm(x, None, None, training=True).shape == (2, 3)
    assert F.cross_entropy(x, jnp.array([0, 1]), weight=None).shape == ()
    assert F.gaussian_nll_loss(x, x, 1.0).shape == ()  # var may be a float, as in torch


BAD_HYPER_PARAMETERS = [  # non-tensor arguments of the wrong type: torch's parser errors
    ("conv2d", lambda t: (_r(t, 1, 3, 5, 5), _r(t, 4, 3, 3, 3)), {"stride": 1.5}),
    ("conv2d", lambda t: (_r(t, 1, 3, 5, 5), _r(t, 4, 3, 3, 3)), {"groups": 1.5}),
    ("conv1d", lambda t: (_r(t, 1, 3, 5), _r(t, 4, 3, 3), None, 1, 0.5), {}),
    ("adaptive_avg_pool2d", lambda t: (_r(t, 1, 1, 4, 4), 2.5), {}),
    ("adaptive_avg_pool2d", lambda t: (_r(t, 1, 1, 4, 4), None), {}),
    ("adaptive_max_pool2d", lambda t: (_r(t, 1, 1, 4, 4), (2.5, 2)), {}),
    ("fractional_max_pool2d", lambda t: (_r(t, 1, 1, 4, 4), 2), {"output_ratio": 1.5}),
    ("pad", lambda t: (_r(t, 1, 1, 2, 2), 1), {}),
    ("pad", lambda t: (_r(t, 1, 1, 2, 2), (1.5, 1)), {}),
    ("softmax", lambda t: (_r(t, 2, 3),), {"dim": "a"}),
    ("softmin", lambda t: (_r(t, 2, 3),), {"dim": 1.0}),
    ("log_softmax", lambda t: (_r(t, 2, 3),), {"dim": (0, 1)}),
    ("batch_norm", lambda t: (_r(t, 2, 3), _r(t, 3), _r(t, 3)),
     {"training": True, "momentum": "x"}),
    ("group_norm", lambda t: (_r(t, 2, 4, 3), -2), {}),
    ("group_norm", lambda t: (_r(t, 2, 3, 5), 2, _r(t, 4)), {}),
    ("rms_norm", lambda t: (_r(t, 4), (3, 4)), {}),
    ("gaussian_nll_loss", lambda t: (_r(t, 2, 3), _r(t, 2, 3), -_r(t, 5)), {}),
    ("binary_cross_entropy", lambda t: (t.tensor([0.5, 2.0]) if t is torch
                                        else jnp.array([0.5, 2.0]),
                                        t.tensor([3.0, 0.5]) if t is torch
                                        else jnp.array([3.0, 0.5])), {}),
]


@pytest.mark.parametrize("name, make, kwargs", BAD_HYPER_PARAMETERS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BAD_HYPER_PARAMETERS)])
def test_bad_hyper_parameters_raise_torchs_error(name, make, kwargs):
    """``stride=1.5`` once ran as stride 1, ``adaptive_avg_pool2d(x, 2.5)`` as size 2."""
    from tests.nn._same_error import assert_same_error

    assert_same_error(lambda: getattr(torch.nn.functional, name)(*make(torch), **kwargs),
                      lambda: getattr(F, name)(*make(jnp), **kwargs))


@pytest.mark.parametrize("offsets, mode", [([0, 3, 1], "sum"), ([0, 1, 0], "mean")])
def test_embedding_bag_decreasing_offsets_raise_as_torch(offsets, mode):
    """jnn's segment sums would silently give an empty bag; torch's kernel fails."""
    from tests.nn._same_error import assert_same_error

    def call(t):
        lib = torch.nn.functional if t is torch else F
        return lib.embedding_bag(t.tensor([0, 1, 2, 3]) if t is torch else jnp.arange(4),
                                 _r(t, 5, 3),
                                 t.tensor(offsets) if t is torch else jnp.array(offsets),
                                 mode=mode)

    assert_same_error(lambda: call(torch), lambda: call(jnp))


def test_interpolate_align_corners_not_a_bool_raises_torchs_type_error():
    """It was taken as True; torch's upsample kernel refuses it (the first line is torch's;
    its per-argument "didn't match" lines are left out)."""
    kwargs = {"size": (2, 2), "mode": "bilinear", "align_corners": "x"}
    with pytest.raises(TypeError) as expected:
        torch.nn.functional.interpolate(torch.ones(1, 1, 4, 4), **kwargs)
    first = str(expected.value).splitlines()[0]
    with pytest.raises(TypeError, match=f"^{re.escape(first)}"):
        nn.Upsample(**kwargs)(jnp.ones((1, 1, 4, 4)))


# A 0-d integer tensor is an int to torch's parser (``F.one_hot(t, t.max() + 1)``), alone or
# in a size tuple; a 0-d float one is refused.  jnn traced it into the program and refused
# it ("must be int, not Tensor") or failed inside.
_INDEX_CASES = {
    "one_hot classes": lambda L, a: L.one_hot(a([0, 2, 1]), a([0, 2, 1]).max() + 1),
    "softmax dim kw": lambda L, a: L.softmax(a(np.ones((2, 3), np.float32)), dim=a(1)),
    "log_softmax dim": lambda L, a: L.log_softmax(a(np.ones((2, 3), np.float32)), a(1)),
    "glu dim": lambda L, a: L.glu(a(np.arange(8.0, dtype=np.float32).reshape(2, 4)), a(-1)),
    "pad element": lambda L, a: L.pad(a(np.ones((2, 3), np.float32)), (a(1), 2)),
    "interpolate size": lambda L, a: L.interpolate(a(np.ones((1, 1, 4), np.float32)),
                                                   size=a(5)),
    "conv stride element": lambda L, a: L.conv2d(a(np.ones((1, 1, 4, 4), np.float32)),
                                                 a(np.ones((1, 1, 2, 2), np.float32)),
                                                 stride=(a(2), 1)),
}


@pytest.mark.parametrize("case", _INDEX_CASES)
def test_0d_integer_arrays_for_int_arguments_are_ints_as_in_torch(case):
    call = _INDEX_CASES[case]
    expected = call(torch.nn.functional, lambda v: torch.tensor(v))
    got = call(F, lambda v: jnp.asarray(v))
    np.testing.assert_allclose(np.asarray(got), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("case", ["one_hot", "softmax", "pad"])
def test_0d_float_arrays_for_int_arguments_raise_torchs_error(case):
    calls = {"one_hot": lambda L, a: L.one_hot(a([1]), a(3.0)),
             "softmax": lambda L, a: L.softmax(a(np.ones((2, 3), np.float32)), dim=a(1.0)),
             "pad": lambda L, a: L.pad(a(np.ones((2, 3), np.float32)), (a(1.0), 1))}
    assert_same_error(lambda: calls[case](torch.nn.functional, torch.tensor),
                      lambda: calls[case](F, jnp.asarray))


def test_tuples_equal_in_value_but_not_in_type_get_their_own_programs():
    """``(2.0, 2) == (2, 2)`` with equal hashes: the dispatch key held the values only, so a
    call with ints found the program a float call had made, whose static float the pool
    refused (and a call after a good one would have run the wrong static values)."""
    x = jnp.ones((1, 1, 4, 4))
    expected = torch.nn.functional.max_pool2d(torch.ones(1, 1, 4, 4), (2, 2)).numpy()
    with pytest.raises(TypeError, match="must be tuple of ints, but found element of type "
                                        "float"):
        F.max_pool2d(x, (2.0, 2))
    np.testing.assert_array_equal(np.asarray(F.max_pool2d(x, (2, 2))), expected)
    with pytest.raises(TypeError, match="found element of type float"):
        F.max_pool2d(x, (2.0, 2))


@pytest.mark.parametrize("call", [lambda t: F.one_hot(t, t.max() + 1),
                                  lambda t: F.pad(t.astype(jnp.float32), (t[0], 1))],
                         ids=["one_hot", "pad"])
def test_a_traced_0d_array_for_an_int_argument_says_what_to_do(call):
    """Inside a trace the array has no value: torch's parser text, then jnn's fix."""
    with pytest.raises(TypeError, match=r"must be (int|tuple of ints).* Tensor.*compute it "
                                        r"outside and pass a Python number"):
        jnn.compile(call)(jnp.asarray([0, 2, 1]))
    with pytest.raises(TypeError, match="compute it outside"):
        jax.jit(call)(jnp.asarray([0, 2, 1]))


# Penalties that hand a Parameter straight to F.* (outside forward): (torch, jnn), each
# given the module and its functional namespace.  F.softmax without ``dim`` warns, so its
# configuration runs the plain function: the unwrapping must happen there too.
_PENALTIES = {
    "relu": lambda m, f: f.relu(m.bias).sum(),
    "mse_loss": lambda m, f: f.mse_loss(m.weight, m.weight * 0 + 0.5),
    "l1_loss_kwargs": lambda m, f: f.l1_loss(input=m.weight, target=m.weight * 0),
    "softplus": lambda m, f: f.softplus(m.weight, beta=2.0).sum(),
    "softmax_plain": lambda m, f: (f.softmax(m.weight) * m.weight).sum(),
}


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")
# eager step(closure) compiles its third call: compiling must not fail
@pytest.mark.filterwarnings("error:.*compiling it failed:jnn.ClosureCompileWarning")
@pytest.mark.parametrize("mode", ["step", "backward", "compile"])
@pytest.mark.parametrize("penalty", sorted(_PENALTIES))
def test_a_parameter_given_to_F_is_read_as_torch_in_every_mode(penalty, mode):
    """``F.relu(m.bias).sum()`` as a penalty: the Parameter is unwrapped through its logged
    read eagerly, in an eager differentiated closure (a configuration that runs the plain
    function included), and under ``jnn.compile`` (where its ``__array__`` would meet
    traced data); values and gradients as torch's."""
    form = _PENALTIES[penalty]
    torch.manual_seed(0)
    tmodel, jmodel = torch.nn.Linear(3, 2), nn.Linear(3, 2)
    jmodel.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.1)
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)

    def closure():
        jopt.zero_grad()
        return form(jmodel, F) + jmodel(jnp.asarray(x)).sum()

    compiled = jnn.compile(lambda: jopt.step(closure))
    for _ in range(4):  # the third eager step(closure) runs compiled
        topt.zero_grad()
        want = form(tmodel, torch.nn.functional) + tmodel(torch.from_numpy(x)).sum()
        want.backward()
        if mode == "backward":
            got = jnn.autograd.backward(closure)
        else:
            got = jopt.step(closure) if mode == "step" else compiled()
        for (name, t), j in zip(tmodel.named_parameters(), jmodel.parameters(), strict=True):
            np.testing.assert_allclose(np.asarray(j.grad), t.grad.numpy(), rtol=1e-5,
                                       atol=1e-6, err_msg=name)
        topt.step()
        if mode == "backward":
            jopt.step()
        np.testing.assert_allclose(np.asarray(got), want.item(), rtol=1e-5, atol=1e-6)
    for (name, t), j in zip(tmodel.named_parameters(), jmodel.parameters(), strict=True):
        np.testing.assert_allclose(np.asarray(j.data), t.detach().numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=name)


def test_a_parameter_given_to_F_under_jax_jit_and_grad():
    """Inside ``jax.jit`` the plain function runs and reads the Parameter's array."""
    lin = nn.Linear(3, 2)
    got = jax.jit(lambda: F.softplus(lin.weight).sum())()
    np.testing.assert_allclose(got, F.softplus(lin.weight.data).sum(), rtol=1e-6)
    grad = jax.grad(lambda s: (F.relu(lin.bias) * s).sum())(2.0)
    np.testing.assert_allclose(grad, np.maximum(np.asarray(lin.bias.data), 0).sum(), rtol=1e-6)
