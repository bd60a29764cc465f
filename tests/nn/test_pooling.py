"""Pooling layers and functions against torch: a registry of cases and errors, the seed
document's examples, and hypothesis over configurations (few distinct shapes: each new
shape or static argument is an XLA compile)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import jnn
import jnn.nn as nn
import jnn.nn.functional as F
from tests.nn._same_error import assert_same_error
from tests.nn.registry import case, err
from tests.oracle import check_error, check_function, check_layer, const, make_inputs, uniform

X1, X1U = (2, 3, 9), (3, 9)
X2, X2U = (2, 3, 7, 9), (3, 7, 9)
X3, X3U = (1, 2, 5, 6, 7), (2, 5, 6, 7)
U2, U3 = (2, 3, 6, 8), (1, 2, 4, 6, 6)  # sizes the pooling tiles: default unpool sizes
POS2 = uniform(*X2, low=0.5, high=2.0)  # LP pooling with fractional powers needs x > 0
NO_GRAD = {"grad": False}  # index outputs are integers: gradients via check_function below
GRID = np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4)
TIES = np.ones((1, 1, 4, 4), np.float32)
NANS = make_inputs([X2])[0]
NANS[0, 0, 0, 1] = NANS[0, 0, 1, 0] = NANS[1, 2, 3, 3] = np.nan


def _pooled(nd, shape, *args, **kwargs):
    """torch's max pooling output and int64 indices on the seeded input (for unpooling)."""
    x = torch.from_numpy(make_inputs([shape], seed=3)[0])
    y, i = getattr(TF, f"max_pool{nd}d")(x, *args, return_indices=True, **kwargs)
    return const(y.numpy()), const(i.numpy())


MAX = [
    case("MaxPool1d", 3, inputs=[X1]),
    case("MaxPool1d", 2, ceil_mode=True, inputs=[X1U]),
    case("MaxPool1d", 3, 2, 1, return_indices=True, inputs=[X1], opts=NO_GRAD),
    case("MaxPool2d", 2, inputs=[X2]),
    case("MaxPool2d", 3, stride=2, padding=1, dilation=2, inputs=[X2]),
    case("MaxPool2d", (2, 3), (1, 2), (1, 1), (2, 1), inputs=[X2], id="MaxPool2d tuples"),
    case("MaxPool2d", [3, 2], stride=[2, 3], ceil_mode=True, inputs=[X2U]),
    case("MaxPool2d", 3, 2, 1, ceil_mode=True, return_indices=True, inputs=[X2], opts=NO_GRAD),
    case("MaxPool2d", 3, 1, inputs=[TIES], id="MaxPool2d ties: first maximum gets the grad"),
    case("MaxPool2d", 2, return_indices=True, inputs=[NANS], opts=NO_GRAD,
         id="MaxPool2d NaN: last NaN index"),
    case("MaxPool2d", 2, inputs=[const(np.arange(63).reshape(1, 7, 9), np.int64)],
         id="MaxPool2d integer input"),
    case("MaxPool3d", 2, inputs=[X3]),
    case("MaxPool3d", (2, 3, 2), 2, 1, ceil_mode=True, return_indices=True, inputs=[X3U],
         opts=NO_GRAD),
]

UNPOOL = [
    case("MaxUnpool1d", 2, inputs=list(_pooled(1, X1, 2))),
    case("MaxUnpool1d", 3, 2, 1, inputs=list(_pooled(1, X1U, 3, 2, 1)), id="MaxUnpool1d pad"),
    case("MaxUnpool2d", 2, inputs=list(_pooled(2, U2, 2))),
    case("MaxUnpool2d", (3, 2), (2, 1), (1, 0), inputs=list(_pooled(2, X2, (3, 2), (2, 1),
                                                                    (1, 0)))),
    case("MaxUnpool2d", 3, 1, inputs=list(_pooled(2, (1, 1, 4, 4), 3, 1)),
         id="MaxUnpool2d overlapping windows: repeated indices"),
    case("MaxUnpool3d", 2, inputs=list(_pooled(3, U3, 2))),
    case("MaxUnpool3d", 2, inputs=list(_pooled(3, U3[1:], 2)), id="MaxUnpool3d unbatched"),
]

AVG = [
    case("AvgPool1d", 3, inputs=[X1]),
    case("AvgPool1d", 3, 2, 1, ceil_mode=True, inputs=[X1U]),
    case("AvgPool1d", 4, 3, 2, True, False, inputs=[X1], id="AvgPool1d no pad count"),
    case("AvgPool2d", 2, inputs=[X2]),
    case("AvgPool2d", 3, 2, 1, ceil_mode=True, inputs=[X2], id="AvgPool2d ceil partial"),
    case("AvgPool2d", (3, 2), (2, 3), (1, 1), True, False, inputs=[X2]),
    case("AvgPool2d", 2, divisor_override=3, inputs=[X2]),
    case("AvgPool2d", 2, inputs=[const(-np.arange(63).reshape(1, 7, 9) - 1, np.int64)],
         id="AvgPool2d integer input truncates"),
    case("AvgPool3d", 2, inputs=[X3]),
    case("AvgPool3d", 3, 2, 1, True, False, inputs=[X3U]),
    case("AvgPool3d", (2, 3, 2), 2, 1, divisor_override=7, inputs=[X3]),
]

