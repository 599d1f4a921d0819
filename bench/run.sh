#!/usr/bin/env bash
# bench/run.sh -- benchmark ours vs the reference fetchmail 6.4.37 vs mpop
# (POP3) and mbsync (IMAP) on one private Dovecot mailbox (see
# bench/README.md).
#
#   bash bench/run.sh                 full run (3 runs each, ~25 min)
#   bash bench/run.sh --quick         fewer messages, 1 run each (~2 min)
#   bash bench/run.sh --only 6,7,8    the IMAP scenarios only
#   bash bench/run.sh --fetchmail /usr/bin/fetchmail   placeholder "ours"
#
# Options:
#   --fetchmail PATH   our binary (default $FETCHMAIL, else
#                      build/plain/fetchmail)
#   --reference PATH   the reference (default /usr/bin/fetchmail)
#   --mpop PATH        mpop (default: mpop on PATH)
#   --mbsync PATH      mbsync (default: mbsync on PATH)
#   --quick            100 messages (50 at 20 ms RTT, 300 for scenario 6),
#                      1 run each
#   --runs N           runs per program and scenario (default 3; quick 1)
#   --messages N       messages for scenarios 1-3 and 7 (default 1000)
#   --rtt-messages N   messages for scenarios 4 and 8 (default 200)
#   --imap-messages N  messages for scenario 6 (default 10000, 297 MB)
#   --big-mb N         size of the scenario 5 message (default 50)
#   --only LIST        scenarios to run, comma-separated numbers or names:
#                      1|lmtp 2|smtp 3|mda 4|rtt 5|big (POP3)
#                      6|imap-mda 7|imap-lmtp 8|imap-rtt (IMAP)
#                      (default all)
#   --timeout S        kill a client run after S seconds (default 300;
#                      quick 120; scenario 6: at least 0.1 s a message
#                      unless given); counts as FAILED
#   --out FILE         report (default bench/RESULTS.md; with --quick
#                      bench/RESULTS-quick.md); FILE.tsv gets the raw runs
#   --no-out           print the report only
#   --no-ceiling       skip the "ceiling" runs (scenarios 1-4 and 6-8: the
#                      same messages delivered without POP3/IMAP by
#                      bench/ceiling.py, into the server or to the MDA
#                      through popen(3))
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
MBSYNC=$(command -v mbsync 2>/dev/null || echo mbsync)
QUICK=0 RUNS='' N_MANY='' N_RTT='' N_IMAP='' BIG_MB=50 TOTAL_MB_PER_1000=33
# The IMAP MDA set: the issue's 10 000 messages came to 297 MB.
IMAP_MB_PER_1000=29.7
ONLY='' TIMEOUT='' TIMEOUT_SET=0 OUT='' NO_OUT=0 DELAY_MS=10 CEILING=1

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
	--mbsync) need_arg "$@"; MBSYNC=$2; shift 2 ;;
	--mbsync=*) MBSYNC=${1#*=}; shift ;;
	--quick) QUICK=1; shift ;;
	--runs) need_arg "$@"; RUNS=$2; shift 2 ;;
	--messages) need_arg "$@"; N_MANY=$2; shift 2 ;;
	--rtt-messages) need_arg "$@"; N_RTT=$2; shift 2 ;;
	--imap-messages) need_arg "$@"; N_IMAP=$2; shift 2 ;;
	--big-mb) need_arg "$@"; BIG_MB=$2; shift 2 ;;
	--only) need_arg "$@"; ONLY=$2; shift 2 ;;
	--only=*) ONLY=${1#*=}; shift ;;
	--timeout) need_arg "$@"; TIMEOUT=$2; TIMEOUT_SET=1; shift 2 ;;
	--out) need_arg "$@"; OUT=$2; shift 2 ;;
	--no-out) NO_OUT=1; shift ;;
	--keep) export PEERS_KEEP=1; shift ;;
	--no-ceiling) CEILING=0; shift ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
