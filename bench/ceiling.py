#!/usr/bin/env python3
"""bench/ceiling.py -- how fast can the messages be delivered at all?

    ceiling.py --proto lmtp|smtp --port PORT --rcpt ADDR DIR
    ceiling.py --mda COMMAND DIR

Delivers every message file of DIR (as bench/gen-mailbox.py wrote them: LF
line ends) to 127.0.0.1:PORT over one LMTP or SMTP connection, one
transaction a message, MAIL FROM/RCPT TO/DATA sent pipelined (RFC 2920),
TCP_NODELAY, the messages read into memory beforehand and already in
CRLF, dot-stuffed form.  No POP3 at all: the time this takes is a ceiling
for any POP3-to-LMTP/SMTP forwarder that delivers over one connection
(such as fetchmail), set by the server's cost per message.

With --mda, every message is handed to COMMAND the way fetchmail and mpop
do it: popen(COMMAND, "w") from the C library (/bin/sh -c COMMAND), the
message written (LF line ends), pclose().  No network: the time is a
ceiling for any client that runs the MDA once per message, set by the cost
of starting processes on this machine.

Prints "SECONDS MESSAGES" (time from connect to the reply to QUIT, or from
the first popen to the last pclose).  Exit 1 when a reply is not the one
expected or an MDA fails.
"""

import argparse
import ctypes
import ctypes.util
import os
import socket
import sys
import time


def mda(command, dirname):
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.popen.restype = ctypes.c_void_p
    libc.popen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.fwrite.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                            ctypes.c_size_t, ctypes.c_void_p]
    libc.fwrite.restype = ctypes.c_size_t
    libc.pclose.argtypes = [ctypes.c_void_p]
    msgs = []
    for name in sorted(os.listdir(dirname)):
        with open(os.path.join(dirname, name), "rb") as f:
            msgs.append(f.read().replace(b"\r\n", b"\n"))
    cmd = command.encode()
    t0 = time.monotonic()
    for m in msgs:
        fp = libc.popen(cmd, b"w")
        if not fp:
            sys.exit("ceiling.py: popen failed")
        if libc.fwrite(m, 1, len(m), fp) != len(m):
            sys.exit("ceiling.py: write to the MDA failed")
        if libc.pclose(fp) != 0:
            sys.exit("ceiling.py: the MDA failed")
    print("%.4f %d" % (time.monotonic() - t0, len(msgs)))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--proto", choices=("lmtp", "smtp"))
    ap.add_argument("--port", type=int)
    ap.add_argument("--rcpt")
    ap.add_argument("--sender", default="bench@example.com")
    ap.add_argument("--mda", metavar="COMMAND")
    ap.add_argument("dir")
    a = ap.parse_args()
    if a.mda:
        return mda(a.mda, a.dir)
    if not (a.proto and a.port and a.rcpt):
        ap.error("--proto, --port and --rcpt, or --mda")

    msgs = []
    for name in sorted(os.listdir(a.dir)):
        with open(os.path.join(a.dir, name), "rb") as f:
            data = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        if data.startswith(b"."):
            data = b"." + data
        msgs.append(data.replace(b"\r\n.", b"\r\n..") + b".\r\n")
    env = ("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (
        a.sender, a.rcpt)).encode()

    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", a.port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")

    def reply(want):
        while True:
            line = f.readline()
            if not line:
                sys.exit("ceiling.py: connection closed")
            if line[3:4] != b"-":
                break
        if not line.startswith(want):
            sys.exit("ceiling.py: unexpected reply %r" % line)

    reply(b"220")
    s.sendall(b"LHLO bench\r\n" if a.proto == "lmtp" else b"EHLO bench\r\n")
    reply(b"250")
    for m in msgs:
        s.sendall(env)
        reply(b"250")
        reply(b"250")
        reply(b"354")
        s.sendall(m)
        reply(b"250")                   # one recipient: one reply, LMTP too
    s.sendall(b"QUIT\r\n")
    reply(b"221")
    print("%.4f %d" % (time.monotonic() - t0, len(msgs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
