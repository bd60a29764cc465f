"""Count what each compiled XLA program launches: the instructions of its optimized entry
computation (on a GPU each fusion, library call and copy there is one kernel launch).

    XLA_FLAGS="--xla_dump_to=DIR --xla_dump_hlo_as_text" python benchmarks/train_step.py ...
    python benchmarks/hlo_count.py DIR

Prints one line per dumped program (largest first): its module name, the number of entry
instructions by kind, parameters and outputs.
"""

from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

SKIP = {"parameter", "get-tuple-element", "tuple", "constant", "bitcast"}


def entry_ops(text: str) -> tuple[collections.Counter, int, int]:
    body = text.split("\nENTRY ", 1)[1].split("\n}", 1)[0]
    ops: collections.Counter = collections.Counter()
    params = 0
    for line in body.splitlines()[1:]:
        m = re.search(r"= \S+(?:\{[^}]*\})? ([a-z][a-z0-9-]*)\(", line)
        if m is None:
            m = re.search(r"\) ([a-z][a-z0-9-]*)\(", line)
        if m is None:
            continue
        op = m.group(1)
        if op == "parameter":
            params += 1
        if op not in SKIP:
            ops[op] += 1
    root = [ln for ln in body.splitlines() if "ROOT" in ln]
    outputs = root[0].count("%") - 1 if root and " tuple(" in root[0] else 1
    return ops, params, outputs


def main() -> None:
    rows = []
    for f in Path(sys.argv[1]).glob("*after_optimizations.txt"):
        ops, params, outputs = entry_ops(f.read_text())
        name = f.name.split(".", 2)[1] if f.name.count(".") > 2 else f.name
        rows.append((sum(ops.values()), name, ops, params, outputs))
    for total, name, ops, params, outputs in sorted(rows, key=lambda r: -r[0])[:12]:
        kinds = ", ".join(f"{k} {v}" for k, v in ops.most_common())
        print(f"{total:5d} launches  {params:4d} in {outputs:4d} out  {name[:60]:60s} {kinds}")


if __name__ == "__main__":
    main()
