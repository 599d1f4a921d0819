/*
 * sasl.c: the SASL dispatcher behind sasl.h (mechanism names, the
 * exchange object, its checks of every call) and the simple mechanisms:
 * PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195), EXTERNAL (RFC 4422
 * appendix A), OAUTHBEARER (RFC 7628) and XOAUTH2.  SCRAM, NTLM, OTP,
 * GSSAPI and RPA live in their own files.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "i18n.h"
#include "sasl_priv.h"
#include "xmalloc.h"

/* The longest decoded challenge any mechanism accepts. */
#define SASL_MAX_CHALLENGE	65536
/* The longest server text quoted in an error. */
#define SASL_MAX_QUOTE		64

static const char *const mech_names[SASL_NMECHS] = {
	[SASL_PLAIN] = "PLAIN",
	[SASL_LOGIN] = "LOGIN",
	[SASL_CRAM_MD5] = "CRAM-MD5",
	[SASL_SCRAM_SHA1] = "SCRAM-SHA-1",
	[SASL_SCRAM_SHA256] = "SCRAM-SHA-256",
	[SASL_OTP] = "OTP",
	[SASL_NTLM] = "NTLM",
	[SASL_GSSAPI] = "GSSAPI",
	[SASL_EXTERNAL] = "EXTERNAL",
	[SASL_OAUTHBEARER] = "OAUTHBEARER",
	[SASL_XOAUTH2] = "XOAUTH2",
	[SASL_RPA] = "RPA",
};

/* ---- shared helpers ---- */

void
sasl_out(unsigned char **out, size_t *outlen, const void *p, size_t len)
{
	unsigned char	*b = xmalloc(len + 1);

	if (len > 0)
		memcpy(b, p, len);
	b[len] = '\0';
	*out = b;
	*outlen = len;
}

void
sasl_wipe_str(char *s)
{
	if (s == NULL)
		return;
	xexplicit_bzero(s, strlen(s));
	free(s);
}

char *
sasl_sanitise(const unsigned char *p, size_t len, size_t max)
{
	size_t	 n = len < max ? len : max, i;
	char	*s = xmalloc(n + 4);

	for (i = 0; i < n; i++)
		s[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	if (len > max)
		memcpy(s + n, "...", 3), n += 3;
	s[n] = '\0';
	return s;
}

char *
sasl_saslname(const char *s)
{
	size_t	 n = 0, i;
	char	*out;

	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return NULL;
		n += (c == ',' || c == '=') ? 3 : 1;
	}
	out = xmalloc(n + 1);
	for (n = 0, i = 0; s[i] != '\0'; i++) {
		if (s[i] == ',')
			memcpy(out + n, "=2C", 3), n += 3;
		else if (s[i] == '=')
			memcpy(out + n, "=3D", 3), n += 3;
		else
			out[n++] = s[i];
	}
	out[n] = '\0';
	return out;
}

/* Whether C belongs to the base64 alphabet (without '='). */
static bool
b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

bool
sasl_b64_valid(const unsigned char *p, size_t len)
{
	size_t	i, pad = 0;

	if (len == 0 || len % 4 != 0)
		return false;
	if (p[len - 1] == '=')
		pad++;
	if (p[len - 2] == '=')
		pad++;
	for (i = 0; i < len - pad; i++)
		if (!b64_char(p[i]))
			return false;
	return true;
}

