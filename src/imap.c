/*
 * imap.c: an IMAP session (see imap.h).
 *
 * Theory.  Messages are named by UID from the listing on: one
 * "UID FETCH 1:* (UID RFC822.SIZE FLAGS)" gives the driver UIDs, sizes
 * and flags, bodies are fetched with "UID FETCH u BODY.PEEK[]" (so a
 * failed delivery leaves the message unseen), and flags are stored by
 * UID, so another client expunging messages mid-poll cannot make us
 * touch the wrong one.  Commands are tagged and queued on the conn;
 * up to IMAP_WINDOW body fetches are in flight while the current body
 * streams from the socket to the sink.  A server may complete pipelined
 * commands in any order (Dovecot sends the next body before the
 * previous FETCH's tagged OK), so a body goes to the command fetching
 * its UID and a tagged reply to the command with its tag; commands are
 * then finished in the order they were queued (a FIFO), which keeps the
 * progress lines and the flag stores in message order.
 * "\Seen \Deleted" is stored only after the driver's deliver() said the
 * sink accepted the message (and its UID was recorded; session_ops.sync
 * runs before anything is sent).  Flags are stored in batches: the
 * messages finished since the last send are gathered (\Seen \Deleted
 * and \Seen apart) and go out as one "UID STORE set +FLAGS.SILENT" each
 * (in pieces of bounded length) just before the queue is sent, before
 * an EXPUNGE and at the end of the plan; a batch's OK confirms each of
 * its messages, in message order.  EXPUNGE (UID EXPUNGE of exactly the
 * UIDs we flagged, with UIDPLUS) follows every `expunge N` deletions and
 * the end of each folder, and only its OK commits the deletions.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "conn.h"
#include "i18n.h"
#include "imap.h"
#include "imap_parse.h"
#include "imap_priv.h"
#include "log.h"
#include "pop3.h"
#include "session.h"
#include "tls.h"
#include "xmalloc.h"

#define IMAP_CHUNK	(64 * 1024)	/* body piece handed to the sink */
#define IMAP_WINDOW	32		/* body fetches in flight */
#define IMAP_SET_MAX	4000		/* longest UID set in one command */
#define IMAP_CMDS_MAX	1000		/* commands in flight (tags stay
					 * unique) */

enum icmd {
	IC_NONE,		/* no command: a message left alone */
	IC_SKIPDEL,		/* no command: a message deleted unread
				 * (it joins the \Deleted batch) */
	IC_FETCH,		/* UID FETCH of a body */
	IC_STORE_DEL,		/* \Seen \Deleted on a batch of messages */
	IC_STORE_SEEN,		/* \Seen on a batch of kept messages */
	IC_EXPUNGE		/* EXPUNGE / UID EXPUNGE */
};

struct pending {
	enum icmd	 cmd;
	size_t		 idx;		/* listing index; IC_EXPUNGE: 1 if it
					 * commits (the last of a batch) */
	size_t		*batch;		/* IC_STORE_*: the listing indexes
					 * its set covers (owned) */
	size_t		 nbatch;
	unsigned	 tag;
	unsigned long	 seq;		/* order of queueing */
	bool		 done;		/* its tagged reply was read */
	bool		 ok;		/* ... and it was OK */
	bool		 got;		/* IC_FETCH: the body came */
	enum msg_fate	 fate;		/* ... and what became of it */
	bool		 announced;	/* skipped() was called for it */
};

/* One message of the folder while it is listed, by sequence number. */
struct lent {
	uint32_t	 uid;
	uint64_t	 size;
	bool		 got, has_uid, seen, deleted;
};

struct listing {
	struct msgref	*m;
	size_t		 n;
};

static int	skip_bytes(struct imap *, uint64_t);
static int	fetch_consume(struct imap *, struct imap_resp *,
		    struct imap_fetch *);
static int	queue_expunge(struct imap *);
static int	queue_flags(struct imap *, struct listing *);
static int	run_queue(struct imap *, struct listing *);

/* ------------------------------------------------------------ basics */

/* Report a connection failure and set the socket status. */
int
imap_io_fail(struct imap *ip)
{
	struct session *s = ip->s;

	if (conn_error(ip->c) != NULL)
		log_err("%s", conn_error(ip->c));
	log_err(_("socket error while fetching from %s@%s"), s->q->o.remote,
	    s->pollname);
	s->status = PS_SOCKET;
	return -1;
}

/* Report a response this client cannot take; protocol status. */
int
imap_proto_fail(struct imap *ip, const char *p, size_t len)
{
	char *e = log_escape(p, len);

	log_err(_("protocol error from %s: %s"), ip->s->truename, e);
	free(e);
	ip->s->status = PS_PROTOCOL;
	return -1;
}

/* Queue a tagged command (CRLF added); returns its tag, 0 on error.
 * The command text is wiped after use (it may hold a password). */
unsigned
imap_send_cmd(struct imap *ip, const char *fmt, ...)
{
	va_list	 ap;
	char	*t;
	int	 r;

	ip->tag = ip->tag % 9999 + 1;
	va_start(ap, fmt);
	t = xvasprintf(fmt, ap);
	va_end(ap);
	r = conn_printf(ip->c, "A%04u %s\r\n", ip->tag, t);
	xexplicit_bzero(t, strlen(t));
	free(t);
	if (r != 0) {
		imap_io_fail(ip);
		return 0;
	}
	return ip->tag;
}

/* Whether a tagged response carries tag. */
bool
imap_tag_is(const struct imap_resp *r, unsigned tag)
{
	char t[16];

	snprintf(t, sizeof(t), "A%04u", tag);
	return r->taglen == strlen(t) && memcmp(r->tag, t, r->taglen) == 0;
}

