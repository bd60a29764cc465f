r"""Parameter initialisation, like ``torch.nn.init``.

Every function has torch's name, signature, defaults, distribution and error messages.

In-place semantics:
    JAX arrays are immutable, so "in place" means *replace the data of a box*.  Given a
    :class:`jnn.nn.Parameter`, an ``*_`` function computes a new array of the same shape
    and dtype, assigns it to ``tensor.data`` and returns the same Parameter object (as
    torch returns the same tensor).  Given a plain ``jax.Array`` or ``numpy.ndarray``,
    which cannot be changed, it returns a **new** ``jax.Array`` and leaves the input
    alone: write ``w = init.normal_(w)``.

    torch's idiom ``init.xavier_uniform_(m.weight.data)`` works as in torch: an array
    that a Parameter's ``.data`` returned, and that is still that Parameter's data, is
    the Parameter's storage, so the new values are assigned to ``m.weight.data`` (with
    its dtype and shape checks) as well as returned.  A read that the Parameter has
    replaced since (``w = p.data; p.data = v; init.zeros_(w)``) changes nothing, as in
    torch; so is ``p.detach()``.  Arrays that torch would share storage with but jnn
    cannot trace back to their Parameter give a new array only: a slice or reshape of
    ``p.data`` (``init.zeros_(p.data[0])``), a read taken before an optimizer step
    (torch's step writes into the storage, jnn's replaces the array), a read that over
    256 reads of other Parameters' ``.data`` have followed (jnn keeps the latest 256 and
    more, by weak reference), and a Module's buffers: ``init.zeros_(bn.running_mean)``
    returns zeros and leaves the buffer alone (assign them: ``bn.running_mean =
    init.zeros_(bn.running_mean)``).

Randomness:
    Draws come from jnn's global generator (``jnn.manual_seed``) or from the
    ``generator`` argument (a :class:`jnn.random.Generator`), one PRNG key per call.
    JAX's random streams differ from torch's, so values differ from torch's for the
    same seed; the distributions are torch's.  Samples are computed in float32 (float64
    for float64 parameters) and cast to the parameter's dtype.

PyTorch: ``torch.nn.init``.  Differences: ``orthogonal_`` also works for float16 and
bfloat16 parameters (torch's QR refuses them); ``trunc_normal_`` samples by inverse
CDF instead of torch's rejection loop (same distribution, raising where torch raises;
for ``a > b`` with a negative ``std`` torch's loop never ends and jnn raises); complex
parameters receive real samples (torch fills both parts).
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import log_ndtr, ndtri

from jnn import random as _random
from jnn._tensor_functions.dtypes import cpp_name
from jnn.nn.parameter import Parameter, check_fill_value, data_owners

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "orthogonal_", "sparse_",
]

# What the functions accept: a Parameter is filled in place (also through an array its
# ``.data`` returned), other arrays give a new array.
Tensor = Parameter | jax.Array | np.ndarray
_NonlinearityType = Literal[
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu",
]
_FanMode = Literal["fan_in", "fan_out"]

_LINEAR_FNS = (
    "linear", "conv1d", "conv2d", "conv3d",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
)

# torch's spellings of dtypes in its error messages: ``NotImplementedError`` names the
# scalar type, the uniform bound checks name the C++ type.
_SCALAR_NAMES = {
    "bool": "Bool", "int8": "Char", "uint8": "Byte", "int16": "Short", "uint16": "UInt16",
    "int32": "Int", "uint32": "UInt32", "int64": "Long", "uint64": "UInt64",
    "float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double",
}


def _tensor_method(method: str) -> Callable[[Callable], Callable]:
    """torch's init functions start by calling a tensor method (``tensor.fill_``,
    ``tensor.dim()``): on a number or a list that is an AttributeError naming the method."""
    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(tensor: Any, *args: Any, **kwargs: Any) -> Any:
            if not hasattr(tensor, "shape"):
                raise AttributeError(f"'{type(tensor).__name__}' object has no attribute "
                                     f"'{method}'")
            return fn(tensor, *args, **kwargs)
        return wrapper
    return decorate


# -- reading and writing the target ----------------------------------------------------
def _shape(tensor: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in (tensor.shape if hasattr(tensor, "shape") else np.shape(tensor)))


def _dtype(tensor: Any) -> np.dtype:
    dtype = tensor.dtype if hasattr(tensor, "dtype") else np.asarray(tensor).dtype
    return jax.dtypes.canonicalize_dtype(dtype)


def _numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _write(tensor: Tensor, values: jax.Array | np.ndarray) -> Tensor:
    """Store ``values`` (cast to the target's dtype): into a Parameter, else return them,
    having first stored them into the Parameter whose current ``.data`` ``tensor`` is."""
    values = jnp.asarray(values, dtype=_dtype(tensor))
    if isinstance(tensor, Parameter):
        tensor.data = values
        return tensor
    if isinstance(tensor, jax.Array):
        for owner in data_owners(tensor):  # torch's ``init.f(p.data)``: ``p``'s storage
            owner.data = values  # (the setter's checks, and a compiled store's flush)
    return values


def _unchanged(tensor: Tensor) -> Tensor:
    # A no-op keeps a Parameter as it is and returns plain arrays as jax arrays.
    return tensor if isinstance(tensor, Parameter) else jnp.array(tensor)


def _compute_dtype(dtype: np.dtype) -> Any:
    # Sample in float32 (float64 stays float64), then cast: bfloat16/float16 sampling
    # directly would lose precision in the transforms (erf, sqrt, QR).
    return jnp.float64 if dtype == jnp.float64 else jnp.float32


def _check_floating(dtype: np.dtype, kernel: str) -> None:
    # torch's random kernels exist only for floating (and complex) dtypes.
    if jnp.issubdtype(dtype, jnp.integer) or dtype == jnp.bool_:
        name = _SCALAR_NAMES.get(np.dtype(dtype).name, str(dtype))
        raise NotImplementedError(f'"{kernel}" not implemented for \'{name}\'')


def _check_uniform_bounds(a: float, b: float, dtype: np.dtype) -> None:
    """torch's ``uniform_`` argument checks, in its order and wording."""
    _check_floating(dtype, "check_uniform_bounds")
    name = np.dtype(dtype).name
    largest = float(jnp.finfo(dtype).max) if jnp.issubdtype(dtype, jnp.floating) else math.inf
    cpp = cpp_name(dtype)
    if not -largest <= a <= largest:
        raise RuntimeError(f"from is out of bounds for {cpp}")
    if not -largest <= b <= largest:
        raise RuntimeError(f"to is out of bounds for {cpp}")
    if a > b:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={a:g} > to={b:g}"
        )
    if b - a > largest:
        raise RuntimeError(
            f"uniform_ expects to-from <= std::numeric_limits<{_SCALAR_NAMES.get(name, name)}>"
            f"::max(), but found to={b:g} and from={a:g} which result in to-from to exceed "
            "the limit"
        )


