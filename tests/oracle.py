"""The torch oracle: check a jnn module against its ``torch.nn`` twin in a few lines.

:func:`check_layer` builds ``torch.nn.<name>(*args, **kwargs)`` and ``jnn.nn.<name>(...)``
and hands them to :func:`check_modules`, which compares

* structure: ``state_dict`` keys, order, shapes and dtypes; ``named_parameters`` and
  ``named_buffers`` names; ``repr`` text;
* after copying torch's ``state_dict`` into jnn: outputs, in every requested mode
  (``"train"``, ``"eval"``), and the buffers after each forward;
* gradients of ``sum(out * ct)`` for a fixed random cotangent ``ct``: torch autograd
  against ``jax.grad`` over the jnn module as a pytree (grads come back module-shaped,
  read by their torch names), for the inputs and every parameter;
* warnings: each warning torch emits (construction and forward) is emitted by jnn too.

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
so theirs uses the larger of ``n`` and the largest input size.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn.nn

__all__ = [
    "check_layer", "check_modules", "check_error", "make_inputs", "normal", "uniform",
    "integers", "probs", "log_probs", "const", "to_torch", "to_jnn", "assert_close",
    "default_atol",
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
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _jax_dtype(torch_dtype: torch.dtype) -> np.dtype:
    """The dtype jnn is expected to produce for torch's (int64 is int32 without x64)."""
    return jax.dtypes.canonicalize_dtype(torch.empty((), dtype=torch_dtype).numpy().dtype)


def assert_close(actual: Any, expected: Any, *, rtol: float, atol: float, what: str) -> None:
    """Same shape, the dtype jnn should give for torch's, values within tolerance."""
    exp = _np(expected)
    act = _np(actual)
    assert act.shape == exp.shape, f"{what}: shape {act.shape} != torch's {exp.shape}"
    if isinstance(expected, torch.Tensor):
        want = _jax_dtype(expected.dtype)
        assert act.dtype == want, f"{what}: dtype {act.dtype} != {want} (torch {exp.dtype})"
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


def _jnn_grads(module: jnn.nn.Module, xs: list, diff: list[int], cts: list,
               ) -> tuple[dict[str, Any], list]:
    """Gradients of ``sum(out * ct)``: (by parameter name, by differentiable input).

    The module goes to ``jax.grad`` as a pytree, as a user would pass it.  When it holds
    integer leaves (a step counter, say) ``jax.grad`` cannot take the whole module, so
    only its floating leaves are differentiated and the module is rebuilt around them.
    """
    def objective(m: jnn.nn.Module, dxs: list) -> jax.Array:
        args = list(xs)
        for i, x in zip(diff, dxs):
            args[i] = x
        outs = _outputs(m(*args))
        return sum(jnp.sum(o * ct) for o, ct in zip(outs, cts))

    dxs = [xs[i] for i in diff]
    leaves, treedef = jax.tree_util.tree_flatten_with_path(module)
    if all(jnp.issubdtype(leaf.dtype, jnp.inexact) for _, leaf in leaves):
        g_module, g_inputs = jax.grad(objective, argnums=(0, 1))(module, dxs)
        return {n: p.data for n, p in g_module.named_parameters()}, g_inputs
    names = [jax.tree_util.keystr(path, simple=True, separator=".") for path, _ in leaves]
    values = [leaf for _, leaf in leaves]
    floats = [i for i, v in enumerate(values) if jnp.issubdtype(v.dtype, jnp.inexact)]

    def partial(float_leaves: list, dxs: list) -> jax.Array:
        new = list(values)
        for i, leaf in zip(floats, float_leaves):
            new[i] = leaf
        return objective(jax.tree_util.tree_unflatten(treedef, new), dxs)

    g_leaves, g_inputs = jax.grad(partial, argnums=(0, 1))([values[i] for i in floats], dxs)
    return {names[i]: g for i, g in zip(floats, g_leaves)}, g_inputs


