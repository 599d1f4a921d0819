/*
 * unit_conn.c: tests of buf, conn and tls.  TAP output.
 *
 * Peers are forked children on socketpairs, pipes or 127.0.0.1
 * sockets; they run a scripted function and _exit.  Nothing sleeps for
 * synchronisation: a writer that must not coalesce its writes waits
 * until the reader has drained the socket (SIOCOUTQ), with a deadline.
 * Each child arms alarm() as a safety net so a failing test cannot
 * leave it behind; the parent reaps every child it starts.
 *
 * TLS tests need tests/tls-certs.sh (found through $top_srcdir or next
 * to this source file) and the openssl command; without them they are
 * skipped.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#ifdef __linux__
#include <linux/sockios.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "buf.h"
#include "conn.h"
#include "tap.h"
#include "tls.h"
#include "xmalloc.h"

#define LINEMAX		1024
#define CHILD_ALARM	20

typedef void	peer_fn(int fd, const void *arg);

static char	*certdir;	/* NULL: TLS tests are skipped */

/* ---------------------------------------------------------------- */
/* helpers                                                          */

static long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void
writeall(int fd, const void *p, size_t n)
{
	const char	*s = p;
	ssize_t		 r;

	while (n > 0) {
		if ((r = write(fd, s, n)) == -1) {
			if (errno == EINTR)
				continue;
			_exit(3);
		}
		s += r;
		n -= (size_t)r;
	}
}

/* Wait (bounded) until the peer has read everything we sent on fd. */
static void
drained(int fd)
{
#ifdef SIOCOUTQ
	long	 deadline = now_ms() + 5000;
	int	 q;

	while (now_ms() < deadline) {
		if (ioctl(fd, SIOCOUTQ, &q) == -1 || q == 0)
			return;
		sched_yield();
	}
#else
	(void)fd;	/* writes may coalesce: still correct, less strict */
#endif
}

/* Fork a peer running fn on one end of a socketpair; *fd gets ours. */
static pid_t
peer_start(int *fd, peer_fn *fn, const void *arg)
{
	int	 sv[2];
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	fflush(stdout);		/* or a child may repeat buffered output */
	if ((pid = fork()) == -1)
		abort();
	if (pid == 0) {
		close(sv[0]);
		alarm(CHILD_ALARM);
		fn(sv[1], arg);
		_exit(0);
	}
	close(sv[1]);
	*fd = sv[0];
	return pid;
}

