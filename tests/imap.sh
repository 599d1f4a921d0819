#!/usr/bin/env bash
# Integration test of IMAP retrieval against a real Dovecot (TAP producer).
#
# Starts a private Dovecot (IMAP source, plain with STARTTLS and implicit
# TLS, LMTP sink) once (tests/peers/lib.sh) and runs $FETCHMAIL (default:
# the reference /usr/bin/fetchmail 6.4.37) in scenarios, each with its own
# mailbox and a fresh HOME; deliveries go to a recording MDA script (one
# file a message) unless said otherwise:
#   A  no keep: content set (dots, CRLF, 8-bit, empty body, no final line
#      end, 3 MB) byte for byte; server empty; a second poll finds nothing
#   B  keep: \Seen set, a second poll fetches nothing, fetchall fetches all
#      again; .fetchids holds the folder's UIDVALIDITY and UIDs
#   C  flush deletes seen messages; D  limit and limitflush
#   E  fetchlimit (exit 13); F  several folders, a missing folder (exit 7)
#   G  STARTTLS (mandatory by default) and IMAPS, LOGIN with the password
#      masked in the -v transcript; wrong password (exit 3)
#   H  UIDVALIDITY change (mailbox recreated): no mass re-delivery, no loss
#   I  another client expunges and adds messages while the poll runs (the
#      MDA does it when the first message arrives): nothing lost, nothing
#      delivered twice, no flag on a wrong message
#   K  150 messages pipelined; Dovecot LMTP as the sink
#   M  flags in batches: one ranged UID STORE (\Seen \Deleted, or \Seen
#      with keep) for five messages, flushed ones in the same batch; a NO
#      to the batch from tests/peers/faultpeer.py leaves all five on the
#      server (exit 7) and none is delivered twice
#   P  a scripted server: PREAUTH while TLS is required (abort, nothing
#      sent, as the reference), LOGINDISABLED with auth password
#   J  differential: $FETCHMAIL and the reference on identical mailboxes
#      and rcfiles: exit codes, stdout, stderr, deliveries, server state
#   L  idle: a foreground daemon (-N -d 60) sits in IDLE after its poll;
#      a message injected then is delivered within seconds, the server
#      keeps nothing, IDLE is entered again; SIGTERM ends it cleanly
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/peers/lib.sh"
REF=${REF_FETCHMAIL:-/usr/bin/fetchmail}
FM=${FETCHMAIL:-$REF}
export PEERS_FETCHMAIL_TIMEOUT=${PEERS_FETCHMAIL_TIMEOUT:-30}

if ! peers_have dovecot; then
	echo "1..0 # SKIP $PEERS_WHY"
	exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP fetchmail under test ($FM) not executable"
	exit 0
fi
have_ref=0
[ -x "$REF" ] && have_ref=1

PLAN=67
t_start=$(peers_now_ms)
echo "1..$PLAN"
. "$top/tests/tap.sh"
bail() {
	echo "Bail out! $*"
	peers_dump_logs 30
	exit 1
}

# ---------------------------------------------------------------- servers
USERS="a b c d e f g h i k lt idl m mk mf"
for u in $USERS; do dovecot_add_user "$u" pw; done
for x in ref fm; do
	for n in $(seq 1 15); do
		dovecot_add_user "j$n$x" pw
	done
done
dovecot_start || bail "dovecot did not start"
W=$PEERS_TMP/w
M=$W/msgs
mkdir -p "$M"
chmod 755 "$W"
t_up=$(peers_now_ms)
DC() { doveadm -c "$DOVECOT_CONF" "$@"; }

FQDN=$(hostname)
case $FQDN in
*.*) ;;
*) c=$(getent ahosts "$FQDN" 2>/dev/null | awk 'NR == 1 && NF >= 3 { print $3 }')
   [ -n "$c" ] && FQDN=$c ;;
esac
ME=$(id -un)

# ---------------------------------------------------------------- messages
hdrs() {	# hdrs ID SUBJECT N
	printf 'From: Sender %s <sender%s@example.net>\nTo: Rcpt <alice@example.org>\n' "$3" "$3"
	printf 'Subject: %s\nDate: Mon, 01 Jan 2024 12:00:%02d +0000\n' "$2" "$3"
	printf 'Message-ID: <imap-%s@example.org>\nX-Test-Id: %s\n' "$1" "$1"
}
{ hdrs c1 "plain" 1; printf '\nHello,\n\na plain message.\n'; } >"$M/c1"
{ hdrs c2 "dots" 2; printf '\n.\n..\n.leading dot\n. space\n.\r\n\n.\n'; } >"$M/c2"
{ hdrs c3 "crlf" 3; printf '\nline one\nline two\n\nline four\n'; } | sed 's/$/\r/' >"$M/c3"
{ hdrs c4 "8bit" 4
  printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n'
  printf 'Gr\374\337e, caf\351 \200\201\377\nUTF-8: \303\244\303\266\n'; } >"$M/c4"
{ hdrs c5 "empty body" 5; printf '\n'; } >"$M/c5"
{ hdrs c6 "no final newline" 6; printf '\nfirst line\nlast line without end'; } >"$M/c6"
{ hdrs c7 "large" 7; printf '\n'
  awk 'BEGIN { for (i = 1; i <= 40000; i++) { if (i % 1000 == 0) print "."
	else printf "%06d the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKL\n", i } }'
} >"$M/c7"
CSET="c1 c2 c3 c4 c5 c6 c7"
mk_small() {	# mk_small ID PAD N
	{ hdrs "$1" "small $1" "$3"; printf '\nbody of %s\n' "$1"
	  head -c "$2" /dev/zero | tr '\0' x | fold -w 70; echo; } >"$M/$1"
}
for i in 1 2 3 4 5 6; do mk_small "s$i" $((i * 100)) "$i"; done
mk_small big 1500 9
# imap_size FILE: the size the server reports (every line end CRLF)
imap_size() {
	perl -0777 -ne 'my $b = () = /(?<!\r)\n/g; print length($_) + $b' "$1"
}
# header_size FILE: the same for the header block with its blank line
header_size() {
	perl -0777 -ne 's/(\r?\n\r?\n).*/$1/s; my $b = () = /(?<!\r)\n/g;
	    print length($_) + $b' "$1"
}
LIM=1000

