/*
 * unit_rcfile.c: unit tests of the rcfile lexer, grammar and resolve step,
 * calling cfg_parse_buffer() and cfg_resolve() in-process.  TAP output.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cfg_resolve.h"
#include "tap.h"

static const char	*err_of(const char *);

static const struct cfg_env env = {
	"tester", "/home/tester", "/home/tester", false, 1000,
	"host.example", "/work"
};

/* Parse TEXT (LEN bytes); returns the config, or NULL with the first error
 * copied to ERR. */
static struct cfg *
parse_n(const char *text, size_t len, char *err, size_t errlen)
{
	struct cfg		*c = cfg_new();
	struct cfg_errors	 e = { 0 };

	err[0] = '\0';
	if (cfg_parse_buffer(c, "t.rc", text, len, &e, false) != 0) {
		snprintf(err, errlen, "%s", e.n ? e.msg[0] : "?");
		cfg_errors_free(&e);
		cfg_free(c);
		return NULL;
	}
	cfg_errors_free(&e);
	return c;
}

static struct cfg *
parse(const char *text, char *err, size_t errlen)
{
	return parse_n(text, strlen(text), err, errlen);
}

/* Parse and resolve with an empty command line. */
static struct cfg *
resolved(const char *text)
{
	static const struct cfg_cmdline cmd;
	struct cfg_errors e = { 0 }, w = { 0 };
	char		  err[256];
	struct cfg	 *c = parse(text, err, sizeof(err));

	if (c != NULL && cfg_resolve(c, &cmd, &env, &e, &w) != 0) {
		cfg_free(c);
		c = NULL;
	}
	cfg_errors_free(&e);
	cfg_errors_free(&w);
	return c;
}

/* The password of the first query of TEXT, or NULL. */
static char *
password_of(const char *text)
{
	static char	 buf[256];
	char		 err[256];
	struct cfg	*c = parse(text, err, sizeof(err));

	if (c == NULL || c->queries == NULL || c->queries->o.password == NULL) {
		cfg_free(c);
		return NULL;
	}
	snprintf(buf, sizeof(buf), "%s", c->queries->o.password);
	cfg_free(c);
	return buf;
}

static void
test_escapes(void)
{
	is_str(password_of("poll a pass \"x\\ty\""), "x\ty", "\\t escape");
	is_str(password_of("poll a pass \"x\\ny\""), "x\ny", "\\n escape");
	is_str(password_of("poll a pass \"\\x41\\x4a\""), "AJ", "\\xHH escape");
	is_str(password_of("poll a pass \"\\101\""), "e", "\\ddd is decimal");
	is_str(password_of("poll a pass \"\\0101\""), "\b1",
	    "\\0oo: the 0 counts as one of three digits");
	is_str(password_of("poll a pass \"a\\qb\""), "aqb",
	    "backslash before another character is dropped");
	is_str(password_of("poll a pass \"ab\\\""), "ab",
	    "trailing backslash in a quoted string");
	is_str(password_of("poll a pass ab\\"), "ab",
	    "trailing backslash in a bare word");
	is_str(password_of("poll a pass \"a\\\nb\""), "ab",
	    "backslash-newline joins lines");
	is_str(password_of("poll a pass \"a\nb\""), "a\nb",
	    "a quoted string may span lines");
	is_str(password_of("poll a pass \"x\\x\""), "x",
	    "\\x without digits yields NUL, ending the string");
	is_str(password_of("poll a pass 'q\"r'"), "q\"r",
	    "single quotes may hold a double quote");
	is_str(password_of("poll a pass \"sec\\\"ret\""), "\"sec\"ret\"",
	    "longest match: quoted-looking token is a bare word");
}

static void
test_wildcard(void)
{
	char		 err[256];
	struct cfg	*c;

	c = parse("poll * via * user b is x * = \"q\" here", err, sizeof(err));
	ok(c && strcmp(c->queries->pollname, "*") == 0 &&
	    c->queries->o.localnames.n == 2 && !c->queries->o.wildcard &&
	    strcmp(c->queries->o.localnames.map[1], "q") == 0,
	    "* is an ordinary word: poll name, via, mapping source");
	cfg_free(c);
	c = parse("poll a user b to \"*\"", err, sizeof(err));
	ok(c && c->queries->o.wildcard && c->queries->o.localnames.n == 0,
	    "a plain local name * (quoted or not) is the wildcard");
	cfg_free(c);
}

static void
test_name_state(void)
{
	char		 err[256];
	struct cfg	*c;

	is_str(password_of("poll a pass 42"), "42", "number after pass is a name");
	is_str(password_of("poll a pass keep"), "keep", "keyword after pass is a name");
	c = parse("poll a user any is x", err, sizeof(err));
	ok(c && strcmp(c->queries->o.remote, "any") == 0,
	    "reserved word after user is a name");
	cfg_free(c);
	ok(strstr(err_of("poll a is b 123"), "syntax error at 123") != NULL,
	    "only the first name after `is` is in name state");
	is_str(err_of("poll 12345"), "fetchmail:t.rc:1: syntax error at 12345",
	    "a bare number is not a poll name");
	c = parse("poll \"12345\"", err, sizeof(err));
	ok(c != NULL && strcmp(c->queries->pollname, "12345") == 0,
	    "a quoted number is a poll name");
	cfg_free(c);
}

/* The first error parsing TEXT (LEN bytes), or "" when it parses. */
static const char *
err_of_n(const char *text, size_t len)
{
	static char	 err[256];

	cfg_free(parse_n(text, len, err, sizeof(err)));
	return err;
}

static const char *
err_of(const char *text)
{
	return err_of_n(text, strlen(text));
}

