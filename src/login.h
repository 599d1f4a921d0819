/*
 * login.h: what the POP3 and IMAP logins share: the SASL mechanism an
 * `auth` value names, and one SASL exchange with the session's
 * credentials over a protocol's framing (sasl_run.h).
 */
#ifndef LOGIN_H
#define LOGIN_H

#include "sasl_run.h"

struct session;

/* The SASL mechanism an `auth` value (enum cfg_auth) names; -1 for a
 * value that is no SASL mechanism (any, password, ssh, ...). */
int	login_sasl_mech(int auth);
/* Log in with mechanism M over IO, with the query's user, password and
 * principal, the server's name and SERVICE ("pop", "imap"): 0 logged in,
 * 1 refused (s->status set, PS_AUTHFAIL unless the protocol set another
 * one), -1 on an I/O error (status set). */
int	login_sasl(struct session *, const struct sasl_io *io,
	    enum sasl_mech m, const char *service);

#endif
