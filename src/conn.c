/*
 * conn.c: connection object: TCP connect with timeout, plugin commands,
 * existing fds; buffered line and counted reads; buffered writes;
 * deadlines with poll(2); a transcript hook; the STARTTLS switch.
 *
 * All fds are non-blocking.  An operation tries its I/O first and polls
 * only when the fd (or the TLS layer) says it would block, so data that
 * TLS has already decrypted is never left waiting for poll.  Every call
 * that may wait computes one deadline at its start: a peer that trickles
 * a byte at a time still times out.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "i18n.h"
#include "tls.h"
#include "xmalloc.h"

#define CONN_READSZ	16384		/* bytes asked for per read */
#define CONN_OUT_HIWAT	65536		/* flush early above this */
#define CONN_OUT_MAX	(SIZE_MAX / 4)	/* output buffer hard limit */
#define CONN_TRACE_MAX	4096		/* transcript line limit */
#define CONN_REAP_MS	2000		/* grace for a plugin to exit */
#define CONN_WANT_READ	(-2)		/* same values as TLS_WANT_* */
#define CONN_WANT_WRITE	(-3)

_Static_assert(CONN_WANT_READ == TLS_WANT_READ &&
    CONN_WANT_WRITE == TLS_WANT_WRITE, "conn and tls disagree");

struct conn {
	int		 rfd, wfd;
	pid_t		 pid;		/* plugin child, or -1 */
	int		 timeout;	/* seconds; 0 = none */
	int		 notsock;	/* wfd is not a socket: write() */
	int		 broken;	/* failed TLS start: refuse I/O */
	char		*host;		/* from conn_connect, or NULL */
	char		*error;
	struct buf	*in;		/* received, not yet returned */
	size_t		 scanned;	/* bytes of in known to lack '\n' */
	int		 eol;		/* CONN_EOL_* of the last line */
	struct buf	*out;		/* queued output */
	int		 wipe_out;	/* out held a masked (secret) line */
	struct tls	*tls;
	size_t		 discarded;
	conn_trace_fn	*trace;
	void		*trace_arg;
	struct buf	*tline;		/* outgoing line being traced */
	int		 mask;		/* mask the next outgoing line */
	size_t		 mask_keep;
};

