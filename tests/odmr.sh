#!/usr/bin/env bash
# ODMR (RFC 2645) against a scripted ODMR server (TAP producer).
#
# tests/peers/odmrpeer.py plays the ODMR server of RFC 2645's example:
# EHLO offering AUTH CRAM-MD5 and ATRN, checks the CRAM-MD5 response
# against the password, answers ATRN per scenario and, after "250", turns
# the connection around and delivers messages by SMTP through fetchmail
# into a private Postfix (tests/peers/lib.sh; fetchmail's smtphost),
# whose Maildirs are then checked.  Per fetchmail binary ($FETCHMAIL,
# then the reference when installed):
#   ok      one message: exit 0, "Turnaround now...", "receiving message
#           data", "Polling 127.0.0.1"; the peer saw ATRN a.test,b.test
#           and 250 after the data; the message is in bob's Maildir
#   hunt    smtphost 127.0.0.1/1 (refused) then Postfix, two messages
#   450 451 453 502 530 badauth noatrn other close: the reply mapping
#   nolistener  no smtphost answers: status 2
#   keep    refused before connecting: status 5
# ours only: a server silent after the turnaround ends the relay after
# the query's timeout (status 2; the reference waits for ever).
# Every case's exit code and log lines (-v transcripts; ports, queue ids
# and the CRAM-MD5 challenge and response masked) are compared between
# $FETCHMAIL and the reference.
#
# Environment: FETCHMAIL (ours), REF_FETCHMAIL (default /usr/bin/fetchmail),
# PEERS_KEEP=1.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
FM=${FETCHMAIL:-${top_builddir:-$top}/fetchmail}
REF=${REF_FETCHMAIL:-/usr/bin/fetchmail}
PEER=$top/tests/peers/odmrpeer.py
export PEERS_FETCHMAIL_TIMEOUT=${PEERS_FETCHMAIL_TIMEOUT:-40}
# shellcheck source=tests/peers/lib.sh disable=SC1091
. "$top/tests/peers/lib.sh"

if ! peers_have postfix; then
	echo "1..0 # SKIP $PEERS_WHY"
	exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP fetchmail under test ($FM) not executable"
	exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
BINS="$FM"
[ -x "$REF" ] && [ "$REF" != "$FM" ] && BINS="$FM $REF"
# shellcheck source=tests/tap.sh disable=SC1091
. "$top/tests/tap.sh"
bail() {
	echo "Bail out! $*"
	peers_dump_logs 30
	exit 1
}

postfix_start || bail "postfix did not start"
W=$PEERS_TMP/work
mkdir -p "$W"
printf 'From: a@odmr.test\nTo: bob@localhost\nSubject: odmr one\n\nhello one\n.dot line\n' >"$W/m1"
printf 'From: a@odmr.test\nTo: carol@localhost\nSubject: odmr two\n\nhello two\n' >"$W/m2"
# lines longer than the relay's 8192-byte pieces, dot lines
python3 - "$W/m3" "$W/m3.body" <<'EOF'
import sys
body = ("A" * 20000 + "\n.\n..two dots\n" + "b" * 8191 + "\n" +
        "c" * 8192 + "\n")
with open(sys.argv[1], "w") as f:
    f.write("From: a@odmr.test\nTo: bob@localhost\nSubject: long\n\n" + body)
with open(sys.argv[2], "w") as f:
    f.write(body)
EOF
n_runs=0
LISTENER=127.0.0.1/$POSTFIX_SMTP_PORT

bintag() { if [ "$1" = "$FM" ]; then echo ours; else echo ref; fi; }

