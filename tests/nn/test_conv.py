"""Convolutions against torch: Conv/ConvTranspose 1-3d, Fold/Unfold and their functional forms.

One registry of cases drives the oracle (state_dict, repr, outputs, gradients of input and
parameters); error rows check torch's exception types and messages. Shapes are reused on
purpose: each new shape or static argument is an XLA compile, and compiles dominate here.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import jnn
import jnn.nn as nn
import jnn.nn.functional as F
from tests.nn._same_error import assert_same_error
from tests.nn.registry import case, err
from tests.oracle import check_error, check_function, check_layer, make_inputs

try:
    from scipy.stats import ks_2samp
except ImportError:  # pragma: no cover - scipy is optional
    ks_2samp = None

X1 = (2, 4, 9)  # (N, C, L)
X2 = (2, 4, 7, 6)  # (N, C, H, W)
X3 = (2, 2, 4, 5, 4)  # (N, C, D, H, W)
# torch warns once per process for an asymmetric 'same' padding, with a C++ location
# appended; test_same_padding_warns checks jnn's warning on its own.
NO_WARN = {"check_warnings": False}

CONV = [
    # the seed document's example, with torch's weights and values
    case("Conv2d", in_channels=1, out_channels=3, kernel_size=3, inputs=[(1, 1, 5, 5)],
         id="seed: Conv2d(1, 3, 3) on 1x1x5x5"),
    case("Conv1d", 4, 6, 3, inputs=[X1]),
    case("Conv1d", 4, 6, 3, stride=2, padding=2, dilation=2, groups=2, inputs=[X1]),
    case("Conv1d", 4, 6, 2, padding="same", dilation=3, inputs=[X1[1:]], opts=NO_WARN,
         id="Conv1d same, odd total padding, unbatched"),
    case("Conv1d", 4, 6, 3, padding=2, padding_mode="circular", bias=False, inputs=[X1]),
    case("Conv1d", 4, 6, 3, padding=-1, padding_mode="replicate", inputs=[X1],
         id="Conv1d negative padding crops (replicate)"),
    case("Conv2d", 4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2,
         inputs=[X2]),
    case("Conv2d", 4, 6, 3, padding=1, padding_mode="reflect", inputs=[X2]),
    case("Conv2d", 4, 6, 3, padding=(2, 1), padding_mode="replicate", inputs=[X2[1:]],
         id="Conv2d replicate unbatched"),
    case("Conv2d", 4, 4, 2, padding="same", padding_mode="reflect", groups=4, inputs=[X2],
         id="Conv2d depthwise, same, reflect"),
    case("Conv2d", 4, 6, 2, padding="same", dilation=(1, 2), inputs=[X2], opts=NO_WARN),
    case("Conv2d", 4, 6, 3, padding="valid", bias=False, inputs=[X2]),
    case("Conv3d", 2, 4, (2, 3, 2), stride=(1, 2, 1), padding=(1, 0, 1), inputs=[X3]),
    case("Conv3d", 2, 4, 2, padding=1, padding_mode="circular", inputs=[X3[1:]],
         id="Conv3d circular unbatched"),
    case("ConvTranspose1d", 4, 6, 3, stride=2, padding=1, output_padding=1, groups=2,
         dilation=2, inputs=[X1]),
    case("ConvTranspose1d", 4, 2, 3, padding=3, inputs=[X1[1:]],
         id="ConvTranspose1d padding beyond the kernel (crops), unbatched"),
    case("ConvTranspose2d", 4, 6, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
         bias=False, inputs=[X2]),
    case("ConvTranspose2d", 4, 4, 3, groups=4, dilation=2, inputs=[X2[1:]],
         id="ConvTranspose2d depthwise dilated unbatched"),
    case("ConvTranspose3d", 2, 4, 2, stride=2, output_padding=1, padding=1, inputs=[X3]),
]

FOLD = [
    case("Unfold", (2, 3), dilation=(2, 1), padding=1, stride=(2, 1), inputs=[(2, 3, 7, 6)]),
    case("Unfold", 2, inputs=[(3, 5, 5)], id="Unfold(2) unbatched"),
    case("Fold", (5, 6), (2, 3), dilation=(2, 1), padding=1, stride=2, inputs=[(2, 18, 9)]),
    case("Fold", 4, 2, stride=[1, 2], inputs=[(8, 6)], id="Fold list stride, unbatched"),
]


@pytest.mark.parametrize("name, args, kwargs, inputs, opts", CONV + FOLD)
def test_conv_matches_torch(name, args, kwargs, inputs, opts):
    check_layer(name, args, kwargs, inputs, modes=("train",), **opts)


# -- errors: torch's type, and a message matching torch's regex ------------------------
ERRORS = [
    # wrong rank
    err("Conv2d", (2, 4, 3), {}, RuntimeError,
        r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: "
        r"\[2, 5\]", [(2, 5)]),
    err("Conv1d", (2, 4, 3), {}, RuntimeError,
        r"Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d", [(1, 1, 2, 5)]),
    err("ConvTranspose3d", (2, 4, 3), {}, RuntimeError,
        r"Expected 4D \(unbatched\) or 5D \(batched\) input to conv_transpose3d", [(2, 5)]),
    err("Conv2d", (2, 4, 3), {"padding": 1, "padding_mode": "reflect"}, NotImplementedError,
        "Padding size 4 is not supported for 2D input tensor", [(5, 5)],
        id="reflect padding on a 2-D input: F.pad's error first"),
    # wrong channel count
    err("Conv2d", (2, 4, 3), {}, RuntimeError,
        r"Given groups=1, weight of size \[4, 2, 3, 3\], expected input\[1, 3, 5, 5\] to have "
        r"2 channels, but got 3 channels instead", [(3, 5, 5)]),
    err("Conv1d", (4, 6, 3), {"groups": 2}, RuntimeError,
        r"Given groups=2, weight of size \[6, 2, 3\], expected input\[2, 2, 9\] to have 4 "
        r"channels, but got 2 channels instead", [(2, 2, 9)]),
    err("ConvTranspose2d", (2, 4, 3), {}, RuntimeError,
        r"Given transposed=1, weight of size \[2, 4, 3, 3\], expected input\[2, 3, 5, 5\] to "
        r"have 2 channels, but got 3 channels instead", [(2, 3, 5, 5)]),
    # kernel larger than the padded input
    err("Conv2d", (2, 4, (3, 8)), {"padding": 1}, RuntimeError,
        r"Calculated padded input size per channel: \(7 x 7\)\. Kernel size: \(3 x 8\)\. Kernel "
        r"size can't be greater than actual input size", [(1, 2, 5, 5)]),
    err("Conv1d", (2, 4, 3), {"dilation": 3}, RuntimeError,
        r"Calculated padded input size per channel: \(5\)\. Kernel size: \(7\)\.",
        [(1, 2, 5)]),
    err("ConvTranspose2d", (2, 4, 3), {"padding": 4}, RuntimeError,
        r"Given input size per channel: \(5 x 5\)\. Calculated output size per channel: "
        r"\(-1 x -1\)\. Output size is too small", [(1, 2, 5, 5)]),
    err("ConvTranspose1d", (2, 4, 3), {"padding": 4}, RuntimeError,
        r"Given input size per channel: \(1 x 5\)\. Calculated output size per channel: "
        r"\(1 x -1\)\. Output size is too small", [(1, 2, 5)]),
    # groups
    err("Conv2d", (3, 4, 3), {"groups": 2}, ValueError, "in_channels must be divisible by groups"),
    err("Conv2d", (4, 3, 3), {"groups": 2}, ValueError, "out_channels must be divisible by groups"),
    err("ConvTranspose1d", (4, 3, 3), {"groups": 2}, ValueError,
        "out_channels must be divisible by groups"),
    err("Conv3d", (4, 4, 3), {"groups": 0}, ValueError, "groups must be a positive integer"),
    # padding modes and strings
    err("Conv2d", (2, 4, 3), {"padding_mode": "zero"}, ValueError,
        r"padding_mode must be one of \{.*'circular'.*\}, but got padding_mode='zero'"),
    err("ConvTranspose2d", (2, 4, 3), {"padding_mode": "reflect"}, ValueError,
        'Only "zeros" padding mode is supported for ConvTranspose2d'),
    err("Conv2d", (2, 4, 3), {"padding": "same", "stride": 2}, ValueError,
        "padding='same' is not supported for strided convolutions"),
    err("Conv1d", (2, 4, 3), {"padding": "full"}, ValueError,
        r"Invalid padding string 'full', should be one of \{.*\}"),
    err("ConvTranspose2d", (2, 4, 3), {"padding": "same"}, TypeError,
        r"conv_transpose2d\(\): argument 'padding' \(position 5\) must be tuple of ints, but "
        "found element of type str at pos 0", [(1, 2, 5, 5)]),
    err("Conv2d", (2, 4, 3), {"padding": 5, "padding_mode": "reflect"}, RuntimeError,
        r"Argument #4: Padding size should be less than the corresponding input dimension, but "
        r"got: padding \(5, 5\) at dimension 3 of input \[1, 2, 5, 5\]", [(1, 2, 5, 5)]),
    err("Conv1d", (2, 4, 3), {"padding": 6, "padding_mode": "circular"}, RuntimeError,
        "Padding value causes wrapping around more than once", [(2, 5)]),
    # values torch's kernels refuse
    err("Conv2d", (2, 4, 3), {"padding": -1}, RuntimeError, "negative padding is not supported",
        [(1, 2, 5, 5)]),
    err("Conv2d", (2, 4, 3), {"stride": 0}, RuntimeError, "non-positive stride is not supported",
        [(1, 2, 5, 5)]),
    err("Conv2d", (2, 4, 3), {"dilation": (1, 0)}, RuntimeError,
        r"dilation should be greater than zero, but got \[1, 0\]", [(1, 2, 5, 5)]),
    err("ConvTranspose2d", (2, 4, 3), {"output_padding": 1}, RuntimeError,
        "output padding must be smaller than either stride or dilation, but got "
        "output_padding_height: 1 output_padding_width: 1 stride_height: 1 stride_width: 1 "
        "dilation_height: 1 dilation_width: 1", [(1, 2, 5, 5)]),
    err("ConvTranspose1d", (2, 4, 3), {"output_padding": 2, "stride": 2}, RuntimeError,
        "output_padding_height: 0 output_padding_width: 2 stride_height: 1 stride_width: 2",
        [(1, 2, 5)]),
    err("Conv2d", (-1, 4, 3), {}, RuntimeError,
        r"Trying to create tensor with negative dimension -1: \[4, -1, 3, 3\]"),
    # fold / unfold
    err("Unfold", (2,), {}, RuntimeError,
        r"Expected 3D or 4D \(batch mode\) tensor with possibly 0 batch size and other non-zero "
        r"dimensions for input, but got: \[1, 1, 2, 5, 5\]", [(1, 1, 2, 5, 5)]),
    err("Unfold", (6,), {}, RuntimeError,
        r"Given input with spatial size \(5, 5\), kernel_size=\(6, 6\), dilation=\(1, 1\), "
        r"padding=\(0, 0\), calculated shape of the array of sliding blocks as \(0, 0\), but its "
        "components must be at least one", [(1, 2, 5, 5)]),
    err("Unfold", (2,), {"stride": 0}, RuntimeError,
        "stride should be greater than zero, but got stride_height: 0 stride_width: 0",
        [(1, 2, 5, 5)]),
    err("Unfold", ((2, 2, 2),), {}, RuntimeError, "It is expected kernel_size equals to 2, but "
        "got size 3", [(1, 2, 5, 5)]),
    err("Unfold", (2,), {}, IndexError,
        r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)", [(5, 5)]),
    err("Fold", ((5, 5), 2), {}, RuntimeError,
        r"Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
        r"but got input\.size\(1\)=7 and kernel_size=\(2, 2\)\.", [(1, 7, 16)]),
    err("Fold", ((5, 5), 2), {}, RuntimeError,
        r"Given output_size=\(5, 5\), kernel_size=\(2, 2\), dilation=\(1, 1\), padding=\(0, 0\), "
        r"stride=\(1, 1\), expected size of input's dimension 2 to match the calculated number "
        r"of sliding blocks 4 \* 4 = 16, but got input\.size\(2\)=15\.", [(1, 8, 15)]),
    err("Fold", ((5, 5), 2), {"padding": -1}, RuntimeError,
        "padding should be non-negative, but got pad_height: -1 pad_width: -1", [(1, 8, 16)]),
    err("Fold", ((5, 5), 2), {}, RuntimeError,
        r"Expected 2D or 3D \(batch mode\) tensor for input with possibly 0 batch size and "
        r"non-zero dimensions for input, but got: \[16\]", [(16,)]),
]


@pytest.mark.parametrize("name, args, kwargs, exc, match, inputs", ERRORS)
def test_conv_error_matches_torch(name, args, kwargs, exc, match, inputs):
    check_error(name, args, kwargs, exc, match, inputs=inputs)


@pytest.mark.parametrize("name, args, inputs, match", [
    ("Conv2d", (2, 4, 3), [(1, 2, 5, 5)],
     r"Input type \(float\) and bias type \(c10::BFloat16\) should be the same"),
    ("ConvTranspose1d", (2, 4, 3), [(1, 2, 5)], "expected scalar type Float but found BFloat16"),
])
def test_mixed_dtypes_raise_like_torch(name, args, inputs, match):
    """A bfloat16 layer fed float32 input raises torch's RuntimeError, never promotes."""
    check_error(name, args, {"dtype": torch.bfloat16}, RuntimeError, match, inputs=inputs,
                jnn_kwargs={"dtype": jnp.bfloat16})