/* Read and throw away n bytes of a literal. */
static int
skip_bytes(struct imap *ip, uint64_t n)
{
	while (n > 0) {
		size_t k = n > IMAP_CHUNK ? IMAP_CHUNK : (size_t)n;

		buf_reset(ip->junk);
		if (conn_read(ip->c, ip->junk, k) != 0)
			return imap_io_fail(ip);
		n -= k;
	}
	return 0;
}

/* Read the line that follows a literal. */
static int
cont_line(struct imap *ip)
{
	if (conn_getline(ip->c, ip->line, IMAP_LINE_MAX) != 1)
		return imap_io_fail(ip);
	return 0;
}

/* Skip the literals (and the lines after them) of an untagged response
 * this client does not read. */
static int
skip_literals(struct imap *ip, uint64_t n)
{
	int k;

	for (;;) {
		if (skip_bytes(ip, n) != 0 || cont_line(ip) != 0)
			return -1;
		k = imap_line_literal(buf_data(ip->line), buf_len(ip->line),
		    &n);
		if (k < 0)
			return imap_proto_fail(ip, buf_data(ip->line),
			    buf_len(ip->line));
		if (k == 0)
			return 0;
	}
}

/* Grow the listing to n messages (EXISTS during the listing). */
static int
listing_grow(struct imap *ip, uint64_t n)
{
	if (n <= ip->nlst)
		return 0;
	if (n > IMAP_MSGS_MAX)
		return -1;
	ip->lst = xreallocarray(ip->lst, (size_t)n, sizeof(*ip->lst));
	memset(ip->lst + ip->nlst, 0, ((size_t)n - ip->nlst) *
	    sizeof(*ip->lst));
	ip->nlst = (size_t)n;
	return 0;
}

/* Untagged data that needs no caller; 0, or -1 (status set). */
int
imap_untagged(struct imap *ip, const struct imap_resp *r)
{
	uint64_t v;

	switch (r->what) {
	case IMAP_W_EXISTS:
		if (r->num > IMAP_MSGS_MAX || (ip->lst != NULL &&
		    listing_grow(ip, r->num) != 0))
			return imap_proto_fail(ip, buf_data(ip->line),
			    buf_len(ip->line));
		if (r->num > ip->exists)
			ip->grew = true;
		ip->exists = r->num;
		return 0;
	case IMAP_W_EXPUNGE:
		if (r->num == 0 || r->num > IMAP_MSGS_MAX)
			return imap_proto_fail(ip, buf_data(ip->line),
			    buf_len(ip->line));
		if (ip->exists > 0)
			ip->exists--;
		if (ip->lst != NULL && r->num <= ip->nlst) {
			memmove(ip->lst + r->num - 1, ip->lst + r->num,
			    (ip->nlst - (size_t)r->num) * sizeof(*ip->lst));
			ip->nlst--;
		}
		return 0;
	case IMAP_W_CAPABILITY:
		imap_parse_caps(&ip->caps, r->rest, r->restlen);
		ip->caps_fresh = true;
		return 0;
	case IMAP_W_STATUS:
		if (r->cond == IMAP_C_BYE && !ip->logout) {
			char *e = log_escape(r->text, r->textlen);

			log_err(_("Received BYE response from IMAP server: %s"),
			    e);
			free(e);
		}
		if (r->code != NULL && r->codelen == 11 &&
		    strncasecmp(r->code, "UIDVALIDITY", 11) == 0 &&
		    imap_number(r->codearg, r->codearglen, UINT32_MAX, &v) == 0)
			ip->uidvalidity = (uint32_t)v;
		return 0;
	default:
		if (r->has_literal)
			return skip_literals(ip, r->literal);
		return 0;
	}
}

/* Read responses until a tagged one, a continuation or an untagged
 * FETCH, which *r then describes (borrowed from ip->line). */
int
imap_next_resp(struct imap *ip, struct imap_resp *r)
{
	for (;;) {
		if ((!ip->lazy && conn_flush(ip->c) != 0) ||
		    conn_getline(ip->c, ip->line, IMAP_LINE_MAX) != 1)
			return imap_io_fail(ip);
		if (imap_parse_response(buf_data(ip->line), buf_len(ip->line),
		    r) != 0)
			return imap_proto_fail(ip, buf_data(ip->line),
			    buf_len(ip->line));
		if (r->kind != IMAP_R_UNTAGGED || r->what == IMAP_W_FETCH)
			break;
		if (imap_untagged(ip, r) != 0)
			return -1;
	}
	if (r->kind == IMAP_R_TAGGED && r->code != NULL &&
	    r->codelen == 10 && strncasecmp(r->code, "CAPABILITY", 10) == 0) {
		imap_parse_caps(&ip->caps, r->codearg, r->codearglen);
		ip->caps_fresh = true;
	}
	return 0;
}

/* Parse (and forget) an untagged FETCH, skipping its literals. */
static int
fetch_consume(struct imap *ip, struct imap_resp *r, struct imap_fetch *f)
{
	uint64_t	lit;
	int		k;

	imap_fetch_init(f);
	k = imap_fetch_parse(f, r->rest, r->restlen, &lit);
	while (k == 1) {
		if (skip_bytes(ip, lit) != 0 || cont_line(ip) != 0)
			return -1;
		k = imap_fetch_parse(f, buf_data(ip->line), buf_len(ip->line),
		    &lit);
	}
	if (k < 0)
		return imap_proto_fail(ip, buf_data(ip->line), buf_len(ip->line));
	return 0;
}

/* Read up to the tagged reply to tag; untagged FETCHes are skipped. */
int
imap_simple_reply(struct imap *ip, unsigned tag, struct imap_resp *r)
{
	struct imap_fetch f;

	if (tag == 0)
		return -1;
	for (;;) {
		if (imap_next_resp(ip, r) != 0)
			return -1;
		if (r->kind == IMAP_R_TAGGED)
			break;
		if (r->kind == IMAP_R_CONT)
			return imap_proto_fail(ip, buf_data(ip->line),
			    buf_len(ip->line));
		if (fetch_consume(ip, r, &f) != 0)
			return -1;
	}
	if (!imap_tag_is(r, tag))
		return imap_proto_fail(ip, buf_data(ip->line), buf_len(ip->line));
	return 0;
}

