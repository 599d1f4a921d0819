#!/usr/bin/env python3
"""bench/gen-mailbox.py -- deterministic benchmark messages.

    gen-mailbox.py [--count 1000] [--total-mb 33] [--seed 1] OUTDIR
    gen-mailbox.py --big-mb 50 [--seed 1] OUTDIR

Writes one RFC 5322 message per file into OUTDIR (LF line ends, as Dovecot
stores Maildir files), named the way Dovecot names its own Maildir files:

    1700000000.M<n>P4242.bench,S=<bytes>,W=<bytes with CRLF line ends>

so that OUTDIR's files can be hard-linked into a Maildir's new/ as they are
(S= and W= spare Dovecot reading every file for the sizes; Dovecot's own
deliveries carry the same fields).  The same arguments give the same bytes
on every machine and every run (random.Random(seed), fixed dates).

The mix for --count (about --total-mb MB, 1 MB = 10^6 bytes, in total):
  ~58 %  plain text mails, 1.5-9 KB (Received chain, DKIM, list headers)
  ~27 %  multipart/alternative text + HTML (quoted-printable), 6-45 KB
  ~12 %  mails with a base64 attachment (PDF/image), 40-400 KB
   ~3 %  mails with a large base64 attachment, 0.4-2.5 MB
then every size is scaled so that the total comes out at --total-mb.
Bodies contain lines starting with "." (dot-stuffing), "From " lines,
UTF-8 text and long lines, as real mail does.

--big-mb writes one message of that size (a short text part and one base64
attachment) for the peak-RSS scenario.

Message n is the file with "M<n>P" in its name: a smaller scenario (say
200 messages) takes messages 1..200 of the same set (same mix).
"""

import argparse
import base64
import os
import random
import sys

WORDS = ("the of and to in is that for it as was with be by on not he this "
         "are or his from at which but have an they you were her she there "
         "been one all we their has would when if so no will more can out "
         "about up them some could into only time other new these two may "
         "first then do any like my now over such our man me even most made "
         "after also did many before must through back years where much "
         "your way well down should because each just those people how too "
         "little state good very make world still own see men work long get "
         "here between both life being under never day same another know "
         "while last might us great old year off come since against go came "
         "right used take three meeting report invoice release server patch "
         "build config backup schedule budget review deadline customer "
         "mailbox kernel package upstream regression benchmark latency "
         "throughput delivery retrieval pipeline quarterly attached please "
         "thanks regards following agenda minutes proposal draft").split()
UTF8 = ["Grüße", "naïve", "café", "Überweisung", "façade", "Zürich",
        "smörgåsbord", "résumé", "Ελλάδα", "Москва", "東京", "€100"]
FIRST = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi",
         "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert",
         "Sybil", "Trent", "Victor", "Walter", "Zoë"]
LAST = ["Smith", "Jones", "Müller", "Garcia", "Rossi", "Dubois", "Novak",
        "Kowalski", "Jensen", "Tanaka", "Silva", "O'Brien"]
DOMAINS = ["example.com", "example.net", "example.org", "lists.example.org",
           "mail.example.com", "corp.example.net"]
LISTS = ["dev", "announce", "users", "security", "ops", "releases"]
DOWS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]
EPOCH = 1700000000