MKLDNN = "should be the same or input should be a MKLDNN tensor and {} is a dense tensor"


@pytest.mark.parametrize("fn, x_dtype, w_dtype, b_dtype, match", [
    ("conv2d", "float32", "bfloat16", None, "expected scalar type Float but found BFloat16"),
    ("conv2d", "bfloat16", "float32", None,
     r"Input type \(CPUBFloat16Type\) and weight type \(torch\.FloatTensor\) "
     + MKLDNN.format("weight")),
    ("conv2d", "float32", "float32", "float16",
     r"Input type \(float\) and bias type \(c10::Half\) should be the same"),
    ("conv2d", "float16", "bfloat16", "float32",  # a convolution checks the bias first
     r"Input type \(c10::Half\) and bias type \(float\) should be the same"),
    # a transposed one, the weight; torch's own text depends on the CPU (its oneDNN half
    # kernel is used where the CPU has float16 arithmetic, AVX512-FP16 or AMX-FP16: those
    # say the first; others, and jnn, the second)
    ("conv_transpose2d", "float16", "float32", "float32",
     r"(Input type \(torch\.HalfTensor\) and weight type \(torch\.FloatTensor\) "
     + MKLDNN.format("weight") + "|expected scalar type Half but found Float)"),
    ("conv_transpose2d", "bfloat16", "bfloat16", "float32",
     r"Input type \(CPUBFloat16Type\) and bias type \(torch\.FloatTensor\) "
     + MKLDNN.format("bias")),
    ("conv_transpose3d", "float32", "float32", "float16",
     "expected scalar type Float but found Half"),
])
def test_functional_mixed_dtypes_raise_like_torch(fn, x_dtype, w_dtype, b_dtype, match):
    n = 3 if fn.endswith("3d") else 2
    x, w, b = make_inputs([(1, 2) + (5,) * n, (2, 2) + (3,) * n, (2,)])
    for lib_fn, to in [(getattr(TF, fn), lambda a, d: torch.from_numpy(a).to(getattr(torch, d))),
                       (getattr(F, fn), lambda a, d: jnp.asarray(a, getattr(jnp, d)))]:
        bias = None if b_dtype is None else to(b, b_dtype)
        with pytest.raises(RuntimeError, match=match):
            lib_fn(to(x, x_dtype), to(w, w_dtype), bias)


