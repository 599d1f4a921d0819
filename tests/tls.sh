#!/usr/bin/env bash
# TLS test of POP3 retrieval against a real Dovecot (TAP producer).
#
# A private Dovecot (tests/peers/lib.sh) with the test CA's certificates and
# auth_debug on, so that every authentication attempt reaching it is logged.
# $FETCHMAIL (default: the reference /usr/bin/fetchmail 6.4.37) polls it
# with `poll localhost via 127.0.0.1` and an MDA sink:
#   positive: implicit TLS (ssl, pop3s port); STLS with the default
#     sslcertck; sslfingerprint (MD5, colon-separated hex) matching;
#     a pinned fingerprint with no sslcertck accepting a self-signed
#     certificate; opportunistic (no sslcertck) plain text against a
#     server without STLS.
#   negative (both STLS and implicit TLS where it applies): wrong
#     sslcommonname, unknown CA (no sslcertfile), sslfingerprint mismatch,
#     expired certificate, self-signed certificate, certificate for another
#     host name, server without STLS while TLS is mandatory (default
#     sslcertck; also `no sslcertck` with a non-empty sslproto).
# Each negative case must exit 2 with the reference's error lines, fetch
# nothing, and send no credential: the -v transcript shows no AUTH, USER,
# PASS, APOP or RPOP (and nothing but QUIT after STLS), and Dovecot's log
# shows no authentication request ("auth: Debug: client in: AUTH") and no
# login for the session.  Dovecot is restarted with other certificates
# (DOVECOT_CERT) and without STLS (protocol pop3 { ssl = no }).
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/peers/lib.sh"
REF=${REF_FETCHMAIL:-/usr/bin/fetchmail}
FM=${FETCHMAIL:-$REF}
export PEERS_FETCHMAIL_TIMEOUT=${PEERS_FETCHMAIL_TIMEOUT:-20}

if ! peers_have dovecot openssl; then
	echo "1..0 # SKIP $PEERS_WHY"
	exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP fetchmail under test ($FM) not executable"
	exit 0
fi

t_start=$(peers_now_ms)
NTESTS=47
echo "1..$NTESTS"
. "$top/tests/tap.sh"
bail() {
	echo "Bail out! $*"
	peers_dump_logs 30
	exit 1
}
why() { WHY="$WHY${WHY:+
}$*"; }

# ---------------------------------------------------------------- server
# probes_logged MARK: wait until Dovecot logged, after log line MARK, the
# end of the four connections its start-up probes (wait_port: pop3, pop3s,
# imap, imaps) made, so that their "no auth attempts" lines cannot be
# taken for a test session's.
# (N, default 4: the instance without TLS for POP3 logs nothing for the
# pop3s probe, 3 then).
probes_logged() {	# probes_logged MARK [N]
	peers_wait_until 5 eval '[ "$(peers_log_since "$DOVECOT_LOG" '"$1"' | grep -c -- "-login: Info: Disconnected")" -ge '"${2:-4}"' ]' ||
	    peers_log "start-up probes not logged: $(peers_log_since "$DOVECOT_LOG" "$1" | grep -c -- "-login: Info: Disconnected")"
}
# auth_debug: the auth process logs every request ("client in: AUTH").
export DOVECOT_EXTRA_CONF="auth_debug = yes"
BASE_EXTRA=$DOVECOT_EXTRA_CONF
# One user a case (Dovecot re-reads the passwd-file only when it notices
# a change, not within the same second: all of them before the start).
for u in imp stls fpok cnwrong cnwrongi noca nocai fpbad exp expi self selfi pin \
    whost whosti nostls nostlsp opp; do
	dovecot_add_user "$u" "pw-$u"
done
dovecot_start || bail "dovecot did not start"
probes_logged 0
W=$PEERS_TMP/w
mkdir -p "$W"
chmod 755 "$W"
C=$PEERS_CERTS
FP_SERVER=$(cat "$C/server.md5")
FP_SELF=$(cat "$C/selfsigned.md5")
[ -n "$FP_SERVER" ] && [ -n "$FP_SELF" ] || bail "no certificate fingerprints"
MSG=$W/msg
printf 'From: Sender <sender@example.net>\nTo: alice@example.org\nSubject: tls test\nDate: Mon, 01 Jan 2024 12:00:00 +0000\nMessage-ID: <tls-test@example.org>\n\nthe body\n' >"$MSG"
t_up=$(peers_now_ms)

