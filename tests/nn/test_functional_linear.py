"""jnn.nn.functional linear and bilinear against torch: values, gradients, shape errors."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import jnn.nn as nn
import jnn.nn.functional as F
from tests.nn._same_error import assert_same_error

RTOL = 1e-5


@functools.cache
def _value_and_vjp(jfn):
    # One jit of forward + VJP, cached per function so that repeated shapes (the
    # hypothesis examples) reuse the compiled program: compiles dominate on a small CPU.
    @jax.jit
    def value_and_vjp(args, cot):
        out, vjp = jax.vjp(jfn, *args)
        return out, vjp(cot)

    return value_and_vjp


def check_against_torch(jfn, tfn, inputs, n_reduce=1, seed=0):
    """Compare ``jfn`` and ``tfn`` on the same float32 numpy inputs: outputs, then the
    gradients of every input (a VJP with one random cotangent). atol = 1e-6 * sqrt(n)
    for ``n`` summed terms, float32 rounding's growth."""
    t_inputs = [torch.from_numpy(a).requires_grad_(True) for a in inputs]
    t_out = tfn(*t_inputs)
    cot = np.asarray(np.random.default_rng(seed).standard_normal(t_out.shape), np.float32)
    t_grads = torch.autograd.grad(t_out, t_inputs, torch.from_numpy(cot))

    j_out, j_grads = _value_and_vjp(jfn)([jnp.asarray(a) for a in inputs], jnp.asarray(cot))
    atol = 1e-6 * math.sqrt(n_reduce)
    assert j_out.shape == tuple(t_out.shape)
    np.testing.assert_allclose(j_out, t_out.detach().numpy(), rtol=RTOL, atol=atol)
    for j_grad, t_grad in zip(j_grads, t_grads):
        np.testing.assert_allclose(j_grad, t_grad.numpy(), rtol=RTOL, atol=atol)


