"""DataLoader: batches of jax arrays from a dataset, torch.utils.data.DataLoader's API.

Loading runs in the main process; no worker processes are ever spawned.  With
``num_workers=0`` (the default) each batch is loaded in the calling thread when it is
asked for, exactly torch's single-process behaviour.  With ``num_workers > 0`` one
background thread loads, collates and moves batches to the device ahead of the consumer,
through a queue of ``prefetch_factor`` batches: the next batch is on its way while the
current step runs.  NumPy indexing, collation and device transfers release the GIL.

The thread holds no reference to the iterator: when the iterator is dropped (an early
``break``, an exception, the end of the epoch) a finalizer stops the thread, which exits
within a fraction of a second.  An exception raised by the dataset in the thread is raised
again in the consumer when the batch it belongs to is asked for, and loading continues
with the next batch if the consumer goes on, as in torch.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import queue
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from jnn.utils.data._collate import _put_batch, default_collate, default_convert
from jnn.utils.data.dataset import (
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    _gather,
    _int_index,
    _is_array,
)
from jnn.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    _generator_t,
)

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

_T_co = TypeVar("_T_co", covariant=True)
_worker_init_fn_t = Callable[[int], None]
_collate_fn_t = Callable[[list], Any]


def get_worker_info() -> None:
    """Always ``None``: jnn loads in the main process, never in a worker process.

    Dataset code written for torch's workers (sharding an :class:`IterableDataset` by
    worker id) therefore takes its single-process branch, which is right here: there is
    one copy of the dataset, iterated once.

    PyTorch: ``torch.utils.data.get_worker_info``.
    """
    return None


class _DatasetKind:
    Map = 0
    Iterable = 1


class _InfiniteConstantSampler(Sampler):
    """``None`` forever: the index sampler of an IterableDataset (it ignores indices)."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


def _fast_batch(dataset: Any, indices: list) -> Any:
    """A default-collated batch read with one gather per array, else ``None``.

    For TensorDataset, Subset, StackDataset and ConcatDataset (nested as they like) and a
    bare array: :func:`~jnn.utils.data.dataset._gather` indexes each whole array once with
    the batch's indices (NumPy fancy indexing on the host, device arrays where they are),
    then one ``device_put`` moves the batch.  The result equals the per-sample path's;
    anything else (a user dataset inside, a subclass that changes how items are read, an
    index that is not an integer) returns ``None`` and is read sample by sample.

    One shuffled epoch, 10k rows of a jax-array TensorDataset ``ds``, batches of 64 (2
    shared CPU cores; sample by sample -> gathered, torch): ``ConcatDataset([ds, ds])``
    3092 -> 44 ms (55); ``StackDataset(ds, ds)`` 2804 -> 23 ms (55);
    ``Subset(ds, jnp.arange(0, N, 2))`` 412 -> 9 ms (21); a bare jax array 749 -> 9 ms (15).
    """
    if not (isinstance(dataset, _GATHERED) or _is_array(dataset)):
        return None
    index = _int_index(indices)
    if index is None:
        return None
    batch = _gather(dataset, index)
    return None if batch is None else _put_batch(batch)


_GATHERED = (TensorDataset, Subset, StackDataset, ConcatDataset)


class _MapDatasetFetcher:
    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.fast = auto_collation and collate_fn is default_collate

    def fetch(self, possibly_batched_index: Any) -> Any:
        if not self.auto_collation:
            return self.collate_fn(self.dataset[possibly_batched_index])
        if self.fast:
            batch = _fast_batch(self.dataset, possibly_batched_index)
            if batch is not None:
                return batch
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems:
            data = getitems(possibly_batched_index)
        else:
            data = [self.dataset[idx] for idx in possibly_batched_index]
        return self.collate_fn(data)


class _IterableDatasetFetcher:
    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> None:
        self.dataset_iter = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, possibly_batched_index: Any) -> Any:
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.dataset_iter))
        data = []
        for _ in possibly_batched_index:
            try:
                data.append(next(self.dataset_iter))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(possibly_batched_index)):
            raise StopIteration
        return self.collate_fn(data)


