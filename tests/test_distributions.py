"""jnn.distributions against torch.distributions: values, shapes, errors, KL, gradients.

Deterministic quantities (log_prob, entropy, mean, variance, cdf/icdf, KL, normalized
probs/logits) are compared with torch on identical parameters; samples, whose random stream
is JAX's, by their statistics, support, shape and dtype.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.distributions as td

import jnn
import jnn.distributions as jd

RTOL = 1e-5
ATOL = 1e-6

_rng = np.random.default_rng(0)
LOC = _rng.standard_normal((2, 3)).astype(np.float32)
SCALE = (0.5 + _rng.random(3)).astype(np.float32)
PROBS = np.array([[0.1, 0.0, 0.6, 0.3], [2.0, 1.0, 1.0, 4.0]], np.float32)  # unnormalized
LOGITS = _rng.standard_normal((3, 5)).astype(np.float32)
BPROBS = np.array([0.0, 0.2, 0.5, 0.9, 1.0], np.float32)
BLOGITS = _rng.standard_normal((2, 3)).astype(np.float32) * 3


def _j(a: Any) -> Any:
    return jnp.asarray(a) if isinstance(a, np.ndarray) else a


def _t(a: Any) -> Any:
    return torch.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a


# name -> (class name, kwargs of numpy arrays / Python numbers, values to score)
CASES = {
    "normal-scalars": ("Normal", {"loc": 0.5, "scale": 2.0}, np.float32([-1.0, 0.3, 4.0])),
    "normal-broadcast": ("Normal", {"loc": LOC, "scale": SCALE}, LOC[::-1] * 2),
    "normal-float-and-array": ("Normal", {"loc": 1.0, "scale": SCALE}, np.float32([[0.2]])),
    "bernoulli-probs": ("Bernoulli", {"probs": BPROBS}, np.float32([1, 0, 1, 1, 0])),
    "bernoulli-logits": ("Bernoulli", {"logits": BLOGITS}, np.float32([[1, 0, 1], [0, 0, 1]])),
    "bernoulli-number": ("Bernoulli", {"probs": 0.3}, np.float32([0, 1])),
    "categorical-probs": ("Categorical", {"probs": PROBS}, np.array([[0], [2], [3]], np.int64)),
    "categorical-logits": ("Categorical", {"logits": LOGITS}, np.array([4, 0, 2], np.int64)),
    "categorical-1d": ("Categorical", {"logits": LOGITS[0]}, np.array([[1, 3], [0, 4]])),
}


def _pair(case: str) -> tuple[Any, Any, np.ndarray]:
    cls, kwargs, values = CASES[case]
    mine = getattr(jd, cls)(**{k: _j(v) for k, v in kwargs.items()})
    theirs = getattr(td, cls)(**{k: _t(v) for k, v in kwargs.items()})
    return mine, theirs, values


def _close(mine: Any, theirs: torch.Tensor) -> None:
    theirs = theirs.detach().numpy()
    mine = np.asarray(mine)
    assert mine.shape == theirs.shape
    np.testing.assert_allclose(mine, theirs, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", CASES)
def test_values_match_torch(case: str) -> None:
    mine, theirs, values = _pair(case)
    assert mine.batch_shape == tuple(theirs.batch_shape)
    assert mine.event_shape == tuple(theirs.event_shape)
    for name in ("mean", "variance", "stddev", "mode"):
        _close(getattr(mine, name), getattr(theirs, name))
    _close(mine.entropy(), theirs.entropy())
    _close(mine.perplexity(), theirs.perplexity())
    _close(mine.log_prob(jnp.asarray(values)), theirs.log_prob(torch.from_numpy(values)))
    if CASES[case][0] != "Normal":
        assert mine.param_shape == tuple(theirs.param_shape)
        _close(mine.probs, theirs.probs)
        _close(mine.logits, theirs.logits)
        for expand in (True, False):
            _close(mine.enumerate_support(expand), theirs.enumerate_support(expand))
    assert repr(mine) == repr(theirs)


@pytest.mark.parametrize("case", ["normal-scalars", "normal-broadcast"])
def test_normal_cdf_icdf_match_torch(case: str) -> None:
    mine, theirs, values = _pair(case)
    _close(mine.cdf(jnp.asarray(values)), theirs.cdf(torch.from_numpy(values)))
    q = np.float32([0.01, 0.3, 0.5, 0.97])[:, None, None]
    _close(mine.icdf(jnp.asarray(q)), theirs.icdf(torch.from_numpy(q)))


@pytest.mark.parametrize("case", ["normal-broadcast", "bernoulli-logits", "categorical-probs"])
def test_expand_matches_torch(case: str) -> None:
    mine, theirs, _ = _pair(case)
    shape = (4, *mine.batch_shape)
    big, tbig = mine.expand(shape), theirs.expand(shape)
    assert big.batch_shape == tuple(tbig.batch_shape) == shape
    torch.manual_seed(0)
    values = tbig.sample((2,))  # torch's numbers, scored by both
    _close(big.log_prob(jnp.asarray(values.numpy())), tbig.log_prob(values))
    _close(big.entropy(), tbig.entropy())
    assert big.expand((-1, *mine.batch_shape)).batch_shape == shape
    bad = (5, 7)
    with pytest.raises(RuntimeError) as theirs_error:
        theirs.expand(bad)
    with pytest.raises(RuntimeError, match=re.escape(str(theirs_error.value))):
        mine.expand(bad)


# -- errors -------------------------------------------------------------------------------

def _same_error(mine: Callable[[], Any], theirs: Callable[[], Any], upto: str = "") -> None:
    """Both raise the same type; the messages agree (up to ``upto``, when given)."""
    with pytest.raises(Exception) as t_err:
        theirs()
    text = str(t_err.value)
    text = text.split(upto)[0] if upto else text
    with pytest.raises(t_err.type, match="^" + re.escape(text)):
        mine()


INVALID = "but found invalid values"


@pytest.mark.parametrize("cls,kwargs", [
    ("Normal", {"loc": 0.0, "scale": -1.0}),
    ("Normal", {"loc": np.float32([0.0, np.nan]), "scale": 1.0}),
    ("Normal", {"loc": np.zeros(2, np.float32), "scale": np.float32([1.0, -1.0])}),
    ("Bernoulli", {"probs": 1.5}),
    ("Bernoulli", {"probs": np.float32([0.2, -0.1])}),
    ("Categorical", {"probs": np.float32([0.5, -0.1, 0.6])}),
    ("Categorical", {"logits": np.float32([[0.5, np.nan]])}),
])
def test_invalid_parameters_raise_torchs_value_error(cls: str, kwargs: dict) -> None:
    _same_error(lambda: getattr(jd, cls)(**{k: _j(v) for k, v in kwargs.items()}),
                lambda: getattr(td, cls)(**{k: _t(v) for k, v in kwargs.items()}), INVALID)
    # validate_args=False builds it anyway, as in torch
    getattr(jd, cls)(**{k: _j(v) for k, v in kwargs.items()}, validate_args=False)


@pytest.mark.parametrize("cls", ["Bernoulli", "Categorical"])
@pytest.mark.parametrize("kwargs", [{}, {"probs": np.float32([0.5]), "logits": np.float32([0])}])
def test_probs_or_logits_exactly_one(cls: str, kwargs: dict) -> None:
    _same_error(lambda: getattr(jd, cls)(**{k: _j(v) for k, v in kwargs.items()}),
                lambda: getattr(td, cls)(**{k: _t(v) for k, v in kwargs.items()}))


@pytest.mark.parametrize("kind", ["probs", "logits"])
def test_categorical_needs_a_vector(kind: str) -> None:
    _same_error(lambda: jd.Categorical(**{kind: jnp.float32(0.5)}),
                lambda: td.Categorical(**{kind: torch.tensor(0.5)}))


@pytest.mark.parametrize("make,value", [
    ("Normal(0., 1.)", np.float32(np.nan)),
    ("Bernoulli(0.3)", np.float32(0.5)),
    ("Categorical(probs=ones(3))", np.int64(3)),
    ("Categorical(probs=ones((2, 3)))", np.zeros(3, np.int64)),
    ("Categorical(probs=ones(3))", np.full((2, 2), 0.5, np.float32)),
    ("Normal(zeros(3), 1.)", np.zeros(2, np.float32)),
])
def test_invalid_values_raise_torchs_value_error(make: str, value: Any) -> None:
    mine = eval(make, {**vars(jd), "ones": jnp.ones, "zeros": jnp.zeros})
    theirs = eval(make, {**vars(td), "ones": torch.ones, "zeros": torch.zeros})
    _same_error(lambda: mine.log_prob(jnp.asarray(value)),
                lambda: theirs.log_prob(torch.tensor(value)), INVALID)


def test_non_array_value_and_arguments_raise_torchs_errors() -> None:
    _same_error(lambda: jd.Normal(0.0, 1.0).log_prob(1.0),
                lambda: td.Normal(0.0, 1.0).log_prob(1.0))
    _same_error(lambda: jd.Normal("a", 1.0), lambda: td.Normal("a", 1.0))
    _same_error(lambda: jd.Normal(jnp.zeros(2), jnp.ones(3)),
                lambda: td.Normal(torch.zeros(2), torch.ones(3)))
    _same_error(lambda: jd.kl_divergence(jd.Categorical(jnp.ones(2)), jd.Normal(0.0, 1.0)),
                lambda: td.kl_divergence(td.Categorical(torch.ones(2)), td.Normal(0.0, 1.0)))
    with pytest.raises(NotImplementedError):  # torch: its exponential-family message
        jd.kl_divergence(jd.Normal(0.0, 1.0), jd.Bernoulli(0.3))


def test_validation_can_be_turned_off_globally() -> None:
    jd.Distribution.set_default_validate_args(False)
    try:
        assert np.isnan(float(jd.Normal(0.0, -1.0).log_prob(jnp.float32(0.0))))
    finally:
        jd.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        jd.Normal(0.0, -1.0)


# -- KL -------------------------------------------------------------------------------------

KL_PAIRS = [
    ("Normal", {"loc": LOC, "scale": SCALE}, {"loc": 0.0, "scale": 1.0}),
    ("Normal", {"loc": 0.3, "scale": SCALE}, {"loc": LOC, "scale": SCALE[::-1].copy()}),
    ("Bernoulli", {"probs": BPROBS}, {"probs": BPROBS[::-1].copy()}),
    ("Bernoulli", {"logits": BLOGITS}, {"probs": 0.4}),
    ("Categorical", {"probs": PROBS}, {"probs": PROBS[::-1].copy()}),
    ("Categorical", {"logits": LOGITS}, {"probs": np.float32([0.2, 0.2, 0.2, 0.2, 0.2])}),
]


@pytest.mark.parametrize("cls,p,q", KL_PAIRS)
def test_kl_divergence_matches_torch(cls: str, p: dict, q: dict) -> None:
    mine = jd.kl_divergence(getattr(jd, cls)(**{k: _j(v) for k, v in p.items()}),
                            getattr(jd, cls)(**{k: _j(v) for k, v in q.items()}))
    theirs = td.kl_divergence(getattr(td, cls)(**{k: _t(v) for k, v in p.items()}),
                              getattr(td, cls)(**{k: _t(v) for k, v in q.items()}))
    _close(mine, theirs)  # includes the infinite entries (q impossible where p is not)


# -- sampling --------------------------------------------------------------------------------

N = 20000


def test_normal_samples_statistics_shape_dtype() -> None:
    jnn.manual_seed(0)
    mine = jd.Normal(jnp.float32([1.5, -2.0]), jnp.float32([2.0, 0.5]))
    s = np.asarray(mine.sample((N,)))
    theirs = td.Normal(torch.tensor([1.5, -2.0]), torch.tensor([2.0, 0.5])).sample((N,))
    assert s.shape == tuple(theirs.shape) and str(s.dtype) == "float32"
    np.testing.assert_allclose(s.mean(0), [1.5, -2.0], atol=4 * 2.0 / np.sqrt(N))
    np.testing.assert_allclose(s.var(0), [4.0, 0.25], rtol=0.05)
    r = mine.rsample((3, 2))
    assert r.shape == tuple(td.Normal(torch.zeros(2), 1.0).rsample((3, 2)).shape)
    assert jd.Normal(0.0, 1.0).sample().shape == ()


def test_bernoulli_samples_statistics_support_dtype() -> None:
    jnn.manual_seed(0)
    probs = np.float32([0.0, 0.25, 1.0])
    s = np.asarray(jd.Bernoulli(jnp.asarray(probs)).sample((N,)))
    theirs = td.Bernoulli(torch.from_numpy(probs)).sample((N,))
    assert s.shape == tuple(theirs.shape) and str(s.dtype) == str(theirs.dtype).split(".")[1]
    assert set(np.unique(s)) <= {0.0, 1.0}
    np.testing.assert_allclose(s.mean(0), probs, atol=4 * np.sqrt(0.25 * 0.75 / N))


def test_categorical_samples_statistics_support_dtype() -> None:
    jnn.manual_seed(0)
    probs = PROBS / PROBS.sum(-1, keepdims=True)
    s = np.asarray(jd.Categorical(jnp.asarray(PROBS)).sample((N,)))
    theirs = td.Categorical(torch.from_numpy(PROBS)).sample((N,))
    assert s.shape == tuple(theirs.shape) == (N, 2)
    # torch's int64 is JAX's default integer: int32 without jax_enable_x64
    assert theirs.dtype == torch.int64 and s.dtype == np.int32
    assert not (s[:, 0] == 1).any()  # probability zero: never drawn
    freq = np.stack([np.bincount(s[:, b], minlength=4) / N for b in range(2)])
    np.testing.assert_allclose(freq, probs, atol=4 * np.sqrt(0.25 / N))
    logit_samples = jd.Categorical(logits=jnp.asarray(LOGITS)).sample((2, 3))
    assert logit_samples.shape == tuple(td.Categorical(logits=_t(LOGITS)).sample((2, 3)).shape)


def test_manual_seed_reproduces_samples() -> None:
    d = jd.Categorical(logits=jnp.asarray(LOGITS))
    jnn.manual_seed(7)
    a, b = np.asarray(d.sample((50,))), np.asarray(jd.Normal(0.0, 1.0).sample((50,)))
    jnn.manual_seed(7)
    np.testing.assert_array_equal(np.asarray(d.sample((50,))), a)
    np.testing.assert_array_equal(np.asarray(jd.Normal(0.0, 1.0).sample((50,))), b)
    assert (np.asarray(d.sample((50,))) != a).any()  # the generator moved on


def test_compiled_step_draws_fresh_samples_per_call_and_reproduces_from_seed() -> None:
    @jnn.compile
    def step(loc: jax.Array, logits: jax.Array) -> tuple:
        a = jd.Normal(loc, 1.0).sample((2,))
        b = jd.Normal(loc, 1.0).sample((2,))  # two draws in one program differ too
        c = jd.Categorical(logits=logits).sample((64,))
        d = jd.Bernoulli(logits=logits).sample()
        return a, b, c, d

    loc, logits = jnp.zeros(8), jnp.zeros((2, 5))
    jnn.manual_seed(3)
    first = [np.asarray(x) for x in step(loc, logits)]
    second = [np.asarray(x) for x in step(loc, logits)]
    assert (first[0] != first[1]).any()
    for x, y in zip(first, second):
        assert (x != y).any()
    jnn.manual_seed(3)
    for x, y in zip(first, step(loc, logits)):
        np.testing.assert_array_equal(x, np.asarray(y))


def test_plain_jit_needs_a_key_and_distributions_are_pytrees() -> None:
    d = jd.Normal(jnp.zeros(3), jnp.ones(3))
    jnn.manual_seed(0)  # writes the key back: a compiled step may have left it packed
    with pytest.raises(RuntimeError, match="use_key"):
        jax.jit(lambda d: d.sample())(d)

    @jax.jit
    def draw(d: jd.Normal, key: jax.Array) -> jax.Array:
        with jnn.random.use_key(key):
            return d.sample((4,))

    assert draw(d, jax.random.key(0)).shape == (4, 3)
    out = jax.jit(lambda logits: jd.Categorical(logits=logits))(jnp.asarray(LOGITS))
    assert isinstance(out, jd.Categorical) and out.batch_shape == (3,)
    _close(out.log_prob(jnp.arange(3)), td.Categorical(logits=_t(LOGITS)).log_prob(
        torch.arange(3)))


# -- gradients (what REINFORCE and VAEs differentiate) --------------------------------------

def test_reinforce_loss_gradient_matches_torch() -> None:
    actions = np.array([4, 0, 2], np.int64)
    returns = np.float32([1.0, -0.5, 2.0])
    bern_actions = np.float32([[1, 0, 1], [0, 0, 1]])

    def loss(logits: Any, blogits: Any, lib: Any, arr: Callable) -> Any:
        pi = lib.Categorical(logits=logits)
        coin = lib.Bernoulli(probs=1 / (1 + lib_exp(lib, -blogits)))
        lp = pi.log_prob(arr(actions)) + coin.log_prob(arr(bern_actions)).sum(0)
        return -(lp * arr(returns)).mean() - 0.01 * (pi.entropy().mean()
                                                     + coin.entropy().mean())

    def lib_exp(lib: Any, x: Any) -> Any:
        return jnp.exp(x) if lib is jd else torch.exp(x)

    gj = jax.grad(lambda a, b: loss(a, b, jd, jnp.asarray), argnums=(0, 1))(
        jnp.asarray(LOGITS), jnp.asarray(BLOGITS))
    ta, tb = (torch.from_numpy(LOGITS.copy()).requires_grad_(),
              torch.from_numpy(BLOGITS.copy()).requires_grad_())
    loss(ta, tb, td, torch.from_numpy).backward()
    _close(gj[0], ta.grad)
    _close(gj[1], tb.grad)


def test_vae_reparameterized_kl_gradient_matches_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    mu, logvar = LOC, _rng.standard_normal((2, 3)).astype(np.float32) * 0.3
    w = _rng.standard_normal((3, 4)).astype(np.float32)
    target = _rng.standard_normal((2, 4)).astype(np.float32)

    def loss(mu: Any, logvar: Any, w: Any, lib: Any, exp: Callable) -> Any:
        q = lib.Normal(mu, exp(0.5 * logvar))
        z = q.rsample()
        recon = ((z @ w - target_of(lib)) ** 2).sum()
        return recon + lib.kl_divergence(q, lib.Normal(0.0, 1.0)).sum()

    def target_of(lib: Any) -> Any:
        return jnp.asarray(target) if lib is jd else torch.from_numpy(target)

    jnn.manual_seed(11)
    grads = jax.grad(lambda *a: loss(*a, jd, jnp.exp), argnums=(0, 1, 2))(
        jnp.asarray(mu), jnp.asarray(logvar), jnp.asarray(w))
    jnn.manual_seed(11)  # the same eps, recovered from the same draw
    z = jd.Normal(jnp.asarray(mu), jnp.exp(0.5 * jnp.asarray(logvar))).rsample()
    eps = (np.asarray(z) - mu) / np.exp(0.5 * logvar)
    monkeypatch.setattr(torch.distributions.normal, "_standard_normal",
                        lambda shape, dtype, device: torch.from_numpy(eps.astype(np.float32)))
    tensors = [torch.from_numpy(a.copy()).requires_grad_() for a in (mu, logvar, w)]
    loss(*tensors, td, torch.exp).backward()
    for mine, theirs in zip(grads, tensors):
        np.testing.assert_allclose(np.asarray(mine), theirs.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_compiled_reinforce_step_with_a_policy_module_matches_torch() -> None:
    obs = _rng.standard_normal((6, 4)).astype(np.float32)
    returns = _rng.standard_normal(6).astype(np.float32)
    policy = jnn.nn.Linear(4, 3)
    optimizer = jnn.optim.SGD(policy.parameters(), lr=0.1)
    theirs = torch.nn.Linear(4, 3)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(np.asarray(policy.weight.data)))
        theirs.bias.copy_(torch.tensor(np.asarray(policy.bias.data)))
    t_opt = torch.optim.SGD(theirs.parameters(), lr=0.1)

    @jnn.compile
    def step(obs: jax.Array, returns: jax.Array) -> tuple:
        actions = jd.Categorical(logits=policy(obs)).sample()  # acting: no gradient

        def closure() -> jax.Array:
            optimizer.zero_grad()
            return -(jd.Categorical(logits=policy(obs)).log_prob(actions) * returns).mean()

        return optimizer.step(closure), actions

    jnn.manual_seed(0)
    for _ in range(2):
        loss, actions = step(jnp.asarray(obs), jnp.asarray(returns))
        t_opt.zero_grad()
        dist = td.Categorical(logits=theirs(torch.from_numpy(obs)))
        t_loss = -(dist.log_prob(torch.tensor(np.asarray(actions)).long())
                   * torch.from_numpy(returns)).mean()
        t_loss.backward()
        t_opt.step()
        _close(loss, t_loss)
    _close(policy.weight.data, theirs.weight)
    _close(policy.bias.data, theirs.bias)