/* Send a command and wait for its reply; the condition or -1. */
int
imap_command(struct imap *ip, struct imap_resp *r, const char *fmt, ...)
{
	va_list	 ap;
	char	*t;
	unsigned tag;

	va_start(ap, fmt);
	t = xvasprintf(fmt, ap);
	va_end(ap);
	tag = imap_send_cmd(ip, "%s", t);
	free(t);
	if (imap_simple_reply(ip, tag, r) != 0)
		return -1;
	return (int)r->cond;
}

/* LOGOUT; the reply may be cut short by the server closing. */
static void
logout(struct imap *ip)
{
	struct imap_resp r;
	int		 st = ip->s->status;

	ip->logout = true;
	(void)imap_command(ip, &r, "LOGOUT");
	ip->s->status = st;	/* a vanished server changes nothing now */
}

/* ----------------------------------------------------------- folders */

/* SELECT (EXAMINE with -c) a folder; 0, or -1 (status set). */
static int
select_folder(struct imap *ip, const char *name, bool examine)
{
	struct imap_resp r;
	int		 c;

	ip->exists = 0;
	ip->uidvalidity = 0;
	ip->readonly = false;
	buf_reset(ip->cmd);
	if (imap_quote(ip->cmd, name, strlen(name)) != 0) {
		log_err("%s", _("mailbox selection failed"));
		ip->s->status = PS_ERROR;
		return -1;
	}
	if ((c = imap_command(ip, &r, "%s %s", examine ? "EXAMINE" : "SELECT",
	    buf_data(ip->cmd))) < 0)
		return -1;
	if (c != IMAP_C_OK) {
		log_err("%s", _("mailbox selection failed"));
		ip->s->status = PS_ERROR;
		return -1;
	}
	ip->readonly = r.code != NULL && r.codelen == 9 &&
	    strncasecmp(r.code, "READ-ONLY", 9) == 0;
	return 0;
}

/* An untagged FETCH of the listing: record what it says. */
static int
listing_fetch(struct imap *ip, struct imap_resp *r)
{
	struct imap_fetch f;
	struct lent	*e;

	if (fetch_consume(ip, r, &f) != 0)
		return -1;
	if (r->num == 0 || listing_grow(ip, r->num) != 0)
		return imap_proto_fail(ip, "FETCH", 5);
	if (!f.has_uid)
		return 0;		/* a flag update, not our data */
	e = &ip->lst[r->num - 1];
	e->got = true;
	e->has_uid = true;
	e->uid = f.uid;
	if (f.has_size)
		e->size = f.size;
	if (f.has_flags) {
		e->seen = f.seen;
		e->deleted = f.deleted;
	}
	return 0;
}

/* Turn the listing into the driver's msgrefs. */
static void
listing_refs(struct imap *ip, struct listing *l, unsigned long long *octets)
{
	size_t	i, n = 0;
	char	num[16];

	l->m = xcalloc(ip->nlst ? ip->nlst : 1, sizeof(*l->m));
	for (i = 0; i < ip->nlst; i++) {
		struct lent	*e = &ip->lst[i];
		struct msgref	*m;

		if (!e->got || !e->has_uid)
			continue;
		m = &l->m[n++];
		m->num = n;
		m->size = e->size;
		snprintf(num, sizeof(num), "%lu", (unsigned long)e->uid);
		m->uid = xstrdup(num);
		m->uidlen = strlen(num);
		m->imap_uid = e->uid;
		/* the reference treats \Deleted as seen (SEARCH UNDELETED) */
		m->seen_flag = e->seen || e->deleted;
		*octets += e->size;
	}
	l->n = n;
}

/* UID FETCH 1:* (UID RFC822.SIZE FLAGS): the folder's messages. */
static int
list_folder(struct imap *ip, struct listing *l, unsigned long long *octets)
{
	struct imap_resp r;
	unsigned	 tag;

	*octets = 0;
	l->m = NULL;
	l->n = 0;
	ip->grew = false;
	if (ip->exists == 0) {
		l->m = xcalloc(1, sizeof(*l->m));
		return 0;
	}
	ip->nlst = 0;
	ip->lst = xcalloc(1, sizeof(*ip->lst));
	if (listing_grow(ip, ip->exists) != 0)
		return imap_proto_fail(ip, "EXISTS", 6);
	if ((tag = imap_send_cmd(ip, "UID FETCH 1:* (UID RFC822.SIZE FLAGS)")) == 0)
		return -1;
	for (;;) {
		if (imap_next_resp(ip, &r) != 0)
			return -1;
		if (r.kind == IMAP_R_TAGGED)
			break;
		if (r.kind == IMAP_R_CONT || listing_fetch(ip, &r) != 0)
			return r.kind == IMAP_R_CONT ? imap_proto_fail(ip,
			    buf_data(ip->line), buf_len(ip->line)) : -1;
	}
	if (!imap_tag_is(&r, tag))
		return imap_proto_fail(ip, buf_data(ip->line), buf_len(ip->line));
	if (r.cond != IMAP_C_OK) {
		char *e = log_escape(r.text, r.textlen);

		log_err(_("cannot list the messages of the folder: %s"), e);
		free(e);
		ip->s->status = PS_ERROR;
		return -1;
	}
	listing_refs(ip, l, octets);
	free(ip->lst);
	ip->lst = NULL;
	ip->nlst = 0;
	return 0;
}

/* ------------------------------------------------------------ bodies */

