/*
 * sink.h: where a fetched message goes.  One interface for SMTP, LMTP
 * (TCP or Unix socket), an MDA pipe and a BSMTP file; only the driver
 * uses it, protocol modules never do.
 *
 * Life cycle, per poll:
 *	s = sink_open(&conf, &cause);		connect/EHLO (SMTP, LMTP),
 *						open the file (BSMTP), nothing (MDA)
 *	for each message:
 *		r = sink_begin(s, &env);	MAIL/RCPT/DATA, spawn the MDA, ...
 *		sink_line(s, ...) for each line	Received + headers, blank, body
 *		r = sink_end(s);		commit: "." and the reply(s),
 *						MDA exit status, BSMTP write
 *		(or sink_abort(s) to drop it)
 *	sink_close(s);				QUIT, close
 *
 * A message may be deleted from the server only when sink_end() returned
 * SINK_OK.  After SINK_ERROR the sink is unusable (connection lost, MDA
 * could not be started, file not writable): close it; the driver may
 * open a new one for the next message.
 */
#ifndef SINK_H
#define SINK_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"

struct sink;

enum sink_kind {
	SINK_SMTP,		/* SMTP over TCP (or plugout) */
	SINK_LMTP,		/* LMTP over TCP or a Unix socket */
	SINK_MDA,		/* pipe to a command */
	SINK_BSMTP		/* append batch SMTP to a file or stdout */
};

enum sink_result {
	SINK_OK = 0,		/* accepted (sink_end: committed) */
	SINK_TEMPFAIL,		/* temporary refusal (4xx, MDA failure):
				 * keep the message, retry next poll */
	SINK_REFUSED,		/* permanent refusal (5xx) */
	SINK_ERROR		/* the sink broke (I/O, protocol, timeout) */
};

/* Where the current message failed (sink_fail_stage()). */
enum sink_stage {
	SINK_STAGE_NONE = 0,	/* no failure (or before any command) */
	SINK_STAGE_MAIL,	/* MAIL FROM */
	SINK_STAGE_RCPT,	/* RCPT TO: no recipient took it */
	SINK_STAGE_DATA,	/* the DATA command */
	SINK_STAGE_EOD		/* after the final "." (MDA: its exit) */
};

/* What the message body declares, for ESMTP BODY=. */
enum sink_body {
	SINK_BODY_UNKNOWN = 0,
	SINK_BODY_7BIT,
	SINK_BODY_8BIT
};

/* Settings of one sink, all borrowed for the sink's lifetime. */
struct sink_conf {
	enum sink_kind	 kind;
	/* SMTP/LMTP: the hunt list, entries "host", "host/port" or an
	 * absolute path (LMTP over a Unix socket); tried in order until a
	 * connection and greeting succeed.  Default port: 25 (SMTP); LMTP
	 * over TCP needs an explicit port. */
	const char	*const *hosts;
	size_t		 nhosts;
	const char	*plugout;	/* command replacing the TCP connect */
	const char	*heloname;	/* our name for EHLO/LHLO/HELO */
	const char	*smtpaddress;	/* domain for unqualified RCPT */
	const char	*smtpname;	/* full RCPT address (single-drop) */
	bool		 rawrcpt;	/* RCPT addresses as given, never
					 * qualified (bounces: "postmaster") */
	/* ESMTP AUTH to the listener (PLAIN, LOGIN, CRAM-MD5) when both
	 * are set and it offers one of them; a failure is not fatal. */
	const char	*esmtpname;
	const char	*esmtppassword;
	const char	*mda;		/* SINK_MDA: the command (%T %F %s) */
	const char	*bsmtp;		/* SINK_BSMTP: path or "-" */
	int		 timeout;	/* seconds per operation, 0 = none */
	bool		 stripcr;	/* MDA: lines end in LF */
	bool		 forcecr;	/* MDA: lines end in CRLF */
	bool		 pass8bits;	/* BODY=8BITMIME even when undeclared */
	/* -v transcript ("SMTP> ..."/"LMTP< ..."), NULL for none. */
	conn_trace_fn	*trace;
	void		*trace_arg;
	/* Called once per message while the listener or MDA works on it
	 * (the data has gone out, the verdict is not read yet), so that
	 * the caller can do its own slow work meanwhile; NULL for none. */
	void		(*idle)(void *arg);
	void		*idle_arg;
	/* -v -v debug lines (e.g. "about to deliver with: CMD"). */
	void		(*debug)(void *arg, const char *line);
	void		*debug_arg;
};

