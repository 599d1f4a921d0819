/*
 * options.c: fetchmail's command line.  Every option of 6.4.37, short and
 * long, turned into an overlay record that cfg_resolve() puts over every
 * poll entry.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "options.h"
#include "xmalloc.h"
#include "i18n.h"

enum {
	LO_SYSLOG = 256, LO_NOSYSLOG, LO_INVISIBLE, LO_SHOWDOTS, LO_PIDFILE,
	LO_POSTMASTER, LO_NOBOUNCE, LO_SOFTBOUNCE, LO_NOSOFTBOUNCE, LO_IDLE,
	LO_AUTH, LO_BADHEADER, LO_LIMITFLUSH, LO_FETCHDOMAINS, LO_SMTPNAME,
	LO_FETCHSIZELIMIT, LO_FASTUIDL, LO_BSMTP, LO_LMTP, LO_PLUGIN,
	LO_PLUGOUT, LO_SSL, LO_SSLKEY, LO_SSLCERT, LO_SSLPROTO, LO_SSLCERTCK,
	LO_NOSSLCERTCK, LO_SSLCERTFILE, LO_SSLCERTPATH, LO_SSLCOMMONNAME,
	LO_SSLFINGERPRINT, LO_PRINCIPAL, LO_TRACEPOLLS, LO_CONFIGDUMP
};

static const char shortopts[] =
    "?Vcsvd:NqL:f:i:p:UP:t:E:Q:u:akKFnl:r:S:Z:b:B:e:m:I:M:yw:D:";

static const struct option longopts[] = {
	{ "help", no_argument, NULL, '?' },
	{ "version", no_argument, NULL, 'V' },
	{ "check", no_argument, NULL, 'c' },
	{ "silent", no_argument, NULL, 's' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "daemon", required_argument, NULL, 'd' },
	{ "nodetach", no_argument, NULL, 'N' },
	{ "quit", no_argument, NULL, 'q' },
	{ "logfile", required_argument, NULL, 'L' },
	{ "syslog", no_argument, NULL, LO_SYSLOG },
	{ "nosyslog", no_argument, NULL, LO_NOSYSLOG },
	{ "invisible", no_argument, NULL, LO_INVISIBLE },
	{ "showdots", no_argument, NULL, LO_SHOWDOTS },
	{ "fetchmailrc", required_argument, NULL, 'f' },
	{ "idfile", required_argument, NULL, 'i' },
	{ "pidfile", required_argument, NULL, LO_PIDFILE },
	{ "postmaster", required_argument, NULL, LO_POSTMASTER },
	{ "nobounce", no_argument, NULL, LO_NOBOUNCE },
	{ "softbounce", no_argument, NULL, LO_SOFTBOUNCE },
	{ "nosoftbounce", no_argument, NULL, LO_NOSOFTBOUNCE },
	{ "protocol", required_argument, NULL, 'p' },
	{ "proto", required_argument, NULL, 'p' },
	{ "uidl", no_argument, NULL, 'U' },
	{ "idle", no_argument, NULL, LO_IDLE },
	{ "port", required_argument, NULL, 'P' },
	{ "service", required_argument, NULL, 'P' },
	{ "auth", required_argument, NULL, LO_AUTH },
	{ "timeout", required_argument, NULL, 't' },
	{ "envelope", required_argument, NULL, 'E' },
	{ "qvirtual", required_argument, NULL, 'Q' },
	{ "bad-header", required_argument, NULL, LO_BADHEADER },
	{ "user", required_argument, NULL, 'u' },
	{ "username", required_argument, NULL, 'u' },
	{ "all", no_argument, NULL, 'a' },
	{ "fetchall", no_argument, NULL, 'a' },
	{ "nokeep", no_argument, NULL, 'K' },
	{ "keep", no_argument, NULL, 'k' },
	{ "flush", no_argument, NULL, 'F' },
	{ "limitflush", no_argument, NULL, LO_LIMITFLUSH },
	{ "norewrite", no_argument, NULL, 'n' },
	{ "limit", required_argument, NULL, 'l' },
	{ "warnings", required_argument, NULL, 'w' },
	{ "folder", required_argument, NULL, 'r' },
	{ "smtphost", required_argument, NULL, 'S' },
	{ "fetchdomains", required_argument, NULL, LO_FETCHDOMAINS },
	{ "smtpaddress", required_argument, NULL, 'D' },
	{ "smtpname", required_argument, NULL, LO_SMTPNAME },
	{ "antispam", required_argument, NULL, 'Z' },
	{ "batchlimit", required_argument, NULL, 'b' },
	{ "fetchlimit", required_argument, NULL, 'B' },
	{ "fetchsizelimit", required_argument, NULL, LO_FETCHSIZELIMIT },
	{ "fastuidl", required_argument, NULL, LO_FASTUIDL },
	{ "expunge", required_argument, NULL, 'e' },
	{ "mda", required_argument, NULL, 'm' },
	{ "bsmtp", required_argument, NULL, LO_BSMTP },
	{ "lmtp", no_argument, NULL, LO_LMTP },
	{ "interface", required_argument, NULL, 'I' },
	{ "monitor", required_argument, NULL, 'M' },
	{ "plugin", required_argument, NULL, LO_PLUGIN },
	{ "plugout", required_argument, NULL, LO_PLUGOUT },
	{ "ssl", no_argument, NULL, LO_SSL },
	{ "sslkey", required_argument, NULL, LO_SSLKEY },
	{ "sslcert", required_argument, NULL, LO_SSLCERT },
	{ "sslproto", required_argument, NULL, LO_SSLPROTO },
	{ "sslcertck", no_argument, NULL, LO_SSLCERTCK },
	{ "nosslcertck", no_argument, NULL, LO_NOSSLCERTCK },
	{ "sslcertfile", required_argument, NULL, LO_SSLCERTFILE },
	{ "sslcertpath", required_argument, NULL, LO_SSLCERTPATH },
	{ "sslcommonname", required_argument, NULL, LO_SSLCOMMONNAME },
	{ "sslfingerprint", required_argument, NULL, LO_SSLFINGERPRINT },
	{ "principal", required_argument, NULL, LO_PRINCIPAL },
	{ "tracepolls", no_argument, NULL, LO_TRACEPOLLS },
	{ "configdump", no_argument, NULL, LO_CONFIGDUMP },
	{ "yydebug", no_argument, NULL, 'y' },
	{ NULL, 0, NULL, 0 }
};

/* One line per option: our own wording, the reference's option set. */
static const char *const usage_lines[] = {
	N_("  -?, --help        show this summary and exit"),
	N_("  -V, --version     show version and the resolved configuration"),
	N_("  -c, --check       only count waiting messages, fetch nothing"),
	N_("  -s, --silent      print errors only"),
	N_("  -v, --verbose     more output (twice: debugging output)"),
	N_("  -d, --daemon      poll every N seconds in the background"),
	N_("  -N, --nodetach    stay in the foreground as a daemon"),
	N_("  -q, --quit        stop the running fetchmail daemon"),
	N_("  -L, --logfile     append log messages to this file"),
	N_("      --syslog      send log messages to syslog"),
	N_("      --nosyslog    do not use syslog"),
	N_("      --invisible   add no Received: header, pretend to be the server"),
	N_("  -f, --fetchmailrc read this run-control file (- for stdin)"),
	N_("  -i, --idfile      keep seen message UIDs in this file"),
	N_("      --pidfile     use this PID/lock file"),
	N_("      --postmaster  last-resort recipient of undeliverable mail"),
	N_("      --nobounce    send bounces to the postmaster, not the sender"),
	N_("      --nosoftbounce delete mail the listener refuses permanently"),
	N_("      --softbounce  keep mail the listener refuses (default)"),
	N_("  -I, --interface   poll only when this interface/address is up"),
	N_("  -M, --monitor     poll only after traffic on this interface"),
	N_("      --ssl         connect with TLS from the start"),
	N_("      --sslkey      client private key file"),
	N_("      --sslcert     client certificate file"),
	N_("      --sslcertck   verify the server certificate (default)"),
	N_("      --nosslcertck do not verify the server certificate (unsafe)"),
	N_("      --sslcertfile file of trusted CA certificates"),
	N_("      --sslcertpath directory of trusted CA certificates"),
	N_("      --sslcommonname  name the server certificate must carry"),
	N_("      --sslfingerprint required fingerprint of the server certificate"),
	N_("      --sslproto    TLS protocol versions to allow (see the manual)"),
	N_("      --plugin      command to run as the server connection"),
	N_("      --plugout     command to run as the SMTP connection"),
	N_("      --bad-header {reject|accept}"),
	N_("                    what to do with messages whose header is malformed"),
	N_("  -p, --proto[col]  protocol: auto, pop2, pop3, apop, rpop, kpop, sdps, imap, etrn, odmr"),
	N_("  -U, --uidl        track seen messages by UIDL (POP3)"),
	N_("      --idle        wait for new mail with IMAP IDLE"),
	N_("      --port        server port (old name of --service)"),
	N_("  -P, --service     server service name or port number"),
	N_("      --auth        authentication method (see the manual)"),
	N_("  -t, --timeout     seconds to wait for a server reply"),
	N_("  -E, --envelope    header that carries the envelope recipient"),
	N_("  -Q, --qvirtual    prefix to strip from local user names"),
	N_("      --principal   Kerberos service principal"),
	N_("      --tracepolls  name the poll in the Received: header"),
	N_("  -u, --user[name]  login name on the server"),
	N_("  -a, --[fetch]all  fetch old messages as well as new ones"),
	N_("  -K, --nokeep      delete messages from the server once delivered"),
	N_("  -k, --keep        leave messages on the server"),
	N_("  -F, --flush       delete old messages from the server"),
	N_("      --limitflush  delete messages over the size limit"),
	N_("  -n, --norewrite   leave header addresses as they are"),
	N_("  -l, --limit       skip messages larger than this many bytes"),
	N_("  -w, --warnings    seconds between oversized-message warnings"),
	N_("  -S, --smtphost    hosts to forward mail to (comma-separated)"),
	N_("      --fetchdomains domains to fetch mail for (ETRN/ODMR)"),
	N_("  -D, --smtpaddress domain to qualify recipient addresses with"),
	N_("      --smtpname    full recipient address user@domain"),
	N_("  -Z, --antispam,   listener reply codes that mean spam"),
	N_("  -b, --batchlimit  messages per SMTP connection"),
	N_("  -B, --fetchlimit  messages per poll"),
	N_("      --fetchsizelimit message sizes fetched at once"),
	N_("      --fastuidl    how often to look up UIDLs by binary search"),
	N_("  -e, --expunge     deletions between expunges"),
	N_("  -m, --mda         deliver through this command"),
	N_("      --bsmtp       write batch SMTP to this file"),
	N_("      --lmtp        deliver with LMTP (RFC 2033)"),
	N_("  -r, --folder      remote folders to fetch (comma-separated)"),
	N_("      --showdots    print progress dots, also into log files"),
};

