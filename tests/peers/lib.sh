# shellcheck shell=bash
# tests/peers/lib.sh -- start and stop PRIVATE real mail servers for tests.
# Source it from a bash test script:
#
#     . "$top_srcdir/tests/peers/lib.sh"
#     peers_have dovecot postfix || { echo "1..0 # SKIP $PEERS_WHY"; exit 0; }
#     dovecot_start && postfix_start
#     dovecot_add_user alice secret          # (before or after start)
#     dovecot_inject alice msg1 msg2
#     ... run fetchmail against 127.0.0.1:$DOVECOT_POP3_PORT ...
#     postfix_wait_delivered bob 2 20
#
# Everything lives in one temporary directory ($PEERS_TMP); the system's
# /etc/dovecot, /etc/postfix and system services are never used or touched.
# Servers listen on 127.0.0.1 only, on free ports picked here and exported.
# An EXIT/INT/TERM trap (set by peers_init, which every *_start calls)
# stops every daemon and removes $PEERS_TMP; set PEERS_KEEP=1 to keep the
# directory for a post-mortem.  A script with its own EXIT trap should set
# PEERS_NO_TRAP=1 before sourcing and call peers_cleanup from its trap.
#
# Every function runs with errexit off (local -; set +e), so the library
# behaves the same in scripts with and without set -e; needs bash >= 4.4.
#
# Dovecot runs as root (login processes as dovenull, mail as nobody) or,
# when not root, entirely as the calling user.  Postfix needs root.
# Packages: tests/peers/deps.sh.

# ---------------------------------------------------------------- common

PEERS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Fresh state: never reuse what a parent test script exported.
PEERS_TMP='' PEERS_CERTS='' PEERS_CA='' PEERS_WHY=''
DOVECOT_DIR='' DOVECOT_CONF='' DOVECOT_PID=''
POSTFIX_DIR='' POSTFIX_CONF='' POSTFIX_PID=''
export PEERS_LIB_DIR
_postfix_users=
_peers_pids=()
_peers_ports=" "

# Milliseconds since the epoch (deadline arithmetic without bare sleeps).
peers_now_ms() {
	local -; set +e
	local t
	t=$(date +%s%N)
	echo $((t / 1000000))
}

# peers_log MSG...: a TAP comment on stderr (never breaks the TAP stream).
peers_log() {
	local -; set +e
	echo "# peers: $*" >&2
}

# peers_have WHAT...: true when everything needed for WHAT (dovecot,
# postfix, fetchmail, openssl, procmail, maildrop) is installed and, for
# postfix, we are root.  Otherwise false with the reason in $PEERS_WHY.
peers_have() {
	local -; set +e
	local w
	PEERS_WHY=
	for w in "$@"; do
		case $w in
		dovecot)
			[ -x /usr/sbin/dovecot ] && command -v doveadm >/dev/null 2>&1 &&
			    [ -e /usr/lib/dovecot/pop3 ] && [ -e /usr/lib/dovecot/imap ] &&
			    [ -e /usr/lib/dovecot/lmtp ] ||
			    { PEERS_WHY="dovecot (core, pop3d, imapd, lmtpd) not installed (tests/peers/deps.sh)"; return 1; }
			;;
		postfix)
			[ -x /usr/sbin/postfix ] && [ -x /usr/sbin/postconf ] ||
			    { PEERS_WHY="postfix not installed (tests/peers/deps.sh)"; return 1; }
			[ "$(id -u)" = 0 ] ||
			    { PEERS_WHY="a private postfix needs root"; return 1; }
			getent passwd postfix >/dev/null && getent group postdrop >/dev/null ||
			    { PEERS_WHY="postfix user/postdrop group missing"; return 1; }
			;;
		fetchmail)
			[ -x "${REF_FETCHMAIL:-/usr/bin/fetchmail}" ] ||
			    { PEERS_WHY="reference fetchmail not installed"; return 1; }
			;;
		openssl|procmail|maildrop)
			command -v "$w" >/dev/null 2>&1 ||
			    { PEERS_WHY="$w not installed (tests/peers/deps.sh)"; return 1; }
			;;
		*)
			PEERS_WHY="peers_have: unknown $w"; return 1 ;;
		esac
	done
	return 0
}

