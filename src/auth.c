/*
 * auth.c: base64 (libcrypto's encoder, which needs no provider), and
 * CRAM-MD5 and APOP over our own MD5 (md5.c).
 */
#include "config.h"

#include <string.h>

#include <openssl/evp.h>

#include "auth.h"
#include "md5.h"
#include "xmalloc.h"

char *
auth_b64_encode(const void *p, size_t len)
{
	char	*out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return out;
}

/* Decode strict base64; the padding decides the exact length. */
char *
auth_b64_decode(const char *s, size_t len, size_t *outlen)
{
	char	*out;
	int	 n;
	size_t	 pad = 0;

	if (len % 4 != 0 || len > 1024 * 1024)
		return NULL;
	if (len > 0 && s[len - 1] == '=')
		pad++;
	if (len > 1 && s[len - 2] == '=')
		pad++;
	out = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s,
	    (int)len);
	if (n < 0 || (size_t)n < pad) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)n - pad;
	out[*outlen] = '\0';
	return out;
}

/* Lowercase hex of N bytes. */
static char *
hex(const unsigned char *d, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char	*out = xmalloc(2 * n + 1);
	size_t	 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
	return out;
}

char *
auth_cram_md5(const char *user, const char *pass, const char *ch, size_t len)
{
	unsigned char	 md[MD5_DIGEST_LEN];
	char		*h, *r;

	hmac_md5(pass, strlen(pass), ch, len, md);
	h = hex(md, sizeof(md));
	r = xasprintf("%s %s", user, h);
	free(h);
	return r;
}

char *
auth_apop(const char *ts, size_t len, const char *pass)
{
	unsigned char	 md[MD5_DIGEST_LEN];
	struct md5	 c;

	md5_init(&c);
	md5_update(&c, ts, len);
	md5_update(&c, pass, strlen(pass));
	md5_final(&c, md);
	return hex(md, sizeof(md));
}