LP = [
    case("LPPool1d", 2, 3, inputs=[X1]),
    case("LPPool1d", float("inf"), 3, 2, inputs=[X1]),
    case("LPPool2d", 2, 2, inputs=[X2]),
    case("LPPool2d", 1.5, (3, 2), (2, 1), inputs=[POS2]),
    case("LPPool2d", 2, 3, 2, True, inputs=[X2], id="LPPool2d ceil_mode scaling"),
    case("LPPool2d", -float("inf"), 2, inputs=[X2U]),
    case("LPPool3d", 2, 2, inputs=[X3]),
    case("LPPool3d", 1, (2, 3, 2), 2, True, inputs=[X3U]),
]

ADAPTIVE = [
    case("AdaptiveMaxPool1d", 4, inputs=[X1]),
    case("AdaptiveMaxPool1d", 9, True, inputs=[X1U], opts=NO_GRAD),
    case("AdaptiveMaxPool2d", (5, 7), inputs=[(1, 64, 8, 9)], id="seed AdaptiveMaxPool2d((5, 7))"),
    case("AdaptiveMaxPool2d", 7, inputs=[(1, 64, 10, 9)], id="seed AdaptiveMaxPool2d(7)"),
    case("AdaptiveMaxPool2d", (None, 4), True, inputs=[X2], opts=NO_GRAD),
    case("AdaptiveMaxPool2d", 3, inputs=[TIES], id="AdaptiveMaxPool2d ties"),
    case("AdaptiveMaxPool2d", 1, True, inputs=[NANS], opts=NO_GRAD),
    case("AdaptiveMaxPool3d", (2, None, 3), inputs=[X3]),
    case("AdaptiveMaxPool3d", 4, True, inputs=[X3U], opts=NO_GRAD),
    case("AdaptiveAvgPool1d", 4, inputs=[X1]),
    case("AdaptiveAvgPool1d", 3, inputs=[X1U], id="AdaptiveAvgPool1d dividing"),
    case("AdaptiveAvgPool2d", (5, 7), inputs=[X2]),
    case("AdaptiveAvgPool2d", (None, 3), inputs=[X2U]),
    case("AdaptiveAvgPool2d", 1, inputs=[X2], id="AdaptiveAvgPool2d global"),
    case("AdaptiveAvgPool3d", (2, 4, 3), inputs=[X3]),
]

S2 = np.random.default_rng(5).random((2, 3, 2)).astype(np.float32)
S3 = np.random.default_rng(6).random((1, 2, 3)).astype(np.float32)
FRACTIONAL = [
    case("FractionalMaxPool2d", 2, (4, 5), _random_samples=S2, inputs=[X2]),
    case("FractionalMaxPool2d", 3, output_ratio=0.6, _random_samples=S2, inputs=[X2]),
    case("FractionalMaxPool2d", (2, 3), 3, None, True, S2[:1], inputs=[X2U], opts=NO_GRAD),
    case("FractionalMaxPool3d", 2, (3, 4, 5), _random_samples=S3, inputs=[X3]),
    case("FractionalMaxPool3d", (2, 3, 2), output_ratio=(0.5, 0.5, 0.6), _random_samples=S3,
         return_indices=True, inputs=[X3U], opts=NO_GRAD),
]


@pytest.mark.parametrize("name, args, kwargs, inputs, opts",
                         MAX + UNPOOL + AVG + LP + ADAPTIVE + FRACTIONAL)
def test_pooling_matches_torch(name, args, kwargs, inputs, opts):
    check_layer(name, args, kwargs, inputs, **opts)


