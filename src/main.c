/*
 * main.c: entry point.  Parse the command line, read and resolve the
 * rcfile, then dump it, show it, or run the polls, and map the outcome to
 * fetchmail's exit status.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "cfg_resolve.h"
#include "cfg_show.h"
#include "daemon.h"
#include "driver.h"
#include "lock.h"
#include "log.h"
#include "env.h"
#include "options.h"
#include "password.h"
#include "rcload.h"
#include "session.h"
#include "xmalloc.h"
#include "i18n.h"

/* One run: what the polling part needs. */
struct run_ctx {
	struct options		*opt;
	struct fm_env		*fe;
	struct cfg		*c;
	int			 argc;
	char			**argv;
	char			*lockpath;
	struct timespec		 mtime;		/* of the rcfile when read */
};

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

/* Poll every active query that is due in CYCLE. */
static int
poll_all(const struct cfg *c, const struct options *opt,
    const struct fm_env *fe, unsigned long cycle)
{
	struct driver_opts	 d;

	memset(&d, 0, sizeof(d));
	d.hostname = fe->hostname;
	d.user = fe->user;
	d.verbose = opt->silent ? -1 : opt->verbose;
	d.check = opt->cl.check;
	d.named = opt->cl.nhosts > 0;
	d.cycle = cycle;
	return driver_run(c, &d);
}

/* Whether every argument is one a running daemon lets a second
 * invocation give (-v, -s and their long forms). */
static bool
only_safe_args(int argc, char **argv)
{
	int	i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--verbose") == 0 || strcmp(a, "--silent") == 0)
			continue;
		if (a[0] != '-' || a[1] == '-' || a[1] == '\0' ||
		    strspn(a + 1, "vs") != strlen(a + 1))
			return false;
	}
	return true;
}

/* Whether the last argument asks to stop the running fetchmail. */
static bool
quit_is_last(int argc, char **argv)
{
	const char *a = argv[argc - 1];

	return argc > 1 && (strcmp(a, "--quit") == 0 ||
	    (a[0] == '-' && a[1] != '-' && strchr(a, 'q') != NULL));
}

/* Wait up to ten seconds for PID to go away. */
static void
wait_gone(pid_t pid)
{
	struct timespec	ts = { 0, 50 * 1000 * 1000 };
	int		i;

	for (i = 0; i < 200 && kill(pid, 0) == 0; i++)
		nanosleep(&ts, NULL);
}

/* The other-instance rules of fetchmail 6.4.37: -1 to go on (*own is
 * set when the lock already holds our pid: a restarted daemon), else
 * the exit status. */
static int
instance_check(const struct run_ctx *r, bool *own)
{
	const struct options *opt = r->opt;
	pid_t	pid;
	bool	bg;
	int	st;

	*own = false;
	if ((st = lock_probe(r->lockpath, &pid, &bg)) < 0)
		return PS_EXCLUDE;
	if (opt->quit) {
		if (st == 1) {
			if (!quit_is_last(r->argc, r->argv))
				return -1;
			log_err("%s", _("no other fetchmail is running"));
			return PS_EXCLUDE;
		}
		if (pid == getpid()) {
			*own = true;
			return -1;
		}
		if (kill(pid, SIGTERM) != 0) {
			log_err(bg ? _("error killing background fetchmail at "
			    "%ld; bailing out.") : _("error killing foreground "
			    "fetchmail at %ld; bailing out."), (long)pid);
			return PS_EXCLUDE;
		}
		if (!opt->silent)
			log_err(bg ? _("background fetchmail at %ld killed.") :
			    _("foreground fetchmail at %ld killed."), (long)pid);
		if (quit_is_last(r->argc, r->argv))
			return PS_SUCCESS;
		wait_gone(pid);
		return -1;
	}
	if (st == 1)
		return -1;
	if (pid == getpid()) {
		*own = true;
		return -1;
	}
	if (opt->cl.check) {
		log_err("%s", _("can't check mail while another fetchmail to "
		    "same host is running."));
		return PS_EXCLUDE;
	}
	if (opt->cl.nhosts > 0) {
		log_err(_("can't poll specified hosts with another fetchmail "
		    "running at %ld."), (long)pid);
		return PS_EXCLUDE;
	}
	if (!bg) {
		log_err(_("another foreground fetchmail is running at %ld."),
		    (long)pid);
		return PS_EXCLUDE;
	}
	if (!only_safe_args(r->argc, r->argv)) {
		int i;

		log_err("%s", _("can't accept options while a background "
		    "fetchmail is running."));
		log_err_plain(_("argc = %d, arg list:"), r->argc);
		for (i = 1; i < r->argc; i++)
			log_err_plain(_("arg %d = \"%s\""), i, r->argv[i]);
		return PS_EXCLUDE;
	}
	if (kill(pid, SIGUSR1) != 0) {
		log_err(_("elder sibling at %ld died mysteriously."),
		    (long)pid);
		return PS_UNDEFINED;
	}
	if (!opt->silent)
		log_err(_("background fetchmail at %ld awakened."), (long)pid);
	return PS_SUCCESS;
}

