# shellcheck shell=bash
# tests/peers/krb5.sh -- a PRIVATE MIT Kerberos 5 KDC for tests, on
# 127.0.0.1 and a free port, everything under $PEERS_TMP/krb5.  Source it
# after tests/peers/lib.sh:
#
#     . "$top_srcdir/tests/peers/lib.sh"
#     . "$top_srcdir/tests/peers/krb5.sh"
#     krb5_have || { echo "1..0 # SKIP $PEERS_WHY"; exit 0; }
#     krb5_start || exit 1                    # realm $KRB5_REALM
#     krb5_add_user alice secret              # alice@$KRB5_REALM
#     krb5_add_service imap/localhost pop/localhost
#     krb5_ktadd "$KRB5_DIR/dovecot.keytab" dovecot imap/localhost pop/localhost
#     krb5_kinit alice secret                 # into $KRB5CCNAME
#     ... run the client with $KRB5_CLIENT_ENV in its environment ...
#
# The system's /etc/krb5.conf, /etc/krb5kdc and Kerberos services are
# never read or touched: KRB5_CONFIG, KRB5_KDC_PROFILE, KRB5CCNAME and
# KRB5_KTNAME point into $KRB5_DIR and are exported, so kinit, klist,
# kadmin.local and the KDC started here only see the private realm.  The
# KDC runs in the foreground (krb5kdc -n) in the background of the shell;
# its pid is registered with peers_register_pid, so lib.sh's EXIT trap
# stops it and removes the directory.
#
# Exported by krb5_start:
#   KRB5_DIR          $PEERS_TMP/krb5 (database, stash, logs, ccache)
#   KRB5_REALM        FETCHMAIL.TEST unless set before
#   KRB5_KDC_PORT     the KDC's TCP and UDP port on 127.0.0.1
#   KRB5_KDC_PID      the krb5kdc process
#   KRB5_KDC_LOG      its log (one AS_REQ/TGS_REQ line a request)
#   KRB5_CONFIG, KRB5_KDC_PROFILE, KRB5CCNAME, KRB5_KTNAME
#   KRB5_CLIENT_ENV   "KRB5_CONFIG=... KRB5CCNAME=..." for env(1) or
#                     PEERS_FETCHMAIL_ENV
# Settings read by krb5_start:
#   KRB5_REALM        the realm name
#   KRB5_EXTRA_LIBDEFAULTS  extra [libdefaults] lines for krb5.conf
# Needs: krb5-kdc, krb5-admin-server (kadmin.local), krb5-user.

KRB5_DIR='' KRB5_KDC_PID='' KRB5_KDC_PORT=''

# krb5_have: true when the MIT KDC and client tools are installed;
# otherwise false with the reason in $PEERS_WHY.
krb5_have() {
	local -; set +e
	local t
	PEERS_WHY=
	for t in krb5kdc kdb5_util kadmin.local kinit kdestroy klist; do
		command -v "$t" >/dev/null 2>&1 && continue
		# The daemons live in sbin, which a user's PATH may lack.
		case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac
		command -v "$t" >/dev/null 2>&1 ||
		    { PEERS_WHY="$t not installed (krb5-kdc krb5-admin-server krb5-user; tests/peers/deps.sh)"; return 1; }
	done
	return 0
}

# _krb5_udp_listening PORT: true when something is bound to UDP PORT.
_krb5_udp_listening() {
	local -; set +e
	local hex
	hex=$(printf ':%04X ' "$1")
	cat /proc/net/udp /proc/net/udp6 2>/dev/null |
	    awk -v h="$hex" 'NR > 1 && index($2 " ", h) { f = 1 } END { exit !f }'
}

