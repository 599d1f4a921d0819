/*
 * deliver_md.c: the multidrop part of delivery (see deliver.c): the
 * recipient search with the query's settings, its log lines held back
 * for the duplicate check, the DNS alias hook (canonical names,
 * checkalias addresses, MX through res_search), SDPS envelopes, and the
 * X-Fetchmail-Warning text.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "cfg.h"
#include "dnscache.h"
#include "driver_priv.h"
#include "i18n.h"
#include "log.h"
#include "md5.h"
#include "rcpt.h"
#include "xmalloc.h"

/* One multidrop message's recipient search: the drv and the log lines
 * held back until the duplicate check has passed (level 2: -v -v,
 * 1: -v, 0: an error). */
struct md_ctx {
	struct drv	*d;
	char		**line;
	int		*level;
	size_t		 n;
};

/* rcpt's log hook, and the DNS hook's: keep the line. */
static void
md_log(void *arg, int level, const char *line)
{
	struct md_ctx	*c = arg;

	c->line = xreallocarray(c->line, c->n + 1, sizeof(*c->line));
	c->level = xreallocarray(c->level, c->n + 1, sizeof(*c->level));
	c->line[c->n] = xstrdup(line);
	c->level[c->n] = level;
	c->n++;
}

/* Log the kept lines (unless drop) and forget them. */
static void
md_log_flush(struct md_ctx *c, bool drop)
{
	size_t	i;

	for (i = 0; i < c->n; i++) {
		if (!drop && c->level[i] >= 2)
			log_debug("%s", c->line[i]);
		else if (!drop && c->level[i] == 1)
			log_verbose("%s", c->line[i]);
		else if (!drop)
			log_err("%s", c->line[i]);
		free(c->line[i]);
	}
	free(c->line);
	free(c->level);
	c->line = NULL;
	c->level = NULL;
	c->n = 0;
}

/* The header digest of the last multidrop message of each query (the
 * reference keeps one per query for the life of the process). */
struct md_digest {
	const struct cfg_query	*q;
	unsigned char		 dig[MD5_DIGEST_LEN];
	struct md_digest	*next;
};
static struct md_digest *md_digests;

/*
 * The reference's duplicate check: a multidrop message without an
 * envelope address whose header is the same as the previous message's
 * is refused.  Records this message's digest; true for a duplicate.
 */
static bool
md_duplicate(struct drv *d, const struct rcpt_field *f, size_t nf,
    bool envelope_found)
{
	struct md_digest *p;
	struct md5	 ctx;
	unsigned char	 dig[MD5_DIGEST_LEN];
	size_t		 i;
	bool		 dup;

	md5_init(&ctx);
	for (i = 0; i < nf; i++)
		md5_update(&ctx, f[i].text, f[i].len);
	md5_final(&ctx, dig);
	for (p = md_digests; p != NULL && p->q != d->s.q; p = p->next)
		;
	if (p == NULL) {
		p = xcalloc(1, sizeof(*p));
		p->q = d->s.q;
		p->next = md_digests;
		md_digests = p;
		memcpy(p->dig, dig, sizeof(dig));
		return false;
	}
	dup = !envelope_found && memcmp(p->dig, dig, sizeof(dig)) == 0;
	memcpy(p->dig, dig, sizeof(dig));
	return dup;
}

/* Whether two address lists share an address. */
static bool
same_addr(const struct addrinfo *a, const struct addrinfo *b)
{
	const struct addrinfo *x, *y;

	for (x = a; x != NULL; x = x->ai_next)
		for (y = b; y != NULL; y = y->ai_next) {
			if (x->ai_family != y->ai_family)
				continue;
			if (x->ai_family == AF_INET && memcmp(
			    &((struct sockaddr_in *)(void *)x->ai_addr)->sin_addr,
			    &((struct sockaddr_in *)(void *)y->ai_addr)->sin_addr,
			    sizeof(struct in_addr)) == 0)
				return true;
			if (x->ai_family == AF_INET6 && memcmp(
			    &((struct sockaddr_in6 *)(void *)x->ai_addr)->sin6_addr,
			    &((struct sockaddr_in6 *)(void *)y->ai_addr)->sin6_addr,
			    sizeof(struct in6_addr)) == 0)
				return true;
		}
	return false;
}

/* Whether host's canonical name is the true name. */
static bool
canon_is_true(const struct drv *d, const char *host)
{
	struct addrinfo	 hints, *res = NULL;
	bool		 yes = false;

	if (strcasecmp(host, d->truename) == 0)
		return true;
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return false;
	yes = res->ai_canonname != NULL &&
	    strcasecmp(res->ai_canonname, d->truename) == 0;
	freeaddrinfo(res);
	return yes;
}

