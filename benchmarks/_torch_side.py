"""Where the benchmarks' PyTorch side runs: on CUDA when JAX runs on a GPU and torch sees
one (so that both frameworks are timed on the same device), else on the CPU."""

from __future__ import annotations

import platform

import jax
import numpy as np


def device() -> str:
    import torch

    return "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"


def tensor(value):
    """A torch tensor on the benchmarks' torch device, from a NumPy or JAX array."""
    import torch

    return torch.tensor(np.asarray(value)).to(device())


def sync(_out=None) -> None:
    """Wait for torch's queued work (a no-op on the CPU, where torch runs eagerly)."""
    import torch

    if device() == "cuda":
        torch.cuda.synchronize()


def describe() -> str:
    """One line: the machine, JAX's backend and devices, torch and where it runs."""
    gpu = f", {jax.devices()[0].device_kind}" if jax.default_backend() == "gpu" else ""
    line = (f"machine: {platform.machine()} {platform.processor() or ''}{gpu}; "
            f"jax {jax.__version__} on {jax.default_backend()}")
    try:
        import torch
    except ImportError:
        return line
    threads = f", {torch.get_num_threads()} threads" if device() == "cpu" else ""
    return f"{line}; torch {torch.__version__} on {device()}{threads}"
