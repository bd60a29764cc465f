"""``jnn.cuda``: torch.cuda's queries and seeding, answered from JAX's GPU devices.

``is_available()`` is true when JAX sees a GPU (CUDA or ROCm).  There is one random
generator in jnn, so ``manual_seed``/``manual_seed_all`` seed it (``jnn.manual_seed``).
"""

from __future__ import annotations

from typing import Any

import jax

__all__ = [
    "is_available", "is_initialized", "device_count", "current_device", "set_device",
    "manual_seed", "manual_seed_all", "synchronize", "get_device_name",
    "get_device_capability", "get_device_properties", "is_bf16_supported", "empty_cache",
    "memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved",
    "mem_get_info",
]


def _gpus() -> list[jax.Device]:
    try:
        return jax.devices("gpu")
    except RuntimeError:  # no GPU backend in this JAX installation
        return []


def is_available() -> bool:
    """Whether JAX has a GPU device.  PyTorch: ``torch.cuda.is_available``."""
    return bool(_gpus())


def device_count() -> int:
    """How many GPU devices JAX sees.  PyTorch: ``torch.cuda.device_count``."""
    return len(_gpus())


def _require() -> list[jax.Device]:
    gpus = _gpus()
    if not gpus:
        raise RuntimeError("jnn.cuda: no GPU device is available to JAX (jax.devices('gpu') "
                           f"is empty; devices: {[d.platform for d in jax.devices()]})")
    return gpus


def current_device() -> int:
    """The index of the default GPU (JAX's first, 0).  PyTorch: ``torch.cuda.current_device``.

    Raises RuntimeError when no GPU is available, as torch does.
    """
    _require()
    default = jax.config.jax_default_device
    if isinstance(default, jax.Device) and default.platform == "gpu":
        return [d.id for d in _gpus()].index(default.id)
    return 0


def _gpu(device: Any = None) -> jax.Device:
    gpus = _require()
    if device is None:
        return gpus[current_device()]
    from jnn.nn.modules._casting import resolve_device

    return resolve_device(device if not isinstance(device, int) else f"cuda:{device}")


def manual_seed(seed: int) -> None:
    """Seed jnn's generator (there is one for every device).  PyTorch:
    ``torch.cuda.manual_seed``."""
    from jnn import random

    random.manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    """Same as :func:`manual_seed`.  PyTorch: ``torch.cuda.manual_seed_all``."""
    manual_seed(seed)


def synchronize(device: Any = None) -> None:
    """Wait until all computation on ``device`` (default: every GPU) has finished.

    Blocks on every live JAX array on that device, which covers work dispatched so far.
    Raises RuntimeError without a GPU, as torch does.

    PyTorch: ``torch.cuda.synchronize``.
    """
    targets = set(_require()) if device is None else {_gpu(device)}
    live = [a for a in jax.live_arrays() if not a.is_deleted() and targets & a.devices()]
    jax.block_until_ready(live)


def get_device_name(device: Any = None) -> str:
    """The GPU's model name (``device_kind``).  PyTorch: ``torch.cuda.get_device_name``."""
    return _gpu(device).device_kind


def _stat(device: Any, *keys: str) -> int:
    """The first of ``keys`` in the GPU's allocator statistics; 0 without a GPU, as torch's
    memory counters are before CUDA starts (a script logging them runs on a CPU too)."""
    if device is None and not _gpus():
        return 0
    stats = _gpu(device).memory_stats() or {}
    for key in keys:
        if key in stats:
            return int(stats[key])
    return 0


def memory_allocated(device: Any = None) -> int:
    """Bytes in use by arrays on the GPU (JAX's ``bytes_in_use``; 0 without a GPU).

    PyTorch: ``torch.cuda.memory_allocated``.
    """
    return _stat(device, "bytes_in_use")


def max_memory_allocated(device: Any = None) -> int:
    """Peak bytes in use on the GPU since the process started (JAX's
    ``peak_bytes_in_use``; XLA's allocator has no reset, so there is no
    ``reset_peak_memory_stats``; 0 without a GPU).

    PyTorch: ``torch.cuda.max_memory_allocated``.
    """
    return _stat(device, "peak_bytes_in_use")