/* The envelope of one message (borrowed for the sink_begin() call). */
struct sink_env {
	const char	*sender;	/* MAIL FROM without <>; "" = <> */
	const char	*const *rcpt;	/* local names or full addresses */
	size_t		 nrcpt;
	unsigned long long size;	/* server-reported size, 0 = unknown */
	enum sink_body	 body;
	/* SMTP/LMTP: the name tried in the same transaction when every
	 * recipient was refused for good (the postmaster); qualified like
	 * the others but never replaced by smtpname.  NULL or "": none. */
	const char	*fallback;
};

/*
 * Open the sink.  NULL and an allocated *cause (caller frees) when no
 * host of the hunt list could be reached, or the BSMTP file not opened.
 */
struct sink	*sink_open(const struct sink_conf *, char **cause);
/* QUIT and close; an open message is aborted.  NULL ok. */
void		 sink_close(struct sink *);

/*
 * Start a message: SMTP/LMTP MAIL FROM, RCPT TO each recipient, DATA;
 * MDA: expand %T/%F/%s (each quoted for the shell) and start the
 * command; BSMTP: write the envelope lines.  SINK_OK when at least one
 * recipient was accepted; the others are reported by sink_rcpt_*().
 */
enum sink_result sink_begin(struct sink *, const struct sink_env *);
/*
 * One line of the message (Received, headers, the blank line, body)
 * without its line end; eol is the CONN_EOL_* it had (CONN_EOL_NONE: a
 * piece of a longer line, more of it follows).  The sink adds the line
 * end it needs and dot-stuffs for SMTP/LMTP/BSMTP.  SINK_OK, or
 * SINK_ERROR (then sink_end() reports it).
 */
enum sink_result sink_line(struct sink *, const char *, size_t, int eol);
/* Commit the message and report its fate (LMTP: every recipient must
 * be accepted for SINK_OK; see sink_rcpt_*() for each one). */
enum sink_result sink_end(struct sink *);
/* Give up on the current message (SMTP RSET, MDA killed). */
void		 sink_abort(struct sink *);

/* Recipients of the current message as sent ("user@localhost") and
 * each one's fate after sink_begin() (and, for LMTP, sink_end()). */
size_t		 sink_rcpt_count(const struct sink *);
const char	*sink_rcpt_addr(const struct sink *, size_t);
enum sink_result sink_rcpt_result(const struct sink *, size_t);
/* Number of recipients accepted so far. */
size_t		 sink_naccepted(const struct sink *);
/* The listener's reply line about recipient i (RCPT, or LMTP end of
 * data), "" if none; for bounces.  Borrowed until the next message. */
const char	*sink_rcpt_reply(const struct sink *, size_t);

/* The reply code of recipient i (0 when it got none). */
int		 sink_rcpt_code(const struct sink *, size_t);
/* Whether recipient i is the fallback (see sink_env.fallback). */
bool		 sink_rcpt_is_fallback(const struct sink *, size_t);

/* Text of the last failure (the whole reply, lines joined by "\n",
 * control characters as '?'; or an errno text); borrowed. */
const char	*sink_error(const struct sink *);
/* The reply code behind the last failure, 0 if it was not a reply (I/O,
 * protocol error, MDA). */
int		 sink_error_code(const struct sink *);
/* Where the current message failed. */
enum sink_stage	 sink_fail_stage(const struct sink *);
/* Name of the host in use ("localhost", "/run/lmtp"), "" if none. */
const char	*sink_host(const struct sink *);
/* Whether %T, %F or %s appear inside single quotes in an MDA command
 * (the reference refuses such a command). */
bool		 sink_mda_quoted_expansion(const char *mda);
/* The letter of the first such expansion ('T', 'F', 's' or '%' as in
 * "single-quoted %T expansion"), 0 if none. */
int		 sink_mda_quoted_expansion_char(const char *mda);

/* Protocol word for messages: "SMTP", "LMTP", "MDA", "BSMTP". */
const char	*sink_name(const struct sink *);

#endif