def _check_std(std: float) -> None:
    if not std >= 0.0:  # also rejects nan, as torch does
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")


# -- sampling kernels ------------------------------------------------------------------
# Every sampler is one compiled program with traced hyper-parameters.  Compiling costs
# far more than sampling a weight, and a model has many weight shapes, so the
# elementwise samplers draw a flat vector whose length is rounded up to one of eight
# sizes per power of two (at most 12.5% extra draws) and keep its prefix: all of a
# model's layers share a handful of programs.  Kernels work in the compute dtype
# (float32, or float64), and ``_write`` casts, so bfloat16 and float16 share them too.
_flat_kernel = functools.partial(jax.jit, static_argnames=("size", "dtype"))
_shaped_kernel = functools.partial(jax.jit, static_argnames=("shape", "dtype"))


def _flat_size(numel: int) -> int:
    if numel <= 1024:
        return 1024
    step = 1 << (numel.bit_length() - 4)
    return -(-numel // step) * step


def _sample(kernel: Callable[..., jax.Array], key: jax.Array, *params: Any,
            shape: tuple[int, ...], dtype: np.dtype) -> jax.Array:
    """``kernel``'s samples for ``shape``: a prefix of a bucket-sized draw."""
    numel = _numel(shape)
    params = tuple(float(p) for p in params)  # an int bound must not compile a new program
    flat = kernel(key, *params, size=_flat_size(numel), dtype=_compute_dtype(dtype))
    # lax ops, not ``flat[:numel]``: jnp indexing compiles a larger program per shape.
    return jax.lax.reshape(jax.lax.slice(flat, (0,), (numel,)), shape)


@_flat_kernel
def _uniform_kernel(key: jax.Array, low: Any, high: Any, size: int, dtype: np.dtype
                    ) -> jax.Array:
    return jax.random.uniform(key, (size,), dtype, minval=low, maxval=high)


@_flat_kernel
def _normal_kernel(key: jax.Array, mean: Any, std: Any, size: int, dtype: np.dtype
                   ) -> jax.Array:
    return jax.random.normal(key, (size,), dtype) * std + mean


def _uniform(tensor: Tensor, a: float, b: float, generator: Any) -> Tensor:
    shape, dtype = _shape(tensor), _dtype(tensor)
    _check_uniform_bounds(a, b, dtype)
    key = _random.next_key(generator)
    return _write(tensor, _sample(_uniform_kernel, key, a, b, shape=shape, dtype=dtype))


def _normal(tensor: Tensor, mean: float, std: float, generator: Any) -> Tensor:
    shape, dtype = _shape(tensor), _dtype(tensor)
    _check_std(std)
    _check_floating(dtype, "normal_kernel_cpu")
    key = _random.next_key(generator)
    return _write(tensor, _sample(_normal_kernel, key, mean, std, shape=shape, dtype=dtype))


# -- gains and fans ----------------------------------------------------------------------
def calculate_gain(nonlinearity: _NonlinearityType, param: int | float | None = None) -> float:
    r"""Return the recommended gain value for the given nonlinearity function.

    ===================  ====================================================
    nonlinearity         gain
    ===================  ====================================================
    Linear / Identity    :math:`1`
    Conv{1,2,3}D         :math:`1`
    Sigmoid              :math:`1`
    Tanh                 :math:`\frac{5}{3}`
    ReLU                 :math:`\sqrt{2}`
    Leaky Relu           :math:`\sqrt{\frac{2}{1 + \text{negative\_slope}^2}}`
    SELU                 :math:`\frac{3}{4}`
    ===================  ====================================================

    Args:
        nonlinearity: the non-linear function (``nn.functional`` name).
        param: optional parameter for the non-linear function (the negative slope of
            ``leaky_relu``, default 0.01).

    PyTorch: ``torch.nn.init.calculate_gain``.

    Example:
        >>> calculate_gain("leaky_relu", 0.2)  # doctest: +ELLIPSIS
        1.38675...
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif (isinstance(param, int) and not isinstance(param, bool)) or isinstance(param, float):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        # SELU's self-normalisation wants gain 1; 3/4 is torch's empirical choice.
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shaped ``(out, in, *kernel)``, as torch computes."""
    shape = _shape(tensor)
    if len(shape) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    receptive_field_size = math.prod(shape[2:])
    return shape[1] * receptive_field_size, shape[0] * receptive_field_size


def _calculate_correct_fan(tensor: Tensor, mode: _FanMode) -> int:
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# -- plain distributions -------------------------------------------------------------------
@_tensor_method("uniform_")
def uniform_(
    tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: _random.Generator | None = None
) -> Tensor:
    r"""Fill the input with values drawn from the uniform distribution :math:`\mathcal{U}(a, b)`.

    Args:
        tensor: a Parameter (filled in place and returned) or an array (a new array
            is returned).
        a: the lower bound of the uniform distribution.
        b: the upper bound of the uniform distribution.
        generator: the :class:`jnn.random.Generator` to sample from (default: global).

    PyTorch: ``torch.nn.init.uniform_``.

    Example:
        >>> w = Parameter(jnp.empty((3, 5)))
        >>> uniform_(w).shape
        (3, 5)
    """
    return _uniform(tensor, a, b, generator)


@_tensor_method("normal_")
def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: _random.Generator | None = None
) -> Tensor:
    r"""Fill the input with values drawn from the normal distribution.

    Values are sampled from :math:`\mathcal{N}(\text{mean}, \text{std}^2)`.

    Args:
        tensor: a Parameter (filled in place and returned) or an array (a new array
            is returned).
        mean: the mean of the normal distribution.
        std: the standard deviation of the normal distribution.
        generator: the :class:`jnn.random.Generator` to sample from (default: global).

    PyTorch: ``torch.nn.init.normal_``.

    Example:
        >>> w = Parameter(jnp.empty((3, 5)))
        >>> normal_(w).shape
        (3, 5)
    """
    return _normal(tensor, mean, std, generator)


