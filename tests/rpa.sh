#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016,SC2086,SC2154,SC2317
# CompuServe RPA (draft-petke-remote-pass-auth-00) in --enable-rpa builds,
# against a scripted POP3 server (tests/peers/rpapeer.py) that does the
# server and deity side of the draft on its own: it recomputes the
# client's response Ru from the pass phrase it knows and sends Kusu and
# the proof Au.  fetchmail 6.4.37 has no "auth rpa": auth any uses RPA
# for a user "name@compuserve.com" when the server's CAPA offers it.
#   K  the peer's known answers (MD5, the draft's DER and Unicode
#      examples, token 1's bytes, Kusu/Au round trip); token 1 as sent
#   V  versions 3.0 (five tokens, status octet), 2.0 (four: an empty
#      last line) and 1.0; a realm list naming other realms first; the
#      pass phrase in another case (names and phrases are lower-cased);
#      a Latin-1 pass phrase given in UTF-8: logged in, mail delivered
#   W  a wrong pass phrase: version 3.0 (status 2 in token 4) and 2.0
#      (-ERR after token 3): exit 3, nothing fetched, no cleartext login
#   H  hostile tokens (bad Au, a deity without the pass phrase, wrong OID,
#      DER length too long or not minimal, challenge short or past the
#      end, realm list past the end or with a control character, no
#      matching realm, trailing octets, bad time stamp, version 4.0,
#      token 4 fields, not base64, status 1, +OK without token 4): "*"
#      (or no login), exit 3, nothing fetched although the server then
#      says OK, no crash or hang
#   A  not a compuserve.com user, or no RPA offered: RPA not tried
# Every row: the pass phrase is neither on the wire (raw, base64, UTF-16)
# nor in fetchmail's -v output.
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
if ! peers_init; then
	echo "1..0 # SKIP no temporary directory"
	exit 0
fi
W=$PEERS_TMP/w
mkdir -p "$W"
: >"$W/empty.rc"
if ! peers_fetchmail "$FM" "$W/vhome" "$W/empty.rc" -V 2>/dev/null |
    grep -q '^This is fetchmail release .*+RPA'; then
	echo "1..0 # SKIP RPA not built (configure --enable-rpa)"
	exit 0
fi

PLAN=138
echo "1..$PLAN"
. "$top/tests/tap.sh"
bail() {
	echo "Bail out! $*"
	exit 1
}
ME=$(id -un)
PW='Open Sesame, 1997!'

