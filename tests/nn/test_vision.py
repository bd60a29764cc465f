"""Resampling layers and functions against torch: Upsample & co., interpolate in every
mode (antialias included), pixel and channel shuffles, grid_sample, affine_grid.

A few input shapes are reused throughout (each new shape is an XLA compile).
"""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import jnn.nn.functional as F
from tests.nn.registry import case, err
from tests.oracle import check_error, check_function, check_layer, make_inputs, uniform

X1 = (2, 3, 5)  # (N, C, W)
X2 = (2, 3, 4, 5)  # (N, C, H, W)
X3 = (1, 2, 3, 4, 3)  # (N, C, D, H, W)
CUBIC = {"reduction_size": 16}  # 16 taps per output; float32 rounding grows with them

UPSAMPLING = [
    case("Upsample", scale_factor=2, inputs=[X1]),
    case("Upsample", size=7, inputs=[X1]),
    case("Upsample", scale_factor=(1.5, 2.3), inputs=[X2]),
    case("Upsample", size=(3, 8), inputs=[X2], id="Upsample size, downsample H"),
    case("Upsample", scale_factor=2, inputs=[X3]),
    case("Upsample", scale_factor=1.7, mode="nearest-exact", inputs=[X1]),
    case("Upsample", size=(7, 3), mode="nearest-exact", inputs=[X2]),
    case("Upsample", scale_factor=1.5, mode="nearest-exact", inputs=[X3]),
    case("Upsample", scale_factor=1.7, mode="linear", inputs=[X1]),
    case("Upsample", size=4, mode="linear", align_corners=True, inputs=[X1]),
    case("Upsample", scale_factor=2.0, mode="bilinear", inputs=[X2]),
    case("Upsample", scale_factor=(0.7, 1.3), mode="bilinear", align_corners=True,
         inputs=[X2]),
    case("Upsample", scale_factor=1.7, mode="bilinear", recompute_scale_factor=True,
         inputs=[X2]),
    case("Upsample", size=(6, 9), mode="bicubic", inputs=[X2], opts=CUBIC),
    case("Upsample", scale_factor=1.5, mode="bicubic", align_corners=True, inputs=[X2],
         opts=CUBIC),
    case("Upsample", scale_factor=0.6, mode="bicubic", inputs=[X2], opts=CUBIC),
    case("Upsample", scale_factor=1.5, mode="trilinear", inputs=[X3]),
    case("Upsample", size=(2, 5, 5), mode="trilinear", align_corners=True, inputs=[X3]),
    case("Upsample", size=(3, 2), mode="area", inputs=[X2]),
    case("Upsample", scale_factor=1.5, mode="area", inputs=[X1]),
    case("Upsample", size=(2, 3, 2), mode="area", inputs=[X3]),
    case("UpsamplingNearest2d", scale_factor=2, inputs=[X2]),
    case("UpsamplingNearest2d", size=(3, 7), inputs=[X2]),
    case("UpsamplingBilinear2d", scale_factor=2, inputs=[X2]),
    case("UpsamplingBilinear2d", size=(5, 3), inputs=[X2]),
    case("PixelShuffle", 2, inputs=[(2, 8, 3, 2)]),
    case("PixelShuffle", 3, inputs=[(9, 2, 3)], id="PixelShuffle(3) unbatched"),
    case("PixelShuffle", 2, inputs=[(2, 1, 4, 2, 3)], id="PixelShuffle(2) 5-D"),
    case("PixelUnshuffle", 2, inputs=[(2, 3, 4, 6)]),
    case("PixelUnshuffle", 3, inputs=[(1, 6, 3)], id="PixelUnshuffle(3) unbatched"),
    case("ChannelShuffle", 2, inputs=[(2, 6, 3)]),
    case("ChannelShuffle", 3, inputs=[(2, 6, 2, 2)]),
    case("ChannelShuffle", 1, inputs=[(2, 6, 3)]),
]


@pytest.mark.parametrize("name, args, kwargs, inputs, opts", UPSAMPLING)
def test_vision_matches_torch(name, args, kwargs, inputs, opts):
    check_layer(name, args, kwargs, inputs, **opts)


