#!/usr/bin/env bash
# Authentication mechanisms against a real Dovecot (TAP producer).
#
# One private Dovecot offering PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1
# SCRAM-SHA-256 OAUTHBEARER XOAUTH2 (passwd-file, plain-text scheme, so
# every mechanism can be checked; tests/oauth.sh validates real tokens).
# For POP3 and IMAP, each `auth` value must log in with the mechanism it
# names (Dovecot's log says which), deliver the message and empty the
# mailbox, and never show the password in the -v transcript:
#   A  auth scram-sha-256, scram-sha-1, cram-md5, oauthbearer, xoauth2,
#      password (USER/PASS, LOGIN)
#   B  auth any prefers SCRAM-SHA-256; offered only PLAIN LOGIN CRAM-MD5,
#      it uses CRAM-MD5 as the reference does
#   C  a wrong password: exit 3, the mail stays, for SCRAM and auth any
#   D  passwordfile and passwordcommand give the password at each poll;
#      a failing passwordcommand is exit 3 with nothing sent
#   E  the reference fetchmail with auth any on the same server logs in
#      with CRAM-MD5 (what ours does when SCRAM is not offered)
#   G  EXTERNAL with a TLS client certificate (CN = the user name) over
#      IMAPS and POP3S; IMAP auth any prefers it when a certificate is
#      configured; without a certificate the login fails and nothing moves
#   F  proto auto: IMAP when the server speaks it; a POP3 server's
#      greeting makes it try POP3 (the reference waits there for ever);
#      a refused connection ends the poll with exit 2, as the reference
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top/tests/peers/lib.sh"
REF=${REF_FETCHMAIL:-/usr/bin/fetchmail}
FM=${FETCHMAIL:-${top_builddir:-.}/fetchmail}
export PEERS_FETCHMAIL_TIMEOUT=${PEERS_FETCHMAIL_TIMEOUT:-30}

if ! peers_have dovecot; then
	echo "1..0 # SKIP $PEERS_WHY"
	exit 0
fi
if [ ! -x "$FM" ]; then
	echo "1..0 # SKIP fetchmail under test ($FM) not executable"
	exit 0
fi

PLAN=108
echo "1..$PLAN"
. "$top/tests/tap.sh"
bail() {
	echo "Bail out! $*"
	peers_dump_logs 30
	exit 1
}

PW='s3cret-Pa55'
ALL="plain login cram-md5 scram-sha-1 scram-sha-256 oauthbearer xoauth2"
export DOVECOT_MECHS=$ALL
# no auth penalty (2-15 s delays after failures from the same address)
export DOVECOT_EXTRA_CONF="service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}"
USERS=$(seq -f "u%g" 1 32)
for u in $USERS; do dovecot_add_user "$u" "$PW"; done
dovecot_start || bail "dovecot did not start"
W=$PEERS_TMP/w
mkdir -p "$W/out"
chmod 755 "$W"

