/*
 * odmr.c: On-Demand Mail Relay (RFC 2645).
 *
 * EHLO to the ODMR server (which must offer ATRN), AUTH CRAM-MD5 with
 * the query's user and password, "ATRN domain,domain,...".  On 250 the
 * server turns the connection around and acts as an SMTP client; we
 * connect to the first reachable `smtphost` and copy the bytes both
 * ways, line by line, until either side closes (neither gets a QUIT
 * from us).  The greeting, EHLO, AUTH and reply rules are shared with
 * ETRN (etrn.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "cfg.h"
#include "attempts.h"
#include "conn.h"
#include "etrn.h"
#include "i18n.h"
#include "log.h"
#include "odmr.h"
#include "session.h"
#include "xmalloc.h"

#define RELAY_CHUNK	8192	/* relayed per read: a line or its piece */
#define ODMR_LINE_MAX	4096	/* longest reply line (AUTH, ATRN) */

/* The relay's state: which way data goes and whether message data
 * (not shown in the transcript) is flowing. */
struct relay {
	struct session	*s;
	struct conn	*lst;		/* the local SMTP listener */
	struct buf	*line;
	bool		 data;
};

static int	 odmr_auth(struct session *);
static int	 atrn(struct session *);
static const char *lookup_error(const char *, const char *, const char *);
static struct conn *listener_try(struct session *, const char *);
static struct conn *listener_connect(struct session *);
static bool	 pump(struct relay *, bool);
static int	 relay(struct session *);

/* AUTH CRAM-MD5 as the query's user, whatever the EHLO reply offered
 * (as the reference does); 0, or the status. */
static int
odmr_auth(struct session *s)
{
	struct buf	*line = buf_create(ODMR_LINE_MAX + 2);
	const char	*pass = s->password != NULL ? s->password : "";
	char		*chal = NULL, *resp, *b64;
	size_t		 clen;
	int		 code, st;

	if ((st = etrn_send(s, "AUTH CRAM-MD5")) != 0 ||
	    (st = etrn_recv(s, line, &code)) != 0)
		goto out;
	/* the reference decodes whatever follows the code */
	if (buf_len(line) < 4 || (chal = auth_b64_decode(buf_data(line) + 4,
	    buf_len(line) - 4, &clen)) == NULL) {
		log_err("%s", _("could not decode BASE64 challenge"));
		st = PS_AUTHFAIL;
		goto out;
	}
	resp = auth_cram_md5(s->q->o.remote, pass, chal, clen);
	b64 = auth_b64_encode(resp, strlen(resp));
	st = etrn_send(s, "%s", b64);	/* a digest: shown, as the
					 * reference shows it */
	xexplicit_bzero(resp, strlen(resp));
	free(resp);
	free(b64);
	if (st == 0)
		st = etrn_smtp_reply(s);
out:
	free(chal);
	buf_free(line);
	return st;
}

/* Send ATRN for the fetchdomains and act on the reply: 0 when the
 * connection turns around, else the status. */
static int
atrn(struct session *s)
{
	const struct cfg_list	*d = &s->q->o.fetchdomains;
	struct buf		*line = buf_create(ODMR_LINE_MAX + 2);
	char			*list = xstrdup(""), *t, *e;
	size_t			 i;
	int			 code, st;

	for (i = 0; i < d->n; i++) {
		t = xasprintf("%s%s%s", list, i > 0 ? "," : "", d->v[i]);
		free(list);
		list = t;
	}
	if ((st = etrn_send(s, "ATRN %s", list)) != 0 ||
	    (st = etrn_recv(s, line, &code)) != 0)
		goto out;
	switch (code) {
	case 250:
		log_info("%s", _("Turnaround now..."));
		break;
	case 450:
		log_info("%s", _("ATRN request refused."));
		st = PS_PROTOCOL;
		break;
	case 451:
		log_err("%s", _("Unable to process ATRN request now"));
		st = PS_EXCLUDE;
		break;
	case 453:
		log_err("%s", _("You have no mail."));
		st = PS_NOMAIL;
		break;
	case 502:
		log_err("%s", _("Command not implemented"));
		st = PS_PROTOCOL;
		break;
	case 530:
		log_err("%s", _("Authentication required."));
		st = PS_AUTHFAIL;
		break;
	default:
		e = log_escape(buf_data(line), buf_len(line));
		log_err(_("Unknown ODMR error \"%s\""), e);
		free(e);
		st = PS_PROTOCOL;
		break;
	}
out:
	free(list);
	buf_free(line);
	return st;
}

/* The resolver's message in conn_connect()'s "HOST port PORT: TEXT". */
static const char *
lookup_error(const char *cause, const char *host, const char *port)
{
	char		*pre;
	const char	*t = cause != NULL ? cause : "?";

	pre = xasprintf(_("%s port %s: %s"), host, port, "");
	if (strncmp(t, pre, strlen(pre)) == 0)
		t += strlen(pre);
	free(pre);
	return t;
}

/* Connect to one smtphost entry ("host" or "host/port"); NULL if it
 * failed (reported). */