enum sasl_rc
sasl_fail(struct sasl *x, const char *fmt, ...)
{
	va_list	ap;

	if (x->error == NULL) {
		va_start(ap, fmt);
		x->error = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return SASL_FAIL;
}

/* Whether S holds a control character (framing would break). */
static bool
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* ---- simple mechanisms ---- */

/* How far a simple exchange got: steps answered so far. */
struct simple {
	unsigned	 steps;
	bool		 initial_sent;
};

static int
simple_init(struct sasl *x)
{
	x->state = xcalloc(1, sizeof(struct simple));
	return 0;
}

static void
simple_free(struct sasl *x)
{
	free(x->state);
	x->state = NULL;
}

/* PLAIN: "authzid NUL user NUL pass" as the initial response. */
static int
plain_initial(struct sasl *x, unsigned char **out, size_t *outlen)
{
	const char	*az = x->cred.authzid ? x->cred.authzid : "";
	size_t		 a = strlen(az), u = strlen(x->cred.user),
			 p = strlen(x->cred.pass);
	unsigned char	*b = xmalloc(a + u + p + 3);

	memcpy(b, az, a);
	b[a] = '\0';
	memcpy(b + a + 1, x->cred.user, u);
	b[a + 1 + u] = '\0';
	memcpy(b + a + u + 2, x->cred.pass, p);
	b[a + u + p + 2] = '\0';
	*out = b;
	*outlen = a + u + p + 2;
	((struct simple *)x->state)->initial_sent = true;
	return 1;
}

/* A mechanism whose only message is its initial response: an empty
 * challenge before it was sent asks for it; anything else fails. */
static enum sasl_rc
initial_only_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	struct simple	*s = x->state;

	(void)in;
	if (inlen != 0 || s->initial_sent || s->steps++ > 0)
		return sasl_fail(x, "%s", _("unexpected server challenge"));
	if (x->ops->initial(x, out, outlen) < 0)
		return SASL_FAIL;
	return SASL_DONE;
}

/* LOGIN: the first challenge gets the user, the second the password. */
static enum sasl_rc
login_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	struct simple	*s = x->state;
	const char	*v;

	(void)in;
	(void)inlen;
	switch (s->steps++) {
	case 0:
		v = x->cred.user;
		sasl_out(out, outlen, v, strlen(v));
		return SASL_CONTINUE;
	case 1:
		v = x->cred.pass;
		sasl_out(out, outlen, v, strlen(v));
		return SASL_DONE;
	default:
		return sasl_fail(x, "%s", _("unexpected server challenge"));
	}
}

/* CRAM-MD5: the one non-empty challenge gets "user hexdigest". */
static enum sasl_rc
cram_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	struct simple	*s = x->state;
	char		*r;

	if (s->steps++ > 0)
		return sasl_fail(x, "%s", _("unexpected server challenge"));
	if (inlen == 0)
		return sasl_fail(x, "%s", _("empty CRAM-MD5 challenge"));
	r = auth_cram_md5(x->cred.user, x->cred.pass, (const char *)in,
	    inlen);
	*out = (unsigned char *)r;
	*outlen = strlen(r);
	return SASL_DONE;
}

/* EXTERNAL: the authorization identity, or nothing. */
static int
external_initial(struct sasl *x, unsigned char **out, size_t *outlen)
{
	const char	*az = x->cred.authzid ? x->cred.authzid : "";

	sasl_out(out, outlen, az, strlen(az));
	((struct simple *)x->state)->initial_sent = true;
	return 1;
}

/* OAuth: user, token and host must not break the \x01 framing. */
static int
oauth_init(struct sasl *x)
{
	if (has_ctl(x->cred.user) || has_ctl(x->cred.pass) ||
	    (x->cred.host != NULL && has_ctl(x->cred.host)))
		return sasl_fail(x, "%s",
		    _("control character in user, token or host")), -1;
	return simple_init(x);
}

/* OAUTHBEARER's GS2 header, host, port and bearer token (RFC 7628 3.1). */
static int
oauthbearer_initial(struct sasl *x, unsigned char **out, size_t *outlen)
{
	char	*a = sasl_saslname(x->cred.user), *host, *port, *r;

	if (a == NULL)
		return sasl_fail(x, "%s", _("invalid user name")), -1;
	host = x->cred.host && *x->cred.host ?
	    xasprintf("host=%s\001", x->cred.host) : xstrdup("");
	port = x->cred.port ? xasprintf("port=%u\001", x->cred.port) :
	    xstrdup("");
	r = xasprintf("n,a=%s,\001%s%sauth=Bearer %s\001\001", a, host, port,
	    x->cred.pass);
	free(a);
	free(host);
	free(port);
	*out = (unsigned char *)r;
	*outlen = strlen(r);
	((struct simple *)x->state)->initial_sent = true;
	return 1;
}

