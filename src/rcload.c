/*
 * rcload.c: find, check, read and parse the rcfile.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "rcload.h"
#include "util.h"
#include "xmalloc.h"
#include "i18n.h"

/* Check PATH as fetchmail checks its private files. */
int
rc_secrecy_check(const char *path, bool *missing, struct cfg_errors *errs)
{
	struct stat	st;

	*missing = false;
	if (strcmp(path, "/dev/null") == 0)
		return 0;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT) {
			*missing = true;
			return 0;
		}
		cfg_errors_add(errs, 6, "lstat: %s: %s", path, strerror(errno));
		return 6;
	}
	if (!S_ISREG(st.st_mode)) {
		cfg_errors_add(errs, 6, _("File %s must be a regular file."), path);
		return 6;
	}
	if (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH | S_IXOTH)) {
		cfg_errors_add(errs, 6, _("File %s must have no more than -rwx------ (0700) permissions."), path);
		return 6;
	}
	if (st.st_uid != geteuid()) {
		cfg_errors_add(errs, 6, _("File %s must be owned by you."), path);
		return 6;
	}
	return 0;
}

/* Absolute form of the rcfile path and its directory. */
static void
set_paths(struct cfg *c, const char *path, const struct fm_env *fe)
{
	char	*slash;

	if (strcmp(path, "-") == 0) {
		c->rcfile = xstrdup("-");
		c->rcdir = xstrdup(fe->cwd);
		return;
	}
	c->rcfile = cfg_abspath(fe->cwd, path);
	c->rcdir = xstrdup(c->rcfile);
	slash = strrchr(c->rcdir, '/');
	if (slash == c->rcdir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
}

/* Read and parse PATH into C. */
int
rcload(struct cfg *c, const char *path, const struct fm_env *fe,
    bool version, bool yydebug, struct cfg_errors *errs)
{
	FILE	*f;
	char	*data;
	size_t	 len;
	bool	 missing = false;
	int	 r;

	set_paths(c, path, fe);
	if (strcmp(path, "-") == 0)
		f = stdin;
	else {
		if (!version &&
		    (r = rc_secrecy_check(c->rcfile, &missing, errs)) != 0)
			return r;
		if ((f = fopen(c->rcfile, "r")) == NULL) {
			if (errno == ENOENT)
				return 0;
			cfg_errors_add(errs, 6, "open: %s: %s", c->rcfile,
			    strerror(errno));
			return 6;
		}
	}
	data = util_read_all(f, &len);
	if (f != stdin)
		fclose(f);
	r = cfg_parse_buffer(c, c->rcfile, data, len, errs, yydebug);
	free(data);
	return r == 0 ? 0 : (errs->status ? errs->status : 5);
}
