#!/usr/bin/python3
# Merges what lv-migrate.sh recorded into one timeline, in seconds from the
# `virsh migrate` call (marker "migrate-start"):
#   RUNDIR/markers                 the driver's own steps
#   RUNDIR/H/log/hooks.log         hook-log.sh: BEGIN/END of every hook call
#   RUNDIR/H/events.log            virsh event --all --loop --timestamp
#   RUNDIR/H/bridge-monitor.log    bridge -t monitor all (tap ports, guest MAC)
#   RUNDIR/H/log/libvirtd.log      QMP commands and events, tap creation,
#                                  QEMU start, incoming migration set-up
#   RUNDIR/ping.txt                lv-ping.py: echo gaps
#   RUNDIR/H/log/netlifecd-hook.log  netlifecd's hook (LV_NETLIFECD)
#   RUNDIR/H/agent.log             netlifecd-libvirt-agent (LV_AGENT)
#
#   lv-timeline.py RUNDIR
import calendar
import os
import re
import sys
import time

run = sys.argv[1]
GUEST_MAC = "52:54:00:12:34:56"
rows = []


def add(t, who, what):
    rows.append((t, who, what))


def utc(stamp):  # "2026-12-06 18:34:03.140+0000"
    m = re.match(r"(\d+-\d+-\d+ \d+:\d+:\d+)\.(\d+)", stamp)
    base = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S"))
    return base + float("0." + m.group(2))


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


t0 = None
for line in read(os.path.join(run, "markers")):
    t, what = line.split(" ", 1)
    if what.startswith("migrate-start") and t0 is None:
        t0 = float(t)
    add(float(t), "driver", what)

for h in "AB":
    for line in read(os.path.join(run, h, "log", "hooks.log")):
        parts = line.split(" ")
        if parts[1] == "BEGIN":
            rest = " ".join(parts[2:])
            m = re.match(r"(\S+ \S+ \S+ \S+) xml=(\d+) targets=(\S+) taps=\[(.*)\] qemu=\[(.*)\]", rest)
            if m:
                add(float(parts[0]), h, "hook %s BEGIN (xml %s B; taps: %s; qemu: %s)" % (
                    m.group(1), m.group(2), m.group(4) or "none", m.group(5) or "none"))
            else:
                add(float(parts[0]), h, "hook " + rest)
        elif parts[1] == "WAITFWD":
            add(float(parts[0]), h, "hook " + " ".join(parts[1:]))
        elif parts[1] == "END":
            add(float(parts[0]), h, "hook %s END" % " ".join(parts[2:]))

    for line in read(os.path.join(run, h, "log", "netlifecd-hook.log")):
        parts = line.split(" ", 1)
        if len(parts) == 2:
            add(float(parts[0]), h, "nlc-hook " + parts[1])

    # GLib's log lines carry the local time of day only: the day is t0's.
    for line in read(os.path.join(run, h, "agent.log")):
        m = re.search(r"(\d\d):(\d\d):(\d\d\.\d+): (.*)", line)
        if m and t0 is not None:
            day = time.localtime(t0)
            base = time.mktime((day.tm_year, day.tm_mon, day.tm_mday, int(m.group(1)), int(m.group(2)), 0,
                                0, 0, -1))
            add(base + float(m.group(3)), h, "agent " + m.group(4))

    for line in read(os.path.join(run, h, "events.log")):
        m = re.match(r"(\S+ \S+): event '([^']+)' for domain '[^']+':? ?(.*)", line)
        if m:
            add(utc(m.group(1)), h, "event %s %s" % (m.group(2), m.group(3)))
        m2 = re.match(r"\s+(downtime|time_elapsed|setup_time|memory_iteration|memory_postcopy_requests): (\d+)", line)
        if m2:
            rows[-1] = (rows[-1][0], rows[-1][1], rows[-1][2] + " %s=%s" % m2.groups())

    stamp = None
    for line in read(os.path.join(run, h, "bridge-monitor.log")):
        m = re.match(r"Timestamp: \w+ (\w+ +\d+ \d+:\d+:\d+ \d+) (\d+) usec", line)
        if m:
            stamp = time.mktime(time.strptime(m.group(1), "%b %d %H:%M:%S %Y")) + int(m.group(2)) / 1e6
            continue
        if stamp is None:
            continue
        if ("vnet" in line and line.startswith("[LINK]")) or (GUEST_MAC in line and "[NEIGH]" in line):
            line = re.sub(r" mtu 1500| priority 32 cost \d+", "", line)
            add(stamp, h, "bridge " + line)

    for line in read(os.path.join(run, h, "log", "libvirtd.log")):
        m = re.match(r"^(\S+ \S+): \d+: \w+ : (\w+):\d+ : (.*)", line)
        if not m:
            continue
        stamp, fn, rest = m.groups()
        if "QEMU_MONITOR_SEND_MSG" in rest:
            c = re.search(r'"execute":"([^"]+)"', rest)
            if c and c.group(1) in ("migrate", "migrate-incoming", "migrate-start-postcopy", "cont", "stop",
                                    "migrate-continue", "migrate_cancel", "quit"):
                a = re.search(r'"arguments":(\{.*?\})(,"id"|\})', rest)
                add(utc(stamp), h, "qmp> %s %s" % (c.group(1), a.group(1)[:90] if a else ""))
        elif "QEMU_MONITOR_RECV_EVENT" in rest:
            e = re.search(r'"event": ?"([^"]+)"', rest)
            d = re.search(r'"data": ?(\{[^}]*\})', rest)
            if e and e.group(1) in ("MIGRATION", "RESUME", "STOP", "MIGRATION_PASS", "SHUTDOWN", "NIC_RX_FILTER_CHANGED"):
                add(utc(stamp), h, "qmp< %s %s" % (e.group(1), d.group(1) if d else ""))
        elif fn == "virNetDevTapCreate" and "created device" in rest:
            add(utc(stamp), h, "libvirt " + rest)
        elif fn == "qemuProcessLaunch" and "running with pid" in rest:
            add(utc(stamp), h, "libvirt QEMU " + rest.split(" ", 2)[-1])
        elif fn == "qemuMigrationDstRun" and "Setting up incoming" in rest:
            add(utc(stamp), h, "libvirt " + rest)

