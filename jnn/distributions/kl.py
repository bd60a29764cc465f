"""``kl_divergence(p, q)`` and the registry of its closed forms."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jnn.distributions.bernoulli import Bernoulli
from jnn.distributions.categorical import Categorical
from jnn.distributions.distribution import Distribution
from jnn.distributions.normal import Normal

__all__ = ["kl_divergence", "register_kl"]

_KL_REGISTRY: dict[tuple[type, type], Callable] = {}


def register_kl(type_p: type, type_q: type) -> Callable[[Callable], Callable]:
    """Register ``fn(p, q)`` as ``KL(p || q)`` for the given pair of distribution types.

    Example::

        @register_kl(Normal, Normal)
        def kl_normal_normal(p, q): ...

    PyTorch: ``torch.distributions.kl.register_kl``.  Lookup takes the first registered
    pair along ``type(p)``'s method resolution order, then ``type(q)``'s (torch picks the
    most specific pair and warns on ambiguity; with single inheritance they agree).
    """
    for name, cls in (("type_p", type_p), ("type_q", type_q)):
        if not (isinstance(cls, type) and issubclass(cls, Distribution)):
            raise TypeError(f"Expected {name} to be a Distribution subclass but got {cls}")

    def decorator(fn: Callable) -> Callable:
        _KL_REGISTRY[type_p, type_q] = fn
        return fn

    return decorator


def kl_divergence(p: Distribution, q: Distribution) -> jax.Array:
    r"""``KL(p || q) = E_p[log p(x) - log q(x)]``, batched over the batch shape.

    Args:
        p: a distribution.
        q: a distribution of a type paired with ``p``'s in the registry.

    Returns:
        The divergences, of shape ``batch_shape`` (``p``'s and ``q``'s broadcast).

    PyTorch: ``torch.distributions.kl_divergence``, for the same-type pairs of Normal,
    Bernoulli and Categorical; other pairs raise ``NotImplementedError`` (torch's
    wording, except that a Normal/Bernoulli pair names the types instead of torch's
    exponential-family message).
    """
    for type_p in type(p).__mro__:
        for type_q in type(q).__mro__:
            fn = _KL_REGISTRY.get((type_p, type_q))
            if fn is not None:
                return fn(p, q)
    raise NotImplementedError(f"No KL(p || q) is implemented for p type "
                              f"{type(p).__name__} and q type {type(q).__name__}")


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> jax.Array:
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - jnp.log(var_ratio))


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> jax.Array:
    softplus = jax.nn.softplus
    p_probs, q_probs = p.probs, q.probs
    t1 = p_probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = jnp.where(p_probs == 0, 0.0, jnp.where(q_probs == 0, jnp.inf, t1))
    t2 = (1 - p_probs) * (softplus(q.logits) - softplus(p.logits))
    t2 = jnp.where(p_probs == 1, 0.0, jnp.where(q_probs == 1, jnp.inf, t2))
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> jax.Array:
    p_probs = p.probs
    t = p_probs * (p.logits - q.logits)
    # 0 log 0 = 0 wins over an impossible q class (torch writes inf first, then 0)
    t = jnp.where(p_probs == 0, 0.0, jnp.where(q.probs == 0, jnp.inf, t))
    return t.sum(-1)
