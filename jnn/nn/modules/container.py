"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``,
``ParameterDict`` — torch's member naming (``0``, ``1``, ... or the given keys), so
state_dict keys match torch's."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain, islice
from typing import Any

import jax
import numpy as np

from jnn.nn.modules._pytree import materialize
from jnn.nn.modules.module import Module, _addindent
from jnn.nn.parameter import Parameter

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _index(idx: Any, size: int) -> int:
    idx = operator.index(idx)
    if not -size <= idx < size:
        raise IndexError(f"index {idx} is out of range")
    return idx % size


class Sequential(Module):
    """Modules applied in order, like ``torch.nn.Sequential``.

    ``Sequential(m0, m1, ...)`` names the members ``"0"``, ``"1"``, ...;
    ``Sequential(OrderedDict([("conv", m0), ...]))`` uses the given names.
    Indexing with an int gives a member; with a slice, a new Sequential.

    Example:
        >>> import jnn.nn as nn
        >>> nn.Sequential(nn.Linear(4, 3), nn.ReLU())[0].weight.shape
        (3, 4)
    """

    _jnn_fields = False  # (its names are the user's: no class-level fields)

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        modules = self._modules
        if type(idx) is not int or not 0 <= idx < len(modules):  # (a logged model[0] per step)
            idx = _index(idx, len(modules))
        return next(islice(modules.values(), idx, None))

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[_index(idx, len(self))]
        setattr(self, key, module)

    def __delitem__(self, idx: Any) -> None:
        keys = list(self._modules)
        for key in keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(self))]]:
            delattr(self, key)
        # torch renumbers the remaining members to keep "0", "1", ... contiguous
        items = list(self._modules.items())
        self._modules.clear()
        for i, (_, m) in enumerate(items):
            self._modules[str(i)] = m

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __add__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(
                "add operator supports only objects of Sequential class, but "
                f"{type(other)} is given."
            )
        ret = Sequential()
        for layer in chain(self, other):
            ret.append(layer)
        return ret

    def __iadd__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(
                "add operator supports only objects of Sequential class, but "
                f"{type(other)} is given."
            )
        for layer in other:
            self.append(layer)
        return self

    def __mul__(self, other: int) -> Sequential:
        if not isinstance(other, int):
            raise TypeError(f"unsupported operand type(s) for *: {type(self)} and {type(other)}")
        if other <= 0:
            raise ValueError(f"Non-positive multiplication factor {other} for {type(self)}")
        ret = Sequential()
        for _ in range(other):
            for layer in self:
                ret.append(layer)
        return ret

    def __rmul__(self, other: int) -> Sequential:
        return self.__mul__(other)

    def __imul__(self, other: int) -> Sequential:
        members = list(self.__mul__(other))  # validates `other` with torch's errors
        for layer in members[len(self):]:
            self.append(layer)
        return self

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        n = len(self._modules)
        if not (-n <= index <= n):
            raise IndexError(f"Index out of range: {index}")
        if index < 0:
            index += n
        members = list(self._modules.values())
        members.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(members):
            self.add_module(str(i), m)
        return self

    def extend(self, sequential: Iterable[Module]) -> Sequential:
        for layer in sequential:
            self.append(layer)
        return self

    def pop(self, key: Any) -> Module:
        v = self[key]
        del self[key]
        return v

    def forward(self, input: Any) -> Any:
        for module in self._modules.values():
            input = module(input)
        return input