/* Reap a peer; its exit status, or -1 if it died of a signal. */
static int
peer_end(pid_t pid)
{
	int	 st;

	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -2;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Peer: send the NUL-separated fragments of a script, one by one. */
struct frags {
	const char	*data[8];
	size_t		 len[8];
};

static void
send_frags(int fd, const void *arg)
{
	const struct frags	*f = arg;
	int			 i;

	for (i = 0; i < 8 && f->data[i] != NULL; i++) {
		writeall(fd, f->data[i], f->len[i]);
		drained(fd);
	}
}

/* Peer: read until EOF and send nothing (silent server). */
static void
silent(int fd, const void *arg)
{
	char	 b[4096];

	(void)arg;
	while (read(fd, b, sizeof(b)) > 0)
		;
}

/* Peer: read until EOF, then reply "<count>\n". */
static void
counter(int fd, const void *arg)
{
	char	 b[65536], out[32];
	ssize_t	 r;
	size_t	 total = 0;

	(void)arg;
	while ((r = read(fd, b, sizeof(b))) > 0) {
		total += (size_t)r;
		if (total >= *(const size_t *)arg)
			break;
	}
	snprintf(out, sizeof(out), "%zu\n", total);
	writeall(fd, out, strlen(out));
	silent(fd, NULL);
}

static struct conn *
frag_conn(pid_t *pid, const char *a, size_t alen, const char *b,
    size_t blen)
{
	struct frags	 f;
	int		 fd;

	memset(&f, 0, sizeof(f));
	f.data[0] = a;
	f.len[0] = alen;
	f.data[1] = b;
	f.len[1] = blen;
	*pid = peer_start(&fd, send_frags, &f);
	return conn_from_fds(fd, fd, 5);
}

static int
contains(const char *s, const char *w)
{
	return s != NULL && strstr(s, w) != NULL;
}

/* ---------------------------------------------------------------- */
/* buf                                                              */

static void
test_buf(void)
{
	struct buf	*b = buf_create(10);
	size_t		 pos = 0;
	char		*p;

	ok(buf_append(b, "abc\0de", 6) == 0 && buf_len(b) == 6,
	    "buf: append with NUL");
	ok(memcmp(buf_data(b), "abc\0de", 7) == 0, "buf: data NUL-terminated");
	ok(buf_append(b, "12345", 5) == -1 && buf_len(b) == 6,
	    "buf: append past max refused, nothing appended");
	ok(buf_append(b, "1234", 4) == 0 && buf_len(b) == 10,
	    "buf: fill to max");
	ok(buf_room(b) == 0, "buf: no room left");
	buf_consume(b, 4);
	is_str(buf_data(b), "de1234", "buf: consume from the front");
	ok(buf_find(b, '3', 0, &pos) == 1 && pos == 4, "buf: find");
	ok(buf_find_eol(b, 0, &pos) == 0, "buf: no eol");
	ok(buf_printf(b, "%d", 42) == 0, "buf: printf after consume");
	is_str(buf_data(b), "de123442", "buf: printf appended");
	ok(buf_printf(b, "%s", "xyz") == -1, "buf: printf past max refused");
	buf_truncate(b, 2);
	is_str(buf_data(b), "de", "buf: truncate");
	p = buf_reserve(b, 3);
	ok(p != NULL, "buf: reserve");
	memcpy(p, "f\ng", 3);
	buf_commit(b, 3);
	ok(buf_find_eol(b, 0, &pos) == 1 && pos == 3, "buf: find eol");
	ok(buf_reserve(b, 6) == NULL, "buf: reserve past max refused");
	buf_set_max(b, 1000);
	ok(buf_set(b, "hello", 5) == 0 && buf_len(b) == 5, "buf: set");
	buf_reset(b);
	ok(buf_len(b) == 0 && *buf_data(b) == '\0', "buf: reset");
	buf_free_wipe(b);
	buf_free(NULL);
}

/* ---------------------------------------------------------------- */
/* reading                                                          */

static void
test_split(void)
{
	static const struct frags f = { {
		"hel", "lo\r", "\nwor", "ld\nx\r", "\n", "a\0b\r\n", NULL },
		{ 3, 3, 4, 5, 1, 5, 0 } };
	struct buf	*l = buf_create(LINEMAX);
	struct conn	*c;
	pid_t		 pid;
	int		 fd;

	pid = peer_start(&fd, send_frags, &f);
	c = conn_from_fds(fd, fd, 5);
	ok(conn_getline(c, l, LINEMAX) == 1, "split: line 1");
	is_str(buf_data(l), "hello", "split: CR and LF in different reads");
	ok(conn_eol(c) == CONN_EOL_CRLF, "split: CRLF reported");
	ok(conn_getline(c, l, LINEMAX) == 1, "split: line 2");
	is_str(buf_data(l), "world", "split: LF-only line");
	ok(conn_eol(c) == CONN_EOL_LF, "split: LF reported");
	ok(conn_getline(c, l, LINEMAX) == 1 && conn_eol(c) == CONN_EOL_CRLF,
	    "split: CR at the end of a read, LF in the next");
	is_str(buf_data(l), "x", "split: line 3");
	ok(conn_getline(c, l, LINEMAX) == 1 && buf_len(l) == 3 &&
	    memcmp(buf_data(l), "a\0b", 3) == 0, "split: NUL inside a line");
	ok(conn_getline(c, l, LINEMAX) == 0, "split: EOF");
	conn_free(c);
	ok(peer_end(pid) == 0, "split: peer done");
	buf_free(l);
}

static void
test_long(void)
{
	struct buf	*l = buf_create(LINEMAX);
	struct conn	*c;
	pid_t		 pid;
	char		*big;

	c = frag_conn(&pid, "12345678\r\n", 10, "123456789\r\nok\n", 14);
	ok(conn_getline(c, l, 8) == 1 && buf_len(l) == 8,
	    "long: line of exactly max bytes plus CRLF accepted");
	ok(conn_getline(c, l, 8) == -1, "long: max + 1 bytes refused");
	ok(contains(conn_error(c), "longer"), "long: error says why (%s)",
	    conn_error(c));
	conn_free(c);
	peer_end(pid);

	/* 200 KB without a line end: refused without reading it all. */
	big = malloc(200000);
	memset(big, 'A', 200000);
	c = frag_conn(&pid, big, 200000, NULL, 0);
	ok(conn_getline(c, l, 1000) == -1, "long: unterminated flood refused");
	ok(conn_pending(c) < 1000 + 2 + 16384 + 1,
	    "long: memory bounded (%zu pending)", conn_pending(c));
	conn_free(c);
	peer_end(pid);
	free(big);

	c = frag_conn(&pid, "abcdefghij\r\nxy\n", 15, NULL, 0);
	ok(conn_getchunk(c, l, 4) == 1 && conn_eol(c) == CONN_EOL_NONE,
	    "chunk: first piece");
	is_str(buf_data(l), "abcd", "chunk: first piece content");
	ok(conn_getchunk(c, l, 4) == 1 && conn_eol(c) == CONN_EOL_NONE &&
	    strcmp(buf_data(l), "efgh") == 0, "chunk: second piece");
	ok(conn_getchunk(c, l, 4) == 1 && conn_eol(c) == CONN_EOL_CRLF &&
	    strcmp(buf_data(l), "ij") == 0, "chunk: tail with CRLF");
	ok(conn_getchunk(c, l, 4) == 1 && conn_eol(c) == CONN_EOL_LF &&
	    strcmp(buf_data(l), "xy") == 0, "chunk: short line whole");
	conn_free(c);
	peer_end(pid);
	buf_free(l);
}

static void
test_read(void)
{
	struct buf	*l = buf_create(LINEMAX), *o = buf_create(100);
	struct conn	*c;
	pid_t		 pid;

	c = frag_conn(&pid, "{5}\r\nab\r\ncX\r\n0123", 17, "456789", 6);
	ok(conn_getline(c, l, LINEMAX) == 1 &&
	    strcmp(buf_data(l), "{5}") == 0, "read: literal header");
	ok(conn_read(c, o, 5) == 0 && buf_len(o) == 5 &&
	    memcmp(buf_data(o), "ab\r\nc", 5) == 0,
	    "read: exact count from the buffer, CRLF untouched");
	ok(conn_getline(c, l, LINEMAX) == 1 && strcmp(buf_data(l), "X") == 0,
	    "read: line after the literal");
	buf_reset(o);
	ok(conn_read(c, o, 10) == 0 && strcmp(buf_data(o), "0123456789") == 0,
	    "read: count spanning buffered and later bytes");
	ok(conn_read(c, o, 1) == -1 && contains(conn_error(c), "closed"),
	    "read: EOF before the count is an error");
	conn_free(c);
	peer_end(pid);

	c = frag_conn(&pid, "partial", 7, NULL, 0);
	ok(conn_getline(c, l, LINEMAX) == -1, "eof: EOF mid-line is an error");
	ok(contains(conn_error(c), "middle"), "eof: says so (%s)",
	    conn_error(c));
	ok(conn_getline(c, l, LINEMAX) == 0, "eof: then plain EOF");
	conn_free(c);
	peer_end(pid);

	c = frag_conn(&pid, "abc", 3, NULL, 0);
	buf_reset(o);
	ok(conn_read(c, o, 200) == -1, "read: count beyond buffer max refused");
	conn_free(c);
	peer_end(pid);
	buf_free(l);
	buf_free(o);
}

static void
test_timeout(void)
{
	struct buf	*l = buf_create(LINEMAX);
	struct conn	*c;
	char		*big;
	pid_t		 pid;
	int		 sv[2], rv;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	c = conn_from_fds(sv[0], sv[0], 1);
	ok(conn_getline(c, l, LINEMAX) == -1, "timeout: silent peer");
	ok(contains(conn_error(c), "timeout"), "timeout: error text (%s)",
	    conn_error(c));
	ok(conn_read(c, l, 3) == -1 && contains(conn_error(c), "timeout"),
	    "timeout: counted read");
	/* A peer that never reads: the flush must give up, not hang. */
	big = calloc(1, 8 << 20);
	rv = conn_write(c, big, 8 << 20);
	if (rv == 0)
		rv = conn_flush(c);
	ok(rv == -1 && contains(conn_error(c), "timeout"),
	    "timeout: flush to a peer that does not read");
	free(big);
	conn_free(c);
	close(sv[1]);

	/* A handshake that never starts (CVE-2011-1947). */
	pid = peer_start(&sv[0], silent, NULL);
	c = conn_from_fds(sv[0], sv[0], 1);
	{
		struct tls_opts	 o;
		char		*cause = NULL;

		tls_opts_init(&o);
		o.host = "localhost";
		ok(conn_starttls(c, &o, &cause) == -1 &&
		    contains(cause, "timeout"),
		    "timeout: silent TLS handshake (%s)", cause);
		free(cause);
		ok(conn_getline(c, l, 10) == -1, "timeout: no plaintext "
		    "fallback after a failed TLS start");
	}
	conn_free(c);
	ok(peer_end(pid) == 0, "timeout: peer done");
	buf_free(l);
}

/* ---------------------------------------------------------------- */
/* writing and transcript                                           */

struct trace {
	char	*line[16];
	int	 n;
};

static void
trace_cb(void *arg, int dir, const char *line, size_t len)
{
	struct trace	*t = arg;
	char		*s;

	if (t->n >= 16)
		return;
	s = malloc(len + 3);
	s[0] = (char)dir;
	s[1] = ' ';
	memcpy(s + 2, line, len);
	s[len + 2] = '\0';
	t->line[t->n++] = s;
}

static void
test_write(void)
{
	static const char	 want[] = "A1 NOOP\r\nA2 CAPABILITY\r\n"
	    "A3 LOGOUT\r\n";
	struct pollfd		 pfd;
	struct conn		*c;
	char			 got[128];
	ssize_t			 r;
	int			 sv[2], n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	c = conn_from_fds(sv[0], sv[0], 5);
	ok(conn_printf(c, "A%d NOOP\r\n", 1) == 0 &&
	    conn_printf(c, "A%d CAPABILITY\r\n", 2) == 0 &&
	    conn_write(c, "A3 LOGOUT\r\n", 11) == 0, "write: queue three");
	pfd.fd = sv[1];
	pfd.events = POLLIN;
	ok(poll(&pfd, 1, 0) == 0, "write: nothing sent before flush");
	ok(conn_flush(c) == 0, "write: flush");
	ok(ioctl(sv[1], FIONREAD, &n) == 0 && n == (int)strlen(want),
	    "write: all %d bytes arrived at once", n);
	r = read(sv[1], got, sizeof(got) - 1);
	got[r > 0 ? r : 0] = '\0';
	is_str(got, want, "write: bytes in order");
	ok(conn_flush(c) == 0, "write: empty flush");
	conn_free(c);
	close(sv[1]);
}

static void
test_bulk(void)
{
	static size_t	 total = 3 * 1000 * 1000 + 7;
	struct buf	*l = buf_create(LINEMAX);
	struct conn	*c;
	char		*big;
	pid_t		 pid;
	int		 fd;

	pid = peer_start(&fd, counter, &total);
	c = conn_from_fds(fd, fd, 5);
	big = malloc(total);
	memset(big, 'x', total);
	ok(conn_write(c, big, total) == 0 && conn_flush(c) == 0,
	    "bulk: 3 MB written");
	ok(conn_getline(c, l, LINEMAX) == 1 &&
	    strtoul(buf_data(l), NULL, 10) == total, "bulk: peer got %s",
	    buf_data(l));
	free(big);
	conn_free(c);
	peer_end(pid);
	buf_free(l);
}

static void
test_trace(void)
{
	static const char	 sent[] = "USER bob\r\nPASS secret\r\n"
	    "A1 LOGIN bob hunter2\r\ndGVzdA==\r\nNOOP\r\n";
	struct trace		 t = { { NULL }, 0 };
	struct buf		*l = buf_create(LINEMAX);
	struct conn		*c;
	char			 got[256];
	ssize_t			 r;
	int			 sv[2], i;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	c = conn_from_fds(sv[0], sv[0], 5);
	conn_set_trace(c, trace_cb, &t);
	conn_printf(c, "USER %s\r\n", "bob");
	conn_mask_next(c, CONN_MASK_WORD);
	conn_printf(c, "PASS %s\r\n", "secret");
	conn_mask_next(c, strlen("A1 LOGIN bob "));
	conn_printf(c, "A1 LOGIN bob %s\r\n", "hunter2");
	conn_mask_next(c, CONN_MASK_WORD);
	conn_write(c, "dGVzdA==\r\n", 10);
	conn_write(c, "NO", 2);
	conn_write(c, "OP\r\n", 4);
	conn_flush(c);
	writeall(sv[1], "+OK hi\r\n", 8);
	conn_getline(c, l, LINEMAX);
	ok(t.n == 6, "trace: six lines (%d)", t.n);
	is_str(t.line[0], "> USER bob", "trace: plain command");
	is_str(t.line[1], "> PASS *", "trace: masked after the command word");
	is_str(t.line[2], "> A1 LOGIN bob *", "trace: masked after a prefix");
	is_str(t.line[3], "> *", "trace: one-word secret fully masked");
	is_str(t.line[4], "> NOOP", "trace: line written in two pieces");
	is_str(t.line[5], "< +OK hi", "trace: received line");
	r = read(sv[1], got, sizeof(got) - 1);
	got[r > 0 ? r : 0] = '\0';
	is_str(got, sent, "trace: the wire carries the real bytes");
	for (i = 0; i < t.n; i++)
		free(t.line[i]);
	conn_free(c);
	close(sv[1]);
	buf_free(l);
}

/* ---------------------------------------------------------------- */
/* spawn and connect                                                */

static void
test_spawn(void)
{
	struct buf	*l = buf_create(LINEMAX);
	struct conn	*c;
	char		*cause = NULL;
	long		 t0;

	c = conn_spawn("cat", 5, &cause);
	ok(c != NULL, "spawn: cat");
	conn_printf(c, "hello\r\n");
	ok(conn_flush(c) == 0 && conn_getline(c, l, LINEMAX) == 1 &&
	    strcmp(buf_data(l), "hello") == 0, "spawn: echoed");
	conn_free(c);
	ok(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD,
	    "spawn: child reaped");

	c = conn_spawn("printf '+OK ready\\r\\n'; read x; "
	    "printf 'got %s\\n' \"$x\"; exit 3", 5, &cause);
	ok(conn_getline(c, l, LINEMAX) == 1 &&
	    strcmp(buf_data(l), "+OK ready") == 0, "spawn: shell greeting");
	conn_printf(c, "abc\n");
	ok(conn_flush(c) == 0 && conn_getline(c, l, LINEMAX) == 1 &&
	    strcmp(buf_data(l), "got abc") == 0, "spawn: shell reply");
	ok(conn_getline(c, l, LINEMAX) == 0, "spawn: EOF when it exits");
	conn_free(c);

	/* A plugin that ignores stdin EOF is terminated. */
	t0 = now_ms();
	c = conn_spawn("exec sleep 60", 5, &cause);
	conn_free(c);
	ok(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD,
	    "spawn: lingering child terminated and reaped (%ld ms)",
	    now_ms() - t0);
	buf_free(l);
}

/* A listening socket on 127.0.0.1; *port gets its number. */
static int
listener(char *port, size_t len)
{
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);
	int			 fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 4) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == -1)
		abort();
	snprintf(port, len, "%u", ntohs(sin.sin_port));
	return fd;
}

