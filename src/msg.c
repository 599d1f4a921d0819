/*
 * msg.c: the header block of one message, between the protocol and the
 * sink.
 *
 * Theory.  msg_read_header() reads physical lines from the msgsrc into
 * one text buffer, each line followed by its line end ("\r\n" or "\n"),
 * so a header field (a line and its continuation lines) is one span of
 * the buffer.  When a field is complete it is looked at once, while it
 * is still the last thing in the buffer: an address field is rewritten
 * in place (bare local parts get "@truename"), fields to drop are marked,
 * and the candidates for the envelope sender are remembered.  At the end
 * of the block the sender is worked out from those candidates.
 * msg_write_header() then walks the fields and emits them, with
 * fetchmail's Received: lines, through a line callback.
 *
 * The rewriting (rw_*) and the address extraction (addr_*) reproduce the
 * observable behaviour of fetchmail 6.4.37, quirks included: both were
 * pinned down by feeding the reference thousands of random header values
 * and comparing.  Both are single passes with O(1) work per byte, so a
 * hostile header costs linear time; the rewritten block counts against
 * MSG_HEADER_MAX like the received one.
 */
#include "config.h"

#include <arpa/inet.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "conn.h"
#include "i18n.h"
#include "msg.h"
#include "rcpt.h"
#include "xmalloc.h"

/* struct field.flags */
#define F_DROP		0x01	/* not emitted */
#define F_RECEIVED	0x02	/* a "Received:" field */
#define F_DONE		0x04	/* rewritten and classified */
#define F_NORCPT	0x08	/* not shown to rcpt either ("From " lines,
				 * blank Status:) */

/* A header field: text[off .. off+len), every line end included. */
struct field {
	size_t	off;
	size_t	len;
	int	flags;
};

/* Envelope sender candidates after Return-Path:, in priority order. */
enum cand {
	C_RSENDER, C_SENDER, C_RFROM, C_FROM, C_REPLYTO, C_AFROM, C_NCAND
};

struct msg {
	struct msg_opts	 o;
	struct buf	*text;		/* the kept header lines */
	struct buf	*line;		/* the physical line being read */
	struct buf	*piece;		/* what the msgsrc hands over */
	struct buf	*tmp;		/* rewrite and extraction output */
	struct buf	*tmp2;
	struct field	*f;
	size_t		 nf, capf;
	struct msg_info	 info;
	char		*rp;		/* first Return-Path address */
	size_t		 cand[C_NCAND];	/* field index + 1, 0 for none */
	int		 mime;		/* MIME-Version: 0 none, 1 1.0, -1 */
	int		 ctype;		/* Content-Type: 0 none, 1 multipart */
	int		 cte;		/* Content-Transfer-Encoding: body8 */
	bool		 have_cte;
	bool		 used;		/* msg_read_header() was called */
	bool		 header_only;
	bool		 failed;
	char		 err[160];
};

static void	 msg_fail(struct msg *, const char *);
static int	 read_line(struct msg *, struct msgsrc *, int *);
static int	 add_line(struct msg *, int);
static int	 field_done(struct msg *);
static void	 field_classify(struct msg *, size_t);
static void	 note_mime(struct msg *, const char *, size_t);
static bool	 field_is(const char *, size_t, const char *);
static bool	 value_blank(const char *, size_t, size_t);
static int	 rewrite_field(struct msg *, struct field *, size_t);
static void	 set_sender(struct msg *);
static int	 synthesize(struct msg *);
static int	 emit_field(const struct msg *, const struct field *,
		    msg_out_fn *, void *);
static int	 emit_made(struct buf *, msg_out_fn *, void *);
static int	 emit_received(struct msg *, const struct msg_received *,
		    msg_out_fn *, void *);
static bool	 is_ws(int);
static size_t	 rw_value(const char *, size_t, size_t, const char *,
		    size_t, struct buf *);
static int	 addr_extract(const char *, size_t, struct buf *,
		    struct buf *);
static int	 addr_scan(const char *, size_t, struct buf *);
static int	 body8_of(const char *, size_t, size_t);
static char	*qualify_host(const char *);

