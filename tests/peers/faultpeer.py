#!/usr/bin/env python3
"""faultpeer.py -- a scriptable, fault-injecting mail peer for the tests.

One process serves, on 127.0.0.1:
  * a POP3 server (RFC 1939 + CAPA/UIDL/TOP/PIPELINING of RFC 2449) with
    real UPDATE-state semantics: DELE only marks, deletions are committed
    on QUIT and a connection that ends any other way rolls them back;
  * an SMTP sink and an LMTP sink that store every accepted message
    (after un-dot-stuffing) as a file.
The mailbox after commits persists across connections for the lifetime of
the process, so a later "recovery" poll sees what an earlier one left.

Faults are injected at a chosen step; see FAULTS below.  Python 3 stdlib
only; test-only tool.

Usage
-----
    faultpeer.py serve --dir DIR [--scenario FILE.json] [options]
    faultpeer.py report --dir DIR          # facts for a test (see facts())
    faultpeer.py selftest [--dir DIR]      # checks the peer itself

By hand, e.g.:
    faultpeer.py serve --dir /tmp/fp --fault 'pop3:RETR@3=middrop:200' &
    cat /tmp/fp/ports          # then point a client at those ports
    faultpeer.py report --dir /tmp/fp; less /tmp/fp/events.log
(tests/peers/lib.sh has faultpeer_start/_idle/_control/_stop helpers.)

`serve` writes everything to DIR (created if missing; a reused DIR
starts afresh):
    ports           "pop3 P\\nsmtp S\\nlmtp L\\n", written atomically once
                    every listener is bound (kernel-chosen free ports unless
                    --pop3-port etc. are given).  Wait for this file.
    pid             the server's pid.
    originals.txt   "ID UID SIZE FILE": the initial mailbox (FILE holds the
                    message exactly as served, CRLF line ends).
    mailbox.txt     "ID UID SIZE": the committed mailbox, rewritten on every
                    commit (QUIT).
    accepted.txt    "SEQ ID EXACT SIZE FILE SIDE": one line per message the
                    SMTP/LMTP sink accepted.  ID is the original it came
                    from ("?" if none), EXACT is 1 when the stored bytes end
                    with the original's bytes (only header lines prepended,
                    e.g. fetchmail's Received:), else 0.
    sink/NNNN.eml   accepted message NNNN (bytes after un-dot-stuffing),
    sink/NNNN.env   its envelope: "MAIL FROM:<..>" and "RCPT TO:<..>" lines.
    events.log      every event, one per line, in one global order:
                      SEQ MS CONN KIND TEXT
                    CONN is pop3#N / smtp#N / lmtp#N (N counts connections
                    of that kind from 1), KIND one of
                      OPEN CLOSE   connection opened / ended (CLOSE says how)
                      C:           command received (after PASS: "PASS *")
                      C+           command received while the reply to an
                                   earlier one had not been sent yet, i.e.
                                   the client pipelined
                      S:           first line of each reply sent
                      FAULT        a fault fired (what, where)
                      MARK         DELE marked message ID UID
                      COMMIT       QUIT removed message ID UID
                      ROLLBACK     session ended without QUIT: N marks undone
                      ACCEPT       the sink accepted SEQ as message ID
                      PENDING      command still unread/unanswered when the
                                   connection was dropped
    status          "open N\\nconns M\\npop3 A\\nsmtp B\\nlmtp C\\n": open
                    connections now and connections so far; rewritten at
                    every open/close (wait for "open 0" before reading the
                    rest after a client has gone).
    report.txt      facts for a test (see facts() below), rewritten each
                    time the last open connection ends.
    state.json      originals, mailbox, accepted (with envelopes), commits
                    and connection counts as JSON (rewritten with
                    mailbox.txt and accepted.txt).
    control.json    OPTIONAL, written by the test: re-read at every new
                    connection when its mtime or size changed; may replace
                    "faults", "pipelining", "uidl", "top", "user",
                    "password" (same keys as the scenario).  Write it
                    atomically (tmp file + mv).  Loading resets the
                    occurrence counters.

Scenario (JSON file and/or options; options win):
    {"messages": 5,                 # generated messages (see gen_message)
     "message_files": ["a.eml"],    # or messages from files (LF or CRLF)
     "big": {"3": 60000},           # make generated message 3 ~60000 bytes
     "sender": "MAILER-DAEMON@example.org",  # From: of generated ones
                                    # (fetchmail sends no bounce for these)
     "user": "alice", "password": "secret",
     "pipelining": true, "uidl": true, "top": true,
     "smtp_pipelining": false,
     "greeting": "faultpeer POP3 server ready",   # text after "+OK "
     "sdps_env": {"m1": ["from@x", "to@y"]},  # Demon SDPS: answer
                                    # "*ENV n" (sender, recipient by id)
     "faults": ["pop3:RETR@3=drop", {"side": "smtp", "step": "EOD", "n": 2,
                "action": "4xx", "code": 452, "times": 1}]}

FAULTS
------
Spec string:  SIDE:STEP[@N]=ACTION[:ARG]     (case-insensitive)
  SIDE   pop3 | smtp | lmtp | sink (= smtp and lmtp)
  STEP   pop3: greeting CAPA USER PASS AUTH APOP STAT LIST UIDL TOP RETR
               DELE NOOP RSET LAST QUIT
               (RETR also matches TOP: it means "message retrieval")
         smtp/lmtp: greeting EHLO (also HELO, LHLO) MAIL RCPT DATA EOD
               (the reply after the final "."), RSET NOOP QUIT
  @N     pop3 RETR/TOP/DELE: the message NUMBER in the command;
         any other step: the N-th occurrence of that step (counted per
         side since start or the last control.json load; 1-based).
         Without @N: the first matching occurrence.
  ACTION drop          close the connection instead of answering
         rst           close with a TCP RST (SO_LINGER 0)
         stall         never answer; hold the connection until the client
                       closes it (or --max-stall seconds)
         err           pop3: "-ERR ..."; smtp: the 4xx below
         4xx[:CODE]    smtp: temporary error (default 421 greeting/EHLO,
                       451 otherwise); pop3: same as err
         5xx[:CODE]    smtp: permanent error (default 554, RCPT 550)
         dropafter     do the command's work (QUIT: commit; EOD: accept
                       the message), then drop without answering
         stallafter    same, then stall
         middrop[:K]   pop3 RETR/TOP: send "+OK" and the first K bytes of
                       the (stuffed) message, then drop; smtp DATA: send
                       354, read K bytes of the message, then drop
                       (default K = 1000)
         midstall[:K]  same but stall instead of dropping (on the sink,
                       stops reading, so a big message blocks the client)
  A fault fires `times` times (default 1; 0 = every match) and then is
  disarmed.
"""

import argparse
import hashlib
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

POLLRDHUP = getattr(select, "POLLRDHUP", 0x2000)
QUICKACK = getattr(socket, "TCP_QUICKACK", 0)

POP3_STEPS = {"GREETING", "CAPA", "USER", "PASS", "AUTH", "APOP", "STAT",
              "LIST", "UIDL", "TOP", "RETR", "DELE", "NOOP", "RSET", "LAST",
              "QUIT"}
SMTP_STEPS = {"GREETING", "EHLO", "MAIL", "RCPT", "DATA", "EOD", "RSET",
              "NOOP", "QUIT", "AUTH"}
ACTIONS = {"drop", "rst", "stall", "err", "4xx", "5xx", "dropafter",
           "stallafter", "middrop", "midstall", "reply", "bad", "bye"}
MSGNUM_STEPS = {"RETR", "TOP", "DELE"}
# (added) the IMAP server, see ImapSession
IMAP_STEPS = {"GREETING", "CAPABILITY", "LOGIN", "SELECT", "LIST", "FETCH",
              "STORE", "EXPUNGE", "LOGOUT", "NOOP"}
IMAP_MSGNUM_STEPS = {"FETCH", "STORE"}


def now_ms():
    return int(time.monotonic() * 1000)


def atomic_write(path, data):
    if isinstance(data, str):
        data = data.encode()
    tmp = "%s.tmp%d.%d" % (path, os.getpid(), threading.get_ident())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# ------------------------------------------------------------ faults

