/*
 * cfg_dump.c: `--configdump`, the resolved configuration as the Python
 * literal fetchmailconf reads.  The layout, key order, the two quoting
 * styles of keys and the whitespace are those of fetchmail 6.4.37, byte
 * for byte; the only intended difference is that bytes >= 0x80 are
 * written correctly (see doc/COMPATIBILITY.md).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "cfg_resolve.h"

struct dumper {
	FILE	*f;
	int	 level;
};

static void	indent(struct dumper *);
static void	put_quoted(FILE *, const char *);
static void	key_str(struct dumper *, const char *, const char *);
static void	key_num(struct dumper *, const char *, int);
static void	key_bool(struct dumper *, const char *, bool);
static void	key_list(struct dumper *, const char *, const struct cfg_list *);
static void	dump_globals(struct dumper *, const struct cfg *);
static void	dump_server(struct dumper *, const struct cfg_query *);
static void	dump_user(struct dumper *, const struct cfg_query *);

/* Four columns per level: a TAB for every two levels, four spaces for an
 * odd one. */
static void
indent(struct dumper *d)
{
	int	i;

	for (i = 0; i < d->level / 2; i++)
		fputc('\t', d->f);
	if (d->level % 2)
		fputs("    ", d->f);
}

/* Whether S[0..] starts a well-formed UTF-8 sequence; returns its length
 * or 0. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t	n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Write S as a double-quoted Python string the way the reference does;
 * UTF-8 passes through, other high bytes become \xHH. */
static void
put_quoted(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t	n;

	fputc('"', f);
	while (*p) {
		switch (*p) {
		case '"':  fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\a': fputs("\\a", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\v': fputs("\\v", f); break;
		default:
			if (*p >= 0x20 && *p < 0x7f)
				fputc(*p, f);
			else if (*p >= 0x80 && (n = utf8_len(p)) > 0) {
				fwrite(p, 1, n, f);
				p += n;
				continue;
			} else if (*p >= 0x80)
				fprintf(f, "\\x%02x", *p);
			else
				fprintf(f, "\\0x%02x", *p);	/* sic */
		}
		p++;
	}
	fputc('"', f);
}

static void
key_str(struct dumper *d, const char *k, const char *v)
{
	indent(d);
	fprintf(d->f, "\"%s\":", k);
	if (v == NULL)
		fputs("None", d->f);
	else
		put_quoted(d->f, v);
	fputs(",\n", d->f);
}

static void
key_num(struct dumper *d, const char *k, int v)
{
	indent(d);
	fprintf(d->f, "'%s':%d,\n", k, v);
}

static void
key_bool(struct dumper *d, const char *k, bool v)
{
	indent(d);
	fprintf(d->f, "'%s':%s,\n", k, v ? "TRUE" : "FALSE");
}

static void
key_list(struct dumper *d, const char *k, const struct cfg_list *l)
{
	size_t	i;

	indent(d);
	fprintf(d->f, "\"%s\":[", k);
	for (i = 0; i < l->n; i++) {
		if (i)
			fputs(", ", d->f);
		put_quoted(d->f, l->v[i]);
	}
	fputs("],\n", d->f);
}

/* Numbers are shown as the reference stores them: negative as 0. */
static int
shown(const struct cfg_num *n)
{
	return n->v < 0 ? 0 : n->v;
}

static void
dump_globals(struct dumper *d, const struct cfg *c)
{
	key_num(d, "poll_interval", shown(&c->g.daemon));
	key_str(d, "logfile", c->g.logfile);
	key_str(d, "idfile", c->g.idfile);
	key_str(d, "postmaster", c->g.postmaster);
	key_bool(d, "bouncemail", c->g.bouncemail == FLAG_TRUE);
	key_bool(d, "spambounce", c->g.spambounce == FLAG_TRUE);
	key_bool(d, "softbounce", c->g.softbounce == FLAG_TRUE);
	key_str(d, "properties", c->g.properties);
	key_bool(d, "invisible", c->g.invisible == FLAG_TRUE);
	key_bool(d, "showdots", c->g.showdots == FLAG_TRUE);
	key_bool(d, "syslog", c->g.syslog == FLAG_TRUE);
}

