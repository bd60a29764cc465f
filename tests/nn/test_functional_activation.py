"""jnn.nn.functional activations against torch.nn.functional: values, gradients, errors."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import jnn.nn.functional as F
from tests.oracle import check_function as check_against_torch

RTOL = 1e-5


def _input(shape=(4, 6), seed=0):
    """Random values plus every kink torch picks a subgradient at (0, +-1, +-3, 6, ...)."""
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 3
    # ... and huge values, where an overflowing unused branch must not leak NaN gradients.
    special = np.array(
        [0.0, -1.0, 1.0, -3.0, 3.0, 6.0, 2.0, -20.0, 25.0, 0.5, 90.0, -90.0, 1e4, -1e4],
        np.float32,
    )
    x.reshape(-1)[: special.size] = special
    return x


# (name, kwargs): one line per configuration; the same (4, 6) input for all.
ELEMENTWISE = [
    ("relu", {}),
    ("relu6", {}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {}),
    ("elu", {"alpha": 0.5}),
    ("selu", {}),
    ("celu", {}),
    ("celu", {"alpha": 2.0}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
    ("mish", {}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("hardtanh", {}),
    ("hardtanh", {"min_val": -2.0, "max_val": 3.0}),
    ("hardsigmoid", {}),
    ("hardswish", {}),
    ("softplus", {}),
    ("softplus", {"beta": 2.0, "threshold": 4.0}),  # x = 2 sits exactly on the threshold
    ("softsign", {}),
    ("logsigmoid", {}),
]


@pytest.mark.parametrize("name, kwargs", ELEMENTWISE)
def test_elementwise_matches_torch(name, kwargs):
    check_against_torch(
        lambda x: getattr(F, name)(x, **kwargs),
        lambda x: getattr(TF, name)(x, **kwargs),
        [_input()],
    )


@pytest.mark.parametrize("name", sorted({name for name, _ in ELEMENTWISE}))
def test_nan_propagates_like_torch(name):
    x = np.array([np.nan, 1.5, -1.5, 0.0], np.float32)
    expected = getattr(TF, name)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(getattr(F, name)(x), expected, rtol=RTOL, atol=1e-6)


@pytest.mark.parametrize("name", ["relu", "relu6", "hardtanh", "tanh", "sigmoid"])
def test_integer_input_dtype_like_torch(name):
    x = np.arange(-3, 5, dtype=np.int32)
    expected = getattr(TF, name)(torch.from_numpy(x))
    got = getattr(F, name)(x)
    assert jnp.issubdtype(got.dtype, jnp.floating) == expected.dtype.is_floating_point
    np.testing.assert_allclose(got, expected.numpy(), rtol=RTOL, atol=1e-6)


# (name, kwargs) over the dimension-wise functions; n_reduce is the reduced size.
ALONG_DIM = [
    ("softmax", {"dim": 1}),
    ("softmax", {"dim": 0}),
    ("softmax", {"dim": -1}),
    ("log_softmax", {"dim": 1}),
    ("log_softmax", {"dim": 0}),
    ("softmin", {"dim": 1}),
    ("glu", {}),
    ("glu", {"dim": 0}),
]


@pytest.mark.parametrize("name, kwargs", ALONG_DIM)
def test_along_dim_matches_torch(name, kwargs):
    check_against_torch(
        lambda x: getattr(F, name)(x, **kwargs),
        lambda x: getattr(TF, name)(x, **kwargs),
        [_input()],
        n_reduce=6,
    )


def test_inplace_is_accepted_and_returns_a_new_array():
    x = jnp.asarray(_input())
    y = F.relu(x, inplace=True)
    np.testing.assert_array_equal(y, np.maximum(np.asarray(x), 0))
    assert float(x.min()) < 0  # the input is untouched


# (name, shape): the legacy rule picks dim 0 for 0-, 1- and 3-d inputs, else dim 1.
IMPLICIT_DIM = [
    ("softmax", ()),
    ("softmax", (3,)),
    ("softmax", (2, 3)),
    ("softmax", (2, 3, 2)),
    ("softmax", (2, 3, 2, 1)),
    ("log_softmax", (2, 3, 2)),
    ("softmin", (2, 3)),
]


@pytest.mark.parametrize("name, shape", IMPLICIT_DIM)
def test_implicit_dim_follows_torch_and_warns(name, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name}") as record:
        got = getattr(F, name)(x)
    assert record[0].filename == __file__  # the warning points at the caller, as torch's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = getattr(TF, name)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-6)


def test_softmax_dtype_casts_first():
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    got = F.softmax(x, dim=1, dtype=jnp.float32)
    expected = TF.softmax(torch.from_numpy(x), dim=1, dtype=torch.float32).numpy()
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-6)


def test_composes_with_jit_vmap_grad():
    x = _input()
    per_row = jax.jit(jax.vmap(jax.grad(lambda row: F.log_softmax(row, dim=0)[0])))(x)
    t_x = torch.from_numpy(x).requires_grad_(True)
    TF.log_softmax(t_x, dim=1)[:, 0].sum().backward()
    np.testing.assert_allclose(per_row, t_x.grad.numpy(), rtol=RTOL, atol=1e-6)


# (call, exception type, torch's message regex); the torch call must raise the same.
ERRORS = [
    (lambda f, x: f.gelu(x, approximate="foo"), RuntimeError, "approximate argument must be"),
    (lambda f, x: f.hardtanh(x, 1.0, 0.0), ValueError, "min_val cannot be greater than max_val"),
    (lambda f, x: f.softmax(x, dim=2), IndexError, r"range of \[-2, 1\], but got 2\)"),
    (lambda f, x: f.log_softmax(x, dim=-3), IndexError, r"range of \[-2, 1\], but got -3\)"),
    (lambda f, x: f.glu(x, dim=2), IndexError, "Dimension out of range"),
    (lambda f, x: f.glu(x[:, :3]), RuntimeError, "dimension 1 is size 3"),
    (lambda f, x: f.glu(x[0, 0]), RuntimeError, "glu does not support scalars"),
]


@pytest.mark.parametrize("call, exc, match", ERRORS)
def test_errors_match_torch(call, exc, match):
    x = _input()
    with pytest.raises(exc, match=match):
        call(TF, torch.from_numpy(x))
    with pytest.raises(exc, match=match):
        call(F, jnp.asarray(x))


@given(
    shape=st.sampled_from([(4, 6), (6,)]),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([1.0, 10.0, 100.0]),
)
def test_log_softmax_stable_for_large_logits(shape, seed, scale):
    x = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)
    got = F.log_softmax(x, dim=-1)
    assert np.isfinite(np.asarray(got)).all()
    expected = TF.log_softmax(torch.from_numpy(x), dim=-1).numpy()
    # log-probabilities grow with the logits' scale; rtol covers them, atol the near-zeros.
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-6 * scale)
