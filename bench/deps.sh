#!/usr/bin/env bash
# bench/deps.sh -- install what bench/run.sh needs (Debian; idempotent).
#   mpop     the comparison POP3 client
#   isync    mbsync, the comparison IMAP client (scenarios 6 and 8)
#   time     GNU time, for "Maximum resident set size" (/usr/bin/time -v)
#   python3  the latency proxy and the mailbox generator
# plus the mail servers and the reference fetchmail through
# tests/peers/deps.sh (Dovecot, Postfix, fetchmail 6.4.37).
# Root, or sudo otherwise.  Installs only what is missing.
#   bash bench/deps.sh          install what is missing
#   bash bench/deps.sh --list   print the bench's own package list
set -u

BENCH_DEPS="mpop isync time python3"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ "${1:-}" = --list ]; then
	echo $BENCH_DEPS
	exit 0
fi

command -v dpkg-query >/dev/null 2>&1 || {
	echo "bench/deps.sh: not a Debian system; install by hand: $BENCH_DEPS" >&2
	exit 1
}

sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

# The servers and the reference first (that script is idempotent too).
bash "$here/../tests/peers/deps.sh" || exit 1

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in $BENCH_DEPS; do
	installed "$p" || missing+=("$p")
done
echo "bench packages:" $BENCH_DEPS
if [ ${#missing[@]} -eq 0 ]; then
	echo "all installed"
	exit 0
fi
echo "installing: ${missing[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || {
	echo "bench/deps.sh: apt-get update failed" >&2; exit 1; }
log=$(mktemp)
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends "${missing[@]}" >"$log" 2>&1 || {
	echo "bench/deps.sh: apt-get install failed:" >&2
	tail -30 "$log" >&2; rm -f "$log"; exit 1; }
rm -f "$log"
echo "done"
