"""The pieces of jnn's checkpoint format: dtypes, the structure encoder and decoder, and the
safetensors header reader. ``jnn/serialization.py`` documents the format and does the I/O.

Nothing here can run code: the decoder builds only ``None``, ``bool``, ``int``, ``float``,
``str``, ``list``, ``tuple``, ``dict``, ``OrderedDict``, ``Counter`` and arrays whose dtype is
on a fixed list, and every field read from a file is checked before it is used.
"""

from __future__ import annotations

import json
import math
from collections import Counter, OrderedDict
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._state import GroupDict, GroupList

__all__ = ["FormatError", "EmptyFile", "Unsupported", "Attribute", "Encoder", "Decoder", "Header",
           "TensorKey", "parse_header", "load_json", "plain_node", "collect_tensors",
           "tensor_key", "tensor_view", "dtype_name", "DTYPES", "NATIVE_CODES",
           "METADATA_KEY", "FORMAT_VERSION", "MAX_HEADER_BYTES"]

# One metadata key: safetensors writes its metadata map in a random order, so two keys
# would make two saves of the same object differ byte-wise.
METADATA_KEY = "jnn"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit on the JSON header

# dtype name -> safetensors code, for the dtypes safetensors stores natively.
NATIVE_CODES = {
    "bool": "BOOL", "uint8": "U8", "int8": "I8", "int16": "I16", "uint16": "U16",
    "int32": "I32", "uint32": "U32", "int64": "I64", "uint64": "U64", "float16": "F16",
    "bfloat16": "BF16", "float32": "F32", "float64": "F64", "complex64": "C64",
    "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2", "float8_e4m3fnuz": "F8_E4M3FNUZ",
    "float8_e5m2fnuz": "F8_E5M2FNUZ", "float8_e8m0fnu": "F8_E8M0",
}
# dtypes safetensors has no code for: stored as their raw bytes ("U8", shape [nbytes]).
_RAW_NAMES = ("complex128", "int4", "uint4", "int2", "uint2", "float4_e2m1fn",
              "float8_e3m4", "float8_e4m3", "float8_e4m3b11fnuz", "float8_e5m3fnu")


def _dtype_table() -> dict[str, np.dtype]:
    table = {}
    for name in (*NATIVE_CODES, *_RAW_NAMES):
        scalar = getattr(jnp, name, None) if name not in ("bool", "complex128") else None
        try:
            dtype = np.dtype(scalar if scalar is not None else name)
        except TypeError:
            continue  # not in this numpy / ml_dtypes: never written, refused on load
        if dtype.name == name:
            table[name] = dtype
    return table


DTYPES: dict[str, np.dtype] = _dtype_table()  # every dtype jnn writes and reads, by name
_CODE_DTYPES = {code: DTYPES[name] for name, code in NATIVE_CODES.items() if name in DTYPES}
_CODE_NAMES = {code: name for name, code in NATIVE_CODES.items() if name in DTYPES}
# JAX's PRNG implementations: a typed key array is stored as its key data (uint32) and
# rebuilt with its implementation, named by its kind (``"key_threefry2x32"``)
KEY_IMPLS = {"threefry2x32": 2, "rbg": 4, "unsafe_rbg": 4}  # (uint32 words per key)
_KINDS = ("jax", "numpy", "numpy_scalar", *(f"key_{impl}" for impl in KEY_IMPLS))


class FormatError(Exception):
    """A file that is not a valid checkpoint (jnn.load turns it into a RuntimeError)."""


class EmptyFile(FormatError):
    """A file of 0 bytes (jnn.load turns it into an EOFError, as torch.load raises)."""


class Unsupported(Exception):
    """An object jnn.save cannot store; ``path`` is where it sits in the saved object."""

    def __init__(self, what: str, path: list) -> None:
        super().__init__(what)
        self.what = what
        self.path = path


class Attribute(str):
    """An attribute name on an object's path (``sd._metadata``), not a key."""

    __slots__ = ()


class TensorKey(NamedTuple):
    name: str
    kind: str
    dtype: str
    shape: tuple[int, ...]
    device: str | None


# -- saving -----------------------------------------------------------------------------
_LOCATIONS: dict[Any, str] = {}


def _location(x: jax.Array) -> str:
    """torch's location tag for the device ``x`` lives on ('cpu', 'cuda:0', 'tpu:1')."""
    devices = x.devices()
    device = next(iter(devices)) if len(devices) == 1 else min(devices, key=lambda d: d.id)
    location = _LOCATIONS.get(device)
    if location is None:
        platform = "cuda" if device.platform == "gpu" else device.platform
        location = "cpu" if platform == "cpu" else f"{platform}:{device.id}"
        _LOCATIONS[device] = location
    return location


