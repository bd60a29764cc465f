"""``nn.Module``: torch's Module, which is also a JAX pytree.

A Module is an ordinary mutable object with torch's registries (``_parameters``,
``_buffers``, ``_modules``) and methods.  It is also a pytree whose leaves are its
parameter and buffer arrays (see ``_pytree.py`` and ARCHITECTURE.md), so ``jax.jit``,
``jax.grad`` and ``jax.vmap`` take modules as arguments.

What code sees: inside ``Module.__call__`` (``forward``, the hooks and every helper they
call) a parameter attribute reads as its raw ``jax.Array``, so ``x @ self.w`` and
``jnp.tanh(self.w)`` work and cost nothing under jit.  Everywhere else it reads as the
:class:`~jnn.nn.Parameter` box with ``.grad``, ``.data`` and ``.requires_grad``.
Buffers are plain ``jax.Array`` everywhere.
"""

from __future__ import annotations

import functools
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from inspect import getattr_static
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax._src import core as _core

from jnn import _state
from jnn.nn.modules import _casting, _hooks, _pytree
from jnn.nn.modules import _state_dict as _sd
from jnn.nn.parameter import Buffer, Parameter, as_array, reset_grad

__all__ = ["Module"]

_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
)


def _typename(obj: Any) -> str:
    """``torch.typename`` for non-tensors: what has a qualified name of its own (a class,
    a function) by it, a Python module by its name, anything else by its class's."""
    if isinstance(obj, jax.Array):
        return f"jax.Array[{obj.dtype}]"
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module, qualname = type(obj).__module__ or "", type(obj).__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def _is_array(value: Any) -> bool:
    return isinstance(value, (jax.Array, np.ndarray))


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _forward_unimplemented(self: Module, *args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError(
        f'Module [{type(self).__name__}] is missing the required "forward" function'
    )


class Module:
    """Base class for all neural network modules, like ``torch.nn.Module``.

    Subclass it, register state in ``__init__`` (``self.fc = nn.Linear(...)``,
    ``self.w = nn.Parameter(...)``, ``self.register_buffer(...)``) and define
    ``forward``.  Every subclass is registered as a JAX pytree automatically.

    PyTorch: ``torch.nn.Module``. Inside ``forward`` parameters read as ``jax.Array``
    (see the module docstring); state_dict keys, order and ``repr`` are torch's.
    """

    training: bool
    _version: int = 1
    _jnn_fields = False  # (no class-level fields on Module itself: see _Field)
    forward: Callable[..., Any] = _forward_unimplemented

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _pytree.register(cls)
        if "__init__" in cls.__dict__:
            cls.__init__ = _constructing(cls.__dict__["__init__"])

    def _changed(self, config: bool = False, training: bool = False) -> None:
        """A structural change: invalidate cached specs (see ``_state.bump_structure``).

        A module still being constructed belongs to no other tree yet, so only its own
        cache goes: building an unrelated ``nn.Identity()`` between compiled steps costs
        them nothing.
        """
        d = self.__dict__
        if not config:
            _pytree.forget_config(self)
        if "_jnn_building" in d:
            d.pop("_jnn_cache", None)
            d.pop("_jnn_modes", None)
        elif training:  # train()/eval(): specs are cached per set of flags
            _state.bump_training(id(self))
        elif config:  # a plain attribute (a hyper-parameter): specs only
            _state.bump_config(id(self))
        else:
            _state.bump_structure(id(self))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs:  # torch's wording for a subclass that forwards its arguments
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword "
                            f"argument '{next(iter(kwargs))}'")
        if args:
            raise TypeError(f"{type(self).__name__}.__init__() takes 1 positional argument "
                            f"but {len(args) + 1} were given")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        for name in _HOOK_DICTS:
            d[name] = OrderedDict()
        self._changed()

    # -- calling ------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        if "_jnn_lazy" in d:
            _pytree.materialize(self)
        st = _state.state
        if (not st.forward_depth and args and isinstance(args[0], jax.core.Tracer)
                and not st.compile_depth and st.read_log is None):  # not autograd's dry run
            _warn_if_captured(self, args[0])
        st.forward_depth += 1
        try:
            if isinstance(_core.trace_ctx.trace, _core.EvalTrace):
                # Eager, outside any trace: no op is staged, so a named scope would name
                # nothing and no_grad has no gradient to stop (a few µs saved per module).
                if d["_forward_hooks"] or d["_forward_pre_hooks"]:
                    return _hooks.call_with_hooks(self, args, kwargs)
                return self.forward(*args, **kwargs)
            # The attribute path (``layer1/0/conv1``) names the ops in HLO dumps and
            # profiles; a root (or an unflattened copy) is named by its class.
            with jax.named_scope(d.get("_jnn_scope") or type(self).__name__):
                if d["_forward_hooks"] or d["_forward_pre_hooks"]:
                    out = _hooks.call_with_hooks(self, args, kwargs)
                else:
                    out = self.forward(*args, **kwargs)
            if not st.grad_enabled:  # torch.no_grad(): outputs carry no gradient
                out = jax.tree_util.tree_map(jax.lax.stop_gradient, out)
            return out
        finally:
            st.forward_depth -= 1

    # -- attribute registration ---------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        if "_jnn_lazy" in d:
            _pytree.materialize(self)
            return getattr(self, name)
        params = d.get("_parameters")
        if params is not None and name in params:
            p = params[name]
            if p is not None and _state.state.forward_depth:
                return _parameter_in_forward(self, name, p)
            return p
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            value = buffers[name]
            if isinstance(value, jax.core.Tracer):  # (see Parameter._data)
                value = _state.shadow_of(buffers, name, value, lambda: buffers.get(name))
                return buffers.get(name) if value is None else value
            elif _state.state.threaded is not None and value is not None:
                _unthreaded(self, name, "buffer")
            return value
        modules = d.get("_modules")
        if modules is not None and name in modules:
            return modules[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_jnn_lazy" in d:
            _pytree.materialize(self)
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            if params.get(name) is value:
                return
            self._remove_name(name, keep="_parameters")  # a rebound name keeps its place
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as parameter '{name}' "
                    "(torch.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            if modules.get(name) is value:
                return
            self._remove_name(name, keep="_modules")
            modules[name] = value
            value.__dict__["_jnn_scope"] = name
            self._changed()
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as child module '{name}' "
                    "(torch.nn.Module or None expected)"
                )
            modules[name] = value
            self._changed()
            return
        buffers = d.get("_buffers")
        if isinstance(value, Buffer):  # torch: a clashing plain attribute is a KeyError
            self.register_buffer(name, value.data, value.persistent)
            return
        if buffers is not None and name in buffers:
            if value is not None and not _is_array(value):
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as buffer '{name}' "
                    "(torch.nn.Buffer, torch.Tensor or None expected)"
                )
            old = buffers[name]
            if _state.state.write_log is not None:  # a differentiated closure writes state
                _state.log_write(buffers, name, old)
            else:
                _state.check_write(buffers, old, value,
                                   f"buffer '{name}' of {type(self).__name__}")
            buffers[name] = None if value is None else as_array(value)
            if (old is None) != (value is None):  # a new value is a leaf change only
                self._changed()
            return
        old = d.get(name, _MISSING)
        object.__setattr__(self, name, value)
        if old is not value:
            if name != "training":  # the flag is keyed afresh at every spec build
                _pytree.forget_config(self)
            self._changed(config=True, training=name == "training")  # never state

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        if "_jnn_lazy" in d:
            _pytree.materialize(self)
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in d[registry]:
                del d[registry][name]
                d["_non_persistent_buffers_set"].discard(name)
                break
        else:
            object.__delattr__(self, name)
        self._changed()

    def _remove_name(self, name: str, keep: str) -> None:
        # torch's remove_from: the registry being assigned keeps the name's slot, so
        # rebinding `self.weight` does not move it to the end of state_dict.
        d = self.__dict__
        d.pop(name, None)
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                d[registry].pop(name, None)
        d["_non_persistent_buffers_set"].discard(name)

    def _check_name(self, kind: str, name: Any, registry: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
        if "." in name:
            got = f", got: {name}" if kind == "module" else ""
            raise KeyError(f'{kind} name can\'t contain "."{got}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in self.__dict__[registry]:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or ``None``) to the module under ``name``."""
        self._check_name("parameter", name, "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                "(torch.nn.Parameter or None required)"
            )
        self.__dict__["_parameters"][name] = param
        _add_field(type(self), name)
        self._changed()

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Add a buffer: state that is not trained (``persistent=False``: not saved)."""
        self._check_name("buffer", name, "_buffers")
        from jnn.nn.modules.lazy import UninitializedBuffer

        lazy = isinstance(tensor, UninitializedBuffer)  # a lazy module's placeholder, as torch
        # torch accepts a Parameter here (it is a Tensor); its array becomes the buffer
        if tensor is not None and not (lazy or _is_array(tensor)
                                       or isinstance(tensor, Parameter)):
            raise TypeError(
                f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                "(torch Tensor or None required)"
            )
        d = self.__dict__
        d["_buffers"][name] = None if tensor is None else tensor if lazy else as_array(tensor)
        _add_field(type(self), name)
        if persistent:
            d["_non_persistent_buffers_set"].discard(name)
        else:
            d["_non_persistent_buffers_set"].add(name)
        self._changed()

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (reachable as an attribute)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        self._check_name("module", name, "_modules")
        self.__dict__["_modules"][name] = module
        if module is not None:
            module.__dict__["_jnn_scope"] = name  # its named scope (see __call__)
        self._changed()

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` (``""`` is ``self``)."""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Put ``module`` at dotted path ``target`` (its parent must exist; ``strict``: the
        name too)."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        atoms = target.split(".")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent = self.get_submodule(".".join(atoms[:-1]))
        name = atoms[-1]
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def get_parameter(self, target: str) -> Parameter:
        """The Parameter at dotted path ``target``."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        param = mod._parameters.get(name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> jax.Array:
        """The buffer at dotted path ``target``."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        if name not in mod._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return mod._buffers[name]

    def __dir__(self) -> list[str]:
        cls = type(self)
        keys = [*(k for k in dir(cls) if type(getattr_static(cls, k, None)) is not _Field),
                *self.__dict__, *self._parameters, *self._modules, *self._buffers]
        return sorted(k for k in set(keys) if not k[0].isdigit())

    def __getstate__(self) -> dict:
        if "_jnn_lazy" in self.__dict__:
            _pytree.materialize(self)
        _state.materialize()  # a copy or pickle taken after a compiled step sees that step
        return {k: v for k, v in self.__dict__.items() if k not in _pytree.CACHE_KEYS}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._changed()

    # -- traversal ------------------------------------------------------------------
    def _named_members(self, get_members: Callable, prefix: str = "", recurse: bool = True,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Any]]:
        memo: set[int] = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for name, value in get_members(module):
                if value is None or id(value) in memo:
                    continue
                if remove_duplicate:
                    memo.add(id(value))
                yield (module_prefix + "." if module_prefix else "") + name, value

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """The module's Parameters (each tied Parameter once)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(name, Parameter)`` pairs in torch's order."""
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                   remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[jax.Array]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, jax.Array]]:
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                   remove_duplicate)

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        memo: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` pairs, pre-order, each shared module once (torch's order)."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name,
                                            remove_duplicate)

    # -- modes and gradients --------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every submodule; returns ``self``."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        d = self.__dict__
        # A tree of plain modules (no train() or __setattr__ of their own): set the flags
        # directly, one bump for the tree (an epoch loop's train()/eval() on a 200-module
        # model: 220 -> 13 µs; torch's: 720 µs).  The list is kept while the tree's
        # configuration is unchanged, with the mode this call left every flag in and the
        # spec version then: while no flag anywhere has flipped since (every flip bumps
        # it), the flags are all that mode, and none needs reading (a train step
        # alternating with an evaluation: 7.4 -> 3.9 µs per flip of 200 modules).
        versions = _state.versions
        fast = d.get("_jnn_train")
        if fast is None or fast[0] != versions.config:
            fast = d["_jnn_train"] = [versions.config, *_plain_tree(self), None, -1]
        dicts = fast[1]
        if dicts is not None:
            if fast[4] == versions.spec:  # (all flags are fast[3])
                if fast[3] is mode:
                    return self
                for md in dicts:
                    md["training"] = mode
                changed = True
            else:
                changed = False
                for md in dicts:
                    if md["training"] is not mode:
                        md["training"] = mode
                        changed = True
            if changed:
                _state.bump_training(fast[2])
                _pytree.recall_mode(self, mode)
            fast[3], fast[4] = mode, versions.spec
            return self
        if type(self).__setattr__ is not Module.__setattr__ or "_jnn_lazy" in d:
            self.training = mode  # a subclass's own __setattr__ sees it, as in torch
        elif d.get("training") is not mode:
            d["training"] = mode  # what __setattr__ does for a plain flag, directly
            self._changed(config=True, training=True)
        children = d["_modules"]
        if len(children) == 1:  # (a leaf has none; a Sequential's blocks often one)
            for module in children.values():
                if module is not None:
                    module.train(mode)
        elif children:
            seen: set[int] = set()
            for module in children.values():  # children(): each distinct one once
                if module is not None and id(module) not in seen:
                    seen.add(id(module))
                    module.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset ``.grad`` of every parameter (to None, or to zeros)."""
        for p in self.parameters():
            reset_grad(p, set_to_none)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every submodule (children first) and then ``self``."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- hooks ----------------------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> _hooks.RemovableHandle:
        """``hook(module, args)`` (or ``(module, args, kwargs)``) before ``forward``."""
        d = self.__dict__
        handle = _hooks.register(d["_forward_pre_hooks"], hook, prepend=prepend,
                                 extra=[d["_forward_pre_hooks_with_kwargs"]], owner=self)
        if with_kwargs:
            d["_forward_pre_hooks_with_kwargs"][handle.id] = True
        return handle

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False,
                              always_call: bool = False) -> _hooks.RemovableHandle:
        """``hook(module, args, output)`` (or with kwargs) after ``forward``."""
        d = self.__dict__
        handle = _hooks.register(
            d["_forward_hooks"], hook, prepend=prepend,
            extra=[d["_forward_hooks_with_kwargs"], d["_forward_hooks_always_called"]],
            owner=self,
        )
        if with_kwargs:
            d["_forward_hooks_with_kwargs"][handle.id] = True
        if always_call:
            d["_forward_hooks_always_called"][handle.id] = True
        return handle

    # -- state_dict -----------------------------------------------------------------
    # The four state-dict hook registries are created at the first registration
    # (``_hooks.hook_dict``): ``_state_dict_pre_hooks``, ``_state_dict_hooks``,
    # ``_load_state_dict_pre_hooks``, ``_load_state_dict_post_hooks``.

    def get_extra_state(self) -> Any:
        """Extra (picklable) state for ``state_dict``, saved under ``<prefix>_extra_state``.

        Override it together with :meth:`set_extra_state`; the default is never called.
        """
        raise RuntimeError(
            "Reached a code path in Module.get_extra_state() that should never be called. "
            "Please file an issue at https://github.com/pytorch/pytorch/issues/new?template="
            "bug-report.yml to report this bug.")

    def set_extra_state(self, state: Any) -> None:
        """Restore what :meth:`get_extra_state` returned (called by ``load_state_dict``)."""
        raise RuntimeError(
            "Reached a code path in Module.set_extra_state() that should never be called. "
            "Please file an issue at https://github.com/pytorch/pytorch/issues/new?template="
            "bug-report.yml to report this bug.")

    def _save_to_state_dict(self, destination: Any, prefix: str, keep_vars: bool) -> None:
        """Write this module's parameters, persistent buffers and extra state (not its
        children's) into ``destination``; ``state_dict`` calls it per module."""
        _sd.save_to_state_dict(self, destination, prefix, keep_vars)

    def state_dict(self, *args: Any, destination: Any = None, prefix: str = "",
                   keep_vars: bool = False) -> dict[str, Any]:
        """An ordered dict of parameter and persistent buffer arrays, torch's keys.

        Also holds ``_metadata``: ``{prefix: {"version": module._version}}`` per module.
        ``keep_vars=True`` gives the Parameters themselves.
        """
        if args:  # torch's deprecated positional form: (destination, prefix, keep_vars)
            destination, prefix, keep_vars = _sd.parse_state_dict_args(
                args, destination, prefix, keep_vars)
        if not isinstance(prefix, str):  # torch fails on prefix + name; say what it wanted
            raise TypeError(f"'{type(prefix).__name__}' object is not subscriptable: "
                            f"state_dict's prefix must be a str, got {_typename(prefix)}")
        return _sd.state_dict(self, destination, prefix, keep_vars)

    def register_state_dict_pre_hook(self, hook: Callable) -> _hooks.RemovableHandle:
        """``hook(module, prefix, keep_vars)`` before this module's ``state_dict``."""
        return _hooks.register(_hooks.hook_dict(self, "_state_dict_pre_hooks"), hook,
                               prepend=False, owner=self)

    def register_state_dict_post_hook(self, hook: Callable) -> _hooks.RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata)`` after ``state_dict``.

        The hook may change ``state_dict`` in place and must return None.
        """
        hook._from_public_api = True  # type: ignore[attr-defined]  # as torch marks it
        return _hooks.register(_hooks.hook_dict(self, "_state_dict_hooks"), hook,
                               prepend=False, owner=self)

    def _register_state_dict_hook(self, hook: Callable) -> _hooks.RemovableHandle:
        """torch's private post-hook: a returned dict replaces the root's state_dict."""
        if getattr(hook, "_from_public_api", False):
            raise RuntimeError(
                "Cannot register the same function as the state dict post hook that was "
                "previously registered via register_state_dict_post_hook")
        return _hooks.register(_hooks.hook_dict(self, "_state_dict_hooks"), hook,
                               prepend=False, owner=self)

    def register_load_state_dict_pre_hook(self, hook: Callable) -> _hooks.RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` before this module loads its own state."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def _register_load_state_dict_pre_hook(self, hook: Callable,
                                           with_module: bool = False) -> _hooks.RemovableHandle:
        """As :meth:`register_load_state_dict_pre_hook`; without the module unless asked."""
        return _hooks.register(_hooks.hook_dict(self, "_load_state_dict_pre_hooks"),
                               _hooks.WrappedHook(hook, self if with_module else None),
                               prepend=False, owner=self)

    def register_load_state_dict_post_hook(self, hook: Callable) -> _hooks.RemovableHandle:
        """``hook(module, incompatible_keys)`` after this module and its children loaded.

        The hook may edit ``incompatible_keys.missing_keys`` / ``.unexpected_keys`` in
        place (strict mode then sees the edited lists) and must return None.
        """
        return _hooks.register(_hooks.hook_dict(self, "_load_state_dict_post_hooks"), hook,
                               prepend=False, owner=self)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              local_metadata: dict[str, Any], strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str],
                              error_msgs: list[str]) -> None:
        """Load this module's own parameters, buffers and extra state (not its children's).

        ``load_state_dict`` calls it per module with the entries under ``prefix`` (a copy
        the method may change) and the module's ``_metadata`` entry; subclasses override
        it for checkpoint compatibility (``local_metadata.get("version")``). Runs the load
        pre-hooks first.
        """
        _sd.load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                                 missing_keys, unexpected_keys, error_msgs)

    def load_state_dict(self, state_dict: Any, strict: bool = True,
                        assign: bool = False) -> _sd.IncompatibleKeys:
        """Copy arrays (jax, numpy, torch, anything with ``__array__``) into the module.

        Returns ``(missing_keys, unexpected_keys)``; with ``strict`` raises torch's
        ``RuntimeError`` listing every offending key and shape mismatch. A load that
        raises changes nothing (torch keeps what it copied before the error).
        """
        return _sd.load_state_dict(self, state_dict, strict, assign)

    # -- moves ----------------------------------------------------------------------
    def _apply_state(self, fn: Callable[[jax.Array], jax.Array]) -> Module:
        _casting.apply_to_state(self, fn)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move/cast parameters and buffers: ``to(device)``, ``to(dtype)``, ``to(array)``."""
        device, dtype = _casting.parse_to(args, dict(kwargs))
        return self._apply_state(_casting.cast_floating(dtype, device))

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    def half(self) -> Module:
        return self.to(np.float16)

    def bfloat16(self) -> Module:
        return self.to("bfloat16")

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Module:
        """Move parameters and buffers to a CUDA device (JAX's 'gpu'): ``device`` is None, an
        index, ``'cuda[:i]'`` or a device.  As torch's, it is read tensor by tensor: a module
        without any never checks it."""
        if next(self.parameters(), None) is None and next(self.buffers(), None) is None:
            return self
        return self.to(_casting.resolve_cuda_device(device))

    def type(self, dst_type: Any) -> Module:
        """Cast every parameter and buffer (integers too) to ``dst_type``."""
        dtype = _casting.resolve_type_argument(dst_type)
        if not jnp.issubdtype(dtype, jnp.inexact) and any(
                p.requires_grad for p in self.parameters()):
            raise RuntimeError("data set to a tensor that requires gradients must be floating "
                               "point or complex dtype")  # torch's error for this cast
        _casting.check_x64(dtype)
        return self._apply_state(lambda x: x.astype(dtype))

    # -- printing -------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """Extra text for ``repr``: override to show a layer's configuration."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): {_addindent(repr(module), 2)}"
                       for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"


def _constructing(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap a Module subclass's ``__init__``: a brand-new module marks itself as being built."""

    @functools.wraps(init)
    def __init__(self: Module, *args: Any, **kwargs: Any) -> None:
        d = self.__dict__
        if "_parameters" in d or "_jnn_building" in d:  # re-initialised, or super().__init__
            init(self, *args, **kwargs)
            return
        d["_jnn_building"] = True
        try:
            init(self, *args, **kwargs)
        finally:
            d.pop("_jnn_building", None)
            d.pop("_jnn_train", None)  # a train() call inside __init__ saw it unfinished

    return __init__


def _warn_if_captured(module: Module, x: jax.core.Tracer) -> None:
    """``jax.jit(model)`` bakes the weights into the program as constants: say so."""
    if _DynamicJaxprTracer is None or not isinstance(x, _DynamicJaxprTracer):
        return  # vmap/grad tracers: constants there are computed afresh every call
    for p in module.parameters():
        if not isinstance(p._value, jax.core.Tracer):
            warnings.warn(
                f"A {type(module).__name__} was called with its parameters captured by "
                "jax.jit (e.g. jax.jit(model) or a jitted lambda that closes over the "
                "model): they are compiled in as constants, so outputs stay those of "
                "today's weights after training. Use jnn.compile(model), or pass the "
                "module as an argument: jax.jit(lambda m, x: m(x))(model, x).",
                stacklevel=3)
        return


def _parameter_in_forward(module: Module, name: str, p: Parameter) -> Any:
    """``self.weight`` inside a forward: the array (a logged read under autograd; a
    parameter nobody threads raises in a compiled function)."""
    st = _state.state
    if st.read_log is not None:
        _state.log_read(p)
    value = p._data
    if st.threaded is not None and not isinstance(value, jax.core.Tracer):
        _unthreaded(module, name, "parameter")
    return value


def _unthreaded(module: Module, name: str, kind: str) -> None:
    """A compiled function read state it does not thread: it would be a stale constant."""
    raise RuntimeError(
        f"jnn.compile: the compiled function read the {kind} '{name}' of a "
        f"{type(module).__name__} that it does not thread, so the program would bake in "
        "today's value and never see (or write) later ones. Pass the module explicitly — "
        "jnn.compile(fn, state=(model, optimizer, ...)) — or reach it from the function's "
        "closure, globals or arguments (an attribute of a plain config object is not "
        "searched). A module created inside the compiled function is a constant too: "
        "create it outside."
    )


try:  # the tracer type of jax.jit's traces (private; without it the warning is skipped)
    from jax._src.interpreters.partial_eval import DynamicJaxprTracer as _DynamicJaxprTracer
except ImportError:  # pragma: no cover
    _DynamicJaxprTracer = None

_MISSING = object()
_STATE = _state.state
_module_getattr = Module.__getattr__


class _Field:
    """``Linear.weight``: the class-level way to one name jnn's own layers register.

    A registered parameter or buffer lives in ``_parameters``/``_buffers``, found by
    ``Module.__getattr__``, which Python calls only after its normal lookup failed (0.7 µs
    per ``model.fc.weight``, more with cold caches after a step: a logged weight's cost).
    For the names jnn's built-in layers register (``weight``, ``bias``, ``running_mean``,
    ...) their class gets this data descriptor, which answers exactly what the normal
    lookup and ``__getattr__`` would (the instance's ``__dict__`` first, then the
    registries; a subclass's own ``__getattr__`` is still called), in a third of the
    time.  The class itself has no such attribute, as in torch.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        name = self.name
        if obj is None:
            raise AttributeError(f"type object '{objtype.__name__}' has no attribute '{name}'")
        d = obj.__dict__
        if name in d:
            return d[name]
        getattr_ = type(obj).__getattr__
        if getattr_ is not _module_getattr or "_jnn_lazy" in d:
            return getattr_(obj, name)
        params = d.get("_parameters")  # (None before Module.__init__ ran)
        p = _MISSING if params is None else params.get(name, _MISSING)
        if p is _MISSING:
            return _module_getattr(obj, name)
        if p is not None and _STATE.forward_depth:
            return _parameter_in_forward(obj, name, p)
        return p

    def __set__(self, obj: Any, value: Any) -> None:  # (a plain attribute of that name)
        obj.__dict__[self.name] = value

    def __delete__(self, obj: Any) -> None:
        try:
            del obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(
                f"'{type(obj).__name__}' object has no attribute '{self.name}'") from None


# the names each class was looked at for (weakly: classes made per call, in tests, go)
_FIELDS_SEEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _add_field(cls: type, name: str) -> None:
    """Give the jnn layer class that ``cls`` is (or derives from) a ``_Field`` for
    ``name``, unless some class on the way defines that name; containers (whose names are
    the user's) get none."""
    seen = _FIELDS_SEEN.get(cls)
    if seen is None:
        seen = _FIELDS_SEEN.setdefault(cls, set())
    if name in seen:
        return
    seen.add(name)
    if not name.isidentifier():
        return
    for c in cls.__mro__:
        if name in c.__dict__:
            return  # (a property, a method, a class attribute, or a field already)
        if c.__module__.startswith("jnn.nn.modules.") and c.__dict__.get("_jnn_fields", True):
            setattr(c, name, _Field(name))
            return


_pytree.register(Module)
Module.__init__ = _constructing(Module.__init__)  # type: ignore[method-assign]


def _plain_tree(root: Module) -> tuple[list[dict] | None, frozenset | None]:
    """The ``__dict__`` of every module under ``root`` (``root`` included, each once) and
    their ids, when none has its own ``train`` or ``__setattr__`` and none is being built
    or unflattened lazily; else Nones (``train()`` then walks the tree, calling each
    module's ``train``)."""
    dicts = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        m = stack.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        d = m.__dict__
        t = type(m)
        if (t.train is not Module.train or t.__setattr__ is not Module.__setattr__
                or "_jnn_lazy" in d or "_jnn_building" in d or "training" not in d):
            return None, None
        dicts.append(d)
        stack.extend(c for c in d["_modules"].values() if c is not None)
    return dicts, frozenset(seen)
