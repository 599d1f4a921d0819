/*
 * driver.c: the poll of each query (see driver.h).  Connection set-up
 * and the status rules live here; what happens to each message is in
 * deliver.c, the protocol dialogue in pop3.c.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netdb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cfg.h"
#include "attempts.h"
#include "conn.h"
#include "dnscache.h"
#include "driver_priv.h"
#include "i18n.h"
#include "etrn.h"
#include "imap.h"
#include "odmr.h"
#include "pop2.h"
#include "log.h"
#include "pop3.h"
#include "tls.h"
#include "uidstore.h"
#include "xmalloc.h"

#ifndef FETCHMAIL_COMPAT_VERSION
#define FETCHMAIL_COMPAT_VERSION "6.4.37"
#endif

/* Transcript hook: "PROTO> line" / "PROTO< line" at -v. */
void
session_trace(void *arg, int dir, const char *line, size_t len)
{
	char	*e;

	if (log_verbosity() < 1)
		return;
	e = log_escape(line, len);
	log_verbose("%s%c %s", (const char *)arg, dir, e);
	free(e);
}

void
session_tls_report(struct session *s)
{
	const struct tls_info	*ti = conn_tls_info(s->conn);
	const char		*name = s->q->o.sslcommonname ?
				    s->q->o.sslcommonname : s->host;

	if (ti == NULL)
		return;
	if (ti->md5 != NULL)
		log_verbose(_("%s key fingerprint: %s"), name, ti->md5);
	if (ti->fp_matched)
		log_verbose(_("%s fingerprints match."), name);
	if (ti->warning != NULL) {
		log_err_lines(ti->warning);
		log_err("%s", _("Warning: the connection is insecure, "
		    "continuing anyways. (Better use --sslcertck!)"));
	}
}

int
session_quit(struct session *s, bool ok, bool dele_failed)
{
	if (!ok) {
		log_err("%s", _("protocol error: the server refused QUIT"));
		s->status = PS_PROTOCOL;
		return -1;
	}
	s->ops->committed(s);
	if (dele_failed) {
		log_err("%s", _("client/server synchronization error: the "
		    "server refused to delete a message"));
		s->status = PS_ERROR;
		return -1;
	}
	return 0;
}

/* Names of the statuses "Query status=N (NAME)" shows. */
static const char *
status_name(int st)
{
	static const char *const names[] = { "SUCCESS", "NOMAIL", "SOCKET",
	    "AUTHFAIL", "PROTOCOL", "SYNTAX", "IOERR", "ERROR", "EXCLUDE",
	    "LOCKBUSY", "SMTP", "DNS", "BSMTP", "MAXFETCH" };

	return st >= 0 && st <= PS_MAXFETCH ? names[st] : NULL;
}

/* The protocol's name in messages and transcripts. */
static const char *
proto_label(int proto)
{
	switch (proto) {
	case P_AUTO:	return "auto";
	case P_IMAP:	return "IMAP";
#ifdef POP2_ENABLE
	case P_POP2:	return "POP2";
#else
	case P_POP2:	return "unknown?!?";
#endif
	case P_ETRN:	return "ETRN";
	case P_ODMR:	return "ODMR";
	default:	return "POP3";
	}
}