class Fault:
    def __init__(self, side, step, n=None, action="drop", arg=None,
                 code=None, text=None, times=1, match=None):
        side = side.lower()
        if side not in ("pop3", "smtp", "lmtp", "sink", "imap"):
            raise ValueError("bad fault side %r" % side)
        step = step.upper()
        if step in ("HELO", "LHLO"):
            step = "EHLO"
        if step in ("EOM", "DOT", "END-OF-DATA", "ENDOFDATA"):
            step = "EOD"
        ok = POP3_STEPS if side == "pop3" else \
            IMAP_STEPS if side == "imap" else SMTP_STEPS
        if step not in ok:
            raise ValueError("bad %s fault step %r" % (side, step))
        action = action.lower()
        if action not in ACTIONS:
            raise ValueError("bad fault action %r" % action)
        if action in ("middrop", "midstall") and not (
                (side == "pop3" and step in ("RETR", "TOP")) or
                (side == "imap" and step == "FETCH") or
                (side not in ("pop3", "imap") and step == "DATA")):
            raise ValueError("%s only at pop3 RETR/TOP or smtp DATA" % action)
        self.side, self.step, self.n, self.action = side, step, n, action
        self.arg, self.code, self.text = arg, code, text
        self.times = int(times)
        self.fired = 0
        # (added for tests/delivery.sh) match: fire only when the
        # command's argument contains this text (case-insensitive);
        # text: the reply text after the code (err/4xx/5xx), or the
        # whole reply for action "reply" ("\n" separates lines).
        self.match = match.lower() if match else None
        if action == "reply" and text is None:
            raise ValueError("action reply needs a text")

    @classmethod
    def parse(cls, spec):
        if isinstance(spec, dict):
            d = dict(spec)
            return cls(d.pop("side"), d.pop("step"), d.pop("n", None),
                       d.pop("action", "drop"), d.pop("arg", None),
                       d.pop("code", None), d.pop("text", None),
                       d.pop("times", 1), d.pop("match", None))
        s = spec.strip()
        if "=" not in s or ":" not in s.split("=", 1)[0]:
            raise ValueError("bad fault spec %r (SIDE:STEP[@N]=ACTION[:ARG])"
                             % spec)
        where, what = s.split("=", 1)
        side, step = where.split(":", 1)
        n = None
        if "@" in step:
            step, ns = step.split("@", 1)
            n = int(ns)
        arg = None
        if ":" in what:
            what, a = what.split(":", 1)
            arg = int(a)
        code = None
        if what.lower() in ("4xx", "5xx"):
            code, arg = arg, None
        elif what.lower() in ("middrop", "midstall"):
            pass
        elif arg is not None:
            raise ValueError("action %s takes no argument" % what)
        return cls(side, step, n, what, arg, code)

    def covers(self, side):
        return self.side == side or (self.side == "sink" and
                                     side in ("smtp", "lmtp"))

    def describe(self):
        s = "%s:%s" % (self.side, self.step)
        if self.n is not None:
            s += "@%d" % self.n
        s += "=" + self.action
        if self.arg is not None:
            s += ":%d" % self.arg
        if self.code is not None:
            s += ":%d" % self.code
        if self.match is not None:
            s += "~" + self.match
        return s


# ------------------------------------------------------------ messages

def gen_message(i, size_hint=None, sender=None):
    """Message i (1-based), CRLF, with dot-stuffing bait.  SENDER (the
    From: address; default senderI@example.org) may contain %d for i."""
    sender = (sender or "sender%d@example.org").replace("%d", str(i))
    lines = [
        "From: Fault Sender <%s>" % sender,
        "To: alice@example.org",
        "Subject: faultpeer message %d" % i,
        "Date: Mon, 01 Jan 2024 12:%02d:00 +0000" % (i % 60),
        "Message-ID: <faultpeer-%d@example.org>" % i,
        "X-Fault-Id: m%d" % i,
        "",
        "Hello, this is message %d." % i,
        ".",
        "..",
        ".leading dot in message %d" % i,
        "...three dots",
        "",
        ". a dot and a space",
    ]
    target = size_hint or (300 + 170 * i)
    k = 0
    body = []
    size = sum(len(x) + 2 for x in lines)
    while size < target:
        k += 1
        if k % 23 == 0:
            ln = "."
        elif k % 11 == 0:
            ln = ".stuffed line %d of message %d" % (k, i)
        else:
            ln = "line %05d of message %d: the quick brown fox jumps" % (k, i)
        body.append(ln)
        size += len(ln) + 2
    body.append("end of message %d" % i)
    return ("\r\n".join(lines + body) + "\r\n").encode()


def to_crlf(data):
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def dot_stuff(data):
    """RETR payload: CRLF data, lines starting with '.' doubled, + '.'."""
    out = []
    for ln in data.split(b"\r\n")[:-1] if data.endswith(b"\r\n") \
            else data.split(b"\r\n"):
        if ln.startswith(b"."):
            ln = b"." + ln
        out.append(ln + b"\r\n")
    out.append(b".\r\n")
    return b"".join(out)


def header_value(data, name):
    name = name.lower().encode() + b":"
    for ln in data.split(b"\r\n"):
        if ln == b"":
            break
        if ln.lower().startswith(name):
            return ln[len(name):].strip().decode("latin-1")
    return None


class Msg:
    def __init__(self, mid, data):
        self.id = mid
        self.data = data
        self.uid = "FP%s-%s" % (mid, hashlib.sha1(data).hexdigest()[:12])

    @property
    def size(self):
        return len(self.data)


# ------------------------------------------------------------ the peer