ERRORS = [
    err("Upsample", (), {"size": 4, "scale_factor": 2}, ValueError,
        "only one of size or scale_factor should be defined", [X1]),
    err("Upsample", (), {}, ValueError, "either size or scale_factor should be defined", [X1]),
    err("Upsample", (), {"size": 4, "align_corners": True}, ValueError,
        "align_corners option can only be set with the interpolating modes: linear | "
        "bilinear | bicubic | trilinear", [X1]),
    err("Upsample", (), {"size": 4, "mode": "area", "align_corners": False}, ValueError,
        "align_corners option can only be set", [X1]),
    err("Upsample", (), {"size": 4, "mode": "bilinear"}, NotImplementedError,
        "Got 3D input, but bilinear mode needs 4D input", [X1]),
    err("Upsample", (), {"size": 4, "mode": "linear"}, NotImplementedError,
        "Got 4D input, but linear mode needs 3D input", [X2]),
    err("Upsample", (), {"size": 4, "mode": "trilinear"}, NotImplementedError,
        "Got 4D input, but trilinear mode needs 5D input", [X2]),
    err("Upsample", (), {"size": 4, "mode": "bicubic"}, NotImplementedError,
        r"Input Error: Only 3D, 4D and 5D input Tensors supported \(got 5D\) for the modes: "
        r"nearest \| linear \| bilinear \| bicubic \| trilinear \| lanczos \| area \| "
        r"nearest-exact \(got bicubic\)", [X3]),
    err("Upsample", (), {"size": 4}, NotImplementedError,
        r"Only 3D, 4D and 5D input Tensors supported \(got 2D\)", [(3, 5)]),
    err("Upsample", (), {"size": 4, "mode": "foo"}, NotImplementedError, r"\(got foo\)", [X2]),
    err("Upsample", (), {"size": (2, 2, 2)}, ValueError,
        r"Input and output must have the same number of spatial dimensions, but got input "
        r"with spatial dimensions of \[4, 5\] and output size of \(2, 2, 2\)", [X2]),
    err("Upsample", (), {"scale_factor": (2.0, 2.0)}, ValueError,
        r"Input and scale_factor must have the same number of spatial dimensions, but got "
        r"input with spatial dimensions of \[5\] and scale_factor of shape \(2\.0, 2\.0\)",
        [X1]),
    err("Upsample", (), {"size": (4.0, 2)}, TypeError,
        "expected size to be one of int or Tuple", [X2]),
    err("Upsample", (), {"size": 4, "recompute_scale_factor": True}, ValueError,
        "recompute_scale_factor is not meaningful with an explicit size", [X1]),
    err("Upsample", (), {"scale_factor": 0.1}, RuntimeError,
        r"Input and output sizes should be greater than 0, but got input \(W: 5\) and "
        r"output \(W: 0\)", [X1]),
    err("Upsample", (), {"size": (0, 3), "mode": "bilinear"}, RuntimeError,
        r"Input and output sizes should be greater than 0, but got input \(H: 4, W: 5\) "
        r"output \(H: 0, W: 3\)", [X2]),
    err("Upsample", (), {"size": 3, "mode": "bilinear"}, RuntimeError,
        r"Non-empty 4D data tensor expected but got a tensor with sizes \[1, 0, 4, 5\]",
        [(1, 0, 4, 5)]),
    err("Upsample", (), {"size": 3, "mode": "bilinear"}, NotImplementedError,
        # jnn's integers are int32 without x64, torch's int64 ("Int" / "Long")
        "not implemented for '(Long|Int)'", [lambda rng: rng.integers(0, 5, X2)]),
    err("PixelShuffle", (2,), {}, RuntimeError,
        r"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
        r"of upscale_factor, but input.size\(-3\)=3 is not divisible by 4", [X2]),
    err("PixelShuffle", (2,), {}, RuntimeError,
        r"pixel_shuffle expects input to have at least 3 dimensions, but got input with 2 "
        r"dimension\(s\)", [(4, 4)]),
    err("PixelShuffle", (0,), {}, RuntimeError,
        "pixel_shuffle expects a positive upscale_factor, but got 0", [X2]),
    err("PixelUnshuffle", (2,), {}, RuntimeError,
        r"pixel_unshuffle expects width to be divisible by downscale_factor, but "
        r"input.size\(-1\)=5 is not divisible by 2", [X2]),
    err("PixelUnshuffle", (3,), {}, RuntimeError,
        r"pixel_unshuffle expects height to be divisible by downscale_factor, but "
        r"input.size\(-2\)=4 is not divisible by 3", [(1, 4, 6)]),
    err("PixelUnshuffle", (-1,), {}, RuntimeError,
        "pixel_unshuffle expects a positive downscale_factor, but got -1", [X2]),
    err("ChannelShuffle", (2,), {}, RuntimeError,
        r"Number of channels must be divisible by groups. Got 3 channels and 2 groups.", [X2]),
    err("ChannelShuffle", (2,), {}, RuntimeError,
        r"channel_shuffle expects input with > 2 dims, but got input with sizes \[4, 6\]",
        [(4, 6)]),
    err("ChannelShuffle", (0,), {}, RuntimeError,
        "Number of groups to divide channels in must be positive. Value of groups:0", [X2]),
]


