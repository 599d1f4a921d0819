#!/bin/sh
# Run the rcfile fuzz target for a bounded time with the golden rcfiles as
# seed corpus (TAP).  FUZZ_SECONDS sets the budget (default 60).
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${top_builddir:-.}/tests/fuzz/fuzz_rcfile
echo "1..1"
if [ ! -x "$bin" ]; then
	echo "ok 1 # SKIP fuzz target not built"
	exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/corpus"
for f in "$top"/tests/rc/*.rc "${CONFORMANCE_DIR:-/nonexistent}"/*.rc; do
	[ -f "$f" ] && cp "$f" "$work/corpus/"
done
if "$bin" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=4096 \
    -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1; then
	echo "ok 1 - fuzz_rcfile ran $(grep -o 'Done [0-9]* runs' "$work/log")"
else
	echo "not ok 1 - fuzz_rcfile found a crash"
	tail -40 "$work/log" | sed 's/^/# /'
	for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
		[ -f "$a" ] && { echo "# input:"; od -c "$a" | head -20 | sed 's/^/# /'; }
	done
	exit 1
fi
