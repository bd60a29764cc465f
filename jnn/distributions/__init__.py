"""torch.distributions' Categorical, Normal and Bernoulli on jax arrays.

Distributions are JAX pytrees (their parameters are the leaves), differentiable with
``jax.grad`` (``log_prob`` in the parameters, ``Normal.rsample`` in ``loc``/``scale``), and
sample from jnn's global generator (``jnn.manual_seed`` reproduces a run; ``jnn.compile``
threads the key, so each call of a compiled step draws fresh samples).

PyTorch: ``torch.distributions``.  Differences: shapes are tuples; integer samples are JAX's
default integer (int32 unless ``jax_enable_x64``, torch's int64); value checks are skipped
for traced arrays; samples are equally distributed but not the same numbers as torch's.
"""

from jnn.distributions import constraints
from jnn.distributions.bernoulli import Bernoulli
from jnn.distributions.categorical import Categorical
from jnn.distributions.distribution import Distribution
from jnn.distributions.kl import kl_divergence, register_kl
from jnn.distributions.normal import Normal

__all__ = [
    "Bernoulli",
    "Categorical",
    "Distribution",
    "Normal",
    "constraints",
    "kl_divergence",
    "register_kl",
]
