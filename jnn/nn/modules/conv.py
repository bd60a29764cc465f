"""Convolution layers: ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d`` (torch.nn.modules.conv).

A layer validates its hyper-parameters with torch's checks and wording, stores them as
tuples (so ``extra_repr`` prints torch's text and the pytree spec is hashable), declares
torch's weight layout (``(out, in/groups, *k)``, transposed ``(in, out/groups, *k)``) and
calls one ``F.conv*`` in ``forward``. ``padding_mode`` other than ``'zeros'`` pads the
input first (reflect, replicate or circular) and convolves with no padding, as torch does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax

from jnn.nn import functional as F
from jnn.nn import init
from jnn.nn.common_types import _size_1_t, _size_2_t, _size_3_t
from jnn.nn.functional import _arg_errors
from jnn.nn.functional._utils import torch_size
from jnn.nn.functional.conv import _pad_for_conv
from jnn.nn.modules.lazy import LazyModuleMixin, UninitializedParameter
from jnn.nn.modules.linear import _empty
from jnn.nn.modules.module import Module
from jnn.nn.modules.utils import _pair, _reverse_repeat_tuple, _single, _triple
from jnn.nn.parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d"]

_PADDING_STRINGS = ("same", "valid")
_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _padding_arg(padding: Any, ntuple: Callable[[Any], tuple]) -> str | tuple:
    return padding if isinstance(padding, str) else ntuple(padding)


class _ConvNd(Module):
    """What every convolution shares: checks, state, initialisation and repr.

    PyTorch: ``torch.nn.modules.conv._ConvNd`` (same attributes, including
    ``_reversed_padding_repeated_twice``, which is a tuple here).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, ...],
                 stride: tuple[int, ...], padding: str | tuple[int, ...],
                 dilation: tuple[int, ...], transposed: bool,
                 output_padding: tuple[int, ...], groups: int, bias: bool,
                 padding_mode: str, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in _PADDING_STRINGS:
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"{set(_PADDING_STRINGS)}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {set(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        self._reversed_padding_repeated_twice = self._padding_for_pad()
        shape = ((in_channels, out_channels // groups) if transposed
                 else (out_channels, in_channels // groups))
        self.weight = Parameter(_empty((*shape, *kernel_size), dtype, device))
        if bias:
            self.bias = Parameter(_empty((out_channels,), dtype, device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _padding_for_pad(self) -> tuple[int, ...]:
        """``F.pad``'s layout (last dim first, low then high) of the conv's padding."""
        if not isinstance(self.padding, str):
            return _reverse_repeat_tuple(self.padding, 2)
        if self.padding == "valid":
            return (0, 0) * len(self.kernel_size)
        pads: list[int] = []
        for d, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
            total = d * (k - 1)  # torch's 'same': the odd element of padding on the right
            pads += [total // 2, total - total // 2]
        return tuple(pads)

    def reset_parameters(self) -> None:
        # torch: kaiming_uniform_(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in
        # read from the weight as stored (for a transposed conv: out/groups * prod(k)).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        padding = self.padding
        if padding != (0,) * len(padding):
            s += f", padding={padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """The forward pass of ``Conv1d/2d/3d``: ``padding_mode`` padding, then one conv."""

    _conv_fn: Callable[..., jax.Array]

    def _conv_forward(self, input: jax.Array, weight: jax.Array,
                      bias: jax.Array | None) -> jax.Array:
        if self.padding_mode != "zeros":
            rev = self._reversed_padding_repeated_twice
            pads = [(rev[i], rev[i + 1]) for i in range(len(rev) - 2, -1, -2)]
            input = _pad_for_conv(input, pads, self.padding_mode)
            return self._conv_fn(input, weight, bias, self.stride, 0, self.dilation,
                                       self.groups)
        return self._conv_fn(input, weight, bias, self.stride, self.padding,
                                   self.dilation, self.groups)

    def forward(self, input: jax.Array) -> jax.Array:
        if input is None or type(input) in (list, tuple, int, float):
            raise self._not_a_tensor(input)
        return self._conv_forward(input, self.weight, self.bias)

    def _not_a_tensor(self, input: Any) -> TypeError:
        # torch's module passes its Parameters and its hyper-parameter tuples as they are
        params = self.__dict__["_parameters"]
        got = [type(input).__name__, "Parameter",
               "Parameter" if params.get("bias") is not None else "NoneType"]
        if self.padding_mode != "zeros":
            got[0], padding = "Tensor", "int"
        else:
            padding = "str" if isinstance(self.padding, str) else "tuple"
        got += ["tuple", padding, "tuple", "int"]
        n = len(self.kernel_size)
        return _arg_errors.invalid_combination(f"conv{n}d", (), {}, got)


_CONV_DOC = """Applies a {n}-d convolution over an input of several planes.

    Args:
        in_channels: channels of the input.
        out_channels: channels produced by the convolution.
        kernel_size: size of the convolving kernel (an int or a {n}-tuple).
        stride: step of the window. Default 1.
        padding: added to every side of every spatial dim: an int, a {n}-tuple,
            ``'valid'`` (none) or ``'same'`` (output as large as the input; stride 1
            only; an odd total puts the extra element on the right). Default 0.
        dilation: spacing between kernel elements. Default 1.
        groups: blocked connections from input to output channels; both channel counts
            must be divisible by it. Default 1.
        bias: learn an additive bias. Default ``True``.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        device, dtype: where and of what type the parameters are created.

    Shape:
        - Input: :math:`(N, C_{{in}}, {dims_in})` or :math:`(C_{{in}}, {dims_in})`.
        - Output: :math:`(N, C_{{out}}, {dims_out})` or :math:`(C_{{out}}, {dims_out})`,
          each spatial size :math:`\\lfloor (L_{{in}} + 2p - d (k - 1) - 1) / s + 1 \\rfloor`.

    Attributes:
        weight: :math:`(C_{{out}}, C_{{in}} / \\text{{groups}}, {kernel})` from
            :math:`\\mathcal{{U}}(-\\sqrt{{c}}, \\sqrt{{c}})`,
            :math:`c = \\text{{groups}} / (C_{{in}} \\prod k)`.
        bias: :math:`(C_{{out}})`, from the same distribution.

    PyTorch: ``torch.nn.Conv{n}d`` (same checks, initialisation, state_dict and repr).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Conv{n}d(4, 8, 3, padding=1)(jnp.ones((2, 4, {example}))).shape
        (2, 8, {example})
    """


class Conv1d(_Conv):
    __doc__ = _CONV_DOC.format(n=1, dims_in="L_{in}", dims_out="L_{out}", kernel="k",
                               example="10")
    _conv_fn = staticmethod(F.conv1d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _size_1_t,
                 stride: _size_1_t = 1, padding: str | _size_1_t = 0,
                 dilation: _size_1_t = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, _single(kernel_size), _single(stride),
                         _padding_arg(padding, _single), _single(dilation), False,
                         _single(0), groups, bias, padding_mode, device, dtype)


class Conv2d(_Conv):
    __doc__ = _CONV_DOC.format(n=2, dims_in="H_{in}, W_{in}", dims_out="H_{out}, W_{out}",
                               kernel="k_H, k_W", example="10, 10")
    _conv_fn = staticmethod(F.conv2d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _size_2_t,
                 stride: _size_2_t = 1, padding: str | _size_2_t = 0,
                 dilation: _size_2_t = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, _pair(kernel_size), _pair(stride),
                         _padding_arg(padding, _pair), _pair(dilation), False, _pair(0),
                         groups, bias, padding_mode, device, dtype)


class Conv3d(_Conv):
    __doc__ = _CONV_DOC.format(n=3, dims_in="D_{in}, H_{in}, W_{in}",
                               dims_out="D_{out}, H_{out}, W_{out}", kernel="k_D, k_H, k_W",
                               example="6, 6, 6")
    _conv_fn = staticmethod(F.conv3d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _size_3_t,
                 stride: _size_3_t = 1, padding: str | _size_3_t = 0,
                 dilation: _size_3_t = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, _triple(kernel_size), _triple(stride),
                         _padding_arg(padding, _triple), _triple(dilation), False,
                         _triple(0), groups, bias, padding_mode, device, dtype)


# --------------------------------------------------------------------------- transposed
def _transposed_padding(padding: Any, ntuple: Callable[[Any], tuple]) -> tuple:
    # torch's _ntuple turns a string into its characters ('same' -> ('s', 'a', 'm', 'e')),
    # which forward then refuses with a TypeError; kept, so repr and error match torch.
    return tuple(padding) if isinstance(padding, str) else ntuple(padding)


class _ConvTransposeNd(_ConvNd):
    """What the transposed convolutions share: only zero padding, and ``output_size``."""

    _conv_fn: Callable[..., jax.Array]

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, ...],
                 stride: tuple[int, ...], padding: tuple[int, ...], dilation: tuple[int, ...],
                 transposed: bool, output_padding: tuple[int, ...], groups: int, bias: bool,
                 padding_mode: str, device: Any = None, dtype: Any = None) -> None:
        if padding_mode != "zeros":
            raise ValueError(
                f'Only "zeros" padding mode is supported for {self.__class__.__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         transposed, output_padding, groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input: jax.Array, output_size: Sequence[int] | None,
                        stride: Sequence[int], padding: Sequence[int],
                        kernel_size: Sequence[int], num_spatial_dims: int,
                        dilation: Sequence[int] | None = None) -> tuple[int, ...]:
        """The ``output_padding`` that makes the output ``output_size`` (torch's rule)."""
        if output_size is None:
            return _single(self.output_padding)
        ndim = input.ndim
        non_spatial = 2 if ndim == num_spatial_dims + 2 else 1
        if len(output_size) == non_spatial + num_spatial_dims:
            output_size = output_size[non_spatial:]
        if len(output_size) != num_spatial_dims:
            raise ValueError(
                f"ConvTranspose{num_spatial_dims}D: for {ndim}D input, output_size must have "
                f"{num_spatial_dims} or {non_spatial + num_spatial_dims} elements (got "
                f"{len(output_size)})")
        min_sizes = [(input.shape[d + non_spatial] - 1) * stride[d] - 2 * padding[d]
                     + (dilation[d] if dilation is not None else 1) * (kernel_size[d] - 1) + 1
                     for d in range(num_spatial_dims)]
        max_sizes = [low + s - 1 for low, s in zip(min_sizes, stride)]
        for size, low, high in zip(output_size, min_sizes, max_sizes):
            if size < low or size > high:
                raise ValueError(
                    f"requested an output size of {output_size}, but valid sizes range from "
                    f"{min_sizes} to {max_sizes} (for an input of "
                    f"{torch_size(input.shape[2:])})")
        return tuple(int(size) - low for size, low in zip(output_size, min_sizes))

    def forward(self, input: jax.Array, output_size: Sequence[int] | None = None
                ) -> jax.Array:
        n = len(self.kernel_size)
        if self.padding_mode != "zeros":  # only reachable if changed after construction
            raise ValueError(
                f"Only `zeros` padding mode is supported for ConvTranspose{n}d")
        output_padding = self._output_padding(input, output_size, self.stride, self.padding,
                                              self.kernel_size, n, self.dilation)
        return self._conv_fn(input, self.weight, self.bias, self.stride, self.padding,
                                   output_padding, self.groups, self.dilation)


_CONV_TRANSPOSE_DOC = """Applies a {n}-d transposed convolution over an input of several planes.

    The gradient of ``Conv{n}d`` with respect to its input (a "fractionally strided"
    convolution, sometimes called deconvolution).

    Args:
        in_channels: channels of the input.
        out_channels: channels produced by the convolution.
        kernel_size: size of the convolving kernel (an int or a {n}-tuple).
        stride: upsampling factor. Default 1.
        padding: ``dilation * (kernel_size - 1) - padding`` zeros are added to both sides of
            each spatial dim of the input. Default 0.
        output_padding: extra size added to one side of each output dim; must be smaller
            than ``stride`` or ``dilation``. Default 0.
        groups: blocked connections from input to output channels. Default 1.
        bias: learn an additive bias. Default ``True``.
        dilation: spacing between kernel elements. Default 1.
        padding_mode: only ``'zeros'``.
        device, dtype: where and of what type the parameters are created.

    ``forward(input, output_size=None)``: ``output_size`` (spatial, or with the batch and
    channel dims) picks the ``output_padding`` that yields that size.

    Shape:
        - Input: :math:`(N, C_{{in}}, {dims_in})` or :math:`(C_{{in}}, {dims_in})`.
        - Output: :math:`(N, C_{{out}}, {dims_out})` or :math:`(C_{{out}}, {dims_out})`,
          each spatial size :math:`(L_{{in}} - 1) s - 2p + d (k - 1) + o + 1`, with
          :math:`o` the output padding.

    Attributes:
        weight: :math:`(C_{{in}}, C_{{out}} / \\text{{groups}}, {kernel})` from
            :math:`\\mathcal{{U}}(-\\sqrt{{c}}, \\sqrt{{c}})`,
            :math:`c = \\text{{groups}} / (C_{{out}} \\prod k)` (torch reads the fan-in
            from the weight as stored).
        bias: :math:`(C_{{out}})`, from the same distribution.

    PyTorch: ``torch.nn.ConvTranspose{n}d`` (same checks, initialisation, state_dict and
    repr).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.ConvTranspose{n}d(4, 2, 3, stride=2)(jnp.ones((1, 4, {example}))).shape
        (1, 2, {example_out})
    """


class ConvTranspose1d(_ConvTransposeNd):
    __doc__ = _CONV_TRANSPOSE_DOC.format(n=1, dims_in="L_{in}", dims_out="L_{out}",
                                         kernel="k", example="5", example_out="11")
    _conv_fn = staticmethod(F.conv_transpose1d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _size_1_t,
                 stride: _size_1_t = 1, padding: _size_1_t = 0,
                 output_padding: _size_1_t = 0, groups: int = 1, bias: bool = True,
                 dilation: _size_1_t = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, _single(kernel_size), _single(stride),
                         _transposed_padding(padding, _single), _single(dilation), True,
                         _single(output_padding), groups, bias, padding_mode, device, dtype)


class ConvTranspose2d(_ConvTransposeNd):
    __doc__ = _CONV_TRANSPOSE_DOC.format(n=2, dims_in="H_{in}, W_{in}",
                                         dims_out="H_{out}, W_{out}", kernel="k_H, k_W",
                                         example="5, 5", example_out="11, 11")
    _conv_fn = staticmethod(F.conv_transpose2d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _size_2_t,
                 stride: _size_2_t = 1, padding: _size_2_t = 0,
                 output_padding: _size_2_t = 0, groups: int = 1, bias: bool = True,
                 dilation: _size_2_t = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, _pair(kernel_size), _pair(stride),
                         _transposed_padding(padding, _pair), _pair(dilation), True,
                         _pair(output_padding), groups, bias, padding_mode, device, dtype)


class ConvTranspose3d(_ConvTransposeNd):
    __doc__ = _CONV_TRANSPOSE_DOC.format(n=3, dims_in="D_{in}, H_{in}, W_{in}",
                                         dims_out="D_{out}, H_{out}, W_{out}",
                                         kernel="k_D, k_H, k_W", example="3, 3, 3",
                                         example_out="7, 7, 7")
    _conv_fn = staticmethod(F.conv_transpose3d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _size_3_t,
                 stride: _size_3_t = 1, padding: _size_3_t = 0,
                 output_padding: _size_3_t = 0, groups: int = 1, bias: bool = True,
                 dilation: _size_3_t = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, _triple(kernel_size), _triple(stride),
                         _transposed_padding(padding, _triple), _triple(dilation), True,
                         _triple(output_padding), groups, bias, padding_mode, device, dtype)


# --------------------------------------------------------------------------- lazy
class _LazyConvXdMixin(LazyModuleMixin):
    """``in_channels`` read from the first input: ``input.shape[1]`` (``[0]`` unbatched)."""

    _num_spatial_dims: int

    def _lazy_init(self, out_channels: int, bias: bool, device: Any, dtype: Any) -> None:
        # torch builds the layer with 0 channels and no bias, then swaps in placeholders
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()  # type: ignore[misc]

    def initialize_parameters(self, input: jax.Array, *args: Any, **kwargs: Any) -> None:
        """Infer ``in_channels`` from ``input`` and create the parameters."""
        if not self.has_uninitialized_params():
            return
        self.in_channels = self._get_in_channels(input)
        if self.in_channels % self.groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups)
        else:
            shape = (self.out_channels, self.in_channels // self.groups)
        self.weight.materialize((*shape, *self.kernel_size))
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()

    def _get_in_channels(self, input: jax.Array) -> int:
        unbatched = self._num_spatial_dims + 1
        if input.ndim not in (unbatched, unbatched + 1):
            raise RuntimeError(
                f"Expected {unbatched}D (unbatched) or {unbatched + 1}D (batched) input to "
                f"{self.__class__.__name__}, but got input of size: {torch_size(input.shape)}")
        return input.shape[1] if input.ndim == unbatched + 1 else input.shape[0]

    def _get_num_spatial_dims(self) -> int:
        return self._num_spatial_dims


_LAZY_DOC = """A :class:`{base}` whose ``in_channels`` is read from the first input.

    ``weight`` and ``bias`` start as :class:`~jnn.nn.modules.lazy.UninitializedParameter`;
    the first call sets ``in_channels`` from ``input.shape[1]`` (``[0]`` when unbatched),
    creates and initialises them as ``{base}`` does, and the module becomes a ``{base}``.
    Arguments, shapes and attributes are ``{base}``'s, without ``in_channels``.

    PyTorch: ``torch.nn.Lazy{base}`` (same placeholders, state_dict and class switch). Call
    it once eagerly before ``jax.jit``/``jnn.compile`` (see ``jnn.nn.modules.lazy``).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> layer = nn.Lazy{base}(8, 3)
        >>> layer(jnp.ones((2, 4, {example}))).shape[:2], type(layer).__name__
        ((2, 8), '{base}')
    """


class LazyConv1d(_LazyConvXdMixin, Conv1d):
    __doc__ = _LAZY_DOC.format(base="Conv1d", example="10")
    cls_to_become = Conv1d
    _num_spatial_dims = 1

    def __init__(self, out_channels: int, kernel_size: _size_1_t, stride: _size_1_t = 1,
                 padding: str | _size_1_t = 0, dilation: _size_1_t = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode, device=device, dtype=dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class LazyConv2d(_LazyConvXdMixin, Conv2d):
    __doc__ = _LAZY_DOC.format(base="Conv2d", example="10, 10")
    cls_to_become = Conv2d
    _num_spatial_dims = 2

    def __init__(self, out_channels: int, kernel_size: _size_2_t, stride: _size_2_t = 1,
                 padding: str | _size_2_t = 0, dilation: _size_2_t = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode, device=device, dtype=dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class LazyConv3d(_LazyConvXdMixin, Conv3d):
    __doc__ = _LAZY_DOC.format(base="Conv3d", example="6, 6, 6")
    cls_to_become = Conv3d
    _num_spatial_dims = 3

    def __init__(self, out_channels: int, kernel_size: _size_3_t, stride: _size_3_t = 1,
                 padding: str | _size_3_t = 0, dilation: _size_3_t = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode, device=device, dtype=dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class LazyConvTranspose1d(_LazyConvXdMixin, ConvTranspose1d):
    __doc__ = _LAZY_DOC.format(base="ConvTranspose1d", example="10")
    cls_to_become = ConvTranspose1d
    _num_spatial_dims = 1

    def __init__(self, out_channels: int, kernel_size: _size_1_t, stride: _size_1_t = 1,
                 padding: _size_1_t = 0, output_padding: _size_1_t = 0, groups: int = 1,
                 bias: bool = True, dilation: _size_1_t = 1, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False,
                         dilation, padding_mode, device=device, dtype=dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class LazyConvTranspose2d(_LazyConvXdMixin, ConvTranspose2d):
    __doc__ = _LAZY_DOC.format(base="ConvTranspose2d", example="10, 10")
    cls_to_become = ConvTranspose2d
    _num_spatial_dims = 2

    def __init__(self, out_channels: int, kernel_size: _size_2_t, stride: _size_2_t = 1,
                 padding: _size_2_t = 0, output_padding: _size_2_t = 0, groups: int = 1,
                 bias: bool = True, dilation: _size_2_t = 1, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False,
                         dilation, padding_mode, device=device, dtype=dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class LazyConvTranspose3d(_LazyConvXdMixin, ConvTranspose3d):
    __doc__ = _LAZY_DOC.format(base="ConvTranspose3d", example="6, 6, 6")
    cls_to_become = ConvTranspose3d
    _num_spatial_dims = 3

    def __init__(self, out_channels: int, kernel_size: _size_3_t, stride: _size_3_t = 1,
                 padding: _size_3_t = 0, output_padding: _size_3_t = 0, groups: int = 1,
                 bias: bool = True, dilation: _size_3_t = 1, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False,
                         dilation, padding_mode, device=device, dtype=dtype)
        self._lazy_init(out_channels, bias, device, dtype)
