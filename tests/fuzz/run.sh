#!/bin/sh
# Run the fuzz targets for a bounded time each (TAP): the rcfile parser
# seeded with the golden rcfiles, the .netrc reader and the POP3 reply
# parsers, the UID store, the message header processing, the multidrop
# address and recipient parsing and the IMAP response parsers seeded with
# a few samples, and the SASL mechanisms' challenge parsers.  FUZZ_SECONDS
# sets each budget (default 30).
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${top_builddir:-.}
echo "1..8"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# fuzz NAME CORPUSDIR: run one target, print one TAP line
k=0
fuzz() {
	k=$((k+1))
	bin=$build/tests/fuzz/$1
	if [ ! -x "$bin" ]; then
		echo "ok $k # SKIP $1 not built"
		return
	fi
	if "$bin" -max_total_time="${FUZZ_SECONDS:-30}" -max_len=4096 \
	    -artifact_prefix="$work/$1-" "$2" >"$work/$1.log" 2>&1; then
		echo "ok $k - $1 ran $(grep -o 'Done [0-9]* runs' "$work/$1.log")"
	else
		echo "not ok $k - $1 found a crash"
		tail -40 "$work/$1.log" | sed 's/^/# /'
		for a in "$work/$1-"*; do
			[ -f "$a" ] && { echo "# input:"; od -c "$a" | head -20 | sed 's/^/# /'; }
		done
	fi
}

mkdir "$work/rc" "$work/netrc"
for f in "$top"/tests/rc/*.rc "${CONFORMANCE_DIR:-/nonexistent}"/*.rc; do
	[ -f "$f" ] && cp "$f" "$work/rc/"
done
printf 'machine mail.example.com login user password secret\n' >"$work/netrc/1"
printf 'default login x password y\nmachine a\n login user\n password "q w"\nmacdef init\nx\n\n' >"$work/netrc/2"
fuzz fuzz_rcfile "$work/rc"
fuzz fuzz_netrc "$work/netrc"
mkdir "$work/pop3"
printf '+OK Dovecot ready. <1.2@host>\nCAPA\nSASL PLAIN CRAM-MD5\n.\n1 whqtsw\n+OK 2 320\n' >"$work/pop3/1"
fuzz fuzz_pop3 "$work/pop3"
mkdir "$work/ids"
printf 'alice@pop.example.com whqtsw\nbob@h 1.2\nbob@h/INBOX 7 %%uidvalidity\n' >"$work/ids/1"
fuzz fuzz_uidstore "$work/ids"
mkdir "$work/msg"
printf '\000Return-Path: <rp@example.net>\r\nFrom: "Q, x" <a@x>, (c) bob\r\nTo: alice, <b> (B),\r\n carol;\r\nReceived: from mx\r\n\r\nbody\r\n' >"$work/msg/1"
printf '\002Sender: host!bob\nCc: grp: a, "b\\" c"@d;, <>\nStatus:\nX-IMAP: 1\nMIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\nx\n' >"$work/msg/2"
printf '\001\nheaderless body\n' >"$work/msg/3"
printf '\000From x\n>From y\nbad line\nTo: a\\,b, ,,c(d (e) f) <g\n >\nX-N: \000\n' >"$work/msg/4"
fuzz fuzz_msg "$work/msg"
mkdir "$work/imap"
printf '* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=CRAM-MD5] ready\n* 4294967295 EXISTS\n* 1 FETCH (UID 7 RFC822.SIZE 84 FLAGS (\\Seen))\nA0001 OK [READ-WRITE] done\n' >"$work/imap/1"
printf '* 1 FETCH (UID 7 BODY[] {84}\n)\n* 2 FETCH (ENVELOPE ("d" {4}\n NIL ((a b))) BODY[HEADER.FIELDS (A B)] {2}\n UID 3)\n+ PDEyMzQ+\n' >"$work/imap/2"
fuzz fuzz_imap "$work/imap"
mkdir "$work/rcpt"
printf '\000Received: from a by mx.example.org with SMTP\n\tfor <@r:bob@mx.example.org>; x\nTo: team: a@mx.example.org, "q, x" <b@b>;\nCc: (c (d)) <c@example.org> e@a\n' >"$work/rcpt/1"
printf '\022X-Original-To: pre-j@x.example, <a\nResent-To: "unbalanced\nDelivered-To: alice@b\n' >"$work/rcpt/2"
fuzz fuzz_rcpt "$work/rcpt"
mkdir "$work/sasl"
printf '\003\041\000r=fuzzXYZ,s=QSXCR+Q6sek8bf92,i=16\036\000v=rmF9pqV8S7suAoZWja4dJRkFsKQ=' >"$work/sasl/1"
printf '\005\023\000otp-md5 99 TeSt ext' >"$work/sasl/2"
printf '\012\020\000{"status":"401"}' >"$work/sasl/3"
fuzz fuzz_sasl "$work/sasl"
