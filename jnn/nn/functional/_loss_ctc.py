"""Connectionist temporal classification: ``ctc_loss`` (public through ``...loss``).

The forward variables (alpha) are a ``lax.scan`` over time in log space, vectorised over
the batch and the extended label sequence ``blank, l_1, blank, l_2, ..., blank``; the
backward variables (beta) a reverse scan inside a custom VJP. The gradient is torch's,
``exp(log_probs) - occupancy``: the gradient with respect to the logits of a
``log_softmax`` that produced ``log_probs`` (torch's convention), which sums to zero over
classes; it is zero for ``t >= input_length`` and, for an impossible alignment, NaN (or
zero with ``zero_infinity``), all as torch.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from jnn.nn.functional._loss_common import concrete, traced_check, traced_checks
from jnn.nn.functional._utils import get_reduction, torch_dtype_name

__all__ = ["ctc_loss"]

_WHERE = "(while checking arguments for ctc_loss_allocate_outputs)"


def _lengths(value: Any, what: str, batch: int) -> tuple[jax.Array, np.ndarray | None]:
    """Lengths as an int32 ``(N,)`` array, plus their values when concrete."""
    if isinstance(value, (int, np.integer)) or (
        isinstance(value, (tuple, list)) and all(isinstance(v, (int, np.integer)) for v in value)
    ):
        value = np.asarray(value, np.int64)
    arr = jnp.asarray(value)
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        raise RuntimeError(f"{what} must be integral")
    if arr.size != batch:
        raise RuntimeError(f"{what} must be of size batch_size")
    return arr.reshape(batch).astype(jnp.int32), concrete(value)


def _check_length_values(values: np.ndarray | None, what: str, most: int | None,
                         traced: jax.Array) -> None:
    if values is None and traced_checks() and traced.size:  # jnn.compile(checks=True)
        low, high = jnp.min(traced), jnp.max(traced)
        traced_check(low >= 0, f"RuntimeError: Expected {what} to have value at least 0, but "
                     f"got value {{}} {_WHERE}", low)
        if most is not None:
            traced_check(high <= most, f"RuntimeError: Expected {what} to have value at most "
                         f"{most}, but got value {{}} {_WHERE}", high)
    if values is None or values.size == 0:
        return
    values = values.reshape(-1)
    if values.min() < 0:
        raise RuntimeError(
            f"Expected {what} to have value at least 0, but got value {values.min()} {_WHERE}")
    if most is not None and values.max() > most:
        raise RuntimeError(
            f"Expected {what} to have value at most {most}, but got value {values.max()} "
            f"{_WHERE}")


def _padded_targets(targets: jax.Array, tl: jax.Array, tl_values, batch: int) -> jax.Array:
    """``(N, S)`` targets from torch's padded ``(N, S)`` or concatenated ``(sum(S_n),)``."""
    if targets.ndim == 2:
        if targets.shape[0] != batch:
            raise RuntimeError(
                f"Expected tensor to have size {batch} at dimension 0, but got size "
                f"{targets.shape[0]} for argument #2 'targets' {_WHERE}")
        if tl_values is None and traced_checks() and tl.size:  # jnn.compile(checks=True)
            longest = jnp.max(tl)
            traced_check(longest <= targets.shape[1], "RuntimeError: Expected tensor to have "
                         f"size at least {{}} at dimension 1, but got size {targets.shape[1]} "
                         f"for argument #2 'targets' {_WHERE}", longest)
        if tl_values is not None and tl_values.size and tl_values.max() > targets.shape[1]:
            raise RuntimeError(
                f"Expected tensor to have size at least {tl_values.max()} at dimension 1, but "
                f"got size {targets.shape[1]} for argument #2 'targets' {_WHERE}")
        return targets
    total = targets.shape[0]
    if tl_values is None and traced_checks():
        needed = jnp.sum(tl)
        traced_check(needed == total, "RuntimeError: Expected tensor to have size {} at "
                     f"dimension 0, but got size {total} for argument #2 'targets' {_WHERE}",
                     needed)
    if tl_values is not None and int(tl_values.sum()) != total:
        raise RuntimeError(
            f"Expected tensor to have size {int(tl_values.sum())} at dimension 0, but got size "
            f"{total} for argument #2 'targets' {_WHERE}")
    # Static width: the longest target when the lengths are known, else all of them.
    width = int(tl_values.max()) if tl_values is not None and tl_values.size else total
    starts = jnp.cumsum(tl) - tl
    index = jnp.clip(starts[:, None] + jnp.arange(width), 0, max(total - 1, 0))
    return targets[index] if total else jnp.zeros((batch, width), targets.dtype)