def date_of(t):
    """An RFC 5322 date for Unix time t (UTC, no locale, no time module)."""
    days, rem = divmod(t, 86400)
    hh, rem = divmod(rem, 3600)
    mm, ss = divmod(rem, 60)
    dow = DOWS[(days + 3) % 7]           # 1970-01-01 was a Thursday
    # civil_from_days (Howard Hinnant)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    return "%s, %d %s %d %02d:%02d:%02d +0000" % (
        dow, d, MONTHS[m - 1], y, hh, mm, ss)


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def person(self):
        r = self.r
        f, l = r.choice(FIRST), r.choice(LAST)
        addr = "%s.%s@%s" % (f.lower(), l.lower().replace("'", ""),
                             r.choice(DOMAINS))
        addr = addr.encode("ascii", "ignore").decode()
        name = "%s %s" % (f, l)
        if any(ord(c) > 127 for c in name):
            name = "=?UTF-8?B?%s?=" % base64.b64encode(
                name.encode()).decode()
        return name, addr

    def sentence(self, n=None):
        r = self.r
        n = n or r.randint(6, 18)
        w = [r.choice(WORDS) for _ in range(n)]
        if r.random() < 0.08:
            w[r.randrange(n)] = r.choice(UTF8)
        s = " ".join(w)
        return s[0].upper() + s[1:] + r.choice(".....?!")

    def paragraph(self, width=72):
        """Word-wrapped text with the odd tricky line."""
        r = self.r
        words = " ".join(self.sentence() for _ in range(r.randint(2, 7)))
        lines, cur = [], ""
        for w in words.split(" "):
            if cur and len(cur) + 1 + len(w) > width:
                lines.append(cur)
                cur = w
            else:
                cur = cur + " " + w if cur else w
        if cur:
            lines.append(cur)
        x = r.random()
        if x < 0.05:
            lines.append(".")                       # a lone dot
        elif x < 0.12:
            lines.append("..and a line that starts with dots")
        elif x < 0.17:
            lines.append(". " + self.sentence(5))
        elif x < 0.21:
            lines.append("From the " + self.sentence(6))  # mbox From_
        elif x < 0.23:
            lines.append("x" * r.randint(200, 990))         # long line
        if r.random() < 0.15:
            lines = ["> " + l for l in lines]               # a quote
        return "\n".join(lines)

    def text(self, size):
        out, n = [], 0
        while n < size:
            p = self.paragraph()
            out.append(p)
            n += len(p.encode()) + 2
        return "\n\n".join(out)

    def qp(self, s):
        """Quoted-printable for UTF-8 text (soft line breaks at 76)."""
        out = []
        for line in s.split("\n"):
            enc, cur = [], ""
            for b in line.encode():
                c = chr(b)
                if b == 61 or b > 126 or (b < 32 and b != 9):
                    c = "=%02X" % b
                if len(cur) + len(c) > 75:
                    enc.append(cur + "=")
                    cur = ""
                cur += c
            if cur.endswith(" ") or cur.endswith("\t"):
                cur = cur[:-1] + "=%02X" % ord(cur[-1])
            enc.append(cur)
            out.append("\n".join(enc))
        return "\n".join(out)

    def b64(self, nbytes):
        data = self.r.randbytes(nbytes)
        s = base64.b64encode(data).decode()
        return "\n".join(s[i:i + 76] for i in range(0, len(s), 76))

    def headers(self, i, subject, ctype, extra=()):
        r = self.r
        fname, faddr = self.person()
        tname, taddr = self.person()
        t = EPOCH + i * 617 + r.randint(0, 600)
        h = []
        hops = r.randint(2, 5)
        for k in range(hops):
            a, b = r.randint(1, 254), r.randint(1, 254)
            h.append("Received: from mx%d.%s (mx%d.%s [192.0.2.%d])\n"
                     "\tby mail%d.%s (Postfix) with ESMTPS id %08X%02X\n"
                     "\tfor <%s>; %s" % (
                         a % 9, r.choice(DOMAINS), a % 9, r.choice(DOMAINS),
                         a, b % 5, r.choice(DOMAINS), r.getrandbits(32),
                         k, taddr, date_of(t - 60 * (hops - k))))
        if r.random() < 0.7:
            sig = base64.b64encode(r.randbytes(256)).decode()
            h.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;"
                     " d=%s;\n\ts=sel%d; t=%d;\n\th=from:to:subject:date:"
                     "message-id:mime-version:content-type;\n\tbh=%s;\n\tb=%s"
                     % (faddr.split("@")[1], r.randint(1, 9), t,
                        base64.b64encode(r.randbytes(32)).decode(),
                        "\n\t  ".join(sig[j:j + 70]
                                      for j in range(0, len(sig), 70))))
        h.append("Authentication-Results: mail.example.org; spf=pass "
                 "smtp.mailfrom=%s;\n\tdkim=pass header.d=%s" % (
                     faddr, faddr.split("@")[1]))
        h.append("Return-Path: <%s>" % faddr)
        h.append("From: %s <%s>" % (fname, faddr))
        h.append("To: %s <%s>" % (tname, taddr))
        if r.random() < 0.3:
            h.append("Cc: " + ",\n\t".join(
                "%s <%s>" % self.person() for _ in range(r.randint(1, 4))))
        h.append("Subject: " + subject)
        h.append("Date: " + date_of(t))
        h.append("Message-ID: <%d.%08x.bench@%s>" % (
            i, r.getrandbits(32), faddr.split("@")[1]))
        if r.random() < 0.4:
            h.append("In-Reply-To: <%d.%08x.bench@%s>" % (
                max(i - r.randint(1, 50), 0), r.getrandbits(32),
                r.choice(DOMAINS)))
        if r.random() < 0.35:
            lst = r.choice(LISTS)
            h.append("List-Id: %s list <%s.lists.example.org>" % (lst, lst))
            h.append("List-Unsubscribe: <mailto:%s-leave@lists.example.org>"
                     % lst)
            h.append("Precedence: list")
        h.append("X-Spam-Status: No, score=%.1f required=5.0" % (
            r.uniform(-3, 4)))
        h.append("MIME-Version: 1.0")
        h.extend(extra)
        h.append("Content-Type: " + ctype)
        return "\n".join(h)

    def subject(self, i):
        s = self.sentence(self.r.randint(3, 9)).rstrip(".?!")
        if any(ord(c) > 127 for c in s):
            s = "=?UTF-8?Q?%s?=" % "".join(
                c if c.isalnum() and ord(c) < 128 else
                "".join("=%02X" % b for b in c.encode()) for c in s)
        pre = self.r.choice(["", "", "", "Re: ", "Fwd: ", "[dev] "])
        return "%s%s (#%d)" % (pre, s, i)

    def message(self, i, size, kind):
        """Message i of about size bytes: kind plain|alt|att."""
        r = self.r
        if kind == "plain":
            hdr = self.headers(i, self.subject(i),
                               "text/plain; charset=UTF-8",
                               ["Content-Transfer-Encoding: 8bit"])
            body = self.text(max(size - len(hdr) - 2, 200))
            return hdr + "\n\n" + body + "\n"
        bnd = "=_bench_%d_%08x" % (i, r.getrandbits(32))
        if kind == "alt":
            hdr = self.headers(i, self.subject(i),
                               'multipart/alternative;\n\tboundary="%s"' % bnd)
            room = max(size - len(hdr) - 400, 400)
            txt = self.text(room * 2 // 5)
            paras = txt.split("\n\n")
            html = ("<html><head><meta charset=\"utf-8\"></head><body>\n" +
                    "\n".join("<p style=\"margin:0 0 1em 0\">%s</p>" %
                              p.replace("\n", " ") for p in paras) +
                    "\n</body></html>")
            return (hdr + "\n\nThis is a multi-part message in MIME format.\n"
                    "\n--%s\nContent-Type: text/plain; charset=UTF-8\n"
                    "Content-Transfer-Encoding: quoted-printable\n\n%s\n"
                    "\n--%s\nContent-Type: text/html; charset=UTF-8\n"
                    "Content-Transfer-Encoding: quoted-printable\n\n%s\n"
                    "\n--%s--\n" % (bnd, self.qp(txt), bnd, self.qp(html),
                                    bnd))
        # att
        hdr = self.headers(i, self.subject(i),
                           'multipart/mixed;\n\tboundary="%s"' % bnd)
        txt = self.text(r.randint(300, 3000))
        name, mime = r.choice([("report.pdf", "application/pdf"),
                               ("photo.jpg", "image/jpeg"),
                               ("slides.pptx", "application/vnd.openxmlformats"
                                "-officedocument.presentationml.presentation"),
                               ("data.zip", "application/zip")])
        room = max(size - len(hdr) - len(txt.encode()) - 500, 300)
        att = self.b64(room * 57 // 77)
        return (hdr + "\n\nThis is a multi-part message in MIME format.\n"
                "\n--%s\nContent-Type: text/plain; charset=UTF-8\n"
                "Content-Transfer-Encoding: 8bit\n\n%s\n"
                "\n--%s\nContent-Type: %s; name=\"%s\"\n"
                "Content-Disposition: attachment; filename=\"%s\"\n"
                "Content-Transfer-Encoding: base64\n\n%s\n\n--%s--\n" % (
                    bnd, txt, bnd, mime, name, name, att, bnd))


def write(outdir, i, text):
    data = text.encode()
    vsize = len(data) + data.count(b"\n")
    name = "%d.M%dP4242.bench,S=%d,W=%d" % (EPOCH, i, len(data), vsize)
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)
    return len(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--total-mb", type=float, default=33.0)
    ap.add_argument("--big-mb", type=float, default=0,
                    help="write one message of this size instead")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("outdir")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    g = Gen(a.seed)
    if a.big_mb:
        size = int(a.big_mb * 1e6)
        n = write(a.outdir, 1, g.message(1, size, "att"))
        print("%s: 1 message, %d bytes" % (a.outdir, n))
        return 0
    # Sizes and kinds first (one stream of choices), then the bodies.
    plan = []
    for i in range(1, a.count + 1):
        x = g.r.random()
        if x < 0.58:
            plan.append(["plain", g.r.uniform(1500, 9000)])
        elif x < 0.85:
            plan.append(["alt", g.r.uniform(6000, 45000)])
        elif x < 0.97:
            plan.append(["att", g.r.uniform(40000, 400000)])
        else:
            plan.append(["att", g.r.uniform(400000, 2500000)])
    # Scale only what can grow freely (HTML and attachments) so that small
    # text mails stay small and the total is about --total-mb.
    fixed = sum(s for k, s in plan if k == "plain")
    free = sum(s for k, s in plan if k != "plain")
    want = a.total_mb * 1e6
    scale = max((want - fixed) / free, 0.1) if free else 1
    total = 0
    for i, (kind, size) in enumerate(plan, 1):
        if kind != "plain":
            size *= scale
        total += write(a.outdir, i, g.message(i, int(size), kind))
    print("%s: %d messages, %d bytes" % (a.outdir, a.count, total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