class Encoder:
    """Turns a Python object into a JSON-ready structure plus a list of arrays to store.

    Containers are walked once; an array object met twice (by identity) is stored once.
    """

    def __init__(self) -> None:
        self.arrays: list[tuple[str, Any]] = []  # (tensor name, jax/numpy array or scalar)
        self._nodes: dict[int, dict] = {}  # id(array) -> its node (deduplication)
        self._names: set[str] = {"__metadata__"}  # safetensors reserves this name
        self._path: list = []  # keys and indices from the root to the current object
        self._open: set[int] = set()  # ids of the containers being walked (cycle check)

    def encode(self, x: Any) -> Any:
        t = type(x)
        if t is str or t is int or t is bool or x is None:
            return x
        if t is float:
            return x if math.isfinite(x) else {"float": repr(x)}
        if t is list or t is GroupList:  # (an optimizer's param groups: plain lists)
            return self._items(x)
        if t is tuple:
            return {"tuple": self._items(x)}
        if t is dict or t is GroupDict:
            return {"dict": self._pairs(x)}
        if t is OrderedDict:
            return self._odict(x)
        if t is Counter:  # MultiStepLR's milestones
            return {"counter": self._pairs(x)}
        return self._array(x)

    def _enter(self, x: Any) -> None:
        if id(x) in self._open:
            raise Unsupported("a reference cycle (a container that contains itself)",
                              list(self._path))
        self._open.add(id(x))

    def _items(self, x: list | tuple) -> list:
        self._enter(x)
        out = []
        path = self._path
        for i, item in enumerate(x):
            path.append(i)
            out.append(self.encode(item))
            path.pop()
        self._open.discard(id(x))
        return out

    def _pairs(self, x: dict) -> list:
        self._enter(x)
        out = []
        path = self._path
        for key, value in x.items():
            path.append(key)
            out.append([self._key(key), self.encode(value)])
            path.pop()
        self._open.discard(id(x))
        return out

    def _key(self, key: Any) -> Any:
        t = type(key)
        if t is str or t is int or t is bool or t is float or key is None:
            return self.encode(key)
        if t is tuple:
            return {"tuple": [self._key(k) for k in key]}
        raise Unsupported(f"a dict key of type {_type_name(key)} (keys may be str, int, "
                          "float, bool, None or tuples of them)", list(self._path))

    def _odict(self, x: OrderedDict) -> dict:
        node: dict[str, Any] = {"odict": self._pairs(x)}
        attrs = vars(x)
        if attrs:  # e.g. a state_dict's _metadata, which load_state_dict's hooks read
            self._enter(x)
            node["attrs"] = encoded = []
            for name, value in attrs.items():
                self._path.append(Attribute(name))
                if not _is_plain_attr(name):
                    raise Unsupported(f"an OrderedDict attribute named {name!r}",
                                      list(self._path))
                encoded.append([name, self.encode(value)])
                self._path.pop()
            self._open.discard(id(x))
        return node

    def _array(self, x: Any) -> dict:
        from jnn.nn.parameter import Parameter

        if isinstance(x, Parameter):
            x = x.data  # saved as its array (a placeholder stays itself and is refused)
        if isinstance(x, jax.Array):
            if isinstance(x, jax.core.Tracer):
                raise Unsupported("a traced array (jnn.save runs outside jax.jit, "
                                  "jnn.compile and jax.grad: return the value and save it "
                                  "after the call)", list(self._path))
            kind = "jax"
            if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):  # a generator's state
                impl = str(jax.random.key_impl(x))
                if impl not in KEY_IMPLS:
                    raise Unsupported(f"a PRNG key array of implementation {impl!r} (supported:"
                                      f" {', '.join(KEY_IMPLS)})", list(self._path))
                kind = f"key_{impl}"
        elif isinstance(x, np.ndarray):
            kind = "numpy"
        elif isinstance(x, np.generic):
            kind = "numpy_scalar"
        else:
            raise Unsupported(_describe(x), list(self._path))
        node = self._nodes.get(id(x))
        if node is not None:
            return node
        data = jax.random.key_data(x) if kind.startswith("key_") else x  # (stored: uint32)
        dtype = dtype_name(data.dtype)
        if dtype not in DTYPES:
            raise Unsupported(f"an array of dtype {x.dtype} (supported dtypes: "
                              f"{', '.join(DTYPES)})", list(self._path))
        node = {"tensor": self._new_name(), "kind": kind, "dtype": dtype,
                "shape": list(data.shape)}
        if isinstance(x, jax.Array):
            node["device"] = _location(x)
        self.arrays.append((node["tensor"], data))
        self._nodes[id(x)] = node
        return node

    def _new_name(self) -> str:
        """The tensor's name in safetensors: its path joined by '.', made unique."""
        base = ".".join(map(str, self._path)) or "_"
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}#{n}"
        self._names.add(name)
        return name


