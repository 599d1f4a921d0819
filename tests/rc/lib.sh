# tests/rc/lib.sh: shared helpers for golden.sh, refdiff.sh and regen-golden.sh.
# Sourced, not executed.  POSIX sh.
#
# A case is one rcfile NAME.rc.  Leading header comments (only at the very
# top of the file, one per line, any order) control how it is run:
#   # ARGS: <words>     extra command-line arguments (shell-quoted, eval'd)
#   # MODE: 0644        chmod applied to the copied rcfile (default 0600)
#   # DIR               the path given with -f is an (empty) directory
#   # TOUCH: <relpath>  create this empty file (0600) next to the rcfile first
#   # OWNER: <user>     chown the copy to this user (needs root; else SKIP)
#
# Environment of every run: env -i, HOME=<tmp>/home (empty dir),
# PATH=/usr/bin:/bin, LC_ALL=C, no FETCHMAILHOME/USER/LOGNAME, stdin
# /dev/null, cwd=<tmp>/rc, rcfile copied to <tmp>/rc/NAME.rc, command
#   fetchmail --configdump --nosyslog -f <tmp>/rc/NAME.rc ARGS
#
# Expected files hold placeholders instead of machine-dependent text:
#   @DIR@         the temporary directory (its physical path)
#   @HOME@        <tmp>/home
#   @USER@        the invoking user's login name (only as a whole "quoted"
#                 value in .out, or `quoted' word in .err)
#   @POSTMASTER@  the default postmaster ("postmaster" for uid 0, else the
#                 user name); only when the case never mentions postmaster
#   @HOST@        this host's name, only as the default ETRN/ODMR
#                 fetchdomains value
#   @ARGV0@       the program path as invoked, at the start of a line of
#                 .err (getopt messages)

ROOT_WARNING='fetchmail: WARNING: Running as root is discouraged.'

# rc_headers FILE -> sets _args _mode _dir _touch _owner from the leading
# header comments (one awk run)
rc_headers() {
	_args= _mode= _dir= _touch= _owner=
	eval "$(awk '
		function q(v) { gsub(/\047/, "\047\\\047\047", v); return "\047" v "\047" }
		/^# DIR[ \t\r]*$/ { print "_dir=yes"; next }
		/^# (ARGS|MODE|TOUCH|OWNER):/ {
			k = $2; sub(/:$/, "", k); v = $0; sub(/^# [A-Z]+:[ \t]*/, "", v)
			sub(/[ \t\r]+$/, "", v); print "_" tolower(k) "=" q(v); next
		}
		{ exit }' "$1")"
}

# rc_tmp_init: sets TMPW to a fresh physical temporary directory (removed
# on exit) and computes the machine-dependent values once: RC_USER,
# RC_HOST, RC_PM (default postmaster).
rc_tmp_init() {
	TMPW=$(mktemp -d "${TMPDIR:-/tmp}/fmrc.XXXXXX") || exit 99
	TMPW=$(cd "$TMPW" && pwd -P) || exit 99
	trap 'rm -rf "$TMPW"' EXIT
	trap 'exit 130' HUP INT TERM PIPE
	RC_USER=$(rc_whoami)
	RC_HOST=$(rc_hostname)
	RC_PM=$(rc_default_postmaster)
	_rep_d=$(rc_sed_rep "$TMPW") _rep_u=$(rc_sed_rep "$RC_USER")
	_rep_h=$(rc_sed_rep "$RC_HOST") _rep_p=$(rc_sed_rep "$RC_PM")
	_re_d=$(rc_sed_re "$TMPW") _re_u=$(rc_sed_re "$RC_USER")
	_re_h=$(rc_sed_re "$RC_HOST") _re_p=$(rc_sed_re "$RC_PM")
	_bin_cached= _rep_b= _re_b=
}

# rc_bin_escape BIN: caches the escaped forms of BIN
rc_bin_escape() {
	[ "$_bin_cached" = "$1" ] && return
	_bin_cached=$1 _rep_b=$(rc_sed_rep "$1") _re_b=$(rc_sed_re "$1")
}

# rc_whoami: login name of the real uid
rc_whoami() {
	id -un 2>/dev/null || whoami
}

