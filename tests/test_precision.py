"""float32 matrix-product precision as torch's: full float32 by default on every backend
(XLA's default is TF32 on NVIDIA GPUs), ``jnn.set_float32_matmul_precision`` as torch's,
and convolutions with TF32 allowed (torch's ``cudnn.allow_tf32`` default)."""

import os
import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
import jnn.nn as nn
import jnn.nn.functional as F
from jnn import _precision

HIGHEST = (jax.lax.Precision.HIGHEST,) * 2
HIGH = (jax.lax.Precision.HIGH,) * 2
DEFAULT = (jax.lax.Precision.DEFAULT,) * 2


@pytest.fixture(autouse=True)
def _restore_precision():
    """Every test starts and ends at the defaults (jnn's and torch's, and JAX's config)."""
    yield
    _precision._defaults()
    torch.set_float32_matmul_precision("highest")


def _precisions(fn, *args) -> list[tuple[str, object]]:
    """(primitive, precision) of every product and convolution in ``fn``'s jaxpr,
    sub-jaxprs (scan bodies, dispatched programs, checkpoints) included."""
    found: list[tuple[str, object]] = []

    def walk(jaxpr) -> None:
        for eqn in jaxpr.eqns:
            if eqn.primitive.name in ("dot_general", "conv_general_dilated"):
                found.append((eqn.primitive.name, eqn.params["precision"]))
            for value in eqn.params.values():
                for sub in value if isinstance(value, (list, tuple)) else [value]:
                    inner = getattr(sub, "jaxpr", sub)
                    if hasattr(inner, "eqns"):
                        walk(inner)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return found


def _rnn(kind):
    module = getattr(nn, kind)(3, 4, num_layers=2, **({"proj_size": 2} if kind == "LSTM" else {}))
    return lambda x: module(x)[0]


a34, a45 = jnp.ones((3, 4)), jnp.ones((4, 5))
# every product jnn computes itself: (name, function, float32 arguments)
PRODUCTS = {
    "F.linear": (F.linear, (jnp.ones((2, 3)), jnp.ones((5, 3)))),
    "F.linear bias": (F.linear, (jnp.ones((2, 3)), jnp.ones((5, 3)), jnp.ones(5))),
    "F.linear 3-d bias": (F.linear, (jnp.ones((2, 3)), jnp.ones((5, 3)), jnp.ones((2, 5)))),
    "F.bilinear": (F.bilinear, (jnp.ones((2, 3)), jnp.ones((2, 4)), jnp.ones((5, 3, 4)))),
    "F.linear_cross_entropy": (
        lambda x, w: F.linear_cross_entropy(x, w, jnp.zeros(2, jnp.int32)),
        (jnp.ones((2, 3)), jnp.ones((5, 3)))),
    "jnn.mm": (jnn.mm, (a34, a45)),
    "jnn.bmm": (jnn.bmm, (jnp.ones((2, 3, 4)), jnp.ones((2, 4, 5)))),
    "jnn.matmul": (jnn.matmul, (jnp.ones((2, 3, 4)), a45)),
    "jnn.einsum": (lambda x, y: jnn.einsum("ij,jk->ik", x, y), (a34, a45)),
    "jnn.einsum sublist": (lambda x, y: jnn.einsum(x, [0, 1], y, [1, 2], [0, 2]), (a34, a45)),
    "jnn.dot": (jnn.dot, (jnp.ones(3), jnp.ones(3))),
    "jnn.inner": (jnn.inner, (a34, jnp.ones((5, 4)))),
    "jnn.addmm": (jnn.addmm, (jnp.ones((3, 5)), a34, a45)),
    "jnn.cdist (mm)": (lambda x, y: jnn.cdist(x, y, compute_mode="use_mm_for_euclid_dist"),
                       (a34, jnp.ones((2, 4)))),
    "Parameter @": (lambda x, y: nn.Parameter(x) @ y, (a34, a45)),
    "nn.RNN": (_rnn("RNN"), (jnp.ones((2, 1, 3)),)),
    "nn.LSTM (proj_size)": (_rnn("LSTM"), (jnp.ones((2, 1, 3)),)),
    "nn.GRU": (_rnn("GRU"), (jnp.ones((2, 1, 3)),)),
}