# inject USER FOLDER ID...: put messages into USER's FOLDER
inject() {
	local u=$1 f=$2 id; shift 2
	for id in "$@"; do
		DC save -u "$u" -m "$f" <"$M/$id" || return 1
	done
}
# seen USER FOLDER ID...: flag these messages \Seen
seen() {
	local u=$1 f=$2 id; shift 2
	for id in "$@"; do
		DC flags add -u "$u" '\Seen' mailbox "$f" header X-Test-Id "$id" ||
		    return 1
	done
}
# state USER [FOLDER]: "ID:FLAGS ..." of the folder, in order
state() {
	DC -f tab fetch -u "$1" 'hdr.x-test-id flags' mailbox "${2:-INBOX}" all \
	    2>/dev/null | tail -n +2 | sed 's/\\Recent//; s/ *$//; s/\t/:/' |
	    tr '\n' ' ' | sed 's/ $//'
}
# want_state USER FOLDER STATE
want_state() {
	local have
	have=$(state "$1" "$2")
	[ "$have" = "$3" ] && return 0
	WHY="$WHY${WHY:+
}$1/$2 holds [$have], expected [$3]"
	return 1
}
uidvalidity() {
	DC -f tab mailbox status -u "$1" uidvalidity "${2:-INBOX}" 2>/dev/null |
	    awk -F'\t' 'END { print $NF }'
}

