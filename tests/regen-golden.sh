#!/bin/sh
# Regenerate the expected outputs tests/rc/*.{out,err,status} from the
# REFERENCE fetchmail 6.4.37, always /usr/bin/fetchmail (deliberately no
# override: our own binary prints the same version banner).
# Usage: tests/regen-golden.sh [tests/rc/NAME.rc ...]
# Run it as root or as a user whose login name does not occur as a value
# in the rcfiles (the name is replaced by @USER@ in the expectations).
# See tests/rc/lib.sh for the run environment and the placeholders.
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
rcdir=$top/tests/rc
ref=/usr/bin/fetchmail
. "$rcdir/lib.sh"

if [ ! -x "$ref" ]; then
	echo "regen-golden: $ref not found" >&2; exit 1
fi
rc_tmp_init
mkdir "$TMPW/home"
ver=$(env -i HOME="$TMPW/home" PATH=/usr/bin:/bin LC_ALL=C "$ref" --version </dev/null 2>/dev/null | head -1)
case $ver in
"This is fetchmail release 6.4.37"*) ;;
*) echo "regen-golden: $ref is not fetchmail 6.4.37 ($ver)" >&2; exit 1 ;;
esac
if command -v dpkg-query >/dev/null 2>&1; then
	case $(dpkg-query -W -f '${Version}' fetchmail 2>/dev/null) in
	6.4.37*) ;;
	*) echo "regen-golden: the fetchmail package is not version 6.4.37" >&2; exit 1 ;;
	esac
fi

[ $# -gt 0 ] || set -- "$rcdir"/*.rc
n=0
for rc in "$@"; do
	base=${rc%.rc}
	rc_run "$ref" "$rc" "$TMPW/res"
	r=$?
	if [ $r = 77 ]; then
		echo "regen-golden: $(basename "$rc"): needs root, expectations kept" >&2
		continue
	fi
	[ $r = 0 ] || { echo "regen-golden: cannot run $rc" >&2; exit 1; }
	rc_generalise "$TMPW/res.out" "$rc" "$ref" > "$base.out"
	rc_generalise "$TMPW/res.err" "$rc" "$ref" > "$base.err"
	cp "$TMPW/res.status" "$base.status"
	n=$((n+1))
done
echo "regen-golden: $n expectations written"
