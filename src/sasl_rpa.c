/*
 * sasl_rpa.c: the client side of CompuServe's Remote Passphrase
 * Authentication (RPA, draft-petke-remote-pass-auth-00, May 1997) in the
 * GSS-API token form of the draft's part 4, as POP3 "AUTH RPA" carries
 * it (base64, one token a line):
 *
 *   S: +                        (empty: the client speaks first)
 *   C: token 1  negotiation: versions 1.0 to 3.0, mutual authentication
 *   S: token 2  selected version, service challenge Cs, time stamp Ts,
 *               realm list "service@realm ..."
 *   C: token 3  identity "name@realm", user challenge Cu, response Ru
 *   S: token 4  Au (the deity's proof for the user), Kusu (the session
 *               key obscured for the user), status (version 3.0 only)
 *   C: token 5  one dummy octet (versions 1.0 and 3.0); version 2.0 ends
 *               the handshake with token 4, answered with an empty line
 *
 * Every token is 0x60, a DER length and (but token 5) the mechanism OID.
 * The user name is "name@realm": the realm picks the service's name Ns
 * from the realm list.  Names enter the digests as lower-case big-endian
 * Unicode; the pass phrase becomes Pu = MD5 of its lower-case big-endian
 * Unicode (the draft's default transformation; POP3 has no way to ask
 * for another).  Ru = MD5(Pu Z Nu Ns Nr Cu Cs Ts Pu) with Z 48 zero
 * octets; the client recovers Kus = Kusu xor MD5(Pu Z Ns Nu Nr Cs Cu Ts
 * Pu) and requires Au = MD5(Pu Z Ns Nu Nr Kusu Cs Cu Ts Kus Pu): a server
 * (or its deity) that does not know the pass phrase is refused.  The
 * session key is not used afterwards and is wiped at once.
 *
 * Strings from the configuration are UTF-8 (or, when not valid UTF-8,
 * ISO 8859-1); the identity must fit ISO 8859-1 and the pass phrase the
 * 16-bit Unicode of the draft.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "sasl_priv.h"
#include "xmalloc.h"

#ifdef RPA_ENABLE

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "md5.h"

/* Part 4, "Mechanism Type". */
static const unsigned char rpa_oid[] = {
	0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x86, 0xF8, 0x73, 0x01, 0x01
};
#define RPA_OID_LEN	sizeof(rpa_oid)
#define RPA_TOKEN_TAG	0x60	/* GSS-API's [APPLICATION 0] */
#define RPA_MIN_CHAL	8	/* part 1: challenges have 8 octets or more */
#define RPA_UCHAL_LEN	16	/* our challenge */
#define RPA_TS_LEN	14	/* "YYYYMMDDHHMMSS" */
#define RPA_DIGEST	MD5_DIGEST_LEN
#define RPA_ZLEN	48	/* Z: 48 zero octets */
#define RPA_MAX_IDENT	1024	/* characters in "name@realm" */

enum rpa_phase {
	RP_START,	/* waiting for the server's empty go-ahead */
	RP_NEGOTIATED,	/* token 1 sent, waiting for token 2 */
	RP_AUTHENTICATED,	/* token 3 sent, waiting for token 4 */
	RP_DONE		/* Au verified, last token sent */
};

struct rpa {
	enum rpa_phase	 phase;
	unsigned	 major;		/* selected version: 1, 2 or 3 */
	unsigned char	*ident;		/* "name@realm" in ISO 8859-1 */
	size_t		 identlen;
	size_t		 at;		/* where ident's last '@' is */
	unsigned char	*nu, *nr, *ns;	/* names, lower-case UTF-16BE */
	size_t		 nulen, nrlen, nslen;
	unsigned char	 pu[RPA_DIGEST];
	unsigned char	 cs[255];
	size_t		 cslen;
	unsigned char	 cu[RPA_UCHAL_LEN];
	unsigned char	 ts[RPA_TS_LEN];
};

/* One piece of a digest's input. */
struct part {
	const void	*p;
	size_t		 n;
};

