#!/usr/bin/env bash
# Multidrop through real servers end to end (TAP): every rcfile of
# tests/multidrop/rc fetches the whole corpus tests/multidrop/msgs (111
# messages) over POP3 from a private Dovecot and hands the copies to a
# private Postfix on a loopback port, which delivers every recipient it
# accepts, whatever its domain, to a local user (alice bob carol
# caroline pm robert joe dave x y list, +detail allowed) through LMTP
# into the same Dovecot, one mailbox each, and discards the rest.
# tests/multidrop.sh compares the RCPT TO lists against an accept-all
# sink; here Postfix's own verdicts (syntax refusals at RCPT TO,
# rewriting) and Dovecot's user lookup decide, so what is compared is
# where the mail really ends up:
#   - for each corpus message, the local mailboxes that got a copy (with
#     repeats), told apart by its X-Corpus: header;
#   - which messages stayed in the source mailbox; the exit status.
# The expected outcome of each variant is tests/multidrop/expected-postfix
# /VARIANT.txt, recorded from fetchmail 6.4.37 with MDP_RECORD=1.  When
# the reference is installed it runs too and must still give the
# recording (so the recording is checked against the real reference on
# every run); $FETCHMAIL must give the same.  Ours and the reference
# read identical copies of the source mailbox (one Dovecot user each).
# The dns-* variants resolve through tests/peers/dnsstub.py in a private
# mount namespace (root and unshare needed, else skipped).
#
# Environment: FETCHMAIL (ours), REF_FETCHMAIL (default /usr/bin/fetchmail),
# MDP_RECORD=1 (write the reference's outcomes as the new expectations),
# MDP_ONLY="VARIANT..." (run only these).
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
FM=${FETCHMAIL:-${top_builddir:-$top}/fetchmail}
REF=${REF_FETCHMAIL:-/usr/bin/fetchmail}
md=$top/tests/multidrop
want_dir=$md/expected-postfix
record=${MDP_RECORD:-0}
dests="alice bob carol caroline pm robert joe dave x y list"

# shellcheck source=tests/peers/lib.sh disable=SC1091
. "$top/tests/peers/lib.sh"
if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 not found"; exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP $FM not executable"; exit 0
fi
if [ "$(id -u)" != 0 ] || ! peers_have dovecot postfix; then
	echo "1..0 # SKIP needs root, Dovecot and Postfix (${PEERS_WHY:-not root})"
	exit 0
fi
if [ "$record" = 1 ] && [ ! -x "$REF" ]; then
	echo "1..0 # SKIP MDP_RECORD=1 needs the reference at $REF"; exit 0
fi

variants=()
for f in "$md"/rc/*.rc; do
	v=${f##*/}
	v=${v%.rc}
	case " ${MDP_ONLY:-$v} " in *" $v "*) variants+=("$v") ;; esac
done
echo "1..$((2 * ${#variants[@]} + 1))"
# shellcheck source=tests/tap.sh disable=SC1091
. "$top/tests/tap.sh"

