"""Embedding and EmbeddingBag against torch: lookups, bags, padding, renormalisation, errors.

Registry rows drive ``tests.oracle.check_layer`` (state_dict, repr, outputs, weight and
per-sample-weight gradients); ``err`` rows check torch's exception types and messages.
``max_norm``'s in-place renormalisation of the weight is followed eagerly, in a training
loop (``jnn.autograd`` + SGD, eager and compiled) and under a plain ``jax.jit``.
"""

import math
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
import jnn.nn as nn
import jnn.nn.functional as F
from tests.nn._same_error import assert_same_error
from tests.nn.registry import case, deviation, err
from tests.oracle import check_error, check_function, check_layer, const, integers, normal

IDX = integers(4, 5, high=10)
PAD_IDX = const([[0, 2, 2, 9], [2, 1, 5, 2]], np.int64)  # repeats, and hits rows 2 and 9
W = np.random.default_rng(7).standard_normal((10, 3)).astype(np.float32)
BAG2 = const([[1, 2, 1, 7], [4, 2, 2, 9], [0, 3, 8, 3]], np.int64)
FLAT = const([1, 2, 1, 5, 4, 3, 2, 9], np.int64)  # bag 0 holds index 1 twice
OFFS = const([0, 3, 3, 5], np.int64)  # bag 1 is empty
LAST = const([0, 3, 3, 5, 8], np.int64)
SHORT_LAST = const([0, 3, 6], np.int64)  # with include_last_offset: positions 6, 7 unused
PSW = normal(8)

EMBEDDING = [
    case("Embedding", 10, 3, inputs=[IDX]),
    case("Embedding", 10, 3, inputs=[integers(7, high=10)], id="Embedding 1-D input"),
    case("Embedding", 10, 3, inputs=[const(4, np.int64)], id="Embedding 0-D input"),
    case("Embedding", 10, 3, padding_idx=2, inputs=[PAD_IDX]),
    case("Embedding", 10, 3, padding_idx=-1, inputs=[PAD_IDX]),
    case("Embedding", 10, 3, max_norm=1.0, inputs=[PAD_IDX]),
    case("Embedding", 10, 3, max_norm=1.5, norm_type=1.0, inputs=[PAD_IDX]),
    case("Embedding", 10, 3, max_norm=0.5, norm_type=math.inf, inputs=[PAD_IDX]),
    case("Embedding", 10, 3, scale_grad_by_freq=True, inputs=[PAD_IDX]),
    case("Embedding", 10, 3, padding_idx=2, scale_grad_by_freq=True, max_norm=1.0,
         inputs=[PAD_IDX]),
    case("Embedding", 10, 3, _weight=W, _freeze=True, inputs=[IDX]),
    case("Embedding", 10, 3, _weight=W, inputs=[IDX], opts={"load": False},
         id="Embedding(_weight) as given"),
]

