"""Embedding tables: ``Embedding`` and ``EmbeddingBag`` (torch.nn.modules.sparse).

``max_norm``: torch renormalises the rows a forward looks up *in place* in the weight.
jnn always returns the renormalised rows (so outputs and gradients equal torch's), and
writes the renormalised weight back into the ``weight`` Parameter wherever jnn threads
parameter state:

* eager calls (no transformation): the Parameter's ``data`` is replaced at once;
* inside a ``jnn.autograd`` closure (``loss.backward``-style ``jnn.autograd.backward``,
  ``optimizer.step(closure)``): the write is recorded and committed after the gradient,
  before the optimizer's update (the order torch has);
* under ``jnn.compile``: the new weight is part of the compiled step's output state.

Under a plain ``jax.jit``/``jax.grad`` of a function that closes over the module, the
Parameter cannot be written without leaking a tracer: the output is still renormalised
but the stored weight is left unchanged. A module passed *through* ``jax.grad``/``jax.jit``
as an argument is a copy, whose writes are discarded as JAX's purity requires.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnn import _state
from jnn.nn import functional as F
from jnn.nn import init
from jnn.nn.functional.sparse import _check_not_sparse
from jnn.nn.modules.batchnorm import _filled
from jnn.nn.modules.module import Module
from jnn.nn.parameter import Parameter

__all__ = ["Embedding", "EmbeddingBag"]


def _store_weight(param: Parameter, new: jax.Array) -> None:
    """Write ``new`` into ``param`` where jnn can thread the write (see the module docstring)."""
    st = _state.state
    old = param._data
    if st.write_log is not None:  # a differentiated closure: committed after the gradient
        _state.log_write(param, "_data", old)
        param._data = new
    elif (not isinstance(new, jax.core.Tracer) or isinstance(old, jax.core.Tracer)
          or st.compile_depth):
        param._data = new


def _padding_index(padding_idx: int | None, num_embeddings: int, what: str) -> int | None:
    """torch's constructor check and wrap of a negative ``padding_idx``."""
    if padding_idx is None:
        return None
    # torch asserts here: the same AssertionError, raised explicitly (kept under python -O);
    # torch checks only a non-zero index, so row 0 of an empty table fails at its fill
    if padding_idx != 0 and not -num_embeddings <= padding_idx < num_embeddings:
        raise AssertionError(f"{what} must be within num_embeddings")
    if num_embeddings == 0:
        raise IndexError("index 0 is out of bounds for dimension 0 with size 0")
    if not hasattr(padding_idx, "__index__"):  # torch fails indexing the row to zero it
        raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                         f"Variables are valid indices (got {type(padding_idx).__name__})")
    return padding_idx % num_embeddings


def _initial_weight(num_embeddings: int, embedding_dim: int, _weight: Any, device: Any,
                    dtype: Any) -> tuple[jax.Array, bool]:
    """The weight's starting array and whether it still needs ``reset_parameters``."""
    if _weight is None:
        return _filled((num_embeddings, embedding_dim), 0.0, dtype, device), True
    shape = tuple(jnp.shape(_weight.data if isinstance(_weight, Parameter) else _weight))
    if shape != (num_embeddings, embedding_dim):
        raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
    return _weight, False


class _EmbeddingBase(Module):
    """Construction shared by ``Embedding`` and ``EmbeddingBag``."""

    def _setup(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None,
               max_norm: float | None, norm_type: float, scale_grad_by_freq: bool,
               sparse: bool, _weight: Any, _freeze: bool, device: Any, dtype: Any,
               what: str) -> None:
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings, what)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        _check_not_sparse(sparse)
        self.sparse = sparse
        weight, needs_reset = _initial_weight(num_embeddings, embedding_dim, _weight, device,
                                              dtype)
        self.weight = Parameter(weight, requires_grad=not _freeze)
        if needs_reset:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            self.weight.data = self.weight.data.at[self.padding_idx].set(0)

    def _renorm_weight(self, input: jax.Array) -> None:
        """torch's in-place ``embedding_renorm_`` of the rows ``input`` looks up."""
        if self.max_norm is not None:
            new = F.embedding_renorm(self.weight, input, self.max_norm, self.norm_type)
            _store_weight(self._parameters["weight"], new)

    def _repr_norms(self) -> str:
        text = ""
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            text += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return text


