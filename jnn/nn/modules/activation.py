"""Activation layers (torch.nn.modules.activation), and ``AdaptiveLogSoftmaxWithLoss``
(torch.nn.modules.adaptive; written in ``_activation_adaptive.py``, exported here).

Each layer holds its hyper-parameters and calls one ``jnn.nn.functional`` function. Every
elementwise layer maps an input of any shape :math:`(*)` to an output of the same shape.

``inplace=True`` is accepted wherever torch accepts it, and shows in the repr as in torch,
but has functional semantics: JAX arrays are immutable, so the layer returns a new array
and the input array is left unchanged. Code that relies on the input being overwritten
must use the return value instead.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax

from jnn.nn import functional as F
from jnn.nn import init
from jnn.nn.modules._activation_adaptive import AdaptiveLogSoftmaxWithLoss
from jnn.nn.modules.linear import _empty
from jnn.nn.modules.module import Module
from jnn.nn.parameter import Parameter

__all__ = [
    "Threshold", "ReLU", "RReLU", "Hardtanh", "ReLU6", "Sigmoid", "Hardsigmoid", "Tanh",
    "SiLU", "Mish", "Hardswish", "ELU", "CELU", "SELU", "GLU", "GELU", "Hardshrink",
    "LeakyReLU", "LogSigmoid", "Softplus", "Softshrink", "PReLU", "Softsign", "Tanhshrink",
    "Softmin", "Softmax", "Softmax2d", "LogSoftmax", "AdaptiveLogSoftmaxWithLoss",
]


def _inplace(flag: bool, lead: str = "") -> str:
    """torch's repr tail: ``, inplace=True`` only when set."""
    if not flag:
        return lead
    return f"{lead}, inplace=True" if lead else "inplace=True"


class _InplaceActivation(Module):
    """An activation whose only option is torch's ``inplace`` flag (functional here)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return _inplace(self.inplace)


class Threshold(Module):
    """:math:`y = x` if :math:`x > \\text{threshold}`, else ``value``.

    Args:
        threshold: the value to threshold at.
        value: the value that replaces everything at or below ``threshold``.
        inplace: accepted; a new array is returned (see the module docstring).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.Threshold``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Threshold(0.1, 20.0)(jnp.zeros(2)).shape
        (2,)
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return _inplace(self.inplace, f"threshold={self.threshold}, value={self.value}")


class ReLU(_InplaceActivation):
    """:math:`\\max(0, x)`; the gradient at 0 is 0, as in torch.

    Args:
        inplace: accepted; a new array is returned (see the module docstring).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.ReLU``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.ReLU()(jnp.array([-1.0, 2.0]))
        Array([0., 2.], dtype=float32)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.relu(input)


class RReLU(Module):
    """Randomized leaky ReLU: slope :math:`a \\sim \\mathcal{U}(\\text{lower},
    \\text{upper})` for :math:`x \\le 0` in training, :math:`(\\text{lower} +
    \\text{upper}) / 2` in eval.

    Args:
        lower: lower bound of the slope's distribution. Default 1/8.
        upper: upper bound of the slope's distribution. Default 1/3.
        inplace: accepted; a new array is returned (see the module docstring).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.RReLU``. Training slopes come from jnn's global generator
    (``jnn.manual_seed``; threaded through ``jnn.compile``): the same distribution as
    torch's, a different random stream.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.RReLU(0.1, 0.3).eval()(jnp.array([-1.0, 2.0]))
        Array([-0.2,  2. ], dtype=float32)
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
                 inplace: bool = False) -> None:
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.rrelu(input, self.lower, self.upper, self.training)

    def extra_repr(self) -> str:
        return _inplace(self.inplace, f"lower={self.lower}, upper={self.upper}")


class Hardtanh(Module):
    """Clamps to ``[min_val, max_val]``; the gradient is 0 at both bounds, as in torch.

    Args:
        min_val: the lower bound. Default -1.
        max_val: the upper bound, greater than ``min_val``. Default 1.
        inplace: accepted; a new array is returned (see the module docstring).
        min_value, max_value: torch's deprecated spellings (a FutureWarning).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.Hardtanh``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Hardtanh(-2, 2)(jnp.array([-3.0, 3.0]))
        Array([-2.,  2.], dtype=float32)
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None) -> None:
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to "
                          "`min_val`", FutureWarning, stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to "
                          "`max_val`", FutureWarning, stacklevel=2)
            max_val = max_value
        if max_val <= min_val:
            # torch raises this AssertionError explicitly (so it survives python -O)
            raise AssertionError(f"max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return _inplace(self.inplace, f"min_val={self.min_val}, max_val={self.max_val}")


class ReLU6(Hardtanh):
    """:math:`\\min(\\max(0, x), 6)`: ``Hardtanh(0, 6)``, as in torch.

    Args:
        inplace: accepted; a new array is returned (see the module docstring).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.ReLU6``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.ReLU6()(jnp.array([-1.0, 9.0]))
        Array([0., 6.], dtype=float32)
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace(self.inplace)