done
if [ $QUICK = 1 ]; then
	: "${RUNS:=1}" "${N_MANY:=100}" "${N_RTT:=50}" "${N_IMAP:=300}"
	: "${TIMEOUT:=120}" "${OUT:=$BENCH_DIR/RESULTS-quick.md}"
fi
: "${RUNS:=3}" "${N_MANY:=1000}" "${N_RTT:=200}" "${N_IMAP:=10000}"
: "${TIMEOUT:=300}" "${OUT:=$BENCH_DIR/RESULTS.md}"
for v in RUNS N_MANY N_RTT N_IMAP TIMEOUT; do
	case ${!v} in ''|*[!0-9]*|0) die "$v must be a positive integer" ;; esac
done
[ "$N_RTT" -le "$N_MANY" ] || N_RTT=$N_MANY

SCENARIOS=''
IFS=, read -r -a _only <<<"${ONLY:-lmtp,smtp,mda,rtt,big,imap-mda,imap-lmtp,imap-rtt}"
for s in "${_only[@]}"; do
	case $s in
	1|lmtp) s=lmtp ;; 2|smtp) s=smtp ;; 3|mda) s=mda ;;
	4|rtt) s=rtt ;; 5|big) s=big ;;
	6|imap-mda) s=imap-mda ;; 7|imap-lmtp) s=imap-lmtp ;;
	8|imap-rtt) s=imap-rtt ;;
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
if has_scen mda || has_scen rtt || has_scen big; then
	if [ -z "$MPOP" ] || [ ! -x "$MPOP" ]; then
		die "mpop missing; run: bash bench/deps.sh"
	fi
fi
MBSYNC=$(abspath "$MBSYNC" 2>/dev/null)
if has_scen imap-mda || has_scen imap-rtt; then
	if [ -z "$MBSYNC" ] || [ ! -x "$MBSYNC" ]; then
		die "mbsync missing (package isync); run: bash bench/deps.sh"
	fi
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
LOAD_MAX=${LOAD_START%% *}
note_load() { # the highest 1-min load average seen after a client run
	LOAD_MAX=$(awk -v m="$LOAD_MAX" '{ print ($1 > m) ? $1 : m }' /proc/loadavg)
}
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
if has_scen imap-mda; then
	# The same generator and seed as the 1000 messages, scaled to the
	# issue's 10 000 messages in 297 MB (about 30 s for 10 000).
	imap_mb=$(awk -v n="$N_IMAP" -v t="$IMAP_MB_PER_1000" 'BEGIN { printf "%.3f", t * n / 1000 }')
	log "generating $N_IMAP messages ($imap_mb MB) for scenario 6"
	python3 "$BENCH_DIR/gen-mailbox.py" --count "$N_IMAP" --total-mb "$imap_mb" \
	    "$B/gen/imap" >&2 || die "gen-mailbox.py failed"
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

# kind SCEN: how the fetchmails deliver in SCEN: lmtp, smtp or mda.
kind() {
	case $1 in
	lmtp|imap-lmtp) echo lmtp ;; smtp) echo smtp ;; *) echo mda ;;
	esac
}
# proto SCEN: pop3 or imap.
proto() { case $1 in imap-*) echo imap ;; *) echo pop3 ;; esac; }

