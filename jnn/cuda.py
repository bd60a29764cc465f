"""``jnn.cuda``: torch.cuda's queries and seeding, answered from JAX's GPU devices.

``is_available()`` is true when JAX sees a GPU (CUDA or ROCm).  There is one random
generator in jnn, so ``manual_seed``/``manual_seed_all`` seed it (``jnn.manual_seed``).
"""

from __future__ import annotations

from typing import Any

import jax

__all__ = [
    "is_available", "device_count", "current_device", "manual_seed", "manual_seed_all",
    "synchronize", "get_device_name", "memory_allocated", "max_memory_allocated",
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


def _stat(device: Any, key: str) -> int:
    stats = _gpu(device).memory_stats() or {}
    return int(stats.get(key, 0))


def memory_allocated(device: Any = None) -> int:
    """Bytes in use by arrays on the GPU (JAX's ``bytes_in_use``).

    PyTorch: ``torch.cuda.memory_allocated``.
    """
    return _stat(device, "bytes_in_use")


def max_memory_allocated(device: Any = None) -> int:
    """Peak bytes in use on the GPU (JAX's ``peak_bytes_in_use``).

    PyTorch: ``torch.cuda.max_memory_allocated``.
    """
    return _stat(device, "peak_bytes_in_use")