class ModuleList(Module):
    """A list of modules, registered as ``"0"``, ``"1"``, ..., like ``torch.nn.ModuleList``."""

    _jnn_fields = False  # (its names are the user's: no class-level fields)

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self += modules

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self)))]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, str(_index(idx, len(self))), module)

    def __delitem__(self, idx: Any) -> None:
        if isinstance(idx, slice):
            for k in range(len(self._modules))[idx]:
                delattr(self, str(k))
        else:
            delattr(self, str(_index(idx, len(self))))
        members = list(self._modules.values())
        self._modules.clear()
        for i, m in enumerate(members):
            self._modules[str(i)] = m

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        combined = ModuleList()
        for module in chain(self, other):
            combined.append(module)
        return combined

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before ``index`` (Python's list semantics).

        As torch, no type check: a non-Module is stored as given (torch writes the
        entries directly).  Renumbering cannot fail, so the list is never left cut short.
        """
        members = list(self._modules.values())
        members.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(members):
            if m is None or isinstance(m, Module):
                self.add_module(str(i), m)
            else:
                self._modules[str(i)] = m
        self._changed()

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def pop(self, key: Any) -> Module:
        v = self[key]
        del self[key]
        return v

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if not isinstance(modules, Iterable):
            raise TypeError(
                "ModuleList.extend should be called with an iterable, but got "
                + type(modules).__name__
            )
        offset = len(self)
        for i, module in enumerate(modules):
            self.add_module(str(offset + i), module)
        return self

    def __repr__(self) -> str:
        # torch groups runs of members with identical reprs: "(0-2): 3 x Linear(...)".
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        lines, start = [], 0
        for end in range(1, len(reprs) + 1):
            if end < len(reprs) and reprs[end] == reprs[start]:
                continue
            label = f"({start})" if end - start == 1 else f"({start}-{end - 1})"
            body = reprs[start] if end - start == 1 else f"{end - start} x {reprs[start]}"
            lines.append(f"{label}: {_addindent(body, 2)}")
            start = end
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )


class ModuleDict(Module):
    """An ordered dict of modules, like ``torch.nn.ModuleDict``."""

    _jnn_fields = False  # (its names are the user's: no class-level fields)

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:  # torch: del self._modules[key]
            raise KeyError(key)
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def clear(self) -> None:
        for key in list(self._modules):
            delattr(self, key)

    def pop(self, key: str) -> Module:
        v = self[key]
        del self[key]
        return v

    def keys(self) -> Any:
        return self._modules.keys()

    def items(self) -> Any:
        return self._modules.items()

    def values(self) -> Any:
        return self._modules.values()

    def update(self, modules: Any) -> None:
        if not isinstance(modules, Iterable):
            raise TypeError(
                "ModuleDict.update should be called with an iterable of key/value pairs, "
                "but got " + type(modules).__name__
            )
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        for j, m in enumerate(modules):
            if not isinstance(m, Iterable):
                raise TypeError(
                    f"ModuleDict update sequence element #{j} should be Iterable; is"
                    + type(m).__name__  # sic: torch's message has no space here
                )
            if len(m) != 2:
                raise ValueError(
                    f"ModuleDict update sequence element #{j} has length {len(m)}; 2 is required"
                )
            self[m[0]] = m[1]

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )


def _is_tensor(value: Any) -> bool:
    """An array jnn takes for a tensor: a jax or numpy array, a Parameter, a torch tensor."""
    return (isinstance(value, (jax.Array, np.ndarray, Parameter))
            or (hasattr(value, "detach") and hasattr(value, "numpy")))


def _as_parameter(value: Any) -> Any:
    # torch wraps plain tensors into Parameters and keeps any other object as it is
    # (a plain attribute: ParameterList([w, "note"]) holds a string)
    if _is_tensor(value) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


# torch.typename of a CPU tensor by dtype: ParameterDict's repr prints these.
_TORCH_TENSOR_TYPES = {
    "float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
    "bfloat16": "BFloat16Tensor", "complex64": "ComplexFloatTensor",
    "complex128": "ComplexDoubleTensor", "int64": "LongTensor", "int32": "IntTensor",
    "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor",
}


def _param_line(key: Any, p: Any, type_name: bool = False) -> str:
    # torch: ParameterList prints the dtype (torch.float32), ParameterDict the tensor
    # type (torch.FloatTensor).
    if not isinstance(p, Parameter):
        return f"  ({key}): Object of type: {type(p).__name__}"
    size = "x".join(str(s) for s in p.shape)
    dtype = str(p.dtype)
    kind = _TORCH_TENSOR_TYPES.get(dtype, dtype) if type_name else dtype
    return f"  ({key}): Parameter containing: [torch.{kind} of size {size}]"


class ParameterList(Module):
    """A list of Parameters registered as ``"0"``, ``"1"``, ..., like ``torch.nn.ParameterList``."""

    _jnn_fields = False  # (its names are the user's: no class-level fields)

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        self.__dict__["_size"] = 0
        if values is not None:
            self += values

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return ParameterList([self[i] for i in range(len(self))[idx]])
        return getattr(self, str(_index(idx, len(self))))

    def __setitem__(self, idx: int, param: Any) -> None:
        setattr(self, str(_index(idx, len(self))), _as_parameter(param))

    def __len__(self) -> int:
        if "_jnn_lazy" in self.__dict__:
            materialize(self)
        return self.__dict__["_size"]

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def __iadd__(self, parameters: Iterable[Any]) -> ParameterList:
        return self.extend(parameters)

    def append(self, value: Any) -> ParameterList:
        new_idx = len(self)
        self.__dict__["_size"] = new_idx + 1
        setattr(self, str(new_idx), _as_parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        if not isinstance(values, Iterable) or _is_tensor(values):
            raise TypeError(
                "ParameterList.extend should be called with an iterable, but got "
                + type(values).__name__
            )
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return "\n".join(_param_line(i, p) for i, p in enumerate(self))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ParameterList should not be called.")


def _string_key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(
            "Index given to ParameterDict cannot be used as a key as it is not a string "
            f"(type is '{type(key).__name__}'). Open an issue on github if you need non-string "
            "keys.")
    return key


class ParameterDict(Module):
    """An ordered dict of Parameters, like ``torch.nn.ParameterDict``."""

    _jnn_fields = False  # (its names are the user's: no class-level fields)

    def __init__(self, parameters: Any = None) -> None:
        super().__init__()
        self.__dict__["_keys"] = {}
        if parameters is not None:
            self.update(parameters)

    def _key_dict(self) -> dict:
        if "_jnn_lazy" in self.__dict__:
            materialize(self)
        return self.__dict__["_keys"]

    def __getitem__(self, key: str) -> Any:
        return getattr(self, _string_key(key))

    def __setitem__(self, key: str, value: Any) -> None:
        self._key_dict()[_string_key(key)] = None
        setattr(self, key, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        del self._key_dict()[_string_key(key)]
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._key_dict())

    def __iter__(self) -> Iterator[str]:
        return iter(self._key_dict())

    def __contains__(self, key: str) -> bool:
        return key in self._key_dict()

    def keys(self) -> Any:
        return self._key_dict().keys()

    def items(self) -> Iterator[tuple[str, Any]]:
        return ((k, self[k]) for k in self._key_dict())

    def values(self) -> Iterator[Any]:
        return (self[k] for k in self._key_dict())

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def pop(self, key: str) -> Any:
        v = self[key]
        del self[key]
        return v

    def clear(self) -> None:
        for k in list(self._key_dict()):
            del self[k]

    def update(self, parameters: Any) -> None:
        if not isinstance(parameters, Iterable):
            raise TypeError(
                "ParametersDict.update should be called with an iterable of key/value "
                "pairs, but got " + type(parameters).__name__
            )
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs = list(parameters.items())
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())  # torch sorts plain dicts by key
        else:
            pairs = list(parameters)
            for j, pair in enumerate(pairs):
                if not isinstance(pair, Iterable):
                    raise TypeError(f"ParameterDict update sequence element #{j} should be "
                                    f"Iterable; is{type(pair).__name__}")
                if len(pair) != 2:
                    raise ValueError(f"ParameterDict update sequence element #{j} has length "
                                     f"{len(pair)}; 2 is required")
        for key, value in pairs:
            self[key] = value

    def setdefault(self, key: str, default: Any = None) -> Any:
        """``self[key]``, first set to ``default`` when ``key`` is absent."""
        if key not in self:
            self[key] = default
        return self[key]

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last inserted ``(key, value)`` pair."""
        if not self._key_dict():
            raise KeyError("popitem(): dictionary is empty")
        key = next(reversed(self._key_dict()))
        return key, self.pop(key)

    def fromkeys(self, keys: Iterable[str], default: Any = None) -> ParameterDict:
        """A new ParameterDict with ``keys``, each holding ``default``."""
        return ParameterDict((k, default) for k in keys)

    def copy(self) -> ParameterDict:
        """A new ParameterDict holding the same Parameters (a shallow copy)."""
        return ParameterDict(OrderedDict((k, self[k]) for k in self._key_dict()))

    def __or__(self, other: Any) -> ParameterDict:
        merged = self.copy()
        merged.update(other)
        return merged

    def __ior__(self, other: Any) -> ParameterDict:
        self.update(other)
        return self

    def __reversed__(self) -> Iterator[str]:
        return reversed(list(self._key_dict()))

    def extra_repr(self) -> str:
        return "\n".join(_param_line(k, p, type_name=True) for k, p in self.items())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ParameterDict should not be called.")


