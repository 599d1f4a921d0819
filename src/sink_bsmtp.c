/*
 * sink_bsmtp.c: append messages as batch SMTP to a file or stdout.
 *
 * Per message: "MAIL FROM:<sender>" (BODY= as for an 8BITMIME listener,
 * never SIZE), one "RCPT TO:<addr>" per recipient, "DATA", the message
 * dot-stuffed, "."; all lines end in CRLF.  Output is queued in a
 * buffer and written in large chunks, the rest at sink_end().  A
 * message that is aborted or fails to be written is cut off again
 * (ftruncate) when the output is a regular file.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "i18n.h"
#include "sink.h"
#include "sink_priv.h"
#include "xmalloc.h"

#define BSMTP_CHUNK	65536		/* write when this much is queued */

struct bsmtp {
	int		 fd;
	bool		 own;		/* fd is ours (not stdout) */
	off_t		 start;		/* file size before the message, or -1 */
	struct buf	*out;		/* queued bytes */
	int		 werr;		/* errno of a failed write, or 0 */
};

static int	 bsmtp_open(struct sink *, char **);
static enum sink_result bsmtp_begin(struct sink *, const struct sink_env *);
static enum sink_result bsmtp_line(struct sink *, const char *, size_t, int);
static enum sink_result bsmtp_end(struct sink *);
static void	 bsmtp_abort(struct sink *);
static void	 bsmtp_close(struct sink *);
static int	 bsmtp_put(void *, const void *, size_t);
static int	 bsmtp_drain(struct bsmtp *);
static enum sink_result bsmtp_fail(struct sink *);

const struct sink_ops sink_bsmtp_ops = {
	"BSMTP",
	bsmtp_open,
	bsmtp_begin,
	bsmtp_line,
	bsmtp_end,
	bsmtp_abort,
	bsmtp_close
};

static int
bsmtp_open(struct sink *s, char **cause)
{
	const char	*path = s->conf->bsmtp;
	struct bsmtp	*b;
	int		 fd;

	if (path == NULL || strcmp(path, "-") == 0)
		fd = STDOUT_FILENO;
	else if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0666)) == -1) {
		*cause = xasprintf(_("BSMTP file open failed: %s"),
		    strerror(errno));
		return -1;
	}
	b = xcalloc(1, sizeof(*b));
	b->fd = fd;
	b->own = fd != STDOUT_FILENO;
	b->start = -1;
	b->out = buf_create(SIZE_MAX / 4);
	s->impl = b;
	return 0;
}

static void
bsmtp_close(struct sink *s)
{
	struct bsmtp	*b = s->impl;

	if (b->own)
		(void)close(b->fd);
	buf_free(b->out);
	free(b);
	s->impl = NULL;
}

/* buf_append() as a sink_put_fn; writes out a full chunk. */
static int
bsmtp_put(void *arg, const void *p, size_t n)
{
	struct bsmtp	*b = arg;

	(void)buf_append(b->out, p, n);
	if (buf_len(b->out) >= BSMTP_CHUNK)
		return bsmtp_drain(b);
	return 0;
}

/* Write what is queued: 0, or -1 with b->werr set. */
static int
bsmtp_drain(struct bsmtp *b)
{
	const char	*p = buf_data(b->out);
	size_t		 n = buf_len(b->out);
	ssize_t		 r;

	if (!b->own)
		(void)fflush(stdout);	/* the log may share it */
	while (n > 0 && b->werr == 0) {
		if ((r = write(b->fd, p, n)) == -1) {
			if (errno != EINTR)
				b->werr = errno;
			continue;
		}
		p += r;
		n -= (size_t)r;
	}
	buf_reset(b->out);
	return b->werr == 0 ? 0 : -1;
}

/* Report a write error and cut the message off: SINK_ERROR. */
static enum sink_result
bsmtp_fail(struct sink *s)
{
	struct bsmtp	*b = s->impl;

	sink_seterr(s, _("BSMTP file write failed: %s"),
	    strerror(b->werr != 0 ? b->werr : EIO));
	bsmtp_abort(s);
	return SINK_ERROR;
}

static enum sink_result
bsmtp_begin(struct sink *s, const struct sink_env *env)
{
	struct bsmtp	*b = s->impl;
	struct stat	 st;
	const char	*body = "";
	char		*from;
	size_t		 i;

	b->werr = 0;
	buf_reset(b->out);
	b->start = -1;
	if (b->own && fstat(b->fd, &st) == 0 && S_ISREG(st.st_mode))
		b->start = st.st_size;
	if (s->conf->pass8bits || env->body == SINK_BODY_8BIT)
		body = " BODY=8BITMIME";
	else if (env->body == SINK_BODY_7BIT)
		body = " BODY=7BIT";
	from = sink_clean_addr(env->sender != NULL ? env->sender : "");
	(void)buf_printf(b->out, "MAIL FROM:<%s>%s\r\n", from, body);
	free(from);
	for (i = 0; i < s->nrcpt; i++) {
		(void)buf_printf(b->out, "RCPT TO:<%s>\r\n", s->rcpt[i].addr);
		s->rcpt[i].result = SINK_OK;
	}
	(void)buf_append(b->out, "DATA\r\n", 6);
	return SINK_OK;
}

static enum sink_result
bsmtp_line(struct sink *s, const char *p, size_t n, int eol)
{
	struct bsmtp	*b = s->impl;

	if (sink_put_stuffed(s, bsmtp_put, b, p, n, eol) == -1) {
		sink_seterr(s, _("BSMTP file write failed: %s"),
		    strerror(b->werr));
		return SINK_ERROR;
	}
	return SINK_OK;
}

static enum sink_result
bsmtp_end(struct sink *s)
{
	struct bsmtp	*b = s->impl;

	if (s->state == SINK_FAILED) {
		bsmtp_abort(s);
		return SINK_ERROR;
	}
	if (!s->bol)
		(void)buf_append(b->out, "\r\n", 2);
	(void)buf_append(b->out, ".\r\n", 3);
	if (bsmtp_drain(b) == -1)
		return bsmtp_fail(s);
	return SINK_OK;
}

/* Drop the queued rest; cut off what was written (regular files). */
static void
bsmtp_abort(struct sink *s)
{
	struct bsmtp	*b = s->impl;

	buf_reset(b->out);
	if (b->start >= 0)
		(void)ftruncate(b->fd, b->start);
	b->start = -1;
}
