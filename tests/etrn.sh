#!/usr/bin/env bash
# ETRN (RFC 1985) against a real Postfix (TAP producer).
#
# A private Postfix relays the domain etrn.test to a private Dovecot's
# LMTP port (transport_maps), with fast_flush_domains = etrn.test and
# retry timers of an hour, so a message for alice@etrn.test that met the
# LMTP port closed stays deferred until someone asks for it.  Per
# fetchmail binary ($FETCHMAIL, then the reference when installed):
#   flush   Dovecot down, a message injected and deferred, Dovecot up,
#           still deferred 2 s later (no retry timer did it); then
#           `proto etrn fetchdomains etrn.test`: exit 0, "Queuing for
#           etrn.test started", "Polling 127.0.0.1", and the message
#           arrives in alice's Dovecot INBOX
#   slow    a domain Postfix cannot fast-flush (other.test: 459, status 3)
#   denied  a domain check_etrn_access refuses (554: "Unknown ETRN error
#           554", status 4)
#   noetrn  a second smtpd with smtpd_discard_ehlo_keywords = etrn:
#           "... does not support ETRN", status 4
#   keep, flush, folder, -c: refused before connecting, status 5
# and every case's exit code and significant log lines (stdout and
# stderr, -v transcripts included; ports, dates and the version masked)
# compared between $FETCHMAIL and the reference.
#
# Environment: FETCHMAIL (ours), REF_FETCHMAIL (default /usr/bin/fetchmail),
# PEERS_KEEP=1.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
FM=${FETCHMAIL:-${top_builddir:-$top}/fetchmail}
REF=${REF_FETCHMAIL:-/usr/bin/fetchmail}
export PEERS_FETCHMAIL_TIMEOUT=${PEERS_FETCHMAIL_TIMEOUT:-30}
# shellcheck source=tests/peers/lib.sh disable=SC1091
. "$top/tests/peers/lib.sh"

if ! peers_have dovecot postfix; then
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

# ---------------------------------------------------------------- servers
dovecot_add_user alice pw
dovecot_start || bail "dovecot did not start"
dovecot_stop			# its LMTP port is known now; closed for a while
# shellcheck disable=SC2034	# read by postfix_start
POSTFIX_EXTRA_MAIN="relay_domains = etrn.test, other.test, denied.test
transport_maps = inline:{ etrn.test=lmtp:inet:127.0.0.1:$DOVECOT_LMTP_PORT, other.test=lmtp:inet:127.0.0.1:$DOVECOT_LMTP_PORT, denied.test=lmtp:inet:127.0.0.1:$DOVECOT_LMTP_PORT }
fast_flush_domains = etrn.test, denied.test
smtpd_etrn_restrictions = check_etrn_access inline:{ denied.test=REJECT }, permit_mynetworks, reject
queue_run_delay = 3600s
minimal_backoff_time = 3600s
maximal_backoff_time = 3600s"
postfix_start || bail "postfix did not start"
# a second smtpd that does not offer ETRN
peers_free_port NOETRN_PORT || bail "no free port"
echo "127.0.0.1:$NOETRN_PORT inet n - n - - smtpd -o smtpd_discard_ehlo_keywords=etrn" \
    >>"$POSTFIX_CONF/master.cf"
postfix_reload
wait_port 127.0.0.1 "$NOETRN_PORT" 20 || bail "second smtpd did not come up"

W=$PEERS_TMP/work
mkdir -p "$W"
n_runs=0

# inject RCPT: one message into Postfix by SMTP
inject() {
	python3 - "$POSTFIX_SMTP_PORT" "$1" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
s.sendmail("sender@localhost", [sys.argv[2]],
           "From: sender@localhost\r\nTo: %s\r\nSubject: etrn test\r\n"
           "\r\nqueued until ETRN\r\n" % sys.argv[2])
s.quit()
EOF
}
deferred_count() {
	find "$POSTFIX_DIR/spool/deferred" -type f 2>/dev/null | grep -c .
}
has_deferred() { [ "$(deferred_count)" -ge 1 ]; }
delivered() { [ "$(dovecot_count alice)" -ge "$1" ]; }

