#!/usr/bin/env bash
# The Webmin "Fetchmail Mail Retrieval" module's commands (FETCHMAIL-
# BEHAVIOUR.md section 8) run against $FETCHMAIL as Webmin runs them for a
# daemon user other than root ("su - USER -c 'fetchmail ...'"; here
# runuser as nobody with a private home), checked the way Webmin checks
# them (TAP producer): the version regexp, a daemon start that returns at
# once with status 0, the pid as the first word of ~/.fetchmail.pid, the
# "Check" command refused while the daemon runs and accepted (status 0 or
# 1) after "fetchmail -q" stopped it, -q with nothing running failing, and
# the scheduled check failing fast on a missing password.  The rcfile is in
# the layout Webmin writes (a "defaults " line, one keyword per line,
# nokeep, "no fetchall", "no ssl", mode 0700).
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/peers/lib.sh"
FM=${FETCHMAIL:-/usr/bin/fetchmail}

if [ "$(id -u)" != 0 ] || ! command -v runuser >/dev/null 2>&1; then
	echo "1..0 # SKIP needs root and runuser (to act as the daemon user)"
	exit 0
fi
if ! peers_have dovecot; then
	echo "1..0 # SKIP $PEERS_WHY"
	exit 0
fi
echo "1..16"
. "$top/tests/tap.sh"

dovecot_add_user wm pw
dovecot_start || { echo "Bail out! dovecot did not start"; exit 1; }
W=$PEERS_TMP/w
H=$W/home			# nobody's home for this test
mkdir -p "$W/bin" "$H"
chmod 755 "$W" "$W/bin"
ln -s "$(readlink -f "$FM")" "$W/bin/fetchmail"
cat >"$W/bin/deliver" <<EOF
#!/bin/sh
cat >>"$H/mbox"
EOF
chmod 755 "$W/bin/deliver"
CONFIG=$H/.fetchmailrc
printf 'defaults \n\tproto pop3\n' >"$CONFIG"
cat >>"$CONFIG" <<EOF
poll 127.0.0.1
	proto pop3
	port $DOVECOT_POP3_PORT
	timeout 30
	user "wm"
	pass "pw"
	is nobody
	sslproto ''
	nokeep
	no fetchall
	no ssl
EOF
sed 's/^\tpass "pw"$//' "$CONFIG" >"$H/nopass.rc"
chown -R nobody "$H"
chmod 700 "$H" "$CONFIG" "$H/nopass.rc"

# as_user CMD: run CMD (a shell command line) as Webmin does for a daemon
# user; output (2>&1) in $W/out, status in RC.
RC=
as_user() {
	timeout -k 5 30 runuser -u nobody -- env -i HOME="$H" \
	    PATH="$W/bin:/usr/sbin:/usr/bin:/sbin:/bin" LC_ALL=C \
	    sh -c "$1" </dev/null >"$W/out" 2>&1
	RC=$?
}
has_out() {
	grep -qE -- "$1" "$W/out" && return 0
	WHY="no match for /$1/ in: $(head -20 "$W/out")"
	return 1
}
msgn=0
inject() {
	msgn=$((msgn + 1))
	printf 'From: s@example.net\nSubject: w%s\nX-Test-Id: w%s\n\nbody\n' "$msgn" "$msgn" >"$W/m$msgn"
	dovecot_inject wm "$W/m$msgn"
}
delivered() { [ "$(grep -c '^X-Test-Id:' "$H/mbox" 2>/dev/null)" = "$1" ]; }

as_user 'fetchmail -V 2>&1 </dev/null'
check "version: matches Webmin's /fetchmail\\s+release\\s+(\\S+)/" \
    has_out 'fetchmail[[:space:]]+release[[:space:]]+[^[:space:]]+'

inject
as_user "fetchmail -d 60 -f $CONFIG -m deliver 2>&1"
check "start: exit 0" test "$RC" = 0
check "start: nothing printed but the usual" \
    test -z "$(grep -v 'WARNING: Running as root' "$W/out")"
peers_wait_until 10 test -s "$H/.fetchmail.pid"
pid=$(awk 'NR == 1 { print $1 }' "$H/.fetchmail.pid" 2>/dev/null)
[ -n "$pid" ] && peers_register_pid "$pid"
check "running?: first word of line 1 of ~/.fetchmail.pid is a live pid" \
    test -n "$pid" -a "${pid:-0}" -gt 1 -a -d "/proc/${pid:-0}"
check "the daemon delivers with the -m command" peers_wait_until 15 delivered 1

as_user "fetchmail -v -f $CONFIG 127.0.0.1 2>&1"
check "check while the daemon runs: refused (Webmin shows 'checking failed!')" \
    test "$RC" -gt 1
check "check refused in the reference's words" \
    has_out "can't (accept options|poll specified hosts) "

as_user 'fetchmail -q 2>&1'
check "stop: exit 0" test "$RC" = 0
check "stop: the daemon was killed" has_out "fetchmail at $pid killed"
check "stop: the pid file goes away" peers_wait_until 10 test ! -e "$H/.fetchmail.pid"
as_user 'fetchmail -q 2>&1'
check "stop with nothing running: non-zero with a message" \
    test "$RC" != 0 -a -s "$W/out"

inject
as_user "fetchmail -v -f $CONFIG -m deliver 127.0.0.1 2>&1"
check "check: exit 0 with mail (Webmin: success when <= 1)" test "$RC" = 0
check "check: transcript shows the POP3 dialogue" has_out 'POP3< \+OK'
check "check: the message was delivered" delivered 2
as_user "(fetchmail -v -f $H/nopass.rc -m deliver) 2>&1 </dev/null"
check "scheduled check without a password: exit 3 at once" test "$RC" = 3
check "... saying why" has_out "can't find a password for wm@127.0.0.1"

echo "# webmin.sh: $k tests, $failed failed"
[ "$failed" = 0 ]
