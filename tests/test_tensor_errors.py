"""Errors of jnn's tensor functions against torch's: the same exception type and message.

Rows reuse the inputs of ``test_tensor_functions``; each call is written once for both
libraries (``t`` is ``torch`` or ``jnn``, ``a`` makes that library's array).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
from tests.test_tensor_functions import (
    B3,
    I32,
    IDX,
    MASK,
    I,
    M,
    Row,
    V,
    X,
    _jnn_array,
    _torch_array,
)

# -- errors: torch's exception type and message ---------------------------------------------

ERRORS: list[Row] = [
    ("tensor-ragged", lambda t, a: t.tensor([[1, 2], [3]])),
    ("tensor-str", lambda t, a: t.tensor("a")),
    ("zeros-float-size", lambda t, a: t.zeros(2.5)),
    ("ones-negative", lambda t, a: t.ones(2, -1)),
    ("full-int-size", lambda t, a: t.full(2, 7)),
    ("arange-step0", lambda t, a: t.arange(0, 5, 0)),
    ("arange-sign", lambda t, a: t.arange(0, 5, -1)),
    ("linspace-negative", lambda t, a: t.linspace(0, 1, -1)),
    ("eye-negative", lambda t, a: t.eye(-1)),
    ("from_numpy-list", lambda t, a: t.from_numpy([1])),
    ("requires_grad-int", lambda t, a: t.zeros(2, dtype=t.int32, requires_grad=True)),
    ("cat-sizes", lambda t, a: t.cat([a(X), a(M)], 1)),
    ("cat-ranks", lambda t, a: t.cat([a(X), a(V)])),
    ("cat-bad-dim", lambda t, a: t.cat([a(X)], 2)),
    ("cat-empty", lambda t, a: t.cat([])),
    ("stack-sizes", lambda t, a: t.stack([a(X), a(M)])),
    ("stack-empty", lambda t, a: t.stack([])),
    ("stack-bad-dim", lambda t, a: t.stack([a(X)], 3)),
    ("split-sum", lambda t, a: t.split(t.arange(5), [2, 2])),
    ("split-zero", lambda t, a: t.split(t.arange(5), 0)),
    ("chunk-zero", lambda t, a: t.chunk(t.arange(5), 0)),
    ("tensor_split-zero", lambda t, a: t.tensor_split(t.arange(7), 0)),
    ("unbind-scalar", lambda t, a: t.unbind(t.tensor(1.0))),
    ("flatten-order", lambda t, a: t.flatten(a(B3), 2, 1)),
    ("unflatten-product", lambda t, a: t.unflatten(a(X), 1, (2, 2))),
    ("unsqueeze-range", lambda t, a: t.unsqueeze(a(X), 3)),
    ("squeeze-range", lambda t, a: t.squeeze(a(X), 5)),
    ("squeeze-repeat", lambda t, a: t.squeeze(a(X), (0, 0))),
    ("transpose-range", lambda t, a: t.swapaxes(a(X), 0, 3)),
    ("permute-length", lambda t, a: t.permute(a(X), (0,))),
    ("permute-duplicate", lambda t, a: t.permute(a(X), (0, 0))),
    ("reshape-size", lambda t, a: t.reshape(a(X), (4, 2))),
    ("reshape-two-inferred", lambda t, a: t.reshape(a(X), (-1, -1))),
    ("movedim-lengths", lambda t, a: t.movedim(a(X), (0, 1), (1,))),
    ("movedim-repeat", lambda t, a: t.movedim(a(X), (0, 0), (1, 0))),
    ("narrow-length", lambda t, a: t.narrow(a(X), 1, 2, 2)),
    ("narrow-start", lambda t, a: t.narrow(a(X), 1, 4, 0)),
    ("tril-1d", lambda t, a: t.tril(a(V))),
    ("roll-align", lambda t, a: t.roll(a(X), (1,), (0, 1))),
    ("flip-int", lambda t, a: t.flip(a(X), 0)),
    ("repeat_interleave-size", lambda t, a: t.repeat_interleave(a(X), a(np.array([1, 2])))),
    ("where-int-cond", lambda t, a: t.where(a(I32), 1.0, 2.0)),
    ("gather-rank", lambda t, a: t.gather(a(X), 1, a(np.array([0])))),
    ("gather-size", lambda t, a: t.gather(a(X), 0, a(np.array([[0, 0, 0, 0]])))),
    ("scatter-dtype", lambda t, a: t.scatter(a(X), 0, a(IDX[:1, :1]), t.ones(1, 1, dtype=t.int32))),
    ("scatter-reduce", lambda t, a: t.scatter(a(X), 0, a(IDX[:1, :1]), 2.0, reduce="sub")),
    ("index_select-matrix", lambda t, a: t.index_select(a(X), 0, a(IDX))),
    ("index_select-float", lambda t, a: t.index_select(a(X), 1, a(V))),
    ("masked_fill-float-mask", lambda t, a: t.masked_fill(a(X), a(X), 1.0)),
    ("masked_fill-value-1d", lambda t, a: t.masked_fill(a(X), a(MASK), a(V[:1]))),
    ("cumsum-dim", lambda t, a: t.cumsum(a(X), 2)),
    ("mm-vector", lambda t, a: t.mm(a(V), a(M))),
    ("mm-shapes", lambda t, a: t.mm(a(X), a(X))),
    ("mm-dtypes", lambda t, a: t.mm(a(X), a(M.astype(np.int32)))),
    ("bmm-rank", lambda t, a: t.bmm(a(X), a(X))),
    ("bmm-batch", lambda t, a: t.bmm(a(B3), a(B3))),
    ("matmul-0d", lambda t, a: t.matmul(t.tensor(1.0), a(V))),
    ("matmul-1d", lambda t, a: t.matmul(a(V), t.ones(4))),
    ("matmul-2d", lambda t, a: t.matmul(a(X), a(X))),
    ("outer-2d", lambda t, a: t.outer(a(V), a(X))),
    ("dot-2d", lambda t, a: t.dot(a(X), a(X))),
    ("dot-dtypes", lambda t, a: t.dot(a(V), a(I32[0]))),
    ("dot-sizes", lambda t, a: t.dot(a(V), t.ones(4))),
    ("diag-3d", lambda t, a: t.diag(a(B3))),
    ("trace-1d", lambda t, a: t.trace(a(V))),
    ("cdist-columns", lambda t, a: t.cdist(a(X), a(M))),
    ("cdist-1d", lambda t, a: t.cdist(a(V), a(X))),
    ("cdist-int", lambda t, a: t.cdist(a(I32), a(I32))),
    ("cdist-p", lambda t, a: t.cdist(a(X), a(X), p=-1.0)),
    ("abs-bool", lambda t, a: t.abs(a(MASK))),
    ("neg-bool", lambda t, a: t.neg(a(MASK))),
    ("ceil-bool", lambda t, a: t.ceil(a(MASK))),
    ("pow-int-negative", lambda t, a: t.pow(a(I), -1)),
    ("clamp-none", lambda t, a: t.clamp(a(X))),
    ("lerp-int", lambda t, a: t.lerp(a(I32), a(I32), 0.5)),
    ("isclose-dtypes", lambda t, a: t.isclose(a(X), a(I32))),
    ("eq-broadcast", lambda t, a: t.eq(a(X), t.ones(4))),
    ("sum-range", lambda t, a: t.sum(a(X), 2)),
    ("sum-repeat", lambda t, a: t.sum(a(X), (0, 0))),
    ("mean-int", lambda t, a: t.mean(a(I32))),
    ("std-int", lambda t, a: t.std(a(I32))),
    ("max-empty", lambda t, a: t.max(t.zeros(0))),
    ("max-empty-dim", lambda t, a: t.max(t.zeros(2, 0), 1)),
    ("argmax-empty", lambda t, a: t.argmax(t.zeros(0))),
    ("amax-range", lambda t, a: t.amax(a(X), 5)),
    ("norm-int", lambda t, a: t.norm(a(I32))),
    ("norm-nuc-dim", lambda t, a: t.norm(a(X), "nuc", dim=1)),
    ("softmax-int", lambda t, a: t.softmax(a(I32), -1)),
    ("topk-k", lambda t, a: t.topk(a(V), 5)),
    ("kthvalue-k", lambda t, a: t.kthvalue(a(V), 4)),
    ("bincount-negative", lambda t, a: t.bincount(a(np.array([-1, 2])))),
    ("bincount-2d", lambda t, a: t.bincount(a(IDX))),
    ("bincount-float", lambda t, a: t.bincount(a(V))),
    ("count_nonzero-range", lambda t, a: t.count_nonzero(a(X), 5)),
]

# Rows whose message differs from torch's (the type still matches): torch's text names its
# overload lists or NumPy's does.
_TYPE_ONLY = {"zeros-float-size", "full-int-size", "flip-int", "tensor-ragged"}


@pytest.mark.parametrize("name,call", ERRORS, ids=[r[0] for r in ERRORS])
def test_errors_match_torch(name: str, call: Callable) -> None:
    with pytest.raises(Exception) as theirs:
        call(torch, _torch_array)
    kind = type(theirs.value)
    pattern = None if name in _TYPE_ONLY else re.escape(str(theirs.value).split("\n")[0])
    with pytest.raises(kind, match=pattern):
        call(jnn, _jnn_array)


def test_out_is_refused_with_a_clear_message() -> None:
    for fn, args in ((jnn.zeros, (2,)), (jnn.cat, ([jnp.asarray(X)],)),
                     (jnn.sum, (jnp.asarray(X),)), (jnn.randn, (2,))):
        with pytest.raises(TypeError, match="JAX arrays are immutable.*return value"):
            fn(*args, out=jnp.zeros(2))
