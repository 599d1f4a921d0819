/*
 * main.c: entry point.  Parse the command line, read and resolve the
 * rcfile, then dump it, show it, or run the polls, and map the outcome to
 * fetchmail's exit status.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "cfg_resolve.h"
#include "cfg_show.h"
#include "driver.h"
#include "log.h"
#include "env.h"
#include "options.h"
#include "rcload.h"
#include "xmalloc.h"
#include "i18n.h"

static void	print_messages(const struct cfg_errors *);

/* Print collected messages, one per line, to stderr. */
static void
print_messages(const struct cfg_errors *e)
{
	size_t	i;

	for (i = 0; i < e->n; i++)
		fprintf(stderr, "%s\n", e->msg[i]);
}

/* Count the queries that a run would poll. */
static size_t
active_queries(const struct cfg *c, bool named)
{
	const struct cfg_query *q;
	size_t	n = 0;

	for (q = c->queries; q != NULL; q = q->next)
		if (named ? q->selected : !q->skip)
			n++;
	return n;
}

/* Poll every active query once (daemon mode comes later). */
static int
poll_all(const struct cfg *c, const struct options *opt,
    const struct fm_env *fe)
{
	struct driver_opts	 d;

	memset(&d, 0, sizeof(d));
	d.hostname = fe->hostname;
	d.user = fe->user;
	d.verbose = opt->silent ? -1 : opt->verbose;
	d.check = opt->cl.check;
	d.named = opt->cl.nhosts > 0;
	log_set_verbosity(d.verbose);
	if (c->g.daemon.set && c->g.daemon.v > 0)
		log_err("%s", _("daemon mode is not implemented in this build "
		    "yet; polling once"));
	return driver_run(c, &d);
}

/* Load, resolve and act on the configuration; returns the exit status. */
static int
run(struct options *opt, struct fm_env *fe)
{
	struct cfg		*c;
	struct cfg_errors	 errs = { 0 }, warn = { 0 };
	int			 status;

	c = cfg_new();
	status = rcload(c, opt->rcfile ? opt->rcfile : fe->rcfile, fe,
	    opt->version, opt->yydebug, &errs);
	if (status == 0 && cfg_resolve(c, &opt->cl, &fe->env, &errs, &warn) != 0)
		status = errs.status ? errs.status : 5;
	if (status == 0 && !opt->version) {
		bool missing;

		status = rc_secrecy_check(c->g.idfile, &missing, &errs);
	}
	print_messages(&warn);
	print_messages(&errs);
	if (status == 0) {
		if (opt->configdump)
			cfg_dump(stdout, c);
		else if (opt->version)
			status = cfg_show(stdout, c, fe, opt->verbose);
		else if (active_queries(c, opt->cl.nhosts > 0) == 0 &&
		    c->queries == NULL) {
			fprintf(stderr, "fetchmail: %s\n",
			    _("no mailservers have been specified."));
			status = 5;
		} else
			status = poll_all(c, opt, fe);
	}
	cfg_errors_free(&errs);
	cfg_errors_free(&warn);
	cfg_free(c);
	return status;
}

int
main(int argc, char **argv)
{
	struct options	opt;
	struct fm_env	fe;
	int		status;

	signal(SIGPIPE, SIG_IGN);	/* a vanished peer is an error, not death */
	setlocale(LC_ALL, "");
	bindtextdomain(PACKAGE, LOCALEDIR);
	textdomain(PACKAGE);

	if ((status = options_parse(argc, argv, &opt)) >= 0) {
		options_free(&opt);
		return status;
	}
	if (fm_env_init(&fe) != 0) {
		options_free(&opt);
		return 23;
	}
	if (fe.env.uid == 0)
		fprintf(stderr, "fetchmail: %s\n",
		    _("WARNING: Running as root is discouraged."));
	if (opt.version)
		cfg_show_banner(stdout);
	status = run(&opt, &fe);
	fm_env_free(&fe);
	options_free(&opt);
	return status;
}