# run BIN TAG SCENARIO SERVEROPTS SMTPHOSTS "PEER ARGS" [FETCHMAIL ARGS...]:
# a fresh peer (none for SCENARIO "none"), one fetchmail run (-v); exit code, stdout, stderr, the
# peer's exit code and log in $W/TAG.BINTAG.{rc,out,err,prc,plog}
run() {
	local bin=$1 tag=$2 sc=$3 sopts=$4 hosts=$5 pargs=$6 bt pp f
	shift 6
	bt=$(bintag "$bin")
	n_runs=$((n_runs + 1))
	f=$W/$tag.$bt
	rm -f "$f.ready" "$f.plog"
	if [ "$sc" = none ]; then	# refused before connecting: no peer
		echo 1 >"$f.ready"
		pp=
	else
		# shellcheck disable=SC2086
		python3 "$PEER" --ready "$f.ready" --log "$f.plog" \
		    --scenario "$sc" --user odmruser --password odmrsecret \
		    $pargs &
		pp=$!
	fi
	if ! peers_wait_until 20 test -s "$f.ready"; then
		kill "$pp" 2>/dev/null
		echo 99 >"$f.rc"
		return
	fi
	printf 'poll 127.0.0.1 proto odmr service %s %s\n  user odmruser password odmrsecret fetchdomains a.test,b.test smtphost %s\n' \
	    "$(cat "$f.ready")" "$sopts" "$hosts" >"$W/rc.$n_runs"
	peers_fetchmail "$bin" "$W/home.$n_runs" "$W/rc.$n_runs" -v "$@" \
	    >"$f.out" 2>"$f.err"
	echo $? >"$f.rc"
	[ -n "$pp" ] || return 0
	# the peer ends by itself once fetchmail is gone (or at its timeout)
	peers_wait_until 10 eval "! peers_alive $pp" || kill "$pp" 2>/dev/null
	wait "$pp" 2>/dev/null
	echo $? >"$f.prc"
}
# norm FILE: a log with what legitimately differs masked
norm() {
	grep -v 'WARNING: Running as root' "$1" |
	    sed -E 's/^(fetchmail: )?[0-9.]+ querying (.*) at .*: poll (started|completed)$/\1V querying \2: poll \3/;
		s/127\.0\.0\.1\/[0-9]+/127.0.0.1\/PORT/g; s/:[0-9]{4,5} \[/:PORT [/g;
		s/(ODMR< 334 ).*/\1CHALLENGE/; s#^(fetchmail: ODMR> )[A-Za-z0-9+/=]{24,}$#\1RESPONSE#;
		s/queued as [0-9A-F]+/queued as ID/'
}
# expect TAG BT CODE PATTERN...: exit code and log lines (grep -F)
expect() {
	local f=$W/$1.$2 code=$3 p got
	shift 3
	got=$(cat "$f.rc")
	WHY="exit $got, expected $code"
	[ "$got" = "$code" ] || { WHY="$WHY; $(cat "$f.out" "$f.err")"; return 1; }
	for p in "$@"; do
		grep -qF -- "$p" "$f.out" "$f.err" ||
		    { WHY="missing: $p
$(cat "$f.out" "$f.err")"; return 1; }
	done
}
# peer_ok TAG BT PATTERN...: the peer's verdict and lines of its log
peer_ok() {
	local f=$W/$1.$2 p
	shift 2
	WHY="peer exit $(cat "$f.prc" 2>/dev/null); $(cat "$f.plog" 2>/dev/null)"
	[ "$(cat "$f.prc" 2>/dev/null)" = 0 ] || return 1
	for p in "$@"; do
		grep -qF -- "$p" "$f.plog" || { WHY="missing in the peer log: $p
$WHY"; return 1; }
	done
}
# same TAG: ours and the reference agree on exit code, stdout, stderr
same() {
	local tag=$1 s
	WHY=
	for s in rc out err; do
		if ! diff <(norm "$W/$tag.ours.$s") <(norm "$W/$tag.ref.$s") \
		    >"$W/$tag.diff.$s"; then
			WHY="$WHY$s differs (< ours, > reference):
$(cat "$W/$tag.diff.$s")
"
		fi
	done
	[ -z "$WHY" ]
}
# has_body USER N TEXT: USER's Nth newest message contains TEXT
newest_has() {
	local f
	f=$(postfix_maildir_files "$1" | tail -n 1)
	[ -n "$f" ] && grep -qF -- "$2" "$f"
}

# ---------------------------------------------------------------- cases
n_bob=0 n_carol=0
for bin in $BINS; do
	bt=$(bintag "$bin")
	run "$bin" ok ok "" "$LISTENER" "--msg $W/m1"
	check "$bt ok: exit 0 and the log lines" expect ok "$bt" 0 \
	    "fetchmail: Turnaround now..." \
	    "fetchmail: receiving message data" "fetchmail: Polling 127.0.0.1" \
	    "fetchmail: ODMR> ATRN a.test,b.test" "fetchmail: ODMR< DATA"
	check "$bt ok: the peer authenticated and delivered" peer_ok ok "$bt" \
	    "ATRN-DOMAINS: a.test,b.test" "RESULT: delivered 1"
	n_bob=$((n_bob + 1))
	check "$bt ok: the message is in bob's Maildir" \
	    postfix_wait_delivered bob "$n_bob" 20
	WHY="$(postfix_maildir_files bob | tail -n 1)"
	check "$bt ok: its body, dot line unstuffed" eval \
	    'newest_has bob "hello one" && newest_has bob "Subject: odmr one" &&
	     tr -d "\r" <"$(postfix_maildir_files bob | tail -n 1)" | grep -qx ".dot line"'

	run "$bin" hunt ok "" "127.0.0.1/1,$LISTENER" \
	    "--msg $W/m1 --msg $W/m2 --rcpt bob@localhost --rcpt carol@localhost"
	check "$bt hunt: exit 0, first smtphost refused" expect hunt "$bt" 0 \
	    "fetchmail: Connection errors for this poll:" \
	    "fetchmail: Polling 127.0.0.1"
	check "$bt hunt: the peer delivered two messages" peer_ok hunt "$bt" \
	    "RESULT: delivered 2"
	n_bob=$((n_bob + 2)) n_carol=$((n_carol + 2))
	check "$bt hunt: both arrived for bob and carol" eval \
	    "postfix_wait_delivered bob $n_bob 20 && postfix_wait_delivered carol $n_carol 20"

	run "$bin" long ok "" "$LISTENER" "--msg $W/m3"
	check "$bt long lines: exit 0, delivered" peer_ok long "$bt" \
	    "RESULT: delivered 1"
	n_bob=$((n_bob + 1))
	check "$bt long lines: arrived intact" eval \
	    'postfix_wait_delivered bob $n_bob 20 &&
	     peers_body "$(postfix_maildir_files bob | tail -n 1)" | cmp -s - "$W/m3.body"'

	while read -r sc code msg; do
		run "$bin" "$sc" "$sc" "" "$LISTENER" "--msg $W/m1"
		if [ -n "$msg" ]; then
			check "$bt $sc: status $code, \"$msg\"" \
			    expect "$sc" "$bt" "$code" "$msg"
		else
			check "$bt $sc: status $code" expect "$sc" "$bt" "$code"
		fi
		check "$bt $sc: the peer's dialogue" peer_ok "$sc" "$bt"
	done <<'EOF'
450 4 fetchmail: ATRN request refused.
451 8 fetchmail: Unable to process ATRN request now
453 0 fetchmail: You have no mail.
502 4 fetchmail: Command not implemented
530 3 fetchmail: Authentication required.
badauth 128 fetchmail: ODMR> QUIT
noatrn 4 fetchmail: 127.0.0.1's SMTP listener does not support ATRN
noauth 3 fetchmail: could not decode BASE64 challenge
other 4 fetchmail: Unknown ODMR error "599 something odd happened"
close 0 fetchmail: Polling 127.0.0.1
EOF
	run "$bin" nolistener ok "" "127.0.0.1/1" "--msg $W/m1"
	check "$bt no smtphost answers: status 2" expect nolistener "$bt" 2 \
	    "fetchmail: socket error while fetching from odmruser@127.0.0.1"
	run "$bin" keep none "" "$LISTENER" "" -k
	check "$bt keep refused: status 5" expect keep "$bt" 5 \
	    "Option --keep is not supported with ODMR"
done

# ours only: the relay ends when both sides stay silent for `timeout`
# (a deliberate difference: the reference relays without a limit)
if [ "$FM" != "$REF" ]; then
	t0=$(peers_now_ms)
	run "$FM" silent silent "timeout 3" "$LISTENER" ""
	t1=$(peers_now_ms)
	check "ours silent server: status 2 after the timeout" \
	    expect silent ours 2 "fetchmail: Turnaround now..." \
	    "timeout after 3 seconds"
	WHY="took $((t1 - t0)) ms"
	check "ours silent server: ended within 15 s" [ $((t1 - t0)) -lt 15000 ]
else
	skip "silent server" "the reference has no relay timeout"
	skip "silent server, time" "the reference has no relay timeout"
fi

# ---------------------------------------------------------------- differential
if [ "$BINS" != "$FM" ]; then
	for tag in ok hunt long 450 451 453 502 530 badauth noatrn noauth \
	    other close nolistener keep; do
		check "ours and the reference agree: $tag" same "$tag"
	done
else
	skip "differential" "reference fetchmail not installed"
fi
echo "1..$k"
# shellcheck disable=SC2154	# set by tests/tap.sh
[ "$failed" -eq 0 ]
