/*
 * sasl.h: the client side of SASL mechanisms (RFC 4422), free of any
 * protocol and of I/O.  A protocol module (POP3 AUTH, IMAP AUTHENTICATE,
 * SMTP AUTH) creates an exchange for one mechanism, sends what
 * sasl_initial() gives, feeds every decoded server challenge to
 * sasl_step() and sends the decoded response base64-encoded, and finally
 * asks sasl_success() whether the server proved itself (SCRAM).  Every
 * challenge is validated before it is used; a malformed or hostile one
 * ends the exchange with SASL_FAIL and a reason in sasl_error().
 */
#ifndef SASL_H
#define SASL_H

#include <stdbool.h>
#include <stddef.h>

enum sasl_mech {
	SASL_PLAIN = 0, SASL_LOGIN, SASL_CRAM_MD5, SASL_SCRAM_SHA1,
	SASL_SCRAM_SHA256, SASL_OTP, SASL_NTLM, SASL_GSSAPI, SASL_EXTERNAL,
	SASL_OAUTHBEARER, SASL_XOAUTH2, SASL_RPA,
	SASL_NMECHS
};

/* What a mechanism may use; sasl_new() copies every string. */
struct sasl_cred {
	const char	*user;		/* authentication identity */
	const char	*pass;		/* password; OAuth: the access token;
					 * OTP: the pass phrase */
	const char	*authzid;	/* authorization identity, NULL none */
	const char	*host;		/* server host (GSSAPI service host,
					 * OAUTHBEARER host=) */
	unsigned	 port;		/* OAUTHBEARER port=, 0 none */
	const char	*service;	/* GSSAPI service: "imap", "pop",
					 * "smtp" */
	const char	*principal;	/* GSSAPI: the `principal` option */
};

enum sasl_rc {
	SASL_CONTINUE = 0,	/* send *out and wait for the next challenge */
	SASL_DONE,		/* send *out; the mechanism expects the
				 * server's final verdict next */
	SASL_FAIL		/* abort the exchange ("*"); sasl_error() */
};

struct sasl;

/* The IANA name ("SCRAM-SHA-256"). */
const char	*sasl_mech_name(enum sasl_mech);
/* The mechanism of a name (case-insensitive), or -1. */
int		 sasl_mech_by_name(const char *);
/* Whether this build has the mechanism (GSSAPI and RPA depend on
 * configure). */
bool		 sasl_mech_available(enum sasl_mech);
/* Whether the mechanism keeps the password off the wire (CRAM-MD5, SCRAM,
 * OTP, NTLM, GSSAPI, EXTERNAL, RPA): such a mechanism may run without
 * TLS. */
bool		 sasl_mech_masks_password(enum sasl_mech);

/* A new exchange, or NULL with the reason in *err (static text) when the
 * credentials cannot work with the mechanism (no user, no password). */
struct sasl	*sasl_new(enum sasl_mech, const struct sasl_cred *,
		    const char **err);
/* The client's initial response: 1 with *out (allocated, maybe empty) to
 * send with the command (or at the first empty challenge), 0 when the
 * mechanism speaks only after a challenge, -1 on failure (sasl_error). */
int		 sasl_initial(struct sasl *, unsigned char **out,
		    size_t *outlen);
/* One decoded server challenge in, the decoded response out (allocated,
 * maybe empty; wiped by the caller after sending). */
enum sasl_rc	 sasl_step(struct sasl *, const unsigned char *in,
		    size_t inlen, unsigned char **out, size_t *outlen);
/* The server reported success, with its additional data if any (NULL,
 * 0 otherwise).  0 when the exchange is complete and the server proved
 * what the mechanism requires (SCRAM's verifier), -1 otherwise. */
int		 sasl_success(struct sasl *, const unsigned char *in,
		    size_t inlen);
/* Why the exchange failed, for the log (never holds a secret). */
const char	*sasl_error(const struct sasl *);
/* Wipe the secrets and free; NULL is fine. */
void		 sasl_free(struct sasl *);

#endif