# peers_init: create $PEERS_TMP (mode 755 so unprivileged daemon users can
# traverse it) and install the cleanup traps.  Idempotent.
peers_init() {
	local -; set +e
	[ -n "$PEERS_TMP" ] && [ -d "$PEERS_TMP" ] && return 0
	local base=${PEERS_TMPDIR:-${TMPDIR:-/tmp}}
	# Unix socket paths are limited to 107 bytes: stay short.
	[ ${#base} -gt 40 ] && base=/tmp
	PEERS_TMP=$(mktemp -d "$base/peers.XXXXXX") || return 1
	chmod 755 "$PEERS_TMP"
	export PEERS_TMP
	if [ -z "${PEERS_NO_TRAP:-}" ]; then
		trap peers_cleanup EXIT
		trap 'peers_cleanup; trap - INT; kill -INT $$' INT
		trap 'peers_cleanup; trap - TERM; kill -TERM $$' TERM
	fi
}

# peers_alive PID: true while PID runs (a zombie counts as gone: the
# daemons here are reparented to init, which may reap them late).
peers_alive() {
	local -; set +e
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# peers_children PID: the pids of PID's live (not zombie) children.
peers_children() {
	local -; set +e
	local f line
	local -a fld
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		line=${line##*) }
		read -r -a fld <<<"$line"
		[ "${fld[1]:-}" = "$1" ] || continue
		case ${fld[0]:-} in Z|X) continue ;; esac
		f=${f#/proc/}; echo "${f%/stat}"
	done
}

# peers_register_pid PID: have peers_cleanup kill PID (e.g. a fetchmail
# started in daemon mode, a helper in the background).
peers_register_pid() {
	local -; set +e
	_peers_pids+=("$1")
}

# peers_kill_wait PID TIMEOUT_S: TERM, wait up to TIMEOUT_S, then KILL.
peers_kill_wait() {
	local -; set +e
	local pid=$1 deadline
	deadline=$(( $(peers_now_ms) + ${2:-5} * 1000 ))
	peers_alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	while peers_alive "$pid"; do
		if [ "$(peers_now_ms)" -ge $deadline ]; then
			kill -KILL "$pid" 2>/dev/null
			break
		fi
		sleep 0.05
	done
	wait "$pid" 2>/dev/null
	return 0
}

# peers_cleanup: stop everything this library started and remove
# $PEERS_TMP (unless PEERS_KEEP=1).  Safe to call more than once.
peers_cleanup() {
	local -; set +e
	local p
	for p in "${_peers_pids[@]}"; do
		peers_kill_wait "$p" 3
	done
	_peers_pids=()
	[ -n "${DOVECOT_CONF:-}" ] && dovecot_stop >/dev/null 2>&1
	[ -n "${POSTFIX_CONF:-}" ] && postfix_stop >/dev/null 2>&1
	DOVECOT_CONF='' POSTFIX_CONF='' DOVECOT_PID='' POSTFIX_PID=''
	DOVECOT_DIR='' POSTFIX_DIR=''
	case ${PEERS_CERTS:-} in "$PEERS_TMP"/*) PEERS_CERTS='' PEERS_CA='' ;; esac
	if [ -n "$PEERS_TMP" ] && [ -d "$PEERS_TMP" ]; then
		if [ "${PEERS_KEEP:-0}" = 1 ]; then
			peers_log "kept $PEERS_TMP"
		else
			rm -rf "$PEERS_TMP"
		fi
	fi
	PEERS_TMP=
}

# _peers_listening PORT: true when something listens on TCP PORT (any
# address, IPv4 or IPv6), read from /proc so no tool is needed.
_peers_listening() {
	local -; set +e
	local hex
	hex=$(printf ':%04X ' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
	    awk -v h="$hex" '$4 == "0A" && index($2 " ", h) { f = 1 } END { exit !f }'
}

# peers_free_port [VAR]: a TCP port that nothing listens on, from 20000-
# 32767 (below Linux's ephemeral range), never handed out before by this
# shell: assigned to VAR, or printed (then a later call in this shell may
# hand it out again, as the command substitution's subshell forgets it).
peers_free_port() {
	local -; set +e
	local i p
	for ((i = 0; i < 200; i++)); do
		p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12768 ))
		case $_peers_ports in *" $p "*) continue ;; esac
		_peers_listening "$p" && continue
		_peers_ports="$_peers_ports$p "
		if [ -n "${1:-}" ]; then
			printf -v "$1" %s "$p"
		else
			echo "$p"
		fi
		return 0
	done
	return 1
}

# wait_port HOST PORT TIMEOUT_S: poll until a TCP connect to HOST:PORT
# succeeds; false after TIMEOUT_S seconds (default 10).
wait_port() {
	local -; set +e
	local host=$1 port=$2 deadline
	deadline=$(( $(peers_now_ms) + ${3:-10} * 1000 ))
	while :; do
		if timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null; then
			return 0
		fi
		[ "$(peers_now_ms)" -ge $deadline ] && return 1
		sleep 0.05
	done
}

# peers_wait_until TIMEOUT_S COMMAND...: poll COMMAND until it succeeds.
peers_wait_until() {
	local -; set +e
	local deadline
	deadline=$(( $(peers_now_ms) + $1 * 1000 )); shift
	while :; do
		"$@" && return 0
		[ "$(peers_now_ms)" -ge $deadline ] && return 1
		sleep 0.05
	done
}

# peers_dump_logs [LINES]: the tail of every daemon log as TAP comments.
peers_dump_logs() {
	local -; set +e
	local f n=${1:-40}
	for f in "${DOVECOT_LOG:-}" "${POSTFIX_LOG:-}"; do
		[ -n "$f" ] && [ -f "$f" ] || continue
		echo "# ---- $f"
		tail -n "$n" "$f" | sed 's/^/# /'
	done
}

# ---------------------------------------------------------------- certs

# peers_certs DIR: make a test PKI in DIR (idempotent: kept if present):
#   ca.pem ca.key              test CA
#   server.pem server.key      signed by the CA, CN=localhost,
#                              SAN DNS:localhost, IP:127.0.0.1, valid 10 days
#   expired.pem expired.key    signed by the CA, same names, expired in 2020
#   selfsigned.pem/.key        self-signed, same names (not from the CA)
#   wronghost.pem/.key         signed by the CA for wrong.example only
#   NAME-chain.pem             NAME.pem followed by ca.pem (for each above)
#   NAME.md5 NAME.sha256       fingerprints, colon-separated upper-case hex
# Keys are EC P-256; PEERS_KEYALG=rsa makes RSA 2048 ones (slower).
# Exports PEERS_CERTS=DIR and PEERS_CA=DIR/ca.pem.
peers_certs() {
	local -; set +e
	local d=$1 n cn san dates keyargs
	mkdir -p "$d" || return 1
	d=$(cd "$d" && pwd)
	export PEERS_CERTS=$d PEERS_CA=$d/ca.pem
	[ -f "$d/.complete" ] && return 0
	# No set -e here: it is void when the caller uses "peers_certs || ...".
	(
	cd "$d" || exit 1
	exec 2>certs.log
	cat >ca.cnf <<-EOF
	[ req ]
	distinguished_name = dn
	prompt = no
	[ dn ]
	CN = fetchmail test CA
	[ v3_ca ]
	basicConstraints = critical, CA:TRUE
	keyUsage = critical, keyCertSign, cRLSign
	subjectKeyIdentifier = hash
	[ ca ]
	default_ca = testca
	[ testca ]
	dir = $d/ca.db
	database = \$dir/index.txt
	new_certs_dir = \$dir
	serial = \$dir/serial
	certificate = $d/ca.pem
	private_key = $d/ca.key
	default_md = sha256
	policy = anything
	copy_extensions = copy
	unique_subject = no
	email_in_dn = no
	[ anything ]
	commonName = supplied
	[ v3_srv ]
	basicConstraints = CA:FALSE
	keyUsage = critical, digitalSignature, keyEncipherment
	extendedKeyUsage = serverAuth
	EOF
	for n in server expired selfsigned wronghost; do
		case $n in
		wronghost) cn=wrong.example san="DNS:wrong.example" ;;
		*) cn=localhost san="DNS:localhost, IP:127.0.0.1" ;;
		esac
		cat >"$n.cnf" <<-EOF
		[ req ]
		distinguished_name = dn
		prompt = no
		req_extensions = ext
		x509_extensions = ext
		[ dn ]
		CN = $cn
		[ ext ]
		basicConstraints = CA:FALSE
		keyUsage = critical, digitalSignature, keyEncipherment
		extendedKeyUsage = serverAuth
		subjectAltName = $san
		EOF
	done
	# EC P-256 by default (RSA key generation takes seconds);
	# PEERS_KEYALG=rsa for RSA 2048.
	if [ "${PEERS_KEYALG:-ec}" = rsa ]; then
		keyargs=(-newkey rsa:2048)
	else
		keyargs=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
	fi
	rm -rf ca.db && mkdir ca.db || exit 1
	: >ca.db/index.txt
	echo 1000 >ca.db/serial
	openssl req -x509 "${keyargs[@]}" -nodes -keyout ca.key -out ca.pem \
	    -days 30 -config ca.cnf -extensions v3_ca -sha256 || exit 1
	# Signed by the CA with explicit dates: openssl ca accepts them.
	for n in server expired wronghost; do
		openssl req -new "${keyargs[@]}" -nodes -keyout "$n.key" \
		    -out "$n.csr" -config "$n.cnf" || exit 1
		case $n in
		expired) dates="-startdate 20200101000000Z -enddate 20200201000000Z" ;;
		*) dates="-days 10" ;;
		esac
		# shellcheck disable=SC2086
		openssl ca -batch -config ca.cnf -notext -in "$n.csr" -out "$n.pem" \
		    -extensions v3_srv $dates || exit 1
	done
	openssl req -x509 "${keyargs[@]}" -nodes -keyout selfsigned.key \
	    -out selfsigned.pem -days 10 -config selfsigned.cnf -sha256 || exit 1
	for n in server expired selfsigned wronghost; do
		[ -s "$n.pem" ] && [ -s "$n.key" ] || exit 1
		cat "$n.pem" ca.pem >"$n-chain.pem" || exit 1
		openssl x509 -in "$n.pem" -noout -fingerprint -md5 | sed 's/.*=//' >"$n.md5"
		openssl x509 -in "$n.pem" -noout -fingerprint -sha256 | sed 's/.*=//' >"$n.sha256"
		[ -s "$n.md5" ] && [ -s "$n.sha256" ] || exit 1
	done
	chmod 644 ./*.pem ./*.key && : >.complete
	) || { peers_log "peers_certs failed:"; sed 's/^/# /' "$d/certs.log" >&2; return 1; }
}

# ---------------------------------------------------------------- dovecot
#
# Exported by dovecot_start:
#   DOVECOT_DIR        its directory ($PEERS_TMP/dc)
#   DOVECOT_CONF       its dovecot.conf (use with doveadm -c, dovecot -c)
#   DOVECOT_LOG        its log file (everything, auth and TLS included)
#   DOVECOT_MAIL       mail root: $DOVECOT_MAIL/USER/Maildir
#   DOVECOT_PASSWD     the passwd-file (NAME:{PLAIN}PASS:uid:gid::home::)
#   DOVECOT_POP3_PORT  POP3, plain (STLS offered)
#   DOVECOT_POP3S_PORT POP3 over implicit TLS
#   DOVECOT_IMAP_PORT  IMAP, plain (STARTTLS offered)
#   DOVECOT_IMAPS_PORT IMAP over implicit TLS
#   DOVECOT_LMTP_PORT  LMTP (TCP)
#   DOVECOT_PID        the master's pid
# Settings read by dovecot_start:
#   DOVECOT_CERT       certificate name in $PEERS_CERTS (default server;
#                      expired, selfsigned, wronghost for negative tests)
#   DOVECOT_EXTRA_CONF extra dovecot.conf text appended at the end
#   DOVECOT_MECHS      auth_mechanisms (default "plain login cram-md5 apop")

_dovecot_ids() {
	local -; set +e
	if [ "$(id -u)" = 0 ]; then
		DOVECOT_UID=$(id -u nobody) DOVECOT_GID=$(getent group nogroup | cut -d: -f3)
		[ -n "$DOVECOT_GID" ] || DOVECOT_GID=$(id -g nobody)
	else
		DOVECOT_UID=$(id -u) DOVECOT_GID=$(id -g)
	fi
}

# dovecot_add_user NAME PASS: add a user (POP3/IMAP login NAME, LMTP
# recipient NAME@anything) with Maildir $DOVECOT_MAIL/NAME/Maildir.
# Works before and after dovecot_start (the passwd-file is re-read).
dovecot_add_user() {
	local -; set +e
	local name=$1 pass=$2 d
	peers_init || return 1
	DOVECOT_DIR=${DOVECOT_DIR:-$PEERS_TMP/dc}
	DOVECOT_MAIL=$DOVECOT_DIR/mail
	DOVECOT_PASSWD=$DOVECOT_DIR/passwd
	export DOVECOT_DIR DOVECOT_MAIL DOVECOT_PASSWD
	_dovecot_ids
	mkdir -p "$DOVECOT_MAIL" || return 1
	d=$DOVECOT_MAIL/$name
	mkdir -p "$d/Maildir/cur" "$d/Maildir/new" "$d/Maildir/tmp"
	chown -R "$DOVECOT_UID:$DOVECOT_GID" "$d" 2>/dev/null
	chmod -R u+rwX,go-rwx "$d"
	touch "$DOVECOT_PASSWD"
	grep -v "^$name:" "$DOVECOT_PASSWD" >"$DOVECOT_PASSWD.new" || :
	echo "$name:{PLAIN}$pass:$DOVECOT_UID:$DOVECOT_GID::$d::" >>"$DOVECOT_PASSWD.new"
	mv "$DOVECOT_PASSWD.new" "$DOVECOT_PASSWD"
	chmod 644 "$DOVECOT_PASSWD"
}

_dovecot_write_conf() {
	local -; set +e
	local cert=$PEERS_CERTS/${DOVECOT_CERT:-server} login_chroot='' users
	if [ "$(id -u)" = 0 ]; then
		users="default_internal_user = dovecot
default_login_user = dovenull"
	else
		users="default_internal_user = $(id -un)
default_internal_group = $(id -gn)
default_login_user = $(id -un)"
		login_chroot="chroot ="
	fi
	cat >"$DOVECOT_CONF" <<EOF
# private test instance, written by tests/peers/lib.sh
base_dir = $DOVECOT_DIR/run
state_dir = $DOVECOT_DIR/state
instance_name = peers-$$-$(basename "$PEERS_TMP")
protocols = pop3 imap lmtp
listen = 127.0.0.1
shutdown_clients = yes
log_path = $DOVECOT_LOG
info_log_path = $DOVECOT_LOG
debug_log_path = $DOVECOT_LOG
log_timestamp = "%Y-%m-%d %H:%M:%S "
auth_verbose = yes
verbose_ssl = yes
$users
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
mail_privileged_group =
disable_plaintext_auth = no
auth_mechanisms = ${DOVECOT_MECHS:-plain login cram-md5 apop}
auth_failure_delay = 0
ssl = yes
ssl_cert = <$cert.pem
ssl_key = <$cert.key
ssl_min_protocol = TLSv1.2
pop3_uidl_format = %08Xu%08Xv
lmtp_save_to_detail_mailbox = no
postmaster_address = postmaster@localhost
hostname = localhost
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DOVECOT_PASSWD
}
userdb {
  driver = passwd-file
  args = username_format=%n $DOVECOT_PASSWD
}
service pop3-login {
  $login_chroot
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DOVECOT_POP3_PORT
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $DOVECOT_POP3S_PORT
    ssl = yes
  }
}
service imap-login {
  $login_chroot
  inet_listener imap {
    address = 127.0.0.1
    port = $DOVECOT_IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $DOVECOT_IMAPS_PORT
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $DOVECOT_LMTP_PORT
  }
}
service submission-login {
  inet_listener submission {
    port = 0
  }
}
service anvil {
  $login_chroot
}
service doveadm {
  inet_listener {
    port = 0
  }
}
protocol lmtp {
  mail_plugins =
}
namespace inbox {
  inbox = yes
  separator = /
}
${DOVECOT_EXTRA_CONF:-}
EOF
}

# _dovecot_launch: write dovecot.conf for the current ports and settings,
# start Dovecot and wait until every port answers.  Returns 2 when a port
# was taken (the caller picks others), 1 on other failures.
_dovecot_launch() {
	local -; set +e
	local mark
	_dovecot_write_conf
	mark=$(wc -l <"$DOVECOT_LOG")
	if ! /usr/sbin/dovecot -c "$DOVECOT_CONF" >>"$DOVECOT_LOG" 2>&1; then
		tail -n +"$((mark + 1))" "$DOVECOT_LOG" |
		    grep -q 'Address already in use' && return 2
		peers_log "dovecot failed to start"; peers_dump_logs >&2
		return 1
	fi
	if peers_wait_until 10 test -s "$DOVECOT_DIR/run/master.pid" &&
	    wait_port 127.0.0.1 "$DOVECOT_POP3_PORT" 10 &&
	    wait_port 127.0.0.1 "$DOVECOT_POP3S_PORT" 10 &&
	    wait_port 127.0.0.1 "$DOVECOT_IMAP_PORT" 10 &&
	    wait_port 127.0.0.1 "$DOVECOT_IMAPS_PORT" 10 &&
	    wait_port 127.0.0.1 "$DOVECOT_LMTP_PORT" 10; then
		DOVECOT_PID=$(cat "$DOVECOT_DIR/run/master.pid")
		export DOVECOT_PID
		return 0
	fi
	peers_log "dovecot did not come up"; peers_dump_logs >&2
	dovecot_stop
	return 1
}

# dovecot_start: start the private Dovecot; waits until every port answers.
# Makes the certificates ($PEERS_TMP/certs) unless peers_certs was called.
# On failure prints the log as TAP comments and returns 1.
dovecot_start() {
	local -; set +e
	local try r
	peers_init || return 1
	peers_have dovecot || { peers_log "$PEERS_WHY"; return 1; }
	[ -n "${PEERS_CERTS:-}" ] || peers_certs "$PEERS_TMP/certs" || return 1
	DOVECOT_DIR=${DOVECOT_DIR:-$PEERS_TMP/dc}
	DOVECOT_CONF=$DOVECOT_DIR/dovecot.conf
	DOVECOT_LOG=$DOVECOT_DIR/dovecot.log
	DOVECOT_MAIL=$DOVECOT_DIR/mail
	DOVECOT_PASSWD=$DOVECOT_DIR/passwd
	export DOVECOT_DIR DOVECOT_CONF DOVECOT_LOG DOVECOT_MAIL DOVECOT_PASSWD
	mkdir -p "$DOVECOT_DIR/run" "$DOVECOT_DIR/state" "$DOVECOT_MAIL" || return 1
	touch "$DOVECOT_PASSWD" "$DOVECOT_LOG"
	chmod 644 "$DOVECOT_PASSWD" "$DOVECOT_LOG"
	for ((try = 0; try < 3; try++)); do
		peers_free_port DOVECOT_POP3_PORT && peers_free_port DOVECOT_POP3S_PORT &&
		    peers_free_port DOVECOT_IMAP_PORT && peers_free_port DOVECOT_IMAPS_PORT &&
		    peers_free_port DOVECOT_LMTP_PORT || break
		export DOVECOT_POP3_PORT DOVECOT_POP3S_PORT DOVECOT_IMAP_PORT \
		    DOVECOT_IMAPS_PORT DOVECOT_LMTP_PORT
		_dovecot_launch; r=$?
		[ $r = 2 ] && continue	# a port taken meanwhile: others
		return $r
	done
	peers_log "dovecot: no free ports"; peers_dump_logs >&2
	return 1
}

# dovecot_restart: stop, rewrite dovecot.conf from the current settings
# (DOVECOT_CERT, DOVECOT_MECHS, DOVECOT_EXTRA_CONF) and start again on the
# SAME ports; returns when every port answers.  Use it to switch
# certificates or settings between test cases.
dovecot_restart() {
	local -; set +e
	dovecot_stop
	_dovecot_launch
}

# dovecot_reload: rewrite dovecot.conf as dovecot_restart does and send
# the running master a reload (SIGHUP; asynchronous: prefer
# dovecot_restart when the next connection must see the change).  The
# passwd-file needs no reload: it is re-read when it changes.
dovecot_reload() {
	local -; set +e
	_dovecot_write_conf
	doveadm -c "$DOVECOT_CONF" reload
}

# dovecot_stop: stop the private Dovecot and wait until its master is gone.
dovecot_stop() {
	local -; set +e
	local pid kids
	[ -n "${DOVECOT_CONF:-}" ] || return 0
	pid=$(cat 2>/dev/null <"$DOVECOT_DIR/run/master.pid")
	[ -n "$pid" ] || pid=${DOVECOT_PID:-}
	if [ -n "$pid" ] && peers_alive "$pid"; then
		kids=$(peers_children "$pid")
		kill -TERM "$pid" 2>/dev/null
		# The master waits up to 5 s for children that served a
		# connection (such as wait_port's probes): stop them too.
		[ -n "$kids" ] && kill -TERM $kids 2>/dev/null
		peers_wait_until 10 eval "! peers_alive $pid" ||
		    kill -KILL "$pid" $kids 2>/dev/null
	fi
	rm -f "$DOVECOT_DIR/run/master.pid"
	DOVECOT_PID=
	return 0
}

# dovecot_inject USER FILE...: deliver each FILE (an RFC 822 message, LF or
# CRLF line ends) into USER's INBOX with doveadm save; one message a file.
dovecot_inject() {
	local -; set +e
	local user=$1 f; shift
	for f in "$@"; do
		doveadm -c "$DOVECOT_CONF" save -u "$user" -m INBOX <"$f" || {
			peers_log "doveadm save $user $f failed"; return 1; }
	done
}

# dovecot_count USER [FOLDER]: print the number of messages in FOLDER
# (default INBOX) of USER.
dovecot_count() {
	local -; set +e
	local n
	n=$(doveadm -c "$DOVECOT_CONF" -f tab mailbox status -u "$1" messages "${2:-INBOX}" 2>/dev/null) ||
	    { echo -1; return 1; }
	echo "$n" | awk -F"\t" 'END { print $NF }'
}

# dovecot_wait_count USER N TIMEOUT_S [FOLDER]: poll until FOLDER of USER
# holds exactly N messages.
dovecot_wait_count() {
	local -; set +e
	local q
	q=$(printf '[ "$(dovecot_count %q %q)" = %q ]' "$1" "${4:-INBOX}" "$2")
	peers_wait_until "$3" eval "$q"
}

# _peers_maildir_sort: read "NAME<TAB>PATH" lines, print the PATHs in
# delivery order: Dovecot and Postfix both name Maildir files
# SECONDS.<...>M<MICROSECONDS><...>.HOST.
_peers_maildir_sort() {
	local -; set +e
	awk -F'\t' '{ n = split($1, p, "."); us = 0
	    if (match(p[2], /M[0-9]+/)) us = substr(p[2], RSTART + 1, RLENGTH - 1)
	    printf "%s %06d\t%s\n", p[1], us, $2 }' | sort -k1,1n -k2,2n | cut -f2-
}

# dovecot_files USER [FOLDER]: list the message files of USER's FOLDER
# (Maildir cur/ and new/) in delivery order.
dovecot_files() {
	local -; set +e
	local dir=$DOVECOT_MAIL/$1/Maildir f
	case ${2:-INBOX} in INBOX) ;; *) dir=$dir/.${2//\//.} ;; esac
	for f in "$dir"/cur/* "$dir"/new/*; do
		[ -f "$f" ] && printf '%s\t%s\n' "${f##*/}" "$f"
	done | _peers_maildir_sort
}

# ---------------------------------------------------------------- postfix
#
# Exported by postfix_start:
#   POSTFIX_DIR        its directory ($PEERS_TMP/pf)
#   POSTFIX_CONF       its config directory (postconf -c, postfix -c)
#   POSTFIX_LOG        its log file (maillog_file)
#   POSTFIX_MAIL       virtual_mailbox_base: $POSTFIX_MAIL/USER/ (a Maildir)
#   POSTFIX_SMTP_PORT  the smtpd port on 127.0.0.1
# Recipients: USER@localhost, USER@localhost.localdomain, USER@127.0.0.1
# (what fetchmail sends for "smtphost 127.0.0.1/PORT" without smtpaddress)
# and USER@[127.0.0.1], for every USER given to postfix_add_user or in
# POSTFIX_USERS; unknown recipients are rejected at RCPT TO with 550.
# Settings read by postfix_start:
#   POSTFIX_USERS      users to create at start (default "bob carol postmaster")
#   POSTFIX_EXTRA_MAIN extra main.cf lines (postconf -e syntax, one a line)

_postfix_maps() {
	local -; set +e
	local u d
	: >"$POSTFIX_CONF/vmailbox.new"
	for u in $_postfix_users; do
		for d in localhost localhost.localdomain 127.0.0.1 '[127.0.0.1]'; do
			printf '%s@%s %s/\n' "$u" "$d" "$u"
		done >>"$POSTFIX_CONF/vmailbox.new"
	done
	mv "$POSTFIX_CONF/vmailbox.new" "$POSTFIX_CONF/vmailbox"
}

# postfix_add_user USER: accept USER@localhost into $POSTFIX_MAIL/USER/.
postfix_add_user() {
	local -; set +e
	case " ${_postfix_users:-} " in *" $1 "*) return 0 ;; esac
	_postfix_users="${_postfix_users:-} $1"
	if [ -n "${POSTFIX_CONF:-}" ] && [ -d "$POSTFIX_CONF" ]; then
		_postfix_maps
		# texthash maps are read at process start: make new processes
		# (asynchronous; postfix_restart when the next RCPT must see it).
		[ -n "${POSTFIX_PID:-}" ] && postfix_reload
	fi
	return 0
}

# postfix_postconf 'name = value'...: change main.cf, then reload a running
# instance (asynchronous: idle smtpd processes finish first; for a change
# the very next connection must see, put it in POSTFIX_EXTRA_MAIN and call
# postfix_restart).
postfix_postconf() {
	local -; set +e
	postconf -c "$POSTFIX_CONF" -e "$@" || return 1
	[ -n "${POSTFIX_PID:-}" ] && postfix_reload
	return 0
}

# postfix_reload: make the running instance re-read its configuration.
postfix_reload() {
	local -; set +e
	postfix -c "$POSTFIX_CONF" reload >>"$POSTFIX_LOG" 2>&1
}

_postfix_write_conf() {
	local -; set +e
	local uid gid
	uid=$(id -u nobody) gid=$(getent group nogroup | cut -d: -f3)
	[ -n "$gid" ] || gid=$(id -g nobody)
	cat >"$POSTFIX_CONF/main.cf" <<EOF
# private test instance, written by tests/peers/lib.sh
compatibility_level = 3.6
config_directory = $POSTFIX_CONF
queue_directory = $POSTFIX_DIR/spool
data_directory = $POSTFIX_DIR/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $POSTFIX_LOG
maillog_file_prefixes = $POSTFIX_DIR
syslog_name = postfix-peers
myhostname = localhost
mydomain = localdomain
myorigin = localhost
mydestination = localhost, localhost.localdomain
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_banner = \$myhostname ESMTP Postfix (peers test)
smtpd_error_sleep_time = 0
smtp_dns_support_level = disabled
smtputf8_enable = no
resolve_numeric_domain = yes
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
local_transport = virtual
local_recipient_maps = \$virtual_mailbox_maps
virtual_mailbox_domains =
virtual_mailbox_base = $POSTFIX_MAIL
virtual_mailbox_maps = texthash:$POSTFIX_CONF/vmailbox
virtual_minimum_uid = 1
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
virtual_mailbox_limit = 0
message_size_limit = 52428800
relayhost =
default_transport = error:no relaying from the test instance
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = 0
bounce_queue_lifetime = 0
maximal_queue_lifetime = 1h
in_flow_delay = 0
EOF
	# chroot off everywhere: a private queue directory has no chroot tree.
	cat >"$POSTFIX_CONF/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$POSTFIX_SMTP_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	[ -n "${POSTFIX_EXTRA_MAIN:-}" ] && {
		local line
		while IFS= read -r line; do
			[ -n "$line" ] && postconf -c "$POSTFIX_CONF" -e "$line"
		done <<<"$POSTFIX_EXTRA_MAIN"
	}
	_postfix_maps
}

# postfix_start: start the private Postfix (root only); waits until smtpd
# answers.  `postfix check` must pass.  On failure prints the log.
postfix_start() {
	local -; set +e
	local try u r
	peers_init || return 1
	peers_have postfix || { peers_log "$PEERS_WHY"; return 1; }
	POSTFIX_DIR=$PEERS_TMP/pf
	POSTFIX_CONF=$POSTFIX_DIR/etc
	POSTFIX_LOG=$POSTFIX_DIR/maillog
	POSTFIX_MAIL=$POSTFIX_DIR/mail
	export POSTFIX_DIR POSTFIX_CONF POSTFIX_LOG POSTFIX_MAIL
	mkdir -p "$POSTFIX_CONF" "$POSTFIX_DIR/spool" "$POSTFIX_DIR/data" \
	    "$POSTFIX_MAIL" || return 1
	chown postfix "$POSTFIX_DIR/data"
	chown nobody "$POSTFIX_MAIL"
	chmod 755 "$POSTFIX_DIR" "$POSTFIX_CONF" "$POSTFIX_DIR/spool"
	touch "$POSTFIX_LOG"
	for u in ${POSTFIX_USERS-bob carol postmaster}; do
		case " ${_postfix_users:-} " in *" $u "*) ;; *) _postfix_users="${_postfix_users:-} $u" ;; esac
	done
	for ((try = 0; try < 3; try++)); do
		peers_free_port POSTFIX_SMTP_PORT || break
		export POSTFIX_SMTP_PORT
		_postfix_launch; r=$?
		[ $r = 2 ] && continue	# the port taken meanwhile: another
		return $r
	done
	peers_log "postfix: no free port"; peers_dump_logs >&2
	return 1
}

