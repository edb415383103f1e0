#!/usr/bin/python3
# The network plane as the switch sees it (run in the switch's namespace):
# every frame from or to MAC on the given switch ports, with its direction
# ("in": the host sent it to the switch, "out": the switch sent it to the
# host) and whether MAC is its source or its destination, in wall-clock
# seconds, until the file STOP exists or MAX seconds:
#   <time> <port> in|out src|dst <what>
# where <what> is rarp, arp-request/arp-reply <ip>, echo-request/echo-reply,
# ipv6-<icmpv6 type> or the ethertype. A run of echo frames (no pause over
# 50 ms) is one line, written when the run ends, stamped with its first
# frame: "<time> <port> <dir> echo-reply x57 until <time of the last>".
#
#   lv-sniff.py MAC STOP OUT MAX_S PORT...
import os
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def mac_bytes(s):
    return bytes(int(x, 16) for x in s.split(":"))


def describe(frame):
    etype = struct.unpack("!H", frame[12:14])[0]
    body = frame[14:]
    if etype == 0x8100 and len(body) >= 4:
        etype = struct.unpack("!H", body[2:4])[0]
        body = body[4:]
    if etype == 0x8035:
        return "rarp"
    if etype == 0x0806 and len(body) >= 28:
        op = struct.unpack("!H", body[6:8])[0]
        return "arp-%s %s" % ("request" if op == 1 else "reply", socket.inet_ntoa(body[24:28]))
    if etype == 0x0800 and len(body) >= 20:
        ihl = (body[0] & 0x0F) * 4
        if body[9] == 1 and len(body) > ihl:
            t = body[ihl]
            return {8: "echo-request", 0: "echo-reply"}.get(t, "icmp-%d" % t)
        return "ipv4-proto-%d" % body[9]
    if etype == 0x86DD and len(body) >= 41:
        nh = body[6]
        off = 40
        if nh == 0 and len(body) > off + 8:  # hop-by-hop (MLD)
            nh = body[off]
            off += (body[off + 1] + 1) * 8
        if nh == 58 and len(body) > off:
            return "ipv6-icmp-%d" % body[off]
        return "ipv6-nh-%d" % nh
    return "ethertype-0x%04x" % etype


def main():
    mac, stop, out, max_s = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    ports = sys.argv[5:]
    guest = mac_bytes(mac)
    socks = {}
    for p in ports:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((p, 0))
        socks[s.fileno()] = (s, p)
    start = time.time()
    runs = {}  # (port, dir, what) -> [first, last, count]
    with open(out, "w", buffering=1) as f:
        def flush_run(key):
            first, last, n = runs.pop(key)
            f.write("%.6f %s %s %s x%d until %.6f\n" % (first, key[0], key[1], key[2], n, last))

        while time.time() - start < max_s and not os.path.exists(stop):
            r, _, _ = select.select(list(socks), [], [], 0.2)
            for fd in r:
                s, port = socks[fd]
                frame, addr = s.recvfrom(65535)
                now = time.time()
                if frame[6:12] != guest and frame[0:6] != guest:
                    continue
                direction = "out" if addr[2] == PACKET_OUTGOING else "in"
                direction += " src" if frame[6:12] == guest else " dst"
                what = describe(frame)
                if what.startswith("echo-"):
                    key = (port, direction, what)
                    run = runs.get(key)
                    if run and now - run[1] < 0.05:
                        run[1] = now
                        run[2] += 1
                        continue
                    if run:
                        flush_run(key)
                    runs[key] = [now, now, 1]
                    continue
                f.write("%.6f %s %s %s\n" % (now, port, direction, what))
        for key in list(runs):
            flush_run(key)


main()
