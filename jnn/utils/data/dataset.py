"""Datasets: map-style (``__getitem__``/``__len__``) and iterable-style (``__iter__``)."""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from jnn.utils.data._collate import _is_torch_tensor, _torch_to_numpy, np_str_obj_array_pattern
from jnn.utils.data.sampler import _generator_t, _host_rng

__all__ = [
    "ChainDataset",
    "ConcatDataset",
    "Dataset",
    "IterableDataset",
    "StackDataset",
    "Subset",
    "TensorDataset",
    "random_split",
]

_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)


class Dataset(Generic[_T_co]):
    """A map from keys (usually ``0 .. len - 1``) to samples, like ``torch.utils.data.Dataset``.

    Subclasses implement ``__getitem__`` and, for the default samplers, ``__len__``; they
    may add ``__getitems__(indices)`` (a list of samples) to load a batch at once.
    ``a + b`` is a :class:`ConcatDataset`.

    PyTorch: ``torch.utils.data.Dataset``.
    """

    def __getitem__(self, index: Any) -> _T_co:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset[_T_co]) -> ConcatDataset[_T_co]:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[_T_co], Iterable[_T_co]):
    """A stream of samples: subclasses implement ``__iter__``; ``a + b`` chains them.

    PyTorch: ``torch.utils.data.IterableDataset``. jnn loads in the main process, so one
    copy of the dataset is iterated once per epoch (no per-worker copies to shard:
    :func:`get_worker_info` returns ``None``).
    """

    def __add__(self, other: Dataset[_T_co]) -> ChainDataset:  # type: ignore[override]
        return ChainDataset([self, other])


def _first_dim(tensor: Any) -> int:
    shape = np.shape(tensor)
    if not shape:  # torch's tensor.size(0) of a 0-d tensor
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    return int(shape[0])


def _out_of_bounds(index: int, dim: int, size: int) -> IndexError:
    return IndexError(f"index {index} is out of bounds for dimension {dim} with size {size}")


def _reads_as_tuple(index: list) -> bool:
    """torch (as NumPy once did) reads a list holding sequences, slices, None or ``...``
    as a tuple of per-dimension indices: ``t[[[0, 9]]]`` is ``t[[0, 9]]``."""
    return any(isinstance(i, (list, tuple, slice, np.ndarray, jax.Array)) or i is None
               or i is Ellipsis for i in index)


def _torch_index(index: Any, shape: tuple[int, ...]) -> Any:
    """``index`` for an array of ``shape``, checked as torch checks a tensor's indices.

    JAX clamps an out-of-range index (``x[10]`` of 4 rows is the last row) where torch
    raises ``IndexError: index 10 is out of bounds for dimension 0 with size 4``; the same
    checks are made here, on Python ints for the common case (no device sync).
    """
    if type(index) is int:  # the DataLoader's per-sample path
        if not -shape[0] <= index < shape[0]:
            raise _out_of_bounds(index, 0, shape[0])
        return index
    if isinstance(index, list) and _reads_as_tuple(index):
        index = tuple(index)
    if not isinstance(index, tuple):
        return _torch_index_1(index, 0, shape[0])
    if sum(i is not None and i is not Ellipsis and not isinstance(i, (bool, np.bool_))
           for i in index) > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    if any(i is None or i is Ellipsis or isinstance(i, (bool, np.bool_)) for i in index):
        return index  # dimensions shift: left to the array's own indexing
    return tuple(_torch_index_1(i, d, shape[d]) if d < len(shape) else i
                 for d, i in enumerate(index))