def _arrays(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


# (input, weight, bias) shapes; bias None means no bias.
LINEAR_CASES = [
    ((4, 3), (5, 3), (5,)),
    ((4, 3), (5, 3), None),
    ((3,), (5, 3), (5,)),  # unbatched
    ((2, 4, 3), (5, 3), (5,)),  # extra leading dims
    ((2, 4, 3), (5, 3), (4, 5)),  # a bias broadcast over the batch
    ((4, 3), (5, 3), ()),  # scalar bias
    ((4, 3), (3,), None),  # vector weight: matrix-vector product
    ((3,), (3,), None),  # dot product
    ((3,), (3,), ()),
    ((0, 3), (5, 3), (5,)),  # empty batch
    ((2, 4, 3), (5, 3), (8, 1)),  # torch's addmm: one bias row per flattened input row
    ((2, 4, 3), (5, 3), (1, 5)),
    ((2, 4, 3), (3,), ()),
]


@pytest.mark.parametrize("x_shape, w_shape, b_shape", LINEAR_CASES)
def test_linear_matches_torch(x_shape, w_shape, b_shape):
    shapes = [x_shape, w_shape] + ([b_shape] if b_shape is not None else [])
    check_against_torch(F.linear, TF.linear, _arrays(*shapes), n_reduce=3)


# (input1, input2, weight, bias) shapes.
BILINEAR_CASES = [
    ((4, 3), (4, 2), (5, 3, 2), (5,)),
    ((4, 3), (4, 2), (5, 3, 2), None),
    ((3,), (2,), (5, 3, 2), (5,)),  # unbatched
    ((2, 4, 3), (2, 4, 2), (5, 3, 2), (5,)),
]


@pytest.mark.parametrize("x1_shape, x2_shape, w_shape, b_shape", BILINEAR_CASES)
def test_bilinear_matches_torch(x1_shape, x2_shape, w_shape, b_shape):
    shapes = [x1_shape, x2_shape, w_shape] + ([b_shape] if b_shape is not None else [])
    check_against_torch(F.bilinear, TF.bilinear, _arrays(*shapes), n_reduce=6)


# (function, shapes of the positional arrays, exception, torch's message regex)
ERROR_CASES = [
    (
        "linear",
        [(2, 3), (5, 4)],
        RuntimeError,
        r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)",
    ),
    ("linear", [(2, 6, 3), (5, 4)], RuntimeError, r"\(12x3 and 4x5\)"),
    ("linear", [(3,), (5, 4)], RuntimeError, r"\(1x3 and 4x5\)"),
    ("linear", [(), (5, 3)], RuntimeError, "need to be at least 1D, but they are 0D and 2D"),
    ("linear", [(3,), ()], RuntimeError, "need to be at least 1D, but they are 1D and 0D"),
    ("linear", [(2, 3), (5, 3, 1)], RuntimeError, "t\\(\\) expects a tensor with <= 2 dimensions"),
    (
        "linear",
        [(2, 3), (4,)],
        RuntimeError,
        r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)",
    ),
    ("linear", [(2, 4, 3), (4,)], RuntimeError, r"got input \(8\), mat \(8x3\), vec \(4\)"),
    ("linear", [(3,), (4,)], RuntimeError, r"expected tensor \[3\] and src \[4\]"),
    ("linear", [(2, 3), (3,), (2,)], RuntimeError, "mat2 must be a matrix, got 1-D tensor"),
    (
        "linear",
        [(2, 3), (5, 3), (4,)],
        RuntimeError,
        r"expanded size of the tensor \(5\) must match the existing size \(4\) at non-singleton "
        r"dimension 1.  Target sizes: \[2, 5\].  Tensor sizes: \[4\]",
    ),
    ("linear", [(2, 4, 3), (5, 3), (4,)], RuntimeError, r"Target sizes: \[8, 5\]"),
    ("linear", [(2, 4, 3), (5, 3), (4, 1)], RuntimeError,  # addmm's expand, not broadcasting
     r"expanded size of the tensor \(8\) must match the existing size \(4\) at non-singleton "
     r"dimension 0.  Target sizes: \[8, 5\].  Tensor sizes: \[4, 1\]$"),
    ("linear", [(2, 3), (5, 3), (3, 2, 5)], RuntimeError,
     r"expand\(torch.FloatTensor\{\[3, 2, 5\]\}, size=\[2, 5\]\): the number of sizes provided "
     r"\(2\) must be greater or equal to the number of dimensions in the tensor \(3\)"),
    ("linear", [(3,), (5, 3), (1, 1)], RuntimeError,  # matmul, then torch's in-place add_
     r"output with shape \[5\] doesn't match the broadcast shape \[1, 5\]"),
    ("linear", [(2, 4, 3), (5, 3), (7, 5)], RuntimeError,
     r"The size of tensor a \(4\) must match the size of tensor b \(7\) at non-singleton "
     r"dimension 1"),
    ("linear", [(2, 4, 3), (3,), (4, 1)], RuntimeError, "mat2 must be a matrix, got 1-D tensor"),
    (
        "bilinear",
        [(2, 3), (3, 4), (5, 3, 4)],
        RuntimeError,
        "input batch dimensions do not match at dim 0: got 2 and 3",
    ),
    (
        "bilinear",
        [(2, 3), (1, 2, 4), (5, 3, 4)],
        RuntimeError,
        "input dimensions do not match: got 2 and 3",
    ),
    (
        "bilinear",
        [(2, 2), (2, 4), (5, 3, 4)],
        RuntimeError,
        "input1 size does not match weight size: got 2 but expected 3",
    ),
    (
        "bilinear",
        [(2, 3), (2, 4), (5, 3, 5)],
        RuntimeError,
        "input2 size does not match weight size: got 4 but expected 5",
    ),
    (
        "bilinear",
        [(2, 3), (2, 4), (5, 3, 4), (4,)],
        RuntimeError,
        "bias size does not match weight size: got 4 but expected 5",
    ),
    ("bilinear", [(2, 3), (2, 4), (5, 3)], IndexError, r"range of \[-2, 1\], but got 2\)"),
    ("bilinear", [(2, 3), (2, 4), (5,)], IndexError, r"range of \[-1, 0\], but got 1\)"),
    ("bilinear", [(), (), (5, 3, 4)], IndexError, "Dimension specified as -1 but tensor has no"),
    ("bilinear", [(2, 3), (2, 4), (5, 3, 4), ()], IndexError, "Dimension specified as 0"),
    ("bilinear", [(2, 3), (2, 4), (5, 3, 4, 1)], RuntimeError, "number of dimensions must match"),
]


@pytest.mark.parametrize("name, shapes, exc, match", ERROR_CASES)
def test_errors_match_torch(name, shapes, exc, match):
    arrays = _arrays(*shapes)
    with pytest.raises(exc, match=match):
        getattr(TF, name)(*map(torch.from_numpy, arrays))
    with pytest.raises(exc, match=match):
        getattr(F, name)(*map(jnp.asarray, arrays))


