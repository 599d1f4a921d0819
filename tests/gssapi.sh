#!/usr/bin/env bash
# GSSAPI / Kerberos 5 authentication (RFC 4752) against a real MIT KDC and
# a real Dovecot with dovecot-gssapi (TAP producer).
#
# Starts, on 127.0.0.1 and free ports, everything under one temp dir:
# a private MIT KDC (tests/peers/krb5.sh: realm FETCHMAIL.TEST, principals
# alice, imap/localhost, pop/localhost, imap/wrong.example,
# pop/wrong.example) and a private Dovecot (tests/peers/lib.sh) with
# auth_mechanisms = gssapi plain, auth_gssapi_hostname = localhost and a
# keytab readable by its auth process.  The client (alice, kinit with the
# password on stdin) runs $FETCHMAIL (default: the reference
# /usr/bin/fetchmail 6.4.37) with `auth gssapi`, a recording MDA, a
# private HOME/FETCHMAILHOME, and only KRB5_CONFIG/KRB5CCNAME from the
# test realm in its environment.
#   A  IMAP: delivered byte for byte (but fetchmail's Received field),
#      expunged, exit 0; Dovecot logs method=GSSAPI; the KDC issued a
#      ticket for imap/localhost (the poll name, not the address)
#   B  POP3: the same with pop/localhost
#   C  `principal' is ignored for GSSAPI (fetchmail(1): Kerberos IV only)
#   D  `auth any' with a password: GSSAPI is preferred when offered
#   E  `via 127.0.0.1': the service host is the via name (imap/127.0.0.1,
#      unknown to the KDC): authentication failure (3), mail stays
#   F  `user bob' with alice's ticket: the user name is sent as the
#      authorization identity; Dovecot refuses it: 3, bob's mail stays
#   G  no ticket (kdestroy): 3, a message naming the missing credentials,
#      nothing delivered or removed, nothing sent to the KDC
#   H  an expired ticket: 3, mail stays
#   I  Dovecot's keytab lacks the service principal: 3, mail stays
#   J  Dovecot's keytab has a stale key (kvno): 3, mail stays; after the
#      keytab is renewed the same poll succeeds
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/peers/lib.sh"
. "$top/tests/peers/krb5.sh"
REF=${REF_FETCHMAIL:-/usr/bin/fetchmail}
FM=${FETCHMAIL:-$REF}
export PEERS_FETCHMAIL_TIMEOUT=${PEERS_FETCHMAIL_TIMEOUT:-30}

if ! peers_have dovecot; then
	echo "1..0 # SKIP $PEERS_WHY"
	exit 0
fi
if ! krb5_have; then
	echo "1..0 # SKIP $PEERS_WHY"
	exit 0