/* A bounded reader over a server token. */
struct rd {
	const unsigned char	*p;
	size_t			 left;
};

/* ---- text conversions ---- */

/* The simple lower case of a 16-bit code point: ASCII, Latin-1, Latin
 * Extended-A, Greek and Cyrillic; anything else is left as it is. */
static uint32_t
rpa_lower(uint32_t c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7))
		return c + 0x20;
	if (c == 0x130)
		return 'i';
	if (c == 0x178)
		return 0xFF;
	if ((c >= 0x100 && c <= 0x137 && c % 2 == 0) ||
	    (c >= 0x139 && c <= 0x148 && c % 2 == 1) ||
	    (c >= 0x14A && c <= 0x177 && c % 2 == 0) ||
	    (c >= 0x179 && c <= 0x17E && c % 2 == 1))
		return c + 1;
	if (c == 0x386)
		return 0x3AC;
	if (c >= 0x388 && c <= 0x38A)
		return c + 0x25;
	if (c == 0x38C)
		return 0x3CC;
	if (c == 0x38E || c == 0x38F)
		return c + 0x3F;
	if ((c >= 0x391 && c <= 0x3AB && c != 0x3A2) ||
	    (c >= 0x410 && c <= 0x42F))
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40F)
		return c + 0x50;
	return c;
}

/* Decode the UTF-8 sequence at S (N bytes left) into *CP; its length, or
 * 0 when it is not valid (overlong, surrogate, beyond U+10FFFF). */
static size_t
utf8_one(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t		len, i;
	uint32_t	c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, c = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, c = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
		return 0;
	*cp = c;
	return len;
}

/* Whether S is valid UTF-8 throughout. */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
	size_t		i, l;
	uint32_t	c;

	for (i = 0; i < n; i += l)
		if ((l = utf8_one(s + i, n - i, &c)) == 0)
			return false;
	return true;
}

/* The code points of S (UTF-8 if valid, else ISO 8859-1) into a new
 * array; *N gets their number. */
static uint32_t *
text_decode(const char *s, size_t *n)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 len = strlen(s), i, l, k = 0;
	bool			 utf8 = utf8_valid(u, len);
	uint32_t		*cp = xcalloc(len + 1, sizeof(*cp));

	for (i = 0; i < len; i += l) {
		if (utf8)
			l = utf8_one(u + i, len - i, &cp[k]);
		else
			cp[k] = u[i], l = 1;
		k++;
	}
	*n = k;
	return cp;
}