/* Fields whose bare local parts get "@truename" with rewrite. */
static const char *const rw_names[] = {
	"From:", "To:", "Reply-To:", "Return-Path:", "Cc:", "Bcc:",
	"Resent-From:", "Resent-To:", "Resent-Cc:", "Resent-Bcc:",
	"Apparently-From:", "Apparently-To:", "Sender:", "Resent-Sender:",
};

static const char *const wdays[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

struct msg *
msg_new(const struct msg_opts *opts)
{
	struct msg	*m;

	m = xcalloc(1, sizeof(*m));
	m->o = *opts;
	m->text = buf_create(MSG_HEADER_MAX);
	m->line = buf_create(MSG_HEADER_MAX);
	m->piece = buf_create(MSG_HEADER_MAX);
	m->tmp = buf_create(MSG_HEADER_MAX);
	m->tmp2 = buf_create(MSG_HEADER_MAX);
	msg_reset(m);
	return m;
}

void
msg_free(struct msg *m)
{
	if (m == NULL)
		return;
	msg_reset(m);
	buf_free(m->text);
	buf_free(m->line);
	buf_free(m->piece);
	buf_free(m->tmp);
	buf_free(m->tmp2);
	free(m->f);
	free(m);
}

/* Forget the message; the buffers are kept for the next one. */
void
msg_reset(struct msg *m)
{
	free(m->info.sender);
	free(m->info.bad_line);
	free(m->rp);
	memset(&m->info, 0, sizeof(m->info));
	m->rp = NULL;
	memset(m->cand, 0, sizeof(m->cand));
	buf_reset(m->text);
	buf_reset(m->line);
	m->nf = 0;
	m->mime = m->ctype = m->cte = 0;
	m->have_cte = m->used = m->header_only = m->failed = false;
	m->err[0] = '\0';
}

const char *
msg_error(const struct msg *m)
{
	return m->err[0] != '\0' ? m->err : _("no error");
}

bool
msg_header_only(const struct msg *m)
{
	return m->header_only;
}

/* Note that reading failed, and why (for msg_error()). */
static void
msg_fail(struct msg *m, const char *why)
{
	m->failed = true;
	snprintf(m->err, sizeof(m->err), "%s", why);
}

int
msg_read_header(struct msg *m, struct msgsrc *src,
    const struct msg_info **infop)
{
	int	eol, r;

	if (m->used) {
		msg_fail(m, _("message header read twice"));
		return -1;
	}
	m->used = true;
	for (;;) {
		if ((r = read_line(m, src, &eol)) < 0)
			return -1;
		if (r == 0) {
			m->header_only = true;
			break;
		}
		if (buf_len(m->line) == 0)
			break;			/* the blank line */
		if (add_line(m, eol) != 0)
			return -1;
	}
	if (field_done(m) != 0)
		return -1;
	set_sender(m);
	if (synthesize(m) != 0)
		return -1;
	m->info.body8 = m->mime == 1 ? (m->ctype == 1 ? 2 : m->cte) : 0;
	*infop = &m->info;
	return 0;
}

/*
 * Read one physical line (all its pieces) into m->line, without NUL
 * bytes (noted) and stray LF bytes; 1 with *eol set, 0 at the end of the
 * message, -1 on error.
 */
static int
read_line(struct msg *m, struct msgsrc *src, int *eol)
{
	const char	*p, *end, *z;
	int		 r;
	bool		 any = false;

	buf_reset(m->line);
	do {
		buf_reset(m->piece);
		if ((r = src->next(src->ctx, m->piece, eol)) < 0) {
			msg_fail(m, _("error reading the message"));
			return -1;
		}
		if (r == 0) {
			if (!any)
				return 0;
			*eol = CONN_EOL_NONE;
			break;
		}
		any = true;
		m->info.header_bytes += buf_len(m->piece) +
		    (*eol == CONN_EOL_CRLF ? 2 : *eol == CONN_EOL_LF ? 1 : 0);
		for (p = buf_data(m->piece), end = p + buf_len(m->piece);
		    p < end; p = z + 1) {
			for (z = p; z < end && *z != '\0' && *z != '\n'; z++)
				;
			if (buf_len(m->text) + buf_len(m->line) +
			    (size_t)(z - p) + 2 > MSG_HEADER_MAX ||
			    buf_append(m->line, p, (size_t)(z - p)) != 0) {
				msg_fail(m, _("message header too long"));
				return -1;
			}
			if (z < end && *z == '\0')
				m->info.had_nul = true;
		}
	} while (*eol == CONN_EOL_NONE);
	return 1;
}

/* Add the line in m->line to the header text: a continuation or a new
 * field (the previous one is then complete). */
static int
add_line(struct msg *m, int eol)
{
	const char	*l = buf_data(m->line);
	size_t		 n = buf_len(m->line);
	struct field	*f;
	bool		 cont = (l[0] == ' ' || l[0] == '\t') && m->nf > 0;

	if (!cont) {
		if (field_done(m) != 0)
			return -1;
		if (m->nf >= MSG_FIELDS_MAX) {
			msg_fail(m, _("too many header lines"));
			return -1;
		}
		if (m->nf == m->capf) {
			m->capf = m->capf ? m->capf * 2 : 32;
			m->f = xreallocarray(m->f, m->capf, sizeof(*m->f));
		}
		f = &m->f[m->nf++];
		f->off = buf_len(m->text);
		f->len = 0;
		f->flags = 0;
		if (memchr(l, ':', n) == NULL && !(l[0] == ' ' || l[0] == '\t')) {
			if (!m->info.bad_header)
				m->info.bad_line = xstrndup(l, n);
			m->info.bad_header = true;
		}
	}
	f = &m->f[m->nf - 1];
	if (buf_append(m->text, l, n) != 0 ||
	    buf_append(m->text, eol == CONN_EOL_LF ? "\n" : "\r\n",
	    eol == CONN_EOL_LF ? 1 : 2) != 0) {
		msg_fail(m, _("message header too long"));
		return -1;
	}
	f->len = buf_len(m->text) - f->off;
	return 0;
}

/* The last field is complete: rewrite and classify it (once). */
static int
field_done(struct msg *m)
{
	struct field	*f;
	size_t		 i;

	if (m->nf == 0)
		return 0;
	f = &m->f[m->nf - 1];
	if (f->flags & F_DONE)
		return 0;
	f->flags |= F_DONE;
	if (m->o.rewrite && m->o.truename != NULL)
		for (i = 0; i < sizeof(rw_names) / sizeof(rw_names[0]); i++)
			if (field_is(buf_data(m->text) + f->off, f->len,
			    rw_names[i])) {
				if (rewrite_field(m, f, strlen(rw_names[i])) != 0)
					return -1;
				break;
			}
	field_classify(m, m->nf - 1);
	return 0;
}

/* Whether the field t[0..n) is named like NAME (with its ':'),
 * case-insensitively. */
static bool
field_is(const char *t, size_t n, const char *name)
{
	size_t	k = strlen(name);

	return n >= k && strncasecmp(t, name, k) == 0;
}

/* Whether the value t[from..n) is only white space. */
static bool
value_blank(const char *t, size_t n, size_t from)
{
	for (; from < n; from++)
		if (!is_ws((unsigned char)t[from]))
			return false;
	return true;
}

/* Look at a complete field: drop it, note it as a sender candidate, or
 * learn a fact from it. */
static void
field_classify(struct msg *m, size_t i)
{
	struct field	*f = &m->f[i];
	const char	*t = buf_data(m->text) + f->off;
	size_t		 n = f->len;

	if (n >= 9 && strncmp(t, "Received:", 9) == 0)	/* case matters */
		f->flags |= F_RECEIVED;
	if (field_is(t, n, "From ") || field_is(t, n, ">From "))
		f->flags |= F_DROP | F_NORCPT;
	else if (field_is(t, n, "Return-Path:")) {
		if (m->rp == NULL &&
		    addr_extract(t + 12, n - 12, m->tmp, m->tmp2) == 1) {
			m->rp = xstrndup(buf_data(m->tmp), buf_len(m->tmp));
			if (!m->o.keep_return_path)
				f->flags |= F_DROP;
		}
	} else if (field_is(t, n, "Status:") || field_is(t, n,
	    "X-Mozilla-Status:")) {
		if (value_blank(t, n, t[0] == 'S' || t[0] == 's' ? 7 : 17))
			f->flags |= F_DROP | F_NORCPT;
		else if (m->o.dropstatus)
			f->flags |= F_DROP;
	} else if (field_is(t, n, "Delivered-To:")) {
		if (m->o.dropdelivered)
			f->flags |= F_DROP;
	} else if (field_is(t, n, "Resent-Sender:")) {
		if (memchr(t, '@', n) != NULL || memchr(t, '!', n) != NULL)
			m->cand[C_RSENDER] = i + 1;
	} else if (field_is(t, n, "Sender:")) {
		if (memchr(t, '@', n) != NULL || memchr(t, '!', n) != NULL)
			m->cand[C_SENDER] = i + 1;
	} else if (field_is(t, n, "Resent-From:"))
		m->cand[C_RFROM] = i + 1;
	else if (field_is(t, n, "From:"))
		m->cand[C_FROM] = i + 1;
	else if (field_is(t, n, "Reply-To:"))
		m->cand[C_REPLYTO] = i + 1;
	else if (field_is(t, n, "Apparently-From:"))
		m->cand[C_AFROM] = i + 1;
	else if (field_is(t, n, "X-IMAP:"))
		m->info.x_imap = true;
	else
		note_mime(m, t, n);
}

/* Remember the first MIME-Version:, Content-Type: and
 * Content-Transfer-Encoding: (for body8). */
static void
note_mime(struct msg *m, const char *t, size_t n)
{
	if (field_is(t, n, "MIME-Version:")) {
		if (m->mime == 0)
			m->mime = body8_of(t, n, 13) == 3 ? 1 : -1;
	} else if (field_is(t, n, "Content-Type:")) {
		if (m->ctype == 0)
			m->ctype = body8_of(t, n, 13) == 4 ? 1 : -1;
	} else if (field_is(t, n, "Content-Transfer-Encoding:") &&
	    !m->have_cte) {
		m->have_cte = true;
		m->cte = body8_of(t, n, 26);
		if (m->cte > 2)
			m->cte = 0;
	}
}

/*
 * Classify the value t[from..n) of a MIME field by its first word:
 * 1 "7bit", 2 "8bit" or "quoted-printable", 3 "1.0", 4 "multipart/",
 * else 0 (as the reference decides BODY=7BIT/8BITMIME).
 */
static int
body8_of(const char *t, size_t n, size_t from)
{
	static const struct {
		const char	*word;
		int		 v;
	} words[] = {
		{ "7bit", 1 }, { "8bit", 2 }, { "quoted-printable", 2 },
		{ "1.0", 3 }, { "multipart/", 4 },
	};
	size_t	i, k;

	while (from < n && is_ws((unsigned char)t[from]))
		from++;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		k = strlen(words[i].word);
		if (n - from >= k && strncasecmp(t + from, words[i].word, k) == 0)
			return words[i].v;
	}
	return 0;
}

