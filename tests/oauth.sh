#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016,SC2086,SC2154,SC2317
# OAuth 2.0 access tokens (auth oauthbearer / xoauth2) validated for real:
# a private Dovecot with a second passdb, driver = oauth2, whose
# introspection_url is a stub (tests/peers/oauthstub.py) on a loopback
# port.  The tokens differ from the users' passwords in the passwd-file
# (the first passdb), so a login proves the oauth2 passdb accepted the
# token.
#   T  IMAP and POP3, auth oauthbearer and xoauth2: Dovecot logs the
#      mechanism, the stub saw the token, the mail is delivered and the
#      server emptied; the token never shows in the -v transcript
#   R  a revoked token: exit 3, the mail stays
#   F  passwordfile holding the token, rotated between two polls (old
#      token revoked, new one valid): both polls succeed, each with the
#      token the file held then
#   C  passwordcommand "cat FILE" works; a failing passwordcommand is exit
#      3 with a clear message and nothing sent to Dovecot or the stub
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/peers/lib.sh"
FM=${FETCHMAIL:-${top_builddir:-.}/fetchmail}
export PEERS_FETCHMAIL_TIMEOUT=${PEERS_FETCHMAIL_TIMEOUT:-30}

if ! peers_have dovecot; then
	echo "1..0 # SKIP $PEERS_WHY"
	exit 0
fi
PY=$(command -v python3 2>/dev/null)
if [ -z "$PY" ]; then
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP fetchmail under test ($FM) not executable"
	exit 0
fi

PLAN=60
echo "1..$PLAN"
. "$top/tests/tap.sh"
bail() {
	echo "Bail out! $*"
	peers_dump_logs 30
	exit 1
}

peers_init || bail "no temporary directory"
W=$PEERS_TMP/w
S=$PEERS_TMP/stub
mkdir -p "$W/out" "$S"
chmod 755 "$W" "$S"
: >"$S/tokens"
: >"$S/stub.log"
chmod 644 "$S/tokens" "$S/stub.log"

# ---- the introspection stub
"$PY" -S "$PEERS_LIB_DIR/oauthstub.py" --dir "$S" --parent-pid $$ \
    >"$S/stub.out" 2>&1 </dev/null &
STUB_PID=$!
peers_register_pid "$STUB_PID"
peers_wait_until 10 test -s "$S/port" ||
    bail "oauthstub did not start: $(tail -3 "$S/stub.out")"
STUB_PORT=$(cat "$S/port")

# ---- Dovecot: passwd-file first (passwords), then oauth2 (tokens)
OAUTH_CONF=$PEERS_TMP/dovecot-oauth2.conf.ext
cat >"$OAUTH_CONF" <<EOF
introspection_mode = post
introspection_url = http://127.0.0.1:$STUB_PORT/introspect
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 10000
EOF
chmod 644 "$OAUTH_CONF"
export DOVECOT_MECHS="plain login oauthbearer xoauth2"
export DOVECOT_EXTRA_CONF="passdb {
  driver = oauth2
  mechanisms = oauthbearer xoauth2
  args = $OAUTH_CONF
}"

PW='passwd-file-Pa55'		# every user's password: never the token
USERS="o1 o2 o3 o4 o5 o6 o7 o8"
for u in $USERS; do dovecot_add_user "$u" "$PW"; done
dovecot_start || bail "dovecot did not start"

