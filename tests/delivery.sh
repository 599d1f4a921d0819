#!/usr/bin/env bash
# Delivery failures (TAP): what becomes of a message when the SMTP/LMTP
# listener or the MDA says no, at every stage, under softbounce,
# bouncemail, antispam and spambounce -- checked for $FETCHMAIL and, row
# by row, for the reference fetchmail on the same scenario.
#
# Each row of the TABLE below: a fresh tests/peers/faultpeer.py (POP3
# server with one message m1 from sender1@example.org, SMTP and LMTP
# sinks) whose listener answers one stage with the given code; one poll;
# then tests/delivery_judge.py reduces the run to
#     EXIT FATE DELIV BOUNCE LOG DSN
# (exit status; m1 kept on the server or deleted; who the listener
# accepted a copy for; every bounce: recipient and Reason; which of the
# reference's log lines appeared; whether each bounce parses as an RFC
# 3464 report with the right Status -- see the judge for the letters).
# Our run must give the expected columns exactly.  The reference's run
# must give the same, except the columns a row's REF field overrides:
# those are the deliberate differences, each explained there.
#
# The reference always sends its bounces to localhost:25.  The test
# therefore re-executes itself in a private network namespace (unshare
# -n; root) where a second faultpeer listens on 127.0.0.1:25.  Without
# that, reference runs and the rows whose bounces go to port 25 (ours:
# LMTP) are skipped.
#
# Then: a real Postfix refusing unknown recipients (550 at RCPT; the
# bounce and the postmaster copy delivered into its Maildirs), MDA exit
# codes (0, 1, 75, a signal, an MDA that stops reading), ESMTP AUTH to
# the listener (PLAIN, LOGIN, CRAM-MD5, and broken 334 replies), and the
# SMTP hunt list.
#
# Environment: FETCHMAIL (ours), REF_FETCHMAIL (default /usr/bin/fetchmail),
# DELIVERY_ONLY (regex on row names), PEERS_KEEP=1.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
FETCHMAIL=${FETCHMAIL:-${top_builddir:-$top}/fetchmail}
REF=${REF_FETCHMAIL:-/usr/bin/fetchmail}
ONLY=${DELIVERY_ONLY:-}

if [ -z "${DELIVERY_IN_NS:-}" ] && [ "$(id -u)" = 0 ] &&
    command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 &&
    unshare -n true 2>/dev/null; then
	DELIVERY_IN_NS=1 exec unshare -n bash "$0" "$@"
fi
HAVE25=
if [ -n "${DELIVERY_IN_NS:-}" ] && ip link set lo up 2>/dev/null; then
	HAVE25=1
fi

# shellcheck source=tests/peers/lib.sh disable=SC1091
. "$top/tests/peers/lib.sh"
if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
if [ ! -x "$FETCHMAIL" ]; then
	echo "1..0 # SKIP $FETCHMAIL not executable"
	exit 0
fi
HAVEREF=
[ -n "$HAVE25" ] && [ -x "$REF" ] && HAVEREF=1
FAULTPEER_PYTHON=$(python3 -c 'import sys; print(sys.executable)')
export FAULTPEER_PYTHON
JUDGE=$top/tests/delivery_judge.py
peers_init || { echo "1..0 # SKIP no temporary directory"; exit 0; }

