#!/usr/bin/env bash
# Run the practical chapters at the `paper` profile on a GPU and keep their executed notebooks,
# JSON and logs under $RESULTS/<setting>/ (default: results/paper/).
# Usage: STARCONN_DATA=... scripts/paper-run.sh SETTING [SETTING...]
# OVERRIDES="-p NAME VALUE ..." is passed to every chapter run (e.g. to check the paper path on a
# CPU at reduced data and epochs; the JSONs keep them in their params, and the scorecard would
# list them as deviations from the paper profile).
# fnn-mnist: its two chapters run concurrently (the FNN's steps are launch-bound, so two processes
# share one GPU well). Conv settings: one chapter after the other, so that the later chapters load
# the earlier ones' minima from the store instead of training them twice; vgg16-cifar10 adds Fig 5.
set -uo pipefail
RESULTS=${RESULTS:-results/paper}

run() {  # run CHAPTER SETTING
  local start=$(date +%s)
  python3 -m starconn run "$1" --profile paper -p setting "$2" ${OVERRIDES:-} --out "$RESULTS/$2" > "$RESULTS/$2/$1.log" 2>&1
  echo "$1 $2: exit $?, $(( $(date +%s) - start )) s wall" | tee -a "$RESULTS/$2/$1.log"
}

for setting in "$@"; do
  mkdir -p "$RESULTS/$setting"
  if [ "$setting" = fnn-mnist ]; then
    run star-barriers "$setting" & run ngd-practical "$setting" & wait
  else
    # Fig 5 (3 minima) first where it exists: it fits one device call; star-barriers then adds 2 minima
    [ "$setting" = vgg16-cifar10 ] && run star-vgg16-cifar10 "$setting"
    run star-barriers "$setting"
    run ngd-practical "$setting"
  fi
done
