"""Dtype and device moves: ``.to``, ``.float``, ``.double``, ``.cuda`` ... as in torch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn._tensor_functions.dtypes import torch_repr
from jnn.nn.parameter import Parameter

__all__ = ["apply_to_state", "parse_to", "resolve_device", "resolve_cuda_device",
           "resolve_dtype", "cast_floating", "check_x64", "resolve_type_argument"]


def resolve_dtype(dtype: Any, x64: bool = True) -> np.dtype:
    """A numpy dtype from a jnp/numpy dtype, a string, or a torch dtype (by name).

    ``x64``: refuse a 64-bit dtype while JAX's 64-bit mode is off (else see
    :func:`check_x64`, for callers that check the kind of dtype first, as torch does).
    """
    if dtype is None:
        raise TypeError("dtype must not be None")
    name = getattr(dtype, "__module__", "") == "torch" and str(dtype).removeprefix("torch.")
    dt = np.dtype(jnp.dtype(name or dtype))
    if x64:
        check_x64(dt)
    return dt


def check_x64(dt: np.dtype) -> None:
    """A 64-bit dtype needs JAX's 64-bit mode: say how to turn it on."""
    wide = dt.itemsize == 16 if dt.kind == "c" else dt.itemsize == 8  # (complex64: 2 x f32)
    if wide and dt.kind in "fiuc" and not jax.config.jax_enable_x64:
        raise RuntimeError(
            f"{dt} needs JAX's 64-bit mode, which is off: call "
            "jax.config.update('jax_enable_x64', True) at start-up (or set JAX_ENABLE_X64=1)."
        )


# torch's legacy tensor-type names, which ``Module.type`` accepts as strings.
_TENSOR_TYPES = {"torch.FloatTensor": "float32", "torch.DoubleTensor": "float64",
                 "torch.HalfTensor": "float16", "torch.BFloat16Tensor": "bfloat16",
                 "torch.LongTensor": "int64", "torch.IntTensor": "int32",
                 "torch.ShortTensor": "int16", "torch.CharTensor": "int8",
                 "torch.ByteTensor": "uint8", "torch.BoolTensor": "bool"}


def resolve_type_argument(dst_type: Any) -> np.dtype:
    """``Module.type``'s argument (a dtype, or a tensor-type name) with torch's errors; the
    64-bit check is the caller's (torch's requires-grad check comes first)."""
    if isinstance(dst_type, str):
        try:
            return resolve_dtype(_TENSOR_TYPES.get(dst_type, dst_type), x64=False)
        except TypeError:
            raise ValueError(f"invalid type: '{dst_type}'") from None
    try:
        return resolve_dtype(dst_type, x64=False)
    except TypeError:
        raise TypeError("dtype must be a type, str, or dtype object") from None


def resolve_device(device: Any) -> jax.Device:
    """A jax.Device from 'cpu', 'cuda', 'cuda:1', 'gpu', 'tpu:0', an int (an accelerator's
    index), a jnn/torch device or a jax.Device.

    Strings and ints are parsed as ``torch.device`` parses them, with its errors ('', 'cuda:-1',
    'cuda:x', 'xyz', -1, an index without an accelerator) before any JAX device is looked up.
    """
    if isinstance(device, jax.Device):
        return device
    from jnn._tensor_functions.device import device as device_cls

    parsed = device
    if isinstance(device, (str, int)) or not hasattr(device, "type"):
        parsed = device_cls(device if isinstance(device, (str, int)) else str(device))
    platform = {"cuda": "gpu", "mps": "METAL"}.get(parsed.type, parsed.type)
    index = parsed.index or 0
    try:
        devices = jax.devices(platform)
    except RuntimeError:
        devices = []
    if not devices:
        raise RuntimeError(
            f"no JAX device of kind '{platform}' is available (requested {device!r}); "
            f"available: {[d.platform for d in jax.devices()]}"
        )
    if index >= len(devices):
        raise RuntimeError(
            f"invalid device ordinal {index}: there are {len(devices)} '{platform}' devices"
        )
    return devices[index]


def resolve_cuda_device(device: Any) -> jax.Device:
    """``Module.cuda(device)``'s argument as torch's ``Tensor.cuda`` reads it: None, an index,
    a string or a device, which must be a CUDA one (JAX's 'gpu')."""
    from jnn._tensor_functions.device import device as device_cls

    if isinstance(device, jax.Device):
        if device.platform != "gpu":
            raise RuntimeError("Invalid device, must be cuda device")
        return device
    if device is None:
        device = "cuda"
    if isinstance(device, bool) or not isinstance(device, (str, int)) and not (
            type(device).__name__ == "device" and hasattr(device, "type")):
        raise TypeError("cuda(): argument 'device' (position 1) must be torch.device, not "
                        f"{type(device).__name__}")
    if isinstance(device, (str, int)):
        device = device_cls(device)  # torch's parse and errors; an int needs an accelerator
    if device.type not in ("cuda", "gpu"):
        raise RuntimeError("Invalid device, must be cuda device")
    return resolve_device(device)


