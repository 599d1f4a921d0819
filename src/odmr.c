/* odmr.c: being written */
#include "config.h"
extern int fm_placeholder_odmr;