# _postfix_launch [nocheck]: write main.cf/master.cf for the current port
# and settings, run `postfix check` (must print nothing), start, wait until
# smtpd answers.  Returns 2 when the port was taken, 1 on other failures.
_postfix_launch() {
	local -; set +e
	local out mark
	_postfix_write_conf
	# "postfix check" runs post-install (creates the queue tree) and
	# the ownership/permission checks; any output means trouble.  Done
	# once per instance; "postfix start" would repeat it (a second or
	# more) unless the queue directory holds a "quick-start" file.
	if [ "${1:-}" != nocheck ]; then
		out=$(postfix -c "$POSTFIX_CONF" check 2>&1)
		if [ -n "$out" ]; then
			peers_log "postfix check: $out"
			return 1
		fi
	fi
	: >"$POSTFIX_DIR/spool/quick-start"
	mark=$(wc -l <"$POSTFIX_LOG")
	if postfix -c "$POSTFIX_CONF" start >>"$POSTFIX_LOG" 2>&1 &&
	    peers_wait_until 10 test -s "$POSTFIX_DIR/spool/pid/master.pid" &&
	    wait_port 127.0.0.1 "$POSTFIX_SMTP_PORT" 10; then
		POSTFIX_PID=$(tr -d ' ' 2>/dev/null <"$POSTFIX_DIR/spool/pid/master.pid")
		export POSTFIX_PID
		return 0
	fi
	postfix_stop
	tail -n +"$((mark + 1))" "$POSTFIX_LOG" |
	    grep -q 'Address already in use' && return 2
	peers_log "postfix did not come up"; peers_dump_logs >&2
	return 1
}