# msg ID: a small message naming ID
msg() {
	printf 'From: a@example.org\nTo: b@example.org\nSubject: %s\n' "$1"
	printf 'Message-ID: <auth-%s@example.org>\nX-Test-Id: %s\n\nbody %s\n' \
	    "$1" "$1" "$1"
}
# poll BIN USER PROTO AUTH [RC WORDS...]: one poll with -v; sets $out, $rc
poll() {
	local bin=$1 u=$2 proto=$3 auth=$4 port; shift 4
	port=$DOVECOT_POP3_PORT
	[ "$proto" = imap ] && port=$DOVECOT_IMAP_PORT
	port=${PORT:-$port}
	[ $# -gt 0 ] || set -- "password \"$PW\""
	cat >"$W/rc.$u" <<EOF
poll 127.0.0.1 proto $proto service $port auth $auth
  user $u is $(id -un) here sslproto ''
  mda "cat >>$W/out/$u"
  $*
EOF
	out=$(peers_fetchmail "$bin" "$W/home.$u" "$W/rc.$u" -v 2>&1)
	rc=$?
}
# rc_is N: the last poll's exit status was N
rc_is() {
	[ "$rc" = "$1" ] || { WHY="exit $rc
$out"; return 1; }
}
# out_has RE: the last poll's output has a line matching RE
out_has() {
	printf '%s\n' "$out" | grep -q -- "$1" || { WHY=$out; return 1; }
}
# logged_in USER METHOD: Dovecot logged USER in with METHOD
logged_in() {
	grep -q "Login: user=<$1>, method=$2," "$DOVECOT_LOG" || {
		WHY=$(grep "user=<$1>" "$DOVECOT_LOG" | tail -3); return 1; }
}
# delivered USER: the message is in USER's output, the mailbox empty
delivered() {
	grep -q "^X-Test-Id: $1\$" "$W/out/$1" 2>/dev/null &&
	    [ "$(dovecot_count "$1")" = 0 ] || {
		WHY="rc=$rc left=$(dovecot_count "$1")
$out"; return 1; }
}
# no_password: the -v transcript shows neither the password nor a
# base64 text holding it
no_password() {
	local b
	b=$(printf '\0%s\0%s' "$1" "$PW" | base64 -w0)
	if printf '%s' "$out" | grep -qF -e "$PW" -e "$b"; then
		WHY="password in the transcript"; return 1
	fi
}
# kept USER: nothing delivered, the message still on the server
kept() {
	[ ! -s "$W/out/$1" ] && [ "$(dovecot_count "$1")" = 1 ] || {
		WHY="rc=$rc left=$(dovecot_count "$1")
$out"; return 1; }
}

# ------------------------------------------------- A: each mechanism
n=0
for row in "scram-sha-256 SCRAM-SHA-256" "scram-sha-1 SCRAM-SHA-1" \
    "cram-md5 CRAM-MD5" "oauthbearer OAUTHBEARER" "xoauth2 XOAUTH2" \
    "password PLAIN"; do
	set -- $row
	for proto in pop3 imap; do
		n=$((n + 1)); u=u$n
		msg "$u" >"$W/m.$u"
		dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
		poll "$FM" "$u" "$proto" "$1"
		check "A: $proto auth $1: exit 0" rc_is 0
		check "A: $proto auth $1: Dovecot logged in with $2" logged_in "$u" "$2"
		check "A: $proto auth $1: delivered, mailbox empty" delivered "$u"
		check "A: $proto auth $1: no password in the transcript" no_password "$u"
	done
done
check "A: IMAP LOGIN shows the password masked" \
    out_has 'IMAP> A0001 LOGIN "u12" \*$'

# ------------------------------------------------- B: auth any
for proto in pop3 imap; do
	n=$((n + 1)); u=u$n
	msg "$u" >"$W/m.$u"
	dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
	poll "$FM" "$u" "$proto" any
	check "B: $proto auth any: exit 0" rc_is 0
	check "B: $proto auth any prefers SCRAM-SHA-256" logged_in "$u" SCRAM-SHA-256
	check "B: $proto auth any: delivered" delivered "$u"
done
DOVECOT_MECHS="plain login cram-md5" dovecot_restart || bail "restart failed"
for proto in pop3 imap; do
	n=$((n + 1)); u=u$n
	msg "$u" >"$W/m.$u"
	dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
	poll "$FM" "$u" "$proto" any
	check "B: $proto auth any without SCRAM: exit 0" rc_is 0
	check "B: $proto auth any without SCRAM uses CRAM-MD5" logged_in "$u" CRAM-MD5
	check "B: $proto auth any without SCRAM: delivered" delivered "$u"
done

# ------------------------------------------------- E: the reference
if [ -x "$REF" ]; then
	n=$((n + 1)); u=u$n
	msg "$u" >"$W/m.$u"
	dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
	poll "$REF" "$u" imap any
	check "E: the reference, IMAP auth any: exit 0" rc_is 0
	check "E: the reference uses CRAM-MD5 there too" logged_in "$u" CRAM-MD5
else
	n=$((n + 1))
	skip "E: the reference, IMAP auth any: exit 0" "no reference fetchmail"
	skip "E: the reference uses CRAM-MD5 there too" "no reference fetchmail"
fi
export DOVECOT_MECHS=$ALL
dovecot_restart || bail "restart failed"

# ------------------------------------------------- C: wrong password
for row in "pop3 scram-sha-256" "imap scram-sha-256" "pop3 any" "imap any"; do
	set -- $row
	n=$((n + 1)); u=u$n
	msg "$u" >"$W/m.$u"
	dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
	poll "$FM" "$u" "$1" "$2" 'password "wrong"'
	check "C: $1 auth $2, wrong password: exit 3" rc_is 3
	check "C: $1 auth $2, wrong password: the mail stays" kept "$u"
	check "C: $1 auth $2: the failure is reported" \
	    out_has "Authorization failure on $u@"
	rm -f "$W/out/$u"
	dovecot_expunge_all "$u" >/dev/null 2>&1
done

# ------------------------------------------------- D: fresh passwords
u=u1
rm -f "$W/out/$u"
printf '%s\n' "$PW" >"$W/pwfile"
msg "$u" >"$W/m.$u"
dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
poll "$FM" "$u" imap scram-sha-256 "passwordfile \"$W/pwfile\""
check "D: passwordfile: exit 0" rc_is 0
check "D: passwordfile: delivered" delivered "$u"
# a stale token in the file fails; once the file is rewritten (a token
# helper refreshed it) the next poll reads it again and succeeds
printf 'stale-token\n' >"$W/pwfile"
rm -f "$W/out/$u"
dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
poll "$FM" "$u" pop3 oauthbearer "passwordfile \"$W/pwfile\""
check "D: passwordfile with a stale token: exit 3" rc_is 3
printf '%s\n' "$PW" >"$W/pwfile"
poll "$FM" "$u" pop3 oauthbearer "passwordfile \"$W/pwfile\""
check "D: passwordfile read again at the next poll: exit 0" rc_is 0
check "D: ... delivered" delivered "$u"
rm -f "$W/out/$u"
dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
poll "$FM" "$u" imap xoauth2 "passwordcommand \"cat $W/pwfile\""
check "D: passwordcommand: exit 0" rc_is 0
check "D: passwordcommand: delivered" delivered "$u"
rm -f "$W/out/$u"
before=$(grep -c "user=<$u>" "$DOVECOT_LOG")
poll "$FM" "$u" imap xoauth2 "passwordcommand \"exit 1\""
check "D: a failing passwordcommand: exit 3" rc_is 3
check "D: ... says so" out_has "no password for $u@127.0.0.1"
check "D: ... and nothing was sent (no connection)" eval \
    '[ "$(grep -c "user=<$u>" "$DOVECOT_LOG")" = "$before" ]'
poll "$FM" "$u" imap xoauth2 "passwordfile \"$W/nonexistent\""
check "D: a missing passwordfile: exit 3" rc_is 3
check "D: ... names the file" out_has "$W/nonexistent"

# ------------------------------------------------- F: proto auto
for row in "imap IMAP" "pop3 POP3"; do
	set -- $row
	n=$((n + 1)); u=u$n
	msg "$u" >"$W/m.$u"
	dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
	port=$DOVECOT_POP3_PORT
	[ "$1" = imap ] && port=$DOVECOT_IMAP_PORT
	PORT=$port poll "$FM" "$u" auto any
	check "F: proto auto against $2: exit 0" rc_is 0
	check "F: ... delivered" delivered "$u"
	check "F: ... the poll spoke $2" \
	    out_has "querying 127.0.0.1 (protocol $2) at .*: poll completed"
	check "F: ... the entry's poll is reported as protocol auto" \
	    out_has "querying 127.0.0.1 (protocol auto) at .*: poll completed"
done
PORT=1 poll "$FM" u1 auto any
check "F: proto auto, connection refused: exit 2" rc_is 2
check "F: ... POP3 is not tried" eval '! printf "%s" "$out" | grep -q "protocol POP3"'

# ------------------------------------------------- G: EXTERNAL
G=$PEERS_TMP/clientcert
mkdir -p "$G"
# clientcert USER: a certificate for USER signed by the test CA
clientcert() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$G/$1.key" 2>/dev/null &&
	openssl req -new -key "$G/$1.key" -subj "/O=fetchmail test/CN=$1" \
	    -out "$G/$1.csr" 2>/dev/null &&
	printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' \
	    >"$G/$1.ext" &&
	openssl x509 -req -in "$G/$1.csr" -CA "$PEERS_CA" \
	    -CAkey "$PEERS_CERTS/ca.key" -CAcreateserial -days 2 \
	    -extfile "$G/$1.ext" -out "$G/$1.pem" 2>/dev/null
}
# the next three users log in with certificates; EXTERNAL needs their
# passdb entries without a password (written before the restart, which
# makes Dovecot read the file again)
for i in 1 2 3; do
	u=u$((n + i))
	clientcert "$u" || bail "client certificate for $u failed"
	sed -i "s|^$u:[^:]*:\\(.*\\):\$|$u::\\1:nopassword=y|" "$DOVECOT_PASSWD"
done
export DOVECOT_MECHS="$ALL external"
DOVECOT_EXTRA_CONF="$DOVECOT_EXTRA_CONF
ssl_ca = <$PEERS_CA
ssl_verify_client_cert = yes
ssl_require_crl = no
auth_ssl_username_from_cert = yes
ssl_cert_username_field = commonName"
export DOVECOT_EXTRA_CONF
dovecot_restart || bail "restart with client certificates failed"
# tls_poll USER PROTO AUTH [CERT]: a poll over implicit TLS
tls_poll() {
	local u=$1 proto=$2 auth=$3 cert=${4:-} port=$DOVECOT_POP3S_PORT
	[ "$proto" = imap ] && port=$DOVECOT_IMAPS_PORT
	{
		printf 'poll localhost via 127.0.0.1 proto %s service %s auth %s\n' \
		    "$proto" "$port" "$auth"
		printf '  user %s is %s here password "%s" ssl\n' "$u" "$(id -un)" "$PW"
		printf '  sslcertfile "%s" sslcommonname localhost\n' "$PEERS_CA"
		[ -n "$cert" ] &&
		    printf '  sslcert "%s/%s.pem" sslkey "%s/%s.key"\n' "$G" "$cert" "$G" "$cert"
		printf '  mda "cat >>%s/out/%s"\n' "$W" "$u"
	} >"$W/rc.$u"
	out=$(peers_fetchmail "$FM" "$W/home.$u" "$W/rc.$u" -v 2>&1)
	rc=$?
}
for row in "imap external" "pop3 external" "imap any"; do
	set -- $row
	n=$((n + 1)); u=u$n
	msg "$u" >"$W/m.$u"
	dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
	tls_poll "$u" "$1" "$2" "$u"
	check "G: $1 auth $2 with a client certificate: exit 0" rc_is 0
	check "G: ... Dovecot logged in with EXTERNAL" logged_in "$u" EXTERNAL
	check "G: ... delivered" delivered "$u"
done
n=$((n + 1)); u=u$n
msg "$u" >"$W/m.$u"
dovecot_inject "$u" "$W/m.$u" || bail "inject failed"
tls_poll "$u" imap external
check "G: auth external without a certificate: exit 3" rc_is 3
check "G: ... the mail stays" kept "$u"

[ "$k" = "$PLAN" ] || echo "# planned $PLAN, ran $k"
exit $((failed > 0))
