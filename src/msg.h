/*
 * msg.h: a message as the protocol hands it to the driver, and the
 * header processing between the protocol and the sink.
 *
 * The protocol gives a line source (struct msgsrc): POP3 removes the
 * byte-stuffing and stops at the terminating ".", IMAP counts the
 * literal.  msg_read_header() reads the header block from it, keeps the
 * lines (bounded) and works out the envelope sender and the other facts
 * the driver needs; msg_write_header() emits the processed block, with
 * fetchmail's Received: line, through a line callback.  The body then
 * streams from the source straight to the sink, line by line.
 */
#ifndef MSG_H
#define MSG_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct msg;
struct rcpt_field;

/* A source of message lines.  next() puts the next line (or a piece of
 * an over-long line) into line, replacing its contents, without its line
 * end, and *eol = CONN_EOL_*; returns 1, 0 at the end of the message, -1
 * on error (the poll is then broken). */
struct msgsrc {
	int	(*next)(void *ctx, struct buf *line, int *eol);
	void	*ctx;
};

/* Line callback for msg_write_header(): 0, or -1 to stop. */
typedef int	msg_out_fn(void *arg, const char *line, size_t len, int eol);

/* Longest header block kept, in bytes (a longer one is an error). */
#define MSG_HEADER_MAX	(64u * 1024 * 1024)
/* Most header fields kept (more is an error, like a too long block). */
#define MSG_FIELDS_MAX	(4u * 1024 * 1024)

/* The fetchmail version we behave like ("fetchmail-6.4.37" in Received). */
#define FETCHMAIL_COMPAT_VERSION	"6.4.37"

/* Per-query settings of the header processing, borrowed. */
struct msg_opts {
	const char	*truename;	/* server's true name */
	const char	*ipaddr;	/* its address for Received, or NULL */
	const char	*localhost;	/* our host name ("by" in Received) */
	const char	*proto;		/* "POP3", "IMAP" */
	const char	*pollname;	/* tracepolls: "polling NAME" */
	const char	*remote;	/* tracepolls: "account USER" */
	const char	*folder;	/* tracepolls: " folder F", or NULL */
	const char	*user;		/* invoking user's login name (the
					 * headerless "To: USER@LOCALHOST"),
					 * NULL: remote */
	bool		 tracepolls;
	bool		 invisible;	/* no Received: line */
	bool		 rewrite;	/* qualify bare local parts */
	bool		 dropstatus;	/* drop Status:/X-Mozilla-Status: */
	bool		 dropdelivered;	/* drop Delivered-To: */
	bool		 keep_return_path; /* MDA: keep Return-Path: */
	bool		 badheader_accept; /* bad-header accept */
};

/* Facts about the message found while reading the header. */
struct msg_info {
	char		*sender;	/* envelope sender (allocated): the
					 * address without <>; "" for <>
					 * (then sender_null) or for none */
	bool		 sender_null;	/* Return-Path: <>, the null sender:
					 * MAIL FROM:<>, MDA %F "<>" */
	char		*bad_line;	/* the first line that made
					 * bad_header (allocated), or NULL */
	bool		 bad_header;	/* a line that is not a header field
					 * (see msg_opts.badheader_accept) */
	bool		 had_nul;	/* NUL bytes were removed */
	bool		 headerless;	/* synthetic headers were made */
	bool		 x_imap;	/* an X-IMAP: field (UW-IMAP) */
	int		 body8;		/* 0 unknown, 1 7bit, 2 8bit (MIME
					 * Content-Transfer-Encoding) */
	size_t		 header_bytes;	/* as received */
};

/* What the Received: line says about the recipients. */
struct msg_received {
	const char	*rcpt;		/* the one accepted address, or NULL */
	const char	*mode;		/* "single-drop", "multi-drop",
					 * "by default" (only with rcpt) */
	long long	 when;		/* time_t of the fetch */
	/* Extra X-Fetchmail-Warning text, NULL for none. */
	const char	*warning;
};

struct msg	*msg_new(const struct msg_opts *);
void		 msg_free(struct msg *);

/*
 * Read the header block from src up to and including the blank line
 * (or the end of the message).  0 with *info filled (borrowed from the
 * msg), -1 when the source failed or the block exceeded MSG_HEADER_MAX;
 * msg_error() says why.  A msg reads one header; msg_reset() for the
 * next message.
 */
int		 msg_read_header(struct msg *, struct msgsrc *,
		    const struct msg_info **);
/*
 * Emit Received: (unless invisible), the processed header lines, the
 * X-Fetchmail-Warning: line if any, and the blank line, through out.
 * 0, or -1 if out returned -1.
 */
int		 msg_write_header(struct msg *, const struct msg_received *,
		    msg_out_fn *out, void *arg);
/* Emit only the processed header fields (no Received:, no warning, no
 * blank line), e.g. for a bounce.  0, or -1 if out returned -1. */
int		 msg_write_fields(struct msg *, msg_out_fn *out, void *arg);
/*
 * The header fields as rcpt_find() wants them: every field in order,
 * after the rewriting, including the ones msg_write_header() drops
 * (Return-Path:, Delivered-To: with dropdelivered, Status: with
 * dropstatus) but for "From " lines and blank Status: fields; none for
 * a headerless message.  An array to free (*n entries) whose texts are
 * borrowed from the msg until msg_reset().
 */
struct rcpt_field *msg_rcpt_fields(const struct msg *, size_t *n);
/* Whether the header block ended at the end of the message (no body). */
bool		 msg_header_only(const struct msg *);
void		 msg_reset(struct msg *);
const char	*msg_error(const struct msg *);

/* The Received: date, "Sat, 21 Nov 2026 22:39:27 +0000 (UTC)", into buf
 * (at least 64 bytes). */
void		 msg_date(long long when, char *buf, size_t size);

/*
 * The SMTP/LMTP MAIL FROM address for the sender in info, as the
 * reference sends it (caller frees): "" for the null sender; REMOTE@TRUE
 * when there is none or it starts with "@"; ADDR@TRUE for an address
 * without "@" or "!"; else the address.  TRUE is the truename, "[a.b.c.d]"
 * for a dotted quad.  (BSMTP writes the sender as it is, or the invoking
 * user's name when there is none; an MDA's %F is the sender, "<>" for the
 * null sender.)
 */
char		*msg_smtp_sender(const struct msg_info *,
		    const struct msg_opts *);

#endif
