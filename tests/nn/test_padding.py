"""Padding layers and ``F.pad`` against torch: every class, every mode, negative amounts.

A few input shapes are reused throughout (each new shape is an XLA compile).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import jnn.nn.functional as F
from tests.nn.registry import case, deviation, err
from tests.oracle import check_error, check_function, check_layer, make_inputs

X1 = (2, 3, 5)  # (N, C, W)
X1U = (3, 5)  # unbatched
X2 = (2, 2, 4, 5)  # (N, C, H, W)
X2U = (2, 4, 5)
X3 = (1, 2, 3, 4, 5)  # (N, C, D, H, W)
X3U = (2, 3, 4, 5)

PADDING = [
    # zero and constant: any rank, negative amounts crop
    case("ZeroPad1d", 2, inputs=[X1]),
    case("ZeroPad1d", (3, -1), inputs=[X1U]),
    case("ZeroPad2d", 1, inputs=[X2]),
    case("ZeroPad2d", (1, 0, -2, 3), inputs=[X2U]),
    case("ZeroPad3d", 1, inputs=[X3]),
    case("ZeroPad3d", (1, 0, -1, 2, 0, 1), inputs=[X3U]),
    case("ConstantPad1d", 2, 3.5, inputs=[X1]),
    case("ConstantPad1d", (-2, 1), -1.0, inputs=[X1U]),
    case("ConstantPad2d", (3, 0, 2, 1), 3.5, inputs=[X2]),
    case("ConstantPad2d", 1, value=2, inputs=[X2U], id="ConstantPad2d int value"),
    case("ConstantPad3d", (1, 2, 0, 1, 1, 0), 0.5, inputs=[X3]),
    case("ConstantPad3d", -1, 0.5, inputs=[X3U]),
    # reflection: amounts below the size; negative amounts crop
    case("ReflectionPad1d", 2, inputs=[X1]),
    case("ReflectionPad1d", (4, 1), inputs=[X1U]),
    case("ReflectionPad1d", (-2, 3), inputs=[X1], id="ReflectionPad1d negative left"),
    case("ReflectionPad2d", 2, inputs=[X2]),
    case("ReflectionPad2d", (1, 3, 3, 0), inputs=[X2U]),
    case("ReflectionPad2d", (-1, 2, 1, -2), inputs=[X2], id="ReflectionPad2d crop"),
    case("ReflectionPad3d", 1, inputs=[X3]),
    case("ReflectionPad3d", (1, 2, 0, 3, 2, 1), inputs=[X3U]),
    # replication: any amount
    case("ReplicationPad1d", (3, 1), inputs=[X1]),
    case("ReplicationPad1d", 7, inputs=[X1U], id="ReplicationPad1d beyond the size"),
    case("ReplicationPad2d", 2, inputs=[X2]),
    case("ReplicationPad2d", (-1, 6, 2, -3), inputs=[X2U]),
    case("ReplicationPad3d", 1, inputs=[X3]),
    case("ReplicationPad3d", (2, 0, -1, 1, 0, 4), inputs=[X3U]),
    # circular: at most one wrap
    case("CircularPad1d", 2, inputs=[X1]),
    case("CircularPad1d", (3, -2), inputs=[X1U], id="CircularPad1d wrap, crop"),
    case("CircularPad1d", 5, inputs=[X1U], id="CircularPad1d full wrap"),
    case("CircularPad2d", 1, inputs=[X2]),
    case("CircularPad2d", (0, 5, 3, -1), inputs=[X2U]),
    case("CircularPad3d", (1, 2, 0, 1, 3, 1), inputs=[X3]),
    case("CircularPad3d", 1, inputs=[X3U]),
    # integer input: torch keeps the dtype and casts the fill value
    case("ConstantPad1d", 1, 1.5, inputs=[lambda rng: rng.integers(0, 9, X1)],
         id="ConstantPad1d int64 input, float value"),
    case("ReflectionPad1d", 2, inputs=[lambda rng: rng.integers(0, 9, X1)],
         id="ReflectionPad1d int64 input"),
]


@pytest.mark.parametrize("name, args, kwargs, inputs, opts", PADDING)
def test_padding_matches_torch(name, args, kwargs, inputs, opts):
    check_layer(name, args, kwargs, inputs, **opts)


ERRORS = [
    err("CircularPad1d", (1,), {}, ValueError, r"expected 2D or 3D input \(got 4D input\)",
        [X2]),
    err("CircularPad2d", (1,), {}, ValueError, r"expected 3D or 4D input \(got 2D input\)",
        [X1U]),
    err("CircularPad3d", (1,), {}, ValueError, r"expected 4D or 5D input \(got 3D input\)",
        [X1]),
    err("CircularPad1d", (6,), {}, RuntimeError,
        "Padding value causes wrapping around more than once", [X1]),
    err("CircularPad1d", ((-3, -3),), {}, RuntimeError,
        "Negative padding value is resulting in an empty dimension", [X1]),
    err("ReflectionPad1d", (5,), {}, RuntimeError,
        r"Argument #4: Padding size should be less than the corresponding input dimension, "
        r"but got: padding \(5, 5\) at dimension 2 of input \[2, 3, 5\]", [X1]),
    err("ReflectionPad2d", ((0, 0, 4, 0),), {}, RuntimeError,
        r"Argument #6: Padding size should be less than the corresponding input dimension, "
        r"but got: padding \(4, 0\) at dimension 2 of input \[2, 2, 4, 5\]", [X2]),
    err("ReflectionPad3d", ((0, 0, 0, 0, 3, 3),), {}, RuntimeError,
        r"Argument #8: .* padding \(3, 3\) at dimension 2 of input \[1, 2, 3, 4, 5\]", [X3]),
    err("ReflectionPad1d", (1,), {}, NotImplementedError,
        "Padding size 2 is not supported for 4D input tensor", [X2]),
    err("ReplicationPad2d", (1,), {}, NotImplementedError,
        "Padding size 4 is not supported for 2D input tensor", [X1U[1:] + (2,)]),
    err("ReplicationPad1d", ((-3, -2),), {}, RuntimeError,
        r"input \(W: 5\) is too small. Calculated output W: 0", [X1]),
    err("ReplicationPad2d", ((-3, -3, -2, -3),), {}, RuntimeError,
        r"input \(H: 4, W: 5 \) is too small. Calculated output H: -1 W: -1", [X2]),
    err("ReflectionPad3d", ((-3, -3, -2, -3, -2, -2),), {}, RuntimeError,
        r"input \(D: 3 H: 4, W: 5\) is too small. Calculated output D: -1 H: -1 W: -1", [X3]),
    err("ReplicationPad2d", ((-3, -3, 1, 1),), {}, RuntimeError,
        r"Trying to create tensor with negative dimension -1: \[2, 2, 6, -1\]", [X2]),
    err("ReplicationPad1d", (1,), {}, RuntimeError,
        r"Expected 2D or 3D \(batch mode\) tensor with possibly 0 batch size and other "
        r"non-zero dimensions for input, but got: \[2, 0, 5\]", [(2, 0, 5)]),
    err("ConstantPad1d", ((-6, 2), 0.0), {}, RuntimeError,
        r"narrow\(\): length must be non-negative", [X1]),
    err("ZeroPad2d", ((1, 1, 1, 1, 1, 1, 1, 1),), {}, RuntimeError,
        "Padding length should be less than or equal to two times the input dimension but got "
        "padding length 8 and input of dimension 3", [X2U]),
    err("ReflectionPad2d", ((1, 2, 3),), {}, RuntimeError,
        "Padding length must be divisible by 2", [X2]),
]


@pytest.mark.parametrize("name, args, kwargs, exc, match, inputs", ERRORS)
def test_padding_error_matches_torch(name, args, kwargs, exc, match, inputs):
    check_error(name, args, kwargs, exc, match, inputs=inputs)


# -- F.pad directly ---------------------------------------------------------------------
F_PAD = [
    ("constant", (1, 2), X1, None),
    ("constant", (1, -2, 0, 3), X2, 2.5),
    ("constant", (1, 1, 1, 1, 1, 1), X2U, -1.0),  # every dimension of a 3-D input
    ("constant", (), X1, None),
    ("reflect", (3, -2), X1, None),
    ("reflect", (2, 1, -1, 3), X2, 0.0),  # value=0 is accepted by every mode
    ("reflect", (1, 1, 2, 0, 0, 2), X3, None),
    ("replicate", (6, -3), X1U, None),
    ("replicate", (1, 2, 3, 4), X2, None),
    ("replicate", (-1, 2, 2, 0, 1, 1), X3U, None),
    ("circular", (5, 5), X1, None),
    ("circular", (-2, 3), X1, None),
    ("circular", (2, 1, -1, 3), X2U, None),
    ("circular", (1, 2, 3, 0, 2, 1), X3, None),
]


@pytest.mark.parametrize("mode, pad, shape, value", F_PAD)
def test_f_pad_matches_torch(mode, pad, shape, value):
    check_function(lambda x: F.pad(x, pad, mode, value), lambda x: TF.pad(x, pad, mode, value),
                   make_inputs([shape]))


def check_f_error(jfn, tfn, exc, match):
    """torch's F and jnn's F raise the same exception type, matching ``match``."""
    x = make_inputs([X1])[0]
    with pytest.raises(exc, match=match) as t_info:
        tfn(torch.from_numpy(x))
    with pytest.raises(exc, match=match) as j_info:
        jfn(x)
    assert type(j_info.value) is type(t_info.value)


F_PAD_ERRORS = [
    ((1, 1), "reflect", 1.0, RuntimeError, 'Padding mode "reflect" doesn\'t take in value'),
    ((1, 1), "foo", None, NotImplementedError, "Unrecognised padding mode foo"),
    ((1.0, 1), "constant", None, TypeError,
     r"pad\(\): argument 'pad' \(position 2\) must be tuple of ints, but found element of "
     "type float at pos 0"),
    ((1, 1, 1, 1, 1, 1), "replicate", None, NotImplementedError,
     "Padding size 6 is not supported for 3D input tensor"),
    ((1, 1, 1, 1, 1, 1), "reflect", None, NotImplementedError,  # torch's whole text
     r"Padding size 6 is not supported for 3D input tensor\.\nSupported combinations for "
     r"non-constant padding:\n  - 2D or 3D input: padding size = 2 \(pads last dimension\)"
     r"\n  - 3D or 4D input: padding size = 4 \(pads last 2 dimensions\)\n  - 4D or 5D "
     r"input: padding size = 6 \(pads last 3 dimensions\)$"),
    ((1,), "constant", None, RuntimeError, "Padding length must be divisible by 2"),
]


@pytest.mark.parametrize("pad, mode, value, exc, match", F_PAD_ERRORS)
def test_f_pad_error_matches_torch(pad, mode, value, exc, match):
    check_f_error(lambda x: F.pad(x, pad, mode, value), lambda x: TF.pad(x, pad, mode, value),
                  exc, match)


@pytest.mark.parametrize("pad", [
    pytest.param((-3, 3), marks=deviation(
        "torch returns uninitialised memory (or an aliasing error, depending on strides) "
        "when a circular wrap is longer than what the crop leaves; jnn refuses")),
])
def test_circular_wrap_past_the_crop(pad):
    x = make_inputs([X1])[0]
    expected = TF.pad(torch.from_numpy(x), pad, "circular").numpy()  # torch's (garbage)
    np.testing.assert_array_equal(np.asarray(F.pad(x, pad, "circular")), expected)


# -- configurations ---------------------------------------------------------------------
@given(mode=st.sampled_from(["constant", "reflect", "replicate", "circular"]),
       pad=st.lists(st.integers(-3, 4), min_size=4, max_size=4),
       batched=st.booleans())
def test_pad_configurations(mode, pad, batched):
    """Outputs equal torch's, or both refuse with the same type and message."""
    x = make_inputs([X2 if batched else X2U])[0]
    try:
        expected = TF.pad(torch.from_numpy(x), tuple(pad), mode).numpy()
    except (RuntimeError, NotImplementedError) as error:
        with pytest.raises(type(error)) as info:
            F.pad(x, tuple(pad), mode)
        if "memory location" not in str(error):  # torch's aliasing failure (circular)
            assert str(info.value) == str(error).split("\n")[0]
        return
    past_crop = any(max(pad[i], pad[i + 1]) > size + min(pad[i], 0) + min(pad[i + 1], 0)
                    for i, size in ((0, 5), (2, 4)))
    if mode == "circular" and past_crop:  # torch read uninitialised memory; jnn refuses
        with pytest.raises(RuntimeError, match="wrapping around more than once"):
            F.pad(x, tuple(pad), mode)
        return
    np.testing.assert_array_equal(np.asarray(F.pad(x, tuple(pad), mode)), expected)
