"""Layer, group, RMS and local response normalization (torch.nn.modules.normalization)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jnn.nn import functional as F
from jnn.nn import init
from jnn.nn.functional.normalization import cross_map_lrn2d
from jnn.nn.modules.batchnorm import _filled
from jnn.nn.modules.module import Module
from jnn.nn.parameter import Parameter

__all__ = ["LocalResponseNorm", "CrossMapLRN2d", "LayerNorm", "GroupNorm", "RMSNorm"]


def _shape_tuple(normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(normalized_shape)


class LocalResponseNorm(Module):
    """Local response normalization across channels.

    :math:`b_c = a_c \\left(k + \\frac{\\alpha}{n} \\sum_{c'=\\max(0, c-n/2)}^{\\min(N-1, c+n/2)}
    a_{c'}^2\\right)^{-\\beta}`.

    Args:
        size: :math:`n`, the number of neighbouring channels summed.
        alpha: multiplicative factor. Default ``1e-4``.
        beta: exponent. Default ``0.75``.
        k: additive factor. Default ``1.0``.

    Shape:
        - Input: :math:`(N, C, *)`. Output: the same.

    PyTorch: ``torch.nn.LocalResponseNorm``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.LocalResponseNorm(2)(jnp.ones((2, 4, 3, 3))).shape
        (2, 4, 3, 3)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 1.0) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: jax.Array) -> jax.Array:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class CrossMapLRN2d(Module):
    """torch's legacy cross-channel LRN for 4-D inputs (from Lua torch).

    Like :class:`LocalResponseNorm` with a centred window, except for two quirks of
    torch's implementation that jnn reproduces so that values and gradients match: from
    channel ``(size + 1) // 2`` on, channel 0's square stays in the sum, and the
    hand-written backward uses a window shifted by one channel (it is not the exact
    derivative of the forward).

    Args:
        size, alpha, beta, k: as :class:`LocalResponseNorm` (``k`` defaults to ``1``).

    Shape:
        - Input: :math:`(N, C, H, W)`. Output: the same.

    PyTorch: ``torch.nn.CrossMapLRN2d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.CrossMapLRN2d(3)(jnp.ones((2, 4, 3, 3))).shape
        (2, 4, 3, 3)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 1) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: jax.Array) -> jax.Array:
        if jnp.ndim(input) != 4:
            raise ValueError(
                f"CrossMapLRN2d: Expected input to be 4D, got {jnp.ndim(input)}D instead.")
        return cross_map_lrn2d(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` dimensions.

    :math:`y = \\frac{x - E[x]}{\\sqrt{Var[x] + \\epsilon}} \\gamma + \\beta`, the mean and
    biased variance over the last ``len(normalized_shape)`` dimensions.

    Args:
        normalized_shape: an int or the trailing shape.
        eps: added to the variance. Default ``1e-5``.
        elementwise_affine: learn :math:`\\gamma, \\beta` of shape ``normalized_shape``.
            Default ``True``.
        bias: learn :math:`\\beta` (when ``elementwise_affine``). Default ``True``.
        device, dtype: where and of what type the parameters are created.

    Shape:
        - Input: :math:`(*, \\text{normalized\\_shape})`. Output: the same.

    Attributes:
        weight: ``normalized_shape``, ones. bias: ``normalized_shape``, zeros.

    PyTorch: ``torch.nn.LayerNorm``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.LayerNorm(3)(jnp.ones((2, 5, 3))).shape
        (2, 5, 3)
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(_filled(self.normalized_shape, 1.0, dtype, device))
            if bias:
                self.bias = Parameter(_filled(self.normalized_shape, 0.0, dtype, device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input: jax.Array) -> jax.Array:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalization: the channels split into ``num_groups`` groups, each normalized.

    Args:
        num_groups: number of groups; must divide ``num_channels``.
        num_channels: :math:`C`.
        eps: added to the variance. Default ``1e-5``.
        affine: learn per-channel :math:`\\gamma, \\beta`. Default ``True``.
        device, dtype: where and of what type the parameters are created.
        bias: (keyword) learn :math:`\\beta` when ``affine``. Default ``True``.

    Shape:
        - Input: :math:`(N, C, *)`. Output: the same.

    Attributes:
        weight: :math:`(C)`, ones. bias: :math:`(C)`, zeros.

    PyTorch: ``torch.nn.GroupNorm``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.GroupNorm(3, 6)(jnp.ones((2, 6, 5))).shape
        (2, 6, 5)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = Parameter(_filled((num_channels,), 1.0, dtype, device, True))
            if bias:
                self.bias = Parameter(_filled((num_channels,), 0.0, dtype, device, True))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input: jax.Array) -> jax.Array:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """Root-mean-square normalization over the trailing ``normalized_shape`` dimensions.

    :math:`y = \\frac{x}{\\sqrt{\\mathrm{mean}(x^2) + \\epsilon}} \\gamma`.

    Args:
        normalized_shape: an int or the trailing shape.
        eps: added to the mean square; ``None`` is ``finfo(input.dtype).eps``.
        elementwise_affine: learn :math:`\\gamma`. Default ``True``.
        device, dtype: where and of what type the parameter is created.

    Shape:
        - Input: :math:`(*, \\text{normalized\\_shape})`. Output: the same.

    Attributes:
        weight: ``normalized_shape``, ones.

    PyTorch: ``torch.nn.RMSNorm``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.RMSNorm(3)(jnp.ones((2, 3))).shape
        (2, 3)
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(_filled(self.normalized_shape, 1.0, dtype, device))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x: jax.Array) -> jax.Array:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