class Sigmoid(Module):
    """:math:`1 / (1 + e^{-x})`; integer inputs are promoted to float, as in torch.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.Sigmoid``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Sigmoid()(jnp.zeros(2))
        Array([0.5, 0.5], dtype=float32)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.sigmoid(input)


class Hardsigmoid(_InplaceActivation):
    """0 below -3, 1 above 3, :math:`x / 6 + 1/2` between.

    Args:
        inplace: accepted; a new array is returned (see the module docstring).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.Hardsigmoid`` (whose repr, unlike most, never shows ``inplace``).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Hardsigmoid()(jnp.zeros(2))
        Array([0.5, 0.5], dtype=float32)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.hardsigmoid(input)

    def extra_repr(self) -> str:
        return ""


class Tanh(Module):
    """:math:`\\tanh(x)`.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.Tanh``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Tanh()(jnp.zeros(2))
        Array([0., 0.], dtype=float32)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.tanh(input)


class SiLU(_InplaceActivation):
    """:math:`x \\sigma(x)` (swish).

    Args:
        inplace: accepted; a new array is returned (see the module docstring).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.SiLU``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.SiLU()(jnp.zeros(2))
        Array([0., 0.], dtype=float32)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.silu(input)


class Mish(_InplaceActivation):
    """:math:`x \\tanh(\\text{softplus}(x))`.

    Args:
        inplace: accepted; a new array is returned (see the module docstring).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.Mish``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Mish()(jnp.zeros(2))
        Array([0., 0.], dtype=float32)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.mish(input)


class Hardswish(_InplaceActivation):
    """:math:`x \\cdot \\text{ReLU6}(x + 3) / 6`.

    Args:
        inplace: accepted; a new array is returned (see the module docstring).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.Hardswish`` (its repr never shows ``inplace``).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Hardswish()(jnp.array([-4.0, 4.0]))
        Array([0., 4.], dtype=float32)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.hardswish(input)

    def extra_repr(self) -> str:
        return ""


class ELU(Module):
    """:math:`x` if :math:`x > 0`, else :math:`\\alpha (e^x - 1)`.

    Args:
        alpha: the negative saturation value. Default 1.
        inplace: accepted; a new array is returned (see the module docstring).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.ELU``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.ELU()(jnp.zeros(2))
        Array([0., 0.], dtype=float32)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return _inplace(self.inplace, f"alpha={self.alpha}")


class CELU(Module):
    """:math:`\\max(0, x) + \\min(0, \\alpha (e^{x / \\alpha} - 1))`.

    Args:
        alpha: the negative saturation value. Default 1.
        inplace: accepted; a new array is returned (see the module docstring).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.CELU``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.CELU(2.0)(jnp.zeros(2))
        Array([0., 0.], dtype=float32)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.celu(input, self.alpha)

    def extra_repr(self) -> str:
        return _inplace(self.inplace, f"alpha={self.alpha}")


class SELU(_InplaceActivation):
    """Scaled ELU with torch's constants :math:`\\alpha = 1.6733`,
    :math:`\\text{scale} = 1.0507`.

    Args:
        inplace: accepted; a new array is returned (see the module docstring).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.SELU``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.SELU()(jnp.zeros(2))
        Array([0., 0.], dtype=float32)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.selu(input)


class GLU(Module):
    """Gated linear unit: :math:`a \\otimes \\sigma(b)` for the halves :math:`a, b` of ``dim``.

    Args:
        dim: the dimension to split in halves (its size must be even). Default -1.

    Shape:
        - Input: :math:`(*_1, N, *_2)`. Output: :math:`(*_1, M, *_2)`, :math:`M = N / 2`.

    PyTorch: ``torch.nn.GLU``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.GLU()(jnp.zeros((4, 2))).shape
        (4, 1)
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: jax.Array) -> jax.Array:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GELU(Module):
    """:math:`x \\Phi(x)`, exact (``approximate='none'``) or with the tanh approximation.

    Args:
        approximate: ``'none'`` or ``'tanh'``; anything else fails in forward, as in torch.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.GELU``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.GELU("tanh")(jnp.zeros(2))
        Array([0., 0.], dtype=float32)
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: jax.Array) -> jax.Array:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Hardshrink(Module):
    """:math:`x` where :math:`|x| > \\lambda`, else 0.

    Args:
        lambd: the :math:`\\lambda` of the formula. Default 0.5.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.Hardshrink``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Hardshrink()(jnp.array([0.4, 0.6]))
        Array([0. , 0.6], dtype=float32)
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: jax.Array) -> jax.Array:
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class LeakyReLU(Module):
    """:math:`\\max(0, x) + \\text{negative\\_slope} \\min(0, x)`.

    Args:
        negative_slope: the slope for :math:`x < 0`. Default 0.01.
        inplace: accepted; a new array is returned (see the module docstring).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.LeakyReLU``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.LeakyReLU(0.5)(jnp.array([-2.0]))
        Array([-1.], dtype=float32)
    """

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return _inplace(self.inplace, f"negative_slope={self.negative_slope}")


