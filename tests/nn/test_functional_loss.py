"""jnn.nn.functional losses against torch.nn.functional: values, gradients, errors, warnings."""

import math
import re
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
import jnn.nn.functional as F
from jnn.nn import LinearCrossEntropyOptions
from tests.nn._same_error import assert_same_error
from tests.oracle import check_function as check_against_torch

RTOL = 1e-5
BOOL_SUB = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
TWO_BOOL_SUB = ("Subtraction, the `-` operator, with two bool tensors is not supported. Use "
                "the `^` or `logical_xor()` operator instead.")
C = 5  # number of classes in every classification case


def _normal(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def _log_softmax(x, axis):
    return (x - np.log(np.exp(x).sum(axis, keepdims=True))).astype(np.float32)


def _targets(rng, shape, ignore_index):
    """Class indices in [0, C) with about a quarter replaced by ``ignore_index``."""
    t = rng.integers(0, C, shape)
    t[rng.random(shape) < 0.25] = ignore_index
    return t.astype(np.int32)


def make_inputs(kind, seed=0, ignore_index=-100):
    """Inputs for one case kind: (arrays, grad_argnums)."""
    rng = np.random.default_rng(seed)
    x = _normal(rng, (4, C))
    if kind == "pair":
        return [x, _normal(rng, (4, C))], (0, 1)
    if kind == "pair_equal":  # x == y: torch's |d| subgradient at 0 is 0
        return [x, x.copy()], (0, 1)
    if kind == "pair_broadcast":  # target (C,) against input (4, C): torch warns
        return [x, _normal(rng, (C,))], (0, 1)
    if kind == "index":  # (N, C) and (N,)
        return [x, _targets(rng, (4,), ignore_index)], (0,)
    if kind == "index_unbatched":  # (C,) and ()
        return [x[0], _targets(rng, (), ignore_index)], (0,)
    if kind == "index_kd":  # (N, C, d1) and (N, d1)
        return [_normal(rng, (2, C, 3)), _targets(rng, (2, 3), ignore_index)], (0,)
    if kind == "index_2d":  # (N, C, d1, d2) and (N, d1, d2): torch's nll_loss2d path
        return [_normal(rng, (2, C, 3, 2)), _targets(rng, (2, 3, 2), ignore_index)], (0,)
    if kind == "log_index":  # log-probabilities for nll_loss
        return [_log_softmax(x, 1), _targets(rng, (4,), ignore_index)], (0,)
    if kind == "log_index_kd":
        return [_log_softmax(_normal(rng, (2, C, 3)), 1), _targets(rng, (2, 3), ignore_index)], (0,)
    if kind == "probs":  # class probabilities, target shaped like input
        return [x, np.exp(_log_softmax(_normal(rng, (4, C)), 1))], (0, 1)
    if kind == "probs_kd":
        return [_normal(rng, (2, C, 3)), np.exp(_log_softmax(_normal(rng, (2, C, 3)), 1))], (
            0,
            1,
        )
    if kind == "bce":
        p = rng.uniform(0.05, 0.95, (4, C)).astype(np.float32)
        return [p, rng.uniform(0, 1, (4, C)).astype(np.float32)], (0, 1)
    if kind == "bce_logits":
        return [x * 3, rng.uniform(0, 1, (4, C)).astype(np.float32)], (0, 1)
    if kind == "kl":
        return [_log_softmax(x, 1), np.exp(_log_softmax(_normal(rng, (4, C)), 1))], (0, 1)
    if kind == "kl_log":
        return [_log_softmax(x, 1), _log_softmax(_normal(rng, (4, C)), 1)], (0, 1)
    raise ValueError(kind)


def W(*shape):
    """A positive weight array of ``shape`` (a marker resolved per library in the tests)."""
    return np.random.default_rng(42).uniform(0.5, 2.0, shape).astype(np.float32)


def _kwargs_for(kwargs, to_array):
    return {k: to_array(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


# (name, input kind, kwargs): one line per configuration.
CASES = [
    ("mse_loss", "pair", {}),
    ("mse_loss", "pair", {"reduction": "sum"}),
    ("mse_loss", "pair", {"reduction": "none"}),
    ("mse_loss", "pair", {"weight": W(4, C)}),
    ("mse_loss", "pair", {"weight": W(4, C), "reduction": "none"}),
    ("l1_loss", "pair", {}),
    ("l1_loss", "pair", {"reduction": "none"}),
    ("l1_loss", "pair", {"weight": W(4, C), "reduction": "sum"}),
    ("l1_loss", "pair", {"weight": W(4, C)}),
    ("l1_loss", "pair_equal", {"reduction": "sum"}),
    ("smooth_l1_loss", "pair_equal", {"beta": 0.0, "reduction": "sum"}),
    ("huber_loss", "pair_equal", {"reduction": "sum"}),
    ("smooth_l1_loss", "pair", {}),
    ("smooth_l1_loss", "pair", {"beta": 0.5, "reduction": "none"}),
    ("smooth_l1_loss", "pair", {"beta": 0.0}),
    ("huber_loss", "pair", {}),
    ("huber_loss", "pair", {"delta": 0.3, "reduction": "sum"}),
    ("huber_loss", "pair", {"weight": W(4, C)}),
    ("huber_loss", "pair", {"weight": W(4, C), "reduction": "none"}),
    ("nll_loss", "log_index", {}),
    ("nll_loss", "log_index", {"reduction": "sum"}),
    ("nll_loss", "log_index", {"reduction": "none"}),
    ("nll_loss", "log_index", {"weight": W(C)}),
    ("nll_loss", "log_index", {"weight": W(C), "ignore_index": 1}),
    ("nll_loss", "log_index_kd", {"weight": W(C)}),
    ("nll_loss", "log_index_kd", {"reduction": "none"}),
    ("cross_entropy", "index", {}),
    ("cross_entropy", "index", {"reduction": "sum"}),
    ("cross_entropy", "index", {"reduction": "none"}),
    ("cross_entropy", "index", {"weight": W(C)}),
    ("cross_entropy", "index", {"ignore_index": 2}),
    ("cross_entropy", "index", {"label_smoothing": 0.1}),
    ("cross_entropy", "index", {"label_smoothing": 0.2, "weight": W(C)}),
    ("cross_entropy", "index", {"label_smoothing": 0.2, "weight": W(C), "reduction": "sum"}),
    ("cross_entropy", "index", {"label_smoothing": 0.3, "weight": W(C), "reduction": "none"}),
    ("cross_entropy", "index", {"label_smoothing": 0.1, "ignore_index": 3, "weight": W(C)}),
    ("cross_entropy", "index", {"label_smoothing": -0.5}),  # torch ignores eps <= 0
    ("cross_entropy", "index_unbatched", {}),
    ("cross_entropy", "index_unbatched", {"weight": W(C), "label_smoothing": 0.1}),
    ("cross_entropy", "index_kd", {}),
    ("cross_entropy", "index_kd", {"weight": W(C), "label_smoothing": 0.2}),
    ("cross_entropy", "index_kd", {"reduction": "none", "label_smoothing": 0.2}),
    ("cross_entropy", "index_2d", {"weight": W(C)}),
    ("cross_entropy", "index_2d", {"reduction": "none"}),
    ("cross_entropy", "probs", {}),
    ("cross_entropy", "probs", {"weight": W(C)}),
    ("cross_entropy", "probs", {"label_smoothing": 0.25, "reduction": "sum"}),
    ("cross_entropy", "probs", {"weight": W(C), "label_smoothing": 0.1, "reduction": "none"}),
    ("cross_entropy", "probs_kd", {"weight": W(C)}),
    ("binary_cross_entropy", "bce", {}),
    ("binary_cross_entropy", "bce", {"weight": W(C), "reduction": "none"}),
    ("binary_cross_entropy", "bce", {"weight": W(4, C), "reduction": "sum"}),
    ("binary_cross_entropy_with_logits", "bce_logits", {}),
    ("binary_cross_entropy_with_logits", "bce_logits", {"pos_weight": W(C)}),
    ("binary_cross_entropy_with_logits", "bce_logits", {"pos_weight": W(4, C)}),
    ("binary_cross_entropy_with_logits", "bce_logits", {"weight": W(C), "pos_weight": W(C)}),
    ("binary_cross_entropy_with_logits", "bce_logits", {"weight": W(4, 1), "reduction": "none"}),
    ("kl_div", "kl", {"reduction": "batchmean"}),
    ("kl_div", "kl", {"reduction": "sum"}),
    ("kl_div", "kl", {"reduction": "none"}),
    ("kl_div", "kl_log", {"reduction": "batchmean", "log_target": True}),
    ("kl_div", "kl_log", {"reduction": "none", "log_target": True}),
]


@pytest.mark.parametrize("name, kind, kwargs", CASES)
def test_loss_matches_torch(name, kind, kwargs):
    inputs, grad_argnums = make_inputs(kind, ignore_index=kwargs.get("ignore_index", -100))
    check_against_torch(
        lambda *a: getattr(F, name)(*a, **_kwargs_for(kwargs, jnp.asarray)),
        lambda *a: getattr(TF, name)(*a, **_kwargs_for(kwargs, torch.from_numpy)),
        inputs,
        grad_argnums,
        n_reduce=inputs[0].size,
    )


# (name, input kind, kwargs) whose torch call warns; jnn must warn with the same text.
WARNING_CASES = [
    ("mse_loss", "pair_broadcast", {}),
    ("l1_loss", "pair_broadcast", {"reduction": "sum"}),
    ("smooth_l1_loss", "pair_broadcast", {}),
    ("huber_loss", "pair_broadcast", {}),
    ("mse_loss", "pair", {"size_average": False}),
    ("l1_loss", "pair", {"reduce": False}),
    ("mse_loss", "pair", {"reduction": "elementwise_mean"}),
    ("cross_entropy", "index", {"size_average": True, "reduce": True}),
    ("nll_loss", "log_index", {"reduce": False}),
    ("binary_cross_entropy", "bce", {"size_average": False}),
    ("kl_div", "kl", {}),  # 'mean' warns that it is not 'batchmean'
    ("kl_div", "kl", {"size_average": False, "reduction": "batchmean"}),
]


@pytest.mark.parametrize("name, kind, kwargs", WARNING_CASES)
def test_warnings_and_legacy_reductions_match_torch(name, kind, kwargs):
    inputs, _ = make_inputs(kind)
    with warnings.catch_warnings(record=True) as t_record:
        warnings.simplefilter("always")
        expected = getattr(TF, name)(
            *[
                torch.from_numpy(np.asarray(a, np.int64) if a.dtype.kind == "i" else a)
                for a in inputs
            ],
            **kwargs,
        )
    with warnings.catch_warnings(record=True) as j_record:
        warnings.simplefilter("always")
        got = getattr(F, name)(*[jnp.asarray(a) for a in inputs], **kwargs)
    assert [str(w.message) for w in j_record] == [str(w.message) for w in t_record]
    assert all(w.filename == __file__ for w in j_record)  # points at the caller
    np.testing.assert_allclose(got, expected.numpy(), rtol=RTOL, atol=1e-5)


class A:
    """An input placeholder: shape and kind ('f' float, 'i' class index, 'p' in (0, 1),
    'b' bool)."""

    def __init__(self, *shape, kind="f"):
        self.shape, self.kind = shape, kind

    def build(self, rng):
        if self.kind == "i":
            return rng.integers(0, 3, self.shape).astype(np.int32)
        if self.kind == "p":
            return rng.uniform(0.1, 0.9, self.shape).astype(np.float32)
        if self.kind == "b":
            return rng.random(self.shape) < 0.5
        return _normal(rng, self.shape)


# (name, positional inputs, kwargs, exception, torch's message regex)
ERROR_CASES = [
    ("mse_loss", [A(2, 3), A(2)], {}, RuntimeError, r"tensor a \(3\) must match .* b \(2\)"),
    ("mse_loss", [A(2, 3), A(5, 7)], {}, RuntimeError,  # torch names the last mismatch
     r"The size of tensor a \(3\) must match the size of tensor b \(7\) at non-singleton "
     r"dimension 1$"),
    ("mse_loss", [A(2, 3), A(2, 3)], {"reduction": "foo"}, ValueError, "foo is not a valid"),
    ("mse_loss", [A(2, 3), A(2, 3)], {"weight": A(3)}, ValueError, "Weights and input must"),
    (
        "l1_loss",
        [A(2, 3), A(2, 3)],
        {"weight": A(2, 3), "reduction": "x"},
        ValueError,
        "Invalid reduction mode: x. Expected one of 'none', 'mean', 'sum'.",
    ),
    ("smooth_l1_loss", [A(2, 3), A(2, 3)], {"beta": -1.0}, RuntimeError, "negative values for"),
    ("huber_loss", [A(2, 3), A(2, 3)], {"delta": 0.0}, RuntimeError, "non-positive values"),
    # a bool input or target: torch's `x - y` check, its kernels' casts, in torch's order
    ("l1_loss", [A(2, 3), A(2, 3, kind="b")], {}, RuntimeError, re.escape(BOOL_SUB)),
    ("l1_loss", [A(2, 3, kind="b"), A(2, 3)], {"reduction": "none"}, RuntimeError,
     re.escape(BOOL_SUB)),
    ("l1_loss", [A(2, 3, kind="b"), A(2, 3, kind="i")], {}, RuntimeError, re.escape(BOOL_SUB)),
    ("l1_loss", [A(2, 3, kind="b"), A(2, 3)], {"weight": A(2, 3)}, RuntimeError,
     re.escape(BOOL_SUB)),
    ("l1_loss", [A(2, 3, kind="b"), A(2, 3)], {"reduction": "foo"}, ValueError,
     "foo is not a valid value for reduction"),
    ("l1_loss", [A(2, 3, kind="b"), A(2, 3)], {"weight": A(3)}, ValueError,
     "Weights and input must have the same size."),
    ("mse_loss", [A(2, 3), A(2, 3, kind="b")], {"weight": A(2, 3)}, RuntimeError,
     re.escape(BOOL_SUB)),
    ("mse_loss", [A(2, 3, kind="b"), A(2, 3, kind="b")], {"weight": A(2, 3)}, RuntimeError,
     re.escape(TWO_BOOL_SUB)),
    ("smooth_l1_loss", [A(2, 3, kind="b"), A(2, 3)], {"beta": 0.0}, RuntimeError,
     re.escape(BOOL_SUB)),
    ("smooth_l1_loss", [A(2, 3, kind="b"), A(2, 3, kind="b")], {"beta": 0.0}, RuntimeError,
     re.escape(TWO_BOOL_SUB)),
    ("smooth_l1_loss", [A(2, 3, kind="i"), A(2, 3, kind="i")], {"beta": 0.0}, RuntimeError,
     re.escape("mean(): could not infer output dtype.")),
    ("smooth_l1_loss", [A(2, 3, kind="b"), A(2, 3, kind="b")], {"beta": -1.0}, RuntimeError,
     "smooth_l1_loss does not support negative values for beta."),
    ("huber_loss", [A(2, 3, kind="b"), A(2, 3)], {}, RuntimeError,
     re.escape("result type Float can't be cast to the desired output type Bool")),
    ("huber_loss", [A(2, 3, kind="b"), A(2, 3)], {"weight": A(2, 3)}, RuntimeError,
     re.escape("result type Float can't be cast to the desired output type Bool")),
    ("huber_loss", [A(2, 3, kind="i"), A(2, 3)], {}, RuntimeError,
     "result type Float can't be cast to the desired output type (Long|Int)"),
    ("huber_loss", [A(2, 3, kind="b"), A(2, 3, kind="b")], {"delta": -1.0}, RuntimeError,
     "huber_loss does not support non-positive values for delta."),
    ("nll_loss", [A(), A(kind="i")], {}, ValueError, r"Expected 1 or more dimensions \(got 0\)"),
    (
        "nll_loss",
        [A(3, 4), A(2, kind="i")],
        {},
        ValueError,
        r"Expected input batch_size \(3\) to match target batch_size \(2\)\.",
    ),
    ("nll_loss", [A(3, 4), A(3, 2, kind="i")], {}, RuntimeError, "multi-target not supported"),
    ("nll_loss", [A(4), A(2, kind="i")], {}, ValueError, "1D target must have size 1"),
    (
        "nll_loss",
        [A(3, 4), A(3)],
        {},
        RuntimeError,
        "expected target dtype to be Long or Byte, but got Float",
    ),
    (
        "nll_loss",
        [A(3, 4), A(3, kind="i")],
        {"weight": A(3)},
        RuntimeError,
        r"defined either for all 4 classes or no classes but got weight tensor of shape: \[3\]",
    ),
    (
        "nll_loss",
        [A(3, 4, 5), A(3, 6, kind="i")],
        {},
        RuntimeError,
        r"Expected target size \[3, 5\], got \[3, 6\]",
    ),
    (
        "nll_loss",
        [A(3, 4, 5, 6), A(3, 5, 7, kind="i")],
        {},
        RuntimeError,
        r"size mismatch \(got input: \[3, 4, 5, 6\] , target: \[3, 5, 7\]",
    ),
    (
        "nll_loss",
        [A(3, 4, 5, 6), A(3, 5, kind="i")],
        {},
        RuntimeError,
        "only batches of spatial targets supported",
    ),
    (
        "nll_loss",
        [A(3, 4, 5), A(3, 5, kind="i")],
        {"weight": A(3)},
        RuntimeError,
        "defined either for all or no classes",
    ),
    (
        "cross_entropy",
        [A(3, 4), A(3, 4)],
        {"ignore_index": 1},
        RuntimeError,
        "ignore_index is not supported for floating point target",
    ),
    (
        "cross_entropy",
        [A(3, 4), A(3, 4, kind="i")],
        {},
        RuntimeError,
        "Expected floating point type for target with class probabilities",
    ),
    (
        "cross_entropy",
        [A(3, 4), A(3, kind="i")],
        {"label_smoothing": 1.5},
        RuntimeError,
        r"label_smoothing must be between 0.0 and 1.0. Got: 1.5",
    ),
    (
        "cross_entropy",
        [A(3, 4), A(3, 4)],
        {"label_smoothing": 1.5},
        RuntimeError,
        "label_smoothing must be between",
    ),
    # printed as C++ prints a double: six significant digits
    *[("cross_entropy", [A(3, 4), A(3, kind="i")], {"label_smoothing": value}, RuntimeError,
       f"label_smoothing must be between 0.0 and 1.0. Got: {text}$")
      for value, text in ((2, "2"), (3.14159265, "3.14159"), (1e10, r"1e\+10"),
                          (np.float32(1.1), r"1\.1"))],
    (
        "cross_entropy",
        [A(3, 4), A(3, 4)],
        {"weight": A(3)},
        RuntimeError,
        r"cross_entropy: weight tensor should be defined either for all 4 classes",
    ),
    ("cross_entropy", [A(3, 4), A(2, kind="i")], {}, ValueError, r"batch_size \(3\)"),
    ("cross_entropy", [A(), A(3, kind="i")], {}, IndexError, "Dimension out of range"),
    ("cross_entropy", [A(3, 4), A(3)], {}, RuntimeError, "but got Float"),
    (
        "binary_cross_entropy",
        [A(3, 4, kind="p"), A(4, kind="p")],
        {},
        ValueError,
        r"Using a target size \(torch.Size\(\[4\]\)\) that is different to the input size "
        r"\(torch.Size\(\[3, 4\]\)\) is deprecated",
    ),
    (
        "binary_cross_entropy",
        [A(3, 4, kind="p"), A(3, 4, kind="p")],
        {"weight": A(3)},
        RuntimeError,
        "Attempting to broadcast a dimension of length 3 at -1!",
    ),
    (
        "binary_cross_entropy",
        [A(3, 4, kind="p"), A(3, 4, kind="p")],
        {"weight": A(2, 3, 4)},
        RuntimeError,
        r"output with shape \[3, 4\] doesn't match the broadcast shape \[2, 3, 4\]",
    ),
    (
        "binary_cross_entropy_with_logits",
        [A(3, 4), A(4)],
        {},
        ValueError,
        r"Target size \(torch.Size\(\[4\]\)\) must be the same as input size",
    ),
    (
        "binary_cross_entropy_with_logits",
        [A(3, 4), A(3, 4)],
        {"pos_weight": A(3)},
        RuntimeError,
        r"tensor a \(3\) must match the size of tensor b \(4\)",
    ),
    (
        "binary_cross_entropy_with_logits",
        [A(3, 4), A(3, 4)],
        {"weight": A(2, 3, 4)},
        RuntimeError,
        "doesn't match the broadcast shape",
    ),
    ("kl_div", [A(3, 4), A(3, 4)], {"reduction": "foo"}, ValueError, "foo is not a valid"),
]


@pytest.mark.parametrize("name, args, kwargs, exc, match", ERROR_CASES)
def test_errors_match_torch(name, args, kwargs, exc, match):
    rng = np.random.default_rng(0)
    arrays = [a.build(rng) for a in args]
    kw_arrays = {k: v.build(rng) if isinstance(v, A) else v for k, v in kwargs.items()}

    def to_torch(a):
        return torch.from_numpy(np.asarray(a, np.int64) if a.dtype.kind == "i" else a)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc, match=match):
            getattr(TF, name)(*map(to_torch, arrays), **_kwargs_for(kw_arrays, to_torch))
        with pytest.raises(exc, match=match):
            getattr(F, name)(*map(jnp.asarray, arrays), **_kwargs_for(kw_arrays, jnp.asarray))


def test_binary_cross_entropy_at_zero_and_one_matches_torch():
    # log is clamped at -100 and the gradient uses max(x (1 - x), 1e-12), as in torch.
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1e-30, 1e-7, 1 - 1e-7], np.float32)
    t = np.array([0.0, 1.0, 1.0, 0.0, 0.3, 0.0, 0.5, 0.5], np.float32)
    check_against_torch(
        lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
        lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"),
        [x, t],
        (0, 1),
    )


