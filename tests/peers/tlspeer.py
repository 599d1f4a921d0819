#!/usr/bin/env python3
"""tlspeer.py -- a scripted, TLS-capable POP3/IMAP peer for the tests.

One process serves ONE client connection (or up to --conns N, one after
the other, each with a fresh mailbox) on 127.0.0.1 (port 0: the kernel
picks a free one, written to PORTFILE atomically once the socket listens)
as a POP3 (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH RFC 5034, APOP) or
IMAP4rev1 (RFC 3501: STARTTLS, LOGIN, AUTHENTICATE, SELECT/EXAMINE,
SEARCH, [UID] FETCH/STORE/EXPUNGE, CLOSE) server with a tiny two-message
mailbox, then exits; also when --parent-pid is gone or after --timeout
seconds.  Python 3 stdlib only (socket, ssl).  Test-only: no real
mailbox semantics beyond what fetchmail (ours and 6.4.37) uses.

    tlspeer.py --proto pop3|imap --scenario NAME --port-file F --log F \
        --cert C.pem --key C.key [--user U] [--password P] [--conns N]
        [--parent-pid PID] [--timeout S] [--greeting-caps] [--stall S]

Scenarios (what happens around STLS/STARTTLS):
  ok              capabilities with STLS/STARTTLS, the same after TLS
  caps-change     before TLS: POP3 "SASL PLAIN", "USER", "STLS" / IMAP
                  "AUTH=PLAIN STARTTLS LOGINDISABLED"; after TLS: POP3 "SASL
                  CRAM-MD5" (no USER) / IMAP "AUTH=CRAM-MD5" only
  inject          the STLS/STARTTLS OK and, in the SAME write, plaintext
                  lines: a fake CAPA list offering USER and SASL PLAIN and a
                  fake "+OK" / a fake "* CAPABILITY ... AUTH=PLAIN" with the
                  tagged OKs for the client's next two tags (the IMAP
                  STARTTLS OK itself also carries a [CAPABILITY ...
                  AUTH=PLAIN] code, which RFC 3501 says to forget).  The
                  real post-TLS capabilities offer only CRAM-MD5.
  refuse          STLS -> "-ERR", STARTTLS -> "NO"
  no-stls         STLS/STARTTLS not advertised; the command gets -ERR / BAD
  handshake-fail  the OK, then (after the client's first handshake bytes)
                  garbage instead of a TLS record, then close
  handshake-close the OK, then (after the client's first handshake bytes)
                  the connection is closed
  handshake-stall the OK, then no handshake answer at all: the peer waits
                  (up to --stall seconds) for the client to give up
  wrong-cert      like ok (the test passes a certificate for another host)
  drop            like caps-change, but the connection is dropped half-way
                  through the first message's text (RETR, TOP n>0; IMAP
                  FETCH of BODY[]/BODY[TEXT]/RFC822/RFC822.TEXT), in the
                  middle of a line, without a TLS close_notify
  drop-notify     the same, but cut at the end of a line and with a clean
                  TLS shutdown (close_notify) before the close
In every scenario the peer accepts USER/PASS, APOP, LOGIN,
AUTH/AUTHENTICATE PLAIN and CRAM-MD5 in plain text too (replying OK to the right password),
so that a client that leaks a credential does so visibly in the log
instead of stopping early.

Log (--log, line-buffered, one event a line):
  plain C: LINE     a line received before TLS (verbatim, passwords too:
  tls C: LINE       test data only) / after the TLS handshake
  plain S: LINE     a line sent (every line of every reply, message
  tls S: LINE       text included)
  EVENT TEXT        e.g. "listening 12345", "connect", "starttls-ok",
                    "inject 123 bytes", "tls-established TLSv1.3",
                    "tls-failed REASON", "auth ok mech=CRAM-MD5 user=U tls=1",
                    "auth fail mech=...", "dele 1", "commit deleted=1,2",
                    "rollback marked=1" (POP3 session ended without QUIT),
                    "store 1 +FLAGS \\Deleted", "expunge 1 uid=1",
                    "mailbox expunged=1,2" (IMAP, at LOGOUT/EOF),
                    "client-hello 311 bytes, ...", "client closed after
                    3.0 s", "drop RETR 1", "close_notify sent",
                    "dropped (why)", "end" (the session is over)
"""

