"""``Optimizer``: torch's param groups, state and state_dict over pure update rules.

The class is a thin imperative shell (as in Flax NNX): ``self.param_groups`` and
``self.state`` have torch's layout (``state[p]`` is a dict with torch's keys), and
``step()`` gathers each group's arrays, calls the subclass's pure rule — jit-compiled,
with the numeric hyper-parameters (lr, betas, ...) as traced scalars so that a scheduler
never causes a re-trace — and writes the results back.  Under ``jnn.compile`` the same
code runs inside the traced program, where the state is threaded in and out.
"""

from __future__ import annotations

import copy
import functools
import inspect
import numbers
import types
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _state
from jnn._state import GroupDict, GroupList
from jnn.nn.parameter import Parameter, reset_grad
from jnn.optim._hooks import (
    OptimizerHooks,
    _global_optimizer_post_hooks,  # noqa: F401 - torch.optim.optimizer's names
    _global_optimizer_pre_hooks,  # noqa: F401
    hooked_step,
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]


class _RequiredParameter:
    def __repr__(self) -> str:
        return "<required parameter>"


required: Any = _RequiredParameter()

# Hyper-parameters that are strings/bools/None select code paths: they are static.
_STATIC_TYPES = (bool, str, type(None))


def _typename(obj: Any) -> str:
    cls = type(obj)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _array_param_error(p: jax.Array | np.ndarray) -> Exception:
    """An array given to an optimizer, where torch would update a leaf tensor in place: an
    array is immutable, so jnn needs the Parameter.  Torch's text comes first, so that its
    regexes match: a jax array is a computed value (``lin.weight * 2``: torch's non-leaf, a
    ValueError there); a numpy array is no tensor (torch's TypeError)."""
    computed = isinstance(p, jax.Array)
    fix = (f"jnn's optimizers update Parameters only: a {_typename(p)} is immutable, so a "
           "step could not update it. "
           + ("Optimize the Parameter it was computed from, or wrap" if computed else "Wrap")
           + " it once and keep the Parameter: w = nn.Parameter(x)")
    if computed:
        return ValueError(f"can't optimize a non-leaf Tensor ({fix})")
    return TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                     f"{_typename(p)} ({fix})")


def _array_typename(obj: Any) -> str:
    """An array's type as jnn's messages name it where torch says ``torch.FloatTensor``."""
    data = obj.data if isinstance(obj, Parameter) else obj
    return f"jax.Array[{data.dtype}]"


def versioned_groups(groups: list[dict[str, Any]]) -> bool:
    """Whether every change to ``groups`` bumps the param-group version (jnn built them)."""
    return type(groups) is GroupList and all(
        type(g) is GroupDict and type(g.get("params")) is GroupList for g in groups)


def _split_names(param_group: dict[str, Any]) -> None:
    """torch 2.13: ``params`` may be ``named_parameters()``; the names go to
    ``param_group['param_names']`` (and so into ``state_dict()``)."""
    params, names = [], []
    for param in param_group["params"]:
        if isinstance(param, tuple):
            names.append(param[0])
            params.append(param[1])
        else:
            params.append(param)
    param_group["params"] = GroupList(params)
    if names:
        if len(names) != len(params):
            raise ValueError("all optimizer params should be with/without names. Some param "
                             "names are missing")
        param_group["param_names"] = names


def unflatten_options(vector: jax.Array, treedef: Any) -> dict[str, Any]:
    """The numeric options of one group from its compiled input vector (float32 scalars)."""
    return jax.tree_util.tree_unflatten(treedef, [vector[i] for i in range(treedef.num_leaves)])


def _betas_probe(value: Any) -> None:
    """torch's ``beta1, beta2 = group["betas"]``, ``1 - beta1`` and ``exp_avg_sq.mul_(beta2)``
    with a non-pair, or a pair holding a non-number."""
    beta1, beta2 = value
    1 - beta1  # noqa: B018
    if not isinstance(beta2, (numbers.Number, np.ndarray, jax.Array)):
        _tensor_probe("mul_")(beta2)


# torch's messages for a tensor of several elements used as a number, and for a complex
# option in the arithmetic of real tensors
_AMBIGUOUS = "Boolean value of Tensor with more than one value is ambiguous"
_COMPLEX_ALPHA = "For non-complex input tensors, argument alpha must not be a complex number."
_COMPLEX_CAST = "result type ComplexFloat can't be cast to the desired output type Float"


def compared(value: Any) -> Any:
    """``value`` for a constructor's range check: torch compares a tensor through its one
    element, and raises its RuntimeError for several (JAX's is a ValueError)."""
    if _is_tensor(value) and np.size(value) != 1:
        raise RuntimeError(_AMBIGUOUS)
    return value


