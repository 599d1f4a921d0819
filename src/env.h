/* env.h: who runs us and where our files live. */
#ifndef ENV_H
#define ENV_H

#include "cfg_resolve.h"

struct fm_env {
	struct cfg_env	 env;		/* what the resolve step needs */
	char		*user, *home, *fmhome, *hostname, *cwd;
	char		*rcfile;	/* default rcfile path */
};

/* Work out the invoking user, home, fetchmail home, default rcfile and
 * this host's name.  Returns 0, or -1 after printing why. */
int	fm_env_init(struct fm_env *);
void	fm_env_free(struct fm_env *);

#endif
