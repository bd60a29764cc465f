"""jnn's random generator and Dropout: statistics, seeding, ``fork_rng`` and ``use_key``.

JAX's random stream is not torch's, so masks are compared by their statistics and by torch's
rules (kept values scaled by exactly torch's ``1 / (1 - p)``, eval mode the identity,
``manual_seed`` reproducible, ``fork_rng`` restoring the state).
"""

from __future__ import annotations

import math
import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
import jnn.nn as nn
import jnn.nn.functional as F

SHAPE = (100, 200)  # 20,000 draws: 4 standard errors of the keep rate are < 1.5%


def _normal() -> np.ndarray:
    return np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_statistics_and_scale_match_torch(p: float) -> None:
    x = _normal()
    jnn.manual_seed(0)
    out = np.asarray(nn.Dropout(p)(jnp.asarray(x)))
    kept = out != 0
    n = x.size
    rate = kept.mean()
    assert abs(rate - (1 - p)) < 4 * math.sqrt(p * (1 - p) / n), rate
    torch.manual_seed(0)
    tout = torch.nn.Dropout(p)(torch.from_numpy(x)).numpy()
    both = kept & (tout != 0)
    assert both.sum() > 0.5 * (1 - p) ** 2 * n
    # Kept values are bit-identical to torch's: input * (1 / (1 - p)) in float32.
    np.testing.assert_array_equal(out[both], tout[both])
    np.testing.assert_array_equal(out[kept], x[kept] * (np.float32(1) / np.float32(1 - p)))


def test_dropout_masks_fresh_per_call_and_reproducible_by_seed() -> None:
    layer = nn.Dropout(0.5)
    x = jnp.ones(SHAPE)
    jnn.manual_seed(123)
    a, b = np.asarray(layer(x)), np.asarray(layer(x))
    assert not np.array_equal(a, b)
    assert 0.4 < (a == b).mean() < 0.6  # independent masks agree on about half the entries
    jnn.manual_seed(123)
    np.testing.assert_array_equal(np.asarray(layer(x)), a)
    np.testing.assert_array_equal(np.asarray(layer(x)), b)
    jnn.manual_seed(124)
    assert not np.array_equal(np.asarray(layer(x)), a)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_dropout_eval_is_identity_and_edge_probabilities(p: float) -> None:
    x = _normal()
    layer = nn.Dropout(p)
    tlayer = torch.nn.Dropout(p)
    layer.eval()
    tlayer.eval()
    np.testing.assert_array_equal(np.asarray(layer(jnp.asarray(x))), x)
    layer.train()
    out = np.asarray(layer(jnp.asarray(x)))
    if p in (0.0, 1.0):  # deterministic in torch too
        np.testing.assert_array_equal(out, tlayer.train()(torch.from_numpy(x)).numpy())


def test_manual_seed_and_rng_state_round_trip() -> None:
    assert jnn.manual_seed(5) is jnn.random.default_generator
    assert jnn.initial_seed() == 5
    state = jnn.random.get_rng_state()
    a = np.asarray(jnn.rand(4))
    jnn.random.set_rng_state(state)
    np.testing.assert_array_equal(np.asarray(jnn.rand(4)), a)
    assert jnn.randn(2, 3).shape == (2, 3) and jnn.rand((5,)).shape == (5,)


@pytest.mark.parametrize("lib", ["torch", "jnn"])
def test_fork_rng_restores_the_state(lib: str) -> None:
    module = torch if lib == "torch" else jnn

    def draw() -> np.ndarray:
        return np.asarray(module.rand(4))

    module.manual_seed(0)
    expected = [draw(), draw()]
    module.manual_seed(0)
    with module.random.fork_rng():
        forked = draw()
        draw()
    np.testing.assert_array_equal(forked, expected[0])
    np.testing.assert_array_equal(draw(), expected[0])  # as if the block never drew
    with pytest.raises(KeyError):  # restored on the way out of an exception too
        with module.random.fork_rng():
            draw()
            raise KeyError
    np.testing.assert_array_equal(draw(), expected[1])
    module.manual_seed(0)
    with module.random.fork_rng(enabled=False):
        draw()
    np.testing.assert_array_equal(draw(), expected[1])  # disabled: nothing restored


