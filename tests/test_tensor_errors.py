"""Errors of jnn's tensor functions against torch's: the same exception type and message.

Rows reuse the inputs of ``test_tensor_functions``; each call is written once for both
libraries (``t`` is ``torch`` or ``jnn``, ``a`` makes that library's array).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
from tests.test_tensor_functions import (
    B3,
    B4,
    COUNTS,
    I32,
    IDX,
    MASK,
    MASK3,
    U8,
    X16,
    I,
    M,
    Row,
    V,
    W,
    X,
    Y,
    _jnn_array,
    _torch_array,
)

IDX2 = np.array([[0, 1, 2, 0], [2, 2, 1, 0]])  # scatter index of M's rank, dim 0

# -- errors: torch's exception type and message ---------------------------------------------

ERRORS: list[Row] = [
    # misuse that failed inside jnn with another exception type (ZeroDivisionError, a
    # tuple's IndexError, JAX's ValueError)
    ("reshape-zero-and-inferred", lambda t, a: t.reshape(a(X), (0, -1))),
    ("reshape-empty-ambiguous", lambda t, a: t.reshape(a(np.zeros((0, 3), np.float32)),
                                                       (-1, 0))),
    ("split-0d", lambda t, a: t.split(a(np.float32(1.0)), 1)),
    ("chunk-0d", lambda t, a: t.chunk(a(np.float32(1.0)), 2)),
    ("narrow-0d", lambda t, a: t.narrow(a(np.float32(1.0)), 0, 0, 1)),
    ("roll-0d-dim", lambda t, a: t.roll(a(np.float32(1.0)), 1, 0)),
    ("matmul-batch-dims", lambda t, a: t.matmul(a(np.ones((2, 3, 4), np.float32)),
                                                a(np.ones((3, 4, 5), np.float32)))),
    ("std_mean-int", lambda t, a: t.std_mean(a(np.arange(3, dtype=np.int32)))),
    ("var_mean-int", lambda t, a: t.var_mean(a(np.arange(3, dtype=np.int32)))),
    ("var-int", lambda t, a: t.var(a(np.arange(3, dtype=np.int32)))),
    ("norm-inf-empty", lambda t, a: t.norm(a(np.zeros((0, 3), np.float32)), float("inf"))),
    ("norm-minus-inf-empty-dim", lambda t, a: t.norm(a(np.zeros((3, 0, 2), np.float32)),
                                                     float("-inf"), dim=(0, 1))),
    # a Python number that does not fit the array's dtype: torch's c10 overflow check
    ("clamp-uint8-overflow", lambda t, a: t.clamp(a(U8), -1, 300)),
    ("clamp-int8-overflow", lambda t, a: t.clamp(a(U8.astype(np.int8)), 0, 200)),
    ("clamp-fp16-overflow", lambda t, a: t.clamp(a(X16), max=1e6)),
    ("where-uint8-overflow", lambda t, a: t.where(a(MASK3), a(U8), 300)),
    ("where-int8-overflow-first", lambda t, a: t.where(a(MASK3), -129, a(U8.astype(np.int8)))),
    ("masked_fill-uint8-overflow", lambda t, a: t.masked_fill(a(U8), a(MASK3), 300)),
    ("masked_fill-uint8-negative-float", lambda t, a: t.masked_fill(a(U8), a(MASK3), -1.5)),
    ("masked_fill-fp16-minus-1e9", lambda t, a: t.masked_fill(a(X16), a(MASK3), -1e9)),
    ("masked_fill-int-nan", lambda t, a: t.masked_fill(a(U8.astype(np.int32)), a(MASK3),
                                                       float("nan"))),
    ("masked_fill-0d-value-overflow", lambda t, a: t.masked_fill(a(U8), a(MASK3), t.tensor(300))),
    ("full-uint8-overflow", lambda t, a: t.full([2], 300, dtype=t.uint8)),
    ("full-bf16-overflow", lambda t, a: t.full((2,), 1e39, dtype=t.bfloat16)),
    ("full-fp16-overflow", lambda t, a: t.full((2,), 1e6, dtype=t.float16)),
    ("full-int32-overflow", lambda t, a: t.full((2,), 2**33, dtype=t.int32)),
    ("full-float-complex", lambda t, a: t.full((2,), 1 + 1j, dtype=t.float32)),
    ("full_like-int-nan", lambda t, a: t.full_like(a(U8.astype(np.int32)), float("nan"))),
    ("full_like-fp16-overflow", lambda t, a: t.full_like(a(X16), 65520.0)),
    ("scatter_add-src-smaller", lambda t, a: t.scatter_add(t.zeros(3), 0, t.arange(3), t.ones(1))),
    ("scatter-src-smaller", lambda t, a: t.scatter(a(M), 0, a(IDX2), t.ones(1, 4))),
    ("scatter-index-wider", lambda t, a: t.scatter(a(M), 0, t.zeros(2, 5, dtype=t.int32),
                                                   t.ones(2, 5))),
    ("scatter-value-index-wider", lambda t, a: t.scatter(a(M), 0, t.zeros(2, 5, dtype=t.int32),
                                                         2.0)),
    ("scatter-0d-src", lambda t, a: t.scatter(a(M), 0, a(IDX2), t.tensor(2.0))),
    ("scatter-0d-src-1d", lambda t, a: t.scatter(a(V), 0, a(IDX2[0, :2]), t.tensor(2.0))),
    ("scatter-src-rank-low", lambda t, a: t.scatter(a(M), 0, a(IDX2), t.ones(5))),
    ("scatter-src-rank-high", lambda t, a: t.scatter(a(M), 0, a(IDX2), t.ones(2, 4, 1))),
    ("scatter_add-number-src", lambda t, a: t.scatter_add(a(M), 0, a(IDX2), 1.0)),
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
    ("norm-nuc-3d", lambda t, a: t.norm(a(B3), "nuc")),
    ("norm-nuc-1d", lambda t, a: t.norm(a(V), "nuc")),
    ("norm-nuc-same-dims", lambda t, a: t.norm(a(B3), "nuc", dim=(0, 0))),
    ("norm-fro-3-dims", lambda t, a: t.norm(a(B3), "fro", dim=(0, 1, 2))),
    ("norm-p-str", lambda t, a: t.norm(a(X), "abc")),
    ("softmax-int", lambda t, a: t.softmax(a(I32), -1)),
    ("topk-k", lambda t, a: t.topk(a(V), 5)),
    ("kthvalue-k", lambda t, a: t.kthvalue(a(V), 4)),
    ("bincount-negative", lambda t, a: t.bincount(a(np.array([-1, 2])))),
    ("bincount-2d", lambda t, a: t.bincount(a(IDX))),
    ("bincount-float", lambda t, a: t.bincount(a(V))),
    ("count_nonzero-range", lambda t, a: t.count_nonzero(a(X), 5)),
    # index values out of range: checked eagerly, as torch checks them on the CPU
    ("gather-index-high", lambda t, a: t.gather(a(X), 1, a(np.array([[0, 5]])))),
    ("gather-index-negative", lambda t, a: t.gather(a(X), 1, a(np.array([[0, -1, 5]])))),
    ("gather-index-dim0", lambda t, a: t.gather(a(X), 0, a(np.array([[0, 7], [9, 0]])))),
    ("gather-index-0d", lambda t, a: t.gather(t.tensor(1.0), 0, t.tensor(1))),
    ("gather-index-int16", lambda t, a: t.gather(a(X), 1, a(IDX.astype(np.int16)))),
    ("index_select-high", lambda t, a: t.index_select(a(X), 0, a(np.array([5])))),
    ("index_select-negative", lambda t, a: t.index_select(a(V), 0, a(np.array([-1])))),
    ("index_select-dim1", lambda t, a: t.index_select(a(X), 1, a(np.array([0, 4, -1])))),
    ("index_select-3d-dim2", lambda t, a: t.index_select(a(B3), 2, a(np.array([7])))),
    ("index_select-empty-input", lambda t, a: t.index_select(t.zeros(2, 0), 0,
                                                             a(np.array([3])))),
    ("index_select-empty-axis", lambda t, a: t.index_select(t.zeros(2, 0), 1,
                                                            a(np.array([0])))),
    ("index_select-int16", lambda t, a: t.index_select(a(X), 0, a(np.array([0], np.int16)))),
    ("scatter-index-high", lambda t, a: t.scatter(a(X), 1, a(np.array([[5]])), a(X[:1, :1]))),
    ("scatter-index-negative", lambda t, a: t.scatter(a(X), 0, a(np.array([[-1]])), 2.0)),
    ("scatter_add-index-high", lambda t, a: t.scatter_add(a(X), 1, a(np.array([[7]])),
                                                          a(X[:1, :1]))),
    ("multinomial-zero-row", lambda t, a: t.multinomial(a(np.array([[0.5, 0.5], [0.0, 0.0]],
                                                                   np.float32)), 1)),
    ("multinomial-zero", lambda t, a: t.multinomial(t.zeros(2), 1, True)),
    ("repeat_interleave-negative-int", lambda t, a: t.repeat_interleave(a(V), -1)),
    ("repeat_interleave-negative", lambda t, a: t.repeat_interleave(a(V),
                                                                    a(np.array([1, -2, 1])))),
    ("repeat_interleave-negative-only", lambda t, a: t.repeat_interleave(a(np.array([1, -2])))),
    ("repeat_interleave-output_size", lambda t, a: t.repeat_interleave(
        a(X), a(np.array([2, 1])), dim=0, output_size=2)),
    ("repeat_interleave-float", lambda t, a: t.repeat_interleave(a(V), a(V))),
    # shapes that do not broadcast: torch's RuntimeError and its dims
    ("clamp-min-shape", lambda t, a: t.clamp(a(V), min=t.zeros(2))),
    ("clamp-both-shapes", lambda t, a: t.clamp(a(V), min=t.zeros(3, 1), max=t.zeros(2))),
    ("lerp-shape", lambda t, a: t.lerp(a(V), t.zeros(4), 0.5)),
    ("lerp-weight-shape", lambda t, a: t.lerp(a(V), a(W), t.zeros(2))),
    ("maximum-shape", lambda t, a: t.maximum(t.zeros(2), a(V))),
    ("minimum-shape", lambda t, a: t.minimum(a(X), a(M))),
    ("pow-shape", lambda t, a: t.pow(t.ones(2), a(V))),
    ("max-other-shape", lambda t, a: t.max(a(X), a(X.T))),
    ("masked_fill-shape", lambda t, a: t.masked_fill(a(X), a(np.array([True, False])), 0.0)),
    ("masked_select-shape", lambda t, a: t.masked_select(a(V), a(np.array([True, False])))),
    ("where-shape", lambda t, a: t.where(a(np.array([True, False])), a(V), t.zeros(2))),
    ("inner-shape", lambda t, a: t.inner(a(X), t.zeros(4))),
    # einsum equations that do not fit
    ("einsum-sizes", lambda t, a: t.einsum("ij,jk->ik", a(X), a(X))),
    ("einsum-output-label", lambda t, a: t.einsum("ij->k", a(X))),
    ("einsum-output-twice", lambda t, a: t.einsum("ij->jj", a(X))),
    ("einsum-fewer-operands", lambda t, a: t.einsum("ij,jk->ik", a(X))),
    ("einsum-more-operands", lambda t, a: t.einsum("ij", a(X), a(X))),
    ("einsum-rank", lambda t, a: t.einsum("ijk", a(X))),
    ("einsum-rank-ellipsis", lambda t, a: t.einsum("ijk...", a(X))),
    ("einsum-repeated", lambda t, a: t.einsum("ii->i", a(X))),
    # mixed dtypes: each function's own wording
    ("matmul-dtypes-mm", lambda t, a: t.matmul(a(X), a(M.astype(np.float16)))),
    ("matmul-dtypes-mv", lambda t, a: t.matmul(a(X), a(V.astype(np.float16)))),
    ("matmul-dtypes-dot", lambda t, a: t.matmul(a(V), a(W.astype(np.float16)))),
    ("matmul-dtypes-bmm", lambda t, a: t.matmul(a(X), a(B3.astype(np.float16)))),
    ("bmm-dtypes", lambda t, a: t.bmm(a(B3), a(B4.astype(np.float16)))),
    ("addmm-dtypes-mat2", lambda t, a: t.addmm(a(X[:, :2]), a(X),
                                               a(M[:, :2].astype(np.float16)))),
    ("addmm-dtypes-mat1", lambda t, a: t.addmm(a(X[:, :2]), a(X.astype(np.float16)),
                                               a(M[:, :2]))),
    ("baddbmm-dtypes", lambda t, a: t.baddbmm(t.zeros(2, 3, 5, dtype=t.float16), a(B3), a(B4))),
    ("cdist-dtypes", lambda t, a: t.cdist(a(X), a(Y.astype(np.float16)))),
    ("einsum-dtypes", lambda t, a: t.einsum("ij,jk->ik", a(X), a(M.astype(np.float16)))),
    ("inner-dtypes", lambda t, a: t.inner(a(V), a(W.astype(np.float16)))),
    ("lerp-end-dtype", lambda t, a: t.lerp(a(V), a(W.astype(np.float16)), 0.5)),
    ("lerp-weight-dtype", lambda t, a: t.lerp(a(V), a(W), a(W.astype(np.float16)))),
    # reductions with nothing to reduce
    ("amax-empty", lambda t, a: t.amax(t.zeros(0))),
    ("amin-empty-dim", lambda t, a: t.amin(t.zeros(0, 3), 0)),
    ("argmax-empty-dim", lambda t, a: t.argmax(t.zeros(0, 3), dim=0)),
    ("mode-empty", lambda t, a: t.mode(t.zeros(0))),
    ("median-empty-dim", lambda t, a: t.median(t.zeros(0, 3), 0)),
    ("kthvalue-empty", lambda t, a: t.kthvalue(t.zeros(0), 1)),
    # arguments of the wrong kind
    ("zeros_like-list", lambda t, a: t.zeros_like([1, 2])),
    ("ones_like-None", lambda t, a: t.ones_like(None)),
    ("empty_like-int", lambda t, a: t.empty_like(3)),
    ("exp-list", lambda t, a: t.exp([1.0, 2.0])),
    ("abs-None", lambda t, a: t.abs(None)),
    ("sum-list", lambda t, a: t.sum([1.0, 2.0])),
    ("argmax-list", lambda t, a: t.argmax([1.0, 2.0])),
    ("softmax-list", lambda t, a: t.softmax([1.0, 2.0], 0)),
    ("matmul-list", lambda t, a: t.matmul([[1.0]], a(X))),
    ("numel-int", lambda t, a: t.numel(3)),
    ("clone-list", lambda t, a: t.clone([1, 2])),
    ("maximum-int-other", lambda t, a: t.maximum(a(V), 2)),
    ("cdist-list", lambda t, a: t.cdist([[1.0]], a(X))),
    ("unique-list", lambda t, a: t.unique([1.0])),
    ("split-list", lambda t, a: t.split([1.0, 2.0], 1)),
    ("norm-list", lambda t, a: t.norm([1.0])),
    ("stack-lists", lambda t, a: t.stack([[1.0], [2.0]])),
    ("cat-None", lambda t, a: t.cat([a(X), None])),
    ("cat-array", lambda t, a: t.cat(a(X))),
    ("tensor-None", lambda t, a: t.tensor(None)),
    ("tensor-None-item", lambda t, a: t.tensor([1.0, None])),
    ("tensor-dict", lambda t, a: t.tensor({"a": 1})),
    ("tensor-ragged-longer", lambda t, a: t.as_tensor([[1], [2, 3]])),
    ("tensor-not-a-sequence", lambda t, a: t.tensor([[1, 2], 3])),
    ("tensor-str-item", lambda t, a: t.tensor([1, "a"])),
    ("tensor-overflow", lambda t, a: t.tensor(2**70)),
    ("zeros-str-dtype", lambda t, a: t.zeros(2, 3, dtype="float32")),
    ("tensor-str-dtype", lambda t, a: t.tensor([1, 2], dtype="float32")),
    ("set_default_dtype-str", lambda t, a: t.set_default_dtype("float32")),
    ("arange-nan", lambda t, a: t.arange(float("nan"))),
    ("arange-inf", lambda t, a: t.arange(0, float("inf"))),
    ("arange-minus-inf", lambda t, a: t.arange(float("-inf"), 0)),
    ("arange-nan-step", lambda t, a: t.arange(0, 5, float("nan"))),
    ("arange-bool", lambda t, a: t.arange(0, 5, dtype=t.bool)),
    ("linspace-float-steps", lambda t, a: t.linspace(0, 1, 2.5)),
    ("std-correction-str", lambda t, a: t.std(a(V), correction="a")),
    ("bincount-weights-length", lambda t, a: t.bincount(a(COUNTS), weights=t.ones(3))),
    ("iinfo-float", lambda t, a: t.iinfo(t.float32)),
    ("iinfo-bool", lambda t, a: t.iinfo(t.bool)),
    ("finfo-int", lambda t, a: t.finfo(t.int32)),
    ("sort-descending-str", lambda t, a: t.sort(a(V), descending="x")),
    ("sum-keepdim-int", lambda t, a: t.sum(a(V), 0, keepdim=1)),
    ("topk-largest-None", lambda t, a: t.topk(a(V), 1, largest=None)),
    ("nonzero-as_tuple-str", lambda t, a: t.nonzero(a(V), as_tuple="x")),
    ("unique-return_counts-str", lambda t, a: t.unique(a(V), return_counts="x")),
    ("zeros-negative", lambda t, a: t.zeros(2, -1)),
    ("matmul-mv-size", lambda t, a: t.matmul(a(B3), t.ones(5))),
]

# Rows whose message differs from torch's (the type still matches): torch's text names its
# overload lists or NumPy's does.
_TYPE_ONLY = {"zeros-float-size", "full-int-size", "flip-int", "tensor-ragged",
              # torch's text lists its overloads ("received an invalid combination of
              # arguments"); jnn names the argument instead
              "linspace-float-steps", "std-correction-str", "sort-descending-str",
              "sum-keepdim-int"}


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


def test_index_values_are_checked_eagerly_only() -> None:
    """Under a trace the values are unknown: no check (no host sync); JAX clamps/drops."""
    x = jnp.asarray(X)
    bad = jnp.asarray([[0, 5]])
    with pytest.raises(RuntimeError, match="index 5 is out of bounds for dimension 1"):
        jnn.gather(x, 1, bad)
    np.testing.assert_array_equal(jax.jit(lambda i: jnn.gather(x, 1, i))(bad), x[:1, [0, 2]])
    jax.jit(lambda i: jnn.index_select(x, 0, i))(jnp.asarray([5]))
    jax.jit(lambda i: jnn.scatter_add(x, 1, i, x[:1, :2]))(bad)
    jax.jit(lambda r: jnn.repeat_interleave(x, r, dim=0, output_size=3))(jnp.asarray([-1, 4]))
