"""torch's reductions: ``sum``, ``mean``, ``std``, ``max``/``min``, ``argmax``, ``norm``, ...

``dim`` is an int or a tuple (``None``, or for ``sum``/``amax``-like functions ``()``,
reduces every dim) and ``keepdim`` keeps the reduced dims as size 1.  Result dtypes are
torch's: ``sum``/``prod`` of ints and bools give int64 (int32 while ``jax_enable_x64`` is
off), ``mean``/``std``/``var`` refuse integer inputs, indices are int64 (int32 likewise).
``max``/``min`` with ``dim`` return ``(values, indices)`` named tuples.
"""

from __future__ import annotations

import builtins
import functools
import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp

from jnn._tensor_functions import dtypes, return_types
from jnn._tensor_functions._common import (
    Dims,
    broadcast_shape,
    check_bools,
    check_reduced_nonempty,
    float_input,
    input_array,
    int_result,
    not_a_tensor,
    refuse_out,
    root_or_zero,
    torch_abs,
    wrap_dim,
    wrap_dims,
)

__all__ = [
    "sum", "mean", "nansum", "prod", "std", "var", "std_mean", "var_mean", "max", "min",
    "amax", "amin", "argmax", "argmin", "logsumexp", "norm", "any", "all", "count_nonzero",
    "softmax", "log_softmax",
]


def _dtype_arg(x: jax.Array, dtype: Any, name: str) -> Any:
    return int_result(x.dtype) if dtype is None else dtypes.resolve_dtype(dtype, name)


def sum(input: jax.Array, dim: Dims = None, keepdim: builtins.bool = False, *,
        dtype: Any = None, out: Any = None) -> jax.Array:
    """Sum over ``dim`` (default all).  Ints and bools sum as torch's int64.

    PyTorch: ``torch.sum``.
    """
    refuse_out(out, "sum")
    check_bools("sum", keepdim=keepdim)
    x = input_array(input, "sum")
    return jnp.sum(x, axis=wrap_dims(dim, x.ndim), keepdims=keepdim,
                   dtype=_dtype_arg(x, dtype, "sum"))


def nansum(input: jax.Array, dim: Dims = None, keepdim: builtins.bool = False, *,
           dtype: Any = None, out: Any = None) -> jax.Array:
    """:func:`sum` treating NaN as zero.  PyTorch: ``torch.nansum``."""
    refuse_out(out, "nansum")
    check_bools("nansum", keepdim=keepdim)
    x = input_array(input, "nansum")
    return jnp.nansum(x, axis=wrap_dims(dim, x.ndim), keepdims=keepdim,
                      dtype=_dtype_arg(x, dtype, "nansum"))


def _float_only(name: str, x: jax.Array) -> None:
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        raise RuntimeError(
            f"{name}(): could not infer output dtype. Input dtype must be either a floating "
            f"point or complex dtype. Got: {dtypes.torch_name(x.dtype)}")


def mean(input: jax.Array, dim: Dims = None, keepdim: builtins.bool = False, *,
         dtype: Any = None, out: Any = None) -> jax.Array:
    """Mean over ``dim`` (default all); integer inputs need ``dtype=`` as in torch.

    PyTorch: ``torch.mean``.
    """
    refuse_out(out, "mean")
    check_bools("mean", keepdim=keepdim)
    x = input_array(input, "mean")
    if dtype is not None:
        x = x.astype(dtypes.resolve_dtype(dtype, "mean"))
    _float_only("mean", x)
    return jnp.mean(x, axis=wrap_dims(dim, x.ndim), keepdims=keepdim)


def prod(input: jax.Array, dim: builtins.int | None = None, keepdim: builtins.bool = False, *,
         dtype: Any = None, out: Any = None) -> jax.Array:
    """Product over one dim ``dim`` (an int) or all.  Ints as :func:`sum`.

    PyTorch: ``torch.prod``.
    """
    refuse_out(out, "prod")
    check_bools("prod", keepdim=keepdim)
    x = input_array(input, "prod")
    if dim is not None and not isinstance(dim, builtins.int):
        raise TypeError("prod(): argument 'dim' must be int, not " + type(dim).__name__)
    return jnp.prod(x, axis=wrap_dims(dim, x.ndim), keepdims=keepdim,
                    dtype=_dtype_arg(x, dtype, "prod"))


