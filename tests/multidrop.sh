#!/usr/bin/env bash
# Multidrop end to end (TAP): $FETCHMAIL fetches the corpus
# tests/multidrop/msgs (111 messages) from a private POP3 server under
# every rcfile of tests/multidrop/rc and delivers through the recording
# SMTP sink of tests/peers/faultpeer.py; what it did must equal what
# fetchmail 6.4.37 did, recorded in tests/multidrop/expected (see
# tests/multidrop/README and tests/multidrop-record.sh, whose approach
# this reuses).
#
# Per variant:
#   - the RCPT TO list of every delivered copy (sink/NNNN.env, matched to
#     its corpus message by the X-Corpus: line of sink/NNNN.eml) equals
#     the expected one, and no copy is delivered that should not be;
#   - tests/multidrop/refparse.py applied to our -v -v transcript and
#     sink gives the expected file exactly (RCPT lines, the recipient
#     discovery log lines, the X-Fetchmail-Warning, delivered or not).
# The dns-* variants resolve through tests/peers/dnsstub.py in a private
# mount namespace (root and unshare needed, else skipped); never the
# outside network.
# Then: the multidrop forms of fetchmail's Received: line; the duplicate
# check (same header as the previous message, no envelope); one variant
# served by a private Dovecot instead of faultpeer (skipped without
# Dovecot); and, when the reference is installed, a live differential run
# of the reference and $FETCHMAIL on a subset (RCPT lists and the form of
# the Received: line's last line).
#
# Environment: FETCHMAIL (ours), REF_FETCHMAIL (default /usr/bin/fetchmail).
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
FM=${FETCHMAIL:-${top_builddir:-$top}/fetchmail}
REF=${REF_FETCHMAIL:-/usr/bin/fetchmail}
md=$top/tests/multidrop

# shellcheck source=tests/peers/lib.sh disable=SC1091
. "$top/tests/peers/lib.sh"
if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP $FM not executable"
	exit 0
fi
peers_init || { echo "1..0 # SKIP no temporary directory"; exit 0; }
FAULTPEER_PYTHON=$(python3 -c 'import sys; print(sys.executable)')
export FAULTPEER_PYTHON

variants=()
for f in "$md"/rc/*.rc; do
	v=${f##*/}
	variants+=("${v%.rc}")
done
echo "1..$((2 * ${#variants[@]} + 9))"
# shellcheck source=tests/tap.sh disable=SC1091
. "$top/tests/tap.sh"

# ---------------------------------------------------------------- helpers
# run_fm BIN DIR POP3PORT SMTPPORT RC [wrap...]: one -v -v poll with a
# private HOME; the transcript in DIR/out
run_fm() {
	local bin=$1 dir=$2 p3=$3 sp=$4 rc=$5
	shift 5
	mkdir -p "$dir/home"
	chmod 700 "$dir/home"
	sed -e "s/@POP3@/$p3/g" -e "s/@SMTP@/$sp/g" "$rc" >"$dir/rc"
	chmod 600 "$dir/rc"
	"$@" env -i HOME="$dir/home" FETCHMAILHOME="$dir/home" \
	    PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C TZ=UTC \
	    timeout -k 5 120 "$bin" --nosyslog --pidfile "$dir/home/pid" \
	    -f "$dir/rc" -v -v </dev/null >"$dir/out" 2>&1
}

# sink_rcpts SINKDIR: "NNN<TAB>ADDR<TAB>ADDR..." per delivered copy, by
# X-Corpus.  faultpeer records the RCPT argument up to its first blank,
# decoded as Latin-1 (undone here).
sink_rcpts() {
	python3 - "$1" <<'EOF'
import os, re, sys
d = sys.argv[1]
out = []
for fn in sorted(os.listdir(d)) if os.path.isdir(d) else []:
    if not fn.endswith(".env"):
        continue
    base = os.path.join(d, fn[:-4])
    with open(base + ".eml", "rb") as f:
        m = re.search(rb"^X-Corpus: (\d+)", f.read(), re.M)
    with open(base + ".env", encoding="utf-8") as f:
        r = [l[8:].strip().strip("<>") for l in f if l.startswith("RCPT TO:")]
    def fix(a):
        try:
            return a.encode("latin-1").decode("utf-8")
        except (UnicodeError, ValueError):
            return a
    out.append("\t".join([m.group(1).decode() if m else "?"] + [fix(a) for a in r]))
print("\n".join(sorted(out)))
EOF
}

# expected_rcpts FILE [NNN...]: the same from an expected file (each
# address cut at its first blank, as faultpeer records it)
expected_rcpts() {
	python3 - "$@" <<'EOF'
import sys
want = set(sys.argv[2:])
out, cur, rc, st = [], None, [], None
def flush():
    if cur and st == "delivered" and (not want or cur[:3] in want):
        out.append("\t".join([cur[:3]] +
            [("<%s>" % a).split()[0].strip("<>") for a in rc]))
for l in open(sys.argv[1], encoding="utf-8"):
    l = l.rstrip("\n")
    if l.startswith("== "):
        flush(); cur, rc, st = l[3:], [], None
    elif l.startswith("rcpt "):
        rc.append(l[5:])
    elif l.startswith("status "):
        st = l[7:]
flush()
print("\n".join(sorted(out)))
EOF
}