/* Rewrite the last field f (its value starts at vstart) in place. */
static int
rewrite_field(struct msg *m, struct field *f, size_t vstart)
{
	char	*suffix;
	size_t	 nins;

	suffix = xasprintf("@%s", m->o.truename);
	buf_reset(m->tmp);
	buf_set_max(m->tmp, MSG_HEADER_MAX - f->off);
	nins = rw_value(buf_data(m->text) + f->off, f->len, vstart, suffix,
	    strlen(suffix), m->tmp);
	free(suffix);
	buf_set_max(m->tmp, MSG_HEADER_MAX);
	if (nins == (size_t)-1) {
		msg_fail(m, _("message header too long"));
		return -1;
	}
	if (nins == 0)
		return 0;
	buf_truncate(m->text, f->off);
	if (buf_append(m->text, buf_data(m->tmp), buf_len(m->tmp)) != 0) {
		msg_fail(m, _("message header too long"));
		return -1;
	}
	f->len = buf_len(m->tmp);
	return 0;
}

/* The envelope sender: the first Return-Path:, else the candidates in
 * priority order (the last field of each kind). */
static void
set_sender(struct msg *m)
{
	const struct field	*f;
	const char		*t;
	size_t			 c, k;

	if (m->rp != NULL) {
		m->info.sender = xstrdup(m->rp);
		m->info.sender_null = m->rp[0] == '\0';
		return;
	}
	for (c = 0; c < C_NCAND; c++) {
		if (m->cand[c] == 0)
			continue;
		f = &m->f[m->cand[c] - 1];
		t = buf_data(m->text) + f->off;
		k = (const char *)memchr(t, ':', f->len) - t + 1;
		if (addr_extract(t + k, f->len - k, m->tmp, m->tmp2) == 1) {
			m->info.sender = xstrndup(buf_data(m->tmp),
			    buf_len(m->tmp));
			return;
		}
	}
	m->info.sender = xstrdup("");
}