# postfix_restart: stop, rewrite the configuration (POSTFIX_EXTRA_MAIN,
# users) and start again on the SAME port; returns when smtpd answers.
# Note that postfix_postconf edits are lost unless in POSTFIX_EXTRA_MAIN.
postfix_restart() {
	local -; set +e
	postfix_stop
	_postfix_launch nocheck
}

# postfix_stop: stop the private Postfix and wait until its master is gone.
postfix_stop() {
	local -; set +e
	local pid
	[ -n "${POSTFIX_CONF:-}" ] || return 0
	pid=$(tr -d ' ' 2>/dev/null <"$POSTFIX_DIR/spool/pid/master.pid")
	[ -n "$pid" ] || pid=${POSTFIX_PID:-}
	if [ -n "$pid" ] && peers_alive "$pid"; then
		postfix -c "$POSTFIX_CONF" stop >>"$POSTFIX_LOG" 2>&1 ||
		    kill -TERM "$pid" 2>/dev/null
		peers_wait_until 10 eval "! peers_alive $pid" ||
		    kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$POSTFIX_DIR/spool/pid/master.pid"
	POSTFIX_PID=
	return 0
}

# postfix_maildir_files USER: the message files delivered to USER, in
# delivery order.
postfix_maildir_files() {
	local -; set +e
	local d=$POSTFIX_MAIL/$1 f
	for f in "$d"/new/* "$d"/cur/*; do
		[ -f "$f" ] && printf '%s\t%s\n' "${f##*/}" "$f"
	done | _peers_maildir_sort
}

