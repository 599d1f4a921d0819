/*
 * etrn.c: ETRN (RFC 1985), and the SMTP client steps it shares with
 * ODMR (odmr.c): greeting and EHLO, ESMTP AUTH, replies and QUIT.
 *
 * Nothing is fetched: the relay is asked to start delivering its queue
 * for each of the query's fetchdomains to us.  Transcripts use the
 * reference's prefixes: "SMTP" for the greeting, EHLO and the replies
 * its SMTP layer reads (final AUTH reply, QUIT reply), the protocol's
 * name for its own commands and the replies to them.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "buf.h"
#include "cfg.h"
#include "conn.h"
#include "etrn.h"
#include "i18n.h"
#include "log.h"
#include "session.h"
#include "xmalloc.h"

#define ETRN_LINE_MAX	4096	/* longest reply line accepted */

/* What reading a reply by the SMTP layer gave. */
enum smtp_res { SMTP_OK, SMTP_FAIL, SMTP_ERR };

static void		 trace_as(struct session *, const char *);
static int		 reply_code(const char *, size_t, bool *);
static void		 note_caps(struct etrn_caps *, const char *, size_t);
static enum smtp_res	 smtp_read(struct session *, struct buf *,
			    struct etrn_caps *, bool);
static int		 io_fail(struct session *, bool);
static int		 send_line(struct session *, const char *);
static bool		 auth_put(struct session *, const char *);
static bool		 auth_334(struct session *, struct buf *);
static bool		 auth_put_b64(struct session *, const char *,
			    const void *, size_t);
static bool		 auth_cram(struct session *, struct buf *,
			    const char *, const char *);
static bool		 auth_plain(struct session *, const char *,
			    const char *);
static bool		 auth_login(struct session *, struct buf *,
			    const char *, const char *);
static int		 etrn_domain(struct session *, struct buf *,
			    const char *);

/* ---------------------------------------------------------------- */
/* options                                                          */

