/*
 * unit_sink.c: tests of the delivery sinks (SMTP, LMTP, MDA, BSMTP).
 * TAP output.
 *
 * SMTP/LMTP peers are forked children serving a listening socket
 * (127.0.0.1 or a Unix socket) from a small script (struct mta): fixed
 * replies per command, a list of per-RCPT replies, faults.  They record
 * every line they receive, byte for byte, in a file the test compares
 * after reaping the child; "{S}" marks a new session and "{P}" a MAIL
 * command that arrived together with later commands (pipelining).  MDA
 * tests run real shell commands that write their arguments and input
 * to files.  Nothing sleeps for synchronisation; children arm alarm()
 * as a safety net and are all reaped.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "conn.h"
#include "sink.h"
#include "tap.h"
#include "xmalloc.h"

#define CHILD_ALARM	30
#define PEER_LINEMAX	65536
#define MAXRCPT		8

/* ---------------------------------------------------------------- */
/* helpers                                                          */

static char	 tmpdir[] = "/tmp/unit_sink.XXXXXX";
static int	 nrec;
static struct buf *tracebuf;

/* Transcript hook: "> line" / "< line", one per line. */
static void
trace_cb(void *arg, int dir, const char *line, size_t len)
{
	(void)arg;
	(void)buf_printf(tracebuf, "%c ", dir);
	(void)buf_append(tracebuf, line, len);
	(void)buf_append(tracebuf, "\n", 1);
}

/* Debug hook: keeps the last line. */
static char	*lastdebug;

static void
debug_cb(void *arg, const char *line)
{
	(void)arg;
	free(lastdebug);
	lastdebug = xstrdup(line);
}

/* A path in the test directory (static storage, 4 slots). */
static const char *
tpath(const char *name)
{
	static char	 slot[4][512];
	static int	 i;

	i = (i + 1) % 4;
	snprintf(slot[i], sizeof(slot[i]), "%s/%s", tmpdir, name);
	return slot[i];
}

/* Whole contents of a file (allocated, NUL-terminated), "" if none. */
static char *
slurp(const char *path, size_t *lenp)
{
	struct buf	*b = buf_create(SIZE_MAX / 4);
	char		 tmp[65536];
	ssize_t		 r;
	char		*s;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) != -1) {
		while ((r = read(fd, tmp, sizeof(tmp))) > 0)
			(void)buf_append(b, tmp, (size_t)r);
		close(fd);
	}
	if (lenp != NULL)
		*lenp = buf_len(b);
	s = xmalloc(buf_len(b) + 1);
	memcpy(s, buf_data(b), buf_len(b) + 1);
	buf_free(b);
	return s;
}

static void
spew(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

static int
count_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*e;
	int		 n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* One piece of a message as the driver hands it over. */
struct piece {
	const char	*p;
	int		 eol;
};

#define CRLF	CONN_EOL_CRLF
#define LF	CONN_EOL_LF
#define NONE	CONN_EOL_NONE

/* Feed pieces (up to a NULL p) to a sink: the first failure, or OK. */
static enum sink_result
feed(struct sink *s, const struct piece *pc)
{
	enum sink_result	 r;

	for (; pc->p != NULL; pc++)
		if ((r = sink_line(s, pc->p, strlen(pc->p), pc->eol)) !=
		    SINK_OK)
			return r;
	return SINK_OK;
}

/* A sink_conf with test defaults. */
static void
conf_init(struct sink_conf *c, enum sink_kind kind)
{
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->heloname = "testhost";
	c->timeout = 10;
	c->trace = trace_cb;
}

/* ---------------------------------------------------------------- */
/* scripted SMTP/LMTP peer                                          */

struct mta {
	const char	*greeting;	/* default "220 peer ready" */
	const char	*ehlo;		/* EHLO/LHLO reply; "250 peer" */
	const char	*helo;		/* HELO reply; "250 peer" */
	const char	*mail;		/* MAIL reply; "250 ok" */
	const char	*mail1;		/* MAIL reply in session 1 only */
	const char	*rcpt[MAXRCPT];	/* RCPT replies; "250 ok" */
	const char	*data;		/* DATA reply; "354 go ahead" */
	const char	*eom;		/* end-of-data reply(s); "250 queued" */
	int		 sessions;	/* connections to serve; 1 */
	bool		 drop_in_data;	/* hang up after one data line */
	bool		 pipe_wait;	/* wait (bounded) for pipelined data */
	/* AUTH: the replies to "AUTH ..." and to each line sent after a
	 * 334, in order; "535 no" when they run out */
	const char	*auth[4];
	bool		 strict_data;	/* DATA without an accepted RCPT:
					 * "554 no valid recipients" */
	bool		 rcpt_session;	/* rcpt[] counts RCPTs of the whole
					 * session, not of one transaction */
};

struct peer {
	pid_t		 pid;
	int		 port;
	char		 rec[512];
};

struct rd {
	int		 fd;
	size_t		 len;
	char		 b[PEER_LINEMAX];
};

/* Peer: read one line with its end; 1, or 0 at EOF. */
static int
rd_line(struct rd *r, char *out, size_t *n)
{
	char	*nl;
	ssize_t	 x;
	size_t	 k;

	for (;;) {
		if ((nl = memchr(r->b, '\n', r->len)) != NULL) {
			k = (size_t)(nl - r->b) + 1;
			memcpy(out, r->b, k);
			out[k] = '\0';
			*n = k;
			memmove(r->b, r->b + k, r->len - k);
			r->len -= k;
			return 1;
		}
		if (r->len == sizeof(r->b))
			_exit(4);
		x = read(r->fd, r->b + r->len, sizeof(r->b) - r->len);
		if (x == -1 && errno == EINTR)
			continue;
		if (x <= 0)
			return 0;
		r->len += (size_t)x;
	}
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
			return;
		}
		s += r;
		n -= (size_t)r;
	}
}

/* Peer: send a reply in one write (no Nagle stall), adding CRLF
 * unless it ends in a newline. */
static void
reply(int fd, const char *text)
{
	size_t	 n = strlen(text);
	char	*t;

	if (n > 0 && text[n - 1] == '\n') {
		writeall(fd, text, n);
		return;
	}
	t = xasprintf("%s\r\n", text);
	writeall(fd, t, n + 2);
	free(t);
}

static bool
verb(const char *line, const char *v)
{
	return strncasecmp(line, v, strlen(v)) == 0;
}

/* Peer: has more input arrived after the current line? */
static bool
more_input(struct rd *r, bool wait)
{
	struct pollfd	 p;
	ssize_t		 x;

	if (r->len > 0)
		return true;
	if (!wait)
		return false;
	p.fd = r->fd;
	p.events = POLLIN;
	if (poll(&p, 1, 3000) != 1)
		return false;
	x = read(r->fd, r->b, sizeof(r->b));
	if (x <= 0)
		return false;
	r->len = (size_t)x;
	return true;
}

/* Peer: the DATA part; 0, or -1 when the session must end. */
static int
mta_data(struct rd *r, const struct mta *m, int rec, char *line)
{
	size_t	 n;

	reply(r->fd, m->data ? m->data : "354 go ahead");
	if (m->data != NULL && m->data[0] != '3')
		return 0;
	for (;;) {
		if (!rd_line(r, line, &n))
			return -1;
		writeall(rec, line, n);
		if (m->drop_in_data)
			return -1;
		if (strcmp(line, ".\r\n") == 0)
			break;
	}
	reply(r->fd, m->eom ? m->eom : "250 queued");
	return 0;
}

/* Peer: one SMTP session. */
static void
mta_session(int fd, const struct mta *m, int sess, int rec)
{
	static struct rd	 r;
	static char		 line[PEER_LINEMAX + 1];
	const char		*rp;
	size_t			 n;
	int			 nr = 0, na = -1, nok = 0;

	r.fd = fd;
	r.len = 0;
	writeall(rec, "{S}\n", 4);
	reply(fd, m->greeting ? m->greeting : "220 peer ready");
	while (rd_line(&r, line, &n)) {
		writeall(rec, line, n);
		rp = "502 unknown";
		if (verb(line, "AUTH") || na > 0) {
			if (verb(line, "AUTH"))
				na = 0;
			rp = na < 4 && m->auth[na] ? m->auth[na] : "535 no";
			na = strncmp(rp, "334", 3) == 0 ? na + 1 : -1;
		} else if (verb(line, "EHLO") || verb(line, "LHLO"))
			rp = m->ehlo ? m->ehlo : "250 peer";
		else if (verb(line, "HELO"))
			rp = m->helo ? m->helo : "250 peer";
		else if (verb(line, "MAIL")) {
			if (more_input(&r, m->pipe_wait))
				writeall(rec, "{P}\n", 4);
			rp = sess == 0 && m->mail1 ? m->mail1 :
			    m->mail ? m->mail : "250 ok";
			if (!m->rcpt_session)
				nr = 0;
			nok = 0;
		} else if (verb(line, "RCPT")) {
			rp = nr < MAXRCPT && m->rcpt[nr] ? m->rcpt[nr] :
			    "250 ok";
			nr++;
			nok += rp[0] == '2';
		} else if (verb(line, "DATA") && m->strict_data && nok == 0) {
			rp = "554 5.5.1 no valid recipients";
		} else if (verb(line, "DATA")) {
			if (mta_data(&r, m, rec, line) == -1)
				return;
			continue;
		} else if (verb(line, "RSET"))
			rp = "250 reset";
		else if (verb(line, "QUIT")) {
			reply(fd, "221 bye");
			return;
		}
		reply(fd, rp);
		if (strncmp(rp, "421", 3) == 0)
			return;
	}
}