# -- errors: torch's type and a message matching torch's regex -------------------------
TOO_SMALL = r"Given input size: \(3x7x9\)\. Calculated output size: \(3x0x1\)\. Output size"
PAD_HALF = r"pad should be at most half of effective kernel size, but got pad=2, kernel_size=3"
ERRORS = [
    err("MaxPool2d", (2,), {}, RuntimeError,
        r"non-empty 3D or 4D \(batch mode\) tensor expected for input", [(7, 9)]),
    err("MaxPool3d", (2,), {}, RuntimeError,
        r"non-empty 4D or 5D \(batch mode\) tensor expected for input", [X2U]),
    err("MaxPool1d", (2,), {}, RuntimeError,
        r"max_pool1d: Expected 2D or 3D \(batch mode\) tensor with optional 0 dim batch size "
        r"for input, but got:\[9\]", [(9,)]),
    err("MaxPool1d", (2,), {"return_indices": True}, RuntimeError,
        "Expected 2 to 3 dimensions, but got 4-dimensional tensor", [X2]),
    err("AvgPool2d", (2,), {}, IndexError, r"Dimension out of range", [(7, 9)]),
    err("AvgPool1d", (2,), {}, RuntimeError,
        r"while checking arguments for avg_pool1d", [(9,)]),
    err("MaxPool2d", ((8, 9),), {}, RuntimeError, TOO_SMALL, [X2U]),
    err("AvgPool2d", ((8, 9),), {}, RuntimeError, TOO_SMALL, [X2U]),
    err("LPPool2d", (2, (8, 9)), {}, RuntimeError, TOO_SMALL, [X2U]),
    err("MaxPool1d", (10,), {}, RuntimeError, r"max_pool1d\(\) Invalid computed output size: 0",
        [X1]),
    err("AvgPool3d", (6,), {}, RuntimeError,
        r"input image \(T: 5 H: 6 W: 7\) smaller than kernel size \(kT: 6 kH: 6 kW: 6\)", [X3]),
    err("MaxPool2d", (3,), {"padding": 2}, RuntimeError, PAD_HALF, [X2]),
    err("AvgPool2d", (3,), {"padding": 2}, RuntimeError, PAD_HALF, [X2]),
    err("MaxPool1d", (3,), {"padding": 2}, RuntimeError,
        r"max_pool1d\(\) padding should be at most half of kernel size, but got padding=2 and "
        "kernel_size=3", [X1]),
    err("MaxPool2d", (3,), {"padding": 2, "dilation": 2}, RuntimeError,
        r"pad should be smaller than or equal to half of kernel size, but got padW = 2, "
        "padH = 2, kW = 3, kH = 3", [X2]),
    err("MaxPool2d", (0,), {}, RuntimeError, "stride should not be zero", [X2]),
    err("MaxPool2d", (-1,), {"stride": 1}, RuntimeError,
        "kernel size should be greater than zero, but got kH: -1 kW: -1", [X2]),
    err("MaxPool3d", (2,), {"dilation": 0}, RuntimeError,
        "dilation should be greater than zero, but got dilationT: 0 dilationH: 0", [X3]),
    err("MaxPool2d", (2,), {"padding": -1}, RuntimeError, "pad must be non-negative", [X2]),
    err("MaxPool2d", ((2, 2, 2),), {}, RuntimeError,
        "max_pool2d: kernel_size must either be a single int, or a tuple of two ints", [X2]),
    err("AvgPool1d", ((2, 2),), {}, RuntimeError,
        r"avg_pool1d\(\) argument 'kernel_size' should contain one int \(got 2\)", [X1]),
    err("AvgPool2d", (2,), {"divisor_override": 0}, RuntimeError, "divisor must be not zero",
        [X2]),
    err("MaxPool2d", (2,), {}, RuntimeError, r"optional 0 dim batch size for input, but got:"
        r"\[2, 0, 7, 9\]", [(2, 0, 7, 9)]),
    err("MaxPool1d", (2,), {}, NotImplementedError, "\"max_pool1d_impl\" not implemented for",
        [const(np.ones((3, 9), np.int64))]),
    err("MaxUnpool2d", (2,), {}, RuntimeError,
        "Input to max_unpooling2d should be a 3d or 4d Tensor, but got a tensor with 2 "
        "dimensions", [(2, 2), const(np.zeros((2, 2), np.int64))]),
    err("MaxUnpool2d", (2,), {}, RuntimeError,
        r"Expected shape of indices to be same as that of the input tensor \(\[1, 3, 2, 2\]\) "
        r"but got indices tensor with shape: \[1, 3, 1, 2\]",
        [(1, 3, 2, 2), const(np.zeros((1, 3, 1, 2), np.int64))]),
    err("MaxUnpool2d", (2,), {}, RuntimeError, "elements in indices should be type int64 but "
        "got: Float", [(1, 3, 2, 2), (1, 3, 2, 2)]),
    err("AdaptiveMaxPool2d", (2,), {}, RuntimeError,
        r"adaptive_max_pool2d\(\): Expected 3D or 4D tensor, but got: \[7, 9\]", [(7, 9)]),
    err("AdaptiveMaxPool2d", ((2, None),), {}, ValueError,
        "Input dimension should be at least 3", [(7, 9)]),
    err("AdaptiveMaxPool2d", ((2, 3, 4),), {}, RuntimeError,
        r"output_size\.size\(\) must be 2", [X2]),
    err("AdaptiveAvgPool2d", (-1,), {}, RuntimeError,
        r"elements of output_size must be greater than or equal to 0 but received \{-1, -1\}",
        [X2]),
    err("AdaptiveAvgPool3d", (2,), {}, RuntimeError,
        r"adaptive_avg_pool3d\(\): Expected 4D or 5D tensor, but got \[7, 9\]", [(7, 9)]),
    err("AdaptiveAvgPool1d", ((2, 2),), {}, RuntimeError,
        r"adaptive_avg_pool1d\(\) argument 'output_size' should contain one int \(got 2\)",
        [X1]),
    err("AdaptiveMaxPool2d", (2,), {}, RuntimeError,
        r"Expected input to have non-zero size for non-batch dimensions, but input has sizes "
        r"\[1, 3, 0, 4\] with dimension 2 being empty", [(1, 3, 0, 4)]),
    err("AdaptiveAvgPool2d", (2,), {}, NotImplementedError,
        "\"adaptive_avg_pool2d\" not implemented for", [const(np.ones(X2U, np.int64))]),
    err("FractionalMaxPool2d", (2,), {}, ValueError,
        "FractionalMaxPool2d requires specifying either an output size, or a pooling ratio"),
    err("FractionalMaxPool3d", (2,), {"output_size": 2, "output_ratio": 0.5}, ValueError,
        "only one of output_size and output_ratio may be specified"),
    err("FractionalMaxPool2d", (2,), {"output_ratio": 1.5}, ValueError,
        r"output_ratio must be between 0 and 1 \(got 1\.5\)"),
    err("FractionalMaxPool2d", (3,), {"output_size": 6}, RuntimeError,
        r"fractional_max_pool2d\(\): pool height 3 too large relative to input height 7",
        [X2]),
    err("FractionalMaxPool3d", (2,), {"output_size": 5}, RuntimeError,
        r"fractional_max_pool3d_out\(\): pool time 2 too large relative to input time 5", [X3]),
    err("FractionalMaxPool2d", (2,), {"output_size": 3}, IndexError, "Dimension out of range",
        [(7, 9)]),
    err("FractionalMaxPool2d", (2,), {"output_size": 3, "_random_samples": S2[:, :2]},
        RuntimeError, r"Expect _random_samples\.size\(1\) equals to input channel size", [X2]),
]


