"""Why convolutional nets are ~2× torch on this CPU whatever jnn does (issue 9).

One convolution at a time, the layers of ``cnn.py``'s models (batch 32): XLA's own
convolution (``lax.conv_general_dilated`` under ``jax.jit``, in torch's NCHW layout and in
XLA's preferred NHWC layout) against torch's oneDNN kernel, forward and forward+backward
(input and weight gradients). No jnn in the loop: this is the floor any JAX program meets.
Also timed: a plain matmul of the same FLOPs as the largest layer (XLA and torch agree
there, so the gap is XLA's CPU convolution emitter, not the machine).

Set ``XLA_FLAGS`` to try XLA's CPU options (the oneDNN/XNNPACK fusion flags of jaxlib
0.10.2 did not change these numbers).  On a GPU, torch runs on CUDA (``_torch_side``) and
``XLA_FLAGS=--xla_gpu_force_conv_nchw=true`` tries cuDNN in torch's own layout; the
``jnn`` column is an eager ``jnn.nn.functional.conv2d`` call (one dispatched program).

    python benchmarks/conv_cpu.py [--rounds 5] [--calls 10]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import jax
import numpy as np
import torch

import jnn.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
import _torch_side  # noqa: E402

# (in channels, size, out channels, kernel): LeNet's two convs, the ResNet's stem and blocks
LAYERS = [(3, 32, 6, 5), (6, 14, 16, 5), (3, 32, 16, 3), (16, 32, 16, 3), (64, 32, 64, 3)]
BATCH = 32


def _time(fn, calls: int, sync) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        out = fn()
    sync(out)
    return (time.perf_counter() - start) / calls * 1e6


def _conv(layout):
    spec = ("NCHW", "OIHW", "NCHW") if layout == "nchw" else ("NHWC", "HWIO", "NHWC")

    def conv(x, w):
        return jax.lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=spec)

    grad = jax.grad(lambda x, w: conv(x, w).sum(), (0, 1))
    return jax.jit(conv), jax.jit(grad)


def _cases(rng, c: int, size: int, o: int, k: int) -> dict:
    """name -> (call, sync) for one layer."""
    x = rng.standard_normal((BATCH, c, size, size), np.float32)
    w = rng.standard_normal((o, c, k, k), np.float32)
    xh, wh = jax.device_put(x.transpose(0, 2, 3, 1)), jax.device_put(w.transpose(2, 3, 1, 0))
    xj, wj = jax.device_put(x), jax.device_put(w)
    (f_nchw, g_nchw), (f_nhwc, _) = _conv("nchw"), _conv("nhwc")
    tx, tw = _torch_side.tensor(x).requires_grad_(), _torch_side.tensor(w).requires_grad_()

    def t_grad():
        return torch.autograd.grad(torch.nn.functional.conv2d(tx, tw).sum(), (tx, tw))

    sync_jax, sync_torch = jax.block_until_ready, _torch_side.sync
    return {
        "nchw": (lambda: f_nchw(xj, wj), sync_jax),
        "jnn": (lambda: F.conv2d(xj, wj), sync_jax),
        "nhwc": (lambda: f_nhwc(xh, wh), sync_jax),
        "torch": (lambda: torch.nn.functional.conv2d(tx.detach(), tw.detach()), sync_torch),
        "nchw_grad": (lambda: g_nchw(xj, wj), sync_jax),
        "torch_grad": (t_grad, sync_torch),
    }


def measure(rounds: int, calls: int) -> None:
    torch.set_num_threads(min(2, torch.get_num_threads()))
    rng = np.random.default_rng(0)
    sync_jax, sync_torch = jax.block_until_ready, _torch_side.sync
    print(_torch_side.describe())
    print("| conv (C→O, k, H=W) | XLA NCHW fwd | XLA NHWC fwd | jnn eager fwd | torch fwd "
          "| **fwd XLA/torch** | XLA NCHW fwd+bwd | torch fwd+bwd | **fwd+bwd XLA/torch** |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for c, size, o, k in LAYERS:
        cases = _cases(rng, c, size, o, k)
        for fn, sync in cases.values():  # warm up (compiles)
            sync(fn())
        times = {name: [] for name in cases}
        for _ in range(rounds):
            for name, (fn, sync) in cases.items():
                times[name].append(_time(fn, calls, sync))
        med = {name: statistics.median(t) for name, t in times.items()}
        print(f"| {c}→{o}, {k}×{k}, {size} | {med['nchw']:.0f} µs | {med['nhwc']:.0f} µs "
              f"| {med['jnn']:.0f} µs | {med['torch']:.0f} µs "
              f"| **{med['nchw'] / med['torch']:.1f}** "
              f"| {med['nchw_grad']:.0f} µs | {med['torch_grad']:.0f} µs "
              f"| **{med['nchw_grad'] / med['torch_grad']:.1f}** |")

    c, size, o, k = LAYERS[-1]
    rows = BATCH * (size - k + 1) ** 2
    a = rng.standard_normal((rows, c * k * k), np.float32)
    b = rng.standard_normal((c * k * k, o), np.float32)
    mm = jax.jit(lambda a, b: a @ b)
    aj, bj = jax.device_put(a), jax.device_put(b)
    ta, tb = _torch_side.tensor(a), _torch_side.tensor(b)
    sync_jax(mm(aj, bj))
    t_x = statistics.median(_time(lambda: mm(aj, bj), calls, sync_jax) for _ in range(rounds))
    t_t = statistics.median(_time(lambda: ta @ tb, calls, sync_torch) for _ in range(rounds))
    print(f"\nmatmul {rows}×{c * k * k} @ {c * k * k}×{o} (the largest layer's im2col FLOPs): "
          f"XLA {t_x:.0f} µs, torch {t_t:.0f} µs, XLA/torch {t_x / t_t:.2f}")
    print(f"\n{platform.processor() or platform.machine()}, jax {jax.__version__}, "
          f"torch {torch.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    measure(args.rounds, args.calls)


if __name__ == "__main__":
    main()