def _truncated_standard_normal(key: jax.Array, lower: Any, upper: Any,
                               shape: tuple[int, ...], dtype: Any) -> jax.Array:
    """Standard normal samples conditioned on ``[lower, upper]``, by inverse CDF.

    Accurate far into the tails (where ``jax.random.truncated_normal`` in float32 gives
    a handful of distinct values): the interval is reflected onto the negative side,
    where the CDF keeps relative precision, and worked in log space.  Probabilities too
    small for ``ndtri`` are inverted by Newton steps on ``log_ndtr`` from the asymptote
    ``log Phi(x) ~ -x^2/2 - log(-x) - log(2 pi)/2``.
    """
    lower, upper = jnp.asarray(lower, dtype), jnp.asarray(upper, dtype)
    flip = lower >= 0  # reflect so that the interval's lower end lies in the left tail
    lo, hi = jnp.where(flip, -upper, lower), jnp.where(flip, -lower, upper)
    log_cdf_lo, log_cdf_hi = log_ndtr(lo), log_ndtr(hi)
    # log P(X <= x) for X's quantile u: log(Phi(lo) + u (Phi(hi) - Phi(lo))), factored
    # through Phi(hi) so that nothing underflows.
    ratio = jnp.exp(log_cdf_lo - log_cdf_hi)
    # Shift the uniform grid k * eps off 0 by half a step: u lies in (0, 1), so an
    # infinite bound never yields an infinite sample.
    u = jax.random.uniform(key, shape, dtype) + 0.5 * float(jnp.finfo(dtype).eps)
    log_p = log_cdf_hi + jnp.log(ratio + u * -jnp.expm1(log_cdf_lo - log_cdf_hi))
    direct = ndtri(jnp.exp(log_p))
    t = jnp.maximum(-2.0 * log_p - jnp.log(jnp.maximum(-2.0 * log_p, 1.0)) - math.log(2 * math.pi),
                    1.0)
    x = -jnp.sqrt(t)
    for _ in range(4):  # Newton on log Phi(x) = log_p; slope phi(x)/Phi(x)
        log_cdf = log_ndtr(x)
        log_pdf = -0.5 * x * x - 0.5 * math.log(2 * math.pi)
        x = x - (log_cdf - log_p) / jnp.exp(log_pdf - log_cdf)
    tiny = math.log(float(jnp.finfo(dtype).tiny)) + 10.0
    x = jnp.clip(jnp.where(log_p > tiny, direct, x), lo, hi)
    return jnp.where(flip, -x, x)


