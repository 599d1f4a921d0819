/* util.c: small helpers shared by every layer. */
#include "config.h"

#include <stdio.h>

#include "util.h"
#include "xmalloc.h"

/* Value of the hexadecimal digit C (any case), or -1. */
int
util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read all of F into an allocated buffer (*LEN bytes; caller frees). */
char *
util_read_all(FILE *f, size_t *len)
{
	char	*buf = NULL;
	size_t	 cap = 0, n = 0, r;

	do {
		if (cap - n < 8192) {
			cap = cap ? cap * 2 : 65536;
			buf = xreallocarray(buf, cap, 1);
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	*len = n;
	return buf;
}
