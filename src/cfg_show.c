/*
 * cfg_show.c: what -V prints: the banner, then the resolved settings of
 * every query in words.
 */
#include "config.h"

#include <stdio.h>

#include "cfg.h"
#include "cfg_show.h"
#include "i18n.h"

/* The version banner. */
void
cfg_show_banner(FILE *f)
{
	fprintf(f, _("This is fetchmail release %s"), PACKAGE_VERSION);
	fputs("+SSL-SSLv2-SSLv3+NLS.\n", f);
}

/* The settings report; a fuller version follows. */
int
cfg_show(FILE *f, const struct cfg *c, const struct fm_env *fe, int verbose)
{
	(void)verbose;
	(void)fe;
	if (c->queries == NULL)
		fprintf(stderr, _("No mailservers set up -- perhaps %s is missing?\n"),
		    c->rcfile);
	(void)f;
	return 0;
}
