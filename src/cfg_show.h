/* cfg_show.h: the -V report. */
#ifndef CFG_SHOW_H
#define CFG_SHOW_H

#include <stdio.h>
#include "cfg.h"
#include "env.h"

/* The version banner; its first line is what Webmin matches. */
void	cfg_show_banner(FILE *);
/* The settings report -V prints for every query; returns the exit status. */
int	cfg_show(FILE *, const struct cfg *, const struct fm_env *, int verbose);

#endif
