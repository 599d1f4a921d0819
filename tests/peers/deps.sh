#!/usr/bin/env bash
# Install the Debian packages the real-peer test harness (tests/peers/lib.sh)
# needs: Dovecot (POP3, IMAP, LMTP), Postfix, OpenSSL, procmail, maildrop
# and the reference fetchmail.  Idempotent: installs only what is missing.
# Works as root, or through sudo otherwise.  Never starts the system's
# daemons: while installing, a temporary /usr/sbin/policy-rc.d forbids
# invoke-rc.d from starting services (one already present is left alone),
# and Postfix is preseeded to "No configuration" so its postinst neither
# prompts nor writes a system main.cf.
#   bash tests/peers/deps.sh          install what is missing
#   bash tests/peers/deps.sh --list   print the package list and exit
set -u

PEER_DEPS="dovecot-core dovecot-pop3d dovecot-imapd dovecot-lmtpd postfix
openssl procmail maildrop fetchmail krb5-kdc krb5-admin-server krb5-user dovecot-gssapi"

if [ "${1:-}" = --list ]; then
	echo $PEER_DEPS	# one line
	exit 0
fi

command -v dpkg-query >/dev/null 2>&1 || {
	echo "deps.sh: not a Debian system (no dpkg-query); install by hand: $PEER_DEPS" >&2
	exit 1
}

sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in $PEER_DEPS; do
	installed "$p" || missing+=("$p")
done
echo "peer test packages:" $PEER_DEPS
if [ ${#missing[@]} -eq 0 ]; then
	echo "all installed"
	exit 0
fi
echo "installing: ${missing[*]}"

policy=/usr/sbin/policy-rc.d
made_policy=0
cleanup() {
	[ $made_policy = 1 ] && $sudo rm -f "$policy"
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# temporary, from tests/peers/deps.sh\nexit 101\n' |
	    $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy" && made_policy=1
fi

echo "postfix postfix/main_mailer_type select No configuration" |
    $sudo debconf-set-selections 2>/dev/null || true
echo "postfix postfix/mailname string localhost" |
    $sudo debconf-set-selections 2>/dev/null || true

export DEBIAN_FRONTEND=noninteractive
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || {
	echo "deps.sh: apt-get update failed" >&2; exit 1; }

# maildrop may be missing from some mirrors/releases: install it apart.
want=() optional=()
for p in "${missing[@]}"; do
	case $p in maildrop) optional+=("$p") ;; *) want+=("$p") ;; esac
done
if [ ${#want[@]} -gt 0 ]; then
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends -o Dpkg::Options::=--force-confdef \
	    -o Dpkg::Options::=--force-confold "${want[@]}" >/tmp/peers-deps.$$.log 2>&1 || {
		echo "deps.sh: apt-get install failed:" >&2
		tail -30 /tmp/peers-deps.$$.log >&2; rm -f /tmp/peers-deps.$$.log; exit 1; }
	rm -f /tmp/peers-deps.$$.log
fi
for p in "${optional[@]}"; do
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends "$p" >/dev/null 2>&1 ||
	    echo "deps.sh: optional package $p not installed" >&2
done

# Should a policy-rc.d of someone else's have let the system daemons
# start, no matter: the harness never uses them or their ports.
echo "done"