/* No header line kept: make the reference's three synthetic ones. */
static int
synthesize(struct msg *m)
{
	const char	*user = m->o.user ? m->o.user : m->o.remote;
	size_t		 i;
	char		*s;
	int		 r;

	for (i = 0; i < m->nf; i++)
		if (!(m->f[i].flags & F_DROP))
			return 0;
	m->info.headerless = true;
	s = xasprintf("From: FETCHMAIL-DAEMON\r\nTo: %s@%s\r\n"
	    "Subject: Headerless mail from %s's mailbox on %s\r\n",
	    user ? user : "", m->o.localhost ? m->o.localhost : "",
	    m->o.remote ? m->o.remote : "",
	    m->o.truename ? m->o.truename : "");
	if (m->nf == m->capf) {
		m->capf = m->capf ? m->capf * 2 : 32;
		m->f = xreallocarray(m->f, m->capf, sizeof(*m->f));
	}
	m->f[m->nf].off = buf_len(m->text);
	m->f[m->nf].len = strlen(s);
	m->f[m->nf].flags = F_DONE;
	r = buf_append(m->text, s, strlen(s));
	free(s);
	if (r != 0) {
		msg_fail(m, _("message header too long"));
		return -1;
	}
	m->nf++;
	return 0;
}

int
msg_write_header(struct msg *m, const struct msg_received *rcv,
    msg_out_fn *out, void *arg)
{
	size_t	i, at = 0;

	for (i = 0; i < m->nf; i++)
		if ((m->f[i].flags & (F_RECEIVED | F_DROP)) == F_RECEIVED) {
			at = i;
			break;
		}
	for (i = 0; i < at; i++)
		if (emit_field(m, &m->f[i], out, arg) != 0)
			return -1;
	if (!m->o.invisible && emit_received(m, rcv, out, arg) != 0)
		return -1;
	for (i = at; i < m->nf; i++)
		if (emit_field(m, &m->f[i], out, arg) != 0)
			return -1;
	if (rcv != NULL && rcv->warning != NULL) {
		buf_reset(m->tmp);
		if (buf_printf(m->tmp, "X-Fetchmail-Warning: %s",
		    rcv->warning) != 0 || emit_made(m->tmp, out, arg) != 0)
			return -1;
	}
	return out(arg, "", 0, CONN_EOL_CRLF);
}