# restart_with CERT [EXTRA-CONF [NPROBES]]: Dovecot with CERT (server,
# expired, selfsigned, wronghost) and extra settings, on the same ports;
# returns when the start-up probes have been logged.
restart_with() {
	local mark
	mark=$(peers_log_lines "$DOVECOT_LOG")
	DOVECOT_CERT=$1 DOVECOT_EXTRA_CONF="$BASE_EXTRA
${2:-}" dovecot_restart || bail "dovecot restart with $1 failed"
	probes_logged "$mark" "${3:-4}"
}

# ---------------------------------------------------------------- a case
# tcase NAME PORT OPTIONS...: user NAME (made at the start) gets one
# message, an rcfile
# polling it with the user OPTIONS, one run with -v.  Sets RC, OUT, ERR,
# LOG (Dovecot's log lines of the session), DIR.
tcase() {
	local name=$1 port=$2 mark
	shift 2
	DIR=$W/$name
	mkdir -p "$DIR"
	dovecot_inject "$name" "$MSG" || bail "inject into $name failed"
	{
		printf 'poll localhost via 127.0.0.1 protocol pop3 service %s\n' "$port"
		printf '  user %s password "pw-%s" is %s here %s\n' "$name" "$name" "$name" "$*"
		printf '  mda "cat >>%s/delivered"\n' "$DIR"
	} >"$DIR/rc"
	mark=$(peers_log_lines "$DOVECOT_LOG")
	[ $(( $(peers_now_ms) - t_start )) -lt 110000 ] ||
	    bail "time budget used up (fetchmail hanging?)"
	peers_fetchmail "$FM" "$DIR/home" "$DIR/rc" -v >"$DIR/out" 2>"$DIR/err"
	RC=$?
	OUT=$DIR/out ERR=$DIR/err
	# The session's end is logged by the login process (failure) or by
	# pop3 (success): wait for it.
	peers_wait_until 2 eval 'peers_log_since "$DOVECOT_LOG" $mark | grep -q "Disconnected"'
	LOG=$DIR/log
	peers_log_since "$DOVECOT_LOG" "$mark" | grep -v 'SSL: where=\|SSL alert: where=' >"$LOG"
	CASE=$name
}
# fetched: the message was delivered once and the mailbox is empty.
fetched() {
	local n
	n=$(grep -c '^Message-ID: <tls-test@example.org>' "$DIR/delivered" 2>/dev/null)
	[ "${n:-0}" = 1 ] || why "delivered ${n:-0} times"
	[ "$(dovecot_count "$CASE")" = 0 ] || why "mailbox $CASE holds $(dovecot_count "$CASE")"
	[ -z "$WHY" ]
}
# untouched: nothing delivered, the message still on the server.
untouched() {
	[ ! -s "$DIR/delivered" ] || why "something was delivered"
	[ "$(dovecot_count "$CASE")" = 1 ] || why "mailbox $CASE holds $(dovecot_count "$CASE")"
	[ -z "$WHY" ]
}
want_rc() {
	[ "$RC" = "$1" ] && return 0
	why "exit status $RC, expected $1" "stderr: $(head -12 "$ERR")" "stdout tail: $(tail -5 "$OUT")"
	return 1
}
# has FILE LINE...: every LINE occurs as a whole line in FILE.
has() {
	local f=$1 l bad=0
	shift
	for l in "$@"; do
		grep -Fxq -- "$l" "$f" || { why "missing line: $l"; bad=1; }
	done
	[ $bad = 0 ] && return 0
	why "$(basename "$f"): $(grep -v 'Running as root' "$f" | head -12)"
	return 1
}
# log_auth: Dovecot saw an authentication request or a login.
log_auth() {
	grep -Eq 'client in: AUTH|Login: user=|auth failed|Aborted login|user=<[^>]' "$LOG"
}
# transcript_creds: the -v transcript shows a credential-bearing command,
# or anything but QUIT after STLS.
transcript_creds() {
	grep -Eq '^fetchmail: POP3> (AUTH|USER|PASS|APOP|RPOP)' "$OUT" && return 0
	awk '/^fetchmail: POP3> STLS/ { s = 1; next } s && /^fetchmail: POP3> / && !/POP3> QUIT/ { f = 1 } END { exit !f }' "$OUT"
}
# no_creds: neither the transcript nor Dovecot's log shows a credential.
no_creds() {
	local bad=0
	if transcript_creds; then
		bad=1; why "transcript: $(grep '^fetchmail: POP3> ' "$OUT" | tr '\n' '|')"
	fi
	if log_auth; then
		bad=1; why "dovecot log: $(grep -E 'client in: AUTH|Login:|auth failed|user=<[^>]' "$LOG" | head -3)"
	fi
	grep -q 'no auth attempts' "$LOG" || { bad=1; why "no 'no auth attempts' line in the dovecot log: $(tail -3 "$LOG")"; }
	[ $bad = 0 ]
}
# tls_login: Dovecot logged the user's login over TLS, and the credential
# detectors see it (so they would see a leak).
tls_login() {
	grep -q "Login: user=<$CASE>.*, TLS" "$LOG" || why "no TLS login in the dovecot log: $(grep Login "$LOG")"
	log_auth || why "log_auth does not see the login"
	transcript_creds || why "transcript_creds does not see the authentication"
	[ -z "$WHY" ]
}
# negative NAME DESC PORT 'OPTIONS' LINE...: one failing case, 3 points.
negative() {
	local name=$1 desc=$2 port=$3 opts=$4
	shift 4
	tcase "$name" "$port" "$opts"
	check "$desc: exit status 2, nothing fetched" eval 'want_rc 2 && untouched'
	check "$desc: error lines: $(printf '%s / ' "$@" | sed 's/ \/ $//')" has "$ERR" "$@"
	check "$desc: no credential sent (transcript, dovecot auth log)" no_creds
}

