/*
 * tls.c: OpenSSL client sessions for conn.c.  The only file that
 * includes <openssl/ssl.h>.
 *
 * Policy (fetchmail 6.4 options, 2026 defaults):
 *  - protocol floor TLS 1.2 unless sslproto explicitly asks for older;
 *  - trust anchors: sslcertfile/sslcertpath if given, otherwise the
 *    system store (OpenSSL honours SSL_CERT_FILE/SSL_CERT_DIR); both
 *    when FETCHMAIL_INCLUDE_DEFAULT_X509_CA_CERTS is non-empty;
 *  - the expected name is checked by OpenSSL (SAN, CN only without SAN,
 *    wildcards only as a whole left-most label, embedded NULs refused)
 *    and sent as SNI; IP literals are matched against IP SANs;
 *  - verify on: any chain or name error aborts the handshake with the
 *    first error found; verify off: the error is kept as a warning;
 *  - sslfingerprint (MD5 as the reference prints it, or SHA-256) must
 *    match the peer certificate whatever verify says.  As in the
 *    reference, a matching pin does not excuse chain errors while
 *    verify is on; "no sslcertck" plus a pin is the way to trust a
 *    self-signed certificate.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "i18n.h"
#include "tls.h"
#include "xmalloc.h"

struct tls {
	SSL		*ssl;
	int		 verify;
	int		 done;		/* handshake completed */
	int		 fatal;		/* no close_notify after this */
	char		*host;
	char		*pin;		/* normalized fingerprint or NULL */
	char		*error;
	int		 verr;		/* first verification error */
	int		 vdepth;
	char		*vsubject;
	char		*vcn;		/* its common name */
	struct tls_info	 info;
};

struct tls_proto {
	const char	*name;
	int		 min, max;	/* 0 = no upper limit */
};

static const struct tls_proto tls_protos[] = {
	{ "auto",	TLS1_2_VERSION,	0 },
	{ "ssl23",	TLS1_2_VERSION,	0 },
	{ "ssl3",	SSL3_VERSION,	SSL3_VERSION },
	{ "ssl3+",	SSL3_VERSION,	0 },
	{ "tls1",	TLS1_VERSION,	TLS1_VERSION },
	{ "tls1+",	TLS1_VERSION,	0 },
	{ "tls1.1",	TLS1_1_VERSION,	TLS1_1_VERSION },
	{ "tls1.1+",	TLS1_1_VERSION,	0 },
	{ "tls1.2",	TLS1_2_VERSION,	TLS1_2_VERSION },
	{ "tls1.2+",	TLS1_2_VERSION,	0 },
	{ "tls1.3",	TLS1_3_VERSION,	TLS1_3_VERSION },
	{ "tls1.3+",	TLS1_3_VERSION,	0 },
};

static const struct tls_proto *tls_proto_find(const char *);
static SSL_CTX	*tls_ctx_create(const struct tls_opts *, char **);
static int	 tls_ctx_trust(SSL_CTX *, const struct tls_opts *, char **);
static int	 tls_ctx_client_cert(SSL_CTX *, const struct tls_opts *,
		    char **);
static int	 tls_set_host(struct tls *, const char *, char **);
static int	 tls_verify_cb(int, X509_STORE_CTX *);
static char	*tls_ossl_error(const char *);
static char	*tls_fail_reason(struct tls *, int, int);
static char	*tls_verify_reason(const struct tls *, long);
static char	*tls_cn(X509_NAME *);
static int	 tls_check_peer(struct tls *, char **);
static int	 tls_pin_match(struct tls *, char **);
static int	 tls_fill_info(struct tls *, X509 *);
static char	*tls_dn(X509_NAME *);
static char	*tls_digest(const X509 *, const EVP_MD *);
static char	*tls_pin_norm(const char *);
static int	 tls_io_result(struct tls *, int, const char *);

void
tls_opts_init(struct tls_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->verify = 1;
}

/* Table entry for an sslproto name, or NULL if unknown. */
static const struct tls_proto *
tls_proto_find(const char *name)
{
	size_t	 i;

	if (name == NULL || *name == '\0')
		return &tls_protos[0];
	for (i = 0; i < sizeof(tls_protos) / sizeof(tls_protos[0]); i++)
		if (strcasecmp(name, tls_protos[i].name) == 0)
			return &tls_protos[i];
	return NULL;
}

int
tls_proto_known(const char *name)
{
	return tls_proto_find(name) != NULL;
}