for line in read(os.path.join(run, "sniff.txt")):
    p = line.split(" ", 4)
    if len(p) == 5:
        # in: the host's uplink delivered it to the switch; out: the switch sent it to the host
        what = re.sub(r"until (\d+\.\d+)", lambda m: "until %+.3f" % (float(m.group(1)) - (t0 or 0)), p[4])
        add(float(p[0]), "switch", "%s %s %s %s" % (p[1], "from host" if p[2] == "in" else "to host",
                                                   "guest's" if p[3] == "src" else "for guest", what))

ping = read(os.path.join(run, "ping.txt"))
for line in ping:
    p = line.split()
    if p[0] == "gap":
        add(float(p[1]), "peer", "echo gap starts (%s ms, until +%.3f)" % (p[3], float(p[2]) - (t0 or 0)))
        add(float(p[2]), "peer", "echo answered again")
    elif p[0] == "unanswered-at-end":
        add(float(p[1]), "peer", "echo unanswered from here to the end (%s requests)" % p[2])

rows.sort(key=lambda r: r[0])
if t0 is None:
    t0 = rows[0][0] if rows else 0
print("t=0 is the `virsh migrate` call (%s UTC)" % time.strftime("%H:%M:%S", time.gmtime(t0)))


def first(who, pattern, after=None):
    for t, w, what in rows:
        if w == who and re.search(pattern, what) and (after is None or t >= after):
            return t
    return None


tap_b = first("B", r"created device: 'vnet")
summary = [
    ("B tap created (up, on br0)", tap_b),
    ("B QEMU started", first("B", r"^libvirt QEMU")),
    ("B migrate-incoming", first("B", r"qmp> migrate-incoming")),
    ("B started hook begins", first("B", r"hook \S+ started begin - BEGIN")),
    ("B started hook ends", first("B", r"hook \S+ started begin - rc=\d+ END")),
    ("A qmp migrate (data starts)", first("A", r"qmp> migrate ")),
    ("A first iteration event", first("A", r"event migration-iteration iteration: '1'")),
    ("A migrate-start-postcopy", first("A", r"qmp> migrate-start-postcopy")),
    ("A guest stopped (STOP)", first("A", r"qmp< STOP", t0)),
    ("B guest resumed (RESUME)", first("B", r"qmp< RESUME")),
    ("B port learning", first("B", r"vnet\d+: .* state learning")),
    ("B port forwarding", first("B", r"vnet\d+: .* state forwarding")),
    ("B migration completed", first("B", r"qmp< MIGRATION .*completed")),
    ("switch: 1st guest frame via B", first("switch", r"^up-B from host guest's", t0)),
    ("switch: 1st frame for guest to B", first("switch", r"^up-B to host for guest", t0)),
    ("switch: 1st echo-reply via B", first("switch", r"^up-B from host guest's echo-reply", t0)),
    ("A tap deleted", first("A", r"\[LINK\]Deleted \d+: vnet", t0)),
    ("A guest MAC static entry removed", first("A", r"\[NEIGH\]Deleted %s .*static" % GUEST_MAC, t0)),
    ("B guest MAC static entry added", first("B", r"\[NEIGH\]%s .*static" % GUEST_MAC, t0)),
    ("B hook: hold ends (ready)", first("B", r"nlc-hook .*ready after")),
    ("virsh migrate returned", first("driver", r"^migrate-end")),
]
for name, t in summary:
    if t is None:
        print("summary: %-34s -" % name)
    else:
        print("summary: %-34s %+8.3f%s" % (name, t - t0,
              "  (tap +%.3f)" % (t - tap_b) if tap_b and name.startswith("B port") else ""))
for line in ping:
    p = line.split()
    if p[0] == "largest-gap-ms" and len(p) > 3:
        print("peer: largest echo gap %s ms, from %+.3f to %+.3f" % (p[1], float(p[3]) - t0,
                                                                    float(p[3]) - t0 + float(p[1]) / 1000))
    elif not line.startswith("gap"):
        print("peer:", line)
for t, who, what in rows:
    if t < t0 - 5:
        continue
    print("%+9.3f %-6s %s" % (t - t0, who, what))
