/*
 * imap_priv.h: the state of an IMAP session shared by imap.c (folders,
 * listing, pipelined fetches, flags, IDLE) and imap_login.c (greeting,
 * capabilities, STARTTLS, authentication).
 */
#ifndef IMAP_PRIV_H
#define IMAP_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap_parse.h"

struct pending;
struct lent;
struct pop3_tls;

/* A growable list of listing indexes. */
struct idxv {
	size_t		*v;
	size_t		 n, cap;
};

struct imap {
	struct session	*s;
	struct conn	*c;
	struct buf	*line;
	struct buf	*cmd;		/* command being built */
	struct buf	*junk;		/* literal bytes skipped */
	struct imap_caps caps;
	bool		 caps_fresh;	/* caps updated since reset */
	bool		 preauth;
	bool		 logout;	/* BYE is expected */
	bool		 lazy;		/* the plan runs: reading does not
					 * flush (run_plan decides) */
	unsigned	 tag;		/* last tag used */
	/* the selected folder */
	uint64_t	 exists;
	uint32_t	 uidvalidity;
	bool		 readonly;
	struct lent	*lst;		/* while listing, else NULL */
	size_t		 nlst;
	/* the pipeline */
	struct pending	*fifo;
	size_t		 head, count, cap;
	size_t		 fetches;	/* IC_FETCH among them */
	size_t		 cmds;		/* commands among them */
	size_t		 skipdels;	/* IC_SKIPDEL markers among them */
	unsigned long	 seq_pushed, seq_sent;
	size_t		 unsent_fetches;
	/* the literal being streamed */
	uint64_t	 lit_left;
	struct buf	*tail;		/* its last bytes */
	size_t		 tail_off;
	bool		 body_err;
	/* messages accepted by the sink whose flags are not queued yet:
	 * \Seen \Deleted, and \Seen only (one UID STORE per batch) */
	struct idxv	 bdel, bseen;
	/* UIDs flagged \Deleted since the last EXPUNGE was queued */
	uint32_t	*qdel;
	size_t		 nqdel, qdelcap;
	unsigned long	 expunge_every;	/* 0: at the end of a folder */
	bool		 store_failed;
	bool		 expunge_failed;
	bool		 grew;		/* EXISTS grew since the listing */
};

/* Report a connection failure and set the socket status; -1. */
int		imap_io_fail(struct imap *);
/* Report a response this client cannot take; protocol status; -1. */
int		imap_proto_fail(struct imap *, const char *, size_t);
/* Queue a tagged command (CRLF added); its tag, 0 on error. */
unsigned	imap_send_cmd(struct imap *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/* Whether a tagged response carries TAG. */
bool		imap_tag_is(const struct imap_resp *, unsigned tag);
/* Untagged data that needs no caller; 0, or -1 (status set). */
int		imap_untagged(struct imap *, const struct imap_resp *);
/* Read responses until a tagged one, a continuation or an untagged
 * FETCH, which *r then describes (borrowed from ip->line). */
int		imap_next_resp(struct imap *, struct imap_resp *);
/* Read up to the tagged reply to TAG; untagged FETCHes are skipped. */
int		imap_simple_reply(struct imap *, unsigned tag,
		    struct imap_resp *);
/* Send a command and wait for its reply; the condition or -1. */
int		imap_command(struct imap *, struct imap_resp *, const char *,
		    ...) __attribute__((format(printf, 3, 4)));

/* imap_login.c: CAPABILITY (the reply updates ip->caps); 0 or -1. */
int		imap_capability(struct imap *);
/* imap_login.c: greeting, capabilities, TLS, authentication; 0, or -1
 * with the status set. */
int		imap_login(struct imap *, const struct pop3_tls *);

#endif