@_flat_kernel
def _trunc_normal_kernel(key: jax.Array, mean: Any, scale: Any, a: Any, b: Any, size: int,
                         dtype: np.dtype) -> jax.Array:
    z = _truncated_standard_normal(key, (a - mean) / scale, (b - mean) / scale, (size,), dtype)
    # Clip after the affine map so that rounding never leaves [a, b]; casting to the
    # parameter's dtype afterwards is monotone, so it stays within dtype(a), dtype(b).
    return jnp.clip(z * scale + mean, a, b)


@_tensor_method("is_meta")
def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: _random.Generator | None = None,
) -> Tensor:
    r"""Fill the input with values drawn from a truncated normal distribution.

    The values are effectively drawn from :math:`\mathcal{N}(\text{mean}, \text{std}^2)`
    conditioned on :math:`a \leq x \leq b`; ``a`` and ``b`` are absolute bounds, not
    multiples of ``std``.

    Args:
        tensor: a Parameter (filled in place and returned) or an array (a new array
            is returned).
        mean: the mean of the normal distribution.
        std: the standard deviation of the normal distribution.
        a: the minimum cutoff value.
        b: the maximum cutoff value.
        generator: the :class:`jnn.random.Generator` to sample from (default: global).

    PyTorch: ``torch.nn.init.trunc_normal_`` (same distribution, sampled by inverse CDF
    rather than rejection).

    Example:
        >>> w = Parameter(jnp.empty((3, 5)))
        >>> trunc_normal_(w, std=0.02).shape
        (3, 5)
    """
    shape, dtype = _shape(tensor), _dtype(tensor)
    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=2,
        )
    # torch samples from N(mean, std) when [a, b] holds > 30% of the mass and from
    # U(a, b) otherwise; the branch decides which argument checks fire (std == 0 is a
    # ZeroDivisionError here, as in torch).
    mass = _normal_cdf((b - mean) / std) - _normal_cdf((a - mean) / std)
    if mass > 0.3:
        _check_floating(dtype, "normal_kernel_cpu")
        if a > b:  # torch's rejection loop would never finish (possible with std < 0)
            _check_uniform_bounds(a, b, dtype)
    else:
        _check_uniform_bounds(a, b, dtype)
    # torch's acceptance test depends on std only through its square: use |std|.
    key = _random.next_key(generator)
    values = _sample(_trunc_normal_kernel, key, mean, abs(std), a, b, shape=shape, dtype=dtype)
    return _write(tensor, values)


