/* md4.c: being written */
#include "config.h"
extern int fm_placeholder_md4;
