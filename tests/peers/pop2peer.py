#!/usr/bin/env python3
"""pop2peer.py -- a scripted POP2 server (RFC 937) for tests/pop2.sh.

No packaged server speaks POP2 any more, so this one plays the server:
loopback only, a kernel-chosen free port, one thread per connection,
Python 3 stdlib only.  Test-only tool.

Usage
-----
    pop2peer.py --dir DIR --mailbox MBOX [--folder NAME=FDIR]...
                [--user U --password P] [--fault SPEC]... [--tls CERT KEY]

MBOX (and each FDIR) is a directory of message files; the messages of a
folder are its files in name order, numbered from 1.  Files are served
with CRLF line ends (LF-only files are converted), so a message's size
is that of its CRLF form.  A committed deletion removes the file, so
the test sees what stayed on the server by listing the directory.

DIR receives (created if missing):
    port     the port, written atomically once the socket listens
    pid      the server's pid
    log      one line per event, "CONN KIND TEXT", CONN = c1, c2, ...:
               OPEN / CLOSE how
               C: command line as received (passwords included: the test
                  checks where they did and did not travel)
               S: reply line sent
               DATA n octets   RETR data sent (n of the message's octets)
               ACKD/ACKS/NACK folder n   acknowledgement of message n
               COMMIT folder n file      QUIT removed the file
               ROLLBACK k                connection ended without QUIT:
                                         k ACKD marks undone
               FAULT what                a fault fired
               VIOLATION text            the client broke RFC 937 or sent
                                         a command before the previous
                                         reply (POP2 is lock-step)

Semantics: HELO user password -> "#n" (default folder) or "-" and close;
FOLD name -> "#n" ("-" for unknown folders); READ [n] -> "=size" of
message n (or of the current one), "=0" when there is none; RETR -> the
current message's octets exactly, nothing else; ACKS / ACKD -> "=size" of
the next message, which becomes current (ACKD marks the message deleted;
numbers stay stable); NACK -> "=size" of the same message; QUIT -> "+",
deletions committed, close.  A connection that ends without QUIT
commits nothing.  Deleted (marked) messages read as "=0".

Faults: SPEC = STEP[@N]=ACTION[:ARG], repeatable; each fires once.
  STEP   GREETING HELO FOLD READ RETR ACKS ACKD NACK QUIT
  @N     READ/RETR/ACK*: the message number concerned; otherwise the
         N-th occurrence of STEP (1-based).  Without @N: the first.
  ACTION drop        close instead of answering
         stall       never answer; hold the connection until the client
                     closes it
         garbage     answer a line that is no POP2 reply
         err         answer "-"
         middrop:K   RETR: send the first K octets, then close
         size:D      READ/ACK*: announce message N as D octets larger
                     (D may be negative) than it is; RETR still sends
                     the real octets
         badsize     READ: announce a size that is not a number
"""

import argparse
import os
import socket
import ssl
import sys
import threading
import time

STEPS = {"GREETING", "HELO", "FOLD", "READ", "RETR", "ACKS", "ACKD", "NACK",
         "QUIT"}
MSG_STEPS = {"READ", "RETR", "ACKS", "ACKD", "NACK"}
ACTIONS = {"drop", "stall", "garbage", "err", "middrop", "size", "badsize"}
LINE_MAX = 4096
STALL_MAX = 120


def atomic_write(path, data):
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(data)
    os.replace(tmp, path)


class Fault:
    """One armed fault: STEP[@N]=ACTION[:ARG]."""

    def __init__(self, spec):
        try:
            lhs, rhs = spec.split("=", 1)
        except ValueError:
            raise ValueError("bad fault %r (STEP[@N]=ACTION[:ARG])" % spec)
        step, _, n = lhs.partition("@")
        action, _, arg = rhs.partition(":")
        self.step = step.upper()
        self.n = int(n) if n else None
        self.action = action.lower()
        self.arg = arg
        if self.step not in STEPS or self.action not in ACTIONS:
            raise ValueError("bad fault %r" % spec)
        self.seen = 0
        self.fired = False

    def matches(self, step, msgnum):
        """Whether the fault fires now (counts occurrences)."""
        if self.fired or step != self.step:
            return False
        if self.n is not None and step in MSG_STEPS:
            hit = msgnum == self.n
        else:
            self.seen += 1
            hit = self.n is None or self.seen == self.n
        return hit


class Store:
    """The folders, shared by all connections."""

    def __init__(self, mailbox, folders):
        self.lock = threading.Lock()
        self.dirs = {"": mailbox}
        self.dirs.update(folders)

    def load(self, folder):
        """[(file, octets)] of a folder, in name order."""
        d = self.dirs[folder]
        out = []
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                raw = f.read()
            data = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            out.append((p, data))
        return out


