#!/bin/sh
# Differential test (TAP producer): runs the reference fetchmail 6.4.37
# ($REF_FETCHMAIL, default /usr/bin/fetchmail) and OUR fetchmail
# ($FETCHMAIL, default ./fetchmail) live, in the same environment (see
# tests/rc/lib.sh), on every $top_srcdir/tests/rc/*.rc and every *.rc in
# $CONFORMANCE_DIR (default $top_srcdir/../shared/conformance/rcfiles;
# ignored when absent); the corpus only with REFDIFF_ALL=1.  Compares stdout and exit status exactly; for
# rcfiles the reference rejects, also the first "NAME.rc:LINE:" of stderr.
# Extra arguments: rcfiles to use instead of the two directories.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
rcdir=$top/tests/rc
. "$rcdir/lib.sh"
ref=${REF_FETCHMAIL:-/usr/bin/fetchmail}
conf=${CONFORMANCE_DIR:-$top/../shared/conformance/rcfiles}

bin=${FETCHMAIL:-./fetchmail}
case $bin in
/*) ;;
*/*) bin=$(pwd)/$bin ;;
*) bin=$(command -v "$bin" 2>/dev/null || echo "$bin") ;;
esac

rc_tmp_init
mkdir "$TMPW/home"
ver=
[ -x "$ref" ] && ver=$(env -i HOME="$TMPW/home" PATH=/usr/bin:/bin LC_ALL=C "$ref" --version </dev/null 2>/dev/null | head -1)
case $ver in
"This is fetchmail release 6.4.37"*) ;;
*) echo "1..0 # SKIP reference fetchmail not installed"; exit 0 ;;
esac
if [ ! -x "$bin" ]; then
	echo "Bail out! fetchmail binary $bin not found (set FETCHMAIL)"
	exit 1
fi

if [ $# -eq 0 ]; then
	# The corpus is checked against its recorded expectations by
	# golden.sh; running the reference live on all of it too is slow, so
	# it is done only when REFDIFF_ALL=1 (do so after regenerating).
	if [ "${REFDIFF_ALL:-0}" = 1 ]; then
		set -- "$rcdir"/*.rc
	else
		set --
	fi
	if [ -d "$conf" ]; then
		for f in "$conf"/*.rc; do [ -f "$f" ] && set -- "$@" "$f"; done
	fi
fi
echo "1..$#"
[ -d "$conf" ] || echo "# conformance samples not found at $conf (skipped)"

k=0 failed=0
for rc in "$@"; do
	k=$((k+1))
	name=$(basename "$rc" .rc)
	case $rc in "$conf"/*) label="conformance/$name" ;; *) label=$name ;; esac
	rc_run "$ref" "$rc" "$TMPW/ref"; r=$?
	if [ $r = 77 ]; then echo "ok $k - $label # SKIP needs root"; continue; fi
	rc_run "$bin" "$rc" "$TMPW/got"
	why=
	rs=$(cat "$TMPW/ref.status") gs=$(cat "$TMPW/got.status")
	[ "$rs" = "$gs" ] || why="$why status"
	cmp -s "$TMPW/ref.out" "$TMPW/got.out" || why="$why stdout"
	if [ "$rs" != 0 ]; then
		rl=$(grep -o "$name\.rc:[0-9]*:" "$TMPW/ref.err" | head -1)
		gl=$(grep -o "$name\.rc:[0-9]*:" "$TMPW/got.err" | head -1)
		[ "$rl" = "$gl" ] || why="$why location"
	fi
	if [ -z "$why" ]; then echo "ok $k - $label"; continue; fi
	failed=$((failed+1))
	echo "not ok $k - $label (differs:$why)"
	case $why in *status*) echo "# exit status: reference $rs, ours $gs" ;; esac
	case $why in *location*) echo "# error location: reference '$rl', ours '$gl'" ;; esac
	case $why in *stdout*)
		echo "# stdout diff (reference vs ours):"
		diff -u "$TMPW/ref.out" "$TMPW/got.out" | sed -n '3,24s/^/# /p' ;;
	esac
	if [ "$rs" != 0 ] || [ "$gs" != 0 ]; then
		echo "# stderr reference: $(head -1 "$TMPW/ref.err")"
		echo "# stderr ours:      $(head -1 "$TMPW/got.err")"
	fi
done
[ $failed = 0 ] || echo "# $failed of $k rcfiles differ from the reference"
exit 0
