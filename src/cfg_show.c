/*
 * cfg_show.c: what -V prints: the banner, then the resolved settings of
 * every query in words.
 *
 * The banner's first line is the one scripts (Webmin) match; the SSL and
 * licence lines after it are this program's own.  From "Fallback MDA" on,
 * the report follows fetchmail 6.4.37 line for line, as observed on the
 * reference binary, because scripts may parse it.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef SSL_ENABLE
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <openssl/x509.h>
#endif

#include "cfg.h"
#include "cfg_show.h"
#include "i18n.h"
#include "xmalloc.h"

/* The -V feature string: the reference's words for what is built. */
#ifdef POP2_ENABLE
#define FEATURES_POP2	"+POP2"
#else
#define FEATURES_POP2	""
#endif
#ifdef HAVE_GSSAPI
#define FEATURES_GSS	"+GSS"
#define FEATURES_KRB5	"+KRB5"
#else
#define FEATURES_GSS	""
#define FEATURES_KRB5	""
#endif
#ifdef RPA_ENABLE
#define FEATURES_RPA	"+RPA"
#else
#define FEATURES_RPA	""
#endif

/* Trust store the reference names when none is configured; the
 * SSL_CERT_FILE / SSL_CERT_DIR environment variables override them. */
#ifndef FM_DEFAULT_CAFILE
#define FM_DEFAULT_CAFILE	"/etc/ssl/certs/ca-certificates.crt"
#endif
#ifndef FM_DEFAULT_CAPATH
#define FM_DEFAULT_CAPATH	"/etc/ssl/certs"
#endif
#ifdef SSL_ENABLE
#define CAFILE_ENV	X509_get_default_cert_file_env()
#define CAPATH_ENV	X509_get_default_cert_dir_env()
#else
#define CAFILE_ENV	"SSL_CERT_FILE"
#define CAPATH_ENV	"SSL_CERT_DIR"
#endif

#define CLIENT_TIMEOUT	300	/* the built-in server timeout */

/* What every part of the report needs. */
struct show {
	FILE			*f;
	const struct cfg	*c;
	const struct fm_env	*fe;
	int			 verbose;
	struct cfg_list		*uids;	/* saved UIDs, one list per query */
	struct cfg_list		 scratch; /* idfile lines of no query */
	char			*vbuf;	/* the last escaped string */
};

/* S with non-printing characters, quotes and backslashes escaped as the
 * reference's report shows them (\t, \n, ..., else \0xHH); allocated. */
static char *
vis(const char *s)
{
	static const char ctl[] = "\a\b\f\n\r\t\v", esc[] = "abfnrtv";
	const unsigned char *p;
	const char *e;
	char	*r, *t;

	r = t = xreallocarray(NULL, strlen(s) + 1, 5);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			*t++ = '\\';
			*t++ = (char)*p;
		} else if (*p >= 0x20 && *p < 0x7f)
			*t++ = (char)*p;
		else if ((e = strchr(ctl, *p)) != NULL) {
			*t++ = '\\';
			*t++ = esc[e - ctl];
		} else
			t += sprintf(t, "\\0x%02x", *p);
	}
	*t = '\0';
	return r;
}

/* S escaped, valid until the next call; cfg_show() frees the last. */
static const char *
vis_tmp(struct show *s, const char *str)
{
	free(s->vbuf);
	s->vbuf = vis(str);
	return s->vbuf;
}

/* One line like `uname -a` prints: kernel name, node name, release,
 * version, machine and, on GNU/Linux, the operating system. */
static void
show_uname(FILE *f)
{
	struct utsname	u;

	if (uname(&u) != 0)
		return;
	fprintf(f, "%s %s %s %s %s", u.sysname, u.nodename, u.release,
	    u.version, u.machine);
#ifdef __gnu_linux__
	fputs(" GNU/Linux", f);
#endif
	fputc('\n', f);
}

/* The SSL library this program was built with and runs with. */
static void
show_ssl_versions(FILE *f)
{
#ifdef SSL_ENABLE
	fprintf(f, _("SSL library at build time: %s (0x%lx)\n"),
	    OPENSSL_VERSION_TEXT, (unsigned long)OPENSSL_VERSION_NUMBER);
	fprintf(f, _("SSL library at run time: %s (0x%lx)\n"),
	    OpenSSL_version(OPENSSL_VERSION),
	    (unsigned long)OpenSSL_version_num());
#else
	(void)f;
#endif
}

