#!/bin/bash
# The runs README.md reports, each a separate lv-migrate.sh in BASE/<case>;
# BASE/summary.txt collects their summaries. About 70-110 s per case.
#
#   lv-matrix.sh BASE [CASE...]     (no CASE: all of them)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
base=${1:?usage: $0 BASE [CASE...]}
shift
mkdir -p "$base"
declare -A CASES=(
    [pc-fd4]="LV_MODE=postcopy"
    [pc-fd4-nohook]="LV_MODE=postcopy LV_NO_HOOK=1"
    [pc-fd4-asap]="LV_MODE=postcopy LV_POSTCOPY_AFTER=asap"
    [pre-fd4]="LV_MODE=precopy"
    [pc-fd4-sleep-started]="LV_MODE=postcopy LV_HOOK_SLEEP_B=started=5"
    [pc-fd4-sleep-prep]="LV_MODE=postcopy LV_HOOK_SLEEP_B='migrate=1 prepare=2 start=3'"
    [pc-fd4-fail-started]="LV_MODE=postcopy LV_HOOK_FAIL_B=started"
    [pc-fd15]="LV_MODE=postcopy LV_FORWARD_DELAY=15"
    [pre-fd15]="LV_MODE=precopy LV_FORWARD_DELAY=15"
    [pc-fd15-waitfwd]="LV_MODE=postcopy LV_FORWARD_DELAY=15 LV_HOOK_WAITFWD_B=started=60"
    # Bandwidth capped at 16 MiB/s: pre-copy cannot finish before migrate-postcopy.
    [pcbw-fd4]="LV_MODE=postcopy LV_MIGRATE_FLAGS='--bandwidth 16'"
    [pcbw-fd4-nohook]="LV_MODE=postcopy LV_NO_HOOK=1 LV_MIGRATE_FLAGS='--bandwidth 16'"
    [pcbw-fd15]="LV_MODE=postcopy LV_FORWARD_DELAY=15 LV_MIGRATE_FLAGS='--bandwidth 16'"
    [pcbw-fd15-waitfwd]="LV_MODE=postcopy LV_FORWARD_DELAY=15 LV_HOOK_WAITFWD_B=started=60 LV_MIGRATE_FLAGS='--bandwidth 16'"
    [pcbw-fd15-waitfwd-probe]="LV_MODE=postcopy LV_FORWARD_DELAY=15 LV_HOOK_WAITFWD_B=started=60 LV_PROBE_IN_HOOK=1 LV_MIGRATE_FLAGS='--bandwidth 16'"
    [pcbw-fd4-asap]="LV_MODE=postcopy LV_POSTCOPY_AFTER=asap LV_MIGRATE_FLAGS='--bandwidth 16'"
)
order=(pc-fd4 pc-fd4-nohook pc-fd4-asap pre-fd4 pc-fd4-sleep-started pc-fd4-sleep-prep
    pc-fd4-fail-started pc-fd15 pre-fd15 pc-fd15-waitfwd
    pcbw-fd4 pcbw-fd4-nohook pcbw-fd15 pcbw-fd15-waitfwd pcbw-fd15-waitfwd-probe pcbw-fd4-asap)
(($#)) && order=("$@")
for c in "${order[@]}"; do
    [[ -n ${CASES[$c]:-} ]] || {
        echo "unknown case $c" >&2
        continue
    }
    echo "=== $c: ${CASES[$c]}" | tee -a "$base/summary.txt"
    start=$SECONDS
    eval "env ${CASES[$c]} timeout 400 '$here/lv-migrate.sh' '$base/$c'" >"$base/$c.out" 2>&1
    rc=$?
    echo "rc=$rc, $((SECONDS - start)) s" | tee -a "$base/summary.txt"
    grep -E "^(summary|peer):" "$base/$c/timeline.txt" 2>/dev/null | tee -a "$base/summary.txt"
    grep -h "FAILED\|refused\|guest-console" "$base/$c/markers" 2>/dev/null | tee -a "$base/summary.txt"
done
