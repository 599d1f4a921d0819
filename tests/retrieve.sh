#!/usr/bin/env bash
# Integration test of POP3 retrieval against real peers (TAP producer).
#
# Starts a private Dovecot (POP3 source, LMTP sink) and a private Postfix
# (SMTP sink) once (tests/peers/lib.sh), then runs $FETCHMAIL (default: the
# reference /usr/bin/fetchmail 6.4.37) in scenarios, each with its own
# mailbox, its own recipient and a fresh HOME:
#   A  POP3 -> Postfix SMTP, content set (dots, CRLF, 8-bit, empty body,
#      an existing Received line, 5 MB), no keep; then a poll finding no mail
#   B  keep: kept, re-poll fetches nothing, fetchall fetches all again,
#      a new message alone is fetched; .fetchids contents
#   C  flush removes the old (seen) messages
#   D  limit: oversized skipped and left; limitflush deletes it
#   E  fetchlimit: exit 13, the rest left on the server
#   F  POP3 -> Dovecot LMTP into another Dovecot user
#   G  POP3 -> MDA script with %F/%T, byte-for-byte
#   H  POP3 -> procmail into a Maildir (skipped without procmail)
#   I  bsmtp file, byte-for-byte
#   J  differential: $FETCHMAIL and the reference on identical mailboxes
#      and rcfiles (when $FETCHMAIL is the reference: a self-check showing
#      that the comparison itself is deterministic)
# Delivered messages are compared byte for byte with the injected ones
# after removing exactly what the receiver adds (Postfix virtual(8):
# Return-Path, X-Original-To, Delivered-To, its Received field; Dovecot
# LMTP: Return-Path, Delivered-To, its Received field) and with fetchmail's
# own Received field expected at its documented place (before the first
# existing Received line, else at the top), only its date masked.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/peers/lib.sh"
REF=${REF_FETCHMAIL:-/usr/bin/fetchmail}
FM=${FETCHMAIL:-$REF}
export PEERS_FETCHMAIL_TIMEOUT=${PEERS_FETCHMAIL_TIMEOUT:-20}

if ! peers_have dovecot postfix; then
	echo "1..0 # SKIP $PEERS_WHY"
	exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP fetchmail under test ($FM) not executable"
	exit 0
fi
have_ref=0
[ -x "$REF" ] && have_ref=1
have_procmail=0
peers_have procmail && have_procmail=1

t_start=$(peers_now_ms)
echo "1..63"
. "$top/tests/tap.sh"
bail() {
	echo "Bail out! $*"
	peers_dump_logs 30
	exit 1
}

# ---------------------------------------------------------------- servers
USERS="a b c d e f g h i dx"
for u in $USERS; do dovecot_add_user "$u" pw; done
dovecot_add_user lt pw			# the LMTP recipient
POSTFIX_USERS="postmaster ra rb rc rd re rdx"
dovecot_start || bail "dovecot did not start"
postfix_start || bail "postfix did not start"
W=$PEERS_TMP/w
M=$W/msgs
mkdir -p "$M"
chmod 755 "$W"
t_up=$(peers_now_ms)

# This host's name as fetchmail 6.4.37 puts it in "by HOST": gethostname(),
# canonicalised when it has no dot.
FQDN=$(hostname)
case $FQDN in
*.*) ;;
*) c=$(getent ahosts "$FQDN" 2>/dev/null | awk 'NR == 1 && NF >= 3 { print $3 }')
   [ -n "$c" ] && FQDN=$c ;;
esac

