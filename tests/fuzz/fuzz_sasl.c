/*
 * fuzz_sasl.c: libFuzzer target for the SASL mechanisms.  The first byte
 * picks a mechanism (GSSAPI excluded: it would talk to Kerberos); the
 * rest is a sequence of challenges, each a 2-byte little-endian length
 * and that many bytes (cut at the end of the input), fed to sasl_step();
 * what is left after the last step, if anything, goes to sasl_success().
 * Credentials are fixed; SCRAM's nonce and NTLM's randomness are fixed
 * too so that inputs can reach the later steps, and SCRAM's iteration
 * cap is lowered to keep each run fast.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"
#include "sasl_priv.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The exchange for mechanism byte B, with everything fixed. */
static struct sasl *
fuzz_new(uint8_t b)
{
	static const unsigned char	 cc[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const unsigned char	 ts[8];
	struct sasl_cred		 c;
	enum sasl_mech			 m = (enum sasl_mech)(b % SASL_NMECHS);
	const char			*err;
	struct sasl			*x;

	if (m == SASL_GSSAPI)
		m = SASL_PLAIN;
	memset(&c, 0, sizeof(c));
	c.user = (b & 0x80) ? "DOM\\us,er=" : "user";
	c.pass = "pencil";
	c.authzid = (b & 0x40) ? "ad,min" : NULL;
	c.host = "mail.example.com";
	c.port = 993;
	if ((x = sasl_new(m, &c, &err)) == NULL)
		return NULL;
	(void)sasl_scram_test_nonce(x, "fuzz");
	sasl_ntlm_test_random(x, cc, ts);
	return x;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct sasl	*x;
	unsigned char	*out;
	size_t		 outlen, n, pos = 1;
	int		 steps = 0;

	if (len == 0)
		return 0;
	sasl_scram_test_max_iter(64);
	if ((x = fuzz_new(data[0])) == NULL)
		return 0;
	if (sasl_initial(x, &out, &outlen) == 1)
		free(out);
	(void)sasl_error(x);
	while (len - pos >= 2 && steps++ < 8) {
		n = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
		pos += 2;
		if (n > len - pos)
			n = len - pos;
		if (sasl_step(x, data + pos, n, &out, &outlen) != SASL_FAIL)
			free(out);
		else if (out != NULL)
			abort();	/* a failed step must hand nothing */
		pos += n;
	}
	(void)sasl_success(x, pos < len ? data + pos : NULL, len - pos);
	(void)sasl_error(x);
	sasl_free(x);
	return 0;
}
