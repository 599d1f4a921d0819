/*
 * sink_mda.c: deliver each message through a command (the MDA).
 *
 * sink_begin() expands %T and %s (the recipients' local names, space
 * separated) and %F (the envelope sender) in the command, each
 * substitution wrapped in single quotes with any ' inside it replaced
 * by '_', and starts "/bin/sh -c CMD" with a pipe on its stdin (stdout
 * and stderr inherited).  "%%" is not special, as in the reference.
 * Lines are queued and written in chunks; if the MDA stops reading
 * (EPIPE) the rest of the message is dropped and sink_end() reports
 * SINK_ERROR whatever its exit status (it did not get the message).
 * Otherwise its exit status decides: 0 is SINK_OK, anything else
 * (EX_TEMPFAIL, a signal, ...) SINK_TEMPFAIL.  sink_end() closes the
 * pipe and reaps the MDA; no child outlives a message.  SIGPIPE must
 * be ignored by the program.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "i18n.h"
#include "sink.h"
#include "sink_priv.h"
#include "xmalloc.h"

extern char **environ;

#define MDA_CHUNK	65536		/* write when this much is queued */

struct mda {
	pid_t		 pid;		/* running MDA, or -1 */
	int		 fd;		/* its stdin, or -1 */
	struct buf	*out;		/* queued bytes */
	int		 werr;		/* errno of a failed write, or 0 */
	bool		 gone;		/* it stopped reading (EPIPE) */
};

static int	 mda_open(struct sink *, char **);
static enum sink_result mda_begin(struct sink *, const struct sink_env *);
static enum sink_result mda_line(struct sink *, const char *, size_t, int);
static enum sink_result mda_end(struct sink *);
static void	 mda_abort(struct sink *);
static void	 mda_close(struct sink *);

static void	 mda_quote(struct buf *, const char *);
static char	*mda_names(const struct sink *);
static char	*mda_expand(const char *, const char *, const char *);
static pid_t	 mda_spawn(const char *, int *, char **);
static void	 mda_drain(struct mda *);
static int	 mda_wait(struct mda *);

const struct sink_ops sink_mda_ops = {
	"MDA",
	mda_open,
	mda_begin,
	mda_line,
	mda_end,
	mda_abort,
	mda_close
};

static int
mda_open(struct sink *s, char **cause)
{
	struct mda	*m;

	if (s->conf->mda == NULL || *s->conf->mda == '\0') {
		*cause = xstrdup(_("no MDA command given"));
		return -1;
	}
	m = xcalloc(1, sizeof(*m));
	m->pid = -1;
	m->fd = -1;
	m->out = buf_create(SIZE_MAX / 4);
	s->impl = m;
	return 0;
}

static void
mda_close(struct sink *s)
{
	struct mda	*m = s->impl;

	buf_free(m->out);
	free(m);
	s->impl = NULL;
}

/* ---------------------------------------------------------------- */
/* the command                                                      */

/* Append v in single quotes, any ' in it replaced by '_'. */
static void
mda_quote(struct buf *b, const char *v)
{
	const char	*q;

	(void)buf_append(b, "'", 1);
	while ((q = strchr(v, '\'')) != NULL) {
		(void)buf_append(b, v, (size_t)(q - v));
		(void)buf_append(b, "_", 1);
		v = q + 1;
	}
	(void)buf_append(b, v, strlen(v));
	(void)buf_append(b, "'", 1);
}

/* The recipients' local names, space separated (allocated). */
static char *
mda_names(const struct sink *s)
{
	struct buf	*b = buf_create(SIZE_MAX / 4);
	char		*r;
	size_t		 i;

	for (i = 0; i < s->nrcpt; i++) {
		if (i > 0)
			(void)buf_append(b, " ", 1);
		(void)buf_append(b, s->rcpt[i].local, strlen(s->rcpt[i].local));
	}
	r = xstrndup(buf_data(b), buf_len(b));
	buf_free(b);
	return r;
}

/* The command with %T/%s (names) and %F (sender) substituted. */
static char *
mda_expand(const char *tmpl, const char *names, const char *sender)
{
	struct buf	*b = buf_create(SIZE_MAX / 4);
	const char	*p;
	char		*r;

	for (p = tmpl; *p != '\0'; p++) {
		if (p[0] == '%' && (p[1] == 'T' || p[1] == 's')) {
			mda_quote(b, names);
			p++;
		} else if (p[0] == '%' && p[1] == 'F') {
			mda_quote(b, sender);
			p++;
		} else
			(void)buf_append(b, p, 1);
	}
	r = xstrndup(buf_data(b), buf_len(b));
	buf_free(b);
	return r;
}

int
sink_mda_quoted_expansion_char(const char *mda)
{
	const char	*p;

	/* As the reference: an expansion right after a single quote. */
	for (p = mda; (p = strstr(p, "'%")) != NULL; p++)
		if (p[2] == 'T' || p[2] == 'F' || p[2] == 's' || p[2] == '%')
			return (unsigned char)p[2];
	return 0;
}

bool
sink_mda_quoted_expansion(const char *mda)
{
	return sink_mda_quoted_expansion_char(mda) != 0;
}

/* Start /bin/sh -c cmd with a pipe on its stdin: pid and *wfd, or -1.
 * posix_spawn (vfork-like in glibc) keeps the cost per message low: the
 * program's pages are not copied for a child that only execs. */
