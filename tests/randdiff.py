#!/usr/bin/env python3
"""Differential test of rcfile parsing against the reference fetchmail.

Generates random rcfiles (mostly well-formed, some broken) from a fixed
seed, runs the reference and our binary with --configdump on each, and
compares stdout and exit status (and for rejected files the FILE:LINE of
the first error).  TAP output.  Skips when the reference is not 6.4.37.

usage: randdiff.py [COUNT] [SEED]      env: FETCHMAIL, REF_FETCHMAIL
"""
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

REF = os.environ.get("REF_FETCHMAIL", "/usr/bin/fetchmail")
OURS = os.environ.get("FETCHMAIL", "./fetchmail")

GLOBAL = ["daemon N", "logfile S", "idfile S", "pidfile S", "postmaster S",
          "bouncemail", "no bouncemail", "nobouncemail", "spambounce",
          "no spambounce", "softbounce", "no softbounce", "syslog",
          "no syslog", "invisible", "no invisible", "showdots",
          "no showdots", "properties S", "logfile = S", "idfile = S",
          "postmaster = S"]
PROTOS = ["auto", "pop2", "pop3", "imap", "apop", "rpop", "sdps", "etrn",
          "odmr", "POP3", "IMAP", "kpop", "AUTO", "ETRN"]
AUTHS = ["any", "password", "gssapi", "kerberos_v5", "kerberos5", "ssh",
         "external", "otp", "opie", "cram-md5", "cram", "ntlm", "msn"]
SERVER = ["via S", "proto P", "protocol P", "service S", "service N",
          "port N", "interval N", "auth A", "authenticate A",
          "preauth A", "timeout N", "envelope S", "envelope N S",
          "no envelope", "noenvelope", "qvirtual S", "principal S",
          "esmtpname S", "esmtppassword S", "plugin S", "plugout S",
          "monitor S", "tracepolls", "no tracepolls", "bad-header accept",
          "bad-header reject", "dns", "no dns", "nodns", "uidl", "no uidl",
          "nouidl", "checkalias", "no checkalias", "nocheckalias",
          "aka L", "localdomains L", "local L",
          "interface \"eth0/10.0.0.1\""]
USEROPT = ["is M", "to M", "is M here", "is S there", "pass S",
           "password S", "folder L", "folders L", "smtphost L", "smtp L",
           "fetchdomains L", "smtpaddress S", "smtpname S", "antispam NL",
           "mda S", "bsmtp S", "preconnect S", "pre S", "postconnect S",
           "post S", "keep", "no keep", "nokeep", "flush", "noflush",
           "limitflush", "fetchall", "nofetchall", "rewrite", "norewrite",
           "no rewrite", "forcecr", "stripcr", "nostripcr", "pass8bits",
           "pass8", "nopass8", "dropstatus", "dropdelivered", "mimedecode",
           "mimedec", "nomimedecode", "idle", "noidle", "ssl", "no ssl",
           "sslkey S", "sslcert S", "sslproto S", "sslcertck",
           "no sslcertck", "sslcertfile S", "sslcertpath S",
           "sslcommonname S", "sslfingerprint S", "limit N",
           "warnings N", "fetchlimit N", "fetchsizelimit N",
           "fastuidl N", "batchlimit N", "expunge N", "properties S"]
NOISE = ["and", "with", "has", "wants", "options", ",", ";", ":"]
WORDS = ["alpha", "mail.example.com", "x_y", "a-b", "u@example.org",
         "/tmp/p", "rel/path", "keepx", "nokeepy", "a#b", "12ab",
         "pop3.example.net", "INBOX", "Sent Items", "localhost/2525",
         "host/24", "*x"]


def rstring(r):
    w = r.choice(WORDS)
    k = r.random()
    if k < 0.45:
        return '"%s"' % w
    if k < 0.55:
        return "'%s'" % w
    if k < 0.62:
        esc = r.choice(["\\t", "\\n", "\\x41", "\\101", "\\0101", "\\\\",
                        "\\q", "\\x4", "\\r", "\\b"])
        return '"%s%s%s"' % (w[:2], esc, w[2:])
    if " " in w:
        return '"%s"' % w
    return w


def rmapping(r):
    out = []
    for _ in range(r.randint(1, 3)):
        k = r.random()
        if k < 0.15:
            out.append("*")
        elif k < 0.35:
            out.append("%s = %s" % (rstring(r), rstring(r)))
        else:
            out.append(rstring(r))
    return " ".join(out)


