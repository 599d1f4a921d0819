/*
 * rcfile_build.c: builders called from grammar actions, string escapes
 * and error reporting for the rcfile parser.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "rcfile_priv.h"
#include "util.h"
#include "xmalloc.h"
#include "i18n.h"


/* Record the raw text of the token just read (NULL at end of input). */
void
rc_last(struct rc_parser *P, const char *text, size_t len)
{
	free(P->last);
	P->last = text ? xstrndup(text, len) : NULL;
}

/* Queue a token to be returned by the next call of the lexer. */
void
rc_pushback(struct rc_parser *P, int tok)
{
	P->pushback = tok;
}

/* Report "fetchmail:FILE:LINE: WHAT at TOKEN" and mark the parse failed. */
void
rc_error_at(struct rc_parser *P, const char *what)
{
	/* a token that starts with NUL reads as the end, as in the reference */
	cfg_errors_add(P->errs, 5, "fetchmail:%s:%d: %s at %s", P->name,
	    rc_lineno(P), what, P->last && *P->last ? P->last :
	    _("end of input"));
	P->failed = true;
}

/* Decode one escape at S[*i] (just after the backslash) into *out;
 * returns 0 when the escape produces no byte. */
static int
unescape_one(const char *s, size_t n, size_t *i, int *out)
{
	int	c = (unsigned char)s[(*i)++], v, d, k;

	switch (c) {
	case 'n': *out = '\n'; return 1;
	case 't': *out = '\t'; return 1;
	case 'b': *out = '\b'; return 1;
	case 'r': *out = '\r'; return 1;
	case '\n': return 0;
	case 'x':
		for (v = 0, k = 0; k < 2 && *i < n &&
		    (d = util_hexval((unsigned char)s[*i])) >= 0; k++, (*i)++)
			v = v * 16 + d;
		*out = v;
		return 1;
	case '0':
		for (v = 0, k = 1; k < 3 && *i < n && s[*i] >= '0' &&
		    s[*i] <= '7'; k++, (*i)++)
			v = v * 8 + (s[*i] - '0');
		*out = v;
		return 1;
	default:
		if (c >= '1' && c <= '9') {
			for (v = c - '0', k = 1; k < 3 && *i < n &&
			    s[*i] >= '0' && s[*i] <= '9'; k++, (*i)++)
				v = v * 10 + (s[*i] - '0');
			*out = v;
			return 1;
		}
		*out = c;
		return 1;
	}
}

/* Decode fetchmail's backslash escapes in S[0..N); an escape yielding a
 * NUL ends the string, as in the reference.  Returns an allocated copy. */
char *
rc_unescape(const char *s, size_t n)
{
	char	*r = xmalloc(n + 1), *p = r;
	size_t	 i = 0;
	int	 c;

	while (i < n) {
		if (s[i] != '\\') {
			*p++ = s[i++];
			continue;
		}
		if (++i == n)
			break;
		if (unescape_one(s, n, &i, &c))
			*p++ = (char)c;
	}
	*p = '\0';
	return r;
}

/* Replace *DST with the allocated string V (which may be NULL). */
void
rc_set_str(char **dst, char *v)
{
	free(*dst);
	*dst = v;
}

void
rc_set_num(struct cfg_num *n, int v)
{
	n->v = v;
	n->set = true;
}

/* A number where 0 means "not given" (inherited, then defaulted). */
void
rc_set_raw(struct cfg_num *n, int v)
{
	n->v = v;
	n->set = v != 0;
}

/* Add a local name (or a server=local mapping) to a user; "*" in any form
 * is the wildcard.  Takes ownership of NAME and MAP. */
void
rc_localname(struct cfg_opts *o, char *name, char *map)
{
	if (map == NULL && strcmp(name, "*") == 0)
		o->wildcard = true;
	else
		cfg_list_add(&o->localnames, name, map);
	free(name);
	free(map);
}

/* Append one antispam code. */
void
rc_antispam(struct cfg_opts *o, int code)
{
	o->antispam = xreallocarray(o->antispam, o->nantispam + 1, sizeof(int));
	o->antispam[o->nantispam++] = code;
	o->antispam_set = true;
}

/* Check an `interface` value; returns -1 (error recorded) when it is
 * malformed. */
int
rc_interface_check(struct rc_parser *P, const char *spec)
{
	const char	*why = cfg_interface_check(spec);

	if (why == NULL)
		return 0;
	cfg_errors_add(P->errs, 5, "fetchmail: %s", why);
	P->failed = true;
	return -1;
}

/* Start a new entry: a poll/skip entry named NAME or the defaults. */
void
rc_entry_begin(struct rc_parser *P, char *name, int kind)
{
	struct cfg_query *q = xcalloc(1, sizeof(*q));

	q->pollname = kind == RC_DEFAULTS ? xstrdup("defaults") : name;
	q->skip = kind == RC_SKIP;
	P->entry = q;
	P->users = P->user = NULL;
}

/* The server part of the entry being built. */
struct cfg_opts *
rc_server(struct rc_parser *P)
{
	return &P->entry->o;
}

/* Open a new user description in the current entry. */
void
rc_user_begin(struct rc_parser *P)
{
	struct cfg_query *u = xcalloc(1, sizeof(*u)), **tail;

	for (tail = &P->users; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = u;
	P->user = u;
}

/* The current user of the entry; IMPLICIT creates the nameless one. */
struct cfg_opts *
rc_user(struct rc_parser *P, bool implicit)
{
	if (P->user == NULL && implicit)
		rc_user_begin(P);
	return &P->user->o;
}

/* Finish the current entry: give every user a copy of the server part
 * and queue them in the configuration. */
void
rc_entry_end(struct rc_parser *P)
{
	struct cfg_query *e = P->entry, *u, *next, **tail;
	bool		  first = true;

	if (e == NULL)
		return;
	if (P->users == NULL)
		rc_user_begin(P);
	/* append in constant time: a file may hold many thousand entries */
	if (P->qtail == NULL)
		P->qtail = &P->cfg->queries;
	while (*P->qtail != NULL)
		P->qtail = &(*P->qtail)->next;
	tail = P->qtail;
	for (u = P->users; u != NULL; u = next) {
		next = u->next;
		u->next = NULL;
		cfg_opts_merge(&u->o, &e->o, true, true, false);
		u->pollname = e->pollname ? xstrdup(e->pollname) : NULL;
		u->skip = e->skip;
		u->first_of_entry = first;
		first = false;
		*tail = u;
		tail = &u->next;
	}
	P->qtail = tail;
	cfg_query_free(e);
	P->entry = P->users = P->user = NULL;
}

/* After a successful parse: the first record, if it is named "defaults",
 * holds the defaults; a "defaults" record anywhere after the first
 * remaining one is an error (the reference's rule, whichever keyword
 * introduced the name).  Returns 0 or -1. */
int
rc_take_defaults(struct rc_parser *P)
{
	struct cfg		*c = P->cfg;
	struct cfg_query	*q = c->queries;

	if (q != NULL && strcmp(q->pollname, "defaults") == 0) {
		c->defaults = q;
		c->queries = q->next;
		q->next = NULL;
		if (c->queries != NULL)
			c->queries->first_of_entry = true;
	}
	for (q = c->queries ? c->queries->next : NULL; q; q = q->next) {
		if (strcmp(q->pollname, "defaults") != 0)
			continue;
		cfg_errors_add(P->errs, 5, "fetchmail: %s",
		    _("Error: multiple \"defaults\" records in config file, "
		    "or \"defaults\" is not the first record."));
		P->failed = true;
		return -1;
	}
	return 0;
}