def test_use_key_under_jit() -> None:
    model = nn.Sequential(nn.Dropout(0.5), nn.Dropout(0.5))
    x = jnp.ones(SHAPE)

    @jax.jit
    def forward(model: nn.Module, x: jax.Array, key: jax.Array) -> jax.Array:
        with jnn.random.use_key(key):
            return model(x)

    jnn.manual_seed(0)
    before = jnn.random.get_rng_state()
    key = jax.random.key(42)
    a = np.asarray(forward(model, x, key))
    np.testing.assert_array_equal(np.asarray(forward(model, x, key)), a)
    assert not np.array_equal(np.asarray(forward(model, x, jax.random.key(43))), a)
    # Two dropout layers draw different masks from one key: keep rate (1/2)^2.
    assert abs((a != 0).mean() - 0.25) < 4 * math.sqrt(0.25 * 0.75 / a.size)
    np.testing.assert_array_equal(np.unique(a), [0.0, 4.0])
    with jnn.random.use_key(key):  # eagerly, the same key draws the same masks
        np.testing.assert_array_equal(np.asarray(model(x)), a)
    # The global generator is untouched by use_key.
    np.testing.assert_array_equal(jax.random.key_data(jnn.random.get_rng_state()),
                                  jax.random.key_data(before))
    # A raw uint32 key (jax.random.PRNGKey) works too, and keys vmap.
    raw = jax.random.PRNGKey(42)
    np.testing.assert_array_equal(np.asarray(forward(model, x, raw)), a)
    keys = jax.random.split(jax.random.key(0), 3)
    outs = np.asarray(jax.vmap(lambda k: forward(model, x, k))(keys))
    assert not np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[1], outs[2])


def test_dropout_inside_a_scanned_body_draws_fresh_masks_eagerly_and_compiled():
    jnn.manual_seed(0)
    drop = nn.Dropout(0.5)
    lin = nn.Linear(5, 5)
    xs = jnp.ones((6, 3, 5))

    def body(h, x):
        h = drop(lin(h) + x)
        return h, h

    _, eager_a = jnn.random.scan(body, jnp.ones((3, 5)), xs)
    _, eager_b = jnn.random.scan(body, jnp.ones((3, 5)), xs)
    masks = np.asarray(eager_a) == 0
    assert 0.3 < masks.mean() < 0.7  # p = 0.5, 90 draws
    assert (masks[0] != masks[1]).any()  # each iteration its own mask
    assert (np.asarray(eager_a) != np.asarray(eager_b)).any()  # each call its own masks

    compiled = jnn.compile(lambda xs: jnn.random.scan(body, jnp.ones((3, 5)), xs)[1])
    jnn.manual_seed(1)
    first = np.asarray(compiled(xs))
    second = np.asarray(compiled(xs))
    assert (first != second).any()
    jnn.manual_seed(1)  # reproducible from the seed, as torch's dropout is
    np.testing.assert_array_equal(np.asarray(compiled(xs)), first)

    total = jnn.random.fori_loop(0, 4, lambda i, h: drop(h), jnp.ones((3, 5)))
    assert set(np.unique(np.asarray(total))) <= {0.0, 16.0}


@pytest.mark.parametrize("loop", ["scan", "fori_loop"])
def test_dropout_in_a_plain_lax_loop_body_raises_jnns_message_and_changes_nothing(
        loop: str) -> None:
    """A plain jax.lax.scan / fori_loop body is traced once and run many times: a key drawn
    in it would be one mask for every iteration, and storing it would leak a tracer.  Eager
    and under jnn.compile, the draw raises jnn's error naming jnn.random.scan/fori_loop;
    the generator is as before, and the jnn.random loop then works."""
    drop = nn.Dropout(0.3)
    xs = jnp.ones((4, 50))
    if loop == "scan":
        def run(xs):
            return jax.lax.scan(lambda c, x: (c, drop(x)), 0.0, xs)[1]
    else:
        def run(xs):
            return jax.lax.fori_loop(0, 4, lambda i, h: drop(h), xs)
    for fn in (run, jnn.compile(run)):
        jnn.manual_seed(5)
        before = np.asarray(jax.random.key_data(jnn.random.default_generator.key))
        with pytest.raises(RuntimeError, match=r"does not thread its key.*jnn\.random\.scan"):
            fn(xs)
        np.testing.assert_array_equal(
            np.asarray(jax.random.key_data(jnn.random.default_generator.key)), before)
    out = np.asarray(jnn.random.scan(lambda c, x: (c, drop(x)), 0.0, xs)[1])
    assert set(np.unique(out)) <= {0.0, np.float32(1 / 0.7)} and (out[0] != out[1]).any()


