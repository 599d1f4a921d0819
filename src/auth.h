/*
 * auth.h: the cryptography of authentication mechanisms, kept apart from
 * the protocols: base64, CRAM-MD5 (RFC 2195) and the APOP digest
 * (RFC 1939).  Results are allocated; callers wipe and free them.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>

/* Base64 of LEN bytes, NUL-terminated. */
char	*auth_b64_encode(const void *, size_t);
/* Decode base64 text (whitespace not allowed); NULL if malformed.  *OUTLEN
 * gets the length; the result is NUL-terminated too. */
char	*auth_b64_decode(const char *, size_t, size_t *outlen);
/* CRAM-MD5 response "user hexdigest" for a decoded challenge. */
char	*auth_cram_md5(const char *user, const char *pass,
	    const char *challenge, size_t len);
/* APOP digest: lowercase hex MD5 of timestamp followed by password. */
char	*auth_apop(const char *timestamp, size_t len, const char *pass);

#endif
