#!/usr/bin/env bash
# One call on a lent GPU machine (the device tool's `run`): the environment, the float32
# precision table, a GPU pass of the test files that exercise every layer and the compiled
# state paths, then the benchmarks, each under its own time limit.  Logs go to $OUT (or
# /tmp/gpu_out).  Uses the machine's own python3, JAX and torch (nothing is installed).
#
#     bash benchmarks/gpu_run.sh [tests-seconds] [test paths] [benchmarks]
#
# (benchmarks: a space-separated subset of "precision train_step hlo cnn eager state_paths".
# The device tool returns at most 8 files from $OUT: these write env, import, tests, and
# one .txt per benchmark (hlo's lines go to train_step.txt), so name at most five.)
set -u
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
TESTS_S=${1:-150}
TESTS=${2:-"tests/nn/test_layers.py tests/nn/test_functional_linear.py tests/nn/test_conv.py
  tests/nn/test_rnn.py tests/test_compile.py tests/test_state_protocol.py
  tests/optim/test_training.py tests/test_published_programs.py tests/test_precision.py"}
BENCH=${3:-"precision train_step cnn eager state_paths"}
want() { [[ " $BENCH " == *" $1 "* ]]; }
step() {  # step NAME SECONDS CMD...: run, log to $OUT/NAME.txt (appended), say how it ended
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >> "$OUT/$name.txt" 2>&1
  echo "== $name: exit $? after $((SECONDS - t0)) s"
}
{ nvidia-smi -L; nproc; python3 -c "import sys, jax, torch, optax, chex, numpy
print(sys.version.split()[0], 'jax', jax.__version__, jax.devices(), 'torch', torch.__version__,
      'optax', optax.__version__, 'chex', chex.__version__, 'numpy', numpy.__version__)"; } \
  > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
step import 60 python3 -c "import jnn, jnn.nn as nn, jax; m = nn.Linear(3, 2); print(m(jax.numpy.ones((4, 3))).devices())"
want precision && step precision 90 python3 benchmarks/matmul_precision.py --n 4096
# shellcheck disable=SC2086
step tests "$TESTS_S" python3 -m pytest -v -n 12 -p no:cacheprovider -rfE \
  $TESTS  # (-v: a run cut off at its limit still names the tests that failed)
want train_step && step train_step 100 python3 benchmarks/train_step.py --rounds 5 --steps 20 \
  --models mlp,big --matmul-precision highest
want train_step && step train_step 60 python3 benchmarks/train_step.py --rounds 5 \
  --steps 20 --models big --matmul-precision high
if want hlo; then  # kernel launches per program: jnn's step against the hand-written ones
  XLA_FLAGS="--xla_dump_to=/tmp/hlo --xla_dump_hlo_as_text" step train_step 60 python3 \
    benchmarks/train_step.py --rounds 1 --steps 2 --models mlp --no-torch
  step train_step 30 python3 benchmarks/hlo_count.py /tmp/hlo
fi
want cnn && step cnn 70 python3 benchmarks/cnn.py --rounds 5 --steps 10
want eager && step eager 80 python3 benchmarks/eager.py --rounds 5 --steps 10
want state_paths && step state_paths 90 python3 benchmarks/state_paths.py --rounds 5 \
  --models mlp,probe,wide
for f in import precision train_step cnn eager state_paths; do
  [ -f "$OUT/$f.txt" ] && { echo "--- $f"; tail -n 16 "$OUT/$f.txt"; }
done
echo "--- tests"; grep -E "passed|failed" "$OUT/tests.txt" | tail -n 3
grep -E "(^|] )(FAILED|ERROR)" "$OUT/tests.txt" | cut -c1-160 | head -n 40
