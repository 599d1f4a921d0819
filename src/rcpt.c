/*
 * rcpt.c: multidrop recipient discovery (see rcpt.h).
 *
 * Theory.  The reference decides in three steps, and so do we:
 *
 * 1. Where the recipients are.  With an `envelope` header other than
 *    Received, the first field whose name starts with it (case folded;
 *    `envskip` earlier matches are passed over); with dropdelivered and
 *    `envelope Delivered-To`, the value of the first (dropped)
 *    Delivered-To: field.  With the default, the first Received: field
 *    (again after envskip) whose first " by HOST " names the mail server
 *    and which has a " for TOKEN " with an "@" in TOKEN.  With none of
 *    these (or `no envelope`) the header is guessed from: every
 *    Resent-To/Cc/Bcc field if there is one, else every To, Cc, Bcc and
 *    Apparently-To field.
 * 2. The addresses in those fields, as the reference's scanner cuts them
 *    (addr_iter_*, quirks kept).
 * 3. Each address: strip the qvirtual prefix; ignore it without "@";
 *    then a full-address `is` mapping, else a localdomains suffix (passed
 *    through whole), else if the domain is the server (true name, an aka
 *    or a subdomain of one, or DNS through the hook) the local part
 *    through the `is` list or `*`, else rejected.
 * Nothing accepted: the postmaster gets it, with a warning line.
 *
 * Everything is a single pass over the fields; a field is scanned at most
 * twice (envelope search, then addresses).
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "i18n.h"
#include "rcpt.h"
#include "xmalloc.h"

/* Everything one rcpt_find() call needs. */
struct ctx {
	const struct rcpt_opts	*o;
	struct rcpt_result	*res;
	size_t			 seen;		/* addresses looked at */
	size_t			 cap_local, cap_rej, cap_log;
	size_t			*set;		/* dedup: open addressing over
						 * res->local, index + 1 */
	size_t			 nset;		/* slots, a power of 2 */
};

static void	 push(char ***, size_t *, size_t *, char *);
static void	 vlog(struct ctx *, int, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));
static void	 logf_(struct ctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 logv(struct ctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static bool	 starts_ci(const char *, size_t, const char *);
static size_t	 line1(const char *, size_t);
static bool	 is_alias(struct ctx *, const char *);
static const char *map_name(const struct rcpt_opts *, const char *, bool);
static void	 classify(struct ctx *, char *);
static void	 scan(struct ctx *, const char *, size_t, bool);
static bool	 recv_for(struct ctx *, const char *, size_t, struct buf *);
static bool	 find_envelope(struct ctx *, const struct rcpt_field *,
		    size_t);
static void	 guess(struct ctx *, const struct rcpt_field *, size_t);
static void	 fallback(struct ctx *);

bool
rcpt_is_multidrop(size_t nnames, bool wildcard)
{
	return wildcard || nnames > 1;
}

/* Append an allocated string to a growable vector. */
static void
push(char ***v, size_t *n, size_t *cap, char *s)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	(*v)[(*n)++] = s;
}

/* Log a line at level (2: -v -v, 1: -v): to the hook, or kept. */
static void
vlog(struct ctx *c, int level, const char *fmt, va_list ap)
{
	char	*line;

	if (c->o->log == NULL && !c->o->want_log)
		return;
	line = xvasprintf(fmt, ap);
	if (c->o->log != NULL) {
		c->o->log(c->o->log_arg, level, line);
		free(line);
	} else
		push(&c->res->log, &c->res->nlog, &c->cap_log, line);
}

/* Log a -v -v line. */
static void
logf_(struct ctx *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(c, 2, fmt, ap);
	va_end(ap);
}

/* Log a -v line. */
static void
logv(struct ctx *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(c, 1, fmt, ap);
	va_end(ap);
}

/* Whether s[0..n) starts with prefix, ignoring case. */
static bool
starts_ci(const char *s, size_t n, const char *prefix)
{
	size_t	k = strlen(prefix);

	return k <= n && strncasecmp(s, prefix, k) == 0;
}

/* Length of the first physical line of s[0..n) (without its end). */
static size_t
line1(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n && s[i] != '\n' && s[i] != '\r'; i++)
		;
	return i;
}

