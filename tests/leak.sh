#!/usr/bin/env bash
# A daemon of $FETCHMAIL runs 200 poll cycles against a private Dovecot
# under valgrind (TAP producer): each cycle is started by SIGUSR1 once the
# previous one is asleep, every 20th cycle has a message to deliver, and
# SIGTERM ends it.  valgrind must find no definitely lost bytes and no
# memory error; the heap in use must not grow in the last 3/4 of the cycles.
# Skipped without valgrind.  LEAK_CYCLES changes the number of cycles.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/peers/lib.sh"
FM=${FETCHMAIL:-/usr/bin/fetchmail}
CYCLES=${LEAK_CYCLES:-200}

if ! command -v valgrind >/dev/null 2>&1; then
	echo "1..0 # SKIP valgrind not installed"
	exit 0
fi
if ! peers_have dovecot; then
	echo "1..0 # SKIP $PEERS_WHY"
	exit 0
fi
echo "1..6"
. "$top/tests/tap.sh"

dovecot_add_user lk pw
dovecot_start || { echo "Bail out! dovecot did not start"; exit 1; }
W=$PEERS_TMP/w
mkdir -p "$W"
chmod 700 "$W"
: >"$W/mbox"
cat >"$W/fetchmailrc" <<EOF
set pidfile "$W/fm.pid"
poll 127.0.0.1 protocol pop3 service $DOVECOT_POP3_PORT
  user lk password pw is lk here sslproto ''
  mda "cat >> $W/mbox"
EOF
chmod 600 "$W/fetchmailrc"

env -i HOME="$W" FETCHMAILHOME="$W" PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
    valgrind --quiet --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --error-exitcode=99 --log-file="$W/vg.log" \
    --child-silent-after-fork=yes --trace-children=no --freelist-vol=0 \
    "$FM" -N -d 3600 -v </dev/null >"$W/out" 2>"$W/err" &
vpid=$!
peers_register_pid "$vpid"

# sleeps N: the daemon went to sleep N times.
sleeps() { [ "$(grep -c '^fetchmail: sleeping at ' "$W/out")" -ge "$1" ]; }
# heap_kb: the data segment of the daemon (VmData), in kB.
heap_kb() { awk '/^VmData:/ { print $2 }' "/proc/$vpid/status"; }

i=1 msgs=0 done_all=1 heap50=
while [ $i -le "$CYCLES" ]; do
	if ! peers_wait_until 60 sleeps $i; then
		done_all=0
		break
	fi
	[ $i = $((CYCLES / 4)) ] && heap50=$(heap_kb)
	if [ $((i % 20)) = 0 ]; then
		printf 'From: s@example.net\nSubject: %s\nX-Test-Id: %s\n\nbody\n' \
		    "$i" "$i" >"$W/m"
		dovecot_inject lk "$W/m" && msgs=$((msgs + 1))
	fi
	kill -USR1 "$vpid"
	i=$((i + 1))
done
peers_wait_until 60 sleeps $((CYCLES + 1))
heap_end=$(heap_kb)
check "$CYCLES cycles ran (SIGUSR1 after each sleep)" test $done_all = 1
check "the $msgs messages were delivered" \
    test "$(grep -c '^X-Test-Id:' "$W/mbox")" = "$msgs"
check "heap did not grow from cycle $((CYCLES / 4)) to the end (${heap50:-?} kB -> ${heap_end:-?} kB)" \
    test -n "$heap50" -a -n "$heap_end" -a "${heap_end:-0}" -le "$(( ${heap50:-0} + 256 ))"
kill -TERM "$vpid"
wait "$vpid"
st=$?
check "the daemon ended on SIGTERM without valgrind errors (status $st)" test $st != 99
check "valgrind: no definitely lost bytes" \
    eval '! grep -q "definitely lost" "$W/vg.log"'
vg_clean() {
	[ ! -s "$W/vg.log" ] && return 0
	WHY=$(head -40 "$W/vg.log")
	return 1
}
check "valgrind log is clean" vg_clean

echo "# leak.sh: $k tests, $failed failed"
[ "$failed" = 0 ]