/* ---------------------------------------------------------------- */
/* context setup                                                    */

/* A client context with protocol limits, trust anchors, client cert. */
static SSL_CTX *
tls_ctx_create(const struct tls_opts *o, char **cause)
{
	const struct tls_proto	*p;
	SSL_CTX			*ctx;

	if ((p = tls_proto_find(o->proto)) == NULL)
		p = &tls_protos[0];	/* the reference falls back to auto */
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		*cause = tls_ossl_error(_("cannot create TLS context"));
		return NULL;
	}
	/* Old protocols need SHA-1 signatures: only on explicit request. */
	if (p->min < TLS1_2_VERSION)
		SSL_CTX_set_security_level(ctx, 0);
	if (!SSL_CTX_set_min_proto_version(ctx, p->min) ||
	    !SSL_CTX_set_max_proto_version(ctx, p->max)) {
		*cause = tls_ossl_error(_("TLS protocol version not "
		    "supported"));
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* Mail servers often close without close_notify; protocols frame
	 * their own data, so a plain close is an ordinary EOF. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (tls_ctx_trust(ctx, o, cause) == -1 ||
	    tls_ctx_client_cert(ctx, o, cause) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Load trust anchors; 0 or -1 and *cause. */
static int
tls_ctx_trust(SSL_CTX *ctx, const struct tls_opts *o, char **cause)
{
	const char	*env;
	char		*where;

	if (o->cafile == NULL && o->capath == NULL) {
		if (!SSL_CTX_set_default_verify_paths(ctx)) {
			*cause = tls_ossl_error(_("cannot load the system "
			    "trust store"));
			return -1;
		}
		return 0;
	}
	if (!SSL_CTX_load_verify_locations(ctx, o->cafile, o->capath)) {
		where = xasprintf(_("cannot load trust anchors from %s"),
		    o->cafile != NULL ? o->cafile : o->capath);
		*cause = tls_ossl_error(where);
		free(where);
		return -1;
	}
	env = getenv("FETCHMAIL_INCLUDE_DEFAULT_X509_CA_CERTS");
	if (env != NULL && *env != '\0' &&
	    !SSL_CTX_set_default_verify_paths(ctx)) {
		*cause = tls_ossl_error(_("cannot load the system trust "
		    "store"));
		return -1;
	}
	return 0;
}

/* Load sslcert/sslkey if given; 0 or -1 and *cause. */
static int
tls_ctx_client_cert(SSL_CTX *ctx, const struct tls_opts *o, char **cause)
{
	const char	*key;
	char		*where;

	if (o->cert == NULL && o->key == NULL)
		return 0;
	if (o->cert == NULL) {
		*cause = xstrdup(_("sslkey given without sslcert"));
		return -1;
	}
	key = o->key != NULL ? o->key : o->cert;
	/* XXX an encrypted key makes OpenSSL prompt on the terminal. */
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1)
		where = xasprintf(_("cannot load sslcert %s"), o->cert);
	else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		where = xasprintf(_("cannot load sslkey %s"), key);
	else if (SSL_CTX_check_private_key(ctx) != 1)
		where = xasprintf(_("sslkey %s does not match sslcert %s"),
		    key, o->cert);
	else
		return 0;
	*cause = tls_ossl_error(where);
	free(where);
	return -1;
}

/* ---------------------------------------------------------------- */
/* session                                                          */

struct tls *
tls_create(int rfd, int wfd, const struct tls_opts *o, const char *host,
    char **cause)
{
	struct tls	*t;
	SSL_CTX		*ctx;

	ERR_clear_error();
	if ((ctx = tls_ctx_create(o, cause)) == NULL)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	t->verify = o->verify;
	t->ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);	/* the SSL keeps its own reference */
	if (t->ssl == NULL) {
		*cause = tls_ossl_error(_("cannot create TLS session"));
		goto fail;
	}
	if (o->fingerprint != NULL &&
	    (t->pin = tls_pin_norm(o->fingerprint)) == NULL) {
		*cause = xasprintf(_("malformed sslfingerprint \"%s\" (want "
		    "MD5 or SHA-256 hex, e.g. AA:BB:...)"), o->fingerprint);
		goto fail;
	}
	if (!SSL_set_rfd(t->ssl, rfd) || !SSL_set_wfd(t->ssl, wfd)) {
		*cause = tls_ossl_error(_("cannot attach TLS to the socket"));
		goto fail;
	}
	if (tls_set_host(t, host, cause) == -1)
		goto fail;
	SSL_set_app_data(t->ssl, t);
	SSL_set_verify(t->ssl, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
	    tls_verify_cb);
	SSL_set_connect_state(t->ssl);
	return t;
fail:
	t->fatal = 1;
	tls_free(t);
	return NULL;
}

