/*
 * cfg.c: the configuration model: lists, records, the field table and the
 * generic merge used by the resolve step.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "cfg.h"
#include "xmalloc.h"
#include "i18n.h"

#define F(n, t, s)	{ #n, t, offsetof(struct cfg_opts, n), s }

/* Every simple option; specials (envelope, localnames, antispam) are
 * handled by hand in cfg_opts_merge(). */
const struct cfg_field cfg_fields[] = {
	F(via, FT_STR, true),		F(proto, FT_FLAG, true),
	F(service, FT_STR, true),	F(timeout, FT_NUM, true),
	F(interval, FT_NUM, true),	F(envskip, FT_NUM, true),
	F(qvirtual, FT_STR, true),	F(auth, FT_FLAG, true),
	F(dns, FT_FLAG, true),		F(uidl, FT_FLAG, true),
	F(checkalias, FT_FLAG, true),	F(tracepolls, FT_FLAG, true),
	F(badheader, FT_FLAG, true),	F(aka, FT_LIST, true),
	F(localdomains, FT_LIST, true),	F(interface, FT_STR, true),
	F(monitor, FT_STR, true),	F(plugin, FT_STR, true),
	F(plugout, FT_STR, true),	F(principal, FT_STR, true),
	F(esmtpname, FT_STR, true),	F(esmtppassword, FT_STR, true),
	F(remote, FT_STR, false),	F(password, FT_STR, false),
	F(passwordfile, FT_PATH, false), F(passwordcommand, FT_STR, false),
	F(fetchall, FT_FLAG, false),	F(keep, FT_FLAG, false),
	F(flush, FT_FLAG, false),	F(limitflush, FT_FLAG, false),
	F(rewrite, FT_FLAG, false),	F(stripcr, FT_FLAG, false),
	F(forcecr, FT_FLAG, false),	F(pass8bits, FT_FLAG, false),
	F(dropstatus, FT_FLAG, false),	F(dropdelivered, FT_FLAG, false),
	F(mimedecode, FT_FLAG, false),	F(idle, FT_FLAG, false),
	F(lmtp, FT_FLAG, false),	F(ssl, FT_FLAG, false),
	F(sslcertck, FT_FLAG, false),	F(mda, FT_STR, false),
	F(bsmtp, FT_PATH, false),	F(preconnect, FT_STR, false),
	F(postconnect, FT_STR, false),	F(limit, FT_NUM, false),
	F(warnings, FT_NUM, false),	F(fetchlimit, FT_NUM, false),
	F(fetchsizelimit, FT_NUM, false), F(fastuidl, FT_NUM, false),
	F(batchlimit, FT_NUM, false),	F(expunge, FT_NUM, false),
	F(sslkey, FT_PATH, false),	F(sslcert, FT_PATH, false),
	F(sslproto, FT_STR, false),	F(sslcertfile, FT_PATH, false),
	F(sslcertpath, FT_PATH, false),	F(sslcommonname, FT_STR, false),
	F(sslfingerprint, FT_STR, false), F(properties, FT_STR, false),
	F(smtphunt, FT_LIST, false),	F(fetchdomains, FT_LIST, false),
	F(mailboxes, FT_LIST, false),	F(smtpaddress, FT_STR, false),
	F(smtpname, FT_STR, false),
};
const size_t cfg_nfields = sizeof(cfg_fields) / sizeof(cfg_fields[0]);

/* configdump names; the reference names a protocol it lacks (POP2 unless
 * configured with --enable-pop2) "unknown?!?". */
static const char *const proto_names[] = {
#ifdef POP2_ENABLE
	NULL, "auto", "POP2", "POP3",
#else
	NULL, "auto", "unknown?!?", "POP3",
#endif
	"APOP", "RPOP", "KPOP", "SDPS", "IMAP", "ETRN", "ODMR"
};

static const char *const auth_names[] = {
	NULL, "any", "password", "ntlm", "cram-md5", "gssapi", "kerberos_v4",
	"kerberos_v5", "ssh", "otp", "msn", "external", "scram-sha-1",
	"scram-sha-256", "oauthbearer", "xoauth2"
};

/* Name of a protocol as configdump prints it. */
const char *
cfg_proto_name(int p)
{
	if (p <= P_UNSET || p > P_ODMR)
		return "auto";
	return proto_names[p];
}

/* Name of an authentication type as configdump prints it. */
const char *
cfg_auth_name(int a)
{
	if (a <= A_UNSET || a > A_XOAUTH2)
		return "any";
	return auth_names[a];
}

