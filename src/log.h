/*
 * log.h: the program's messages, as the reference prints them.
 *
 * Informational messages (progress, -v transcripts) go to stdout and
 * errors to stderr, each "fetchmail: "-prefixed, or all of them to the
 * logfile or syslog when one is set up.  Progress lines built in pieces
 * ("reading message ..." then " flushed") are unprefixed on a terminal
 * run and prefixed in a logfile or daemon, as the reference does.
 * Messages are complete lines; the functions add the newline.
 */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>
#include <stdio.h>

/* Verbosity: -1 silent (-s), 0 normal, 1 -v, 2 -v -v, 3 more. */
void	log_set_verbosity(int);
int	log_verbosity(void);
/* Send everything to FILE (stdout and stderr reopened on it, appending;
 * every line prefixed, no timestamps, as the reference) or to syslog
 * (facility mail). */
int	log_open_file(const char *path);
void	log_open_syslog(void);
void	log_close(void);
/* Whether messages reach a terminal (not syslog, not a logfile). */
bool	log_on_terminal(void);

/* Error: stderr, always shown (even with -s). */
void	log_err(const char *, ...) __attribute__((format(printf, 1, 2)));
/* An error line without the "fetchmail: " prefix on a terminal (the
 * reference's connection-failure lines). */
void	log_err_plain(const char *, ...) __attribute__((format(printf, 1, 2)));
/* log_err() for each line of a multi-line text. */
void	log_err_lines(const char *);
/* Information shown at normal verbosity (not with -s). */
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Information shown even with -s (the reference's "Query status" lines). */
void	log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Shown with -v, and with -v -v. */
void	log_verbose(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Progress pieces: start a line (prefix rule above), add to it, end it.
 * Not shown with -s.  A log_* call in between ends the open line first;
 * log_progress_more() then goes on on a line of its own. */
void	log_progress(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_progress_more(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
void	log_progress_end(void);
/* The bytes of a (received) protocol line made printable for a log. */
char	*log_escape(const char *, size_t);

#endif