/* Whether name is the mail server: true name, aka (or below), DNS. */
static bool
is_alias(struct ctx *c, const char *name)
{
	const struct rcpt_opts	*o = c->o;
	size_t			 i, nl, al;
	enum rcpt_alias		 r;

	if (name[0] == '\0')
		return false;
	if (o->truename != NULL && strcasecmp(name, o->truename) == 0)
		return true;
	nl = strlen(name);
	for (i = 0; i < o->naka; i++) {
		al = strlen(o->aka[i]);
		if (strcasecmp(name, o->aka[i]) == 0)
			return true;
		if (nl > al && name[nl - al - 1] == '.' &&
		    strcasecmp(name + nl - al, o->aka[i]) == 0)
			return true;
	}
	if (o->dns == NULL)
		return false;
	r = o->dns(o->dns_arg, name);
	if (r == RCPT_ALIAS_TEMPFAIL)
		c->res->dns_error = true;	/* and, as 6.4.37: an alias */
	return r != RCPT_ALIAS_NO;
}

/*
 * The local name for key in the is list: full addresses (with "@") when
 * full, else plain names; NULL when none matches.
 */
static const char *
map_name(const struct rcpt_opts *o, const char *key, bool full)
{
	size_t	i;

	for (i = 0; i < o->nnames; i++) {
		if ((strchr(o->names[i], '@') != NULL) != full)
			continue;
		if (strcasecmp(o->names[i], key) == 0)
			return o->maps != NULL && o->maps[i] != NULL ?
			    o->maps[i] : o->names[i];
	}
	return NULL;
}

/* Whether s holds a control byte we never put into an RCPT TO. */
static bool
has_ctl(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return true;
	return false;
}

/* FNV-1a of s with ASCII case folded. */
static size_t
hash_ci(const char *s)
{
	size_t	h = (size_t)14695981039346656037ull;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)tolower((unsigned char)*s)) *
		    (size_t)1099511628211ull;
	return h;
}

/* Dedup: whether name is a recipient already; if not, remember it as
 * the index the next add_local() will use. */
static bool
seen_before(struct ctx *c, const char *name)
{
	size_t	i, k, *old, nold;

	if (2 * (c->res->nlocal + 1) > c->nset) {
		old = c->set;
		nold = c->nset;
		c->nset = c->nset ? c->nset * 2 : 64;
		c->set = xcalloc(c->nset, sizeof(*c->set));
		for (i = 0; i < nold; i++)
			if (old[i] != 0) {
				k = hash_ci(c->res->local[old[i] - 1]);
				while (c->set[k & (c->nset - 1)] != 0)
					k++;
				c->set[k & (c->nset - 1)] = old[i];
			}
		free(old);
	}
	for (k = hash_ci(name); c->set[k & (c->nset - 1)] != 0; k++)
		if (strcasecmp(c->res->local[c->set[k & (c->nset - 1)] - 1],
		    name) == 0)
			return true;
	c->set[k & (c->nset - 1)] = c->res->nlocal + 1;
	return false;
}

/* Accept name as a recipient (unless a repeat and o->dedup). */
static void
add_local(struct ctx *c, const char *name)
{
	if (c->o->dedup && seen_before(c, name))
		return;
	push(&c->res->local, &c->res->nlocal, &c->cap_local, xstrdup(name));
}

/* Classify one address (modifiable copy) as the reference does. */
static void
classify(struct ctx *c, char *addr)
{
	const struct rcpt_opts	*o = c->o;
	const char		*lname, *d;
	char			*at, *rhs;
	size_t			 k, al, dl;

	if (o->qvirtual != NULL && o->qvirtual[0] != '\0' &&
	    strncasecmp(addr, o->qvirtual, strlen(o->qvirtual)) == 0)
		addr += strlen(o->qvirtual);
	if ((at = strchr(addr, '@')) == NULL)
		return;
	if ((lname = map_name(o, addr, true)) != NULL) {
		logf_(c, _("mapped address %s to local %s"), addr, lname);
		add_local(c, lname);
		return;
	}
	al = strlen(at);
	for (k = 0; k < o->nlocaldomains; k++) {
		d = o->localdomains[k];
		dl = strlen(d);
		if (dl >= al)
			continue;
		rhs = at + (al - dl);
		if ((rhs[-1] == '.' || rhs[-1] == '@') &&
		    strcasecmp(rhs, d) == 0) {
			logf_(c, _("passed through %s matching %s"), addr, d);
			add_local(c, addr);
			return;
		}
	}
	if (!is_alias(c, at + 1)) {
		push(&c->res->rejected, &c->res->nrejected, &c->cap_rej,
		    xstrdup(addr));
		return;
	}
	*at = '\0';
	lname = map_name(o, addr, false);
	if (lname == NULL && o->wildcard)
		lname = addr;
	if (lname != NULL) {
		logf_(c, _("mapped %s to local %s"), addr, lname);
		add_local(c, lname);
	}
}