def _complex_error(message: str) -> Any:
    raise RuntimeError(message)


def _real_part(value: Any, message: str) -> Any:
    """A complex number with no imaginary part as the real number torch converts it to
    (``float(0.1+0j)`` in its arithmetic); else torch's RuntimeError."""
    if np.any(np.imag(value) != 0):
        raise RuntimeError(message)
    if isinstance(value, np.ndarray):
        return np.real(value)[()]
    return jnp.real(value) if isinstance(value, jax.Array) else complex(value).real


def _is_complex(value: Any) -> bool:
    """A complex number or array (``numbers.Real`` excludes them)."""
    if isinstance(value, (np.ndarray, jax.Array)):
        return bool(jnp.iscomplexobj(value))
    return isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real)


def _tensor_probe(method: str) -> Callable[[object], None]:
    """torch's ``tensor.<method>(option)`` with a non-number (its argument parser)."""
    def probe(value: object) -> None:
        raise TypeError(f"{_OTHER.format(method)}, not {type(value).__name__}")
    return probe


def _number_argument(text: str, numpy_ndim: int | None, vector: bool,
                     used: Callable[[dict], bool] = lambda group: True
                     ) -> Callable[[dict, Any], Exception | None]:
    """torch's argument parser on an option its step passes where it takes a Number or
    a Tensor (``grad.add(param, alpha=weight_decay)``): a numpy array of at least
    ``numpy_ndim`` dimensions is neither (None: it never fails there), nor, for a Number
    (``vector``), a 1-element tensor of one dimension or more.  ``used``: whether the step
    reaches that call with these options."""
    def check(group: dict, value: Any) -> Exception | None:
        if isinstance(value, np.ndarray):
            if numpy_ndim is None or value.ndim < numpy_ndim:
                return None
            given = "numpy.ndarray"
        elif vector and isinstance(value, jax.Array) and value.ndim:
            given = "Tensor"
        else:
            return None
        return TypeError(f"{text}, not {given}") if used(group) else None
    return check


def _nonzero(value: Any) -> bool:
    """torch's ``option != 0`` of a number or a 1-element array."""
    return bool(np.asarray(value) != 0)


_ALPHA = "add(): argument 'alpha' must be Number"
_OTHER = "{}(): argument 'other' (position 1) must be Tensor"


def _alpha_probe(value: object) -> None:
    """torch's ``grad.add(param, alpha=weight_decay)`` with a non-number."""
    raise TypeError(f"{_ALPHA}, not {type(value).__name__}")


