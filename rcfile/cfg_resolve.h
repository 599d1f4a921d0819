/*
 * cfg_resolve.h: turning parsed records into the effective configuration.
 */
#ifndef CFG_RESOLVE_H
#define CFG_RESOLVE_H

#include <stdio.h>
#include <sys/types.h>
#include "cfg.h"

/* The features configdump announces, in the reference's words: what this
 * build has (the default build announces what 6.4.37's Debian build does,
 * so fetchmailconf offers the same choices). */
#ifdef POP2_ENABLE
#define CFG_FEATURES_POP2 "'pop2',"
#else
#define CFG_FEATURES_POP2 ""
#endif
#ifdef HAVE_GSSAPI
#define CFG_FEATURES_GSS "'gssapi',"
#else
#define CFG_FEATURES_GSS ""
#endif
#define CFG_FEATURES CFG_FEATURES_POP2 "'pop3','imap'," CFG_FEATURES_GSS \
	"'sdps','etrn','odmr','ssl',"

/* Facts about the invoking user and this host that defaults depend on. */
struct cfg_env {
	const char	*user;		/* invoking user name */
	const char	*home;		/* home directory */
	const char	*fmhome;	/* FETCHMAILHOME or home */
	bool		 fmhome_env;	/* FETCHMAILHOME was set */
	uid_t		 uid;
	const char	*hostname;	/* this host's (qualified) name */
	const char	*cwd;		/* for command-line relative paths */
};

/* Options given on the command line, overriding every entry. */
struct cfg_cmdline {
	struct cfg_opts		 o;
	struct cfg_global	 g;
	char			**hosts;	/* server names given */
	size_t			 nhosts;
	bool			 check;		/* -c */
	bool			 nodetach;	/* -N */
	bool			 configdump;	/* --configdump checks every entry */
};

/* Merge CMD and the built-in defaults into C, check the result.  Messages
 * go to ERRS (fatal; status set) and WARN (printed, not fatal).  Returns 0
 * or -1. */
int	cfg_resolve(struct cfg *c, const struct cfg_cmdline *cmd,
	    const struct cfg_env *env, struct cfg_errors *errs,
	    struct cfg_errors *warn);

/* The protocol name configdump shows for O. */
const char *cfg_dump_proto(const struct cfg_opts *o);

/* Print the resolved configuration as fetchmail's --configdump does. */
void	cfg_dump(FILE *, const struct cfg *);

/* Make PATH absolute relative to DIR; returns an allocated string. */
char	*cfg_abspath(const char *dir, const char *path);

#endif