/* Protocol named on the command line (any case); P_UNSET if unknown. */
int
cfg_proto_parse(const char *s)
{
	int	p;

	for (p = P_AUTO; p <= P_ODMR; p++)
		if (strcasecmp(s, p == P_POP2 ? "pop2" : proto_names[p]) == 0)
			return p;
	return P_UNSET;
}

/* Set the protocol; KPOP is POP3 on the kpop service with Kerberos in
 * place of a plain password. */
void
cfg_set_proto(struct cfg_opts *o, int p)
{
	if (p != P_KPOP) {
		o->proto = p;
		return;
	}
	o->proto = P_POP3;
	free(o->service);
	o->service = xstrdup("kpop");
	if (o->auth == A_PASSWORD)
		o->auth = A_KERBEROS_V5;
}

/* Authentication type named on the command line; A_UNSET if unknown.
 * On the command line `kerberos` means version 5. */
int
cfg_auth_parse(const char *s, bool cmdline)
{
	static const struct { const char *n; int a; } tab[] = {
		{ "password", A_PASSWORD }, { "kerberos_v5", A_KERBEROS_V5 },
		{ "kerberos_v4", A_KERBEROS_V4 }, { "ssh", A_SSH },
		{ "external", A_EXTERNAL }, { "otp", A_OTP }, { "opie", A_OTP },
		{ "ntlm", A_NTLM }, { "cram", A_CRAM_MD5 },
		{ "cram-md5", A_CRAM_MD5 }, { "gssapi", A_GSSAPI },
		{ "any", A_ANY }, { "msn", A_MSN },
		{ "scram-sha-1", A_SCRAM_SHA1 }, { "scram-sha-256", A_SCRAM_SHA256 },
		{ "oauthbearer", A_OAUTHBEARER }, { "xoauth2", A_XOAUTH2 },
	};
	size_t	i;

	if (strcasecmp(s, "kerberos") == 0)
		return cmdline ? A_KERBEROS_V5 : A_KERBEROS_V4;
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcasecmp(s, tab[i].n) == 0)
			return tab[i].a;
	return A_UNSET;
}

/* Check an `interface` value "name/address[/mask]" as the reference does
 * (inet_aton rules); returns NULL, or the (translated) reason. */
const char *
cfg_interface_check(const char *spec)
{
	const char	*slash = strchr(spec, '/'), *mask;
	char		*addr;
	struct in_addr	 a;
	int		 ok;

	if (slash == NULL)
		return _("missing IP interface address");
	mask = strchr(slash + 1, '/');
	addr = xstrndup(slash + 1, mask ? (size_t)(mask - slash - 1) :
	    strlen(slash + 1));
	ok = inet_aton(addr, &a);
	free(addr);
	if (!ok)
		return _("invalid IP interface address");
	if (mask != NULL && !inet_aton(mask + 1, &a))
		return _("invalid IP interface mask");
	return NULL;
}

/* Append a copy of NAME (and of MAP, the local name of a mapping). */
void
cfg_list_add(struct cfg_list *l, const char *name, const char *map)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->map = xreallocarray(l->map, l->n + 1, sizeof(*l->map));
	l->v[l->n] = xstrdup(name);
	l->map[l->n] = map ? xstrdup(map) : NULL;
	l->n++;
}

/* Free every element and leave the list empty. */
void
cfg_list_clear(struct cfg_list *l)
{
	size_t	i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i]);
		free(l->map[i]);
	}
	free(l->v);
	free(l->map);
	l->v = l->map = NULL;
	l->n = 0;
}

/* Replace DST's elements with copies of SRC's. */
void
cfg_list_copy(struct cfg_list *dst, const struct cfg_list *src)
{
	size_t	i;

	if (dst == src)
		return;
	cfg_list_clear(dst);
	for (i = 0; i < src->n; i++)
		cfg_list_add(dst, src->v[i], src->map[i]);
}

/* Release everything an options record owns; the record stays usable. */
void
cfg_opts_free(struct cfg_opts *o)
{
	size_t	i;

	for (i = 0; i < cfg_nfields; i++) {
		char *p = (char *)o + cfg_fields[i].off;

		switch (cfg_fields[i].type) {
		case FT_STR:
		case FT_PATH:
			if (strcmp(cfg_fields[i].name, "password") == 0 &&
			    *(char **)p != NULL)
				xexplicit_bzero(*(char **)p, strlen(*(char **)p));
			free(*(char **)p);
			*(char **)p = NULL;
			break;
		case FT_LIST:
			cfg_list_clear((struct cfg_list *)p);
			break;
		default:
			break;
		}
	}
	free(o->envelope);
	o->envelope = NULL;
	cfg_list_clear(&o->localnames);
	free(o->antispam);
	o->antispam = NULL;
	o->nantispam = 0;
}

