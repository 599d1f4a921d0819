#!/usr/bin/env bash
# Set everything up and run the whole test suite:
#  1. install the build and test dependencies (Debian/Ubuntu, apt-get);
#  2. autoreconf, then four out-of-tree builds under build/:
#     plain (warnings as errors, every test), asan (ASan+UBSan, the tests
#     that run our code), extras (--enable-pop2 --enable-rpa under ASan,
#     their tests), fuzz (clang libFuzzer targets, bounded run);
#  3. make distcheck;
#  4. print "N passed, N failed, N skipped" as the last line.
# FUZZ_SECONDS (default 15 here) bounds each fuzz target's run; SKIP_DISTCHECK=1 and
# SKIP_FUZZ=1 leave those steps out.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2

DEPS="build-essential autoconf automake autopoint pkg-config flex bison
gettext libssl-dev python3 groff man-db clang libclang-rt-14-dev fetchmail valgrind
locales libkrb5-dev faketime"

# Install what is missing; as root directly, otherwise through sudo.
install_deps() {
	local missing=() p
	command -v dpkg-query >/dev/null 2>&1 || return 0
	for p in $DEPS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	echo "== installing: ${missing[*]}"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends "${missing[@]}" >/dev/null
}

logs=()
steps_failed=0

# Run "make check" in build/NAME configured with the remaining arguments
# (environment assignments first, then configure options).
build_and_check() {
	local name=$1; shift
	local dir=$top/build/$name envs=() opts=() tests=""
	while [ $# -gt 0 ]; do
		case $1 in
		TESTS=*) tests=${1#TESTS=} ;;
		*=*) envs+=("$1") ;;
		*) opts+=("$1") ;;
		esac
		shift
	done
	echo "== $name build"
	rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || return 1
	if ! env "${envs[@]}" "$top/configure" -q "${opts[@]}" >configure.out 2>&1 ||
	    ! make -j2 >make.out 2>&1; then
		echo "!! $name: build failed"; tail -30 configure.out make.out 2>/dev/null
		steps_failed=$((steps_failed + 1)); cd "$top"; return 1
	fi
	if [ -n "$tests" ]; then
		make -j2 check TESTS="$tests" >check.out 2>&1
	else
		make -j2 check >check.out 2>&1
	fi
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP)' check.out | grep -vE '^(PASS|SKIP)' | head -40
	grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR)' check.out | sed "s/^/   $name /"
	logs+=("$dir/test-suite.log")
	cd "$top"
}

install_deps || { echo "!! could not install dependencies"; echo "0 passed, 1 failed"; exit 1; }
# Dovecot, Postfix and the MDAs for the real-peer tests: installed with
# their daemons kept from starting and Postfix left unconfigured.
bash tests/peers/deps.sh >/dev/null || { echo "!! could not install the mail servers"; echo "0 passed, 1 failed"; exit 1; }
echo "== autoreconf"
autoreconf -fi >/dev/null 2>&1 || { echo "!! autoreconf failed"; echo "0 passed, 1 failed"; exit 1; }

build_and_check plain --enable-debug
build_and_check asan \
    "CFLAGS=-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
    "TESTS=tests/unit_rcfile tests/unit_pop3 tests/unit_uidstore tests/unit_conn tests/unit_sink tests/unit_msg tests/unit_rcpt tests/unit_imap tests/golden.sh tests/cmdline.sh tests/show.sh tests/retrieve.sh tests/tls.sh tests/faults.sh tests/daemon.sh tests/imap.sh tests/unit_bounce tests/delivery.sh tests/unit_sasl tests/auth.sh tests/gssapi.sh tests/saslpeer.sh tests/oauth.sh tests/etrn.sh tests/odmr.sh tests/sdps.sh tests/multidrop-sinks.sh"
# POP2 and RPA are built only on request (as in the reference's Debian
# build, whose configdump and -V the default build matches): one build
# with both, under ASan, for their tests.
build_and_check extras \
    "CFLAGS=-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
    --enable-pop2 --enable-rpa "TESTS=tests/pop2.sh tests/rpa.sh tests/unit_sasl tests/saslpeer.sh"
# Eight targets: 15 s each keeps the whole run near a quarter of an hour.
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
export FUZZ_SECONDS
if [ "${SKIP_FUZZ:-0}" != 1 ] && command -v clang >/dev/null 2>&1; then
	build_and_check fuzz CC=clang \
	    "CFLAGS=-O1 -g -fsanitize=address,undefined -fsanitize=fuzzer-no-link" \
	    --enable-fuzzing "TESTS=tests/fuzz/run.sh"
fi
if [ "${SKIP_DISTCHECK:-0}" != 1 ] && [ -d build/plain ]; then
	echo "== make distcheck"
	if (cd build/plain && make distcheck TESTS="tests/unit_rcfile tests/unit_pop3 tests/unit_uidstore" \
	    >distcheck.out 2>&1); then
		echo "   distcheck passed"
		distcheck=pass
	else
		echo "!! distcheck failed"; tail -30 build/plain/distcheck.out
		distcheck=fail
	fi
fi

# Sum the automake TAP summaries; failed build steps count as failures.
pass=0 fail=$steps_failed skip=0
for l in "${logs[@]}"; do
	[ -f "$l" ] || { fail=$((fail + 1)); continue; }
	p=$(sed -n 's/^# PASS: *//p' "$l"); x=$(sed -n 's/^# XFAIL: *//p' "$l")
	f=$(sed -n 's/^# FAIL: *//p' "$l"); e=$(sed -n 's/^# ERROR: *//p' "$l")
	xp=$(sed -n 's/^# XPASS: *//p' "$l"); s=$(sed -n 's/^# SKIP: *//p' "$l")
	pass=$((pass + ${p:-0} + ${x:-0})); fail=$((fail + ${f:-0} + ${e:-0} + ${xp:-0}))
	skip=$((skip + ${s:-0}))
done
case ${distcheck:-} in pass) pass=$((pass + 1)) ;; fail) fail=$((fail + 1)) ;; esac
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
