"""Tests for jnn.nn.init against torch.nn.init.

JAX's random streams differ from torch's, so random initialisers are compared by
distribution: bounds, mean and std against torch's formulas, and a two-sample
Kolmogorov-Smirnov test against torch's own samples.  Deterministic ones, fans, gains
and error messages are compared exactly.
"""

import inspect
import math
import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import jnn
import jnn.nn.init as init
from jnn import _state
from jnn.nn.parameter import Parameter
from tests.nn._same_error import assert_same_error

try:
    from scipy.stats import ks_2samp
except ImportError:  # pragma: no cover - scipy is optional
    ks_2samp = None

PUBLIC = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "orthogonal_", "sparse_", "_calculate_fan_in_and_fan_out",
    "_calculate_correct_fan",
]
DEPRECATED = [
    "uniform", "normal", "constant", "eye", "dirac", "xavier_uniform", "xavier_normal",
    "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse",
]
NONLINEARITIES = [
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu",
]


# Every new (initialiser, shape, dtype) compiles a program (~0.5 s on CPU), so the tests
# reuse a few shapes: SMALL for semantics, (256, 256) and CONV for distributions.
SMALL = (4, 6)
CONV = (64, 32, 3, 3)


def param(shape, dtype=jnp.float32):
    # (an integer tensor cannot require gradients, in torch as in jnn)
    return Parameter(np.zeros(shape, dtype), requires_grad=jnp.issubdtype(dtype, jnp.inexact))


def ks_statistic(x, y):
    """Two-sample KS statistic and the asymptotic p-value (numpy fallback for scipy)."""
    if ks_2samp is not None:
        result = ks_2samp(x, y)
        return result.statistic, result.pvalue
    x, y = np.sort(x), np.sort(y)
    grid = np.concatenate([x, y])
    d = np.max(np.abs(np.searchsorted(x, grid, "right") / len(x)
                      - np.searchsorted(y, grid, "right") / len(y)))
    n = len(x) * len(y) / (len(x) + len(y))
    lam = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 100))
    return d, min(max(p, 0.0), 1.0)


# -- signatures ------------------------------------------------------------------------
@pytest.mark.parametrize("name", PUBLIC)
def test_signature_matches_torch(name):
    ours = inspect.signature(getattr(init, name)).parameters
    theirs = inspect.signature(getattr(torch.nn.init, name)).parameters
    assert list(ours) == list(theirs)
    for key in ours:
        assert ours[key].kind == theirs[key].kind, key
        assert ours[key].default == theirs[key].default, key
        assert type(ours[key].default) is type(theirs[key].default), key


def test_public_names():
    for name in PUBLIC + DEPRECATED:
        assert callable(getattr(init, name)), name
    assert set(init.__all__) <= set(PUBLIC)


# -- fans and gains: exact -------------------------------------------------------------
shapes = st.lists(st.integers(0, 7), min_size=2, max_size=5).map(tuple)


@given(shape=shapes)
def test_fans_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    for tensor in (param(shape), np.zeros(shape, np.float32)):
        fans = init._calculate_fan_in_and_fan_out(tensor)
        assert fans == expected and all(type(f) is int for f in fans)
    for mode in ("fan_in", "fan_out", "FAN_IN", "Fan_Out"):
        expected = torch.nn.init._calculate_correct_fan(torch.empty(shape), mode)
        assert init._calculate_correct_fan(param(shape), mode) == expected


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("p", [None, 0, 0.2, 1, -0.5, 3.0])
def test_calculate_gain_matches_torch(nonlinearity, p):
    expected = torch.nn.init.calculate_gain(nonlinearity, p)
    got = init.calculate_gain(nonlinearity, p)
    assert got == expected and type(got) is type(expected)


# -- random initialisers: by distribution ----------------------------------------------
# (name, kwargs, shape, kind, expected (mean, std) from torch's formulas or None, bounds)
def _uniform_bound(gain, fan):
    return gain * math.sqrt(3.0 / fan)


