#!/usr/bin/env bash
# On the GPU machine, with .whl/ and gpu_inputs/ (scripts/gpu-inputs.sh) carried along: install the
# wheels, unpack the data to /tmp/data, optionally run the benchmarks, then run the given jobs
# (NAME@SETTING, as `python -m starconn gpu-plan` hands them out: `gpu-plan --run`) or settings
# (every practical chapter of each: scripts/paper-run.sh). Results go to results/paper/, or, where
# the device tool's $OUT is set, to /tmp/results/paper/, packed at the end into $OUT
# (scripts/pack-results.py: paper.tar with the results, benchmarks and logs, and the store's
# finished minima and centers: their metadata always, their tensors where they fit what a call
# may bring back).
# Usage: [BENCH=1] [BENCH_S=90] [LIMIT_S=570] [OVERRIDES="-p NAME VALUE ..."] bash scripts/device-run.sh JOB|SETTING...
# BENCH=1 first runs benchmarks/run.py --device cuda --quick (the steps' FLOP/s and MFU and the
# levers first; the JSON is rewritten after each row) for at most BENCH_S seconds into
# $RESULTS/benchmarks-<card>.{md,json,log}. With $OUT set, everything after the start stops at
# LIMIT_S seconds (the device's limit is 600 s: 30 s are left to pack), so what finished comes back;
# a stopped job leaves its partial notebook in $RESULTS/<setting>/.<stem>/, and a minimum or center
# search stopped midway resumes from its checkpoint in $STARCONN_CACHE when rerun on the same
# (warm) machine.
set -uo pipefail
start=$(date +%s)
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
  timeout "${BENCH_S:-90}" python3 benchmarks/run.py --device cuda --quick --json "$RESULTS/benchmarks-$card.json" \
    > "$RESULTS/benchmarks-$card.md" 2> "$RESULTS/benchmarks-$card.log"
  cat "$RESULTS/benchmarks-$card.md"
fi
if [[ "$*" == *@* ]]; then
  # shellcheck disable=SC2086  # OVERRIDES is a list of words
  work=(python3 -m starconn gpu-plan --run "$@" --results "$RESULTS" ${OVERRIDES:-})
else
  work=(bash scripts/paper-run.sh "$@")
fi
if [ -n "${OUT:-}" ]; then
  left=$(( ${LIMIT_S:-570} - ($(date +%s) - start) ))
  timeout "$left" "${work[@]}"
  sleep 2  # a kernel whose papermill was stopped exits within a second (it polls its parent)
  python3 scripts/pack-results.py /tmp/results "$STARCONN_CACHE" "$OUT"
  echo "device-run: $(( $(date +%s) - start )) s wall"
else
  "${work[@]}"
fi
