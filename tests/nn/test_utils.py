"""``jnn.nn.utils`` (gradient clipping, parameters <-> vector) against ``torch.nn.utils``.

torch and jnn parameters start from the same numpy arrays, their ``.grad`` are set to the
same numpy arrays, and the returned norms and resulting gradients (or parameters) are
compared; error cases compare exception types and messages.
"""

from __future__ import annotations

import math
import re
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
import jnn.nn.functional as F
from jnn.nn import Parameter
from jnn.nn.utils import (
    clip_grad_norm,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
    parameters_to_vector,
    vector_to_parameters,
)

SHAPES = [(3, 4), (5,), (2, 3), (4,)]
NO_GRAD = 2  # SHAPES[2]'s parameter keeps grad None
RTOL = 1e-5
ATOL = 1e-6 * math.sqrt(12)  # the widest reduction: a 3 x 4 gradient


def _make(seed: int = 0, scale: float = 1.0, grads: bool = True, dtype=np.float32,
          shapes=SHAPES):
    """Twin (torch, jnn) parameter lists with equal data and equal gradients."""
    rng = np.random.default_rng(seed)
    data = [rng.standard_normal(s).astype(dtype) for s in shapes]
    tps = [torch.nn.Parameter(torch.tensor(d)) for d in data]
    jps = [Parameter(d) for d in data]
    if grads:
        for i, (tp, jp) in enumerate(zip(tps, jps)):
            if i == NO_GRAD:
                continue
            g = np.asarray(scale * rng.standard_normal(shapes[i]), dtype)
            tp.grad = torch.tensor(g)
            jp.grad = g
    return tps, jps


def _assert_grads(tps, jps, rtol=RTOL, atol=ATOL) -> None:
    for i, (tp, jp) in enumerate(zip(tps, jps)):
        if tp.grad is None:
            assert jp.grad is None, i
        else:
            assert jp.grad.dtype == np.dtype(str(tp.grad.dtype).removeprefix("torch.")), i
            np.testing.assert_allclose(np.asarray(jp.grad, np.float32),
                                       tp.grad.float().numpy(), rtol=rtol, atol=atol,
                                       equal_nan=True, err_msg=f"grad {i}")


# -- clip_grad_norm_ ---------------------------------------------------------------------------