/* The first line of what F yields (no line end), or NULL. */
static char *
first_line(FILE *f)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n = getline(&line, &cap, f);

	if (n <= 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

/* A password (an OAuth access token) read afresh for this poll from
 * `passwordfile` or `passwordcommand`: 0, or PS_AUTHFAIL (logged). */
static int
fresh_password(struct drv *d)
{
	const struct cfg_opts *o = &d->s.q->o;
	FILE	*f;
	int	 ws = 0;

	if (o->passwordfile == NULL && o->passwordcommand == NULL)
		return 0;
	if (o->passwordfile != NULL)
		f = fopen(o->passwordfile, "r");
	else {
		fflush(stdout);
		f = popen(o->passwordcommand, "r");
	}
	if (f == NULL) {
		log_err(_("cannot read the password for %s@%s from %s: %s"),
		    o->remote, d->s.pollname, o->passwordfile ?
		    o->passwordfile : o->passwordcommand, strerror(errno));
		return PS_AUTHFAIL;
	}
	d->fresh_pw = first_line(f);
	if (o->passwordfile != NULL)
		fclose(f);
	else
		ws = pclose(f);
	if (d->fresh_pw == NULL || *d->fresh_pw == '\0' || ws != 0) {
		log_err(_("no password for %s@%s from %s"), o->remote,
		    d->s.pollname, o->passwordfile ? o->passwordfile :
		    o->passwordcommand);
		return PS_AUTHFAIL;
	}
	d->s.password = d->fresh_pw;
	return 0;
}

/* The -v line that opens or closes the poll of POLLNAME with PROTO. */
static void
log_querying(const char *pollname, const char *proto, bool done)
{
	char	when[64];
	time_t	now = time(NULL);

	strftime(when, sizeof(when), "%a %b %d %H:%M:%S %Y", localtime(&now));
	if (done)
		log_verbose(_("%s querying %s (protocol %s) at %s: poll "
		    "completed"), FETCHMAIL_COMPAT_VERSION, pollname, proto,
		    when);
	else
		log_verbose(_("%s querying %s (protocol %s) at %s: poll "
		    "started"), FETCHMAIL_COMPAT_VERSION, pollname, proto,
		    when);
}

/* Run a pre/post-connect command; 0, or the status it earns. */
static int
run_hook(const char *cmd, const char *what)
{
	int	ws;

	if (cmd == NULL)
		return 0;
	fflush(stdout);
	ws = system(cmd);
	if (ws == 0)
		return 0;
	if (ws != -1 && WIFSIGNALED(ws))
		log_err(_("%s-connection command terminated with signal %d"),
		    what, WTERMSIG(ws));
	else
		log_err(_("%s-connection command failed with status %d"),
		    what, ws == -1 ? -1 : WEXITSTATUS(ws));
	return PS_SYNTAX;
}

/* The server's canonical name and address, when dns is on. */
static int
canonical_name(struct drv *d)
{
	const struct cfg_opts *o = &d->s.q->o;
	struct addrinfo	 hints, *res = NULL;
	char		 num[NI_MAXHOST];
	int		 r;

	if (o->dns == FLAG_FALSE) {
		d->truename = xstrdup(d->s.host);
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(d->s.host, NULL, &hints, &res)) != 0) {
		log_err(_("couldn't find canonical DNS name of %s (%s): %s"),
		    d->s.pollname, d->s.host, gai_strerror(r));
		return PS_DNS;
	}
	d->truename = xstrdup(res->ai_canonname ? res->ai_canonname :
	    d->s.host);
	if (getnameinfo(res->ai_addr, res->ai_addrlen, num, sizeof(num),
	    NULL, 0, NI_NUMERICHOST) == 0)
		d->ipaddr = xstrdup(num);
	freeaddrinfo(res);
	return 0;
}

/* Replace %h and %p in a plugin command. */
static char *
expand_plugin(const char *cmd, const char *host, const char *port)
{
	struct buf	*b = buf_create(64 * 1024);
	char		*r;

	for (; *cmd != '\0'; cmd++) {
		if (cmd[0] == '%' && cmd[1] == 'h') {
			buf_append(b, host, strlen(host));
			cmd++;
		} else if (cmd[0] == '%' && cmd[1] == 'p') {
			buf_append(b, port, strlen(port));
			cmd++;
		} else
			buf_append(b, cmd, 1);
	}
	r = xstrndup(buf_data(b), buf_len(b));
	buf_free(b);
	return r;
}

/* The port a protocol uses when no `service` is given. */
static const char *
default_port(int proto, bool ssl)
{
	switch (proto) {
	case P_IMAP:	return ssl ? "imaps" : "imap";
	case P_POP2:	return "109";
	case P_ETRN:	return "smtp";
	case P_ODMR:	return "366";
	default:	return ssl ? "995" : "110";
	}
}

/* The dialogue of the query's protocol on d->s.conn; its result as
 * pop3_session() gives it. */
static int
run_protocol(struct drv *d, const struct pop3_tls *pt)
{
	switch (d->proto) {
	case P_IMAP:
		return imap_session(&d->s, pt);
	case P_POP2:
		return pop2_session(&d->s, pt);
	case P_ETRN:
		d->s.status = etrn_session(&d->s, d->dopts->hostname);
		return 0;
	case P_ODMR:
		d->s.status = odmr_session(&d->s, d->dopts->hostname);
		return 0;
	default:
		return pop3_session(&d->s, pt);
	}
}

