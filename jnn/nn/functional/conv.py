"""Convolutions: ``conv1d/2d/3d``, ``conv_transpose1d/2d/3d``, ``unfold`` and ``fold``.

Every convolution lowers to one ``lax.conv_general_dilated`` in torch's layouts
(``NC*`` inputs, ``(out, in/groups, *k)`` weights). A transposed convolution is the
gradient of a convolution with respect to its input, computed here as a convolution of
the stride-dilated input (``lhs_dilation``) with the spatially flipped kernel, whose
in/out axes are swapped per group; its padding is ``dilation * (k - 1) - padding`` on
the low side and that plus ``output_padding`` on the high side (negative values crop).

Validation reads static shapes, dtypes and arguments only, in torch's order and with its
wording (which names torch's internal operators and C++ types), so that code written
against torch's messages keeps working. Mixed dtypes raise as in torch instead of
promoting. The matmul-like reduction runs at JAX's default precision: exact float32 on
CPU; on GPUs that may be TF32, as torch's own cuDNN convolutions are by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from jnn import _precision
from jnn.nn.functional._dispatch import warn
from jnn.nn.functional._utils import (
    not_implemented_for,
    size_at,
    torch_cpp_type_name,
    torch_dtype_name,
)
from jnn.nn.functional.padding import unsupported_padding

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "unfold",
    "fold",
]

_Size = int | Sequence[int]

# How torch's CPU kernels name dtypes in their mixed-dtype messages.
_TENSOR_TYPES = {
    "float32": "torch.FloatTensor", "float64": "torch.DoubleTensor",
    "float16": "torch.HalfTensor", "bfloat16": "CPUBFloat16Type",
    "int64": "torch.LongTensor", "int32": "torch.IntTensor", "int16": "torch.ShortTensor",
    "int8": "torch.CharTensor", "uint8": "torch.ByteTensor", "bool": "torch.BoolTensor",
}


# --------------------------------------------------------------------------- checks
def _batched_shape(x: jax.Array, n: int, op: str) -> tuple[tuple[int, ...], bool]:
    """``x``'s shape with a batch axis, and whether one was added (unbatched input)."""
    if x.ndim not in (n + 1, n + 2):
        raise RuntimeError(
            f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {op}, but got "
            f"input of size: {list(x.shape)}")
    return ((1, *x.shape), True) if x.ndim == n + 1 else (tuple(x.shape), False)


def _as_tuple(value: _Size, n: int, what: str = "") -> tuple[int, ...]:
    """An int repeated ``n`` times, a sequence as a tuple (torch's ``IntArrayRef[n]``).

    ``what`` (``"conv2d(): argument 'padding' (position 5)"``) names the argument in
    torch's TypeError for a sequence holding something other than ints.
    """
    if not isinstance(value, Sequence):
        return (int(value),) * n
    for i, v in enumerate(value):
        if isinstance(v, str) or not hasattr(v, "__index__"):
            raise TypeError(f"{what} must be tuple of ints, but found element of type "
                            f"{type(v).__name__} at pos {i}")
    return tuple(int(v) for v in value)


# torch's argument positions, as its argument parser names them in a TypeError
_POSITIONS = {"stride": 4, "padding": 5, "dilation": 6, "output_padding": 6}


def _expand(op: str, name: str, value: _Size, n: int, k: int) -> tuple[int, ...]:
    """torch's ``expand_param_if_needed``: one value, or one per spatial dim of the weight."""
    position = 8 if op.startswith("conv_transpose") and name == "dilation" else _POSITIONS[name]
    values = _as_tuple(value, n, f"{op}(): argument '{name}' (position {position})")
    if len(values) == 1:
        return values * k
    if len(values) != k:
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of {k} values to match "
            f"the convolution dimensions, but got {name}={list(values)}")
    return values


def _check_params(padding: tuple, stride: tuple, dilation: tuple, groups: int,
                  output_padding: tuple = ()) -> None:
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d < 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")


def _check_shapes(xshape: tuple[int, ...], w: jax.Array, b: jax.Array | None, groups: int,
                  transposed: bool) -> None:
    """torch's ``check_shape_forward``: weight rank, groups, channels and bias."""
    if w.ndim != len(xshape):
        raise RuntimeError(
            f"Expected {w.ndim}-dimensional input for {w.ndim}-dimensional weight "
            f"{list(w.shape)}, but got {len(xshape)}-dimensional input of size {list(xshape)} "
            "instead")
    if w.shape[0] < groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, "
            f"but got weight of size {list(w.shape)} instead")
    if w.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension "
            f"0, but got weight of size [{list(w.shape)}] instead")
    given = "transposed=1" if transposed else f"groups={groups}"
    channels = w.shape[0] if transposed else w.shape[1] * groups
    if xshape[1] != channels:
        raise RuntimeError(
            f"Given {given}, weight of size {list(w.shape)}, expected input{list(xshape)} to "
            f"have {channels} channels, but got {xshape[1]} channels instead")
    out_channels = w.shape[1] * groups if transposed else w.shape[0]
    if b is not None and (b.ndim != 1 or b.shape[0] != out_channels):
        given = "Given transposed=1, weight" if transposed else "Given weight"
        raise RuntimeError(
            f"{given} of size {list(w.shape)}, expected bias to be 1-dimensional with "
            f"{out_channels} elements, but got bias of size {list(b.shape)} instead")


