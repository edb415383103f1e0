#!/bin/bash
# The whole test suite: installs what is missing, builds, runs every tier
# (unit, style, the real-kernel tests in network namespaces, post-copy
# migrations of a real guest under real QEMU 10, and the same guest under two
# real libvirtd 11 with netlifecd's hook and agent, netlifecd's VDP client
# against two real lldpads), then the
# unit, namespace, libvirt and lldpad tiers again on an ASan+UBSan build
# (the daemon, the hook, the agent and the VDP client those tests start are
# the sanitized ones), then the QMP reader under
# libFuzzer for 60 s. Ends with one line
# "N passed, N failed, N skipped" over all the runs. Needs root: the namespace
# tests create bridges and taps, and fail (never skip) without the privilege.
#
#   scripts/run-tests.sh            # everything
#   NLC_NO_ASAN=1 scripts/run-tests.sh   # skip the sanitizer run (faster)
#   NLC_NO_FUZZ=1 scripts/run-tests.sh   # skip the 60 s QMP fuzzing run
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh || exit 1
# The real-QEMU migration suite needs QEMU 10 and the guest (about a minute
# the first time, cached after); the libvirt suite libvirt 11 too, and the
# build needs libvirt-dev for the agent, so this comes first
# (install-libvirt.sh installs QEMU 10 before it). When a step fails, the
# suites that need it fail, saying what is missing: they never skip.
bash scripts/install-libvirt.sh ||
    echo "install-libvirt.sh failed: the migration and libvirt suites will fail"
# lldpad (and tcpdump) for the port-profile suite (lldpad).
bash scripts/install-lldpad.sh || echo "install-lldpad.sh failed: the lldpad suite will fail"
bash scripts/build.sh || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
bash tests/migration/build-guest.sh build/guest ||
    echo "build-guest.sh failed: the migration suite will fail"

meson test -C build --print-errorlogs --num-processes 2 "$@"
status=$?
logs=(build/meson-logs/testlog.json)

if [[ -z ${NLC_NO_ASAN:-} ]]; then
    if [[ ! -f build-asan/build.ninja ]]; then
        meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
    fi
    if ninja -C build-asan >/dev/null; then
        # The libvirt suite's guest is the one built above.
        ln -sfn ../build/guest build-asan/guest
        # Leaks are not judged here (GLib keeps type data until exit); memory
        # errors and undefined behaviour abort the test that meets them.
        ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
            meson test -C build-asan --print-errorlogs --num-processes 2 --suite unit --suite netns \
                --suite libvirt --suite lldpad "$@"
        status=$((status || $?))
        logs+=(build-asan/meson-logs/testlog.json)
    else
        echo "the ASan+UBSan build failed"
        status=1
    fi
fi
# The QMP reader and the journal reader under libFuzzer for a bounded time
# each (clang, its own build; the two run side by side).
if [[ -z ${NLC_NO_FUZZ:-} ]]; then
    if [[ ! -f build-fuzz/build.ninja ]]; then
        CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
            -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link >/dev/null
    fi
    mkdir -p build-fuzz/fuzz-corpus-qmp build-fuzz/fuzz-corpus-journal
    if ninja -C build-fuzz tests/fuzz/fuzz-qmp tests/fuzz/fuzz-journal >/dev/null; then
        meson test -C build-fuzz --print-errorlogs --suite fuzz
        status=$((status || $?))
        logs+=(build-fuzz/meson-logs/testlog.json)
    else
        echo "the fuzzing build failed"
        status=1
    fi
fi
python3 scripts/test-summary.py "${logs[@]}"
summary=$?
exit $((status || summary))
