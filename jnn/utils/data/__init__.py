"""torch.utils.data: datasets, samplers and the DataLoader, yielding jax arrays.

Everything runs in the main process (no worker processes); random orders are drawn on
the host from jnn's generator (``jnn.manual_seed`` makes them reproducible); batches are
jax arrays moved to the device with one ``jax.device_put`` per batch.
"""

from jnn.utils.data._collate import collate, default_collate, default_collate_fn_map
from jnn.utils.data.dataloader import DataLoader, default_convert, get_worker_info
from jnn.utils.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from jnn.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = [
    "BatchSampler",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "StackDataset",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "collate",
    "default_collate",
    "default_collate_fn_map",
    "default_convert",
    "get_worker_info",
    "random_split",
]