/* Whether C is a control character of ISO 8859-1 (C0, DEL, C1). */
static bool
is_ctl(uint32_t c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

/* N code points as lower-case UTF-16BE (all below 0x10000). */
static unsigned char *
utf16_lower(const uint32_t *cp, size_t n, size_t *outlen)
{
	unsigned char	*b = xmalloc(2 * n + 1);
	size_t		 i;
	uint32_t	 c;

	for (i = 0; i < n; i++) {
		c = rpa_lower(cp[i]);
		b[2 * i] = (unsigned char)(c >> 8);
		b[2 * i + 1] = (unsigned char)(c & 0xFF);
	}
	*outlen = 2 * n;
	return b;
}

/* ISO 8859-1 octets as lower-case UTF-16BE (a name for the digests). */
static unsigned char *
latin1_name(const unsigned char *s, size_t n, size_t *outlen)
{
	uint32_t	*cp = xcalloc(n + 1, sizeof(*cp));
	unsigned char	*b;
	size_t		 i;

	for (i = 0; i < n; i++)
		cp[i] = s[i];
	b = utf16_lower(cp, n, outlen);
	free(cp);
	return b;
}

/* ---- digests ---- */

/* MD5 of Pu, Z, the N pieces and Pu again. */
static void
rpa_digest(const struct rpa *r, const struct part *pt, size_t n,
    unsigned char out[RPA_DIGEST])
{
	static const unsigned char	z[RPA_ZLEN];
	struct md5			c;
	size_t				i;

	md5_init(&c);
	md5_update(&c, r->pu, sizeof(r->pu));
	md5_update(&c, z, sizeof(z));
	for (i = 0; i < n; i++)
		md5_update(&c, pt[i].p, pt[i].n);
	md5_update(&c, r->pu, sizeof(r->pu));
	md5_final(&c, out);
	xexplicit_bzero(&c, sizeof(c));
}

/* Ru = MD5(Pu + Z + Nu + Ns + Nr + Cu + Cs + Ts + Pu). */
static void
rpa_user_response(const struct rpa *r, unsigned char out[RPA_DIGEST])
{
	const struct part pt[] = {
		{ r->nu, r->nulen }, { r->ns, r->nslen }, { r->nr, r->nrlen },
		{ r->cu, sizeof(r->cu) }, { r->cs, r->cslen },
		{ r->ts, sizeof(r->ts) }
	};

	rpa_digest(r, pt, sizeof(pt) / sizeof(pt[0]), out);
}

/* The mask of the user's session key: MD5(Pu + Z + Ns + Nu + Nr + Cs +
 * Cu + Ts + Pu). */
static void
rpa_key_mask(const struct rpa *r, unsigned char out[RPA_DIGEST])
{
	const struct part pt[] = {
		{ r->ns, r->nslen }, { r->nu, r->nulen }, { r->nr, r->nrlen },
		{ r->cs, r->cslen }, { r->cu, sizeof(r->cu) },
		{ r->ts, sizeof(r->ts) }
	};

	rpa_digest(r, pt, sizeof(pt) / sizeof(pt[0]), out);
}

/* Au = MD5(Pu + Z + Ns + Nu + Nr + Kusu + Cs + Cu + Ts + Kus + Pu). */
static void
rpa_user_proof(const struct rpa *r, const unsigned char kusu[RPA_DIGEST],
    const unsigned char kus[RPA_DIGEST], unsigned char out[RPA_DIGEST])
{
	const struct part pt[] = {
		{ r->ns, r->nslen }, { r->nu, r->nulen }, { r->nr, r->nrlen },
		{ kusu, RPA_DIGEST }, { r->cs, r->cslen },
		{ r->cu, sizeof(r->cu) }, { r->ts, sizeof(r->ts) },
		{ kus, RPA_DIGEST }
	};

	rpa_digest(r, pt, sizeof(pt) / sizeof(pt[0]), out);
}

/* ---- tokens ---- */

/* Wrap BODY in 0x60 and its DER length (a new allocation in *OUT). */
static void
tok_wrap(const unsigned char *body, size_t n, unsigned char **out,
    size_t *outlen)
{
	unsigned char	*b = xmalloc(n + 4 + 1);
	size_t		 h = 0;

	b[h++] = RPA_TOKEN_TAG;
	if (n < 0x80)
		b[h++] = (unsigned char)n;
	else if (n < 0x100)
		b[h++] = 0x81, b[h++] = (unsigned char)n;
	else
		b[h++] = 0x82, b[h++] = (unsigned char)(n >> 8),
		    b[h++] = (unsigned char)(n & 0xFF);
	memcpy(b + h, body, n);
	b[h + n] = '\0';
	*out = b;
	*outlen = h + n;
}

/* N octets of the token, or NULL when fewer are left. */
static const unsigned char *
rd_take(struct rd *d, size_t n)
{
	const unsigned char	*p = d->p;

	if (n > d->left)
		return NULL;
	d->p += n;
	d->left -= n;
	return p;
}

/* One octet into *V; false at the end. */
static bool
rd_u8(struct rd *d, unsigned *v)
{
	const unsigned char	*p = rd_take(d, 1);

	if (p == NULL)
		return false;
	*v = p[0];
	return true;
}

/* A big-endian 16-bit value into *V; false at the end. */
static bool
rd_u16(struct rd *d, unsigned *v)
{
	const unsigned char	*p = rd_take(d, 2);

	if (p == NULL)
		return false;
	*v = (unsigned)p[0] << 8 | p[1];
	return true;
}

/* A field of a one-octet length that must be EXACTLY octets long (the
 * draft's "length plus binary value"); NULL when not so. */
static const unsigned char *
rd_fixed(struct rd *d, size_t exactly)
{
	unsigned	n;

	if (!rd_u8(d, &n) || n != exactly)
		return NULL;
	return rd_take(d, n);
}

/* Open a server token: the tag, a minimal DER length that covers the
 * rest exactly, and the mechanism OID.  0, or -1 with the reason set. */
static int
tok_open(struct sasl *x, const unsigned char *in, size_t inlen,
    struct rd *d)
{
	size_t		n = 0, i, nlen;
	const unsigned char *oid;

	if (inlen < 2 || in[0] != RPA_TOKEN_TAG)
		return sasl_fail(x, "%s", _("RPA token without its 0x60 "
		    "header")), -1;
	if (in[1] < 0x80) {
		n = in[1];
		i = 2;
	} else {
		nlen = in[1] & 0x7F;
		if (nlen == 0 || nlen > 2 || inlen < 2 + nlen ||
		    in[2] == 0)
			return sasl_fail(x, "%s", _("bad RPA token length")),
			    -1;
		for (i = 0; i < nlen; i++)
			n = n << 8 | in[2 + i];
		i = 2 + nlen;
		if (n < 0x80)
			return sasl_fail(x, "%s", _("bad RPA token length")),
			    -1;
	}
	if (n != inlen - i)
		return sasl_fail(x, "%s", _("RPA token length does not match "
		    "its contents")), -1;
	d->p = in + i;
	d->left = n;
	if ((oid = rd_take(d, RPA_OID_LEN)) == NULL ||
	    memcmp(oid, rpa_oid, RPA_OID_LEN) != 0)
		return sasl_fail(x, "%s", _("RPA token for another "
		    "mechanism")), -1;
	return 0;
}

/* ---- setup ---- */

/* The identity from the user name: ISO 8859-1 "name@realm", both parts
 * non-empty, no control characters.  0, or -1 with the reason set. */
static int
rpa_identity(struct sasl *x, struct rpa *r)
{
	size_t		 n, i;
	uint32_t	*cp = text_decode(x->cred.user, &n);
	bool		 found = false;

	if (n > RPA_MAX_IDENT) {
		free(cp);
		return sasl_fail(x, "%s", _("RPA user name too long")), -1;
	}
	r->ident = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		if (cp[i] > 0xFF || is_ctl(cp[i])) {
			free(cp);
			return sasl_fail(x, "%s", _("RPA user name not "
			    "representable in ISO 8859-1")), -1;
		}
		r->ident[i] = (unsigned char)cp[i];
		if (cp[i] == '@')
			r->at = i, found = true;
	}
	free(cp);
	r->ident[n] = '\0';
	r->identlen = n;
	if (!found || r->at == 0 || r->at + 1 == n)
		return sasl_fail(x, "%s", _("RPA needs a user name of the "
		    "form name@realm")), -1;
	r->nu = latin1_name(r->ident, r->at, &r->nulen);
	r->nr = latin1_name(r->ident + r->at + 1, n - r->at - 1, &r->nrlen);
	return 0;
}

