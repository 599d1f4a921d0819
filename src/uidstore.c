/*
 * uidstore.c: the UID database (the idfile, ~/.fetchids).
 *
 * Theory.  POP3 servers name messages by unique ids (UIDL); the store
 * remembers, per account, the ids of messages already fetched, so that a
 * later poll in "keep" mode skips them, and forgets ids the server no
 * longer lists.  In memory there is one hash table of accounts and one of
 * UIDs keyed by account and UID bytes, both under a per-store random
 * SipHash key so that a hostile server cannot make lookups slow; every
 * account also keeps its UIDs in insertion order, which is the order the
 * file is written in.
 *
 * The file, as fetchmail 6.4.37 writes and reads it (checked against the
 * binary): one line per seen or deleted-but-not-expunged message,
 *	USER@HOST UID
 * HOST being the query name (via, else the poll name).  The reader skips
 * leading spaces and tabs, takes the account up to the first space after
 * the first '@' (trailing tabs dropped), splits user from host at the
 * last '@' in it, skips spaces and takes the UID up to the next space or
 * tab; the rest of the line is ignored.  UIDs are written raw (any byte
 * but space, tab, NUL and newline); lines of other accounts are kept.
 * What that form cannot carry -- UIDs with blanks or control bytes,
 * folders, IMAP UIDVALIDITY -- is written as this program's extension,
 *	E(USER)@E(HOST)[/E(FOLDER)] E(UID) %
 *	E(USER)@E(HOST)[/E(FOLDER)] NUMBER %uidvalidity
 * where E() writes '%', '@', '/' and bytes outside 0x21..0x7e as %XX.  The
 * reference reads the third word as trailing junk, and lines naming a
 * folder belong to none of its accounts, so it keeps them verbatim.
 *
 * Deviations, all towards re-fetching rather than skipping a message:
 * lines with a NUL byte, an empty or over-long UID, and a last line with
 * no newline (a torn append) are dropped and reported; a CR before the
 * newline is not part of the UID.
 *
 * Saving.  uid_save() writes IDFILE_ with mode 0600, fsyncs it, renames
 * it over the idfile and fsyncs the directory; with nothing to save the
 * idfile is removed, as the reference does.  uid_sync() is the cheap
 * commit after each message: if the only changes since the file was last
 * written are UIDs that became saved, and the file is still the one
 * written, it appends their lines and fsyncs; otherwise it saves.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "uidstore.h"
#include "util.h"
#include "xmalloc.h"

#define UID_LINE_MAX	65536	/* longest idfile line read */
#define UID_WARN_MAX	20	/* malformed lines reported one by one */
#define UID_CHUNK	65536	/* read and write unit */
#define TAB_MIN		64	/* initial hash table size (a power of 2) */

enum tag { TAG_NONE, TAG_ENC, TAG_VALIDITY };

struct uid_entry {
	struct uid_entry	*hnext;		/* hash chain */
	struct uid_entry	*prev, *next;	/* the account's order */
	struct uid_account	*acct;
	uint64_t		 hash;
	unsigned long		 gen;		/* uid_forget_absent() stamp */
	unsigned char		 state;		/* enum uid_state */
	unsigned char		 on_disk;	/* in the file last written */
	unsigned char		 pending;	/* queued for uid_sync() */
	size_t			 len;
	unsigned char		 uid[];		/* len bytes and a NUL */
};

struct uid_account {
	struct uid_account	*hnext;		/* hash chain */
	struct uid_account	*next;		/* creation order */
	uint64_t		 hash;
	char			*user, *host;
	char			*folder;	/* NULL: none */
	struct uid_entry	*head, *tail;
	size_t			 count;
	uint32_t		 validity;	/* 0: unknown */
};

struct uid_store {
	char			*path;		/* NULL: never saved */
	uint64_t		 key[2];	/* SipHash key */
	struct uid_entry	**etab;
	size_t			 esize, nent;
	struct uid_account	**atab;
	size_t			 asize, nacct;
	struct uid_account	*afirst, *alast;
	unsigned long		 gen;
	unsigned long		 probes;
	size_t			 nsaved;	/* lines a save writes */
	int			 need_full;	/* uid_sync() must rewrite */
	int			 file_known;	/* dev, ino, size: the file */
	dev_t			 dev;
	ino_t			 ino;
	off_t			 size;
	struct uid_entry	**pend;		/* to append at uid_sync() */
	size_t			 npend, pendcap;
	char			*kbuf, *dbuf;	/* scratch: keys, decoding */
	size_t			 kcap, dcap;
	char			*error;
	char			**warn;
	size_t			 nwarn;
};

/* A line split into its words, pointing into the line. */
struct fields {
	const char	*acct;		/* the account word */
	size_t		 acctlen;
	size_t		 at;		/* offset of its last '@' */
	const char	*field;		/* the UID (or UIDVALIDITY) word */
	size_t		 fieldlen;
	enum tag	 tag;
};

/* The loader's state across chunks of input. */
struct loader {
	struct uid_store	*s;
	char			*buf;		/* an incomplete line */
	size_t			 len, cap;
	size_t			 lineno;
	int			 toolong;	/* inside an over-long line */
};

/* Output being built, flushed to FD (-1: kept in memory). */
struct obuf {
	char	*p;
	size_t	 len, cap;
	int	 fd;
	int	 err;		/* errno of a failed write, else 0 */
};

