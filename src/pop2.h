/*
 * pop2.h: the POP2 dialogue (RFC 937), with the same contract as
 * pop3_session(): the driver's session ops decide what becomes of each
 * message.
 */
#ifndef POP2_H
#define POP2_H

struct session;
struct pop3_tls;

/* One POP2 session on s->conn (connected to port 109); 0, or -1 with
 * s->status set. */
int	pop2_session(struct session *, const struct pop3_tls *);

#endif
