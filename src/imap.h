/*
 * imap.h: the IMAP client (RFC 3501, 2595, 2195, 4315).  One call runs a
 * whole session over s->conn: greeting, CAPABILITY, STARTTLS, login,
 * then for each folder SELECT (EXAMINE with -c), one UID FETCH listing
 * UIDs, sizes and flags, the driver's plan with the bodies fetched by
 * UID and pipelined, flags stored by UID after the sink accepted, and
 * EXPUNGE (UID EXPUNGE with UIDPLUS); finally LOGOUT.
 */
#ifndef IMAP_H
#define IMAP_H

struct session;
struct pop3_tls;

/* Run the session with the TLS policy the driver worked out (the same
 * modes as POP3, see pop3.h); 0 when it ended with LOGOUT, else -1 with
 * s->status set (and the error already reported). */
int	imap_session(struct session *, const struct pop3_tls *);

#endif
