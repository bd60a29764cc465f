"""Pytree round trip: a 100-layer Sequential of Linear(4, 4) + ReLU vs a nested dict.

``tree_flatten`` + ``tree_unflatten`` of the jnn module against the same for a plain
nested dict holding the same 200 arrays, measured in one process, interleaved, median of
several rounds (each round: the best of 5 repeats of 2,000 round trips).

    python benchmarks/pytree.py
"""

from __future__ import annotations

import platform
import statistics
import timeit

import jax

import jnn
import jnn.nn as nn


def main(rounds: int = 7, number: int = 2000) -> float:
    jnn.manual_seed(0)
    model = nn.Sequential(*[m for _ in range(100) for m in (nn.Linear(4, 4), nn.ReLU())])
    tree = {str(2 * i): {"weight": model[2 * i].weight.data, "bias": model[2 * i].bias.data}
            for i in range(100)}
    assert len(jax.tree_util.tree_leaves(model)) == len(jax.tree_util.tree_leaves(tree)) == 200

    def round_trip(obj):
        def run() -> None:
            leaves, treedef = jax.tree_util.tree_flatten(obj)
            jax.tree_util.tree_unflatten(treedef, leaves)
        return run

    runs = {"jnn": round_trip(model), "dict": round_trip(tree)}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            times[name].append(min(timeit.repeat(fn, number=number, repeat=5)) / number)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["jnn"] / med["dict"]
    print(f"machine: {platform.machine()}, python {platform.python_version()}, "
          f"jax {jax.__version__}")
    print(f"jnn Sequential {med['jnn'] * 1e6:.1f} us, nested dict {med['dict'] * 1e6:.1f} us "
          f"per flatten+unflatten; ratio {ratio:.2f}")
    return ratio


if __name__ == "__main__":
    main()