/* Open the connection (TCP or plugin) and implicit TLS. */
static int
connect_server(struct drv *d, const struct tls_opts *to, bool ssl)
{
	const struct cfg_opts *o = &d->s.q->o;
	const char	*port = o->service ? o->service :
			    default_port(d->proto, ssl);
	char		*cause = NULL, *cmd;

	if (strcmp(port, "kpop") == 0)
		port = "1109";
	if (o->plugin != NULL) {
		cmd = expand_plugin(o->plugin, d->s.host, port);
		d->s.conn = conn_spawn(cmd, o->timeout.v, &cause);
		free(cmd);
	} else {
		struct attempts	 a = { d->s.host, port, NULL, NULL, 0 };

		d->s.conn = conn_connect_report(d->s.host, port, o->timeout.v,
		    attempts_report, &a, &cause);
		if (d->s.conn != NULL && log_verbosity() >= 1) {
			log_progress_more("%s", _("connected."));
			log_progress_end();
		}
		if (d->s.conn == NULL && a.errors != NULL) {
			log_err(_("Connection errors for this poll:\n%s"),
			    a.errors);
			free(cause);
			cause = xstrdup(a.last);
		}
		attempts_free(&a);
	}
	if (d->s.conn == NULL) {
		log_progress_end();
		log_err_plain(_("%s connection to %s failed: %s"),
		    d->s.proto_name, d->s.pollname,
		    cause ? cause : "?");
		free(cause);
		return PS_SOCKET;
	}
	if (d->dopts->verbose >= 1)
		conn_set_trace(d->s.conn, session_trace,
		    (void *)d->s.proto_name);
	if (ssl && conn_starttls(d->s.conn, to, &cause) != 0) {
		log_err_lines(cause ? cause : "?");
		free(cause);
		log_err(_("%s: SSL connection failed."), to->host);
		log_err(_("socket error while fetching from %s@%s"),
		    o->remote, d->s.pollname);
		return PS_SOCKET;
	}
	if (ssl)
		session_tls_report(&d->s);
	return 0;
}

/* TLS options and mode from the query. */
static void
tls_setup(const struct drv *d, struct tls_opts *to, struct pop3_tls *pt)
{
	const struct cfg_opts *o = &d->s.q->o;
	bool	ssl = o->ssl == FLAG_TRUE;
	bool	empty = o->sslproto != NULL && *o->sslproto == '\0';

	tls_opts_init(to);
	to->verify = o->sslcertck != FLAG_FALSE;
	to->cafile = o->sslcertfile;
	to->capath = o->sslcertpath;
	to->host = o->sslcommonname ? o->sslcommonname : d->s.host;
	to->fingerprint = o->sslfingerprint;
	to->cert = o->sslcert;
	to->key = o->sslkey;
	to->proto = o->sslproto;
	if (o->sslproto != NULL && !tls_proto_known(o->sslproto))
		log_err(_("Invalid SSL protocol '%s' specified, using default "
		    "autoselect (auto)."), o->sslproto);
	pt->opts = to;
	pt->proto_empty = empty;
	if (ssl)
		pt->mode = 3;
	else if (empty)
		pt->mode = 0;
	else if (o->sslcertck != FLAG_FALSE || o->sslfingerprint != NULL ||
	    (o->sslproto != NULL && *o->sslproto != '\0'))
		pt->mode = 2;
	else
		pt->mode = 1;
}

/* ETRN and ODMR only ask a relay to send; nothing is fetched. */
static bool
relay_trigger(int proto)
{
	return proto == P_ETRN || proto == P_ODMR;
}

/* Whether this build can poll the query; else its status. */
static int
supported(const struct cfg_query *q, bool check)
{
	const struct cfg_opts *o = &q->o;

	switch (o->proto) {
	case P_AUTO: case P_POP3: case P_APOP: case P_SDPS: case P_IMAP:
		break;
	case P_POP2:
#ifndef POP2_ENABLE
		log_err("%s", _("POP2 support is not configured."));
		return PS_PROTOCOL;
#else
		break;
#endif
	case P_ETRN: case P_ODMR:
		return etrn_refuse(q, check, o->proto == P_ETRN ? "ETRN" :
		    "ODMR");
	default:
		log_err(_("protocol %s is not supported in this build yet; "
		    "skipping %s"), cfg_proto_name(o->proto), q->pollname);
		return PS_PROTOCOL;
	}
	if (o->mda != NULL && o->bsmtp == NULL &&
	    sink_mda_quoted_expansion(o->mda)) {
		log_err("%s", _("MDA option contains single-quoted %T "
		    "expansion."));
		log_err("%s", _("Refusing to deliver. Check the manual and "
		    "fix your mda option."));
		return PS_SYNTAX;
	}
	return 0;
}