EMBEDDING_BAG = [
    *[case("EmbeddingBag", 10, 3, mode=mode, inputs=[BAG2]) for mode in ("mean", "sum", "max")],
    *[case("EmbeddingBag", 10, 3, mode=mode, inputs=[FLAT, OFFS], id=f"EmbeddingBag {mode} offsets")
      for mode in ("mean", "sum", "max")],
    case("EmbeddingBag", 10, 3, include_last_offset=True, inputs=[FLAT, LAST]),
    # forward only: torch's backward for the unused positions reads uninitialised memory.
    # In float64 (no fast path) torch's 'sum' also runs the last bag to the end of the input.
    case("EmbeddingBag", 10, 3, mode="sum", include_last_offset=True, inputs=[FLAT, SHORT_LAST],
         opts={"grad": False}, id="EmbeddingBag sum, last offset before the end",
         marks=deviation("torch's float64 last bag ignores include_last_offset's end",
                         check="float64")),
    # torch is inconsistent when include_last_offset's last offset stops short of the input:
    # 'sum' ends the last bag there, 'mean' sums to there but divides by the count to the
    # end of the input, 'max' runs to the end. jnn ends the bag at the offset in every mode.
    *[case("EmbeddingBag", 10, 3, mode=mode, include_last_offset=True,
           inputs=[FLAT, SHORT_LAST], id=f"EmbeddingBag {mode}, last offset before the end",
           marks=deviation("torch's last bag ignores include_last_offset's end in this mode"))
      for mode in ("mean", "max")],
    case("EmbeddingBag", 10, 3, mode="sum", inputs=[FLAT, OFFS, PSW],
         id="EmbeddingBag sum per_sample_weights"),
    case("EmbeddingBag", 10, 3, mode="sum", include_last_offset=True, inputs=[FLAT, LAST, PSW],
         id="EmbeddingBag sum per_sample_weights include_last_offset"),
    *[case("EmbeddingBag", 10, 3, mode=mode, padding_idx=2, inputs=[FLAT, OFFS],
           id=f"EmbeddingBag {mode} padding_idx") for mode in ("mean", "sum", "max")],
    case("EmbeddingBag", 10, 3, padding_idx=-1, inputs=[BAG2]),
    case("EmbeddingBag", 10, 3, max_norm=1.0, inputs=[FLAT, OFFS]),
    case("EmbeddingBag", 10, 3, mode="max", max_norm=1.0, norm_type=1.0, inputs=[BAG2]),
    # torch's CPU embedding_bag divides some rows' gradients by a wrong count (for FLAT, rows
    # 3 and 4, seen once, get half their gradient); jnn divides by the true frequency, as
    # torch's Embedding does (test_bag_scale_grad_by_freq_is_embeddings below).
    *[case("EmbeddingBag", 10, 3, mode=mode, scale_grad_by_freq=True, inputs=[FLAT, OFFS],
           id=f"EmbeddingBag {mode} scale_grad_by_freq",
           marks=deviation("torch's embedding_bag frequency counts are wrong on CPU"))
      for mode in ("sum", "mean")],
    case("EmbeddingBag", 10, 3, mode="sum", _weight=W, inputs=[BAG2], opts={"load": False},
         id="EmbeddingBag(_weight) as given"),
]


@pytest.mark.parametrize("name, args, kwargs, inputs, opts", EMBEDDING + EMBEDDING_BAG)
def test_sparse_matches_torch(name, args, kwargs, inputs, opts):
    check_layer(name, args, kwargs, inputs, **opts)