def _uses_mkldnn(dtype: str, xshape: tuple[int, ...], w: jax.Array, groups: int) -> bool:
    """Whether torch (CPU) would run this convolution through mkldnn, whose dtype checks
    word their errors differently ("Input type (torch.FloatTensor) and weight type ...").

    torch's ``use_mkldnn``: bfloat16 always (on a CPU with bfloat16 support); float16 only
    on a CPU with float16 arithmetic (most have none: its slow path is assumed); float64
    never; float32 by a size heuristic, read on the problem as torch sees it (a 1-d
    convolution viewed as 2-d, height 1; a 3-d one through its first two spatial sizes).
    torch also requires a strided, dilated or non-1x1 convolution, a batch of 16 or more,
    or more than one thread: the last is assumed (its default on a multi-core CPU).
    """
    if dtype == "bfloat16":
        return True
    if dtype != "float32":
        return False
    n, c, *spatial = xshape
    kernel = (1, *w.shape[2:]) if w.ndim == 3 else w.shape[2:]
    height, width = (1, spatial[0]) if len(spatial) == 1 else spatial[:2]
    return (groups > 1 or (kernel[-1] > 3 and kernel[-2] > 3) or n > 1
            or n * c * height * width > 20480)


def _check_dtypes(x: jax.Array, w: jax.Array, b: jax.Array | None, transposed: bool,
                  n: int, xshape: tuple[int, ...], groups: int) -> jax.Array | None:
    """Mixed dtypes raise torch's (CPU) RuntimeError instead of promoting; returns the bias.

    torch checks the bias first for a convolution, the weight first for a transposed one,
    and lets a 1-d/2-d transposed convolution off mkldnn take a bias of another dtype
    (cast to the input's): all three kept.  Its wording depends on whether mkldnn runs the
    convolution (:func:`_uses_mkldnn`).
    """
    xn, wn = jnp.dtype(x.dtype).name, jnp.dtype(w.dtype).name
    if xn == wn and (b is None or jnp.dtype(b.dtype).name == xn):
        return b
    mkldnn = _uses_mkldnn(xn, xshape, w, groups)

    def check_weight() -> None:
        if xn == wn:
            return
        if mkldnn:
            raise RuntimeError(
                f"Input type ({_TENSOR_TYPES.get(xn, xn)}) and weight type "
                f"({_TENSOR_TYPES.get(wn, wn)}) should be the same or input should be a "
                "MKLDNN tensor and weight is a dense tensor")
        raise RuntimeError(f"expected scalar type {torch_dtype_name(x.dtype)} but found "
                           f"{torch_dtype_name(w.dtype)}")

    def check_bias() -> jax.Array | None:
        if b is None or jnp.dtype(b.dtype).name == xn:
            return b
        bn = jnp.dtype(b.dtype).name
        if not transposed:
            raise RuntimeError(f"Input type ({torch_cpp_type_name(xn)}) and bias type "
                               f"({torch_cpp_type_name(bn)}) should be the same")
        if mkldnn:
            raise RuntimeError(
                f"Input type ({_TENSOR_TYPES.get(xn, xn)}) and bias type "
                f"({_TENSOR_TYPES.get(bn, bn)}) should be the same or input should be a "
                "MKLDNN tensor and bias is a dense tensor")
        if n == 3:
            raise RuntimeError(f"expected scalar type {torch_dtype_name(x.dtype)} but found "
                               f"{torch_dtype_name(b.dtype)}")
        return b.astype(x.dtype)

    if transposed:
        check_weight()
        return check_bias()
    b = check_bias()
    check_weight()
    return b


def _sizes(values: Sequence[int]) -> str:
    return "(" + " x ".join(str(v) for v in values) + ")"


def _named(prefix: str, values: Sequence[int], sep: str) -> str:
    """``dilation_height: 1, dilation_width: 0``: torch's transposed-kernel wording."""
    axes = ("depth", "height", "width")[-len(values):]
    return sep.join(f"{prefix}_{axis}: {v}" for axis, v in zip(axes, values))


