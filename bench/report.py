#!/usr/bin/env python3
"""bench/report.py -- turn bench/run.sh's raw results into Markdown.

    report.py RESULTS.tsv META.txt

RESULTS.tsv (written by run.sh), one line a run, tab-separated:
    scenario program run seconds delivered expected bytes maxrss_kb exit
    status
(expected = messages in the mailbox, bytes = their size as stored)
status is "ok" or "FAILED: why".  META.txt holds "key<TAB>value" lines
(date, machine, versions, message counts, notes).  Prints the Markdown
report on stdout; exit 0 whatever the targets say.
"""

import statistics
import sys

SCEN = {
    "lmtp": "1. POP3 -> LMTP (Dovecot)",
    "smtp": "2. POP3 -> SMTP (Postfix)",
    "mda": "3. POP3 -> MDA",
    "rtt": "4. POP3 at 20 ms RTT -> MDA",
    "big": "5. one 50 MB message -> MDA",
    "imap-mda": "6. IMAP -> MDA",
    "imap-lmtp": "7. IMAP -> LMTP (Dovecot)",
    "imap-rtt": "8. IMAP at 20 ms RTT -> MDA",
}
ORDER = ["lmtp", "smtp", "mda", "rtt", "big", "imap-mda", "imap-lmtp",
         "imap-rtt"]
PROGS = ["ours", "ref", "mpop", "mbsync", "ceiling"]
PNAME = {"ours": "ours", "ref": "reference 6.4.37", "mpop": "mpop",
         "mbsync": "mbsync (writes a Maildir, no MDA)",
         "ceiling": "ceiling: delivery only, no POP3/IMAP"}
# The other client each scenario compares with (column "ours/other").
OTHER = ("mpop", "mbsync")
# Figures the issue states for the reference and mpop on this kind of
# machine (for comparison only; the targets use what is measured here).
ISSUE = {
    ("lmtp", "ref"): "23-24 msg/s", ("smtp", "ref"): "23-24 msg/s",
    ("mda", "ref"): "623 msg/s", ("mda", "mpop"): "756 msg/s",
    ("rtt", "ref"): "13.3 s", ("rtt", "mpop"): "0.65 s",
    ("big", "ref"): "4.9 MB RSS",
    ("imap-mda", "ref"): "126 msg/s (10 000 msgs)",
    ("imap-mda", "mbsync"): "1 712 msg/s (Maildir)",
    ("imap-lmtp", "ref"): "22 msg/s",
    ("imap-rtt", "ref"): "17.6 s", ("imap-rtt", "mbsync"): "0.28 s",
}
TIMED = ("rtt", "imap-rtt")     # targets by time rather than msg/s
RSS_LIMIT_KB = 6 * 1024         # 6 MB, MB = 1024 KiB as time(1) counts


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 10:
                continue
            rows.append(dict(scen=p[0], prog=p[1], run=int(p[2]),
                             secs=float(p[3]), delivered=int(p[4]),
                             expected=int(p[5]), bytes=int(p[6]),
                             rss=int(p[7] or 0), exit=p[8], status=p[9]))
    return rows


def meta_load(path):
    m = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            m.setdefault(k, []).append(v)
    return m


def fmt_s(x):
    return "%.3f" % x if x < 10 else "%.2f" % x


def mb(kb):
    return "%.1f" % (kb / 1024.0)


