"""``nn.Parameter``: a handle on a ``jax.Array`` with torch's tensor-side attributes.

JAX arrays are immutable and JAX 0.10 refuses objects that only offer ``__jax_array__``,
so a Parameter is *not* an array.  It is a small mutable box — ``.data`` (the array),
``.grad`` and ``.requires_grad`` — that a Module owns.  Code inside ``Module.forward``
never sees the box: attribute reads there return ``.data`` (see ARCHITECTURE.md), so
``jnp.tanh(self.w)`` works.  Outside forward, ``model.fc.weight`` is this box, so
``.grad``, ``.data``, ``init.xavier_normal_(w)`` and ``np.asarray(w)`` work as in torch;
its arithmetic operators and the tensor methods loss code calls (``jnn/nn/_tensor_methods.py``)
compute on its array, differentiated inside a loss closure as torch's.
"""

from __future__ import annotations

import numbers
import operator
import weakref
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax._src.array import ArrayImpl as _ArrayImpl

from jnn import _state
from jnn._state import check_write
from jnn._state import versions as _versions
from jnn._tensor_functions import maths, shaping
from jnn._tensor_functions._common import broadcast_shape, check_clamp_bounds, is_concrete
from jnn._tensor_functions.dtypes import cpp_name, torch_name
from jnn.nn._tensor_methods import TensorMethods, _read, _unwrap, _wrap_dim
from jnn.nn.functional._utils import type_name

__all__ = ["Parameter", "Buffer", "as_array", "check_int_range", "data_owners", "reset_grad"]


def as_array(value: Any) -> jax.Array:
    """``value`` as a jax.Array: Parameters unwrap, everything else goes through jnp."""
    if isinstance(value, Parameter):
        return value._data
    if isinstance(value, jax.Array):
        return _strong(value)
    check_int_range(value)
    return _strong(jnp.array(value))  # copies: later changes to a numpy/torch source never show


def check_tensor_like(data: Any) -> None:
    """torch's ``Parameter(data)``/``Buffer(data)`` call ``data.detach()``: a Python number or
    list has no such method (an array or a numpy scalar, jnn's tensors, do)."""
    if not (isinstance(data, (jax.Array, np.ndarray, np.generic, Parameter))
            or hasattr(data, "detach")):
        raise AttributeError(f"'{_python_type_name(data)}' object has no attribute 'detach'")


def check_data_value(value: Any) -> None:
    """torch's ``p.data = value`` takes a tensor only: a list or a Python number is a
    TypeError there (jnn's tensors: jax and numpy arrays, Parameters, torch tensors)."""
    if not (isinstance(value, (jax.Array, np.ndarray, np.generic, Parameter))
            or hasattr(value, "__array__") or hasattr(value, "detach")):
        raise TypeError(f"Variable data has to be a tensor, but got {_python_type_name(value)}")


def check_bool_argument(value: Any, function: str = "requires_grad_",
                        argument: str = "requires_grad") -> None:
    """torch's parser for a ``bool`` argument (``requires_grad_(3)`` is a TypeError)."""
    if type(value) is not bool:
        raise TypeError(f"{function}(): argument '{argument}' (position 1) must be bool, not "
                        f"{_python_type_name(value)}")


# the C++ types torch's ``fill_`` names when a complex value does not fit
_FILL_NAMES = {
    "float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float", "float64": "double",
    "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int", "int64": "int64_t",
}


def check_fill_value(val: Any, dtype: Any) -> None:
    """torch's ``fill_`` argument checks (``p.fill_``, ``init.constant_``): a number or a 0-d
    array, in its wording."""
    if isinstance(val, (jax.Array, Parameter)):
        ndim = len(val.shape)
        if ndim:
            raise RuntimeError("fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {ndim} dimensions.")
        return
    if not isinstance(val, (numbers.Number, np.bool_)):
        got, shown = type_name(val), _described(val)
        raise TypeError(
            f"fill_() received an invalid combination of arguments - got ({got}), but "
            "expected one of:\n"
            " * (Tensor value)\n"
            f"      didn't match because some of the arguments have invalid types: (!{shown}!)\n"
            " * (Number value)\n"
            f"      didn't match because some of the arguments have invalid types: (!{shown}!)\n")
    # a Python complex into a real tensor (torch's scalar conversion; NumPy's is cast)
    if type(val) is complex and np.dtype(dtype).name in _FILL_NAMES:
        raise RuntimeError(f"value cannot be converted to type "
                           f"{_FILL_NAMES[np.dtype(dtype).name]} without overflow")


def _described(val: Any) -> str:
    """A value as torch's parser describes a mismatch: ``list of [int, str]``."""
    names = ", ".join(type_name(v) for v in val) if isinstance(val, (list, tuple)) else ""
    if isinstance(val, list):
        return f"list of [{names}]"
    if isinstance(val, tuple):
        return f"tuple of ({names}{',' if len(val) == 1 else ''})"
    return type_name(val)


