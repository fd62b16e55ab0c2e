#!/usr/bin/env bash
# Run one chapter and keep it on record: the executed notebook, its JSON (which names the machine,
# date, wall time and the commit it ran at) and the log, under results/<profile>/<setting or chapter>/.
# Usage: STARCONN_DATA=... scripts/record.sh PROFILE CHAPTER [SETTING] [-p NAME VALUE]...
# Run it from a clean checkout (the JSON's commit then has no "+changes") and one at a time.
set -uo pipefail
profile=$1 chapter=$2; shift 2
setting=""
if [ $# -gt 0 ] && [ "$1" != -p ]; then setting=$1; shift; fi
dir=results/$profile/${setting:-$chapter}
mkdir -p "$dir"
start=$(date +%s)
python3 -m starconn run "$chapter" --profile "$profile" ${setting:+-p setting "$setting"} "$@" --out "$dir" > "$dir/$chapter.log" 2>&1
rc=$?
echo "$chapter ${setting:-} ($profile): exit $rc, $(( $(date +%s) - start )) s wall, $(date -u +%F)" | tee -a "$dir/$chapter.log"
exit $rc