static uint64_t	 le64(const unsigned char *);
static uint64_t	 siphash(uint64_t, uint64_t, const void *, size_t);
static void	 seed_key(uint64_t[2]);
static void	 set_error(struct uid_store *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 load_warn(struct uid_store *, size_t, const char *);
static char	*grow(char **, size_t *, size_t);
static int	 savable(int);
static int	 lc(int);
static int	 caseeq(const char *, const char *);
static uint64_t	 acct_hash(struct uid_store *, const char *, const char *,
		    const char *);
static struct uid_account *acct_get(struct uid_store *, const char *,
		    const char *, const char *, int);
static void	 acct_grow(struct uid_store *);
static uint64_t	 ent_hash(struct uid_store *, const struct uid_account *,
		    const void *, size_t);
static struct uid_entry *ent_find(struct uid_store *,
		    const struct uid_account *, const void *, size_t, uint64_t);
static struct uid_entry *ent_new(struct uid_store *, struct uid_account *,
		    const void *, size_t, uint64_t);
static void	 ent_free(struct uid_store *, struct uid_entry *);
static void	 ent_grow(struct uid_store *);
static void	 set_state(struct uid_store *, struct uid_entry *, int);
static void	 pend_clear(struct uid_store *);
static void	 full_needed(struct uid_store *);
static int	 parse_fields(const char *, size_t, struct fields *,
		    const char **);
static int	 parse_tag(struct fields *, const char *, const char *,
		    const char **);
static int	 pct_decode(const char *, size_t, char *, size_t *, int);
static int	 parse_u32(const char *, size_t, uint32_t *);
static void	 load_line(struct uid_store *, const char *, size_t, size_t);
static const char *load_raw(struct uid_store *, const struct fields *);
static const char *load_encoded(struct uid_store *, const struct fields *);
static const char *load_entry(struct uid_store *, const char *,
		    const char *, const char *, const char *, size_t);
static const char *load_validity(struct uid_store *, const char *,
		    const char *, const char *, uint32_t);
static void	 load_feed(struct loader *, const char *, size_t);
static void	 load_append(struct loader *, const char *, size_t);
static void	 load_flush(struct loader *);
static void	 load_finish(struct loader *);
static void	 ob_put(struct obuf *, const void *, size_t);
static void	 ob_enc(struct obuf *, const void *, size_t);
static void	 ob_flush(struct obuf *);
static int	 write_all(int, const char *, size_t);
static int	 raw_ok(const char *, size_t, size_t, size_t,
		    const struct uid_entry *);
static void	 put_account(struct obuf *, const struct uid_account *);
static void	 put_entry(struct obuf *, const struct uid_account *,
		    const struct uid_entry *);
static void	 write_lines(struct uid_store *, struct obuf *);
static int	 write_tmp(struct uid_store *, const char *);
static void	 saved_all(struct uid_store *);
static int	 sync_dir(struct uid_store *);
static int	 remove_idfile(struct uid_store *);
static int	 append_pending(struct uid_store *);
static int	 no_path(struct uid_store *);

static const char *const state_names[] = {
	"ABSENT", "UNSEEN", "SEEN", "DELETED", "EXPUNGED"
};

/* --- hashing --------------------------------------------------------- */

/* The little-endian 64-bit word at P. */
static uint64_t
le64(const unsigned char *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

/* SipHash-2-4 of LEN bytes at P under the key K0, K1. */
static uint64_t
siphash(uint64_t k0, uint64_t k1, const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t	v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t	v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t	v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t	v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t	m;
	size_t		i, j;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(s + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	m = (uint64_t)len << 56;
	for (j = 0; i + j < len; j++)
		m |= (uint64_t)s[i + j] << (8 * j);
	v3 ^= m;
	SIPROUND;
	SIPROUND;
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* A random hash key; weaker (time, pid, addresses) without /dev/urandom. */
static void
seed_key(uint64_t k[2])
{
	ssize_t	n = -1;
	int	fd;

	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, k, 2 * sizeof(k[0]));
		close(fd);
	}
	if (n != (ssize_t)(2 * sizeof(k[0]))) {
		k[0] = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
		k[1] = (uint64_t)(uintptr_t)k ^ (uint64_t)clock();
	}
}

/* --- small helpers --------------------------------------------------- */

/* Replace the store's error with a formatted one. */
static void
set_error(struct uid_store *s, const char *fmt, ...)
{
	va_list	 ap;
	char	*m;

	va_start(ap, fmt);
	m = xvasprintf(fmt, ap);
	va_end(ap);
	free(s->error);
	s->error = m;
}

/* Record that line LINENO is malformed (WHY); keeps the first few. */
static void
load_warn(struct uid_store *s, size_t lineno, const char *why)
{
	const char *name = s->path ? s->path : "(memory)";

	if (s->nwarn > UID_WARN_MAX)
		return;
	s->warn = xreallocarray(s->warn, s->nwarn + 1, sizeof(*s->warn));
	if (s->nwarn == UID_WARN_MAX)
		s->warn[s->nwarn++] = xasprintf(
		    _("%s: further malformed lines not reported"), name);
	else
		s->warn[s->nwarn++] = xasprintf(_("%s:%zu: %s; line ignored"),
		    name, lineno, why);
}

/* Make *BUF (capacity *CAP) hold at least N bytes; returns it. */
static char *
grow(char **buf, size_t *cap, size_t n)
{
	size_t	c = *cap ? *cap : 64;

	if (n <= *cap)
		return *buf;
	while (c < n)
		c *= 2;
	*buf = xreallocarray(*buf, c, 1);
	*cap = c;
	return *buf;
}

/* Whether a UID in state ST is written to the idfile. */
static int
savable(int st)
{
	return st == UID_SEEN || st == UID_DELETED;
}

static int
lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Whether A and B are equal but for ASCII case. */
static int
caseeq(const char *a, const char *b)
{
	for (; *a != '\0' && lc((unsigned char)*a) == lc((unsigned char)*b);
	    a++, b++)
		;
	return *a == '\0' && *b == '\0';
}

/* --- accounts -------------------------------------------------------- */

/* Hash of an account: user and host without case, folder exactly. */
static uint64_t
acct_hash(struct uid_store *s, const char *user, const char *host,
    const char *folder)
{
	size_t	ul = strlen(user), hl = strlen(host);
	size_t	fl = folder ? strlen(folder) : 0, i, n = 0;
	char	*k = grow(&s->kbuf, &s->kcap, ul + hl + fl + 3);

	for (i = 0; i < ul; i++)
		k[n++] = (char)lc((unsigned char)user[i]);
	k[n++] = '\0';
	for (i = 0; i < hl; i++)
		k[n++] = (char)lc((unsigned char)host[i]);
	k[n++] = '\0';
	k[n++] = folder != NULL;
	if (fl)
		memcpy(k + n, folder, fl);
	return siphash(s->key[0], s->key[1], k, n + fl);
}

/* The account USER@HOST/FOLDER; created if new and CREATE, else NULL. */
static struct uid_account *
acct_get(struct uid_store *s, const char *user, const char *host,
    const char *folder, int create)
{
	struct uid_account *a;
	uint64_t	h = acct_hash(s, user, host, folder);

	for (a = s->atab[h & (s->asize - 1)]; a != NULL; a = a->hnext) {
		s->probes++;
		if (a->hash == h && caseeq(a->user, user) &&
		    caseeq(a->host, host) && (folder == NULL ?
		    a->folder == NULL : a->folder != NULL &&
		    strcmp(a->folder, folder) == 0))
			return a;
	}
	if (!create)
		return NULL;
	if (s->nacct >= s->asize)
		acct_grow(s);
	a = xcalloc(1, sizeof(*a));
	a->hash = h;
	a->user = xstrdup(user);
	a->host = xstrdup(host);
	a->folder = folder ? xstrdup(folder) : NULL;
	a->hnext = s->atab[h & (s->asize - 1)];
	s->atab[h & (s->asize - 1)] = a;
	if (s->alast)
		s->alast->next = a;
	else
		s->afirst = a;
	s->alast = a;
	s->nacct++;
	return a;
}

/* Double the account table. */
static void
acct_grow(struct uid_store *s)
{
	struct uid_account **t, *a, *n;
	size_t		i, size = s->asize * 2;

	t = xcalloc(size, sizeof(*t));
	for (i = 0; i < s->asize; i++)
		for (a = s->atab[i]; a != NULL; a = n) {
			n = a->hnext;
			a->hnext = t[a->hash & (size - 1)];
			t[a->hash & (size - 1)] = a;
		}
	free(s->atab);
	s->atab = t;
	s->asize = size;
}

/* --- entries --------------------------------------------------------- */

static uint64_t
ent_hash(struct uid_store *s, const struct uid_account *a, const void *uid,
    size_t len)
{
	return siphash(s->key[0] ^ a->hash, s->key[1], uid, len);
}

/* The entry for UID (hash H) in account A, or NULL. */
static struct uid_entry *
ent_find(struct uid_store *s, const struct uid_account *a, const void *uid,
    size_t len, uint64_t h)
{
	struct uid_entry *e;

	for (e = s->etab[h & (s->esize - 1)]; e != NULL; e = e->hnext) {
		s->probes++;
		if (e->hash == h && e->acct == a && e->len == len &&
		    memcmp(e->uid, uid, len) == 0)
			return e;
	}
	return NULL;
}

/* A new entry (state UID_ABSENT) at the end of account A. */
static struct uid_entry *
ent_new(struct uid_store *s, struct uid_account *a, const void *uid,
    size_t len, uint64_t h)
{
	struct uid_entry *e;

	if (s->nent >= s->esize)
		ent_grow(s);
	e = xcalloc(1, sizeof(*e) + len + 1);
	memcpy(e->uid, uid, len);
	e->len = len;
	e->hash = h;
	e->acct = a;
	e->hnext = s->etab[h & (s->esize - 1)];
	s->etab[h & (s->esize - 1)] = e;
	e->prev = a->tail;
	if (a->tail)
		a->tail->next = e;
	else
		a->head = e;
	a->tail = e;
	a->count++;
	s->nent++;
	return e;
}

/* Remove and free entry E. */
static void
ent_free(struct uid_store *s, struct uid_entry *e)
{
	struct uid_entry **pp;
	struct uid_account *a = e->acct;

	for (pp = &s->etab[e->hash & (s->esize - 1)]; *pp != e;
	    pp = &(*pp)->hnext)
		;
	*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		a->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		a->tail = e->prev;
	a->count--;
	s->nent--;
	if (savable(e->state))
		s->nsaved--;
	if (e->on_disk || e->pending)
		full_needed(s);
	free(e);
}

/* Double the entry table. */
static void
ent_grow(struct uid_store *s)
{
	struct uid_entry **t, *e, *n;
	size_t		i, size = s->esize * 2;

	t = xcalloc(size, sizeof(*t));
	for (i = 0; i < s->esize; i++)
		for (e = s->etab[i]; e != NULL; e = n) {
			n = e->hnext;
			e->hnext = t[e->hash & (size - 1)];
			t[e->hash & (size - 1)] = e;
		}
	free(s->etab);
	s->etab = t;
	s->esize = size;
}

/* Move E to state ST, keeping the save bookkeeping right. */
static void
set_state(struct uid_store *s, struct uid_entry *e, int st)
{
	if (savable(e->state) && !savable(st))
		s->nsaved--;
	else if (!savable(e->state) && savable(st))
		s->nsaved++;
	e->state = (unsigned char)st;
	if (!savable(st) && e->on_disk)
		full_needed(s);
	else if (savable(st) && !e->on_disk && !e->pending &&
	    !s->need_full) {
		if (s->npend == s->pendcap) {
			s->pendcap = s->pendcap ? s->pendcap * 2 : 16;
			s->pend = xreallocarray(s->pend, s->pendcap,
			    sizeof(*s->pend));
		}
		s->pend[s->npend++] = e;
		e->pending = 1;
	}
}

/* Empty the queue of entries to append. */
static void
pend_clear(struct uid_store *s)
{
	size_t	i;

	for (i = 0; i < s->npend; i++)
		s->pend[i]->pending = 0;
	s->npend = 0;
}

/* The next commit must rewrite the whole file. */
static void
full_needed(struct uid_store *s)
{
	s->need_full = 1;
	pend_clear(s);
}

/* --- parsing --------------------------------------------------------- */

/* Split line P (LEN bytes, newline removed) as the reference does.
 * 1: blank; 0: split into *F; -1: malformed, *WHY says why. */
static int
parse_fields(const char *p, size_t len, struct fields *f, const char **why)
{
	const char	*end, *at, *sp, *q;

	if (memchr(p, '\0', len) != NULL) {
		*why = _("NUL byte");
		return -1;
	}
	if (len > 0 && p[len - 1] == '\r')
		len--;
	end = p + len;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end)
		return 1;
	if ((at = memchr(p, '@', (size_t)(end - p))) == NULL) {
		*why = _("no '@' in the account");
		return -1;
	}
	if ((sp = memchr(at, ' ', (size_t)(end - at))) == NULL) {
		*why = _("no UID");
		return -1;
	}
	for (q = sp; q > at + 1 && q[-1] == '\t'; q--)
		;
	f->acct = p;
	f->acctlen = (size_t)(q - p);
	for (f->at = f->acctlen - 1; p[f->at] != '@'; f->at--)
		;
	for (q = sp + 1; q < end && *q == ' '; q++)
		;
	for (f->field = q; q < end && *q != ' ' && *q != '\t'; q++)
		;
	f->fieldlen = (size_t)(q - f->field);
	if (f->fieldlen == 0) {
		*why = _("empty UID");
		return -1;
	}
	return parse_tag(f, q, end, why);
}

/* Recognise our tag word after the UID at Q; other words are ignored,
 * as the reference ignores them. */
static int
parse_tag(struct fields *f, const char *q, const char *end,
    const char **why)
{
	const char	*t;
	size_t		 tl;

	f->tag = TAG_NONE;
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	for (t = q; q < end && *q != ' ' && *q != '\t'; q++)
		;
	tl = (size_t)(q - t);
	if (tl == 1 && *t == '%')
		f->tag = TAG_ENC;
	else if (tl == 12 && memcmp(t, "%uidvalidity", 12) == 0)
		f->tag = TAG_VALIDITY;
	else
		return 0;
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (q != end) {
		*why = _("text after the tag");
		return -1;
	}
	return 0;
}

/* Decode the %XX escapes of SRC (LEN bytes) into DST (LEN bytes and a
 * NUL); -1 on a bad escape, or a NUL byte unless NUL_OK. */
static int
pct_decode(const char *src, size_t len, char *dst, size_t *outlen,
    int nul_ok)
{
	size_t	i, n = 0;
	int	hi, lo;

	for (i = 0; i < len; i++) {
		if (src[i] != '%') {
			dst[n++] = src[i];
			continue;
		}
		if (len - i < 3)
			return -1;
		if ((hi = util_hexval((unsigned char)src[i + 1])) == -1 ||
		    (lo = util_hexval((unsigned char)src[i + 2])) == -1)
			return -1;
		if ((dst[n++] = (char)(hi << 4 | lo)) == '\0' && !nul_ok)
			return -1;
		i += 2;
	}
	dst[n] = '\0';
	*outlen = n;
	return 0;
}

/* The decimal number P (LEN bytes) in 1..2^32-1, else -1. */
static int
parse_u32(const char *p, size_t len, uint32_t *v)
{
	uint64_t	n = 0;
	size_t		i;

	if (len == 0 || len > 10)
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(p[i] - '0');
	}
	if (n == 0 || n > UINT32_MAX)
		return -1;
	*v = (uint32_t)n;
	return 0;
}

