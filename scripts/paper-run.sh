#!/usr/bin/env bash
# Run the practical chapters at the `paper` profile on a GPU and keep their executed notebooks
# and JSON under $RESULTS/<setting>/ (default: results/paper/).
# Usage: STARCONN_DATA=... scripts/paper-run.sh SETTING [SETTING...]
# A setting's two chapters run concurrently: the FNN's steps are launch-bound, so two processes
# share one GPU well (both may train the shared minima; the store keeps one copy).
set -uo pipefail
RESULTS=${RESULTS:-results/paper}
for setting in "$@"; do
  mkdir -p "$RESULTS/$setting"
  for chapter in star-barriers ngd-practical; do
    (
      start=$(date +%s)
      python3 -m starconn run "$chapter" --profile paper -p setting "$setting" --out "$RESULTS/$setting" \
        > "$RESULTS/$setting/$chapter.log" 2>&1
      echo "$chapter $setting: exit $?, $(( $(date +%s) - start )) s wall" | tee -a "$RESULTS/$setting/$chapter.log"
    ) &
  done
  wait
done
