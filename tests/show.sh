#!/bin/sh
# tests/show.sh: compare `fetchmail -V` (-v, -v -v) with the reference
# fetchmail 6.4.37 over the rcfiles in tests/show/.  TAP output.
#
# Compared: standard output from the "Fallback MDA:" line on (the lines
# before it are each program's own banner) and the exit status.  An rcfile
# may carry lines "# args: ARGS"; each adds a run with those arguments
# (split by the shell, so quote with "...").  Every run uses a private
# HOME and a copy of tests/show/ as the working directory, so relative
# paths (idfile, logfile, bsmtp, certificates) name the same files for
# both programs.
#
# Environment: FETCHMAIL (our binary, default ./fetchmail), top_srcdir
# (source tree, default .), REF_FETCHMAIL (default /usr/bin/fetchmail).

FETCHMAIL=${FETCHMAIL:-./fetchmail}
top_srcdir=${top_srcdir:-.}
REF=${REF_FETCHMAIL:-/usr/bin/fetchmail}
SRC=$top_srcdir/tests/show

case $FETCHMAIL in /*) ;; *) FETCHMAIL=$(pwd)/$FETCHMAIL ;; esac

if [ ! -x "$REF" ]; then
	echo "1..0 # SKIP reference fetchmail not found at $REF"
	exit 0
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/show.XXXXXX") || exit 99
trap 'rm -rf "$TMP"' EXIT INT TERM
mkdir "$TMP/home" "$TMP/run" "$TMP/out"

if ! HOME=$TMP/home "$REF" -V </dev/null 2>/dev/null |
    head -n 1 | grep -q 'fetchmail release 6\.4\.37+'; then
	echo "1..0 # SKIP $REF is not fetchmail 6.4.37"
	exit 0
fi
if [ ! -x "$FETCHMAIL" ]; then
	echo "Bail out! $FETCHMAIL not built"
	exit 99
fi

# Fresh copy of the rcfiles with the permissions fetchmail insists on.
setup() {
	rm -rf "$TMP/run" "$TMP/home"
	mkdir "$TMP/run" "$TMP/home"
	cp "$SRC"/* "$TMP/run/"
	chmod 600 "$TMP/run"/*
}

# run BINARY OUTFILE ARGS...: the compared part of one -V run; with
# $with_stderr set, standard error is compared too.
run() {
	bin=$1 out=$2
	shift 2
	(cd "$TMP/run" && HOME=$TMP/home LC_ALL=C "$bin" "$@" </dev/null \
	    2>"$out.err" >"$out.raw"; echo "exit status $?" >"$out.rc")
	sed -n '/^Fallback MDA: /,$p' "$out.raw" >"$out"
	cat "$out.rc" >>"$out"
	if [ -n "$with_stderr" ]; then
		echo "standard error:" >>"$out"
		cat "$out.err" >>"$out"
	fi
}

n=0
with_stderr=
# check NAME ARGS...: one TAP line comparing both programs.
check() {
	name=$1
	shift
	n=$((n + 1))
	setup
	run "$REF" "$TMP/out/ref" "$@"
	setup
	run "$FETCHMAIL" "$TMP/out/our" "$@"
	if cmp -s "$TMP/out/ref" "$TMP/out/our"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		diff -u "$TMP/out/ref" "$TMP/out/our" | sed 's/^/# /'
	fi
}

# The runs: every rcfile with -V, -V -v and -V -v -v, then with the
# arguments of each of its "# args:" lines.
plan() {
	for f in "$SRC"/*.rc; do
		b=$(basename "$f")
		printf '%s\t%s\n' "$b" ""
		sed -n 's/^# args: //p' "$f" | while IFS= read -r a; do
			printf '%s\t%s\n' "$b" "$a"
		done
	done
}

plan >"$TMP/plan"
total=$(( $(wc -l <"$TMP/plan") * 3 + 4 ))
echo "1..$total"

while IFS='	' read -r rc args; do
	for v in "" "-v" "-v -v"; do
		name="$rc -V${v:+ $v}${args:+ $args}"
		eval "check \"\$name\" -V $v -f \"\$rc\" $args"
	done
done <"$TMP/plan"

# Without an rcfile, with one read from stdin, and with a missing one;
# here the "No mailservers" message on standard error counts too.
with_stderr=yes
check "no rcfile -V" -V
check "no rcfile -V -v named host" -V -v -p imap host.example.com
check "missing rcfile -V" -V -f does-not-exist.rc
check "empty rcfile on stdin -V" -V -f -