/* Classify every address of s[0..n) (a field, or a body if !has_name). */
static void
scan(struct ctx *c, const char *s, size_t n, bool has_name)
{
	struct addr_iter	 it;
	struct buf		*a;
	char			*copy;

	a = buf_create(n + 1);
	addr_iter_init(&it, s, n, has_name);
	while (addr_iter_next(&it, a) == 1) {
		if (buf_len(a) == 0 ||
		    has_ctl(buf_data(a), buf_len(a)))
			continue;
		if (c->seen++ >= RCPT_MAX) {
			c->res->truncated = true;
			break;
		}
		if (buf_len(a) > RCPT_ADDR_MAX)
			buf_truncate(a, RCPT_ADDR_MAX);
		copy = xstrndup(buf_data(a), buf_len(a));
		classify(c, copy);
		free(copy);
	}
	buf_free(a);
}

/* Whether t[i] is a blank as the Received parser sees it. */
static bool
sp(const char *t, size_t n, size_t i)
{
	return i < n && isspace((unsigned char)t[i]);
}

/* Position of the next blank-surrounded word w in t[from..n), or n. */
static size_t
find_word(const char *t, size_t n, size_t from, const char *w)
{
	size_t	wl = strlen(w), i;

	for (i = from; i + wl <= n; i++)
		if (memcmp(t + i, w, wl) == 0 && i > 0 &&
		    sp(t, n, i - 1) && sp(t, n, i + wl))
			return i;
	return n;
}

/* The blank-delimited token after position i: *start, returns its end. */
static size_t
token_at(const char *t, size_t n, size_t i, size_t *start)
{
	while (sp(t, n, i))
		i++;
	*start = i;
	while (i < n && !sp(t, n, i))
		i++;
	return i;
}

/*
 * The "for" address of a Received: field t[0..n) whose first " by HOST "
 * names the server, into out: true if found.  Logs as the reference.
 */
static bool
recv_for(struct ctx *c, const char *t, size_t n, struct buf *out)
{
	size_t	 i, s, e, len = n;
	char	*host;
	bool	 gt, alias;

	while (len > 0 && (t[len - 1] == '\n' || t[len - 1] == '\r'))
		len--;
	logf_(c, "%s\n%.*s", _("analyzing Received line:"), (int)len, t);
	if ((i = find_word(t, n, 0, "by")) == n)
		goto none;
	e = token_at(t, n, i + 2, &s);
	host = xstrndup(t + s, e - s);
	alias = is_alias(c, host);
	if (alias)
		logf_(c, _("line accepted, %s is an alias of the mailserver"),
		    host);
	else
		logf_(c, _("line rejected, %s is not an alias of the mailserver"),
		    host);
	free(host);
	if (!alias)
		return false;
	for (i = e; (i = find_word(t, n, i, "for")) < n; i = e) {
		e = token_at(t, n, i + 3, &s);
		if (memchr(t + s, '@', e - s) != NULL)
			break;
	}
	if (i >= n)
		goto none;
	i = s;
	if ((gt = t[i] == '<'))
		i++;
	while (i < n && t[i] == '@')		/* a route */
		while (i < n && t[i++] != ':')
			;
	buf_reset(out);
	for (; i < n && t[i] != ';' && (gt ? t[i] != '>' : !sp(t, n, i)); i++) {
		if (sp(t, n, i))
			goto none;
		buf_append(out, t + i, 1);
	}
	if (buf_len(out) == 0)
		goto none;
	logf_(c, _("found Received address `%.*s'"), (int)buf_len(out),
	    buf_data(out));
	return true;
none:
	logf_(c, "%s", _("no Received address found"));
	return false;
}