ONE_BAG = const([0], np.int64)
ERRORS = [
    err("Embedding", (10, 3), {"padding_idx": 10}, AssertionError,
        "Padding_idx must be within num_embeddings"),
    err("Embedding", (10, 3), {"padding_idx": -11}, AssertionError,
        "Padding_idx must be within num_embeddings"),
    err("Embedding", (10, 3), {"_weight": np.zeros((3, 3), np.float32)}, AssertionError,
        "Shape of weight does not match num_embeddings and embedding_dim"),
    err("Embedding", (10, 3), {}, IndexError, "index out of range in self",
        [const([1, 10], np.int64)]),
    err("Embedding", (10, 3), {}, IndexError, "index out of range in self",
        [const([-1], np.int64)], id="Embedding negative index"),
    err("Embedding", (10, 3), {}, RuntimeError,
        r"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
        r"Long, Int; but got torch\.FloatTensor instead \(while checking arguments for "
        r"embedding\)", [(3,)]),
    *[err("Embedding", (10, 3), {}, RuntimeError,  # torch.<Name>Tensor or CPU<Name>Type
          "Expected tensor for argument #1 'indices' to have one of the following scalar "
          f"types: Long, Int; but got {name} instead \\(while checking arguments for "
          "embedding\\)", [const([0, 1], dtype)], id=f"Embedding {np.dtype(dtype).name} indices")
      for dtype, name in [(np.bool_, "CPUBoolType"), (np.int16, r"torch\.ShortTensor"),
                          (np.uint8, r"torch\.ByteTensor"),
                          (np.complex64, "CPUComplexFloatType")]],
    err("Embedding", (0, 3), {"padding_idx": 0}, IndexError,
        "index 0 is out of bounds for dimension 0 with size 0$"),
    err("EmbeddingBag", (0, 3), {"padding_idx": 0}, IndexError,
        "index 0 is out of bounds for dimension 0 with size 0$"),
    err("Embedding", (0, 3), {"padding_idx": -1}, AssertionError,
        "Padding_idx must be within num_embeddings"),
    err("EmbeddingBag", (10, 3), {"padding_idx": 10}, AssertionError,
        "padding_idx must be within num_embeddings"),
    err("EmbeddingBag", (10, 3), {}, ValueError, "offsets has to be a 1D Tensor but got None",
        [FLAT]),
    err("EmbeddingBag", (10, 3), {}, ValueError,
        "if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
        "fixed length sequences", [BAG2, ONE_BAG]),
    err("EmbeddingBag", (10, 3), {}, ValueError,
        "input has to be 1D or 2D Tensor, but got Tensor of dimension 3",
        [const(np.zeros((1, 2, 2)), np.int64)]),
    err("EmbeddingBag", (10, 3), {}, ValueError, "offsets has to be a 1D Tensor$",
        [FLAT, const([[0]], np.int64)]),
    err("EmbeddingBag", (10, 3), {}, RuntimeError,
        r"offsets\[0\] has to be 0, i\.e\., the first sequence in the mini-batch has to start "
        "from position 0. However, got 1", [FLAT, const([1, 3], np.int64)]),
    err("EmbeddingBag", (10, 3), {}, RuntimeError,
        r"offsets\[-1\] can not be greater than input's length 8 but got offsets\[-1\] of 9",
        [FLAT, const([0, 9], np.int64)]),
    err("EmbeddingBag", (10, 3), {}, NotImplementedError,
        r"embedding_bag: per_sample_weights was not None\. per_sample_weights is only supported "
        r"for mode='sum' \(got mode='mean'\)", [FLAT, OFFS, PSW]),
    err("EmbeddingBag", (10, 3), {"mode": "sum"}, ValueError,
        r"embedding_bag: If per_sample_weights \(torch\.Size\(\[3\]\)\) is not None, then it "
        r"must have the same shape as the input \(torch\.Size\(\[8\]\)\)",
        [FLAT, OFFS, normal(3)]),
    err("EmbeddingBag", (10, 3), {"mode": "foo"}, ValueError,
        "mode has to be one of sum, mean or max", [FLAT, OFFS]),
    err("EmbeddingBag", (10, 3), {"mode": "max", "scale_grad_by_freq": True}, ValueError,
        "max mode does not support scaling the gradient by the frequency", [FLAT, OFFS]),
    err("EmbeddingBag", (10, 3), {}, RuntimeError,
        r"Index 1 of input takes value 12 which is not in the valid range \[0, 10\)",
        [const([1, 12], np.int64), ONE_BAG]),
    err("EmbeddingBag", (10, 3), {}, RuntimeError,
        "Expected tensor for argument #1 'indices' to have one of the following scalar types",
        [normal(8), OFFS]),
]


@pytest.mark.parametrize("name, args, kwargs, exc, match, inputs", ERRORS)
def test_sparse_error_matches_torch(name, args, kwargs, exc, match, inputs):
    check_error(name, args, kwargs, exc, match, inputs=inputs)


@pytest.mark.parametrize("make", [
    lambda: nn.Embedding(10, 3, sparse=True),
    lambda: nn.EmbeddingBag(10, 3, sparse=True),
    lambda: nn.Embedding.from_pretrained(jnp.asarray(W), sparse=True),
    lambda: F.embedding(jnp.array([1]), jnp.asarray(W), sparse=True),
    lambda: F.embedding_bag(jnp.array([1]), jnp.asarray(W), jnp.array([0]), sparse=True),
])
def test_sparse_gradients_are_refused_with_an_explanation(make):
    with pytest.raises(NotImplementedError, match="dense gradients"):
        make()


