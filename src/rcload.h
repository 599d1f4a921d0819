/* rcload.h: reading the rcfile from disk or stdin. */
#ifndef RCLOAD_H
#define RCLOAD_H

#include <stdbool.h>
#include "cfg.h"
#include "env.h"

/* Check PATH the way fetchmail checks its private files (regular file,
 * no group/other access but group-execute, owned by the effective uid).
 * Returns 0, or the exit status (6) after adding a message to ERRS.
 * A missing file is fine: *MISSING is set. */
int	rc_secrecy_check(const char *path, bool *missing, struct cfg_errors *);

/* Read and parse PATH ("-" = stdin) into C.  VERSION skips the file
 * checks as -V does.  Returns 0 or a fetchmail exit status. */
int	rcload(struct cfg *c, const char *path, const struct fm_env *,
	    bool version, bool yydebug, struct cfg_errors *);

#endif
