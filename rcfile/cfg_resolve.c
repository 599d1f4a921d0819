/*
 * cfg_resolve.c: the resolve step.  Merges, for every query, the rcfile
 * entry, the `defaults` entry (for what is still unset), the command line
 * (over everything) and the built-in defaults, then runs the reference's
 * post-parse checks.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "cfg_resolve.h"
#include "xmalloc.h"
#include "i18n.h"

static void	select_hosts(struct cfg *, const struct cfg_cmdline *);
static void	resolve_globals(struct cfg *, const struct cfg_cmdline *,
		    const struct cfg_env *);
static void	resolve_query(struct cfg *, struct cfg_query *,
		    const struct cfg_cmdline *, const struct cfg_env *);
static void	builtin_defaults(struct cfg_opts *, const struct cfg_env *,
		    bool active);
static int	check_query(const struct cfg_query *, struct cfg_errors *,
		    struct cfg_errors *);
static int	check_idle(const struct cfg *, bool, struct cfg_errors *);

/* Make PATH absolute relative to DIR; returns an allocated string. */
char *
cfg_abspath(const char *dir, const char *path)
{
	if (path[0] == '/' || dir == NULL)
		return xstrdup(path);
	return xasprintf("%s/%s", dir, path);
}

/* Replace a relative path in *P by its absolute form under DIR. */
static void
absolutize(char **p, const char *dir)
{
	char	*a;

	if (*p == NULL || (*p)[0] == '/' || strcmp(*p, "-") == 0)
		return;		/* "-" is stdout for bsmtp */
	a = cfg_abspath(dir, *p);
	free(*p);
	*p = a;
}

/* The protocol name configdump shows for O. */
const char *
cfg_dump_proto(const struct cfg_opts *o)
{
	return cfg_proto_name(o->proto == P_SDPS ? P_POP3 : o->proto);
}

static void
set_default_num(struct cfg_num *n, int v)
{
	if (!n->set) {
		n->v = v;
		n->set = true;
	}
}

static void
set_default_flag(int *f, bool on)
{
	if (*f == FLAG_UNSET)
		*f = on ? FLAG_TRUE : FLAG_FALSE;
}

/* Mark entries named on the command line; unknown names become entries of
 * their own at the end. */
static void
select_hosts(struct cfg *c, const struct cfg_cmdline *cmd)
{
	struct cfg_query *q, **tail;
	size_t		  i, j;
	bool		  found;

	for (i = 0; i < cmd->nhosts; i++) {
		found = false;
		for (q = c->queries; q != NULL; q = q->next) {
			bool hit = strcmp(q->pollname, cmd->hosts[i]) == 0;

			for (j = 0; !hit && j < q->o.aka.n; j++)
				hit = strcmp(q->o.aka.v[j], cmd->hosts[i]) == 0;
			if (hit)
				q->selected = found = true;
		}
		if (found)
			continue;
		for (tail = &c->queries; *tail != NULL; tail = &(*tail)->next)
			;
		q = xcalloc(1, sizeof(*q));
		q->pollname = xstrdup(cmd->hosts[i]);
		q->o.via = xstrdup(cmd->hosts[i]);
		q->selected = q->first_of_entry = true;
		*tail = q;
	}
}

