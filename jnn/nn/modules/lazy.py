"""Lazy modules: parameters whose shape is inferred from the first input (torch.nn.modules.lazy).

A lazy layer (``LazyLinear``, ``LazyConv2d``, ...) is built without its input size. Its
parameters start as :class:`UninitializedParameter` placeholders; the first call runs
``initialize_parameters(input)`` from a forward pre-hook, which reads the size from the
input, materialises the parameters, runs ``reset_parameters()`` and switches the object
to its ordinary class (``cls_to_become``: a ``LazyLinear`` becomes a ``Linear``).

Before that first call, as in torch, ``state_dict()`` holds the placeholders themselves,
``load_state_dict`` of an ordinary checkpoint materialises them with the checkpoint's
shapes, and a placeholder's shape cannot be read.

jnn notes. Materialise with one eager call (a dry run) before handing the module to
``jax.jit``, ``jax.grad``, ``jnn.compile`` or an optimizer: a placeholder has no array, so
flattening an uninitialised module raises a message saying so, and a first call on a
traced input (inside a transformation) raises one too. A first call that fails leaves the
placeholders in place. ``load_state_dict`` called
on a lazy module itself materialises its placeholders; one reached through a parent's
``load_state_dict`` does not yet (jnn's Module has no per-module load hooks).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jnn import _state
from jnn.nn.parameter import Parameter

__all__ = ["LazyModuleMixin", "UninitializedParameter"]

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


class UninitializedParameter(Parameter):
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
        placeholder = self._value
        value = jnp.zeros(tuple(shape), dtype or placeholder.dtype)
        if device is not None:
            value = jax.device_put(value, _device(device))
        elif not isinstance(placeholder, jax.core.Tracer):
            value = jax.device_put(value, next(iter(placeholder.devices())))
        self._value = value
        self.__class__ = self.cls_to_become
        _state.bump_structure()  # a new leaf shape, and a new kind of cell, for compile
        _state.state.cells_version += 1

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

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


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
    arr = jnp.zeros((0,), dtype or jnp.float32)
    return arr if device is None else jax.device_put(arr, _device(device))


def _device(device: Any) -> jax.Device:
    from jnn.nn.modules._casting import resolve_device

    return resolve_device(device)


def is_lazy(value: Any) -> bool:
    """Whether ``value`` is an uninitialised placeholder (jnn's or torch's)."""
    return (isinstance(value, UninitializedParameter)
            or type(value).__name__ in ("UninitializedParameter", "UninitializedBuffer"))


class LazyModuleMixin:
    """Mixin for modules whose parameters are created at the first call.

    A subclass lists the mixin first (``class LazyLinear(LazyModuleMixin, Linear)``),
    creates :class:`UninitializedParameter` placeholders in ``__init__``, implements
    ``initialize_parameters(*args, **kwargs)`` and names its ordinary class in
    ``cls_to_become``. The first call materialises the parameters from its arguments,
    removes the pre-hook and switches the object's class.

    PyTorch: ``torch.nn.modules.lazy.LazyModuleMixin``. A lazy module is not a pytree
    until it is materialised (see the module docstring).
    """

    cls_to_become: type | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
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
        """The forward pre-hook: materialise, drop the hook, become ``cls_to_become``."""
        kwargs = kwargs or {}
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(
                (args, kwargs))):
            raise RuntimeError(
                f"{module._get_name()} infers its parameters from its first input, which is "
                "traced here (jax.jit, jax.grad, jax.vmap or jnn.compile): call the model "
                "once eagerly on a sample batch (a dry run) before transforming or compiling "
                "it, and create optimizers after that call.")
        placeholders = [(p, p._value) for p in itertools.chain(
            module._parameters.values(), module._buffers.values()) if is_lazy(p)]
        st = _state.state
        depth, st.forward_depth = st.forward_depth, 0  # parameters read as boxes here
        try:
            module.initialize_parameters(*args, **kwargs)
        except BaseException:
            # nothing half-made survives a failed first call (a later call would find
            # zero weights and skip the initialisation): the placeholders come back
            for p, value in placeholders:
                p.__class__ = UninitializedParameter
                p._value = value
            raise
        finally:
            st.forward_depth = depth
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
        module._initialize_hook.remove()
        delattr(module, "_initialize_hook")
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become

    def _lazy_load_hook(self, state_dict: Mapping, prefix: str, *args: Any) -> None:
        """Materialise each placeholder the checkpoint holds an ordinary array for."""
        d = self.__dict__
        for name, value in itertools.chain(d["_parameters"].items(), d["_buffers"].items()):
            key = prefix + name
            if value is not None and key in state_dict and is_lazy(value):
                incoming = state_dict[key]
                if not is_lazy(incoming):
                    value.materialize(tuple(incoming.shape))

    def load_state_dict(self, state_dict: Mapping, strict: bool = True,
                        assign: bool = False) -> Any:
        """torch's lazy loading: ordinary arrays materialise placeholders first.

        A placeholder loaded from a placeholder stays uninitialised and counts as
        matched, as in torch.
        """
        self._lazy_load_hook(state_dict, "")
        params = self.__dict__["_parameters"]
        both_lazy = {name for name, value in params.items()
                     if is_lazy(value) and is_lazy(state_dict.get(name))}
        if not both_lazy:
            return super().load_state_dict(state_dict, strict, assign)  # type: ignore[misc]
        # Hide those pairs from the loader (it would read the placeholders' shapes), then
        # put the parameters back in their places.
        order = list(params.items())
        for name in both_lazy:
            del params[name]
        rest = {k: v for k, v in state_dict.items() if k not in both_lazy}
        try:
            return super().load_state_dict(rest, strict, assign)  # type: ignore[misc]
        finally:
            params.clear()
            params.update(order)

    def _replicate_for_data_parallel(self) -> Any:
        raise RuntimeError(
            "Modules with uninitialized parameters can't be used with `DataParallel`. "
            "Run a dummy forward pass to correctly initialize the modules")