def parse_to(args: tuple, kwargs: dict) -> tuple[Any, Any]:
    """torch's ``Module.to`` argument forms: (device), (dtype), (device, dtype), (tensor)."""
    unknown = sorted(set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"})
    device = kwargs.get("device")
    if device is not None and not isinstance(device, str) and _to_kind(device) != "device":
        unknown = ["device", *unknown]  # torch's parser refuses device=True, device=1.5
    if unknown:  # torch's parser: the positional kinds, then each unknown keyword's type
        got = [_to_kind(a) if _to_kind(a) in ("dtype", "Tensor") else type(a).__name__
               for a in args] + [f"{k}={type(kwargs[k]).__name__}" for k in unknown]
        _invalid_to(", ".join(got) + ("" if args else ", "))
    if len(args) > 4:
        raise TypeError(f"to() takes from 0 to 4 positional arguments but {len(args)} were "
                        "given")
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    _check_to_positional(args)
    for a in args:
        if isinstance(a, bool):
            continue
        if isinstance(a, (jax.Array, Parameter)):
            dtype = dtype or a.dtype
            device = device or next(iter(a.devices())) if isinstance(a, jax.Array) else device
        elif isinstance(a, (str, jax.Device, int)) and not _is_dtype(a):
            device = a
        elif type(a).__name__ == "device" and type(a).__module__ in ("torch", "jnn"):
            device = a
        else:
            dtype = a
    if dtype is not None:
        dtype = resolve_dtype(dtype, x64=False)
        if not jnp.issubdtype(dtype, jnp.inexact):  # torch's check before jnn's 64-bit one
            raise TypeError("nn.Module.to only accepts floating point or complex dtypes, "
                            f"but got desired dtype={torch_repr(dtype)}")
        check_x64(dtype)
    return None if device is None else resolve_device(device), dtype


def _to_kind(a: Any) -> str:
    if isinstance(a, bool):
        return "bool"
    if isinstance(a, (jax.Array, Parameter)):
        return "Tensor"
    if isinstance(a, (str, jax.Device, int)) and not _is_dtype(a):
        return "device"
    return "dtype" if _is_dtype(a) else type(a).__name__


def _check_to_positional(args: tuple) -> None:
    """torch's positional forms: (device, dtype, non_blocking, copy), (dtype, non_blocking,
    copy), (tensor, non_blocking, copy)."""
    kinds = [_to_kind(a) for a in args]
    rest = kinds[1:]
    if kinds and kinds[0] == "device" and rest:  # the second of (device, dtype, ...)
        rest = rest[1:] if rest[0] == "dtype" else ["not a dtype"]
    if kinds and (kinds[0] not in ("device", "dtype", "Tensor") or len(rest) > 2
                  or any(k != "bool" for k in rest)):
        _invalid_to(", ".join(k if k in ("dtype", "Tensor") else type(a).__name__
                              for a, k in zip(args, kinds)))


def _invalid_to(got: str) -> None:
    raise TypeError(
        f"to() received an invalid combination of arguments - got ({got}), but expected "
        "one of:\n * (device device = None, dtype dtype = None, bool non_blocking = False, "
        "bool copy = False)\n * (dtype dtype, bool non_blocking = False, bool copy = False)"
        "\n * (Tensor tensor, bool non_blocking = False, bool copy = False)")


def _is_dtype(x: Any) -> bool:
    if isinstance(x, int) or (isinstance(x, str) and (":" in x or x in {
            "cpu", "cuda", "gpu", "tpu", "mps"})):
        return False
    try:
        jnp.dtype(x)
    except TypeError:
        return False
    return True


def cast_floating(dtype: np.dtype | None, device: jax.Device | None) -> Callable:
    """torch's rule: ``.to(dtype)`` casts floating (and complex) state, leaves integers."""

    def fn(x: jax.Array) -> jax.Array:
        if dtype is not None and (jnp.issubdtype(x.dtype, jnp.floating) or
                                  jnp.issubdtype(x.dtype, jnp.complexfloating)):
            x = x.astype(dtype)
        if device is not None:
            x = jax.device_put(x, device)
        return x

    return fn


def apply_to_state(module: Any, fn: Callable[[jax.Array], jax.Array]) -> None:
    """Replace every parameter (and its .grad) and buffer array by ``fn(array)``."""
    seen: set[int] = set()
    for m in module.modules():
        for p in m._parameters.values():
            if p is None or id(p) in seen:
                continue
            seen.add(id(p))
            p.data = fn(p.data)
            if p.grad is not None:
                p.grad = fn(p.grad)
        for name, b in m._buffers.items():
            if b is not None:
                m._buffers[name] = fn(b)