_FLOATS = ["float16", "bfloat16", "float32", "float64"]


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("x_dtype, w_dtype", [
    (a, b) for a in _FLOATS for b in _FLOATS if a != b])
@pytest.mark.parametrize("fn", ["conv1d", "conv2d", "conv3d", "conv_transpose1d",
                                "conv_transpose2d", "conv_transpose3d"])
def test_mixed_dtype_message_is_torchs_for_each_dtype_and_batch(fn, x_dtype, w_dtype,
                                                                 with_bias, batch):
    """torch words a weight of another dtype by the path it takes: mkldnn's "Input type
    (torch.FloatTensor) and weight type ..." for bfloat16 input, and for float32 input in
    a batch above 1; "expected scalar type ..." for float16, float64 and a float32 batch
    of 1.  The bias has the weight's dtype here (checked first by a convolution)."""
    n = int(fn[-2])
    x, w, b = make_inputs([(batch, 2) + (5,) * n, (2, 2) + (3,) * n, (2,)])
    with jax.enable_x64(True):
        assert_same_error(
            lambda: getattr(TF, fn)(
                torch.from_numpy(x).to(getattr(torch, x_dtype)),
                torch.from_numpy(w).to(getattr(torch, w_dtype)),
                torch.from_numpy(b).to(getattr(torch, w_dtype)) if with_bias else None),
            lambda: getattr(F, fn)(
                jnp.asarray(x, x_dtype), jnp.asarray(w, w_dtype),
                jnp.asarray(b, w_dtype) if with_bias else None))


