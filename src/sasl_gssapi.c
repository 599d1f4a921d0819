/* sasl_gssapi.c: being written */
#include "config.h"
extern int fm_placeholder_sasl_gssapi;
