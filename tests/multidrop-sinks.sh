#!/usr/bin/env bash
# Multidrop delivery through LMTP and through an MDA (TAP), differential
# against the reference fetchmail 6.4.37: tests/multidrop.sh covers the
# recipient search through an SMTP sink; here the same kind of query
# delivers into a private Dovecot's LMTP (one reply per recipient,
# unknown users refused at RCPT TO) or runs an MDA with %T and %F.
#
# The messages are tests/multidrop-sinks/msgs (each has "X-Sinks: NN"):
# To/Cc naming several local users, a Received "for" envelope, a
# Delivered-To header, a name mapped to a user Dovecot does not know
# ('dave'='ghost': LMTP answers 550 to ghost@localhost), foreign and
# repeated addresses.  Each row runs the reference and $FETCHMAIL in turn
# on identical fresh source mailboxes (one Dovecot user per row and
# binary, same messages injected) and compares what each left behind:
#   - which LMTP mailbox (alice, bob, carol, pm the postmaster) got
#     which messages, the copies byte for byte from fetchmail's Received:
#     field on (dates blanked), that field itself (the "for <...>" form)
#     and the X-Fetchmail-Warning: of each copy;
#   - which messages stayed on the server; the exit status;
#   - for the MDA rows: every MDA run's argument vector and the message
#     it read.  6.4.37 runs the MDA once per message, %T being ONE
#     argument with every accepted local name ('alice bob', repeats
#     kept, unknown names such as ghost included), the postmaster's name
#     when nothing matched; ours must do the same.
# Rows: 1 LMTP from POP3; 2 MDA "rec %T -f %F" and 5 "rec -f %F -- %T"
# from POP3; 3 `*` with localdomains through LMTP; 4 LMTP from IMAP.
# Bounces for refused recipients go to localhost:25 in both (nothing
# listens there: the attempt fails, on loopback).
#
# Where ours differs from 6.4.37 on purpose (doc/COMPATIBILITY.md, "LMTP
# postmaster fallback after a refused recipient"), our documented
# behaviour is asserted and the reference's only noted.
# MDS_DUMP=1 prints both runs' results of every row as TAP comments.
#
# Environment: FETCHMAIL (ours), REF_FETCHMAIL (default /usr/bin/fetchmail).
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
FM=${FETCHMAIL:-${top_builddir:-$top}/fetchmail}
REF=${REF_FETCHMAIL:-/usr/bin/fetchmail}
here=$top/tests/multidrop-sinks

# shellcheck source=tests/peers/lib.sh disable=SC1091
. "$top/tests/peers/lib.sh"
if ! peers_have dovecot fetchmail; then
	echo "1..0 # SKIP $PEERS_WHY"
	exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP fetchmail under test ($FM) not executable"
	exit 0
fi

echo "1..23"
# shellcheck source=tests/tap.sh disable=SC1091
. "$top/tests/tap.sh"

