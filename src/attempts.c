/*
 * attempts.c: connection attempts reported as the reference does (see
 * attempts.h).
 */
#include "config.h"

#include <stdlib.h>

#include "attempts.h"
#include "i18n.h"
#include "log.h"
#include "xmalloc.h"

void
attempts_report(void *arg, const char *addr, const char *port,
    const char *why)
{
	struct attempts	*a = arg;
	char		*line, *t;

	if (why == NULL) {
		if (log_verbosity() >= 1)
			log_progress(_("Trying to connect to %s/%s..."), addr,
			    port);
		return;
	}
	if (log_verbosity() >= 1) {
		log_progress_more("%s", _("connection failed."));
		log_progress_end();
		log_err(_("connection to %s:%s [%s/%s] failed: %s."), a->host,
		    a->port, addr, port, why);
	}
	line = xasprintf(_("name %u: connection to %s:%s [%s/%s] failed: "
	    "%s."), a->n++, a->host, a->port, addr, port, why);
	t = a->errors == NULL ? line : xasprintf("%s\n%s", a->errors, line);
	if (t != line)
		free(line);
	free(a->errors);
	a->errors = t;
	free(a->last);
	a->last = xstrdup(why);
}

void
attempts_free(struct attempts *a)
{
	free(a->errors);
	free(a->last);
	a->errors = a->last = NULL;
}