/* The version banner, the licence notice, the fallback MDA and the
 * system; printed before the rcfile is read, as the reference does. */
void
cfg_show_banner(FILE *f)
{
	/* TRANSLATORS: do not translate: Webmin matches this line */
	fprintf(f, _("This is fetchmail release %s"), PACKAGE_VERSION);
	fputs(FEATURES_POP2 FEATURES_GSS FEATURES_RPA
	    "+NTLM+SDPS+SSL-SSLv2-SSLv3+NLS" FEATURES_KRB5 ".\n", f);
	show_ssl_versions(f);
	fputc('\n', f);
	fputs(_("This program is a clean-room implementation compatible with "
	    "fetchmail 6.4.37.\n"
	    "It is free software: you can redistribute it and/or modify it "
	    "under the terms\n"
	    "of the GNU General Public License, version 2 or (at your option) "
	    "any later\n"
	    "version.  It comes with ABSOLUTELY NO WARRANTY; see the file "
	    "COPYING.\n"), f);
	fputc('\n', f);
	fprintf(f, "%s%s\n", _("Fallback MDA: "), _("(none)"));
	show_uname(f);
	fflush(f);	/* the reference runs uname(1) here, so it flushes */
}

/* Whether P retrieves from a mailbox (everything but ETRN and ODMR). */
static bool
mailbox_proto(int p)
{
	return p != P_ETRN && p != P_ODMR;
}

/* Whether the report lists saved UIDs for protocol P. */
static bool
uid_proto(int p)
{
	return p == P_POP3 || p == P_APOP || p == P_RPOP || p == P_KPOP ||
	    p == P_SDPS || p == P_IMAP;
}

/* The name the report gives protocol P. */
static const char *
proto_word(int p)
{
	switch (p) {
	case P_AUTO:	return "auto";
	case P_POP3:
	case P_KPOP:
	case P_SDPS:	return "POP3";
	case P_APOP:	return "APOP";
	case P_RPOP:	return "RPOP";
	case P_IMAP:	return "IMAP";
	case P_ETRN:	return "ETRN";
	case P_ODMR:	return "ODMR";
	default:	return "unknown?!?";
	}
}

/* The service a query connects to, NULL for the protocol's default. */
static const char *
service_of(const struct cfg_opts *o)
{
	if (o->service == NULL && o->proto == P_KPOP)
		return "kpop";
	return o->service;
}

/* The name the query's UIDs are filed under: via, else the poll name. */
static const char *
query_name(const struct cfg_query *q)
{
	return q->o.via ? q->o.via : q->pollname;
}

/* File one idfile line under the first query with its user and host.
 * The line is USER@HOST, a space, the UID: the space is the first one
 * after the first '@', the host what follows the last '@' before it.
 * Lines with a user and host that no query has go to the scratch list. */
static void
uid_line(struct show *s, const char *raw)
{
	const struct cfg_query *q;
	char	*line, *sp, *at, *user, *id;
	size_t	 i;

	if ((at = strchr(raw, '@')) == NULL || strchr(at, ' ') == NULL)
		return;
	line = xstrdup(raw);
	sp = strchr(line + (at - raw), ' ');
	*sp = '\0';
	user = line + strspn(line, " \t\r\v\f");
	at = strrchr(user, '@');
	id = sp + 1 + strspn(sp + 1, " ");
	id[strcspn(id, " \t")] = '\0';
	for (q = s->c->queries, i = 0; at != NULL && q != NULL;
	    q = q->next, i++) {
		if (strcasecmp(at + 1, query_name(q)) != 0 ||
		    strncasecmp(user, q->o.remote, (size_t)(at - user)) != 0 ||
		    q->o.remote[at - user] != '\0')
			continue;
		cfg_list_add(&s->uids[i], id, NULL);
		free(line);
		return;
	}
	cfg_list_add(&s->scratch, raw, NULL);
	free(line);
}