@pytest.mark.parametrize("fn, x_shape, w_shape, groups", [
    ("conv2d", (1, 2, 6, 6), (2, 2, 4, 4), 1),  # a kernel above 3x3
    ("conv2d", (1, 2, 6, 6), (2, 2, 4, 3), 1),  # not both sides above 3
    ("conv2d", (1, 2, 5, 5), (2, 1, 3, 3), 2),  # groups
    ("conv2d", (1, 2, 110, 110), (2, 2, 3, 3), 1),  # more than 20480 input elements
    ("conv1d", (1, 2, 30), (2, 2, 5), 1),  # 1-d: seen as 2-d of height 1
    ("conv1d", (1, 2, 10300), (2, 2, 3), 1),
    ("conv3d", (1, 2, 102, 102, 3), (2, 2, 3, 3, 3), 1),  # 3-d: its first two sizes
    ("conv3d", (1, 2, 3, 102, 102), (2, 2, 3, 3, 3), 1),
    ("conv3d", (1, 2, 5, 5, 5), (2, 2, 3, 4, 4), 1),
    ("conv_transpose2d", (1, 2, 6, 6), (2, 2, 4, 4), 1),
    ("conv_transpose2d", (1, 2, 5, 5), (2, 1, 3, 3), 2),
])
@pytest.mark.parametrize("w_dtype", ["bfloat16", "float16"])
def test_float32_mixed_dtype_message_follows_torchs_mkldnn_heuristic(fn, x_shape, w_shape,
                                                                     groups, w_dtype):
    """A float32 batch of 1 still goes through mkldnn (and its message) for grouped
    convolutions, kernels above 3x3 and large inputs, as in torch."""
    x, w = make_inputs([x_shape, w_shape])
    assert_same_error(
        lambda: getattr(TF, fn)(torch.from_numpy(x), torch.from_numpy(w).to(
            getattr(torch, w_dtype)), groups=groups),
        lambda: getattr(F, fn)(jnp.asarray(x), jnp.asarray(w, w_dtype), groups=groups))


def test_conv_transpose2d_casts_another_bias_dtype_like_torch():
    """torch's 1-d/2-d transposed convolutions take a float16 bias for float32 input."""
    x, w, b = make_inputs([(1, 2, 5, 5), (2, 3, 3, 3), (3,)])
    expected = TF.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w),
                                   torch.from_numpy(b).half())
    out = F.conv_transpose2d(jnp.asarray(x), jnp.asarray(w), jnp.asarray(b, jnp.float16))
    assert out.dtype == jnp.float32 and expected.dtype == torch.float32
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-5, atol=1e-5)