static struct conn *conn_new(int, int, int);
static void	conn_seterr(struct conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int64_t	conn_now(void);
static int64_t	conn_deadline(const struct conn *);
static int	conn_wait(struct conn *, int, int64_t);
static ssize_t	conn_io_read(struct conn *, void *, size_t);
static ssize_t	conn_io_write(struct conn *, const void *, size_t);
static int	conn_fill(struct conn *, int64_t);
static int	conn_line(struct conn *, struct buf *, size_t, int);
static int	conn_take(struct conn *, struct buf *, size_t, size_t,
		    int);
static void	conn_trace_out(struct conn *, const char *, size_t);
static void	conn_trace_emit(struct conn *, int, const char *, size_t);
static int	conn_try_addr(const struct addrinfo *, int, char **);
static int	conn_connect_wait(int, int, char **);
static char	*conn_addr_str(const struct addrinfo *);
static int	conn_child_wait(pid_t, int);
static void	conn_reap(pid_t);
static void	conn_child_exec(int, const char *)
		    __attribute__((noreturn));

/* ---------------------------------------------------------------- */
/* construction and teardown                                        */

/* A conn over rfd/wfd, both made non-blocking and close-on-exec. */
static struct conn *
conn_new(int rfd, int wfd, int timeout)
{
	struct conn	*c;
	int		 fl;

	c = xcalloc(1, sizeof(*c));
	c->rfd = rfd;
	c->wfd = wfd;
	c->pid = -1;
	c->timeout = timeout > 0 ? timeout : 0;
	c->in = buf_create(CONN_READSZ * 4);
	c->out = buf_create(CONN_OUT_MAX);
	c->tline = buf_create(CONN_TRACE_MAX);
	c->error = xstrdup("no error");
	if ((fl = fcntl(rfd, F_GETFL)) != -1)
		(void)fcntl(rfd, F_SETFL, fl | O_NONBLOCK);
	(void)fcntl(rfd, F_SETFD, FD_CLOEXEC);
	if (wfd != rfd) {
		if ((fl = fcntl(wfd, F_GETFL)) != -1)
			(void)fcntl(wfd, F_SETFL, fl | O_NONBLOCK);
		(void)fcntl(wfd, F_SETFD, FD_CLOEXEC);
	}
	return c;
}

struct conn *
conn_from_fds(int rfd, int wfd, int timeout)
{
	return conn_new(rfd, wfd, timeout);
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	tls_free(c->tls);
	if (c->wfd != c->rfd && c->wfd != -1)
		close(c->wfd);
	if (c->rfd != -1)
		close(c->rfd);
	if (c->pid != -1)
		conn_reap(c->pid);
	if (c->wipe_out)
		buf_free_wipe(c->out);
	else
		buf_free(c->out);
	buf_free(c->in);
	buf_free_wipe(c->tline);
	free(c->host);
	free(c->error);
	free(c);
}

/* Replace the error text. */
static void
conn_seterr(struct conn *c, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	free(c->error);
	c->error = s;
}

const char *
conn_error(const struct conn *c)
{
	return c->error;
}

void
conn_set_timeout(struct conn *c, int timeout)
{
	c->timeout = timeout > 0 ? timeout : 0;
}

int
conn_get_timeout(const struct conn *c)
{
	return c->timeout;
}

const char *
conn_host(const struct conn *c)
{
	return c->host;
}

int
conn_eol(const struct conn *c)
{
	return c->eol;
}

size_t
conn_pending(const struct conn *c)
{
	return buf_len(c->in);
}

/* ---------------------------------------------------------------- */
/* deadlines and raw I/O                                            */

/* Monotonic milliseconds. */
static int64_t
conn_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Deadline for an operation starting now; 0 = none. */
static int64_t
conn_deadline(const struct conn *c)
{
	if (c->timeout == 0)
		return 0;
	return conn_now() + (int64_t)c->timeout * 1000;
}

/*
 * Wait until the fd for want (CONN_WANT_READ/WRITE) is ready or the
 * deadline passes: 0 ready (or hung up: the next I/O tells), -1 error.
 */
static int
conn_wait(struct conn *c, int want, int64_t deadline)
{
	struct pollfd	 pfd;
	int64_t		 left;
	int		 n;

	pfd.fd = want == CONN_WANT_WRITE ? c->wfd : c->rfd;
	pfd.events = want == CONN_WANT_WRITE ? POLLOUT : POLLIN;
	for (;;) {
		left = -1;
		if (deadline != 0) {
			left = deadline - conn_now();
			if (left <= 0)
				break;
		}
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n == -1 && errno != EINTR) {
			conn_seterr(c, "poll: %s", strerror(errno));
			return -1;
		}
	}
	conn_seterr(c, _("timeout after %d seconds"), c->timeout);
	return -1;
}

/* One read: >0 bytes, 0 EOF, -1 error, or CONN_WANT_*. */
static ssize_t
conn_io_read(struct conn *c, void *p, size_t n)
{
	ssize_t	 r;

	if (c->broken) {
		conn_seterr(c, _("connection unusable after failed TLS start"));
		return -1;
	}
	if (c->tls != NULL) {
		r = tls_read(c->tls, p, n);
		if (r == -1)
			conn_seterr(c, "%s", tls_error(c->tls));
		return r;
	}
	do
		r = read(c->rfd, p, n);
	while (r == -1 && errno == EINTR);
	if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return CONN_WANT_READ;
	if (r == -1)
		conn_seterr(c, "read: %s", strerror(errno));
	return r;
}

/* One write: >0 bytes, -1 error, or CONN_WANT_*. */
static ssize_t
conn_io_write(struct conn *c, const void *p, size_t n)
{
	ssize_t	 r;

	if (c->broken) {
		conn_seterr(c, _("connection unusable after failed TLS start"));
		return -1;
	}
	if (c->tls != NULL) {
		r = tls_write(c->tls, p, n);
		if (r == -1)
			conn_seterr(c, "%s", tls_error(c->tls));
		return r;
	}
	for (;;) {
		if (c->notsock)
			r = write(c->wfd, p, n);
		else
			r = send(c->wfd, p, n, MSG_NOSIGNAL);
		if (r == -1 && errno == ENOTSOCK && !c->notsock) {
			c->notsock = 1;
			continue;
		}
		if (r != -1 || errno != EINTR)
			break;
	}
	if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return CONN_WANT_WRITE;
	if (r == -1)
		conn_seterr(c, "write: %s", strerror(errno));
	return r;
}

