#!/bin/bash
# The whole test suite: installs what is missing, builds, runs every tier
# (unit, then the real-kernel bus tests in network namespaces) and ends with
# one line "N passed, N failed, N skipped". Needs root: the namespace tests
# create bridges and taps, and fail (never skip) without the privilege.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh || exit 1
bash scripts/build.sh || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }

meson test -C build --print-errorlogs --num-processes 2 "$@"
status=$?
python3 scripts/test-summary.py build/meson-logs/testlog.json
summary=$?
exit $((status || summary))