static void
test_connect(void)
{
	struct buf	*l = buf_create(LINEMAX);
	struct conn	*c;
	char		 port[16], *cause = NULL;
	int		 lfd, afd;

	lfd = listener(port, sizeof(port));
	c = conn_connect("127.0.0.1", port, 5, &cause);
	ok(c != NULL, "connect: 127.0.0.1 port %s", port);
	afd = accept(lfd, NULL, NULL);
	writeall(afd, "+OK tcp\r\n", 9);
	ok(conn_getline(c, l, LINEMAX) == 1 &&
	    strcmp(buf_data(l), "+OK tcp") == 0, "connect: greeting read");
	is_str(conn_host(c), "127.0.0.1", "connect: host remembered");
	conn_free(c);
	close(afd);
	close(lfd);		/* the port is now closed */

	c = conn_connect("127.0.0.1", port, 5, &cause);
	ok(c == NULL && contains(cause, "refused"),
	    "connect: closed port (%s)", cause);
	free(cause);
	cause = NULL;
	c = conn_connect("127.0.0.1", "no-such-service-x", 5, &cause);
	ok(c == NULL && cause != NULL, "connect: unknown service (%s)",
	    cause);
	free(cause);
	buf_free(l);
}

/* ---------------------------------------------------------------- */
/* TLS                                                              */

