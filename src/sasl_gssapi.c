/* sasl_gssapi.c: being written (placeholder: GSSAPI not built). */
#include "config.h"

#include <stdbool.h>

#include "sasl_priv.h"

static enum sasl_rc
gss_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	(void)in;
	(void)inlen;
	(void)out;
	(void)outlen;
	return sasl_fail(x, "GSSAPI is not built");
}

const struct sasl_ops sasl_gssapi_ops = { NULL, NULL, gss_step, NULL, NULL };

bool
sasl_gssapi_built(void)
{
	return false;
}
