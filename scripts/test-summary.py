#!/usr/bin/env python3
"""Counts test cases in meson test logs and prints 'N passed, N failed, N skipped'.

Each TAP line ("ok N ...", "not ok N ...", "... # SKIP") counts as one case.
A test executable that died before reporting any case counts as one failure,
so a crash is never hidden behind the cases that ran before it.
"""
import json
import re
import sys

TAP = re.compile(r"^(not ok|ok)\b[^#]*(#\s*(SKIP|TODO)\b)?", re.IGNORECASE)


def count_test(test):
    """(passed, failed, skipped) for one meson test entry."""
    p = f = s = 0
    for out in (test.get("stdout") or "").splitlines():
        m = TAP.match(out)
        if not m:
            continue
        if m.group(3) and m.group(3).upper() == "SKIP":
            s += 1
        elif m.group(1) == "ok":
            p += 1
        else:
            f += 1
    if test["result"] not in ("OK", "SKIP", "EXPECTEDFAIL") and f == 0:
        f += 1  # crashed, timed out, or failed outside a case
    if p + f + s == 0:
        if test["result"] == "OK":
            p = 1
        elif test["result"] == "SKIP":
            s = 1
    return p, f, s


def main(paths):
    totals = [0, 0, 0]
    for path in paths:
        with open(path) as log:
            for line in log:
                for i, n in enumerate(count_test(json.loads(line))):
                    totals[i] += n
    passed, failed, skipped = totals
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["build/meson-logs/testlog.json"]))
