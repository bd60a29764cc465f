r"""Gradient clipping, like ``torch.nn.utils.clip_grad``.

"In place" means what it means everywhere in jnn: each Parameter's ``.grad`` is *replaced*
by the clipped array (JAX arrays are immutable), exactly where torch would have mutated the
gradient tensor.

The functions are pure ``jax.numpy`` with no host synchronisation, so they work eagerly and
inside ``jnn.compile`` (where ``.grad`` holds tracers and the clipped gradients are threaded
out of the program like any other ``.grad`` write).  The one exception is
``error_if_nonfinite=True``: raising needs the norm's *value*, which only exists eagerly, or
after the call of ``jnn.compile(fn, checks=True)`` (a checked value, as class targets are);
inside another compiled function it raises an error that says so (see :func:`get_total_norm`).

PyTorch: ``torch.nn.utils.clip_grad_norm_``, ``clip_grad_value_``, ``get_total_norm``,
``clip_grads_with_norm_`` and the deprecated ``clip_grad_norm``. ``foreach`` is accepted and
ignored: every jnn array takes the same (vectorised, fused under jit) path.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn.nn.functional._utils import torch_dtype_name
from jnn.nn.parameter import Parameter

__all__ = [
    "clip_grad_norm_",
    "clip_grad_norm",
    "clip_grad_value_",
    "get_total_norm",
    "clip_grads_with_norm_",
]

# A Parameter or an iterable of them (torch: a Tensor or an iterable of Tensors).
_tensor_or_tensors = Parameter | Iterable[Parameter]
# What get_total_norm accepts: arrays (the gradients themselves) or Parameters.
_arrays_or_parameters = jax.Array | Parameter | Iterable[jax.Array | Parameter]


def _as_list(parameters: Any) -> list[Any]:
    """torch's rule: one tensor becomes a list of one, anything else is iterated once."""
    if isinstance(parameters, (Parameter, jax.Array)):
        return [parameters]
    return list(parameters)


def _grads(parameters: list[Any], fn_name: str) -> list[jax.Array]:
    out = []
    for p in parameters:
        if isinstance(p, (jax.Array, np.ndarray)):  # never has a .grad: p.data passed?
            raise TypeError(
                f"{fn_name} expects Parameters (objects with a .grad), but one of the "
                f"parameters is a {type(p).__name__}")
        if not hasattr(p, "grad"):  # torch reads p.grad
            raise AttributeError(f"'{type(p).__name__}' object has no attribute 'grad'")
        if p.grad is not None:
            out.append(p.grad)
    return out


def _as_number(value: Any) -> float | jax.Array:
    """torch's ``float(max_norm)`` / ``float(clip_value)``: an array of one element is a
    number, any other size raises torch's error. A jax array stays one (0-d), since inside
    ``jnn.compile`` it may be a tracer, which has no float."""
    if isinstance(value, (jax.Array, np.ndarray, np.generic)):
        if value.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        if jnp.issubdtype(value.dtype, jnp.complexfloating):
            # torch's float() of a complex tensor: its real part, if the imaginary is 0
            if not isinstance(value, jax.core.Tracer) and np.imag(np.asarray(value)).any():
                raise RuntimeError("value cannot be converted to type double without overflow")
            value = value.real
        if isinstance(value, jax.Array):
            return value.reshape(())
        return float(np.asarray(value).reshape(()))
    return float(value)


def _vector_norm(x: jax.Array, norm_type: float) -> jax.Array:
    """``torch.linalg.vector_norm(x, norm_type)``: low-precision inputs accumulate in float32
    (torch's opmath type) and the result has the input's dtype, as in torch."""
    dtype = x.dtype
    if jnp.issubdtype(dtype, jnp.floating) and jnp.finfo(dtype).bits < 32:
        x = x.astype(jnp.float32)
    return jnp.linalg.vector_norm(x.ravel(), ord=norm_type).astype(dtype)


