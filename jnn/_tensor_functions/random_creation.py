"""torch's random creation functions: ``randint``, ``randperm``, ``normal``, ``multinomial``, ...

Every draw takes a fresh key from jnn's generator (``jnn.random.next_key(generator)``),
so ``jnn.manual_seed(s)`` reproduces a run and ``jnn.compile`` threads the key through
compiled programs (each call of a compiled function draws new values).  The values are
not torch's: JAX's random stream is another one.  ``jnn.rand``/``jnn.randn`` live in
:mod:`jnn.random`.
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn import random as _random
from jnn._tensor_functions import dtypes
from jnn._tensor_functions._common import (
    broadcast_shape,
    check_nonnegative,
    finish,
    fit_scalar,
    input_array,
    is_concrete,
    refuse_out,
)
from jnn._tensor_functions.creation import check_requires_grad

__all__ = [
    "randint", "randperm", "normal", "bernoulli", "multinomial", "rand_like", "randn_like",
    "randint_like",
]

Generator = _random.Generator


def _shape(size: Any, name: str) -> tuple[int, ...]:
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"{name}(): argument 'size' must be tuple of ints, not "
                        f"{type(size).__name__}")
    shape = tuple(builtins.int(s) for s in size)
    check_nonnegative(shape)
    return shape


def _uniform_ints(generator: Generator | None, shape: tuple[int, ...], low: int, high: int,
                  dt: Any, requested: Any = None) -> jax.Array:
    """Checks first, then draws: a refused call consumes no key."""
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got "
                           f"from={low} >= to={high}")
    _check_bounds(low, high, dt, requested)
    draw_dtype = dt if jnp.issubdtype(dt, jnp.integer) else dtypes.default_int()
    key = _random.next_key(generator)
    return jax.random.randint(key, shape, low, high, draw_dtype).astype(dt)


# torch's precision limit of a float dtype for whole numbers (std::numeric_limits digits)
_DIGITS = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}


def _check_bounds(low: int, high: int, dt: Any, requested: Any) -> None:
    """torch's ``check_from_to``: ``low`` and ``high - 1`` must fit the dtype (its
    RuntimeError), and for a float dtype lie within its exactly representable whole
    numbers (its warning).  An int64 bound beyond JAX's int32 says how to turn x64 on."""
    dt = jnp.dtype(dt)
    if requested is not None and jnp.dtype(requested) == jnp.int64 and dt == jnp.int32:
        for bound in (low, high - 1):
            fit_scalar(bound, dt, jnp.int64)
    if dt == jnp.bool_:
        lowest, highest = 0, 1
    elif jnp.issubdtype(dt, jnp.floating):
        lowest, highest = -builtins.float(jnp.finfo(dt).max), builtins.float(jnp.finfo(dt).max)
    else:
        lowest, highest = builtins.int(jnp.iinfo(dt).min), builtins.int(jnp.iinfo(dt).max)
    for what, bound in (("from", low), ("to - 1", high - 1)):
        if not lowest <= bound <= highest:
            raise RuntimeError(f"{what} is out of bounds for {dtypes.cpp_name(dt)}")
    digits = _DIGITS.get(dt.name)
    for what, bound in (("from", low), ("to - 1", high - 1)):
        if digits is not None and not -2**digits <= bound <= 2**digits:
            warnings.warn(
                f"{what} is out of bounds [-(2^{digits}), 2^{digits}]. Due to precision "
                f"limitations {dtypes.cpp_name(dt)} can support discrete uniform distribution "
                "only within this range. This warning will become an error in version 1.7 "
                "release, please fix the code in advance", UserWarning,
                stacklevel=dtypes._user_stacklevel())


def randint(*args: Any, low: int | None = None, high: int | None = None,
            size: Sequence[int] | None = None, generator: Generator | None = None,
            out: Any = None, dtype: Any = None, layout: Any = None, device: Any = None,
            requires_grad: builtins.bool = False) -> jax.Array:
    """Uniform integers in ``[low, high)``: ``randint(high, size)``, ``randint(low, high, size)``.

    Args:
        low: lowest value (default 0).
        high: one above the highest value.
        size: a tuple or list of ints.
        generator: the generator to draw from (default: jnn's global one).
        dtype: default torch's int64 (int32 with x64 off); float dtypes give whole numbers.

    PyTorch: ``torch.randint``.
    """
    _random.check_generator(generator, "randint")
    args = list(args)
    if size is None:
        if not args:
            raise TypeError("randint() missing required argument 'size'")
        size = args.pop()
    if high is None and args:
        high = args.pop()
    if low is None:
        low = args.pop() if args else 0
    if args or high is None:
        raise TypeError("randint() takes arguments (high, size) or (low, high, size)")
    dt = dtypes.default_int() if dtype is None else dtypes.resolve_dtype(dtype, "randint")
    check_requires_grad(requires_grad, dt)
    values = _uniform_ints(generator, _shape(size, "randint"), builtins.int(low),
                           builtins.int(high), dt, jnp.int64 if dtype is None else dtype)
    return finish(values, device, out, "randint")