DISTRIBUTIONS = [
    ("uniform_", {"a": -0.5, "b": 2.0}, (256, 256), (0.75, 2.5 / math.sqrt(12)), (-0.5, 2.0)),
    ("normal_", {"mean": 0.3, "std": 2.0}, (256, 256), (0.3, 2.0), None),
    ("trunc_normal_", {}, (256, 256), None, (-2.0, 2.0)),
    ("trunc_normal_", {"std": 0.02}, (256, 256), None, (-2.0, 2.0)),
    # [a, b] with <= 30% of the mass: torch's uniform-proposal branch
    ("trunc_normal_", {"mean": 1.0, "a": 0.5, "b": 1.2}, (256, 256), None, (0.5, 1.2)),
    ("trunc_normal_", {"a": 1.5, "b": 4.0}, (256, 256), None, (1.5, 4.0)),
    ("xavier_uniform_", {"gain": 2.0}, (256, 256), (0.0, 2.0 * math.sqrt(2 / 512)),
     (-2.0 * math.sqrt(6 / 512), 2.0 * math.sqrt(6 / 512))),
    ("xavier_uniform_", {}, CONV, (0.0, math.sqrt(2 / (96 * 9))),
     (-math.sqrt(6 / (96 * 9)), math.sqrt(6 / (96 * 9)))),
    ("xavier_normal_", {"gain": 0.5}, CONV, (0.0, 0.5 * math.sqrt(2 / (96 * 9))), None),
    ("kaiming_uniform_", {}, (256, 256), (0.0, math.sqrt(2 / (1 + 0**2) / 256)),
     (-_uniform_bound(math.sqrt(2), 256), _uniform_bound(math.sqrt(2), 256))),
    ("kaiming_uniform_", {"a": math.sqrt(5)}, CONV,  # torch's Conv/Linear default
     (0.0, math.sqrt(2 / 6) / math.sqrt(288)),
     (-_uniform_bound(math.sqrt(2 / 6), 288), _uniform_bound(math.sqrt(2 / 6), 288))),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}, CONV,
     (0.0, math.sqrt(2) / 24), None),
    ("kaiming_normal_", {"a": 0.2, "nonlinearity": "leaky_relu"}, CONV,
     (0.0, math.sqrt(2 / 1.04) / math.sqrt(288)), None),
    ("orthogonal_", {"gain": 3.0}, (256, 256), (0.0, 3.0 / 16), None),
    ("sparse_", {"sparsity": 0.0, "std": 0.05}, (256, 256), (0.0, 0.05), None),
]


def _ids(case):
    return f"{case[0]}-{case[1]}-{case[2]}"


def _fill_through(via, module, name, target, *args, **kwargs):
    """``name`` applied to a Parameter itself, or to its ``.data`` (torch's
    ``init.f(m.weight.data)``, which fills the Parameter); returns the Parameter."""
    out = getattr(module, name)(target if via == "Parameter" else target.data, *args, **kwargs)
    if module is init and via == "Parameter":
        assert out is target
    elif module is init:  # the new values, which are now the Parameter's
        assert isinstance(out, jax.Array) and out is target.data
    return target


@pytest.mark.parametrize("via", ["Parameter", "Parameter.data"])
@pytest.mark.parametrize("case", DISTRIBUTIONS, ids=[_ids(c) for c in DISTRIBUTIONS])
def test_distribution_matches_torch(case, via):
    name, kwargs, shape, moments, bounds = case
    jnn.manual_seed(0)
    torch.manual_seed(0)
    ours = _fill_through(via, init, name, param(shape), **kwargs)
    ours = np.asarray(ours.data, np.float64).ravel()
    theirs = _fill_through(via, torch.nn.init, name, torch.nn.Parameter(torch.empty(shape)),
                           **kwargs)
    theirs = theirs.detach().double().numpy().ravel()
    n, spread = ours.size, theirs.std()
    if moments is not None:  # torch's formulas, a few standard errors
        mean, std = moments
        assert abs(ours.mean() - mean) < 5 * std / math.sqrt(n)
        assert abs(ours.std() - std) < 5 * std * math.sqrt(2 / n)
    if bounds is not None:
        low, high = bounds
        assert ours.min() >= low and ours.max() <= high
        if "uniform" in name:  # the samples fill the interval
            slack = 0.01 * (high - low)
            assert ours.min() < low + slack and ours.max() > high - slack
    assert abs(ours.mean() - theirs.mean()) < 6 * spread * math.sqrt(2 / n)
    assert abs(ours.std() - spread) < 6 * spread / math.sqrt(n)
    _, pvalue = ks_statistic(ours, theirs)
    assert pvalue > 1e-3


