"""jnn's layers against torch.nn: one registry of cases drives the oracle.

Each case is a class name, constructor arguments and input specs; ``tests/oracle.py``
compares state_dict, names, repr, outputs (train and eval), buffers and gradients.  A new
layer costs one line here.  A few shapes are reused throughout: each new shape is an XLA
compile.
"""

import math
import re

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import jnn
import jnn.nn as nn
from tests.nn._same_error import assert_same_error
from tests.nn.registry import case, err
from tests.oracle import (
    check_error,
    check_layer,
    check_modules,
    integers,
    make_inputs,
    normal,
)

try:
    from scipy.stats import ks_2samp
except ImportError:  # pragma: no cover - scipy is optional
    ks_2samp = None

X = (4, 3)  # the default input
X3 = (2, 4, 3)  # batched over two dims
WIDE = normal(4, 3, scale=4.0)  # reaches every activation's saturated branches


# -- linear and shape layers -----------------------------------------------------------
LINEAR = [
    case("Identity"),
    case("Identity", 3, unused="x", inputs=[X3]),
    case("Linear", 3, 5),
    case("Linear", 3, 5, bias=False),
    case("Linear", 3, 5, inputs=[(3,)], id="Linear(3, 5) 1-D input"),
    case("Linear", 3, 5, inputs=[X3], id="Linear(3, 5) 3-D input"),
    case("Linear", 3, 5, bias=False, inputs=[X3], id="Linear(3, 5, bias=False) 3-D"),
    case("Linear", 3, 1),
    case("Bilinear", 3, 2, 5, inputs=[X, (4, 2)]),
    case("Bilinear", 3, 2, 5, bias=False, inputs=[X, (4, 2)]),
    case("Bilinear", 3, 2, 5, inputs=[X3, (2, 4, 2)], id="Bilinear 3-D inputs"),
    case("Flatten", inputs=[X3]),
    case("Flatten", 0, inputs=[X3]),
    case("Flatten", -2, -1, inputs=[X3]),
    case("Flatten", 0, 1, inputs=[X3]),
    case("Flatten", 1, 1, inputs=[X3]),
    case("Flatten", 0, inputs=[()], id="Flatten(0) 0-D input"),
    case("Unflatten", 1, (3, 1)),
    case("Unflatten", -1, [1, 3]),
    case("Unflatten", 0, (2, -1)),
    case("Unflatten", 1, (2, 2), inputs=[X3]),
]

# -- dropout: p=0 and eval mode are deterministic --------------------------------------
EVAL_ONLY = {"modes": ("eval",)}
DROPOUT = [
    case("Dropout", opts=EVAL_ONLY),
    case("Dropout", 0.0),
    case("Dropout", 0.0, True, opts={"grad": False}),
    case("Dropout", p=0.3, opts=EVAL_ONLY),
    case("Dropout1d", 0.0, inputs=[X3]),
    case("Dropout1d", inputs=[X3], opts=EVAL_ONLY),
    case("Dropout2d", 0.0, inputs=[X3]),
    case("Dropout2d", inputs=[X3], opts=EVAL_ONLY),
    case("Dropout2d", 0.0, inputs=[X], id="Dropout2d(0.0) 2-D input warns"),
    case("Dropout3d", 0.0, inputs=[(2, 2, 2, 3)]),
    case("Dropout3d", inputs=[(2, 2, 2, 3)], opts=EVAL_ONLY),
    case("AlphaDropout", 0.0),
    case("AlphaDropout", 0.2, opts=EVAL_ONLY),
    case("FeatureAlphaDropout", 0.0),
    case("FeatureAlphaDropout", 0.2, opts=EVAL_ONLY),
]

# -- extremes: integer inputs (loss extremes live in test_loss.py, activation ones in
# test_activation.py) ----------------------------------------------------------------------
EXTREMES = [
    # integer inputs keep their dtype
    *[case(name, inputs=[integers(*X, low=-3, high=5)], id=f"{name} integer input")
      for name in ["Flatten", "Identity"]],
]


@pytest.mark.parametrize("name, args, kwargs, inputs, opts",
                         LINEAR + DROPOUT + EXTREMES)
def test_layer_matches_torch(name, args, kwargs, inputs, opts):
    check_layer(name, args, kwargs, inputs, **opts)


