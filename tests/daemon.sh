#!/usr/bin/env bash
# Daemon mode, the pid/lock file and signals, against a private Dovecot
# (TAP producer).  Runs $FETCHMAIL (default: the reference 6.4.37, which
# must pass every row not marked as ours-only):
#   A  -d 1 detaches at once (exit 0), writes "PID\n1\n" mode 0600 even
#      under umask 000, "starting fetchmail 6.4.37 daemon" in the logfile,
#      and delivers mail injected later
#   B  -d 300: SIGUSR1 wakes it ("awakened by signal 10"), and so does a
#      bare second invocation ("background fetchmail at PID awakened.")
#   C  a second invocation with options, with -c, with a server name is
#      refused with exit 8 and the reference's words
#   D  the rcfile is edited: the daemon restarts itself (same pid) and
#      polls with the new configuration; [ours] a broken edit is reported
#      and the old configuration kept
#   E  -q stops it (exit 0), the pid file goes, "terminated with signal 15";
#      -q again: "no other fetchmail is running", exit 8
#   F  a stale lock file (dead pid; garbage) is removed with the reference's
#      message
#   G  a foreground run holds "PID\n"; a second run is refused ("another
#      foreground fetchmail is running"); -q kills it
#   H  -N -d 1 -v: "sleeping at"/"awakened at" lines, "interval 2" skips a
#      poll ("interval not reached, not querying"); -d0 overrides set daemon
#   I  a logfile takes the output of a foreground run; a daemon start with a
#      broken rcfile fails before detaching (exit 5, message on stderr)
#   J  --syslog sends every line to syslog with the reference's priorities
#      (a private /dev/log in a mount namespace)
#   K  a missing password is asked for on the terminal, or exit 3
# Every wait is a condition with a deadline; nothing sleeps to synchronise.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/peers/lib.sh"
REF=${REF_FETCHMAIL:-/usr/bin/fetchmail}
FM=${FETCHMAIL:-$REF}

if ! peers_have dovecot; then
	echo "1..0 # SKIP $PEERS_WHY"
	exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP fetchmail under test ($FM) not executable"
	exit 0
fi
is_ref=0
[ "$(readlink -f "$FM")" = "$(readlink -f "$REF")" ] && is_ref=1

echo "1..72"
. "$top/tests/tap.sh"
ours() {	# ours DESC CMD...: a row only our fetchmail passes
	if [ $is_ref = 1 ]; then skip "$1" "reference behaves differently"; return; fi
	check "$@"
}
bail() {
	echo "Bail out! $*"
	peers_dump_logs 30
	exit 1
}

for u in da db dc dd dg dh di dj; do dovecot_add_user "$u" pw; done
dovecot_start || bail "dovecot did not start"
W=$PEERS_TMP/w
mkdir -p "$W"