# ---------------------------------------------------------------- messages
# Every message carries X-Test-Id: NAME, NAME being its file name in $M.
hdrs() {	# hdrs ID SUBJECT SENDER-NUMBER
	printf 'From: Sender %s <sender%s@example.net>\nTo: Rcpt <alice@example.org>\n' "$3" "$3"
	printf 'Subject: %s\nDate: Mon, 01 Jan 2024 12:00:%02d +0000\n' "$2" "$3"
	printf 'Message-ID: <retrieve-%s@example.org>\nX-Test-Id: %s\n' "$1" "$1"
}
# The content set c1..c7.
{ hdrs c1 "plain" 1; printf '\nHello,\n\na plain message.\n'; } >"$M/c1"
{ hdrs c2 "dots" 2
  printf '\n.\n..\n...\n.leading dot\n..two dots\n. space\nmiddle . dot\n.\r\n\n.\n'
  awk 'BEGIN { for (i = 1; i <= 300; i++)
	if (i % 10 == 0) print "."; else if (i % 7 == 0) printf ".dot %d\n", i; else printf "line %d\n", i }'
  printf '.\n'; } >"$M/c2"
{ hdrs c3 "crlf" 3; printf '\nline one\nline two\n\nline four\n'; } | sed 's/$/\r/' >"$M/c3"
{ hdrs c4 "8bit" 4
  printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n'
  printf 'Gr\374\337e, caf\351, \344\366\374 \200\201\377 high bytes\n'
  printf 'UTF-8: \303\244\303\266 \342\202\254\n'; } >"$M/c4"
{ hdrs c5 "empty body" 5; printf '\n'; } >"$M/c5"
{ printf 'X-First: before received\n'; hdrs c6 "existing received" 6
  printf 'Received: from mx.example.net by mail.example.org with ESMTP id abc1\n'
  printf '\tfor <alice@example.org>; Mon, 1 Jan 2024 00:00:00 +0000\n'
  printf 'X-After: after received\n\nbody six\n'; } >"$M/c6"
{ hdrs c7 "large" 7; printf '\n'
  awk 'BEGIN { for (i = 1; i <= 70000; i++) { if (i % 1000 == 0) print "."
	else printf "%06d the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLM\n", i } }'
} >"$M/c7"
CSET="c1 c2 c3 c4 c5 c6 c7"
CSET6="c1 c2 c3 c4 c5 c6"
# Small messages s1..s9; PAD bytes of x make them bigger.
mk_small() {	# mk_small ID PAD SENDER-NUMBER
	{ hdrs "$1" "small $1" "$3"; printf '\nbody of %s\n' "$1"
	  head -c "$2" /dev/zero | tr '\0' x | fold -w 70; echo; } >"$M/$1"
}
mk_small s1 300 1; mk_small s2 600 2; mk_small s3 100 3; mk_small s4 900 4
mk_small s5 200 5; mk_small big 1300 9

# pop3_size FILE: the size a POP3 server reports (every line end CRLF).
pop3_size() {
	LC_ALL=C awk '{ n += length($0) + 1; if (substr($0, length($0)) != "\r") n++ } END { print n + 0 }' "$1"
}
# total_size ID...: the sum of their POP3 sizes.
total_size() {
	local id n=0
	for id in "$@"; do n=$((n + $(pop3_size "$M/$id"))); done
	echo "$n"
}
# inject USER ID...: put the messages into USER's INBOX.
inject() {
	local u=$1 id; shift
	for id in "$@"; do dovecot_inject "$u" "$M/$id" || return 1; done
}
# received ADDR: fetchmail's Received field (date masked) for single-drop
# delivery to ADDR from the poll "127.0.0.1".
received() {
	printf 'Received: from 127.0.0.1 [127.0.0.1]\n\tby %s with POP3 (fetchmail-6.4.37)\n\tfor <%s> (single-drop); DATE\n' "$FQDN" "$1"
}

