/*
 * daemon.c: detaching, signals and sleeping (see daemon.h).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "lock.h"
#include "log.h"
#include "i18n.h"

static volatile sig_atomic_t polling;	/* a poll is running */
static volatile sig_atomic_t wake_sig;	/* waking signal seen */
static volatile sig_atomic_t term_sig;	/* termination signal seen */
static volatile sig_atomic_t exit_status;
static bool	quiet;
/* "terminated with signal %d", translated before any signal can come,
 * split around the number */
static char	term_head[160], term_tail[80];

int
daemon_detach(void)
{
	pid_t	 pid;
	int	 fd;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		log_err("%s", _("Cannot detach into background. Aborting."));
		return -1;
	}
	if (pid > 0)
		_exit(0);		/* the caller's shell gets 0 at once */
	if (setsid() == -1) {
		log_err("%s", _("Cannot detach into background. Aborting."));
		return -1;
	}
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	for (fd = STDERR_FILENO + 1; fd < 1024; fd++)
		(void)close(fd);	/* syslog reopens its socket */
	(void)chdir("/");
	return 0;
}

/* Append decimal V to BUF at *len (async-signal-safe). */
static void
put_num(char *buf, size_t size, size_t *len, int v)
{
	char	digits[16];
	size_t	n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && n < sizeof(digits));
	while (n > 0 && *len + 1 < size)
		buf[(*len)++] = digits[--n];
}

/* End the process now, from a handler: the message, the lock, exit. */
static void
terminate_now(int sig)
{
	char	 msg[11 + sizeof(term_head) + 16 + sizeof(term_tail) + 1];
	size_t	 len = 11, hl = strlen(term_head), tl = strlen(term_tail);

	if (!quiet) {
		memcpy(msg, "fetchmail: ", 11);
		memcpy(msg + len, term_head, hl);
		len += hl;
		put_num(msg, sizeof(msg), &len, sig);
		memcpy(msg + len, term_tail, tl);
		len += tl;
		msg[len++] = '\n';
		(void)!write(STDOUT_FILENO, msg, len);
	}
	lock_release();
	_exit(exit_status);
}

static void
on_term(int sig)
{
	if (polling)
		terminate_now(sig);
	term_sig = sig;
}

static void
on_wake(int sig)
{
	wake_sig = sig;
}

/* Install HANDLER for SIG, without SA_RESTART so a sleep ends. */
static void
handle(int sig, void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(sig, &sa, NULL);
}

void
daemon_signals(bool root, bool quiet_term)
{
	/* TRANSLATORS: keep exactly one %d: a signal handler fills it in */
	const char	*t = _("terminated with signal %d"), *d;

	if ((d = strstr(t, "%d")) == NULL)
		t = "terminated with signal %d", d = strstr(t, "%d");
	snprintf(term_head, sizeof(term_head), "%.*s", (int)(d - t), t);
	snprintf(term_tail, sizeof(term_tail), "%s", d + 2);
	quiet = quiet_term;
	handle(SIGUSR1, on_wake);
	handle(SIGHUP, root ? on_wake : on_term);
	handle(SIGTERM, on_term);
	handle(SIGINT, on_term);
	handle(SIGQUIT, on_term);
	handle(SIGALRM, on_term);
}

void
daemon_polling(bool on)
{
	if (!on)
		wake_sig = 0;	/* a wake-up during the poll is ignored;
				 * one from now on ends the coming sleep */
	polling = on;
}

void
daemon_set_status(int status)
{
	exit_status = status;
}

int
daemon_status(void)
{
	return exit_status;
}

int
daemon_term_signal(void)
{
	return term_sig;
}

/* The signals a sleep waits for. */
static void
sleep_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGALRM);
}

int
daemon_sleep(unsigned int secs)
{
	sigset_t	 block, old;
	struct timespec	 end, now, left;
	int		 r = 0;

	sleep_set(&block);
	sigprocmask(SIG_BLOCK, &block, &old);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += secs;
	for (;;) {
		if (term_sig != 0) {
			r = -term_sig;
			break;
		}
		if (wake_sig != 0) {
			r = wake_sig;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = end.tv_sec - now.tv_sec;
		left.tv_nsec = end.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_nsec += 1000000000L;
			left.tv_sec--;
		}
		if (left.tv_sec < 0)
			break;
		(void)ppoll(NULL, 0, &left, &old);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}
