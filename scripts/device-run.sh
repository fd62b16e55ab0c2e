#!/usr/bin/env bash
# On the GPU machine, with .whl/ and gpu_inputs/ (scripts/gpu-inputs.sh) carried along: install the
# wheels, unpack the data to /tmp/data, and run scripts/paper-run.sh for the given settings. Results
# go to results/paper/, or, where the device tool's $OUT is set, to /tmp/results/paper/, packed at
# the end into $OUT/paper.tar (one file: only 8 files come back from a call).
# Usage: [BENCH=1] bash scripts/device-run.sh SETTING [SETTING...]
# BENCH=1 first runs the benchmarks (benchmarks/run.py --device cuda --quick) into
# $RESULTS/benchmarks-<card>.{md,json} (about a minute), then the settings.
set -uo pipefail
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site:$PWD/src
else
  export PYTHONPATH=$PWD/src
fi
export STARCONN_DATA=${STARCONN_DATA:-/tmp/data} STARCONN_CACHE=${STARCONN_CACHE:-/tmp/store} PYTHONUNBUFFERED=1
mkdir -p "$STARCONN_DATA/MNIST/raw"
for f in gpu_inputs/mnist/*.gz; do
  [ -e "$f" ] && gunzip -c "$f" > "$STARCONN_DATA/MNIST/raw/$(basename "$f" .gz)"
done
[ -e gpu_inputs/cifar/cifar10-jpeg.pack ] && cp gpu_inputs/cifar/cifar10-jpeg.pack "$STARCONN_DATA/"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
[ -n "${OUT:-}" ] && export RESULTS=/tmp/results/paper
export RESULTS=${RESULTS:-results/paper}
mkdir -p "$RESULTS"
if [ "${BENCH:-0}" = 1 ]; then
  card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '-')
  python3 benchmarks/run.py --device cuda --quick --json "$RESULTS/benchmarks-$card.json" \
    > "$RESULTS/benchmarks-$card.md" 2> "$RESULTS/benchmarks-$card.log"
  cat "$RESULTS/benchmarks-$card.md"
fi
if [ -n "${OUT:-}" ]; then
  # stop before the call's own limit (BUDGET_S, default 540 s) so that what finished comes back;
  # a killed minimum or center search resumes from its checkpoint in $STARCONN_CACHE on a rerun
  # while the machine is still warm
  timeout "${BUDGET_S:-540}" bash scripts/paper-run.sh "$@"
  tar -C /tmp/results -cf "$OUT/paper.tar" paper
else
  bash scripts/paper-run.sh "$@"
fi