static void
dump_server(struct dumper *d, const struct cfg_query *q)
{
	const struct cfg_opts *o = &q->o;

	indent(d);
	fprintf(d->f, "# Entry for site `%s' begins:\n", q->pollname);
	indent(d);
	fputs("{\n", d->f);
	d->level++;
	key_str(d, "pollname", q->pollname);
	key_bool(d, "active", !q->skip);
	key_str(d, "via", o->via);
	key_str(d, "protocol", cfg_dump_proto(o));
	key_str(d, "service", o->service);
	key_num(d, "timeout", shown(&o->timeout));
	key_num(d, "interval", shown(&o->interval));
	key_str(d, "envelope", o->no_envelope ? NULL : o->envelope);
	key_num(d, "envskip", shown(&o->envskip));
	key_str(d, "qvirtual", o->qvirtual);
	if (o->auth != A_EXTERNAL)
		key_str(d, "auth", cfg_auth_name(o->auth));
	key_bool(d, "dns", o->dns == FLAG_TRUE);
	key_bool(d, "uidl", o->uidl == FLAG_TRUE);
	key_list(d, "aka", &o->aka);
	key_list(d, "localdomains", &o->localdomains);
	key_str(d, "interface", o->interface);
	key_str(d, "monitor", o->monitor);
	key_str(d, "plugin", o->plugin);
	key_str(d, "plugout", o->plugout);
	key_str(d, "principal", o->principal);
	if (o->esmtpname)
		key_str(d, "esmtpname", o->esmtpname);
	if (o->esmtppassword)
		key_str(d, "esmtppassword", o->esmtppassword);
	key_bool(d, "tracepolls", o->tracepolls == FLAG_TRUE);
	indent(d);
	fprintf(d->f, "'badheader': %s,\n",
	    o->badheader == FLAG_TRUE ? "TRUE" : "FALSE");
	indent(d);
	fputs("'users': [\n", d->f);
}

static void
dump_localnames(struct dumper *d, const struct cfg_opts *o)
{
	size_t	i;

	indent(d);
	fputs("'localnames':[", d->f);
	for (i = 0; i < o->localnames.n; i++) {
		if (i)
			fputs(", ", d->f);
		if (o->localnames.map[i]) {
			fputc('(', d->f);
			put_quoted(d->f, o->localnames.v[i]);
			fputs(", ", d->f);
			put_quoted(d->f, o->localnames.map[i]);
			fputc(')', d->f);
		} else
			put_quoted(d->f, o->localnames.v[i]);
	}
	if (o->wildcard)
		fputs(", '*'", d->f);
	fputs("],\n", d->f);
}

static void
dump_antispam(struct dumper *d, const struct cfg_opts *o)
{
	size_t	i;

	indent(d);
	fputs("'antispam':'", d->f);
	for (i = 0; i < o->nantispam; i++)
		fprintf(d->f, i ? " %d" : "%d", o->antispam[i]);
	fputs("',\n", d->f);
}