def randperm(n: int, *, generator: Generator | None = None, out: Any = None, dtype: Any = None,
             layout: Any = None, device: Any = None, requires_grad: builtins.bool = False,
             pin_memory: builtins.bool = False) -> jax.Array:
    """A random permutation of ``0 .. n-1``.

    Args:
        n: how many values.
        dtype: default torch's int64 (int32 with x64 off).

    PyTorch: ``torch.randperm``.
    """
    _random.check_generator(generator, "randperm")
    check_nonnegative((n,))
    dt = dtypes.default_int() if dtype is None else dtypes.resolve_dtype(dtype, "randperm")
    check_requires_grad(requires_grad, dt)
    _check_randperm_dtype(builtins.int(n), dt, jnp.int64 if dtype is None else dtype)
    perm = jax.random.permutation(_random.next_key(generator), builtins.int(n))
    return finish(perm.astype(dt), device, out, "randperm")


def _check_randperm_dtype(n: int, dt: Any, requested: Any) -> None:
    """torch's randperm checks: ``n - 1`` must fit an integer dtype, ``n`` must stay within
    a float dtype's whole numbers, and bool has no kernel."""
    dt = jnp.dtype(dt)
    if dt == jnp.bool_:
        raise NotImplementedError("\"randperm\" not implemented for 'Bool'")
    if jnp.issubdtype(dt, jnp.integer):
        fit_scalar(n - 1, dt, requested)
        return
    limits = {"float16": ("2049", "Half"), "float32": ("2^24+1", "Float"),
              "float64": ("2^53+1", "Double")}
    if dt.name in limits and n > 2 ** _DIGITS[dt.name] + 1:
        bound, name = limits[dt.name]
        raise RuntimeError(f"n cannot be greater than {bound} for {name} type.")


def _check_std(std: Any) -> None:
    if isinstance(std, (jax.Array, np.ndarray)):
        # A value check: only possible eagerly (under a trace it is skipped).
        if is_concrete(std) and builtins.bool(jnp.any(std < 0)):
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")


def normal(mean: Any, std: Any = 1.0, size: Sequence[int] | None = None, *,
           generator: Generator | None = None, out: Any = None, dtype: Any = None,
           layout: Any = None, device: Any = None, requires_grad: builtins.bool = False
           ) -> jax.Array:
    """Normal samples with the given means and standard deviations.

    torch's overloads: ``normal(mean_array, std_array)`` (broadcast), ``normal(mean_array,
    std=1.0)``, ``normal(mean, std_array)``, and ``normal(mean, std, size)`` for numbers.

    Args:
        mean, std: arrays or numbers (``std >= 0``; checked for arrays eagerly only).
        size: the shape, required when both are numbers.
        dtype: for the number form, default :func:`~jnn.get_default_dtype`.

    PyTorch: ``torch.normal``.
    """
    _random.check_generator(generator, "normal")
    _check_std(std)
    refuse_out(out, "normal")
    arrays = [a for a in (mean, std) if isinstance(a, (jax.Array, np.ndarray))]
    if arrays:
        shape = broadcast_shape(jnp.shape(mean), jnp.shape(std))
        dt = jnp.result_type(*arrays)
        dt = dt if jnp.issubdtype(dt, jnp.floating) else dtypes.default_float()
    elif size is None:
        raise TypeError("normal(): with a number mean and std, size is required: "
                        "normal(mean, std, size)")
    else:
        shape = _shape(size, "normal")
        dt = dtypes.default_float() if dtype is None else dtypes.resolve_dtype(dtype, "normal")
    check_requires_grad(requires_grad, dt)
    z = jax.random.normal(_random.next_key(generator), shape, dt)
    return finish((mean + std * z).astype(dt), device, None, "normal")