# postfix_maildir_count USER: the number of messages delivered to USER.
postfix_maildir_count() {
	local -; set +e
	postfix_maildir_files "$1" | grep -c .
}

# postfix_wait_delivered USER N TIMEOUT_S: poll until USER has at least N
# messages; false (and a TAP comment with the queue) on timeout.
postfix_wait_delivered() {
	local -; set +e
	local q
	q=$(printf '[ "$(postfix_maildir_count %q)" -ge %q ]' "$1" "$2")
	if peers_wait_until "$3" eval "$q"; then
		return 0
	fi
	peers_log "postfix: $1 has $(postfix_maildir_count "$1") of $2 messages after $3 s"
	postqueue -c "$POSTFIX_CONF" -p 2>&1 | sed 's/^/# /' >&2
	return 1
}

# postfix_queue_empty: true when the private queue holds no message.
postfix_queue_empty() {
	local -; set +e
	[ -z "$(find "$POSTFIX_DIR/spool/incoming" "$POSTFIX_DIR/spool/active" \
	    "$POSTFIX_DIR/spool/deferred" "$POSTFIX_DIR/spool/maildrop" \
	    -type f 2>/dev/null | head -1)" ]
}

# ---------------------------------------------------------------- fetchmail

# peers_fetchmail BIN HOMEDIR RCFILE [ARG...]: run a fetchmail (the
# reference /usr/bin/fetchmail or ours) the way every test should: empty
# environment but PATH and LC_ALL=C, HOME=HOMEDIR (made if missing; holds
# .fetchids), RCFILE chmod 600, --nosyslog, --pidfile HOMEDIR/fetchmail.pid,
# stdin from /dev/null, killed after PEERS_FETCHMAIL_TIMEOUT seconds
# (default 60; then status 124).  Output goes to stdout/stderr as usual;
# returns fetchmail's exit status.  Extra environment: PEERS_FETCHMAIL_ENV
# ("NAME=value ..." words); a command prefix (such as PEERS_DNSWRAP):
# the array PEERS_FETCHMAIL_WRAP.
PEERS_FETCHMAIL_WRAP=()
peers_fetchmail() {
	local -; set +e
	local bin=$1 home=$2 rc=$3
	shift 3
	mkdir -p "$home" && chmod 700 "$home" && chmod 600 "$rc" || return 1
	# shellcheck disable=SC2086
	"${PEERS_FETCHMAIL_WRAP[@]}" env -i HOME="$home" PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
	    ${PEERS_FETCHMAIL_ENV:-} \
	    timeout -k 5 "${PEERS_FETCHMAIL_TIMEOUT:-60}" "$bin" --nosyslog \
	    --pidfile "$home/fetchmail.pid" -f "$rc" "$@" </dev/null
}

