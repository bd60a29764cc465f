"""Distance layers and functions against torch: PairwiseDistance, CosineSimilarity,
pairwise_distance, cosine_similarity, pdist, normalize (values, gradients, errors)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import jnn.nn.functional as F
from tests.nn._same_error import assert_same_error
from tests.nn.registry import case, err
from tests.oracle import check_error, check_function, check_layer, const, integers, normal

X = (4, 3)
# rows 1-3: a zero row and inf-norm ties (|1| == |-1|), where torch picks subgradients
SPECIAL = const([[0.3, -1.2, 2.0], [0.0, 0.0, 0.0], [1.0, -1.0, 0.5], [1.0, 1.0, 0.5]],
                np.float32)
TINY = const(np.full(X, 1e-9, np.float32))  # norms below CosineSimilarity's eps

LAYERS = [
    case("PairwiseDistance", inputs=[X, X]),
    case("PairwiseDistance", p=1.0, inputs=[X, X]),
    case("PairwiseDistance", 3.0, 1e-3, True, inputs=[X, X]),
    case("PairwiseDistance", p=math.inf, inputs=[SPECIAL, X]),
    case("PairwiseDistance", p=0.5, inputs=[SPECIAL, X]),
    case("PairwiseDistance", keepdim=True, inputs=[(3,), (3,)], id="PairwiseDistance 1-D"),
    case("PairwiseDistance", inputs=[X, (3,)], id="PairwiseDistance broadcast (D,)"),
    case("PairwiseDistance", inputs=[(1, 3), X], id="PairwiseDistance broadcast (1, D)"),
    case("PairwiseDistance", inputs=[(2, 4, 3), X], id="PairwiseDistance 3-D"),
    case("PairwiseDistance", inputs=[SPECIAL, SPECIAL], id="PairwiseDistance equal inputs"),
    case("PairwiseDistance", inputs=[integers(*X, high=5), integers(*X, high=5)],
         id="PairwiseDistance integer inputs"),
    case("CosineSimilarity", inputs=[X, X]),
    case("CosineSimilarity", 0, 1e-3, inputs=[X, X]),
    case("CosineSimilarity", dim=-1, inputs=[X, (3,)], id="CosineSimilarity broadcast"),
    case("CosineSimilarity", dim=0, inputs=[(3,), (3,)], id="CosineSimilarity 1-D"),
    case("CosineSimilarity", inputs=[(2, 3, 2), (2, 3, 2)], id="CosineSimilarity 3-D"),
    case("CosineSimilarity", inputs=[SPECIAL, X], id="CosineSimilarity zero row"),
    case("CosineSimilarity", inputs=[TINY, X], id="CosineSimilarity norm below eps"),
    case("CosineSimilarity", inputs=[const(np.full(X, 1e4, np.float32)), X],
         id="CosineSimilarity huge inputs"),
]


@pytest.mark.parametrize("name, args, kwargs, inputs, opts", LAYERS)
def test_distance_layer_matches_torch(name, args, kwargs, inputs, opts):
    check_layer(name, args, kwargs, inputs, **opts)


ERRORS = [
    err("PairwiseDistance", (), {}, RuntimeError,
        r"The size of tensor a \(2\) must match the size of tensor b \(3\) at non-singleton "
        "dimension 1", [(4, 2), X]),
    err("CosineSimilarity", (), {}, RuntimeError, r"The size of tensor a \(2\) must match",
        [(4, 2), X]),
    err("CosineSimilarity", (), {}, IndexError,
        r"Dimension out of range \(expected to be in range of \[-1, 0\], but got 1\)",
        [(3,), (3,)]),
    err("CosineSimilarity", (), {}, RuntimeError,
        "expected common dtype to be floating point, yet common dtype is",
        [integers(*X, high=5), integers(*X, high=5)]),
]


@pytest.mark.parametrize("name, args, kwargs, exc, match, inputs", ERRORS)
def test_distance_error_matches_torch(name, args, kwargs, exc, match, inputs):
    check_error(name, args, kwargs, exc, match, inputs=inputs)


# -- the functions ----------------------------------------------------------------------
def _special(rows=5):
    x = np.random.default_rng(0).standard_normal((rows, 3)).astype(np.float32)
    x[1] = 0.0  # a zero row: zero distances and norms
    x[2], x[3] = [1.0, -1.0, 0.5], [1.0, 1.0, 0.5]  # inf-norm ties
    return x


ORDERS = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, math.inf]


@pytest.mark.parametrize("p", ORDERS[1:] + [-1.0, -math.inf])
def test_pairwise_distance_matches_torch(p):
    x, y = _special(), np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    check_function(lambda a, b: F.pairwise_distance(a, b, p),
                   lambda a, b: TF.pairwise_distance(a, b, p), [x, y], grad_argnums=(0, 1))


def test_pairwise_distance_p0_counts_and_has_zero_gradient():
    # torch's p=0 "norm" counts non-zeros; its gradient is zero (or absent)
    x, y = _special(), np.zeros((5, 3), np.float32)
    expected = TF.pairwise_distance(torch.from_numpy(x), torch.from_numpy(y), 0.0, eps=0.0)
    got, grad = jax.value_and_grad(lambda a: F.pairwise_distance(a, y, 0.0, eps=0.0).sum())(x)
    np.testing.assert_array_equal(F.pairwise_distance(x, y, 0.0, eps=0.0), expected.numpy())
    assert float(got) == float(expected.sum()) and not np.asarray(grad).any()
    t_x = torch.from_numpy(x).requires_grad_(True)
    out = TF.pairwise_distance(t_x, torch.from_numpy(y), 0.0, eps=0.0).sum()
    (t_grad,) = torch.autograd.grad(out, [t_x], allow_unused=True)
    assert t_grad is None or not t_grad.any()


@pytest.mark.parametrize("p", ORDERS)
def test_pdist_matches_torch(p):
    # repeated rows give zero distances; rows 2-3 give inf-norm ties, where pdist's own
    # backward gives every tied entry the full gradient, unlike torch.norm's
    check_function(lambda a: F.pdist(a, p), lambda a: TF.pdist(a, p),
                   [np.concatenate([_special(), _special()[:3]])])


@pytest.mark.parametrize("p", [0.5, 1.0, 2.0, 3.0, math.inf])
def test_normalize_matches_torch(p):
    check_function(lambda a: F.normalize(a, p), lambda a: TF.normalize(a, p), [_special()])


# torch.norm's readings of p and dim (jnn took p as a float and dim as one int: 'fro',
# None, a tuple of dims and the nuclear norm failed inside jnn)
@pytest.mark.parametrize("p, dim", [("fro", 1), ("fro", (0, 2)), (None, 1), (2.0, (0, 1)),
                                    (1.0, [1, 2]), (3.0, ()), (2.0, None), ("nuc", (0, 2)),
                                    (math.inf, (0, 2)), ("fro", None)])
def test_normalize_takes_torch_norms_orders_and_dims(p, dim):
    x = np.random.default_rng(3).standard_normal((2, 3, 4)).astype(np.float32)
    check_function(lambda a: F.normalize(a, p, dim), lambda a: TF.normalize(a, p, dim), [x])


@pytest.mark.parametrize("p, dim", [("x", 1), ("nuc", 1), ("nuc", None), ("fro", (0, 1, 2)),
                                    ("nuc", (1, -2)), (2.0, (1, 1)), (2.0, (0, 5)), ([2], 5),
                                    (2.0, 1.0), ("x", 5)])
def test_normalize_bad_orders_and_dims_raise_as_torch(p, dim):
    x = np.ones((2, 3, 4), np.float32)
    assert_same_error(lambda: TF.normalize(torch.from_numpy(x), p, dim),
                      lambda: F.normalize(jnp.asarray(x), p, dim))


def test_normalize_and_cosine_options_match_torch():
    x = np.random.default_rng(2).standard_normal((2, 3, 2)).astype(np.float32) * 1e-3
    check_function(lambda a: F.normalize(a, dim=0, eps=1e-2),
                   lambda a: TF.normalize(a, dim=0, eps=1e-2), [x])
    check_function(lambda a, b: F.cosine_similarity(a, b, dim=-1, eps=1e-2),
                   lambda a, b: TF.cosine_similarity(a, b, dim=-1, eps=1e-2),
                   [x, x[:1] * 2 + 1e-3], grad_argnums=(0, 1))


def test_cosine_similarity_gradient_ignores_the_clamp_like_torch():
    # torch clamps the norms under no_grad: the gradient still flows through the norm
    x = np.array([[1e-9, 2e-9, 0.0]], np.float32)
    y = np.array([[1.0, 0.5, 2.0]], np.float32)
    t_x = torch.from_numpy(x).requires_grad_(True)
    TF.cosine_similarity(t_x, torch.from_numpy(y)).sum().backward()
    grad = jax.grad(lambda a: F.cosine_similarity(a, y).sum())(jnp.asarray(x))
    np.testing.assert_allclose(grad, t_x.grad.numpy(), rtol=1e-5)


@pytest.mark.parametrize("call, exc, match", [
    (lambda f, x: f.pdist(x[0]), RuntimeError, "pdist only supports 2D tensors, got: 1D"),
    (lambda f, x: f.pdist(x, -1.0), RuntimeError, "pdist only supports non-negative p values"),
    (lambda f, x: f.pdist(x.long() if hasattr(x, "long") else x.astype(int)), RuntimeError,
     "pdist only supports floating-point dtypes"),
    (lambda f, x: f.normalize(x, dim=2), IndexError, r"range of \[-2, 1\], but got 2"),
    (lambda f, x: f.normalize(x.long() if hasattr(x, "long") else x.astype(int)),
     RuntimeError, "linalg.vector_norm: Expected a floating point or complex tensor"),
])
def test_function_errors_match_torch(call, exc, match):
    x = _special()
    with pytest.raises(exc, match=match):
        call(TF, torch.from_numpy(x))
    with pytest.raises(exc, match=match):
        call(F, jnp.asarray(x))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_pdist_refuses_half_like_torch(dtype):
    name = {torch.float16: "Half", torch.bfloat16: "BFloat16"}[dtype]
    match = f"\"pdist\" not implemented for '{name}'"
    with pytest.raises(RuntimeError, match=match):
        TF.pdist(torch.ones(3, 2, dtype=dtype))
    with pytest.raises(RuntimeError, match=match):
        F.pdist(jnp.ones((3, 2), {torch.float16: jnp.float16,
                                  torch.bfloat16: jnp.bfloat16}[dtype]))


def test_normalize_refuses_out():
    with pytest.raises(TypeError, match="JAX arrays are immutable"):
        F.normalize(jnp.ones((2, 3)), out=jnp.zeros((2, 3)))


def test_zero_dim_inputs_like_torch():
    a, b = torch.tensor(1.0), torch.tensor(2.5)
    # (Python floats are refused, as torch refuses them: 0-d arrays here)
    for j, t in [(F.pairwise_distance(jnp.array(1.0), jnp.array(2.5)),
                  TF.pairwise_distance(a, b)),
                 (F.pairwise_distance(jnp.array(1.0), jnp.array(2.5), keepdim=True),
                  TF.pairwise_distance(a, b, keepdim=True)),
                 (F.cosine_similarity(jnp.array(1.0), jnp.array(-2.5), dim=0),
                  TF.cosine_similarity(a, -b, dim=0)),
                 (F.normalize(jnp.array(-3.0), dim=0), TF.normalize(torch.tensor(-3.0), dim=0))]:
        assert j.shape == tuple(t.shape)
        np.testing.assert_allclose(j, t.numpy(), rtol=1e-6)


def test_pdist_edge_sizes_and_jit():
    assert F.pdist(jnp.ones((1, 3))).shape == (0,) == tuple(TF.pdist(torch.ones(1, 3)).shape)
    x = _special()
    np.testing.assert_allclose(jax.jit(F.pdist, static_argnums=1)(x, 2.0),
                               TF.pdist(torch.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-6)


@given(rows=st.sampled_from([2, 5]), p=st.sampled_from(ORDERS), keepdim=st.booleans(),
       eps=st.sampled_from([0.0, 1e-6, 1e-2]))
def test_pairwise_distance_configurations(rows, p, keepdim, eps):
    check_layer("PairwiseDistance", (p, eps, keepdim), {}, [normal(rows, 3), normal(1, 3)],
                modes=("train",))


@given(dim=st.integers(-3, 2), eps=st.sampled_from([1e-8, 0.5]),
       other=st.sampled_from([(2, 3, 2), (3, 2), (1, 3, 1)]))
def test_cosine_similarity_configurations(dim, eps, other):
    check_layer("CosineSimilarity", (dim, eps), {}, [normal(2, 3, 2), normal(*other)],
                modes=("train",))