def main():
    rows = load(sys.argv[1])
    meta = meta_load(sys.argv[2])
    one = lambda k, d="": meta.get(k, [d])[0]
    out = []
    w = out.append
    w("# Benchmark: ours vs fetchmail 6.4.37 vs mpop / mbsync")
    w("")
    w("Produced by `bench/run.sh%s` on %s." % (
        (" " + one("args")) if one("args") else "", one("date")))
    w("")
    w("## Machine and versions")
    w("")
    for k in ("machine", "cpu", "memory", "kernel", "load", "ours",
              "reference",
              "mpop", "mbsync", "dovecot", "postfix", "python"):
        if k in meta:
            w("- %s: %s" % (k, one(k)))
    w("")
    w("## Setup")
    w("")
    for v in meta.get("setup", []):
        w("- " + v)
    for v in meta.get("note", []):
        w("- **note:** " + v)
    w("")

    # Per scenario and program: medians over the successful runs; a
    # program with any failed run in a scenario is FAILED there.
    stat = {}
    for s in ORDER:
        for p in PROGS:
            rs = [r for r in rows if r["scen"] == s and r["prog"] == p]
            if not rs:
                continue
            ok = [r for r in rs if r["status"] == "ok"]
            bad = [r for r in rs if r["status"] != "ok"]
            st = dict(n=len(rs), ok=len(ok), bad=bad, runs=rs)
            if ok and not bad:
                st["secs"] = statistics.median(r["secs"] for r in ok)
                st["rate"] = ok[0]["expected"] / st["secs"]
                st["rss"] = statistics.median(r["rss"] for r in ok)
                st["rssmax"] = max(r["rss"] for r in ok)
                st["msgs"] = ok[0]["expected"]
            stat[(s, p)] = st

    def good(s, p):
        return (s, p) in stat and "secs" in stat[(s, p)]

    def speedup(s, a, b):
        """How many times faster a is than b (b's time / a's time)."""
        if good(s, a) and good(s, b):
            return stat[(s, b)]["secs"] / stat[(s, a)]["secs"]
        return None

    w("## Results (medians)")
    w("")
    w("| scenario | program | runs ok | median s | msg/s | peak RSS MB "
      "| ours/ref | ours/mpop or mbsync | issue's figure |")
    w("|---|---|---|---|---|---|---|---|---|")
    for s in ORDER:
        for p in PROGS:
            if (s, p) not in stat:
                continue
            st = stat[(s, p)]
            runs = "%d/%d" % (st["ok"], st["n"])
            if good(s, p) and s == "big":
                cells = [fmt_s(st["secs"]), "%.1f MB/s" % (
                    st["runs"][0]["bytes"] / 1e6 / st["secs"]),
                         mb(st["rss"])]
            elif good(s, p):
                cells = [fmt_s(st["secs"]), "%.1f" % st["rate"],
                         mb(st["rss"])]
            else:
                why = st["bad"][0]["status"] if st["bad"] else "no run"
                cells = ["**FAILED**", "-", "-"]
                runs += " (%s)" % why.replace("|", "/")
            r1 = r2 = ""
            if p == "ceiling":
                cells[2] = "-"
                x = speedup(s, "ceiling", "ref")
                r1 = "(%.2fx)" % x if x else "-"
            if p == "ours":
                x = speedup(s, "ours", "ref")
                r1 = "%.2fx" % x if x else "-"
                r2 = ""
                for o in OTHER:
                    if (s, o) in stat:
                        x = speedup(s, "ours", o)
                        r2 = "%.2fx" % x if x else "-"
            w("| %s | %s | %s | %s | %s | %s |" % (
                SCEN[s], PNAME[p], runs, " | ".join(cells),
                " | ".join([r1, r2]), ISSUE.get((s, p), "")))
    w("")
    w("msg/s = messages / median wall time of the client run (login to "
      "QUIT/LOGOUT); ours/ref and ours/mpop or mbsync = how many times "
      "faster ours is (their median time / ours).  Peak RSS = median over the runs of "
      "/usr/bin/time's maximum resident set size (the client and the MDA "
      "processes it waited for).")
    if any(p == "ceiling" for (s, p) in stat):
        w("")
        w("Ceiling (\"delivery only, no POP3/IMAP\"): the same messages "
          "delivered without any POP3 or IMAP client, in turn with the clients: for LMTP/SMTP "
          "by bench/ceiling.py straight into the server (one connection, "
          "MAIL/RCPT/DATA pipelined, TCP_NODELAY), for the MDA scenarios by "
          "bench/ceiling.py --mda starting the MDA once per message with "
          "popen(3) as fetchmail and mpop do.  It is the "
          "most a client delivering one message at a time can reach on this "
          "machine; in brackets, that as a multiple of the reference.  A "
          "target above the bracketed figure cannot be reached here whatever "
          "the client does.")
    w("")

    w("## Targets")
    w("")
    w("| target | required | measured | result |")
    w("|---|---|---|---|")

    def target(label, s, need):
        x = speedup(s, "ours", "ref")
        if not any(r["scen"] == s for r in rows):
            w("| %s | >= %gx reference | not measured in this run | - |" % (
                label, need))
            return
        if (s, "ours") not in stat:
            w("| %s | >= %gx reference | not run | **FAIL** |" % (label, need))
            return
        if x is None:
            who = "ours" if not good(s, "ours") else "reference"
            w("| %s | >= %gx reference | %s FAILED | **FAIL** |" % (
                label, need, who))
            return
        c = speedup(s, "ceiling", "ref")
        note = ""
        if c is not None and x < need:
            note = "; ceiling %.1fx" % c
        if s in TIMED:
            what = "%s s vs %s s" % (fmt_s(stat[(s, "ours")]["secs"]),
                                     fmt_s(stat[(s, "ref")]["secs"]))
        else:
            what = "%.1f vs %.1f msg/s" % (stat[(s, "ours")]["rate"],
                                           stat[(s, "ref")]["rate"])
        w("| %s | >= %gx reference | %.2fx (%s%s) | %s |" % (
            label, need, x, what, note, "PASS" if x >= need else "**FAIL**"))

    # A run of only POP3 (or only IMAP) scenarios lists only those targets.
    imap = any(r["scen"].startswith("imap-") for r in rows)
    pop3 = any(not r["scen"].startswith("imap-") for r in rows)
    show_pop3, show_imap = pop3 or not imap, imap or not pop3
    if show_pop3:
        target("LMTP throughput", "lmtp", 40)
        target("SMTP throughput", "smtp", 40)
        target("MDA throughput", "mda", 1.5)
        target("time at 20 ms RTT", "rtt", 20)
    if not show_pop3:
        pass
    elif not any(r["scen"] == "big" for r in rows):
        w("| peak RSS, 50 MB message | <= 6 MB | not measured in this run "
          "| - |")
    elif ("big", "ours") not in stat:
        w("| peak RSS, 50 MB message | <= 6 MB | not run | **FAIL** |")
    elif not good("big", "ours"):
        w("| peak RSS, 50 MB message | <= 6 MB | ours FAILED | **FAIL** |")
    else:
        kb = stat[("big", "ours")]["rssmax"]
        w("| peak RSS, 50 MB message | <= 6 MB | %s MB (max over %d run(s)) "
          "| %s |" % (mb(kb), stat[("big", "ours")]["ok"],
                      "PASS" if kb <= RSS_LIMIT_KB else "**FAIL**"))
    if show_imap:
        target("IMAP -> MDA throughput", "imap-mda", 6)
        target("IMAP -> LMTP throughput", "imap-lmtp", 40)
        target("IMAP time at 20 ms RTT", "imap-rtt", 50)
    w("")

    w("## Every run")
    w("")
    w("In the order they ran (programs alternate within each scenario).")
    w("")
    w("| scenario | program | run | seconds | delivered | max RSS KB "
      "| exit | status |")
    w("|---|---|---|---|---|---|---|---|")
    for r in rows:
        w("| %s | %s | %d | %s | %d/%d | %d | %s | %s |" % (
            r["scen"], r["prog"], r["run"], fmt_s(r["secs"]),
            r["delivered"], r["expected"], r["rss"], r["exit"],
            r["status"].replace("|", "/")))
    w("")
    if "runtime" in meta:
        w("Total runtime of bench/run.sh: %s s." % one("runtime"))
        w("")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