/* XOAUTH2: "user=USER\x01auth=Bearer TOKEN\x01\x01". */
static int
xoauth2_initial(struct sasl *x, unsigned char **out, size_t *outlen)
{
	char	*r = xasprintf("user=%s\001auth=Bearer %s\001\001",
		    x->cred.user, x->cred.pass);

	*out = (unsigned char *)r;
	*outlen = strlen(r);
	((struct simple *)x->state)->initial_sent = true;
	return 1;
}

/* The first occurrence of KEY (KLEN bytes) in P, or NULL. */
static const unsigned char *
find_bytes(const unsigned char *p, size_t n, const char *key, size_t klen)
{
	size_t	i;

	for (i = 0; klen <= n && i <= n - klen; i++)
		if (memcmp(p + i, key, klen) == 0)
			return p + i;
	return NULL;
}

/* The value of "status" in an OAuth error JSON (a bounded scan, no
 * parser), sanitised; NULL if absent. */
static char *
json_status(const unsigned char *p, size_t n)
{
	const unsigned char	*k = find_bytes(p, n, "\"status\"", 8), *end;
	const unsigned char	*v;
	size_t			 len = 0;
	bool			 quoted;

	if (k == NULL)
		return NULL;
	end = p + n;
	for (k += 8; k < end && (*k == ' ' || *k == '\t' || *k == '\r' ||
	    *k == '\n'); k++)
		;
	if (k == end || *k++ != ':')
		return NULL;
	while (k < end && (*k == ' ' || *k == '\t' || *k == '\r' ||
	    *k == '\n'))
		k++;
	if ((quoted = (k < end && *k == '"')))
		k++;
	for (v = k; v + len < end && len < 32; len++) {
		unsigned char c = v[len];

		if (quoted ? (c == '"' || c == '\\' || c < 0x20) :
		    !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || c == '_' || c == '-' ||
		    c == '.'))
			break;
	}
	if (len == 0)
		return NULL;
	return sasl_sanitise(v, len, 32);
}

/* Record the status of an OAuth error challenge (the exchange goes on
 * only to let the server say no). */
static void
oauth_error(struct sasl *x, const unsigned char *in, size_t inlen)
{
	char	*st = json_status(in, inlen);

	if (st != NULL)
		sasl_fail(x, _("server rejected the OAuth token (status %s)"),
		    st);
	else
		sasl_fail(x, "%s", _("server rejected the OAuth token"));
	free(st);
}

/* An OAuth challenge: before the initial response was sent, an empty
 * one asks for it; after, it is the server's error report, recorded,
 * and answered with REPLY so that the server can end the exchange. */
static enum sasl_rc
oauth_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen, const char *reply)
{
	struct simple	*s = x->state;

	if (!s->initial_sent && inlen == 0) {
		if (x->ops->initial(x, out, outlen) < 0)
			return SASL_FAIL;
		return SASL_CONTINUE;
	}
	if (!s->initial_sent || s->steps++ > 0)
		return sasl_fail(x, "%s", _("unexpected server challenge"));
	oauth_error(x, in, inlen);
	sasl_out(out, outlen, reply, strlen(reply));
	return SASL_DONE;
}

/* OAUTHBEARER: the answer to an error report is "\x01" (RFC 7628
 * 3.2.3). */
static enum sasl_rc
oauthbearer_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	return oauth_step(x, in, inlen, out, outlen, "\001");
}

/* XOAUTH2: the answer to an error report is empty. */
static enum sasl_rc
xoauth2_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	return oauth_step(x, in, inlen, out, outlen, "");
}

