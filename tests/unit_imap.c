/*
 * unit_imap.c: unit tests of the IMAP response parsers (TAP): tokens,
 * responses and codes, capabilities, FETCH lists split at literals,
 * hostile numbers and sizes, quoting and UID sets.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_parse.h"
#include "tap.h"

#define L(s)	(s), (sizeof(s) - 1)

/* Whether a span equals a C string. */
static int
span_is(const char *p, size_t n, const char *s)
{
	return p != NULL && n == strlen(s) && memcmp(p, s, n) == 0;
}

static void
test_lexer(void)
{
	struct imap_lex		lx;
	struct imap_token	t;
	enum imap_tok		k[16];
	size_t			n = 0;

	imap_lex_init(&lx, L("(\\Seen \"a \\\" b\" BODY[HEADER.FIELDS (A B)]<0> NIL {12}"));
	while ((k[n] = imap_lex_next(&lx, &t)) != IMAP_T_END &&
	    k[n] != IMAP_T_ERROR && n < 15) {
		if (n == 3)
			ok(span_is(t.p, t.len, "BODY[HEADER.FIELDS (A B)]<0>"),
			    "section with blanks and parens is one atom");
		if (n == 2)
			ok(span_is(t.p, t.len, "a \\\" b"),
			    "quoted string with an escaped quote");
		if (k[n] == IMAP_T_LITERAL)
			ok(t.literal == 12, "literal size");
		n++;
	}
	ok(n == 6 && k[0] == IMAP_T_LPAREN && k[1] == IMAP_T_ATOM &&
	    k[2] == IMAP_T_QUOTED && k[4] == IMAP_T_ATOM &&
	    k[5] == IMAP_T_LITERAL, "token sequence");

	imap_lex_init(&lx, L("{12} x"));
	ok(imap_lex_next(&lx, &t) == IMAP_T_ERROR,
	    "a literal must end the line");
	imap_lex_init(&lx, L("\"unterminated"));
	ok(imap_lex_next(&lx, &t) == IMAP_T_ERROR, "unterminated quoted");
	imap_lex_init(&lx, L("\"bad\\"));
	ok(imap_lex_next(&lx, &t) == IMAP_T_ERROR, "backslash at the end");
	imap_lex_init(&lx, L("{99999999999999999999999}"));
	ok(imap_lex_next(&lx, &t) == IMAP_T_ERROR, "huge literal refused");
	imap_lex_init(&lx, L("{1099511627777}"));
	ok(imap_lex_next(&lx, &t) == IMAP_T_ERROR,
	    "literal over IMAP_LITERAL_MAX refused");
	imap_lex_init(&lx, L("{5+}"));
	ok(imap_lex_next(&lx, &t) == IMAP_T_LITERAL && t.literal == 5,
	    "non-synchronising literal");
	imap_lex_init(&lx, L("~{7}"));
	ok(imap_lex_next(&lx, &t) == IMAP_T_LITERAL && t.literal == 7,
	    "literal8");
	imap_lex_init(&lx, L("{}"));
	ok(imap_lex_next(&lx, &t) == IMAP_T_ERROR, "empty literal size");
	imap_lex_init(&lx, L("BODY[unclosed"));
	ok(imap_lex_next(&lx, &t) == IMAP_T_ERROR, "unclosed section");
	imap_lex_init(&lx, "a\0b", 3);
	ok(imap_lex_next(&lx, &t) == IMAP_T_ATOM && t.len == 1,
	    "NUL ends an atom");
	ok(imap_lex_next(&lx, &t) == IMAP_T_ERROR, "NUL is no token");
}

static void
test_numbers(void)
{
	uint64_t v;

	ok(imap_number(L("4294967295"), UINT32_MAX, &v) == 0 &&
	    v == 4294967295u, "2^32-1 fits 32 bits");
	ok(imap_number(L("4294967296"), UINT32_MAX, &v) != 0,
	    "2^32 does not");
	ok(imap_number(L("18446744073709551615"), UINT64_MAX, &v) == 0 &&
	    v == UINT64_MAX, "2^64-1");
	ok(imap_number(L("18446744073709551616"), UINT64_MAX, &v) != 0,
	    "2^64 overflows");
	ok(imap_number(L("-1"), UINT64_MAX, &v) != 0, "negative");
	ok(imap_number(L("+1"), UINT64_MAX, &v) != 0, "plus sign");
	ok(imap_number("", 0, UINT64_MAX, &v) != 0, "empty");
	ok(imap_number(L("7"), 5, &v) != 0, "over a small maximum");
}

