"""float32 matrix products and convolutions: how precise, and how fast, jnn, plain JAX and
PyTorch are by default on this machine.

On NVIDIA GPUs since Ampere, XLA computes a float32 dot at JAX's DEFAULT precision with
TF32 passes, while torch's default (``torch.get_float32_matmul_precision() == "highest"``)
keeps full float32 for matrix products and allows TF32 in cuDNN convolutions.  This script
measures the relative error ‖out − ref‖ / ‖ref‖ against a float64 reference on the CPU,
and the time of each.  On a CPU every row is full float32.

    python benchmarks/matmul_precision.py [--n 4096]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _torch_side  # noqa: E402

import jnn  # noqa: E402
import jnn.nn.functional as F  # noqa: E402


def rel(out, ref) -> float:
    out = np.asarray(out, dtype=np.float64)
    return float(np.linalg.norm(out - ref) / np.linalg.norm(ref))


def timed(fn, sync, reps: int = 10) -> float:
    sync(fn())
    t = time.perf_counter()
    for _ in range(reps):
        out = fn()
    sync(out)
    return (time.perf_counter() - t) / reps


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2048)
    args = ap.parse_args()
    print(_torch_side.describe())
    n = args.n
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    x = rng.standard_normal((32, 64, 32, 32), dtype=np.float32)
    w = rng.standard_normal((64, 64, 3, 3), dtype=np.float32)
    mm_ref = a.astype(np.float64) @ b.astype(np.float64).T
    conv_ref = torch.nn.functional.conv2d(torch.tensor(x, dtype=torch.float64),
                                          torch.tensor(w, dtype=torch.float64), padding=1).numpy()
    ja, jb, jx, jw = (jnp.asarray(v) for v in (a, b, x, w))
    ta, tb, tx, tw = (_torch_side.tensor(v) for v in (a, b, x, w))
    block = jax.block_until_ready
    hi = jax.lax.Precision.HIGHEST
    # (arguments, not closed-over constants: XLA would fold a product of constants)
    mm_default = jax.jit(lambda p, q: p @ q.T)
    mm_highest = jax.jit(lambda p, q: jnp.matmul(p, q.T, precision=hi))
    rows = {
        "jax.numpy a @ b.T (DEFAULT)": (lambda: mm_default(ja, jb), block, mm_ref),
        "jax.numpy a @ b.T (HIGHEST)": (lambda: mm_highest(ja, jb), block, mm_ref),
        "jnn F.linear(a, b)": (lambda: F.linear(ja, jb), block, mm_ref),
        "jnn.matmul(a, b.T)": (lambda: jnn.matmul(ja, jb.T), block, mm_ref),
        "torch F.linear(a, b)": (lambda: torch.nn.functional.linear(ta, tb), _torch_side.sync,
                                 mm_ref),
        "jnn F.conv2d 64→64 3×3": (lambda: F.conv2d(jx, jw, padding=1), block, conv_ref),
        "torch F.conv2d 64→64 3×3": (lambda: torch.nn.functional.conv2d(tx, tw, padding=1),
                                     _torch_side.sync, conv_ref),
    }
    print(f"torch.get_float32_matmul_precision() = {torch.get_float32_matmul_precision()!r}, "
          f"torch.backends.cudnn.allow_tf32 = {torch.backends.cudnn.allow_tf32}")
    print("| what | rel. error vs float64 | ms |\n|---|---|---|")
    for name, (fn, sync, ref) in rows.items():
        out = fn()
        sync(out)
        err = rel(out.cpu().numpy() if hasattr(out, "cpu") else out, ref)
        print(f"| {name} | {err:.1e} | {timed(fn, sync) * 1e3:.3f} |")


if __name__ == "__main__":
    main()