# -- errors: torch's type, and a message matching torch's regex ------------------------
ERRORS = [
    err("Dropout", (1.5,), {}, ValueError,
        r"dropout probability has to be between 0 and 1, but got 1\.5"),
    err("Dropout2d", (), {"p": -0.1}, ValueError, r"between 0 and 1, but got -0\.1"),
    err("AlphaDropout", (2,), {}, ValueError, r"between 0 and 1, but got 2"),
    err("FeatureAlphaDropout", (-0.1,), {}, ValueError, r"between 0 and 1, but got -0.1"),
    err("Unflatten", (1, [2, "a"]), {}, TypeError,
        r"unflattened_size must be tuple of ints, but found element of type str at pos 1"),
    err("Unflatten", (1, 5), {}, TypeError,
        r"unflattened_size must be a tuple of ints, but found type int"),
    err("Unflatten", (1, (2, 2)), {}, RuntimeError,
        r"unflatten: Provided sizes \[2, 2\] don't multiply up to the size of dim 1 \(3\)",
        [X]),
    err("Unflatten", (1, (-1, -1)), {}, RuntimeError, "only one dimension can be inferred", [X]),
    err("Unflatten", (1, ()), {}, RuntimeError, "unflatten: sizes must be non-empty", [X]),
    err("Unflatten", (2, (1, 3)), {}, IndexError,
        r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)", [X]),
    err("Unflatten", (0, (1,)), {}, RuntimeError,
        "Dimension specified as 0 but tensor has no dimensions", [()]),
    err("Flatten", (2, 1), {}, RuntimeError, "start_dim cannot come after end_dim", [X3]),
    err("Flatten", (3,), {}, IndexError,
        r"Dimension out of range \(expected to be in range of \[-3, 2\], but got 3\)", [X3]),
    err("Flatten", (), {}, IndexError,
        r"Dimension out of range \(expected to be in range of \[-1, 0\], but got 1\)", [()],
        id="Flatten() on a 0-D input"),
    err("Linear", (3, -1), {}, RuntimeError,
        r"Trying to create tensor with negative dimension -1: \[-1, 3\]"),
    err("Bilinear", (3, -2, 4), {}, RuntimeError,
        r"Trying to create tensor with negative dimension -2: \[4, 3, -2\]"),
    err("Linear", (3, 4), {}, RuntimeError,
        r"mat1 and mat2 shapes cannot be multiplied \(4x5 and 3x4\)", [(4, 5)]),
    err("Linear", (3, 4), {}, RuntimeError,
        r"mat1 and mat2 shapes cannot be multiplied \(1x5 and 3x4\)", [(5,)],
        id="Linear 1-D input of wrong width"),
    err("Linear", (3, 4), {}, RuntimeError,
        "both arguments to linear need to be at least 1D, but they are 0D and 2D", [()]),
    err("Bilinear", (3, 2, 4), {}, RuntimeError,
        r"bilinear\(\): input dimensions do not match: got 2 and 1", [X, (2,)]),
    err("Bilinear", (3, 2, 4), {}, RuntimeError,
        r"bilinear\(\): input2 size does not match weight size: got 3 but expected 2",
        [X, X]),
    err("Bilinear", (3, 2, 4), {}, RuntimeError,
        r"bilinear\(\): input batch dimensions do not match at dim 0: got 4 and 2",
        [X, (2, 2)]),
    err("Dropout1d", (0.5,), {}, RuntimeError,
        "dropout1d: Expected 2D or 3D input, but received a 1D input", [(3,)]),
]


@pytest.mark.parametrize("name, args, kwargs, exc, match, inputs", ERRORS)
def test_error_matches_torch(name, args, kwargs, exc, match, inputs):
    check_error(name, args, kwargs, exc, match, inputs=inputs)


# -- configuration properties ----------------------------------------------------------
@given(in_features=st.integers(1, 4), out_features=st.integers(1, 5), bias=st.booleans(),
       batch=st.sampled_from([(), (4,), (2, 4)]))
def test_linear_configurations(in_features, out_features, bias, batch):
    # forward, structure and repr over many shapes; gradients are the registry's (each
    # new shape costs an XLA compile per primitive, and a backward pass has many)
    check_layer("Linear", (in_features, out_features), {"bias": bias},
                [(*batch, in_features)], modes=("train",), grad=False)


