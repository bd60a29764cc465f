"""How a Module becomes a pytree and back.

A module tree flattens as ONE pytree node whose children are all of its parameter and
buffer arrays (state_dict order, a tied Parameter once).  The aux data is a ``_Spec``: an
immutable description of the whole tree (classes, names, which leaf sits where, and every
plain attribute, the training flag and the hooks, as a hashable key).  Two trees with
equal specs are the same jit cache entry; ``train()``/``eval()`` changes the spec, so it
is a new trace, never a stale one.

Cost, designed for ``jax.jit`` calls and ``jnn.compile`` steps:

* flatten: each module caches ``(spec_version, spec, plan)``; while no module anywhere
  changed structure or configuration (``jnn._state.versions.spec``), flatten is one list
  comprehension over ``plan`` (the containers holding each leaf).
* unflatten: ``object.__new__(cls)`` plus one dict entry; the module's attributes,
  Parameters and submodules are built on first attribute access (``materialize``).  An
  unflattened module that is flattened again without being touched returns its leaves.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any

import jax
import numpy as np

from jnn import _state
from jnn.nn.parameter import Parameter

__all__ = ["Spec", "flatten", "flatten_with_keys", "unflatten", "materialize", "spec_of",
           "STATE_KEYS"]

# Entries of a module's __dict__ that are state (leaves / children / caches), not config.
STATE_KEYS = frozenset({"_parameters", "_buffers", "_modules", "_jnn_cache", "_jnn_lazy",
                        "_jnn_building", "_jnn_scope", "_jnn_modes", "_jnn_train"})
# caches in a module's __dict__: never copied or pickled
CACHE_KEYS = frozenset({"_jnn_cache", "_jnn_modes", "_jnn_train"})
# Mutable containers in a template (hook dicts, the non-persistent set, ...) are copied
# for each materialized module, so changing a copy never changes the original.
_COPIED_TYPES = (dict, OrderedDict, set, list)


class _Identity:
    """Hashable-by-identity stand-in for an unhashable attribute value (keeps it alive)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _Identity) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)