def _torch_index_1(index: Any, dim: int, size: int) -> Any:
    """One per-dimension index, checked as torch does (see :func:`_torch_index`)."""
    if (index is None or index is Ellipsis or isinstance(index, (slice, bool, np.bool_))):
        return index
    if isinstance(index, (int, np.integer)):
        if not -size <= index < size:
            raise _out_of_bounds(int(index), dim, size)
        return index
    if isinstance(index, str):
        raise TypeError("new(): invalid data type 'str'")
    if isinstance(index, float):
        raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                         "byte Variables are valid indices (got float)")
    if _is_torch_tensor(index):  # a ported Subset's torch indices
        index = _torch_to_numpy(index)
    if isinstance(index, list):  # torch makes a list of numbers a long tensor
        index = np.asarray(index)
        if index.dtype.kind not in "biu":
            index = index.astype(np.int64)
    if not isinstance(index, (np.ndarray, jax.Array)) or isinstance(index, jax.core.Tracer):
        return index
    kind = np.dtype(index.dtype).kind
    if kind == "b":
        return index
    if kind not in "iu":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    values = np.asarray(index)
    bad = (values < -size) | (values >= size)
    if bad.any():
        raise _out_of_bounds(int(values[bad].flat[0]), dim, size)
    return index


class TensorDataset(Dataset[tuple[Any, ...]]):
    """Samples are the rows of the given arrays: ``dataset[i] == (t[i] for t in tensors)``.

    Args:
        *tensors: jax or NumPy arrays with the same size of the first dimension.

    A DataLoader with the default collate batches a TensorDataset by indexing each whole
    array once per batch (on the host for NumPy and CPU arrays, on the device for arrays
    already there), not by stacking samples; ``__getitems__`` reads a batch that way too.

    PyTorch: ``torch.utils.data.TensorDataset``; items are jax (or NumPy) arrays. torch's
    has no ``__getitems__``: a subclass that overrides ``__getitem__`` is read through it.
    """

    tensors: tuple[Any, ...]

    def __init__(self, *tensors: Any) -> None:
        for tensor in tensors:
            if not hasattr(tensor, "shape"):  # torch reads ``tensor.size(0)``
                raise AttributeError(f"'{type(tensor).__name__}' object has no attribute 'size'")
        if any(_first_dim(tensors[0]) != _first_dim(tensor) for tensor in tensors):
            raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors
        self._sources: tuple[tuple, list] | None = None  # (tensors, their batch sources)

    def __getitem__(self, index: Any) -> tuple[Any, ...]:
        # Checked as torch checks (JAX would clamp an index out of range).
        return tuple(tensor[_torch_index(index, tensor.shape)] for tensor in self.tensors)

    def __getitems__(self, indices: list) -> list[tuple[Any, ...]]:
        """The samples at ``indices``, as ``__getitem__`` gives them, each tensor indexed once."""
        index = _int_index(indices)
        if index is None or type(self).__getitem__ is not TensorDataset.__getitem__:
            return [self[i] for i in indices]
        _check_batch_index(index, len(self))
        return list(zip(*(list(tensor[index]) for tensor in self.tensors), strict=True))

    def __len__(self) -> int:
        return _first_dim(self.tensors[0])

    def _gather(self, index: np.ndarray) -> list | None:
        sources = self._batch_sources()
        if not all(_batchable(source) for source in sources):
            return None  # string arrays: the per-sample path raises collate's error
        _check_batch_index(index, len(self))
        return [source[index] for source in sources]

    def _batch_sources(self) -> list:
        """Each tensor in the form a batch is taken from: NumPy for host data, else as is."""
        if self._sources is None or self._sources[0] is not self.tensors:
            self._sources = (self.tensors, [_host_view(t) for t in self.tensors])
        return self._sources[1]


def _host_view(tensor: Any) -> Any:
    """A NumPy view of host data (NumPy, CPU jax arrays, torch tensors); arrays on an
    accelerator stay where they are."""
    if isinstance(tensor, jax.Array):
        if all(d.platform == "cpu" for d in tensor.devices()):
            return np.asarray(tensor)
        return tensor
    if _is_torch_tensor(tensor):
        return _torch_to_numpy(tensor)
    return np.asarray(tensor)


def _batchable(source: Any) -> bool:
    """An array whose rows default_collate stacks (not a string or object array)."""
    return np_str_obj_array_pattern.search(np.dtype(source.dtype).str) is None


def _check_batch_index(index: np.ndarray, size: int) -> None:
    """torch's error for a sampled index out of range (JAX would clamp it on a device)."""
    if index.size and (index.min() < -size or index.max() >= size):
        bad = index[(index < -size) | (index >= size)].flat[0]
        raise _out_of_bounds(int(bad), 0, size)