def _python_type_name(value: Any) -> str:
    """The type as torch's messages print it (``numpy.float32``, ``int``)."""
    t = type(value)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def check_int_range(value: Any, into: Any = None) -> None:
    """Refuse 64-bit integers that JAX's default int32 would silently wrap (and floats
    beyond int32 copied ``into`` an integer dtype).

    With ``jax_enable_x64`` off (JAX's default) an int64 array becomes int32: torch's Long
    class indices and counters load fine, but a value beyond int32 would wrap to another
    number.  jnn keeps JAX's default and raises instead; enable x64 to keep int64.
    """
    if jax.config.jax_enable_x64:
        return
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return
    kind = np.dtype(dtype).kind
    if kind == "f" and into is not None and np.dtype(into).kind in "iu":
        # floats copied into an integer slot (a float32 num_batches_tracked loaded into
        # torch's Long counter): torch truncates them exactly; int32 would saturate
        arr = np.trunc(np.asarray(value, dtype=np.float64))
        arr = arr[np.isfinite(arr)]
    elif kind in "iu" and np.dtype(dtype).itemsize > 4:
        arr = np.asarray(value)
    else:
        return
    info = np.iinfo(np.int32)
    if arr.size and (arr.max() > info.max or arr.min() < info.min):
        worst = int(arr.max()) if arr.max() > info.max else int(arr.min())
        name = np.dtype(dtype).name
        raise OverflowError(
            f"{'an' if name.startswith('i') else 'a'} {name} value ({worst}) does not fit "
            f"JAX's default int32 and would silently "
            f"{'wrap' if kind in 'iu' else 'saturate'}. Enable 64-bit integers first: "
            "jax.config.update('jax_enable_x64', True)."
        )


def _strong(x: jax.Array) -> jax.Array:
    # A weakly typed array (``jnp.full(3, 2.0)``) would promote like a Python scalar
    # (weak f32 * bf16 -> bf16) where a torch tensor of that dtype does not, and would
    # give jit a different signature from the strong array it replaces (a re-trace).
    return jnp.asarray(x, x.dtype) if getattr(x, "weak_type", False) else x


# -- arrays handed out by ``p.data`` ----------------------------------------------------
# torch's ``nn.init.xavier_uniform_(m.weight.data)`` fills the Parameter, because ``.data``
# shares its storage.  A jax.Array cannot be written, so the public ``.data`` getter (not
# the internal ``_data`` of the hot paths) notes which Parameter handed out the array it
# returns, and ``jnn.nn.init`` writes into that Parameter when given an array that is
# still its current data (``data_owners``).  The note is ``id(array) -> weakref to the
# Parameter``, so it holds nothing alive; no reference to the array is needed, as an
# array that is its owner's current data is alive and its id its own.  It keeps the last
# 256 to 512 reads: two generations, the older dropped whole when the newer fills (O(1),
# where dropping a dict's oldest entries one by one leaves holes that iteration scans).
# A repeated read costs a lookup (~0.1 us), another array's ~0.3 us.  A value a compiled
# step handed out with its pending store (a weight logged every step) is not noted: the
# store's cache says whose it is while it is current (``_state.cached_owner``).
_DATA_READS_KEPT = 256


class _DataReads:
    __slots__ = ("newer", "older")

    def __init__(self) -> None:
        self.newer: dict[int, weakref.ref] = {}
        self.older: dict[int, weakref.ref] = {}


_data_reads = _DataReads()


def _remember_data_read(p: Parameter, value: Any) -> None:
    reads = _data_reads
    newer = reads.newer
    key = id(value)
    owner = newer.get(key)
    if owner is not None:
        if type(owner) is weakref.ReferenceType:
            if owner() is p:
                return
            # two Parameters holding one array (``d.weight.data = e.weight.data``): torch's
            # share the storage, so an init through either read fills both
            newer[key] = (owner, weakref.ref(p))
        elif not any(r() is p for r in owner):
            newer[key] = (*owner[-7:], weakref.ref(p))
        return
    if len(newer) >= _DATA_READS_KEPT:
        # (a thread still writing into the retired dict puts its entry in ``older``)
        reads.older, reads.newer = newer, {}
        newer = reads.newer
    newer[key] = weakref.ref(p)


def data_owners(value: Any) -> list[Parameter]:
    """The Parameters whose ``.data`` returned ``value`` and still hold it.

    ``value`` must be this very array (not a copy or a slice), among the last 256 arrays
    ``.data`` returned or the values a pending compiled store copied out, from Parameters
    that are alive and whose data has not been replaced since (several where they hold
    one array, as torch's share one storage).
    """
    key = id(value)
    owner = _data_reads.newer.get(key) or _data_reads.older.get(key)
    if owner is None:
        owners = [_state.cached_owner(value, "data")]
    else:
        refs = (owner,) if type(owner) is weakref.ReferenceType else owner
        owners = [r() for r in refs]
    return [p for p in owners if p is not None and p._data is value]