/* Pu: MD5 of the pass phrase as lower-case UTF-16BE.  0, or -1. */
static int
rpa_passphrase(struct sasl *x, struct rpa *r)
{
	size_t		 n, blen, i;
	uint32_t	*cp = text_decode(x->cred.pass, &n);
	unsigned char	*b;
	struct md5	 c;
	bool		 bmp = true;

	for (i = 0; i < n; i++)
		bmp = bmp && cp[i] <= 0xFFFF;
	if (!bmp) {
		xexplicit_bzero(cp, n * sizeof(*cp));
		free(cp);
		return sasl_fail(x, "%s", _("RPA pass phrase has characters "
		    "beyond 16-bit Unicode")), -1;
	}
	b = utf16_lower(cp, n, &blen);
	xexplicit_bzero(cp, n * sizeof(*cp));
	free(cp);
	md5_init(&c);
	md5_update(&c, b, blen);
	md5_final(&c, r->pu);
	xexplicit_bzero(&c, sizeof(c));
	xexplicit_bzero(b, blen);
	free(b);
	return 0;
}

/* Wipe and free the state. */
static void
rpa_free(struct sasl *x)
{
	struct rpa	*r = x->state;

	if (r == NULL)
		return;
	free(r->ident);
	free(r->nu);
	free(r->nr);
	free(r->ns);
	xexplicit_bzero(r, sizeof(*r));
	free(r);
	x->state = NULL;
}