# token USER N: a token for USER (never the password)
token() {
	printf 'ya29.tok-%s-%s-%s' "$1" "$2" "$(printf '%s%s' "$1" "$2" | md5sum | cut -c1-16)"
}
# grant "TOKEN USER"...: exactly these tokens are active
grant() {
	printf '%s\n' "$@" >"$S/tokens.new" && chmod 644 "$S/tokens.new" &&
	    mv -f "$S/tokens.new" "$S/tokens"
}
# msg ID: a small message naming ID
msg() {
	printf 'From: a@example.org\nTo: b@example.org\nSubject: %s\n' "$1"
	printf 'Message-ID: <oauth-%s@example.org>\nX-Test-Id: %s\n\nbody %s\n' \
	    "$1" "$1" "$1"
}
# poll USER PROTO AUTH [RC WORDS...]: one poll with -v; sets $out, $rc,
# and marks where the logs stood before it ($dmark, $smark)
poll() {
	local u=$1 proto=$2 auth=$3 port
	shift 3
	port=$DOVECOT_POP3_PORT
	[ "$proto" = imap ] && port=$DOVECOT_IMAP_PORT
	cat >"$W/rc.$u" <<EOF
poll 127.0.0.1 proto $proto service $port auth $auth
  user $u is $(id -un) here sslproto ''
  mda "cat >>$W/out/$u"
  $*
EOF
	dmark=$(peers_log_lines "$DOVECOT_LOG")
	smark=$(peers_log_lines "$S/stub.log")
	out=$(peers_fetchmail "$FM" "$W/home.$u" "$W/rc.$u" -v 2>&1)
	rc=$?
	printf '### %s %s %s (exit %s)\n%s\n' "$u" "$proto" "$auth" "$rc" \
	    "$out" >>"$W/fetchmail.log"	# for PEERS_KEEP=1 post-mortems
}
diag() {
	WHY="rc=$rc
$(printf '%s\n' "$out" | grep -v 'Running as root' | tail -20)
-- dovecot log since the poll:
$(peers_log_since "$DOVECOT_LOG" "$dmark" | grep -v 'ssl\|SSL' | tail -8)
-- stub log since the poll:
$(peers_log_since "$S/stub.log" "$smark" | tail -4)"
}
rc_is() {
	[ "$rc" = "$1" ] || { diag; return 1; }
}
# logged_in USER METHOD: Dovecot logged USER in with METHOD in this poll
logged_in() {
	peers_log_since "$DOVECOT_LOG" "$dmark" |
	    grep -q "Login: user=<$1>, method=$2," || { diag; return 1; }
}
# introspected TOKEN RESULT: the stub was asked about TOKEN in this poll
# and answered RESULT (active USER | inactive)
introspected() {
	peers_log_since "$S/stub.log" "$smark" |
	    grep -qF -- "token=$1 -> $2" || { diag; return 1; }
}
# passwd_mismatch USER: the passwd-file passdb refused this poll's token
passwd_mismatch() {
	peers_log_since "$DOVECOT_LOG" "$dmark" |
	    grep -q "passwd-file($1,.*Password mismatch" || { diag; return 1; }
}
# delivered USER: the message is in USER's output, the mailbox empty
delivered() {
	[ "$(grep -c "^X-Test-Id: $1\$" "$W/out/$1" 2>/dev/null)" = 1 ] &&
	    [ "$(dovecot_count "$1")" = 0 ] || {
		diag; WHY="left=$(dovecot_count "$1") $WHY"; return 1; }
}
# kept USER: nothing delivered, the message still on the server
kept() {
	[ ! -s "$W/out/$1" ] && [ "$(dovecot_count "$1")" = 1 ] || {
		diag; WHY="left=$(dovecot_count "$1") $WHY"; return 1; }
}
# secret_hidden SECRET USER: the -v output shows neither SECRET nor the
# base64 of it, nor of the OAUTHBEARER / XOAUTH2 messages carrying it
secret_hidden() {
	local s=$1 u=$2 b1 b2 b3
	b1=$(printf '%s' "$s" | base64 -w0)
	b2=$(printf 'n,a=%s,\001host=127.0.0.1\001' "$u" | base64 -w0 | cut -c1-12)
	b3=$(printf 'user=%s\001auth=Bearer %s\001\001' "$u" "$s" | base64 -w0)
	if printf '%s' "$out" | grep -qF -e "$s" -e "$b1" -e "$b3"; then
		WHY="the token is in the transcript"; return 1
	fi
	if printf '%s' "$out" | grep -qF -e "$b2"; then
		WHY="the OAUTHBEARER initial response is in the transcript"
		return 1
	fi
}
# nothing_sent USER: this poll reached neither Dovecot nor the stub
nothing_sent() {
	! peers_log_since "$DOVECOT_LOG" "$dmark" | grep -q "user=<$1>\|Connect\|rip=127" &&
	    [ -z "$(peers_log_since "$S/stub.log" "$smark")" ] || { diag; return 1; }
}

# ------------------------------------------------- T: each mechanism
n=0
for row in "imap oauthbearer OAUTHBEARER" "imap xoauth2 XOAUTH2" \
    "pop3 oauthbearer OAUTHBEARER" "pop3 xoauth2 XOAUTH2"; do
	set -- $row
	proto=$1 auth=$2 mech=$3
	n=$((n + 1)); u=o$n
	tok=$(token "$u" 1)
	grant "$tok $u"
	msg "$u" >"$W/m.$u"
	dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
	poll "$u" "$proto" "$auth" "password \"$tok\""
	d="T: $proto auth $auth"
	check "$d: exit 0" rc_is 0
	check "$d: Dovecot logged in with $mech" logged_in "$u" "$mech"
	check "$d: the stub validated the token" introspected "$tok" "active $u"
	check "$d: the passwd-file passdb refused it, so oauth2 said yes" \
	    passwd_mismatch "$u"
	check "$d: delivered, mailbox empty" delivered "$u"
	check "$d: token not in the transcript" secret_hidden "$tok" "$u"