@given(
    lead=st.sampled_from([(), (4,), (2, 4)]),
    use_bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_linear_property(lead, use_bias, seed):
    # Leading dims from a small fixed set, so the examples share compiled programs.
    shapes = [lead + (3,), (5, 3)] + ([(5,)] if use_bias else [])
    check_against_torch(F.linear, TF.linear, _arrays(*shapes, seed=seed), n_reduce=3, seed=seed)


def test_linear_under_vmap():
    x, w, b = (jnp.asarray(a) for a in _arrays((4, 3), (5, 3), (5,)))
    batched = jax.vmap(F.linear, in_axes=(0, None, None))(x, w, b)
    np.testing.assert_allclose(batched, F.linear(x, w, b), rtol=RTOL, atol=1e-6)


# (input, weight, bias) shapes for the dtype tests: addmm (a 2-d input, or a bias that squeezes
# to 1-d), matmul then add_, mv and dot; some with sizes that do not fit either, so the test
# also pins which of torch's checks (dtype or shape) comes first on each path.
DTYPE_SHAPES = [
    ((4, 3), (2, 3), (2,)), ((2, 4, 3), (2, 3), (2,)), ((3,), (2, 3), (2,)),
    ((4, 3), (2, 3), None), ((2, 4, 3), (2, 3), None), ((3,), (2, 3), None),
    ((2, 4, 3), (2, 3), (4, 2)), ((2, 4, 3), (2, 3), (4, 1)), ((4, 3), (2, 3), ()),
    ((4, 5), (2, 3), (2,)), ((4, 5), (2, 3), None), ((2, 4, 5), (2, 3), (4, 2)),
    ((4, 3), (2, 3), (7,)), ((4, 3), (3,), (2,)), ((4, 3), (3,), None), ((2, 4, 3), (3,), None),
    ((4, 3), (4,), None), ((3,), (3,), None), ((3,), (4,), None), ((3,), (3,), ()),
]


@pytest.mark.parametrize("shapes", DTYPE_SHAPES, ids=str)
@pytest.mark.parametrize("dtypes", ["hff", "fhf", "ffh", "fhh", "hfh", "hhf", "bfh"])
def test_linear_dtype_errors_follow_torchs_kernel(shapes, dtypes):
    """Mixed input/weight/bias dtypes: torch's message names the kernel its linear picks
    ("self and mat2" for addmm's bias, "mat1 and mat2", "expected m1 and m2", dot, addmv)."""
    names = {"f": "float32", "h": "float16", "b": "bfloat16"}
    x_dtype, w_dtype, b_dtype = (names[c] for c in dtypes)
    x_shape, w_shape, b_shape = shapes

    def call(lib, module, array):
        def make(shape, dtype):
            return array(shape, getattr(lib, dtype))
        bias = None if b_shape is None else make(b_shape, b_dtype)
        return module.linear(make(x_shape, x_dtype), make(w_shape, w_dtype), bias)

    def torch_call():
        return call(torch, TF, lambda s, d: torch.ones(s, dtype=d))

    def jnn_call():
        return call(jnp, F, lambda s, d: jnp.ones(s, d))

    try:
        expected = torch_call()
    except RuntimeError:
        assert_same_error(torch_call, jnn_call)
        return
    got = jnn_call()  # (a float bias added in place keeps the output's dtype)
    assert got.shape == tuple(expected.shape)
    assert got.dtype == getattr(jnp, str(expected.dtype).removeprefix("torch."))


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
@pytest.mark.parametrize("low_weight", [True, False], ids=["low_weight", "low_input"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("x_shape", [(2, 4), (3, 2, 4), (4,)], ids=["2d", "3d", "1d"])
def test_mixed_dtypes_raise_torchs_error_for_each_path(low, low_weight, bias, x_shape):
    """torch refuses a float32 input with a half weight (or the reverse) instead of
    promoting; its message depends on the path: addmm with a bias, matmul without."""
    w_dtype, x_dtype = (low, "float32") if low_weight else ("float32", low)
    tw, jw = torch.zeros(3, 4, dtype=getattr(torch, w_dtype)), jnp.zeros((3, 4), w_dtype)
    tx, jx = torch.zeros(x_shape, dtype=getattr(torch, x_dtype)), jnp.zeros(x_shape, x_dtype)
    tb = torch.zeros(3, dtype=getattr(torch, w_dtype)) if bias else None
    jb = jnp.zeros(3, w_dtype) if bias else None
    with pytest.raises(RuntimeError) as expected:
        TF.linear(tx, tw, tb)
    with pytest.raises(RuntimeError) as got:
        F.linear(jx, jw, jb)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("dtypes", ["bfff", "fbff", "ffbf", "fffb", "fffh", "hhb-", "fbf-",
                                    "bbbf", "hbfd"])
def test_bilinear_mixed_dtypes_raise_torchs_error(dtypes):
    """input1, input2, weight and bias ('-': none) must share one dtype; torch's message
    names the bias when one is given, and refuses a bias of another dtype alone."""
    names = {"h": "float16", "b": "bfloat16", "f": "float32", "d": "float64"}
    x1, x2, w, b = (names.get(c) for c in dtypes)
    shapes = [(3, 4), (3, 5), (2, 4, 5), (2,)]

    def call(lib, module, make):
        return module.bilinear(*(make(s, d) for s, d in zip(shapes, (x1, x2, w))),
                               None if b is None else make(shapes[3], b))

    with jax.enable_x64(True):
        assert_same_error(
            lambda: call(torch, TF, lambda s, d: torch.ones(s, dtype=getattr(torch, d))),
            lambda: call(jnp, F, lambda s, d: jnp.ones(s, d)))


def test_bilinear_module_in_bfloat16_fed_float32_names_its_bias_like_torch():
    torch.manual_seed(0)
    t_layer, j_layer = torch.nn.Bilinear(4, 4, 2).bfloat16(), nn.Bilinear(4, 4, 2).bfloat16()
    x = np.ones((3, 4), np.float32)
    assert_same_error(lambda: t_layer(torch.from_numpy(x), torch.from_numpy(x)),
                      lambda: j_layer(jnp.asarray(x), jnp.asarray(x)))
