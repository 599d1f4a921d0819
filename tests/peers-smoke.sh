#!/usr/bin/env bash
# Smoke test of the real-peer harness (tests/peers/lib.sh), TAP producer.
# Starts a private Dovecot (POP3, IMAP, LMTP, TLS with a test CA) and a
# private Postfix, injects 3 generated messages (small, medium, large with
# dot-stuffing bait) and fetches them with the REFERENCE fetchmail 6.4.37
# ($REF_FETCHMAIL, default /usr/bin/fetchmail) four ways:
#   POP3 plain          -> SMTP (Postfix) into bob
#   POP3 implicit TLS   -> SMTP (Postfix) into carol
#   IMAP with STARTTLS  -> LMTP (Dovecot) into dave
#   IMAP implicit TLS   -> LMTP (Dovecot) into erin
# Each: exit status 0, 3 messages delivered, bodies byte-identical to what
# was injected, source mailbox empty.  Finally checks that every daemon
# process is gone and the temporary directory removed.
# Skips when Dovecot, Postfix or the reference fetchmail is missing (see
# tests/peers/deps.sh) or when not root (a private Postfix needs root).
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/peers/lib.sh"
ref=${REF_FETCHMAIL:-/usr/bin/fetchmail}

if ! peers_have dovecot postfix fetchmail openssl; then
	echo "1..0 # SKIP $PEERS_WHY"
	exit 0
fi
peers_init || { echo "Bail out! cannot make a temporary directory"; exit 1; }
mkdir -p "$PEERS_TMP/vhome"
ver=$(env -i PATH=/usr/bin:/bin LC_ALL=C HOME="$PEERS_TMP/vhome" "$ref" --version </dev/null 2>/dev/null | head -1)
case $ver in
"This is fetchmail release 6.4.37"*) ;;
*) echo "1..0 # SKIP reference fetchmail 6.4.37 not installed"; exit 0 ;;
esac

t_start=$(peers_now_ms)
echo "1..23"
. "$top/tests/tap.sh"
# Bail out leaves through the EXIT trap, which stops everything.
bail() {
	echo "Bail out! $*"
	peers_dump_logs 30
	exit 1
}

# ---------------------------------------------------------------- servers
dovecot_add_user alice secret
dovecot_add_user dave davepw
dovecot_add_user erin erinpw
if dovecot_start; then
	ok "dovecot started (pop3 $DOVECOT_POP3_PORT pop3s $DOVECOT_POP3S_PORT imap $DOVECOT_IMAP_PORT imaps $DOVECOT_IMAPS_PORT lmtp $DOVECOT_LMTP_PORT)"
else
	notok "dovecot started"; bail "dovecot did not start"
fi
if postfix_start; then
	ok "postfix started, postfix check clean (smtp $POSTFIX_SMTP_PORT)"
else
	notok "postfix started"; bail "postfix did not start"
fi
t_up=$(peers_now_ms)

# ---------------------------------------------------------------- messages
M=$PEERS_TMP/msgs
mkdir -p "$M"
hdr() {	# hdr ID SUBJECT
	printf 'From: Alice Sender <alice@example.org>\nTo: alice@example.org\n'
	printf 'Subject: %s\nDate: Mon, 01 Jan 2024 12:00:0%s +0000\n' "$2" "$1"
	printf 'Message-ID: <peers-smoke-%s@example.org>\nX-Peers-Id: %s\n\n' "$1" "$1"
}
{ hdr 1 "small"; printf 'Hello Bob,\n\na short message.\n'; } >"$M/1"
{ hdr 2 "medium"
  awk 'BEGIN { for (i = 1; i <= 400; i++)
	printf "line %04d the quick brown fox jumps over the lazy dog %d\n", i, i * 7 }'
} >"$M/2"
{ hdr 3 "large, with dots"
  printf '.\n..\n...\n.leading dot\n..two leading dots\n. space after dot\n'
  printf 'From the start of a line\n\n.\n'
  awk 'BEGIN { s = ""; for (i = 0; i < 998; i++) s = s sprintf("%c", 65 + i % 26); print s
	for (i = 1; i <= 4000; i++) {
		if (i % 50 == 0) print "."
		else if (i % 37 == 0) printf ".dotted line %d\n", i
		else printf "payload %05d abcdefghijklmnopqrstuvwxyz0123456789 ABCDEFGHIJ\n", i }
	print "last line before the end"; print "." }'
} >"$M/3"

# bodies_match DIR_LISTING_CMD...: every delivered message's body equals
# the injected one with the same X-Peers-Id, and ids 1 2 3 all occur.
bodies_match() {
	local f id seen="" why=""
	while read -r f; do
		[ -n "$f" ] || continue
		id=$(peers_header "$f" X-Peers-Id)
		case $id in 1|2|3) ;; *) why="$why; $f has no X-Peers-Id"; continue ;; esac
		seen="$seen$id"
		if ! cmp -s <(peers_body "$f") <(peers_body "$M/$id"); then
			why="$why; body $id differs: $(diff <(peers_body "$M/$id") <(peers_body "$f") | head -5 | tr '\n' '|')"
		fi
	done < <("$@")
	seen=$(echo "$seen" | fold -w1 | sort | tr -d '\n')
	[ "$seen" = 123 ] || why="$why; ids seen: '$seen'"
	BODIES_WHY=${why#; }
	[ -z "$why" ]
}