/* The MX hosts of name that point to the server: 1 yes, 0 no, -1 the
 * lookup failed for a reason other than "no such name". */
static int
mx_alias(const struct drv *d, const char *name)
{
#ifdef HAVE_RES_SEARCH
	unsigned char	 ans[8192];
	const unsigned char *cp, *eom;
	char		 host[NS_MAXDNAME];
	int		 n, qd, an, type, dlen;

	n = res_search(name, C_IN, T_MX, ans, sizeof(ans));
	if (n < 0)
		return h_errno == TRY_AGAIN || h_errno == NO_RECOVERY ? -1 : 0;
	if (n > (int)sizeof(ans))
		n = sizeof(ans);
	eom = ans + n;
	if (n < HFIXEDSZ)
		return 0;
	qd = (ans[4] << 8) | ans[5];
	an = (ans[6] << 8) | ans[7];
	cp = ans + HFIXEDSZ;
	while (qd-- > 0) {
		if ((n = dn_skipname(cp, eom)) < 0 || eom - cp < n + QFIXEDSZ)
			return 0;
		cp += n + QFIXEDSZ;
	}
	while (an-- > 0 && cp < eom) {
		if ((n = dn_expand(ans, eom, cp, host, sizeof(host))) < 0)
			return 0;
		cp += n;
		if (eom - cp < 10)
			return 0;
		type = (cp[0] << 8) | cp[1];
		dlen = (cp[8] << 8) | cp[9];
		cp += 10;
		if (eom - cp < dlen)
			return 0;
		if (type == T_MX && dlen > 2 && dn_expand(ans, eom, cp + 2,
		    host, sizeof(host)) >= 0 && canon_is_true(d, host))
			return 1;
		cp += dlen;
	}
#else
	(void)d;
	(void)name;
#endif
	return 0;
}

/* Is name the mail server under another name?  Its canonical name,
 * with checkalias its addresses, or an MX pointing to it. */
static enum rcpt_alias
md_lookup(struct md_ctx *c, const char *name)
{
	struct drv	*d = c->d;
	const struct cfg_opts *o = &d->s.q->o;
	struct addrinfo	 hints, *res = NULL, *tres = NULL;
	char		*line;
	bool		 yes = false;
	int		 e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	hints.ai_socktype = SOCK_STREAM;
	e = getaddrinfo(name, NULL, &hints, &res);
	if (e == 0) {
		yes = res->ai_canonname != NULL &&
		    strcasecmp(res->ai_canonname, d->truename) == 0;
		if (!yes && o->checkalias == FLAG_TRUE) {
			hints.ai_flags = 0;
			if (getaddrinfo(d->truename, NULL, &hints, &tres) == 0) {
				yes = same_addr(res, tres);
				freeaddrinfo(tres);
			}
		}
		freeaddrinfo(res);
		if (yes)
			return RCPT_ALIAS_YES;
	} else if (e != EAI_NONAME
#ifdef EAI_NODATA
	    && e != EAI_NODATA
#endif
	    ) {
		line = xasprintf(_("nameserver failure while looking for '%s' "
		    "during poll of %s: %s"), name, d->s.pollname,
		    gai_strerror(e));
		md_log(c, 0, line);
		free(line);
		line = xasprintf(_("nameserver failure while looking for `%s' "
		    "during poll of %s."), name, d->s.pollname);
		md_log(c, 0, line);
		free(line);
		return RCPT_ALIAS_TEMPFAIL;
	}
	switch (mx_alias(d, name)) {
	case 1:
		return RCPT_ALIAS_YES;
	case -1:
		line = xasprintf(_("nameserver failure while looking for `%s' "
		    "during poll of %s."), name, d->s.pollname);
		md_log(c, 0, line);
		free(line);
		return RCPT_ALIAS_TEMPFAIL;
	default:
		return RCPT_ALIAS_NO;
	}
}

/* Names whose verdict one poll keeps (a hostile header can name a
 * million hosts; those past the limit are looked up every time). */
#define MD_DNS_CACHE_MAX 4096

/* rcpt's DNS hook (dns on): md_lookup() once per name and poll; a
 * failed lookup is asked again next time. */