/* Room for CONN_READSZ more input bytes in c->in, or NULL (error set). */
static char *
in_reserve(struct conn *c)
{
	char	*p;

	if (buf_room(c->in) < CONN_READSZ)
		buf_set_max(c->in, buf_len(c->in) + CONN_READSZ);
	if ((p = buf_reserve(c->in, CONN_READSZ)) == NULL)
		conn_seterr(c, _("input buffer limit reached"));
	return p;
}

/* Read more input into c->in: 1 got bytes, 0 EOF, -1 error/timeout. */
static int
conn_fill(struct conn *c, int64_t deadline)
{
	char	*p;
	ssize_t	 r;

	if ((p = in_reserve(c)) == NULL)
		return -1;
	for (;;) {
		r = conn_io_read(c, p, CONN_READSZ);
		if (r >= 0)
			break;
		if (r == -1 || conn_wait(c, (int)r, deadline) == -1)
			return -1;
	}
	if (r == 0)
		return 0;
	buf_commit(c->in, (size_t)r);
	return 1;
}

int
conn_await(struct conn *c, int seconds)
{
	struct pollfd	 pfd;
	int64_t		 deadline = 0, left;
	char		*p;
	ssize_t		 r;
	int		 n;

	if (buf_len(c->in) > 0)
		return 1;
	if (seconds > 0)
		deadline = conn_now() + (int64_t)seconds * 1000;
	if ((p = in_reserve(c)) == NULL)
		return -1;
	for (;;) {
		r = conn_io_read(c, p, CONN_READSZ);
		if (r > 0) {
			buf_commit(c->in, (size_t)r);
			return 1;
		}
		if (r == 0)
			return 1;	/* EOF: the next read reports it */
		if (r == -1)
			return -1;
		pfd.fd = r == CONN_WANT_WRITE ? c->wfd : c->rfd;
		pfd.events = r == CONN_WANT_WRITE ? POLLOUT : POLLIN;
		for (;;) {
			left = -1;
			if (deadline != 0) {
				left = deadline - conn_now();
				if (left <= 0)
					return 0;
			}
			n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
			if (n > 0)
				break;
			if (n == -1 && errno != EINTR) {
				conn_seterr(c, "poll: %s", strerror(errno));
				return -1;
			}
		}
	}
}

/* ---------------------------------------------------------------- */
/* reading                                                          */

int
conn_getline(struct conn *c, struct buf *line, size_t max)
{
	return conn_line(c, line, max, 0);
}

int
conn_getchunk(struct conn *c, struct buf *line, size_t max)
{
	return conn_line(c, line, max, 1);
}

/*
 * Common part of getline/getchunk.  A line is longer than max when its
 * '\n' comes after max content bytes, or when max + 2 bytes have arrived
 * without one (even a final "\r" cannot save it then).
 */
static int
conn_line(struct conn *c, struct buf *line, size_t max, int chunk)
{
	int64_t	 deadline = conn_deadline(c);
	size_t	 pos, clen, limit;
	int	 r;

	if (chunk && max == 0)
		max = 1;
	limit = max > SIZE_MAX - 2 ? SIZE_MAX : max + 2;
	for (;;) {
		if (buf_find_eol(c->in, c->scanned, &pos)) {
			clen = pos;
			if (clen > 0 && buf_data(c->in)[clen - 1] == '\r')
				clen--;
			if (clen <= max)
				return conn_take(c, line, clen, pos + 1,
				    clen < pos ? CONN_EOL_CRLF : CONN_EOL_LF);
			break;
		}
		c->scanned = buf_len(c->in);
		if (buf_len(c->in) >= limit)
			break;
		if ((r = conn_fill(c, deadline)) == 1)
			continue;
		if (r == -1)
			return -1;
		if (buf_len(c->in) == 0) {
			/* the end; an error only where a line was due */
			conn_seterr(c, "%s", _("connection closed by the "
			    "server"));
			return 0;
		}
		conn_seterr(c, _("connection closed in the middle of a line "
		    "(%zu bytes)"), buf_len(c->in));
		buf_reset(c->in);
		c->scanned = 0;
		return -1;
	}
	if (chunk)
		return conn_take(c, line, max, max, CONN_EOL_NONE);
	conn_seterr(c, _("line longer than %zu bytes"), max);
	return -1;
}