/* Identity, names and Pu from the credentials. */
static int
rpa_init(struct sasl *x)
{
	struct rpa	*r = xcalloc(1, sizeof(*r));

	x->state = r;
	if (rpa_identity(x, r) != 0 || rpa_passphrase(x, r) != 0) {
		rpa_free(x);
		return -1;
	}
	return 0;
}

/* ---- the steps ---- */

/* Token 1: versions 1.0 to 3.0, mutual authentication requested. */
static enum sasl_rc
rpa_token1(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	struct rpa		*r = x->state;
	unsigned char		 b[RPA_OID_LEN + 6];

	(void)in;
	if (inlen != 0)
		return sasl_fail(x, "%s", _("unexpected data in the server's "
		    "RPA go-ahead"));
	memcpy(b, rpa_oid, RPA_OID_LEN);
	memcpy(b + RPA_OID_LEN, "\x01\x00" "\x03\x00" "\x00\x01", 6);
	tok_wrap(b, sizeof(b), out, outlen);
	r->phase = RP_NEGOTIATED;
	return SASL_CONTINUE;
}

/* Whether the realm list entry E (N octets: "service@realm") is valid;
 * *AT gets the offset of its last '@'. */
static bool
realm_entry(const unsigned char *e, size_t n, size_t *at)
{
	size_t	i;
	bool	found = false;

	for (i = 0; i < n; i++)
		if (e[i] == '@')
			*at = i, found = true;
	return found && *at > 0 && *at + 1 < n;
}

/* Whether the ISO 8859-1 strings A and B (N octets each) are equal
 * ignoring case. */
static bool
latin1_caseeq(const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (rpa_lower(a[i]) != rpa_lower(b[i]))
			return false;
	return true;
}

/* Find our realm in the realm list (LIST, N octets) and set Ns.  0, or
 * -1 with the reason set. */
static int
rpa_pick_realm(struct sasl *x, struct rpa *r, const unsigned char *list,
    size_t n)
{
	const unsigned char	*realm = r->ident + r->at + 1;
	size_t			 rlen = r->identlen - r->at - 1, i, s = 0;
	size_t			 at = 0;

	for (i = 0; i < n; i++)
		if (is_ctl(list[i]))
			return sasl_fail(x, "%s", _("control character in the "
			    "RPA realm list")), -1;
	for (i = 0; i <= n; i++) {
		if (i < n && list[i] != ' ')
			continue;
		if (!realm_entry(list + s, i - s, &at))
			return sasl_fail(x, "%s", _("malformed RPA realm "
			    "list")), -1;
		if (r->ns == NULL && i - s - at - 1 == rlen &&
		    latin1_caseeq(list + s + at + 1, realm, rlen))
			r->ns = latin1_name(list + s, at, &r->nslen);
		s = i + 1;
	}
	if (r->ns == NULL) {
		char *w = sasl_sanitise(realm, rlen, 64),
		    *q = sasl_sanitise(list, n, 64);

		sasl_fail(x, _("the server does not accept the RPA realm %s "
		    "(it offers: %s)"), w, q);
		free(w);
		free(q);
		return -1;
	}
	return 0;
}

/* Token 2: the selected version, Cs, Ts and the realm list (whose entry
 * for our realm gives Ns).  0, or -1 with the reason set. */
