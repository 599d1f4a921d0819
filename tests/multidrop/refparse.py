#!/usr/bin/env python3
"""refparse.py -- turn one reference fetchmail -v -v run over the multidrop
corpus into an expected-results file (see tests/multidrop/README).

    refparse.py TRANSCRIPT SINKDIR MSGDIR >expected/VARIANT.txt

TRANSCRIPT is fetchmail's stdout+stderr, SINKDIR the faultpeer sink/
directory, MSGDIR the corpus (the N-th file, sorted, is message N)."""
import os
import re
import sys

READ = re.compile(r"reading message [^:]+:(\d+) of (\d+) \(")
# lines of the recipient discovery that the expected files keep
KEEP = re.compile(
    r"^(No envelope recipient found|Guessing from header|mapped |"
    r"passed through |no local matches|Parsing envelope|Parsing Received|"
    r"analyzing Received line|line accepted|line rejected|"
    r"no Received address found|found Received address|"
    r"forwarding and deletion suppressed|incorrect header line|"
    r"nameserver failure|"
    r"message .* was not the expected length)")


def sections(lines):
    """Yield (msgno, [lines]) for every message in the transcript."""
    cur, buf = None, []
    for ln in lines:
        m = READ.search(ln)
        if m:
            if cur is not None:
                yield cur, buf
            cur, buf = int(m.group(1)), []
            rest = ln[m.end():]
            rest = rest.split(")", 1)[1] if ")" in rest else ""
            if rest:
                buf.append(rest)
            continue
        if cur is not None:
            buf.append(ln)
    if cur is not None:
        yield cur, buf


def strip_prefix(ln):
    return ln[len("fetchmail: "):] if ln.startswith("fetchmail: ") else ln


def discovery(buf):
    """The kept log lines, with the continuation lines of a multi-line
    'analyzing Received line:' report (the raw field) folded in."""
    out, in_recv = [], False
    for ln in buf:
        s = strip_prefix(ln)
        if ln.startswith("fetchmail: ") or ln.startswith("About to rewrite") \
                or ln.startswith("...rewritten"):
            in_recv = False
        if KEEP.match(s):
            out.append(s)
            in_recv = s.startswith("analyzing Received line")
            continue
        if in_recv and not ln.startswith("fetchmail: "):
            out.append("  " + ln)
    return out


def warnings_by_corpus(sinkdir):
    """X-Corpus id -> X-Fetchmail-Warning text of the delivered copy."""
    res = {}
    if not os.path.isdir(sinkdir):
        return res
    for fn in sorted(os.listdir(sinkdir)):
        if not fn.endswith(".eml"):
            continue
        with open(os.path.join(sinkdir, fn), "rb") as f:
            text = f.read().decode("utf-8", "replace").replace("\r\n", "\n")
        m = re.search(r"^X-Corpus: (\d+)", text, re.M)
        if not m:
            continue
        head = text.split("\n\n", 1)[0]
        w = re.search(r"^X-Fetchmail-Warning: (.*(?:\n[ \t].*)*)", head, re.M)
        res[m.group(1)] = w.group(1) if w else None
    return res


def main():
    transcript, sinkdir, msgdir = sys.argv[1:4]
    with open(transcript, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    names = sorted(n for n in os.listdir(msgdir) if n.endswith(".eml"))
    warns = warnings_by_corpus(sinkdir)
    seen = {}
    for no, buf in sections(lines):
        seen[no] = buf
    for i, name in enumerate(names, 1):
        print("== %s" % name[:-4])
        buf = seen.get(i)
        if buf is None:
            print("status not-read")
            continue
        rcpts = [re.sub(r"^.*RCPT TO:<(.*)>.*$", r"\1", l) for l in buf
                 if "SMTP> RCPT TO:" in l]
        accepted = any(re.search(r"SMTP< 250 .*queued", l) for l in buf)
        for r in rcpts:
            print("rcpt %s" % r)
        for l in discovery(buf):
            print("log %s" % l)
        w = warns.get(name[:3])
        if w:
            print("warn %s" % w)
        print("status %s" % ("delivered" if accepted else "not-delivered"))


if __name__ == "__main__":
    main()