enum srv_mode { SRV_IMPLICIT, SRV_CLIENTCERT };

struct srv {
	const char	*name;		/* certificate base name */
	const char	*pre;		/* plaintext sent before the handshake */
	int		 maxver;	/* 0 or highest protocol version */
	enum srv_mode	 mode;
};

static char *
certpath(const char *name, const char *ext)
{
	return xasprintf("%s/%s.%s", certdir, name, ext);
}

/* Read a line from ssl into b (at most n-1 bytes); length or -1. */
static int
ssl_line(SSL *ssl, char *b, int n)
{
	int	 i = 0;

	while (i < n - 1 && SSL_read(ssl, b + i, 1) == 1)
		if (b[i++] == '\n')
			break;
	b[i] = '\0';
	return i > 0 ? i : -1;
}

/* A TLS server peer: greet, echo one line, close. */
static void
tls_server(int fd, const void *arg)
{
	const struct srv	*s = arg;
	SSL_CTX			*ctx = SSL_CTX_new(TLS_server_method());
	char			*crt = certpath(s->name, "pem");
	char			*key = certpath(s->name, "key");
	char			*ca = certpath("ca", "pem");
	char			 b[512], out[700];
	SSL			*ssl;
	X509			*peer;

	if (SSL_CTX_use_certificate_file(ctx, crt, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		_exit(2);
	if (s->maxver)
		SSL_CTX_set_max_proto_version(ctx, s->maxver);
	if (s->mode == SRV_CLIENTCERT) {
		SSL_CTX_load_verify_locations(ctx, ca, NULL);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	if (s->pre != NULL)
		writeall(fd, s->pre, strlen(s->pre));
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1)
		_exit(1);
	snprintf(out, sizeof(out), "* OK hello\r\n");
	if ((peer = SSL_get_peer_certificate(ssl)) != NULL) {
		X509_NAME_oneline(X509_get_subject_name(peer), b, sizeof(b));
		snprintf(out, sizeof(out), "* OK hello %s\r\n", b);
		X509_free(peer);
	}
	SSL_write(ssl, out, (int)strlen(out));
	if (ssl_line(ssl, b, sizeof(b)) > 0) {
		snprintf(out, sizeof(out), "echo: %s", b);
		SSL_write(ssl, out, (int)strlen(out));
	}
	SSL_shutdown(ssl);
	_exit(0);
}

/*
 * Start TLS against a server using certificate name; fills *cause on
 * failure.  Returns the conn (caller frees) and the server pid.
 */
static struct conn *
tls_try(const struct srv *s, const struct tls_opts *o, char **cause,
    pid_t *pid)
{
	struct conn	*c;
	int		 fd;

	*cause = NULL;
	*pid = peer_start(&fd, tls_server, s);
	c = conn_from_fds(fd, fd, 5);
	(void)conn_starttls(c, o, cause);
	return c;
}

/* 1 if a TLS session with these settings works end to end. */
static int
tls_works(const struct srv *s, const struct tls_opts *o, char **cause)
{
	struct buf	*l = buf_create(LINEMAX);
	struct conn	*c;
	pid_t		 pid;
	int		 good = 0;

	c = tls_try(s, o, cause, &pid);
	if (*cause == NULL && conn_getline(c, l, LINEMAX) == 1 &&
	    strncmp(buf_data(l), "* OK hello", 10) == 0) {
		conn_printf(c, "ping\r\n");
		good = conn_flush(c) == 0 &&
		    conn_getline(c, l, LINEMAX) == 1 &&
		    strcmp(buf_data(l), "echo: ping") == 0;
	}
	conn_free(c);
	peer_end(pid);
	buf_free(l);
	return good;
}

/* The certificate's fingerprint, "AA:BB:.." (lower case if lc). */
static char *
fingerprint(const char *name, const EVP_MD *md, int lc)
{
	unsigned char	 d[EVP_MAX_MD_SIZE];
	unsigned int	 n, i;
	char		*path = certpath(name, "pem"), *s;
	FILE		*f = fopen(path, "r");
	X509		*x;

	x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (x == NULL || X509_digest(x, md, d, &n) != 1)
		abort();
	s = malloc(n * 3 + 1);
	for (i = 0; i < n; i++)
		snprintf(s + i * 3, 4, lc ? "%02x:" : "%02X:", d[i]);
	s[n * 3 - 1] = '\0';
	X509_free(x);
	fclose(f);
	free(path);
	return s;
}

/*
 * One TLS case against certificate name: want NULL = must work end to
 * end; otherwise must fail with want in the reason.
 */
static void
tls_case(const char *name, const struct tls_opts *o, const char *want,
    const char *what)
{
	struct srv	 s = { name, NULL, 0, SRV_IMPLICIT };
	char		*cause;
	int		 good;

	good = tls_works(&s, o, &cause);
	if (want == NULL)
		ok(good, "tls: %s (%s)", what, cause ? cause : "ok");
	else
		ok(!good && contains(cause, want), "tls: %s (%s)", what,
		    cause ? cause : "no error");
	free(cause);
}

static void
test_tls_verify(void)
{
	struct tls_opts	 o;
	char		*ca = certpath("ca", "pem");
	char		*other = certpath("other-ca", "pem");

	tls_opts_init(&o);
	o.cafile = ca;
	o.host = "localhost";
	tls_case("good", &o, NULL, "good certificate verifies");
	tls_case("expired", &o, "expired", "expired certificate fails");
	tls_case("selfsigned", &o, "self", "self-signed fails");
	tls_case("wronghost", &o, "!= localhost\nServer certificate "
	    "verification error: hostname mismatch",
	    "wrong host fails");
	o.host = "127.0.0.1";
	tls_case("good", &o, NULL, "IP address SAN");
	o.host = "localhost.";
	tls_case("good", &o, NULL, "trailing dot in the host name");
	o.host = "other.example";
	tls_case("good", &o, "mismatch",
	    "good certificate, other expected name");
	o.host = "localhost";
	o.cafile = other;
	tls_case("good", &o, "local issuer", "unknown CA fails");
	o.cafile = "/nonexistent/ca.pem";
	tls_case("good", &o, "/nonexistent/ca.pem", "unreadable sslcertfile");
	o.cafile = NULL;
	setenv("SSL_CERT_FILE", ca, 1);
	setenv("SSL_CERT_DIR", "/nonexistent-dir", 1);
	tls_case("good", &o, NULL, "SSL_CERT_FILE honoured");
	unsetenv("SSL_CERT_FILE");
	unsetenv("SSL_CERT_DIR");
	free(ca);
	free(other);
}

static void
test_tls_verify_off(void)
{
	struct srv		 s = { "selfsigned", NULL, 0, SRV_IMPLICIT };
	struct tls_opts		 o;
	struct conn		*c;
	const struct tls_info	*ti;
	struct buf		*l = buf_create(LINEMAX);
	char			*cause, *md5, *sha;
	pid_t			 pid;

	md5 = fingerprint("selfsigned", EVP_md5(), 0);
	sha = fingerprint("selfsigned", EVP_sha256(), 0);
	tls_opts_init(&o);
	o.host = "localhost";
	o.verify = 0;
	c = tls_try(&s, &o, &cause, &pid);
	ti = conn_tls_info(c);
	ok(cause == NULL && ti != NULL, "tls: verify off accepts self-signed");
	ok(ti != NULL && contains(ti->warning, "self"),
	    "tls: ... and keeps the failure as a warning (%s)",
	    ti ? ti->warning : "");
	ok(ti != NULL && contains(ti->summary, "CN=localhost") &&
	    contains(ti->summary, sha), "tls: summary (%s)",
	    ti ? ti->summary : "");
	is_str(conn_tls_peer(c), ti ? ti->summary : "", "tls: conn_tls_peer");
	ok(ti != NULL && strcmp(ti->md5, md5) == 0 && !ti->fp_matched,
	    "tls: MD5 fingerprint reported");
	ok(conn_getline(c, l, LINEMAX) == 1, "tls: data after verify off");
	conn_free(c);
	peer_end(pid);
	free(cause);

	o.fingerprint = md5;
	c = tls_try(&s, &o, &cause, &pid);
	ti = conn_tls_info(c);
	ok(cause == NULL && ti != NULL && ti->fp_matched,
	    "tls: MD5 pin + verify off accepts self-signed (%s)",
	    cause ? cause : "ok");
	conn_free(c);
	peer_end(pid);
	free(cause);
	free(md5);
	free(sha);
	buf_free(l);
}

static void
test_tls_pin(void)
{
	struct tls_opts	 o;
	char		*md5lc, *sha, *ca = certpath("ca", "pem");

	tls_opts_init(&o);
	o.cafile = ca;
	o.host = "localhost";
	o.verify = 0;
	o.fingerprint = md5lc = fingerprint("selfsigned", EVP_md5(), 1);
	tls_case("selfsigned", &o, NULL, "lower-case MD5 pin accepted");
	o.fingerprint = sha = fingerprint("selfsigned", EVP_sha256(), 0);
	tls_case("selfsigned", &o, NULL, "SHA-256 pin accepted");
	o.fingerprint = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
	tls_case("selfsigned", &o, "fingerprints do not match!",
	    "wrong pin fails even with verify off");
	o.fingerprint = "AA:BB:CC";
	tls_case("selfsigned", &o, "malformed", "malformed pin refused");
	o.verify = 1;
	o.fingerprint = sha;
	tls_case("selfsigned", &o, "self", "a pin does not excuse "
	    "chain errors with verify on, as in the reference");
	free(sha);
	o.fingerprint = sha = fingerprint("good", EVP_sha256(), 0);
	tls_case("good", &o, NULL, "pin + verify on, good certificate");
	free(sha);
	free(md5lc);
	free(ca);
}

static void
test_tls_starttls(void)
{
	struct srv	 s = { "good", "OK begin TLS\r\nINJECTED\r\n", 0,
	    SRV_IMPLICIT };
	struct tls_opts	 o;
	struct buf	*l = buf_create(LINEMAX);
	struct conn	*c;
	char		*cause = NULL, *ca = certpath("ca", "pem");
	pid_t		 pid;
	int		 fd;

	tls_opts_init(&o);
	o.cafile = ca;
	o.host = "localhost";
	pid = peer_start(&fd, tls_server, &s);
	c = conn_from_fds(fd, fd, 5);
	ok(conn_getline(c, l, LINEMAX) == 1 &&
	    strcmp(buf_data(l), "OK begin TLS") == 0, "starttls: reply read");
	ok(conn_pending(c) == 10, "starttls: injected bytes buffered (%zu)",
	    conn_pending(c));
	ok(conn_starttls(c, &o, &cause) == 0, "starttls: handshake (%s)",
	    cause ? cause : "ok");
	ok(conn_discarded(c) == 10, "starttls: 10 plaintext bytes discarded");
	ok(conn_is_tls(c), "starttls: TLS active");
	ok(contains(conn_tls_peer(c), "issuer CN=Test CA,O=fetchmail test"),
	    "starttls: peer described (%s)", conn_tls_peer(c));
	ok(conn_getline(c, l, LINEMAX) == 1 &&
	    strcmp(buf_data(l), "* OK hello") == 0,
	    "starttls: first line comes from TLS, not the injection");
	ok(conn_starttls(c, &o, &cause) == -1, "starttls: not twice");
	free(cause);
	conn_free(c);
	peer_end(pid);

	/* Output queued before STARTTLS would leak in clear. */
	s.pre = NULL;
	pid = peer_start(&fd, tls_server, &s);
	c = conn_from_fds(fd, fd, 5);
	conn_printf(c, "LEAK\r\n");
	cause = NULL;
	ok(conn_starttls(c, &o, &cause) == -1 && contains(cause, "unsent"),
	    "starttls: queued output refused (%s)", cause);
	free(cause);
	conn_free(c);
	peer_end(pid);
	free(ca);
	buf_free(l);
}

static void
test_tls_proto(void)
{
	struct srv		 s = { "good", NULL, TLS1_2_VERSION,
	    SRV_IMPLICIT };
	struct tls_opts		 o;
	struct conn		*c;
	const struct tls_info	*ti;
	char			*cause, *ca = certpath("ca", "pem");
	pid_t			 pid;

	ok(tls_proto_known("TLS1.2+") && tls_proto_known("auto") &&
	    tls_proto_known("SSL23") && tls_proto_known("tls1.3") &&
	    tls_proto_known("Tls1.1+") && tls_proto_known("ssl3") &&
	    tls_proto_known(NULL) && tls_proto_known(""),
	    "proto: reference names known, case-insensitive");
	ok(!tls_proto_known("tls1.4") && !tls_proto_known("sslv3"),
	    "proto: unknown names reported");
	tls_opts_init(&o);
	o.cafile = ca;
	o.host = "localhost";
	o.proto = "TLS1.3";
	ok(!tls_works(&s, &o, &cause) && cause != NULL,
	    "proto: TLS1.3 client vs TLS1.2 server fails (%s)", cause);
	free(cause);
	o.proto = "tls1.2";
	s.maxver = 0;
	c = tls_try(&s, &o, &cause, &pid);
	ti = conn_tls_info(c);
	ok(ti != NULL && strcmp(ti->version, "TLSv1.2") == 0 && ti->bits > 0,
	    "proto: tls1.2 pins the version (%s %s %d)",
	    ti ? ti->version : "-", ti ? ti->cipher : "-", ti ? ti->bits : 0);
	conn_free(c);
	peer_end(pid);
	free(cause);
	o.proto = NULL;
	c = tls_try(&s, &o, &cause, &pid);
	ti = conn_tls_info(c);
	ok(ti != NULL && strcmp(ti->version, "TLSv1.3") == 0,
	    "proto: default negotiates TLSv1.3");
	conn_free(c);
	peer_end(pid);
	free(cause);
	o.proto = "tls1.1";
	ok(!tls_works(&s, &o, &cause), "proto: tls1.1 vs a modern server "
	    "fails (%s)", cause);
	free(cause);
	free(ca);
}

static void
test_tls_clientcert(void)
{
	struct srv	 s = { "good", NULL, 0, SRV_CLIENTCERT };
	struct tls_opts	 o;
	struct buf	*l = buf_create(LINEMAX);
	struct conn	*c;
	char		*cause, *ca = certpath("ca", "pem");
	char		*crt = certpath("good", "pem");
	char		*key = certpath("good", "key");
	pid_t		 pid;

	tls_opts_init(&o);
	o.cafile = ca;
	o.host = "localhost";
	o.cert = crt;
	o.key = key;
	c = tls_try(&s, &o, &cause, &pid);
	ok(cause == NULL && conn_getline(c, l, LINEMAX) == 1 &&
	    contains(buf_data(l), "CN=localhost"),
	    "clientcert: presented (%s)", buf_data(l));
	conn_free(c);
	peer_end(pid);
	free(cause);
	o.cert = o.key = NULL;
	ok(!tls_works(&s, &o, &cause), "clientcert: required but missing");
	free(cause);
	o.cert = ca;
	o.key = key;
	c = tls_try(&s, &o, &cause, &pid);
	ok(contains(cause, "mismatch") || contains(cause, "does not match"),
	    "clientcert: key not matching the certificate (%s)",
	    cause);
	conn_free(c);
	peer_end(pid);
	free(cause);
	free(ca);
	free(crt);
	free(key);
	buf_free(l);
}

/* Implicit TLS over TCP: the name checked defaults to the host. */
static void
test_tls_tcp(void)
{
	struct srv	 s = { "good", NULL, 0, SRV_IMPLICIT };
	struct tls_opts	 o;
	struct buf	*l = buf_create(LINEMAX);
	struct conn	*c;
	char		 port[16], *cause = NULL, *ca = certpath("ca", "pem");
	int		 lfd, afd;
	pid_t		 pid;

	lfd = listener(port, sizeof(port));
	fflush(stdout);
	if ((pid = fork()) == 0) {
		alarm(CHILD_ALARM);
		afd = accept(lfd, NULL, NULL);
		tls_server(afd, &s);
	}
	close(lfd);
	tls_opts_init(&o);
	o.cafile = ca;
	c = conn_connect("127.0.0.1", port, 5, &cause);
	ok(c != NULL && conn_starttls(c, &o, &cause) == 0,
	    "tcp: implicit TLS to 127.0.0.1 checks the IP SAN (%s)",
	    cause ? cause : "ok");
	ok(conn_getline(c, l, LINEMAX) == 1, "tcp: greeting over TLS");
	conn_printf(c, "bye\r\n");
	ok(conn_flush(c) == 0 && conn_getline(c, l, LINEMAX) == 1 &&
	    strcmp(buf_data(l), "echo: bye") == 0, "tcp: echo");
	ok(conn_getline(c, l, LINEMAX) == 0, "tcp: EOF after close_notify");
	conn_free(c);
	peer_end(pid);
	free(cause);
	free(ca);
	buf_free(l);
}

/* ---------------------------------------------------------------- */
/* setup                                                            */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

/* Make the test PKI with tls-certs.sh; sets certdir or leaves it NULL. */
static void
make_certs(void)
{
	const char	*top = getenv("top_srcdir");
	char		*script, *dir, *slash;
	const char	*tmp = getenv("TMPDIR");
	char		*tmpl;
	pid_t		 pid;
	int		 st;

	if (top != NULL)
		script = xasprintf("%s/tests/tls-certs.sh", top);
	else {
		dir = xstrdup(__FILE__);
		slash = strrchr(dir, '/');
		if (slash != NULL)
			*slash = '\0';
		script = xasprintf("%s/tls-certs.sh", slash ? dir : ".");
		free(dir);
	}
	tmpl = xasprintf("%s/unit_conn.XXXXXX", tmp != NULL && *tmp != '\0' ?
	    tmp : "/tmp");
	if (access(script, R_OK) == 0 && mkdtemp(tmpl) != NULL) {
		fflush(stdout);
		if ((pid = fork()) == 0) {
			execl("/bin/sh", "sh", script, tmpl, (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		    WEXITSTATUS(st) == 0)
			certdir = xstrdup(tmpl);
		else
			nftw(tmpl, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	}
	free(tmpl);
	free(script);
}

/* Number of open file descriptors. */
static int
count_fds(void)
{
	int	 fd, n = 0;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

int
main(void)
{
	int	 nfd;

	signal(SIGPIPE, SIG_IGN);
	nfd = count_fds();
	test_buf();
	test_split();
	test_long();
	test_read();
	test_write();
	test_bulk();
	test_trace();
	test_spawn();
	test_connect();
	test_timeout();
	make_certs();
	if (certdir == NULL)
		ok(1, "# SKIP TLS tests: cannot make certificates");
	else {
		test_tls_verify();
		test_tls_verify_off();
		test_tls_pin();
		test_tls_starttls();
		test_tls_proto();
		test_tls_clientcert();
		test_tls_tcp();
		nftw(certdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
		free(certdir);
	}
	ok(count_fds() == nfd, "no file descriptor leaked (%d, %d)",
	    count_fds(), nfd);
	ok(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD,
	    "no child left behind");
	return done_testing();
}
