/*
 * pop3_priv.h: the state of a POP3 session shared by pop3.c (listing,
 * retrieval, deletion) and pop3_login.c (greeting, capabilities, STLS,
 * authentication).
 */
#ifndef POP3_PRIV_H
#define POP3_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "pop3_parse.h"

#define POP3_LINE_MAX	(64 * 1024)	/* longest reply line */
#define POP3_CHUNK	(64 * 1024)	/* body piece handed to the sink */
#define POP3_WINDOW	64		/* commands in flight, pipelining */

enum pcmd {
	PC_NONE,		/* no command: a message left alone */
	PC_RETR,		/* RETR of a message to deliver */
	PC_DELE,		/* DELE of a delivered message */
	PC_SKIPDELE,		/* DELE of a message deleted unread */
	PC_QUIT,		/* the end of the session */
	PC_ENV			/* SDPS *ENV of a message to fetch */
};

struct pending {
	enum pcmd	 cmd;
	size_t		 idx;		/* index into the listing */
	unsigned long	 seq;		/* order of queueing */
};

struct pop3 {
	struct session	*s;
	struct conn	*c;
	struct buf	*line;
	struct pop3_caps caps;
	char		*greeting;
	struct pending	*fifo;		/* ring of in-flight commands */
	size_t		 head, count, cap;
	size_t		 inflight;	/* RETRs and unread DELEs among them:
					 * the window; a delivered message's
					 * DELE does not hold the next RETR
					 * back */
	size_t		 retrs;		/* RETRs among them */
	size_t		 cmds;		/* commands among them (lock-step:
					 * at most one) */
	bool		 body_bol;	/* msgsrc: at a line start */
	bool		 body_done;
	bool		 body_err;
	bool		 dele_failed;	/* a DELE got -ERR */
	bool		 sdps;		/* *ENV before each RETR */
	bool		 prelisted;	/* STAT, UIDL, LIST sent with the
					 * login */
	bool		 lazy;		/* the plan runs: replies do not
					 * flush (see run_plan) */
	unsigned long	 seq_pushed;	/* last queued entry */
	unsigned long	 seq_sent;	/* last entry sent */
	size_t		 unsent_retrs;	/* RETRs queued, not yet sent */
};

struct pop3_tls;

/* Report a connection failure, set the socket status; -1. */
int	pop3_io_fail(struct pop3 *);
/* Read one reply line: POP3_OK/POP3_ERR/POP3_CONT with the text, or -1. */
int	pop3_reply(struct pop3 *, const char **text, size_t *tlen);
/* Queue a command line (CRLF added; the text wiped after use); 0 or -1. */
int	pop3_sendf(struct pop3 *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Send a command and read its status line (lock-step). */
int	pop3_command(struct pop3 *, const char **, size_t *, const char *,
	    ...) __attribute__((format(printf, 4, 5)));
/* The command that completes the login, then pop3_prelist(). */
int	pop3_last_login_command(struct pop3 *, const char **, size_t *,
	    const char *, ...) __attribute__((format(printf, 4, 5)));
/* With PIPELINING, STAT, UIDL and LIST go out behind the last login
 * command, saving a round trip; should the login fail, their replies
 * are never read (the session ends).  0 or -1. */
int	pop3_prelist(struct pop3 *);
/* CAPA; a -ERR leaves caps.capa false.  0 or -1. */
int	pop3_capa(struct pop3 *);
/* Map a -ERR during login to the status the reference uses; -1. */
int	pop3_login_error(struct pop3 *, const char *, size_t);

/* pop3_login.c: greeting, capabilities, TLS and authentication; 0, or
 * -1 with the status set. */
int	pop3_login(struct pop3 *, const struct pop3_tls *);

#endif
