/*
 * auth.c: base64, HMAC-MD5 and MD5 for CRAM-MD5 and APOP, through
 * libcrypto's EVP interfaces (no SSL headers here).
 */
#include "config.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
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
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	char		*h, *r;

	if (HMAC(EVP_md5(), pass, (int)strlen(pass), (const unsigned char *)ch,
	    len, md, &mdlen) == NULL)
		return NULL;
	h = hex(md, mdlen);
	r = xasprintf("%s %s", user, h);
	free(h);
	return r;
}

char *
auth_apop(const char *ts, size_t len, const char *pass)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	char		*r = NULL;

	if (ctx == NULL)
		return NULL;
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, ts, len) == 1 &&
	    EVP_DigestUpdate(ctx, pass, strlen(pass)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1)
		r = hex(md, mdlen);
	EVP_MD_CTX_free(ctx);
	return r;
}
