/*
 * daemon.h: running in the background: detaching, the signals that
 * wake, restart and stop fetchmail, and the sleep between polls.
 *
 * The signal handlers only set flags, except that a termination signal
 * that arrives while a poll runs ends the process at once (after
 * removing the lock): everything a poll must keep is already on disk
 * by then (UIDs are synced before each deletion).
 */
#ifndef DAEMON_H
#define DAEMON_H

#include <stdbool.h>

/* Detach from the terminal: fork (the parent exits 0), new session,
 * stdin from /dev/null, stdout and stderr to /dev/null (the logfile is
 * opened over them later), every other descriptor closed, working
 * directory "/".  0, or -1 after printing why. */
int	daemon_detach(void);

/* Install the handlers: SIGUSR1 (and SIGHUP when ROOT) wake a sleeping
 * daemon; SIGTERM, SIGINT, SIGQUIT, SIGALRM (and SIGHUP otherwise)
 * terminate.  QUIET_TERM: the termination line cannot be written from
 * a handler (syslog). */
void	daemon_signals(bool root, bool quiet_term);

/* A poll starts (termination signals then end the process at once) or
 * ends (a wake-up signal that came during the poll is forgotten, one that
 * comes later ends the next sleep); STATUS is the exit status a
 * termination would use. */
void	daemon_polling(bool on);
void	daemon_set_status(int status);
int	daemon_status(void);

/* Sleep SECS seconds or until a waking or terminating signal: the
 * waking signal's number, 0 after the full time, or -N for termination
 * by signal N. */
int	daemon_sleep(unsigned int secs);

/* A termination signal that arrived outside a poll: its number, or 0. */
int	daemon_term_signal(void);

#endif