static void
test_responses(void)
{
	struct imap_resp r;

	ok(imap_parse_response(L("* OK [CAPABILITY IMAP4rev1 STARTTLS "
	    "AUTH=PLAIN] Dovecot ready."), &r) == 0 &&
	    r.kind == IMAP_R_UNTAGGED && r.what == IMAP_W_STATUS &&
	    r.cond == IMAP_C_OK && span_is(r.code, r.codelen, "CAPABILITY") &&
	    span_is(r.codearg, r.codearglen, "IMAP4rev1 STARTTLS AUTH=PLAIN") &&
	    span_is(r.text, r.textlen, "Dovecot ready."), "greeting");
	ok(imap_parse_response(L("* PREAUTH IMAP4rev1 server logged in"),
	    &r) == 0 && r.cond == IMAP_C_PREAUTH && r.code == NULL,
	    "PREAUTH");
	ok(imap_parse_response(L("* BYE shutting down"), &r) == 0 &&
	    r.cond == IMAP_C_BYE, "BYE");
	ok(imap_parse_response(L("* OK [UIDVALIDITY 1795324590] UIDs valid"),
	    &r) == 0 && span_is(r.code, r.codelen, "UIDVALIDITY") &&
	    span_is(r.codearg, r.codearglen, "1795324590"), "UIDVALIDITY");
	ok(imap_parse_response(L("A0002 OK [READ-WRITE] Select completed."),
	    &r) == 0 && r.kind == IMAP_R_TAGGED &&
	    span_is(r.tag, r.taglen, "A0002") && r.cond == IMAP_C_OK &&
	    span_is(r.code, r.codelen, "READ-WRITE") && r.codearglen == 0,
	    "tagged OK with a code without arguments");
	ok(imap_parse_response(L("A0001 NO [AUTHENTICATIONFAILED] "
	    "Authentication failed."), &r) == 0 && r.cond == IMAP_C_NO,
	    "tagged NO");
	ok(imap_parse_response(L("A1 BAD"), &r) == 0 && r.cond == IMAP_C_BAD &&
	    r.textlen == 0, "bare tagged BAD");
	ok(imap_parse_response(L("A1 PREAUTH x"), &r) != 0,
	    "PREAUTH is never tagged");
	ok(imap_parse_response(L("A1 MAYBE x"), &r) != 0, "unknown condition");
	ok(imap_parse_response(L("A1"), &r) != 0, "tag alone");
	ok(imap_parse_response("", 0, &r) != 0, "empty line");
	ok(imap_parse_response(L("+ PDEyMzQ+"), &r) == 0 &&
	    r.kind == IMAP_R_CONT && span_is(r.text, r.textlen, "PDEyMzQ+"),
	    "continuation");
	ok(imap_parse_response(L("+"), &r) == 0 && r.kind == IMAP_R_CONT &&
	    r.textlen == 0, "bare continuation");
	ok(imap_parse_response(L("* 4294967295 EXISTS"), &r) == 0 &&
	    r.what == IMAP_W_EXISTS && r.num == 4294967295u,
	    "huge EXISTS parses (the caller bounds it)");
	ok(imap_parse_response(L("* 3 EXPUNGE"), &r) == 0 &&
	    r.what == IMAP_W_EXPUNGE && r.num == 3, "EXPUNGE");
	ok(imap_parse_response(L("* 0 RECENT"), &r) == 0 &&
	    r.what == IMAP_W_RECENT, "RECENT");
	ok(imap_parse_response(L("* 12 FETCH (UID 7 BODY[] {84}"), &r) == 0 &&
	    r.what == IMAP_W_FETCH && r.num == 12 && r.has_literal &&
	    r.literal == 84 && span_is(r.rest, r.restlen,
	    "(UID 7 BODY[] {84}"), "FETCH with a literal");
	ok(imap_parse_response(L("* 1 FETCH (X {1099511627777}"), &r) != 0,
	    "FETCH with a literal over the maximum");
	ok(imap_parse_response(L("* CAPABILITY IMAP4rev1 IDLE"), &r) == 0 &&
	    r.what == IMAP_W_CAPABILITY &&
	    span_is(r.rest, r.restlen, "IMAP4rev1 IDLE"), "CAPABILITY");
	ok(imap_parse_response(L("* FLAGS (\\Seen \\Deleted)"), &r) == 0 &&
	    r.what == IMAP_W_OTHER, "FLAGS is other data");
	ok(imap_parse_response(L("* LIST () \"/\" {5}"), &r) == 0 &&
	    r.what == IMAP_W_OTHER && r.has_literal && r.literal == 5,
	    "other data announcing a literal");
	ok(imap_parse_response(L("* -1 EXISTS"), &r) == 0 &&
	    r.what == IMAP_W_OTHER, "negative number is no count");
	ok(imap_parse_response(L("* 99999999999999999999 EXISTS"), &r) == 0 &&
	    r.what == IMAP_W_OTHER, "number over 2^64 is no count");
	ok(imap_parse_response(L("* "), &r) != 0, "untagged without data");
	ok(imap_parse_response(L("* OK [ALERT unterminated"), &r) == 0 &&
	    r.code == NULL, "unterminated code is text");
}

