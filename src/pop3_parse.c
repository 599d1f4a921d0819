/*
 * pop3_parse.c: pure parsers for POP3 replies.  Server data is bytes plus
 * a length; nothing here reads past LEN or trusts a number it did not
 * range-check.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pop3_parse.h"

/* Whether the LEN bytes at S start with the word W (case-insensitive)
 * followed by the end or a space. */
static bool
word_is(const char *s, size_t len, const char *w)
{
	size_t	n = strlen(w);

	return len >= n && strncasecmp(s, w, n) == 0 &&
	    (len == n || s[n] == ' ');
}

/* Whether NEEDLE (NUL-terminated) occurs in the LEN bytes at HAY. */
static bool
contains(const char *hay, size_t len, const char *needle, bool nocase)
{
	size_t	n = strlen(needle), i;

	for (i = 0; n <= len && i <= len - n; i++)
		if ((nocase ? strncasecmp(hay + i, needle, n) :
		    strncmp(hay + i, needle, n)) == 0)
			return true;
	return false;
}

/* Status of a reply line and the text after the status word. */
enum pop3_status
pop3_status(const char *line, size_t len, const char **text, size_t *textlen)
{
	enum pop3_status st;
	size_t		 skip;

	if (len >= 3 && strncmp(line, "+OK", 3) == 0) {
		st = POP3_OK;
		skip = 3;
	} else if (len >= 4 && strncmp(line, "-ERR", 4) == 0) {
		st = POP3_ERR;
		skip = 4;
	} else if (len >= 1 && line[0] == '+' && (len == 1 || line[1] == ' ')) {
		st = POP3_CONT;
		skip = 1;
	} else
		return POP3_BAD;
	if (skip < len && line[skip] != ' ')
		return POP3_BAD;	/* "+OKAY" is not "+OK" */
	while (skip < len && line[skip] == ' ')
		skip++;
	*text = line + skip;
	*textlen = len - skip;
	return st;
}

/* Classify the text of a -ERR reply as fetchmail does: response codes
 * first, then its historical keyword heuristics. */
enum pop3_errclass
pop3_errclass(const char *text, size_t len)
{
	if (contains(text, len, "[IN-USE]", false) ||
	    contains(text, len, "[LOGIN-DELAY]", false))
		return POP3_E_LOCKED;
	if (contains(text, len, "[SYS/TEMP]", false))
		return POP3_E_TEMP;
	if (contains(text, len, "[AUTH]", false))
		return POP3_E_AUTH;
	if (contains(text, len, "lock", false) ||
	    contains(text, len, "Lock", false) ||
	    contains(text, len, "LOCK", false) ||
	    contains(text, len, "wait", false))
		return POP3_E_LOCKED;
	if (contains(text, len, "service", true) &&
	    contains(text, len, "unavailable", true))
		return POP3_E_BUSY;
	return POP3_E_OTHER;
}