@pytest.mark.filterwarnings("ignore:.*captured by jax.jit")
@pytest.mark.parametrize("name", PRODUCTS)
def test_float32_products_follow_torchs_precision(name):
    fn, args = PRODUCTS[name]
    assert jnn.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
    found = _precisions(fn, *args)
    assert found and all(p == HIGHEST for _, p in found), found
    jnn.set_float32_matmul_precision("high")
    found = _precisions(fn, *args)
    assert found and all(p == HIGH for _, p in found), found
    jnn.set_float32_matmul_precision("medium")
    assert all(p == DEFAULT for _, p in _precisions(fn, *args))


def test_half_products_take_no_float32_precision():
    """bfloat16 and float16 products and convolutions keep their own fast mode (``DEFAULT``,
    explicit: JAX's default is full float32 since jnn's import), whatever the setting."""
    x, w = jnp.ones((2, 3), jnp.bfloat16), jnp.ones((5, 3), jnp.bfloat16)
    for setting in ("highest", "medium"):
        jnn.set_float32_matmul_precision(setting)
        assert _precisions(F.linear, x, w) == [("dot_general", DEFAULT)]
        assert _precisions(jnn.matmul, x.astype(jnp.float16), w.T.astype(jnp.float16)) == [
            ("dot_general", DEFAULT)]
        assert _precisions(F.conv1d, jnp.ones((1, 2, 5), jnp.bfloat16),
                           jnp.ones((3, 2, 2), jnp.bfloat16)) == [
            ("conv_general_dilated", DEFAULT)]


def test_convolutions_allow_tf32_as_torchs_cudnn_default(cudnn_defaults):
    """torch keeps TF32 in cuDNN convolutions whatever the matmul precision
    (``cudnn.allow_tf32`` is True): jnn's float32 convolutions pass ``DEFAULT`` explicitly,
    JAX's own default being full float32 products (set at jnn's import, as torch's), and
    keep it after ``set_float32_matmul_precision``."""
    assert torch.backends.cudnn.allow_tf32
    x, w = jnp.ones((1, 2, 5)), jnp.ones((3, 2, 2))
    assert _precisions(F.conv1d, x, w) == [("conv_general_dilated", DEFAULT)]
    jnn.set_float32_matmul_precision("high")
    jnn.set_float32_matmul_precision("highest")
    assert _precisions(F.conv1d, x, w) == [("conv_general_dilated", DEFAULT)]
    assert _precisions(lambda a, b: F.conv_transpose1d(a, b), x, w.transpose(1, 0, 2)) == [
        ("conv_general_dilated", DEFAULT)]


def test_set_and_get_as_torch():
    for name in ("high", "medium", "highest"):
        jnn.set_float32_matmul_precision(name)
        torch.set_float32_matmul_precision(name)
        assert jnn.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
    for bad in ("bogus", "HIGH"):  # an unknown name warns and changes nothing
        jnn.set_float32_matmul_precision("high")
        torch.set_float32_matmul_precision("high")
        with pytest.warns(UserWarning) as got:
            jnn.set_float32_matmul_precision(bad)
        with warnings.catch_warnings(record=True) as expected:
            warnings.simplefilter("always")
            torch.set_float32_matmul_precision(bad)
        # torch's text, without its C++ source location "(Triggered internally at ...)"
        (mine,), (theirs,) = [str(w.message) for w in got], [str(w.message) for w in expected]
        assert mine.endswith("has no effect.") and theirs.startswith(mine)
        assert jnn.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
    for bad in (1, None):
        with pytest.raises(RuntimeError) as expected:
            torch.set_float32_matmul_precision(bad)
        with pytest.raises(RuntimeError, match=f"^{expected.value}$"):
            jnn.set_float32_matmul_precision(bad)


def _lowered_precisions(fn, *args) -> list[str]:
    """The precision XLA is asked for in each product of ``fn`` (JAX's default applied)."""
    text = jax.jit(fn).lower(*args).as_text()
    return [line.split("precision = [")[1].split("]")[0] for line in text.splitlines()
            if "dot_general" in line]


