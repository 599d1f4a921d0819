#!/usr/bin/env bash
# The newcomer's demo: install what the build and a throwaway mail server
# need, build fetchmail, start a private Dovecot on a loopback port (in a
# temporary directory; the system's mail setup is not touched), put three
# messages in a mailbox there, and fetch them into a local mbox file with
# an MDA.  A second poll then finds no new mail.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
deps="build-essential autoconf automake autopoint pkg-config flex bison gettext libssl-dev"
missing=""
for p in $deps; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
	    missing="$missing $p"
done
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
if [ -n "$missing" ]; then
	echo "== installing:$missing"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
echo "== installing the throwaway mail server's packages (if missing)"
bash tests/peers/deps.sh >/dev/null
echo "== building"
autoreconf -fi >/dev/null 2>&1
mkdir -p build/demo && cd build/demo
"$top/configure" -q >/dev/null && make -j2 >/dev/null
fm=$PWD/fetchmail

top_srcdir=$top
# shellcheck source=../tests/peers/lib.sh
. "$top/tests/peers/lib.sh"
dovecot_add_user jsmith secret
dovecot_start >/dev/null || { echo "could not start Dovecot"; exit 1; }
work=$PEERS_TMP/demo
mkdir -p "$work"
for i in 1 2 3; do
	printf 'From: Friend %d <friend%d@example.net>\nTo: jsmith@example.org\nSubject: demo message %d\nMessage-ID: <demo%d@example.net>\n\nHello, this is message %d.\n' \
	    "$i" "$i" "$i" "$i" "$i" >"$work/m$i"
done
dovecot_inject jsmith "$work/m1" "$work/m2" "$work/m3"
echo "== a private Dovecot listens on 127.0.0.1:$DOVECOT_POP3_PORT (POP3, STARTTLS with a test CA)"
cat >"$work/fetchmailrc" <<RC
# fetch jsmith's mail over POP3 with STARTTLS, deliver it to an mbox
poll localhost via 127.0.0.1 port $DOVECOT_POP3_PORT proto pop3
    user "jsmith" password "secret" is "$(id -un)" here
    sslcertfile "$PEERS_CA" sslcommonname localhost
    mda "cat >>$work/mbox"
RC
chmod 600 "$work/fetchmailrc"
echo "== the rcfile"
cat "$work/fetchmailrc"
echo "== fetchmail (first poll)"
peers_fetchmail "$fm" "$work/home" "$work/fetchmailrc" || true
echo "== what arrived in $work/mbox"
cat "$work/mbox"
echo "== messages left on the server: $(dovecot_count jsmith)"
echo "== fetchmail (second poll: nothing new, exit status 1)"
peers_fetchmail "$fm" "$work/home" "$work/fetchmailrc" || echo "(exit status $?)"
