#!/usr/bin/env python3
"""tests/peers/odmrpeer.py -- a scripted ODMR server (RFC 2645) for tests.

Listens on 127.0.0.1 (port 0 = any free one), writes the port to
--ready once listening, serves ONE connection and exits:

  greeting 220; EHLO -> 250 lines advertising AUTH --mechs (default
  CRAM-MD5; PLAIN and LOGIN known too) and ATRN (unless the scenario
  removes it); AUTH CRAM-MD5 -> 334 challenge, the response (or the
  PLAIN/LOGIN credentials) checked against --user/--password (235 or
  535); ATRN before a successful AUTH -> 530;
  ATRN DOMAINS -> the scenario's reply.  With "ok" the reply is 250
  and the connection turns around (RFC 2645 section 4.1): this side
  becomes the SMTP client, waits for the client's 220 greeting, then
  sends EHLO, and for each --msg FILE MAIL FROM/RCPT TO/DATA/message/.
  and finally QUIT, checking the replies (2xx/354).

Scenarios: ok, 450, 451, 453, 502, 530, badauth (535 to AUTH, then
530 to ATRN), noatrn (EHLO lacks ATRN), noauth (EHLO lacks AUTH, AUTH
gets 504), other (599 to ATRN), silent
(250 then nothing: a relay timeout), close (250, the relayed greeting,
then close without a word).

Everything seen is appended to --log (one "C: line" / "S: line" per
line, "RESULT: ..." at the end); exit status 0 when the dialogue went
as the scenario expects, 1 otherwise.  Python 3 standard library only.
"""

import argparse
import base64
import hashlib
import hmac
import os
import socket
import sys

TIMEOUT = 30


class Peer:
    """One client connection with a line reader and a transcript."""

    def __init__(self, sock, log):
        self.sock = sock
        self.sock.settimeout(TIMEOUT)
        self.rfile = sock.makefile("rb")
        self.log = log

    def note(self, text):
        self.log.write(text + "\n")
        self.log.flush()

    def send(self, line):
        self.note("S: " + line)
        self.sock.sendall(line.encode() + b"\r\n")

    def recv(self):
        raw = self.rfile.readline()
        if not raw:
            self.note("C: <EOF>")
            return None
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        self.note("C: " + line)
        return line

    def reply(self):
        """Read an SMTP reply (possibly multi-line): (code, lines)."""
        lines = []
        while True:
            line = self.recv()
            if line is None:
                return None, lines
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                break
        try:
            return int(lines[-1][:3]), lines
        except ValueError:
            return None, lines


def atrn_phase(p, args):
    """Greeting to ATRN; the ATRN domains, or None when the dialogue
    ended (result noted)."""
    p.send("220 odmr.test ESMTP ODMR peer")
    authed = False
    while True:
        line = p.recv()
        if line is None:
            return None
        verb = line.split(" ", 1)[0].upper()
        if verb == "EHLO":
            caps = ["odmr.test greets you"]
            if args.mechs and args.scenario != "noauth":
                caps.append("AUTH " + args.mechs)
            if args.scenario != "noatrn":
                caps.append("ATRN")
            for i, c in enumerate(caps):
                p.send(("250 " if i == len(caps) - 1 else "250-") + c)
        elif verb == "HELO":
            p.send("250 odmr.test")
        elif verb == "AUTH":
            authed = auth(p, args, line.split(" ")[1:])
        elif verb == "ATRN":
            if not authed and args.scenario not in ("530",):
                p.send("530 Authentication required")
                continue
            return line[5:]
        elif verb == "QUIT":
            p.send("221 bye")
            return None
        else:
            p.send("502 command not implemented")


def auth(p, args, words):
    """AUTH MECH [initial response]; True when it passed."""
    mech = words[0].upper() if words else ""
    offered = [] if args.scenario == "noauth" else args.mechs.upper().split()
    if mech not in offered:
        p.send("504 5.5.4 mechanism not offered")
        return False
    if mech == "CRAM-MD5":
        return cram(p, args)
    if mech == "PLAIN":
        if len(words) > 1:
            resp = words[1]
        else:
            p.send("334 ")
            resp = p.recv()
        return verdict(p, args, decode(resp) ==
                       "\0%s\0%s" % (args.user, args.password) or
                       decode(resp) == "%s\0%s\0%s" % (args.user, args.user,
                                                     args.password))
    if mech == "LOGIN":
        p.send("334 " + base64.b64encode(b"Username:").decode())
        user = decode(p.recv())
        p.send("334 " + base64.b64encode(b"Password:").decode())
        pw = decode(p.recv())
        return verdict(p, args, user == args.user and pw == args.password)
    p.send("504 5.5.4 unknown mechanism")
    return False


