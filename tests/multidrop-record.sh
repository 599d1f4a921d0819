#!/bin/bash
# multidrop-record.sh: re-record what fetchmail 6.4.37 does with the
# multidrop corpus (tests/multidrop/msgs) under every rcfile variant
# (tests/multidrop/rc/*.rc) into tests/multidrop/expected/VARIANT.txt.
#
# For each variant a private faultpeer (tests/peers/faultpeer.py) serves the
# whole corpus over POP3 and records what its SMTP sink receives; the
# reference runs once with -v -v, private HOME and --pidfile, on loopback
# ports from 21800-21899; tests/multidrop/refparse.py turns the transcript
# and the sink into the expected file (RCPT TO lines, the recipient
# discovery log lines, the X-Fetchmail-Warning, delivered or not).
#
#   tests/multidrop-record.sh [FETCHMAIL] [VARIANT...]
#
# FETCHMAIL defaults to /usr/bin/fetchmail.  MD_RAW=DIR keeps the raw
# transcripts there.  MD_SERVER=dovecot serves the corpus from a private
# Dovecot (tests/peers/lib.sh, messages put in with doveadm save) instead
# of faultpeer's POP3 server; the results are the same.  MD_OUT=DIR writes
# the expected files there instead of tests/multidrop/expected.  Variants
# marked "# needs dns-stub" resolve names through tests/peers/dnsstub.py
# (serving tests/multidrop/dns.zone on 127.0.0.77:53): the reference then
# runs in a private mount namespace (unshare -m, root) whose
# /etc/resolv.conf names the stub; never the outside network.  Not run
# by `make check`: tests/unit_rcpt reads the checked-in results.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
md=$top/tests/multidrop
fm=${1:-/usr/bin/fetchmail}
[ $# -gt 0 ] && shift
variants=("$@")
if [ ${#variants[@]} -eq 0 ]; then
	for f in "$md"/rc/*.rc; do
		v=${f##*/}; variants+=("${v%.rc}")
	done
fi
[ -x "$fm" ] || { echo "multidrop-record: $fm not found" >&2; exit 1; }

out=${MD_OUT:-$md/expected}
mkdir -p "$out"
work=$(mktemp -d)
fp_pid=
cleanup() {
	[ -n "$fp_pid" ] && kill "$fp_pid" 2>/dev/null
	[ -n "$dns_pid" ] && kill "$dns_pid" 2>/dev/null
	[ "${MD_SERVER:-}" = dovecot ] && peers_cleanup
	rm -rf "$work"
}
dns_pid=

# dns_stub: start the DNS stub once; 0 when it answers
dns_stub() {
	[ -n "$dns_pid" ] && return 0
	echo "nameserver 127.0.0.77" >"$work/resolv.conf"
	python3 "$top/tests/peers/dnsstub.py" --zone "$md/dns.zone" \
	    --addr 127.0.0.77 >"$work/dns.log" 2>&1 &
	dns_pid=$!
	for ((i = 0; i < 50; i++)); do
		unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf &&
		    getent hosts pop.test.example' sh "$work/resolv.conf" \
		    >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
trap cleanup EXIT INT TERM
if [ "${MD_SERVER:-}" = dovecot ]; then
	PEERS_NO_TRAP=1
	. "$top/tests/peers/lib.sh"
	peers_have dovecot || { echo "multidrop-record: $PEERS_WHY" >&2; exit 1; }
	dovecot_add_user alice secret && dovecot_start ||
	    { echo "multidrop-record: dovecot did not start" >&2; exit 1; }
fi

# port_free PORT: nothing listens on 127.0.0.1:PORT
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pick_ports: set P3 S L to three free ports of 21800-21899
pick_ports() {
	local b
	for ((b = 21800; b <= 21897; b += 3)); do
		if port_free $b && port_free $((b + 1)) && port_free $((b + 2)); then
			P3=$b S=$((b + 1)) L=$((b + 2))
			return 0
		fi
	done
	return 1
}

msgs=()
for f in "$md"/msgs/*.eml; do msgs+=(--msg "$f"); done

status=0
for v in "${variants[@]}"; do
	rc=$md/rc/$v.rc
	[ -f "$rc" ] || { echo "multidrop-record: no $rc" >&2; status=1; continue; }
	pick_ports || { echo "multidrop-record: no free ports" >&2; exit 1; }
	d=$work/$v
	mkdir -p "$d/home"
	chmod 700 "$d/home"
	python3 "$top/tests/peers/faultpeer.py" serve --dir "$d/fp" "${msgs[@]}" \
	    --pop3-port "$P3" --smtp-port "$S" --lmtp-port "$L" \
	    --user alice --password secret --lifetime 300 >"$d/fp.log" 2>&1 &
	fp_pid=$!
	for ((i = 0; i < 100; i++)); do
		[ -s "$d/fp/ports" ] && break
		sleep 0.1
	done
	[ -s "$d/fp/ports" ] || { echo "multidrop-record: faultpeer did not start" >&2; cat "$d/fp.log" >&2; exit 1; }
	if [ "${MD_SERVER:-}" = dovecot ]; then
		# what an earlier variant refused is still there: start empty
		doveadm -c "$DOVECOT_CONF" expunge -u alice mailbox INBOX all
		dovecot_inject alice "$md"/msgs/*.eml || exit 1
		P3=$DOVECOT_POP3_PORT
	fi
	sed -e "s/@POP3@/$P3/g" -e "s/@SMTP@/$S/g" "$rc" >"$d/rc"
	chmod 600 "$d/rc"
	wrap=()
	if grep -q '^# needs dns-stub' "$rc"; then
		dns_stub || { echo "multidrop-record: $v: no DNS stub (needs root and unshare)" >&2; status=1; kill "$fp_pid"; wait "$fp_pid" 2>/dev/null; fp_pid=; continue; }
		wrap=(unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh "$work/resolv.conf")
	fi
	"${wrap[@]}" env -i HOME="$d/home" FETCHMAILHOME="$d/home" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    LC_ALL=C timeout -k 5 120 "$fm" --nosyslog --pidfile "$d/home/fetchmail.pid" \
	    -f "$d/rc" -v -v </dev/null >"$d/out" 2>&1
	echo "$v: fetchmail exit $?" >&2
	# wait until the sink has stored everything (no connection open)
	for ((i = 0; i < 50; i++)); do
		grep -q '^open 0' "$d/fp/status" 2>/dev/null && break
		sleep 0.1
	done
	kill "$fp_pid" 2>/dev/null
	wait "$fp_pid" 2>/dev/null
	fp_pid=
	python3 "$md/refparse.py" "$d/out" "$d/fp/sink" "$md/msgs" \
	    >"$out/$v.txt" || status=1
	if [ -n "${MD_RAW:-}" ]; then
		mkdir -p "$MD_RAW" && cp "$d/out" "$MD_RAW/$v.out"
	fi
done
exit $status