/* The next line of the literal's last bytes (held in ip->tail). */
static int
tail_line(struct imap *ip, struct buf *line, int *eol)
{
	const char	*p = buf_data(ip->tail) + ip->tail_off;
	const char	*end = buf_data(ip->tail) + buf_len(ip->tail), *nl;
	size_t		 n, used;

	if (p >= end)
		return 0;
	if ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n = (size_t)(nl - p);
		used = n + 1;
		*eol = CONN_EOL_LF;
		if (n > 0 && p[n - 1] == '\r') {
			n--;
			*eol = CONN_EOL_CRLF;
		}
	} else {
		/* the message ends without a line end: it gets one, as the
		 * reference gives it */
		n = used = (size_t)(end - p);
		*eol = CONN_EOL_CRLF;
	}
	if (n > IMAP_CHUNK) {
		n = used = IMAP_CHUNK;
		if (p[n - 1] == '\r')
			n = used = n - 1;	/* keep "\r\n" together */
		*eol = CONN_EOL_NONE;
	}
	if (buf_set(line, p, n) != 0)
		return -1;
	ip->tail_off += used;
	return 1;
}

/* msgsrc: the next line of the message literal; 0 at its end.  While
 * more than a piece and a line end remain, lines come straight from
 * the conn; the last bytes are read exactly, so that a message not
 * ending in a line end cannot swallow the response after it. */
static int
body_next(void *ctx, struct buf *line, int *eol)
{
	struct imap	*ip = ctx;
	size_t		 used;

	if (ip->body_err)
		return -1;
	if (ip->tail_off < buf_len(ip->tail))
		return tail_line(ip, line, eol) < 0 ? -1 : 1;
	if (ip->lit_left == 0)
		return 0;
	if (ip->lit_left >= IMAP_CHUNK + 2) {
		if (conn_getchunk(ip->c, line, IMAP_CHUNK) != 1) {
			ip->body_err = true;
			return -1;
		}
		*eol = conn_eol(ip->c);
		used = buf_len(line) + (*eol == CONN_EOL_CRLF ? 2 :
		    *eol == CONN_EOL_LF ? 1 : 0);
		ip->lit_left -= used;
		return 1;
	}
	buf_reset(ip->tail);
	ip->tail_off = 0;
	if (conn_read(ip->c, ip->tail, (size_t)ip->lit_left) != 0) {
		ip->body_err = true;
		return -1;
	}
	ip->lit_left = 0;
	return tail_line(ip, line, eol) < 0 ? -1 : 1;
}

/* Stream a message literal of n bytes to the driver; its fate. */
static enum msg_fate
stream_message(struct imap *ip, struct msgref *m, uint64_t n)
{
	struct session	*s = ip->s;
	struct msgsrc	 src = { body_next, ip };
	struct buf	*junk;
	enum msg_fate	 fate;
	int		 eol, k;

	ip->lit_left = n;
	buf_reset(ip->tail);
	ip->tail_off = 0;
	ip->body_err = false;
	m->size = n;
	conn_set_trace(ip->c, NULL, NULL);	/* bodies are not traced */
	fate = s->stop ? FATE_KEEP : s->ops->deliver(s, m, &src);
	if (fate != FATE_ABORT) {
		/* the driver may stop early: drain to stay in step */
		junk = buf_create(IMAP_CHUNK + 16);
		while ((k = body_next(ip, junk, &eol)) == 1)
			;
		buf_free(junk);
		if (k < 0)
			fate = FATE_ABORT;
	}
	if (s->verbose >= 1)
		conn_set_trace(ip->c, session_trace, "IMAP");
	return fate;
}

/* ---------------------------------------------------------- pipeline */

/* The i-th pending command from the oldest. */
static struct pending *
nth(struct imap *ip, size_t i)
{
	return &ip->fifo[(ip->head + i) % ip->cap];
}

/* Whether a pending entry is a marker, not a command sent. */
static bool
is_marker(enum icmd cmd)
{
	return cmd == IC_NONE || cmd == IC_SKIPDEL;
}

/* Append an entry to the FIFO (grown as needed); the new entry. */
static struct pending *
push(struct imap *ip, enum icmd cmd, size_t idx, unsigned tag)
{
	struct pending *e;

	if (ip->count == ip->cap) {
		size_t		 ncap = ip->cap ? ip->cap * 2 : 64, i;
		struct pending	*nf = xcalloc(ncap, sizeof(*nf));

		for (i = 0; i < ip->count; i++)
			nf[i] = *nth(ip, i);
		free(ip->fifo);
		ip->fifo = nf;
		ip->head = 0;
		ip->cap = ncap;
	}
	e = &ip->fifo[(ip->head + ip->count) % ip->cap];
	memset(e, 0, sizeof(*e));
	e->cmd = cmd;
	e->idx = idx;
	e->tag = tag;
	e->seq = ++ip->seq_pushed;
	ip->count++;
	if (!is_marker(cmd))
		ip->cmds++;
	if (cmd == IC_SKIPDEL)
		ip->skipdels++;
	if (cmd == IC_FETCH) {
		ip->fetches++;
		ip->unsent_fetches++;
	}
	return e;
}

/* Take the oldest entry off the FIFO (the caller frees its batch). */
static struct pending
pop(struct imap *ip)
{
	struct pending e = ip->fifo[ip->head];

	ip->head = (ip->head + 1) % ip->cap;
	ip->count--;
	if (!is_marker(e.cmd))
		ip->cmds--;
	if (e.cmd == IC_SKIPDEL)
		ip->skipdels--;
	if (e.cmd == IC_FETCH)
		ip->fetches--;
	return e;
}

/* The pending command a tagged reply answers, NULL if none.  Servers
 * may complete pipelined commands in any order (RFC 3501 5.5). */
