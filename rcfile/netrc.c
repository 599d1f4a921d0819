/*
 * netrc.c: password lookup in ~/.netrc, the way fetchmail does it.
 *
 * Tokens are separated by white space; a token may be "quoted".  An entry
 * starts at `machine NAME` and collects `login` and `password`; `account`
 * takes an argument that is ignored; `macdef` skips to the next empty line;
 * `default` entries are never used.  The first entry whose machine and
 * login both match wins; an entry without a login matches nothing.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "util.h"
#include "xmalloc.h"

struct netrc_scan {
	const char	*p, *end;
};

/* Next token into an allocated string, or NULL at the end. */
static char *
next_token(struct netrc_scan *s)
{
	const char	*start;
	char		*t, *o;

	while (s->p < s->end && isspace((unsigned char)*s->p))
		s->p++;
	if (s->p >= s->end)
		return NULL;
	if (*s->p == '"') {
		start = ++s->p;
		t = o = xmalloc((size_t)(s->end - start) + 1);
		while (s->p < s->end && *s->p != '"') {
			if (*s->p == '\\' && s->p + 1 < s->end)
				s->p++;
			*o++ = *s->p++;
		}
		if (s->p < s->end)
			s->p++;
		*o = '\0';
		return t;
	}
	start = s->p;
	while (s->p < s->end && !isspace((unsigned char)*s->p))
		s->p++;
	return xstrndup(start, (size_t)(s->p - start));
}

/* Skip a macro definition: everything up to the next empty line. */
static void
skip_macdef(struct netrc_scan *s)
{
	const char *nl;

	while (s->p < s->end) {
		nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
		if (nl == NULL || nl + 1 >= s->end) {
			s->p = s->end;
			return;
		}
		s->p = nl + 1;
		if (*s->p == '\n')
			return;
	}
}

struct netrc_entry {
	char	*machine, *login, *password;
	bool	 usable;
};

static void
entry_clear(struct netrc_entry *e)
{
	free(e->machine);
	free(e->login);
	if (e->password != NULL)
		xexplicit_bzero(e->password, strlen(e->password));
	free(e->password);
	memset(e, 0, sizeof(*e));
}

/* Whether entry E answers HOST and LOGIN. */
static bool
entry_matches(const struct netrc_entry *e, const char *host, const char *login)
{
	return e->usable && e->machine && e->login && e->password &&
	    strcmp(e->machine, host) == 0 && strcmp(e->login, login) == 0;
}

/* Replace *DST by the allocated token V (V may be NULL). */
static void
take(char **dst, char *v)
{
	free(*dst);
	*dst = v;
}

/* Look up the password for LOGIN at HOST in the .netrc text DATA[0..LEN).
 * Returns an allocated password or NULL. */
char *
cfg_netrc_lookup(const char *data, size_t len, const char *host,
    const char *login)
{
	struct netrc_scan	 s = { data, data + len };
	struct netrc_entry	 e = { 0 };
	char			*t, *found = NULL;

	while (found == NULL && (t = next_token(&s)) != NULL) {
		if (strcmp(t, "machine") == 0 || strcmp(t, "default") == 0) {
			if (entry_matches(&e, host, login))
				found = xstrdup(e.password);
			entry_clear(&e);
			e.usable = strcmp(t, "machine") == 0;
			if (e.usable)
				e.machine = next_token(&s);
		} else if (strcmp(t, "login") == 0)
			take(&e.login, next_token(&s));
		else if (strcmp(t, "password") == 0)
			take(&e.password, next_token(&s));
		else if (strcmp(t, "account") == 0)
			free(next_token(&s));
		else if (strcmp(t, "macdef") == 0) {
			free(next_token(&s));
			skip_macdef(&s);
		}
		free(t);
	}
	if (found == NULL && entry_matches(&e, host, login))
		found = xstrdup(e.password);
	entry_clear(&e);
	return found;
}

/* Read HOME/.netrc into an allocated buffer (*LEN bytes); NULL when it
 * cannot be read.  The caller clears and frees it. */
char *
cfg_netrc_read(const char *home, size_t *len)
{
	char	*path, *buf;
	FILE	*f;

	path = xasprintf("%s/.netrc", home);
	f = fopen(path, "r");
	free(path);
	if (f == NULL)
		return NULL;
	buf = util_read_all(f, len);
	fclose(f);
	return buf;
}
