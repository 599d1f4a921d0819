#!/usr/bin/env bash
# `idle` over long waits and without IDLE, against a private Dovecot (TAP).
#
# 1. Renewal: ours as a foreground daemon (-N -d 60 -v, `idle`) under
#    libfaketime at 100x speed (Debian's faketime; skipped without it),
#    so that its 28 minutes of IDLE pass in 17 s: after the first poll it
#    sends IDLE; when 28 minutes pass without news it sends DONE and
#    IDLE again on the same connection, well before
#    the 30 minutes after which a server may drop an idle client (RFC
#    2177); mail arriving after the renewal is fetched at once.
# 2. No IDLE: Dovecot restarted with a capability list that leaves IDLE
#    out.  Ours fetches the first message, then stays connected and asks
#    with NOOP, waiting up to 28 s after each for news: a message injected
#    then is delivered within one such cycle, the IDLE command is never
#    sent, the server keeps nothing, and SIGTERM ends the daemon cleanly.
#    When the reference is installed, it runs alongside (its own mailbox,
#    -d 3) to record what 6.4.37 does instead (doc/COMPATIBILITY.md): it
#    logs out after each poll and polls again at the daemon interval,
#    never sending NOOP or IDLE.
#
# Environment: FETCHMAIL (ours), REF_FETCHMAIL (default /usr/bin/fetchmail).
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
FM=${FETCHMAIL:-${top_builddir:-$top}/fetchmail}
REF=${REF_FETCHMAIL:-/usr/bin/fetchmail}
# shellcheck source=tests/peers/lib.sh disable=SC1091
. "$top/tests/peers/lib.sh"
if ! peers_have dovecot; then
	echo "1..0 # SKIP $PEERS_WHY"; exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP $FM not executable"; exit 0
fi
who=(ours)
[ -x "$REF" ] && who+=(ref)
echo "1..10"
# shellcheck source=tests/tap.sh disable=SC1091
. "$top/tests/tap.sh"

for w in "${who[@]}" renew; do dovecot_add_user "n$w" pw; done
if ! dovecot_start; then
	for ((i = 0; i < 10; i++)); do notok "dovecot" "$PEERS_WHY"; done
	exit 1
fi
W=$PEERS_TMP/w
mkdir -p "$W"
cat >"$W/mda.sh" <<'EOF'
#!/bin/sh
# recording MDA: one file a message
cat >"$1/$(date +%s%N)"
EOF
chmod 755 "$W/mda.sh"
# msg N: a small message with "X-Test-Id: mN"
msg() {
	printf 'From: a@example.net\nTo: b@example.org\nSubject: %s\n' "$1"
	printf 'Message-ID: <noidle-%s@example.org>\nX-Test-Id: m%s\n\nbody %s\n' \
	    "$1" "$1" "$1"
}
inject() { msg "$2" | doveadm -c "$DOVECOT_CONF" save -u "$1" -m INBOX; }
ngot() { find "$W/$1/got" -type f | wc -l; }
count() { grep -c "^fetchmail: IMAP> A[0-9]* $2\$" "$W/$1/out" 2>/dev/null; }

# ------------------------------------------------------- 1. renewal
FAKETIME_LIB=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketime\.so\.1$' | head -1)
R=$W/renew
mkdir -p "$R/got" "$R/home"
chmod 777 "$R/got"
chmod 700 "$R/home"
printf 'poll 127.0.0.1 protocol imap port %s\n  user nrenew password pw sslproto %s mda "%s %s" idle\n' \
    "$DOVECOT_IMAP_PORT" "''" "$W/mda.sh" "$R/got" >"$R/rc"
chmod 600 "$R/rc"
if [ -z "$FAKETIME_LIB" ] || ! command -v faketime >/dev/null 2>&1; then
	for t in "IDLE renewed after 28 minutes" "mail after the renewal" "SIGTERM"; do
		skip "renewal: $t" "libfaketime not installed (Debian: faketime)"
	done
else
	inject nrenew 1
	# timeout(1) outside the faked clock; everything inside runs 100x fast
	timeout -k 5 120 env -i HOME="$R/home" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    LC_ALL=C LD_PRELOAD="$FAKETIME_LIB" FAKETIME="+0 x100" \
	    "$FM" --nosyslog --pidfile "$R/home/fetchmail.pid" -f "$R/rc" \
	    -N -d 60 -v </dev/null >"$R/out" 2>&1 &
	rpid=$!
	peers_wait_until 20 eval '[ "$(ngot renew)" -ge 1 ] && [ "$(count renew IDLE)" -ge 1 ]'
	t_idle=$(peers_now_ms)
	check "renewal: after 28 minutes without news DONE and IDLE again, same connection" eval '
	    peers_wait_until 40 eval "[ \$(count renew IDLE) -ge 2 ]" &&
	    el=$(( $(peers_now_ms) - t_idle )) &&
	    echo "# renewal after $el ms (28 min at 100x: 16800 ms)" &&
	    [ "$el" -ge 14000 ] &&
	    grep -A3 "^fetchmail: IMAP> DONE$" "$R/out" | grep -q "OK Idle completed" &&
	    [ "$(grep -c "^Trying to connect" "$R/out")" = 1 ] ||
	    { WHY="IDLE lines $(count renew IDLE), delivered $(ngot renew); $(tail -6 "$R/out")"; false; }'
	inject nrenew 2
	check "renewal: mail arriving after the renewal is fetched at once" eval '
	    peers_wait_until 10 eval "[ \$(ngot renew) -ge 2 ]" ||
	    { WHY="delivered $(ngot renew); $(tail -6 "$R/out")"; false; }'
	p=$(head -1 "$R/home/fetchmail.pid" 2>/dev/null)
	[ -n "$p" ] && kill -TERM "$p" 2>/dev/null
	check "renewal: SIGTERM ends the daemon, no error" eval '
	    peers_wait_until 10 eval "! kill -0 $rpid 2>/dev/null" &&
	    ! grep -v "WARNING: Running as root" "$R/out" | grep -qi "error\|refused\|failed" ||
	    { WHY="$(tail -4 "$R/out")"; kill -KILL $rpid 2>/dev/null; false; }'
	wait "$rpid" 2>/dev/null
