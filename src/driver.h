/*
 * driver.h: runs the polls of a resolved configuration: for each query,
 * pre-connect command, name lookup, connection and TLS, the protocol
 * session, delivery of every message through a sink, UID bookkeeping,
 * post-connect command; and combines the queries' statuses into the
 * exit status as the reference does.
 */
#ifndef DRIVER_H
#define DRIVER_H

#include <stdbool.h>

struct cfg;

struct driver_opts {
	const char	*hostname;	/* this host ("by" in Received) */
	const char	*user;		/* invoking user */
	int		 verbose;	/* -v count; -1 with -s */
	bool		 check;		/* -c: count, fetch nothing */
	bool		 named;		/* poll only queries named on the
					 * command line */
	unsigned long	 cycle;		/* daemon cycle, from 0: a query
					 * with "interval N" is polled on
					 * every Nth */
};

/* Poll every active query once (as due in this cycle); returns the
 * combined status. */
int	driver_run(const struct cfg *, const struct driver_opts *);

#endif