n=0
# msg ID: a small message file carrying X-Test-Id: ID.
msg() {
	n=$((n + 1))
	printf 'From: s@example.net\nTo: r@example.org\nSubject: %s\nMessage-ID: <daemon-%s@example.org>\nX-Test-Id: %s\n\nbody %s\n' \
	    "$1" "$1" "$1" "$1" >"$W/$1.eml"
	echo "$W/$1.eml"
}
# setup NAME USER [RCLINE...]: a private fetchmail home $W/NAME holding
# fetchmailrc (found through FETCHMAILHOME, pidfile inside) and an MDA
# that appends to $W/NAME/mbox.
setup() {
	local nm=$1 u=$2 h=$W/$1; shift 2
	mkdir -p "$h"
	chmod 700 "$h"
	: >"$h/mbox"
	: >"$h/log"
	{
		printf 'set pidfile "%s/fm.pid"\n' "$h"
		printf 'poll 127.0.0.1 protocol pop3 service %s\n' "$DOVECOT_POP3_PORT"
		printf "  user %s password pw is %s here sslproto ''\n" "$u" "$u"
		printf '  mda "cat >> %s/mbox"\n' "$h"
		[ $# -gt 0 ] && printf '  %s\n' "$@"
	} >"$h/fetchmailrc"
	chmod 600 "$h/fetchmailrc"
}
# run NAME ARG...: run fetchmail with NAME's home; stdout/stderr in
# $W/NAME/out,err, status in RC.  Output is C locale, stdin /dev/null.
RC=
run() {
	local h=$W/$1; shift
	env -i HOME="$h" FETCHMAILHOME="$h" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    LC_ALL=C timeout -k 5 30 "$FM" "$@" </dev/null >"$h/out" 2>"$h/err"
	RC=$?
	OUT=$h/out ERR=$h/err
}
# start NAME ARG...: run, then register the daemon's pid for cleanup.
start() {
	local nm=$1
	run "$@"
	peers_wait_until 10 test -s "$W/$nm/fm.pid"
	DPID=$(head -1 "$W/$nm/fm.pid" 2>/dev/null)
	[ -n "$DPID" ] && peers_register_pid "$DPID"
}
want_rc() {
	[ "$RC" = "$1" ] && return 0
	WHY="exit status $RC, expected $1
stdout: $(head -10 "$OUT")
stderr: $(head -10 "$ERR")"
	return 1
}
# has FILE TEXT: FILE has a line containing TEXT (fixed string).
has() {
	grep -qF -- "$2" "$1" && return 0
	WHY="no line with '$2' in $1:
$(head -30 "$1")"
	return 1
}
hasnt() {
	grep -qF -- "$2" "$1" || return 0
	WHY="unexpected line with '$2' in $1"
	return 1
}
# delivered NAME N: NAME's mbox holds N messages.
count_in() { grep -c '^X-Test-Id:' "$W/$1/mbox"; }
delivered() { [ "$(count_in "$1")" = "$2" ]; }
wait_delivered() {	# wait_delivered NAME N TIMEOUT_S
	peers_wait_until "$3" delivered "$1" "$2" && return 0
	WHY="$(count_in "$1") messages delivered, expected $2; log:
$(tail -20 "$W/$1/log")"
	return 1
}
gone() { ! peers_alive "$1"; }
has_id() { grep -q "^X-Test-Id: $2\$" "$1"; }	# has_id MBOX ID
wait_gone() {	# wait_gone PID FILE TIMEOUT_S: process and pid file gone
	peers_wait_until "$3" gone "$1" &&
	    peers_wait_until "$3" test ! -e "$2" && return 0
	WHY="pid $1 alive or $2 still there"
	return 1
}
# asleep_b: wait until daemon B (-v) is asleep: its last line says so.
asleep_b() {
	peers_wait_until 15 eval 'tail -n 1 "$W/B/log" | grep -q "^fetchmail: sleeping at "'
}
lines_of() { awk -v re="$2" '$0 ~ re { n++ } END { print n + 0 }' "$1"; }

# ---------------------------------------------------------------- A
setup A da
old_umask=$(umask)
umask 000
start A -d 1 -L "$W/A/log"
umask "$old_umask"
check "A: -d 1 -L returns 0 at once" want_rc 0
check "A: the daemon runs (pid $DPID)" peers_alive "$DPID"
check "A: pid file is PID and the interval" \
    test "$(cat "$W/A/fm.pid")" = "$DPID
1"
check "A: pid file mode 0600 under umask 000" \
    test "$(stat -c %a "$W/A/fm.pid")" = 600
check "A: detached into its own session" \
    test "$(ps -o sid= -p "$DPID" | tr -d ' ')" = "$DPID"
check "A: log says the daemon started" has "$W/A/log" "fetchmail: starting fetchmail 6.4.37 daemon"
dovecot_inject da "$(msg a1)" "$(msg a2)"
check "A: mail injected later is delivered" wait_delivered A 2 15
check "A: and removed from the server" dovecot_wait_count da 0 10

# ---------------------------------------------------------------- B
setup B db
start B -d 300 -v -L "$W/B/log"
check "B: daemon with -d 300 up" peers_alive "$DPID"
peers_wait_until 10 has "$W/B/log" "No mail for db"
asleep_b
dovecot_inject db "$(msg b1)"
kill -USR1 "$DPID"
check "B: SIGUSR1 wakes it and the new mail is delivered" wait_delivered B 1 15
check "B: log says awakened by signal 10" has "$W/B/log" "fetchmail: awakened by signal 10"
dovecot_inject db "$(msg b2)"
asleep_b
run B
check "B: a bare second invocation exits 0" want_rc 0
check "B: and says the daemon was awakened" has "$ERR" "fetchmail: background fetchmail at $DPID awakened."
check "B: which delivers the new mail" wait_delivered B 2 15
asleep_b
run B -s
check "B: -s wakes it silently" test "$RC" = 0 -a -z "$(grep -v WARNING "$ERR")"
asleep_b
run B -v
check "B: -v is allowed too" want_rc 0

# ---------------------------------------------------------------- C
run B -f "$W/B/fetchmailrc"
check "C: options refused: exit 8" want_rc 8
check "C: with the reference's words" has "$ERR" "fetchmail: can't accept options while a background fetchmail is running."
check "C: and the argument list" \
    test "$(grep -v WARNING "$ERR" | tail -3)" = 'argc = 3, arg list:
arg 1 = "-f"
arg 2 = "'"$W/B/fetchmailrc"'"'
run B -c
check "C: -c refused" test "$RC" = 8
check "C: -c message" has "$ERR" "fetchmail: can't check mail while another fetchmail to same host is running."
run B 127.0.0.1
check "C: a server name refused" test "$RC" = 8
check "C: server name message" has "$ERR" "fetchmail: can't poll specified hosts with another fetchmail running at $DPID."
run B -d 1
check "C: a second daemon is refused (exit 8)" want_rc 8
check "C: second daemon message" has "$ERR" "fetchmail: can't accept options while a background fetchmail is running."
check "C: the daemon survives all that" peers_alive "$DPID"

# ---------------------------------------------------------------- D
BPID=$DPID
sed -i "s|cat >> $W/B/mbox|cat >> $W/B/mbox2|" "$W/B/fetchmailrc"
touch -d '+2 seconds' "$W/B/fetchmailrc"
: >"$W/B/mbox2"
dovecot_inject db "$(msg d1)"
asleep_b
kill -USR1 "$BPID"
check "D: edited rcfile: restart logged" peers_wait_until 15 has "$W/B/log" "restarting fetchmail ($W/B/fetchmailrc changed)"
check "D: the new MDA gets the next message" peers_wait_until 15 has_id "$W/B/mbox2" d1
check "D: same pid after the restart" test "$(head -1 "$W/B/fm.pid")" = "$BPID"
if [ $is_ref = 1 ]; then
	skip "D: broken edit reported" "the reference dies silently"
	skip "D: old configuration kept" "the reference dies silently"
else
	printf 'poll bogus bogus bogus\n' >>"$W/B/fetchmailrc"
	touch -d '+4 seconds' "$W/B/fetchmailrc"
	asleep_b
	kill -USR1 "$BPID"
	check "D: broken edit reported" peers_wait_until 15 has "$W/B/log" "changed but cannot be used; going on with the configuration read before"
	dovecot_inject db "$(msg d2)"
	asleep_b
	kill -USR1 "$BPID"
	check "D: old configuration kept" peers_wait_until 15 has_id "$W/B/mbox2" d2
	sed -i '$d' "$W/B/fetchmailrc"		# repaired for E
	touch -d '+6 seconds' "$W/B/fetchmailrc"
fi

# ---------------------------------------------------------------- E
run B -q
check "E: -q exits 0" want_rc 0
check "E: -q says killed" has "$ERR" "fetchmail: background fetchmail at $BPID killed."
check "E: daemon and pid file gone" wait_gone "$BPID" "$W/B/fm.pid" 10
check "E: log says terminated with signal 15" has "$W/B/log" "fetchmail: terminated with signal 15"
run B -q
check "E: -q with nothing running: exit 8" want_rc 8
check "E: -q says no other fetchmail" has "$ERR" "fetchmail: no other fetchmail is running"
run A -q
check "E: the A daemon stops too" wait_gone "$(head -1 "$W/A/fm.pid" 2>/dev/null || echo 0)" "$W/A/fm.pid" 10

# ---------------------------------------------------------------- F
setup F dc
sh -c 'exit 0' & dead=$!; wait $dead
printf '%s\n300\n' "$dead" >"$W/F/fm.pid"
run F -q
check "F: stale lock (dead pid) removed" has "$ERR" "fetchmail: fetchmail: removing stale lockfile \"$W/F/fm.pid\""
check "F: then nobody runs: exit 8" test "$RC" = 8 -a ! -e "$W/F/fm.pid"
printf 'garbage\n' >"$W/F/fm.pid"
dovecot_inject dc "$(msg f1)"
run F
check "F: garbage lock removed and the poll runs" test "$RC" = 0 -a "$(count_in F)" = 1
check "F: pid file removed after a foreground run" test ! -e "$W/F/fm.pid"

# ---------------------------------------------------------------- G
setup G dg
sed -i 's/^poll 127.0.0.1 .*/& plugin "exec sleep 20" timeout 20/' "$W/G/fetchmailrc"
( env -i HOME="$W/G" FETCHMAILHOME="$W/G" PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
    "$FM" </dev/null >"$W/G/fg.out" 2>&1; echo "exit=$?" >"$W/G/fg.rc" ) &
peers_wait_until 10 test -s "$W/G/fm.pid"
GPID=$(head -1 "$W/G/fm.pid")
peers_register_pid "$GPID"
check "G: a foreground run's pid file holds only its pid" \
    test "$(cat "$W/G/fm.pid")" = "$GPID"
run G
check "G: a second run is refused (exit 8)" want_rc 8
check "G: another foreground fetchmail" has "$ERR" "fetchmail: another foreground fetchmail is running at $GPID."
run G -q
check "G: -q kills the foreground run" has "$ERR" "fetchmail: foreground fetchmail at $GPID killed."
check "G: it is gone with its pid file" wait_gone "$GPID" "$W/G/fm.pid" 10
peers_wait_until 10 test -s "$W/G/fg.rc"
check "G: it said terminated with signal 15" has "$W/G/fg.out" "fetchmail: terminated with signal 15"

# ---------------------------------------------------------------- H
setup H dh
printf 'poll localhost protocol pop3 service %s interval 2\n  user dh password pw is dh here sslproto %s\n  mda "cat >> %s/mbox"\n' \
    "$DOVECOT_POP3_PORT" "''" "$W/H" >>"$W/H/fetchmailrc"
( env -i HOME="$W/H" FETCHMAILHOME="$W/H" PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
    "$FM" -N -d 1 -v </dev/null >"$W/H/out" 2>"$W/H/err" ) &
peers_wait_until 10 test -s "$W/H/fm.pid"
HPID=$(head -1 "$W/H/fm.pid")
peers_register_pid "$HPID"
check "H: -N -d 1 -v prints sleeping lines" peers_wait_until 15 has "$W/H/out" "for 1 seconds"
check "H: and awakened at" peers_wait_until 15 grep -q '^fetchmail: awakened at ' "$W/H/out"
check "H: interval 2 skips the second cycle" peers_wait_until 15 has "$W/H/out" "fetchmail: interval not reached, not querying localhost"
check "H: -N stays in the foreground (same process group as started)" \
    test "$(ps -o sid= -p "$HPID" | tr -d ' ')" != "$HPID"
kill -TERM "$HPID"
check "H: TERM ends it" wait_gone "$HPID" "$W/H/fm.pid" 10
setup H2 dh 'set daemon 300'
sed -i '1i set daemon 300' "$W/H2/fetchmailrc"
run H2 -d0
check "H: -d0 overrides set daemon: one poll, exit 1" want_rc 1
check "H: and no pid file left" test ! -e "$W/H2/fm.pid"

# ---------------------------------------------------------------- I
setup I di
dovecot_inject di "$(msg i1)"
run I -L "$W/I/log"
check "I: a logfile run exits 0" want_rc 0
check "I: nothing on stdout" test ! -s "$OUT"
check "I: the log has the progress line" has "$W/I/log" "fetchmail: reading message di@127.0.0.1:1 of 1"
printf 'poll\n' >>"$W/I/fetchmailrc"
run I -d 60
check "I: a daemon start with a broken rcfile fails (exit 5)" want_rc 5
check "I: with a message on stderr" has "$ERR" "syntax error"

# ---------------------------------------------------------------- J
# --syslog: every line goes to syslog (facility mail: <19> errors, <22>
# the rest), nothing to the terminal.  /dev/log is replaced by a sink in a
# private mount namespace.
setup J dj
dovecot_inject dj "$(msg j1)"
mkdir -p "$W/J/dev"
: >"$W/J/dev/null"
: >"$W/J/syslog"
python3 "$top/tests/peers/syslogsink.py" "$W/J/dev/log" "$W/J/syslog" &
peers_register_pid $!
if peers_wait_until 10 test -e "$W/J/dev/log.ready" &&
    unshare -m true 2>/dev/null; then
	env -i HOME="$W/J" FETCHMAILHOME="$W/J" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    LC_ALL=C D="$W/J/dev" FM="$FM" unshare -m sh -c \
	    'mount --bind /dev/null "$D/null" && mount --bind "$D" /dev &&
	     exec "$FM" --syslog -v' </dev/null >"$W/J/out" 2>"$W/J/err"
	RC=$? OUT=$W/J/out ERR=$W/J/err
	check "J: --syslog run exits 0" want_rc 0
	check "J: nothing on stdout" test ! -s "$W/J/out"
	check "J: progress at LOG_MAIL|LOG_INFO" \
	    peers_wait_until 5 grep -q '^<22>.*fetchmail\[[0-9]*\]: reading message dj@127.0.0.1:1 of 1' "$W/J/syslog"
	check "J: the message was delivered" delivered J 1
	sed -i "s/service $DOVECOT_POP3_PORT/service 1/" "$W/J/fetchmailrc"
	env -i HOME="$W/J" FETCHMAILHOME="$W/J" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    LC_ALL=C D="$W/J/dev" FM="$FM" unshare -m sh -c \
	    'mount --bind /dev/null "$D/null" && mount --bind "$D" /dev &&
	     exec "$FM" --syslog' </dev/null >"$W/J/out" 2>"$W/J/err"
	RC=$?
	check "J: a failed poll exits 2" want_rc 2
	check "J: errors at LOG_MAIL|LOG_ERR" \
	    peers_wait_until 5 grep -q '^<19>.*fetchmail\[[0-9]*\]: Connection errors for this poll:' "$W/J/syslog"
	check "J: nothing but the root warning on stderr" \
	    test -z "$(grep -v WARNING "$W/J/err")"
else
	for i in 1 2 3 4 5 6 7; do skip "J: syslog" "no unshare -m (not root?)"; done
fi

# ---------------------------------------------------------------- K
# A password missing from the rcfile: asked for on the terminal (echo
# off), or "can't find a password" (exit 3) without one.
setup K dd
sed -i 's/ password pw / /' "$W/K/fetchmailrc"
dovecot_inject dd "$(msg k1)"
run K
check "K: no password, no terminal: exit 3" want_rc 3
check "K: can't find a password" has "$ERR" "fetchmail: can't find a password for dd@127.0.0.1."
env -i HOME="$W/K" FETCHMAILHOME="$W/K" PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
    python3 "$top/tests/peers/ptyrun.py" "$W/K/tty" "Enter password for dd@127.0.0.1: " \
    pw "$FM"
RC=$? OUT=$W/K/tty ERR=$W/K/tty
check "K: the password typed at the prompt is used" want_rc 0
check "K: the message arrives" delivered K 1
check "K: the password is not echoed" hasnt "$W/K/tty" "pw"

echo "# daemon.sh: $k tests, $failed failed"
[ "$failed" = 0 ]