/* --- loading --------------------------------------------------------- */

/* Take one idfile line (LEN bytes, no newline) into the store. */
static void
load_line(struct uid_store *s, const char *p, size_t len, size_t lineno)
{
	struct fields	 f;
	const char	*why = NULL;

	switch (parse_fields(p, len, &f, &why)) {
	case 1:
		return;
	case 0:
		why = f.tag == TAG_NONE ? load_raw(s, &f) :
		    load_encoded(s, &f);
		break;
	}
	if (why != NULL)
		load_warn(s, lineno, why);
}

/* A line in the reference's form; NULL or why it is refused. */
static const char *
load_raw(struct uid_store *s, const struct fields *f)
{
	size_t	hl = f->acctlen - f->at - 1;
	char	*b;

	if (f->fieldlen > UID_MAX_LEN)
		return _("UID too long");
	if (f->at > UID_NAME_MAX || hl > UID_NAME_MAX)
		return _("account name too long");
	b = grow(&s->dbuf, &s->dcap, f->acctlen + 1);
	memcpy(b, f->acct, f->acctlen);
	b[f->at] = '\0';
	b[f->acctlen] = '\0';
	return load_entry(s, b, b + f->at + 1, NULL, f->field, f->fieldlen);
}

/* A line in our extended form; NULL or why it is refused. */
static const char *
load_encoded(struct uid_store *s, const struct fields *f)
{
	const char	*hf = f->acct + f->at + 1, *slash;
	size_t		 hfl = f->acctlen - f->at - 1, ul, hl, fl = 0, il;
	char		*b, *host, *folder = NULL, *uid;
	uint32_t	 v;

	b = grow(&s->dbuf, &s->dcap, f->acctlen + f->fieldlen + 4);
	slash = memchr(hf, '/', hfl);
	host = b + f->at + 1;
	if (pct_decode(f->acct, f->at, b, &ul, 0) == -1 ||
	    pct_decode(hf, slash ? (size_t)(slash - hf) : hfl, host, &hl,
	    0) == -1)
		return _("bad escape in the account");
	uid = host + hfl + 1;
	if (slash != NULL) {
		folder = host + (slash - hf) + 1;
		if (pct_decode(slash + 1, hfl - (size_t)(slash - hf) - 1,
		    folder, &fl, 0) == -1)
			return _("bad escape in the folder");
	}
	if (ul > UID_NAME_MAX || hl > UID_NAME_MAX || fl > UID_NAME_MAX)
		return _("account name too long");
	if (f->tag == TAG_VALIDITY) {
		if (parse_u32(f->field, f->fieldlen, &v) == -1)
			return _("bad UIDVALIDITY");
		return load_validity(s, b, host, folder, v);
	}
	if (pct_decode(f->field, f->fieldlen, uid, &il, 1) == -1)
		return _("bad escape in the UID");
	if (il == 0)
		return _("empty UID");
	if (il > UID_MAX_LEN)
		return _("UID too long");
	return load_entry(s, b, host, folder, uid, il);
}

