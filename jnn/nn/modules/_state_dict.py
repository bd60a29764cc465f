"""``state_dict`` and ``load_state_dict`` with torch's keys, order, copies and errors."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn.nn.parameter import Parameter, check_int_range

__all__ = ["IncompatibleKeys", "state_dict", "load_state_dict", "torch_size"]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """torch's ``_IncompatibleKeys`` (same name, so the same repr): what
    ``load_state_dict`` did not match."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


IncompatibleKeys = _IncompatibleKeys

def torch_size(shape: Any) -> str:
    """A shape as torch prints it (``torch.Size([3, 4])``), so torch's regexes match."""
    return f"torch.Size({list(shape)})"


def state_dict(module: Any, destination: Any, prefix: str, keep_vars: bool) -> Any:
    if destination is None:
        destination = OrderedDict()
        destination._metadata = OrderedDict()  # type: ignore[attr-defined]
    metadata = getattr(destination, "_metadata", None)
    if metadata is not None:
        metadata[prefix[:-1]] = {"version": module._version}
    skip = module._non_persistent_buffers_set
    for name, p in module._parameters.items():
        if p is not None:
            destination[prefix + name] = p if keep_vars else p.data
    for name, b in module._buffers.items():
        if b is not None and name not in skip:
            destination[prefix + name] = b  # jax arrays are immutable: no detach needed
    for name, child in module._modules.items():
        if child is not None:
            state_dict(child, destination, prefix + name + ".", keep_vars)
    return destination


def _to_array(value: Any) -> np.ndarray | jax.Array | None:
    """A private copy of a checkpoint value, or None when it is not array-like."""
    if isinstance(value, Parameter):
        return value.data
    if isinstance(value, jax.Array):
        return value  # immutable: sharing is safe
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":  # numpy has no bfloat16: go by the bits
            import torch

            value = value.view(torch.int16).numpy().view(jnp.bfloat16)
        else:
            value = value.numpy()
    if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        # np.array copies, so a later in-place change to the source never shows through
        # (jnp.asarray may alias a numpy buffer on CPU).
        return np.array(value, copy=True)
    return None


def _place(value: Any, like: jax.Array, cast: bool) -> jax.Array:
    dtype = like.dtype if cast else None
    check_int_range(value)
    arr = jnp.asarray(value, dtype=dtype)
    sharding = getattr(like, "sharding", None)
    return jax.device_put(arr, sharding) if sharding is not None else arr


def _load_local(module: Any, sd: Mapping, prefix: str, strict: bool, assign: bool,
                missing: list, unexpected: list, errors: list) -> None:
    skip = module._non_persistent_buffers_set
    local: dict[str, tuple[str, Any]] = {}
    for name, p in module._parameters.items():
        if p is not None:
            local[name] = ("param", p)
    for name, b in module._buffers.items():
        if b is not None and name not in skip:
            local[name] = ("buffer", b)
    for name, (kind, current) in local.items():
        key = prefix + name
        if key not in sd:
            if strict:
                missing.append(key)
            continue
        value = _to_array(sd[key])
        if value is None:
            errors.append(
                f'While copying the parameter named "{key}", expected torch.Tensor or '
                f"Tensor-like object from checkpoint but received {type(sd[key])}"
            )
            continue
        current_shape = tuple(current.shape)
        if current_shape == () and tuple(value.shape) == (1,):  # torch: BC for 0-dim params
            value = value[0]
        if tuple(value.shape) != current_shape:
            errors.append(
                f"size mismatch for {key}: copying a param with shape "
                f"{torch_size(value.shape)} from checkpoint, the shape in current model is "
                f"{torch_size(current_shape)}."
            )
            continue
        target = current._peek() if kind == "param" else current  # a lost value reloads
        new = _place(value, target, cast=not assign)
        if kind == "param":
            current.data = new  # same Parameter object: optimizers keep tracking it
        else:
            module._buffers[name] = new
    if strict:
        for key in sd:
            if not key.startswith(prefix):
                continue
            head = key[len(prefix):].split(".", 1)
            if len(head) > 1:
                if head[0] not in module._modules:
                    unexpected.append(key)
            elif head[0] not in local:
                unexpected.append(key)


def load_state_dict(module: Any, sd: Any, strict: bool, assign: bool) -> IncompatibleKeys:
    if not isinstance(sd, Mapping):
        raise TypeError(f"Expected state_dict to be dict-like, got {type(sd)}.")
    missing: list[str] = []
    unexpected: list[str] = []
    errors: list[str] = []

    def load(m: Any, local_sd: Mapping, prefix: str) -> None:
        # torch always collects missing/unexpected keys; ``strict`` only decides raising.
        _load_local(m, local_sd, prefix, True, assign, missing, unexpected, errors)
        for name, child in m._modules.items():
            if child is not None:
                child_prefix = prefix + name + "."
                load(child, {k: v for k, v in local_sd.items() if k.startswith(child_prefix)},
                     child_prefix)

    load(module, dict(sd), "")
    if strict:
        if unexpected:
            keys = ", ".join(f'"{k}"' for k in unexpected)
            errors.insert(0, f"Unexpected key(s) in state_dict: {keys}. ")
        if missing:
            keys = ", ".join(f'"{k}"' for k in missing)
            errors.insert(0, f"Missing key(s) in state_dict: {keys}. ")
    if errors:
        raise RuntimeError(
            "Error(s) in loading state_dict for {}:\n\t{}".format(
                type(module).__name__, "\n\t".join(errors)
            )
        )
    return IncompatibleKeys(missing, unexpected)
