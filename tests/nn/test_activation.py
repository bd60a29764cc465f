"""jnn's activation layers against torch.nn: one registry of cases drives the oracle.

Each ``case`` is a class name, constructor arguments and input specs; ``tests/oracle.py``
compares state_dict, names, repr, outputs (train and eval), buffers and gradients.  A few
shapes are reused throughout: each new shape is an XLA compile.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import jnn
import jnn.nn as nn
from tests.nn.registry import case, deviation, err
from tests.oracle import check_error, check_layer, const, integers, make_inputs, normal

X = (4, 3)  # the default input
X3 = (2, 4, 3)  # batched over two dims
IMG = (2, 3, 2, 2)  # (N, C, H, W)
WIDE = normal(4, 3, scale=4.0)  # reaches every activation's saturated branches
EVEN = normal(4, 6, scale=3.0)  # GLU halves a dim
# exactly on the kinks: Hardshrink/Softshrink at +-lambd, Threshold at its threshold, 0
KINKS = const([[0.5, -0.5, 0.0], [0.1, 1.0, -1.0], [2.0, -2.0, 0.25], [3.0, -3.0, 6.0]],
              np.float32)
HALF = {"rtol": 2e-3, "atol": 2e-3}  # float16 keeps ~3 significant digits
# torch's float64 hardsigmoid backward multiplies by a float32 1/6 (relative error 2**-25);
# jnn's float64 gradient is the exact 1/6 (float64 gradients: the first row of a class).
SIXTH = deviation("torch's float64 hardsigmoid backward uses a float32 1/6", check="float64")

# -- activations: every class in jnn/nn/modules/activation.py --------------------------
ACTIVATIONS = [
    case("ReLU", inputs=[WIDE]),
    case("ReLU", inplace=True, inputs=[WIDE], opts={"grad": False}),
    case("ReLU6", inputs=[WIDE]),
    case("ReLU6", True, inputs=[WIDE], opts={"grad": False}),
    case("LeakyReLU", inputs=[WIDE]),
    case("LeakyReLU", 0.2, True, inputs=[WIDE], opts={"grad": False}),
    case("ELU", inputs=[WIDE]),
    case("ELU", alpha=0.5, inputs=[WIDE]),
    case("ELU", 1.0, True, inputs=[WIDE], opts={"grad": False}),
    case("CELU", inputs=[WIDE]),
    case("CELU", alpha=2.0, inputs=[WIDE]),
    case("SELU", inputs=[WIDE]),
    case("SELU", inplace=True, inputs=[WIDE], opts={"grad": False}),
    case("GELU", inputs=[WIDE]),
    case("GELU", approximate="tanh", inputs=[WIDE]),
    case("SiLU", inputs=[WIDE]),
    case("SiLU", inplace=True, inputs=[WIDE], opts={"grad": False}),
    case("Mish", inputs=[WIDE]),
    case("Mish", inplace=True, inputs=[WIDE], opts={"grad": False}),
    case("Sigmoid", inputs=[WIDE]),
    case("Tanh", inputs=[WIDE]),
    case("Hardtanh", inputs=[WIDE]),
    case("Hardtanh", -2.0, 3.0, inputs=[WIDE]),
    case("Hardtanh", -2, 3, inputs=[WIDE], id="Hardtanh(-2, 3) ints in repr"),
    case("Hardtanh", min_value=-0.5, max_value=2.0, inputs=[WIDE],
         id="Hardtanh deprecated min_value/max_value warn"),
    case("Hardsigmoid", inputs=[WIDE], marks=SIXTH),
    case("Hardsigmoid", inplace=True, inputs=[WIDE], opts={"grad": False}),
    case("Hardswish", inputs=[WIDE]),
    case("Hardswish", inplace=True, inputs=[WIDE], opts={"grad": False}),
    case("Softplus", inputs=[WIDE]),
    case("Softplus", beta=2.0, threshold=1.0, inputs=[WIDE]),
    case("Softsign", inputs=[WIDE]),
    case("LogSigmoid", inputs=[WIDE]),
    case("Tanhshrink", inputs=[WIDE]),
    case("Hardshrink", inputs=[WIDE]),
    case("Hardshrink", 1.0, inputs=[KINKS]),
    case("Hardshrink", -1.0, inputs=[WIDE], id="Hardshrink(-1.0) keeps everything"),
    case("Softshrink", inputs=[WIDE]),
    case("Softshrink", lambd=1.0, inputs=[KINKS]),
    case("Softshrink", 0.0, inputs=[KINKS]),
    case("Threshold", 0.1, 20.0, inputs=[WIDE]),
    case("Threshold", 0.5, -1.0, True, inputs=[KINKS], opts={"grad": False}),
    case("Threshold", 0.5, -1.0, inputs=[KINKS], id="Threshold at the kink"),
    case("PReLU", inputs=[WIDE]),
    case("PReLU", 3, inputs=[WIDE], id="PReLU(3) on (N, C)"),
    case("PReLU", 4, 0.1, inputs=[normal(*X3, scale=3.0)], id="PReLU(4, 0.1) on (N, C, L)"),
    case("PReLU", 3, inputs=[normal(*IMG, scale=3.0)], id="PReLU(3) on (N, C, H, W)"),
    case("PReLU", inputs=[normal(5, scale=3.0)], id="PReLU() on a 1-D input"),
    case("PReLU", init=-0.5, inputs=[KINKS], id="PReLU at 0"),
    case("RReLU", inputs=[WIDE], opts={"modes": ("eval",)}),
    case("RReLU", 0.1, 0.5, True, inputs=[WIDE], opts={"modes": ("eval",), "grad": False}),
    # lower == upper: training draws are all that one slope, so train mode is comparable
    case("RReLU", 0.2, 0.2, inputs=[WIDE], id="RReLU(0.2, 0.2) train and eval"),
    case("Softmax", dim=1, inputs=[WIDE]),
    case("Softmax", dim=0, inputs=[X3]),
    case("Softmax", inputs=[X3], id="Softmax() implicit dim"),
    case("Softmax", inputs=[IMG], id="Softmax() implicit dim, 4-D"),
    case("Softmax2d", inputs=[IMG]),
    case("Softmax2d", inputs=[X3], id="Softmax2d unbatched (C, H, W)"),
    case("LogSoftmax", dim=1, inputs=[WIDE]),
    case("LogSoftmax", dim=-1, inputs=[X3]),
    case("LogSoftmax", inputs=[X3], id="LogSoftmax() implicit dim"),
    case("Softmin", dim=1, inputs=[WIDE]),
    case("Softmin", dim=0),
    case("Softmin", inputs=[X], id="Softmin() implicit dim"),
    case("GLU", inputs=[EVEN]),
    case("GLU", 0, inputs=[normal(4, 3)], id="GLU(0)"),
    case("GLU", 1, inputs=[normal(2, 4, 3)], id="GLU(1) 3-D"),
]

# -- adaptive softmax: (input, target); targets cover the shortlist and both clusters --
ASM_TARGET = const([0, 5, 11, 3, 8, 7], np.int64)
ADAPTIVE = [
    case("AdaptiveLogSoftmaxWithLoss", 16, 12, [4, 8], div_value=2.0,
         inputs=[(6, 16), ASM_TARGET]),
    case("AdaptiveLogSoftmaxWithLoss", 16, 12, (4, 8), head_bias=True,
         inputs=[(6, 16), ASM_TARGET], id="AdaptiveLogSoftmaxWithLoss head_bias"),
    case("AdaptiveLogSoftmaxWithLoss", 16, 12, [4, 8], div_value=2.0,
         inputs=[(16,), const(9, np.int64)], id="AdaptiveLogSoftmaxWithLoss unbatched"),
    case("AdaptiveLogSoftmaxWithLoss", 16, 12, [6],
         inputs=[(6, 16), const([0, 1, 2, 3, 0, 1], np.int64)],
         id="AdaptiveLogSoftmaxWithLoss one cluster, shortlist targets only"),
]

# -- extremes: NaN, huge values, kinks, integer inputs, half precision -----------------
# NaN propagates through every activation in torch; huge inputs keep finite gradients
# (no 0 * inf from an unused where() branch).
NAN = const([[np.nan, 1.5, -1.5]] * 4, np.float32)
HUGE = const([[100.0, -100.0, 0.5], [1e4, -1e4, -0.5], [50.0, -50.0, 2.0], [90.0, -90.0, -2.0]],
             np.float32)
ELEMENTWISE = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "CELU", "SELU", "GELU", "SiLU", "Mish",
               "Sigmoid", "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Softplus",
               "Softsign", "LogSigmoid", "Tanhshrink", "Hardshrink", "Softshrink", "PReLU"]
HALF_INPUT = const(np.asarray(make_inputs([WIDE])[0], np.float16))
EXTREMES = [
    *[case(name, inputs=[NAN], opts={"grad": False}, id=f"{name} NaN input")
      for name in ELEMENTWISE],
    case("Threshold", 0.1, 20.0, inputs=[NAN], opts={"grad": False}, id="Threshold NaN"),
    case("RReLU", inputs=[NAN], opts={"grad": False, "modes": ("eval",)}, id="RReLU NaN"),
    case("Softmax", dim=1, inputs=[NAN], opts={"grad": False}, id="Softmax NaN input"),
    *[case(name, inputs=[HUGE], id=f"{name} huge inputs") for name in ELEMENTWISE],
    case("Threshold", 0.1, 20.0, inputs=[HUGE], id="Threshold huge inputs"),
    case("RReLU", inputs=[HUGE], opts={"modes": ("eval",)}, id="RReLU huge inputs"),
    case("LogSoftmax", dim=1, inputs=[HUGE], id="LogSoftmax huge inputs"),
    case("Softmax", dim=1, inputs=[HUGE], id="Softmax huge inputs"),
    case("Softmin", dim=1, inputs=[HUGE], id="Softmin huge inputs"),
    case("GLU", 0, inputs=[HUGE], id="GLU huge inputs"),
    # integer inputs: torch keeps the dtype (relu, hardtanh, threshold) or promotes to
    # float (sigmoid, tanh, tanhshrink, softsign)
    *[case(name, inputs=[integers(*X, low=-3, high=5)], id=f"{name} integer input")
      for name in ["ReLU", "ReLU6", "Hardtanh", "Tanh", "Sigmoid", "Softsign", "Tanhshrink"]],
    case("Threshold", 1.5, 9.5, inputs=[integers(*X, low=-3, high=5)],
         id="Threshold integer input casts value"),
    # float16: torch's CPU kernels support half for all of these
    *[case(name, inputs=[HALF_INPUT], opts=HALF, id=f"{name} float16")
      for name in ELEMENTWISE if name != "PReLU"],
    case("Softmax", dim=1, inputs=[HALF_INPUT], opts=HALF, id="Softmax float16"),
    case("LogSoftmax", dim=1, inputs=[HALF_INPUT], opts=HALF, id="LogSoftmax float16"),
]


@pytest.mark.parametrize("name, args, kwargs, inputs, opts", ACTIVATIONS + ADAPTIVE + EXTREMES)
def test_activation_matches_torch(name, args, kwargs, inputs, opts):
    check_layer(name, args, kwargs, inputs, **opts)


# -- errors: torch's type, and a message matching torch's regex ------------------------
INTS = integers(*X, low=-3, high=5)
ERRORS = [
    err("Hardtanh", (1.0, -1.0), {}, AssertionError,
        r"max_val \(-1\.0\) must be greater than min_val \(1\.0\)"),
    err("GLU", (1,), {}, RuntimeError,
        "Halving dimension must be even, but dimension 1 is size 3", [X]),
    err("GLU", (), {}, RuntimeError, "glu does not support scalars", [()]),
    err("Softmax", (2,), {}, IndexError,
        r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)", [X]),
    err("Softmax", (-3,), {}, IndexError,
        r"Dimension out of range \(expected to be in range of \[-2, 1\], but got -3\)", [X]),
    err("GLU", (2,), {}, IndexError, r"Dimension out of range", [EVEN]),
    err("GELU", ("foo",), {}, RuntimeError, "approximate argument must be either none or tanh",
        [X]),
    err("Softmax2d", (), {}, ValueError, "Softmax2d: expected input to be 3D or 4D, got 2D "
        "instead", [X]),
    err("Softmax2d", (), {}, ValueError, "expected input to be 3D or 4D, got 5D instead",
        [(1, 2, 1, 2, 2)]),
    err("PReLU", (3,), {}, RuntimeError, "Mismatch of parameter numbers and input channel "
        r"size\. Found parameter numbers = 3 and channel size = 4\.", [X3]),
    err("PReLU", (3,), {}, RuntimeError, "Found parameter numbers = 3 and channel size = 1",
        [(3,)], id="PReLU(3) on a 1-D input"),
    err("PReLU", (-1,), {}, RuntimeError,
        r"Trying to create tensor with negative dimension -1: \[-1\]"),
    err("Softshrink", (-1.0,), {}, RuntimeError,
        r"lambda must be in range \[0, 3\.40282e\+38\] for input dtype Float, but found -1",
        [X]),
    err("RReLU", (0.5, 0.1), {}, RuntimeError,
        "Lower bound should be less than or equal to the upper bound", [X]),
    *[err(name, (), {}, NotImplementedError, f'"{kernel}" not implemented for', [INTS])
      for name, kernel in [("LeakyReLU", "leaky_relu_cpu"), ("ELU", "elu_cpu"),
                           ("SELU", "elu_cpu"), ("GELU", "GeluKernelImpl"),
                           ("SiLU", "silu_cpu"), ("Mish", "mish_cpu"),
                           ("Hardswish", "hardswish_cpu"), ("Softplus", "softplus_cpu"),
                           ("LogSigmoid", "log_sigmoid_cpu"), ("Hardshrink", "hardshrink_cpu"),
                           ("Softshrink", "softshrink_check")]],
    err("GLU", (), {}, NotImplementedError, '"glu_cpu" not implemented for',
        [integers(4, 6, low=-3, high=5)]),
    # an integer input meets PReLU's float weight: torch's promotion refusal (Long there,
    # Int in jnn: its long is int32)
    err("PReLU", (), {}, RuntimeError, r"prelu: Type promoting not supported\. Got \w+ and "
        "Float", [INTS]),
    err("Softmax", (1,), {}, NotImplementedError,
        '"softmax_lastdim_kernel_impl" not implemented for', [INTS]),
    err("LogSoftmax", (0,), {}, NotImplementedError,
        '"log_softmax_kernel_impl" not implemented for', [INTS]),
    err("AdaptiveLogSoftmaxWithLoss", (16, 12, []), {}, ValueError,
        "cutoffs should be a sequence of length larger than 0"),
    *[err("AdaptiveLogSoftmaxWithLoss", (16, 12, cutoffs), {}, ValueError,
          "cutoffs should be a sequence of unique, positive integers sorted in an increasing "
          "order, where each value is between 1 and n_classes-1", id=f"cutoffs {cutoffs}")
      for cutoffs in ([4, 4], [8, 4], [0, 4], [4, 12], [4.5])],
    err("AdaptiveLogSoftmaxWithLoss", (16, 12, [4, 8]), {}, RuntimeError,
        r"Target values should be in \[0, 11\], but values in range \[0, 12\] were found\. ",
        [(4, 16), const([0, 12, 3, 1], np.int64)]),
    err("AdaptiveLogSoftmaxWithLoss", (16, 12, [4, 8]), {}, RuntimeError,
        "0D or 1D target tensor expected, multi-target not supported",
        [(4, 16), const([[0, 1], [3, 1]], np.int64)]),
    err("AdaptiveLogSoftmaxWithLoss", (16, 12, [4, 8]), {}, RuntimeError,
        r"0D target tensor expects 1D input tensors, but found inputs with size "
        r"torch\.Size\(\[4, 16\]\)", [(4, 16), const(3, np.int64)]),
    err("AdaptiveLogSoftmaxWithLoss", (16, 12, [4, 8]), {}, RuntimeError,
        "Input and target should have the same size in the batch dimension.",
        [(4, 16), const([3], np.int64)]),
    err("AdaptiveLogSoftmaxWithLoss", (16, 12, [4, 8]), {}, RuntimeError,
        r"1D target tensor expects 2D input tensors, but found inputs with size "
        r"torch\.Size\(\[4, 2, 16\]\)", [(4, 2, 16), const([3, 1, 0, 2], np.int64)]),
]


@pytest.mark.parametrize("name, args, kwargs, exc, match, inputs", ERRORS)
def test_activation_error_matches_torch(name, args, kwargs, exc, match, inputs):
    check_error(name, args, kwargs, exc, match, inputs=inputs)


# -- configurations (few distinct shapes: each is an XLA compile) ----------------------
@given(rank=st.sampled_from([1, 2, 3, 4]), per_channel=st.booleans(),
       init=st.sampled_from([0.25, -0.5, 0.0]))
def test_prelu_configurations(rank, per_channel, init):
    shape = (2, 3, 2, 2)[:rank] if rank > 1 else (3,)
    channels = shape[1] if rank > 1 and per_channel else 1
    check_layer("PReLU", (channels, init), {}, [normal(*shape, scale=3.0)], modes=("train",))


@given(rank=st.sampled_from([0, 1, 2, 3, 4]), dim=st.integers(-4, 3), data=st.data())
def test_softmax_family_dims(rank, dim, data):
    name = data.draw(st.sampled_from(["Softmax", "LogSoftmax", "Softmin"]))
    shape = (2, 3, 2, 2)[:rank]
    if -max(rank, 1) <= dim < max(rank, 1):
        check_layer(name, (dim,), {}, [shape], modes=("train",))
    else:
        check_error(name, (dim,), {}, IndexError, "Dimension out of range", inputs=[shape])


@given(lower=st.sampled_from([0.0, 0.1, 0.25]), width=st.sampled_from([0.0, 0.2, 0.5]))
def test_rrelu_eval_configurations(lower, width):
    check_layer("RReLU", (lower, lower + width), {}, [WIDE], modes=("eval",))


# -- RReLU in training: random slopes, checked statistically ---------------------------
def test_rrelu_training_draws_uniform_slopes():
    lower, upper = 0.1, 0.4
    layer = nn.RReLU(lower, upper)
    x = -jnp.abs(jnp.asarray(make_inputs([(64, 64)])[0])) - 0.1  # all negative
    jnn.manual_seed(0)
    first = layer(x)
    slopes = np.asarray(first / x).ravel()
    assert slopes.min() >= lower and slopes.max() <= upper
    n = slopes.size  # U(lower, upper): mean (l+u)/2, variance (u-l)^2/12
    assert abs(slopes.mean() - (lower + upper) / 2) < 5 * (upper - lower) / math.sqrt(12 * n)
    assert abs(slopes.var() / ((upper - lower) ** 2 / 12) - 1) < 0.05
    hist, _ = np.histogram(slopes, bins=10, range=(lower, upper))
    assert hist.min() > 0.8 * n / 10  # flat: no bin far below its share
    assert not np.array_equal(layer(x), first), "a fresh draw every call"
    jnn.manual_seed(0)
    np.testing.assert_array_equal(layer(x), first)  # reproducible from the seed
    positive = jnp.abs(x)
    np.testing.assert_array_equal(layer(positive), positive)  # x > 0 is kept as is
    expected_eval = np.asarray(x) * (lower + upper) / 2
    np.testing.assert_allclose(layer.eval()(x), expected_eval, rtol=1e-6)


def test_rrelu_training_gradient_is_the_drawn_slope():
    # torch: d out / d x is the sampled slope on x <= 0 and 1 elsewhere
    x = jnp.asarray(make_inputs([WIDE])[0])
    key = jax.random.key(3)
    out, grad = jax.value_and_grad(
        lambda v: jnn.nn.functional.rrelu(v, 0.1, 0.3, True, key=key).sum())(x)
    slopes = jnn.nn.functional.rrelu(x, 0.1, 0.3, True, key=key) / x
    np.testing.assert_allclose(grad, np.where(x > 0, 1.0, slopes), rtol=1e-6)


def test_rrelu_under_compile_draws_fresh_slopes():
    layer = nn.RReLU()
    x = -jnp.ones((4, 8))
    step = jnn.compile(lambda v: layer(v))
    first, second = step(x), step(x)
    assert not np.array_equal(first, second)
    assert (np.asarray(first) <= -1 / 8).all() and (np.asarray(first) >= -1 / 3).all()


# -- PReLU as a learnable layer ---------------------------------------------------------
def test_prelu_parameter_and_reset():
    layer = nn.PReLU(3, init=0.1, dtype=jnp.float16)
    assert layer.weight.shape == (3,) and layer.weight.dtype == jnp.float16
    np.testing.assert_array_equal(np.asarray(layer.weight), np.full(3, 0.1, np.float16))
    layer.weight.data = jnp.zeros(3, jnp.float16)
    layer.reset_parameters()
    np.testing.assert_array_equal(np.asarray(layer.weight), np.full(3, 0.1, np.float16))
    with pytest.raises(RuntimeError, match="prelu: Type promoting not supported. Got Float "
                                           "and Half"):
        layer(jnp.ones((2, 3)))
    with pytest.raises(RuntimeError, match="prelu: Type promoting not supported"):
        torch.nn.PReLU(3, dtype=torch.float16)(torch.ones(2, 3))


# -- AdaptiveLogSoftmaxWithLoss: log_prob and predict after loading torch's weights -----
def test_adaptive_log_prob_and_predict_match_torch():
    torch.manual_seed(0)
    t_asm = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 12, [4, 8], div_value=2.0)
    asm = nn.AdaptiveLogSoftmaxWithLoss(16, 12, [4, 8], div_value=2.0)
    asm.load_state_dict({k: v.numpy() for k, v in t_asm.state_dict().items()})
    x = make_inputs([normal(32, 16, scale=3.0)])[0]
    with torch.no_grad():
        t_log_prob = t_asm.log_prob(torch.from_numpy(x)).numpy()
        t_predict = t_asm.predict(torch.from_numpy(x)).numpy()
        t_out = t_asm(torch.from_numpy(x), torch.from_numpy(t_predict))
    np.testing.assert_allclose(asm.log_prob(jnp.asarray(x)), t_log_prob, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(asm.predict(jnp.asarray(x)), t_predict)
    assert len(set(t_predict.tolist())) > 1  # the batch exercises more than one class
    out = asm(jnp.asarray(x), jnp.asarray(t_predict))
    assert type(out).__name__ == "_ASMoutput" and out._fields == ("output", "loss")
    np.testing.assert_allclose(out.output, t_out.output.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.loss, t_out.loss.numpy(), rtol=1e-5, atol=1e-5)
    # log_prob is a distribution over all classes
    np.testing.assert_allclose(np.exp(np.asarray(asm.log_prob(jnp.asarray(x)))).sum(1), 1.0,
                               rtol=1e-5)


def test_adaptive_softmax_compiles():
    asm = nn.AdaptiveLogSoftmaxWithLoss(16, 12, [4, 8], div_value=2.0)
    x, target = make_inputs([(6, 16), ASM_TARGET])
    eager = asm(jnp.asarray(x), jnp.asarray(target))
    compiled = jax.jit(lambda m, a, t: m(a, t))(asm, jnp.asarray(x), jnp.asarray(target))
    np.testing.assert_allclose(compiled.loss, eager.loss, rtol=1e-6)


# -- bfloat16: torch.from_numpy has no bfloat16, so compare through float32 copies ----------
@pytest.mark.parametrize("name, args", [
    ("ReLU", ()), ("GELU", ()), ("SiLU", ()), ("ELU", ()), ("Hardswish", ()), ("Mish", ()),
    ("Softplus", ()), ("LogSigmoid", ()), ("Tanh", ()), ("Sigmoid", ()), ("Softshrink", ()),
    ("Hardshrink", ()), ("Tanhshrink", ()), ("Threshold", (0.1, 2.0)), ("Softmax", (1,)),
    ("LogSoftmax", (1,)),
])
def test_bfloat16_matches_torch(name, args):
    x = make_inputs([WIDE])[0]
    expected = getattr(torch.nn, name)(*args)(torch.from_numpy(x).bfloat16())
    got = getattr(nn, name)(*args)(jnp.asarray(x, jnp.bfloat16))
    assert got.dtype == jnp.bfloat16 and expected.dtype == torch.bfloat16
    # bfloat16 keeps 8 significant bits: about 2 decimal digits
    np.testing.assert_allclose(np.asarray(got, np.float32), expected.float().numpy(),
                               rtol=2e-2, atol=2e-2)