@pytest.mark.parametrize("name, args, kwargs, exc, match, inputs", ERRORS)
def test_pooling_error_matches_torch(name, args, kwargs, exc, match, inputs):
    check_error(name, args, kwargs, exc, match, inputs=inputs)


UNPOOL_Y, UNPOOL_I = _pooled(2, (1, 1, 4, 4), 2)


@pytest.mark.parametrize("output_size, match", [
    ((5, 5, 5), "output_size should be a sequence containing 2 or 4 elements, but it has a "
                "length of '3'"),
    ((6, 6), r'invalid output_size "\(6, 6\)" \(dim 0 must be between 2 and 6\)'),
    ((1, 1, 2, 2), r'invalid output_size "\(2, 2\)" \(dim 0 must be between 2 and 6\)'),
])
def test_unpool_output_size_errors_match_torch(output_size, match):
    y, i = make_inputs([UNPOOL_Y, UNPOOL_I])
    with pytest.raises(ValueError, match=match):
        torch.nn.MaxUnpool2d(2)(torch.from_numpy(y), torch.from_numpy(i), output_size)
    with pytest.raises(ValueError, match=match):
        nn.MaxUnpool2d(2)(jnp.asarray(y), jnp.asarray(i), output_size)


@pytest.mark.parametrize("name, inputs", [
    ("MaxUnpool1d", [(1, 1, 2), const(np.full((1, 1, 2), 40))]),
    ("MaxUnpool2d", [(1, 1, 2, 2), const(np.full((1, 1, 2, 2), 40))]),
    ("MaxUnpool2d", [(1, 2, 2), const(np.array([[[0, 1], [2, 50]]]))]),
    ("MaxUnpool3d", [(1, 1, 2, 2, 2), const(np.full((1, 1, 2, 2, 2), -1))]),
])
def test_unpool_invalid_index_matches_torch(name, inputs):
    check_error(name, (2,), {}, RuntimeError, "Found an invalid max index", inputs=inputs)


def test_unpool_invalid_index_in_a_checked_compiled_step():
    unpool = nn.MaxUnpool2d(2)
    step = jnn.compile(lambda y, i: unpool(y, i).sum(), checks=True)
    y = jnp.ones((1, 1, 2, 2))
    ok = jnp.array([[[[0, 3], [8, 15]]]], jnp.int32)
    assert float(step(y, ok)) == 4.0
    with pytest.raises(RuntimeError, match=r"invalid max index: 16 \(output volumes are of "
                                            r"size 4x4\)"):
        step(y, jnp.full((1, 1, 2, 2), 16, jnp.int32))


# -- the seed document's examples ------------------------------------------------------
def test_seed_maxpool2d_kernel_2():
    check_layer("MaxPool2d", (), {"kernel_size": 2}, [const(GRID)])
    out = nn.MaxPool2d(kernel_size=2)(jnp.asarray(GRID))
    np.testing.assert_array_equal(out, [[[[6.0, 8.0], [14.0, 16.0]]]])  # torch's values


