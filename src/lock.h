/*
 * lock.h: the pid/lock file that keeps two fetchmails of one user apart
 * and lets a second invocation find (wake, stop) a running daemon.
 *
 * The file holds "PID\n" for a single run and "PID\nINTERVAL\n" for a
 * daemon, is created 0600 with O_EXCL and removed when the process that
 * made it exits, as fetchmail 6.4.37 does.
 */
#ifndef LOCK_H
#define LOCK_H

#include <stdbool.h>
#include <sys/types.h>

struct fm_env;

/* The lock file path: OPT (pidfile option) if set, else the default
 * for the invoking user.  Allocated. */
char	*lock_default_path(const char *opt, const struct fm_env *);

/* Who holds the lock at PATH: 0 with *pid set to the holder (and *bg
 * true when it is a daemon), 1 when nobody does (a stale file was
 * removed), or -1 after printing why the file cannot be used. */
int	 lock_probe(const char *path, pid_t *pid, bool *bg);

/* Create the lock for this process (INTERVAL > 0: a daemon).  0, or -1
 * after printing why. */
int	 lock_take(const char *path, long interval);

/* Adopt PATH as ours without writing it (a daemon restarted by exec
 * finds its own pid there). */
void	 lock_adopt(const char *path);

/* Remove the lock if this process holds it.  Safe in a signal handler. */
void	 lock_release(void);

#endif