def test_all_ignored_mean_is_nan_like_torch():
    x = np.zeros((3, C), np.float32)
    t = np.full((3,), -100, np.int32)
    assert np.isnan(float(F.cross_entropy(x, t)))
    assert np.isnan(float(F.cross_entropy(x, t, label_smoothing=0.1, weight=W(C))))
    assert np.isnan(TF.cross_entropy(torch.from_numpy(x), torch.from_numpy(t).long()).item())


def test_out_of_range_target_raises_eagerly_and_is_nan_under_jit():
    # torch raises IndexError after reading the values; jnn reads them only when concrete.
    x, t = np.zeros((2, C), np.float32), np.array([0, C], np.int32)
    with pytest.raises(IndexError, match=r"Target 5 is out of bounds\."):
        F.cross_entropy(x, t, reduction="none")
    with pytest.raises(IndexError, match=r"Target 5 is out of bounds\."):
        F.nll_loss(x, jnp.asarray(t))  # a committed jax.Array is concrete too
    loss = jax.jit(lambda a, b: F.cross_entropy(a, b, reduction="none"))(x, t)
    assert float(loss[0]) == pytest.approx(math.log(C))
    assert np.isnan(float(loss[1]))  # inside a trace: no host sync, NaN marks the element


def test_target_beyond_int32_never_picks_another_class():
    # jnp.asarray would wrap 2**32 + 1 to class 1 (x64 is off); jnn reads the int64 first.
    target = np.array([0, 2**32 + 1], np.int64)
    with pytest.raises(IndexError, match=r"Target 4294967297 is out of bounds\."):
        F.cross_entropy(np.zeros((2, C), np.float32), target)
    with pytest.raises(IndexError, match=r"Target 4294967297 is out of bounds\."):
        TF.cross_entropy(torch.zeros(2, C), torch.from_numpy(target))


