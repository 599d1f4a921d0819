/*
 * odmr.h: On-Demand Mail Relay (RFC 2645): authenticate to the ODMR
 * server, ATRN for the `fetchdomains`, then relay the SMTP session the
 * server turns around to us into the local SMTP listener.
 */
#ifndef ODMR_H
#define ODMR_H

struct session;

/* The ODMR dialogue on s->conn, already connected to the server's
 * ODMR port (366); HOSTNAME is this host.  Returns the query status. */
int	odmr_session(struct session *, const char *hostname);

#endif
