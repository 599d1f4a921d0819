#!/usr/bin/env bash
# Fault-injection matrix (TAP): POP3 retrieval -> SMTP/LMTP forwarding
# under network and protocol faults, with a recovery poll after each one.
#
# For every scenario below: a fresh tests/peers/faultpeer.py (POP3 server
# with real RFC 1939 UPDATE semantics + SMTP/LMTP sink, 5 generated
# messages, message 3 ~20 KB) gets ONE fault; $FETCHMAIL (default
# /usr/bin/fetchmail) polls once (timeout $FAULTS_TIMEOUT s, killed after
# timeout + $FAULTS_MARGIN s); the fault is removed (control.json) and one
# clean recovery poll runs with the same HOME (.fetchids).  Then:
#   fired     the fault actually fired (SKIP if the client never reached
#             that step: then the scenario tests nothing)
#   no hang   the faulty run ended by itself (never status 124), I5
#   exit      its exit status is the expected one (column EXIT below is
#             what the reference 6.4.37 returns; SKIP when it hung)
#   no loss   every message is on the server or was accepted intact, I1
#   no early delete   no message left the server without having been
#             accepted, and no QUIT committed a DELE before the sink's
#             2xx for that message (event order), I2
#   no dups   every message accepted at most once, except the DUP column
#             (an SMTP drop after "." but before the 250 may legitimately
#             duplicate that one message), I3
#   intact    every accepted message is the original's bytes with only
#             header lines (Received:) prepended: no partial delivery, I4
#   recovery  the recovery poll exits 0 or 1 and every message has been
#             accepted by then (I6: 4xx/softbounced 5xx retried)
#   server    after recovery the server holds nothing that was delivered
#             (without keep: mpop's promise, stale ones are deleted at the
#             next clean session), or everything (with keep)
#   no pipelining (variants without PIPELINING only): the client never
#             sent a command before the reply to the previous one
#
# Variants: pipe   = PIPELINING advertised, delete after delivery
#           nopipe = PIPELINING not advertised
#           keep / keepnp = with `keep` (UIDs recorded, no DELE)
#           lmtp   = LMTP sink instead of SMTP (PIPELINING advertised)
#
# Known results against the reference 6.4.37 (it never pipelines; it
# fetches with TOP n 99999999, or RETR with keep).  These "not ok" are the
# point of the test, not harness bugs:
#   * hang: every SMTP/LMTP stall (greeting, EHLO, MAIL, RCPT, DATA, mid-
#     DATA, end of data) -- it waits the fixed RFC 5321 minutes, not
#     `timeout`; killed after timeout + margin.
#   * server (stranded): after a POP3 connection loss (drop, RST, stall,
#     mid-message drop/stall at RETR/DELE/QUIT), -ERR to DELE or QUIT, or
#     being killed, it does NOT re-deliver: .fetchids keeps the UIDs of
#     the messages it DELEd in the lost session, so the recovery poll
#     skips them as "seen" -- and never deletes them either, they stay on
#     the server for good.  (So no duplicates there, contrary to the
#     folklore "it re-delivers the whole session".)
#   * LMTP 4xx or 5xx after the final "." (one recipient): it treats the
#     per-recipient failure as "bounce and done"; the bounce to a
#     MAILER-DAEMON sender is suppressed, so the message is deleted
#     unaccepted -- even for a 4xx, even with softbounce: LOST (no loss,
#     no early delete, recovery all fail).  (With an ordinary sender it
#     bounces via localhost:25; with nothing listening there the 4xx
#     case keeps the message, the 5xx case deletes it anyway.  The
#     generated messages come from MAILER-DAEMON@example.org to keep the
#     test off port 25 and deterministic.)
#   * keep + UIDL answered -ERR: it fetches all 5 anyway, records no UID,
#     and the recovery poll delivers all 5 again (no dups fails).
#   * SMTP drop after "." before the 250 re-delivers that one message
#     (allowed by the DUP column).
#
# Environment: FETCHMAIL (client under test), FAULTS_ONLY (extended regex
# on scenario names: run only those), FAULTS_TIMEOUT (default 2),
# FAULTS_MARGIN (default 3), PEERS_KEEP=1 (keep the temporary directory,
# under /dev/shm unless PEERS_TMPDIR is set: per scenario NAME/rc,
# NAME/run1.log, NAME/run2.log (fetchmail -v), NAME/peer/events.log, ...).
# Debug one scenario:
#   FAULTS_ONLY='^pipe-pop3-RETR3-drop$' PEERS_KEEP=1 \
#     top_srcdir=. FETCHMAIL=/usr/bin/fetchmail bash tests/faults.sh
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/peers/lib.sh disable=SC1091
. "$top/tests/peers/lib.sh"
FETCHMAIL=${FETCHMAIL:-/usr/bin/fetchmail}
FP=$top/tests/peers/faultpeer.py
T=${FAULTS_TIMEOUT:-2}
CAP=$((T + ${FAULTS_MARGIN:-3}))
ONLY=${FAULTS_ONLY:-}