def _normal_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


# -- deterministic fills ------------------------------------------------------------------
@_tensor_method("fill_")
def constant_(tensor: Tensor, val: float) -> Tensor:
    r"""Fill the input with the value :math:`\text{val}`.

    Args:
        tensor: a Parameter (filled in place and returned) or an array (a new array
            is returned).
        val: the value to fill the tensor with.

    PyTorch: ``torch.nn.init.constant_``.

    Example:
        >>> w = Parameter(jnp.empty((3, 5)))
        >>> constant_(w, 0.3).shape
        (3, 5)
    """
    check_fill_value(val, _dtype(tensor))
    if isinstance(val, Parameter):  # a 0-d Parameter fills as torch's 0-d tensor does
        val = val.data
    return _write(tensor, jnp.full(_shape(tensor), val, dtype=_dtype(tensor)))


@_tensor_method("fill_")
def ones_(tensor: Tensor) -> Tensor:
    r"""Fill the input with the scalar value ``1``; see :func:`constant_`.

    PyTorch: ``torch.nn.init.ones_``.

    Example:
        >>> ones_(Parameter(jnp.empty((3, 5)))).shape
        (3, 5)
    """
    return constant_(tensor, 1.0)


@_tensor_method("zero_")
def zeros_(tensor: Tensor) -> Tensor:
    r"""Fill the input with the scalar value ``0``; see :func:`constant_`.

    PyTorch: ``torch.nn.init.zeros_``.

    Example:
        >>> zeros_(Parameter(jnp.empty((3, 5)))).shape
        (3, 5)
    """
    return constant_(tensor, 0.0)


@_tensor_method("ndimension")
def eye_(tensor: Tensor) -> Tensor:
    r"""Fill the 2-dimensional input with the identity matrix.

    Preserves the identity of the inputs in ``Linear`` layers, where as many inputs
    are preserved as possible.

    Args:
        tensor: a 2-dimensional Parameter (filled in place and returned) or array (a
            new array is returned).

    PyTorch: ``torch.nn.init.eye_``.

    Example:
        >>> eye_(Parameter(jnp.empty((3, 5)))).shape
        (3, 5)
    """
    shape = _shape(tensor)
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    # Built by numpy: a constant needs no compiled program (one per shape otherwise).
    return _write(tensor, np.eye(shape[0], shape[1], dtype=_dtype(tensor)))


