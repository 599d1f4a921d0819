/* pop2.c: being written (placeholder so the driver links). */
#include "config.h"

#include "i18n.h"
#include "log.h"
#include "pop2.h"
#include "session.h"

int
pop2_session(struct session *s, const struct pop3_tls *t)
{
	(void)t;
	log_err("%s", _("POP2 support is not configured."));
	s->status = PS_PROTOCOL;
	return -1;
}
