"""``jnn.device``: torch's device object (``.type``, ``.index``), mapped onto JAX devices.

Every ``device=`` argument in jnn (creation functions, ``Module.to``) accepts it, as well
as strings (``'cpu'``, ``'cuda:1'``), ints and ``jax.Device`` objects: all go through
``jnn.nn.modules._casting.resolve_device``, which reads ``.type`` and ``.index``.
"""

from __future__ import annotations

import builtins
import re
from typing import Any

import jax

__all__ = ["device"]

# torch's device types, plus JAX's platform names ("gpu", "tpu").
_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
          "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
          "privateuseone")
_JAX_TYPES = ("gpu", "tpu")
_STRING = re.compile(r"^([A-Za-z_]+)(?::(0|[1-9][0-9]*))?$")


def _from_jax(dev: jax.Device) -> tuple[str, int]:
    platform = dev.platform
    index = [d.id for d in jax.devices(platform)].index(dev.id)
    return ("cuda" if platform == "gpu" else platform), index


# JAX's words for arguments committed to different devices, one match per device named
_INCOMPATIBLE = "incompatible devices"
_NAMED = re.compile(r"device ids \[([0-9]+)[0-9, ]*\] on platform (\w+)")


def mismatch_error(error: BaseException) -> RuntimeError | None:
    """torch's RuntimeError for JAX's refusal of arrays on different devices in one
    program (a model on the GPU fed arrays on the CPU), or None for any other error."""
    text = str(error)
    if not isinstance(error, ValueError) or _INCOMPATIBLE not in text:
        return None
    names: list[str] = []
    for index, platform in _NAMED.findall(text):
        kind = "cuda" if platform.lower() in ("gpu", "cuda", "rocm") else platform.lower()
        name = kind if kind == "cpu" and index == "0" else f"{kind}:{index}"
        if name not in names:
            names.append(name)
    if len(names) < 2:
        return None
    default = jax.devices()[0]
    return RuntimeError(
        "Expected all tensors to be on the same device, but found at least two devices, "
        f"{names[0]} and {names[1]}! (jnn: parameters and new arrays are made on JAX's "
        f"default device, {default.platform}:{default.id}; put the model and its inputs on "
        "one device: model.to(device), jnn.as_tensor(x, device=device))")


def _accelerator_type() -> str:
    backend = jax.default_backend()
    if backend == "cpu":
        raise RuntimeError("Cannot access accelerator device when none is available.")
    return "cuda" if backend == "gpu" else backend


class device:  # noqa: N801 - torch's name
    """Where arrays live: ``device('cuda:1')``, ``device('cuda', 1)``, ``device('cpu')``.

    Args:
        type: a device type (``'cpu'``, ``'cuda'``, ... ; JAX's ``'gpu'``/``'tpu'`` too),
            optionally with ``':index'``; or an int (the accelerator of that index), a
            ``jnn.device`` or a ``jax.Device``.
        index: the device index, when not in the string.

    Attributes:
        type: the type string.  index: the index, or None.

    PyTorch: ``torch.device``: the same constructor forms, ``str()``/``repr()``, equality
    (``device('cpu') != device('cpu', 0)``) and errors.  It is not a context manager that
    sets a default device.
    """

    __slots__ = ("_type", "_index")

    def __init__(self, type: Any, index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index
        elif isinstance(type, jax.Device):
            type, index = _from_jax(type)
        elif isinstance(type, int) and not isinstance(type, bool):
            if type < 0:  # torch checks the sign before it looks for an accelerator
                raise RuntimeError("Device index must not be negative")
            type, index = _accelerator_type(), type
        elif not isinstance(type, str):
            raise TypeError("device() received an invalid combination of arguments - got "
                            f"({builtins.type(type).__name__}), expected (str type, "
                            "int index) or (torch.device device)")
        if not type:
            raise RuntimeError("Device string must not be empty")
        match = _STRING.match(type)
        if match is None:
            raise RuntimeError(f"Invalid device string: '{type}'")
        name, number = match.groups()
        if name not in _TYPES + _JAX_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_TYPES)} device type at start of "
                               f"device string: {name}")
        if number is not None:
            if index is not None:
                raise RuntimeError("type (string) must not include an index because index was "
                                   f"passed explicitly: {type}")
            index = int(number)
        if index is not None and index < 0:
            raise RuntimeError("Device index must not be negative")
        self._type, self._index = name, index

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self) -> int | None:
        return self._index

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, device):
            return NotImplemented
        return (self._type, self._index) == (other._type, other._index)

    def __hash__(self) -> int:
        return hash((self._type, self._index))

    def __reduce__(self) -> tuple:
        return device, (self._type, self._index)


device.__module__ = "jnn"  # public as jnn.device (pickles name it so)