static void
resolve_globals(struct cfg *c, const struct cfg_cmdline *cmd,
    const struct cfg_env *env)
{
	struct cfg_global	*g = &c->g;
	const struct cfg_global	*cg = &cmd->g;

#define OVR_STR(f)	do { if (cg->f) { free(g->f); g->f = cfg_abspath(env->cwd, cg->f); } } while (0)
#define OVR_FLAG(f)	do { if (cg->f) g->f = cg->f; } while (0)
	absolutize(&g->logfile, c->rcdir);
	absolutize(&g->idfile, c->rcdir);
	absolutize(&g->pidfile, c->rcdir);
	if (cg->daemon.set && cg->daemon.v >= 0)
		g->daemon = cg->daemon;
	OVR_STR(logfile);
	OVR_STR(idfile);
	OVR_STR(pidfile);
	if (cg->postmaster) {
		free(g->postmaster);
		g->postmaster = xstrdup(cg->postmaster);
	}
	OVR_FLAG(bouncemail);
	OVR_FLAG(spambounce);
	OVR_FLAG(softbounce);
	OVR_FLAG(syslog);
	OVR_FLAG(invisible);
	OVR_FLAG(showdots);
#undef OVR_STR
#undef OVR_FLAG
	if (cmd->check)
		g->daemon.v = 0;
	if (g->idfile == NULL)
		g->idfile = xasprintf("%s/.fetchids", env->fmhome);
	if (g->postmaster == NULL)
		g->postmaster = xstrdup(env->uid == 0 ? "postmaster" : env->user);
	set_default_flag(&g->bouncemail, true);
	set_default_flag(&g->spambounce, false);
	set_default_flag(&g->softbounce, true);
	set_default_flag(&g->syslog, false);
	set_default_flag(&g->invisible, false);
	set_default_flag(&g->showdots, false);
}

/* A logfile that does not exist is dropped with a warning. */
static void
check_logfile(struct cfg *c, const struct cfg_cmdline *cmd,
    struct cfg_errors *warn)
{
	struct cfg_global *g = &c->g;

	if (g->logfile != NULL && cmd->nodetach) {
		cfg_errors_add(warn, 0, "%s", _("The nodetach option is in "
		    "effect, ignoring logfile option."));
		free(g->logfile);
		g->logfile = NULL;
	}
	if (g->logfile != NULL && access(g->logfile, F_OK) != 0) {
		cfg_errors_add(warn, 0,
		    _("Logfile \"%s\" does not exist, ignoring logfile option."),
		    g->logfile);
		free(g->logfile);
		g->logfile = NULL;
	}
	if (g->logfile != NULL)
		g->syslog = FLAG_FALSE;	/* a log file wins over syslog */
}

/* Fill what is still unset in O with fetchmail's built-in defaults. */
static void
builtin_defaults(struct cfg_opts *o, const struct cfg_env *env, bool active)
{
	if (o->proto == P_UNSET)
		o->proto = P_AUTO;
	if (o->auth == A_UNSET)
		o->auth = A_ANY;
	set_default_num(&o->timeout, 300);
	set_default_num(&o->interval, 0);
	set_default_num(&o->envskip, 0);
	if (o->envelope == NULL && !o->no_envelope)
		o->envelope = xstrdup("Received");
	set_default_flag(&o->dns, true);
	set_default_flag(&o->rewrite, true);
	set_default_flag(&o->stripcr, o->mda != NULL);
	set_default_flag(&o->sslcertck, true);
	set_default_num(&o->warnings, 3600);
	set_default_num(&o->fetchsizelimit, 100);
	set_default_num(&o->fastuidl, 4);
	if (o->esmtpname == NULL)
		o->esmtpname = xstrdup(env->user);
	if (o->remote == NULL)
		o->remote = xstrdup(env->user);
	if (o->localnames.n == 0)
		cfg_list_add(&o->localnames, env->user, NULL);
	if (o->smtphunt.n == 0) {
		cfg_list_add(&o->smtphunt, "localhost", NULL);
		o->smtphunt_default = true;
	}
	if ((o->proto == P_ETRN || o->proto == P_ODMR) && o->fetchdomains.n == 0) {
		cfg_list_add(&o->fetchdomains, env->hostname, NULL);
		o->fetchdomains_default = true;
	}
	if (active && o->password == NULL &&
	    (o->proto == P_ETRN || o->auth == A_SSH || o->auth == A_OTP ||
	    o->auth == A_GSSAPI || o->auth == A_KERBEROS_V4 ||
	    o->auth == A_KERBEROS_V5 || o->auth == A_EXTERNAL))
		o->password = xstrdup(o->remote);
}

