/*
 * lock.c: the pid/lock file (see lock.h).
 */
#include "config.h"

#include <sys/types.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "env.h"
#include "lock.h"
#include "log.h"
#include "xmalloc.h"
#include "i18n.h"

#define LOCK_MAX	4096	/* a lock file is two numbers */

static char		*held_path;	/* the lock we made, or NULL */
static pid_t		 held_pid;	/* by this process */
static volatile sig_atomic_t released;

char *
lock_default_path(const char *opt, const struct fm_env *fe)
{
	if (opt != NULL)
		return xstrdup(opt);
	if (fe->env.uid == 0)
		return xstrdup(PIDDIR "/fetchmail.pid");
	if (fe->env.fmhome_env)
		return xasprintf("%s/fetchmail.pid", fe->fmhome);
	return xasprintf("%s/.fetchmail.pid", fe->home);
}

/* Parse one line of decimal digits ending at '\n' or EOF; its value,
 * or -1.  *p moves past the line. */
static long
parse_line(const char **p, const char *end)
{
	const char	*s = *p;
	long		 v = 0;

	if (s >= end || *s < '0' || *s > '9')
		return -1;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (LONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (s < end && *s != '\n')
		return -1;
	*p = s < end ? s + 1 : s;
	return v;
}

/* Read PATH into BUF (NUL-terminated); its length, -2 when it does not
 * exist, or -1 after printing the error. */
static ssize_t
read_lock(const char *path, char *buf, size_t size)
{
	ssize_t	 n, got = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return -2;
		log_err(_("error opening lockfile \"%s\": %s"), path,
		    strerror(errno));
		return -1;
	}
	while ((size_t)got < size - 1 &&
	    (n = read(fd, buf + got, size - 1 - got)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_err(_("error reading lockfile \"%s\": %s"), path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

/* Remove a stale lock file, or empty it when it cannot be removed. */
static int
remove_stale(const char *path)
{
	int	 fd;

	log_err(_("fetchmail: removing stale lockfile \"%s\""), path);
	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	log_err(_("cannot unlink lockfile \"%s\" (%s), trying to write to it"),
	    path, strerror(errno));
	if ((fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1) {
		log_err(_("cannot write to lockfile \"%s\" (%s), exiting"), path,
		    strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

int
lock_probe(const char *path, pid_t *pid, bool *bg)
{
	char		 buf[LOCK_MAX];
	const char	*p = buf, *end;
	ssize_t		 n;
	long		 v, iv = -1;

	*pid = 0;
	*bg = false;
	if ((n = read_lock(path, buf, sizeof(buf))) == -2)
		return 1;
	if (n < 0)
		return -1;
	if (n == 0)		/* truncated by a run that could not unlink */
		return 1;
	end = buf + n;
	if ((v = parse_line(&p, end)) > 0 && p < end)
		iv = parse_line(&p, end);
	if (v <= 0 || (pid_t)v != v || (p < end && iv < 0) ||
	    ((pid_t)v != getpid() && kill((pid_t)v, 0) != 0))
		return remove_stale(path) == 0 ? 1 : -1;
	*pid = (pid_t)v;
	*bg = iv >= 0;
	return 0;
}

/* Write all of S to FD; 0 or -1. */
static int
write_all(int fd, const char *s, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, s, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int
lock_take(const char *path, long interval)
{
	char	*text;
	int	 fd, rc;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		log_err(_("lock creation failed, pidfile \"%s\": %s"), path,
		    strerror(errno));
		return -1;
	}
	text = interval > 0 ? xasprintf("%ld\n%ld\n", (long)getpid(), interval)
	    : xasprintf("%ld\n", (long)getpid());
	rc = write_all(fd, text, strlen(text));
	if (rc == 0)
		rc = fsync(fd);
	free(text);
	if (close(fd) != 0 || rc != 0) {
		log_err(_("lock creation failed, pidfile \"%s\": %s"), path,
		    strerror(errno));
		unlink(path);
		return -1;
	}
	lock_adopt(path);
	return 0;
}

void
lock_adopt(const char *path)
{
	free(held_path);
	held_path = xstrdup(path);
	held_pid = getpid();
	released = 0;
}

void
lock_release(void)
{
	if (held_path == NULL || released || getpid() != held_pid)
		return;
	released = 1;
	(void)unlink(held_path);
}