def test_truncated_normal_tails_are_exact():
    # Far in a tail, float32 inverse-CDF sampling collapses to a few values unless it
    # works in log space; compare with the truncated law's moments, integrated in
    # float64 with the density scaled at the edge nearest 0 (so nothing underflows).
    key = jax.random.key(3)
    for lo, hi in [(5.0, 6.0), (-9.0, -8.0), (20.0, math.inf), (-math.inf, -40.0), (-1.0, 0.5)]:
        z = np.asarray(init._trunc_normal_kernel(key, 0.0, 1.0, lo, hi, size=65536,
                                                 dtype=jnp.float32))
        assert np.all((z >= lo) & (z <= hi)) and np.all(np.isfinite(z))
        assert len(np.unique(z)) > 5000
        grid = np.linspace(lo if math.isfinite(lo) else hi - 12,
                           hi if math.isfinite(hi) else lo + 12, 200001)
        edge = min(abs(lo), abs(hi)) if lo * hi > 0 else 0.0
        density = np.exp(-0.5 * (grid**2 - edge**2))
        mean = np.sum(grid * density) / np.sum(density)
        std = math.sqrt(np.sum((grid - mean) ** 2 * density) / np.sum(density))
        assert abs(z.mean() - mean) < 5 * std / math.sqrt(z.size)
        assert abs(z.std() - std) < 5 * std * math.sqrt(2 / z.size)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("name, kwargs", [
    ("uniform_", {"a": -1.0, "b": 1.0}), ("normal_", {}), ("trunc_normal_", {"a": -1.0}),
    ("xavier_uniform_", {}), ("kaiming_normal_", {}), ("orthogonal_", {}),
    ("sparse_", {"sparsity": 0.5}),
])
def test_low_precision_dtypes(dtype, name, kwargs):
    w = getattr(init, name)(param(SMALL, dtype), **kwargs)
    assert w.dtype == dtype
    values = np.asarray(w.data, np.float32)
    assert np.all(np.isfinite(values)) and values.std() > 0
    if name == "trunc_normal_":
        assert values.min() >= -1.0 and values.max() <= 2.0
    if name == "orthogonal_":
        np.testing.assert_allclose(values @ values.T, np.eye(4), atol=0.05)


def test_trunc_normal_negative_std_uses_its_magnitude():
    jnn.manual_seed(1)
    values = np.asarray(init.trunc_normal_(param((256, 256)), std=-1.0).data)
    assert values.min() >= -2 and values.max() <= 2
    assert abs(values.std() - 0.8796) < 0.01  # std of N(0, 1) truncated to [-2, 2]


# -- orthogonal_ and sparse_ -----------------------------------------------------------
@pytest.mark.parametrize("shape", [SMALL, (12, 2, 2), (256, 256)])  # wide, tall conv, square
@pytest.mark.parametrize("gain", [1, 2.5])
def test_orthogonal_is_orthogonal(shape, gain):
    w = np.asarray(init.orthogonal_(param(shape), gain=gain).data, np.float64)
    flat = w.reshape(shape[0], -1)
    rows, cols = flat.shape
    gram = flat @ flat.T if rows <= cols else flat.T @ flat
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=1e-5 * gain**2)


@pytest.mark.parametrize("shape", [SMALL, (256, 256)])
@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5, 0.9, 1.0, 1.5, -0.5])
def test_sparse_zero_count_per_column(shape, sparsity):
    torch.manual_seed(0)
    theirs = torch.nn.init.sparse_(torch.empty(shape), sparsity).numpy()
    ours = np.asarray(init.sparse_(param(shape), sparsity).data)
    np.testing.assert_array_equal((ours == 0).sum(axis=0), (theirs == 0).sum(axis=0))


# -- deterministic initialisers: exact -------------------------------------------------
DETERMINISTIC = [
    ("constant_", {"val": 0.3}, (3, 5)), ("constant_", {"val": -2}, (2, 3, 4)),
    ("ones_", {}, (4,)), ("zeros_", {}, (2, 3)),
    ("eye_", {}, (3, 5)), ("eye_", {}, (5, 3)), ("eye_", {}, (4, 4)), ("eye_", {}, (0, 3)),
    ("dirac_", {}, (4, 6, 5)), ("dirac_", {}, (6, 4, 3, 3)), ("dirac_", {"groups": 2}, (4, 2, 3)),
    ("dirac_", {"groups": 2}, (6, 4, 3, 3)), ("dirac_", {"groups": 3}, (6, 1, 2, 4)),
    ("dirac_", {"groups": 4}, (8, 2, 3, 3, 3)), ("dirac_", {"groups": 2}, (4, 3, 2, 2, 5)),
]