def test_seed_maxpool_then_unpool():
    pool, unpool = nn.MaxPool2d(2, stride=2, return_indices=True), nn.MaxUnpool2d(2, 2)
    t_pool, t_unpool = torch.nn.MaxPool2d(2, 2, return_indices=True), torch.nn.MaxUnpool2d(2, 2)
    out, idx = pool(jnp.asarray(GRID))
    t_out, t_idx = t_pool(torch.from_numpy(GRID))
    np.testing.assert_array_equal(idx, t_idx.numpy())
    np.testing.assert_array_equal(idx, [[[[5, 7], [13, 15]]]])
    back, t_back = unpool(out, idx), t_unpool(t_out, t_idx)
    np.testing.assert_array_equal(back, t_back.numpy())
    expected = np.zeros((1, 1, 4, 4), np.float32)
    expected[0, 0, 1, 1], expected[0, 0, 1, 3] = 6, 8
    expected[0, 0, 3, 1], expected[0, 0, 3, 3] = 14, 16
    np.testing.assert_array_equal(back, expected)
    back5 = unpool(out, idx, output_size=(1, 1, 5, 5))
    t_back5 = t_unpool(t_out, t_idx, output_size=(1, 1, 5, 5))
    assert back5.shape == (1, 1, 5, 5)
    np.testing.assert_array_equal(back5, t_back5.numpy())


@given(length=st.sampled_from([9, 12]), kernel=st.integers(1, 4), stride=st.integers(1, 3),
       padding=st.integers(0, 2), dilation=st.integers(1, 2), ceil_mode=st.booleans())