fi

# ------------------------------------------------------- 2. no IDLE
DOVECOT_EXTRA_CONF='protocol imap {
  imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ UIDPLUS
}'
if ! dovecot_restart; then
	for ((i = k; i < 10; i++)); do notok "dovecot restart" "$PEERS_WHY"; done
	exit 1
fi
# start both daemons, each on its own mailbox
declare -A pid
for w in "${who[@]}"; do
	d=$W/$w
	mkdir -p "$d/got" "$d/home"
	chmod 777 "$d/got"
	bin=$FM
	[ "$w" = ref ] && bin=$REF
	inject "n$w" 1
	printf 'poll 127.0.0.1 protocol imap port %s\n  user n%s password pw sslproto %s mda "%s %s" idle\n' \
	    "$DOVECOT_IMAP_PORT" "$w" "''" "$W/mda.sh" "$d/got" >"$d/rc"
	ival=60
	[ "$w" = ref ] && ival=3
	PEERS_FETCHMAIL_TIMEOUT=150 peers_fetchmail "$bin" "$d/home" "$d/rc" \
	    -N -d "$ival" -v >"$d/out" 2>&1 &
	pid[$w]=$!
done
left() {	# left USER: messages in USER's INBOX
	doveadm -c "$DOVECOT_CONF" -f tab mailbox status -u "$1" messages INBOX |
	    awk -F'\t' 'END { print $NF }'
}
check "ours: the first poll delivers, then NOOP instead of IDLE" eval '
    peers_wait_until 20 eval "[ \$(ngot ours) -ge 1 ] && [ \$(count ours NOOP) -ge 1 ]" ||
    { WHY="delivered $(ngot ours), NOOP lines $(count ours NOOP); $(tail -5 "$W/ours/out")"; false; }'
t_inj=$(peers_now_ms)
for w in "${who[@]}"; do inject "n$w" 2; done
check "ours: a message arriving meanwhile is delivered within one NOOP cycle (28 s)" eval '
    peers_wait_until 40 eval "[ \$(ngot ours) -ge 2 ]" &&
    echo "# ours: delivered after $(( $(peers_now_ms) - t_inj )) ms" ||
    { WHY="delivered $(ngot ours); $(tail -8 "$W/ours/out")"; false; }'
check "ours: still the same connection, IDLE never sent, the server keeps nothing" eval '
    peers_wait_until 10 eval "[ \"\$(left nours)\" = 0 ]" &&
    [ "$(count ours IDLE)" = 0 ] &&
    [ "$(grep -c "^Trying to connect" "$W/ours/out")" = 1 ] ||
    { WHY="left $(left nours), IDLE lines $(count ours IDLE); $(tail -5 "$W/ours/out")"; false; }'
if [ -n "${pid[ref]:-}" ]; then
	check "6.4.37: logs out after each poll and polls at the interval, no NOOP, no IDLE" eval '
	    peers_wait_until 20 eval "[ \$(ngot ref) -ge 2 ]" &&
	    [ "$(count ref NOOP)" = 0 ] && [ "$(count ref IDLE)" = 0 ] &&
	    [ "$(grep -c "^Trying to connect" "$W/ref/out")" -ge 2 ] &&
	    grep -q "IMAP> A[0-9]* LOGOUT" "$W/ref/out" ||
	    { WHY="delivered $(ngot ref); $(tail -5 "$W/ref/out")"; false; }'
else
	skip "6.4.37's behaviour" "no reference at $REF"
fi
for w in "${who[@]}"; do
	p=$(head -1 "$W/$w/home/fetchmail.pid" 2>/dev/null)
	[ -n "$p" ] && kill -TERM "$p" 2>/dev/null
done
check "ours: SIGTERM while waiting ends the daemon at once" eval '
    peers_wait_until 10 eval "! kill -0 ${pid[ours]} 2>/dev/null" ||
    { WHY="still running"; kill -KILL ${pid[ours]} 2>/dev/null; false; }'
wait "${pid[ours]}" 2>/dev/null
check "ours: pid file removed, termination reported" eval '
    [ ! -e "$W/ours/home/fetchmail.pid" ] &&
    grep -q "terminated with signal 15" "$W/ours/out" ||
    { WHY="$(ls "$W/ours/home"); $(tail -3 "$W/ours/out")"; false; }'
if [ -n "${pid[ref]:-}" ]; then
	peers_wait_until 10 eval "! kill -0 ${pid[ref]} 2>/dev/null" ||
	    kill -KILL "${pid[ref]}" 2>/dev/null
	wait "${pid[ref]}" 2>/dev/null
fi
check "ours: no error logged" eval '
    ! grep -v "WARNING: Running as root" "$W/ours/out" |
    grep -qi "error\|refused\|failed" ||
    { WHY="$(grep -i "error\|refused\|failed" "$W/ours/out" | head -3)"; false; }'
[ "$failed" -eq 0 ]