def expand(tmpl, r):
    out = []
    for tok in tmpl.split(" "):
        if tok == "S":
            out.append(rstring(r))
        elif tok == "N":
            out.append(str(r.choice([0, 1, 5, 300, 2525, 70000, -3, 993, 110])))
        elif tok == "NL":
            out.append(" ".join(str(r.choice([571, 550, 501, 554, -1]))
                                for _ in range(r.randint(1, 4))))
        elif tok == "L":
            out.append(" ".join(rstring(r) for _ in range(r.randint(1, 3))))
        elif tok == "M":
            out.append(rmapping(r))
        elif tok == "P":
            out.append(r.choice(PROTOS))
        elif tok == "A":
            out.append(r.choice(AUTHS))
        else:
            out.append(tok)
    return " ".join(out)


def sep(r):
    k = r.random()
    if k < 0.1:
        return " " + r.choice(NOISE) + " "
    if k < 0.3:
        return "\n  "
    if k < 0.33:
        return "  # comment\n"
    return " "


def entry(r):
    k = r.random()
    head = "poll" if k < 0.7 else ("skip" if k < 0.85 else "server")
    parts = [head, rstring(r)]
    for _ in range(r.randint(0, 4)):
        parts.append(expand(r.choice(SERVER), r))
    style = r.random()
    if style < 0.3:
        for _ in range(r.randint(0, 5)):
            parts.append(expand(r.choice(USEROPT), r))
    else:
        for _ in range(r.randint(1, 3)):
            u = r.random()
            if u < 0.6:
                parts.append("user " + rstring(r))
            elif u < 0.8:
                parts.append("user %s there" % rstring(r))
            else:
                parts.append("user %s here" % rmapping(r))
            for _ in range(r.randint(0, 5)):
                parts.append(expand(r.choice(USEROPT), r))
    return "".join(p + sep(r) for p in parts)


def rcfile(r):
    out = []
    if r.random() < 0.2:
        out.append("defaults " + " ".join(
            expand(r.choice(SERVER + USEROPT), r)
            for _ in range(r.randint(1, 4))))
    for _ in range(r.randint(0, 3)):
        if r.random() < 0.3:
            out.append("set " + expand(r.choice(GLOBAL), r))
        out.append(entry(r))
    text = "\n".join(out) + "\n"
    k = r.random()
    if k < 0.05:                 # lexical oddities
        text += r.choice(["# no newline", "\"unterminated", "'open",
                          "poll z user \"a\\\nb\"", "poll \"#x\" =",
                          "poll q user r pass a\\"])
    elif k < 0.1:
        text = text.replace(" ", r.choice([" ,", "\t", " ; ", "\r "]), 3)
    if r.random() < 0.08:        # break it somewhere
        words = text.split(" ")
        i = r.randrange(len(words))
        words.insert(i, r.choice(["poll", "user", "=", "123", "defaults",
                                  "is", "via", "no", "proto", "POLL"]))
        text = " ".join(words)
    return text


def run(binary, path, cwd, home):
    env = dict(os.environ)
    env["HOME"] = home
    env.pop("FETCHMAILHOME", None)
    p = subprocess.run([binary, "--configdump", "--nosyslog", "-f", path],
                       cwd=cwd, env=env, capture_output=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 4242
    try:
        v = subprocess.run([REF, "-V"], capture_output=True, timeout=20,
                           env=dict(os.environ, HOME=tempfile.gettempdir()))
        if b"release 6.4.37" not in v.stdout:
            raise OSError
    except (OSError, subprocess.SubprocessError):
        print("1..0 # SKIP reference fetchmail 6.4.37 not installed")
        return 0
    r = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="randdiff.")
    home = os.path.join(tmp, "home")
    os.mkdir(home)
    print("1..%d" % count)
    failed = 0
    try:
        for i in range(1, count + 1):
            text = rcfile(r)
            path = os.path.join(tmp, "r%04d.rc" % i)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o600)
            rs, ro, re_ = run(REF, path, tmp, home)
            cs, co, ce = run(OURS, path, tmp, home)
            ok = rs == cs
            if ok and rs == 0:
                ok = ro == co
            elif ok:
                loc = re.compile(rb"r\d+\.rc:\d+:")
                a, b = loc.search(re_), loc.search(ce)
                ok = (a.group(0) if a else None) == (b.group(0) if b else None)
            if ok:
                print("ok %d - random rcfile %d" % (i, i))
                continue
            failed += 1
            print("not ok %d - random rcfile %d (ref=%d ours=%d)" % (i, i, rs, cs))
            for line in text.splitlines():
                print("#   rc| " + line)
            for line in re_.decode(errors="replace").splitlines()[:3]:
                print("#  ref! " + line)
            for line in ce.decode(errors="replace").splitlines()[:3]:
                print("# ours! " + line)
            rl = ro.decode(errors="replace").splitlines()
            cl = co.decode(errors="replace").splitlines()
            for a, b in zip(rl, cl):
                if a != b:
                    print("#  ref| " + a)
                    print("# ours| " + b)
                    break
    finally:
        shutil.rmtree(tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
