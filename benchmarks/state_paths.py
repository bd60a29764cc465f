"""What real training scripts do around a compiled step, and what it costs (issue 7).

For each model, in one process, interleaved, median of rounds (ratios: median of the
per-round ratios):

* ``jax``: hand-written JAX, a dict of arrays (``train_step.py``'s limit);
* ``jax-packed``: hand-written JAX with all state (parameters and Adam's moments) raveled
  into one flat vector that is unraveled inside the program;
* ``jnn``: the untouched ``jnn.compile`` loop;
* ``jnn+read``: the same loop reading one weight per step (``model[0].weight.data``, as
  logging code does, without a host sync);
* ``jnn+sd``: the same loop calling ``model.state_dict()`` per step (checkpointing);
* ``jax-packed+sd``: the packed JAX step also returning every parameter as an array, as
  a state_dict per step needs (its ratio to ``jax-packed`` is the floor for packed state:
  XLA's CPU client spends about 1 µs per program output);
* ``jnn+eval``: a compiled train step alternating with a compiled eval step
  (``model.train()`` / ``model.eval()`` around them), against the two alone.

and, once per model in a fresh object, the time to the first steady step (construct,
call twice, block) of jnn against hand-written JAX.

Each timing runs ``--steps`` steps, at least 4 ms' worth: the first call after a wait
(``block_until_ready``) wakes XLA's CPU threads (0.1-0.5 ms on the project's machine), which
in a 30-step group of the tiny model's 12 µs steps weighs as much as the steps themselves.

    python benchmarks/state_paths.py [--rounds 11] [--steps 30] [--models mlp,probe,wide,tiny]
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
from jax.flatten_util import ravel_pytree

sys.path.insert(0, str(Path(__file__).parent))
from train_step import build_jnn, jax_step, jnn_step, paired_ratio  # noqa: E402

import jnn  # noqa: E402
import jnn.nn as nn  # noqa: E402

MODELS = {"mlp": ([784, 512, 512, 10], 128), "probe": ([4] * 101, 1),
          "wide": ([4096, 4096], 64), "tiny": ([10, 1], 8)}


# steps per timing so that one lasts at least ~4 ms (see the top)
MIN_STEPS = {"tiny": 300, "probe": 100}


def jax_packed_step(model: nn.Module, hand_out: bool = False):
    """All state in one flat vector: the best case for many tiny arrays.  ``hand_out``:
    each step also returns every parameter as its own array, as a ``state_dict()`` per
    step must (the floor of that for packed state: one program output per array)."""
    params = {k: jnp.array(v) for k, v in model.state_dict().items()}
    n = len(params) // 2
    keys = sorted({k.split(".")[0] for k in params}, key=int)
    opt = optax.adam(1e-3)
    flat, unravel = ravel_pytree((params, opt.init(params)))

    def forward(p, x):
        for k in keys[:n]:
            x = jax.nn.relu(x @ p[f"{k}.weight"].T + p[f"{k}.bias"])
        return x

    def _step(flat, x, y):
        p, s = unravel(flat)
        loss, g = jax.value_and_grad(lambda p: jnp.mean((forward(p, x) - y) ** 2))(p)
        u, s = opt.update(g, s, p)
        p = optax.apply_updates(p, u)
        return ravel_pytree((p, s))[0], (loss, p) if hand_out else loss

    _step = jax.jit(_step, donate_argnums=(0,))
    state = {"flat": flat}

    def step(x, y):
        state["flat"], loss = _step(state["flat"], x, y)
        if hand_out:
            loss, state["sd"] = loss
        return loss

    return step


def with_extra(step, extra):
    def run(x, y):
        extra()
        return step(x, y)
    return run


def train_eval(model: nn.Module):
    """A compiled train step and a compiled eval step, alternating, as an epoch loop does."""
    train = jnn_step(model)
    evaluate = jnn.compile(lambda x: model(x))

    def both(x, y):
        model.train()
        train(x, y)
        model.eval()
        # (the evaluation reads the training step's new state: waiting for its output waits
        # for both; adding the loss to it would time one more eager op than the two alone)
        return evaluate(x).sum()

    def alone_train(x, y):
        return train(x, y)

    def alone_eval(x, y):
        return evaluate(x).sum()

    return both, alone_train, alone_eval


def time_steps(step, x, y, steps: int) -> float:
    t = time.perf_counter()
    for _ in range(steps):
        out = step(x, y)
    out.block_until_ready()
    return (time.perf_counter() - t) / steps


def first_steady(make, x, y) -> float:
    t = time.perf_counter()
    step = make()
    step(x, y)
    step(x, y).block_until_ready()
    return time.perf_counter() - t


def measure(name: str, rounds: int, steps: int) -> None:
    sizes, batch = MODELS[name]
    steps = max(steps, MIN_STEPS.get(name, 0))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((batch, sizes[0])).astype(np.float32))
    y = jnp.asarray(rng.standard_normal((batch, sizes[-1])).astype(np.float32))
    jnn.manual_seed(0)
    # time to the first steady step: fresh objects, fresh programs (shapes unique per model)
    t_jax = first_steady(lambda: jax_step(build_jnn(sizes)), x, y)
    t_jnn = first_steady(lambda: jnn_step(build_jnn(sizes)), x, y)
    models = {k: build_jnn(sizes) for k in ("jnn", "read", "sd", "alt")}
    both, alone_train, alone_eval = train_eval(models["alt"])
    runners = {
        "jax": jax_step(models["jnn"]),
        "jax-packed": jax_packed_step(models["jnn"]),
        "jax-packed+sd": jax_packed_step(models["jnn"], hand_out=True),
        "jnn": jnn_step(models["jnn"]),
        "jnn+read": with_extra(jnn_step(models["read"]), lambda: models["read"][0].weight.data),
        "jnn+sd": with_extra(jnn_step(models["sd"]), lambda: models["sd"].state_dict()),
        "jnn+eval": both,
    }
    # Warm-up: one whole round, as measured.  The first calls of each function after the
    # others' first traces pay one-time costs (a trace writes every pending store back; the
    # next call re-packs; a store read by another program once gets its non-donating
    # variant compiled) that are not steady state (the first steady step is timed above).
    # Program variants a loop wants (the copy without donation after an evaluation, the
    # program handing out what is read every step) compile in background threads: steady
    # state starts once they are done (a script runs on meanwhile, on the programs it has),
    # so the warm-up waits for them after each round, and ends with a round that started none.
    models["alt"].train()
    for i in range(6):
        started = jnn._compile.compiles_started()
        for step in runners.values():
            time_steps(step, x, y, 10 if i == 0 else steps)
        time_steps(alone_train, x, y, 10 if i == 0 else steps)
        models["alt"].eval()
        time_steps(alone_eval, x, y, 10 if i == 0 else steps)
        models["alt"].train()
        jnn._compile.wait_for_compiles()
        if i >= 2 and jnn._compile.compiles_started() == started:
            break
    alone_times: list[float] = []
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(rounds):
        for k, step in runners.items():
            times[k].append(time_steps(step, x, y, steps))
        models["alt"].train()
        a = time_steps(alone_train, x, y, steps)
        models["alt"].eval()
        alone_times.append(a + time_steps(alone_eval, x, y, steps))
        models["alt"].train()
    times["alone"] = alone_times
    med = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    print(f"{name:6s} " + "  ".join(f"{k} {v:8.1f}us" for k, v in med.items()))
    print(f"{'':6s} jnn/jax {paired_ratio(times, 'jnn', 'jax'):.3f}  "
          f"jnn/jax-packed {paired_ratio(times, 'jnn', 'jax-packed'):.3f}  "
          f"read/jnn {paired_ratio(times, 'jnn+read', 'jnn'):.3f}  "
          f"state_dict/jnn {paired_ratio(times, 'jnn+sd', 'jnn'):.3f} "
          f"(packed JAX's own: {paired_ratio(times, 'jax-packed+sd', 'jax-packed'):.3f}; "
          f"jnn+sd/its {paired_ratio(times, 'jnn+sd', 'jax-packed+sd'):.3f})  "
          f"alternating/alone {paired_ratio(times, 'jnn+eval', 'alone'):.3f}  "
          f"first steady step jnn/jax {t_jnn / t_jax:.2f} ({t_jnn:.2f}s vs {t_jax:.2f}s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--models", default="mlp,probe,wide,tiny")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {platform.processor() or ''}, jax {jax.__version__} "
          f"on {jax.default_backend()}, {jax.device_count()} device(s)")
    for name in args.models.split(","):
        measure(name, args.rounds, args.steps)


if __name__ == "__main__":
    main()