/* Peer: serve sessions on a listening socket, then exit. */
static void
mta_serve(int lfd, const struct mta *m, const char *recpath)
{
	int	 rec, fd, i, n = m->sessions > 0 ? m->sessions : 1;

	alarm(CHILD_ALARM);
	signal(SIGPIPE, SIG_IGN);
	if ((rec = open(recpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND,
	    0600)) == -1)
		_exit(2);
	for (i = 0; i < n; i++) {
		while ((fd = accept(lfd, NULL, NULL)) == -1 && errno == EINTR)
			;
		if (fd == -1)
			_exit(3);
		mta_session(fd, m, i, rec);
		close(fd);
	}
	_exit(0);
}

/* Fork a peer on a listening socket; the parent keeps no copy. */
static void
peer_fork(struct peer *p, int lfd, const struct mta *m)
{
	snprintf(p->rec, sizeof(p->rec), "%s/rec.%d", tmpdir, nrec++);
	fflush(stdout);
	if ((p->pid = fork()) == -1)
		abort();
	if (p->pid == 0)
		mta_serve(lfd, m, p->rec);
	close(lfd);
}

/* A peer on 127.0.0.1, an ephemeral port. */
static void
peer_tcp(struct peer *p, const struct mta *m)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 lfd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 8) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1)
		abort();
	p->port = ntohs(sin.sin_port);
	peer_fork(p, lfd, m);
}

/* A peer on a Unix socket at path. */
static void
peer_unix(struct peer *p, const struct mta *m, const char *path)
{
	struct sockaddr_un	 sun;
	int			 lfd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(lfd, 8) == -1)
		abort();
	p->port = 0;
	peer_fork(p, lfd, m);
}

