"""``jnn.backends.cudnn``: torch.backends.cudnn's switches.

* ``allow_tf32`` (default True, as torch's): whether float32 convolutions may use TF32 on
  GPUs.  False makes them full float32 (``precision=HIGHEST``); functions traced before the
  change are traced again (``jax.clear_caches()``).
* ``benchmark``: XLA already picks each GPU convolution's algorithm by timing candidates
  when it compiles the program (its autotuner), so there is nothing more to switch on; the
  flag is kept for the scripts that read it back.
* ``deterministic``: XLA chooses deterministic GPU algorithms only when started with
  ``XLA_FLAGS=--xla_gpu_deterministic_ops=true``; setting True on a GPU without that flag
  warns with the fix (XLA's CPU programs are deterministic).
* ``enabled``: XLA has no non-cuDNN GPU convolution to fall back to; the flag is kept.

Setting any of them to a non-bool raises torch's RuntimeError; ``flags(...)`` sets them
for a ``with`` block, as torch's.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
import warnings
from collections.abc import Iterator

import jax

from jnn import _precision

# (and the switches enabled, benchmark, deterministic, allow_tf32: the module's properties)
__all__ = ["is_available", "version", "flags"]

_values = {"enabled": True, "benchmark": False, "deterministic": False}
# (torch's setter names, in its errors; allow_tf32's says cublas, as torch's does)
_SETTERS = {"enabled": "set_enabled_cudnn", "benchmark": "set_benchmark_cudnn",
            "deterministic": "set_deterministic_cudnn", "allow_tf32": "set_allow_tf32_cublas"}
_DETERMINISTIC_FLAG = "--xla_gpu_deterministic_ops=true"


def _on_gpu() -> bool:
    return jax.default_backend() == "gpu"


def is_available() -> bool:
    """Whether convolutions run through cuDNN: JAX has a GPU backend.  PyTorch:
    ``torch.backends.cudnn.is_available``."""
    return _on_gpu()


def version() -> int | None:
    """cuDNN's version as torch gives it (``90100`` for 9.1.0), or None without a GPU or
    where JAX does not say.  PyTorch: ``torch.backends.cudnn.version``."""
    if not _on_gpu():
        return None
    try:
        from jax._src.lib import cuda_versions
    except ImportError:
        return None
    if cuda_versions is None:
        return None
    try:
        return int(cuda_versions.cudnn_get_version())
    except Exception:  # noqa: BLE001 - (another JAX's plugin) not said
        return None


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise RuntimeError(f"{_SETTERS[name]} expects a bool, but got {type(value).__name__}")
    return value


def _set(name: str, value: object) -> None:
    value = _check_bool(name, value)
    if name == "allow_tf32":
        _precision.set_conv_tf32(value)
        return
    _values[name] = value
    if (name == "deterministic" and value and _on_gpu()
            and _DETERMINISTIC_FLAG not in os.environ.get("XLA_FLAGS", "")):
        warnings.warn(
            "jnn.backends.cudnn.deterministic = True: XLA picks deterministic GPU algorithms "
            f"only when JAX starts with XLA_FLAGS={_DETERMINISTIC_FLAG}; set it in the "
            "environment before the first JAX call", UserWarning, stacklevel=3)


@contextlib.contextmanager
def flags(enabled: bool = False, benchmark: bool = False, benchmark_limit: int = 10,
          deterministic: bool = False, allow_tf32: bool = True) -> Iterator[None]:
    """Set the switches for a ``with`` block (every one: those not given take these
    defaults, as torch's), then restore them.  PyTorch: ``torch.backends.cudnn.flags``."""
    wanted = {"enabled": enabled, "benchmark": benchmark, "deterministic": deterministic,
              "allow_tf32": allow_tf32}
    saved = {name: _get(name) for name in wanted}
    for name, value in wanted.items():
        _set(name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            _set(name, value)


def _get(name: str) -> bool:
    return _precision.conv_tf32() if name == "allow_tf32" else _values[name]


def _switch(name: str) -> property:
    """A module attribute that reads the switch and checks and applies a new value."""
    return property(lambda module: _get(name), lambda module, value: _set(name, value),
                    doc=f"torch.backends.cudnn.{name}")


class _CudnnModule(types.ModuleType):
    """The module's class: its switches are properties (see the module's docstring)."""

    enabled = _switch("enabled")
    benchmark = _switch("benchmark")
    deterministic = _switch("deterministic")
    allow_tf32 = _switch("allow_tf32")


sys.modules[__name__].__class__ = _CudnnModule