_NAMES: dict[Any, str] = {}


def dtype_name(dtype: Any) -> str:
    """``np.dtype(dtype).name``, cached (numpy computes the name in Python, ~10 us)."""
    name = _NAMES.get(dtype)
    if name is None:
        name = _NAMES[dtype] = np.dtype(dtype).name
    return name


def _is_plain_attr(name: Any) -> bool:
    return (isinstance(name, str) and name.isidentifier() and not name.startswith("__")
            and not hasattr(OrderedDict, name))


def _type_name(x: Any) -> str:
    t = type(x)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _describe(x: Any) -> str:
    """What ``x`` is, with the fix where one is known."""
    from jnn.nn.modules.lazy import is_lazy
    from jnn.nn.modules.module import Module
    from jnn.optim.optimizer import Optimizer

    if isinstance(x, Module):
        return (f"a Module ({type(x).__name__}); save its state instead: "
                "jnn.save(model.state_dict(), f)")
    if isinstance(x, Optimizer):
        return (f"an optimizer ({type(x).__name__}); save its state instead: "
                "jnn.save(optimizer.state_dict(), f)")
    if is_lazy(x):
        return ("an uninitialized parameter or buffer of a lazy module; run a forward pass "
                "first so that it has a shape")
    if type(x).__module__.split(".")[0] == "torch":
        return f"a {_type_name(x)}; convert torch tensors first, e.g. t.numpy()"
    return f"an object of type {_type_name(x)}"


# -- loading ----------------------------------------------------------------------------
class Header(NamedTuple):
    """A safetensors header: tensors as (name, code, shape, begin, end) in header order."""

    entries: list[tuple[str, str, tuple[int, ...], int, int]]
    metadata: dict[str, str]
    data_bytes: int