class Optimizer(OptimizerHooks):
    """Base class for optimizers, like ``torch.optim.Optimizer``.

    Args:
        params: an iterable of Parameters, or of dicts defining parameter groups (each
            with ``'params'`` and per-group options).
        defaults: default options, used where a group does not set them.

    Subclasses set ``_state_keys`` and implement ``_init_state`` (torch's lazily created
    state for one parameter), ``_static`` (the group's structural flags) and the pure
    ``_rule(params, grads, states, hyper, static) -> (new_params, new_states)``; they
    name the options torch's step reads (``_step_keys``) and those its ``__setstate__``
    fills in at a load (``_setstate_defaults``, or ``_setstate``).

    Hooks: ``register_step_pre_hook``/``register_step_post_hook`` (and the process-wide
    ``register_optimizer_step_pre_hook``/``..._post_hook``), ``register_state_dict_pre_hook``/
    ``..._post_hook`` and ``register_load_state_dict_pre_hook``/``..._post_hook``, as torch's.

    PyTorch: ``torch.optim.Optimizer`` (same ``param_groups``, ``state``, ``state_dict``
    layout; parameters are numbered as torch numbers them).
    """

    _torch_step_owner = "Optimizer"  # the torch class whose step() error messages name

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # torch wraps the step of every optimizer class with the hooks: a subclass's own
        # step (one that never calls super().step()) runs them too
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if isinstance(step, types.FunctionType) and not getattr(step, "_jnn_hooked", False):
            cls.step = hooked_step(step)

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        defaults.get("differentiable")  # torch's first use: a non-dict raises its error here
        self._init_hooks()
        self.defaults = defaults
        self._param_state: defaultdict[Parameter, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = GroupList()
        if isinstance(params, (Parameter, jax.Array, np.ndarray)):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {_array_typename(params)}"
            )
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [GroupDict(params=param_groups)]
        for group in param_groups:
            self.add_param_group(group)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The parameter groups: dicts of ``'params'`` and the options, torch's layout."""
        if _state.SHADOWS:  # another thread's trace holds traced options in them
            shadow = _state.shadow_of_optimizer(self)
            if shadow is not None:
                return shadow[0]
        return self.__dict__["param_groups"]

    @param_groups.setter
    def param_groups(self, value: list[dict[str, Any]]) -> None:
        self.__dict__["param_groups"] = value
        _state.versions.groups += 1

    @property
    def state(self) -> defaultdict[Parameter, dict[str, Any]]:
        """Per-parameter state, torch's layout: ``state[p] == {'step': ..., ...}``."""
        if _state.SHADOWS:  # another thread's trace holds tracers in it: the step before
            shadow = _state.shadow_of_optimizer(self)
            if shadow is not None:
                return shadow[1]
        if _state.state.pending:  # written back lazily after a compiled step
            _state.flush()
        d = self.__dict__
        lost = d.get("_lost")
        if lost is not None:  # a failed compiled call destroyed it (see jnn/_compile.py)
            raise lost.error()
        d["_state_seen"] = True  # a per-parameter dict may be held from now (_state_held)
        return self._param_state

    @state.setter
    def state(self, value: Any) -> None:
        if _state.state.pending:
            _state.flush()
        self.__dict__.pop("_lost", None)
        self._param_state = value

    # -- groups ---------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group (a dict with ``'params'`` and optional options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Parameter):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list "
                "instead."
            )
        else:
            param_group["params"] = list(params)
        _split_names(param_group)  # (which makes the list jnn keeps: a GroupList)
        for p in param_group["params"]:
            if isinstance(p, (jax.Array, np.ndarray)):
                raise _array_param_error(p)
            if not isinstance(p, Parameter):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    + _typename(p)
                )
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)
        ids = [id(p) for p in param_group["params"]]
        if len(ids) != len(set(ids)):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, "
                "this will cause an error; see github.com/pytorch/pytorch/issues/40967 for "
                "more information",
                stacklevel=3,
            )
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                with_names = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {with_names} to the optimizer")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if not existing.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)
        _state.bump_cells(id(self))

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized Parameters (to None, or to zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                reset_grad(p, set_to_none)

    # -- stepping -------------------------------------------------------------------
    @hooked_step
    def step(self, closure: Callable[[], Any] | None = None, *args: Any, **kwargs: Any
             ) -> Any:
        """Update the parameters from their ``.grad``.

        Args:
            closure: optional; returns the loss, or a tuple or list that starts with it
                (``(loss, aux)``). jnn differentiates it
                and accumulates ``.grad`` of every trainable Parameter its loss reaches — this
                optimizer's and any other's, not through ``detach()``, as the closure's
                ``loss.backward()`` would in torch — then updates. Returns its result.

        Every group's update is computed before any is written: a group that raises leaves
        the parameters and state of all groups as they were (torch's guarantee).
        """
        if args or kwargs:  # torch's words name the class that defines step there
            name = f"{self._torch_step_owner}.step()"
            if kwargs:
                raise TypeError(f"{name} got an unexpected keyword argument "
                                f"'{next(iter(kwargs))}'")
            raise TypeError(f"{name} takes from 1 to 2 positional arguments but "
                            f"{len(args) + 2} were given")
        if closure is not None and not callable(closure):
            raise TypeError(f"'{type(closure).__name__}' object is not callable")
        for group in self.param_groups:
            group["params"]  # noqa: B018 - torch reads it at every step: a deleted one raises
            self._check_step_keys(group)
        threaded = _state.state.threaded
        if threaded is not None and id(self) not in threaded:
            # stepped inside jnn.compile without being threaded: its state would be left
            # holding traced values (and never written back)
            raise RuntimeError(
                f"jnn.compile: the compiled function steps a {type(self).__name__} that it "
                "does not thread, so its state (momentum, Adam's moments) would be left "
                "holding traced values. Pass it with the model — jnn.compile(fn, "
                "state=(model, optimizer)) — or reach it from the function's closure, "
                "globals or arguments.")
        if closure is not None:  # repeated eager calls of one closure code compile
            from jnn import _eager_step

            return _eager_step.run(self, closure, "step", lambda: self._step(closure))
        return self._step(closure)

    def _step(self, closure: Callable[[], Any] | None) -> Any:
        if type(self)._rule is Optimizer._rule and \
                type(self)._compute_group is Optimizer._compute_group:
            raise NotImplementedError  # torch's base Optimizer.step
        # One eager step at a time: two threads stepping one shared model (hogwild with
        # threads) give the sequential result, no update lost between a read and a write
        # (a compiled call holds the same lock)
        with _state.LOCK:
            return self._step_unlocked(closure)

    def _step_unlocked(self, closure: Callable[[], Any] | None) -> Any:
        self.state  # noqa: B018 - writes back state a compiled step left packed; raises if lost
        result = None
        if closure is not None:
            from jnn import autograd

            params = autograd._trainable(p for g in self.param_groups for p in g["params"])
            loss, aux, has_aux, grads, read, commit = autograd.differentiate(
                closure, params, commit=False)
            rollback = commit.rollback  # (the .grad slots before the closure ran)
            try:
                known = {id(p) for p in params}
                extra = [p for p in read if p.requires_grad and id(p) not in known]
                if extra:  # e.g. opt1.step(closure); opt2.step(): the loss reaches both halves
                    params = params + extra
                    loss, aux, has_aux, grads, read, commit = autograd.differentiate(
                        closure, params, commit=False)
                autograd.check_reaches_a_parameter(read)
                commit()
                autograd.accumulate_read(params, grads, read)
            except BaseException:
                rollback()
                raise
            result = autograd.rejoin(loss, aux, has_aux)
        commits = [self._compute_group(group) for group in self.param_groups]
        for commit_group in commits:
            if commit_group is not None:
                commit_group()
        return result

    # The options torch's step reads from every group, in its order (that of a group whose
    # parameters have gradients): one missing (deleted, or never in a group loaded from
    # another optimizer's state dict) raises torch's KeyError before anything is computed.
    # Empty: ``lr`` alone, where the defaults have one.
    _step_keys: tuple[str, ...] = ()

    def _check_step_keys(self, group: dict[str, Any]) -> None:
        for key in self._step_keys or (("lr",) if "lr" in self.defaults else ()):
            if key not in group:
                raise KeyError(key)

    def _compute_group(self, group: dict[str, Any]) -> Callable[[], None] | None:
        """The group's update, computed; returns the function that writes it (or None)."""
        params = [p for p in group["params"] if p._grad is not None]
        if not params:
            return None
        state = self._param_state
        created = [p for p in params if not state.get(p)]
        states = [dict(state[p]) if state.get(p) else self._init_state(p, group)
                  for p in params]
        keys = tuple(tuple(sorted(st)) for st in states)
        traced = self.__dict__.get("_traced_options")
        if traced is not None and id(group) in traced:  # inside jnn.compile: threaded scalars
            hyper, static = traced[id(group)]
        else:
            hyper, static = self._split_options(group)
        update = _jitted_rule(type(self), static, keys)
        new_params, new_states = update([p._data for p in params], [p._grad for p in params],
                                        states, hyper)

        def commit() -> None:
            for p, value, before, st in zip(params, new_params, states, new_states):
                p._data = value
                old = state[p]
                if not old:
                    old.update(before)  # torch's key order (a jitted dict comes back sorted)
                # torch-style lazily created state, or a buffer loaded as None now created
                # (SGD's momentum_buffer): a new array cell either way
                if len(st) != len(old) or any(old.get(k) is None for k in st):
                    _state.bump_cells(id(self))
                old.update(st)
            if created:
                _state.bump_cells(id(self))

        return commit

    def _split_options(self, group: dict[str, Any]) -> tuple[dict[str, Any], tuple]:
        """Numeric options become traced scalars; the rest (and zero-ness) are static."""
        hyper: dict[str, Any] = {}
        static: list[tuple[str, Any]] = []
        arguments = self._number_arguments
        known = _signature_defaults(type(self))
        for key, value in group.items():
            if key == "params" or key == "param_names":  # names: not an option
                continue
            if key not in known and key not in self.defaults:
                continue  # a key of the script's own ({"params": ..., "tags": [...]})
            if key in arguments and getattr(value, "size", 0) == 1:
                error = arguments[key](group, value)
                if error is not None:
                    raise error
            if isinstance(value, np.ndarray) and value.ndim == 0:  # lr=np.array(0.1)
                value = value[()]  # a numpy scalar: a numbers.Real, and hashable
            elif isinstance(value, jax.core.Tracer) and not _state.state.compile_depth:
                raise RuntimeError(
                    f"{type(self).__name__}: param group option {key!r} holds a traced value: "
                    "it was set inside a JAX transformation (jax.jit, jax.grad, ...) and "
                    "outlived it. Set options outside traced code (a schedule computed in "
                    "jax.jit: return it, then assign float(value) or the array), e.g. "
                    f"opt.param_groups[i][{key!r}] = new_value.")
            default = _signature_defaults(type(self)).get(key, self.defaults.get(key))
            if isinstance(default, numbers.Real) and not isinstance(default, bool):
                # a numeric option (lr, weight_decay, ...): torch computes with what it holds
                value = self._numeric_option(key, value, group)
            elif isinstance(default, (tuple, list)):  # betas: torch computes with each one
                value = self._pair_option(key, value)
            if isinstance(value, _STATIC_TYPES):
                static.append((key, value))
            elif isinstance(value, numbers.Real) or isinstance(value, jax.Array):
                hyper[key] = value
                if key in self._structural_options:  # torch branches on `option != 0`
                    # (an array's zero-ness too, as torch's `momentum != 0` of a tensor;
                    # a traced one cannot say: taken as non-zero)
                    nonzero = (True if isinstance(value, jax.core.Tracer)
                               else bool(np.asarray(value) != 0))
                    static.append((key + "!=0", nonzero))
            elif isinstance(value, tuple) and all(
                    isinstance(v, (numbers.Real, jax.Array)) for v in value):
                hyper[key] = value
            else:
                static.append((key, value))
        static.extend(self._static(group))
        return self._prepare_hyper(hyper), tuple(static)

    # Per numeric option, the arithmetic torch's step first does with it: a str or None
    # there raises Python's own TypeError, which is torch's (see _bad_option)
    _option_probes: dict[str, Callable[[Any], Any]] = {}

    # Per numeric option, the error torch's step raises for a tensor of several elements
    # (one element is a number to torch): jnn's update would broadcast it silently
    _array_option_errors: dict[str, Callable[[], Exception]] = {}

    # Per numeric option, torch's step with a 1-element array where its argument parser
    # takes a Number or a Tensor: (group, value) -> its TypeError, or None (_number_argument)
    _number_arguments: dict[str, Callable[[dict, Any], Exception | None]] = {}

    # Per numeric option, torch's step with a complex value: the probe raises torch's
    # error, or returns the real number torch computes with (Adam's ``lr=0.1+0j``)
    _complex_probes: dict[str, Callable[[Any], Any]] = {}

    def _numeric_option(self, key: str, value: Any, group: dict[str, Any]) -> Any:
        """A numeric option's value as the update computes with it, or torch's error."""
        if isinstance(value, (bool, np.bool_)):
            return int(value)  # True is 1, as in torch's arithmetic
        if _is_complex(value):
            probe = self._complex_probes.get(key)
            if probe is None:
                self._bad_option(key, value)
            return probe(value)
        if isinstance(value, (np.ndarray, jax.Array)) and value.ndim:
            if value.size != 1:
                error = self._array_option_errors.get(key)
                if error is not None:
                    raise error()
            else:  # torch reads a 1-element tensor as its number
                value = value.reshape(())
                value = value[()] if isinstance(value, np.ndarray) else value
        if not isinstance(value, (numbers.Real, jax.Array)):
            self._bad_option(key, value)
        return value

    def _pair_option(self, key: str, value: Any) -> tuple:
        """A pair option (``betas``, a tuple or a list) as a tuple of numbers and 0-d
        arrays, or the error of torch's step: of its arithmetic for a non-number, of its
        argument parser for a tensor of several elements."""
        arrays = (np.ndarray, jax.Array)
        if not isinstance(value, (tuple, list)) or not all(
                isinstance(v, (numbers.Real, *arrays)) for v in value):
            self._bad_option(key, value)  # betas="ab", betas=0.9, betas=(0.9, None)
        out = []
        for i, element in enumerate(value):
            if isinstance(element, arrays) and element.size == 1:
                element = element.reshape(())  # torch reads it as its number
                element = element[()] if isinstance(element, np.ndarray) else element
            elif isinstance(element, arrays) and f"{key}[{i}]" in self._array_option_errors:
                raise self._array_option_errors[f"{key}[{i}]"]()
            out.append(element)
        return tuple(out)

    def _bad_option(self, key: str, value: Any) -> None:
        """A numeric option holding something else (``group["lr"] = "0.01"``): torch's
        step raises a TypeError from its arithmetic; so does this, with the same text."""
        probe = self._option_probes.get(key)
        if probe is not None:
            probe(value)
        raise TypeError(f"{type(self).__name__}: param group option {key!r} must be a number, "
                        f"not {type(value).__name__}")

    def _compiled_options(self, group: dict[str, Any]) -> tuple[jax.Array, tuple]:
        """``_split_options`` for a compiled step's inputs: ``(vector, (treedef, static))``.

        The numeric options travel as ONE float32 vector per group (a program input costs
        ~0.5 µs of dispatch each; Adam has nine scalars), unflattened with ``treedef`` in
        the program (see :func:`unflatten_options`).  Called for every compiled call: while
        the group's values are the same objects as last time, the same device vector is
        passed again (no host-to-device copy, no re-splitting); a scheduler's new lr makes
        a new one.
        """
        values = tuple(v for k, v in group.items() if k != "params")
        cache = self.__dict__.setdefault("_options_cache", {})
        hit = cache.get(id(group))
        if hit is not None and len(hit[0]) == len(values) and all(
                a is b and type(a) is not np.ndarray for a, b in zip(hit[0], values)):
            return hit[1], hit[2]  # (a numpy array may have changed in place: not cached)
        self._check_step_keys(group)  # (before _split_options, whose errors are not torch's)
        hyper, static = self._split_options(group)
        leaves, treedef = jax.tree_util.tree_flatten(hyper)
        if any(isinstance(v, jax.Array) for v in leaves):  # (an lr tensor): no host sync
            vector = jnp.stack([jnp.asarray(v, jnp.float32).reshape(()) for v in leaves])
        else:
            vector = jnp.asarray(np.asarray(leaves, np.float32).reshape(len(leaves)))
        cache[id(group)] = (values, vector, (treedef, static))
        return vector, (treedef, static)

    def _prepare_hyper(self, hyper: dict[str, Any]) -> dict[str, Any]:
        """Hook: host-side precomputation of traced scalars (e.g. ``1 - beta`` in float64)."""
        return hyper

    # Numeric options whose zero-ness changes torch's algorithm (``if momentum != 0``):
    # their zero-ness is static (part of a compiled step's key), the values are traced.
    _structural_options: tuple[str, ...] = ()

    def _cells(self) -> list[tuple[Any, Any]]:
        """Every array of optimizer state as a ``(container, key)`` cell, for jnn.compile."""
        return [(st, k) for st in self.state.values() for k, v in st.items()
                if isinstance(v, jax.Array)]

    # -- hooks for subclasses ---------------------------------------------------------
    def _init_state(self, p: Parameter, group: dict[str, Any]) -> dict[str, Any]:
        return {}

    def _placeholder_state(self, p: Parameter, group: dict[str, Any]) -> dict | None:
        """State that, present before ``p``'s first step, gives exactly torch's first step.

        ``jnn.compile`` installs it before a training loop's first compiled step so that
        the first and the later steps are one program (see ``_compile._warm_start``).
        None: no such state (the first step is special); the default.
        """
        return None

    def _static(self, group: dict[str, Any]) -> tuple:
        return ()

    @staticmethod
    def _rule(params: list, grads: list, states: list[dict], hyper: dict, static: dict
              ) -> tuple[list, list[dict]]:
        raise NotImplementedError

    # -- state_dict -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [...]}`` in torch's layout."""
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                if id(p) not in index:
                    index[id(p)] = len(index)
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        # torch's order: the order the parameters' state was created in (a parameter whose
        # state was reset by hand comes after the others once stepped again)
        state = {index[id(p)]: dict(s) for p, s in self.state.items()
                 if id(p) in index and s}
        state_dict = {"state": state, "param_groups": groups}
        for post_hook in self._optimizer_state_dict_post_hooks.values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict in torch's layout (e.g. converted from a torch optimizer).

        As in torch, each group is replaced by the saved one, with this optimizer's
        ``params``: an option the saved group lacks is gone (the next step raises torch's
        KeyError) unless torch's ``__setstate__`` fills it in.  A load that raises changes
        nothing (torch's may have replaced the groups and state by then).
        """
        if not hasattr(state_dict, "copy"):  # torch's first use of it
            raise AttributeError(f"'{type(state_dict).__name__}' object has no attribute 'copy'")
        state_dict = copy.copy(state_dict)
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        # deep-copied as torch does: the loaded groups become this optimizer's own
        saved_groups = copy.deepcopy(list(state_dict["param_groups"]))
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = {old: p for s, g in zip(saved_groups, groups)
                  for old, p in zip(s["params"], g["params"])}
        new_state: defaultdict[Parameter, dict[str, Any]] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            k = int(k)
            if k not in id_map:
                continue
            p = id_map[k]
            if not isinstance(v, dict):
                self._check_state_entry(v)
            new_state[p] = {name: _cast_state(name, value, p) for name, value in v.items()}
            _check_state_shapes(new_state[p], p)  # before anything is committed
        # torch replaces the groups: each new one is the saved group with this optimizer's
        # params (a saved group lacking an option lacks it now: the next step raises
        # torch's KeyError).  New dicts: compiled steps see new groups and re-read them.
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
        saved_groups = GroupList(map(GroupDict, saved_groups))
        self._setstate(saved_groups, new_state)  # may raise: nothing is committed yet
        self.state = new_state
        self.param_groups = saved_groups
        self.__dict__.pop("_options_cache", None)  # keyed by the old groups' ids
        _state.bump_cells(id(self))
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)

    def _check_state_entry(self, entry: Any) -> None:
        """A parameter's loaded state that is no dict (``{0: 5}``): torch loads it and its
        step fails reading it (``state.get(...)``); jnn refuses it at load, with that text."""
        raise AttributeError(f"'{type(entry).__name__}' object has no attribute 'get'")

    # Options torch's ``__setstate__`` fills in a loaded group that lacks them (in its order)
    _setstate_defaults: dict[str, Any] = {}

    def _setstate(self, groups: list[dict[str, Any]],
                  state: defaultdict[Parameter, dict[str, Any]]) -> None:
        """torch's ``__setstate__``, which its ``load_state_dict`` ends with: run on the
        loaded groups and state before they are committed (a subclass may raise there)."""
        for group in groups:
            for key, value in self._setstate_defaults.items():
                group.setdefault(key, value)

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        self._param_state = state.pop("state")
        self.__dict__.update(state)
        self._init_hooks()  # (hooks are not pickled, as in torch: a copy has none)

    def __repr__(self) -> str:
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"


# torch's per-parameter state tensors that have the parameter's shape (all optimizers').
_PARAM_SHAPED_STATE = frozenset({"momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq",
                                 "square_avg", "acc_delta", "sum", "exp_inf", "grad_avg"})


def _check_state_shapes(state: dict[str, Any], p: Parameter) -> None:
    """A loaded state tensor of another shape than its parameter: torch's step fails on it
    (an in-place update that cannot broadcast); jnn refuses it at load, with torch's text,
    where the update would otherwise silently broadcast."""
    shape = tuple(p.shape)
    for name, value in state.items():
        if name in _PARAM_SHAPED_STATE and value is not None and tuple(value.shape) != shape:
            raise RuntimeError(_broadcast_error(tuple(value.shape), shape))


def _broadcast_error(a: tuple[int, ...], b: tuple[int, ...]) -> str:
    """torch's message for an in-place op on a tensor of shape ``a`` with one of shape ``b``."""
    ndim = max(len(a), len(b))
    for i in range(1, min(len(a), len(b)) + 1):  # torch reports the last mismatching dim
        if a[-i] != b[-i] and a[-i] != 1 and b[-i] != 1:
            return (f"The size of tensor a ({a[-i]}) must match the size of tensor b "
                    f"({b[-i]}) at non-singleton dimension {ndim - i}")
    broadcast = list(np.broadcast_shapes(a, b))
    target = a if list(a) != broadcast else b
    return f"output with shape {list(target)} doesn't match the broadcast shape {broadcast}"


@functools.cache
def _signature_defaults(cls: type) -> dict[str, Any]:
    """The defaults of ``cls.__init__``'s options: what kind each option is (a number, a
    pair, a flag), whatever a constructor was given (``SGD(lr=True)``, ``momentum=
    np.array([0.9])``: numbers to torch's arithmetic)."""
    try:
        parameters = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in parameters
            if p.default is not inspect.Parameter.empty and p.default is not None}


def _cast_state(name: str, value: Any, p: Parameter) -> Any:
    """torch's rule: floating state takes the parameter's dtype, except ``step``, a float32
    count (0-d: torch reads a 1-element one, ``tensor([3.])``, as its number)."""
    if value is None:
        return None
    # A private copy of host memory before it is sent to the device (the transfer may run
    # after this returns, while the script steps the torch optimizer it came from in place),
    # and the transfer of an array made from such memory finished (see the module's load).
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        value = np.array(value, copy=True)
    elif isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer):
        value.block_until_ready()
    if isinstance(value, numbers.Number):
        value = jnp.asarray(value, jnp.float32)
    arr = jnp.array(value)
    if name == "step":
        if arr.size == 1:
            arr = arr.reshape(())
        return arr.astype(jnp.float32)
    if jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(p.dtype)
    return arr


