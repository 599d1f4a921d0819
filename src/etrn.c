/* etrn.c: being written (placeholder so the driver links). */
#include "config.h"

#include "etrn.h"
#include "i18n.h"
#include "log.h"
#include "session.h"

int
etrn_refuse(const struct cfg_query *q, bool check, const char *name)
{
	(void)q;
	(void)check;
	log_err(_("protocol %s is not supported in this build yet"), name);
	return PS_PROTOCOL;
}

int
etrn_session(struct session *s, const char *hostname)
{
	(void)s;
	(void)hostname;
	return PS_PROTOCOL;
}