# -- construction ----------------------------------------------------------------------
def test_padding_row_starts_at_zero_and_rest_is_standard_normal():
    jnn.manual_seed(0)
    layer = nn.Embedding(2000, 8, padding_idx=3)
    weight = np.asarray(layer.weight)
    np.testing.assert_array_equal(weight[3], np.zeros(8))
    rest = np.delete(weight, 3, axis=0).ravel()
    assert abs(rest.mean()) < 5 / math.sqrt(rest.size)  # N(0, 1), as torch's init.normal_
    assert abs(rest.std() - 1) < 5 / math.sqrt(rest.size)
    layer.weight.data = jnp.ones((2000, 8))
    layer.reset_parameters()
    np.testing.assert_array_equal(np.asarray(layer.weight)[3], np.zeros(8))


@pytest.mark.parametrize("cls", ["Embedding", "EmbeddingBag"])
def test_from_pretrained_like_torch(cls):
    t_layer = getattr(torch.nn, cls).from_pretrained(torch.from_numpy(W), padding_idx=2)
    j_layer = getattr(nn, cls).from_pretrained(jnp.asarray(W), padding_idx=2)
    assert repr(j_layer) == repr(t_layer)
    assert not j_layer.weight.requires_grad and not t_layer.weight.requires_grad
    np.testing.assert_array_equal(np.asarray(j_layer.weight), W)  # the padding row is kept
    unfrozen = getattr(nn, cls).from_pretrained(jnp.asarray(W), freeze=False)
    assert unfrozen.weight.requires_grad
    for lib in (torch, jnn):
        with pytest.raises(AssertionError, match="Embeddings parameter is expected to be 2-dim"):
            getattr(lib.nn, cls).from_pretrained(np.zeros(3, np.float32) if lib is jnn
                                                 else torch.zeros(3))


# -- max_norm: the weight is renormalised where jnn can write it ---------------------------
RENORM_IDX = np.array([[0, 2, 2, 9], [2, 1, 5, 2]], np.int64)


def _renorm_twins(**kwargs):
    torch.manual_seed(0)
    t_layer = torch.nn.Embedding(10, 3, max_norm=1.0, **kwargs)
    j_layer = nn.Embedding(10, 3, max_norm=1.0, **kwargs)
    j_layer.load_state_dict({k: v.numpy() for k, v in t_layer.state_dict().items()})
    return t_layer, j_layer


def test_max_norm_renormalises_the_weight_eagerly():
    t_layer, j_layer = _renorm_twins()
    before = np.asarray(j_layer.weight)
    t_layer(torch.from_numpy(RENORM_IDX))
    j_layer(jnp.asarray(RENORM_IDX))
    after = np.asarray(j_layer.weight)
    np.testing.assert_allclose(after, t_layer.weight.detach().numpy(), rtol=1e-6, atol=1e-7)
    untouched = [3, 4, 6, 7, 8]  # rows the input never referred to
    np.testing.assert_array_equal(after[untouched], before[untouched])
    assert not np.allclose(after[[0, 1, 2, 5, 9]], before[[0, 1, 2, 5, 9]])


@pytest.mark.parametrize("mode", ["backward", "compiled"])
def test_max_norm_in_a_training_loop(mode):
    t_layer, j_layer = _renorm_twins(padding_idx=2)
    t_opt = torch.optim.SGD(t_layer.parameters(), lr=0.5)
    j_opt = jnn.optim.SGD(j_layer.parameters(), lr=0.5)
    target = np.linspace(-2, 2, 24).reshape(2, 4, 3).astype(np.float32)

    def j_step(idx):
        j_opt.zero_grad()
        loss = jnn.autograd.backward(lambda: jnp.sum((j_layer(idx) - target) ** 2))
        j_opt.step()
        return loss

    run = jnn.compile(j_step) if mode == "compiled" else j_step
    for step in range(3):
        t_opt.zero_grad()
        t_loss = ((t_layer(torch.from_numpy(RENORM_IDX)) - torch.from_numpy(target)) ** 2).sum()
        t_loss.backward()
        t_opt.step()
        np.testing.assert_allclose(float(run(jnp.asarray(RENORM_IDX))), t_loss.item(), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(j_layer.weight), t_layer.weight.detach().numpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=f"step {step}")


