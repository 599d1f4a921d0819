#!/bin/sh
# Golden tests for rcfile parsing and --configdump (TAP producer).
# Runs OUR fetchmail ($FETCHMAIL, default ./fetchmail) on every
# $top_srcdir/tests/rc/*.rc (or on the rcfiles given as arguments) and
# compares stdout byte for byte, stderr and the exit status with the
# expectations NAME.out / NAME.err / NAME.status recorded from the
# reference fetchmail 6.4.37 by tests/regen-golden.sh.
# Environment and placeholders: see tests/rc/lib.sh.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
rcdir=$top/tests/rc
. "$rcdir/lib.sh"

bin=${FETCHMAIL:-./fetchmail}
case $bin in
/*) ;;
*/*) bin=$(pwd)/$bin ;;
*) bin=$(command -v "$bin" 2>/dev/null || echo "$bin") ;;
esac
if [ ! -x "$bin" ]; then
	echo "Bail out! fetchmail binary $bin not found (set FETCHMAIL)"
	exit 1
fi

[ $# -gt 0 ] || set -- "$rcdir"/*.rc
echo "1..$#"

rc_tmp_init
k=0 failed=0
for rc in "$@"; do
	k=$((k+1))
	name=$(basename "$rc" .rc)
	base=${rc%.rc}
	if [ ! -f "$base.out" ] || [ ! -f "$base.err" ] || [ ! -f "$base.status" ]; then
		echo "not ok $k - $name # no expectation (run tests/regen-golden.sh)"
		failed=$((failed+1)); continue
	fi
	rc_run "$bin" "$rc" "$TMPW/got"
	r=$?
	if [ $r = 77 ]; then
		echo "ok $k - $name # SKIP needs root"
		continue
	elif [ $r != 0 ]; then
		echo "not ok $k - $name # could not set up the case"
		failed=$((failed+1)); continue
	fi
	rc_expand "$base.out" "$rc" "$bin" > "$TMPW/exp.out"
	rc_expand "$base.err" "$rc" "$bin" > "$TMPW/exp.err"
	why=
	es=$(cat "$base.status") gs=$(cat "$TMPW/got.status")
	[ "$es" = "$gs" ] || why="$why status"
	cmp -s "$TMPW/exp.out" "$TMPW/got.out" || why="$why stdout"
	# The usage text after a command-line error is our own wording (a
	# clean-room rewrite does not copy fetchmail's help text): compare
	# stderr only up to it.
	sed -i '/^usage:  fetchmail /,$d' "$TMPW/exp.err" "$TMPW/got.err"
	cmp -s "$TMPW/exp.err" "$TMPW/got.err" || why="$why stderr"
	if [ -z "$why" ]; then
		echo "ok $k - $name"
		continue
	fi
	failed=$((failed+1))
	echo "not ok $k - $name (differs:$why)"
	case $why in *status*) echo "# exit status: expected $es, got $gs" ;; esac
	case $why in *stdout*)
		echo "# stdout diff (expected vs got):"
		diff -u "$TMPW/exp.out" "$TMPW/got.out" | sed -n '3,24s/^/# /p' ;;
	esac
	case $why in *stderr*)
		echo "# stderr diff (expected vs got):"
		diff -u "$TMPW/exp.err" "$TMPW/got.err" | sed -n '3,14s/^/# /p' ;;
	esac
done
[ $failed = 0 ] || echo "# $failed of $k cases differ"
exit 0
