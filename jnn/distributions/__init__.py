"""torch.distributions' Categorical, Normal and Bernoulli on jax arrays."""

__all__: list[str] = []
