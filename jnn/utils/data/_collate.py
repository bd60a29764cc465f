"""Collation: a list of samples -> one batch of jax arrays (torch's default_collate).

Collation runs in two phases.  The host phase walks the samples' structure (dicts,
namedtuples, sequences) and stacks each leaf with NumPy; then every stacked array of the
batch goes to the device in one ``jax.device_put`` (asynchronous: the copy overlaps
whatever runs next).  Arrays already on an accelerator are stacked there instead.

Dtypes follow JAX's canonical types: with ``jax_enable_x64`` off (JAX's default) Python
floats and float64 arrays become float32, Python ints and int64 arrays int32 (torch gives
float64 and int64); with x64 on they match torch.  An int64 beyond int32 or a finite
float64 beyond float32's range raises ``OverflowError`` (it would wrap or become inf).
Torch tensors in samples (a ported dataset) are read through NumPy, without importing torch.
"""

from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["collate", "default_collate", "default_collate_fn_map", "default_convert"]

# NumPy dtypes that cannot become arrays: bytes, str, unicode, object (torch's pattern).
np_str_obj_array_pattern = re.compile(r"[SaUO]")

# torch's sentence (so its regexes match), then what "tensors" means here.
default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
    "found {} (tensors: jax arrays, or torch tensors, which are read through NumPy)"
)

_collate_fn_map_t = dict[type | tuple[type, ...], Callable]


def _is_torch_tensor(x: Any) -> bool:
    """A ``torch.Tensor`` (or subclass), recognised without importing torch."""
    return any(c.__name__ == "Tensor" and c.__module__ == "torch" for c in type(x).__mro__)


def _torch_to_numpy(tensor: Any) -> np.ndarray:
    """A torch tensor's values as NumPy (``.detach().cpu().numpy()``; bfloat16 via float32).

    PyTorch is never a runtime dependency, but a ported dataset may still return torch
    tensors (torchvision's ``ToTensor``): their values are read, as ``load_state_dict`` does.
    """
    tensor = tensor.detach().cpu()
    if str(tensor.dtype) == "torch.bfloat16":  # NumPy has no bfloat16; exact through float32
        return tensor.float().numpy().astype(jnp.bfloat16)
    return tensor.resolve_conj().resolve_neg().numpy()


def _on_accelerator(array: Any) -> bool:
    return isinstance(array, jax.Array) and any(d.platform != "cpu" for d in array.devices())


def _stack(arrays: list) -> Any:
    """Stack equal-shaped arrays along a new first axis, with torch.stack's size error."""
    first = np.shape(arrays[0])
    for i, array in enumerate(arrays):
        if np.shape(array) != first:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(first)} at entry 0 "
                f"and {list(np.shape(array))} at entry {i}"
            )
    if _on_accelerator(arrays[0]):  # already on the device: do not round-trip the host
        return jnp.stack(arrays)
    return np.stack([np.asarray(a) for a in arrays])


def collate_tensor_fn(batch: list, *, collate_fn_map: _collate_fn_map_t | None = None) -> Any:
    """Stack jax arrays (torch's ``collate_tensor_fn`` for tensors)."""
    return _stack(batch)


def collate_numpy_array_fn(batch: list, *,
                           collate_fn_map: _collate_fn_map_t | None = None) -> np.ndarray:
    """Stack NumPy arrays; string and object arrays raise ``TypeError`` as in torch."""
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    return _stack(batch)


def collate_numpy_scalar_fn(batch: list, *,
                            collate_fn_map: _collate_fn_map_t | None = None) -> np.ndarray:
    return np.asarray(batch)


def collate_float_fn(batch: list, *,
                     collate_fn_map: _collate_fn_map_t | None = None) -> np.ndarray:
    return np.asarray(batch, dtype=np.float64)


def collate_int_fn(batch: list, *, collate_fn_map: _collate_fn_map_t | None = None) -> np.ndarray:
    return np.asarray(batch)


def collate_str_fn(batch: list, *, collate_fn_map: _collate_fn_map_t | None = None) -> list:
    return batch