# ---------------------------------------------------------------- table
# NAME SETTINGS FAULT | EXIT FATE DELIV BOUNCE LOG | REF
#  SETTINGS  comma list: def nosoft nobounce spamb anti (571 550 501 554)
#            anti451 noanti (antispam -1) pm=NAME (set postmaster)
#            lmtp keep md (sender MAILER-DAEMON@example.org) null
#            (Return-Path: <>) smtpaddress=DOM
#  FAULT     STEP:CODE (first time only), STEP:CODE* (every time; RCPT
#            only for recipients @127.0.0.1, so that bounces to the
#            sender still go through), EODMULTI5 / EODMULTI4 (a two-line 550 /
#            451 after the final dot).  Reply text "C.x.y fault at STEP"
#  REF       = (the reference gives the same), or FIELD=VALUE;... that it
#            gives instead (a deliberate difference, reason in the note)
TABLE=$(cat <<'EOF'
greet-421      def       GREETING:421  0  del  user - -      =
ehlo-421       def       EHLO:421*     10 keep -    - X      =
ehlo-550-once  def       EHLO:550      0  del  user - -      =
mail-451       def       MAIL:451      0  keep -    - E      =
mail-530       def       MAIL:530      0  keep -    - ET     =
mail-550       def       MAIL:550      0  keep -    sender:general BE =
mail-552       def       MAIL:552      0  keep -    sender:large   BE =
mail-553       def       MAIL:553      0  keep -    - E      =
mail-571       def       MAIL:571      0  keep -    sender:general BE =
rcpt-451       def       RCPT:451      0  keep -    - E      =
rcpt-530       def       RCPT:530      0  del  pm   sender:rcpt BE =
rcpt-550       def       RCPT:550      0  del  pm   sender:rcpt BE =
rcpt-552       def       RCPT:552      0  del  pm   sender:rcpt BE =
rcpt-553       def       RCPT:553      0  del  pm   - E      =
rcpt-554       def       RCPT:554      0  del  pm   sender:rcpt BE =
rcpt-550-pm    def       RCPT:550*     0  keep -    sender:rcpt BEP =
data-451       def       DATA:451      0  keep -    - E      =
data-530       def       DATA:530      0  keep -    - ET     =
data-552       def       DATA:552      0  keep -    sender:large BE =
data-554       def       DATA:554      0  keep -    sender:general BE =
eod-451        def       EOD:451       0  keep -    - E      =
eod-530        def       EOD:530       0  keep -    - ET     =
eod-552        def       EOD:552       0  keep -    sender:large BER =
eod-553        def       EOD:553       0  keep -    - ER     =
eod-554        def       EOD:554       0  keep -    sender:general BER =
eod-550-multi  def       EODMULTI5     0  keep -    sender:general BER =
eod-451-multi  def       EODMULTI4     0  keep -    - E      =
ns-mail-550    nosoft    MAIL:550      0  del  -    sender:general BE =
ns-mail-553    nosoft    MAIL:553      0  del  -    - E      =
ns-mail-530    nosoft    MAIL:530      0  keep -    - ET     =
ns-rcpt-451    nosoft    RCPT:451      0  keep -    - E      =
ns-rcpt-550    nosoft    RCPT:550      0  del  pm   sender:rcpt BE =
ns-rcpt-550-pm nosoft    RCPT:550*     0  del  -    sender:rcpt BEP =
ns-data-451    nosoft    DATA:451      0  keep -    - E      =
ns-eod-554     nosoft    EOD:554       0  del  -    sender:general BER =
ns-eod-553     nosoft    EOD:553       0  del  -    - ER     =
nb-mail-550    nobounce  MAIL:550      0  keep -    - E      =
nb-rcpt-550    nobounce  RCPT:550      0  del  pm   postmaster:rcpt BE =
nb-rcpt-552    nobounce  RCPT:552      0  del  pm   - E      =
nb-rcpt-550-pm nobounce  RCPT:550*     0  keep -    postmaster:rcpt BEP =
nb-eod-554     nobounce  EOD:554       0  keep -    - ER     =
nb-pmx-rcpt    nobounce,pm=pmx RCPT:550 0 del pmx@127.0.0.1 pmx:rcpt BE =
pmempty-rcpt   pm=       RCPT:550*     0  keep -    sender:rcpt BE =
as-mail-571    anti      MAIL:571      0  keep -    - -      =
as-mail-550    anti      MAIL:550      0  keep -    - -      =
as-mail-552    anti      MAIL:552      0  keep -    sender:large BE =
as-rcpt-550    anti      RCPT:550      0  del  pm   - -      =
as-rcpt-571    anti      RCPT:571      0  del  pm   - -      =
as-rcpt-553    anti      RCPT:553      0  del  pm   - E      =
as-data-554    anti      DATA:554      0  keep -    - -      =
as-eod-554     anti      EOD:554       0  keep -    - R      =
as-eod-multi   anti      EODMULTI5     0  keep -    - R      =
asns-mail-571  anti,nosoft MAIL:571    0  del  -    - -      =
asns-eod-554   anti,nosoft EOD:554     0  del  -    - R      =
sb-mail-571    anti,spamb MAIL:571     0  keep -    sender:spam B =
sb-rcpt-571    anti,spamb RCPT:571     0  del  pm   sender:rcpt B =
sb-eod-554     anti,spamb EOD:554      0  keep -    sender:spam BR =
noanti-mail    noanti    MAIL:571      0  keep -    sender:general BE =
as451-mail-451 anti451,nosoft MAIL:451 0  del  -    - -      =
md-mail-554    md        MAIL:554      0  keep -    - E      =
md-rcpt-550    md        RCPT:550      0  del  pm   - E      =
null-mail-554  null      MAIL:554      0  keep -    - E      =
null-rcpt-550  null      RCPT:550      0  del  pm   - E      =
keep-rcpt-550  keep      RCPT:550      0  keep pm   sender:rcpt BE =
sa-rcpt-550    smtpaddress=example.com RCPT:550 0 del postmaster@example.com sender:rcpt BE =
l-mail-451     lmtp      MAIL:451      0  keep -    - E      =
l-mail-554     lmtp      MAIL:554      0  keep -    sender:general BE =
l-rcpt-451     lmtp      RCPT:451      0  keep -    - E      =
l-rcpt-550     lmtp      RCPT:550      0  del  pm   sender:rcpt BE fate=keep;log=BEU
l-data-554     lmtp      DATA:554      0  keep -    sender:general BE =
l-eod-451      lmtp      EOD:451       0  keep -    - E      fate=del;bounce=sender:lmtp;log=BE
l-eod-550      lmtp      EOD:550       0  keep -    sender:general BE fate=del
l-eod-552      lmtp      EOD:552       0  keep -    sender:large BE fate=del
l-eod-553      lmtp      EOD:553       0  keep -    - E      fate=del
l-ns-eod-550   lmtp,nosoft EOD:550     0  del  -    sender:general BE =
l-as-eod-554   lmtp,anti EOD:554       0  keep -    - -      fate=del
EOF
)
# Deliberate differences (REF column):
#   l-rcpt-550   6.4.37 hands the message to the postmaster after the
#                recipient's 550, the LMTP server delivers it, and then it
#                misreads that 250 ("Unexpected non-503 response to LMTP
#                EOM") and keeps the message: the postmaster gets it again
#                at every poll.  We count the delivery.
#   l-eod-*      6.4.37 takes an LMTP recipient's failure after the dot as
#                final: bounce and delete, even for a 4xx and even with
#                softbounce (the 6.4.34 softbounce fix missed LMTP).  We
#                keep a 4xx for the next poll and apply softbounce to a
#                5xx exactly as for SMTP (design: RELIABILITY I6).

