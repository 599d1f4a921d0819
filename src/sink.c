/*
 * sink.c: the common part of the delivery sinks (see sink.h): dispatch
 * on the kind, the per-message state machine, recipient bookkeeping and
 * RCPT qualification, error text, dot-stuffing.
 *
 * Recipient qualification: an address containing '@' is used as is;
 * otherwise smtpname if set; otherwise name@DEST, DEST being smtpaddress
 * if set, else the host part of the hunt-list entry in use (SMTP/LMTP
 * over TCP), else "localhost" (Unix socket, MDA, BSMTP).
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "i18n.h"
#include "sink.h"
#include "sink_priv.h"
#include "xmalloc.h"

static const struct sink_ops *sink_ops_of(enum sink_kind);
static char	*sink_qualify(const struct sink *, const char *);
static void	 sink_rcpt_clear(struct sink *);
static void	 sink_rcpt_fill(struct sink *, const struct sink_env *);

/* The operations table of a kind, NULL if unknown. */
static const struct sink_ops *
sink_ops_of(enum sink_kind kind)
{
	switch (kind) {
	case SINK_SMTP:
	case SINK_LMTP:
		return &sink_smtp_ops;
	case SINK_MDA:
		return &sink_mda_ops;
	case SINK_BSMTP:
		return &sink_bsmtp_ops;
	}
	return NULL;
}

