/* util.c: small helpers shared by every layer. */
#include "config.h"

#include "util.h"

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