@pytest.mark.parametrize("name, args, kwargs, exc, match, inputs", ERRORS)
def test_vision_error_matches_torch(name, args, kwargs, exc, match, inputs):
    check_error(name, args, kwargs, exc, match, inputs=inputs)


# -- F.interpolate: antialias, lanczos, the legacy names --------------------------------
INTERPOLATE = [
    (dict(size=(3, 2), mode="bilinear", antialias=True), X2, 1),
    (dict(scale_factor=0.6, mode="bilinear", antialias=True, align_corners=True), X2, 1),
    (dict(size=(6, 3), mode="bicubic", antialias=True), X2, 64),
    (dict(size=(2, 2), mode="lanczos", antialias=True), X2, 64),
    (dict(size=(7, 9), mode="lanczos", antialias=True), X2, 64),
    (dict(scale_factor=2.5, mode="nearest"), X2, 1),
    (dict(size=(2, 2), mode="area"), X2, 1),
]


@pytest.mark.parametrize("kwargs, shape, n_reduce", INTERPOLATE)
def test_interpolate_matches_torch(kwargs, shape, n_reduce):
    check_function(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs),
                   make_inputs([shape]), n_reduce=n_reduce)


@pytest.mark.parametrize("name, kwargs", [
    ("upsample", dict(scale_factor=2, mode="bilinear", align_corners=False)),
    ("upsample_nearest", dict(size=(3, 7))),
    ("upsample_bilinear", dict(scale_factor=1.5)),
])
def test_legacy_upsample_warns_like_torch(name, kwargs):
    x = make_inputs([X2])[0]
    with pytest.warns(UserWarning, match=f"`nn.functional.{name}` is deprecated"):
        expected = getattr(TF, name)(torch.from_numpy(x), **kwargs)
    with pytest.warns(UserWarning, match=f"`nn.functional.{name}` is deprecated"):
        out = getattr(F, name)(x, **kwargs)
    np.testing.assert_allclose(np.asarray(out), expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, factor, shape", [
    ("pixel_shuffle", 2, (2, 8, 3, 2)), ("pixel_unshuffle", 2, (2, 3, 4, 6)),
    ("channel_shuffle", 3, (2, 6, 2, 2)),
])
def test_shuffles_match_torch(name, factor, shape):
    check_function(lambda x: getattr(F, name)(x, factor),
                   lambda x: getattr(TF, name)(x, factor), make_inputs([shape]))


def test_native_channel_shuffle_matches_torch():
    # torch has no derivative for native_channel_shuffle: compare the forward only
    x = make_inputs([(2, 6, 3)])[0]
    np.testing.assert_array_equal(np.asarray(F.native_channel_shuffle(x, 2)),
                                  TF.native_channel_shuffle(torch.from_numpy(x), 2).numpy())


@given(size=st.integers(1, 6), out=st.integers(1, 9), factor=st.sampled_from(
    [None, 0.5, 0.75, 1.3, 1.5, 2.0, 2.6]), mode=st.sampled_from(
    ["nearest", "nearest-exact", "linear", "area"]), align_corners=st.booleans(),
    recompute=st.sampled_from([None, True]))
def test_interpolate_configurations(size, out, factor, mode, align_corners, recompute):
    """Sizes, integer and fractional scale factors, align_corners, recompute (forward)."""
    x = np.linspace(-2, 3, 2 * size, dtype=np.float32).reshape(1, 2, size)
    kwargs = dict(mode=mode, align_corners=align_corners if mode == "linear" else None)
    if factor is None:
        kwargs["size"] = out
    else:
        kwargs.update(scale_factor=factor, recompute_scale_factor=recompute)
    try:
        expected = TF.interpolate(torch.from_numpy(x), **kwargs).numpy()
    except RuntimeError as error:
        with pytest.raises(RuntimeError, match="Input and output sizes should be greater"):
            F.interpolate(x, **kwargs)
        assert "Input and output sizes should be greater" in str(error)
        return
    np.testing.assert_allclose(np.asarray(F.interpolate(x, **kwargs)), expected, rtol=1e-5,
                               atol=1e-6)


