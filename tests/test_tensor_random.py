"""torch's random creation functions as ``jnn.<name>``: shapes, dtypes, statistics, seeding.

JAX's random stream is not torch's, so values are compared by their distribution (means
and spreads of large samples, bounds) and by torch's rules; ``jnn.manual_seed`` must
reproduce every draw, eagerly and inside ``jnn.compile``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn

N = 20_000  # 4 standard errors of a mean of unit-variance draws: 0.028
X = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
PROBS = np.array([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]], np.float32)

Row = tuple[str, Callable[[Any, Callable], Any]]

SHAPES: list[Row] = [
    ("rand-varargs", lambda t, a: t.rand(2, 3)),
    ("rand-tuple", lambda t, a: t.rand((2, 3))),
    ("rand-size-kw", lambda t, a: t.rand(size=[4])),
    ("rand-dtype", lambda t, a: t.rand(2, dtype=t.float16)),
    ("randn", lambda t, a: t.randn(3, 1, 2)),
    ("randn-scalar", lambda t, a: t.randn(())),
    ("randint-high", lambda t, a: t.randint(5, (3,))),
    ("randint-low-high", lambda t, a: t.randint(2, 5, (2, 3))),
    ("randint-keywords", lambda t, a: t.randint(low=2, high=5, size=(3,))),
    ("randint-high-kw", lambda t, a: t.randint(5, size=(3,))),
    ("randint-float", lambda t, a: t.randint(0, 3, (2,), dtype=t.float32)),
    ("randperm", lambda t, a: t.randperm(5)),
    ("randperm-float", lambda t, a: t.randperm(4, dtype=t.float32)),
    ("randperm-uint8-full-range", lambda t, a: t.randperm(256, dtype=t.uint8)),
    ("randperm-fp16-limit", lambda t, a: t.randperm(2049, dtype=t.float16)),
    ("randint-uint8-full-range", lambda t, a: t.randint(0, 256, (3,), dtype=t.uint8)),
    ("randint-int8-full-range", lambda t, a: t.randint(-128, 128, (3,), dtype=t.int8)),
    ("normal-arrays", lambda t, a: t.normal(a(X), a(np.abs(X)))),
    ("normal-broadcast", lambda t, a: t.normal(a(X[:, :1]), a(np.abs(X[0])))),
    ("normal-array-mean", lambda t, a: t.normal(a(X), 2.0)),
    ("normal-array-std", lambda t, a: t.normal(1.0, a(np.abs(X)))),
    ("normal-numbers", lambda t, a: t.normal(0.0, 1.0, (2, 3))),
    ("normal-int-numbers", lambda t, a: t.normal(0, 1, (2,))),
    ("normal-dtype", lambda t, a: t.normal(0.0, 1.0, size=(2,), dtype=t.float16)),
    ("bernoulli", lambda t, a: t.bernoulli(a(PROBS))),
    ("bernoulli-p", lambda t, a: t.bernoulli(a(X), 0.3)),
    ("multinomial-1d", lambda t, a: t.multinomial(a(PROBS[0]), 2)),
    ("multinomial-2d-replacement", lambda t, a: t.multinomial(a(PROBS), 6, True)),
    ("rand_like", lambda t, a: t.rand_like(a(X))),
    ("randn_like", lambda t, a: t.randn_like(a(X), dtype=t.float16)),
    ("randint_like-high", lambda t, a: t.randint_like(a(X), 5)),
    ("randint_like-low-high", lambda t, a: t.randint_like(a(X), 3, 5)),
]


def _dtype(t: torch.Tensor) -> np.dtype:
    return jax.dtypes.canonicalize_dtype(np.dtype(str(t.dtype).removeprefix("torch.")))


@pytest.mark.parametrize("name,call", SHAPES, ids=[r[0] for r in SHAPES])
def test_shape_and_dtype_match_torch(name: str, call: Callable) -> None:
    theirs = call(torch, lambda x: torch.from_numpy(np.array(x)))
    ours = call(jnn, jnp.asarray)
    assert isinstance(ours, jax.Array)
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == _dtype(theirs)


def _moments(x: Any) -> tuple[float, float]:
    x = np.asarray(x, np.float64)
    return x.mean(), x.std()


@pytest.mark.parametrize("name,draw,mean,std,low,high", [
    ("rand", lambda t: t.rand(N), 0.5, math.sqrt(1 / 12), 0.0, 1.0),
    ("randn", lambda t: t.randn(N), 0.0, 1.0, -np.inf, np.inf),
    ("randint", lambda t: t.randint(-2, 3, (N,)), 0.0, math.sqrt(2), -2, 2),
    ("normal", lambda t: t.normal(3.0, 2.0, (N,)), 3.0, 2.0, -np.inf, np.inf),
    ("normal-arrays", lambda t: t.normal(t.full((N,), -1.0), t.full((N,), 0.5)), -1.0, 0.5,
     -np.inf, np.inf),
    ("bernoulli", lambda t: t.bernoulli(t.full((N,), 0.3)), 0.3, math.sqrt(0.21), 0, 1),
    ("randn_like", lambda t: t.randn_like(t.zeros(N)), 0.0, 1.0, -np.inf, np.inf),
    ("rand_like", lambda t: t.rand_like(t.zeros(N)), 0.5, math.sqrt(1 / 12), 0.0, 1.0),
])
def test_distributions_match_torch(name: str, draw: Callable, mean: float, std: float,
                                   low: float, high: float) -> None:
    jnn.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = np.asarray(draw(jnn)), draw(torch).numpy()
    tol = 4 * std / math.sqrt(N)
    for sample in (ours, theirs):  # both libraries meet the same statistical bar
        m, s = _moments(sample)
        assert abs(m - mean) < tol, (name, m)
        assert abs(s - std) < 0.03 * std, (name, s)
        assert sample.min() >= low and sample.max() <= high
    if name in ("rand", "rand_like"):
        assert ours.max() < 1.0
    if name == "randint":  # every value, about equally often
        np.testing.assert_allclose(np.bincount(ours + 2) / N, 0.2, atol=0.015)


def test_randperm_is_a_permutation() -> None:
    perm = np.asarray(jnn.randperm(100))
    np.testing.assert_array_equal(np.sort(perm), np.arange(100))
    assert not np.array_equal(perm, np.arange(100))


def test_multinomial_frequencies_and_no_replacement() -> None:
    jnn.manual_seed(0)
    weights = jnp.asarray(PROBS * 7)  # unnormalised weights, as torch accepts
    draws = np.asarray(jnn.multinomial(weights, N, replacement=True))
    assert draws.shape == (2, N)
    for row, p in zip(draws, PROBS):
        np.testing.assert_allclose(np.bincount(row, minlength=4) / N, p, atol=0.015)
    first = []
    for _ in range(400):  # without replacement: distinct picks, never a zero weight
        picks = np.asarray(jnn.multinomial(weights, 3))
        assert all(len(set(r)) == 3 for r in picks)
        assert 1 not in picks[0]
        first.append(picks[1, 0])
    # The first pick of an unweighted row is uniform, as torch's sequential draws.
    np.testing.assert_allclose(np.bincount(first, minlength=4) / 400, 0.25, atol=0.09)
    np.testing.assert_array_equal(np.sort(np.asarray(jnn.multinomial(weights[1], 4))),
                                  np.arange(4))


_DRAWS = [lambda: jnn.rand(3), lambda: jnn.randn(3), lambda: jnn.randint(9, (3,)),
          lambda: jnn.randperm(3), lambda: jnn.normal(0.0, 1.0, (3,)),
          lambda: jnn.bernoulli(jnp.full((3,), 0.5)), lambda: jnn.multinomial(jnp.ones(3), 3),
          lambda: jnn.randint_like(jnp.zeros(3), 4, 9)]


def test_manual_seed_reproduces_every_draw() -> None:
    jnn.manual_seed(42)
    first = [np.asarray(d()) for d in _DRAWS]
    again = [np.asarray(d()) for d in _DRAWS]
    assert not all(np.array_equal(a, b) for a, b in zip(first, again))
    jnn.manual_seed(42)
    for a, d in zip(first, _DRAWS):
        np.testing.assert_array_equal(np.asarray(d()), a)


def test_generator_argument_is_its_own_stream() -> None:
    jnn.manual_seed(0)
    before = jnn.random.get_rng_state()
    g = jnn.random.Generator(7)
    a = [np.asarray(jnn.randn(3, generator=g)), np.asarray(jnn.randint(5, (3,), generator=g)),
         np.asarray(jnn.randperm(4, generator=g)), np.asarray(jnn.normal(0.0, 1.0, (2,),
                                                                         generator=g))]
    g.manual_seed(7)
    b = [np.asarray(jnn.randn(3, generator=g)), np.asarray(jnn.randint(5, (3,), generator=g)),
         np.asarray(jnn.randperm(4, generator=g)), np.asarray(jnn.normal(0.0, 1.0, (2,),
                                                                         generator=g))]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(jax.random.key_data(jnn.random.get_rng_state()),
                                  jax.random.key_data(before))  # the global stream untouched


def test_compiled_function_draws_fresh_values_and_reseeds() -> None:
    @jnn.compile
    def noisy(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        return x + jnn.randn(3), x + jnn.randn(3) + jnn.rand(3) + jnn.randint(3, (3,))

    x = jnp.zeros(3)

    def run(seed: int) -> list[np.ndarray]:
        jnn.manual_seed(seed)
        return [np.asarray(o) for _ in range(3) for o in noisy(x)]

    first = run(5)
    assert not np.array_equal(first[0], first[1])  # two draws in one call differ
    assert not np.array_equal(first[0], first[2])  # and each call draws anew
    for a, b in zip(first, run(5)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], run(6)[0])


def test_plain_jit_needs_a_key_and_use_key_supplies_it() -> None:
    # Reseeding first: after a jnn.compile call the newest key sits in the compiled
    # store, and a plain jax.jit then leaks a traced key instead of raising (a jnn.random
    # bug outside this file's scope, reported).
    jnn.manual_seed(0)
    with pytest.raises(RuntimeError, match="used inside a JAX transformation"):
        jax.jit(lambda: jnn.randn(2))()

    @jax.jit
    def draw(key: jax.Array) -> jax.Array:
        with jnn.random.use_key(key):
            return jnn.normal(jnp.zeros(2), 1.0) + jnn.multinomial(jnp.ones(4), 2)

    key = jax.random.key(0)
    np.testing.assert_array_equal(draw(key), draw(key))


ERRORS: list[Row] = [
    ("rand-int-dtype", lambda t, a: t.rand(2, dtype=t.int32)),
    ("randn-negative", lambda t, a: t.randn(-1)),
    ("randint-bounds", lambda t, a: t.randint(3, 2, (2,))),
    ("randint-int-size", lambda t, a: t.randint(0, 3, 2)),
    ("randint-bool", lambda t, a: t.randint(5, (2,), dtype=t.bool)),
    ("randperm-negative", lambda t, a: t.randperm(-1)),
    ("normal-negative-std", lambda t, a: t.normal(0.0, -1.0, (2,))),
    ("normal-negative-std-array", lambda t, a: t.normal(a(X), -a(np.abs(X)))),
    ("normal-broadcast", lambda t, a: t.normal(a(X), a(np.ones(4, np.float32)))),
    ("normal-no-size", lambda t, a: t.normal(0.0, 1.0)),
    ("bernoulli-range", lambda t, a: t.bernoulli(t.full((2,), 2.0))),
    ("bernoulli-int", lambda t, a: t.bernoulli(t.ones(2, dtype=t.int32))),
    ("multinomial-3d", lambda t, a: t.multinomial(t.ones(2, 2, 2), 1)),
    ("multinomial-zero", lambda t, a: t.multinomial(t.ones(3), 0)),
    ("multinomial-too-many", lambda t, a: t.multinomial(t.ones(3), 4)),
    ("multinomial-negative", lambda t, a: t.multinomial(a(X), 1)),
    ("requires-grad-int", lambda t, a: t.randint(3, (2,), requires_grad=True)),
    # bounds outside the dtype: torch's check_from_to (jnn once clamped or wrapped them)
    ("randint-uint8-high", lambda t, a: t.randint(0, 300, (2,), dtype=t.uint8)),
    ("randint-uint8-low", lambda t, a: t.randint(-5, 5, (2,), dtype=t.uint8)),
    ("randint-int8-high", lambda t, a: t.randint(0, 200, (2,), dtype=t.int8)),
    ("randint-int16-high", lambda t, a: t.randint(0, 2**15 + 1, (2,), dtype=t.int16)),
    ("randint-int32-high", lambda t, a: t.randint(0, 2**31 + 1, (2,), dtype=t.int32)),
    ("randint-fp16-high", lambda t, a: t.randint(0, 70000, (2,), dtype=t.float16)),
    ("randint-fp16-low", lambda t, a: t.randint(-70000, 0, (2,), dtype=t.float16)),
    ("randint-bool-low", lambda t, a: t.randint(-1, 2, (2,), dtype=t.bool)),
    ("randint_like-uint8", lambda t, a: t.randint_like(t.zeros(3, dtype=t.uint8), 300)),
    ("randint_like-int8-low", lambda t, a: t.randint_like(t.zeros(3, dtype=t.int8), -200, 0)),
    ("randperm-uint8", lambda t, a: t.randperm(257, dtype=t.uint8)),
    ("randperm-int8", lambda t, a: t.randperm(129, dtype=t.int8)),
    ("randperm-fp16", lambda t, a: t.randperm(2050, dtype=t.float16)),
    ("randperm-bool", lambda t, a: t.randperm(3, dtype=t.bool)),
]
_TYPE_ONLY = {"rand-int-dtype", "randint-int-size", "normal-no-size"}


def test_randint_beyond_a_float_dtypes_whole_numbers_warns_as_torch() -> None:
    with pytest.warns(UserWarning) as theirs:
        torch.randint(0, 2050, (2,), dtype=torch.float16)
    message = str(theirs[0].message).split(" (Triggered internally")[0]
    with pytest.warns(UserWarning, match=re.escape(message)):
        jnn.randint(0, 2050, (2,), dtype=jnn.float16)


def test_randint_distribution_uses_the_whole_small_dtype() -> None:
    """randint(0, 256, uint8) reaches 255 and randperm(256, uint8) is a permutation."""
    jnn.manual_seed(0)
    draws = np.asarray(jnn.randint(0, 256, (20_000,), dtype=jnn.uint8))
    assert draws.min() == 0 and draws.max() == 255
    perm = np.asarray(jnn.randperm(256, dtype=jnn.uint8))
    np.testing.assert_array_equal(np.sort(perm), np.arange(256))


@pytest.mark.parametrize("name,call", ERRORS, ids=[r[0] for r in ERRORS])
def test_errors_match_torch(name: str, call: Callable) -> None:
    with pytest.raises(Exception) as theirs:
        call(torch, lambda x: torch.from_numpy(np.array(x)))
    message = str(theirs.value).split("\n")[0].split("  (Could this error message")[0]
    pattern = None if name in _TYPE_ONLY else re.escape(message)
    with pytest.raises(type(theirs.value), match=pattern):
        call(jnn, jnp.asarray)


# Every random function's ``generator=`` argument, given something that is not a generator.
GENERATOR_CALLS: list[tuple[str, Callable[[Any, Callable, Any], Any]]] = [
    ("randn", lambda t, a, g: t.randn(2, generator=g)),
    ("rand", lambda t, a, g: t.rand(2, 3, generator=g)),
    ("randint", lambda t, a, g: t.randint(5, (2,), generator=g)),
    ("randperm", lambda t, a, g: t.randperm(5, generator=g)),
    ("normal", lambda t, a, g: t.normal(a(X), a(np.abs(X)), generator=g)),
    ("normal-numbers", lambda t, a, g: t.normal(0.0, 1.0, (2,), generator=g)),
    ("bernoulli", lambda t, a, g: t.bernoulli(a(PROBS), generator=g)),
    ("multinomial", lambda t, a, g: t.multinomial(a(PROBS[0]), 1, generator=g)),
    ("rand_like", lambda t, a, g: t.rand_like(a(X), generator=g)),
    ("randn_like", lambda t, a, g: t.randn_like(a(X), generator=g)),
    ("randint_like", lambda t, a, g: t.randint_like(a(X), 5, generator=g)),
]


@pytest.mark.parametrize("bad", [3, 0, False, 1.5, "cpu"], ids=repr)
@pytest.mark.parametrize("name,call", GENERATOR_CALLS, ids=[r[0] for r in GENERATOR_CALLS])
def test_generator_argument_errors_match_torch(name: str, call: Callable, bad: Any) -> None:
    """A non-generator is refused with torch's TypeError, never taken as "the default
    generator" (``generator=0`` once was), and the refused call draws no key."""
    with pytest.raises(TypeError) as theirs:
        call(torch, lambda x: torch.from_numpy(np.array(x)), bad)
    # torch's parser lists every overload after " - got": the part before it is the
    # regex its tests use (the whole first line, for single-signature functions).
    pattern = re.escape(str(theirs.value).split(" - got")[0].split("\n")[0])
    jnn.manual_seed(0)
    before = jax.random.key_data(jnn.random.get_rng_state())
    with pytest.raises(TypeError, match=pattern):
        call(jnn, jnp.asarray, bad)
    np.testing.assert_array_equal(jax.random.key_data(jnn.random.get_rng_state()), before)


def test_generator_argument_refuses_a_torch_generator() -> None:
    with pytest.raises(TypeError) as theirs:  # torch's wording for a wrong generator type
        torch.multinomial(torch.ones(3), 1, generator=3)
    pattern = re.escape(str(theirs.value).removesuffix("int"))
    with pytest.raises(TypeError, match=pattern + r"torch\.Generator \(jnn draws only"):
        jnn.multinomial(jnp.ones(3), 1, generator=torch.Generator())
    assert jnn.randn(2, generator=None).shape == (2,)  # None: the global generator