/* Reap a peer and return what it recorded (allocated). */
static char *
peer_done(struct peer *p)
{
	int	 st;

	while (waitpid(p->pid, &st, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("# peer exit status %d\n", st);
	return slurp(p->rec, NULL);
}

/* "127.0.0.1/PORT" (static, 4 slots). */
static const char *
hostport(int port)
{
	static char	 slot[4][64];
	static int	 i;

	i = (i + 1) % 4;
	snprintf(slot[i], sizeof(slot[i]), "127.0.0.1/%d", port);
	return slot[i];
}

/* A TCP port on 127.0.0.1 that refuses connections (bound, not
 * listening) while fd stays open. */
static int
refusing_port(int *fd)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((*fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(*fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(*fd, (struct sockaddr *)&sin, &len) == -1)
		abort();
	return ntohs(sin.sin_port);
}

static const char *const ehlo_full =
    "250-peer.example\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n"
    "250-8BITMIME\r\n250 DSN\r\n";

/* ---------------------------------------------------------------- */
/* SMTP                                                             */

static void
test_smtp_basic(void)
{
	static const struct piece msg[] = {
		{ "Received: from x", CRLF }, { "\tby y", LF },
		{ "Subject: t", CRLF }, { "", CRLF },
		{ ".dot line", LF }, { "..two", CRLF },
		{ "a.b", CRLF }, { ".", LF },
		{ "long ", NONE }, { ".not stuffed", NONE }, { " end", CRLF },
		{ ".chunk start", NONE }, { ".x", LF },
		{ "bare\rcr", LF }, { "last, no line end", NONE },
		{ NULL, 0 } };
	const char	*rcpts[] = { "alice", "bob@other.example" };
	struct sink_env	 env = { "a@b.example", rcpts, 2, 1234,
			    SINK_BODY_8BIT, NULL };
	struct sink_conf c;
	struct mta	 m;
	struct peer	 p;
	struct sink	*s;
	const char	*hosts[1];
	char		*cause = NULL, *rec, *want;

	memset(&m, 0, sizeof(m));
	m.ehlo = ehlo_full;
	m.pipe_wait = true;
	peer_tcp(&p, &m);
	conf_init(&c, SINK_SMTP);
	hosts[0] = hostport(p.port);
	c.hosts = hosts;
	c.nhosts = 1;
	buf_reset(tracebuf);
	s = sink_open(&c, &cause);
	ok(s != NULL, "smtp: open (%s)", cause ? cause : "ok");
	if (s == NULL) {
		free(peer_done(&p));
		return;
	}
	is_str(sink_name(s), "SMTP", "smtp: name");
	is_str(sink_host(s), hosts[0], "smtp: host is the entry used");
	ok(sink_begin(s, &env) == SINK_OK, "smtp: begin (%s)", sink_error(s));
	ok(sink_rcpt_count(s) == 2 && sink_naccepted(s) == 2,
	    "smtp: two recipients accepted");
	is_str(sink_rcpt_addr(s, 0), "alice@127.0.0.1",
	    "smtp: unqualified name gets the host part of the entry");
	is_str(sink_rcpt_addr(s, 1), "bob@other.example",
	    "smtp: full address used as is");
	ok(sink_rcpt_result(s, 1) == SINK_OK, "smtp: rcpt result");
	ok(feed(s, msg) == SINK_OK, "smtp: body");
	ok(sink_end(s) == SINK_OK, "smtp: end (%s)", sink_error(s));
	sink_close(s);
	rec = peer_done(&p);
	want = xasprintf("{S}\nEHLO testhost\r\n"
	    "MAIL FROM:<a@b.example> BODY=8BITMIME SIZE=1234\r\n{P}\n"
	    "RCPT TO:<alice@127.0.0.1>\r\nRCPT TO:<bob@other.example>\r\n"
	    "DATA\r\n"
	    "Received: from x\r\n\tby y\r\nSubject: t\r\n\r\n"
	    "..dot line\r\n...two\r\na.b\r\n..\r\n"
	    "long .not stuffed end\r\n..chunk start.x\r\n"
	    "bare\rcr\r\nlast, no line end\r\n.\r\nQUIT\r\n");
	is_str(rec, want, "smtp: bytes on the wire (pipelined, stuffed, "
	    "CRLF)");
	ok(strstr(buf_data(tracebuf), "> MAIL FROM:<a@b.example> "
	    "BODY=8BITMIME SIZE=1234\n") != NULL &&
	    strstr(buf_data(tracebuf), "< 250-PIPELINING\n") != NULL &&
	    strstr(buf_data(tracebuf), "> . (EOM)\n< 250 queued\n") != NULL &&
	    strstr(buf_data(tracebuf), "> QUIT\n< 221 bye\n") != NULL,
	    "smtp: transcript of commands and replies");
	ok(strstr(buf_data(tracebuf), "dot line") == NULL &&
	    strstr(buf_data(tracebuf), "Subject") == NULL,
	    "smtp: body lines not in the transcript");
	free(want);
	free(rec);
}

static void
test_smtp_lockstep(void)
{
	static const struct piece msg[] = { { "x", CRLF }, { NULL, 0 } };
	const char	*rcpts[] = { "alice", "bob" };
	struct sink_env	 env = { "", rcpts, 2, 99, SINK_BODY_8BIT, NULL };
	struct sink_conf c;
	struct mta	 m;
	struct peer	 p;
	struct sink	*s;
	const char	*hosts[1];
	char		*cause = NULL, *rec;

	memset(&m, 0, sizeof(m));
	m.ehlo = "250-peer\r\n250-SIZE\r\n250 HELP";
	peer_tcp(&p, &m);
	conf_init(&c, SINK_SMTP);
	c.smtpaddress = "example.com";
	hosts[0] = hostport(p.port);
	c.hosts = hosts;
	c.nhosts = 1;
	s = sink_open(&c, &cause);
	ok(s != NULL, "lockstep: open");
	if (s == NULL) {
		free(peer_done(&p));
		return;
	}
	ok(sink_begin(s, &env) == SINK_OK && feed(s, msg) == SINK_OK &&
	    sink_end(s) == SINK_OK, "lockstep: message delivered");
	is_str(sink_rcpt_addr(s, 1), "bob@example.com",
	    "lockstep: smtpaddress qualifies");
	sink_close(s);
	rec = peer_done(&p);
	is_str(rec, "{S}\nEHLO testhost\r\nMAIL FROM:<> SIZE=99\r\n"
	    "RCPT TO:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n"
	    "DATA\r\nx\r\n.\r\nQUIT\r\n",
	    "lockstep: no BODY= without 8BITMIME, one command at a time");
	free(rec);
}

static void
test_smtp_body7(void)
{
	static const struct piece msg[] = { { "x", CRLF }, { NULL, 0 } };
	const char	*rcpts[] = { "alice" };
	struct sink_env	 env = { "s@x", rcpts, 1, 0, SINK_BODY_7BIT, NULL };
	struct sink_conf c;
	struct mta	 m;
	struct peer	 p;
	struct sink	*s;
	const char	*hosts[1];
	char		*cause = NULL, *rec;

	memset(&m, 0, sizeof(m));
	m.ehlo = "250-peer\r\n250-8BITMIME\r\n250 SIZE 1000";
	peer_tcp(&p, &m);
	conf_init(&c, SINK_SMTP);
	c.smtpname = "joe@single.example";
	hosts[0] = hostport(p.port);
	c.hosts = hosts;
	c.nhosts = 1;
	s = sink_open(&c, &cause);
	ok(s != NULL, "body7: open");
	if (s == NULL) {
		free(peer_done(&p));
		return;
	}
	ok(sink_begin(s, &env) == SINK_OK && feed(s, msg) == SINK_OK &&
	    sink_end(s) == SINK_OK, "body7: 7bit message");
	env.body = SINK_BODY_UNKNOWN;
	env.size = 5;
	ok(sink_begin(s, &env) == SINK_OK && feed(s, msg) == SINK_OK &&
	    sink_end(s) == SINK_OK, "body7: undeclared message");
	c.pass8bits = true;
	ok(sink_begin(s, &env) == SINK_OK && feed(s, msg) == SINK_OK &&
	    sink_end(s) == SINK_OK, "body7: pass8bits message");
	is_str(sink_rcpt_addr(s, 0), "joe@single.example",
	    "body7: smtpname replaces an unqualified name");
	sink_close(s);
	rec = peer_done(&p);
	is_str(rec, "{S}\nEHLO testhost\r\n"
	    "MAIL FROM:<s@x> BODY=7BIT\r\nRCPT TO:<joe@single.example>\r\n"
	    "DATA\r\nx\r\n.\r\n"
	    "MAIL FROM:<s@x> SIZE=5\r\nRCPT TO:<joe@single.example>\r\n"
	    "DATA\r\nx\r\n.\r\n"
	    "MAIL FROM:<s@x> BODY=8BITMIME SIZE=5\r\n"
	    "RCPT TO:<joe@single.example>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n",
	    "body7: BODY=7BIT, none, BODY=8BITMIME; SIZE only when known");
	free(rec);
}

static void
test_smtp_helo(void)
{
	static const struct piece msg[] = { { "x", CRLF }, { NULL, 0 } };
	const char	*rcpts[] = { "alice" };
	struct sink_env	 env = { "s@x", rcpts, 1, 10, SINK_BODY_8BIT, NULL };
	struct sink_conf c;
	struct mta	 m;
	struct peer	 p;
	struct sink	*s;
	const char	*hosts[1];
	char		*cause = NULL, *rec;

	memset(&m, 0, sizeof(m));
	m.ehlo = "502 5.5.1 what is EHLO";
	m.helo = "250 old peer";
	m.sessions = 2;
	peer_tcp(&p, &m);
	conf_init(&c, SINK_SMTP);
	hosts[0] = hostport(p.port);
	c.hosts = hosts;
	c.nhosts = 1;
	s = sink_open(&c, &cause);
	ok(s != NULL, "helo: open falls back to HELO");
	if (s != NULL)
		ok(sink_begin(s, &env) == SINK_OK && feed(s, msg) == SINK_OK &&
		    sink_end(s) == SINK_OK, "helo: delivered");
	sink_close(s);
	rec = peer_done(&p);
	is_str(rec, "{S}\nEHLO testhost\r\n{S}\nHELO testhost\r\n"
	    "MAIL FROM:<s@x>\r\nRCPT TO:<alice@127.0.0.1>\r\nDATA\r\nx\r\n"
	    ".\r\nQUIT\r\n", "helo: new connection, HELO, no ESMTP options");
	free(rec);
	free(cause);

	/* Greeting refused twice: the host fails. */
	memset(&m, 0, sizeof(m));
	m.greeting = "554 5.3.2 go away";
	m.sessions = 2;
	peer_tcp(&p, &m);
	hosts[0] = hostport(p.port);
	cause = NULL;
	s = sink_open(&c, &cause);
	ok(s == NULL, "greeting: refused greeting fails the open");
	rec = xasprintf("SMTP connect to %s failed", hosts[0]);
	is_str(cause, rec, "greeting: cause names the last host");
	free(rec);
	sink_close(s);
	free(cause);
	rec = peer_done(&p);
	is_str(rec, "{S}\n{S}\n", "greeting: retried once with HELO");
	free(rec);
}

static void
test_smtp_hunt(void)
{
	static const struct piece msg[] = { { "x", CRLF }, { NULL, 0 } };
	const char	*rcpts[] = { "alice" };
	struct sink_env	 env = { "s@x", rcpts, 1, 0, SINK_BODY_UNKNOWN, NULL };
	struct sink_conf c;
	struct mta	 m;
	struct peer	 p;
	struct sink	*s;
	const char	*hosts[2];
	char		*cause = NULL, *rec;
	int		 rfd;

	memset(&m, 0, sizeof(m));
	peer_tcp(&p, &m);
	conf_init(&c, SINK_SMTP);
	hosts[0] = hostport(refusing_port(&rfd));
	hosts[1] = hostport(p.port);
	c.hosts = hosts;
	c.nhosts = 2;
	s = sink_open(&c, &cause);
	ok(s != NULL, "hunt: second host taken");
	if (s != NULL) {
		is_str(sink_host(s), hosts[1], "hunt: sink_host is the second");
		ok(sink_begin(s, &env) == SINK_OK && feed(s, msg) == SINK_OK &&
		    sink_end(s) == SINK_OK, "hunt: delivered");
	}
	sink_close(s);
	free(peer_done(&p));

	/* Nothing reachable. */
	c.nhosts = 1;
	cause = NULL;
	s = sink_open(&c, &cause);
	rec = xasprintf("SMTP connect to %s failed", hosts[0]);
	ok(s == NULL, "hunt: no host, no sink");
	is_str(cause, rec, "hunt: cause");
	free(rec);
	free(cause);
	close(rfd);
}

static struct peer runpeer;	/* run_one()'s peer */

/*
 * One message through a fresh peer with script m: begin result, then
 * (if OK) end result; the record in *recp.  With keep, the sink is
 * left open in *keep and the peer (runpeer) not reaped.
 */
static void
run_one(const struct mta *m, const char *const *rcpts, size_t n,
    enum sink_result *rb, enum sink_result *re, char **err, char **recp,
    struct sink **keep)
{
	static const struct piece msg[] = { { "x", CRLF }, { NULL, 0 } };
	static struct sink_conf c;
	static const char *hosts[1];
	struct sink_env	 env = { "s@x", rcpts, n, 0, SINK_BODY_UNKNOWN, NULL };
	struct peer	*pp = &runpeer;
	struct sink	*s;
	char		*cause = NULL;

	peer_tcp(pp, m);
	conf_init(&c, SINK_SMTP);
	hosts[0] = hostport(pp->port);
	c.hosts = hosts;
	c.nhosts = 1;
	*rb = *re = SINK_ERROR;
	if ((s = sink_open(&c, &cause)) == NULL) {
		*err = cause;
		*recp = peer_done(pp);
		return;
	}
	*rb = sink_begin(s, &env);
	if (*rb == SINK_OK) {
		(void)feed(s, msg);
		*re = sink_end(s);
	}
	*err = xstrdup(sink_error(s));
	if (keep != NULL) {
		*keep = s;	/* caller checks, then closes */
		*recp = NULL;
		return;
	}
	sink_close(s);
	*recp = peer_done(pp);
}

static void
test_smtp_errors(void)
{
	const char	*one[] = { "alice" };
	const char	*three[] = { "a", "b", "c" };
	enum sink_result rb, re;
	struct mta	 m;
	char		*err, *rec;

	memset(&m, 0, sizeof(m));
	m.mail = "451 4.3.0 try later";
	run_one(&m, one, 1, &rb, &re, &err, &rec, NULL);
	ok(rb == SINK_TEMPFAIL, "mail 4xx: tempfail");
	is_str(err, "451 4.3.0 try later", "mail 4xx: error is the reply");
	is_str(rec, "{S}\nEHLO testhost\r\nMAIL FROM:<s@x>\r\nRSET\r\n"
	    "QUIT\r\n", "mail 4xx: RSET, no RCPT");
	free(err);
	free(rec);

	memset(&m, 0, sizeof(m));
	m.mail = "553 5.1.8 bad sender";
	m.data = "554 5.5.1 no valid recipients";
	m.ehlo = "250-peer\r\n250 PIPELINING";
	run_one(&m, one, 1, &rb, &re, &err, &rec, NULL);
	ok(rb == SINK_REFUSED, "mail 5xx pipelined: refused");
	is_str(err, "553 5.1.8 bad sender", "mail 5xx: error is the reply");
	is_str(rec, "{S}\nEHLO testhost\r\nMAIL FROM:<s@x>\r\n{P}\n"
	    "RCPT TO:<alice@127.0.0.1>\r\nDATA\r\nRSET\r\nQUIT\r\n",
	    "mail 5xx pipelined: all replies read, then RSET");
	free(err);
	free(rec);

	memset(&m, 0, sizeof(m));
	m.rcpt[1] = "550 5.1.1 no such user";
	run_one(&m, three, 3, &rb, &re, &err, &rec, NULL);
	ok(rb == SINK_OK && re == SINK_OK, "rcpt 5xx: others delivered");
	free(err);
	free(rec);

	memset(&m, 0, sizeof(m));
	m.rcpt[0] = "250 ok";
	m.rcpt[1] = "452 4.2.2 mailbox full";
	run_one(&m, three, 3, &rb, &re, &err, &rec, NULL);
	ok(rb == SINK_TEMPFAIL, "rcpt 4xx lock-step: whole message tempfail");
	is_str(err, "452 4.2.2 mailbox full", "rcpt 4xx: error is the reply");
	is_str(rec, "{S}\nEHLO testhost\r\nMAIL FROM:<s@x>\r\n"
	    "RCPT TO:<a@127.0.0.1>\r\nRCPT TO:<b@127.0.0.1>\r\n"
	    "RCPT TO:<c@127.0.0.1>\r\nRSET\r\nQUIT\r\n",
	    "rcpt 4xx lock-step: every RCPT, RSET, no DATA");
	free(err);
	free(rec);

	memset(&m, 0, sizeof(m));
	m.rcpt[0] = "550 5.1.1 no a";
	m.rcpt[1] = "550 5.1.1 no b";
	m.rcpt[2] = "553 5.1.3 no c";
	run_one(&m, three, 3, &rb, &re, &err, &rec, NULL);
	ok(rb == SINK_REFUSED, "rcpt all 5xx: refused");
	is_str(err, "550 5.1.1 no a", "rcpt all 5xx: first reply as error");
	ok(strstr(rec, "RSET\r\nQUIT") != NULL && strstr(rec, "DATA") == NULL,
	    "rcpt all 5xx: RSET, no DATA");
	free(err);
	free(rec);

	memset(&m, 0, sizeof(m));
	m.data = "554 5.5.1 no valid recipients";
	run_one(&m, one, 1, &rb, &re, &err, &rec, NULL);
	ok(rb == SINK_REFUSED, "data 5xx: refused");
	is_str(err, "554 5.5.1 no valid recipients", "data 5xx: error");
	free(err);
	free(rec);

	memset(&m, 0, sizeof(m));
	m.data = "451 4.3.0 later";
	run_one(&m, one, 1, &rb, &re, &err, &rec, NULL);
	ok(rb == SINK_TEMPFAIL, "data 4xx: tempfail");
	free(err);
	free(rec);

	memset(&m, 0, sizeof(m));
	m.eom = "452 4.3.1 insufficient storage";
	run_one(&m, one, 1, &rb, &re, &err, &rec, NULL);
	ok(rb == SINK_OK && re == SINK_TEMPFAIL, "eom 4xx: tempfail");
	is_str(err, "452 4.3.1 insufficient storage", "eom 4xx: error");
	ok(strstr(rec, ".\r\nRSET\r\nQUIT\r\n") != NULL, "eom 4xx: RSET");
	free(err);
	free(rec);

	memset(&m, 0, sizeof(m));
	m.eom = "554-5.7.1 rejected\r\n554 5.7.1 spam";
	run_one(&m, one, 1, &rb, &re, &err, &rec, NULL);
	ok(re == SINK_REFUSED, "eom 5xx (multi-line): refused");
	is_str(err, "554-5.7.1 rejected\n554 5.7.1 spam",
	    "eom 5xx: the whole reply as error");
	free(err);
	free(rec);

	memset(&m, 0, sizeof(m));
	m.mail = "hello there";
	run_one(&m, one, 1, &rb, &re, &err, &rec, NULL);
	ok(rb == SINK_ERROR, "garbage reply: error");
	ok(strstr(err, "protocol error") != NULL, "garbage reply: says so "
	    "(%s)", err);
	free(err);
	free(rec);

	memset(&m, 0, sizeof(m));
	m.drop_in_data = true;
	run_one(&m, one, 1, &rb, &re, &err, &rec, NULL);
	ok(rb == SINK_OK && re == SINK_ERROR, "drop in DATA: error at end "
	    "(%s)", err);
	free(err);
	free(rec);
}

static void
test_smtp_rcpt_results(void)
{
	const char	*three[] = { "a", "b", "c" };
	enum sink_result rb, re;
	struct sink	*s = NULL;
	struct mta	 m;
	char		*err, *rec;

	memset(&m, 0, sizeof(m));
	m.ehlo = ehlo_full;
	m.rcpt[1] = "550 5.1.1 no such user";
	run_one(&m, three, 3, &rb, &re, &err, &rec, &s);
	ok(rb == SINK_OK && re == SINK_OK, "rcpt results: delivered");
	if (s != NULL) {
		ok(sink_naccepted(s) == 2, "rcpt results: two accepted");
		ok(sink_rcpt_result(s, 0) == SINK_OK &&
		    sink_rcpt_result(s, 1) == SINK_REFUSED &&
		    sink_rcpt_result(s, 2) == SINK_OK,
		    "rcpt results: per recipient");
		is_str(sink_rcpt_reply(s, 1), "550 5.1.1 no such user",
		    "rcpt results: the refusal text");
		sink_close(s);
	}
	free(err);
	free(peer_done(&runpeer));
}

static void
test_smtp_pipeline_4xx(void)
{
	static const struct piece msg[] = { { "y", CRLF }, { NULL, 0 } };
	const char	*two[] = { "a", "b" };
	struct sink_env	 env = { "s@x", two, 2, 0, SINK_BODY_UNKNOWN, NULL };
	struct sink_conf c;
	struct mta	 m;
	struct peer	 p;
	struct sink	*s;
	const char	*hosts[1];
	char		*cause = NULL, *rec;

	memset(&m, 0, sizeof(m));
	m.ehlo = "250-peer\r\n250 PIPELINING";
	m.rcpt[1] = "450 4.2.0 greylisted";
	m.sessions = 2;
	peer_tcp(&p, &m);
	conf_init(&c, SINK_SMTP);
	hosts[0] = hostport(p.port);
	c.hosts = hosts;
	c.nhosts = 1;
	s = sink_open(&c, &cause);
	ok(s != NULL, "pipeline 4xx: open");
	if (s == NULL) {
		free(peer_done(&p));
		return;
	}
	ok(sink_begin(s, &env) == SINK_TEMPFAIL, "pipeline 4xx: tempfail");
	is_str(sink_error(s), "450 4.2.0 greylisted", "pipeline 4xx: error");
	env.nrcpt = 1;
	ok(sink_begin(s, &env) == SINK_OK && feed(s, msg) == SINK_OK &&
	    sink_end(s) == SINK_OK,
	    "pipeline 4xx: next message on a new connection");
	sink_close(s);
	rec = peer_done(&p);
	is_str(rec, "{S}\nEHLO testhost\r\nMAIL FROM:<s@x>\r\n{P}\n"
	    "RCPT TO:<a@127.0.0.1>\r\nRCPT TO:<b@127.0.0.1>\r\nDATA\r\n"
	    "{S}\nEHLO testhost\r\nMAIL FROM:<s@x>\r\n{P}\n"
	    "RCPT TO:<a@127.0.0.1>\r\nDATA\r\ny\r\n.\r\nQUIT\r\n",
	    "pipeline 4xx: DATA accepted cannot be undone: hang up, "
	    "reconnect");
	free(rec);
}

static void
test_smtp_reconnect(void)
{
	static const struct piece msg[] = { { "z", CRLF }, { NULL, 0 } };
	static const struct piece part[] = { { "partial", CRLF },
		{ NULL, 0 } };
	const char	*one[] = { "a" };
	struct sink_env	 env = { "s@x", one, 1, 0, SINK_BODY_UNKNOWN, NULL };
	struct sink_conf c;
	struct mta	 m;
	struct peer	 p;
	struct sink	*s;
	const char	*hosts[1];
	char		*cause = NULL, *rec;

	/* 421 at MAIL (idle timeout): reopen and retry once. */
	memset(&m, 0, sizeof(m));
	m.mail1 = "421 4.4.2 timeout exceeded";
	m.sessions = 2;
	peer_tcp(&p, &m);
	conf_init(&c, SINK_SMTP);
	hosts[0] = hostport(p.port);
	c.hosts = hosts;
	c.nhosts = 1;
	s = sink_open(&c, &cause);
	ok(s != NULL && sink_begin(s, &env) == SINK_OK &&
	    feed(s, msg) == SINK_OK && sink_end(s) == SINK_OK,
	    "421 at MAIL: retried on a new connection");
	sink_close(s);
	rec = peer_done(&p);
	is_str(rec, "{S}\nEHLO testhost\r\nMAIL FROM:<s@x>\r\n"
	    "{S}\nEHLO testhost\r\nMAIL FROM:<s@x>\r\n"
	    "RCPT TO:<a@127.0.0.1>\r\nDATA\r\nz\r\n.\r\nQUIT\r\n",
	    "421 at MAIL: transcript");
	free(rec);

	/* Abort in DATA: hang up; the next message reconnects. */
	memset(&m, 0, sizeof(m));
	m.sessions = 2;
	peer_tcp(&p, &m);
	hosts[0] = hostport(p.port);
	s = sink_open(&c, &cause);
	ok(s != NULL && sink_begin(s, &env) == SINK_OK &&
	    feed(s, part) == SINK_OK, "abort: message started");
	sink_abort(s);
	ok(sink_begin(s, &env) == SINK_OK && feed(s, msg) == SINK_OK &&
	    sink_end(s) == SINK_OK, "abort: next message delivered");
	sink_close(s);
	rec = peer_done(&p);
	is_str(rec, "{S}\nEHLO testhost\r\nMAIL FROM:<s@x>\r\n"
	    "RCPT TO:<a@127.0.0.1>\r\nDATA\r\n"
	    "{S}\nEHLO testhost\r\nMAIL FROM:<s@x>\r\n"
	    "RCPT TO:<a@127.0.0.1>\r\nDATA\r\nz\r\n.\r\nQUIT\r\n",
	    "abort: partial message never ended with '.'");
	free(rec);
}

static void
test_smtp_big(void)
{
	const char	*one[] = { "a" };
	struct sink_env	 env = { "s@x", one, 1, 0, SINK_BODY_UNKNOWN, NULL };
	struct sink_conf c;
	struct mta	 m;
	struct peer	 p;
	struct sink	*s;
	const char	*hosts[1];
	char		*cause = NULL, *rec, line[80];
	size_t		 i, n = 40000, len;
	bool		 good = true;

	memset(&m, 0, sizeof(m));
	m.ehlo = ehlo_full;
	peer_tcp(&p, &m);
	conf_init(&c, SINK_SMTP);
	c.trace = NULL;
	hosts[0] = hostport(p.port);
	c.hosts = hosts;
	c.nhosts = 1;
	s = sink_open(&c, &cause);
	ok(s != NULL && sink_begin(s, &env) == SINK_OK, "big: begin");
	if (s == NULL) {
		free(peer_done(&p));
		return;
	}
	for (i = 0; i < n && good; i++) {
		snprintf(line, sizeof(line), "%s%063zu", i % 7 ? "" : ".", i);
		good = sink_line(s, line, strlen(line), LF) == SINK_OK;
	}
	ok(good && sink_end(s) == SINK_OK, "big: 2.6 MB delivered");
	sink_close(s);
	rec = peer_done(&p);
	len = strlen(rec);
	ok(len > n * 65 && strstr(rec, "\r\n..0000") != NULL,
	    "big: peer got it all, stuffed (%zu bytes)", len);
	free(rec);
}

static void
test_plugout(void)
{
	static const struct piece msg[] = { { "p", CRLF }, { NULL, 0 } };
	const char	*one[] = { "a" };
	struct sink_env	 env = { "s@x", one, 1, 0, SINK_BODY_UNKNOWN, NULL };
	struct sink_conf c;
	struct sink	*s;
	const char	*hosts[] = { "mx.example/2526" };
	char		*cause = NULL, *cmd, *args;

	spew(tpath("fake.sh"),
	    "echo \"$1 $2\" > \"$3\"\n"
	    "printf '220 plug\\r\\n'\n"
	    "while IFS= read -r l; do\n"
	    "  case \"$l\" in\n"
	    "  EHLO*|HELO*) printf '250 plug\\r\\n';;\n"
	    "  MAIL*|RCPT*|RSET*) printf '250 ok\\r\\n';;\n"
	    "  DATA*) printf '354 go\\r\\n'\n"
	    "    while IFS= read -r d; do\n"
	    "      [ \"$d\" = \"$(printf '.\\r')\" ] && break\n"
	    "    done\n"
	    "    printf '250 done\\r\\n';;\n"
	    "  QUIT*) printf '221 bye\\r\\n'; exit 0;;\n"
	    "  esac\n"
	    "done\n");
	cmd = xasprintf("/bin/sh %s %%h %%p %s", tpath("fake.sh"),
	    tpath("plug.args"));
	conf_init(&c, SINK_SMTP);
	c.plugout = cmd;
	c.hosts = hosts;
	c.nhosts = 1;
	s = sink_open(&c, &cause);
	ok(s != NULL, "plugout: open (%s)", cause ? cause : "ok");
	if (s != NULL) {
		ok(sink_begin(s, &env) == SINK_OK && feed(s, msg) == SINK_OK &&
		    sink_end(s) == SINK_OK, "plugout: delivered");
		is_str(sink_rcpt_addr(s, 0), "a@mx.example",
		    "plugout: destination is the entry's host");
	}
	sink_close(s);
	args = slurp(tpath("plug.args"), NULL);
	is_str(args, "mx.example 2526\n", "plugout: %%h and %%p expanded");
	free(args);
	free(cmd);
	free(cause);
}

/* ---------------------------------------------------------------- */
/* LMTP                                                             */


/* ---------------------------------------------------------------- */
/* failure details, the fallback recipient, AUTH                    */

/* Start a peer with script m and open a sink on it with conf c. */
static struct sink *
open_peer(struct peer *pp, const struct mta *m, struct sink_conf *c)
{
	static const char	*hosts[1];
	struct sink		*s;
	char			*cause = NULL;

	peer_tcp(pp, m);
	hosts[0] = hostport(pp->port);
	c->hosts = hosts;
	c->nhosts = 1;
	s = sink_open(c, &cause);
	free(cause);
	return s;
}

/* The record without the pipelining markers. */
static char *
unpiped(char *rec)
{
	char	*p;

	while ((p = strstr(rec, "{P}\n")) != NULL)
		memmove(p, p + 4, strlen(p + 4) + 1);
	return rec;
}

/* One message through a fresh peer; the sink is returned still open
 * (with its failure details) together with the results. */
static struct sink *
try_one(struct peer *pp, const struct mta *m, struct sink_conf *c,
    const struct sink_env *env, enum sink_result *rb, enum sink_result *re)
{
	static const struct piece msg[] = { { "x", CRLF }, { NULL, 0 } };
	struct sink	*s;

	*rb = *re = SINK_ERROR;
	if ((s = open_peer(pp, m, c)) == NULL)
		return NULL;
	if ((*rb = sink_begin(s, env)) == SINK_OK) {
		(void)feed(s, msg);
		*re = sink_end(s);
	}
	return s;
}

static void
test_smtp_fail_details(void)
{
	const char	*one[] = { "alice" };
	struct sink_env	 env = { "s@x", one, 1, 0, SINK_BODY_UNKNOWN, NULL };
	enum sink_result rb, re;
	struct sink_conf c;
	struct peer	 p;
	struct mta	 m;
	struct sink	*s;

	conf_init(&c, SINK_SMTP);
	memset(&m, 0, sizeof(m));
	m.mail = "550 5.7.1 go away";
	s = try_one(&p, &m, &c, &env, &rb, &re);
	ok(rb == SINK_REFUSED && sink_fail_stage(s) == SINK_STAGE_MAIL &&
	    sink_error_code(s) == 550, "details: MAIL 550");
	sink_close(s);
	free(peer_done(&p));

	memset(&m, 0, sizeof(m));
	m.rcpt[0] = "451 4.3.0 later";
	s = try_one(&p, &m, &c, &env, &rb, &re);
	ok(rb == SINK_TEMPFAIL && sink_fail_stage(s) == SINK_STAGE_RCPT &&
	    sink_error_code(s) == 451 && sink_rcpt_code(s, 0) == 451,
	    "details: RCPT 451");
	sink_close(s);
	free(peer_done(&p));

	memset(&m, 0, sizeof(m));
	m.data = "554 5.7.1 no";
	s = try_one(&p, &m, &c, &env, &rb, &re);
	ok(rb == SINK_REFUSED && sink_fail_stage(s) == SINK_STAGE_DATA &&
	    sink_error_code(s) == 554, "details: DATA 554");
	sink_close(s);
	free(peer_done(&p));

	memset(&m, 0, sizeof(m));
	m.eom = "552-5.3.4 too\r\n552 5.3.4 big";
	s = try_one(&p, &m, &c, &env, &rb, &re);
	ok(re == SINK_REFUSED && sink_fail_stage(s) == SINK_STAGE_EOD &&
	    sink_error_code(s) == 552, "details: end of data 552");
	is_str(sink_error(s), "552-5.3.4 too\n552 5.3.4 big",
	    "details: multi-line reply kept whole");
	sink_close(s);
	free(peer_done(&p));

	memset(&m, 0, sizeof(m));
	s = try_one(&p, &m, &c, &env, &rb, &re);
	ok(re == SINK_OK && sink_fail_stage(s) == SINK_STAGE_NONE &&
	    sink_error_code(s) == 0, "details: none after success");
	sink_close(s);
	free(peer_done(&p));
}

static void
test_smtp_fallback(void)
{
	const char	*one[] = { "alice" }, *pm[] = { "postmaster" };
	struct sink_env	 env = { "s@x", one, 1, 0, SINK_BODY_UNKNOWN,
			    "postmaster" };
	struct sink_env	 raw = { "", pm, 1, 0, SINK_BODY_UNKNOWN, NULL };
	enum sink_result rb, re;
	struct sink_conf c;
	struct peer	 p;
	struct mta	 m;
	struct sink	*s;
	char		*rec;

	conf_init(&c, SINK_SMTP);
	memset(&m, 0, sizeof(m));
	m.rcpt[0] = "550 5.1.1 no alice";
	s = try_one(&p, &m, &c, &env, &rb, &re);
	ok(rb == SINK_OK && re == SINK_OK, "fallback: the postmaster took it");
	ok(sink_rcpt_count(s) == 2 && !sink_rcpt_is_fallback(s, 0) &&
	    sink_rcpt_is_fallback(s, 1) && sink_naccepted(s) == 1,
	    "fallback: appended as a recipient");
	ok(sink_rcpt_result(s, 0) == SINK_REFUSED && sink_rcpt_code(s, 0) ==
	    550, "fallback: alice refused, 550");
	is_str(sink_rcpt_reply(s, 0), "550 5.1.1 no alice",
	    "fallback: alice's reply");
	is_str(sink_rcpt_addr(s, 1), "postmaster@127.0.0.1",
	    "fallback: qualified like the others");
	sink_close(s);
	rec = peer_done(&p);
	is_str(rec, "{S}\nEHLO testhost\r\nMAIL FROM:<s@x>\r\n"
	    "RCPT TO:<alice@127.0.0.1>\r\nRCPT TO:<postmaster@127.0.0.1>\r\n"
	    "DATA\r\nx\r\n.\r\nQUIT\r\n",
	    "fallback: lock-step, in the same transaction");
	free(rec);

	memset(&m, 0, sizeof(m));
	m.ehlo = "250-peer\r\n250 PIPELINING";
	m.rcpt[0] = "550 5.1.1 no alice";
	m.strict_data = true;
	m.rcpt_session = true;
	s = try_one(&p, &m, &c, &env, &rb, &re);
	ok(rb == SINK_OK && re == SINK_OK, "fallback pipelined: delivered");
	sink_close(s);
	rec = unpiped(peer_done(&p));
	is_str(rec, "{S}\nEHLO testhost\r\nMAIL FROM:<s@x>\r\n"
	    "RCPT TO:<alice@127.0.0.1>\r\nDATA\r\nRSET\r\nMAIL FROM:<s@x>\r\n"
	    "RCPT TO:<postmaster@127.0.0.1>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n",
	    "fallback pipelined: DATA failed, RSET, a new transaction");
	free(rec);

	memset(&m, 0, sizeof(m));
	m.rcpt[0] = "550 5.1.1 no alice";
	m.rcpt[1] = "550 5.1.1 no postmaster";
	s = try_one(&p, &m, &c, &env, &rb, &re);
	ok(rb == SINK_REFUSED && sink_fail_stage(s) == SINK_STAGE_RCPT &&
	    sink_error_code(s) == 550, "fallback refused: refused at RCPT");
	is_str(sink_error(s), "550 5.1.1 no postmaster",
	    "fallback refused: its reply is the error");
	sink_close(s);
	rec = peer_done(&p);
	ok(strstr(rec, "RSET\r\nQUIT") != NULL && strstr(rec, "DATA") == NULL,
	    "fallback refused: RSET, no DATA");
	free(rec);

	memset(&m, 0, sizeof(m));
	m.rcpt[0] = "553 5.1.3 no alice";
	env.fallback = "";
	s = try_one(&p, &m, &c, &env, &rb, &re);
	ok(rb == SINK_REFUSED && sink_rcpt_count(s) == 1,
	    "no fallback (empty postmaster): refused, nobody else tried");
	sink_close(s);
	free(peer_done(&p));

	c.rawrcpt = true;
	memset(&m, 0, sizeof(m));
	s = try_one(&p, &m, &c, &raw, &rb, &re);
	ok(re == SINK_OK, "rawrcpt: delivered");
	sink_close(s);
	rec = peer_done(&p);
	ok(strstr(rec, "MAIL FROM:<>\r\nRCPT TO:<postmaster>\r\n") != NULL,
	    "rawrcpt: RCPT TO:<postmaster> as given, MAIL FROM:<>");
	free(rec);
}

/* AUTH against a peer offering mechs with the replies in auth[]; the
 * record and whether the message went through. */
static char *
auth_run(const char *mechs, const char *const *auth, size_t n, bool *sent)
{
	const char	*one[] = { "alice" };
	struct sink_env	 env = { "s@x", one, 1, 0, SINK_BODY_UNKNOWN, NULL };
	enum sink_result rb, re;
	struct sink_conf c;
	struct peer	 p;
	struct mta	 m;
	struct sink	*s;
	size_t		 i;

	conf_init(&c, SINK_SMTP);
	c.esmtpname = "fm user";
	c.esmtppassword = "p^ss word";
	memset(&m, 0, sizeof(m));
	m.ehlo = mechs;
	for (i = 0; i < n && i < 4; i++)
		m.auth[i] = auth[i];
	buf_reset(tracebuf);
	s = try_one(&p, &m, &c, &env, &rb, &re);
	*sent = s != NULL && re == SINK_OK;
	sink_close(s);
	return peer_done(&p);
}

static void
test_smtp_auth(void)
{
	const char	*cram[] = { "334 PDEyMzQ1QGV4YW1wbGU+", "235 ok" };
	const char	*plain[] = { "235 ok" };
	const char	*login[] = { "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6",
			    "235 ok" };
	const char	*bare[] = { "334" };
	const char	*space[] = { "334 " };
	const char	*junk[] = { "334 !!!" };
	const char	*multi[] = { "334-x\r\n334 y" };
	const char	*no[] = { "535 5.7.8 no" };
	char		*rec, *dig, *b64, *want;
	bool		 sent;

	dig = auth_cram_md5("fm user", "p^ss word", "<12345@example>", 15);
	b64 = auth_b64_encode(dig, strlen(dig));
	rec = auth_run("250-peer\r\n250 AUTH LOGIN PLAIN CRAM-MD5", cram, 2,
	    &sent);
	want = xasprintf("{S}\nEHLO testhost\r\nAUTH CRAM-MD5\r\n%s\r\n"
	    "MAIL FROM:<s@x>\r\n", b64);
	ok(sent && strncmp(rec, want, strlen(want)) == 0,
	    "auth: CRAM-MD5 preferred, right digest");
	ok(strstr(buf_data(tracebuf), "> *\n") != NULL &&
	    strstr(buf_data(tracebuf), b64) == NULL,
	    "auth: CRAM-MD5 response masked in the transcript");
	free(want);
	free(rec);
	free(dig);
	free(b64);

	rec = auth_run("250-peer\r\n250 AUTH=LOGIN PLAIN", plain, 1, &sent);
	ok(sent && strstr(rec, "AUTH PLAIN AGZtIHVzZXIAcF5zcyB3b3Jk\r\n"
	    "MAIL FROM") != NULL, "auth: PLAIN with initial response");
	ok(strstr(buf_data(tracebuf), "> AUTH PLAIN *\n") != NULL,
	    "auth: PLAIN masked in the transcript");
	free(rec);

	rec = auth_run("250-peer\r\n250 AUTH LOGIN", login, 3, &sent);
	ok(sent && strstr(rec, "AUTH LOGIN\r\nZm0gdXNlcg==\r\n"
	    "cF5zcyB3b3Jk\r\nMAIL FROM") != NULL, "auth: LOGIN");
	free(rec);

	rec = auth_run("250-peer\r\n250 AUTH CRAM-MD5", bare, 1, &sent);
	ok(sent && strstr(rec, "AUTH CRAM-MD5\r\n*\r\nMAIL FROM") != NULL,
	    "auth: bare 334 (CVE-2025-61962): cancelled, mail goes on");
	free(rec);
	rec = auth_run("250-peer\r\n250 AUTH CRAM-MD5", space, 1, &sent);
	ok(sent && strstr(rec, "AUTH CRAM-MD5\r\n*\r\n") != NULL,
	    "auth: \"334 \": cancelled");
	free(rec);
	rec = auth_run("250-peer\r\n250 AUTH CRAM-MD5", junk, 1, &sent);
	ok(sent && strstr(rec, "AUTH CRAM-MD5\r\n*\r\n") != NULL,
	    "auth: 334 with junk: cancelled");
	free(rec);
	rec = auth_run("250-peer\r\n250 AUTH PLAIN", multi, 1, &sent);
	ok(sent && strstr(rec, "\r\n*\r\nMAIL FROM") != NULL,
	    "auth: multi-line 334 to PLAIN: cancelled");
	free(rec);
	rec = auth_run("250-peer\r\n250 AUTH LOGIN", bare, 1, &sent);
	ok(sent && strstr(rec, "AUTH LOGIN\r\nZm0gdXNlcg==\r\nMAIL") != NULL,
	    "auth: LOGIN after a bare 334: the peer's 535 ends it");
	free(rec);
	rec = auth_run("250-peer\r\n250 AUTH PLAIN", no, 1, &sent);
	ok(sent, "auth: refused: not fatal");
	free(rec);
	rec = auth_run("250-peer\r\n250 SIZE 100", no, 1, &sent);
	ok(sent && strstr(rec, "AUTH") == NULL, "auth: not offered: not tried");
	free(rec);
}

static void
test_lmtp(void)
{
	static const struct piece msg[] = { { "hi", LF }, { NULL, 0 } };
	const char	*three[] = { "a", "b", "c@d.example" };
	struct sink_env	 env = { "s@x", three, 3, 0, SINK_BODY_UNKNOWN, NULL };
	struct sink_conf c;
	struct mta	 m;
	struct peer	 p;
	struct sink	*s;
	const char	*hosts[1];
	char		*cause = NULL, *rec;

	memset(&m, 0, sizeof(m));
	m.ehlo = "250-lmtp\r\n250 PIPELINING";
	m.rcpt[1] = "550 5.1.1 unknown";
	m.eom = "250 2.0.0 a saved\r\n452 4.2.2 c over quota\r\n";
	hosts[0] = tpath("lmtp.sock");
	peer_unix(&p, &m, hosts[0]);
	conf_init(&c, SINK_LMTP);
	c.hosts = hosts;
	c.nhosts = 1;
	s = sink_open(&c, &cause);
	ok(s != NULL, "lmtp: open unix socket (%s)", cause ? cause : "ok");
	if (s == NULL) {
		free(peer_done(&p));
		return;
	}
	is_str(sink_name(s), "LMTP", "lmtp: name");
	is_str(sink_host(s), hosts[0], "lmtp: host is the path");
	ok(sink_begin(s, &env) == SINK_OK, "lmtp: begin");
	is_str(sink_rcpt_addr(s, 0), "a@localhost",
	    "lmtp: unix socket qualifies with localhost");
	ok(feed(s, msg) == SINK_OK && sink_end(s) == SINK_TEMPFAIL,
	    "lmtp: one 4xx after the data: tempfail");
	ok(sink_rcpt_result(s, 0) == SINK_OK &&
	    sink_rcpt_result(s, 1) == SINK_REFUSED &&
	    sink_rcpt_result(s, 2) == SINK_TEMPFAIL,
	    "lmtp: per-recipient results");
	is_str(sink_rcpt_reply(s, 2), "452 4.2.2 c over quota",
	    "lmtp: per-recipient reply");
	ok(sink_naccepted(s) == 1, "lmtp: one delivered");
	is_str(sink_error(s), "452 4.2.2 c over quota", "lmtp: error");
	sink_close(s);
	rec = peer_done(&p);
	is_str(rec, "{S}\nLHLO testhost\r\nMAIL FROM:<s@x>\r\n{P}\n"
	    "RCPT TO:<a@localhost>\r\nRCPT TO:<b@localhost>\r\n"
	    "RCPT TO:<c@d.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
	    "lmtp: LHLO, pipelined envelope");
	free(rec);

	/* All accepted: OK. */
	memset(&m, 0, sizeof(m));
	m.eom = "250 ok a\r\n250 ok b\r\n";
	peer_unix(&p, &m, hosts[0]);
	env.nrcpt = 2;
	s = sink_open(&c, &cause);
	ok(s != NULL && sink_begin(s, &env) == SINK_OK &&
	    feed(s, msg) == SINK_OK && sink_end(s) == SINK_OK &&
	    sink_naccepted(s) == 2, "lmtp: both delivered");
	sink_close(s);
	free(peer_done(&p));

	/* LMTP over TCP needs a port. */
	hosts[0] = "localhost";
	cause = NULL;
	s = sink_open(&c, &cause);
	ok(s == NULL && cause != NULL, "lmtp: TCP without a port refused");
	is_str(cause, "LMTP connect to localhost failed", "lmtp: cause");
	free(cause);
}

/* ---------------------------------------------------------------- */
/* MDA                                                              */

static void
test_mda_expand(void)
{
	static const struct piece msg[] = { { "From: x", LF }, { "", LF },
		{ ".body", LF }, { NULL, 0 } };
	const char	*rcpts[] = { "o'brien", "alice" };
	struct sink_env	 env = { "we'ird@ext.example", rcpts, 2, 0,
			    SINK_BODY_UNKNOWN, NULL };
	struct sink_conf c;
	struct sink	*s;
	char		*cmd, *cause = NULL, *got, *want;

	cmd = xasprintf("for a in -f %%F -- %%T %%s 50%%%%T; do "
	    "echo \"[$a]\"; done > %s; cat > %s", tpath("args"),
	    tpath("body"));
	conf_init(&c, SINK_MDA);
	c.mda = cmd;
	c.debug = debug_cb;
	s = sink_open(&c, &cause);
	ok(s != NULL, "mda: open");
	if (s == NULL)
		return;
	is_str(sink_name(s), "MDA", "mda: name");
	ok(sink_begin(s, &env) == SINK_OK, "mda: begin");
	is_str(sink_rcpt_addr(s, 0), "o'brien@localhost",
	    "mda: address is NAME@localhost");
	ok(feed(s, msg) == SINK_OK && sink_end(s) == SINK_OK,
	    "mda: exit 0 is OK");
	want = xasprintf("about to deliver with: for a in -f "
	    "'we_ird@ext.example' -- 'o_brien alice' 'o_brien alice' "
	    "50%%'o_brien alice'; do echo \"[$a]\"; done > %s; cat > %s",
	    tpath("args"), tpath("body"));
	is_str(lastdebug, want, "mda: debug line with the expansion");
	free(want);
	got = slurp(tpath("args"), NULL);
	is_str(got, "[-f]\n[we_ird@ext.example]\n[--]\n[o_brien alice]\n"
	    "[o_brien alice]\n[50%o_brien alice]\n",
	    "mda: %%F and %%T quoted, ' replaced by _, %%%% not special");
	free(got);
	got = slurp(tpath("body"), NULL);
	is_str(got, "From: x\n\n.body\n", "mda: body, no dot-stuffing");
	free(got);
	sink_close(s);
	free(cmd);

	ok(sink_mda_quoted_expansion("procmail -d '%T'") &&
	    sink_mda_quoted_expansion_char("x '%F'") == 'F' &&
	    sink_mda_quoted_expansion("echo ''%s") &&
	    sink_mda_quoted_expansion("echo '%%T'") &&
	    !sink_mda_quoted_expansion("procmail -d %T") &&
	    !sink_mda_quoted_expansion("echo %T'") &&
	    !sink_mda_quoted_expansion("echo '%x'"),
	    "mda: single-quoted expansion detected as the reference does");
}

/* Run one message through MDA command cmd; the end result and error. */
static enum sink_result
mda_run(const char *cmd, const struct piece *msg, size_t bigkb,
    bool stripcr, bool forcecr, char **err)
{
	const char	*rcpts[] = { "alice" };
	struct sink_env	 env = { "s@x", rcpts, 1, 0, SINK_BODY_UNKNOWN, NULL };
	struct sink_conf c;
	struct sink	*s;
	enum sink_result r;
	char		*cause = NULL, line[1024];
	size_t		 i;

	conf_init(&c, SINK_MDA);
	c.mda = cmd;
	c.stripcr = stripcr;
	c.forcecr = forcecr;
	if ((s = sink_open(&c, &cause)) == NULL) {
		*err = cause;
		return SINK_ERROR;
	}
	if ((r = sink_begin(s, &env)) == SINK_OK) {
		if (msg != NULL)
			(void)feed(s, msg);
		memset(line, 'x', sizeof(line));
		for (i = 0; i < bigkb; i++)
			(void)sink_line(s, line, sizeof(line) - 1, LF);
		r = sink_end(s);
	}
	*err = xstrdup(sink_error(s));
	sink_close(s);
	return r;
}

static void
test_mda_status(void)
{
	static const struct piece msg[] = { { "a", CRLF }, { "b", LF },
		{ "c\rd", LF }, { "par", NONE }, { "tial", CRLF },
		{ NULL, 0 } };
	char		*err, *cmd, *got;
	int		 st;

	ok(mda_run("cat >/dev/null; exit 1", msg, 0, true, false, &err) ==
	    SINK_TEMPFAIL, "mda: exit 1 is tempfail");
	is_str(err, "MDA returned nonzero status 1", "mda: exit 1 text");
	free(err);
	ok(mda_run("cat >/dev/null; exit 75", msg, 0, true, false, &err) ==
	    SINK_TEMPFAIL, "mda: exit 75 is tempfail");
	is_str(err, "MDA returned nonzero status 75", "mda: exit 75 text");
	free(err);
	ok(mda_run("cat >/dev/null; kill -9 $$", msg, 0, true, false, &err) ==
	    SINK_TEMPFAIL, "mda: killed is tempfail");
	is_str(err, "MDA died of signal 9", "mda: signal text");
	free(err);
	/* As 6.4.37: an MDA that did not take the whole message did not
	 * deliver it, whatever its exit status says. */
	ok(mda_run("true", msg, 4096, true, false, &err) == SINK_ERROR,
	    "mda: MDA not reading a 4 MB message: no SIGPIPE, no hang, "
	    "an error although it exits 0 (%s)", err);
	is_str(err, "error writing message text", "mda: not reading: text");
	free(err);
	ok(mda_run("exec 0<&-; exit 3", msg, 2048, true, false, &err) ==
	    SINK_ERROR, "mda: early exit 3 with a big message");
	is_str(err, "error writing message text", "mda: early exit text");
	free(err);
	ok(mda_run("head -c 10 >/dev/null", msg, 0, true, false, &err) ==
	    SINK_OK, "mda: a small message the MDA half reads: exit 0 decides "
	    "(the pipe took it all; an unsafe MDA, as in the reference)");
	free(err);

	cmd = xasprintf("cat > %s", tpath("le"));
	ok(mda_run(cmd, msg, 0, true, false, &err) == SINK_OK,
	    "mda: stripcr run");
	got = slurp(tpath("le"), NULL);
	is_str(got, "a\nb\ncd\npartial\n", "mda: stripcr: LF, CRs removed");
	free(got);
	free(err);
	ok(mda_run(cmd, msg, 0, false, true, &err) == SINK_OK,
	    "mda: forcecr run");
	got = slurp(tpath("le"), NULL);
	is_str(got, "a\r\nb\r\nc\rd\r\npartial\r\n", "mda: forcecr: CRLF");
	free(got);
	free(err);
	ok(mda_run(cmd, msg, 0, false, false, &err) == SINK_OK,
	    "mda: plain run");
	got = slurp(tpath("le"), NULL);
	is_str(got, "a\r\nb\nc\rd\npartial\r\n", "mda: line ends as given");
	free(got);
	free(err);
	free(cmd);

	/* Abort: stdin closed, MDA reaped. */
	{
		const char	*rcpts[] = { "alice" };
		struct sink_env	 env = { "s@x", rcpts, 1, 0,
				    SINK_BODY_UNKNOWN, NULL };
		struct sink_conf c;
		struct sink	*s;
		char		*cause = NULL;

		cmd = xasprintf("cat > %s", tpath("ab"));
		conf_init(&c, SINK_MDA);
		c.mda = cmd;
		s = sink_open(&c, &cause);
		ok(s != NULL && sink_begin(s, &env) == SINK_OK &&
		    feed(s, msg) == SINK_OK, "mda abort: started");
		sink_abort(s);
		ok(sink_begin(s, &env) == SINK_OK, "mda abort: next begins");
		sink_close(s);	/* aborts the open message */
		free(cmd);
	}
	errno = 0;
	ok(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD,
	    "mda: no child left behind (no zombie)");
}

/* ---------------------------------------------------------------- */
/* BSMTP                                                            */

static void
test_bsmtp(void)
{
	static const struct piece m1[] = {
		{ "Received: x", CRLF }, { "\tfor <alice@localhost>", CRLF },
		{ "", LF }, { "body \303\244", LF }, { ".dot line", LF },
		{ "..two", LF }, { "last", LF }, { NULL, 0 } };
	static const struct piece m2[] = { { "body 2", LF },
		{ "no end", NONE }, { NULL, 0 } };
	const char	*r1[] = { "alice" };
	const char	*r2[] = { "alice", "bob@x.example" };
	struct sink_env	 e1 = { "we'ird@ext.example", r1, 1, 247,
			    SINK_BODY_8BIT, NULL };
	struct sink_env	 e2 = { "s2@example.net", r2, 2, 129,
			    SINK_BODY_7BIT, NULL };
	struct sink_env	 e3 = { "", r1, 1, 0, SINK_BODY_UNKNOWN, NULL };
	struct sink_conf c;
	struct sink	*s;
	char		*cause = NULL, *got;
	const char	*path = tpath("out.bsmtp");

	conf_init(&c, SINK_BSMTP);
	c.bsmtp = path;
	s = sink_open(&c, &cause);
	ok(s != NULL, "bsmtp: open");
	if (s == NULL)
		return;
	is_str(sink_name(s), "BSMTP", "bsmtp: name");
	ok(sink_begin(s, &e1) == SINK_OK && feed(s, m1) == SINK_OK &&
	    sink_end(s) == SINK_OK, "bsmtp: message 1");
	ok(sink_begin(s, &e2) == SINK_OK && feed(s, m2) == SINK_OK &&
	    sink_end(s) == SINK_OK, "bsmtp: message 2");
	ok(sink_begin(s, &e3) == SINK_OK && feed(s, m2) == SINK_OK,
	    "bsmtp: message 3 started");
	sink_abort(s);
	sink_close(s);
	c.smtpaddress = "example.com";
	s = sink_open(&c, &cause);
	ok(s != NULL && sink_begin(s, &e3) == SINK_OK &&
	    feed(s, m2) == SINK_OK && sink_end(s) == SINK_OK,
	    "bsmtp: appended by a new sink");
	sink_close(s);
	got = slurp(path, NULL);
	is_str(got,
	    "MAIL FROM:<we'ird@ext.example> BODY=8BITMIME\r\n"
	    "RCPT TO:<alice@localhost>\r\nDATA\r\n"
	    "Received: x\r\n\tfor <alice@localhost>\r\n\r\nbody \303\244\r\n"
	    "..dot line\r\n...two\r\nlast\r\n.\r\n"
	    "MAIL FROM:<s2@example.net> BODY=7BIT\r\n"
	    "RCPT TO:<alice@localhost>\r\nRCPT TO:<bob@x.example>\r\n"
	    "DATA\r\nbody 2\r\nno end\r\n.\r\n"
	    "MAIL FROM:<>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n"
	    "body 2\r\nno end\r\n.\r\n",
	    "bsmtp: exact bytes (aborted message cut off)");
	free(got);

	/* "-" is stdout; output already buffered by stdio comes first. */
	{
		int	 save, fd;

		fflush(stdout);
		save = dup(STDOUT_FILENO);
		fd = open(tpath("stdout"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, STDOUT_FILENO);
		close(fd);
		printf("before\n");
		c.bsmtp = "-";
		c.smtpaddress = NULL;
		s = sink_open(&c, &cause);
		if (s != NULL && sink_begin(s, &e3) == SINK_OK &&
		    feed(s, m2) == SINK_OK)
			(void)sink_end(s);
		sink_close(s);
		fflush(stdout);
		dup2(save, STDOUT_FILENO);
		close(save);
		got = slurp(tpath("stdout"), NULL);
		is_str(got, "before\nMAIL FROM:<>\r\nRCPT TO:<alice@localhost>"
		    "\r\nDATA\r\nbody 2\r\nno end\r\n.\r\n",
		    "bsmtp: \"-\" writes to stdout, after pending output");
		free(got);
	}

	c.bsmtp = tpath("no/such/dir/out");
	cause = NULL;
	s = sink_open(&c, &cause);
	ok(s == NULL, "bsmtp: open failure");
	is_str(cause, "BSMTP file open failed: No such file or directory",
	    "bsmtp: open failure text");
	free(cause);
}

static int
rm_all(void)
{
	char	*cmd = xasprintf("rm -rf '%s'", tmpdir);
	int	 r = system(cmd);

	free(cmd);
	return r;
}

int
main(void)
{
	int	 nfd;

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL)
		abort();
	tracebuf = buf_create(SIZE_MAX / 4);
	nfd = count_fds();
	test_smtp_basic();
	test_smtp_lockstep();
	test_smtp_body7();
	test_smtp_helo();
	test_smtp_hunt();
	test_smtp_errors();
	test_smtp_rcpt_results();
	test_smtp_pipeline_4xx();
	test_smtp_reconnect();
	test_smtp_big();
	test_smtp_fail_details();
	test_smtp_fallback();
	test_smtp_auth();
	test_plugout();
	test_lmtp();
	test_mda_expand();
	test_mda_status();
	test_bsmtp();
	ok(count_fds() == nfd, "no file descriptor leaked (%d, %d)",
	    count_fds(), nfd);
	buf_free(tracebuf);
	free(lastdebug);
	(void)rm_all();
	return done_testing();
}
