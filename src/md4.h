/*
 * md4.h: MD4 (RFC 1320), which NTLM's password hash and OTP's md4 need
 * and which OpenSSL 3 keeps out of its default provider.
 */
#ifndef MD4_H
#define MD4_H

#include <stddef.h>

/* MD4 of LEN bytes into OUT (16 bytes). */
void	md4_digest(const void *, size_t, unsigned char out[16]);

#endif