# ---------------------------------------------------------------- messages

# peers_body FILE: FILE after its first empty line (the body), CRs removed.
peers_body() {
	local -; set +e
	tr -d '\r' <"$1" | awk 'b { print; next } /^$/ { b = 1 }'
}

# peers_header FILE NAME: the first NAME: header's value (unfolded).
peers_header() {
	local -; set +e
	tr -d '\r' <"$1" | awk -v n="$2" '
	    /^$/ { exit }
	    found && /^[ \t]/ { sub(/^[ \t]+/, " "); v = v $0; next }
	    found { exit }
	    tolower(substr($0, 1, length(n) + 1)) == tolower(n) ":" {
		v = substr($0, length(n) + 2); sub(/^[ \t]+/, "", v); found = 1 }
	    END { if (found) print v }'
}

# ------------------------------------------- retrieve/tls helpers (added
# for tests/retrieve.sh and tests/tls.sh; self-contained, new names only)

# peers_msg_strip PREFIX FILE [DATESFILE]: print the delivered message FILE
# normalised for comparison with what was injected: a CR before each LF
# removed; the leading header fields the receiving side adds, named in
# PREFIX (space-separated, in order, e.g. "Return-Path X-Original-To
# Delivered-To Received" for Postfix virtual(8), "Return-Path Delivered-To
# Received" for Dovecot LMTP, "" for an MDA or BSMTP) removed; and in the
# first Received field containing "(fetchmail-" the date (the text after
# the last "; ") replaced by DATE; that date is appended to DATESFILE.
# Problems (prefix names differ, no fetchmail Received) appear as lines
# starting with "!!! " in the output, so a comparison fails.
peers_msg_strip() {
	local -; set +e
	LC_ALL=C awk -v prefix="$1" -v dates="${3:-/dev/null}" '
	function flush_field(   d, i) {
		if (field == "") return
		if (np < npre) {
			np++
			if (tolower(fname) != tolower(pre[np]))
				print "!!! receiver-added field " np ": expected " pre[np] ", got " fname
			field = ""; return
		}
		if (!got && tolower(fname) == "received" && index(field, "(fetchmail-")) {
			got = 1
			i = match(field, /; [^;]*\n$/)
			if (i) {
				d = substr(field, RSTART + 2, RLENGTH - 3)
				print d >> dates
				field = substr(field, 1, RSTART + 1) "DATE\n"
			}
		}
		printf "%s", field
		field = ""
	}
	BEGIN { npre = split(prefix, pre, " "); np = 0; inhdr = 1 }
	{ sub(/\r$/, "") }
	inhdr && /^[ \t]/ && field != "" { field = field $0 "\n"; next }
	inhdr && /^$/ {
		flush_field(); inhdr = 0
		if (np < npre) print "!!! receiver-added fields missing"
		if (!got) print "!!! no fetchmail Received field"
		print; next }
	inhdr { flush_field(); fname = $0; sub(/:.*/, "", fname); field = $0 "\n"; next }
	{ print }
	END { if (inhdr) { flush_field(); if (!got) print "!!! no fetchmail Received field" } }
	' "$2"
}

