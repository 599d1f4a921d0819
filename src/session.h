/*
 * session.h: the runtime state of one poll of one query, shared by the
 * driver and the protocol modules.  A protocol gets the session, talks
 * to the server through s->conn, and hands every decision about
 * messages (which to fetch, where a fetched one goes, whether it may be
 * deleted) back to the driver through s->ops.  Protocols never see
 * sinks; the driver never sees protocol commands.
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "msg.h"

struct conn;

/* fetchmail's status codes (the exit codes, plus internal ones). */
#define PS_SUCCESS	0
#define PS_NOMAIL	1
#define PS_SOCKET	2
#define PS_AUTHFAIL	3
#define PS_PROTOCOL	4
#define PS_SYNTAX	5
#define PS_IOERR	6
#define PS_ERROR	7
#define PS_EXCLUDE	8
#define PS_LOCKBUSY	9
#define PS_SMTP		10
#define PS_DNS		11
#define PS_BSMTP	12
#define PS_MAXFETCH	13
#define PS_SERVBUSY	14
#define PS_UNDEFINED	23

/* What the driver decided for one message of the listing. */
enum msg_action {
	MSGA_SKIP = 0,		/* leave it on the server, untouched */
	MSGA_FETCH,		/* retrieve and deliver it */
	MSGA_DELETE		/* delete it without fetching (flush,
				 * limitflush, already delivered) */
};

/* One message of the server's listing. */
struct msgref {
	unsigned long		 num;	/* message number, from 1 */
	unsigned long long	 size;	/* octets, as the server says */
	char			*uid;	/* NULL when the server has no UIDs */
	size_t			 uidlen;
	enum msg_action		 action;
	bool			 old;	/* seen in an earlier poll */
	bool			 oversized;
	/* IMAP: the server flags it \Seen (or \Deleted), which makes it
	 * old as the reference decides; its UID as a number */
	bool			 seen_flag;
	uint32_t		 imap_uid;
	/* SDPS (Demon's POP3): the envelope from *ENV without <>, or NULL
	 * (sender "" for the null sender); owned by the protocol */
	char			*sdps_from, *sdps_to;
};

/* What became of a fetched message. */
enum msg_fate {
	FATE_DELETE,		/* delivered (or refused for good): delete */
	FATE_KEEP,		/* leave it on the server */
	FATE_ABORT,		/* stop the poll (s->status says why) */
	FATE_SEEN		/* delivered and kept (keep): leave it on
				 * the server, marked seen where the
				 * protocol can (IMAP \Seen); else as KEEP */
};

struct session;

struct session_ops {
	/* The listing is complete: set each message's action and print
	 * the summary.  0, or -1 to end the poll (status set). */
	int		(*plan)(struct session *, struct msgref *, size_t n,
			    unsigned long long octets);
	/* A message the plan did not fetch reached its turn (in order):
	 * print what the reference prints for it. */
	void		(*skipped)(struct session *, const struct msgref *);
	/* Deliver the message whose lines src yields.  The source must be
	 * read to its end unless FATE_ABORT is returned.  Before
	 * FATE_DELETE the driver has recorded the UID; it is made durable
	 * by sync(), which the protocol calls before sending commands. */
	enum msg_fate	(*deliver)(struct session *, const struct msgref *,
			    struct msgsrc *);
	/* Called before commands go out: what the driver recorded must
	 * be on disk before a DELE can reach the server. */
	void		(*sync)(struct session *);
	/* The server accepted the deletion of a message (not yet
	 * committed). */
	void		(*dele_ok)(struct session *, const struct msgref *);
	/* The server confirmed the end of the session (POP3 QUIT +OK):
	 * the accepted deletions are committed. */
	void		(*committed)(struct session *);
	/* The session is about to wait a long time for the server (IMAP
	 * IDLE): what was recorded goes to disk and the delivery sink is
	 * closed (a listener would time out); the next delivery opens a
	 * new one. */
	void		(*pause)(struct session *);
};

struct session {
	const struct cfg_query	*q;
	const struct session_ops *ops;
	void			*arg;		/* the driver's state */
	struct conn		*conn;
	const char		*host;		/* via, else poll name */
	const char		*truename;	/* for messages and Received */
	const char		*pollname;
	const char		*password;
	int			 verbose;
	int			 status;	/* PS_* of the poll so far */
	bool			 stop;		/* fetch no more messages (the
						 * sink failed); still QUIT */
	/* messages handed to deliver() (or, with -c, found new) */
	unsigned long		 fetched;
	/* IMAP: set by the driver, the summary has no octets and names
	 * the folder, progress shows header and body octets */
	bool			 imap;
	/* "POP3", "IMAP", "POP2", "ETRN", "ODMR": transcript prefix,
	 * messages, the Received header's "with" */
	const char		*proto_name;
	bool			 check;		/* -c: change nothing */
	/* IMAP, set by the protocol before plan(): the folder polled
	 * (NULL: the default one, not named in messages) and its
	 * UIDVALIDITY (0: none) */
	const char		*folder;
	uint32_t		 uidvalidity;
};

/* After a TLS handshake: the certificate lines -v shows and the
 * warning of an unverified connection. */
void	session_tls_report(struct session *);

/* The server's answer to QUIT (OK: accepted): commit the accepted
 * deletions through ops->committed, or set the status; 0, or -1 when
 * QUIT was refused or a deletion had been refused (DELE_FAILED). */
int	session_quit(struct session *, bool ok, bool dele_failed);

/* Transcript prefixes ("POP3"), used by the connection trace hook. */
void	session_trace(void *arg, int dir, const char *line, size_t len);

#endif