# ------------------------------------------------------------------ setup
# Dovecot: the destination users, and two source users per variant (r:
# the reference's, o: ours) holding copies of one mailbox filled once.
setup() {
	local u i
	for u in $dests tmpl; do dovecot_add_user "$u" secret || return 1; done
	for ((i = 0; i < ${#variants[@]}; i++)); do
		dovecot_add_user "m${i}r" secret && dovecot_add_user "m${i}o" secret ||
		    return 1
	done
	dovecot_start || return 1
	dovecot_inject tmpl "$md"/msgs/*.eml || return 1
	for ((i = 0; i < ${#variants[@]}; i++)); do
		for u in "m${i}r" "m${i}o"; do
			rm -rf "$DOVECOT_MAIL/$u/Maildir" &&
			    cp -a "$DOVECOT_MAIL/tmpl/Maildir" "$DOVECOT_MAIL/$u/" ||
			    return 1
		done
	done
	# Postfix accepts any local part at localhost and relays any other
	# domain from loopback.  Recipients whose local part (before any
	# +detail) is one of $dests go to Dovecot's LMTP, whatever the
	# domain; the rest is discarded (not bounced: no bounce traffic, and
	# Dovecot's LMTP never sees Postfix-accepted oddities such as 8-bit
	# local parts, which it refuses with a syntax error).
	printf '/^(%s)(\\+[^@]*)?@/ lmtp:inet:127.0.0.1:%s\n/./ discard:\n' \
	    "$(echo $dests | tr ' ' '|')" "$DOVECOT_LMTP_PORT" \
	    >"$PEERS_TMP/transport"
	POSTFIX_USERS=""
	POSTFIX_EXTRA_MAIN="local_recipient_maps =
transport_maps = regexp:$PEERS_TMP/transport
soft_bounce = yes
queue_run_delay = 1h
minimal_backoff_time = 1h
maximal_backoff_time = 1h"
	postfix_start
}
if setup; then
	ok "Dovecot (source and LMTP) and Postfix (listener) are up, $((2 * ${#variants[@]})) source mailboxes of $(ls "$md"/msgs/*.eml | wc -l) messages"
else
	notok "servers up" "${PEERS_WHY:-}"
	for v in "${variants[@]}"; do
		notok "$v: the reference's outcome" "no servers"
		notok "$v: our outcome" "no servers"
	done
	exit 1
fi

# outcome SRCUSER STATUS: where the corpus went (see the header), in the
# form of the expected files
outcome() {
	python3 - "$DOVECOT_MAIL" "$1" "$2" $dests <<'EOF'
import os, re, sys
root, src, status, dests = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]

def corpus_ids(user):
    """X-Corpus of every message in user's Maildir (top header only)."""
    ids = []
    for sub in ("new", "cur"):
        d = os.path.join(root, user, "Maildir", sub)
        for fn in os.listdir(d) if os.path.isdir(d) else []:
            with open(os.path.join(d, fn), "rb") as f:
                head = f.read().replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
            m = re.search(rb"^X-Corpus: (\d+)", head, re.M)
            if m:
                ids.append(m.group(1).decode())
    return ids

got = {}
for u in dests:
    for i in corpus_ids(u):
        got.setdefault(i, []).append(u)
print("exit %s" % status)
for i in sorted(got):
    print(i, " ".join(sorted(got[i])))
print("kept", " ".join(sorted(corpus_ids(src))))
EOF
}

# clear_dests: empty every destination mailbox (files only: Dovecot's
# LMTP adds new files whatever its index says) and Postfix's deferred
# queue
clear_dests() {
	local u
	for u in $dests; do
		rm -f "$DOVECOT_MAIL/$u"/Maildir/new/* "$DOVECOT_MAIL/$u"/Maildir/cur/*
	done
	postsuper -c "$POSTFIX_CONF" -d ALL deferred 2>/dev/null
}

# settled: Postfix has tried every queued message once (only deferred
# ones are left)
settled() {
	[ -z "$(find "$POSTFIX_DIR/spool/incoming" "$POSTFIX_DIR/spool/active" \
	    "$POSTFIX_DIR/spool/maildrop" -type f 2>/dev/null | head -1)" ]
}

# run_one BIN SRCUSER RC DIR: one poll of SRCUSER's copy; the outcome in
# DIR/outcome once Postfix has delivered everything
run_one() {
	local bin=$1 src=$2 rc=$3 dir=$4 st
	mkdir -p "$dir"
	sed -e "s/@POP3@/$DOVECOT_POP3_PORT/g" -e "s/@SMTP@/$POSTFIX_SMTP_PORT/g" \
	    -e "s/user alice password secret/user $src password secret/" \
	    "$rc" >"$dir/rc"
	clear_dests
	peers_fetchmail "$bin" "$dir/home" "$dir/rc" -v >"$dir/out" 2>&1
	st=$?
	if ! peers_wait_until 60 settled; then
		echo "Postfix still busy after 60 s" >"$dir/outcome"
		postqueue -c "$POSTFIX_CONF" -p >>"$dir/outcome" 2>&1
		return 1
	fi
	outcome "$src" "$st" >"$dir/outcome"
}

# compare WANT GOT DESC DIR: ok when the outcome is the expected one
compare() {
	if diff "$1" "$2" >"$4/diff" 2>&1; then
		ok "$3"
	else
		notok "$3" "$(head -20 "$4/diff")" "$(tail -3 "$4/out")"
	fi
}

[ "$record" = 1 ] && mkdir -p "$want_dir"
for ((i = 0; i < ${#variants[@]}; i++)); do
	v=${variants[$i]}
	rc=$md/rc/$v.rc
	want=$want_dir/$v.txt
	PEERS_FETCHMAIL_WRAP=()
	if grep -q '^# needs dns-stub' "$rc"; then
		if ! peers_dns_stub "$md/dns.zone" pop.test.example; then
			skip "$v: the reference's outcome" "$PEERS_WHY"
			skip "$v: our outcome" "$PEERS_WHY"
			continue
		fi
		PEERS_FETCHMAIL_WRAP=("${PEERS_DNSWRAP[@]}")
	fi
	d=$PEERS_TMP/$v
	if [ -x "$REF" ]; then
		run_one "$REF" "m${i}r" "$rc" "$d/ref"
		[ "$record" = 1 ] && cp "$d/ref/outcome" "$want"
		compare "$want" "$d/ref/outcome" \
		    "$v: the reference through Postfix/LMTP gives the recorded outcome" "$d/ref"
	else
		skip "$v: the reference's outcome" "no reference at $REF"
	fi
	run_one "$FM" "m${i}o" "$rc" "$d/ours"
	compare "$want" "$d/ours/outcome" \
	    "$v: ours through Postfix/LMTP: same mailboxes, same messages kept, same exit" "$d/ours"
done
[ "$failed" -eq 0 ]