/* Append copies of SRC's elements to DST. */
void
cfg_list_append(struct cfg_list *dst, const struct cfg_list *src)
{
	size_t	i;

	for (i = 0; i < src->n; i++)
		cfg_list_add(dst, src->v[i], src->map[i]);
}

/* Free one query record (NULL ok). */
void
cfg_query_free(struct cfg_query *q)
{
	if (q == NULL)
		return;
	cfg_opts_free(&q->o);
	free(q->pollname);
	free(q);
}

struct cfg *
cfg_new(void)
{
	return xcalloc(1, sizeof(struct cfg));
}

/* Free a configuration and everything it owns (NULL ok). */
void
cfg_free(struct cfg *c)
{
	struct cfg_query *q, *n;

	if (c == NULL)
		return;
	for (q = c->queries; q != NULL; q = n) {
		n = q->next;
		cfg_query_free(q);
	}
	cfg_query_free(c->defaults);
	free(c->g.logfile);
	free(c->g.idfile);
	free(c->g.pidfile);
	free(c->g.postmaster);
	free(c->g.properties);
	free(c->rcfile);
	free(c->rcdir);
	free(c);
}

/* Append one formatted message; the first error decides the status. */
void
cfg_errors_add(struct cfg_errors *e, int status, const char *fmt, ...)
{
	va_list	 ap;
	char	*m;

	va_start(ap, fmt);
	m = xvasprintf(fmt, ap);
	va_end(ap);
	e->msg = xreallocarray(e->msg, e->n + 1, sizeof(*e->msg));
	e->msg[e->n++] = m;
	if (e->status == 0)
		e->status = status;
}

void
cfg_errors_free(struct cfg_errors *e)
{
	size_t	i;

	for (i = 0; i < e->n; i++)
		free(e->msg[i]);
	free(e->msg);
	e->msg = NULL;
	e->n = 0;
}

/* Copy one field from SRC to DST when SRC has it and DST either lacks it
 * or OVERRIDE is set. */
static void
merge_field(char *dst, const char *src, enum cfg_ftype t, bool override)
{
	switch (t) {
	case FT_FLAG:
		if (*(const int *)src && (override || !*(int *)dst))
			*(int *)dst = *(const int *)src;
		break;
	case FT_NUM:
		if (((const struct cfg_num *)src)->set &&
		    (override || !((struct cfg_num *)dst)->set))
			*(struct cfg_num *)dst = *(const struct cfg_num *)src;
		break;
	case FT_STR:
	case FT_PATH:
		if (*(char *const *)src && (override || !*(char **)dst)) {
			free(*(char **)dst);
			*(char **)dst = xstrdup(*(char *const *)src);
		}
		break;
	case FT_LIST:
		if (override)
			cfg_list_append((struct cfg_list *)dst,
			    (const struct cfg_list *)src);
		else if (!((struct cfg_list *)dst)->n)
			cfg_list_copy((struct cfg_list *)dst,
			    (const struct cfg_list *)src);
		break;
	}
}

/* Merge SRC into DST: fill what DST leaves unset, or with OVERRIDE
 * replace whatever SRC sets and append SRC's lists to DST's (the command
 * line adds to rcfile lists).  SERVER and USER select the parts. */
void
cfg_opts_merge(struct cfg_opts *dst, const struct cfg_opts *src,
    bool override, bool server, bool user)
{
	size_t	i;

	for (i = 0; i < cfg_nfields; i++) {
		if (cfg_fields[i].server ? !server : !user)
			continue;
		merge_field((char *)dst + cfg_fields[i].off,
		    (const char *)src + cfg_fields[i].off, cfg_fields[i].type,
		    override);
	}
	if (server && (src->envelope || src->no_envelope) &&
	    (override || !(dst->envelope || dst->no_envelope))) {
		free(dst->envelope);
		dst->envelope = src->envelope ? xstrdup(src->envelope) : NULL;
		dst->no_envelope = src->no_envelope;
	}
	if (!user)
		return;
	if (src->localnames.n && (override || !dst->localnames.n))
		cfg_list_copy(&dst->localnames, &src->localnames);
	if (src->wildcard)
		dst->wildcard = true;
	if (src->antispam_set && (override || !dst->antispam_set)) {
		size_t keep = override ? dst->nantispam : 0;

		dst->antispam = xreallocarray(dst->antispam,
		    keep + src->nantispam + 1, sizeof(int));
		memcpy(dst->antispam + keep, src->antispam,
		    src->nantispam * sizeof(int));
		dst->nantispam = keep + src->nantispam;
		dst->antispam_set = true;
	}
}