# rc_hostname: what fetchmail computes as this host's name
rc_hostname() {
	h=$(hostname 2>/dev/null || uname -n)
	case $h in
	*.*) ;;
	*) f=$(hostname -f 2>/dev/null) && [ -n "$f" ] && h=$f ;;
	esac
	printf '%s\n' "$h"
}

# rc_default_postmaster
rc_default_postmaster() {
	if [ "$(id -u)" = 0 ]; then echo postmaster; else rc_whoami; fi
}

# rc_run BIN RCFILE OUTPREFIX
#   runs one case; writes OUTPREFIX.out, OUTPREFIX.err (root warning
#   removed) and OUTPREFIX.status.  Returns 77 if the case must be skipped
#   (OWNER when not root).  Uses $TMPW (cleared for each case).
rc_run() {
	_bin=$1 _rc=$2 _o=$3
	_name=$(basename "$_rc")
	rm -rf "$TMPW/home" "$TMPW/rc"
	mkdir "$TMPW/home" "$TMPW/rc" || return 99
	rc_headers "$_rc"
	if [ -n "$_touch" ]; then
		mkdir -p "$(dirname "$TMPW/rc/$_touch")"
		: > "$TMPW/rc/$_touch"; chmod 600 "$TMPW/rc/$_touch"
	fi
	if [ -n "$_dir" ]; then
		mkdir "$TMPW/rc/$_name"
	else
		cp "$_rc" "$TMPW/rc/$_name" || return 99
		chmod "${_mode:-0600}" "$TMPW/rc/$_name"
		if [ -n "$_owner" ]; then
			[ "$(id -u)" = 0 ] || return 77
			chown "$_owner" "$TMPW/rc/$_name" || return 99
		fi
	fi
	eval "set -- $_args"
	(cd "$TMPW/rc" && env -i HOME="$TMPW/home" PATH=/usr/bin:/bin LC_ALL=C \
		timeout 20 "$_bin" --configdump --nosyslog -f "$TMPW/rc/$_name" "$@" \
		</dev/null >"$_o.out" 2>"$_o.raw")
	echo $? > "$_o.status"
	grep -v -x -F "$ROOT_WARNING" "$_o.raw" > "$_o.err"
	rm -f "$_o.raw"
	return 0
}

# rc_sed_re STRING -> escaped for the regex part of s|||
rc_sed_re() {
	printf '%s\n' "$1" | sed -e 's/[]\/|.*^$[]/\\&/g'
}

# rc_sed_rep STRING -> escaped for the replacement part of s|||
rc_sed_rep() {
	printf '%s\n' "$1" | sed -e 's/[\/|&]/\\&/g'
}

# rc_expand EXPECTED_FILE RCFILE BIN -> expected text with placeholders filled in
rc_expand() {
	rc_bin_escape "$3"
	sed -e "s|@HOME@|$_rep_d/home|g" -e "s|@DIR@|$_rep_d|g" -e "s|@USER@|$_rep_u|g" \
	    -e "s|@HOST@|$_rep_h|g" -e "s|@POSTMASTER@|$_rep_p|g" -e "s|^@ARGV0@:|$_rep_b:|" "$1"
}

# rc_generalise FILE RCFILE BIN -> placeholders put in (for regen)
rc_generalise() {
	rc_bin_escape "$3"
	_b=$_re_b _d=$_re_d _u=$_re_u _h=$_re_h _p=$_re_p
	_pm='s|^    "postmaster":"'"$_p"'",$|    "postmaster":"@POSTMASTER@",|'
	if grep -q postmaster "$2"; then _pm='s|^\(    "postmaster"\)|\1|'; fi
	sed -e "s|^$_b:|@ARGV0@:|" -e "s|$_d/home|@HOME@|g" -e "s|$_d|@DIR@|g" -e "$_pm" \
	    -e "s|^\(\t\t    \"fetchdomains\":\[\)\"$_h\"\]|\1\"@HOST@\"]|" \
	    -e "s|\"$_u\"|\"@USER@\"|g" -e "s|\`$_u'|\`@USER@'|g" "$1"
}
