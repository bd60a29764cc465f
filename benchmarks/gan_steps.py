"""A GAN's alternating discriminator and generator steps (issue 7).

Each step is compiled on its own and threads both models (D's loss reads G through
``detach``; G's loss goes through D), as a ported DCGAN loop does.  One process,
interleaved, median of rounds; each round times ``--steps`` D+G cycles of:

* ``jax``: hand-written JAX, dicts of arrays, ``jax.jit`` of value_and_grad + optax Adam
  per step, donated buffers (the limit);
* ``jnn``: two ``jnn.compile`` steps with discovered state: after the first switches they
  adopt each other's roots and hand the packed store over;
* ``jnn-explicit``: the same steps with ``state=`` naming each one's objects (no
  adoption): every switch writes the other step's store back and re-packs;
* ``torch``: PyTorch eager, the same loop.

    python benchmarks/gan_steps.py [--rounds 7] [--steps 50] [--layers 20] [--width 8]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_step import paired_ratio  # noqa: E402

import jnn  # noqa: E402
import jnn.nn.functional as F  # noqa: E402


def mlp(lib, width: int, out: int, layers: int):
    blocks = [m for _ in range(layers) for m in (lib.nn.Linear(width, width), lib.nn.ReLU())]
    return lib.nn.Sequential(*blocks, lib.nn.Linear(width, out))


def jnn_steps(g, d, explicit: bool):
    opt_d = jnn.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = jnn.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def d_step(real, z):
        def closure():
            opt_d.zero_grad()
            fake = jnn.detach(g(z))
            return F.softplus(-d(real)).mean() + F.softplus(d(fake)).mean()
        return opt_d.step(closure)

    def g_step(z):
        def closure():
            opt_g.zero_grad()
            return F.softplus(-d(g(z))).mean()
        return opt_g.step(closure)

    if explicit:
        d_step = jnn.compile(d_step, state=(g, d, opt_d))
        g_step = jnn.compile(g_step, state=(g, d, opt_g))
    else:
        d_step, g_step = jnn.compile(d_step), jnn.compile(g_step)

    def cycle(real, z):
        d_step(real, z)
        return g_step(z)

    return cycle


def jax_steps(g, d):
    def params(model):
        return {k: jnp.array(v) for k, v in model.state_dict().items()}

    def forward(p, x, n):
        for i in range(n):
            x = x @ p[f"{2 * i}.weight"].T + p[f"{2 * i}.bias"]
            if i < n - 1:
                x = jax.nn.relu(x)
        return x

    n_g, n_d = len(g) // 2 + 1, len(d) // 2 + 1
    tx = optax.adam(2e-4, b1=0.5, b2=0.999)
    state = {"pg": params(g), "pd": params(d)}
    state["sg"], state["sd"] = tx.init(state["pg"]), tx.init(state["pd"])

    def d_update(pd, sd, pg, real, z):
        fake = jax.lax.stop_gradient(forward(pg, z, n_g))

        def loss(pd):
            return (jax.nn.softplus(-forward(pd, real, n_d)).mean()
                    + jax.nn.softplus(forward(pd, fake, n_d)).mean())
        value, grads = jax.value_and_grad(loss)(pd)
        updates, sd = tx.update(grads, sd, pd)
        return optax.apply_updates(pd, updates), sd, value

    def g_update(pg, sg, pd, z):
        def loss(pg):
            return jax.nn.softplus(-forward(pd, forward(pg, z, n_g), n_d)).mean()
        value, grads = jax.value_and_grad(loss)(pg)
        updates, sg = tx.update(grads, sg, pg)
        return optax.apply_updates(pg, updates), sg, value

    _d = jax.jit(d_update, donate_argnums=(0, 1))
    _g = jax.jit(g_update, donate_argnums=(0, 1))

    def cycle(real, z):
        state["pd"], state["sd"], _ = _d(state["pd"], state["sd"], state["pg"], real, z)
        state["pg"], state["sg"], loss = _g(state["pg"], state["sg"], state["pd"], z)
        return loss

    return cycle


def torch_steps(g, d):
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    softplus = torch.nn.functional.softplus

    def cycle(real, z):
        opt_d.zero_grad()
        loss_d = softplus(-d(real)).mean() + softplus(d(g(z).detach())).mean()
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = softplus(-d(g(z))).mean()
        loss_g.backward()
        opt_g.step()
        return loss_g

    return cycle


def time_cycles(cycle, real, z, steps: int) -> float:
    t = time.perf_counter()
    for _ in range(steps):
        out = cycle(real, z)
    if isinstance(out, torch.Tensor):
        out.item()
    else:
        out.block_until_ready()
    return (time.perf_counter() - t) / steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--layers", type=int, default=20)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(2)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, jax {jax.__version__} "
          f"on {jax.default_backend()}, torch {torch.__version__}; G and D: "
          f"{args.layers} x Linear({args.width}, {args.width}) + ReLU, batch {args.batch}")
    rng = np.random.default_rng(0)
    real_np = rng.standard_normal((args.batch, args.width)).astype(np.float32)
    z_np = rng.standard_normal((args.batch, args.width)).astype(np.float32)
    real, z = jnp.asarray(real_np), jnp.asarray(z_np)
    jnn.manual_seed(0)

    def pair():
        return mlp(jnn, args.width, args.width, args.layers), mlp(jnn, args.width, 1, args.layers)

    torch.manual_seed(0)
    runners = {
        "jax": (jax_steps(*pair()), real, z),
        "jnn": (jnn_steps(*pair(), explicit=False), real, z),
        "jnn-explicit": (jnn_steps(*pair(), explicit=True), real, z),
        "torch": (torch_steps(mlp(torch, args.width, args.width, args.layers),
                              mlp(torch, args.width, 1, args.layers)),
                  torch.from_numpy(real_np), torch.from_numpy(z_np)),
    }
    for cycle, r, zz in runners.values():
        time_cycles(cycle, r, zz, 10)
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(args.rounds):
        for k, (cycle, r, zz) in runners.items():
            times[k].append(time_cycles(cycle, r, zz, args.steps))
    med = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    print("  ".join(f"{k} {v:8.1f}us" for k, v in med.items()))
    print(f"jnn/jax {paired_ratio(times, 'jnn', 'jax'):.3f}  "
          f"jnn-explicit/jax {paired_ratio(times, 'jnn-explicit', 'jax'):.3f}  "
          f"torch/jax {paired_ratio(times, 'torch', 'jax'):.3f}")


if __name__ == "__main__":
    main()
