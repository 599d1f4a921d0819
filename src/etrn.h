/*
 * etrn.h: ETRN (RFC 1985): ask an SMTP relay to flush its queue for the
 * `fetchdomains` (default: this host's name) toward us.
 *
 * The SMTP client steps ETRN and ODMR (odmr.c) share are here too:
 * greeting and EHLO, the ESMTP AUTH of the relay, reading replies and
 * the closing QUIT, with the reference's messages and statuses.
 */
#ifndef ETRN_H
#define ETRN_H

#include <stdbool.h>

struct buf;
struct cfg_query;
struct session;

/* Options a relay trigger cannot honour (keep, flush, folder, -c, then
 * fetchall and limit) for protocol NAME ("ETRN", "ODMR"): the first one
 * found is logged as the reference does and PS_SYNTAX returned; 0 when
 * there is none. */
int	etrn_refuse(const struct cfg_query *, bool check, const char *name);
/* The ETRN dialogue on s->conn, already connected to the relay's SMTP
 * port; HOSTNAME is this host (EHLO, default domain).  Returns the
 * query status (PS_*). */
int	etrn_session(struct session *, const char *hostname);

/* What the relay's EHLO reply offered. */
struct etrn_caps {
	bool	etrn, atrn;
	bool	auth;		/* an AUTH line */
	bool	cram, plain, login;
};

/* Statuses the reference gives a failed greeting or EHLO (its SMTP
 * layer's codes leak out as query statuses above PS_*). */
#define ETRN_SM_REFUSED	128	/* a non-2xx reply */
#define ETRN_SM_EOF	129	/* EHLO answered by a closed connection */

/* Read the greeting, send EHLO HOSTNAME and collect the capabilities;
 * 0, or the status (messages logged). */
int	etrn_greet(struct session *, const char *hostname, struct etrn_caps *);
/* ESMTP AUTH as USER with PASS by the best mechanism offered (CRAM-MD5,
 * PLAIN, LOGIN), as the reference's SMTP layer does it after EHLO when
 * esmtpname/esmtppassword are set: only the final reply is shown, a
 * refusal is not fatal.  0. */
int	etrn_auth(struct session *, const struct etrn_caps *, const char *user,
	    const char *pass);
/* Read a reply by the rules of the reference's SMTP layer ("SMTP<"
 * transcript): 0 for 2xx, ETRN_SM_REFUSED for another code, PS_PROTOCOL
 * for a closed connection or garbage. */
int	etrn_smtp_reply(struct session *);
/* Read one reply with the protocol's "<" transcript prefix into LINE
 * (its last line) and *code (0 if none); 0, or PS_SOCKET logged. */
int	etrn_recv(struct session *, struct buf *line, int *code);
/* Send the protocol command (transcript prefix "PROTO>"), flushed; 0 or
 * PS_SOCKET logged. */
int	etrn_send(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Finish a dialogue whose status so far is ST: QUIT (unless ST is
 * PS_SOCKET), the reference's end-of-query messages; the query status. */
int	etrn_finish(struct session *, int st);

#endif