def _int_index(indices: Any) -> np.ndarray | None:
    """``indices`` as a 1-D NumPy integer array, or ``None`` if they are anything else
    (floats, bools, nested): those are read one by one, which raises torch's errors."""
    try:
        index = np.asarray(indices)
    except (ValueError, TypeError):
        return None
    return index if index.ndim == 1 and index.dtype.kind in "iu" else None


def _in_range(index: np.ndarray, size: int) -> bool:
    return not index.size or (index.min() >= -size and index.max() < size)


def _is_array(x: Any) -> bool:
    return (isinstance(x, (np.ndarray, jax.Array)) or _is_torch_tensor(x)) and np.ndim(x) > 0


def _gather(dataset: Any, index: np.ndarray) -> Any:
    """``default_collate([dataset[i] for i in index])`` before its device transfer, read
    with one gather per array; ``None`` when ``dataset`` cannot be read that way.

    The same structure (a list for tuples, dicts in their key order), values and dtypes as
    the per-sample path, with host leaves as NumPy arrays (arrays on an accelerator stay
    there). Only the stock classes, and only where a subclass keeps their ``__getitem__``
    and ``__getitems__``; a bare array is read like a one-tensor TensorDataset. Any index
    that the per-sample path would refuse makes it ``None`` (that path raises torch's
    error), except TensorDataset's out-of-range index, which raises the same error here.
    """
    for stock in (TensorDataset, Subset, StackDataset, ConcatDataset):
        if isinstance(dataset, stock):
            cls = type(dataset)
            if cls.__getitem__ is stock.__getitem__ and cls.__getitems__ is stock.__getitems__:
                return dataset._gather(index)
            return None
    if _is_array(dataset) and _in_range(index, len(dataset)):
        source = _host_view(dataset)
        return source[index] if _batchable(source) else None
    return None


def _concat_rows(parts: list, order: np.ndarray) -> Any:
    """The batches ``parts`` (same structure) joined, their rows put back at ``order``:
    row ``j`` of the joined arrays is sample ``order[j]``. ``None`` where the per-sample
    path could differ (other structures, dtypes or row shapes: it promotes or raises)."""
    first = parts[0]
    if isinstance(first, list):
        if any(not isinstance(p, list) or len(p) != len(first) for p in parts):
            return None
        items = [_concat_rows([p[i] for p in parts], order) for i in range(len(first))]
        return None if any(item is None for item in items) else items
    if isinstance(first, dict):
        if any(not isinstance(p, dict) or list(p) != list(first) for p in parts):
            return None
        fields = {k: _concat_rows([p[k] for p in parts], order) for k in first}
        return None if any(v is None for v in fields.values()) else fields
    if len({(type(p), p.dtype, p.shape[1:]) for p in parts}) != 1:
        return None
    rows = np.empty_like(order)
    rows[order] = np.arange(order.size)
    if isinstance(first, np.ndarray):
        return np.concatenate(parts)[rows]
    return jnp.concatenate(parts)[rows]


