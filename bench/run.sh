#!/usr/bin/env bash
# bench/run.sh -- benchmark ours vs the reference fetchmail 6.4.37 vs mpop
# on one private Dovecot mailbox (see bench/README.md).
#
#   bash bench/run.sh                 full run (3 runs each, ~10 min)
#   bash bench/run.sh --quick         fewer messages, 1 run each (~1 min)
#   bash bench/run.sh --fetchmail /usr/bin/fetchmail   placeholder "ours"
#
# Options:
#   --fetchmail PATH   our binary (default $FETCHMAIL, else
#                      build/plain/fetchmail)
#   --reference PATH   the reference (default /usr/bin/fetchmail)
#   --mpop PATH        mpop (default: mpop on PATH)
#   --quick            100 messages (50 at 20 ms RTT), 1 run each
#   --runs N           runs per program and scenario (default 3; quick 1)
#   --messages N       messages for scenarios 1-3 (default 1000)
#   --rtt-messages N   messages for scenario 4 (default 200)
#   --big-mb N         size of the scenario 5 message (default 50)
#   --only LIST        scenarios to run, comma-separated numbers or names:
#                      1|lmtp 2|smtp 3|mda 4|rtt 5|big (default all)
#   --timeout S        kill a client run after S seconds (default 300;
#                      quick 120); counts as FAILED
#   --out FILE         report (default bench/RESULTS.md; with --quick
#                      bench/RESULTS-quick.md); FILE.tsv gets the raw runs
#   --no-out           print the report only
#   --no-ceiling       skip the "ceiling" runs (scenarios 1-4: the same
#                      messages delivered without POP3 by bench/ceiling.py,
#                      into the server or to the MDA through popen(3))
#   --keep             keep the temporary directory (PEERS_KEEP=1)
# Needs root (Postfix), the packages of bench/deps.sh, and nothing else.
# Exit status: 0 when every run was measured (targets may still FAIL: see
# the report), 1 when a run FAILED, 2 on setup trouble.

set -u
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
ARGS="$*"

FETCHMAIL=${FETCHMAIL:-$TOP/build/plain/fetchmail}
REFERENCE=/usr/bin/fetchmail
MPOP=$(command -v mpop 2>/dev/null || echo mpop)
QUICK=0 RUNS='' N_MANY='' N_RTT='' BIG_MB=50 TOTAL_MB_PER_1000=33
ONLY='' TIMEOUT='' OUT='' NO_OUT=0 DELAY_MS=10 CEILING=1

die() { echo "bench/run.sh: $*" >&2; exit 2; }
need_arg() { [ $# -ge 2 ] || die "$1 needs an argument"; }
while [ $# -gt 0 ]; do
	case $1 in
	--fetchmail) need_arg "$@"; FETCHMAIL=$2; shift 2 ;;
	--fetchmail=*) FETCHMAIL=${1#*=}; shift ;;
	--reference) need_arg "$@"; REFERENCE=$2; shift 2 ;;
	--reference=*) REFERENCE=${1#*=}; shift ;;
	--mpop) need_arg "$@"; MPOP=$2; shift 2 ;;
	--mpop=*) MPOP=${1#*=}; shift ;;
	--quick) QUICK=1; shift ;;
	--runs) need_arg "$@"; RUNS=$2; shift 2 ;;
	--messages) need_arg "$@"; N_MANY=$2; shift 2 ;;
	--rtt-messages) need_arg "$@"; N_RTT=$2; shift 2 ;;
	--big-mb) need_arg "$@"; BIG_MB=$2; shift 2 ;;
	--only) need_arg "$@"; ONLY=$2; shift 2 ;;
	--only=*) ONLY=${1#*=}; shift ;;
	--timeout) need_arg "$@"; TIMEOUT=$2; shift 2 ;;
	--out) need_arg "$@"; OUT=$2; shift 2 ;;
	--no-out) NO_OUT=1; shift ;;
	--keep) export PEERS_KEEP=1; shift ;;
	--no-ceiling) CEILING=0; shift ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
