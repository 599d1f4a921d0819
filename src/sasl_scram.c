/*
 * sasl_scram.c: the client side of SCRAM-SHA-1 (RFC 5802) and
 * SCRAM-SHA-256 (RFC 7677) without channel binding (GS2 header "n,," or
 * "n,a=AUTHZID,").
 *
 * Limits: the user name and authzid are escaped as saslname but not run
 * through SASLprep (RFC 4013), nor is the password: they are used as the
 * UTF-8 bytes given, which matches SASLprep for ASCII without control
 * characters (control characters are refused).  The server's iteration
 * count must lie in 1..1000000, its salt decode to 1..256 bytes.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth.h"
#include "i18n.h"
#include "sasl_priv.h"
#include "xmalloc.h"

#define SCRAM_MAX_HASH		EVP_MAX_MD_SIZE
#define SCRAM_NONCE_BYTES	24	/* random bytes in our nonce */
#define SCRAM_MAX_SALT		256	/* decoded salt bytes */
#define SCRAM_MAX_NONCE		1024	/* characters of the joint nonce */

static unsigned long scram_max_iter = 1000000;

enum scram_stage {
	SCRAM_START,		/* nothing sent */
	SCRAM_FIRST_SENT,	/* client-first sent, awaiting server-first */
	SCRAM_FINAL_SENT,	/* client-final sent, awaiting v= */
	SCRAM_VERIFIED		/* the server proved it knows the password */
};

struct scram {
	const EVP_MD		*md;
	size_t			 hlen;
	enum scram_stage	 stage;
	char			*nonce;		/* our client nonce */
	char			*gs2;		/* "n,," or "n,a=...," */
	char			*first_bare;	/* "n=USER,r=NONCE" */
	unsigned char		 server_sig[SCRAM_MAX_HASH];
};

/* A parsed attribute: letter, value bytes. */
struct scram_attr {
	char			 name;
	const unsigned char	*val;
	size_t			 len;
};

void
sasl_scram_test_max_iter(unsigned long n)
{
	scram_max_iter = n;
}

/* Whether a nonce is acceptable: printable ASCII but ','. */
static bool
nonce_valid(const unsigned char *p, size_t n)
{
	size_t	i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return false;
	return true;
}

int
sasl_scram_test_nonce(struct sasl *x, const char *nonce)
{
	struct scram	*s;

	if (x == NULL || (x->mech != SASL_SCRAM_SHA1 &&
	    x->mech != SASL_SCRAM_SHA256) || nonce == NULL)
		return -1;
	s = x->state;
	if (s->stage != SCRAM_START ||
	    !nonce_valid((const unsigned char *)nonce, strlen(nonce)))
		return -1;
	free(s->nonce);
	s->nonce = xstrdup(nonce);
	return 0;
}

/* Set up the state: the GS2 header, a random nonce. */
static int
scram_init(struct sasl *x, const EVP_MD *md)
{
	struct scram	*s;
	unsigned char	 rnd[SCRAM_NONCE_BYTES];
	char		*az = NULL;

	if (md == NULL)
		return sasl_fail(x, "%s", _("hash unavailable")), -1;
	if (x->cred.authzid != NULL && *x->cred.authzid != '\0' &&
	    (az = sasl_saslname(x->cred.authzid)) == NULL)
		return sasl_fail(x, "%s",
		    _("control character in the authorization identity")), -1;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		free(az);
		return sasl_fail(x, "%s", _("no random bytes")), -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->md = md;
	s->hlen = (size_t)EVP_MD_size(md);
	s->nonce = auth_b64_encode(rnd, sizeof(rnd));
	s->gs2 = az ? xasprintf("n,a=%s,", az) : xstrdup("n,,");
	free(az);
	x->state = s;
	return 0;
}

static int
scram_sha1_init(struct sasl *x)
{
	return scram_init(x, EVP_sha1());
}

