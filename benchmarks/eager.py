"""Eager mode against PyTorch eager: what a porter's first, uncompiled run costs (issue 8).

Same models as ``train_step.py`` (the MLP 784-512-512-10 at batch 128 and the probe,
100 x [Linear(4, 4) + ReLU] at batch 1), MSE loss, Adam(lr=1e-3), no ``jnn.compile``:

* ``forward``: ``model(x)`` (torch: with autograd recording, as in a training loop);
* ``step(closure)``: ``optimizer.step(closure)`` (torch: ``zero_grad(); loss.backward();
  step()``);
* ``backward+step``: ``jnn.autograd.backward(closure); optimizer.step()``;
* ``module call``: the Python cost of calling one ``nn.Identity()`` (µs per call).

jnn and torch run in one process, interleaved (each round times ``--steps`` calls of
each), torch limited to 2 threads; the table gives median times and the median of the
per-round ratios (jnn / torch).

    python benchmarks/eager.py [--rounds 11] [--steps 30] [--models mlp,probe]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _torch_side  # noqa: E402
from train_step import MODELS, build_jnn, paired_ratio, torch_model  # noqa: E402

import jnn  # noqa: E402
import jnn.nn as nn  # noqa: E402


def jnn_cases(model: nn.Module) -> dict:
    opt = jnn.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()

    def closure_for(x, y):
        def closure():
            opt.zero_grad()
            return loss_fn(model(x), y)
        return closure

    def step_closure(x, y):
        return opt.step(closure_for(x, y))

    def backward_step(x, y):
        loss = jnn.autograd.backward(closure_for(x, y))
        opt.step()
        return loss

    return {"forward": lambda x, y: model(x), "step(closure)": step_closure,
            "backward+step": backward_step}


def torch_cases(tm) -> dict:
    import torch

    opt = torch.optim.Adam(tm.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(tm(x), y)
        loss.backward()
        opt.step()
        return loss

    return {"forward": lambda x, y: tm(x), "step(closure)": step, "backward+step": step}


def timed(fn, x, y, steps: int, sync) -> float:
    out = None
    t = time.perf_counter()
    for _ in range(steps):
        out = fn(x, y)
    sync(out)
    return (time.perf_counter() - t) / steps


def module_call_us(rounds: int) -> tuple[float, float]:
    """µs per call of an ``nn.Identity()`` in jnn and in torch."""
    import torch

    x, tx = jax.numpy.ones(4), torch.ones(4)
    ji, ti = nn.Identity(), torch.nn.Identity()
    n = 20000

    def per_call(m, v) -> float:
        t = time.perf_counter()
        for _ in range(n):
            m(v)
        return (time.perf_counter() - t) / n * 1e6

    pairs = [(per_call(ji, x), per_call(ti, tx)) for _ in range(rounds)]
    return statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs)


def measure(name: str, rounds: int, steps: int) -> None:

    sizes, batch = MODELS[name]
    jnn.manual_seed(0)
    model = build_jnn(sizes)
    tm = torch_model(model)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.standard_normal((batch, sizes[-1]), dtype=np.float32)
    jx, jy = jax.numpy.asarray(x), jax.numpy.asarray(y)
    tx, ty = _torch_side.tensor(x), _torch_side.tensor(y)
    jc, tc = jnn_cases(model), torch_cases(tm)
    for case in jc:
        times: dict[str, list[float]] = {"jnn": [], "torch": []}
        for fn, a, b in ((jc[case], jx, jy), (tc[case], tx, ty)):  # warm up: compiles
            timed(fn, a, b, 2, lambda o: None)
        jax.block_until_ready(jc[case](jx, jy))
        for _ in range(rounds):
            times["jnn"].append(timed(jc[case], jx, jy, steps, jax.block_until_ready))
            times["torch"].append(timed(tc[case], tx, ty, steps, _torch_side.sync))
        j, t = (statistics.median(times[k]) * 1e6 for k in ("jnn", "torch"))
        ratio = paired_ratio(times, "jnn", "torch")
        print(f"| {name} | {case} | {j:9.0f} | {t:9.0f} | {ratio:5.2f} |")


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--models", default="mlp,probe")
    args = ap.parse_args()
    torch.set_num_threads(2)
    print(_torch_side.describe())
    print("| model | case | jnn µs | torch µs | jnn/torch |\n|---|---|---|---|---|")
    for name in args.models.split(","):
        measure(name, args.rounds, args.steps)
    j, t = module_call_us(args.rounds)
    print(f"| - | module call (Identity) | {j:9.2f} | {t:9.2f} | {j / t:5.2f} |")


if __name__ == "__main__":
    main()