/* Parse an unsigned decimal number at *P (at most END); advances *P. */
static int
number(const char **p, const char *end, unsigned long long max,
    unsigned long long *out)
{
	unsigned long long v = 0;
	const char	*s = *p;

	if (s >= end || !isdigit((unsigned char)*s))
		return -1;
	for (; s < end && isdigit((unsigned char)*s); s++) {
		if (v > (max - (unsigned long long)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	*p = s;
	*out = v;
	return 0;
}

/* Skip one or more spaces (or tabs); -1 if there are none. */
static int
spaces(const char **p, const char *end)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s == *p)
		return -1;
	*p = s;
	return 0;
}

/* Parse "count octets" from a STAT reply's text. */
int
pop3_parse_stat(const char *text, size_t len, unsigned long *count,
    unsigned long long *octets)
{
	const char		*p = text, *end = text + len;
	unsigned long long	 c;

	if (number(&p, end, ULONG_MAX, &c) != 0 || spaces(&p, end) != 0 ||
	    number(&p, end, ULLONG_MAX, octets) != 0)
		return -1;
	if (p < end && *p != ' ')
		return -1;
	*count = (unsigned long)c;
	return 0;
}

/* Parse a "num size" LIST line. */
int
pop3_parse_list(const char *line, size_t len, unsigned long *num,
    unsigned long long *size)
{
	const char		*p = line, *end = line + len;
	unsigned long long	 n;

	if (number(&p, end, ULONG_MAX, &n) != 0 || n == 0 ||
	    spaces(&p, end) != 0 || number(&p, end, ULLONG_MAX, size) != 0)
		return -1;
	if (p < end && *p != ' ')
		return -1;
	*num = (unsigned long)n;
	return 0;
}

/* Parse a "num uid" UIDL line into NUM and the UID's bytes. */
int
pop3_parse_uidl(const char *line, size_t len, unsigned long *num,
    const char **uid, size_t *uidlen)
{
	const char		*p = line, *end = line + len, *u;
	unsigned long long	 n;

	if (number(&p, end, ULONG_MAX, &n) != 0 || n == 0 ||
	    spaces(&p, end) != 0)
		return -1;
	for (u = p; p < end && *p != ' ' && *p != '\t' && *p != '\0'; p++)
		;
	if (p == u || (size_t)(p - u) > POP3_UID_MAX)
		return -1;
	*uid = u;
	*uidlen = (size_t)(p - u);
	*num = (unsigned long)n;
	return 0;
}

/* Record the SASL mechanisms named in a "SASL m1 m2 ..." line. */
static void
capa_sasl(struct pop3_caps *c, const char *p, const char *end)
{
	static const struct { const char *name; size_t off; } mechs[] = {
		{ "PLAIN", offsetof(struct pop3_caps, sasl_plain) },
		{ "LOGIN", offsetof(struct pop3_caps, sasl_login) },
		{ "CRAM-MD5", offsetof(struct pop3_caps, sasl_cram_md5) },
		{ "EXTERNAL", offsetof(struct pop3_caps, sasl_external) },
		{ "GSSAPI", offsetof(struct pop3_caps, sasl_gssapi) },
		{ "NTLM", offsetof(struct pop3_caps, sasl_ntlm) },
		{ "X-OTP", offsetof(struct pop3_caps, sasl_otp) },
		{ "SCRAM-SHA-1", offsetof(struct pop3_caps, sasl_scram_sha1) },
		{ "SCRAM-SHA-256", offsetof(struct pop3_caps, sasl_scram_sha256) },
		{ "OAUTHBEARER", offsetof(struct pop3_caps, sasl_oauthbearer) },
		{ "XOAUTH2", offsetof(struct pop3_caps, sasl_xoauth2) },
		{ "RPA", offsetof(struct pop3_caps, sasl_rpa) },
	};
	const char	*w;
	size_t		 i, n;

	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		for (w = p; p < end && *p != ' '; p++)
			;
		n = (size_t)(p - w);
		for (i = 0; n > 0 && i < sizeof(mechs) / sizeof(mechs[0]); i++)
			if (strlen(mechs[i].name) == n &&
			    strncasecmp(w, mechs[i].name, n) == 0)
				*(bool *)((char *)c + mechs[i].off) = true;
	}
}

/* Add one CAPA line to CAPS. */
void
pop3_parse_capa(struct pop3_caps *c, const char *line, size_t len)
{
	const char		*end = line + len, *p;
	unsigned long long	 d;

	c->capa = true;
	if (word_is(line, len, "STLS"))
		c->stls = true;
	else if (word_is(line, len, "UIDL"))
		c->uidl = true;
	else if (word_is(line, len, "TOP"))
		c->top = true;
	else if (word_is(line, len, "PIPELINING"))
		c->pipelining = true;
	else if (word_is(line, len, "USER"))
		c->user = true;
	else if (word_is(line, len, "RESP-CODES"))
		c->resp_codes = true;
	else if (word_is(line, len, "SASL"))
		capa_sasl(c, line + 4, end);
	else if (word_is(line, len, "LOGIN-DELAY")) {
		p = line + 11;
		if (spaces(&p, end) == 0 && number(&p, end, INT_MAX, &d) == 0)
			c->login_delay = (int)d;
	}
}

/* Whether the LEN bytes at S are a valid addr-spec for a timestamp: a
 * non-empty local part, one '@', a non-empty domain, printable ASCII
 * without spaces or angle brackets. */
static bool
timestamp_ok(const char *s, size_t len)
{
	size_t	i, at = len;

	for (i = 0; i < len; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '<' || s[i] == '>')
			return false;
		if (s[i] == '@') {
			if (at != len)
				return false;
			at = i;
		}
	}
	return at > 0 && at + 1 < len;
}

/* Find and check the APOP timestamp of a greeting. */
int
pop3_apop_timestamp(const char *greeting, size_t len, const char **ts,
    size_t *tslen)
{
	const char	*lt = memchr(greeting, '<', len), *gt;

	if (lt == NULL)
		return 1;
	gt = memchr(lt, '>', len - (size_t)(lt - greeting));
	if (gt == NULL || !timestamp_ok(lt + 1, (size_t)(gt - lt - 1)))
		return -1;
	*ts = lt;
	*tslen = (size_t)(gt - lt + 1);
	return 0;
}

/* Whether LINE ends a multi-line reply, else how much stuffing to drop. */
bool
pop3_multiline_end(const char *line, size_t len, size_t *skip)
{
	*skip = 0;
	if (len == 1 && line[0] == '.')
		return true;
	if (len >= 1 && line[0] == '.')
		*skip = 1;
	return false;
}
