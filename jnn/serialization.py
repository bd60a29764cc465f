"""``jnn.save`` / ``jnn.load``: torch's checkpoint functions, in a format that runs no code.

``torch.save`` pickles, and unpickling a file can run any code in it. jnn writes one
`safetensors <https://github.com/huggingface/safetensors>`_ file instead: the arrays as raw
bytes, the Python structure around them (dicts, lists, tuples, scalars) as JSON text in the
file's metadata. Loading reads bytes and JSON and builds only the types listed below.

File format (version 1)
-----------------------
A standard safetensors file:

* bytes ``[0, 8)``: ``N``, the header's length, an unsigned 64-bit little-endian integer;
* bytes ``[8, 8 + N)``: the header, a UTF-8 JSON object. Each tensor name maps to
  ``{"dtype": CODE, "shape": [d0, ...], "data_offsets": [begin, end]}``; the key
  ``"__metadata__"`` maps to an object of strings;
* the rest: the tensors' bytes, little-endian, C order, ``[begin, end)`` counted from the
  end of the header. The tensors tile this section exactly (no gap, overlap or trailing byte).

``__metadata__`` holds one key, ``"jnn"``, whose value is the JSON text of
``{"format": 1, "structure": NODE}``; ``NODE`` is the saved object as one *node*:

========================================================  =====================================
node                                                      Python value
========================================================  =====================================
``null``, ``true``, ``false``, ``"text"``                 ``None``, ``True``, ``False``, ``str``
a number without ``.``, ``e`` or ``E``                    ``int`` (any size)
a number with ``.``, ``e`` or ``E``                       ``float``
``{"float": "nan" | "inf" | "-inf"}``                     a non-finite ``float``
``[n, ...]``                                              ``list``
``{"tuple": [n, ...]}``                                   ``tuple``
``{"dict": [[k, v], ...]}``                               ``dict``, items in order; a key is a
                                                          node: str, int, float, bool, None or
                                                          a tuple of them
``{"odict": [[k, v], ...], "attrs": [["name", n], ...]}`` ``collections.OrderedDict``; the
                                                          optional ``attrs`` are its instance
                                                          attributes (a ``state_dict``'s
                                                          ``_metadata``)
``{"counter": [[k, v], ...]}``                            ``collections.Counter`` (a
                                                          ``MultiStepLR``'s milestones)
``{"tensor": NAME, "kind": K, "dtype": D,                 an array: tensor ``NAME`` of the
"shape": [...], "device": LOC}``                          header. ``K``: ``"jax"`` (a
                                                          ``jax.Array``; ``LOC``, only for
                                                          these and keys, is the device it was saved
                                                          from as torch names it: ``"cpu"``,
                                                          ``"cuda:0"``), ``"numpy"`` (an
                                                          ``np.ndarray``), ``"numpy_scalar"``
                                                          (a NumPy scalar, shape ``[]``) or
                                                          ``"key_IMPL"`` (a typed PRNG key
                                                          array, ``get_rng_state()``: its
                                                          uint32 key data; IMPL one of
                                                          threefry2x32, rbg, unsafe_rbg)
========================================================  =====================================

``D`` is the NumPy/ml_dtypes dtype name. These dtypes are stored with their safetensors
``CODE``: bool BOOL, uint8 U8, int8 I8, int16 I16, uint16 U16, int32 I32, uint32 U32,
int64 I64, uint64 U64, float16 F16, bfloat16 BF16, float32 F32, float64 F64, complex64 C64,
float8_e4m3fn F8_E4M3, float8_e5m2 F8_E5M2, float8_e4m3fnuz F8_E4M3FNUZ, float8_e5m2fnuz
F8_E5M2FNUZ, float8_e8m0fnu F8_E8M0. The others safetensors lacks (complex128, int4, uint4,
int2, uint2, float4_e2m1fn, float8_e3m4, float8_e4m3, float8_e4m3b11fnuz, float8_e5m3fnu)
are stored as their raw bytes: code U8, shape ``[nbytes]`` (one byte per int4/float4
element, as NumPy holds them), the node giving the real dtype and shape.

Tensor names are the object's path, keys and indices joined by ``.`` (``"model.0.weight"``,
``"optimizer.state.0.exp_avg"``; ``"_"`` for an array saved on its own), with ``#2``,
``#3``... added on a clash. A bare ``state_dict`` is therefore stored under its own keys, so
``safetensors.torch.load_file(path)`` reads it as a torch state dict. ``jnn.load`` also reads
a plain safetensors file (no ``"jnn"`` metadata) as an ``OrderedDict`` of ``jax.Array``.
The same object always gives the same bytes.

Sharing: one array object met twice is stored once and loads as one object (pickle does the
same); a container met twice is stored twice and loads as two equal containers (pickle would
load one). A reference cycle is refused.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import secrets
import stat
from collections.abc import Callable
from typing import IO, Any

import jax
import numpy as np
import safetensors

from jnn import _serialization_format as fmt
from jnn._serialization_devices import placement

__all__ = ["save", "load"]

FILE_LIKE = str | os.PathLike | IO[bytes]
# and torch.device-like objects (anything with .type and .index)
MAP_LOCATION = Callable[[jax.Array, str], Any] | jax.Device | str | int | dict | None

_SUPPORTED = (
    "jnn.save stores jax.Array (PRNG keys too), numpy.ndarray, NumPy scalars, nn.Parameter "
    "(as its array), "
    "None, bool, int, float and str, in any nesting of list, tuple, dict, "
    "collections.OrderedDict and collections.Counter. To save a model or an optimizer, save "
    "its state: jnn.save(model.state_dict(), f), jnn.save(optimizer.state_dict(), f).")
_TORCH_FILE = (
    "it was written by torch.save (a pickle archive). jnn.load reads no pickle, since "
    "unpickling can run arbitrary code. Convert a state dict once where torch is installed: "
    "safetensors.torch.save_file(torch.load(path, weights_only=True), new_path) (jnn.load "
    "reads plain safetensors files), or jnn.save({k: v.numpy() for k, v in sd.items()}, "
    "new_path) (bfloat16: v.float().numpy())")


def save(obj: object, f: FILE_LIKE, pickle_module: Any = None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True,
         _disable_byteorder_record: bool = False) -> None:
    """Save ``obj`` (a state dict, a checkpoint dict...) to ``f``, torch's ``torch.save``.

    Everything is checked and converted before ``f`` is touched. Written to a path, the file
    appears whole or not at all: jnn writes a temporary file in the same directory, syncs it
    and renames it over ``f`` (an existing file keeps its permissions).

    Args:
        obj: what to save: ``jax.Array``, ``np.ndarray``, NumPy scalars, ``nn.Parameter``,
            ``None``, ``bool``, ``int``, ``float``, ``str``, nested in ``list``, ``tuple``,
            ``dict``, ``OrderedDict`` (whose ``_metadata`` attribute is kept) and
            ``Counter`` (a ``MultiStepLR``'s milestones).
        f: a path (``str`` or ``os.PathLike``) or a binary file object with ``write``.
        pickle_module: accepted for torch's signature and ignored: nothing is pickled.
        pickle_protocol: checked as pickle checks it (an int up to 5), then ignored.
        _use_new_zipfile_serialization: accepted and ignored.
        _disable_byteorder_record: accepted and ignored (data is always little-endian).

    Raises:
        TypeError: ``obj`` holds something else (a Module, a function, an array of object
            dtype, an array being traced); the message says where.
        RuntimeError: the directory of ``f`` does not exist (torch's message), or ``f`` is
            a directory.
        AttributeError: ``f`` is neither a path nor has ``write`` (torch's type).

    PyTorch: ``torch.save``, in jnn's safetensors format (see the module docstring) instead
    of a pickle zip; an ``nn.Parameter`` loads back as its array, a big-endian NumPy array
    as little-endian; a path is written atomically (torch writes in place).

    Example:
        >>> import io, jnn, jnn.nn as nn
        >>> buffer = io.BytesIO()
        >>> jnn.save({"epoch": 3, "model": nn.Linear(2, 3).state_dict()}, buffer)
        >>> _ = buffer.seek(0)
        >>> jnn.load(buffer)["model"]["weight"].shape
        (3, 2)
    """
    path = _as_path(f)
    if path is None and not hasattr(f, "write"):  # torch's type and words, then what came
        raise AttributeError("expected 'f' to be string, path, or a file-like object with a "
                             f"'write' attribute; got {type(f).__name__}")
    # pickle's own check of the protocol (it pickles nothing else here): torch's errors
    pickle.dumps(None, protocol=pickle_protocol)
    tensors, metadata, keep = _serialize(obj)
    if path is not None:
        _save_to_path(path, tensors, metadata)
    else:
        if isinstance(f, io.TextIOBase):
            raise TypeError("jnn.save needs a binary file object (open it with 'wb'), "
                            f"got the text file {f!r}")
        f.write(safetensors.serialize(tensors, metadata=metadata))
    del keep


def load(f: FILE_LIKE, map_location: MAP_LOCATION = None, pickle_module: Any = None, *,
         weights_only: bool | None = None, mmap: bool | None = None,
         **pickle_load_args: Any) -> Any:
    """Load an object saved by :func:`save`, torch's ``torch.load``.

    Nothing in the file can run code: only the types :func:`save` stores are built, and a
    truncated, corrupted or tampered file raises a ``RuntimeError`` naming the file and the
    problem (an empty one an ``EOFError``, as in torch). A file written by ``torch.save`` is
    refused (with how to convert it).

    Args:
        f: a path (``str`` or ``os.PathLike``) or a binary file object with ``read``.
        map_location: where the ``jax.Array`` s go (NumPy arrays stay NumPy): ``None`` (JAX's
            default device), a device (``'cpu'``, ``'cuda:0'``, ``'gpu'``, a ``jax.Device``,
            a ``torch.device``; not an int, as in torch), a dict mapping the saved location
            (``'cpu'``, ``'cuda:1'``) to a device (locations it lacks go to the default
            device), or a callable ``fn(array, location)`` given each array on the CPU,
            returning a ``jax.Array`` or ``None`` (the default device).
        pickle_module: accepted for torch's signature and ignored: nothing is unpickled.
        weights_only: accepted and ignored: loading is always as safe as torch's
            ``weights_only=True``, ``False`` does not allow more.
        mmap: accepted for a path (``f`` a file object raises torch's ``ValueError``), and
            ignored: the file is read once into fresh arrays.
        **pickle_load_args: the unpickler's arguments (``encoding``, ``errors``,
            ``fix_imports``, ``buffers``): accepted and ignored; any other name is a
            ``TypeError``, as in torch.

    Returns:
        The saved object, rebuilt with the same types: ``tuple`` stays ``tuple``, ``int``
        keys stay ``int``, an ``OrderedDict`` keeps ``_metadata``; ``jax.Array`` s are on the
        ``map_location`` device (int64/float64 ones become int32/float32 unless
        ``jax_enable_x64`` is on, as everywhere in JAX; an int64 beyond int32 raises
        ``OverflowError``), NumPy arrays are fresh writable NumPy arrays.

    PyTorch: ``torch.load``; with ``map_location=None`` torch restores each tensor to the
    device it was saved from, jnn uses JAX's default device (the saved one may be absent).

    Example:
        >>> import io, jnn, jnn.nn as nn
        >>> model, buffer = nn.BatchNorm1d(3), io.BytesIO()
        >>> jnn.save(model.state_dict(), buffer)
        >>> _ = buffer.seek(0)
        >>> model.load_state_dict(jnn.load(buffer, map_location="cpu"))
        <All keys matched successfully>
    """
    unknown = sorted(set(pickle_load_args) - _UNPICKLER_ARGUMENTS)
    if unknown:  # torch hands them to pickle's Unpickler, which refuses other names
        raise TypeError(f"load() got an unexpected keyword argument '{unknown[0]}'")
    place = placement(map_location)
    path = _as_path(f)
    if mmap and path is None:
        raise ValueError("f must be a file path in order to use the mmap argument")
    if path is not None:
        with open(path, "rb") as stream:
            return _load(stream, repr(os.fsdecode(path)), place)
    if not hasattr(f, "read") and not hasattr(f, "seek"):  # torch's type and words
        raise AttributeError(f"'{type(f).__name__}' object has no attribute 'seek'. You can "
                             "only jnn.load from a path or a seekable binary file object")
    if not hasattr(f, "read") or isinstance(f, io.TextIOBase):
        raise TypeError(f"jnn.load expected a path or a binary file object for f (open it "
                        f"with 'rb'), got {type(f).__name__}")
    name = getattr(f, "name", None)
    return _load(f, repr(name) if isinstance(name, str) else f"the {type(f).__name__}", place)


# what torch.load passes on to pickle's Unpickler (accepted, and unused here)
_UNPICKLER_ARGUMENTS = {"fix_imports", "encoding", "errors", "buffers"}


def _as_path(f: Any) -> str | bytes | None:
    return os.fspath(f) if isinstance(f, (str, bytes, os.PathLike)) else None


# -- saving -----------------------------------------------------------------------------
def _serialize(obj: Any) -> tuple[dict, dict[str, str], list]:
    """Safetensors specs (pointing at host arrays, kept alive by the list) and metadata."""
    encoder = fmt.Encoder()
    try:
        structure = encoder.encode(obj)
    except fmt.Unsupported as ex:
        raise TypeError(f"jnn.save cannot save {ex.what}, found at {_path_text(ex.path)}. "
                        f"{_SUPPORTED}") from None
    text = json.dumps({"format": fmt.FORMAT_VERSION, "structure": structure},
                      separators=(",", ":"), allow_nan=False)
    metadata = {fmt.METADATA_KEY: text}
    for _, x in encoder.arrays:  # start every device-to-host copy before waiting on one
        if isinstance(x, jax.Array):
            x.copy_to_host_async()
    specs, keep = {}, []
    for name, x in encoder.arrays:
        host = np.asarray(x)
        if not host.flags.c_contiguous:
            host = host.copy(order="C")
        if host.dtype.byteorder == ">":  # safetensors is little-endian
            host = host.astype(host.dtype.newbyteorder("<"))
        dtype = fmt.dtype_name(host.dtype)
        if dtype not in fmt.NATIVE_CODES:
            host, dtype = host.reshape(-1).view(np.uint8), "uint8"
        keep.append(host)
        specs[name] = safetensors.TensorSpec(dtype=dtype, shape=list(host.shape),
                                             data_ptr=host.ctypes.data, data_len=host.nbytes)
    return specs, metadata, keep


def _path_text(path: list) -> str:
    return "obj" + "".join(f".{k}" if isinstance(k, fmt.Attribute) else f"[{k!r}]"
                           for k in path)


def _save_to_path(path: str | bytes, specs: dict, metadata: dict[str, str]) -> None:
    """Write atomically: a temporary file beside the target, synced, then renamed over it."""
    text = os.fsdecode(path)
    target = os.path.realpath(text)  # through a symlink, as torch's open() writes
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise RuntimeError(f"Parent directory {os.path.dirname(text)} does not exist.")
    if os.path.isdir(target):  # torch's open() fails: a RuntimeError with strerror's words
        raise RuntimeError(f"jnn.save cannot write {text!r}: open file failed with strerror: "
                           "Is a directory")
    tmp = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(6)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        mode = stat.S_IMODE(os.stat(tmp).st_mode)  # 0o666 less the umask, as open() gives
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)  # an existing file keeps its own
        except FileNotFoundError:
            pass
        _write_file(specs, tmp, metadata)
        os.chmod(tmp, mode)  # safetensors may create its file 0o600
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync(directory)  # the rename itself survives a crash (POSIX)


def _write_file(specs: dict, path: str, metadata: dict[str, str]) -> None:
    safetensors.serialize_file(specs, path, metadata=metadata)


def _fsync(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # a directory cannot be opened on Windows; nothing to sync there
    try:
        os.fsync(fd)
    except OSError:
        if not os.path.isdir(path):
            raise
    finally:
        os.close(fd)


# -- loading ----------------------------------------------------------------------------
def _load(stream: Any, where: str, place: Callable) -> Any:
    try:
        header = _read_header(stream)
        buffers = _read_data(stream, header)
        return _build(header, buffers, place)
    except fmt.FormatError as ex:
        # torch's unpickler runs out of input on an empty file: EOFError there, and here
        error = EOFError if isinstance(ex, fmt.EmptyFile) else RuntimeError
        raise error(f"jnn.load cannot read {where}: {ex}") from None
    except RecursionError:
        raise RuntimeError(f"jnn.load cannot read {where}: its structure is nested too "
                           "deeply") from None


def _read_header(stream: Any) -> fmt.Header:
    head = _read_exact(stream, 8).tobytes()
    if head.startswith(b"PK\x03\x04") or head == b"\x80\x02\x8a\x0al\xfc\x9cF":
        raise fmt.FormatError(_TORCH_FILE)  # torch's zip, or its legacy pickle magic
    if not head:
        raise fmt.EmptyFile("the file is empty (0 bytes long)")
    if len(head) < 8:
        raise fmt.FormatError(f"the file is {len(head)} bytes long, too short for a header")
    size = int.from_bytes(head, "little")
    if size > fmt.MAX_HEADER_BYTES:
        hint = " (it looks like a pickle)" if head[0] == 0x80 and 2 <= head[1] <= 5 else ""
        raise fmt.FormatError(f"its first 8 bytes announce a {size}-byte header, beyond "
                              f"safetensors' limit: not a safetensors file{hint}")
    left = _bytes_left(stream)
    if left is not None and size > left:
        raise fmt.FormatError(f"the header should be {size} bytes, but only {left} bytes "
                              "follow (the file is truncated)")
    raw = _read_exact(stream, size).tobytes()
    if len(raw) < size:
        raise fmt.FormatError(f"the file ends {len(raw)} bytes into a {size}-byte header "
                              "(truncated)")
    return fmt.parse_header(raw)


def _read_data(stream: Any, header: fmt.Header) -> dict[str, np.ndarray]:
    """Each tensor's bytes in its own buffer (a jax.Array may alias it on the CPU)."""
    left = _bytes_left(stream)
    if left is not None and left != header.data_bytes:
        problem = "truncated" if left < header.data_bytes else "trailing bytes"
        raise fmt.FormatError(f"the header describes {header.data_bytes} bytes of data but "
                              f"{left} follow ({problem})")
    buffers = {}
    for name, _, _, begin, end in sorted(header.entries, key=lambda e: e[3]):
        data = _read_exact(stream, end - begin)
        if data.size < end - begin:
            raise fmt.FormatError(f"the file ends inside tensor {name!r} (truncated)")
        buffers[name] = data
    if left is None and stream.read(1):
        raise fmt.FormatError("the file has bytes after the data its header describes")
    return buffers


def _bytes_left(stream: Any) -> int | None:
    """How many bytes a seekable stream has after its position (None when not seekable)."""
    try:
        if not stream.seekable():
            return None
        position = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return end - position


def _read_exact(stream: Any, n: int) -> np.ndarray:
    """Up to ``n`` bytes (fewer at the end of the stream) in a fresh uint8 array."""
    try:
        out = np.empty(n, np.uint8)
    except (MemoryError, ValueError, OverflowError):
        raise fmt.FormatError(f"the header asks for {n} bytes, more than can be "
                              "allocated") from None
    view, got = memoryview(out), 0
    readinto = getattr(stream, "readinto", None)
    while got < n:
        if readinto is not None:
            k = readinto(view[got:])
        else:
            chunk = stream.read(n - got)
            k = len(chunk)
            view[got:got + k] = chunk
        if not k:
            break
        got += k
    return out[:got]


def _build(header: fmt.Header, buffers: dict[str, np.ndarray], place: Callable) -> Any:
    """The saved object, from the checked header and the tensors' bytes."""
    metadata = header.metadata
    if fmt.METADATA_KEY in metadata:
        content = fmt.load_json(metadata[fmt.METADATA_KEY], "the jnn metadata")
        version = content.get("format") if type(content) is dict else None
        if version != fmt.FORMAT_VERSION or "structure" not in content:
            raise fmt.FormatError(f"its jnn metadata is not format {fmt.FORMAT_VERSION} "
                                  f"(format {version!r}: written by a newer jnn?)")
        structure = content["structure"]
    else:  # a plain safetensors file: its tensors, in header order
        structure = {"odict": [[name, fmt.plain_node(name, code, shape)]
                               for name, code, shape, _, _ in header.entries]}
    keys = list(fmt.collect_tensors(structure))
    codes = {name: code for name, code, _, _, _ in header.entries}
    uses: dict[str, int] = {}
    for key in keys:
        if key.name not in buffers:
            raise fmt.FormatError(f"the structure refers to tensor {key.name!r}, which the "
                                  "file does not hold")
        uses[key.name] = uses.get(key.name, 0) + 1
    arrays = []
    for key in keys:
        array = fmt.tensor_view(buffers[key.name], codes[key.name], key)
        arrays.append(array.copy() if uses[key.name] > 1 else array)  # never two owners
    on_device = [i for i, key in enumerate(keys)
                 if key.kind == "jax" or key.kind.startswith("key_")]
    placed = place([arrays[i] for i in on_device], [keys[i].device for i in on_device])
    for i, value in zip(on_device, placed):
        kind = keys[i].kind
        arrays[i] = value if kind == "jax" else jax.random.wrap_key_data(
            value, impl=kind.removeprefix("key_"))
    tensors = {key: array[()] if key.kind == "numpy_scalar" else array
               for key, array in zip(keys, arrays)}
    return fmt.Decoder(tensors).decode(structure)
