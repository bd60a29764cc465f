"""Linear layers: ``Identity``, ``Linear``, ``Bilinear`` (torch.nn.modules.linear)."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jnn._tensor_functions.dtypes import default_float
from jnn.nn import functional as F
from jnn.nn import init
from jnn.nn.modules.lazy import LazyModuleMixin, UninitializedParameter
from jnn.nn.modules.module import Module
from jnn.nn.parameter import Parameter

__all__ = ["Identity", "Linear", "Bilinear", "LazyLinear"]


def check_size(shape: tuple[Any, ...], scalar: bool = False) -> None:
    """``torch.empty(size)``'s parser errors for a size that is not ints (``Linear(2.5, 3)``);
    ``scalar``: torch was given the one number itself (``torch.empty(num_features)``)."""
    if scalar and not hasattr(shape[0], "__index__"):
        raise TypeError("empty(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(shape[0]).__name__}")
    for pos, size in enumerate(shape):
        if not hasattr(size, "__index__"):
            kind = type(size).__name__
            if pos == 0:
                raise TypeError("empty(): argument 'size' (position 1) must be tuple of ints, "
                                f"but found element of type {kind} at pos 0")
            raise TypeError(f"empty(): argument 'size' failed to unpack the object at pos "
                            f"{pos + 1} with error \"type must be tuple of ints,but got {kind}\"")


def _empty(shape: tuple[int, ...], dtype: Any, device: Any, scalar: bool = False) -> jax.Array:
    """Uninitialised storage as torch's ``torch.empty``: zeros here, filled by reset."""
    check_size(shape, scalar)
    for size in shape:
        if size < 0:  # torch.empty's check, so Linear(3, -1) fails as in torch
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {size}: {list(shape)}")
    arr = jnp.zeros(shape, dtype=dtype or default_float())
    if device is not None:
        from jnn.nn.modules._casting import resolve_device

        arr = jax.device_put(arr, resolve_device(device))
    return arr


class Identity(Module):
    """A placeholder that returns its input; accepts and ignores any arguments.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, the same.

    PyTorch: ``torch.nn.Identity``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: jax.Array) -> jax.Array:
        return input


class Linear(Module):
    """Applies :math:`y = xA^T + b`.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: if ``False``, the layer learns no additive bias. Default ``True``.
        device, dtype: where and of what type the parameters are created.

    Shape:
        - Input: :math:`(*, H_{in})` with :math:`H_{in} = \\text{in\\_features}`.
        - Output: :math:`(*, H_{out})` with :math:`H_{out} = \\text{out\\_features}`.

    Attributes:
        weight: :math:`(\\text{out\\_features}, \\text{in\\_features})`, initialised from
            :math:`\\mathcal{U}(-\\sqrt{k}, \\sqrt{k})`, :math:`k = 1/\\text{in\\_features}`.
        bias: :math:`(\\text{out\\_features})`, from the same distribution.

    PyTorch: ``torch.nn.Linear`` (same initialisation, state_dict keys and repr).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Linear(20, 30)(jnp.ones((128, 20))).shape
        (128, 30)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(_empty((out_features, in_features), dtype, device))
        if bias:
            self.bias = Parameter(_empty((out_features,), dtype, device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch: kaiming_uniform_(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: jax.Array) -> jax.Array:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """Applies :math:`y = x_1^T A x_2 + b`.

    Args:
        in1_features, in2_features: sizes of the two inputs.
        out_features: size of the output.
        bias: learn an additive bias. Default ``True``.

    Shape:
        - Input1: :math:`(*, H_{in1})`, Input2: :math:`(*, H_{in2})`.
        - Output: :math:`(*, H_{out})`.

    Attributes:
        weight: :math:`(H_{out}, H_{in1}, H_{in2})` from
            :math:`\\mathcal{U}(-\\sqrt{k}, \\sqrt{k})`, :math:`k = 1/H_{in1}`.
        bias: :math:`(H_{out})`, same distribution.

    PyTorch: ``torch.nn.Bilinear``.
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(_empty((out_features, in1_features, in2_features), dtype,
                                       device))
        if bias:
            self.bias = Parameter(_empty((out_features,), dtype, device))
        else:
            self.register_parameter("bias", None)
        if in1_features <= 0:  # (after the weight: a negative size fails there, as torch)
            raise ValueError(f"in1_features must be > 0, but got (in1_features={in1_features})")
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: jax.Array, input2: jax.Array) -> jax.Array:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class LazyLinear(LazyModuleMixin, Linear):
    """A :class:`Linear` whose ``in_features`` is read from the first input.

    ``weight`` and ``bias`` start as :class:`UninitializedParameter`; the first call sets
    ``in_features = input.shape[-1]``, creates and initialises them as ``Linear`` does, and
    the module becomes a ``Linear``.

    Args:
        out_features: size of each output sample.
        bias: learn an additive bias. Default ``True``.
        device, dtype: where and of what type the parameters are created.

    Shape:
        - Input: :math:`(*, H_{in})`. Output: :math:`(*, H_{out})`, as :class:`Linear`.

    Attributes:
        weight: :math:`(\\text{out\\_features}, \\text{in\\_features})` once materialised,
            from :math:`\\mathcal{U}(-\\sqrt{k}, \\sqrt{k})`, :math:`k = 1/\\text{in\\_features}`.
        bias: :math:`(\\text{out\\_features})`, same distribution.

    PyTorch: ``torch.nn.LazyLinear`` (same placeholders, state_dict and class switch). Call
    it once eagerly before ``jax.jit``/``jnn.compile`` (see ``jnn.nn.modules.lazy``).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> layer = nn.LazyLinear(30)
        >>> layer(jnp.ones((128, 20))).shape, type(layer).__name__, layer.in_features
        ((128, 30), 'Linear', 20)
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        # torch builds a 0x0 Linear without bias, then swaps in the placeholders
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: jax.Array) -> None:
        """Infer ``in_features`` from ``input`` and create the parameters."""
        if self.has_uninitialized_params():
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()
        if self.in_features == 0:  # materialised by load_state_dict: take the size now
            if input.shape[-1] != self.weight.shape[-1]:
                raise AssertionError(
                    f"The in_features inferred from input: {input.shape[-1]} is not equal to "
                    f"in_features from self.weight: {self.weight.shape[-1]}")
            self.in_features = input.shape[-1]
