/*
 * driver_priv.h: state shared by driver.c (queries, connections) and
 * deliver.c (what happens to each message).
 */
#ifndef DRIVER_PRIV_H
#define DRIVER_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "driver.h"
#include "msg.h"
#include "session.h"
#include "sink.h"

struct uid_store;
struct uid_account;

/* One poll of one query, as the driver sees it. */
struct drv {
	const struct driver_opts *dopts;
	const struct cfg	*cfg;
	struct session		 s;
	struct uid_store	*uids;
	struct uid_account	*acct;
	char			*ipaddr;	/* server address, dns on */
	char			*truename;
	char			*fresh_pw;	/* passwordfile/command */
	int			 proto;		/* the protocol spoken (`auto`
						 * tries IMAP, then POP3) */
	/* the listing, kept for the UID bookkeeping after the poll */
	char			**present;
	size_t			*presentlen;
	size_t			 npresent;
	/* UIDs marked deleted this session, committed by QUIT */
	char			**deleted;
	size_t			*deletedlen;
	size_t			 ndeleted;
	unsigned long		 count;		/* messages on the server */
	unsigned long		 limit;		/* messages per session, 0: any */
	bool			 limit_expunge;	/* the limit is expunge N */
	bool			 limit_hit;	/* the limit stopped the session */
	unsigned long		 since_sink;	/* messages on this sink */
	struct msg		*msg;
	struct msg_opts		 mopts;
	struct sink		*sink;
	struct sink_conf	 sconf;
	struct buf		*line;
	bool			 uid_unsynced;	/* marked, not yet fsynced */
	struct dns_cache	*dnscache;	/* multidrop alias verdicts */
};

/* deliver_md.c: multidrop.  md_find(): the message's recipients into
 * *res with the query's settings, logged; false (nothing logged) when
 * it is a duplicate of the query's previous message.  md_warning(): the
 * X-Fetchmail-Warning text (allocated, or NULL). */
struct rcpt_result;
struct msg_info;
bool	md_find(struct drv *, const struct msgref *, struct rcpt_result *);
char	*md_warning(const struct rcpt_result *, const struct msg_info *);

/* deliver.c */
extern const struct session_ops driver_ops;
void	deliver_setup(struct drv *);
void	deliver_finish(struct drv *);

#endif