@pytest.mark.parametrize("name, kwargs, shape", DETERMINISTIC)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int32"])
@pytest.mark.parametrize("via", ["Parameter", "Parameter.data"])
def test_deterministic_match_torch(name, kwargs, shape, dtype, via):
    expected = _fill_through(via, torch.nn.init, name, torch.nn.Parameter(
        torch.full(shape, 7, dtype=getattr(torch, dtype)), requires_grad=dtype != "int32"),
        **kwargs)
    got = _fill_through(via, init, name, param(shape, getattr(jnp, dtype)), **kwargs)
    assert got.dtype == getattr(jnp, dtype)
    np.testing.assert_array_equal(np.asarray(got.data, np.float32),
                                  expected.detach().float().numpy())


def test_constant_truncates_for_integer_parameters():
    got = init.constant_(param((2, 2), jnp.int32), 2.7)
    expected = torch.nn.init.constant_(torch.empty(2, 2, dtype=torch.int32), 2.7)
    np.testing.assert_array_equal(np.asarray(got.data), expected.numpy())


# -- in-place semantics and randomness -------------------------------------------------
INPLACE = [
    ("uniform_", {}), ("normal_", {}), ("trunc_normal_", {}), ("constant_", {"val": 1.5}),
    ("ones_", {}), ("zeros_", {}), ("eye_", {}), ("dirac_", {}), ("xavier_uniform_", {}),
    ("xavier_normal_", {}), ("kaiming_uniform_", {}), ("kaiming_normal_", {}),
    ("orthogonal_", {}), ("sparse_", {"sparsity": 0.3}),
]


@pytest.mark.parametrize("name, kwargs", INPLACE)
def test_parameter_is_updated_in_place(name, kwargs):
    shape = (4, 3, 3) if name == "dirac_" else SMALL
    w = Parameter(jnp.full(shape, 7.0))
    old = w.data
    assert getattr(init, name)(w, **kwargs) is w
    assert w.data is not old and w.shape == shape and w.dtype == jnp.float32
    assert not np.array_equal(np.asarray(w.data), np.asarray(old))
    np.testing.assert_array_equal(np.asarray(old), 7.0)  # the old array is untouched


@pytest.mark.parametrize("name, kwargs", INPLACE)
def test_plain_arrays_give_new_arrays(name, kwargs):
    shape = (4, 3, 3) if name == "dirac_" else SMALL
    for source in (np.full(shape, 7.0, np.float32), jnp.full(shape, 7.0, jnp.bfloat16)):
        out = getattr(init, name)(source, **kwargs)
        assert isinstance(out, jax.Array) and out is not source
        assert out.shape == shape and out.dtype == source.dtype
        np.testing.assert_array_equal(np.asarray(source, np.float32), 7.0)


# -- init on ``p.data``: the Parameter's storage, as in torch ----------------------------
@pytest.mark.parametrize("name, kwargs", INPLACE)
def test_init_on_module_parameter_data_fills_it(name, kwargs):
    # the idiom of torch scripts' weight-init functions: ``init.f(m.weight.data)``
    shape = (4, 3, 3) if name == "dirac_" else SMALL
    for module, make in ((torch.nn.init, lambda: torch.nn.Parameter(torch.full(shape, 7.0))),
                         (init, lambda: Parameter(jnp.full(shape, 7.0)))):
        weight = _fill_through("Parameter.data", module, name, make(), **kwargs)
        values = np.asarray(weight.detach() if module is torch.nn.init else weight.data)
        assert values.shape == shape and not np.all(values == 7.0), module


@pytest.mark.parametrize("name", DEPRECATED)
def test_deprecated_aliases_on_parameter_data_fill_it(name):
    args = {"constant": (0.5,), "sparse": (0.1,)}.get(name, ())
    shape = (4, 2, 3) if name == "dirac" else SMALL
    theirs, ours = torch.nn.Parameter(torch.full(shape, 7.0)), Parameter(jnp.full(shape, 7.0))
    with pytest.warns(FutureWarning):
        getattr(torch.nn.init, name)(theirs.data, *args)
    with pytest.warns(FutureWarning):
        getattr(init, name)(ours.data, *args)
    assert not np.any(theirs.detach().numpy() == 7.0)
    assert not np.any(np.asarray(ours.data) == 7.0)
    if name in ("constant", "eye", "dirac"):
        np.testing.assert_array_equal(np.asarray(ours.data), theirs.detach().numpy())


def test_init_on_a_parameters_detach_fills_it_as_torch():
    # ``detach()`` shares the Parameter's storage in torch, as ``.data`` does
    for lib, module, full in ((torch, torch.nn.init, torch.full),
                              (jnn, init, lambda shape, v: jnp.full(shape, v))):
        weight = lib.nn.Parameter(full((2, 3), 1.0))
        module.constant_(weight.detach(), 0.25)
        np.testing.assert_array_equal(np.asarray(weight.detach()), 0.25)


