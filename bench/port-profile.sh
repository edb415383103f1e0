#!/bin/bash
# What an 802.1Qbg port profile costs a device's Activate: the real daemon
# against two real lldpads (tests/lldpad/lldpad-pair.sh, scenario
# nlc-daemon-bench): N activations of a macvtap with a profile (ASSOCIATE,
# the switch's answer, then the link up) against N of one without, in the
# same run; medians and their ratio. Root, lldpad, tcpdump
# (scripts/install-lldpad.sh) and a build (NLC_DAEMON, NLC_CTL or build/).
#
#   sudo bench/port-profile.sh            # 21 of each
#   sudo NLC_BENCH_N=51 bench/port-profile.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
exec "$HERE/../tests/lldpad/lldpad-pair.sh" nlc-daemon-bench
