/*
 * bounce.h: messages fetchmail writes itself: delivery status
 * notifications (RFC 3464 multipart/report bounces) for mail the
 * listener refused, and the oversized-message warning.  Both go out
 * through a sink of their own; nothing here decides *whether* to send
 * (that is the delivery policy in deliver.c).
 */
#ifndef BOUNCE_H
#define BOUNCE_H

#include <stdbool.h>
#include <stddef.h>

#include "sink.h"

struct buf;

/* One failed recipient of a bounce. */
struct bounce_fail {
	const char	*addr;		/* the address as sent */
	const char	*reply;		/* the listener's reply ("\n" between
					 * the lines of a multi-line one) */
};

/* A bounce (all borrowed). */
struct bounce {
	const char	*to;		/* its recipient: sender or postmaster */
	const char	*fqdn;		/* our name: MAILER-DAEMON@fqdn */
	const char	*reason;	/* Reason: text ("\n" allowed) */
	const struct bounce_fail *fail;
	size_t		 nfail;
	const char	*headers;	/* the refused message's header
					 * fields, CRLF lines, or NULL */
	size_t		 headerslen;
	long long	 when;		/* time of the failure */
};

/* One line of the oversized-message warning: a skipped message. */
struct bounce_oversized {
	unsigned long		 count;	/* shown first: 1 per message, as
					 * the reference shows it */
	unsigned long long	 size;
};

/* The oversized-message warning (all borrowed). */
struct bounce_warning {
	const char	*to;		/* the local user or postmaster */
	const char	*from_domain;	/* smtpaddress, else our name */
	const char	*host;		/* server name */
	const char	*user;		/* remote account */
	bool		 deleted;	/* limitflush: they were deleted */
	const struct bounce_oversized *msgs;
	size_t		 nmsgs;
	long long	 when;
};

/*
 * Oversized messages a daemon skipped, per account ("user@server"),
 * kept for the life of the process: each message (key: its UID, or
 * number and size) is reported once, and an account gets a warning at
 * most every `warnings` seconds.  Note one when it is skipped;
 * bounce_oversized_due() lists what a warning sent now should report
 * (0 when nothing is new or the last warning is too recent; the list is
 * borrowed until the next call); bounce_oversized_sent() after it went
 * out.
 */
void	bounce_oversized_note(const char *account, const char *key,
	    unsigned long num, unsigned long long size);
size_t	bounce_oversized_due(const char *account, long long now,
	    long long interval, const struct bounce_oversized **list);
void	bounce_oversized_sent(const char *account, long long now);

/*
 * Whether a bounce may go to this envelope sender: not empty, not
 * "<>", not MAILER-DAEMON (any case, with or without a domain).
 */
bool	bounce_sender_ok(const char *);
/* The RFC 3463 status "5.1.1" a reply carries, else "C.0.0" with C its
 * first digit ("5.0.0" if it has none) into out. */
void	bounce_status(const char *reply, char *out, size_t size);
/* The whole bounce (header and body, CRLF lines) into b, with this
 * MIME boundary. */
void	bounce_build(struct buf *b, const struct bounce *, const char *boundary);
/* The oversized-message warning (header and body, CRLF lines) into b. */
void	bounce_build_warning(struct buf *b, const struct bounce_warning *);
/*
 * Send a message built above through a new sink on conf (its hunt list
 * and settings; MAIL FROM sender, "" for <>), to one recipient.  0, or
 * -1 with *cause (allocated) when it was not accepted.
 */
int	bounce_send(const struct sink_conf *conf, const char *sender,
	    const char *rcpt, const struct buf *msg, char **cause);

#endif