/* File UID (LEN bytes) as seen under USER@HOST/FOLDER; duplicates are
 * merged.  Always NULL (nothing to refuse). */
static const char *
load_entry(struct uid_store *s, const char *user, const char *host,
    const char *folder, const char *uid, size_t len)
{
	struct uid_account *a = acct_get(s, user, host, folder, 1);
	struct uid_entry *e;
	uint64_t	h = ent_hash(s, a, uid, len);

	if (ent_find(s, a, uid, len, h) != NULL)
		return NULL;
	e = ent_new(s, a, uid, len, h);
	e->state = UID_SEEN;
	e->on_disk = 1;
	s->nsaved++;
	return NULL;
}

/* Record the UIDVALIDITY of USER@HOST/FOLDER; the last line wins. */
static const char *
load_validity(struct uid_store *s, const char *user, const char *host,
    const char *folder, uint32_t v)
{
	struct uid_account *a = acct_get(s, user, host, folder, 1);

	if (a->validity == 0)
		s->nsaved++;
	a->validity = v;
	return NULL;
}

/* Feed LEN bytes of idfile text to the loader. */
static void
load_feed(struct loader *l, const char *p, size_t len)
{
	const char	*nl;
	size_t		 n;

	while (len > 0) {
		nl = memchr(p, '\n', len);
		n = nl ? (size_t)(nl - p) : len;
		if (nl != NULL && l->len == 0 && !l->toolong) {
			l->lineno++;
			if (n > UID_LINE_MAX)
				load_warn(l->s, l->lineno, _("line too long"));
			else
				load_line(l->s, p, n, l->lineno);
		} else {
			load_append(l, p, n);
			if (nl != NULL)
				load_flush(l);
		}
		if (nl == NULL)
			return;
		p += n + 1;
		len -= n + 1;
	}
}