done
if [ $QUICK = 1 ]; then
	: "${RUNS:=1}" "${N_MANY:=100}" "${N_RTT:=50}" "${TIMEOUT:=120}"
	: "${OUT:=$BENCH_DIR/RESULTS-quick.md}"
fi
: "${RUNS:=3}" "${N_MANY:=1000}" "${N_RTT:=200}" "${TIMEOUT:=300}"
: "${OUT:=$BENCH_DIR/RESULTS.md}"
for v in RUNS N_MANY N_RTT TIMEOUT; do
	case ${!v} in ''|*[!0-9]*|0) die "$v must be a positive integer" ;; esac
done
[ "$N_RTT" -le "$N_MANY" ] || N_RTT=$N_MANY

SCENARIOS=''
IFS=, read -r -a _only <<<"${ONLY:-lmtp,smtp,mda,rtt,big}"
for s in "${_only[@]}"; do
	case $s in
	1|lmtp) s=lmtp ;; 2|smtp) s=smtp ;; 3|mda) s=mda ;;
	4|rtt) s=rtt ;; 5|big) s=big ;;
	*) die "--only: unknown scenario $s" ;;
	esac
	case " $SCENARIOS " in *" $s "*) ;; *) SCENARIOS="$SCENARIOS $s" ;; esac
done
has_scen() { case " $SCENARIOS " in *" $1 "*) return 0 ;; esac; return 1; }