def reset_grad(p: Parameter, set_to_none: bool) -> None:
    """``zero_grad``'s work on one Parameter: its ``.grad`` to None, or to zeros.

    Zeros written over the placeholder gradient of a traced guessed first step (see
    ``_state.guessed_grads``) are noted: no gradient was produced there, and torch would
    have left a None.
    """
    grad = p.grad
    if grad is None:
        return
    if set_to_none:
        p.grad = None
        return
    p.grad = zeros = jnp.zeros_like(grad)
    guessed = _state.state.guessed_grads
    if guessed and guessed.get(id(p)) is grad:
        guessed[id(p)] = zeros


class Parameter(TensorMethods):
    """A learnable array registered on a Module, like ``torch.nn.Parameter``.

    Args:
        data: initial value (anything ``jnp.array`` accepts: jax/numpy arrays, a
            Parameter, nested lists). It is copied.
        requires_grad: whether gradients are computed and optimizers update it.

    Attributes:
        data: the current ``jax.Array``; assign to replace it.
        grad: the accumulated gradient (a ``jax.Array``) or ``None``.
        requires_grad: as in torch; ``False`` freezes the parameter.

    PyTorch: ``torch.nn.Parameter``. Unlike a torch tensor a Parameter is not itself an
    array: pass ``p.data`` (or use it inside ``forward``) where JAX needs an array.
    """

    # ``_value``/``_gradient`` are the raw slots.  ``_data``/``_grad`` (and the public
    # ``data``/``grad``) read them through properties that first write back any state a
    # ``jnn.compile``d step left packed on the device (see jnn/_compile.py): after a
    # compiled step nothing per-parameter runs in Python until someone looks.
    __slots__ = ("_value", "_gradient", "_requires_grad", "__weakref__")

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = jnp.zeros((0,), jnp.float32)
        check_tensor_like(data)
        if type(requires_grad) is not bool:
            raise TypeError("_make_subclass(): argument 'require_grad' (position 3) must be "
                            f"bool, not {_python_type_name(requires_grad)}")
        self._value = as_array(data) if isinstance(data, Parameter) else _copy(data)
        self._gradient: jax.Array | None = None
        self._requires_grad = requires_grad
        if self._requires_grad and not jnp.issubdtype(self._value.dtype, jnp.inexact):
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients")

    @classmethod
    def _wrap(cls, data: Any, requires_grad: bool) -> Parameter:
        # Hot path of pytree unflatten: no validation, no copy.
        p = object.__new__(cls)
        p._value = data
        p._gradient = None
        p._requires_grad = requires_grad
        return p

    # -- torch's tensor attributes -------------------------------------------------
    @property
    def _data(self) -> jax.Array:
        if _state.versions.pending:
            value = _state.read_pending(self, "data")
            if value is not None:
                return value
        value = self._value
        if type(value) is _state.LostState:
            raise value.error()
        if isinstance(value, jax.core.Tracer):  # another thread's trace swapped it in?
            value = _state.shadow_of(self, "data", value, lambda: self._value)
            if value is None:
                return self._data
        return value

    @_data.setter
    def _data(self, value: Any) -> None:
        if _state.state.pending:
            _state.flush()
        check_write(self, self._value, value, "a Parameter's data")
        self._value = value

    @property
    def _grad(self) -> jax.Array | None:
        if _state.versions.pending:
            value = _state.read_pending(self, "grad")
            if value is not None:
                return value
        value = self._gradient
        if type(value) is _state.LostState:
            raise value.error()
        if isinstance(value, jax.core.Tracer):  # another thread's trace swapped it in?
            value = _state.shadow_of(self, "grad", value, lambda: self._gradient)
            if value is None:
                return self._grad
        return value

    @_grad.setter
    def _grad(self, value: Any) -> None:
        if _state.state.pending:
            _state.flush()
        check_write(self, self._gradient, value, "a Parameter's .grad")
        self._gradient = value

    @property
    def data(self) -> jax.Array:
        pending = _versions.pending
        if pending:
            # A logged weight, handed out with the newest compiled step: a dict lookup
            # (``_state.read_pending``'s first look, inlined; not noted in ``_data_reads``:
            # ``data_owners`` finds it in the store's cache while it is current).
            store = pending[-1]
            if not (store.materialized or store.lent or store.offered):
                value = store.cache["data"].get(id(self))
                if value is not None and not value.is_deleted():
                    store.hits = True
                    return value
        return _detached_read(self)

    @data.setter
    def data(self, value: Any) -> None:
        check_data_value(value)
        value = as_array(value)
        if self._requires_grad and not jnp.issubdtype(value.dtype, jnp.inexact):
            raise RuntimeError("data set to a tensor that requires gradients must be floating "
                               "point or complex dtype")
        self._data = value

    @data.deleter
    def data(self) -> None:
        raise RuntimeError("Deleting tensor data is not allowed. Delete tensor instead!")

    @property
    def grad(self) -> jax.Array | None:
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is not None:
            value = _checked_grad(self, value)
        old = self._grad
        if (value is None) != (old is None):
            # Which .grad slots exist is part of what jnn.compile threads.
            _state.bump_cells(id(self))
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self.grad = None  # torch: `del p.grad` frees the gradient

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if type(value) is not bool:
            raise RuntimeError("requires_grad must be a bool")
        # (the raw slot's dtype: a compiled step never changes it, so nothing is unpacked)
        if value and not self._requires_grad and not jnp.issubdtype(self._value.dtype,
                                                                     jnp.inexact):
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients")
        if value != self._requires_grad:
            self._requires_grad = value
            _state.bump_structure(id(self))  # frozen-ness is part of every module's spec

    def requires_grad_(self, requires_grad: bool = True) -> Parameter:
        check_bool_argument(requires_grad)
        # torch's method and attribute word this differently ("and complex" in the latter)
        if requires_grad and not self._requires_grad and not jnp.issubdtype(
                self._value.dtype, jnp.inexact):
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self.requires_grad = requires_grad
        return self

    def _peek(self) -> Any:
        """The newest value, or the LostState marker that says what was lost (no raise)."""
        if _state.state.pending:
            _state.materialize()
        return self._value

    # Shape and dtype never change through a compiled step: the slot's (possibly older)
    # array, or the LostState marker, says them without unpacking a pending store (a
    # load_state_dict() between steps compiled a whole unpack just to compare shapes).
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._value.shape)

    @property
    def dtype(self) -> Any:
        return self._value.dtype

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def device(self) -> Any:
        devices = getattr(self._data, "devices", None)
        return next(iter(devices())) if devices is not None else None

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[_wrap_dim(dim, self.ndim, False)]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    nelement = numel

    def detach(self) -> jax.Array:
        # (torch's detach shares the storage: ``init.zeros_(p.detach())`` fills ``p``)
        return _detached_read(self)

    def numpy(self) -> np.ndarray:
        return np.asarray(self._data)

    # -- what logging and device code asks a tensor (a Parameter is a leaf) -----------
    is_leaf = True
    grad_fn = None

    def retain_grad(self) -> None:
        """A no-op, as torch's on a leaf (its ``.grad`` is kept anyway)."""

    @property
    def is_cuda(self) -> bool:
        device = self.device
        return device is not None and device.platform == "gpu"

    @property
    def itemsize(self) -> int:
        return jnp.dtype(self.dtype).itemsize

    def element_size(self) -> int:
        return self.itemsize

    @property
    def nbytes(self) -> int:
        return self.numel() * self.itemsize

    def contiguous(self, memory_format: Any = None) -> Parameter:
        return self  # (XLA arrays have no strides: always contiguous, as torch returns self)

    def is_contiguous(self, memory_format: Any = None) -> bool:
        return True

    def half(self) -> jax.Array:
        return _read(self).astype(jnp.float16)

    def bfloat16(self) -> jax.Array:
        return _read(self).astype(jnp.bfloat16)

    def to(self, *args: Any, **kwargs: Any) -> Any:
        """``p.to(device)``, ``p.to(dtype)``, ``p.to(device, dtype)``, ``p.to(tensor)``:
        the Parameter itself where nothing changes (as torch returns ``self``), else a
        converted array (differentiable, as torch's is)."""
        from jnn._tensor_functions.dtypes import resolve_dtype
        from jnn.nn.modules._casting import _is_dtype, resolve_device

        unknown = sorted(set(kwargs) - {"device", "dtype", "non_blocking", "copy",
                                        "memory_format"})
        if unknown:  # torch's argument parser's words
            got = [type(a).__name__ if not isinstance(a, (jax.Array, Parameter)) else "Tensor"
                   for a in args] + [f"{k}={type(kwargs[k]).__name__}" for k in unknown]
            raise TypeError(
                f"to() received an invalid combination of arguments - got ({', '.join(got)}"
                f"{'' if args else ', '}), but expected one of:\n * (torch.device device = "
                "None, torch.dtype dtype = None, bool non_blocking = False, bool copy = False, "
                "*, torch.memory_format memory_format = None)\n * (torch.dtype dtype, bool "
                "non_blocking = False, bool copy = False, *, torch.memory_format memory_format "
                "= None)\n * (Tensor tensor, bool non_blocking = False, bool copy = False, *, "
                "torch.memory_format memory_format = None)\n")
        device, dtype = kwargs.get("device"), kwargs.get("dtype")
        for a in args:
            if isinstance(a, bool):
                continue
            if isinstance(a, (jax.Array, Parameter)):
                dtype = dtype if dtype is not None else a.dtype
                device = device if device is not None else next(iter(a.devices())) \
                    if isinstance(a, jax.Array) else a.device
            elif _is_dtype(a):
                dtype = a
            else:
                device = a
        dtype = None if dtype is None else resolve_dtype(dtype)
        device = None if device is None else resolve_device(device)
        same_dtype = dtype is None or jnp.dtype(dtype) == self.dtype
        same_device = device is None or device == self.device
        if same_dtype and same_device and not kwargs.get("copy", False):
            return self
        x = _read(self)
        if not same_dtype:
            x = x.astype(dtype)
        elif same_device:  # copy=True
            x = jnp.array(x, copy=True)
        return x if same_device else jax.device_put(x, device)

    def cpu(self, memory_format: Any = None) -> Any:
        return self.to("cpu")

    def cuda(self, device: Any = None, non_blocking: bool = False,
             memory_format: Any = None) -> Any:
        return self.to("cuda" if device is None else
                       f"cuda:{device}" if isinstance(device, int) else device)

    def item(self) -> Any:
        if self.numel() != 1:
            raise RuntimeError(
                f"a Tensor with {self.numel()} elements cannot be converted to Scalar")
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def clone(self) -> jax.Array:
        return shaping.clone(self)  # a logged read: ``p.clone()`` in a loss trains ``p``

    # -- torch's factory methods: new arrays of this one's dtype (and device) ------
    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False, layout: Any = None,
                  pin_memory: bool = False) -> jax.Array:
        """Zeros of ``size`` (``new_zeros(2, 3)`` or ``new_zeros((2, 3))``), this
        Parameter's dtype unless ``dtype``, as ``torch.Tensor.new_zeros`` (an RNN's
        ``weight.new_zeros(layers, batch, hidden)``)."""
        return self._new("new_zeros", size, 0, dtype, device, requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False, layout: Any = None,
                 pin_memory: bool = False) -> jax.Array:
        """Ones of ``size``; as :meth:`new_zeros`."""
        return self._new("new_ones", size, 1, dtype, device, requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False, layout: Any = None,
                  pin_memory: bool = False) -> jax.Array:
        """An array of ``size`` (zeros: JAX has no uninitialised memory); as
        :meth:`new_zeros`."""
        return self._new("new_empty", size, 0, dtype, device, requires_grad)

    def new_full(self, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False, layout: Any = None,
                 pin_memory: bool = False) -> jax.Array:
        """``fill_value`` in an array of ``size`` (a tuple or list, as in torch)."""
        if not isinstance(size, (tuple, list)):
            raise TypeError("new_full(): argument 'size' (position 1) must be tuple of ints, "
                            f"not {_python_type_name(size)}")
        return self._new("new_full", (size,), _unwrap(fill_value), dtype, device,
                         requires_grad)

    def new_tensor(self, data: Any, *, dtype: Any = None, device: Any = None,
                   requires_grad: bool = False, layout: Any = None,
                   pin_memory: bool = False) -> jax.Array:
        """An array of ``data`` in this Parameter's dtype unless ``dtype`` (a copy)."""
        from jnn._tensor_functions import creation

        return creation.tensor(_unwrap(data), dtype=self.dtype if dtype is None else dtype,
                               device=device, requires_grad=requires_grad)

    def _new(self, name: str, size: tuple, value: Any, dtype: Any, device: Any,
             requires_grad: bool) -> jax.Array:
        from jnn._tensor_functions import creation

        if len(size) == 1 and not isinstance(size[0], (tuple, list)) and not isinstance(
                size[0], numbers.Integral):  # torch names the one argument a tuple
            raise TypeError(f"{name}(): argument 'size' (position 1) must be tuple of ints, "
                            f"not {_python_type_name(size[0])}")
        return creation._filled(name, size, None, value, None,
                                self.dtype if dtype is None else dtype, device,
                                requires_grad)

    # -- torch's in-place helpers (replace .data) ---------------------------------
    def copy_(self, src: Any) -> Parameter:
        if isinstance(src, (list, tuple, str, type(None))):
            raise TypeError("copy_(): argument 'other' (position 1) must be Tensor, not "
                            f"{_python_type_name(src)}")
        src = as_array(src)
        _check_broadcast_into(self.shape, src.shape)
        self._data = jnp.broadcast_to(src, self._data.shape).astype(self._data.dtype)
        return self

    def fill_(self, value: Any) -> Parameter:
        old = self._data  # an UninitializedParameter refuses first, as in torch
        check_fill_value(value, old.dtype)
        self._data = jnp.full_like(old, _unwrap(value))
        return self

    def zero_(self) -> Parameter:
        return self.fill_(0)

    def normal_(self, mean: float = 0.0, std: float = 1.0, *,
                generator: Any = None) -> Parameter:
        """Fill with draws from N(mean, std²), as ``torch.Tensor.normal_`` (the global
        generator unless ``generator``); ``jnn.nn.init.normal_(self, ...)``."""
        from jnn.nn import init

        return init.normal_(self, mean, std, generator=generator)

    def uniform_(self, from_: float = 0.0, to: float = 1.0, *,
                 generator: Any = None) -> Parameter:
        """Fill with draws from U(from_, to), as ``torch.Tensor.uniform_(from, to)``;
        ``jnn.nn.init.uniform_(self, ...)``."""
        from jnn.nn import init

        return init.uniform_(self, from_, to, generator=generator)

    # copy.deepcopy and pickle read the slots through these, so a copy taken right after a
    # compiled step sees that step's values (the packed store is written back first).
    def __getstate__(self) -> dict[str, Any]:
        # torch's Parameter copies and pickles rebuild data and requires_grad only: a
        # deep-copied model (an EMA, a best model) and its optimizer start without .grad
        return {"data": self._data, "grad": None, "requires_grad": self._requires_grad}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._value = state["data"]
        self._gradient = state["grad"]
        self._requires_grad = state["requires_grad"]

    # `x_np @ w`, `x_np + b`: numpy defers to the Parameter's reflected operators (JAX, a
    # logged read: differentiable) instead of converting it through __array__ and
    # computing a numpy array that no gradient reaches
    __array_ufunc__ = None

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = np.asarray(self._data)
        return arr if dtype is None else arr.astype(dtype)

    def __repr__(self) -> str:
        # torch's tensor repr ends "..., requires_grad=True)" for a trainable Parameter
        # and says nothing for a frozen one.
        text = repr(self._data)
        if self._requires_grad:
            text = (text[:-1] + ", requires_grad=True)" if text.endswith(")")
                    else text + " (requires_grad=True)")
        return f"Parameter containing:\n{text}"

    # Parameters are hashed by identity (torch's tensors are), while == compares values.
    __hash__ = object.__hash__

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(_read(self))  # a logged read: ``for row in p`` in a loss trains ``p``

    def __getitem__(self, index: Any) -> jax.Array:
        _check_index(index, self.shape)  # JAX clamps an out-of-range index: torch raises
        return _read(self)[index]

    def __bool__(self) -> bool:
        n = self.numel()
        if n != 1:
            raise RuntimeError("Boolean value of Tensor with "
                               f"{'no values' if n == 0 else 'more than one value'} is ambiguous")
        return bool(self._data.item())

    # (``.item()``: a shape-[1] or [[1]] Parameter converts as in torch; Python's float()
    # and int() of a jax.Array take 0-d ones only)
    def __float__(self) -> float:
        _check_one_element(self)
        return float(self._data.item())

    def __int__(self) -> int:
        _check_one_element(self)
        return int(self._data.item())


