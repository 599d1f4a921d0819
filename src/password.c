/*
 * password.c: the start-up password prompt (see password.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"
#include "password.h"
#include "session.h"
#include "xmalloc.h"
#include "i18n.h"

/* Read one line from the terminal with echo off, after PROMPT; an
 * allocated string without the line end, or NULL. */
static char *
read_secret(const char *prompt)
{
	struct termios	 old, quiet;
	FILE		*tty;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 n;
	bool		 echo_off = false;

	if ((tty = fopen("/dev/tty", "r+e")) == NULL)
		return NULL;
	/* echo goes off before the prompt shows: what is typed after it
	 * must never appear */
	if (tcgetattr(fileno(tty), &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		echo_off = tcsetattr(fileno(tty), TCSAFLUSH, &quiet) == 0;
	}
	fputs(prompt, tty);
	fflush(tty);
	n = getline(&line, &cap, tty);
	if (echo_off)
		(void)tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

int
ask_passwords(struct cfg *c)
{
	struct cfg_query	*q;
	char			*prompt;

	for (q = c->queries; q != NULL; q = q->next) {
		if (!q->polled || q->o.password != NULL ||
		    q->o.passwordfile != NULL || q->o.passwordcommand != NULL)
			continue;
		if (!isatty(STDIN_FILENO)) {
			log_err(_("can't find a password for %s@%s."),
			    q->o.remote, q->pollname);
			return PS_AUTHFAIL;
		}
		prompt = xasprintf(_("Enter password for %s@%s: "),
		    q->o.remote, q->pollname);
		q->o.password = read_secret(prompt);
		free(prompt);
		if (q->o.password == NULL) {
			log_err(_("can't find a password for %s@%s."),
			    q->o.remote, q->pollname);
			return PS_AUTHFAIL;
		}
	}
	return 0;
}
