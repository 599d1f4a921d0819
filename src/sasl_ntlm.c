/*
 * sasl_ntlm.c: the client side of NTLM authentication as IMAP, POP3 and
 * SMTP use it (MS-NLMP): NEGOTIATE_MESSAGE on the first (empty)
 * challenge, AUTHENTICATE_MESSAGE with NTLMv2 and LMv2 responses on the
 * CHALLENGE_MESSAGE.  No signing or sealing, hence no session key
 * exchange and no MIC.
 *
 * Limits: the user name is uppercased in the ASCII range only for
 * NTOWFv2; strings are UTF-8 (invalid bytes count as Latin-1), sent as
 * UTF-16LE when the server negotiates Unicode, else as Latin-1 ('?' for
 * what does not fit).  A CHALLENGE_MESSAGE may carry at most 1024 bytes
 * of target name and 8192 bytes of target information.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "i18n.h"
#include "md4.h"
#include "md5.h"
#include "sasl_priv.h"
#include "xmalloc.h"

#define NTLM_UNICODE		0x00000001u
#define NTLM_OEM		0x00000002u
#define NTLM_REQUEST_TARGET	0x00000004u
#define NTLM_NTLM		0x00000200u
#define NTLM_ALWAYS_SIGN	0x00008000u
#define NTLM_ESS		0x00080000u	/* extended session security */
#define NTLM_TARGET_INFO	0x00800000u

#define NTLM_MAX_TNAME		1024
#define NTLM_MAX_TINFO		8192
#define NTLM_MAX_NAME		1024	/* user or domain, UTF-8 bytes */
#define NTLM_T3_HEADER		64

#define AV_EOL			0
#define AV_TIMESTAMP		7

static const unsigned char ntlm_sig[8] = "NTLMSSP";	/* with its NUL */

struct ntlm {
	unsigned	 stage;		/* 0: negotiate next, 1: authenticate
					 * next, 2: done */
	char		*user;		/* UTF-8 */
	char		*domain;	/* UTF-8, NULL: the target name's */
	bool		 fixed;		/* test hook: cc and ts set */
	unsigned char	 cc[8];		/* client challenge */
	unsigned char	 ts[8];		/* FILETIME */
};

/* What a CHALLENGE_MESSAGE holds, pointing into the message. */
struct ntlm_t2 {
	uint32_t		 flags;
	const unsigned char	*chal;		/* 8 bytes */
	const unsigned char	*tname;
	size_t			 tnamelen;
	const unsigned char	*tinfo;		/* up to and with MsvAvEOL */
	size_t			 tinfolen;
	const unsigned char	*ts;		/* MsvAvTimestamp, or NULL */
};

/* A growing byte buffer. */
struct bytes {
	unsigned char	*p;
	size_t		 len, cap;
};