P=$DOVECOT_POP3_PORT PS=$DOVECOT_POP3S_PORT
CA="sslcertfile $PEERS_CA"
CN="sslcommonname localhost"

# ================================================================ positive
tcase imp "$PS" ssl "$CA" "$CN"
check "implicit TLS (ssl, pop3s port, test CA): exit 0, message fetched" eval 'want_rc 0 && fetched'
check "implicit TLS: TLS login, no STLS in the transcript" eval 'tls_login && ! grep -q "POP3> STLS" "$OUT"'

tcase stls "$P" "$CA" "$CN"
check "STLS with default sslcertck: exit 0, message fetched" eval 'want_rc 0 && fetched'
check "STLS: 'POP3> STLS' before authentication, 'localhost: upgrade to TLS succeeded.', TLS login" \
    eval 'tls_login && has "$OUT" "fetchmail: POP3> STLS" "fetchmail: localhost: upgrade to TLS succeeded." &&
    awk "/POP3> STLS/ { s = NR } /POP3> AUTH/ && !a { a = NR } END { exit !(s && a > s) }" "$OUT"'

tcase fpok "$P" "$CA" "$CN" "sslfingerprint \"$FP_SERVER\""
check "sslfingerprint $FP_SERVER (MD5) matching: exit 0, fetched" eval 'want_rc 0 && fetched'
check "sslfingerprint matching: 'localhost fingerprints match.', TLS login" \
    eval 'tls_login && has "$OUT" "fetchmail: localhost fingerprints match."'

# ================================================================ negative, server certificate
negative cnwrong "STLS, sslcommonname wrong.example" "$P" "$CA sslcommonname wrong.example" \
    "fetchmail: Server CommonName mismatch: localhost != wrong.example" \
    "fetchmail: Server certificate verification error: hostname mismatch" \
    "fetchmail: wrong.example: upgrade to TLS failed."
