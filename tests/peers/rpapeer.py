#!/usr/bin/env python3
"""rpapeer.py -- a scripted POP3 server doing the server side of
CompuServe's Remote Passphrase Authentication ("AUTH RPA"), written
from draft-petke-remote-pass-auth-00 (May 1997) alone, independently
of the client's code: part 1 (the mechanism), part 4 (the GSS-API
tokens) and section 16 (the POP3 conversation).  The service acts as
its own authentication deity: it knows the user's pass phrase.

Test-only tool, Python 3 stdlib only.  127.0.0.1 and a kernel-chosen
port; connections are served one after the other; the mailbox and the
counters persist across them.

Usage
-----
    rpapeer.py serve --dir DIR [options]
    rpapeer.py selftest

`serve` writes to DIR:
    port        the port number, written atomically once listening
    peer.log    every line received ("N C: ..."; for base64 also
                "N D: ..." with the decoded bytes, escaped), every line
                sent ("N S: ...") and events ("N EV: ..."): AUTH-START,
                TOKEN1 <hex>, AUTH-OK RPA, AUTH-FAIL RPA <why>,
                CANCEL RPA, CLEARTEXT USER|PASS, RETR N, DELE N,
                COMMIT N, CLOSE
    state       "conns N\\nmessages N\\nretrieved N\\ncommitted N\\n"
                "auth_ok N\\nauth_fail N\\ncancels N\\nmechs M,...\\n"
                rewritten after every connection

Options:
    --user NAME --realm REALM   the account (identity NAME@REALM; the
                                name and realm compare case-blind)
    --pass PHRASE               the pass phrase the deity knows
    --realms "svc@realm ..."    the realm list (default pop@REALM)
    --version 1|2|3             the version selected (default 3)
    --no-rpa                    do not offer SASL RPA in CAPA
    --scenario S                ok (default) or a hostile token 2 or 4:
        badau      Au with one bit flipped
        fakedeity  Au and Kusu computed from another pass phrase
        oid        token 2 for another mechanism OID
        derlong    token 2's DER length one more than what follows
        dernonmin  token 2's length in the long form 0x81 below 128
        shortchal  a 7-octet service challenge
        chalover   the challenge length octet past the end of the token
        listover   the realm list length past the end of the token
        trailing   one octet after the realm list
        ts         a time stamp that is not 14 digits
        badver     selected version 4.0
        ctlrealm   a realm list with a control character
        norealm    a realm list without the user's realm
        tok4len    token 4's Au field of 15 octets
        tok4trail  token 4 with one octet more
        b64        token 2 not base64
        earlyok    +OK right after token 3 (no token 4: no proof)
        status1    version 3 token 4 with status 1 (restricted user)
    --ok-after-cancel           answer "*" with +OK (a lying server)
    --parent-pid PID            exit when PID is gone
"""

import argparse
import base64
import binascii
import datetime
import hashlib
import os
import re
import sys

import peerline
from peerline import Closed, LinePeer

# Part 4, "Mechanism Type".
OID = bytes([0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x86, 0xF8, 0x73,
             0x01, 0x01])
Z = bytes(48)                       # part 1, "Z"


# ------------------------------------------------------------ the mechanism

def md5(*parts):
    h = hashlib.md5()
    for p in parts:
        h.update(p)
    return h.digest()


def lower1(ch):
    """A one-character lower case (what part 1 asks of names and pass
    phrases); characters whose lower case is longer stay as they are."""
    lo = ch.lower()
    return lo if len(lo) == 1 else ch


def uni(text):
    """Part 1: lower-case Unicode, big-endian, no trailing null."""
    return "".join(lower1(c) for c in text).encode("utf-16-be")


def passphrase_key(phrase):
    """Part 1's default transformation: Unicode, lower case, MD5."""
    return md5(uni(phrase))


def user_response(pu, nu, ns, nr, cu, cs, ts):
    """Ru = MD5(Pu + Z + Nu + Ns + Nr + Cu + Cs + Ts + Pu)."""
    return md5(pu, Z, nu, ns, nr, cu, cs, ts, pu)


def key_mask(p, nu, ns, nr, cu, cs, ts):
    """MD5(P + Z + Ns + Nu + Nr + Cs + Cu + Ts + P), the mask of Kus."""
    return md5(p, Z, ns, nu, nr, cs, cu, ts, p)


def user_proof(pu, nu, ns, nr, kusu, cu, cs, ts, kus):
    """Au = MD5(Pu + Z + Ns + Nu + Nr + Kusu + Cs + Cu + Ts + Kus + Pu)."""
    return md5(pu, Z, ns, nu, nr, kusu, cs, cu, ts, kus, pu)


def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def der_len(n):
    """Part 4, "Token Length": minimal DER length octets."""
    if n < 128:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def token(body):
    return b"\x60" + der_len(len(body)) + body


