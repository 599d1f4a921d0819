#!/usr/bin/env python3
"""delivery_judge.py -- reduce one run of tests/delivery.sh to a line.

    delivery_judge.py ROWDIR EXIT [--strict STATUS]

ROWDIR holds p/ (the faultpeer the mail came from and went to), b/
(optional: the faultpeer listening on localhost:25, where bounces of the
reference go), out and err (fetchmail's stdout and stderr).  Prints

    EXIT FATE DELIV BOUNCE LOG DSN

FATE    keep | del         (message m1 still on the POP3 server or not)
DELIV   - | user | pm | ADDR[+...]   (RCPT TO of each non-bounce copy the
        listener accepted; user = fmtest@127.0.0.1, pm = postmaster@...)
BOUNCE  - | TO:KEY[+...]  (each report sent from <>: its recipient,
        sender = sender1@example.org, and the Reason: of the report:
        general large rcpt spam lmtp other)
LOG     - | letters: E "SMTP/LMTP error:", B "bounced to", R "listener
        refused delivery", P "can't even send to", T "requires STARTTLS",
        X "SMTP connect ... failed", U "Unexpected non-503", N bounce not
        sent, W "error writing message text"
DSN     - | ok | bad:WHY  (with --strict STATUS: every bounce must parse
        as an RFC 3464 report whose Status is STATUS; without it only
        "ok" when it is a multipart/report at all)
Test-only helper; Python 3 stdlib.
"""

import email
import email.policy
import json
import os
import re
import sys

SENDER = "sender1@example.org"


def accepted(d):
    try:
        with open(os.path.join(d, "state.json")) as f:
            return json.load(f).get("accepted", [])
    except (OSError, ValueError):
        return []


def remaining(d):
    try:
        with open(os.path.join(d, "mailbox.txt")) as f:
            return [ln.split()[0] for ln in f if ln.strip()]
    except OSError:
        return []


def addr(a):
    a = a.strip()
    if a.startswith("<") and a.endswith(">"):
        a = a[1:-1]
    return a


def short(a):
    if a == "fmtest@127.0.0.1":
        return "user"
    if a.startswith("postmaster@") and a.endswith("127.0.0.1"):
        return "pm"
    if a == SENDER:
        return "sender"
    return a


def reason_key(text):
    m = re.search(r"^Reason: (.*)$", text, re.M)
    if not m:
        return "none"
    r = m.group(1)
    for k, pat in (("large", "too large"), ("rcpt", "Some addresses"),
                   ("spam", "spam filter"), ("lmtp", "LMTP partial"),
                   ("general", "General SMTP")):
        if pat in r:
            return k
    return "other"


def check_dsn(raw, to, status):
    """'' when raw is a proper RFC 3464 bounce, else why not."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if msg.get_content_type() != "multipart/report":
        return "not multipart/report"
    if msg.get_param("report-type") != "delivery-status":
        return "report-type"
    if status is None:
        return ""
    if not (msg.get("From") or "").endswith("MAILER-DAEMON@" +
                                            msg.get("From", "@").split("@")[-1]):
        return "From"
    if addr(msg.get("To") or "") != to:
        return "To %r != %r" % (msg.get("To"), to)
    for h in ("Date", "Message-ID", "Subject"):
        if not msg.get(h):
            return "no " + h
    parts = msg.get_payload()
    types = [p.get_content_type() for p in parts]
    if types != ["text/plain", "message/delivery-status",
                 "text/rfc822-headers"]:
        return "parts %s" % types
    blocks = parts[1].get_payload()
    if len(blocks) < 2:
        return "delivery-status blocks"
    if not (blocks[0].get("Reporting-MTA") or "").startswith("dns; "):
        return "Reporting-MTA"
    for b in blocks[1:]:
        if not (b.get("Final-Recipient") or "").startswith("rfc822; "):
            return "Final-Recipient"
        if b.get("Action") != "failed":
            return "Action"
        if b.get("Status") != status:
            return "Status %r != %r" % (b.get("Status"), status)
        if not re.match(r"smtp; [245]\d\d[ -]", b.get("Diagnostic-Code") or ""):
            return "Diagnostic-Code %r" % b.get("Diagnostic-Code")
    hdrs = parts[2].get_payload()
    if "X-Fault-Id: m1" not in hdrs:
        return "headers part lacks the message's header"
    if "(fetchmail-" in hdrs:
        return "headers part has fetchmail's Received"
    return ""


def main():
    rowdir, ex = sys.argv[1], sys.argv[2]
    strict = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--strict" \
        else None
    p, b = os.path.join(rowdir, "p"), os.path.join(rowdir, "b")
    fate = "keep" if "m1" in remaining(p) else "del"
    deliv, bounces, dsn = [], [], []
    for a in accepted(p) + accepted(b):
        rcpts = [addr(r) for r in a.get("rcpts", [])]
        with open(a["file"], "rb") as f:
            raw = f.read()
        if addr(a.get("mail_from", "")) == "" and re.search(
                rb"(?im)^Content-Type: multipart/report",
                raw.split(b"\r\n\r\n", 1)[0]):
            text = raw.decode("latin-1").replace("\r\n", "\n")
            for r in rcpts:
                bounces.append("%s:%s" % (short(r), reason_key(text)))
                why = check_dsn(raw, r, strict)
                dsn.append("bad:" + why.replace(" ", "_") if why else "ok")
        else:
            deliv += [short(r) for r in rcpts]
    log = ""
    try:
        with open(os.path.join(rowdir, "out"), errors="replace") as f:
            log += f.read()
        with open(os.path.join(rowdir, "err"), errors="replace") as f:
            log += f.read()
    except OSError:
        pass
    letters = set()
    for k, pat in (("E", r"(SMTP|LMTP) error: "), ("B", r"bounced to "),
                   ("R", r"listener refused delivery"),
                   ("P", r"can't even send to"), ("T", r"requires STARTTLS"),
                   ("X", r"SMTP connect to .* failed"),
                   ("U", r"Unexpected non-503"), ("N", r"bounce to .* not sent"),
                   ("W", r"error writing message text")):
        if re.search(pat, log):
            letters.add(k)
    dsns = sorted(set(dsn))
    print(ex, fate, "+".join(deliv) or "-", "+".join(bounces) or "-",
          "".join(sorted(letters)) or "-",
          (dsns[0] if len(dsns) == 1 else ",".join(dsns)) if dsns else "-")


if __name__ == "__main__":
    main()