done
# (Dovecot's XOAUTH2/OAUTHBEARER verify the token as a password against
# every passdb in turn: the passwd-file passdb, which lib.sh puts first
# without a mechanisms filter, would accept the password itself as a
# "token"; the tokens here are never a password, so the passwd-file
# passdb says "Password mismatch" and only the oauth2 passdb can say yes.)

# ------------------------------------------------- R: revoked token
for row in "imap oauthbearer" "pop3 xoauth2"; do
	set -- $row
	u=o5
	tok=$(token "$u" "r$1")
	grant "$(token "$u" other) $u"		# $tok is not (any more) valid
	dovecot_expunge_all "$u"
	rm -f "$W/out/$u"
	msg "$u" >"$W/m.$u"
	dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
	poll "$u" "$1" "$2" "password \"$tok\""
	d="R: $1 auth $2, revoked token"
	check "$d: exit 3" rc_is 3
	check "$d: the stub said inactive" introspected "$tok" inactive
	check "$d: no login" eval '! logged_in "$u" "[A-Z0-9]*" || { diag; WHY="logged in: $WHY"; false; }'
	check "$d: the mail stays" kept "$u"
	check "$d: reported as an authorization failure" \
	    eval 'printf "%s" "$out" | grep -q "Authorization failure on $u@" || { diag; false; }'
	check "$d: token not in the transcript" secret_hidden "$tok" "$u"
done
dovecot_expunge_all o5

# ------------------------------------------------- F: passwordfile rotation
u=o6
tok1=$(token "$u" f1) tok2=$(token "$u" f2)
grant "$tok1 $u"
printf '%s\n' "$tok1" >"$W/tokfile"
msg "$u" >"$W/m.$u"
dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
poll "$u" imap oauthbearer "passwordfile \"$W/tokfile\""
d="F: passwordfile, first token"
check "$d: exit 0" rc_is 0
check "$d: the stub validated the first token" introspected "$tok1" "active $u"
check "$d: delivered" delivered "$u"
# rotation: the old token revoked, the new one in the file
grant "$tok2 $u"
printf '%s\n' "$tok2" >"$W/tokfile.new" && mv -f "$W/tokfile.new" "$W/tokfile"
rm -f "$W/out/$u"
dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
poll "$u" pop3 xoauth2 "passwordfile \"$W/tokfile\""
d="F: passwordfile rewritten, rotated token"
check "$d: exit 0" rc_is 0
check "$d: the new token was sent and validated" introspected "$tok2" "active $u"
check "$d: the old one was not sent" \
    eval '! peers_log_since "$S/stub.log" "$smark" | grep -qF "$tok1" || { diag; false; }'
check "$d: Dovecot logged in with XOAUTH2" logged_in "$u" XOAUTH2
check "$d: delivered" delivered "$u"
check "$d: tokens not in the transcript" \
    eval 'secret_hidden "$tok1" "$u" && secret_hidden "$tok2" "$u"'

# ------------------------------------------------- C: passwordcommand
u=o7
tok=$(token "$u" c1)
grant "$tok $u"
printf '%s\n' "$tok" >"$W/tokcmd"
msg "$u" >"$W/m.$u"
dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
poll "$u" imap xoauth2 "passwordcommand \"cat $W/tokcmd\""
d="C: passwordcommand \"cat FILE\""
check "$d: exit 0" rc_is 0
check "$d: the stub validated the token" introspected "$tok" "active $u"
check "$d: Dovecot logged in with XOAUTH2" logged_in "$u" XOAUTH2
check "$d: delivered" delivered "$u"
check "$d: token not in the transcript" secret_hidden "$tok" "$u"
rm -f "$W/out/$u"
dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
for row in "pop3 oauthbearer" "imap xoauth2"; do
	set -- $row
	# the command prints a valid token, then fails: nothing may be used
	poll "$u" "$1" "$2" "passwordcommand \"cat $W/tokcmd; exit 1\""
	d="C: $1 $2, a passwordcommand that fails (exit 1)"
	check "$d: exit 3" rc_is 3
	check "$d: a clear message naming the command" \
	    eval 'printf "%s" "$out" | grep -q "no password for $u@127.0.0.1 from cat $W/tokcmd; exit 1" || { diag; false; }'
	check "$d: nothing sent to Dovecot or the stub" nothing_sent "$u"
	check "$d: the token it printed is not shown" secret_hidden "$tok" "$u"
	check "$d: the mail stays" eval '[ "$(dovecot_count "$u")" = 1 ] && [ ! -s "$W/out/$u" ] || { diag; false; }'
done

[ "$k" = "$PLAN" ] || echo "# planned $PLAN, ran $k"
exit $((failed > 0 || k != PLAN))