@_tensor_method("ndimension")
def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    r"""Fill the {3, 4, 5}-dimensional input with the Dirac delta function.

    Preserves the identity of the inputs in convolutional layers, where as many input
    channels are preserved as possible.  With ``groups > 1`` each group of output
    channels preserves the identity.

    Args:
        tensor: a {3, 4, 5}-dimensional Parameter shaped ``(C_out, C_in, *kernel)``
            (filled in place and returned) or array (a new array is returned).
        groups: number of groups in the conv layer.

    PyTorch: ``torch.nn.init.dirac_``.

    Example:
        >>> dirac_(Parameter(jnp.empty((4, 2, 3))), groups=2).shape
        (4, 2, 3)
    """
    shape = _shape(tensor)
    if len(shape) not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_chans_per_group = shape[0] // groups
    min_dim = min(out_chans_per_group, shape[1])
    # One 1 per (group, channel): output channel g * out_per_group + d reads input
    # channel d at the kernel's centre (index size // 2 on every spatial axis).
    channel = np.arange(max(min_dim, 0))
    out_index = (np.arange(max(groups, 0))[:, None] * out_chans_per_group + channel).ravel()
    in_index = np.tile(channel, max(groups, 0))
    centre = tuple(np.full(out_index.shape, size // 2) for size in shape[2:])
    values = np.zeros(shape, _dtype(tensor))  # a constant: numpy, as in eye_
    values[(out_index, in_index, *centre)] = 1
    return _write(tensor, values)


# -- fan-scaled distributions -------------------------------------------------------------
@_tensor_method("dim")
def xavier_uniform_(
    tensor: Tensor, gain: float = 1.0, generator: _random.Generator | None = None
) -> Tensor:
    r"""Fill the input with values from a Xavier/Glorot uniform distribution.

    Values are sampled from :math:`\mathcal{U}(-a, a)` with
    :math:`a = \text{gain} \times \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}}`
    (Glorot, X. & Bengio, Y. 2010).

    Args:
        tensor: a Parameter with at least 2 dimensions (filled in place and returned)
            or array (a new array is returned).
        gain: an optional scaling factor.
        generator: the :class:`jnn.random.Generator` to sample from (default: global).

    PyTorch: ``torch.nn.init.xavier_uniform_``.

    Example:
        >>> xavier_uniform_(Parameter(jnp.empty((3, 5))), gain=calculate_gain("relu")).shape
        (3, 5)
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std  # the uniform on [-bound, bound] has this std
    return _uniform(tensor, -bound, bound, generator)


@_tensor_method("dim")
def xavier_normal_(
    tensor: Tensor, gain: float = 1.0, generator: _random.Generator | None = None
) -> Tensor:
    r"""Fill the input with values from a Xavier/Glorot normal distribution.

    Values are sampled from :math:`\mathcal{N}(0, \text{std}^2)` with
    :math:`\text{std} = \text{gain} \times \sqrt{\frac{2}{\text{fan\_in} + \text{fan\_out}}}`.

    Args:
        tensor: a Parameter with at least 2 dimensions (filled in place and returned)
            or array (a new array is returned).
        gain: an optional scaling factor.
        generator: the :class:`jnn.random.Generator` to sample from (default: global).

    PyTorch: ``torch.nn.init.xavier_normal_``.

    Example:
        >>> xavier_normal_(Parameter(jnp.empty((3, 5)))).shape
        (3, 5)
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _normal(tensor, 0.0, std, generator)


def _kaiming_std(tensor: Tensor, a: float, mode: _FanMode, nonlinearity: _NonlinearityType
                 ) -> float:
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def _warn_zero_element(tensor: Tensor) -> bool:
    if 0 in _shape(tensor):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


@_tensor_method("shape")
def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: _FanMode = "fan_in",
    nonlinearity: _NonlinearityType = "leaky_relu",
    generator: _random.Generator | None = None,
) -> Tensor:
    r"""Fill the input with values from a Kaiming/He uniform distribution.

    Values are sampled from :math:`\mathcal{U}(-\text{bound}, \text{bound})` with
    :math:`\text{bound} = \text{gain} \times \sqrt{\frac{3}{\text{fan\_mode}}}`
    (He, K. et al. 2015).

    Args:
        tensor: a Parameter with at least 2 dimensions (filled in place and returned)
            or array (a new array is returned).
        a: the negative slope of the rectifier used after this layer (only used with
            ``'leaky_relu'``).
        mode: ``'fan_in'`` (default) preserves the magnitude of the variance of the
            weights in the forward pass; ``'fan_out'`` in the backward pass.
        nonlinearity: the non-linear function (``nn.functional`` name); recommended
            only with ``'relu'`` or ``'leaky_relu'`` (default).
        generator: the :class:`jnn.random.Generator` to sample from (default: global).

    PyTorch: ``torch.nn.init.kaiming_uniform_``.

    Example:
        >>> kaiming_uniform_(Parameter(jnp.empty((3, 5))), mode="fan_in").shape
        (3, 5)
    """
    if _warn_zero_element(tensor):
        return _unchanged(tensor)
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return _uniform(tensor, -bound, bound, generator)


@_tensor_method("shape")
def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: _FanMode = "fan_in",
    nonlinearity: _NonlinearityType = "leaky_relu",
    generator: _random.Generator | None = None,
) -> Tensor:
    r"""Fill the input with values from a Kaiming/He normal distribution.

    Values are sampled from :math:`\mathcal{N}(0, \text{std}^2)` with
    :math:`\text{std} = \frac{\text{gain}}{\sqrt{\text{fan\_mode}}}`.

    Args:
        tensor: a Parameter with at least 2 dimensions (filled in place and returned)
            or array (a new array is returned).
        a: the negative slope of the rectifier used after this layer (only used with
            ``'leaky_relu'``).
        mode: ``'fan_in'`` (default) or ``'fan_out'``, as in :func:`kaiming_uniform_`.
        nonlinearity: the non-linear function (``nn.functional`` name).
        generator: the :class:`jnn.random.Generator` to sample from (default: global).

    PyTorch: ``torch.nn.init.kaiming_normal_``.

    Example:
        >>> kaiming_normal_(Parameter(jnp.empty((3, 5))), mode="fan_out").shape
        (3, 5)
    """
    if _warn_zero_element(tensor):
        return _unchanged(tensor)
    return _normal(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


# -- structured random matrices ---------------------------------------------------------
@_tensor_method("ndimension")
def orthogonal_(
    tensor: Tensor, gain: float = 1, generator: _random.Generator | None = None
) -> Tensor:
    r"""Fill the input with a (semi) orthogonal matrix, scaled by ``gain``.

    Described in Saxe, A. et al. (2013).  Dimensions after the first are flattened, so
    the result viewed as ``(rows, cols)`` has orthonormal rows (``rows <= cols``) or
    columns (``rows >= cols``).  It is the Q of a QR decomposition of a standard normal
    matrix with the signs fixed by ``diag(R)``, which makes it Haar-distributed.

    Args:
        tensor: a Parameter with at least 2 dimensions (filled in place and returned)
            or array (a new array is returned).
        gain: optional scaling factor.
        generator: the :class:`jnn.random.Generator` to sample from (default: global).

    PyTorch: ``torch.nn.init.orthogonal_`` (jnn also accepts float16/bfloat16).

    Example:
        >>> orthogonal_(Parameter(jnp.empty((3, 5)))).shape
        (3, 5)
    """
    shape, dtype = _shape(tensor), _dtype(tensor)
    if len(shape) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if _numel(shape) == 0:
        return _unchanged(tensor)
    _check_floating(dtype, "normal_kernel_cpu")
    key = _random.next_key(generator)
    if not isinstance(gain, (numbers.Number, jax.Array, np.ndarray)):  # torch: q.mul_(gain)
        raise TypeError("mul_(): argument 'other' (position 1) must be Tensor, not "
                        f"{type(gain).__name__}")
    values = _orthogonal_kernel(key, float(gain), shape=shape, dtype=_compute_dtype(dtype))
    return _write(tensor, values)


@_shaped_kernel
def _orthogonal_kernel(key: jax.Array, gain: Any, shape: tuple[int, ...],
                       dtype: np.dtype) -> jax.Array:
    rows = shape[0]
    cols = _numel(shape) // rows
    flattened = jax.random.normal(key, (rows, cols), dtype)
    if rows < cols:
        flattened = flattened.T  # QR of the tall orientation; transposed back below
    q, r = jnp.linalg.qr(flattened)
    q = q * jnp.sign(jnp.diagonal(r))  # makes Q Haar-distributed (Mezzadri 2007)
    if rows < cols:
        q = q.T
    return q.reshape(shape) * gain


@_tensor_method("ndimension")
def sparse_(
    tensor: Tensor,
    sparsity: float,
    std: float = 0.01,
    generator: _random.Generator | None = None,
) -> Tensor:
    r"""Fill the 2-dimensional input as a sparse matrix.

    Non-zero elements are drawn from :math:`\mathcal{N}(0, \text{std}^2)`; in every
    column ``ceil(sparsity * rows)`` entries, chosen uniformly at random, are zero
    (Martens, J. 2010).

    Args:
        tensor: a 2-dimensional Parameter (filled in place and returned) or array (a
            new array is returned).
        sparsity: the fraction of elements in each column to be set to zero.
        std: the standard deviation of the normal distribution used to generate the
            non-zero values.
        generator: the :class:`jnn.random.Generator` to sample from (default: global).

    PyTorch: ``torch.nn.init.sparse_``.

    Example:
        >>> sparse_(Parameter(jnp.empty((3, 5))), sparsity=0.1).shape
        (3, 5)
    """
    shape, dtype = _shape(tensor), _dtype(tensor)
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows = shape[0]
    # torch zeroes ``randperm(rows)[:num_zeros]``: Python slicing decides the count,
    # including for sparsity outside [0, 1].
    num_zeros = len(range(rows)[: math.ceil(sparsity * rows)])
    _check_std(std)
    _check_floating(dtype, "normal_kernel_cpu")
    key = _random.next_key(generator)
    values = _sparse_kernel(key, float(std), num_zeros, shape=shape, dtype=_compute_dtype(dtype))
    return _write(tensor, values)


@_shaped_kernel
def _sparse_kernel(key: jax.Array, std: Any, num_zeros: Any, shape: tuple[int, ...],
                   dtype: np.dtype) -> jax.Array:
    # One draw: plane 0 gives the values, plane 1 ranks the rows of every column; the
    # rows ranked below num_zeros form a uniformly random subset of that size.
    draws = jax.random.normal(key, (2, *shape), dtype)
    rank = jnp.argsort(jnp.argsort(draws[1], axis=0), axis=0)
    return jnp.where(rank < num_zeros, 0.0, draws[0] * std)


# -- torch's deprecated spellings without the trailing underscore ---------------------------
def _make_deprecate(meth: Callable[..., Tensor]) -> Callable[..., Tensor]:
    new_name = meth.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args: Any, **kwargs: Any) -> Tensor:
        warnings.warn(
            f"`nn.init.{old_name}` is now deprecated in favor of `nn.init.{new_name}`.",
            FutureWarning,
            stacklevel=2,
        )
        return meth(*args, **kwargs)

    deprecated_init.__name__ = old_name
    deprecated_init.__doc__ = f"Deprecated alias of :func:`{new_name}`; warns once per call."
    return deprecated_init


uniform = _make_deprecate(uniform_)
normal = _make_deprecate(normal_)
constant = _make_deprecate(constant_)
eye = _make_deprecate(eye_)
dirac = _make_deprecate(dirac_)
xavier_uniform = _make_deprecate(xavier_uniform_)
xavier_normal = _make_deprecate(xavier_normal_)
kaiming_uniform = _make_deprecate(kaiming_uniform_)
kaiming_normal = _make_deprecate(kaiming_normal_)
orthogonal = _make_deprecate(orthogonal_)
sparse = _make_deprecate(sparse_)
