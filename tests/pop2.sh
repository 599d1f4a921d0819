#!/usr/bin/env bash
# POP2 retrieval (RFC 937) against a scripted server (TAP producer).
#
# No packaged server speaks POP2 any more: tests/peers/pop2peer.py plays
# the server, one fresh instance per scenario with its own mailbox copy,
# and logs every command it gets.  Mail goes to an MDA script that stores
# each message as its own file (a message containing "X-Fail: yes" makes
# it exit 75 and store nothing).  Scenarios:
#   A  plain poll: 4 messages (dot lines, 8-bit, a 150 KB one with a
#      70 KB line, one without a final line end) delivered byte for byte
#      after the Received: line, all ACKD and gone; summary, -v transcript
#      (password masked); a second poll finds no mail
#   B  keep: ACKS, nothing deleted; the next poll fetches them again
#      (POP2 has no "seen" state)
#   C  bad password -> 3; TLS demanded but unavailable -> 2 and the
#      password never sent; implicit TLS (ssl) works
#   D  MDA failure: the message is NACKed and stays, exit 6
#   E  folder (FOLD), fetchlimit, limit, limitflush, -c
#   F  faults: drop mid-RETR (first and third message), wrong sizes,
#      garbage replies, stalls, refused NACK/ACKD, dropped QUIT
# In every scenario the server must see no protocol violation (POP2 is
# lock-step: no command before the previous reply) and nothing may be
# deleted that was not delivered.
#
# Environment: FETCHMAIL (the client under test; skipped without POP2
# support, see fetchmail -V), POP2_KEEP=1 keeps the work directory.
# shellcheck disable=SC2016,SC2086,SC2317
# (checks are eval'd single-quoted strings; file lists split on purpose;
# functions run through check/trap)
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
FM=${FETCHMAIL:-${top_builddir:-$top}/fetchmail}
PEER=$top/tests/peers/pop2peer.py
PEERS_NO_TRAP=1
# shellcheck source=tests/peers/lib.sh disable=SC1091
. "$top/tests/peers/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP $FM not executable"
	exit 0
fi
case $("$FM" -V </dev/null 2>/dev/null | head -1) in
*+POP2*) ;;
*) echo "1..0 # SKIP $FM built without POP2 (configure --enable-pop2)"
   exit 0 ;;
esac

W=$(mktemp -d "${TMPDIR:-/tmp}/pop2.XXXXXX") || exit 1
chmod 755 "$W"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	[ -n "${POP2_KEEP:-}" ] && { echo "# kept $W" >&2; return; }
	rm -rf "$W"
}
trap cleanup EXIT
trap 'cleanup; trap - INT; kill -INT $$' INT
trap 'cleanup; trap - TERM; kill -TERM $$' TERM

echo "1..94"
# shellcheck source=tests/tap.sh disable=SC1091
. "$top/tests/tap.sh"

# ---------------------------------------------------------------- messages
M=$W/msgs
mkdir -p "$M" "$W/work"
printf 'From: one@example.org\nSubject: dots\n\n.leading dot\n..two dots\n.\nlast\n' >"$M/m1"
printf 'From: two@example.org\nSubject: 8bit\nContent-Transfer-Encoding: 8bit\n\nGr\374\337e \344\366\374\n' >"$M/m2"
{
	printf 'From: three@example.org\nSubject: big\n\n'
	awk 'BEGIN { for (i = 0; i < 1200; i++) printf "line %04d %s\n", i, "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijkl" }'
	awk 'BEGIN { s = ""; for (i = 0; i < 7000; i++) s = s "0123456789"; print s }'
	printf 'after the long line\n'
} >"$M/m3"
printf 'From: four@example.org\nSubject: no final line end\n\nno newline here' >"$M/m4"
printf 'From: five@example.org\nSubject: refused\nX-Fail: yes\n\nthe MDA refuses me\n' >"$W/work/m1x"
printf 'From: w1@example.org\nSubject: work one\n\nin the work folder\n' >"$W/work/w1"
printf 'From: w2@example.org\nSubject: work two\n\nalso in work\n' >"$W/work/w2"