def test_importing_jnn_makes_plain_jax_products_full_float32_as_torchs():
    """A port's own ``x @ self.custom_param`` (``x`` an activation: a ``jax.Array``, whose
    ``@`` is JAX's) is full float32, as torch's: jnn's import sets JAX's default product
    precision to ``"highest"``, where JAX's default is TF32 on NVIDIA GPUs."""
    assert jax.config.jax_default_matmul_precision == "highest"
    x, p = jnp.ones((2, 3)), nn.Parameter(jnp.ones((3, 4)))
    assert _lowered_precisions(lambda x, w: x @ w, x, p.data) == ["HIGHEST, HIGHEST"]
    jnn.set_float32_matmul_precision("high")
    assert _lowered_precisions(lambda x, w: x @ w, x, p.data) == ["HIGH, HIGH"]


@pytest.mark.parametrize("chosen, lowered", [("tensorfloat32", "HIGH"), ("bfloat16", "DEFAULT")])
def test_a_jax_precision_chosen_before_the_import_is_kept(chosen, lowered):
    """A program (or its environment) that chose JAX's default before importing jnn keeps
    it; jnn's own products still follow torch's setting (full float32)."""
    script = (
        "import jax, jax.numpy as jnp\n"
        "import jnn, jnn.nn.functional as F\n"
        "x, w = jnp.ones((2, 3)), jnp.ones((4, 3))\n"
        "print(jax.config.jax_default_matmul_precision)\n"
        "text = jax.jit(lambda x, w: (x @ w.T, F.linear(x, w))).lower(x, w).as_text()\n"
        "print([l.split('precision = [')[1].split(']')[0]\n"
        "       for l in text.splitlines() if 'dot_general' in l])\n")
    env = {**os.environ, "JAX_DEFAULT_MATMUL_PRECISION": chosen, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=True, timeout=120).stdout.split("\n")
    assert out[0] == chosen
    assert out[1] == f"['{lowered}, {lowered}', 'HIGHEST, HIGHEST']"


def test_plain_jax_products_and_earlier_traces_follow_a_change():
    """The setter also sets JAX's ``jax_default_matmul_precision``: a plain ``x @ w``
    follows it, and a function jitted before the change is traced again, not left at the
    old precision."""
    traces = []

    @jax.jit
    def f(x, w):
        traces.append(1)
        return F.linear(x, w) + (x @ w.T)

    x, w = jnp.ones((2, 3)), jnp.ones((5, 3))
    f(x, w)
    f(x, w)
    assert len(traces) == 1
    jnn.set_float32_matmul_precision("high")
    f(x, w)
    assert len(traces) == 2
    assert [p for _, p in _precisions(f.__wrapped__, x, w)] == [HIGH, HIGH]


def test_a_compiled_step_traces_again_after_a_change_and_still_trains_as_torch():
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    model.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    opt = jnn.optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 3), np.float32), rng.standard_normal((4, 2), np.float32)

    @jnn.compile
    def step(x, y):
        def closure():
            opt.zero_grad()
            return F.mse_loss(model(x), y)
        return opt.step(closure)

    for i in range(4):
        if i == 2:  # (on a CPU every precision is float32: the numbers stay torch's)
            jnn.set_float32_matmul_precision("high")
            torch.set_float32_matmul_precision("high")
        topt.zero_grad()
        tloss = torch.nn.functional.mse_loss(tmodel(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        topt.step()
        loss = step(jnp.asarray(x), jnp.asarray(y))
        np.testing.assert_allclose(float(loss), tloss.item(), rtol=1e-5, atol=1e-6)
    assert step.trace_count == 2
    for (k, tv), jv in zip(tmodel.state_dict().items(), model.state_dict().values()):
        np.testing.assert_allclose(np.asarray(jv), tv.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)


def test_float32_linear_is_float32_accurate_on_this_backend():
    """On any backend (a GPU's default would be TF32, ~3e-4 here) a float32 ``F.linear``
    is within float32 rounding of a float64 reference, as torch's is."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 512), np.float32)
    w = rng.standard_normal((128, 512), np.float32)
    ref = x.astype(np.float64) @ w.astype(np.float64).T
    for out in (F.linear(jnp.asarray(x), jnp.asarray(w)),
                jnn.matmul(jnp.asarray(x), jnp.asarray(w).T)):
        error = np.linalg.norm(np.asarray(out, np.float64) - ref) / np.linalg.norm(ref)
        assert error < 1e-6, error
