/* cfg_show.h: the -V report. */
#ifndef CFG_SHOW_H
#define CFG_SHOW_H

#include <stdio.h>
#include "cfg.h"
#include "env.h"

/* The version banner (its first line is what Webmin matches), the
 * licence notice, "Fallback MDA: (none)" and the `uname -a` line; -V
 * prints it before the rcfile is read. */
void	cfg_show_banner(FILE *);
/* The rest of -V: the UIDs read (with -v -v), where the options come
 * from, the run-wide settings and every query that would be polled, as
 * fetchmail 6.4.37 words them.  VERBOSE is the -v count; returns the
 * exit status. */
int	cfg_show(FILE *, const struct cfg *, const struct fm_env *, int verbose);

#endif
