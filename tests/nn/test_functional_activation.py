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

import jnn
import jnn.nn
import jnn.nn.functional as F
from tests.nn._same_error import assert_same_error
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
    ("hardshrink", {}),
    ("hardshrink", {"lambd": 1.0}),  # +-1 sit exactly on the kinks
    ("softshrink", {}),
    ("softshrink", {"lambd": 3.0}),
    ("tanhshrink", {}),
    ("threshold", {"threshold": 1.0, "value": -5.0}),
    ("threshold", {"threshold": 0.0, "value": 0.0}),
    ("rrelu", {}),  # training=False: the mean slope
    ("rrelu", {"lower": 0.2, "upper": 0.2, "training": True}),  # one possible slope
]


@pytest.mark.parametrize("name, kwargs", ELEMENTWISE)
def test_elementwise_matches_torch(name, kwargs):
    check_against_torch(
        lambda x: getattr(F, name)(x, **kwargs),
        lambda x: getattr(TF, name)(x, **kwargs),
        [_input()],
    )


@pytest.mark.parametrize("name, kwargs", sorted({name: kw for name, kw in ELEMENTWISE}.items()))
def test_nan_propagates_like_torch(name, kwargs):
    x = np.array([np.nan, 1.5, -1.5, 0.0], np.float32)
    expected = getattr(TF, name)(torch.from_numpy(x), **kwargs).numpy()
    np.testing.assert_allclose(getattr(F, name)(x, **kwargs), expected, rtol=RTOL, atol=1e-6)


@pytest.mark.parametrize("weight", [np.array([0.25], np.float32),
                                    np.array(-0.5, np.float32),
                                    np.array([0.1, -0.2, 0.3, 0.5, 2.0, -1.0], np.float32)])
def test_prelu_matches_torch(weight):
    # (4, 6): channel dim 1 has 6 entries; both the input and the weight get gradients
    check_against_torch(F.prelu, TF.prelu, [_input(), weight], grad_argnums=(0, 1), n_reduce=4)


def test_prelu_channel_broadcast_on_4d_matches_torch():
    x = _input((2, 3, 2, 2))
    check_against_torch(F.prelu, TF.prelu, [x, np.array([0.1, 0.2, 0.3], np.float32)],
                        grad_argnums=(0, 1), n_reduce=8)


def test_one_hot_matches_torch():
    idx = np.array([[0, 3], [2, 1], [3, 3]])
    for num_classes in (-1, 4, 6):
        expected = TF.one_hot(torch.from_numpy(idx), num_classes).numpy()
        got = F.one_hot(jnp.asarray(idx), num_classes)
        assert got.dtype == jnp.int32  # torch's int64 is jnn's int32 (no x64)
        np.testing.assert_array_equal(got, expected)
    assert F.one_hot(jnp.zeros((0,), jnp.int32), 3).shape == (0, 3)
    np.testing.assert_array_equal(F.one_hot(jnp.asarray(2), 3), [0, 0, 1])


def test_one_hot_under_jit_needs_num_classes():
    idx = jnp.array([0, 2, 1])
    np.testing.assert_array_equal(jax.jit(lambda i: F.one_hot(i, 3))(idx), np.eye(3)[[0, 2, 1]])
    with pytest.raises(ValueError, match=r"Pass it explicitly, e\.g\. `F\.one_hot\(target, "
                                         r"num_classes=10\)`"):
        jax.jit(F.one_hot)(idx)


