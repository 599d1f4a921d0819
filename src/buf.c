/*
 * buf.c: growable byte buffer with a hard maximum.
 *
 * Data lives in mem[off .. off+len); consuming from the front only moves
 * off, and the bytes are moved back to the start lazily when room is
 * needed at the end, so reading a stream line by line stays linear.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xmalloc.h"

#define BUF_MINCAP	64

static int	buf_grow(struct buf *, size_t);

struct buf *
buf_create(size_t max)
{
	struct buf	*b;

	if (max >= SIZE_MAX / 2)
		max = SIZE_MAX / 2 - 1;
	b = xcalloc(1, sizeof(*b));
	b->max = max;
	b->cap = BUF_MINCAP;
	b->mem = xcalloc(1, b->cap);
	return b;
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->mem);
	free(b);
}

void
buf_free_wipe(struct buf *b)
{
	if (b == NULL)
		return;
	xexplicit_bzero(b->mem, b->cap);
	buf_free(b);
}

const char *
buf_data(const struct buf *b)
{
	return b->mem + b->off;
}

size_t
buf_len(const struct buf *b)
{
	return b->len;
}

size_t
buf_max(const struct buf *b)
{
	return b->max;
}

size_t
buf_room(const struct buf *b)
{
	return b->len >= b->max ? 0 : b->max - b->len;
}

/* Change the limit; existing data beyond a smaller limit is kept. */
void
buf_set_max(struct buf *b, size_t max)
{
	if (max >= SIZE_MAX / 2)
		max = SIZE_MAX / 2 - 1;
	b->max = max;
}

/* Ensure room for n more bytes plus the NUL; 0, or -1 past max. */
static int
buf_grow(struct buf *b, size_t n)
{
	size_t	 need, ncap;
	char	*nmem;

	if (n > b->max || b->len > b->max - n)
		return -1;
	need = b->len + n + 1;
	if (b->off + need <= b->cap)
		return 0;
	if (b->off > 0) {
		memmove(b->mem, b->mem + b->off, b->len);
		b->off = 0;
		b->mem[b->len] = '\0';
		if (need <= b->cap)
			return 0;
	}
	ncap = b->cap;
	while (ncap < need)
		ncap = ncap < SIZE_MAX / 2 ? ncap * 2 : need;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	nmem = xmalloc(ncap);
	memcpy(nmem, b->mem, b->len + 1);
	/* The old storage may have held secrets. */
	xexplicit_bzero(b->mem, b->cap);
	free(b->mem);
	b->mem = nmem;
	b->cap = ncap;
	return 0;
}

char *
buf_reserve(struct buf *b, size_t n)
{
	if (buf_grow(b, n) == -1)
		return NULL;
	return b->mem + b->off + b->len;
}

/* Account for k bytes written after buf_reserve (k <= the n reserved). */
void
buf_commit(struct buf *b, size_t k)
{
	b->len += k;
	b->mem[b->off + b->len] = '\0';
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	char	*dst;

	if ((dst = buf_reserve(b, n)) == NULL)
		return -1;
	if (n > 0)
		memcpy(dst, p, n);
	buf_commit(b, n);
	return 0;
}

int
buf_set(struct buf *b, const void *p, size_t n)
{
	if (n > b->max)
		return -1;
	buf_reset(b);
	return buf_append(b, p, n);
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 rv;

	va_start(ap, fmt);
	rv = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rv;
}

/* Append formatted text; -1 (nothing appended) if max would be exceeded. */
int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	 aq;
	char	*dst;
	int	 n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || (dst = buf_reserve(b, (size_t)n)) == NULL)
		return -1;
	if (vsnprintf(dst, (size_t)n + 1, fmt, ap) != n)
		return -1;
	buf_commit(b, (size_t)n);
	return 0;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	b->off += n;
	b->len -= n;
}

void
buf_truncate(struct buf *b, size_t n)
{
	if (n < b->len) {
		b->len = n;
		b->mem[b->off + n] = '\0';
	}
}

void
buf_reset(struct buf *b)
{
	b->off = 0;
	b->len = 0;
	b->mem[0] = '\0';
}

void
buf_wipe(struct buf *b)
{
	xexplicit_bzero(b->mem, b->cap);
	buf_reset(b);
}

int
buf_find(const struct buf *b, int c, size_t from, size_t *pos)
{
	const char	*p;

	if (from >= b->len)
		return 0;
	p = memchr(b->mem + b->off + from, c, b->len - from);
	if (p == NULL)
		return 0;
	*pos = (size_t)(p - (b->mem + b->off));
	return 1;
}

int
buf_find_eol(const struct buf *b, size_t from, size_t *pos)
{
	return buf_find(b, '\n', from, pos);
}