/* Append N bytes at P to B, growing it. */
static void
bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 16;
		b->p = xreallocarray(b->p, 1, b->cap);
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* Wipe B's storage and free it. */
static void
bytes_wipe(struct bytes *b)
{
	if (b->p != NULL)
		xexplicit_bzero(b->p, b->cap);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static uint16_t
le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
put16(unsigned char *p, size_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

/* The next code point of UTF-8 at *P (an invalid byte stands for
 * itself, as Latin-1); advances *P. */
static uint32_t
utf8_next(const unsigned char **p, const unsigned char *end)
{
	const unsigned char	*s = *p;
	uint32_t		 c = s[0], min;
	size_t			 n, i;

	if (c < 0x80)
		n = 0, min = 0;
	else if ((c & 0xe0) == 0xc0)
		n = 1, c &= 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		n = 2, c &= 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		n = 3, c &= 0x07, min = 0x10000;
	else
		n = 4;		/* invalid lead byte */
	if (n == 4 || (size_t)(end - s) <= n)
		goto latin1;
	for (i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			goto latin1;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		goto latin1;
	*p = s + n + 1;
	return c;
latin1:
	*p = s + 1;
	return s[0];
}

/* Append S (UTF-8) to B as UTF-16LE, or as Latin-1 if !UNICODE. */
static void
put_string(struct bytes *b, const char *s, bool unicode)
{
	const unsigned char	*p = (const unsigned char *)s;
	const unsigned char	*end = p + strlen(s);
	unsigned char		 u[4];
	uint32_t		 c;

	while (p < end) {
		c = utf8_next(&p, end);
		if (!unicode) {
			u[0] = c < 0x100 ? (unsigned char)c : '?';
			bytes_add(b, u, 1);
		} else if (c < 0x10000) {
			put16(u, c);
			bytes_add(b, u, 2);
		} else {
			c -= 0x10000;
			put16(u, 0xd800 | (c >> 10));
			put16(u + 2, 0xdc00 | (c & 0x3ff));
			bytes_add(b, u, 4);
		}
	}
}

/* Append code point C to B as UTF-8. */
static void
put_utf8(struct bytes *b, uint32_t c)
{
	unsigned char	u[4];
	size_t		n;

	if (c < 0x80)
		u[0] = (unsigned char)c, n = 1;
	else if (c < 0x800)
		u[0] = (unsigned char)(0xc0 | c >> 6), n = 2;
	else if (c < 0x10000)
		u[0] = (unsigned char)(0xe0 | c >> 12), n = 3;
	else
		u[0] = (unsigned char)(0xf0 | c >> 18), n = 4;
	if (n > 3)
		u[n - 3] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
	if (n > 2)
		u[n - 2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
	if (n > 1)
		u[n - 1] = (unsigned char)(0x80 | (c & 0x3f));
	bytes_add(b, u, n);
}

/* A target name (UTF-16LE, or Latin-1 if !UNICODE) as a UTF-8 string;
 * control characters and unpaired surrogates become '?'. */
static char *
decode_name(const unsigned char *p, size_t n, bool unicode)
{
	struct bytes	b = { NULL, 0, 0 };
	size_t		i;
	uint32_t	c, lo;

	for (i = 0; i < n; ) {
		if (!unicode)
			c = p[i++];
		else {
			c = le16(p + i);
			i += 2;
			if (c >= 0xd800 && c <= 0xdbff && i + 1 < n &&
			    (lo = le16(p + i)) >= 0xdc00 && lo <= 0xdfff) {
				c = 0x10000 + ((c - 0xd800) << 10) +
				    (lo - 0xdc00);
				i += 2;
			} else if (c >= 0xd800 && c <= 0xdfff)
				c = '?';
		}
		put_utf8(&b, c < 0x20 || c == 0x7f ? '?' : c);
	}
	bytes_add(&b, "", 1);
	return (char *)b.p;
}

void
sasl_ntlm_ntowfv2(const char *user, const char *domain, const char *pass,
    unsigned char out[16])
{
	struct bytes	 pw = { NULL, 0, 0 }, ud = { NULL, 0, 0 };
	unsigned char	 nt[16];
	char		*up = xstrdup(user), *c;

	for (c = up; *c != '\0'; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	put_string(&pw, pass, true);
	md4_digest(pw.p ? pw.p : (unsigned char *)"", pw.len, nt);
	put_string(&ud, up, true);
	put_string(&ud, domain, true);
	hmac_md5(nt, sizeof(nt), ud.p ? ud.p : (unsigned char *)"", ud.len,
	    out);
	xexplicit_bzero(nt, sizeof(nt));
	bytes_wipe(&pw);
	bytes_wipe(&ud);
	sasl_wipe_str(up);
}

void
sasl_ntlm_test_random(struct sasl *x, const unsigned char cc[8],
    const unsigned char ts[8])
{
	struct ntlm	*s;

	if (x == NULL || x->mech != SASL_NTLM || x->state == NULL)
		return;
	s = x->state;
	memcpy(s->cc, cc, 8);
	memcpy(s->ts, ts, 8);
	s->fixed = true;
}

/* Split "DOMAIN\user" or "user@DOMAIN"; else the domain comes later
 * from the server's target name. */
static int
ntlm_init(struct sasl *x)
{
	struct ntlm	*s;
	const char	*u = x->cred.user, *sep;

	if (strlen(u) > NTLM_MAX_NAME)
		return sasl_fail(x, "%s", _("user name too long")), -1;
	s = xcalloc(1, sizeof(*s));
	if ((sep = strchr(u, '\\')) != NULL) {
		s->domain = xstrndup(u, (size_t)(sep - u));
		s->user = xstrdup(sep + 1);
	} else if ((sep = strrchr(u, '@')) != NULL) {
		s->user = xstrndup(u, (size_t)(sep - u));
		s->domain = xstrdup(sep + 1);
	} else
		s->user = xstrdup(u);
	x->state = s;
	if (*s->user == '\0')
		return sasl_fail(x, "%s", _("empty NTLM user name")), -1;
	return 0;
}

static void
ntlm_free(struct sasl *x)
{
	struct ntlm	*s = x->state;

	if (s == NULL)
		return;
	free(s->user);
	free(s->domain);
	xexplicit_bzero(s, sizeof(*s));
	free(s);
	x->state = NULL;
}

/* NEGOTIATE_MESSAGE: signature, type 1, flags, no domain/workstation. */
static void
ntlm_negotiate(unsigned char **out, size_t *outlen)
{
	unsigned char	m[32];

	memset(m, 0, sizeof(m));
	memcpy(m, ntlm_sig, 8);
	put32(m + 8, 1);
	put32(m + 12, NTLM_UNICODE | NTLM_OEM | NTLM_REQUEST_TARGET |
	    NTLM_NTLM | NTLM_ALWAYS_SIGN | NTLM_ESS);
	sasl_out(out, outlen, m, sizeof(m));
}

/* A security buffer (len, maxlen, offset) at P of message M (N bytes):
 * *FIELD points inside M; false if it does not fit or exceeds MAX. */
static bool
secbuf(const unsigned char *m, size_t n, const unsigned char *p, size_t max,
    const unsigned char **field, size_t *flen)
{
	size_t		len = le16(p);
	uint64_t	off = le32(p + 4);

	*field = NULL;
	*flen = 0;
	if (len == 0)
		return true;
	if (len > max || off < 32 || off + len > n)
		return false;
	*field = m + off;
	*flen = len;
	return true;
}

/* Walk the AV pairs: they must end with MsvAvEOL inside the field;
 * note MsvAvTimestamp.  Trims tinfolen to the end of MsvAvEOL. */
static bool
parse_av_pairs(struct ntlm_t2 *t)
{
	size_t		pos = 0, id, len;

	while (t->tinfolen - pos >= 4) {
		id = le16(t->tinfo + pos);
		len = le16(t->tinfo + pos + 2);
		if (len > t->tinfolen - pos - 4)
			return false;
		if (id == AV_EOL) {
			t->tinfolen = pos + 4 + len;
			return true;
		}
		if (id == AV_TIMESTAMP && len == 8)
			t->ts = t->tinfo + pos + 4;
		pos += 4 + len;
	}
	return false;
}

/* Parse and validate a CHALLENGE_MESSAGE; a reason on failure. */
static const char *
ntlm_parse_t2(const unsigned char *m, size_t n, struct ntlm_t2 *t)
{
	memset(t, 0, sizeof(*t));
	if (n < 32 || memcmp(m, ntlm_sig, 8) != 0)
		return _("not an NTLM challenge");
	if (le32(m + 8) != 2)
		return _("NTLM message is not a challenge");
	t->flags = le32(m + 20);
	t->chal = m + 24;
	if (!secbuf(m, n, m + 12, NTLM_MAX_TNAME, &t->tname, &t->tnamelen))
		return _("NTLM target name out of bounds");
	if ((t->flags & NTLM_UNICODE) && t->tnamelen % 2 != 0)
		return _("NTLM target name malformed");
	if (n >= 48) {
		if (!secbuf(m, n, m + 40, NTLM_MAX_TINFO, &t->tinfo,
		    &t->tinfolen))
			return _("NTLM target information out of bounds");
		if (t->tinfolen > 0 && !parse_av_pairs(t))
			return _("NTLM target information malformed");
	}
	return NULL;
}

/* The FILETIME of now (100 ns units since 1601), little-endian. */
static void
filetime_now(unsigned char ts[8])
{
	uint64_t	v = ((uint64_t)time(NULL) + 11644473600u) * 10000000u;
	size_t		i;

	for (i = 0; i < 8; i++)
		ts[i] = (unsigned char)(v >> (8 * i));
}

/* The NTLMv2 response (NTProofStr || blob) into NT, the LMv2 response
 * (or Z(24) when the server sent a timestamp) into LM. */
static void
ntlm_responses(const unsigned char key[16], const struct ntlm_t2 *t,
    const unsigned char cc[8], const unsigned char ts[8], struct bytes *nt,
    unsigned char lm[24])
{
	static const unsigned char	 head[8] = { 1, 1, 0, 0, 0, 0, 0, 0 };
	static const unsigned char	 z[4] = { 0, 0, 0, 0 };
	struct bytes			 msg = { NULL, 0, 0 };
	unsigned char			 proof[16];

	bytes_add(&msg, t->chal, 8);
	bytes_add(&msg, head, 8);
	bytes_add(&msg, ts, 8);
	bytes_add(&msg, cc, 8);
	bytes_add(&msg, z, 4);
	if (t->tinfolen > 0)
		bytes_add(&msg, t->tinfo, t->tinfolen);
	else
		bytes_add(&msg, z, 4);		/* MsvAvEOL */
	bytes_add(&msg, z, 4);
	hmac_md5(key, 16, msg.p, msg.len, proof);
	bytes_add(nt, proof, 16);
	bytes_add(nt, msg.p + 8, msg.len - 8);
	bytes_wipe(&msg);
	memset(lm, 0, 24);
	if (t->ts == NULL) {
		unsigned char	lmsg[16];

		memcpy(lmsg, t->chal, 8);
		memcpy(lmsg + 8, cc, 8);
		hmac_md5(key, 16, lmsg, 16, lm);
		memcpy(lm + 16, cc, 8);
	}
}

/* Append FIELD to the payload of M and point the security buffer at
 * HDR (inside M's header) to it. */
static void
add_field(struct bytes *m, size_t hdr, const unsigned char *p, size_t len)
{
	put16(m->p + hdr, len);
	put16(m->p + hdr + 2, len);
	put32(m->p + hdr + 4, (uint32_t)m->len);
	bytes_add(m, p, len);
}

/* AUTHENTICATE_MESSAGE for the parsed challenge T. */
static enum sasl_rc
ntlm_authenticate(struct sasl *x, const struct ntlm_t2 *t,
    unsigned char **out, size_t *outlen)
{
	struct ntlm	*s = x->state;
	bool		 uni = (t->flags & NTLM_UNICODE) != 0;
	struct bytes	 m = { NULL, 0, 0 }, nt = { NULL, 0, 0 },
			 dom = { NULL, 0, 0 }, usr = { NULL, 0, 0 };
	unsigned char	 key[16], lm[24], hdr[NTLM_T3_HEADER];
	char		*domain;
	uint32_t	 flags;

	domain = s->domain ? xstrdup(s->domain) :
	    decode_name(t->tname, t->tnamelen, uni);
	if (!s->fixed) {
		if (RAND_bytes(s->cc, 8) != 1) {
			free(domain);
			return sasl_fail(x, "%s", _("no random bytes"));
		}
		if (t->ts != NULL)
			memcpy(s->ts, t->ts, 8);
		else
			filetime_now(s->ts);
	}
	sasl_ntlm_ntowfv2(s->user, domain, x->cred.pass, key);
	ntlm_responses(key, t, s->cc, s->ts, &nt, lm);
	xexplicit_bzero(key, sizeof(key));
	put_string(&dom, domain, uni);
	put_string(&usr, s->user, uni);
	free(domain);
	flags = (t->flags & (NTLM_UNICODE | NTLM_REQUEST_TARGET | NTLM_NTLM |
	    NTLM_ALWAYS_SIGN | NTLM_ESS | NTLM_TARGET_INFO)) |
	    (uni ? 0 : NTLM_OEM);
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, ntlm_sig, 8);
	put32(hdr + 8, 3);
	put32(hdr + 60, flags);
	bytes_add(&m, hdr, sizeof(hdr));
	add_field(&m, 12, lm, sizeof(lm));
	add_field(&m, 20, nt.p, nt.len);
	add_field(&m, 28, dom.p, dom.len);
	add_field(&m, 36, usr.p, usr.len);
	add_field(&m, 44, NULL, 0);		/* workstation */
	add_field(&m, 52, NULL, 0);		/* session key */
	sasl_out(out, outlen, m.p, m.len);
	bytes_wipe(&m);
	bytes_wipe(&nt);
	bytes_wipe(&dom);
	bytes_wipe(&usr);
	return SASL_DONE;
}

/* The empty challenge gets NEGOTIATE, the CHALLENGE gets AUTHENTICATE. */
static enum sasl_rc
ntlm_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	struct ntlm	*s = x->state;
	struct ntlm_t2	 t;
	const char	*why;

	switch (s->stage) {
	case 0:
		if (inlen != 0)
			return sasl_fail(x, "%s",
			    _("unexpected NTLM challenge"));
		s->stage = 1;
		ntlm_negotiate(out, outlen);
		return SASL_CONTINUE;
	case 1:
		if ((why = ntlm_parse_t2(in, inlen, &t)) != NULL)
			return sasl_fail(x, "%s", why);
		s->stage = 2;
		return ntlm_authenticate(x, &t, out, outlen);
	default:
		return sasl_fail(x, "%s", _("unexpected server challenge"));
	}
}

const struct sasl_ops sasl_ntlm_ops = {
	ntlm_init, NULL, ntlm_step, NULL, ntlm_free
};