class DataLoader(Generic[_T_co]):
    """Iterates a dataset in batches of jax arrays.

    Args:
        dataset: a map-style :class:`Dataset` (or anything with ``__getitem__`` and
            ``__len__``) or an :class:`IterableDataset`.
        batch_size: samples per batch (default 1); ``None`` turns batching off.
        shuffle: reshuffle at every epoch (a fresh draw from ``generator`` or jnn's global
            generator at each ``iter()``, so ``jnn.manual_seed`` makes it reproducible).
        sampler: the order of the indices (excludes ``shuffle``).
        batch_sampler: yields lists of indices (excludes ``batch_size``, ``shuffle``,
            ``sampler`` and ``drop_last``).
        num_workers: ``0`` loads in the calling thread; ``> 0`` loads in one background
            thread of this process that prefetches batches (no processes are spawned).
        collate_fn: merges a list of samples into a batch (default :func:`default_collate`).
        pin_memory: accepted, no effect (``jax.device_put`` does the transfer).
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        timeout: with ``num_workers > 0``, seconds to wait for a batch before raising.
        worker_init_fn: with ``num_workers > 0``, called as ``worker_init_fn(0)`` in the
            loading thread before it loads.
        multiprocessing_context: validated as torch does, otherwise unused.
        generator: a :class:`jnn.random.Generator` for the default ``RandomSampler``.
        prefetch_factor: with ``num_workers > 0``, batches loaded ahead (default 2).
        persistent_workers: accepted (needs ``num_workers > 0``); each epoch starts a
            fresh loading thread, which costs microseconds.
        pin_memory_device, in_order: accepted, no effect (batches always come in order).

    Example:
        >>> loader = DataLoader(TensorDataset(np.zeros((10, 3), np.float32)), batch_size=4)
        >>> [tuple(x.shape) for (x,) in loader]
        [(4, 3), (4, 3), (2, 3)]

    PyTorch: ``torch.utils.data.DataLoader`` with the same arguments, checks and lengths.
    Differences: batches are jax arrays on the default device (dtypes as
    :func:`default_collate` says); loading never uses worker processes (see
    ``num_workers``); random orders come from jnn's generator; with the default collate a
    batch of a :class:`TensorDataset` (or a bare array, or a Subset, StackDataset or
    ConcatDataset of them) is read by indexing each whole array once. With
    ``num_workers > 0`` the dataset's code runs in the loading thread, concurrently with
    the main thread: a dataset that draws from jnn's global generator (random
    augmentation) should get its own :class:`jnn.random.Generator` to stay reproducible.
    """

    dataset: Dataset[_T_co]
    batch_size: int | None
    num_workers: int
    pin_memory: bool
    drop_last: bool
    timeout: float
    sampler: Sampler | Iterable
    prefetch_factor: int | None
    __initialized = False

    def __init__(self, dataset: Dataset[_T_co], batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler[list] | Iterable[list] | None = None,
                 num_workers: int = 0, collate_fn: _collate_fn_t | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: _worker_init_fn_t | None = None,
                 multiprocessing_context: Any = None, generator: _generator_t = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        prefetch_factor = _check_workers(num_workers, timeout, prefetch_factor,
                                         persistent_workers)
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            _check_iterable_options(shuffle, sampler, batch_sampler)
        else:
            self._dataset_kind = _DatasetKind.Map
            shuffle = bool(shuffle)
        batch_size, drop_last = _check_batching(batch_size, shuffle, sampler, batch_sampler,
                                                drop_last)
        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)  # type: ignore[arg-type]
            else:
                sampler = SequentialSampler(dataset)  # type: ignore[arg-type]
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.__initialized = True
        # len(dataset) of an IterableDataset, once len(loader) has asked for it
        self._IterableDataset_len_called: int | None = None

    @property
    def multiprocessing_context(self) -> Any:
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, multiprocessing_context: Any) -> None:
        if multiprocessing_context is not None:
            multiprocessing_context = _check_context(multiprocessing_context, self.num_workers)
        self.__multiprocessing_context = multiprocessing_context

    def __setattr__(self, attr: str, val: Any) -> None:
        if self.__initialized and attr in ("batch_size", "batch_sampler", "sampler",
                                           "drop_last", "dataset", "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    def __iter__(self) -> _BaseDataLoaderIter:
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        return _ThreadedDataLoaderIter(self)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if self._dataset_kind == _DatasetKind.Iterable:
            # An estimate from len(dataset), as torch's (the stream may hold more or less).
            length = self._IterableDataset_len_called = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is not None:
                if self.drop_last:
                    return length // self.batch_size
                return math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)