def _check_grads(torch_module: torch.nn.Module, jnn_module: jnn.nn.Module, t_xs: list,
                 j_xs: list, diff: list[int], t_outs: list, seed: int, rtol: float,
                 atol: float) -> None:
    rng = np.random.default_rng(seed + 1)
    cts = [rng.standard_normal(tuple(o.shape)).astype(np.float32) for o in t_outs]
    params = [(n, p) for n, p in torch_module.named_parameters() if p.requires_grad]
    wrt = [t_xs[i] for i in diff] + [p for _, p in params]
    if not wrt:  # nothing to differentiate (integer inputs, no parameters)
        return
    t_grads = torch.autograd.grad(t_outs, wrt, [torch.from_numpy(c) for c in cts],
                                  allow_unused=True)
    j_by_name, j_inputs = _jnn_grads(jnn_module, j_xs, diff, [jnp.asarray(c) for c in cts])
    for k, i in enumerate(diff):
        expected = t_grads[k] if t_grads[k] is not None else torch.zeros_like(t_xs[i])
        assert_close(j_inputs[k], expected, rtol=rtol, atol=atol, what=f"grad of input {i}")
    for (name, p), expected in zip(params, t_grads[len(diff):]):
        expected = torch.zeros_like(p) if expected is None else expected
        assert name in j_by_name, f"no jnn gradient for parameter {name!r}"
        assert_close(j_by_name[name], expected, rtol=rtol, atol=atol, what=f"grad of {name}")


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
) -> tuple[list, list]:
    """Compare two built modules; returns the last mode's (torch, jnn) outputs.

    Args:
        inputs: input specs (see the module docstring), one per forward argument.
        modes: the modes to run forward in, in order; gradients are taken in the first.
            Leave out ``"train"`` for a layer whose training forward is random.
        grad: compare gradients (inputs and parameters).
        grad_inputs: indices of the inputs to differentiate (default: every float input).
        reduction_size, atol, rtol: tolerances (see the module docstring).
        check_repr: compare ``repr`` text exactly.
        check_warnings: every warning torch emits in forward, jnn emits too.
        load: copy torch's state_dict into jnn first (off: compare as constructed).
    """
    check_structure(torch_module, jnn_module, check_repr)
    if load:
        load_from_torch(torch_module, jnn_module)
    xs = make_inputs(inputs, seed)
    size = reduction_size or _reduction_size(torch_module, xs)
    out_atol = default_atol(size) if atol is None else atol
    grad_atol = default_atol(max([size] + [x.size for x in xs])) if atol is None else atol
    if grad_inputs is None:
        diff = [i for i, x in enumerate(xs) if _is_float(x)]
    else:
        diff = list(grad_inputs)
    t_outs: list = []
    j_outs: list = []
    for k, mode in enumerate(modes):
        torch_module.train(mode == "train")
        jnn_module.train(mode == "train")
        assert [m.training for m in jnn_module.modules()] == [
            m.training for m in torch_module.modules()], f"{mode}: training flags"
        take_grad = grad and k == 0
        t_xs = [torch.from_numpy(x.copy()).requires_grad_(take_grad and i in diff)
                for i, x in enumerate(xs)]
        j_xs = [jnp.asarray(x) for x in xs]
        with _Recorder() as t_records:
            t_outs = _outputs(torch_module(*t_xs))
        with _Recorder() as j_records:
            j_outs = _outputs(jnn_module(*j_xs))
        if check_warnings:
            _assert_same_warnings(t_records, j_records, f"{mode} forward")
        assert len(j_outs) == len(t_outs), f"{mode}: {len(j_outs)} outputs, torch {len(t_outs)}"
        for i, (j_out, t_out) in enumerate(zip(j_outs, t_outs)):
            assert_close(j_out, t_out, rtol=rtol, atol=out_atol, what=f"{mode} output {i}")
        for (name, t_buf), (_, j_buf) in zip(torch_module.named_buffers(),
                                             jnn_module.named_buffers()):
            assert_close(j_buf, t_buf, rtol=rtol, atol=out_atol, what=f"{mode} buffer {name}")
        if take_grad:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _check_grads(torch_module, jnn_module, t_xs, j_xs, diff, t_outs, seed, rtol,
                             grad_atol)
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
            ``reduction_size``, ``atol``, ``rtol``, ``check_repr``, ``load``).

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