@given(start_dim=st.integers(-3, 2), end_dim=st.integers(-3, 2))
def test_flatten_configurations(start_dim, end_dim):
    try:
        torch.nn.Flatten(start_dim, end_dim)(torch.zeros(X3))
    except RuntimeError:
        check_error("Flatten", (start_dim, end_dim), {}, RuntimeError,
                    "start_dim cannot come after end_dim", inputs=[X3])
    else:
        check_layer("Flatten", (start_dim, end_dim), {}, [X3], modes=("train",))


# -- dropout as a module: modes, fresh masks, reproducibility --------------------------
# each class on an input of the rank it is meant for: (N, C, *spatial), 256 elements
DROPOUT_SHAPES = {"Dropout": (2, 8, 16), "Dropout1d": (2, 8, 16), "Dropout2d": (2, 8, 4, 4),
                  "Dropout3d": (2, 8, 2, 2, 4), "AlphaDropout": (2, 8, 16),
                  "FeatureAlphaDropout": (2, 8, 4, 4)}


@pytest.mark.parametrize("name", list(DROPOUT_SHAPES))
def test_dropout_train_and_eval(name):
    x = jnp.asarray(make_inputs([DROPOUT_SHAPES[name]])[0])
    layer = getattr(nn, name)(0.5)
    assert layer.training and repr(layer) == repr(getattr(torch.nn, name)(0.5))
    jnn.manual_seed(0)
    first, second = layer(x), layer(x)
    assert first.shape == x.shape
    assert not np.array_equal(first, second), "a fresh mask for every call"
    assert not np.array_equal(first, x)
    jnn.manual_seed(0)
    np.testing.assert_array_equal(layer(x), first)  # jnn.manual_seed reproduces the mask
    assert layer.eval() is layer and not layer.training
    np.testing.assert_array_equal(layer(x), x)  # eval: the identity
    layer.train()
    assert not np.array_equal(layer(x), x)


