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
		    sasl_ntlm_ops, sasl_otp_ops, sasl_gssapi_ops, sasl_rpa_ops;
/* Whether the GSSAPI mechanism is built (sasl_gssapi.c). */
bool		sasl_gssapi_built(void);
/* Whether the RPA mechanism is built (sasl_rpa.c, --enable-rpa). */
bool		sasl_rpa_built(void);

/* Helpers that sasl.c shares with the mechanism files. */
/* Hand a copy of LEN bytes at P to the caller (NUL-terminated too). */
void		sasl_out(unsigned char **, size_t *, const void *, size_t);
/* Wipe a NUL-terminated string and free it; NULL is fine. */
void		sasl_wipe_str(char *);
/* A printable copy of at most MAX bytes of hostile text, for a log. */
char	       *sasl_sanitise(const unsigned char *, size_t, size_t max);
/* RFC 5802 saslname: ',' as "=2C", '=' as "=3D"; NULL if the string
 * holds a control character (the caller reports it). */
char	       *sasl_saslname(const char *);
/* Whether LEN bytes are strict base64 (alphabet, length % 4, only
 * trailing '=' padding), and not empty. */
bool		sasl_b64_valid(const unsigned char *, size_t);

/* Test hooks (unit tests and the fuzz target only). */
/* Use NONCE (printable, no ',') as SCRAM's client nonce; call before
 * sasl_initial().  0, or -1 if refused. */
int		sasl_scram_test_nonce(struct sasl *, const char *);
/* Lower the cap on SCRAM's iteration count (default 1000000). */
void		sasl_scram_test_max_iter(unsigned long);
/* Fix NTLM's client challenge and blob timestamp (FILETIME, LE). */
void		sasl_ntlm_test_random(struct sasl *, const unsigned char[8],
		    const unsigned char[8]);
/* NTOWFv2 (MS-NLMP 3.3.2) of UTF-8 user, domain and password. */
void		sasl_ntlm_ntowfv2(const char *user, const char *domain,
		    const char *pass, unsigned char[16]);
/* The RFC 2289 one-time password of ALG ("md4", "md5", "sha1"), SEQ,
 * SEED and the pass phrase into OUT; 0, or -1 for an unknown ALG. */
int		sasl_otp_compute(const char *alg, unsigned seq,
		    const char *seed, const char *pass, unsigned char[8]);

/* otp_words.c: the RFC 2289 dictionary. */
/* The word of an 11-bit index, NULL if out of range. */
const char     *otp_word(unsigned);
/* The six-word form of a 64-bit one-time password (allocated). */
char	       *otp_six_words(const unsigned char[8]);

#endif
