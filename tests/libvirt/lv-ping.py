#!/usr/bin/python3
# An echo prober for the libvirt experiments (run in the peer's namespace):
# one ICMP echo request to TARGET every INTERVAL ms until the file STOP exists
# or MAX seconds have passed; then prints, in wall-clock seconds (comparable
# with the hook log, `virsh event --timestamp` and `bridge -t monitor`):
#   sent/answered counts, the largest gap between consecutive answers, and
#   every gap over 100 ms ("gap <first unanswered send> <next answered send>
#   <length ms>").
#
#   lv-ping.py TARGET STOP OUT [INTERVAL_MS=10] [MAX_S=300]
import os
import select
import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main():
    target, stop, out = sys.argv[1:4]
    interval = float(sys.argv[4]) / 1000 if len(sys.argv) > 4 else 0.01
    max_s = float(sys.argv[5]) if len(sys.argv) > 5 else 300
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    sent = {}  # seq -> wall time sent
    answered = {}  # seq -> wall time of the reply
    seq = 0
    start = time.time()
    next_send = start
    while time.time() - start < max_s and not os.path.exists(stop):
        now = time.time()
        if now >= next_send:
            seq += 1
            hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq & 0xFFFF)
            payload = struct.pack("!d", now)
            pkt = struct.pack("!BBHHH", 8, 0, checksum(hdr + payload), ident, seq & 0xFFFF) + payload
            try:
                sock.sendto(pkt, (target, 0))
            except OSError:
                pass
            sent[seq] = now
            next_send += interval
            if next_send < now:
                next_send = now + interval
        r, _, _ = select.select([sock], [], [], max(0.0, next_send - time.time()))
        if r:
            data = sock.recv(2048)
            ihl = (data[0] & 0x0F) * 4
            typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if typ == 0 and rid == ident:
                # seq wraps at 65536: map to the newest send with that low part.
                for s in range(seq, max(0, seq - 70000), -65536):
                    if s & 0xFFFF == rseq:
                        answered.setdefault(s, time.time())
                        break
    time.sleep(0.2)
    with open(out, "w") as f:
        f.write("sent %d answered %d interval_ms %.0f first %.6f last %.6f\n" %
                (seq, len(answered), interval * 1000, start, sent.get(seq, start)))
        prev = None  # last answered seq
        biggest = (0, None, None)
        for s in range(1, seq + 1):
            if s in answered:
                if prev is not None and s - prev > 1:
                    length = sent[s] - sent[prev + 1]
                    if length > 0.1:
                        f.write("gap %.6f %.6f %.0f\n" % (sent[prev + 1], sent[s], length * 1000))
                    if length > biggest[0]:
                        biggest = (length, sent[prev + 1], sent[s])
                prev = s
        if prev is not None and prev < seq:
            f.write("unanswered-at-end %.6f %d\n" % (sent[prev + 1], seq - prev))
        if biggest[1] is not None:
            f.write("largest-gap-ms %.0f from %.6f\n" % (biggest[0] * 1000, biggest[1]))
        else:
            f.write("largest-gap-ms 0\n")


main()