def test_init_through_a_read_of_an_array_two_parameters_hold_fills_both():
    # ``d.weight.data = e.weight.data``: one storage in torch, one array in jnn; the init
    # went to whichever Parameter's .data was read last
    for lib, module in ((torch, torch.nn.init), (jnn, init)):
        e, d = lib.nn.Linear(3, 3), lib.nn.Linear(3, 3)
        d.weight.data = e.weight.data
        target = e.weight.data
        d.weight.data  # noqa: B018 - a read of the other one, after (a logging line)
        module.ones_(target)
        for layer in (e, d):
            np.testing.assert_array_equal(np.asarray(layer.weight.detach()), 1.0)


def test_a_data_read_the_parameter_replaced_since_is_not_written():
    for lib, module, full in ((torch, torch.nn.init, torch.full),
                              (jnn, init, lambda shape, v: jnp.full(shape, v))):
        weight = lib.nn.Parameter(full((2, 3), 1.0))
        stale = weight.data
        weight.data = full((2, 3), 2.0)
        module.zeros_(stale)
        np.testing.assert_array_equal(np.asarray(weight.detach()), 2.0)
    np.testing.assert_array_equal(np.asarray(stale), 1.0)  # jnn's arrays never change


def test_arrays_not_read_through_data_give_new_arrays():
    weight = Parameter(jnp.full(SMALL, 7.0))
    for source in (jnp.array(weight.data), weight.data + 0, np.asarray(weight.data),
                   jnp.full(SMALL, 7.0), weight.data[:2], weight.data.reshape(-1)):
        out = init.zeros_(source)
        assert isinstance(out, jax.Array) and out.shape == source.shape
        np.testing.assert_array_equal(np.asarray(out), 0.0)
        np.testing.assert_array_equal(np.asarray(weight.data), 7.0)
    orphan = Parameter(jnp.ones(3)).data  # its Parameter is gone
    np.testing.assert_array_equal(np.asarray(init.ones_(orphan)), 1.0)


def test_data_reads_are_remembered_within_a_bound():
    weight = Parameter(jnp.full(SMALL, 7.0))
    others = [Parameter(jnp.zeros(2)) for _ in range(1000)]
    w = weight.data
    for other in others[:255]:
        other.data  # noqa: B018 - the reads are the test
    init.ones_(w)  # among the latest 256 reads: written
    np.testing.assert_array_equal(np.asarray(weight.data), 1.0)
    w = weight.data
    for other in others:
        other.data  # noqa: B018
    init.zeros_(w)  # forgotten: the note keeps no more than 512 reads
    np.testing.assert_array_equal(np.asarray(weight.data), 1.0)


