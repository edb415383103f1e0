#!/usr/bin/python3
# The libvirt suite (TAP): netlifecd under unmodified libvirt 11 and QEMU 10,
# two namespace hosts each with its own libvirtd, netlifecd, the hook and the
# agent (lv-host.sh with LV_NETLIFECD and LV_AGENT), a real guest defined
# the ordinary way (<interface type='bridge'>) on an STP bridge, migrated
# with `virsh migrate --live --p2p --postcopy` while a peer pings it. Each
# case is one lv-migrate.sh run; the checks read its timeline (lv-timeline.py:
# kernel bridge events, libvirt's QMP traffic, the switch's capture, the
# peer's echo gaps, the hook's and the agent's logs, on one clock).
#
#   lv-suite.py BUILD_DIR WORK_DIR
#
# Needs root, libvirt 11 (scripts/install-libvirt.sh), QEMU 10 and the guest
# (NLC_GUEST_DIR, default BUILD_DIR/guest). A missing piece fails the suite:
# it never skips.
import os
import re
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
build, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
guest = os.environ.get("NLC_GUEST_DIR", os.path.join(build, "guest"))
results = []


def ok(cond, name, detail=""):
    results.append((bool(cond), name, detail))


notes = []


def lost_prepare(rundir):
    """libvirt's own intermittent hang (tests/libvirt/README.md, "Problems
    left"): the source's Prepare3 call to the destination never returns, both
    libvirtds close the connection on keepalive timeout 30 s later, before the
    source ever told QEMU to migrate. Seen with libvirt alone too."""
    out = read(os.path.join(rundir, "migrate.out"))
    return "client socket is closed" in out and "qmp> migrate " not in read(
        os.path.join(rundir, "timeline.txt"))


def run_case(name, env):
    full = dict(os.environ, LV_GUEST_DIR=guest, LV_NETLIFECD=build, LV_AGENT="1", LV_NO_HOOK="1",
                LV_FORWARD_DELAY="4", LV_TTL="400", **env)
    for attempt in (1, 2):
        rundir = os.path.join(work, name if attempt == 1 else name + "-retry")
        with open(os.path.join(work, os.path.basename(rundir) + ".out"), "w") as out:
            rc = subprocess.call([os.path.join(here, "lv-migrate.sh"), rundir], env=full, stdout=out,
                                 stderr=subprocess.STDOUT, timeout=600)
        if attempt == 1 and rc != 0 and lost_prepare(rundir):
            notes.append("%s: libvirt lost the Prepare3 reply (keepalive timeout, no migrate sent "
                         "to QEMU); run again once (%s)" % (name, rundir))
            continue
        return rundir, rc
    return rundir, rc


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def summary(rundir):
    """summary lines of the timeline: name -> seconds (None for "-")."""
    s = {}
    for line in read(os.path.join(rundir, "timeline.txt")).splitlines():
        m = re.match(r"summary: (.*?)\s+([+-]\d+\.\d+|-)(\s|$)", line)
        if m:
            s[m.group(1)] = None if m.group(2) == "-" else float(m.group(2))
    return s


def largest_gap_ms(rundir):
    m = re.search(r"^largest-gap-ms (\d+(\.\d+)?)", read(os.path.join(rundir, "ping.txt")), re.M)
    return float(m.group(1)) if m else None


def before(s, a, b):
    """a happened, b happened, and a <= b."""
    return s.get(a) is not None and s.get(b) is not None and s[a] <= s[b]


def postcopy_with_netlifecd():
    # --bandwidth 16 (MiB/s) keeps pre-copy from converging before the
    # agent's request: the case is about post-copy.
    rundir, rc = run_case("postcopy", {"LV_MODE": "postcopy", "LV_POSTCOPY_AFTER": "agent",
                                       "LV_MIGRATE_FLAGS": "--bandwidth 16", "LV_SETTLE": "8"})
    s = summary(rundir)
    gap = largest_gap_ms(rundir)
    detail = "see %s/timeline.txt" % rundir
    ok(rc == 0, "postcopy: virsh migrate --live --p2p --postcopy succeeds", detail)
    ok("Suspended Post-copy" in read(os.path.join(rundir, "A", "events.log")),
       "postcopy: the guest ran post-copy (A: Suspended Post-copy)", detail)
    ok(re.search(r"vm1: post-copy requested", read(os.path.join(rundir, "A", "agent.log"))),
       "postcopy: A's agent requested post-copy (virDomainMigrateStartPostCopy)", detail)
    ok(before(s, "B port forwarding", "B hook: hold ends (ready)")
       and before(s, "B hook: hold ends (ready)", "A qmp migrate (data starts)"),
       "postcopy: B's hook held the incoming migration until B's port forwarded", detail)
    ok(before(s, "B port forwarding", "A guest stopped (STOP)"),
       "postcopy: the switch (A's STOP) came after B's port forwarded", detail)
    ok(re.search(r"vm1: resumed \(post-copy\) -> Activate: ok", read(os.path.join(rundir, "B", "agent.log")))
       and re.search(r"vm1: suspended \((migrated|post-copy)\) -> Deactivate: ok",
                     read(os.path.join(rundir, "A", "agent.log"))),
       "postcopy: agents deactivated A at its suspend, activated B at its resume", detail)
    ok(before(s, "A guest MAC static entry removed", "B guest MAC static entry added"),
       "postcopy: the guest MAC's static entry left A's bridge before it reached B's (never on both)",
       detail)
    ok(s.get("switch: 1st echo-reply via B") is not None and gap is not None and gap < 3000,
       "postcopy: the guest answers the peer through B, largest echo gap %s ms (< 3000)" % gap, detail)
    # The daemon holds no queue of libvirt's tap: it borrows QEMU's for its
    # RARP at activation.
    ok("active without announce" not in read(os.path.join(rundir, "B", "netlifecd.log"))
       and rarp_via_b_after(rundir, s.get("B guest MAC static entry added")),
       "postcopy: B's daemon announced the guest (RARP through a borrowed queue) at activation", detail)