/* Step 1 and 2 for an envelope: true when one was found (and scanned). */
static bool
find_envelope(struct ctx *c, const struct rcpt_field *f, size_t nf)
{
	const struct rcpt_opts	*o = c->o;
	const char		*env = o->envelope, *v;
	struct buf		*ra;
	size_t			 i, n, skip = 0, kept = nf;
	bool			 recv, found = false;

	if (o->no_envelope)
		return false;
	recv = env == NULL || strcasecmp(env, "Received") == 0;
	ra = buf_create(SIZE_MAX / 2);
	for (i = 0; i < nf && !found; i++) {
		if (o->dropdelivered &&
		    starts_ci(f[i].text, f[i].len, "Delivered-To:")) {
			if (kept == nf)
				kept = i;
			continue;
		}
		if (recv ? !starts_ci(f[i].text, f[i].len, "Received:") :
		    !starts_ci(f[i].text, f[i].len, env))
			continue;
		if (skip++ < (size_t)(o->envskip > 0 ? o->envskip : 0))
			continue;
		if (!recv) {
			logf_(c, _("Parsing envelope \"%s\" names \"%.*s\""),
			    env, (int)line1(f[i].text, f[i].len), f[i].text);
			scan(c, f[i].text, f[i].len, true);
			found = true;
		} else if (recv_for(c, f[i].text, f[i].len, ra)) {
			logf_(c, _("Parsing Received names \"%.*s\""),
			    (int)buf_len(ra), buf_data(ra));
			scan(c, buf_data(ra), buf_len(ra), false);
			found = true;
		}
	}
	if (!found && !recv && o->dropdelivered &&
	    strcasecmp(env, "Delivered-To") == 0) {
		for (i = kept; i < nf; i++)
			if (starts_ci(f[i].text, f[i].len, "Delivered-To:"))
				break;
		if (i < nf) {
			v = f[i].text + 13;
			n = f[i].len - 13;
			while (n > 0 && (*v == ' ' || *v == '\t')) {
				v++;
				n--;
			}
			logf_(c, _("Parsing envelope \"%s\" names \"%.*s\""),
			    env, (int)line1(v, n), v);
			scan(c, v, n, false);
			found = true;
		}
	}
	buf_free(ra);
	c->res->envelope_found = found;
	return found;
}

/* Header guessing: the Resent-* fields if any, else To/Cc/Bcc/... */
static void
guess(struct ctx *c, const struct rcpt_field *f, size_t nf)
{
	static const char *const resent[] = {
		"Resent-To:", "Resent-Cc:", "Resent-Bcc:", NULL
	};
	static const char *const to[] = {
		"To:", "Cc:", "Bcc:", "Apparently-To:", NULL
	};
	const char *const	*names = to;
	size_t			 i, k;

	logf_(c, "%s",
	    _("No envelope recipient found, resorting to header guessing."));
	for (i = 0; i < nf && names == to; i++)
		for (k = 0; resent[k] != NULL; k++)
			if (starts_ci(f[i].text, f[i].len, resent[k]))
				names = resent;
	for (i = 0; i < nf; i++)
		for (k = 0; names[k] != NULL; k++)
			if (starts_ci(f[i].text, f[i].len, names[k])) {
				logf_(c, _("Guessing from header \"%.*s\"."),
				    (int)line1(f[i].text, f[i].len),
				    f[i].text);
				scan(c, f[i].text, f[i].len, true);
				break;
			}
}

/* Nothing accepted: the postmaster, and the warning text. */
static void
fallback(struct ctx *c)
{
	const char	*pm = c->o->postmaster != NULL ? c->o->postmaster : "";

	c->res->to_postmaster = true;
	add_local(c, pm);
	logf_(c, _("no local matches, forwarding to %s"), pm);
	if (c->res->nrejected == 1)
		c->res->warning = xasprintf(
		    _("recipient address %s didn't match any local name"),
		    c->res->rejected[0]);
	else
		c->res->warning = xstrdup(
		    _("no recipient addresses matched declared local names"));
	if (strlen(c->res->warning) > RCPT_WARNING_MAX)
		c->res->warning[RCPT_WARNING_MAX] = '\0';
}

void
rcpt_find(const struct rcpt_field *f, size_t nf, const struct rcpt_opts *o,
    struct rcpt_result *res)
{
	struct ctx	c;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.res = res;
	if (!rcpt_is_multidrop(o->nnames, o->wildcard)) {
		if (o->nnames == 1)
			add_local(&c, o->maps != NULL && o->maps[0] != NULL ?
			    o->maps[0] : o->names[0]);
	} else {
		if (!find_envelope(&c, f, nf))
			guess(&c, f, nf);
		if (res->nlocal == 0)
			fallback(&c);
		if (res->dns_error)
			logv(&c, "%s", _("forwarding and deletion suppressed "
			    "due to DNS errors"));
	}
	free(c.set);
}

/* Free a string vector. */
static void
strv_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
rcpt_result_free(struct rcpt_result *r)
{
	strv_free(r->local, r->nlocal);
	strv_free(r->rejected, r->nrejected);
	strv_free(r->log, r->nlog);
	free(r->warning);
	memset(r, 0, sizeof(*r));
}
