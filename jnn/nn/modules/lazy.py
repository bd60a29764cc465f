"""Lazy modules: state whose shape is inferred from the first input (torch.nn.modules.lazy).

A lazy layer (``LazyLinear``, ``LazyConv2d``, ``LazyBatchNorm2d``, ...) is built without its
input size. Its parameters start as :class:`UninitializedParameter` placeholders and its
buffers as :class:`UninitializedBuffer` ones; the first call runs
``initialize_parameters(input)`` from a forward pre-hook, which reads the size from the
input, materialises the placeholders, runs ``reset_parameters()`` and switches the object
to its ordinary class (``cls_to_become``: a ``LazyLinear`` becomes a ``Linear``).

Before that first call, as in torch, ``state_dict()`` holds the placeholders themselves, a
placeholder's shape cannot be read, and ``load_state_dict`` of an ordinary checkpoint —
on the lazy module or on any parent — materialises them with the checkpoint's shapes (a
load pre-hook, ``_lazy_load_hook``, as torch's).

jnn notes. Materialise with one eager call (a dry run) before handing the module to
``jax.jit``, ``jax.grad``, ``jnn.compile`` or an optimizer: a placeholder has no array, so
flattening an uninitialised module raises a message saying so, and a first call on a
traced input (inside a transformation) raises one too. A first call that fails, or a load
that fails, leaves the placeholders in place. A JAX array cannot change in place, so
:meth:`UninitializedBuffer.materialize` puts its new array into the lazy module being
initialised (or loaded) and returns it; a reference to the placeholder itself stays a
placeholder.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jnn import _state
from jnn._tensor_functions.dtypes import default_float
from jnn.nn.modules import _state_dict as _sd
from jnn.nn.parameter import Parameter

__all__ = ["LazyModuleMixin", "UninitializedParameter", "UninitializedBuffer", "is_lazy"]

_SHAPE_ERROR = (
    "Can't access the shape of an uninitialized parameter or buffer. This error usually "
    "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
    "initialized one. Call `forward` to initialize the parameters before accessing their "
    "attributes.")
_USE_ERROR = (
    "Attempted to use an uninitialized parameter. This error happens when you are using a "
    "`LazyModule` (or an `UninitializedParameter`) before its first call: call `forward` "
    "with a dummy batch to initialize the parameters before reading their values or passing "
    "the module to jax.jit, jax.grad, jnn.compile or an optimizer.")


class _Placeholder:
    """What both placeholders answer before materialisation: a dtype and a device, and
    torch's error for anything about the (unknown) shape."""

    __slots__ = ()

    @property
    def shape(self) -> tuple[int, ...]:
        raise RuntimeError(_SHAPE_ERROR)

    @property
    def ndim(self) -> int:
        raise RuntimeError(_SHAPE_ERROR)

    def size(self, dim: int | None = None) -> Any:
        raise RuntimeError(_SHAPE_ERROR)

    def dim(self) -> int:
        raise RuntimeError(_SHAPE_ERROR)

    def numel(self) -> int:
        raise RuntimeError(_SHAPE_ERROR)

    @property
    def dtype(self) -> Any:
        return self._value.dtype

    @property
    def device(self) -> Any:
        return next(iter(self._value.devices()))