static pid_t
mda_spawn(const char *cmd, int *wfd, char **cause)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	sigset_t			 none, dfl;
	char				*argv[4];
	pid_t				 pid;
	int				 p[2], r;

	if (pipe2(p, O_CLOEXEC) == -1) {
		*cause = xasprintf("pipe: %s", strerror(errno));
		return -1;
	}
	(void)fflush(stdout);	/* keep our output before the MDA's */
	(void)fflush(stderr);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], STDIN_FILENO);
	posix_spawnattr_init(&at);
	/* ignored signals would stay ignored across exec */
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	argv[0] = (char *)"sh";
	argv[1] = (char *)"-c";
	argv[2] = (char *)cmd;
	argv[3] = NULL;
	r = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[0]);
	if (r != 0) {
		*cause = xasprintf("posix_spawn: %s", strerror(r));
		close(p[1]);
		return -1;
	}
	*wfd = p[1];
	return pid;
}

/* ---------------------------------------------------------------- */
/* one message                                                      */

static enum sink_result
mda_begin(struct sink *s, const struct sink_env *env)
{
	struct mda	*m = s->impl;
	char		*names, *cmd, *line, *cause = NULL;
	size_t		 i;

	names = mda_names(s);
	cmd = mda_expand(s->conf->mda, names, env->sender != NULL ?
	    env->sender : "");
	free(names);
	if (s->conf->debug != NULL) {
		line = xasprintf(_("about to deliver with: %s"), cmd);
		s->conf->debug(s->conf->debug_arg, line);
		free(line);
	}
	buf_reset(m->out);
	m->werr = 0;
	m->gone = false;
	m->pid = mda_spawn(cmd, &m->fd, &cause);
	free(cmd);
	if (m->pid == -1) {
		sink_seterr(s, _("MDA could not be started: %s"), cause);
		free(cause);
		return SINK_ERROR;
	}
	for (i = 0; i < s->nrcpt; i++)
		s->rcpt[i].result = SINK_OK;
	return SINK_OK;
}

/* Write what is queued; on EPIPE or an error, note it and drop it. */
static void
mda_drain(struct mda *m)
{
	const char	*p = buf_data(m->out);
	size_t		 n = buf_len(m->out);
	ssize_t		 r;

	while (n > 0 && !m->gone && m->werr == 0) {
		if ((r = write(m->fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE)
				m->gone = true;
			else
				m->werr = errno;
			break;
		}
		p += r;
		n -= (size_t)r;
	}
	buf_reset(m->out);
}

static enum sink_result
mda_line(struct sink *s, const char *p, size_t n, int eol)
{
	struct mda		*m = s->impl;
	const struct sink_conf	*c = s->conf;
	const char		*cr;

	if (m->gone || m->werr != 0)
		return SINK_OK;		/* the exit status will tell */
	if (c->stripcr) {
		while ((cr = memchr(p, '\r', n)) != NULL) {
			(void)buf_append(m->out, p, (size_t)(cr - p));
			n -= (size_t)(cr - p) + 1;
			p = cr + 1;
		}
	}
	(void)buf_append(m->out, p, n);
	if (eol != CONN_EOL_NONE) {
		if (c->stripcr)
			(void)buf_append(m->out, "\n", 1);
		else if (c->forcecr || eol == CONN_EOL_CRLF)
			(void)buf_append(m->out, "\r\n", 2);
		else
			(void)buf_append(m->out, "\n", 1);
	}
	if (buf_len(m->out) >= MDA_CHUNK)
		mda_drain(m);
	return SINK_OK;
}

/* Close its stdin and reap it: the wait status, or -1 (errno). */
static int
mda_wait(struct mda *m)
{
	int	 st;
	pid_t	 r;

	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
	if (m->pid == -1)
		return -1;
	while ((r = waitpid(m->pid, &st, 0)) == -1 && errno == EINTR)
		;
	m->pid = -1;
	return r == -1 ? -1 : st;
}

static enum sink_result
mda_end(struct sink *s)
{
	struct mda		*m = s->impl;
	enum sink_result	 r = SINK_TEMPFAIL;
	size_t			 i;
	int			 st;

	mda_drain(m);
	if (m->fd != -1)
		close(m->fd);	/* end of input: the MDA finishes alone */
	m->fd = -1;
	if (s->conf->idle != NULL)
		s->conf->idle(s->conf->idle_arg);
	if ((st = mda_wait(m)) != -1 && (m->gone || m->werr != 0)) {
		/* it did not take the whole message, whatever it says */
		sink_seterr(s, "%s", _("error writing message text"));
		r = SINK_ERROR;
	} else if (st == -1)
		sink_seterr(s, _("MDA lost: %s"), strerror(errno));
	else if (WIFSIGNALED(st))
		sink_seterr(s, _("MDA died of signal %d"), WTERMSIG(st));
	else if (!WIFEXITED(st))
		sink_seterr(s, _("MDA lost: wait status %d"), st);
	else if (WEXITSTATUS(st) != 0)
		sink_seterr(s, _("MDA returned nonzero status %d"),
		    WEXITSTATUS(st));
	else
		r = SINK_OK;
	for (i = 0; i < s->nrcpt; i++)
		s->rcpt[i].result = r;
	return r;
}

/* Drop the message: close the MDA's stdin and reap it. */
static void
mda_abort(struct sink *s)
{
	struct mda	*m = s->impl;

	buf_reset(m->out);
	(void)mda_wait(m);
}