# peers_msg_expect FILE RECEIVED: the injected message FILE as it should
# look after delivery and peers_msg_strip: CR before LF removed and the
# text RECEIVED (fetchmail's Received field with DATE for the date, lines
# ending in LF; a missing final LF is supplied) inserted before the first Received: line of the header, or
# at the top when the header has none (fetchmail 6.4.37's rule).
peers_msg_expect() {
	local -; set +e
	LC_ALL=C awk -v recv="$2" '
	BEGIN { if (recv != "" && substr(recv, length(recv)) != "\n") recv = recv "\n" }
	{ sub(/\r$/, "") }
	inhdr == 0 && NR == 1 { inhdr = 1 }
	inhdr == 1 && /^$/ { inhdr = 2 }
	inhdr == 1 { h[++nh] = $0; if (!at && tolower(substr($0, 1, 9)) == "received:") at = nh; next }
	inhdr == 2 && !done { emit(); done = 1 }
	{ print }
	END { if (!done) emit() }
	function emit(   i) {
		if (!at) at = 1
		for (i = 1; i <= nh; i++) { if (i == at) printf "%s", recv; print h[i] }
		if (nh == 0) printf "%s", recv
	}' "$1"
}

# peers_log_lines FILE: the number of lines FILE has now (a mark for
# peers_log_since).
peers_log_lines() {
	local -; set +e
	if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}

# peers_log_since FILE MARK: the lines of FILE after line MARK.
peers_log_since() {
	local -; set +e
	[ -f "$1" ] && tail -n +"$(( $2 + 1 ))" "$1"
}

# postfix_wait_queue_empty TIMEOUT_S: poll until the private Postfix queue
# is empty (every accepted message delivered or bounced).
postfix_wait_queue_empty() {
	local -; set +e
	peers_wait_until "$1" postfix_queue_empty
}