static void
test_caps(void)
{
	struct imap_caps c;

	imap_parse_caps(&c, L("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
	    "LITERAL+ STARTTLS AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5"));
	ok(c.known && c.imap4rev1 && c.sasl_ir && c.idle && c.literalplus &&
	    c.starttls && c.auth_plain && c.auth_login && c.auth_cram_md5 &&
	    !c.uidplus && !c.logindisabled, "Dovecot pre-login");
	imap_parse_caps(&c, L("imap4rev1 uidplus logindisabled"));
	ok(c.uidplus && c.logindisabled && !c.starttls,
	    "case-insensitive, replaced");
	imap_parse_caps(&c, L("IMAP4rev1 \"odd {3} ( STARTTLS"));
	ok(c.imap4rev1 && c.starttls, "junk in the list is skipped");
}

/* Feed a FETCH in pieces; returns the last result. */
static int
fetch_pieces(struct imap_fetch *f, const char *const *pieces, size_t n,
    uint64_t *lits)
{
	uint64_t	lit = 0;
	size_t		i;
	int		k = -1;

	imap_fetch_init(f);
	for (i = 0; i < n; i++) {
		k = imap_fetch_parse(f, pieces[i], strlen(pieces[i]), &lit);
		if (lits != NULL)
			lits[i] = k == 1 ? lit : 0;
		if (k != 1)
			return i + 1 == n ? k : -2;
	}
	return k;
}

static void
test_fetch(void)
{
	struct imap_fetch	 f;
	uint64_t		 lit, lits[4];
	const char		*p1[] = { "(UID 6 RFC822.SIZE 84 FLAGS "
				    "(\\Recent \\Seen))" };
	const char		*p2[] = { "(UID 7 BODY[] {84}", ")" };
	const char		*p3[] = { "(BODY[] {3}", " UID 9 FLAGS ())" };
	const char		*p4[] = { "(ENVELOPE (\"d\" {4}", " NIL ((a b)))"
				    " BODY[] {2}", " UID 3)" };
	const char		*p5[] = { "(BODY[] NIL UID 4)" };
	const char		*p6[] = { "()" };
	const char		*p7[] = { "(UID 0)" };
	const char		*p8[] = { "(UID 4294967296)" };
	const char		*p9[] = { "(FLAGS (\\Seen)" };
	const char		*p10[] = { "(FLAGS (\\Seen)) x" };
	const char		*p11[] = { "UID 5" };
	const char		*p12[] = { "(FLAGS {3}" };
	const char		*p13[] = { "(RFC822.SIZE 18446744073709551615)" };

	ok(fetch_pieces(&f, p1, 1, NULL) == 0 && f.has_uid && f.uid == 6 &&
	    f.has_size && f.size == 84 && f.has_flags && f.seen &&
	    !f.deleted, "listing line");
	ok(fetch_pieces(&f, p2, 2, lits) == 0 && lits[0] == 84 && f.uid == 7,
	    "body literal, then the closing parenthesis");
	imap_fetch_init(&f);
	ok(imap_fetch_parse(&f, L("(UID 7 BODY[] {84}"), &lit) == 1 &&
	    f.body && f.has_uid, "body flag set for the body literal");
	ok(fetch_pieces(&f, p3, 2, lits) == 0 && lits[0] == 3 && f.uid == 9 &&
	    f.has_flags && !f.seen, "UID after the body");
	imap_fetch_init(&f);
	ok(imap_fetch_parse(&f, p4[0], strlen(p4[0]), &lit) == 1 && !f.body &&
	    lit == 4, "literal inside a nested list is not the body");
	ok(imap_fetch_parse(&f, p4[1], strlen(p4[1]), &lit) == 1 && f.body &&
	    lit == 2, "then the body literal");
	ok(imap_fetch_parse(&f, p4[2], strlen(p4[2]), &lit) == 0 &&
	    f.uid == 3, "nested list with a literal skipped");
	ok(fetch_pieces(&f, p5, 1, NULL) == 0 && f.body_missing,
	    "BODY[] NIL");
	ok(fetch_pieces(&f, p6, 1, NULL) == 0 && !f.has_uid, "empty FETCH ()");
	ok(fetch_pieces(&f, p7, 1, NULL) < 0, "UID 0 refused");
	ok(fetch_pieces(&f, p8, 1, NULL) < 0, "UID over 32 bits refused");
	ok(fetch_pieces(&f, p9, 1, NULL) < 0, "unterminated list");
	ok(fetch_pieces(&f, p10, 1, NULL) < 0, "bytes after the list");
	ok(fetch_pieces(&f, p11, 1, NULL) < 0, "no parenthesis");
	ok(fetch_pieces(&f, p12, 1, NULL) < 0, "literal as FLAGS");
	ok(fetch_pieces(&f, p13, 1, NULL) < 0, "size over the maximum");
}

