/*
 * pop2.c: a POP2 session (RFC 937).
 *
 * POP2 is strictly lock-step, one command and one reply at a time.  The
 * server keeps a current message: READ n selects message n and answers
 * with its size, RETR sends exactly that many octets (no dot-stuffing,
 * no terminator), and the acknowledgement settles the message and also
 * selects the next one, answering with its size: ACKD (received, delete
 * it), ACKS (received, keep it) or NACK (not received, keep it).
 *
 * The session: greeting, HELO (count of the default folder), FOLD for
 * each configured folder, READ of every message for the listing and the
 * driver's plan, then per fetched message READ (unless the previous
 * acknowledgement already selected it), RETR, and ACKD only after the
 * driver accepted the message; ACKS with keep, NACK when delivery
 * failed.  Any failure before that leaves the server's copy alone.
 * POP2 has no UIDs, no capabilities and no STARTTLS: it runs in plain
 * text, or over implicit TLS (ssl); when TLS is mandatory otherwise,
 * the password is never sent.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "i18n.h"
#include "log.h"
#include "pop2.h"
#include "pop3.h"
#include "session.h"
#include "xmalloc.h"

#define POP2_LINE_MAX	8192		/* longest reply line */
#define POP2_CHUNK	(64 * 1024)	/* body piece handed to the driver */
#define POP2_MSGS_MAX	10000000UL	/* most messages in a folder */

/* The kinds of POP2 reply line. */
enum p2reply {
	R_OK,			/* "+" */
	R_ERR,			/* "-" */
	R_COUNT,		/* "#n": messages in the folder */
	R_SIZE			/* "=n": octets of the current message */
};

struct pop2 {
	struct session	*s;
	struct conn	*c;
	struct buf	*line;		/* the last reply line */
	/* the message body being read */
	unsigned long long left;	/* octets not yet taken from the conn */
	struct buf	*tail;		/* the last octets, read exactly */
	size_t		 tail_off;	/* next line in tail */
	bool		 body_err;
	bool		 overrun;	/* more octets came than announced */
	/* the message the server has selected (0: not known) */
	unsigned long	 cur;
	unsigned long long cursize;
	bool		 dele_failed;	/* an ACKD was refused */
};

/* The listing of one folder. */
struct listing {
	struct msgref	*m;
	size_t		 n;
};

/* Report a connection failure (why, if known); the socket status. */
static int
io_fail_why(struct pop2 *p, const char *why)
{
	struct session *s = p->s;

	if (why != NULL)
		log_err("%s", why);
	log_err(_("socket error while fetching from %s@%s"), s->q->o.remote,
	    s->pollname);
	s->status = PS_SOCKET;
	return -1;
}

/* Report the connection's last error; the socket status. */
static int
io_fail(struct pop2 *p)
{
	return io_fail_why(p, conn_error(p->c));
}

/* Report the last reply line as a protocol error. */
static int
bad_reply(struct pop2 *p)
{
	char	*e = log_escape(buf_data(p->line), buf_len(p->line));

	log_err(_("protocol error from %s: %s"), p->s->truename, e);
	free(e);
	p->s->status = PS_PROTOCOL;
	return -1;
}

/* Parse the decimal number that starts t: 0 with *v, or -1 when there is
 * no digit, it overflows, or something other than blank text follows. */