# -- functional forms: values and input gradients (one jitted VJP each) ----------------
def _fn_case(jfn, tfn, shapes, n_reduce, id):
    return pytest.param(jfn, tfn, shapes, n_reduce, id=id)


FUNCTIONAL = [
    _fn_case(lambda x, w, b: F.conv1d(x, w, b, 2, "valid", 1, 2),
             lambda x, w, b: TF.conv1d(x, w, b, 2, "valid", 1, 2),
             [X1, (6, 2, 3), (6,)], 6, "conv1d stride 2 valid groups 2"),
    _fn_case(lambda x, w: F.conv2d(x, w, padding="same", dilation=(2, 1)),
             lambda x, w: TF.conv2d(x, w, padding="same", dilation=(2, 1)),
             [X2, (5, 4, 2, 3), ], 24, "conv2d same, asymmetric"),
    _fn_case(lambda x, w, b: F.conv3d(x, w, b, stride=(2, 1, 1), padding=1),
             lambda x, w, b: TF.conv3d(x, w, b, stride=(2, 1, 1), padding=1),
             [X3, (3, 2, 2, 2, 2), (3,)], 16, "conv3d"),
    _fn_case(lambda x, w, b: F.conv_transpose1d(x, w, b, 3, 1, 2, 2, 2),
             lambda x, w, b: TF.conv_transpose1d(x, w, b, 3, 1, 2, 2, 2),
             [X1, (4, 3, 3), (6,)], 6, "conv_transpose1d"),
    _fn_case(lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=(1, 0), output_padding=1),
             lambda x, w: TF.conv_transpose2d(x, w, stride=2, padding=(1, 0), output_padding=1),
             [X2[1:], (4, 5, 3, 3)], 36, "conv_transpose2d unbatched"),
    _fn_case(lambda x, w: F.conv_transpose3d(x, w, dilation=2, groups=2),
             lambda x, w: TF.conv_transpose3d(x, w, dilation=2, groups=2),
             [X3, (2, 2, 2, 2, 2)], 8, "conv_transpose3d"),
    _fn_case(lambda x: F.unfold(x, (3, 2), dilation=(1, 2), padding=(1, 0), stride=(1, 2)),
             lambda x: TF.unfold(x, (3, 2), dilation=(1, 2), padding=(1, 0), stride=(1, 2)),
             [X2], 1, "unfold"),
    _fn_case(lambda x: F.fold(x, (7, 6), (3, 2), dilation=(1, 2), padding=(1, 0), stride=(1, 2)),
             lambda x: TF.fold(x, (7, 6), (3, 2), dilation=(1, 2), padding=(1, 0), stride=(1, 2)),
             [(2, 24, 14)], 6, "fold"),
    _fn_case(lambda x: F.unfold(x, 2), lambda x: TF.unfold(x, 2), [(0, 3, 4, 4)], 1,
             "unfold empty batch"),
    _fn_case(lambda x: F.fold(x, (4, 4), 2), lambda x: TF.fold(x, (4, 4), 2), [(0, 12, 9)], 1,
             "fold empty batch"),
]


@pytest.mark.parametrize("jfn, tfn, shapes, n_reduce", FUNCTIONAL)
def test_functional_matches_torch(jfn, tfn, shapes, n_reduce):
    inputs = make_inputs(shapes)
    check_function(jfn, tfn, inputs, grad_argnums=tuple(range(len(inputs))),
                   n_reduce=n_reduce)


def test_same_padding_warns():
    """Asymmetric 'same' padding warns as torch does (torch: once per process)."""
    x, w = (jnp.asarray(a) for a in make_inputs([X2, (5, 4, 2, 2)]))
    with pytest.warns(UserWarning, match="Using padding='same' with even kernel lengths and "
                      "odd dilation may require a zero-padded copy of the input be created"):
        F.conv2d(x, w, padding="same")


def test_fold_unfold_round_trip():
    """fold(unfold(x)) multiplies each pixel by the number of blocks that cover it."""
    x = jnp.asarray(make_inputs([(2, 3, 7, 6)])[0])
    cols = F.unfold(x, 3, padding=1)
    counts = F.fold(F.unfold(jnp.ones_like(x), 3, padding=1), (7, 6), 3, padding=1)
    np.testing.assert_allclose(F.fold(cols, (7, 6), 3, padding=1), x * counts, rtol=1e-6)
    assert int(counts.max()) == 9 and int(counts.min()) == 4