class Session:
    """One POP2 connection."""

    def __init__(self, srv, sock, cid):
        self.srv, self.sock, self.cid = srv, sock, cid
        self.buf = b""
        self.folder = None
        self.msgs = []           # [(file, data)] of the folder
        self.cur = 0             # current message number, 0 none
        self.deleted = set()     # (folder, n) marked by ACKD
        self.retrieved = False   # RETR sent, no ACK yet
        self.files = {}          # folder -> files as first listed
        self.quit = False

    def log(self, kind, text=""):
        self.srv.log("c%d %s %s" % (self.cid, kind, text))

    # ----------------------------------------------------------- I/O

    def send(self, line):
        self.log("S:", line)
        self.sock.sendall(line.encode("latin-1") + b"\r\n")

    def readline(self):
        """The next command line (str) or None at EOF."""
        while b"\n" not in self.buf:
            if len(self.buf) > LINE_MAX:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        if self.buf:
            self.log("VIOLATION", "command sent before the reply to the "
                     "previous one")
        return line.rstrip(b"\r").decode("latin-1")

    def stall(self):
        self.log("FAULT", "stall")
        self.sock.settimeout(1)
        end = time.monotonic() + STALL_MAX
        while time.monotonic() < end:
            try:
                if not self.sock.recv(65536):
                    return
            except socket.timeout:
                continue
            except OSError:
                return

    # -------------------------------------------------------- faults

    def fault(self, step, msgnum=None):
        """The fault that fires at this step, or None."""
        for f in self.srv.faults:
            if f.action in ("size", "badsize"):
                continue
            if f.matches(step, msgnum):
                f.fired = True
                self.log("FAULT", "%s@%s=%s" % (step, msgnum, f.action))
                return f
        return None

    def size_of(self, n):
        """The size announced for message n (0: none), after faults."""
        if n < 1 or n > len(self.msgs) or (self.folder, n) in self.deleted:
            return "0"
        size = len(self.msgs[n - 1][1])
        for f in self.srv.faults:
            if f.action == "size" and f.n == n and \
                    f.step in ("READ", "ACKS", "ACKD", "NACK"):
                self.log("FAULT", "size %d%+d" % (n, int(f.arg)))
                return str(size + int(f.arg))
            if f.action == "badsize" and f.n == n:
                self.log("FAULT", "badsize %d" % n)
                return "x%d" % size
        return str(size)

    def answer(self, f, line):
        """Reply line unless fault f says otherwise; False: end."""
        if f is None:
            self.send(line)
            return True
        if f.action == "drop":
            return False
        if f.action == "stall":
            self.stall()
            return False
        if f.action == "garbage":
            self.send("* garbage %d" % self.cid)
            return True
        if f.action == "err":
            self.send("- refused by fault")
            return True
        self.send(line)
        return True

    # ------------------------------------------------------ commands

    def select(self, folder):
        self.folder = folder
        with self.srv.store.lock:
            self.msgs = self.srv.store.load(folder)
        self.cur = 1 if self.msgs else 0
        self.files.setdefault(folder, [m[0] for m in self.msgs])
        return len(self.msgs)

    def cmd_helo(self, args):
        f = self.fault("HELO")
        parts = args.split(" ", 1)
        if len(parts) != 2 or parts[0] != self.srv.user or \
                parts[1] != self.srv.password:
            self.send("- invalid login")
            return False
        return self.answer(f, "#%d" % self.select(""))

    def cmd_fold(self, args):
        f = self.fault("FOLD")
        if self.folder is None:
            self.log("VIOLATION", "FOLD before HELO")
            self.send("- not logged in")
            return True
        if args not in self.srv.store.dirs:
            self.send("- no such folder")
            return True
        return self.answer(f, "#%d" % self.select(args))

    def cmd_read(self, args):
        if self.folder is None:
            self.log("VIOLATION", "READ before HELO")
            self.send("- not logged in")
            return True
        if self.retrieved:
            self.log("VIOLATION", "READ after RETR without ACK")
            self.retrieved = False
        n = self.cur
        if args:
            try:
                n = int(args)
            except ValueError:
                self.send("- bad number")
                return True
        self.cur = n
        return self.answer(self.fault("READ", n), "=" + self.size_of(n))

    def cmd_retr(self, args):
        n = self.cur
        if args or self.size_of(n) == "0":
            self.log("VIOLATION", "RETR without a current message")
            self.send("- no message")
            return True
        f = self.fault("RETR", n)
        data = self.msgs[n - 1][1]
        if f is not None and f.action == "middrop":
            k = int(f.arg or 100)
            self.sock.sendall(data[:k])
            self.log("DATA", "%d of %d octets, then drop" % (k, len(data)))
            return False
        if f is not None and f.action in ("drop", "stall"):
            return self.answer(f, "")
        self.sock.sendall(data)
        self.log("DATA", "%d octets" % len(data))
        self.retrieved = True
        return True

    def cmd_ack(self, verb):
        n = self.cur
        if not self.retrieved:
            self.log("VIOLATION", "%s without RETR" % verb)
            self.send("- nothing retrieved")
            return True
        f = self.fault(verb, n)
        if f is not None and f.action in ("drop", "stall", "err"):
            return self.answer(f, "")     # err: still awaiting an ACK
        self.retrieved = False
        self.log(verb, "%s %d" % (self.folder or "-", n))
        if verb == "ACKD":
            self.deleted.add((self.folder, n))
        if verb != "NACK":
            self.cur = n + 1
        return self.answer(f, "=" + self.size_of(self.cur))

    def cmd_quit(self):
        f = self.fault("QUIT")
        if f is not None and f.action in ("drop", "stall"):
            return self.answer(f, "")
        self.commit()
        self.quit = True
        self.answer(f, "+ bye")
        return False

    def commit(self):
        with self.srv.store.lock:
            for folder, n in sorted(self.deleted):
                # numbers are those of this session's listing
                p = self.files[folder][n - 1]
                if os.path.exists(p):
                    os.unlink(p)
                    self.log("COMMIT", "%s %d %s" % (folder or "-", n,
                                                     os.path.basename(p)))
        self.deleted = set()

    # ---------------------------------------------------------- loop

    def run(self):
        self.log("OPEN")
        how = "client closed"
        try:
            f = self.fault("GREETING")
            if not self.answer(f, "+ POP2 pop2peer ready"):
                how = "fault"
                return
            while True:
                line = self.readline()
                if line is None:
                    return
                self.log("C:", line)
                verb, _, args = line.partition(" ")
                verb = verb.upper()
                if verb == "HELO":
                    go = self.cmd_helo(args)
                elif verb == "FOLD":
                    go = self.cmd_fold(args)
                elif verb == "READ":
                    go = self.cmd_read(args.strip())
                elif verb == "RETR":
                    go = self.cmd_retr(args.strip())
                elif verb in ("ACKS", "ACKD", "NACK"):
                    go = self.cmd_ack(verb)
                elif verb == "QUIT":
                    go = self.cmd_quit()
                else:
                    self.log("VIOLATION", "unknown command")
                    self.send("- unknown command")
                    go = True
                if not go:
                    how = "quit" if self.quit else "server"
                    return
        except OSError as e:
            how = "error %s" % e
        finally:
            if self.deleted:
                self.log("ROLLBACK", str(len(self.deleted)))
            self.log("CLOSE", how)
            try:
                self.sock.close()
            except OSError:
                pass


