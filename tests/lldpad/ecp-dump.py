#!/usr/bin/env python3
"""Prints the 802.1Qbg frames of a pcap file one per line: LLDP with the EVB
TLV (IEEE 802.1Qbg ratified, OUI 00-80-c2 subtype 13) decoded, and ECP
(ethertype 0x8940) with the VDP TLVs it carries. tcpdump decodes the EVB TLV
but not ECP/VDP; this is for tests/lldpad (see README.md there).

    ecp-dump.py FILE.pcap [--epoch SECONDS] [--name MAC=LABEL ...]

Times are seconds relative to --epoch (a wall-clock time, e.g. the harness's
start) or to the first frame. Layouts as lldpad 1.1 sends them
(qbg/ecp22.c, qbg/vdp22sm.c, lldp_evb22.c).
"""
import argparse
import struct
import sys

VDP_MODES = {0: "END", 1: "PREASSOC", 2: "PREASSOC-RR", 3: "ASSOC", 4: "DEASSOC",
             5: "MGRID", 0x7F: "OUI"}
VDP_STATUS = {0: "success", 1: "invalid-format", 2: "insufficient-resources",
              3: "no-vsi-manager", 4: "other-failure", 5: "invalid-vid/mac/group"}
EVB_MODES = {0: "none", 1: "bridge", 2: "station", 3: "reserved"}


def mac(b):
    return ":".join("%02x" % x for x in b)


def uuid(b):
    h = b.hex()
    return "%s-%s-%s-%s-%s" % (h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        endian = ">"
    else:
        sys.exit("not a pcap file: %s" % path)
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        yield sec + frac / (1e9 if nano else 1e6), data[off:off + incl]
        off += incl


def evb_tlv(info):
    # info: OUI(3) subtype(1) bridge-status station-status r/rte mode/rol/rwd rol/rka
    if len(info) < 9:
        return "EVB (short)"
    bs, ss, rrte, mrwd, rka = info[4:9]
    bridge = []
    if bs & 4:
        bridge.append("BGID")
    if bs & 2:
        bridge.append("RRCAP")
    if bs & 1:
        bridge.append("RRCTR")
    station = []
    if ss & 8:
        station.append("SGID")
    if ss & 4:
        station.append("RRREQ")
    station.append("RRSTAT=%d" % (ss & 3))
    return ("EVB mode=%s bridge[%s] station[%s] R=%d RTE=%d RWD=%d%s RKA=%d%s" %
            (EVB_MODES[mrwd >> 6], ",".join(bridge), ",".join(station), rrte >> 5,
             rrte & 31, mrwd & 31, "(remote)" if mrwd & 32 else "", rka & 31,
             "(remote)" if rka & 32 else ""))


def lldp(payload):
    parts = []
    off = 0
    while off + 2 <= len(payload):
        hdr = struct.unpack(">H", payload[off:off + 2])[0]
        t, ln = hdr >> 9, hdr & 0x1FF
        val = payload[off + 2:off + 2 + ln]
        off += 2 + ln
        if t == 0:
            break
        if t == 3:
            parts.append("TTL=%d" % struct.unpack(">H", val[:2])[0])
        elif t == 127 and val[:3] == b"\x00\x80\xc2" and len(val) > 3 and val[3] == 0x0D:
            parts.append(evb_tlv(val))
        elif t == 127 and val[:3] == b"\x00\x1b\x3f":
            parts.append("EVB-draft-0.2 TLV")
    return "LLDP " + " ".join(parts)


def vdp_status(st, request):
    bits = []
    if st & 0x40:
        bits.append("ACK")
    if st & 0x20:
        bits.append("KEEP")
    if st & 0x10:
        bits.append("HARD")
    if not st & 0x40 and request:
        # in a request the high nibble carries the migration hints (M/S)
        if st & 0x20:
            bits = ["S(from)"] + [b for b in bits if b != "KEEP"]
        if st & 0x10:
            bits = ["M(to)"] + [b for b in bits if b != "HARD"]
    code = st & 0x0F
    bits.append("status=%d(%s)" % (code, VDP_STATUS.get(code, "?")))
    return ",".join(bits)


def vdp(payload):
    out = []
    off = 0
    while off + 2 <= len(payload):
        hdr = struct.unpack(">H", payload[off:off + 2])[0]
        t, ln = hdr >> 9, hdr & 0x1FF
        val = payload[off + 2:off + 2 + ln]
        off += 2 + ln
        name = VDP_MODES.get(t, "type%d" % t)
        if t == 0:
            break
        if t == 5:
            out.append("MGRID=%s" % (val.rstrip(b"\x00").hex() or "00"))
        elif 1 <= t <= 4 and len(val) >= 25:
            st = val[0]
            tid = int.from_bytes(val[1:4], "big")
            ver, fmt = val[4], val[5]
            vid = uuid(val[6:22]) if fmt == 5 else val[6:22].hex()
            fif = val[22]
            nf = struct.unpack(">H", val[23:25])[0]
            filters = []
            p = 25
            for _ in range(nf):
                if fif == 1:
                    v = struct.unpack(">H", val[p:p + 2])[0]
                    p += 2
                    filters.append("vid=%d" % (v & 0xFFF))
                elif fif == 2:
                    m, v = val[p:p + 6], struct.unpack(">H", val[p + 6:p + 8])[0]
                    p += 8
                    filters.append("%s/vid=%d" % (mac(m), v & 0xFFF))
                elif fif == 3:
                    g, v = struct.unpack(">IH", val[p:p + 6])
                    p += 6
                    filters.append("group=%d/vid=%d" % (g, v & 0xFFF))
                elif fif == 4:
                    g = struct.unpack(">I", val[p:p + 4])[0]
                    m, v = val[p + 4:p + 10], struct.unpack(">H", val[p + 10:p + 12])[0]
                    p += 12
                    filters.append("group=%d/%s/vid=%d" % (g, mac(m), v & 0xFFF))
            out.append("%s[%s type=%d ver=%d id=%s fif=%d %s]" %
                       (name, vdp_status(st, not st & 0x40), tid, ver, vid, fif,
                        " ".join(filters)))
        else:
            out.append("%s(len %d)" % (name, ln))
    return " ".join(out)


def ecp(payload):
    if len(payload) < 4:
        return "ECP (short)"
    h, seq = struct.unpack(">HH", payload[:4])
    ver, op, sub = h >> 12, (h >> 10) & 3, h & 0x3FF
    opname = {0: "REQ", 1: "ACK"}.get(op, "op%d" % op)
    s = "ECP v%d %s seq=%d subtype=%s" % (ver, opname, seq, "VDP" if sub == 1 else sub)
    if op == 0 and sub == 1:
        s += " " + vdp(payload[4:])
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("--epoch", type=float)
    ap.add_argument("--name", action="append", default=[], help="MAC=LABEL")
    a = ap.parse_args()
    names = {}
    for n in a.name:
        m, _, label = n.partition("=")
        names[m.lower()] = label
    epoch = a.epoch
    for ts, frame in read_pcap(a.pcap):
        if len(frame) < 14:
            continue
        if epoch is None:
            epoch = ts
        src = mac(frame[6:12])
        etype = struct.unpack(">H", frame[12:14])[0]
        payload = frame[14:]
        if etype == 0x88CC:
            what = lldp(payload)
        elif etype == 0x8940:
            what = ecp(payload)
        elif etype == 0x88B7:
            what = "ECP draft 0.2 (not decoded)"
        else:
            what = "ethertype 0x%04x" % etype
        print("%9.3f s  %-8s %s" % (ts - epoch, names.get(src, src), what))


if __name__ == "__main__":
    main()
