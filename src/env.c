/*
 * env.c: identity and file locations, as fetchmail computes them.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <netdb.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "env.h"
#include "xmalloc.h"
#include "i18n.h"

/* The login name: FETCHMAILUSER, LOGNAME or USER if it names the real
 * uid, else the passwd name of the real uid. */
static struct passwd *
find_user(void)
{
	static const char *const vars[] = { "FETCHMAILUSER", "LOGNAME", "USER" };
	struct passwd	*pw;
	const char	*n = NULL;
	size_t		 i;

	for (i = 0; i < 3 && n == NULL; i++)
		if ((n = getenv(vars[i])) != NULL && *n == '\0')
			n = NULL;
	if (n != NULL && (pw = getpwnam(n)) != NULL && pw->pw_uid == getuid())
		return pw;
	return getpwuid(getuid());
}

/* realpath() or a copy of P when it cannot be resolved. */
static char *
real_or_copy(const char *p)
{
	char	*r = realpath(p, NULL);

	return r ? r : xstrdup(p);
}

/* This host's name, qualified through the resolver when it has no dot. */
static char *
host_name(void)
{
	char		 buf[HOST_NAME_MAX + 1];
	struct addrinfo	 hints, *res = NULL;
	char		*r;

	if (gethostname(buf, sizeof(buf)) != 0)
		return xstrdup("localhost");
	buf[sizeof(buf) - 1] = '\0';
	if (strchr(buf, '.') != NULL)
		return xstrdup(buf);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(buf, NULL, &hints, &res) != 0 || res == NULL)
		return xstrdup(buf);
	r = xstrdup(res->ai_canonname ? res->ai_canonname : buf);
	freeaddrinfo(res);
	return r;
}

/* Fill FE; returns -1 when the user has no passwd entry. */
int
fm_env_init(struct fm_env *fe)
{
	struct passwd	*pw;
	const char	*h, *fh;
	char		 cwd[PATH_MAX];

	memset(fe, 0, sizeof(*fe));
	if ((pw = find_user()) == NULL) {
		fprintf(stderr, "fetchmail: %s\n", _("You don't exist.  Go away."));
		return -1;
	}
	fe->user = xstrdup(pw->pw_name);
	if ((h = getenv("HOME_ETC")) == NULL || *h == '\0')
		if ((h = getenv("HOME")) == NULL || *h == '\0')
			h = pw->pw_dir;
	fe->home = real_or_copy(h);
	fh = getenv("FETCHMAILHOME");
	fe->env.fmhome_env = fh != NULL && *fh != '\0';
	fe->fmhome = fe->env.fmhome_env ? real_or_copy(fh) : xstrdup(fe->home);
	fe->rcfile = fe->env.fmhome_env ?
	    xasprintf("%s/fetchmailrc", fe->fmhome) :
	    xasprintf("%s/.fetchmailrc", fe->home);
	fe->hostname = host_name();
	fe->cwd = xstrdup(getcwd(cwd, sizeof(cwd)) ? cwd : "/");
	fe->env.user = fe->user;
	fe->env.home = fe->home;
	fe->env.fmhome = fe->fmhome;
	fe->env.uid = getuid();
	fe->env.hostname = fe->hostname;
	fe->env.cwd = fe->cwd;
	return 0;
}

void
fm_env_free(struct fm_env *fe)
{
	free(fe->user);
	free(fe->home);
	free(fe->fmhome);
	free(fe->hostname);
	free(fe->cwd);
	free(fe->rcfile);
}
