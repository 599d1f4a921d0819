#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016,SC2086,SC2154,SC2317
# SASL mechanisms that Debian's Dovecot lacks, against a scripted peer
# (tests/peers/saslpeer.py) that verifies the client's exchange on its
# own: NTLMv2 (recomputed NTProofStr), OTP (hash of the six words against
# the stored previous OTP), SCRAM-SHA-256 (client proof), CRAM-MD5.
#   N  NTLM, POP3 and IMAP, user "name" (domain from the target name) and
#      "name@WORKGRP" (domain from the user); a wrong password is refused
#   O  OTP with six words: two polls, the sequence number goes down by one
#      at each; a wrong pass phrase is refused
#   S  SCRAM-SHA-256: correct server signature; a WRONG v= and no v= at
#      all must be refused although the server then says OK: exit 3,
#      nothing fetched
#   H  hostile challenges (not base64, SCRAM nonce not extending ours,
#      i=0, i=huge, NTLM Type 2 buffers out of range, OTP algorithm
#      unknown): "*" sent, exit 3, nothing fetched, no hang, even though
#      the server answers the "*" with OK
#   A  auth any on a server offering "NTLM CRAM-MD5": one masking
#      mechanism, NTLM first in POP3 and CRAM-MD5 first in IMAP, as the
#      reference orders them; the first refused -> the other, never
#      cleartext while a masking mechanism is left
#   D  the detector itself: with auth password (USER/PASS, LOGIN) the
#      password check below must fire
# Every row: neither the password nor base64 of it in the peer's log of
# what it received (raw and base64-decoded) nor in fetchmail's -v output.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/peers/lib.sh"
FM=${FETCHMAIL:-${top_builddir:-.}/fetchmail}
export PEERS_FETCHMAIL_TIMEOUT=${PEERS_FETCHMAIL_TIMEOUT:-30}

PY=$(command -v python3 2>/dev/null)
if [ -z "$PY" ]; then
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP fetchmail under test ($FM) not executable"
	exit 0
fi
PY=$("$PY" -c 'import sys; print(sys.executable)')

PLAN=163
echo "1..$PLAN"
. "$top/tests/tap.sh"
bail() {
	echo "Bail out! $*"
	exit 1
}

peers_init || bail "no temporary directory"
W=$PEERS_TMP/w
mkdir -p "$W"

if "$PY" -S "$PEERS_LIB_DIR/saslpeer.py" selftest >"$W/selftest.out" 2>&1; then
	ok "saslpeer self-test (MD4 RFC 1320, OTP RFC 2289, NTLMv2 MS-NLMP, SCRAM RFC 7677)"
else
	notok "saslpeer self-test" "$(grep -v '^ok' "$W/selftest.out")"
fi

PW='Nt-s3cr3t!Pw9'
OTPPW='correct horse otp phrase'
ME=$(id -un)