class LogSigmoid(Module):
    """:math:`\\log \\sigma(x)`, computed stably.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.LogSigmoid``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.LogSigmoid()(jnp.zeros(2)).shape
        (2,)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.logsigmoid(input)


class Softplus(Module):
    """:math:`\\frac{1}{\\beta} \\log(1 + e^{\\beta x})`, linear where
    :math:`\\beta x > \\text{threshold}`.

    Args:
        beta: the :math:`\\beta` of the formula. Default 1.
        threshold: above it the function is the identity. Default 20.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.Softplus``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Softplus()(jnp.array([30.0]))
        Array([30.], dtype=float32)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: jax.Array) -> jax.Array:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softshrink(Module):
    """:math:`x - \\lambda` above :math:`\\lambda`, :math:`x + \\lambda` below
    :math:`-\\lambda`, 0 between.

    Args:
        lambd: the :math:`\\lambda` of the formula, :math:`\\ge 0` (checked in forward,
            as torch does). Default 0.5.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.Softshrink``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Softshrink()(jnp.array([0.4, 1.5]))
        Array([0., 1.], dtype=float32)
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: jax.Array) -> jax.Array:
        return F.softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class PReLU(Module):
    """:math:`\\max(0, x) + a \\min(0, x)` with a learnable slope :math:`a`.

    Args:
        num_parameters: 1 (one slope shared by all channels) or the number of channels,
            dim 1 of the input (dim 0 counts as no channel dim for 1-d inputs). Default 1.
        init: the slopes' initial value. Default 0.25.
        device, dtype: where and of what type the weight is created.

    Shape:
        - Input: :math:`(N, C, *)` or :math:`(*)`. Output: the same shape.

    Attributes:
        weight: :math:`(\\text{num\\_parameters})`, initialised to ``init``.

    PyTorch: ``torch.nn.PReLU`` (same parameter, channel broadcasting and errors).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.PReLU(3)(jnp.zeros((2, 3, 4))).shape
        (2, 3, 4)
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(_empty((num_parameters,), dtype, device, True))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.constant_(self.weight, self.init)

    def forward(self, input: jax.Array) -> jax.Array:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Softsign(Module):
    """:math:`x / (1 + |x|)`.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.Softsign``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Softsign()(jnp.array([1.0]))
        Array([0.5], dtype=float32)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.softsign(input)


class Tanhshrink(Module):
    """:math:`x - \\tanh(x)`.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same shape.

    PyTorch: ``torch.nn.Tanhshrink``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Tanhshrink()(jnp.zeros(2))
        Array([0., 0.], dtype=float32)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.tanhshrink(input)


class _DimActivation(Module):
    """Softmax-like layers: one ``dim`` (``None`` is torch's deprecated implicit choice)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def __setstate__(self, state: dict) -> None:
        # torch's: modules pickled before ``dim`` existed unpickle with dim=None
        super().__setstate__(state)
        if "dim" not in self.__dict__:
            self.__dict__["dim"] = None

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(_DimActivation):
    """Softmax of :math:`-x` along ``dim``.

    Args:
        dim: the dimension that sums to 1. ``None`` picks torch's legacy implicit dim
            (0 for 0-, 1- and 3-d inputs, else 1) with its deprecation warning.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, in :math:`[0, 1]`.

    PyTorch: ``torch.nn.Softmin``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Softmin(dim=1)(jnp.zeros((1, 2)))
        Array([[0.5, 0.5]], dtype=float32)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.softmin(input, self.dim, _stacklevel=5)


class Softmax(_DimActivation):
    """:math:`e^{x_i} / \\sum_j e^{x_j}` along ``dim``.

    Args:
        dim: the dimension that sums to 1. ``None`` picks torch's legacy implicit dim
            (0 for 0-, 1- and 3-d inputs, else 1) with its deprecation warning.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, in :math:`[0, 1]`.

    PyTorch: ``torch.nn.Softmax``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Softmax(dim=1)(jnp.zeros((1, 2)))
        Array([[0.5, 0.5]], dtype=float32)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.softmax(input, self.dim, _stacklevel=5)


class Softmax2d(Module):
    """Softmax over the channels at every spatial location (``dim=-3``).

    Shape:
        - Input: :math:`(N, C, H, W)` or :math:`(C, H, W)`. Output: the same shape.

    PyTorch: ``torch.nn.Softmax2d`` (same ValueError for other ranks).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Softmax2d()(jnp.zeros((2, 3, 4, 5))).shape
        (2, 3, 4, 5)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        if input.ndim not in (3, 4):
            raise ValueError(
                f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead")
        return F.softmax(input, -3, _stacklevel=5)


class LogSoftmax(_DimActivation):
    """:math:`\\log \\text{softmax}(x)` along ``dim``, computed stably.

    Args:
        dim: the dimension to normalise. ``None`` picks torch's legacy implicit dim with
            its deprecation warning.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, in :math:`(-\\infty, 0]`.

    PyTorch: ``torch.nn.LogSoftmax``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.LogSoftmax(dim=1)(jnp.zeros((1, 2))).shape
        (1, 2)
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.log_softmax(input, self.dim, _stacklevel=5)