@pytest.mark.parametrize("how", ["step", "backward"])
def test_dropout_in_a_random_scan_body_in_an_eager_closure_with_a_cold_cache(how: str) -> None:
    """Dropout inside jnn.random.scan in an eagerly differentiated closure, its dispatch
    program not made yet: the first trace sees the scan's key, a tracer; it must not bake
    it in (a leaked tracer) but thread it.  Gradients equal the masks, fresh every step."""
    F.dropout._jnn_dispatch_cache.clear()  # (as in a fresh process)
    w = nn.Parameter(jnp.ones(200))
    opt = jnn.optim.SGD([w], lr=0.0)
    xs = jnp.ones((3, 200))

    def closure():
        opt.zero_grad()
        def body(c, x):
            y = F.dropout(x * w, 0.4, training=True)
            return c + y.sum(), y
        return jnn.random.scan(body, jnp.zeros(()), xs)

    masks = []
    for _ in range(3):
        w.grad = None
        total, ys = opt.step(closure) if how == "step" else jnn.autograd.backward(closure)
        np.testing.assert_allclose(np.asarray(w.grad), np.asarray(ys).sum(0), rtol=1e-6)
        masks.append(np.asarray(ys) != 0)
    assert all((a != b).any() for a, b in zip(masks, masks[1:]))
    assert 0.45 < np.mean(masks) < 0.75


def test_plain_jit_after_a_compiled_step_still_refuses_the_global_generator():
    """The newest key sits in a compiled step's pending store; a read of it inside a plain
    jax.jit must stay concrete, so the draw raises jnn's error instead of leaking a tracer
    into the generator (which would break every later draw)."""
    drop = jnn.nn.Dropout(0.5)
    x = jnp.ones(8)
    step = jnn.compile(lambda x: drop(x))
    step(x)
    step(x)
    with pytest.raises(RuntimeError, match="does not thread its key"):
        jax.jit(lambda x: drop(x))(x)
    assert drop(x).shape == (8,)  # the generator still works eagerly


def test_generator_takes_torchs_device_argument():
    g = jnn.Generator("cpu")
    assert isinstance(g, jnn.random.Generator) and g.initial_seed() == 0
    assert jnn.Generator(device="cpu").manual_seed(3).initial_seed() == 3
    assert jnn.Generator(7).initial_seed() == 7  # jnn's shorthand for a seed
    with pytest.raises(RuntimeError) as expected:
        torch.Generator("nosuch")
    with pytest.raises(RuntimeError, match=re.escape(str(expected.value))):
        jnn.Generator("nosuch")


