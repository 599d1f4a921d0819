#!/bin/bash
# Translation tests (TAP).  Checks that po/de.po is complete and valid,
# that po/POTFILES.in names every source file with translatable strings,
# and that the built binary speaks German under a German locale (and
# English under LANG=C) with the catalog compiled from po/de.po.  The
# catalog is found through FETCHMAIL_LOCALEDIR, the German locale is made
# with localedef into a private LOCPATH when the system has none.
set -u
bin=${FETCHMAIL:-./fetchmail}
srcdir=${top_srcdir:-.}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

echo "1..28"
# shellcheck source=tests/tap.sh
. "$srcdir/tests/tap.sh"
check() { if eval "$2"; then ok "$1"; else notok "$1" "${@:3}"; fi; }

# Every locale variable comes from us, not from the caller.
unset LANGUAGE LC_ALL LC_MESSAGES LC_CTYPE LC_COLLATE LC_NUMERIC LC_TIME \
    LC_MONETARY FETCHMAILUSER
mkdir "$work/home" "$work/msg"
export HOME=$work/home FETCHMAILHOME=$work/home
pid=$work/home/pid

# ---- the catalog itself
have_msgfmt=false
command -v msgfmt >/dev/null 2>&1 && have_msgfmt=true
if $have_msgfmt; then
	mkdir -p "$work/msg/de/LC_MESSAGES"
	msgfmt --check --statistics -o "$work/msg/de/LC_MESSAGES/fetchmail.mo" \
	    "$srcdir/po/de.po" >"$work/stat" 2>&1
	st=$?
	check "po/de.po compiles with msgfmt --check" '[ $st = 0 ]' "$(cat "$work/stat")"
	check "po/de.po: no fuzzy or untranslated messages" \
	    '[ $st = 0 ] && ! grep -Eq "fuzzy|untranslated" "$work/stat"' "$(cat "$work/stat")"
else
	skip "po/de.po compiles with msgfmt --check" "msgfmt not installed"
	skip "po/de.po: no fuzzy or untranslated messages" "msgfmt not installed"
fi