class Server:
    def __init__(self, args):
        self.dir = args.dir
        os.makedirs(self.dir, exist_ok=True)
        self.logf = open(os.path.join(self.dir, "log"), "a", buffering=1)
        self.loglock = threading.Lock()
        folders = {}
        for spec in args.folder:
            name, _, d = spec.partition("=")
            folders[name] = d
        self.store = Store(args.mailbox, folders)
        self.user, self.password = args.user, args.password
        self.faults = [Fault(s) for s in args.fault]
        self.tls = None
        if args.tls:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(args.tls[0], args.tls[1])

    def log(self, line):
        with self.loglock:
            self.logf.write(line + "\n")

    def serve(self, lifetime):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        ls.settimeout(1)
        atomic_write(os.path.join(self.dir, "pid"), "%d\n" % os.getpid())
        atomic_write(os.path.join(self.dir, "port"),
                     "%d\n" % ls.getsockname()[1])
        end = time.monotonic() + lifetime
        cid = 0
        while time.monotonic() < end:
            try:
                sock, _ = ls.accept()
            except socket.timeout:
                continue
            cid += 1
            threading.Thread(target=self.handle, args=(sock, cid),
                             daemon=True).start()

    def handle(self, sock, cid):
        sock.settimeout(STALL_MAX)
        if self.tls is not None:
            try:
                sock = self.tls.wrap_socket(sock, server_side=True)
            except (OSError, ssl.SSLError) as e:
                self.log("c%d TLS failed %s" % (cid, e))
                sock.close()
                return
            self.log("c%d TLS %s" % (cid, sock.version()))
        Session(self, sock, cid).run()


def main():
    ap = argparse.ArgumentParser(description="scripted POP2 server")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--mailbox", required=True)
    ap.add_argument("--folder", action="append", default=[],
                    metavar="NAME=DIR")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--fault", action="append", default=[])
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--lifetime", type=int, default=600,
                    help="exit after this many seconds")
    args = ap.parse_args()
    try:
        srv = Server(args)
    except (ValueError, OSError) as e:
        print("pop2peer: %s" % e, file=sys.stderr)
        return 2
    srv.serve(args.lifetime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
