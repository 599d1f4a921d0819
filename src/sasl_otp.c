/*
 * sasl_otp.c: the client side of the SASL OTP mechanism (RFC 2444) over
 * one-time passwords (RFC 2289) with the md4, md5 and sha1 hashes.
 * Initial response "authzid NUL user"; the challenge
 * "otp-ALG SEQ SEED [ext[,...]]" gets "word:W1 W2 W3 W4 W5 W6".
 * Limits: SEQ is at most 9999, SEED has 1 to 16 alphanumerics.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "i18n.h"
#include "md4.h"
#include "md5.h"
#include "sasl_priv.h"
#include "xmalloc.h"

#define OTP_MAX_SEQ	9999
#define OTP_MAX_SEED	16

enum otp_alg { OTP_MD4, OTP_MD5, OTP_SHA1 };

static const char *const otp_algs[] = { "md4", "md5", "sha1" };

/* The parsed challenge. */
struct otp_chal {
	enum otp_alg	 alg;
	unsigned	 seq;
	char		*seed;		/* lowercased */
};

/* Hash LEN bytes with ALG and fold the digest to 64 bits (RFC 2289
 * section 6 and appendix A: sha1 folds its five words w0^w2^w4, w1^w3
 * and stores each little-endian). */
static bool
otp_hash_fold(enum otp_alg alg, const void *p, size_t len,
    unsigned char out[8])
{
	unsigned char	d[EVP_MAX_MD_SIZE];
	unsigned int	dlen = 0;
	struct md5	c;
	size_t		i, j;
	unsigned long	w[2];

	switch (alg) {
	case OTP_MD4:
		md4_digest(p, len, d);
		break;
	case OTP_MD5:
		md5_init(&c);
		md5_update(&c, p, len);
		md5_final(&c, d);
		break;
	case OTP_SHA1:
		if (EVP_Digest(p, len, d, &dlen, EVP_sha1(), NULL) != 1 ||
		    dlen != 20)
			return false;
		for (i = 0; i < 2; i++) {
			w[i] = 0;
			for (j = 0; j < 4; j++)
				w[i] = w[i] << 8 | (unsigned long)(d[4 * i +
				    j] ^ d[4 * i + 8 + j] ^ (i == 0 ?
				    d[16 + j] : 0));
			for (j = 0; j < 4; j++)
				out[4 * i + j] = (unsigned char)(w[i] >>
				    (8 * j));
		}
		xexplicit_bzero(d, sizeof(d));
		return true;
	}
	for (i = 0; i < 8; i++)
		out[i] = d[i] ^ d[i + 8];
	xexplicit_bzero(d, sizeof(d));
	return true;
}

/* The one-time password of ALG, SEQ, the lowercased SEED and PASS. */
static bool
otp_compute(enum otp_alg alg, unsigned seq, const char *seed,
    const char *pass, unsigned char out[8])
{
	size_t		 sl = strlen(seed), pl = strlen(pass), i;
	char		*buf = xmalloc(sl + pl + 1);
	unsigned char	 k[8];
	bool		 good;

	for (i = 0; i < sl; i++)
		buf[i] = (seed[i] >= 'A' && seed[i] <= 'Z') ?
		    (char)(seed[i] - 'A' + 'a') : seed[i];
	memcpy(buf + sl, pass, pl);
	good = otp_hash_fold(alg, buf, sl + pl, k);
	xexplicit_bzero(buf, sl + pl);
	free(buf);
	while (good && seq-- > 0)
		good = otp_hash_fold(alg, k, 8, k);
	memcpy(out, k, 8);
	xexplicit_bzero(k, sizeof(k));
	return good;
}

int
sasl_otp_compute(const char *alg, unsigned seq, const char *seed,
    const char *pass, unsigned char out[8])
{
	unsigned	i;

	for (i = 0; i < sizeof(otp_algs) / sizeof(otp_algs[0]); i++)
		if (strcmp(alg, otp_algs[i]) == 0)
			return otp_compute((enum otp_alg)i, seq, seed, pass,
			    out) ? 0 : -1;
	return -1;
}

static bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

/* The length of the token at P (up to END) that ends at white space. */
static size_t
token_len(const unsigned char *p, const unsigned char *end)
{
	size_t	n = 0;

	while (p + n < end && !is_ws(p[n]))
		n++;
	return n;
}

/* Skip white space; true if there was some. */
static bool
skip_ws(const unsigned char **p, const unsigned char *end)
{
	const unsigned char	*s = *p;

	while (*p < end && is_ws(**p))
		(*p)++;
	return *p != s;
}