@pytest.mark.parametrize("logged", [False, True])
def test_init_on_data_between_compiled_adam_steps_trains_from_it(logged):
    # After a compiled step the weights are in the step's pending store: ``.data`` reads
    # from it, and the write must land in the Parameter that the next step reads.
    # ``logged``: the weights were read after every step, so the step hands them out with
    # its store (read twice here: the second read is the cache's fast path).
    torch.manual_seed(0)
    theirs = torch.nn.Linear(4, 3)
    ours = jnn.nn.Linear(4, 3)
    ours.load_state_dict({k: jnp.asarray(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    topt = torch.optim.Adam(theirs.parameters(), lr=0.1)
    jopt = jnn.optim.Adam(ours.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4)).astype(np.float32), rng.normal(size=(8, 3)).astype(np.float32)

    def torch_step():
        topt.zero_grad()
        torch.nn.functional.mse_loss(theirs(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        topt.step()

    @jnn.compile
    def step(x, y):
        def closure():
            jopt.zero_grad()
            return jnn.nn.functional.mse_loss(ours(x), y)
        return jopt.step(closure)

    def both(n):
        for _ in range(n):
            torch_step()
            step(jnp.asarray(x), jnp.asarray(y))

    both(3)
    if logged:
        for _ in range(8):
            both(1)
            ours.weight.data, ours.bias.data  # noqa: B018
            jnn._compile.wait_for_compiles()
        assert step._hot[1]  # (the step now hands them out)
        assert ours.weight.data is ours.weight.data
    assert _state.versions.pending  # the weights are still in the step's store
    torch.nn.init.constant_(theirs.weight.data, 0.5)
    torch.nn.init.zeros_(theirs.bias.data)
    init.constant_(ours.weight.data, 0.5)
    init.zeros_(ours.bias.data)
    np.testing.assert_array_equal(np.asarray(ours.weight.data), 0.5)
    np.testing.assert_array_equal(np.asarray(ours.bias.data), 0.0)
    both(3)
    for name in ("weight", "bias"):
        np.testing.assert_allclose(np.asarray(getattr(ours, name).data),
                                   getattr(theirs, name).detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, kwargs", [c for c in INPLACE if c[0] in {
    "uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
    "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_"}])
def test_seeding_and_generators(name, kwargs):
    fn = getattr(init, name)

    def draw(**extra):
        return np.asarray(fn(param(SMALL), **kwargs, **extra).data)

    jnn.manual_seed(123)
    first, second = draw(), draw()
    jnn.manual_seed(123)
    np.testing.assert_array_equal(draw(), first)
    np.testing.assert_array_equal(draw(), second)
    assert not np.array_equal(first, second)
    # An explicit generator is reproducible and leaves the global stream alone.
    jnn.manual_seed(123)
    g1, g2 = jnn.random.Generator(5), jnn.random.Generator(5)
    np.testing.assert_array_equal(draw(generator=g1), draw(generator=g2))
    np.testing.assert_array_equal(draw(), first)


# -- errors and warnings: same type and message as torch -------------------------------
def _call(module, name, shape, dtype="float32", *args, **kwargs):
    if module is torch.nn.init:
        tensor = torch.empty(shape, dtype=getattr(torch, dtype))
    else:
        tensor = param(shape, getattr(jnp, dtype))
    return getattr(module, name)(tensor, *args, **kwargs)


ERRORS = [
    ("_calculate_fan_in_and_fan_out", (3,), {}, ValueError,
     "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"),
    ("_calculate_fan_in_and_fan_out", (), {}, ValueError, "fewer than 2 dimensions"),
    ("_calculate_correct_fan", (3, 4), {"mode": "fan_avg"}, ValueError,
     "Mode fan_avg not supported, please use one of ['fan_in', 'fan_out']"),
    ("kaiming_uniform_", (3, 4), {"mode": "bad"}, ValueError, "Mode bad not supported"),
    ("kaiming_normal_", (3,), {}, ValueError, "fewer than 2 dimensions"),
    ("kaiming_uniform_", (3, 4), {"nonlinearity": "gelu"}, ValueError,
     "Unsupported nonlinearity gelu"),
    ("xavier_uniform_", (5,), {}, ValueError, "fewer than 2 dimensions"),
    ("xavier_normal_", (0, 0), {}, ZeroDivisionError, "float division by zero"),
    ("eye_", (3,), {}, ValueError, "Only tensors with 2 dimensions are supported"),
    ("eye_", (3, 4, 5), {}, ValueError, "Only tensors with 2 dimensions are supported"),
    ("dirac_", (3, 4), {}, ValueError, "Only tensors with 3, 4, or 5 dimensions are supported"),
    ("dirac_", (2, 2, 2, 2, 2, 2), {}, ValueError, "Only tensors with 3, 4, or 5 dimensions"),
    ("dirac_", (3, 4, 5), {"groups": 2}, ValueError, "dim 0 must be divisible by groups"),
    ("dirac_", (4, 4, 5), {"groups": 0}, ZeroDivisionError, "integer modulo by zero"),
    ("orthogonal_", (3,), {}, ValueError, "Only tensors with 2 or more dimensions are supported"),
    ("sparse_", (3,), {"sparsity": 0.1}, ValueError, "Only tensors with 2 dimensions"),
    ("sparse_", (3, 4, 5), {"sparsity": 0.1}, ValueError, "Only tensors with 2 dimensions"),
    ("uniform_", (3,), {"a": 1, "b": 0}, RuntimeError,
     "uniform_ expects to return a [from, to) range, but found from=1 > to=0"),
    ("uniform_", (3,), {"a": 123456789.0, "b": 0.1234567891}, RuntimeError,
     "found from=1.23457e+08 > to=0.123457"),
    ("uniform_", (3,), {"a": -math.inf}, RuntimeError, "from is out of bounds for float"),
    ("uniform_", (3,), {"b": math.nan}, RuntimeError, "to is out of bounds for float"),
    ("uniform_", (3,), {"a": -3e38, "b": 3e38}, RuntimeError,
     "uniform_ expects to-from <= std::numeric_limits<Float>::max(), but found to=3e+38 and "
     "from=-3e+38 which result in to-from to exceed the limit"),
    ("normal_", (3,), {"std": -1}, RuntimeError, "normal expects std >= 0.0, but found std -1"),
    ("normal_", (3,), {"std": math.nan}, RuntimeError, "but found std nan"),
    ("trunc_normal_", (3,), {"a": 2, "b": 1}, RuntimeError, "found from=2 > to=1"),
    ("trunc_normal_", (3,), {"a": 1.5, "b": 1.25}, RuntimeError, "found from=1.5 > to=1.25"),
    ("trunc_normal_", (3,), {"a": -math.inf, "b": -3}, RuntimeError,
     "from is out of bounds for float"),
    ("trunc_normal_", (3,), {"std": 0}, ZeroDivisionError, "float division by zero"),
]


def _check_raises(name, shape, kwargs, exc, message, dtype="float32"):
    for module in (torch.nn.init, init):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(exc, match=re.escape(message)):
                _call(module, name, shape, dtype, **kwargs)


@pytest.mark.parametrize("name, shape, kwargs, exc, message", ERRORS,
                         ids=[f"{e[0]}-{e[2]}" for e in ERRORS])
def test_errors_match_torch(name, shape, kwargs, exc, message):
    _check_raises(name, shape, kwargs, exc, message)


@pytest.mark.parametrize("dtype, scalar, cpp", [
    ("float16", "Half", "c10::Half"), ("bfloat16", "BFloat16", "c10::BFloat16"),
])
def test_uniform_bounds_name_the_dtype(dtype, scalar, cpp):
    _check_raises("uniform_", (3,), {"a": -1e39 if dtype == "bfloat16" else -1e5}, RuntimeError,
                  f"from is out of bounds for {cpp}", dtype)
    if dtype == "float16":
        _check_raises("uniform_", (3,), {"a": -4e4, "b": 4e4}, RuntimeError,
                      f"std::numeric_limits<{scalar}>::max(), but found to=40000", dtype)


@pytest.mark.parametrize("dtype, scalar", [
    ("int32", "Int"), ("int64", "Long"), ("int8", "Char"), ("uint8", "Byte"), ("bool", "Bool"),
])
@pytest.mark.parametrize("name, kwargs, kernel", [
    ("uniform_", {}, "check_uniform_bounds"), ("kaiming_uniform_", {}, "check_uniform_bounds"),
    ("normal_", {}, "normal_kernel_cpu"), ("trunc_normal_", {}, "normal_kernel_cpu"),
    ("trunc_normal_", {"a": 1.5}, "check_uniform_bounds"),
    ("xavier_normal_", {}, "normal_kernel_cpu"), ("orthogonal_", {}, "normal_kernel_cpu"),
    ("sparse_", {"sparsity": 0.5}, "normal_kernel_cpu"),
])
def test_integer_parameters_rejected_like_torch(dtype, scalar, name, kwargs, kernel):
    if dtype == "int64" and not jax.config.jax_enable_x64:
        dtype, scalar = "int32", "Int"  # jnn cannot hold int64 without x64
    if dtype == "uint8" and name == "trunc_normal_" and "a" not in kwargs:
        # torch fails earlier, converting the bound a=-2 to uint8; jnn rejects the dtype.
        # Both refuse; the exception differs (documented deviation).
        with pytest.raises(RuntimeError, match="cannot be converted to type uint8"):
            _call(torch.nn.init, name, (3, 4), dtype, **kwargs)
        with pytest.raises(NotImplementedError, match=f"{kernel}.*not implemented for 'Byte'"):
            _call(init, name, (3, 4), dtype, **kwargs)
        return
    _check_raises(name, (3, 4), kwargs, NotImplementedError,
                  f'"{kernel}" not implemented for \'{scalar}\'', dtype)


@pytest.mark.parametrize("nonlinearity, p, message", [
    ("foo", None, "Unsupported nonlinearity foo"),
    ("Relu", None, "Unsupported nonlinearity Relu"),
    ("leaky_relu", True, "negative_slope True not a valid number"),
    ("leaky_relu", "x", "negative_slope x not a valid number"),
    ("leaky_relu", np.float32(0.5), "negative_slope 0.5 not a valid number"),
])
def test_calculate_gain_errors(nonlinearity, p, message):
    for module in (torch.nn.init, init):
        with pytest.raises(ValueError, match=re.escape(message)):
            module.calculate_gain(nonlinearity, p)


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
@pytest.mark.parametrize("shape", [(0, 4), (3, 0, 2), (0,)])
def test_zero_element_kaiming_warns_and_is_a_no_op(name, shape):
    for module in (torch.nn.init, init):
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            out = _call(module, name, shape)
        assert tuple(out.shape) == shape
    w = param(shape)
    old = w.data
    with pytest.warns(UserWarning):
        assert getattr(init, name)(w) is w
    assert w.data is old


def test_zero_element_tensors_elsewhere():
    # torch: orthogonal_ is a silent no-op, xavier works on (0, n), eye_ on (0, n).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert init.orthogonal_(param((0, 3))).shape == (0, 3)
        assert init.xavier_uniform_(param((0, 3))).shape == (0, 3)
        assert init.uniform_(param((0,))).shape == (0,)


def test_trunc_normal_warns_when_mean_is_far():
    message = "mean is more than 2 std from [a, b] in nn.init.trunc_normal_"
    for module in (torch.nn.init, init):
        with pytest.warns(UserWarning, match=re.escape(message)):
            _call(module, "trunc_normal_", (3,), mean=10.0, std=1.0)


@pytest.mark.parametrize("name", DEPRECATED)
def test_deprecated_aliases_warn(name):
    args = {"constant": (0.5,), "sparse": (0.1,)}.get(name, ())
    shape = (4, 2, 3) if name == "dirac" else SMALL
    message = f"`nn.init.{name}` is now deprecated in favor of `nn.init.{name}_`."
    for module in (torch.nn.init, init):
        with pytest.warns(FutureWarning, match=re.escape(message)):
            out = _call(module, name, shape, "float32", *args)
        assert tuple(out.shape) == shape


# -- constant_: torch's fill_ argument checks -----------------------------------------------
class _NotANumber:
    pass


@pytest.mark.parametrize("val", ["a", None, [1], (1,), np.array([1.0]), _NotANumber(), 1j],
                         ids=["str", "None", "list", "tuple", "ndarray", "object", "complex"])
def test_constant_with_a_non_number_raises_like_torch(val):
    # "fill_() received an invalid combination of arguments - got (str), ..." (all of it);
    # a Python complex into a real tensor: "value cannot be converted to type float ..."
    assert_same_error(lambda: torch.nn.init.constant_(torch.empty(2, 3), val),
                      lambda: init.constant_(Parameter(jnp.zeros((2, 3))), val))


def test_constant_with_an_array_of_several_dims_raises_like_torch():
    assert_same_error(lambda: torch.nn.init.constant_(torch.empty(2, 3), torch.ones(2)),
                      lambda: init.constant_(Parameter(jnp.zeros((2, 3))), jnp.ones(2)))


@pytest.mark.parametrize("val", [np.float32(0.5), np.int64(2), np.bool_(True), True,
                                 jnp.asarray(0.5)])
def test_constant_accepts_numbers_and_0d_arrays_like_torch(val):
    tval = torch.tensor(np.asarray(val)) if isinstance(val, jax.Array) else val
    expected = torch.nn.init.constant_(torch.empty(2, 3), tval).numpy()
    np.testing.assert_array_equal(init.constant_(Parameter(jnp.zeros((2, 3))), val).data,
                                  expected)
    np.testing.assert_array_equal(  # a 0-d Parameter as the value too
        init.constant_(Parameter(jnp.zeros((2, 3))), Parameter(jnp.asarray(0.5))).data, 0.5)


NOT_A_TENSOR = [("zeros_", ()), ("ones_", ()), ("constant_", (1.0,)), ("uniform_", ()),
                ("normal_", ()), ("trunc_normal_", ()), ("eye_", ()), ("dirac_", ()),
                ("xavier_uniform_", ()), ("kaiming_normal_", ()), ("orthogonal_", ()),
                ("sparse_", (0.5,))]


@pytest.mark.parametrize("name, args", NOT_A_TENSOR)
@pytest.mark.parametrize("value", [3, [1.0], None])
def test_a_non_tensor_target_raises_torchs_attribute_error(name, args, value):
    """torch's init functions start with a tensor method; jnn once filled a new array."""
    assert_same_error(lambda: getattr(torch.nn.init, name)(value, *args),
                      lambda: getattr(init, name)(value, *args))


@pytest.mark.parametrize("gain", ["a", None, [1.0]])
def test_orthogonal_gain_not_a_number_raises_torchs_type_error(gain):
    assert_same_error(lambda: torch.nn.init.orthogonal_(torch.empty(3, 3), gain=gain),
                      lambda: init.orthogonal_(Parameter(jnp.zeros((3, 3))), gain=gain))