def _logsumexp3(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
    # log(e^a + e^b + e^c) that stays -inf (not NaN) when all three are -inf.
    m = jnp.maximum(jnp.maximum(a, b), c)
    safe = jnp.where(jnp.isfinite(m), m, 0)
    return safe + jnp.log(jnp.exp(a - safe) + jnp.exp(b - safe) + jnp.exp(c - safe))


def _shift(x: jax.Array, k: int, fill: float) -> jax.Array:
    """``x[..., s - k]`` along the last axis (``k > 0`` from below, ``< 0`` from above)."""
    pad = jnp.full(x.shape[:-1] + (abs(k),), fill, x.dtype)
    if k > 0:
        return jnp.concatenate([pad, x[..., :-k]], axis=-1)
    return jnp.concatenate([x[..., -k:], pad], axis=-1)


def _alignment(lp, labels, il, tl, blank):
    """Emissions, skip mask and forward variables: ``(T, N, S')`` each, plus the nll."""
    n_ext = labels.shape[1]
    ext = jnp.arange(n_ext)
    emit = jnp.take_along_axis(lp, jnp.broadcast_to(labels, lp.shape[:1] + labels.shape),
                               axis=2)
    skip = (ext % 2 == 1) & (labels != _shift(labels, 2, blank))  # s-2 -> s allowed
    neg = jnp.asarray(-jnp.inf, lp.dtype)
    first = jnp.where((ext == 0) | ((ext == 1) & (tl[:, None] > 0)), emit[0], neg)

    def step(prev, e):
        a = _logsumexp3(prev, _shift(prev, 1, -jnp.inf),
                        jnp.where(skip, _shift(prev, 2, -jnp.inf), neg))
        return e + a, e + a

    _, rest = lax.scan(step, first, emit[1:])
    alpha = jnp.concatenate([first[None], rest], axis=0)
    last = alpha[jnp.maximum(il - 1, 0), jnp.arange(il.shape[0])]  # (N, S')
    end = 2 * tl
    ends = _logsumexp3(jnp.take_along_axis(last, end[:, None], 1)[:, 0],
                       jnp.where(tl > 0, jnp.take_along_axis(last, jnp.maximum(end - 1, 0)[:, None],
                                                             1)[:, 0], neg), neg)
    nll = jnp.where(il > 0, -ends, jnp.where(tl == 0, 0.0, jnp.inf).astype(lp.dtype))
    return emit, skip, alpha, nll


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _ctc_nll(lp, labels, il, tl, blank: int, zero_infinity: bool) -> jax.Array:
    return _alignment(lp, labels, il, tl, blank)[3]


def _ctc_fwd(lp, labels, il, tl, blank, zero_infinity):
    emit, skip, alpha, nll = _alignment(lp, labels, il, tl, blank)
    return nll, (lp, labels, il, tl, emit, skip, alpha, nll)


def _ctc_bwd(blank, zero_infinity, residuals, g):
    lp, labels, il, tl, emit, skip, alpha, nll = residuals
    T, N, C = lp.shape
    ext = jnp.arange(labels.shape[1])
    neg = jnp.asarray(-jnp.inf, lp.dtype)
    end = 2 * tl[:, None]
    last_mask = (ext == end) | ((ext == end - 1) & (tl[:, None] > 0))
    skip_up = _shift(skip, -2, False)  # s+2 -> s (reversed) allowed

    def step(nxt, inputs):
        t, e = inputs
        rec = e + _logsumexp3(nxt, _shift(nxt, -1, -jnp.inf),
                              jnp.where(skip_up, _shift(nxt, -2, -jnp.inf), neg))
        init = jnp.where(last_mask, e, neg)
        here = jnp.where((t == il - 1)[:, None], init,
                         jnp.where((t < il - 1)[:, None], rec, neg))
        return here, here

    _, beta = lax.scan(step, jnp.full(emit.shape[1:], -jnp.inf, lp.dtype),
                       (jnp.arange(T), emit), reverse=True)
    both = alpha + beta  # (T, N, S'): log of paths through (t, s), emission counted twice
    peak = jnp.max(both, axis=2, keepdims=True)
    peak = jnp.where(jnp.isfinite(peak), peak, 0)
    mass = jnp.zeros((T, N, C), lp.dtype).at[
        jnp.arange(T)[:, None, None], jnp.arange(N)[None, :, None], labels[None]
    ].add(jnp.exp(both - peak))
    log_occupancy = jnp.log(mass) + peak
    grad = jnp.exp(lp) - jnp.exp(log_occupancy + nll[None, :, None] - lp)
    grad = jnp.where((jnp.arange(T)[:, None] < il[None, :])[:, :, None], grad, 0)
    if zero_infinity:
        grad = jnp.where(jnp.isinf(nll)[None, :, None], 0, grad)
    return grad * g[None, :, None], None, None, None


_ctc_nll.defvjp(_ctc_fwd, _ctc_bwd)


def ctc_loss(
    log_probs: ArrayLike,
    targets: ArrayLike,
    input_lengths: ArrayLike | tuple[int, ...],
    target_lengths: ArrayLike | tuple[int, ...],
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> jax.Array:
    """Connectionist temporal classification loss: ``-log p(target | log_probs)``.

    Args:
        log_probs: ``(T, N, C)`` or unbatched ``(T, C)`` log-probabilities (e.g.
            ``log_softmax`` outputs) over ``C`` classes including ``blank``.
        targets: class indices, padded ``(N, S)`` or concatenated ``(sum(target_lengths),)``
            (unbatched: ``(S,)``); they must not contain ``blank``.
        input_lengths, target_lengths: ``(N)`` (or ``()``) integer arrays or tuples.
        blank: the blank label's index.
        reduction: ``'none'`` | ``'mean'`` (each loss divided by its target length, then
            the batch mean) | ``'sum'``.
        zero_infinity: replace infinite losses (impossible alignments) and their gradients
            by zero.

    Shape:
        - Output: scalar, or ``(N)`` (``()`` unbatched) for ``'none'``.

    PyTorch: ``torch.nn.functional.ctc_loss`` (gradients equal torch's; see the module
    docstring). Length values are checked eagerly and under ``jnn.compile(fn, checks=True)``
    (skipped in other traces); with
    concatenated targets inside a trace the padded width is the total target length.
    Half precision is computed in float32 (torch's CPU kernel refuses it).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> lp = jax.nn.log_softmax(jnp.zeros((6, 2, 4)), axis=2)
        >>> ctc_loss(lp, jnp.array([[1, 2], [3, 3]]), (6, 5), (2, 2)).shape
        ()
    """
    lp, tg = jnp.asarray(log_probs), jnp.asarray(targets)
    reduction = get_reduction(reduction)
    unbatched = lp.ndim == 2
    if unbatched:
        lp, tg = lp[:, None], tg[None]
    if lp.ndim != 3:
        raise RuntimeError(f"Expected 3-dimensional tensor, but got {lp.ndim + 1}-dimensional "
                           f"tensor for argument #1 'log_probs' {_WHERE}")
    T, N, C = lp.shape
    il, il_values = _lengths(input_lengths, "input_lengths", N)
    tl, tl_values = _lengths(target_lengths, "target_lengths", N)
    if not jnp.issubdtype(lp.dtype, jnp.floating):
        raise NotImplementedError(f'"ctc_loss_cpu" not implemented for '
                                  f"'{torch_dtype_name(lp.dtype)}'")
    if not 0 <= blank < C:
        raise RuntimeError("blank must be in label range")
    if lp.size == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    _check_length_values(il_values, "input_lengths", T, il)
    _check_length_values(tl_values, "target_lengths", None, tl)
    padded = _padded_targets(tg.astype(jnp.int32), tl, tl_values, N)
    return _ctc_reduced(lp, padded, il, tl, blank, reduction, zero_infinity, unbatched)


@functools.partial(jax.jit, static_argnums=(4, 5, 6, 7))
def _ctc_reduced(lp, padded, il, tl, blank, reduction, zero_infinity, unbatched):
    # One compiled program: eager calls would otherwise compile each small op alone.
    n = padded.shape[0]
    # blank, l_1, blank, ..., l_S, blank; positions past a target's length read blank.
    kept = jnp.where(jnp.arange(padded.shape[1]) < tl[:, None], padded, blank)
    labels = jnp.full((n, 2 * padded.shape[1] + 1), blank, jnp.int32).at[:, 1::2].set(kept)
    compute = lp.astype(jnp.float32) if lp.dtype.itemsize < 4 else lp
    nll = _ctc_nll(compute, labels, il, tl, blank, zero_infinity).astype(lp.dtype)
    if zero_infinity:
        nll = jnp.where(jnp.isinf(nll), jnp.zeros((), nll.dtype), nll)
    if reduction == "mean":
        return jnp.mean(nll / jnp.maximum(tl, 1).astype(nll.dtype))
    if reduction == "sum":
        return jnp.sum(nll)
    return nll[0] if unbatched else nll