static int
rpa_parse_challenge(struct sasl *x, struct rpa *r, const unsigned char *in,
    size_t inlen)
{
	struct rd		 d;
	unsigned		 maj, min, n;
	const unsigned char	*p, *list;
	size_t			 i;

	if (tok_open(x, in, inlen, &d) != 0)
		return -1;
	if (!rd_u8(&d, &maj) || !rd_u8(&d, &min))
		return sasl_fail(x, "%s", _("truncated RPA challenge")), -1;
	if (maj < 1 || maj > 3 || min != 0)
		return sasl_fail(x, _("the server selected RPA version %u.%u, "
		    "not one of 1.0 to 3.0"), maj, min), -1;
	r->major = maj;
	if (!rd_u8(&d, &n) || (p = rd_take(&d, n)) == NULL)
		return sasl_fail(x, "%s", _("truncated RPA challenge")), -1;
	if (n < RPA_MIN_CHAL)
		return sasl_fail(x, _("RPA service challenge too short (%u "
		    "octets)"), n), -1;
	memcpy(r->cs, p, n);
	r->cslen = n;
	if ((p = rd_take(&d, RPA_TS_LEN)) == NULL)
		return sasl_fail(x, "%s", _("truncated RPA challenge")), -1;
	for (i = 0; i < RPA_TS_LEN; i++)
		if (p[i] < '0' || p[i] > '9')
			return sasl_fail(x, "%s", _("malformed RPA time "
			    "stamp")), -1;
	memcpy(r->ts, p, RPA_TS_LEN);
	if (!rd_u16(&d, &n) || (list = rd_take(&d, n)) == NULL)
		return sasl_fail(x, "%s", _("truncated RPA challenge")), -1;
	if (d.left != 0)
		return sasl_fail(x, "%s", _("trailing data in the RPA "
		    "challenge")), -1;
	return rpa_pick_realm(x, r, list, n);
}

/* Token 3: the identity, Cu and Ru (the buffer is wiped after use). */
static void
rpa_build_response(const struct rpa *r, unsigned char **out,
    size_t *outlen)
{
	unsigned char	ru[RPA_DIGEST], *b;
	size_t		k = RPA_OID_LEN, n;

	rpa_user_response(r, ru);
	n = RPA_OID_LEN + 2 + r->identlen + 1 + sizeof(r->cu) + 1 + sizeof(ru);
	b = xmalloc(n);
	memcpy(b, rpa_oid, RPA_OID_LEN);
	b[k++] = (unsigned char)(r->identlen >> 8);
	b[k++] = (unsigned char)(r->identlen & 0xFF);
	memcpy(b + k, r->ident, r->identlen);
	k += r->identlen;
	b[k++] = sizeof(r->cu);
	memcpy(b + k, r->cu, sizeof(r->cu));
	k += sizeof(r->cu);
	b[k++] = sizeof(ru);
	memcpy(b + k, ru, sizeof(ru));
	tok_wrap(b, n, out, outlen);
	xexplicit_bzero(ru, sizeof(ru));
	xexplicit_bzero(b, n);
	free(b);
}

/* Token 2 in, token 3 out. */
static enum sasl_rc
rpa_token3(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	struct rpa	*r = x->state;

	if (rpa_parse_challenge(x, r, in, inlen) != 0)
		return SASL_FAIL;
	if (RAND_bytes(r->cu, sizeof(r->cu)) != 1)
		return sasl_fail(x, "%s", _("no random bytes"));
	rpa_build_response(r, out, outlen);
	r->phase = RP_AUTHENTICATED;
	return SASL_CONTINUE;
}

/* The reason for a non-zero status of token 4 (version 3.0). */
static enum sasl_rc
rpa_status_fail(struct sasl *x, unsigned st)
{
	switch (st) {
	case 1:
		return sasl_fail(x, "%s", _("restricted user: the server says "
		    "something is wrong with the account"));
	case 2:
		return sasl_fail(x, "%s", _("invalid user ID or pass phrase"));
	case 3:
		return sasl_fail(x, "%s", _("the server's authentication deity "
		    "failed"));
	default:
		return sasl_fail(x, _("the server reported RPA status %u"), st);
	}
}