class Peer:
    def __init__(self, cfg, outdir):
        self.dir = os.path.abspath(outdir)
        for sub in ("sink", "orig"):
            sd = os.path.join(self.dir, sub)
            os.makedirs(sd, exist_ok=True)
            for fn in os.listdir(sd):      # a reused DIR starts afresh
                os.unlink(os.path.join(sd, fn))
        for fn in ("ports", "report.txt", "control.json"):
            try:
                os.unlink(os.path.join(self.dir, fn))
            except OSError:
                pass
        self.lock = threading.RLock()
        self.maildrop_lock = threading.Lock()
        self.seq = 0
        self.t0 = now_ms()
        self.events = open(os.path.join(self.dir, "events.log"), "w",
                           buffering=1)
        self.conns = {"pop3": 0, "smtp": 0, "lmtp": 0, "imap": 0}
        self.imap_flags = {}     # message id -> set of IMAP flags
        self.open = 0
        self.accepted = []
        self.commits = []
        self.stop = threading.Event()
        self.max_stall = float(cfg.get("max_stall", 120))
        self.control = cfg.get("control") or os.path.join(self.dir,
                                                          "control.json")
        self.control_sig = None
        self.apply_cfg(cfg, initial=True)
        # messages
        msgs = []
        files = cfg.get("message_files") or []
        if files:
            for k, fn in enumerate(files, 1):
                with open(fn, "rb") as f:
                    msgs.append(Msg("m%d" % k, to_crlf(f.read())))
        else:
            big = {int(k): int(v) for k, v in (cfg.get("big") or {}).items()}
            for k in range(1, int(cfg.get("messages", 5)) + 1):
                msgs.append(Msg("m%d" % k, gen_message(k, big.get(k),
                                                       cfg.get("sender"))))
        uids = set()
        for m in msgs:
            if m.uid in uids:
                raise ValueError("duplicate message %s" % m.id)
            uids.add(m.uid)
        self.originals = list(msgs)
        self.mailbox = list(msgs)
        lines = []
        for m in msgs:
            fn = os.path.join(self.dir, "orig", m.id)
            with open(fn, "wb") as f:
                f.write(m.data)
            lines.append("%s %s %d %s\n" % (m.id, m.uid, m.size, fn))
        atomic_write(os.path.join(self.dir, "originals.txt"), "".join(lines))
        self.write_state()
        self.write_report()
        self.write_status()

    def apply_cfg(self, cfg, initial=False):
        with self.lock:
            if initial or "faults" in cfg:
                self.faults = [Fault.parse(f) for f in cfg.get("faults") or []]
                self.counts = {}
            for k, dflt in (("pipelining", True), ("uidl", True),
                            ("top", True), ("smtp_pipelining", False),
                            ("user", "alice"), ("password", "secret"),
                            ("smtp_auth", None), ("smtp_auth_user", "fmuser"),
                            ("smtp_auth_password", "fmpass"),
                            ("greeting", "faultpeer POP3 server ready"),
                            ("sdps_env", None)):
                if initial:
                    setattr(self, k, cfg.get(k, dflt))
                elif k in cfg:
                    setattr(self, k, cfg[k])

    def reload_control(self):
        try:
            st = os.stat(self.control)
        except OSError:
            return
        sig = (st.st_mtime_ns, st.st_size, st.st_ino)
        if sig == self.control_sig:
            return
        try:
            with open(self.control) as f:
                cfg = json.load(f)
        except (OSError, ValueError) as e:
            self.event("-", "CONTROL", "unreadable: %s" % e)
            return
        self.control_sig = sig
        self.apply_cfg(cfg)
        self.event("-", "CONTROL", "loaded faults=[%s] pipelining=%s uidl=%s "
                   "top=%s" % (" ".join(f.describe() for f in self.faults),
                               self.pipelining, self.uidl, self.top))

    # -- logging / state
    def event(self, conn, kind, text=""):
        with self.lock:
            self.seq += 1
            text = text.replace("\r", "\\r").replace("\n", "\\n")
            self.events.write("%d %d %s %s %s\n" % (
                self.seq, now_ms() - self.t0, conn, kind, text))
            return self.seq

    def write_status(self):
        with self.lock:
            atomic_write(os.path.join(self.dir, "status"),
                         "open %d\nconns %d\npop3 %d\nsmtp %d\nlmtp %d\n" % (
                             self.open, sum(self.conns.values()),
                             self.conns["pop3"], self.conns["smtp"],
                             self.conns["lmtp"]))

    def write_state(self):
        with self.lock:
            atomic_write(os.path.join(self.dir, "mailbox.txt"), "".join(
                "%s %s %d\n" % (m.id, m.uid, m.size) for m in self.mailbox))
            atomic_write(os.path.join(self.dir, "accepted.txt"), "".join(
                "%d %s %d %d %s %s\n" % (a["seq"], a["id"], a["exact"],
                                         a["size"], a["file"], a["side"])
                for a in self.accepted))
            atomic_write(os.path.join(self.dir, "state.json"), json.dumps({
                "originals": [{"id": m.id, "uid": m.uid, "size": m.size}
                              for m in self.originals],
                "mailbox": [{"id": m.id, "uid": m.uid, "size": m.size}
                            for m in self.mailbox],
                "accepted": self.accepted,
                "commits": self.commits,
                "connections": dict(self.conns),
            }, indent=1) + "\n")

    def conn_open(self, kind):
        with self.lock:
            self.conns[kind] += 1
            self.open += 1
            self.write_status()
            return "%s#%d" % (kind, self.conns[kind])

    def conn_close(self):
        with self.lock:
            self.open -= 1
            if self.open == 0:
                self.write_report()
            self.write_status()

    def write_report(self):
        with self.lock:
            self.events.flush()
            lines = facts(self.dir)
            atomic_write(os.path.join(self.dir, "report.txt"),
                         "".join(x for x in lines
                                 if not x.startswith("open=")))

    # -- faults
    def match(self, side, step, msgnum=None, arg=None):
        """The fault to fire for this step now, or None.  Counts steps."""
        with self.lock:
            key = (side, step)
            self.counts[key] = occ = self.counts.get(key, 0) + 1
            for f in self.faults:
                if not f.covers(side):
                    continue
                if f.step != step and not (f.step == "RETR" and step == "TOP"):
                    continue
                if f.times and f.fired >= f.times:
                    continue
                if f.match is not None and (
                        arg is None or f.match not in arg.lower()):
                    continue
                if f.n is not None:
                    if (side == "pop3" and f.step in MSGNUM_STEPS) or (
                            side == "imap" and f.step in IMAP_MSGNUM_STEPS):
                        if msgnum != f.n and not (
                                isinstance(msgnum, frozenset) and
                                f.n in msgnum):
                            continue
                    elif occ != f.n:
                        continue
                f.fired += 1
                return f
            return None

    # -- sink
    def accept(self, conn, side, data, mail_from, rcpts):
        with self.lock:
            n = len(self.accepted) + 1
            fn = os.path.join(self.dir, "sink", "%04d.eml" % n)
            with open(fn, "wb") as f:
                f.write(data)
            with open(os.path.join(self.dir, "sink", "%04d.env" % n), "w") as f:
                f.write("MAIL FROM:%s\n" % mail_from)
                for r in rcpts:
                    f.write("RCPT TO:%s\n" % r)
            mid, exact = "?", 0
            for m in self.originals:
                if data.endswith(m.data) and self.only_headers(
                        data[:len(data) - len(m.data)]):
                    mid, exact = m.id, 1
                    break
            if mid == "?":
                fid = header_value(data, "X-Fault-Id")
                msgid = header_value(data, "Message-ID")
                for m in self.originals:
                    if (fid and fid == header_value(m.data, "X-Fault-Id")) or (
                            msgid and msgid == header_value(m.data,
                                                            "Message-ID")):
                        mid = m.id
                        break
            self.accepted.append({"seq": n, "id": mid, "exact": exact,
                                  "size": len(data), "file": fn, "side": side,
                                  "mail_from": mail_from, "rcpts": rcpts})
            self.event(conn, "ACCEPT", "%d %s exact=%d size=%d" % (
                n, mid, exact, len(data)))
            self.write_state()
            return n

    @staticmethod
    def only_headers(prefix):
        if not prefix:
            return True
        if not prefix.endswith(b"\r\n") or b"\r\n\r\n" in prefix:
            return False
        for ln in prefix[:-2].split(b"\r\n"):
            if ln[:1] in (b" ", b"\t"):
                continue
            if b":" not in ln or ln.split(b":", 1)[0].strip() == b"":
                return False
        return True

    # -- POP3 maildrop
    def commit(self, conn, marked):
        with self.lock:
            gone = {m.uid for m in marked}
            for m in marked:
                self.commits.append({"id": m.id, "uid": m.uid, "conn": conn})
                self.event(conn, "COMMIT", "%s %s" % (m.id, m.uid))
            self.mailbox = [m for m in self.mailbox if m.uid not in gone]
            self.write_state()

    # -- servers
    def serve(self, ports):
        listeners = []
        out = []
        for kind in ("pop3", "smtp", "lmtp", "imap"):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", ports.get(kind, 0)))
            s.listen(16)
            listeners.append((kind, s))
            out.append("%s %d\n" % (kind, s.getsockname()[1]))
        self.ports = {k: s.getsockname()[1] for k, s in listeners}
        atomic_write(os.path.join(self.dir, "pid"), "%d\n" % os.getpid())
        atomic_write(os.path.join(self.dir, "ports"), "".join(out))
        for kind, s in listeners:
            t = threading.Thread(target=self.accept_loop, args=(kind, s),
                                 daemon=True)
            t.start()
        return listeners

    def accept_loop(self, kind, ls):
        while not self.stop.is_set():
            try:
                c, _ = ls.accept()
            except OSError:
                if self.stop.is_set():
                    return
                continue
            self.reload_control()
            cls = Pop3Session if kind == "pop3" else \
                ImapSession if kind == "imap" else SmtpSession
            t = threading.Thread(target=cls(self, c, kind).run, daemon=True)
            t.start()


# ------------------------------------------------------------ sessions

class Dropped(Exception):
    pass