class UninitializedParameter(_Placeholder, Parameter):
    """A parameter whose shape is not known yet; :meth:`materialize` makes it a Parameter.

    Args:
        requires_grad: as for :class:`~jnn.nn.Parameter`. Default ``True``.
        device, dtype: where and of what type the array will be created.

    Reading its shape raises torch's RuntimeError; reading its values (or flattening a
    module that holds it) raises too. ``.data`` is the placeholder itself, so a
    ``state_dict`` taken before materialisation holds it, as torch's does.

    PyTorch: ``torch.nn.parameter.UninitializedParameter``.

    Example:
        >>> p = UninitializedParameter()
        >>> p.materialize((2, 3)); p.shape
        (2, 3)
    """

    __slots__ = ()  # same layout as Parameter, so materialize can switch the class
    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        # An empty array carries the dtype and device the parameter will be created with
        # (torch's placeholder also holds an empty tensor).
        super().__init__(_placeholder(dtype, device), requires_grad)

    def materialize(self, shape: tuple[int, ...], device: Any = None,
                    dtype: Any = None) -> None:
        """Create the array (zeros until ``reset_parameters``) and become a Parameter."""
        self._value = _new_array(self._value, shape, device, dtype)
        self.__class__ = self.cls_to_become
        _state.bump_structure()  # a new leaf shape, and a new kind of cell, for compile
        _state.bump_cells()

    @property
    def _data(self) -> jax.Array:
        raise RuntimeError(_USE_ERROR)

    @property
    def data(self) -> UninitializedParameter:  # type: ignore[override]
        return self

    @data.setter
    def data(self, value: Any) -> None:
        # Module.to(dtype/device) writes back a converted placeholder (see astype and the
        # pytree registration below); an array would need a shape: use materialize().
        if not isinstance(value, UninitializedParameter):
            raise RuntimeError(_USE_ERROR)
        self._value = value._value

    def astype(self, dtype: Any) -> UninitializedParameter:
        """A placeholder that will be created with ``dtype`` (``Module.to`` casts with it)."""
        return _wrap(self._value.astype(dtype), self._requires_grad)

    def __repr__(self) -> str:
        return "<UninitializedParameter>"

    # A copy or pickle is a new placeholder of the same kind (torch's __deepcopy__ and
    # __reduce_ex__; jnn's also keeps the dtype through a pickle).
    def __deepcopy__(self, memo: dict) -> UninitializedParameter:
        copy = memo.get(id(self))
        if copy is None:
            copy = memo[id(self)] = _wrap(self._value, self._requires_grad)
        return copy

    def __reduce_ex__(self, protocol: Any) -> tuple:
        return (UninitializedParameter, (self._requires_grad, None, str(self._value.dtype)))


def _wrap(placeholder: jax.Array, requires_grad: bool) -> UninitializedParameter:
    p = object.__new__(UninitializedParameter)
    p._value = placeholder
    p._gradient = None
    p._requires_grad = requires_grad
    return p


# A placeholder is a pytree of its empty array, so jax.device_put (Module.to(device)) moves
# it; a module holding one still refuses to flatten (its _data raises).
jax.tree_util.register_pytree_node(
    UninitializedParameter,
    lambda p: ((p._value,), p._requires_grad),
    lambda requires_grad, children: _wrap(children[0], requires_grad),
)


def _placeholder(dtype: Any, device: Any) -> jax.Array:
    arr = jnp.zeros((0,), dtype or default_float())
    return arr if device is None else jax.device_put(arr, _device(device))


def _device(device: Any) -> jax.Device:
    from jnn.nn.modules._casting import resolve_device

    return resolve_device(device)


