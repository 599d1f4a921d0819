"""peerline.py -- what the scripted line-protocol servers saslpeer.py and
rpapeer.py share: a peer.log of every line (with the decoded form of
anything that looks like base64, so a test can look for a secret in what
was really sent), a state file and a port file written atomically, and
an accept loop on 127.0.0.1 that ends when the test's shell is gone.

A subclass sets PROTO (or overrides proto()), B64_MIN, and defines
state_text() and session(); it may read self.sock, self.buf through
readline() and answer with send().
"""

import base64
import binascii
import os
import re
import socket


class Closed(Exception):
    """The client went away (or stayed silent past the timeout)."""


def pid_alive(pid):
    """Whether pid is a live (not zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return True


def atomic_write(path, text):
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def gen_message(name, i):
    """Message i of a peer called name (CRLF, one line starting with a dot)."""
    cap = name.capitalize()
    return ("From: sender@example.org\r\nTo: user@example.org\r\n"
            "Subject: %s message %d\r\nMessage-ID: "
            "<%s-%d@example.org>\r\nX-%s-Id: %d\r\n\r\n"
            "body of %s message %d\r\n.leading dot line\r\n" % (
                name, i, name, i, cap, i, name, i)).encode()


class LinePeer:
    PROTO = "pop3"
    B64_MIN = 8         # shortest token decoded into the log

    def __init__(self, a):
        self.a = a
        self.dir = a.dir
        self.logf = open(os.path.join(a.dir, "peer.log"), "a",
                         encoding="utf-8", errors="backslashreplace")
        self.conn_no = 0
        self.conns = 0
        self.sock, self.buf = None, b""

    def proto(self):
        return self.PROTO

    def write(self, text):
        self.logf.write("%d %s\n" % (self.conn_no, text))
        self.logf.flush()

    def ev(self, text):
        self.write("EV: " + text)

    def write_state(self):
        atomic_write(os.path.join(self.dir, "state"), self.state_text())

    def send(self, text):
        for ln in text.split("\r\n")[:-1] if text.endswith("\r\n") \
                else [text]:
            self.write("S: " + ln)
        self.sock.sendall(text.encode("latin-1"))

    def readline(self):
        while b"\n" not in self.buf:
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                raise Closed("timeout")
            except OSError as e:
                raise Closed(str(e))
            if not d:
                raise Closed("eof")
            self.buf += d
        ln, _, self.buf = self.buf.partition(b"\n")
        s = ln.rstrip(b"\r").decode("latin-1")
        self.write("C: " + s)
        for tok in s.split():
            if len(tok) >= self.B64_MIN and len(tok) % 4 == 0 and \
                    re.fullmatch(r"[A-Za-z0-9+/]+=*", tok):
                try:
                    dec = base64.b64decode(tok, validate=True)
                except (binascii.Error, ValueError):
                    continue
                self.write("D: " + dec.decode("latin-1").encode(
                    "unicode_escape").decode("ascii"))
        return s

    def serve(self):
        """Accept connections one at a time until the parent is gone."""
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(8)
        ls.settimeout(0.5)
        self.write_state()
        atomic_write(os.path.join(self.dir, "port"),
                     "%d\n" % ls.getsockname()[1])
        while True:
            if self.a.parent_pid and not pid_alive(self.a.parent_pid):
                return
            try:
                s, _ = ls.accept()
            except socket.timeout:
                continue
            self.conn_no += 1
            self.sock, self.buf = s, b""
            s.settimeout(self.a.timeout)
            self.ev("OPEN %s" % self.proto())
            how = "ok"
            try:
                self.session()
            except Closed as e:
                how = "client closed (%s)" % e
            except OSError as e:
                how = "error %s" % e
            finally:
                s.close()
            self.conns += 1
            self.ev("CLOSE %s" % how)
            self.write_state()