static const struct sasl_ops plain_ops = {
	simple_init, plain_initial, initial_only_step, NULL, simple_free
};
static const struct sasl_ops login_ops = {
	simple_init, NULL, login_step, NULL, simple_free
};
static const struct sasl_ops cram_ops = {
	simple_init, NULL, cram_step, NULL, simple_free
};
static const struct sasl_ops external_ops = {
	simple_init, external_initial, initial_only_step, NULL, simple_free
};
static const struct sasl_ops oauthbearer_ops = {
	oauth_init, oauthbearer_initial, oauthbearer_step, NULL, simple_free
};
static const struct sasl_ops xoauth2_ops = {
	oauth_init, xoauth2_initial, xoauth2_step, NULL, simple_free
};

/* ---- the dispatcher ---- */

static const struct sasl_ops *
mech_ops(enum sasl_mech m)
{
	switch (m) {
	case SASL_PLAIN:	return &plain_ops;
	case SASL_LOGIN:	return &login_ops;
	case SASL_CRAM_MD5:	return &cram_ops;
	case SASL_SCRAM_SHA1:	return &sasl_scram_sha1_ops;
	case SASL_SCRAM_SHA256:	return &sasl_scram_sha256_ops;
	case SASL_OTP:		return &sasl_otp_ops;
	case SASL_NTLM:		return &sasl_ntlm_ops;
	case SASL_GSSAPI:	return &sasl_gssapi_ops;
	case SASL_EXTERNAL:	return &external_ops;
	case SASL_OAUTHBEARER:	return &oauthbearer_ops;
	case SASL_XOAUTH2:	return &xoauth2_ops;
	case SASL_RPA:		return &sasl_rpa_ops;
	default:		return NULL;
	}
}

const char *
sasl_mech_name(enum sasl_mech m)
{
	return (unsigned)m < SASL_NMECHS ? mech_names[m] : NULL;
}

int
sasl_mech_by_name(const char *name)
{
	int	i;

	if (name == NULL)
		return -1;
	for (i = 0; i < SASL_NMECHS; i++)
		if (strcasecmp(name, mech_names[i]) == 0)
			return i;
	return -1;
}

bool
sasl_mech_available(enum sasl_mech m)
{
	if ((unsigned)m >= SASL_NMECHS)
		return false;
	if (m == SASL_GSSAPI)
		return sasl_gssapi_built();
	return m == SASL_RPA ? sasl_rpa_built() : true;
}

bool
sasl_mech_masks_password(enum sasl_mech m)
{
	switch (m) {
	case SASL_CRAM_MD5: case SASL_SCRAM_SHA1: case SASL_SCRAM_SHA256:
	case SASL_OTP: case SASL_NTLM: case SASL_GSSAPI: case SASL_EXTERNAL:
	case SASL_RPA:
		return true;
	default:
		return false;
	}
}