if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
# The interpreter's path, resolved once: version-manager shims (pyenv)
# cost ~0.3 s per start.
PY=$(python3 -c 'import sys
if sys.version_info >= (3, 6): print(sys.executable or "python3")' 2>/dev/null)
if [ -z "$PY" ]; then
	echo "1..0 # SKIP python3 >= 3.6 needed"
	exit 0
fi
export FAULTPEER_PYTHON=$PY
if [ ! -x "$FETCHMAIL" ]; then
	echo "1..0 # SKIP $FETCHMAIL not executable"
	exit 0
fi

# ---------------------------------------------------------------- matrix
# NAME VARIANT FAULT EXIT DUP
#   FAULT  faultpeer spec (SIDE:STEP[@N]=ACTION[:ARG]), - for none
#   EXIT   allowed exit statuses of the faulty run, comma-separated; the
#          first one is what the reference 6.4.37 returns (6,0: either,
#          depending on whether its write hits the closed socket); where
#          it HANGS, the set a client that times out may sensibly return
#   DUP    message ids allowed to be accepted twice, - for none
# Message numbers/occurrences: @3 = the third message (RETR 3, DELE 3,
# 3rd MAIL/RCPT/DATA/end of data); steps without @ fault the first time.
SCENARIOS=$(cat <<'EOF'
# name                     variant fault                    exit   dup  reference 6.4.37
pipe-baseline              pipe   -                         0      -
pipe-pop3-greeting-drop    pipe   pop3:greeting=drop        2      -
pipe-pop3-greeting-stall   pipe   pop3:greeting=stall       2      -
pipe-pop3-greeting-err     pipe   pop3:greeting=err         3      -
pipe-pop3-CAPA-drop        pipe   pop3:CAPA=drop            0,2    -    0: reconnects without CAPA
pipe-pop3-CAPA-stall       pipe   pop3:CAPA=stall           2      -
pipe-pop3-CAPA-err         pipe   pop3:CAPA=err             0      -
pipe-pop3-USER-drop        pipe   pop3:USER=drop            2      -
pipe-pop3-USER-stall       pipe   pop3:USER=stall           2      -
pipe-pop3-USER-err         pipe   pop3:USER=err             3      -
pipe-pop3-PASS-drop        pipe   pop3:PASS=drop            2      -
pipe-pop3-PASS-stall       pipe   pop3:PASS=stall           2      -
pipe-pop3-PASS-err         pipe   pop3:PASS=err             3      -
pipe-pop3-STAT-drop        pipe   pop3:STAT=drop            2      -
pipe-pop3-STAT-stall       pipe   pop3:STAT=stall           2      -
pipe-pop3-STAT-err         pipe   pop3:STAT=err             4      -
pipe-pop3-LIST-drop        pipe   pop3:LIST=drop            2      -
pipe-pop3-LIST-stall       pipe   pop3:LIST=stall           2      -
pipe-pop3-LIST-err         pipe   pop3:LIST=err             4      -
pipe-pop3-UIDL-drop        pipe   pop3:UIDL=drop            7,2    -    7: ERROR, not SOCKET
pipe-pop3-UIDL-stall       pipe   pop3:UIDL=stall           2      -
pipe-pop3-UIDL-err         pipe   pop3:UIDL=err             0      -    fetches all without UIDs
pipe-pop3-RETR3-drop       pipe   pop3:RETR@3=drop          2      -    stranded m1 m2
pipe-pop3-RETR3-rst        pipe   pop3:RETR@3=rst           2      -    stranded m1 m2
pipe-pop3-RETR3-stall      pipe   pop3:RETR@3=stall         2      -    stranded m1 m2
pipe-pop3-RETR3-err        pipe   pop3:RETR@3=err           0      -    skips 3, gets it next poll
pipe-pop3-RETR3-middrop    pipe   pop3:RETR@3=middrop:1000  2      -    stranded m1 m2
pipe-pop3-RETR3-midstall   pipe   pop3:RETR@3=midstall:1000 2      -    stranded m1 m2
pipe-pop3-DELE3-drop       pipe   pop3:DELE@3=drop          2      -    stranded m1 m2 m3
pipe-pop3-DELE3-stall      pipe   pop3:DELE@3=stall         2      -    stranded m1 m2 m3
pipe-pop3-DELE3-err        pipe   pop3:DELE@3=err           24,7   -    24 (PS_TRANSIENT leaks out); stranded m3
pipe-pop3-QUIT-drop        pipe   pop3:QUIT=drop            2      -    stranded all 5
pipe-pop3-QUIT-stall       pipe   pop3:QUIT=stall           2      -    stranded all 5
pipe-pop3-QUIT-err         pipe   pop3:QUIT=err             4      -    stranded all 5
pipe-pop3-QUIT-dropafter   pipe   pop3:QUIT=dropafter       2      -    server committed, no +OK
pipe-smtp-greeting-drop    pipe   smtp:greeting=drop        0      -    reconnects (HELO)
pipe-smtp-greeting-stall   pipe   smtp:greeting=stall       0,2,10 -    HANGS (killed)
pipe-smtp-greeting-4xx     pipe   smtp:greeting=4xx         0      -
pipe-smtp-greeting-5xx     pipe   smtp:greeting=5xx         0      -
pipe-smtp-EHLO-drop        pipe   smtp:EHLO=drop            0      -
pipe-smtp-EHLO-stall       pipe   smtp:EHLO=stall           0,2,10 -    HANGS
pipe-smtp-EHLO-4xx         pipe   smtp:EHLO=4xx             0      -
pipe-smtp-EHLO-5xx         pipe   smtp:EHLO=5xx             0      -
pipe-smtp-MAIL3-drop       pipe   smtp:MAIL@3=drop          0      -
pipe-smtp-MAIL3-stall      pipe   smtp:MAIL@3=stall         0,2,10 -    HANGS
pipe-smtp-MAIL3-4xx        pipe   smtp:MAIL@3=4xx           0      -
pipe-smtp-MAIL3-5xx        pipe   smtp:MAIL@3=5xx           0      -    softbounce: kept
pipe-smtp-RCPT3-drop       pipe   smtp:RCPT@3=drop          0      -
pipe-smtp-RCPT3-stall      pipe   smtp:RCPT@3=stall         0,2,10 -    HANGS
pipe-smtp-RCPT3-4xx        pipe   smtp:RCPT@3=4xx           0      -
pipe-smtp-RCPT3-5xx        pipe   smtp:RCPT@3=5xx           0      -    goes to postmaster
pipe-smtp-DATA3-drop       pipe   smtp:DATA@3=drop          0      -
pipe-smtp-DATA3-stall      pipe   smtp:DATA@3=stall         0,2,10 -    HANGS
pipe-smtp-DATA3-4xx        pipe   smtp:DATA@3=4xx           0      -
pipe-smtp-DATA3-5xx        pipe   smtp:DATA@3=5xx           0      -
pipe-smtp-DATA3-middrop    pipe   smtp:DATA@3=middrop:1000  6,0    -    6 if its write fails, else 0
pipe-smtp-DATA3-midstall   pipe   smtp:DATA@3=midstall:1000 0,2,10 -    HANGS
pipe-smtp-EOD3-drop        pipe   smtp:EOD@3=drop           0      -
pipe-smtp-EOD3-stall       pipe   smtp:EOD@3=stall          0,2,10 -    HANGS
pipe-smtp-EOD3-4xx         pipe   smtp:EOD@3=4xx            0      -
pipe-smtp-EOD3-5xx         pipe   smtp:EOD@3=5xx            0      -
pipe-smtp-EOD3-dropafter   pipe   smtp:EOD@3=dropafter      0      m3   m3 twice (allowed)
lmtp-baseline              lmtp   -                         0      -
lmtp-EOD3-4xx              lmtp   lmtp:EOD@3=4xx            0      -    LOSES m3 (see the header)
lmtp-EOD3-5xx              lmtp   lmtp:EOD@3=5xx            0      -    LOSES m3 (see the header)
lmtp-EOD3-dropafter        lmtp   lmtp:EOD@3=dropafter      0      m3
lmtp-DATA3-middrop         lmtp   lmtp:DATA@3=middrop:1000  6,0    -
nopipe-baseline            nopipe -                         0      -
nopipe-pop3-UIDL-err       nopipe pop3:UIDL=err             0      -
nopipe-pop3-RETR3-drop     nopipe pop3:RETR@3=drop          2      -    stranded m1 m2
nopipe-pop3-RETR3-stall    nopipe pop3:RETR@3=stall         2      -    stranded m1 m2
nopipe-pop3-RETR3-err      nopipe pop3:RETR@3=err           0      -
nopipe-pop3-RETR3-middrop  nopipe pop3:RETR@3=middrop:1000  2      -    stranded m1 m2
nopipe-pop3-DELE3-drop     nopipe pop3:DELE@3=drop          2      -    stranded m1 m2 m3
nopipe-pop3-DELE3-err      nopipe pop3:DELE@3=err           24,7   -    stranded m3
nopipe-pop3-QUIT-drop      nopipe pop3:QUIT=drop            2      -    stranded all 5
nopipe-pop3-QUIT-dropafter nopipe pop3:QUIT=dropafter       2      -
nopipe-smtp-MAIL3-4xx      nopipe smtp:MAIL@3=4xx           0      -
nopipe-smtp-RCPT3-5xx      nopipe smtp:RCPT@3=5xx           0      -
nopipe-smtp-DATA3-middrop  nopipe smtp:DATA@3=middrop:1000  6,0    -
nopipe-smtp-EOD3-drop      nopipe smtp:EOD@3=drop           0      -
nopipe-smtp-EOD3-4xx       nopipe smtp:EOD@3=4xx            0      -
nopipe-smtp-EOD3-5xx       nopipe smtp:EOD@3=5xx            0      -
nopipe-smtp-EOD3-dropafter nopipe smtp:EOD@3=dropafter      0      m3
keep-baseline              keep   -                         0      -
keep-pop3-UIDL-drop        keep   pop3:UIDL=drop            7,2    -
keep-pop3-UIDL-err         keep   pop3:UIDL=err             4      -    ref: 0, DUPLICATES all 5 (no UIDs recorded)
keep-pop3-RETR3-drop       keep   pop3:RETR@3=drop          2      -
keep-pop3-RETR3-stall      keep   pop3:RETR@3=stall         2      -
keep-pop3-RETR3-middrop    keep   pop3:RETR@3=middrop:1000  2      -
keep-pop3-QUIT-drop        keep   pop3:QUIT=drop            2      -
keep-pop3-QUIT-dropafter   keep   pop3:QUIT=dropafter       2      -
keep-smtp-MAIL3-4xx        keep   smtp:MAIL@3=4xx           0      -
keep-smtp-EOD3-drop        keep   smtp:EOD@3=drop           0      -
keep-smtp-EOD3-5xx         keep   smtp:EOD@3=5xx            0      -
keep-smtp-EOD3-dropafter   keep   smtp:EOD@3=dropafter      0      m3
keepnp-baseline            keepnp -                         0      -
keepnp-pop3-RETR3-drop     keepnp pop3:RETR@3=drop          2      -
keepnp-pop3-QUIT-drop      keepnp pop3:QUIT=drop            2      -
keepnp-smtp-EOD3-dropafter keepnp smtp:EOD@3=dropafter      0      m3
# IMAP (the peer's IMAP server; UID FETCH/STORE, @3 = the FETCH of UID 3
# = m3, or the STORE whose set names UID 3: flags go in batches).  The
# reference speaks another dialect (SEARCH, sequence numbers) that the
# peer does not serve: these run only for a client other than it.  EXIT
# is what this implementation returns.
imap-baseline              imap   -                         0      -
imap-greeting-drop         imap   imap:greeting=drop        2      -
imap-greeting-stall        imap   imap:greeting=stall       2      -
imap-greeting-bye          imap   imap:greeting=bye         4      -
imap-LOGIN-drop            imap   imap:LOGIN=drop           2      -
imap-LOGIN-stall           imap   imap:LOGIN=stall          2      -
imap-LOGIN-err             imap   imap:LOGIN=err            3      -
imap-SELECT-drop           imap   imap:SELECT=drop          2      -
imap-SELECT-stall          imap   imap:SELECT=stall         2      -
imap-SELECT-err            imap   imap:SELECT=err           7      -
imap-LIST-drop             imap   imap:LIST=drop            2      -
imap-LIST-stall            imap   imap:LIST=stall           2      -
imap-LIST-err              imap   imap:LIST=err             7      -
imap-LIST-bad              imap   imap:LIST=bad             7      -
imap-FETCH3-drop           imap   imap:FETCH@3=drop         2      -
imap-FETCH3-rst            imap   imap:FETCH@3=rst          2      -
imap-FETCH3-stall          imap   imap:FETCH@3=stall        2      -
imap-FETCH3-err            imap   imap:FETCH@3=err          0      -
imap-FETCH3-bye            imap   imap:FETCH@3=bye          2      -
imap-FETCH3-middrop        imap   imap:FETCH@3=middrop:1000 2      -
imap-FETCH3-midstall       imap   imap:FETCH@3=midstall:1000 2     -
imap-STORE3-drop           imap   imap:STORE@3=drop         2      -
imap-STORE3-stall          imap   imap:STORE@3=stall        2      -
imap-STORE3-err            imap   imap:STORE@3=err          7      -
imap-STORE3-dropafter      imap   imap:STORE@3=dropafter    2      -
imap-EXPUNGE-drop          imap   imap:EXPUNGE=drop         2      -
imap-EXPUNGE-stall         imap   imap:EXPUNGE=stall        2      -
imap-EXPUNGE-err           imap   imap:EXPUNGE=err          7      -
imap-EXPUNGE-dropafter     imap   imap:EXPUNGE=dropafter    2      -
imap-LOGOUT-drop           imap   imap:LOGOUT=drop          0      -
imap-smtp-MAIL3-4xx        imap   smtp:MAIL@3=4xx           0      -
imap-smtp-EOD3-4xx         imap   smtp:EOD@3=4xx            0      -
imap-smtp-EOD3-5xx         imap   smtp:EOD@3=5xx            0      -
imap-smtp-EOD3-drop        imap   smtp:EOD@3=drop           0      -
imap-smtp-EOD3-dropafter   imap   smtp:EOD@3=dropafter      0      m3
imapkeep-baseline          imapkeep -                       0      -
imapkeep-FETCH3-drop       imapkeep imap:FETCH@3=drop       2      -
imapkeep-FETCH3-middrop    imapkeep imap:FETCH@3=middrop:1000 2    -
imapkeep-STORE3-drop       imapkeep imap:STORE@3=drop       2      -
imapkeep-STORE3-err        imapkeep imap:STORE@3=err        7      -
imapkeep-smtp-EOD3-dropafter imapkeep smtp:EOD@3=dropafter  0      m3
EOF
)
# the IMAP scenarios need a client that speaks the UID dialect
imap_skipped=0
if [ "$(readlink -f "$FETCHMAIL")" = "$(readlink -f /usr/bin/fetchmail)" ]; then
	imap_skipped=1
fi

s_names=() s_variants=() s_faults=() s_exits=() s_dups=()
while read -r n v f e d _; do
	case $n in ''|'#'*) continue ;; esac
	if [ -n "$ONLY" ] && ! [[ $n =~ $ONLY ]]; then continue; fi
	case $v in imap*) [ $imap_skipped = 1 ] && continue ;; esac
	s_names+=("$n") s_variants+=("$v") s_faults+=("$f") s_exits+=("$e") s_dups+=("$d")
