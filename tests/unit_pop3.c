/*
 * unit_pop3.c: unit tests of the POP3 reply parsers (TAP).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pop3_parse.h"
#include "auth.h"
#include "md5.h"
#include "tap.h"

#define L(s)	(s), (sizeof(s) - 1)

static void
test_status(void)
{
	const char	*t;
	size_t		 n;

	ok(pop3_status(L("+OK Dovecot ready."), &t, &n) == POP3_OK &&
	    n == 14 && strncmp(t, "Dovecot ready.", n) == 0, "+OK with text");
	ok(pop3_status(L("+OK"), &t, &n) == POP3_OK && n == 0, "bare +OK");
	ok(pop3_status(L("-ERR [IN-USE] locked"), &t, &n) == POP3_ERR,
	    "-ERR");
	ok(pop3_status(L("+ PDEyMzQ+"), &t, &n) == POP3_CONT, "continuation");
	ok(pop3_status(L("+OKAY"), &t, &n) == POP3_BAD, "+OKAY is not +OK");
	ok(pop3_status(L("OK"), &t, &n) == POP3_BAD, "garbage");
	ok(pop3_status("", 0, &t, &n) == POP3_BAD, "empty line");
}

static void
test_errclass(void)
{
	ok(pop3_errclass(L("[IN-USE] Mailbox locked")) == POP3_E_LOCKED,
	    "[IN-USE]");
	ok(pop3_errclass(L("[LOGIN-DELAY] wait")) == POP3_E_LOCKED,
	    "[LOGIN-DELAY]");
	ok(pop3_errclass(L("[SYS/TEMP] try later")) == POP3_E_TEMP,
	    "[SYS/TEMP]");
	ok(pop3_errclass(L("[AUTH] Authentication failed.")) == POP3_E_AUTH,
	    "[AUTH]");
	ok(pop3_errclass(L("maildrop already Locked")) == POP3_E_LOCKED,
	    "lock heuristic");
	ok(pop3_errclass(L("Service temporarily unavailable")) == POP3_E_BUSY,
	    "service unavailable");
	ok(pop3_errclass(L("bad password")) == POP3_E_OTHER, "plain failure");
}

static void
test_numbers(void)
{
	unsigned long		 c, num;
	unsigned long long	 o;
	const char		*uid;
	size_t			 n;

	ok(pop3_parse_stat(L("2 320"), &c, &o) == 0 && c == 2 && o == 320,
	    "STAT");
	ok(pop3_parse_stat(L("2 320 extra"), &c, &o) == 0, "STAT with text");
	ok(pop3_parse_stat(L("2"), &c, &o) == -1, "STAT without octets");
	ok(pop3_parse_stat(L("-2 3"), &c, &o) == -1, "negative STAT");
	ok(pop3_parse_stat(L("99999999999999999999999 1"), &c, &o) == -1,
	    "STAT overflow");
	ok(pop3_parse_list(L("1 120"), &num, &o) == 0 && num == 1 && o == 120,
	    "LIST line");
	ok(pop3_parse_list(L("0 120"), &num, &o) == -1, "message 0");
	ok(pop3_parse_list(L("1x 120"), &num, &o) == -1, "LIST junk");
	ok(pop3_parse_uidl(L("1 whqtswO00WBw418f9t5JxYwZ"), &num, &uid, &n) == 0 &&
	    num == 1 && n == 24 && strncmp(uid, "whqtswO00WBw418f9t5JxYwZ", n) == 0,
	    "UIDL");
	ok(pop3_parse_uidl(L("3 abc  "), &num, &uid, &n) == 0 && n == 3,
	    "UIDL trailing blanks");
	ok(pop3_parse_uidl(L("3 x y z"), &num, &uid, &n) == 0 && n == 1 &&
	    *uid == 'x', "UID ends at the first blank, as in the reference");
	ok(pop3_parse_uidl(L("3 "), &num, &uid, &n) == -1, "empty UID");
	ok(pop3_parse_uidl(L("3 caf\xc3\xa9\x01\x7f"), &num, &uid, &n) == 0 &&
	    n == 7, "high and control bytes are kept, as in the reference");
	ok(pop3_parse_uidl(L("x abc"), &num, &uid, &n) == -1, "no number");
}

static void
test_capa_apop(void)
{
	struct pop3_caps c;
	const char	*ts;
	size_t		 n, skip;

	memset(&c, 0, sizeof(c));
	c.login_delay = -1;
	pop3_parse_capa(&c, L("TOP"));
	pop3_parse_capa(&c, L("UIDL"));
	pop3_parse_capa(&c, L("STLS"));
	pop3_parse_capa(&c, L("PIPELINING"));
	pop3_parse_capa(&c, L("SASL PLAIN cram-md5 SCRAM-SHA-256"));
	pop3_parse_capa(&c, L("LOGIN-DELAY 900"));
	pop3_parse_capa(&c, L("TOPX"));
	ok(c.top && c.uidl && c.stls && c.pipelining, "CAPA words");
	ok(c.sasl_plain && c.sasl_cram_md5 && c.sasl_scram_sha256 &&
	    !c.sasl_login, "SASL mechanisms, any case");
	ok(c.login_delay == 900, "LOGIN-DELAY");

	ok(pop3_apop_timestamp(L("+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>"),
	    &ts, &n) == 0 && n == 33 && strncmp(ts, "<1896.", 6) == 0,
	    "RFC 1939 example timestamp");
	ok(pop3_apop_timestamp(L("+OK Dovecot ready."), &ts, &n) == 1,
	    "no timestamp");
	ok(pop3_apop_timestamp(L("+OK <nodomain>"), &ts, &n) == -1,
	    "timestamp without @");
	ok(pop3_apop_timestamp(L("+OK <a@b"), &ts, &n) == -1,
	    "unterminated timestamp");
	ok(pop3_apop_timestamp(L("+OK <a b@c>"), &ts, &n) == -1,
	    "space in timestamp");

	ok(pop3_multiline_end(L("."), &skip), "terminator");
	ok(!pop3_multiline_end(L(".."), &skip) && skip == 1, "stuffed dot");
	ok(!pop3_multiline_end(L("text"), &skip) && skip == 0, "plain line");
}

/* Known answers: RFC 1321 appendix A.5, RFC 2104/2202, RFC 1939 APOP,
 * RFC 2195 CRAM-MD5. */