msgs=()
for f in "$md"/msgs/*.eml; do msgs+=(--msg "$f"); done

# ------------------------------------------- every variant, from faultpeer
for v in "${variants[@]}"; do
	rc=$md/rc/$v.rc
	wrap=()
	if grep -q '^# needs dns-stub' "$rc"; then
		if ! peers_dns_stub "$md/dns.zone" pop.test.example; then
			skip "$v: RCPT TO per message" "no DNS stub (needs root, unshare)"
			skip "$v: transcript as the reference's" "no DNS stub"
			continue
		fi
		wrap=("${PEERS_DNSWRAP[@]}")
	fi
	d=$PEERS_TMP/$v
	if ! faultpeer_start "$d/fp" --user alice --password secret "${msgs[@]}"; then
		notok "$v: RCPT TO per message" "$PEERS_WHY"
		notok "$v: transcript as the reference's" "$PEERS_WHY"
		continue
	fi
	q0=0
	[ ${#wrap[@]} -gt 0 ] && q0=$(wc -l <"$PEERS_DNS_QUERIES")
	run_fm "$FM" "$d" "$FAULTPEER_POP3_PORT" "$FAULTPEER_SMTP_PORT" "$rc" \
	    "${wrap[@]}"
	[ ${#wrap[@]} -gt 0 ] &&
	    tail -n +"$((q0 + 1))" "$PEERS_DNS_QUERIES" >"$d/dns.queries"
	faultpeer_idle 20
	faultpeer_stop
	sink_rcpts "$d/fp/sink" >"$d/got.rcpt"
	expected_rcpts "$md/expected/$v.txt" >"$d/want.rcpt"
	n=$(grep -c . "$d/want.rcpt")
	if diff "$d/want.rcpt" "$d/got.rcpt" >"$d/rcpt.diff"; then
		ok "$v: RCPT TO of the $n delivered messages as the reference's"
	else
		notok "$v: RCPT TO per message" "$(head -20 "$d/rcpt.diff")"
	fi
	python3 "$md/refparse.py" "$d/out" "$d/fp/sink" "$md/msgs" >"$d/got.txt"
	if diff "$md/expected/$v.txt" "$d/got.txt" >"$d/txt.diff"; then
		ok "$v: transcript and warnings as the reference's"
	else
		notok "$v: transcript as the reference's" \
		    "$(head -20 "$d/txt.diff")" "exit: $(tail -3 "$d/out")"
	fi
done

# ------------------------------------------------ one lookup per name
# one poll asks the resolver for each address domain's verdict once: no
# MX question twice (every verdict not settled by the name's own A
# record asks one; broken.test.example answers SERVFAIL, a failure that
# is asked again), and alias1.test.example, named by four addresses in
# three messages, at most twice (its own verdict, and as the MX host of
# mxa.test.example); without the cache it was asked ten times
q=$PEERS_TMP/dns/dns.queries
if [ ! -f "$q" ]; then
	skip "one DNS lookup per name and poll" "the dns variant did not run"
elif [ "$(grep -c '^A alias1\.test\.example$' "$q")" -ge 1 ] &&
    [ "$(grep -c '^A alias1\.test\.example$' "$q")" -le 2 ] &&
    [ -z "$(grep '^MX ' "$q" | grep -v ' broken\.test\.example$' | sort | uniq -d)" ]; then
	ok "one DNS verdict per name and poll ($(grep -c '^MX ' "$q") MX, $(grep -c '^A ' "$q") A queries)"
else
	notok "one DNS verdict per name and poll" \
	    "$(sort "$q" | uniq -c | sort -rn | head -8)"
fi

# ------------------------------------------------ the Received: line forms
d=$PEERS_TMP/recv
third() {	# third line of our Received: in the copy of corpus NNN
	python3 - "$d/fp/sink" "$1" <<'EOF'
import os, re, sys
d, want = sys.argv[1:]
for fn in sorted(os.listdir(d)):
    if fn.endswith(".eml"):
        t = open(os.path.join(d, fn), "rb").read().decode("utf-8", "replace")
        t = t.replace("\r\n", "\n")
        if re.search(r"^X-Corpus: %s$" % want, t, re.M):
            l = t.split("\n")
            i = [k for k, x in enumerate(l) if x.startswith("Received: from ")][0]
            print(re.sub(r"\w{3}, \d\d \w{3} \d{4} .*$", "DATE", l[i + 2]))
EOF
}
# received_is NNN WANT DESC: the last line of our Received: in NNN's copy
received_is() {
	local got
	got=$(third "$1")
	if [ "$got" = "$2" ]; then ok "$3"; else notok "$3" "got: $got"; fi
}
received_is 001 "	for <alice@localhost> (multi-drop); DATE" \
    "Received: one recipient: for <ADDR> (multi-drop)"
received_is 002 "	DATE" "Received: two recipients: the date alone"
received_is 006 "	for <pm@localhost> (multi-drop); DATE" \
    "Received: postmaster fallback: for <pm@localhost> (multi-drop)"
w=$(grep -l '^X-Corpus: 006' "$d"/fp/sink/*.eml 2>/dev/null | head -1)
if [ -n "$w" ] && grep -q "^X-Fetchmail-Warning: recipient address nobody@nowhere.example didn't match any local name" "$w"; then
	ok "X-Fetchmail-Warning on the postmaster's copy"
else
	notok "X-Fetchmail-Warning on the postmaster's copy"
fi

# --------------------------------------------- the duplicate check
# the same header twice in a row, no envelope address: the second copy is
# refused (kept under the default softbounce), as the reference does
d=$PEERS_TMP/dup
mkdir -p "$d"
if faultpeer_start "$d/fp" --user alice --password secret \
    --msg "$md/msgs/002-to-two.eml" --msg "$md/msgs/002-to-two.eml" \
    --msg "$md/msgs/003-to-cc.eml"; then
	run_fm "$FM" "$d" "$FAULTPEER_POP3_PORT" "$FAULTPEER_SMTP_PORT" \
	    "$md/rc/recv.rc"
	faultpeer_idle 20
	faultpeer_stop
	if grep -qx "remaining=m2" "$d/fp/report.txt" &&
	    grep -qx "accepted=m1 m3" "$d/fp/report.txt"; then
		ok "duplicate header without envelope: refused and kept"
	else
		notok "duplicate header without envelope: refused and kept" \
		    "$(cat "$d/fp/report.txt")"
	fi
else
	notok "duplicate header without envelope" "$PEERS_WHY"
fi

# ------------------------------------------------- served by a real Dovecot
if peers_have dovecot && dovecot_add_user alice secret && dovecot_start &&
    dovecot_inject alice "$md"/msgs/*.eml; then
	d=$PEERS_TMP/dovecot
	if faultpeer_start "$d/fp" --messages 0; then
		run_fm "$FM" "$d" "$DOVECOT_POP3_PORT" "$FAULTPEER_SMTP_PORT" \
		    "$md/rc/xorig.rc"
		faultpeer_idle 20
		faultpeer_stop
		sink_rcpts "$d/fp/sink" >"$d/got.rcpt"
		expected_rcpts "$md/expected/xorig.txt" >"$d/want.rcpt"
		if diff "$d/want.rcpt" "$d/got.rcpt" >"$d/rcpt.diff"; then
			ok "Dovecot POP3, xorig: RCPT TO per message as the reference's"
		else
			notok "Dovecot POP3, xorig: RCPT TO per message" \
			    "$(head -20 "$d/rcpt.diff")"
		fi
	else
		notok "Dovecot POP3, xorig" "$PEERS_WHY"
	fi
else
	skip "Dovecot POP3, xorig" "${PEERS_WHY:-dovecot did not start}"
fi

# ------------------------------------ live differential with the reference
# a subset covering mapping, the postmaster, lists, Received and envelopes
sub=()
for f in "$md"/msgs/00[1-9]-*.eml "$md"/msgs/01[0-9]-*.eml; do
	sub+=(--msg "$f")
done
if [ -x "$REF" ]; then
	for who in ref ours; do
		bin=$FM
		[ $who = ref ] && bin=$REF
		d=$PEERS_TMP/live-$who
		faultpeer_start "$d/fp" --user alice --password secret "${sub[@]}" ||
		    break
		run_fm "$bin" "$d" "$FAULTPEER_POP3_PORT" "$FAULTPEER_SMTP_PORT" \
		    "$md/rc/recv.rc"
		faultpeer_idle 20
		faultpeer_stop
		sink_rcpts "$d/fp/sink" >"$d/rcpt"
		for f in "$d"/fp/sink/*.eml; do
			[ -f "$f" ] || continue
			tr -d '\r' <"$f" | awk '/^Received: from /{n=NR} n && NR==n+2 {
			    sub(/[A-Z][a-z][a-z], [0-9][0-9] .*$/, "DATE"); print; exit}'
		done >"$d/received"
	done
	if [ -s "$PEERS_TMP/live-ref/rcpt" ] &&
	    diff "$PEERS_TMP/live-ref/rcpt" "$PEERS_TMP/live-ours/rcpt" \
	    >"$PEERS_TMP/live.diff" &&
	    diff "$PEERS_TMP/live-ref/received" "$PEERS_TMP/live-ours/received" \
	    >>"$PEERS_TMP/live.diff"; then
		ok "live: the reference and ours route the subset alike (RCPT TO, Received: form)"
	else
		notok "live: the reference and ours route the subset alike" \
		    "$(head -20 "$PEERS_TMP/live.diff" 2>/dev/null)"
	fi
else
	skip "live differential" "no reference at $REF"
fi

# ------------------------------------------- multidrop no longer refused
d=$PEERS_TMP/recv
if ! grep -q "multidrop mode is not supported" "$d/out"; then
	ok "multidrop queries are not refused"
else
	notok "multidrop queries are not refused" "$(grep multidrop "$d/out")"
fi

[ "$failed" -eq 0 ]
