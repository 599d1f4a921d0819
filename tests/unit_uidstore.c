/*
 * unit_uidstore.c: unit tests of the UID store (src/uidstore.c): round
 * trips, odd bytes, several accounts, UIDVALIDITY, corrupt and truncated
 * files, failed saves leaving the old file intact, the cheap append
 * commit, 100 000 UIDs, and files as fetchmail 6.4.37 writes and reads
 * them.  TAP output.
 *
 * The reference samples below were produced by running /usr/bin/fetchmail
 * 6.4.37 (keep, plugin = a scripted POP3 server answering UIDL with the
 * UIDs shown) and copying the idfile it wrote; the "reads as" columns are
 * from its "-v -v" dump of the idfile it was given ("Old UID list" and
 * "Scratch list").
 */
#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "uidstore.h"

#define S(lit)	lit, sizeof(lit) - 1	/* a literal as bytes + length */

static char	 dir[64];		/* this run's scratch directory */

static const char *path_of(const char *);
static char	*slurp(const char *, size_t *);
static void	 spit(const char *, const void *, size_t);
static int	 file_is(const char *, const char *);
static struct uid_store *from_mem(const void *, size_t);
static const char *dump(struct uid_store *);
static int	 warned(const struct uid_store *, const char *);
static enum uid_state state_of(struct uid_store *, const char *,
		    const char *, const char *, const void *, size_t);
static void	 collect(void *, const void *, size_t, enum uid_state);
static const char *order_of(struct uid_store *, const char *, const char *);
static void	 filled_more(struct uid_store *, int, int);
static struct uid_store *filled(const char *, int);
static void	 test_missing_and_basic(void);
static void	 test_reference_written(void);
static void	 test_reference_read(void);
static void	 test_reference_cases(void);
static void	 test_odd_bytes(void);
static void	 test_accounts(void);
static void	 test_validity(void);
static void	 test_malformed(void);
static void	 test_truncated(void);
static void	 test_directory(void);
static void	 test_save_failures(void);
static void	 test_append_failure(void);
static void	 test_mode_and_removal(void);
static void	 test_forget_absent(void);
static void	 test_sync(void);
static void	 test_big(void);
static void	 test_arguments(void);