/* Print the option summary. */
void
options_usage(FILE *f)
{
	size_t	i;

	fprintf(f, "%s\n", _("usage:  fetchmail [options] [server ...]"));
	fprintf(f, "%s\n", _("  Options are as follows:"));
	for (i = 0; i < sizeof(usage_lines) / sizeof(usage_lines[0]); i++)
		fprintf(f, "%s\n", _(usage_lines[i]));
}

/* Parse a number as the reference does (strtol, base 0); -1 on error
 * after printing why. */
static int
parse_number(const char *s, int *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (end == s || *end != '\0') {
		fprintf(stderr, _("String '%s' is not a valid number string.\n"), s);
		return -1;
	}
	if (errno == ERANGE || v > INT_MAX) {
		fprintf(stderr, _("Value of string '%s' is larger than %d.\n"),
		    s, INT_MAX);
		return -1;
	}
	if (v < INT_MIN) {
		fprintf(stderr, _("Value of string '%s' is smaller than %d.\n"),
		    s, INT_MIN);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Split a comma-separated argument into a list. */
static void
split_list(struct cfg_list *l, const char *arg)
{
	char	*copy = xstrdup(arg), *p, *save = NULL;

	cfg_list_clear(l);
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
		cfg_list_add(l, p, NULL);
	free(copy);
}

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* Options that take a number; returns -1 on a bad number. */
static int
number_option(int c, const char *arg, struct options *opt)
{
	struct cfg_opts	*o = &opt->cl.o;
	struct cfg_num	*n;
	int		 v;

	if (parse_number(arg, &v) != 0)
		return -1;
	switch (c) {
	case 'd': n = &opt->cl.g.daemon; break;
	case 't':
		if (v == 0 || v == -1)
			return 0;	/* both mean the default */
		n = &o->timeout;
		break;
	case 'l': n = &o->limit; break;
	case 'w': n = &o->warnings; break;
	case 'b': n = &o->batchlimit; break;
	case 'B': n = &o->fetchlimit; break;
	case 'e': n = &o->expunge; break;
	case LO_FETCHSIZELIMIT: n = &o->fetchsizelimit; break;
	case LO_FASTUIDL: n = &o->fastuidl; break;
	default: return -1;
	}
	n->v = v;
	n->set = true;
	return 0;
}

/* -Z: comma-separated reply codes. */
static int
antispam_option(const char *arg, struct cfg_opts *o)
{
	char	*copy = xstrdup(arg), *p, *save = NULL;
	int	 v, r = 0;

	free(o->antispam);
	o->antispam = NULL;
	o->nantispam = 0;
	o->antispam_set = true;
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if ((r = parse_number(p, &v)) != 0)
			break;
		o->antispam = xreallocarray(o->antispam, o->nantispam + 1,
		    sizeof(int));
		o->antispam[o->nantispam++] = v;
	}
	free(copy);
	return r;
}

/* Options that set a string of the per-query overlay. */
static bool
string_option(int c, const char *arg, struct cfg_opts *o)
{
	char	**dst;

	switch (c) {
	case 'P': dst = &o->service; break;
	case 'E': dst = &o->envelope; break;
	case 'Q': dst = &o->qvirtual; break;
	case 'u': dst = &o->remote; break;
	case 'D': dst = &o->smtpaddress; break;
	case 'm': dst = &o->mda; break;
	case 'M': dst = &o->monitor; break;
	case LO_SMTPNAME: dst = &o->smtpname; break;
	case LO_BSMTP: dst = &o->bsmtp; break;
	case LO_PLUGIN: dst = &o->plugin; break;
	case LO_PLUGOUT: dst = &o->plugout; break;
	case LO_SSLKEY: dst = &o->sslkey; break;
	case LO_SSLCERT: dst = &o->sslcert; break;
	case LO_SSLPROTO: dst = &o->sslproto; break;
	case LO_SSLCERTFILE: dst = &o->sslcertfile; break;
	case LO_SSLCERTPATH: dst = &o->sslcertpath; break;
	case LO_SSLCOMMONNAME: dst = &o->sslcommonname; break;
	case LO_SSLFINGERPRINT: dst = &o->sslfingerprint; break;
	case LO_PRINCIPAL: dst = &o->principal; break;
	default: return false;
	}
	set_str(dst, arg);
	return true;
}

/* Options that set a flag of the per-query overlay. */
static bool
flag_option(int c, struct cfg_opts *o)
{
	switch (c) {
	case 'U': o->uidl = FLAG_TRUE; break;
	case 'a': o->fetchall = FLAG_TRUE; break;
	case 'K': o->keep = FLAG_FALSE; break;
	case 'k': o->keep = FLAG_TRUE; break;
	case 'F': o->flush = FLAG_TRUE; break;
	case 'n': o->rewrite = FLAG_FALSE; break;
	case LO_IDLE: o->idle = FLAG_TRUE; break;
	case LO_LIMITFLUSH: o->limitflush = FLAG_TRUE; break;
	case LO_LMTP: o->lmtp = FLAG_TRUE; break;
	case LO_SSL: o->ssl = FLAG_TRUE; break;
	case LO_SSLCERTCK: o->sslcertck = FLAG_TRUE; break;
	case LO_NOSSLCERTCK: o->sslcertck = FLAG_FALSE; break;
	case LO_TRACEPOLLS: o->tracepolls = FLAG_TRUE; break;
	default: return false;
	}
	return true;
}

/* Options that set a global (`set ...`) value. */
static bool
global_option(int c, const char *arg, struct options *opt)
{
	struct cfg_global *g = &opt->cl.g;

	switch (c) {
	case 'L': set_str(&g->logfile, arg); break;
	case 'i': set_str(&g->idfile, arg); break;
	case LO_PIDFILE: set_str(&g->pidfile, arg); break;
	case LO_POSTMASTER: set_str(&g->postmaster, arg); break;
	case LO_SYSLOG: g->syslog = FLAG_TRUE; break;
	case LO_NOSYSLOG: g->syslog = FLAG_FALSE; break;
	case LO_INVISIBLE: g->invisible = FLAG_TRUE; break;
	case LO_SHOWDOTS: g->showdots = FLAG_TRUE; break;
	case LO_NOBOUNCE: g->bouncemail = FLAG_FALSE; break;
	case LO_SOFTBOUNCE: g->softbounce = FLAG_TRUE; break;
	case LO_NOSOFTBOUNCE: g->softbounce = FLAG_FALSE; break;
	default: return false;
	}
	return true;
}

/* Options with their own checks; returns 0, or -1 after a message. */
static int
special_option(int c, const char *arg, struct options *opt, int *sinks)
{
	struct cfg_opts	*o = &opt->cl.o;

	switch (c) {
	case 'p':
		if (cfg_proto_parse(arg) == P_UNSET) {
			fprintf(stderr, _("Invalid protocol `%s' specified.\n"), arg);
			return -1;
		}
		cfg_set_proto(o, cfg_proto_parse(arg));
		if (cfg_proto_parse(arg) == P_KPOP)
			o->auth = A_KERBEROS_V5;
		return 0;
	case LO_AUTH:
		if ((o->auth = cfg_auth_parse(arg, true)) == A_UNSET) {
			fprintf(stderr, _("Invalid authentication `%s' specified.\n"), arg);
			return -1;
		}
		if (o->auth == A_ANY)
			o->auth = A_UNSET;	/* `any` overrides nothing */
		return 0;
	case LO_BADHEADER:
		if (strcmp(arg, "accept") == 0)
			o->badheader = FLAG_TRUE;
		else if (strcmp(arg, "reject") == 0)
			o->badheader = FLAG_UNSET;	/* the default */
		else {
			fprintf(stderr, _("Invalid bad-header policy `%s' specified.\n"), arg);
			return -1;
		}
		return 0;
	case 'I':
		if (cfg_interface_check(arg) != NULL) {
			/* the reference exits at once, without the usage */
			fprintf(stderr, "fetchmail: %s\n", cfg_interface_check(arg));
			opt->fatal = true;
			return -1;
		}
		set_str(&o->interface, arg);
		return 0;
	case 'r': split_list(&o->mailboxes, arg); return 0;
	case 'S': split_list(&o->smtphunt, arg); (*sinks)++; return 0;
	case LO_FETCHDOMAINS: split_list(&o->fetchdomains, arg); return 0;
	case 'Z': return antispam_option(arg, o);
	default: return -1;
	}
}

/* Handle one option character C; returns -1 on a usage error. */
static int
one_option(int c, const char *arg, struct options *opt, int *sinks)
{
	switch (c) {
	case '?': opt->help = true; return 0;
	case 'V': opt->version = true; return 0;
	case 'c': opt->cl.check = true; return 0;
	case 's': opt->silent = true; opt->verbose = 0; return 0;
	case 'v': opt->silent = false; opt->verbose++; return 0;
	case 'N': opt->cl.nodetach = true; return 0;
	case 'q': opt->quit = true; return 0;
	case 'f': opt->rcfile = arg; return 0;
	case 'y': opt->yydebug = true; return 0;
	case LO_CONFIGDUMP: opt->configdump = opt->cl.configdump = true; return 0;
	case 'd': case 't': case 'l': case 'w': case 'b': case 'B': case 'e':
	case LO_FETCHSIZELIMIT: case LO_FASTUIDL:
		return number_option(c, arg, opt);
	}
	if (c == 'm' || c == LO_BSMTP)
		(*sinks)++;
	if (string_option(c, arg, &opt->cl.o) || flag_option(c, &opt->cl.o) ||
	    global_option(c, arg, opt))
		return 0;
	return special_option(c, arg, opt, sinks);
}

/* Parse ARGV into OPT.  Returns -1 to go on, or an exit status. */
int
options_parse(int argc, char **argv, struct options *opt)
{
	int	c, idx, sinks = 0, bad = 0;

	memset(opt, 0, sizeof(*opt));
	opterr = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &idx)) != -1) {
		if (c == '?' && optopt != 0 && optopt != '?') {
			bad = 1;	/* getopt already said what */
			continue;
		}
		if (c == '?' && optind > 0 && argv[optind - 1] != NULL &&
		    strcmp(argv[optind - 1], "-?") != 0 &&
		    strcmp(argv[optind - 1], "--help") != 0 &&
		    strncmp(argv[optind - 1], "--h", 3) != 0) {
			bad = 1;
			continue;
		}
		if (one_option(c, optarg, opt, &sinks) != 0)
			bad = 1;
		if (opt->fatal)
			return 5;
	}
	if (sinks > 1)
		bad = 1;
	if (bad) {
		options_usage(stderr);
		return 5;
	}
	if (opt->help) {
		options_usage(stdout);
		return 0;
	}
	opt->cl.hosts = argv + optind;
	opt->cl.nhosts = (size_t)(argc - optind);
	return -1;
}

/* Release what options_parse() allocated. */
void
options_free(struct options *opt)
{
	cfg_opts_free(&opt->cl.o);
	free(opt->cl.g.logfile);
	free(opt->cl.g.idfile);
	free(opt->cl.g.pidfile);
	free(opt->cl.g.postmaster);
	free(opt->cl.g.properties);
}