# Rows not run against the reference at all (deliberate, see the report):
#   the listener's 421 at MAIL: ours reconnects once and delivers (an idle
#   listener hanging up is the usual cause); 6.4.37 keeps the message.

# ---------------------------------------------------------------- helpers

NULLMSG=$PEERS_TMP/null.eml
printf 'Return-Path: <>\r\nFrom: Mailer <someone@example.org>\r\nTo: alice@example.org\r\nSubject: null sender\r\nX-Fault-Id: m1\r\n\r\nbody\r\n' >"$NULLMSG"

# fault_json STEP:CODE[*] | EODMULTI5 | EODMULTI4 SIDE -> faults JSON list
fault_json() {
	local spec=$1 side=$2 step code every= c0 text
	case $spec in
	EODMULTI5)
		echo "[{\"side\":\"$side\",\"step\":\"EOD\",\"action\":\"reply\",\"text\":\"550-5.7.1 first line\\n550 5.7.1 second line\"}]"
		return ;;
	EODMULTI4)
		echo "[{\"side\":\"$side\",\"step\":\"EOD\",\"action\":\"reply\",\"text\":\"451-4.3.0 first line\\n451 4.3.0 second line\"}]"
		return ;;
	esac
	step=${spec%%:*} code=${spec#*:}
	case $code in *'*') every=1 code=${code%'*'} ;; esac
	c0=${code:0:1}
	text="$c0.7.1 fault at $step"
	[ "$step" = RCPT ] && text="$c0.1.1 fault at $step"
	[ "$c0" = 4 ] && text="4.3.0 fault at $step"
	if [ -n "$every" ] && [ "$step" = RCPT ]; then
		echo "[{\"side\":\"$side\",\"step\":\"$step\",\"action\":\"${c0}xx\",\"code\":$code,\"text\":\"$text\",\"times\":0,\"match\":\"@127.0.0.1\"}]"
	elif [ -n "$every" ]; then
		echo "[{\"side\":\"$side\",\"step\":\"$step\",\"action\":\"${c0}xx\",\"code\":$code,\"text\":\"$text\",\"times\":0}]"
	else
		echo "[{\"side\":\"$side\",\"step\":\"$step\",\"action\":\"${c0}xx\",\"code\":$code,\"text\":\"$text\"}]"
	fi
}

# expected_status FAULT: the Status a bounce for that fault must carry.
expected_status() {
	case $1 in
	EODMULTI*) echo 5.7.1 ;;
	RCPT:*) echo "${1:5:1}.1.1" ;;
	*:4*) echo 4.3.0 ;;
	*) echo "${1#*:}" | cut -c1 | sed 's/$/.7.1/' ;;
	esac
}

# run_row BIN DIR SETTINGS FAULT: one poll; prints the judge's line.
run_row() {
	local bin=$1 dir=$2 settings=$3 fault=$4 side=smtp glob= uopt= host
	local msg= scen st=-
	mkdir -p "$dir"
	local IFS=,
	for t in $settings; do
		case $t in
		def) ;;
		nosoft) glob="$glob
set no softbounce" ;;
		nobounce) glob="$glob
set no bouncemail" ;;
		spamb) glob="$glob
set spambounce" ;;
		pm=*) glob="$glob