# ---------------------------------------------------------------- helpers
sinks=(alice bob carol pm)	# LMTP recipients Dovecot knows; pm: postmaster
msgs=("$here"/msgs/*.eml)

# rec_mda DIR: the recording MDA: each run writes DIR/NNN.args (its
# arguments, one a line, as "[ARG]") and DIR/NNN.msg (its stdin)
rec_mda() {
	mkdir -p "$1"
	cat >"$1/rec" <<-'EOF'
	#!/bin/sh
	d=$(dirname "$0")
	n=$(ls "$d" | grep -c '\.args$')
	n=$(printf %03d $((n + 1)))
	cat >"$d/$n.msg"
	for a in "$@"; do printf '[%s]\n' "$a"; done >"$d/$n.tmp"
	mv "$d/$n.tmp" "$d/$n.args"
	EOF
	chmod 755 "$1/rec"
}

# an RFC 5322 date at the end of a line (fetchmail's Received: ends
# with one, after "; " or on a line of its own)
date_re='s/[A-Z][a-z]{2}, [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [-+][0-9]{4}( \([A-Z]+\))?$/DATE/'

# fm_field FILE: fetchmail's Received: field in FILE (unfolded, its date
# replaced by DATE)
fm_field() {
	tr -d '\r' <"$1" | awk '
	    /^$/ { exit }
	    /^[ \t]/ { if (f != "") { sub(/^[ \t]+/, " "); f = f $0 }; next }
	    { if (index(f, "(fetchmail-")) { print f; found = 1; exit }; f = $0 }
	    END { if (!found && index(f, "(fetchmail-")) print f }' |
	    sed -E "$date_re"
}

# from_fm FILE: FILE (CRs removed) from fetchmail's Received: field on,
# i.e. without what the receiver (Dovecot's LMTP) put in front
from_fm() {
	tr -d '\r' <"$1" | awk '
	    p { print; next }
	    /^[ \t]/ { f = f "\n" $0; next }
	    { if (index(f, "(fetchmail-")) { print f; print; p = 1; next }
	      f = $0 }
	    END { if (!p) print "!!! no fetchmail Received field" }'
}

# describe FILE: "NN<TAB>warning<TAB>Received<TAB>digest" for one
# delivered copy; the digest is of the message from fetchmail's Received:
# on, its date blanked, X-Fetchmail-Warning: left out (it has its own
# column)
describe() {
	printf '%s\t%s\t%s\t%s\n' "$(peers_header "$1" X-Sinks)" \
	    "$(peers_header "$1" X-Fetchmail-Warning)" "$(fm_field "$1")" \
	    "$(from_fm "$1" | grep -v '^X-Fetchmail-Warning:' |
	    sed -E "$date_re" | md5sum | cut -c1-12)"
}

# ids_in USER: the X-Sinks of USER's INBOX, sorted
ids_in() {
	local f
	for f in $(dovecot_files "$1"); do peers_header "$f" X-Sinks; done | sort
}

# run_row ROW WHO BIN PROTO RCTEXT: one poll of BIN with -v -v into
# $PEERS_TMP/ROW-WHO/ (out: transcript, exit, deliv: one line per
# delivered copy "USER<TAB>describe", left: what stayed on the server).
# RCTEXT is the rcfile with @PORT@, @USER@, @LMTP@, @DIR@ to replace.
run_row() {
	local row=$1 who=$2 bin=$3 proto=$4 rctext=$5 dir u u2 f port
	dir=$PEERS_TMP/$row-$who
	u=src$row$who
	mkdir -p "$dir"
	: >"$dir/deliv"; : >"$dir/left"; : >"$dir/mdaruns"
	echo "not run: injection failed" >"$dir/exit"
	for f in "${sinks[@]}"; do dovecot_expunge_all "$f"; done
	dovecot_inject "$u" "${msgs[@]}" || return 1
	port=$DOVECOT_POP3_PORT
	[ "$proto" = imap ] && port=$DOVECOT_IMAP_PORT
	printf '%s\n' "$rctext" | sed -e "s|@PORT@|$port|g" -e "s|@USER@|$u|g" \
	    -e "s|@LMTP@|$DOVECOT_LMTP_PORT|g" -e "s|@DIR@|$dir|g" \
	    -e "s|@PROTO@|$proto|g" >"$dir/rc"
	PEERS_FETCHMAIL_ENV="TZ=UTC" peers_fetchmail "$bin" "$dir/home" \
	    "$dir/rc" -v -v >"$dir/out" 2>&1
	echo $? >"$dir/exit"
	mkdir -p "$dir/copies"
	for u2 in "${sinks[@]}"; do
		for f in $(dovecot_files "$u2"); do
			cp "$f" "$dir/copies/$u2-$(peers_header "$f" X-Sinks)"
			printf '%s\t%s' "$u2" "$(describe "$f")"
			echo
		done
	done | sort >"$dir/deliv"
	ids_in "$u" >"$dir/left"
	if [ -d "$dir/mda" ]; then
		: >"$dir/mdaruns"
		for f in "$dir"/mda/*.args; do
			[ -f "$f" ] || continue
			printf '%s %s\t%s\n' "$(basename "$f" .args)" \
			    "$(tr '\n' ' ' <"$f")" "$(describe "${f%.args}.msg")"
		done >>"$dir/mdaruns"
	fi
	return 0
}

# dump ROW: both runs' results as TAP comments (for the log)
dump() {
	local who
	for who in ref ours; do
		echo "# ---- row $1, $who: exit $(cat "$PEERS_TMP/$1-$who/exit")"
		sed 's/^/# deliv /' "$PEERS_TMP/$1-$who/deliv"
		sed 's/^/# left  /' "$PEERS_TMP/$1-$who/left"
		[ -s "$PEERS_TMP/$1-$who/mdaruns" ] &&
		    sed 's/^/# mda   /' "$PEERS_TMP/$1-$who/mdaruns"
	done
	return 0
}

# same ROW FILE: FILE of both runs equal (WHY: the diff)
same() {
	WHY=$(diff "$PEERS_TMP/$1-ref/$2" "$PEERS_TMP/$1-ours/$2") && return 0
	WHY="--- reference +++ ours
$WHY"
	return 1
}

# every user made before the start (a passwd-file changed within the same
# second may not be re-read)
for u in "${sinks[@]}" src{1,2,3,4,5}{ref,ours}; do
	dovecot_add_user "$u" secret
done
if ! dovecot_start; then
	notok "dovecot started" "$(peers_dump_logs)"
	for ((i = 1; i < 26; i++)); do notok "not run: dovecot did not start"; done
	exit 1
fi

lmtp_rc='set postmaster "pm"
poll 127.0.0.1 protocol @PROTO@ port @PORT@ no dns
  aka mx.example.org
  user @USER@ password secret sslproto "" is alice bob carol '"'dave'='ghost'"' here
  lmtp smtphost 127.0.0.1/@LMTP@ smtpaddress localhost'

mda_rc='set postmaster "pm"
poll 127.0.0.1 protocol pop3 port @PORT@ no dns
  aka mx.example.org
  user @USER@ password secret sslproto "" is alice bob carol '"'dave'='ghost'"' here
  mda "@DIR@/mda/rec %T -f %F"'

mda2_rc='set postmaster "pm"
poll 127.0.0.1 protocol pop3 port @PORT@ no dns
  aka mx.example.org
  user @USER@ password secret sslproto "" is alice bob carol '"'dave'='ghost'"' here
  mda "@DIR@/mda/rec -f %F -- %T"'

wild_rc='set postmaster "pm"
poll 127.0.0.1 protocol pop3 port @PORT@ no dns
  localdomains example.org
  user @USER@ password secret sslproto "" is alice bob carol '"'dave'='ghost'"' * here
  lmtp smtphost 127.0.0.1/@LMTP@ smtpaddress localhost'

# both ROW PROTO RCTEXT: run the reference, then ours
both() {
	local who bin
	for who in ref ours; do
		bin=$FM; [ $who = ref ] && bin=$REF
		case $3 in *@DIR@/mda/*) rec_mda "$PEERS_TMP/$1-$who/mda" ;; esac
		run_row "$1" $who "$bin" "$2" "$3"
	done
	[ "${MDS_DUMP:-0}" = 1 ] && dump "$1"
	return 0
}
# ------------------------------------------------------------ predicates
# deliv_same ROW: the same mailboxes got the same messages, byte for byte
# but for the warning (digest), with the same Received: field
deliv_same() {
	local r=$PEERS_TMP/$1-ref/deliv o=$PEERS_TMP/$1-ours/deliv
	if [ "$(grep -c . "$r")" -lt 8 ]; then
		WHY="the reference delivered only $(grep -c . "$r") copies: $(cat "$r")"
		return 1
	fi
	if cut -f4 "$r" "$o" | grep -qvF '(fetchmail-'; then
		WHY="a copy without fetchmail's Received: field"
		return 1
	fi
	WHY=$(diff <(cut -f1,2,4,5 "$r") <(cut -f1,2,4,5 "$o")) && return 0
	WHY="--- reference +++ ours
$WHY"
	return 1
}

# warn_same ROW: the X-Fetchmail-Warning of every copy equal (6.4.37
# never lists the local recipients the listener refused there: its code
# for it is dead, and ours leaves them out too)
warn_same() {
	WHY=$(diff <(cut -f1-3 "$PEERS_TMP/$1-ref/deliv") \
	    <(cut -f1-3 "$PEERS_TMP/$1-ours/deliv")) && return 0
	WHY="--- reference +++ ours
$WHY"
	return 1
}

# left_same ROW [NN]: the same messages stayed on the server; NN (the
# postmaster-fallback message) is left out of the reference's list
left_same() {
	WHY=$(diff <(grep -vx "${2:-none}" "$PEERS_TMP/$1-ref/left") \
	    "$PEERS_TMP/$1-ours/left") && return 0
	WHY="--- reference +++ ours
$WHY"
	return 1
}

# fallback_done ROW NN: ours delivered NN to the postmaster exactly once
# and deleted it from the server
fallback_done() {
	local dir=$PEERS_TMP/$1-ours
	WHY="ours: $(grep -c "^pm	$2	" "$dir/deliv") copies for pm; left: $(cat "$dir/left"); reference left: $(cat "$PEERS_TMP/$1-ref/left")"
	[ "$(grep -c "^pm	$2	" "$dir/deliv")" = 1 ] && ! grep -qx "$2" "$dir/left"
}

# exit_same ROW
exit_same() {
	WHY="reference $(cat "$PEERS_TMP/$1-ref/exit"), ours $(cat "$PEERS_TMP/$1-ours/exit")"
	[ "$(cat "$PEERS_TMP/$1-ref/exit")" = "$(cat "$PEERS_TMP/$1-ours/exit")" ]
}

# mda_per_message ROW: one MDA run per message, in both
mda_per_message() {
	local n=${#msgs[@]} a b
	a=$(grep -c . "$PEERS_TMP/$1-ref/mdaruns")
	b=$(grep -c . "$PEERS_TMP/$1-ours/mdaruns")
	WHY="$n messages; MDA runs: reference $a, ours $b"
	[ "$a" = "$n" ] && [ "$b" = "$n" ] || return 1
	WHY="an MDA run read no message from fetchmail"
	! cut -f4 "$PEERS_TMP/$1-ref/mdaruns" "$PEERS_TMP/$1-ours/mdaruns" |
	    grep -qvF '(fetchmail-'
}

# lmtp_row ROW PROTO RC DESC: run and check an LMTP row (5 tests)
lmtp_row() {
	both "$1" "$2" "$3"
	check "$4: same mailboxes got the same messages, same Received: field" \
	    deliv_same "$1"
	check "$4: X-Fetchmail-Warning exactly as the reference's" \
	    warn_same "$1"
	# doc/COMPATIBILITY.md "LMTP postmaster fallback after a refused
	# recipient": 6.4.37 delivers 03 to pm, then reports "Unexpected
	# non-503 response to LMTP EOM" and keeps it (delivered again at
	# every poll); ours counts it as delivered.
	check "$4: same messages left on the server (03 aside: documented)" \
	    left_same "$1" 03
	check "$4: postmaster fallback after a refused recipient delivered once and deleted (documented difference)" \
	    fallback_done "$1" 03
	check "$4: exit status as the reference's" exit_same "$1"
}

# mda_row ROW RC DESC: run and check an MDA row (4 tests)
mda_row() {
	both "$1" pop3 "$2"
	check "$3: one MDA run per message" mda_per_message "$1"
	check "$3: the same argument vectors (%T, %F) and messages as the reference's" \
	    same "$1" mdaruns
	check "$3: same messages left on the server" left_same "$1"
	check "$3: exit status as the reference's" exit_same "$1"
}

# ------------------------------------------------------------------ rows
# 1: LMTP from POP3, names mapped ('dave'='ghost' refused by Dovecot)
lmtp_row 1 pop3 "$lmtp_rc" "LMTP from POP3"
# 2: MDA "rec %T -f %F": the reference runs it once per message with all
# local names in ONE argument ('alice bob'), the postmaster's name when
# none matched, and unknown names (ghost) included: an MDA cannot refuse
mda_row 2 "$mda_rc" "MDA %T -f %F"
# 2b: the same, %F before %T
mda_row 5 "$mda2_rc" "MDA -f %F -- %T"
# 3: `*` with localdomains through LMTP (zed, dave refused by Dovecot)
lmtp_row 3 pop3 "$wild_rc" "LMTP, * and localdomains"
# 4: LMTP from IMAP
lmtp_row 4 imap "$lmtp_rc" "LMTP from IMAP"

# shellcheck disable=SC2154 # set by tests/tap.sh
[ "$failed" -eq 0 ]