/* Expected peer name: verification target and SNI; 0 or -1. */
static int
tls_set_host(struct tls *t, const char *host, char **cause)
{
	X509_VERIFY_PARAM	*vp = SSL_get0_param(t->ssl);
	unsigned char		 ip[16];
	size_t			 len;

	if (host == NULL || *host == '\0') {
		if (!t->verify)
			return 0;
		*cause = xstrdup(_("no host name to check the server "
		    "certificate against"));
		return -1;
	}
	t->host = xstrdup(host);
	len = strlen(t->host);
	if (len > 1 && t->host[len - 1] == '.')
		t->host[len - 1] = '\0';
	if (inet_pton(AF_INET, t->host, ip) == 1 ||
	    inet_pton(AF_INET6, t->host, ip) == 1) {
		/* No SNI for address literals (RFC 6066). */
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, t->host) == 1)
			return 0;
	} else {
		X509_VERIFY_PARAM_set_hostflags(vp,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set_tlsext_host_name(t->ssl, t->host) == 1 &&
		    SSL_set1_host(t->ssl, t->host) == 1)
			return 0;
	}
	*cause = tls_ossl_error(_("cannot set the expected host name"));
	return -1;
}

/* Remember the first verification failure; leave the verdict alone. */
static int
tls_verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL		*ssl;
	struct tls	*t;
	X509		*cert;

	ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	if (ok || ssl == NULL || (t = SSL_get_app_data(ssl)) == NULL ||
	    t->verr != 0)
		return ok;
	t->verr = X509_STORE_CTX_get_error(xs);
	t->vdepth = X509_STORE_CTX_get_error_depth(xs);
	if ((cert = X509_STORE_CTX_get_current_cert(xs)) != NULL) {
		t->vsubject = tls_dn(X509_get_subject_name(cert));
		t->vcn = tls_cn(X509_get_subject_name(cert));
	}
	return ok;
}

int
tls_handshake(struct tls *t, char **cause)
{
	int	 r, e;

	ERR_clear_error();
	errno = 0;
	r = SSL_connect(t->ssl);
	if (r == 1) {
		t->done = 1;
		if (tls_check_peer(t, cause) == -1) {
			t->fatal = 1;
			return -1;
		}
		return 1;
	}
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return TLS_WANT_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return TLS_WANT_WRITE;
	t->fatal = 1;
	*cause = tls_fail_reason(t, r, e);
	return -1;
}

/* Text for a failed handshake; caller frees. */
static char *
tls_fail_reason(struct tls *t, int r, int e)
{
	long	 vr;
	char	*s, *why;

	vr = SSL_get_verify_result(t->ssl);
	if (t->verify && (t->verr != 0 || vr != X509_V_OK)) {
		ERR_clear_error();
		return tls_verify_reason(t, t->verr != 0 ? t->verr : vr);
	}
	if ((e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) &&
	    ERR_peek_error() == 0) {
		if (r == 0 || errno == 0)
			return xstrdup(_("TLS handshake: connection closed "
			    "by the server"));
		return xasprintf(_("TLS handshake: %s"), strerror(errno));
	}
	why = tls_ossl_error(NULL);
	s = xasprintf(_("TLS handshake failed: %s"), why);
	free(why);
	return s;
}

/* Explain verification error code v in the reference's words (one or
 * two lines); caller frees. */
static char *
tls_verify_reason(const struct tls *t, long v)
{
	if (v == X509_V_ERR_HOSTNAME_MISMATCH ||
	    v == X509_V_ERR_IP_ADDRESS_MISMATCH)
		return xasprintf(_("Server CommonName mismatch: %s != %s\n"
		    "Server certificate verification error: %s"),
		    t->vcn != NULL ? t->vcn : "?",
		    t->host != NULL ? t->host : "",
		    X509_verify_cert_error_string(v));
	return xasprintf(_("Server certificate verification error: %s"),
	    X509_verify_cert_error_string(v));
}

