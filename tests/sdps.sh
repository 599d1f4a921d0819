#!/usr/bin/env bash
# SDPS, Demon Internet's POP3 service (TAP producer), against
# tests/peers/faultpeer.py answering "*ENV n" (no such server runs any
# more): the envelope the server gives for each message is used.
#   A  proto sdps, single-drop: *ENV before each RETR; the envelope
#      sender becomes MAIL FROM; a null sender gives MAIL FROM:<>
#   B  multidrop under proto pop3 with a greeting naming demon.: *ENV is
#      used without being asked for, and the envelope recipient decides
#      the local recipient, whatever the To: header says
#   C  plain POP3 (no demon. greeting): no *ENV
#   D  a server refusing *ENV: the message goes by its header as usual
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/peers/lib.sh"
FM=${FETCHMAIL:-${top_builddir:-.}/fetchmail}

if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP fetchmail under test ($FM) not executable"
	exit 0
fi
peers_init || { echo "1..0 # SKIP $PEERS_WHY"; exit 0; }
echo "1..16"
. "$top/tests/tap.sh"

# run NAME SCENARIO-JSON RCFILE-TAIL: a faultpeer with the scenario, one
# poll with -v delivering to its SMTP sink; $out, $rc, $RD set
run() {
	RD=$PEERS_TMP/$1
	mkdir -p "$RD"
	printf '%s\n' "$2" >"$RD/scen.json"
	if ! faultpeer_start "$RD/fp" --scenario "$RD/scen.json"; then
		out="faultpeer: $PEERS_WHY" rc=99
		return
	fi
	cat >"$RD/rc" <<EOF
poll 127.0.0.1 $3 port $FAULTPEER_POP3_PORT
  user alice password secret $4 sslproto '' no rewrite
  smtphost 127.0.0.1/$FAULTPEER_SMTP_PORT
EOF
	out=$(peers_fetchmail "$FM" "$RD/home" "$RD/rc" -v 2>&1)
	rc=$?
	faultpeer_idle 20
	faultpeer_stop
}
# envs FIELD: the MAIL FROM or RCPT TO arguments the sink got, in
# message order, one line each (RCPTs of a message joined by blanks)
envs() {
	local f
	for f in "$RD"/fp/sink/*.env; do
		[ -f "$f" ] || continue
		grep "^$1" "$f" | sed "s/^$1//" | tr '\n' ' ' | sed 's/ $//'
		echo
	done
}
# has LINE: the -v output has LINE (fixed string)
has() {
	printf '%s\n' "$out" | grep -qF -- "$1" || { WHY=$out; return 1; }
}
# want_envs FIELD EXPECTED: envs FIELD equals EXPECTED
want_envs() {
	local got
	got=$(envs "$1")
	[ "$got" = "$2" ] || { WHY="got: $got
want: $2
$out"; return 1; }
}

# ---------------------------------------------------------------- A
run a '{"messages": 2, "user": "alice", "password": "secret",
  "sdps_env": {"m1": ["<env-sender@demon.test>", "alice@demon.test"],
               "m2": ["", "alice@demon.test"]}}' "proto sdps" "is alice here"
check "A: proto sdps: exit 0" eval '[ $rc = 0 ] || { WHY=$out; false; }'
check "A: *ENV asked before each RETR" eval 'has "POP3> *ENV 1" && has "POP3> *ENV 2"'
check "A: the *ENV sender is the envelope sender" \
    want_envs "MAIL FROM:" "<env-sender@demon.test>
<>"
check "A: both delivered to the one local user" \
    eval '[ "$(envs "RCPT TO:" | wc -l)" = 2 ]'

# ---------------------------------------------------------------- B
run b '{"messages": 2, "user": "alice", "password": "secret",
  "greeting": "POP3 server ready at pop3.demon.co.uk",
  "sdps_env": {"m1": ["s1@example.org", "bob@demon.test"],
               "m2": ["s2@example.org", "carol@demon.test"]}}' \
    "proto pop3 localdomains demon.test" "is alice bob carol here"
check "B: multidrop at demon.: exit 0" eval '[ $rc = 0 ] || { WHY=$out; false; }'
check "B: *ENV used without proto sdps" has "POP3> *ENV 1"
check "B: the envelope recipient decides: bob, then carol" \
    want_envs "RCPT TO:" "<bob@demon.test>
<carol@demon.test>"
check "B: the envelope senders" want_envs "MAIL FROM:" "<s1@example.org>
<s2@example.org>"

# ---------------------------------------------------------------- C
run c '{"messages": 1, "user": "alice", "password": "secret",
  "sdps_env": {"m1": ["s1@example.org", "bob@demon.test"]}}' \
    "proto pop3 localdomains demon.test" "is alice bob here"
check "C: plain POP3: exit 0" eval '[ $rc = 0 ] || { WHY=$out; false; }'
check "C: no *ENV" eval '! printf "%s" "$out" | grep -qF "*ENV" || { WHY=$out; false; }'
check "C: the sender from the header as usual" \
    eval '[ "$(envs "MAIL FROM:")" != "<s1@example.org>" ] || { WHY=$out; false; }'
check "C: delivered" eval '[ "$(envs "RCPT TO:" | wc -l)" = 1 ]'

# ---------------------------------------------------------------- D
run d '{"messages": 1, "user": "alice", "password": "secret"}' \
    "proto sdps" "is alice here"
check "D: *ENV refused: exit 0" eval '[ $rc = 0 ] || { WHY=$out; false; }'
check "D: *ENV was asked" has "POP3> *ENV 1"
check "D: the sender from the header" \
    eval '[ -n "$(envs "MAIL FROM:")" ] || { WHY=$out; false; }'
check "D: delivered" eval '[ "$(envs "RCPT TO:" | wc -l)" = 1 ]'

exit $((failed > 0))
