#!/bin/bash
# Command-line tests (TAP).  Part 1 checks our own documented behaviour
# (exit codes, where usage goes, -V's first line).  Part 2 runs the
# reference fetchmail 6.4.37, when installed, and ours with the same
# options over one rcfile and compares --configdump output and status.
set -u
bin=${FETCHMAIL:-./fetchmail}
ref=${REF_FETCHMAIL:-/usr/bin/fetchmail}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/home"
export HOME=$work/home
unset FETCHMAILHOME
cd "$work" || exit 1
cat >rc <<'EOF'
set daemon 60
set logfile "log"
poll pop.example.com proto pop3 user "jo" pass "pw" is jo here
poll imap.example.com proto imap user "al" is al here folder INBOX keep
skip old.example.com user "ol"
EOF
chmod 600 rc
touch log
# passwords for entries that give none come from ~/.netrc
cat >"$HOME/.netrc" <<'EOF'
machine imap.example.com login al password "from netrc"
machine old.example.com login ol password skipped-unless-named
EOF
chmod 600 "$HOME/.netrc"

n=0 failed=0
pass() { n=$((n+1)); echo "ok $n - $1"; }
fail() { n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then pass "$1"; else fail "$1"; fi; }

# ---- part 1: our own behaviour
"$bin" --bogus >out 2>err; st=$?
check "unknown option exits 5" '[ $st = 5 ]'
check "unknown option: usage on stderr, nothing on stdout" \
	'grep -q "^usage:  fetchmail \[options\] \[server ...\]" err && [ ! -s out ]'
"$bin" --help >out 2>err; st=$?
check "--help exits 0 with usage on stdout" '[ $st = 0 ] && grep -q "^usage:" out'
"$bin" -V -f /dev/null >out 2>err; st=$?
check "-V exits 0" '[ $st = 0 ]'
check "-V first line is what Webmin matches" \
	'head -1 out | grep -Eq "^This is fetchmail release 6\.4\.37\S*"'
"$bin" -V -f /nonexistent/x >out 2>/dev/null </dev/null; st=$?
check "-V needs no rcfile" '[ $st = 0 ] && head -1 out | grep -q "fetchmail release"'
"$bin" -d abc --configdump -f rc >out 2>err; st=$?
check "bad number: message and exit 5" \
	"[ \$st = 5 ] && grep -q \"String 'abc' is not a valid number string.\" err"
"$bin" -p bogus --configdump -f rc >out 2>err; st=$?
check "bad protocol: message and exit 5" \
	"[ \$st = 5 ] && grep -q \"Invalid protocol \\\`bogus' specified.\" err"
"$bin" -m x -S y --configdump -f rc >out 2>err; st=$?
check "-m with -S is a usage error" '[ $st = 5 ]'
chmod 644 rc
"$bin" --configdump -f rc >out 2>err; st=$?
check "rcfile readable by others: exit 6" \
	'[ $st = 6 ] && grep -q "must have no more than -rwx------ (0700) permissions" err'
"$bin" -V -f rc >out 2>err; st=$?
check "-V skips the permission check" '[ $st = 0 ]'
chmod 600 rc
"$bin" --configdump -f rc >out 2>err
check ".netrc supplies a missing password" "grep -q '\"password\":\"from netrc\"' out"
check ".netrc is not read for skip entries" "! grep -q 'skipped-unless-named' out"
printf 'poll stdin.example.com\n' | "$bin" --configdump -f - >out 2>err; st=$?
check "-f - reads stdin" "[ \$st = 0 ] && grep -q '\"pollname\":\"stdin.example.com\"' out"

# -s silences progress, not the query status (as the reference): a
# refused connection still prints "Query status=2 (SOCKET)" on stdout
printf 'poll 127.0.0.1 proto pop3 service 1 user a pass b is a here\n' >rc-closed
chmod 600 rc-closed
"$bin" -f rc-closed --pidfile "$work/pid-s" -s >out 2>err; st=$?
check "-s: a failed query still says Query status=2 (SOCKET) on stdout" \
	'[ $st = 2 ] && grep -qx "fetchmail: Query status=2 (SOCKET)" out'

