/* xmalloc.c: allocation wrappers; out of memory is fatal. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* Print a fixed message and exit with fetchmail's "undefined" status. */
void
xfatal_oom(void)
{
	static const char m[] = "fetchmail: out of memory\n";

	fwrite(m, 1, sizeof(m) - 1, stderr);
	exit(23);
}

void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL)
		xfatal_oom();
	return p;
}

void *
xcalloc(size_t n, size_t sz)
{
	void	*p = calloc(n ? n : 1, sz ? sz : 1);

	if (p == NULL)
		xfatal_oom();
	return p;
}

/* realloc of N*SZ bytes with an overflow check. */
void *
xreallocarray(void *old, size_t n, size_t sz)
{
	void	*p;

	if (sz && n > SIZE_MAX / sz)
		xfatal_oom();
	p = realloc(old, (n && sz) ? n * sz : 1);
	if (p == NULL)
		xfatal_oom();
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p = strdup(s);

	if (p == NULL)
		xfatal_oom();
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p = strndup(s, n);

	if (p == NULL)
		xfatal_oom();
	return p;
}

/* Allocated vprintf. */
char *
xvasprintf(const char *fmt, va_list ap)
{
	char	*p;

	if (vasprintf(&p, fmt, ap) < 0)
		xfatal_oom();
	return p;
}

/* Allocated printf. */
char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

/* Clear memory in a way the compiler may not drop. */
void
xexplicit_bzero(void *p, size_t n)
{
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(p, n);
#else
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
#endif
}
