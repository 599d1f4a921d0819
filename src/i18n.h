/* i18n.h: gettext macros. */
#ifndef I18N_H
#define I18N_H

#include <libintl.h>
#include <locale.h>

#define _(s)	gettext(s)
#define N_(s)	(s)

#endif