import argparse
import base64
import hashlib
import hmac
import os
import re
import signal
import socket
import ssl
import sys
import time

MESSAGES = [
    (b"From: Sender One <one@example.net>\r\n"
     b"To: alice@example.org\r\n"
     b"Subject: tlspeer message 1\r\n"
     b"Date: Mon, 01 Jan 2024 12:00:00 +0000\r\n"
     b"Message-ID: <tlspeer-1@example.org>\r\n"
     b"\r\n"
     b"first body line\r\n"
     b"second body line of message one\r\n"
     b"third body line of message one, long enough to be cut in two\r\n"),
    (b"From: Sender Two <two@example.net>\r\n"
     b"To: alice@example.org\r\n"
     b"Subject: tlspeer message 2\r\n"
     b"Date: Mon, 01 Jan 2024 12:01:00 +0000\r\n"
     b"Message-ID: <tlspeer-2@example.org>\r\n"
     b"\r\n"
     b"the body of message two\r\n"),
]

SCENARIOS = ("ok", "caps-change", "inject", "refuse", "no-stls",
             "handshake-fail", "handshake-close", "handshake-stall",
             "wrong-cert", "drop", "drop-notify")


class Drop(Exception):
    """End the connection now, without a reply (a simulated crash)."""


class Peer:
    def __init__(self, opts, log):
        self.o = opts
        self.logf = log
        self.sock = None
        self.tls = False
        self.rbuf = b""
        self.authed = False
        self.user = None
        self.deleted = set()       # POP3 marks (1-based numbers)
        self.flags = [set() for _ in MESSAGES]   # IMAP flags per message
        self.live = list(range(len(MESSAGES)))  # IMAP: seq -> index
        self.dropped = False

    # ------------------------------------------------------------ io
    def log(self, s):
        self.logf.write(s + "\n")
        self.logf.flush()

    def ev(self, s):
        self.log("EVENT " + s)

    def mark(self):
        return "tls" if self.tls else "plain"

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        for ln in data.split(b"\r\n"):
            if ln:
                self.log("%s S: %s" % (self.mark(),
                                       ln.decode("latin-1")))
        self.sock.sendall(data)

    def line(self, s):
        self.send(s + "\r\n")

    def readline(self):
        """One CRLF- (or LF-) terminated line, None at EOF."""
        while b"\n" not in self.rbuf:
            try:
                d = self.sock.recv(4096)
            except (ssl.SSLError, OSError) as e:
                self.ev("read-error %s" % e)
                return None
            if not d:
                if self.rbuf:
                    self.ev("eof with %d bytes of partial line"
                            % len(self.rbuf))
                return None
            self.rbuf += d
        ln, self.rbuf = self.rbuf.split(b"\n", 1)
        ln = ln.rstrip(b"\r").decode("latin-1")
        self.log("%s C: %s" % (self.mark(), ln))
        return ln

    # ------------------------------------------------------------ TLS
    def start_tls(self, ok_reply, inject=b""):
        """Send OK_REPLY (+INJECT in the same write), then the handshake.
        True when TLS is up."""
        sc = self.o.scenario
        if self.rbuf:
            self.ev("client-sent-after-starttls %d bytes (discarded)"
                    % len(self.rbuf))
            self.rbuf = b""
        self.ev("starttls-ok")
        if inject:
            self.ev("inject %d bytes" % len(inject))
        self.send(ok_reply.encode("latin-1") + b"\r\n" + inject)
        if sc in ("handshake-fail", "handshake-close", "handshake-stall"):
            self.sock.settimeout(10)
            try:
                d = self.sock.recv(4096)
            except OSError as e:
                d = b""
                self.ev("read-error %s" % e)
            if sc == "handshake-fail":
                self.ev("client-hello %d bytes, answering garbage" % len(d))
                try:
                    self.sock.sendall(b"HTTP/1.0 400 this is no TLS record"
                                      b"\r\n\r\n" + b"\x00garbage" * 16)
                except OSError:
                    pass
            elif sc == "handshake-close":
                self.ev("client-hello %d bytes, closing" % len(d))
            else:
                self.ev("client-hello %d bytes, stalling" % len(d))
                t0 = time.time()
                self.sock.settimeout(self.o.stall)
                try:
                    while self.sock.recv(4096):
                        pass
                    self.ev("client closed after %.1f s" % (time.time() - t0))
                except socket.timeout:
                    self.ev("stall: client still there after %.1f s"
                            % (time.time() - t0))
                except OSError as e:
                    self.ev("client gone after %.1f s: %s"
                            % (time.time() - t0, e))
            raise Drop(sc)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.o.cert, self.o.key)
        try:
            self.sock = ctx.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.ev("tls-failed %s" % e)
            raise Drop("tls-failed")
        self.tls = True
        self.ev("tls-established %s" % self.sock.version())
        return True

    def drop_send(self, out, cut):
        """Send OUT[:CUT] and end the connection: "drop" cuts there
        (mid-line) and closes without a TLS close_notify; "drop-notify"
        moves the cut back to just after a CRLF and ends TLS cleanly
        (close_notify) before closing."""
        if self.o.scenario == "drop-notify":
            nl = out.rfind(b"\r\n", 0, cut)
            cut = nl + 2 if nl >= 0 else cut
        self.sock.sendall(out[:cut])
        if self.o.scenario == "drop-notify" and self.tls:
            try:
                self.sock.settimeout(5)
                self.sock = self.sock.unwrap()
                self.ev("close_notify sent")
            except (ssl.SSLError, OSError) as e:
                self.ev("close_notify failed: %s" % e)

    # ------------------------------------------------------------ auth
    def check_plain(self, mech, blob):
        try:
            parts = base64.b64decode(blob, validate=True).split(b"\0")
        except (ValueError, TypeError):
            parts = []
        if len(parts) != 3:
            self.ev("auth fail mech=%s malformed tls=%d" % (mech, self.tls))
            return False
        return self.check_pw(mech, parts[1].decode("latin-1"),
                             parts[2].decode("latin-1"))

    def check_pw(self, mech, user, pw):
        ok = user == self.o.user and pw == self.o.password
        self.ev("auth %s mech=%s user=%s tls=%d"
                % ("ok" if ok else "fail", mech, user, self.tls))
        if ok:
            self.authed = True
            self.user = user
        return ok

    def cram_challenge(self):
        self.cram = "<%d.%d@tlspeer.example>" % (os.getpid(),
                                                 int(time.time()))
        return base64.b64encode(self.cram.encode()).decode()

    def sasl_exchange(self, args):
        """AUTH/AUTHENTICATE args: PLAIN (initial response or after "+ ")
        or CRAM-MD5; True/False, "unsupported", or None when the client
        went away mid-exchange."""
        mech = args[0].upper()
        if mech == "PLAIN":
            blob = args[1] if len(args) > 1 else None
            if blob is None:
                self.line("+ ")
                blob = self.readline()
                if blob is None:
                    return None
            return self.check_plain("PLAIN", blob)
        if mech == "CRAM-MD5":
            self.line("+ " + self.cram_challenge())
            r = self.readline()
            return None if r is None else self.cram_check(r)
        return "unsupported"

    def cram_check(self, resp):
        try:
            d = base64.b64decode(resp, validate=True).decode("latin-1")
            user, digest = d.rsplit(" ", 1)
        except (ValueError, TypeError):
            self.ev("auth fail mech=CRAM-MD5 malformed tls=%d" % self.tls)
            return False
        want = hmac.new(self.o.password.encode(), self.cram.encode(),
                        hashlib.md5).hexdigest()
        ok = user == self.o.user and hmac.compare_digest(digest.lower(),
                                                         want)
        self.ev("auth %s mech=CRAM-MD5 user=%s tls=%d"
                % ("ok" if ok else "fail", user, self.tls))
        if ok:
            self.authed = True
            self.user = user
        return ok

    # ------------------------------------------------------------ POP3
    def pop3_caps(self):
        sc = self.o.scenario
        if not self.tls:
            if sc in ("caps-change", "inject", "drop", "drop-notify"):
                return ["STLS", "SASL PLAIN", "USER", "UIDL", "TOP"]
            if sc == "no-stls":
                return ["SASL PLAIN", "USER", "UIDL", "TOP"]
            return ["STLS", "SASL CRAM-MD5", "USER", "UIDL", "TOP"]
        if sc in ("caps-change", "inject", "drop", "drop-notify"):
            return ["SASL CRAM-MD5", "UIDL", "TOP"]
        return ["SASL CRAM-MD5", "USER", "UIDL", "TOP"]

    def pop3_live(self):
        return [i for i in range(1, len(MESSAGES) + 1)
                if i not in self.deleted]

    def pop3_msgnum(self, arg):
        try:
            n = int(arg)
        except ValueError:
            return None
        if 1 <= n <= len(MESSAGES) and n not in self.deleted:
            return n
        return None

    def pop3_send_text(self, data, what):
        out = b""
        for ln in data.split(b"\r\n")[:-1]:
            out += (b"." + ln if ln.startswith(b".") else ln) + b"\r\n"
        if self.o.scenario.startswith("drop") and not self.dropped:
            self.dropped = True
            self.ev("drop %s" % what)
            self.drop_send(out, len(out) // 2)
            raise Drop(what)
        self.send(out + b".\r\n")

    def pop3(self):
        sc = self.o.scenario
        ts = "<%d.%d@tlspeer.example>" % (os.getpid(), int(time.time()))
        self.line("+OK tlspeer POP3 ready " + ts)
        while True:
            ln = self.readline()
            if ln is None:
                break
            w = ln.split(" ")
            cmd, args = w[0].upper(), w[1:]
            if cmd == "CAPA":
                self.send("+OK Capability list follows\r\n" +
                          "".join(c + "\r\n" for c in self.pop3_caps()) +
                          ".\r\n")
            elif cmd == "STLS" and not self.tls and not self.authed:
                if sc == "refuse":
                    self.line("-ERR TLS refused by tlspeer")
                elif sc == "no-stls":
                    self.line("-ERR unknown command")
                else:
                    inj = b""
                    if sc == "inject":
                        inj = (b"+OK injected capability list\r\n"
                               b"USER\r\nSASL PLAIN\r\nUIDL\r\n.\r\n"
                               b"+OK injected reply\r\n")
                    self.start_tls("+OK Begin TLS negotiation", inj)
            elif cmd == "QUIT":
                if self.authed:
                    self.ev("commit deleted=%s" % ",".join(
                        str(i) for i in sorted(self.deleted)))
                self.line("+OK bye")
                return
            elif cmd == "APOP" and not self.authed and len(args) == 2:
                want = hashlib.md5((ts + self.o.password).encode()
                                   ).hexdigest()
                ok = args[0] == self.o.user and hmac.compare_digest(
                    args[1].lower(), want)
                self.ev("auth %s mech=APOP user=%s tls=%d"
                        % ("ok" if ok else "fail", args[0], self.tls))
                if ok:
                    self.authed = True
                    self.user = args[0]
                self.line("+OK logged in" if ok
                          else "-ERR [AUTH] authentication failed")
            elif cmd == "USER" and not self.authed and args:
                self.user = args[0]
                self.line("+OK send PASS")
            elif cmd == "PASS" and not self.authed:
                if self.check_pw("USER/PASS", self.user or "",
                                 ln[5:]):
                    self.line("+OK logged in")
                else:
                    self.line("-ERR [AUTH] authentication failed")
            elif cmd == "AUTH" and not self.authed and args:
                ok = self.sasl_exchange(args)
                if ok is None:
                    break
                if ok == "unsupported":
                    self.line("-ERR unsupported mechanism")
                    continue
                self.line("+OK logged in" if ok
                          else "-ERR [AUTH] authentication failed")
            elif not self.authed:
                self.line("-ERR not logged in")
            elif cmd == "STAT":
                live = self.pop3_live()
                self.line("+OK %d %d" % (len(live), sum(
                    len(MESSAGES[i - 1]) for i in live)))
            elif cmd in ("LIST", "UIDL"):
                def val(i):
                    return (str(len(MESSAGES[i - 1])) if cmd == "LIST"
                            else "tlspeer-uid-%d" % i)
                if args:
                    n = self.pop3_msgnum(args[0])
                    if n is None:
                        self.line("-ERR no such message")
                    else:
                        self.line("+OK %d %s" % (n, val(n)))
                else:
                    self.send("+OK\r\n" + "".join(
                        "%d %s\r\n" % (i, val(i)) for i in self.pop3_live())
                        + ".\r\n")
            elif cmd in ("RETR", "TOP") and args:
                n = self.pop3_msgnum(args[0])
                if n is None:
                    self.line("-ERR no such message")
                    continue
                m = MESSAGES[n - 1]
                if cmd == "TOP":
                    try:
                        k = int(args[1])
                    except (IndexError, ValueError):
                        self.line("-ERR syntax")
                        continue
                    h, b = m.split(b"\r\n\r\n", 1)
                    body = b"".join(l + b"\r\n" for l in
                                    b.split(b"\r\n")[:-1][:k])
                    self.line("+OK top follows")
                    if k > 0:
                        self.pop3_send_text(h + b"\r\n\r\n" + body,
                                            "TOP %d" % n)
                    else:
                        self.send(h + b"\r\n\r\n.\r\n")
                else:
                    self.line("+OK %d octets" % len(m))
                    self.pop3_send_text(m, "RETR %d" % n)
            elif cmd == "DELE" and args:
                n = self.pop3_msgnum(args[0])
                if n is None:
                    self.line("-ERR no such message")
                else:
                    self.deleted.add(n)
                    self.ev("dele %d" % n)
                    self.line("+OK marked")
            elif cmd == "NOOP":
                self.line("+OK")
            elif cmd == "RSET":
                self.deleted.clear()
                self.line("+OK")
            else:
                self.line("-ERR unknown command")
        if self.deleted:
            self.ev("rollback marked=%s" % ",".join(
                str(i) for i in sorted(self.deleted)))

    # ------------------------------------------------------------ IMAP
    def imap_caps(self):
        sc = self.o.scenario
        if not self.tls:
            if sc in ("caps-change", "inject", "drop", "drop-notify"):
                return "IMAP4rev1 AUTH=PLAIN STARTTLS LOGINDISABLED"
            if sc == "no-stls":
                return "IMAP4rev1 AUTH=PLAIN"
            return "IMAP4rev1 AUTH=CRAM-MD5 STARTTLS LOGINDISABLED"
        return "IMAP4rev1 AUTH=CRAM-MD5"

    @staticmethod
    def next_tag(tag):
        m = re.match(r"^(.*?)(\d+)$", tag)
        if not m:
            return tag + "1"
        d = m.group(2)
        return m.group(1) + str(int(d) + 1).zfill(len(d))

    def imap_set(self, spec, uid):
        """Indices (0-based into MESSAGES) of a sequence/UID set, in
        order.  UIDs are index + 1, never reused."""
        n = len(self.live)
        if uid:
            top = (self.live[-1] + 1) if self.live else 0
        else:
            top = n
        out = []
        for part in spec.split(","):
            if ":" in part:
                a, b = part.split(":", 1)
            else:
                a = b = part
            try:
                a = top if a == "*" else int(a)
                b = top if b == "*" else int(b)
            except ValueError:
                return None
            lo, hi = min(a, b), max(a, b)
            if uid:
                out += [i for i in self.live if lo <= i + 1 <= hi]
            else:
                out += [self.live[s - 1] for s in range(lo, hi + 1)
                        if 1 <= s <= n]
        return out

    def imap_items(self, s):
        s = s.strip()
        if s.startswith("(") and s.endswith(")"):
            s = s[1:-1]
        # items: words, BODY[...]<..> with brackets kept together
        return re.findall(r"[A-Za-z0-9.]+(?:\[[^\]]*\])?(?:<[0-9.]+>)?", s)

    def imap_fetch(self, tag, args, uid):
        if len(args) < 2:
            self.line("%s BAD syntax" % tag)
            return
        idx = self.imap_set(args[0], uid)
        if idx is None:
            self.line("%s BAD bad set" % tag)
            return
        items = self.imap_items(" ".join(args[1:]))
        up = [i.upper() for i in items]
        if uid and "UID" not in up:
            items.insert(0, "UID")
            up.insert(0, "UID")
        for i in idx:
            seq = self.live.index(i) + 1
            m = MESSAGES[i]
            hdr, body = m.split(b"\r\n\r\n", 1)
            hdr += b"\r\n\r\n"
            parts = []
            for it, u in zip(items, up):
                if u == "UID":
                    parts.append(b"UID %d" % (i + 1))
                elif u == "FLAGS":
                    parts.append(("FLAGS (%s)" % " ".join(
                        sorted(self.flags[i]))).encode())
                elif u == "RFC822.SIZE":
                    parts.append(b"RFC822.SIZE %d" % len(m))
                elif u == "INTERNALDATE":
                    parts.append(b'INTERNALDATE "01-Jan-2024 12:00:00 +0000"')
                elif u in ("ENVELOPE", "BODYSTRUCTURE", "BODY"):
                    parts.append(u.encode() + b" NIL")
                else:
                    mm = re.match(r"^(RFC822(?:\.HEADER|\.TEXT)?|"
                                  r"BODY(?:\.PEEK)?\[([^\]]*)\])"
                                  r"(?:<(\d+)(?:\.(\d+))?>)?$", u)
                    if not mm:
                        self.line("%s BAD unknown fetch item %s" % (tag, it))
                        return
                    name, sect = mm.group(1), mm.group(2)
                    if name.startswith("RFC822"):
                        sect = {"RFC822": "", "RFC822.HEADER": "HEADER",
                                "RFC822.TEXT": "TEXT"}[name]
                        rname = name
                        peek = name == "RFC822.HEADER"
                    else:
                        peek = ".PEEK" in name
                        rname = "BODY[%s]" % sect
                    data = {"": m, "HEADER": hdr, "TEXT": body}.get(sect)
                    if data is None:
                        self.line("%s BAD unsupported section" % tag)
                        return
                    if mm.group(3) is not None:
                        off = int(mm.group(3))
                        ln = (int(mm.group(4)) if mm.group(4) is not None
                              else len(data))
                        data = data[off:off + ln]
                        rname += "<%d>" % off
                    if not peek:
                        self.flags[i].add("\\Seen")
                    parts.append(b"%s {%d}\r\n" % (rname.encode(), len(data))
                                 + data)
                    if (self.o.scenario.startswith("drop")
                            and not self.dropped and sect in ("", "TEXT")):
                        self.dropped = True
                        self.ev("drop FETCH %d %s" % (seq, it))
                        out = (b"* %d FETCH (" % seq) + b" ".join(parts)
                        self.drop_send(out, len(out) - len(data) // 2)
                        raise Drop("fetch")
            self.send((b"* %d FETCH (" % seq) + b" ".join(parts) + b")\r\n")
        self.line("%s OK %sFETCH completed" % (tag, "UID " if uid else ""))

    def imap_store(self, tag, args, uid):
        if len(args) < 3:
            self.line("%s BAD syntax" % tag)
            return
        idx = self.imap_set(args[0], uid)
        if idx is None:
            self.line("%s BAD bad set" % tag)
            return
        op = args[1].upper()
        fl = set(" ".join(args[2:]).strip("()").split())
        self.ev("store %s %s %s" % (",".join(str(i + 1) for i in idx), op,
                                    " ".join(sorted(fl))))
        for i in idx:
            if op.startswith("+"):
                self.flags[i] |= fl
            elif op.startswith("-"):
                self.flags[i] -= fl
            else:
                self.flags[i] = set(fl)
            if not op.endswith(".SILENT"):
                self.line("* %d FETCH (FLAGS (%s))" % (
                    self.live.index(i) + 1, " ".join(sorted(self.flags[i]))))
        self.line("%s OK STORE completed" % tag)

    def imap_expunge(self, tag, uidset=None):
        sel = None if uidset is None else set(self.imap_set(uidset, True)
                                              or [])
        for seq in range(len(self.live), 0, -1):
            i = self.live[seq - 1]
            if "\\Deleted" in self.flags[i] and (sel is None or i in sel):
                self.ev("expunge %d uid=%d" % (seq, i + 1))
                del self.live[seq - 1]
                if tag is not None:
                    self.line("* %d EXPUNGE" % seq)
        if tag is not None:
            self.line("%s OK EXPUNGE completed" % tag)

    def imap(self):
        sc = self.o.scenario
        if self.o.greeting_caps:
            self.line("* OK [CAPABILITY %s] tlspeer IMAP4rev1 ready"
                      % self.imap_caps())
        else:
            self.line("* OK tlspeer IMAP4rev1 ready")
        selected = False
        while True:
            ln = self.readline()
            if ln is None:
                break
            w = ln.split(" ")
            if len(w) < 2:
                self.line("* BAD no command")
                continue
            tag, cmd, args = w[0], w[1].upper(), w[2:]
            uid = False
            if cmd == "UID" and args:
                uid, cmd, args = True, args[0].upper(), args[1:]
            if cmd == "CAPABILITY":
                self.line("* CAPABILITY " + self.imap_caps())
                self.line("%s OK CAPABILITY completed" % tag)
            elif cmd == "NOOP" or cmd == "CHECK":
                self.line("%s OK %s completed" % (tag, cmd))
            elif cmd == "LOGOUT":
                self.line("* BYE tlspeer logging out")
                self.line("%s OK LOGOUT completed" % tag)
                break
            elif cmd == "STARTTLS" and not self.tls and not self.authed:
                if sc == "refuse":
                    self.line("%s NO STARTTLS refused by tlspeer" % tag)
                elif sc == "no-stls":
                    self.line("%s BAD unknown command" % tag)
                else:
                    inj = b""
                    code = ""
                    if sc == "inject":
                        code = "[CAPABILITY IMAP4rev1 AUTH=PLAIN] "
                        t1 = self.next_tag(tag)
                        t2 = self.next_tag(t1)
                        inj = ("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"
                               "%s OK injected CAPABILITY completed\r\n"
                               "%s OK injected LOGIN completed\r\n"
                               % (t1, t2)).encode()
                    self.start_tls("%s OK %sBegin TLS negotiation now"
                                   % (tag, code), inj)
            elif cmd == "LOGIN" and not self.authed:
                m = re.match(r'^\S+ LOGIN ("(?:[^"\\]|\\.)*"|\S+) '
                             r'("(?:[^"\\]|\\.)*"|\S+)$', ln, re.I)
                if not m:
                    self.line("%s BAD syntax" % tag)
                    continue

                def unq(s):
                    if s.startswith('"'):
                        return re.sub(r'\\(.)', r'\1', s[1:-1])
                    return s
                if "LOGINDISABLED" in self.imap_caps().split():
                    self.ev("login while LOGINDISABLED tls=%d" % self.tls)
                ok = self.check_pw("LOGIN", unq(m.group(1)), unq(m.group(2)))
                self.line("%s %s" % (tag, "OK LOGIN completed" if ok
                                     else "NO [AUTHENTICATIONFAILED] no"))
            elif cmd == "AUTHENTICATE" and not self.authed and args:
                ok = self.sasl_exchange(args)
                if ok is None:
                    break
                if ok == "unsupported":
                    self.line("%s NO unsupported mechanism" % tag)
                    continue
                self.line("%s %s" % (tag, "OK AUTHENTICATE completed" if ok
                                     else "NO [AUTHENTICATIONFAILED] no"))
            elif not self.authed:
                self.line("%s BAD not authenticated" % tag)
            elif cmd in ("SELECT", "EXAMINE"):
                selected = True
                unseen = [s + 1 for s, i in enumerate(self.live)
                          if "\\Seen" not in self.flags[i]]
                self.line("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
                          "\\Draft)")
                self.line("* %d EXISTS" % len(self.live))
                self.line("* 0 RECENT")
                if unseen:
                    self.line("* OK [UNSEEN %d] first unseen" % unseen[0])
                self.line("* OK [UIDVALIDITY 1700000000] UIDs valid")
                self.line("* OK [UIDNEXT %d] next UID" % (len(MESSAGES) + 1))
                self.line("%s OK [%s] %s completed" % (
                    tag, "READ-ONLY" if cmd == "EXAMINE" else "READ-WRITE",
                    cmd))
            elif not selected:
                self.line("%s BAD no mailbox selected" % tag)
            elif cmd == "SEARCH":
                crit = " ".join(args).upper()
                res = []
                for s, i in enumerate(self.live):
                    f = self.flags[i]
                    if "UNSEEN" in crit and "\\Seen" in f:
                        continue
                    if "UNDELETED" in crit and "\\Deleted" in f:
                        continue
                    if "NOT DELETED" in crit and "\\Deleted" in f:
                        continue
                    res.append(i + 1 if uid else s + 1)
                self.line("* SEARCH" + "".join(" %d" % r for r in res))
                self.line("%s OK SEARCH completed" % tag)
            elif cmd == "FETCH":
                self.imap_fetch(tag, args, uid)
            elif cmd == "STORE":
                self.imap_store(tag, args, uid)
            elif cmd == "EXPUNGE":
                self.imap_expunge(tag, args[0] if uid and args else None)
            elif cmd == "CLOSE":
                self.imap_expunge(None)
                selected = False
                self.line("%s OK CLOSE completed" % tag)
            else:
                self.line("%s BAD unknown command" % tag)
        gone = [i + 1 for i in range(len(MESSAGES)) if i not in self.live]
        self.ev("mailbox expunged=%s" % ",".join(str(u) for u in gone))

    # ------------------------------------------------------------ run
    def serve(self, conn):
        self.sock = conn
        self.ev("connect")
        try:
            if self.o.proto == "pop3":
                self.pop3()
            else:
                self.imap()
        except Drop as e:
            self.ev("dropped (%s)" % e)
            if self.o.proto == "pop3" and self.deleted:
                self.ev("rollback marked=%s" % ",".join(
                    str(i) for i in sorted(self.deleted)))
        except (OSError, ssl.SSLError) as e:
            self.ev("io-error %s" % e)
        try:
            self.sock.close()
        except OSError:
            pass
        self.ev("end")


def main():
    ap = argparse.ArgumentParser(description="scripted TLS POP3/IMAP peer")
    ap.add_argument("--proto", choices=("pop3", "imap"), required=True)
    ap.add_argument("--scenario", choices=SCENARIOS, default="ok")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="s3cret-pw")
    ap.add_argument("--greeting-caps", action="store_true",
                    help="IMAP: capabilities in the greeting's response code")
    ap.add_argument("--stall", type=float, default=30.0,
                    help="handshake-stall: how long to wait for the client")
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--parent-pid", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="whole-run limit in seconds")
    o = ap.parse_args()

    signal.signal(signal.SIGALRM, lambda *a: os._exit(3))
    signal.alarm(int(o.timeout) + 1)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    log = open(o.log, "a", encoding="latin-1")
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    port = ls.getsockname()[1]
    tmp = o.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, o.port_file)
    log.write("EVENT listening %d proto=%s scenario=%s\n"
              % (port, o.proto, o.scenario))
    log.flush()
    ls.settimeout(1.0)
    served = 0
    while served < o.conns:
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            if o.parent_pid and not os.path.exists("/proc/%d" % o.parent_pid):
                break
            continue
        conn.settimeout(30)
        served += 1
        Peer(o, log).serve(conn)
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