# _krb5_write_conf: krb5.conf (client side, also read by Dovecot's auth
# process) and kdc.conf for the current port.
_krb5_write_conf() {
	local -; set +e
	cat >"$KRB5_CONFIG" <<EOF
# private test realm, written by tests/peers/krb5.sh
[libdefaults]
	default_realm = $KRB5_REALM
	dns_lookup_realm = false
	dns_lookup_kdc = false
	dns_canonicalize_hostname = false
	rdns = false
	ignore_acceptor_hostname = false
	forwardable = false
	ticket_lifetime = 1h
	renew_lifetime = 0
	# one host, one clock: a short skew lets a test expire tickets fast
	clockskew = 1
	default_ccache_name = FILE:$KRB5_DIR/ccache
	default_keytab_name = FILE:$KRB5_DIR/default.keytab
	permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
${KRB5_EXTRA_LIBDEFAULTS:-}

[realms]
	$KRB5_REALM = {
		kdc = 127.0.0.1:$KRB5_KDC_PORT
		admin_server = 127.0.0.1:0
	}

[domain_realm]
	localhost = $KRB5_REALM
	127.0.0.1 = $KRB5_REALM

[logging]
	default = FILE:$KRB5_DIR/krb5lib.log
EOF
	cat >"$KRB5_KDC_PROFILE" <<EOF
# private test KDC, written by tests/peers/krb5.sh
[kdcdefaults]
	kdc_listen = 127.0.0.1:$KRB5_KDC_PORT
	kdc_tcp_listen = 127.0.0.1:$KRB5_KDC_PORT

[realms]
	$KRB5_REALM = {
		database_name = $KRB5_DIR/db/principal
		key_stash_file = $KRB5_DIR/db/stash
		acl_file = $KRB5_DIR/db/kadm5.acl
		kdc_listen = 127.0.0.1:$KRB5_KDC_PORT
		kdc_tcp_listen = 127.0.0.1:$KRB5_KDC_PORT
		max_life = 1h
		max_renewable_life = 0
		master_key_type = aes256-cts-hmac-sha1-96
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
	}

[logging]
	kdc = FILE:$KRB5_KDC_LOG
	admin_server = FILE:$KRB5_DIR/kadmin.log
	default = FILE:$KRB5_DIR/kdc-default.log
EOF
}

# krb5_start: make the realm's database (kdb5_util create -s with a
# random master password) and start krb5kdc on 127.0.0.1:$KRB5_KDC_PORT
# (TCP and UDP); returns when it accepts TCP connections.  On failure the
# logs are printed as TAP comments and the status is 1.
krb5_start() {
	local -; set +e
	local try mpw
	peers_init || return 1
	krb5_have || { peers_log "$PEERS_WHY"; return 1; }
	KRB5_DIR=$PEERS_TMP/krb5
	KRB5_REALM=${KRB5_REALM:-FETCHMAIL.TEST}
	KRB5_CONFIG=$KRB5_DIR/krb5.conf
	KRB5_KDC_PROFILE=$KRB5_DIR/kdc.conf
	KRB5CCNAME=FILE:$KRB5_DIR/ccache
	KRB5_KTNAME=FILE:$KRB5_DIR/default.keytab
	KRB5_KDC_LOG=$KRB5_DIR/kdc.log
	KRB5_CLIENT_ENV="KRB5_CONFIG=$KRB5_CONFIG KRB5CCNAME=$KRB5CCNAME"
	export KRB5_DIR KRB5_REALM KRB5_CONFIG KRB5_KDC_PROFILE KRB5CCNAME \
	    KRB5_KTNAME KRB5_KDC_LOG KRB5_CLIENT_ENV
	mkdir -p "$KRB5_DIR/db" || return 1
	chmod 755 "$KRB5_DIR"
	chmod 700 "$KRB5_DIR/db"
	: >"$KRB5_DIR/db/kadm5.acl"
	touch "$KRB5_KDC_LOG"
	for ((try = 0; try < 5; try++)); do
		peers_free_port KRB5_KDC_PORT || break
		_krb5_udp_listening "$KRB5_KDC_PORT" && continue
		export KRB5_KDC_PORT
		_krb5_write_conf
		if [ ! -f "$KRB5_DIR/db/principal" ]; then
			mpw=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
			# -W: the weak (non-blocking) random source is
			# plenty for a throw-away test realm.
			kdb5_util -r "$KRB5_REALM" create -s -W -P "$mpw" \
			    >"$KRB5_DIR/kdb5_util.log" 2>&1 || {
				peers_log "kdb5_util create failed:"
				sed 's/^/# /' "$KRB5_DIR/kdb5_util.log" >&2
				return 1
			}
		fi
		krb5kdc -n -r "$KRB5_REALM" -P "$KRB5_DIR/kdc.pid" \
		    >>"$KRB5_DIR/krb5kdc.out" 2>&1 </dev/null &
		KRB5_KDC_PID=$!
		export KRB5_KDC_PID
		peers_register_pid "$KRB5_KDC_PID"
		if wait_port 127.0.0.1 "$KRB5_KDC_PORT" 10; then
			return 0
		fi
		if peers_alive "$KRB5_KDC_PID"; then
			peers_log "krb5kdc runs but does not listen on $KRB5_KDC_PORT"
			krb5_dump_logs >&2
			return 1
		fi
		wait "$KRB5_KDC_PID" 2>/dev/null
		# Bound elsewhere meanwhile?  Then another port.
		grep -qi 'in use' "$KRB5_DIR/krb5kdc.out" "$KRB5_KDC_LOG" 2>/dev/null &&
		    { : >"$KRB5_DIR/krb5kdc.out"; continue; }
		break
	done
	peers_log "krb5kdc did not come up"
	krb5_dump_logs >&2
	return 1
}