@given(h=st.integers(2, 5), w=st.integers(2, 5), out_h=st.integers(1, 7),
       mode=st.sampled_from(["bilinear", "bicubic"]), align_corners=st.booleans(),
       antialias=st.booleans())
def test_interpolate_2d_configurations(h, w, out_h, mode, align_corners, antialias):
    x = np.linspace(-2, 3, 2 * h * w, dtype=np.float32).reshape(1, 2, h, w)
    kwargs = dict(size=(out_h, 3), mode=mode, align_corners=align_corners, antialias=antialias)
    expected = TF.interpolate(torch.from_numpy(x), **kwargs).numpy()
    np.testing.assert_allclose(np.asarray(F.interpolate(x, **kwargs)), expected, rtol=1e-5,
                               atol=4e-6)  # bicubic: 16 products of O(1) terms


# -- grid_sample and affine_grid --------------------------------------------------------
GRID2 = uniform(2, 3, 4, 2, low=-1.3, high=1.3)  # reaches past the edges
GRID3 = uniform(1, 2, 3, 2, 3, low=-1.3, high=1.3)


# every combination for the cheap modes; bicubic (16 gathers, slow to compile) once per
# padding mode, alternating align_corners
GRID_4D = [(m, p, a) for m in ("bilinear", "nearest") for p in ("zeros", "border", "reflection")
           for a in (False, True)]
GRID_4D += [("bicubic", "zeros", False), ("bicubic", "border", True),
            ("bicubic", "reflection", False), ("bicubic", "reflection", True)]


@pytest.mark.parametrize("mode, padding_mode, align_corners", GRID_4D)
def test_grid_sample_4d_matches_torch(mode, padding_mode, align_corners):
    kwargs = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    check_function(lambda x, g: F.grid_sample(x, g, **kwargs),
                   lambda x, g: TF.grid_sample(x, g, **kwargs),
                   make_inputs([X2, GRID2]), grad_argnums=(0, 1),
                   n_reduce=64 if mode == "bicubic" else 4)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_5d_matches_torch(mode, padding_mode):
    kwargs = dict(mode=mode, padding_mode=padding_mode, align_corners=padding_mode == "border")
    check_function(lambda x, g: F.grid_sample(x, g, **kwargs),
                   lambda x, g: TF.grid_sample(x, g, **kwargs),
                   make_inputs([X3, GRID3]), grad_argnums=(0, 1), n_reduce=8)


@pytest.mark.parametrize("mode, x_shape, grid_shape", [
    ("bilinear", (0, 2, 4, 4), (0, 3, 2, 2)), ("bicubic", (0, 2, 4, 4), (0, 3, 2, 2)),
    ("nearest", (0, 2, 3, 4, 4), (0, 1, 3, 2, 3)),
])
def test_grid_sample_empty_batch_matches_torch(mode, x_shape, grid_shape):
    check_function(lambda x, g: F.grid_sample(x, g, mode=mode, align_corners=False),
                   lambda x, g: TF.grid_sample(x, g, mode=mode, align_corners=False),
                   make_inputs([x_shape, grid_shape]), grad_argnums=(0, 1))


@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 3, 1, 4)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch(size, align_corners):
    k = len(size) - 2
    with warnings.catch_warnings():  # the unit-size warning (both libraries)
        warnings.simplefilter("ignore")
        check_function(lambda t: F.affine_grid(t, size, align_corners),
                       lambda t: TF.affine_grid(t, size, align_corners),
                       make_inputs([(size[0], k, k + 1)]), n_reduce=k + 1)


def test_grid_functions_warn_like_torch():
    theta = make_inputs([(2, 2, 3)])[0]
    for fn in (lambda lib, t: lib.affine_grid(t, (2, 3, 4, 5)),
               lambda lib, t: lib.grid_sample(lib.affine_grid(t, (2, 3, 4, 5), False),
                                              lib.affine_grid(t, (2, 3, 4, 2), False))):
        with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior"):
            fn(TF, torch.from_numpy(theta))
        with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior"):
            fn(F, theta)
    with pytest.warns(UserWarning, match="affine_grid behavior has changed for unit-size"):
        TF.affine_grid(torch.from_numpy(theta), (2, 3, 1, 5), True)
    with pytest.warns(UserWarning, match="affine_grid behavior has changed for unit-size"):
        F.affine_grid(theta, (2, 3, 1, 5), True)


