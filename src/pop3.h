/*
 * pop3.h: the POP3 client (RFC 1939, 2449, 2595, 5034).  One call runs a
 * whole session over s->conn: greeting, CAPA, STLS, authentication,
 * STAT/UIDL/LIST, then the driver's plan with RETR and DELE pipelined
 * when the server offers PIPELINING, and QUIT.
 */
#ifndef POP3_H
#define POP3_H

struct session;
struct tls_opts;

/* TLS policy of a session, worked out by the driver. */
struct pop3_tls {
	const struct tls_opts	*opts;
	int			 mode;	/* 0 none, 1 opportunistic STLS,
					 * 2 mandatory STLS, 3 implicit
					 * (already done) */
	int			 proto_empty;	/* sslproto '' given */
};

/* Run the session; 0 when it ended with QUIT +OK, else -1 with
 * s->status set (and the error already reported). */
int	pop3_session(struct session *, const struct pop3_tls *);

#endif