def _variance(name: str, input: jax.Array, dim: Any, unbiased: Any, keepdim: builtins.bool,
              correction: Any) -> tuple[jax.Array, jax.Array]:
    """(variance, mean) with torch's argument forms; mean keeps ``keepdim``."""
    if isinstance(dim, builtins.bool):  # the legacy std(input, unbiased) form
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None else builtins.int(builtins.bool(unbiased))
    elif unbiased is not None:
        raise TypeError(f"{name}(): pass either unbiased or correction, not both")
    elif not isinstance(correction, (numbers.Number, jax.Array)):
        raise TypeError(f"{name}(): argument 'correction' must be Number, not "
                        f"{type(correction).__name__}")
    x = input_array(input, name)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        which = name if name.endswith("_mean") else "std and var"  # (torch's own words)
        raise RuntimeError(f"{which} only support floating point and complex dtypes")
    var, mu = _variance_kernel(_wide(x), wrap_dims(dim, x.ndim), keepdim,
                               builtins.float(correction))
    return _narrow(var, x.dtype), _narrow(mu, x.dtype)


def _wide(x: jax.Array) -> jax.Array:
    """float16/bfloat16 as float32: torch accumulates half-precision reductions in float32
    (squares of values above 256 overflow float16) and casts the result back."""
    return x.astype(jnp.float32) if x.dtype in (jnp.float16, jnp.bfloat16) else x


def _narrow(result: jax.Array, dtype: Any) -> jax.Array:
    """A reduction computed by :func:`_wide` back in its input's half dtype."""
    return result.astype(dtype) if dtype in (jnp.float16, jnp.bfloat16) else result


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _variance_kernel(x: jax.Array, axes: tuple[builtins.int, ...], keepdim: builtins.bool,
                     correction: builtins.float) -> tuple[jax.Array, jax.Array]:
    count = math.prod(x.shape[a] for a in axes)
    mu = jnp.mean(x, axis=axes, keepdims=True)
    sq = jnp.sum(jnp.abs(x - mu) ** 2, axis=axes, keepdims=keepdim)
    # torch divides by max(0, N - correction): 0/0 is NaN, x/0 is inf (torch also warns).
    var = sq / builtins.max(0, count - correction)
    return var, mu if keepdim else jnp.squeeze(mu, axes)


def var(input: jax.Array, dim: Dims | builtins.bool = None, unbiased: builtins.bool | None = None,
        keepdim: builtins.bool = False, *, correction: Any = None, out: Any = None) -> jax.Array:
    """Variance over ``dim``, dividing by ``N - correction`` (default 1: unbiased).

    Args:
        input: a float array.
        dim: int, tuple or None (all).  ``var(x, True)`` is torch's legacy ``unbiased`` form.
        unbiased: legacy: True is ``correction=1``, False ``correction=0``.
        keepdim: keep reduced dims.
        correction: the subtracted count (may be a float).

    PyTorch: ``torch.var``.
    """
    refuse_out(out, "var")
    return _variance("var", input, dim, unbiased, keepdim, correction)[0]


def std(input: jax.Array, dim: Dims | builtins.bool = None, unbiased: builtins.bool | None = None,
        keepdim: builtins.bool = False, *, correction: Any = None, out: Any = None) -> jax.Array:
    """Standard deviation; arguments as :func:`var`.  PyTorch: ``torch.std``."""
    refuse_out(out, "std")
    return jnp.sqrt(_variance("std", input, dim, unbiased, keepdim, correction)[0])


def var_mean(input: jax.Array, dim: Dims | builtins.bool = None,
             unbiased: builtins.bool | None = None, keepdim: builtins.bool = False, *,
             correction: Any = None) -> tuple[jax.Array, jax.Array]:
    """``(var, mean)`` in one pass; arguments as :func:`var`.  PyTorch: ``torch.var_mean``."""
    return _variance("var_mean", input, dim, unbiased, keepdim, correction)