def untoken(t):
    """The body of a token (None when the framing is wrong)."""
    if len(t) < 2 or t[0] != 0x60:
        return None
    if t[1] < 128:
        n, i = t[1], 2
    else:
        k = t[1] & 0x7F
        if k == 0 or len(t) < 2 + k:
            return None
        n, i = int.from_bytes(t[2:2 + k], "big"), 2 + k
    if n != len(t) - i:
        return None
    return t[i:]


class Bad(Exception):
    pass


class Reader:
    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, n):
        if self.i + n > len(self.b):
            raise Bad("truncated")
        r = self.b[self.i:self.i + n]
        self.i += n
        return r

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return int.from_bytes(self.take(2), "big")

    def end(self):
        if self.i != len(self.b):
            raise Bad("trailing octets")


# ------------------------------------------------------------ the server

def gen_message(i):
    return peerline.gen_message("rpapeer", i)


class Peer(LinePeer):
    B64_MIN = 4

    def __init__(self, a):
        super().__init__(a)
        self.mailbox = [(1, gen_message(1))]
        self.conns = self.retrieved = self.committed = 0
        self.auth_ok = self.auth_fail = self.cancels = 0
        self.mechs_used = []
        self.realms = a.realms or "pop@%s" % a.realm

    def session(self):
        self.pop3()

    def state_text(self):
        return ("conns %d\nmessages %d\nretrieved %d\ncommitted %d\n"
              "auth_ok %d\nauth_fail %d\ncancels %d\nmechs %s\n" % (
                  self.conns, len(self.mailbox), self.retrieved,
                  self.committed, self.auth_ok, self.auth_fail,
                  self.cancels, ",".join(self.mechs_used)))

    # -------------------------------------------------- RPA
    def fail(self, why):
        self.ev("AUTH-FAIL RPA %s" % why)
        self.auth_fail += 1
        self.send("-ERR [AUTH] RPA: %s\r\n" % why)
        return False

    def client_token(self):
        """The client's next line decoded; None after "*" (answered)."""
        line = self.readline().strip()
        if line == "*":
            self.cancels += 1
            self.ev("CANCEL RPA")
            if self.a.ok_after_cancel:
                self.ev("LYING: answering the cancel with OK")
                self.send("+OK cancelled, but welcome anyway\r\n")
                return True
            self.send("-ERR AUTH cancelled\r\n")
            return None
        try:
            return base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise Bad("response not base64")

    def challenge(self, tok):
        self.send("+ %s\r\n" % base64.b64encode(tok).decode())

    def token2(self, ver, cs, ts):
        sc = self.a.scenario
        realms = self.realms.encode("latin-1")
        if sc == "norealm":
            realms = b"pop@aol.com pop@example.net"
        elif sc == "ctlrealm":
            realms = b"pop@" + self.a.realm.encode() + b"\x01"
        if sc == "shortchal":
            cs = cs[:7]
        if sc == "ts":
            ts = b"1997-05-19 12:0"[:14]
        body = (b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"
                if sc == "oid" else OID)
        body += bytes([4, 0]) if sc == "badver" else bytes([ver, 0])
        if sc == "chalover":
            body += bytes([250]) + cs
            return token(body)
        body += bytes([len(cs)]) + cs + ts
        if sc == "listover":
            body += (len(realms) + 40).to_bytes(2, "big") + realms
        else:
            body += len(realms).to_bytes(2, "big") + realms
        if sc == "trailing":
            body += b"\x00"
        if sc == "derlong":
            return b"\x60" + der_len(len(body) + 1) + body
        if sc == "dernonmin" and len(body) < 128:
            return b"\x60\x81" + bytes([len(body)]) + body
        return token(body)

    def rpa(self):
        """One AUTH RPA exchange; True when logged in."""
        a, sc = self.a, self.a.scenario
        self.ev("AUTH-START RPA")
        self.mechs_used.append("RPA")
        if a.no_rpa:
            return self.fail("not offered")
        ver = a.version
        self.send("+\r\n")                       # section 16
        t = self.client_token()
        if t is None or t is True:
            return t is True
        self.ev("TOKEN1 %s" % t.hex())
        body = untoken(t)
        if body is None:
            return self.fail("token 1 framing")
        r = Reader(body)
        if r.take(len(OID)) != OID:
            return self.fail("token 1 mechanism")
        early, late, flags = r.take(2), r.take(2), r.u16()
        r.end()
        if not early <= bytes([ver, 0]) <= late:
            return self.fail("version %d.0 outside %r..%r" % (ver, early,
                                                              late))
        if ver < 3 and not flags & 1:
            return self.fail("no mutual authentication asked for")
        cs = os.urandom(16)
        ts = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y%m%d%H%M%S").encode()
        if sc == "b64":
            self.send("+ @@not*base64@@\r\n")
        else:
            self.challenge(self.token2(ver, cs, ts))
        t = self.client_token()
        if t is None or t is True:
            return t is True
        body = untoken(t)
        if body is None:
            return self.fail("token 3 framing")
        r = Reader(body)
        if r.take(len(OID)) != OID:
            return self.fail("token 3 mechanism")
        ident = r.take(r.u16()).decode("latin-1")
        ncu = r.u8()
        cu = r.take(ncu)
        if r.u8() != 16:
            return self.fail("Ru length")
        ru = r.take(16)
        r.end()
        if ncu < 8:
            return self.fail("user challenge too short")
        name, _, realm = ident.rpartition("@")
        svc = None
        for e in self.realms.split(" "):
            s, _, rl = e.rpartition("@")
            if rl.lower() == realm.lower():
                svc = s
                break
        self.ev("IDENTITY %s" % ident)
        if svc is None or name.lower() != a.user.lower() or \
                realm.lower() != a.realm.lower():
            return self.fail("unknown identity %s" % ident)
        nu, ns, nr = uni(name), uni(svc), uni(realm)
        pu = passphrase_key(a.passphrase)
        if sc == "earlyok":
            self.ev("LYING: +OK without token 4")
            self.send("+OK welcome without a proof\r\n")
            return True
        good = ru == user_response(pu, nu, ns, nr, cu, cs, ts)
        if not good and ver != 3:
            return self.fail("Ru mismatch")
        status = 0 if good else 2
        if sc == "status1":
            status = 1
        kus = os.urandom(16)
        dp = passphrase_key("not " + a.passphrase) \
            if sc == "fakedeity" else pu
        kusu = xor(kus, key_mask(dp, nu, ns, nr, cu, cs, ts))
        au = user_proof(dp, nu, ns, nr, kusu, cu, cs, ts, kus)
        if sc == "badau":
            au = bytes([au[0] ^ 1]) + au[1:]
        body = OID + bytes([15 if sc == "tok4len" else 16]) + \
            (au[:15] if sc == "tok4len" else au) + bytes([16]) + kusu
        if ver == 3:
            body += bytes([status])
        if sc == "tok4trail":
            body += b"\x00"
        if not good:
            self.ev("RU-MISMATCH status %d" % status)
        self.challenge(token(body))
        t = self.client_token()
        if t is None or t is True:
            return t is True
        if ver == 2:
            if t != b"":
                return self.fail("version 2.0 ends with token 4")
        elif t != b"\x60\x01\x00":
            return self.fail("token 5 is not 60 01 00: %s" % t.hex())
        if not good or status != 0:
            return self.fail("Ru mismatch" if not good else
                             "status %d" % status)
        self.ev("AUTH-OK RPA")
        self.auth_ok += 1
        self.send("+OK RPA login accepted\r\n")
        return True

    # -------------------------------------------------- POP3
    def pop3(self):
        authed = False
        marked = set()
        self.send("+OK rpapeer POP3 ready\r\n")
        while True:
            line = self.readline()
            cmd, _, arg = line.partition(" ")
            cmd = cmd.upper()
            if cmd == "QUIT":
                if authed and marked:
                    self.mailbox = [m for m in self.mailbox
                                    if m[0] not in marked]
                    self.committed += len(marked)
                    self.ev("COMMIT %d" % len(marked))
                self.send("+OK bye\r\n")
                return
            if cmd == "CAPA":
                caps = ["TOP", "UIDL", "USER"]
                if not self.a.no_rpa:
                    caps.append("SASL RPA")
                self.send("+OK capabilities\r\n" + "".join(
                    c + "\r\n" for c in caps) + ".\r\n")
                continue
            if not authed:
                if cmd == "AUTH" and arg.upper() == "RPA":
                    try:
                        authed = self.rpa()
                    except Bad as e:
                        authed = self.fail(str(e))
                elif cmd == "AUTH":
                    self.send("-ERR [AUTH] only RPA here\r\n")
                elif cmd == "USER":
                    self.ev("CLEARTEXT USER %s" % arg)
                    self.send("+OK\r\n")
                elif cmd == "PASS":
                    self.ev("CLEARTEXT PASS")
                    self.send("-ERR [AUTH] cleartext refused here\r\n")
                else:
                    self.send("-ERR not logged in\r\n")
                continue
            box = list(self.mailbox)
            if cmd == "STAT":
                self.send("+OK %d %d\r\n" % (len(box), sum(
                    len(d) for _, d in box)))
            elif cmd in ("LIST", "UIDL"):
                def item(i, m):
                    return "%d %s" % (i, len(m[1]) if cmd == "LIST"
                                      else "uid%04d" % m[0])
                if arg:
                    try:
                        i = int(arg)
                        self.send("+OK %s\r\n" % item(i, box[i - 1]))
                    except (ValueError, IndexError):
                        self.send("-ERR no such message\r\n")
                else:
                    self.send("+OK\r\n" + "".join(
                        item(i, m) + "\r\n" for i, m in
                        enumerate(box, 1)) + ".\r\n")
            elif cmd == "RETR":
                try:
                    i = int(arg)
                    data = box[i - 1][1]
                except (ValueError, IndexError):
                    self.send("-ERR no such message\r\n")
                    continue
                self.retrieved += 1
                self.ev("RETR %d" % i)
                self.write("S: +OK message follows (%d octets)" % len(data))
                self.sock.sendall(b"+OK message follows\r\n" + re.sub(
                    rb"(?m)^\.", b"..", data) + b".\r\n")
            elif cmd == "DELE":
                try:
                    i = int(arg)
                    marked.add(box[i - 1][0])
                    self.ev("DELE %d" % i)
                    self.send("+OK marked\r\n")
                except (ValueError, IndexError):
                    self.send("-ERR no such message\r\n")
            elif cmd == "RSET":
                marked.clear()
                self.send("+OK\r\n")
            elif cmd == "NOOP":
                self.send("+OK\r\n")
            else:
                self.send("-ERR unknown command\r\n")