class UninitializedBuffer(_Placeholder):
    """A buffer whose shape is not known yet; :meth:`materialize` creates its array.

    Args:
        requires_grad: kept for torch's signature (buffers are not trained). Default
            ``False``.
        device, dtype: where and of what type the array will be created.
        persistent: whether the buffer goes into ``state_dict``. Default ``True``.

    Reading its shape raises torch's RuntimeError; ``dtype`` and ``device`` can be read,
    and ``Module.to`` casts or moves it (a new placeholder). A ``state_dict`` taken before
    materialisation holds it, as torch's does.

    PyTorch: ``torch.nn.UninitializedBuffer``. torch's becomes a tensor in place; a JAX
    array cannot, so ``materialize`` returns the new array and puts it into the lazy
    module being initialised or loaded (see the module docstring).

    Example:
        >>> b = UninitializedBuffer()
        >>> b.materialize((2, 3)).shape
        (2, 3)
    """

    __slots__ = ("_value", "requires_grad", "persistent")
    cls_to_become = jax.Array

    def __init__(self, requires_grad: bool = False, device: Any = None, dtype: Any = None,
                 persistent: bool = True) -> None:
        self._value = _placeholder(dtype, device)
        self.requires_grad = requires_grad
        self.persistent = persistent

    def materialize(self, shape: tuple[int, ...], device: Any = None,
                    dtype: Any = None) -> jax.Array:
        """Create the array (zeros) and put it where the initialising module holds this."""
        value = _new_array(self._value, shape, device, dtype)
        for module in _initialising.modules:
            buffers = module.__dict__["_buffers"]
            for name, buffer in buffers.items():
                if buffer is self:
                    buffers[name] = value
        _state.bump_structure()
        return value

    def astype(self, dtype: Any) -> UninitializedBuffer:
        """A placeholder that will be created with ``dtype`` (``Module.to`` casts with it)."""
        return _wrap_buffer(self._value.astype(dtype), self.requires_grad, self.persistent)

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(_USE_ERROR)

    def __repr__(self) -> str:
        return "<UninitializedBuffer>"

    def __deepcopy__(self, memo: dict) -> UninitializedBuffer:
        copy = memo.get(id(self))
        if copy is None:
            copy = memo[id(self)] = _wrap_buffer(self._value, self.requires_grad,
                                                 self.persistent)
        return copy

    def __reduce_ex__(self, protocol: Any) -> tuple:
        return (UninitializedBuffer, (self.requires_grad, None, str(self._value.dtype),
                                      self.persistent))


def _wrap_buffer(placeholder: jax.Array, requires_grad: bool,
                 persistent: bool) -> UninitializedBuffer:
    b = object.__new__(UninitializedBuffer)
    b._value = placeholder
    b.requires_grad = requires_grad
    b.persistent = persistent
    return b


jax.tree_util.register_pytree_node(  # so jax.device_put (Module.to(device)) moves it
    UninitializedBuffer,
    lambda b: ((b._value,), (b.requires_grad, b.persistent)),
    lambda aux, children: _wrap_buffer(children[0], *aux),
)


def _new_array(placeholder: jax.Array, shape: tuple[int, ...], device: Any,
               dtype: Any) -> jax.Array:
    """Zeros of ``shape`` where and of the type the placeholder says (unless overridden)."""
    value = jnp.zeros(tuple(shape), dtype or placeholder.dtype)
    if device is not None:
        return jax.device_put(value, _device(device))
    if not isinstance(placeholder, jax.core.Tracer):
        return jax.device_put(value, next(iter(placeholder.devices())))
    return value


class _Initialising(threading.local):
    """The lazy modules whose placeholders are being materialised in this thread."""

    def __init__(self) -> None:
        self.modules: list[Any] = []


_initialising = _Initialising()


def register_uninitialized_buffer(module: Any, name: str, buffer: UninitializedBuffer) -> None:
    """Put a placeholder buffer on ``module`` (``register_buffer`` takes arrays only)."""
    d = module.__dict__
    if name not in d["_buffers"] and hasattr(module, name):
        raise KeyError(f"attribute '{name}' already exists")
    d["_buffers"][name] = buffer
    if buffer.persistent:
        d["_non_persistent_buffers_set"].discard(name)
    else:
        d["_non_persistent_buffers_set"].add(name)
    module._changed()


def is_lazy(value: Any) -> bool:
    """Whether ``value`` is an uninitialised placeholder (jnn's or torch's)."""
    return (isinstance(value, (UninitializedParameter, UninitializedBuffer))
            or type(value).__name__ in ("UninitializedParameter", "UninitializedBuffer"))


