"""Train-step benchmark: jnn.compile vs hand-written JAX (the limit) vs PyTorch eager.

Same maths in all three: an MLP (784-512-512-10, batch 128) and the overhead probe
(100 x [Linear(4, 4) + ReLU], batch 1), MSE loss, Adam(lr=1e-3). Hand-written JAX is a
dict of arrays, ``jax.jit`` of value_and_grad plus an optax update, donated buffers;
``jax+grad`` is the same program also returning the gradients, as torch's step leaves
them in ``.grad`` (jnn's program returns them too).
All three run in one process, interleaved (each round times ``--steps`` steps of each),
and the median over rounds is reported: step times, and ratios as the median of the
per-round ratios.

    python benchmarks/train_step.py [--rounds 21] [--steps 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jnn
import jnn.nn as nn

sys.path.insert(0, str(Path(__file__).parent))
import _torch_side  # noqa: E402

MODELS = {"mlp": ([784, 512, 512, 10], 128), "probe": ([4] * 101, 1),
          # a size that keeps a GPU busy (run it with --models big on one)
          "big": ([1024, 4096, 4096, 1024], 1024)}


def build_jnn(sizes: list[int]) -> nn.Module:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


def jnn_step(model: nn.Module):
    optimizer = jnn.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()

    @jnn.compile
    def step(x, y):
        def closure():
            optimizer.zero_grad()
            return loss_fn(model(x), y)

        return optimizer.step(closure)

    return step


def jax_step(model: nn.Module, with_grads: bool = False):
    """Hand-written JAX; ``with_grads`` also returns the gradients as outputs, which is what
    torch's step leaves behind in ``.grad`` (and jnn's program therefore produces)."""
    params = {k: jnp.array(v) for k, v in model.state_dict().items()}
    n = len(params) // 2
    keys = sorted({k.split(".")[0] for k in params}, key=int)
    opt = optax.adam(1e-3)
    state = {"p": params, "s": opt.init(params)}

    def forward(p, x):
        for k in keys[:n]:
            x = jax.nn.relu(x @ p[f"{k}.weight"].T + p[f"{k}.bias"])
        return x

    @jax.jit
    def _step(p, s, x, y):
        loss, g = jax.value_and_grad(lambda p: jnp.mean((forward(p, x) - y) ** 2))(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss, (g if with_grads else None)

    _step = jax.jit(_step, donate_argnums=(0, 1))

    def step(x, y):
        state["p"], state["s"], loss, state["g"] = _step(state["p"], state["s"], x, y)
        return loss

    return step


def torch_model(model: nn.Module):
    """The torch twin of a ``build_jnn`` model, with its weights."""
    import torch

    layers = []
    sd = model.state_dict()
    for i in range(len(sd) // 2):
        w = sd[f"{2 * i}.weight"]
        layers += [torch.nn.Linear(w.shape[1], w.shape[0]), torch.nn.ReLU()]
    tm = torch.nn.Sequential(*layers)
    tm.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in sd.items()})
    return tm.to(_torch_side.device())


def torch_step(model: nn.Module):
    import torch

    tm = torch_model(model)
    opt = torch.optim.Adam(tm.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(tm(x), y)
        loss.backward()
        opt.step()
        return loss

    return step, torch


def paired_ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """Median of per-round ratios: each round runs both back to back, so a slow stretch
    of a shared machine affects both sides of a ratio alike."""
    return statistics.median(x / y for x, y in zip(times[a], times[b]))


def time_steps(step, x, y, steps: int, sync, host=None) -> float:
    """Seconds per step; ``host`` (a list) gets the seconds per step spent before the final
    wait: the Python and dispatch side, which bounds an asynchronous device's step."""
    t = time.perf_counter()
    for _ in range(steps):
        out = step(x, y)
    if host is not None:
        host.append((time.perf_counter() - t) / steps)
    sync(out)
    return (time.perf_counter() - t) / steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--models", default="mlp,probe")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--matmul-precision", choices=["highest", "high", "medium"],
                    help="float32 matmul precision for all three (jnn's setter also sets "
                         "JAX's default, so the hand-written JAX computes alike): a like-for-"
                         "like comparison on GPUs, where JAX's default is TF32 and jnn's and "
                         "torch's is full float32")
    args = ap.parse_args()
    if args.matmul_precision:
        jnn.set_float32_matmul_precision(args.matmul_precision)
        if not args.no_torch:
            import torch

            torch.set_float32_matmul_precision(args.matmul_precision)
    print(f"{_torch_side.describe()}; float32 matmul precision: "
          f"{args.matmul_precision or 'the defaults'}")
    for name in args.models.split(","):
        sizes, batch = MODELS[name]
        jnn.manual_seed(0)
        model = build_jnn(sizes)
        rng = np.random.default_rng(0)
        x_np = rng.standard_normal((batch, sizes[0])).astype(np.float32)
        y_np = rng.standard_normal((batch, sizes[-1])).astype(np.float32)
        x, y = jnp.asarray(x_np), jnp.asarray(y_np)
        ready = lambda o: o.block_until_ready()  # noqa: E731
        runners = {"jax": (jax_step(model), x, y, ready),
                   "jax+grad": (jax_step(model, with_grads=True), x, y, ready),
                   "jnn": (jnn_step(model), x, y, ready)}
        if not args.no_torch:
            tstep, torch = torch_step(model)
            torch.set_num_threads(max(1, torch.get_num_threads()))
            runners["torch"] = (tstep, _torch_side.tensor(x_np), _torch_side.tensor(y_np),
                                _torch_side.sync)
        for step, xx, yy, sync in runners.values():  # warm up: compile, caches
            time_steps(step, xx, yy, 20, sync)
        times: dict[str, list[float]] = {k: [] for k in runners}
        host: dict[str, list[float]] = {k: [] for k in runners}
        for _ in range(args.rounds):
            for k, (step, xx, yy, sync) in runners.items():
                times[k].append(time_steps(step, xx, yy, args.steps, sync, host[k]))
        med = {k: statistics.median(v) for k, v in times.items()}

        line = "  ".join(f"{k} {v * 1e6:9.1f} us" for k, v in med.items())
        ratios = (f"jnn/jax {paired_ratio(times, 'jnn', 'jax'):.3f}  "
                  f"jnn/jax+grad {paired_ratio(times, 'jnn', 'jax+grad'):.3f}")
        if "torch" in med:
            ratios += f"  torch/jax {paired_ratio(times, 'torch', 'jax'):.3f}"
            ratios += f"  jnn/torch {paired_ratio(times, 'jnn', 'torch'):.3f}"
        print(f"{name:6s} {line}  |  {ratios}")
        print(f"{'':6s} before the wait (host side): " + "  ".join(
            f"{k} {statistics.median(v) * 1e6:.1f} us" for k, v in host.items()))


if __name__ == "__main__":
    main()