static enum rcpt_alias
md_dns(void *arg, const char *name)
{
	struct md_ctx	*c = arg;
	enum rcpt_alias	 r;
	int		 v;

	if (c->d->dnscache == NULL)
		c->d->dnscache = dnsc_create(MD_DNS_CACHE_MAX);
	if ((v = dnsc_get(c->d->dnscache, name)) >= 0)
		return v ? RCPT_ALIAS_YES : RCPT_ALIAS_NO;
	r = md_lookup(c, name);
	if (r != RCPT_ALIAS_TEMPFAIL)
		dnsc_put(c->d->dnscache, name, r == RCPT_ALIAS_YES);
	return r;
}

/* SDPS: the envelope recipient from *ENV becomes the envelope header
 * the search uses, put in front of the fields (*line keeps its text,
 * the caller frees it); returns the new field array. */
static struct rcpt_field *
sdps_envelope(struct rcpt_field *f, size_t *nf, const char *to,
    struct rcpt_opts *ro, char **line)
{
	struct rcpt_field *g = xcalloc(*nf + 1, sizeof(*g));

	*line = xasprintf("X-SDPS-Envelope-To: <%s>", to);
	g[0].text = *line;
	g[0].len = strlen(*line);
	if (*nf > 0)
		memcpy(g + 1, f, *nf * sizeof(*f));
	free(f);
	(*nf)++;
	ro->envelope = "X-SDPS-Envelope-To";
	ro->no_envelope = false;
	ro->envskip = 0;
	return g;
}

/* Multidrop: find the message's recipients into *res (rcpt_find with
 * the query's settings) and log how; false (nothing logged) when the
 * message is a duplicate of the previous one (md_duplicate()). */
bool
md_find(struct drv *d, const struct msgref *m, struct rcpt_result *res)
{
	struct md_ctx	 c = { d, NULL, NULL, 0 };
	bool		 dup;
	const struct cfg_opts *o = &d->s.q->o;
	struct rcpt_opts ro;
	struct rcpt_field *f;
	const char	**maps;
	char		*sdps = NULL;
	size_t		 nf, i;

	memset(&ro, 0, sizeof(ro));
	maps = xcalloc(o->localnames.n + 1, sizeof(*maps));
	for (i = 0; i < o->localnames.n; i++)
		maps[i] = o->localnames.map ? o->localnames.map[i] : NULL;
	ro.truename = d->truename;
	ro.aka = (const char *const *)o->aka.v;
	ro.naka = o->aka.n;
	ro.localdomains = (const char *const *)o->localdomains.v;
	ro.nlocaldomains = o->localdomains.n;
	ro.names = (const char *const *)o->localnames.v;
	ro.maps = maps;
	ro.nnames = o->localnames.n;
	ro.wildcard = o->wildcard;
	ro.envelope = o->envelope;
	ro.no_envelope = o->no_envelope;
	ro.envskip = o->envskip.set ? o->envskip.v : 0;
	ro.qvirtual = o->qvirtual;
	ro.dropdelivered = o->dropdelivered == FLAG_TRUE;
	ro.postmaster = d->cfg->g.postmaster;
	if (o->dns != FLAG_FALSE) {
		ro.dns = md_dns;
		ro.dns_arg = &c;
	}
	ro.log = md_log;
	ro.log_arg = &c;
	f = msg_rcpt_fields(d->msg, &nf);
	if (m->sdps_to != NULL)
		f = sdps_envelope(f, &nf, m->sdps_to, &ro, &sdps);
	rcpt_find(f, nf, &ro, res);
	dup = md_duplicate(d, f, nf, res->envelope_found);
	md_log_flush(&c, dup);
	free(f);
	free(sdps);
	free(maps);
	return !dup;
}

/* Multidrop: the X-Fetchmail-Warning text (allocated, or NULL): rcpt's
 * and embedded NULs.  Local recipients the listener refused are not
 * listed: 6.4.37 has code for that, but it never runs (the list is
 * emptied before the header is written), and the header must match. */
char *
md_warning(const struct rcpt_result *res, const struct msg_info *info)
{
	struct buf	*b = buf_create(SIZE_MAX / 4);
	char		*w = NULL;

	if (res->warning != NULL)
		buf_printf(b, "%s", res->warning);
	if (info->had_nul)
		buf_printf(b, "%s%s", buf_len(b) ? "; " : "",
		    "message has embedded NULs");
	if (buf_len(b) > 0)
		w = xstrndup(buf_data(b), buf_len(b) > RCPT_WARNING_MAX ?
		    RCPT_WARNING_MAX : buf_len(b));
	buf_free(b);
	return w;
}