# -- output sizes: the documented formulas, jnn and torch ------------------------------
def _conv_len(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _conv_transpose_len(n, k, s, p, d, op):
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


@given(length=st.integers(1, 12), kernel=st.integers(1, 4), stride=st.integers(1, 3),
       padding=st.integers(0, 2), dilation=st.integers(1, 3))
def test_conv1d_output_size(length, kernel, stride, padding, dilation):
    args, kwargs = (2, 3, kernel), {"stride": stride, "padding": padding, "dilation": dilation}
    expected = _conv_len(length, kernel, stride, padding, dilation)
    if length + 2 * padding < dilation * (kernel - 1) + 1:
        check_error("Conv1d", args, kwargs, RuntimeError,
                    "Kernel size can't be greater than actual input size",
                    inputs=[(1, 2, length)])
        return
    torch_module, module = check_layer("Conv1d", args, kwargs, [(1, 2, length)],
                                       modes=("train",), grad=False)
    assert module(jnp.zeros((1, 2, length))).shape == (1, 3, expected)


@given(length=st.integers(1, 8), kernel=st.integers(1, 4), stride=st.integers(1, 3),
       padding=st.integers(0, 3), dilation=st.integers(1, 3), extra=st.integers(0, 2))
def test_conv_transpose1d_output_size(length, kernel, stride, padding, dilation, extra):
    output_padding = extra % max(stride, dilation)  # must be below stride or dilation
    args = (2, 3, kernel)
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation,
              "output_padding": output_padding}
    expected = _conv_transpose_len(length, kernel, stride, padding, dilation, output_padding)
    if expected < 1:
        check_error("ConvTranspose1d", args, kwargs, RuntimeError, "Output size is too small",
                    inputs=[(1, 2, length)])
        return
    _, module = check_layer("ConvTranspose1d", args, kwargs, [(1, 2, length)],
                            modes=("train",), grad=False)
    assert module(jnp.zeros((1, 2, length))).shape == (1, 3, expected)


@given(kernel=st.sampled_from([1, 2, 3, (3, 1), (2, 3)]),
       stride=st.sampled_from([1, 2, (1, 2)]),
       padding=st.sampled_from([0, 1, (2, 0), "same", "valid"]),
       dilation=st.sampled_from([1, 2, (2, 1)]), groups=st.sampled_from([1, 2]),
       mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
       batched=st.booleans(), bias=st.booleans())
def test_conv2d_configurations(kernel, stride, padding, dilation, groups, mode, batched, bias):
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
              "bias": bias, "padding_mode": mode}
    shape = X2 if batched else X2[1:]
    try:
        torch.nn.Conv2d(4, 6, kernel, **kwargs)(torch.zeros(shape))
    except (ValueError, RuntimeError) as e:  # 'same' with a stride: both refuse alike
        check_error("Conv2d", (4, 6, kernel), kwargs, type(e), None,
                    inputs=None if isinstance(e, ValueError) else [shape])
        return
    check_layer("Conv2d", (4, 6, kernel), kwargs, [shape], modes=("train",), grad=False,
                check_warnings=False)


@given(kernel=st.sampled_from([1, 2, 3, (3, 2)]), stride=st.sampled_from([1, 2, (2, 3)]),
       padding=st.sampled_from([0, 1, (0, 2)]), dilation=st.sampled_from([1, 2]),
       groups=st.sampled_from([1, 2]), extra=st.integers(0, 2), batched=st.booleans())
def test_conv_transpose2d_configurations(kernel, stride, padding, dilation, groups, extra,
                                         batched):
    strides = stride if isinstance(stride, tuple) else (stride, stride)
    output_padding = tuple(extra % max(s, dilation) for s in strides)
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
              "output_padding": output_padding}
    shape = X2 if batched else X2[1:]
    try:
        torch.nn.ConvTranspose2d(4, 6, kernel, **kwargs)(torch.zeros(shape))
    except RuntimeError:
        check_error("ConvTranspose2d", (4, 6, kernel), kwargs, RuntimeError, None, inputs=[shape])
        return
    check_layer("ConvTranspose2d", (4, 6, kernel), kwargs, [shape], modes=("train",),
                grad=False)


# -- the transposed convolutions' output_size argument ---------------------------------
@pytest.mark.parametrize("shape, output_size", [
    ((1, 2, 5, 5), (12, 11)),
    ((1, 2, 5, 5), [1, 3, 11, 12]),
    ((2, 5, 5), [3, 12, 12]),
])
def test_conv_transpose_output_size(shape, output_size):
    torch.manual_seed(0)
    reference = torch.nn.ConvTranspose2d(2, 3, 3, stride=2)
    layer = nn.ConvTranspose2d(2, 3, 3, stride=2)
    layer.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    x = make_inputs([shape])[0]
    expected = reference(torch.from_numpy(x), output_size=output_size).detach().numpy()
    out = layer(jnp.asarray(x), output_size=output_size)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("output_size, match", [
    ((5, 5), r"requested an output size of \(5, 5\), but valid sizes range from \[11, 11\] to "
             r"\[12, 12\] \(for an input of torch\.Size\(\[5, 5\]\)\)"),
    ((1, 12, 12), r"ConvTranspose2D: for 4D input, output_size must have 2 or 4 elements "
                  r"\(got 3\)"),
])
def test_conv_transpose_output_size_errors(output_size, match):
    x = make_inputs([(1, 2, 5, 5)])[0]
    with pytest.raises(ValueError, match=match):
        torch.nn.ConvTranspose2d(2, 3, 3, stride=2)(torch.from_numpy(x), output_size)
    with pytest.raises(ValueError, match=match):
        nn.ConvTranspose2d(2, 3, 3, stride=2)(jnp.asarray(x), output_size)