def memory_reserved(device: Any = None) -> int:
    """Bytes the allocator holds on the GPU: its pool (JAX's ``pool_bytes``: the whole
    preallocated share, or what it took so far with ``XLA_PYTHON_CLIENT_PREALLOCATE=false``),
    else what is in use (an allocator without a pool); 0 without a GPU.  (XLA's
    ``bytes_reserved`` counts something else, and is 0 on an H200: measured.)

    PyTorch: ``torch.cuda.memory_reserved``.
    """
    return _stat(device, "pool_bytes", "bytes_in_use")


def max_memory_reserved(device: Any = None) -> int:
    """Peak bytes the allocator held (``peak_pool_bytes``, else as :func:`memory_reserved`;
    0 without a GPU).  PyTorch: ``torch.cuda.max_memory_reserved``."""
    return _stat(device, "peak_pool_bytes", "pool_bytes", "peak_bytes_in_use")


def mem_get_info(device: Any = None) -> tuple[int, int]:
    """``(free, total)`` bytes of the allocator's share of the GPU (JAX's ``bytes_limit``
    less ``bytes_in_use``).  PyTorch: ``torch.cuda.mem_get_info``."""
    stats = _gpu(device).memory_stats() or {}
    total = int(stats.get("bytes_limit", 0))
    return total - int(stats.get("bytes_in_use", 0)), total


def empty_cache() -> None:
    """Nothing to do: XLA's allocator keeps its pool (set ``XLA_PYTHON_CLIENT_PREALLOCATE``
    / ``XLA_PYTHON_CLIENT_ALLOCATOR=platform`` before JAX starts to change how it takes
    memory); arrays no longer referenced are freed into it.  Torch's call releases its
    cache to other processes.  PyTorch: ``torch.cuda.empty_cache``."""


def is_initialized() -> bool:
    """Whether JAX runs a GPU backend.  PyTorch: ``torch.cuda.is_initialized``."""
    return bool(_gpus())


def set_device(device: Any) -> None:
    """Make ``device`` (an index, ``'cuda:i'`` or a device) the GPU where new arrays and
    parameters are made (JAX's ``jax_default_device``).  PyTorch: ``torch.cuda.set_device``."""
    jax.config.update("jax_default_device", _gpu(device))


def get_device_capability(device: Any = None) -> tuple[int, int]:
    """The GPU's compute capability ``(major, minor)``: ``(9, 0)`` on an H100 or H200.
    PyTorch: ``torch.cuda.get_device_capability``."""
    return _capability(_gpu(device))


def _capability(dev: jax.Device) -> tuple[int, int]:
    text = str(getattr(dev, "compute_capability", "0.0"))
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


class _DeviceProperties:
    """What ``torch.cuda.get_device_properties`` gives that JAX can say."""

    __slots__ = ("name", "major", "minor", "total_memory", "multi_processor_count")

    def __init__(self, dev: jax.Device) -> None:
        self.name = dev.device_kind
        self.major, self.minor = _capability(dev)
        self.total_memory = int((dev.memory_stats() or {}).get("bytes_limit", 0))
        self.multi_processor_count = int(getattr(dev, "core_count", 0))

    def __repr__(self) -> str:
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, "
                f"minor={self.minor}, total_memory={self.total_memory // 2**20}MB, "
                f"multi_processor_count={self.multi_processor_count})")


def get_device_properties(device: Any = None) -> _DeviceProperties:
    """The GPU's name, compute capability, memory (the allocator's limit) and
    multiprocessor count.  PyTorch: ``torch.cuda.get_device_properties``."""
    return _DeviceProperties(_gpu(device))


def is_bf16_supported() -> bool:
    """Whether the GPU computes in bfloat16 natively (compute capability 8.0 and newer);
    False without a GPU, as torch's.  PyTorch: ``torch.cuda.is_bf16_supported``."""
    gpus = _gpus()
    if not gpus:
        return False
    return _capability(gpus[current_device()]) >= (8, 0)