/* Add N bytes to the incomplete line, unless it grows too long. */
static void
load_append(struct loader *l, const char *p, size_t n)
{
	if (l->toolong)
		return;
	if (n > UID_LINE_MAX - l->len) {
		l->toolong = 1;
		l->len = 0;
		return;
	}
	grow(&l->buf, &l->cap, l->len + n + 1);
	memcpy(l->buf + l->len, p, n);
	l->len += n;
}

/* The incomplete line got its newline: take it. */
static void
load_flush(struct loader *l)
{
	l->lineno++;
	if (l->toolong)
		load_warn(l->s, l->lineno, _("line too long"));
	else
		load_line(l->s, l->buf ? l->buf : "", l->len, l->lineno);
	l->len = 0;
	l->toolong = 0;
}

/* End of input: a last line without newline may be a torn write. */
static void
load_finish(struct loader *l)
{
	if (l->len > 0 || l->toolong)
		load_warn(l->s, l->lineno + 1,
		    _("no newline at the end (interrupted write?)"));
	free(l->buf);
	l->buf = NULL;
	full_needed(l->s);
}

int
uid_load_mem(struct uid_store *s, const void *data, size_t len)
{
	struct loader	l = { s, NULL, 0, 0, 0, 0 };

	load_feed(&l, data, len);
	load_finish(&l);
	return 0;
}