static void
test_auth(void)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		  "57edf4a22be3c955ac49da2e2107b67a" },
	};
	unsigned char	 md[MD5_DIGEST_LEN], key[80];
	char		 hex[33], *r, *b, *d;
	struct md5	 c;
	size_t		 i, j, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		md5_init(&c);
		/* feed in two pieces to cross the block buffer */
		md5_update(&c, v[i].in, strlen(v[i].in) / 3);
		md5_update(&c, v[i].in + strlen(v[i].in) / 3,
		    strlen(v[i].in) - strlen(v[i].in) / 3);
		md5_final(&c, md);
		for (j = 0; j < 16; j++)
			snprintf(hex + 2 * j, 3, "%02x", md[j]);
		is_str(hex, v[i].out, "MD5 of \"%.10s\"", v[i].in);
	}
	hmac_md5("Jefe", 4, "what do ya want for nothing?", 28, md);
	for (j = 0; j < 16; j++)
		snprintf(hex + 2 * j, 3, "%02x", md[j]);
	is_str(hex, "750c783e6ab0b503eaa86e310a5db738", "HMAC-MD5 RFC 2104");
	memset(key, 0xaa, sizeof(key));
	hmac_md5(key, 80, "Test Using Larger Than Block-Size Key - Hash Key "
	    "First", 54, md);
	for (j = 0; j < 16; j++)
		snprintf(hex + 2 * j, 3, "%02x", md[j]);
	is_str(hex, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd", "HMAC-MD5 long key");
	r = auth_apop("<1896.697170952@dbc.mtview.ca.us>", 33, "tanstaaf");
	is_str(r, "c4c9334bac560ecc979e58001b3e22fb", "APOP digest RFC 1939");
	free(r);
	r = auth_cram_md5("tim", "tanstaaftanstaaf",
	    "<1896.697170952@postoffice.reston.mci.net>", 42);
	is_str(r, "tim b913a602c7eda7a495b4e6e7334d3890", "CRAM-MD5 RFC 2195");
	b = auth_b64_encode(r, strlen(r));
	is_str(b, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
	    "base64 RFC 2195");
	d = auth_b64_decode(b, strlen(b), &n);
	ok(d != NULL && n == strlen(r) && memcmp(d, r, n) == 0,
	    "base64 round trip");
	free(d);
	ok(auth_b64_decode("abc", 3, &n) == NULL, "bad base64 length refused");
	d = auth_b64_decode("YQ==", 4, &n);
	ok(d != NULL && n == 1 && d[0] == 'a', "padding gives the length");
	free(d);
	free(b);
	free(r);
}

int
main(void)
{
	test_auth();
	test_status();
	test_errclass();
	test_numbers();
	test_capa_apop();
	return done_testing();
}