def _is_tensor(value: Any) -> bool:
    return isinstance(value, (jax.Array, np.ndarray))


def check_tensor_lr(lr: Any, foreach: bool | None = None, capturable: bool = True) -> None:
    """torch's checks of an ``lr`` given as a tensor (before its value is compared)."""
    if _is_tensor(lr):
        if foreach and not capturable:
            raise ValueError(
                "lr as a Tensor is not supported for capturable=False and foreach=True")
        if np.size(lr) != 1:
            raise ValueError("Tensor lr must be 1-element")


def check_tensor_betas(betas: Any, foreach: bool | None, capturable: bool) -> None:
    """torch's Adam checks: both betas Python floats or both 1-element tensors."""
    if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
            or (_is_tensor(betas[0]) and _is_tensor(betas[1]))):
        raise ValueError("betas must be either both floats or both Tensors")
    for i, beta in enumerate(betas[:2]):
        if _is_tensor(beta):
            if not capturable and foreach:
                raise ValueError(f"betas[{i}] as a Tensor is not supported for "
                                 "capturable=False and foreach=True")
            if np.size(beta) != 1:
                raise ValueError(f"Tensor betas[{i}] must be 1-element")


def check_fused(fused: bool | None, foreach: bool | None, differentiable: bool) -> None:
    """torch's checks of the implementation flags (which jnn otherwise ignores: XLA fuses)."""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


