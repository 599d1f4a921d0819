/*
 * md4.c: MD4 as specified in RFC 1320, for NTLM's password hash and the
 * md4 variant of OTP.  One-shot only: every caller hashes a small buffer.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "md4.h"

static uint32_t
rotl(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

/* The 32-bit little-endian word at P. */
static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint32_t
md4_f(uint32_t x, uint32_t y, uint32_t z)
{
	return (x & y) | (~x & z);
}

static uint32_t
md4_g(uint32_t x, uint32_t y, uint32_t z)
{
	return (x & y) | (x & z) | (y & z);
}

static uint32_t
md4_h(uint32_t x, uint32_t y, uint32_t z)
{
	return x ^ y ^ z;
}

/* Fold one 64-byte block into the state H (RFC 1320 section 3.4). */
static void
md4_block(uint32_t h[4], const unsigned char *blk)
{
	static const unsigned char s1[4] = { 3, 7, 11, 19 };
	static const unsigned char s2[4] = { 3, 5, 9, 13 };
	static const unsigned char s3[4] = { 3, 9, 11, 15 };
	static const unsigned char k3[16] = {
		0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15
	};
	uint32_t	x[16], v[4], t;
	unsigned	i;

	for (i = 0; i < 16; i++)
		x[i] = le32(blk + 4 * i);
	memcpy(v, h, sizeof(v));
	/* Each operation updates v[0] and rotates the roles a,b,c,d. */
	for (i = 0; i < 16; i++) {
		t = rotl(v[0] + md4_f(v[1], v[2], v[3]) + x[i], s1[i % 4]);
		v[0] = v[3]; v[3] = v[2]; v[2] = v[1]; v[1] = t;
	}
	for (i = 0; i < 16; i++) {
		t = rotl(v[0] + md4_g(v[1], v[2], v[3]) +
		    x[(i % 4) * 4 + i / 4] + 0x5a827999u, s2[i % 4]);
		v[0] = v[3]; v[3] = v[2]; v[2] = v[1]; v[1] = t;
	}
	for (i = 0; i < 16; i++) {
		t = rotl(v[0] + md4_h(v[1], v[2], v[3]) + x[k3[i]] +
		    0x6ed9eba1u, s3[i % 4]);
		v[0] = v[3]; v[3] = v[2]; v[2] = v[1]; v[1] = t;
	}
	for (i = 0; i < 4; i++)
		h[i] += v[i];
	memset(x, 0, sizeof(x));
}

/* MD4 of LEN bytes at P into OUT: full blocks, then the padded tail. */
void
md4_digest(const void *p, size_t len, unsigned char out[16])
{
	uint32_t		 h[4] = {
		0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u
	};
	const unsigned char	*d = p;
	unsigned char		 tail[128];
	size_t			 n, rest, i;
	uint64_t		 bits = (uint64_t)len * 8;

	for (n = 0; len - n >= 64; n += 64)
		md4_block(h, d + n);
	rest = len - n;
	memset(tail, 0, sizeof(tail));
	if (rest > 0)
		memcpy(tail, d + n, rest);
	tail[rest] = 0x80;
	n = rest < 56 ? 64 : 128;
	for (i = 0; i < 8; i++)
		tail[n - 8 + i] = (unsigned char)(bits >> (8 * i));
	md4_block(h, tail);
	if (n == 128)
		md4_block(h, tail + 64);
	for (i = 0; i < 16; i++)
		out[i] = (unsigned char)(h[i / 4] >> (8 * (i % 4)));
	memset(tail, 0, sizeof(tail));
}