static int
scram_sha256_init(struct sasl *x)
{
	return scram_init(x, EVP_sha256());
}

static void
scram_free(struct sasl *x)
{
	struct scram	*s = x->state;

	if (s == NULL)
		return;
	free(s->nonce);
	free(s->gs2);
	free(s->first_bare);
	xexplicit_bzero(s, sizeof(*s));
	free(s);
	x->state = NULL;
}

/* client-first-message: GS2 header, then "n=USER,r=NONCE". */
static int
scram_initial(struct sasl *x, unsigned char **out, size_t *outlen)
{
	struct scram	*s = x->state;
	char		*u, *msg;

	if (s->stage != SCRAM_START)
		return sasl_fail(x, "%s", _("SCRAM exchange out of order")), -1;
	if ((u = sasl_saslname(x->cred.user)) == NULL)
		return sasl_fail(x, "%s",
		    _("control character in the user name")), -1;
	s->first_bare = xasprintf("n=%s,r=%s", u, s->nonce);
	free(u);
	msg = xasprintf("%s%s", s->gs2, s->first_bare);
	*out = (unsigned char *)msg;
	*outlen = strlen(msg);
	s->stage = SCRAM_FIRST_SENT;
	return 1;
}

/* Split P at the next ',' into *A ("x=value"); false if malformed. */
static bool
next_attr(const unsigned char **p, const unsigned char *end,
    struct scram_attr *a)
{
	const unsigned char	*q = *p, *c;

	if (end - q < 2 || q[1] != '=' ||
	    !((q[0] >= 'a' && q[0] <= 'z') || (q[0] >= 'A' && q[0] <= 'Z')))
		return false;
	c = memchr(q, ',', (size_t)(end - q));
	a->name = (char)q[0];
	a->val = q + 2;
	a->len = (size_t)((c ? c : end) - a->val);
	*p = c ? c + 1 : end;
	return !(c != NULL && *p == end);	/* no trailing ',' */
}

/* Whether N bytes hold a control character or NUL. */
static bool
has_ctl_bytes(const unsigned char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return true;
	return false;
}

/* Fail with the server's e= text, sanitised. */
static enum sasl_rc
server_error(struct sasl *x, const struct scram_attr *a)
{
	char	*t = sasl_sanitise(a->val, a->len, 64);

	sasl_fail(x, _("SCRAM server error: %s"), t);
	free(t);
	return SASL_FAIL;
}

/* The decimal iteration count in 1..scram_max_iter, or 0. */
static unsigned long
parse_iter(const unsigned char *p, size_t n)
{
	unsigned long	v = 0;
	size_t		i;

	if (n == 0 || n > 10 || p[0] == '0')
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	return v <= scram_max_iter ? v : 0;
}

/* The parts of server-first-message that the proof needs. */
struct scram_first {
	struct scram_attr	 r, s;
	unsigned long		 iter;
};

/* Parse server-first-message strictly (RFC 5802 section 7). */
static enum sasl_rc
parse_server_first(struct sasl *x, const unsigned char *in, size_t n,
    struct scram_first *f)
{
	struct scram		*s = x->state;
	const unsigned char	*p = in, *end = in + n;
	struct scram_attr	 a, ext;
	size_t			 nl = strlen(s->nonce);

