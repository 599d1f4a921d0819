/* options.h: the command line. */
#ifndef OPTIONS_H
#define OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include "cfg.h"
#include "cfg_resolve.h"

/* What the command line asked for, beside the per-query overlay. */
struct options {
	struct cfg_cmdline	 cl;
	const char		*rcfile;	/* -f, borrowed from argv */
	int			 verbose;	/* -v count */
	bool			 silent, quit, configdump, yydebug;
	bool			 help, version;
	bool			 fatal;		/* error already reported */
};

/* Parse ARGV into OPT.  Returns -1 to go on, or the exit status the
 * program should end with (after printing what it must). */
int	options_parse(int argc, char **argv, struct options *opt);
/* Release what options_parse() allocated. */
void	options_free(struct options *);
/* Print the option summary. */
void	options_usage(FILE *);

#endif
