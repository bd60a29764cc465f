"""``F.linear_cross_entropy`` against ``F.cross_entropy(F.linear(...))`` on a 32k-class head.

The fused loss computes the projection and the cross entropy in chunks so that the
``(N, C)`` logits matrix never exists. This measures, for the loss and its gradient
(w.r.t. the hidden states and the weight) compiled with ``jax.jit``:

* XLA's temporary buffer size (``compiled.memory_analysis().temp_size_in_bytes``),
* the logits' size for comparison,
* the step time (median of rounds, interleaved),
* the largest difference between the two losses and gradients.

    python benchmarks/linear_cross_entropy.py [--n 2048] [--d 256] [--classes 32768]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import jnn.nn.functional as F


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--classes", type=int, default=32768)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, jax {jax.__version__} on {jax.default_backend()}")
    rng = np.random.default_rng(0)
    h = jnp.asarray(rng.standard_normal((args.n, args.d)).astype(np.float32))
    w = jnp.asarray(0.02 * rng.standard_normal((args.classes, args.d)).astype(np.float32))
    y = jnp.asarray(rng.integers(0, args.classes, args.n).astype(np.int32))

    def fused(h, w):
        return F.linear_cross_entropy(h, w, y)

    def unfused(h, w):
        return F.cross_entropy(F.linear(h, w), y)

    fns = {name: jax.jit(jax.value_and_grad(f, argnums=(0, 1)))
           for name, f in (("fused", fused), ("unfused", unfused))}
    logits_mb = args.n * args.classes * 4 / 2**20
    print(f"N={args.n} D={args.d} C={args.classes}: logits would be {logits_mb:.0f} MiB")
    results = {}
    for name, fn in fns.items():
        compiled = fn.lower(h, w).compile()
        temp = compiled.memory_analysis().temp_size_in_bytes / 2**20
        results[name] = jax.block_until_ready(fn(h, w))
        print(f"{name:8s} temporaries {temp:8.1f} MiB")
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(args.rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            jax.block_until_ready(fn(h, w))
            times[name].append(time.perf_counter() - t)
    for name in fns:
        print(f"{name:8s} step {statistics.median(times[name]) * 1e3:8.1f} ms")
    (lf, (gh_f, gw_f)), (lu, (gh_u, gw_u)) = results["fused"], results["unfused"]
    print(f"|loss diff| {abs(float(lf) - float(lu)):.2e}  max|dh diff| "
          f"{float(jnp.max(jnp.abs(gh_f - gh_u))):.2e}  max|dW diff| "
          f"{float(jnp.max(jnp.abs(gw_f - gw_u))):.2e}")


if __name__ == "__main__":
    main()
