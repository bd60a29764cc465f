"""How long ``import jnn`` adds to ``import jax`` (fresh interpreters, median of 5).

    python benchmarks/import_time.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys


def _time(stmt: str) -> float:
    code = f"import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
    return float(subprocess.check_output([sys.executable, "-c", code], text=True))


def main(rounds: int = 5) -> float:
    jax_only, both = [], []
    for _ in range(rounds):
        jax_only.append(_time("import jax, jax.numpy"))
        both.append(_time("import jax, jax.numpy; import jnn"))
    added = statistics.median(both) - statistics.median(jax_only)
    print(f"import jax: {statistics.median(jax_only):.3f} s; import jax + jnn: "
          f"{statistics.median(both):.3f} s; jnn adds {added:.3f} s")
    return added


if __name__ == "__main__":
    main()