class StackDataset(Dataset[Any]):
    """Samples are tuples (``*args``) or dicts (``**kwargs``) of the given datasets' samples.

    PyTorch: ``torch.utils.data.StackDataset``.
    """

    datasets: tuple | dict

    def __init__(self, *args: Dataset[_T_co], **kwargs: Dataset[_T_co]) -> None:
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via "
                             "``kwargs``) like input/output, but both types are given.")
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed")
        parts = list(args) if args else list(kwargs.values())
        self._length = len(parts[0])  # type: ignore[arg-type]
        if any(self._length != len(dataset) for dataset in parts):  # type: ignore[arg-type]
            raise ValueError("Size mismatch between datasets")
        self.datasets = args if args else kwargs

    def __getitem__(self, index: Any) -> Any:
        if isinstance(self.datasets, dict):
            return {k: dataset[index] for k, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __getitems__(self, indices: list) -> list:
        """The samples at ``indices``: each dataset's batched read where it has one (torch's)."""
        named = self.datasets if isinstance(self.datasets, dict) else dict(
            enumerate(self.datasets))
        columns = {}
        for key, dataset in named.items():
            if callable(getattr(dataset, "__getitems__", None)):
                items = dataset.__getitems__(indices)  # type: ignore[union-attr]
                if len(items) != len(indices):
                    raise ValueError("Nested dataset's output size mismatch. Expected "
                                     f"{len(indices)}, got {len(items)}")
                columns[key] = items
            else:
                columns[key] = [dataset[idx] for idx in indices]
        if isinstance(self.datasets, dict):
            return [dict(zip(columns, sample, strict=True))
                    for sample in zip(*columns.values(), strict=True)]
        return list(zip(*columns.values(), strict=True))

    def __len__(self) -> int:
        return self._length

    def _gather(self, index: np.ndarray) -> list | dict | None:
        fields = {}
        named = self.datasets if isinstance(self.datasets, dict) else dict(
            enumerate(self.datasets))
        for key, dataset in named.items():  # in order, stopping where torch's error would be
            fields[key] = _gather(dataset, index)
            if fields[key] is None:
                return None
        return fields if isinstance(self.datasets, dict) else list(fields.values())


class ConcatDataset(Dataset[_T_co]):
    """The samples of several map-style datasets, one after another.

    Args:
        datasets: the datasets to concatenate.

    PyTorch: ``torch.utils.data.ConcatDataset``.
    """

    datasets: list[Dataset[_T_co]]
    cumulative_sizes: list[int]

    @staticmethod
    def cumsum(sequence: Iterable[Any]) -> list[int]:
        return list(itertools.accumulate(len(e) for e in sequence))

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> _T_co:
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[dataset_idx - 1] if dataset_idx else 0
        return self.datasets[dataset_idx][idx - start]

    def __getitems__(self, indices: list) -> list:
        """The samples at ``indices``, read from each dataset in one batch (its
        ``__getitems__`` where it has one), in the order asked."""
        index = _int_index(indices)
        if (index is None or not _in_range(index, len(self))
                or type(self).__getitem__ is not ConcatDataset.__getitem__):
            return [self[i] for i in indices]  # torch's errors, or a subclass's reads
        which, local = self._locate(index)
        samples: list = [None] * len(index)
        for dataset_idx in np.unique(which).tolist():
            at = np.flatnonzero(which == dataset_idx)
            dataset, rows = self.datasets[dataset_idx], local[at].tolist()
            getitems = getattr(dataset, "__getitems__", None)
            items = getitems(rows) if callable(getitems) else [dataset[i] for i in rows]
            for position, item in zip(at.tolist(), items, strict=True):
                samples[position] = item
        return samples

    def _locate(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each index's dataset and its index there (``index`` in range, negatives too)."""
        index = np.where(index < 0, index + len(self), index)
        which = np.searchsorted(self.cumulative_sizes, index, side="right")
        starts = np.concatenate([[0], self.cumulative_sizes[:-1]]).astype(index.dtype)
        return which, index - starts[which]

    def _gather(self, index: np.ndarray) -> Any:
        if not index.size or not _in_range(index, len(self)):
            return None
        which, local = self._locate(index)
        if (which == which[0]).all():  # one dataset: its rows in order
            return _gather(self.datasets[which[0]], local)
        parts = []
        for dataset_idx in np.unique(which).tolist():
            parts.append(_gather(self.datasets[dataset_idx], local[which == dataset_idx]))
            if parts[-1] is None:
                return None
        return _concat_rows(parts, np.argsort(which, kind="stable"))


class ChainDataset(IterableDataset):
    """The samples of several iterable datasets, one stream after another.

    PyTorch: ``torch.utils.data.ChainDataset``.
    """

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self) -> int:
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)  # type: ignore[arg-type]
        return total