class Embedding(_EmbeddingBase):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``.

    Args:
        num_embeddings: size of the table.
        embedding_dim: size of each vector.
        padding_idx: this row (negative counts from the end) starts at zero and gets no
            gradient.
        max_norm: rows looked up are renormalised to this norm at most, and written back
            into ``weight`` (see the module docstring for when).
        norm_type: the p of the p-norm for ``max_norm``. Default ``2.0``.
        scale_grad_by_freq: divide gradients by the index frequency in the mini-batch.
        sparse: must be ``False``: jnn's gradients are dense (raises otherwise).
        _weight: an initial weight :math:`(\\text{num\\_embeddings}, \\text{embedding\\_dim})`.
        _freeze: create the weight with ``requires_grad=False``.
        device, dtype: where and of what type the weight is created.

    Shape:
        - Input: :math:`(*)` integer indices. Output: :math:`(*, H)`, ``H = embedding_dim``.

    Attributes:
        weight: :math:`(\\text{num\\_embeddings}, \\text{embedding\\_dim})`, from
            :math:`\\mathcal{N}(0, 1)`, the ``padding_idx`` row zero.

    PyTorch: ``torch.nn.Embedding``; ``sparse=True`` raises, ``max_norm`` as described.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.Embedding(10, 3)(jnp.array([[1, 2, 4], [4, 3, 9]])).shape
        (2, 3, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False, _weight: Any = None,
                 _freeze: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self._setup(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
                    scale_grad_by_freq, sparse, _weight, _freeze, device, dtype, "Padding_idx")

    def forward(self, input: jax.Array) -> jax.Array:
        out = F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                          self.scale_grad_by_freq, self.sparse)
        self._renorm_weight(input)
        return out

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text + self._repr_norms() + (", sparse=True" if self.sparse else "")

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An ``Embedding`` holding ``embeddings`` (2-D), frozen unless ``freeze=False``.

        The ``padding_idx`` row is kept as given (torch zeroes it only when it initialises).
        """
        _check_pretrained(embeddings)
        rows, cols = jnp.shape(_as_array(embeddings))
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)


def _as_array(value: Any) -> Any:
    return value.data if isinstance(value, Parameter) else value


def _check_pretrained(embeddings: Any) -> None:
    if not hasattr(embeddings, "shape"):  # torch calls embeddings.dim()
        raise AttributeError(f"'{type(embeddings).__name__}' object has no attribute 'dim'")
    if jnp.ndim(_as_array(embeddings)) != 2:
        raise AssertionError("Embeddings parameter is expected to be 2-dimensional")


class EmbeddingBag(_EmbeddingBase):
    """Sums, means or maxima over bags of embeddings, without materialising the bags.

    Args:
        num_embeddings, embedding_dim, max_norm, norm_type, scale_grad_by_freq, sparse,
            _weight, device, dtype: as :class:`Embedding`.
        mode: ``'sum'``, ``'mean'`` or ``'max'`` per bag. Default ``'mean'``.
        include_last_offset: ``offsets`` has one more entry, the end of the last bag.
        padding_idx: this row starts at zero and is left out of every bag.

    Shape:
        - ``input`` :math:`(B, N)` (``offsets`` ``None``) or :math:`(L)` with ``offsets``
          :math:`(B)` (:math:`(B + 1)` with ``include_last_offset``); ``per_sample_weights``
          like ``input`` (``mode='sum'`` only). Output: :math:`(B, H)`.

    Attributes:
        weight: :math:`(\\text{num\\_embeddings}, \\text{embedding\\_dim})` from
            :math:`\\mathcal{N}(0, 1)`, the ``padding_idx`` row zero.

    PyTorch: ``torch.nn.EmbeddingBag``, with :class:`Embedding`'s differences.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> bag = nn.EmbeddingBag(10, 3, mode="sum")
        >>> bag(jnp.array([1, 2, 4, 5, 4, 3, 2, 9]), jnp.array([0, 4])).shape
        (2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight: Any = None, include_last_offset: bool = False,
                 padding_idx: int | None = None, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.mode = mode
        self.include_last_offset = include_last_offset
        self._setup(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
                    scale_grad_by_freq, sparse, _weight, False, device, dtype, "padding_idx")

    def forward(self, input: jax.Array, offsets: jax.Array | None = None,
                per_sample_weights: jax.Array | None = None) -> jax.Array:
        out = F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                              self.scale_grad_by_freq, self.mode, self.sparse,
                              per_sample_weights, self.include_last_offset, self.padding_idx)
        self._renorm_weight(input)
        return out

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}{self._repr_norms()}"
        text += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, mode: str = "mean",
                        sparse: bool = False, include_last_offset: bool = False,
                        padding_idx: int | None = None) -> EmbeddingBag:
        """An ``EmbeddingBag`` holding ``embeddings`` (2-D), frozen unless ``freeze=False``."""
        _check_pretrained(embeddings)
        rows, cols = jnp.shape(_as_array(embeddings))
        bag = cls(rows, cols, max_norm, norm_type, scale_grad_by_freq, mode, sparse,
                  embeddings, include_last_offset, padding_idx)
        bag.weight.requires_grad = not freeze
        return bag