def test_max_pool1d_output_size_formula(length, kernel, stride, padding, dilation, ceil_mode):
    padding = min(padding, kernel // 2)
    x = make_inputs([(1, 2, length)])[0]
    out = F.max_pool1d(jnp.asarray(x), kernel, stride, padding, dilation, ceil_mode)
    rounding = math.ceil if ceil_mode else math.floor
    size = rounding((length + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1
    if ceil_mode and (size - 1) * stride >= length + padding:
        size -= 1
    expected = TF.max_pool1d(torch.from_numpy(x), kernel, stride, padding, dilation, ceil_mode)
    assert out.shape == (1, 2, size) == tuple(expected.shape)
    np.testing.assert_array_equal(out, expected.numpy())


@given(length=st.sampled_from([9, 12]), kernel=st.integers(1, 4), stride=st.integers(1, 3),
       padding=st.integers(0, 2), ceil_mode=st.booleans(), count_include_pad=st.booleans())
def test_avg_pool1d_output_size_formula(length, kernel, stride, padding, ceil_mode,
                                        count_include_pad):
    padding = min(padding, kernel // 2)
    x = make_inputs([(1, 2, length)])[0]
    out = F.avg_pool1d(jnp.asarray(x), kernel, stride, padding, ceil_mode, count_include_pad)
    rounding = math.ceil if ceil_mode else math.floor
    size = rounding((length + 2 * padding - kernel) / stride) + 1
    if ceil_mode and (size - 1) * stride >= length + padding:
        size -= 1
    expected = TF.avg_pool1d(torch.from_numpy(x), kernel, stride, padding, ceil_mode,
                             count_include_pad)
    assert out.shape == (1, 2, size) == tuple(expected.shape)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-5, atol=1e-6)


# -- hypothesis over configurations (values, indices and gradients via check_function) --
@settings(max_examples=5)  # each example compiles a forward + VJP program: keep the file fast
@given(kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 2)), dilation=st.integers(1, 2),
       ceil_mode=st.booleans(), batched=st.booleans())
def test_max_pool2d_with_indices_configurations(kernel, stride, dilation, ceil_mode, batched):
    padding = (kernel[0] // 2, 0)
    x = make_inputs([X2 if batched else X2U])[0]
    args = (kernel, stride, padding, dilation, ceil_mode)
    y, i = F.max_pool2d_with_indices(jnp.asarray(x), *args)
    t_y, t_i = TF.max_pool2d_with_indices(torch.from_numpy(x), *args)
    np.testing.assert_array_equal(i, t_i.numpy())
    check_function(lambda v: F.max_pool2d(v, *args, return_indices=True)[0],
                   lambda v: TF.max_pool2d(v, *args, return_indices=True)[0], [x])


@settings(max_examples=5)  # as above
@given(out_h=st.integers(1, 7), out_w=st.sampled_from([None, 2, 4, 9, 11]), nd=st.sampled_from(
    [1, 2, 3]))
def test_adaptive_pooling_configurations(out_h, out_w, nd):
    x = make_inputs([{1: X1, 2: X2, 3: X3}[nd]])[0]
    size = {1: out_h, 2: (out_h, out_w), 3: (out_h, 3, out_w)}[nd]
    if nd == 1:
        size = out_h
    y, i = getattr(F, f"adaptive_max_pool{nd}d")(jnp.asarray(x), size, True)
    t_y, t_i = getattr(TF, f"adaptive_max_pool{nd}d")(torch.from_numpy(x), size, True)
    np.testing.assert_array_equal(y, t_y.numpy())
    np.testing.assert_array_equal(i, t_i.numpy())
    check_function(lambda v: getattr(F, f"adaptive_avg_pool{nd}d")(v, size),
                   lambda v: getattr(TF, f"adaptive_avg_pool{nd}d")(v, size), [x])


# -- direct functional comparisons (jit + VJP), one per function family ------------------
FUNCTIONS = [
    ("max_pool1d", (X1,), dict(kernel_size=3, stride=2, padding=1, return_indices=True)),
    ("max_pool3d", (X3,), dict(kernel_size=2, stride=1, return_indices=True)),
    ("avg_pool2d", (X2,), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("lp_pool2d", (X2,), dict(norm_type=2, kernel_size=3, stride=2, ceil_mode=True)),
    ("adaptive_max_pool3d", (X3,), dict(output_size=(2, 4, 3), return_indices=True)),
    ("fractional_max_pool2d", (X2,), dict(kernel_size=2, output_size=(4, 5),
                                           _random_samples=S2, return_indices=True)),
    ("fractional_max_pool3d", (X3,), dict(kernel_size=2, output_ratio=(0.5, 0.5, 0.5),
                                           _random_samples=S3)),
]


@pytest.mark.parametrize("name, shapes, kwargs", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_functional_matches_torch(name, shapes, kwargs):
    xs = make_inputs(shapes)
    j_kwargs = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    t_kwargs = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                for k, v in kwargs.items()}

    def first(out):
        return out[0] if isinstance(out, tuple) else out

    check_function(lambda v: first(getattr(F, name)(v, **j_kwargs)),
                   lambda v: first(getattr(TF, name)(v, **t_kwargs)), xs)


def test_max_unpool_functional_gradient_matches_torch():
    y, i = make_inputs(list(_pooled(2, (1, 1, 4, 4), 3, 1)))
    check_function(lambda v, idx: F.max_unpool2d(v, idx, 3, 1),
                   lambda v, idx: TF.max_unpool2d(v, idx, 3, 1), [y, i])


# -- empty batches (N = 0) and channels: torch returns empty outputs -------------------
def _first(out):
    return out[0] if isinstance(out, tuple) else out


EMPTY_BATCH = [
    ("max_pool1d", (0, 3, 4), dict(kernel_size=2, return_indices=True)),
    ("max_pool2d", (0, 3, 4, 4), dict(kernel_size=2, return_indices=True)),
    ("max_pool3d", (0, 2, 4, 4, 4), dict(kernel_size=2, return_indices=True)),
    ("adaptive_max_pool1d", (0, 3, 4), dict(output_size=3, return_indices=True)),
    ("adaptive_max_pool2d", (0, 3, 4, 4), dict(output_size=2, return_indices=True)),
    ("adaptive_max_pool3d", (0, 2, 4, 4, 4), dict(output_size=3)),
    ("fractional_max_pool2d", (0, 3, 4, 4), dict(kernel_size=2, output_size=2,
                                                 _random_samples=S2[:0], return_indices=True)),
    ("fractional_max_pool3d", (0, 2, 4, 4, 4), dict(kernel_size=2, output_size=2,
                                                    _random_samples=np.zeros((0, 2, 3),
                                                                             np.float32))),
]


@pytest.mark.parametrize("name, shape, kwargs", EMPTY_BATCH, ids=[c[0] for c in EMPTY_BATCH])
def test_empty_batch_matches_torch(name, shape, kwargs):
    x = make_inputs([shape])[0]
    j_kwargs = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    t_kwargs = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                for k, v in kwargs.items()}
    t_out = getattr(TF, name)(torch.from_numpy(x), **t_kwargs)
    j_out = getattr(F, name)(jnp.asarray(x), **j_kwargs)
    if kwargs.get("return_indices"):
        assert j_out[1].shape == tuple(t_out[1].shape)
    check_function(lambda v: _first(getattr(F, name)(v, **j_kwargs)),
                   lambda v: _first(getattr(TF, name)(v, **t_kwargs)), [x])


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_unpool_empty_batch_matches_torch(nd):
    spatial = (2,) * nd
    xs = make_inputs([(0, 3) + spatial, const(np.zeros((0, 3) + spatial, np.int64))])
    check_function(lambda v, i: getattr(F, f"max_unpool{nd}d")(v, i, 2),
                   lambda v, i: getattr(TF, f"max_unpool{nd}d")(v, i, 2), xs)


# torch checks only the pooled dims of the 2-d average kernel (adaptive_avg_pool1d runs
# on it); the others skip dim 0, which for an unbatched input is the channel dim
ADAPTIVE_EMPTY = [
    ("adaptive_max_pool1d", (0, 4)), ("adaptive_max_pool2d", (0, 4, 4)),
    ("adaptive_max_pool3d", (0, 4, 4, 4)), ("adaptive_avg_pool1d", (0, 4)),
    ("adaptive_avg_pool1d", (2, 0, 4)), ("adaptive_avg_pool2d", (0, 4, 4)),
    ("adaptive_avg_pool2d", (2, 0, 4, 4)), ("adaptive_avg_pool3d", (0, 4, 4, 4)),
]


@pytest.mark.parametrize("name, shape", ADAPTIVE_EMPTY)
def test_adaptive_pool_empty_channels_match_torch(name, shape):
    # forward only: torch's backward of the 2-d average kernel rejects an empty channel dim
    t_out = _first(getattr(TF, name)(torch.ones(shape), 2))
    j_out = _first(getattr(F, name)(jnp.ones(shape), 2))
    assert j_out.shape == tuple(t_out.shape) and j_out.dtype == jnp.float32


@pytest.mark.parametrize("name, shape", [
    ("adaptive_avg_pool1d", (3, 0)), ("adaptive_avg_pool1d", (3, 3, 0)),
    ("adaptive_avg_pool2d", (3, 0, 3)), ("adaptive_avg_pool2d", (0, 3, 0, 3)),
    ("adaptive_max_pool1d", (3, 0, 3)), ("adaptive_max_pool2d", (3, 0, 3)),
    ("adaptive_avg_pool3d", (3, 0, 3, 3)), ("adaptive_max_pool3d", (0, 3, 0, 3, 3)),
])
def test_adaptive_pool_empty_dims_raise_like_torch(name, shape):
    assert_same_error(lambda: getattr(TF, name)(torch.ones(shape), 2),
                      lambda: getattr(F, name)(jnp.ones(shape), 2))


# -- integer inputs: torch's average pools take Long (jnn's int32) and no smaller int -----
SMALL_INTS = ["int8", "uint8", "int16"]
INT_CALLS = {
    "avg_pool1d": lambda F, x: F.avg_pool1d(x[0], 2),
    "avg_pool2d": lambda F, x: F.avg_pool2d(x, 2, divisor_override=3),
    "avg_pool3d": lambda F, x: F.avg_pool3d(x, 2),
    "AvgPool2d": lambda F, x: (torch.nn if F is TF else nn).AvgPool2d(2)(x[0]),
    "lp_pool2d int p": lambda F, x: F.lp_pool2d(x, 2, 2),
    "lp_pool3d int p": lambda F, x: F.lp_pool3d(x, 1, 2),
    "adaptive_avg_pool2d": lambda F, x: F.adaptive_avg_pool2d(x, 3),
}


# bool ** int is Long in torch (int32 in jnn), which LP pooling's average accepts
REFUSED = [(name, dtype) for name in INT_CALLS for dtype in SMALL_INTS + ["bool", "complex64"]
           if not (name.startswith("lp_pool") and dtype == "bool")]


@pytest.mark.parametrize("name, dtype", REFUSED)
def test_avg_pools_refuse_dtypes_like_torch(name, dtype):
    shape = (1, 2, 4, 4, 4) if name.endswith("3d") or "3d " in name else (1, 2, 4, 4)
    call = INT_CALLS[name]
    assert_same_error(lambda: call(TF, torch.ones(shape, dtype=getattr(torch, dtype))),
                      lambda: call(F, jnp.ones(shape, dtype)))


@pytest.mark.parametrize("dtype", SMALL_INTS)
def test_lp_pool_float_power_of_small_ints_matches_torch(dtype):
    # a float power promotes before the average, so torch accepts these
    x = (np.arange(32) % 7).reshape(1, 2, 4, 4)
    t_out = TF.lp_pool2d(torch.tensor(x, dtype=getattr(torch, dtype)), 2.0, 2)
    j_out = F.lp_pool2d(jnp.asarray(x, dtype), 2.0, 2)
    assert j_out.dtype == jnp.float32 and t_out.dtype == torch.float32
    np.testing.assert_allclose(j_out, t_out.numpy(), rtol=1e-6)


# -- JAX transformations and randomness ---------------------------------------------
def test_pooling_under_jit_and_vmap():
    x = jnp.asarray(make_inputs([X2])[0])
    eager = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    jitted = jax.jit(lambda v: F.max_pool2d(v, 3, 2, 1, return_indices=True))(x)
    mapped = jax.vmap(lambda v: F.max_pool2d(v, 3, 2, 1, return_indices=True))(x)
    for got in (jitted, mapped):
        np.testing.assert_array_equal(got[0], eager[0])
        np.testing.assert_array_equal(got[1], eager[1])
    avg = jax.vmap(lambda v: F.adaptive_avg_pool2d(v, (5, 7)))(x)
    np.testing.assert_allclose(avg, F.adaptive_avg_pool2d(x, (5, 7)), rtol=1e-6)


def test_fractional_without_samples_draws_from_jnn_generator():
    x = jnp.asarray(make_inputs([X2])[0])
    layer = nn.FractionalMaxPool2d(2, output_size=(4, 5), return_indices=True)
    assert layer.state_dict() == {} and repr(layer) == "FractionalMaxPool2d()"
    jnn.manual_seed(0)
    (a, ia), (_, ib) = layer(x), layer(x)
    jnn.manual_seed(0)
    a2, ia2 = layer(x)
    np.testing.assert_array_equal(ia, ia2)
    assert not np.array_equal(ia, ib)  # a fresh draw per call
    # each output is the input element its index names
    planes = np.asarray(x).reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(planes, np.asarray(ia).reshape(2, 3, -1),
                                                     2).reshape(a.shape), a)


# A float, bool or str where a pool takes ints, or no bool for a flag: torch's argument
# parser refuses it (jnn took int() of it: kernel_size=2.0 pooled), alone or in a tuple
_INT_LIST_CASES = {
    "max2d-kernel-float": lambda L, x: L.max_pool2d(x, 2.0),
    "max2d-kernel-element": lambda L, x: L.max_pool2d(x, (2.0, 2)),
    "max2d-kernel-str": lambda L, x: L.max_pool2d(x, "x"),
    "max2d-padding": lambda L, x: L.max_pool2d(x, 2, padding=0.0),
    "max2d-dilation": lambda L, x: L.max_pool2d(x, 2, dilation=1.0),
    "max2d-indices-stride": lambda L, x: L.max_pool2d(x, 2, stride=1.5, return_indices=True),
    "avg2d-kernel": lambda L, x: L.avg_pool2d(x, 2.0),
    "avg2d-stride": lambda L, x: L.avg_pool2d(x, 2, 1.0),
    "max1d-kernel": lambda L, x: L.max_pool1d(x[0], 2.0),
    "max1d-indices-stride": lambda L, x: L.max_pool1d(x[0], 2, 1.5, return_indices=True),
    "avg1d-kernel-element": lambda L, x: L.avg_pool1d(x[0], (2.0,)),
    "max3d-indices-padding": lambda L, x: L.max_pool3d(x[None], 2, padding=0.0,
                                                       return_indices=True),
    "avg3d-kernel": lambda L, x: L.avg_pool3d(x[None], 2.0),
    # the flags: a bool, not an int, a str, None or a NumPy bool (jnn took any truthy
    # value); the max pools' wrappers pass them by position, the average pools by keyword
    "max2d-ceil-str": lambda L, x: L.max_pool2d(x, 2, ceil_mode="x"),
    "max2d-indices-ceil-int": lambda L, x: L.max_pool2d(x, 2, ceil_mode=1, return_indices=True),
    "max1d-ceil-none": lambda L, x: L.max_pool1d(x[0], 2, ceil_mode=None),
    "max1d-indices-ceil": lambda L, x: L.max_pool1d(x[0], 2, ceil_mode="x", return_indices=True),
    "max3d-ceil-numpy-bool": lambda L, x: L.max_pool3d(x[None], 2, ceil_mode=np.bool_(True)),
    "avg1d-ceil": lambda L, x: L.avg_pool1d(x[0], 2, ceil_mode="x"),
    "avg2d-count-include-pad": lambda L, x: L.avg_pool2d(x, 2, count_include_pad=2),
    "avg2d-divisor-float": lambda L, x: L.avg_pool2d(x, 2, divisor_override=2.5),
    "avg3d-divisor-str": lambda L, x: L.avg_pool3d(x[None], 2, divisor_override="x"),
    "lp2d-ceil": lambda L, x: L.lp_pool2d(x, 2.0, 2, ceil_mode="x"),
    "lp2d-inf-ceil": lambda L, x: L.lp_pool2d(x, float("inf"), 2, ceil_mode="x"),
}


@pytest.mark.parametrize("case_name", _INT_LIST_CASES)
def test_pool_arguments_of_the_wrong_type_raise_torchs_parser_error(case_name):
    call = _INT_LIST_CASES[case_name]
    x = np.ones((1, 1, 4, 4), np.float32)
    assert_same_error(lambda: call(TF, torch.from_numpy(x)), lambda: call(F, jnp.asarray(x)))


@pytest.mark.parametrize("name", ["MaxPool2d", "AvgPool2d"])
def test_pool_modules_with_a_float_kernel_raise_as_torch(name):
    x = np.ones((1, 1, 4, 4), np.float32)
    assert_same_error(lambda: getattr(torch.nn, name)(2.0)(torch.from_numpy(x)),
                      lambda: getattr(nn, name)(2.0)(jnp.asarray(x)))


@pytest.mark.parametrize("size", ["array", "numpy_int", "tuple_with_array"])
def test_pool_sizes_given_as_0d_integer_arrays_pool_as_torch(size):
    """A 0-d integer tensor is an int to torch's parser, alone or in a tuple (jnn iterated
    a 0-d array and failed, and the int check must not refuse it); a float one is refused."""
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    sizes = {"array": (torch.tensor(2), jnp.asarray(2)),
             "numpy_int": (np.int64(2), np.int64(2)),
             "tuple_with_array": ((torch.tensor(2), 2), (jnp.asarray(2), 2))}[size]
    for name in ("max_pool2d", "avg_pool2d"):
        expected = getattr(TF, name)(torch.from_numpy(x), sizes[0]).numpy()
        np.testing.assert_array_equal(
            np.asarray(getattr(F, name)(jnp.asarray(x), sizes[1])), expected)
    assert_same_error(lambda: TF.max_pool2d(torch.from_numpy(x), torch.tensor(2.0)),
                      lambda: F.max_pool2d(jnp.asarray(x), jnp.asarray(2.0)))
