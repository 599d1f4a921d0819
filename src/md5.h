/*
 * md5.h: MD5 (RFC 1321) and HMAC-MD5 (RFC 2104), for APOP and CRAM-MD5.
 * Our own small implementation: going through libcrypto's EVP layer would
 * load its providers and configuration, which costs about 2 MB of memory
 * for two hashes per poll.
 */
#ifndef MD5_H
#define MD5_H

#include <stddef.h>
#include <stdint.h>

#define MD5_DIGEST_LEN	16

struct md5 {
	uint32_t	h[4];
	uint64_t	len;		/* bytes hashed so far */
	unsigned char	block[64];
	size_t		used;		/* bytes waiting in block */
};

void	md5_init(struct md5 *);
void	md5_update(struct md5 *, const void *, size_t);
void	md5_final(struct md5 *, unsigned char[MD5_DIGEST_LEN]);
void	hmac_md5(const void *key, size_t keylen, const void *msg, size_t len,
	    unsigned char[MD5_DIGEST_LEN]);

#endif