def rarp_via_b_after(rundir, t_rel):
    """A RARP of the guest's reached the switch from B within 50 ms of t_rel."""
    t0 = None
    for line in read(os.path.join(rundir, "markers")).splitlines():
        if " migrate-start" in line:
            t0 = float(line.split()[0])
            break
    if t0 is None or t_rel is None:
        return False
    for line in read(os.path.join(rundir, "sniff.txt")).splitlines():
        p = line.split()
        if len(p) >= 5 and p[1] == "up-B" and p[2] == "in" and p[4] == "rarp":
            if 0 <= float(p[0]) - (t0 + t_rel) <= 0.05:
                return True
    return False


def refused_when_not_forwarding():
    # B's ports cannot forward within 1 s at forward delay 4 s: B's started
    # hook refuses, libvirt aborts, the guest never leaves A.
    rundir, rc = run_case("refused", {"LV_MODE": "postcopy", "LV_POSTCOPY_AFTER": "agent",
                                      "LV_HOOK_READY_TIMEOUT_MS": "1000", "LV_SETTLE": "2"})
    s = summary(rundir)
    gap = largest_gap_ms(rundir)
    out = read(os.path.join(rundir, "migrate.out"))
    detail = "see %s/timeline.txt" % rundir
    ok(rc != 0 and "refusing the migration" in out,
       "refused: virsh migrate fails with the hook's reason", detail)
    ok(s.get("A guest stopped (STOP)") is None and s.get("B guest MAC static entry added") is None,
       "refused: the guest never stopped on A, B never held its MAC", detail)
    ok(gap is not None and gap < 1000,
       "refused: the guest kept answering on A, largest echo gap %s ms (< 1000)" % gap, detail)


def agent_away_catches_up():
    # B's agent is killed before the migration and started after virsh
    # migrate returned: it missed B's resume, and reads the domain's state
    # when it comes back (running: activate).
    rundir, rc = run_case("agent-away", {"LV_MODE": "postcopy", "LV_POSTCOPY_AFTER": "agent",
                                         "LV_MIGRATE_FLAGS": "--bandwidth 16", "LV_SETTLE": "6",
                                         "LV_AGENT_B_AWAY": "1"})
    s = summary(rundir)
    log_b = read(os.path.join(rundir, "B", "agent.log"))
    detail = "see %s/timeline.txt" % rundir
    ok(rc == 0 and "Suspended Post-copy" in read(os.path.join(rundir, "A", "events.log")),
       "agent-away: the post-copy migration succeeds without B's agent", detail)
    ok(log_b.count("ready: following libvirt") == 2
       and re.search(r"vm1: reconcile: running.* -> Activate: ok", log_b),
       "agent-away: B's agent, started again, activated the running guest from its state", detail)
    ok(before(s, "virsh migrate returned", "B guest MAC static entry added")
       and s.get("switch: 1st echo-reply via B") is not None,
       "agent-away: B held the MAC only once its agent was back, then the guest answered through B",
       detail)


os.makedirs(work, exist_ok=True)
for case in (postcopy_with_netlifecd, refused_when_not_forwarding, agent_away_catches_up):
    try:
        case()
    except Exception as e:  # a broken run fails its case, not the suite
        ok(False, case.__name__, repr(e))
for note in notes:
    print("# " + note)
print("1..%d" % len(results))
for i, (passed, name, detail) in enumerate(results, 1):
    print("%s %d %s" % ("ok" if passed else "not ok", i, name))
    if not passed and detail:
        print("# " + detail)
sys.exit(0 if all(r[0] for r in results) else 1)