def _checked_grad(p: Parameter, value: Any) -> jax.Array:
    """``p.grad = value`` validated as torch validates it: type, identity, size, dtype."""
    if value is p:
        raise RuntimeError("can't assign Variable as its own grad")
    if isinstance(value, Parameter):
        value = value._data
    if not isinstance(value, (jax.Array, np.ndarray)):
        raise TypeError("assigned grad expected to be a Tensor or None but got grad of type "
                        f"{type(value).__name__}")
    shape, dtype = tuple(p._value.shape), p._value.dtype
    if tuple(value.shape) != shape:
        raise RuntimeError(
            f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor of "
            f"size '{list(shape)}'. Please ensure that the gradient and the tensor are the "
            "same size")
    if value.dtype != dtype:
        got, want = cpp_name(value.dtype), torch_name(dtype)
        raise RuntimeError(
            f"attempting to assign a gradient with dtype '{got}' to a tensor with grad_dtype "
            f"'{want}'. The gradient must match the tensor's grad_dtype (defaults to the "
            "tensor's dtype). You can set the tensor's grad_dtype attribute with a specific "
            "dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the "
            "dtypes of a tensor and its gradient may break downstream systems that assume "
            "they match.")
    return as_array(value)


def _copy(data: Any) -> jax.Array:
    if isinstance(data, jax.Array) and not isinstance(data, jax.core.Tracer):
        return _strong(jnp.array(data, copy=True))
    return as_array(data)


