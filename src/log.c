/*
 * log.c: message output (see log.h).  Foreground runs write information
 * to stdout and errors to stderr; a logfile or syslog takes everything.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"

static int	 verbosity;
static bool	 use_syslog;
static bool	 to_file;	/* stdout and stderr are the logfile */
static bool	 open_line;	/* a progress line is open */
static char	*line_buf;	/* its text so far (syslog) */

void
log_set_verbosity(int v)
{
	verbosity = v;
}

int
log_verbosity(void)
{
	return verbosity;
}

/* Point stdout and stderr at PATH, opened for appending; 0 or -1
 * (errno set). */
int
log_open_file(const char *path)
{
	int	 fd, e;

	fflush(stdout);
	fflush(stderr);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1)
		return -1;
	if (dup2(fd, STDOUT_FILENO) == -1 || dup2(fd, STDERR_FILENO) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	to_file = true;
	return 0;
}

void
log_open_syslog(void)
{
	openlog("fetchmail", LOG_PID, LOG_MAIL);
	use_syslog = true;
}

bool
log_on_terminal(void)
{
	return !use_syslog && !to_file && isatty(STDOUT_FILENO);
}

void
log_close(void)
{
	log_progress_end();
	fflush(stdout);
	if (use_syslog)
		closelog();
	use_syslog = false;
}

/* Write one whole message line to its destination.  In a logfile
 * every line carries the prefix, as the reference's do. */
static void
emit(int prio, bool prefix, const char *text)
{
	FILE	*fp;

	if (use_syslog) {
		syslog(prio, "%s", text);
		return;
	}
	fp = prio <= LOG_WARNING ? stderr : stdout;
	if (fp == stderr)
		fflush(stdout);
	fprintf(fp, "%s%s\n", prefix || to_file ? "fetchmail: " : "", text);
	if (fp == stdout)
		fflush(stdout);
}

/* Format and emit; closes an open progress line first. */
static void
vlog(int prio, const char *fmt, va_list ap)
{
	char	*s;

	log_progress_end();
	s = xvasprintf(fmt, ap);
	emit(prio, true, s);
	free(s);
}

void
log_err(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_err_plain(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	log_progress_end();
	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	emit(LOG_ERR, false, s);
	free(s);
}

void
log_err_lines(const char *text)
{
	const char	*nl;

	while ((nl = strchr(text, '\n')) != NULL) {
		log_err("%.*s", (int)(nl - text), text);
		text = nl + 1;
	}
	log_err("%s", text);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	if (verbosity < 0)
		return;
	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_notice(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_verbose(const char *fmt, ...)
{
	va_list	ap;

	if (verbosity < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (verbosity < 2)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

/* Whether stdout is a terminal (asked once). */
static bool
stdout_tty(void)
{
	static int tty = -1;

	if (tty == -1)
		tty = isatty(STDOUT_FILENO);
	return tty == 1;
}

/* Whether pieces are collected and written whole (syslog). */
static bool
collecting(void)
{
	return use_syslog;
}

/* Add formatted text to the open progress line. */
static void
vprogress(const char *fmt, va_list ap)
{
	char	*s, *t;

	s = xvasprintf(fmt, ap);
	if (collecting()) {
		t = xasprintf("%s%s", line_buf ? line_buf : "", s);
		free(line_buf);
		line_buf = t;
	} else {
		fputs(s, stdout);
		if (stdout_tty())	/* show the piece now; elsewhere the
					 * whole line goes out at once */
			fflush(stdout);
	}
	free(s);
	open_line = true;
}

void
log_progress(const char *fmt, ...)
{
	va_list	ap;

	if (verbosity < 0)
		return;
	log_progress_end();
	if (!collecting() && to_file)
		fputs("fetchmail: ", stdout);
	va_start(ap, fmt);
	vprogress(fmt, ap);
	va_end(ap);
}

void
log_progress_more(const char *fmt, ...)
{
	va_list	ap;

	if (verbosity < 0)
		return;
	/* a message in between ended the line: go on on a new one */
	if (!open_line && !collecting() && to_file)
		fputs("fetchmail: ", stdout);
	va_start(ap, fmt);
	vprogress(fmt, ap);
	va_end(ap);
}

void
log_progress_end(void)
{
	if (!open_line)
		return;
	open_line = false;
	if (collecting()) {
		emit(LOG_INFO, true, line_buf ? line_buf : "");
		free(line_buf);
		line_buf = NULL;
	} else {
		fputc('\n', stdout);
		fflush(stdout);
	}
}

/* Printable copy of LEN bytes: control bytes and DEL become '?'. */
char *
log_escape(const char *s, size_t len)
{
	char	*out = xmalloc(len + 1);
	size_t	 i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	out[len] = '\0';
	return out;
}