def _check_workers(num_workers: int, timeout: float, prefetch_factor: int | None,
                   persistent_workers: bool) -> int | None:
    """torch's checks of the worker options, with its wording; the effective prefetch."""
    if num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                         "disable multiprocessing.")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                         "let num_workers > 0 to enable multiprocessing, otherwise set "
                         "prefetch_factor to None.")
    if num_workers > 0 and prefetch_factor is None:
        prefetch_factor = 2
    elif prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError("prefetch_factor option should be non-negative")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
    return prefetch_factor


def _check_iterable_options(shuffle: Any, sampler: Any, batch_sampler: Any) -> None:
    if shuffle not in {False, None}:
        raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                         f"option, but got shuffle={shuffle}")
    if sampler is not None:
        raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                         f"option, but got sampler={sampler}")
    if batch_sampler is not None:
        raise ValueError("DataLoader with IterableDataset: expected unspecified "
                         f"batch_sampler option, but got batch_sampler={batch_sampler}")


def _check_batching(batch_size: int | None, shuffle: Any, sampler: Any, batch_sampler: Any,
                    drop_last: bool) -> tuple[int | None, bool]:
    """torch's exclusions between the batching options; the effective batch_size, drop_last."""
    if sampler is not None and shuffle:
        raise ValueError("sampler option is mutually exclusive with shuffle")
    if batch_sampler is not None:
        if batch_size != 1 or shuffle or sampler is not None or drop_last:
            raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                             "shuffle, sampler, and drop_last")
        return None, False
    if batch_size is None and drop_last:
        raise ValueError("batch_size=None option disables auto-batching and is mutually "
                         "exclusive with drop_last")
    return batch_size, drop_last


def _check_context(context: Any, num_workers: int) -> Any:
    """torch's checks of ``multiprocessing_context`` (kept, though no process is started)."""
    if num_workers <= 0:
        raise ValueError("multiprocessing_context can only be used with multi-process "
                         f"loading (num_workers > 0), but got num_workers={num_workers}")
    if isinstance(context, str):
        valid_start_methods = multiprocessing.get_all_start_methods()
        if context not in valid_start_methods:
            raise ValueError("multiprocessing_context option should specify a valid start "
                             f"method in {valid_start_methods!r}, but got "
                             f"multiprocessing_context={context!r}")
        context = multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError("multiprocessing_context option should be a valid context object or "
                        "a string specifying the start method, but got "
                        f"multiprocessing_context={context}")
    return context