def bernoulli(input: jax.Array, p: float | None = None, *, generator: Generator | None = None,
              out: Any = None) -> jax.Array:
    """0/1 draws, 1 with probability ``input`` (or ``p``), in ``input``'s shape and dtype.

    PyTorch: ``torch.bernoulli``; probabilities outside [0, 1] raise eagerly as in torch
    (the check is skipped under a trace).
    """
    _random.check_generator(generator, "bernoulli")
    refuse_out(out, "bernoulli")
    x = input_array(input, "bernoulli")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise NotImplementedError(
            f"\"bernoulli_tensor_cpu_p_\" not implemented for '{dtypes.torch_name(x.dtype)}'")
    prob = x if p is None else jnp.asarray(p, x.dtype)
    if is_concrete(prob) and not builtins.bool(jnp.all((prob >= 0) & (prob <= 1))):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    u = jax.random.uniform(_random.next_key(generator), x.shape, jnp.float32)
    return (u < prob).astype(x.dtype)


def multinomial(input: jax.Array, num_samples: int, replacement: builtins.bool = False, *,
                generator: Generator | None = None, out: Any = None) -> jax.Array:
    """Category indices drawn with probabilities proportional to the rows of ``input``.

    Args:
        input: non-negative weights, ``(K,)`` or ``(N, K)`` (need not sum to one).
        num_samples: draws per row.
        replacement: with replacement, or without (each category at most once; drawn
            by the Gumbel top-k trick, the same distribution as torch's sequential draws).

    Returns:
        ``(num_samples,)`` or ``(N, num_samples)`` indices, torch's int64 (int32 with x64 off).

    PyTorch: ``torch.multinomial``; negative/NaN weights and all-zero rows raise eagerly
    only (inside a trace they are not checked).
    """
    _random.check_generator(generator, "multinomial", overloaded=False)
    refuse_out(out, "multinomial")
    x = input_array(input, "multinomial")
    if x.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > x.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    if is_concrete(x):  # torch's eager checks; skipped inside a trace (no host sync there)
        valid, positive = jax.device_get((jnp.all(jnp.isfinite(x) & (x >= 0)),
                                          jnp.all(jnp.sum(x, axis=-1) > 0)))
        if not valid:
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if not positive:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    logits = jnp.log(x.astype(jnp.promote_types(x.dtype, jnp.float32)))
    key = _random.next_key(generator)
    if replacement:
        draws = jax.random.categorical(key, logits, axis=-1,
                                       shape=(num_samples, *x.shape[:-1]))
        idx = jnp.moveaxis(draws, 0, -1)
    else:
        scores = logits + jax.random.gumbel(key, x.shape, logits.dtype)
        idx = jax.lax.top_k(scores, num_samples)[1]
    return idx.astype(dtypes.default_int())


def rand_like(input: jax.Array, *, generator: Generator | None = None, dtype: Any = None,
              layout: Any = None, device: Any = None, requires_grad: builtins.bool = False,
              memory_format: Any = None) -> jax.Array:
    """Uniform [0, 1) samples in ``input``'s shape and dtype.  PyTorch: ``torch.rand_like``."""
    _random.check_generator(generator, "rand_like")
    x = input_array(input, "rand_like")
    return _random.rand(x.shape, generator=generator, dtype=dtype or x.dtype, device=device,
                        requires_grad=requires_grad)


def randn_like(input: jax.Array, *, generator: Generator | None = None, dtype: Any = None,
               layout: Any = None, device: Any = None, requires_grad: builtins.bool = False,
               memory_format: Any = None) -> jax.Array:
    """Standard-normal samples in ``input``'s shape and dtype.  PyTorch: ``torch.randn_like``."""
    _random.check_generator(generator, "randn_like")
    x = input_array(input, "randn_like")
    return _random.randn(x.shape, generator=generator, dtype=dtype or x.dtype, device=device,
                         requires_grad=requires_grad)


def randint_like(input: jax.Array, low: int = 0, high: int | None = None, *,
                 generator: Generator | None = None, dtype: Any = None, layout: Any = None,
                 device: Any = None, requires_grad: builtins.bool = False,
                 memory_format: Any = None) -> jax.Array:
    """Uniform integers in ``[low, high)`` in ``input``'s shape and dtype.

    ``randint_like(input, high)`` or ``randint_like(input, low, high)``.

    PyTorch: ``torch.randint_like``.
    """
    _random.check_generator(generator, "randint_like")
    if high is None:
        low, high = 0, low
    x = input_array(input, "randint_like")
    dt = x.dtype if dtype is None else dtypes.resolve_dtype(dtype, "randint_like")
    check_requires_grad(requires_grad, dt)
    values = _uniform_ints(generator, x.shape, builtins.int(low), builtins.int(high), dt, dtype)
    return finish(values, device, None, "randint_like")
