/*
 * sasl_run.h: one SASL exchange (RFC 4422) over a protocol's framing.
 * The protocol module supplies three callbacks (send the command naming
 * the mechanism, read the server's next reply, send one response line);
 * sasl_run() drives the mechanism from sasl.h between them: base64 both
 * ways, the initial response, cancelling with "*" when a challenge is
 * bad, and the check that the server proved itself.
 */
#ifndef SASL_RUN_H
#define SASL_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "sasl.h"

enum sasl_reply {
	SASL_R_ERROR = -1,	/* I/O or protocol error (status set) */
	SASL_R_SUCCESS = 0,	/* the server accepted the login */
	SASL_R_CHALLENGE,	/* "+ base64" */
	SASL_R_REFUSED		/* the server refused (status set) */
};

struct sasl_io {
	/* Send the command that starts MECH, with IR (base64, "=" for an
	 * empty one) when not NULL; 0, or -1 on an I/O error. */
	int		(*start)(void *arg, const char *mech, const char *ir);
	/* Read the next reply; the base64 text of a challenge or success in
	 * *text and *len (valid until the next call; *len 0 when none). */
	enum sasl_reply	(*next)(void *arg, const char **text, size_t *len);
	/* Send one response line (base64 or "*"), masked in the transcript;
	 * LAST is set when it should be the last of the exchange.  0 or -1. */
	int		(*respond)(void *arg, const char *line, bool last);
	void		*arg;
	bool		 initial_ok;	/* the command may carry an initial
					 * response (POP3 AUTH, IMAP SASL-IR,
					 * SMTP AUTH) */
	const char	*host;		/* for messages */
};

/* Run one exchange: SASL_R_SUCCESS when logged in and the server proved
 * what the mechanism demands, SASL_R_REFUSED when the server or the
 * mechanism said no (the reason logged), SASL_R_ERROR on I/O errors. */
enum sasl_reply	sasl_run(const struct sasl_io *, enum sasl_mech,
		    const struct sasl_cred *);

#endif
