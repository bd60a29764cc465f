"""``map_location`` for ``jnn.load``: torch's forms, mapped onto JAX devices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jnn.nn.modules._casting import resolve_device
from jnn.nn.parameter import check_int_range

__all__ = ["placement"]


def placement(map_location: Any) -> Callable[[list[np.ndarray], list], list]:
    """``place(arrays, locations)``: the host arrays as jax.Arrays where ``map_location``
    sends them (checked here, before the file is read)."""
    if map_location is None:
        return lambda arrays, locations: _put(arrays, None)
    if isinstance(map_location, dict):
        return lambda arrays, locations: _place_by_location(arrays, locations, map_location)
    if callable(map_location) and not isinstance(map_location, jax.Device):
        return lambda arrays, locations: [_place_with(map_location, a, loc)
                                          for a, loc in zip(arrays, locations)]
    if not isinstance(map_location, (str, jax.Device)) and not hasattr(map_location, "type"):
        # torch calls what is neither a string, a device nor a dict (an int too)
        raise TypeError(f"'{type(map_location).__name__}' object is not callable "
                        "(map_location should be None, a device (str, jax.Device, "
                        "torch.device), a dict or a callable)")
    try:
        device = resolve_device(map_location)
    except RuntimeError as error:
        if not isinstance(map_location, str) or "device string" not in str(error):
            raise
        raise RuntimeError("don't know how to restore data location of "
                           f"torch.storage.UntypedStorage (tagged with {map_location}): "
                           f"{error}") from None
    return lambda arrays, locations: _put(arrays, device)


def _put(arrays: list[np.ndarray], device: jax.Device | None) -> list[jax.Array]:
    for array in arrays:
        check_int_range(array)  # an int64 beyond int32 would wrap without x64
    return jax.device_put(arrays, device)  # one call: the transfers overlap


def _place_by_location(arrays: list[np.ndarray], locations: list, table: dict) -> list:
    """torch's dict form: saved location -> device; the rest go to the default device."""
    devices = {location: None if table.get(location) is None else resolve_device(table[location])
               for location in set(locations)}
    groups: dict[Any, list[int]] = {}
    for i, location in enumerate(locations):
        groups.setdefault(devices[location], []).append(i)
    out: list = [None] * len(arrays)
    for device, indices in groups.items():
        for i, value in zip(indices, _put([arrays[i] for i in indices], device)):
            out[i] = value
    return out


def _place_with(fn: Callable, array: np.ndarray, location: str) -> jax.Array:
    """torch's callable form: ``fn(array on the CPU, saved location)``; None: the default."""
    on_cpu = _put([array], jax.devices("cpu")[0])[0]
    result = fn(on_cpu, location)
    if result is None:
        return _put([array], None)[0]
    if not isinstance(result, (jax.Array, np.ndarray)):
        raise TypeError("a map_location callable must return a jax.Array (or None for the "
                        f"default device), got {type(result).__name__}")
    if result.shape != array.shape or result.dtype != array.dtype:
        # (torch's callable returns the storage it was given, moved: never other data)
        raise TypeError("a map_location callable must return the array it was given, placed "
                        f"on a device: got {result.dtype}{list(result.shape)} for the saved "
                        f"{array.dtype}{list(array.shape)}")
    return _put([result], None)[0] if isinstance(result, np.ndarray) else result