def get_total_norm(
    tensors: _arrays_or_parameters,
    norm_type: float | str = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> jax.Array:
    r"""The ``norm_type``-norm of ``tensors`` viewed as one concatenated vector.

    Computed as torch does: the norm of each array, then the norm of the vector of those norms.

    Args:
        tensors: an array or Parameter, or an iterable of them (usually the gradients).
        norm_type: the order ``p`` of the norm; ``inf`` (or ``'inf'``) for the max-norm.
            Default 2.0.
        error_if_nonfinite: raise if the total norm is ``nan``, ``inf`` or ``-inf``. This reads
            the norm's value on the host, so it only works eagerly: inside ``jnn.compile``,
            ``jax.jit`` or ``jax.vmap`` it raises a ``RuntimeError`` explaining the
            alternatives. Default ``False``.
        foreach: accepted for torch compatibility and ignored.

    Returns:
        The total norm, a scalar ``jax.Array`` (float32 ``0.0`` for an empty input).

    PyTorch: ``torch.nn.utils.get_total_norm``.

    Example:
        >>> import jax.numpy as jnp
        >>> float(get_total_norm([jnp.full(4, 1.0), jnp.full(8, 2.0)]))
        6.0
    """
    del foreach
    arrays = [t.data if isinstance(t, Parameter) else t for t in _as_list(tensors)]
    norm_type = float(norm_type)
    if len(arrays) == 0:
        return jnp.asarray(0.0, jnp.float32)  # torch.tensor(0.0)
    missing = [i for i, a in enumerate(arrays) if a is None]
    if missing:  # torch reads tensors[0].device, then groups the tensors
        if missing[0] == 0:
            raise AttributeError("'NoneType' object has no attribute 'device'")
        raise RuntimeError("Tensors of the first list of nested Tensor lists are supposed to "
                           f"be defined but the {missing[0]}-th Tensor is not.")
    for a in arrays:
        _check_inexact(jnp.asarray(a).dtype)
    norms = [_vector_norm(jnp.asarray(a), norm_type) for a in arrays]
    total_norm = jnp.linalg.vector_norm(jnp.stack(norms), ord=norm_type)
    if error_if_nonfinite:
        _check_finite(total_norm, norm_type)
    return total_norm


def _check_inexact(dtype: Any) -> None:
    """torch's ``linalg.vector_norm`` refuses integer and bool gradients (jnp's takes them)."""
    if not jnp.issubdtype(dtype, jnp.inexact):
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor "
                           f"as input. Got {torch_dtype_name(dtype)}")


def _check_finite(total_norm: jax.Array, norm_type: float) -> None:
    message = (f"The total norm of order {norm_type} for gradients from "
               "`parameters` is non-finite, so it cannot be clipped. To disable "
               "this error and scale the gradients by the non-finite norm anyway, "
               "set `error_if_nonfinite=False`")
    if isinstance(total_norm, jax.core.Tracer):
        from jnn.nn.functional._loss_common import traced_check, traced_checks

        if traced_checks():  # jnn.compile(fn, checks=True): raised after the call
            traced_check(jnp.all(jnp.isfinite(total_norm)), "RuntimeError: " + message)
            return
        # A tracer has no value: raising from inside an XLA program is not possible, and
        # silently skipping the check would drop a guarantee the caller asked for.
        raise RuntimeError(
            "clip_grad_norm_(..., error_if_nonfinite=True) needs the total norm's value on "
            "the host, but it was called inside a compiled or transformed function "
            "(jnn.compile, jax.jit, jax.vmap, ...) where the norm is a tracer. Use "
            "error_if_nonfinite=False inside the compiled step and check the returned norm "
            "afterwards (`if not jnp.isfinite(norm): ...`), compile it with "
            "jnn.compile(fn, checks=True), or clip eagerly."
        )
    if not bool(jnp.isfinite(total_norm)):
        raise RuntimeError(message)


def clip_grads_with_norm_(
    parameters: _tensor_or_tensors,
    max_norm: float | jax.Array,
    total_norm: float | jax.Array,
    foreach: bool | None = None,
) -> None:
    r"""Scale the gradients of ``parameters`` given a precomputed total norm.

    Every gradient becomes

    .. math::
        g \leftarrow g \cdot \min\left(\frac{\text{max\_norm}}{\text{total\_norm} + 10^{-6}},
        1\right)

    (the coefficient is applied even when it is 1, which avoids a data-dependent branch, as
    in torch). Parameters whose ``.grad`` is ``None`` are skipped.

    Args:
        parameters: a Parameter or an iterable of Parameters.
        max_norm: the largest allowed norm: a number or an array of one element (which may
            be traced inside a compiled step).
        total_norm: the norm to scale by, a 0-d array, e.g. from :func:`get_total_norm`
            (torch refuses a Python number here, and so does jnn).
        foreach: accepted for torch compatibility and ignored.

    PyTorch: ``torch.nn.utils.clip_grads_with_norm_``.
    """
    del foreach
    params = _as_list(parameters)
    max_norm = _as_number(max_norm)
    if not _grads(params, "clip_grads_with_norm_"):
        return
    clip_coef_clamped = _clip_coef(max_norm, total_norm)
    # torch multiplies in the opmath type and stores in the gradient's dtype.
    new_grads = [None if p.grad is None else (p.grad * clip_coef_clamped).astype(p.grad.dtype)
                 for p in params]
    _write_grads(params, new_grads)


def _clip_coef(max_norm: float | jax.Array, total_norm: Any) -> jax.Array:
    """``clamp(max_norm / (total_norm + 1e-6), max=1.0)``, refusing what torch refuses."""
    if isinstance(total_norm, Parameter):
        total_norm = total_norm.data
    if not isinstance(total_norm, (jax.Array, np.ndarray, np.generic)):
        # Python's arithmetic first (None or a str raise its TypeError, as in torch), then
        # torch.clamp refuses the Python number that gives.
        clip_coef = 1.0 / (total_norm + 1e-6)
        raise TypeError(
            f"clamp() received an invalid combination of arguments - got "
            f"({type(clip_coef).__name__}, max=float), but expected one of:\n"
            " * (Tensor input, Tensor min = None, Tensor max = None, *, Tensor out = None)\n"
            " * (Tensor input, Number min = None, Number max = None, *, Tensor out = None)\n")
    total_norm = jnp.asarray(total_norm)
    if jnp.issubdtype(total_norm.dtype, jnp.complexfloating):
        raise NotImplementedError("clamp is not supported for complex types")
    if total_norm.ndim != 0:  # torch._foreach_mul_ (torch's default path) takes a 0-d factor
        raise RuntimeError(
            f"scalar tensor expected to be 0 dim but it has {total_norm.ndim} dimensions and "
            f"{total_norm.size} elements.")
    return jnp.minimum(max_norm / (total_norm + 1e-6), 1.0)