int
msg_write_fields(struct msg *m, msg_out_fn *out, void *arg)
{
	size_t	i;

	for (i = 0; i < m->nf; i++)
		if (emit_field(m, &m->f[i], out, arg) != 0)
			return -1;
	return 0;
}

struct rcpt_field *
msg_rcpt_fields(const struct msg *m, size_t *np)
{
	struct rcpt_field	*v;
	size_t			 i, n = 0;

	v = xcalloc(m->nf + 1, sizeof(*v));
	if (!m->info.headerless)
		for (i = 0; i < m->nf; i++) {
			if (m->f[i].flags & F_NORCPT)
				continue;
			v[n].text = buf_data(m->text) + m->f[i].off;
			v[n].len = m->f[i].len;
			n++;
		}
	*np = n;
	return v;
}

/* Emit the lines of a kept field with the line ends they came with. */
static int
emit_field(const struct msg *m, const struct field *f, msg_out_fn *out,
    void *arg)
{
	const char	*p, *end, *nl;
	size_t		 n;
	int		 eol;

	if (f->flags & F_DROP)
		return 0;
	p = buf_data(m->text) + f->off;
	end = p + f->len;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;		/* cannot happen */
		n = (size_t)(nl - p);
		eol = CONN_EOL_LF;
		if (n > 0 && p[n - 1] == '\r') {
			n--;
			eol = CONN_EOL_CRLF;
		}
		if (out(arg, p, n, eol) != 0)
			return -1;
		p = nl + 1;
	}
	return 0;
}

