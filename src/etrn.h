/*
 * etrn.h: ETRN (RFC 1985): ask an SMTP relay to flush its queue for the
 * `fetchdomains` (default: this host's name) toward us.
 */
#ifndef ETRN_H
#define ETRN_H

#include <stdbool.h>

struct cfg_query;
struct session;

/* Options a relay trigger cannot honour (keep, flush, folder, -c) for
 * protocol NAME ("ETRN", "ODMR"): logged as the reference does and
 * PS_SYNTAX returned; 0 when there is none. */
int	etrn_refuse(const struct cfg_query *, bool check, const char *name);
/* The ETRN dialogue on s->conn, already connected to the relay's SMTP
 * port; HOSTNAME is this host (EHLO, default domain).  Returns the
 * query status (PS_*). */
int	etrn_session(struct session *, const char *hostname);

#endif