def _detached_read(p: Parameter) -> jax.Array:
    """``p.data``/``p.detach()``: the live array, outside torch's graph.

    Inside a differentiated closure the array is the tracer being differentiated, so its
    gradient is stopped there (``(w.detach() * w).sum()`` has torch's gradient ``w``, not
    ``2w``), and the read is not logged: a Parameter used only through them gets no
    ``.grad``, as in torch.  Elsewhere (``jax.grad`` of a function of Parameters included)
    it is the array itself, noted for ``init.f(p.data)`` (see ``_remember_data_read``).
    """
    value = p._data
    if type(value) is not _ArrayImpl and isinstance(value, jax.core.Tracer) and (
            _state.state.read_log is not None):  # (a concrete array first: a logged weight)
        return jax.lax.stop_gradient(value)
    _remember_data_read(p, value)
    return value


def _check_one_element(p: Parameter) -> None:
    if p.numel() != 1:
        raise ValueError("only one element tensors can be converted to Python scalars")


def _check_broadcast_into(target: tuple, source: tuple) -> None:
    """``source`` broadcasts to exactly ``target`` (an in-place result keeps its shape),
    with torch's two messages."""
    shape = broadcast_shape(target, source)
    if tuple(shape) != tuple(target):
        raise RuntimeError(f"output with shape {list(target)} doesn't match the broadcast "
                           f"shape {list(shape)}")