# ---------------------------------------------------------------- running
# Each scenario has a directory $W/NAME with its rcfile rc, its HOME home/
# and the last run's stdout (out), stderr (err) and exit status ($RC).
# write_rc NAME USER LOCAL [LINE...]: the rcfile of scenario NAME.
write_rc() {
	local n=$1 u=$2 l=$3; shift 3
	mkdir -p "$W/$n"
	{
		printf 'poll 127.0.0.1 protocol pop3 service %s\n' "$DOVECOT_POP3_PORT"
		printf "  user %s password pw is %s here sslproto ''\n" "$u" "$l"
		[ $# -gt 0 ] && printf '  %s\n' "$@"
	} >"$W/$n/rc"
}
# fm NAME [ARG...]: run the fetchmail under test for scenario NAME.
RC=
fm() {
	local n=$1; shift
	fm_bin "$FM" "$W/$n/home" "$W/$n" "$@"
}
# fm_bin BIN HOME DIR [ARG...]: run BIN with DIR/rc, output in DIR/out,err.
# The whole script gets $BUDGET_S seconds: a hanging fetchmail ends it.
BUDGET_S=${RETRIEVE_BUDGET_S:-110}
fm_bin() {
	local bin=$1 home=$2 d=$3; shift 3
	[ $(( $(peers_now_ms) - t_start )) -lt $((BUDGET_S * 1000)) ] ||
	    bail "time budget of $BUDGET_S s used up (fetchmail hanging?)"
	peers_fetchmail "$bin" "$home" "$d/rc" "$@" >"$d/out" 2>"$d/err"
	RC=$?
	OUT=$d/out ERR=$d/err
}
# want_rc N: the last run exited with N.
want_rc() {
	[ "$RC" = "$1" ] && return 0
	WHY="exit status $RC, expected $1
stdout: $(head -20 "$OUT")
stderr: $(head -20 "$ERR")"
	return 1
}
# want_out LINE...: the last run's stdout is exactly these lines.
want_out() {
	local exp=$W/expected.out
	printf '%s\n' "$@" >"$exp"
	cmp -s "$exp" "$OUT" && return 0
	WHY="stdout differs (- expected, + actual):
$(diff -u "$exp" "$OUT" | tail -n +3 | head -40)
stderr: $(head -10 "$ERR")"
	return 1
}
summary() {	# summary USER N BYTES [SEEN]
	local s=s
	[ "$2" = 1 ] && s=
	if [ -n "${4:-}" ]; then
		echo "$2 message$s ($4 seen) for $1 at 127.0.0.1 ($3 octets)."
	else
		echo "$2 message$s for $1 at 127.0.0.1 ($3 octets)."
	fi
}
reading() {	# reading USER I N ID flushed|"not flushed"
	echo "reading message $1@127.0.0.1:$2 of $3 ($(pop3_size "$M/$4") octets) $5"
}

# server_has USER ID...: USER's INBOX holds exactly these messages, in order.
server_has() {
	local u=$1 have; shift
	have=$(dovecot_header_list "$u" X-Test-Id | tr '\n' ' ')
	[ "$have" = "$([ $# = 0 ] || printf '%s ' "$@")" ] && return 0
	WHY="$WHY${WHY:+
}mailbox $u holds [${have% }], expected [$*]"
	return 1
}
# delivered_ids R: X-Test-Ids of Postfix recipient R's messages (sorted).
delivered_ids() {
	local f
	for f in $(postfix_maildir_files "$1"); do peers_header "$f" X-Test-Id; done | sort
}
# pf_settle R N: wait until the Postfix queue is empty (what fetchmail
# handed over was queued before the 250 reply, so then it has been
# delivered); true when R then holds exactly N messages.
pf_settle() {
	local n
	postfix_wait_queue_empty 30
	n=$(postfix_maildir_count "$1")
	[ "$n" = "$2" ] && return 0
	WHY="$WHY${WHY:+
}recipient $1 has $n messages, expected $2 (queue: $(postqueue -c "$POSTFIX_CONF" -p 2>&1 | tail -3 | tr '\n' ' '))"
	return 1
}
# delivered_are R ID...: R's messages are exactly these (as a multiset).
delivered_are() {
	local r=$1 have want
	shift
	have=$(delivered_ids "$r" | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
	[ "$have" = "$want" ] && return 0
	WHY="$WHY${WHY:+
}$r has [${have% }], expected [${want% }]"
	return 1
}
# same_as_injected PREFIX ADDR FILE...: every FILE, stripped of the PREFIX
# fields the receiver added, equals the injected message of its X-Test-Id
# with fetchmail's Received field for ADDR inserted.  Dates go to $DATES.
DATES=$W/dates
same_as_injected() {
	local pre=$1 addr=$2 f id bad=0
	shift 2
	: >"$DATES"
	[ $# -gt 0 ] || { WHY="no delivered message to compare"; return 1; }
	received "$addr" >"$W/recv.exp"
	for f in "$@"; do
		id=$(peers_header "$f" X-Test-Id)
		if [ -z "$id" ] || [ ! -f "$M/$id" ]; then
			WHY="$WHY${WHY:+
}$f: no known X-Test-Id"; bad=1; continue
		fi
		peers_msg_strip "$pre" "$f" "$DATES" >"$W/got.msg"
		peers_msg_expect "$M/$id" "$(cat "$W/recv.exp")" >"$W/exp.msg"
		if ! cmp -s "$W/exp.msg" "$W/got.msg"; then
			bad=1
			WHY="$WHY${WHY:+
}$id differs (- expected, + delivered, after removing \"$pre\"):
$(diff -u "$W/exp.msg" "$W/got.msg" | tail -n +3 | head -15 | cut -c1-120)"
		fi
	done
	[ "$bad" = 0 ]
}
# dates_ok N: $DATES holds N RFC 822 dates in fetchmail's format, each
# within a day of now.
dates_ok() {
	local d n=0 now t bad=0
	now=$(date +%s)
	while IFS= read -r d; do
		n=$((n + 1))
		if ! [[ $d =~ ^(Mon|Tue|Wed|Thu|Fri|Sat|Sun),\ [0-9]{2}\ (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\ [0-9]{4}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\ [+-][0-9]{4}\ \([A-Za-z0-9+-]+\)$ ]]; then
			WHY="$WHY${WHY:+
}bad date format: '$d'"; bad=1; continue
		fi
		t=$(date -d "${d% (*}" +%s 2>/dev/null) || t=0
		if [ $((t - now)) -gt 86400 ] || [ $((now - t)) -gt 86400 ]; then
			WHY="$WHY${WHY:+
}date not near now: '$d'"; bad=1
		fi
	done <"$DATES"
	[ "$n" = "$1" ] || { WHY="$WHY${WHY:+
}$n dates, expected $1"; bad=1; }
	[ "$bad" = 0 ]
}

