"""Shared pytest set-up: hypothesis profiles and the torch oracle's import."""

import os

import jax
from hypothesis import HealthCheck, settings

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
