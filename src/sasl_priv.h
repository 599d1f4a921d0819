/*
 * sasl_priv.h: what a mechanism implements behind sasl.h.  Each
 * mechanism file defines one `const struct sasl_ops`; sasl.c dispatches.
 */
#ifndef SASL_PRIV_H
#define SASL_PRIV_H

#include "sasl.h"

struct sasl_ops {
	/* Set up x->state from x->cred; 0, or -1 with sasl_fail(). */
	int		(*init)(struct sasl *);
	/* As sasl_initial(); NULL means 0 (waits for a challenge). */
	int		(*initial)(struct sasl *, unsigned char **, size_t *);
	/* As sasl_step(). */
	enum sasl_rc	(*step)(struct sasl *, const unsigned char *, size_t,
			    unsigned char **, size_t *);
	/* As sasl_success(); NULL means the exchange is complete. */
	int		(*success)(struct sasl *, const unsigned char *,
			    size_t);
	/* Wipe and free x->state; NULL when there is none. */
	void		(*free)(struct sasl *);
};

struct sasl {
	enum sasl_mech		 mech;
	const struct sasl_ops	*ops;
	struct sasl_cred	 cred;	/* owned copies (char * in fact) */
	void			*state;
	char			*error;
};

/* Record why the exchange failed (printf format); returns SASL_FAIL. */
enum sasl_rc	sasl_fail(struct sasl *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

extern const struct sasl_ops sasl_scram_sha1_ops, sasl_scram_sha256_ops,
		    sasl_ntlm_ops, sasl_otp_ops, sasl_gssapi_ops;
/* Whether the GSSAPI mechanism is built (sasl_gssapi.c). */
bool		sasl_gssapi_built(void);

#endif