/* Report a failed login as the reference does. */
static void
login_failure(const struct drv *d)
{
	const struct cfg_opts *o = &d->s.q->o;

	if (d->s.status == PS_AUTHFAIL) {
		log_err(_("Authorization failure on %s@%s"), o->remote,
		    d->truename);
		if (o->auth == A_ANY)
			log_err("%s", _("For help, see "
			    "http://www.fetchmail.info/fetchmail-FAQ.html#R15"));
	} else if (d->s.status == PS_LOCKBUSY)
		log_err(_("Lock-busy error on %s@%s"), o->remote, d->truename);
	else if (d->s.status == PS_SERVBUSY)
		log_err(_("Server busy error on %s@%s"), o->remote,
		    d->truename);
}

/* One connection and POP3 session; the query status so far. */
static int
one_session(struct drv *d, const struct tls_opts *to,
    const struct pop3_tls *pt)
{
	unsigned long	 before = d->s.fetched;
	int		 st;

	if ((st = connect_server(d, to, pt->mode == 3)) != 0) {
		conn_free(d->s.conn);	/* a failed implicit TLS handshake */
		d->s.conn = NULL;
		return st;
	}
	if (run_protocol(d, pt) != 0 && d->s.status == 0)
		d->s.status = PS_PROTOCOL;
	conn_free(d->s.conn);
	d->s.conn = NULL;
	if (relay_trigger(d->proto))	/* ETRN/ODMR report it themselves */
		return d->s.status;
	login_failure(d);
	if (d->s.status != 0)
		return d->s.status;
	if (d->limit_hit) {
		unsigned long left = d->count - (d->s.fetched - before);

		log_info(left == 1 ?
		    _("fetchlimit %lu reached; %lu message left on server %s "
		    "account %s") : _("fetchlimit %lu reached; %lu messages "
		    "left on server %s account %s"), d->limit, left,
		    d->truename, d->s.q->o.remote);
		if (!d->limit_expunge)
			return PS_MAXFETCH;
	}
	return d->s.fetched > 0 ? PS_SUCCESS : PS_NOMAIL;
}

/* Connect, run the session(s) and deliver; returns the query status.
 * expunge N ends a session after N messages and starts another. */
static int
poll_session(struct drv *d)
{
	struct tls_opts	 to;
	struct pop3_tls	 pt;
	unsigned long	 before;
	int		 st;

	tls_setup(d, &to, &pt);
	deliver_setup(d);
	do {
		before = d->s.fetched;
		st = one_session(d, &to, &pt);
	} while (st == PS_SUCCESS && d->limit_hit && d->limit_expunge &&
	    d->s.fetched > before);
	return st;
}

/* Forget the UIDs the server no longer lists (after a clean poll). */
static void
uid_after_poll(struct drv *d, int st)
{
	struct uid_ref	*refs;
	size_t		 i;

	if (d->acct == NULL || (st != PS_SUCCESS && st != PS_NOMAIL &&
	    st != PS_MAXFETCH) || d->dopts->check)
		return;
	refs = xcalloc(d->npresent ? d->npresent : 1, sizeof(*refs));
	for (i = 0; i < d->npresent; i++) {
		refs[i].uid = d->present[i];
		refs[i].len = d->presentlen[i];
	}
	(void)uid_forget_absent(d->uids, d->acct, refs, d->npresent);
	free(refs);
}

/* The poll of the query with protocol PROTO; its status. */
static int
poll_as(struct drv *d, int proto)
{
	int	st;

	d->proto = proto;
	d->s.imap = proto == P_IMAP;
	d->s.proto_name = proto_label(proto);
	d->acct = NULL;
	if (!relay_trigger(proto) && proto != P_POP2)
		d->acct = uid_account_add(d->uids, d->s.q->o.remote, d->s.host,
		    NULL);
	st = poll_session(d);
	uid_after_poll(d, st);
	deliver_finish(d);
	return st;
}

/* Forget what a failed attempt of `proto auto` left behind. */
static void
reset_attempt(struct drv *d)
{
	d->s.status = 0;
	d->s.stop = false;
	d->s.folder = NULL;
	d->s.uidvalidity = 0;
	d->count = d->limit = d->since_sink = 0;
	d->limit_expunge = d->limit_hit = d->uid_unsynced = false;
}