@pytest.mark.parametrize("name", ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"])
def test_dropout_keeps_or_scales(name):
    """Kept elements are ``x / (1 - p)``, the others 0; the Nd forms drop whole channels."""
    x = jnp.asarray(make_inputs([DROPOUT_SHAPES[name]])[0])
    p = 0.25
    jnn.manual_seed(1)
    out = np.asarray(getattr(nn, name)(p)(x))
    kept = out != 0
    np.testing.assert_allclose(out[kept], np.asarray(x)[kept] / (1 - p), rtol=1e-6)
    if name != "Dropout":  # channel-wise: a (sample, channel) slice is all kept or none
        per_channel = kept.reshape(2, 8, -1)
        assert (per_channel.all(-1) | ~per_channel.any(-1)).all()


@pytest.mark.parametrize("name", list(DROPOUT_SHAPES))
def test_dropout_p1_zeroes_like_torch(name):
    layer_t, layer_j = getattr(torch.nn, name)(1.0), getattr(nn, name)(1.0)
    x = make_inputs([DROPOUT_SHAPES[name]])[0]
    with torch.no_grad():
        expected = layer_t(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(np.asarray(layer_j(jnp.asarray(x))), expected)


def test_dropout_inside_a_model_follows_train_eval():
    model = nn.Sequential(nn.Linear(3, 5), nn.Dropout(0.5), nn.ReLU())
    x = jnp.asarray(make_inputs([X])[0])
    jnn.manual_seed(0)
    assert not np.array_equal(model(x), model(x))
    model.eval()
    np.testing.assert_array_equal(model(x), model(x))
    assert not model[1].training


# -- default initialisation, by distribution -------------------------------------------
def _check_uniform(values, bound, what):
    values = np.asarray(values, np.float64).ravel()
    assert values.min() >= -bound and values.max() <= bound, f"{what}: outside the bounds"
    std = bound / math.sqrt(3)  # U(-b, b)
    assert abs(values.mean()) < 5 * std / math.sqrt(values.size), f"{what}: mean"
    assert abs(values.std() / std - 1) < 5 / math.sqrt(values.size), f"{what}: std"
    if values.size >= 1000:
        assert values.min() < -0.95 * bound and values.max() > 0.95 * bound, f"{what}: range"


@pytest.mark.parametrize("name, args", [
    ("Linear", (128, 256)), ("Bilinear", (16, 24, 64)),
])
def test_default_init_matches_torch_distribution(name, args):
    jnn.manual_seed(0)
    layer = getattr(nn, name)(*args)
    torch.manual_seed(0)
    reference = getattr(torch.nn, name)(*args)
    bound = 1 / math.sqrt(args[0])  # torch: U(-1/sqrt(in), 1/sqrt(in)), in = in(1)_features
    for pname in ("weight", "bias"):
        ours = np.asarray(getattr(layer, pname))
        theirs = getattr(reference, pname).detach().numpy()
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        _check_uniform(ours, bound, f"{name}.{pname}")
        if ks_2samp is not None and ours.size > 1000:
            assert ks_2samp(ours.ravel(), theirs.ravel()).pvalue > 1e-3


def test_manual_seed_makes_construction_reproducible():
    jnn.manual_seed(123)
    a, b = nn.Linear(3, 5), nn.Bilinear(3, 2, 5)
    c = nn.Linear(3, 5)
    jnn.manual_seed(123)
    a2, b2 = nn.Linear(3, 5), nn.Bilinear(3, 2, 5)
    for x, y in [(a, a2), (b, b2)]:
        for (name, p), (_, q) in zip(x.named_parameters(), y.named_parameters()):
            np.testing.assert_array_equal(np.asarray(p), np.asarray(q), err_msg=name)
    assert not np.array_equal(np.asarray(a.weight), np.asarray(c.weight))
    jnn.manual_seed(124)
    assert not np.array_equal(np.asarray(nn.Linear(3, 5).weight), np.asarray(a.weight))


def test_linear_reset_parameters_redraws():
    layer = nn.Linear(3, 5)
    before = np.asarray(layer.weight)
    layer.reset_parameters()
    after = np.asarray(layer.weight)
    assert not np.array_equal(before, after)
    _check_uniform(after, 1 / math.sqrt(3), "Linear.weight after reset")


# -- the oracle itself: integer buffers, written buffers, and that it catches a mismatch --
class TorchTwin:
    """torch modules under the same class names as their jnn twins (so reprs match)."""

    class Counter(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 5)
            self.register_buffer("calls", torch.zeros((), dtype=torch.long))

        def forward(self, x):
            self.calls += 1
            return self.lin(x)


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 5)
        self.register_buffer("calls", jnp.zeros((), jnp.int32))

    def forward(self, x):
        self.calls = self.calls + 1
        return self.lin(x)


def test_oracle_with_integer_buffer_written_in_forward():
    t_model, model = TorchTwin.Counter(), Counter()
    check_modules(t_model, model, [X])  # gradients skip the integer leaf
    assert int(model.calls) == int(t_model.calls) == 2  # one train and one eval forward


def test_oracle_catches_a_mismatch():
    with pytest.raises(AssertionError):
        check_modules(torch.nn.Tanh(), nn.Sigmoid(), [X], check_repr=False)
    with pytest.raises(AssertionError):
        check_modules(torch.nn.Linear(3, 5), nn.Linear(3, 5, bias=False), [X])
    with pytest.raises(AssertionError):
        check_modules(torch.nn.Softmax(0), nn.Softmax(1), [X], check_repr=False)


# -- argument types checked at forward, as torch's parser does -----------------------------
@pytest.mark.parametrize("name, args", [
    ("Flatten", ("a",)), ("Flatten", (0, "a")), ("Flatten", (1.0,)), ("Flatten", (None,)),
    ("Flatten", (True,)), ("Flatten", ([1],)),
    ("Unflatten", ("a", (3, 1))), ("Unflatten", (1.5, (3, 1))), ("Unflatten", (True, (3, 1))),
])
def test_shape_layer_argument_types_raise_like_torch(name, args):
    # "flatten(): argument 'start_dim' (position 1) must be int, not str"; both libraries
    # build the layer and refuse at its call
    x = np.ones(X, np.float32)
    assert_same_error(lambda: getattr(torch.nn, name)(*args)(torch.from_numpy(x)),
                      lambda: getattr(nn, name)(*args)(jnp.asarray(x)))


def test_shape_layers_accept_numpy_integers_like_torch():
    x = np.ones(X3, np.float32)
    assert nn.Flatten(np.int64(0))(jnp.asarray(x)).shape == (24,)
    assert nn.Unflatten(np.int64(1), (2, 2))(jnp.asarray(x)).shape == (2, 2, 2, 3)


def _t(lib, *shape):
    return torch.ones(shape) if lib is torch.nn else jnp.ones(shape)


LAYER_MISUSES = {  # (nn namespace) -> raises: torch's exception and message, in jnn too
    "linear_float_size": lambda nn_: nn_.Linear(2.5, 3),
    "linear_str_size": lambda nn_: nn_.Linear("3", 3),
    "linear_none_size": lambda nn_: nn_.Linear(None, 3),
    "conv_float_kernel": lambda nn_: nn_.Conv2d(3, 4, 2.5),
    "batchnorm_float_features": lambda nn_: nn_.BatchNorm1d(3.5),
    "layernorm_str_shape": lambda nn_: nn_.LayerNorm("3"),
    "prelu_float_parameters": lambda nn_: nn_.PReLU(num_parameters=2.5),
    "embedding_float_padding_idx": lambda nn_: nn_.Embedding(10, 3, padding_idx=2.5),
    "embedding_from_list": lambda nn_: nn_.Embedding.from_pretrained([[1.0, 2.0]]),
    "groupnorm_channels_before_weight": lambda nn_: nn_.GroupNorm(2, 4)(_t(nn_, 2, 3, 5)),
    "rmsnorm_rank": lambda nn_: nn_.RMSNorm((3, 4))(_t(nn_, 4)),
    "linear_none_input": lambda nn_: nn_.Linear(3, 4)(None),
    "batchnorm_list_input": lambda nn_: nn_.BatchNorm1d(3)([[1.0, 2.0, 3.0]] * 2),
    "flatten_list_input": lambda nn_: nn_.Flatten()([[1.0]]),
    "softmax_list_input": lambda nn_: nn_.Softmax(dim=0)([1.0, 2.0]),
    "embedding_none_input": lambda nn_: nn_.Embedding(5, 3)(None),
    "mse_float_target": lambda nn_: nn_.MSELoss()(_t(nn_, 2), 1.0),
    "padding_mode_set_later": lambda nn_: _with_padding_mode(nn_, "foo"),
}


def _with_padding_mode(nn_, mode):
    layer = nn_.Conv2d(3, 4, 3)
    layer.padding_mode = mode
    return layer(_t(nn_, 1, 3, 5, 5))


@pytest.mark.parametrize("name", LAYER_MISUSES)
def test_layer_misuse_raises_torchs_error(name):
    assert_same_error(lambda: LAYER_MISUSES[name](torch.nn), lambda: LAYER_MISUSES[name](nn))


@pytest.mark.parametrize("bias, value", [(True, None), (False, [[1.0]])])
def test_conv_layer_given_a_non_tensor_raises_torchs_type_error(bias, value):
    """torch's "invalid combination" names the module's argument types (Parameter, tuple);
    its first line is matched (torch adds per-overload "didn't match" lines)."""
    with pytest.raises(TypeError) as expected:
        torch.nn.Conv2d(3, 4, 3, bias=bias)(value)
    first = str(expected.value).splitlines()[0]
    with pytest.raises(TypeError, match=f"^{re.escape(first)}"):
        nn.Conv2d(3, 4, 3, bias=bias)(value)


@pytest.mark.parametrize("sizes", [(0, 2, 3), (2, 0, 3), (2, 3, 0), (-1, 2, 3), (2, 3, -1)])
def test_bilinear_sizes_of_zero_or_less_as_torch(sizes):
    """``Bilinear(0, 2, 3)`` raises torch's ValueError (jnn: ZeroDivisionError in its init);
    a zero second input or output size builds, a negative one fails at the weight."""
    try:
        shape = tuple(torch.nn.Bilinear(*sizes).weight.shape)
    except Exception as error:  # noqa: BLE001 - torch's error is the spec
        with pytest.raises(type(error), match=re.escape(str(error))):
            nn.Bilinear(*sizes)
    else:
        assert tuple(nn.Bilinear(*sizes).weight.shape) == shape