def test_bce_value_check_is_eager_only():
    bad = np.array([0.5, 1.5], np.float32)
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(bad, np.full(2, 0.5, np.float32))
    out = jax.jit(F.binary_cross_entropy)(bad, np.full(2, 0.5, np.float32))
    assert np.isnan(float(out))  # log(1 - 1.5): unchecked inside a trace, as documented


def test_cross_entropy_under_vmap_matches_the_batched_loss():
    (x, t), _ = make_inputs("index")
    per_sample = jax.jit(jax.vmap(lambda a, b: F.cross_entropy(a, b, reduction="sum")))(x, t)
    expected = TF.cross_entropy(
        torch.from_numpy(x), torch.from_numpy(t).long(), reduction="none"
    ).numpy()
    np.testing.assert_allclose(per_sample, expected, rtol=RTOL, atol=1e-6)


@given(
    kind=st.sampled_from(["index", "index_unbatched", "index_kd", "probs"]),
    seed=st.integers(0, 2**16),
    ignore_index=st.sampled_from([-100, 0, 3]),
    label_smoothing=st.sampled_from([0.0, 0.05, 0.5, 1.0]),
    use_weight=st.booleans(),
    reduction=st.sampled_from(["mean", "sum", "none"]),
)
def test_cross_entropy_property(kind, seed, ignore_index, label_smoothing, use_weight, reduction):
    # The shapes come from a small fixed set so that the examples share compiled programs.
    if kind == "probs":
        ignore_index = -100  # torch refuses ignore_index >= 0 with probability targets
    inputs, _ = make_inputs(kind, seed, ignore_index)
    kwargs = {
        "ignore_index": ignore_index,
        "label_smoothing": label_smoothing,
        "reduction": reduction,
        "weight": W(C) if use_weight else None,
    }
    check_against_torch(
        lambda *a: F.cross_entropy(*a, **_kwargs_for(kwargs, jnp.asarray)),
        lambda *a: TF.cross_entropy(*a, **_kwargs_for(kwargs, torch.from_numpy)),
        inputs,
        (0,),
        n_reduce=inputs[0].size,
        seed=seed,
    )


