"""The tensor methods loss code calls on a ``Parameter``: ``p.pow(2).sum()``, ``p.norm()``,
``p @ x``, ``p.clamp(0, 1)``, ...

Each hands the Parameter itself to jnn's tensor function (``jnn.sum``, ``jnn.norm``,
``jnn.matmul``, ...), which reads it through :func:`_read`: the read is logged while a
closure is differentiated, so a penalty such as
``sum(p.pow(2).sum() for p in model.parameters())`` gets torch's gradients, and torch's
argument checks, messages and subgradients come with it.  They return ``jax.Array``s, as
torch returns tensors.  The state side of a Parameter (``.data``, ``.grad``, in-place
helpers) is in ``parameter.py``.
"""

from __future__ import annotations

import numbers
import operator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _state
from jnn._tensor_functions import linalg, maths, reductions, shaping
from jnn._tensor_functions._common import broadcast_shape
from jnn._tensor_functions.dtypes import resolve_dtype

__all__ = ["TensorMethods"]


class TensorMethods:
    """The value-side methods of ``jnn.nn.Parameter`` (a mixin: no state of its own)."""

    __slots__ = ()

    @property
    def T(self) -> jax.Array:  # noqa: N802 - torch's name
        return _read(self).T

    def t(self) -> jax.Array:
        x = _read(self)
        if x.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
        return x.T

    def pow(self, exponent: Any) -> jax.Array:
        return _read(self) ** _unwrap(exponent)

    def square(self) -> jax.Array:
        return maths.square(self)

    def sqrt(self) -> jax.Array:
        return maths.sqrt(self)

    def exp(self) -> jax.Array:
        return maths.exp(self)

    def log(self) -> jax.Array:
        return maths.log(self)

    def abs(self) -> jax.Array:
        return maths.abs(self)

    def neg(self) -> jax.Array:
        return maths.neg(self)

    def sign(self) -> jax.Array:
        return maths.sign(self)

    def floor(self) -> jax.Array:
        return maths.floor(self)

    def ceil(self) -> jax.Array:
        return maths.ceil(self)

    def trunc(self) -> jax.Array:
        return maths.trunc(self)

    def round(self, *, decimals: int = 0) -> jax.Array:
        return maths.round(self, decimals=decimals)

    def add(self, other: Any, *, alpha: Any = 1) -> jax.Array:
        return self + _scaled(other, alpha)

    def sub(self, other: Any, *, alpha: Any = 1) -> jax.Array:
        return self - _scaled(other, alpha)

    def mul(self, other: Any) -> jax.Array:
        return self * other

    def div(self, other: Any, *, rounding_mode: str | None = None) -> jax.Array:
        if rounding_mode is None:
            return self / other
        if rounding_mode == "floor":
            return self // other
        if rounding_mode != "trunc":
            raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or "
                               f"'floor' but found '{rounding_mode}'")
        a, b = _operands(self, other)
        return jnp.trunc(a / b).astype(jnp.result_type(a, b))

    def matmul(self, other: Any) -> jax.Array:
        return linalg.matmul(self, other)

    def mm(self, mat2: Any) -> jax.Array:
        return linalg.mm(self, mat2)

    def sum(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> jax.Array:
        return reductions.sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> jax.Array:
        return reductions.mean(self, dim, keepdim, dtype=dtype)

    def prod(self, dim: int | None = None, keepdim: bool = False, *,
             dtype: Any = None) -> jax.Array:
        return reductions.prod(self, dim, keepdim, dtype=dtype)

    def var(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
            correction: int | None = None) -> jax.Array:
        return reductions.var(self, dim, None if correction is not None else unbiased,
                              keepdim, correction=correction)

    def std(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
            correction: int | None = None) -> jax.Array:
        return reductions.std(self, dim, None if correction is not None else unbiased,
                              keepdim, correction=correction)

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False,
             dtype: Any = None) -> jax.Array:
        """torch's ``Tensor.norm``: a vector norm over ``dim`` (all elements by default),
        or ``'nuc'``/``'fro'`` over two dims (``jnn.norm``)."""
        return reductions.norm(self, p, dim, keepdim, dtype=dtype)

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        """The largest entry; ``(values, indices)`` along ``dim``; or ``max(other)``."""
        return reductions.max(self, _unwrap(dim), keepdim)

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        """The smallest entry; forms as :meth:`max`."""
        return reductions.min(self, _unwrap(dim), keepdim)

    def amax(self, dim: Any = (), keepdim: bool = False) -> jax.Array:
        return reductions.amax(self, dim, keepdim)

    def amin(self, dim: Any = (), keepdim: bool = False) -> jax.Array:
        return reductions.amin(self, dim, keepdim)

    def clamp(self, min: Any = None, max: Any = None) -> jax.Array:  # noqa: A002 - torch's
        return maths.clamp(self, _unwrap(min), _unwrap(max))

    clip = clamp

    def clamp_min(self, min: Any) -> jax.Array:  # noqa: A002 - torch's name
        return self.clamp(min=min)

    def clamp_max(self, max: Any) -> jax.Array:  # noqa: A002 - torch's name
        return self.clamp(max=max)

    def float(self) -> jax.Array:
        return _read(self).astype(jnp.float32)

    def double(self) -> jax.Array:
        """float64 (float32, with a warning, while JAX's x64 is off)."""
        return _read(self).astype(resolve_dtype(np.float64, "double"))

    def transpose(self, dim0: int, dim1: int) -> jax.Array:
        return shaping.transpose(self, dim0, dim1)

    @property
    def mT(self) -> jax.Array:  # noqa: N802 - torch's name
        if self.ndim < 2:
            raise RuntimeError("tensor.mT is only supported on matrices or batches of "
                               f"matrices. Got {self.ndim}-D tensor.")
        return shaping.transpose(self, -2, -1)

    def unsqueeze(self, dim: int) -> jax.Array:
        return shaping.unsqueeze(self, dim)

    def squeeze(self, dim: Any = None) -> jax.Array:
        return shaping.squeeze(self, dim)

    def reshape(self, *shape: Any) -> jax.Array:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        _check_view_shape(shape, self.numel())
        return jnp.reshape(_read(self), shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> jax.Array:
        x = _read(self)
        start, end = _wrap_dim(start_dim, x.ndim), _wrap_dim(end_dim, x.ndim)
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if x.ndim == 0:
            return x.reshape(1)
        return x.reshape(*x.shape[:start], -1, *x.shape[end + 1:])

    def __neg__(self) -> jax.Array:
        return -_read(self)

    def __pos__(self) -> jax.Array:
        return _read(self)

    def __abs__(self) -> jax.Array:
        return maths.abs(self)

    # (jnn.matmul: torch's shape and dtype checks and messages)
    def __matmul__(self, other: Any) -> jax.Array:
        return linalg.matmul(self, other)

    def __rmatmul__(self, other: Any) -> jax.Array:
        return linalg.matmul(other, self)


def _read(p: Any) -> Any:
    """``p``'s array as used in a computation (recorded while a closure is differentiated)."""
    if _state.state.read_log is not None:
        _state.log_read(p)
    return p._data


def _unwrap(x: Any) -> Any:
    return _read(x) if isinstance(x, TensorMethods) else x


def _binary(op: Any, reflected: bool = False) -> Any:
    if reflected:
        def method(self: Any, other: Any) -> Any:
            a, b = _operands(self, other, reflected=True)
            return op(b, a)
    else:
        def method(self: Any, other: Any) -> Any:
            return op(*_operands(self, other))
    return method


def _operands(p: Any, other: Any, reflected: bool = False) -> tuple[Any, Any]:
    """``p``'s array (a logged read) and ``other``'s, whose shapes broadcast (torch's
    RuntimeError where they do not, naming the left operand "a": JAX's is a TypeError)."""
    a, b = _read(p), _unwrap(other)
    if hasattr(b, "shape"):
        shapes = (tuple(b.shape), a.shape) if reflected else (a.shape, tuple(b.shape))
        broadcast_shape(*shapes)
    return a, b


def _scaled(other: Any, alpha: Any) -> Any:
    """``alpha * other`` of torch's ``add``/``sub`` (``other`` itself for the default 1)."""
    if isinstance(alpha, numbers.Number) and alpha == 1:
        return other
    return alpha * _unwrap(other)


def _wrap_dim(dim: int, ndim: int, scalar_ok: bool = True) -> int:
    """torch's dimension check: ``dim`` in ``[-ndim, ndim - 1]`` (a 0-d tensor counts as 1-d
    where torch lets it, ``scalar_ok``); returns the non-negative dimension."""
    dim = operator.index(dim)
    if ndim == 0 and not scalar_ok:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def _check_view_shape(shape: tuple, numel: int) -> None:
    """torch's ``reshape``/``view`` checks: one ``-1`` at most, and the same element count."""
    shape = tuple(operator.index(d) for d in shape)
    if sum(d == -1 for d in shape) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for d in shape:
        if d < -1:
            raise RuntimeError(f"invalid shape dimension {d}")
    known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
    inferred = -1 in shape  # (0 elements into a 0-sized shape with -1: left to JAX)
    if (numel != known) if not inferred else (numel % known if known else numel != 0):
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")


for _name, _op in [
    ("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
    ("truediv", operator.truediv), ("floordiv", operator.floordiv), ("mod", operator.mod),
    ("pow", operator.pow),
]:
    setattr(TensorMethods, f"__{_name}__", _binary(_op))
    setattr(TensorMethods, f"__r{_name}__", _binary(_op, reflected=True))
for _name, _op in [
    ("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt), ("le", operator.le),
    ("gt", operator.gt), ("ge", operator.ge),
]:
    setattr(TensorMethods, f"__{_name}__", _binary(_op))