# postfix_clear_maildir USER: remove every message delivered to USER.
postfix_clear_maildir() {
	local -; set +e
	rm -f "$POSTFIX_MAIL/$1"/new/* "$POSTFIX_MAIL/$1"/cur/* 2>/dev/null
	return 0
}

# dovecot_header_list USER NAME [FOLDER]: the NAME header of every
# message in USER's FOLDER (default INBOX), one a line, in delivery order
# (empty line for a message without it).
dovecot_header_list() {
	local -; set +e
	local f v
	for f in $(dovecot_files "$1" "${3:-INBOX}"); do
		v=$(peers_header "$f" "$2")
		printf '%s\n' "$v"
	done
}

# dovecot_expunge_all USER: empty USER's INBOX.
dovecot_expunge_all() {
	local -; set +e
	doveadm -c "$DOVECOT_CONF" expunge -u "$1" mailbox INBOX all 2>/dev/null
	return 0
}

# dovecot_pop3_uidls USER: the POP3 UIDL of every message in USER's INBOX,
# one a line, in message-number order (pop3_uidl_format = %08Xu%08Xv as
# set by _dovecot_write_conf; Dovecot prints that hex in lower case).
dovecot_pop3_uidls() {
	local -; set +e
	local v
	v=$(doveadm -c "$DOVECOT_CONF" -f tab mailbox status -u "$1" uidvalidity INBOX 2>/dev/null |
	    awk -F'\t' 'END { print $NF }')
	[ -n "$v" ] || return 1
	doveadm -c "$DOVECOT_CONF" -f tab fetch -u "$1" uid mailbox INBOX all 2>/dev/null |
	    awk -v v="$v" 'NR > 1 && $1 ~ /^[0-9]+$/ { printf "%08x%08x\n", $1, v }'
}
# ------------------------------------------- end of retrieve/tls helpers

# ================================================================ faultpeer
# Helpers for tests/peers/faultpeer.py (the scriptable fault-injecting POP3
# server + SMTP/LMTP sink; see its docstring).  Appended block, self-
# contained: uses only peers_now_ms, peers_register_pid and peers_kill_wait
# from above.  Polls every 10 ms (a fault matrix runs a hundred peers).

# _faultpeer_until TIMEOUT_S COMMAND...: poll COMMAND every 10 ms until it
# succeeds; false after TIMEOUT_S seconds.
_faultpeer_until() {
	local -; set +e
	local deadline
	deadline=$(( $(peers_now_ms) + $1 * 1000 )); shift
	while :; do
		"$@" && return 0
		[ "$(peers_now_ms)" -ge $deadline ] && return 1
		sleep 0.01
	done
}

# faultpeer_start DIR [OPTION...]: start `faultpeer.py serve --dir DIR
# OPTION...` in the background (it exits by itself when this shell is
# gone), wait until it has written DIR/ports, export FAULTPEER_DIR,
# FAULTPEER_PID, FAULTPEER_POP3_PORT, FAULTPEER_SMTP_PORT and
# FAULTPEER_LMTP_PORT.  Its stdout/stderr go to DIR/faultpeer.out.
# FAULTPEER_PYTHON names the interpreter (default python3; a resolved
# path such as $(python3 -c 'import sys; print(sys.executable)') saves
# the start-up time of version-manager shims).
# False (reason in $PEERS_WHY) if python3 is missing or it did not come up
# within FAULTPEER_START_TIMEOUT seconds (default 10).
faultpeer_start() {
	local -; set +e
	local dir=$1 k p
	shift
	FAULTPEER_DIR=$dir FAULTPEER_PID='' FAULTPEER_POP3_PORT=''
	FAULTPEER_SMTP_PORT='' FAULTPEER_LMTP_PORT=''
	export FAULTPEER_DIR FAULTPEER_PID FAULTPEER_POP3_PORT \
	    FAULTPEER_SMTP_PORT FAULTPEER_LMTP_PORT
	command -v "${FAULTPEER_PYTHON:-python3}" >/dev/null 2>&1 ||
	    { PEERS_WHY="python3 not found"; return 1; }
	mkdir -p "$dir" || { PEERS_WHY="cannot make $dir"; return 1; }
	# -S: stdlib only, and site start-up can cost 0.1 s or more.
	"${FAULTPEER_PYTHON:-python3}" -S "$PEERS_LIB_DIR/faultpeer.py" serve \
	    --dir "$dir" --parent-pid $$ "$@" >>"$dir/faultpeer.out" 2>&1 </dev/null &
	FAULTPEER_PID=$!
	peers_register_pid "$FAULTPEER_PID"
	if ! _faultpeer_until "${FAULTPEER_START_TIMEOUT:-10}" \
	    test -s "$dir/ports"; then
		PEERS_WHY="faultpeer did not start: $(tail -3 "$dir/faultpeer.out" 2>/dev/null | tr '\n' ' ')"
		peers_kill_wait "$FAULTPEER_PID" 2
		return 1
	fi
	while read -r k p; do
		case $k in
		pop3) FAULTPEER_POP3_PORT=$p ;;
		smtp) FAULTPEER_SMTP_PORT=$p ;;
		lmtp) FAULTPEER_LMTP_PORT=$p ;;
		esac
	done <"$dir/ports"
	[ -n "$FAULTPEER_POP3_PORT" ] && [ -n "$FAULTPEER_SMTP_PORT" ]
}

# _faultpeer_is_idle DIR: DIR/status starts with "open 0".
_faultpeer_is_idle() {
	local -; set +e
	local s=
	{ read -r s <"$1/status"; } 2>/dev/null
	[ "$s" = "open 0" ]
}

# faultpeer_idle [TIMEOUT_S] [DIR]: wait until the faultpeer in DIR
# (default $FAULTPEER_DIR) has no connection open, i.e. every session the
# client left has ended and its state (rollback, commit, DIR/report.txt)
# is on disk.
faultpeer_idle() {
	local -; set +e
	_faultpeer_until "${1:-10}" _faultpeer_is_idle "${2:-$FAULTPEER_DIR}"
}

# faultpeer_control JSON [DIR]: atomically replace DIR/control.json (the
# peer re-reads it at its next connection), e.g. '{"faults": []}'.
faultpeer_control() {
	local -; set +e
	local dir=${2:-$FAULTPEER_DIR}
	printf '%s\n' "$1" >"$dir/control.json.tmp" &&
	    mv -f "$dir/control.json.tmp" "$dir/control.json"
}

# faultpeer_stop [PID]: stop the faultpeer (default $FAULTPEER_PID): TERM,
# up to 3 s for it to go, then KILL; reaped.
faultpeer_stop() {
	local -; set +e
	local pid=${1:-$FAULTPEER_PID}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	_faultpeer_until 3 eval "! kill -0 $pid 2>/dev/null" ||
	    peers_kill_wait "$pid" 1
	wait "$pid" 2>/dev/null
	return 0
}
# ============================================================ end faultpeer

# ============================================================ DNS stub
# peers_dns_stub ZONE PROBE: start tests/peers/dnsstub.py on port 53 of
# an unused 127.X.Y.53 address (several tests may run at once) serving
# ZONE (once per script) and set PEERS_DNSWRAP, a command prefix that
# runs a command in a private mount namespace whose /etc/resolv.conf
# names only the stub; returns when PROBE (a name of ZONE) resolves
# through it.  Every query the stub answers is appended to the file
# $PEERS_DNS_QUERIES as "TYPE NAME" (A, AAAA, MX).  False without root
# or unshare: callers skip.
PEERS_DNSWRAP=()
_peers_dns_pid=
peers_dns_stub() {
	local -; set +e
	local try addr _pds_probe=$2
	[ -n "$_peers_dns_pid" ] && return 0
	[ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 || {
		PEERS_WHY="the DNS stub needs root and unshare"; return 1; }
	peers_init || return 1
	PEERS_DNS_QUERIES=$PEERS_TMP/dns.queries
	# shellcheck disable=SC2016 # $1 is the inner shell's
	PEERS_DNSWRAP=(unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf &&
	    shift && exec "$@"' sh "$PEERS_TMP/resolv.conf")
	for ((try = 0; try < 5; try++)); do
		addr=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).53
		echo "nameserver $addr" >"$PEERS_TMP/resolv.conf"
		: >"$PEERS_DNS_QUERIES"
		python3 "$PEERS_LIB_DIR/dnsstub.py" --zone "$1" --addr "$addr" \
		    --log "$PEERS_DNS_QUERIES" >"$PEERS_TMP/dns.log" 2>&1 &
		_peers_dns_pid=$!
		peers_register_pid "$_peers_dns_pid"
		if peers_wait_until 10 eval '! peers_alive $_peers_dns_pid ||
		    "${PEERS_DNSWRAP[@]}" getent hosts "$_pds_probe" >/dev/null 2>&1' &&
		    peers_alive "$_peers_dns_pid"; then
			return 0
		fi
		_peers_dns_pid=	# the address was taken: another
	done
	PEERS_WHY="the DNS stub did not answer: $(cat "$PEERS_TMP/dns.log")"
	return 1
}
