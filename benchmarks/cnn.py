"""Convolutional train steps (issue 9): a LeNet-style CNN and a small ResNet with BatchNorm,
3×32×32 images, batch 32, cross entropy, SGD(momentum=0.9).

Four ways, in one process, interleaved (each round times ``--steps`` steps of each), median
of rounds, ratios as the median of per-round ratios:

* ``jax``: hand-written JAX — a dict of arrays, ``lax.conv_general_dilated`` /
  ``lax.reduce_window``, batch statistics by hand, ``jax.jit`` of ``value_and_grad`` plus
  an optax update, donated buffers (the limit);
* ``jnn``: the same model in jnn, ``jnn.compile`` of a torch-style step;
* ``jnn eager``: the same step with no ``jnn.compile`` (``optimizer.step(closure)``), and
  the eager forward ``model(x)``;
* ``torch``: PyTorch eager (2 threads), forward and training step.

    python benchmarks/cnn.py [--rounds 7] [--steps 10] [--models lenet,resnet]
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

sys.path.insert(0, str(Path(__file__).parent))
import _torch_side  # noqa: E402
from train_step import paired_ratio  # noqa: E402

import jnn  # noqa: E402
import jnn.nn as nn  # noqa: E402
import jnn.nn.functional as F  # noqa: E402

BATCH = 32


def lenet(lib):
    return lib.Sequential(
        lib.Conv2d(3, 6, 5), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(6, 16, 5), lib.ReLU(), lib.MaxPool2d(2), lib.Flatten(),
        lib.Linear(16 * 5 * 5, 120), lib.ReLU(), lib.Linear(120, 84), lib.ReLU(),
        lib.Linear(84, 10))


def resnet(lib):
    """conv-bn-relu stem, two residual blocks (16 and 32 channels), pooling, linear."""

    class Block(lib.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = lib.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = lib.BatchNorm2d(cout)
            self.conv2 = lib.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = lib.BatchNorm2d(cout)
            self.short = (lib.Sequential(lib.Conv2d(cin, cout, 1, stride, bias=False),
                                         lib.BatchNorm2d(cout))
                          if stride != 1 or cin != cout else lib.Identity())

        def forward(self, x):
            relu = lib.functional.relu
            out = relu(self.bn1(self.conv1(x)))
            return relu(self.bn2(self.conv2(out)) + self.short(x))

    return lib.Sequential(
        lib.Conv2d(3, 16, 3, 1, 1, bias=False), lib.BatchNorm2d(16), lib.ReLU(),
        Block(16, 16, 1), Block(16, 32, 2), lib.AdaptiveAvgPool2d(1), lib.Flatten(),
        lib.Linear(32, 10))


MODELS = {"lenet": lenet, "resnet": resnet}


def torch_twin(name: str, model: nn.Module):
    import torch

    tm = MODELS[name](torch.nn)
    tm.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()})
    return tm.to(_torch_side.device())


def jnn_steps(model: nn.Module):
    opt = jnn.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def closure_for(x, y):
        def closure():
            opt.zero_grad()
            return F.cross_entropy(model(x), y)
        return closure

    @jnn.compile
    def compiled(x, y):
        return opt.step(closure_for(x, y))

    def eager(x, y):
        return opt.step(closure_for(x, y))

    return compiled, eager


def torch_step(tm):
    import torch

    opt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tm(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def jax_step(model: nn.Module):
    """Hand-written JAX of the same model: a walk over the jnn model's layers that calls
    lax directly on a dict of arrays (params and BatchNorm statistics)."""
    sd = {k: jnp.array(v) for k, v in model.state_dict().items()}
    params = {k: v for k, v in sd.items() if "running" not in k and "num_batches" not in k}
    stats = {k: v for k, v in sd.items() if k not in params}
    opt = optax.sgd(0.01, momentum=0.9)
    dn = ("NCHW", "OIHW", "NCHW")

    def conv(p, k, x, m):
        y = jax.lax.conv_general_dilated(x, p[k + ".weight"], m.stride,
                                         [(q, q) for q in m.padding], dimension_numbers=dn)
        return y if m.bias is None else y + p[k + ".bias"][None, :, None, None]

    def bn(p, s, k, x, new):
        mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3))
        n = x.size / x.shape[1]
        new[k + ".running_mean"] = 0.9 * s[k + ".running_mean"] + 0.1 * mean
        new[k + ".running_var"] = 0.9 * s[k + ".running_var"] + 0.1 * var * n / (n - 1)
        new[k + ".num_batches_tracked"] = s[k + ".num_batches_tracked"] + 1
        y = (x - mean[None, :, None, None]) * jax.lax.rsqrt(var + 1e-5)[None, :, None, None]
        return y * p[k + ".weight"][None, :, None, None] + p[k + ".bias"][None, :, None, None]

    def run(m, prefix, p, s, x, new):
        kind = type(m).__name__
        if kind == "Sequential":
            for name, child in m.named_children():
                x = run(child, f"{prefix}{name}.", p, s, x, new)
            return x
        if kind == "Block":
            out = jax.nn.relu(run(m.bn1, prefix + "bn1.", p, s,
                                  run(m.conv1, prefix + "conv1.", p, s, x, new), new))
            out = run(m.bn2, prefix + "bn2.", p, s, run(m.conv2, prefix + "conv2.", p, s, out,
                                                         new), new)
            return jax.nn.relu(out + run(m.short, prefix + "short.", p, s, x, new))
        k = prefix[:-1]
        if kind == "Conv2d":
            return conv(p, k, x, m)
        if kind == "BatchNorm2d":
            return bn(p, s, k, x, new)
        if kind == "Linear":
            return x @ p[k + ".weight"].T + p[k + ".bias"]
        if kind == "ReLU":
            return jax.nn.relu(x)
        if kind == "MaxPool2d":
            return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2),
                                         "VALID")
        if kind == "AdaptiveAvgPool2d":
            return x.mean((2, 3), keepdims=True)
        if kind == "Flatten":
            return x.reshape(x.shape[0], -1)
        return x  # Identity

    def loss_fn(p, s, x, y):
        new: dict = {}
        logits = run(model, "", p, s, x, new)
        logp = jax.nn.log_softmax(logits)
        return -jnp.take_along_axis(logp, y[:, None], 1).mean(), new

    def _step(p, os_, s, x, y):
        (loss, new), g = jax.value_and_grad(loss_fn, has_aux=True)(p, s, x, y)
        u, os_ = opt.update(g, os_, p)
        return optax.apply_updates(p, u), os_, {**s, **new}, loss

    _step = jax.jit(_step, donate_argnums=(0, 1, 2))
    state = {"p": params, "o": opt.init(params), "s": stats}

    def step(x, y):
        state["p"], state["o"], state["s"], loss = _step(state["p"], state["o"], state["s"],
                                                         x, y)
        return loss

    return step


def timed(fn, args, steps: int, sync) -> float:
    out = None
    t = time.perf_counter()
    for _ in range(steps):
        out = fn(*args)
    sync(out)
    return (time.perf_counter() - t) / steps


def measure(name: str, rounds: int, steps: int) -> None:

    jnn.manual_seed(0)
    model = MODELS[name](nn)
    eager_model = MODELS[name](nn)
    eager_model.load_state_dict(model.state_dict())
    tm, tm_step = torch_twin(name, model), torch_twin(name, model)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, BATCH)
    jx, jy = jnp.asarray(x), jnp.asarray(y, jnp.int32)
    tx, ty = _torch_side.tensor(x), _torch_side.tensor(y)
    compiled, eager = jnn_steps(model)
    _, eager_step = jnn_steps(eager_model)
    block, none = jax.block_until_ready, _torch_side.sync
    runners = {
        "jax": (jax_step(model), (jx, jy), block),
        "jnn": (compiled, (jx, jy), block),
        "torch step": (torch_step(tm_step), (tx, ty), none),
        "jnn eager step": (eager_step, (jx, jy), block),
        "jnn eager fwd": (eager_model, (jx,), block),
        "torch fwd": (tm, (tx,), none),
    }
    for fn, a, sync in runners.values():  # warm up: compiles and caches
        timed(fn, a, 4, sync)
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(rounds):
        for k, (fn, a, sync) in runners.items():
            times[k].append(timed(fn, a, steps, sync))
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print(f"| {name} | {med['jax']:.2f} | {med['jnn']:.2f} | {med['torch step']:.2f} | "
          f"**{paired_ratio(times, 'jnn', 'jax'):.3f}** | "
          f"{paired_ratio(times, 'jnn', 'torch step'):.2f} | "
          f"{paired_ratio(times, 'jnn eager step', 'torch step'):.2f} | "
          f"{paired_ratio(times, 'jnn eager fwd', 'torch fwd'):.2f} |")


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--models", default="lenet,resnet")
    args = ap.parse_args()
    torch.set_num_threads(2)
    print(_torch_side.describe())
    print("| model | JAX ms | jnn.compile ms | torch ms | jnn / JAX | jnn / torch "
          "| eager step jnn / torch | eager forward jnn / torch |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        measure(name, args.rounds, args.steps)


if __name__ == "__main__":
    main()