/* Move len bytes to line, drop used bytes of input, note the EOL. */
static int
conn_take(struct conn *c, struct buf *line, size_t len, size_t used,
    int eol)
{
	buf_reset(line);
	if (buf_append(line, buf_data(c->in), len) == -1) {
		conn_seterr(c, _("line longer than the buffer limit (%zu)"),
		    buf_max(line));
		return -1;
	}
	buf_consume(c->in, used);
	c->scanned = 0;
	c->eol = eol;
	if (c->trace != NULL)
		conn_trace_emit(c, CONN_TRACE_IN, buf_data(line), len);
	return 1;
}

int
conn_read(struct conn *c, struct buf *out, size_t n)
{
	int64_t	 deadline = conn_deadline(c);
	size_t	 k;
	ssize_t	 r;
	char	*p;

	if (buf_room(out) < n) {
		conn_seterr(c, _("%zu bytes exceed the buffer limit"), n);
		return -1;
	}
	k = buf_len(c->in) < n ? buf_len(c->in) : n;
	(void)buf_append(out, buf_data(c->in), k);
	buf_consume(c->in, k);
	c->scanned = 0;
	for (n -= k; n > 0; n -= (size_t)r) {
		k = n < CONN_READSZ ? n : CONN_READSZ;
		p = buf_reserve(out, k);
		while ((r = conn_io_read(c, p, k)) < -1)
			if (conn_wait(c, (int)r, deadline) == -1)
				return -1;
		if (r == -1)
			return -1;
		if (r == 0) {
			conn_seterr(c, _("connection closed with %zu bytes "
			    "still expected"), n);
			return -1;
		}
		buf_commit(out, (size_t)r);
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* writing                                                          */

int
conn_write(struct conn *c, const void *p, size_t n)
{
	conn_trace_out(c, p, n);
	if (buf_append(c->out, p, n) == -1) {
		conn_seterr(c, _("output buffer limit reached"));
		return -1;
	}
	if (buf_len(c->out) > CONN_OUT_HIWAT)
		return conn_flush(c);
	return 0;
}

int
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list		 ap;
	struct buf	*tmp;
	int		 rv;

	tmp = buf_create(CONN_OUT_MAX);
	va_start(ap, fmt);
	rv = buf_vprintf(tmp, fmt, ap);
	va_end(ap);
	if (rv == -1)
		conn_seterr(c, _("cannot format output"));
	else
		rv = conn_write(c, buf_data(tmp), buf_len(tmp));
	if (c->mask || c->wipe_out)
		buf_free_wipe(tmp);
	else
		buf_free(tmp);
	return rv;
}

int
conn_flush(struct conn *c)
{
	int64_t	 deadline = conn_deadline(c);
	ssize_t	 r;

	while (buf_len(c->out) > 0) {
		r = conn_io_write(c, buf_data(c->out), buf_len(c->out));
		if (r == -1)
			return -1;
		if (r < 0) {
			if (conn_wait(c, (int)r, deadline) == -1)
				return -1;
			continue;
		}
		buf_consume(c->out, (size_t)r);
	}
	if (c->wipe_out && !c->mask) {
		buf_wipe(c->out);
		c->wipe_out = 0;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* transcript                                                       */

void
conn_set_trace(struct conn *c, conn_trace_fn *fn, void *arg)
{
	c->trace = fn;
	c->trace_arg = arg;
	buf_wipe(c->tline);
}

void
conn_mask_next(struct conn *c, size_t keep)
{
	c->mask = 1;
	c->mask_keep = keep;
	c->wipe_out = 1;
}

/* Feed written bytes to the transcript, one callback per full line. */
static void
conn_trace_out(struct conn *c, const char *p, size_t n)
{
	const char	*nl;
	size_t		 k, len;
	int		 secret;

	if (c->trace == NULL) {
		/* Nobody traces: the mask still ends with its line. */
		if (c->mask && memchr(p, '\n', n) != NULL)
			c->mask = 0;
		return;
	}
	while (n > 0) {
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) : n;
		/* Over-long trace lines are cut, not refused. */
		if (buf_room(c->tline) > 0)
			(void)buf_append(c->tline, p,
			    k < buf_room(c->tline) ? k : buf_room(c->tline));
		if (nl == NULL)
			return;
		len = buf_len(c->tline);
		if (len > 0 && buf_data(c->tline)[len - 1] == '\r')
			len--;
		secret = c->mask;
		conn_trace_emit(c, CONN_TRACE_OUT, buf_data(c->tline), len);
		if (secret)
			buf_wipe(c->tline);
		else
			buf_reset(c->tline);
		p += k + 1;
		n -= k + 1;
	}
}

/* Call the trace hook for one line, applying a pending mask. */
static void
conn_trace_emit(struct conn *c, int dir, const char *line, size_t len)
{
	struct buf	*m;
	const char	*sp;
	size_t		 keep;

	if (dir != CONN_TRACE_OUT || !c->mask) {
		c->trace(c->trace_arg, dir, line, len);
		return;
	}
	c->mask = 0;
	keep = c->mask_keep;
	if (keep == CONN_MASK_WORD) {
		sp = memchr(line, ' ', len);
		keep = sp != NULL ? (size_t)(sp - line) + 1 : 0;
	}
	if (keep > len)
		keep = 0;
	m = buf_create(keep + 1);
	(void)buf_append(m, line, keep);
	(void)buf_append(m, "*", 1);
	c->trace(c->trace_arg, dir, buf_data(m), buf_len(m));
	buf_free_wipe(m);
}

/* ---------------------------------------------------------------- */
/* TCP                                                              */

struct conn *
conn_connect(const char *host, const char *port, int timeout,
    char **cause)
{
	return conn_connect_report(host, port, timeout, NULL, NULL, cause);
}

/* Tell HOOK about an attempt on AI (WHY NULL: starting). */
static void
conn_report(const struct addrinfo *ai, conn_attempt_fn hook, void *arg,
    const char *why)
{
	char	 h[NI_MAXHOST], s[NI_MAXSERV];

	if (hook == NULL)
		return;
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, h, sizeof(h), s,
	    sizeof(s), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		h[0] = '?';
		h[1] = '\0';
		s[0] = '\0';
	}
	hook(arg, h, s, why);
}

struct conn *
conn_connect_report(const char *host, const char *port, int timeout,
    conn_attempt_fn hook, void *arg, char **cause)
{
	struct addrinfo	 hints, *res, *ai;
	struct conn	*c;
	char		*err = NULL, *why, *addr, *tmp;
	int		 fd = -1, e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/* XXX getaddrinfo cannot be bounded by the timeout. */
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		*cause = xasprintf(_("%s port %s: %s"), host, port,
		    e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
		return NULL;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		conn_report(ai, hook, arg, NULL);
		if ((fd = conn_try_addr(ai, timeout, &why)) != -1)
			break;
		conn_report(ai, hook, arg, why);
		addr = conn_addr_str(ai);
		tmp = err == NULL ? xasprintf("%s: %s", addr, why) :
		    xasprintf("%s; %s: %s", err, addr, why);
		free(addr);
		free(why);
		free(err);
		err = tmp;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		*cause = err != NULL ? err : xasprintf(_("%s port %s: no "
		    "usable address"), host, port);
		return NULL;
	}
	free(err);
	c = conn_new(fd, fd, timeout);
	c->host = xstrdup(host);
	return c;
}

/* Commands are queued and sent whole: Nagle's algorithm would only
 * hold the last piece back until the peer's delayed ACK. */
static void
conn_nodelay(int fd)
{
	int	on = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* Connect to one address: fd, or -1 and *why (the reason). */
static int
conn_try_addr(const struct addrinfo *ai, int timeout, char **why)
{
	char	*reason = NULL;
	int	 fd;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (fd == -1)
		reason = xstrdup(strerror(errno));
	else if (conn_nodelay(fd), connect(fd, ai->ai_addr, ai->ai_addrlen)
	    == 0)
		return fd;
	else if (errno != EINPROGRESS && errno != EINTR)
		reason = xstrdup(strerror(errno));
	else if (conn_connect_wait(fd, timeout, &reason) == 0)
		return fd;
	if (fd != -1)
		close(fd);
	*why = reason;
	return -1;
}

/* Wait for a non-blocking connect: 0 connected, -1 and *reason. */
static int
conn_connect_wait(int fd, int timeout, char **reason)
{
	struct pollfd	 pfd;
	int64_t		 deadline, left;
	socklen_t	 len;
	int		 n, err;

	deadline = timeout > 0 ? conn_now() + (int64_t)timeout * 1000 : 0;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do {
		left = deadline ? deadline - conn_now() : -1;
		if (deadline && left <= 0) {
			*reason = xasprintf(_("timeout after %d seconds"),
			    timeout);
			return -1;
		}
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
	} while (n == 0 || (n == -1 && errno == EINTR));
	len = sizeof(err);
	if (n == -1)
		err = errno;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0)
		return 0;
	*reason = xstrdup(strerror(err));
	return -1;
}

/* "192.0.2.1 port 110" or "[2001:db8::1] port 110"; caller frees. */
static char *
conn_addr_str(const struct addrinfo *ai)
{
	char	 h[NI_MAXHOST], s[NI_MAXSERV];

	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, h, sizeof(h), s,
	    sizeof(s), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return xstrdup("?");
	if (ai->ai_family == AF_INET6)
		return xasprintf("[%s] port %s", h, s);
	return xasprintf("%s port %s", h, s);
}

/* ---------------------------------------------------------------- */
/* plugin commands                                                  */

struct conn *
conn_spawn(const char *command, int timeout, char **cause)
{
	struct conn	*c;
	int		 sv[2];
	pid_t		 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		*cause = xasprintf("socketpair: %s", strerror(errno));
		return NULL;
	}
	if ((pid = fork()) == -1) {
		*cause = xasprintf("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0)
		conn_child_exec(sv[1], command);
	close(sv[1]);
	c = conn_new(sv[0], sv[0], timeout);
	c->pid = pid;
	return c;
}

/* In the child: fd becomes stdin and stdout, then run the command. */
static void
conn_child_exec(int fd, const char *command)
{
	int	 nfd;

	/* F_DUPFD clears close-on-exec and keeps fd clear of 0 and 1. */
	if ((nfd = fcntl(fd, F_DUPFD, 3)) == -1 ||
	    dup2(nfd, STDIN_FILENO) == -1 || dup2(nfd, STDOUT_FILENO) == -1)
		_exit(127);
	close(nfd);
	/* An ignored SIGPIPE would be inherited across exec. */
	(void)signal(SIGPIPE, SIG_DFL);
	execl("/bin/sh", "sh", "-c", command, (char *)NULL);
	_exit(127);
}

/*
 * Wait up to ms milliseconds for pid to exit and reap it: 1 reaped (or
 * not our child any more), 0 still running.
 */
static int
conn_child_wait(pid_t pid, int ms)
{
	int64_t	 deadline = conn_now() + ms, left;
	pid_t	 r;
	int	 pfd = -1;

#if defined(__linux__) && defined(SYS_pidfd_open)
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	for (;;) {
		while ((r = waitpid(pid, NULL, WNOHANG)) == -1 &&
		    errno == EINTR)
			;
		left = deadline - conn_now();
		if (r != 0 || left <= 0)
			break;
		if (pfd != -1) {
			struct pollfd	 p = { pfd, POLLIN, 0 };

			(void)poll(&p, 1, (int)left);
		} else
			(void)poll(NULL, 0, 10);
	}
	if (pfd != -1)
		close(pfd);
	return r != 0;
}

/* Reap a plugin whose stdin was closed; escalate if it lingers. */
static void
conn_reap(pid_t pid)
{
	if (conn_child_wait(pid, CONN_REAP_MS))
		return;
	(void)kill(pid, SIGTERM);
	if (conn_child_wait(pid, CONN_REAP_MS))
		return;
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
}

/* ---------------------------------------------------------------- */
/* TLS                                                              */

int
conn_starttls(struct conn *c, const struct tls_opts *opts, char **cause)
{
	struct tls	*t;
	int64_t		 deadline;
	int		 r;

	if (c->tls != NULL || c->broken) {
		*cause = xstrdup(c->tls != NULL ? _("TLS is already active") :
		    _("connection unusable after failed TLS start"));
		return -1;
	}
	if (buf_len(c->out) > 0) {
		*cause = xstrdup(_("unsent data queued before TLS start"));
		c->broken = 1;
		return -1;
	}
	c->discarded = buf_len(c->in);
	buf_wipe(c->in);
	c->scanned = 0;
	c->broken = 1;
	t = tls_create(c->rfd, c->wfd, opts,
	    opts->host != NULL ? opts->host : c->host, cause);
	if (t == NULL)
		return -1;
	deadline = conn_deadline(c);
	while ((r = tls_handshake(t, cause)) != 1) {
		if (r == -1 || conn_wait(c, r, deadline) == -1) {
			if (r != -1)
				*cause = xasprintf(_("TLS handshake: %s"),
				    c->error);
			tls_free(t);
			return -1;
		}
	}
	c->tls = t;
	c->broken = 0;
	return 0;
}

size_t
conn_discarded(const struct conn *c)
{
	return c->discarded;
}

int
conn_is_tls(const struct conn *c)
{
	return c->tls != NULL;
}

const struct tls_info *
conn_tls_info(const struct conn *c)
{
	return c->tls != NULL ? tls_get_info(c->tls) : NULL;
}

const char *
conn_tls_peer(const struct conn *c)
{
	const struct tls_info	*ti = conn_tls_info(c);

	return ti != NULL ? ti->summary : NULL;
}

/* ---------------------------------------------------------------- */
/* waiting on two connections (the ODMR relay)                      */

/* One non-blocking read attempt into c->in: 1 = input, EOF or error is
 * there for the next read to report; 0 = nothing yet, *want says what
 * to poll for; -1 = buffer limit. */
static int
conn_try_fill(struct conn *c, int *want)
{
	char	*p;
	ssize_t	 r;

	if (buf_len(c->in) > 0)
		return 1;
	if ((p = in_reserve(c)) == NULL)
		return -1;
	r = conn_io_read(c, p, CONN_READSZ);
	if (r > 0)
		buf_commit(c->in, (size_t)r);
	if (r >= 0 || r == -1)
		return 1;
	*want = (int)r;
	return 0;
}

int
conn_await_either(struct conn *a, struct conn *b, int seconds)
{
	struct conn	*cs[2] = { a, b };
	struct pollfd	 pfd[2];
	int64_t		 deadline = 0, left;
	int		 i, n, want, ready;

	if (seconds > 0)
		deadline = conn_now() + (int64_t)seconds * 1000;
	for (;;) {
		ready = 0;
		for (i = 0; i < 2; i++) {
			want = CONN_WANT_READ;
			n = conn_try_fill(cs[i], &want);
			if (n == -1)
				return -1;
			if (n == 1)
				ready |= 1 << i;
			pfd[i].fd = want == CONN_WANT_WRITE ? cs[i]->wfd :
			    cs[i]->rfd;
			pfd[i].events = want == CONN_WANT_WRITE ? POLLOUT :
			    POLLIN;
			pfd[i].revents = 0;
		}
		if (ready != 0)
			return ready;
		left = -1;
		if (deadline != 0) {
			left = deadline - conn_now();
			if (left <= 0)
				return 0;
		}
		n = poll(pfd, 2, left > INT_MAX ? INT_MAX : (int)left);
		if (n == -1 && errno != EINTR) {
			conn_seterr(a, "poll: %s", strerror(errno));
			return -1;
		}
	}
}