# run_case NAME SINK(smtp|lmtp) TARGET RCFILE-BODY: inject, fetch, check.
# 5 test points.
run_case() {
	local name=$1 sink=$2 target=$3 body=$4 dir=$PEERS_TMP/case-$1 rc n
	mkdir -p "$dir"
	if dovecot_inject alice "$M/1" "$M/2" "$M/3" && [ "$(dovecot_count alice)" = 3 ]; then
		ok "$name: 3 messages injected into alice"
	else
		notok "$name: 3 messages injected into alice" "count: $(dovecot_count alice)"
	fi
	printf '%s\n' "$body" >"$dir/rc"
	peers_fetchmail "$ref" "$dir/home" "$dir/rc" -v >"$dir/log" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		ok "$name: fetchmail exit status 0"
	else
		notok "$name: fetchmail exit status 0" "got $rc; rcfile:" "$(cat "$dir/rc")" \
		    "log tail:" "$(tail -25 "$dir/log")"
	fi
	if [ "$sink" = smtp ]; then
		if postfix_wait_delivered "$target" 3 20 &&
		    [ "$(postfix_maildir_count "$target")" = 3 ]; then
			ok "$name: 3 messages delivered by postfix to $target"
		else
			notok "$name: 3 messages delivered by postfix to $target" \
			    "have $(postfix_maildir_count "$target")" "$(tail -15 "$POSTFIX_LOG")"
		fi
		if bodies_match postfix_maildir_files "$target"; then
			ok "$name: bodies identical to the injected ones"
		else
			notok "$name: bodies identical to the injected ones" "$BODIES_WHY"
		fi
	else
		n=$(dovecot_count "$target")
		if [ "$n" = 3 ]; then
			ok "$name: 3 messages delivered by dovecot lmtp to $target"
		else
			notok "$name: 3 messages delivered by dovecot lmtp to $target" "have $n" \
			    "$(grep lmtp "$DOVECOT_LOG" | tail -10)"
		fi
		if bodies_match dovecot_files "$target"; then
			ok "$name: bodies identical to the injected ones"
		else
			notok "$name: bodies identical to the injected ones" "$BODIES_WHY"
		fi
	fi
	n=$(dovecot_count alice)
	if [ "$n" = 0 ]; then
		ok "$name: alice's mailbox empty afterwards"
	else
		notok "$name: alice's mailbox empty afterwards" "still $n"
		# Leave the next case a clean start.
		doveadm -c "$DOVECOT_CONF" expunge -u alice mailbox INBOX all 2>/dev/null
	fi
}

tls="sslcertfile $PEERS_CA sslcertck sslcommonname localhost"

run_case pop3-smtp smtp bob "poll 127.0.0.1 protocol pop3 service $DOVECOT_POP3_PORT
  user alice password secret is bob here
  sslproto ''
  smtphost 127.0.0.1/$POSTFIX_SMTP_PORT"

run_case pop3s-smtp smtp carol "poll localhost via 127.0.0.1 protocol pop3 service $DOVECOT_POP3S_PORT
  user alice password secret is carol here
  ssl $tls
  smtphost 127.0.0.1/$POSTFIX_SMTP_PORT"

run_case imap-starttls-lmtp lmtp dave "poll localhost via 127.0.0.1 protocol imap service $DOVECOT_IMAP_PORT
  user alice password secret is dave here
  sslproto tls1.2+ $tls
  lmtp smtphost 127.0.0.1/$DOVECOT_LMTP_PORT"

run_case imaps-lmtp lmtp erin "poll localhost via 127.0.0.1 protocol imap service $DOVECOT_IMAPS_PORT
  user alice password secret is erin here
  ssl $tls
  lmtp smtphost 127.0.0.1/$DOVECOT_LMTP_PORT"

# ---------------------------------------------------------------- cleanup
# Every process of both instances (the masters and their children), then
# stop everything and check none is left and the directory is gone.
descendants() {
	local p
	for p in "$@"; do
		echo "$p"
		# shellcheck disable=SC2046
		descendants $(peers_children "$p")
	done
}
procs=$(descendants $DOVECOT_PID $POSTFIX_PID | sort -un)
tmp=$PEERS_TMP
t_stop=$(peers_now_ms)
peers_cleanup
left=""
for p in $procs; do
	peers_alive "$p" && left="$left $p($(cat /proc/$p/comm 2>/dev/null))"
done
if [ -z "$left" ] && [ ! -e "$tmp" ]; then
	ok "cleanup: $(echo $procs | wc -w) daemon processes gone, $tmp removed"
else
	notok "cleanup: daemon processes gone, temporary directory removed" \
	    "left:$left" "$(ls -d "$tmp" 2>/dev/null)"
fi
t_end=$(peers_now_ms)
echo "# timings: servers up $((t_up - t_start)) ms, four fetches $((t_stop - t_up)) ms, stop+cleanup $((t_end - t_stop)) ms, total $((t_end - t_start)) ms"
[ $failed = 0 ]