static struct pending *
find_tag(struct imap *ip, const struct imap_resp *r)
{
	size_t i;

	for (i = 0; i < ip->count; i++) {
		struct pending *e = nth(ip, i);

		if (!is_marker(e->cmd) && !e->done && e->seq <= ip->seq_sent &&
		    imap_tag_is(r, e->tag))
			return e;
	}
	return NULL;
}

/* The body fetch a message literal belongs to: the one for its UID, or
 * without a UID before the literal, the oldest still waiting. */
static struct pending *
find_fetch(struct imap *ip, struct listing *l, const struct imap_fetch *f)
{
	size_t i;

	for (i = 0; i < ip->count; i++) {
		struct pending *e = nth(ip, i);

		if (e->cmd != IC_FETCH || e->got || e->done ||
		    e->seq > ip->seq_sent)
			continue;
		if (!f->has_uid || l->m[e->idx].imap_uid == f->uid)
			return e;
	}
	return NULL;
}

/* Remember a UID flagged \Deleted for the next EXPUNGE. */
static void
qdel_add(struct imap *ip, uint32_t uid)
{
	if (ip->nqdel == ip->qdelcap) {
		ip->qdelcap = ip->qdelcap ? ip->qdelcap * 2 : 64;
		ip->qdel = xreallocarray(ip->qdel, ip->qdelcap,
		    sizeof(*ip->qdel));
	}
	ip->qdel[ip->nqdel++] = uid;
}

/* Append listing index idx to v. */
static void
idxv_add(struct idxv *v, size_t idx)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->v = xreallocarray(v->v, v->cap, sizeof(*v->v));
	}
	v->v[v->n++] = idx;
}

/* Let message idx (accepted by the sink, or deleted unread) join the
 * batch of \Seen (and \Deleted) flags; `expunge N` may send the
 * batches and queue an EXPUNGE now. */
static int
queue_store(struct imap *ip, struct listing *l, size_t idx, bool del)
{
	idxv_add(del ? &ip->bdel : &ip->bseen, idx);
	if (del && ip->expunge_every > 0 &&
	    ip->nqdel + ip->bdel.n >= ip->expunge_every)
		return queue_flags(ip, l) != 0 ? -1 : queue_expunge(ip);
	return 0;
}

/* Queue one UID STORE command for the n messages at idx (their UIDs in
 * uids, the set already in set); the command owns a copy of idx. */
static int
queue_store_cmd(struct imap *ip, const struct buf *set, const size_t *idx,
    const uint32_t *uids, size_t n, enum icmd cmd)
{
	struct pending	*e;
	unsigned	 tag;

	tag = imap_send_cmd(ip, "UID STORE %s +FLAGS.SILENT (\\Seen%s)",
	    buf_data(set), cmd == IC_STORE_DEL ? " \\Deleted" : "");
	if (tag == 0)
		return -1;
	e = push(ip, cmd, 0, tag);
	e->batch = xreallocarray(NULL, n, sizeof(*e->batch));
	memcpy(e->batch, idx, n * sizeof(*e->batch));
	e->nbatch = n;
	if (cmd == IC_STORE_DEL)
		for (size_t k = 0; k < n; k++)
			qdel_add(ip, uids[k]);
	return 0;
}

/* Queue the flags of batch b as UID STOREs of bounded sets, in message
 * order; b is emptied.  The UIDs are made durable first: a long batch
 * may pass the conn's high-water mark and go out at once. */
static int
queue_batch(struct imap *ip, struct listing *l, struct idxv *b,
    enum icmd cmd)
{
	struct buf	*set;
	uint32_t	*uids;
	size_t		 i = 0, from, k;
	int		 r = 0;

	if (b->n == 0)
		return 0;
	ip->s->ops->sync(ip->s);
	uids = xreallocarray(NULL, b->n, sizeof(*uids));
	for (k = 0; k < b->n; k++)
		uids[k] = l->m[b->v[k]].imap_uid;
	set = buf_create(IMAP_SET_MAX + 64);
	while (r == 0 && i < b->n) {
		from = i;
		buf_reset(set);
		if (imap_uidset(set, uids, b->n, &i, IMAP_SET_MAX) != 0 ||
		    i == from)
			r = -1;
		else
			r = queue_store_cmd(ip, set, b->v + from, uids + from,
			    i - from, cmd);
	}
	buf_free(set);
	free(uids);
	b->n = 0;
	return r;
}