negative cnwrongi "implicit TLS, sslcommonname wrong.example" "$PS" "ssl $CA sslcommonname wrong.example" \
    "fetchmail: Server CommonName mismatch: localhost != wrong.example" \
    "fetchmail: Server certificate verification error: hostname mismatch" \
    "fetchmail: wrong.example: SSL connection failed."
negative noca "STLS, unknown CA (no sslcertfile)" "$P" "$CN" \
    "fetchmail: Server certificate verification error: unable to get local issuer certificate" \
    "fetchmail: localhost: upgrade to TLS failed."
negative nocai "implicit TLS, unknown CA (no sslcertfile)" "$PS" "ssl $CN" \
    "fetchmail: Server certificate verification error: unable to get local issuer certificate" \
    "fetchmail: localhost: SSL connection failed."
negative fpbad "STLS, sslfingerprint mismatch" "$P" "$CA $CN sslfingerprint \"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\"" \
    "fetchmail: localhost fingerprints do not match!" \
    "fetchmail: localhost: upgrade to TLS failed."

# ================================================================ negative, bad certificates
restart_with expired
negative exp "STLS, expired certificate" "$P" "$CA $CN" \
    "fetchmail: Server certificate verification error: certificate has expired" \
    "fetchmail: localhost: upgrade to TLS failed."
negative expi "implicit TLS, expired certificate" "$PS" "ssl $CA $CN" \
    "fetchmail: Server certificate verification error: certificate has expired" \
    "fetchmail: localhost: SSL connection failed."

restart_with selfsigned
negative self "STLS, self-signed certificate" "$P" "$CA $CN" \
    "fetchmail: Server certificate verification error: self-signed certificate" \
    "fetchmail: localhost: upgrade to TLS failed."
negative selfi "implicit TLS, self-signed certificate" "$PS" "ssl $CA $CN" \
    "fetchmail: Server certificate verification error: self-signed certificate" \
    "fetchmail: localhost: SSL connection failed."
lfp=$(echo "$FP_SELF" | tr 'A-F' 'a-f')
tcase pin "$P" "$CN" "no sslcertck sslfingerprint \"$lfp\""
check "self-signed, no sslcertck, sslfingerprint (lower case) pinned: exit 0, fetched over TLS" \
    eval 'want_rc 0 && fetched && tls_login && has "$OUT" "fetchmail: localhost fingerprints match."'

restart_with wronghost
negative whost "STLS, certificate for wrong.example" "$P" "$CA $CN" \
    "fetchmail: Server CommonName mismatch: wrong.example != localhost" \
    "fetchmail: Server certificate verification error: hostname mismatch" \
    "fetchmail: localhost: upgrade to TLS failed."
negative whosti "implicit TLS, certificate for wrong.example" "$PS" "ssl $CA $CN" \
    "fetchmail: Server CommonName mismatch: wrong.example != localhost" \
    "fetchmail: Server certificate verification error: hostname mismatch" \
    "fetchmail: localhost: SSL connection failed."

# ================================================================ server without STLS
restart_with server 'protocol pop3 {
  ssl = no
}' 3
negative nostls "server without STLS, default sslcertck (TLS mandatory)" "$P" "$CA $CN" \
    "fetchmail: localhost: upgrade to TLS failed."
negative nostlsp "server without STLS, no sslcertck but sslproto tls1.2+ (TLS mandatory)" "$P" \
    "$CA $CN no sslcertck sslproto tls1.2+" \
    "fetchmail: localhost: upgrade to TLS failed."
tcase opp "$P" "$CA $CN" "no sslcertck"
check "server without STLS, no sslcertck (opportunistic): exit 0, fetched in plain text" \
    eval 'want_rc 0 && fetched && grep -q "Login: user=<opp>" "$LOG" && ! grep -q "Login: user=<opp>.*TLS" "$LOG"'

t_end=$(peers_now_ms)
echo "# fetchmail under test: $FM; server up $((t_up - t_start)) ms, cases $((t_end - t_up)) ms"
[ $k = $NTESTS ] || echo "# plan mismatch: $k test points run"
[ $failed = 0 ]