# rp_start NAME OPTION...: a fresh peer in $W/NAME; sets SP_DIR, SP_PORT,
# SP_PID, SP_N (connections served so far)
rp_start() {
	local name=$1
	shift
	SP_DIR=$W/$name SP_N=0
	mkdir -p "$SP_DIR"
	"$PY" -S "$PEERS_LIB_DIR/rpapeer.py" serve --dir "$SP_DIR" \
	    --parent-pid $$ --timeout 20 "$@" \
	    >"$SP_DIR/peer.out" 2>&1 </dev/null &
	SP_PID=$!
	peers_register_pid "$SP_PID"
	peers_wait_until 10 test -s "$SP_DIR/port" ||
	    bail "rpapeer did not start: $(tail -3 "$SP_DIR/peer.out")"
	SP_PORT=$(cat "$SP_DIR/port")
}
rp_stop() {
	peers_kill_wait "$SP_PID" 3
}
# st KEY: a value from the peer's state file
st() {
	awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$SP_DIR/state"
}
_sp_done() {
	[ "$(st conns)" -ge "$SP_N" ] 2>/dev/null
}
# poll USER PASSPHRASE: one poll with auth any and -v; sets $out and $rc
# and waits until the peer has finished the connection
poll() {
	cat >"$SP_DIR/rc" <<EOF
poll 127.0.0.1 proto pop3 service $SP_PORT auth any
  user "$1" is $ME here sslproto ''
  mda "cat >>$SP_DIR/out"
  password "$2"
EOF
	out=$(peers_fetchmail "$FM" "$SP_DIR/home" "$SP_DIR/rc" -v 2>&1)
	rc=$?
	printf '%s\n' "$out" >>"$SP_DIR/fetchmail.out"
	SP_N=$((SP_N + 1))
	peers_wait_until 10 _sp_done ||
	    echo "# rpapeer: connection $SP_N did not end within 10 s"
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
delivered() {
	[ "$(grep -c '^X-Rpapeer-Id: 1$' "$SP_DIR/out" 2>/dev/null)" = 1 ] &&
	    [ "$(st messages)" = 0 ] && [ "$(st committed)" = 1 ] ||
	    { diag; WHY="$WHY
state: $(tr '\n' ' ' <"$SP_DIR/state")"; return 1; }
}
kept() {
	[ ! -s "$SP_DIR/out" ] && [ "$(st messages)" = 1 ] &&
	    [ "$(st retrieved)" = 0 ] && [ "$(st committed)" = 0 ] &&
	    ! grep -Eq ' EV: RETR| C: (STAT|UIDL|LIST|RETR|TOP)( |$)' \
	    "$SP_DIR/peer.log" ||
	    { diag; WHY="$WHY
state: $(tr '\n' ' ' <"$SP_DIR/state")"; return 1; }
}
peer_says() {
	grep -qF -- "$1" "$SP_DIR/peer.log" || { diag; return 1; }
}
fm_says() {
	printf '%s\n' "$out" | grep -q -- "$1" || { diag; return 1; }
}
# secret_kept SECRET: neither SECRET nor base64 of it (also as UTF-16BE
# and UTF-16LE) on the wire nor in fetchmail's output, no cleartext login
secret_kept() {
	local s=$1 b1 b2 b3
	b1=$(printf '%s' "$s" | base64 -w0)
	b2=$(printf '%s' "$s" | iconv -f UTF-8 -t UTF-16BE 2>/dev/null | base64 -w0)
	b3=$(printf '%s' "$s" | iconv -f UTF-8 -t UTF-16LE 2>/dev/null | base64 -w0)
	if grep -qF -e "$s" -e "$b1" -e "${b2:-@@none@@}" -e "${b3:-@@none@@}" \
	    "$SP_DIR/peer.log"; then
		WHY="the secret is in the peer log:
$(grep -nF -e "$s" -e "$b1" "$SP_DIR/peer.log" | head -3)"
		return 1
	fi
	if printf '%s' "$out" | grep -qF -e "$s" -e "$b1"; then
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

# ------------------------------------------------- K: known answers
if "$PY" -S "$PEERS_LIB_DIR/rpapeer.py" selftest >"$W/selftest.out" 2>&1; then
	ok "K: rpapeer self-test (MD5, the draft's DER and Unicode examples, Kusu/Au)"
else
	notok "K: rpapeer self-test" "$(grep -v '^ok' "$W/selftest.out")"
fi

# ------------------------------------------------- V: logins
# name|version|realm list|the deity's pass phrase|the rcfile's
U=name@compuserve.com
for row in "v3|3|pop@compuserve.com|$PW|$PW" \
    "v2|2|pop@compuserve.com|$PW|$PW" \
    "v1|1|pop@compuserve.com|$PW|$PW" \
    "realms|3|pop-aol@aol.com cis-pop@CompuServe.COM x@example.org|$PW|$PW" \
    "case|3|pop@compuserve.com|open sesame, 1997!|$PW" \
    "latin1|3|pop@compuserve.com|grüße aus columbus|GRÜßE AUS COLUMBUS"; do
	IFS='|' read -r name ver realms dpw fpw <<<"$row"
	rp_start "ok-$name" --version "$ver" --realms "$realms" --pass "$dpw"
	poll "$U" "$fpw"
	d="V: $name (version $ver.0)"
	check "$d: exit 0" rc_is 0
	check "$d: the peer verified Ru and sent a good Au" peer_says "EV: AUTH-OK RPA"
	check "$d: identity $U" peer_says "EV: IDENTITY $U"
	check "$d: delivered, server emptied" delivered
	check "$d: pass phrase not on the wire nor in the output" secret_kept "$fpw"
	case $name in
	v3)
		check "$d: token 1 as part 4 lays it out (1.0..3.0, mutual)" \
		    peer_says "EV: TOKEN1 601106096086480186f8730101010003000001"
		check "$d: token 5 is 60 01 00" peer_says " C: YAEA" ;;
	v2)
		check "$d: four-way: an empty line after token 4" \
		    eval '[ "$(grep -c " C: $" "$SP_DIR/peer.log")" = 1 ] || { diag; false; }' ;;
	esac
	rp_stop
done

# ------------------------------------------------- W: wrong pass phrase
for ver in 3 2; do
	rp_start "wrong-v$ver" --version "$ver" --pass "$PW"
	poll "$U" "not $PW"
	d="W: version $ver.0, wrong pass phrase"
	check "$d: exit 3" rc_is 3
	if [ "$ver" = 3 ]; then
		check "$d: status 2 in token 4, the client cancelled" \
		    eval 'peer_says "EV: RU-MISMATCH status 2" && peer_says "EV: CANCEL RPA"'
		check "$d: fetchmail names the reason" fm_says "invalid user ID or pass phrase"
	else
		check "$d: the server refused Ru" peer_says "EV: AUTH-FAIL RPA Ru mismatch"
		check "$d: fetchmail reports the failure" fm_says "Authorization failure on $U@"
	fi
	check "$d: nothing fetched" kept
	check "$d: no cleartext login after it, pass phrase not on the wire" \
	    secret_kept "not $PW"
	check "$d: QUIT after the refusal" grep -q ' C: QUIT$' "$SP_DIR/peer.log"
	rp_stop
done

# ------------------------------------------------- H: hostile tokens
# scenario|what fetchmail must report (a regex)
for row in "badau|RPA proof does not match" "fakedeity|RPA proof does not match" \
    "oid|RPA token for another mechanism" \
    "derlong|RPA token length does not match" "dernonmin|bad RPA token length" \
    "shortchal|service challenge too short (7 octets)" \
    "chalover|truncated RPA challenge" "listover|truncated RPA challenge" \
    "trailing|trailing data in the RPA challenge" \
    "ts|malformed RPA time stamp" "badver|selected RPA version 4.0" \
    "ctlrealm|control character in the RPA realm list" \
    "norealm|does not accept the RPA realm compuserve.com" \
    "tok4len|malformed RPA authentication token" \
    "tok4trail|trailing data in the RPA authentication token" \
    "b64|malformed RPA challenge from the server" \
    "status1|RPA authentication failed: restricted user" \
    "earlyok|RPA login without proving its identity"; do
	IFS='|' read -r sc why <<<"$row"
	rp_start "h-$sc" --pass "$PW" --scenario "$sc" --ok-after-cancel
	poll "$U" "$PW"
	d="H: $sc"
	check "$d: exit 3, no crash or hang" eval 'no_crash && rc_is 3'
	check "$d: the reason is logged ($why)" fm_says "$why"
	if [ "$sc" = earlyok ]; then
		check "$d: no \"*\" after the server's OK (nothing to cancel)" \
		    eval '! peer_says "EV: CANCEL RPA" 2>/dev/null || { diag; false; }'
	else
		check "$d: the client cancelled with \"*\"" peer_says "EV: CANCEL RPA"
	fi
	check "$d: nothing fetched although the server said OK" kept
	check "$d: pass phrase not on the wire" secret_kept "$PW"
	rp_stop
done

# ------------------------------------------------- A: RPA not applicable
rp_start "a-other" --pass "$PW" --user name --realm example.org
poll name@example.org "$PW"
check "A: user name@example.org: RPA not tried" \
    eval '! grep -q "EV: AUTH-START RPA" "$SP_DIR/peer.log" || { diag; false; }'
rp_stop
rp_start "a-norpa" --pass "$PW" --no-rpa
poll "$U" "$PW"
check "A: no SASL RPA in CAPA: RPA not tried" \
    eval '! grep -q "EV: AUTH-START RPA" "$SP_DIR/peer.log" || { diag; false; }'
rp_stop

[ "$k" = "$PLAN" ] || echo "# planned $PLAN, ran $k"
exit $((failed > 0 || k != PLAN))