def decode(text):
    try:
        return base64.b64decode(text or "", validate=True).decode()
    except ValueError:
        return None


def verdict(p, args, good):
    if good and args.scenario != "badauth":
        p.send("235 2.7.0 Authentication successful")
        return True
    p.send("535 5.7.8 Authentication failed")
    return False


def cram(p, args):
    """Run AUTH CRAM-MD5 and answer 235 or 535; True when it passed."""
    challenge = "<%d.%d@odmr.test>" % (os.getpid(), 1234567)
    p.send("334 " + base64.b64encode(challenge.encode()).decode())
    resp = p.recv()
    if resp is None:
        return False
    want = hmac.new(args.password.encode(), challenge.encode(),
                    hashlib.md5).hexdigest()
    return verdict(p, args, decode(resp) == args.user + " " + want)


def expect(p, lo, what):
    code, _ = p.reply()
    if code is None or not lo <= code < lo + 100:
        p.note("RESULT: FAIL %s got %s" % (what, code))
        return False
    return True


def turnaround(p, args):
    """The reversed SMTP session: deliver every --msg; True when all
    were accepted."""
    if not expect(p, 200, "greeting"):
        return False
    p.send("EHLO odmr.test")
    if not expect(p, 200, "EHLO"):
        return False
    for path in args.msg:
        with open(path, "rb") as f:
            body = f.read().replace(b"\r\n", b"\n").decode("utf-8", "replace")
        p.send("MAIL FROM:<%s>" % args.sender)
        if not expect(p, 200, "MAIL"):
            return False
        for rcpt in args.rcpt:
            p.send("RCPT TO:<%s>" % rcpt)
            if not expect(p, 200, "RCPT"):
                return False
        p.send("DATA")
        if not expect(p, 300, "DATA"):
            return False
        for line in body.split("\n")[:-1] if body.endswith("\n") \
                else body.split("\n"):
            p.send("." + line if line.startswith(".") else line)
        p.send(".")
        if not expect(p, 200, "end of data"):
            return False
    p.send("QUIT")
    expect(p, 200, "QUIT")
    return True


def serve(conn, args, log):
    p = Peer(conn, log)
    domains = atrn_phase(p, args)
    if domains is None:
        p.note("RESULT: ended before ATRN")
        return args.scenario in ("noatrn", "badauth", "noauth")
    p.note("ATRN-DOMAINS: " + domains)
    sc = args.scenario
    replies = {
        "450": "450 ATRN request refused",
        "451": "451 Unable to process ATRN request now",
        "453": "453 You have no mail",
        "502": "502 Command not implemented",
        "530": "530 Authentication required",
        "badauth": "530 Authentication required",
        "other": "599 something odd happened",
    }
    if sc in replies:
        p.send(replies[sc])
        line = p.recv()
        if line is not None and line.upper() == "QUIT":
            p.send("221 bye")
        p.note("RESULT: refused with " + replies[sc][:3])
        return True
    p.send("250 OK now reversing the connection")
    if sc == "close":
        p.recv()        # the relayed greeting, then hang up
        p.note("RESULT: closed after turnaround")
        return True
    if sc == "silent":
        # say nothing and wait for the client to give up
        p.sock.settimeout(TIMEOUT)
        while p.recv() is not None:
            pass
        p.note("RESULT: silent ended")
        return True
    ok = turnaround(p, args)
    p.note("RESULT: " + ("delivered %d" % len(args.msg) if ok else "FAIL"))
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--user", default="odmruser")
    ap.add_argument("--password", default="odmrsecret")
    ap.add_argument("--scenario", default="ok")
    ap.add_argument("--mechs", default="CRAM-MD5",
                    help='the AUTH mechanisms offered ("" for no AUTH)')
    ap.add_argument("--sender", default="sender@odmr.test")
    ap.add_argument("--rcpt", action="append", default=[])
    ap.add_argument("--msg", action="append", default=[])
    args = ap.parse_args()
    if not args.rcpt:
        args.rcpt = ["bob@localhost"]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(1)
    ls.settimeout(TIMEOUT * 2)
    tmp = args.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, args.ready)
    with open(args.log, "a") as log:
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            log.write("RESULT: nobody connected\n")
            return 1
        try:
            ok = serve(conn, args, log)
        except (OSError, socket.timeout) as e:
            log.write("RESULT: FAIL %s\n" % e)
            ok = False
        finally:
            conn.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
