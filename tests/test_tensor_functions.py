"""torch's tensor functions as ``jnn.<name>``, each compared with torch on the same inputs.

One table: a row is a name and a call written once for both libraries (``t`` is ``torch``
or ``jnn``, ``a`` turns a NumPy array into that library's array).  Outputs are compared
by shape, dtype (torch's int64 is int32 while JAX's x64 is off) and value; named tuples
by their type name and fields.  Error rows check the exception type and torch's message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3)).astype(np.float32)
Y = RNG.standard_normal((2, 3)).astype(np.float32)
M = RNG.standard_normal((3, 4)).astype(np.float32)
V = RNG.standard_normal(3).astype(np.float32)
W = RNG.standard_normal(3).astype(np.float32)
B3 = RNG.standard_normal((2, 3, 4)).astype(np.float32)
B4 = RNG.standard_normal((2, 4, 5)).astype(np.float32)
P = RNG.uniform(0.1, 2.0, (2, 3)).astype(np.float32)  # positive
I = RNG.integers(0, 5, (2, 3))  # int64 # noqa: E741
IDX = np.array([[0, 2], [1, 0]])  # gather/scatter index, int64
MASK = X > 0
TIES = np.array([[3.0, 1.0, 2.0, 1.0], [0.0, 0.0, 5.0, -1.0]], np.float32)
NAN = np.array([[1.0, np.nan, 3.0], [2.0, 0.0, 1.0]], np.float32)
COUNTS = np.array([1, 1, 3, 0, 3, 3])
U8 = np.array([1, 2, 250], np.uint8)  # Python numbers against small dtypes
X16 = np.array([1.5, -2.25, 3.0], np.float16)
MASK3 = np.array([True, False, True])
INT_BASE = np.array([-7, 2, 1, -1, 3, 0, -1, 0, -2])  # pow: torch's 0/±1 for exponents < 0
INT_EXP = np.array([-1, -1, -2, -3, 2, -1, -2, 0, 3])
# float16 values whose squares overflow float16 (torch accumulates in float32)
H = (np.random.default_rng(1).standard_normal(4096) * 50).astype(np.float16)
I32 = I.astype(np.int32)  # dtype errors: torch names int32 "Int" as jnn does

Row = tuple[str, Callable[[Any, Callable], Any]]

CREATION: list[Row] = [
    ("tensor-floats", lambda t, a: t.tensor([[1.5, 2.0], [3.0, 4.0]])),
    ("tensor-ints", lambda t, a: t.tensor([1, 2, 3])),
    ("tensor-mixed", lambda t, a: t.tensor([1, 2.5])),
    ("tensor-bool", lambda t, a: t.tensor(True)),
    ("tensor-complex", lambda t, a: t.tensor(1 + 2j)),
    ("tensor-empty", lambda t, a: t.tensor([])),
    ("tensor-dtype", lambda t, a: t.tensor([[1.7, 2.2]], dtype=t.int32)),
    ("tensor-array", lambda t, a: t.tensor(a(X).tolist())),
    ("as_tensor", lambda t, a: t.as_tensor([1, 2], dtype=t.float32)),
    ("as_tensor-array", lambda t, a: t.as_tensor(a(X))),
    ("from_numpy", lambda t, a: t.from_numpy(X)),
    ("zeros-varargs", lambda t, a: t.zeros(2, 3)),
    ("zeros-tuple", lambda t, a: t.zeros((2, 3))),
    ("zeros-list", lambda t, a: t.zeros([2, 3], dtype=t.int32)),
    ("zeros-size-kw", lambda t, a: t.zeros(size=(2,))),
    ("zeros-scalar", lambda t, a: t.zeros(())),
    ("ones", lambda t, a: t.ones(2, 3, dtype=t.int8)),
    ("empty-shape", lambda t, a: t.empty(2, 3).shape),
    ("full-int", lambda t, a: t.full((2,), 7)),
    ("full-float", lambda t, a: t.full([2, 2], 7.0)),
    ("full-bool", lambda t, a: t.full((2,), True)),
    ("full-dtype", lambda t, a: t.full((2,), 7, dtype=t.float16)),
    ("full-uint8-minus-one", lambda t, a: t.full((2,), -1, dtype=t.uint8)),
    ("full-int-truncates", lambda t, a: t.full((2,), -2.7, dtype=t.int32)),
    ("full-fp16-inf", lambda t, a: t.full((2,), float("inf"), dtype=t.float16)),
    ("full-bool-from-int", lambda t, a: t.full((2,), 2, dtype=t.bool)),
    ("arange-end", lambda t, a: t.arange(5)),
    ("arange-float", lambda t, a: t.arange(0.0, 5)),
    ("arange-step", lambda t, a: t.arange(0.1, 1, 0.3)),
    ("arange-negative", lambda t, a: t.arange(1, 0, -0.25)),
    ("arange-dtype", lambda t, a: t.arange(5, dtype=t.float32)),
    ("linspace", lambda t, a: t.linspace(-1.0, 2.0, 7)),
    ("linspace-int-dtype", lambda t, a: t.linspace(0, 10, 5, dtype=t.int32)),
    ("linspace-one", lambda t, a: t.linspace(3, 5, 1)),
    ("eye", lambda t, a: t.eye(3)),
    ("eye-rect", lambda t, a: t.eye(2, 3, dtype=t.int32)),
    ("zeros_like", lambda t, a: t.zeros_like(a(I))),
    ("ones_like", lambda t, a: t.ones_like(a(X), dtype=t.float16)),
    ("full_like", lambda t, a: t.full_like(a(I), 2.7)),
    ("empty_like", lambda t, a: t.empty_like(a(X)).shape),
]

SHAPING: list[Row] = [
    ("cat", lambda t, a: t.cat([a(X), a(Y)], 1)),
    ("cat-negative-dim", lambda t, a: t.cat((a(X), a(Y)), -2)),
    ("cat-promotes", lambda t, a: t.cat([a(X), a(I)])),
    ("cat-legacy-empty", lambda t, a: t.cat([a(X), t.zeros(0)])),
    ("concat", lambda t, a: t.concat([a(X), a(Y)])),
    ("concatenate", lambda t, a: t.concatenate([a(X), a(Y)], 1)),
    ("stack", lambda t, a: t.stack([a(X), a(Y)])),
    ("stack-last", lambda t, a: t.stack([a(X), a(Y)], -1)),
    ("hstack", lambda t, a: t.hstack([a(X), a(Y)])),
    ("hstack-1d", lambda t, a: t.hstack([a(V), a(W)])),
    ("vstack", lambda t, a: t.vstack([a(V), a(W)])),
    ("split-size", lambda t, a: t.split(a(M), 3, 1)),
    ("split-sections", lambda t, a: t.split(a(M), [1, 3], dim=1)),
    ("split-exact", lambda t, a: t.split(a(M), 1)),
    ("chunk", lambda t, a: t.chunk(t.arange(6), 4)),
    ("chunk-uneven", lambda t, a: t.chunk(a(M), 3, 1)),
    ("tensor_split-sections", lambda t, a: t.tensor_split(t.arange(7), 3)),
    ("tensor_split-indices", lambda t, a: t.tensor_split(t.arange(7), [1, 5, 9])),
    ("tensor_split-negative", lambda t, a: t.tensor_split(a(M), [-2], dim=1)),
    ("unbind", lambda t, a: t.unbind(a(X), 1)),
    ("flatten", lambda t, a: t.flatten(a(B3))),
    ("flatten-range", lambda t, a: t.flatten(a(B3), 1)),
    ("flatten-scalar", lambda t, a: t.flatten(t.tensor(2.0))),
    ("unflatten", lambda t, a: t.unflatten(a(B3), 2, (2, -1))),
    ("unsqueeze", lambda t, a: t.unsqueeze(a(X), -1)),
    ("squeeze-all", lambda t, a: t.squeeze(t.zeros(1, 2, 1))),
    ("squeeze-dim", lambda t, a: t.squeeze(t.zeros(1, 2, 1), 2)),
    ("squeeze-non1-noop", lambda t, a: t.squeeze(a(X), 0)),
    ("squeeze-tuple", lambda t, a: t.squeeze(t.zeros(1, 2, 1), (0, 1))),
    ("transpose", lambda t, a: t.transpose(a(B3), 0, 2)),
    ("swapaxes", lambda t, a: t.swapaxes(a(X), 0, 1)),
    ("swapdims", lambda t, a: t.swapdims(a(B3), -1, 0)),
    ("permute", lambda t, a: t.permute(a(B3), (2, 0, 1))),
    ("reshape", lambda t, a: t.reshape(a(B3), (4, -1))),
    ("movedim", lambda t, a: t.movedim(a(B3), 0, -1)),
    ("movedim-tuple", lambda t, a: t.movedim(a(B3), (0, 1), (2, 0))),
    ("moveaxis", lambda t, a: t.moveaxis(a(B3), 2, 0)),
    ("narrow", lambda t, a: t.narrow(a(M), 1, 1, 2)),
    ("narrow-negative", lambda t, a: t.narrow(a(M), 1, -1, 1)),
    ("tril", lambda t, a: t.tril(a(M))),
    ("triu-diagonal", lambda t, a: t.triu(a(B3), diagonal=1)),
    ("tril-negative", lambda t, a: t.tril(a(M), -1)),
    ("roll-flat", lambda t, a: t.roll(a(X), 1)),
    ("roll-dims", lambda t, a: t.roll(a(X), (1, -1), (0, 1))),
    ("flip", lambda t, a: t.flip(a(B3), (0, 2))),
    ("repeat_interleave-int", lambda t, a: t.repeat_interleave(a(X), 2)),
    ("repeat_interleave-dim", lambda t, a: t.repeat_interleave(a(X), 2, dim=1)),
    ("repeat_interleave-array", lambda t, a: t.repeat_interleave(a(X), a(np.array([1, 2])), 0)),
    ("repeat_interleave-counts", lambda t, a: t.repeat_interleave(a(np.array([1, 0, 2])))),
    ("clone", lambda t, a: t.clone(a(X))),
    ("detach", lambda t, a: t.detach(a(X))),
    ("numel", lambda t, a: t.numel(a(B3))),
    ("is_tensor", lambda t, a: (t.is_tensor(a(X)), t.is_tensor(X.tolist()))),
    ("is_floating_point", lambda t, a: (t.is_floating_point(a(X)), t.is_floating_point(a(I)))),
]

INDEXING: list[Row] = [
    ("where", lambda t, a: t.where(a(MASK), a(X), a(Y))),
    ("where-scalar", lambda t, a: t.where(a(MASK), a(X), 0.0)),
    ("where-two-ints", lambda t, a: t.where(a(MASK), 1, 0)),
    ("where-one-arg", lambda t, a: t.where(a(MASK))),
    ("gather", lambda t, a: t.gather(a(X), 1, a(IDX))),
    ("gather-dim0", lambda t, a: t.gather(a(M), 0, a(IDX))),
    ("scatter-src", lambda t, a: t.scatter(a(X), 1, a(IDX[:, :1]), a(Y))),
    ("scatter-value", lambda t, a: t.scatter(a(X), 0, a(np.array([[1, 0]])), 9.0)),
    ("scatter-add", lambda t, a: t.scatter(a(X), 1, a(np.array([[0, 0]])), a(Y), reduce="add")),
    ("scatter_add", lambda t, a: t.scatter_add(a(X), 1, a(np.array([[0, 0]])), a(Y))),
    ("scatter-0d-src-1d", lambda t, a: t.scatter(a(V), 0, a(np.array([2])), t.tensor(5.0))),
    ("scatter-empty-index", lambda t, a: t.scatter(a(X), 0, a(np.zeros((0, 5), np.int64)),
                                                   a(V[:1]))),
    ("scatter-index-longer-in-dim", lambda t, a: t.scatter(a(X), 0, a(np.zeros((4, 3), np.int64)),
                                                           a(np.ones((4, 3), np.float32)))),
    ("index_select", lambda t, a: t.index_select(a(M), 1, a(np.array([3, 0, 3])))),
    ("index_select-scalar-index", lambda t, a: t.index_select(a(X), 1, a(np.array(1)))),
    ("masked_fill", lambda t, a: t.masked_fill(a(X), a(MASK), -1.0)),
    ("masked_fill-broadcast", lambda t, a: t.masked_fill(a(X), a(MASK[0]), 2.0)),
    ("masked_fill-int-keeps-dtype", lambda t, a: t.masked_fill(a(I), a(MASK), 1.7)),
    # numbers that fit as torch converts them: -1 wraps into uint8, inf fits float16
    ("masked_fill-uint8-minus-one", lambda t, a: t.masked_fill(a(U8), a(MASK3), -1)),
    ("masked_fill-fp16-minus-inf", lambda t, a: t.masked_fill(a(X16), a(MASK3), -float("inf"))),
    ("masked_fill-int-negative-float", lambda t, a: t.masked_fill(a(I), a(MASK), -2.5)),
    ("where-uint8-minus-one", lambda t, a: t.where(a(MASK3), a(U8), -1)),
    ("where-fp16-unchecked", lambda t, a: t.where(a(MASK3), a(X16), 70000)),
    ("masked_select", lambda t, a: t.masked_select(a(X), a(MASK))),
    ("cumsum", lambda t, a: t.cumsum(a(X), 1)),
    ("cumsum-int", lambda t, a: t.cumsum(a(I), 0)),
    ("cumsum-bool", lambda t, a: t.cumsum(a(MASK), 1)),
    ("cumprod", lambda t, a: t.cumprod(a(P), -1)),
    ("nonzero", lambda t, a: t.nonzero(a(MASK))),
    ("nonzero-tuple", lambda t, a: t.nonzero(a(MASK), as_tuple=True)),
    ("argwhere", lambda t, a: t.argwhere(a(I))),
]

MATHS: list[Row] = [
    ("mm", lambda t, a: t.mm(a(X), a(M))),
    ("bmm", lambda t, a: t.bmm(a(B3), a(B4))),
    ("matmul-2d", lambda t, a: t.matmul(a(X), a(M))),
    ("matmul-1d", lambda t, a: t.matmul(a(V), a(W))),
    ("matmul-batch", lambda t, a: t.matmul(a(B3), a(M.T.copy()))),
    ("matmul-vec", lambda t, a: t.matmul(a(X), a(V))),
    ("einsum", lambda t, a: t.einsum("ij,jk->ik", a(X), a(M))),
    ("einsum-list", lambda t, a: t.einsum("bij,bjk", [a(B3), a(B4)])),
    ("einsum-ellipsis", lambda t, a: t.einsum("...j,j->...", a(X), a(V))),
    ("einsum-sublist", lambda t, a: t.einsum(a(X), [0, 1], a(Y), [0, 1], [0])),
    ("outer", lambda t, a: t.outer(a(V), a(W))),
    ("dot", lambda t, a: t.dot(a(V), a(W))),
    ("inner", lambda t, a: t.inner(a(X), a(Y))),
    ("addmm", lambda t, a: t.addmm(a(V[:1]), a(X), a(M), beta=0.5, alpha=2.0)),
    ("addmm-beta0-nan", lambda t, a: t.addmm(t.full((2, 4), float("nan")), a(X), a(M), beta=0)),
    ("baddbmm", lambda t, a: t.baddbmm(t.ones(2, 3, 5), a(B3), a(B4), beta=2.0)),
    ("diag-vector", lambda t, a: t.diag(a(V), 1)),
    ("diag-matrix", lambda t, a: t.diag(a(M), -1)),
    ("trace", lambda t, a: t.trace(a(M))),
    ("trace-int", lambda t, a: t.trace(a(I))),
    ("cdist", lambda t, a: t.cdist(a(X), a(M.T.copy()[:3]))),
    ("cdist-p1", lambda t, a: t.cdist(a(B3), a(B3), p=1.0)),
    ("cdist-inf", lambda t, a: t.cdist(a(X), a(Y), p=float("inf"))),
    ("cdist-p3", lambda t, a: t.cdist(a(X), a(Y), p=3.0)),
    ("cdist-mm", lambda t, a: t.cdist(a(X), a(Y), compute_mode="use_mm_for_euclid_dist")),
    ("cdist-nan", lambda t, a: t.cdist(a(NAN), a(X))),
    ("cdist-nan-p3", lambda t, a: t.cdist(a(NAN), a(X), p=3.0)),
    ("cdist-nan-mm", lambda t, a: t.cdist(a(NAN), a(X), compute_mode="use_mm_for_euclid_dist")),
    ("abs", lambda t, a: t.abs(a(X))),
    ("abs-int", lambda t, a: t.abs(-a(I))),
    ("exp", lambda t, a: t.exp(a(X))),
    ("exp-int", lambda t, a: t.exp(a(I))),
    ("log", lambda t, a: t.log(a(P))),
    ("log1p", lambda t, a: t.log1p(a(P))),
    ("expm1", lambda t, a: t.expm1(a(X))),
    ("sqrt", lambda t, a: t.sqrt(a(P))),
    ("rsqrt", lambda t, a: t.rsqrt(a(P))),
    ("rsqrt-int", lambda t, a: t.rsqrt(a(I + 1))),
    ("sin", lambda t, a: t.sin(a(X))),
    ("cos", lambda t, a: t.cos(a(X))),
    ("tanh", lambda t, a: t.tanh(a(X))),
    ("sigmoid", lambda t, a: t.sigmoid(a(X))),
    ("sigmoid-int", lambda t, a: t.sigmoid(a(I))),
    ("softmax", lambda t, a: t.softmax(a(X), 1)),
    ("softmax-dtype", lambda t, a: t.softmax(a(X), 0, dtype=t.float16)),
    ("log_softmax", lambda t, a: t.log_softmax(a(B3), -1)),
    ("pow-scalar", lambda t, a: t.pow(a(X), 2)),
    ("pow-float", lambda t, a: t.pow(a(P), 0.5)),
    ("pow-array", lambda t, a: t.pow(a(P), a(Y))),
    ("pow-number-base", lambda t, a: t.pow(2, a(X))),
    ("pow-int", lambda t, a: t.pow(a(I), 2)),
    ("pow-int-negative-exponents", lambda t, a: t.pow(a(INT_BASE), a(INT_EXP))),
    ("pow-int-0d-negative-exponent", lambda t, a: t.pow(a(INT_BASE), t.tensor(-3))),
    ("pow-int8-negative-exponents", lambda t, a: t.pow(a(INT_BASE.astype(np.int8)),
                                                       a(INT_EXP.astype(np.int8)))),
    ("pow-number-base-negative-exponents", lambda t, a: t.pow(-1, a(INT_EXP))),
    ("square", lambda t, a: t.square(a(X))),
    ("square-int", lambda t, a: t.square(a(I))),
    ("square-bool", lambda t, a: t.square(a(MASK))),
    ("sign", lambda t, a: t.sign(a(X))),
    ("sign-nan", lambda t, a: t.sign(a(NAN))),
    ("sign-int", lambda t, a: t.sign(a(I) - 2)),
    ("floor", lambda t, a: t.floor(a(X) * 3)),
    ("ceil", lambda t, a: t.ceil(a(X) * 3)),
    ("floor-int", lambda t, a: t.floor(a(I))),
    ("round", lambda t, a: t.round(t.tensor([0.5, 1.5, 2.5, -0.5, 1.2345]))),
    ("round-decimals", lambda t, a: t.round(a(X), decimals=2)),
    ("clamp", lambda t, a: t.clamp(a(X), -0.5, 0.5)),
    ("clamp-min", lambda t, a: t.clamp(a(X), min=0.0)),
    ("clamp-max-tensor", lambda t, a: t.clamp(a(X), max=a(Y))),
    ("clamp-int-float-bound", lambda t, a: t.clamp(a(I), min=0.5)),
    ("clip-inverted", lambda t, a: t.clip(a(X), 1, 0)),
    ("clamp-uint8-minus-one", lambda t, a: t.clamp(a(U8), -1)),
    ("clamp-int8-float-bounds-promote", lambda t, a: t.clamp(a(U8.astype(np.int8)), 0.5, 200.5)),
    ("clamp-fp16-inf", lambda t, a: t.clamp(a(X16), max=float("inf"))),
    ("lerp", lambda t, a: t.lerp(a(X), a(Y), 0.3)),
    ("lerp-weight-array", lambda t, a: t.lerp(a(X), a(Y), a(P / 2))),
    ("maximum", lambda t, a: t.maximum(a(X), a(Y))),
    ("minimum-nan", lambda t, a: t.minimum(a(NAN), a(X))),
    ("allclose", lambda t, a: (t.allclose(a(X), a(X) + 1e-7), t.allclose(a(X), a(Y)))),
    ("isclose", lambda t, a: t.isclose(a(X), a(X) + 1e-3, rtol=0.0, atol=2e-3)),
    ("isclose-nan", lambda t, a: t.isclose(a(NAN), a(NAN), equal_nan=True)),
    ("equal", lambda t, a: (t.equal(a(X), a(X)), t.equal(a(X), a(Y)), t.equal(a(X), a(V)))),
    ("eq", lambda t, a: t.eq(a(I), 2)),
    ("ne", lambda t, a: t.ne(a(X), a(Y))),
    ("lt", lambda t, a: t.lt(a(X), a(V))),
    ("le", lambda t, a: t.le(a(X), 0)),
    ("gt", lambda t, a: t.gt(a(X), a(Y))),
    ("ge", lambda t, a: t.ge(a(I), 3)),
    ("isnan", lambda t, a: t.isnan(a(NAN))),
    ("isinf", lambda t, a: t.isinf(a(X) / 0)),
    ("isfinite", lambda t, a: t.isfinite(a(NAN))),
    ("absolute", lambda t, a: t.absolute(a(X))),
    ("neg", lambda t, a: t.neg(a(I))),
    ("negative", lambda t, a: t.negative(a(X))),
    ("reciprocal", lambda t, a: t.reciprocal(a(P))),
    ("reciprocal-int", lambda t, a: t.reciprocal(a(I + 1))),
    ("exp2", lambda t, a: t.exp2(a(X))),
    ("log2", lambda t, a: t.log2(a(P))),
    ("log10", lambda t, a: t.log10(a(P))),
    ("tan", lambda t, a: t.tan(a(X))),
    ("trunc", lambda t, a: t.trunc(a(X) * 3)),
    ("ger", lambda t, a: t.ger(a(V), a(W))),
]

REDUCTIONS: list[Row] = [
    ("sum", lambda t, a: t.sum(a(X))),
    ("sum-dim", lambda t, a: t.sum(a(B3), 1)),
    ("sum-tuple-keepdim", lambda t, a: t.sum(a(B3), (0, 2), keepdim=True)),
    ("sum-list", lambda t, a: t.sum(a(B3), dim=[0])),
    ("sum-empty-dims", lambda t, a: t.sum(a(X), ())),
    ("sum-int", lambda t, a: t.sum(a(I))),
    ("sum-bool", lambda t, a: t.sum(a(MASK), 0)),
    ("sum-dtype", lambda t, a: t.sum(a(I), dtype=t.float32)),
    ("sum-scalar-dim0", lambda t, a: t.sum(t.tensor(3.0), 0)),
    ("mean", lambda t, a: t.mean(a(X))),
    ("mean-dims", lambda t, a: t.mean(a(B3), (0, 1), True)),
    ("mean-int-dtype", lambda t, a: t.mean(a(I), dtype=t.float32)),
    ("nansum", lambda t, a: t.nansum(a(NAN), 1)),
    ("prod", lambda t, a: t.prod(a(X))),
    ("prod-dim", lambda t, a: t.prod(a(X), 1, True)),
    ("prod-int", lambda t, a: t.prod(a(I + 1))),
    ("std", lambda t, a: t.std(a(X))),
    ("std-dim", lambda t, a: t.std(a(B3), 1)),
    ("std-legacy-unbiased", lambda t, a: t.std(a(X), 1, False)),
    ("std-legacy-bool-only", lambda t, a: t.std(a(X), False)),
    ("std-correction", lambda t, a: t.std(a(B3), (0, 2), correction=0.5, keepdim=True)),
    ("std-one-element", lambda t, a: t.std(t.ones(1))),
    ("var", lambda t, a: t.var(a(X), dim=1, correction=0, keepdim=True)),
    ("var-unbiased-kw", lambda t, a: t.var(a(X), 1, unbiased=False)),
    ("std-fp16-no-overflow", lambda t, a: t.std(a(H))),
    ("var-fp16-no-overflow", lambda t, a: t.var(a(H))),
    ("std_mean-fp16", lambda t, a: t.std_mean(a(H))),
    ("var_mean-bf16", lambda t, a: t.var_mean(t.as_tensor(a(H), dtype=t.bfloat16))),
    ("var-complex-real-result", lambda t, a: t.var(t.as_tensor(a(X), dtype=t.complex64) * 1j)),
    ("std_mean", lambda t, a: t.std_mean(a(X), 1)),
    ("var_mean", lambda t, a: t.var_mean(a(B3), (1, 2), keepdim=True)),
    ("max", lambda t, a: t.max(a(X))),
    ("max-dim", lambda t, a: t.max(a(X), 1)),
    ("max-dim-keepdim", lambda t, a: t.max(a(B3), 1, keepdim=True)),
    ("max-ties-first", lambda t, a: t.max(a(TIES), 0)),
    ("max-nan", lambda t, a: t.max(a(NAN), 1)),
    ("max-elementwise", lambda t, a: t.max(a(X), a(Y))),
    ("max-bool", lambda t, a: t.max(a(MASK))),
    ("max-scalar-dim", lambda t, a: t.max(t.tensor(3.0), 0)),
    ("min", lambda t, a: t.min(a(X))),
    ("min-dim", lambda t, a: t.min(a(TIES), -1)),
    ("min-elementwise", lambda t, a: t.min(a(X), a(Y))),
    ("amax", lambda t, a: t.amax(a(B3), (0, 2))),
    ("amax-all", lambda t, a: t.amax(a(X))),
    ("amin", lambda t, a: t.amin(a(X), 1, True)),
    ("argmax", lambda t, a: t.argmax(a(X))),
    ("argmax-keepdim-nodim", lambda t, a: t.argmax(a(X), keepdim=True)),
    ("argmax-dim", lambda t, a: t.argmax(a(TIES), 1)),
    ("argmax-nan", lambda t, a: t.argmax(a(NAN), 1)),
    ("argmin", lambda t, a: t.argmin(a(B3), 2, keepdim=True)),
    ("logsumexp", lambda t, a: t.logsumexp(a(X), 1)),
    ("logsumexp-tuple", lambda t, a: t.logsumexp(a(B3), (0, 1), keepdim=True)),
    ("logsumexp-int", lambda t, a: t.logsumexp(a(I), 0)),
    ("logsumexp-inf", lambda t, a: t.logsumexp(t.tensor([float("inf"), float("inf")]), 0)),
    ("norm", lambda t, a: t.norm(a(X))),
    ("norm-p1-dim", lambda t, a: t.norm(a(B3), 1, dim=2)),
    ("norm-p3", lambda t, a: t.norm(a(X), 3, dim=(0, 1))),
    ("norm-inf", lambda t, a: t.norm(a(X), float("inf"))),
    ("norm-neg-inf", lambda t, a: t.norm(a(X), float("-inf"), dim=1)),
    ("norm-zero", lambda t, a: t.norm(a(X), 0)),
    ("norm-fro-keepdim", lambda t, a: t.norm(a(X), "fro", dim=1, keepdim=True)),
    ("norm-nuc", lambda t, a: t.norm(a(M), "nuc", dim=(0, 1))),
    ("norm-nuc-matrix-no-dim", lambda t, a: t.norm(a(M), "nuc")),
    ("norm-p-None", lambda t, a: t.norm(a(B3), None)),
    ("norm-p-None-dim", lambda t, a: t.norm(a(B3), p=None, dim=1)),
    ("norm-fp16-no-overflow", lambda t, a: t.norm(a(H))),  # torch accumulates in float32
    ("norm-bf16", lambda t, a: t.norm(t.as_tensor(a(H), dtype=t.bfloat16), 3, dim=0)),
    ("norm-nan", lambda t, a: t.norm(a(NAN))),  # NaN propagates, not 0
    ("norm-nan-p3-dim", lambda t, a: t.norm(a(NAN), 3, dim=1)),
    ("any", lambda t, a: t.any(a(MASK))),
    ("any-dim", lambda t, a: t.any(a(MASK), 1)),
    ("all-tuple", lambda t, a: t.all(a(I), (0, 1))),
    ("all-keepdim", lambda t, a: t.all(a(MASK), 0, keepdim=True)),
    ("any-empty-dims-reduce-nothing", lambda t, a: t.any(a(I), dim=[])),
    ("all-empty-dims-reduce-nothing", lambda t, a: t.all(a(X), dim=())),
    ("count_nonzero", lambda t, a: t.count_nonzero(a(I))),
    ("count_nonzero-dim", lambda t, a: t.count_nonzero(a(I), 0)),
]

SORTING: list[Row] = [
    ("sort", lambda t, a: t.sort(a(X))),
    ("sort-dim0-descending", lambda t, a: t.sort(a(X), 0, True)),
    ("sort-stable", lambda t, a: t.sort(a(TIES), stable=True)),
    ("sort-stable-descending", lambda t, a: t.sort(a(TIES), descending=True, stable=True)),
    ("sort-nan", lambda t, a: t.sort(a(NAN), 1)),
    ("sort-nan-descending", lambda t, a: t.sort(a(NAN), 1, descending=True)),
    ("sort-int", lambda t, a: t.sort(a(I), stable=True)),
    ("argsort", lambda t, a: t.argsort(a(X), 1, True)),
    ("argsort-stable", lambda t, a: t.argsort(a(TIES), stable=True)),
    ("msort", lambda t, a: t.msort(a(X))),
    ("topk", lambda t, a: t.topk(a(M), 2)),
    ("topk-smallest", lambda t, a: t.topk(a(M), 2, dim=0, largest=False)),
    ("topk-all", lambda t, a: t.topk(a(V), 3)),
    ("kthvalue", lambda t, a: t.kthvalue(a(M), 2)),
    ("kthvalue-keepdim", lambda t, a: t.kthvalue(a(X), 1, 0, True)),
    ("median-lower", lambda t, a: t.median(t.tensor([1.0, 2.0, 3.0, 4.0]))),
    ("median-all", lambda t, a: t.median(a(M))),
    ("median-dim", lambda t, a: t.median(a(M), 1)),
    ("median-dim-keepdim", lambda t, a: t.median(a(B3), 0, keepdim=True)),
    ("median-nan", lambda t, a: t.median(a(NAN), 1)),
    ("median-nan-all", lambda t, a: t.median(a(NAN))),
    ("mode", lambda t, a: t.mode(t.tensor([3, 1, 1, 3, 2]))),
    ("mode-dim", lambda t, a: t.mode(a(I), 1)),
    ("mode-ties-smallest-last-index", lambda t, a: t.mode(t.tensor([1, 3, 3, 1]))),
    ("unique", lambda t, a: t.unique(a(I))),
    ("unique-inverse-counts", lambda t, a: t.unique(a(I), return_inverse=True,
                                                    return_counts=True)),
    ("unique-dim", lambda t, a: t.unique(a(np.array([[1, 2], [1, 2], [0, 5]])), dim=0)),
    ("bincount", lambda t, a: t.bincount(a(COUNTS))),
    ("bincount-minlength", lambda t, a: t.bincount(a(COUNTS), minlength=7)),
]

ROWS = CREATION + SHAPING + INDEXING + MATHS + REDUCTIONS + SORTING


def _jnn_array(x: np.ndarray) -> jax.Array:
    return jnp.asarray(x)


def _torch_array(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(x))


def _expected_dtype(t: torch.Tensor) -> np.dtype:
    """torch's dtype as JAX makes it (int64 -> int32 while x64 is off)."""
    name = str(t.dtype).removeprefix("torch.")
    return jax.dtypes.canonicalize_dtype(np.dtype(name if name != "bool" else np.bool_))