def _check_index(index: Any, shape: tuple) -> None:
    """Integer indices in range, as torch checks them (JAX would clamp them silently).

    Only plain integer and slice indices are checked; anything else (arrays, ``None``,
    ``...``) is left to JAX.
    """
    items = index if isinstance(index, tuple) else (index,)
    if not all(isinstance(i, slice) or (isinstance(i, (int, np.integer))
                                        and not isinstance(i, bool)) for i in items):
        return
    if len(items) > len(shape):
        if not shape:
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python "
                             "or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a "
                             "number")
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    for dim, i in enumerate(items):
        if not isinstance(i, slice) and not -shape[dim] <= i < shape[dim]:
            raise IndexError(
                f"index {i} is out of bounds for dimension {dim} with size {shape[dim]}")


def _in_place(self: Parameter, compute: Any, other: Any = None) -> Parameter:
    """``self``'s data replaced by ``compute(data)`` as torch's in-place ops do (same dtype
    and shape); on a parameter that requires grad only under ``jnn.no_grad()`` (torch's
    rule for leaves)."""
    if _state.state.grad_enabled and self._requires_grad:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation.")
    if other is not None and hasattr(other, "shape"):
        _check_broadcast_into(self.shape, tuple(other.shape))
    old = self._data
    value = compute(old)
    if jnp.shape(value) != old.shape:
        raise RuntimeError(
            f"output with shape {list(old.shape)} doesn't match the broadcast shape "
            f"{list(jnp.shape(value))}")
    self._data = jnp.asarray(value, old.dtype)
    return self


