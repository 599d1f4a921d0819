#!/bin/sh
# tests/man.sh: checks on the manual page man/fetchmail.1 (TAP output).
#
#  1. groff -man -ww reports no warnings; 2. nor does man -l;
#  then one test per long option in src/options.c's longopts[] table and
#  one per keyword quoted in the rules of rcfile/rcfile_lex.l: each must
#  appear as a whole word in the formatted page.
#
# top_srcdir defaults to the parent directory of this script.

if ! command -v groff >/dev/null 2>&1; then
	echo "1..0 # SKIP groff missing"
	exit 0
fi

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
page=$top_srcdir/man/fetchmail.1
options_c=$top_srcdir/src/options.c
lexer=$top_srcdir/rcfile/rcfile_lex.l

for f in "$page" "$options_c" "$lexer"; do
	if [ ! -r "$f" ]; then
		echo "Bail out! cannot read $f"
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/man-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' 0 1 2 15

# Long option names: the first string of each `{ "name", ...` entry of
# the longopts[] table.
sed -n '/longopts\[\][[:space:]]*=/,/^};/p' "$options_c" |
    sed -n 's/^[[:space:]]*{[[:space:]]*"\([^"]*\)".*/\1/p' >"$tmp/opts"

# rcfile keywords: every quoted string in the pattern (first field) of the
# lexer rules, i.e. lines that start with a double quote.
grep '^"' "$lexer" | awk '{ print $1 }' |
    grep -o '"[^"]*"' | sed 's/^"//; s/"$//' | sort -u >"$tmp/kws"

nopts=$(wc -l <"$tmp/opts" | tr -d ' ')
nkws=$(wc -l <"$tmp/kws" | tr -d ' ')
if [ "$nopts" -eq 0 ] || [ "$nkws" -eq 0 ]; then
	echo "Bail out! found $nopts long options and $nkws keywords"
	exit 1
fi

# Plain-text rendering: no hyphenation, very long lines, no overstriking
# or escape sequences, so that names are never split or decorated.
LC_ALL=C groff -man -Tascii -rHY=0 -rLL=3000n -P-c -P-b -P-u -P-o \
    "$page" >"$tmp/text" 2>/dev/null

echo "1..$((2 + nopts + nkws))"
n=1

LC_ALL=C groff -man -ww -z "$page" >"$tmp/warn" 2>&1
if [ -s "$tmp/warn" ]; then
	echo "not ok $n - groff -man -ww reports no warnings"
	sed 's/^/#   /' "$tmp/warn"
else
	echo "ok $n - groff -man -ww reports no warnings"
fi
n=$((n + 1))
if ! command -v man >/dev/null 2>&1; then
	echo "ok $n # SKIP man not installed"
elif LC_ALL=C MANWIDTH=80 man --warnings -l "$page" 2>"$tmp/manwarn" >/dev/null &&
    [ ! -s "$tmp/manwarn" ]; then
	echo "ok $n - man --warnings -l renders without a warning"
else
	echo "not ok $n - man --warnings -l renders without a warning"
	sed 's/^/#   /' "$tmp/manwarn"
fi

# found WORD: is WORD in the page as a whole word?  Names made of letters,
# digits, '_', '-', '.' and '+' must not touch such characters on either
# side; anything else (e.g. "=" or "*") is searched for literally.
found() {
	case $1 in
	*[!A-Za-z0-9_.+-]*)
		grep -F -e "$1" "$tmp/text" >/dev/null ;;
	*)
		re=$(printf '%s' "$1" | sed 's/[.+]/\\&/g')
		grep -E -e "(^|[^A-Za-z0-9_-])${re}([^A-Za-z0-9_-]|\$)" \
		    "$tmp/text" >/dev/null ;;
	esac
}

while read -r opt; do
	n=$((n + 1))
	if found "--$opt"; then
		echo "ok $n - option --$opt is documented"
	else
		echo "not ok $n - option --$opt is documented"
	fi
done <"$tmp/opts"

while read -r kw; do
	n=$((n + 1))
	if found "$kw"; then
		echo "ok $n - keyword $kw is documented"
	else
		echo "not ok $n - keyword $kw is documented"
	fi
done <"$tmp/kws"
exit 0