# ---------------------------------------------------------------- running
# Each scenario NAME has $W/NAME with rc, home/, the MDA's files got/NNNN,
# and the last run's out, err and $RC.
cat >"$W/mda.sh" <<'EOF'
#!/bin/sh
# recording MDA: one file a message, numbered in delivery order
d=$1
n=$(ls "$d" | wc -l); n=$((n + 1))
cat >"$d/$(printf %04d $n)"
EOF
chmod 755 "$W/mda.sh"
# write_rc NAME POLL USER [LINE...]: rcfile (plain IMAP with sslproto '',
# unless a LINE says otherwise through TLS=1)
write_rc() {
	local n=$1 poll=$2 u=$3; shift 3
	mkdir -p "$W/$n/got"
	chmod 777 "$W/$n/got"
	{
		printf 'poll %s protocol imap port %s %s\n' "$poll" \
		    "${PORT:-$DOVECOT_IMAP_PORT}" "${SERVOPT:-}"
		printf '  user %s password %s' "$u" "${PASS:-pw}"
		[ -z "${TLS:-}" ] && printf " sslproto ''"
		printf ' mda "%s %s"\n' "$W/mda.sh" "$W/$n/got"
		[ $# -gt 0 ] && printf '  %s\n' "$@"
	} >"$W/$n/rc"
}
BUDGET_S=${IMAP_BUDGET_S:-240}
RC=
fm_bin() {	# fm_bin BIN HOME DIR [ARG...]
	local bin=$1 home=$2 d=$3; shift 3
	[ $(( $(peers_now_ms) - t_start )) -lt $((BUDGET_S * 1000)) ] ||
	    bail "time budget of $BUDGET_S s used up (fetchmail hanging?)"
	peers_fetchmail "$bin" "$home" "$d/rc" "$@" >"$d/out" 2>"$d/err"
	RC=$?
	grep -v 'WARNING: Running as root is discouraged' "$d/err" >"$d/err.f"
	mv "$d/err.f" "$d/err"
	OUT=$d/out ERR=$d/err
}
fm() { local n=$1; shift; fm_bin "$FM" "$W/$n/home" "$W/$n" "$@"; }
want_rc() {
	[ "$RC" = "$1" ] && return 0
	WHY="exit status $RC, expected $1
stdout: $(head -20 "$OUT")
stderr: $(head -20 "$ERR")"
	return 1
}
want_out() {
	local exp=$W/expected.out
	: >"$exp"
	[ $# -gt 0 ] && printf '%s\n' "$@" >"$exp"
	cmp -s "$exp" "$OUT" && return 0
	WHY="stdout differs (- expected, + actual):
$(diff -u "$exp" "$OUT" | tail -n +3 | head -40)
stderr: $(head -10 "$ERR")"
	return 1
}
want_err() {
	local exp=$W/expected.err
	: >"$exp"
	[ $# -gt 0 ] && printf '%s\n' "$@" >"$exp"
	cmp -s "$exp" "$ERR" && return 0
	WHY="stderr differs (- expected, + actual):
$(diff -u "$exp" "$ERR" | tail -n +3 | head -40)"
	return 1
}
# got_ids NAME: X-Test-Ids of the messages the MDA received, in order
got_ids() {
	local f
	for f in "$W/$1"/got/*; do
		[ -f "$f" ] && peers_header "$f" X-Test-Id
	done | tr '\n' ' ' | sed 's/ $//'
}
want_got() {
	local have
	have=$(got_ids "$1"); shift
	[ "$have" = "$*" ] && return 0
	WHY="$WHY${WHY:+
}delivered [$have], expected [$*]"
	return 1
}
summary() {	# summary USER N [SEEN] [FOLDER]
	local s=s f=
	[ "$2" = 1 ] && s=
	[ -n "${4:-}" ] && f=" (folder $4)"
	if [ -n "${3:-}" ]; then
		echo "$2 message$s ($3 seen) for $1 at ${POLL:-127.0.0.1}$f."
	else
		echo "$2 message$s for $1 at ${POLL:-127.0.0.1}$f."
	fi
}
reading() {	# reading USER I N ID flushed|"not flushed"
	local f=$M/$4 h b
	h=$(header_size "$f")
	b=$(( $(imap_size "$f") - h ))
	echo "reading message $1@${POLL:-127.0.0.1}:$2 of $3 ($h header octets) ($b body octets) $5"
}
received() {	# received POLL ADDR
	printf 'Received: from %s [127.0.0.1]\n\tby %s with IMAP (fetchmail-6.4.37)\n\tfor <%s> (single-drop); DATE\n' "$1" "$FQDN" "$2"
}
# same_as_injected NAME POLL: every delivered file equals its injected
# message with fetchmail's Received field (date masked) inserted
same_as_injected() {
	local n=$1 poll=$2 f id bad=0 exp
	exp=$(received "$poll" "$ME@localhost")
	for f in "$W/$n"/got/*; do
		[ -f "$f" ] || continue
		id=$(peers_header "$f" X-Test-Id)
		peers_msg_strip "" "$f" >"$W/got.msg"
		peers_msg_expect "$M/$id" "$exp" >"$W/exp.msg"
		# a message without a final line end gets none added by
		# Dovecot; the MDA sees what fetchmail wrote
		if ! cmp -s "$W/exp.msg" "$W/got.msg"; then
			bad=1
			WHY="$WHY${WHY:+
}$id differs (- expected, + delivered):
$(diff -u "$W/exp.msg" "$W/got.msg" | tail -n +3 | head -12 | cut -c1-120)"
		fi
	done
	[ "$bad" = 0 ]
}

# ================================================================ A
POLL=127.0.0.1
inject a INBOX $CSET || bail "inject failed"
write_rc A 127.0.0.1 a
fm A
check "A: no keep: exit status 0" want_rc 0
exp=() i=0
for id in $CSET; do i=$((i + 1)); exp+=("$(reading a $i 7 "$id" flushed)"); done
check "A: summary and progress lines as the reference prints them" \
    want_out "$(summary a 7)" "${exp[@]}"
check "A: nothing on stderr" want_err
check "A: 7 messages delivered in order" want_got A $CSET
check "A: delivered messages identical to the injected ones (dots, CRLF, 8-bit, empty body, no final line end, 3 MB)" \
    same_as_injected A 127.0.0.1
check "A: mailbox empty afterwards" want_state a INBOX ""
fm A
check "A: second poll: no mail, exit 1" eval 'want_rc 1 && want_out "fetchmail: No mail for a at 127.0.0.1" && want_err'
check "A: .fetchids keeps no UIDs of expunged messages" \
    eval '! grep -q " [0-9]* %$" "$W/A/home/.fetchids" 2>/dev/null || { WHY=$(cat "$W/A/home/.fetchids"); false; }'

# ================================================================ B
inject b INBOX s1 s2 s3 && seen b INBOX s2 || bail "inject failed"
write_rc B 127.0.0.1 b keep
fm B
check "B: keep: exit 0, the seen message skipped silently" eval 'want_rc 0 &&
    want_out "$(summary b 3 1)" "$(reading b 1 3 s1 "not flushed")" "$(reading b 3 3 s3 "not flushed")"'
check "B: keep: both delivered" want_got B s1 s3
check "B: keep: all stay, now \\Seen" want_state b INBOX 's1:\Seen s2:\Seen s3:\Seen'
v=$(uidvalidity b)
check "B: .fetchids records the folder's UIDVALIDITY and the kept UIDs" eval '
    grep -qx "b@127.0.0.1/INBOX $v %uidvalidity" "$W/B/home/.fetchids" &&
    [ "$(grep -c "^b@127.0.0.1/INBOX [0-9]* %$" "$W/B/home/.fetchids")" = 2 ] ||
    { WHY=$(cat "$W/B/home/.fetchids"); false; }'
fm B
check "B: second poll fetches nothing (exit 1)" eval 'want_rc 1 && want_out "$(summary b 3 3)"'
# a message marked unseen again by the user is not fetched twice (the UID
# store remembers it); the reference would fetch it again
DC flags remove -u b '\Seen' mailbox INBOX header X-Test-Id s1
inject b INBOX s4
fm B
check "B: a new message alone is fetched; one un-flagged by the user is not fetched twice" eval '
    want_rc 0 && want_out "$(summary b 4 3)" "$(reading b 4 4 s4 "not flushed")" &&
    want_got B s1 s3 s4'
fm B -a
check "B: fetchall fetches all four again, no (seen) count" eval '
    want_rc 0 && want_out "$(summary b 4)" "$(reading b 1 4 s1 "not flushed")" \
    "$(reading b 2 4 s2 "not flushed")" "$(reading b 3 4 s3 "not flushed")" \
    "$(reading b 4 4 s4 "not flushed")" && want_got B s1 s3 s4 s1 s2 s3 s4'

# ================================================================ C
inject c INBOX s1 s2 s3 && seen c INBOX s1 s3 || bail "inject failed"
write_rc C 127.0.0.1 c flush
fm C
check "C: flush: seen messages deleted unread, announced in order" eval '
    want_rc 0 && want_out "$(summary c 3 2)" "skipping message c@127.0.0.1:1 flushed" \
    "$(reading c 2 3 s2 flushed)" "skipping message c@127.0.0.1:3 flushed" &&
    want_got C s2 && want_state c INBOX ""'

# ================================================================ D
inject d INBOX s1 big s2 || bail "inject failed"
write_rc D 127.0.0.1 d "limit $LIM"
fm D
bsz=$(imap_size "$M/big")
check "D: limit: oversized message skipped and left unseen" eval '
    want_rc 0 && want_out "$(summary d 3)" "$(reading d 1 3 s1 flushed)" \
    "skipping message d@127.0.0.1:2 ($bsz octets) (oversized) not flushed" \
    "$(reading d 3 3 s2 flushed)" && want_state d INBOX "big:"'
write_rc D 127.0.0.1 d "limit $LIM limitflush"
fm D
check "D: limitflush deletes it" eval '
    want_rc 1 && want_out "$(summary d 1)" "skipping message d@127.0.0.1:1 ($bsz octets) (oversized) flushed" &&
    want_state d INBOX ""'

# ================================================================ E
inject e INBOX s1 s2 s3 s4 || bail "inject failed"
write_rc E 127.0.0.1 e "fetchlimit 2"
fm E
check "E: fetchlimit 2: exit 13, two fetched, two left" eval '
    want_rc 13 && want_out "$(summary e 4)" "$(reading e 1 4 s1 flushed)" \
    "$(reading e 2 4 s2 flushed)" "fetchmail: fetchlimit 2 reached; 2 messages left on server 127.0.0.1 account e" \
    "fetchmail: Query status=13 (MAXFETCH)" && want_state e INBOX "s3: s4:"'

# ================================================================ F
DC mailbox create -u f Other && DC mailbox create -u f Third || bail "mailbox create failed"
inject f INBOX s1 s2 && inject f Other s3 && inject f Third s4 || bail "inject failed"
write_rc F 127.0.0.1 f "folder INBOX,Other,Third"
fm F
check "F: three folders, each with its summary" eval '
    want_rc 0 && want_out "$(summary f 2 "" INBOX)" "$(reading f 1 2 s1 flushed)" \
    "$(reading f 2 2 s2 flushed)" "$(summary f 1 "" Other)" "$(reading f 1 1 s3 flushed)" \
    "$(summary f 1 "" Third)" "$(reading f 1 1 s4 flushed)" && want_got F s1 s2 s3 s4'
check "F: all folders emptied" eval 'want_state f INBOX "" && want_state f Other "" && want_state f Third ""'
fm F
check "F: second poll: no mail in each folder" eval '
    want_rc 1 && want_out "fetchmail: No mail for f at 127.0.0.1 (folder INBOX)" \
    "fetchmail: No mail for f at 127.0.0.1 (folder Other)" "fetchmail: No mail for f at 127.0.0.1 (folder Third)"'
inject f Other s5
write_rc F 127.0.0.1 f "folder Other,Missing,INBOX"
fm F
check "F: a missing folder: exit 7 after the folders before it, as the reference" eval '
    want_rc 7 && want_out "$(summary f 1 "" Other)" "$(reading f 1 1 s5 flushed)" \
    "fetchmail: Query status=7 (ERROR)" &&
    want_err "fetchmail: mailbox selection failed" "fetchmail: client/server synchronization error while fetching from f@127.0.0.1"'

# ================================================================ G
POLL=localhost
inject g INBOX s1 s2 || bail "inject failed"
TLS=1 write_rc G localhost g "sslcertfile $PEERS_CA"
fm G -v
check "G: STARTTLS (mandatory by default): exit 0, both delivered" eval 'want_rc 0 && want_got G s1 s2'
check "G: -v shows STARTTLS and the upgrade" eval '
    grep -q "^fetchmail: IMAP> A0001 STARTTLS$" "$OUT" &&
    grep -q "^fetchmail: localhost: upgrade to TLS succeeded.$" "$OUT" || { WHY=$(head -30 "$OUT"); false; }'
check "G: progress lines amid the transcript" eval 'grep -qx "$(reading g 1 2 s1 flushed)" "$OUT" || { WHY=$(grep reading "$OUT"); false; }'
inject g INBOX s3
PORT=$DOVECOT_IMAPS_PORT TLS=1 write_rc G localhost g ssl "sslcertfile $PEERS_CA"
fm G
check "G: IMAPS: exit 0, delivered" eval 'want_rc 0 && want_out "$(summary g 1)" "$(reading g 1 1 s3 flushed)" && want_got G s1 s2 s3'
inject g INBOX s4
SERVOPT="auth password" TLS=1 PASS='"p\"w\\x"' write_rc G localhost g "sslcertfile $PEERS_CA"
fm G -v
check "G: LOGIN, password quoted and masked in the transcript" eval '
    grep -q "^fetchmail: IMAP> A0003 LOGIN \"g\" \*$" "$OUT" &&
    ! grep -q "p.\?\"w" "$OUT" "$ERR" || { WHY=$(grep -n "LOGIN\|p.*w" "$OUT" "$ERR"); false; }'
check "G: wrong password: exit 3, the reference's lines" eval '
    want_rc 3 && grep -qx "fetchmail: Authorization failure on g@localhost" "$ERR" &&
    want_state g INBOX "s4:"'
check "G: the password never reached the log in clear text" eval '! grep -q "p.\?\"w" "$OUT" "$ERR"'
TLS=1 write_rc G localhost g "sslcertfile $PEERS_CA" "sslcommonname wrong.example"
fm G
check "G: certificate name mismatch: exit 2, nothing sent" eval '
    want_rc 2 && grep -q "upgrade to TLS failed" "$ERR" && want_state g INBOX "s4:"'
POLL=127.0.0.1

# ================================================================ H
# UIDVALIDITY changes when a folder is deleted and created again.
DC mailbox create -u h Box || bail "mailbox create failed"
inject h Box s1 s2 || bail "inject failed"
write_rc H 127.0.0.1 h keep "folder Box"
fm H
v1=$(uidvalidity h Box)
check "H: keep: first poll fetches two" eval 'want_rc 0 && want_got H s1 s2'
# s1 and s2 come back flagged \Seen (as a migration copies them), s3 is new
DC mailbox delete -u h Box && DC mailbox create -u h Box || bail "recreate failed"
inject h Box s1 s2 s3 && seen h Box s1 s2 || bail "inject failed"
v2=$(uidvalidity h Box)
fm H -v
check "H: UIDVALIDITY changed ($v1 -> $v2)" eval '[ -n "$v1" ] && [ "$v1" != "$v2" ]'
check "H: after the change only the new message is fetched" eval '
    want_rc 0 && want_got H s1 s2 s3 && grep -qx "$(reading h 3 3 s3 "not flushed")" "$OUT"'
check "H: the change is reported at -v and .fetchids has the new UIDVALIDITY" eval '
    grep -q "UIDVALIDITY of folder Box changed" "$OUT" &&
    grep -qx "h@127.0.0.1/Box $v2 %uidvalidity" "$W/H/home/.fetchids" &&
    ! grep -q " $v1 " "$W/H/home/.fetchids" || { WHY=$(cat "$W/H/home/.fetchids"); false; }'
fm H
check "H: and the next poll fetches nothing" eval 'want_rc 1 && want_out "$(summary h 3 3 Box)"'

# ================================================================ I
# The MDA, on the first message, acts as another client: it expunges s4
# and s5 and adds s6, while fetchmail's fetches are in flight.  40 other
# messages come before s4 and s5, more than fetchmail keeps in flight, so
# their fetches go out after the expunge.
fill40=
for n in $(seq 1 40); do
	{ hdrs "q$n" "filler $n" $((n % 60)); printf '\nfiller %d\n' "$n"; } >"$M/q$n"
	fill40="$fill40 q$n"
done
# shellcheck disable=SC2086
inject i INBOX s1 c7 $fill40 s4 s5 || bail "inject failed"
cat >"$W/mda-other.sh" <<EOF
#!/bin/sh
d=\$1
n=\$(ls "\$d" | wc -l); n=\$((n + 1))
cat >"\$d/\$(printf %04d \$n)"
if [ \$n = 1 ]; then
	doveadm -c "$DOVECOT_CONF" expunge -u i mailbox INBOX header X-Test-Id s4
	doveadm -c "$DOVECOT_CONF" expunge -u i mailbox INBOX header X-Test-Id s5
	doveadm -c "$DOVECOT_CONF" save -u i -m INBOX <"$M/s6"
fi
EOF
chmod 755 "$W/mda-other.sh"
write_rc I 127.0.0.1 i keep
sed -i "s|$W/mda.sh|$W/mda-other.sh|" "$W/I/rc"
fm I -v
ids=$(got_ids I)
check "I: another client expunging mid-poll: exit 0, no error" eval 'want_rc 0 && [ ! -s "$ERR" ] || { WHY="rc $RC: $(cat "$ERR")"; false; }'
# shellcheck disable=SC2086
check "I: all but the expunged delivered once, in order, nothing else" eval '
    [ "$ids" = "$(echo s1 c7 $fill40)" ] || { WHY="delivered [$ids]"; false; }'
if [ "$(readlink -f "$FM")" = "$(readlink -f "$REF")" ]; then
	skip "I: the vanished messages reported at -v" "the reference fetches by sequence number"
else
	check "I: the vanished messages reported at -v" eval '
	    grep -q "^fetchmail: message i@127.0.0.1:43 (UID [0-9]*) is gone from the server$" "$OUT" &&
	    grep -q "^fetchmail: message i@127.0.0.1:44 (UID [0-9]*) is gone from the server$" "$OUT" ||
	    { WHY=$(grep -n "gone\|EXPUNGE" "$OUT" | head); false; }'
fi
qs=
for n in $(seq 1 40); do qs="$qs q$n:\\Seen"; done
check "I: kept messages \\Seen, the newcomer untouched" want_state i INBOX "s1:\\Seen c7:\\Seen$qs s6:"
fm I
check "I: next poll fetches just the newcomer" eval 'want_rc 0 && want_out "$(summary i 43 42)" "$(reading i 43 43 s6 "not flushed")"'

# ================================================================ K
ids=
for n in $(seq 1 150); do
	{ hdrs "p$n" "pipelined $n" $((n % 60)); printf '\nmessage %d\n' "$n"; } >"$M/p$n"
	ids="$ids p$n"
done
# shellcheck disable=SC2086
inject k INBOX $ids || bail "inject failed"
write_rc K 127.0.0.1 k "expunge 40"
fm K
# shellcheck disable=SC2086
check "K: 150 messages, pipelined, expunge 40: all delivered in order" eval 'want_rc 0 && want_got K $ids'
check "K: mailbox empty" want_state k INBOX ""
inject k INBOX s1 s2 c7 || bail "inject failed"
{
	printf 'poll 127.0.0.1 protocol imap port %s\n' "$DOVECOT_IMAP_PORT"
	printf "  user k password pw sslproto '' is lt here smtphost 127.0.0.1/%s lmtp\n" "$DOVECOT_LMTP_PORT"
} >"$W/K/rc"
fm K
check "K: Dovecot LMTP as the sink: delivered and removed" eval '
    want_rc 0 && dovecot_wait_count lt 3 10 && want_state k INBOX "" &&
    [ "$(dovecot_header_list lt X-Test-Id | tr "\n" " ")" = "s1 s2 c7 " ]'

# ================================================================ M
# Flags are stored in batches: the messages finished since the last send
# go out as one ranged UID STORE.  Five messages fit in one window, so a
# poll sends exactly one STORE naming UIDs 1:5.
# stores NAME: the UID STORE lines of the -v transcript
stores() { grep ' IMAP> A[0-9]* UID STORE ' "$W/$1/out" | sed 's/.*IMAP> A[0-9]* //'; }
inject m INBOX s1 s2 s3 s4 s5 || bail "inject failed"
write_rc M 127.0.0.1 m
fm M -v
check "M: nokeep, 5 messages: exit 0, delivered in order" eval 'want_rc 0 && want_got M s1 s2 s3 s4 s5'
check "M: nokeep: one ranged UID STORE 1:5 (\\Seen \\Deleted) before the EXPUNGE" eval '
    [ "$(stores M)" = "UID STORE 1:5 +FLAGS.SILENT (\\Seen \\Deleted)" ] &&
    grep -A100 " UID STORE " "$OUT" | grep -q " IMAP> A[0-9]* UID EXPUNGE 1:5$" ||
    { WHY="STOREs: [$(stores M)] EXPUNGE: $(grep EXPUNGE "$OUT")"; false; }'
check "M: nokeep: mailbox empty afterwards" want_state m INBOX ""
inject mk INBOX s1 s2 s3 s4 s5 || bail "inject failed"
write_rc MK 127.0.0.1 mk keep
fm MK -v
check "M: keep: exit 0, one ranged UID STORE 1:5 (\\Seen), no EXPUNGE" eval '
    want_rc 0 && want_got MK s1 s2 s3 s4 s5 &&
    [ "$(stores MK)" = "UID STORE 1:5 +FLAGS.SILENT (\\Seen)" ] &&
    ! grep -q "EXPUNGE" "$OUT" || { WHY="$WHY STOREs: [$(stores MK)]"; false; }'
check "M: keep: all five stay, \\Seen" want_state mk INBOX 's1:\Seen s2:\Seen s3:\Seen s4:\Seen s5:\Seen'
# flush: the seen messages, deleted unread, join the batch of the others
inject mf INBOX s1 s2 s3 s4 s5 && seen mf INBOX s2 s4 || bail "inject failed"
write_rc MF 127.0.0.1 mf flush
fm MF -v
check "M: flush: messages deleted unread join the \\Deleted batch, lines in order" eval '
    want_rc 0 && want_got MF s1 s3 s5 &&
    [ "$(stores MF)" = "UID STORE 1:5 +FLAGS.SILENT (\\Seen \\Deleted)" ] &&
    [ "$(grep -E "^(reading|skipping) message" "$OUT" | cut -d" " -f1-3 | tr "\n" " ")" = \
      "reading message mf@127.0.0.1:1 skipping message mf@127.0.0.1:2 reading message mf@127.0.0.1:3 skipping message mf@127.0.0.1:4 reading message mf@127.0.0.1:5 " ] &&
    want_state mf INBOX "" || { WHY="$WHY STOREs: [$(stores MF)] $(grep -E "^(reading|skipping)" "$OUT")"; false; }'
# a NO to the batch (tests/peers/faultpeer.py; its first UID STORE)
MX=$W/MX
if faultpeer_start "$MX/peer" --messages 5 --fault 'imap:STORE=err' \
    --sender MAILER-DAEMON@example.org --lifetime 120; then
	mxport=$(awk '$1 == "imap" { print $2 }' "$MX/peer/ports")
	mkdir -p "$MX"
	printf "poll 127.0.0.1 protocol imap service %s timeout 5\n  user alice password secret is bob here sslproto '' smtphost 127.0.0.1/%s\n" \
	    "$mxport" "$FAULTPEER_SMTP_PORT" >"$MX/rc"
	mxfact() { sed -n "s/^$1=//p" "$MX/peer/report.txt"; }
	fm MX -v
	faultpeer_idle 10 "$MX/peer"
	check "M: NO to the batched STORE: exit 7, one STORE line per message of the batch" eval '
	    want_rc 7 && [ "$(stores MX | wc -l)" = 1 ] &&
	    [ "$(grep -c "^fetchmail: STORE of message alice@127.0.0.1:[1-5] failed: faultpeer: fault injected at UID STORE$" "$ERR")" = 5 ] ||
	    { WHY="$WHY STOREs: [$(stores MX)]; $(head "$ERR")"; false; }'
	check "M: NO to the batched STORE: all five delivered once and all still on the server" eval '
	    [ "$(mxfact naccepted)" = 5 ] && [ "$(mxfact remaining)" = "$(mxfact originals)" ] &&
	    [ -z "$(mxfact lost)" ] || { WHY="$(cat "$MX/peer/report.txt")"; false; }'
	faultpeer_control '{"faults": []}' "$MX/peer"
	fm MX -v
	faultpeer_idle 10 "$MX/peer"
	check "M: NO to the batched STORE: the next poll delivers none again and empties the server" eval '
	    [ "$(mxfact naccepted)" = 5 ] && [ -z "$(mxfact remaining)" ] &&
	    [ -z "$(mxfact dups)" ] || { WHY="rc $RC; $(cat "$MX/peer/report.txt")"; false; }'
	faultpeer_stop
else
	for x in 1 2 3; do notok "M: faultpeer started" "$PEERS_WHY"; done
fi

# ================================================================ P
# A scripted server for what Dovecot will not do on demand: a PREAUTH
# greeting while TLS is required (CVE-2021-39272) and LOGINDISABLED with
# "auth password".  It logs every command it receives.
cat >"$W/script-imap.py" <<'EOF'
import socket, sys
greeting, caps, logf, portf, n = sys.argv[1:6]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(4)
with open(portf + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
import os
os.rename(portf + ".tmp", portf)
s.settimeout(60)
log = open(logf, "a", buffering=1)
for _ in range(int(n)):
    c, _a = s.accept()
    c.settimeout(30)
    f = c.makefile("rwb")
    f.write(greeting.encode() + b"\r\n"); f.flush()
    while True:
        try:
            ln = f.readline()
        except OSError:
            break
        if not ln:
            break
        log.write(ln.decode("latin-1").rstrip("\r\n") + "\n")
        w = ln.split(b" ")
        tag, cmd = w[0], (w[1].strip().upper() if len(w) > 1 else b"")
        if cmd == b"LOGOUT":
            f.write(b"* BYE bye\r\n" + tag + b" OK done\r\n"); f.flush()
            break
        if cmd == b"CAPABILITY":
            f.write(b"* CAPABILITY " + caps.encode() + b"\r\n" + tag +
                    b" OK done\r\n"); f.flush()
            continue
        f.write(tag + b" NO not here\r\n"); f.flush()
    c.close()
EOF
# script_peer NAME GREETING CAPS CONNECTIONS: start it; sets SP_PORT
script_peer() {
	local d=$W/$1
	mkdir -p "$d"
	rm -f "$d/port" "$d/cmds"
	: >"$d/cmds"
	python3 "$W/script-imap.py" "$2" "$3" "$d/cmds" "$d/port" "$4" \
	    >"$d/peer.log" 2>&1 &
	peers_register_pid $!
	peers_wait_until 10 test -s "$d/port" || return 1
	SP_PORT=$(cat "$d/port")
}
if script_peer P1 "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] logged in already" \
    "IMAP4rev1 STARTTLS" 2; then
	mkdir -p "$W/P1"
	printf 'poll 127.0.0.1 protocol imap port %s\n  user p password pw mda "%s %s"\n' \
	    "$SP_PORT" "$W/mda.sh" "$W/P1" >"$W/P1/rc"
	fm P1
	check "P: PREAUTH while TLS is required: exit 2, the reference's lines, nothing sent" eval '
	    want_rc 2 && want_err "fetchmail: 127.0.0.1: configuration requires TLS, but STARTTLS is not permitted because of authenticated state (PREAUTH). Aborting connection.  Server permitting, try --ssl instead (see manual)." \
	    "fetchmail: Socket or TLS error on p@127.0.0.1" "fetchmail: socket error while fetching from p@127.0.0.1" &&
	    [ ! -s "$W/P1/cmds" ] || { WHY="$WHY commands: $(cat "$W/P1/cmds")"; false; }'
	if [ $have_ref = 1 ]; then
		cp "$W/P1/err" "$W/P1/err.fm"
		fm_bin "$REF" "$W/P1/home.ref" "$W/P1"
		check "P: PREAUTH: the reference says the same and sends nothing either" eval '
		    want_rc 2 && cmp -s "$W/P1/err" "$W/P1/err.fm" && [ ! -s "$W/P1/cmds" ] ||
		    { WHY="$WHY $(diff "$W/P1/err.fm" "$W/P1/err") $(cat "$W/P1/cmds")"; false; }'
	else
		skip "P: PREAUTH: the reference says the same" "reference not installed"
	fi
else
	notok "P: scripted server started" "$(cat "$W/P1/peer.log")"
	skip "P: PREAUTH: the reference" "no scripted server"
fi
if script_peer P2 "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] ready" \
    "IMAP4rev1 LOGINDISABLED" 1; then
	mkdir -p "$W/P2"
	printf "poll 127.0.0.1 protocol imap port %s auth password\n  user p password pw sslproto '' mda \"%s %s\"\n" \
	    "$SP_PORT" "$W/mda.sh" "$W/P2" >"$W/P2/rc"
	fm P2
	check "P: LOGINDISABLED with auth password: exit 3, no LOGIN sent" eval '
	    want_rc 3 && grep -qx "fetchmail: 127.0.0.1: --auth password requested but server forbids it (LOGINDISABLED)." "$ERR" &&
	    ! grep -qi " LOGIN " "$W/P2/cmds" || { WHY="$WHY $(cat "$ERR") / commands: $(cat "$W/P2/cmds")"; false; }'
else
	notok "P: scripted server started" "$(cat "$W/P2/peer.log")"
fi

# ================================================================ J
# The same polls, rcfiles and mailboxes for the reference and $FETCHMAIL:
# every observable compared.  Users jNref / jNfm.
jsetup() {	# jsetup USER: fresh mailbox contents
	local u=$1
	DC mailbox create -u "$u" Other >/dev/null 2>&1
	DC expunge -u "$u" mailbox INBOX all 2>/dev/null
	DC expunge -u "$u" mailbox Other all 2>/dev/null
	inject "$u" INBOX s1 s2 c2 big c6 && inject "$u" Other s3 && seen "$u" INBOX s2
}
jrun() {	# jrun N BIN WHO "RC OPTIONS" [ARG...]: two polls, recorded
	local n=$1 bin=$2 who=$3 opts=$4 u d p
	shift 4
	u=j$n$who d=$W/J/$who/$n
	mkdir -p "$d"
	jsetup "$u" || return 1
	write_rc "J/$who/$n" "${JPOLL:-127.0.0.1}" "$u" "$opts"
	for p in 1 2; do
		fm_bin "$bin" "$d/home" "$d" "$@"
		sed "s/$u/USER/g" "$d/out" >"$d/out.$p"
		sed "s/$u/USER/g" "$d/err" >"$d/err.$p"
		echo "$RC" >"$d/rc.$p"
		{ state "$u" INBOX; echo; state "$u" Other; } >"$d/state.$p"
	done
	for p in "$d"/got/*; do
		[ -f "$p" ] && LC_ALL=C sed -i "s/\\(single-drop); \\).*/\\1DATE/; s/$u/USER/g" "$p"
	done
	rm -rf "${d:?}/home" "$d/rc" "$d/out" "$d/err"
}
JOPTS=("" "keep" "keep|-a" "flush" "limit $LIM" "limit $LIM limitflush" "fetchlimit 2"
    "folder INBOX,Other" "|-c" "keep folder Other,Missing" "expunge 1" "keep flush"
    "tracepolls folder INBOX,Other")
if [ $have_ref = 0 ]; then
	for x in 1 2 3 4 5 6; do skip "J: differential: reference $REF not installed"; done
else
	jdesc=
	[ "$(readlink -f "$FM")" = "$(readlink -f "$REF")" ] && jdesc=" (FETCHMAIL is the reference: self-check)"
	n=0
	for o in "${JOPTS[@]}"; do
		n=$((n + 1))
		opt=${o%%|*} arg= srv=
		case $o in *"|"*) arg=${o#*|} ;; esac
		# a server option goes on the poll line
		case $opt in tracepolls*) srv=tracepolls opt=${opt#tracepolls } ;; esac
		# shellcheck disable=SC2086
		SERVOPT=$srv jrun $n "$REF" ref "$opt" $arg
		# shellcheck disable=SC2086
		SERVOPT=$srv jrun $n "$FM" fm "$opt" $arg
	done
	n=$((n + 1))
	PASS=wrong jrun $n "$REF" ref ""
	PASS=wrong jrun $n "$FM" fm ""
	n=$((n + 1))
	JPOLL=localhost TLS=1 jrun $n "$REF" ref "sslcertfile $PEERS_CA keep"
	JPOLL=localhost TLS=1 jrun $n "$FM" fm "sslcertfile $PEERS_CA keep"
	jdiff() {	# jdiff GLOB: files equal in both runs
		local d
		d=$(cd "$W/J/ref" && for f in $1; do
			[ -e "$f" ] || continue
			if [ ! -e "$W/J/fm/$f" ]; then echo "only with the reference: $f"
			elif ! cmp -s "$f" "$W/J/fm/$f"; then
				echo "--- $f (< reference, > FETCHMAIL)"
				diff "$f" "$W/J/fm/$f" | head -8 | cut -c1-120
			fi
		done; cd "$W/J/fm" && for f in $1; do
			[ -e "$f" ] && [ ! -e "$W/J/ref/$f" ] && echo "only with FETCHMAIL: $f"
		done)
		[ -z "$d" ] && return 0
		WHY=$d
		return 1
	}
	check "J: differential$jdesc: exit statuses of $((n * 2)) polls" jdiff '*/rc.*'
	check "J: differential$jdesc: stdout identical" jdiff '*/out.*'
	check "J: differential$jdesc: stderr identical" jdiff '*/err.*'
	check "J: differential$jdesc: delivered messages identical (dates masked)" jdiff '*/got/*'
	check "J: differential$jdesc: server state (messages and flags) identical" jdiff '*/state.*'
	check "J: differential$jdesc: $n scenarios ran for both" eval '
	    [ "$(ls "$W/J/ref" | wc -l)" = $n ] && [ "$(ls "$W/J/fm" | wc -l)" = $n ]'
fi

# ---------------------------------------------------------------- L idle
L=$W/L
write_rc L 127.0.0.1 idl "idle"
inject idl INBOX s1 || bail "inject failed"
mkdir -p "$L/home"
# IDLE lines in the transcript (our tags are A + 4 digits, as the reference's)
idles() { grep -c '^fetchmail: IMAP> A[0-9]* IDLE$' "$L/out" 2>/dev/null; }
ngot() { find "$L/got" -type f | wc -l; }
PEERS_FETCHMAIL_TIMEOUT=120 peers_fetchmail "$FM" "$L/home" "$L/rc" -N -d 60 -v \
    >"$L/out" 2>"$L/err" &
lpid=$!
lwait() { peers_wait_until "$@"; }
check "L: idle: the first poll delivers and then enters IDLE" eval '
    lwait 20 eval "[ \$(ngot) -ge 1 ] && [ \$(idles) -ge 1 ]" ||
    { WHY="delivered $(ngot), IDLE lines $(idles); out: $(tail -5 "$L/out")"; false; }'
t_inj=$(peers_now_ms)
inject idl INBOX s2 || bail "inject failed"
check "L: idle: a message arriving during IDLE is delivered within 15 s" eval '
    lwait 15 eval "[ \$(ngot) -ge 2 ]" &&
    echo "# idle delivery after $(( $(peers_now_ms) - t_inj )) ms" && want_got L s1 s2 ||
    { WHY="$WHY delivered $(ngot); out: $(tail -8 "$L/out")"; false; }'
check "L: idle: DONE sent, the server keeps nothing, IDLE entered again" eval '
    lwait 15 eval "[ \$(idles) -ge 2 ]" &&
    grep -q "^fetchmail: IMAP> DONE$" "$L/out" && want_state idl INBOX "" ||
    { WHY="$WHY IDLE lines $(idles); out: $(tail -8 "$L/out")"; false; }'
lfm=$(cat "$L/home/fetchmail.pid" 2>/dev/null | head -1)
[ -n "$lfm" ] && kill -TERM "$lfm" 2>/dev/null
check "L: idle: SIGTERM in IDLE ends it at once" eval '
    lwait 10 eval "! kill -0 $lpid 2>/dev/null" ||
    { WHY="still running"; kill -KILL $lpid 2>/dev/null; false; }'
wait $lpid 2>/dev/null
check "L: idle: pid file removed, termination reported, no error" eval '
    [ ! -e "$L/home/fetchmail.pid" ] &&
    grep -q "terminated with signal 15" "$L/out" "$L/err" &&
    ! grep -v "WARNING: Running as root" "$L/err" | grep -qv "terminated with signal" ||
    { WHY="pid file: $(ls "$L/home"); err: $(head -5 "$L/err"); out: $(tail -3 "$L/out")"; false; }'

t_end=$(peers_now_ms)
echo "# fetchmail under test: $FM; servers up $((t_up - t_start)) ms, scenarios $((t_end - t_up)) ms"
[ $k = $PLAN ] || echo "# plan mismatch: $k test points run"
[ $failed = 0 ] && [ $k = $PLAN ]
