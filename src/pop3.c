/*
 * pop3.c: a POP3 session.  Commands are queued on the conn and sent in
 * one write; with PIPELINING up to POP3_WINDOW commands are in flight,
 * so RETR of the next messages and DELE of delivered ones travel while
 * the current message streams to its sink.  Replies are matched to
 * commands strictly in order (a FIFO of pending commands).
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "i18n.h"
#include "log.h"
#include "pop3.h"
#include "pop3_parse.h"
#include "pop3_priv.h"
#include "rcpt.h"
#include "session.h"
#include "tls.h"
#include "xmalloc.h"

static int	quit_reply(struct pop3 *);

/* The *ENV reply being read: its message and the line count. */
struct env_ctx {
	struct msgref	*m;
	int		 n;
};

/* Report a connection failure and set the socket status. */
int
pop3_io_fail(struct pop3 *p)
{
	struct session *s = p->s;

	if (conn_error(p->c) != NULL)
		log_err("%s", conn_error(p->c));
	log_err(_("socket error while fetching from %s@%s"), s->q->o.remote,
	    s->pollname);
	s->status = PS_SOCKET;
	return -1;
}

/* Read one reply line; POP3_OK/POP3_ERR/POP3_CONT with *text, or -1. */
int
pop3_reply(struct pop3 *p, const char **text, size_t *tlen)
{
	const char	*t;
	size_t		 tl;
	int		 st;

	/* during the plan, run_plan() decides when commands go out */
	if ((!p->lazy && conn_flush(p->c) != 0) ||
	    conn_getline(p->c, p->line, POP3_LINE_MAX) != 1)
		return pop3_io_fail(p);
	st = pop3_status(buf_data(p->line), buf_len(p->line), &t, &tl);
	if (st == POP3_BAD) {
		char *e = log_escape(buf_data(p->line), buf_len(p->line));

		log_err(_("protocol error from %s: %s"), p->s->truename, e);
		free(e);
		p->s->status = PS_PROTOCOL;
		return -1;
	}
	if (text != NULL) {
		*text = t;
		*tlen = tl;
	}
	return st;
}

