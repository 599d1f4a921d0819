/* util.h: small helpers shared by every layer. */
#ifndef UTIL_H
#define UTIL_H

/* Value of the hexadecimal digit C (any case), or -1. */
int	util_hexval(int c);

#include <stddef.h>
#include <stdio.h>

/* Read all of F into an allocated buffer (*LEN bytes; caller frees). */
char	*util_read_all(FILE *f, size_t *len);

#endif