def test_gumbel_softmax_soft_and_hard():
    logits = jnp.asarray(_input((4, 6)))
    key = jax.random.key(0)
    soft = F.gumbel_softmax(logits, tau=0.5, key=key)
    hard = F.gumbel_softmax(logits, tau=0.5, hard=True, key=key)
    np.testing.assert_allclose(soft.sum(-1), 1.0, rtol=1e-6)
    # hard: the one-hot of the soft sample's argmax ...
    np.testing.assert_array_equal(hard, np.eye(6)[np.argmax(soft, -1)])
    # ... with the soft sample's gradient (straight-through)
    ct = jnp.asarray(_input((4, 6), seed=1))
    g_soft = jax.grad(lambda v: (F.gumbel_softmax(v, 0.5, key=key) * ct).sum())(logits)
    g_hard = jax.grad(lambda v: (F.gumbel_softmax(v, 0.5, True, key=key) * ct).sum())(logits)
    np.testing.assert_allclose(g_hard, g_soft, rtol=1e-5, atol=1e-6)
    # torch's formula on jnn's noise: softmax((logits + g) / tau), g = Gumbel(0, 1)
    noise = np.asarray(jax.random.gumbel(key, logits.shape))
    expected = TF.softmax((torch.from_numpy(np.asarray(logits) + noise)) / 0.5, dim=-1)
    np.testing.assert_allclose(soft, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_gumbel_softmax_samples_the_softmax_distribution():
    # hard samples are draws from Categorical(softmax(logits)) for any tau
    probs = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    logits = jnp.broadcast_to(jnp.log(jnp.asarray(probs)), (20000, 4))
    jnn.manual_seed(0)
    counts = np.asarray(F.gumbel_softmax(logits, tau=0.3, hard=True)).sum(0)
    n = counts.sum()
    assert n == 20000
    np.testing.assert_allclose(counts / n, probs, atol=5 * np.sqrt(0.25 / n))
    assert not np.array_equal(F.gumbel_softmax(logits[:8]), F.gumbel_softmax(logits[:8]))


def test_gumbel_softmax_eps_warns_like_torch():
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated and has no effect."):
        TF.gumbel_softmax(torch.zeros(2, 3), eps=1e-5)
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated and has no effect."):
        F.gumbel_softmax(jnp.zeros((2, 3)), eps=1e-5, key=jax.random.key(0))


@pytest.mark.parametrize("dtype", ["int32", "bool", "uint8"])
@pytest.mark.parametrize("dim", [-1, 5])  # the noise's dtype is checked before the dim
def test_gumbel_softmax_of_a_non_float_input_raises_like_torch(dtype, dim):
    # torch draws the noise with exponential_() in the input's dtype; jnn's int32 is Int
    x = np.ones((2, 3), dtype)
    assert_same_error(lambda: TF.gumbel_softmax(torch.tensor(x), dim=dim),
                      lambda: F.gumbel_softmax(jnp.asarray(x), dim=dim, key=jax.random.key(0)))


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
    (lambda f, x: f.softshrink(x, -0.5), RuntimeError,
     r"lambda must be in range \[0, 3\.40282e\+38\] for input dtype Float, but found -0\.5"),
    (lambda f, x: f.softshrink(x, float("nan")), RuntimeError, "but found nan"),
    (lambda f, x: f.rrelu(x, 0.5, 0.1), RuntimeError, "Lower bound should be less than"),
    (lambda f, x: f.rrelu(x, 0.5, 0.1, True), RuntimeError, "Lower bound should be less than"),
    (lambda f, x: f.prelu(x, x[:2, 0]), RuntimeError,
     r"Found parameter numbers = 2 and channel size = 6\."),
    (lambda f, x: f.prelu(x, x[:1]), RuntimeError,
     "prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = 2"),
    (lambda f, x: f.one_hot(x), RuntimeError,
     "one_hot is only applicable to index tensor of type LongTensor."),
    (lambda f, x: f.one_hot(abs(x[0]).long() if hasattr(x, "long") else abs(x[0]).astype(int),
                            2), RuntimeError, "Class values must be smaller than num_classes."),
    (lambda f, x: f.one_hot(x[0].long() if hasattr(x, "long") else x[0].astype(int), 30),
     RuntimeError, "Class values must be non-negative."),
    (lambda f, x: f.one_hot(x[:0].long() if hasattr(x, "long") else x[:0].astype(int)),
     RuntimeError, "Can not infer total number of classes from empty tensor."),
    (lambda f, x: f.gumbel_softmax(x, dim=2), IndexError, r"range of \[-2, 1\], but got 2"),
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


# -- bad inputs and arguments: torch's exception type and message --------------------------
BOOL = np.ones((2, 3), np.bool_)
FLOATS = np.ones((2, 3), np.float32)


def _both(fn_name, x, *args, **kwargs):
    """(torch call, jnn call) of the same F function on the same input."""
    return (lambda: getattr(TF, fn_name)(torch.from_numpy(x), *args, **kwargs),
            lambda: getattr(F, fn_name)(jnp.asarray(x), *args, **kwargs))


@pytest.mark.parametrize("fn_name, args", [
    ("relu", ()), ("relu6", ()), ("hardtanh", ()), ("hardtanh", (0.0, 1.0)),
])
def test_bool_input_of_clamping_activations_raises_like_torch(fn_name, args):
    # "Boolean inputs not supported for relu" / "Bool inputs not supported for hardtanh"
    assert_same_error(*_both(fn_name, BOOL, *args))
    assert_same_error(*_both(fn_name, BOOL[:0], *args))  # empty too


@pytest.mark.parametrize("name", ["ReLU", "ReLU6", "Hardtanh"])
def test_bool_input_of_clamping_layers_raises_like_torch(name):
    assert_same_error(lambda: getattr(torch.nn, name)()(torch.from_numpy(BOOL)),
                      lambda: getattr(jnn.nn, name)()(jnp.asarray(BOOL)))


@pytest.mark.parametrize("x", [FLOATS, BOOL], ids=["float", "bool"])
def test_celu_with_zero_alpha_raises_like_torch(x):
    # checked before the dtype; the module is built and refuses at its call, as torch's
    assert_same_error(*_both("celu", x, alpha=0.0))
    assert_same_error(lambda: torch.nn.CELU(alpha=0.0)(torch.from_numpy(x)),
                      lambda: jnn.nn.CELU(alpha=0.0)(jnp.asarray(x)))


@pytest.mark.parametrize("weight", [np.ones(3, np.float32), np.ones(0, np.float32)])
def test_prelu_on_zero_dim_input_with_several_slopes_raises_like_torch(weight):
    x = np.float32(1.0)
    assert_same_error(lambda: TF.prelu(torch.tensor(x), torch.from_numpy(weight)),
                      lambda: F.prelu(jnp.asarray(x), jnp.asarray(weight)))
    if weight.size:
        assert_same_error(lambda: torch.nn.PReLU(3)(torch.tensor(x)),
                          lambda: jnn.nn.PReLU(3)(jnp.asarray(x)))


@pytest.mark.parametrize("args", [("a", 0), (0, "a"), (None, 0), ([1], 0)])
def test_threshold_non_number_arguments_raise_like_torch(args):
    # "threshold(): argument 'threshold' (position 2) must be Number, not str"
    assert_same_error(*_both("threshold", FLOATS, *args))
    assert_same_error(*_both("threshold", BOOL, *args))  # before the dtype check
    assert_same_error(lambda: torch.nn.Threshold(*args)(torch.from_numpy(FLOATS)),
                      lambda: jnn.nn.Threshold(*args)(jnp.asarray(FLOATS)))
    assert_same_error(  # the in-place form names threshold_
        lambda: torch.nn.Threshold(*args, inplace=True)(torch.from_numpy(FLOATS.copy())),
        lambda: jnn.nn.Threshold(*args, inplace=True)(jnp.asarray(FLOATS)))


@pytest.mark.parametrize("slope", ["a", None, [0.1]])
def test_leaky_relu_non_number_slope_raises_like_torch(slope):
    assert_same_error(*_both("leaky_relu", FLOATS, slope))
    assert_same_error(lambda: torch.nn.LeakyReLU(slope)(torch.from_numpy(FLOATS)),
                      lambda: jnn.nn.LeakyReLU(slope)(jnp.asarray(FLOATS)))
    assert_same_error(
        lambda: torch.nn.LeakyReLU(slope, inplace=True)(torch.from_numpy(FLOATS.copy())),
        lambda: jnn.nn.LeakyReLU(slope, inplace=True)(jnp.asarray(FLOATS)))


def test_number_like_threshold_and_slope_still_work():
    x = jnp.asarray(_input())
    for value in (np.float32(0.5), jnp.asarray(0.5), True, 1):
        np.testing.assert_allclose(F.threshold(x, value, 0.0),
                                   TF.threshold(torch.from_numpy(_input()), float(value), 0.0))
        np.testing.assert_allclose(F.leaky_relu(x, value),
                                   TF.leaky_relu(torch.from_numpy(_input()), float(value)))


# An argument of the wrong type reaches torch's argument parser: its TypeError, with the
# parameter's position where the call (or torch's Python wrapper) passes it positionally
_ARGUMENT_TYPE_CASES = [
    ("elu", (), {"alpha": "x"}), ("elu", (), {"alpha": None}), ("celu", (), {"alpha": "x"}),
    ("softplus", (), {"beta": "x"}), ("softplus", (), {"threshold": [1]}),
    ("rrelu", (), {"lower": "x"}), ("rrelu", (), {"upper": None}),
    ("rrelu", (), {"training": "x"}), ("hardshrink", ("x",), {}), ("softshrink", ("x",), {}),
    ("glu", (), {"dim": "x"}), ("glu", (), {"dim": 1.0}), ("gelu", (), {"approximate": None}),
    ("dropout", (), {"training": "x"}), ("dropout", (), {"training": np.bool_(True)}),
    ("dropout", (), {"training": 1}), ("pad", ((1, 1),), {"value": "x"}),
]


@pytest.mark.parametrize("fn_name, args, kwargs", _ARGUMENT_TYPE_CASES,
                         ids=[f"{n}-{next(iter(k), 'positional')}"
                              f"-{type(next(iter(k.values()), a[-1] if a else None)).__name__}"
                              for n, a, k in _ARGUMENT_TYPE_CASES])
def test_arguments_of_the_wrong_type_raise_torchs_parser_error(fn_name, args, kwargs):
    """jnn computed with them (``dropout(training='x')``), or failed deep inside JAX with
    another text (``elu(alpha='x')``: 'Only integer scalar arrays ...')."""
    x = np.ones((2, 4), np.float32)
    assert_same_error(*_both(fn_name, x, *args, **kwargs))


def test_one_hot_num_classes_of_the_wrong_type_raises_torchs_parser_error():
    assert_same_error(lambda: TF.one_hot(torch.tensor([1]), 3.0),
                      lambda: F.one_hot(jnp.asarray([1]), 3.0))