set postmaster \"${t#pm=}\"" ;;
		anti) uopt="$uopt antispam 571 550 501 554" ;;
		anti451) uopt="$uopt antispam 451" ;;
		noanti) uopt="$uopt antispam -1" ;;
		keep) uopt="$uopt keep" ;;
		smtpaddress=*) uopt="$uopt smtpaddress ${t#smtpaddress=}" ;;
		lmtp) side=lmtp ;;
		md) msg=md ;;
		null) msg=null ;;
		esac
	done
	unset IFS
	scen="{\"faults\": $(fault_json "$fault" "$side")"
	case $msg in
	md) scen="$scen, \"messages\": 1, \"sender\": \"MAILER-DAEMON@example.org\"}" ;;
	null) scen="$scen, \"message_files\": [\"$NULLMSG\"]}" ;;
	*) scen="$scen, \"messages\": 1}" ;;
	esac
	echo "$scen" >"$dir/scen.json"
	if [ -n "$HAVE25" ]; then
		faultpeer_start "$dir/b" --messages 0 --smtp-port 25 ||
		    { echo "faultpeer on port 25: $PEERS_WHY"; return 1; }
	fi
	faultpeer_start "$dir/p" --scenario "$dir/scen.json" ||
	    { echo "faultpeer: $PEERS_WHY"; return 1; }
	if [ "$side" = lmtp ]; then
		host="smtphost 127.0.0.1/$FAULTPEER_LMTP_PORT lmtp"
	else
		host="smtphost 127.0.0.1/$FAULTPEER_SMTP_PORT"
	fi
	cat >"$dir/rc" <<RC
$glob
poll 127.0.0.1 protocol pop3 service $FAULTPEER_POP3_PORT
  user alice password secret is fmtest here sslproto ''
  $host
  $uopt
RC
	PEERS_FETCHMAIL_ENV="USER=fmtest LOGNAME=fmtest" PEERS_FETCHMAIL_TIMEOUT=30 \
	    peers_fetchmail "$bin" "$dir/home" "$dir/rc" >"$dir/out" 2>"$dir/err"
	local ex=$?
	faultpeer_idle 10 "$dir/p"
	faultpeer_stop "$FAULTPEER_PID"
	if [ -n "$HAVE25" ]; then
		faultpeer_idle 10 "$dir/b"
		faultpeer_stop "$(cat "$dir/b/pid")"
	fi
	[ "$bin" = "$FETCHMAIL" ] && st=$(expected_status "$fault")
	if [ "$st" = - ]; then
		python3 "$JUDGE" "$dir" "$ex"
	else
		python3 "$JUDGE" "$dir" "$ex" --strict "$st"
	fi
}

# apply_ref EXPECTED OVERRIDES: EXPECTED (EXIT FATE DELIV BOUNCE LOG)
# with FIELD=VALUE;... replaced.
apply_ref() {
	local e=$1 o=$2 ex fate deliv bounce log kv
	read -r ex fate deliv bounce log <<<"$e"
	local IFS=';'
	for kv in $o; do
		case $kv in
		exit=*) ex=${kv#*=} ;;
		fate=*) fate=${kv#*=} ;;
		deliv=*) deliv=${kv#*=} ;;
		bounce=*) bounce=${kv#*=} ;;
		log=*) log=${kv#*=} ;;
		esac
	done
	echo "$ex $fate $deliv $bounce $log"
}

# ---------------------------------------------------------------- plan

rows=()
while read -r name settings fault ex fate deliv bounce log ref; do
	case $name in ''|'#'*) continue ;; esac
	[ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]] && continue
	rows+=("$name|$settings|$fault|$ex $fate $deliv $bounce $log|$ref")
done <<<"$TABLE"

do_postfix=
peers_have postfix && [ -n "${DELIVERY_IN_NS:-}" ] &&
    { [ -z "$ONLY" ] || [[ postfix =~ $ONLY ]]; } && do_postfix=1
