#!/usr/bin/python3
# Ground work for issue #22 (localhost upgrade with cpr-transfer): the
# guest of tests/migration with 1 GiB of RAM in a shared memfd, upgraded in
# place to a second QEMU 10 twice, by QEMU alone (no netlifecd, no NIC yet):
# the RAM-copying localhost migration, and cpr-transfer (the new QEMU gets
# the memory's fds over a "cpr" channel, only device state is copied). For
# each: the host's MemAvailable drop at its lowest (sampled every 20 ms),
# QEMU's downtime, the total time, and whether the guest's dirtier runs on
# in the new QEMU (its console).
#
#   tests/migration/cpr-spike.py GUEST_DIR WORK_DIR
#
# Root not needed; QEMU 10 (scripts/install-qemu.sh) and the guest
# (build-guest.sh). Not in meson or CI.
import json
import os
import socket
import subprocess
import sys
import threading
import time

guest, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
RAM = "1G"


def qemu_args(name, extra):
    return ["qemu-system-x86_64", "-name", name, "-accel", "tcg", "-m", RAM,
            "-object", "memory-backend-memfd,id=ram0,size=%s,share=on" % RAM,
            "-machine", "pc,memory-backend=ram0,aux-ram-share=on",
            "-kernel", os.path.join(guest, "bzImage"), "-initrd", os.path.join(guest, "initrd.img"),
            "-append", "console=ttyS0 quiet", "-display", "none", "-nic", "none",
            "-serial", "file:%s/%s.serial" % (work, name),
            "-qmp", "unix:%s/%s.qmp,server=on,wait=off" % (work, name)] + extra


class Qmp:
    def __init__(self, path, timeout=60):
        deadline = time.time() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.f = self.s.makefile("rw")
        self.events = []
        json.loads(self.f.readline())
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "event" in r:
                self.events.append((time.time(), r["event"], r.get("data")))
                continue
            if "error" in r:
                raise RuntimeError("%s: %s" % (name, r["error"]["desc"]))
            return r["return"]


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


class Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.base = mem_available_kib()
        self.low = self.base
        self.stop = False

    def run(self):
        while not self.stop:
            self.low = min(self.low, mem_available_kib())
            time.sleep(0.02)


def wait_console(name, needle, timeout=120, after=0):
    deadline = time.time() + timeout
    path = "%s/%s.serial" % (work, name)
    while time.time() < deadline:
        try:
            with open(path, errors="replace") as f:
                text = f.read()
            if text.count(needle) > after:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def count_console(name, needle):
    try:
        with open("%s/%s.serial" % (work, name), errors="replace") as f:
            return f.read().count(needle)
    except OSError:
        return 0


def one(mode):
    old, new = "%s-old" % mode, "%s-new" % mode
    for n in (old, new):
        for ext in (".serial", ".qmp"):
            try:
                os.unlink("%s/%s%s" % (work, n, ext))
            except OSError:
                pass
    procs = []
    try:
        procs.append(subprocess.Popen(qemu_args(old, []), stderr=open("%s/%s.err" % (work, old), "w")))
        if not wait_console(old, "DIRTIER-ALIVE"):
            return {"mode": mode, "error": "the guest did not start"}
        a = Qmp("%s/%s.qmp" % (work, old))
        # The dirtier keeps 96 MiB hot: let pre-copy converge (a 2 s pause
        # allowed, no bandwidth cap) so that the copy has an end to measure.
        a.cmd("migrate-set-parameters", **{"downtime-limit": 2000, "max-bandwidth": 10 << 30})
        main_sock = "%s/%s-main.sock" % (work, mode)
        extra = ["-incoming", "unix:" + main_sock]
        if mode == "cpr-transfer":
            cpr_sock = "%s/%s-cpr.sock" % (work, mode)
            extra += ["-incoming", json.dumps({"channel-type": "cpr", "addr": {
                "transport": "socket", "type": "unix", "path": cpr_sock}})]
            a.cmd("migrate-set-parameters", mode="cpr-transfer")
        time.sleep(1)
        sampler = Sampler()
        sampler.start()
        t0 = time.time()
        procs.append(subprocess.Popen(qemu_args(new, extra), stderr=open("%s/%s.err" % (work, new), "w")))
        channels = [{"channel-type": "main", "addr": {"transport": "socket", "type": "unix",
                                                      "path": main_sock}}]
        if mode == "cpr-transfer":
            channels.append({"channel-type": "cpr", "addr": {"transport": "socket", "type": "unix",
                                                             "path": cpr_sock}})
        # The new QEMU listens on the cpr channel first (cpr-transfer: the
        # main one only once it has the fds), on the main one otherwise.
        first = cpr_sock if mode == "cpr-transfer" else main_sock
        deadline = time.time() + 30
        while not os.path.exists(first) and time.time() < deadline:
            time.sleep(0.02)
        while True:
            try:
                a.cmd("migrate", channels=channels)
                break
            except RuntimeError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        status = None
        while time.time() < t0 + 300:
            info = a.cmd("query-migrate")
            status = info.get("status")
            if status in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.05)
        t_end = time.time()
        time.sleep(0.5)
        sampler.stop = True
        sampler.join()
        alive_before = count_console(new, "DIRTIER-ALIVE")
        alive = wait_console(new, "DIRTIER-ALIVE", timeout=15, after=alive_before)
        bad = count_console(new, "DIRTIER-BAD") + count_console(new, "Oops") + count_console(new, "panic")
        return {"mode": mode, "status": status, "downtime_ms": info.get("downtime"),
                "total_s": round(t_end - t0, 2),
                "mem_drop_mib": round((sampler.base - sampler.low) / 1024),
                "guest_runs_on_new": alive, "guest_errors": bad}
    finally:
        for p in procs:
            p.kill()
            p.wait()


results = [one("copy"), one("cpr-transfer")]
for r in results:
    print(json.dumps(r))