static void
resolve_query(struct cfg *c, struct cfg_query *q, const struct cfg_cmdline *cmd,
    const struct cfg_env *env)
{
	struct cfg_opts	*o = &q->o;

	if (c->defaults != NULL) {
		/* every option is inherited but `aka` */
		struct cfg_list aka = o->aka;

		memset(&o->aka, 0, sizeof(o->aka));
		cfg_opts_merge(o, &c->defaults->o, false, true, true);
		cfg_list_clear(&o->aka);
		o->aka = aka;
	}
	/* rcfile paths are relative to the rcfile's directory */
	absolutize(&o->bsmtp, c->rcdir);
	absolutize(&o->sslkey, c->rcdir);
	absolutize(&o->sslcert, c->rcdir);
	absolutize(&o->sslcertfile, c->rcdir);
	absolutize(&o->sslcertpath, c->rcdir);
	cfg_opts_merge(o, &cmd->o, true, true, true);
	/* command-line paths are relative to the working directory */
	absolutize(&o->bsmtp, env->cwd);
	absolutize(&o->sslkey, env->cwd);
	absolutize(&o->sslcert, env->cwd);
	absolutize(&o->sslcertfile, env->cwd);
	absolutize(&o->sslcertpath, env->cwd);
	/* only queries that will be polled get a password looked up */
	q->polled = cmd->nhosts > 0 ? q->selected : !q->skip;
	builtin_defaults(o, env, q->polled);
}

/* Give polled queries without a password the one ~/.netrc has for the
 * poll name, else for the `via` name; the file is read once. */
static void
netrc_passwords(struct cfg *c, const struct cfg_env *env)
{
	struct cfg_query *q;
	struct cfg_opts	 *o;
	char		 *data = NULL;
	size_t		  len = 0;
	bool		  tried = false;

	for (q = c->queries; q != NULL; q = q->next) {
		o = &q->o;
		if (o->password != NULL || !q->polled)
			continue;
		if (!tried) {
			data = cfg_netrc_read(env->home, &len);
			tried = true;
		}
		if (data == NULL)
			break;
		o->password = cfg_netrc_lookup(data, len, q->pollname, o->remote);
		if (o->password == NULL && o->via != NULL)
			o->password = cfg_netrc_lookup(data, len, o->via,
			    o->remote);
	}
	if (data != NULL)
		xexplicit_bzero(data, len);
	free(data);
}

/* Resolve the port a query will use, as the reference checks it; returns
 * the port, 0 when none is set, -1 when invalid (messages added). */
static int
query_port(const struct cfg_query *q, struct cfg_errors *errs)
{
	const char	*svc = q->o.service;
	struct addrinfo	 hints, *res = NULL;
	char		*end;
	long		 v;
	int		 port = -1, r;

	if (svc == NULL)
		return 0;
	if (strcmp(svc, "kpop") == 0)
		return 1109;	/* not in every services file */
	v = strtol(svc, &end, 10);
	if (*svc != '\0' && *end == '\0') {
		if (v > 0 && v <= 65535)
			return (int)v;
	} else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		r = getaddrinfo(NULL, svc, &hints, &res);
		if (r == 0) {
			if (res->ai_family == AF_INET6)
				port = ntohs(((struct sockaddr_in6 *)res->ai_addr)->sin6_port);
			else
				port = ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port);
			freeaddrinfo(res);
			return port;
		}
		cfg_errors_add(errs, 5, "fetchmail: getaddrinfo(NULL, \"%s\") "
		    "error: %s", svc, gai_strerror(r));
	}
	cfg_errors_add(errs, 5, _("fetchmail: Cannot resolve service %s to port number."), svc);
	cfg_errors_add(errs, 5, "%s", _("fetchmail: Please specify the service as decimal port number."));
	cfg_errors_add(errs, 5, _("fetchmail: %s configuration invalid, specify positive port number for service or port"),
	    q->pollname);
	return -1;
}

/* The reference's per-query checks. */
static int
check_query(const struct cfg_query *q, struct cfg_errors *errs,
    struct cfg_errors *warn)
{
	const struct cfg_opts *o = &q->o;
	int		 port;
	size_t		 i;
	bool		 ssl = o->ssl == FLAG_TRUE;

