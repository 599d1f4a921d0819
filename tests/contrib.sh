#!/usr/bin/env bash
# The service files in contrib/ (TAP producer): the systemd units verify
# cleanly, the SysV init script starts, wakes, reports and stops a real
# daemon of $FETCHMAIL polling a private Dovecot, and the cron idiom
# "fetchmail -s || [ $? -eq 1 ]" is quiet on "no mail" and fails on errors.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/peers/lib.sh"
FM=${FETCHMAIL:-/usr/bin/fetchmail}
C=$top/contrib

echo "1..15"
. "$top/tests/tap.sh"

# ---------------------------------------------------------------- systemd
# verify UNIT: systemd-analyze has nothing to say about it.
verify() {
	local out
	out=$(systemd-analyze verify "$1" 2>&1) && [ -z "$out" ] && return 0
	WHY=$out
	return 1
}
if command -v systemd-analyze >/dev/null 2>&1 && [ -x /usr/bin/fetchmail ]; then
	check "fetchmail.service verifies" verify "$C/fetchmail.service"
	tmpu=$(mktemp -d)
	cp "$C/fetchmail@.service" "$tmpu/fetchmail@alice.service"
	check "fetchmail@alice.service verifies" verify "$tmpu/fetchmail@alice.service"
	rm -rf "$tmpu"
else
	skip "fetchmail.service verifies" "no systemd-analyze or /usr/bin/fetchmail"
	skip "fetchmail@.service verifies" "no systemd-analyze or /usr/bin/fetchmail"
fi
check "the units run fetchmail in the foreground" \
    grep -q -- '--nodetach --daemon' "$C/fetchmail.service" "$C/fetchmail@.service"
check "init script: POSIX sh syntax" sh -n "$C/fetchmail.init"
check "logrotate snippet copies and truncates (no reopen needed)" \
    grep -q '^[[:space:]]*copytruncate' "$C/fetchmail.logrotate"

# ---------------------------------------------------------------- init script
if ! peers_have dovecot || [ ! -x "$FM" ]; then
	for i in $(seq 10); do skip "init script against Dovecot" "${PEERS_WHY:-no $FM}"; done
	echo "# contrib.sh: $k tests, $failed failed"
	[ "$failed" = 0 ]
	exit
fi
dovecot_add_user ci pw
dovecot_start || { echo "Bail out! dovecot did not start"; exit 1; }
W=$PEERS_TMP/w
mkdir -p "$W/home"
chmod 700 "$W/home"
: >"$W/mbox"
cat >"$W/rc" <<EOF
poll 127.0.0.1 protocol pop3 service $DOVECOT_POP3_PORT
  user ci password pw is ci here sslproto ''
  mda "cat >> $W/mbox"
EOF
chmod 600 "$W/rc"
cat >"$W/defaults" <<EOF
START_DAEMON=yes
FETCHMAIL_INTERVAL=300
FETCHMAIL_USER=$(id -un)
DAEMON=$FM
CONFIG=$W/rc
PIDFILE=$W/run/fetchmail.pid
FETCHMAIL_HOME=$W/home
OPTIONS="-L $W/log"
EOF
: >"$W/log"
init() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
    FETCHMAIL_DEFAULTS="$W/defaults" sh "$C/fetchmail.init" "$@" \
    >"$W/init.out" 2>&1 </dev/null; }
msgn=0
inject() {
	msgn=$((msgn + 1))
	printf 'From: s@example.net\nSubject: m%s\nX-Test-Id: m%s\n\nbody\n' \
	    "$msgn" "$msgn" >"$W/m$msgn"
	dovecot_inject ci "$W/m$msgn"
}
count() { [ "$(grep -c '^X-Test-Id:' "$W/mbox")" = "$1" ]; }
wait_count() {
	peers_wait_until 15 count "$1" && return 0
	WHY="$(grep -c '^X-Test-Id:' "$W/mbox") delivered, expected $1; log:
$(tail -10 "$W/log")"
	return 1
}

inject
init start
check "init start exits 0" test $? = 0
peers_wait_until 10 test -s "$W/run/fetchmail.pid"
pid=$(head -1 "$W/run/fetchmail.pid" 2>/dev/null)
[ -n "$pid" ] && peers_register_pid "$pid"
check "the daemon runs and wrote its pid file" test -n "$pid"
check "it delivers the waiting message" wait_count 1
init status
check "status: running (0)" test $? = 0
inject
init reload
check "reload wakes it: the new message arrives (interval 300)" wait_count 2
init stop
check "stop exits 0" test $? = 0
check "the daemon is gone" peers_wait_until 10 eval '! peers_alive "$pid"'
init status
check "status: not running (3)" test $? = 3

# ---------------------------------------------------------------- cron idiom
cron() { env -i HOME="$W/home" PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
    sh -c "\"$FM\" -s -f \"$1\" --pidfile \"$W/home/p\" || [ \$? -eq 1 ]" \
    >"$W/cron.out" 2>&1 </dev/null; }
cron "$W/rc"
st=$?
check "cron idiom: no mail is success and silent" \
    test $st = 0 -a -z "$(grep -v WARNING "$W/cron.out")"
sed "s/service $DOVECOT_POP3_PORT/service 1/" "$W/rc" >"$W/rc.bad"
chmod 600 "$W/rc.bad"
cron "$W/rc.bad"
st=$?
check "cron idiom: a connection failure fails, with the reason" \
    test $st != 0 -a -n "$(grep 'Connection errors for this poll' "$W/cron.out")"

echo "# contrib.sh: $k tests, $failed failed"
[ "$failed" = 0 ]