/* Queue a command line (CRLF added); the text is wiped after use. */
static int	vsendf(struct pop3 *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

static int
vsendf(struct pop3 *p, const char *fmt, va_list ap)
{
	char	*s;
	int	 r;

	s = xvasprintf(fmt, ap);
	r = conn_printf(p->c, "%s\r\n", s);
	xexplicit_bzero(s, strlen(s));
	free(s);
	return r == 0 ? 0 : pop3_io_fail(p);
}

int
pop3_sendf(struct pop3 *p, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = vsendf(p, fmt, ap);
	va_end(ap);
	return r;
}

/* Send a command and read its status line (lock-step). */
int
pop3_command(struct pop3 *p, const char **text, size_t *tlen,
    const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = vsendf(p, fmt, ap);
	va_end(ap);
	return r != 0 ? -1 : pop3_reply(p, text, tlen);
}

/* The command that completes the login, followed by pop3_prelist(). */
int
pop3_last_login_command(struct pop3 *p, const char **text, size_t *tlen,
    const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = vsendf(p, fmt, ap);
	va_end(ap);
	if (r != 0 || pop3_prelist(p) != 0)
		return -1;
	return pop3_reply(p, text, tlen);
}

int
pop3_prelist(struct pop3 *p)
{
	if (!p->caps.pipelining)
		return 0;
	if (pop3_sendf(p, "STAT") != 0 || pop3_sendf(p, "UIDL") != 0 ||
	    pop3_sendf(p, "LIST") != 0)
		return -1;
	p->prelisted = true;
	return 0;
}

/* Read a multi-line body up to ".", calling fn for each unstuffed line. */
static int
multiline(struct pop3 *p, void (*fn)(void *, const char *, size_t),
    void *arg)
{
	size_t	skip;

	for (;;) {
		if (conn_getline(p->c, p->line, POP3_LINE_MAX) != 1)
			return pop3_io_fail(p);
		if (pop3_multiline_end(buf_data(p->line), buf_len(p->line),
		    &skip))
			return 0;
		if (fn != NULL)
			fn(arg, buf_data(p->line) + skip,
			    buf_len(p->line) - skip);
	}
}

static void
capa_line(void *arg, const char *line, size_t len)
{
	pop3_parse_capa(arg, line, len);
}

/* CAPA; a -ERR leaves caps.capa false. */
int
pop3_capa(struct pop3 *p)
{
	int	r;

	memset(&p->caps, 0, sizeof(p->caps));
	p->caps.login_delay = -1;
	if ((r = pop3_command(p, NULL, NULL, "CAPA")) < 0)
		return -1;
	if (r != POP3_OK)
		return 0;
	p->caps.capa = true;
	return multiline(p, capa_line, &p->caps);
}

/* Map a -ERR during login to the status the reference uses. */
int
pop3_login_error(struct pop3 *p, const char *text, size_t len)
{
	struct session *s = p->s;
	char	*e = log_escape(text, len);

	switch (pop3_errclass(text, len)) {
	case POP3_E_LOCKED:
		log_err("%s", e);
		log_err("%s", _("lock busy!  Is another session active?"));
		s->status = PS_LOCKBUSY;
		break;
	case POP3_E_BUSY:
		log_err("%s", e);
		s->status = PS_SERVBUSY;
		break;
	default:
		/* the driver reports the failure; the text at -v */
		log_verbose("%s", e);
		s->status = PS_AUTHFAIL;
		break;
	}
	free(e);
	return -1;
}

/* ---------------------------------------------------------- listing */

struct listing {
	struct msgref	*m;
	size_t		 n;
	bool		 bad;
};

static void
uidl_line(void *arg, const char *line, size_t len)
{
	struct listing	*l = arg;
	unsigned long	 num;
	const char	*uid;
	size_t		 ulen;

	if (pop3_parse_uidl(line, len, &num, &uid, &ulen) != 0) {
		l->bad = true;
		return;
	}
	if (num < 1 || num > l->n || l->m[num - 1].uid != NULL)
		return;
	l->m[num - 1].uid = xstrndup(uid, ulen);
	l->m[num - 1].uidlen = ulen;
}

static void
list_line(void *arg, const char *line, size_t len)
{
	struct listing		*l = arg;
	unsigned long		 num;
	unsigned long long	 size;

	if (pop3_parse_list(line, len, &num, &size) != 0)
		return;
	if (num >= 1 && num <= l->n)
		l->m[num - 1].size = size;
}

/* STAT, UIDL and LIST (sent together with PIPELINING). */
static int
list_mailbox(struct pop3 *p, struct listing *l, unsigned long long *octets)
{
	const char	*t;
	size_t		 tl;
	unsigned long	 count;
	bool		 pipe = p->caps.pipelining, uidl_ok = false;
	int		 r;

	if (!p->prelisted && (pop3_sendf(p, "STAT") != 0 || (pipe &&
	    (pop3_sendf(p, "UIDL") != 0 || pop3_sendf(p, "LIST") != 0))))
		return -1;
	if ((r = pop3_reply(p, &t, &tl)) < 0)
		return -1;
	if (r != POP3_OK || pop3_parse_stat(t, tl, &count, octets) != 0) {
		log_err("%s", _("protocol error: bad STAT reply"));
		p->s->status = PS_PROTOCOL;
		return -1;
	}
	if (count > 10000000) {
		log_err("%s", _("protocol error: bad STAT reply"));
		p->s->status = PS_PROTOCOL;
		return -1;
	}
	l->n = count;
	l->m = xcalloc(count ? count : 1, sizeof(*l->m));
	for (size_t i = 0; i < count; i++)
		l->m[i].num = i + 1;
	if (!pipe && count == 0)
		return 0;
	if (!pipe && pop3_sendf(p, "UIDL") != 0)
		return -1;
	if ((r = pop3_reply(p, NULL, NULL)) < 0)
		return -1;
	if (r == POP3_OK && multiline(p, uidl_line, l) != 0)
		return -1;
	uidl_ok = r == POP3_OK;
	if (l->bad) {
		log_err("%s", _("Cannot handle UIDL response from upstream "
		    "server."));
		p->s->status = PS_PROTOCOL;
		return -1;
	}
	if (!pipe && pop3_sendf(p, "LIST") != 0)
		return -1;
	if ((r = pop3_reply(p, NULL, NULL)) < 0)
		return -1;
	if (r == POP3_OK && multiline(p, list_line, l) != 0)
		return -1;
	if (r != POP3_OK) {
		log_err("%s", _("protocol error: the server refused LIST"));
		p->s->status = PS_PROTOCOL;
		return -1;
	}
	if (!uidl_ok && p->s->q->o.keep == FLAG_TRUE &&
	    p->s->q->o.fetchall != FLAG_TRUE) {
		/* without UIDs, kept mail would be fetched again and again */
		log_err("%s", _("the server refused UIDL: cannot tell new "
		    "messages from old ones with keep; leaving them on the "
		    "server"));
		p->s->status = PS_PROTOCOL;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------- retrieval */

/* msgsrc: the next line of a RETR body, unstuffed; 0 at ".". */
static int
body_next(void *ctx, struct buf *line, int *eol)
{
	struct pop3	*p = ctx;
	size_t		 skip = 0;

	if (p->body_done)
		return 0;
	if (p->body_err)
		return -1;
	if (conn_getchunk(p->c, line, POP3_CHUNK) != 1) {
		p->body_err = true;
		return -1;
	}
	*eol = conn_eol(p->c);
	if (p->body_bol && *eol != CONN_EOL_NONE &&
	    pop3_multiline_end(buf_data(line), buf_len(line), &skip)) {
		p->body_done = true;
		return 0;
	}
	if (p->body_bol && buf_len(line) > 0 && buf_data(line)[0] == '.')
		skip = 1;
	if (skip)
		buf_consume(line, skip);
	p->body_bol = *eol != CONN_EOL_NONE;
	return 1;
}

static void
push(struct pop3 *p, enum pcmd cmd, size_t idx)
{
	if (p->count == p->cap) {
		size_t		 ncap = p->cap ? p->cap * 2 : 16, i;
		struct pending	*nf = xcalloc(ncap, sizeof(*nf));

		for (i = 0; i < p->count; i++)
			nf[i] = p->fifo[(p->head + i) % p->cap];
		free(p->fifo);
		p->fifo = nf;
		p->head = 0;
		p->cap = ncap;
	}
	p->fifo[(p->head + p->count) % p->cap].cmd = cmd;
	p->fifo[(p->head + p->count) % p->cap].idx = idx;
	p->fifo[(p->head + p->count) % p->cap].seq = ++p->seq_pushed;
	if (cmd == PC_RETR)
		p->unsent_retrs++;
	p->count++;
	if (cmd == PC_RETR || cmd == PC_SKIPDELE)
		p->inflight++;
	if (cmd == PC_RETR)
		p->retrs++;
	if (cmd != PC_NONE)
		p->cmds++;
}

static struct pending
pop(struct pop3 *p)
{
	struct pending	e = p->fifo[p->head];

	p->head = (p->head + 1) % p->cap;
	p->count--;
	if (e.cmd == PC_RETR || e.cmd == PC_SKIPDELE)
		p->inflight--;
	if (e.cmd == PC_RETR)
		p->retrs--;
	if (e.cmd != PC_NONE)
		p->cmds--;
	return e;
}

/* Queue DELE for message m. */
static int
queue_dele(struct pop3 *p, struct msgref *m, size_t idx)
{
	if (pop3_sendf(p, "DELE %lu", m->num) != 0)
		return -1;
	push(p, PC_DELE, idx);
	return 0;
}

/* Read the reply to a DELE. */
static int
dele_reply(struct pop3 *p, struct msgref *m)
{
	const char	*t;
	size_t		 tl;
	int		 r;

	if ((r = pop3_reply(p, &t, &tl)) < 0)
		return -1;
	if (r != POP3_OK) {
		char *e = log_escape(t, tl);

		log_err(_("DELE %lu failed: %s"), m->num, e);
		free(e);
		p->dele_failed = true;
	} else
		p->s->ops->dele_ok(p->s, m);
	return 0;
}

/* One line of an *ENV reply: the 4th line counting the status line
 * is the envelope sender (kept without <>, "" for the null sender),
 * the 5th the recipient (Demon's SDPS). */
static void
env_line(void *arg, const char *line, size_t len)
{
	struct env_ctx	*c = arg;
	char		*v;

	if (++c->n != 4 && c->n != 5)
		return;
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (len >= 2 && line[0] == '<' && line[len - 1] == '>') {
		line++;
		len -= 2;
	}
	v = xstrndup(line, len);
	if (c->n == 4) {
		free(c->m->sdps_from);
		c->m->sdps_from = v;
	} else {
		free(c->m->sdps_to);
		c->m->sdps_to = len > 0 ? v : (free(v), NULL);
	}
}

/* Read the reply to *ENV (SDPS): the message's envelope.  A -ERR only
 * leaves the message without one. */
static int
env_reply(struct pop3 *p, struct msgref *m)
{
	struct env_ctx	 c = { m, 0 };
	int		 r;

	if ((r = pop3_reply(p, NULL, NULL)) < 0)
		return -1;
	if (r != POP3_OK)
		return 0;
	c.n = 1;		/* the status line counts as the first */
	return multiline(p, env_line, &c);
}

/* Read a RETR reply and hand the body to the driver. */
static int
retr_reply(struct pop3 *p, struct msgref *m, size_t idx)
{
	struct session	*s = p->s;
	struct msgsrc	 src = { body_next, p };
	const char	*t;
	size_t		 tl;
	enum msg_fate	 fate;
	int		 r;

	if ((r = pop3_reply(p, &t, &tl)) < 0)
		return -1;
	if (r != POP3_OK) {
		char *e = log_escape(t, tl);

		log_err(_("RETR %lu failed: %s"), m->num, e);
		free(e);
		return 0;
	}
	p->body_bol = true;
	p->body_done = p->body_err = false;
	conn_set_trace(p->c, NULL, NULL);	/* bodies are not traced */
	fate = s->stop ? FATE_KEEP : s->ops->deliver(s, m, &src);
	if (s->verbose >= 1)
		conn_set_trace(p->c, session_trace, "POP3");
	if (fate == FATE_ABORT)
		return p->body_err ? pop3_io_fail(p) : -1;
	if (!p->body_done) {
		/* the driver stopped early: drain to stay in step */
		struct buf	*junk = buf_create(POP3_CHUNK);
		int		 eol, k;

		while ((k = body_next(p, junk, &eol)) == 1)
			;
		buf_free(junk);
		if (k < 0)
			return pop3_io_fail(p);
	}
	if (p->body_err)
		return pop3_io_fail(p);
	if (fate == FATE_DELETE)
		return queue_dele(p, m, idx);
	return 0;
}

/* Queue the plan's commands in message order while the window has
 * room: RETR for messages to fetch, DELE for those to delete unread, a
 * marker for those left alone (so they are announced in order). */
static int
fill(struct pop3 *p, struct listing *l, size_t *next, size_t window)
{
	while ((p->caps.pipelining ? p->inflight : p->cmds) < window &&
	    *next < l->n && !p->s->stop) {
		struct msgref *m = &l->m[*next];

		if (m->action == MSGA_FETCH) {
			if (p->sdps) {
				if (pop3_sendf(p, "*ENV %lu", m->num) != 0)
					return -1;
				push(p, PC_ENV, *next);
			}
			if (pop3_sendf(p, "RETR %lu", m->num) != 0)
				return -1;
			push(p, PC_RETR, *next);
		} else if (m->action == MSGA_DELETE) {
			if (pop3_sendf(p, "DELE %lu", m->num) != 0)
				return -1;
			push(p, PC_SKIPDELE, *next);
		} else
			push(p, PC_NONE, *next);
		(*next)++;
	}
	return 0;
}

/* Send what is queued; the driver first makes recorded UIDs durable. */
static int
plan_flush(struct pop3 *p)
{
	p->s->ops->sync(p->s);
	p->seq_sent = p->seq_pushed;
	p->unsent_retrs = 0;
	return conn_flush(p->c) == 0 ? 0 : pop3_io_fail(p);
}

/* Carry out the plan in message order, pipelined: replies are read in
 * the order the commands went out; ends with QUIT's reply. */
static int
run_plan(struct pop3 *p, struct listing *l)
{
	struct session	*s = p->s;
	size_t		 window = p->caps.pipelining ? POP3_WINDOW : 1;
	size_t		 next = 0;
	struct pending	 e;
	bool		 quit_sent = false;
	int		 r;

	p->lazy = true;

	for (;;) {
		if (fill(p, l, &next, window) != 0)
			return -1;
		/* QUIT goes out as soon as nothing can add a command: with
		 * PIPELINING behind the last DELEs, else on its own */
		if (!quit_sent && (next == l->n || s->stop) && p->retrs == 0 &&
		    (p->count == 0 || p->caps.pipelining)) {
			if (pop3_sendf(p, "QUIT") != 0)
				return -1;
			push(p, PC_QUIT, 0);
			quit_sent = true;
		}
		if (p->count == 0)
			return 0;
		/* Commands go out when the next reply needs them, or when
		 * half a window of RETRs has piled up; a delivered
		 * message's DELE waits, so that its UID's fsync can overlap
		 * the next delivery. */
		if (((p->fifo[p->head].cmd != PC_NONE &&
		    p->fifo[p->head].seq > p->seq_sent) ||
		    p->unsent_retrs >= window / 2) && plan_flush(p) != 0)
			return -1;
		e = pop(p);
		switch (e.cmd) {
		case PC_QUIT:
			r = quit_reply(p);
			break;
		case PC_NONE:
			s->ops->skipped(s, &l->m[e.idx]);
			r = 0;
			break;
		case PC_SKIPDELE:
			s->ops->skipped(s, &l->m[e.idx]);
			r = dele_reply(p, &l->m[e.idx]);
			break;
		case PC_DELE:
			r = dele_reply(p, &l->m[e.idx]);
			break;
		case PC_ENV:
			r = env_reply(p, &l->m[e.idx]);
			break;
		default:
			r = retr_reply(p, &l->m[e.idx], e.idx);
			break;
		}
		if (r != 0)
			return -1;
	}
}

/* The reply to QUIT; deletions count only after its +OK. */
static int
quit_reply(struct pop3 *p)
{
	int	r;

	if ((r = pop3_reply(p, NULL, NULL)) < 0)
		return -1;
	return session_quit(p->s, r == POP3_OK, p->dele_failed);
}

static void
listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->m[i].uid);
		free(l->m[i].sdps_from);
		free(l->m[i].sdps_to);
	}
	free(l->m);
}

/* SDPS envelopes are asked for with `proto sdps`, and for a multidrop
 * mailbox at Demon (a greeting naming demon.), as the reference does. */
static int
sdps_check(struct pop3 *p)
{
	const struct cfg_opts *o = &p->s->q->o;

	p->sdps = o->proto == P_SDPS ||
	    (rcpt_is_multidrop(o->localnames.n, o->wildcard) &&
	    p->greeting != NULL && strstr(p->greeting, "demon.") != NULL);
	return 0;
}

int
pop3_session(struct session *s, const struct pop3_tls *t)
{
	struct pop3		 p;
	struct listing		 l = { 0 };
	unsigned long long	 octets = 0;
	int			 r = -1;

	memset(&p, 0, sizeof(p));
	p.s = s;
	p.c = s->conn;
	p.line = buf_create(POP3_LINE_MAX);
	if (pop3_login(&p, t) == 0 && sdps_check(&p) == 0 &&
	    list_mailbox(&p, &l, &octets) == 0 &&
	    s->ops->plan(s, l.m, l.n, octets) == 0 && run_plan(&p, &l) == 0)
		r = 0;
	listing_free(&l);
	free(p.fifo);
	free(p.greeting);
	buf_free(p.line);
	return r;
}