static struct conn *
listener_try(struct session *s, const char *entry)
{
	const char	*sl = strrchr(entry, '/');
	char		*host, *cause = NULL;
	const char	*port = "smtp";
	struct attempts	 a;
	struct conn	*c;

	if (sl != NULL && sl != entry && sl[1] != '\0') {
		host = xstrndup(entry, (size_t)(sl - entry));
		port = sl + 1;
	} else
		host = xstrdup(entry);
	memset(&a, 0, sizeof(a));
	a.host = host;
	a.port = port;
	c = conn_connect_report(host, port, s->q->o.timeout.v,
	    attempts_report, &a, &cause);
	if (c != NULL && log_verbosity() >= 1) {
		log_progress_more("%s", _("connected."));
		log_progress_end();
	}
	if (c == NULL) {
		log_progress_end();
		if (a.errors != NULL)
			log_err(_("Connection errors for this poll:\n%s"),
			    a.errors);
		else
			log_err(_("getaddrinfo(\"%s\",\"%s\") error: %s"),
			    host, port, lookup_error(cause, host, port));
	}
	attempts_free(&a);
	free(cause);
	free(host);
	return c;
}

/* The first smtphost that answers a connect; NULL if none did. */
static struct conn *
listener_connect(struct session *s)
{
	const struct cfg_list	*h = &s->q->o.smtphunt;
	struct conn		*c = NULL;
	size_t			 i;

	for (i = 0; c == NULL && i < h->n; i++)
		c = listener_try(s, h->v[i]);
	if (c == NULL && h->n == 0)
		c = listener_try(s, "localhost");
	return c;
}

/*
 * Copy one line (or piece of a long one) from the server to the
 * listener, or back when FROM_LISTENER; false when the source closed
 * or either side failed.  The transcript shows the lines at -v except
 * the message data, which begins with the listener's 354 and ends with
 * its next reply.
 */
static bool
pump(struct relay *r, bool from_listener)
{
	struct conn	*src = from_listener ? r->lst : r->s->conn;
	struct conn	*dst = from_listener ? r->s->conn : r->lst;
	const char	*eol;
	char		*e;

	if (conn_getchunk(src, r->line, RELAY_CHUNK) != 1)
		return false;
	if (from_listener || !r->data) {
		/* the reference shows a relayed line with its CR */
		e = log_escape(buf_data(r->line), buf_len(r->line));
		log_verbose("%s%c %s%s", r->s->proto_name, from_listener ?
		    CONN_TRACE_OUT : CONN_TRACE_IN, e,
		    conn_eol(src) == CONN_EOL_CRLF ? "\r" : "");
		free(e);
	}
	if (from_listener) {
		r->data = false;
		if (buf_len(r->line) >= 3 &&
		    strncmp(buf_data(r->line), "354", 3) == 0) {
			r->data = true;
			log_info("%s", _("receiving message data"));
		}
	}
	eol = conn_eol(src) == CONN_EOL_CRLF ? "\r\n" :
	    conn_eol(src) == CONN_EOL_LF ? "\n" : "";
	return conn_write(dst, buf_data(r->line), buf_len(r->line)) == 0 &&
	    conn_write(dst, eol, strlen(eol)) == 0 && conn_flush(dst) == 0;
}

/* After the turnaround: relay between the server and the listener
 * until one of them closes; the query status. */
static int
relay(struct session *s)
{
	struct relay	 r;
	int		 t = s->q->o.timeout.v, w, st = 0;

	memset(&r, 0, sizeof(r));
	r.s = s;
	if ((r.lst = listener_connect(s)) == NULL) {
		log_err(_("socket error while fetching from %s@%s"),
		    s->q->o.remote, s->pollname);
		return PS_SOCKET;
	}
	/* the relay writes its own transcript */
	conn_set_trace(s->conn, NULL, NULL);
	r.line = buf_create(RELAY_CHUNK + 2);
	for (;;) {
		w = conn_await_either(s->conn, r.lst, t);
		if (w == 0) {
			log_err(_("timeout after %d seconds waiting for "
			    "server %s."), t, s->pollname);
			st = PS_SOCKET;
			break;
		}
		if (w < 0 || ((w & 1) && !pump(&r, false)) ||
		    ((w & 2) && !pump(&r, true)))
			break;
	}
	buf_free(r.line);
	conn_free(r.lst);
	return st;
}

int
odmr_session(struct session *s, const char *hostname)
{
	struct etrn_caps	caps;
	int			st;

	st = etrn_greet(s, hostname, &caps);
	if (st == 0 && !caps.atrn) {
		log_err(_("%s's SMTP listener does not support ATRN"),
		    s->pollname);
		st = PS_PROTOCOL;
	}
	if (st == 0)
		st = odmr_auth(s);
	if (st == 0)
		st = atrn(s);
	if (st != 0)
		return etrn_finish(s, st);
	if ((st = relay(s)) == 0)
		log_info(_("Polling %s"), s->host);
	return st;
}