# krb5_stop: stop the KDC (the EXIT trap does it anyway).
krb5_stop() {
	local -; set +e
	[ -n "${KRB5_KDC_PID:-}" ] && peers_kill_wait "$KRB5_KDC_PID" 5
	KRB5_KDC_PID=
	return 0
}

# krb5_kadmin QUERY: run one kadmin.local request against the private
# database; its output goes to $KRB5_DIR/kadmin.out, status is kept.
krb5_kadmin() {
	local -; set +e
	kadmin.local -r "$KRB5_REALM" -q "$1" >>"$KRB5_DIR/kadmin.out" 2>&1 </dev/null ||
	    { peers_log "kadmin.local '$1' failed"; tail -n 5 "$KRB5_DIR/kadmin.out" | sed 's/^/# /' >&2; return 1; }
	# kadmin.local reports most errors on stderr with status 0.
	if tail -n 3 "$KRB5_DIR/kadmin.out" | grep -qiE 'error|failed|while '; then
		peers_log "kadmin.local '$1':"; tail -n 3 "$KRB5_DIR/kadmin.out" | sed 's/^/# /' >&2
		return 1
	fi
	return 0
}

# krb5_add_user NAME PASSWORD: the principal NAME@$KRB5_REALM with
# PASSWORD (in the kadmin.local query: a fixture of a private database).
krb5_add_user() {
	local -; set +e
	krb5_kadmin "addprinc -pw $2 $1"
}

# krb5_add_service PRINC...: service principals (e.g. imap/localhost) with
# random keys.
krb5_add_service() {
	local -; set +e
	local p
	for p in "$@"; do
		krb5_kadmin "addprinc -randkey $p" || return 1
	done
}

# krb5_ktadd KEYTAB OWNER PRINC...: write the principals' current keys to
# KEYTAB (mode 600, owned by OWNER when root, e.g. the Dovecot auth
# process's user).  -norandkey keeps the keys, so several keytabs may hold
# the same principal.
krb5_ktadd() {
	local -; set +e
	local kt=$1 owner=$2 p
	shift 2
	for p in "$@"; do
		krb5_kadmin "ktadd -k $kt -norandkey $p" || return 1
	done
	chmod 600 "$kt"
	[ "$(id -u)" = 0 ] && [ -n "$owner" ] && chown "$owner" "$kt"
	return 0
}

# krb5_kinit NAME PASSWORD: get a ticket-granting ticket for NAME into
# $KRB5CCNAME, the password given on stdin (never on a command line).
krb5_kinit() {
	local -; set +e
	printf '%s\n' "$2" | kinit "$1@$KRB5_REALM" >"$KRB5_DIR/kinit.out" 2>&1 ||
	    { peers_log "kinit $1 failed: $(tr '\n' ' ' <"$KRB5_DIR/kinit.out")"; return 1; }
	klist -s
}

# krb5_kdestroy: remove the client's ticket cache.
krb5_kdestroy() {
	local -; set +e
	kdestroy -q >/dev/null 2>&1
	rm -f "$KRB5_DIR/ccache"
	return 0
}

# krb5_dump_logs [LINES]: the tail of the KDC's logs as TAP comments.
krb5_dump_logs() {
	local -; set +e
	local f n=${1:-20}
	for f in "$KRB5_KDC_LOG" "$KRB5_DIR/krb5kdc.out" "$KRB5_DIR/kadmin.out"; do
		[ -n "$f" ] && [ -s "$f" ] || continue
		echo "# ---- $f"
		tail -n "$n" "$f" | sed 's/^/# /'
	done
}