GRID_ERRORS = [
    (lambda lib, x, g: lib.grid_sample(x, g, mode="foo", align_corners=False), ValueError,
     r"nn.functional.grid_sample\(\): expected mode to be 'bilinear', 'nearest' or "
     r"'bicubic', but got: 'foo'"),
    (lambda lib, x, g: lib.grid_sample(x, g, padding_mode="foo", align_corners=False),
     ValueError, "expected padding_mode to be 'zeros', 'border', or 'reflection', but got: "
     "'foo'"),
    (lambda lib, x, g: lib.grid_sample(x, g[:1], align_corners=False), RuntimeError,
     r"grid_sampler\(\): expected grid and input to have same batch size, but got input with "
     r"sizes \[2, 3, 4, 5\] and grid with sizes \[1, 3, 4, 2\]"),
    (lambda lib, x, g: lib.grid_sample(x, g[..., :1], align_corners=False), RuntimeError,
     r"grid_sampler\(\): expected grid to have size 2 in last dimension, but got grid with "
     r"sizes \[2, 3, 4, 1\]"),
    (lambda lib, x, g: lib.grid_sample(x, g[:, :, :, None], align_corners=False),
     RuntimeError, r"grid_sampler\(\): expected 4D input and grid with same number of "
     r"dimensions, but got input with sizes \[2, 3, 4, 5\] and grid with sizes "
     r"\[2, 3, 4, 1, 2\]"),
    (lambda lib, x, g: lib.grid_sample(x[:, :, None], g[:, :, :, None, :1].repeat(
        1, 1, 1, 1, 3) if lib is TF else np.repeat(g[:, :, :, None, :1], 3, -1),
        mode="bicubic", align_corners=False), RuntimeError,
     r"grid_sampler\(\): bicubic interpolation only supports 4D input"),
    (lambda lib, x, g: lib.affine_grid(x[:, :2, :2, 0], (2, 3, 4, 5), False), ValueError,
     r"Expected a batch of 2D affine matrices of shape Nx2x3 for size \(2, 3, 4, 5\). Got "
     r"torch.Size\(\[2, 2, 2\]\)."),
    (lambda lib, x, g: lib.affine_grid(x[:, :2, :3, 0], (2, 3, 4), False), NotImplementedError,
     "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
     r"respectively. Got size \(2, 3, 4\)."),
    (lambda lib, x, g: lib.affine_grid(x[:, :2, :3, 0], (2, 3, 0, 5), False), ValueError,
     r"Expected non-zero, positive output size. Got \(2, 3, 0, 5\)"),
]


@pytest.mark.parametrize("call, exc, match", GRID_ERRORS)
def test_grid_error_matches_torch(call, exc, match):
    x, g = make_inputs([X2, GRID2])
    with pytest.raises(exc, match=match) as t_info:
        call(TF, torch.from_numpy(x), torch.from_numpy(g))
    with pytest.raises(exc, match=match) as j_info:
        call(F, x, g)
    assert type(j_info.value) is type(t_info.value)


@pytest.mark.parametrize("mode, shape", [
    ("linear", (1, 2, 3)), ("bilinear", (2, 3, 4, 4)), ("bicubic", (1, 1, 3, 3)),
    ("trilinear", (1, 1, 2, 2, 2)), ("nearest", (2, 3, 4, 4)), ("nearest", (1, 3, 4)),
    ("nearest-exact", (1, 2, 3, 3)), ("area", (1, 1, 4, 4)),
])
def test_interpolating_integers_names_torchs_kernel(mode, shape):
    """int32 on both sides (jnn's default integer): torch's exact message, kernel name
    included (4-D bilinear and nearest go through its channels-last loops)."""
    from tests.nn._same_error import assert_same_error

    x = np.ones(shape, np.int32)
    assert_same_error(
        lambda: torch.nn.functional.interpolate(torch.from_numpy(x), scale_factor=2, mode=mode),
        lambda: F.interpolate(x, scale_factor=2, mode=mode))