/* Why CRED cannot work with mechanism M (static text), or NULL. */
static const char *
cred_missing(enum sasl_mech m, const struct sasl_cred *c)
{
	bool	oauth = m == SASL_OAUTHBEARER || m == SASL_XOAUTH2;

	if (m == SASL_GSSAPI || m == SASL_EXTERNAL)
		return NULL;
	if (c->user == NULL || *c->user == '\0')
		return _("no user name for SASL authentication");
	if (c->pass == NULL || (oauth && *c->pass == '\0'))
		return oauth ? _("no OAuth access token") :
		    _("no password for SASL authentication");
	return NULL;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct sasl *
sasl_new(enum sasl_mech m, const struct sasl_cred *c, const char **err)
{
	/* A failed init's reason, kept for *err (single-threaded). */
	static char	 initerr[160];
	struct sasl	*x;
	const char	*why;

	if ((unsigned)m >= SASL_NMECHS || c == NULL) {
		*err = _("unknown SASL mechanism");
		return NULL;
	}
	if ((why = cred_missing(m, c)) != NULL) {
		*err = why;
		return NULL;
	}
	x = xcalloc(1, sizeof(*x));
	x->mech = m;
	x->ops = mech_ops(m);
	x->cred.user = dup_or_null(c->user);
	x->cred.pass = dup_or_null(c->pass);
	x->cred.authzid = dup_or_null(c->authzid);
	x->cred.host = dup_or_null(c->host);
	x->cred.port = c->port;
	x->cred.service = dup_or_null(c->service);
	x->cred.principal = dup_or_null(c->principal);
	if (x->ops->init != NULL && x->ops->init(x) != 0) {
		snprintf(initerr, sizeof(initerr), "%s",
		    x->error ? x->error : _("SASL mechanism setup failed"));
		*err = initerr;
		sasl_free(x);
		return NULL;
	}
	return x;
}

/* Drop a response that will not be sent. */
static void
drop_out(unsigned char **out, size_t *outlen)
{
	if (*out != NULL) {
		xexplicit_bzero(*out, *outlen);
		free(*out);
	}
	*out = NULL;
	*outlen = 0;
}

int
sasl_initial(struct sasl *x, unsigned char **out, size_t *outlen)
{
	int	rc;

	if (out == NULL || outlen == NULL)
		return -1;
	*out = NULL;
	*outlen = 0;
	if (x == NULL || x->error != NULL)
		return -1;
	if (x->ops->initial == NULL)
		return 0;
	rc = x->ops->initial(x, out, outlen);
	if (rc <= 0) {
		drop_out(out, outlen);
		if (rc < 0 && x->error == NULL)
			sasl_fail(x, "%s", _("SASL initial response failed"));
		return rc < 0 ? -1 : 0;
	}
	if (*out == NULL)
		sasl_out(out, outlen, "", 0);
	return 1;
}

enum sasl_rc
sasl_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	enum sasl_rc	rc;

	if (out == NULL || outlen == NULL)
		return SASL_FAIL;
	*out = NULL;
	*outlen = 0;
	if (x == NULL || x->error != NULL)
		return SASL_FAIL;
	if (in == NULL && inlen != 0)
		return sasl_fail(x, "%s", _("missing SASL challenge"));
	if (inlen > SASL_MAX_CHALLENGE)
		return sasl_fail(x, "%s", _("SASL challenge too long"));
	if (x->ops->step == NULL)
		return sasl_fail(x, "%s", _("unexpected server challenge"));
	rc = x->ops->step(x, in != NULL ? in : (const unsigned char *)"",
	    inlen, out, outlen);
	if (rc != SASL_CONTINUE && rc != SASL_DONE) {
		drop_out(out, outlen);
		if (x->error == NULL)
			sasl_fail(x, "%s", _("SASL exchange failed"));
		return SASL_FAIL;
	}
	if (*out == NULL)
		sasl_out(out, outlen, "", 0);
	return rc;
}

int
sasl_success(struct sasl *x, const unsigned char *in, size_t inlen)
{
	if (x == NULL || x->error != NULL)
		return -1;
	if (in == NULL && inlen != 0)
		return sasl_fail(x, "%s", _("missing SASL data")), -1;
	if (inlen > SASL_MAX_CHALLENGE)
		return sasl_fail(x, "%s", _("SASL data too long")), -1;
	if (x->ops->success == NULL)
		return 0;
	if (x->ops->success(x, in != NULL ? in : (const unsigned char *)"",
	    inlen) != 0) {
		if (x->error == NULL)
			sasl_fail(x, "%s", _("server not verified"));
		return -1;
	}
	return 0;
}

const char *
sasl_error(const struct sasl *x)
{
	if (x == NULL)
		return _("no SASL exchange");
	return x->error != NULL ? x->error : "";
}

void
sasl_free(struct sasl *x)
{
	if (x == NULL)
		return;
	if (x->ops != NULL && x->ops->free != NULL)
		x->ops->free(x);
	sasl_wipe_str((char *)x->cred.pass);
	free((char *)x->cred.user);
	free((char *)x->cred.authzid);
	free((char *)x->cred.host);
	free((char *)x->cred.service);
	free((char *)x->cred.principal);
	free(x->error);
	xexplicit_bzero(x, sizeof(*x));
	free(x);
}