/* `proto auto`: IMAP, then POP3 when the server did not speak IMAP (a
 * protocol error before anything was fetched).  A connection that
 * fails ends the poll, as with the reference. */
static int
poll_auto(struct drv *d)
{
	static const int order[] = { P_IMAP, P_POP3 };
	size_t	i;
	int	st = PS_PROTOCOL;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		log_querying(d->s.pollname, proto_label(order[i]), false);
		st = poll_as(d, order[i]);
		log_querying(d->s.pollname, proto_label(order[i]), true);
		if (st != PS_PROTOCOL || d->s.fetched > 0)
			break;
		reset_attempt(d);
	}
	return st;
}

/* Poll one query; returns its status. */
static int
poll_query(const struct cfg *c, const struct cfg_query *q,
    const struct driver_opts *dopts, struct uid_store *uids)
{
	struct drv	 d;
	int		 st;

	memset(&d, 0, sizeof(d));
	d.dopts = dopts;
	d.cfg = c;
	d.uids = uids;
	d.s.q = q;
	d.s.ops = &driver_ops;
	d.s.arg = &d;
	d.s.pollname = q->pollname;
	d.s.host = q->o.via ? q->o.via : q->pollname;
	d.s.password = q->o.password;
	d.s.verbose = dopts->verbose;
	d.s.proto_name = proto_label(q->o.proto);
	d.s.check = dopts->check;
	log_querying(q->pollname, proto_label(q->o.proto), false);
	if ((st = supported(q, dopts->check)) == 0 &&
	    (st = run_hook(q->o.preconnect, "pre")) == 0 &&
	    (st = fresh_password(&d)) == 0 &&
	    (st = canonical_name(&d)) == 0) {
		d.s.truename = d.truename;
		st = q->o.proto == P_AUTO ? poll_auto(&d) :
		    poll_as(&d, q->o.proto);
		if (run_hook(q->o.postconnect, "post") != 0 && st <= PS_NOMAIL)
			st = PS_SYNTAX;
	}
	log_querying(q->pollname, proto_label(q->o.proto), true);
	/* -c: the exit status says it all, as with the reference */
	if (st != PS_SUCCESS && (st != PS_NOMAIL || dopts->verbose >= 2) &&
	    !dopts->check) {
		/* printed even with -s, as the reference does */
		if (status_name(st) != NULL)
			log_notice(_("Query status=%d (%s)"), st,
			    status_name(st));
		else
			log_notice(_("Query status=%d"), st);
	}
	dnsc_free(d.dnscache);
	free(d.truename);
	free(d.ipaddr);
	if (d.fresh_pw != NULL)
		xexplicit_bzero(d.fresh_pw, strlen(d.fresh_pw));
	free(d.fresh_pw);
	return st;
}

/* Load the idfile; a broken one is reported, not fatal. */
static struct uid_store *
load_uids(const struct cfg *c)
{
	struct uid_store *u = uid_create(c->g.idfile);
	size_t		 i;

	if (uid_load(u) != 0)
		log_err("%s", uid_error(u));
	for (i = 0; i < uid_nwarnings(u); i++)
		log_err("%s", uid_warning(u, i));
	return u;
}

int
driver_run(const struct cfg *c, const struct driver_opts *dopts)
{
	const struct cfg_query	*q;
	struct uid_store	*uids = load_uids(c);
	int			 st, last = PS_NOMAIL;
	bool			 any_ok = false, any = false;

	if (dopts->check)
		log_verbose("%s", _("--check mode enabled, not fetching mail"));

	for (q = c->queries; q != NULL; q = q->next) {
		if (dopts->named ? !q->selected : q->skip)
			continue;
		if (q->o.interval.v > 1 &&
		    dopts->cycle % (unsigned long)q->o.interval.v != 0) {
			log_verbose(_("interval not reached, not querying %s"),
			    q->pollname);
			continue;
		}
		any = true;
		st = poll_query(c, q, dopts, uids);
		if (st == PS_SUCCESS)
			any_ok = true;
		last = st;
		if (!dopts->check && uid_save(uids) != 0)
			log_err("%s", uid_error(uids));
	}
	uid_free(uids);
	log_progress_end();
	if (!any)
		return PS_NOMAIL;
	return any_ok ? PS_SUCCESS : last;
}