/* The first common name of a DN, printable; NULL if none. */
static char *
tls_cn(X509_NAME *name)
{
	int		 i;
	X509_NAME_ENTRY	*e;
	ASN1_STRING	*d;
	unsigned char	*u = NULL;
	char		*r;
	int		 n, k;

	if (name == NULL ||
	    (i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0 ||
	    (e = X509_NAME_get_entry(name, i)) == NULL ||
	    (d = X509_NAME_ENTRY_get_data(e)) == NULL ||
	    (n = ASN1_STRING_to_UTF8(&u, d)) < 0)
		return NULL;
	r = xmalloc((size_t)n + 1);
	for (k = 0; k < n; k++)
		r[k] = u[k] < 0x20 || u[k] == 0x7f ? '?' : (char)u[k];
	r[n] = '\0';
	OPENSSL_free(u);
	return r;
}

/* After the handshake: collect info, check the pin, note warnings. */
static int
tls_check_peer(struct tls *t, char **cause)
{
	X509	*cert;
	long	 vr;
	int	 rv = 0;

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	cert = SSL_get1_peer_certificate(t->ssl);
#else
	cert = SSL_get_peer_certificate(t->ssl);
#endif
	if (cert == NULL) {
		if (!t->verify && t->pin == NULL)
			return 0;
		*cause = xstrdup(_("the server sent no certificate"));
		return -1;
	}
	if (tls_fill_info(t, cert) == -1) {
		*cause = tls_ossl_error(_("cannot read the server "
		    "certificate"));
		rv = -1;
	} else if (t->pin != NULL) {
		rv = tls_pin_match(t, cause);
	}
	X509_free(cert);
	vr = SSL_get_verify_result(t->ssl);
	if (rv == 0 && vr != X509_V_OK) {
		if (t->verify) {	/* cannot happen with VERIFY_PEER */
			*cause = tls_verify_reason(t, t->verr ? t->verr : vr);
			return -1;
		}
		t->info.warning = tls_verify_reason(t, t->verr ? t->verr :
		    vr);
	}
	return rv;
}

/* Compare the pin with the MD5 or SHA-256 fingerprint; 0 or -1. */
static int
tls_pin_match(struct tls *t, char **cause)
{
	const char	*fp, *kind;
	char		*got;

	if (strlen(t->pin) == 32) {
		fp = t->info.md5;
		kind = "MD5";
	} else {
		fp = t->info.sha256;
		kind = "SHA-256";
	}
	got = tls_pin_norm(fp);
	if (got != NULL && strcmp(got, t->pin) == 0) {
		t->info.fp_matched = 1;
		free(got);
		return 0;
	}
	free(got);
	(void)kind;
	*cause = xasprintf(_("%s fingerprints do not match!"),
	    t->host != NULL ? t->host : "");
	return -1;
}

/* Record subject, issuer, fingerprints and cipher; 0 or -1. */
static int
tls_fill_info(struct tls *t, X509 *cert)
{
	struct tls_info		*in = &t->info;
	const SSL_CIPHER	*ci;

	in->subject = tls_dn(X509_get_subject_name(cert));
	in->issuer = tls_dn(X509_get_issuer_name(cert));
	in->md5 = tls_digest(cert, EVP_md5());
	in->sha256 = tls_digest(cert, EVP_sha256());
	in->version = xstrdup(SSL_get_version(t->ssl));
	ci = SSL_get_current_cipher(t->ssl);
	in->cipher = xstrdup(ci != NULL ? SSL_CIPHER_get_name(ci) : "?");
	in->bits = ci != NULL ? SSL_CIPHER_get_bits(ci, NULL) : 0;
	if (in->md5 == NULL || in->sha256 == NULL)
		return -1;
	in->summary = xasprintf(_("subject %s, issuer %s, SHA-256 "
	    "fingerprint %s"), in->subject, in->issuer, in->sha256);
	return 0;
}

/* RFC 2253 text of a name, control and non-ASCII bytes escaped. */
static char *
tls_dn(X509_NAME *name)
{
	BIO	*b;
	char	*p, *s;
	long	 n;
	long	 i;

	if (name == NULL || (b = BIO_new(BIO_s_mem())) == NULL)
		return xstrdup("?");
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0 ||
	    (n = BIO_get_mem_data(b, &p)) < 0) {
		BIO_free(b);
		return xstrdup("?");
	}
	s = xmalloc((size_t)n + 1);
	for (i = 0; i < n; i++)
		s[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
	s[n] = '\0';
	BIO_free(b);
	return s;
}

/* "AA:BB:..." digest of the DER certificate, or NULL. */
static char *
tls_digest(const X509 *cert, const EVP_MD *md)
{
	unsigned char	 d[EVP_MAX_MD_SIZE];
	unsigned int	 n, i;
	char		*s;

	if (md == NULL || X509_digest(cert, md, d, &n) != 1 || n == 0)
		return NULL;
	s = xmalloc((size_t)n * 3);
	for (i = 0; i < n; i++)
		snprintf(s + i * 3, 4, "%02X%s", d[i], i + 1 < n ? ":" : "");
	return s;
}

/*
 * Normalize a fingerprint to upper-case hex without colons; NULL unless
 * it has 32 (MD5) or 64 (SHA-256) hex digits and nothing but colons.
 */
static char *
tls_pin_norm(const char *fp)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const char		*h;
	char			*s;
	size_t			 n = 0;

	if (fp == NULL)
		return NULL;
	s = xmalloc(strlen(fp) + 1);
	for (; *fp != '\0'; fp++) {
		if (*fp == ':')
			continue;
		h = memchr(hex, toupper((unsigned char)*fp), 16);
		if (h == NULL || n >= 64)
			break;
		s[n++] = *h;
	}
	s[n] = '\0';
	if (*fp != '\0' || (n != 32 && n != 64)) {
		free(s);
		return NULL;
	}
	return s;
}