class _BaseDataLoaderIter:
    """One epoch over a DataLoader; made by ``iter(loader)``."""

    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        # Started here, in the calling thread: a random sampler draws its order now, in
        # program order with the other draws from jnn's generator.
        self._sampler_iter = iter(self._index_sampler)
        fetcher_cls = (_IterableDatasetFetcher if self._dataset_kind == _DatasetKind.Iterable
                       else _MapDatasetFetcher)
        self._fetcher = fetcher_cls(loader.dataset, loader._auto_collation, loader.collate_fn,
                                    loader.drop_last)
        self._num_yielded = 0

    def __iter__(self) -> _BaseDataLoaderIter:
        return self

    def _next_data(self) -> Any:
        raise NotImplementedError

    def __next__(self) -> Any:
        data = self._next_data()
        self._num_yielded += 1
        reported = self._IterableDataset_len_called
        if (self._dataset_kind == _DatasetKind.Iterable and reported is not None
                and self._num_yielded > reported):
            warnings.warn(f"Length of IterableDataset {self._dataset} was reported to be "
                          f"{reported}(when accessing len(dataloader)), but "
                          f"{self._num_yielded} samples have been fetched. ", stacklevel=2)
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __getstate__(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    """Loads each batch in the calling thread when it is asked for (``num_workers=0``)."""

    def __init__(self, loader: DataLoader) -> None:
        if loader.timeout != 0:  # torch refuses a timeout without workers, at iter()
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        super().__init__(loader)

    def _next_data(self) -> Any:
        index = next(self._sampler_iter)  # may raise StopIteration
        return self._fetcher.fetch(index)  # may raise StopIteration


_BATCH, _ERROR, _END = "batch", "error", "end"


def _load_next(fetcher: Any, sampler_iter: Iterator) -> Any:
    return fetcher.fetch(next(sampler_iter))


def _put(out: queue.Queue, stop: threading.Event, item: tuple) -> bool:
    """Put ``item`` unless the consumer went away meanwhile (then return False)."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.05)
            return True
        except queue.Full:
            pass
    return False


def _produce(load_next: Callable[[], Any], out: queue.Queue, stop: threading.Event,
             worker_init_fn: _worker_init_fn_t | None) -> None:
    """The loading thread: batches (or the exception loading one raised) into ``out``.

    It holds no reference to the iterator, so dropping the iterator runs its finalizer,
    which sets ``stop``; the thread then leaves within one put timeout (or after the
    batch it is loading).
    """
    if worker_init_fn is not None:
        try:
            worker_init_fn(0)
        except BaseException as exc:  # noqa: BLE001 - raised again in the consumer
            _put(out, stop, (_ERROR, exc))
            _put(out, stop, (_END, None))
            return
    while not stop.is_set():
        try:
            item: tuple = (_BATCH, load_next())
        except StopIteration:
            _put(out, stop, (_END, None))
            return
        except BaseException as exc:  # noqa: BLE001 - raised again in the consumer
            item = (_ERROR, exc)
        if not _put(out, stop, item):
            return
        item = ()  # drop the batch (or exception) before loading the next one


class _ThreadedDataLoaderIter(_BaseDataLoaderIter):
    """Loads batches ahead in a background thread (``num_workers > 0``); see the module doc."""

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        if loader.prefetch_factor is not None and loader.prefetch_factor <= 0:  # as torch's
            raise AssertionError(
                "prefetch_factor must be greater than 0 for MultiProcessingDataLoaderIter")
        self._queue: queue.Queue = queue.Queue(maxsize=loader.prefetch_factor or 2)
        self._stop = threading.Event()
        self._done = False
        load_next = functools.partial(_load_next, self._fetcher, self._sampler_iter)
        self._thread = threading.Thread(
            target=_produce, args=(load_next, self._queue, self._stop, loader.worker_init_fn),
            name="jnn.utils.data.DataLoader", daemon=True)
        self._thread.start()
        weakref.finalize(self, self._stop.set)

    def _get(self) -> tuple:
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            try:
                return self._queue.get(timeout=max(wait, 0.0))
            except queue.Empty:
                pass
            if deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
            if not self._thread.is_alive() and self._queue.empty():
                raise RuntimeError("DataLoader's loading thread exited unexpectedly")

    def _next_data(self) -> Any:
        if self._done:
            raise StopIteration
        kind, value = self._get()
        if kind == _END:
            self._shutdown()
            raise StopIteration
        if kind == _ERROR:
            try:
                raise value
            finally:
                value = None  # no frame -> exception -> frame cycle keeping this alive
        return value

    def _shutdown(self) -> None:
        self._done = True
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