def _inplace(op: Any) -> Any:
    """``p -= x``, ``p.add_(x, alpha=a)``: see :func:`_in_place`."""
    def method(self: Parameter, other: Any, *, alpha: Any = None) -> Parameter:
        other = _unwrap(other)
        return _in_place(self, lambda old: op(
            old, other if alpha is None else alpha * jnp.asarray(other)), other)
    return method


def _lerp_(self: Parameter, end: Any, weight: Any) -> Parameter:
    """EMA code's ``ema.lerp_(p, 1 - decay)``."""
    end, weight = _unwrap(end), _unwrap(weight)
    return _in_place(self, lambda old: old + weight * (end - old))


def _clamp_(self: Parameter, min: Any = None, max: Any = None) -> Parameter:  # noqa: A002
    """Weight clipping's ``p.clamp_(-c, c)`` (torch's argument names)."""
    check_clamp_bounds(min, max)
    return _in_place(self, lambda old: jnp.clip(old, _unwrap(min), _unwrap(max)))


def _unary_(compute: Any) -> Any:
    """``p.abs_()``, ``p.sqrt_()``, ...: ``compute`` of the data, in place."""
    def method(self: Parameter) -> Parameter:
        return _in_place(self, compute)
    return method


def _pow_(self: Parameter, exponent: Any) -> Parameter:
    exponent = _unwrap(exponent)
    return _in_place(self, lambda old: old ** exponent, exponent)