def std_mean(input: jax.Array, dim: Dims | builtins.bool = None,
             unbiased: builtins.bool | None = None, keepdim: builtins.bool = False, *,
             correction: Any = None) -> tuple[jax.Array, jax.Array]:
    """``(std, mean)``; arguments as :func:`var`.  PyTorch: ``torch.std_mean``."""
    v, mu = _variance("std_mean", input, dim, unbiased, keepdim, correction)
    return jnp.sqrt(v), mu


def _extreme(name: str, value_fn: Any, index_fn: Any, pair_fn: Any, result: type,
             input: jax.Array, dim: Any, keepdim: builtins.bool) -> Any:
    x = input_array(input, name)
    if isinstance(dim, jax.Array):  # max(input, other): elementwise
        broadcast_shape(x.shape, dim.shape)
        return pair_fn(x, dim)
    if dim is None:
        if x.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        return value_fn(x)
    if not isinstance(dim, builtins.int):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    d = wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return result(x, jnp.zeros((), dtypes.default_int()))
    if x.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    values = value_fn(x, axis=d, keepdims=keepdim)
    indices = index_fn(x, axis=d, keepdims=keepdim).astype(dtypes.default_int())
    return result(values, indices)


def max(input: jax.Array, dim: builtins.int | jax.Array | None = None,
        keepdim: builtins.bool = False, *, other: jax.Array | None = None,
        out: Any = None) -> Any:
    """The largest entry; with ``dim``, ``(values, indices)`` along it; with an array as
    second argument, the elementwise maximum.

    Returns:
        A 0-d array, a ``jnn.return_types.max(values, indices)``, or an array.

    PyTorch: ``torch.max``; NaN propagates (its index is returned), ties give the first.
    """
    refuse_out(out, "max")
    return _extreme("max", jnp.max, jnp.argmax, jnp.maximum, return_types.max, input,
                    _other_or_dim("max", dim, other), keepdim)


def min(input: jax.Array, dim: builtins.int | jax.Array | None = None,
        keepdim: builtins.bool = False, *, other: jax.Array | None = None,
        out: Any = None) -> Any:
    """The smallest entry; forms as :func:`max`.  PyTorch: ``torch.min``."""
    refuse_out(out, "min")
    return _extreme("min", jnp.min, jnp.argmin, jnp.minimum, return_types.min, input,
                    _other_or_dim("min", dim, other), keepdim)


def _other_or_dim(name: str, dim: Any, other: Any) -> Any:
    """``max(input, other=y)``: the elementwise form, as ``max(input, y)``."""
    if other is None:
        return dim
    if dim is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments: 'other' "
                        "(the elementwise form) takes no 'dim'")
    return other


def amax(input: jax.Array, dim: Dims = (), keepdim: builtins.bool = False, *,
         out: Any = None) -> jax.Array:
    """Maximum over ``dim`` (int or tuple; ``()`` means all).  PyTorch: ``torch.amax``."""
    refuse_out(out, "amax")
    x = input_array(input, "amax")
    axes = _nonempty_axes("amax", x, dim)
    return jnp.max(x, axis=axes, keepdims=keepdim)


def amin(input: jax.Array, dim: Dims = (), keepdim: builtins.bool = False, *,
         out: Any = None) -> jax.Array:
    """Minimum over ``dim`` (int or tuple; ``()`` means all).  PyTorch: ``torch.amin``."""
    refuse_out(out, "amin")
    x = input_array(input, "amin")
    axes = _nonempty_axes("amin", x, dim)
    return jnp.min(x, axis=axes, keepdims=keepdim)


def _nonempty_axes(name: str, x: jax.Array, dim: Dims) -> tuple[builtins.int, ...]:
    """amax/amin's axes, with torch's errors for an empty reduction (no identity)."""
    axes = wrap_dims(dim, x.ndim)
    if x.size == 0:
        if dim is None or (isinstance(dim, (tuple, list)) and not dim):
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        check_reduced_nonempty(name, x.shape, axes)
    return axes


def _arg(name: str, fn: Any, input: jax.Array, dim: builtins.int | None,
         keepdim: builtins.bool) -> jax.Array:
    x = input_array(input, name)
    if dim is None:
        if x.size == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.")
        idx = fn(x.reshape(-1))
        shape = (1,) * x.ndim if keepdim else ()
        return idx.reshape(shape).astype(dtypes.default_int())
    d = wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return jnp.zeros((), dtypes.default_int())
    check_reduced_nonempty(name, x.shape, (d,))
    return fn(x, axis=d, keepdims=keepdim).astype(dtypes.default_int())