@functools.cache
def _jitted_rule(cls: type, static: tuple, keys: tuple) -> Callable:
    """One compiled update per (optimizer class, structural flags, state layout)."""
    static_dict = dict(static)
    rule = cls._rule

    def update(params: list, grads: list, states: list, hyper: dict) -> tuple:
        return rule(params, grads, states, hyper, static_dict)

    del keys  # part of the cache key only: a new state layout is a new compilation
    return jax.jit(update)


# -- torch's ``foreach`` path: small parameters updated as one vector ----------------------
# An elementwise rule applied parameter by parameter is one XLA fusion per parameter: a
# model of many small layers (100 × Linear(4, 4): 200 parameters) gets 200 fusions, which
# XLA compiles in seconds and runs as 200 loops.  Raveled and concatenated per dtype, the
# same rule is one fusion over one vector (torch's multi-tensor ``foreach`` kernels do the
# same): identical arithmetic per element, a fraction of the compile time.  Large
# parameters are updated alone (a concatenation would copy them).
MULTI_TENSOR_LIMIT = 1 << 14  # elements: larger parameters are updated alone
MULTI_TENSOR_CHUNK = 1 << 18  # elements per vector (bounds the per-element index constant)


def multi_tensor(update: Callable[..., tuple], columns: tuple[list, ...],
                 per_param: tuple[jax.Array, ...] | None, shared: tuple = ()) -> list[tuple]:
    """``[update(*(c[i] for c in columns), *scalars_i) for each parameter i]``, with the
    small parameters of each dtype updated together as raveled vectors.

    ``columns``: lists aligned per parameter (parameters first; a column of ``None`` stays
    ``None``); ``update`` must be elementwise in them and return a tuple of arrays (or
    ``None``) shaped like the parameter.  ``per_param``: vectors holding one scalar per
    parameter (bias corrections of per-parameter step counts), given to each parameter as
    its own scalar and to a vector as one value per element; else ``shared`` scalars.
    """
    params = columns[0]
    out: list[Any] = [None] * len(params)
    chunks: dict[Any, list[list[int]]] = {}
    filled: dict[Any, int] = {}  # elements in each dtype's last chunk
    for i, p in enumerate(params):
        if p.size > MULTI_TENSOR_LIMIT or any(
                c[i] is not None and (c[i].shape != p.shape or c[i].dtype != p.dtype)
                for c in columns[1:]):
            continue
        dtype_chunks = chunks.setdefault(p.dtype, [[]])
        if dtype_chunks[-1] and filled[p.dtype] + p.size > MULTI_TENSOR_CHUNK:
            dtype_chunks.append([])
        if len(dtype_chunks[-1]) == 0:
            filled[p.dtype] = 0
        dtype_chunks[-1].append(i)
        filled[p.dtype] += p.size
    for idx in (c for dtype_chunks in chunks.values() for c in dtype_chunks if len(c) > 1):
        sizes = [params[i].size for i in idx]
        flat = [None if column[idx[0]] is None
                else jnp.concatenate([jnp.ravel(column[i]) for i in idx])
                for column in columns]
        if per_param is None:
            scalars = shared
        else:  # each element reads its parameter's scalar (a gather by a constant index)
            owner = np.repeat(np.asarray(idx, np.int32), sizes)
            scalars = tuple(s[owner] for s in per_param)
        results = update(*flat, *scalars)
        bounds = np.cumsum(sizes)[:-1].tolist()
        parts = [None if r is None else jnp.split(r, bounds) for r in results]
        for j, i in enumerate(idx):
            out[i] = tuple(None if part is None else part[j].reshape(params[i].shape)
                           for part in parts)
    for i in range(len(params)):
        if out[i] is None:
            scalars = shared if per_param is None else tuple(s[i] for s in per_param)
            out[i] = update(*(c[i] for c in columns), *scalars)
    return out