static void
test_nesting(void)
{
	struct imap_fetch	 f;
	struct buf		*b = buf_create(1 << 20);
	uint64_t		 lit;
	int			 i;

	buf_append(b, "(X ", 3);
	for (i = 0; i < 999; i++)
		buf_append(b, "(", 1);
	for (i = 0; i < 999; i++)
		buf_append(b, ")", 1);
	buf_append(b, " UID 1)", 7);
	imap_fetch_init(&f);
	ok(imap_fetch_parse(&f, buf_data(b), buf_len(b), &lit) == 0 &&
	    f.uid == 1, "999 nested lists");
	buf_reset(b);
	buf_append(b, "(X ", 3);
	for (i = 0; i < 100000; i++)
		buf_append(b, "(", 1);
	imap_fetch_init(&f);
	ok(imap_fetch_parse(&f, buf_data(b), buf_len(b), &lit) < 0,
	    "100000 nested lists refused");
	buf_free(b);
}

static void
test_quote_and_sets(void)
{
	struct buf	*b = buf_create(64);
	uint32_t	 u[] = { 1, 2, 3, 5, 7, 8, 100 };
	size_t		 i = 0;

	ok(imap_quote(b, L("p\"w\\x")) == 0, "quote");
	is_str(buf_data(b), "\"p\\\"w\\\\x\"", "quote escapes \" and \\");
	buf_reset(b);
	ok(imap_quote(b, L("a\r\nb")) < 0, "CR LF cannot be quoted");
	buf_reset(b);
	ok(imap_uidset(b, u, 7, &i, 100) == 0 && i == 7, "set");
	is_str(buf_data(b), "1:3,5,7:8,100", "ranges and singles");
	buf_reset(b);
	i = 0;
	ok(imap_uidset(b, u, 7, &i, 6) == 0 && i == 4, "bounded set");
	is_str(buf_data(b), "1:3,5", "first piece");
	buf_reset(b);
	ok(imap_uidset(b, u, 7, &i, 6) == 0 && i == 6, "second piece");
	is_str(buf_data(b), "7:8", "second piece text");
	buf_free(b);
}

/* Count the UIDs a set names, checking they are uids[from..] in order. */
static size_t
set_covers(const char *set, const uint32_t *uids, size_t from)
{
	size_t		 k = from;
	unsigned long	 lo, hi;
	char		*e;

	for (;;) {
		lo = hi = strtoul(set, &e, 10);
		if (*e == ':')
			hi = strtoul(e + 1, &e, 10);
		for (; lo <= hi; lo++)
			if (uids[k++] != lo)
				return 0;
		if (*e != ',')
			return *e == '\0' ? k - from : 0;
		set = e + 1;
	}
}

/* The batched flag stores: the pieces of a long set with gaps are each
 * bounded and together name every UID once, in order. */
static void
test_uidset_pieces(void)
{
	enum { N = 10000, MAX = 4000 };
	struct buf	*b = buf_create(MAX + 64);
	uint32_t	*u = calloc(N, sizeof(*u));
	size_t		 i = 0, from, pieces = 0, n = 0;
	bool		 good = true;

	for (size_t k = 0; k < N; k++)
		u[k] = (uint32_t)(k + k / 3 + 1);	/* every 4th missing */
	while (good && i < N) {
		from = i;
		buf_reset(b);
		good = imap_uidset(b, u, N, &i, MAX) == 0 && i > from &&
		    buf_len(b) <= MAX &&
		    set_covers(buf_data(b), u, from) == i - from;
		n += i - from;
		pieces++;
	}
	ok(good && n == N, "set pieces cover every UID once, in order");
	ok(pieces > 1, "a long set is cut into pieces");
	buf_free(b);
	free(u);
}

static void
test_line_literal(void)
{
	uint64_t n;

	ok(imap_line_literal(L("x {12}"), &n) == 1 && n == 12, "{12}");
	ok(imap_line_literal(L("x {12+}"), &n) == 1 && n == 12, "{12+}");
	ok(imap_line_literal(L("x {}"), &n) == 0, "{} is none");
	ok(imap_line_literal(L("x 12}"), &n) == 0, "no brace");
	ok(imap_line_literal(L("{99999999999999999999}"), &n) == -1,
	    "too large");
}

int
main(void)
{
	test_lexer();
	test_numbers();
	test_responses();
	test_caps();
	test_fetch();
	test_nesting();
	test_quote_and_sets();
	test_uidset_pieces();
	test_line_literal();
	return done_testing();
}