/* Whether the rest after the seed is empty or "ext[,...]" of printable
 * characters, with optional trailing white space. */
static bool
otp_ext_valid(const unsigned char *p, const unsigned char *end)
{
	size_t	n = token_len(p, end), i;

	if (n > 0) {
		if (n < 3 || memcmp(p, "ext", 3) != 0 ||
		    (n > 3 && p[3] != ','))
			return false;
		for (i = 3; i < n; i++)
			if (p[i] < 0x21 || p[i] > 0x7e)
				return false;
		p += n;
	}
	skip_ws(&p, end);
	return p == end;
}

/* Parse "otp-ALG SEQ SEED [ext]" strictly; false if malformed. */
static bool
otp_parse(const unsigned char *p, size_t len, struct otp_chal *c)
{
	const unsigned char	*end = p + len;
	size_t			 n, i;

	n = token_len(p, end);
	if (n < 5 || memcmp(p, "otp-", 4) != 0)
		return false;
	for (i = 0; i < 3; i++)
		if (n - 4 == strlen(otp_algs[i]) &&
		    memcmp(p + 4, otp_algs[i], n - 4) == 0)
			break;
	if (i == 3)
		return false;
	c->alg = (enum otp_alg)i;
	p += n;
	if (!skip_ws(&p, end) || (n = token_len(p, end)) == 0 || n > 9)
		return false;
	for (c->seq = 0, i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		c->seq = c->seq * 10 + (unsigned)(p[i] - '0');
	}
	p += n;
	if (!skip_ws(&p, end) || (n = token_len(p, end)) == 0 ||
	    n > OTP_MAX_SEED)
		return false;
	for (i = 0; i < n; i++)
		if (!is_alnum(p[i]))
			return false;
	c->seed = xstrndup((const char *)p, n);
	for (i = 0; i < n; i++)
		if (c->seed[i] >= 'A' && c->seed[i] <= 'Z')
			c->seed[i] = (char)(c->seed[i] - 'A' + 'a');
	p += n;
	if (p != end && !skip_ws(&p, end)) {
		free(c->seed);
		return false;
	}
	if (!otp_ext_valid(p, end)) {
		free(c->seed);
		return false;
	}
	return true;
}

/* Whether the exchange has answered its challenge. */
struct otp_state {
	bool	answered;
};

static int
otp_init(struct sasl *x)
{
	x->state = xcalloc(1, sizeof(struct otp_state));
	return 0;
}

static void
otp_free(struct sasl *x)
{
	free(x->state);
	x->state = NULL;
}

/* "authzid NUL user" (RFC 2444 section 3). */
static int
otp_initial(struct sasl *x, unsigned char **out, size_t *outlen)
{
	const char	*az = x->cred.authzid ? x->cred.authzid : "";
	size_t		 a = strlen(az), u = strlen(x->cred.user);
	unsigned char	*b = xmalloc(a + u + 2);

	memcpy(b, az, a);
	b[a] = '\0';
	memcpy(b + a + 1, x->cred.user, u);
	b[a + u + 1] = '\0';
	*out = b;
	*outlen = a + u + 1;
	return 1;
}

/* The challenge gets "word:" and the six words. */
static enum sasl_rc
otp_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	struct otp_state	*s = x->state;
	struct otp_chal		 c;
	unsigned char		 k[8];
	char			*w, *r;
	bool			 good;

	if (s->answered)
		return sasl_fail(x, "%s", _("unexpected server challenge"));
	s->answered = true;
	if (!otp_parse(in, inlen, &c))
		return sasl_fail(x, "%s", _("malformed OTP challenge"));
	if (c.seq > OTP_MAX_SEQ) {
		free(c.seed);
		return sasl_fail(x, _("OTP sequence number above %u"),
		    OTP_MAX_SEQ);
	}
	good = otp_compute(c.alg, c.seq, c.seed, x->cred.pass, k);
	free(c.seed);
	if (!good)
		return sasl_fail(x, "%s", _("OTP hash unavailable"));
	w = otp_six_words(k);
	xexplicit_bzero(k, sizeof(k));
	r = xasprintf("word:%s", w);
	sasl_wipe_str(w);
	*out = (unsigned char *)r;
	*outlen = strlen(r);
	return SASL_DONE;
}

const struct sasl_ops sasl_otp_ops = {
	otp_init, otp_initial, otp_step, NULL, otp_free
};
