"""Activation layers (torch.nn.modules.activation).

Each layer holds its hyper-parameters and calls one ``jnn.nn.functional`` function.
``inplace=True`` is accepted for torch compatibility; JAX arrays are immutable, so the
result is always a new array (the input array is left unchanged).
"""

from __future__ import annotations

import jax

from jnn.nn import functional as F
from jnn.nn.modules.module import Module

__all__ = [
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "CELU", "SELU", "GELU", "SiLU", "Mish", "Sigmoid",
    "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Softplus", "Softsign", "LogSigmoid",
    "Softmax", "LogSoftmax", "Softmin", "GLU",
]


def _inplace(flag: bool, lead: str = "") -> str:
    if not flag:
        return lead
    return f"{lead}, inplace=True" if lead else "inplace=True"


class ReLU(Module):
    """:math:`\\max(0, x)` elementwise. Shape: any; output the same.

    PyTorch: ``torch.nn.ReLU``.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.relu(input)

    def extra_repr(self) -> str:
        return _inplace(self.inplace)


class Hardtanh(Module):
    """Clamps to ``[min_val, max_val]``. PyTorch: ``torch.nn.Hardtanh``."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
                 ) -> None:
        super().__init__()
        if max_val <= min_val:
            # torch asserts this; raise its AssertionError and wording (also under -O)
            raise AssertionError(f"max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return _inplace(self.inplace, f"min_val={self.min_val}, max_val={self.max_val}")


class ReLU6(Hardtanh):
    """:math:`\\min(\\max(0, x), 6)`. PyTorch: ``torch.nn.ReLU6``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace(self.inplace)


class LeakyReLU(Module):
    """:math:`\\max(0, x) + \\text{negative\\_slope} \\min(0, x)`.

    PyTorch: ``torch.nn.LeakyReLU``.
    """

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return _inplace(self.inplace, f"negative_slope={self.negative_slope}")


class ELU(Module):
    """Exponential linear unit. PyTorch: ``torch.nn.ELU``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return _inplace(self.inplace, f"alpha={self.alpha}")


class CELU(ELU):
    """Continuously differentiable ELU. PyTorch: ``torch.nn.CELU``."""

    def forward(self, input: jax.Array) -> jax.Array:
        return F.celu(input, self.alpha)


class SELU(Module):
    """Scaled ELU. PyTorch: ``torch.nn.SELU``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.selu(input)

    def extra_repr(self) -> str:
        return _inplace(self.inplace)


class GELU(Module):
    """Gaussian error linear unit (``approximate='none'`` or ``'tanh'``).

    PyTorch: ``torch.nn.GELU``.
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: jax.Array) -> jax.Array:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(SELU):
    """:math:`x \\sigma(x)`. PyTorch: ``torch.nn.SiLU``."""

    def forward(self, input: jax.Array) -> jax.Array:
        return F.silu(input)


class Mish(SELU):
    """:math:`x \\tanh(\\text{softplus}(x))`. PyTorch: ``torch.nn.Mish``."""

    def forward(self, input: jax.Array) -> jax.Array:
        return F.mish(input)


class Hardsigmoid(Module):
    """Piecewise-linear sigmoid. PyTorch: ``torch.nn.Hardsigmoid``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.hardsigmoid(input)


class Hardswish(Hardsigmoid):
    """:math:`x \\cdot \\text{hardsigmoid}(x)`. PyTorch: ``torch.nn.Hardswish``."""

    def forward(self, input: jax.Array) -> jax.Array:
        return F.hardswish(input)


class Sigmoid(Module):
    """:math:`1 / (1 + e^{-x})`. PyTorch: ``torch.nn.Sigmoid``."""

    def forward(self, input: jax.Array) -> jax.Array:
        return F.sigmoid(input)


class Tanh(Module):
    """:math:`\\tanh(x)`. PyTorch: ``torch.nn.Tanh``."""

    def forward(self, input: jax.Array) -> jax.Array:
        return F.tanh(input)


class LogSigmoid(Module):
    """:math:`\\log \\sigma(x)`. PyTorch: ``torch.nn.LogSigmoid``."""

    def forward(self, input: jax.Array) -> jax.Array:
        return F.logsigmoid(input)


class Softsign(Module):
    """:math:`x / (1 + |x|)`. PyTorch: ``torch.nn.Softsign``."""

    def forward(self, input: jax.Array) -> jax.Array:
        return F.softsign(input)


class Softplus(Module):
    """:math:`\\frac{1}{\\beta} \\log(1 + e^{\\beta x})`, linear above ``threshold``.

    PyTorch: ``torch.nn.Softplus``.
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: jax.Array) -> jax.Array:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class _DimActivation(Module):
    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if "dim" not in self.__dict__:
            self.__dict__["dim"] = None

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_DimActivation):
    """Softmax along ``dim``.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, summing to 1 along ``dim``.

    PyTorch: ``torch.nn.Softmax`` (``dim=None`` uses torch's legacy implicit dim).
    """

    def forward(self, input: jax.Array) -> jax.Array:
        return F.softmax(input, self.dim, _stacklevel=5)


class LogSoftmax(_DimActivation):
    """:math:`\\log \\text{softmax}(x)` along ``dim``. PyTorch: ``torch.nn.LogSoftmax``."""

    def forward(self, input: jax.Array) -> jax.Array:
        return F.log_softmax(input, self.dim, _stacklevel=5)


class Softmin(_DimActivation):
    """Softmax of :math:`-x` along ``dim``. PyTorch: ``torch.nn.Softmin``."""

    def forward(self, input: jax.Array) -> jax.Array:
        return F.softmin(input, self.dim, _stacklevel=5)


class GLU(Module):
    """Gated linear unit: :math:`a \\otimes \\sigma(b)`, halves of ``dim``.

    PyTorch: ``torch.nn.GLU``.
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: jax.Array) -> jax.Array:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