def _addcmul_(self: Parameter, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Parameter:
    """``p.addcmul_(t1, t2, value=v)``: ``p + v * t1 * t2`` (hand-written optimizers)."""
    t1, t2, value = _unwrap(tensor1), _unwrap(tensor2), _unwrap(value)
    return _in_place(self, lambda old: old + value * (jnp.asarray(t1) * jnp.asarray(t2)))


def _addcdiv_(self: Parameter, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Parameter:
    """``p.addcdiv_(t1, t2, value=v)``: ``p + v * t1 / t2`` (Adam written by hand)."""
    t1, t2, value = _unwrap(tensor1), _unwrap(tensor2), _unwrap(value)
    for t in (t1, t2):
        if jnp.issubdtype(jnp.result_type(t), jnp.integer):
            raise RuntimeError(
                "Integer division with addcdiv is no longer supported, and in a future  "
                "release addcdiv will perform a true division of tensor1 and tensor2. The "
                "historic addcdiv behavior can be implemented as (input + value * "
                "torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs and as "
                "(input + value * tensor1 / tensor2) for float inputs. The future addcdiv "
                "behavior is just the latter implementation: (input + value * tensor1 / "
                "tensor2), for all dtypes.")
    return _in_place(self, lambda old: old + value * (jnp.asarray(t1) / jnp.asarray(t2)))


def _masked_fill_(self: Parameter, mask: Any, value: Any) -> Parameter:
    from jnn._tensor_functions.indexing import masked_fill

    mask = _unwrap(mask)
    return _in_place(self, lambda old: masked_fill(old, mask, _unwrap(value)))


def _index_fill_(self: Parameter, dim: int, index: Any, value: Any) -> Parameter:
    """``p.index_fill_(dim, index, value)``: the entries at ``index`` along ``dim``."""
    index = jnp.asarray(_unwrap(index))
    if not jnp.issubdtype(index.dtype, jnp.integer):
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    if index.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    d = _wrap_dim(dim, max(self.ndim, 1))
    size = self.shape[d] if self.ndim else 1
    if is_concrete(index):  # (a traced index inside jnn.compile: JAX's clamping)
        for i in np.asarray(index).reshape(-1).tolist():
            if not -size <= i < size:
                raise IndexError(
                    f"index {i} is out of bounds for dimension {d} with size {size}")
    value = _unwrap(value)
    return _in_place(self, lambda old: old.at[(slice(None),) * d + (index,)].set(value)
                     if old.ndim else jnp.asarray(value, old.dtype))


def _fill_diagonal_(self: Parameter, fill_value: Any, wrap: bool = False) -> Parameter:
    """``p.fill_diagonal_(v, wrap=False)`` (an identity-like initialisation)."""
    shape = self.shape
    if _state.state.grad_enabled and self._requires_grad:  # (torch fills a view of it)
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    if len(shape) < 2:
        raise RuntimeError("dimensions must larger than 1")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    numel = int(np.prod(shape))
    if len(shape) == 2:
        step = shape[1] + 1
        flat = np.arange(0, numel, step)
        if not wrap:
            flat = flat[:min(shape)]
    else:
        flat = np.arange(shape[0]) * sum(shape[0] ** k for k in range(len(shape)))
    value = _unwrap(fill_value)
    return _in_place(self, lambda old: old.reshape(-1).at[flat].set(value).reshape(shape))


def _round_(self: Parameter, *, decimals: int = 0) -> Parameter:
    return _in_place(self, lambda old: maths.round(old, decimals=decimals))


def _clamp_min_(self: Parameter, min: Any) -> Parameter:  # noqa: A002 - torch's name
    return _clamp_(self, min=min)


def _clamp_max_(self: Parameter, max: Any) -> Parameter:  # noqa: A002 - torch's name
    return _clamp_(self, max=max)


# jnn's own tensor functions (torch's semantics: sign(NaN) is 0, ...), and two torch has
# only as methods
_UNARY_IN_PLACE = {
    **{name: getattr(maths, name) for name in (
        "abs", "neg", "sqrt", "rsqrt", "exp", "expm1", "log", "log1p", "sign", "floor",
        "ceil", "trunc", "reciprocal", "sigmoid", "tanh", "square", "sin", "cos")},
    "frac": lambda x: x - jnp.trunc(x), "relu": lambda x: jnp.maximum(x, 0),
}

for _name, _op in [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                   ("truediv", operator.truediv)]:
    setattr(Parameter, f"__i{_name}__", _inplace(_op))
for _name, _fn in _UNARY_IN_PLACE.items():
    setattr(Parameter, f"{_name}_", _unary_(_fn))
Parameter.round_ = _round_  # type: ignore[attr-defined]
Parameter.pow_ = _pow_  # type: ignore[attr-defined]
Parameter.addcmul_ = _addcmul_  # type: ignore[attr-defined]
Parameter.addcdiv_ = _addcdiv_  # type: ignore[attr-defined]
Parameter.masked_fill_ = _masked_fill_  # type: ignore[attr-defined]
Parameter.index_fill_ = _index_fill_  # type: ignore[attr-defined]
Parameter.fill_diagonal_ = _fill_diagonal_  # type: ignore[attr-defined]
Parameter.fmod_ = _inplace(jnp.fmod)  # type: ignore[attr-defined]
Parameter.remainder_ = _inplace(jnp.remainder)  # type: ignore[attr-defined]
Parameter.clamp_min_ = _clamp_min_  # type: ignore[attr-defined]
Parameter.clamp_max_ = _clamp_max_  # type: ignore[attr-defined]
Parameter.clip_ = _clamp_  # type: ignore[attr-defined]
Parameter.add_ = _inplace(operator.add)  # type: ignore[attr-defined]
Parameter.sub_ = _inplace(operator.sub)  # type: ignore[attr-defined]
Parameter.mul_ = _inplace(operator.mul)  # type: ignore[attr-defined]
Parameter.div_ = _inplace(operator.truediv)  # type: ignore[attr-defined]
Parameter.lerp_ = _lerp_  # type: ignore[attr-defined]
Parameter.clamp_ = _clamp_  # type: ignore[attr-defined]
Parameter.__hash__ = object.__hash__  # type: ignore[method-assign]

# A Parameter on its own is a pytree of one leaf, so lists of Parameters (an optimizer's
# param group) flatten to arrays and come back as Parameters.
jax.tree_util.register_pytree_node(
    Parameter,
    lambda p: ((_read(p),), p._requires_grad),
    lambda requires_grad, children: Parameter._wrap(children[0], requires_grad),
)


class Buffer:
    """Marks an array to be registered as a buffer on assignment, like ``torch.nn.Buffer``.

    ``self.running_mean = nn.Buffer(jnp.zeros(3))`` is ``register_buffer("running_mean",
    jnp.zeros(3))``; ``persistent=False`` keeps it out of ``state_dict``.
    """

    __slots__ = ("data", "persistent")

    def __init__(self, data: Any, *, persistent: bool = True) -> None:
        if data is None:  # torch: an empty float tensor
            data = jnp.zeros((0,), jnp.float32)
        check_tensor_like(data)
        self.data = as_array(data)
        self.persistent = persistent