"$bin" -f rc-closed --pidfile "$work/pid-c" -c >out 2>err; st=$?
check "-c: a failed query prints no Query status line (as the reference)" \
	'[ $st = 2 ] && ! grep -q "Query status" out err'
"$bin" -f rc-closed --pidfile "$work/pid-c" -c -v >out 2>err
check "-c -v: says --check mode enabled, not fetching mail" \
	'grep -qx "fetchmail: --check mode enabled, not fetching mail" out'

# ---- part 2: differential against the reference
argsets=(
	""
	"-k"
	"-K -a -F --limitflush -n"
	"-d 120"
	"-d0"
	"-c"
	"-p imap -U --idle"
	"-p IMAP -P 1143"
	"--port 995 --ssl"
	"--auth cram-md5"
	"--auth kerberos"
	"--auth any"
	"-t 42 -E X-Original-To -Q mbox-"
	"-t 0"
	"--bad-header accept"
	"-u someone"
	"-l 1000 -w 60 -b 3 -B 7 -e 2 --fetchsizelimit 5 --fastuidl 1"
	"-l 0"
	"-l 0x10"
	"-r INBOX,Sent"
	"-S a,b/2525"
	"--fetchdomains x.org,y.org -D example.org --smtpname me@example.org"
	"-Z 571,550,501 "
	"-Z -1"
	"-m /usr/bin/procmail"
	"--bsmtp out.bsmtp"
	"--lmtp -S localhost/24"
	"-I eth0/10.0.0.1 -M eth0"
	"-I eth0"
	"-I eth0/300.1.1.1"
	"--plugin nc --plugout nc2"
	"--sslkey k.pem --sslcert c.pem --sslproto TLS1.2+ --nosslcertck"
	"--sslcertck --sslcertfile ca.pem --sslcertpath /etc/ssl/certs"
	"--sslcommonname mail.example.com --sslfingerprint AA:BB"
	"--principal imap/x --tracepolls"
	"-L otherlog"
	"--syslog"
	"--nosyslog --invisible --showdots"
	"-i ids --postmaster pm --nobounce"
	"--softbounce"
	"--nosoftbounce"
	"pop.example.com"
	"old.example.com"
	"imap.example.com pop.example.com"
	"-v -s"
	"--username u --fetchall --keep --flush --norewrite --limit 5"
	"--proto etrn"
	"--protocol odmr"
	"-p kpop"
	"-p sdps"
	"-p apop"
	"-p rpop"
	"-p bogus"
	"--auth bogus"
	"--bad-header maybe"
	"-l abc"
	"-l 99999999999"
	"-d -5"
)
if ! "$ref" -V 2>/dev/null </dev/null | head -1 | grep -q 'release 6\.4\.37'; then
	echo "1..$n"
	echo "# reference fetchmail 6.4.37 not installed: differential part skipped"
	[ $failed = 0 ]
	exit
fi
for a in "${argsets[@]}"; do
	# shellcheck disable=SC2086
	"$ref" --configdump -f rc $a >r.out 2>r.err </dev/null; rs=$?
	# shellcheck disable=SC2086
	"$bin" --configdump -f rc $a >c.out 2>c.err </dev/null; cs=$?
	if [ $rs = 0 ]; then
		if [ $cs = 0 ] && cmp -s r.out c.out; then
			pass "configdump with [$a]"
		else
			fail "configdump with [$a] (ref=$rs ours=$cs)"
			diff r.out c.out | head -10 | sed 's/^/# /'
			head -3 c.err | sed 's/^/# ours: /'
		fi
	elif [ $cs = "$rs" ] || { [ $rs = 0 ] && [ $cs = 5 ]; }; then
		pass "rejected like the reference: [$a] (status $rs)"
	else
		fail "rejection of [$a]: ref=$rs ours=$cs"
		head -3 r.err | sed 's/^/# ref: /'
		head -3 c.err | sed 's/^/# ours: /'
	fi
done
echo "1..$n"
[ $failed = 0 ]