int
etrn_refuse(const struct cfg_query *q, bool check, const char *name)
{
	const struct cfg_opts	*o = &q->o;
	const char		*opt = NULL;

	if (o->keep == FLAG_TRUE)
		opt = "--keep";
	else if (o->flush == FLAG_TRUE)
		opt = "--flush";
	else if (o->mailboxes.n > 0)
		opt = "--folder";
	else if (check)
		opt = "--check";
	if (opt != NULL) {
		/* the reference writes these to stderr unprefixed */
		log_err_plain(_("Option %s is not supported with %s"), opt,
		    name);
		return PS_SYNTAX;
	}
	if (o->fetchall == FLAG_TRUE)
		opt = "--all";
	else if (o->limit.set)
		opt = "--limit";
	if (opt != NULL) {
		log_err(_("Option %s is not supported with %s"), opt, name);
		return PS_SYNTAX;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* replies and commands                                             */

/* Switch the transcript prefix ("SMTP", "ETRN", "ODMR"). */
static void
trace_as(struct session *s, const char *prefix)
{
	conn_set_trace(s->conn, session_trace, (void *)prefix);
}

/* The reply code of a line (atoi-like, 0 without digits); *more is set
 * for a continuation line ("250-..."). */
static int
reply_code(const char *p, size_t n, bool *more)
{
	int	code = 0;
	size_t	i;

	for (i = 0; i < n && i < 3 && p[i] >= '0' && p[i] <= '9'; i++)
		code = code * 10 + (p[i] - '0');
	*more = i == 3 && n > 3 && p[3] == '-';
	return code;
}

/* Record the EHLO keyword of one reply line. */
static void
note_caps(struct etrn_caps *c, const char *p, size_t n)
{
	char	*t, *w, *save = NULL;
	bool	 auth;

	if (n < 4)
		return;
	t = xstrndup(p + 4, n - 4);
	w = strtok_r(t, " =", &save);
	auth = w != NULL && strcasecmp(w, "AUTH") == 0;
	if (w != NULL && strcasecmp(w, "ETRN") == 0)
		c->etrn = true;
	if (w != NULL && strcasecmp(w, "ATRN") == 0)
		c->atrn = true;
	if (auth)
		c->auth = true;
	while (auth && (w = strtok_r(NULL, " ", &save)) != NULL) {
		if (strcasecmp(w, "CRAM-MD5") == 0)
			c->cram = true;
		else if (strcasecmp(w, "PLAIN") == 0)
			c->plain = true;
		else if (strcasecmp(w, "LOGIN") == 0)
			c->login = true;
	}
	free(t);
}

/*
 * Read a whole reply as the reference's SMTP layer does ("SMTP<"):
 * SMTP_OK for 2xx, SMTP_FAIL for another code, SMTP_ERR for a closed
 * connection or a line without a code ("smtp listener protocol error"
 * logged when LOUD, at -v as the reference does).  CAPS, when given,
 * collects EHLO keywords.
 */
static enum smtp_res
smtp_read(struct session *s, struct buf *line, struct etrn_caps *caps,
    bool loud)
{
	bool	more = true;
	int	code = 0;

	trace_as(s, "SMTP");
	while (more) {
		if (conn_getline(s->conn, line, ETRN_LINE_MAX) != 1 ||
		    (code = reply_code(buf_data(line), buf_len(line),
		    &more)) < 100) {
			if (loud && log_verbosity() >= 1)
				log_err("%s", _("smtp listener protocol "
				    "error"));
			return SMTP_ERR;
		}
		if (caps != NULL)
			note_caps(caps, buf_data(line), buf_len(line));
	}
	return code >= 200 && code < 300 ? SMTP_OK : SMTP_FAIL;
}

/* Report a failed read or write (ERR: not a plain EOF) as the
 * reference does; PS_SOCKET. */
static int
io_fail(struct session *s, bool err)
{
	int	 t = conn_get_timeout(s->conn);
	char	*tmo = xasprintf(_("timeout after %d seconds"), t);

	if (err && strcmp(conn_error(s->conn), tmo) == 0)
		log_info(_("timeout after %d seconds waiting for server %s."),
		    t, s->pollname);
	else if (err)
		log_err("%s", conn_error(s->conn));
	free(tmo);
	log_err(_("socket error while fetching from %s@%s"), s->q->o.remote,
	    s->pollname);
	return PS_SOCKET;
}

int
etrn_recv(struct session *s, struct buf *line, int *code)
{
	bool	more = true;
	int	r;

	trace_as(s, s->proto_name);
	*code = 0;
	while (more) {
		if ((r = conn_getline(s->conn, line, ETRN_LINE_MAX)) != 1)
			return io_fail(s, r == -1);
		*code = reply_code(buf_data(line), buf_len(line), &more);
	}
	return 0;
}

/* Send one line (transcript as set); 0 or PS_SOCKET (logged). */
static int
send_line(struct session *s, const char *text)
{
	if (conn_printf(s->conn, "%s\r\n", text) != 0 ||
	    conn_flush(s->conn) != 0)
		return io_fail(s, true);
	return 0;
}

int
etrn_send(struct session *s, const char *fmt, ...)
{
	va_list	 ap;
	char	*t;
	int	 st;

	va_start(ap, fmt);
	t = xvasprintf(fmt, ap);
	va_end(ap);
	trace_as(s, s->proto_name);
	st = send_line(s, t);
	free(t);
	return st;
}

/* ---------------------------------------------------------------- */
/* greeting, EHLO, AUTH, QUIT                                       */

int
etrn_greet(struct session *s, const char *hostname, struct etrn_caps *caps)
{
	struct buf	*line = buf_create(ETRN_LINE_MAX + 2);
	enum smtp_res	 r;
	char		*cmd;
	int		 st = 0;

	memset(caps, 0, sizeof(*caps));
	r = smtp_read(s, line, NULL, true);
	if (r != SMTP_OK) {
		st = r == SMTP_ERR ? PS_PROTOCOL : ETRN_SM_REFUSED;
		goto out;
	}
	cmd = xasprintf("EHLO %s", hostname);
	trace_as(s, "SMTP");
	st = send_line(s, cmd);
	free(cmd);
	if (st != 0)
		goto out;
	if ((r = smtp_read(s, line, caps, false)) != SMTP_OK) {
		log_err(_("%s's SMTP listener does not support ESMTP"),
		    s->pollname);
		st = r == SMTP_ERR ? ETRN_SM_EOF : ETRN_SM_REFUSED;
	}
out:
	buf_free(line);
	return st;
}

int
etrn_smtp_reply(struct session *s)
{
	struct buf	*line = buf_create(ETRN_LINE_MAX + 2);
	enum smtp_res	 r = smtp_read(s, line, NULL, true);

	buf_free(line);
	return r == SMTP_OK ? 0 : r == SMTP_FAIL ? ETRN_SM_REFUSED :
	    PS_PROTOCOL;
}

/* Write one AUTH line without a transcript (the reference's SMTP layer
 * shows none); false if the connection failed. */
static bool
auth_put(struct session *s, const char *text)
{
	return conn_printf(s->conn, "%s\r\n", text) == 0 &&
	    conn_flush(s->conn) == 0;
}

/* Read an untraced reply; true when it is a 334 challenge.  Any other
 * reply is answered with "*" (cancel), whose reply is read too, as the
 * reference does. */
static bool
auth_334(struct session *s, struct buf *line)
{
	bool	more;
	int	code = 0, i;

	for (i = 0; i < 2; i++) {
		more = true;
		while (more) {
			if (conn_getline(s->conn, line, ETRN_LINE_MAX) != 1)
				return false;
			code = reply_code(buf_data(line), buf_len(line),
			    &more);
		}
		if (i > 0 || code == 334 || !auth_put(s, "*"))
			break;
	}
	return i == 0 && code == 334;
}

/* Base64 of a secret, put as one untraced line; the copies wiped. */
static bool
auth_put_b64(struct session *s, const char *prefix, const void *p,
    size_t n)
{
	char	*b64 = auth_b64_encode(p, n), *t;
	bool	 ok;

	t = xasprintf("%s%s", prefix, b64);
	conn_mask_next(s->conn, 0);	/* wipes the output buffer */
	ok = auth_put(s, t);
	xexplicit_bzero(b64, strlen(b64));
	xexplicit_bzero(t, strlen(t));
	free(b64);
	free(t);
	return ok;
}

/* The CRAM-MD5 exchange up to the final reply; false when the server
 * refused it before that. */
static bool
auth_cram(struct session *s, struct buf *line, const char *user,
    const char *pass)
{
	char	*chal, *resp;
	size_t	 clen;
	bool	 ok;

	if (!auth_put(s, "AUTH CRAM-MD5") || !auth_334(s, line) ||
	    buf_len(line) < 4 || (chal = auth_b64_decode(buf_data(line) + 4,
	    buf_len(line) - 4, &clen)) == NULL)
		return false;
	resp = auth_cram_md5(user, pass, chal, clen);
	ok = auth_put_b64(s, "", resp, strlen(resp));
	xexplicit_bzero(resp, strlen(resp));
	free(resp);
	free(chal);
	return ok;
}

/* The PLAIN (RFC 4616) initial response. */
static bool
auth_plain(struct session *s, const char *user, const char *pass)
{
	size_t	 nu = strlen(user), np = strlen(pass);
	char	*raw = xmalloc(nu + np + 2);
	bool	 ok;

	raw[0] = '\0';
	memcpy(raw + 1, user, nu + 1);
	memcpy(raw + nu + 2, pass, np);
	ok = auth_put_b64(s, "AUTH PLAIN ", raw, nu + np + 2);
	xexplicit_bzero(raw, nu + np + 2);
	free(raw);
	return ok;
}

/* LOGIN: user name and password, each after a 334. */
static bool
auth_login(struct session *s, struct buf *line, const char *user,
    const char *pass)
{
	return auth_put(s, "AUTH LOGIN") && auth_334(s, line) &&
	    auth_put_b64(s, "", user, strlen(user)) && auth_334(s, line) &&
	    auth_put_b64(s, "", pass, strlen(pass));
}

int
etrn_auth(struct session *s, const struct etrn_caps *caps, const char *user,
    const char *pass)
{
	const char	*mech;
	struct buf	*line;
	bool		 ok;

	if (!caps->auth || user == NULL || *user == '\0' || pass == NULL ||
	    *pass == '\0')
		return 0;
	mech = caps->cram ? "CRAM-MD5" : caps->plain ? "PLAIN" :
	    caps->login ? "LOGIN" : NULL;
	if (mech == NULL)
		return 0;
	log_verbose(_("ESMTP %s Authentication..."), mech);
	conn_set_trace(s->conn, NULL, NULL);
	line = buf_create(ETRN_LINE_MAX + 2);
	if (caps->cram)
		ok = auth_cram(s, line, user, pass);
	else if (caps->plain)
		ok = auth_plain(s, user, pass);
	else
		ok = auth_login(s, line, user, pass);
	buf_free(line);
	if (!ok)
		log_verbose("%s", _("Server rejected the AUTH command."));
	else
		(void)etrn_smtp_reply(s);	/* a refusal is not fatal */
	return 0;
}

int
etrn_finish(struct session *s, int st)
{
	struct buf	*line;
	enum smtp_res	 r;
	int		 q = st;

	if (st != PS_SOCKET) {
		trace_as(s, s->proto_name);
		/* a dead connection shows when the reply is read */
		(void)conn_printf(s->conn, "QUIT\r\n");
		(void)conn_flush(s->conn);
		line = buf_create(ETRN_LINE_MAX + 2);
		r = smtp_read(s, line, NULL, true);
		buf_free(line);
		if (q == 0 && r != SMTP_OK)
			q = r == SMTP_FAIL ? ETRN_SM_REFUSED : PS_PROTOCOL;
	}
	if (st == PS_PROTOCOL)
		log_err(_("client/server protocol error while fetching from "
		    "%s@%s"), s->q->o.remote, s->pollname);
	/* "nothing waiting" ends the query as a success */
	return q == PS_NOMAIL ? PS_SUCCESS : q;
}

/* ---------------------------------------------------------------- */
/* ETRN                                                             */

/* ETRN for one domain and what its reply means; 0 to go on, or the
 * status (PS_NOMAIL: nothing waiting, stop asking). */
static int
etrn_domain(struct session *s, struct buf *line, const char *domain)
{
	int	code, st;

	if ((st = etrn_send(s, "ETRN %s", domain)) != 0 ||
	    (st = etrn_recv(s, line, &code)) != 0)
		return st;
	switch (code) {
	case 250:
		log_info(_("Queuing for %s started"), domain);
		return 0;
	case 251:
		log_info(_("No messages waiting for %s"), domain);
		return PS_NOMAIL;
	case 252:
	case 253:
		log_info(_("Pending messages for %s started"), domain);
		return 0;
	case 458:
		log_err(_("Unable to queue messages for node %s"), domain);
		return PS_PROTOCOL;
	case 459: {
		char *e = log_escape(buf_data(line), buf_len(line));

		log_err(_("Node %s not allowed: %s"), domain, e);
		free(e);
		return PS_AUTHFAIL;
	}
	case 500:
		log_err("%s", _("ETRN syntax error"));
		return PS_PROTOCOL;
	case 501:
		log_err("%s", _("ETRN syntax error in parameters"));
		return PS_PROTOCOL;
	default:
		log_err(_("Unknown ETRN error %d"), code);
		return PS_PROTOCOL;
	}
}

int
etrn_session(struct session *s, const char *hostname)
{
	const struct cfg_opts	*o = &s->q->o;
	struct etrn_caps	 caps;
	struct buf		*line;
	size_t			 i;
	int			 st;

	st = etrn_greet(s, hostname, &caps);
	if (st == 0 && o->esmtppassword != NULL)
		st = etrn_auth(s, &caps, o->esmtpname, o->esmtppassword);
	if (st == 0 && !caps.etrn) {
		log_err(_("%s's SMTP listener does not support ETRN"),
		    s->pollname);
		st = PS_PROTOCOL;
	}
	line = buf_create(ETRN_LINE_MAX + 2);
	for (i = 0; st == 0 && i < o->fetchdomains.n; i++)
		st = etrn_domain(s, line, o->fetchdomains.v[i]);
	buf_free(line);
	if (st == 0)
		log_info(_("Polling %s"), s->host);
	return etrn_finish(s, st);
}