# ================================================================ A: SMTP
write_rc A a ra "smtphost 127.0.0.1/$POSTFIX_SMTP_PORT"
inject a $CSET
check "A: 7 messages injected into a" eval '[ "$(dovecot_count a)" = 7 ] || { WHY="count $(dovecot_count a)"; false; }'
fm A
check "A: POP3->SMTP no keep: exit status 0" want_rc 0
i=0 exp=()
for id in $CSET; do i=$((i + 1)); exp+=("$(reading a $i 7 "$id" flushed)"); done
check "A: progress lines on stdout" want_out "$(summary a 7 "$(total_size $CSET)")" "${exp[@]}"
check "A: 7 messages delivered by Postfix to ra" eval 'pf_settle ra 7 && delivered_are ra $CSET'
# shellcheck disable=SC2046
check "A: delivered messages identical to the injected ones (dots, CRLF, 8-bit, empty body, existing Received, 5 MB)" \
    same_as_injected "Return-Path X-Original-To Delivered-To Received" ra@127.0.0.1 $(postfix_maildir_files ra)
check "A: Received dates in fetchmail's format" dates_ok 7
# The raw Received field, checked by regular expressions on the file as
# delivered (independently of the stripping above).
received_raw_ok() {
	local f l1 l2 l3 bad=0 fq=${FQDN//./\\.} tab=$'\t'
	[ $# = 7 ] || { WHY="$# delivered messages, expected 7"; return 1; }
	for f in "$@"; do
		# the three lines after Postfix's own Received field (3 lines)
		# and its 3 other fields: lines 7-9 of a message without
		# an earlier Received (all but c6)
		[ "$(peers_header "$f" X-Test-Id)" = c6 ] && continue
		l1=$(sed -n 7p "$f") l2=$(sed -n 8p "$f") l3=$(sed -n 9p "$f")
		[[ $l1 =~ ^Received:\ from\ 127\.0\.0\.1\ \[127\.0\.0\.1\]$ ]] &&
		    [[ $l2 =~ ^${tab}by\ $fq\ with\ POP3\ \(fetchmail-6\.4\.37\)$ ]] &&
		    [[ $l3 =~ ^${tab}for\ \<ra@127\.0\.0\.1\>\ \(single-drop\)\;\ [A-Z][a-z]{2},\ [0-9]{2}\ [A-Z][a-z]{2}\ [0-9]{4}\ [0-9:]{8}\ [+-][0-9]{4}\ \(.*\)$ ]] ||
		    { bad=1; WHY="$WHY${WHY:+
}$f: '$l1' / '$l2' / '$l3'"; }
	done
	[ $bad = 0 ]
}
# shellcheck disable=SC2046
check "A: Received: from 127.0.0.1 [127.0.0.1] / by $FQDN with POP3 (fetchmail-6.4.37) / for <ra@127.0.0.1> (single-drop); DATE" \
    received_raw_ok $(postfix_maildir_files ra)
check "A: mailbox a empty afterwards" server_has a
fm A
check "A: second poll: exit status 1 (no mail)" want_rc 1
check "A: second poll: stdout is 'fetchmail: No mail for a at 127.0.0.1'" \
    want_out "fetchmail: No mail for a at 127.0.0.1"
check "A: second poll delivered nothing" pf_settle ra 7

# ================================================================ B: keep
write_rc B b rb "keep smtphost 127.0.0.1/$POSTFIX_SMTP_PORT"
inject b s1 s2 s3
fm B
check "B: keep: exit status 0" want_rc 0
check "B: keep: progress lines say 'not flushed'" want_out "$(summary b 3 "$(total_size s1 s2 s3)")" \
    "$(reading b 1 3 s1 'not flushed')" "$(reading b 2 3 s2 'not flushed')" "$(reading b 3 3 s3 'not flushed')"
# shellcheck disable=SC2046
check "B: keep: 3 delivered, identical" eval 'pf_settle rb 3 && delivered_are rb s1 s2 s3 &&
    same_as_injected "Return-Path X-Original-To Delivered-To Received" rb@127.0.0.1 $(postfix_maildir_files rb)'
check "B: keep: all 3 still on the server" server_has b s1 s2 s3
fetchids_ok() {	# fetchids_ok HOME USER: .fetchids = USER@127.0.0.1 UIDL lines
	local want
	want=$(dovecot_pop3_uidls "$2" | sed "s/^/$2@127.0.0.1 /")
	[ "$(cat "$1/.fetchids" 2>/dev/null)" = "$want" ] && return 0
	WHY=".fetchids: $(cat "$1/.fetchids" 2>&1 | tr '\n' '|'), expected: $(echo "$want" | tr '\n' '|')"
	return 1
}
check "B: keep: .fetchids lists 'b@127.0.0.1 UIDL' for the 3 messages" fetchids_ok "$W/B/home" b
fm B
check "B: re-poll with keep: exit status 1" want_rc 1
check "B: re-poll: '3 messages (3 seen) for b at 127.0.0.1 (N octets).' only" \
    want_out "$(summary b 3 "$(total_size s1 s2 s3)" 3)"
check "B: re-poll: nothing delivered, 3 still on the server" eval 'pf_settle rb 3 && server_has b s1 s2 s3'
write_rc B b rb "keep fetchall smtphost 127.0.0.1/$POSTFIX_SMTP_PORT"
fm B
check "B: keep fetchall: exit status 0" want_rc 0
check "B: keep fetchall: all 3 read again, not flushed" want_out "$(summary b 3 "$(total_size s1 s2 s3)")" \
    "$(reading b 1 3 s1 'not flushed')" "$(reading b 2 3 s2 'not flushed')" "$(reading b 3 3 s3 'not flushed')"
check "B: keep fetchall: 3 more delivered, 3 still on the server" \
    eval 'pf_settle rb 6 && delivered_are rb s1 s1 s2 s2 s3 s3 && server_has b s1 s2 s3'
write_rc B b rb "keep smtphost 127.0.0.1/$POSTFIX_SMTP_PORT"
inject b s4
fm B
check "B: keep, one new message: exit status 0" want_rc 0
check "B: keep, one new message: only message 4 read" \
    want_out "$(summary b 4 "$(total_size s1 s2 s3 s4)" 3)" "$(reading b 4 4 s4 'not flushed')"
check "B: keep, one new message: it alone delivered, 4 on the server, 4 in .fetchids" \
    eval 'pf_settle rb 7 && delivered_are rb s1 s1 s2 s2 s3 s3 s4 && server_has b s1 s2 s3 s4 &&
    fetchids_ok "$W/B/home" b'

# ================================================================ C: flush
write_rc C c rc "keep smtphost 127.0.0.1/$POSTFIX_SMTP_PORT"
inject c s1 s2
fm C
check "C: keep poll before flush: exit 0, 2 delivered" eval 'want_rc 0 && pf_settle rc 2'
inject c s3
write_rc C c rc "flush smtphost 127.0.0.1/$POSTFIX_SMTP_PORT"
fm C
check "C: flush: exit status 0" want_rc 0
check "C: flush: old messages 'skipping message c@127.0.0.1:N flushed', the new one read" \
    want_out "$(summary c 3 "$(total_size s1 s2 s3)" 2)" "skipping message c@127.0.0.1:1 flushed" \
    "skipping message c@127.0.0.1:2 flushed" "$(reading c 3 3 s3 flushed)"
check "C: flush: only the new message delivered, mailbox empty, no UIDs of c left" \
    eval 'pf_settle rc 3 && delivered_are rc s1 s2 s3 && server_has c &&
    ! grep -q "^c@" "$W/C/home/.fetchids" 2>/dev/null'

# ================================================================ D: limit
LIM=1000
write_rc D d rd "limit $LIM smtphost 127.0.0.1/$POSTFIX_SMTP_PORT"
inject d s1 big s2
[ "$(pop3_size "$M/s1")" -lt $LIM ] && [ "$(pop3_size "$M/s2")" -lt $LIM ] &&
    [ "$(pop3_size "$M/big")" -gt $LIM ] || bail "test messages have the wrong sizes"
fm D
check "D: limit $LIM: exit status 0" want_rc 0
check "D: limit: 'skipping message d@127.0.0.1:2 (S octets) (oversized) not flushed'" \
    want_out "$(summary d 3 "$(total_size s1 big s2)")" "$(reading d 1 3 s1 flushed)" \
    "skipping message d@127.0.0.1:2 ($(pop3_size "$M/big") octets) (oversized) not flushed" \
    "$(reading d 3 3 s2 flushed)"
check "D: limit: the small ones delivered, the big one left on the server" \
    eval 'pf_settle rd 2 && delivered_are rd s1 s2 && server_has d big'
fm D
check "D: limit, re-poll: exit status 1" want_rc 1
check "D: limit, re-poll: skipped again, not flushed" want_out "$(summary d 1 "$(total_size big)")" \
    "skipping message d@127.0.0.1:1 ($(pop3_size "$M/big") octets) (oversized) not flushed"
write_rc D d rd "limit $LIM limitflush smtphost 127.0.0.1/$POSTFIX_SMTP_PORT"
fm D
check "D: limit + limitflush: exit status 1" want_rc 1
check "D: limit + limitflush: '(oversized) flushed'" want_out "$(summary d 1 "$(total_size big)")" \
    "skipping message d@127.0.0.1:1 ($(pop3_size "$M/big") octets) (oversized) flushed"
check "D: limitflush: oversized message deleted unread, nothing more delivered" \
    eval 'pf_settle rd 2 && server_has d'

# ================================================================ E: fetchlimit
write_rc E e re "fetchlimit 2 smtphost 127.0.0.1/$POSTFIX_SMTP_PORT"
inject e s1 s2 s3 s4 s5
fm E
check "E: fetchlimit 2: exit status 13" want_rc 13
check "E: fetchlimit 2: two read, 'fetchmail: fetchlimit 2 reached; 3 messages left on server 127.0.0.1 account e', 'fetchmail: Query status=13 (MAXFETCH)' on stdout" \
    want_out "$(summary e 5 "$(total_size s1 s2 s3 s4 s5)")" "$(reading e 1 5 s1 flushed)" \
    "$(reading e 2 5 s2 flushed)" \
    "fetchmail: fetchlimit 2 reached; 3 messages left on server 127.0.0.1 account e" \
    "fetchmail: Query status=13 (MAXFETCH)"
check "E: fetchlimit 2: first two delivered, three left" \
    eval 'pf_settle re 2 && delivered_are re s1 s2 && server_has e s3 s4 s5'

# ================================================================ F: LMTP
write_rc F f lt "lmtp smtphost 127.0.0.1/$DOVECOT_LMTP_PORT"
inject f $CSET
fm F
check "F: POP3->LMTP: exit status 0" want_rc 0
i=0 exp=()
for id in $CSET; do i=$((i + 1)); exp+=("$(reading f $i 7 "$id" flushed)"); done
check "F: LMTP: progress lines" want_out "$(summary f 7 "$(total_size $CSET)")" "${exp[@]}"
check "F: LMTP: 7 messages in Dovecot user lt" eval '[ "$(dovecot_count lt)" = 7 ] || { WHY="lt has $(dovecot_count lt)"; false; }'
# shellcheck disable=SC2046
check "F: LMTP: identical to the injected ones (Dovecot adds Return-Path, Delivered-To, Received)" \
    eval 'same_as_injected "Return-Path Delivered-To Received" lt@127.0.0.1 $(dovecot_files lt) && dates_ok 7'
check "F: LMTP: mailbox f empty afterwards" server_has f

# ================================================================ G: MDA
G=$W/G
mkdir -p "$G/mda"
cat >"$G/mda.sh" <<EOF
#!/bin/sh
# one file per message: msg.N (stdin), args.N (one argument a line)
d=$G/mda
n=\$(cat "\$d/count" 2>/dev/null || echo 0)
n=\$((n + 1))
echo \$n >"\$d/count"
cat >"\$d/msg.\$n"
printf '%s\n' "\$@" >"\$d/args.\$n"
EOF
chmod 755 "$G/mda.sh"
write_rc G g rg "mda \"$G/mda.sh %F %T\""
inject g $CSET
fm G
check "G: POP3->MDA: exit status 0" want_rc 0
i=0 exp=()
for id in $CSET; do i=$((i + 1)); exp+=("$(reading g $i 7 "$id" flushed)"); done
check "G: MDA: progress lines" want_out "$(summary g 7 "$(total_size $CSET)")" "${exp[@]}"
mda_ok() {	# mda_ok DIR ADDR LOCAL ID...: msg.N and args.N per message
	local d=$1 addr=$2 local=$3 i=0 id bad=0 n
	shift 3
	n=$(cat "$d/count" 2>/dev/null || echo 0)
	[ "$n" = $# ] || { WHY="$n MDA runs, expected $#"; return 1; }
	: >"$DATES"
	received "$addr" >"$W/recv.exp"
	for id in "$@"; do
		i=$((i + 1))
		# LF line ends, exactly: no CR may be left.
		peers_msg_expect "$M/$id" "$(cat "$W/recv.exp")" >"$W/exp.msg"
		LC_ALL=C sed 's/\(single-drop); \).*/\1DATE/' "$d/msg.$i" >"$W/got.msg"
		LC_ALL=C sed -n 's/.*(single-drop); //p' "$d/msg.$i" >>"$DATES"
		if ! cmp -s "$W/exp.msg" "$W/got.msg"; then
			bad=1; WHY="$WHY${WHY:+
}MDA message $i ($id) differs (- expected, + got):
$(diff -u "$W/exp.msg" "$W/got.msg" | tail -n +3 | head -10 | cut -c1-120)"
		fi
		if [ "$(cat "$d/args.$i")" != "sender${id#c}@example.net
$local" ]; then
			bad=1; WHY="$WHY${WHY:+
}MDA args of $i ($id): $(tr '\n' ' ' <"$d/args.$i")"
		fi
	done
	[ $bad = 0 ]
}
check "G: MDA got every message byte for byte (LF line ends, Received for <rg@localhost>)" \
    mda_ok "$G/mda" rg@localhost rg $CSET
check "G: MDA: %F = sender, %T = local name" eval '[ "$(cat "$G/mda/args.4")" = "sender4@example.net
rg" ] || { WHY=$(cat "$G/mda/args.4"); false; }'
check "G: MDA: Received dates" dates_ok 7
check "G: MDA: mailbox g empty afterwards" server_has g

# ================================================================ H: procmail
if [ $have_procmail = 1 ]; then
	H=$W/H
	mkdir -p "$H"
	printf 'DEFAULT=%s/md/\nLOGFILE=%s/log\n' "$H" "$H" >"$H/procmailrc"
	write_rc H h rh "mda \"procmail -f %F -m $H/procmailrc\""
	inject h $CSET6
	fm H
	check "H: POP3->procmail: exit status 0, mailbox h empty" eval 'want_rc 0 && server_has h'
	# shellcheck disable=SC2046
	check "H: procmail Maildir holds the 6 messages, identical" \
	    eval '[ "$(ls "$H/md/new" 2>/dev/null | wc -l)" = 6 ] ||
	    { WHY="$(ls "$H/md/new" 2>/dev/null | wc -l) files"; false; } &&
	    same_as_injected "" rh@localhost $(ls -d "$H"/md/new/*)'
else
	skip "H: procmail not installed"
	skip "H: procmail not installed"
fi

# ================================================================ I: bsmtp
write_rc I i bob "bsmtp $W/I/bsmtp.out"
inject i $CSET6
fm I
check "I: bsmtp: exit status 0" want_rc 0
i=0 exp=()
for id in $CSET6; do i=$((i + 1)); exp+=("$(reading i $i 6 "$id" flushed)"); done
check "I: bsmtp: progress lines" want_out "$(summary i 6 "$(total_size $CSET6)")" "${exp[@]}"
# The expected BSMTP file: per message MAIL FROM (BODY=8BITMIME for the
# one declaring 8bit), RCPT TO:<bob@localhost>, DATA, the message with
# fetchmail's Received, dot-stuffed, CRLF line ends, ".".
bsmtp_expect() {
	local id body
	for id in "$@"; do
		body=
		grep -q '^Content-Transfer-Encoding: 8bit' "$M/$id" && body=" BODY=8BITMIME"
		printf 'MAIL FROM:<sender%s@example.net>%s\r\n' "${id#c}" "$body"
		printf 'RCPT TO:<bob@localhost>\r\nDATA\r\n'
		peers_msg_expect "$M/$id" "$(received bob@localhost)" | LC_ALL=C sed 's/^\./../; s/$/\r/'
		printf '.\r\n'
	done
}
bsmtp_expect $CSET6 >"$W/I/bsmtp.exp"
bsmtp_ok() {
	LC_ALL=C sed 's/\((single-drop); \).*\r$/\1DATE\r/' "$W/I/bsmtp.out" >"$W/I/bsmtp.got" 2>/dev/null
	LC_ALL=C sed -n 's/.*(single-drop); \(.*\)\r$/\1/p' "$W/I/bsmtp.out" >"$DATES" 2>/dev/null
	cmp -s "$W/I/bsmtp.exp" "$W/I/bsmtp.got" && dates_ok 6 && return 0
	WHY="$WHY${WHY:+
}$(diff -u "$W/I/bsmtp.exp" "$W/I/bsmtp.got" 2>&1 | tail -n +3 | head -20 | cat -A | cut -c1-120)"
	return 1
}
check "I: bsmtp file byte for byte as expected (CRLF, dot-stuffed, Received date masked)" bsmtp_ok
check "I: bsmtp: mailbox i empty afterwards" server_has i

# ================================================================ J: differential
# The same sequence of polls, with the same rcfiles, for the reference and
# for $FETCHMAIL, each on a freshly filled mailbox dx and a fresh HOME;
# everything observable is recorded in $W/J/BIN-LABEL/ and compared.
diff_suite() {	# diff_suite BIN OUTDIR
	local bin=$1 o=$2 step=0 f n x
	mkdir -p "$o/mda"
	dovecot_expunge_all dx
	postfix_clear_maildir rdx
	inject dx $CSET
	cat >"$o/mda.sh" <<-EOF
	#!/bin/sh
	n=\$(cat "$o/mda/count" 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n >"$o/mda/count"
	cat >"$o/mda/msg.\$n"; printf '%s\n' "\$@" >"$o/mda/args.\$n"
	EOF
	chmod 755 "$o/mda.sh"
	djob() {	# djob EXTRA-LINE [ARG...]: one poll, recorded
		step=$((step + 1))
		write_rc J dx rdx "$1"
		shift
		cp "$W/J/rc" "$o/rc.$step"
		fm_bin "$bin" "$o/home" "$W/J" "$@"
		cp "$W/J/out" "$o/out.$step"; cp "$W/J/err" "$o/err.$step"
		echo "$step: $RC" >>"$o/status"
		postfix_wait_queue_empty 30
		dovecot_header_list dx X-Test-Id | tr '\n' ' ' >"$o/server.$step"
		sed 's/ [^ ]*$/ UIDL/' "$o/home/.fetchids" >"$o/fetchids.$step" 2>/dev/null
	}
	local sm="smtphost 127.0.0.1/$POSTFIX_SMTP_PORT"
	djob "keep $sm"
	djob "keep $sm"
	inject dx s1 big
	djob "flush limit $LIM $sm"
	inject dx s2 s3 s4
	djob "fetchlimit 2 mda \"$o/mda.sh %F %T\""
	djob "bsmtp $o/bsmtp.out"
	inject dx big s5
	djob "limitflush limit $LIM $sm"
	djob "$sm"
	inject dx s1 s2 s3 s4 s5
	djob "keep $sm" -c
	djob "expunge 2 $sm"
	djob "$sm" -c
	# deliveries: normalised, named by content (the same content
	# delivered twice gives .1 and .2)
	for f in $(postfix_maildir_files rdx); do
		peers_msg_strip "Return-Path X-Original-To Delivered-To Received" "$f" >"$o/smtp.tmp"
		x=smtp.$(cksum <"$o/smtp.tmp" | tr ' ' _) n=1
		while [ -e "$o/$x.$n" ]; do n=$((n + 1)); done
		mv "$o/smtp.tmp" "$o/$x.$n"
	done
	for f in "$o"/mda/msg.* "$o/bsmtp.out"; do
		[ -f "$f" ] && LC_ALL=C sed -i 's/\(single-drop); \).*/\1DATE/' "$f"
	done
	rm -f "$o/mda.sh"
	rm -rf "${o:?}/home"
}
J=$W/J
jdesc=
if [ $have_ref = 0 ]; then
	for x in 1 2 3 4 5 6; do skip "J: differential: reference $REF not installed"; done
else
	[ "$(readlink -f "$FM")" = "$(readlink -f "$REF")" ] && jdesc=" (FETCHMAIL is the reference: self-check)"
	diff_suite "$REF" "$J/ref"
	diff_suite "$FM" "$J/fm"
	# paths differ between the two runs: compare with them masked
	for x in ref fm; do
		for f in "$J/$x"/*.* "$J/$x"/status "$J/$x"/mda/*; do
			[ -f "$f" ] && LC_ALL=C sed -i "s|$J/$x|OUTDIR|g" "$f"
		done
	done
	jdiff() {	# jdiff GLOB...: the files equal in both runs
		local g d=
		for g in "$@"; do
			d="$d$(cd "$J/ref" && for f in $g; do
				[ -e "$f" ] || continue
				if [ ! -e "$J/fm/$f" ]; then
					echo "only with the reference: $f"
				elif ! cmp -s "$f" "$J/fm/$f"; then
					echo "--- $f (< reference, > FETCHMAIL)"
					diff "$f" "$J/fm/$f" | head -8 | cut -c1-120
				fi
			done)
$(cd "$J/fm" && for f in $g; do
				[ -e "$f" ] && [ ! -e "$J/ref/$f" ] && echo "only with FETCHMAIL: $f"
			done)
"
		done
		d=$(printf '%s\n' "$d" | sed '/^$/d')
		[ -z "$d" ] && return 0
		WHY="$d"
		return 1
	}
	check "J: differential$jdesc: exit statuses of 10 polls" jdiff status
	check "J: differential$jdesc: stdout of every poll identical" jdiff 'out.*'
	check "J: differential$jdesc: stderr of every poll identical" jdiff 'err.*'
	check "J: differential$jdesc: SMTP deliveries identical (minus Postfix's fields and dates)" jdiff 'smtp.*'
	check "J: differential$jdesc: MDA and BSMTP output identical (dates masked)" jdiff 'mda/*' bsmtp.out
	check "J: differential$jdesc: server contents and .fetchids after every poll identical" jdiff 'server.*' 'fetchids.*'
fi

t_end=$(peers_now_ms)
echo "# fetchmail under test: $FM; servers up $((t_up - t_start)) ms, scenarios $((t_end - t_up)) ms"
[ $k = 63 ] || echo "# plan mismatch: $k test points run"
[ $failed = 0 ]