/* Logging as the configuration says: a logfile takes stdout and
 * stderr (it exists: the resolve step dropped a missing one), else
 * syslog if asked for. */
static void
setup_logging(const struct cfg *c)
{
	if (c->g.logfile != NULL) {
		if (log_open_file(c->g.logfile) != 0)
			log_err(_("cannot open logfile \"%s\": %s"),
			    c->g.logfile, strerror(errno));
	} else if (c->g.syslog == FLAG_TRUE)
		log_open_syslog();
}

/* The current time as the reference prints it in daemon messages. */
static char *
now_text(char *buf, size_t size)
{
	time_t		 t = time(NULL);
	struct tm	*tm = localtime(&t);

	/* %c: the locale's own form, as the reference prints it */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-y2k"
	if (tm == NULL || strftime(buf, size, "%c", tm) == 0)
		snprintf(buf, size, "%ld", (long)t);
#pragma GCC diagnostic pop
	return buf;
}

/* Whether every query to be polled has a password: a restarted daemon
 * cannot ask for one.  The missing ones are added to ERRS. */
static bool
passwords_known(const struct cfg *c, struct cfg_errors *errs)
{
	const struct cfg_query	*q;
	bool			 ok = true;

	for (q = c->queries; q != NULL; q = q->next)
		if (q->polled && q->o.password == NULL) {
			cfg_errors_add(errs, PS_AUTHFAIL,
			    _("can't find a password for %s@%s."),
			    q->o.remote, q->pollname);
			ok = false;
		}
	return ok;
}

/* Whether the rcfile changed since it was read; a changed file that
 * does not load is reported once and the running configuration kept
 * (the reference would die silently in its restart). */
static bool
rcfile_changed(struct run_ctx *r)
{
	struct stat		 sb;
	struct cfg		*c;
	struct cfg_errors	 errs = { 0 }, warn = { 0 };
	bool			 ok, missing;

	if (strcmp(r->c->rcfile, "-") == 0 || stat(r->c->rcfile, &sb) != 0 ||
	    (sb.st_mtim.tv_sec == r->mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == r->mtime.tv_nsec))
		return false;
	r->mtime = sb.st_mtim;
	c = cfg_new();
	ok = rcload(c, r->c->rcfile, r->fe, false, false, &errs) == 0 &&
	    cfg_resolve(c, &r->opt->cl, &r->fe->env, &errs, &warn) == 0 &&
	    rc_secrecy_check(c->g.idfile, &missing, &errs) == 0 &&
	    passwords_known(c, &errs);
	if (!ok) {
		size_t i;

		for (i = 0; i < errs.n; i++)
			log_err_plain("%s", errs.msg[i]);
		log_err(_("%s changed but cannot be used; going on with the "
		    "configuration read before"), r->c->rcfile);
	}
	cfg_errors_free(&errs);
	cfg_errors_free(&warn);
	cfg_free(c);
	return ok;
}

/* Restart the program on the changed rcfile: same pid, lock kept. */
static void
restart(const struct run_ctx *r)
{
	sigset_t	all;

	log_info(_("restarting fetchmail (%s changed)"), r->c->rcfile);
	log_close();
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);	/* pending ones survive exec */
	(void)chdir(r->fe->cwd);		/* for relative arguments */
	execv("/proc/self/exe", r->argv);
	execvp(r->argv[0], r->argv);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	log_err(_("cannot restart fetchmail: %s"), strerror(errno));
}

