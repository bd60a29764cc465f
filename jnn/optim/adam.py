"""Adam: the pure update rule behind ``jnn.optim.Adam`` (and, decoupled, ``jnn.optim.AdamW``).

The rule works on one parameter group: ``params``, ``grads`` and the per-parameter state fields
are lists of arrays, one entry per parameter; the step count is one float32 scalar per group.
Numeric hyper-parameters may be Python floats or traced JAX scalars, so a learning-rate
scheduler never forces a re-trace; ``amsgrad``, ``maximize``, ``decoupled_weight_decay`` and
"has weight decay" are static Python bools.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._tensor_functions.dtypes import cpp_name
from jnn.optim.optimizer import (
    _ALPHA,
    _AMBIGUOUS,
    _COMPLEX_ALPHA,
    _COMPLEX_CAST,
    _OTHER,
    Optimizer,
    _alpha_probe,
    _betas_probe,
    _complex_error,
    _nonzero,
    _number_argument,
    _real_part,
    _tensor_probe,
    check_fused,
    check_tensor_betas,
    check_tensor_lr,
    compared,
    multi_tensor,
)
from jnn.optim.sgd import (
    Scalar,
    ScalarOrSchedule,
    _as_list_transform,
    _is_python_number,
    _lerp,
    _structural,
)

if TYPE_CHECKING:  # optax is imported lazily: it adds ~0.4 s to `import jnn`
    import optax

__all__ = ["Adam", "AdamState", "adam_init", "adam_update", "adam_transform"]


class AdamState(NamedTuple):
    """State of :func:`adam_update` (and :func:`jnn.optim.adamw.adamw_update`) for one group.

    Attributes:
        step: float32 scalar, the number of updates taken so far (0 initially). torch keeps one
            identical ``step`` tensor per parameter; jnn keeps one per group.
        exp_avg: one array per parameter, shaped like it: the first moment :math:`m_t`
            (zeros initially).
        exp_avg_sq: likewise, the second moment :math:`v_t` (zeros initially).
        max_exp_avg_sq: likewise, :math:`\\max_{s \\le t} v_s` for AMSGrad (zeros initially);
            ``None`` when ``amsgrad=False``, as torch then stores no such key.
    """

    step: jax.Array
    exp_avg: list[jax.Array]
    exp_avg_sq: list[jax.Array]
    max_exp_avg_sq: list[jax.Array] | None


def adam_init(params: list[jax.Array], amsgrad: bool = False) -> AdamState:
    """Create the Adam/AdamW state for one parameter group (torch's lazy state, made eagerly).

    Args:
        params: the group's parameters, a list of arrays.
        amsgrad: static; also keep ``max_exp_avg_sq``.

    Returns:
        An :class:`AdamState` with ``step = 0.0`` (float32) and zero moments.
    """
    return AdamState(
        step=jnp.zeros((), jnp.float32),
        exp_avg=[jnp.zeros_like(p) for p in params],
        exp_avg_sq=[jnp.zeros_like(p) for p in params],
        max_exp_avg_sq=[jnp.zeros_like(p) for p in params] if amsgrad else None,
    )


def _log_abs(beta: float) -> float:
    """``log|beta|`` in float64 (``-inf`` for 0: ``beta**step`` is 0 from step 1 on)."""
    return math.log(abs(beta)) if beta != 0 else -math.inf


def _one_minus_pow(beta: Scalar, step: jax.Array, log_beta: Scalar | None = None,
                   signed: bool = False) -> jax.Array:
    """Bias correction ``1 - beta**step`` in float32, as ``-expm1(step * log(beta))``.

    torch computes ``1 - beta**step`` in float64 Python. Doing the same subtraction in float32
    loses digits to cancellation (``1 - 0.999f`` is off by 1.3e-5 relative, from rounding 0.999
    to float32), so jnn takes ``log(beta)`` in float64 when ``beta`` is a Python number and uses
    ``expm1``, which keeps float32's full relative accuracy for small corrections.

    ``log_beta`` is ``log|beta|``.  A negative beta (torch's constructor refuses one, a group
    edited later may hold one) has ``beta**step`` of the step's sign: ``signed`` (static)
    says a traced beta may be negative; a Python beta says it itself.
    """
    if log_beta is not None:
        pass  # computed on the host in float64 by the caller (traced hyper-parameters)
    elif _is_python_number(beta):
        log_beta = _log_abs(beta)
    else:
        log_beta = jnp.log(jnp.abs(beta))
    correction = -jnp.expm1(step * log_beta)
    if signed or (_is_python_number(beta) and beta < 0):
        odd = (beta < 0) & (step % 2 == 1)
        correction = jnp.where(odd, 1 + jnp.exp(step * log_beta), correction)
    return correction


def _adam_param(
    param: jax.Array,
    grad: jax.Array,
    exp_avg: jax.Array,
    exp_avg_sq: jax.Array,
    max_exp_avg_sq: jax.Array | None,
    *,
    lr: Scalar,
    beta1: Scalar,
    beta2: Scalar,
    eps: Scalar,
    weight_decay: Scalar,
    one_minus_beta1: Scalar,
    one_minus_beta2: Scalar,
    step_size: jax.Array,
    bias_correction2_sqrt: jax.Array,
    use_weight_decay: bool,
    decoupled_weight_decay: bool,
    amsgrad: bool,
    maximize: bool,
    lerp_small: bool | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array | None]:
    """One parameter's Adam step, in the order of torch's single-tensor CPU path."""
    dtype = param.dtype
    if exp_avg.dtype != grad.dtype:  # (model.half() after steps): torch's lerp_ refuses it
        raise RuntimeError(f"expected dtype {cpp_name(exp_avg.dtype)} for `end` but got "
                           f"dtype {cpp_name(grad.dtype)}")
    if maximize:
        grad = -grad
    if use_weight_decay:
        if decoupled_weight_decay:
            param = param * (1 - lr * weight_decay)
        else:
            grad = grad + weight_decay * param
    exp_avg = _lerp(exp_avg, grad, one_minus_beta1, lerp_small)
    exp_avg_sq = exp_avg_sq * beta2 + one_minus_beta2 * grad * grad
    if amsgrad:
        max_exp_avg_sq = jnp.maximum(max_exp_avg_sq, exp_avg_sq)
        second_moment = max_exp_avg_sq
    else:
        second_moment = exp_avg_sq
    denom = jnp.sqrt(second_moment) / bias_correction2_sqrt + eps
    # torch: param.addcdiv_(exp_avg, denom, value=-step_size), i.e. p + (value * m) / denom.
    param = param + (-step_size * exp_avg) / denom
    # float32 scalars (the bias corrections, traced hyper-parameters) would promote a
    # bfloat16/float16 parameter; torch keeps the parameter's and the state's dtype.
    if max_exp_avg_sq is not None:
        max_exp_avg_sq = max_exp_avg_sq.astype(dtype)
    return param.astype(dtype), exp_avg.astype(dtype), exp_avg_sq.astype(dtype), max_exp_avg_sq


def adam_update(
    params: list[jax.Array],
    grads: list[jax.Array],
    state: AdamState,
    *,
    lr: Scalar,
    beta1: Scalar = 0.9,
    beta2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
    has_weight_decay: bool | None = None,
    beta_terms: tuple[Scalar, Scalar, Scalar, Scalar] | None = None,
    lerp_small: bool | None = None,
    negative_betas: bool = False,
) -> tuple[list[jax.Array], AdamState]:
    r"""Apply one Adam step to a parameter group.

    With :math:`g_t` the gradient, :math:`\gamma` = ``lr``, :math:`\lambda` = ``weight_decay``
    and :math:`t` the step count after incrementing:

    .. math::
        g_t &\leftarrow -g_t \quad\text{if maximize} \\
        g_t &\leftarrow g_t + \lambda\,\theta_{t-1} \quad\text{if } \lambda \ne 0
            \text{ (coupled)}, \qquad
            \theta_{t-1} \leftarrow \theta_{t-1}(1 - \gamma\lambda) \text{ (decoupled)} \\
        m_t &= m_{t-1} + (g_t - m_{t-1})(1 - \beta_1) \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \text{ if amsgrad, else } v_t \\
        \theta_t &= \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t} \cdot
            \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    Args:
        params: the group's parameters :math:`\theta_{t-1}`, a list of arrays.
        grads: their gradients, a list of arrays shaped like ``params``.
        state: the group's :class:`AdamState` (from :func:`adam_init` with the same ``amsgrad``).
        lr: learning rate :math:`\gamma` (float or traced scalar).
        beta1: first-moment decay :math:`\beta_1` (float or traced scalar).
        beta2: second-moment decay :math:`\beta_2` (float or traced scalar).
        eps: term added to the denominator (float or traced scalar).
        weight_decay: :math:`\lambda` (float or traced scalar).
        amsgrad: static; use AMSGrad's running maximum of :math:`v_t`.
        maximize: static; ascend the objective (negate the gradient).
        decoupled_weight_decay: static; decay the parameters directly (AdamW) instead of adding
            :math:`\lambda\theta` to the gradient.
        has_weight_decay: static; torch's ``weight_decay != 0``. Inferred when ``weight_decay``
            is a Python number; required when it is a JAX array.
        beta_terms: optional ``(1 - beta1, 1 - beta2, log|beta1|, log|beta2|)`` computed on
            the host in float64, for traced betas: ``1 - beta`` of a float32 beta loses
            digits (0.999 is off by 1.3e-5 relative), the float64 difference does not.
        lerp_small: static; ATen's ``|1 - beta1| < 0.5`` in float32, which picks the
            formula of the first moment's lerp. Worked out in the program when None; given
            (traced betas from Python options), the program has one formula, no select.
        negative_betas: static; a traced beta may be negative (its ``beta**step`` then
            alternates in sign, as torch's float64 power does).

    Returns:
        ``(new_params, new_state)``.

    PyTorch: the maths of ``torch.optim.Adam`` (single-tensor, non-capturable path), minus
    argument validation. torch computes the bias corrections in float64 Python; jnn computes
    them in float32 on device (see ``_one_minus_pow``). Complex parameters are not treated as
    torch's ``view_as_real`` pairs.

    Example:
        >>> import jax.numpy as jnp
        >>> params = [jnp.ones((2, 3))]
        >>> state = adam_init(params)
        >>> new, state = adam_update(params, [jnp.ones((2, 3))], state, lr=1e-3)
        >>> new[0].shape, state.step
        ((2, 3), Array(1., dtype=float32))
    """
    use_weight_decay = _structural(
        has_weight_decay, weight_decay, "weight_decay", "has_weight_decay"
    )
    if amsgrad and state.max_exp_avg_sq is None:
        raise ValueError(
            "amsgrad=True needs state.max_exp_avg_sq: create the state with "
            "adam_init(params, amsgrad=True)."
        )
    if beta_terms is None:
        one_minus_beta1, one_minus_beta2, log_beta1, log_beta2 = 1 - beta1, 1 - beta2, None, None
    else:
        one_minus_beta1, one_minus_beta2, log_beta1, log_beta2 = beta_terms
    # One count for the group, or one per parameter (torch's layout): either way the bias
    # corrections are computed once, vectorised, and each parameter reads its own.
    step = state.step + 1
    step_size = lr / _one_minus_pow(beta1, step, log_beta1, negative_betas)
    bias_correction2_sqrt = jnp.sqrt(_one_minus_pow(beta2, step, log_beta2, negative_betas))
    per_param = jnp.ndim(step) == 1
    max_sqs = state.max_exp_avg_sq if amsgrad else [None] * len(params)

    def update(p, g, m, v, vmax, step_size, bias_correction2_sqrt):
        return _adam_param(
            p, g, m, v, vmax, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
            weight_decay=weight_decay, one_minus_beta1=one_minus_beta1,
            one_minus_beta2=one_minus_beta2, step_size=step_size,
            bias_correction2_sqrt=bias_correction2_sqrt, use_weight_decay=use_weight_decay,
            decoupled_weight_decay=decoupled_weight_decay, amsgrad=amsgrad,
            maximize=maximize, lerp_small=lerp_small)

    columns = (params, grads, state.exp_avg, state.exp_avg_sq, max_sqs)
    scalars = (step_size, bias_correction2_sqrt)
    out = multi_tensor(update, columns, scalars if per_param else None, scalars)
    new_params, exp_avg, exp_avg_sq, max_exp_avg_sq = (list(column) for column in zip(*out))
    new_state = AdamState(
        step=step,
        exp_avg=exp_avg,
        exp_avg_sq=exp_avg_sq,
        max_exp_avg_sq=max_exp_avg_sq if amsgrad else state.max_exp_avg_sq,
    )
    return new_params, new_state


def _adam_family_transform(
    lr: ScalarOrSchedule,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
    name: str,
) -> optax.GradientTransformation:
    """The optax factory shared by :func:`adam_transform` and ``adamw_transform``."""
    beta1, beta2 = betas
    use_weight_decay = _structural(None, weight_decay, "weight_decay", "has_weight_decay")

    def init_list(params: list[jax.Array]) -> AdamState:
        return adam_init(params, amsgrad=amsgrad)

    def update_list(
        params: list[jax.Array], grads: list[jax.Array], state: AdamState
    ) -> tuple[list[jax.Array], AdamState]:
        step_lr = lr(state.step.astype(jnp.int32)) if callable(lr) else lr
        return adam_update(
            params,
            grads,
            state,
            lr=step_lr,
            beta1=beta1,
            beta2=beta2,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
            has_weight_decay=use_weight_decay,
        )

    return _as_list_transform(init_list, update_list, use_weight_decay, name)


def adam_transform(
    lr: ScalarOrSchedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> optax.GradientTransformation:
    """:func:`adam_update` as an ``optax.GradientTransformation`` over any parameter pytree.

    Args:
        lr: learning rate, a constant or an optax schedule called with the update count.
        betas: ``(beta1, beta2)``, as in ``torch.optim.Adam``.
        eps, weight_decay, amsgrad, maximize, decoupled_weight_decay: as in
            :func:`adam_update` (``weight_decay`` a Python number: it fixes the structure).

    Returns:
        A transformation whose updates, added to the parameters (``optax.apply_updates``),
        perform torch's Adam step (up to the rounding of ``new - old``).

    Example:
        >>> import jax.numpy as jnp
        >>> tx = adam_transform(1e-3)
        >>> params = {"w": jnp.ones(3)}
        >>> updates, state = tx.update({"w": jnp.ones(3)}, tx.init(params), params)
        >>> updates["w"].shape
        (3,)
    """
    return _adam_family_transform(
        lr,
        betas,
        eps,
        weight_decay,
        amsgrad,
        maximize,
        decoupled_weight_decay,
        "adam_transform",
    )


# --------------------------------------------------------------------------- the class


class Adam(Optimizer):
    r"""Adam (and, with ``decoupled_weight_decay=True``, AdamW).

    Args:
        params: Parameters or parameter-group dicts.
        lr: learning rate. Default 1e-3.
        betas: coefficients of the running averages of the gradient and its square.
            Default ``(0.9, 0.999)``.
        eps: added to the denominator. Default 1e-8.
        weight_decay: L2 penalty (decoupled with ``decoupled_weight_decay``). Default 0.
        amsgrad: use AMSGrad. Default ``False``.
        maximize: maximize the objective. Default ``False``.
        decoupled_weight_decay: AdamW's decay. Default ``False``.
        foreach, capturable, differentiable, fused: accepted for torch compatibility (no effect:
            parameters of up to 16K elements are always updated together, one
            vector per dtype, as torch's ``foreach`` path does; larger ones alone).

    The update is :func:`adam_update`; lr, betas, eps and weight_decay are traced scalars
    (schedulers never re-trace; ``1 - beta`` and ``log(beta)`` are computed in float64 on
    the host). State per parameter, created at its first step as in torch: ``step``
    (float32 scalar), ``exp_avg``, ``exp_avg_sq`` and, with amsgrad, ``max_exp_avg_sq``.

    PyTorch: ``torch.optim.Adam``.
    """

    _option_probes = {"lr": lambda v: v / 1.0, "weight_decay": _alpha_probe,
                      "betas": _betas_probe, "eps": _tensor_probe("add_")}

    # torch's step with a tensor of several elements: its step size (lr, or beta1 through
    # the bias correction) reaches addcdiv_'s value, beta2 addcmul_'s; `weight_decay != 0`
    _array_option_errors = {
        "lr": lambda: TypeError("addcdiv_(): argument 'value' must be Number, not Tensor"),
        "betas[0]": lambda: TypeError("addcdiv_(): argument 'value' must be Number, not Tensor"),
        "betas[1]": lambda: TypeError("addcmul_(): argument 'value' must be Number, not Tensor"),
        "weight_decay": lambda: RuntimeError(_AMBIGUOUS),
    }

    # torch's step with a 1-element array: weight decay is grad.add's alpha, the step size
    # addcdiv_'s value (lr / a float: a numpy array of one dimension stays one), eps is
    # added to the denominator in place (a numpy array is neither a Number nor a Tensor)
    _number_arguments = {
        "weight_decay": _number_argument(_ALPHA, 0, True,
                                         lambda g: _nonzero(g["weight_decay"])),
        "lr": _number_argument("addcdiv_(): argument 'value' must be Number", 1, False),
        "eps": _number_argument(_OTHER.format("add_"), 0, False),
    }

    # torch's step with a complex option: lr enters the float step size (its imaginary
    # part cannot), weight_decay grad.add's alpha, eps the float denominator
    _complex_probes = {"lr": lambda v: _real_part(v, "value cannot be converted to type float "
                                                     "without overflow"),
                       "weight_decay": lambda v: _complex_error(_COMPLEX_ALPHA),
                       "eps": lambda v: _complex_error(_COMPLEX_CAST)}

    _torch_step_owner = "Adam"  # (AdamW inherits torch's Adam.step too)

    _structural_options = ("weight_decay",)

    # torch's Adam.step: betas first, _init_group's flags, then adam()'s arguments
    _step_keys = ("betas", "amsgrad", "differentiable", "foreach", "lr", "weight_decay", "eps",
                  "maximize", "capturable", "fused", "decoupled_weight_decay")

    # torch's Adam.__setstate__
    _setstate_defaults = {"amsgrad": False, "maximize": False, "foreach": None,
                          "capturable": False, "differentiable": False,
                          "decoupled_weight_decay": False, "fused": None}

    def _setstate(self, groups: list[dict], state: dict) -> None:
        super()._setstate(groups, state)
        for group in groups:
            for p in group["params"]:
                if state.get(p) and "step" not in state[p]:
                    # torch's __setstate__ reads state["step"] (to make it a tensor): a
                    # state without one (SGD's momentum_buffer) raises at load
                    raise KeyError("step")

    def _check_state_entry(self, entry: Any) -> None:
        # torch's Adam.__setstate__ at load: ``len(state) != 0`` and ``state["step"]``
        if len(entry) != 0:
            entry["step"]  # noqa: B018
        super()._check_state_entry(entry)

    def __init__(self, params: Any, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        check_tensor_lr(lr, foreach, capturable)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= compared(betas[0]) < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= compared(betas[1]) < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        check_tensor_betas(betas, foreach, capturable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)
        check_fused(fused, foreach, differentiable)

    def _init_state(self, p: Any, group: dict) -> dict:
        state = {"step": jnp.zeros((), jnp.float32), "exp_avg": jnp.zeros_like(p.data),
                 "exp_avg_sq": jnp.zeros_like(p.data)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = jnp.zeros_like(p.data)
        return state

    def _placeholder_state(self, p: Any, group: dict) -> dict:
        # torch's first Adam step starts from exactly this state (zeros, step 0)
        return self._init_state(p, group)

    def _static(self, group: dict) -> tuple:
        beta1 = group["betas"][0]
        out = []
        if _is_python_number(beta1):  # torch's lerp weight 1 - beta1, compared in float32
            out.append(("lerp_small", bool(abs(np.float32(1.0 - beta1)) < 0.5)))
        if any(_is_python_number(b) and b < 0 for b in group["betas"]):
            out.append(("negative_betas", True))  # (refused by torch's constructor only)
        return tuple(out)

    def _prepare_hyper(self, hyper: dict) -> dict:
        beta1, beta2 = hyper["betas"]
        if _is_python_number(beta1) and beta1 == 1 and _is_python_number(hyper["lr"]):
            # torch's bias correction 1 - beta1 ** step is 0.0 and its Python step size
            # lr / 0.0 raises (jnn's would be inf, the parameters non-finite)
            raise ZeroDivisionError("float division by zero")
        if _is_python_number(beta2) and beta2 > 1:
            # (a group edited past the constructor's check) torch's 1 - beta2 ** step is
            # negative, its Python ``** 0.5`` complex, and the update's division raises
            raise RuntimeError(_COMPLEX_CAST)
        if _is_python_number(beta1) and _is_python_number(beta2):
            hyper["beta_terms"] = (1.0 - beta1, 1.0 - beta2, _log_abs(beta1), _log_abs(beta2))
        return hyper

    @staticmethod
    def _rule(params: list, grads: list, states: list[dict], hyper: dict, static: dict
              ) -> tuple[list, list[dict]]:
        amsgrad = static["amsgrad"]
        beta1, beta2 = hyper["betas"]
        # torch keeps a ``step`` per parameter: the rule takes them as one vector.
        state = AdamState(
            jnp.stack([st["step"] for st in states]),
            [st["exp_avg"] for st in states], [st["exp_avg_sq"] for st in states],
            [st["max_exp_avg_sq"] for st in states] if amsgrad else None,
        )
        new_params, new = adam_update(
            params, grads, state, lr=hyper["lr"], beta1=beta1, beta2=beta2, eps=hyper["eps"],
            weight_decay=hyper["weight_decay"], amsgrad=amsgrad, maximize=static["maximize"],
            decoupled_weight_decay=static["decoupled_weight_decay"],
            has_weight_decay=static["weight_decay!=0"], beta_terms=hyper.get("beta_terms"),
            lerp_small=static.get("lerp_small"),
            negative_betas=static.get("negative_betas", False),
        )
        new_states = []
        for i in range(len(params)):
            # a slice of the counts plus one: packed in one buffer, XLA folds the slices and
            # the re-pack into one add over the vector
            out = {"step": new.step[i], "exp_avg": new.exp_avg[i],
                   "exp_avg_sq": new.exp_avg_sq[i]}
            if amsgrad:
                out["max_exp_avg_sq"] = new.max_exp_avg_sq[i]
            new_states.append(out)
        return new_params, new_states
