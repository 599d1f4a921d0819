/* util.h: small helpers shared by every layer. */
#ifndef UTIL_H
#define UTIL_H

/* Value of the hexadecimal digit C (any case), or -1. */
int	util_hexval(int c);

#endif
