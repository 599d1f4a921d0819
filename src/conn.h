/*
 * conn.h: the only way protocol and SMTP/LMTP code reach the network.
 *
 * A conn is a byte stream (TCP socket, plugin socketpair, or two fds)
 * with an input buffer, an output buffer, an optional TLS layer and a
 * per-operation timeout: every call that waits (connect, getline, read,
 * flush, STARTTLS handshake) gets its own deadline of timeout seconds
 * from its start, enforced with poll(2); no signals are used.
 *
 * Errors: constructors return NULL and an allocated *cause (caller
 * frees).  Other calls return -1 and keep the text for conn_error().
 * A conn whose peer closes or times out is not repaired; free it.
 *
 * Writing to a peer that has gone away must not kill the process: TCP
 * and plugin sockets use MSG_NOSIGNAL, but TLS and pipe fds use write(),
 * so the program should ignore SIGPIPE (the reference does too).
 */
#ifndef CONN_H
#define CONN_H

#include <stddef.h>
#include <sys/types.h>

struct buf;
struct conn;
struct tls_opts;
struct tls_info;

/* End of the last line returned by conn_getline()/conn_getchunk(). */
#define CONN_EOL_NONE	0	/* no line end (chunk of a longer line) */
#define CONN_EOL_LF	1	/* "\n" was stripped */
#define CONN_EOL_CRLF	2	/* "\r\n" was stripped */

/* Direction argument of the transcript callback. */
#define CONN_TRACE_IN	'<'	/* line received from the peer */
#define CONN_TRACE_OUT	'>'	/* line sent to the peer */

/* conn_mask_next(): keep only the command word, as in "PASS *". */
#define CONN_MASK_WORD	((size_t)-1)

/*
 * Transcript hook, called once per line without its line end: for each
 * line (or chunk) conn_getline()/conn_getchunk() return, and for each
 * line queued by conn_write()/conn_printf().  conn_read() bytes are not
 * traced.  line is bytes plus length (may hold NUL or control bytes:
 * escape before logging; outgoing lines are cut at 4096 bytes);
 * borrowed for the call only.
 */
typedef void	conn_trace_fn(void *arg, int dir, const char *line,
		    size_t len);

/*
 * TCP connection to host:port (name or number), trying every address
 * getaddrinfo returns (IPv6 and IPv4) in order; each attempt is bounded
 * by timeout seconds (0 = the system's own limit).
 */
struct conn	*conn_connect(const char *host, const char *port,
		    int timeout, char **cause);
/* conn_connect(), calling HOOK with the numeric address and port before
 * each attempt (why NULL) and after each failed one (why = reason). */
typedef void	(*conn_attempt_fn)(void *arg, const char *addr,
		    const char *port, const char *why);
struct conn	*conn_connect_report(const char *host, const char *port,
		    int timeout, conn_attempt_fn hook, void *arg, char **cause);
/*
 * Run command with /bin/sh -c; its stdin and stdout are the connection
 * (one socketpair), stderr is inherited.  The child is reaped by
 * conn_free().
 */
struct conn	*conn_spawn(const char *command, int timeout, char **cause);
/* Wrap existing fds (may be equal); conn_free() closes them. */
struct conn	*conn_from_fds(int rfd, int wfd, int timeout);
/* Close fds (sending TLS close_notify first), reap a child; NULL ok. */
void		 conn_free(struct conn *);

/* Per-operation timeout in seconds; 0 = wait forever. */
void		 conn_set_timeout(struct conn *, int);
int		 conn_get_timeout(const struct conn *);
/* Last error text; borrowed until the next call on this conn. */
const char	*conn_error(const struct conn *);

/*
 * Read one line into line (replacing its contents).  1 = a line, its
 * "\r\n" or "\n" stripped (conn_eol() says which), bytes may include
 * NUL; 0 = EOF before any byte; -1 = error, timeout, EOF in the middle
 * of a line, or a line longer than max bytes (excluding the line end).
 */
