#!/usr/bin/env python3
"""syslogsink.py SOCKET OUT: a stand-in for /dev/log.

Binds a Unix datagram socket at SOCKET, creates SOCKET.ready once it
listens, and appends every datagram received to OUT, one per line (a
trailing newline inside a datagram is dropped).  Runs until killed.
"""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
open(path + ".ready", "w").close()
with open(out, "ab", buffering=0) as f:
    while True:
        d = s.recv(65536)
        f.write(d.rstrip(b"\n") + b"\n")