/* Token 4 in (verify Au), token 5 (or, for version 2.0, nothing) out. */
static enum sasl_rc
rpa_token5(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	struct rpa		*r = x->state;
	struct rd		 d;
	const unsigned char	*au, *kusu;
	unsigned char		 kus[RPA_DIGEST], want[RPA_DIGEST];
	unsigned		 st = 0;
	size_t			 i;
	bool			 good;

	if (tok_open(x, in, inlen, &d) != 0)
		return SASL_FAIL;
	if ((au = rd_fixed(&d, RPA_DIGEST)) == NULL ||
	    (kusu = rd_fixed(&d, RPA_DIGEST)) == NULL ||
	    (r->major == 3 && !rd_u8(&d, &st)))
		return sasl_fail(x, "%s", _("malformed RPA authentication "
		    "token"));
	if (d.left != 0)
		return sasl_fail(x, "%s", _("trailing data in the RPA "
		    "authentication token"));
	if (st != 0)
		return rpa_status_fail(x, st);
	rpa_key_mask(r, kus);
	for (i = 0; i < RPA_DIGEST; i++)
		kus[i] ^= kusu[i];
	rpa_user_proof(r, kusu, kus, want);
	good = CRYPTO_memcmp(want, au, RPA_DIGEST) == 0;
	xexplicit_bzero(kus, sizeof(kus));
	xexplicit_bzero(want, sizeof(want));
	if (!good)
		return sasl_fail(x, "%s", _("the server's RPA proof does not "
		    "match (it does not know the pass phrase)"));
	r->phase = RP_DONE;
	if (r->major == 2)
		sasl_out(out, outlen, "", 0);
	else
		tok_wrap((const unsigned char *)"", 1, out, outlen);
	return SASL_DONE;
}

/* One server token, by where the handshake stands. */
static enum sasl_rc
rpa_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	struct rpa	*r = x->state;

	switch (r->phase) {
	case RP_START:
		return rpa_token1(x, in, inlen, out, outlen);
	case RP_NEGOTIATED:
		return rpa_token3(x, in, inlen, out, outlen);
	case RP_AUTHENTICATED:
		return rpa_token5(x, in, inlen, out, outlen);
	default:
		return sasl_fail(x, "%s", _("unexpected server challenge"));
	}
}

/* The server said yes: only after it proved itself with Au. */
static int
rpa_success(struct sasl *x, const unsigned char *in, size_t inlen)
{
	struct rpa	*r = x->state;

	(void)in;
	if (inlen != 0)
		return sasl_fail(x, "%s", _("unexpected data with the RPA "
		    "verdict")), -1;
	if (r->phase != RP_DONE)
		return sasl_fail(x, "%s", _("the server ended the RPA exchange "
		    "before proving its identity")), -1;
	return 0;
}

const struct sasl_ops sasl_rpa_ops = {
	rpa_init, NULL, rpa_step, rpa_success, rpa_free
};

bool
sasl_rpa_built(void)
{
	return true;
}

#else /* !RPA_ENABLE */

/* Not built: every use fails with a reason. */
static int
rpa_init(struct sasl *x)
{
	sasl_fail(x, "%s", _("RPA support is not built in (configure "
	    "--enable-rpa)"));
	return -1;
}

/* Not built: as rpa_init. */
static enum sasl_rc
rpa_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	(void)in;
	(void)inlen;
	*out = NULL;
	*outlen = 0;
	return sasl_fail(x, "%s", _("RPA support is not built in"));
}

const struct sasl_ops sasl_rpa_ops = {
	rpa_init, NULL, rpa_step, NULL, NULL
};

bool
sasl_rpa_built(void)
{
	return false;
}

#endif /* RPA_ENABLE */