/* Read the idfile into one UID list per query (all empty if missing). */
static void
load_uids(struct show *s)
{
	const struct cfg_query *q;
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0, n = 0;
	ssize_t	 len;

	for (q = s->c->queries; q != NULL; q = q->next)
		n++;
	s->uids = xcalloc(n ? n : 1, sizeof(*s->uids));
	if (s->c->g.idfile == NULL ||
	    (f = fopen(s->c->g.idfile, "r")) == NULL)
		return;
	while ((len = getline(&line, &cap, f)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';
		uid_line(s, line);
	}
	free(line);
	fclose(f);
}

/* Print S with control and non-ASCII bytes as \xHH, as the reference's
 * debug output shows UIDs. */
static void
put_hex_escaped(FILE *f, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\x%02X", *p);
		else
			fputc(*p, f);
}

/* Print the entries of L, one per line, and a blank line (debug). */
static void
dump_uid_list(FILE *f, const struct cfg_list *l)
{
	size_t	i;

	if (l->n == 0)
		fprintf(f, "%s\n", _(" <empty>"));
	for (i = 0; i < l->n; i++) {
		fputc(' ', f);
		put_hex_escaped(f, l->v[i]);
		fputc('\n', f);
	}
	fputc('\n', f);
}

/* With -v -v: the UIDs read for every query and the unmatched lines.
 * They go where the reference's log goes: nowhere here when that is
 * syslog; with a logfile or in daemon mode the headings carry the
 * program name. */
static void
dump_uids(struct show *s)
{
	const struct cfg_global *g = &s->c->g;
	const struct cfg_query *q;
	const char *pfx = "";
	size_t	i;

	if (g->syslog == FLAG_TRUE && g->logfile == NULL)
		return;
	if (g->logfile != NULL || g->daemon.v != 0)
		pfx = "fetchmail: ";
	for (q = s->c->queries, i = 0; q != NULL; q = q->next, i++) {
		fputs(pfx, s->f);
		fprintf(s->f, _("Old UID list from %s:"), q->pollname);
		fputc('\n', s->f);
		dump_uid_list(s->f, &s->uids[i]);
	}
	fprintf(s->f, "%s%s\n", pfx, _("Scratch list of UIDs:"));
	dump_uid_list(s->f, &s->scratch);
	fflush(s->f);	/* log output is not held back */
}

/* Release the UID lists. */
static void
free_uids(struct show *s)
{
	const struct cfg_query *q;
	size_t	i;

	for (q = s->c->queries, i = 0; q != NULL; q = q->next, i++)
		cfg_list_clear(&s->uids[i]);
	free(s->uids);
	s->uids = NULL;
	cfg_list_clear(&s->scratch);
}

/* The run-wide settings. */
static void
show_globals(struct show *s)
{
	const struct cfg_global *g = &s->c->g;
	FILE	*f = s->f;

	if (g->daemon.v != 0)
		fprintf(f, _("Poll interval is %d seconds\n"), g->daemon.v);
	if (g->logfile)
		fprintf(f, _("Logfile is %s\n"), g->logfile);
	if (g->idfile)
		fprintf(f, _("Idfile is %s\n"), g->idfile);
	if (g->syslog == FLAG_TRUE && g->logfile == NULL)
		fputs(_("Progress messages will be logged via syslog\n"), f);
	if (g->invisible == FLAG_TRUE)
		fputs(_("Fetchmail will masquerade and will not generate Received\n"), f);
	if (g->showdots == FLAG_TRUE)
		fputs(_("Fetchmail will show progress dots even in logfiles.\n"), f);
	if (g->postmaster)
		fprintf(f, _("Fetchmail will forward misaddressed multidrop messages to %s.\n"),
		    g->postmaster);
	if (g->bouncemail == FLAG_FALSE)
		fputs(_("Fetchmail will direct error mail to the postmaster.\n"), f);
	else if (s->verbose)
		fputs(_("Fetchmail will direct error mail to the sender.\n"), f);
	if (g->softbounce == FLAG_FALSE)
		fputs(_("Fetchmail will treat permanent errors as permanent (drop messages).\n"), f);
	else if (s->verbose)
		fputs(_("Fetchmail will treat permanent errors as temporary (keep messages).\n"), f);
}

/* Whether the query authenticates without a password. */
static bool
no_password(const struct cfg_opts *o)
{
	switch (o->auth) {
	case A_OTP: case A_KERBEROS_V4: case A_KERBEROS_V5:
	case A_GSSAPI: case A_SSH: case A_EXTERNAL:
		return true;
	default:
		return o->proto == P_ETRN;
	}
}

/* The password line: whether one will be asked for, or (-v) the
 * password itself. */
static void
show_password(struct show *s, const struct cfg_opts *o)
{
	if (no_password(o))
		return;
	if (o->password == NULL) {
		fputs(_("  Password will be prompted for.\n"), s->f);
		return;
	}
	if (!s->verbose)
		return;
	if (o->proto == P_APOP)
		fprintf(s->f, _("  APOP secret = \"%s\".\n"),
		    vis_tmp(s, o->password));
	else if (o->proto == P_RPOP)
		fprintf(s->f, _("  RPOP id = \"%s\".\n"),
		    vis_tmp(s, o->password));
	else
		fprintf(s->f, _("  Password = \"%s\".\n"),
		    vis_tmp(s, o->password));
}

/* Poll name, via, interval, true name and whether it is polled. */
static void
show_head(struct show *s, const struct cfg_query *q)
{
	const struct cfg_opts *o = &q->o;
	FILE	*f = s->f;

	fprintf(f, _("Options for retrieving from %s@%s:\n"), o->remote,
	    vis_tmp(s, q->pollname));
	if (o->via && mailbox_proto(o->proto))
		fprintf(f, _("  Mail will be retrieved via %s\n"), o->via);
	if (o->interval.v != 0)
		fprintf(f, ngettext("  Poll of this server will occur every %d interval.\n",
		    "  Poll of this server will occur every %d intervals.\n",
		    (unsigned long)o->interval.v), o->interval.v);
	fprintf(f, _("  True name of server is %s.\n"), query_name(q));
	if (q->skip)
		fputs(_("  This host will not be queried when no host is specified.\n"), f);
	else if (s->verbose)
		fputs(_("  This host will be queried when no host is specified.\n"), f);
	show_password(s, o);
}

/* The protocol line with its service and UIDL remarks. */
static void
show_proto(struct show *s, const struct cfg_opts *o)
{
	const char *svc = service_of(o);
	FILE	*f = s->f;

	if ((o->proto == P_POP3 || o->proto == P_KPOP) && svc != NULL &&
	    strcmp(svc, "kpop") == 0 && o->auth == A_KERBEROS_V5)
		fprintf(f, _("  Protocol is KPOP with Kerberos %s authentication"), "V");
	else
		fprintf(f, _("  Protocol is %s"), proto_word(o->proto));
	if (svc != NULL)
		fprintf(f, _(" (using service %s)"), svc);
	else if (s->verbose)
		fputs(_(" (using default port)"), f);
	if (o->uidl == FLAG_TRUE && mailbox_proto(o->proto))
		fputs(_(" (forcing UIDL use)"), f);
	fputs(".\n", f);
}

/* The authentication method and the service principal. */
static void
show_auth(struct show *s, const struct cfg_opts *o)
{
	const char *m = NULL;

	switch (o->auth) {
	case A_ANY: m = _("  All available authentication methods will be tried.\n"); break;
	case A_PASSWORD: m = _("  Password authentication will be forced.\n"); break;
	case A_MSN: m = _("  MSN authentication will be forced.\n"); break;
	case A_NTLM: m = _("  NTLM authentication will be forced.\n"); break;
	case A_OTP: m = _("  OTP authentication will be forced.\n"); break;
	case A_CRAM_MD5: m = _("  CRAM-MD5 authentication will be forced.\n"); break;
	case A_GSSAPI: m = _("  GSSAPI authentication will be forced.\n"); break;
	case A_KERBEROS_V4: m = _("  Kerberos V4 authentication will be forced.\n"); break;
	case A_KERBEROS_V5: m = _("  Kerberos V5 authentication will be forced.\n"); break;
	case A_SSH: m = _("  End-to-end encryption assumed.\n"); break;
	case A_SCRAM_SHA1: m = _("  SCRAM-SHA-1 authentication will be forced.\n"); break;
	case A_SCRAM_SHA256: m = _("  SCRAM-SHA-256 authentication will be forced.\n"); break;
	case A_OAUTHBEARER: m = _("  OAUTHBEARER authentication will be forced.\n"); break;
	case A_XOAUTH2: m = _("  XOAUTH2 authentication will be forced.\n"); break;
	default: break;
	}
	if (m != NULL)
		fputs(m, s->f);
	if (o->principal != NULL)
		fprintf(s->f, _("  Mail service principal is: %s\n"), o->principal);
}

/* An environment variable, or DEF when it is not set. */
static const char *
env_or(const char *var, const char *def)
{
	const char *v = getenv(var);

	return v ? v : def;
}

/* TLS settings and the trust store. */
static void
show_ssl(struct show *s, const struct cfg_opts *o)
{
	FILE	*f = s->f;

	if (o->ssl == FLAG_TRUE)
		fputs(_("  SSL encrypted sessions enabled.\n"), f);
	if (o->sslproto)
		fprintf(f, _("  SSL protocol: %s.\n"), o->sslproto);
	fputs(o->sslcertck == FLAG_FALSE ?
	    _("  SSL server certificate checking disabled.\n") :
	    _("  SSL server certificate checking enabled.\n"), f);
	fprintf(f, _("  SSL default trusted certificate file: %s\n"),
	    env_or(CAFILE_ENV, FM_DEFAULT_CAFILE));
	if (o->sslcertfile)
		fprintf(f, _("  SSL trusted certificate file: %s\n"), o->sslcertfile);
	fprintf(f, _("  SSL default trusted certificate directory: %s\n"),
	    env_or(CAPATH_ENV, FM_DEFAULT_CAPATH));
	if (o->sslcertpath)
		fprintf(f, _("  SSL trusted certificate directory: %s\n"), o->sslcertpath);
	if (o->sslcommonname)
		fprintf(f, _("  SSL server CommonName: %s\n"), o->sslcommonname);
	if (o->sslfingerprint)
		fprintf(f, _("  SSL key fingerprint (checked against the server key): %s\n"),
		    o->sslfingerprint);
}

/* The server timeout; 0 means the default, a negative one is not shown
 * but its line still ends. */
static void
show_timeout(struct show *s, const struct cfg_opts *o)
{
	int	t = o->timeout.v == 0 ? CLIENT_TIMEOUT : o->timeout.v;

	if (t > 0)
		fprintf(s->f, _("  Server nonresponse timeout is %d seconds"), t);
	if (t == CLIENT_TIMEOUT)
		fputs(_(" (default).\n"), s->f);
	else
		fputs(".\n", s->f);
}

/* Print ON or OFF depending on flag V. */
static void
flag_line(FILE *f, int v, const char *on, const char *off)
{
	fputs(v == FLAG_TRUE ? on : off, f);
}

/* Folders and the on/off message handling switches. */
static void
show_switches(struct show *s, const struct cfg_opts *o)
{
	FILE	*f = s->f;
	size_t	 i;

	if (o->mailboxes.n == 0)
		fputs(_("  Default mailbox selected.\n"), f);
	else {
		fputs(_("  Selected mailboxes are:"), f);
		for (i = 0; i < o->mailboxes.n; i++)
			fprintf(f, " %s", o->mailboxes.v[i]);
		fputc('\n', f);
	}
	flag_line(f, o->fetchall, _("  All messages will be retrieved (--all on).\n"),
	    _("  Only new messages will be retrieved (--all off).\n"));
	flag_line(f, o->keep, _("  Fetched messages will be kept on the server (--keep on).\n"),
	    _("  Fetched messages will not be kept on the server (--keep off).\n"));
	flag_line(f, o->flush, _("  Old messages will be flushed before message retrieval (--flush on).\n"),
	    _("  Old messages will not be flushed before message retrieval (--flush off).\n"));
	flag_line(f, o->limitflush, _("  Oversized messages will be flushed before message retrieval (--limitflush on).\n"),
	    _("  Oversized messages will not be flushed before message retrieval (--limitflush off).\n"));
	flag_line(f, o->rewrite, _("  Rewrite of server-local addresses is enabled (--norewrite off).\n"),
	    _("  Rewrite of server-local addresses is disabled (--norewrite on).\n"));
	flag_line(f, o->stripcr, _("  Carriage-return stripping is enabled (stripcr on).\n"),
	    _("  Carriage-return stripping is disabled (stripcr off).\n"));
	flag_line(f, o->forcecr, _("  Carriage-return forcing is enabled (forcecr on).\n"),
	    _("  Carriage-return forcing is disabled (forcecr off).\n"));
	flag_line(f, o->pass8bits, _("  Interpretation of Content-Transfer-Encoding is disabled (pass8bits on).\n"),
	    _("  Interpretation of Content-Transfer-Encoding is enabled (pass8bits off).\n"));
	flag_line(f, o->mimedecode, _("  MIME decoding is enabled (mimedecode on).\n"),
	    _("  MIME decoding is disabled (mimedecode off).\n"));
	flag_line(f, o->idle, _("  Idle after poll is enabled (idle on).\n"),
	    _("  Idle after poll is disabled (idle off).\n"));
	flag_line(f, o->dropstatus, _("  Nonempty Status lines will be discarded (dropstatus on)\n"),
	    _("  Nonempty Status lines will be kept (dropstatus off)\n"));
	flag_line(f, o->dropdelivered, _("  Delivered-To lines will be discarded (dropdelivered on)\n"),
	    _("  Delivered-To lines will be kept (dropdelivered off)\n"));
}

/* Size limit and, in daemon mode, the size warning interval. */
static void
show_size_limit(struct show *s, const struct cfg_opts *o)
{
	int	w = o->warnings.v;

	if (o->limit.v <= 0)
		return;
	fprintf(s->f, _("  Message size limit is %d octets (--limit %d).\n"),
	    o->limit.v, o->limit.v);
	if (s->c->g.daemon.v > 0) {
		if (w == 0)	/* an explicit 0 is stored as -1 */
			w = -1;
		fprintf(s->f, _("  Message size warning interval is %d seconds (--warnings %d).\n"),
		    w, w);
	} else if (s->verbose)
		fputs(_("  Size warnings on every poll (--warnings 0).\n"), s->f);
}

/* The numeric limits of a mailbox query. */
static void
show_limits(struct show *s, const struct cfg_opts *o)
{
	FILE	*f = s->f;
	int	 n;

	show_size_limit(s, o);
	if ((n = o->fetchlimit.v) > 0)
		fprintf(f, _("  Received-message limit is %d (--fetchlimit %d).\n"), n, n);
	else if (s->verbose)
		fputs(_("  No received-message limit (--fetchlimit 0).\n"), f);
	if ((n = o->fetchsizelimit.v) > 0)
		fprintf(f, _("  Fetch message size limit is %d (--fetchsizelimit %d).\n"), n, n);
	else if (s->verbose)
		fputs(_("  No fetch message size limit (--fetchsizelimit 0).\n"), f);
	if ((n = o->fastuidl.v) == 1)
		fputs(_("  Do binary search of UIDs during each poll (--fastuidl 1).\n"), f);
	else if (n > 1)
		fprintf(f, _("  Do binary search of UIDs during %d out of %d polls (--fastuidl %d).\n"),
		    n - 1, n, n);
	else if (s->verbose)
		fputs(_("   Do linear search of UIDs during each poll (--fastuidl 0).\n"), f);
	if ((n = o->batchlimit.v) > 0)
		fprintf(f, _("  SMTP message batch limit is %d.\n"), n);
	else if (s->verbose)
		fputs(_("  No SMTP message batch limit (--batchlimit 0).\n"), f);
	if ((n = o->expunge.v) > 0)
		fprintf(f, _("  Deletion interval between expunges forced to %d (--expunge %d).\n"), n, n);
	else if (s->verbose)
		fputs(_("  No forced expunges (--expunge 0).\n"), f);
}

/* Whether the resolve step filled in the SMTP host list or the ETRN/ODMR
 * domain list (the reference marks those entries "(default)"). */
#define SMTPHUNT_DEFAULT(s, o)		((void)(s), (o)->smtphunt_default)
#define FETCHDOMAINS_DEFAULT(s, o)	((void)(s), (o)->fetchdomains_default)

/* Print the elements of L after a space each, marking the default. */
static void
put_list(FILE *f, const struct cfg_list *l, bool dflt)
{
	size_t	i;

	for (i = 0; i < l->n; i++) {
		fprintf(f, " %s", l->v[i]);
		if (dflt)
			fputs(_(" (default)"), f);
	}
	fputc('\n', f);
}

/* The domains an ETRN or ODMR query asks for. */
static void
show_domains(struct show *s, const struct cfg_opts *o)
{
	fputs(_("  Domains for which mail will be fetched are:"), s->f);
	put_list(s->f, &o->fetchdomains, FETCHDOMAINS_DEFAULT(s, o));
}

/* Where the messages go: BSMTP file, MDA or SMTP/LMTP hosts. */
static void
show_delivery(struct show *s, const struct cfg_opts *o)
{
	FILE	*f = s->f;

	if (o->bsmtp) {
		fprintf(f, _("  Messages will be appended to %s as BSMTP\n"),
		    vis_tmp(s, o->bsmtp));
		return;
	}
	if (o->mda && mailbox_proto(o->proto)) {
		fprintf(f, _("  Messages will be delivered with \"%s\".\n"),
		    vis_tmp(s, o->mda));
		return;
	}
	if (o->smtphunt.n > 0) {
		fprintf(f, _("  Messages will be %cMTP-forwarded to:"),
		    o->lmtp == FLAG_TRUE ? 'L' : 'S');
		put_list(f, &o->smtphunt, SMTPHUNT_DEFAULT(s, o));
	}
	if (o->smtpaddress)
		fprintf(f, _("  Host part of MAIL FROM line will be %s\n"), o->smtpaddress);
	if (o->smtpname)
		fprintf(f, _("  Address to be put in RCPT TO lines shipped to SMTP will be %s\n"),
		    o->smtpname);
}

/* Spam-block responses and the connection commands. */
static void
show_antispam_connect(struct show *s, const struct cfg_opts *o)
{
	FILE	*f = s->f;
	size_t	 i;

	if (mailbox_proto(o->proto)) {
		if (o->nantispam > 0) {
			fputs(_("  Recognized listener spam block responses are:"), f);
			for (i = 0; i < o->nantispam; i++)
				fprintf(f, " %d", o->antispam[i]);
			fputc('\n', f);
		} else if (s->verbose)
			fputs(_("  Spam-blocking disabled\n"), f);
	}
	if (o->preconnect)
		fprintf(f, _("  Server connection will be brought up with \"%s\".\n"),
		    vis_tmp(s, o->preconnect));
	else if (s->verbose)
		fputs(_("  No pre-connection command.\n"), f);
	if (o->postconnect)
		fprintf(f, _("  Server connection will be taken down with \"%s\".\n"),
		    vis_tmp(s, o->postconnect));
	else if (s->verbose)
		fputs(_("  No post-connection command.\n"), f);
}

/* Print a heading and the elements of L after a space each. */
static void
put_names(FILE *f, const char *heading, const struct cfg_list *l)
{
	if (l->n == 0)
		return;
	fputs(heading, f);
	put_list(f, l, false);
}

/* How multidrop recipients are found: DNS, envelope, prefix, aliases. */
static void
show_multidrop(struct show *s, const struct cfg_opts *o)
{
	FILE	*f = s->f;

	fputs(o->dns == FLAG_FALSE ?
	    _("  DNS lookup for multidrop addresses is disabled.\n") :
	    _("  DNS lookup for multidrop addresses is enabled.\n"), f);
	if (o->dns != FLAG_FALSE)
		fputs(o->checkalias == FLAG_TRUE ?
		    _("  Server aliases will be compared with multidrop addresses by IP address.\n") :
		    _("  Server aliases will be compared with multidrop addresses by name.\n"), f);
	if (o->no_envelope)
		fputs(_("  Envelope-address routing is disabled\n"), f);
	else {
		fprintf(f, _("  Envelope header is assumed to be: %s\n"),
		    o->envelope ? o->envelope : "Received");
		if (o->envskip.v != 0 || s->verbose)
			fprintf(f, _("  Number of envelope headers to be skipped over: %d\n"),
			    o->envskip.v);
		if (o->qvirtual)
			fprintf(f, _("  Prefix %s will be removed from user id\n"), o->qvirtual);
		else if (s->verbose)
			fputs(_("  No prefix stripping\n"), f);
	}
	put_names(f, _("  Predeclared mailserver aliases:"), &o->aka);
	put_names(f, _("  Local domains:"), &o->localdomains);
}

/* Single- or multidrop, the local names (-v) and the multidrop rules. */
static void
show_localnames(struct show *s, const struct cfg_opts *o)
{
	FILE	*f = s->f;
	size_t	 i, n = o->localnames.n;
	bool	 multi = n > 1 || o->wildcard;

	if (n == 0) {
		fputs(_("  No localnames declared for this host.\n"), f);
		return;
	}
	fputs(multi ? _("  Multi-drop mode: ") : _("  Single-drop mode: "), f);
	fprintf(f, ngettext("%d local name recognized.\n",
	    "%d local names recognized.\n", n), (int)n);
	if (s->verbose) {
		for (i = 0; i < n; i++)
			if (o->localnames.map[i])
				fprintf(f, "\t%s -> %s\n", o->localnames.v[i],
				    o->localnames.map[i]);
			else
				fprintf(f, "\t%s\n", o->localnames.v[i]);
		if (o->wildcard)
			fputs("\t*\n", f);
	}
	if (multi)
		show_multidrop(s, o);
}

/* Interface, monitor, plugin and plugout. */
static void
show_connection(struct show *s, const struct cfg_opts *o)
{
	FILE	*f = s->f;

	if (o->interface)
		fprintf(f, _("  Connection must be through interface %s.\n"), o->interface);
	else if (s->verbose)
		fputs(_("  No interface requirement specified.\n"), f);
	if (o->monitor)
		fprintf(f, _("  Polling loop will monitor %s.\n"), o->monitor);
	else if (s->verbose)
		fputs(_("  No monitor interface specified.\n"), f);
	if (o->plugin)
		fprintf(f, _("  Server connections will be made via plugin %s (--plugin %s).\n"),
		    o->plugin, o->plugin);
	else if (s->verbose)
		fputs(_("  No plugin command specified.\n"), f);
	if (o->plugout)
		fprintf(f, _("  Listener connections will be made via plugout %s (--plugout %s).\n"),
		    o->plugout, o->plugout);
	else if (s->verbose)
		fputs(_("  No plugout command specified.\n"), f);
}

/* The UIDs the idfile holds for this query. */
static void
show_uids(struct show *s, const struct cfg_list *uids)
{
	size_t	i;

	if (uids->n == 0) {
		fputs(_("  No UIDs saved from this host.\n"), s->f);
		return;
	}
	fprintf(s->f, _("  %d UIDs saved.\n"), (int)uids->n);
	for (i = 0; i < uids->n; i++)
		fprintf(s->f, "\t%s\n", uids->v[i]);
}

/* Trace headers, the bad-header policy and the properties. */
static void
show_tail(struct show *s, const struct cfg_opts *o)
{
	FILE	*f = s->f;

	if (o->tracepolls == FLAG_TRUE)
		fputs(_("  Poll trace information will be added to the Received header.\n"), f);
	else if (s->verbose)
		fputs(_("  No poll trace information will be added to the Received header.\n"), f);
	if (o->badheader == FLAG_TRUE)
		fputs(_("  Messages with bad headers will be passed on.\n"), f);
	else if (s->verbose)
		fputs(_("  Messages with bad headers will be rejected.\n"), f);
	if (o->properties)
		fprintf(f, _("  Pass-through properties \"%s\".\n"),
		    vis_tmp(s, o->properties));
}

/* Everything about one query; UIDS is what the idfile holds for it. */
static void
show_query(struct show *s, const struct cfg_query *q,
    const struct cfg_list *uids)
{
	const struct cfg_opts *o = &q->o;
	bool	mbox = mailbox_proto(o->proto);

	show_head(s, q);
	show_proto(s, o);
	show_auth(s, o);
	show_ssl(s, o);
	show_timeout(s, o);
	if (mbox) {
		show_switches(s, o);
		show_limits(s, o);
	} else
		show_domains(s, o);
	show_delivery(s, o);
	show_antispam_connect(s, o);
	if (mbox)
		show_localnames(s, o);
	show_connection(s, o);
	if (uid_proto(o->proto))
		show_uids(s, uids);
	show_tail(s, o);
}

/* Whether the rcfile was read from a file that exists. */
static bool
rcfile_read(const struct cfg *c)
{
	struct stat st;

	return c->rcfile != NULL && strcmp(c->rcfile, "-") != 0 &&
	    stat(c->rcfile, &st) == 0;
}

/* The settings report; returns the exit status. */
int
cfg_show(FILE *f, const struct cfg *c, const struct fm_env *fe, int verbose)
{
	struct show		 s = { .f = f, .c = c, .fe = fe,
				       .verbose = verbose > 0 };
	const struct cfg_query	*q;
	bool			 named = false;
	size_t			 i;

	load_uids(&s);
	if (verbose > 1)
		dump_uids(&s);
	if (rcfile_read(c))
		fprintf(f, _("Taking options from command line%s%s\n"),
		    _(" and "), c->rcfile);
	else
		fprintf(f, _("Taking options from command line%s%s\n"), "", "");
	if (c->queries == NULL) {
		fprintf(stderr, _("No mailservers set up -- perhaps %s is missing?\n"),
		    c->rcfile);
	} else
		show_globals(&s);
	for (q = c->queries; q != NULL; q = q->next)
		named = named || q->selected;
	for (q = c->queries, i = 0; q != NULL; q = q->next, i++)
		if (named ? q->selected : !q->skip)
			show_query(&s, q, &s.uids[i]);
	free_uids(&s);
	free(s.vbuf);
	return 0;
}