# reset_dest SCEN: empty the destination of SCEN.
reset_dest() {
	case $(kind "$1") in
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

# delivered SCEN N PROG DIR: "COUNT BYTES" at the destination (for SMTP,
# waits until Postfix has delivered N messages and its queue is empty;
# for mbsync, the message files it wrote, which its wrapper moved to
# DIR/got).
delivered() {
	local scen=$1 n=$2 d
	if [ "$3" = mbsync ]; then
		echo "$(find "$4/got" -type f | wc -l) $(dir_bytes "$4/got")"
		return
	fi
	case $(kind "$scen") in
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

# The latency proxies in front of Dovecot's POP3 and IMAP ports.
# start_proxy NAME PORT: sets PROXY_PORT.
start_proxy() {
	python3 "$BENCH_DIR/latency-proxy.py" --delay-ms "$DELAY_MS" \
	    --connect "127.0.0.1:$2" --port-file "$B/$1.port" \
	    >"$B/$1.log" 2>&1 &
	peers_register_pid $!
	peers_wait_until 10 test -s "$B/$1.port" || die "latency proxy did not start"
	PROXY_PORT=$(cat "$B/$1.port")
}
POP3_PROXY_PORT='' IMAP_PROXY_PORT=''
if has_scen rtt; then
	start_proxy proxy "$DOVECOT_POP3_PORT"; POP3_PROXY_PORT=$PROXY_PORT
fi
if has_scen imap-rtt; then
	start_proxy imap-proxy "$DOVECOT_IMAP_PORT"; IMAP_PROXY_PORT=$PROXY_PORT
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

# imap_rtt PORT: median IMAP round trip (NOOP) in ms through PORT.
imap_rtt() {
	python3 - "$1" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = s.makefile("rb")
f.readline()
ts = []
for i in range(21):
    t = time.perf_counter()
    s.sendall(b"a%d NOOP\r\n" % i)
    while not f.readline().startswith(b"a%d " % i):
        pass
    ts.append(time.perf_counter() - t)
s.sendall(b"z LOGOUT\r\n")
print("%.2f" % (sorted(ts)[10] * 1000))
EOF
}

# ---------------------------------------------------------------- clients

# write_config PROG SCEN PORT DIR: the rcfile (fetchmail), mpoprc, or
# mbsyncrc and the fetch-and-delete wrapper DIR/fetch.sh (mbsync).
write_config() {
	local prog=$1 scen=$2 port=$3 dir=$4 deliver is=bob
	case $(kind "$scen") in
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
	elif [ "$prog" = mbsync ]; then
		# mbsync mirrors a mailbox; "fetch and delete" takes two
		# passes: pass 1 pulls the new messages into the near Maildir,
		# a consumer takes them (moves them to DIR/got, which stands in
		# for the MDA), pass 2 sees them gone from the near side and
		# propagates that to the server (PushDelete: \Deleted, then
		# Expunge Far).  FSync no: the fetchmails' MDA does not fsync
		# either.  The take backdates the Maildir's directories by 2 s:
		# mbsync sleeps up to 1 s when it finds a Maildir directory
		# modified in the current second (its guard against lost
		# updates), an artefact of running the passes back to back.
		mkdir -p "$dir/near" "$dir/got"
		cat >"$dir/mbsyncrc" <<-EOF
		FSync no

		IMAPAccount bench
		Host 127.0.0.1
		Port $port
		User alice
		Pass secret
		SSLType None
		AuthMechs LOGIN

		IMAPStore far
		Account bench

		MaildirStore near
		Path $dir/near/
		Inbox $dir/near/INBOX
		SubFolders Verbatim

		Channel bench
		Far :far:INBOX
		Near :near:INBOX
		Create Near
		Sync PullNew PushDelete
		Expunge Far
		SyncState *
		EOF
		chmod 600 "$dir/mbsyncrc"
		cat >"$dir/fetch.sh" <<-EOF
		#!/bin/sh
		# fetch and delete with mbsync: pull, take, delete (see run.sh)
		$MBSYNC -c $dir/mbsyncrc -q bench || exit \$?
		cd $dir/near/INBOX || exit 3
		find new cur -type f -exec mv -t $dir/got {} + || exit 3
		touch -d @\$((\$(date +%s) - 2)) new cur tmp . || exit 3
		exec $MBSYNC -c $dir/mbsyncrc -q bench
		EOF
		chmod 700 "$dir/fetch.sh"
	else
		cat >"$dir/rc" <<-EOF
		poll 127.0.0.1 port $port proto $(proto "$scen")
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
	ceiling) bin=$(command -v python3) ;; mbsync) bin=/bin/sh ;;
	esac
	cmd=(env -i HOME="$dir/home" PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
	    timeout -k 5 "$RUN_TIMEOUT" /usr/bin/time -v -o "$dir/time.txt" "$bin")
	case $prog in
	mpop) cmd+=(-C "$dir/mpoprc" -q bench) ;;
	mbsync) cmd+=("$dir/fetch.sh") ;;
	ceiling)
		cmd+=("$BENCH_DIR/ceiling.py")
		case $(kind "$scen") in
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
	# The reference needs minutes for 10 000 IMAP messages.
	RUN_TIMEOUT=$TIMEOUT
	if [ "$scen" = imap-mda ] && [ "$TIMEOUT_SET" = 0 ] &&
	    [ $((n / 10)) -gt "$TIMEOUT" ]; then
		RUN_TIMEOUT=$((n / 10))
	fi
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
			note_load
			read -r got bytes < <(delivered "$scen" "$n" "$p" "$dir")
			# mbsync's copies: up to 300 MB a run, not kept.
			[ "$p" = mbsync ] && [ "${PEERS_KEEP:-0}" != 1 ] &&
			    rm -rf "$dir/got" "$dir/near" 
			[ "$p" = ceiling ] || left=$(dovecot_count alice)
			st=ok
			if [ "$EXIT" = 124 ] || [ "$EXIT" = 137 ]; then
				st="FAILED: killed after ${RUN_TIMEOUT}s"
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
has_scen rtt && { log "scenario 4: $N_RTT messages at $((2 * DELAY_MS)) ms RTT -> MDA"; scenario rtt "$B/gen/rtt" "$POP3_PROXY_PORT" "${progs[@]}" mpop "${ceil[@]}"; }
has_scen big && { log "scenario 5: one ${BIG_MB} MB message -> MDA"; scenario big "$B/gen/big" "$DOVECOT_POP3_PORT" "${progs[@]}" mpop; }
has_scen imap-mda && { log "scenario 6: IMAP -> MDA, $N_IMAP messages"; scenario imap-mda "$B/gen/imap" "$DOVECOT_IMAP_PORT" "${progs[@]}" mbsync "${ceil[@]}"; }
has_scen imap-lmtp && { log "scenario 7: IMAP -> LMTP, $N_MANY messages"; scenario imap-lmtp "$B/gen/many" "$DOVECOT_IMAP_PORT" "${progs[@]}" "${ceil[@]}"; }
has_scen imap-rtt && { log "scenario 8: IMAP, $N_RTT messages at $((2 * DELAY_MS)) ms RTT -> MDA"; scenario imap-rtt "$B/gen/rtt" "$IMAP_PROXY_PORT" "${progs[@]}" mbsync "${ceil[@]}"; }

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
meta load "load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end, 1-min peak $LOAD_MAX after a run (1/5/15 min; other work on the machine skews the figures)"
if [ $HAVE_OURS = 1 ]; then
	meta ours "$FETCHMAIL: $(first_line "$FETCHMAIL" --version)"