# -- transformations -------------------------------------------------------------------
def test_conv_under_jit_grad_and_vmap():
    layer = nn.Conv2d(4, 6, 3, padding=1, groups=2)
    x = jnp.asarray(make_inputs([X2])[0])
    eager = layer(x)
    np.testing.assert_allclose(jax.jit(lambda m, v: m(v))(layer, x), eager, rtol=1e-5,
                               atol=1e-6)
    # vmap over unbatched inputs is the batched convolution
    np.testing.assert_allclose(jax.vmap(layer)(x), eager, rtol=1e-5, atol=1e-6)
    grads = jax.grad(lambda m: jnp.sum(m(x) ** 2))(layer)
    assert grads.weight.shape == (6, 2, 3, 3) and bool(jnp.any(grads.weight.data != 0))
    expected = jax.grad(lambda w: jnp.sum(F.conv2d(x, w, layer.bias.data, 1, 1, 1, 2) ** 2))(
        layer.weight.data)
    np.testing.assert_allclose(grads.weight.data, expected, rtol=1e-5, atol=1e-5)


# -- default initialisation, by distribution -------------------------------------------
@pytest.mark.parametrize("name, args, kwargs, fan_in", [
    ("Conv2d", (16, 32, 3), {}, 16 * 9),
    ("Conv1d", (16, 32, 5), {"groups": 4}, 4 * 5),
    ("ConvTranspose2d", (16, 32, 3), {}, 32 * 9),  # torch reads out/groups * k as fan-in
])
def test_default_init_matches_torch_distribution(name, args, kwargs, fan_in):
    jnn.manual_seed(0)
    layer = getattr(nn, name)(*args, **kwargs)
    torch.manual_seed(0)
    reference = getattr(torch.nn, name)(*args, **kwargs)
    bound = 1 / math.sqrt(fan_in)
    for pname in ("weight", "bias"):
        ours = np.asarray(getattr(layer, pname), np.float64).ravel()
        theirs = getattr(reference, pname).detach().numpy().ravel()
        assert ours.shape == theirs.shape
        assert ours.min() >= -bound and ours.max() <= bound, pname
        std = bound / math.sqrt(3)
        assert abs(ours.std() / std - 1) < 5 / math.sqrt(ours.size), pname
        if ks_2samp is not None and ours.size > 1000:
            assert ks_2samp(ours, theirs).pvalue > 1e-3, pname


# -- zero-size kernels and padding strings: torch's exception and message ------------------
def _native(call):
    """``call`` with oneDNN off: on CPU float32 it reports a zero-size kernel as "could not
    create a primitive descriptor", a backend message; torch's own kernels (float64,
    unbatched input, other builds) raise the check jnn matches."""
    def run():
        with torch.backends.mkldnn.flags(enabled=False):
            return call()
    return run


def _conv_input(n, channels=3):
    return np.ones((2, channels) + (5,) * n, np.float32)


@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "transposed"])
@pytest.mark.parametrize("n, kernel_size", [
    (1, 0), (2, 0), (2, (2, 0)), (2, (0, 2)), (3, 0), (3, (2, 2, 0)), (3, (0, 2, 2)),
])
def test_zero_size_kernel_raises_like_torch(n, kernel_size, transposed):
    # 1-d/2-d: "kernel size should be greater than zero, but got kernel_height: 0
    # kernel_width: 0"; 3-d: "... but got: 0 x 0 x 0 (TxHxW)"; transposed 3-d names the weight
    name = f"ConvTranspose{n}d" if transposed else f"Conv{n}d"
    x = _conv_input(n)
    assert_same_error(_native(lambda: getattr(torch.nn, name)(3, 4, kernel_size)(
                          torch.from_numpy(x))),
                      lambda: getattr(nn, name)(3, 4, kernel_size)(jnp.asarray(x)))
    assert_same_error(_native(lambda: getattr(torch.nn, name)(3, 4, kernel_size)(
                          torch.from_numpy(x[0]))),
                      lambda: getattr(nn, name)(3, 4, kernel_size)(jnp.asarray(x[0])))


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("kwargs", [{}, {"padding": "same"}, {"stride": 2}, {"groups": 2}],
                         ids=["plain", "same", "stride", "groups"])