def _write_grads(params: list[Any], new_grads: list[jax.Array | None]) -> None:
    """Written only once every new gradient is computed: a failed call changes nothing."""
    for p, g in zip(params, new_grads):
        if g is not None:
            p.grad = g


def clip_grad_norm_(
    parameters: _tensor_or_tensors,
    max_norm: float | jax.Array,
    norm_type: float | str = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> jax.Array:
    r"""Clip the gradient norm of ``parameters``; the gradients are replaced in place.

    The norm is taken over all gradients together, as if they were concatenated into one
    vector (:func:`get_total_norm`), and every gradient is multiplied by
    ``min(max_norm / (total_norm + 1e-6), 1)`` (:func:`clip_grads_with_norm_`).

    Args:
        parameters: a Parameter or an iterable of Parameters (``model.parameters()``);
            those whose ``.grad`` is ``None`` are skipped.
        max_norm: the largest allowed norm.
        norm_type: the order of the norm; ``inf`` for the max-norm. Default 2.0.
        error_if_nonfinite: raise if the total norm is ``nan``/``inf`` (eager only: it
            reads the value; see :func:`get_total_norm`). Default ``False``.
        foreach: accepted for torch compatibility and ignored.

    Returns:
        The total norm of the gradients before clipping, a scalar ``jax.Array`` (float32
        ``0.0`` when no parameter has a gradient).

    Works eagerly and inside ``jnn.compile``, e.g. between
    ``jnn.autograd.backward(closure)`` and ``optimizer.step()``.

    PyTorch: ``torch.nn.utils.clip_grad_norm_``.

    Example:
        >>> import jax.numpy as jnp
        >>> from jnn.nn import Parameter
        >>> p = Parameter(jnp.zeros(2))
        >>> p.grad = jnp.array([3.0, 4.0])
        >>> float(clip_grad_norm_(p, max_norm=1.0)), [round(float(g), 3) for g in p.grad]
        (5.0, [0.6, 0.8])
    """
    if isinstance(parameters, (Parameter, jax.Array)):
        params = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        params = list(parameters)  # a generator is consumed once
        if is_generator and len(params) == 0:
            warnings.warn(
                "`parameters` is an empty generator, no gradient clipping will occur.",
                stacklevel=2,
            )
    grads = _grads(params, "clip_grad_norm_")
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(params, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(
    parameters: _tensor_or_tensors,
    max_norm: float | jax.Array,
    norm_type: float | str = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> jax.Array:
    """Deprecated alias of :func:`clip_grad_norm_` (warns as torch does).

    PyTorch: ``torch.nn.utils.clip_grad_norm``.
    """
    warnings.warn(
        "`torch.nn.utils.clip_grad_norm` is now deprecated "
        "in favor of `torch.nn.utils.clip_grad_norm_`.",
        FutureWarning,
        stacklevel=2,
    )
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(
    parameters: _tensor_or_tensors,
    clip_value: float | jax.Array,
    foreach: bool | None = None,
) -> None:
    r"""Clamp every gradient of ``parameters`` to ``[-clip_value, clip_value]``, in place.

    Args:
        parameters: a Parameter or an iterable of Parameters; those whose ``.grad`` is
            ``None`` are skipped.
        clip_value: the largest allowed absolute value of a gradient element: a number or an
            array of one element.
        foreach: accepted for torch compatibility and ignored.

    NaN gradients stay NaN, as with torch's ``clamp``; complex gradients raise its
    ``NotImplementedError``.

    PyTorch: ``torch.nn.utils.clip_grad_value_``.

    Example:
        >>> import jax.numpy as jnp
        >>> from jnn.nn import Parameter
        >>> p = Parameter(jnp.zeros(3))
        >>> p.grad = jnp.array([-2.0, 0.5, 3.0])
        >>> clip_grad_value_(p, 1.0)
        >>> p.grad.tolist()
        [-1.0, 0.5, 1.0]
    """
    del foreach
    params = _as_list(parameters)
    clip_value = _as_number(clip_value)
    grads = _grads(params, "clip_grad_value_")
    if any(jnp.issubdtype(g.dtype, jnp.complexfloating) for g in grads):
        raise NotImplementedError("clamp is not supported for complex types")
    # clamp_min_ then clamp_max_, as torch; the bounds take the gradient's dtype.
    new_grads = [None if p.grad is None
                 else jnp.minimum(jnp.maximum(p.grad, -clip_value), clip_value).astype(p.grad.dtype)
                 for p in params]
    _write_grads(params, new_grads)