else
	meta ours "$FETCHMAIL: not found, not measured"
fi
meta reference "$REFERENCE: $(first_line "$REFERENCE" --version)"
if has_scen mda || has_scen rtt || has_scen big; then
	meta mpop "$MPOP: $(first_line "$MPOP" --version)"
fi
if has_scen imap-mda || has_scen imap-rtt; then
	meta mbsync "$MBSYNC: $(first_line "$MBSYNC" --version)"
fi
meta dovecot "$(dovecot --version 2>/dev/null)"
has_scen smtp && meta postfix "$(postconf -d -h mail_version 2>/dev/null)"
meta python "$(python3 --version 2>&1)"
read -r n s w < <(set_sizes "$B/gen/many")
meta setup "mailbox: $n generated messages (bench/gen-mailbox.py, seed 1), $s bytes, sizes $(ls -l "$B/gen/many" | awk 'NR > 1 { print $5 }' | sort -n | awk '{ a[NR] = $1 } END { printf "%d / %d / %d bytes min / median / max", a[1], a[int((NR + 1) / 2)], a[NR] }'); Dovecot $(dovecot --version 2>/dev/null | cut -d' ' -f1) POP3 and IMAP on 127.0.0.1 (plain, no TLS; fetchmail rcfiles \`proto pop3\` or \`proto imap\`, \`sslproto ''\`, \`fetchall nokeep\`), Maildir refilled and indexed before each run, outside the timing"
meta setup "$RUNS run(s) per program and scenario, programs alternating (ours, reference, mpop or mbsync, ceiling, ours, ...); a program is not run again in a scenario after a FAILED run"
meta setup "delivery: LMTP to Dovecot (user dest); SMTP to Postfix $(postconf -d -h mail_version 2>/dev/null) into a Maildir (waiting for Postfix's delivery is not timed); MDA \`wc -c >>FILE\` (one line a message: the count and bytes are checked)"
meta setup "a run counts only if the destination got all N messages, at least as many bytes as were sent, and the server's mailbox is empty afterwards (nokeep)"
if has_scen rtt; then
	read -r n s w < <(set_sizes "$B/gen/rtt")
	meta setup "scenario 4: the first $n of the messages ($s bytes) through bench/latency-proxy.py, $DELAY_MS ms each way; POP3 CAPA round trip measured through it: median $(pop3_rtt "$POP3_PROXY_PORT") ms (direct: $(pop3_rtt "$DOVECOT_POP3_PORT") ms)"
