#!/usr/bin/env python3
"""oauthstub.py -- a tiny OAuth 2.0 token introspection endpoint (RFC
7662 style) for Dovecot's oauth2 passdb in the tests.  Python 3 stdlib
only; listens on 127.0.0.1 only.

    oauthstub.py --dir DIR [--parent-pid PID]

DIR/tokens      (written by the test, re-read at every request; replace
                it atomically): one "TOKEN USER" a line; a token listed
                is active for USER, any other token is inactive
DIR/port        the port, written atomically once listening
DIR/stub.log    one line per request:
                  METHOD PATH token=TOKEN -> active USER | inactive
                (token=- when the request carried none)

The token is taken from "Authorization: Bearer T" (introspection_mode =
auth), the query string token=T (get) or the form body token=T (post).
The answer is {"active": true, "username": USER} or {"active": false}.
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def load_tokens(path):
    toks = {}
    try:
        with open(path) as f:
            for ln in f:
                w = ln.split()
                if len(w) >= 2:
                    toks[w[0]] = w[1]
    except OSError:
        pass
    return toks


class Handler(BaseHTTPRequestHandler):
    server_version = "oauthstub/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def token(self, body):
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        q = urllib.parse.urlsplit(self.path).query
        for src in (q, body):
            v = urllib.parse.parse_qs(src).get("token")
            if v:
                return v[0]
        return None

    def answer(self, body):
        d = self.server.stubdir
        tok = self.token(body)
        user = load_tokens(os.path.join(d, "tokens")).get(tok) \
            if tok else None
        res = {"active": True, "username": user} if user else \
            {"active": False}
        with self.server.lock, open(os.path.join(d, "stub.log"), "a") as f:
            f.write("%s %s token=%s -> %s\n" % (
                self.command, urllib.parse.urlsplit(self.path).path,
                tok or "-", ("active " + user) if user else "inactive"))
        data = json.dumps(res).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.answer("")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("latin-1") if n > 0 else ""
        self.answer(body)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--parent-pid", type=int, default=0)
    a = ap.parse_args(argv)
    os.makedirs(a.dir, exist_ok=True)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.stubdir = a.dir
    srv.lock = threading.Lock()
    tmp = os.path.join(a.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, os.path.join(a.dir, "port"))
    t = threading.Thread(target=srv.serve_forever, kwargs={
        "poll_interval": 0.2}, daemon=True)
    t.start()
    try:
        while True:
            time.sleep(0.5)
            if a.parent_pid:
                try:
                    os.kill(a.parent_pid, 0)
                except ProcessLookupError:
                    break
    except KeyboardInterrupt:
        pass
    srv.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
