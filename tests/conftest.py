"""Shared pytest set-up: XLA's compile level, hypothesis profiles, 32-bit JAX, full float32
convolutions on a GPU backend."""

import os

# Compiling dominates this suite (every row of the torch oracle builds several small XLA
# programs) and the arrays are tiny, so LLVM's optimisation passes cost far more than they
# save: level 0 cuts CPU compile time by about a third (measured).  HLO-level optimisation
# (fusion, simplification) still runs and IEEE semantics are kept (no fast-math at any
# level).  Set before JAX creates its backend; an explicit XLA_FLAGS level wins.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_backend_optimization_level=0").strip()

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Small, deterministic profile for CI; `HYPOTHESIS_PROFILE=dev` explores more.
settings.register_profile(
    "ci",
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

jax.config.update("jax_enable_x64", False)

# Program variants (jnn.compile's non-donating and hand-out programs) compile at their
# first call, as before background compiles: which program a step ran must not depend on
# a thread's timing here.  tests/test_state_protocol.py checks the background path
# (JNN_TEST_BACKGROUND_COMPILES=1 keeps it on everywhere; a few tests then time out of
# their expected program).
from jnn import _compile  # noqa: E402

if os.environ.get("JNN_TEST_BACKGROUND_COMPILES") != "1":
    _compile.BACKGROUND_COMPILES = False

# The torch oracle runs on the CPU in full float32.  On a GPU backend, jnn's float32
# convolutions allow TF32 as torch's cuDNN's do by default (``cudnn.allow_tf32``), 3e-4 away
# from full float32: the suite compares like with like by turning it off, as torch's own GPU
# tests do for their comparisons.  A test of the defaults asks for ``cudnn_defaults``.
import jnn.backends.cudnn  # noqa: E402

ON_GPU = jax.default_backend() != "cpu"
if ON_GPU:
    jnn.backends.cudnn.allow_tf32 = False


@pytest.fixture
def cudnn_defaults():
    """torch's cuDNN defaults for the test (TF32 convolutions allowed), the suite's after."""
    jnn.backends.cudnn.allow_tf32 = True
    yield
    jnn.backends.cudnn.allow_tf32 = not ON_GPU