# (id, call(m) with m = torch or jnn, how much of torch's message jnn must match):
# "all" torch's whole message (as a regex), "head" its words before the number it reports,
# "type" the exception type only (torch names its CUDA library or its state struct).
GENERATOR_ERRORS: list[tuple[str, Any, str]] = [
    ("seed-float", lambda m: m.Generator().manual_seed(1.5), "all"),
    ("seed-str", lambda m: m.Generator().manual_seed("5"), "all"),
    ("seed-bool", lambda m: m.Generator().manual_seed(True), "all"),
    ("seed-none", lambda m: m.Generator().manual_seed(None), "all"),
    ("seed-numpy-int", lambda m: m.Generator().manual_seed(np.int64(5)), "all"),
    ("seed-numpy-float", lambda m: m.Generator().manual_seed(np.float64(5)), "all"),
    ("seed-numpy-array", lambda m: m.Generator().manual_seed(np.array(5)), "all"),
    ("seed-too-big", lambda m: m.Generator().manual_seed(2**64), "all"),
    ("seed-too-small", lambda m: m.Generator().manual_seed(-(2**63) - 1), "all"),
    ("global-seed-too-big", lambda m: m.manual_seed(2**70), "all"),
    ("global-seed-text", lambda m: m.manual_seed("a"), "all"),
    ("global-seed-none", lambda m: m.manual_seed(None), "all"),
    ("random-manual-seed-too-big", lambda m: m.random.manual_seed(2**64), "all"),
    ("second-positional", lambda m: m.Generator("cpu", 3), "all"),
    ("device-twice", lambda m: m.Generator("cpu", device="cpu"), "all"),
    ("device-float-keyword", lambda m: m.Generator(device=3.5), "all"),
    ("device-float", lambda m: m.Generator(3.5), "all"),
    ("device-bool", lambda m: m.Generator(True), "all"),
    ("device-list", lambda m: m.Generator([1]), "all"),
    ("device-index-keyword", lambda m: m.Generator(device=0), "all"),
    ("device-negative-index", lambda m: m.Generator(device=-1), "all"),
    ("device-empty", lambda m: m.Generator(""), "all"),
    ("device-unknown", lambda m: m.Generator("nosuch"), "all"),
    ("device-cuda", lambda m: m.Generator("cuda"), "type"),
    ("set-state-int", lambda m: m.Generator().set_state(3), "all"),
    ("set-state-none", lambda m: m.Generator().set_state(None), "all"),
    ("set-state-list", lambda m: m.Generator().set_state([1, 2]), "all"),
    ("set-state-generator", lambda m: m.Generator().set_state(m.Generator()), "type"),
    ("set-rng-state-int", lambda m: m.random.set_rng_state(3), "all"),
    ("set-state-float", lambda m: m.Generator().set_state(
        m.Generator().get_state().float() if m is torch else jnp.zeros(2, jnp.float32)), "all"),
    ("set-state-int64", lambda m: m.Generator().set_state(
        m.Generator().get_state().long() if m is torch else jnp.zeros(2, jnp.int32)), "all"),
    ("set-state-short", lambda m: m.Generator().set_state(
        m.Generator().get_state()[:10] if m is torch else jnp.zeros(1, jnp.uint32)), "head"),
    ("set-state-keys", lambda m: m.Generator().set_state(
        m.Generator().get_state()[:10] if m is torch else jax.random.split(
            jax.random.key(0), 3)), "head"),
    ("set-state-bytes", lambda m: m.Generator().set_state(  # torch's dtype, a wrong size
        m.Generator().get_state()[:10] if m is torch else jnp.zeros(10, jnp.uint8)), "head"),
    ("set-rng-state-bytes", lambda m: m.set_rng_state(
        m.get_rng_state()[:10] if m is torch else jnp.zeros(10, jnp.uint8)), "head"),
    ("global-seed-array", lambda m: m.manual_seed(m.tensor([1, 2])), "all"),
    ("initial-seed-argument", lambda m: m.Generator().initial_seed(1), "type"),
    ("fork-rng-device-type", lambda m: m.random.fork_rng(device_type="nosuch").__enter__(),
     "all"),
]


@pytest.mark.parametrize("name,call,how", GENERATOR_ERRORS,
                         ids=[r[0] for r in GENERATOR_ERRORS])
def test_generator_errors_match_torch(name: str, call: Any, how: str) -> None:
    with pytest.raises(Exception) as theirs:
        call(torch)
    message = str(theirs.value)
    pattern = {"all": re.escape(message), "type": None,
               "head": re.escape(message[message.find("but found"):].rsplit(" ", 1)[0])}[how]
    with pytest.raises(type(theirs.value), match=pattern):
        call(jnn)


@pytest.mark.parametrize("seed", [0, 7, -1, -(2**63), 2**63, 2**64 - 1, 1.5, "5", True,
                                  np.int64(9), np.float64(2.0), np.array([3]),
                                  np.array([[4]])], ids=repr)
def test_manual_seed_accepts_what_torch_accepts(seed: Any) -> None:
    """torch.manual_seed calls int() first (a one-element tensor of any rank is taken)
    and stores the seed as a uint64."""
    theirs = torch.tensor(seed) if isinstance(seed, np.ndarray) else seed
    assert jnn.manual_seed(seed).initial_seed() == torch.manual_seed(theirs).initial_seed()
    assert jnn.initial_seed() == torch.initial_seed()
    if isinstance(seed, int) and not isinstance(seed, bool):  # Generator.manual_seed: ints
        ours = jnn.Generator().manual_seed(seed).initial_seed()
        assert ours == torch.Generator().manual_seed(seed).initial_seed()


def test_seeds_are_64_bit_and_negatives_wrap_as_in_torch() -> None:
    def draw(seed: int) -> np.ndarray:
        return np.asarray(jnn.rand(4, generator=jnn.Generator().manual_seed(seed)))

    # torch: -1 and 2**64 - 1 are one seed; 0 and 2**32 two.
    assert torch.Generator().manual_seed(-1).initial_seed() == 2**64 - 1
    np.testing.assert_array_equal(draw(-1), draw(2**64 - 1))
    assert not np.array_equal(draw(0), draw(2**32))
    assert not np.array_equal(draw(2**63), draw(0))
    for seed in (0, 5, 2**31 - 1):  # seeds below 2**32 keep their stream: jax.random.key's
        np.testing.assert_array_equal(
            jax.random.key_data(jnn.Generator().manual_seed(seed).get_state()),
            jax.random.key_data(jax.random.key(seed)))