# crlf_size FILE: the octets of FILE with CRLF line ends (what POP2 sends).
crlf_size() {
	local lines bytes
	bytes=$(wc -c <"$1")
	lines=$(tr -cd '\n' <"$1" | wc -c)
	echo $((bytes + lines))
}

# The MDA: stdin into OUT/msg.N (N counts from 1), or exit 75 for a
# message with "X-Fail: yes" (storing nothing).
cat >"$W/mda.sh" <<'EOF'
#!/bin/sh
out=$1
tmp=$out/.tmp.$$
cat >"$tmp" || exit 74
if grep -q '^X-Fail: yes' "$tmp"; then rm -f "$tmp"; exit 75; fi
n=1
while [ -e "$out/msg.$n" ]; do n=$((n + 1)); done
mv "$tmp" "$out/msg.$n"
EOF
chmod 755 "$W/mda.sh"

# ---------------------------------------------------------------- running
# Scenario NAME lives in $W/NAME: mb/ (the default folder), peer/ (the
# server's port, pid, log), out/ (delivered), home/, rc, stdout, stderr.
PORT=
# start_peer NAME FILES [PEER-ARG...]: a server on a copy of FILES
# (space-separated names from $M, or paths).
start_peer() {
	local n=$1 files=$2 d=$W/$1 f deadline pid
	shift 2
	mkdir -p "$d/mb" "$d/peer" "$d/out" "$d/home"
	for f in $files; do
		case $f in /*) cp "$f" "$d/mb/" ;; *) cp "$M/$f" "$d/mb/" ;; esac
	done
	python3 "$PEER" --dir "$d/peer" --mailbox "$d/mb" --lifetime 300 "$@" \
	    2>"$d/peer.err" &
	pid=$!
	PIDS+=("$pid")
	deadline=$(( $(peers_now_ms) + 10000 ))
	until [ -s "$d/peer/port" ]; do
		if ! kill -0 "$pid" 2>/dev/null ||
		    [ "$(peers_now_ms)" -ge $deadline ]; then
			echo "Bail out! pop2peer did not start: $(cat "$d/peer.err")"
			exit 1
		fi
		sleep 0.05
	done
	PORT=$(cat "$d/peer/port")
}
# write_rc NAME [LINE...]: the rcfile (plain text allowed with sslproto '',
# unless a LINE says otherwise: NOPLAIN as the first LINE drops it); $SRV
# is added to the server options.
SRV=
write_rc() {
	local n=$1 plain="sslproto ''"
	shift
	if [ "${1:-}" = NOPLAIN ]; then plain=; shift; fi
	{
		printf 'poll 127.0.0.1 protocol pop2 service %s timeout 3 %s\n' \
		    "$PORT" "$SRV"
		printf '  user alice password secret is bob here %s\n' "$plain"
		printf '  mda "%s %s"\n' "$W/mda.sh" "$W/$n/out"
		[ $# -gt 0 ] && printf '  %s\n' "$@"
	} >"$W/$n/rc"
	chmod 600 "$W/$n/rc"
}
RC=
# fm NAME [ARG...]: run the client for scenario NAME; $RC its status.
fm() {
	local n=$1 d=$W/$1
	shift
	env -i HOME="$d/home" FETCHMAILHOME="$d/home" PATH=/usr/bin:/bin \
	    LC_ALL=C timeout -k 5 40 "$FM" --nosyslog \
	    --pidfile "$d/home/fetchmail.pid" -f "$d/rc" "$@" \
	    >"$d/stdout" 2>"$d/stderr" </dev/null
	RC=$?
	CUR=$d
}
CUR=

# ---------------------------------------------------------------- checks
# want_rc N...: the last run exited with one of these.
want_rc() {
	local c
	for c in "$@"; do [ "$RC" = "$c" ] && return 0; done
	WHY="exit status $RC, expected $*
stdout: $(head -c 1500 "$CUR/stdout")
stderr: $(head -c 1500 "$CUR/stderr")
server: $(tail -n 12 "$CUR/peer/log" 2>/dev/null)"
	return 1
}
# server_has NAME FILE...: the default folder holds exactly these files.
server_has() {
	local want got
	want=$(shift; printf '%s\n' "$@" | sort)
	got=$(find "$W/$1/mb" -type f -printf '%f\n' | sort)
	[ "$want" = "$got" ] && return 0
	WHY="server holds: ${got//$'\n'/ }; expected: ${want//$'\n'/ }"
	return 1
}
# delivered NAME FILE...: out/ holds exactly these messages, in order, each
# the original after the Received: field fetchmail adds (a message without
# a final line end gets one).
delivered() {
	local n=$1 i=1 f got exp
	shift
	got=$(find "$W/$n/out" -name 'msg.*' | wc -l)
	if [ "$got" != $# ]; then
		WHY="$got messages delivered, expected $#"
		return 1
	fi
	for f in "$@"; do
		case $f in /*) ;; *) f=$M/$f ;; esac
		exp=$W/$n/exp.$i
		{ cat "$f"; [ -n "$(tail -c 1 "$f")" ] && echo; } >"$exp"
		if ! received_ok "$W/$n/out/msg.$i" ||
		    ! tail -n +4 "$W/$n/out/msg.$i" | cmp -s - "$exp"; then
			WHY="message $i differs from $f:
$(head -c 600 "$W/$n/out/msg.$i")"
			return 1
		fi
		i=$((i + 1))
	done
	return 0
}
# received_ok FILE: its first three lines are fetchmail's POP2 Received:.
received_ok() {
	head -n 3 "$1" | awk '
	    NR == 1 && $0 !~ /^Received: from [^ ]+ \[127\.0\.0\.1\]$/ { bad = 1 }
	    NR == 2 && $0 !~ /^\tby [^ ]+ with POP2 \(fetchmail-6\.4\.37\)$/ { bad = 1 }
	    NR == 3 && $0 !~ /^\tfor <bob@localhost> \(single-drop\); [A-Z][a-z][a-z], / { bad = 1 }
	    END { exit bad || NR != 3 }'
}
# log_count NAME REGEX: lines of the server log matching REGEX.
log_count() {
	grep -Ec -- "$2" "$W/$1/peer/log" 2>/dev/null
}
# log_has NAME REGEX [COUNT]: the server log matches REGEX (COUNT times).
log_has() {
	local c
	c=$(log_count "$1" "$2")
	if [ -z "${3:-}" ] && [ "$c" -gt 0 ]; then return 0; fi
	[ "$c" = "${3:-x}" ] && return 0
	WHY="server log: $c lines match /$2/, expected ${3:-some}
$(tail -n 20 "$W/$1/peer/log")"
	return 1
}
# no_violation NAME: the server saw POP2 kept (lock-step, states).
no_violation() {
	log_has "$1" ' VIOLATION ' 0
}
# out_has / err_has REGEX: the last run's stdout / stderr matches.
out_has() {
	grep -Eq -- "$1" "$CUR/stdout" && return 0
	WHY="stdout lacks /$1/:
$(head -c 1500 "$CUR/stdout")"
	return 1
}
err_has() {
	grep -Eq -- "$1" "$CUR/stderr" && return 0
	WHY="stderr lacks /$1/:
$(head -c 1500 "$CUR/stderr")"
	return 1
}
# closed NAME: the server finished the last connection (its CLOSE line).
closed() {
	local deadline=$(( $(peers_now_ms) + 5000 ))
	until [ "$(log_count "$1" ' OPEN')" = "$(log_count "$1" ' CLOSE ')" ]; do
		[ "$(peers_now_ms)" -ge $deadline ] && return 1
		sleep 0.05
	done
}

ALL="m1 m2 m3 m4"
OCTETS=0
for f in $ALL; do OCTETS=$((OCTETS + $(crlf_size "$M/$f"))); done

# ---------------------------------------------------------------- A plain
start_peer a "$ALL"
write_rc a
fm a -v
closed a
check "A: a poll with mail exits 0" want_rc 0
check "A: all four delivered byte for byte after the POP2 Received:" \
    delivered a $ALL
check "A: the server holds nothing" server_has a
check "A: every message ACKD, committed by QUIT" \
    eval 'log_has a " ACKD - [1-4]$" 4 && log_has a " COMMIT " 4 &&
    log_has a " C: QUIT$" 1'
check "A: RFC 937 kept (lock-step, states)" no_violation a
check "A: summary with the octets" \
    out_has "^4 messages for alice at 127\\.0\\.0\\.1 \\($OCTETS octets\\)\\.$"
check "A: progress per message" \
    out_has "^reading message alice@127\\.0\\.0\\.1:3 of 4 \\($(crlf_size "$M/m3") octets\\) flushed$"
check "A: -v transcript masks the password" \
    eval 'out_has "POP2> HELO alice \\*$" && ! grep -q secret "$CUR/stdout" "$CUR/stderr"'
check "A: the server did get the password (the checks below mean something)" \
    log_has a ' C: HELO alice secret$' 1
check "A: the transcript shows READ, RETR, ACKD, QUIT" \
    eval 'out_has "POP2> READ 1$" && out_has "POP2> RETR$" &&
    out_has "POP2> ACKD$" && out_has "POP2> QUIT$"'
check "A: message bodies are not in the transcript" \
    eval '! grep -q "leading dot" "$CUR/stdout"'
check "A: the acknowledgement selects the next message (no READ 2 after the listing)" \
    log_has a ' C: READ 2$' 1
fm a
check "A: a second poll finds no mail: exit 1" want_rc 1
check "A: ... and says so" out_has 'No mail for alice at 127\.0\.0\.1$'
check "A: ... delivers nothing more" eval '[ "$(ls "$W/a/out" | wc -l)" = 4 ]'

# ---------------------------------------------------------------- B keep
start_peer b "m1 m2"
write_rc b keep
fm b
closed b
check "B: keep: exit 0" want_rc 0
check "B: keep: delivered" delivered b m1 m2
check "B: keep: ACKS, never ACKD" \
    eval 'log_has b " ACKS - " 2 && log_has b " ACKD " 0'
check "B: keep: the server still holds both" server_has b m1 m2
check "B: keep: progress says not flushed" \
    out_has '^reading message alice@127\.0\.0\.1:2 of 2 \([0-9]+ octets\) not flushed$'
fm b
closed b
check "B: keep: the next poll fetches them again (no seen state in POP2)" \
    eval 'want_rc 0 && delivered b m1 m2 m1 m2'
check "B: keep: no violation" no_violation b
check "B: keep: no UID file written" \
    eval '[ ! -s "$W/b/home/.fetchids" ]'

# ---------------------------------------------------------------- C auth/TLS
start_peer c1 "m1"
write_rc c1
sed -i 's/password secret/password wrong/' "$W/c1/rc"
fm c1
closed c1
check "C: bad password: exit 3" want_rc 3
check "C: bad password: reported" err_has 'Authorization failure on alice@127\.0\.0\.1'
check "C: bad password: nothing delivered, nothing deleted" \
    eval 'delivered c1 && server_has c1 m1'

start_peer c2 "m1 m2"
write_rc c2 NOPLAIN
fm c2
closed c2
check "C: TLS mandatory (default sslcertck) but POP2 has none: exit 2" want_rc 2
check "C: ... refused with a clear message" err_has 'TLS is mandatory.*POP2'
check "C: ... the password never reached the server" \
    eval 'log_has c2 " C: HELO" 0 && ! grep -q secret "$W/c2/peer/log"'
check "C: ... nothing fetched or deleted" \
    eval 'delivered c2 && server_has c2 m1 m2 && log_has c2 " C: " 0'

start_peer c3 "m1"
write_rc c3 NOPLAIN 'no sslcertck'
fm c3
closed c3
check "C: no sslcertck allows plain text: exit 0" \
    eval 'want_rc 0 && delivered c3 m1 && server_has c3'

start_peer c4 "m1"
SRV='auth cram-md5' write_rc c4
fm c4
closed c4
check "C: auth cram-md5 is refused before anything is sent" \
    eval 'want_rc 3 && log_has c4 " C: " 0 && server_has c4 m1'

if peers_have openssl && peers_certs "$W/certs" >/dev/null 2>&1; then
	start_peer c5 "m1 m2" --tls "$W/certs/server.pem" "$W/certs/server.key"
	write_rc c5 NOPLAIN \
	    "ssl sslcertfile $W/certs/ca.pem sslcommonname localhost"
	sed -i "s|^poll 127.0.0.1|poll localhost via 127.0.0.1|" "$W/c5/rc"
	fm c5
	closed c5
	check "C: implicit TLS (ssl): exit 0" want_rc 0
	check "C: implicit TLS: delivered and deleted" \
	    eval 'delivered c5 m1 m2 && server_has c5'
	check "C: implicit TLS: the server spoke TLS" log_has c5 ' TLS TLSv1\.[23]' 1
else
	skip "C: implicit TLS (ssl): exit 0" "openssl or test certificates missing"
	skip "C: implicit TLS: delivered and deleted" "openssl missing"
	skip "C: implicit TLS: the server spoke TLS" "openssl missing"
fi

# ---------------------------------------------------------------- D MDA failure
start_peer d "m1 $W/work/m1x m2"
write_rc d
fm d
closed d
check "D: MDA failure (exit 75) for message 2: the poll goes on, exit 0" want_rc 0
check "D: MDA failure: reported" err_has 'MDA returned nonzero status 75'
check "D: the others delivered and ACKD" \
    eval 'delivered d m1 m2 && log_has d " ACKD - [13]$" 2'
check "D: the refused one is NACKed, never ACKD" \
    eval 'log_has d " NACK - 2$" 1 && log_has d " ACKD - 2$" 0 &&
    out_has "^reading message alice@127\\.0\\.0\\.1:2 of 3 .*" &&
    out_has "^ not flushed$"'
check "D: only the refused one stays" server_has d m1x
check "D: QUIT still ends the session cleanly" \
    eval 'log_has d " CLOSE quit" 1 && no_violation d'

# ---------------------------------------------------------------- E options
start_peer e1 "m1" --folder "work=$W/e1/work"
mkdir -p "$W/e1/work" && cp "$W/work/w1" "$W/work/w2" "$W/e1/work/"
write_rc e1 'folder work'
fm e1
closed e1
check "E: folder: FOLD work, exit 0" \
    eval 'want_rc 0 && log_has e1 " C: FOLD work$" 1'
check "E: folder: its messages delivered" delivered e1 "$W/work/w1" "$W/work/w2"
check "E: folder: they are gone from it; the default folder untouched" \
    eval '[ -z "$(ls "$W/e1/work")" ] && server_has e1 m1'
check "E: folder: the summary names it" \
    out_has '^2 messages for alice at 127\.0\.0\.1 \(folder work\) \([0-9]+ octets\)\.$'
check "E: folder: no violation" no_violation e1

start_peer e1b "m1" --folder "work=$W/e1b/work"
mkdir -p "$W/e1b/work" && cp "$W/work/w1" "$W/e1b/work/"
write_rc e1b 'folder work,nosuch'
fm e1b
closed e1b
check "E: folders work,nosuch: the unknown one is an error, exit 4" \
    eval 'want_rc 4 && err_has "cannot select the folder nosuch"'
check "E: ... the session still QUITs: work's message delivered and deleted" \
    eval 'delivered e1b "$W/work/w1" && [ -z "$(ls "$W/e1b/work")" ] &&
    log_has e1b " C: FOLD nosuch$" 1 && log_has e1b " CLOSE quit" 1'

start_peer e2 "$ALL"
write_rc e2 'fetchlimit 2'
fm e2
closed e2
check "E: fetchlimit 2: exit 13 (MAXFETCH)" want_rc 13
check "E: fetchlimit 2: two delivered" delivered e2 m1 m2
check "E: fetchlimit 2: the other two stay" server_has e2 m3 m4
check "E: fetchlimit 2: reported" \
    out_has 'fetchlimit 2 reached; 2 messages left on server 127\.0\.0\.1 account alice'
check "E: fetchlimit 2: messages 3 and 4 never retrieved" \
    eval 'log_has e2 " C: RETR" 2 && no_violation e2'

start_peer e3 "$ALL"
write_rc e3 'limit 1000'
fm e3
closed e3
check "E: limit 1000: exit 0" want_rc 0
check "E: limit 1000: the small ones delivered" delivered e3 m1 m2 m4
check "E: limit 1000: the big one skipped and left" \
    eval 'server_has e3 m3 && out_has "skipping message alice@127\\.0\\.0\\.1:3 \\([0-9]+ octets\\) \\(oversized\\) not flushed"'
check "E: limit 1000: it was never retrieved" \
    eval 'log_has e3 " C: RETR" 3 && no_violation e3'

start_peer e4 "$ALL"
write_rc e4 'limit 1000' limitflush
fm e4
closed e4
check "E: limitflush: exit 0" want_rc 0
check "E: limitflush: the small ones delivered, the big one not" delivered e4 m1 m2 m4
check "E: limitflush: the big one deleted too (RETR, discarded, ACKD)" \
    eval 'server_has e4 && log_has e4 " ACKD - 3$" 1 && out_has "oversized\\) flushed"'
check "E: limitflush: no violation" no_violation e4

start_peer e7 "m1 m2 m4"
write_rc e7 'expunge 1'
fm e7
closed e7
check "E: expunge 1: exit 0, all delivered, one session (QUIT) per message" \
    eval 'want_rc 0 && delivered e7 m1 m2 m4 && server_has e7 &&
    log_has e7 " CLOSE quit" 3 && log_has e7 " COMMIT - 1 " 3 && no_violation e7'

start_peer e5 "m1 m2"
write_rc e5
fm e5 -c
closed e5
check "E: -c with mail: exit 0, nothing fetched or changed" \
    eval 'want_rc 0 && delivered e5 && server_has e5 m1 m2 && log_has e5 " C: RETR" 0 && log_has e5 " C: ACK" 0'

start_peer e6 ""
write_rc e6
fm e6
closed e6
check "E: an empty mailbox: exit 1, just HELO and QUIT" \
    eval 'want_rc 1 && log_has e6 " C: " 2 && log_has e6 " C: QUIT$" 1'

# ---------------------------------------------------------------- F faults
# fault NAME FILES FAULT [RC-LINE...]: a scenario with one fault, one poll.
fault() {
	local n=$1 files=$2 spec=$3
	shift 3
	start_peer "$n" "$files" --fault "$spec"
	write_rc "$n" "$@"
	fm "$n"
	closed "$n"
}
# untouched NAME FILE...: no ACKD committed: the server holds them all.
untouched() {
	local n=$1
	server_has "$@" && log_has "$n" ' COMMIT ' 0
}

fault f1 "$ALL" 'RETR@1=middrop:30'
check "F: drop mid-RETR of message 1: exit 2" want_rc 2
check "F: ... nothing deleted" untouched f1 $ALL
check "F: ... never acknowledged" log_has f1 ' C: ACK' 0
check "F: ... reported as a socket error" err_has 'socket error while fetching from alice@127\.0\.0\.1'

fault f2 "$ALL" 'RETR@3=middrop:5000'
check "F: drop mid-RETR of message 3: exit 2" want_rc 2
check "F: ... the first two delivered" eval 'delivered f2 m1 m2 || { [ -e "$W/f2/out/msg.3" ] && cmp -s <(tail -n +4 "$W/f2/out/msg.1") "$M/m1"; }'
check "F: ... nothing deleted (no QUIT: the ACKDs were not committed)" \
    eval 'untouched f2 $ALL && log_has f2 " ROLLBACK 2$" 1'
check "F: ... message 3 never acknowledged" log_has f2 ' ACK. - 3$' 0
fm f2
closed f2
check "F: ... the recovery poll fetches and deletes all four" \
    eval 'want_rc 0 && server_has f2 && log_has f2 "^c2 ACKD - [1-4]$" 4'

fault f3 "$ALL" 'READ@2=size:+50'
check "F: size announced too large: the client times out, exit 2" want_rc 2
check "F: ... nothing deleted" untouched f3 $ALL
check "F: ... message 2 not acknowledged" log_has f3 ' ACK. - 2$' 0

fault f4 "$ALL" 'READ@2=size:-5'
check "F: size announced too small: exit 4" want_rc 4
check "F: ... nothing deleted" untouched f4 $ALL
check "F: ... reported as a protocol error" err_has 'protocol error'

fault f5 "$ALL" 'READ@3=garbage'
check "F: garbage reply to READ: exit 4" want_rc 4
check "F: ... nothing fetched or deleted" \
    eval 'untouched f5 $ALL && log_has f5 " C: RETR" 0'

fault f6 "m1" 'GREETING=garbage'
check "F: garbage greeting: exit 4, password not sent" \
    eval 'want_rc 4 && log_has f6 " C: HELO" 0'

fault f7 "m1 m2" 'HELO=stall'
check "F: stall after HELO: timeout, exit 2" want_rc 2
check "F: ... nothing deleted" untouched f7 m1 m2

fault f8 "m1 m2" 'READ@1=badsize'
check "F: size that is no number: exit 4, nothing fetched" \
    eval 'want_rc 4 && untouched f8 m1 m2 && log_has f8 " C: RETR" 0'

fault f9 "m1 m2" 'ACKD@1=err'
check "F: ACKD refused: exit 7 (client/server synchronization error)" want_rc 7
check "F: ... reported" err_has 'ACKD 1 failed'
check "F: ... message 1 kept with ACKS and stays, message 2 deleted" \
    eval 'log_has f9 " ACKS - 1$" 1 && server_has f9 m1 &&
    log_has f9 " COMMIT - 2 m2$" 1'

start_peer f10 "m1 $W/work/m1x m2" --fault 'NACK@2=err'
write_rc f10
fm f10
closed f10
check "F: NACK refused: falls back to ACKS, the message stays" \
    eval 'want_rc 0 && log_has f10 " ACKS - 2$" 1 && server_has f10 m1x &&
    no_violation f10'

fault f11 "m1 m2" 'QUIT=drop'
check "F: QUIT dropped: exit 2, reported" \
    eval 'want_rc 2 && err_has "^fetchmail: connection closed$"'
check "F: ... nothing deleted (deletions need QUIT)" untouched f11 m1 m2

fault f12 "m1 m2" 'ACKD@1=drop'
check "F: connection lost at ACKD: exit 2, nothing deleted" \
    eval 'want_rc 2 && untouched f12 m1 m2'

fault f13 "m1 m2" 'READ@2=stall'
check "F: stall in the listing: exit 2, nothing fetched" \
    eval 'want_rc 2 && untouched f13 m1 m2 && log_has f13 " C: RETR" 0'

check "F: no fault scenario broke the protocol" \
    eval 'for n in f1 f2 f3 f4 f5 f6 f7 f8 f9 f11 f12 f13; do no_violation $n || exit 1; done'

[ "$k" = 94 ] || echo "# planned 94, ran $k"
exit 0
