"""Stochastic gradient descent: the pure update rule behind ``jnn.optim.SGD``.

The rule works on one parameter group: ``params``, ``grads`` and every state field are lists of
arrays, one entry per parameter. Numeric hyper-parameters may be Python floats or traced JAX
scalars, so a learning-rate scheduler never forces a re-trace. What changes the *structure* of
torch's algorithm (``if momentum != 0``, ``if weight_decay != 0``, ``nesterov``, ``maximize``) is
static: Python bools, inferred from Python-number hyper-parameters or passed explicitly.

This module also holds the small helpers the other rules share (``adam.py`` imports them).
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn.optim.optimizer import (
    _ALPHA,
    _AMBIGUOUS,
    _COMPLEX_ALPHA,
    Optimizer,
    _alpha_probe,
    _complex_error,
    _nonzero,
    _number_argument,
    _tensor_probe,
    check_fused,
    check_tensor_lr,
    multi_tensor,
)

if TYPE_CHECKING:  # optax is imported lazily: it adds ~0.4 s to `import jnn`
    import optax

__all__ = ["SGD", "SGDState", "SGDTransformState", "sgd_init", "sgd_update", "sgd_transform"]

# A hyper-parameter: a Python number (constant-folded) or a JAX scalar (possibly traced).
Scalar = float | jax.Array
# A learning rate for the optax factories: a constant, or an optax schedule ``count -> lr``.
ScalarOrSchedule = float | jax.Array | Callable[[jax.Array], Any]


class SGDState(NamedTuple):
    """State of :func:`sgd_update` for one parameter group.

    Attributes:
        momentum_buffer: one array per parameter, shaped like it (torch's ``momentum_buffer``).
            :func:`sgd_init` fills it with zeros; it is only read when momentum is used, and may
            be ``None`` when it never will be (torch then stores no buffer).
    """

    momentum_buffer: list[jax.Array] | None


# --------------------------------------------------------------------------- shared helpers


def _is_python_number(value: Any) -> bool:
    """True for a Python/NumPy real number: its value is known at trace time."""
    return isinstance(value, numbers.Real)


def _structural(flag: bool | None, value: Any, name: str, flag_name: str) -> bool:
    """Decide a static ``value != 0`` switch of torch's algorithm.

    torch branches on some hyper-parameters being zero (``if weight_decay != 0``). Under ``jit``
    such a branch must be static, so it is read from ``flag`` when given, else from ``value`` when
    that is a Python number; a JAX array's value is never inspected.
    """
    if flag is not None:
        return bool(flag)
    if _is_python_number(value):
        return value != 0
    raise TypeError(
        f"{name} was given as a JAX array ({type(value).__name__}), so whether it is zero - "
        f"which decides the shape of torch's algorithm - cannot be known while tracing. Pass "
        f"{flag_name}=True (or False) alongside it, e.g. "
        f"`..._update(..., {name}=jnp.float32(0.9), {flag_name}=True)`, or pass {name} as a "
        f"Python float."
    )


def _select(pred: Any, on_true: jax.Array, on_false: jax.Array) -> jax.Array:
    """``jnp.where`` over a scalar predicate, resolved in Python when the predicate is static."""
    if isinstance(pred, (bool, np.bool_)):
        return on_true if pred else on_false
    return jnp.where(pred, on_true, on_false)


def _lerp(start: jax.Array, end: jax.Array, weight: Scalar,
          small: bool | None = None) -> jax.Array:
    """``torch.lerp(start, end, weight)`` with ATen's two formulas for accuracy near each end.

    ``small``: ATen's ``|weight| < 0.5`` (in float32) when the caller knows it statically
    (a traced weight from a Python option): one formula, no select per element.
    """
    if small is None:
        small = abs(weight) < 0.5
    diff = end - start
    if isinstance(small, (bool, np.bool_)):
        return start + weight * diff if small else end - diff * (1 - weight)
    # Traced weight: pick the base and the coefficient as scalars, so each element costs
    # one multiply-add and one select rather than both formulas. Bit-identical to ATen:
    # ``end - d * (1 - w)`` == ``end + d * -(1 - w)`` in IEEE arithmetic.
    base = jnp.where(small, start, end)
    coefficient = jnp.where(small, weight, -(1 - weight))
    return base + diff * coefficient


def _as_list_transform(
    init_list: Callable[[list[jax.Array]], Any],
    update_list: Callable[[list[jax.Array], list[jax.Array], Any], tuple[list[jax.Array], Any]],
    needs_params: bool,
    name: str,
) -> optax.GradientTransformation:
    """Wrap a list-based rule as an ``optax.GradientTransformation`` over any pytree.

    The rule returns new parameters; optax wants updates, so the transform returns
    ``new_params - params``. When the rule does not read the parameters (no weight decay) and
    optax gives none, zeros stand in for them, which makes the returned update exact.
    """

    def init_fn(params: Any) -> Any:
        return init_list(jax.tree.leaves(params))

    def update_fn(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        grads, treedef = jax.tree.flatten(updates)
        if params is None:
            if needs_params:
                raise ValueError(
                    f"{name} uses weight decay, which reads the parameters: call "
                    f"`update(grads, state, params)` with params."
                )
            old = [jnp.zeros_like(g) for g in grads]
        else:
            old = treedef.flatten_up_to(params)
        new, new_state = update_list(old, grads, state)
        deltas = [n - o for n, o in zip(new, old)]
        return jax.tree.unflatten(treedef, deltas), new_state

    import optax

    return optax.GradientTransformation(init_fn, update_fn)


# --------------------------------------------------------------------------- the rule


def sgd_init(params: list[jax.Array]) -> SGDState:
    """Create the SGD state for one parameter group: zero momentum buffers.

    Args:
        params: the group's parameters, a list of arrays.

    Returns:
        ``SGDState(momentum_buffer=[zeros_like(p) for p in params])``.
    """
    return SGDState(momentum_buffer=[jnp.zeros_like(p) for p in params])


def _sgd_param(
    param: jax.Array,
    grad: jax.Array,
    buf: jax.Array | None,
    first: Any,
    *,
    lr: Scalar,
    momentum: Scalar,
    dampening: Scalar,
    weight_decay: Scalar,
    use_momentum: bool,
    use_weight_decay: bool,
    nesterov: bool,
    maximize: bool,
) -> tuple[jax.Array, jax.Array | None]:
    """One parameter's SGD step, in the order of torch's single-tensor CPU path."""
    dtype = param.dtype
    buf_dtype = None if buf is None else buf.dtype
    if maximize:
        grad = -grad
    if use_weight_decay:
        grad = grad + weight_decay * param
    if use_momentum:
        # torch creates the buffer as a copy of the gradient on its first step, and afterwards
        # decays it; selecting (not branching) lets one compiled function serve both steps.
        buf = _select(first, grad, buf * momentum + (1 - dampening) * grad)
        grad = grad + momentum * buf if nesterov else buf
    # A float32 array hyper-parameter would promote a bfloat16/float16 parameter; torch keeps
    # the parameter's and the buffer's own dtype (its in-place mul_/add_: a float32 buffer
    # stays float32 after model.half(), and the update is computed in float32 then rounded)
    new_buf = None if buf is None else buf.astype(buf_dtype)
    return (param + (-lr) * grad).astype(dtype), new_buf


def sgd_update(
    params: list[jax.Array],
    grads: list[jax.Array],
    state: SGDState,
    *,
    lr: Scalar,
    momentum: Scalar = 0.0,
    dampening: Scalar = 0.0,
    weight_decay: Scalar = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
    step: int | jax.Array | None = None,
    has_momentum: bool | None = None,
    has_weight_decay: bool | None = None,
) -> tuple[list[jax.Array], SGDState]:
    r"""Apply one step of SGD (optionally with momentum) to a parameter group.

    With :math:`g_t` the gradient, :math:`\gamma` = ``lr``, :math:`\mu` = ``momentum``,
    :math:`\tau` = ``dampening`` and :math:`\lambda` = ``weight_decay``:

    .. math::
        g_t &\leftarrow -g_t \quad\text{if maximize} \\
        g_t &\leftarrow g_t + \lambda\,\theta_{t-1} \quad\text{if } \lambda \ne 0 \\
        b_t &= g_t \ \text{(first step)}, \qquad b_t = \mu\, b_{t-1} + (1-\tau)\, g_t
            \ \text{(later)} \quad\text{if } \mu \ne 0 \\
        g_t &\leftarrow g_t + \mu\, b_t \ \text{if nesterov, else } b_t
            \quad\text{if } \mu \ne 0 \\
        \theta_t &= \theta_{t-1} - \gamma\, g_t

    Args:
        params: the group's parameters :math:`\theta_{t-1}`, a list of arrays.
        grads: their gradients, a list of arrays shaped like ``params``.
        state: the group's :class:`SGDState`.
        lr: learning rate :math:`\gamma` (float or traced scalar).
        momentum: momentum factor :math:`\mu` (float or traced scalar).
        dampening: dampening :math:`\tau` for momentum (float or traced scalar).
        weight_decay: L2 penalty :math:`\lambda` added to the gradient (float or traced scalar).
        nesterov: static; use Nesterov momentum.
        maximize: static; ascend the objective (negate the gradient).
        step: number of updates ``state`` has already received (0 for the state
            :func:`sgd_init` returns), as a Python int or a traced scalar. Decides torch's
            first-step buffer initialisation; required when momentum is used.
        has_momentum: static; torch's ``momentum != 0``. Inferred when ``momentum`` is a Python
            number; required when it is a JAX array.
        has_weight_decay: static; torch's ``weight_decay != 0``. Inferred when ``weight_decay``
            is a Python number; required when it is a JAX array.

    Returns:
        ``(new_params, new_state)``. ``new_state`` is ``state`` unchanged without momentum.

    PyTorch: the maths of ``torch.optim.SGD`` (single-tensor path), minus argument validation
    (the ``jnn.optim.SGD`` class checks hyper-parameters with torch's messages). Sparse
    gradients are not supported.

    Example:
        >>> import jax.numpy as jnp
        >>> params = [jnp.ones((2, 3))]
        >>> state = sgd_init(params)
        >>> new, state = sgd_update(params, [jnp.ones((2, 3))], state, lr=0.1, momentum=0.9,
        ...                         step=0)
        >>> new[0].shape
        (2, 3)
    """
    use_momentum = _structural(has_momentum, momentum, "momentum", "has_momentum")
    use_weight_decay = _structural(
        has_weight_decay, weight_decay, "weight_decay", "has_weight_decay"
    )
    if use_momentum and step is None:
        raise ValueError(
            "sgd_update with momentum needs step= (the number of updates the state has already "
            "received; 0 on the first call) to initialise the momentum buffer as torch does."
        )
    if use_momentum and state.momentum_buffer is None:
        raise ValueError(
            "sgd_update with momentum needs state.momentum_buffer: create the state with "
            "sgd_init(params)."
        )
    buffers = state.momentum_buffer if use_momentum else [None] * len(params)
    first = (step == 0) if use_momentum else False

    def update(p, g, b):
        return _sgd_param(
            p, g, b, first, lr=lr, momentum=momentum, dampening=dampening,
            weight_decay=weight_decay, use_momentum=use_momentum,
            use_weight_decay=use_weight_decay, nesterov=nesterov, maximize=maximize)

    out = multi_tensor(update, (params, grads, buffers), None)
    new_params = [p for p, _ in out]
    new_state = SGDState(momentum_buffer=[b for _, b in out]) if use_momentum else state
    return new_params, new_state


# --------------------------------------------------------------------------- optax factory


class SGDTransformState(NamedTuple):
    """State of :func:`sgd_transform`: the rule's state plus the update count it needs."""

    count: jax.Array
    sgd: SGDState


def sgd_transform(
    lr: ScalarOrSchedule = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """:func:`sgd_update` as an ``optax.GradientTransformation`` over any parameter pytree.

    Args:
        lr: learning rate, a constant or an optax schedule called with the update count.
        momentum, dampening, weight_decay, nesterov, maximize: as in :func:`sgd_update`
            (Python numbers here: they fix the algorithm's structure).

    Returns:
        A transformation whose updates, added to the parameters (``optax.apply_updates``),
        perform torch's SGD step (up to the rounding of ``new - old``).

    Example:
        >>> import jax.numpy as jnp
        >>> tx = sgd_transform(0.1, momentum=0.9)
        >>> params = {"w": jnp.ones(3)}
        >>> updates, state = tx.update({"w": jnp.ones(3)}, tx.init(params), params)
        >>> updates["w"].shape
        (3,)
    """
    use_momentum = _structural(None, momentum, "momentum", "has_momentum")
    use_weight_decay = _structural(None, weight_decay, "weight_decay", "has_weight_decay")

    def init_list(params: list[jax.Array]) -> SGDTransformState:
        return SGDTransformState(count=jnp.zeros((), jnp.int32), sgd=sgd_init(params))

    def update_list(
        params: list[jax.Array], grads: list[jax.Array], state: SGDTransformState
    ) -> tuple[list[jax.Array], SGDTransformState]:
        new_params, sgd_state = sgd_update(
            params,
            grads,
            state.sgd,
            lr=lr(state.count) if callable(lr) else lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            step=state.count,
            has_momentum=use_momentum,
            has_weight_decay=use_weight_decay,
        )
        return new_params, SGDTransformState(count=state.count + 1, sgd=sgd_state)

    return _as_list_transform(init_list, update_list, use_weight_decay, "sgd_transform")


# --------------------------------------------------------------------------- the class


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum.

    Args:
        params: Parameters or parameter-group dicts.
        lr: learning rate. Default 1e-3.
        momentum: momentum factor. Default 0.
        dampening: dampening for momentum. Default 0.
        weight_decay: L2 penalty. Default 0.
        nesterov: use Nesterov momentum. Default ``False``.
        maximize: maximize the objective. Default ``False``.
        foreach, differentiable, fused: accepted for torch compatibility (no effect:
            parameters of up to 16K elements are always updated together, one
            vector per dtype, as torch's ``foreach`` path does; larger ones alone).

    The update is :func:`sgd_update`. State: ``state[p]['momentum_buffer']`` once a step
    with momentum ran (none without momentum), as in torch.

    PyTorch: ``torch.optim.SGD``.
    """

    _option_probes = {"lr": operator.neg, "weight_decay": _alpha_probe,
                      "momentum": _tensor_probe("mul_"), "dampening": lambda v: 1 - v}

    # torch's step with a tensor of several elements: lr is param.add_'s alpha; momentum
    # and weight_decay are compared with 0 first
    _array_option_errors = {
        "lr": lambda: TypeError("add_(): argument 'alpha' must be Number, not Tensor"),
        "momentum": lambda: RuntimeError(_AMBIGUOUS),
        "weight_decay": lambda: RuntimeError(_AMBIGUOUS),
    }

    # torch's step with a 1-element array: weight decay and a Nesterov momentum are the
    # alpha of grad.add, lr that of param.add_ (a numpy array is no Number there).  (A
    # numpy momentum: torch's buf.mul_ refuses it from the second step, once a buffer
    # exists; jnn trains on with it.)
    _number_arguments = {
        "weight_decay": _number_argument(_ALPHA, 0, True,
                                         lambda g: _nonzero(g["weight_decay"])),
        "momentum": _number_argument(
            _ALPHA, None, True,
            lambda g: bool(g.get("nesterov")) and _nonzero(g["momentum"])),
        "lr": _number_argument("add_(): argument 'alpha' must be Number", 1, False),
    }

    # torch's step with a complex lr or weight_decay: the alpha of an add on real tensors
    _complex_probes = {"lr": lambda v: _complex_error(_COMPLEX_ALPHA),
                       "weight_decay": lambda v: _complex_error(_COMPLEX_ALPHA)}

    _torch_step_owner = "SGD"  # the class torch's step() errors name

    _structural_options = ("momentum", "weight_decay")

    # torch's SGD.step: _init_group reads fused and momentum, then sgd() its arguments
    _step_keys = ("fused", "momentum", "weight_decay", "lr", "dampening", "nesterov",
                  "maximize", "foreach")

    # torch's SGD.__setstate__ (a group loaded from Adam's state dict gets these, not
    # momentum or dampening)
    _setstate_defaults = {"nesterov": False, "maximize": False, "foreach": None,
                          "differentiable": False, "fused": False}

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        check_tensor_lr(lr)
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        check_fused(fused, foreach, differentiable)

    def _placeholder_state(self, p: Any, group: dict) -> dict | None:
        # torch's first momentum buffer is the gradient itself; a zero buffer updated with
        # dampening 0 gives the same (momentum * 0 + 1 * grad), any other dampening not.
        momentum, dampening = group["momentum"], group["dampening"]
        if isinstance(momentum, (int, float)) and momentum == 0:
            return {}  # no momentum: torch keeps no state, the first step is the steady one
        if isinstance(dampening, (int, float)) and dampening == 0:
            return {"momentum_buffer": jnp.zeros_like(p.data)}
        return None

    @staticmethod
    def _rule(params: list, grads: list, states: list[dict], hyper: dict, static: dict
              ) -> tuple[list, list[dict]]:
        use_momentum = static["momentum!=0"]
        new_params: list = [None] * len(params)
        new_states: list = [None] * len(params)
        # torch creates a momentum buffer at a parameter's first step (static here): the
        # parameters with one and those without are two calls of the rule.  A buffer held
        # as None (torch's state dict has one for a buffer not yet created) is a first step.
        for first in (True, False):
            idx = [i for i, st in enumerate(states)
                   if (st.get("momentum_buffer") is None) == first]
            if not idx:
                continue
            buffers = [jnp.zeros_like(params[i]) if first else states[i]["momentum_buffer"]
                       for i in idx]
            out, new = sgd_update(
                [params[i] for i in idx], [grads[i] for i in idx], SGDState(buffers),
                lr=hyper["lr"], momentum=hyper["momentum"], dampening=hyper["dampening"],
                weight_decay=hyper["weight_decay"], nesterov=static["nesterov"],
                maximize=static["maximize"], step=0 if first else 1,
                has_momentum=use_momentum, has_weight_decay=static["weight_decay!=0"],
            )
            for j, i in enumerate(idx):
                new_params[i] = out[j]
                new_states[i] = ({"momentum_buffer": new.momentum_buffer[j]} if use_momentum
                                 else {})
        return new_params, new_states