	if (!next_attr(&p, end, &a))
		return sasl_fail(x, "%s", _("malformed SCRAM challenge"));
	if (a.name == 'e')
		return server_error(x, &a);
	if (has_ctl_bytes(in, n))
		return sasl_fail(x, "%s", _("malformed SCRAM challenge"));
	if (a.name == 'm')
		return sasl_fail(x, "%s",
		    _("SCRAM server requires an unsupported extension"));
	if (a.name != 'r' || a.len <= nl || a.len > SCRAM_MAX_NONCE ||
	    memcmp(a.val, s->nonce, nl) != 0 || !nonce_valid(a.val, a.len))
		return sasl_fail(x, "%s", _("SCRAM server nonce invalid"));
	f->r = a;
	if (p == end || !next_attr(&p, end, &a) || a.name != 's' ||
	    !sasl_b64_valid(a.val, a.len) || a.len > SCRAM_MAX_SALT * 4 / 3 + 4)
		return sasl_fail(x, "%s", _("SCRAM salt invalid"));
	f->s = a;
	if (p == end || !next_attr(&p, end, &a) || a.name != 'i' ||
	    (f->iter = parse_iter(a.val, a.len)) == 0)
		return sasl_fail(x, _("SCRAM iteration count invalid "
		    "(1 to %lu)"), scram_max_iter);
	while (p != end)
		if (!next_attr(&p, end, &ext))
			return sasl_fail(x, "%s",
			    _("malformed SCRAM challenge"));
	return SASL_CONTINUE;
}

/* HMAC with the exchange's hash; OUT gets hlen bytes. */
static bool
scram_hmac(const struct scram *s, const unsigned char *key, size_t klen,
    const void *msg, size_t len, unsigned char *out)
{
	unsigned int	olen = 0;

	return HMAC(s->md, key, (int)klen, msg, len, out, &olen) != NULL &&
	    olen == s->hlen;
}

/* The keys of RFC 5802 section 3 from the salted password: CLIENT_KEY,
 * and the server's signature of AUTH (kept in the state). */
static bool
scram_keys(struct scram *s, const unsigned char *salted, const char *auth,
    unsigned char *proof)
{
	unsigned char	ck[SCRAM_MAX_HASH], sk[SCRAM_MAX_HASH],
			sig[SCRAM_MAX_HASH], svk[SCRAM_MAX_HASH];
	unsigned int	slen = 0;
	size_t		i, alen = strlen(auth);
	bool		good;

	good = scram_hmac(s, salted, s->hlen, "Client Key", 10, ck) &&
	    EVP_Digest(ck, s->hlen, sk, &slen, s->md, NULL) == 1 &&
	    slen == s->hlen &&
	    scram_hmac(s, sk, s->hlen, auth, alen, sig) &&
	    scram_hmac(s, salted, s->hlen, "Server Key", 10, svk) &&
	    scram_hmac(s, svk, s->hlen, auth, alen, s->server_sig);
	for (i = 0; good && i < s->hlen; i++)
		proof[i] = ck[i] ^ sig[i];
	xexplicit_bzero(ck, sizeof(ck));
	xexplicit_bzero(sk, sizeof(sk));
	xexplicit_bzero(sig, sizeof(sig));
	xexplicit_bzero(svk, sizeof(svk));
	return good;
}

/* The proof of client-final-message for the parsed server-first IN. */
static enum sasl_rc
scram_final(struct sasl *x, const unsigned char *in, size_t inlen,
    const struct scram_first *f, unsigned char **out, size_t *outlen)
{
	struct scram	*s = x->state;
	unsigned char	 salted[SCRAM_MAX_HASH], proof[SCRAM_MAX_HASH];
	char		*salt, *cb, *noproof, *auth, *p64, *msg;
	size_t		 saltlen = 0, plen = strlen(x->cred.pass);
	bool		 good;

	salt = auth_b64_decode((const char *)f->s.val, f->s.len, &saltlen);
	if (salt == NULL || saltlen == 0 || saltlen > SCRAM_MAX_SALT ||
	    plen > INT_MAX) {
		free(salt);
		return sasl_fail(x, "%s", _("SCRAM salt invalid"));
	}
	cb = auth_b64_encode(s->gs2, strlen(s->gs2));
	noproof = xasprintf("c=%s,r=%.*s", cb, (int)f->r.len,
	    (const char *)f->r.val);
	auth = xasprintf("%s,%.*s,%s", s->first_bare, (int)inlen,
	    (const char *)in, noproof);
	good = PKCS5_PBKDF2_HMAC(x->cred.pass, (int)plen,
	    (unsigned char *)salt, (int)saltlen, (int)f->iter, s->md,
	    (int)s->hlen, salted) == 1 && scram_keys(s, salted, auth, proof);
	free(salt);
	free(cb);
	free(auth);
	xexplicit_bzero(salted, sizeof(salted));
	if (!good) {
		free(noproof);
		return sasl_fail(x, "%s", _("SCRAM computation failed"));
	}
	p64 = auth_b64_encode(proof, s->hlen);
	xexplicit_bzero(proof, sizeof(proof));
	msg = xasprintf("%s,p=%s", noproof, p64);
	free(noproof);
	free(p64);
	*out = (unsigned char *)msg;
	*outlen = strlen(msg);
	s->stage = SCRAM_FINAL_SENT;
	return SASL_CONTINUE;
}