static void
test_errors(void)
{
	is_str(err_of("poll a\n user b\n  keep\n  POLL c"),
	    "fetchmail:t.rc:4: syntax error at POLL",
	    "keywords are case-sensitive; line counted");
	is_str(err_of("poll a user"),
	    "fetchmail:t.rc:1: syntax error at end of input", "end of input");
	is_str(err_of("poll a user b keep\n proto pop3"),
	    "fetchmail:t.rc:2: server option after user options at pop3",
	    "server option after user options");
	ok(strstr(err_of("poll a\ndefaults"),
	    "\"defaults\" is not the first record") != NULL,
	    "late defaults record");
	is_str(err_of("set daemon = 600"),
	    "fetchmail:t.rc:1: syntax error at 600",
	    "set daemon = N is a syntax error");
	ok(*err_of("poll a nossl") != '\0', "nossl is not a run-on negation");
	is_str(err_of_n("\0poll a", 7),
	    "fetchmail:t.rc:1: syntax error at end of input",
	    "a token starting with NUL reads as end of input");
	is_str(err_of("poll a interface \"eth0\""),
	    "fetchmail: missing IP interface address", "interface check");
}

static void
test_long_and_big(void)
{
	size_t		 n = 1 << 20, i, sz;
	char		*buf = malloc(n + 64), *big, err[256];
	struct cfg	*c;
	const char	 line[] = "poll host.example.com proto pop3 user u pass p is l\n";

	memcpy(buf, "poll a pass ", 12);
	memset(buf + 12, 'x', n);
	buf[12 + n] = '\0';
	c = parse(buf, err, sizeof(err));
	ok(c && strlen(c->queries->o.password) == n, "a 1 MiB token");
	cfg_free(c);
	free(buf);

	sz = 10u << 20;
	big = malloc(sz + 1);
	for (i = 0; i + sizeof(line) - 1 <= sz; i += sizeof(line) - 1)
		memcpy(big + i, line, sizeof(line) - 1);
	big[i] = '\0';
	c = parse(big, err, sizeof(err));
	ok(c != NULL, "a 10 MB rcfile parses");
	cfg_free(c);
	free(big);
}

static void
test_resolve(void)
{
	struct cfg	*c;

	c = resolved("poll a");
	ok(c && strcmp(c->queries->o.remote, "tester") == 0 &&
	    strcmp(c->queries->o.localnames.v[0], "tester") == 0,
	    "implicit user is the invoking user");
	ok(c && c->queries->o.timeout.v == 300 &&
	    c->queries->o.sslcertck == FLAG_TRUE &&
	    c->queries->o.fetchsizelimit.v == 100,
	    "built-in defaults");
	ok(c && strcmp(c->g.idfile, "/home/tester/.fetchids") == 0,
	    "idfile default");
	cfg_free(c);
	c = resolved("defaults aka x timeout 9 keep\npoll a timeout 0");
	ok(c && c->queries->o.keep == FLAG_TRUE && c->queries->o.aka.n == 0,
	    "defaults are inherited, but not aka");
	ok(c && c->queries->o.timeout.v == 300, "timeout 0 means 300");
	cfg_free(c);
	c = resolved("poll a mda \"x\"");
	ok(c && c->queries->o.stripcr == FLAG_TRUE, "an MDA implies stripcr");
	cfg_free(c);
	c = resolved("poll a proto etrn");
	ok(c && c->queries->o.fetchdomains.n == 1 &&
	    strcmp(c->queries->o.fetchdomains.v[0], "host.example") == 0 &&
	    strcmp(c->queries->o.password, "tester") == 0,
	    "ETRN defaults: fetchdomains and dummy password");
	cfg_free(c);
	c = resolved("poll a lmtp");
	ok(c == NULL, "LMTP without a port is refused");
	cfg_free(c);
	c = resolved("poll a lmtp smtphost /run/lmtp localhost/24");
	ok(c != NULL, "LMTP to a socket and an explicit port");
	cfg_free(c);
	c = resolved("poll a folder x y idle");
	ok(c == NULL, "idle with two folders is refused");
	cfg_free(c);
}

/* The .netrc password for LOGIN at HOST in TEXT, in a static buffer. */
static const char *
netrc(const char *text, const char *host, const char *login)
{
	static char	 buf[64];
	char		*p = cfg_netrc_lookup(text, strlen(text), host, login);

	if (p == NULL)
		return NULL;
	snprintf(buf, sizeof(buf), "%s", p);
	free(p);
	return buf;
}

static void
test_netrc(void)
{
	is_str(netrc("machine m login u password p", "m", "u"), "p",
	    "netrc: machine and login match");
	is_str(netrc("machine m password p", "m", "u"), NULL,
	    "netrc: an entry without login matches nothing");
	is_str(netrc("default login u password p", "m", "u"), NULL,
	    "netrc: default is not used");
	is_str(netrc("machine m login u password p\nmachine m login u "
	    "password q", "m", "u"), "p", "netrc: the first match wins");
	is_str(netrc("machine m\n login u\n password \"a b\"", "m", "u"),
	    "a b", "netrc: quoted password over several lines");
	is_str(netrc("machine x login u password p macdef init\nmachine m "
	    "login u password bad\n\nmachine m login u password good", "m",
	    "u"), "good", "netrc: macdef body is skipped");
	is_str(netrc("machine M login u password p", "m", "u"), NULL,
	    "netrc: host names are case-sensitive");
	is_str(netrc("machine m login u password", "m", "u"), NULL,
	    "netrc: truncated entry");
}

int
main(void)
{
	test_netrc();
	test_wildcard();
	test_escapes();
	test_name_state();
	test_errors();
	test_long_and_big();
	test_resolve();
	return done_testing();
}