# sp_start NAME PROTO OPTION...: a fresh peer in $W/NAME; sets SP_DIR,
# SP_PORT, SP_PID, SP_N (connections served so far)
sp_start() {
	local name=$1 proto=$2
	shift 2
	SP_DIR=$W/$name SP_N=0 SP_PROTO=$proto
	mkdir -p "$SP_DIR"
	"$PY" -S "$PEERS_LIB_DIR/saslpeer.py" serve --proto "$proto" \
	    --dir "$SP_DIR" --parent-pid $$ --timeout 20 "$@" \
	    >"$SP_DIR/peer.out" 2>&1 </dev/null &
	SP_PID=$!
	peers_register_pid "$SP_PID"
	peers_wait_until 10 test -s "$SP_DIR/port" ||
	    bail "saslpeer did not start: $(tail -3 "$SP_DIR/peer.out")"
	SP_PORT=$(cat "$SP_DIR/port")
}
sp_stop() {
	peers_kill_wait "$SP_PID" 3
}
# st KEY: a value from the peer's state file
st() {
	awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$SP_DIR/state"
}
_sp_done() {
	[ "$(st conns)" -ge "$SP_N" ] 2>/dev/null
}
# poll AUTH USER [RC LINES]: one poll of the current peer with -v; sets
# $out and $rc, and waits until the peer has finished the connection
poll() {
	local auth=$1 user=$2
	shift 2
	cat >"$SP_DIR/rc" <<EOF
poll 127.0.0.1 proto $SP_PROTO service $SP_PORT auth $auth
  user "$user" is $ME here sslproto ''
  mda "cat >>$SP_DIR/out"
  ${*:-password \"$PW\"}
EOF
	out=$(peers_fetchmail "$FM" "$SP_DIR/home" "$SP_DIR/rc" -v 2>&1)
	rc=$?
	printf '%s\n' "$out" >>"$SP_DIR/fetchmail.out"
	SP_N=$((SP_N + 1))
	peers_wait_until 10 _sp_done ||
	    echo "# saslpeer: connection $SP_N did not end within 10 s"
}

# ---- predicates (set WHY on failure)
diag() {
	WHY="rc=$rc
$(printf '%s\n' "$out" | tail -25)
-- peer log tail:
$(tail -15 "$SP_DIR/peer.log" 2>/dev/null)"
}
rc_is() {
	[ "$rc" = "$1" ] || { diag; return 1; }
}
# delivered: the message reached the MDA and the server is empty
delivered() {
	[ "$(grep -c '^X-Saslpeer-Id: 1$' "$SP_DIR/out" 2>/dev/null)" = 1 ] &&
	    [ "$(st messages)" = 0 ] && [ "$(st committed)" = 1 ] ||
	    { diag; WHY="$WHY
state: $(tr '\n' ' ' <"$SP_DIR/state")"; return 1; }
}
# kept: nothing retrieved, nothing delivered, the message on the server
kept() {
	[ ! -s "$SP_DIR/out" ] && [ "$(st messages)" = 1 ] &&
	    [ "$(st retrieved)" = 0 ] && [ "$(st committed)" = 0 ] &&
	    ! grep -Eq ' EV: RETR| C: ([A-Za-z0-9]+ )?(STAT|UIDL|LIST|RETR|TOP|SELECT|EXAMINE|FETCH|UID)( |$)' \
	    "$SP_DIR/peer.log" ||
	    { diag; WHY="$WHY
state: $(tr '\n' ' ' <"$SP_DIR/state")"; return 1; }
}
# peer_says TEXT: the peer logged TEXT (fixed string)
peer_says() {
	grep -qF -- "$1" "$SP_DIR/peer.log" || { diag; return 1; }
}
# fm_says REGEX: fetchmail's output matches REGEX
fm_says() {
	printf '%s\n' "$out" | grep -q -- "$1" || { diag; return 1; }
}
# secret_kept SECRET USER: neither SECRET nor base64 of it (alone or as
# PLAIN's "\0USER\0SECRET") in the peer's log (what it received, raw and
# decoded) nor in fetchmail's output, and no cleartext login attempted
secret_kept() {
	local s=$1 u=$2 b1 b2 b3
	b1=$(printf '%s' "$s" | base64 -w0)
	b2=$(printf '\0%s\0%s' "$u" "$s" | base64 -w0)
	b3=$(printf '%s' "$s" | iconv -f UTF-8 -t UTF-16LE 2>/dev/null | base64 -w0)
	if grep -qF -e "$s" -e "$b1" -e "$b2" -e "${b3:-@@none@@}" "$SP_DIR/peer.log"; then
		WHY="the secret is in the peer log:
$(grep -nF -e "$s" -e "$b1" -e "$b2" "$SP_DIR/peer.log" | head -3)"
		return 1
	fi
	if printf '%s' "$out" | grep -qF -e "$s" -e "$b1" -e "$b2"; then
		WHY="the secret is in fetchmail's output"
		return 1
	fi
	if grep -q ' EV: CLEARTEXT' "$SP_DIR/peer.log"; then
		WHY="a cleartext login was attempted:
$(grep ' EV: CLEARTEXT' "$SP_DIR/peer.log")"
		return 1
	fi
}
no_crash() {
	case $rc in 124|137|13[0-9]|1[4-9][0-9]|2[0-9][0-9])
		diag; WHY="crash or hang: $WHY"; return 1 ;;
	esac
	! printf '%s' "$out" | grep -qi 'sanitizer\|segmentation\|core dumped' ||
	    { diag; return 1; }
}

# ------------------------------------------------- N: NTLM
# proto user-in-rc expected-domain extra-peer-options
for row in "pop3 name TESTDOM" "pop3 name@WORKGRP WORKGRP" \
    "imap name TESTDOM" "imap name@WORKGRP WORKGRP --sasl-ir"; do
	set -- $row
	proto=$1 u=$2 dom=$3
	shift 3
	sp_start "ntlm-$proto-$u" "$proto" --user name --password "$PW" \
	    --mechs "NTLM" --ntlm-domain "$dom" "$@"
	poll ntlm "$u"
	d="N: $proto auth ntlm user $u"
	check "$d: exit 0" rc_is 0
	check "$d: the peer verified the NTLMv2 response (domain $dom)" \
	    peer_says "EV: AUTH-OK NTLM"
	check "$d: delivered, server emptied" delivered
	check "$d: password not on the wire nor in the output" secret_kept "$PW" "$u"
	sp_stop
done
for proto in pop3 imap; do
	sp_start "ntlm-wrong-$proto" "$proto" --user name --password "other-$PW" \
	    --mechs "NTLM"
	poll ntlm name
	d="N: $proto auth ntlm, wrong password"
	check "$d: exit 3" rc_is 3
	check "$d: the peer found the NTProofStr wrong" \
	    peer_says "AUTH-FAIL NTLM NTProofStr mismatch"
	check "$d: nothing fetched" kept
	check "$d: fetchmail reports the failure" fm_says "Authorization failure on name@"
	if [ "$proto" = pop3 ]; then
		# the reference sends QUIT after a refused login (RFC 1939:
		# the session stays in AUTHORIZATION state)
		check "$d: QUIT sent after the refusal, as the reference does" \
		    grep -q ' C: QUIT$' "$SP_DIR/peer.log"
	else
		check "$d: LOGOUT sent after the refusal" \
		    grep -q ' C: [A-Za-z0-9]* LOGOUT$' "$SP_DIR/peer.log"
	fi
	sp_stop
done

# ------------------------------------------------- O: OTP
sp_start otp-pop3 pop3 --user name --otp-pass "$OTPPW" --otp-seq 99 \
    --otp-seed fmSeed7 --mechs "OTP"
poll otp name "password \"$OTPPW\""
d="O: pop3 auth otp, first poll"
check "$d: exit 0" rc_is 0
check "$d: six words accepted at sequence 99" peer_says "EV: OTP accepted seq 99 (word)"
check "$d: delivered, server emptied" delivered
check "$d: sequence now 98" eval '[ "$(st otp_seq)" = 98 ] || { diag; false; }'
check "$d: pass phrase not on the wire" secret_kept "$OTPPW" name
poll otp name "password \"$OTPPW\""
d="O: pop3 auth otp, second poll"
check "$d: exit 1 (logged in, no mail)" rc_is 1
check "$d: six words accepted at sequence 98" peer_says "EV: OTP accepted seq 98 (word)"
check "$d: sequence now 97, two logins" \
    eval '[ "$(st otp_seq)" = 97 ] && [ "$(st auth_ok)" = 2 ] || { diag; false; }'
check "$d: the challenge named sequence 98" \
    peer_says "S: + $(printf 'otp-md5 98 fmSeed7 ext' | base64 -w0)"
sp_stop
sp_start otp-imap imap --user name --otp-pass "$OTPPW" --otp-seq 42 \
    --otp-seed imapSeed --mechs "OTP" --sasl-ir
poll otp name "password \"$OTPPW\""
d="O: imap auth otp (SASL-IR)"
check "$d: exit 0" rc_is 0
check "$d: accepted at sequence 42, now 41" \
    eval 'peer_says "EV: OTP accepted seq 42 (word)" && [ "$(st otp_seq)" = 41 ]'
check "$d: delivered, server emptied" delivered
check "$d: pass phrase not on the wire" secret_kept "$OTPPW" name
sp_stop
sp_start otp-wrong pop3 --user name --otp-pass "$OTPPW" --otp-seq 99 \
    --mechs "OTP"
poll otp name "password \"not the $OTPPW\""
d="O: pop3 auth otp, wrong pass phrase"
check "$d: exit 3" rc_is 3
check "$d: the peer found the OTP wrong, sequence unchanged" \
    eval 'peer_says "AUTH-FAIL OTP OTP mismatch" && [ "$(st otp_seq)" = 99 ]'
check "$d: nothing fetched" kept
sp_stop

# ------------------------------------------------- S: SCRAM-SHA-256
for proto in pop3 imap; do
	sp_start "scram-ok-$proto" "$proto" --user name --password "$PW" \
	    --mechs "SCRAM-SHA-256"
	poll scram-sha-256 name
	d="S: $proto scram-sha-256, correct v="
	check "$d: exit 0" rc_is 0
	check "$d: the peer verified the client proof" peer_says "EV: AUTH-OK SCRAM-SHA-256"
	check "$d: delivered" delivered
	check "$d: password not on the wire" secret_kept "$PW" name
	sp_stop
	for sc in scram-badv scram-nov; do
		sp_start "$sc-$proto" "$proto" --user name --password "$PW" \
		    --mechs "SCRAM-SHA-256" --scenario "$sc" --ok-after-cancel
		poll scram-sha-256 name
		d="S: $proto scram-sha-256, $sc, server says OK anyway"
		check "$d: exit 3" rc_is 3
		if [ "$sc" = scram-badv ]; then
			check "$d: the client cancelled (\"*\")" peer_says "EV: CANCEL SCRAM-SHA-256"
			check "$d: the signature mismatch is logged" \
			    fm_says "server signature does not match"
		else
			check "$d: the client sent no \"*\" after OK (nothing to cancel)" \
			    eval '! grep -q "C: \\*$\|C: [^ ]* \\*$" "$SP_DIR/peer.log" || { diag; false; }'
			check "$d: logged: the server did not prove its identity" \
			    fm_says "without proving its identity"
		fi
		check "$d: nothing fetched" kept
		check "$d: password not on the wire" secret_kept "$PW" name
		sp_stop
	done
done

# ------------------------------------------------- H: hostile challenges
# scenario auth mechs
for row in "b64 scram-sha-256 SCRAM-SHA-256" "b64 ntlm NTLM" "b64 otp OTP" \
    "scram-nonce scram-sha-256 SCRAM-SHA-256" \
    "scram-i0 scram-sha-256 SCRAM-SHA-256" \
    "scram-ihuge scram-sha-256 SCRAM-SHA-256" \
    "ntlm-badoff ntlm NTLM" "ntlm-badname ntlm NTLM" \
    "otp-badalg otp OTP"; do
	set -- $row
	sc=$1 auth=$2 mech=$3
	for proto in pop3 imap; do
		sp_start "h-$sc-$auth-$proto" "$proto" --user name --password "$PW" \
		    --otp-pass "$PW" --mechs "$mech" --scenario "$sc" --ok-after-cancel
		poll "$auth" name
		d="H: $proto $auth, $sc"
		check "$d: exit 3, no crash or hang" eval 'no_crash && rc_is 3'
		check "$d: the client cancelled with \"*\"" peer_says "EV: CANCEL $mech"
		check "$d: nothing fetched although the server said OK" kept
		check "$d: password not on the wire" secret_kept "$PW" name
		sp_stop
	done
done

# ------------------------------------------------- A: auth any
# The reference 6.4.37 (checked against this peer) tries, with auth any
# on a server offering NTLM and CRAM-MD5: POP3 NTLM, then CRAM-MD5, then
# USER/PASS; IMAP CRAM-MD5, then NTLM, then LOGIN -- each refusal moves
# on to the next mechanism, cleartext only when every one failed.
for proto in pop3 imap; do
	sp_start "any-$proto" "$proto" --user name --password "$PW" \
	    --mechs "NTLM CRAM-MD5"
	poll any name
	d="A: $proto auth any, server offers NTLM CRAM-MD5"
	check "$d: exit 0" rc_is 0
	check "$d: one mechanism, NTLM or CRAM-MD5, tried and accepted" \
	    eval 'case $(st mechs) in NTLM|CRAM-MD5) peer_says "EV: AUTH-OK $(st mechs)" ;; *) diag; false ;; esac'
	if [ "$proto" = pop3 ]; then
		check "$d: NTLM first, as the reference orders it" \
		    eval '[ "$(st mechs)" = NTLM ] || { diag; false; }'
	else
		check "$d: CRAM-MD5 first, as the reference orders it for IMAP" \
		    eval '[ "$(st mechs)" = CRAM-MD5 ] || { diag; false; }'
	fi
	check "$d: delivered" delivered
	check "$d: password not on the wire" secret_kept "$PW" name
	sp_stop
	# the first mechanism (NTLM here; CRAM-MD5 would go first in the
	# reference's IMAP and succeed) refused: the other masking
	# mechanism must be tried before any cleartext login
	sp_start "any-refuse-$proto" "$proto" --user name --password "$PW" \
	    --mechs "NTLM CRAM-MD5" --refuse NTLM
	poll any name
	d="A: $proto auth any, NTLM refused"
	check "$d: exit 0" rc_is 0
	check "$d: logged in with CRAM-MD5" peer_says "EV: AUTH-OK CRAM-MD5"
	check "$d: delivered" delivered
	check "$d: no cleartext login, password not on the wire" secret_kept "$PW" name
	sp_stop
done

# ------------------------------------------------- D: the detector works
for proto in pop3 imap; do
	sp_start "detector-$proto" "$proto" --user name --password "$PW" \
	    --mechs "CRAM-MD5"
	poll password name
	check "D: $proto auth password: the cleartext password is detected" \
	    eval '! secret_kept "$PW" name || { diag; false; }'
	sp_stop
done

[ "$k" = "$PLAN" ] || echo "# planned $PLAN, ran $k"
exit $((failed > 0 || k != PLAN))