def assert_same(ours: Any, theirs: Any, path: str = "out") -> None:
    """Recursive comparison of a jnn result with torch's."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, jax.Array), f"{path}: {type(ours)} is not a jax.Array"
        assert tuple(ours.shape) == tuple(theirs.shape), f"{path}: shape {ours.shape}"
        assert ours.dtype == _expected_dtype(theirs), f"{path}: {ours.dtype}, {theirs.dtype}"
        bf16 = theirs.dtype == torch.bfloat16  # NumPy has no bfloat16: compare as float32
        ref = theirs.float().numpy() if bf16 else theirs.numpy()
        got = np.asarray(ours, np.float32) if bf16 else np.asarray(ours)
        if np.issubdtype(ref.dtype, np.floating) or np.issubdtype(ref.dtype, np.complexfloating):
            tol = 1e-2 if bf16 else 1e-3 if ref.dtype == np.float16 else 1e-5
            np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * max(1, ref.size) / 10,
                                       err_msg=path)
        else:
            np.testing.assert_array_equal(got, ref, err_msg=path)
    elif isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), f"{path}: {ours!r}"
        if hasattr(theirs, "values"):  # torch.return_types.<name>
            assert type(ours).__name__ == type(theirs).__name__
            assert ours._fields == ("values", "indices")
            assert_same(ours.values, theirs.values, path + ".values")
            assert_same(ours.indices, theirs.indices, path + ".indices")
            return
        for i, (o, t) in enumerate(zip(ours, theirs)):
            assert_same(o, t, f"{path}[{i}]")
    else:  # Python values (numel, equal, a torch.Size)
        assert ours == theirs, f"{path}: {ours!r} != {theirs!r}"


@pytest.mark.parametrize("name,call", ROWS, ids=[r[0] for r in ROWS])
def test_matches_torch(name: str, call: Callable) -> None:
    theirs = call(torch, _torch_array)
    ours = call(jnn, _jnn_array)
    if isinstance(theirs, torch.Size):
        theirs = tuple(theirs)
    assert_same(ours, theirs)


def test_every_name_is_exported_and_covered() -> None:
    from jnn._tensor_functions import __all__ as names

    assert set(names) <= set(jnn.__all__)
    for name in names:
        assert hasattr(jnn, name), name
    covered = {re.split(r"-", r[0])[0] for r in ROWS}
    functions = {n for n in names if callable(getattr(jnn, n)) and not isinstance(
        getattr(jnn, n), type) and n not in _NOT_IN_TABLE}
    assert functions <= covered, sorted(functions - covered)


# Tested elsewhere (random, dtypes, devices) rather than by the table.
_NOT_IN_TABLE = {
    "randint", "randperm", "normal", "bernoulli", "multinomial", "rand_like", "randn_like",
    "randint_like", "get_default_dtype", "set_default_dtype", "finfo", "iinfo", "is_complex",
}


def test_comparison_helper_catches_differences() -> None:
    with pytest.raises(AssertionError):
        assert_same(jnp.asarray(X), torch.from_numpy(Y))
    with pytest.raises(AssertionError):
        assert_same(jnp.asarray(I, jnp.int8), torch.from_numpy(I))
    with pytest.raises(AssertionError):
        assert_same(jnn.max(jnp.asarray(X), 1), torch.min(torch.from_numpy(X), 1))


# -- traceable under jax.jit and jax.grad --------------------------------------------------


def _jit_rows() -> list[Row]:
    names = ["cat", "stack", "split-size", "chunk-uneven", "flatten-range", "squeeze-tuple",
             "permute", "narrow", "tril", "where", "gather", "scatter-src", "index_select",
             "masked_fill", "cumsum", "mm", "einsum", "cdist", "std-correction",
             "max-dim", "sort-stable-descending", "topk", "median-dim", "mode-dim", "norm-p3",
             "logsumexp-tuple", "clamp-max-tensor", "lerp", "repeat_interleave-dim"]
    table = dict(ROWS)
    return [(n, table[n]) for n in names]


@pytest.mark.parametrize("name,call", _jit_rows(), ids=[r[0] for r in _jit_rows()])
def test_traceable_under_jit(name: str, call: Callable) -> None:
    theirs = call(torch, _torch_array)
    inputs: list[jax.Array] = []
    call(jnn, lambda x: inputs.append(jnp.asarray(x)) or inputs[-1])

    def run(*arrays: jax.Array) -> Any:  # the inputs arrive traced; the rest is static
        feed = iter(arrays)
        return call(jnn, lambda x: next(feed))

    assert_same(jax.jit(run)(*inputs), theirs)


def test_grad_matches_torch() -> None:
    def loss(t: Any, x: Any, y: Any) -> Any:
        z = t.cat([t.tanh(x), t.sigmoid(y)], 1)
        s = t.std(z, 1) + t.logsumexp(z, 1) + t.norm(z, 2, dim=1)
        return t.sum(s * t.max(z, 1).values) + t.mean(t.clamp(x, -0.5, 0.5) ** 2) \
            + t.cdist(x, y).sum() + t.sort(y, 1).values[:, 0].sum()

    tx = torch.from_numpy(X.copy()).requires_grad_()
    ty = torch.from_numpy(Y.copy()).requires_grad_()
    loss(torch, tx, ty).backward()
    grad = jax.jit(jax.grad(lambda x, y: loss(jnn, x, y), argnums=(0, 1)))
    gx, gy = grad(jnp.asarray(X), jnp.asarray(Y))
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gy, ty.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_norm_and_cdist_gradients_at_zero_are_zero_as_torch() -> None:
    x = torch.zeros(2, 3, requires_grad=True)
    (torch.norm(x) + torch.cdist(x, x).sum()).backward()
    g = jax.grad(lambda v: jnn.norm(v) + jnn.cdist(v, v).sum())(jnp.zeros((2, 3)))
    np.testing.assert_array_equal(np.asarray(g), x.grad.numpy())


def test_subgradients_at_kinks_are_torchs() -> None:
    """torch's abs has gradient sign(0) = 0 at 0 (JAX's abs 1), and clamp passes the
    gradient to the input where min <= input <= max, bounds included (JAX's maximum and
    minimum split a tie, 0.5 each); an array bound gets it only beyond.  The 1- and
    inf-norms follow abs."""
    kinks = np.array([[-1.0, 0.0, 1.0], [0.5, -0.0, -2.0]], np.float32)
    low = np.array([[-1.0, 0.5, 0.0], [0.5, 1.0, -3.0]], np.float32)

    def loss(t: Any, x: Any, lo: Any) -> Any:
        return (t.abs(x).sum() + 2 * t.absolute(x).sum() + 3 * t.clamp(x, min=0.0).sum()
                + 5 * t.clamp(x, -1.0, 1.0).sum() + 7 * t.clip(x, max=0.5).sum()
                + 11 * t.clamp(x, min=lo).sum() + 13 * t.clamp(x, lo - 2, lo).sum()
                + 17 * t.norm(x, 1) + 19 * t.norm(x * 0, float("inf")))

    tx, tlo = (torch.from_numpy(v.copy()).requires_grad_() for v in (kinks, low))
    loss(torch, tx, tlo).backward()
    gx, glo = jax.grad(lambda x, lo: loss(jnn, x, lo), argnums=(0, 1))(
        jnp.asarray(kinks), jnp.asarray(low))
    np.testing.assert_array_equal(np.asarray(gx), tx.grad.numpy())
    np.testing.assert_array_equal(np.asarray(glo), tlo.grad.numpy())
    for call in (lambda t, x: t.clamp(x, 1.0, -1.0), lambda t, x: t.clamp(x, min=-0.0)):
        want = call(torch, torch.from_numpy(kinks.copy())).numpy()
        got = np.asarray(call(jnn, jnp.asarray(kinks)))
        np.testing.assert_array_equal(got, want)  # min > max gives max; -0.0 kept
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))

@pytest.mark.parametrize("call", [
    lambda x: jnn.nonzero(x > 0), lambda x: jnn.masked_select(x, x > 0),
    lambda x: jnn.unique(x), lambda x: jnn.where(x > 0),
    lambda x: jnn.bincount(jnp.abs(x).astype(int).ravel()),
    lambda x: jnn.repeat_interleave(x, (x > 0).astype(int).sum(1), 0),
], ids=["nonzero", "masked_select", "unique", "where-one-arg", "bincount", "repeat_interleave"])
def test_value_dependent_shapes_raise_clearly_under_jit(call: Callable) -> None:
    with pytest.raises(RuntimeError, match="cannot run inside jax.jit"):
        jax.jit(call)(jnp.asarray(X))


def test_bincount_under_jit_with_minlength_and_narrow_with_traced_start() -> None:
    counts = jax.jit(lambda v: jnn.bincount(v, minlength=3))(jnp.asarray(COUNTS))
    np.testing.assert_array_equal(counts, [1, 2, 0])  # the 3s are dropped (documented)
    out = jax.jit(lambda x, s: jnn.narrow(x, 1, s, 2))(jnp.asarray(M), jnp.asarray(1))
    np.testing.assert_array_equal(out, M[:, 1:3])
    out = jax.jit(lambda x, r: jnn.repeat_interleave(x, r, 0, output_size=3))(
        jnp.asarray(X), jnp.asarray([1, 2]))
    np.testing.assert_array_equal(out, np.repeat(X, [1, 2], 0))
    assert jax.jit(lambda x: jnn.allclose(x, x))(jnp.asarray(X))


# Keyword forms torch's signatures take (jnn raised "unexpected keyword argument")
_A = np.array([[1.0, 5.0], [3.0, 2.0]], np.float32)
_B = np.array([[2.0, 1.0], [4.0, 0.0]], np.float32)
_KEYWORD_FORMS = {
    "max other": lambda L, c: L.max(c(_A), other=c(_B)),
    "min other": lambda L, c: L.min(c(_A), other=c(_B)),
    "concatenate axis": lambda L, c: L.concatenate([c(_A), c(_B)], axis=1),
    "cat axis": lambda L, c: L.cat([c(_A), c(_B)], axis=1),
    "tensor_split sections": lambda L, c: L.tensor_split(c(_A), sections=2),
    "tensor_split indices": lambda L, c: L.tensor_split(c(_A), indices=[1], dim=1),
    "arange end": lambda L, c: L.arange(end=5),
}


@pytest.mark.parametrize("form", _KEYWORD_FORMS)
def test_keyword_forms_of_torchs_signatures(form):
    expected = _KEYWORD_FORMS[form](torch, torch.from_numpy)
    got = _KEYWORD_FORMS[form](jnn, jnp.asarray)
    if isinstance(expected, tuple):
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(np.asarray(g), e.numpy())
    else:
        np.testing.assert_array_equal(np.asarray(got), expected.numpy())


@pytest.mark.parametrize("call", [lambda L, c: L.max(c(_A), 0, other=c(_B)),
                                  lambda L, c: L.tensor_split(c(_A), sections=(1,)),
                                  lambda L, c: L.arange()],
                         ids=["max dim and other", "sections tuple", "arange nothing"])
def test_keyword_forms_torch_refuses_raise_its_type_error(call):
    with pytest.raises(TypeError, match="received an invalid combination of arguments"):
        call(torch, torch.from_numpy)
    with pytest.raises(TypeError, match="received an invalid combination of arguments"):
        call(jnn, jnp.asarray)


def test_unique_keeps_every_nan_apart_as_torch():
    x = np.array([1.0, np.nan, 2.0, np.nan, 1.0], np.float32)
    expected = torch.unique(torch.from_numpy(x), return_inverse=True, return_counts=True)
    got = jnn.unique(jnp.asarray(x), return_inverse=True, return_counts=True)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(np.asarray(g), e.numpy())


# linspace: complex ends make a complex range; integer dtypes convert the ends first (as
# C casts: -2 is 254 in uint8, 300 overflows); bool is refused (jnn dropped the imaginary
# part and interpolated in float before wrapping)
_LINSPACE = [((0, 1 + 1j, 3), None), ((0j, 2, 3), None), ((-2, 3, 4), "uint8"),
             ((-3.7, 5.2, 4), "int32"), ((1, 5, 3), "int32")]


@pytest.mark.parametrize("args, dtype", _LINSPACE)
def test_linspace_ends_and_dtypes_as_torch(args, dtype):
    t_kw = {} if dtype is None else {"dtype": getattr(torch, dtype)}
    j_kw = {} if dtype is None else {"dtype": getattr(jnn, dtype)}
    expected = torch.linspace(*args, **t_kw)
    got = jnn.linspace(*args, **j_kw)
    assert str(got.dtype) == str(expected.dtype).removeprefix("torch.")
    np.testing.assert_allclose(np.asarray(got), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("args, dtype", [((0, 1, 3), "bool"), ((0, 300, 3), "uint8")])
def test_linspace_refusals_as_torch(args, dtype):
    with pytest.raises((RuntimeError, NotImplementedError)) as expected:
        torch.linspace(*args, dtype=getattr(torch, dtype))
    with pytest.raises(type(expected.value), match=re.escape(str(expected.value))):
        jnn.linspace(*args, dtype=getattr(jnn, dtype))
