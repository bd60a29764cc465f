"""Upsampling layers (torch.nn.modules.upsampling): ``Upsample`` and its two fixed-mode
forms, thin shells over ``F.interpolate``."""

from __future__ import annotations

import jax

from jnn.nn import functional as F
from jnn.nn.common_types import _ratio_2_t, _ratio_any_t, _size_2_t, _size_any_t
from jnn.nn.modules.module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


class Upsample(Module):
    """Upsamples multi-channel 1-d (temporal), 2-d (spatial) or 3-d (volumetric) data.

    Args:
        size: the output spatial size (an int or one per dimension).
        scale_factor: multiplier(s) for the spatial size (stored as floats); give one of
            ``size`` and ``scale_factor``.
        mode: ``'nearest'`` (default), ``'nearest-exact'``, ``'linear'``, ``'bilinear'``,
            ``'bicubic'``, ``'trilinear'`` or ``'area'``.
        align_corners: interpolating modes only; see ``F.interpolate``.
        recompute_scale_factor: sample with ``in / out`` from the computed size instead of
            the given ``scale_factor``.

    Shape:
        - Input: :math:`(N, C, W_{in})`, :math:`(N, C, H_{in}, W_{in})` or
          :math:`(N, C, D_{in}, H_{in}, W_{in})`.
        - Output: the same with :math:`D_{out} = \\lfloor D_{in} \\times
          \\text{scale\\_factor} \\rfloor` (likewise H, W), or ``size``.

    PyTorch: ``torch.nn.Upsample`` (same attributes and repr).

    Example:
        >>> import jax.numpy as jnp
        >>> Upsample(scale_factor=2, mode="bilinear")(jnp.ones((1, 1, 2, 2))).shape
        (1, 1, 4, 4)
    """

    def __init__(self, size: _size_any_t | None = None,
                 scale_factor: _ratio_any_t | None = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:  # torch's rule: a falsy factor (None, 0) is stored as None
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: jax.Array) -> jax.Array:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = "scale_factor=" + repr(self.scale_factor)
        else:
            info = "size=" + repr(self.size)
        return info + ", mode=" + repr(self.mode)


class UpsamplingNearest2d(Upsample):
    """2-d nearest-neighbour upsampling: ``Upsample(size, scale_factor, mode='nearest')``.

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})`; output :math:`(N, C, H_{out}, W_{out})`
          with :math:`H_{out} = \\lfloor H_{in} \\times \\text{scale\\_factor} \\rfloor`.

    PyTorch: ``torch.nn.UpsamplingNearest2d`` (no deprecation warning, as in torch 2.13).

    Example:
        >>> import jax.numpy as jnp
        >>> UpsamplingNearest2d(scale_factor=2)(jnp.ones((1, 1, 2, 2))).shape
        (1, 1, 4, 4)
    """

    def __init__(self, size: _size_2_t | None = None,
                 scale_factor: _ratio_2_t | None = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """2-d bilinear upsampling with ``align_corners=True``.

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})`; output :math:`(N, C, H_{out}, W_{out})`
          with :math:`H_{out} = \\lfloor H_{in} \\times \\text{scale\\_factor} \\rfloor`.

    PyTorch: ``torch.nn.UpsamplingBilinear2d`` (no deprecation warning, as in torch 2.13).

    Example:
        >>> import jax.numpy as jnp
        >>> UpsamplingBilinear2d(size=(3, 5))(jnp.ones((1, 1, 2, 2))).shape
        (1, 1, 3, 5)
    """

    def __init__(self, size: _size_2_t | None = None,
                 scale_factor: _ratio_2_t | None = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