def _static_key(value: Any) -> Any:
    """A hashable key that is equal for equal configuration values."""
    if value is None or isinstance(value, (str, bytes, type)):
        return value
    if isinstance(value, (bool, int, float)):
        # 2 == 2.0 == True, yet `x * 2` and `x * 2.0` trace to different dtypes; NaN is
        # unequal to itself (a new NaN each call would re-trace each call)
        return (type(value), value) if value == value else (type(value), "nan")
    if isinstance(value, (tuple, list)):
        return (type(value), tuple(_static_key(v) for v in value))
    if isinstance(value, dict):  # includes the hooks' OrderedDicts
        return (type(value), tuple((k, _static_key(v)) for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return (type(value), frozenset(_static_key(v) for v in value))
    try:
        hash(value)
    except TypeError:
        return _Identity(value)
    if isinstance(value, jax.Array):  # arrays compare elementwise: use identity
        return _Identity(value)
    if isinstance(value, np.floating) and value != value:
        return (type(value), "nan")
    return (type(value), value)  # numpy scalars, enums, functions ... (typed, as above)


class _Node:
    """One module of the tree: its class, config and where its state sits."""

    __slots__ = ("cls", "template", "tkey", "params", "buffers", "children")

    def __init__(self, cls: type, template: dict, params: tuple, buffers: tuple,
                 children: tuple, tkey: tuple = ()) -> None:
        self.cls = cls
        self.template = template  # the module's __dict__ minus STATE_KEYS (shallow)
        self.tkey = tkey  # the template's hashable key (see _template_key)
        self.params = params  # ((name, leaf index | None, requires_grad), ...)
        self.buffers = buffers  # ((name, leaf index | None), ...)
        self.children = children  # ((name, node index | None), ...)

    def key(self) -> tuple:
        return (self.cls, self.tkey, self.params, self.buffers, self.children)


# Each module's configuration key, minus its training flag and its containers, computed
# once and kept until the module's own configuration or structure changes (Module drops it
# on a plain attribute write and on every structural change).  train()/eval() then rebuilds
# a 200-module spec from these without keying every hyper-parameter again.  Held weakly and
# outside __dict__, so copies and pickles never inherit another object's identity keys.
_TEMPLATE_KEYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def forget_config(module: Any) -> None:
    _TEMPLATE_KEYS.pop(module, None)


def _template_key(module: Any, template: dict) -> tuple:
    cls = type(module)
    fixed = _TEMPLATE_KEYS.get(module)
    if fixed is None:
        fixed = tuple((k, _config_key(cls, k, v)) for k, v in template.items()
                      if k != "training" and type(v) not in _COPIED_TYPES)
        _TEMPLATE_KEYS[module] = fixed
    # the flag and mutable containers (hook dicts, ...) are keyed at every build, as before
    fresh = []
    for k, v in template.items():
        t = type(v)
        if t in _COPIED_TYPES:
            fresh.append((k, _config_key(cls, k, v) if v else t))  # mostly empty hook dicts
        elif k == "training":
            fresh.append((k, t, v))
    return fixed, tuple(fresh)


# A plain attribute is static configuration: part of the spec, so a change re-traces and a
# compiled program never sees a stale value.  Its key costs O(size) to build, once per
# spec rebuild; a container larger than this is keyed by identity instead (a vocabulary
# dict of 100k entries would otherwise cost ~0.3 s per rebuild), and so is an array.
# Both are reported once per class and attribute: in-place changes to them go unseen.
LARGE_CONTAINER = 64
_reported: set[tuple[type, str]] = set()


def _config_key(cls: type, name: str, value: Any) -> Any:
    if isinstance(value, (jax.Array, np.ndarray)) or (
            isinstance(value, (list, dict, set)) and not name.startswith("_")
            and (len(value) > LARGE_CONTAINER or _holds_array(value))):
        if (cls, name) not in _reported:
            _reported.add((cls, name))
            _warn_static(cls, name, value)
        return _Identity(value)
    return _static_key(value)


def _holds_array(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return any(isinstance(v, (jax.Array, np.ndarray)) for v in items)


def _warn_static(cls: type, name: str, value: Any) -> None:
    import warnings

    what = ("an array" if isinstance(value, (jax.Array, np.ndarray))
            else f"a {type(value).__name__} holding arrays" if _holds_array(value)
            else f"a {type(value).__name__} of {len(value)} items")
    warnings.warn(
        f"{cls.__name__}.{name} is {what}, held as a plain attribute: jnn treats it as static "
        "configuration, keyed by identity, so jnn.compile and jax.jit compile its current "
        "contents in as constants and do not see in-place changes (assigning a new object "
        "re-traces). If it is state, register it: self.register_buffer("
        f"{name!r}, ...) (or a Parameter); if it is data, pass it as an argument.",
        stacklevel=2)


class Spec:
    """The aux data of a flattened module tree (hashable, compared by structure)."""

    __slots__ = ("nodes", "paths", "keys", "_key", "_hash")

    def __init__(self, nodes: tuple[_Node, ...], paths: tuple[str, ...]) -> None:
        self.nodes = nodes
        self.paths = paths  # torch name of each leaf (its first occurrence)
        self.keys = tuple(jax.tree_util.GetAttrKey(p) for p in paths)
        self._key = tuple(n.key() for n in nodes)
        self._hash = hash(self._key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: Any) -> bool:
        if self is other:
            return True
        return (isinstance(other, Spec) and self._hash == other._hash
                and self._key == other._key)

    def __repr__(self) -> str:
        return f"ModuleSpec({self.nodes[0].cls.__name__}, leaves={list(self.paths)})"


class _Lazy:
    """Marker in an unflattened module's __dict__: what to build it from."""

    __slots__ = ("spec", "index", "leaves", "memo")

    def __init__(self, spec: Spec, index: int, leaves: Any, memo: Any) -> None:
        self.spec = spec
        self.index = index
        self.leaves = leaves
        self.memo = memo  # shared by one unflattened tree: ({leaf: Parameter}, {node: Module})


def build(module: Any) -> tuple:
    """Walk the tree once: the spec, and the plan that reads the leaves."""
    nodes: list[_Node | None] = []
    node_index: dict[int, int] = {}
    param_leaf: dict[int, int] = {}
    plan: list[tuple[dict, str, bool]] = []
    paths: list[str] = []

    def visit(m: Any, prefix: str) -> int:
        d = m.__dict__
        if "_jnn_lazy" in d:
            materialize(m)
        mods.append(m)
        idx = len(nodes)
        node_index[id(m)] = idx
        nodes.append(None)
        params = []
        for name, p in d["_parameters"].items():
            if p is None:
                params.append((name, None, False))
                continue
            leaf = param_leaf.get(id(p))
            if leaf is None:  # a tied Parameter is one leaf
                leaf = param_leaf[id(p)] = len(plan)
                plan.append((d["_parameters"], name, True))
                paths.append(prefix + name)
            params.append((name, leaf, p._requires_grad))
        buffers = []
        for name, b in d["_buffers"].items():
            if b is None:
                buffers.append((name, None))
                continue
            buffers.append((name, len(plan)))
            plan.append((d["_buffers"], name, False))
            paths.append(prefix + name)
        children = []
        for name, child in d["_modules"].items():
            if child is None:
                children.append((name, None))
                continue
            ci = node_index.get(id(child))
            if ci is None:  # a module registered twice is one node
                ci = visit(child, f"{prefix}{name}.")
            children.append((name, ci))
        template = {k: v for k, v in d.items() if k not in STATE_KEYS}
        nodes[idx] = _Node(type(m), template, tuple(params), tuple(buffers), tuple(children),
                           _template_key(m, template))
        return idx

    mods: list[Any] = []
    visit(module, "")
    spec = Spec(tuple(nodes), tuple(paths))  # type: ignore[arg-type]
    versions = _state.versions
    cache = (versions.spec, spec, tuple(plan))
    d = module.__dict__
    d["_jnn_cache"] = cache
    # Remember this spec for this set of training flags: while nothing but the flags
    # changes (versions.config), train()/eval() switches find their spec again.
    modes = d.get("_jnn_modes")
    if modes is None or modes[0] != versions.config:
        modes = d["_jnn_modes"] = (versions.config, mods, {})
    if len(modes[2]) < 8:
        modes[2][tuple([m.__dict__.get("training") for m in mods])] = cache[1:]
    return cache


def recall_mode(module: Any, mode: bool) -> None:
    """``module``'s whole tree was just set to ``mode``: take its cached spec for that set
    of flags now, without reading every module's flag at the next flatten."""
    d = module.__dict__
    versions = _state.versions
    modes = d.get("_jnn_modes")
    if modes is not None and modes[0] == versions.config:
        hit = modes[2].get((mode,) * len(modes[1]))
        if hit is not None:
            d["_jnn_cache"] = (versions.spec, *hit)


def _current(module: Any) -> tuple:
    """The module tree's cached ``(version, spec, plan)``, rebuilt only when needed."""
    d = module.__dict__
    versions = _state.versions
    cache = d.get("_jnn_cache")
    if cache is not None and cache[0] == versions.spec:
        return cache
    modes = d.get("_jnn_modes")
    if modes is not None and modes[0] == versions.config:
        hit = modes[2].get(tuple([m.__dict__.get("training") for m in modes[1]]))
        if hit is not None:
            cache = d["_jnn_cache"] = (versions.spec, *hit)
            return cache
    return build(module)


def flatten(module: Any) -> tuple[list, Spec]:
    d = module.__dict__
    lazy = d.get("_jnn_lazy")
    if lazy is not None and lazy.index == 0:
        return lazy.leaves, lazy.spec
    cache = _current(module)
    if _state.state.read_log is not None:  # a differentiated closure passes the module on
        for c, k, is_param in cache[2]:
            if is_param:
                _state.log_read(c[k])
    return [c[k]._data if is_param else c[k] for c, k, is_param in cache[2]], cache[1]


def spec_of(module: Any) -> Spec:
    """The module tree's current spec (cached; rebuilt only after a structural change)."""
    d = module.__dict__
    lazy = d.get("_jnn_lazy")
    if lazy is not None and lazy.index == 0:
        return lazy.spec
    return _current(module)[1]


def flatten_with_keys(module: Any) -> tuple[list, Spec]:
    leaves, spec = flatten(module)
    return list(zip(spec.keys, leaves)), spec


def unflatten(spec: Spec, leaves: Any) -> Any:
    module = object.__new__(spec.nodes[0].cls)
    module.__dict__["_jnn_lazy"] = _Lazy(spec, 0, leaves, None)
    return module


def materialize(module: Any) -> None:
    """Build an unflattened module's attributes, Parameters and (lazy) children."""
    d = module.__dict__
    lazy = d.pop("_jnn_lazy")
    spec, leaves = lazy.spec, lazy.leaves
    if lazy.memo is None:
        lazy.memo = ({}, {0: module})
    param_memo, module_memo = lazy.memo
    node = spec.nodes[lazy.index]
    d.update(node.template)
    for k, v in node.template.items():
        if type(v) in _COPIED_TYPES:
            d[k] = v.copy()
    params: dict[str, Any] = {}
    for name, leaf, requires_grad in node.params:
        if leaf is None:
            params[name] = None
            continue
        p = param_memo.get(leaf)
        if p is None:
            p = param_memo[leaf] = Parameter._wrap(leaves[leaf], requires_grad)
        params[name] = p
    d["_parameters"] = params
    d["_buffers"] = {name: (None if leaf is None else leaves[leaf]) for name, leaf in node.buffers}
    modules: dict[str, Any] = {}
    for name, ci in node.children:
        if ci is None:
            modules[name] = None
            continue
        child = module_memo.get(ci)
        if child is None:
            child = module_memo[ci] = object.__new__(spec.nodes[ci].cls)
            child.__dict__["_jnn_lazy"] = _Lazy(spec, ci, leaves, lazy.memo)
            child.__dict__["_jnn_scope"] = name  # its named scope, as the original's
        modules[name] = child
    d["_modules"] = modules


def register(cls: type) -> None:
    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