/* Queue the pending flag batches: \Seen \Deleted, then \Seen. */
static int
queue_flags(struct imap *ip, struct listing *l)
{
	if (queue_batch(ip, l, &ip->bdel, IC_STORE_DEL) != 0 ||
	    queue_batch(ip, l, &ip->bseen, IC_STORE_SEEN) != 0)
		return -1;
	return 0;
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Queue the expunge of what was flagged since the last one: UID
 * EXPUNGE of exactly those UIDs with UIDPLUS (in pieces of bounded
 * length), else EXPUNGE. */
static int
queue_expunge(struct imap *ip)
{
	struct buf	*set;
	size_t		 i = 0;
	unsigned	 tag;

	if (ip->nqdel == 0)
		return 0;
	if (!ip->caps.uidplus) {
		ip->nqdel = 0;
		if ((tag = imap_send_cmd(ip, "EXPUNGE")) == 0)
			return -1;
		push(ip, IC_EXPUNGE, 1, tag);
		return 0;
	}
	qsort(ip->qdel, ip->nqdel, sizeof(*ip->qdel), uid_cmp);
	set = buf_create(IMAP_SET_MAX + 64);
	while (i < ip->nqdel) {
		buf_reset(set);
		if (imap_uidset(set, ip->qdel, ip->nqdel, &i,
		    IMAP_SET_MAX) != 0 ||
		    (tag = imap_send_cmd(ip, "UID EXPUNGE %s", buf_data(set))) == 0) {
			buf_free(set);
			return -1;
		}
		push(ip, IC_EXPUNGE, i == ip->nqdel, tag);
	}
	buf_free(set);
	ip->nqdel = 0;
	return 0;
}

/* Announce the messages left alone (or deleted unread) that come
 * before pending command upto, so that progress lines stay in message
 * order when a later body arrives before their replies. */
static void
announce_before(struct imap *ip, struct listing *l, const struct pending *upto)
{
	size_t i;

	for (i = 0; i < ip->count; i++) {
		struct pending *e = nth(ip, i);

		if (e == upto)
			return;
		if ((e->cmd == IC_NONE || e->cmd == IC_SKIPDEL) &&
		    !e->announced) {
			e->announced = true;
			ip->s->ops->skipped(ip->s, &l->m[e->idx]);
		}
	}
}

/* An untagged FETCH while the plan runs: a message body goes to the
 * driver at once (its fate is kept with its command); anything else
 * (flag updates) is read and forgotten. */
static int
plan_fetch(struct imap *ip, struct imap_resp *r, struct listing *l)
{
	struct imap_fetch f;
	struct pending	*e;
	uint64_t	 lit;
	int		 k;

	imap_fetch_init(&f);
	k = imap_fetch_parse(&f, r->rest, r->restlen, &lit);
	while (k == 1) {
		if (f.body && (e = find_fetch(ip, l, &f)) != NULL) {
			announce_before(ip, l, e);
			e->got = true;
			e->fate = stream_message(ip, &l->m[e->idx], lit);
			if (e->fate == FATE_ABORT)
				return ip->body_err ? imap_io_fail(ip) : -1;
		} else if (skip_bytes(ip, lit) != 0)
			return -1;
		if (cont_line(ip) != 0)
			return -1;
		k = imap_fetch_parse(&f, buf_data(ip->line), buf_len(ip->line),
		    &lit);
	}
	if (k < 0)
		return imap_proto_fail(ip, buf_data(ip->line), buf_len(ip->line));
	if (f.body_missing && (e = find_fetch(ip, l, &f)) != NULL) {
		e->got = true;
		e->fate = FATE_KEEP;
		log_err(_("couldn't fetch message %s@%s:%lu (%llu octets): "
		    "the server sent no content"), ip->s->q->o.remote,
		    ip->s->truename, l->m[e->idx].num, l->m[e->idx].size);
	}
	return 0;
}

/* A tagged reply while the plan runs: complete its command; refusals
 * are reported here, while the text is at hand. */
static int
plan_tagged(struct imap *ip, struct imap_resp *r, struct listing *l)
{
	struct pending	*e = find_tag(ip, r);
	struct session	*s = ip->s;
	char		*t;

	if (e == NULL)
		return imap_proto_fail(ip, buf_data(ip->line), buf_len(ip->line));
	e->done = true;
	e->ok = r->cond == IMAP_C_OK;
	if (e->ok)
		return 0;
	t = log_escape(r->text, r->textlen);
	switch (e->cmd) {
	case IC_FETCH:
		if (!e->got)
			log_err(_("couldn't fetch message %s@%s:%lu (%llu "
			    "octets): %s"), s->q->o.remote, s->truename,
			    l->m[e->idx].num, l->m[e->idx].size, t);
		break;
	case IC_EXPUNGE:
		log_err("%s", _("expunge failed"));
		ip->expunge_failed = true;
		break;
	case IC_STORE_DEL:
	case IC_STORE_SEEN:
		for (size_t k = 0; k < e->nbatch; k++)
			log_err(_("STORE of message %s@%s:%lu failed: %s"),
			    s->q->o.remote, s->truename,
			    l->m[e->batch[k]].num, t);
		ip->store_failed = true;
		break;
	default:
		break;
	}
	free(t);
	return 0;
}

/* Finish the oldest command, in queue order: announce messages left
 * alone, batch the flags of delivered ones, count confirmed deletions,
 * commit them after an EXPUNGE. */
static int
finish(struct imap *ip, struct listing *l, struct pending *e)
{
	struct session	*s = ip->s;
	struct msgref	*m = &l->m[e->idx];

	switch (e->cmd) {
	case IC_NONE:
	case IC_SKIPDEL:
		if (!e->announced)
			s->ops->skipped(s, m);
		return e->cmd == IC_SKIPDEL ? queue_store(ip, l, e->idx, true) :
		    0;
	case IC_FETCH:
		if (!e->got) {
			if (e->ok)
				log_verbose(_("message %s@%s:%lu (UID %lu) is "
				    "gone from the server"), s->q->o.remote,
				    s->truename, m->num,
				    (unsigned long)m->imap_uid);
			return 0;
		}
		if (e->fate == FATE_DELETE || e->fate == FATE_SEEN)
			return queue_store(ip, l, e->idx,
			    e->fate == FATE_DELETE);
		return 0;
	case IC_STORE_DEL:
		for (size_t k = 0; e->ok && k < e->nbatch; k++)
			s->ops->dele_ok(s, &l->m[e->batch[k]]);
		return 0;
	case IC_EXPUNGE:
		if (e->ok && e->idx == 1)
			s->ops->committed(s);
		return 0;
	default:
		return 0;
	}
}

/* Queue the plan's commands in message order while the window has
 * room: body fetches, and markers for messages deleted unread or left
 * alone (announced in order). */
static int
fill(struct imap *ip, struct listing *l, size_t *next)
{
	unsigned tag;

	while (ip->fetches < IMAP_WINDOW && ip->cmds < IMAP_CMDS_MAX &&
	    *next < l->n && !ip->s->stop) {
		struct msgref *m = &l->m[*next];

		if (m->action == MSGA_FETCH) {
			tag = imap_send_cmd(ip, "UID FETCH %lu BODY.PEEK[]",
			    (unsigned long)m->imap_uid);
			if (tag == 0)
				return -1;
			push(ip, IC_FETCH, *next, tag);
		} else if (m->action == MSGA_DELETE)
			push(ip, IC_SKIPDEL, *next, 0);
		else
			push(ip, IC_NONE, *next, 0);
		(*next)++;
	}
	return 0;
}

/* Send what is queued, the pending flag batches included; the driver
 * first makes recorded UIDs durable. */
static int
plan_flush(struct imap *ip, struct listing *l)
{
	if (queue_flags(ip, l) != 0)
		return -1;
	ip->s->ops->sync(ip->s);
	ip->seq_sent = ip->seq_pushed;
	ip->unsent_fetches = 0;
	return conn_flush(ip->c) == 0 ? 0 : imap_io_fail(ip);
}

/* Carry out the plan for the selected folder, pipelined; ends when
 * every reply, the final EXPUNGE's included, has been read. */
static int
run_plan(struct imap *ip, struct listing *l)
{
	int	r;

	ip->bdel.n = ip->bseen.n = 0;
	ip->lazy = true;
	r = run_queue(ip, l);
	ip->lazy = false;
	return r;
}

/* The loop of run_plan(): fill, finish what is complete, send when a
 * reply is needed, read one response. */
static int
run_queue(struct imap *ip, struct listing *l)
{
	struct imap_resp r;
	struct pending	 e;
	size_t		 next = 0;
	bool		 final = false;
	int		 k;

	for (;;) {
		if (fill(ip, l, &next) != 0)
			return -1;
		if (ip->count > 0 && (is_marker(ip->fifo[ip->head].cmd) ||
		    ip->fifo[ip->head].done)) {
			e = pop(ip);
			k = finish(ip, l, &e);
			free(e.batch);
			if (k != 0)
				return -1;
			continue;
		}
		/* every message finished: the last flags, then EXPUNGE */
		if (!final && (next == l->n || ip->s->stop) &&
		    ip->fetches == 0 && ip->skipdels == 0) {
			if (queue_flags(ip, l) != 0 || queue_expunge(ip) != 0)
				return -1;
			final = true;
		}
		if (ip->count == 0)
			return 0;
		/* commands go out when the oldest needs them, or when half
		 * a window of fetches has piled up */
		if ((ip->fifo[ip->head].seq > ip->seq_sent ||
		    ip->unsent_fetches >= IMAP_WINDOW / 2) &&
		    plan_flush(ip, l) != 0)
			return -1;
		if (imap_next_resp(ip, &r) != 0)
			return -1;
		if (r.kind == IMAP_R_CONT)
			return imap_proto_fail(ip, buf_data(ip->line),
			    buf_len(ip->line));
		if ((r.kind == IMAP_R_TAGGED ? plan_tagged(ip, &r, l) :
		    plan_fetch(ip, &r, l)) != 0)
			return -1;
	}
}

static void
listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->m[i].uid);
	free(l->m);
	l->m = NULL;
	l->n = 0;
}