def test_generator_accepts_what_torch_accepts() -> None:
    for device in ("cpu", "cpu:1", b"cpu", torch.device("cpu", 2), None):
        torch.Generator(device)  # all accepted by torch
        assert jnn.Generator(device).initial_seed() == 0
        assert jnn.Generator(device=device).initial_seed() == 0
    assert jnn.Generator(jnn.device("cpu")).initial_seed() == 0
    assert jnn.Generator(jax.devices()[0]).initial_seed() == 0
    assert jnn.Generator(7).initial_seed() == 7  # jnn's shorthand (torch: a device index)
    assert jnn.Generator(seed=-1).initial_seed() == 2**64 - 1  # jnn's keyword


@pytest.mark.parametrize("lib", ["torch", "jnn"])
def test_seed_reseeds_from_entropy_and_state_round_trips(lib: str) -> None:
    module = torch if lib == "torch" else jnn
    g = module.Generator()
    s = g.seed()
    assert isinstance(s, int) and 0 <= s < 2**64 and g.initial_seed() == s
    assert g.seed() != s  # 64 random bits: never the same twice in practice
    state = g.get_state()
    a = np.asarray(module.rand(4, generator=g))
    assert module.Generator().set_state(state) is not None  # returns the generator
    assert g.set_state(state) is g
    np.testing.assert_array_equal(np.asarray(module.rand(4, generator=g)), a)
    s = module.seed()
    assert isinstance(s, int) and module.initial_seed() == s


def test_set_state_takes_a_key_or_its_data_in_any_shape_of_the_right_size() -> None:
    """torch reads a state by its size (a reshaped state is accepted); jnn's state is a key,
    or its uint32 data (jax.random.PRNGKey's form)."""
    g = jnn.Generator().manual_seed(3)
    state = g.get_state()
    a = np.asarray(jnn.rand(4, generator=g))
    torch_state = torch.Generator().get_state()
    torch.Generator().set_state(torch_state.reshape(2, -1))  # accepted by torch
    data = jax.random.key_data(state)
    for same in (state, state.reshape(1), data, np.asarray(data), data.reshape(2, 1)):
        g.set_state(same)
        np.testing.assert_array_equal(np.asarray(jnn.rand(4, generator=g)), a)
    with pytest.raises(TypeError, match="another implementation .key<rbg>.: this generator"):
        g.set_state(jax.random.key(0, impl="rbg"))


@pytest.mark.parametrize("lib", ["torch", "jnn"])
def test_fork_rng_takes_torchs_arguments(lib: str) -> None:
    """fork_rng(devices, enabled, ...): a positional list is ``devices`` (it once was
    ``enabled``, so ``fork_rng([])`` forked nothing); ``device_type='meta'`` forks nothing."""
    module = torch if lib == "torch" else jnn
    module.manual_seed(0)
    first = np.asarray(module.rand(3))
    module.manual_seed(0)
    with module.random.fork_rng([]):
        module.rand(3)
    np.testing.assert_array_equal(np.asarray(module.rand(3)), first)
    module.manual_seed(0)
    with module.random.fork_rng(devices=iter([]), enabled=True):
        module.rand(3)
    np.testing.assert_array_equal(np.asarray(module.rand(3)), first)
    module.manual_seed(0)
    with module.random.fork_rng(device_type="meta"):
        module.rand(3)
    assert not np.array_equal(np.asarray(module.rand(3)), first)


def test_init_generator_argument_is_checked() -> None:
    """jnn.nn.init draws through jnn.random.next_key, which checks the generator too."""
    with pytest.raises(TypeError) as theirs:
        torch.nn.init.normal_(torch.zeros(3), generator=3)
    pattern = re.escape(str(theirs.value).split("(): ", 1)[1])
    with pytest.raises(TypeError, match=pattern):
        jnn.nn.init.normal_(jnp.zeros(3), generator=3)
    with pytest.raises(TypeError, match=pattern.replace("int", "bool")):
        jnn.random.next_key(False)
