/*
 * uidstore.h: the UID database (the idfile, ~/.fetchids): which messages
 * of which account were already fetched, kept across runs.
 *
 * An account is a remote user at a query name (the via name, else the
 * poll name) and optionally a folder (IMAP); user and host compare
 * without regard to ASCII case.  UIDs are bytes plus a length (any byte,
 * 1 to UID_MAX_LEN of them).  All strings passed in are borrowed.
 */
#ifndef UIDSTORE_H
#define UIDSTORE_H

#include <stddef.h>
#include <stdint.h>

#define UID_MAX_LEN	4096	/* longest UID accepted, in bytes */
#define UID_NAME_MAX	4096	/* longest user, host or folder name */

/* What the store knows of one UID.  Only SEEN and DELETED are saved;
 * the file does not tell them apart, so loaded UIDs are SEEN. */
enum uid_state {
	UID_ABSENT,	/* not in the store (uid_lookup() result) */
	UID_UNSEEN,	/* listed by the server this poll, not fetched */
	UID_SEEN,	/* fetched and left on the server */
	UID_DELETED,	/* fetched, deletion sent but not yet committed: a
			 * later poll still listing it deletes it again */
	UID_EXPUNGED	/* deletion committed: gone from the server */
};

struct uid_store;
struct uid_account;

/* One UID of a present-set (borrowed bytes). */
struct uid_ref {
	const void	*uid;
	size_t		 len;
};

/* Empty store for idfile PATH (copied; NULL: a store never saved). */
struct uid_store	*uid_create(const char *);
/* Free the store and its accounts; NULL is ok. */
void			 uid_free(struct uid_store *);

/* Read the idfile into the store.  0: read (a missing file reads as
 * empty); -1: not readable, what was read is kept, see uid_error().
 * Malformed lines are skipped and reported by uid_warning(). */
int			 uid_load(struct uid_store *);
/* The same from LEN bytes in memory. */
int			 uid_load_mem(struct uid_store *, const void *, size_t);

/* Rewrite the idfile atomically and durably: IDFILE_ written with mode
 * 0600 and fsynced, renamed over the idfile, directory fsynced.  With
 * nothing to save the idfile is removed.  -1 (the old file intact unless
 * only the directory sync failed), see uid_error(). */
int			 uid_save(struct uid_store *);
/* Cheap durable commit, e.g. after each delivered message: appends the
 * lines of UIDs newly SEEN or DELETED (and fsyncs) if nothing else
 * changed since the file was last written, else uid_save().  0, or -1
 * with the file as it was, see uid_error(). */
int			 uid_sync(struct uid_store *);
/* The bytes uid_save() would write: *LEN of them at *DATA, followed by
 * a NUL (caller frees). */
void			 uid_save_mem(struct uid_store *, char **, size_t *);

/* The last error (borrowed until the next call), NULL if none. */
const char		*uid_error(const struct uid_store *);
/* Load warnings ("FILE:LINE: why"), at most about 20 kept. */
size_t			 uid_nwarnings(const struct uid_store *);
const char		*uid_warning(const struct uid_store *, size_t);

/* The account USER@HOST (FOLDER NULL: none), created if new; the names
 * given become the ones saved.  NULL if a name is over UID_NAME_MAX.
 * Accounts live as long as the store. */
struct uid_account	*uid_account_add(struct uid_store *, const char *,
			    const char *, const char *);
/* The same without creating: NULL if unknown. */
struct uid_account	*uid_account_find(struct uid_store *, const char *,
			    const char *, const char *);
/* Accounts in creation (file) order: pass NULL for the first. */
struct uid_account	*uid_account_next(const struct uid_store *,
			    const struct uid_account *);
/* The account's names (borrowed; *FOLDER may be NULL). */
void			 uid_account_names(const struct uid_account *,
			    const char **, const char **, const char **);

/* The state of UID (LEN bytes) in ACCOUNT, UID_ABSENT if unknown. */
enum uid_state		 uid_lookup(struct uid_store *, struct uid_account *,
			    const void *, size_t);
/* Record UID's state (UID_ABSENT removes it; a saved UID moved to
 * UNSEEN or EXPUNGED is no longer saved).  -1 if the UID is empty or
 * longer than UID_MAX_LEN, or the state is not one of the enum. */
int			 uid_mark(struct uid_store *, struct uid_account *,
			    const void *, size_t, enum uid_state);
/* After a successful poll: drop ACCOUNT's UIDs that are not among the N
 * in PRESENT (the server's listing).  Returns how many were dropped. */
size_t			 uid_forget_absent(struct uid_store *,
			    struct uid_account *, const struct uid_ref *,
			    size_t);
/* Number of UIDs in ACCOUNT, or in the store if ACCOUNT is NULL. */
size_t			 uid_count(const struct uid_store *,
			    const struct uid_account *);
/* Call FN(ARG, uid, len, state) for ACCOUNT's UIDs in order; FN must
 * not change the store. */
void			 uid_walk(const struct uid_account *,
			    void (*)(void *, const void *, size_t,
			    enum uid_state), void *);

/* IMAP UIDVALIDITY of ACCOUNT: 0 and *V, or -1 if none is known. */
int			 uid_validity_get(struct uid_store *,
			    struct uid_account *, uint32_t *);
/* Set it (V > 0).  A new or different value drops the account's UIDs,
 * which belonged to the old one, and returns 1; same value: 0; -1 if V
 * is 0. */
int			 uid_validity_set(struct uid_store *,
			    struct uid_account *, uint32_t);

/* The name of a state, for traces ("SEEN"). */
const char		*uid_state_name(enum uid_state);
/* Hash-chain steps taken so far (tests check the work is linear). */
unsigned long		 uid_probes(const struct uid_store *);

#endif
