/*
 * sasl_run.c: drives one SASL exchange between a mechanism (sasl.h) and
 * a protocol's framing (see sasl_run.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "i18n.h"
#include "log.h"
#include "sasl_run.h"
#include "xmalloc.h"

/* No mechanism here needs more round trips than this. */
#define SASL_MAX_ROUNDS	16

/* Base64 of a response ("" for an empty one), wiping the response. */
static char *
encode(unsigned char *out, size_t len)
{
	char	*b = len > 0 ? auth_b64_encode(out, len) : xstrdup("");

	if (out != NULL) {
		xexplicit_bzero(out, len);
		free(out);
	}
	return b;
}

/* Send a response line and wipe it. */
static int
send_wiped(const struct sasl_io *io, char *line, bool last)
{
	int	r = io->respond(io->arg, line, last);

	xexplicit_bzero(line, strlen(line));
	free(line);
	return r;
}

/* Cancel with "*" and read the server's verdict. */
static enum sasl_reply
cancel(const struct sasl_io *io)
{
	const char	*t;
	size_t		 l;
	enum sasl_reply	 r;

	if (io->respond(io->arg, "*", true) != 0)
		return SASL_R_ERROR;
	r = io->next(io->arg, &t, &l);
	return r == SASL_R_ERROR ? SASL_R_ERROR : SASL_R_REFUSED;
}

/* Send the command naming the mechanism, with the initial response
 * when the protocol carries one; *pending keeps it otherwise. */
static int
start(const struct sasl_io *io, struct sasl *x, enum sasl_mech mech,
    char **pending)
{
	unsigned char	*out = NULL;
	size_t		 len = 0;
	char		*ir;
	int		 r = sasl_initial(x, &out, &len);

	*pending = NULL;
	if (r < 0)
		return -2;
	if (r == 0)
		return io->start(io->arg, sasl_mech_name(mech), NULL);
	ir = encode(out, len);
	if (!io->initial_ok) {
		*pending = ir;
		return io->start(io->arg, sasl_mech_name(mech), NULL);
	}
	r = io->start(io->arg, sasl_mech_name(mech), *ir ? ir : "=");
	xexplicit_bzero(ir, strlen(ir));
	free(ir);
	return r;
}

/* Answer one challenge; SASL_R_CHALLENGE to go on. */
static enum sasl_reply
answer(const struct sasl_io *io, struct sasl *x, enum sasl_mech mech,
    const char *text, size_t len)
{
	unsigned char	*out = NULL;
	size_t		 outlen = 0;
	char		*dec;
	size_t		 declen = 0;
	enum sasl_rc	 rc;

	if (len == 0)
		dec = xstrdup("");
	else if ((dec = auth_b64_decode(text, len, &declen)) == NULL) {
		log_err(_("%s: malformed %s challenge from the server"),
		    io->host, sasl_mech_name(mech));
		return cancel(io);
	}
	rc = sasl_step(x, (unsigned char *)dec, declen, &out, &outlen);
	xexplicit_bzero(dec, declen);
	free(dec);
	if (rc == SASL_FAIL) {
		log_err(_("%s: %s authentication failed: %s"), io->host,
		    sasl_mech_name(mech), sasl_error(x));
		free(out);
		return cancel(io);
	}
	if (send_wiped(io, encode(out, outlen), rc == SASL_DONE) != 0)
		return SASL_R_ERROR;
	return SASL_R_CHALLENGE;
}

/* The server said yes: did it prove itself? */
static enum sasl_reply
finish(const struct sasl_io *io, struct sasl *x, enum sasl_mech mech,
    const char *text, size_t len)
{
	char	*dec = NULL;
	size_t	 declen = 0;
	int	 r;

	if (len > 0 && (dec = auth_b64_decode(text, len, &declen)) == NULL)
		declen = 0;
	r = sasl_success(x, (unsigned char *)dec, declen);
	free(dec);
	if (r == 0)
		return SASL_R_SUCCESS;
	log_err(_("%s: the server accepted the %s login without proving "
	    "its identity: %s"), io->host, sasl_mech_name(mech),
	    sasl_error(x));
	return SASL_R_REFUSED;
}

enum sasl_reply
sasl_run(const struct sasl_io *io, enum sasl_mech mech,
    const struct sasl_cred *cred)
{
	const char	*err = NULL, *text;
	size_t		 len;
	char		*pending;
	struct sasl	*x = sasl_new(mech, cred, &err);
	enum sasl_reply	 r = SASL_R_REFUSED;
	int		 round, s;

	if (x == NULL) {
		log_err(_("%s: cannot use %s: %s"), io->host,
		    sasl_mech_name(mech), err ? err : "?");
		return SASL_R_REFUSED;
	}
	if ((s = start(io, x, mech, &pending)) != 0) {
		if (s == -2)
			log_err(_("%s: %s authentication failed: %s"),
			    io->host, sasl_mech_name(mech), sasl_error(x));
		sasl_free(x);
		return s == -2 ? SASL_R_REFUSED : SASL_R_ERROR;
	}
	for (round = 0; round < SASL_MAX_ROUNDS; round++) {
		r = io->next(io->arg, &text, &len);
		if (r == SASL_R_SUCCESS)
			r = finish(io, x, mech, text, len);
		if (r != SASL_R_CHALLENGE)
			break;
		if (pending != NULL) {	/* the first (empty) challenge */
			r = send_wiped(io, pending, false) != 0 ?
			    SASL_R_ERROR : SASL_R_CHALLENGE;
			pending = NULL;
		} else
			r = answer(io, x, mech, text, len);
		if (r != SASL_R_CHALLENGE)
			break;
	}
	if (round == SASL_MAX_ROUNDS) {
		log_err(_("%s: too many %s challenges"), io->host,
		    sasl_mech_name(mech));
		r = cancel(io);
	}
	if (pending != NULL) {
		xexplicit_bzero(pending, strlen(pending));
		free(pending);
	}
	sasl_free(x);
	return r;
}