# POTFILES.in must name every file that marks strings for translation.
missing=$(cd "$srcdir" &&
    grep -lE '(^|[^A-Za-z0-9_])N?_\(' src/*.c rcfile/*.c rcfile/*.y rcfile/*.l 2>/dev/null |
    while read -r f; do
	    grep -qxF "$f" po/POTFILES.in || echo "$f"
    done)
check "po/POTFILES.in lists every source file with _() or N_()" '[ -z "$missing" ]' \
    "not listed: $missing"

# Every msgid in the sources has a German translation.
if $have_msgfmt && command -v xgettext >/dev/null 2>&1 &&
    command -v msgcmp >/dev/null 2>&1; then
	(cd "$srcdir" && xgettext --keyword=_ --keyword=N_ --from-code=UTF-8 \
	    --files-from=po/POTFILES.in -o "$work/cur.pot") 2>"$work/xg"
	msgcmp "$srcdir/po/de.po" "$work/cur.pot" >"$work/cmp" 2>&1; st=$?
	check "po/de.po translates every msgid in the current sources" '[ $st = 0 ]' \
	    "$(msgmerge -q -N "$srcdir/po/de.po" "$work/cur.pot" -o - 2>/dev/null |
	    msgattrib --untranslated --no-wrap 2>/dev/null | grep '^msgid "..*' | head -20)" \
	    "(update with: msgmerge -U po/de.po po/fetchmail.pot, then translate)"
else
	skip "po/de.po translates every msgid in the current sources" \
	    "xgettext/msgcmp not installed"
fi

# ---- a German locale: the system's, or one made here
export LOCPATH
locale_ok() {
	[ "$(LANG=de_DE.UTF-8 locale charmap 2>/dev/null)" = UTF-8 ] &&
	    ! LANG=de_DE.UTF-8 locale 2>&1 >/dev/null | grep -q .
}
unset LOCPATH
de_ok=false
if locale_ok; then
	de_ok=true
elif command -v localedef >/dev/null 2>&1 &&
    mkdir -p "$work/locale" &&
    localedef -i de_DE -f UTF-8 "$work/locale/de_DE.UTF-8" >"$work/ld" 2>&1 &&
    LOCPATH=$work/locale && export LOCPATH && locale_ok; then
	de_ok=true
else
	unset LOCPATH
fi
$have_msgfmt || de_ok=false
why="no German locale (install 'locales') or no msgfmt"

export FETCHMAIL_LOCALEDIR=$work/msg
: >"$work/empty.rc"
chmod 600 "$work/empty.rc"
printf 'poll\n' >"$work/syntax.rc"
chmod 600 "$work/syntax.rc"
printf 'poll pop.example.org proto pop3 user x pass y\n' >"$work/perm.rc"
chmod 644 "$work/perm.rc"
# a loopback port that nobody listens on
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null)
[ -n "$port" ] || port=9
printf 'poll 127.0.0.1 proto pop3 port %s timeout 10 user x pass y\n' "$port" >"$work/closed.rc"
chmod 600 "$work/closed.rc"

# run LANGVALUE ARGS...: the binary under that locale, output in out/err
run() {
	local l=$1; shift
	LANG=$l "$bin" --pidfile "$pid" "$@" >"$work/out" 2>"$work/err" </dev/null
	# shellcheck disable=SC2034 # read by the check expressions
	st=$?
}
has() { grep -qF -- "$1" "$work/$2"; }

# ---- German
if $de_ok; then
	run de_DE.UTF-8 --help
	check "de: --help exits 0" '[ $st = 0 ]'
	check "de: --help usage line" \
	    'head -1 "$work/out" | grep -qxF "Aufruf:  fetchmail [Optionen] [Server ...]"' \
	    "$(head -3 "$work/out")"
	check "de: --help option summary" \
	    'has "  -k, --keep        Nachrichten auf dem Server belassen" out &&
	     has "  -?, --help        diese Übersicht anzeigen und beenden" out'
	run de_DE.UTF-8 -p bogus -f "$work/empty.rc"
	check "de: invalid protocol message, exit 5" \
	    '[ $st = 5 ] && has "Ungültiges Protokoll „bogus“ angegeben." err' "$(cat "$work/err")"
	run de_DE.UTF-8 -f "$work/empty.rc"
	check "de: empty rcfile: no mailservers, exit 5" \
	    '[ $st = 5 ] && has "fetchmail: es wurden keine Mailserver angegeben." err' \
	    "$(cat "$work/err")"
	run de_DE.UTF-8 -f "$work/perm.rc"
	check "de: rcfile permission error, exit 6" \
	    '[ $st = 6 ] && has "darf höchstens die Zugriffsrechte -rwx------ (0700) haben." err' \
	    "$(cat "$work/err")"
	run de_DE.UTF-8 -f "$work/syntax.rc"
	check "de: rcfile syntax error at the end of input" \
	    '[ $st = 5 ] && has "Ende der Eingabe" err' "$(cat "$work/err")"
	run de_DE.UTF-8 -f "$work/closed.rc"
	check "de: connection refused on a closed port, exit 2" \
	    '[ $st = 2 ] && has "Verbindungsfehler bei dieser Abfrage:" err &&
	     has "POP3-Verbindung zu 127.0.0.1 fehlgeschlagen: " err' "$(cat "$work/err")"
	run de_DE.UTF-8 -V -f "$work/closed.rc"
	check "de: -V keeps the English first line Webmin matches" \
	    '[ $st = 0 ] && head -1 "$work/out" | grep -q "^This is fetchmail release 6\.4\.37"' \
	    "$(head -1 "$work/out")"
	check "de: -V describes the configuration in German" \
	    'has "Optionen werden von der Kommandozeile und $work/closed.rc übernommen" out &&
	     has "  Protokoll ist POP3 (mit Dienst $port)." out &&
	     has "  Singledrop-Modus: 1 lokaler Name erkannt." out' "$(head -20 "$work/out")"
	# without the catalog the German locale still gives English
	FETCHMAIL_LOCALEDIR=$work/nonexistent run de_DE.UTF-8 --help
	check "de without a catalog: English" \
	    '[ $st = 0 ] && head -1 "$work/out" | grep -q "^usage:  fetchmail"'
else
	for t in "de: --help exits 0" "de: --help usage line" "de: --help option summary" \
	    "de: invalid protocol message, exit 5" "de: empty rcfile: no mailservers, exit 5" \
	    "de: rcfile permission error, exit 6" "de: rcfile syntax error at the end of input" \
	    "de: connection refused on a closed port, exit 2" \
	    "de: -V keeps the English first line Webmin matches" \
	    "de: -V describes the configuration in German" "de without a catalog: English"; do
		skip "$t" "$why"
	done
fi

# ---- the same under LANG=C: English
run C --help
check "C: --help exits 0" '[ $st = 0 ]'
check "C: --help usage line" \
    'head -1 "$work/out" | grep -qxF "usage:  fetchmail [options] [server ...]"'
check "C: --help option summary" \
    'has "  -k, --keep        leave messages on the server" out &&
     has "  -?, --help        show this summary and exit" out'
check "C: --help has no German" '! has "Aufruf:" out && ! has "Nachrichten" out'
run C -p bogus -f "$work/empty.rc"
check "C: invalid protocol message, exit 5" \
    "[ \$st = 5 ] && has \"Invalid protocol \\\`bogus' specified.\" err" "$(cat "$work/err")"
run C -f "$work/empty.rc"
check "C: empty rcfile: no mailservers, exit 5" \
    '[ $st = 5 ] && has "fetchmail: no mailservers have been specified." err' "$(cat "$work/err")"
run C -f "$work/perm.rc"
check "C: rcfile permission error, exit 6" \
    '[ $st = 6 ] && has "must have no more than -rwx------ (0700) permissions." err' \
    "$(cat "$work/err")"
run C -f "$work/syntax.rc"
check "C: rcfile syntax error at the end of input" \
    '[ $st = 5 ] && has "end of input" err' "$(cat "$work/err")"
run C -f "$work/closed.rc"
check "C: connection refused on a closed port, exit 2" \
    '[ $st = 2 ] && has "Connection errors for this poll:" err &&
     has "POP3 connection to 127.0.0.1 failed: " err' "$(cat "$work/err")"
check "C: no German in the error output" \
    '! has "Verbindung" err && ! has "Abfrage" err'
run C -V -f "$work/closed.rc"
check "C: -V describes the configuration in English" \
    'has "Taking options from command line and $work/closed.rc" out &&
     has "  Protocol is POP3 (using service $port)." out &&
     has "  Single-drop mode: 1 local name recognized." out' "$(head -20 "$work/out")"
# an unsupported locale name falls back to English, too
run xx_XX.UTF-8 --help
check "unknown locale: English" '[ $st = 0 ] && head -1 "$work/out" | grep -q "^usage:"'
# LANGUAGE alone does not switch the C locale to German
LANGUAGE=de run C --help
check "LANGUAGE=de under LANG=C: English" 'head -1 "$work/out" | grep -q "^usage:"'

[ "$failed" = 0 ]
