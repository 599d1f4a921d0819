/*
 * tls.h: TLS options, peer information, and the session primitives that
 * conn.c drives.  Protocol code only needs struct tls_opts,
 * tls_opts_init(), tls_proto_known() and struct tls_info; it starts TLS
 * with conn_starttls() (conn.h).  Only tls.c includes OpenSSL headers.
 */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * What the caller wants from a TLS session (all strings borrowed for the
 * duration of conn_starttls()).  Maps 1:1 to the rcfile options.
 */
struct tls_opts {
	int		 verify;	/* sslcertck: chain + name errors fail */
	const char	*cafile;	/* sslcertfile; NULL = system store */
	const char	*capath;	/* sslcertpath; NULL = system store */
	const char	*host;		/* name to check and send as SNI:
					 * sslcommonname, else via/pollname;
					 * NULL = the host conn_connect() used */
	const char	*fingerprint;	/* sslfingerprint: MD5 or SHA-256,
					 * "AA:BB:.." (case and colons free) */
	const char	*cert;		/* sslcert: client certificate chain */
	const char	*key;		/* sslkey; NULL = key is in cert */
	const char	*proto;		/* sslproto; NULL, "" or "auto" =
					 * TLS 1.2 or newer */
};

/*
 * What conn_starttls() learned about the peer; owned by the conn,
 * borrowed until conn_free().  All strings are printable ASCII (DNs are
 * RFC 2253 with non-ASCII and control bytes escaped).
 */
struct tls_info {
	char	*subject;	/* peer certificate subject DN */
	char	*issuer;	/* peer certificate issuer DN */
	char	*md5;		/* "AA:BB:..", the reference's fingerprint */
	char	*sha256;	/* "AA:BB:..", 32 bytes */
	char	*version;	/* "TLSv1.3" */
	char	*cipher;	/* "TLS_AES_256_GCM_SHA384" */
	int	 bits;		/* secret bits of the cipher */
	int	 fp_matched;	/* an sslfingerprint was given and matched */
	char	*warning;	/* verification failure tolerated because
				 * verify was off; NULL if verified */
	char	*summary;	/* one line for -v: subject, issuer, SHA-256 */
};

/* Set defaults: verify on, everything else unset. */
void		 tls_opts_init(struct tls_opts *);

/*
 * 1 if name is an sslproto value the reference knows (case-insensitive:
 * auto ssl23 ssl3 ssl3+ tls1 tls1+ tls1.1 tls1.1+ tls1.2 tls1.2+ tls1.3
 * tls1.3+), else 0.  Unknown names behave like "auto"; the caller
 * should warn as the reference does.  NULL and "" count as known.
 */
int		 tls_proto_known(const char *name);

/* ---- below: the session layer used by conn.c only ---- */

struct tls;

#define TLS_WANT_READ	(-2)	/* retry when the read fd is readable */
#define TLS_WANT_WRITE	(-3)	/* retry when the write fd is writable */

/* A client session over rfd/wfd; NULL and *cause (caller frees). */
struct tls	*tls_create(int rfd, int wfd, const struct tls_opts *,
		    const char *host, char **cause);
/*
 * One handshake step: 1 done and verified per opts, TLS_WANT_READ/WRITE,
 * or -1 with *cause (caller frees).
 */
int		 tls_handshake(struct tls *, char **cause);
/* >0 bytes, 0 clean EOF, TLS_WANT_*, -1 error (see tls_error). */
ssize_t		 tls_read(struct tls *, void *, size_t);
/* >0 bytes written, TLS_WANT_*, -1 error (see tls_error). */
ssize_t		 tls_write(struct tls *, const void *, size_t);
/* Last error of tls_read/tls_write; borrowed. */
const char	*tls_error(const struct tls *);
/* Peer information once the handshake is done; borrowed, or NULL. */
const struct tls_info *tls_get_info(const struct tls *);
/* Send close_notify if the session is healthy (never blocks); free. */
void		 tls_free(struct tls *);

#endif