def load_json(raw: bytes | str, what: str) -> Any:
    def refuse(token: str) -> None:
        raise FormatError(f"{what} holds the non-JSON constant {token}")

    try:
        return json.loads(raw, parse_constant=refuse)
    except RecursionError:
        raise FormatError(f"{what} is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as ex:
        raise FormatError(f"{what} is not valid JSON ({ex})") from None


def _is_shape(shape: Any) -> bool:
    return type(shape) is list and all(type(n) is int and n >= 0 for n in shape)


def parse_header(raw: bytes) -> Header:
    """Check a safetensors JSON header and list its tensors by offset."""
    header = load_json(raw, "the header")
    if type(header) is not dict:
        raise FormatError("the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if type(metadata) is not dict or not all(type(v) is str for v in metadata.values()):
        raise FormatError("the header's __metadata__ is not a map of strings to strings")
    entries = []
    for name, info in header.items():
        if type(info) is not dict:
            raise FormatError(f"tensor {name!r}: its header entry is not a JSON object")
        code, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if code not in _CODE_DTYPES:
            raise FormatError(f"tensor {name!r}: unknown or unsupported dtype {code!r}")
        if not _is_shape(shape):
            raise FormatError(f"tensor {name!r}: bad shape {shape!r}")
        if (type(offsets) is not list or len(offsets) != 2
                or not all(type(n) is int and n >= 0 for n in offsets)
                or offsets[0] > offsets[1]):
            raise FormatError(f"tensor {name!r}: bad data_offsets {offsets!r}")
        nbytes = math.prod(shape) * _CODE_DTYPES[code].itemsize
        if offsets[1] - offsets[0] != nbytes:
            raise FormatError(f"tensor {name!r}: its data_offsets span {offsets[1] - offsets[0]}"
                              f" bytes, but shape {shape} of {code} needs {nbytes}")
        entries.append((name, code, tuple(shape), offsets[0], offsets[1]))
    end = 0
    for name, _, _, begin, stop in sorted(entries, key=lambda e: (e[3], e[4])):
        if begin != end:  # safetensors' own rule: tensors tile the data, no gap, no overlap
            raise FormatError(f"tensor {name!r} starts at byte {begin} of the data, "
                              f"expected {end} (overlapping or missing data)")
        end = stop
    return Header(entries, metadata, end)


def plain_node(name: str, code: str, shape: tuple[int, ...]) -> dict:
    """The tensor node for an entry of a plain safetensors file (no jnn metadata)."""
    return {"tensor": name, "kind": "jax", "dtype": _CODE_NAMES[code], "shape": list(shape),
            "device": "cpu"}


def collect_tensors(structure: Any) -> dict[TensorKey, None]:
    """Every tensor node of a structure (iteratively: the decoder checks the grammar)."""
    found: dict[TensorKey, None] = {}
    stack = [structure]
    while stack:
        node = stack.pop()
        if type(node) is list:
            stack.extend(node)
        elif type(node) is dict:
            if "tensor" in node:
                found[tensor_key(node)] = None
            else:
                stack.extend(node.values())
    return found


def tensor_key(node: dict) -> TensorKey:
    name, kind, dtype, shape = (node.get(k) for k in ("tensor", "kind", "dtype", "shape"))
    device = node.get("device")
    if set(node) - {"tensor", "kind", "dtype", "shape", "device"}:
        raise FormatError(f"tensor node {name!r} has unknown fields")
    if type(name) is not str or kind not in _KINDS:
        raise FormatError(f"bad tensor node (name {name!r}, kind {kind!r})")
    if dtype not in DTYPES:
        raise FormatError(f"tensor {name!r}: unknown or unsupported dtype {dtype!r}")
    if not _is_shape(shape) or (kind == "numpy_scalar" and shape):
        raise FormatError(f"tensor {name!r}: bad shape {shape!r}")
    if kind.startswith("key_"):
        words = KEY_IMPLS[kind.removeprefix("key_")]
        if dtype != "uint32" or type(shape) is not list or not shape or shape[-1] != words:
            raise FormatError(f"tensor {name!r}: a {kind.removeprefix('key_')} PRNG key's "
                              f"data must be uint32 with a last dimension of {words}, not "
                              f"{dtype} of shape {shape!r}")
    if (device is not None or kind != "numpy" and kind != "numpy_scalar") and \
            type(device) is not str:
        raise FormatError(f"tensor {name!r}: bad device {device!r}")
    return TensorKey(name, kind, dtype, tuple(shape), device)


def tensor_view(data: np.ndarray, code: str, key: TensorKey) -> np.ndarray:
    """The stored bytes ``data`` (uint8) as the array ``key`` describes, checked."""
    dtype = DTYPES[key.dtype]
    expected = NATIVE_CODES.get(key.dtype, "U8")
    if code != expected:
        raise FormatError(f"tensor {key.name!r} is stored as {code}, but the structure says "
                          f"{key.dtype} (stored as {expected})")
    nbytes = math.prod(key.shape) * dtype.itemsize
    if data.size != nbytes:
        raise FormatError(f"tensor {key.name!r} holds {data.size} bytes, but shape "
                          f"{list(key.shape)} of {key.dtype} needs {nbytes}")
    try:
        return data.view(dtype).reshape(key.shape)
    except (ValueError, OverflowError) as ex:  # e.g. more dimensions than NumPy allows
        raise FormatError(f"tensor {key.name!r}: shape {list(key.shape)} ({ex})") from None


class Decoder:
    """Builds the saved object back from its structure, checking every node."""

    def __init__(self, tensors: dict[TensorKey, Any]) -> None:
        self._tensors = tensors

    def decode(self, node: Any) -> Any:
        t = type(node)
        if t is str or t is int or t is float or t is bool or node is None:
            return node
        if t is list:
            return [self.decode(n) for n in node]
        if t is not dict:
            raise FormatError(f"unexpected JSON value {node!r} in the structure")
        if "tensor" in node:
            return self._tensors[tensor_key(node)]
        tag = next(iter(node), None)
        body = node.get(tag)
        if tag == "tuple" and len(node) == 1 and type(body) is list:
            return tuple(self.decode(n) for n in body)
        if tag == "dict" and len(node) == 1:
            return self._pairs(body, {})
        if tag == "odict" and set(node) <= {"odict", "attrs"}:
            return self._odict(node)
        if tag == "counter" and len(node) == 1:
            return self._pairs(body, Counter())
        if tag == "float" and len(node) == 1 and body in ("nan", "inf", "-inf"):
            return float(body)
        raise FormatError(f"unknown structure node with fields {sorted(node)[:5]}")

    def _pairs(self, body: Any, out: dict) -> dict:
        if type(body) is not list:
            raise FormatError("a dict's items are not a JSON array")
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise FormatError("a dict item is not a [key, value] pair")
            key = self.decode(pair[0])
            try:
                out[key] = self.decode(pair[1])
            except TypeError:
                raise FormatError(f"a dict key of type {type(key).__name__} is not "
                                  "hashable") from None
        return out

    def _odict(self, node: dict) -> OrderedDict:
        out = self._pairs(node["odict"], OrderedDict())
        attrs = node.get("attrs", [])
        if type(attrs) is not list:
            raise FormatError("an OrderedDict's attrs are not a JSON array")
        for pair in attrs:
            if type(pair) is not list or len(pair) != 2 or not _is_plain_attr(pair[0]):
                raise FormatError(f"bad OrderedDict attribute {pair!r:.80}")
            vars(out)[pair[0]] = self.decode(pair[1])  # the instance dict: no descriptor
        return out