def argmax(input: jax.Array, dim: builtins.int | None = None, keepdim: builtins.bool = False
           ) -> jax.Array:
    """Index of the largest entry (flattened without ``dim``).  PyTorch: ``torch.argmax``."""
    return _arg("argmax", jnp.argmax, input, dim, keepdim)


def argmin(input: jax.Array, dim: builtins.int | None = None, keepdim: builtins.bool = False
           ) -> jax.Array:
    """Index of the smallest entry (flattened without ``dim``).  PyTorch: ``torch.argmin``."""
    return _arg("argmin", jnp.argmin, input, dim, keepdim)


def logsumexp(input: jax.Array, dim: Dims, keepdim: builtins.bool = False, *,
              out: Any = None) -> jax.Array:
    """``log(sum(exp(input)))`` over ``dim``, computed stably.  PyTorch: ``torch.logsumexp``."""
    refuse_out(out, "logsumexp")
    x = float_input(input_array(input, "logsumexp"))
    return _logsumexp(x, wrap_dims(dim, x.ndim), keepdim)


# One XLA program per shape when called eagerly (inlined under a trace).
_logsumexp = jax.jit(lambda x, axes, keepdim: jax.nn.logsumexp(x, axis=axes, keepdims=keepdim),
                     static_argnums=(1, 2))


def norm(input: jax.Array, p: Any = "fro", dim: Dims = None, keepdim: builtins.bool = False,
         out: Any = None, dtype: Any = None) -> jax.Array:
    """Vector p-norm over ``dim`` (all entries without it), Frobenius (``'fro'``) or
    nuclear (``'nuc'``, over two dims).

    Args:
        p: a number (``inf``, ``-inf``, 0 allowed), ``None`` or ``'fro'`` (the 2-norm), or
            ``'nuc'`` (over two dims; both dims of a matrix without ``dim``).

    PyTorch: ``torch.norm`` (deprecated there in favour of ``torch.linalg``, kept here).
    """
    refuse_out(out, "norm")
    if not_a_tensor(input):  # torch.norm is Python that reads ``input.layout``
        raise AttributeError(f"'{type(input).__name__}' object has no attribute 'layout'")
    x = input_array(input, "norm")
    if dtype is not None:
        x = x.astype(dtypes.resolve_dtype(dtype, "norm"))
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor "
                           f"as input. Got {dtypes.torch_name(x.dtype)}")
    if builtins.isinstance(p, str) and not (p == "fro" and (
            dim is None or not builtins.isinstance(dim, (tuple, list)) or len(dim) <= 2)):
        return _narrow(_matrix_norm(_wide(x), p, dim, keepdim), x.dtype)
    p = 2.0 if p is None or p == "fro" else p  # torch: None and 'fro' are the 2-norm
    return _narrow(_vector_norm(_wide(x), p, wrap_dims(dim, x.ndim), keepdim), x.dtype)


def _matrix_norm(x: jax.Array, p: str, dim: Dims, keepdim: builtins.bool) -> jax.Array:
    """torch.norm's ``'nuc'`` (and ``'fro'`` over more than two dims, which torch refuses):
    ``torch.linalg.matrix_norm`` over ``dim``, every dim without it."""
    if p not in ("fro", "nuc"):
        raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
    if x.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    dims = tuple(range(x.ndim)) if dim is None else (
        tuple(dim) if builtins.isinstance(dim, (tuple, list)) else (dim,))
    if len(dims) != 2:
        raise RuntimeError("linalg.matrix_norm: dim must be a 2-tuple. Got "
                           + " ".join(str(d) for d in dims))
    axes = tuple(wrap_dim(d, x.ndim) for d in dims)
    if axes[0] == axes[1]:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got {tuple(dims)}")
    return jnp.linalg.norm(x, p, axis=axes, keepdims=keepdim)