@pytest.mark.parametrize("norm_type", [1, 2.0, 3.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # below the norm (clips) / above (no-op)
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    tps, jps = _make(seed=1)
    expected = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type)
    got = clip_grad_norm_(jps, max_norm, norm_type)
    assert got.shape == () and got.dtype == jnp.float32
    np.testing.assert_allclose(float(got), float(expected), rtol=RTOL)
    assert (float(expected) > max_norm) == (max_norm == 0.5)  # both regimes are exercised
    _assert_grads(tps, jps)


def test_clip_grad_norm_single_parameter_and_generator():
    tps, jps = _make(seed=2)
    expected = torch.nn.utils.clip_grad_norm_(tps[0], 0.1)
    got = clip_grad_norm_(jps[0], 0.1)
    np.testing.assert_allclose(float(got), float(expected), rtol=RTOL)
    _assert_grads(tps, jps)
    expected = torch.nn.utils.clip_grad_norm_((p for p in tps), 0.05, norm_type=1)
    got = clip_grad_norm_((p for p in jps), 0.05, norm_type=1)
    np.testing.assert_allclose(float(got), float(expected), rtol=RTOL)
    _assert_grads(tps, jps)


def test_clip_grad_norm_without_grads():
    tps, jps = _make(grads=False)
    expected = torch.nn.utils.clip_grad_norm_(tps, 1.0)
    got = clip_grad_norm_(jps, 1.0)
    assert float(got) == float(expected) == 0.0 and got.dtype == jnp.float32
    assert all(p.grad is None for p in jps)
    with warnings.catch_warnings(record=True) as t_rec:
        warnings.simplefilter("always")
        torch.nn.utils.clip_grad_norm_((p for p in []), 1.0)
    with pytest.warns(UserWarning, match=re.escape(str(t_rec[0].message))):
        assert float(clip_grad_norm_((p for p in []), 1.0)) == 0.0


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_clip_grad_norm_nonfinite(bad):
    tps, jps = _make(seed=3)
    with torch.no_grad():
        tps[0].grad[0, 0] = bad
    jps[0].grad = jps[0].grad.at[0, 0].set(bad)
    with pytest.raises(RuntimeError) as t_err:
        torch.nn.utils.clip_grad_norm_(tps, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match=re.escape(str(t_err.value))):
        clip_grad_norm_(jps, 1.0, error_if_nonfinite=True)
    _assert_grads(tps, jps)  # the check runs before any gradient is scaled
    expected = torch.nn.utils.clip_grad_norm_(tps, 1.0)  # scaled by the non-finite norm
    got = clip_grad_norm_(jps, 1.0)
    np.testing.assert_equal(float(got), float(expected))
    _assert_grads(tps, jps)


def test_clip_grad_norm_float16():
    tps, jps = _make(seed=4, scale=30.0, dtype=np.float16)
    expected = torch.nn.utils.clip_grad_norm_(tps, 2.0)
    got = clip_grad_norm_(jps, 2.0)
    assert got.dtype == jnp.float16
    np.testing.assert_allclose(float(got), float(expected), rtol=1e-3)
    _assert_grads(tps, jps, rtol=2e-3, atol=1e-3)


def test_get_total_norm_and_clip_grads_with_norm():
    tps, jps = _make(seed=5)
    t_grads = [p.grad for p in tps if p.grad is not None]
    j_grads = [p.grad for p in jps if p.grad is not None]
    for norm_type in (2.0, 3.5, math.inf):
        expected = torch.nn.utils.get_total_norm(t_grads, norm_type)
        np.testing.assert_allclose(float(get_total_norm(j_grads, norm_type)), float(expected),
                                   rtol=RTOL)
    assert float(get_total_norm([])) == float(torch.nn.utils.get_total_norm([])) == 0.0
    total = torch.nn.utils.get_total_norm(t_grads)
    torch.nn.utils.clip_grads_with_norm_(tps, 0.3, total)
    clip_grads_with_norm_(jps, 0.3, get_total_norm(j_grads))
    _assert_grads(tps, jps)


def test_clip_grad_norm_deprecated_alias():
    tps, jps = _make(seed=6)
    with pytest.warns(FutureWarning) as t_rec:
        expected = torch.nn.utils.clip_grad_norm(tps, 0.5)
    with pytest.warns(FutureWarning, match=re.escape(str(t_rec[0].message))):
        got = clip_grad_norm(jps, 0.5)
    np.testing.assert_allclose(float(got), float(expected), rtol=RTOL)
    _assert_grads(tps, jps)


def test_clip_grad_rejects_arrays():
    with pytest.raises(TypeError, match="expects Parameters"):
        clip_grad_norm_([jnp.ones(3)], 1.0)


# -- clip_grad_value_ ---------------------------------------------------------------------------


def test_clip_grad_value_matches_torch():
    tps, jps = _make(seed=7, scale=2.0)
    with torch.no_grad():
        tps[1].grad[0] = math.nan
    jps[1].grad = jps[1].grad.at[0].set(math.nan)
    assert torch.nn.utils.clip_grad_value_(tps, 0.7) is None
    assert clip_grad_value_(jps, 0.7) is None
    _assert_grads(tps, jps)
    torch.nn.utils.clip_grad_value_(tps[0], 0.2)  # a single parameter
    clip_grad_value_(jps[0], 0.2)
    _assert_grads(tps, jps)


# -- inside jnn.compile --------------------------------------------------------------------------


def test_clipping_inside_compiled_step_matches_torch():
    """backward, clip_grad_norm_, clip_grad_value_, step: one XLA program, torch's numbers."""
    rng = np.random.default_rng(8)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    jm = jnn.nn.Sequential(jnn.nn.Linear(4, 8), jnn.nn.Tanh(), jnn.nn.Linear(8, 3))
    jm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    t_opt = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    j_opt = jnn.optim.SGD(jm.parameters(), lr=0.1, momentum=0.9)
    batches = [(rng.standard_normal((6, 4)).astype(np.float32),
                3 * rng.standard_normal((6, 3)).astype(np.float32)) for _ in range(3)]

    @jnn.compile
    def step(x, y):
        j_opt.zero_grad()
        loss = jnn.autograd.backward(lambda: F.mse_loss(jm(x), y))
        norm = clip_grad_norm_(jm.parameters(), 0.5)
        clip_grad_value_(jm.parameters(), 0.05)
        j_opt.step()
        return loss, norm

    for x, y in batches:
        t_opt.zero_grad()
        t_loss = torch.nn.functional.mse_loss(tm(torch.tensor(x)), torch.tensor(y))
        t_loss.backward()
        t_norm = torch.nn.utils.clip_grad_norm_(tm.parameters(), 0.5)
        torch.nn.utils.clip_grad_value_(tm.parameters(), 0.05)
        t_opt.step()
        loss, norm = step(jnp.asarray(x), jnp.asarray(y))
        assert float(t_norm) > 0.5  # the clip is active
        np.testing.assert_allclose(float(loss), t_loss.item(), rtol=RTOL)
        np.testing.assert_allclose(float(norm), float(t_norm), rtol=RTOL)
        _assert_grads(list(tm.parameters()), list(jm.parameters()))
        for name, tp in tm.named_parameters():
            np.testing.assert_allclose(np.asarray(jm.get_parameter(name).data),
                                       tp.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=name)


def test_error_if_nonfinite_inside_compile_is_explained():
    p = Parameter(jnp.ones(3))
    p.grad = jnp.ones(3)

    @jnn.compile
    def step():
        return clip_grad_norm_([p], 1.0, error_if_nonfinite=True)

    with pytest.raises(RuntimeError, match="error_if_nonfinite=True.*inside a compiled"):
        step()
    np.testing.assert_array_equal(np.asarray(p.grad), np.ones(3))  # state left as it was


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_error_if_nonfinite_in_a_checked_compiled_step_raises_torchs_error(bad):
    """``jnn.compile(fn, checks=True)`` checks the norm's value in the program and raises
    torch's error after the call, with nothing written back (jnn's own error before)."""
    bad_tps, _ = _make(seed=3)
    with torch.no_grad():
        bad_tps[0].grad[0, 0] = bad
    with pytest.raises(RuntimeError) as t_err:
        torch.nn.utils.clip_grad_norm_(bad_tps, 1.0, error_if_nonfinite=True)
    tps, jps = _make(seed=3)

    @jnn.compile(checks=True, state=jps)
    def clip():
        return clip_grad_norm_(jps, 1.0, error_if_nonfinite=True)

    expected = torch.nn.utils.clip_grad_norm_(tps, 1.0, error_if_nonfinite=True)
    np.testing.assert_allclose(float(clip()), float(expected), rtol=RTOL)
    _assert_grads(tps, jps)
    jps[0].grad = jps[0].grad.at[0, 0].set(bad)
    before = [None if p.grad is None else np.asarray(p.grad) for p in jps]
    with pytest.raises(RuntimeError, match=re.escape(str(t_err.value))):
        clip()
    for a, p in zip(before, jps):
        if a is not None:
            np.testing.assert_array_equal(a, np.asarray(p.grad))


# -- parameters_to_vector / vector_to_parameters ---------------------------------------------------


def test_parameters_to_vector_and_back():
    tps, jps = _make(grads=False)
    expected = torch.nn.utils.parameters_to_vector(tps)
    vec = parameters_to_vector(jps)
    np.testing.assert_array_equal(np.asarray(vec), expected.detach().numpy())
    new = np.random.default_rng(9).standard_normal(vec.shape[0] + 2).astype(np.float32)
    torch.nn.utils.vector_to_parameters(torch.tensor(new), tps)  # surplus entries unused
    assert vector_to_parameters(jnp.asarray(new), jps) is None
    for tp, jp in zip(tps, jps):
        assert jp.shape == tuple(tp.shape)
        np.testing.assert_array_equal(np.asarray(jp.data), tp.detach().numpy())


def test_vector_to_parameters_errors():
    tps, jps = _make(grads=False)
    bad = [1.0, 2.0]
    with pytest.raises(TypeError) as t_err:
        torch.nn.utils.vector_to_parameters(bad, tps)
    with pytest.raises(TypeError, match=re.escape(str(t_err.value))):
        vector_to_parameters(bad, jps)
    with pytest.raises(RuntimeError) as t_err:
        torch.nn.utils.vector_to_parameters(torch.zeros(14), tps)
    with pytest.raises(RuntimeError, match=re.escape(str(t_err.value))):
        vector_to_parameters(jnp.zeros(14), jps)
    with pytest.raises(ValueError) as t_err:
        torch.nn.utils.parameters_to_vector([])
    with pytest.raises(ValueError, match=re.escape(str(t_err.value))):
        parameters_to_vector([])


def test_parameters_to_vector_is_differentiated():
    """An L2 penalty through parameters_to_vector reaches .grad, as loss.backward() does."""
    rng = np.random.default_rng(10)
    w = rng.standard_normal((3, 2)).astype(np.float32)
    tp = torch.nn.Parameter(torch.tensor(w))
    jp = Parameter(w)
    (torch.nn.utils.parameters_to_vector([tp]) ** 2).sum().backward()
    jnn.autograd.backward(lambda: (parameters_to_vector([jp]) ** 2).sum())
    np.testing.assert_allclose(np.asarray(jp.grad), tp.grad.numpy(), rtol=RTOL)


UTILS_ERRORS = [  # (call on torch.nn.utils/init or jnn's): torch's exception and message
    lambda U, t: U.parameters_to_vector([t.nn.Parameter(t.ones(2)), 3]),
    lambda U, t: U.clip_grad_norm_([3], 1.0),
    lambda U, t: U.clip_grads_with_norm_(_with_grad(t), 1.0, None),
    lambda U, t: U.clip_grads_with_norm_(_with_grad(t), 1.0, "2"),
    lambda U, t: U.get_total_norm([None]),  # torch reads tensors[0].device
    lambda U, t: U.get_total_norm([t.ones(2), t.ones(3), None]),
]


def _with_grad(t):
    p = t.nn.Parameter(t.ones(2))
    p.grad = t.ones(2)
    return [p]


def test_vector_to_parameters_given_a_non_tensor_is_torchs_error():
    """torch reads ``param.device`` first: an AttributeError, whose words jnn's message
    starts with."""
    with pytest.raises(AttributeError) as theirs:
        torch.nn.utils.vector_to_parameters(torch.zeros(2), [3])
    with pytest.raises(AttributeError, match=f"^{re.escape(str(theirs.value))}"):
        vector_to_parameters(jnp.zeros(2), [3])


@pytest.mark.parametrize("call", UTILS_ERRORS)
def test_non_tensors_raise_torchs_error(call):
    from tests.nn._same_error import assert_same_error

    assert_same_error(lambda: call(torch.nn.utils, torch), lambda: call(jnn.nn.utils, jnn))



@pytest.mark.parametrize("dtype", ["int32", "int16", "uint8", "bool"])
def test_clip_grad_norm_of_integer_gradients_raises_torchs_error(dtype):
    """torch's vector_norm refuses non-floating gradients; jnn clipped them (and changed
    them).  The failed call leaves the gradient as it was.  (int64: jnn holds it as int32
    without jax_enable_x64, so its message says Int where torch's says Long.)"""
    values = np.array([3, 4]).astype(dtype)
    tp = torch.nn.Parameter(torch.tensor(values), requires_grad=False)
    tp.grad = torch.tensor(values)
    jp = jnn.nn.Parameter(jnp.asarray(values), requires_grad=False)
    jp.grad = jnp.asarray(values)
    with pytest.raises(RuntimeError) as expected:
        torch.nn.utils.clip_grad_norm_([tp], 1.0)
    with pytest.raises(RuntimeError, match=f"^{re.escape(str(expected.value))}$"):
        jnn.nn.utils.clip_grad_norm_([jp], 1.0)
    np.testing.assert_array_equal(np.asarray(jp.grad), values)


def _grads_of(ps) -> list:
    return [None if p.grad is None else np.array(p.grad) for p in ps]


# Calls torch refuses, made as call(U, t, ps) with U = torch.nn.utils or jnn.nn.utils and
# t = torch or jnn. jnn wrote some gradients before raising, or clipped where torch raises.
BAD_CLIP_CALLS = {
    "clip_grad_norm_ max_norm of 2 elements":
        lambda U, t, ps: U.clip_grad_norm_(ps, t.tensor([1.0, 2.0])),
    "clip_grads_with_norm_ max_norm of 2 elements":
        lambda U, t, ps: U.clip_grads_with_norm_(ps, t.tensor([1.0, 2.0]), t.tensor(5.0)),
    "clip_grads_with_norm_ max_norm of 0 elements":
        lambda U, t, ps: U.clip_grads_with_norm_(ps, t.zeros(0), t.tensor(5.0)),
    "clip_grad_value_ clip_value of 2 elements":
        lambda U, t, ps: U.clip_grad_value_(ps, t.tensor([1.0, 2.0])),
    "clip_grads_with_norm_ total_norm of 2 elements":
        lambda U, t, ps: U.clip_grads_with_norm_(ps, 1.0, t.tensor([5.0, 1.0])),
    "clip_grads_with_norm_ total_norm of 1 element":  # torch's foreach path (its default)
        lambda U, t, ps: U.clip_grads_with_norm_(ps, 1.0, t.tensor([5.0])),
    "clip_grads_with_norm_ total_norm 2-d":
        lambda U, t, ps: U.clip_grads_with_norm_(ps, 1.0, t.ones((2, 3))),
    "clip_grads_with_norm_ total_norm complex":
        lambda U, t, ps: U.clip_grads_with_norm_(ps, 1.0, t.tensor(5.0 + 1j)),
    "clip_grads_with_norm_ total_norm a float":
        lambda U, t, ps: U.clip_grads_with_norm_(ps, 1.0, 5.0),
    "clip_grads_with_norm_ total_norm an int":
        lambda U, t, ps: U.clip_grads_with_norm_(ps, 1.0, 5),
    "clip_grads_with_norm_ total_norm a complex":
        lambda U, t, ps: U.clip_grads_with_norm_(ps, 1.0, 5 + 1j),
    "clip_grad_norm_ max_norm a complex array":
        lambda U, t, ps: U.clip_grad_norm_(ps, t.tensor([1.0 + 1j])),
    "clip_grad_value_ clip_value a complex array":
        lambda U, t, ps: U.clip_grad_value_(ps, t.tensor(1.0 + 1j)),
}


@pytest.mark.parametrize("call", BAD_CLIP_CALLS.values(), ids=BAD_CLIP_CALLS)
def test_bad_clip_arguments_raise_torchs_error_and_change_nothing(call):
    from tests.nn._same_error import assert_same_error

    tps, jps = _make(seed=11, shapes=[(2,), (1,), (3,), ()])
    before = _grads_of(jps)
    assert_same_error(lambda: call(torch.nn.utils, torch, tps),
                      lambda: call(jnn.nn.utils, jnn, jps))
    for a, b in zip(before, _grads_of(jps)):
        np.testing.assert_array_equal(a, b)
    _assert_grads(tps, jps)  # torch's are unchanged too


@pytest.mark.parametrize("number", [lambda t: t.tensor([0.3]), lambda t: t.tensor(0.3),
                                    lambda t: t.ones((1, 1)) * 0.3,
                                    lambda t: t.tensor(0.3 + 0j)],
                         ids=["1", "0-d", "1x1", "complex with imaginary 0"])
def test_one_element_bounds_are_numbers(number):
    """A one-element max_norm / clip_value is a number to torch (its float()); jnn broadcast
    it against the gradients, which gave a 0-d gradient the shape (1,)."""
    shapes = [(2,), (1,), (3,), ()]
    tps, jps = _make(seed=12, shapes=shapes)
    expected = torch.nn.utils.clip_grad_norm_(tps, number(torch))
    got = clip_grad_norm_(jps, number(jnn))
    np.testing.assert_allclose(float(got), float(expected), rtol=RTOL)
    _assert_grads(tps, jps)
    tps, jps = _make(seed=13, shapes=shapes)
    torch.nn.utils.clip_grads_with_norm_(tps, number(torch), torch.tensor(5.0))
    clip_grads_with_norm_(jps, number(jnn), jnn.tensor(5.0))
    _assert_grads(tps, jps)
    tps, jps = _make(seed=14, shapes=shapes)
    torch.nn.utils.clip_grad_value_(tps, number(torch))
    clip_grad_value_(jps, number(jnn))
    _assert_grads(tps, jps)


def test_clip_grad_value_of_complex_gradients_raises_torchs_error():
    """torch's clamp refuses complex numbers; jnn clamped them (and changed them)."""
    from tests.nn._same_error import assert_same_error

    tps, jps = _make(seed=15)
    ctp = torch.nn.Parameter(torch.zeros(2, dtype=torch.complex64))
    ctp.grad = torch.tensor([3 + 4j, -2j], dtype=torch.complex64)
    cjp = Parameter(jnp.zeros(2, jnp.complex64))
    cjp.grad = jnp.asarray([3 + 4j, -2j], jnp.complex64)
    before = _grads_of(jps + [cjp])
    assert_same_error(lambda: torch.nn.utils.clip_grad_value_(tps + [ctp], 0.5),
                      lambda: clip_grad_value_(jps + [cjp], 0.5))
    for a, b in zip(before, _grads_of(jps + [cjp])):
        np.testing.assert_array_equal(a, b)


def test_vector_to_parameters_given_a_parameter():
    """A Parameter is a Tensor to torch, so it is a valid vector (jnn refused it)."""
    tps, jps = _make(grads=False)
    new = np.arange(30, dtype=np.float32)
    torch.nn.utils.vector_to_parameters(torch.nn.Parameter(torch.tensor(new)), tps)
    vector_to_parameters(Parameter(new), jps)
    for tp, jp in zip(tps, jps):
        np.testing.assert_array_equal(np.asarray(jp.data), tp.detach().numpy())


@pytest.mark.parametrize("vec", [lambda t: t.tensor(1.0), lambda t: t.zeros(14)],
                         ids=["0-d", "too short"])
def test_vector_to_parameters_failure_changes_nothing(vec):
    """torch's error; jnn writes no parameter unless it can write them all (torch has
    written the first parameters when a too-short vector runs out)."""
    from tests.nn._same_error import assert_same_error

    tps, jps = _make(grads=False)
    before = [np.array(p.data) for p in jps]
    assert_same_error(lambda: torch.nn.utils.vector_to_parameters(vec(torch), tps),
                      lambda: vector_to_parameters(vec(jnn), jps))
    for a, p in zip(before, jps):
        np.testing.assert_array_equal(a, np.asarray(p.data))


def test_vector_to_parameters_integer_vector_changes_nothing():
    """An integer vector cannot become the data of a parameter that requires grad (torch's
    error); a frozen parameter before it keeps its data too (torch has written it)."""
    from tests.nn._same_error import assert_same_error

    def params(t):
        return [t.nn.Parameter(t.ones(2), requires_grad=False), t.nn.Parameter(t.ones(2))]

    tps, jps = params(torch), params(jnn)
    assert_same_error(lambda: torch.nn.utils.vector_to_parameters(torch.arange(4), tps),
                      lambda: vector_to_parameters(jnp.arange(4), jps))
    for p in jps:
        np.testing.assert_array_equal(np.asarray(p.data), np.ones(2, np.float32))