# --------------------------------------------------------------------------- lowering
def _dimension_numbers(n: int) -> tuple[str, str, str]:
    spatial = "DHW"[-n:] if n <= 3 else "".join(chr(ord("a") + i) for i in range(n))
    return ("NC" + spatial, "OI" + spatial, "NC" + spatial)


def _lax_conv(x: jax.Array, w: jax.Array, stride: Sequence[int],
              pads: Sequence[tuple[int, int]], lhs_dilation: Sequence[int],
              dilation: Sequence[int], groups: int,
              preferred: jnp.dtype | None = None) -> jax.Array:
    return lax.conv_general_dilated(
        x, w, window_strides=tuple(stride), padding=tuple(pads),
        lhs_dilation=tuple(lhs_dilation), rhs_dilation=tuple(dilation),
        dimension_numbers=_dimension_numbers(w.ndim - 2), feature_group_count=groups,
        precision=_precision.conv(x, w), preferred_element_type=preferred)


@partial(jax.jit, static_argnames=("stride", "pads", "lhs_dilation", "dilation", "groups",
                                   "transposed", "unbatched"))
def _conv_program(x: jax.Array, w: jax.Array, b: jax.Array | None, *, stride: tuple,
                  pads: tuple, lhs_dilation: tuple, dilation: tuple, groups: int,
                  transposed: bool, unbatched: bool) -> jax.Array:
    """The whole computation as one program: an eager call compiles once per configuration
    (not once per primitive), and its gradient is one more. Inlined under an outer jit."""
    x = x[None] if unbatched else x
    w = _transposed_weight(w, groups) if transposed else w
    if b is None:
        out = _lax_conv(x, w, stride, pads, lhs_dilation, dilation, groups)
    else:
        # Half precision: torch's kernels add the bias to the float32 sums and round once
        # (float16 transposed convolutions excepted: theirs round the sums first, as here)
        half = (jnp.bfloat16,) if transposed else (jnp.float16, jnp.bfloat16)
        wide = jnp.float32 if x.dtype in half else None
        out = _lax_conv(x, w, stride, pads, lhs_dilation, dilation, groups, wide)
        out = (out + b.reshape((-1,) + (1,) * (out.ndim - 2))).astype(x.dtype)
    return out[0] if unbatched else out


