/* odmr.c: being written (placeholder so the driver links). */
#include "config.h"

#include "odmr.h"
#include "session.h"

int
odmr_session(struct session *s, const char *hostname)
{
	(void)s;
	(void)hostname;
	return PS_PROTOCOL;
}