int		 conn_getline(struct conn *, struct buf *line, size_t max);
/*
 * Like conn_getline(), but a line longer than max is returned in pieces
 * of max bytes with conn_eol() == CONN_EOL_NONE (message bodies); the
 * last piece carries the line end.  A "\r\n" is never split between
 * pieces.  max 0 counts as 1.
 */
int		 conn_getchunk(struct conn *, struct buf *line, size_t max);
/* CONN_EOL_* of the last line or chunk returned. */
int		 conn_eol(const struct conn *);
/*
 * Append exactly n bytes to out (IMAP literals).  0 = done; -1 = error,
 * timeout, EOF before n bytes, or out would exceed its maximum.
 */
int		 conn_read(struct conn *, struct buf *out, size_t n);
/*
 * Wait up to seconds (0 or less: without limit) for input without
 * treating silence as an error (IMAP IDLE): 1 = input is buffered, or
 * the peer sent bytes, closed or failed (the next read tells); 0 = the
 * time passed with nothing received (the conn stays usable); -1 = error.
 * Interrupted system calls are resumed.
 */
int		 conn_await(struct conn *, int seconds);
/* Bytes already received and buffered but not yet returned. */
size_t		 conn_pending(const struct conn *);

/*
 * Queue bytes for sending.  Output is sent by conn_flush() (or early,
 * when more than an internal high-water mark is queued), so a pipelining
 * client can queue several commands and send them in one write.
 * 0 or -1 (error from an early flush).
 */
int		 conn_write(struct conn *, const void *, size_t);
int		 conn_printf(struct conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/* Send everything queued; 0 or -1 (error or timeout). */
int		 conn_flush(struct conn *);

/* Install (or with NULL remove) the transcript callback. */
void		 conn_set_trace(struct conn *, conn_trace_fn *, void *arg);
/*
 * Mask the next line written in the transcript: keep its first keep
 * bytes and show "*" for the rest; CONN_MASK_WORD keeps the first word
 * and one space ("PASS *"); a line shorter than keep, or without a
 * space under CONN_MASK_WORD, is shown as "*".  The output buffer is
 * also wiped once the line has been sent.
 */
void		 conn_mask_next(struct conn *, size_t keep);

/*
 * Start TLS on the connection: right after conn_connect() for implicit
 * TLS, or after the server's positive STARTTLS/STLS reply.  Queued
 * output is an error (nothing may be sent in clear after the command);
 * buffered input is discarded, see conn_discarded().  The handshake has
 * the conn's timeout.  Certificate checks as described in tls.h; on
 * failure -1 and *cause (caller frees); the conn is then unusable.
 */
int		 conn_starttls(struct conn *, const struct tls_opts *,
		    char **cause);
/*
 * Plaintext bytes the server sent after its STARTTLS reply and that the
 * last conn_starttls() threw away.  Non-zero is suspicious (response
 * injection); the caller must in any case forget all pre-TLS state and
 * re-read capabilities.
 */
size_t		 conn_discarded(const struct conn *);
/* 1 if TLS is active. */
int		 conn_is_tls(const struct conn *);
/* Peer certificate and session details; NULL without TLS.  Borrowed. */
const struct tls_info *conn_tls_info(const struct conn *);
/*
 * One line for -v: "subject DN, issuer DN, SHA-256 fingerprint AA:..";
 * NULL without TLS or without a peer certificate.  Borrowed.
 */
const char	*conn_tls_peer(const struct conn *);
/* Host name given to conn_connect(), else NULL.  Borrowed. */
const char	*conn_host(const struct conn *);

/*
 * Wait up to seconds (0 or less: without limit) until a or b has
 * something to read: the result has bit 1 set for a and bit 2 for b
 * (input buffered, or an EOF or error the next read reports); 0 = the
 * time passed in silence; -1 = error (conn_error(a)).  For relaying
 * one stream into another; the conns stay usable.
 */
int		 conn_await_either(struct conn *a, struct conn *b, int seconds);

#endif