/* Emit a line we made (CRLF); CR and LF inside it become blanks, so a
 * strange value cannot start a line of its own. */
static int
emit_made(struct buf *b, msg_out_fn *out, void *arg)
{
	char	*p = b->mem + b->off;
	size_t	 i, n = buf_len(b);

	for (i = 0; i < n; i++)
		if (p[i] == '\r' || p[i] == '\n')
			p[i] = ' ';
	return out(arg, p, n, CONN_EOL_CRLF);
}

/* fetchmail's three Received: lines. */
static int
emit_received(struct msg *m, const struct msg_received *rcv,
    msg_out_fn *out, void *arg)
{
	const struct msg_opts	*o = &m->o;
	struct buf		*b = m->tmp;
	char			 date[128];

	buf_reset(b);
	if (buf_printf(b, "Received: from %s", o->truename ? o->truename :
	    "") != 0 || (o->ipaddr != NULL &&
	    buf_printf(b, " [%s]", o->ipaddr) != 0) ||
	    emit_made(b, out, arg) != 0)
		return -1;
	buf_reset(b);
	if (buf_printf(b, "\tby %s with %s (fetchmail-%s",
	    o->localhost ? o->localhost : "", o->proto ? o->proto : "",
	    FETCHMAIL_COMPAT_VERSION) != 0)
		return -1;
	if (o->tracepolls && (buf_printf(b, " polling %s account %s",
	    o->pollname ? o->pollname : "", o->remote ? o->remote : "") != 0 ||
	    (o->folder != NULL && buf_printf(b, " folder %s", o->folder) != 0)))
		return -1;
	if (buf_append(b, ")", 1) != 0 || emit_made(b, out, arg) != 0)
		return -1;
	msg_date(rcv != NULL ? rcv->when : (long long)time(NULL), date,
	    sizeof(date));
	buf_reset(b);
	if (rcv != NULL && rcv->rcpt != NULL) {
		if (buf_printf(b, "\tfor <%s> (%s); %s", rcv->rcpt,
		    rcv->mode ? rcv->mode : "", date) != 0)
			return -1;
	} else if (buf_printf(b, "\t%s", date) != 0)
		return -1;
	return emit_made(b, out, arg);
}

/* The Received: date in local time, with C-locale names. */
void
msg_date(long long when, char *buf, size_t size)
{
	struct tm	 lt, ut;
	time_t		 t = (time_t)when;
	long		 off, days;
	char		 zone[64];

	if (localtime_r(&t, &lt) == NULL || gmtime_r(&t, &ut) == NULL) {
		snprintf(buf, size, "%s", "Thu, 01 Jan 1970 00:00:00 +0000 (UTC)");
		return;
	}
	if (lt.tm_year != ut.tm_year)
		days = lt.tm_year > ut.tm_year ? 1 : -1;
	else
		days = lt.tm_yday - ut.tm_yday;
	off = days * 86400L + (lt.tm_hour - ut.tm_hour) * 3600L +
	    (lt.tm_min - ut.tm_min) * 60L + (lt.tm_sec - ut.tm_sec);
	if (strftime(zone, sizeof(zone), "%Z", &lt) == 0)
		zone[0] = '\0';
	snprintf(buf, size, "%s, %02d %s %d %02d:%02d:%02d %c%02ld%02ld (%s)",
	    wdays[lt.tm_wday % 7], lt.tm_mday, months[lt.tm_mon % 12],
	    lt.tm_year + 1900, lt.tm_hour, lt.tm_min, lt.tm_sec,
	    off < 0 ? '-' : '+', (off < 0 ? -off : off) / 3600,
	    (off < 0 ? -off : off) / 60 % 60, zone);
}

char *
msg_smtp_sender(const struct msg_info *info, const struct msg_opts *o)
{
	const char	*s = info->sender ? info->sender : "";
	char		*host, *r;

	if (info->sender_null)
		return xstrdup("");
	if (s[0] != '\0' && s[0] != '@' &&
	    (strchr(s, '@') != NULL || strchr(s, '!') != NULL))
		return xstrdup(s);
	host = qualify_host(o->truename ? o->truename : "");
	if (s[0] == '\0' || s[0] == '@')
		r = xasprintf("%s@%s", o->remote ? o->remote : "", host);
	else
		r = xasprintf("%s@%s", s, host);
	free(host);
	return r;
}

