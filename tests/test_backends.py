"""``jnn.backends``: torch.backends' switches a ported script sets, against torch's."""

import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.backends.cudnn as tcudnn

import jnn
import jnn.backends.cudnn as cudnn
import jnn.nn as nn
import jnn.nn.functional as F
from jnn import _precision
from jnn.backends import cuda
from tests.test_precision import _precisions

SWITCHES = ("enabled", "benchmark", "deterministic", "allow_tf32")


@pytest.fixture(autouse=True)
def _defaults(cudnn_defaults):
    yield
    for name, value in zip(SWITCHES[:-1], (True, False, False)):
        setattr(cudnn, name, value)
    for name, value in zip(SWITCHES, (True, False, False, True)):
        setattr(tcudnn, name, value)
    _precision._defaults()
    torch.set_float32_matmul_precision("highest")


def _switches(module) -> dict:
    return {name: getattr(module, name) for name in SWITCHES}


def test_cudnn_switches_default_set_and_read_back_as_torch():
    assert _switches(cudnn) == _switches(tcudnn)
    assert cudnn.is_available() == tcudnn.is_available()  # (no GPU here: both False)
    assert cudnn.version() == tcudnn.version()
    # (allow_tf32 off drops JAX's compiled programs: its own tests below switch it)
    for name in SWITCHES[:-1]:
        for value in (True, False):
            setattr(cudnn, name, value)
            setattr(tcudnn, name, value)
            assert _switches(cudnn) == _switches(tcudnn)


@pytest.mark.parametrize("name", SWITCHES)
@pytest.mark.parametrize("value", ["yes", 1, None])
def test_a_non_bool_switch_raises_torchs_error(name, value):
    with pytest.raises(RuntimeError) as expected:
        setattr(tcudnn, name, value)
    with pytest.raises(RuntimeError, match=f"^{expected.value}$"):
        setattr(cudnn, name, value)


def test_flags_sets_every_switch_for_a_block_as_torch():
    cudnn.benchmark = tcudnn.benchmark = True
    for kwargs in ({}, {"enabled": True, "benchmark": True}, {"deterministic": True}):
        with tcudnn.flags(**kwargs):
            inside = _switches(tcudnn)
        with cudnn.flags(**kwargs):
            assert _switches(cudnn) == inside
        assert _switches(cudnn) == _switches(tcudnn)


def test_matmul_allow_tf32_is_the_float32_precision_as_torchs():
    """torch's older switch reads and sets the float32 matmul precision (in a fresh
    interpreter: torch 2.13 refuses to read the precision once both of its APIs were used
    in one process, which the other tests here do)."""
    script = textwrap.dedent("""
        import sys
        lib = sys.argv[1]
        if lib == "torch":
            import torch as top
            import torch.backends.cuda as cuda
        else:
            import jnn as top
            import jnn.backends.cuda as cuda
        out = [cuda.matmul.allow_tf32]
        for value in (True, False, True):
            cuda.matmul.allow_tf32 = value
            out += [cuda.matmul.allow_tf32, top.get_float32_matmul_precision()]
        for error in (lambda: setattr(cuda.matmul, "allow_tf32", "yes"),
                      lambda: cuda.matmul.foo, lambda: setattr(cuda.matmul, "foo", 1)):
            try:
                error()
            except Exception as e:
                out.append(f"{type(e).__name__}: {e}")
        print(out)
    """)
    torch_out, jnn_out = (
        subprocess.run([sys.executable, "-c", script, lib], capture_output=True, text=True,
                       timeout=300, check=True).stdout for lib in ("torch", "jnn"))
    assert jnn_out == torch_out
    cuda.matmul.allow_tf32 = True
    assert jnn.get_float32_matmul_precision() == "high"
    torch.set_float32_matmul_precision("medium")
    jnn.set_float32_matmul_precision("medium")
    assert cuda.matmul.allow_tf32 is True


def _conv_precisions(fn, *args) -> list:
    return [p for name, p in _precisions(fn, *args) if name == "conv_general_dilated"]


def test_cudnn_allow_tf32_off_makes_float32_convolutions_full_precision_and_retraces():
    x, w = jnp.ones((1, 2, 5)), jnp.ones((3, 2, 2))
    traces = []

    @jax.jit
    def conv(x, w):
        traces.append(1)
        return F.conv1d(x, w)

    conv(x, w)
    # (TF32 allowed, said explicitly: JAX's own default is full float32 since jnn's import)
    assert _conv_precisions(F.conv1d, x, w) == [(jax.lax.Precision.DEFAULT,) * 2]
    cudnn.allow_tf32 = False
    conv(x, w)
    assert len(traces) == 2  # traced again, not left at the old precision
    assert _conv_precisions(F.conv1d, x, w) == [(jax.lax.Precision.HIGHEST,) * 2]
    half = jnp.ones((1, 2, 5), jnp.bfloat16), jnp.ones((3, 2, 2), jnp.bfloat16)
    assert _conv_precisions(F.conv1d, *half) == [(jax.lax.Precision.DEFAULT,) * 2]


def test_a_compiled_cnn_step_trains_as_torch_across_an_allow_tf32_change():
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(4 * 4 * 4, 3))
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    model.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    opt = jnn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 6)).astype(np.float32)

    @jnn.compile
    def step(x):
        def closure():
            opt.zero_grad()
            return (model(x) ** 2).mean()
        return opt.step(closure)

    for i in range(4):
        if i == 2:
            cudnn.allow_tf32 = tcudnn.allow_tf32 = False
        topt.zero_grad()
        tloss = (tmodel(torch.from_numpy(x)) ** 2).mean()
        tloss.backward()
        topt.step()
        np.testing.assert_allclose(float(step(jnp.asarray(x))), tloss.item(), rtol=1e-5,
                                   atol=1e-6)
    for (k, tv), jv in zip(tmodel.state_dict().items(), model.state_dict().values()):
        np.testing.assert_allclose(np.asarray(jv), tv.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)


def test_deterministic_on_a_gpu_without_xlas_flag_warns_with_the_fix(monkeypatch):
    monkeypatch.setattr(cudnn, "_on_gpu", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cudnn.deterministic = True  # (XLA's CPU programs are deterministic: nothing to say)
    cudnn.deterministic = False
    monkeypatch.setattr(cudnn, "_on_gpu", lambda: True)
    monkeypatch.setenv("XLA_FLAGS", "")
    with pytest.warns(UserWarning, match="XLA_FLAGS=--xla_gpu_deterministic_ops=true"):
        cudnn.deterministic = True
    assert cudnn.deterministic is True
    cudnn.deterministic = False
    monkeypatch.setenv("XLA_FLAGS", "--xla_gpu_deterministic_ops=true")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cudnn.deterministic = True