/* List the selected folder, let the driver plan and carry the plan
 * out; 0, or -1 (status set). */
static int
list_and_run(struct imap *ip)
{
	struct session		*s = ip->s;
	struct listing		 l = { 0 };
	unsigned long long	 octets;
	int			 r = -1;

	if (list_folder(ip, &l, &octets) == 0) {
		s->uidvalidity = ip->uidvalidity;
		if (s->ops->plan(s, l.m, l.n, octets) == 0 &&
		    run_plan(ip, &l) == 0)
			r = 0;
	}
	listing_free(&l);
	return r;
}

/* One folder: select, list, plan, fetch, expunge. */
static int
poll_folder(struct imap *ip, const char *name, bool named)
{
	struct session		*s = ip->s;
	bool			 check = s->check;

	s->folder = named ? name : NULL;
	if (select_folder(ip, name, check) != 0)
		return -1;
	if (ip->readonly && !check && !(s->q->o.keep == FLAG_TRUE &&
	    s->q->o.fetchall == FLAG_TRUE)) {
		log_err(_("%s: the folder %s is read-only"), s->host, name);
		s->status = PS_LOCKBUSY;
		return -1;
	}
	return list_and_run(ip);
}

/* The folders of the query, one after the other. */
static int
poll_folders(struct imap *ip)
{
	const struct cfg_list *f = &ip->s->q->o.mailboxes;
	size_t	i;

	ip->expunge_every = ip->s->q->o.expunge.set &&
	    ip->s->q->o.expunge.v > 0 ? (unsigned long)ip->s->q->o.expunge.v :
	    0;
	if (f->n == 0)
		return poll_folder(ip, "INBOX", false);
	for (i = 0; i < f->n; i++)
		if (poll_folder(ip, f->v[i], true) != 0)
			return -1;
	return 0;
}

/* ------------------------------------------------------------- idle */

#define IMAP_IDLE_SECS	(28 * 60)	/* IDLE is renewed after this */
#define IMAP_NOOP_WAIT	28		/* without IDLE: wait after NOOP */

static time_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * Read and handle one response while waiting for news (in IDLE, or
 * after NOOP).  *news is set by EXISTS beyond what the folder held or a
 * RECENT above 0; *tagged when the tagged reply to tag came (the
 * server ended IDLE).  0, or -1 (status set).
 */