def test_functional_zero_size_kernel_raises_like_torch(n, kwargs):
    x = _conv_input(n, channels=4)
    w = np.ones((4, 4 // kwargs.get("groups", 1)) + (0,) * n, np.float32)
    fn = f"conv{n}d"
    assert_same_error(_native(lambda: getattr(TF, fn)(torch.from_numpy(x),
                                                      torch.from_numpy(w), **kwargs)),
                      lambda: getattr(F, fn)(jnp.asarray(x), jnp.asarray(w), **kwargs))
    if "padding" not in kwargs:
        fn = f"conv_transpose{n}d"
        assert_same_error(_native(lambda: getattr(TF, fn)(torch.from_numpy(x),
                                                          torch.from_numpy(w), **kwargs)),
                          lambda: getattr(F, fn)(jnp.asarray(x), jnp.asarray(w), **kwargs))


def test_zero_size_kernel_after_the_channel_check_like_torch():
    x, w = _conv_input(2, channels=2), np.ones((4, 3, 0, 0), np.float32)
    assert_same_error(_native(lambda: TF.conv2d(torch.from_numpy(x), torch.from_numpy(w))),
                      lambda: F.conv2d(jnp.asarray(x), jnp.asarray(w)))


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_conv_transpose_padding_string_raises_like_torch(n, padding):
    # "conv_transpose2d(): argument 'padding' must be tuple of ints, not str"
    x, w = _conv_input(n), np.ones((3, 4) + (2,) * n, np.float32)
    fn = f"conv_transpose{n}d"
    assert_same_error(lambda: getattr(TF, fn)(torch.from_numpy(x), torch.from_numpy(w),
                                              padding=padding),
                      lambda: getattr(F, fn)(jnp.asarray(x), jnp.asarray(w), padding=padding))


# Half precision with a bias: torch's kernels add the bias to the float32 sums and round
# once (jnn rounded the sums to half, then added: an ulp off in about 30% of the outputs).
# A float16 transposed convolution rounds its sums first in torch too, and is left out.
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name, args, shape", [
    ("Linear", (64, 32), (16, 64)), ("Conv2d", (8, 4, 3), (2, 8, 6, 6)),
    ("Conv1d", (8, 4, 3), (2, 8, 6)), ("ConvTranspose2d", (8, 4, 3), (2, 8, 4, 4))])
def test_half_layers_with_a_bias_match_torch_bit_for_bit(dtype, name, args, shape):
    if name == "ConvTranspose2d" and dtype == "float16":
        pytest.skip("torch's float16 transposed convolution rounds otherwise (see above)")
    torch.manual_seed(0)
    t_layer = getattr(torch.nn, name)(*args)
    j_layer = getattr(jnn.nn, name)(*args)
    j_layer.load_state_dict({k: jnp.asarray(v.numpy()) for k, v in t_layer.state_dict().items()})
    t_layer.to(getattr(torch, dtype))
    j_layer.to(getattr(jnp, dtype))
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    expected = t_layer(torch.from_numpy(x).to(getattr(torch, dtype))).float().detach().numpy()
    got = np.asarray(j_layer(jnp.asarray(x).astype(getattr(jnp, dtype))), np.float32)
    if jax.default_backend() != "cpu":  # (cuDNN's and torch's CPU kernels round apart)
        np.testing.assert_allclose(got, expected, rtol=1e-2, atol=1e-2)
        return
    np.testing.assert_array_equal(got, expected)


# dtypes torch's CPU kernels refuse (jnn computed with them) or take (bool fold)
_DTYPE_CASES = {
    "unfold int": lambda L, o: L.unfold(o((1, 1, 4, 4), "int32"), 2),
    "unfold uint8": lambda L, o: L.unfold(o((1, 1, 4, 4), "uint8"), 2),
    "fold int8": lambda L, o: L.fold(o((1, 4, 9), "int8"), (4, 4), 2),
    "replicate bool": lambda L, o: L.pad(o((1, 1, 4), "bool"), (1, 1), mode="replicate"),
    "reflect bool": lambda L, o: L.pad(o((1, 1, 4, 4), "bool"), (1, 1, 1, 1), mode="reflect"),
    "linear bool": lambda L, o: L.linear(o((2, 3), "bool"), o((2, 3), "bool")),
    "linear bool bias": lambda L, o: L.linear(o((2, 3), "bool"), o((2, 3), "bool"),
                                              o((2,), "bool")),
    "linear bool 3-d": lambda L, o: L.linear(o((2, 2, 3), "bool"), o((2, 3), "bool")),
    "linear bool dot": lambda L, o: L.linear(o((3,), "bool"), o((3,), "bool")),
}


@pytest.mark.parametrize("case", _DTYPE_CASES)
def test_dtypes_torchs_kernels_refuse_raise_as_torch(case):
    assert_same_error(
        lambda: _DTYPE_CASES[case](TF, lambda s, d: torch.ones(s, dtype=getattr(torch, d))),
        lambda: _DTYPE_CASES[case](F, lambda s, d: jnp.ones(s, d)))


def test_fold_of_bool_blocks_ors_the_overlaps_as_torch():
    x = np.random.default_rng(0).random((1, 4, 9)) > 0.6
    expected = TF.fold(torch.from_numpy(x), (4, 4), 2).numpy()
    got = F.fold(jnp.asarray(x), (4, 4), 2)
    assert got.dtype == jnp.bool_
    np.testing.assert_array_equal(np.asarray(got), expected)
