# shellcheck shell=bash
# tests/tap.sh -- TAP helpers shared by the shell tests.  Source it after
# printing the plan; it starts the counters (k: tests so far, failed).
#   ok DESC                    a passing test
#   notok DESC [DIAG...]       a failing one, each DIAG line as a comment
#                              (indented by $TAP_DIAG, default "# ")
#   skip REASON | skip DESC REASON
#   check DESC CMD...          a test point from CMD's status; on failure
#                              the diagnostics CMD left in $WHY are shown
k=0 failed=0
ok() {
	k=$((k + 1))
	echo "ok $k - $1"
}
notok() {
	k=$((k + 1)) failed=$((failed + 1))
	echo "not ok $k - $1"
	shift
	[ $# -gt 0 ] && printf '%s\n' "$@" | sed "s/^/${TAP_DIAG:-# }/"
	return 0
}
skip() {
	k=$((k + 1))
	if [ $# -ge 2 ]; then
		echo "ok $k - $1 # SKIP $2"
	else
		echo "ok $k # SKIP $1"
	fi
}
WHY=
check() {
	local d=$1; shift
	WHY=
	if "$@"; then ok "$d"; else notok "$d" "${WHY:-(no details)}"; fi
}
