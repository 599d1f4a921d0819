/*
 * buf.h: growable byte buffer with a hard maximum.
 *
 * A buf holds bytes plus a length; the bytes may contain NUL.  The
 * storage always keeps one NUL after the last byte, so buf_data() can be
 * used as a C string when the caller knows there is no embedded NUL.
 * Growth past the maximum given to buf_create() is refused (-1), never
 * silently truncated.  Out of memory aborts (xmalloc).
 */
#ifndef BUF_H
#define BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*mem;		/* storage, cap bytes */
	size_t	 off;		/* start of the data inside mem */
	size_t	 len;		/* bytes of data */
	size_t	 cap;		/* allocated size of mem */
	size_t	 max;		/* hard limit on len */
};

/* A buffer that may hold up to max bytes; caller frees with buf_free. */
struct buf	*buf_create(size_t max);
/* Release a buffer and its storage; NULL ok. */
void		 buf_free(struct buf *);
/* Like buf_free, but zero the storage first (passwords). */
void		 buf_free_wipe(struct buf *);

/* Data pointer (borrowed until the next change) and length. */
const char	*buf_data(const struct buf *);
size_t		 buf_len(const struct buf *);
size_t		 buf_max(const struct buf *);
size_t		 buf_room(const struct buf *);	/* max - len */
void		 buf_set_max(struct buf *, size_t);

/* Append bytes; 0, or -1 (nothing appended) if max would be exceeded. */
int		 buf_append(struct buf *, const void *, size_t);
int		 buf_printf(struct buf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
int		 buf_vprintf(struct buf *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));
/* Replace the contents with the given bytes; 0 or -1 as buf_append. */
int		 buf_set(struct buf *, const void *, size_t);

/*
 * Make room for n more bytes and return where they go; NULL if max
 * would be exceeded.  After writing k <= n bytes there, buf_commit(k).
 */
char		*buf_reserve(struct buf *, size_t n);
void		 buf_commit(struct buf *, size_t k);

/* Drop n bytes (at most len) from the front. */
void		 buf_consume(struct buf *, size_t n);
/* Drop everything after the first n bytes. */
void		 buf_truncate(struct buf *, size_t n);
/* Empty the buffer, keeping its storage. */
void		 buf_reset(struct buf *);
/* Zero the whole storage and empty the buffer. */
void		 buf_wipe(struct buf *);

/*
 * Find byte c at or after offset from; 1 and *pos set if found, else 0.
 * buf_find_eol() looks for '\n'.
 */
int		 buf_find(const struct buf *, int c, size_t from, size_t *pos);
int		 buf_find_eol(const struct buf *, size_t from, size_t *pos);

#endif