# run BIN TAG RCLINE [ARGS...]: one fetchmail run; its exit code in
# $W/TAG.BINTAG.rc, stdout and stderr in .out/.err
run() {
	local bin=$1 tag=$2 rcl=$3 bt
	shift 3
	bt=$(bintag "$bin")
	n_runs=$((n_runs + 1))
	printf '%s\n' "$rcl" >"$W/rc.$n_runs"
	peers_fetchmail "$bin" "$W/home.$n_runs" "$W/rc.$n_runs" "$@" \
	    >"$W/$tag.$bt.out" 2>"$W/$tag.$bt.err"
	echo $? >"$W/$tag.$bt.rc"
}
bintag() { if [ "$1" = "$FM" ]; then echo ours; else echo ref; fi; }
# norm FILE: a log with what legitimately differs masked
norm() {
	grep -v 'WARNING: Running as root' "$1" |
	    sed -E 's/^(fetchmail: )?[0-9.]+ querying (.*) at .*: poll (started|completed)$/\1V querying \2: poll \3/;
		s/127\.0\.0\.1\/[0-9]+/127.0.0.1\/PORT/g; s/:[0-9]{4,5} \[/:PORT [/g'
}
# expect TAG BT CODE PATTERN...: exit code and log lines (grep -F)
expect() {
	local tag=$1 bt=$2 code=$3 p got
	shift 3
	got=$(cat "$W/$tag.$bt.rc")
	WHY="exit $got, expected $code"
	[ "$got" = "$code" ] || { WHY="$WHY; $(cat "$W/$tag.$bt.out" "$W/$tag.$bt.err")"; return 1; }
	for p in "$@"; do
		grep -qF -- "$p" "$W/$tag.$bt.out" "$W/$tag.$bt.err" ||
		    { WHY="missing: $p
$(cat "$W/$tag.$bt.out" "$W/$tag.$bt.err")"; return 1; }
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

# ---------------------------------------------------------------- cases
POLL="poll 127.0.0.1 proto etrn service $POSTFIX_SMTP_PORT"
n_alice=0
for bin in $BINS; do
	bt=$(bintag "$bin")
	# flush: a deferred message, released by ETRN
	dovecot_stop
	inject alice@etrn.test
	check "$bt flush: message deferred while LMTP is down" \
	    peers_wait_until 20 has_deferred
	dovecot_restart || bail "dovecot did not restart"
	WHY="delivered without ETRN"
	check "$bt flush: still deferred with LMTP up (no retry timer)" \
	    eval "! peers_wait_until 2 delivered $((n_alice + 1))"
	run "$bin" flush "$POLL fetchdomains etrn.test" -v
	check "$bt flush: exit 0 and the log lines" expect flush "$bt" 0 \
	    "fetchmail: ETRN> ETRN etrn.test" \
	    "fetchmail: Queuing for etrn.test started" \
	    "fetchmail: Polling 127.0.0.1" "fetchmail: ETRN> QUIT"
	n_alice=$((n_alice + 1))
	WHY="alice has $(dovecot_count alice) messages"
	check "$bt flush: the message arrived by LMTP after ETRN" \
	    peers_wait_until 20 delivered "$n_alice"
	WHY="$(deferred_count) deferred"
	check "$bt flush: the queue is empty" \
	    peers_wait_until 20 postfix_queue_empty

	# a domain Postfix does not fast-flush
	run "$bin" slow "$POLL fetchdomains other.test"
	check "$bt other.test: 459, status 3" expect slow "$bt" 3 \
	    "fetchmail: Node other.test not allowed: 459"
	# a domain check_etrn_access rejects
	run "$bin" denied "$POLL fetchdomains denied.test,etrn.test" -v
	check "$bt denied.test: 554, status 4" expect denied "$bt" 4 \
	    "fetchmail: Unknown ETRN error 554" \
	    "fetchmail: client/server protocol error while fetching from"
	# two domains, both accepted
	run "$bin" two "$POLL fetchdomains etrn.test,etrn.test"
	check "$bt two domains: exit 0" expect two "$bt" 0 \
	    "fetchmail: Queuing for etrn.test started"
	# a listener without ETRN
	run "$bin" noetrn "poll 127.0.0.1 proto etrn service $NOETRN_PORT" -v
	check "$bt no ETRN in EHLO: status 4" expect noetrn "$bt" 4 \
	    "fetchmail: 127.0.0.1's SMTP listener does not support ETRN"
	# options ETRN cannot honour
	for o in keep flush "folder x"; do
		tag=opt${o%% *}
		run "$bin" "$tag" "$POLL fetchdomains etrn.test $o"
		check "$bt $o refused: status 5" expect "$tag" "$bt" 5 \
		    "Option --${o%% *} is not supported with ETRN"
	done
	run "$bin" optcheck "$POLL fetchdomains etrn.test" -c
	check "$bt -c refused: status 5" expect optcheck "$bt" 5 \
	    "Option --check is not supported with ETRN"
	run "$bin" optall "$POLL fetchdomains etrn.test fetchall"
	check "$bt fetchall refused: status 5" expect optall "$bt" 5 \
	    "fetchmail: Option --all is not supported with ETRN"
done

# ---------------------------------------------------------------- differential
if [ "$BINS" != "$FM" ]; then
	for tag in flush slow denied two noetrn optkeep optflush optfolder \
	    optall; do
		check "ours and the reference agree: $tag" same "$tag"
	done
	# -c: the reference prints no "Query status" line in check mode
	# (the driver's business, not this protocol's); compare the rest
	check "ours and the reference agree: optcheck (exit, stderr)" \
	    eval 'diff "$W/optcheck.ours.rc" "$W/optcheck.ref.rc" >/dev/null &&
		diff <(norm "$W/optcheck.ours.err") <(norm "$W/optcheck.ref.err") >/dev/null'
else
	skip "differential" "reference fetchmail not installed"
fi
echo "1..$k"
# shellcheck disable=SC2154	# set by tests/tap.sh
[ "$failed" -eq 0 ]