class Subset(Dataset[_T_co]):
    """The samples of ``dataset`` at ``indices``.

    Args:
        dataset: the whole dataset.
        indices: the indices of the subset, in order.

    A subclass that overrides ``__getitem__`` must override ``__getitems__`` too (the
    DataLoader loads batches through it), as torch requires.

    PyTorch: ``torch.utils.data.Subset``.
    """

    dataset: Dataset[_T_co]
    indices: Sequence[int]

    def __init__(self, dataset: Dataset[_T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        cls = type(self)
        if cls.__getitem__ is not Subset.__getitem__ and cls.__getitems__ is Subset.__getitems__:
            raise NotImplementedError(
                f"{cls.__name__} overrides __getitem__ but not __getitems__. When subclassing "
                "Subset and overriding __getitem__, you must also override __getitems__ to "
                "ensure DataLoader works correctly with your custom logic. A simple "
                "implementation:\n\ndef __getitems__(self, indices):\n"
                "    return [self.__getitem__(idx) for idx in indices]"
            )

    def __getitem__(self, idx: Any) -> _T_co:
        indices = self._readable_indices()
        if isinstance(idx, list):
            return self.dataset[[indices[i] for i in idx]]
        return self.dataset[indices[idx]]

    def __getitems__(self, indices: list[int]) -> list[_T_co]:
        own = self._readable_indices()
        inner = [own[i] for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(inner)  # type: ignore[attr-defined]
        return [self.dataset[i] for i in inner]

    def __len__(self) -> int:
        return len(self.indices)

    def _readable_indices(self) -> Any:
        """``indices``, with a jax array read once into NumPy (cached while ``indices`` is
        the same object): each element of a jax array would be a device dispatch."""
        if not isinstance(self.indices, jax.Array):
            return self.indices
        cached = getattr(self, "_host_indices", None)
        if cached is None or cached[0] is not self.indices:
            cached = self._host_indices = (self.indices, np.asarray(self.indices))
        return cached[1]

    def _gather(self, index: np.ndarray) -> Any:
        if not _in_range(index, len(self.indices)):
            return None  # the per-sample path raises the sequence's own IndexError
        indices = self._readable_indices()
        if _is_array(indices):
            inner = _int_index(_host_view(indices)[index])
        else:
            inner = _int_index([indices[i] for i in index.tolist()])
        return None if inner is None else _gather(self.dataset, inner)


def _split_lengths(n: int, lengths: Sequence[int | float]) -> list[int]:
    """Fractions to lengths: floor each, then hand out the remainder round-robin (torch)."""
    subset_lengths = []
    for i, frac in enumerate(lengths):
        if frac < 0 or frac > 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        subset_lengths.append(math.floor(n * frac))
    for i in range(n - sum(subset_lengths)):
        subset_lengths[i % len(subset_lengths)] += 1
    for i, length in enumerate(subset_lengths):
        if length == 0:
            warnings.warn(f"Length of split at index {i} is 0. This might result in an "
                          "empty dataset.", stacklevel=3)
    return subset_lengths


def random_split(dataset: Dataset[_T], lengths: Sequence[int | float],
                 generator: _generator_t = None) -> list[Subset[_T]]:
    """Split ``dataset`` at random into non-overlapping subsets of the given lengths.

    Args:
        dataset: the dataset to split.
        lengths: the subsets' lengths, or fractions summing to 1: each length is then
            ``floor(frac * len(dataset))`` and the remainder is added one by one, round
            robin from the first subset (torch's rule, so the lengths equal torch's).
        generator: a :class:`jnn.random.Generator` (default: jnn's global generator) or a
            ``numpy.random.Generator``.

    Returns:
        A list of :class:`Subset`.

    Example:
        >>> [len(s) for s in random_split(range(10), [0.3, 0.3, 0.4])]
        [3, 3, 4]

    PyTorch: ``torch.utils.data.random_split``; the same lengths, a different permutation
    (jnn's generator; ``generator=None`` means the global generator, as torch's default).
    """
    n = len(dataset)  # type: ignore[arg-type]
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _split_lengths(n, lengths)
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    indices = _host_rng(generator).permutation(n).tolist()
    return [Subset(dataset, indices[end - length:end])
            for end, length in zip(itertools.accumulate(lengths), lengths, strict=True)]