	if (o->auth == A_KERBEROS_V4) {
		cfg_errors_add(errs, 5, "%s", _("fetchmail: KERBEROS v4 support is configured, but not compiled in."));
		return -1;
	}
	if ((port = query_port(q, errs)) < 0)
		return -1;
	if (o->proto == P_RPOP && port >= 1024) {
		cfg_errors_add(errs, 5, _("fetchmail: %s configuration invalid, RPOP requires a privileged port"),
		    q->pollname);
		return -1;
	}
	if (o->lmtp == FLAG_TRUE) {
		for (i = 0; i < o->smtphunt.n; i++) {
			const char *h = o->smtphunt.v[i], *s = strrchr(h, '/');

			if (h[0] == '/')
				continue;
			if (s == NULL || strcmp(s + 1, "25") == 0 ||
			    strcmp(s + 1, "smtp") == 0) {
				cfg_errors_add(errs, 5, _("%s configuration invalid, LMTP can't use default SMTP port"),
				    q->pollname);
				return -1;
			}
		}
	}
	if (o->proto == P_IMAP && port == 993 && !ssl)
		cfg_errors_add(warn, 0, _("fetchmail: WARNING: %s configuration invalid, you normally need --ssl for port 993/service imaps."), q->pollname);
	if (o->proto == P_IMAP && port == 143 && ssl)
		cfg_errors_add(warn, 0, _("fetchmail: WARNING: %s configuration invalid, you normally need port 993/service imaps for --ssl."), q->pollname);
	if (o->proto == P_POP3 && port == 995 && !ssl)
		cfg_errors_add(warn, 0, _("fetchmail: WARNING: %s configuration invalid, you normally need --ssl for port 995/service pop3s."), q->pollname);
	if (o->proto == P_POP3 && port == 110 && ssl)
		cfg_errors_add(warn, 0, _("fetchmail: WARNING: %s configuration invalid, you normally need port 995/service pop3s for --ssl."), q->pollname);
	return 0;
}

/* IDLE needs a single account with a single folder. */
static int
check_idle(const struct cfg *c, bool all, struct cfg_errors *errs)
{
	const struct cfg_query *q;
	size_t	n = 0;
	bool	idle = false;

	for (q = c->queries; q != NULL; q = q->next) {
		if (!all && !q->polled)
			continue;
		n++;
		if (q->o.idle == FLAG_TRUE) {
			idle = true;
			if (q->o.mailboxes.n > 1)
				n++;
		}
	}
	if (idle && n > 1) {
		cfg_errors_add(errs, 5, "%s", _("fetchmail: Error: idle mode does not work for multiple folders or accounts!"));
		return -1;
	}
	return 0;
}

/* Merge CMD and the built-in defaults into C and check the result. */
int
cfg_resolve(struct cfg *c, const struct cfg_cmdline *cmd,
    const struct cfg_env *env, struct cfg_errors *errs,
    struct cfg_errors *warn)
{
	struct cfg_query *q;

	select_hosts(c, cmd);
	resolve_globals(c, cmd, env);
	for (q = c->queries; q != NULL; q = q->next)
		resolve_query(c, q, cmd, env);
	netrc_passwords(c, env);
	/* --configdump checks every entry, a run only those it polls */
	for (q = c->queries; q != NULL; q = q->next)
		if ((cmd->configdump || q->polled) &&
		    check_query(q, errs, warn) != 0)
			return -1;
	if (check_idle(c, cmd->configdump, errs) != 0)
		return -1;
	for (q = c->queries; q != NULL; q = q->next) {
		if (!cmd->configdump && !q->polled)
			continue;
		if (q->o.localnames.n + (q->o.wildcard ? 1 : 0) > 1 &&
		    q->o.envelope != NULL && !q->o.no_envelope &&
		    strcmp(q->o.envelope, "Received") == 0) {
			cfg_errors_add(warn, 0, _("fetchmail: warning: multidrop for %s requires envelope option!"), q->pollname);
			cfg_errors_add(warn, 0, "%s", _("fetchmail: warning: Do not ask for support if all mail goes to postmaster!"));
		}
	}
	check_logfile(c, cmd, warn);
	return 0;
}