static int
parse_number(const char *t, size_t len, unsigned long long *v)
{
	unsigned long long	 n = 0;
	size_t			 i;

	for (i = 0; i < len && t[i] >= '0' && t[i] <= '9'; i++) {
		unsigned d = (unsigned)(t[i] - '0');

		if (n > (~0ULL - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	if (i == 0 || (i < len && t[i] != ' ' && t[i] != '\t'))
		return -1;
	*v = n;
	return 0;
}

/* Send what is queued and read one reply: its kind, the number of "#"
 * and "=" replies, the text after the first character; -1 on failure
 * (status set). */
static int
reply(struct pop2 *p, enum p2reply *kind, unsigned long long *num,
    const char **text, size_t *tlen)
{
	const char	*l;
	size_t		 len;
	int		 r;

	if (conn_flush(p->c) != 0)
		return io_fail(p);
	if ((r = conn_getline(p->c, p->line, POP2_LINE_MAX)) != 1)
		return r == 0 ? io_fail_why(p, _("connection closed")) :
		    io_fail(p);
	l = buf_data(p->line);
	len = buf_len(p->line);
	*num = 0;
	if (len == 0)
		return bad_reply(p);
	switch (l[0]) {
	case '+':
		*kind = R_OK;
		break;
	case '-':
		*kind = R_ERR;
		break;
	case '#':
	case '=':
		*kind = l[0] == '#' ? R_COUNT : R_SIZE;
		if (parse_number(l + 1, len - 1, num) != 0)
			return bad_reply(p);
		break;
	default:
		return bad_reply(p);
	}
	if (text != NULL) {
		size_t i = 1;

		while (i < len && (l[i] == ' ' || l[i] == '\t'))
			i++;
		*text = l + i;
		*tlen = len - i;
	}
	return 0;
}

/* Queue one command line (CRLF added); the text is wiped after use. */
static int	sendf(struct pop2 *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static int
sendf(struct pop2 *p, const char *fmt, ...)
{
	va_list	 ap;
	char	*t;
	int	 r;

	va_start(ap, fmt);
	t = xvasprintf(fmt, ap);
	va_end(ap);
	r = conn_printf(p->c, "%s\r\n", t);
	xexplicit_bzero(t, strlen(t));
	free(t);
	return r == 0 ? 0 : io_fail(p);
}

/* Whether s can travel as one argument word (no blank when word). */
static bool
arg_ok(const char *s, bool word)
{
	for (; *s != '\0'; s++)
		if (*s == '\r' || *s == '\n' || (word && (*s == ' ' ||
		    *s == '\t')))
			return false;
	return true;
}

/* A message count from HELO or FOLD, checked; -1 (status set) if it is
 * not believable. */
static int
take_count(struct pop2 *p, unsigned long long n, unsigned long *count)
{
	if (n > POP2_MSGS_MAX)
		return bad_reply(p);
	*count = (unsigned long)n;
	p->cur = 0;		/* the server selects nothing we know of */
	return 0;
}

/* -------------------------------------------------------------- login */

/* Refuse what POP2 cannot do before anything is sent; 0 if all is well. */
static int
preflight(struct pop2 *p, const struct pop3_tls *t)
{
	struct session		*s = p->s;
	const struct cfg_opts	*o = &s->q->o;

	if (t->mode == 2 && !conn_is_tls(p->c)) {
		log_err(_("%s: TLS is mandatory for this session, but POP2 "
		    "cannot start TLS; the password is not sent."), s->host);
		log_err("%s", _("Use ssl for TLS from the start, or sslproto "
		    "'' (or no sslcertck) to allow plain text."));
		s->status = PS_SOCKET;
		return -1;
	}
	if (o->auth != A_UNSET && o->auth != A_ANY && o->auth != A_PASSWORD) {
		log_err(_("authentication method %s is not supported by POP2"),
		    cfg_auth_name(o->auth));
		s->status = PS_AUTHFAIL;
		return -1;
	}
	if (s->password == NULL) {
		log_err(_("No password for %s@%s."), o->remote, s->pollname);
		s->status = PS_AUTHFAIL;
		return -1;
	}
	if (!arg_ok(o->remote, true) || !arg_ok(s->password, false)) {
		log_err(_("POP2 cannot send the user name or password of "
		    "%s@%s (blank or line break)"), o->remote, s->pollname);
		s->status = PS_AUTHFAIL;
		return -1;
	}
	return 0;
}

/* Greeting and HELO; *count is the default folder's message count. */
static int
login(struct pop2 *p, unsigned long *count)
{
	struct session	*s = p->s;
	const char	*remote = s->q->o.remote, *t;
	size_t		 tl;
	enum p2reply	 k;
	unsigned long long n;
	char		*e;

	if (reply(p, &k, &n, &t, &tl) != 0)
		return -1;
	if (k == R_ERR) {
		e = log_escape(t, tl);
		log_err("%s", e);
		free(e);
		s->status = PS_AUTHFAIL;
		return -1;
	}
	if (k != R_OK)
		return bad_reply(p);
	/* "HELO user *" in the transcript */
	conn_mask_next(p->c, strlen("HELO ") + strlen(remote) + 1);
	if (sendf(p, "HELO %s %s", remote, s->password) != 0 ||
	    reply(p, &k, &n, &t, &tl) != 0)
		return -1;
	if (k == R_ERR) {
		/* the driver reports the failure; the text at -v */
		e = log_escape(t, tl);
		log_verbose("%s", e);
		free(e);
		s->status = PS_AUTHFAIL;
		return -1;
	}
	if (k != R_COUNT)
		return bad_reply(p);
	return take_count(p, n, count);
}

/* FOLD name; *count is the folder's message count.  0, 1 when the
 * server refused the folder (the session goes on), -1 on failure. */
static int
fold(struct pop2 *p, const char *name, unsigned long *count)
{
	const char	*t;
	size_t		 tl;
	enum p2reply	 k;
	unsigned long long n;

	if (!arg_ok(name, false)) {
		log_err(_("POP2 cannot select the folder %s (line break)"),
		    name);
		p->s->status = PS_SYNTAX;
		return -1;
	}
	if (sendf(p, "FOLD %s", name) != 0 || reply(p, &k, &n, &t, &tl) != 0)
		return -1;
	if (k == R_ERR) {
		char *e = log_escape(t, tl);

		log_err(_("cannot select the folder %s: %s"), name, e);
		free(e);
		p->s->status = PS_PROTOCOL;
		return 1;
	}
	if (k != R_COUNT)
		return bad_reply(p);
	return take_count(p, n, count);
}

/* READ n: select message n; *size 0 means there is no such message. */
static int
read_msg(struct pop2 *p, unsigned long n, unsigned long long *size)
{
	enum p2reply	 k;
	unsigned long long v;

	if (sendf(p, "READ %lu", n) != 0 || reply(p, &k, &v, NULL, NULL) != 0)
		return -1;
	if (k == R_ERR)
		v = 0;		/* refused: not there */
	else if (k != R_SIZE)
		return bad_reply(p);
	p->cur = n;
	p->cursize = v;
	*size = v;
	return 0;
}

/* The sizes of the folder's count messages (READ each); the listing ends
 * early at a message the server says is not there. */
static int
list_folder(struct pop2 *p, unsigned long count, struct listing *l,
    unsigned long long *octets)
{
	unsigned long long size;

	l->m = xcalloc(count ? count : 1, sizeof(*l->m));
	l->n = 0;
	*octets = 0;
	for (unsigned long i = 1; i <= count; i++) {
		if (read_msg(p, i, &size) != 0)
			return -1;
		if (size == 0) {
			log_verbose(_("POP2: message %lu of %lu is missing; "
			    "%lu listed"), i, count, i - 1);
			break;
		}
		l->m[l->n].num = i;
		l->m[l->n].size = size;
		l->n++;
		*octets = *octets > ~0ULL - size ? ~0ULL : *octets + size;
	}
	return 0;
}

/* ------------------------------------------------------------ bodies */

/* The next line of the exactly-read last octets (p->tail); 0 at end.  A
 * message that does not end in a line end gets one. */
static int
tail_line(struct pop2 *p, struct buf *line, int *eol)
{
	const char	*b = buf_data(p->tail) + p->tail_off;
	const char	*end = buf_data(p->tail) + buf_len(p->tail), *nl;
	size_t		 n, used;

	if (b >= end)
		return 0;
	*eol = CONN_EOL_CRLF;
	if ((nl = memchr(b, '\n', (size_t)(end - b))) != NULL) {
		n = (size_t)(nl - b);
		used = n + 1;
		if (n > 0 && b[n - 1] == '\r')
			n--;
		else
			*eol = CONN_EOL_LF;
	} else
		n = used = (size_t)(end - b);
	if (n > POP2_CHUNK) {
		/* a piece of a long line; "\r\n" stays in one piece */
		n = used = b[POP2_CHUNK - 1] == '\r' ? POP2_CHUNK - 1 :
		    POP2_CHUNK;
		*eol = CONN_EOL_NONE;
	}
	if (buf_set(line, b, n) != 0)
		return -1;
	p->tail_off += used;
	return 1;
}

/* msgsrc: the next line of the RETR data; 0 after its last octet.  Far
 * from the end lines come from the conn as they are; the last octets
 * are read exactly, so that the message cannot swallow the next reply. */
static int
body_next(void *ctx, struct buf *line, int *eol)
{
	struct pop2	*p = ctx;
	size_t		 used;

	if (p->body_err)
		return -1;
	if (p->tail_off < buf_len(p->tail))
		return tail_line(p, line, eol) < 0 ? -1 : 1;
	if (p->left == 0)
		return 0;
	if (p->left >= POP2_CHUNK + 2) {
		if (conn_getchunk(p->c, line, POP2_CHUNK) != 1) {
			p->body_err = true;
			return -1;
		}
		*eol = conn_eol(p->c);
		used = buf_len(line) + (*eol == CONN_EOL_CRLF ? 2 :
		    *eol == CONN_EOL_LF ? 1 : 0);
		p->left -= used;
		return 1;
	}
	buf_reset(p->tail);
	p->tail_off = 0;
	if (conn_read(p->c, p->tail, (size_t)p->left) != 0) {
		p->body_err = true;
		return -1;
	}
	p->left = 0;
	if (conn_pending(p->c) > 0) {
		/* the server sends nothing before the acknowledgement:
		 * the size it announced was wrong */
		p->overrun = p->body_err = true;
		return -1;
	}
	return tail_line(p, line, eol) < 0 ? -1 : 1;
}

/* Report why the body could not be read; -1 with the status set. */
static int
body_fail(struct pop2 *p, const struct msgref *m)
{
	if (!p->overrun)
		return io_fail(p);
	log_err(_("protocol error from %s: message %lu is longer than the "
	    "%llu octets announced"), p->s->truename, m->num, m->size);
	p->s->status = PS_PROTOCOL;
	return -1;
}

/* Read and discard what is left of message m; 0, or -1 (status set). */
static int
drain(struct pop2 *p, const struct msgref *m)
{
	struct buf	*junk = buf_create(POP2_CHUNK + 16);
	int		 eol, k;

	while ((k = body_next(p, junk, &eol)) == 1)
		;
	buf_free(junk);
	return k < 0 ? body_fail(p, m) : 0;
}

/* Make message m the current one and send RETR; *size its octets
 * (0: the server no longer has it, nothing was sent). */
static int
start_retr(struct pop2 *p, struct msgref *m, unsigned long long *size)
{
	if (p->cur != m->num && read_msg(p, m->num, size) != 0)
		return -1;
	*size = p->cursize;
	if (*size == 0) {
		log_err(_("POP2: message %lu is no longer on the server"),
		    m->num);
		return 0;
	}
	m->size = *size;
	if (sendf(p, "RETR") != 0 || conn_flush(p->c) != 0)
		return io_fail(p);
	p->left = *size;
	buf_reset(p->tail);
	p->tail_off = 0;
	p->body_err = p->overrun = false;
	return 0;
}

/* ------------------------------------------------------- retrieval */

/* Settle the current message m with ACKD, ACKS or NACK; the reply
 * selects the next message (NACK: m again).  A refused ACKD or NACK
 * (RFC 937 has no such reply; a server without NACK) is followed by
 * ACKS, which keeps the message; a refused ACKS ends the session. */
static int
acknowledge(struct pop2 *p, struct msgref *m, const char *cmd)
{
	struct session	*s = p->s;
	bool		 dele = strcmp(cmd, "ACKD") == 0;
	bool		 nack = strcmp(cmd, "NACK") == 0;
	const char	*t;
	size_t		 tl;
	enum p2reply	 k;
	unsigned long long n;
	char		*e;

	if (dele)
		s->ops->sync(s);	/* recorded state first */
	if (sendf(p, "%s", cmd) != 0 || reply(p, &k, &n, &t, &tl) != 0)
		return -1;
	if (k == R_SIZE) {
		if (dele)
			s->ops->dele_ok(s, m);
		p->cur = nack ? m->num : m->num + 1;
		p->cursize = n;
		return 0;
	}
	if (k != R_ERR)
		return bad_reply(p);
	p->cur = 0;
	e = log_escape(t, tl);
	if (nack)
		log_verbose(_("%s %lu failed: %s"), cmd, m->num, e);
	else
		log_err(_("%s %lu failed: %s"), cmd, m->num, e);
	free(e);
	if (dele)
		p->dele_failed = true;
	if (dele || nack)
		return acknowledge(p, m, "ACKS");
	log_err("%s", _("protocol error: the server refused ACKS"));
	s->status = PS_PROTOCOL;
	return -1;
}

/* Fetch message m and hand it to the driver; acknowledge as it says. */
static int
fetch(struct pop2 *p, struct msgref *m)
{
	struct session	*s = p->s;
	struct msgsrc	 src = { body_next, p };
	unsigned long long size;
	enum msg_fate	 fate;

	if (start_retr(p, m, &size) != 0)
		return -1;
	if (size == 0)
		return 0;
	conn_set_trace(p->c, NULL, NULL);	/* bodies are not traced */
	fate = s->ops->deliver(s, m, &src);
	if (s->verbose >= 1)
		conn_set_trace(p->c, session_trace, (void *)s->proto_name);
	if (fate == FATE_ABORT)
		return p->body_err ? body_fail(p, m) : -1;
	if (drain(p, m) != 0)
		return -1;
	switch (fate) {
	case FATE_DELETE:
		return acknowledge(p, m, "ACKD");
	case FATE_SEEN:
		return acknowledge(p, m, "ACKS");
	default:
		return acknowledge(p, m, "NACK");
	}
}

/* Delete message m unread (limitflush): POP2 deletes only what it has
 * sent, so the data is read and thrown away. */
static int
flush_unread(struct pop2 *p, struct msgref *m)
{
	unsigned long long size;

	if (start_retr(p, m, &size) != 0)
		return -1;
	if (size == 0)
		return 0;
	conn_set_trace(p->c, NULL, NULL);
	if (drain(p, m) != 0)
		return -1;
	if (p->s->verbose >= 1)
		conn_set_trace(p->c, session_trace, (void *)p->s->proto_name);
	return acknowledge(p, m, "ACKD");
}

/* Carry out the plan in message order. */
static int
run_plan(struct pop2 *p, struct listing *l)
{
	struct session	*s = p->s;
	int		 r = 0;

	for (size_t i = 0; i < l->n && r == 0 && !s->stop; i++) {
		struct msgref *m = &l->m[i];

		switch (m->action) {
		case MSGA_FETCH:
			r = fetch(p, m);
			break;
		case MSGA_DELETE:
			s->ops->skipped(s, m);
			r = flush_unread(p, m);
			break;
		default:
			s->ops->skipped(s, m);
			break;
		}
	}
	return r;
}

/* QUIT; the accepted deletions are committed by its "+". */
static int
quit(struct pop2 *p)
{
	enum p2reply	 k;
	unsigned long long n;

	if (sendf(p, "QUIT") != 0 || reply(p, &k, &n, NULL, NULL) != 0)
		return -1;
	return session_quit(p->s, k == R_OK, p->dele_failed);
}

/* List the selected folder, plan, fetch. */
static int
poll_folder(struct pop2 *p, unsigned long count)
{
	struct session		*s = p->s;
	struct listing		 l = { 0 };
	unsigned long long	 octets;
	int			 r = -1;

	if (list_folder(p, count, &l, &octets) == 0 &&
	    s->ops->plan(s, l.m, l.n, octets) == 0 && run_plan(p, &l) == 0)
		r = 0;
	free(l.m);
	return r;
}

/* The default folder, or each configured one after FOLD.  0; 1 when a
 * folder was refused (the session can still QUIT); -1 on failure. */
static int
poll_folders(struct pop2 *p, unsigned long count)
{
	struct session		*s = p->s;
	const struct cfg_list	*f = &s->q->o.mailboxes;
	int			 r;

	if (f->n == 0) {
		s->folder = NULL;
		return poll_folder(p, count);
	}
	for (size_t i = 0; i < f->n && !s->stop; i++) {
		s->folder = f->v[i];
		if ((r = fold(p, f->v[i], &count)) != 0)
			return r;
		if (poll_folder(p, count) != 0)
			return -1;
	}
	return 0;
}

int
pop2_session(struct session *s, const struct pop3_tls *t)
{
	struct pop2	 p;
	unsigned long	 count = 0;
	int		 r = -1;

	memset(&p, 0, sizeof(p));
	p.s = s;
	p.c = s->conn;
	p.line = buf_create(POP2_LINE_MAX);
	p.tail = buf_create(POP2_CHUNK + 16);
	if (preflight(&p, t) == 0 && login(&p, &count) == 0) {
		int f = poll_folders(&p, count);

		/* after a refused folder, QUIT commits the others' work */
		if (f >= 0 && quit(&p) == 0 && f == 0)
			r = 0;
	}
	s->folder = NULL;
	buf_free(p.tail);
	buf_free(p.line);
	return r;
}