static void
dump_user(struct dumper *d, const struct cfg_query *q)
{
	const struct cfg_opts *o = &q->o;

	key_str(d, "remote", o->remote);
	key_str(d, "password", o->password);
	dump_localnames(d, o);
	key_bool(d, "fetchall", o->fetchall == FLAG_TRUE);
	key_bool(d, "keep", o->keep == FLAG_TRUE);
	key_bool(d, "flush", o->flush == FLAG_TRUE);
	key_bool(d, "limitflush", o->limitflush == FLAG_TRUE);
	key_bool(d, "rewrite", o->rewrite == FLAG_TRUE);
	key_bool(d, "stripcr", o->stripcr == FLAG_TRUE);
	key_bool(d, "forcecr", o->forcecr == FLAG_TRUE);
	key_bool(d, "pass8bits", o->pass8bits == FLAG_TRUE);
	key_bool(d, "dropstatus", o->dropstatus == FLAG_TRUE);
	key_bool(d, "dropdelivered", o->dropdelivered == FLAG_TRUE);
	key_bool(d, "mimedecode", o->mimedecode == FLAG_TRUE);
	key_bool(d, "idle", o->idle == FLAG_TRUE);
	key_str(d, "mda", o->mda);
	key_str(d, "bsmtp", o->bsmtp);
	key_bool(d, "lmtp", o->lmtp == FLAG_TRUE);
	key_str(d, "preconnect", o->preconnect);
	key_str(d, "postconnect", o->postconnect);
	key_num(d, "limit", shown(&o->limit));
	key_num(d, "warnings", shown(&o->warnings));
	key_num(d, "fetchlimit", shown(&o->fetchlimit));
	key_num(d, "fetchsizelimit", shown(&o->fetchsizelimit));
	key_num(d, "fastuidl", shown(&o->fastuidl));
	key_num(d, "batchlimit", shown(&o->batchlimit));
	key_bool(d, "ssl", o->ssl == FLAG_TRUE);
	key_str(d, "sslkey", o->sslkey);
	key_str(d, "sslcert", o->sslcert);
	key_str(d, "sslproto", o->sslproto);
	key_bool(d, "sslcertck", o->sslcertck == FLAG_TRUE);
	key_str(d, "sslcertfile", o->sslcertfile);
	key_str(d, "sslcertpath", o->sslcertpath);
	key_str(d, "sslcommonname", o->sslcommonname);
	key_str(d, "sslfingerprint", o->sslfingerprint);
	key_num(d, "expunge", shown(&o->expunge));
	key_str(d, "properties", o->properties);
	key_list(d, "smtphunt", &o->smtphunt);
	key_list(d, "fetchdomains", &o->fetchdomains);
	key_str(d, "smtpaddress", o->smtpaddress);
	key_str(d, "smtpname", o->smtpname);
	dump_antispam(d, o);
	key_list(d, "mailboxes", &o->mailboxes);
}

/* Close the user list of a server and the server itself. */
static void
close_server(struct dumper *d, bool last_server)
{
	fputs("\t\t,\t    ]\n", d->f);
	d->level = 2;
	indent(d);
	fputs("}\n", d->f);
	if (!last_server)
		fputs("\t,\n", d->f);
}

/* Print the resolved configuration C to F. */
void
cfg_dump(FILE *f, const struct cfg *c)
{
	struct dumper		 d = { f, 0 };
	const struct cfg_query	*q;

	fputs("TRUE=1; FALSE=0\n\n", f);
	fputs("os_type = 'linux'\n", f);
	fprintf(f, "feature_options = (%s)\n", CFG_FEATURES);
	fputs("# Start of configuration initializer\n", f);
	fputs("fetchmailrc = {\n", f);
	d.level = 1;
	dump_globals(&d, c);
	if (c->queries == NULL) {
		indent(&d);
		fputs("'servers': []\n", f);
	} else {
		indent(&d);
		fputs("# List of server entries begins here\n", f);
		indent(&d);
		fputs("'servers': [\n", f);
		for (q = c->queries; q != NULL; q = q->next) {
			d.level = 2;
			if (q->first_of_entry)
				dump_server(&d, q);
			else
				fputs("\t\t,", f);
			d.level = 4;
			indent(&d);
			fputs("{\n", f);
			d.level = 5;
			dump_user(&d, q);
			d.level = 4;
			indent(&d);
			fputs("}\n", f);
			if (q->next == NULL || q->next->first_of_entry)
				close_server(&d, q->next == NULL);
		}
		fputs("    ]\n", f);
	}
	fputs("}\n# End of initializer\n", f);
}
