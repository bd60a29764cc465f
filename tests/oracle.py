"""The torch oracle: check a jnn module against its ``torch.nn`` twin in a few lines.

:func:`check_layer` builds ``torch.nn.<name>(*args, **kwargs)`` and ``jnn.nn.<name>(...)``
and hands them to :func:`check_modules`, which compares

* structure: ``state_dict`` keys, order, shapes and dtypes; ``named_parameters`` and
  ``named_buffers`` names; ``repr`` text;
* after copying torch's ``state_dict`` into jnn, eagerly: outputs, in every requested mode
  (``"train"``, ``"eval"``), and the buffers after each forward;
* warnings: each warning torch emits (construction and forward) is emitted by jnn too;

and then, for every row automatically, the checks of :data:`CHECKS` (a row leaves one out
only with a written reason, ``skip_checks={check: reason}``; a known jnn deviation is
``xfail_checks={check: reason}``, strict: that check must fail, the others must pass; see
``tests/nn/registry.py``).  Each runs on copies taken before the mode's forward, so all
start from the state torch's forward saw:

* ``jit`` (every mode): ``jax.jit`` over the module passed as an argument: outputs and
  buffers equal torch's and eager's, the module is left unchanged, and in the first mode
  the gradients of ``sum(out * ct)`` (fixed random cotangent ``ct``) for the inputs and
  every parameter equal torch autograd's.  Forward and VJP are ONE jitted program
  (``jax.grad`` over the module as a pytree; grads come back module-shaped, read by their
  torch names); it is the row's only gradient computation (eager when ``jit`` is off).
* ``copy`` (every mode): ``copy.deepcopy`` and a pickle round trip keep the state_dict,
  training flags and repr; one copy reruns the jit program (a cache hit, no compile) and
  must give identical results, the other is what the ``compile`` check runs.
* ``compile`` (first mode: train where the row has it): ``jnn.compile(model)``: outputs
  equal eager's, and the buffers it writes equal torch's.
* ``bfloat16``, ``float64`` (first mode): floating inputs and state cast, one jitted
  program against torch in that dtype (float64 under a per-call ``jax.enable_x64``, which
  does not leak into other tests).  Outputs and buffers; float64 also compares gradients
  on the rows that run the ``step`` check (a second program's cost).  Skipped
  automatically where torch has no such kernel on CPU or the row has nothing floating;
  tolerances at :data:`_VARIANTS`.
* ``step`` (first mode, rows with gradients and trainable parameters): one
  ``jnn.compile``'d training step, ``optimizer.zero_grad(); loss = (out * ct).sum();
  optimizer.step(closure)`` with ``SGD(lr=0.1)``, against the same step in torch: the
  loss, the parameters and the buffers after it.  It costs several XLA programs, so the
  registry runs it on a deterministic subset: the first gradient row of each class name
  per test file (``tests/nn/registry.py``); direct callers get it on every call.

Inside a hypothesis test (many generated examples) only ``jit`` and ``copy`` run; the
registry's rows run the costly ones for every class.  Unbatched input is covered by the
registry's own unbatched rows, not generated here.
A row's failures in these checks are collected and reported together, by check.

:func:`check_error` asserts torch and jnn raise the same exception type with messages
matching the same regex, at construction or (given ``inputs``) in forward.

Inputs are specs, materialised with a seeded numpy generator so torch and jnn see the same
numbers: a shape tuple means standard normal float32; :func:`normal`, :func:`uniform`,
:func:`integers`, :func:`probs`, :func:`log_probs` and :func:`const` cover the rest (loss
targets, probabilities, explicit values).  numpy arrays among constructor arguments become
``torch.Tensor`` for torch and ``jax.Array`` for jnn (a loss's ``weight``, say).

Tolerances (float32): ``rtol=1e-5`` and ``atol = 1e-6 * sqrt(n)``, ``n`` the number of
terms summed per output element: the fan-in of the widest parameter, or the input size of
a loss; pass ``reduction_size`` or ``atol`` to override.  Gradients also sum over the batch,
so theirs uses the larger of ``n`` and the largest input size.  The jit, copy and compile
checks use the row's tolerances (against torch and against eager); bfloat16 and float64
have their own, scaled by the same ``n`` (see :data:`_VARIANTS`).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
import jnn.nn
import jnn.optim

__all__ = [
    "check_layer", "check_modules", "check_error", "make_inputs", "normal", "uniform",
    "integers", "probs", "log_probs", "const", "to_torch", "to_jnn", "assert_close",
    "default_atol", "CHECKS",
]

InputSpec = Any  # a shape tuple, a callable(rng) -> np.ndarray, or an np.ndarray


# -- input specs -----------------------------------------------------------------------
def normal(*shape: int, scale: float = 1.0) -> Callable[[np.random.Generator], np.ndarray]:
    """Float32 samples of N(0, scale^2)."""
    return lambda rng: np.asarray(scale * rng.standard_normal(shape), np.float32)


def uniform(*shape: int, low: float = 0.0, high: float = 1.0) -> Callable:
    """Float32 samples of U(low, high) (probabilities for BCELoss, say)."""
    return lambda rng: np.asarray(rng.uniform(low, high, shape), np.float32)


def integers(*shape: int, high: int, low: int = 0) -> Callable:
    """int64 class indices in [low, high) (torch's Long targets)."""
    return lambda rng: np.asarray(rng.integers(low, high, shape, dtype=np.int64))


def probs(*shape: int, dim: int = -1) -> Callable:
    """Float32 probabilities summing to 1 along ``dim`` (softmax of normals)."""
    def make(rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal(shape)
        e = np.exp(z - z.max(axis=dim, keepdims=True))
        return np.asarray(e / e.sum(axis=dim, keepdims=True), np.float32)
    return make


def log_probs(*shape: int, dim: int = -1) -> Callable:
    """Float32 log-probabilities along ``dim`` (NLLLoss / KLDivLoss inputs)."""
    make_probs = probs(*shape, dim=dim)
    return lambda rng: np.asarray(np.log(make_probs(rng)), np.float32)


def const(value: Any, dtype: Any = None) -> Callable:
    """A fixed value (e.g. targets that hit ``ignore_index``)."""
    arr = np.asarray(value, dtype=dtype)
    if dtype is None and arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    return lambda rng: arr.copy()


def make_inputs(specs: Sequence[InputSpec], seed: int = 0) -> list[np.ndarray]:
    """Materialise input specs with one seeded generator (same numbers every run)."""
    rng = np.random.default_rng(seed)
    out = []
    for spec in specs:
        if isinstance(spec, np.ndarray):
            out.append(spec.copy())
        elif callable(spec):
            out.append(spec(rng))
        else:
            out.append(normal(*spec)(rng))
    return out


# -- conversions -----------------------------------------------------------------------
def to_torch(value: Any) -> Any:
    """numpy arrays (also inside lists/tuples/dicts) to torch tensors; others unchanged."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) for v in value):
        return type(value)(to_torch(v) for v in value)
    if isinstance(value, dict):
        return {k: to_torch(v) for k, v in value.items()}
    return value


def to_jnn(value: Any) -> Any:
    """numpy arrays (also inside lists/tuples/dicts) to jax arrays; others unchanged."""
    if isinstance(value, np.ndarray):
        return jnp.asarray(value)
    if isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) for v in value):
        return type(value)(to_jnn(v) for v in value)
    if isinstance(value, dict):
        return {k: to_jnn(v) for k, v in value.items()}
    return value


def _np(value: Any) -> np.ndarray:
    """numpy values of a tensor or array; bfloat16 (numpy has none for torch) as float32."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return (value.float() if value.dtype == torch.bfloat16 else value).numpy()
    value = np.asarray(value)
    return value.astype(np.float32) if value.dtype == jnp.bfloat16 else value


def _jax_dtype(torch_dtype: torch.dtype) -> np.dtype:
    """The dtype jnn is expected to produce for torch's (int64 is int32 without x64)."""
    if torch_dtype == torch.bfloat16:
        return np.dtype(jnp.bfloat16)
    return jax.dtypes.canonicalize_dtype(torch.empty((), dtype=torch_dtype).numpy().dtype)


def assert_close(actual: Any, expected: Any, *, rtol: float, atol: float, what: str) -> None:
    """Same shape, the dtype jnn should give for torch's, values within tolerance."""
    exp = _np(expected)
    act = _np(actual)
    assert act.shape == exp.shape, f"{what}: shape {act.shape} != torch's {exp.shape}"
    if isinstance(expected, torch.Tensor):
        want = _jax_dtype(expected.dtype)
        got = np.asarray(actual).dtype
        assert got == want, f"{what}: dtype {got} != {want} (torch {expected.dtype})"
    np.testing.assert_allclose(act, exp, rtol=rtol, atol=atol, err_msg=what)


# -- tolerances ------------------------------------------------------------------------
def default_atol(reduction_size: int) -> float:
    """float32 absolute tolerance for a sum of ``reduction_size`` O(1) terms."""
    return 1e-6 * math.sqrt(max(int(reduction_size), 1))


def _reduction_size(torch_module: torch.nn.Module, inputs: Sequence[np.ndarray]) -> int:
    """Terms summed per output element: widest fan-in, or a loss's whole input."""
    size = 1
    for p in torch_module.parameters():
        if p.ndim >= 2:
            size = max(size, math.prod(p.shape[1:]))
    if isinstance(torch_module, torch.nn.modules.loss._Loss) and inputs:
        size = max(size, inputs[0].size)
    return size


# -- warnings --------------------------------------------------------------------------
class _Recorder:
    """Records warnings (all of them, each time) inside a ``with`` block."""

    def __enter__(self) -> list[str]:
        self._ctx = warnings.catch_warnings(record=True)
        self.records = self._ctx.__enter__()
        warnings.simplefilter("always")
        return self.records

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)


def _messages(records: list) -> set[str]:
    return {str(r.message) for r in records}


def _assert_same_warnings(torch_records: list, jnn_records: list, what: str) -> None:
    missing = _messages(torch_records) - _messages(jnn_records)
    assert not missing, f"{what}: torch warned {sorted(missing)}; jnn did not"


# -- the checks ------------------------------------------------------------------------
def check_structure(torch_module: torch.nn.Module, jnn_module: jnn.nn.Module,
                    check_repr: bool = True) -> None:
    """state_dict keys/order/shapes/dtypes, parameter and buffer names, and repr."""
    t_sd, j_sd = torch_module.state_dict(), jnn_module.state_dict()
    assert list(j_sd) == list(t_sd), "state_dict keys or order differ"
    for key, value in t_sd.items():
        assert tuple(j_sd[key].shape) == tuple(value.shape), f"state_dict[{key!r}] shape"
        assert np.dtype(j_sd[key].dtype) == _jax_dtype(value.dtype), f"{key!r} dtype"
    t_params = [(n, tuple(p.shape), p.requires_grad) for n, p in torch_module.named_parameters()]
    j_params = [(n, tuple(p.shape), p.requires_grad) for n, p in jnn_module.named_parameters()]
    assert j_params == t_params, "named_parameters differ"
    t_buffers = [n for n, _ in torch_module.named_buffers()]
    assert [n for n, _ in jnn_module.named_buffers()] == t_buffers, "named_buffers differ"
    if check_repr:
        assert repr(jnn_module) == repr(torch_module)


def load_from_torch(torch_module: torch.nn.Module, jnn_module: jnn.nn.Module) -> None:
    """Copy torch's state_dict into jnn and check it arrived unchanged."""
    t_sd = torch_module.state_dict()
    jnn_module.load_state_dict({k: v.detach().numpy() for k, v in t_sd.items()})
    for key, value in jnn_module.state_dict().items():
        np.testing.assert_array_equal(_np(value), _np(t_sd[key]), err_msg=key)


def _outputs(out: Any) -> list:
    """A module's output as a flat list (tuples and lists flattened)."""
    if isinstance(out, (tuple, list)):
        return [leaf for item in out for leaf in _outputs(item)]
    return [out]


def _is_float(x: np.ndarray) -> bool:
    return np.issubdtype(x.dtype, np.floating)


def _state_arrays(module: Any) -> dict[str, np.ndarray]:
    """A module's state_dict as numpy arrays (bfloat16 as float32)."""
    return {k: _np(v) for k, v in module.state_dict().items()}


def _assert_same_state(actual: dict, expected: dict, what: str) -> None:
    assert list(actual) == list(expected), f"{what}: state_dict keys differ"
    for key, value in expected.items():
        np.testing.assert_array_equal(actual[key], value, err_msg=f"{what}: {key}")


# -- the row's program: forward and gradients as ONE jitted call -----------------------
def _forward_and_grads(module: jnn.nn.Module, xs: list, cts: list, diff: tuple[int, ...],
                       out_idx: tuple[int, ...], take_grad: bool) -> tuple:
    """``(outputs, buffers after the forward, grads by parameter name, grads by input)``.

    Gradients (with ``take_grad``) are of ``sum(out[i] * ct)`` over ``out_idx``, for the
    inputs in ``diff`` and every floating leaf of the module.  The module goes to
    ``jax.grad`` as a pytree, as a user passes it; when it holds integer leaves (a step
    counter, say) only its floating leaves are differentiated and the module is rebuilt
    around them.  Jitted as :data:`_program`, this is the jax.jit check's
    ``jax.jit(lambda m, *xs: m(*xs))(model, *inputs)`` with the VJP in the same program.
    """
    def objective(m: jnn.nn.Module, dxs: list) -> tuple:
        args = list(xs)
        for i, x in zip(diff, dxs):
            args[i] = x
        outs = _outputs(m(*args))
        total = sum((jnp.sum(outs[i] * ct) for i, ct in zip(out_idx, cts)), jnp.zeros(()))
        return total, (outs, dict(m.named_buffers()))

    dxs = [xs[i] for i in diff]
    if not take_grad:
        outs, buffers = objective(module, dxs)[1]
        return outs, buffers, {}, []
    leaves, treedef = jax.tree_util.tree_flatten_with_path(module)
    if all(jnp.issubdtype(leaf.dtype, jnp.inexact) for _, leaf in leaves):
        (g_module, g_inputs), (outs, buffers) = jax.grad(
            objective, argnums=(0, 1), has_aux=True)(module, dxs)
        return outs, buffers, {n: p.data for n, p in g_module.named_parameters()}, g_inputs
    names = [jax.tree_util.keystr(path, simple=True, separator=".") for path, _ in leaves]
    values = [leaf for _, leaf in leaves]
    floats = [i for i, v in enumerate(values) if jnp.issubdtype(v.dtype, jnp.inexact)]

    def partial(float_leaves: list, dxs: list) -> tuple:
        new = list(values)
        for i, leaf in zip(floats, float_leaves):
            new[i] = leaf
        return objective(jax.tree_util.tree_unflatten(treedef, new), dxs)

    (g_leaves, g_inputs), (outs, buffers) = jax.grad(partial, argnums=(0, 1), has_aux=True)(
        [values[i] for i in floats], dxs)
    return outs, buffers, {names[i]: g for i, g in zip(floats, g_leaves)}, g_inputs


_program = jax.jit(_forward_and_grads, static_argnums=(3, 4, 5))


# -- one forward pass (a training mode): torch's results and jnn's eager outputs -------
@dataclasses.dataclass
class _Tolerance:
    rtol: float
    out: float  # atol of outputs and buffers
    grad: float  # atol of gradients
    size: int  # terms summed per output element (the bfloat16/float64 checks scale by it)
    grad_size: int


@dataclasses.dataclass
class _Pass:
    """One training mode: inputs, torch's results (the reference) and jnn's eager outputs."""

    mode: str
    xs: list[np.ndarray]
    diff: tuple[int, ...]  # differentiated inputs
    cts: list[np.ndarray]  # one cotangent per output
    out_idx: tuple[int, ...]  # the outputs differentiated (torch's that require grad)
    t_outs: list
    t_buffers: dict[str, torch.Tensor]  # after the forward
    t_grads: tuple[dict, list] | None  # by parameter name, by differentiated input
    j_outs: list  # jnn's eager outputs
    tol: _Tolerance

    def used_cts(self, dtype: Any = None) -> list:
        return [jnp.asarray(self.cts[i], dtype) for i in self.out_idx]


def _program_args(module: jnn.nn.Module, p: _Pass) -> tuple:
    """:data:`_program`'s arguments for ``module`` on this pass's inputs."""
    return (module, [jnp.asarray(x) for x in p.xs], p.used_cts(), p.diff, p.out_idx,
            p.t_grads is not None)


def _torch_grads(torch_module: torch.nn.Module, t_xs: list, diff: Sequence[int],
                 t_outs: list, cts: list) -> tuple[tuple[int, ...], tuple[dict, list] | None]:
    """torch's gradients of ``sum(out * ct)`` over the outputs that require grad."""
    out_idx = tuple(i for i, o in enumerate(t_outs) if o.requires_grad)
    params = [(n, p) for n, p in torch_module.named_parameters() if p.requires_grad]
    wrt = [t_xs[i] for i in diff] + [p for _, p in params]
    if not wrt or not out_idx:  # nothing to differentiate (integer inputs, no parameters)
        return (), None
    grads = torch.autograd.grad(
        [t_outs[i] for i in out_idx], wrt,
        [torch.from_numpy(cts[i]).to(t_outs[i].dtype) for i in out_idx], allow_unused=True)
    by_input = [g if g is not None else torch.zeros_like(t_xs[i])
                for g, i in zip(grads, diff)]
    by_name = {n: g if g is not None else torch.zeros_like(p)
               for (n, p), g in zip(params, grads[len(diff):])}
    return out_idx, (by_name, by_input)


def _torch_pass(torch_module: torch.nn.Module, xs: list[np.ndarray], diff: tuple[int, ...],
                mode: str, take_grad: bool, tol: _Tolerance, seed: int) -> tuple[_Pass, list]:
    """torch's forward (and gradients): the reference for every check of this mode."""
    t_xs = [torch.from_numpy(x.copy()).requires_grad_(take_grad and i in diff)
            for i, x in enumerate(xs)]
    with _Recorder() as t_records:
        t_outs = _outputs(torch_module(*t_xs))
    rng = np.random.default_rng(seed + 1)
    cts = [rng.standard_normal(tuple(o.shape)).astype(np.float32) for o in t_outs]
    out_idx, t_grads = (), None
    if take_grad:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out_idx, t_grads = _torch_grads(torch_module, t_xs, diff, t_outs, cts)
    t_buffers = {n: b.detach().clone() for n, b in torch_module.named_buffers()}
    return _Pass(mode, xs, diff, cts, out_idx, [o.detach() for o in t_outs], t_buffers,
                 t_grads, [], tol), t_records


def _eager_pass(jnn_module: jnn.nn.Module, p: _Pass, t_records: list,
                check_warnings: bool) -> None:
    """jnn's eager forward against torch's: outputs, buffers after it, warnings."""
    with _Recorder() as j_records:
        p.j_outs = _outputs(jnn_module(*[jnp.asarray(x) for x in p.xs]))
    if check_warnings:
        _assert_same_warnings(t_records, j_records, f"{p.mode} forward")
    assert len(p.j_outs) == len(p.t_outs), (
        f"{p.mode}: {len(p.j_outs)} outputs, torch {len(p.t_outs)}")
    for i, (j_out, t_out) in enumerate(zip(p.j_outs, p.t_outs)):
        assert_close(j_out, t_out, rtol=p.tol.rtol, atol=p.tol.out,
                     what=f"{p.mode} output {i}")
    assert list(p.t_buffers) == [n for n, _ in jnn_module.named_buffers()], "buffer names"
    for (name, j_buf), t_buf in zip(jnn_module.named_buffers(), p.t_buffers.values()):
        assert_close(j_buf, t_buf, rtol=p.tol.rtol, atol=p.tol.out,
                     what=f"{p.mode} buffer {name}")


def _compare_result(result: tuple, p: _Pass, what: str, *, eager: bool = True,
                    rtol: float | None = None, atol: float | None = None,
                    grad_atol: float | None = None, ref: _Pass | None = None) -> None:
    """A program's outputs, buffers and gradients against torch's (and jnn's eager)."""
    rtol = p.tol.rtol if rtol is None else rtol
    atol = p.tol.out if atol is None else atol
    grad_atol = p.tol.grad if grad_atol is None else grad_atol
    ref = ref or p
    outs, buffers, g_by_name, g_inputs = result
    assert len(outs) == len(ref.t_outs), f"{what}: {len(outs)} outputs, torch {len(ref.t_outs)}"
    for i, (out, t_out) in enumerate(zip(outs, ref.t_outs)):
        assert_close(out, t_out, rtol=rtol, atol=atol, what=f"{what} output {i}")
        if eager:  # equals jnn's eager output: same dtype, values within the tolerance
            assert out.dtype == p.j_outs[i].dtype, f"{what} output {i}: dtype != eager's"
            assert_close(out, p.j_outs[i], rtol=rtol, atol=atol, what=f"{what} output {i} "
                         "against eager")
    # (a dict out of jax.jit comes back with its keys sorted)
    assert sorted(buffers) == sorted(ref.t_buffers), f"{what}: buffer names"
    for name, t_buf in ref.t_buffers.items():
        assert_close(buffers[name], t_buf, rtol=rtol, atol=atol, what=f"{what} buffer {name}")
    if ref.t_grads is None:
        return
    t_by_name, t_by_input = ref.t_grads
    for k, i in enumerate(ref.diff):
        assert_close(g_inputs[k], t_by_input[k], rtol=rtol, atol=grad_atol,
                     what=f"{what} grad of input {i}")
    for name, expected in t_by_name.items():
        assert name in g_by_name, f"{what}: no jnn gradient for parameter {name!r}"
        assert_close(g_by_name[name], expected, rtol=rtol, atol=grad_atol,
                     what=f"{what} grad of {name}")


# -- the checks beyond eager -----------------------------------------------------------
CHECKS = ("jit", "copy", "compile", "step", "bfloat16", "float64")
_NOT_APPLICABLE = "not applicable"  # a check's result when the row has nothing for it


# A hypothesis test runs the oracle on many generated examples; there only ``jit`` and
# ``copy`` run (``jit`` is also the gradient check, ``copy`` reuses its program), and the
# registry's rows run the costly checks for every class.
_COSTLY = ("compile", "step", "bfloat16", "float64")
_HYPOTHESIS = "a hypothesis example: the registry's rows run this check for every class"


def _in_hypothesis_example() -> bool:
    try:
        from hypothesis import currently_in_test_context
    except ImportError:  # pragma: no cover - hypothesis is a test dependency
        return False
    return currently_in_test_context()


class _Checks:
    """Runs the checks beyond eager; collects failures so a row reports all of them.

    ``skip``: checks the row cannot run, with the reason; ``xfail``: checks that must fail
    (a known jnn deviation, strict: one that passes is reported so its mark is removed).
    """

    def __init__(self, skip: Mapping[str, str] | None, xfail: Mapping[str, str] | None):
        self.skip, self.xfail = dict(skip or {}), dict(xfail or {})
        for check, reason in [*self.skip.items(), *self.xfail.items()]:
            if check not in CHECKS:
                raise ValueError(f"unknown check {check!r}; the checks are {CHECKS}")
            if not isinstance(reason, str) or not reason.strip():
                raise ValueError(f"check {check!r} is left out without a written reason")
        both = set(self.skip) & set(self.xfail)
        if both:
            raise ValueError(f"checks {sorted(both)} are both skipped and expected to fail")
        self.failed: dict[str, str] = {}
        self.passed: set[str] = set()

    def wanted(self, check: str) -> bool:
        return check not in self.skip and check not in self.failed

    def run(self, check: str, where: str, fn: Callable, *args: Any) -> Any:
        if not self.wanted(check):
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = fn(*args)
        except Exception as exc:  # noqa: BLE001 - every failure is reported in finish()
            lines = "".join(traceback.format_exception_only(exc)).strip().splitlines()
            text = "\n    ".join(line for line in lines[:12] if line.strip())
            self.failed[check] = f"[{check}, {where}] {text}"
            return None
        if result is not _NOT_APPLICABLE:
            self.passed.add(check)
        return result

    def finish(self) -> None:
        unexpected = [text for check, text in self.failed.items() if check not in self.xfail]
        fixed = [f"[{check}] passes but is marked deviation({reason!r}, check={check!r}): "
                 "remove the mark" for check, reason in self.xfail.items()
                 if check in self.passed and check not in self.failed]
        stale = [f"[{check}] is marked deviation({reason!r}) but does not apply to this row"
                 for check, reason in self.xfail.items()
                 if check not in self.passed and check not in self.failed]
        problems = unexpected + fixed + stale
        if problems:
            raise AssertionError("\n".join(problems))


def _run_jit(module: jnn.nn.Module, p: _Pass, before: dict) -> tuple:
    """``jax.jit`` over the module as an argument: forward and VJP in one program.

    Run on the module itself before its eager forward (the state torch's forward saw);
    the module must come out unchanged.  Compared by :func:`_check_jit` after eager.
    """
    result = jax.block_until_ready(_program(*_program_args(module, p)))
    _assert_same_state(_state_arrays(module), before, f"{p.mode} jax.jit changed the module")
    return result


def _check_jit(result: tuple, p: _Pass) -> tuple:
    _compare_result(result, p, f"{p.mode} jax.jit")
    return result


def _committed(module: jnn.nn.Module) -> bool:
    leaves = jax.tree_util.tree_leaves(module)
    return bool(leaves) and bool(getattr(leaves[0], "committed", False))


def _check_copies(original: jnn.nn.Module, copies: dict, same: jnn.nn.Module, p: _Pass,
                  before: dict, jitted: tuple | None) -> None:
    """deepcopy and a pickle round trip: same state_dict, flags and repr; same outputs.

    ``same``, one of the copies, runs the jit check's program and must give identical
    results; the ``compile`` check runs on the other, which checks its outputs.  (A
    deepcopy's arrays are committed to a device, an unpickled module's are not, and jit
    keys its cache on that: ``same`` is the one that matches the original.)
    """
    for what, module in copies.items():
        _assert_same_state(_state_arrays(module), before, f"{p.mode} {what}: state_dict")
        assert repr(module) == repr(original), f"{what}: repr"
        assert [m.training for m in module.modules()] == [
            m.training for m in original.modules()], f"{what}: training flags"
    result = _program(*_program_args(same, p))
    if jitted is None:  # the jit check failed or was skipped: compare with torch instead
        _compare_result(result, p, f"{p.mode} copy")
        return
    # the same program on the same numbers: the copy must give identical results (on a
    # GPU, one compile of each: XLA's autotuning may pick another convolution algorithm
    # for the other, whose sums round differently — within float32 rounding, not equal)
    leaves, expected = jax.tree_util.tree_leaves(result), jax.tree_util.tree_leaves(jitted)
    assert len(leaves) == len(expected), f"{p.mode} copy: {len(leaves)} results"
    for a, b in zip(leaves, expected):
        if jax.default_backend() == "cpu":
            np.testing.assert_array_equal(_np(a), _np(b), err_msg=f"{p.mode} copy vs original")
        else:
            b = _np(b)
            np.testing.assert_allclose(_np(a), b, rtol=1e-6,
                                       atol=1e-6 * float(np.abs(b).max(initial=0.0)),
                                       err_msg=f"{p.mode} copy vs original")


def _check_compile(module: jnn.nn.Module, p: _Pass) -> None:
    """``jnn.compile(model)``: outputs as eager; the buffers it writes as torch's."""
    compiled = jnn.compile(module)
    outs = _outputs(compiled(*[jnp.asarray(x) for x in p.xs]))
    buffers = dict(module.named_buffers())
    _compare_result((outs, buffers, {}, []), dataclasses.replace(p, t_grads=None),
                    f"{p.mode} jnn.compile")


def _check_step(t_model: torch.nn.Module, j_model: jnn.nn.Module, p: _Pass) -> Any:
    """One compiled SGD(lr=0.1) step on ``sum(out * ct)``: parameters and buffers after."""
    t_params = [q for q in t_model.parameters() if q.requires_grad]
    if not t_params:
        return _NOT_APPLICABLE
    t_xs = [torch.from_numpy(x.copy()) for x in p.xs]
    t_opt = torch.optim.SGD(t_params, lr=0.1)
    used: list[int] = []

    def t_closure() -> torch.Tensor:
        t_opt.zero_grad()
        outs = _outputs(t_model(*t_xs))
        used[:] = [i for i, o in enumerate(outs) if o.requires_grad]
        loss = sum((outs[i] * torch.from_numpy(p.cts[i])).sum() for i in used)
        if used:
            loss.backward()
        return loss

    t_loss = t_opt.step(t_closure)
    if not used:  # no output depends on a trainable parameter
        return _NOT_APPLICABLE
    j_opt = jnn.optim.SGD([q for q in j_model.parameters() if q.requires_grad], lr=0.1)
    cts = [jnp.asarray(p.cts[i]) for i in used]

    @jnn.compile
    def train_step(*xs: jax.Array) -> jax.Array:
        def closure() -> jax.Array:
            j_opt.zero_grad()
            outs = _outputs(j_model(*xs))
            return sum(jnp.sum(outs[i] * ct) for i, ct in zip(used, cts))
        return j_opt.step(closure)

    j_loss = train_step(*[jnp.asarray(x) for x in p.xs])
    n_out = sum(p.cts[i].size for i in used)
    assert_close(j_loss, t_loss, rtol=p.tol.rtol, atol=default_atol(n_out * p.tol.size),
                 what=f"{p.mode} step loss")
    for (name, t_param), (_, j_param) in zip(t_model.named_parameters(),
                                             j_model.named_parameters()):
        assert_close(j_param.data, t_param, rtol=p.tol.rtol, atol=p.tol.grad,
                     what=f"{p.mode} step: {name}")
    for (name, t_buf), (_, j_buf) in zip(t_model.named_buffers(), j_model.named_buffers()):
        assert_close(j_buf, t_buf, rtol=p.tol.rtol, atol=p.tol.out,
                     what=f"{p.mode} step: buffer {name}")
    return None


# bfloat16 keeps 8 significant bits: one rounding is up to 2**-9 relative, and torch and
# XLA round at different places (torch's CPU kernels upcast inside an op, XLA may fuse
# several ops), so outputs agree to a few roundings: rtol 2**-6 (4 ulps of 2**-8), and
# an absolute 2**-8 per sqrt(terms summed).  float64 is compared tightly (1e-10, 1e-13
# per sqrt(terms)): far above float64 rounding, far below float32's 1e-7, so a float32
# constant or cast inside jnn fails it.  Gradients are compared in float64 only.
_VARIANTS = {"bfloat16": (torch.bfloat16, jnp.bfloat16, 2.0**-6, 2.0**-8),
             "float64": (torch.float64, jnp.float64, 1e-10, 1e-13)}


def _check_variant(check: str, t_pre: torch.nn.Module, j_pre: jnn.nn.Module, p: _Pass,
                   grad: bool) -> Any:
    """The row in ``check``'s dtype (floating inputs and state cast) against torch's.

    With ``grad`` (float64 only) the gradients are compared too.
    """
    t_dtype, j_dtype, rtol, unit = _VARIANTS[check]
    has_float = any(_is_float(x) for x in p.xs) or any(
        v.is_floating_point() for v in t_pre.state_dict().values())
    if not has_float:
        return _NOT_APPLICABLE
    take_grad = grad and check == "float64" and p.t_grads is not None
    t_model = copy.deepcopy(t_pre).to(t_dtype)
    t_xs = [torch.from_numpy(x.copy()) for x in p.xs]
    t_xs = [x.to(t_dtype).requires_grad_(take_grad and i in p.diff) if x.is_floating_point()
            else x for i, x in enumerate(t_xs)]
    try:
        t_outs = _outputs(t_model(*t_xs))
    except (RuntimeError, NotImplementedError, TypeError):  # no such kernel in torch
        return _NOT_APPLICABLE
    # integer state keeps the width jnn built it with (int32 without x64): values only
    def value(t: torch.Tensor) -> Any:
        return t.detach() if t.is_floating_point() else t.detach().numpy()

    ref = dataclasses.replace(p, t_outs=[value(o) for o in t_outs], t_grads=None,
                              t_buffers={n: value(b) for n, b in t_model.named_buffers()})
    if take_grad:
        out_idx, t_grads = _torch_grads(t_model, t_xs, p.diff, t_outs, p.cts)
        ref = dataclasses.replace(ref, out_idx=out_idx, t_grads=t_grads)
    with jax.enable_x64(check == "float64"):
        j_model = copy.deepcopy(j_pre).to(j_dtype)
        xs = [jnp.asarray(x, j_dtype if _is_float(x) else None) for x in p.xs]
        result = _program(j_model, xs, ref.used_cts(j_dtype), p.diff, ref.out_idx, take_grad)
        _compare_result(result, p, f"{p.mode} {check}", eager=False, rtol=rtol,
                        atol=unit * math.sqrt(p.tol.size),
                        grad_atol=unit * math.sqrt(p.tol.grad_size), ref=ref)
    return None


def check_modules(
    torch_module: torch.nn.Module,
    jnn_module: jnn.nn.Module,
    inputs: Sequence[InputSpec] = ((4, 3),),
    *,
    modes: Sequence[str] = ("train", "eval"),
    grad: bool = True,
    grad_inputs: Sequence[int] | None = None,
    reduction_size: int | None = None,
    atol: float | None = None,
    rtol: float = 1e-5,
    check_repr: bool = True,
    check_warnings: bool = True,
    load: bool = True,
    seed: int = 0,
    skip_checks: Mapping[str, str] | None = None,
    xfail_checks: Mapping[str, str] | None = None,
) -> tuple[list, list]:
    """Compare two built modules in every check; returns the last mode's (torch, jnn) outputs.

    Args:
        inputs: input specs (see the module docstring), one per forward argument.
        modes: the modes to run forward in, in order; gradients are taken in the first.
            Leave out ``"train"`` for a layer whose training forward is random.
        grad: compare gradients (inputs and parameters); off also turns off the
            training-step check.
        grad_inputs: indices of the inputs to differentiate (default: every float input).
        reduction_size, atol, rtol: tolerances (see the module docstring).
        check_repr: compare ``repr`` text exactly.
        check_warnings: every warning torch emits in forward, jnn emits too.
        load: copy torch's state_dict into jnn first (off: compare as constructed).
        skip_checks: ``{check: reason}``, checks of :data:`CHECKS` the row cannot run.
        xfail_checks: ``{check: reason}``, checks that must fail (known jnn deviations).
    """
    if _in_hypothesis_example():  # many examples per test: the cheap checks only
        skip_checks = {**{c: _HYPOTHESIS for c in _COSTLY if c not in (xfail_checks or {})},
                       **(skip_checks or {})}
    checks = _Checks(skip_checks, xfail_checks)
    check_structure(torch_module, jnn_module, check_repr)
    if load:
        load_from_torch(torch_module, jnn_module)
    xs = make_inputs(inputs, seed)
    size = reduction_size or _reduction_size(torch_module, xs)
    grad_size = max([size] + [x.size for x in xs])
    tol = _Tolerance(rtol, default_atol(size) if atol is None else atol,
                     default_atol(grad_size) if atol is None else atol, size, grad_size)
    if grad_inputs is None:
        diff = tuple(i for i, x in enumerate(xs) if _is_float(x))
    else:
        diff = tuple(grad_inputs)
    copies = any(checks.wanted(c) for c in CHECKS)
    t_outs: list = []
    j_outs: list = []
    for k, mode in enumerate(modes):
        torch_module.train(mode == "train")
        jnn_module.train(mode == "train")
        assert [m.training for m in jnn_module.modules()] == [
            m.training for m in torch_module.modules()], f"{mode}: training flags"
        take_grad = grad and k == 0
        t_pre = copy.deepcopy(torch_module) if copies and k == 0 else None
        p, t_records = _torch_pass(torch_module, xs, diff, mode, take_grad, tol, seed)
        if copies:  # the state before jnn's forward, for the checks beyond eager
            before = _state_arrays(jnn_module)
            j_copies = {"deepcopy": copy.deepcopy(jnn_module),
                        "pickle": pickle.loads(pickle.dumps(jnn_module))}
            same, other = j_copies.values()
            if _committed(same) != _committed(jnn_module):
                same, other = other, same
            jitted = checks.run("jit", mode, _run_jit, jnn_module, p, before)
        _eager_pass(jnn_module, p, t_records, check_warnings)
        t_outs, j_outs = p.t_outs, p.j_outs
        if not copies:
            if p.t_grads is not None:  # gradients are always checked, eagerly if need be
                _compare_result(_forward_and_grads(*_program_args(jnn_module, p)), p,
                                f"{mode} eager", eager=False)
            continue
        if jitted is not None:
            jitted = checks.run("jit", mode, _check_jit, jitted, p)
        if jitted is None and p.t_grads is not None:  # gradients are always checked
            _compare_result(_forward_and_grads(*_program_args(same, p)), p,
                            f"{mode} eager", eager=False)
        checks.run("copy", mode, _check_copies, jnn_module, j_copies, same, p, before, jitted)
        if k == 0:  # the first mode (train where the row has it: buffers are written)
            for variant in _VARIANTS:  # float64 gradients: on the rows that run the step
                checks.run(variant, mode, _check_variant, variant, t_pre, same, p,
                           "step" not in checks.skip)
            checks.run("compile", mode, _check_compile, other, p)
        if take_grad:
            checks.run("step", mode, _check_step, t_pre, same, p)
    checks.finish()
    return t_outs, j_outs


def _build(name: str, args: Sequence, kwargs: dict, jnn_args: Sequence | None,
           jnn_kwargs: dict | None, seed: int) -> tuple[Any, Any, list, list]:
    torch.manual_seed(seed)
    with _Recorder() as t_records:
        torch_module = getattr(torch.nn, name)(*to_torch(tuple(args)), **to_torch(kwargs))
    j_args = args if jnn_args is None else jnn_args
    j_kwargs = kwargs if jnn_kwargs is None else jnn_kwargs
    with _Recorder() as j_records:
        jnn_module = getattr(jnn.nn, name)(*to_jnn(tuple(j_args)), **to_jnn(j_kwargs))
    return torch_module, jnn_module, t_records, j_records


def check_layer(name: str, args: Sequence = (), kwargs: dict | None = None,
                inputs: Sequence[InputSpec] = ((4, 3),), *, jnn_args: Sequence | None = None,
                jnn_kwargs: dict | None = None, check_warnings: bool = True, seed: int = 0,
                **options: Any) -> tuple[torch.nn.Module, jnn.nn.Module]:
    """Build ``torch.nn.<name>`` and ``jnn.nn.<name>`` from the same arguments and compare.

    Args:
        name: the class name, the same in both libraries.
        args, kwargs: constructor arguments; numpy arrays become tensors / jax arrays.
        inputs: forward input specs (shape tuples, or :func:`normal` & co.).
        jnn_args, jnn_kwargs: jnn's arguments where they must differ from torch's.
        check_warnings: jnn emits every warning torch emits (construction and forward).
        seed: seeds torch's construction and the inputs.
        options: passed to :func:`check_modules` (``modes``, ``grad``, ``grad_inputs``,
            ``reduction_size``, ``atol``, ``rtol``, ``check_repr``, ``load``,
            ``skip_checks``, ``xfail_checks``).

    Returns the two modules, for further checks.
    """
    torch_module, jnn_module, t_records, j_records = _build(
        name, args, kwargs or {}, jnn_args, jnn_kwargs, seed)
    if check_warnings:
        _assert_same_warnings(t_records, j_records, f"{name}(...) construction")
    check_modules(torch_module, jnn_module, inputs, check_warnings=check_warnings, seed=seed,
                  **options)
    return torch_module, jnn_module


def check_error(name: str, args: Sequence = (), kwargs: dict | None = None,
                exc_type: type[BaseException] = Exception, match: str | None = None, *,
                inputs: Sequence[InputSpec] | None = None, jnn_args: Sequence | None = None,
                jnn_kwargs: dict | None = None, seed: int = 0) -> None:
    """torch and jnn both raise ``exc_type`` with a message matching ``match``.

    Without ``inputs`` the constructor must raise; with them, construction must succeed
    and forward must raise.  Where torch raises a builtin exception, jnn must raise exactly
    that type (not a subclass), so ``except ValueError`` code behaves the same.
    """
    kwargs = kwargs or {}
    j_args = args if jnn_args is None else jnn_args
    j_kwargs = kwargs if jnn_kwargs is None else jnn_kwargs

    def run(lib: Any, convert: Callable, a: Sequence, kw: dict) -> Callable[[], Any]:
        def call() -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if inputs is None:
                    return getattr(lib, name)(*convert(tuple(a)), **convert(kw))
                module = getattr(lib, name)(*convert(tuple(a)), **convert(kw))
                xs = make_inputs(inputs, seed)
                return module(*[convert(x) for x in xs])
        return call

    with pytest.raises(exc_type, match=match) as t_info:
        torch.manual_seed(seed)
        run(torch.nn, to_torch, args, kwargs)()
    with pytest.raises(exc_type, match=match) as j_info:
        run(jnn.nn, to_jnn, j_args, j_kwargs)()
    t_type, j_type = type(t_info.value), type(j_info.value)
    if t_type.__module__ == "builtins":
        assert j_type is t_type, f"jnn raised {j_type.__name__}, torch {t_type.__name__}"


# -- plain functions (jnn.nn.functional) ---------------------------------------------


def check_function(jfn, tfn, inputs, grad_argnums=(0,), n_reduce=1, seed=0):
    """Compare ``jfn`` and ``tfn`` on the same numpy inputs: outputs, then input gradients.

    Gradients are vector-Jacobian products with one random cotangent, so every entry of
    the Jacobian takes part. ``n_reduce`` is the largest number of terms summed into one
    output; float32 rounding grows like its square root, hence atol = 1e-6 * sqrt(n).
    Integer inputs go to torch as int64, to JAX as int32.
    """
    t_inputs = [
        torch.from_numpy(np.asarray(a, np.int64 if a.dtype.kind in "iu" else a.dtype))
        for a in inputs
    ]
    for i in grad_argnums:
        t_inputs[i].requires_grad_(True)
    j_inputs = [jnp.asarray(a) for a in inputs]

    def partial_fn(*diff):
        args = list(j_inputs)
        for i, d in zip(grad_argnums, diff):
            args[i] = d
        return jfn(*args)

    t_out = tfn(*t_inputs)
    cot = np.asarray(np.random.default_rng(seed).standard_normal(t_out.shape), np.float32)
    t_grads = torch.autograd.grad(t_out, [t_inputs[i] for i in grad_argnums], torch.from_numpy(cot))

    # One jit of forward + VJP: on a small CPU, compiling one program is several times
    # cheaper than compiling each eager op (measured), and it doubles as a jit check.
    @jax.jit
    def value_and_vjp(diff, cot):
        out, vjp = jax.vjp(partial_fn, *diff)
        return out, vjp(cot)

    j_out, j_grads = value_and_vjp([j_inputs[i] for i in grad_argnums], jnp.asarray(cot))
    atol = 1e-6 * math.sqrt(n_reduce)
    np.testing.assert_allclose(j_out, t_out.detach().numpy(), rtol=1e-5, atol=atol)
    assert j_out.shape == tuple(t_out.shape)
    for j_grad, t_grad in zip(j_grads, t_grads):
        np.testing.assert_allclose(j_grad, t_grad.numpy(), rtol=1e-5, atol=atol)