fi
GSSMOD=
for f in /usr/lib/dovecot/modules/auth/libmech_gssapi.so \
    /usr/lib/*/dovecot/modules/auth/libmech_gssapi.so \
    /usr/lib64/dovecot/auth/libmech_gssapi.so \
    /usr/lib/dovecot/auth/libmech_gssapi.so; do
	[ -e "$f" ] && { GSSMOD=$f; break; }
done
if [ -z "$GSSMOD" ]; then
	echo "1..0 # SKIP dovecot's GSSAPI module (dovecot-gssapi) not installed"
	exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP fetchmail under test ($FM) not executable"
	exit 0
fi

PLAN=42
echo "1..$PLAN"
. "$top/tests/tap.sh"
bail() {
	echo "Bail out! $*"
	peers_dump_logs 30
	krb5_dump_logs 20
	exit 1
}

# ---------------------------------------------------------------- servers
if [ "$(id -u)" = 0 ]; then
	AUTHUSER=dovecot	# Dovecot's auth process (mech_gssapi) user
else
	AUTHUSER=$(id -un)
fi
krb5_start || bail "the KDC did not start"
W=$PEERS_TMP/w
M=$W/msgs
{ mkdir -p "$M" && chmod 755 "$W"; } || bail "mkdir $W"
KPASS=alice-krb-$$
krb5_add_user alice "$KPASS" || bail "addprinc alice"
krb5_add_service imap/localhost pop/localhost imap/wrong.example \
    pop/wrong.example || bail "addprinc services"
GOODKT=$KRB5_DIR/dovecot.keytab
WRONGKT=$KRB5_DIR/wrong.keytab
krb5_ktadd "$GOODKT" "$AUTHUSER" imap/localhost pop/localhost ||
    bail "ktadd"
krb5_ktadd "$WRONGKT" "$AUTHUSER" imap/wrong.example pop/wrong.example ||
    bail "ktadd wrong"
# The acceptor's replay cache: private, writable by the auth process.
mkdir -p "$KRB5_DIR/rcache"
[ "$(id -u)" = 0 ] && chown "$AUTHUSER" "$KRB5_DIR/rcache"
chmod 700 "$KRB5_DIR/rcache"

DOVECOT_MECHS="gssapi plain"
dc_conf() {	# dc_conf KEYTAB: the GSSAPI settings for Dovecot
	DOVECOT_EXTRA_CONF="auth_gssapi_hostname = localhost
auth_krb5_keytab = $1
import_environment = TZ KRB5_CONFIG=$KRB5_CONFIG KRB5RCACHEDIR=$KRB5_DIR/rcache
# no auth penalty (2-15 s delays after a failure from the same address)
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}"
}
dc_conf "$GOODKT"
for u in alice bob; do dovecot_add_user "$u" "dovecot-pw-$u"; done
dovecot_start || bail "dovecot did not start"
DC() { doveadm -c "$DOVECOT_CONF" "$@"; }
krb5_kinit alice "$KPASS" || bail "kinit alice"

# ---------------------------------------------------------------- messages
hdrs() {	# hdrs ID SUBJECT
	printf 'From: Sender <sender@example.net>\nTo: Alice <alice@example.org>\n'
	printf 'Subject: %s\nDate: Mon, 01 Jan 2024 12:00:00 +0000\n' "$2"
	printf 'Message-ID: <gss-%s@example.org>\nX-Test-Id: %s\n' "$1" "$1"
}
{ hdrs m1 "plain"; printf '\nHello,\n\na plain message.\n'; } >"$M/m1"
{ hdrs m2 "dots"; printf '\n.\n..\n.leading dot\n. space\n'; } >"$M/m2"
{ hdrs m3 "crlf 8bit"; printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\n'
  printf 'Content-Transfer-Encoding: 8bit\n\nGr\374\337e\nline two\n'; } |
    sed 's/$/\r/' >"$M/m3"
for i in 4 5 6 7 8 9; do { hdrs "m$i" "small $i"; printf '\nbody %s\n' "$i"; } >"$M/m$i"; done

inject() {	# inject USER ID...
	local u=$1 id; shift
	for id in "$@"; do
		DC save -u "$u" -m INBOX <"$M/$id" || return 1
	done
}
reset_alice() {	# alice's INBOX holds m3 m4 and nothing else
	dovecot_expunge_all alice
	inject alice m3 m4 || bail "inject failed"
}
count_is() {	# count_is USER N
	local n
	n=$(dovecot_count "$1")
	[ "$n" = "$2" ] && return 0
	WHY="$WHY${WHY:+
}$1's INBOX holds $n messages, expected $2"
	return 1
}

# ---------------------------------------------------------------- running
cat >"$W/mda.sh" <<'EOF'
#!/bin/sh
# recording MDA: one file a message, numbered in delivery order
d=$1
n=$(ls "$d" | wc -l); n=$((n + 1))
cat >"$d/$(printf %04d $n)"
EOF
chmod 755 "$W/mda.sh"
# write_rc NAME PROTO POLL USER [LINE...]: a scenario's rcfile (plain text
# connection: GSSAPI needs no TLS; sslproto '' keeps STARTTLS off)
write_rc() {
	local n=$1 proto=$2 poll=$3 u=$4 port; shift 4
	case $proto in
	imap) port=$DOVECOT_IMAP_PORT ;;
	pop3) port=$DOVECOT_POP3_PORT ;;
	esac
	mkdir -p "$W/$n/got"
	{
		printf 'poll %s protocol %s port %s auth %s %s\n' "$poll" \
		    "$proto" "$port" "${AUTH:-gssapi}" "${SERVOPT:-}"
		printf '  user %s' "$u"
		[ -n "${PASS:-}" ] && printf ' password %s' "$PASS"
		printf " sslproto ''"
		printf ' mda "%s %s"\n' "$W/mda.sh" "$W/$n/got"
		[ $# -gt 0 ] && printf '  %s\n' "$@"
	} >"$W/$n/rc"
}
RC='' OUT='' ERR='' KDCMARK='' DCMARK='' t0=''
fm() {	# fm NAME [ARG...]: run $FM on NAME's rcfile
	local n=$1 d=$W/$1; shift
	KDCMARK=$(peers_log_lines "$KRB5_KDC_LOG")
	DCMARK=$(peers_log_lines "$DOVECOT_LOG")
	mkdir -p "$d/home"
	t0=$(peers_now_ms)
	PEERS_FETCHMAIL_ENV="$KRB5_CLIENT_ENV FETCHMAILHOME=$d/home" \
	    peers_fetchmail "$FM" "$d/home" "$d/rc" -v "$@" >"$d/out" 2>"$d/err"
	RC=$?
	[ -n "${GSS_TIMING:-}" ] && echo "# $n: $(( $(peers_now_ms) - t0 )) ms, exit $RC"
	grep -v 'WARNING: Running as root is discouraged' "$d/err" >"$d/err.f"
	mv "$d/err.f" "$d/err"
	OUT=$d/out ERR=$d/err
}
want_rc() {
	[ "$RC" = "$1" ] && return 0
	WHY="exit status $RC, expected $1
stdout: $(tail -15 "$OUT")
stderr: $(head -10 "$ERR")"
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
# strip_received FILE: FILE without the first header field that is
# fetchmail's Received (and its continuation lines), CRs removed
strip_received() {
	tr -d '\r' <"$1" | awk '
	    hdr == 0 && /^$/ { hdr = 1 }
	    hdr == 0 && skipping && /^[ \t]/ { next }
	    hdr == 0 { skipping = 0 }
	    hdr == 0 && !done && /^Received:/ { done = 1; skipping = 1; next }
	    { print }'
}
# same_as_injected NAME: every delivered file equals its injected message
# (CRs removed) once fetchmail's Received field is taken out, and that
# field names fetchmail
same_as_injected() {
	local n=$1 f id bad=0
	for f in "$W/$n"/got/*; do
		[ -f "$f" ] || { bad=1; WHY="nothing delivered"; continue; }
		id=$(peers_header "$f" X-Test-Id)
		if ! tr -d '\r' <"$f" | awk '/^$/ { exit } { print }' |
		    grep -q 'fetchmail-'; then
			bad=1
			WHY="$WHY${WHY:+
}$id: no fetchmail Received field"
		fi
		strip_received "$f" >"$W/got.msg"
		tr -d '\r' <"$M/$id" >"$W/exp.msg"
		if ! cmp -s "$W/exp.msg" "$W/got.msg"; then
			bad=1
			WHY="$WHY${WHY:+
}$id differs (- injected, + delivered):
$(diff -u "$W/exp.msg" "$W/got.msg" | tail -n +3 | head -12 | cut -c1-120)"
		fi
	done
	[ "$bad" = 0 ]
}
# kdc_since: the KDC log lines of this run; dc_since: Dovecot's
kdc_since() { peers_log_since "$KRB5_KDC_LOG" "$KDCMARK"; }
dc_since() { peers_log_since "$DOVECOT_LOG" "$DCMARK"; }
# want_kdc_ticket PRINC: the KDC issued a service ticket for PRINC
want_kdc_ticket() {
	kdc_since | grep 'TGS_REQ' | grep 'ISSUE' | grep -q " for $1@$KRB5_REALM" &&
	    return 0
	WHY="no service ticket for $1 issued; KDC log:
$(kdc_since | cut -c1-200 | tail -5)"
	return 1
}
# want_kdc_quiet: nothing reached the KDC during the run
want_kdc_quiet() {
	! kdc_since | grep -qE 'AS_REQ|TGS_REQ' && return 0
	WHY="the KDC was asked: $(kdc_since | tail -3)"
	return 1
}
# want_dc_login LOGIN USER: Dovecot's LOGIN process (imap-login,
# pop3-login) logged USER in with GSSAPI (its log process may lag)
_dc_login_seen() {
	dc_since | grep "$1: Info: Login: user=<$2>, method=GSSAPI" >/dev/null
}
want_dc_login() {
	peers_wait_until 3 _dc_login_seen "$1" "$2" && return 0
	WHY="no '$1 Login: user=<$2>, method=GSSAPI' in the Dovecot log:
$(dc_since | grep -v Debug | tail -5)"
	return 1
}
want_no_dc_login() {
	! dc_since | grep -q 'Login: user=' && return 0
	WHY="Dovecot logged a login: $(dc_since | grep 'Login: user=')"
	return 1
}
_dc_log_has() { dc_since | grep -E "$1" >/dev/null; }
want_dc_log() {	# want_dc_log ERE
	peers_wait_until 3 _dc_log_has "$1" && return 0
	WHY="no /$1/ in the Dovecot log:
$(dc_since | grep -v Debug | tail -5)"
	return 1
}
want_err_match() {	# want_err_match ERE: stdout+stderr mention ERE
	cat "$OUT" "$ERR" | grep -qiE "$1" && return 0
	WHY="no /$1/ in the output:
$(tail -8 "$OUT") $(head -8 "$ERR")"
	return 1
}
want_no_password_sent() {	# no LOGIN/USER/PASS/AUTH PLAIN in -v output
	! grep -qE '> [A-Z0-9]+ LOGIN |> PASS |AUTHENTICATE PLAIN|> AUTH PLAIN' "$OUT" && return 0
	WHY="a password method was used: $(grep -E 'LOGIN |PASS |PLAIN' "$OUT" | head -3)"
	return 1
}

# ================================================================ A IMAP
inject alice m1 m2 m3 || bail "inject failed"
write_rc A imap localhost alice
fm A
check "A: IMAP auth gssapi: exit 0" want_rc 0
check "A: 3 messages delivered in order" want_got A m1 m2 m3
check "A: delivered byte for byte but fetchmail's Received field (dots, CRLF, 8-bit)" \
    same_as_injected A
check "A: server INBOX empty afterwards" count_is alice 0
check "A: Dovecot: imap-login Login user=<alice> method=GSSAPI" \
    want_dc_login imap-login alice
check "A: the KDC issued a ticket for imap/localhost (the poll name)" \
    want_kdc_ticket imap/localhost
check "A: AUTHENTICATE GSSAPI sent, no password method" \
    eval 'grep -q "AUTHENTICATE GSSAPI" "$OUT" && want_no_password_sent'

# ================================================================ B POP3
inject alice m4 m5 m6 || bail "inject failed"
write_rc B pop3 localhost alice
fm B
check "B: POP3 auth gssapi: exit 0" want_rc 0
check "B: 3 messages delivered in order" want_got B m4 m5 m6
check "B: delivered byte for byte but fetchmail's Received field" \
    same_as_injected B
check "B: server INBOX empty afterwards" count_is alice 0
check "B: Dovecot: pop3-login Login user=<alice> method=GSSAPI" \
    want_dc_login pop3-login alice
check "B: the KDC issued a ticket for pop/localhost" \
    want_kdc_ticket pop/localhost
check "B: AUTH GSSAPI sent, no password method" \
    eval 'grep -q "AUTH GSSAPI" "$OUT" && want_no_password_sent'

# ================================================================ C principal
# fetchmail(1): "It does not apply to Kerberos 5 or GSSAPI."
inject alice m7 || bail "inject failed"
SERVOPT="principal imap/wrong.example@$KRB5_REALM" write_rc C imap localhost alice
krb5_kdestroy; krb5_kinit alice "$KPASS" || bail "kinit"
fm C
check "C: principal option set: still exit 0, delivered" \
    eval 'want_rc 0 && want_got C m7 && count_is alice 0'
check "C: principal ignored: ticket for imap/localhost, none for imap/wrong.example" \
    eval 'want_kdc_ticket imap/localhost && ! kdc_since | grep -q wrong.example'

# ================================================================ D auth any
inject alice m8 || bail "inject failed"
AUTH=any PASS=dovecot-pw-alice write_rc D imap localhost alice
fm D
check "D: IMAP auth any with a password and a ticket: exit 0, delivered" \
    eval 'want_rc 0 && want_got D m8 && count_is alice 0'
check "D: auth any: GSSAPI preferred (Dovecot method=GSSAPI, no password sent)" \
    eval 'want_dc_login imap-login alice && want_no_password_sent'
inject alice m9 || bail "inject failed"
AUTH=any PASS=dovecot-pw-alice write_rc D2 pop3 localhost alice
fm D2
check "D: POP3 auth any with a password and a ticket: exit 0, delivered" \
    eval 'want_rc 0 && want_got D2 m9 && count_is alice 0'
check "D: POP3 auth any: GSSAPI preferred (Dovecot method=GSSAPI)" \
    want_dc_login pop3-login alice

# ================================================================ E via
inject alice m1 || bail "inject failed"
write_rc E imap "localhost via 127.0.0.1" alice
fm E
check "E: via 127.0.0.1: authentication failure, exit 3" want_rc 3
check "E: the service host is the via name: imap/127.0.0.1 asked for" \
    eval 'kdc_since | grep -q "for imap/127.0.0.1@$KRB5_REALM" ||
	{ WHY=$(kdc_since | tail -3); false; }'
check "E: nothing delivered, the message stays" \
    eval 'want_got E && count_is alice 1'
dovecot_expunge_all alice

# ================================================================ F authzid
inject bob m2 || bail "inject failed"
write_rc F imap localhost bob
fm F
check "F: user bob with alice's ticket: exit 3" want_rc 3
check "F: the user name is the authorization identity: Dovecot refused alice as bob" \
    want_dc_log 'gssapi\(bob,.*User not authorized to log in as bob'
check "F: nothing delivered, bob's message stays" \
    eval 'want_got F && count_is bob 1 && want_no_dc_login'
dovecot_expunge_all bob

# ================================================================ G no ticket
reset_alice
krb5_kdestroy
write_rc G imap localhost alice
fm G
check "G: IMAP without a ticket: exit 3" want_rc 3
check "G: the missing credentials are named" \
    want_err_match 'credentials|ticket|kinit'
check "G: nothing delivered, both messages stay, no login" \
    eval 'want_got G && count_is alice 2 && want_no_dc_login'
check "G: nothing asked of the KDC" want_kdc_quiet
check "G: no password method tried" want_no_password_sent
reset_alice
write_rc G2 pop3 localhost alice
fm G2
check "G: POP3 without a ticket: exit 3, nothing moved" \
    eval 'want_rc 3 && want_got G2 && count_is alice 2 && want_no_dc_login'

# ================================================================ H expired
# krb5.conf has clockskew = 1 (tests/peers/krb5.sh): a 2 s ticket is
# unusable everywhere once 2 s + 1 s skew have passed.
reset_alice
t_kinit=$(peers_now_ms)
krb5_tgt_dead() { [ "$(peers_now_ms)" -gt $((t_kinit + 3500)) ] && ! klist -s; }
if printf '%s\n' "$KPASS" | kinit -l 2s "alice@$KRB5_REALM" >/dev/null 2>&1 &&
    klist -s && peers_wait_until 10 krb5_tgt_dead; then
	write_rc H imap localhost alice
	fm H
	check "H: expired ticket: exit 3, the expiry named" \
	    eval 'want_rc 3 && want_err_match expired'
	check "H: nothing delivered, both messages stay, no login" \
	    eval 'want_got H && count_is alice 2 && want_no_dc_login'
else
	skip "H: expired ticket: exit 3" "could not get a short-lived ticket"
	skip "H: nothing delivered" "could not get a short-lived ticket"
fi
krb5_kdestroy
krb5_kinit alice "$KPASS" || bail "kinit"

# ================================================================ I keytab
reset_alice
dc_conf "$WRONGKT"
dovecot_restart || bail "dovecot restart"
write_rc I imap localhost alice
fm I
check "I: keytab without imap/localhost: IMAP exit 3" want_rc 3
check "I: nothing delivered, both messages stay, no login" \
    eval 'want_got I && count_is alice 2 && want_no_dc_login'
reset_alice
write_rc I2 pop3 localhost alice
fm I2
check "I: keytab without pop/localhost: POP3 exit 3, nothing moved" \
    eval 'want_rc 3 && want_got I2 && count_is alice 2 && want_no_dc_login'

# ================================================================ J stale key
reset_alice
krb5_kadmin "cpw -randkey imap/localhost" || bail "cpw"
dc_conf "$GOODKT"
dovecot_restart || bail "dovecot restart"
krb5_kdestroy
krb5_kinit alice "$KPASS" || bail "kinit"
write_rc J imap localhost alice
fm J
check "J: stale keytab (old kvno): exit 3" want_rc 3
check "J: nothing delivered, both messages stay, no login" \
    eval 'want_got J && count_is alice 2 && want_no_dc_login'
check "J: Dovecot could not use the ticket (logged)" \
    want_dc_log 'gssapi\(.*(kvno|key version|decrypt|Integrity|not found)'
krb5_ktadd "$GOODKT" "$AUTHUSER" imap/localhost || bail "ktadd"
rm -rf "$W/J/got"
write_rc J imap localhost alice
fm J
check "J: keytab renewed: exit 0, both delivered, server empty" \
    eval 'want_rc 0 && want_got J m3 m4 && count_is alice 0'
check "J: delivered byte for byte" same_as_injected J

[ "$k" = "$PLAN" ] || echo "# planned $PLAN tests, ran $k"
[ "$failed" = 0 ] || { peers_dump_logs 20 | grep -v Debug; krb5_dump_logs 10; }
exit 0