# -- the losses added with the full set: one direct F comparison (or more) each ---------
def _pm1(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


def _new_case_inputs(name, rng):
    """(inputs, grad_argnums) for each new functional loss, on small shared shapes."""
    x, y = _normal(rng, (4, C)), _normal(rng, (4, C))
    if name == "poisson_nll_loss":
        return [x, rng.uniform(0, 3, (4, C)).astype(np.float32)], (0, 1)
    if name == "gaussian_nll_loss":
        return [x, y, rng.uniform(0.5, 2, (4, 1)).astype(np.float32)], (0, 1, 2)
    if name in ("margin_ranking_loss", "cosine_embedding_loss"):
        t = _pm1(rng, (4,))
        return ([x[:, 0], y[:, 0], t] if name == "margin_ranking_loss" else [x, y, t]), (0, 1)
    if name in ("hinge_embedding_loss", "soft_margin_loss"):
        return [x, _pm1(rng, (4, C))], (0,)
    if name == "multilabel_soft_margin_loss":
        return [x, (rng.random((4, C)) < 0.5).astype(np.float32)], (0,)
    if name == "multilabel_margin_loss":
        return [x, np.array([[3, 0, -1, 1, 2], [1, 2, 3, 4, 0], [-1, 0, 0, 0, 0],
                             [4, 4, -1, 2, 2]], np.int32)], (0,)
    if name == "multi_margin_loss":
        return [x, rng.integers(0, C, (4,)).astype(np.int32)], (0,)
    return [x, y, _normal(rng, (4, C))], (0, 1, 2)  # the triplet losses


NEW_CASES = [
    ("poisson_nll_loss", {}),
    ("poisson_nll_loss", {"log_input": False, "full": True, "reduction": "none"}),
    ("gaussian_nll_loss", {"full": True}),
    ("gaussian_nll_loss", {"reduction": "none", "eps": 0.7}),
    ("margin_ranking_loss", {"margin": 0.3}),
    ("hinge_embedding_loss", {"margin": 0.5, "reduction": "none"}),
    ("soft_margin_loss", {}),
    ("multilabel_soft_margin_loss", {"weight": W(C)}),
    ("multilabel_soft_margin_loss", {"reduction": "none"}),
    ("multilabel_margin_loss", {"reduction": "none"}),
    ("multi_margin_loss", {}),
    ("multi_margin_loss", {"p": 2, "margin": 0.7, "weight": W(C), "reduction": "none"}),
    ("cosine_embedding_loss", {"margin": 0.2}),
    ("triplet_margin_loss", {}),
    ("triplet_margin_loss", {"p": 1, "swap": True, "reduction": "none"}),
    ("triplet_margin_loss", {"p": math.inf, "reduction": "sum"}),
    ("triplet_margin_with_distance_loss", {"swap": True}),
]


@pytest.mark.parametrize("name, kwargs", NEW_CASES)
def test_new_losses_match_torch(name, kwargs):
    inputs, grad_argnums = _new_case_inputs(name, np.random.default_rng(3))
    check_against_torch(
        lambda *a: getattr(F, name)(*a, **_kwargs_for(kwargs, jnp.asarray)),
        lambda *a: getattr(TF, name)(*a, **_kwargs_for(kwargs, torch.from_numpy)),
        inputs, grad_argnums, n_reduce=inputs[0].size * C)


def test_triplet_with_a_custom_distance_matches_torch():
    inputs, _ = _new_case_inputs("triplet_margin_loss", np.random.default_rng(4))
    check_against_torch(
        lambda a, p, n: F.triplet_margin_with_distance_loss(
            a, p, n, distance_function=lambda u, v: jnp.sum(jnp.abs(u - v), -1), margin=2.0),
        lambda a, p, n: TF.triplet_margin_with_distance_loss(
            a, p, n, distance_function=lambda u, v: (u - v).abs().sum(-1), margin=2.0),
        inputs, (0, 1, 2), n_reduce=20)


def test_gaussian_nll_float_var_matches_torch():
    inputs, _ = _new_case_inputs("gaussian_nll_loss", np.random.default_rng(5))
    got = F.gaussian_nll_loss(inputs[0], inputs[1], 0.5)
    want = TF.gaussian_nll_loss(torch.from_numpy(inputs[0]), torch.from_numpy(inputs[1]), 0.5)
    np.testing.assert_allclose(got, want.numpy(), rtol=RTOL)


# -- CTC: direct comparisons, jit with traced lengths ------------------------------------
def _ctc_inputs(rng):
    lp = _log_softmax(_normal(rng, (7, 3, C)), 2)
    targets = np.array([[1, 2, 2, 3], [4, 1, 0, 0], [2, 0, 0, 0]], np.int32)
    return lp, targets, np.array([7, 6, 4], np.int32), np.array([4, 2, 1], np.int32)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ctc_loss_matches_torch_under_jit(reduction):
    # Under jit the lengths are tracers: no value checks, and concatenated targets take
    # their total length as the padded width.  The result is the same.
    lp, targets, il, tl = _ctc_inputs(np.random.default_rng(6))
    flat = np.concatenate([targets[i, :n] for i, n in enumerate(tl)])
    for tg in (targets, flat):
        check_against_torch(
            lambda a, b, c, d: F.ctc_loss(a, b, c, d, reduction=reduction),
            lambda a, b, c, d: TF.ctc_loss(a, b, c, d, reduction=reduction),
            [lp, tg, il, tl], (0,), n_reduce=lp.size)


def test_ctc_gradient_is_torchs_convention_through_log_softmax():
    # torch's gradient w.r.t. log_probs sums to 0 over classes; through log_softmax it is
    # the true gradient w.r.t. the logits. Check the chain against torch end to end.
    rng = np.random.default_rng(7)
    logits, (_, targets, il, tl) = _normal(rng, (7, 3, C)), _ctc_inputs(rng)
    check_against_torch(
        lambda z, b, c, d: F.ctc_loss(jax.nn.log_softmax(z, 2), b, c, d, blank=0),
        lambda z, b, c, d: TF.ctc_loss(z.log_softmax(2), b, c, d, blank=0),
        [logits, targets, il, tl], (0,), n_reduce=logits.size)


# -- linear_cross_entropy: chunks, padding, memory --------------------------------------
@pytest.mark.parametrize("kwargs, chunk", [
    ({}, 3),
    ({"weight": W(C), "ignore_index": 2, "label_smoothing": 0.1, "reduction": "sum"}, 4),
    ({"reduction": "none"}, 8),
])
def test_linear_cross_entropy_matches_torch(kwargs, chunk):
    rng = np.random.default_rng(8)
    x, w, b = _normal(rng, (7, 6)), _normal(rng, (C, 6)), _normal(rng, (C,))
    t = rng.integers(0, C, (7,)).astype(np.int32)
    # 7 rows: the last chunk is padded
    options = LinearCrossEntropyOptions(batch_chunk_size=chunk, chunking_method=None)
    check_against_torch(
        lambda a, ww, bb, tt: F.linear_cross_entropy(
            a, ww, tt, linear_bias=bb, options=options, **_kwargs_for(kwargs, jnp.asarray)),
        lambda a, ww, bb, tt: TF.linear_cross_entropy(
            a, ww, tt, linear_bias=bb, **_kwargs_for(kwargs, torch.from_numpy)),
        [x, w, b, t], (0, 1, 2), n_reduce=x.size * C)


def test_linear_cross_entropy_never_materialises_the_logits():
    # value_and_grad over input and weight: XLA's temporary buffers stay well below the
    # (N, C) float32 logits (4 MiB here), because each chunk's logits are recomputed in
    # the backward pass (jax.checkpoint) instead of being stored for all chunks.
    n, d, c = 1024, 32, 1024
    x = jax.ShapeDtypeStruct((n, d), jnp.float32)
    w = jax.ShapeDtypeStruct((c, d), jnp.float32)
    t = jax.ShapeDtypeStruct((n,), jnp.int32)

    def loss(x, w, t):
        return F.linear_cross_entropy(x, w, t)

    compiled = jax.jit(jax.value_and_grad(loss, argnums=(0, 1))).lower(x, w, t).compile()
    logits_bytes = n * c * 4
    temp = compiled.memory_analysis().temp_size_in_bytes
    assert temp < logits_bytes / 4, f"temporaries {temp} B vs logits {logits_bytes} B"


# -- bfloat16: torch supports these losses on CPU ----------------------------------------
@pytest.mark.parametrize("name, kind", [("mse_loss", "pair"), ("cross_entropy", "index"),
                                        ("binary_cross_entropy_with_logits", "bce_logits"),
                                        ("l1_loss", "pair")])
def test_bfloat16_losses_match_torch(name, kind):
    inputs, _ = make_inputs(kind)
    t_args = [torch.from_numpy(a).bfloat16() if a.dtype.kind == "f" else
              torch.from_numpy(a.astype(np.int64)) for a in inputs]
    j_args = [jnp.asarray(a, jnp.bfloat16) if a.dtype.kind == "f" else jnp.asarray(a)
              for a in inputs]
    got, want = getattr(F, name)(*j_args), getattr(TF, name)(*t_args)
    assert got.dtype == jnp.bfloat16
    # bfloat16 keeps 8 significant bits: both round the same float32 maths differently
    np.testing.assert_allclose(np.float32(got), want.float().numpy(), rtol=2e-2, atol=1e-2)


# -- hypothesis: shapes, reductions and weights of the margin losses ----------------------
@given(
    name=st.sampled_from(["multi_margin_loss", "multilabel_soft_margin_loss",
                          "hinge_embedding_loss", "poisson_nll_loss"]),
    batched=st.booleans(),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    use_weight=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_margin_losses_property(name, batched, reduction, use_weight, seed):
    rng = np.random.default_rng(seed)
    shape = (4, C) if batched else (C,)
    x = _normal(rng, shape)
    kwargs = {"reduction": reduction}
    if name == "multi_margin_loss":
        target = rng.integers(0, C, shape[:-1]).astype(np.int32)
        kwargs["p"] = int(rng.integers(1, 3))
    elif name == "multilabel_soft_margin_loss":
        target = (rng.random(shape) < 0.5).astype(np.float32)
    elif name == "hinge_embedding_loss":
        target = _pm1(rng, shape)
    else:
        target = rng.uniform(0, 3, shape).astype(np.float32)
    if use_weight and name in ("multi_margin_loss", "multilabel_soft_margin_loss"):
        kwargs["weight"] = W(C)
    check_against_torch(
        lambda a, b: getattr(F, name)(a, b, **_kwargs_for(kwargs, jnp.asarray)),
        lambda a, b: getattr(TF, name)(a, b, **_kwargs_for(kwargs, torch.from_numpy)),
        [x, target], (0,), n_reduce=x.size, seed=seed)


# -- broadcast mismatches: torch's "tensor a" / "tensor b" in its operand order ------------
@pytest.mark.parametrize("fn, shapes", [
    ("hinge_embedding_loss", [(4,), (3,)]),       # where(target != 1, ...): a is the target
    ("hinge_embedding_loss", [(2, 4), (3, 1)]),
    ("margin_ranking_loss", [(3,), (3,), (4,)]),  # -target * (input1 - input2)
    ("margin_ranking_loss", [(4,), (3,), (3,)]),
    ("margin_ranking_loss", [(3,), (4,), (3,)]),
    ("margin_ranking_loss", [(2,), (3,), (4,)]),
    ("cosine_embedding_loss", [(3, 4), (3, 4), (2,)]),  # where(target == 1, ...)
    ("cosine_embedding_loss", [(3, 4), (2, 4), (3,)]),
])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_broadcast_mismatch_message_like_torch(fn, shapes, reduction):
    rng = np.random.default_rng(0)
    arrays = [_normal(rng, shape) for shape in shapes]
    assert_same_error(
        lambda: getattr(TF, fn)(*map(torch.from_numpy, arrays), reduction=reduction),
        lambda: getattr(F, fn)(*map(jnp.asarray, arrays), reduction=reduction))


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_loss_of_integers_matches_torch(name, reduction):
    # torch's weighted path is Python code: (x - y) of integers, times the float weight
    rng = np.random.default_rng(0)
    x, y = rng.integers(-3, 4, (2, 3)).astype(np.int32), rng.integers(-3, 4, (2, 3))
    y = y.astype(np.int32)
    w = rng.uniform(0.5, 2.0, (2, 3)).astype(np.float32)
    expected = getattr(TF, name)(torch.tensor(x, dtype=torch.int64),
                                 torch.tensor(y, dtype=torch.int64), weight=torch.tensor(w),
                                 reduction=reduction)
    got = getattr(F, name)(jnp.asarray(x), jnp.asarray(y), weight=jnp.asarray(w),
                           reduction=reduction)
    np.testing.assert_allclose(np.asarray(got), expected.numpy(), rtol=RTOL)


# -- hinges exactly at their kink: torch's clamp_min passes the whole gradient there, the
#    class-margin kernels (`if (z > 0)`) none; jnp.maximum would pass half ---------------
def _f32(*rows):
    return np.array(rows, np.float32)


TIE_CASES = [
    ("margin_ranking_loss", [np.zeros(4, np.float32), np.zeros(4, np.float32),
                             _f32(1, -1, 1, -1)], (0, 1), {}),
    ("margin_ranking_loss", [_f32(1.5, 2), _f32(1, 2.5), _f32(1, -1)], (0, 1), {"margin": 0.5}),
    ("hinge_embedding_loss", [_f32(1, 0.5, 2), _f32(-1, -1, 1)], (0,), {}),
    ("cosine_embedding_loss", [_f32([1, 0]), _f32([0, 1]), _f32(-1)], (0, 1), {"margin": 0.0}),
    ("triplet_margin_loss", [_f32([0, 0]), _f32([1, 0]), _f32([2, 0])], (0, 1, 2),
     {"margin": 1.0, "eps": 0.0}),
    ("multi_margin_loss", [_f32([1, 0, 0.5]), np.array([0])], (0,), {}),
    ("multi_margin_loss", [_f32([1, 0, 0.5]), np.array([0])], (0,), {"p": 2}),
    ("multi_margin_loss", [_f32([1, np.nan, 0.5]), np.array([0])], (0,), {}),  # NaN adds 0
    ("multilabel_margin_loss", [_f32([1, 0, 0.5]), np.array([[0, -1, 0]])], (0,), {}),
    ("multilabel_margin_loss", [_f32([1, np.nan, 0.5]), np.array([[0, -1, 0]])], (0,), {}),
]


@pytest.mark.parametrize("name, inputs, grad_argnums, kwargs", TIE_CASES)
def test_gradient_at_the_hinge_matches_torch(name, inputs, grad_argnums, kwargs):
    check_against_torch(lambda *a: getattr(F, name)(*a, **kwargs),
                        lambda *a: getattr(TF, name)(*a, **kwargs), inputs, grad_argnums)


def test_triplet_with_distance_at_the_hinge_matches_torch():
    a, p, n = _f32([0, 0]), _f32([1, 0]), _f32([2, 0])  # 3 + 1 - 4 = 0
    check_against_torch(
        lambda *t: F.triplet_margin_with_distance_loss(
            *t, distance_function=lambda u, v: jnp.sum((u - v) ** 2, -1), margin=3.0),
        lambda *t: TF.triplet_margin_with_distance_loss(
            *t, distance_function=lambda u, v: ((u - v) ** 2).sum(-1), margin=3.0),
        [a, p, n], (0, 1, 2))


# -- soft_margin_loss writes into an output of the input's shape and dtype ---------------
@pytest.mark.parametrize("shapes", [((4, 1), (4,)), ((4,), (2, 4)), ((1, 4), (3, 4)),
                                    ((), (4,))])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_soft_margin_target_that_grows_the_input_raises_like_torch(shapes, reduction):
    rng = np.random.default_rng(0)
    x, y = np.asarray(_normal(rng, shapes[0])), _pm1(rng, shapes[1])
    assert_same_error(
        lambda: TF.soft_margin_loss(torch.tensor(x), torch.tensor(y), reduction=reduction),
        lambda: F.soft_margin_loss(jnp.asarray(x), jnp.asarray(y), reduction=reduction))


@pytest.mark.parametrize("dtypes", [("int32", "float32"), ("int32", "float16"),
                                    ("int32", "int32")])
def test_soft_margin_of_integers_raises_like_torch(dtypes):
    x, y = np.ones((4, 1), dtypes[0]), np.ones((4, 1), dtypes[1])
    assert_same_error(lambda: TF.soft_margin_loss(torch.tensor(x), torch.tensor(y)),
                      lambda: F.soft_margin_loss(jnp.asarray(x), jnp.asarray(y)))


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_half_soft_margin_and_huber_keep_the_input_dtype_like_torch(reduction):
    # torch writes these in the input's dtype: f16 input with f32 target gives f16
    rng = np.random.default_rng(0)
    x, y = _normal(rng, (4, C)) * 2, _normal(rng, (4, C))
    for name in ("soft_margin_loss", "huber_loss"):
        want = getattr(TF, name)(torch.tensor(x).half(), torch.tensor(y), reduction=reduction)
        got = getattr(F, name)(jnp.asarray(x, jnp.float16), jnp.asarray(y), reduction=reduction)
        assert got.dtype == jnp.float16 and want.dtype == torch.float16
        np.testing.assert_allclose(np.float32(got), want.float().numpy(), rtol=2e-3, atol=1e-3)


# -- multilabel_soft_margin_loss sums over input.dim() - 1 --------------------------------
@pytest.mark.parametrize("shapes", [((4,), (2, 4)), ((2, 4), (3, 2, 4)), ((2, 1), (2, 3))])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_multilabel_soft_margin_with_a_larger_target_matches_torch(shapes, reduction):
    rng = np.random.default_rng(1)
    x, t = _normal(rng, shapes[0]), (rng.random(shapes[1]) < 0.5).astype(np.float32)
    check_against_torch(
        lambda a, b: F.multilabel_soft_margin_loss(a, b, reduction=reduction),
        lambda a, b: TF.multilabel_soft_margin_loss(a, b, reduction=reduction), [x, t], (0, 1))


def test_multilabel_soft_margin_of_a_scalar_raises_like_torch():
    assert_same_error(
        lambda: TF.multilabel_soft_margin_loss(torch.tensor(0.5), torch.tensor(1.0)),
        lambda: F.multilabel_soft_margin_loss(jnp.asarray(0.5), jnp.asarray(1.0)))


# -- a class weight must have the input's dtype on the class-index path -------------------
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss", "multi_margin_loss"])
@pytest.mark.parametrize("x_dtype, w_dtype", [("float32", "float16"), ("float32", "int32"),
                                              ("float16", "float32"),
                                              ("float32", "bfloat16")])
def test_class_weight_of_another_dtype_raises_like_torch(name, x_dtype, w_dtype):
    if name == "multi_margin_loss" and x_dtype == "float16":
        pytest.skip("torch has no float16 multi_margin_loss kernel on CPU")
    rng = np.random.default_rng(0)
    x, t = _normal(rng, (4, C)), rng.integers(0, C, (4,)).astype(np.int32)
    w = np.ones(C, np.float32)

    def cast(a, dtype):
        return torch.tensor(a).to(getattr(torch, dtype))

    assert_same_error(
        lambda: getattr(TF, name)(cast(x, x_dtype), torch.tensor(t, dtype=torch.int64),
                                  weight=cast(w, w_dtype)),
        lambda: getattr(F, name)(jnp.asarray(x, x_dtype), jnp.asarray(t),
                                 weight=jnp.asarray(w, w_dtype)))


def test_class_weight_dtype_is_checked_before_the_target_values_like_torch():
    x, t = np.zeros((4, C), np.float32), np.array([0, 1, 9, 1])
    assert_same_error(
        lambda: TF.cross_entropy(torch.tensor(x), torch.tensor(t), weight=torch.ones(C).half()),
        lambda: F.cross_entropy(jnp.asarray(x), jnp.asarray(t), weight=jnp.ones(C, jnp.float16)))


def test_class_probabilities_take_a_weight_of_another_dtype_like_torch():
    inputs, _ = make_inputs("probs")
    w = W(C).astype(np.float16)
    want = TF.cross_entropy(*map(torch.from_numpy, inputs), weight=torch.from_numpy(w))
    got = F.cross_entropy(*map(jnp.asarray, inputs), weight=jnp.asarray(w))
    np.testing.assert_allclose(np.float32(got), want.float().numpy(), rtol=1e-3)


# -- binary_cross_entropy_with_logits: torch's (1 - target).mul_(input) -------------------
@pytest.mark.parametrize("x_dtype, t_dtype", [("float32", "bool"), ("float16", "bool"),
                                              ("float16", "int32"), ("bfloat16", "int32")])
def test_bce_with_logits_of_a_bool_or_integer_target_raises_like_torch(x_dtype, t_dtype):
    x, t = np.zeros((2, 3), np.float32), np.eye(2, 3)
    assert_same_error(
        lambda: TF.binary_cross_entropy_with_logits(torch.tensor(x).to(getattr(torch, x_dtype)),
                                                    torch.tensor(t).to(getattr(torch, t_dtype))),
        lambda: F.binary_cross_entropy_with_logits(jnp.asarray(x, x_dtype),
                                                   jnp.asarray(t, t_dtype)))


_PRECISION = {"float16": 4e-3, "bfloat16": 3e-2, "float32": 1e-6, "float64": 1e-12}


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("weights", [(None, None), ("float32", None), (None, "float32"),
                                     ("float64", "float16")], ids=str)
@pytest.mark.parametrize("x_dtype, t_dtype", [
    ("float32", "bfloat16"), ("bfloat16", "float32"), ("float32", "float16"),
    ("float16", "bfloat16"), ("float64", "float32"), ("float32", "float64"),
    ("float16", "float16")])
def test_bce_with_logits_result_has_the_targets_dtype_like_torch(x_dtype, t_dtype, weights,
                                                                  reduction):
    """torch builds the loss in place on ``1 - target``: the target's dtype, whatever the
    input's, weight's or pos_weight's (float32 logits with a bfloat16 target give
    bfloat16; float64 with float32, float32)."""
    rng = np.random.default_rng(0)
    x, t = _normal(rng, (3, 4)) * 2, rng.random((3, 4))
    w_dtype, pw_dtype = weights
    w, pw = rng.random(4), rng.random(4) * 2
    with jax.enable_x64(True):
        def run(module, make):
            kwargs = {}
            if w_dtype:
                kwargs["weight"] = make(w, w_dtype)
            if pw_dtype:
                kwargs["pos_weight"] = make(pw, pw_dtype)
            return module.binary_cross_entropy_with_logits(
                make(x, x_dtype), make(t, t_dtype), reduction=reduction, **kwargs)

        want = run(TF, lambda a, d: torch.from_numpy(a).to(getattr(torch, d)))
        got = run(F, lambda a, d: jnp.asarray(a).astype(d))
        assert jnp.dtype(got.dtype).name == str(want.dtype).removeprefix("torch.")
        rtol = max(_PRECISION[d] for d in (x_dtype, t_dtype, w_dtype or t_dtype,
                                           pw_dtype or t_dtype))
        np.testing.assert_allclose(np.asarray(got, np.float64), want.double().numpy(),
                                   rtol=rtol, atol=rtol)


# -- ctc_loss: target length checks in a checks=True compiled step as eagerly --------------
_CTC_BAD_TARGETS = [  # (targets, target_lengths): padded too narrow, concatenated too short
    (np.array([[1, 2, 3], [2, 2, 0]]), np.array([4, 2])),
    (np.array([1, 2, 3, 2]), np.array([3, 2])),
]


@pytest.mark.parametrize("targets, target_lengths", _CTC_BAD_TARGETS)
def test_ctc_target_lengths_are_checked_in_a_checked_compiled_step(targets, target_lengths):
    lp = _log_softmax(_normal(np.random.default_rng(0), (6, 2, 4)), 2)
    lengths = np.array([6, 5])
    with pytest.raises(RuntimeError) as expected:
        TF.ctc_loss(torch.tensor(lp), torch.tensor(targets), torch.tensor(lengths),
                    torch.tensor(target_lengths))

    def ours(tg, tl):
        return F.ctc_loss(jnp.asarray(lp), tg, jnp.asarray(lengths), tl)

    for run in (ours, jnn.compile(ours, checks=True)):
        with pytest.raises(RuntimeError) as got:
            run(jnp.asarray(targets), jnp.asarray(target_lengths))
        assert str(got.value) == str(expected.value)


# torch's margin kernels are dispatched for float and double only (jnn computed in half)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name, target", [("multi_margin_loss", [0, 1]),
                                          ("multilabel_margin_loss", [[0, 1, -1], [1, -1, 0]])])
def test_half_margin_losses_raise_torchs_not_implemented(dtype, name, target):
    assert_same_error(
        lambda: getattr(TF, name)(torch.ones(2, 3, dtype=getattr(torch, dtype)),
                                  torch.tensor(target)),
        lambda: getattr(F, name)(jnp.ones((2, 3), dtype), jnp.asarray(target)))
