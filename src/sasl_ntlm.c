/* sasl_ntlm.c: being written */
#include "config.h"
extern int fm_placeholder_sasl_ntlm;
