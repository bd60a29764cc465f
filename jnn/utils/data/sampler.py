"""Samplers: which dataset indices a DataLoader visits, and in which order.

Random samplers draw on the host: one key from jnn's generator (``jnn.random``) or the
``generator=`` given seeds a NumPy generator, which makes the whole permutation at once.
``jnn.manual_seed(s)`` therefore makes the order reproducible, and each ``iter()`` takes a
fresh key, so each epoch gets a new order.

The draw happens when ``iter(sampler)`` is called, not at the first ``next()`` as in
torch (whose ``__iter__`` is a generator function): a DataLoader calls ``iter`` in the
calling thread, so the draw keeps its place among the other draws of the program (a
model's dropout) even when batches are then loaded by a background thread.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any, Generic, TypeVar

import jax
import numpy as np

from jnn import _state
from jnn import random as jnn_random

__all__ = [
    "BatchSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
]

_T_co = TypeVar("_T_co", covariant=True)
# A jnn.random.Generator, or a NumPy Generator used as it is.
_generator_t = Any


def _host_rng(generator: _generator_t = None) -> np.random.Generator:
    """A NumPy generator seeded from one key of ``generator`` (default: jnn's global one).

    Permutations are made on the host: a key is drawn (one split), and NumPy does the rest,
    which is far cheaper than a device permutation per epoch and never compiles.
    """
    if isinstance(generator, np.random.Generator):
        return generator
    gen = generator if generator is not None else jnn_random.default_generator
    if not isinstance(gen, jnn_random.Generator):
        raise TypeError("generator should be a jnn.random.Generator or a "
                        f"numpy.random.Generator, but got {type(gen).__name__}")
    if _state.state.compile_depth or isinstance(gen.key, jax.core.Tracer):
        raise RuntimeError(
            "jnn.utils.data: a sampler drew its random order inside a traced function "
            "(jnn.compile, jax.jit). Data loading runs on the host, between steps: iterate "
            "the DataLoader outside the compiled step and pass each batch in, e.g. "
            "`for x, y in loader: loss = step(x, y)`."
        )
    key = gen.next_key()
    return np.random.default_rng(np.asarray(jax.random.key_data(key)))


class Sampler(Generic[_T_co]):
    """Base class of all samplers, like ``torch.utils.data.Sampler``.

    A subclass provides ``__iter__`` (indices, or lists of indices for a batch sampler)
    and, where it can, ``__len__``.

    PyTorch: ``torch.utils.data.Sampler``.
    """

    def __iter__(self) -> Iterator[_T_co]:
        raise NotImplementedError


class SequentialSampler(Sampler[int]):
    """Samples ``0, 1, ..., len(data_source) - 1`` in order.

    Args:
        data_source: the dataset (anything with ``__len__``).

    PyTorch: ``torch.utils.data.SequentialSampler``.
    """

    data_source: Sized

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """Samples indices in a random order; with replacement, ``num_samples`` of them.

    Args:
        data_source: the dataset (anything with ``__len__``).
        replacement: draw with replacement. Default ``False``.
        num_samples: how many indices to draw (default ``len(data_source)``). Without
            replacement and more than ``len(data_source)``, whole permutations follow one
            another (the last one cut short), as in torch.
        generator: a :class:`jnn.random.Generator` (default: jnn's global generator) or
            a ``numpy.random.Generator``.

    PyTorch: ``torch.utils.data.RandomSampler``; the same structure, a different random
    stream (jnn's generator, drawn once per ``iter()``).
    """

    data_source: Sized
    replacement: bool

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: _generator_t = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError("replacement should be a boolean value, but got "
                            f"replacement={self.replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        # Read on each use: the dataset may grow or shrink after the sampler is made.
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def __iter__(self) -> Iterator[int]:
        n, count = len(self.data_source), self.num_samples
        rng = _host_rng(self.generator)
        if self.replacement:
            if n == 0:  # torch's randint(high=0): NumPy would say "high <= 0"
                raise RuntimeError("random_ expects 'from' to be less than 'to', but got "
                                   "from=0 >= to=0")
            order = rng.integers(0, n, size=count)
        else:
            perms = [rng.permutation(n) for _ in range(-(-count // n))]
            order = np.concatenate(perms)[:count] if perms else np.zeros(0, np.int64)
        return iter(order.tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """Samples the given indices in a random order, without replacement.

    Args:
        indices: the indices to sample from.
        generator: a :class:`jnn.random.Generator` (default: the global one) or a
            ``numpy.random.Generator``.

    PyTorch: ``torch.utils.data.SubsetRandomSampler`` (a different random stream).
    """

    indices: Sequence[int]

    def __init__(self, indices: Sequence[int], generator: _generator_t = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        order = _host_rng(self.generator).permutation(len(self.indices)).tolist()
        indices = self.indices
        return (indices[i] for i in order)

    def __len__(self) -> int:
        return len(self.indices)


def _check_weights(weights: np.ndarray, num_samples: int, replacement: bool) -> None:
    """torch.multinomial's checks, with its wording (made when iterating, as torch does)."""
    if not np.all(weights >= 0):  # NaN fails this too, as in torch
        raise RuntimeError("invalid multinomial distribution (encountering probability "
                           "entry < 0)")
    if not np.all(np.isfinite(weights)):
        raise RuntimeError("invalid multinomial distribution (encountering probability "
                           "entry = infinity or NaN)")
    if weights.sum() <= 0:
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > weights.shape[0]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")


class WeightedRandomSampler(Sampler[int]):
    """Samples ``[0, ..., len(weights) - 1]`` with probabilities proportional to ``weights``.

    Args:
        weights: a 1-D sequence of non-negative weights (need not sum to one).
        num_samples: how many indices to draw.
        replacement: draw with replacement (default). Without it an index is drawn at
            most once, and zero-weight indices come only after all the others (as torch).
        generator: a :class:`jnn.random.Generator` (default: the global one) or a
            ``numpy.random.Generator``.

    PyTorch: ``torch.utils.data.WeightedRandomSampler`` (``weights`` is kept as a float64
    NumPy array, not a tensor; a different random stream).
    """

    weights: np.ndarray
    num_samples: int
    replacement: bool

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: _generator_t = None) -> None:
        if (not isinstance(num_samples, int) or isinstance(num_samples, bool)
                or num_samples <= 0):
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError("replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        if isinstance(weights, str):  # torch.as_tensor's refusal, then what is expected
            raise TypeError("new(): invalid data type 'str': weights should be a 1d sequence "
                            "of numbers")
        weights_array = np.asarray(weights, dtype=np.float64)
        if weights_array.ndim != 1:
            raise ValueError("weights should be a 1d sequence but given weights have shape "
                             f"{tuple(weights_array.shape)}")
        self.weights = weights_array
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        weights = self.weights
        _check_weights(weights, self.num_samples, self.replacement)
        rng = _host_rng(self.generator)
        if self.replacement:
            drawn = rng.choice(weights.shape[0], size=self.num_samples, p=weights / weights.sum())
        else:
            # Exponential race: index i finishes at Exp(1) / w_i; the first num_samples to
            # finish are a weighted draw without replacement.  Zero weights finish at +inf,
            # after every positive weight (torch's order too), ties broken at random.
            with np.errstate(divide="ignore"):
                finish = rng.exponential(size=weights.shape[0]) / weights
            tie_break = rng.random(weights.shape[0])
            drawn = np.lexsort((tie_break, finish))[: self.num_samples]
        return iter(drawn.tolist())

    def __len__(self) -> int:
        return self.num_samples


def _batches(indices: Iterator[Any], batch_size: int, drop_last: bool) -> Iterator[list]:
    while True:
        batch = list(itertools.islice(indices, batch_size))
        if not batch or (drop_last and len(batch) < batch_size):
            return
        yield batch


class BatchSampler(Sampler[list[int]]):
    """Groups the indices of another sampler into lists of ``batch_size``.

    Args:
        sampler: the sampler (or any iterable of indices) to group.
        batch_size: size of each batch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False))
        [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]

    PyTorch: ``torch.utils.data.BatchSampler``; ``iter()`` starts the wrapped sampler
    at once (its random draw happens then, in the calling thread).
    """

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        if (not isinstance(batch_size, int) or isinstance(batch_size, bool)
                or batch_size <= 0):
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        return _batches(iter(self.sampler), self.batch_size, self.drop_last)

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size  # type: ignore[arg-type]
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size  # type: ignore[arg-type]