# ------------------------------------------------------------ self-test

def selftest():
    bad = []

    def check(cond, what):
        print("%s - %s" % ("ok" if cond else "NOT OK", what))
        if not cond:
            bad.append(what)

    # RFC 1321 appendix A.5
    check(md5(b"").hex() == "d41d8cd98f00b204e9800998ecf8427e", "MD5('')")
    check(md5(b"message digest").hex() ==
          "f96b697d7cb7938d525a2f31aaf161d0", "MD5('message digest')")
    # part 4, "Token Length": the draft's three examples
    check(der_len(126) == b"\x7e" and der_len(150) == b"\x81\x96" and
          der_len(258) == b"\x82\x01\x02", "DER lengths 126, 150, 258")
    # part 3, section 12: the realm "aol.com" in big-endian Unicode
    check(uni("aol.com") == bytes([0, 0x61, 0, 0x6f, 0, 0x6c, 0, 0x2e, 0,
                                   0x63, 0, 0x6f, 0, 0x6d]),
          "realm aol.com as big-endian Unicode (part 3 example)")
    # names and pass phrases are lower-cased before use (part 1)
    check(uni("CompuServe.COM") == uni("compuserve.com") and
          uni("\u00d6") == b"\x00\xf6", "lower case, also Latin-1")
    check(passphrase_key("Sesam") == md5(b"\x00s\x00e\x00s\x00a\x00m"),
          "Pu = MD5 of the lower-case big-endian Unicode phrase")
    # token 1 as part 4 lays it out: 0x60, length 17, the OID, 1.0,
    # 3.0, mutual authentication
    check(token(OID + b"\x01\x00\x03\x00\x00\x01").hex() ==
          "6011060960864801" "86f873010101000300" "0001", "token 1 bytes")
    check(untoken(b"\x60\x01\x00") == b"\x00" and
          untoken(b"\x60\x02\x00") is None, "token framing")
    # the deity's Kusu/Au against the user's view: the user recovers Kus
    pu = passphrase_key("correct horse")
    nu, ns, nr = uni("name"), uni("pop"), uni("compuserve.com")
    cu, cs, ts = b"u" * 16, b"s" * 16, b"19970519120000"
    kus = bytes(range(16))
    kusu = xor(kus, key_mask(pu, nu, ns, nr, cu, cs, ts))
    au = user_proof(pu, nu, ns, nr, kusu, cu, cs, ts, kus)
    got = xor(kusu, key_mask(pu, nu, ns, nr, cu, cs, ts))
    check(got == kus and user_proof(pu, nu, ns, nr, kusu, cu, cs, ts,
                                    got) == au,
          "Kusu/Au: the user recovers Kus and verifies Au")
    check(user_response(pu, nu, ns, nr, cu, cs, ts) !=
          key_mask(pu, nu, ns, nr, cu, cs, ts),
          "Ru and the key mask differ (order of the values)")
    return 1 if bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["serve", "selftest"])
    ap.add_argument("--dir")
    ap.add_argument("--user", default="name")
    ap.add_argument("--realm", default="compuserve.com")
    ap.add_argument("--pass", dest="passphrase", default="")
    ap.add_argument("--realms")
    ap.add_argument("--version", type=int, default=3, choices=[1, 2, 3])
    ap.add_argument("--no-rpa", action="store_true")
    ap.add_argument("--scenario", default="ok")
    ap.add_argument("--ok-after-cancel", action="store_true")
    ap.add_argument("--parent-pid", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=20)
    a = ap.parse_args(argv)
    if a.cmd == "selftest":
        return selftest()
    if not a.dir:
        ap.error("serve needs --dir")
    Peer(a).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