/* Drain OpenSSL's error queue into "prefix: reason"; caller frees. */
static char *
tls_ossl_error(const char *prefix)
{
	unsigned long	 e, first;
	const char	*why;
	char		 code[32];

	first = ERR_get_error();
	while ((e = ERR_get_error()) != 0)
		;
	if (first == 0)
		why = _("unknown TLS error");
#ifdef ERR_SYSTEM_ERROR
	else if (ERR_SYSTEM_ERROR(first))
		why = strerror(ERR_GET_REASON(first));
#endif
	else if ((why = ERR_reason_error_string(first)) == NULL) {
		snprintf(code, sizeof(code), "error %lx", first);
		why = code;
	}
	if (prefix == NULL)
		return xstrdup(why);
	return xasprintf("%s: %s", prefix, why);
}

/* Map a failed SSL_read/SSL_write result. */
static int
tls_io_result(struct tls *t, int r, const char *op)
{
	int	 e = SSL_get_error(t->ssl, r);

	free(t->error);
	t->error = NULL;
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		if (*op == 'r')
			return 0;
		t->error = xstrdup(_("TLS write: connection closed"));
		break;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			if (errno == 0 && *op == 'r')
				return 0;
			t->error = xasprintf("TLS %s: %s", op, errno != 0 ?
			    strerror(errno) : _("connection closed"));
			break;
		}
		/* FALLTHROUGH */
	default:
		t->error = tls_ossl_error(*op == 'r' ? "TLS read" :
		    "TLS write");
		break;
	}
	t->fatal = 1;
	return -1;
}

ssize_t
tls_read(struct tls *t, void *p, size_t n)
{
	int	 r;

	ERR_clear_error();
	errno = 0;
	r = SSL_read(t->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	return tls_io_result(t, r, "read");
}

ssize_t
tls_write(struct tls *t, const void *p, size_t n)
{
	int	 r;

	ERR_clear_error();
	errno = 0;
	r = SSL_write(t->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	return tls_io_result(t, r, "write");
}

const char *
tls_error(const struct tls *t)
{
	return t->error != NULL ? t->error : _("unknown TLS error");
}

const struct tls_info *
tls_get_info(const struct tls *t)
{
	return t->done ? &t->info : NULL;
}

void
tls_free(struct tls *t)
{
	struct tls_info	*in;

	if (t == NULL)
		return;
	if (t->ssl != NULL) {
		/* One non-blocking close_notify; the answer is not awaited. */
		if (t->done && !t->fatal)
			(void)SSL_shutdown(t->ssl);
		SSL_free(t->ssl);
		ERR_clear_error();
	}
	in = &t->info;
	free(in->subject);
	free(in->issuer);
	free(in->md5);
	free(in->sha256);
	free(in->version);
	free(in->cipher);
	free(in->warning);
	free(in->summary);
	free(t->host);
	free(t->pin);
	free(t->error);
	free(t->vsubject);
	free(t->vcn);
	free(t);
}