def test_max_norm_under_plain_jit_renormalises_output_and_leaves_the_weight():
    t_layer, j_layer = _renorm_twins()
    before = np.asarray(j_layer.weight)
    out = jax.jit(lambda idx: j_layer(idx))(jnp.asarray(RENORM_IDX))
    expected = t_layer(torch.from_numpy(RENORM_IDX)).detach().numpy()
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(np.asarray(j_layer.weight), before)
    assert not isinstance(j_layer.weight.data, jax.core.Tracer)


# -- the functional forms --------------------------------------------------------------
def test_functional_embedding_and_bag_match_torch():
    idx = RENORM_IDX
    check_function(lambda i, w: F.embedding(i, w, padding_idx=1, scale_grad_by_freq=True),
                   lambda i, w: TF.embedding(i, w, padding_idx=1, scale_grad_by_freq=True),
                   [idx, W], grad_argnums=(1,))
    flat, offsets = np.array([1, 2, 1, 5, 4, 3, 2, 9]), np.array([0, 3, 3, 5])
    for mode in ("sum", "mean", "max"):
        check_function(lambda i, w, o, m=mode: F.embedding_bag(i, w, o, mode=m, padding_idx=2),
                       lambda i, w, o, m=mode: TF.embedding_bag(i, w, o, mode=m, padding_idx=2),
                       [flat, W, offsets], grad_argnums=(1,), n_reduce=3)
    t_weight = torch.from_numpy(W.copy())
    TF.embedding(torch.from_numpy(idx), t_weight, max_norm=1.0)
    np.testing.assert_allclose(np.asarray(F.embedding_renorm(W, idx, 1.0)), t_weight.numpy(),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(np.asarray(F.embedding(idx, W, max_norm=1.0)) != 0, True)


def test_functional_embedding_under_jit_and_vmap():
    w = jnp.asarray(W)
    batched = jax.vmap(lambda i: F.embedding(i, w))(jnp.asarray(RENORM_IDX))
    np.testing.assert_array_equal(batched, np.asarray(W)[RENORM_IDX])
    # out-of-range indices cannot raise under jit: they read NaN rows, never another row
    out = jax.jit(lambda i: F.embedding(i, w))(jnp.array([1, 10, -1]))
    np.testing.assert_array_equal(np.asarray(out[0]), W[1])
    assert bool(jnp.all(jnp.isnan(out[1:])))
    bags = jax.jit(lambda i, o: F.embedding_bag(i, w, o, mode="max"))(
        jnp.array([1, 2, 1, 5]), jnp.array([0, 2, 2]))
    np.testing.assert_allclose(bags, np.stack([W[[1, 2]].max(0), np.zeros(3), W[[1, 5]].max(0)]),
                               rtol=1e-6)


# -- configurations --------------------------------------------------------------------
@given(mode=st.sampled_from(["sum", "mean", "max"]), include_last=st.booleans(),
       offsets=st.sampled_from([(0, 3, 3, 5), (0, 0, 4, 8), (0, 1, 2, 7)]),
       padding_idx=st.sampled_from([None, 2, -1]))
def test_embedding_bag_configurations(mode, include_last, offsets, padding_idx):
    if include_last:  # the last offset is the input's end (torch is inconsistent otherwise)
        offsets = (*offsets, 8)
    check_layer("EmbeddingBag", (10, 3), {"mode": mode, "include_last_offset": include_last,
                                         "padding_idx": padding_idx},
                [FLAT, const(offsets, np.int64)], modes=("train",))


@given(shape=st.sampled_from([(4, 5), (7,), (2, 4)]), padding_idx=st.sampled_from([None, 0, -3]),
       scale=st.booleans(), max_norm=st.sampled_from([None, 1.0]))
def test_embedding_configurations(shape, padding_idx, scale, max_norm):
    check_layer("Embedding", (10, 3), {"padding_idx": padding_idx, "scale_grad_by_freq": scale,
                                      "max_norm": max_norm},
                [integers(*shape, high=10)], modes=("train",))


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_bag_scale_grad_by_freq_is_embeddings(mode):
    """A bag's frequency-scaled gradient equals torch's Embedding(scale_grad_by_freq) one."""
    flat, offsets = np.array([1, 2, 1, 5, 4, 3, 2, 9]), np.array([0, 3, 3, 5])
    bags = [(0, 3), (3, 3), (3, 5), (5, 8)]

    def torch_bags(i, w, o):
        rows = TF.embedding(i, w, scale_grad_by_freq=True)
        reduce = torch.sum if mode == "sum" else torch.mean
        return torch.stack([reduce(rows[a:b], 0) if b > a else torch.zeros(3) for a, b in bags])

    check_function(lambda i, w, o: F.embedding_bag(i, w, o, mode=mode, scale_grad_by_freq=True),
                   torch_bags, [flat, W, offsets], grad_argnums=(1,), n_reduce=3)


# -- an empty table, and max_norm's row selection: torch's exception and message -----------
@pytest.mark.parametrize("max_norm", [None, 1.0])
def test_lookup_in_an_empty_table_raises_like_torch(max_norm):
    # "index_select(): self indexing axis dim should be positive"; with max_norm torch's
    # renorm selects the row first: "select(): index 0 out of range for tensor of size [0, 3]"
    idx = np.array([0], np.int64)
    assert_same_error(lambda: torch.nn.Embedding(0, 3, max_norm=max_norm)(torch.from_numpy(idx)),
                      lambda: nn.Embedding(0, 3, max_norm=max_norm)(jnp.asarray(idx)))
    assert_same_error(lambda: TF.embedding(torch.from_numpy(idx), torch.ones(0, 3)),
                      lambda: F.embedding(jnp.asarray(idx), jnp.ones((0, 3))))


def test_empty_lookup_in_an_empty_table_like_torch():
    expected = torch.nn.Embedding(0, 3)(torch.zeros(0, dtype=torch.long))
    assert nn.Embedding(0, 3)(jnp.zeros(0, jnp.int32)).shape == tuple(expected.shape)


@pytest.mark.parametrize("indices", [[7], [9, 7], [7, 9, -8], [-1, 7], [2, -1], [[7], [6]],
                                     [-6], [5]])
def test_max_norm_index_out_of_range_raises_like_torch(indices):
    # the smallest index outside [-5, 5) is renorm's select() error; -1 passes it and is
    # the lookup's "index out of range in self"
    idx = np.array(indices, np.int64)
    assert_same_error(lambda: torch.nn.Embedding(5, 3, max_norm=1.0)(torch.from_numpy(idx)),
                      lambda: nn.Embedding(5, 3, max_norm=1.0)(jnp.asarray(idx)))


@pytest.mark.parametrize("mode", ["sum", "mean"])  # (torch 2.13 crashes on "max" here)
def test_embedding_bag_with_only_the_last_offset_has_no_bag_like_torch(mode):
    torch.manual_seed(0)
    tbag = torch.nn.EmbeddingBag(10, 3, mode=mode, include_last_offset=True)
    jbag = nn.EmbeddingBag(10, 3, mode=mode, include_last_offset=True)
    jbag.load_state_dict({k: v.numpy() for k, v in tbag.state_dict().items()})
    expected = tbag(torch.tensor([1, 2]), torch.tensor([0]))
    got = jbag(jnp.asarray([1, 2]), jnp.asarray([0]))
    assert got.shape == tuple(expected.shape) == (0, 3)


# -- torch's argument order: embedding_renorm_ (max_norm) checks before the lookup's -----
_FLOAT_IDX = np.array([1.0, 2.0], np.float32)
_ONES = np.ones((5, 3), np.float32)


@pytest.mark.parametrize("torch_call, jnn_call", [
    (lambda: torch.nn.Embedding(5, 3, max_norm=1.0)(torch.tensor(_FLOAT_IDX)),
     lambda: nn.Embedding(5, 3, max_norm=1.0)(jnp.asarray(_FLOAT_IDX))),
    (lambda: TF.embedding(torch.tensor(_FLOAT_IDX), torch.ones(5, 3, 2), max_norm=1.0),
     lambda: F.embedding(jnp.asarray(_FLOAT_IDX), jnp.ones((5, 3, 2)), max_norm=1.0)),
    (lambda: TF.embedding_bag(torch.tensor(_FLOAT_IDX), torch.tensor(_ONES), torch.tensor([0]),
                              max_norm=1.0),
     lambda: F.embedding_bag(jnp.asarray(_FLOAT_IDX), jnp.asarray(_ONES), jnp.array([0]),
                             max_norm=1.0)),
    (lambda: TF.embedding_bag(torch.tensor([[1.0, 2.0]]), torch.tensor(_ONES), max_norm=1.0),
     lambda: F.embedding_bag(jnp.array([[1.0, 2.0]]), jnp.asarray(_ONES), max_norm=1.0)),
    (lambda: TF.embedding_bag(torch.tensor([1, 7]), torch.tensor(_ONES), torch.tensor([0]),
                              max_norm=1.0),
     lambda: F.embedding_bag(jnp.array([1, 7]), jnp.asarray(_ONES), jnp.array([0]),
                             max_norm=1.0)),
    # the layout's ValueError comes before the index dtype
    (lambda: TF.embedding_bag(torch.tensor(_FLOAT_IDX), torch.tensor(_ONES)),
     lambda: F.embedding_bag(jnp.asarray(_FLOAT_IDX), jnp.asarray(_ONES))),
    # torch prints offsets[0] as a 0-d tensor, its type (int32 here) on a second line
    (lambda: TF.embedding_bag(torch.tensor([0, 1, 2], dtype=torch.int32), torch.tensor(_ONES),
                              torch.tensor([1, 2], dtype=torch.int32)),
     lambda: F.embedding_bag(jnp.array([0, 1, 2]), jnp.asarray(_ONES), jnp.array([1, 2]))),
], ids=["Embedding", "embedding 3-D weight", "bag", "bag 2-D", "bag out of range",
        "bag no offsets", "bag offsets[0]"])
def test_embedding_errors_in_torchs_order(torch_call, jnn_call):
    assert_same_error(torch_call, jnn_call)


@pytest.mark.parametrize("offsets", [[1, 2], [0, 5]])
def test_bag_offsets_are_checked_in_a_checked_compiled_step(offsets):
    idx, offs = np.array([0, 1, 2], np.int32), np.array(offsets, np.int32)
    with pytest.raises(RuntimeError) as expected:
        TF.embedding_bag(torch.tensor(idx), torch.tensor(_ONES), torch.tensor(offs))

    def ours(i, o):
        return F.embedding_bag(i, jnp.asarray(_ONES), o)

    for run in (ours, jnn.compile(ours, checks=True)):
        with pytest.raises(RuntimeError) as got:
            run(jnp.asarray(idx), jnp.asarray(offs))
        assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("dtype", ["int32", "bool"])
def test_lookup_in_a_non_float_table_gives_torchs_rows_without_a_warning(dtype):
    # the fill that marks an out-of-range row under a trace is NaN for float tables only
    idx, weight = np.array([0, 3, 1]), np.arange(15).reshape(5, 3).astype(dtype)
    want = TF.embedding(torch.tensor(idx), torch.tensor(weight))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = F.embedding(jnp.asarray(idx), jnp.asarray(weight))
    np.testing.assert_array_equal(np.asarray(got), want.numpy())


def test_max_norm_on_an_integer_table_raises_torchs_norm_error():
    """torch renormalises the looked-up rows with norm(), which refuses integers."""
    assert_same_error(
        lambda: torch.nn.functional.embedding(torch.tensor([0, 1]),
                                              torch.ones(5, 3, dtype=torch.int32), max_norm=1.0),
        lambda: F.embedding(jnp.asarray([0, 1]), jnp.ones((5, 3), jnp.int32), max_norm=1.0))
