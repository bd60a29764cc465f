"""torch.utils.data: datasets, samplers and the DataLoader, yielding jax arrays."""

__all__: list[str] = []