fi
if has_scen big; then
	read -r n s w < <(set_sizes "$B/gen/big")
	meta setup "scenario 5: one message of $s bytes (a base64 attachment), peak RSS from /usr/bin/time -v"
fi
if has_scen imap-mda; then
	read -r n s w < <(set_sizes "$B/gen/imap")
	meta setup "scenario 6: IMAP, $n generated messages (bench/gen-mailbox.py --count $n --total-mb $imap_mb, seed 1), $s bytes, sizes $(ls -l "$B/gen/imap" | awk 'NR > 1 { print $5 }' | sort -n | awk '{ a[NR] = $1 } END { printf "%d / %d / %d bytes min / median / max", a[1], a[int((NR + 1) / 2)], a[NR] }'), to the MDA"
fi
has_scen imap-lmtp && meta setup "scenario 7: IMAP, the $N_MANY messages of scenarios 1-3, into Dovecot's LMTP (user dest)"
if has_scen imap-rtt; then
	read -r n s w < <(set_sizes "$B/gen/rtt")
	meta setup "scenario 8: IMAP, the first $n of the messages ($s bytes, as scenario 4) through bench/latency-proxy.py, $DELAY_MS ms each way, to the MDA; IMAP NOOP round trip measured through it: median $(imap_rtt "$IMAP_PROXY_PORT") ms (direct: $(imap_rtt "$DOVECOT_IMAP_PORT") ms)"
fi
if has_scen imap-mda || has_scen imap-rtt; then
	meta setup "mbsync ($(first_line "$MBSYNC" --version)) runs no MDA: it writes a Maildir.  \"Fetch and delete\" is two mbsync passes in one timed shell script: pass 1 (\`Sync PullNew PushDelete\`, \`Expunge Far\`, \`SyncState *\`, \`FSync no\` as the MDA does not fsync either) copies the new messages into a local Maildir, \`find ... -exec mv\` takes them out (counted and checked like the MDA's output) and backdates the Maildir's directory times by 2 s (else pass 2 sleeps up to 1 s: mbsync's guard against same-second Maildir changes), pass 2 sees them gone, marks them \\\\Deleted on the server (one pipelined UID STORE each) and expunges; AuthMechs LOGIN, SSLType None"
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
