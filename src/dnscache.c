/*
 * dnscache.c: see dnscache.h.  Open addressing with linear probing in a
 * table of twice the maximum (rounded up to a power of two), so a probe
 * always ends at an empty slot.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "dnscache.h"
#include "xmalloc.h"

struct dns_slot {
	char	*name;
	int	 verdict;
};

struct dns_cache {
	struct dns_slot	*slot;
	size_t		 mask, n, max;
};

struct dns_cache *
dnsc_create(size_t max)
{
	struct dns_cache *c = xcalloc(1, sizeof(*c));
	size_t		 size = 2;

	while (size < 2 * max)
		size *= 2;
	c->slot = xcalloc(size, sizeof(*c->slot));
	c->mask = size - 1;
	c->max = max;
	return c;
}

/* FNV-1a of the lower-cased name. */
static size_t
hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)tolower((unsigned char)*s)) *
		    1099511628211ULL;
	return (size_t)h;
}

/* The slot holding name, or the empty slot where it would go. */
static struct dns_slot *
find(const struct dns_cache *c, const char *name)
{
	size_t i = hash(name) & c->mask;

	while (c->slot[i].name != NULL && strcasecmp(c->slot[i].name, name))
		i = (i + 1) & c->mask;
	return &c->slot[i];
}

int
dnsc_get(const struct dns_cache *c, const char *name)
{
	const struct dns_slot *s = find(c, name);

	return s->name != NULL ? s->verdict : -1;
}

void
dnsc_put(struct dns_cache *c, const char *name, int verdict)
{
	struct dns_slot *s = find(c, name);

	if (s->name != NULL) {
		s->verdict = verdict;
		return;
	}
	if (c->n >= c->max)
		return;
	s->name = xstrdup(name);
	s->verdict = verdict;
	c->n++;
}

void
dnsc_free(struct dns_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i <= c->mask; i++)
		free(c->slot[i].name);
	free(c->slot);
	free(c);
}