struct sink *
sink_open(const struct sink_conf *conf, char **cause)
{
	const struct sink_ops	*ops;
	struct sink		*s;

	if ((ops = sink_ops_of(conf->kind)) == NULL) {
		*cause = xstrdup(_("unknown delivery method"));
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->conf = conf;
	s->ops = ops;
	s->name = ops->name;
	s->state = SINK_IDLE;
	s->dest = xstrdup("localhost");
	if (ops->open(s, cause) == -1) {
		free(s->dest);
		free(s->host);
		free(s->error);
		free(s);
		return NULL;
	}
	return s;
}

void
sink_close(struct sink *s)
{
	if (s == NULL)
		return;
	sink_abort(s);
	s->ops->close(s);
	sink_rcpt_clear(s);
	free(s->dest);
	free(s->host);
	free(s->error);
	free(s);
}

enum sink_result
sink_begin(struct sink *s, const struct sink_env *env)
{
	enum sink_result	 r;
	size_t			 i;

	if (s->state != SINK_IDLE)
		sink_abort(s);
	free(s->error);
	s->error = NULL;
	s->code = 0;
	s->stage = SINK_STAGE_NONE;
	s->fallback = env->fallback != NULL && *env->fallback != '\0' ?
	    env->fallback : NULL;
	sink_rcpt_fill(s, env);
	s->bol = true;
	r = s->ops->begin(s, env);
	for (i = 0; i < s->nrcpt; i++)
		s->rcpt[i].local = NULL;	/* borrowed for the call */
	s->fallback = NULL;
	if (r == SINK_OK)
		s->state = SINK_INMSG;
	return r;
}

enum sink_result
sink_line(struct sink *s, const char *p, size_t n, int eol)
{
	enum sink_result	 r;

	if (s->state == SINK_IDLE) {
		sink_seterr(s, _("no message in progress"));
		return SINK_ERROR;
	}
	if (s->state == SINK_FAILED)
		return SINK_ERROR;
	if ((r = s->ops->line(s, p, n, eol)) != SINK_OK)
		s->state = SINK_FAILED;
	return r;
}

enum sink_result
sink_end(struct sink *s)
{
	enum sink_result	 r;

	if (s->state == SINK_IDLE) {
		sink_seterr(s, _("no message in progress"));
		return SINK_ERROR;
	}
	r = s->ops->end(s);
	s->state = SINK_IDLE;
	return r;
}

void
sink_abort(struct sink *s)
{
	if (s == NULL || s->state == SINK_IDLE)
		return;
	s->ops->abort(s);
	s->state = SINK_IDLE;
}

size_t
sink_rcpt_count(const struct sink *s)
{
	return s->nrcpt;
}

const char *
sink_rcpt_addr(const struct sink *s, size_t i)
{
	return i < s->nrcpt ? s->rcpt[i].addr : NULL;
}

enum sink_result
sink_rcpt_result(const struct sink *s, size_t i)
{
	return i < s->nrcpt ? s->rcpt[i].result : SINK_ERROR;
}

const char *
sink_rcpt_reply(const struct sink *s, size_t i)
{
	if (i >= s->nrcpt || s->rcpt[i].reply == NULL)
		return "";
	return s->rcpt[i].reply;
}

size_t
sink_naccepted(const struct sink *s)
{
	size_t	 i, n = 0;

	for (i = 0; i < s->nrcpt; i++)
		if (s->rcpt[i].result == SINK_OK)
			n++;
	return n;
}

int
sink_rcpt_code(const struct sink *s, size_t i)
{
	return i < s->nrcpt ? s->rcpt[i].code : 0;
}

bool
sink_rcpt_is_fallback(const struct sink *s, size_t i)
{
	return i < s->nrcpt && s->rcpt[i].fallback;
}

int
sink_error_code(const struct sink *s)
{
	return s->code;
}

enum sink_stage
sink_fail_stage(const struct sink *s)
{
	return s->stage;
}

const char *
sink_error(const struct sink *s)
{
	return s->error != NULL ? s->error : "";
}

const char *
sink_host(const struct sink *s)
{
	return s->host != NULL ? s->host : "";
}

const char *
sink_name(const struct sink *s)
{
	return s->name;
}

/* ---------------------------------------------------------------- */
/* shared with the implementations                                  */

void
sink_seterr(struct sink *s, const char *fmt, ...)
{
	va_list	 ap;
	char	*e;

	va_start(ap, fmt);
	e = xvasprintf(fmt, ap);
	va_end(ap);
	free(s->error);
	s->error = e;
}

char *
sink_printable(const char *p, size_t n)
{
	char	*t;
	size_t	 i;

	t = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		unsigned char	 c = (unsigned char)p[i];

		t[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	t[n] = '\0';
	return t;
}

void
sink_seterr_line(struct sink *s, const char *p, size_t n)
{
	free(s->error);
	s->error = sink_printable(p, n);
}

char *
sink_clean_addr(const char *a)
{
	char	*c, *p;

	c = xstrdup(a);
	for (p = c; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			*p = '_';
	return c;
}

void
sink_setfail(struct sink *s, enum sink_stage stage, int code)
{
	s->stage = stage;
	s->code = code;
}

size_t
sink_rcpt_add_fallback(struct sink *s)
{
	const struct sink_conf	*c = s->conf;
	struct sink_rcpt	*r;
	const char		*dom;
	char			*a;

	s->rcpt = xreallocarray(s->rcpt, s->nrcpt + 1, sizeof(*s->rcpt));
	r = &s->rcpt[s->nrcpt];
	memset(r, 0, sizeof(*r));
	dom = c->smtpaddress != NULL && *c->smtpaddress != '\0' ?
	    c->smtpaddress : s->dest;
	if (strchr(s->fallback, '@') != NULL || c->rawrcpt)
		a = xstrdup(s->fallback);
	else
		a = xasprintf("%s@%s", s->fallback, dom);
	r->addr = sink_clean_addr(a);
	free(a);
	r->local = s->fallback;
	r->fallback = true;
	r->result = SINK_ERROR;
	return s->nrcpt++;
}

void
sink_set_dest(struct sink *s, const char *dest)
{
	free(s->dest);
	s->dest = xstrdup(dest);
}

void
sink_set_host(struct sink *s, const char *host)
{
	free(s->host);
	s->host = host != NULL ? xstrdup(host) : NULL;
}

int
sink_put_stuffed(struct sink *s, sink_put_fn *put, void *arg,
    const char *p, size_t n, int eol)
{
	if (n > 0) {
		if (s->bol && p[0] == '.' && put(arg, ".", 1) == -1)
			return -1;
		if (put(arg, p, n) == -1)
			return -1;
		s->bol = false;
	}
	if (eol != CONN_EOL_NONE) {
		if (put(arg, "\r\n", 2) == -1)
			return -1;
		s->bol = true;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* recipients                                                       */

/* The address sent for a recipient name (allocated). */
static char *
sink_qualify(const struct sink *s, const char *name)
{
	const struct sink_conf	*c = s->conf;
	char			*a, *r;

	if (strchr(name, '@') != NULL || c->rawrcpt)
		a = xstrdup(name);
	else if (c->smtpname != NULL && *c->smtpname != '\0')
		a = xstrdup(c->smtpname);
	else if (c->smtpaddress != NULL && *c->smtpaddress != '\0')
		a = xasprintf("%s@%s", name, c->smtpaddress);
	else
		a = xasprintf("%s@%s", name, s->dest);
	r = sink_clean_addr(a);
	free(a);
	return r;
}

/* Forget the recipients of the previous message. */
static void
sink_rcpt_clear(struct sink *s)
{
	size_t	 i;

	for (i = 0; i < s->nrcpt; i++) {
		free(s->rcpt[i].addr);
		free(s->rcpt[i].reply);
	}
	free(s->rcpt);
	s->rcpt = NULL;
	s->nrcpt = 0;
}

/* Set up the recipients of a new message, none accepted yet. */
static void
sink_rcpt_fill(struct sink *s, const struct sink_env *env)
{
	size_t	 i;

	sink_rcpt_clear(s);
	if (env->nrcpt == 0)
		return;
	s->rcpt = xcalloc(env->nrcpt, sizeof(*s->rcpt));
	s->nrcpt = env->nrcpt;
	for (i = 0; i < env->nrcpt; i++) {
		s->rcpt[i].addr = sink_qualify(s, env->rcpt[i]);
		s->rcpt[i].local = env->rcpt[i];
		s->rcpt[i].result = SINK_ERROR;	/* not tried yet */
	}
}