static int
idle_line(struct imap *ip, unsigned tag, bool *news, bool *tagged)
{
	struct imap_resp	r;
	struct imap_fetch	f;
	uint64_t		before = ip->exists;

	if (conn_getline(ip->c, ip->line, IMAP_LINE_MAX) != 1)
		return imap_io_fail(ip);
	if (imap_parse_response(buf_data(ip->line), buf_len(ip->line), &r)
	    != 0)
		return imap_proto_fail(ip, buf_data(ip->line), buf_len(ip->line));
	if (r.kind == IMAP_R_TAGGED) {
		if (tag == 0 || !imap_tag_is(&r, tag))
			return imap_proto_fail(ip, buf_data(ip->line),
			    buf_len(ip->line));
		*tagged = true;
		return 0;
	}
	if (r.kind == IMAP_R_CONT)
		return 0;		/* a repeated "+ idling" */
	if (r.what == IMAP_W_FETCH)
		return fetch_consume(ip, &r, &f);
	if (r.what == IMAP_W_RECENT && r.num > 0)
		*news = true;
	if (imap_untagged(ip, &r) != 0)
		return -1;
	if (r.what == IMAP_W_EXISTS && ip->exists > before)
		*news = true;
	return 0;
}

/*
 * IDLE until the server reports new mail or IMAP_IDLE_SECS pass, then
 * DONE and the tagged reply.  Without the IDLE capability: NOOP, and
 * if that brought no news, up to IMAP_NOOP_WAIT seconds of waiting for
 * unsolicited updates.  0 (re-poll the folder), or -1 (status set).
 */
static int
idle_wait(struct imap *ip)
{
	struct imap_resp r;
	time_t		 start;
	long		 left;
	unsigned	 tag;
	bool		 news = false, tagged = false;
	int		 k;

	if (!ip->caps.idle) {
		uint64_t before = ip->exists;

		if (imap_command(ip, &r, "NOOP") < 0)
			return -1;
		if (ip->exists > before)
			return 0;
		start = mono_now();
		while (!news && (left = IMAP_NOOP_WAIT -
		    (long)(mono_now() - start)) > 0) {
			if ((k = conn_await(ip->c, (int)left)) < 0)
				return imap_io_fail(ip);
			if (k == 0)
				break;
			if (idle_line(ip, 0, &news, &tagged) != 0)
				return -1;
		}
		return 0;
	}
	if ((tag = imap_send_cmd(ip, "IDLE")) == 0 || imap_next_resp(ip, &r) != 0)
		return -1;
	if (r.kind == IMAP_R_TAGGED) {
		/* refused (or a FETCH was pending): no IDLE this time */
		if (!imap_tag_is(&r, tag))
			return imap_proto_fail(ip, buf_data(ip->line),
			    buf_len(ip->line));
		if (r.cond != IMAP_C_OK) {
			char *e = log_escape(r.text, r.textlen);

			log_err(_("IMAP IDLE refused: %s"), e);
			free(e);
			ip->s->status = PS_PROTOCOL;
			return -1;
		}
		return 0;
	}
	if (r.kind != IMAP_R_CONT) {
		struct imap_fetch f;

		if (fetch_consume(ip, &r, &f) != 0)
			return -1;
	}
	start = mono_now();
	while (!news && !tagged && (left = IMAP_IDLE_SECS -
	    (long)(mono_now() - start)) > 0) {
		if ((k = conn_await(ip->c, (int)left)) < 0)
			return imap_io_fail(ip);
		if (k == 0)
			break;
		if (idle_line(ip, tag, &news, &tagged) != 0)
			return -1;
	}
	if (tagged)
		return 0;
	if (conn_printf(ip->c, "DONE\r\n") != 0)
		return imap_io_fail(ip);
	if (imap_simple_reply(ip, tag, &r) != 0)
		return -1;
	return 0;
}

/* Poll the selected folder again (it is still selected). */
static int
repoll_folder(struct imap *ip)
{
	if (ip->exists == 0) {
		ip->grew = false;
		return 0;		/* nothing to see */
	}
	return list_and_run(ip);
}

/* idle: wait for news and fetch it, until the connection ends. */
static int
idle_loop(struct imap *ip)
{
	for (;;) {
		if (ip->s->stop || ip->store_failed || ip->expunge_failed)
			return 0;
		/* mail that came while the poll ran is fetched at once;
		 * before a wait the sink is let go */
		if (!ip->grew && ip->s->ops->pause != NULL)
			ip->s->ops->pause(ip->s);
		if ((!ip->grew && idle_wait(ip) != 0) ||
		    repoll_folder(ip) != 0)
			return -1;
	}
}

int
imap_session(struct session *s, const struct pop3_tls *t)
{
	struct imap	ip;
	int		r = -1;

	memset(&ip, 0, sizeof(ip));
	ip.s = s;
	ip.c = s->conn;
	ip.line = buf_create(IMAP_LINE_MAX);
	ip.cmd = buf_create(64 * 1024);
	ip.junk = buf_create(IMAP_CHUNK);
	ip.tail = buf_create(IMAP_CHUNK + 2);
	if (imap_login(&ip, t) == 0) {
		bool idle = s->q->o.idle == FLAG_TRUE && !s->check &&
		    s->q->o.mailboxes.n <= 1;

		if (idle && ip.caps.idle)
			log_verbose("%s", _("will idle after poll"));
		if (poll_folders(&ip) == 0 && (!idle || idle_loop(&ip) == 0))
			r = 0;
		if (r == 0 && (ip.store_failed || ip.expunge_failed)) {
			log_err("%s", _("client/server synchronization error: "
			    "the server refused to delete a message"));
			s->status = PS_ERROR;
			r = -1;
		}
	}
	if (s->status == PS_ERROR || s->status == PS_AUTHFAIL ||
	    s->status == PS_LOCKBUSY || r == 0)
		logout(&ip);
	if (s->status == PS_ERROR)
		log_err(_("client/server synchronization error while fetching "
		    "from %s@%s"), s->q->o.remote, s->pollname);
	free(ip.lst);
	while (ip.count > 0)
		free(pop(&ip).batch);
	free(ip.fifo);
	free(ip.bdel.v);
	free(ip.bseen.v);
	free(ip.qdel);
	buf_free(ip.line);
	buf_free_wipe(ip.cmd);
	buf_free(ip.junk);
	buf_free(ip.tail);
	return r;
}