/* A host name for after "@": a dotted quad gets brackets. */
static char *
qualify_host(const char *h)
{
	struct in_addr	a;

	if (inet_pton(AF_INET, h, &a) == 1)
		return xasprintf("[%s]", h);
	return xstrdup(h);
}

/* isspace() of the C locale. */
static bool
is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

/*
 * The address rewriting: qualify the bare local parts in the value of
 * the address field t[0..n) (value from vstart; t ends with its line
 * end) by appending suffix ("@truename"), writing the whole field to
 * out.  Returns the number of insertions, (size_t)-1 if out is full.
 *
 * The reference's behaviour, as measured:
 * - Three states: plain (1), "quoted" (2), <angle> (3).  Outside quotes
 *   "(" and ")" move a depth counter; while it is not 0 (a comment, or
 *   an unbalanced ")") nothing is looked at, not even the reset below.
 * - Once an address has a host part ("@" or "!", or an insertion was
 *   made) nothing is looked at until the reset.
 * - Plain: "<" opens an angle, '"' a quote; at "," or at the end of the
 *   field, an address with a bare part (a byte that is not blank and not
 *   one of the special ones, or the ")" closing a comment) and no host
 *   part gets the suffix -- unless at the end the last non-blank byte is
 *   ";" (a group).  The suffix goes after the last byte that is neither
 *   blank nor ",", looking back from here, or from just before a comment
 *   that followed the bare part ("bob (Bob)" -> "bob@host (Bob)").
 * - Angle: "@"/"!" is a host part; a ">" not right after "<" closes it
 *   and, without a host part, the suffix goes before the ">".  "<>"
 *   therefore never closes, and nothing after it is rewritten.
 * - Quote: a '"' after an even number of backslashes closes it.
 * - After the byte that follows a "," (the byte itself is processed
 *   first), the host part, the bare part and the comment position are
 *   forgotten; a byte inserted just before the current one hides the ","
 *   from this test, as in the reference's in-place editing.
 */
static size_t
rw_value(const char *t, size_t n, size_t vstart, const char *suffix,
    size_t slen, struct buf *out)
{
	size_t	i, done = 0, nins = 0, lastc = vstart, pf = 0, q, bsrun = 0;
	long	depth = 0;
	int	st = 1;
	bool	host = false, bare = false, haspf = false, atins;
	char	lnw = '\0', c, prevc;

#define RW_INSERT(at) do {						\
	if (buf_append(out, t + done, (at) - done) != 0 ||		\
	    buf_append(out, suffix, slen) != 0)				\
		return (size_t)-1;					\
	done = (at);							\
	nins++;								\
} while (0)

	if (buf_append(out, t, vstart) != 0)
		return (size_t)-1;
	done = vstart;
	for (i = vstart; i < n; i++) {
		c = t[i];
		atins = false;
		if (st != 2) {
			if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			if (depth != 0)
				goto next;
		}
		if (host)
			;
		else if (st == 1) {
			if (!is_ws((unsigned char)c))
				lnw = c;
			if (c == '<')
				st = 3;
			else if (c == '@' || c == '!')
				host = true;
			else if (c == '"')
				st = 2;
			else if ((c == ',' || i == n - 1) && bare && lnw != ';') {
				q = haspf ? pf : lastc;
				RW_INSERT(q);
				atins = q == i;
				host = true;
			} else if (i + 1 < n && t[i + 1] == '(' && bare &&
			    lnw != ';' && lnw != ')') {
				haspf = true;
				pf = (!is_ws((unsigned char)c) && c != ',') ?
				    i + 1 : lastc;
			} else if (!is_ws((unsigned char)c))
				bare = true;
		} else if (st == 2) {
			if (c == '"' && bsrun % 2 == 0)
				st = 1;
		} else {
			if (c == '@' || c == '!')
				host = true;
			else if (c == '>' && t[i - 1] != '<') {
				st = 1;
				if (!host) {
					RW_INSERT(i);
					atins = true;
				}
				host = true;
			}
		}
		prevc = atins ? suffix[slen - 1] : t[i - 1];
		if (prevc == ',')
			host = bare = haspf = false;
next:
		if (!is_ws((unsigned char)c) && c != ',')
			lastc = i + 1;
		bsrun = c == '\\' ? bsrun + 1 : 0;
	}
