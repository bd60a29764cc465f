"""The first steps of each epoch of a compiled train/eval loop (a small CNN), in ms.

A compiled training step after an evaluation step wants program variants (on the CPU, a copy
without donation; a loop that reads values after every step, a hand-out program).  They
compile in background threads (``jnn/_compile.py`` ``_Warming``); before, the step that
first wanted one waited for its XLA compile.  ``--sync`` compiles them in the caller, as
before, for comparison.

    python benchmarks/epoch_stall.py [--sync] [--epochs 3]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

import jnn
import jnn.nn as nn
import jnn.nn.functional as F


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sync", action="store_true")
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    if args.sync:
        jnn._compile.BACKGROUND_COMPILES = False
    jnn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3),
                          nn.ReLU(), nn.Flatten(), nn.Linear(16 * 11 * 11, 10))
    opt = jnn.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    @jnn.compile
    def train(x, y):
        def closure():
            opt.zero_grad()
            return F.cross_entropy(model(x), y)
        return opt.step(closure)

    @jnn.compile
    def evaluate(x):
        return model(x).argmax(1)

    x, y = jnp.ones((32, 1, 28, 28)), jnp.zeros((32,), jnp.int32)

    def ms(f, *a):
        t = time.perf_counter()
        jax.block_until_ready(f(*a))
        return round((time.perf_counter() - t) * 1e3, 1)

    print(f"jax {jax.__version__} on {jax.default_backend()}, "
          f"{'synchronous' if args.sync else 'background'} variant compiles")
    for epoch in range(args.epochs):
        model.train()
        train_ms = [ms(train, x, y) for _ in range(4)]
        model.eval()
        eval_ms = [ms(evaluate, x) for _ in range(3)]
        print(f"epoch {epoch}: train steps {train_ms} ms, eval steps {eval_ms} ms")


if __name__ == "__main__":
    main()