abspath() {
	case $1 in
	*/*) (cd "$(dirname "$1")" 2>/dev/null && echo "$(pwd)/$(basename "$1")") ;;
	*) command -v "$1" ;;
	esac
}

# ---------------------------------------------------------------- checks

. "$TOP/tests/peers/lib.sh"
want=(dovecot fetchmail)
has_scen smtp && want+=(postfix)
REF_FETCHMAIL=$REFERENCE peers_have "${want[@]}" ||
    die "$PEERS_WHY; run: bash bench/deps.sh"
[ -x /usr/bin/time ] || die "/usr/bin/time missing; run: bash bench/deps.sh"
command -v python3 >/dev/null || die "python3 missing; run: bash bench/deps.sh"
REFERENCE=$(abspath "$REFERENCE")
[ -x "$REFERENCE" ] || die "reference $REFERENCE not executable"
MPOP=$(abspath "$MPOP" 2>/dev/null)
if [ -z "$MPOP" ] || [ ! -x "$MPOP" ]; then
	die "mpop missing; run: bash bench/deps.sh"
fi
HAVE_OURS=1
F=$(abspath "$FETCHMAIL" 2>/dev/null)
if [ -n "$F" ] && [ -x "$F" ]; then
	FETCHMAIL=$F
else
	echo "bench/run.sh: ours ($FETCHMAIL) not found: measuring the others only" >&2
	HAVE_OURS=0
fi

# ---------------------------------------------------------------- set-up

T_START=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log() { echo "bench: $*" >&2; }

dovecot_add_user alice secret || die "dovecot_add_user failed"
dovecot_add_user dest secret || die "dovecot_add_user failed"
dovecot_start || die "dovecot did not start"
if has_scen smtp; then
	postfix_start || die "postfix did not start"
fi
B=$PEERS_TMP/bench
mkdir -p "$B/gen" "$B/run"
chmod 755 "$B" "$B/run"
RES=$B/results.tsv META=$B/meta.tsv MDALOG=$B/mda.log
: >"$RES"; : >"$META"
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }

# The messages: generated once, owned by the mail uid, then hard-linked
# into the Maildir before every run (Dovecot never rewrites a Maildir
# file, it only renames and unlinks: the originals stay intact).
log "generating messages"
total_mb=$(awk -v n="$N_MANY" -v t="$TOTAL_MB_PER_1000" 'BEGIN { printf "%.3f", t * n / 1000 }')
python3 "$BENCH_DIR/gen-mailbox.py" --count "$N_MANY" --total-mb "$total_mb" \
    "$B/gen/many" >&2 || die "gen-mailbox.py failed"
mkdir -p "$B/gen/rtt"
for f in "$B"/gen/many/*; do
	n=${f##*.M}; n=${n%%P*}
	[ "$n" -le "$N_RTT" ] && ln "$f" "$B/gen/rtt/"
done
if has_scen big; then
	python3 "$BENCH_DIR/gen-mailbox.py" --big-mb "$BIG_MB" "$B/gen/big" >&2 ||
	    die "gen-mailbox.py --big-mb failed"
fi
chown -R "$DOVECOT_UID:$DOVECOT_GID" "$B/gen"
chmod 600 "$B"/gen/*/*

# set_sizes DIR: "COUNT BYTES VSIZE" of a message set (from the S= W= names).
set_sizes() {
	ls "$1" | awk -F'[,=]' '{ n++; s += $3; w += $5 } END { printf "%d %d %d\n", n, s, w }'
}

# refill DIR: make alice's INBOX hold exactly the messages of DIR, and
# have Dovecot index it (outside the timing); checks count and size.
refill() {
	local set=$1 m=$DOVECOT_MAIL/alice/Maildir n s w st
	read -r n s w < <(set_sizes "$set")
	rm -rf "$m"
	mkdir -p "$m/new" "$m/cur" "$m/tmp"
	find "$set" -type f -exec ln -t "$m/new" {} +
	chown -R "$DOVECOT_UID:$DOVECOT_GID" "$m"
	chmod 700 "$m" "$m/new" "$m/cur" "$m/tmp"
	st=$(doveadm -c "$DOVECOT_CONF" -f tab mailbox status -u alice \
	    "messages vsize" INBOX 2>&1 | tail -n 1 | cut -f 2-)
	if [ "$st" != "$n	$w" ]; then
		log "refill: INBOX status '$st', want '$n	$w'"
		return 1
	fi
}

# reset_dest SCEN: empty the destination of SCEN.
reset_dest() {
	case $1 in
	lmtp)
		doveadm -c "$DOVECOT_CONF" expunge -u dest mailbox INBOX all 2>/dev/null
		[ "$(dovecot_count dest)" = 0 ] || { log "dest not empty"; return 1; } ;;
	smtp)
		peers_wait_until 120 postfix_queue_empty ||
		    { log "postfix queue not empty"; return 1; }
		rm -f "$POSTFIX_MAIL"/bob/new/* "$POSTFIX_MAIL"/bob/cur/* ;;
	*)
		: >"$MDALOG"; chmod 666 "$MDALOG" ;;
	esac
}

dir_bytes() { # DIR...: total bytes of the files in DIR (recursively)
	find "$@" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { printf "%d\n", s }'
}

# delivered SCEN N: "COUNT BYTES" at the destination (for SMTP, waits
# until Postfix has delivered N messages and its queue is empty).
delivered() {
	local scen=$1 n=$2 d
	case $scen in
	lmtp)
		d=$DOVECOT_MAIL/dest/Maildir
		echo "$(dovecot_count dest) $(dir_bytes "$d/new" "$d/cur")" ;;
	smtp)
		peers_wait_until $((60 + n / 20)) eval \
		    '[ "$(postfix_maildir_count bob)" -ge '"$n"' ] && postfix_queue_empty'
		d=$POSTFIX_MAIL/bob
		echo "$(postfix_maildir_count bob) $(dir_bytes "$d/new" "$d/cur")" ;;
	*)
		awk '{ n++; s += $1 } END { printf "%d %d\n", n, s }' "$MDALOG" ;;
	esac
}

# The latency proxy in front of Dovecot's POP3 port.
PROXY_PORT=''
if has_scen rtt; then
	python3 "$BENCH_DIR/latency-proxy.py" --delay-ms "$DELAY_MS" \
	    --connect "127.0.0.1:$DOVECOT_POP3_PORT" --port-file "$B/proxy.port" \
	    >"$B/proxy.log" 2>&1 &
	peers_register_pid $!
	peers_wait_until 10 test -s "$B/proxy.port" || die "latency proxy did not start"
	PROXY_PORT=$(cat "$B/proxy.port")
fi

# pop3_rtt PORT: median POP3 round trip (CAPA) in ms through PORT.
pop3_rtt() {
	python3 - "$1" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = s.makefile("rb")
f.readline()
ts = []
for i in range(21):
    t = time.perf_counter()
    s.sendall(b"CAPA\r\n")
    while f.readline() not in (b".\r\n", b""):
        pass
    ts.append(time.perf_counter() - t)
s.sendall(b"QUIT\r\n")
print("%.2f" % (sorted(ts)[10] * 1000))
EOF
}

# ---------------------------------------------------------------- clients

# write_config PROG SCEN PORT DIR: the rcfile (fetchmail) or mpoprc.
write_config() {
	local prog=$1 scen=$2 port=$3 dir=$4 deliver is=bob
	case $scen in
	lmtp) deliver="lmtp smtphost 127.0.0.1/$DOVECOT_LMTP_PORT" is=dest ;;
	smtp) deliver="smtphost 127.0.0.1/$POSTFIX_SMTP_PORT" ;;
	*) deliver="mda \"wc -c >>$MDALOG\"" ;;
	esac
	if [ "$prog" = mpop ]; then
		cat >"$dir/mpoprc" <<-EOF
		defaults
		account bench
		host 127.0.0.1
		port $port
		user alice
		password secret
		auth user
		tls off
		keep off
		only_new off
		uidls_file $dir/home/mpop_uidls
		delivery mda "wc -c >>$MDALOG"
		EOF
		chmod 600 "$dir/mpoprc"
	else
		cat >"$dir/rc" <<-EOF
		poll 127.0.0.1 port $port proto pop3
		  user alice password secret is $is here sslproto '' no sslcertck
		  fetchall nokeep
		  $deliver
		EOF
		chmod 600 "$dir/rc"
	fi
}

# The "ceiling" pseudo-program: the same messages delivered without any
# POP3 client by bench/ceiling.py (its own timing, messages read first):
#   lmtp, smtp  straight into the server over one connection: the server's
#               own cost per message
#   mda, rtt    the MDA started once per message with popen(3), as
#               fetchmail and mpop do (no network, no RTT)
# It is the most a client that delivers one message at a time can reach.

# run_client PROG DIR SCEN SETDIR: run PROG once as a test would (empty
# environment, fresh HOME), under GNU time; sets SECS, EXIT, RSS.
run_client() {
	local prog=$1 dir=$2 scen=$3 set=$4 bin t0 t1
	local -a cmd
	rm -rf "$dir/home"; mkdir -p "$dir/home"; chmod 700 "$dir/home"
	case $prog in
	ours) bin=$FETCHMAIL ;; ref) bin=$REFERENCE ;; mpop) bin=$MPOP ;;
	ceiling) bin=$(command -v python3) ;;
	esac
	cmd=(env -i HOME="$dir/home" PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
	    timeout -k 5 "$TIMEOUT" /usr/bin/time -v -o "$dir/time.txt" "$bin")
	case $prog in
	mpop) cmd+=(-C "$dir/mpoprc" -q bench) ;;
	ceiling)
		cmd+=("$BENCH_DIR/ceiling.py")
		case $scen in
		lmtp) cmd+=(--proto lmtp --port "$DOVECOT_LMTP_PORT" --rcpt dest@127.0.0.1) ;;
		smtp) cmd+=(--proto smtp --port "$POSTFIX_SMTP_PORT" --rcpt bob@127.0.0.1) ;;
		*) cmd+=(--mda "wc -c >>$MDALOG") ;;
		esac
		cmd+=("$set") ;;
	*) cmd+=(--nosyslog --pidfile "$dir/home/fetchmail.pid" -f "$dir/rc") ;;
	esac
	printf '%q ' "${cmd[@]}" >"$dir/cmd"; echo >>"$dir/cmd"
	t0=$(date +%s%N)
	"${cmd[@]}" >"$dir/out" 2>&1 </dev/null
	EXIT=$?
	t1=$(date +%s%N)
	SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
	if [ "$prog" = ceiling ] && [ "$EXIT" = 0 ]; then
		SECS=$(awk 'NR == 1 { print $1 }' "$dir/out")
	fi
	RSS=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/time.txt" 2>/dev/null)
	RSS=${RSS:-0}
}

FAILED_ANY=0
# scenario SCEN SETDIR PORT PROG...: RUNS runs of every PROG, alternating.
scenario() {
	local scen=$1 set=$2 port=$3 r p dir n s w got bytes st left
	shift 3
	local -a progs=("$@")
	local -A dead=()
	read -r n s w < <(set_sizes "$set")
	for ((r = 1; r <= RUNS; r++)); do
		for p in "${progs[@]}"; do
			[ -n "${dead[$p]:-}" ] && continue
			dir=$B/run/$scen-$p-$r
			mkdir -p "$dir"
			reset_dest "$scen" || die "cannot prepare $scen run"
			left=0
			if [ "$p" != ceiling ]; then
				write_config "$p" "$scen" "$port" "$dir"
				refill "$set" || die "cannot prepare $scen run"
			fi
			run_client "$p" "$dir" "$scen" "$set"
			read -r got bytes < <(delivered "$scen" "$n")
			[ "$p" = ceiling ] || left=$(dovecot_count alice)
			st=ok
			if [ "$EXIT" = 124 ] || [ "$EXIT" = 137 ]; then
				st="FAILED: killed after ${TIMEOUT}s"
			elif [ "$got" != "$n" ]; then
				st="FAILED: delivered $got of $n"
			elif [ "$bytes" -lt "$s" ]; then
				st="FAILED: $bytes bytes delivered, less than the $s sent"
			elif [ "$left" != 0 ]; then
				st="FAILED: $left messages left on the server (nokeep)"
			elif [ "$EXIT" != 0 ]; then
				st="FAILED: exit status $EXIT"
			fi
			case $st in
			ok) ;;
			*) FAILED_ANY=1; dead[$p]=1
			   cp "$dir/out" "$B/failed-$scen-$p-$r.out" 2>/dev/null ;;
			esac
			printf '%s\t%s\t%d\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n' "$scen" "$p" \
			    "$r" "$SECS" "$got" "$n" "$s" "$RSS" "$EXIT" "$st" >>"$RES"
			log "$scen run $r/$RUNS $p: ${SECS}s, $got/$n delivered, maxrss ${RSS}KB, exit $EXIT: $st"
			[ "$st" = ok ] || tail -n 5 "$dir/out" | sed 's/^/bench:   | /' >&2
		done
	done
}

progs=()
[ $HAVE_OURS = 1 ] && progs+=(ours)
progs+=(ref)
ceil=()
[ "$CEILING" = 1 ] && ceil=(ceiling)
has_scen lmtp && { log "scenario 1: POP3 -> LMTP, $N_MANY messages"; scenario lmtp "$B/gen/many" "$DOVECOT_POP3_PORT" "${progs[@]}" "${ceil[@]}"; }
has_scen smtp && { log "scenario 2: POP3 -> SMTP, $N_MANY messages"; scenario smtp "$B/gen/many" "$DOVECOT_POP3_PORT" "${progs[@]}" "${ceil[@]}"; }
has_scen mda && { log "scenario 3: POP3 -> MDA, $N_MANY messages"; scenario mda "$B/gen/many" "$DOVECOT_POP3_PORT" "${progs[@]}" mpop "${ceil[@]}"; }
has_scen rtt && { log "scenario 4: $N_RTT messages at $((2 * DELAY_MS)) ms RTT -> MDA"; scenario rtt "$B/gen/rtt" "$PROXY_PORT" "${progs[@]}" mpop "${ceil[@]}"; }
has_scen big && { log "scenario 5: one ${BIG_MB} MB message -> MDA"; scenario big "$B/gen/big" "$DOVECOT_POP3_PORT" "${progs[@]}" mpop; }

# ---------------------------------------------------------------- report

first_line() { # CMD...: the first line of its output that is not a warning
	"$@" 2>&1 </dev/null | grep -v -i -m 1 -e warning -e '^$'
}
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta args "$ARGS"
meta machine "$(nproc) CPUs, $(uname -m)"
meta cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
meta memory "$(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)"
meta kernel "$(uname -srv)"
meta load "load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (1/5/15 min; other work on the machine skews the figures)"
if [ $HAVE_OURS = 1 ]; then
	meta ours "$FETCHMAIL: $(first_line "$FETCHMAIL" --version)"
else
	meta ours "$FETCHMAIL: not found, not measured"
fi
meta reference "$REFERENCE: $(first_line "$REFERENCE" --version)"
meta mpop "$MPOP: $(first_line "$MPOP" --version)"
meta dovecot "$(dovecot --version 2>/dev/null)"
has_scen smtp && meta postfix "$(postconf -d -h mail_version 2>/dev/null)"
meta python "$(python3 --version 2>&1)"
read -r n s w < <(set_sizes "$B/gen/many")
meta setup "mailbox: $n generated messages (bench/gen-mailbox.py, seed 1), $s bytes, sizes $(ls -l "$B/gen/many" | awk 'NR > 1 { print $5 }' | sort -n | awk '{ a[NR] = $1 } END { printf "%d / %d / %d bytes min / median / max", a[1], a[int((NR + 1) / 2)], a[NR] }'); Dovecot $(dovecot --version 2>/dev/null | cut -d' ' -f1) POP3 on 127.0.0.1 (plain, no TLS), Maildir refilled and indexed before each run, outside the timing"
meta setup "$RUNS run(s) per program and scenario, programs alternating (ours, reference, mpop, ceiling, ours, ...); a program is not run again in a scenario after a FAILED run"
meta setup "delivery: LMTP to Dovecot (user dest); SMTP to Postfix $(postconf -d -h mail_version 2>/dev/null) into a Maildir (waiting for Postfix's delivery is not timed); MDA \`wc -c >>FILE\` (one line a message: the count and bytes are checked)"
meta setup "a run counts only if the destination got all N messages, at least as many bytes as were sent, and the server's mailbox is empty afterwards (nokeep)"
if has_scen rtt; then
	read -r n s w < <(set_sizes "$B/gen/rtt")
	meta setup "scenario 4: the first $n of the messages ($s bytes) through bench/latency-proxy.py, $DELAY_MS ms each way; POP3 CAPA round trip measured through it: median $(pop3_rtt "$PROXY_PORT") ms (direct: $(pop3_rtt "$DOVECOT_POP3_PORT") ms)"
fi
if has_scen big; then
	read -r n s w < <(set_sizes "$B/gen/big")
	meta setup "scenario 5: one message of $s bytes (a base64 attachment), peak RSS from /usr/bin/time -v"
fi
if [ $HAVE_OURS = 1 ] && [ "$(readlink -f "$FETCHMAIL")" = "$(readlink -f "$REFERENCE")" ]; then
	meta note "\"ours\" is the reference binary here (placeholder run to validate the harness): ratios near 1x and FAILed targets are expected"
fi
[ "$QUICK" = 1 ] && meta note "--quick run: fewer messages and runs than the full benchmark"
meta runtime "$((SECONDS - T_START))"

report=$(python3 "$BENCH_DIR/report.py" "$RES" "$META") || die "report.py failed"
echo "$report"
if [ $NO_OUT = 0 ]; then
	echo "$report" >"$OUT"
	cp "$RES" "${OUT%.md}.tsv"
	log "report written to $OUT (raw runs: ${OUT%.md}.tsv)"
fi
exit $FAILED_ANY
