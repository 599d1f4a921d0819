/*
 * dnscache.h: a bounded map from host names (compared without regard
 * to case) to small verdicts, so that one poll asks the resolver about
 * each name once however many addresses name it.
 */
#ifndef DNSCACHE_H
#define DNSCACHE_H

#include <stddef.h>

struct dns_cache;

/* A cache keeping at most max names (later ones are not kept). */
struct dns_cache *dnsc_create(size_t max);
/* The verdict stored for name, or -1. */
int	dnsc_get(const struct dns_cache *, const char *name);
/* Store verdict (>= 0) for name, unless the cache is full. */
void	dnsc_put(struct dns_cache *, const char *name, int verdict);
/* Free the cache (NULL is fine). */
void	dnsc_free(struct dns_cache *);

#endif
