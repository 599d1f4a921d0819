/*
 * attempts.h: connection attempts reported as the reference reports
 * them ("Trying to connect to A/P...", "connection to H:P [A/P] failed:
 * WHY." and the "name N: ..." lines of "Connection errors for this
 * poll:"), for the server connection and the ODMR relay's listener.
 */
#ifndef ATTEMPTS_H
#define ATTEMPTS_H

struct attempts {
	const char	*host, *port;	/* as configured */
	char		*errors;	/* "name N: ..." lines, or NULL */
	char		*last;		/* the last reason, or NULL */
	unsigned	 n;
};

/* A conn_attempt_fn (conn.h) with a struct attempts as its argument. */
void	attempts_report(void *arg, const char *addr, const char *port,
	    const char *why);
/* Free what the reports collected. */
void	attempts_free(struct attempts *);

#endif
