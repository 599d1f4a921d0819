#!/usr/bin/env python3
"""dnsstub.py -- a tiny authoritative DNS server for the tests (UDP only).

    dnsstub.py --zone FILE --addr 127.0.0.77 [--port 53] [--pidfile F]

The zone file has one record a line ("#" starts a comment):
    NAME A 1.2.3.4
    NAME CNAME TARGET
    NAME MX TARGET            (preference 10)
    NAME SERVFAIL             (every query for NAME fails)
Names are case-insensitive.  A query for a name with no record gets
NXDOMAIN; AAAA and other types get an empty answer (after the CNAME, if
any).  Python 3 stdlib only; serves until killed.
"""
import argparse
import os
import socket
import struct
import sys


def load(path):
    zone = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if not line:
                continue
            name = line[0].lower().rstrip(".")
            zone.setdefault(name, []).append(
                (line[1].upper(), line[2].lower().rstrip(".") if len(line) > 2 else ""))
    return zone


def qname(data, off):
    labels = []
    while True:
        n = data[off]
        off += 1
        if n == 0:
            break
        labels.append(data[off:off + n].decode("ascii", "replace"))
        off += n
    return ".".join(labels), off


def enc(name):
    out = b""
    for part in name.split("."):
        if part:
            out += bytes([len(part)]) + part.encode()
    return out + b"\0"


def rr(name, rtype, value):
    if rtype == "A":
        rdata = socket.inet_aton(value)
        t = 1
    elif rtype == "CNAME":
        rdata = enc(value)
        t = 5
    else:
        rdata = struct.pack(">H", 10) + enc(value)
        t = 15
    return enc(name) + struct.pack(">HHIH", t, 1, 60, len(rdata)) + rdata


def answer(zone, data):
    qid, flags = struct.unpack(">HH", data[:4])
    name, off = qname(data, 12)
    qtype, _ = struct.unpack(">HH", data[off:off + 4])
    question = data[12:off + 4]
    key = name.lower().rstrip(".")
    rcode, answers = 0, []
    recs = zone.get(key)
    if recs is None:
        rcode = 3
    elif any(t == "SERVFAIL" for t, _ in recs):
        rcode = 2
    else:
        cur = key
        for _ in range(8):
            cn = [v for t, v in zone.get(cur, []) if t == "CNAME"]
            if not cn:
                break
            answers.append(rr(cur, "CNAME", cn[0]))
            cur = cn[0]
        want = {1: "A", 15: "MX"}.get(qtype)
        for t, v in zone.get(cur, []):
            if t == want:
                answers.append(rr(cur, t, v))
    hdr = struct.pack(">HHHHHH", qid, 0x8400 | (flags & 0x0100) | 0x80 | rcode,
                      1, len(answers), 0, 0)
    return hdr + question + b"".join(answers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zone", required=True)
    ap.add_argument("--addr", default="127.0.0.77")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--pidfile")
    ap.add_argument("--log", help="append 'TYPE NAME' for every query")
    a = ap.parse_args()
    log = open(a.log, "a", buffering=1) if a.log else None
    zone = load(a.zone)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.addr, a.port))
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    while True:
        data, peer = s.recvfrom(4096)
        try:
            if log:
                name, off = qname(data, 12)
                qtype = struct.unpack(">H", data[off:off + 2])[0]
                log.write("%s %s\n" % ({1: "A", 15: "MX", 28: "AAAA"}.get(
                    qtype, str(qtype)), name.lower().rstrip(".")))
            s.sendto(answer(zone, data), peer)
        except (IndexError, struct.error):
            continue


if __name__ == "__main__":
    sys.exit(main())
