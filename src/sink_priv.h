/*
 * sink_priv.h: what sink.c shares with the sink implementations
 * (sink_smtp.c, sink_mda.c, sink_bsmtp.c).  Nothing outside the sink
 * files includes it.
 */
#ifndef SINK_PRIV_H
#define SINK_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "sink.h"

/* One recipient of the current message. */
struct sink_rcpt {
	char		*addr;		/* as sent: "user@dest" */
	const char	*local;		/* as given by the driver (borrowed
					 * for sink_begin() only) */
	char		*reply;		/* reply about it, or NULL */
	int		 code;		/* its reply code, 0 for none */
	bool		 fallback;	/* the sink_env.fallback entry */
	enum sink_result result;
};

/* Where the current message is. */
enum sink_state {
	SINK_IDLE,			/* between messages */
	SINK_INMSG,			/* sink_begin() succeeded */
	SINK_FAILED			/* in a message, but a write failed */
};

/* The operations of one kind of sink. */
struct sink_ops {
	const char	*name;
	/* Connect/open: 0, or -1 and *cause (allocated). */
	int		 (*open)(struct sink *, char **);
	/* Envelope (s->rcpt is already filled in). */
	enum sink_result (*begin)(struct sink *, const struct sink_env *);
	/* One line or piece (see sink_line()). */
	enum sink_result (*line)(struct sink *, const char *, size_t, int);
	enum sink_result (*end)(struct sink *);
	void		 (*abort)(struct sink *);
	/* Release everything the open made (sink state is IDLE). */
	void		 (*close)(struct sink *);
};

struct sink {
	const struct sink_conf	*conf;
	const struct sink_ops	*ops;
	const char		*name;	/* "SMTP", "LMTP", ... */
	char			*host;	/* sink_host(); NULL = "" */
	char			*dest;	/* domain for unqualified names */
	char			*error;	/* sink_error(); NULL = "" */
	int			 code;	/* sink_error_code() */
	enum sink_stage		 stage;	/* sink_fail_stage() */
	const char		*fallback; /* of the current message, or NULL */
	struct sink_rcpt	*rcpt;
	size_t			 nrcpt;
	enum sink_state		 state;
	bool			 bol;	/* next piece starts a line */
	void			*impl;	/* the kind's own state */
};

/* Writer used by sink_put_stuffed(): 0 or -1. */
typedef int	sink_put_fn(void *arg, const void *, size_t);

extern const struct sink_ops sink_smtp_ops;
extern const struct sink_ops sink_mda_ops;
extern const struct sink_ops sink_bsmtp_ops;

/* Replace the error text (printf-style). */
void	sink_seterr(struct sink *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Replace the error text with bytes of a reply line, control chars as
 * '?'. */
void	sink_seterr_line(struct sink *, const char *, size_t);
/* A copy of a reply line for display (control chars as '?'). */
char	*sink_printable(const char *, size_t);
/* A copy of an address with CR and LF replaced by '_' (no command
 * injection through a hostile Return-Path). */
char	*sink_clean_addr(const char *);
/* Note where the current message failed and the reply code (0: none). */
void	sink_setfail(struct sink *, enum sink_stage, int code);
/* Append the fallback recipient (s->fallback, qualified without
 * smtpname) to s->rcpt, not tried yet; its index. */
size_t	sink_rcpt_add_fallback(struct sink *);
/* Set the destination domain for unqualified recipients. */
void	sink_set_dest(struct sink *, const char *);
/* Set the host name shown by sink_host(). */
void	sink_set_host(struct sink *, const char *);
/*
 * Write one line or piece dot-stuffed, with CRLF after a complete line
 * (eol != CONN_EOL_NONE); keeps s->bol.  0 or -1 (from put).
 */
int	sink_put_stuffed(struct sink *, sink_put_fn *, void *,
	    const char *, size_t, int eol);

#endif