/* DIR/NAME in a static buffer (one at a time is enough). */
static const char *
path_of(const char *name)
{
	static char	buf[256];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

/* The contents of PATH (NUL-terminated, length in *LEN), or NULL. */
static char *
slurp(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	char	*p = NULL;
	size_t	 n = 0, cap = 0, r;

	if (f == NULL)
		return NULL;
	do {
		if (cap - n < 4096)
			p = realloc(p, cap = cap * 2 + 4096);
		r = fread(p + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	p[n] = '\0';
	if (len)
		*len = n;
	return p;
}

/* Replace PATH with LEN bytes at DATA (mode 0600). */
static void
spit(const char *path, const void *data, size_t len)
{
	FILE	*f = fopen(path, "wb");

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
	chmod(path, 0600);
}

/* Whether file PATH holds exactly WANT. */
static int
file_is(const char *path, const char *want)
{
	size_t	 n;
	char	*p = slurp(path, &n);
	int	 r = p != NULL && n == strlen(want) && memcmp(p, want, n) == 0;

	if (!r)
		printf("#   file %s is '%s'\n", path, p ? p : "(missing)");
	free(p);
	return r;
}

/* A store loaded from LEN bytes at DATA. */
static struct uid_store *
from_mem(const void *data, size_t len)
{
	struct uid_store *s = uid_create(NULL);

	uid_load_mem(s, data, len);
	return s;
}

/* The file uid_save() would write, as a string (static, overwritten;
 * NULL frees it). */
static const char *
dump(struct uid_store *s)
{
	static char	*last;
	size_t		 n;

	free(last);
	last = NULL;
	if (s != NULL)
		uid_save_mem(s, &last, &n);
	return last;
}

/* Whether some warning contains NEEDLE. */
static int
warned(const struct uid_store *s, const char *needle)
{
	size_t	i;

	for (i = 0; i < uid_nwarnings(s); i++)
		if (strstr(uid_warning(s, i), needle) != NULL)
			return 1;
	return 0;
}

/* State of UID (a C string) for USER@HOST, UID_ABSENT if no account. */
static enum uid_state
state_of(struct uid_store *s, const char *user, const char *host,
    const char *folder, const void *uid, size_t len)
{
	return uid_lookup(s, uid_account_find(s, user, host, folder), uid,
	    len);
}

/* Collects a walk as "uid|uid|...". */
static void
collect(void *arg, const void *uid, size_t len, enum uid_state st)
{
	char	*b = arg;

	(void)st;
	strncat(b, uid, len);
	strcat(b, "|");
}

/* USER@HOST's UIDs in order, as "a|b|" (static buffer). */
static const char *
order_of(struct uid_store *s, const char *user, const char *host)
{
	static char	buf[4096];
	struct uid_account *a = uid_account_find(s, user, host, NULL);

	buf[0] = '\0';
	if (a != NULL)
		uid_walk(a, collect, buf);
	return buf;
}

static void
test_missing_and_basic(void)
{
	struct uid_store *s = uid_create(path_of("ids"));
	struct uid_account *a;
	struct stat	st;

	ok(uid_load(s) == 0 && uid_count(s, NULL) == 0 &&
	    uid_nwarnings(s) == 0, "missing idfile loads as empty");
	a = uid_account_add(s, "alice", "pop.example", NULL);
	ok(uid_mark(s, a, S("abc001"), UID_SEEN) == 0 &&
	    uid_mark(s, a, S("abc002"), UID_DELETED) == 0 &&
	    uid_mark(s, a, S("x3"), UID_UNSEEN) == 0 &&
	    uid_mark(s, a, S("x4"), UID_EXPUNGED) == 0, "marks accepted");
	ok(uid_lookup(s, a, S("abc002")) == UID_DELETED &&
	    uid_lookup(s, a, S("x3")) == UID_UNSEEN &&
	    uid_lookup(s, a, S("nope")) == UID_ABSENT, "lookups");
	ok(uid_save(s) == 0, "save");
	ok(file_is(path_of("ids"), "alice@pop.example abc001\n"
	    "alice@pop.example abc002\n"),
	    "only SEEN and DELETED saved, in the reference's form");
	ok(stat(path_of("ids"), &st) == 0 && (st.st_mode & 07777) == 0600,
	    "mode 0600");
	ok(access(path_of("ids_"), F_OK) == -1, "no temporary file left");
	uid_free(s);
	s = uid_create(path_of("ids"));
	ok(uid_load(s) == 0 && uid_count(s, NULL) == 2 &&
	    state_of(s, "alice", "pop.example", NULL, S("abc001")) ==
	    UID_SEEN && state_of(s, "alice", "pop.example", NULL,
	    S("abc002")) == UID_SEEN &&
	    state_of(s, "alice", "pop.example", NULL, S("x3")) == UID_ABSENT,
	    "reloaded: both SEEN (the file does not tell DELETED apart)");
	uid_free(s);
}

/* The idfile 6.4.37 wrote after fetching these 8 UIDs (the UIDL line
 * "3 x y z" became "x", "5 tab\there" became "tab"). */
static const char ref_written[] =
    "alice@127.0.0.1 abc001\n"
    "alice@127.0.0.1 abc002\n"
    "alice@127.0.0.1 x\n"
    "alice@127.0.0.1 caf\xc3\xa9\x01\x7f\n"
    "alice@127.0.0.1 tab\n"
    "alice@127.0.0.1 pct%20x\n"
    "alice@127.0.0.1 back\\slash\n"
    "alice@127.0.0.1 at@sign\n";
static const char *const ref_uids[] = { "abc001", "abc002", "x",
    "caf\xc3\xa9\x01\x7f", "tab", "pct%20x", "back\\slash", "at@sign" };

static void
test_reference_written(void)
{
	struct uid_store *s = from_mem(S(ref_written));
	struct uid_account *a;
	size_t		i;
	int		good = 1;

	a = uid_account_find(s, "alice", "127.0.0.1", NULL);
	for (i = 0; i < 8; i++)
		good &= uid_lookup(s, a, ref_uids[i], strlen(ref_uids[i])) ==
		    UID_SEEN;
	ok(good && uid_count(s, NULL) == 8 && uid_nwarnings(s) == 0,
	    "reference-written idfile: all 8 UIDs read raw (no unescaping)");
	is_str(dump(s), ref_written, "and written back byte for byte");
	uid_free(s);

	s = uid_create(path_of("ref"));
	a = uid_account_add(s, "alice", "127.0.0.1", NULL);
	for (i = 0; i < 8; i++)
		uid_mark(s, a, ref_uids[i], strlen(ref_uids[i]), UID_SEEN);
	ok(uid_save(s) == 0 && file_is(path_of("ref"), ref_written),
	    "the same fetches give the reference's file");
	uid_free(s);
}

/* An idfile given to 6.4.37; its -v -v dump filed under alice@127.0.0.1:
 * abc002 lead crlf\r upper abc002 "" new1 nul last-no-newline, and kept
 * as scratch: "bob@other.host zzz1", "user@x@127.0.0.1 weird",
 * "bob@other.host with space".  The rest it dropped silently. */
static const char ref_read[] =
    "alice@127.0.0.1 abc002\n"			/* 1 */
    "bob@other.host zzz1\n"			/* 2 */
    "\n"					/* 3 */
    "  alice@127.0.0.1   lead  extra stuff\n"	/* 4 */
    "noatsign line\n"				/* 5: dropped */
    "alice@127.0.0.1\n"				/* 6: dropped */
    "alice@127.0.0.1 crlf\r\n"			/* 7 */
    "user@x@127.0.0.1 weird\n"			/* 8 */
    "alice@127.0.0.1\ttabsep\n"			/* 9: dropped */
    "ALICE@127.0.0.1 upper\n"			/* 10 */
    "alice@127.0.0.1 abc002\n"			/* 11: duplicate */
    "alice@127.0.0.1 \n"			/* 12: empty UID */
    "alice@127.0.0.1 new1\n"			/* 13 */
    "bob@other.host with space\n"		/* 14 */
    "#comment\n"				/* 15: dropped */
    "alice@127.0.0.1 nul\0inside\n"		/* 16 */
    "alice@127.0.0.1 last-no-newline";		/* 17 */

static void
test_reference_read(void)
{
	struct uid_store *s = from_mem(S(ref_read));

	is_str(order_of(s, "alice", "127.0.0.1"),
	    "abc002|lead|crlf|upper|new1|",
	    "reference reading rules: blanks, trailing words, case of user");
	is_str(order_of(s, "bob", "other.host"), "zzz1|with|",
	    "other accounts kept (the first word of the UID)");
	is_str(order_of(s, "user@x", "127.0.0.1"), "weird|",
	    "user and host split at the last '@'");
	ok(warned(s, ":5: ") && warned(s, ":6: ") && warned(s, ":9: ") &&
	    warned(s, ":12: ") && warned(s, ":15: ") && warned(s, ":16: ") &&
	    warned(s, ":17: ") && !warned(s, ":3: ") && uid_nwarnings(s) == 7,
	    "dropped lines reported with their numbers (the reference is"
	    " silent; it also keeps empty, NUL-cut and unterminated UIDs)");
	uid_free(s);
}

/* One line given to 6.4.37 and what it made of it. */
struct refcase {
	const char	*line;
	const char	*user, *host, *uid;	/* NULL: dropped */
	const char	*note;
};

static const struct refcase refcases[] = {
	{ "\talice@127.0.0.1 t1\n", "alice", "127.0.0.1", "t1", "tab" },
	{ "\valice@127.0.0.1 t2\n", "\valice", "127.0.0.1", "t2", "VT" },
	{ "alice@127.0.0.1  \tt3\n", NULL, NULL, NULL, "empty UID" },
	{ "alice@127.0.0.1 t4\tmore\n", "alice", "127.0.0.1", "t4", "tab" },
	{ " a@b@127.0.0.1 t6\n", "a@b", "127.0.0.1", "t6", "@ in user" },
	{ "alice@127.0.0.1\t t7\n", "alice", "127.0.0.1", "t7", "tab, sp" },
	{ "alice@127.0.0.1\tjunk t8\n", "alice", "127.0.0.1\tjunk", "t8",
	    "tab in host" },
	{ "alice\t@127.0.0.1 t10\n", "alice\t", "127.0.0.1", "t10", "" },
	{ "\ralice@127.0.0.1 t11\n", "\ralice", "127.0.0.1", "t11", "CR" },
	{ "alice@127.0.0.1\r t14\n", "alice", "127.0.0.1\r", "t14", "CR" },
	{ "alice@127.0.0.1 t17 \n", "alice", "127.0.0.1", "t17", "" },
	{ "al ice@127.0.0.1 t18\n", "al ice", "127.0.0.1", "t18", "space" },
};

static void
test_reference_cases(void)
{
	struct uid_store *s;
	const struct refcase *c;
	size_t		i;

	for (i = 0; i < sizeof(refcases) / sizeof(refcases[0]); i++) {
		c = &refcases[i];
		s = from_mem(c->line, strlen(c->line));
		if (c->uid == NULL)
			ok(uid_count(s, NULL) == 0 && uid_nwarnings(s) == 1,
			    "reference line %zu (%s) dropped", i, c->note);
		else
			ok(uid_count(s, NULL) == 1 && state_of(s, c->user,
			    c->host, NULL, c->uid, strlen(c->uid)) == UID_SEEN,
			    "reference line %zu (%s) read alike", i, c->note);
		uid_free(s);
	}
}

/* UIDs no raw line can carry, and some that look escaped but are not. */
static const struct {
	const char	*uid;
	size_t		 len;
} odd[] = {
	{ S("x y z") }, { S("tab\there") }, { S("nl\nx") }, { S("nul\0x") },
	{ S("cr\r") }, { S("\r") }, { S("\xff\xfe") }, { S("%41") },
	{ S("a@b") }, { S("a/b") }, { S("100%") }, { S("%") },
	{ S(" lead") }, { S("trail ") }, { S("\x7f") }, { S("%uidvalidity") },
};

static void
test_odd_bytes(void)
{
	struct uid_store *s = uid_create(path_of("odd"));
	struct uid_account *a = uid_account_add(s, "u", "h", NULL);
	unsigned char	 big[UID_MAX_LEN];
	size_t		 i;
	int		 good = 1;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)i;
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		uid_mark(s, a, odd[i].uid, odd[i].len, UID_SEEN);
	uid_mark(s, a, big, sizeof(big), UID_SEEN);
	ok(uid_save(s) == 0, "save odd UIDs");
	uid_free(s);
	s = uid_create(path_of("odd"));
	ok(uid_load(s) == 0 && uid_nwarnings(s) == 0, "reload odd UIDs");
	a = uid_account_find(s, "u", "h", NULL);
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		good &= uid_lookup(s, a, odd[i].uid, odd[i].len) == UID_SEEN;
	ok(good && uid_lookup(s, a, big, sizeof(big)) == UID_SEEN &&
	    uid_count(s, a) == sizeof(odd) / sizeof(odd[0]) + 1,
	    "every odd UID and a 4096-byte one with all bytes survive");
	ok(strstr(dump(s), "u@h x%20y%20z %\n") != NULL &&
	    strstr(dump(s), "u@h nul%00x %\n") != NULL &&
	    strstr(dump(s), "u@h cr%0D %\n") != NULL &&
	    strstr(dump(s), "u@h %41\n") != NULL &&
	    strstr(dump(s), "u@h a@b\n") != NULL &&
	    strstr(dump(s), "u@h %uidvalidity\n") != NULL,
	    "escaped only where the raw form cannot carry the UID");
	uid_free(s);
}

static void
test_accounts(void)
{
	struct uid_store *s = uid_create(NULL);
	struct uid_account *a, *b, *c, *d, *e;

	a = uid_account_add(s, "alice", "h1", NULL);
	b = uid_account_add(s, "bob", "h1", NULL);
	c = uid_account_add(s, "alice", "h2", NULL);
	d = uid_account_add(s, "alice@example.com", "h1", NULL);
	e = uid_account_add(s, "a@b c", "h1", NULL);
	uid_mark(s, a, S("1"), UID_SEEN);
	uid_mark(s, b, S("1"), UID_SEEN);
	uid_mark(s, c, S("2"), UID_SEEN);
	uid_mark(s, d, S("3"), UID_SEEN);
	uid_mark(s, e, S("4"), UID_SEEN);
	ok(uid_lookup(s, a, S("2")) == UID_ABSENT &&
	    uid_lookup(s, c, S("2")) == UID_SEEN, "accounts are separate");
	ok(uid_account_find(s, "ALICE", "H1", NULL) == a &&
	    uid_account_find(s, "alice", "h1", "INBOX") == NULL,
	    "user and host without case, folder exact");
	ok(uid_account_add(s, "Alice", "H1", NULL) == a, "same account");
	is_str(dump(s), "Alice@H1 1\nbob@h1 1\nalice@h2 2\n"
	    "alice@example.com@h1 3\na%40b%20c@h1 4 %\n",
	    "saved under the latest spelling; '@' in user raw; blank after"
	    " '@' escaped");
	uid_free(s);
	s = from_mem(S("Alice@H1 1\nalice@example.com@h1 3\n"
	    "a%40b%20c@h1 4 %\n"));
	ok(state_of(s, "alice", "h1", NULL, S("1")) == UID_SEEN &&
	    state_of(s, "alice@example.com", "h1", NULL, S("3")) == UID_SEEN &&
	    state_of(s, "a@b c", "h1", NULL, S("4")) == UID_SEEN,
	    "and read back");
	uid_free(s);
}

static void
test_validity(void)
{
	struct uid_store *s = uid_create(path_of("imap"));
	struct uid_account *a, *f;
	uint32_t	v = 0;
	static const char want[] =
	    "alice@imap.example/INBOX 12345 %uidvalidity\n"
	    "alice@imap.example/INBOX 101 %\n"
	    "alice@imap.example/INBOX 102 %\n"
	    "alice@imap.example/Sent%20Items%2F2024%40x%C3%A9 4294967295"
	    " %uidvalidity\n"
	    "alice@imap.example/Sent%20Items%2F2024%40x%C3%A9 7 %\n";

	a = uid_account_add(s, "alice", "imap.example", "INBOX");
	f = uid_account_add(s, "alice", "imap.example",
	    "Sent Items/2024@x\xc3\xa9");
	ok(uid_validity_get(s, a, &v) == -1, "no UIDVALIDITY yet");
	ok(uid_validity_set(s, a, 12345) == 1 &&
	    uid_validity_set(s, f, 4294967295U) == 1 &&
	    uid_validity_set(s, a, 0) == -1, "set UIDVALIDITY");
	uid_mark(s, a, S("101"), UID_SEEN);
	uid_mark(s, a, S("102"), UID_SEEN);
	uid_mark(s, f, S("7"), UID_SEEN);
	ok(uid_save(s) == 0 && file_is(path_of("imap"), want),
	    "folder accounts and UIDVALIDITY in the extension form");
	uid_free(s);
	s = uid_create(path_of("imap"));
	ok(uid_load(s) == 0 && uid_nwarnings(s) == 0, "reload");
	a = uid_account_find(s, "alice", "imap.example", "INBOX");
	f = uid_account_find(s, "alice", "imap.example",
	    "Sent Items/2024@x\xc3\xa9");
	ok(uid_validity_get(s, a, &v) == 0 && v == 12345 &&
	    uid_validity_get(s, f, &v) == 0 && v == 4294967295U &&
	    uid_lookup(s, a, S("102")) == UID_SEEN &&
	    uid_lookup(s, f, S("7")) == UID_SEEN &&
	    uid_account_find(s, "alice", "imap.example", NULL) == NULL,
	    "UIDVALIDITY and UIDs per folder read back");
	ok(uid_validity_set(s, a, 12345) == 0 && uid_count(s, a) == 2,
	    "same UIDVALIDITY keeps the UIDs");
	ok(uid_validity_set(s, a, 999) == 1 && uid_count(s, a) == 0 &&
	    uid_count(s, f) == 1, "a new UIDVALIDITY drops that folder's UIDs");
	uid_free(s);
	s = from_mem(S("alice@h 1 %uidvalidity\nalice@h 0 %uidvalidity\n"
	    "alice@h 4294967296 %uidvalidity\nalice@h 1x %uidvalidity\n"
	    "alice@h 5 %uidvalidity junk\n"));
	a = uid_account_find(s, "alice", "h", NULL);
	ok(uid_validity_get(s, a, &v) == 0 && v == 1 &&
	    uid_nwarnings(s) == 4, "bad UIDVALIDITY lines refused");
	uid_free(s);
}

static void
test_malformed(void)
{
	struct uid_store *s;
	char		*buf;
	size_t		 i;
	unsigned int	 r = 12345;

	buf = malloc(200000);
	memset(buf, 'a', 100000);
	memcpy(buf, "u@h ", 4);
	memcpy(buf + 100000, "\nu@h ok\n", 8);
	s = from_mem(buf, 100008);
	ok(uid_count(s, NULL) == 1 && warned(s, ":1: line too long"),
	    "a 100 KB line is refused, the next one read");
	uid_free(s);
	memset(buf + 4, 'b', UID_MAX_LEN + 1);
	memcpy(buf + 4 + UID_MAX_LEN + 1, "\nu@h ", 5);
	memset(buf + 9 + UID_MAX_LEN + 1, 'c', UID_MAX_LEN);
	buf[9 + 2 * UID_MAX_LEN + 1] = '\n';
	s = from_mem(buf, 10 + 2 * UID_MAX_LEN + 1);
	ok(uid_count(s, NULL) == 1 && warned(s, ":1: UID too long"),
	    "4097-byte UID refused, 4096-byte one kept");
	uid_free(s);
	s = from_mem(S("u@h %4 %\nu@h %zz %\n%00@h x %\nu@h/%4x x %\n"
	    "u@h %0A%00 %\nu@h x % junk\nu@h %% %\nu@h % %\n"));
	ok(uid_count(s, NULL) == 1 && uid_nwarnings(s) == 7 &&
	    state_of(s, "u", "h", NULL, S("\n\0")) == UID_SEEN,
	    "bad escapes refused: %zu warnings", uid_nwarnings(s));
	uid_free(s);
	for (i = 0; i < 200000; i++) {
		r = r * 1103515245 + 12345;
		buf[i] = (char)(r >> 16);
		if (buf[i] == 'Z')
			buf[i] = '\n';
	}
	s = from_mem(buf, 200000);
	ok(uid_nwarnings(s) == 21 && strstr(uid_warning(s, 20),
	    "not reported") != NULL, "binary junk: no crash, warnings capped"
	    " (%zu UIDs)", uid_count(s, NULL));
	free(buf);
	uid_free(s);
	s = from_mem(S("u@h a\nu@h b\n\0\0\0\0\0\0\0\0"));
	ok(uid_count(s, NULL) == 2 && uid_nwarnings(s) == 1,
	    "zero-filled tail after a crash is dropped");
	uid_free(s);
	s = from_mem(S("u@h a\nu@h b\0\0\0\0\nu@h c\n"));
	ok(uid_count(s, NULL) == 2 && warned(s, ":2: NUL byte"),
	    "a line with NUL bytes is dropped, not cut short");
	uid_free(s);
}

/* Every prefix of a saved file loads, and never yields a UID that was
 * not saved (a torn last line is dropped, not read as a shorter UID). */
static void
test_truncated(void)
{
	struct uid_store *s = uid_create(NULL), *t;
	struct uid_account *a = uid_account_add(s, "u", "h", NULL);
	struct uid_account *b = uid_account_add(s, "v", "h", "F");
	char		*data;
	size_t		 len, cut, good = 0, kept;

	uid_mark(s, a, S("12"), UID_SEEN);
	uid_mark(s, a, S("123"), UID_SEEN);
	uid_mark(s, a, S("x y"), UID_SEEN);
	uid_validity_set(s, b, 42);
	uid_mark(s, b, S("1234"), UID_SEEN);
	uid_save_mem(s, &data, &len);
	for (cut = 0; cut <= len; cut++) {
		t = from_mem(data, cut);
		kept = uid_count(t, NULL);
		if (kept == (size_t)(uid_lookup(t, uid_account_find(t, "u",
		    "h", NULL), S("12")) == UID_SEEN) + (uid_lookup(t,
		    uid_account_find(t, "u", "h", NULL), S("123")) ==
		    UID_SEEN) + (uid_lookup(t, uid_account_find(t, "u", "h",
		    NULL), S("x y")) == UID_SEEN) + (uid_lookup(t,
		    uid_account_find(t, "v", "h", "F"), S("1234")) ==
		    UID_SEEN))
			good++;
		uid_free(t);
	}
	ok(good == len + 1, "all %zu prefixes load only saved UIDs", len + 1);
	free(data);
	uid_free(s);
}

static void
test_directory(void)
{
	struct uid_store *s;

	mkdir(path_of("isdir"), 0700);
	s = uid_create(path_of("isdir"));
	ok(uid_load(s) == -1 && uid_error(s) != NULL &&
	    strstr(uid_error(s), "not a regular file") != NULL,
	    "idfile that is a directory: load fails cleanly");
	uid_mark(s, uid_account_add(s, "u", "h", NULL), S("1"), UID_SEEN);
	ok(uid_save(s) == -1 && strstr(uid_error(s), "rename") != NULL &&
	    access(path_of("isdir_"), F_OK) == -1,
	    "save over a directory fails, temporary removed: %s",
	    uid_error(s));
	uid_free(s);
	rmdir(path_of("isdir"));
}

/* Mark UIDs "uid-NNNNNN" FROM to FROM+N-1 SEEN for u@h. */
static void
filled_more(struct uid_store *s, int from, int n)
{
	struct uid_account *a = uid_account_add(s, "u", "h", NULL);
	char		uid[32];
	int		i;

	for (i = from; i < from + n; i++) {
		snprintf(uid, sizeof(uid), "uid-%06d", i);
		uid_mark(s, a, uid, strlen(uid), UID_SEEN);
	}
}

/* A store with N UIDs "uid-NNNNNN" for u@h (not yet saved). */
static struct uid_store *
filled(const char *path, int n)
{
	struct uid_store *s = uid_create(path);

	filled_more(s, 0, n);
	return s;
}

static void
test_save_failures(void)
{
	struct uid_store *s;
	struct rlimit	old, lim;
	FILE		*f;

	s = filled("/nonexistent-dir/sub/ids", 3);
	ok(uid_save(s) == -1 && strstr(uid_error(s), "for writing") != NULL,
	    "directory missing: %s", uid_error(s));
	uid_free(s);

	spit(path_of("keep"), S("u@h old\n"));
	mkdir(path_of("keep_"), 0700);
	f = fopen(path_of("keep_/x"), "w");
	fclose(f);
	s = filled(path_of("keep"), 3);
	ok(uid_save(s) == -1 && file_is(path_of("keep"), "u@h old\n"),
	    "temporary name blocked: error, old file intact");
	unlink(path_of("keep_/x"));
	rmdir(path_of("keep_"));
	uid_free(s);

	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 1000;
	s = filled(path_of("keep"), 500);
	setrlimit(RLIMIT_FSIZE, &lim);
	ok(uid_save(s) == -1 && strstr(uid_error(s), "Write error") != NULL,
	    "file size limit hit: %s", uid_error(s));
	setrlimit(RLIMIT_FSIZE, &old);
	ok(file_is(path_of("keep"), "u@h old\n") &&
	    access(path_of("keep_"), F_OK) == -1,
	    "old file intact, temporary removed");
	uid_free(s);
	signal(SIGXFSZ, SIG_DFL);
}

/* An append that fails half way is cut back; the next commit works. */
static void
test_append_failure(void)
{
	struct uid_store *s;
	struct rlimit	old, lim;
	char		*before;

	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 1000;
	s = filled(path_of("keep"), 60);
	ok(uid_save(s) == 0, "60 UIDs saved (%d bytes)", 60 * 15);
	before = slurp(path_of("keep"), NULL);
	filled_more(s, 60, 40);
	setrlimit(RLIMIT_FSIZE, &lim);
	ok(uid_sync(s) == -1, "append past the limit fails: %s",
	    uid_error(s));
	setrlimit(RLIMIT_FSIZE, &old);
	ok(file_is(path_of("keep"), before), "file cut back to what it was");
	ok(uid_sync(s) == 0 && uid_count(s, NULL) == 100, "next sync works");
	free(before);
	uid_free(s);
	s = uid_create(path_of("keep"));
	ok(uid_load(s) == 0 && uid_count(s, NULL) == 100 &&
	    uid_nwarnings(s) == 0, "and the file holds all 100");
	uid_free(s);
	signal(SIGXFSZ, SIG_DFL);
}

static void
test_mode_and_removal(void)
{
	struct uid_store *s;
	struct stat	st;
	mode_t		old = umask(0);

	s = filled(path_of("m"), 2);
	ok(uid_save(s) == 0 && stat(path_of("m"), &st) == 0 &&
	    (st.st_mode & 07777) == 0600, "mode 0600 under umask 000");
	umask(0277);
	ok(uid_save(s) == 0 && stat(path_of("m"), &st) == 0 &&
	    (st.st_mode & 07777) == 0600, "mode 0600 under umask 277");
	umask(old);
	uid_forget_absent(s, uid_account_find(s, "u", "h", NULL), NULL, 0);
	ok(uid_save(s) == 0 && access(path_of("m"), F_OK) == -1,
	    "nothing left to save: the idfile is removed");
	ok(uid_save(s) == 0, "and removing it again is fine");
	uid_free(s);
}

static void
test_forget_absent(void)
{
	struct uid_store *s = uid_create(NULL);
	struct uid_account *a = uid_account_add(s, "u", "h", NULL);
	struct uid_account *b = uid_account_add(s, "v", "h", NULL);
	static const struct uid_ref present[] = {
		{ "b", 1 }, { "d", 1 }, { "x", 1 }, { "", 0 }
	};

	uid_mark(s, a, S("a"), UID_SEEN);
	uid_mark(s, a, S("b"), UID_SEEN);
	uid_mark(s, a, S("c"), UID_DELETED);
	uid_mark(s, a, S("d"), UID_UNSEEN);
	uid_mark(s, b, S("a"), UID_SEEN);
	ok(uid_forget_absent(s, a, present, 4) == 2, "two UIDs gone");
	is_str(order_of(s, "u", "h"), "b|d|", "the rest keep their order");
	ok(uid_lookup(s, b, S("a")) == UID_SEEN && uid_count(s, NULL) == 3,
	    "other accounts untouched");
	uid_free(s);
}

static void
test_sync(void)
{
	struct uid_store *s = uid_create(path_of("j"));
	struct uid_account *a = uid_account_add(s, "u", "h", NULL);
	struct stat	st1, st2;

	uid_mark(s, a, S("a"), UID_SEEN);
	ok(uid_sync(s) == 0 && file_is(path_of("j"), "u@h a\n"),
	    "first sync writes the file");
	stat(path_of("j"), &st1);
	uid_mark(s, a, S("b"), UID_SEEN);
	uid_mark(s, a, S("c"), UID_UNSEEN);
	uid_mark(s, a, S("sp ace"), UID_DELETED);
	ok(uid_sync(s) == 0 && file_is(path_of("j"),
	    "u@h a\nu@h b\nu@h sp%20ace %\n"), "new UIDs appended");
	stat(path_of("j"), &st2);
	ok(st1.st_ino == st2.st_ino, "in place (same inode)");
	uid_mark(s, a, S("c"), UID_SEEN);
	uid_mark(s, a, S("b"), UID_DELETED);
	ok(uid_sync(s) == 0 && file_is(path_of("j"),
	    "u@h a\nu@h b\nu@h sp%20ace %\nu@h c\n"),
	    "UNSEEN then SEEN: appended");
	uid_mark(s, a, S("a"), UID_EXPUNGED);
	ok(uid_sync(s) == 0 && file_is(path_of("j"),
	    "u@h b\nu@h c\nu@h sp%20ace %\n"),
	    "a UID dropped: rewritten (in the order marked)");
	stat(path_of("j"), &st1);
	ok(st1.st_ino != st2.st_ino, "by rename");
	spit(path_of("j"), S("u@h other\n"));
	uid_mark(s, a, S("d"), UID_SEEN);
	ok(uid_sync(s) == 0 && file_is(path_of("j"),
	    "u@h b\nu@h c\nu@h sp%20ace %\nu@h d\n"),
	    "file changed behind our back: rewritten, not appended to");
	ok(uid_sync(s) == 0, "nothing to do");
	uid_free(s);
	spit(path_of("j2"), S("u@h a\nu@h b\nu@h 12"));
	s = uid_create(path_of("j2"));
	ok(uid_load(s) == 0 && uid_count(s, NULL) == 2 &&
	    warned(s, ":3: no newline") &&
	    state_of(s, "u", "h", NULL, S("12")) == UID_ABSENT,
	    "torn append (no newline) is not read as a UID");
	uid_mark(s, uid_account_find(s, "u", "h", NULL), S("e"), UID_SEEN);
	ok(uid_sync(s) == 0 && file_is(path_of("j2"), "u@h a\nu@h b\nu@h e\n"),
	    "first sync after loading rewrites the file");
	uid_free(s);
}

#define BIG	100000

static void
test_big(void)
{
	struct uid_store *s, *t;
	struct uid_account *a;
	struct uid_ref	*present;
	char		(*names)[16];
	struct stat	 st1, st2;
	unsigned long	 p0;
	char		 uid[32];
	int		 i, good = 1;

	s = filled(path_of("big"), BIG);
	ok(uid_count(s, NULL) == BIG, "%d UIDs marked", BIG);
	ok(uid_save(s) == 0, "saved");
	t = uid_create(path_of("big"));
	ok(uid_load(t) == 0 && uid_count(t, NULL) == BIG &&
	    uid_nwarnings(t) == 0, "loaded");
	ok(uid_probes(t) <= 4UL * BIG && uid_probes(s) <= 4UL * BIG,
	    "loading and marking are linear: %lu and %lu chain steps",
	    uid_probes(t), uid_probes(s));
	a = uid_account_find(t, "u", "h", NULL);
	p0 = uid_probes(t);
	present = calloc(BIG, sizeof(*present));
	names = calloc(BIG, sizeof(*names));
	for (i = 0; i < BIG; i++) {
		snprintf(uid, sizeof(uid), "uid-%06d", i);
		good &= uid_lookup(t, a, uid, strlen(uid)) == UID_SEEN;
		memcpy(names[i], uid, sizeof(names[i]));
		present[i].uid = names[i];
		present[i].len = strlen(uid);
	}
	ok(good, "all found");
	ok(uid_probes(t) - p0 <= 4UL * BIG,
	    "lookups are O(1): %lu chain steps for %d lookups",
	    uid_probes(t) - p0, BIG);
	p0 = uid_probes(t);
	ok(uid_forget_absent(t, a, present + 1, BIG - 1) == 1 &&
	    uid_probes(t) - p0 <= 4UL * BIG, "forget_absent is linear");
	for (i = 0; i < 100; i++) {
		snprintf(uid, sizeof(uid), "new-%d", i);
		uid_mark(t, a, uid, strlen(uid), UID_SEEN);
		if (uid_sync(t) != 0)
			good = 0;
		if (i == 1)
			stat(path_of("big"), &st1);
	}
	stat(path_of("big"), &st2);
	ok(good && st1.st_ino == st2.st_ino,
	    "100 per-message commits after a 100k load: 99 were appends");
	free(names);
	free(present);
	uid_free(t);
	t = uid_create(path_of("big"));
	ok(uid_load(t) == 0 && uid_count(t, NULL) == BIG - 1 + 100,
	    "file has them all");
	uid_free(t);
	uid_free(s);
}

static void
test_arguments(void)
{
	struct uid_store *s = uid_create(NULL);
	struct uid_account *a = uid_account_add(s, "u", "h", NULL);
	char		 big[UID_NAME_MAX + 2];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ok(uid_mark(s, a, "", 0, UID_SEEN) == -1 &&
	    uid_mark(s, a, big, UID_MAX_LEN + 1, UID_SEEN) == -1 &&
	    uid_mark(s, a, S("x"), (enum uid_state)99) == -1 &&
	    uid_mark(s, NULL, S("x"), UID_SEEN) == -1 &&
	    uid_count(s, NULL) == 0, "bad UIDs, states and accounts refused");
	ok(uid_account_add(s, big, "h", NULL) == NULL &&
	    uid_account_add(s, "u", "h", big) == NULL, "over-long names");
	ok(uid_mark(s, a, S("x"), UID_SEEN) == 0 &&
	    uid_mark(s, a, S("x"), UID_ABSENT) == 0 &&
	    uid_lookup(s, a, S("x")) == UID_ABSENT, "UID_ABSENT removes");
	ok(uid_save(s) == -1 && uid_sync(s) == -1 && uid_load(s) == -1,
	    "no idfile: save and load fail");
	is_str(uid_state_name(UID_EXPUNGED), "EXPUNGED", "state names");
	uid_free(s);
	uid_free(NULL);
}

int
main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/unit_uidstore.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	test_missing_and_basic();
	test_reference_written();
	test_reference_read();
	test_reference_cases();
	test_odd_bytes();
	test_accounts();
	test_validity();
	test_malformed();
	test_truncated();
	test_directory();
	test_save_failures();
	test_append_failure();
	test_mode_and_removal();
	test_forget_absent();
	test_sync();
	test_big();
	test_arguments();
	unlink(path_of("ids"));
	unlink(path_of("ref"));
	unlink(path_of("odd"));
	unlink(path_of("imap"));
	unlink(path_of("keep"));
	unlink(path_of("j"));
	unlink(path_of("j2"));
	unlink(path_of("big"));
	rmdir(dir);
	dump(NULL);
	return done_testing();
}