/* Poll until told to stop (or once when INTERVAL is 0); the status. */
static int
poll_loop(struct run_ctx *r, long interval)
{
	const struct options *opt = r->opt;
	unsigned long	 cycle;
	char		 when[128];
	int		 st, sig;

	for (cycle = 0;; cycle++) {
		if (cycle > 0 && rcfile_changed(r))
			restart(r);
		st = poll_all(r->c, opt, r->fe, cycle);
		daemon_set_status(st);
		if (interval <= 0) {
			log_verbose(_("normal termination, status %d"), st);
			return st;
		}
		daemon_polling(false);
		if (opt->verbose >= 1 || (!opt->silent && log_on_terminal()))
			log_info(_("sleeping at %s for %ld seconds"),
			    now_text(when, sizeof(when)), interval);
		sig = daemon_sleep((unsigned int)interval);
		if (sig < 0) {
			log_info(_("terminated with signal %d"), -sig);
			return daemon_status();
		}
		daemon_polling(true);
		if (sig > 0)
			log_info(_("awakened by signal %d"), sig);
		if (opt->verbose >= 1 || (!opt->silent && log_on_terminal()))
			log_info(_("awakened at %s"),
			    now_text(when, sizeof(when)));
		(void)res_init();
	}
}

/* Take the lock, detach when a daemon, set up logging and signals,
 * then poll; returns the exit status. */
static int
act(struct run_ctx *r)
{
	struct cfg *c = r->c;
	long	 interval = c->g.daemon.v > 0 ? c->g.daemon.v : 0;
	sigset_t none;
	bool	 own;
	int	 st;

	r->lockpath = lock_default_path(c->g.pidfile, r->fe);
	if ((st = instance_check(r, &own)) >= 0)
		return st;
	if (active_queries(c, r->opt->cl.nhosts > 0) == 0 &&
	    c->queries == NULL) {
		fprintf(stderr, "fetchmail: %s\n",
		    _("no mailservers have been specified."));
		return PS_SYNTAX;
	}
	if ((st = ask_passwords(c)) != 0)
		return st;
	if (interval > 0 && !own && !r->opt->cl.nodetach && getppid() != 1 &&
	    daemon_detach() != 0)
		return PS_IOERR;
	if (interval > 0 && own && !r->opt->cl.nodetach)
		(void)chdir("/");	/* restarted: as detached before */
	umask(077);
	setup_logging(c);
	if (own)
		lock_adopt(r->lockpath);
	else if (lock_take(r->lockpath, interval) != 0)
		return PS_EXCLUDE;
	atexit(lock_release);
	log_set_verbosity(r->opt->silent ? -1 : r->opt->verbose);
	daemon_signals(getuid() == 0, c->g.syslog == FLAG_TRUE &&
	    c->g.logfile == NULL);
	daemon_polling(true);
	sigemptyset(&none);	/* a restart comes with signals blocked */
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (interval > 0)
		log_info(_("starting fetchmail %s daemon"),
		    FETCHMAIL_COMPAT_VERSION);
	st = poll_loop(r, interval);
	log_close();
	lock_release();
	return st;
}

/* Load, resolve and act on the configuration; returns the exit status. */
static int
run(struct options *opt, struct fm_env *fe, int argc, char **argv)
{
	struct run_ctx		 r;
	struct cfg		*c;
	struct cfg_errors	 errs = { 0 }, warn = { 0 };
	struct stat		 sb;
	const char		*path = opt->rcfile ? opt->rcfile : fe->rcfile;
	int			 status;

	memset(&r, 0, sizeof(r));
	if (strcmp(path, "-") != 0 && stat(path, &sb) == 0)
		r.mtime = sb.st_mtim;	/* before reading: a change during
					 * the read shows as a change */
	c = cfg_new();
	status = rcload(c, path, fe, opt->version, opt->yydebug, &errs);
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
		else {
			r.opt = opt;
			r.fe = fe;
			r.c = c;
			r.argc = argc;
			r.argv = argv;
			status = act(&r);
		}
	}
	free(r.lockpath);
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
	/* FETCHMAIL_LOCALEDIR lets the test suite use uninstalled catalogs. */
	bindtextdomain(PACKAGE, getenv("FETCHMAIL_LOCALEDIR") != NULL ?
	    getenv("FETCHMAIL_LOCALEDIR") : LOCALEDIR);
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
	status = run(&opt, &fe, argc, argv);
	fm_env_free(&fe);
	options_free(&opt);
	return status;
}