done <<<"$SCENARIOS"

npoints() {	# npoints VARIANT
	case $1 in nopipe|keepnp|imap*) echo 10 ;; *) echo 9 ;; esac
}
plan=$((1 + imap_skipped))
for v in "${s_variants[@]}"; do plan=$((plan + $(npoints "$v"))); done

# The peer rewrites small state files all the time: tmpfs is ~10x faster.
if [ -z "${PEERS_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	PEERS_TMPDIR=/dev/shm
fi
peers_init || { echo "Bail out! cannot make a temporary directory"; exit 1; }
t_start=$(peers_now_ms)
echo "1..$plan"
TAP_DIAG="#   "
. "$top/tests/tap.sh"
# logtail LOG: the last few interesting lines of a fetchmail -v log.
logtail() {
	local t
	t=$(grep -v '^fetchmail: \(POP3\|IMAP\|SMTP\|LMTP\)[<>]\|WARNING: Running as root' "$1" | tail -4)
	[ -n "$t" ] || t=$(tail -3 "$1")
	printf '%s\n' "$t"
}

# read_report ARRAY FILE: faultpeer's report.txt (KEY=VALUE) into the
# associative ARRAY; every key the checks use exists (empty if missing).
# shellcheck disable=SC2004,SC2154  # _rr is a nameref to an assoc. array
read_report() {
	local -n _rr=$1
	local key val
	for key in originals remaining accepted naccepted lost deleted_unaccepted \
	    early_delete dups inexact stranded undelivered pipelined_pop3 early_mark \
	    pipelined_sink faults fault_where rollbacks peer_errors; do
		_rr[$key]=''
	done
	[ -f "$2" ] || { _rr[peer_errors]="no report $2"; return; }
	while IFS='=' read -r key val; do _rr[$key]=$val; done <"$2"
}

# The peer itself: pipelining, byte-stuffing, UPDATE semantics, the sink.
st_out=$(timeout 30 "$PY" -S "$FP" selftest --dir "$PEERS_TMP/selftest" 2>&1)
st=$?
if [ $st = 0 ]; then
	ok "faultpeer selftest"
else
	notok "faultpeer selftest" "$(grep -v '^ok' <<<"$st_out" | head -20)"
fi

summary=()
[ $imap_skipped = 1 ] && skip "IMAP scenarios" "the reference speaks another IMAP dialect than the peer serves"
# ---------------------------------------------------------------- one run
# run_scenario NAME VARIANT FAULT EXIT DUP
run_scenario() {
	local name=$1 variant=$2 fault=$3 exits=$4 dup=$5
	local d=$PEERS_TMP/$name ps opts=() keep='' sink rc1 rc2 t0 t1 dt1
	local fails='' why i c x r2_ok
	local -A R1=() R=()
	mkdir -p "$d"
	# Sender MAILER-DAEMON: fetchmail never bounces to it, and its bounces
	# would go to localhost:25, outside this test.
	opts=(--messages 5 --big 3:20000 --sender MAILER-DAEMON@example.org
	    --max-stall 60 --lifetime 300)
	case $variant in nopipe|keepnp) opts+=(--no-pipelining) ;; *) opts+=(--pipelining) ;; esac
	case $variant in keep|keepnp|imapkeep) keep=keep ;; esac
	[ "$fault" != - ] && opts+=(--fault "$fault")
	if ! faultpeer_start "$d/peer" "${opts[@]}"; then
		for ((i = 0; i < $(npoints "$variant"); i++)); do
			notok "$name: faultpeer started" "$PEERS_WHY"
		done
		summary+=("$(printf '%-27s peer did not start' "$name")")
		return
	fi
	ps=$FAULTPEER_PID
	sink="smtphost 127.0.0.1/$FAULTPEER_SMTP_PORT"
	[ "$variant" = lmtp ] && sink="lmtp smtphost 127.0.0.1/$FAULTPEER_LMTP_PORT"
	local proto=pop3 port=$FAULTPEER_POP3_PORT
	case $variant in imap*)
		proto=imap port=$(awk '$1 == "imap" { print $2 }' "$d/peer/ports") ;;
	esac
	cat >"$d/rc" <<-EOF
	poll 127.0.0.1 protocol $proto service $port timeout $T
	  user alice password secret is bob here sslproto '' no sslcertck $keep
	  $sink
	EOF

	# the faulty run
	t0=$(peers_now_ms)
	PEERS_FETCHMAIL_TIMEOUT=$CAP peers_fetchmail "$FETCHMAIL" "$d/home" "$d/rc" -v \
	    >"$d/run1.log" 2>&1
	rc1=$?
	t1=$(peers_now_ms)
	dt1=$((t1 - t0))
	faultpeer_idle 10 "$d/peer" || echo "# $name: peer still has connections open after run 1" >&2
	read_report R1 "$d/peer/report.txt"

	# the recovery run, fault removed
	faultpeer_control '{"faults": []}' "$d/peer"
	PEERS_FETCHMAIL_TIMEOUT=$CAP peers_fetchmail "$FETCHMAIL" "$d/home" "$d/rc" -v \
	    >"$d/run2.log" 2>&1
	rc2=$?
	faultpeer_idle 10 "$d/peer" || echo "# $name: peer still has connections open after run 2" >&2
	faultpeer_stop "$ps"
	read_report R "$d/peer/report.txt"

	local diag=("fault: $fault" "after run 1 (exit $rc1, ${dt1} ms): server [${R1[remaining]}] accepted [${R1[accepted]}]"
	    "after recovery (exit $rc2): server [${R[remaining]}] accepted [${R[accepted]}]")

	# 1 fired
	if [ -n "${R[peer_errors]}" ]; then
		notok "$name: faultpeer healthy" "internal error (harness bug): ${R[peer_errors]}" \
		    "see $d/peer/events.log"
		fails="$fails PEER-ERROR"
	elif [ "$fault" = - ]; then
		ok "$name: baseline (no fault)"
	elif [ "${R1[faults]:-0}" -ge 1 ]; then
		ok "$name: fault fired (${R1[fault_where]})"
	else
		skip "$name: fault fired" "the client never reached ${fault%%=*}"
	fi
	# 2 no hang
	if [ $rc1 = 124 ] || [ $rc1 = 137 ]; then
		notok "$name: faulty run ends by itself (timeout $T s)" \
		    "killed after ${CAP} s (status $rc1): hang" \
		    "$(tail -3 "$d/run1.log")"
		fails="$fails hang"
	else
		ok "$name: faulty run ends by itself (${dt1} ms, timeout $T s)"
	fi
	# 3 exit status
	if [ $rc1 = 124 ] || [ $rc1 = 137 ]; then
		skip "$name: exit status in {$exits}" "hung"
	elif [ "$exits" = '*' ] || [[ ",$exits," == *",$rc1,"* ]]; then
		ok "$name: exit status $rc1 in {$exits}"
	else
		notok "$name: exit status $rc1 in {$exits}" "$(logtail "$d/run1.log")"
		fails="$fails exit"
	fi
	# 4 no loss (I1), after either run
	if [ -z "${R1[lost]}" ] && [ -z "${R[lost]}" ]; then
		ok "$name: no message lost"
	else
		notok "$name: no message lost" "lost after run 1: [${R1[lost]}], after recovery: [${R[lost]}]" "${diag[@]}"
		fails="$fails LOST"
	fi
	# 5 no deletion before acceptance (I2)
	if [ -z "${R[deleted_unaccepted]}" ] && [ -z "${R[early_delete]}" ]; then
		ok "$name: no message deleted before the sink accepted it"
	else
		notok "$name: no message deleted before the sink accepted it" \
		    "deleted, never accepted: [${R[deleted_unaccepted]}]; QUIT committed before acceptance: [${R[early_delete]}]" "${diag[@]}"
		fails="$fails early-delete"
	fi
	# 6 no duplicates (I3)
	why=''
	for x in ${R[dups]}; do
		i=${x%%:*} c=${x##*:}
		if [[ " $dup " == *" $i "* ]] && [ "$c" -le 2 ]; then continue; fi
		why="$why $x"
	done
	if [ -z "$why" ]; then
		ok "$name: no duplicate delivery${R[dups]:+ (allowed: ${R[dups]})}"
	else
		notok "$name: no duplicate delivery" "delivered more than once (id:count):$why" "${diag[@]}"
		fails="$fails dup"
	fi
	# 7 intact (I4)
	if [ -z "${R[inexact]}" ]; then
		ok "$name: every delivery intact (${R[naccepted]} accepted)"
	else
		notok "$name: every delivery intact" "partial/altered (seq:id): ${R[inexact]}" "${diag[@]}"
		fails="$fails partial"
	fi
	# 8 recovery
	r2_ok=0
	case $rc2 in 0|1) ;; *) r2_ok=1 ;; esac
	[ -z "${R[undelivered]}" ] || r2_ok=1
	if [ $r2_ok = 0 ]; then
		ok "$name: recovery poll (exit $rc2) completes delivery"
	else
		notok "$name: recovery poll (exit $rc2) completes delivery" \
		    "never delivered: [${R[undelivered]}]" "${diag[@]}" "recovery poll: $(logtail "$d/run2.log")"
		fails="$fails recovery"
	fi
	# 9 server state after recovery
	if [ -n "$keep" ]; then
		if [ "${R[remaining]}" = "${R[originals]}" ]; then
			ok "$name: keep: every message still on the server"
		else
			notok "$name: keep: every message still on the server" "server: [${R[remaining]}]" "${diag[@]}"
			fails="$fails keep-deleted"
		fi
	elif [ -z "${R[stranded]}" ]; then
		ok "$name: server holds no delivered message after recovery"
	else
		notok "$name: server holds no delivered message after recovery" \
		    "delivered but left on the server: [${R[stranded]}]" "${diag[@]}"
		fails="$fails stranded"
	fi
	# 10 (IMAP) no \Deleted flag before the sink accepted the message
	case $variant in imap*)
		if [ -z "${R[early_mark]:-}" ]; then
			ok "$name: no message flagged \\Deleted before the sink accepted it"
		else
			notok "$name: no message flagged \\Deleted before the sink accepted it" \
			    "flagged early: [${R[early_mark]}]" "${diag[@]}"
			fails="$fails early-mark"
		fi
	esac
	# 10 no pipelining unless advertised
	case $variant in nopipe|keepnp)
		if [ "${R[pipelined_pop3]}" = 0 ]; then
			ok "$name: no pipelining without PIPELINING"
		else
			notok "$name: no pipelining without PIPELINING" \
			    "${R[pipelined_pop3]} POP3 commands sent before the previous reply ($d/peer/events.log, C+)"
			fails="$fails pipelined"
		fi
	esac
	x=${R[remaining]// /,}
	[ "${R[remaining]}" = "${R[originals]}" ] && x=all
	summary+=("$(printf '%-27s %4s %6s %4s %3s/%-3s %3s %-11s %-9s %s' "$name" "$rc1" "$dt1" "$rc2" \
	    "${R1[naccepted]}" "${R[naccepted]}" "${R[pipelined_pop3]}" "${R[dups]:--}" \
	    "${x:--}" "${fails:- ok}")")
}

for ((s = 0; s < ${#s_names[@]}; s++)); do
	run_scenario "${s_names[s]}" "${s_variants[s]}" "${s_faults[s]}" "${s_exits[s]}" "${s_dups[s]}"
done

t_end=$(peers_now_ms)
echo "# ---- summary: $FETCHMAIL, timeout $T s, killed after $CAP s"
echo "# rc1/ms: faulty run's exit status and duration; rc2: recovery poll's;"
echo "# acc1/2: messages the sink accepted after run 1 / after recovery;"
echo "# pip: POP3 commands pipelined; left: on the server at the end"
echo "# $(printf '%-27s %4s %6s %4s %7s %3s %-11s %-9s %s' scenario rc1 ms rc2 'acc1/2' pip dups left failed)"
for x in "${summary[@]}"; do echo "# $x"; done
echo "# ${#s_names[@]} scenarios, $failed failed test points, $(( (t_end - t_start) / 1000 )) s"
[ $failed = 0 ]