MDA_ROWS=(
	"mda-0|cat >/dev/null|small|del|-"
	"mda-1|cat >/dev/null; exit 1|small|keep|MDA returned nonzero status 1"
	"mda-75|cat >/dev/null; exit 75|small|keep|MDA returned nonzero status 75"
	"mda-kill|cat >/dev/null; kill -9 \$\$|small|keep|MDA died of signal 9"
	"mda-kill-big|kill -9 \$\$|big|keep|error writing message text"
	"mda-stopread|head -c 10 >/dev/null|big|keep|error writing message text"
)
AUTH_ROWS=(
	"auth-plain|PLAIN|-|ok PLAIN"
	"auth-login|LOGIN|-|ok LOGIN"
	"auth-cram|CRAM-MD5 PLAIN LOGIN|-|ok CRAM-MD5"
	"auth-bare334-cram|CRAM-MD5|334|-"
	"auth-bare334sp-login|LOGIN|334 |-"
	"auth-junk334-cram|CRAM-MD5|334 !!not base64!!|-"
	"auth-multi334-plain|PLAIN|334-x\\n334 y|-"
	"auth-refused|PLAIN|535 5.7.8 no|-"
)
n_ref=0
[ -n "$HAVEREF" ] && n_ref=${#rows[@]}
plan=$(( 2 * ${#rows[@]} + n_ref ))
if [ -z "$ONLY" ] || [[ mda =~ $ONLY ]]; then
	plan=$(( plan + 3 * ${#MDA_ROWS[@]} ))
else
	MDA_ROWS=()
fi
if [ -z "$ONLY" ] || [[ auth =~ $ONLY ]]; then
	plan=$(( plan + 2 * ${#AUTH_ROWS[@]} ))
else
	AUTH_ROWS=()
fi
do_hunt=
if [ -z "$ONLY" ] || [[ hunt =~ $ONLY ]]; then
	do_hunt=1; plan=$((plan + 2))
fi
[ -n "$do_postfix" ] && plan=$((plan + 4))
do_warn=
if [ -z "$ONLY" ] || [[ warn =~ $ONLY ]]; then
	do_warn=1; plan=$((plan + 6))
fi
echo "1..$plan"
# shellcheck source=tests/tap.sh disable=SC1091
. "$top/tests/tap.sh"
[ -n "$HAVE25" ] || echo "# no private network namespace: reference runs and port-25 bounces skipped"

# ---------------------------------------------------------------- the table

for row in "${rows[@]}"; do
	IFS='|' read -r name settings fault expect ref <<<"$row"
	got=$(run_row "$FETCHMAIL" "$PEERS_TMP/$name" "$settings" "$fault")
	read -r gex gfate gdeliv gbounce glog gdsn <<<"$got"
	wbounce=$(echo "$expect" | cut -d' ' -f4)
	port25=
	[[ $settings == *lmtp* ]] && [ "$wbounce" != - ] && port25=1
	if [ -z "$HAVE25" ] && [ -n "$port25" ]; then
		skip "$name: ours" "its bounce goes to port 25"
		skip "$name: DSN" "its bounce goes to port 25"
		continue
	fi
	if [ "$gex $gfate $gdeliv $gbounce $glog" = "$expect" ]; then
		ok "$name: ours: $expect"
	else
		notok "$name: ours" "expected: $expect" "got:      $got" \
		    "$(sed 's/^/out: /' "$PEERS_TMP/$name/out")" \
		    "$(sed 's/^/err: /' "$PEERS_TMP/$name/err")"
	fi
	if [ "$wbounce" = - ]; then
		if [ "$gdsn" = - ]; then ok "$name: no bounce"; else
			notok "$name: no bounce" "got: $got"; fi
	elif [ "$gdsn" = ok ]; then
		ok "$name: bounce is an RFC 3464 report with Status $(expected_status "$fault")"
	else
		notok "$name: bounce is an RFC 3464 report" "got: $got"
	fi
	[ -n "$HAVEREF" ] || continue
	want=$expect
	[ "$ref" != = ] && want=$(apply_ref "$expect" "$ref")
	rgot=$(run_row "$REF" "$PEERS_TMP/ref-$name" "$settings" "$fault")
	read -r rex rfate rdeliv rbounce rlog _ <<<"$rgot"
	if [ "$rex $rfate $rdeliv $rbounce $rlog" = "$want" ]; then
		if [ "$ref" = = ]; then
			ok "$name: reference: $want"
		else
			ok "$name: reference: $want (deliberate difference: $ref)"
		fi
	else
		notok "$name: reference" "expected: $want" "got:      $rgot" \
		    "$(sed 's/^/out: /' "$PEERS_TMP/ref-$name/out")" \
		    "$(sed 's/^/err: /' "$PEERS_TMP/ref-$name/err")"
	fi
done

# ---------------------------------------------------------------- MDA
# The reference: exit status != 0 or a signal keeps the message ("MDA
# returned nonzero status N", "MDA died of signal N", exit 0); an MDA
# that stops reading a message too big for the pipe ends the poll with
# "error writing message text" and status 6 (IOERR), message kept.
for row in "${MDA_ROWS[@]}"; do
	IFS='|' read -r name cmd size fate line <<<"$row"
	dir=$PEERS_TMP/$name
	mkdir -p "$dir"
	if [ "$size" = big ]; then
		faultpeer_start "$dir/p" --messages 1 --big 1:300000 >/dev/null
	else
		faultpeer_start "$dir/p" --messages 1 >/dev/null
	fi
	cat >"$dir/rc" <<RC
poll 127.0.0.1 protocol pop3 service $FAULTPEER_POP3_PORT
  user alice password secret is fmtest here sslproto ''
  mda "echo \$\$ >>$dir/pids; $cmd"
RC
	PEERS_FETCHMAIL_ENV="USER=fmtest" peers_fetchmail "$FETCHMAIL" \
	    "$dir/home" "$dir/rc" >"$dir/out" 2>"$dir/err"
	ex=$?
	faultpeer_idle 10 "$dir/p"
	faultpeer_stop "$FAULTPEER_PID"
	got=$(python3 "$JUDGE" "$dir" "$ex")
	read -r gex gfate _ <<<"$got"
	wex=0
	[ "$line" = "error writing message text" ] && wex=6
	if [ "$gfate" = "$fate" ] && [ "$gex" = "$wex" ]; then
		ok "$name: message $fate, exit $wex"
	else
		notok "$name: message $fate, exit $wex" "got: $got" "$(cat "$dir/err")"
	fi
	if [ "$line" = - ] && ! grep -v 'Running as root' "$dir/err" | grep -q .; then
		ok "$name: no error"
	elif [ "$line" != - ] && grep -qF "$line" "$dir/out" "$dir/err"; then
		ok "$name: says \"$line\""
	else
		notok "$name: says \"$line\"" "$(cat "$dir/out" "$dir/err")"
	fi
	# every MDA process was reaped: none of them is alive or a zombie
	left=
	while read -r pid; do
		[ -e "/proc/$pid" ] && left="$left $pid"
	done <"$dir/pids"
	if [ -s "$dir/pids" ] && [ -z "$left" ]; then
		ok "$name: MDA reaped"
	else
		notok "$name: MDA reaped" "still there:$left" "$(cat "$dir/pids" 2>/dev/null)"
	fi
done


# delivered_run DIR DESC [ARG...]: run fetchmail on DIR/rc against the
# fault peer in DIR/p, stop the peer, judge the outcome: DESC passes when
# fetchmail exited 0 and the peer took the message for the user.  Leaves
# $ex and $got for later checks.
delivered_run() {
	local dir=$1 desc=$2 gex gfate gdeliv
	shift 2
	PEERS_FETCHMAIL_ENV="USER=fmtest" peers_fetchmail "$FETCHMAIL" \
	    "$dir/home" "$dir/rc" "$@" >"$dir/out" 2>"$dir/err"
	ex=$?
	faultpeer_idle 10 "$dir/p"
	faultpeer_stop "$FAULTPEER_PID"
	got=$(python3 "$JUDGE" "$dir" "$ex")
	read -r gex gfate gdeliv _ <<<"$got"
	if [ "$gex $gfate $gdeliv" = "0 del user" ]; then
		ok "$desc"
	else
		notok "$desc" "got: $got" "$(tail -5 "$dir/err")"
	fi
}
# ---------------------------------------------------------------- AUTH
# esmtpname/esmtppassword against a listener offering MECHS: the right
# mechanism authenticates (the peer logs "AUTH ok MECH"); a broken 334
# (CVE-2025-61962) or a refusal does not crash, and the message is
# delivered anyway (the listener here does not insist on AUTH).
for row in "${AUTH_ROWS[@]}"; do
	IFS='|' read -r name mechs reply want <<<"$row"
	dir=$PEERS_TMP/$name
	mkdir -p "$dir"
	ml=$(printf '"%s",' $mechs)
	if [ "$reply" = - ]; then
		faults='[]'
	else
		faults="[{\"side\":\"smtp\",\"step\":\"AUTH\",\"action\":\"reply\",\"text\":\"$reply\"}]"
	fi
	echo "{\"messages\": 1, \"smtp_auth\": [${ml%,}], \"smtp_auth_user\": \"fm user\", \"smtp_auth_password\": \"p^a s\", \"faults\": $faults}" >"$dir/scen.json"
	faultpeer_start "$dir/p" --scenario "$dir/scen.json" >/dev/null
	cat >"$dir/rc" <<RC
poll 127.0.0.1 protocol pop3 service $FAULTPEER_POP3_PORT
  esmtpname "fm user" esmtppassword "p^a s"
  user alice password secret is fmtest here sslproto ''
  smtphost 127.0.0.1/$FAULTPEER_SMTP_PORT
RC
	delivered_run "$dir" "$name: delivered, exit 0" -v
	authl=$(awk '$4 == "AUTH"' "$dir/p/events.log" | cut -d' ' -f5- | head -1)
	if [ "$want" = - ]; then
		if [ -z "$authl" ] && ! grep -q 'p^a' "$dir/out"; then
			ok "$name: not authenticated, no secret in the transcript"
		else
			notok "$name: not authenticated" "$authl"
		fi
	elif [ "$authl" = "$want fm user" ] && ! grep -q 'p^a' "$dir/out"; then
		ok "$name: authenticated with ${want#ok }, secret masked"
	else
		notok "$name: authenticated with ${want#ok }" "peer: $authl" \
		    "$(grep -i 'auth' "$dir/out")"
	fi
done

# ---------------------------------------------------------------- hunt list
# A host that refuses the connection is skipped for the next one.
if [ -n "$do_hunt" ]; then
	dir=$PEERS_TMP/hunt
	mkdir -p "$dir"
	faultpeer_start "$dir/p" --messages 1 >/dev/null
	peers_free_port closed
	cat >"$dir/rc" <<RC
poll 127.0.0.1 protocol pop3 service $FAULTPEER_POP3_PORT
  user alice password secret is fmtest here sslproto ''
  smtphost 127.0.0.1/$closed 127.0.0.1/$FAULTPEER_SMTP_PORT
RC
	delivered_run "$dir" "hunt: second host took the message"
	if grep -q "127.0.0.1/$closed" "$dir/err"; then
		ok "hunt: the refused host is reported"
	else
		notok "hunt: the refused host is reported" "$(cat "$dir/err")"
	fi
fi

# ---------------------------------------------------------------- warnings
# limit 100 with two bigger messages: a detached daemon (-d 1) mails the
# local user one "oversized-messages warning" listing both (each message
# is reported once; warnings 3600); in the foreground (-N) or a single
# run there is none.  The daemon is stopped with --quit after three
# polls (counted by the peer, no sleeping).

# pop3_conns DIR: POP3 connections the peer in DIR has seen.
pop3_conns() {
	sed -n 's/^pop3 //p' "$1/status" 2>/dev/null
}
# polls_at_least DIR N
polls_at_least() {
	local c
	c=$(pop3_conns "$1")
	[ -n "$c" ] && [ "$c" -ge "$2" ]
}

# warn_run BIN DIR MODE (detach | nodetach | once): count of warnings
# accepted, then the body of the first one on the following lines.
warn_run() {
	local bin=$1 dir=$2 mode=$3 pid
	mkdir -p "$dir"
	faultpeer_start "$dir/p" --messages 2 >/dev/null || return 1
	cat >"$dir/rc" <<RC
set daemon 1
poll 127.0.0.1 protocol pop3 service $FAULTPEER_POP3_PORT
  user alice password secret is fmtest here sslproto ''
  smtphost 127.0.0.1/$FAULTPEER_SMTP_PORT
  limit 100
RC
	case $mode in
	once)
		PEERS_FETCHMAIL_ENV="USER=fmtest" peers_fetchmail "$bin" \
		    "$dir/home" "$dir/rc" -d0 >"$dir/out" 2>"$dir/err" ;;
	detach)
		PEERS_FETCHMAIL_ENV="USER=fmtest" peers_fetchmail "$bin" \
		    "$dir/home" "$dir/rc" >"$dir/out" 2>"$dir/err"
		peers_wait_until 30 polls_at_least "$dir/p" 3
		PEERS_FETCHMAIL_ENV="USER=fmtest" peers_fetchmail "$bin" \
		    "$dir/home" "$dir/rc" --quit >>"$dir/out" 2>>"$dir/err" ;;
	nodetach)
		PEERS_FETCHMAIL_ENV="USER=fmtest" peers_fetchmail "$bin" \
		    "$dir/home" "$dir/rc" -N >"$dir/out" 2>"$dir/err" &
		pid=$!
		peers_wait_until 30 polls_at_least "$dir/p" 3
		PEERS_FETCHMAIL_ENV="USER=fmtest" peers_fetchmail "$bin" \
		    "$dir/home" "$dir/rc" --quit >>"$dir/out" 2>>"$dir/err"
		wait "$pid" ;;
	esac
	faultpeer_idle 10 "$dir/p"
	faultpeer_stop "$FAULTPEER_PID"
	python3 - "$dir/p/state.json" <<'PY'
import json, sys
acc = json.load(open(sys.argv[1]))["accepted"]
w = [a for a in acc if a["mail_from"].startswith("<FETCHMAIL-DAEMON@")]
print(len(w))
if w:
    data = open(w[0]["file"], "rb").read().decode("latin-1")
    print(data.replace("\r\n", "\n").split("\n\n", 1)[1], end="")
PY
}

if [ -n "$do_warn" ]; then
	sizes=$(python3 -c 'import sys
sys.path.insert(0, sys.argv[1])
from faultpeer import gen_message
for i in (1, 2): print(len(gen_message(i)))' "$top/tests/peers")
	want_body=$(printf 'The following oversized messages remain on server 127.0.0.1 account alice:\n\n'
	    for z in $sizes; do printf '  1 message  %s octets long skipped by fetchmail.\n' "$z"; done
	    printf '\n-- \nThe Fetchmail Daemon')
	for bin in "$FETCHMAIL" "$REF"; do
		tag=ours
		[ "$bin" = "$REF" ] && tag=reference
		if [ ! -x "$bin" ]; then
			skip "warn: $tag: daemon" "no $bin"
			skip "warn: $tag: foreground" "no $bin"
			skip "warn: $tag: once" "no $bin"
			continue
		fi
		got=$(warn_run "$bin" "$PEERS_TMP/warn-$tag-d" detach)
		if [ "$got" = "1
$want_body" ]; then
			ok "warn: $tag: detached daemon: one warning, both messages"
		else
			notok "warn: $tag: detached daemon: one warning" "got: $got" \
			    "want: 1 $want_body" "$(cat "$PEERS_TMP/warn-$tag-d/err")"
		fi
		got=$(warn_run "$bin" "$PEERS_TMP/warn-$tag-n" nodetach)
		if [ "$got" = 0 ]; then
			ok "warn: $tag: -N: no warning"
		else
			notok "warn: $tag: -N: no warning" "got: $got"
		fi
		got=$(warn_run "$bin" "$PEERS_TMP/warn-$tag-1" once)
		if [ "$got" = 0 ]; then
			ok "warn: $tag: single run: no warning"
		else
			notok "warn: $tag: single run: no warning" "got: $got"
		fi
	done
fi

# ---------------------------------------------------------------- Postfix
# A real Postfix: RCPT TO:<nosuch@127.0.0.1> gets 550 (unknown user); the
# message goes to the postmaster and the bounce to the sender
# carol@localhost (both Postfix Maildirs for ours; the reference's bounce
# goes to port 25, a faultpeer here); m1 deleted.
if [ -n "$do_postfix" ]; then
	dir=$PEERS_TMP/postfix
	mkdir -p "$dir"
	if postfix_start >/dev/null 2>&1; then
		for bin in "$FETCHMAIL" "$REF"; do
			tag=ours
			[ "$bin" = "$REF" ] && tag=reference
			[ "$bin" = "$REF" ] && [ -z "$HAVEREF" ] && continue
			d=$dir/$tag
			mkdir -p "$d"
			postfix_clear_maildir postmaster
			postfix_clear_maildir carol
			faultpeer_start "$d/b" --messages 0 --smtp-port 25 >/dev/null
			faultpeer_start "$d/p" --messages 1 --sender carol@localhost >/dev/null
			cat >"$d/rc" <<RC
poll 127.0.0.1 protocol pop3 service $FAULTPEER_POP3_PORT
  user alice password secret is nosuch here sslproto ''
  smtphost 127.0.0.1/$POSTFIX_SMTP_PORT
RC
			PEERS_FETCHMAIL_ENV="USER=fmtest" peers_fetchmail "$bin" \
			    "$d/home" "$d/rc" >"$d/out" 2>"$d/err"
			ex=$?
			faultpeer_idle 10 "$d/p"
			faultpeer_stop "$FAULTPEER_PID"
			faultpeer_idle 10 "$d/b"
			faultpeer_stop "$(cat "$d/b/pid")"
			postfix_wait_queue_empty 20
			npm=$(postfix_maildir_count postmaster)
			got=$(python3 "$JUDGE" "$d" "$ex")
			read -r gex gfate _ gbounce glog _ <<<"$got"
			if [ "$gex $gfate $npm" = "0 del 1" ] &&
			    grep -q '550 5.1.1' "$d/err"; then
				ok "postfix: $tag: 550 logged, postmaster got it, m1 deleted"
			else
				notok "postfix: $tag: 550, postmaster copy" "got: $got postmaster=$npm" "$(cat "$d/err")"
				peers_dump_logs
			fi
			if [ "$tag" = ours ]; then
				f=$(postfix_maildir_files carol | head -1)
				if [ -n "$f" ] && grep -q '^Final-Recipient: rfc822; nosuch@127.0.0.1' "$f" &&
				    grep -q '^Status: 5\.1\.1' "$f"; then
					ok "postfix: ours: carol got the DSN (Status 5.1.1)"
				else
					notok "postfix: ours: carol got the DSN" "$(postfix_maildir_files carol)" "$(cat "$d/out" "$d/err")"
				fi
			elif [ "$gbounce" = "carol@localhost:rcpt" ]; then
				ok "postfix: reference: bounce to carol@localhost"
			else
				notok "postfix: reference: bounce to carol@localhost" "got: $got"
			fi
		done
		[ -z "$HAVEREF" ] && { skip "postfix: reference" "no reference run"; skip "postfix: reference bounce" "no reference run"; }
	else
		for i in 1 2 3 4; do skip "postfix" "did not start"; done
	fi
fi

[ "$failed" = 0 ]