class Session:
    def __init__(self, peer, sock, kind):
        self.peer = peer
        self.sock = sock
        self.kind = kind
        self.buf = b""
        self.eof = False
        self.conn = peer.conn_open(kind)
        self.how = "?"
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if QUICKACK:
            sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)

    def ev(self, kind, text=""):
        return self.peer.event(self.conn, kind, text)

    def fill(self):
        try:
            d = self.sock.recv(65536)
            if QUICKACK:
                # ACK at once: a client that writes a message in small
                # pieces without TCP_NODELAY (Nagle) would otherwise wait
                # for our delayed ACK (~40 ms) before its final ".".
                self.sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        except (ConnectionError, OSError):
            d = b""
        if not d:
            self.eof = True
        self.buf += d
        return bool(d)

    def readline(self):
        """One line without its CRLF (bare LF accepted), or None on EOF."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                ln, self.buf = self.buf[:i], self.buf[i + 1:]
                return ln[:-1] if ln.endswith(b"\r") else ln
            if len(self.buf) > 1 << 20:
                raise Dropped("line too long")
            if self.eof or not self.fill():
                return None

    def more_pending(self):
        """True if the client already sent more than we processed."""
        if self.buf:
            return True
        try:
            r, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        if r:
            self.fill()
        return bool(self.buf)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        try:
            self.sock.sendall(data)
        except (ConnectionError, OSError) as e:
            raise Dropped("send failed: %s" % e)

    def reply(self, data):
        first = data.split(b"\r\n", 1)[0] if isinstance(data, bytes) else \
            data.split("\r\n", 1)[0]
        if isinstance(first, bytes):
            first = first.decode("latin-1")
        self.ev("S:", first)
        self.send(data)

    def log_pending(self):
        try:
            self.sock.setblocking(False)
            while True:
                d = self.sock.recv(65536)
                if not d:
                    break
                self.buf += d
        except (BlockingIOError, OSError):
            pass
        for ln in self.buf.split(b"\n"):
            ln = ln.rstrip(b"\r")
            if ln:
                self.ev("PENDING", self.safe(ln))
        self.buf = b""

    def safe(self, ln):
        s = ln.decode("latin-1")
        if s[:5].upper() == "PASS ":
            return "PASS *"
        return s

    def drop(self, rst=False):
        self.log_pending()
        if rst:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        raise Dropped("rst" if rst else "drop")

    def stall(self):
        """Never answer; wait (without reading) for the client to go."""
        p = select.poll()
        p.register(self.sock, POLLRDHUP | select.POLLHUP | select.POLLERR)
        deadline = time.monotonic() + self.peer.max_stall
        while not self.peer.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                self.ev("FAULT", "stall: gave up after %gs" %
                        self.peer.max_stall)
                raise Dropped("stall-limit")
            if p.poll(min(left, 0.5) * 1000):
                self.log_pending()
                raise Dropped("client closed during stall")
        raise Dropped("peer stopping")

    def fault(self, f, where):
        self.ev("FAULT", "%s at %s" % (f.describe(), where))
        if f.action == "drop":
            self.drop()
        if f.action == "rst":
            self.drop(rst=True)
        if f.action == "stall":
            self.stall()

    def run(self):
        self.ev("OPEN", "from %s:%d" % self.sock.getpeername())
        try:
            self.session()
            if self.how == "?":
                self.how = "normal"
        except Dropped as e:
            self.how = str(e)
        except Exception as e:  # pragma: no cover - keep serving others
            self.how = "error %r" % e
        finally:
            try:
                self.finish()
            finally:
                try:
                    self.sock.close()
                except OSError:
                    pass
                self.ev("CLOSE", self.how)
                self.peer.conn_close()

    def finish(self):
        pass


class Pop3Session(Session):
    def session(self):
        self.authed = False
        self.user = None
        self.marked = {}     # msgnum -> Msg
        self.snapshot = []
        self.holds_lock = False
        f = self.peer.match("pop3", "GREETING")
        if f:
            self.fault(f, "greeting")
            if f.action in ("err", "4xx", "5xx"):
                self.reply("-ERR faultpeer: fault injected at greeting\r\n")
                while True:   # answer nothing useful; client should quit
                    ln = self.readline()
                    if ln is None:
                        return
                    self.ev("C:", self.safe(ln))
                    if ln.upper().startswith(b"QUIT"):
                        self.reply("+OK bye\r\n")
                        return
                    self.reply("-ERR not ready\r\n")
            if f.action in ("dropafter", "stallafter"):
                self.ev("FAULT", "greeting not sent")
                self.drop() if f.action == "dropafter" else self.stall()
        self.reply("+OK %s\r\n" % self.peer.greeting)
        while True:
            ln = self.readline()
            if ln is None:
                self.how = "client closed"
                return
            piped = self.more_pending()
            self.ev("C+" if piped else "C:", self.safe(ln))
            if self.command(ln):
                self.how = "quit"
                return

    def finish(self):
        if self.marked:
            self.ev("ROLLBACK", "%d marks undone: %s" % (
                len(self.marked), " ".join(m.id for m in self.marked.values())))
            self.marked = {}
        if getattr(self, "holds_lock", False):
            self.peer.maildrop_lock.release()
            self.holds_lock = False

    def msg(self, arg):
        try:
            n = int(arg)
        except (TypeError, ValueError):
            return None, None
        if n < 1 or n > len(self.snapshot):
            return n, None
        return n, self.snapshot[n - 1]

    def command(self, ln):
        """Handle one command.  Returns True when the session is over."""
        words = ln.decode("latin-1").split()
        if not words:
            self.reply("-ERR empty command\r\n")
            return False
        cmd, args = words[0].upper(), words[1:]
        step = cmd if cmd in POP3_STEPS else None
        msgnum = None
        if cmd in MSGNUM_STEPS and args:
            try:
                msgnum = int(args[0])
            except ValueError:
                pass
        f = self.peer.match("pop3", step, msgnum) if step else None
        if f:
            self.fault(f, ln.decode("latin-1") if cmd != "PASS" else "PASS")
            if f.action in ("err", "4xx", "5xx"):
                self.reply("-ERR faultpeer: fault injected at %s\r\n" % cmd)
                return False
        resp, done = self.handle(cmd, args)
        if f and f.action in ("dropafter", "stallafter"):
            self.ev("FAULT", "%s done, reply not sent" % cmd)
            if f.action == "dropafter":
                self.drop()
            self.stall()
        if f and f.action in ("middrop", "midstall"):
            k = 1000 if f.arg is None else f.arg
            head, _, payload = resp.partition(b"\r\n")
            if not head.startswith(b"+OK"):
                self.reply(resp)
                return done
            self.ev("S:", head.decode("latin-1"))
            self.send(head + b"\r\n" + payload[:k])
            self.ev("FAULT", "%s after %d of %d payload bytes" % (
                f.action, min(k, len(payload)), len(payload)))
            if f.action == "middrop":
                self.drop()
            self.stall()
        self.reply(resp)
        return done

    def handle(self, cmd, args):
        p = self.peer
        if cmd == "QUIT":
            if self.authed and self.marked:
                p.commit(self.conn, list(self.marked.values()))
                self.marked = {}
            return b"+OK faultpeer signing off\r\n", True
        if cmd == "CAPA":
            caps = ["USER", "RESP-CODES", "AUTH-RESP-CODE",
                    "IMPLEMENTATION faultpeer"]
            if p.top:
                caps.append("TOP")
            if p.uidl:
                caps.append("UIDL")
            if p.pipelining:
                caps.append("PIPELINING")
            return ("+OK capability list follows\r\n" +
                    "".join(c + "\r\n" for c in caps) + ".\r\n").encode(), False
        if cmd == "NOOP":
            return b"+OK\r\n", False
        if not self.authed:
            if cmd == "USER":
                if not args:
                    return b"-ERR missing user name\r\n", False
                self.user = args[0]
                return b"+OK send PASS\r\n", False
            if cmd == "PASS":
                pw = " ".join(args)
                if self.user != p.user or pw != p.password:
                    self.user = None
                    return b"-ERR [AUTH] invalid user name or password\r\n", \
                        False
                if not p.maildrop_lock.acquire(blocking=False):
                    return b"-ERR [IN-USE] maildrop already locked\r\n", False
                self.holds_lock = True
                with p.lock:
                    self.snapshot = list(p.mailbox)
                self.authed = True
                return ("+OK %d messages\r\n" % len(self.snapshot)).encode(), \
                    False
            if cmd in ("AUTH", "APOP"):
                return b"-ERR mechanism not supported\r\n", False
            return b"-ERR not authenticated\r\n", False
        live = [(i, m) for i, m in enumerate(self.snapshot, 1)
                if i not in self.marked]
        if cmd == "STAT":
            return ("+OK %d %d\r\n" % (len(live), sum(m.size for _, m in live))
                    ).encode(), False
        if cmd in ("LIST", "UIDL"):
            if cmd == "UIDL" and not p.uidl:
                return b"-ERR unknown command\r\n", False
            field = (lambda m: str(m.size)) if cmd == "LIST" else \
                (lambda m: m.uid)
            if args:
                n, m = self.msg(args[0])
                if m is None or n in self.marked:
                    return b"-ERR no such message\r\n", False
                return ("+OK %d %s\r\n" % (n, field(m))).encode(), False
            return ("+OK %d messages\r\n" % len(live) + "".join(
                "%d %s\r\n" % (i, field(m)) for i, m in live) + ".\r\n"
            ).encode(), False
        if cmd in ("RETR", "TOP"):
            if cmd == "TOP" and not p.top:
                return b"-ERR unknown command\r\n", False
            if not args or (cmd == "TOP" and len(args) < 2):
                return b"-ERR missing argument\r\n", False
            n, m = self.msg(args[0])
            if m is None or n in self.marked:
                return b"-ERR no such message\r\n", False
            data = m.data
            if cmd == "TOP":
                try:
                    lines = int(args[1])
                except ValueError:
                    return b"-ERR bad line count\r\n", False
                if lines < 0:
                    return b"-ERR bad line count\r\n", False
                hdr, sep, body = data.partition(b"\r\n\r\n")
                if sep:
                    bl = body.split(b"\r\n")[:-1]
                    data = hdr + b"\r\n\r\n" + b"".join(
                        x + b"\r\n" for x in bl[:lines])
            return ("+OK %d octets\r\n" % m.size).encode() + dot_stuff(data), \
                False
        if cmd == "DELE":
            if not args:
                return b"-ERR missing argument\r\n", False
            n, m = self.msg(args[0])
            if m is None:
                return b"-ERR no such message\r\n", False
            if n in self.marked:
                return ("-ERR message %d already deleted\r\n" % n).encode(), \
                    False
            self.marked[n] = m
            self.ev("MARK", "%s %s" % (m.id, m.uid))
            return ("+OK message %d deleted\r\n" % n).encode(), False
        if cmd == "RSET":
            self.marked = {}
            return ("+OK %d messages\r\n" % len(self.snapshot)).encode(), False
        if cmd == "LAST":
            return b"-ERR unknown command\r\n", False
        if cmd == "*ENV" and p.sdps_env is not None:
            # Demon's SDPS: the 3rd and 4th lines after the status line
            # are the envelope sender and recipient
            if not args:
                return b"-ERR missing argument\r\n", False
            n, m = self.msg(args[0])
            if m is None or n in self.marked:
                return b"-ERR no such message\r\n", False
            fr, to = p.sdps_env.get(m.id, ["", ""])
            return ("+OK envelope follows\r\n%s\r\nfaultpeer\r\n%s\r\n"
                    "%s\r\n.\r\n" % (m.id, fr, to)).encode(), False
        return b"-ERR unknown command\r\n", False


class SmtpSession(Session):
    def session(self):
        p = self.peer
        lmtp = self.kind == "lmtp"
        self.mail_from = None
        self.rcpts = []
        self.greeted_err = False
        f = p.match(self.kind, "GREETING")
        if f:
            self.fault(f, "greeting")
            if f.action in ("err", "4xx", "5xx", "reply"):
                self.greeted_err = True
                self.reply(self.fault_text(f, "GREETING", "greeting"))
            elif f.action in ("dropafter", "stallafter"):
                self.drop() if f.action == "dropafter" else self.stall()
        if not self.greeted_err:
            self.reply("220 faultpeer %s ready\r\n" % (
                "LMTP" if lmtp else "ESMTP"))
        while True:
            ln = self.readline()
            if ln is None:
                self.how = "client closed"
                return
            piped = self.more_pending()
            self.ev("C+" if piped else "C:", self.safe(ln))
            words = ln.decode("latin-1").split(None, 1)
            cmd = words[0].upper() if words else ""
            if self.greeted_err:
                if cmd == "QUIT":
                    self.reply("221 bye\r\n")
                    return
                self.reply("503 5.5.1 not ready\r\n")
                continue
            step = {"HELO": "EHLO", "LHLO": "EHLO"}.get(cmd, cmd)
            if step == "EHLO" and (cmd == "LHLO") != lmtp:
                self.reply("500 5.5.1 %s not supported here\r\n" % cmd)
                continue
            f = p.match(self.kind, step, arg=words[1] if len(words) > 1
                        else "") if step in SMTP_STEPS else None
            if f:
                self.fault(f, cmd)
                if f.action in ("err", "4xx", "5xx", "reply"):
                    self.reply(self.fault_text(f, step, cmd))
                    continue
            if step == "AUTH":
                self.auth(words[1] if len(words) > 1 else "")
                continue
            if step == "DATA":
                if self.data(f):
                    return
                continue
            resp, done = self.handle(cmd, words[1] if len(words) > 1 else "")
            if f and f.action in ("dropafter", "stallafter"):
                self.ev("FAULT", "%s done, reply not sent" % cmd)
                self.drop() if f.action == "dropafter" else self.stall()
            self.reply(resp)
            if done:
                return

    def fault_text(self, f, step, where):
        """The reply an err/4xx/5xx/reply fault sends."""
        if f.action == "reply":
            return "".join(x + "\r\n" for x in f.text.split("\n"))
        return "%d %s\r\n" % (self.code(f, step), f.text or
                               "faultpeer: fault injected at %s" % where)

    def auth(self, arg):
        """AUTH (added for tests/delivery.sh): PLAIN, LOGIN, CRAM-MD5
        against smtp_auth_user/smtp_auth_password when the scenario
        lists them in smtp_auth; logs "AUTH ok|bad MECH USER"."""
        import base64
        import hmac
        p = self.peer
        mechs = [m.upper() for m in (p.smtp_auth or [])]
        w = arg.split()
        mech = w[0].upper() if w else ""
        if mech not in mechs:
            self.reply("504 5.5.4 unrecognised authentication type\r\n")
            return

        def b64(s):
            return base64.b64encode(s.encode("latin-1")).decode()

        def ask(challenge):
            self.reply("334 %s\r\n" % challenge)
            ln = self.readline()
            if ln is None:
                raise Dropped("client closed during AUTH")
            self.ev("C:", "(auth response)")
            ln = ln.decode("latin-1")
            if ln == "*":
                return None
            try:
                return base64.b64decode(ln, validate=True).decode("latin-1")
            except ValueError:
                return ""
        user = pw = None
        if mech == "PLAIN":
            resp = None
            if len(w) > 1:
                try:
                    resp = base64.b64decode(w[1], validate=True).decode(
                        "latin-1")
                except ValueError:
                    resp = ""
            else:
                resp = ask("")
            parts = (resp or "").split("\0")
            if len(parts) == 3:
                user, pw = parts[1], parts[2]
        elif mech == "LOGIN":
            user = ask(b64("Username:"))
            pw = ask(b64("Password:")) if user is not None else None
        else:
            chal = "<%d.faultpeer@example.org>" % os.getpid()
            resp = ask(b64(chal)) or ""
            user, _, dig = resp.rpartition(" ")
            want = hmac.new(p.smtp_auth_password.encode(), chal.encode(),
                            "md5").hexdigest()
            pw = p.smtp_auth_password if dig == want else None
        ok = user == p.smtp_auth_user and pw == p.smtp_auth_password
        self.ev("AUTH", "%s %s %s" % ("ok" if ok else "bad", mech, user))
        self.reply("235 2.7.0 authenticated\r\n" if ok else
                   "535 5.7.8 authentication failed\r\n")

    @staticmethod
    def code(f, step):
        if f.code:
            return f.code
        if f.action == "5xx":
            return 550 if step == "RCPT" else 554
        return 421 if step in ("GREETING", "EHLO") else 451

    def handle(self, cmd, arg):
        p = self.peer
        if cmd in ("EHLO", "LHLO", "HELO"):
            self.mail_from, self.rcpts = None, []   # RFC 5321 4.1.4
        if cmd in ("EHLO", "LHLO"):
            ext = ["8BITMIME", "SIZE 104857600", "ENHANCEDSTATUSCODES"]
            if p.smtp_pipelining:
                ext.append("PIPELINING")
            if p.smtp_auth:
                ext.append("AUTH " + " ".join(p.smtp_auth))
            lines = ["faultpeer greets %s" % (arg or "?")] + ext
            return "".join("250%s%s\r\n" % ("-" if i < len(lines) - 1 else " ",
                                            x) for i, x in enumerate(lines)), \
                False
        if cmd == "HELO":
            return "250 faultpeer\r\n", False
        if cmd == "MAIL":
            if self.mail_from is not None:
                return "503 5.5.1 nested MAIL\r\n", False
            a = arg.split(":", 1)
            if len(a) != 2 or a[0].strip().upper() != "FROM":
                return "501 5.5.4 syntax: MAIL FROM:<address>\r\n", False
            self.mail_from = a[1].strip().split()[0] if a[1].strip() else "<>"
            self.rcpts = []
            return "250 2.1.0 sender ok\r\n", False
        if cmd == "RCPT":
            if self.mail_from is None:
                return "503 5.5.1 need MAIL first\r\n", False
            a = arg.split(":", 1)
            if len(a) != 2 or a[0].strip().upper() != "TO":
                return "501 5.5.4 syntax: RCPT TO:<address>\r\n", False
            self.rcpts.append(a[1].strip().split()[0] if a[1].strip() else "")
            return "250 2.1.5 recipient ok\r\n", False
        if cmd == "RSET":
            self.mail_from, self.rcpts = None, []
            return "250 2.0.0 reset\r\n", False
        if cmd == "NOOP":
            return "250 2.0.0 ok\r\n", False
        if cmd == "QUIT":
            return "221 2.0.0 bye\r\n", True
        return "500 5.5.2 command not recognised\r\n", False

    def data(self, f):
        """DATA (the fault `f` for the DATA step, if any, not yet applied
        beyond drop/stall/error).  Returns True when the session is over."""
        if self.mail_from is None or not self.rcpts:
            self.reply("503 5.5.1 need MAIL and RCPT first\r\n")
            return False
        if f and f.action in ("dropafter", "stallafter"):
            self.ev("FAULT", "DATA accepted, 354 not sent")
            self.drop() if f.action == "dropafter" else self.stall()
        self.reply("354 3.0.0 end data with <CR><LF>.<CR><LF>\r\n")
        mid = f if f and f.action in ("middrop", "midstall") else None
        k = (1000 if mid.arg is None else mid.arg) if mid else None
        got = 0
        lines = []
        while True:
            if mid and got >= k:
                self.ev("FAULT", "%s after %d message bytes" % (mid.action,
                                                                got))
                if mid.action == "middrop":
                    self.drop()
                self.stall()
            i = self.buf.find(b"\n")
            if i < 0:
                if mid and got + len(self.buf) >= k:
                    got += len(self.buf)   # partial line counts too
                    self.buf = b""
                    continue
                if self.eof or not self.fill():
                    raise Dropped("client closed during DATA")
                continue
            ln, self.buf = self.buf[:i + 1], self.buf[i + 1:]
            got += len(ln)
            if ln in (b".\r\n", b".\n"):
                break
            if ln.startswith(b"."):
                ln = ln[1:]
            if ln.endswith(b"\r\n"):
                pass
            elif ln.endswith(b"\n"):
                ln = ln[:-1] + b"\r\n"
            lines.append(ln)
        self.ev("C:", ". (end of data, %d bytes)" % got)
        data = b"".join(lines)
        p = self.peer
        f = p.match(self.kind, "EOD")
        if f:
            self.fault(f, "end of data")
            if f.action in ("err", "4xx", "5xx", "reply"):
                n = len(self.rcpts) if self.kind == "lmtp" else 1
                if f.action == "reply":
                    self.reply(self.fault_text(f, "EOD", "end of data"))
                else:
                    self.reply("".join(self.fault_text(f, "EOD",
                                                       "end of data")
                                       for _ in range(n)))
                self.mail_from, self.rcpts = None, []
                return False
        seq = p.accept(self.conn, self.kind, data, self.mail_from, self.rcpts)
        if f and f.action in ("dropafter", "stallafter"):
            self.ev("FAULT", "message %d accepted, reply not sent" % seq)
            self.drop() if f.action == "dropafter" else self.stall()
        if self.kind == "lmtp":
            resp = "".join("250 2.0.0 %s delivered as %d\r\n" % (r, seq)
                           for r in self.rcpts)
        else:
            resp = "250 2.0.0 ok: queued as %d\r\n" % seq
        self.mail_from, self.rcpts = None, []
        self.reply(resp)
        return False


# ------------------------------------------------------------ main

def build_cfg(a):
    cfg = {}
    if a.scenario:
        with open(a.scenario) as f:
            cfg.update(json.load(f))
    if a.messages is not None:
        cfg["messages"] = a.messages
    if a.msg:
        cfg["message_files"] = a.msg
    if a.sender:
        cfg["sender"] = a.sender
    if a.big:
        big = dict(cfg.get("big") or {})
        for b in a.big:
            k, v = b.split(":", 1)
            big[k] = int(v)
        cfg["big"] = big
    for k in ("pipelining", "uidl", "top", "smtp_pipelining"):
        v = getattr(a, k)
        if v is not None:
            cfg[k] = v
    if a.user is not None:
        cfg["user"] = a.user
    if a.password is not None:
        cfg["password"] = a.password
    if a.fault:
        cfg["faults"] = list(cfg.get("faults") or []) + a.fault
    if a.max_stall is not None:
        cfg["max_stall"] = a.max_stall
    if a.control:
        cfg["control"] = a.control
    for f in cfg.get("faults") or []:
        Fault.parse(f)   # validate early, before the ports file appears
    return cfg


def cmd_serve(a):
    cfg = build_cfg(a)
    peer = Peer(cfg, a.dir)
    peer.event("-", "START", "pid=%d faults=[%s] pipelining=%s uidl=%s top=%s"
               " messages=%d" % (os.getpid(), " ".join(
                   f.describe() for f in peer.faults), peer.pipelining,
                   peer.uidl, peer.top, len(peer.originals)))
    ports = {"pop3": a.pop3_port or 0, "smtp": a.smtp_port or 0,
             "lmtp": a.lmtp_port or 0, "imap": a.imap_port or 0}
    peer.reload_control()
    listeners = peer.serve(ports)

    def stop(*_):
        peer.stop.set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)
    deadline = time.monotonic() + a.lifetime
    ppid = a.parent_pid
    while not peer.stop.wait(0.2):
        if time.monotonic() > deadline:
            peer.event("-", "STOP", "lifetime %gs over" % a.lifetime)
            break
        if ppid and not os.path.exists("/proc/%d" % ppid):
            peer.event("-", "STOP", "parent %d gone" % ppid)
            break
    peer.stop.set()
    for _, s in listeners:
        try:
            s.close()
        except OSError:
            pass
    peer.event("-", "STOP", "stopped")
    peer.write_state()
    return 0


# ------------------------------------------------------------ IMAP
# (added for IMAP fault scenarios; tests/faults.sh, variants imap*)
# A small IMAP4rev1 server over the same committed mailbox: LOGIN,
# CAPABILITY, SELECT/EXAMINE, UID FETCH 1:* (UID RFC822.SIZE FLAGS),
# UID FETCH n BODY.PEEK[], UID STORE n +FLAGS[.SILENT] (...), EXPUNGE,
# UID EXPUNGE set, NOOP, LOGOUT.  UIDs are the messages' original
# positions (m3 has UID 3), UIDVALIDITY is 1; flags persist across
# connections; STORE \Deleted logs MARK, an expunge logs COMMIT.  Fault
# steps: GREETING CAPABILITY LOGIN SELECT LIST (the UID FETCH 1:*) FETCH
# (a body; @N = UID N) STORE (@N = UID N) EXPUNGE LOGOUT NOOP; actions as
# for POP3, err = tagged NO, plus bad (tagged BAD) and bye (untagged BYE,
# then the connection is closed).

def imap_words(s):
    """Split an IMAP command's arguments: atoms, "quoted" strings and
    (parenthesised) groups stay whole."""
    out, i, n = [], 0, len(s)
    while i < n:
        if s[i] == " ":
            i += 1
            continue
        if s[i] == '"':
            j, w = i + 1, ""
            while j < n and s[j] != '"':
                if s[j] == "\\" and j + 1 < n:
                    j += 1
                w += s[j]
                j += 1
            out.append(w)
            i = j + 1
        elif s[i] == "(":
            j = s.find(")", i)
            j = n if j < 0 else j + 1
            out.append(s[i:j])
            i = j
        else:
            j = s.find(" ", i)
            j = n if j < 0 else j
            out.append(s[i:j])
            i = j
    return out


def imap_set(spec, top):
    """The UIDs a sequence set names ("1:3,7", "*" = top)."""
    uids = set()
    for part in spec.split(","):
        a, _, b = part.partition(":")
        try:
            lo = top if a == "*" else int(a)
            hi = lo if not b else (top if b == "*" else int(b))
        except ValueError:
            continue
        lo, hi = min(lo, hi), max(lo, hi)
        uids.update(range(lo, hi + 1))
    return uids


class ImapSession(Session):
    CAPS = "IMAP4rev1 UIDPLUS LITERAL+"

    def session(self):
        self.authed = False
        self.snapshot = None
        f = self.peer.match("imap", "GREETING")
        if f:
            self.fault(f, "greeting")
            if f.action in ("err", "bad", "bye", "4xx", "5xx"):
                self.reply("* BYE faultpeer: fault injected at greeting\r\n")
                self.drop()
            if f.action in ("dropafter", "stallafter"):
                self.ev("FAULT", "greeting not sent")
                self.drop() if f.action == "dropafter" else self.stall()
        self.reply("* OK [CAPABILITY %s] faultpeer IMAP ready\r\n" % self.CAPS)
        while True:
            ln = self.readline()
            if ln is None:
                self.how = "client closed"
                return
            piped = self.more_pending()
            self.ev("C+" if piped else "C:", self.safe_imap(ln))
            if self.command(ln):
                self.how = "logout"
                return

    @staticmethod
    def safe_imap(ln):
        s = ln.decode("latin-1")
        w = s.split(" ", 3)
        if len(w) >= 3 and w[1].upper() == "LOGIN":
            return "%s LOGIN %s *" % (w[0], w[2])
        return s

    def uid_of(self, m):
        return self.peer.originals.index(m) + 1

    def step_of(self, cmd, args):
        """The fault step and message number (UID) of a command."""
        if cmd in ("CAPABILITY", "LOGIN", "LOGOUT", "NOOP"):
            return cmd, None
        if cmd in ("SELECT", "EXAMINE"):
            return "SELECT", None
        if cmd in ("EXPUNGE", "UID EXPUNGE"):
            return "EXPUNGE", None
        if cmd in ("UID FETCH", "UID STORE") and args:
            if cmd == "UID FETCH" and ":" in args[0]:
                return "LIST", None
            try:
                n = int(args[0])
            except ValueError:
                # a set (batched flags): @N fires when it names UID N
                n = frozenset(imap_set(args[0], 0)) or None
            return ("FETCH" if cmd == "UID FETCH" else "STORE"), n
        return None, None

    def command(self, ln):
        """Handle one tagged command.  True when the session is over."""
        s = ln.decode("latin-1")
        tag, _, rest = s.partition(" ")
        cmd, _, rest = rest.partition(" ")
        cmd = cmd.upper()
        if cmd == "UID":
            sub, _, rest = rest.partition(" ")
            cmd = "UID " + sub.upper()
        args = imap_words(rest)
        step, num = self.step_of(cmd, args)
        f = self.peer.match("imap", step, num) if step else None
        if f:
            self.fault(f, s if cmd != "LOGIN" else "LOGIN")
            if f.action in ("err", "4xx", "5xx"):
                self.reply("%s NO faultpeer: fault injected at %s\r\n" %
                           (tag, cmd))
                return False
            if f.action == "bad":
                self.reply("%s BAD faultpeer: fault injected at %s\r\n" %
                           (tag, cmd))
                return False
            if f.action == "bye":
                self.reply("* BYE faultpeer: fault injected at %s\r\n" % cmd)
                self.drop()
        resp, done = self.handle(tag, cmd, args)
        if f and f.action in ("dropafter", "stallafter"):
            self.ev("FAULT", "%s done, reply not sent" % cmd)
            if f.action == "dropafter":
                self.drop()
            self.stall()
        if f and f.action in ("middrop", "midstall"):
            k = 1000 if f.arg is None else f.arg
            head, sep, payload = resp.partition(b"}\r\n")
            if not sep:
                self.reply(resp)
                return done
            self.ev("S:", head.decode("latin-1") + "}")
            self.send(head + sep + payload[:k])
            self.ev("FAULT", "%s after %d of %d literal bytes" % (
                f.action, min(k, len(payload)), len(payload)))
            if f.action == "middrop":
                self.drop()
            self.stall()
        self.reply(resp)
        return done

    def flags_of(self, m):
        return self.peer.imap_flags.setdefault(m.id, set())

    def handle(self, tag, cmd, args):
        p = self.peer
        ok = ("%s OK %s completed\r\n" % (tag, cmd)).encode()
        if cmd == "LOGOUT":
            return b"* BYE faultpeer logging out\r\n" + ok, True
        if cmd == "CAPABILITY":
            return ("* CAPABILITY %s\r\n" % self.CAPS).encode() + ok, False
        if cmd == "NOOP":
            return ok, False
        if not self.authed:
            if cmd == "LOGIN":
                if len(args) < 2 or args[0] != p.user or \
                        args[1] != p.password:
                    return ("%s NO [AUTHENTICATIONFAILED] invalid user name "
                            "or password\r\n" % tag).encode(), False
                self.authed = True
                return ("%s OK [CAPABILITY %s] logged in\r\n" %
                        (tag, self.CAPS)).encode(), False
            return ("%s NO not authenticated\r\n" % tag).encode(), False
        if cmd in ("SELECT", "EXAMINE"):
            with p.lock:
                self.snapshot = list(p.mailbox)
            top = len(p.originals) + 1
            return ("* %d EXISTS\r\n* OK [UIDVALIDITY 1] UIDs valid\r\n"
                    "* OK [UIDNEXT %d] next\r\n%s OK [READ-%s] done\r\n" % (
                        len(self.snapshot), top, tag,
                        "ONLY" if cmd == "EXAMINE" else "WRITE")).encode(), \
                False
        if self.snapshot is None:
            return ("%s BAD no mailbox selected\r\n" % tag).encode(), False
        seq = {self.uid_of(m): (i, m) for i, m in
               enumerate(self.snapshot, 1)}
        top = max(seq) if seq else 0
        if cmd == "UID FETCH" and args:
            out = []
            for u in sorted(imap_set(args[0], top)):
                if u not in seq:
                    continue
                i, m = seq[u]
                items = args[1].upper() if len(args) > 1 else ""
                if "BODY" in items:
                    out.append(("* %d FETCH (UID %d BODY[] {%d}\r\n" % (
                        i, u, m.size)).encode() + m.data + b")\r\n")
                else:
                    out.append(("* %d FETCH (UID %d RFC822.SIZE %d FLAGS (%s))"
                                "\r\n" % (i, u, m.size, " ".join(
                                    sorted(self.flags_of(m))))).encode())
            return b"".join(out) + ok, False
        if cmd == "UID STORE" and len(args) >= 3:
            for u in sorted(imap_set(args[0], top)):
                if u not in seq:
                    continue
                _, m = seq[u]
                fl = self.flags_of(m)
                new = set(args[2].strip("()").split())
                if args[1].upper().startswith("+"):
                    if "\\Deleted" in new and "\\Deleted" not in fl:
                        self.ev("MARK", "%s %s" % (m.id, m.uid))
                    fl |= new
                elif args[1].upper().startswith("-"):
                    fl -= new
            return ok, False
        if cmd in ("EXPUNGE", "UID EXPUNGE"):
            which = imap_set(args[0], top) if cmd == "UID EXPUNGE" and \
                args else set(seq)
            gone = [(i, m) for u, (i, m) in sorted(seq.items())
                    if u in which and "\\Deleted" in self.flags_of(m)]
            if gone:
                p.commit(self.conn, [m for _, m in gone])
            ids = {m.id for _, m in gone}
            self.snapshot = [m for m in self.snapshot if m.id not in ids]
            return b"".join(("* %d EXPUNGE\r\n" % i).encode()
                            for i, _ in reversed(gone)) + ok, False
        return ("%s BAD unknown command\r\n" % tag).encode(), False


# ------------------------------------------------------------ report

def report(a):
    sys.stdout.write("".join(facts(a.dir)))
    return 0


def facts(d):
    """Facts about a state directory, as KEY=VALUE lines (lists are
    space-separated) for a test script to judge:
      originals   ids served initially
      remaining   ids on the server now (committed mailbox)
      accepted    ids the sink accepted, in order, repeats included
      naccepted   how many accepted messages
      lost        ids neither on the server nor ever accepted intact (I1)
      deleted_unaccepted  ids gone from the server, never accepted intact
                          (I2; the same set as lost)
      early_delete        ids whose QUIT commit came before their first
                          intact acceptance by the sink (I2, event order)
      dups        ID:COUNT for ids accepted more than once (I3)
      inexact     SEQ:ID accepted messages that are not the original's
                  bytes with only header lines prepended (I4)
      stranded    ids accepted intact but still on the server
      undelivered ids never accepted intact
      pipelined_pop3 / pipelined_sink  commands that arrived before the
                  reply to an earlier one was sent (C+ events)
      faults      how many FAULT firings (first firing per fault line)
      fault_where the first FAULT event's text
      rollbacks   sessions that ended without QUIT and undid DELE marks
      peer_errors the first sessions that died of an internal error of this
                  peer (a harness bug; empty when healthy)
      pop3_conns / smtp_conns / lmtp_conns  connections so far
      open        connections open now
    The server also writes them to DIR/report.txt whenever its last open
    connection ends (before "open 0" appears in DIR/status)."""

    def rd(name):
        try:
            with open(os.path.join(d, name)) as f:
                return [ln.split() for ln in f if ln.strip()]
        except OSError:
            return []
    orig = [x[0] for x in rd("originals.txt")]
    rem = [x[0] for x in rd("mailbox.txt")]
    acc = rd("accepted.txt")
    acc_ids = [x[1] for x in acc]
    first_accept, commits, fault_lines, marks = {}, [], [], []
    pip = {"pop3": 0, "sink": 0, "imap": 0}
    rollbacks = 0
    errors = []
    try:
        with open(os.path.join(d, "events.log"), errors="replace") as f:
            for ln in f:
                p = ln.rstrip("\n").split(" ", 4)
                if len(p) < 4:
                    continue
                seq, conn, kind = int(p[0]), p[2], p[3]
                text = p[4] if len(p) > 4 else ""
                if kind == "ACCEPT" and " exact=1 " in text + " ":
                    mid = text.split()[1]
                    first_accept.setdefault(mid, seq)
                elif kind == "COMMIT":
                    commits.append((seq, text.split()[0]))
                elif kind == "MARK":
                    marks.append((seq, text.split()[0]))
                elif kind == "C+":
                    pip["pop3" if conn.startswith("pop3") else "imap"
                        if conn.startswith("imap") else "sink"] += 1
                elif kind == "FAULT" and " at " in text:
                    fault_lines.append(text)
                elif kind == "ROLLBACK":
                    rollbacks += 1
                elif kind == "CLOSE" and text.startswith("error "):
                    errors.append("%s %s" % (conn, text))
    except OSError:
        pass
    status = dict(x[:2] for x in rd("status") if len(x) >= 2)
    exact = {x[1] for x in acc if x[2] == "1"}
    count = {}
    for i in acc_ids:
        count[i] = count.get(i, 0) + 1
    out = {
        "originals": orig,
        "remaining": rem,
        "accepted": acc_ids,
        "naccepted": [str(len(acc_ids))],
        "lost": [i for i in orig if i not in rem and i not in exact],
        "deleted_unaccepted": [i for i in orig if i not in rem and
                               i not in exact],
        "early_delete": sorted({i for s, i in commits
                                if first_accept.get(i, 1 << 62) > s}),
        "dups": ["%s:%d" % (i, c) for i, c in sorted(count.items())
                 if c > 1],
        "inexact": ["%s:%s" % (x[0], x[1]) for x in acc
                    if x[2] != "1" or x[1] == "?"],
        "stranded": [i for i in rem if i in exact],
        "undelivered": [i for i in orig if i not in exact],
        "pipelined_pop3": [str(pip["pop3"])],
        "pipelined_sink": [str(pip["sink"])],
        # (added) IMAP: commands pipelined; ids flagged \Deleted (or
        # DELEd) before their first intact acceptance, in event order
        "pipelined_imap": [str(pip["imap"])],
        "early_mark": sorted({i for s, i in marks
                              if first_accept.get(i, 1 << 62) > s}),
        "faults": [str(len(fault_lines))],
        "fault_where": fault_lines[:1],
        "rollbacks": [str(rollbacks)],
        "peer_errors": errors[:3],
        "pop3_conns": [status.get("pop3", "0")],
        "smtp_conns": [status.get("smtp", "0")],
        "lmtp_conns": [status.get("lmtp", "0")],
        "open": [status.get("open", "?")],
    }
    return ["%s=%s\n" % (k, " ".join(v).replace("\n", " "))
            for k, v in out.items()]


# ------------------------------------------------------------ selftest

def selftest(a):
    """Drive the peer with raw sockets: pipelining, stuffing, rollback,
    commit, UIDL stability, sink un-stuffing, a few faults."""
    import shutil
    import tempfile
    d = a.dir or tempfile.mkdtemp(prefix="faultpeer-selftest.")
    cfg = {"messages": 3, "faults": ["pop3:RETR@2=middrop:50",
                                     "smtp:MAIL@2=4xx"]}
    peer = Peer(cfg, d)
    peer.serve({})
    fails = []

    def check(cond, what):
        print("%s - %s" % ("ok" if cond else "FAIL", what))
        if not cond:
            fails.append(what)

    def conn(kind):
        s = socket.create_connection(("127.0.0.1", peer.ports[kind]), 5)
        s.settimeout(5)
        return s, s.makefile("rb")

    def close(s, fp):
        fp.close()
        s.close()

    def line(fp):
        return fp.readline().decode("latin-1").rstrip("\r\n")

    def multi(fp):
        out = []
        while True:
            ln = fp.readline()
            if ln in (b".\r\n", b""):
                return out
            out.append(ln)

    def wait_closed(n):
        t = time.monotonic() + 5
        while time.monotonic() < t:
            if peer.open == 0 and sum(peer.conns.values()) >= n:
                return True
            time.sleep(0.01)
        return False

    # 1: everything pipelined in one write, then a drop (no QUIT): rollback
    s, fp = conn("pop3")
    check(line(fp).startswith("+OK"), "greeting")
    s.sendall(b"CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nUIDL\r\n"
              b"RETR 1\r\nDELE 1\r\nLIST\r\nRETR 1\r\n")
    caps = [x.strip() for x in multi(fp)[1:]] if line(fp).startswith("+OK") \
        else []
    check(b"PIPELINING" in caps and b"UIDL" in caps and b"STLS" not in caps,
          "CAPA lists PIPELINING UIDL, no STLS")
    check(line(fp).startswith("+OK") and line(fp).startswith("+OK"),
          "USER/PASS accepted (pipelined)")
    st = line(fp).split()
    check(st[:2] == ["+OK", "3"], "STAT counts 3")
    check(line(fp).startswith("+OK"), "UIDL +OK")
    uidl1 = multi(fp)
    check(len(uidl1) == 3, "UIDL lists 3")
    check(line(fp).startswith("+OK"), "RETR 1 +OK")
    body = b"".join(multi(fp))
    unstuffed = b"".join(x[1:] if x.startswith(b".") else x
                         for x in body.splitlines(True))
    check(unstuffed == peer.originals[0].data, "RETR 1 byte-stuffed correctly")
    check(b"\r\n..\r\n" in body and b"\r\n...\r\n" in body,
          "stuffed dots present on the wire")
    check(line(fp).startswith("+OK"), "DELE 1 +OK")
    check(line(fp).startswith("+OK") and len(multi(fp)) == 2,
          "LIST omits the deleted message")
    check(line(fp).startswith("-ERR"), "RETR of a deleted message -ERR")
    close(s, fp)
    wait_closed(1)
    ev = open(os.path.join(d, "events.log")).read()
    check(" C+ " in ev, "pipelined commands detected (C+)")
    check(len(peer.mailbox) == 3 and "ROLLBACK" in ev,
          "drop without QUIT rolled back the DELE")
    # 2: mid-message drop at RETR 2
    s, fp = conn("pop3")
    line(fp)
    s.sendall(b"USER alice\r\nPASS secret\r\nUIDL\r\nDELE 1\r\nRETR 2\r\n"
              b"DELE 2\r\nQUIT\r\n")
    line(fp), line(fp), line(fp)
    uidl2 = multi(fp)
    check(uidl2 == uidl1, "UIDs stable across sessions")
    check(line(fp).startswith("+OK"), "DELE 1 +OK (pipelined)")
    check(line(fp).startswith("+OK"), "RETR 2 +OK before the mid drop")
    rest = fp.read()
    check(len(rest) == 50, "mid-message drop after 50 bytes (got %d)" %
          len(rest))
    close(s, fp)
    wait_closed(2)
    ev = open(os.path.join(d, "events.log")).read()
    check("PENDING DELE 2" in ev and "PENDING QUIT" in ev and
          len(peer.mailbox) == 3,
          "drop with DELE/QUIT still pipelined: logged PENDING, no commit")
    # 3: commit on QUIT
    s, fp = conn("pop3")
    line(fp)
    s.sendall(b"USER alice\r\nPASS secret\r\nDELE 2\r\nQUIT\r\n")
    r = [line(fp) for _ in range(4)]
    check(all(x.startswith("+OK") for x in r), "DELE+QUIT +OK")
    close(s, fp)
    wait_closed(3)
    check([m.id for m in peer.mailbox] == ["m1", "m3"],
          "QUIT committed the deletion")
    mb = open(os.path.join(d, "mailbox.txt")).read().split()
    check(mb[0::3] == ["m1", "m3"], "mailbox.txt written")
    # 4: wrong password, lock
    s, fp = conn("pop3")
    line(fp)
    s.sendall(b"USER alice\r\nPASS wrong\r\n")
    line(fp)
    check(line(fp).startswith("-ERR"), "wrong password -ERR")
    close(s, fp)
    # 5: sink: un-stuffing, 4xx fault on the 2nd MAIL
    s, fp = conn("smtp")
    check(line(fp).startswith("220"), "SMTP greeting")
    s.sendall(b"EHLO t\r\n")
    while True:
        x = line(fp)
        if x[3:4] != "-":
            break
    msg = peer.originals[0].data
    s.sendall(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n")
    check(line(fp).startswith("250") and line(fp).startswith("250") and
          line(fp).startswith("354"), "MAIL RCPT DATA")
    s.sendall(b"Received: from x\r\n" + dot_stuff(msg))
    check(line(fp).startswith("250"), "end of data 250")
    s.sendall(b"MAIL FROM:<a@b>\r\n")
    check(line(fp).startswith("451"), "fault: 2nd MAIL answered 451")
    s.sendall(b"QUIT\r\n")
    check(line(fp).startswith("221"), "QUIT 221")
    close(s, fp)
    wait_closed(5)
    acc = open(os.path.join(d, "accepted.txt")).read().split()
    check(acc[:3] == ["1", "m1", "1"], "sink stored m1 exactly (%s)" % acc[:3])
    with open(acc[4], "rb") as f:
        check(f.read() == b"Received: from x\r\n" + msg, "sink file bytes")
    # 5b: a truncated copy is identified but flagged inexact
    s, fp = conn("smtp")
    line(fp)
    s.sendall(b"HELO t\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n")
    for _ in range(4):
        line(fp)
    cut = peer.originals[1].data
    cut = cut[:cut.rfind(b"\r\n", 0, len(cut) - 2) + 2]
    s.sendall(dot_stuff(cut) + b"QUIT\r\n")
    check(line(fp).startswith("250") and line(fp).startswith("221"),
          "truncated message accepted")
    close(s, fp)
    wait_closed(6)
    acc = open(os.path.join(d, "accepted.txt")).read().splitlines()
    check(acc[-1].split()[1:3] == ["m2", "0"],
          "truncated copy of m2 flagged inexact (%s)" % acc[-1])
    rep = dict(x.rstrip("\n").split("=", 1) for x in facts(d))
    check(rep["inexact"] == "2:m2" and rep["undelivered"] == "m2 m3" and
          rep["dups"] == "" and rep["remaining"] == "m1 m3" and
          rep["lost"] == "m2" and rep["deleted_unaccepted"] == "m2" and
          rep["early_delete"] == "m2" and rep["stranded"] == "m1",
          "report facts (%s)" % rep)
    # 6: LMTP: one reply per recipient
    s, fp = conn("lmtp")
    line(fp)
    s.sendall(b"LHLO t\r\n")
    while line(fp)[3:4] == "-":
        pass
    s.sendall(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n")
    for _ in range(4):
        line(fp)
    s.sendall(dot_stuff(peer.originals[2].data))
    check(line(fp).startswith("250") and line(fp).startswith("250"),
          "LMTP: two 250 after the dot")
    close(s, fp)
    wait_closed(7)
    peer.stop.set()
    print("selftest: %s (%s)" % ("FAILED: " + "; ".join(fails) if fails
                                 else "passed", d))
    if not fails and not a.dir:
        shutil.rmtree(d, ignore_errors=True)
    return 1 if fails else 0


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="fault-injecting POP3 server + SMTP/LMTP sink "
        "(see the module docstring)")
    sub = ap.add_subparsers(dest="cmd")
    sp = sub.add_parser("serve", help="serve until SIGTERM")
    sp.add_argument("--dir", required=True, help="state/output directory")
    sp.add_argument("--scenario", help="JSON scenario file")
    sp.add_argument("--messages", type=int, help="generate N messages")
    sp.add_argument("--msg", action="append", help="message file (repeat)")
    sp.add_argument("--big", action="append", metavar="N:BYTES",
                    help="make generated message N about BYTES long")
    sp.add_argument("--sender", help="From: address of generated messages"
                    " (%%d = message number; default sender%%d@example.org)")
    for k in ("pipelining", "uidl", "top", "smtp-pipelining"):
        dest = k.replace("-", "_")
        sp.add_argument("--" + k, dest=dest, action="store_true",
                        default=None)
        sp.add_argument("--no-" + k, dest=dest, action="store_false")
    sp.add_argument("--user")
    sp.add_argument("--password")
    sp.add_argument("--fault", action="append",
                    help="SIDE:STEP[@N]=ACTION[:ARG] (repeat)")
    sp.add_argument("--pop3-port", type=int)
    sp.add_argument("--smtp-port", type=int)
    sp.add_argument("--lmtp-port", type=int)
    sp.add_argument("--imap-port", type=int)
    sp.add_argument("--control", help="control file (default DIR/control.json)")
    sp.add_argument("--max-stall", type=float, help="longest stall, s (120)")
    sp.add_argument("--lifetime", type=float, default=900,
                    help="exit after this many seconds (900)")
    sp.add_argument("--parent-pid", type=int,
                    help="exit when this process is gone")
    rp = sub.add_parser("report", help="facts about a state directory")
    rp.add_argument("--dir", required=True)
    st = sub.add_parser("selftest", help="check the peer itself")
    st.add_argument("--dir")
    a = ap.parse_args(argv)
    if a.cmd == "serve":
        try:
            return cmd_serve(a)
        except ValueError as e:
            print("faultpeer: %s" % e, file=sys.stderr)
            return 2
    if a.cmd == "report":
        return report(a)
    if a.cmd == "selftest":
        return selftest(a)
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