def _same_padding(k: Sequence[int], dilation: Sequence[int], stride: Sequence[int]
                  ) -> tuple[tuple[int, int], ...]:
    """torch's ``padding='same'``: total ``d * (k - 1)``, the odd element on the right."""
    if any(s != 1 for s in stride):
        raise RuntimeError("padding='same' is not supported for strided convolutions")
    totals = [d * (size - 1) for size, d in zip(k, dilation)]
    if any(t % 2 for t in totals):
        warn("Using padding='same' with even kernel lengths and odd dilation may "
                      "require a zero-padded copy of the input be created", stacklevel=4)
    # a zero-size kernel (total -1) gets no padding: torch's kernel-size error follows
    totals = [max(t, 0) for t in totals]
    return tuple((t // 2, t - t // 2) for t in totals)


def _check_kernel_size(w: jax.Array, groups: int, transposed: bool) -> None:
    """torch's check on an empty kernel, in its per-rank wording (XLA would accept it)."""
    kernel = w.shape[2:]
    if all(kk > 0 for kk in kernel):
        return
    if len(kernel) == 3 and transposed:  # slow_conv_transpose3d: the per-group weight
        shape = [w.shape[0] // groups, *w.shape[1:]]
        raise RuntimeError(
            "non-empty 5D (n_output_plane x n_input_plane x kernel_depth x kernel_height x "
            f"kernel_width) tensor expected for weight, but got: {shape}")
    if len(kernel) == 3:
        raise RuntimeError("kernel size should be greater than zero, but got: "
                           f"{kernel[0]} x {kernel[1]} x {kernel[2]} (TxHxW)")
    height, width = (1, *kernel) if len(kernel) == 1 else kernel[-2:]
    raise RuntimeError("kernel size should be greater than zero, but got kernel_height: "
                       f"{height} kernel_width: {width}")


def _conv(op: str, n: int, input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None,
          stride: _Size, padding: _Size | str, dilation: _Size, groups: int) -> jax.Array:
    """One N-d convolution with torch's checks, in torch's order."""
    x = jnp.asarray(input)
    xshape, unbatched = _batched_shape(x, n, op)
    w = jnp.asarray(weight)
    b = None if bias is None else jnp.asarray(bias)
    if isinstance(padding, str) and padding not in ("same", "valid"):
        raise RuntimeError(f"Invalid padding string: '{padding}'")
    if w.ndim < 3:
        raise RuntimeError("weight should have at least three dimensions")
    k = w.ndim - 2
    stride = _expand(op, "stride", stride, n, k)
    dilation = _expand(op, "dilation", dilation, n, k)
    if padding == "same":
        pads = _same_padding(w.shape[2:], dilation, stride)
    else:
        pads = tuple((p, p) for p in _expand(op, "padding",
                                             0 if padding == "valid" else padding, n, k))
    _check_params(tuple(p for pair in pads for p in pair), stride, dilation, groups)
    _check_shapes(xshape, w, b, groups, transposed=False)
    _check_kernel_size(w, groups, transposed=False)
    if any(d == 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")
    padded = [size + lo + hi for size, (lo, hi) in zip(xshape[2:], pads)]
    kernel = [d * (size - 1) + 1 for size, d in zip(w.shape[2:], dilation)]
    if any(p < kk for p, kk in zip(padded, kernel)):
        raise RuntimeError(
            f"Calculated padded input size per channel: {_sizes(padded)}. Kernel size: "
            f"{_sizes(kernel)}. Kernel size can't be greater than actual input size")
    b = _check_dtypes(x, w, b, transposed=False, n=n, xshape=xshape, groups=groups)
    return _conv_program(x, w, b, stride=stride, pads=pads, lhs_dilation=(1,) * k,
                         dilation=dilation, groups=groups, transposed=False,
                         unbatched=unbatched)


def _transposed_weight(w: jax.Array, groups: int) -> jax.Array:
    """``(in, out/g, *k)`` -> the flipped ``(out, in/g, *k)`` kernel of the equivalent conv."""
    c_in, c_out_g, *k = w.shape
    w = w.reshape(groups, c_in // groups, c_out_g, *k).swapaxes(1, 2)
    w = w.reshape(groups * c_out_g, c_in // groups, *k)
    return jnp.flip(w, axis=tuple(range(2, w.ndim)))


def _check_transposed_sizes(xshape: tuple, w: jax.Array, stride: tuple, padding: tuple,
                            output_padding: tuple, dilation: tuple) -> None:
    """torch's ``slow_conv_transpose`` shape checks (1-d is checked as 2-d, height 1)."""
    as2d = len(stride) == 1
    lift = (lambda t, fill: (fill, *t)) if as2d else (lambda t, fill: t)
    if any(d == 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero, but got "
                           + _named("dilation", lift(dilation, 1), ", "))
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            + " ".join([_named("output_padding", lift(output_padding, 0), " "),
                        _named("stride", lift(stride, 1), " "),
                        _named("dilation", lift(dilation, 1), " ")]))
    sizes = xshape[2:]
    out = [(size - 1) * s - 2 * p + d * (kk - 1) + op + 1 for size, s, p, d, kk, op in
           zip(sizes, stride, padding, dilation, w.shape[2:], output_padding)]
    if any(o < 1 for o in out):
        raise RuntimeError(
            f"Given input size per channel: {_sizes(lift(tuple(sizes), 1))}. Calculated output "
            f"size per channel: {_sizes(lift(tuple(out), 1))}. Output size is too small")


def _conv_transpose(op: str, n: int, input: ArrayLike, weight: ArrayLike,
                    bias: ArrayLike | None, stride: _Size, padding: _Size,
                    output_padding: _Size, groups: int, dilation: _Size) -> jax.Array:
    """One N-d transposed convolution with torch's checks, in torch's order."""
    x = jnp.asarray(input)
    xshape, unbatched = _batched_shape(x, n, op)
    w = jnp.asarray(weight)
    b = None if bias is None else jnp.asarray(bias)
    if isinstance(padding, str):
        # torch's wording names no position here (its overload for a str padding)
        raise TypeError(f"{op}(): argument 'padding' must be tuple of ints, not str")
    if w.ndim < 3:
        raise RuntimeError("weight should have at least three dimensions")
    k = w.ndim - 2
    stride = _expand(op, "stride", stride, n, k)
    padding = _expand(op, "padding", padding, n, k)
    dilation = _expand(op, "dilation", dilation, n, k)
    output_padding = _expand(op, "output_padding", output_padding, n, k)
    _check_params(padding, stride, dilation, groups, output_padding)
    _check_shapes(xshape, w, b, groups, transposed=True)
    _check_kernel_size(w, groups, transposed=True)
    _check_transposed_sizes(xshape, w, stride, padding, output_padding, dilation)
    b = _check_dtypes(x, w, b, transposed=True, n=n, xshape=xshape, groups=groups)
    reach = [d * (kk - 1) for d, kk in zip(dilation, w.shape[2:])]
    pads = tuple((r - p, r - p + op) for r, p, op in zip(reach, padding, output_padding))
    return _conv_program(x, w, b, stride=(1,) * k, pads=pads, lhs_dilation=stride,
                         dilation=dilation, groups=groups, transposed=True,
                         unbatched=unbatched)


# --------------------------------------------------------------------------- public API
def conv1d(input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
           stride: _Size = 1, padding: _Size | str = 0, dilation: _Size = 1,
           groups: int = 1) -> jax.Array:
    """1-d convolution (cross-correlation) over ``(N, C_in, L)`` or ``(C_in, L)`` input.

    Args:
        input: ``(N, C_in, L_in)`` or unbatched ``(C_in, L_in)``.
        weight: ``(C_out, C_in / groups, kW)``.
        bias: ``(C_out,)``; optional.
        stride: step of the sliding window. Default 1.
        padding: implicit zeros on both sides, an int, a 1-tuple, ``'valid'`` (none) or
            ``'same'`` (output as long as the input; stride 1 only; an odd total padding
            puts the extra zero on the right). Default 0.
        dilation: spacing between kernel elements. Default 1.
        groups: split the channels into this many independent groups. Default 1.

    Shape:
        - Output: ``(N, C_out, L_out)`` with
          ``L_out = floor((L_in + 2 * padding - dilation * (kW - 1) - 1) / stride + 1)``.

    PyTorch: ``torch.nn.functional.conv1d`` (same checks and messages).

    Example:
        >>> import jax.numpy as jnp
        >>> conv1d(jnp.ones((2, 4, 10)), jnp.ones((6, 4, 3)), stride=2).shape
        (2, 6, 4)
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
           stride: _Size = 1, padding: _Size | str = 0, dilation: _Size = 1,
           groups: int = 1) -> jax.Array:
    """2-d convolution (cross-correlation) over ``(N, C_in, H, W)`` or ``(C_in, H, W)``.

    Args:
        input: ``(N, C_in, H_in, W_in)`` or unbatched ``(C_in, H_in, W_in)``.
        weight: ``(C_out, C_in / groups, kH, kW)``.
        bias: ``(C_out,)``; optional.
        stride, padding, dilation: ints or pairs; ``padding`` may be ``'valid'`` or
            ``'same'`` as in :func:`conv1d`.
        groups: number of channel groups. Default 1.

    Shape:
        - Output: ``(N, C_out, H_out, W_out)`` with, per spatial dim,
          ``floor((H_in + 2 * padding - dilation * (kH - 1) - 1) / stride + 1)``.

    PyTorch: ``torch.nn.functional.conv2d`` (same checks and messages).

    Example:
        >>> import jax.numpy as jnp
        >>> conv2d(jnp.ones((1, 3, 8, 8)), jnp.ones((4, 3, 3, 3)), padding="same").shape
        (1, 4, 8, 8)
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
           stride: _Size = 1, padding: _Size | str = 0, dilation: _Size = 1,
           groups: int = 1) -> jax.Array:
    """3-d convolution over ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)`` input.

    Args:
        input: ``(N, C_in, D_in, H_in, W_in)`` or unbatched ``(C_in, D_in, H_in, W_in)``.
        weight: ``(C_out, C_in / groups, kD, kH, kW)``.
        bias: ``(C_out,)``; optional.
        stride, padding, dilation: ints or triples; ``padding`` may be ``'valid'`` or
            ``'same'``.
        groups: number of channel groups. Default 1.

    Shape:
        - Output: ``(N, C_out, D_out, H_out, W_out)``, each spatial size
          ``floor((D_in + 2 * padding - dilation * (kD - 1) - 1) / stride + 1)``.

    PyTorch: ``torch.nn.functional.conv3d`` (same checks and messages).

    Example:
        >>> import jax.numpy as jnp
        >>> conv3d(jnp.ones((1, 2, 4, 4, 4)), jnp.ones((3, 2, 2, 2, 2))).shape
        (1, 3, 3, 3, 3)
    """
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
                     stride: _Size = 1, padding: _Size = 0, output_padding: _Size = 0,
                     groups: int = 1, dilation: _Size = 1) -> jax.Array:
    """1-d transposed convolution (the gradient of :func:`conv1d` with respect to its input).

    Args:
        input: ``(N, C_in, L_in)`` or unbatched ``(C_in, L_in)``.
        weight: ``(C_in, C_out / groups, kW)`` (note: in-channels first).
        bias: ``(C_out,)``; optional.
        stride: upsampling factor. Default 1.
        padding: ``dilation * (kW - 1) - padding`` zeros are added to both sides. Default 0.
        output_padding: extra size added to one side of the output (smaller than
            ``stride`` or ``dilation``). Default 0.
        groups: number of channel groups. Default 1.
        dilation: spacing between kernel elements. Default 1.

    Shape:
        - Output: ``(N, C_out, L_out)`` with ``L_out = (L_in - 1) * stride - 2 * padding
          + dilation * (kW - 1) + output_padding + 1``.

    PyTorch: ``torch.nn.functional.conv_transpose1d`` (same checks and messages).

    Example:
        >>> import jax.numpy as jnp
        >>> conv_transpose1d(jnp.ones((1, 4, 5)), jnp.ones((4, 2, 3)), stride=2).shape
        (1, 2, 11)
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
                     stride: _Size = 1, padding: _Size = 0, output_padding: _Size = 0,
                     groups: int = 1, dilation: _Size = 1) -> jax.Array:
    """2-d transposed convolution ("deconvolution") over ``(N, C_in, H, W)`` input.

    Args:
        input: ``(N, C_in, H_in, W_in)`` or unbatched ``(C_in, H_in, W_in)``.
        weight: ``(C_in, C_out / groups, kH, kW)``.
        bias: ``(C_out,)``; optional.
        stride, padding, output_padding, dilation: ints or pairs, as in
            :func:`conv_transpose1d`.
        groups: number of channel groups. Default 1.

    Shape:
        - Output: ``(N, C_out, H_out, W_out)``, per spatial dim ``(H_in - 1) * stride
          - 2 * padding + dilation * (kH - 1) + output_padding + 1``.

    PyTorch: ``torch.nn.functional.conv_transpose2d`` (same checks and messages).

    Example:
        >>> import jax.numpy as jnp
        >>> conv_transpose2d(jnp.ones((1, 4, 5, 5)), jnp.ones((4, 2, 3, 3)), stride=2,
        ...                  padding=1, output_padding=1).shape
        (1, 2, 10, 10)
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
                     stride: _Size = 1, padding: _Size = 0, output_padding: _Size = 0,
                     groups: int = 1, dilation: _Size = 1) -> jax.Array:
    """3-d transposed convolution over ``(N, C_in, D, H, W)`` input.

    Args:
        input: ``(N, C_in, D_in, H_in, W_in)`` or unbatched ``(C_in, D_in, H_in, W_in)``.
        weight: ``(C_in, C_out / groups, kD, kH, kW)``.
        bias: ``(C_out,)``; optional.
        stride, padding, output_padding, dilation: ints or triples.
        groups: number of channel groups. Default 1.

    Shape:
        - Output: ``(N, C_out, D_out, H_out, W_out)``, each ``(D_in - 1) * stride
          - 2 * padding + dilation * (kD - 1) + output_padding + 1``.

    PyTorch: ``torch.nn.functional.conv_transpose3d`` (same checks and messages).

    Example:
        >>> import jax.numpy as jnp
        >>> conv_transpose3d(jnp.ones((1, 2, 3, 3, 3)), jnp.ones((2, 1, 2, 2, 2))).shape
        (1, 1, 4, 4, 4)
    """
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


# --------------------------------------------------------------------------- fold / unfold
def _pair_arg(name: str, value: _Size) -> tuple[int, int]:
    values = _as_tuple(value, 2)
    if len(values) != 2:
        raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(values)}")
    return values  # type: ignore[return-value]


def _check_window(kernel: tuple, dilation: tuple, padding: tuple, stride: tuple) -> None:
    """torch's ``im2col``/``col2im`` argument checks (``kernel_height: 0 kernel_width: 0``)."""
    for what, prefix, values, bad in [
        ("kernel size should be greater than zero", "kernel", kernel, lambda v: v <= 0),
        ("stride should be greater than zero", "stride", stride, lambda v: v <= 0),
        ("dilation should be greater than zero", "dilation", dilation, lambda v: v <= 0),
        ("padding should be non-negative", "pad", padding, lambda v: v < 0),
    ]:
        if any(bad(v) for v in values):
            raise RuntimeError(f"{what}, but got {_named(prefix, values, ' ')}")


def _blocks(size: Sequence[int], kernel: tuple, dilation: tuple, padding: tuple,
            stride: tuple) -> list[int]:
    """Number of sliding-window positions per spatial dim."""
    return [(s + 2 * p - (d * (k - 1) + 1)) // st + 1
            for s, k, d, p, st in zip(size, kernel, dilation, padding, stride)]


def unfold(input: ArrayLike, kernel_size: _Size, dilation: _Size = 1, padding: _Size = 0,
           stride: _Size = 1) -> jax.Array:
    """Extract sliding local blocks (``im2col``) from a batched or unbatched image.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
        kernel_size, dilation, padding, stride: ints or pairs, as in a convolution.

    Shape:
        - Output: ``(N, C * kH * kW, L)``, ``L`` the number of block positions
          ``prod(floor((size + 2 * padding - dilation * (k - 1) - 1) / stride + 1))``;
          each column is one block, channel-major then row-major within the block.

    PyTorch: ``torch.nn.functional.unfold``. Lowered to one strided slice per kernel
    element (exact for every dtype), stacked; never a loop over positions.

    Example:
        >>> import jax.numpy as jnp
        >>> unfold(jnp.ones((2, 3, 5, 5)), kernel_size=2).shape
        (2, 12, 16)
    """
    x = jnp.asarray(input)
    if x.ndim < 3:
        size_at(x.shape, max(x.ndim, 1))  # torch reads a missing dim: its IndexError
    kernel, dil = _pair_arg("kernel_size", kernel_size), _pair_arg("dilation", dilation)
    pad, step = _pair_arg("padding", padding), _pair_arg("stride", stride)
    _check_window(kernel, dil, pad, step)
    if x.ndim not in (3, 4) or 0 in x.shape[-3:]:
        raise RuntimeError(
            "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other "
            f"non-zero dimensions for input, but got: {list(x.shape)}")
    blocks = _blocks(x.shape[-2:], kernel, dil, pad, step)
    if any(b < 1 for b in blocks):
        raise RuntimeError(
            f"Given input with spatial size {tuple(x.shape[-2:])}, kernel_size={kernel}, "
            f"dilation={dil}, padding={pad}, calculated shape of the array of sliding blocks "
            f"as {tuple(blocks)}, but its components must be at least one.")
    if jnp.issubdtype(x.dtype, jnp.integer):  # (bool is copied, as torch's im2col does)
        raise not_implemented_for("im2col_out_cpu", x.dtype)
    return _unfold_program(x, kernel=kernel, dilation=dil, padding=pad, stride=step,
                           blocks=tuple(blocks))


def _block_window(i: int, j: int, dilation: tuple, stride: tuple, blocks: tuple) -> tuple:
    """The strided slice of a padded image that kernel element ``(i, j)`` sees."""
    return (slice(None), slice(None),
            slice(i * dilation[0], i * dilation[0] + (blocks[0] - 1) * stride[0] + 1,
                  stride[0]),
            slice(j * dilation[1], j * dilation[1] + (blocks[1] - 1) * stride[1] + 1,
                  stride[1]))


@partial(jax.jit, static_argnames=("kernel", "dilation", "padding", "stride", "blocks"))
def _unfold_program(x: jax.Array, *, kernel: tuple, dilation: tuple, padding: tuple,
                    stride: tuple, blocks: tuple) -> jax.Array:
    unbatched = x.ndim == 3
    x = x[None] if unbatched else x
    x = jnp.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    patches = [x[_block_window(i, j, dilation, stride, blocks)]
               for i in range(kernel[0]) for j in range(kernel[1])]
    out = jnp.stack(patches, axis=2)  # (N, C, kH * kW, oH, oW)
    # explicit sizes, not -1: reshape cannot infer -1 on an empty batch (N = 0)
    out = out.reshape(x.shape[0], x.shape[1] * kernel[0] * kernel[1], blocks[0] * blocks[1])
    return out[0] if unbatched else out


def fold(input: ArrayLike, output_size: _Size, kernel_size: _Size, dilation: _Size = 1,
         padding: _Size = 0, stride: _Size = 1) -> jax.Array:
    """Combine sliding local blocks into an image (``col2im``), summing overlaps.

    Args:
        input: ``(N, C * kH * kW, L)`` or unbatched ``(C * kH * kW, L)``.
        output_size: the spatial size ``(H, W)`` of the image (an int or a pair).
        kernel_size, dilation, padding, stride: as given to :func:`unfold`.

    Shape:
        - Output: ``(N, C, H, W)``; ``L`` must equal the number of block positions of an
          ``(H, W)`` image, as in :func:`unfold`.

    PyTorch: ``torch.nn.functional.fold`` (the adjoint of :func:`unfold`). Lowered to one
    strided scatter-add per kernel element.

    Example:
        >>> import jax.numpy as jnp
        >>> fold(jnp.ones((2, 12, 16)), output_size=5, kernel_size=2).shape
        (2, 3, 5, 5)
    """
    x = jnp.asarray(input)
    size, kernel = _pair_arg("output_size", output_size), _pair_arg("kernel_size", kernel_size)
    dil, pad = _pair_arg("dilation", dilation), _pair_arg("padding", padding)
    step = _pair_arg("stride", stride)
    _check_window(kernel, dil, pad, step)
    if x.ndim not in (2, 3) or 0 in x.shape[-2:]:
        raise RuntimeError(
            "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and "
            f"non-zero dimensions for input, but got: {list(x.shape)}")
    k = kernel[0] * kernel[1]
    if x.shape[-2] % k:
        raise RuntimeError(
            "Expected size of input's dimension 1 to be divisible by the product of "
            f"kernel_size, but got input.size(1)={x.shape[-2]} and kernel_size={kernel}.")
    blocks = _blocks(size, kernel, dil, pad, step)
    if blocks[0] * blocks[1] != x.shape[-1]:
        raise RuntimeError(
            f"Given output_size={size}, kernel_size={kernel}, dilation={dil}, padding={pad}, "
            f"stride={step}, expected size of input's dimension 2 to match the calculated "
            f"number of sliding blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, "
            f"but got input.size(2)={x.shape[-1]}.")
    if jnp.issubdtype(x.dtype, jnp.integer):
        raise not_implemented_for("col2im_out_cpu", x.dtype)
    if x.dtype == jnp.bool_:  # torch's bool col2im: overlapping blocks OR together
        return _fold_program(x.astype(jnp.int32), size=size, kernel=kernel, dilation=dil,
                             padding=pad, stride=step, blocks=tuple(blocks)) > 0
    return _fold_program(x, size=size, kernel=kernel, dilation=dil, padding=pad, stride=step,
                         blocks=tuple(blocks))


@partial(jax.jit, static_argnames=("size", "kernel", "dilation", "padding", "stride",
                                   "blocks"))
def _fold_program(x: jax.Array, *, size: tuple, kernel: tuple, dilation: tuple,
                  padding: tuple, stride: tuple, blocks: tuple) -> jax.Array:
    unbatched = x.ndim == 2
    x = x[None] if unbatched else x
    channels = x.shape[1] // (kernel[0] * kernel[1])  # explicit, not -1: N may be 0
    cols = x.reshape(x.shape[0], channels, kernel[0], kernel[1], blocks[0], blocks[1])
    out = jnp.zeros((x.shape[0], cols.shape[1], size[0] + 2 * padding[0],
                     size[1] + 2 * padding[1]), x.dtype)
    for i in range(kernel[0]):  # one strided scatter-add per kernel element
        for j in range(kernel[1]):
            out = out.at[_block_window(i, j, dilation, stride, blocks)].add(cols[:, :, i, j])
    out = out[:, :, padding[0]: padding[0] + size[0], padding[1]: padding[1] + size[1]]
    return out[0] if unbatched else out


# --------------------------------------------------------------------------- padding modes
_JNP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad_for_conv(x: jax.Array, pads: Sequence[tuple[int, int]], mode: str) -> jax.Array:
    """Pad the last ``len(pads)`` dims for a ``padding_mode`` other than ``'zeros'``.

    ``pads`` is ``((lo, hi), ...)`` for the spatial dims in order. torch's ``F.pad`` checks
    and messages (unsupported rank, reflect size, circular wrap) come first, as in torch's
    modules, which call ``F.pad`` before the convolution. A negative padding crops.
    """
    if mode not in _JNP_MODES:  # only reachable by setting padding_mode after construction
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    n = len(pads)
    if x.ndim not in (n + 1, n + 2):
        raise unsupported_padding(2 * n, x.ndim)
    first = x.ndim - n
    crops = tuple((max(-lo, 0), max(-hi, 0)) for lo, hi in pads)
    widths = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pads)
    cropped = [size - lo - hi for size, (lo, hi) in zip(x.shape[first:], crops)]
    for axis in range(n - 1, -1, -1):  # torch reports the last dim first
        size, (lo, hi) = cropped[axis], widths[axis]
        if mode == "reflect" and (lo >= size or hi >= size):
            raise RuntimeError(
                "Argument #4: Padding size should be less than the corresponding input "
                f"dimension, but got: padding ({lo}, {hi}) at dimension {first + axis} of "
                f"input {list(x.shape[:first]) + cropped}")
        if mode == "circular" and (lo > size or hi > size):
            raise RuntimeError("Padding value causes wrapping around more than once.")
    return _pad_program(x, crops=crops, widths=widths, mode=_JNP_MODES[mode])


@partial(jax.jit, static_argnames=("crops", "widths", "mode"))
def _pad_program(x: jax.Array, *, crops: tuple, widths: tuple, mode: str) -> jax.Array:
    first = x.ndim - len(widths)
    x = x[(slice(None),) * first + tuple(slice(lo, size - hi) for size, (lo, hi)
                                         in zip(x.shape[first:], crops))]
    return jnp.pad(x, ((0, 0),) * first + widths, mode=mode)