class LazyModuleMixin:
    """Mixin for modules whose parameters and buffers are created at the first call.

    A subclass lists the mixin first (``class LazyLinear(LazyModuleMixin, Linear)``),
    creates :class:`UninitializedParameter` / :class:`UninitializedBuffer` placeholders in
    ``__init__``, implements ``initialize_parameters(*args, **kwargs)`` and names its
    ordinary class in ``cls_to_become``. The first call materialises the placeholders from
    its arguments, removes the hooks and switches the object's class; a load of an
    ordinary checkpoint before it materialises them with the checkpoint's shapes.

    PyTorch: ``torch.nn.modules.lazy.LazyModuleMixin`` (same hooks: ``_load_hook`` and
    ``_initialize_hook``). A lazy module is not a pytree until it is materialised (see
    the module docstring).
    """

    cls_to_become: type | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self._load_hook = self._register_load_state_dict_pre_hook(  # type: ignore[attr-defined]
            self._lazy_load_hook)
        self._initialize_hook = self.register_forward_pre_hook(  # type: ignore[attr-defined]
            self._infer_parameters, with_kwargs=True)

    def has_uninitialized_params(self) -> bool:
        """Whether any parameter or buffer of this module is still a placeholder."""
        d = self.__dict__
        return any(is_lazy(v) for v in itertools.chain(d["_parameters"].values(),
                                                       d["_buffers"].values()))

    def initialize_parameters(self, *args: Any, **kwargs: Any) -> None:
        """Materialise the parameters from the first call's arguments (subclasses)."""
        raise NotImplementedError(
            f"initialize_parameters is not implemented for {self.__class__.__name__}")

    def _infer_parameters(self, module: Any, args: tuple, kwargs: dict | None = None) -> None:
        """The forward pre-hook: materialise, drop the hooks, become ``cls_to_become``."""
        kwargs = kwargs or {}
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(
                (args, kwargs))):
            raise RuntimeError(
                f"{module._get_name()} infers its parameters from its first input, which is "
                "traced here (jax.jit, jax.grad, jax.vmap or jnn.compile): call the model "
                "once eagerly on a sample batch (a dry run) before transforming or compiling "
                "it, and create optimizers after that call.")
        restore = _placeholders(module)
        st = _state.state
        depth, st.forward_depth = st.forward_depth, 0  # parameters read as boxes here
        _initialising.modules.append(module)
        try:
            module.initialize_parameters(*args, **kwargs)
        except BaseException:
            # nothing half-made survives a failed first call (a later call would find
            # zero weights and skip the initialisation): the placeholders come back
            restore()
            raise
        finally:
            _initialising.modules.pop()
            st.forward_depth = depth
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
        module._initialize_hook.remove()
        module._load_hook.remove()
        delattr(module, "_initialize_hook")
        delattr(module, "_load_hook")
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become

    def _lazy_load_hook(self, state_dict: Mapping, prefix: str, local_metadata: dict,
                        strict: bool, missing_keys: list, unexpected_keys: list,
                        error_msgs: list) -> None:
        """Load pre-hook: materialise each placeholder the checkpoint has an array for.

        A placeholder loaded from a placeholder stays uninitialised (and counts as
        matched), as in torch. A load that fails puts the placeholders back.
        """
        d = self.__dict__
        restore = _placeholders(self)
        changed = False
        for container in (d["_parameters"], d["_buffers"]):
            for name, value in container.items():
                key = prefix + name
                if value is None or key not in state_dict or not is_lazy(value):
                    continue
                incoming = state_dict[key]
                if is_lazy(incoming):
                    continue
                shape = getattr(incoming, "shape", None)  # not an array: the loader says so
                if shape is None:
                    continue
                if isinstance(value, UninitializedParameter):
                    value.materialize(tuple(shape))
                else:
                    container[name] = value.materialize(tuple(shape))
                changed = True
        if changed:
            _sd.record_undo(restore)

    def _replicate_for_data_parallel(self) -> Any:
        raise RuntimeError(
            "Modules with uninitialized parameters can't be used with `DataParallel`. "
            "Run a dummy forward pass to correctly initialize the modules")


def _placeholders(module: Any) -> Any:
    """A function that puts the module's current placeholders back where they are now."""
    d = module.__dict__
    params = [(p, p._value) for p in d["_parameters"].values()
              if isinstance(p, UninitializedParameter)]
    buffers = d["_buffers"]
    lazy_buffers = [(name, b) for name, b in buffers.items() if is_lazy(b)]

    def restore() -> None:
        for p, value in params:
            p.__class__ = UninitializedParameter
            p._value = value
        for name, b in lazy_buffers:
            buffers[name] = b
        _state.bump_structure()
        _state.bump_cells()

    return restore