# Leaf handlers by type, tried exactly first, then by isinstance in insertion order (as
# torch's registry is).  Handlers return host arrays; the device transfer happens once,
# after the whole batch is collated.  Extend it in place for custom types.
default_collate_fn_map: _collate_fn_map_t = {
    jax.Array: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def _rebuild_mapping(elem: collections.abc.Mapping, items: dict) -> Any:
    """``items`` in ``elem``'s mapping type (a copy for mutable ones), else a dict."""
    try:
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(items)
            return clone
        return type(elem)(items)
    except TypeError:
        return items


def _rebuild_sequence(elem: collections.abc.Sequence, items: list) -> Any:
    """``items`` in ``elem``'s sequence type (a copy for mutable ones), else a list."""
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, item in enumerate(items):
                clone[i] = item
            return clone
        return type(elem)(items)
    except TypeError:
        return items


def _collate_host(batch: list, collate_fn_map: _collate_fn_map_t | None) -> Any:
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)
    if _is_torch_tensor(elem):  # torch's own tensor leaf, read through NumPy
        return collate_numpy_array_fn([_torch_to_numpy(t) if _is_torch_tensor(t) else t
                                       for t in batch])
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild_mapping(elem, {key: _collate_host([d[key] for d in batch], collate_fn_map)
                                       for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(_collate_host(samples, collate_fn_map)
                           for samples in zip(*batch, strict=False)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(sample) == size for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        items = [_collate_host(samples, collate_fn_map)
                 for samples in zip(*batch, strict=False)]
        if isinstance(elem, tuple):  # torch returns tuples as lists (backward compatibility)
            return items
        return _rebuild_sequence(elem, items)
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def _is_host_leaf(x: Any) -> bool:
    """A NumPy array or scalar (not a string/object one) or a torch tensor: a jax array to be."""
    if isinstance(x, np.ndarray):
        return np_str_obj_array_pattern.search(x.dtype.str) is None
    if isinstance(x, np.generic):
        return not isinstance(x, (np.str_, np.bytes_, np.object_))
    return _is_torch_tensor(x)


def _host_array(x: Any) -> np.ndarray:
    """A host leaf (see :func:`_is_host_leaf`) as a NumPy array."""
    return _torch_to_numpy(x) if _is_torch_tensor(x) else np.asarray(x)


def _walk(tree: Any, leaf: Callable[[Any], Any], tuples_to_lists: bool) -> Any:
    """Map ``leaf`` over the leaves of ``tree``'s mappings, namedtuples and sequences."""
    if isinstance(tree, collections.abc.Mapping):
        return _rebuild_mapping(tree, {k: _walk(tree[k], leaf, tuples_to_lists) for k in tree})
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(_walk(v, leaf, tuples_to_lists) for v in tree))
    if isinstance(tree, tuple):
        items = [_walk(v, leaf, tuples_to_lists) for v in tree]
        return items if tuples_to_lists else tuple(items)
    if isinstance(tree, collections.abc.Sequence) and not isinstance(tree, (str, bytes)):
        return _rebuild_sequence(tree, [_walk(v, leaf, tuples_to_lists) for v in tree])
    return leaf(tree)


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_range(array: np.ndarray) -> None:
    """Refuse 64-bit values that JAX's 32-bit default would wrap (ints) or make inf (floats)."""
    if (array.dtype.itemsize != 8 or array.dtype.kind not in "iuf" or not array.size
            or jax.config.read("jax_enable_x64")):
        return
    if array.dtype.kind == "f":
        _check_float_range(array)
        return
    info = np.iinfo(np.int32 if array.dtype.kind == "i" else np.uint32)
    if array.min() < info.min or array.max() > info.max:
        raise OverflowError(
            f"jnn.utils.data: a batch holds integers in [{array.min()}, {array.max()}], "
            f"outside {array.dtype}'s 32-bit counterpart that JAX uses by default, and "
            "would wrap around. Enable 64-bit types (jax.config.update('jax_enable_x64', "
            "True)) or convert the values (e.g. to float) in the dataset."
        )


def _check_float_range(array: np.ndarray) -> None:
    """Refuse finite float64 values that JAX's default float32 would make ``inf`` (torch
    keeps float64); NaN and inf themselves pass, they stay what they are."""
    with np.errstate(over="ignore", invalid="ignore"):
        magnitude = np.abs(array)
        if not (magnitude > _FLOAT32_MAX).any():  # the common case: one pass, no cast
            return
        bad = np.isinf(array.astype(np.float32)) & np.isfinite(array)
    if bad.any():
        raise OverflowError(
            f"jnn.utils.data: a batch holds float64 values up to {magnitude[bad].max():g} "
            f"in magnitude, beyond the range of float32 (±{_FLOAT32_MAX:g}) that JAX uses "
            "by default, and they would become inf. Enable 64-bit types "
            "(jax.config.update('jax_enable_x64', True)) or rescale the values in the "
            "dataset."
        )


def _put_batch(tree: Any) -> Any:
    """A gathered batch (lists and dicts of arrays) with its NumPy arrays moved to the device
    in one ``jax.device_put``: the fast path's cheaper :func:`_to_device` (no type tests)."""
    host: list = []

    def flatten(node: Any) -> Any:
        if isinstance(node, list):
            return [flatten(item) for item in node]
        if isinstance(node, dict):
            return {key: flatten(value) for key, value in node.items()}
        if not isinstance(node, np.ndarray):
            return node  # already on an accelerator
        _check_range(node)
        host.append(node)
        return _Slot(len(host) - 1)

    def fill(node: Any) -> Any:
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {key: fill(value) for key, value in node.items()}
        return moved[node.index] if isinstance(node, _Slot) else node

    skeleton = flatten(tree)
    moved = jax.device_put(host)
    return fill(skeleton)


class _Slot:
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _to_device(tree: Any, tuples_to_lists: bool = False) -> Any:
    """Every NumPy leaf of ``tree`` as a jax array, moved in one ``jax.device_put``."""
    if isinstance(tree, np.ndarray) and _is_host_leaf(tree):  # the common leaf: no walk
        _check_range(tree)
        return jax.device_put(tree)
    host: list = []

    def collect(x: Any) -> Any:
        if _is_host_leaf(x):
            host.append(_host_array(x))
            _check_range(host[-1])
        return x

    _walk(tree, collect, tuples_to_lists)
    if not host:
        return _walk(tree, lambda x: x, tuples_to_lists) if tuples_to_lists else tree
    moved = iter(jax.device_put(host))
    return _walk(tree, lambda x: next(moved) if _is_host_leaf(x) else x, tuples_to_lists)


def collate(batch: list, *, collate_fn_map: _collate_fn_map_t | None = None) -> Any:
    """Collate ``batch`` with the leaf handlers of ``collate_fn_map``; leaves become jax arrays.

    Args:
        batch: a list of samples.
        collate_fn_map: ``{type: fn(batch, *, collate_fn_map)}``; a sample type found here
            (exactly, else by ``isinstance``, in order) is collated by its function.

    Returns:
        The batch, in the samples' structure, with NumPy leaves moved to the device.

    PyTorch: ``torch.utils.data._utils.collate.collate``.
    """
    return _to_device(_collate_host(batch, collate_fn_map))


def default_collate(batch: list) -> Any:
    """Stack a list of samples into a batch with a new leading dimension.

    Per sample type: jax arrays, NumPy arrays and torch tensors (read through NumPy, no
    torch import) are stacked into a jax array; Python
    ``float``/``int``/``bool`` and NumPy scalars become a 1-D jax array; ``str``/``bytes``
    stay a list; a ``Mapping`` maps each key to the collated values; a namedtuple keeps its
    type; any other sequence (a tuple too) becomes a list of collated fields.

    Args:
        batch: a list of samples.

    Returns:
        The batch, in the samples' structure.

    Example:
        >>> default_collate([{"x": 0, "y": 1.5}, {"x": 2, "y": 3.0}])["y"].shape
        (2,)

    PyTorch: ``torch.utils.data.default_collate`` with jax arrays for tensors. Dtypes are
    JAX's canonical ones: without ``jax_enable_x64`` a float becomes float32 and an int
    int32 (torch: float64, int64); 64-bit integers beyond int32 raise ``OverflowError``
    instead of wrapping, and finite float64 values beyond float32's range raise it instead
    of becoming ``inf``.
    """
    return _to_device(_collate_host(batch, default_collate_fn_map))


def default_convert(data: Any) -> Any:
    """Convert NumPy arrays and scalars (and torch tensors) in ``data`` to jax arrays; keep
    everything else.

    The DataLoader's default when automatic batching is off (``batch_size=None``).

    PyTorch: ``torch.utils.data.default_convert`` (tuples become lists, as there).
    """
    return _to_device(data, tuples_to_lists=True)