def _vector_norm(x: jax.Array, p: Any, axes: tuple[builtins.int, ...],
                 keepdim: builtins.bool) -> jax.Array:
    p = builtins.float(p)
    a = torch_abs(x)  # (torch's subgradient 0 at 0: the 1-, inf- and -inf-norms)
    if math.isinf(p) and x.size == 0:  # (max/min of nothing), torch's texts as printed
        name = "inf" if p > 0 else "-inf"
        if not axes or builtins.sorted(axes) == builtins.list(builtins.range(x.ndim)):
            raise RuntimeError(f"linalg.vector_norm cannot compute the {name} norm on an "
                               "empty tensor because the operation does not have an identity")
        for d in axes:
            if x.shape[d] == 0:
                raise RuntimeError(
                    f"linalg.vector_norm cannot compute the {name} norm on the dimension {d}"
                    "because this dimension is empty and the operation does not have an "
                    "identity")
    if p == float("inf"):
        return jnp.max(a, axis=axes, keepdims=keepdim)
    if p == float("-inf"):
        return jnp.min(a, axis=axes, keepdims=keepdim)
    if p == 0:
        return jnp.sum(a != 0, axis=axes, keepdims=keepdim).astype(a.dtype)
    if p == 1:
        return jnp.sum(a, axis=axes, keepdims=keepdim)
    return root_or_zero(jnp.sum(a ** p if p != 2 else a * a, axis=axes, keepdims=keepdim), p)


def any(input: jax.Array, dim: Dims = None, keepdim: builtins.bool = False, *,
        out: Any = None) -> jax.Array:
    """Whether any entry is non-zero, over ``dim`` (default all).  PyTorch: ``torch.any``
    (which returns uint8 for uint8 input; jnn always returns bool)."""
    refuse_out(out, "any")
    x = input_array(input, "any")
    # torch: dim=[] reduces nothing here (sum's dim=[] reduces everything)
    return jnp.any(x, axis=wrap_dims(dim, x.ndim, empty_is_all=False), keepdims=keepdim)


def all(input: jax.Array, dim: Dims = None, keepdim: builtins.bool = False, *,
        out: Any = None) -> jax.Array:
    """Whether every entry is non-zero, over ``dim`` (default all).  PyTorch: ``torch.all``
    (uint8 in, uint8 out there; bool here)."""
    refuse_out(out, "all")
    x = input_array(input, "all")
    # torch: dim=[] reduces nothing here (sum's dim=[] reduces everything)
    return jnp.all(x, axis=wrap_dims(dim, x.ndim, empty_is_all=False), keepdims=keepdim)


def count_nonzero(input: jax.Array, dim: Dims = None) -> jax.Array:
    """How many entries are non-zero over ``dim`` (int64; int32 with x64 off).

    PyTorch: ``torch.count_nonzero``.
    """
    x = input_array(input, "count_nonzero")
    return jnp.sum(x != 0, axis=wrap_dims(dim, x.ndim), dtype=dtypes.default_int())


def _softmax_like(name: str, fn: Any, input: jax.Array, dim: builtins.int, dtype: Any
                  ) -> jax.Array:
    x = input_array(input, name)
    if dtype is not None:
        x = x.astype(dtypes.resolve_dtype(dtype, name))
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise NotImplementedError(f"\"{name}_lastdim_kernel_impl\" not implemented for "
                                  f"'{dtypes.torch_name(x.dtype)}'")
    if x.ndim == 0:
        wrap_dim(dim, 0)
        return fn(x.reshape(1), axis=0).reshape(())
    return fn(x, axis=wrap_dim(dim, x.ndim))


def softmax(input: jax.Array, dim: builtins.int, dtype: Any = None) -> jax.Array:
    """``exp(x) / sum(exp(x))`` along ``dim`` (computed in ``dtype`` if given).

    PyTorch: ``torch.softmax``.
    """
    return _softmax_like("softmax", jax.nn.softmax, input, dim, dtype)


def log_softmax(input: jax.Array, dim: builtins.int, dtype: Any = None) -> jax.Array:
    """``x - logsumexp(x)`` along ``dim``.  PyTorch: ``torch.log_softmax``."""
    return _softmax_like("log_softmax", jax.nn.log_softmax, input, dim, dtype)
