#!/usr/bin/env bash
# The newcomer's demo: install what the build needs, build fetchmail, and
# show it reading a typical run-control file.  Mail retrieval arrives in a
# later release (see NEWS); until then the demo shows the parsed
# configuration as fetchmailconf sees it (--configdump) and the -V report.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
deps="build-essential autoconf automake autopoint pkg-config flex bison gettext libssl-dev"
missing=""
for p in $deps; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
	echo "== installing:$missing"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
echo "== building"
autoreconf -fi >/dev/null 2>&1
mkdir -p build/demo && cd build/demo
"$top/configure" -q >/dev/null && make -j2 >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/home"
cat >"$work/fetchmailrc" <<'RC'
# a typical ~/.fetchmailrc
set daemon 300
set postmaster "postmaster"
poll pop.example.com proto pop3
    user "jsmith" password "secret" is jsmith here
    ssl keep
poll imap.example.org proto imap
    user "jo" there with password "s3cret" is jo here
    folder INBOX "Lists/fetchmail" mda "/usr/bin/procmail -d %T"
RC
chmod 600 "$work/fetchmailrc"
echo "== the rcfile"
cat "$work/fetchmailrc"
echo "== fetchmail --configdump (what fetchmailconf reads)"
HOME=$work/home ./fetchmail --configdump -f "$work/fetchmailrc" | sed -n '1,40p'
echo "   ..."
echo "== fetchmail -V"
HOME=$work/home ./fetchmail -V -f "$work/fetchmailrc" | sed -n '1,3p;/^Options for retrieving/,$p' | head -40