#undef RW_INSERT
	if (buf_append(out, t + done, n - done) != 0)
		return (size_t)-1;
	return nins;
}

/*
 * The first address of a field value t[0..n) as the reference takes it
 * for the envelope sender: 1 with it in out, 0 if there is none.  The
 * value's line ends become "\n" and trailing blanks go (into scratch)
 * before addr_scan() looks at it.
 */
static int
addr_extract(const char *t, size_t n, struct buf *out, struct buf *scratch)
{
	size_t	i;

	buf_reset(scratch);
	while (n > 0 && is_ws((unsigned char)t[n - 1]))
		n--;
	for (i = 0; i < n; i++)
		if (!(t[i] == '\r' && i + 1 < n && t[i + 1] == '\n'))
			if (buf_append(scratch, t + i, 1) != 0)
				return 0;
	buf_reset(out);
	return addr_scan(buf_data(scratch), buf_len(scratch), out);
}

/*
 * The extraction proper, as measured on the reference:
 * - Leading blanks and commas are skipped; then bytes are collected,
 *   blanks dropped, until a "," ends the address.
 * - "(...)" comments (nested) are dropped; '"...\"..."' quoted strings
 *   are kept as they are.
 * - "<" starts over: the angle's content is kept as it is (blanks and
 *   parentheses too, quoted strings recognised) up to ">", which ends
 *   the address, even an empty one ("<>" gives "").  A later "<" inside
 *   starts over again.
 * - A backslash (outside comments) keeps itself and the next byte.
 * - A newline collected inside a quoted string or an angle spoils the
 *   address (none), unless a later "<" starts over.
 * - At the end trailing blanks go; an open angle gives what it has (even
 *   ""), otherwise an empty result is no address.
 */
static int
addr_scan(const char *s, size_t n, struct buf *out)
{
	enum { S_SKIP, S_BARE, S_QUOTE, S_COMMENT, S_ANGLE } st = S_SKIP,
	    back = S_SKIP;
	size_t	i, k;
	long	depth = 0;
	bool	poison = false;
	char	c;

#define AS_PUT(p, len) do {						\
	if (buf_append(out, (p), (len)) != 0)				\
		return 0;						\
} while (0)

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '\\' && st != S_COMMENT) {
			k = i + 1 < n ? 2 : 1;
			if ((st == S_QUOTE || st == S_ANGLE) && k == 2 &&
			    s[i + 1] == '\n')
				poison = true;
			AS_PUT(s + i, k);
			i += k - 1;
			continue;
		}
		switch (st) {
		case S_SKIP:
		case S_BARE:
			if (c == ',' && st == S_BARE && buf_len(out) > 0)
				return poison ? 0 : 1;
			if (is_ws((unsigned char)c) || c == ',')
				break;
			if (c == '(') {
				back = st;
				st = S_COMMENT;
				depth = 1;
			} else if (c == '"') {
				back = st;
				st = S_QUOTE;
				AS_PUT(&c, 1);
			} else if (c == '<') {
				buf_reset(out);
				poison = false;
				st = S_ANGLE;
			} else {
				st = S_BARE;
				AS_PUT(&c, 1);
			}
			break;
		case S_QUOTE:
			if (c == '\n')
				poison = true;
			AS_PUT(&c, 1);
			if (c == '"')
				st = back;
			break;
		case S_COMMENT:
			if (c == '(')
				depth++;
			else if (c == ')' && --depth == 0)
				st = back;
			break;
		case S_ANGLE:
			if (c == '>')
				return poison ? 0 : 1;
			if (c == '<') {
				buf_reset(out);
				poison = false;
				break;
			}
			if (c == '"') {
				back = S_ANGLE;
				st = S_QUOTE;
			} else if (c == '\n')
				poison = true;
			AS_PUT(&c, 1);
			break;
		}
	}
#undef AS_PUT
	while (buf_len(out) > 0 &&
	    is_ws((unsigned char)buf_data(out)[buf_len(out) - 1]))
		buf_truncate(out, buf_len(out) - 1);
	if (poison)
		return 0;
	if (st == S_ANGLE)
		return 1;
	return buf_len(out) > 0 ? 1 : 0;
}
