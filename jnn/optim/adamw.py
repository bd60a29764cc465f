"""AdamW: the pure update rule behind ``jnn.optim.AdamW``.

AdamW is Adam with decoupled weight decay, exactly as in torch 2.13 (where ``AdamW`` subclasses
``Adam`` with ``decoupled_weight_decay=True``): the state and the moment maths are Adam's, from
:mod:`jnn.optim.adam`; only the default ``weight_decay`` and where the decay is applied differ.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from jnn.optim.adam import Adam, AdamState, _adam_family_transform, adam_init, adam_update
from jnn.optim.optimizer import (
    _COMPLEX_CAST,
    _OTHER,
    _broadcast_error,
    _complex_error,
    _nonzero,
    _number_argument,
)
from jnn.optim.sgd import Scalar, ScalarOrSchedule

# torch's param.mul_(1 - lr * weight_decay) where a decay is applied (see AdamW)
_DECAY_FACTOR = _number_argument(_OTHER.format("mul_"), 1, False,
                                 lambda g: _nonzero(g.get("weight_decay", 0)))

if TYPE_CHECKING:  # optax is imported lazily: it adds ~0.4 s to `import jnn`
    import optax

__all__ = ["AdamW", "AdamState", "adam_init", "adamw_update", "adamw_transform"]


def adamw_update(
    params: list[jax.Array],
    grads: list[jax.Array],
    state: AdamState,
    *,
    lr: Scalar,
    beta1: Scalar = 0.9,
    beta2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 1e-2,
    amsgrad: bool = False,
    maximize: bool = False,
    has_weight_decay: bool | None = None,
) -> tuple[list[jax.Array], AdamState]:
    r"""Apply one AdamW step to a parameter group.

    First the decoupled decay :math:`\theta_{t-1} \leftarrow \theta_{t-1}(1 - \gamma\lambda)`
    (when :math:`\lambda \ne 0`), then Adam's step without an L2 term in the gradient:

    .. math::
        m_t &= m_{t-1} + (g_t - m_{t-1})(1 - \beta_1), \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
        \theta_t &= \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t} \cdot
            \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    with :math:`\hat v_t = \max(\hat v_{t-1}, v_t)` under AMSGrad, else :math:`v_t`; the
    gradient is negated first when ``maximize``.

    Args:
        params, grads, state, lr, beta1, beta2, eps, amsgrad, maximize, has_weight_decay: as in
            :func:`jnn.optim.adam.adam_update` (``lr`` ... ``weight_decay`` float or traced;
            ``amsgrad``, ``maximize``, ``has_weight_decay`` static).
        weight_decay: decoupled decay coefficient :math:`\lambda` (torch's default 1e-2).

    Returns:
        ``(new_params, new_state)``.

    PyTorch: the maths of ``torch.optim.AdamW`` (single-tensor, non-capturable path), minus
    argument validation; bias corrections in float32 on device, as in ``adam_update``.

    Example:
        >>> import jax.numpy as jnp
        >>> params = [jnp.ones((2, 3))]
        >>> new, state = adamw_update(params, [jnp.ones((2, 3))], adam_init(params), lr=1e-3)
        >>> new[0].shape
        (2, 3)
    """
    return adam_update(
        params,
        grads,
        state,
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        maximize=maximize,
        decoupled_weight_decay=True,
        has_weight_decay=has_weight_decay,
    )


def adamw_transform(
    lr: ScalarOrSchedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """:func:`adamw_update` as an ``optax.GradientTransformation`` over any parameter pytree.

    Args:
        lr: learning rate, a constant or an optax schedule called with the update count.
        betas: ``(beta1, beta2)``, as in ``torch.optim.AdamW``.
        eps, weight_decay, amsgrad, maximize: as in :func:`adamw_update` (``weight_decay`` a
            Python number: it fixes the structure). The parameters must be passed to
            ``update`` when ``weight_decay != 0``.

    Returns:
        A transformation whose updates, added to the parameters (``optax.apply_updates``),
        perform torch's AdamW step (up to the rounding of ``new - old``).

    Example:
        >>> import jax.numpy as jnp
        >>> tx = adamw_transform(1e-3)
        >>> params = {"w": jnp.ones(3)}
        >>> updates, state = tx.update({"w": jnp.ones(3)}, tx.init(params), params)
        >>> updates["w"].shape
        (3,)
    """
    return _adam_family_transform(
        lr, betas, eps, weight_decay, amsgrad, maximize, True, "adamw_transform"
    )


# --------------------------------------------------------------------------- the class


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (``p *= 1 - lr * weight_decay`` first).

    Args: as :class:`jnn.optim.Adam`, with ``weight_decay`` defaulting to 1e-2.

    PyTorch: ``torch.optim.AdamW`` (a subclass of Adam there too).
    """

    _option_probes = {**Adam._option_probes, "lr": lambda v: v * 0.01,
                      "weight_decay": lambda v: 0.1 * v}

    # torch's AdamW decays first, param.mul_(1 - lr * weight_decay): with a numpy array of
    # one dimension or more that product is one, no Tensor (weight decay is no alpha here);
    # with no decay, lr is Adam's step size
    _number_arguments = {
        **Adam._number_arguments,
        "weight_decay": _DECAY_FACTOR,
        "lr": lambda group, value: (_DECAY_FACTOR(group, value)
                                    or Adam._number_arguments["lr"](group, value)),
    }

    # ... and a complex factor cannot be cast to the float parameters
    _complex_probes = {**Adam._complex_probes,
                       "lr": lambda v: _complex_error(_COMPLEX_CAST),
                       "weight_decay": lambda v: _complex_error(_COMPLEX_CAST)}

    def __init__(self, params: Any, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def _numeric_option(self, key: str, value: Any, group: dict) -> Any:
        if key == "lr" and isinstance(value, (np.ndarray, jax.Array)) and value.size > 1:
            # torch decays first, param.mul_(1 - lr * weight_decay) in place: an lr that
            # does not broadcast to the first parameter with a gradient fails there
            first = next((p for p in group["params"] if p.grad is not None), None)
            decay = group.get("weight_decay", 0)
            if first is not None and not (isinstance(decay, numbers.Real) and decay == 0):
                shape, lr_shape = tuple(first.shape), tuple(value.shape)
                try:
                    fits = np.broadcast_shapes(shape, lr_shape) == shape
                except ValueError:
                    fits = False
                if not fits:
                    raise RuntimeError(_broadcast_error(shape, lr_shape))
        return super()._numeric_option(key, value, group)

    def _setstate(self, groups: list[dict], state: dict) -> None:
        super()._setstate(groups, state)
        for group in groups:  # torch's AdamW.__setstate__: an Adam state dict decays as AdamW
            group["decoupled_weight_decay"] = True
