"""Pooling layers (torch.nn.modules.pooling): max, unpool, average, LP, adaptive, fractional.

No layer here has parameters; each stores its hyper-parameters as torch does (some
normalised to tuples, most as given, which is what their reprs print) and calls one
``F.*``.  The functional forms check their arguments, so, as in torch, a bad kernel size
or padding is reported at the first forward, not at construction.
"""

from __future__ import annotations

from typing import Any

import jax

from jnn.nn import functional as F
from jnn.nn.common_types import (
    _ratio_2_t,
    _ratio_3_t,
    _size_1_t,
    _size_2_opt_t,
    _size_2_t,
    _size_3_opt_t,
    _size_3_t,
    _size_any_opt_t,
    _size_any_t,
)
from jnn.nn.modules.module import Module
from jnn.nn.modules.utils import _pair, _single, _triple

__all__ = [
    "MaxPool1d", "MaxPool2d", "MaxPool3d",
    "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
    "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "FractionalMaxPool2d", "FractionalMaxPool3d",
    "LPPool1d", "LPPool2d", "LPPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
]


# --------------------------------------------------------------------------- max pooling
class _MaxPoolNd(Module):
    _pool: Any = None

    def __init__(self, kernel_size: _size_any_t, stride: _size_any_t | None = None,
                 padding: _size_any_t = 0, dilation: _size_any_t = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: jax.Array):
        return type(self)._pool(input, self.kernel_size, self.stride, self.padding,
                                self.dilation, ceil_mode=self.ceil_mode,
                                return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, "
                f"ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """1-d max pooling over an input of several planes; see :class:`MaxPool2d`.

    Shape:
        - Input: :math:`(N, C, L_{in})` or :math:`(C, L_{in})`.
        - Output: :math:`(N, C, L_{out})`,
          :math:`L_{out} = \\lfloor (L_{in} + 2p - d(k-1) - 1) / s \\rfloor + 1`
          (ceil in ceil mode).

    PyTorch: ``torch.nn.MaxPool1d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.MaxPool1d(3, stride=2)(jnp.ones((20, 16, 50))).shape
        (20, 16, 24)
    """

    _pool = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """2-d max pooling: each output is the maximum of a (dilated) input window.

    Args:
        kernel_size: window size, an int or ``(kH, kW)``.
        stride: window step. Default: ``kernel_size``.
        padding: implicit ``-inf`` padding on both sides, at most half the kernel.
        dilation: spacing between window elements.
        return_indices: also return the flat ``H * W`` index of each maximum (for
            :class:`MaxUnpool2d`).
        ceil_mode: round the output size up (a window must start inside the input or
            its left padding).

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})` or :math:`(C, H_{in}, W_{in})`.
        - Output: :math:`(N, C, H_{out}, W_{out})`, :math:`H_{out} = \\lfloor (H_{in} +
          2p_H - d_H(k_H-1) - 1) / s_H \\rfloor + 1` (ceil in ceil mode), likewise W.

    Attributes:
        None: the layer has no parameters or buffers.

    PyTorch: ``torch.nn.MaxPool2d``; ties and NaN resolved as torch's CPU kernel (first
    maximum, last NaN), gradients routed to that element; indices are int32.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.MaxPool2d(3, stride=2)(jnp.ones((20, 16, 50, 32))).shape
        (20, 16, 24, 15)
    """

    _pool = staticmethod(F.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """3-d max pooling; see :class:`MaxPool2d` (one more spatial dim, ``D``).

    Shape:
        - Input: :math:`(N, C, D_{in}, H_{in}, W_{in})` or :math:`(C, D_{in}, H_{in},
          W_{in})`; each output size as in :class:`MaxPool2d`.

    PyTorch: ``torch.nn.MaxPool3d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.MaxPool3d(2)(jnp.ones((2, 3, 4, 6, 8))).shape
        (2, 3, 2, 3, 4)
    """

    _pool = staticmethod(F.max_pool3d)


# --------------------------------------------------------------------------- unpooling
class _MaxUnpoolNd(Module):
    _unpool: Any = None
    _tuple: Any = None

    def __init__(self, kernel_size: _size_any_t, stride: _size_any_t | None = None,
                 padding: _size_any_t = 0) -> None:
        super().__init__()
        as_tuple = type(self)._tuple
        self.kernel_size = as_tuple(kernel_size)
        self.stride = as_tuple(stride if stride is not None else kernel_size)
        self.padding = as_tuple(padding)

    def forward(self, input: jax.Array, indices: jax.Array,
                output_size: Any | None = None) -> jax.Array:
        return type(self)._unpool(input, indices, self.kernel_size, self.stride,
                                  self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Partial inverse of :class:`MaxPool1d`; see :class:`MaxUnpool2d`.

    Shape:
        - Input: :math:`(N, C, L_{in})` or :math:`(C, L_{in})`.
        - Output: :math:`L_{out} = (L_{in} - 1) s - 2p + k`, or ``output_size``.

    PyTorch: ``torch.nn.MaxUnpool1d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> y, i = nn.MaxPool1d(2, return_indices=True)(jnp.ones((1, 1, 8)))
        >>> nn.MaxUnpool1d(2)(y, i).shape
        (1, 1, 8)
    """

    _unpool = staticmethod(F.max_unpool1d)
    _tuple = staticmethod(_single)


class MaxUnpool2d(_MaxUnpoolNd):
    """Partial inverse of :class:`MaxPool2d`: maxima return to their indices, zeros
    elsewhere.

    Args:
        kernel_size, stride, padding: those of the pooling being undone (stride defaults
            to ``kernel_size``).

    ``forward(input, indices, output_size=None)``: ``output_size`` (``(H, W)`` or
    ``(N, C, H, W)``) picks among the sizes a floored pooling maps onto the same output.

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})` or :math:`(C, H_{in}, W_{in})`.
        - Output: :math:`H_{out} = (H_{in} - 1) s_H - 2p_H + k_H` (likewise W), or
          ``output_size``.

    PyTorch: ``torch.nn.MaxUnpool2d``; an index outside the output is dropped instead of
    raising (checking it would read the values).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> y, i = nn.MaxPool2d(2, return_indices=True)(jnp.ones((1, 1, 5, 5)))
        >>> nn.MaxUnpool2d(2)(y, i, output_size=(1, 1, 5, 5)).shape
        (1, 1, 5, 5)
    """

    _unpool = staticmethod(F.max_unpool2d)
    _tuple = staticmethod(_pair)


class MaxUnpool3d(_MaxUnpoolNd):
    """Partial inverse of :class:`MaxPool3d`; see :class:`MaxUnpool2d`.

    Shape:
        - Input: :math:`(N, C, D_{in}, H_{in}, W_{in})` or unbatched; output sizes as in
          :class:`MaxUnpool2d`.

    PyTorch: ``torch.nn.MaxUnpool3d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> y, i = nn.MaxPool3d(2, return_indices=True)(jnp.ones((1, 1, 4, 4, 4)))
        >>> nn.MaxUnpool3d(2)(y, i).shape
        (1, 1, 4, 4, 4)
    """

    _unpool = staticmethod(F.max_unpool3d)
    _tuple = staticmethod(_triple)


# --------------------------------------------------------------------------- average pooling
class _AvgPoolNd(Module):
    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """1-d average pooling; see :class:`AvgPool2d` (no ``divisor_override``, as torch).

    Shape:
        - Input: :math:`(N, C, L_{in})` or :math:`(C, L_{in})`.
        - Output: :math:`L_{out} = \\lfloor (L_{in} + 2p - k) / s \\rfloor + 1` (ceil in
          ceil mode).

    PyTorch: ``torch.nn.AvgPool1d`` (stores tuples, as torch, so its repr shows them).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.AvgPool1d(3, stride=2)(jnp.ones((1, 1, 7))).shape
        (1, 1, 3)
    """

    def __init__(self, kernel_size: _size_1_t, stride: _size_1_t | None = None,
                 padding: _size_1_t = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: jax.Array) -> jax.Array:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding,
                            self.ceil_mode, self.count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """2-d average pooling: each output is the mean of an input window.

    Args:
        kernel_size: window size, an int or ``(kH, kW)``.
        stride: window step. Default: ``kernel_size``.
        padding: implicit zero padding on both sides, at most half the kernel.
        ceil_mode: round the output size up.
        count_include_pad: count the zero padding in the divisor. Default ``True``.
        divisor_override: divide every window sum by this instead.

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})` or :math:`(C, H_{in}, W_{in})`.
        - Output: :math:`H_{out} = \\lfloor (H_{in} + 2p_H - k_H) / s_H \\rfloor + 1`
          (ceil in ceil mode), likewise W.

    Attributes:
        None: the layer has no parameters or buffers.

    PyTorch: ``torch.nn.AvgPool2d`` (torch's divisors, including ceil-mode windows).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.AvgPool2d((3, 2), stride=(2, 1))(jnp.ones((20, 16, 50, 32))).shape
        (20, 16, 24, 31)
    """

    def __init__(self, kernel_size: _size_2_t, stride: _size_2_t | None = None,
                 padding: _size_2_t = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: jax.Array) -> jax.Array:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding,
                            self.ceil_mode, self.count_include_pad, self.divisor_override)


class AvgPool3d(_AvgPoolNd):
    """3-d average pooling; see :class:`AvgPool2d` (one more spatial dim, ``D``).

    Shape:
        - Input: :math:`(N, C, D_{in}, H_{in}, W_{in})` or unbatched; each output size as
          in :class:`AvgPool2d`.

    PyTorch: ``torch.nn.AvgPool3d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.AvgPool3d(2)(jnp.ones((1, 2, 4, 4, 4))).shape
        (1, 2, 2, 2, 2)
    """

    def __init__(self, kernel_size: _size_3_t, stride: _size_3_t | None = None,
                 padding: _size_3_t = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: jax.Array) -> jax.Array:
        return F.avg_pool3d(input, self.kernel_size, self.stride, self.padding,
                            self.ceil_mode, self.count_include_pad, self.divisor_override)


# --------------------------------------------------------------------------- fractional
class _FractionalMaxPoolNd(Module):
    _nd = 2

    def __init__(self, kernel_size: Any, output_size: Any = None, output_ratio: Any = None,
                 return_indices: bool = False, _random_samples: jax.Array | None = None
                 ) -> None:
        super().__init__()
        as_tuple = _pair if self._nd == 2 else _triple
        self.kernel_size = as_tuple(kernel_size)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = as_tuple(output_size) if output_size is not None else None
        self.output_ratio = as_tuple(output_ratio) if output_ratio is not None else None
        name = type(self).__name__
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a "
                             "pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input: jax.Array):
        pool = F.fractional_max_pool2d if self._nd == 2 else F.fractional_max_pool3d
        return pool(input, self.kernel_size, self.output_size, self.output_ratio,
                    self.return_indices, _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """2-d fractional max pooling: ``kernel_size`` windows at pseudo-random steps that
    shrink the input to ``output_size`` (or by ``output_ratio``).

    Args:
        kernel_size: window size, an int or ``(kH, kW)``.
        output_size: ``(H_out, W_out)`` or an int; or give
        output_ratio: a fraction in (0, 1) of the input size.
        return_indices: also return the flat ``H * W`` index of each maximum.
        _random_samples: optional fixed ``(N, C, 2)`` samples in [0, 1) (a buffer, as in
            torch); by default each forward draws new ones from jnn's generator.

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})` or :math:`(C, H_{in}, W_{in})`.
        - Output: :math:`(N, C, H_{out}, W_{out})` with ``output_size``, or
          :math:`H_{out} = \\lfloor H_{in} r_H \\rfloor` with ``output_ratio``.

    Attributes:
        _random_samples: the buffer given at construction (``None`` by default).

    PyTorch: ``torch.nn.FractionalMaxPool2d``; with torch's ``_random_samples`` the result
    is torch's, otherwise the samples come from JAX's PRNG.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.FractionalMaxPool2d(3, output_ratio=(0.5, 0.5))(jnp.ones((1, 2, 12, 10))).shape
        (1, 2, 6, 5)
    """

    _nd = 2

    def __init__(self, kernel_size: _size_2_t, output_size: _size_2_t | None = None,
                 output_ratio: _ratio_2_t | None = None, return_indices: bool = False,
                 _random_samples: jax.Array | None = None) -> None:
        super().__init__(kernel_size, output_size, output_ratio, return_indices,
                         _random_samples)


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """3-d fractional max pooling; see :class:`FractionalMaxPool2d` (samples
    ``(N, C, 3)``).

    Shape:
        - Input: :math:`(N, C, D_{in}, H_{in}, W_{in})` or unbatched.

    PyTorch: ``torch.nn.FractionalMaxPool3d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.FractionalMaxPool3d(2, output_size=3)(jnp.ones((1, 2, 6, 6, 6))).shape
        (1, 2, 3, 3, 3)
    """

    _nd = 3

    def __init__(self, kernel_size: _size_3_t, output_size: _size_3_t | None = None,
                 output_ratio: _ratio_3_t | None = None, return_indices: bool = False,
                 _random_samples: jax.Array | None = None) -> None:
        super().__init__(kernel_size, output_size, output_ratio, return_indices,
                         _random_samples)


# --------------------------------------------------------------------------- LP pooling
class _LPPoolNd(Module):
    _pool: Any = None

    def __init__(self, norm_type: float, kernel_size: _size_any_t,
                 stride: _size_any_t | None = None, ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input: jax.Array) -> jax.Array:
        return type(self)._pool(input, self.norm_type, self.kernel_size, self.stride,
                                self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """1-d power-average pooling; see :class:`LPPool2d`.

    Shape:
        - Input: :math:`(N, C, L_{in})` or :math:`(C, L_{in})`.
        - Output: :math:`L_{out} = \\lfloor (L_{in} - k) / s \\rfloor + 1`.

    PyTorch: ``torch.nn.LPPool1d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.LPPool1d(2, 3, stride=2)(jnp.ones((20, 16, 50))).shape
        (20, 16, 24)
    """

    _pool = staticmethod(F.lp_pool1d)


class LPPool2d(_LPPoolNd):
    """2-d power-average pooling: :math:`f(X) = \\sqrt[p]{\\sum_{x \\in X} x^p}` per window.

    Args:
        norm_type: the power ``p`` (``inf`` is max pooling of ``|x|``).
        kernel_size: window size, an int or ``(kH, kW)``.
        stride: window step. Default: ``kernel_size``.
        ceil_mode: round the output size up.

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})` or :math:`(C, H_{in}, W_{in})`.
        - Output: :math:`H_{out} = \\lfloor (H_{in} - k_H) / s_H \\rfloor + 1`, likewise W.

    Attributes:
        None: the layer has no parameters or buffers.

    PyTorch: ``torch.nn.LPPool2d`` (torch's formula, so its NaN for a fractional ``p`` on
    negative sums and its ceil-mode scaling too).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.LPPool2d(1.2, (3, 2), stride=(2, 1))(jnp.ones((20, 16, 50, 32))).shape
        (20, 16, 24, 31)
    """

    _pool = staticmethod(F.lp_pool2d)


class LPPool3d(_LPPoolNd):
    """3-d power-average pooling; see :class:`LPPool2d`.

    Shape:
        - Input: :math:`(N, C, D_{in}, H_{in}, W_{in})` or unbatched.

    PyTorch: ``torch.nn.LPPool3d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.LPPool3d(2, 2)(jnp.ones((1, 2, 4, 4, 4))).shape
        (1, 2, 2, 2, 2)
    """

    _pool = staticmethod(F.lp_pool3d)


# --------------------------------------------------------------------------- adaptive
class _AdaptiveMaxPoolNd(Module):
    _pool: Any = None

    def __init__(self, output_size: _size_any_opt_t, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: jax.Array):
        return type(self)._pool(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """1-d adaptive max pooling to ``output_size``; see :class:`AdaptiveMaxPool2d`.

    Shape:
        - Input: :math:`(N, C, L_{in})` or :math:`(C, L_{in})`; output :math:`L_{out}`.

    PyTorch: ``torch.nn.AdaptiveMaxPool1d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.AdaptiveMaxPool1d(5)(jnp.ones((1, 64, 8))).shape
        (1, 64, 5)
    """

    _pool = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """2-d adaptive max pooling: the output is ``output_size`` whatever the input size.

    Output cell ``i`` covers rows ``[floor(i H_in / H_out), ceil((i + 1) H_in / H_out))``,
    likewise columns.

    Args:
        output_size: an int or ``(H_out, W_out)``; ``None`` keeps that input size.
        return_indices: also return the flat ``H * W`` index of each maximum.

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})` or :math:`(C, H_{in}, W_{in})`.
        - Output: :math:`(N, C, H_{out}, W_{out})`.

    Attributes:
        None: the layer has no parameters or buffers.

    PyTorch: ``torch.nn.AdaptiveMaxPool2d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.AdaptiveMaxPool2d((5, 7))(jnp.ones((1, 64, 8, 9))).shape
        (1, 64, 5, 7)
    """

    _pool = staticmethod(F.adaptive_max_pool2d)

    def __init__(self, output_size: _size_2_opt_t, return_indices: bool = False) -> None:
        super().__init__(output_size, return_indices)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """3-d adaptive max pooling; see :class:`AdaptiveMaxPool2d`.

    Shape:
        - Input: :math:`(N, C, D_{in}, H_{in}, W_{in})` or unbatched.

    PyTorch: ``torch.nn.AdaptiveMaxPool3d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.AdaptiveMaxPool3d((5, None, 7))(jnp.ones((1, 2, 8, 9, 10))).shape
        (1, 2, 5, 9, 7)
    """

    _pool = staticmethod(F.adaptive_max_pool3d)

    def __init__(self, output_size: _size_3_opt_t, return_indices: bool = False) -> None:
        super().__init__(output_size, return_indices)


class _AdaptiveAvgPoolNd(Module):
    _pool: Any = None

    def __init__(self, output_size: _size_any_opt_t) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: jax.Array) -> jax.Array:
        return type(self)._pool(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """1-d adaptive average pooling; see :class:`AdaptiveAvgPool2d`.

    Shape:
        - Input: :math:`(N, C, L_{in})` or :math:`(C, L_{in})`; output :math:`L_{out}`.

    PyTorch: ``torch.nn.AdaptiveAvgPool1d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.AdaptiveAvgPool1d(5)(jnp.ones((1, 64, 8))).shape
        (1, 64, 5)
    """

    _pool = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """2-d adaptive average pooling over torch's adaptive windows (see
    :class:`AdaptiveMaxPool2d`).

    Args:
        output_size: an int or ``(H_out, W_out)``; ``None`` keeps that input size.

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})` or :math:`(C, H_{in}, W_{in})`.
        - Output: :math:`(N, C, H_{out}, W_{out})`.

    Attributes:
        None: the layer has no parameters or buffers.

    PyTorch: ``torch.nn.AdaptiveAvgPool2d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.AdaptiveAvgPool2d((None, 7))(jnp.ones((1, 64, 10, 9))).shape
        (1, 64, 10, 7)
    """

    _pool = staticmethod(F.adaptive_avg_pool2d)

    def __init__(self, output_size: _size_2_opt_t) -> None:
        super().__init__(output_size)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """3-d adaptive average pooling; see :class:`AdaptiveAvgPool2d`.

    Shape:
        - Input: :math:`(N, C, D_{in}, H_{in}, W_{in})` or unbatched.

    PyTorch: ``torch.nn.AdaptiveAvgPool3d``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.AdaptiveAvgPool3d(1)(jnp.ones((1, 2, 8, 9, 10))).shape
        (1, 2, 1, 1, 1)
    """

    _pool = staticmethod(F.adaptive_avg_pool3d)

    def __init__(self, output_size: _size_3_opt_t) -> None:
        super().__init__(output_size)
