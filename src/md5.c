/*
 * md5.c: MD5 as specified in RFC 1321, HMAC as in RFC 2104.
 */
#include "config.h"

#include <string.h>

#include "md5.h"

/* Sine-derived constants, RFC 1321 section 3.4. */
static const uint32_t md5_k[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee,
	0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
	0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
	0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
	0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
	0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
	0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039,
	0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/* Per-round rotation amounts. */
static const unsigned char md5_r[4][4] = {
	{ 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 }, { 6, 10, 15, 21 }
};

static uint32_t
rotl(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

/* Mix one 64-byte block into the state. */
static void
md5_block(uint32_t h[4], const unsigned char *p)
{
	uint32_t	m[16], a = h[0], b = h[1], c = h[2], d = h[3], f, t;
	unsigned	i, g;

	for (i = 0; i < 16; i++)
		m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		    (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	for (i = 0; i < 64; i++) {
		switch (i / 16) {
		case 0:
			f = (b & c) | (~b & d);
			g = i;
			break;
		case 1:
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
			break;
		case 2:
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
			break;
		default:
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
			break;
		}
		t = d;
		d = c;
		c = b;
		b = b + rotl(a + f + md5_k[i] + m[g], md5_r[i / 16][i % 4]);
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

void
md5_init(struct md5 *c)
{
	c->h[0] = 0x67452301;
	c->h[1] = 0xefcdab89;
	c->h[2] = 0x98badcfe;
	c->h[3] = 0x10325476;
	c->len = 0;
	c->used = 0;
}

void
md5_update(struct md5 *c, const void *data, size_t n)
{
	const unsigned char	*p = data;
	size_t			 k;

	c->len += n;
	while (n > 0) {
		k = 64 - c->used < n ? 64 - c->used : n;
		memcpy(c->block + c->used, p, k);
		c->used += k;
		p += k;
		n -= k;
		if (c->used == 64) {
			md5_block(c->h, c->block);
			c->used = 0;
		}
	}
}

/* Pad (0x80, zeros, the bit length little-endian) and write the digest. */
void
md5_final(struct md5 *c, unsigned char out[MD5_DIGEST_LEN])
{
	unsigned char	pad[72] = { 0x80 };
	uint64_t	bits = c->len * 8;
	size_t		padlen = (c->used < 56 ? 56 : 120) - c->used;
	unsigned	i;

	for (i = 0; i < 8; i++)
		pad[padlen + i] = (unsigned char)(bits >> (8 * i));
	md5_update(c, pad, padlen + 8);
	for (i = 0; i < 16; i++)
		out[i] = (unsigned char)(c->h[i / 4] >> (8 * (i % 4)));
	memset(c, 0, sizeof(*c));
}

void
hmac_md5(const void *key, size_t keylen, const void *msg, size_t len,
    unsigned char out[MD5_DIGEST_LEN])
{
	unsigned char	k[64] = { 0 }, pad[64], inner[MD5_DIGEST_LEN];
	struct md5	c;
	unsigned	i;

	if (keylen > 64) {
		md5_init(&c);
		md5_update(&c, key, keylen);
		md5_final(&c, k);
	} else
		memcpy(k, key, keylen);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	md5_init(&c);
	md5_update(&c, pad, 64);
	md5_update(&c, msg, len);
	md5_final(&c, inner);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	md5_init(&c);
	md5_update(&c, pad, 64);
	md5_update(&c, inner, sizeof(inner));
	md5_final(&c, out);
	memset(k, 0, sizeof(k));
	memset(pad, 0, sizeof(pad));
}