int
uid_load(struct uid_store *s)
{
	struct loader	 l = { s, NULL, 0, 0, 0, 0 };
	struct stat	 st;
	ssize_t		 n;
	char		*chunk;
	int		 fd, rc = 0;

	if (s->path == NULL)
		return no_path(s);
	if ((fd = open(s->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			s->need_full = 1;
			return 0;
		}
		set_error(s, _("Cannot open fetchids file %s: %s"), s->path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		set_error(s, _("fetchids file %s is not a regular file"),
		    s->path);
		close(fd);
		return -1;
	}
	chunk = xmalloc(UID_CHUNK);
	while ((n = read(fd, chunk, UID_CHUNK)) != 0) {
		if (n > 0)
			load_feed(&l, chunk, (size_t)n);
		else if (errno != EINTR) {
			set_error(s, _("Read error on fetchids file %s: %s"),
			    s->path, strerror(errno));
			rc = -1;
			break;
		}
	}
	free(chunk);
	close(fd);
	load_finish(&l);
	return rc;
}

/* --- writing --------------------------------------------------------- */

/* Append N bytes at P. */
static void
ob_put(struct obuf *ob, const void *p, size_t n)
{
	if (n == 0)
		return;
	grow(&ob->p, &ob->cap, ob->len + n);
	memcpy(ob->p + ob->len, p, n);
	ob->len += n;
}

/* Append N bytes at P with '%', '@', '/' and non-graphic bytes as %XX. */
static void
ob_enc(struct obuf *ob, const void *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = p;
	char		*d;
	size_t		 i;

	if (n == 0)
		return;
	d = grow(&ob->p, &ob->cap, ob->len + 3 * n) + ob->len;
	for (i = 0; i < n; i++) {
		if (u[i] > 0x20 && u[i] < 0x7f && u[i] != '%' &&
		    u[i] != '@' && u[i] != '/') {
			*d++ = (char)u[i];
			continue;
		}
		*d++ = '%';
		*d++ = hex[u[i] >> 4];
		*d++ = hex[u[i] & 15];
	}
	ob->len = (size_t)(d - ob->p);
}

/* Write out what is buffered (fd >= 0); the first error sticks. */
static void
ob_flush(struct obuf *ob)
{
	if (ob->fd >= 0 && ob->err == 0 && ob->len > 0 &&
	    write_all(ob->fd, ob->p, ob->len) == -1)
		ob->err = errno;
	if (ob->fd >= 0)
		ob->len = 0;
}

/* Write N bytes at P to FD; 0, or -1 with errno. */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Whether the raw LINE (LEN bytes: user of UL bytes, '@', host of HL
 * bytes, ' ', UID) reads back as exactly E's account and UID. */
static int
raw_ok(const char *line, size_t len, size_t ul, size_t hl,
    const struct uid_entry *e)
{
	struct fields	 f;
	const char	*why;

	if (memchr(line, '\n', len) != NULL ||
	    parse_fields(line, len, &f, &why) != 0)
		return 0;
	return f.tag == TAG_NONE && f.acct == line && f.at == ul &&
	    f.acctlen == ul + 1 + hl && f.field == line + ul + hl + 2 &&
	    f.fieldlen == e->len;
}

/* E(user)@E(host)[/E(folder)] */
static void
put_account(struct obuf *ob, const struct uid_account *a)
{
	ob_enc(ob, a->user, strlen(a->user));
	ob_put(ob, "@", 1);
	ob_enc(ob, a->host, strlen(a->host));
	if (a->folder != NULL) {
		ob_put(ob, "/", 1);
		ob_enc(ob, a->folder, strlen(a->folder));
	}
}

/* The line of entry E of account A: raw when it reads back, else ours. */
static void
put_entry(struct obuf *ob, const struct uid_account *a,
    const struct uid_entry *e)
{
	size_t	start = ob->len, ul = strlen(a->user), hl = strlen(a->host);

	if (a->folder == NULL) {
		ob_put(ob, a->user, ul);
		ob_put(ob, "@", 1);
		ob_put(ob, a->host, hl);
		ob_put(ob, " ", 1);
		ob_put(ob, e->uid, e->len);
		if (raw_ok(ob->p + start, ob->len - start, ul, hl, e)) {
			ob_put(ob, "\n", 1);
			return;
		}
		ob->len = start;
	}
	put_account(ob, a);
	ob_put(ob, " ", 1);
	ob_enc(ob, e->uid, e->len);
	ob_put(ob, " %\n", 3);
}

/* Every saved line of the store, account by account. */
static void
write_lines(struct uid_store *s, struct obuf *ob)
{
	const struct uid_account *a;
	const struct uid_entry *e;
	char		num[16];

	for (a = s->afirst; a != NULL; a = a->next) {
		if (a->validity != 0) {
			put_account(ob, a);
			snprintf(num, sizeof(num), " %lu", (unsigned long)
			    a->validity);
			ob_put(ob, num, strlen(num));
			ob_put(ob, " %uidvalidity\n", 14);
		}
		for (e = a->head; e != NULL; e = e->next) {
			if (savable(e->state))
				put_entry(ob, a, e);
			if (ob->len >= UID_CHUNK)
				ob_flush(ob);
		}
	}
	ob_flush(ob);
}

void
uid_save_mem(struct uid_store *s, char **data, size_t *len)
{
	struct obuf	ob = { NULL, 0, 0, -1, 0 };

	write_lines(s, &ob);
	ob_put(&ob, "", 1);
	*data = ob.p;
	*len = ob.len - 1;
}

/* Write the store to TMP (mode 0600) and fsync it; note its identity. */
static int
write_tmp(struct uid_store *s, const char *tmp)
{
	struct obuf	ob = { NULL, 0, 0, -1, 0 };
	struct stat	st;

	if ((unlink(tmp) == -1 && errno != ENOENT) || (ob.fd = open(tmp,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1) {
		set_error(s, _("Cannot open fetchids file %s for writing: %s"),
		    tmp, strerror(errno));
		return -1;
	}
	if (fchmod(ob.fd, 0600) == -1)
		ob.err = errno;
	if (ob.err == 0)
		write_lines(s, &ob);
	free(ob.p);
	if (ob.err == 0 && (fsync(ob.fd) == -1 || fstat(ob.fd, &st) == -1))
		ob.err = errno;
	if (close(ob.fd) == -1 && ob.err == 0)
		ob.err = errno;
	if (ob.err != 0) {
		set_error(s, _("Write error on fetchids file %s: %s"), tmp,
		    strerror(ob.err));
		return -1;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	return 0;
}

/* After a full write: the file holds exactly the savable entries. */
static void
saved_all(struct uid_store *s)
{
	struct uid_account *a;
	struct uid_entry *e;

	pend_clear(s);
	for (a = s->afirst; a != NULL; a = a->next)
		for (e = a->head; e != NULL; e = e->next)
			e->on_disk = (unsigned char)savable(e->state);
	s->need_full = 0;
}

/* Make the last rename or unlink in the idfile's directory durable. */
static int
sync_dir(struct uid_store *s)
{
	const char	*slash = strrchr(s->path, '/');
	char		*dir;
	int		 fd, rc = 0;

	if (slash == NULL)
		dir = xstrdup(".");
	else
		dir = xstrndup(s->path, slash == s->path ? 1 :
		    (size_t)(slash - s->path));
	if ((fd = open(dir, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (fsync(fd) == -1 && errno != EINVAL && errno != EROFS)) {
		set_error(s, _("Cannot sync directory %s: %s"), dir,
		    strerror(errno));
		s->need_full = 1;
		rc = -1;
	}
	if (fd != -1)
		close(fd);
	free(dir);
	return rc;
}

/* Nothing to save: remove the idfile, as the reference does. */
static int
remove_idfile(struct uid_store *s)
{
	saved_all(s);
	s->file_known = 0;
	if (unlink(s->path) == -1) {
		if (errno == ENOENT)
			return 0;
		set_error(s, _("Cannot remove fetchids file %s: %s"), s->path,
		    strerror(errno));
		return -1;
	}
	return sync_dir(s);
}

int
uid_save(struct uid_store *s)
{
	char	*tmp;

	if (s->path == NULL)
		return no_path(s);
	if (s->nsaved == 0)
		return remove_idfile(s);
	tmp = xasprintf("%s_", s->path);
	if (write_tmp(s, tmp) == -1) {
		unlink(tmp);
		free(tmp);
		return -1;
	}
	if (rename(tmp, s->path) == -1) {
		set_error(s, _("Cannot rename fetchids file %s to %s: %s"),
		    tmp, s->path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	saved_all(s);
	s->file_known = 1;
	return sync_dir(s);
}

/* Append the lines of the queued entries to the idfile and fsync; on
 * failure cut the file back to its old length. */
static int
append_pending(struct uid_store *s)
{
	struct obuf	ob = { NULL, 0, 0, -1, 0 };
	struct stat	st;
	size_t		i;
	int		fd, err = 0;

	if ((fd = open(s->path, O_WRONLY | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return uid_save(s);
	if (fstat(fd, &st) == -1 || st.st_dev != s->dev ||
	    st.st_ino != s->ino || st.st_size != s->size) {
		close(fd);
		return uid_save(s);
	}
	for (i = 0; i < s->npend; i++)
		if (savable(s->pend[i]->state))
			put_entry(&ob, s->pend[i]->acct, s->pend[i]);
	if (write_all(fd, ob.p, ob.len) == -1 || fsync(fd) == -1) {
		err = errno;
		if (ftruncate(fd, s->size) == 0)
			(void)fsync(fd);
	}
	if (close(fd) == -1 && err == 0)
		err = errno;
	free(ob.p);
	if (err != 0) {
		full_needed(s);
		set_error(s, _("Write error on fetchids file %s: %s"), s->path,
		    strerror(err));
		return -1;
	}
	s->size += (off_t)ob.len;
	for (i = 0; i < s->npend; i++)
		s->pend[i]->on_disk = (unsigned char)savable(s->pend[i]->state);
	pend_clear(s);
	return 0;
}

int
uid_sync(struct uid_store *s)
{
	if (s->path == NULL)
		return no_path(s);
	if (s->need_full || !s->file_known)
		return uid_save(s);
	if (s->npend == 0)
		return 0;
	return append_pending(s);
}

/* The error of saving or loading a store that has no idfile. */
static int
no_path(struct uid_store *s)
{
	set_error(s, "%s", _("no idfile"));
	return -1;
}

/* --- the rest of the interface --------------------------------------- */

struct uid_store *
uid_create(const char *path)
{
	struct uid_store *s = xcalloc(1, sizeof(*s));

	s->path = path ? xstrdup(path) : NULL;
	seed_key(s->key);
	s->esize = s->asize = TAB_MIN;
	s->etab = xcalloc(s->esize, sizeof(*s->etab));
	s->atab = xcalloc(s->asize, sizeof(*s->atab));
	s->need_full = 1;
	return s;
}

void
uid_free(struct uid_store *s)
{
	struct uid_account *a, *an;
	struct uid_entry *e, *en;
	size_t		i;

	if (s == NULL)
		return;
	for (a = s->afirst; a != NULL; a = an) {
		an = a->next;
		for (e = a->head; e != NULL; e = en) {
			en = e->next;
			free(e);
		}
		free(a->user);
		free(a->host);
		free(a->folder);
		free(a);
	}
	for (i = 0; i < s->nwarn; i++)
		free(s->warn[i]);
	free(s->warn);
	free(s->etab);
	free(s->atab);
	free(s->pend);
	free(s->kbuf);
	free(s->dbuf);
	free(s->error);
	free(s->path);
	free(s);
}

const char *
uid_error(const struct uid_store *s)
{
	return s->error;
}

size_t
uid_nwarnings(const struct uid_store *s)
{
	return s->nwarn;
}

const char *
uid_warning(const struct uid_store *s, size_t i)
{
	return i < s->nwarn ? s->warn[i] : NULL;
}

struct uid_account *
uid_account_add(struct uid_store *s, const char *user, const char *host,
    const char *folder)
{
	struct uid_account *a;

	if (strlen(user) > UID_NAME_MAX || strlen(host) > UID_NAME_MAX ||
	    (folder != NULL && strlen(folder) > UID_NAME_MAX))
		return NULL;
	a = acct_get(s, user, host, folder, 1);
	if (strcmp(a->user, user) != 0) {
		free(a->user);
		a->user = xstrdup(user);
	}
	if (strcmp(a->host, host) != 0) {
		free(a->host);
		a->host = xstrdup(host);
	}
	return a;
}

struct uid_account *
uid_account_find(struct uid_store *s, const char *user, const char *host,
    const char *folder)
{
	return acct_get(s, user, host, folder, 0);
}

struct uid_account *
uid_account_next(const struct uid_store *s, const struct uid_account *a)
{
	return a ? a->next : s->afirst;
}

void
uid_account_names(const struct uid_account *a, const char **user,
    const char **host, const char **folder)
{
	*user = a->user;
	*host = a->host;
	*folder = a->folder;
}

enum uid_state
uid_lookup(struct uid_store *s, struct uid_account *a, const void *uid,
    size_t len)
{
	struct uid_entry *e;

	if (a == NULL || len == 0 || len > UID_MAX_LEN)
		return UID_ABSENT;
	e = ent_find(s, a, uid, len, ent_hash(s, a, uid, len));
	return e ? (enum uid_state)e->state : UID_ABSENT;
}

int
uid_mark(struct uid_store *s, struct uid_account *a, const void *uid,
    size_t len, enum uid_state st)
{
	struct uid_entry *e;
	uint64_t	h;

	if (a == NULL || len == 0 || len > UID_MAX_LEN ||
	    (unsigned)st > UID_EXPUNGED)
		return -1;
	h = ent_hash(s, a, uid, len);
	e = ent_find(s, a, uid, len, h);
	if (st == UID_ABSENT) {
		if (e != NULL)
			ent_free(s, e);
		return 0;
	}
	if (e == NULL)
		e = ent_new(s, a, uid, len, h);
	set_state(s, e, st);
	return 0;
}

size_t
uid_forget_absent(struct uid_store *s, struct uid_account *a,
    const struct uid_ref *present, size_t n)
{
	struct uid_entry *e, *next;
	size_t		i, dropped = 0;

	if (a == NULL)
		return 0;
	s->gen++;
	for (i = 0; i < n; i++) {
		if (present[i].len == 0 || present[i].len > UID_MAX_LEN)
			continue;
		e = ent_find(s, a, present[i].uid, present[i].len,
		    ent_hash(s, a, present[i].uid, present[i].len));
		if (e != NULL)
			e->gen = s->gen;
	}
	for (e = a->head; e != NULL; e = next) {
		next = e->next;
		if (e->gen != s->gen) {
			ent_free(s, e);
			dropped++;
		}
	}
	return dropped;
}

size_t
uid_count(const struct uid_store *s, const struct uid_account *a)
{
	return a ? a->count : s->nent;
}

void
uid_walk(const struct uid_account *a,
    void (*fn)(void *, const void *, size_t, enum uid_state), void *arg)
{
	const struct uid_entry *e;

	for (e = a->head; e != NULL; e = e->next)
		fn(arg, e->uid, e->len, (enum uid_state)e->state);
}

int
uid_validity_get(struct uid_store *s, struct uid_account *a, uint32_t *v)
{
	(void)s;
	if (a == NULL || a->validity == 0)
		return -1;
	*v = a->validity;
	return 0;
}

int
uid_validity_set(struct uid_store *s, struct uid_account *a, uint32_t v)
{
	if (a == NULL || v == 0)
		return -1;
	if (a->validity == v)
		return 0;
	while (a->head != NULL)
		ent_free(s, a->head);
	if (a->validity == 0)
		s->nsaved++;
	a->validity = v;
	full_needed(s);
	return 1;
}

const char *
uid_state_name(enum uid_state st)
{
	return (unsigned)st <= UID_EXPUNGED ? state_names[st] : "?";
}

unsigned long
uid_probes(const struct uid_store *s)
{
	return s->probes;
}
