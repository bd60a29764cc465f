"""jnn.nn.functional dropout: statistics, exact scaling, keys, jit, and torch's checks."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import jnn
import jnn.nn
import jnn.nn.functional as F
from tests.nn._same_error import assert_same_error

KEY = jax.random.key(0)
# One shape for the elementwise tests: every new shape costs a compile of the sampler.
SHAPE = (100, 100)
ALL = ["dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d", "dropout3d"]


def _normal(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _torch_scale(p):
    """The factor torch multiplies kept elements by (read off torch itself)."""
    torch.manual_seed(0)
    return TF.dropout(torch.ones(1000), p).max().item()


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_p_outside_unit_interval_raises_like_torch(name, p):
    x = _normal((2, 3, 4))
    match = f"dropout probability has to be between 0 and 1, but got {p}"
    with pytest.raises(ValueError, match=match):
        getattr(TF, name)(torch.from_numpy(x), p)
    with pytest.raises(ValueError, match=match):
        getattr(F, name)(x, p)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_rate_and_exact_torch_scaling(p):
    x = jnp.asarray(_normal(SHAPE))
    out = np.asarray(F.dropout(x, p, key=KEY))
    kept = out != 0
    # 10,000 Bernoulli draws: the keep rate's std is at most 0.005, so 0.025 is 5 sigma.
    assert abs(kept.mean() - (1 - p)) < 0.025
    # Kept values are x * torch's float32 factor, bit for bit.
    expected = np.asarray(x)[kept] * np.float32(_torch_scale(p))
    np.testing.assert_array_equal(out[kept], expected)


def test_same_key_same_mask_different_key_different_mask():
    x = jnp.ones(SHAPE)
    a = F.dropout(x, 0.5, key=jax.random.key(1))
    b = F.dropout(x, 0.5, key=jax.random.key(1))
    c = F.dropout(x, 0.5, key=jax.random.key(2))
    np.testing.assert_array_equal(a, b)
    assert (np.asarray(a) != np.asarray(c)).any()


def test_raw_uint32_key_is_accepted():
    x = jnp.ones(SHAPE)
    raw = jax.random.PRNGKey(3)
    np.testing.assert_array_equal(
        F.dropout(x, 0.5, key=raw), F.dropout(x, 0.5, key=jax.random.wrap_key_data(raw))
    )


def test_jit_with_explicit_key_matches_eager():
    x = jnp.asarray(_normal(SHAPE))
    k1, k2 = jax.random.split(KEY)

    def f(v, k1, k2):
        return F.dropout1d(F.dropout(v, 0.3, key=k1)[:, :, None], 0.5, key=k2)

    np.testing.assert_array_equal(jax.jit(f)(x, k1, k2), f(x, k1, k2))


def test_jit_without_key_asks_for_one_and_use_key_supplies_it():
    x = jnp.ones(SHAPE)
    with pytest.raises(RuntimeError, match="use_key"):
        jax.jit(lambda v: F.dropout(v, 0.5))(x)

    @jax.jit
    def with_key(v, k):
        with jnn.random.use_key(k):
            return F.dropout(v, 0.5)

    assert with_key(x, KEY).shape == x.shape


def test_vmap_over_keys_gives_independent_masks():
    draw = jax.jit(jax.vmap(lambda k: F.dropout(jnp.ones(100), 0.5, key=k)))
    masks = draw(jax.random.split(KEY, 4))
    assert len({np.asarray(m).tobytes() for m in masks}) == 4


def test_default_key_comes_from_the_global_generator():
    x = jnp.ones(SHAPE)
    jnn.manual_seed(7)
    first, second = F.dropout(x), F.dropout(x)
    jnn.manual_seed(7)
    again = F.dropout(x)
    assert (np.asarray(first) != np.asarray(second)).any()
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("kwargs", [{"training": False}, {"p": 0.0}])
@pytest.mark.parametrize("name", ["dropout", "alpha_dropout", "dropout2d"])
def test_identity_draws_no_key(name, kwargs):
    x = jnp.asarray(_normal((2, 3, 4)))
    kwargs = {"training": True, **kwargs}
    state = jnn.random.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout2d's 3-D warning
        out = getattr(F, name)(x, **kwargs)
    assert out is x
    assert jnn.random.get_rng_state() is state


def test_p_one_zeroes_and_keeps_nan_like_torch():
    x = np.array([np.nan, 1.0, -2.0], np.float32)
    got = F.dropout(x, 1.0)
    np.testing.assert_array_equal(got, TF.dropout(torch.from_numpy(x), 1.0).numpy())


def test_gradient_is_mask_times_scale():
    x = jnp.asarray(_normal(SHAPE))
    grad = jax.grad(lambda v: F.dropout(v, 0.4, key=KEY).sum())(x)
    mask = np.asarray(F.dropout(jnp.ones_like(x), 0.4, key=KEY)) != 0
    np.testing.assert_array_equal(grad, mask * np.float32(_torch_scale(0.4)))


# (name, input shape, channel axes): whole channels are dropped or kept together.
CHANNEL_CASES = [
    ("dropout1d", (6, 10, 7), 2),
    ("dropout1d", (10, 7), 1),  # unbatched (C, L)
    ("dropout2d", (6, 10, 3, 3), 2),
    ("dropout3d", (6, 10, 2, 2, 2), 2),
    ("dropout3d", (10, 2, 2, 2), 1),  # unbatched (C, D, H, W)
    ("feature_alpha_dropout", (6, 10, 3, 3), 2),
]


@pytest.mark.parametrize("name, shape, n_channel_axes", CHANNEL_CASES)
def test_channel_dropout_drops_whole_channels(name, shape, n_channel_axes):
    x = jnp.ones(shape)
    out = np.asarray(getattr(F, name)(x, 0.5, training=True, key=KEY))
    per_channel = out.reshape(shape[:n_channel_axes] + (-1,))
    # Every channel is constant (all dropped or all kept), and both occur.
    assert (per_channel == per_channel[..., :1]).all()
    assert len(np.unique(per_channel[..., 0])) == 2


def test_dropout2d_on_3d_input_is_channelwise_over_dim_1_like_torch():
    x = jnp.ones((6, 10, 7))
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        out = np.asarray(F.dropout2d(x, 0.5, key=KEY))
    assert (out == out[..., :1]).all()


# (name, input shape, kwargs): torch warns or raises; jnn must do the same, same text.
CHECK_CASES = [
    ("dropout1d", (2, 3, 4, 5), {}),
    ("dropout1d", (3,), {"training": False}),
    ("dropout2d", (2, 3), {}),
    ("dropout2d", (2, 3, 4), {}),
    ("dropout2d", (2, 3, 4, 5, 6), {}),
    ("dropout2d", (3,), {}),  # feature dropout needs 2 dims when it actually drops
    ("dropout2d", (3,), {"training": False}),
    ("dropout3d", (2, 3, 4), {}),
    ("feature_alpha_dropout", (3,), {"training": True}),
]


@pytest.mark.parametrize("name, shape, kwargs", CHECK_CASES)
def test_shape_warnings_and_errors_match_torch(name, shape, kwargs):
    x = _normal(shape)

    def outcome(fn, array):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            try:
                fn(array, 0.5, **kwargs)
                error = None
            except Exception as e:  # noqa: BLE001 - compared with torch's below
                error = (type(e), str(e))
        return [str(w.message) for w in record], error

    assert outcome(getattr(F, name), jnp.asarray(x)) == outcome(
        getattr(TF, name), torch.from_numpy(x)
    )


def test_alpha_dropout_values_match_torch():
    torch.manual_seed(0)
    expected = np.unique(TF.alpha_dropout(torch.ones(SHAPE), 0.3, training=True).numpy())
    got = np.unique(np.asarray(F.alpha_dropout(jnp.ones(SHAPE), 0.3, training=True, key=KEY)))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_alpha_dropout_keeps_zero_mean_unit_variance():
    x = jnp.asarray(_normal(SHAPE))
    out = np.asarray(F.alpha_dropout(x, 0.2, training=True, key=KEY))
    # 10,000 samples: the mean's and the std's std are ~0.01; 0.05 is a 5 sigma bound.
    assert abs(out.mean()) < 0.05
    assert abs(out.std() - 1) < 0.05


# -- integer, bool and complex inputs: torch's errors, or the input back -------------------
NON_FLOAT = [np.int32, np.bool_, np.uint8, np.int8, np.int16]


def _feature_shape(name):
    return (2, 3, 4) if name == "dropout1d" else (2, 3, 4, 5)


@pytest.mark.parametrize("dtype", NON_FLOAT + [np.complex64])
@pytest.mark.parametrize("name", ALL)
def test_non_float_input_in_training_raises_like_torch(name, dtype):
    # torch: "result type Float can't be cast to the desired output type Int" (Long for a
    # bool input of the alpha forms); a complex input has no bernoulli kernel
    x = np.ones(_feature_shape(name), dtype)
    assert_same_error(lambda: getattr(TF, name)(torch.from_numpy(x), 0.5, True),
                      lambda: getattr(F, name)(jnp.asarray(x), 0.5, True, key=KEY))


@pytest.mark.parametrize("dtype", [np.int32, np.bool_])
@pytest.mark.parametrize("name", ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
                                  "AlphaDropout", "FeatureAlphaDropout"])
def test_dropout_module_on_non_float_input_raises_like_torch(name, dtype):
    x = np.ones(_feature_shape("dropout1d" if name == "Dropout1d" else name), dtype)
    assert_same_error(lambda: getattr(torch.nn, name)(0.5)(torch.from_numpy(x)),
                      lambda: getattr(jnn.nn, name)(0.5)(jnp.asarray(x)))


@pytest.mark.parametrize("p, training", [(0.5, False), (0.0, True), (1.0, True)])
@pytest.mark.parametrize("name", ALL)
def test_non_float_input_without_dropping_keeps_its_dtype_like_torch(name, p, training):
    # eval mode and p == 0 return the input; p == 1 gives input * 0: no float result
    x = np.arange(np.prod(_feature_shape(name)), dtype=np.int32).reshape(_feature_shape(name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = getattr(TF, name)(torch.from_numpy(x), p, training).numpy()
        got = getattr(F, name)(jnp.asarray(x), p, training, key=KEY)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
