/*
 * unit_sasl.c: unit tests of the SASL mechanisms (TAP): published
 * known-answer vectors (RFC 1320, 2195, 2289, 5802, 7677, MS-NLMP 4.2.4),
 * message formats, and hostile server challenges.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "md4.h"
#include "sasl.h"
#include "sasl_priv.h"
#include "tap.h"

#define L(s)	(const unsigned char *)(s), (sizeof(s) - 1)
#define S(s)	(s), (sizeof(s) - 1)

/* Lowercase hex of N bytes (static buffer, enough for 256 bytes). */
static const char *
hex(const unsigned char *p, size_t n)
{
	static char	buf[513];
	size_t		i;

	if (n > 256)
		n = 256;
	for (i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", p[i]);
	buf[2 * n] = '\0';
	return buf;
}

/* Bytes of a hex string (allocated). */
static unsigned char *
unhex(const char *h, size_t *n)
{
	size_t		 len = strlen(h) / 2, i;
	unsigned char	*b = malloc(len + 1);
	unsigned int	 v;

	for (i = 0; i < len; i++) {
		sscanf(h + 2 * i, "%2x", &v);
		b[i] = (unsigned char)v;
	}
	*n = len;
	return b;
}

static struct sasl *
mk(enum sasl_mech m, const char *user, const char *pass, const char *az)
{
	struct sasl_cred	 c;
	const char		*err = NULL;
	struct sasl		*x;

	memset(&c, 0, sizeof(c));
	c.user = user;
	c.pass = pass;
	c.authzid = az;
	x = sasl_new(m, &c, &err);
	if (x == NULL)
		printf("# sasl_new: %s\n", err ? err : "(null)");
	return x;
}

/* Whether OUT/N is exactly the string WANT (which may hold NULs). */
static int
same(const unsigned char *out, size_t n, const char *want, size_t wn)
{
	return out != NULL && n == wn && memcmp(out, want, n) == 0;
}

/* Run one step with a string challenge; frees the response. */
static enum sasl_rc
step_s(struct sasl *x, const char *in, size_t n)
{
	unsigned char	*out;
	size_t		 outlen;
	enum sasl_rc	 rc;

	rc = sasl_step(x, (const unsigned char *)in, n, &out, &outlen);
	free(out);
	return rc;
}

static void
test_names(void)
{
	ok(strcmp(sasl_mech_name(SASL_SCRAM_SHA256), "SCRAM-SHA-256") == 0,
	    "name of SCRAM-SHA-256");
	ok(sasl_mech_by_name("cram-md5") == SASL_CRAM_MD5,
	    "by name, case-insensitive");
	ok(sasl_mech_by_name("xoauth2") == SASL_XOAUTH2, "XOAUTH2 by name");
	ok(sasl_mech_by_name("SCRAM-SHA-512") == -1, "unknown name");
	ok(sasl_mech_by_name(NULL) == -1, "NULL name");
	ok(sasl_mech_name(SASL_NMECHS) == NULL, "name out of range");
	ok(sasl_mech_available(SASL_NTLM) && sasl_mech_available(SASL_OTP),
	    "NTLM and OTP available");
	ok(sasl_mech_available(SASL_GSSAPI) == sasl_gssapi_built(),
	    "GSSAPI availability follows the build");
	ok(sasl_mech_masks_password(SASL_CRAM_MD5) &&
	    sasl_mech_masks_password(SASL_SCRAM_SHA1) &&
	    sasl_mech_masks_password(SASL_SCRAM_SHA256) &&
	    sasl_mech_masks_password(SASL_OTP) &&
	    sasl_mech_masks_password(SASL_NTLM) &&
	    sasl_mech_masks_password(SASL_GSSAPI) &&
	    sasl_mech_masks_password(SASL_EXTERNAL), "masking mechanisms");
	ok(!sasl_mech_masks_password(SASL_PLAIN) &&
	    !sasl_mech_masks_password(SASL_LOGIN) &&
	    !sasl_mech_masks_password(SASL_OAUTHBEARER) &&
	    !sasl_mech_masks_password(SASL_XOAUTH2), "clear mechanisms");
}

static void
test_new(void)
{
	struct sasl_cred	 c;
	const char		*err = NULL;
	struct sasl		*x;

	memset(&c, 0, sizeof(c));
	c.pass = "p";
	ok(sasl_new(SASL_PLAIN, &c, &err) == NULL && err != NULL,
	    "PLAIN without user refused");
	c.user = "u";
	c.pass = NULL;
	err = NULL;
	ok(sasl_new(SASL_SCRAM_SHA256, &c, &err) == NULL && err != NULL,
	    "SCRAM without password refused");
	c.pass = "";
	err = NULL;
	ok(sasl_new(SASL_XOAUTH2, &c, &err) == NULL && err != NULL,
	    "XOAUTH2 without token refused");
	c.pass = "tok\001en";
	err = NULL;
	ok(sasl_new(SASL_OAUTHBEARER, &c, &err) == NULL && err != NULL,
	    "OAUTHBEARER token with a control character refused");
	err = NULL;
	ok(sasl_new(SASL_NMECHS, &c, &err) == NULL && err != NULL,
	    "unknown mechanism refused");
	c.user = "a\tb";
	c.pass = "p";
	x = sasl_new(SASL_SCRAM_SHA1, &c, &err);
	ok(x != NULL, "SCRAM exchange created");
	{
		unsigned char	*out;
		size_t		 n;

		ok(sasl_initial(x, &out, &n) == -1 && out == NULL &&
		    strlen(sasl_error(x)) > 0,
		    "SCRAM user with a control character refused");
	}
	sasl_free(x);
	memset(&c, 0, sizeof(c));
	x = sasl_new(SASL_EXTERNAL, &c, &err);
	ok(x != NULL, "EXTERNAL needs no credentials");
	sasl_free(x);
	sasl_free(NULL);
	ok(sasl_error(NULL) != NULL, "sasl_error(NULL)");
}

static void
test_plain_login_external(void)
{
	struct sasl	*x;
	unsigned char	*out;
	size_t		 n;

	x = mk(SASL_PLAIN, "tim", "tanstaaf", NULL);
	ok(sasl_initial(x, &out, &n) == 1 && same(out, n, "\0tim\0tanstaaf",
	    13), "PLAIN initial response");
	free(out);
	ok(step_s(x, "x", 1) == SASL_FAIL, "PLAIN rejects a challenge");
	sasl_free(x);

	x = mk(SASL_PLAIN, "u", "p", "admin");
	ok(sasl_initial(x, &out, &n) == 1 && same(out, n, "admin\0u\0p", 9),
	    "PLAIN with authzid");
	free(out);
	sasl_free(x);

	x = mk(SASL_PLAIN, "u", "p", NULL);
	ok(sasl_step(x, (const unsigned char *)"", 0, &out, &n) ==
	    SASL_DONE && same(out, n, "\0u\0p", 4),
	    "PLAIN answers an empty challenge with the initial response");
	free(out);
	sasl_free(x);

	x = mk(SASL_LOGIN, "tim", "secret", NULL);
	ok(sasl_initial(x, &out, &n) == 0 && out == NULL,
	    "LOGIN has no initial response");
	ok(sasl_step(x, L("Username:"), &out, &n) == SASL_CONTINUE &&
	    same(out, n, "tim", 3), "LOGIN sends the user");
	free(out);
	ok(sasl_step(x, L("Password:"), &out, &n) == SASL_DONE &&
	    same(out, n, "secret", 6), "LOGIN sends the password");
	free(out);
	ok(step_s(x, "More:", 5) == SASL_FAIL,
	    "LOGIN fails a third challenge");
	ok(sasl_success(x, NULL, 0) == -1, "no success after a failure");
	sasl_free(x);

	x = mk(SASL_EXTERNAL, NULL, NULL, NULL);
	ok(sasl_initial(x, &out, &n) == 1 && n == 0 && out != NULL,
	    "EXTERNAL empty initial response");
	free(out);
	ok(sasl_success(x, NULL, 0) == 0, "EXTERNAL success");
	sasl_free(x);
	x = mk(SASL_EXTERNAL, NULL, NULL, "bob");
	ok(sasl_initial(x, &out, &n) == 1 && same(out, n, "bob", 3),
	    "EXTERNAL authzid");
	free(out);
	sasl_free(x);
}

static void
test_cram(void)
{
	struct sasl	*x;
	unsigned char	*out;
	size_t		 n;
	static const char want[] = "tim b913a602c7eda7a495b4e6e7334d3890";

	x = mk(SASL_CRAM_MD5, "tim", "tanstaaftanstaaf", NULL);
	ok(sasl_initial(x, &out, &n) == 0, "CRAM-MD5 waits for a challenge");
	ok(sasl_step(x, L("<1896.697170952@postoffice.reston.mci.net>"), &out,
	    &n) == SASL_DONE && same(out, n, want, sizeof(want) - 1),
	    "CRAM-MD5 RFC 2195 example");
	free(out);
	ok(step_s(x, "x", 1) == SASL_FAIL, "CRAM-MD5 fails a second challenge");
	sasl_free(x);
	x = mk(SASL_CRAM_MD5, "tim", "t", NULL);
	ok(step_s(x, "", 0) == SASL_FAIL, "CRAM-MD5 refuses an empty "
	    "challenge");
	sasl_free(x);
}

static void
test_oauth(void)
{
	struct sasl_cred	 c;
	const char		*err;
	struct sasl		*x;
	unsigned char		*out;
	size_t			 n;
	static const char	 ob[] = "n,a=user@example.com,\001host=server."
	    "example.com\001port=143\001auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHR"
	    "hdmlzdGEuY29tCg==\001\001";
	static const char	 ob2[] = "n,a=a=3Db=2Cc,\001auth=Bearer t\001\001";
	static const char	 xo[] = "user=someuser@example.com\001auth=Bearer "
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\001\001";
	static const char	 js[] = "{\"status\":\"invalid_token\","
	    "\"scope\":\"example_scope\",\"openid-configuration\":\"https://"
	    "example.com/.well-known/openid-configuration\"}";
	static const char	 js2[] = "{\"status\" : 401, \"schemes\":"
	    "\"Bearer\"}";

	memset(&c, 0, sizeof(c));
	c.user = "user@example.com";
	c.pass = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==";
	c.host = "server.example.com";
	c.port = 143;
	x = sasl_new(SASL_OAUTHBEARER, &c, &err);
	ok(sasl_initial(x, &out, &n) == 1 && same(out, n, ob, sizeof(ob) - 1),
	    "OAUTHBEARER initial response (RFC 7628 4.1)");
	free(out);
	ok(sasl_step(x, (const unsigned char *)js, sizeof(js) - 1, &out, &n) ==
	    SASL_DONE && same(out, n, "\001", 1),
	    "OAUTHBEARER answers an error challenge with ^A");
	free(out);
	ok(strstr(sasl_error(x), "invalid_token") != NULL,
	    "OAUTHBEARER error names the status");
	ok(sasl_success(x, NULL, 0) == -1, "no success after the error");
	sasl_free(x);

	x = mk(SASL_OAUTHBEARER, "a=b,c", "t", NULL);
	ok(sasl_initial(x, &out, &n) == 1 && same(out, n, ob2,
	    sizeof(ob2) - 1), "OAUTHBEARER escapes a= and omits host/port");
	free(out);
	ok(sasl_success(x, NULL, 0) == 0, "OAUTHBEARER success");
	sasl_free(x);

	x = mk(SASL_XOAUTH2, "someuser@example.com",
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", NULL);
	ok(sasl_initial(x, &out, &n) == 1 && same(out, n, xo, sizeof(xo) - 1),
	    "XOAUTH2 initial response");
	free(out);
	ok(sasl_step(x, (const unsigned char *)js2, sizeof(js2) - 1, &out,
	    &n) == SASL_DONE && n == 0 && out != NULL,
	    "XOAUTH2 answers an error challenge with nothing");
	free(out);
	ok(strstr(sasl_error(x), "401") != NULL, "XOAUTH2 error: status 401");
	ok(step_s(x, "{}", 2) == SASL_FAIL, "XOAUTH2 fails a second challenge");
	sasl_free(x);

	x = mk(SASL_XOAUTH2, "u", "t", NULL);
	sasl_initial(x, &out, &n);
	free(out);
	ok(sasl_step(x, L("{\"status\":\"\033[31mevil\"}"), &out, &n) ==
	    SASL_DONE && strchr(sasl_error(x), '\033') == NULL,
	    "XOAUTH2 status sanitised");
	free(out);
	sasl_free(x);
	x = mk(SASL_XOAUTH2, "u", "t", NULL);
	sasl_initial(x, &out, &n);
	free(out);
	ok(sasl_step(x, L("\"status\""), &out, &n) == SASL_DONE &&
	    strlen(sasl_error(x)) > 0, "XOAUTH2 truncated JSON");
	free(out);
	sasl_free(x);
}

/* A full SCRAM exchange: client nonce CN, server-first SF, the expected
 * client-final CF and the server-final SV. */
static void
scram_rfc(enum sasl_mech m, const char *cn, const char *sf, const char *cf,
    const char *sv, const char *what)
{
	struct sasl	*x;
	unsigned char	*out;
	size_t		 n;
	char		*first, *bad;

	x = mk(m, "user", "pencil", NULL);
	ok(sasl_scram_test_nonce(x, cn) == 0, "%s: nonce fixed", what);
	first = malloc(strlen(cn) + 16);
	sprintf(first, "n,,n=user,r=%s", cn);
	ok(sasl_initial(x, &out, &n) == 1 && same(out, n, first,
	    strlen(first)), "%s: client-first", what);
	free(out);
	ok(sasl_step(x, (const unsigned char *)sf, strlen(sf), &out, &n) ==
	    SASL_CONTINUE && same(out, n, cf, strlen(cf)),
	    "%s: client-final", what);
	if (out != NULL && !same(out, n, cf, strlen(cf)))
		printf("#   got %.*s\n", (int)n, out);
	free(out);
	ok(sasl_success(x, NULL, 0) == -1,
	    "%s: success without v= refused", what);
	sasl_free(x);

	/* v= as a challenge */
	x = mk(m, "user", "pencil", NULL);
	sasl_scram_test_nonce(x, cn);
	sasl_initial(x, &out, &n);
	free(out);
	step_s(x, sf, strlen(sf));
	ok(sasl_step(x, (const unsigned char *)sv, strlen(sv), &out, &n) ==
	    SASL_DONE && n == 0, "%s: v= challenge verified", what);
	free(out);
	ok(sasl_success(x, NULL, 0) == 0, "%s: success after v=", what);
	sasl_free(x);

	/* v= as success data */
	x = mk(m, "user", "pencil", NULL);
	sasl_scram_test_nonce(x, cn);
	sasl_initial(x, &out, &n);
	free(out);
	step_s(x, sf, strlen(sf));
	ok(sasl_success(x, (const unsigned char *)sv, strlen(sv)) == 0,
	    "%s: v= as success data verified", what);
	sasl_free(x);

	/* a tampered v= */
	bad = strdup(sv);
	bad[4] = bad[4] == 'A' ? 'B' : 'A';
	x = mk(m, "user", "pencil", NULL);
	sasl_scram_test_nonce(x, cn);
	sasl_initial(x, &out, &n);
	free(out);
	step_s(x, sf, strlen(sf));
	ok(step_s(x, bad, strlen(bad)) == SASL_FAIL &&
	    sasl_success(x, NULL, 0) == -1, "%s: tampered v= fails", what);
	sasl_free(x);
	x = mk(m, "user", "pencil", NULL);
	sasl_scram_test_nonce(x, cn);
	sasl_initial(x, &out, &n);
	free(out);
	step_s(x, sf, strlen(sf));
	ok(sasl_success(x, (const unsigned char *)bad, strlen(bad)) == -1,
	    "%s: tampered v= as success data fails", what);
	sasl_free(x);
	free(bad);
	free(first);
}

/* The reply to server-first SF after client-first with nonce "abc". */
static enum sasl_rc
scram_first(const char *sf, size_t len, char **err)
{
	struct sasl	*x = mk(SASL_SCRAM_SHA256, "user", "pencil", NULL);
	unsigned char	*out;
	size_t		 n;
	enum sasl_rc	 rc;

	sasl_scram_test_nonce(x, "abc");
	sasl_initial(x, &out, &n);
	free(out);
	rc = step_s(x, sf, len);
	if (err != NULL)
		*err = strdup(sasl_error(x));
	sasl_free(x);
	return rc;
}

/* The verdict on server-final SV after a good exchange. */
static int
scram_last(const char *sv, size_t len)
{
	static const char sf[] = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "s=QSXCR+Q6sek8bf92,i=4096";
	struct sasl	*x = mk(SASL_SCRAM_SHA1, "user", "pencil", NULL);
	unsigned char	*out;
	size_t		 n;
	int		 rc;

	sasl_scram_test_nonce(x, "fyko+d2lbbFgONRv9qkxdawL");
	sasl_initial(x, &out, &n);
	free(out);
	step_s(x, sf, strlen(sf));
	rc = step_s(x, sv, len) == SASL_DONE ? 0 : -1;
	sasl_free(x);
	return rc;
}

static void
test_scram(void)
{
	struct sasl	*x;
	unsigned char	*out;
	size_t		 n;
	char		*err;

	scram_rfc(SASL_SCRAM_SHA1, "fyko+d2lbbFgONRv9qkxdawL",
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "s=QSXCR+Q6sek8bf92,i=4096",
	    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
	    "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", "SCRAM-SHA-1 RFC 5802");
	scram_rfc(SASL_SCRAM_SHA256, "rOprNGfwEbeRWgbNEkqO",
	    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	    "SCRAM-SHA-256 RFC 7677");

	x = mk(SASL_SCRAM_SHA256, "us,er=", "p", "ad,min");
	sasl_scram_test_nonce(x, "abc");
	ok(sasl_initial(x, &out, &n) == 1 && same(out, n,
	    "n,a=ad=2Cmin,n=us=2Cer=3D,r=abc", 31),
	    "SCRAM escapes user and authzid");
	free(out);
	/* base64("n,a=ad=2Cmin,") */
	ok(sasl_step(x, L("r=abcdef,s=QSXCR+Q6sek8bf92,i=1"), &out, &n) ==
	    SASL_CONTINUE && n > 30 &&
	    memcmp(out, "c=bixhPWFkPTJDbWluLA==,r=abcdef,p=", 34) == 0,
	    "SCRAM c= encodes the GS2 header with authzid");
	free(out);
	sasl_free(x);
	x = mk(SASL_SCRAM_SHA1, "u", "p", NULL);
	ok(sasl_initial(x, &out, &n) == 1 && n == 9 + 32 &&
	    memchr(out + 9, ',', n - 9) == NULL,
	    "SCRAM random nonce: 32 printable characters");
	free(out);
	ok(sasl_scram_test_nonce(x, "late") == -1,
	    "SCRAM nonce hook refused after the initial response");
	sasl_free(x);

	ok(scram_first(S("r=abcdef,s=QSXCR+Q6sek8bf92,i=1"), NULL) ==
	    SASL_CONTINUE, "SCRAM minimal good server-first");
	ok(scram_first(S("r=abcdef,s=QSXCR+Q6sek8bf92,i=1,x=ext"), NULL) ==
	    SASL_CONTINUE, "SCRAM optional extension ignored");
	ok(scram_first(S("s=QSXCR+Q6sek8bf92,i=4096"), NULL) == SASL_FAIL,
	    "SCRAM missing r=");
	ok(scram_first(S("r=abcdef,i=4096"), NULL) == SASL_FAIL,
	    "SCRAM missing s=");
	ok(scram_first(S("r=abcdef,s=QSXCR+Q6sek8bf92"), NULL) == SASL_FAIL,
	    "SCRAM missing i=");
	ok(scram_first(S("r=xbcdef,s=QSXCR+Q6sek8bf92,i=4096"), NULL) ==
	    SASL_FAIL, "SCRAM r= not extending our nonce");
	ok(scram_first(S("r=abc,s=QSXCR+Q6sek8bf92,i=4096"), NULL) ==
	    SASL_FAIL, "SCRAM r= equal to our nonce");
	ok(scram_first(S("r=ab,s=QSXCR+Q6sek8bf92,i=4096"), NULL) ==
	    SASL_FAIL, "SCRAM r= shorter than our nonce");
	ok(scram_first(S("r=abcdef,s=QSXCR+Q6sek8bf92,i=0"), NULL) ==
	    SASL_FAIL, "SCRAM i=0");
	ok(scram_first(S("r=abcdef,s=QSXCR+Q6sek8bf92,i=1000001"), NULL) ==
	    SASL_FAIL, "SCRAM i above the cap");
	ok(scram_first(S("r=abcdef,s=QSXCR+Q6sek8bf92,i=99999999999999999999"),
	    NULL) == SASL_FAIL, "SCRAM i huge");
	ok(scram_first(S("r=abcdef,s=QSXCR+Q6sek8bf92,i=-1"), NULL) ==
	    SASL_FAIL, "SCRAM i negative");
	ok(scram_first(S("r=abcdef,s=QSXCR+Q6sek8bf92,i=04096"), NULL) ==
	    SASL_FAIL, "SCRAM i with a leading zero");
	ok(scram_first(S("r=abcdef,s=QSXCR+Q6sek8bf9,i=4096"), NULL) ==
	    SASL_FAIL, "SCRAM salt of bad length");
	ok(scram_first(S("r=abcdef,s=QSXC*+Q6sek8bf92,i=4096"), NULL) ==
	    SASL_FAIL, "SCRAM salt with a bad character");
	ok(scram_first(S("r=abcdef,s=QQ==QQ==,i=4096"), NULL) == SASL_FAIL,
	    "SCRAM salt with inner padding");
	ok(scram_first(S("r=abcdef,s=,i=4096"), NULL) == SASL_FAIL,
	    "SCRAM empty salt");
	ok(scram_first("r=abc\0def,s=QSXCR+Q6sek8bf92,i=4096", 35, NULL) ==
	    SASL_FAIL, "SCRAM NUL byte");
	ok(scram_first(S("r=abcdef,s=QSXCR+Q6sek8bf92,i=4096,"), NULL) ==
	    SASL_FAIL, "SCRAM trailing comma");
	ok(scram_first(S("m=x,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096"), NULL) ==
	    SASL_FAIL, "SCRAM unknown mandatory extension");
	ok(scram_first(S("r=abc,def,s=QSXCR+Q6sek8bf92,i=4096"), NULL) ==
	    SASL_FAIL, "SCRAM comma in the nonce");
	ok(scram_first("", 0, NULL) == SASL_FAIL, "SCRAM empty server-first");
	ok(scram_first(S("e=unknown-user\033[2J"), &err) == SASL_FAIL &&
	    strstr(err, "unknown-user") != NULL && strchr(err, '\033') ==
	    NULL, "SCRAM e= reported, sanitised");
	free(err);

	ok(scram_last(S("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")) == 0,
	    "SCRAM good v=");
	ok(scram_last(S("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=,x=y")) == 0,
	    "SCRAM v= with an extension");
	ok(scram_last(S("v=rmF9pqV8S7suAoZWja4dJRkF")) == -1,
	    "SCRAM short v=");
	ok(scram_last(S("v=rmF9pqV8S7suAoZWja4dJRkFsKQA")) == -1,
	    "SCRAM v= bad base64");
	ok(scram_last(S("e=invalid-proof")) == -1, "SCRAM e= in server-final");
	ok(scram_last(S("rmF9pqV8S7suAoZWja4dJRkFsKQ=")) == -1,
	    "SCRAM server-final without v=");
	ok(scram_last("", 0) == -1, "SCRAM empty server-final");
}

/* A CHALLENGE_MESSAGE: FLAGS, server challenge, target name and info. */
static unsigned char *
ntlm_t2(uint32_t flags, const unsigned char *tname, size_t tnl,
    const unsigned char *tinfo, size_t til, size_t *len)
{
	unsigned char	*m;
	size_t		 n = 48 + tnl + til, i;
	static const unsigned char sc[8] = {
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef
	};

	m = calloc(1, n);
	memcpy(m, "NTLMSSP", 8);
	m[8] = 2;
	m[12] = (unsigned char)tnl;
	m[14] = (unsigned char)tnl;
	m[16] = 48;
	for (i = 0; i < 4; i++)
		m[20 + i] = (unsigned char)(flags >> (8 * i));
	memcpy(m + 24, sc, 8);
	m[40] = (unsigned char)til;
	m[41] = (unsigned char)(til >> 8);
	m[42] = m[40];
	m[43] = m[41];
	m[44] = (unsigned char)(48 + tnl);
	if (tnl)
		memcpy(m + 48, tname, tnl);
	if (til)
		memcpy(m + 48 + tnl, tinfo, til);
	*len = n;
	return m;
}

/* Field AT (a security buffer) of message M, checked to be inside. */
static const unsigned char *
field(const unsigned char *m, size_t n, size_t at, size_t *flen)
{
	size_t	len = m[at] | m[at + 1] << 8;
	size_t	off = m[at + 4] | m[at + 5] << 8 | (size_t)m[at + 6] << 16;

	*flen = 0;
	if (off + len > n)
		return NULL;
	*flen = len;
	return m + off;
}

/* Run NTLM for USER up to the AUTHENTICATE message for challenge T2. */
static unsigned char *
ntlm_run(const char *user, const unsigned char *t2, size_t t2len,
    bool fix, size_t *outlen, enum sasl_rc *rc)
{
	static const unsigned char cc[8] = {
		0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa
	};
	static const unsigned char ts[8];
	struct sasl	*x = mk(SASL_NTLM, user, "Password", NULL);
	unsigned char	*out;
	size_t		 n;

	if (fix)
		sasl_ntlm_test_random(x, cc, ts);
	sasl_step(x, (const unsigned char *)"", 0, &out, &n);
	free(out);
	*rc = sasl_step(x, t2, t2len, &out, outlen);
	if (*rc == SASL_DONE)
		ok(step_s(x, "x", 1) == SASL_FAIL,
		    "NTLM fails a third challenge");
	sasl_free(x);
	return out;
}

static void
test_ntlm(void)
{
	static const char ti_hex[] = "02000c0044006f006d00610069006e00"
	    "01000c0053006500720076006500720000000000";
	static const char nt_hex[] = "68cd0ab851e51c96aabc927bebef6a1c"
	    "0101000000000000" "0000000000000000" "aaaaaaaaaaaaaaaa"
	    "00000000" "02000c0044006f006d00610069006e00"
	    "01000c00530065007200760065007200" "00000000" "00000000";
	static const unsigned char dom16[] = "D\0o\0m\0a\0i\0n\0";
	static const unsigned char usr16[] = "U\0s\0e\0r\0";
	unsigned char	 k[16], *ti, *t2, *out, *bad;
	const unsigned char *f;
	size_t		 til, t2len, n, fl, i;
	struct sasl	*x;
	enum sasl_rc	 rc;

	sasl_ntlm_ntowfv2("User", "Domain", "Password", k);
	is_str(hex(k, 16), "0c868a403bfd7a93a3001ef22ef02e3f",
	    "NTOWFv2 (MS-NLMP 4.2.4.1.1)");

	x = mk(SASL_NTLM, "User", "Password", NULL);
	ok(sasl_initial(x, &out, &n) == 0, "NTLM has no initial response");
	ok(sasl_step(x, (const unsigned char *)"", 0, &out, &n) ==
	    SASL_CONTINUE && n == 32 && memcmp(out, "NTLMSSP\0\1\0\0\0", 12)
	    == 0, "NTLM negotiate message");
	free(out);
	sasl_free(x);
	x = mk(SASL_NTLM, "User", "Password", NULL);
	ok(step_s(x, "x", 1) == SASL_FAIL, "NTLM refuses a non-empty "
	    "first challenge");
	sasl_free(x);

	ti = unhex(ti_hex, &til);
	t2 = ntlm_t2(0x00000001 | 0x00000200 | 0x00800000, dom16, 12, ti, til,
	    &t2len);
	out = ntlm_run("Domain\\User", t2, t2len, true, &n, &rc);
	ok(rc == SASL_DONE && n > 64 && memcmp(out, "NTLMSSP\0\3\0\0\0", 12)
	    == 0, "NTLM authenticate message");
	f = field(out, n, 20, &fl);
	is_str(f ? hex(f, 16) : "", "68cd0ab851e51c96aabc927bebef6a1c",
	    "NTProofStr (MS-NLMP 4.2.4.2.2)");
	is_str(f ? hex(f, fl) : "", nt_hex, "NTLMv2 response with the blob");
	f = field(out, n, 12, &fl);
	is_str(f ? hex(f, fl) : "", "86c35097ac9cec102554764a57cccc19"
	    "aaaaaaaaaaaaaaaa", "LMv2 response (MS-NLMP 4.2.4.2.1)");
	f = field(out, n, 28, &fl);
	ok(f && fl == 12 && memcmp(f, dom16, 12) == 0, "domain in UTF-16LE");
	f = field(out, n, 36, &fl);
	ok(f && fl == 8 && memcmp(f, usr16, 8) == 0, "user in UTF-16LE");
	ok(out[60] == 0x01 && out[61] == 0x02 && out[62] == 0x80,
	    "negotiated flags echoed");
	free(out);

	out = ntlm_run("User@Domain", t2, t2len, true, &n, &rc);
	f = field(out, n, 20, &fl);
	is_str(f ? hex(f, 16) : "", "68cd0ab851e51c96aabc927bebef6a1c",
	    "NTProofStr with user@DOMAIN");
	free(out);
	out = ntlm_run("User", t2, t2len, true, &n, &rc);
	f = field(out, n, 20, &fl);
	is_str(f ? hex(f, 16) : "", "68cd0ab851e51c96aabc927bebef6a1c",
	    "NTProofStr with the domain from the target name");
	free(out);
	free(t2);

	/* OEM: target name and strings in 8 bits */
	t2 = ntlm_t2(0x00000002 | 0x00000200 | 0x00800000,
	    (const unsigned char *)"Domain", 6, ti, til, &t2len);
	out = ntlm_run("User", t2, t2len, true, &n, &rc);
	f = field(out, n, 20, &fl);
	is_str(f ? hex(f, 16) : "", "68cd0ab851e51c96aabc927bebef6a1c",
	    "NTProofStr with an OEM target name");
	f = field(out, n, 36, &fl);
	ok(f && fl == 4 && memcmp(f, "User", 4) == 0, "OEM user name");
	ok(out[60] == 0x02, "OEM flag set");
	free(out);
	free(t2);
	free(ti);

	/* MsvAvTimestamp: copied into the blob, LM response zero */
	ti = unhex("0700080011223344556677880000000000", &til);
	til = 16;
	t2 = ntlm_t2(0x00000001 | 0x00000200, dom16, 12, ti, til, &t2len);
	out = ntlm_run("User", t2, t2len, false, &n, &rc);
	f = field(out, n, 20, &fl);
	ok(f && fl == 16 + 28 + 16 + 4 &&
	    memcmp(f + 24, "\x11\x22\x33\x44\x55\x66\x77\x88", 8) == 0,
	    "NTLM blob carries the server's timestamp");
	f = field(out, n, 12, &fl);
	for (i = 0; f && i < fl && f[i] == 0; i++)
		;
	ok(f && fl == 24 && i == 24, "LM response Z(24) with a timestamp");
	free(out);
	free(t2);
	free(ti);

	/* no target info at all: a 32-byte challenge */
	t2 = ntlm_t2(0x00000001 | 0x00000200, NULL, 0, NULL, 0, &t2len);
	out = ntlm_run("D\\U", t2, 32, true, &n, &rc);
	ok(rc == SASL_DONE, "32-byte challenge without target info");
	free(out);
	free(t2);

	/* hostile challenges */
	ti = unhex(ti_hex, &til);
	t2 = ntlm_t2(0x00000001 | 0x00000200, dom16, 12, ti, til, &t2len);
	bad = malloc(t2len);
	out = ntlm_run("U", t2, 31, true, &n, &rc);
	ok(rc == SASL_FAIL && out == NULL, "truncated challenge");
	memcpy(bad, t2, t2len);
	bad[7] = 'X';
	out = ntlm_run("U", bad, t2len, true, &n, &rc);
	ok(rc == SASL_FAIL, "bad signature");
	memcpy(bad, t2, t2len);
	bad[8] = 3;
	out = ntlm_run("U", bad, t2len, true, &n, &rc);
	ok(rc == SASL_FAIL, "wrong message type");
	out = ntlm_run("U", t2, t2len - 1, true, &n, &rc);
	ok(rc == SASL_FAIL, "target info past the end");
	memcpy(bad, t2, t2len);
	bad[16] = 0xf0;
	out = ntlm_run("U", bad, t2len, true, &n, &rc);
	ok(rc == SASL_FAIL, "target name offset out of range");
	memcpy(bad, t2, t2len);
	bad[16] = bad[17] = bad[18] = bad[19] = 0xff;
	out = ntlm_run("U", bad, t2len, true, &n, &rc);
	ok(rc == SASL_FAIL, "target name offset 2^32-1");
	memcpy(bad, t2, t2len);
	bad[40] = bad[41] = 0xff;
	out = ntlm_run("U", bad, t2len, true, &n, &rc);
	ok(rc == SASL_FAIL, "target info length 65535");
	memcpy(bad, t2, t2len);
	bad[12] = 13;
	out = ntlm_run("U", bad, t2len, true, &n, &rc);
	ok(rc == SASL_FAIL, "odd Unicode target name");
	memcpy(bad, t2, t2len);
	bad[16] = 8;
	out = ntlm_run("U", bad, t2len, true, &n, &rc);
	ok(rc == SASL_FAIL, "target name inside the header");
	memcpy(bad, t2, t2len);
	bad[48 + 12 + 2] = 0xff;	/* first AV pair's length */
	out = ntlm_run("U", bad, t2len, true, &n, &rc);
	ok(rc == SASL_FAIL, "AV pair overruns the target info");
	memcpy(bad, t2, t2len);
	bad[40] = (unsigned char)(til - 4);
	bad[42] = bad[40];
	out = ntlm_run("U", bad, t2len, true, &n, &rc);
	ok(rc == SASL_FAIL, "target info without MsvAvEOL");
	free(bad);
	free(t2);
	free(ti);
}

static void
test_otp_vectors(void)
{
	static const struct {
		const char *alg, *pass, *seed;
		unsigned seq;
		const char *hex, *words;
	} v[] = {
	{ "md4", "This is a test.", "TeSt", 0, "d1854218ebbb0b51",
	  "ROME MUG FRED SCAN LIVE LACE" },
	{ "md4", "This is a test.", "TeSt", 1, "63473ef01cd0b444",
	  "CARD SAD MINI RYE COL KIN" },
	{ "md4", "This is a test.", "TeSt", 99, "c5e612776e6c237a",
	  "NOTE OUT IBIS SINK NAVE MODE" },
	{ "md4", "AbCdEfGhIjK", "alpha1", 0, "50076f47eb1ade4e",
	  "AWAY SEN ROOK SALT LICE MAP" },
	{ "md4", "AbCdEfGhIjK", "alpha1", 1, "65d20d1949b5f7ab",
	  "CHEW GRIM WU HANG BUCK SAID" },
	{ "md4", "AbCdEfGhIjK", "alpha1", 99, "d150c82cce6f62d1",
	  "ROIL FREE COG HUNK WAIT COCA" },
	{ "md4", "OTP's are good", "correct", 0, "849c79d4f6f55388",
	  "FOOL STEM DONE TOOL BECK NILE" },
	{ "md4", "OTP's are good", "correct", 1, "8c0992fb250847b1",
	  "GIST AMOS MOOT AIDS FOOD SEEM" },
	{ "md4", "OTP's are good", "correct", 99, "3f3bf4b4145fd74b",
	  "TAG SLOW NOV MIN WOOL KENO" },
	{ "md5", "This is a test.", "TeSt", 0, "9e876134d90499dd",
	  "INCH SEA ANNE LONG AHEM TOUR" },
	{ "md5", "This is a test.", "TeSt", 1, "7965e05436f5029f",
	  "EASE OIL FUM CURE AWRY AVIS" },
	{ "md5", "This is a test.", "TeSt", 99, "50fe1962c4965880",
	  "BAIL TUFT BITS GANG CHEF THY" },
	{ "md5", "AbCdEfGhIjK", "alpha1", 0, "87066dd9644bf206",
	  "FULL PEW DOWN ONCE MORT ARC" },
	{ "md5", "AbCdEfGhIjK", "alpha1", 1, "7cd34c1040add14b",
	  "FACT HOOF AT FIST SITE KENT" },
	{ "md5", "AbCdEfGhIjK", "alpha1", 99, "5aa37a81f212146c",
	  "BODE HOP JAKE STOW JUT RAP" },
	{ "md5", "OTP's are good", "correct", 0, "f205753943de4cf9",
	  "ULAN NEW ARMY FUSE SUIT EYED" },
	{ "md5", "OTP's are good", "correct", 1, "ddcdac956f234937",
	  "SKIM CULT LOB SLAM POE HOWL" },
	{ "md5", "OTP's are good", "correct", 99, "b203e28fa525be47",
	  "LONG IVY JULY AJAR BOND LEE" },
	{ "sha1", "This is a test.", "TeSt", 0, "bb9e6ae1979d8ff4",
	  "MILT VARY MAST OK SEES WENT" },
	{ "sha1", "This is a test.", "TeSt", 1, "63d936639734385b",
	  "CART OTTO HIVE ODE VAT NUT" },
	{ "sha1", "This is a test.", "TeSt", 99, "87fec7768b73ccf9",
	  "GAFF WAIT SKID GIG SKY EYED" },
	{ "sha1", "AbCdEfGhIjK", "alpha1", 0, "ad85f658ebe383c9",
	  "LEST OR HEEL SCOT ROB SUIT" },
	{ "sha1", "AbCdEfGhIjK", "alpha1", 1, "d07ce229b5cf119b",
	  "RITE TAKE GELD COST TUNE RECK" },
	{ "sha1", "AbCdEfGhIjK", "alpha1", 99, "27bc71035aaf3dc6",
	  "MAY STAR TIN LYON VEDA STAN" },
	{ "sha1", "OTP's are good", "correct", 0, "d51f3e99bf8e6f0b",
	  "RUST WELT KICK FELL TAIL FRAU" },
	{ "sha1", "OTP's are good", "correct", 1, "82aeb52d943774e4",
	  "FLIT DOSE ALSO MEW DRUM DEFY" },
	{ "sha1", "OTP's are good", "correct", 99, "4f296a74fe1567ec",
	  "AURA ALOE HURL WING BERG WAIT" },
	};
	unsigned char	k[8];
	char		*w;
	size_t		i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ok(sasl_otp_compute(v[i].alg, v[i].seq, v[i].seed, v[i].pass,
		    k) == 0, "OTP %s %s %u computed", v[i].alg, v[i].seed,
		    v[i].seq);
		is_str(hex(k, 8), v[i].hex, "OTP %s %s %u hex (RFC 2289 C)",
		    v[i].alg, v[i].seed, v[i].seq);
		w = otp_six_words(k);
		is_str(w, v[i].words, "OTP %s %s %u words (RFC 2289 C)",
		    v[i].alg, v[i].seed, v[i].seq);
		free(w);
	}
	ok(sasl_otp_compute("md6", 1, "x", "y", k) == -1, "unknown OTP hash");
	is_str(otp_word(0), "A", "dictionary word 0");
	is_str(otp_word(570), "YOU", "dictionary word 570");
	is_str(otp_word(571), "ABED", "dictionary word 571");
	is_str(otp_word(2047), "YOKE", "dictionary word 2047");
	ok(otp_word(2048) == NULL, "dictionary word 2048");
}

/* The response to an OTP challenge CH (pass phrase "This is a test.");
 * SASL_DONE only if a second challenge then fails. */
static enum sasl_rc
otp_try(const char *ch, size_t len, char **resp)
{
	struct sasl	*x = mk(SASL_OTP, "user", "This is a test.", NULL);
	unsigned char	*out;
	size_t		 n;
	enum sasl_rc	 rc;

	rc = sasl_step(x, (const unsigned char *)ch, len, &out, &n);
	if (resp != NULL)
		*resp = (char *)out;
	else
		free(out);
	if (rc == SASL_DONE && step_s(x, ch, len) != SASL_FAIL)
		rc = SASL_CONTINUE;	/* a second challenge must fail */
	sasl_free(x);
	return rc;
}

static void
test_otp_mech(void)
{
	struct sasl	*x;
	unsigned char	*out;
	size_t		 n;
	char		*r;

	x = mk(SASL_OTP, "user", "This is a test.", NULL);
	ok(sasl_initial(x, &out, &n) == 1 && same(out, n, "\0user", 5),
	    "OTP initial response without authzid");
	free(out);
	sasl_free(x);
	x = mk(SASL_OTP, "user", "This is a test.", "boss");
	ok(sasl_initial(x, &out, &n) == 1 && same(out, n, "boss\0user", 9),
	    "OTP initial response with authzid");
	free(out);
	sasl_free(x);

	ok(otp_try(S("otp-md5 99 TeSt ext"), &r) == SASL_DONE, "OTP md5");
	is_str(r, "word:BAIL TUFT BITS GANG CHEF THY", "OTP md5 response");
	free(r);
	ok(otp_try(S("otp-sha1 1 tEsT ext,hex,word"), &r) == SASL_DONE,
	    "OTP sha1, extensions listed");
	is_str(r, "word:CART OTTO HIVE ODE VAT NUT", "OTP sha1 response");
	free(r);
	ok(otp_try(S("otp-md4 0  TeSt\t"), &r) == SASL_DONE,
	    "OTP md4 without ext");
	is_str(r, "word:ROME MUG FRED SCAN LIVE LACE", "OTP md4 response");
	free(r);
	ok(otp_try(S("otp-md6 99 TeSt ext"), NULL) == SASL_FAIL,
	    "OTP unknown hash");
	ok(otp_try(S("otp-md5 10000 TeSt ext"), NULL) == SASL_FAIL,
	    "OTP sequence above 9999");
	ok(otp_try(S("otp-md5 99999999999 TeSt ext"), NULL) == SASL_FAIL,
	    "OTP huge sequence");
	ok(otp_try(S("otp-md5 -1 TeSt ext"), NULL) == SASL_FAIL,
	    "OTP negative sequence");
	ok(otp_try(S("otp-md5 99 abcdefghijklmnopq ext"), NULL) == SASL_FAIL,
	    "OTP seed of 17 characters");
	ok(otp_try(S("otp-md5 99 Te-St ext"), NULL) == SASL_FAIL,
	    "OTP seed not alphanumeric");
	ok(otp_try(S("otp-md5 99"), NULL) == SASL_FAIL, "OTP missing seed");
	ok(otp_try(S("otp-md5 99 "), NULL) == SASL_FAIL, "OTP empty seed");
	ok(otp_try(S("otp-md5"), NULL) == SASL_FAIL, "OTP missing sequence");
	ok(otp_try(S("otp-md5 99 TeSt extra"), NULL) == SASL_FAIL,
	    "OTP junk instead of ext");
	ok(otp_try(S("otp-md5 99 TeSt ext junk"), NULL) == SASL_FAIL,
	    "OTP junk after ext");
	ok(otp_try("otp-md5 99 Te\0St ext", 19, NULL) == SASL_FAIL,
	    "OTP NUL byte");
	ok(otp_try(S("OTP-MD5 99 TeSt ext"), NULL) == SASL_FAIL,
	    "OTP uppercase prefix");
	ok(otp_try("", 0, NULL) == SASL_FAIL, "OTP empty challenge");
}

static void
test_md4(void)
{
	static const struct { const char *in, *md; } v[] = {
	{ "", "31d6cfe0d16ae931b73c59d7e0c089c0" },
	{ "a", "bde52cb31de33e46245e05fbdbd6fb24" },
	{ "abc", "a448017aaf21d8525fc10ae87aa6729d" },
	{ "message digest", "d9130a8164549fe818874806e1c7014b" },
	{ "abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9" },
	{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	  "043f8582f241db351ce627e153e7f0e4" },
	{ "1234567890123456789012345678901234567890123456789012345678901234"
	  "5678901234567890", "e33b4ddc9c38f2199c3e7b164fcc0536" },
	};
	unsigned char	d[16];
	size_t		i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		md4_digest(v[i].in, strlen(v[i].in), d);
		is_str(hex(d, 16), v[i].md, "MD4 (RFC 1320 A.5) of \"%.20s\"",
		    v[i].in);
	}
}

static void
test_dispatch(void)
{
	struct sasl	*x = mk(SASL_LOGIN, "u", "p", NULL);
	unsigned char	*big = calloc(1, 70000), *out;
	size_t		 n;

	ok(sasl_step(x, big, 70000, &out, &n) == SASL_FAIL && out == NULL &&
	    strlen(sasl_error(x)) > 0, "challenge too long");
	ok(step_s(x, "", 0) == SASL_FAIL, "no step after a failure");
	sasl_free(x);
	x = mk(SASL_LOGIN, "u", "p", NULL);
	ok(sasl_step(x, NULL, 5, &out, &n) == SASL_FAIL, "NULL challenge");
	sasl_free(x);
	x = mk(SASL_LOGIN, "u", "p", NULL);
	ok(sasl_step(x, NULL, 0, &out, &n) == SASL_CONTINUE && n == 1,
	    "NULL empty challenge");
	free(out);
	sasl_free(x);
	free(big);
}

int
main(void)
{
	test_names();
	test_new();
	test_plain_login_external();
	test_cram();
	test_oauth();
	test_scram();
	test_ntlm();
	test_otp_vectors();
	test_otp_mech();
	test_md4();
	test_dispatch();
	return done_testing();
}