/* Check server-final-message ("v=" in constant time, or "e="). */
static int
scram_verify(struct sasl *x, const unsigned char *in, size_t n)
{
	struct scram		*s = x->state;
	const unsigned char	*p = in, *end = in + n;
	struct scram_attr	 a, ext;
	char			*v;
	size_t			 vlen = 0;
	bool			 good;

	if (!next_attr(&p, end, &a))
		return sasl_fail(x, "%s", _("malformed SCRAM server final")),
		    -1;
	if (a.name == 'e')
		return server_error(x, &a), -1;
	if (has_ctl_bytes(in, n) || a.name != 'v' || !sasl_b64_valid(a.val, a.len) ||
	    a.len > 4 * SCRAM_MAX_HASH)
		return sasl_fail(x, "%s", _("malformed SCRAM server final")),
		    -1;
	while (p != end)
		if (!next_attr(&p, end, &ext))
			return sasl_fail(x, "%s",
			    _("malformed SCRAM server final")), -1;
	v = auth_b64_decode((const char *)a.val, a.len, &vlen);
	good = v != NULL && vlen == s->hlen &&
	    CRYPTO_memcmp(v, s->server_sig, s->hlen) == 0;
	free(v);
	if (!good)
		return sasl_fail(x, "%s",
		    _("SCRAM server signature does not match")), -1;
	s->stage = SCRAM_VERIFIED;
	return 0;
}

/* server-first gets client-final; server-final as a challenge gets an
 * empty response once verified. */
static enum sasl_rc
scram_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	struct scram		*s = x->state;
	struct scram_first	 f;

	memset(&f, 0, sizeof(f));
	switch (s->stage) {
	case SCRAM_FIRST_SENT:
		if (parse_server_first(x, in, inlen, &f) == SASL_FAIL)
			return SASL_FAIL;
		return scram_final(x, in, inlen, &f, out, outlen);
	case SCRAM_FINAL_SENT:
		if (scram_verify(x, in, inlen) != 0)
			return SASL_FAIL;
		sasl_out(out, outlen, "", 0);
		return SASL_DONE;
	default:
		return sasl_fail(x, "%s", _("unexpected server challenge"));
	}
}

/* Success: 0 only once v= was verified, here or in a challenge. */
static int
scram_success(struct sasl *x, const unsigned char *in, size_t inlen)
{
	struct scram	*s = x->state;

	if (inlen > 0 && (s->stage == SCRAM_FINAL_SENT ||
	    s->stage == SCRAM_VERIFIED))
		return scram_verify(x, in, inlen);
	if (s->stage == SCRAM_VERIFIED)
		return 0;
	return sasl_fail(x, "%s",
	    _("server reported success without SCRAM verification")), -1;
}

const struct sasl_ops sasl_scram_sha1_ops = {
	scram_sha1_init, scram_initial, scram_step, scram_success, scram_free
};
const struct sasl_ops sasl_scram_sha256_ops = {
	scram_sha256_init, scram_initial, scram_step, scram_success,
	scram_free
};
